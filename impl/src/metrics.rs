//! Counters and gauges through the `metrics` facade (feature `metrics`).
//!
//! | name | kind | labels |
//! |---|---|---|
//! | `swim_datagrams_received_total` | counter | |
//! | `swim_bytes_received_total` | counter | |
//! | `swim_datagrams_dropped_total` | counter | `reason` (see [`crate::Drops::REASONS`]) |
//! | `swim_datagrams_sent_total` | counter | |
//! | `swim_bytes_sent_total` | counter | |
//! | `swim_send_errors_total` | counter | |
//! | `swim_member_events_total` | counter | `kind` (joined, suspect, dead, ...) |
//! | `swim_local_health` | gauge | |
//! | `swim_cluster_size` | gauge | |
//!
//! Every series also carries a `node` label: the node's advertised address.

use std::net::SocketAddr;

use metrics::{Counter, Gauge, counter, gauge};
use swim_checked_core::{DecodeError, EventKind, MemberEvent};

use crate::stats::Drops;

pub(crate) struct Metrics {
    received: Counter,
    bytes_received: Counter,
    dropped: [Counter; Drops::REASONS.len()],
    sent: Counter,
    bytes_sent: Counter,
    send_errors: Counter,
    events: [Counter; EventKind::ALL.len()],
    health: Gauge,
    cluster_size: Gauge,
}

impl Metrics {
    pub fn new(addr: SocketAddr) -> Self {
        let node = addr.to_string();
        let labels = [("node", node.clone())];
        Metrics {
            received: counter!("swim_datagrams_received_total", &labels),
            bytes_received: counter!("swim_bytes_received_total", &labels),
            dropped: Drops::REASONS.map(|reason| {
                counter!("swim_datagrams_dropped_total", "node" => node.clone(), "reason" => reason)
            }),
            sent: counter!("swim_datagrams_sent_total", &labels),
            bytes_sent: counter!("swim_bytes_sent_total", &labels),
            send_errors: counter!("swim_send_errors_total", &labels),
            events: EventKind::ALL.map(|kind| {
                counter!("swim_member_events_total", "node" => node.clone(), "kind" => kind.name())
            }),
            health: gauge!("swim_local_health", &labels),
            cluster_size: gauge!("swim_cluster_size", &labels),
        }
    }

    pub fn received(&self, len: usize, error: Option<&DecodeError>) {
        self.received.increment(1);
        self.bytes_received.increment(len as u64);
        if let Some(error) = error {
            let i = Drops::REASONS
                .iter()
                .position(|r| *r == error.reason())
                .unwrap_or(0);
            self.dropped[i].increment(1);
        }
    }

    pub fn sent(&self, datagrams: u64, bytes: u64, errors: u64) {
        if datagrams > 0 {
            self.sent.increment(datagrams);
            self.bytes_sent.increment(bytes);
        }
        if errors > 0 {
            self.send_errors.increment(errors);
        }
    }

    pub fn event(&self, event: &MemberEvent) {
        if let Some(counter) = self.events.get(event.kind() as usize) {
            counter.increment(1);
        }
    }

    pub fn gauges(&self, core: &swim_checked_core::Node) {
        self.health.set(core.health() as f64);
        self.cluster_size.set(core.cluster_size() as f64);
    }
}
