//! Measurements of the cluster benchmark: live heap (a counting global allocator), CPU time
//! and resident memory of the process, bytes sent by message kind, and summary statistics.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, AtomicU64, Ordering};

use serde_json::{Value, json};

/// Counts live heap bytes.
struct Counting;

static HEAP: AtomicIsize = AtomicIsize::new(0);
/// Highest `HEAP` since the last [`reset_peak`].
static PEAK: AtomicIsize = AtomicIsize::new(0);

fn grow(by: isize) {
    let now = HEAP.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grow(layout.size() as isize);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        HEAP.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        grow(new_size as isize - layout.size() as isize);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

pub(crate) fn heap_bytes() -> i64 {
    HEAP.load(Ordering::Relaxed) as i64
}

/// Start a new peak measurement at the current heap size.
pub(crate) fn reset_peak() {
    PEAK.store(HEAP.load(Ordering::Relaxed), Ordering::Relaxed);
}

pub(crate) fn peak_heap_bytes() -> i64 {
    PEAK.load(Ordering::Relaxed) as i64
}

// ----- statistics -----

pub(crate) fn summary(values: &[f64]) -> Value {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    if v.is_empty() {
        return json!({ "median": null, "min": null, "max": null, "values": values });
    }
    let median = if v.len() % 2 == 1 {
        v[v.len() / 2]
    } else {
        (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
    };
    json!({
        "median": round(median),
        "min": round(v[0]),
        "max": round(v[v.len() - 1]),
        "values": values.iter().map(|x| round(*x)).collect::<Vec<_>>(),
    })
}

pub(crate) fn median(values: &[f64]) -> f64 {
    summary(values)["median"].as_f64().unwrap_or(f64::NAN)
}

pub(crate) fn max(values: &[f64]) -> f64 {
    summary(values)["max"].as_f64().unwrap_or(f64::NAN)
}

pub(crate) use crate::process_stats::round;

// ----- process measurements -----

pub(crate) use crate::process_stats::{cpu_seconds, rss_bytes};

/// Ask glibc to give freed memory back to the OS (the join leaves the heap fragmented); the
/// RSS measured after it is the steady state of a long-running process.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub(crate) fn malloc_trim() {
    unsafe extern "C" {
        fn malloc_trim(pad: usize) -> std::ffi::c_int;
    }
    // SAFETY: malloc_trim only releases free memory of the allocator.
    unsafe {
        malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub(crate) fn malloc_trim() {}

// ----- traffic by message kind -----

/// Counts bytes sent by message kind (reads the body tag after the header and the envelope
/// kind; no decoding). Sealed datagrams cannot be read: they count as `sealed`.
#[derive(Debug, Default)]
pub(crate) struct Traffic {
    by_kind: [AtomicU64; 7],
}

pub(crate) const KINDS: [&str; 7] = ["ping", "ping_req", "ack", "nack", "sync", "other", "sealed"];

impl Traffic {
    pub(crate) fn add(&self, header: usize, datagram: &[u8]) {
        if datagram.get(header) == Some(&swim_checked::harness::core::codec::KIND_SEALED) {
            self.by_kind[6].fetch_add(datagram.len() as u64, Ordering::Relaxed);
            return;
        }
        // After the header and the envelope kind: `from` as a varint, then the body's variant
        // index.
        let body = datagram.get(header + 1..).unwrap_or(&[]);
        let tag = body
            .iter()
            .position(|b| b & 0x80 == 0)
            .and_then(|end| body.get(end + 1))
            .map_or(5, |&t| (t as usize).min(5));
        self.by_kind[tag].fetch_add(datagram.len() as u64, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> [u64; 7] {
        std::array::from_fn(|i| self.by_kind[i].load(Ordering::Relaxed))
    }
}
