//! Lifeguard's local-health-aware suspicion timeout.

use crate::Millis;
use crate::config::Config;

/// The bounds of a suspicion in a cluster of `n` members.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bounds {
    /// `alpha x max(1, log10 n) x interval`.
    pub min: Millis,
    /// `beta x min`.
    pub max: Millis,
    /// Confirmations wanted: `K`, or 0 when fewer than `K` other members could confirm.
    pub k: usize,
}

impl Bounds {
    /// The bounds `config` gives a cluster of `n` members. With the local health aware
    /// suspicion switched off (`lifeguard_dynamic_suspicion`), every suspicion lasts `min`:
    /// `max = min` and no confirmation is wanted.
    pub fn new(config: &Config, n: usize) -> Self {
        let scale = (n.max(1) as f64).log10().max(1.0);
        let scale_milli = (scale * 1000.0) as u64;
        let min = (config.suspicion_mult as u64)
            .saturating_mul(scale_milli)
            .saturating_mul(config.probe_interval)
            / 1000;
        if !config.lifeguard_dynamic_suspicion {
            return Bounds {
                min,
                max: min,
                k: 0,
            };
        }
        let max = min.saturating_mul(config.suspicion_max_mult as u64);
        let k = if n.saturating_sub(2) < config.suspicion_confirmations {
            0
        } else {
            config.suspicion_confirmations
        };
        Bounds { min, max, k }
    }

    /// `max(Min, Max - (Max - Min) x ln(C + 1) / ln(K + 1))` with `C` capped at `K`.
    pub fn timeout(&self, confirmations: usize) -> Millis {
        if self.k == 0 {
            return self.min;
        }
        let c = confirmations.min(self.k) as f64;
        let frac = (c + 1.0).ln() / (self.k as f64 + 1.0).ln();
        let raw = self.max as f64 - frac * (self.max - self.min) as f64;
        (raw.floor() as Millis).max(self.min)
    }
}
