//! A simulation run as data: the cluster, the network, and a timeline of faults, read from a
//! TOML file (`model/scenarios/*.toml`).
//!
//! Every field has a default, so a scenario names only what it changes. Times are in seconds
//! of simulated time (`at_s`, `until_s`), latencies in milliseconds.

use std::path::Path;

use serde::{Deserialize, Serialize};
use swim_checked_core::Config;

/// One simulation run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Scenario {
    /// Shown in reports.
    pub name: String,
    /// Seed of every random choice (network and the core's picks): same seed, same run.
    pub seed: u64,
    /// Members at the start, already a converged cluster (each knows every other alive).
    pub nodes: usize,
    /// The start's join news already spread (as the checker's worlds start): otherwise every
    /// member begins with every other member's join queued for gossip, as after a bulk start.
    pub settled_start: bool,
    /// Further members, absent at the start, that `join` events bring in.
    pub spare: usize,
    /// Simulated seconds the run lasts.
    pub duration_s: f64,
    /// Core preset: `lan`, `wan` or `local`.
    pub preset: String,
    /// Core settings that differ from the preset.
    pub core: CoreOverrides,
    /// Zone names; node `i` is in zone `i mod zones.len()`.
    pub zones: Vec<String>,
    /// Compare the whole view of a node before and after each of its steps (`O(n)` a step),
    /// instead of only the records the step names or reports. See `online`.
    pub whole_view_check: bool,
    /// A member the cluster declared dead rejoins under a new id this many seconds later
    /// (what the library's applications do); negative: it stays out.
    pub rejoin_removed_after_s: f64,
    /// Each member's clock runs at `1 + d` for a `d` drawn uniformly in `±drift_ppm x 1e-6`.
    pub drift_ppm: f64,
    /// Each member's clock starts an hour in, plus an offset drawn uniformly in
    /// `0..clock_offset_ms`.
    pub clock_offset_ms: f64,
    pub latency: Latency,
    pub loss: Loss,
    /// The timeline.
    #[serde(rename = "event")]
    pub events: Vec<TimedEvent>,
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            name: "unnamed".into(),
            seed: 1,
            nodes: 100,
            settled_start: true,
            spare: 0,
            duration_s: 60.0,
            preset: "lan".into(),
            core: CoreOverrides::default(),
            zones: vec!["z0".into()],
            whole_view_check: false,
            rejoin_removed_after_s: 5.0,
            drift_ppm: 0.0,
            clock_offset_ms: 0.0,
            latency: Latency::default(),
            loss: Loss::default(),
            events: Vec::new(),
        }
    }
}

/// Core settings a scenario may change (the rest come from the preset).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CoreOverrides {
    pub probe_interval_ms: Option<u64>,
    pub probe_timeout_ms: Option<u64>,
    pub indirect_checks: Option<usize>,
    pub suspicion_mult: Option<u32>,
    pub retransmit_mult: Option<u32>,
    pub sync_interval_ms: Option<u64>,
    pub max_health: Option<u8>,
    pub suspicion_confirmations: Option<usize>,
    /// Lifeguard's switches (all on in every preset).
    pub lifeguard_local_health: Option<bool>,
    pub lifeguard_dynamic_suspicion: Option<bool>,
    pub lifeguard_buddy: Option<bool>,
    /// The topology-aware selector (PROTOCOL.md §15; uniform in every preset).
    pub zone_helpers: Option<bool>,
    pub far_pass_every: Option<u8>,
    /// Indirect probe rounds per failed probe (PROTOCOL.md §4).
    pub indirect_rounds: Option<u8>,
}

/// How long a datagram takes: a default distribution and overrides per pair of zones.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Latency {
    pub default: Distribution,
    /// Between two zones (either direction); within a zone when both names are the same.
    #[serde(rename = "pair")]
    pub pairs: Vec<ZonePair>,
}

impl Default for Latency {
    fn default() -> Self {
        Latency {
            default: Distribution::LogNormal {
                median_ms: 0.5,
                sigma: 0.5,
            },
            pairs: Vec::new(),
        }
    }
}

/// The latency between two zones.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZonePair {
    pub zones: [String; 2],
    pub dist: Distribution,
}

/// A latency distribution, in milliseconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Distribution {
    Constant {
        ms: f64,
    },
    Uniform {
        min_ms: f64,
        max_ms: f64,
    },
    /// `median x e^(sigma x N(0,1))`: the long right tail of real networks.
    LogNormal {
        median_ms: f64,
        sigma: f64,
    },
}

/// Datagram loss: independent, and bursts (a Gilbert-Elliott chain per receiving member).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Loss {
    /// Probability that any datagram is lost.
    pub uniform: f64,
    pub burst: Option<Burst>,
}

/// A two-state loss chain, stepped once per datagram a member receives.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Burst {
    /// Probability of entering the bad state.
    pub enter: f64,
    /// Probability of leaving it.
    pub leave: f64,
    /// Loss while in it.
    pub loss: f64,
}

/// One entry of the timeline (unknown fields are refused by [`Event`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimedEvent {
    pub at_s: f64,
    #[serde(flatten)]
    pub what: Event,
}

/// Something that happens to the cluster. `nodes` selects members: see [`Selector`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Event {
    /// The selected members stop for good (their datagrams are lost).
    Crash { nodes: String },
    /// The selected crashed members start again, under a new id, and join through seeds.
    Restart { nodes: String },
    /// `count` spare members start and join through seeds.
    Join { count: usize },
    /// The selected members leave gracefully.
    Leave { nodes: String },
    /// The selected members publish new metadata: an update whose spread is measured.
    Update { nodes: String },
    /// Datagrams between different groups are lost until `until_s` (or a `heal`).
    Partition {
        groups: Vec<String>,
        until_s: Option<f64>,
    },
    /// Every partition ends.
    Heal,
    /// Datagrams from `from` to `to` (that direction only) are lost with probability `loss`.
    OneWayLoss {
        from: String,
        to: String,
        loss: f64,
        until_s: Option<f64>,
    },
    /// The selected members handle every input `delay_ms` late (CPU starvation). With
    /// `timers_on_time`, only their datagrams wait and their timers fire on time: a receive
    /// loop starved while the timers still run, the anomaly of Lifeguard's experiments, where
    /// a slow member's probe times out before it reads the ack.
    Slow {
        nodes: String,
        delay_ms: f64,
        until_s: Option<f64>,
        #[serde(default)]
        timers_on_time: bool,
    },
    /// Change the independent loss probability from now on.
    SetLoss { uniform: f64 },
}

/// Which members an event is about, written as a string:
/// `all`, `zone:NAME`, `A..B` (indices), `3,7,9`, `random:K` (K members drawn with the seed),
/// `fraction:F` (that share, drawn). Drawn selections pick among members eligible for the
/// event (up members for a crash, crashed ones for a restart).
#[derive(Clone, Debug, PartialEq)]
pub enum Selector {
    All,
    Zone(String),
    Range(usize, usize),
    List(Vec<usize>),
    Random(usize),
    Fraction(f64),
}

impl Selector {
    pub fn parse(s: &str) -> Result<Selector, String> {
        let s = s.trim();
        let bad = |why: &str| format!("bad node selector {s:?}: {why}");
        if s == "all" {
            return Ok(Selector::All);
        }
        if let Some(zone) = s.strip_prefix("zone:") {
            return Ok(Selector::Zone(zone.to_string()));
        }
        if let Some(k) = s.strip_prefix("random:") {
            return k.parse().map(Selector::Random).map_err(|_| bad("count"));
        }
        if let Some(f) = s.strip_prefix("fraction:") {
            let f: f64 = f.parse().map_err(|_| bad("fraction"))?;
            if !(0.0..=1.0).contains(&f) {
                return Err(bad("fraction outside 0..=1"));
            }
            return Ok(Selector::Fraction(f));
        }
        if let Some((a, b)) = s.split_once("..") {
            let a = a.parse().map_err(|_| bad("range start"))?;
            let b = b.parse().map_err(|_| bad("range end"))?;
            if a >= b {
                return Err(bad("empty range"));
            }
            return Ok(Selector::Range(a, b));
        }
        let list: Result<Vec<usize>, _> = s.split(',').map(|x| x.trim().parse()).collect();
        list.map(Selector::List)
            .map_err(|_| bad("expected all, zone:, random:, fraction:, A..B or a list"))
    }
}

impl Scenario {
    /// Read and check a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Scenario::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parse and check a scenario.
    pub fn parse(text: &str) -> Result<Scenario, String> {
        let scenario: Scenario = toml::from_str(text).map_err(|e| e.to_string())?;
        scenario.validate()?;
        Ok(scenario)
    }

    /// Members the run can ever have.
    pub fn capacity(&self) -> usize {
        self.nodes + self.spare
    }

    /// The core configuration every member runs.
    pub fn config(&self) -> Result<Config, String> {
        let mut c = match self.preset.as_str() {
            "lan" => Config::lan(),
            "wan" => Config::wan(),
            "local" => Config::local(),
            other => return Err(format!("unknown preset {other:?} (lan, wan, local)")),
        };
        let o = &self.core;
        let set = |field: &mut u64, v: Option<u64>| {
            if let Some(v) = v {
                *field = v;
            }
        };
        set(&mut c.probe_interval, o.probe_interval_ms);
        set(&mut c.probe_timeout, o.probe_timeout_ms);
        set(&mut c.sync_interval, o.sync_interval_ms);
        if let Some(v) = o.indirect_checks {
            c.indirect_checks = v;
        }
        if let Some(v) = o.suspicion_mult {
            c.suspicion_mult = v;
        }
        if let Some(v) = o.retransmit_mult {
            c.retransmit_mult = v;
        }
        if let Some(v) = o.max_health {
            c.max_health = v;
        }
        if let Some(v) = o.suspicion_confirmations {
            c.suspicion_confirmations = v;
        }
        if let Some(v) = o.lifeguard_local_health {
            c.lifeguard_local_health = v;
        }
        if let Some(v) = o.lifeguard_dynamic_suspicion {
            c.lifeguard_dynamic_suspicion = v;
        }
        if let Some(v) = o.lifeguard_buddy {
            c.lifeguard_buddy = v;
        }
        if let Some(v) = o.zone_helpers {
            c.zone_helpers = v;
        }
        if let Some(v) = o.far_pass_every {
            c.far_pass_every = v;
        }
        if let Some(v) = o.indirect_rounds {
            c.indirect_rounds = v;
        }
        // The run starts as a converged cluster, each member handed its whole view in one sync
        // that it did not ask for (PROTOCOL.md §12 bounds what such a datagram introduces):
        // the simulated network has no outsider, so no intake bound may cut that view short.
        let members = self.capacity();
        c.max_new_per_datagram = c.max_new_per_datagram.max(members);
        c.max_new_per_source = c.max_new_per_source.max(members);
        c.max_unanswered = c.max_unanswered.max(members);
        c.max_members = c.max_members.max(members);
        c.validate().map_err(|e| e.to_string())?;
        Ok(c)
    }

    /// Reject what cannot run, saying why.
    pub fn validate(&self) -> Result<(), String> {
        self.config()?;
        if self.nodes < 2 {
            return Err("nodes: at least 2".into());
        }
        // Member i listens on a loopback address of its own (`runner::sim_addr`).
        if self.capacity() > super::runner::MAX_MEMBERS {
            return Err(format!(
                "nodes + spare: more than {} members",
                super::runner::MAX_MEMBERS
            ));
        }
        if !(self.duration_s > 0.0 && self.duration_s.is_finite()) {
            return Err("duration_s: must be positive".into());
        }
        if self.zones.is_empty() {
            return Err("zones: at least one".into());
        }
        let probability = |what: &str, p: f64| {
            if (0.0..=1.0).contains(&p) {
                Ok(())
            } else {
                Err(format!("{what}: {p} is not a probability"))
            }
        };
        probability("loss.uniform", self.loss.uniform)?;
        if let Some(b) = &self.loss.burst {
            probability("loss.burst.enter", b.enter)?;
            probability("loss.burst.leave", b.leave)?;
            probability("loss.burst.loss", b.loss)?;
        }
        if !(self.drift_ppm >= 0.0 && self.drift_ppm < 100_000.0) {
            return Err("drift_ppm: must be in 0..100000".into());
        }
        if !(self.clock_offset_ms >= 0.0 && self.clock_offset_ms.is_finite()) {
            return Err("clock_offset_ms: must be non-negative".into());
        }
        self.latency.default.validate()?;
        for p in &self.latency.pairs {
            p.dist.validate()?;
            for z in &p.zones {
                self.zone_index(z)?;
            }
        }
        for (k, e) in self.events.iter().enumerate() {
            let at = |what: String| format!("event {k} ({}s): {what}", e.at_s);
            if !(e.at_s >= 0.0 && e.at_s.is_finite()) {
                return Err(at("at_s must be non-negative".into()));
            }
            for sel in e.what.selectors() {
                let parsed = Selector::parse(sel).map_err(at)?;
                if let Selector::Zone(z) = &parsed {
                    self.zone_index(z).map_err(at)?;
                }
                let out_of_range = match &parsed {
                    Selector::Range(_, b) => *b > self.capacity(),
                    Selector::List(l) => l.iter().any(|&i| i >= self.capacity()),
                    _ => false,
                };
                if out_of_range {
                    return Err(at(format!(
                        "{sel:?} names a member past {}",
                        self.capacity()
                    )));
                }
            }
            match &e.what {
                Event::OneWayLoss { loss, .. } | Event::SetLoss { uniform: loss } => {
                    probability("loss", *loss).map_err(at)?
                }
                Event::Slow { delay_ms, .. } if !(*delay_ms >= 0.0 && delay_ms.is_finite()) => {
                    return Err(at("delay_ms must be non-negative".into()));
                }
                Event::Partition { groups, .. } if groups.len() < 2 => {
                    return Err(at("a partition needs at least two groups".into()));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The index of a zone name.
    pub fn zone_index(&self, name: &str) -> Result<usize, String> {
        (self.zones.iter().position(|z| z == name))
            .ok_or_else(|| format!("unknown zone {name:?} (zones: {:?})", self.zones))
    }
}

impl Event {
    /// The node selectors the event carries.
    pub fn selectors(&self) -> Vec<&str> {
        match self {
            Event::Crash { nodes }
            | Event::Restart { nodes }
            | Event::Leave { nodes }
            | Event::Update { nodes }
            | Event::Slow { nodes, .. } => vec![nodes],
            Event::Partition { groups, .. } => groups.iter().map(String::as_str).collect(),
            Event::OneWayLoss { from, to, .. } => vec![from, to],
            Event::Join { .. } | Event::Heal | Event::SetLoss { .. } => vec![],
        }
    }
}

impl Distribution {
    fn validate(&self) -> Result<(), String> {
        let ok = match *self {
            Distribution::Constant { ms } => ms >= 0.0 && ms.is_finite(),
            Distribution::Uniform { min_ms, max_ms } => {
                min_ms >= 0.0 && max_ms >= min_ms && max_ms.is_finite()
            }
            Distribution::LogNormal { median_ms, sigma } => {
                median_ms > 0.0 && median_ms.is_finite() && (0.0..10.0).contains(&sigma)
            }
        };
        if ok {
            Ok(())
        } else {
            Err(format!("latency {self:?}: out of range"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_parse_and_bad_ones_say_why() {
        assert_eq!(Selector::parse("all"), Ok(Selector::All));
        assert_eq!(Selector::parse("3..9"), Ok(Selector::Range(3, 9)));
        assert_eq!(Selector::parse("1, 4"), Ok(Selector::List(vec![1, 4])));
        assert_eq!(Selector::parse("random:5"), Ok(Selector::Random(5)));
        assert!(Selector::parse("9..3").unwrap_err().contains("empty range"));
        assert!(Selector::parse("fraction:2").is_err());
    }

    #[test]
    fn a_scenario_names_only_what_it_changes_and_nonsense_is_refused() {
        let s = Scenario::parse("nodes = 10\n[[event]]\nat_s = 1\nkind = \"crash\"\nnodes = \"0\"")
            .unwrap();
        assert_eq!(s.nodes, 10);
        assert_eq!(s.events.len(), 1);
        let bad =
            Scenario::parse("nodes = 10\n[[event]]\nat_s = 1\nkind = \"crash\"\nnodes = \"12\"");
        assert!(bad.unwrap_err().contains("past 10"));
        assert!(Scenario::parse("nodes = 10\nbogus = 1").is_err());
        assert!(Scenario::parse("[loss]\nuniform = 2.0").is_err());
    }
}
