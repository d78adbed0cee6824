//! Lifeguard's experiment (`model sim lifeguard`): one scenario with slow members, run with
//! each combination of Lifeguard's three components switched on and off (the core's
//! `lifeguard_*` switches), over several seeds; the false positives of each combination
//! written as JSON, a markdown table and an SVG bar chart, for `docs/benchmarks.md`.
//!
//! Counts are member events summed over the observers: a healthy member falsely suspected by
//! 40 members is 40 false suspicions. "Healthy" is up, running and not slow; suspicions and
//! deaths of the slow members are counted apart (Lifeguard's paper counts those as less
//! wrong: the slow member is in trouble).

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use super::figures::{Crashes, mean};
use super::scenario::Scenario;
use super::{Report, figures};

/// Which of Lifeguard's components run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Switches {
    /// Local health aware probe (the core's `lifeguard_local_health`).
    pub local_health: bool,
    /// Local health aware suspicion (`lifeguard_dynamic_suspicion`).
    pub dynamic_suspicion: bool,
    /// Buddy system (`lifeguard_buddy`).
    pub buddy: bool,
}

impl Switches {
    /// All eight combinations: all on, each one off, each one alone, all off.
    pub const ALL: [Switches; 8] = [
        Switches::new(true, true, true),
        Switches::new(false, true, true),
        Switches::new(true, false, true),
        Switches::new(true, true, false),
        Switches::new(true, false, false),
        Switches::new(false, true, false),
        Switches::new(false, false, true),
        Switches::new(false, false, false),
    ];

    pub const fn new(local_health: bool, dynamic_suspicion: bool, buddy: bool) -> Switches {
        Switches {
            local_health,
            dynamic_suspicion,
            buddy,
        }
    }

    /// A short name: `all on`, `all off (SWIM)`, `no LHA-Probe`, `LHA-Suspicion only`.
    pub fn label(self) -> String {
        let names = ["LHA-Probe", "LHA-Suspicion", "Buddy"];
        let on = [self.local_health, self.dynamic_suspicion, self.buddy];
        match on.iter().filter(|&&b| b).count() {
            3 => "all on (Lifeguard)".into(),
            0 => "all off (SWIM)".into(),
            2 => format!("no {}", names[on.iter().position(|&b| !b).unwrap_or(0)]),
            _ => format!("{} only", names[on.iter().position(|&b| b).unwrap_or(0)]),
        }
    }

    /// `scenario` with these switches.
    pub fn apply(self, scenario: &Scenario) -> Scenario {
        let mut s = scenario.clone();
        s.core.lifeguard_local_health = Some(self.local_health);
        s.core.lifeguard_dynamic_suspicion = Some(self.dynamic_suspicion);
        s.core.lifeguard_buddy = Some(self.buddy);
        s
    }
}

/// One combination's results: per seed, and their means.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub label: String,
    pub switches: Switches,
    pub seeds: Vec<u64>,
    pub false_suspicions: Vec<u64>,
    pub false_deaths: Vec<u64>,
    /// Healthy members declared dead, each verdict once (not once per member that held it).
    pub falsely_dead: Vec<u64>,
    pub suspicions_of_slow: Vec<u64>,
    pub deaths_of_slow: Vec<u64>,
    #[serde(flatten)]
    pub crashes: Crashes,
    pub datagrams_per_member_s: f64,
}

/// The whole experiment, as written to `lifeguard.json`.
#[derive(Clone, Debug, Serialize)]
pub struct Experiment {
    pub scenario: Scenario,
    pub rows: Vec<Row>,
}

/// Run `scenario` with every combination of `combos`, once per seed.
pub fn run(scenario: &Scenario, combos: &[Switches], seeds: &[u64]) -> Result<Experiment, String> {
    let mut rows = Vec::new();
    for &sw in combos {
        eprintln!("lifeguard: {}", sw.label());
        let mut reports: Vec<Report> = Vec::new();
        for &seed in seeds {
            let mut s = sw.apply(scenario);
            s.seed = seed;
            s.name = format!("{} seed {seed}", sw.label());
            reports.push(figures::run(s)?);
        }
        let each = |f: fn(&Report) -> u64| reports.iter().map(f).collect::<Vec<u64>>();
        rows.push(Row {
            label: sw.label(),
            switches: sw,
            seeds: seeds.to_vec(),
            false_suspicions: each(|r| r.false_suspicions),
            false_deaths: each(|r| r.false_deaths),
            falsely_dead: each(|r| r.falsely_dead),
            suspicions_of_slow: each(|r| r.false_suspicions_of_slow),
            deaths_of_slow: each(|r| r.false_deaths_of_slow),
            crashes: Crashes::of(&reports),
            datagrams_per_member_s: (mean(
                &(reports.iter())
                    .map(|r| (r.datagrams_per_member_s * 1000.0) as u64)
                    .collect::<Vec<_>>(),
            ) / 1000.0),
        });
    }
    Ok(Experiment {
        scenario: scenario.clone(),
        rows,
    })
}

impl Experiment {
    /// The markdown table: one line per combination, means over the seeds, and the false
    /// deaths relative to all components on.
    pub fn table(&self) -> String {
        let on_off = |b: bool| if b { "on" } else { "off" };
        let base = (self.rows.iter())
            .find(|r| r.switches == Switches::ALL[0])
            .map(|r| mean(&r.false_deaths));
        let mut t = String::new();
        t.push_str("| components | LHA-Probe | LHA-Suspicion | Buddy | false suspicions | false deaths | x all on | healthy members declared dead | suspicions of slow | deaths of slow | first dead (s) | all dead (s) | datagrams/member/s |\n");
        t.push_str("|---|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
        for r in &self.rows {
            let deaths = mean(&r.false_deaths);
            let ratio = match base {
                Some(b) if b > 0.0 => format!("{:.1}", deaths / b),
                _ => "-".into(),
            };
            let (first_dead, all_dead) = r.crashes.cells();
            let _ = writeln!(
                t,
                "| {} | {} | {} | {} | {:.0} | {:.0} | {ratio} | {:.1} | {:.0} | {:.0} | {first_dead} | {all_dead} | {:.2} |",
                r.label,
                on_off(r.switches.local_health),
                on_off(r.switches.dynamic_suspicion),
                on_off(r.switches.buddy),
                mean(&r.false_suspicions),
                deaths,
                mean(&r.falsely_dead),
                mean(&r.suspicions_of_slow),
                mean(&r.deaths_of_slow),
                r.datagrams_per_member_s,
            );
        }
        t
    }

    /// Write `lifeguard.json`, `lifeguard.md` and `lifeguard.svg` into `dir`.
    pub fn write(&self, dir: &Path) -> Result<(), String> {
        let labels: Vec<String> = self.rows.iter().map(|r| r.label.clone()).collect();
        let panels = [
            (
                "False suspicions of healthy members, summed over observers (mean per run)",
                self.rows
                    .iter()
                    .map(|r| mean(&r.false_suspicions))
                    .collect(),
            ),
            (
                "False dead verdicts on healthy members, summed over observers (mean per run)",
                self.rows.iter().map(|r| mean(&r.false_deaths)).collect(),
            ),
            (
                "Healthy members declared dead, each verdict once (mean per run)",
                self.rows.iter().map(|r| mean(&r.falsely_dead)).collect(),
            ),
        ];
        figures::write_experiment(dir, "lifeguard", self, &self.table(), &labels, &panels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_eight_combinations_are_distinct_and_named() {
        let labels: std::collections::BTreeSet<String> =
            Switches::ALL.iter().map(|s| s.label()).collect();
        assert_eq!(labels.len(), 8);
        assert_eq!(Switches::ALL[0].label(), "all on (Lifeguard)");
        assert_eq!(Switches::new(true, false, true).label(), "no LHA-Suspicion");
        assert_eq!(Switches::new(false, false, true).label(), "Buddy only");
        assert_eq!(Switches::ALL[7].label(), "all off (SWIM)");
    }

    #[test]
    fn the_switches_reach_the_core_config() {
        let s = Switches::new(false, true, false).apply(&Scenario::default());
        let c = s.config().unwrap();
        assert!(!c.lifeguard_local_health && c.lifeguard_dynamic_suspicion && !c.lifeguard_buddy);
    }
}
