//! The simulated network: how long a datagram takes between two members and whether it
//! arrives at all (independent and bursty loss, partitions, one-way loss).
//!
//! Members are indices; their zones pick the latency distribution. Every random draw comes
//! from the caller's seeded generator, in the order datagrams are sent, so a run is a function
//! of its seed.

use rand::Rng;
use rand::rngs::StdRng;

use super::scenario::{Distribution, Scenario};

/// Why a datagram did not arrive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lost {
    /// Independent or burst loss.
    Loss,
    /// The two members are on different sides of a partition.
    Partition,
    /// A one-way loss rule from the sender's side to the receiver's.
    OneWay,
}

/// A one-way loss rule: from members in `from` to members in `to`.
#[derive(Clone, Debug)]
struct OneWay {
    from: Vec<bool>,
    to: Vec<bool>,
    loss: f64,
}

/// The network between `capacity` members.
#[derive(Clone, Debug)]
pub struct Network {
    zones: Vec<u16>,
    zone_count: usize,
    /// `latency[a * zone_count + b]`.
    latency: Vec<Distribution>,
    uniform: f64,
    burst: Option<super::scenario::Burst>,
    /// Whether each receiver's burst chain is in its bad state.
    bad: Vec<bool>,
    /// Each member's side while a partition holds (`None`: no partition).
    sides: Option<Vec<u16>>,
    one_way: Vec<(u64, OneWay)>,
}

impl Network {
    pub fn new(scenario: &Scenario) -> Network {
        let capacity = scenario.capacity();
        let zone_count = scenario.zones.len();
        let zones = (0..capacity).map(|i| (i % zone_count) as u16).collect();
        let mut latency = vec![scenario.latency.default.clone(); zone_count * zone_count];
        for pair in &scenario.latency.pairs {
            // Validated: both zones exist.
            let a = scenario.zone_index(&pair.zones[0]).unwrap_or(0);
            let b = scenario.zone_index(&pair.zones[1]).unwrap_or(0);
            latency[a * zone_count + b] = pair.dist.clone();
            latency[b * zone_count + a] = pair.dist.clone();
        }
        Network {
            zones,
            zone_count,
            latency,
            uniform: scenario.loss.uniform,
            burst: scenario.loss.burst.clone(),
            bad: vec![false; capacity],
            sides: None,
            one_way: Vec::new(),
        }
    }

    /// The zone of member `i`.
    pub fn zone(&self, i: usize) -> usize {
        self.zones[i] as usize
    }

    /// The fate of one datagram from `from` to `to`: its delay in microseconds, or why it
    /// was lost. Draws in a fixed order (burst step, loss, latency) whatever the outcome.
    pub fn route(&mut self, rng: &mut StdRng, from: usize, to: usize) -> Result<u64, Lost> {
        let mut lost = None;
        if let Some(sides) = &self.sides
            && sides[from] != sides[to]
        {
            lost = Some(Lost::Partition);
        }
        for (_, rule) in &self.one_way {
            if rule.from[from] && rule.to[to] && rng.random_bool(rule.loss) {
                lost = lost.or(Some(Lost::OneWay));
            }
        }
        let mut p = self.uniform;
        if let Some(b) = &self.burst {
            let bad = &mut self.bad[to];
            *bad = if *bad {
                !rng.random_bool(b.leave)
            } else {
                rng.random_bool(b.enter)
            };
            if *bad {
                p = 1.0 - (1.0 - p) * (1.0 - b.loss);
            }
        }
        if rng.random_bool(p) {
            lost = lost.or(Some(Lost::Loss));
        }
        let dist = &self.latency[self.zone(from) * self.zone_count + self.zone(to)];
        let ms = sample(dist, rng);
        match lost {
            Some(why) => Err(why),
            None => Ok((ms * 1_000.0).round().max(1.0) as u64),
        }
    }

    /// Split the members into sides (`side[i]`); datagrams between sides are lost.
    pub fn partition(&mut self, sides: Vec<u16>) {
        self.sides = Some(sides);
    }

    /// End every partition.
    pub fn heal(&mut self) {
        self.sides = None;
    }

    /// Whether a partition holds.
    pub fn partitioned(&self) -> bool {
        self.sides.is_some()
    }

    /// Add a one-way loss rule, known by `key` so that it can be lifted.
    pub fn add_one_way(&mut self, key: u64, from: Vec<bool>, to: Vec<bool>, loss: f64) {
        self.one_way.push((key, OneWay { from, to, loss }));
    }

    /// Lift the one-way rule added under `key`.
    pub fn remove_one_way(&mut self, key: u64) {
        self.one_way.retain(|(k, _)| *k != key);
    }

    /// Change the independent loss.
    pub fn set_uniform_loss(&mut self, p: f64) {
        self.uniform = p;
    }
}

/// A draw from `dist`, in milliseconds.
fn sample(dist: &Distribution, rng: &mut StdRng) -> f64 {
    match *dist {
        Distribution::Constant { ms } => ms,
        Distribution::Uniform { min_ms, max_ms } => {
            if max_ms > min_ms {
                rng.random_range(min_ms..max_ms)
            } else {
                min_ms
            }
        }
        Distribution::LogNormal { median_ms, sigma } => {
            // Box-Muller: one standard normal from two uniforms.
            let u1: f64 = 1.0 - rng.random::<f64>();
            let u2: f64 = rng.random();
            let z = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
            median_ms * (sigma * z).exp()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn partitions_and_one_way_rules_cut_only_what_they_name() {
        let mut s = Scenario {
            nodes: 4,
            ..Scenario::default()
        };
        s.latency.default = Distribution::Constant { ms: 2.0 };
        let mut net = Network::new(&s);
        let mut rng = StdRng::seed_from_u64(7);
        assert_eq!(net.route(&mut rng, 0, 1), Ok(2_000));
        net.partition(vec![0, 0, 1, 1]);
        assert_eq!(net.route(&mut rng, 0, 2), Err(Lost::Partition));
        assert_eq!(net.route(&mut rng, 2, 3), Ok(2_000));
        net.heal();
        net.add_one_way(
            1,
            vec![true, false, false, false],
            vec![false, true, false, false],
            1.0,
        );
        assert_eq!(net.route(&mut rng, 0, 1), Err(Lost::OneWay));
        assert_eq!(net.route(&mut rng, 1, 0), Ok(2_000));
        net.remove_one_way(1);
        assert_eq!(net.route(&mut rng, 0, 1), Ok(2_000));
    }

    #[test]
    fn loss_rates_are_about_what_was_asked() {
        let mut s = Scenario::default();
        s.loss.uniform = 0.1;
        let mut net = Network::new(&s);
        let mut rng = StdRng::seed_from_u64(1);
        let lost = (0..20_000)
            .filter(|_| net.route(&mut rng, 0, 1).is_err())
            .count();
        assert!((1_700..2_300).contains(&lost), "{lost}");
    }
}
