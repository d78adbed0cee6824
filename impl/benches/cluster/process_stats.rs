//! What a benchmark process measures of itself (CPU time, resident memory) and how its figures
//! are rounded. Shared by the cluster bench and the `peers` package (`impl/peers`), which
//! includes this file by path: one copy of the /proc reading.

/// Four significant digits (keeps the JSON lines readable).
pub(crate) fn round(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let scale = 10f64.powi(3 - x.abs().log10().floor() as i32);
    (x * scale).round() / scale
}

/// CPU time of the whole process (user + sys), in seconds: the sum over its threads of the
/// nanosecond counters in /proc (falls back to the tick counters).
pub(crate) fn cpu_seconds() -> f64 {
    let mut total = 0u64;
    let mut found = false;
    if let Ok(dir) = std::fs::read_dir("/proc/self/task") {
        for entry in dir.flatten() {
            if let Ok(s) = std::fs::read_to_string(entry.path().join("schedstat"))
                && let Some(ns) = s
                    .split_whitespace()
                    .next()
                    .and_then(|x| x.parse::<u64>().ok())
            {
                total += ns;
                found = true;
            }
        }
    }
    if found {
        return total as f64 / 1e9;
    }
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = fields
        .get(11..13)
        .map(|f| f.iter().filter_map(|x| x.parse::<u64>().ok()).sum())
        .unwrap_or(0);
    ticks as f64 / 100.0
}

/// Resident memory of the process, in bytes.
pub(crate) fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}
