//! The metrics of a node task without the `metrics` feature: every method does nothing, so the
//! task's calls compile to nothing. With the feature, `metrics.rs` is compiled instead, with the
//! same crate-private [`Metrics`] API.

use std::net::SocketAddr;

use swim_checked_core::{DecodeError, MemberEvent};

/// No counters, no gauges.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Metrics;

impl Metrics {
    #[inline(always)]
    pub fn new(_addr: SocketAddr) -> Self {
        Metrics
    }

    #[inline(always)]
    pub fn received(&self, _len: usize, _error: Option<&DecodeError>) {}

    #[inline(always)]
    pub fn sent(&self, _datagrams: u64, _bytes: u64, _errors: u64) {}

    #[inline(always)]
    pub fn event(&self, _event: &MemberEvent) {}

    #[inline(always)]
    pub fn gauges(&self, _core: &swim_checked_core::Node) {}
}
