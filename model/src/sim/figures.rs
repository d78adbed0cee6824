//! The simulator's figures (`model sim figures`): sweeps of scenarios, each figure written as
//! JSON (the numbers) and SVG (drawn with plotters), for `docs/benchmarks.md`.
//!
//! | file | what |
//! |---|---|
//! | `detection-cdf` | time to first suspicion, first dead verdict and all dead, over many crashes |
//! | `dissemination` | time for one update to reach every member, against `n`, with `log n` |
//! | `traffic` | datagrams and bytes each member sends per second, against `n` |
//! | `false-positives` | false suspicions and false deaths under loss and under slow members |
//! | `heal` | time to convergence after a partition heals, against `n` |
//! | `lifeguard` | false positives with Lifeguard's components on and off (`sim lifeguard`, see [`super::lifeguard`]) |
//! | `zones` | uniform versus topology-aware selection in a zone outage and calm (`sim zones`, see [`super::zones`]) |
//!
//! Every run is seeded: the same command writes the same files.

use std::path::Path;

use plotters::prelude::*;
use serde::Serialize;

use super::scenario::{Distribution, Event, Scenario, TimedEvent};
use super::{Report, Simulation};

/// One curve: a name and its points.
#[derive(Clone, Debug, Serialize)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// One figure's data, as written to its JSON file.
#[derive(Clone, Debug, Serialize)]
pub struct Figure {
    pub title: String,
    pub x: String,
    pub y: String,
    /// The x axis is log10 of the value.
    pub log_x: bool,
    pub series: Vec<Series>,
    /// The scenarios' parameters, in words.
    pub setup: String,
}

/// A cluster of `n` on a LAN (lognormal latency around 0.5 ms), `duration` seconds long.
pub fn base(n: usize, duration: f64, seed: u64) -> Scenario {
    Scenario {
        name: format!("n{n}"),
        seed,
        nodes: n,
        duration_s: duration,
        latency: super::scenario::Latency {
            default: Distribution::LogNormal {
                median_ms: 0.5,
                sigma: 0.5,
            },
            pairs: Vec::new(),
        },
        ..Scenario::default()
    }
}

fn at(at_s: f64, what: Event) -> TimedEvent {
    TimedEvent { at_s, what }
}

/// Run one scenario; a property violation is an error that says where.
pub(crate) fn run(s: Scenario) -> Result<Report, String> {
    let name = s.name.clone();
    let started = std::time::Instant::now();
    let outcome = Simulation::new(s)?.run();
    eprintln!(
        "  {name}: {:.1}s wall, {} steps",
        started.elapsed().as_secs_f64(),
        outcome.report.steps
    );
    if let Some(found) = outcome.violation {
        return Err(format!(
            "{name}: \"{}\" violated by member {} at {}s: {}",
            found.violation.property, found.member, found.at_s, found.violation.detail
        ));
    }
    Ok(outcome.report)
}

/// Run every sweep and write every figure into `dir`.
pub fn all(dir: &Path, sizes: &[usize], seed: u64) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let figures = [
        detection(seed)?,
        dissemination(sizes, seed)?,
        false_positives(seed)?,
        heal(sizes, seed)?,
    ];
    for (name, figure) in figures.iter().flatten() {
        write(dir, name, figure)?;
    }
    Ok(())
}

/// Many crashes in a cluster of 1,000: one every 6 s for 4 minutes.
fn detection(seed: u64) -> Result<Vec<(&'static str, Figure)>, String> {
    eprintln!("detection: 1000 members, 40 crashes");
    let mut s = base(1000, 300.0, seed);
    s.name = "detection".into();
    s.loss.uniform = 0.005;
    s.events = (0..40)
        .map(|k| {
            let nodes = "random:1".to_string();
            at(20.0 + 6.0 * k as f64, Event::Crash { nodes })
        })
        .collect();
    let r = run(s)?;
    let cdf = |name: &str, xs: Vec<f64>| {
        let mut xs = xs;
        xs.sort_by(f64::total_cmp);
        let n = xs.len().max(1) as f64;
        Series {
            name: name.into(),
            points: (xs.iter().enumerate())
                .map(|(k, &x)| (x, (k + 1) as f64 / n))
                .collect(),
        }
    };
    let f = &r.failures;
    Ok(vec![(
        "detection-cdf",
        Figure {
            title: "Detection of 40 crashes, 1,000 members".into(),
            x: "seconds after the crash".into(),
            y: "fraction of crashes".into(),
            log_x: false,
            series: vec![
                cdf("first suspicion", f.iter().filter_map(|f| f.first_suspect_s).collect()),
                cdf("first dead verdict", f.iter().filter_map(|f| f.first_dead_s).collect()),
                cdf("all members hold it dead", f.iter().filter_map(|f| f.all_dead_s).collect()),
            ],
            setup: "lan config, lognormal latency (median 0.5 ms), 0.5% loss, one crash every 6 s from 20 s, 300 s, seed as given".into(),
        },
    )])
}

/// Per size: three updates in a quiet cluster (their spread), and the traffic.
fn dissemination(sizes: &[usize], seed: u64) -> Result<Vec<(&'static str, Figure)>, String> {
    let mut spread = Vec::new();
    let mut datagrams = Vec::new();
    let mut bytes = Vec::new();
    for &n in sizes {
        eprintln!("dissemination: {n} members");
        let mut s = base(n, 60.0, seed);
        s.events = [20.0, 30.0, 40.0]
            .iter()
            .map(|&t| {
                let nodes = "random:1".to_string();
                at(t, Event::Update { nodes })
            })
            .collect();
        let r = run(s)?;
        let mut times: Vec<f64> = r.updates.iter().filter_map(|u| u.all_seen_s).collect();
        times.sort_by(f64::total_cmp);
        if let Some(&median) = times.get(times.len() / 2) {
            spread.push((n as f64, median));
        }
        datagrams.push((n as f64, r.datagrams_per_member_s));
        bytes.push((n as f64, r.bytes_per_member_s / 1_000.0));
    }
    // SWIM's expectation: O(log n) periods; scaled to meet the first measurement.
    let reference = spread.first().map(|&(n0, t0)| {
        let points = sizes
            .iter()
            .map(|&n| (n as f64, t0 * (n as f64).ln() / n0.ln()))
            .collect();
        Series {
            name: "c x log n (through the first point)".into(),
            points,
        }
    });
    let setup = "lan config, lognormal latency (median 0.5 ms), no loss; three metadata updates at 20, 30, 40 s; 60 s; median of the three".to_string();
    Ok(vec![
        (
            "dissemination",
            Figure {
                title: "Time for an update to reach every member".into(),
                x: "members (log10)".into(),
                y: "seconds".into(),
                log_x: true,
                series: [Series {
                    name: "measured (median of 3)".into(),
                    points: spread,
                }]
                .into_iter()
                .chain(reference)
                .collect(),
                setup: setup.clone(),
            },
        ),
        (
            "traffic",
            Figure {
                title: "What each member sends per second".into(),
                x: "members (log10)".into(),
                y: "datagrams/s, kB/s".into(),
                log_x: true,
                series: vec![
                    Series {
                        name: "datagrams per member per second".into(),
                        points: datagrams,
                    },
                    Series {
                        name: "kB per member per second".into(),
                        points: bytes,
                    },
                ],
                setup: format!("{setup}; averaged over the whole run"),
            },
        ),
    ])
}

/// 500 members for 90 s: false suspicions and deaths under growing loss, then under a growing
/// share of slow members (inputs handled 800 ms late from 20 s to 80 s).
fn false_positives(seed: u64) -> Result<Vec<(&'static str, Figure)>, String> {
    let mut loss = (Vec::new(), Vec::new());
    for p in [0.0, 0.01, 0.02, 0.05, 0.1, 0.2] {
        eprintln!("false positives: loss {p}");
        let mut s = base(500, 90.0, seed);
        s.loss.uniform = p;
        let r = run(s)?;
        loss.0.push((p * 100.0, r.false_suspicions as f64));
        loss.1.push((p * 100.0, r.false_deaths as f64));
    }
    let mut slow = (Vec::new(), Vec::new(), Vec::new());
    for f in [0.0, 0.01, 0.02, 0.05, 0.1] {
        eprintln!("false positives: slow {f}");
        let mut s = base(500, 90.0, seed);
        s.loss.uniform = 0.01;
        s.events = vec![at(
            20.0,
            Event::Slow {
                nodes: format!("fraction:{f}"),
                delay_ms: 800.0,
                until_s: Some(80.0),
                timers_on_time: false,
            },
        )];
        let r = run(s)?;
        slow.0.push((f * 100.0, r.false_suspicions as f64));
        slow.1.push((f * 100.0, r.false_deaths as f64));
        slow.2.push((f * 100.0, r.false_suspicions_of_slow as f64));
    }
    let series = |name: &str, points| Series {
        name: name.into(),
        points,
    };
    Ok(vec![
        (
            "false-positives-loss",
            Figure {
                title: "False positives under loss, 500 members, 90 s".into(),
                x: "datagrams lost (%)".into(),
                y: "count".into(),
                log_x: false,
                series: vec![
                    series("suspicions of healthy members", loss.0),
                    series("dead verdicts on healthy members", loss.1),
                ],
                setup: "lan config, lognormal latency (median 0.5 ms), uniform loss".into(),
            },
        ),
        (
            "false-positives-slow",
            Figure {
                title: "False positives with slow members, 500 members, 90 s".into(),
                x: "members slow (%)".into(),
                y: "count".into(),
                log_x: false,
                series: vec![
                    series("suspicions of healthy members", slow.0),
                    series("dead verdicts on healthy members", slow.1),
                    series("suspicions of the slow members", slow.2),
                ],
                setup: "lan config, 1% loss; the slow members handle every input 800 ms late from 20 s to 80 s".into(),
            },
        ),
    ])
}

/// Per size (up to 1,000): the cluster split in two halves for 15 s, then healed.
fn heal(sizes: &[usize], seed: u64) -> Result<Vec<(&'static str, Figure)>, String> {
    let mut points = Vec::new();
    for &n in sizes.iter().filter(|&&n| n <= 1_000) {
        eprintln!("heal: {n} members");
        // Long enough for the slowest heal measured (1,000 members) to converge.
        let mut s = base(n, 600.0, seed);
        let half = n / 2;
        s.events = vec![at(
            20.0,
            Event::Partition {
                groups: vec![format!("0..{half}"), format!("{half}..{n}")],
                until_s: Some(35.0),
            },
        )];
        let r = run(s)?;
        if let Some(c) = r.heals.first().and_then(|h| h.converged_s) {
            points.push((n as f64, c));
        }
    }
    Ok(vec![(
        "heal",
        Figure {
            title: "Convergence after a 15 s partition heals".into(),
            x: "members (log10)".into(),
            y: "seconds after the heal".into(),
            log_x: true,
            series: vec![Series {
                name: "every member holds every other alive".into(),
                points,
            }],
            setup: "lan config, halves split from 20 s to 35 s; sampled once a second; 600 s; members declared dead rejoin by themselves at their next generation".into(),
        },
    )])
}

/// Write `name.json` and `name.svg`.
pub fn write(dir: &Path, name: &str, figure: &Figure) -> Result<(), String> {
    let json = serde_json::to_string_pretty(figure).map_err(|e| e.to_string())?;
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, json + "\n").map_err(|e| format!("{}: {e}", path.display()))?;
    let path = dir.join(format!("{name}.svg"));
    plot(&path, figure).map_err(|e| format!("{}: {e}", path.display()))
}

/// Draw `figure` as lines with points.
fn plot(path: &Path, figure: &Figure) -> Result<(), Box<dyn std::error::Error>> {
    let x = |v: f64| if figure.log_x { v.log10() } else { v };
    let all: Vec<(f64, f64)> = (figure.series.iter())
        .flat_map(|s| s.points.iter().map(|&(a, b)| (x(a), b)))
        .collect();
    let (mut x0, mut x1) = (f64::MAX, f64::MIN);
    let mut y1 = 0.0f64;
    for &(a, b) in &all {
        x0 = x0.min(a);
        x1 = x1.max(a);
        y1 = y1.max(b);
    }
    if all.is_empty() {
        (x0, x1) = (0.0, 1.0);
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    let y1 = if y1 > 0.0 { y1 * 1.1 } else { 1.0 };
    let root = SVGBackend::new(path, (800, 500)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(&figure.title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(65)
        .build_cartesian_2d(x0..x1, 0.0..y1)?;
    chart
        .configure_mesh()
        .x_desc(&figure.x)
        .y_desc(&figure.y)
        .draw()?;
    for (k, s) in figure.series.iter().enumerate() {
        let color = Palette99::pick(k).to_rgba();
        let points: Vec<(f64, f64)> = s.points.iter().map(|&(a, b)| (x(a), b)).collect();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
            .label(s.name.as_str())
            .legend(move |(a, b)| {
                PathElement::new(vec![(a, b), (a + 20, b)], color.stroke_width(2))
            });
        chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

/// How the crashes of an experiment's runs were detected: medians over every crash of every
/// run (seconds after the crash) of the first dead verdict and of every member holding it dead.
#[derive(Clone, Debug, Serialize)]
pub struct Crashes {
    pub first_dead_median_s: Option<f64>,
    pub all_dead_median_s: Option<f64>,
    /// Crashes some member that ran throughout never held dead within the run.
    pub undetected: usize,
}

impl Crashes {
    /// Over every crash of `reports`.
    pub fn of(reports: &[Report]) -> Crashes {
        let failures = || reports.iter().flat_map(|r| r.failures.iter());
        Crashes {
            first_dead_median_s: median(failures().filter_map(|f| f.first_dead_s).collect()),
            all_dead_median_s: median(failures().filter_map(|f| f.all_dead_s).collect()),
            undetected: failures().filter(|f| f.all_dead_s.is_none()).count(),
        }
    }

    /// The two table cells: `first dead (s)` and `all dead (s)`, the latter with the crashes
    /// never held dead everywhere.
    pub fn cells(&self) -> (String, String) {
        let secs = |x: Option<f64>| x.map_or("-".into(), |x| format!("{x:.1}"));
        let mut all = secs(self.all_dead_median_s);
        if self.undetected > 0 {
            all += &format!(" ({} never everywhere)", self.undetected);
        }
        (secs(self.first_dead_median_s), all)
    }
}

/// Write an experiment as `name.json` (`json`), `name.md` (`table`) and `name.svg` (a bar chart
/// of `panels` over `labels`) into `dir`.
pub fn write_experiment(
    dir: &Path,
    name: &str,
    json: &impl Serialize,
    table: &str,
    labels: &[String],
    panels: &[(&str, Vec<f64>)],
) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let text = serde_json::to_string_pretty(json).map_err(|e| e.to_string())?;
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, text + "\n").map_err(|e| format!("{}: {e}", path.display()))?;
    let path = dir.join(format!("{name}.md"));
    std::fs::write(&path, table).map_err(|e| format!("{}: {e}", path.display()))?;
    let path = dir.join(format!("{name}.svg"));
    bars(&path, labels, panels).map_err(|e| format!("{}: {e}", path.display()))
}

/// The mean of per-seed counts (0 for none).
pub fn mean(xs: &[u64]) -> f64 {
    xs.iter().sum::<u64>() as f64 / xs.len().max(1) as f64
}

/// The median (the upper one of an even count; `None` for none).
pub fn median(mut xs: Vec<f64>) -> Option<f64> {
    xs.sort_by(f64::total_cmp);
    xs.get(xs.len() / 2).copied()
}

/// Draw one bar chart per panel, stacked, each with one bar per label: `(title, values)`.
pub fn bars(
    path: &Path,
    labels: &[String],
    panels: &[(&str, Vec<f64>)],
) -> Result<(), Box<dyn std::error::Error>> {
    let height = 330 * panels.len().max(1) as u32;
    let root = SVGBackend::new(path, (1000, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let areas = root.split_evenly((panels.len().max(1), 1));
    for (area, (title, values)) in areas.iter().zip(panels) {
        let top = values.iter().copied().fold(0.0f64, f64::max);
        let top = if top > 0.0 { top * 1.1 } else { 1.0 };
        let mut chart = ChartBuilder::on(area)
            .caption(*title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d((0..labels.len()).into_segmented(), 0.0..top)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(labels.len())
            .x_label_formatter(&|x| match x {
                SegmentValue::CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .x_label_style(("sans-serif", 11))
            .draw()?;
        chart.draw_series(values.iter().enumerate().map(|(i, &v)| {
            let color = Palette99::pick(i).to_rgba();
            let mut bar = Rectangle::new(
                [
                    (SegmentValue::Exact(i), 0.0),
                    (SegmentValue::Exact(i + 1), v),
                ],
                color.filled(),
            );
            bar.set_margin(0, 0, 8, 8);
            bar
        }))?;
        chart.draw_series(values.iter().enumerate().map(|(i, &v)| {
            Text::new(
                format!("{v:.0}"),
                (SegmentValue::CenterOf(i), v + top * 0.02),
                ("sans-serif", 12),
            )
        }))?;
    }
    root.present()?;
    Ok(())
}
