//! The `metrics` series a replayed node reports, read back so the replay can hold them to the
//! harness's own counts (docs/conformance.md, "Counters").
//!
//! The first replay of a process installs a recorder as the process's global `metrics`
//! recorder. Every node labels its series with its own address (`node`), and every replay's
//! node has an address of its own, so replays running at once each read only their node's.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::sync::atomic::Ordering;

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, SharedString, Unit};
use metrics_util::registry::{AtomicStorage, Registry};

/// Keeps every series it is handed, for [`series_of`] to read.
struct Recorder(Registry<Key, AtomicStorage>);

impl metrics::Recorder for Recorder {
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

/// This process's recorder, installed on the first call; an error if another recorder was
/// installed first (the series could not be read).
pub fn install() -> Result<(), String> {
    recorder().map(|_| ())
}

fn recorder() -> Result<&'static Recorder, String> {
    static RECORDER: OnceLock<Option<&'static Recorder>> = OnceLock::new();
    let installed = RECORDER.get_or_init(|| {
        let recorder: &'static Recorder = Box::leak(Box::new(Recorder(Registry::atomic())));
        metrics::set_global_recorder(recorder)
            .ok()
            .map(|()| recorder)
    });
    installed.ok_or_else(|| "another metrics recorder was installed before the replay's".into())
}

/// What one node reported, by series: the metric's name, then its labels other than `node`
/// in braces (`swim_datagrams_dropped_total{reason=truncated}`).
#[derive(Debug, Default, PartialEq)]
pub struct Series {
    pub counters: BTreeMap<String, u64>,
    pub gauges: BTreeMap<String, f64>,
}

/// The series labelled `node = addr`.
pub fn series_of(addr: SocketAddr) -> Result<Series, String> {
    let registry = &recorder()?.0;
    let node = addr.to_string();
    let name_of = |key: &Key| -> Option<String> {
        let mut ours = false;
        let mut others = Vec::new();
        for label in key.labels() {
            if label.key() == "node" {
                ours = label.value() == node;
            } else {
                others.push(format!("{}={}", label.key(), label.value()));
            }
        }
        ours.then(|| match others.is_empty() {
            true => key.name().to_owned(),
            false => format!("{}{{{}}}", key.name(), others.join(",")),
        })
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
