//! The topology-aware selector measured (`model sim zones`): one zoned scenario run with the
//! uniform selector and with each part of the zone-aware one (the core's `zone_helpers` and
//! `far_pass_every`, PROTOCOL.md §15), over several seeds, both as shipped (with its outage)
//! and calm (the same run without its link failures and partitions); written as JSON, a
//! markdown table and an SVG bar chart, for `docs/benchmarks.md`.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use super::Report;
use super::figures::{self, Crashes, mean};
use super::scenario::{Event, Scenario};

/// One way of choosing probe targets and helpers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Selector {
    /// Helpers from other zones first (`zone_helpers`).
    pub helpers: bool,
    /// Members of other zones in one pass of this many (`far_pass_every`).
    pub far_every: u8,
}

impl Selector {
    /// Uniform, each part alone, both.
    pub const ALL: [Selector; 4] = [
        Selector::new(false, 1),
        Selector::new(true, 1),
        Selector::new(false, 3),
        Selector::new(true, 3),
    ];

    pub const fn new(helpers: bool, far_every: u8) -> Selector {
        Selector { helpers, far_every }
    }

    /// `uniform`, `zone helpers`, `far every 3 passes`, or both joined by `+`.
    pub fn label(self) -> String {
        let mut parts = Vec::new();
        if self.helpers {
            parts.push("zone helpers".to_string());
        }
        if self.far_every > 1 {
            parts.push(format!("far every {} passes", self.far_every));
        }
        if parts.is_empty() {
            "uniform".into()
        } else {
            parts.join(" + ")
        }
    }

    /// `scenario` with this selector.
    pub fn apply(self, scenario: &Scenario) -> Scenario {
        let mut s = scenario.clone();
        s.core.zone_helpers = Some(self.helpers);
        s.core.far_pass_every = Some(self.far_every);
        s
    }
}

/// `scenario` without its outages: no partition, no one-way loss.
pub fn calm(scenario: &Scenario) -> Scenario {
    let mut s = scenario.clone();
    s.events.retain(|e| {
        !matches!(
            e.what,
            Event::Partition { .. } | Event::OneWayLoss { .. } | Event::Heal
        )
    });
    s.name = format!("{} (calm)", s.name);
    s
}

/// One selector on one variant of the scenario: per seed, and summaries.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub label: String,
    /// `outage` (the scenario as shipped) or `calm`.
    pub variant: &'static str,
    pub selector: Selector,
    pub seeds: Vec<u64>,
    pub false_suspicions: Vec<u64>,
    pub false_deaths: Vec<u64>,
    /// Healthy members declared dead, each verdict once.
    pub falsely_dead: Vec<u64>,
    #[serde(flatten)]
    pub crashes: Crashes,
    /// Means over the seeds, per member and simulated second.
    pub bytes_per_member_s: f64,
    pub cross_zone_bytes_per_member_s: f64,
}

/// The whole experiment, as written to `zones.json`.
#[derive(Clone, Debug, Serialize)]
pub struct Experiment {
    pub scenario: Scenario,
    pub rows: Vec<Row>,
}

/// Run `scenario` as shipped and calm with each selector, once per seed.
pub fn run(
    scenario: &Scenario,
    selectors: &[Selector],
    seeds: &[u64],
) -> Result<Experiment, String> {
    let mut rows = Vec::new();
    for (variant, base) in [("outage", scenario.clone()), ("calm", calm(scenario))] {
        for &sel in selectors {
            eprintln!("zones: {variant}, {}", sel.label());
            let mut reports: Vec<Report> = Vec::new();
            for &seed in seeds {
                let mut s = sel.apply(&base);
                s.seed = seed;
                reports.push(figures::run(s)?);
            }
            let each = |f: fn(&Report) -> u64| reports.iter().map(f).collect::<Vec<u64>>();
            let member_seconds = base.nodes as f64 * base.duration_s;
            let per_member_s = |f: fn(&Report) -> f64| {
                reports.iter().map(f).sum::<f64>() / reports.len().max(1) as f64
            };
            rows.push(Row {
                label: sel.label(),
                variant,
                selector: sel,
                seeds: seeds.to_vec(),
                false_suspicions: each(|r| r.false_suspicions),
                false_deaths: each(|r| r.false_deaths),
                falsely_dead: each(|r| r.falsely_dead),
                crashes: Crashes::of(&reports),
                bytes_per_member_s: per_member_s(|r| r.bytes_per_member_s),
                cross_zone_bytes_per_member_s: per_member_s(|r| r.cross_zone_bytes as f64)
                    / member_seconds,
            });
        }
    }
    Ok(Experiment {
        scenario: scenario.clone(),
        rows,
    })
}

impl Experiment {
    /// The markdown table: one line per variant and selector, means over the seeds.
    pub fn table(&self) -> String {
        let mut t = String::new();
        t.push_str("| run | selector | false suspicions | false deaths | healthy members declared dead | first dead (s) | all dead (s) | bytes/member/s | cross-zone bytes/member/s |\n");
        t.push_str("|---|---|--:|--:|--:|--:|--:|--:|--:|\n");
        for r in &self.rows {
            let (first_dead, all_dead) = r.crashes.cells();
            let _ = writeln!(
                t,
                "| {} | {} | {:.0} | {:.0} | {:.1} | {first_dead} | {all_dead} | {:.0} | {:.0} |",
                r.variant,
                r.label,
                mean(&r.false_suspicions),
                mean(&r.false_deaths),
                mean(&r.falsely_dead),
                r.bytes_per_member_s,
                r.cross_zone_bytes_per_member_s,
            );
        }
        t
    }

    /// Write `zones.json`, `zones.md` and `zones.svg` into `dir`.
    pub fn write(&self, dir: &Path) -> Result<(), String> {
        let rows = |variant: &'static str| self.rows.iter().filter(move |r| r.variant == variant);
        let labels: Vec<String> = rows("outage").map(|r| r.label.clone()).collect();
        let panels = [
            (
                "During the outage: false suspicions of healthy members, summed over observers",
                rows("outage").map(|r| mean(&r.false_suspicions)).collect(),
            ),
            (
                "During the outage: healthy members declared dead (each verdict once)",
                rows("outage").map(|r| mean(&r.falsely_dead)).collect(),
            ),
            (
                "Calm: cross-zone bytes per member per second",
                rows("calm")
                    .map(|r| r.cross_zone_bytes_per_member_s)
                    .collect(),
            ),
        ];
        figures::write_experiment(dir, "zones", self, &self.table(), &labels, &panels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_selectors_reach_the_core_config_and_calm_drops_only_outages() {
        let s = Scenario::load(Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/scenarios/zone-link.toml"
        )))
        .expect("the shipped scenario loads");
        let c = Selector::new(true, 3).apply(&s).config().expect("valid");
        assert!(c.zone_helpers && c.far_pass_every == 3);
        let quiet = calm(&s);
        assert!(quiet.events.len() < s.events.len());
        assert!(
            quiet
                .events
                .iter()
                .any(|e| matches!(e.what, Event::Crash { .. }))
        );
        let labels: std::collections::BTreeSet<String> =
            Selector::ALL.iter().map(|s| s.label()).collect();
        assert_eq!(labels.len(), Selector::ALL.len());
    }
}
