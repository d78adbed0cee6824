//! The `metrics` series a replayed node reports, read back so the replay can hold them to the
//! harness's own counts (docs/conformance.md, "Replay").
//!
//! The first replay of a process installs `Kept` as the process's global `metrics` recorder.
//! Every node labels its series with its own address (`node`), and the harness gives each node
//! it starts an address no other node of the process had (`crate::space`), so replays running
//! at once each read only their node's. Not metrics-util's `DebuggingRecorder`: its snapshot
//! resets every series of the process, which replays running at once cannot share.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::sync::atomic::Ordering;

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, SharedString, Unit};
use metrics_util::registry::{AtomicStorage, Registry};

/// A recorder that keeps every series it is handed, for [`series_of`] to read.
struct Kept(Registry<Key, AtomicStorage>);

impl metrics::Recorder for Kept {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        self.0
            .get_or_create_counter(key, |c| Counter::from_arc(c.clone()))
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        self.0
            .get_or_create_gauge(key, |g| Gauge::from_arc(g.clone()))
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        self.0
            .get_or_create_histogram(key, |h| Histogram::from_arc(h.clone()))
    }
}

/// Install this process's recorder (once); an error if another recorder was installed first,
/// as the nodes' series could then not be read.
pub fn install() -> Result<(), String> {
    kept().map(|_| ())
}

fn kept() -> Result<&'static Kept, String> {
    static KEPT: OnceLock<Option<&'static Kept>> = OnceLock::new();
    let installed = KEPT.get_or_init(|| {
        let kept: &'static Kept = Box::leak(Box::new(Kept(Registry::atomic())));
        metrics::set_global_recorder(kept).ok().map(|()| kept)
    });
    installed.ok_or_else(|| "another metrics recorder was installed before the replay's".into())
}

/// A series' name in [`Series`]: the metric's name, then its labels other than `node`, sorted,
/// in braces: `swim_datagrams_dropped_total{reason=truncated}`.
pub fn series_name(name: &str, labels: &[(&str, &str)]) -> String {
    let mut labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    labels.sort();
    if labels.is_empty() {
        name.to_owned()
    } else {
        format!("{name}{{{}}}", labels.join(","))
    }
}

/// What one node reported, by [`series_name`].
#[derive(Debug, Default)]
pub struct Series {
    pub counters: BTreeMap<String, u64>,
    pub gauges: BTreeMap<String, f64>,
}

/// The series labelled `node = addr`.
pub fn series_of(addr: SocketAddr) -> Result<Series, String> {
    let registry = &kept()?.0;
    let node = addr.to_string();
    let name_of = |key: &Key| -> Option<String> {
        let mut labels = key.labels();
        if !labels.any(|l| l.key() == "node" && l.value() == node) {
            return None;
        }
        let others: Vec<(&str, &str)> = (key.labels())
            .filter(|l| l.key() != "node")
            .map(|l| (l.key(), l.value()))
            .collect();
        Some(series_name(key.name(), &others))
    };
    let mut series = Series::default();
    registry.visit_counters(|key, counter| {
        if let Some(name) = name_of(key) {
            series
                .counters
                .insert(name, counter.load(Ordering::Relaxed));
        }
    });
    registry.visit_gauges(|key, gauge| {
        if let Some(name) = name_of(key) {
            let value = f64::from_bits(gauge.load(Ordering::Relaxed));
            series.gauges.insert(name, value);
        }
    });
    Ok(series)
}
