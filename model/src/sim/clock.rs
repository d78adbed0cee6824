//! A member's clock: its own offset and rate against simulated time (clock drift).
//!
//! The core reads no clock: every input carries `now` in the member's milliseconds, and its
//! timers are deadlines on that clock. The simulator turns them into simulated time here.

use swim_checked_core::Millis;

/// `local = offset + sim x rate`, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Clock {
    offset_ms: f64,
    rate: f64,
}

impl Clock {
    pub fn new(offset_ms: f64, rate: f64) -> Clock {
        Clock { offset_ms, rate }
    }

    /// The member's time at simulated time `sim_us`.
    pub fn local(&self, sim_us: u64) -> Millis {
        (self.offset_ms + sim_us as f64 / 1_000.0 * self.rate).floor() as Millis
    }

    /// The first simulated microsecond at which the member's clock reads `at` or later.
    pub fn sim_us(&self, at: Millis) -> u64 {
        let us = ((at as f64 - self.offset_ms) / self.rate * 1_000.0)
            .ceil()
            .max(0.0) as u64;
        // Rounding may land one microsecond short.
        if self.local(us) < at { us + 1 } else { us }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_maps_to_the_first_instant_the_member_sees_it() {
        for clock in [
            Clock::new(0.0, 1.0),
            Clock::new(123.4, 1.0001),
            Clock::new(7.0, 0.9999),
        ] {
            for at in [200u64, 1_000, 123_457, 10_000_000] {
                let us = clock.sim_us(at);
                assert!(clock.local(us) >= at);
                assert!(us == 0 || clock.local(us - 1) < at);
            }
        }
    }
}
