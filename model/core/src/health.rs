//! Lifeguard's local health multiplier (LHM): a node that misses acks slows itself down before
//! accusing others.

use crate::Millis;
use crate::config::Config;

/// The local health multiplier, in `0..=max`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Health {
    score: u8,
    max: u8,
}

impl Health {
    /// Healthy (0), capped at `max`.
    pub fn new(max: u8) -> Self {
        Health { score: 0, max }
    }

    /// A node's health: capped at `max_health`, or pinned at 0 when the local health aware
    /// probe is switched off (`lifeguard_local_health`).
    pub fn of(config: &Config) -> Self {
        Health::new(if config.lifeguard_local_health {
            config.max_health
        } else {
            0
        })
    }

    /// The highest multiplier this node can reach.
    pub fn max(self) -> u8 {
        self.max
    }

    /// Current multiplier (0 = healthy).
    pub fn score(self) -> u8 {
        self.score
    }

    /// Add `delta` (may be negative), clamped to `0..=max`.
    pub fn apply(&mut self, delta: i32) {
        let next = (self.score as i32 + delta).clamp(0, self.max as i32);
        self.score = next as u8;
    }

    /// `base x (LHM + 1)`: the probe interval and the probe timeout scale with poor health.
    pub fn scale(self, base: Millis) -> Millis {
        base.saturating_mul(self.score as Millis + 1)
    }
}
