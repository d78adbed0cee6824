//! Randomness, injectable: every random choice of the core (probe order, helpers, sync partner)
//! and every fresh node id comes from the node's [`Picker`].

use std::fmt;

use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use swim_checked_core::{NodeId, Pick};

/// The random source of one node: the core's [`Pick`] plus fresh node ids.
///
/// Production uses [`RngPicker::from_os`]; deterministic tests use [`RngPicker::seeded`]; a
/// conformance replay implements this trait to play back the choices recorded in a trace.
pub trait Picker: Pick + Send + 'static {
    /// A fresh random node id (at start without an explicit id, and on rejoin).
    fn node_id(&mut self) -> NodeId;
}

/// A [`Picker`] over any `rand` generator.
#[derive(Clone)]
pub struct RngPicker<R = StdRng> {
    rng: R,
}

impl RngPicker<StdRng> {
    /// Seeded from the operating system (the production default).
    pub fn from_os() -> Self {
        RngPicker {
            rng: StdRng::from_os_rng(),
        }
    }

    /// Seeded from `seed`: the same seed gives the same choices and ids.
    pub fn seeded(seed: u64) -> Self {
        RngPicker {
            rng: StdRng::seed_from_u64(seed),
        }
    }
}

impl<R> RngPicker<R> {
    /// A picker over `rng`.
    pub fn new(rng: R) -> Self {
        RngPicker { rng }
    }
}

impl Default for RngPicker<StdRng> {
    fn default() -> Self {
        Self::from_os()
    }
}

impl<R> fmt::Debug for RngPicker<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RngPicker")
    }
}

impl<R: RngCore> Pick for RngPicker<R> {
    fn pick(&mut self, n: usize) -> usize {
        if n <= 1 {
            0
        } else {
            self.rng.random_range(0..n)
        }
    }
}

impl<R: RngCore + Send + 'static> Picker for RngPicker<R> {
    fn node_id(&mut self) -> NodeId {
        NodeId(self.rng.next_u64())
    }
}
