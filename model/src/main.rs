//! `model`: the model checker's command line.
//!
//! ```text
//! cargo run --release -p model -- check          # exhaustive check of the default worlds
//! cargo run --release -p model -- simulate       # seeded random walks over deep worlds
//! cargo run --release -p model -- sim run model/scenarios/crashes.toml   # N real nodes, simulated network
//! cargo run --release -p model -- sim figures    # the simulator's figures for docs/benchmarks.md
//! cargo run --release -p model -- explore        # stateright's Explorer on localhost:3000
//! ```

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use model::checker::properties::{self, Kind};
use model::checker::reduce::growth;
use model::checker::reduce::instants::InstantModel;
use model::checker::report::{self, Verdict};
use model::checker::trace::Trace;
use model::checker::walk;
use model::checker::worlds;
use model::checker::{Setup, State, SwimModel};
use stateright::{Checker, HasDiscoveries, Model, Path};

// The checker clones and drops millions of small states: mimalloc is much faster at it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser, Debug)]
#[command(
    name = "model",
    version,
    about = "Model checker for the SWIM + Lifeguard core: the same state machine production runs."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Exhaustively check every property of PROTOCOL.md §9 (exit 0: all hold; 1: a violation).
    Check(CheckArgs),
    /// Seeded random walks over a deep world (5 nodes, many faults), same properties.
    Simulate(SimulateArgs),
    /// Browse the state space in stateright's Explorer.
    Explore(ExploreArgs),
    /// Count one world's instant starts level by level (a level: the time they start), with
    /// the states searched inside their instants: how the reduced space grows per leap.
    Growth(GrowthArgs),
    /// Write the conformance corpus: traces covering everything the export worlds reach.
    ExportTraces(ExportArgs),
    /// Discrete-event simulation of many real nodes over a simulated network, the safety
    /// properties checked on every step (see docs/benchmarks.md).
    #[command(subcommand)]
    Sim(SimCommand),
}

#[derive(Subcommand, Debug)]
enum SimCommand {
    /// Run one scenario file; print its report (JSON, the same for the same seed).
    Run(SimRunArgs),
    /// Run the sweeps behind the simulator's figures; write JSON and SVG.
    Figures(SimFiguresArgs),
    /// Lifeguard's experiment: a scenario with slow members, run with each combination of
    /// Lifeguard's three components on and off; write JSON, a markdown table and SVG.
    Lifeguard(SimExperimentArgs),
    /// The topology-aware selector: a zoned scenario, with its outage and calm, run with the
    /// uniform selector and each part of the zone-aware one; write JSON, markdown and SVG.
    Zones(SimExperimentArgs),
}

/// An experiment over seeds (`sim lifeguard`, `sim zones`).
#[derive(Args, Debug)]
struct SimExperimentArgs {
    /// The scenario (TOML; default: model/scenarios/lifeguard.toml or zone-link.toml).
    scenario: Option<PathBuf>,
    /// Directory for the experiment's .json, .md and .svg.
    #[arg(long, default_value = "docs/sim")]
    out: PathBuf,
    /// Seeds: each combination runs once per seed (`first..first + count`).
    #[arg(long, default_value_t = 5)]
    seeds: u64,
    /// First seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Override the scenario's initial member count.
    #[arg(long)]
    nodes: Option<usize>,
}

#[derive(Args, Debug)]
struct SimRunArgs {
    /// The scenario (TOML; see model/scenarios/).
    scenario: PathBuf,
    /// Override the scenario's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Override the scenario's initial member count.
    #[arg(long)]
    nodes: Option<usize>,
    /// Override the scenario's duration (simulated seconds).
    #[arg(long)]
    duration: Option<f64>,
    /// Also write the report to this file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Where to write a counterexample (the violating member's steps).
    #[arg(long, default_value = "sim-counterexample.json")]
    trace: PathBuf,
    /// Show the progress bar even when standard error is not a terminal.
    #[arg(long)]
    progress: bool,
    /// Run every member with this deliberate bug (a `Fault` name, e.g. `MergeRevivesDead`).
    #[cfg(swim_faults)]
    #[arg(long)]
    fault: Option<String>,
}

#[derive(Args, Debug)]
struct SimFiguresArgs {
    /// Directory for the JSON and SVG files.
    #[arg(long, default_value = "docs/sim")]
    out: PathBuf,
    /// Cluster sizes of the per-size sweeps.
    #[arg(long, value_delimiter = ',', default_value = "100,300,1000,3000")]
    sizes: Vec<usize>,
    /// Seed of every run.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// The world to check. Without any fault or command option, `check` runs its default worlds
/// (`model::checker::worlds`: two broad ones with one replay each, and small targeted ones);
/// with one, it runs that single world.
#[derive(Args, Debug, Clone)]
struct WorldArgs {
    /// Nodes in the cluster.
    #[arg(long, value_parser = clap::value_parser!(u8).range(2..=5))]
    nodes: Option<u8>,
    /// Datagrams the network may lose.
    #[arg(long)]
    drops: Option<u8>,
    /// Datagrams the network may deliver twice.
    #[arg(long)]
    duplicates: Option<u8>,
    /// Nodes that may crash.
    #[arg(long)]
    crashes: Option<u8>,
    /// Times a node may be paused (its timers and deliveries wait).
    #[arg(long)]
    pauses: Option<u8>,
    /// Datagrams the network may deliver again: any datagram sent earlier in the run,
    /// replayed to its destination (what an outsider on the wire can still do with encryption).
    #[arg(long)]
    replays: Option<u8>,
    /// Graceful leaves.
    #[arg(long)]
    leaves: Option<u8>,
    /// Metadata changes.
    #[arg(long)]
    meta: Option<u8>,
    /// Rejoins under a new id by a node that left (or was removed); without --horizon, the
    /// run is lengthened so that a leave can finish and a rejoin follow inside the window.
    #[arg(long)]
    rejoins: Option<u8>,
    /// Restarts of a crashed node at its second address and next generation (needs crashes).
    #[arg(long)]
    restarts: Option<u8>,
    /// Model time a run lasts, in ms (faults stop `settle` ms before it; see docs/checker.md).
    #[arg(long)]
    horizon: Option<u64>,
    /// Suspicion timeouts yield `unreachable`; the application confirms deaths.
    #[arg(long)]
    unreachable: bool,
    /// Node i starts i x STAGGER ms after node 0 (0: protocol periods aligned).
    #[arg(long)]
    stagger: Option<u64>,
}

impl WorldArgs {
    fn customized(&self) -> bool {
        self.drops.is_some()
            || self.duplicates.is_some()
            || self.crashes.is_some()
            || self.pauses.is_some()
            || self.replays.is_some()
            || self.leaves.is_some()
            || self.meta.is_some()
            || self.rejoins.is_some()
            || self.restarts.is_some()
    }

    /// Apply the options to a base world.
    fn apply(&self, mut setup: Setup) -> Setup {
        let nodes = self.nodes.map_or(setup.nodes, usize::from);
        if nodes != setup.nodes {
            let horizon_gap = setup.horizon.saturating_sub(setup.settle());
            setup.nodes = nodes;
            setup.horizon = setup.settle() + horizon_gap;
        }
        if self.unreachable {
            setup.core.unreachable = true;
        }
        let set = |field: &mut u8, value: Option<u8>| {
            if let Some(v) = value {
                *field = v;
            }
        };
        set(&mut setup.drops, self.drops);
        set(&mut setup.duplicates, self.duplicates);
        set(&mut setup.crashes, self.crashes);
        set(&mut setup.pauses, self.pauses);
        set(&mut setup.replays, self.replays);
        set(&mut setup.leaves, self.leaves);
        set(&mut setup.meta_changes, self.meta);
        set(&mut setup.rejoins, self.rejoins);
        set(&mut setup.restarts, self.restarts);
        if setup.rejoins > 0 {
            setup.horizon = setup.horizon.max(Setup::rejoin_horizon(&setup));
        }
        if let Some(h) = self.horizon {
            setup.horizon = h;
        }
        if let Some(st) = self.stagger {
            setup.stagger = st;
        }
        setup
    }

    /// The worlds `check` runs, with their labels: with a fault or command option, that one
    /// world; with `--nodes` other than 3, the two broad worlds of that size; else every
    /// default world (`checker::worlds`). `only` picks worlds by label, in its order.
    fn worlds(&self, only: &[String]) -> Vec<(String, Setup)> {
        if self.customized() {
            let mut base = Setup::new(3);
            base.drops = 2;
            return vec![("custom".into(), self.apply(base))];
        }
        let worlds = match self.nodes.map(usize::from) {
            Some(n) if n != 3 => worlds::broad(n),
            _ => worlds::defaults(),
        };
        let chosen: Vec<worlds::World> = if only.is_empty() {
            worlds
        } else {
            (only.iter())
                .filter_map(|o| worlds.iter().find(|w| w.label == o).cloned())
                .collect()
        };
        (chosen.into_iter())
            .map(|w| (w.label.to_string(), self.apply(w.setup)))
            .collect()
    }
}

#[derive(Args, Debug)]
struct CheckArgs {
    #[command(flatten)]
    world: WorldArgs,
    /// Checker threads, in all.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Worlds checked at once, each on its share of `--threads`. A second thread adds less to
    /// one world's search than a second world does (docs/checker.md), so the default runs as
    /// many worlds at once as there are threads, except with `--nodes` 4 and up, where one
    /// world is most of the work.
    #[arg(long)]
    worlds_at_once: Option<usize>,
    /// Depth-first search (the default): stores only fingerprints.
    #[arg(long, conflicts_with = "bfs")]
    dfs: bool,
    /// Breadth-first search: shorter counterexamples, about 700 bytes per state.
    #[arg(long)]
    bfs: bool,
    /// Explore states equal up to a renaming of the nodes once (DFS only).
    #[arg(long, conflicts_with = "bfs")]
    symmetry: bool,
    /// Where to write a counterexample as a JSON trace.
    #[arg(long, default_value = "counterexample.json")]
    trace: PathBuf,
    /// Reductions for large worlds (`on` by default from four nodes): inside an instant, nodes
    /// take their inputs in index order, and the checker keeps a fingerprint only of the
    /// states where a timer instant starts, searching the interleavings between them afresh
    /// with every property checked on them. See docs/checker.md.
    #[arg(long, value_enum)]
    reduce: Option<Reduce>,
    /// Seconds between progress lines.
    #[arg(long, default_value_t = 3)]
    progress: u64,
    /// Check only the default worlds of these labels (repeatable; e.g. `--world pause`).
    #[arg(long = "world")]
    only: Vec<String>,
    /// Run every node with this deliberate bug (a `Fault` name, e.g. `MergeRevivesDead`;
    /// repeatable). Only in a `--cfg swim_faults` build: to see which worlds catch it.
    #[cfg(swim_faults)]
    #[arg(long)]
    fault: Vec<String>,
}

/// Whether `check` reduces the search (see `CheckArgs::reduce`).
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Reduce {
    Off,
    On,
}

#[derive(Args, Debug)]
struct SimulateArgs {
    #[command(flatten)]
    world: WorldArgs,
    /// Number of walks.
    #[arg(long, default_value_t = 1000)]
    walks: u64,
    /// Seed of the first walk (walk k is reproducible from seed and k).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Longest walk, in steps.
    #[arg(long, default_value_t = 2000)]
    depth: usize,
    /// Where to write a counterexample as a JSON trace.
    #[arg(long, default_value = "counterexample.json")]
    trace: PathBuf,
}

#[derive(Args, Debug)]
struct ExportArgs {
    /// Directory to write the traces to (its old `NNNN-*.json` files are replaced).
    #[arg(long, default_value = "traces")]
    out: PathBuf,
    /// Seeded random walks of the four-node world added to the corpus.
    #[arg(long, default_value_t = 4)]
    walks: u64,
    /// Seed of the walks.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

#[derive(Args, Debug)]
struct ExploreArgs {
    #[command(flatten)]
    world: WorldArgs,
    /// Address to serve the Explorer on.
    #[arg(default_value = "localhost:3000")]
    addr: String,
}

#[derive(Args, Debug)]
struct GrowthArgs {
    #[command(flatten)]
    world: WorldArgs,
    /// The default world of this label (with `--nodes` other than 3: `faults` or `reliable`).
    #[arg(long = "world", default_value = "faults")]
    only: String,
    /// Count states equal up to a renaming of the nodes once.
    #[arg(long)]
    symmetry: bool,
    /// Threads searching the instants of a level.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Stop before the next level once this many seconds have passed.
    #[arg(long, default_value_t = 600)]
    seconds: u64,
    /// Stop once more instant starts than this wait to be expanded (each is a whole state in
    /// memory: about 15 KB with four nodes, so the default holds about 5 GB).
    #[arg(long, default_value_t = 300_000)]
    max_pending: u64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check(args) => check(args),
        Command::Simulate(args) => simulate(args),
        Command::Explore(args) => explore(args),
        Command::Growth(args) => growth(args),
        Command::ExportTraces(args) => export_traces(args),
        Command::Sim(SimCommand::Run(args)) => sim_run(args),
        Command::Sim(SimCommand::Figures(args)) => sim_figures(args),
        Command::Sim(SimCommand::Lifeguard(args)) => sim_lifeguard(args),
        Command::Sim(SimCommand::Zones(args)) => sim_zones(args),
    }
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

fn growth(args: GrowthArgs) -> ExitCode {
    if args.threads == 0 {
        return fail("--threads must be at least 1");
    }
    let chosen = args.world.worlds(std::slice::from_ref(&args.only));
    let Some((label, mut setup)) = chosen.into_iter().next() else {
        return fail(format!("no default world is labelled {}", args.only));
    };
    if let Err(e) = setup.validate() {
        return fail(format!("{label} world: {e}"));
    }
    setup.node_order = true;
    println!(
        "== {label}: {} (levels by time, node order{})",
        setup.describe(),
        if args.symmetry { ", symmetry" } else { "" }
    );
    println!(
        "{:>6} {:>11} {:>12} {:>13} {:>9} {:>11} {:>8}",
        "at ms", "starts", "total", "searched", "per start", "pending", "secs"
    );
    let model = InstantModel::new(SwimModel::new(setup));
    let limits = growth::Limits::new(Duration::from_secs(args.seconds), args.max_pending);
    let start = Instant::now();
    let mut total = 0;
    let result = growth::measure(&model, args.symmetry, args.threads, limits, |level| {
        total += level.starts;
        println!(
            "{:>6} {:>11} {:>12} {:>13} {:>9.1} {:>11} {:>8.1}",
            level.at,
            level.starts,
            total,
            level.searched,
            level.searched as f64 / level.starts.max(1) as f64,
            level.pending,
            start.elapsed().as_secs_f64()
        );
        let _ = std::io::stdout().flush();
    });
    if let Some(cut) = result.cut {
        println!(
            "{:>6} {:>11}  stopped by --max-pending after {} of them",
            cut.at, cut.starts, cut.expanded
        );
    }
    println!(
        "{} levels, {} instant starts, {:.1}s: {}",
        result.levels.len(),
        result.starts(),
        start.elapsed().as_secs_f64(),
        if result.complete {
            "every level expanded"
        } else {
            "stopped by --seconds or --max-pending (later levels not counted)"
        }
    );
    ExitCode::SUCCESS
}

/// Outcome of one exhaustive run.
struct RunResult {
    verdicts: Vec<(&'static str, Verdict)>,
    violation: Option<(&'static str, Trace, Vec<State>)>,
}

fn check(args: CheckArgs) -> ExitCode {
    if args.threads == 0 {
        return fail("--threads must be at least 1");
    }
    if args.worlds_at_once == Some(0) {
        return fail("--worlds-at-once must be at least 1");
    }
    let worlds = args.world.worlds(&args.only);
    if worlds.is_empty() {
        return fail(format!(
            "no default world is labelled {}",
            args.only.join(" or ")
        ));
    }
    #[cfg(swim_faults)]
    let worlds = {
        let mut faults = swim_checked_core::faults::Faults::NONE;
        for name in &args.fault {
            let all = swim_checked_core::faults::Fault::ALL;
            match all.iter().find(|f| format!("{f:?}") == *name) {
                Some(&f) => faults = faults.with(f),
                None => return fail(format!("--fault {name}: no such fault")),
            }
        }
        let mut worlds = worlds;
        for (_, setup) in &mut worlds {
            setup.faults = faults;
        }
        worlds
    };
    for (label, setup) in &worlds {
        if let Err(e) = setup.validate() {
            return fail(format!("{label} world: {e}"));
        }
    }
    let at_once = (args.worlds_at_once)
        .unwrap_or(if args.world.nodes.is_some_and(|n| n >= 4) {
            1
        } else {
            args.threads
        })
        .clamp(1, worlds.len());
    let threads = (args.threads / at_once).max(1);
    let total = Instant::now();
    let results = run_worlds(worlds, &args, at_once, threads);
    let mut table = Vec::new();
    let mut failed = false;
    let mut traces_written = 0;
    for (label, model, result) in results {
        if let Some((name, trace, states)) = &result.violation {
            println!("\ncounterexample to \"{name}\" in the {label} world:");
            print!("{}", report::trace(&model, trace, states));
            // The first counterexample goes to --trace, later ones next to it.
            let path = if traces_written == 0 {
                args.trace.clone()
            } else {
                args.trace
                    .with_extension(format!("{}.json", label.replace(' ', "-")))
            };
            traces_written += 1;
            match std::fs::write(&path, trace.to_json()) {
                Ok(()) => println!("trace written to {}", path.display()),
                Err(e) => eprintln!("could not write {}: {e}", path.display()),
            }
        }
        failed |= result.verdicts.iter().any(|(_, v)| v.is_failure());
        // Every world runs and is reported, even after a failure: a later world's properties
        // say what else is wrong.
        table.push((label, result.verdicts));
    }
    println!("\n{}", report::table(&table));
    for p in properties::PROPERTIES {
        if table
            .iter()
            .any(|(_, v)| v.contains(&(p.name, Verdict::NotFound)))
        {
            println!(
                "note: \"{}\" was never reached, so the safety properties may hold vacuously",
                p.name
            );
        }
    }
    println!("total time {:.1}s", total.elapsed().as_secs_f64());
    if failed {
        let failing: Vec<&str> = (table.iter())
            .filter(|(_, v)| v.iter().any(|(_, v)| v.is_failure()))
            .map(|(label, _)| label.as_str())
            .collect();
        println!("FAILED in: {}", failing.join(", "));
        ExitCode::from(1)
    } else {
        println!("all properties hold");
        ExitCode::SUCCESS
    }
}

/// Check `worlds`, `at_once` of them at a time on `threads` checker threads each, and return
/// their results in the order given (progress lines interleave, each names its world).
fn run_worlds(
    worlds: Vec<(String, Setup)>,
    args: &CheckArgs,
    at_once: usize,
    threads: usize,
) -> Vec<(String, SwimModel, RunResult)> {
    let search = if args.bfs { "bfs" } else { "dfs" };
    let count = worlds.len();
    let queue = Mutex::new(worlds.into_iter().enumerate());
    let done = Mutex::new(Vec::with_capacity(count));
    std::thread::scope(|scope| {
        for _ in 0..at_once {
            scope.spawn(|| {
                loop {
                    let next = queue.lock().expect("no worker panics").next();
                    let Some((index, (label, mut setup))) = next else {
                        return;
                    };
                    setup.node_order = match args.reduce {
                        Some(reduce) => reduce == Reduce::On,
                        None => setup.nodes >= 4,
                    };
                    println!(
                        "== {label}: {} ({search}{}{}, {threads} threads)",
                        setup.describe(),
                        if args.symmetry { ", symmetry" } else { "" },
                        if setup.node_order {
                            ", reduced: node order, instant starts stored"
                        } else {
                            ""
                        },
                    );
                    let model = SwimModel::new(setup);
                    let result = run_checker(model.clone(), args, threads, &label);
                    let mut done = done.lock().expect("no worker panics");
                    done.push((index, label, model, result));
                }
            });
        }
    });
    let mut done = done.into_inner().expect("no worker panics");
    done.sort_by_key(|(index, ..)| *index);
    (done.into_iter())
        .map(|(_, label, model, result)| (label, model, result))
        .collect()
}

/// One world's search: what its progress lines and verdicts name, its share of threads, when
/// it started and how often it reports progress.
struct Run<'a> {
    setup: &'a Setup,
    label: &'a str,
    threads: usize,
    start: Instant,
    every: u64,
}

fn run_checker(model: SwimModel, args: &CheckArgs, threads: usize, label: &str) -> RunResult {
    let setup = model.setup.clone();
    let run = Run {
        setup: &setup,
        label,
        threads,
        start: Instant::now(),
        every: args.progress,
    };
    if !setup.node_order {
        let record = |m: &SwimModel, path: &Path<State, _>| Trace::from_path(m, path);
        return search(model, args, &run, record, &String::new, &Vec::new);
    }
    let model = InstantModel::new(model);
    let inner = model.inner_states.clone();
    let extra = move || format!("  in instants {:>12}", inner.load(Ordering::Relaxed));
    let reached = {
        let model = model.clone();
        move || model.reached_names()
    };
    let record = |m: &InstantModel, path: &Path<State, _>| {
        let init = path.clone().into_states().swap_remove(0);
        let steps = InstantModel::flatten(path.clone().into_actions());
        Trace::record(&m.inner, &init, steps)
    };
    search(model, args, &run, record, &extra, &reached)
}

/// Run the checker on `model` as `run` and `args` ask (threads, early exit, symmetry, BFS or
/// DFS), with progress lines (`extra` adds to them), then collect its verdicts (`reached`:
/// reachability met where the checker does not look) and its counterexample (`record` turns
/// its path into model steps).
fn search<M>(
    model: M,
    args: &CheckArgs,
    run: &Run,
    record: impl Fn(&M, &Path<State, M::Action>) -> (Trace, Vec<State>),
    extra: &dyn Fn() -> String,
    reached: &dyn Fn() -> Vec<&'static str>,
) -> RunResult
where
    M: Model<State = State> + Send + Sync + 'static,
    M::Action: Clone + std::fmt::Debug + std::hash::Hash + PartialEq + Send + Sync,
{
    let mut builder = model
        .checker()
        .threads(run.threads)
        .finish_when(HasDiscoveries::AnyFailures);
    if args.symmetry {
        builder = builder.symmetry();
    }
    if args.bfs {
        finish(builder.spawn_bfs(), run, reached, record, extra)
    } else {
        finish(builder.spawn_dfs(), run, reached, record, extra)
    }
}

/// Print a progress line every `every` seconds until the checker is done.
fn watch<M: Model, C: Checker<M>>(
    checker: &C,
    start: Instant,
    every: u64,
    label: &str,
    extra: &dyn Fn() -> String,
) {
    let mut last = Instant::now();
    while !checker.is_done() {
        std::thread::sleep(Duration::from_millis(50));
        if last.elapsed() >= Duration::from_secs(every.max(1)) {
            last = Instant::now();
            progress_line(checker, start, label, false, extra);
        }
    }
}

fn progress_line<M: Model, C: Checker<M>>(
    checker: &C,
    start: Instant,
    label: &str,
    done: bool,
    extra: &dyn Fn() -> String,
) {
    let secs = start.elapsed().as_secs_f64();
    let states = checker.state_count();
    println!(
        "[{label}] {:>6.1}s  states {:>12}  unique {:>11}  depth {:>4}  {:>9.0} states/s{}{}",
        secs,
        states,
        checker.unique_state_count(),
        checker.max_depth(),
        states as f64 / secs.max(1e-9),
        extra(),
        if done { "  done" } else { "" }
    );
    let _ = std::io::stdout().flush();
}

/// Wait for the spawned `checker`, with progress lines, then return its verdicts
/// (reachability met inside instants, read once it is done, in `reached` too) and the trace of
/// its violation if any (`record` turns the checker's path into model steps).
fn finish<M, C>(
    checker: C,
    run: &Run,
    reached: &dyn Fn() -> Vec<&'static str>,
    record: impl Fn(&M, &Path<State, M::Action>) -> (Trace, Vec<State>),
    extra: &dyn Fn() -> String,
) -> RunResult
where
    M: Model<State = State>,
    M::Action: Clone + PartialEq,
    C: Checker<M>,
{
    watch(&checker, run.start, run.every, run.label, extra);
    let checker = checker.join();
    progress_line(&checker, run.start, run.label, true, extra);
    let discoveries = checker.discoveries();
    let mut names: Vec<&str> = discoveries.keys().copied().collect();
    names.extend(reached());
    let violated = properties::PROPERTIES
        .iter()
        .find(|p| p.kind == Kind::Safety && discoveries.contains_key(p.name));
    let complete = violated.is_none();
    let violation = violated.map(|p| {
        let path = &discoveries[p.name];
        let (mut trace, states) = record(checker.model(), path);
        trace.property = Some(p.name.to_string());
        (p.name, trace, states)
    });
    RunResult {
        verdicts: report::verdicts(run.setup, &names, complete),
        violation,
    }
}

fn simulate(args: SimulateArgs) -> ExitCode {
    let mut setup = Setup::new(5);
    setup.drops = 3;
    setup.duplicates = 2;
    setup.crashes = 2;
    setup.pauses = 2;
    setup.leaves = 1;
    setup.meta_changes = 2;
    setup.horizon = setup.settle() + 20 * setup.core.probe_interval;
    let mut world = args.world.clone();
    world.nodes = world.nodes.or(Some(5));
    let setup = world.apply(setup);
    if let Err(e) = setup.validate() {
        return fail(e);
    }
    if args.walks == 0 || args.depth == 0 {
        return fail("--walks and --depth must be at least 1");
    }
    println!(
        "== simulate: {} walks of at most {} steps, seed {}: {}",
        args.walks,
        args.depth,
        args.seed,
        setup.describe()
    );
    let model = SwimModel::new(setup.clone());
    let start = Instant::now();
    let mut last = Instant::now();
    let result = walk::simulate(&model, args.seed, args.walks, args.depth, |r| {
        if last.elapsed() >= Duration::from_secs(3) {
            last = Instant::now();
            println!(
                "[simulate] {:>6.1}s  walks {:>7}  steps {:>10}  longest {:>5}",
                start.elapsed().as_secs_f64(),
                r.walks,
                r.steps,
                r.longest
            );
        }
    });
    println!(
        "[simulate] {:>6.1}s  walks {:>7}  steps {:>10}  longest {:>5}  finished {}  done",
        start.elapsed().as_secs_f64(),
        result.walks,
        result.steps,
        result.longest,
        result.finished
    );
    let mut names: Vec<&str> = result.violations.keys().copied().collect();
    names.extend(result.discoveries.keys().copied());
    let mut verdicts = report::verdicts(&setup, &names, false);
    // Walks never prove a safety property; they only fail to refute it.
    for (name, v) in &mut verdicts {
        if *v == Verdict::Unknown {
            let kind = properties::info(name).map(|p| p.kind);
            *v = if kind == Some(Kind::Safety) {
                Verdict::Holds
            } else {
                Verdict::NotFound
            };
        }
    }
    if let Some((name, found)) = result.violations.iter().next() {
        let (mut trace, states) = Trace::record(&model, &found.init, found.actions.clone());
        trace.property = Some(name.to_string());
        trace.seed = Some(walk::walk_seed(args.seed, found.walk));
        println!("\ncounterexample to \"{name}\" (walk {}):", found.walk);
        print!("{}", report::trace(&model, &trace, &states));
        match std::fs::write(&args.trace, trace.to_json()) {
            Ok(()) => println!("trace written to {}", args.trace.display()),
            Err(e) => eprintln!("could not write {}: {e}", args.trace.display()),
        }
    }
    println!(
        "\n{}",
        report::table(&[("simulate (no violation found = holds)".into(), verdicts)])
    );
    if result.violations.is_empty() {
        println!("no violation in {} walks", result.walks);
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn sim_run(args: SimRunArgs) -> ExitCode {
    use model::sim::counterexample::Counterexample;
    use model::sim::{Scenario, Simulation};
    let mut scenario = match Scenario::load(&args.scenario) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    if let Some(seed) = args.seed {
        scenario.seed = seed;
    }
    if let Some(n) = args.nodes {
        scenario.nodes = n;
    }
    if let Some(d) = args.duration {
        scenario.duration_s = d;
    }
    let start = Instant::now();
    let mut sim = match Simulation::new(scenario.clone()) {
        Ok(sim) => sim,
        Err(e) => return fail(e),
    };
    sim.progress(args.progress);
    #[cfg(swim_faults)]
    let faults = match model::sim::runner::faults_named(args.fault.as_deref()) {
        Ok(f) => f,
        Err(e) => return fail(e),
    };
    #[cfg(swim_faults)]
    sim.set_faults(faults);
    let outcome = sim.run();
    let wall = start.elapsed().as_secs_f64();
    let json = serde_json::to_string_pretty(&outcome.report).expect("a report serializes");
    println!(
        "== sim {}: {} members (+{} spare), {} s, seed {}",
        scenario.name, scenario.nodes, scenario.spare, scenario.duration_s, scenario.seed
    );
    println!("{json}");
    // Wall-clock figures vary from run to run: standard error, so the output stays the same.
    eprintln!(
        "wall {wall:.1}s, {:.2} simulated s per wall s, {} steps",
        scenario.duration_s / wall.max(1e-9),
        outcome.report.steps
    );
    if let Some(out) = &args.out
        && let Err(e) = std::fs::write(out, json + "\n")
    {
        return fail(format!("{}: {e}", out.display()));
    }
    let Some(found) = outcome.violation else {
        println!("no property violated");
        return ExitCode::SUCCESS;
    };
    println!(
        "violation of \"{}\" by member {} ({}) at {:.6}s, step {}: {}",
        found.violation.property,
        found.member,
        found.id,
        found.at_s,
        found.step,
        found.violation.detail
    );
    // Run the seed again, recording the violating member's steps.
    let mut again = Simulation::new(scenario.clone()).expect("ran once");
    #[cfg(swim_faults)]
    again.set_faults(faults);
    again.record(found.member, found.step);
    let recorded = again.run();
    let cx = Counterexample::new(&scenario, &found, recorded.starts, recorded.trace);
    match std::fs::write(&args.trace, cx.to_json()) {
        Ok(()) => println!(
            "its {} steps written to {}",
            cx.steps.len(),
            args.trace.display()
        ),
        Err(e) => eprintln!("could not write {}: {e}", args.trace.display()),
    }
    ExitCode::from(1)
}

fn sim_figures(args: SimFiguresArgs) -> ExitCode {
    match model::sim::figures::all(&args.out, &args.sizes, args.seed) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

/// The scenario and seeds an experiment runs (`default` when none is named).
fn experiment_setup(
    args: &SimExperimentArgs,
    default: &str,
) -> Result<(model::sim::Scenario, Vec<u64>), String> {
    let path = args
        .scenario
        .clone()
        .unwrap_or_else(|| PathBuf::from(default));
    let mut scenario = model::sim::Scenario::load(&path)?;
    if let Some(n) = args.nodes {
        scenario.nodes = n;
    }
    scenario.validate()?;
    Ok((
        scenario,
        (args.seed..args.seed + args.seeds.max(1)).collect(),
    ))
}

/// Print an experiment's table and write its files as `name.{json,md,svg}`.
fn experiment_done(
    table: String,
    written: Result<(), String>,
    out: &std::path::Path,
    name: &str,
) -> ExitCode {
    print!("{table}");
    match written {
        Ok(()) => {
            println!("written to {}/{name}.{{json,md,svg}}", out.display());
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

fn sim_lifeguard(args: SimExperimentArgs) -> ExitCode {
    use model::sim::lifeguard::{Switches, run};
    let (scenario, seeds) = match experiment_setup(&args, "model/scenarios/lifeguard.toml") {
        Ok(x) => x,
        Err(e) => return fail(e),
    };
    match run(&scenario, &Switches::ALL, &seeds) {
        Ok(x) => experiment_done(x.table(), x.write(&args.out), &args.out, "lifeguard"),
        Err(e) => fail(e),
    }
}

fn sim_zones(args: SimExperimentArgs) -> ExitCode {
    use model::sim::zones::{Selector, run};
    let (scenario, seeds) = match experiment_setup(&args, "model/scenarios/zone-link.toml") {
        Ok(x) => x,
        Err(e) => return fail(e),
    };
    match run(&scenario, &Selector::ALL, &seeds) {
        Ok(x) => experiment_done(x.table(), x.write(&args.out), &args.out, "zones"),
        Err(e) => fail(e),
    }
}

fn explore(args: ExploreArgs) -> ExitCode {
    let setup = args.world.apply(Setup::new(3));
    if let Err(e) = setup.validate() {
        return fail(e);
    }
    // tiny_http panics on a bad address: check it first.
    if let Err(e) = std::net::TcpListener::bind(&args.addr) {
        return fail(format!("cannot serve on {}: {e}", args.addr));
    }
    println!("Explorer for {} on http://{}", setup.describe(), args.addr);
    SwimModel::new(setup).checker().serve(args.addr.as_str());
    ExitCode::SUCCESS
}

fn export_traces(args: ExportArgs) -> ExitCode {
    use model::checker::export;
    let worlds = export::worlds();
    let start = Instant::now();
    for w in &worlds {
        println!("== {}: {}", w.name, w.setup.describe());
    }
    let corpus = export::build(&worlds, args.walks, args.seed, |name, e| {
        println!(
            "[{name}] {:>6.1}s  states {:>10}  transitions {:>11}  depth {:>4}  features {}",
            e.seconds,
            e.states,
            e.transitions,
            e.max_depth,
            e.first.len()
        );
    });
    if let Err(e) = write_corpus(&args.out, &corpus) {
        return fail(format!("{}: {e}", args.out.display()));
    }
    let steps: usize = corpus.traces.iter().map(|t| t.trace.steps.len()).sum();
    let covered: std::collections::BTreeSet<_> =
        corpus.traces.iter().flat_map(|t| &t.covers).collect();
    println!(
        "\n{}\n{} traces, {steps} steps; {} features reached by the exhaustive search and the shell trace, \
         {} covered in all (the rest only by the walks); written to {} in {:.1}s",
        corpus.coverage_table(),
        corpus.traces.len(),
        corpus.reachable.len(),
        covered.len(),
        args.out.display(),
        start.elapsed().as_secs_f64()
    );
    let (uncovered, missing) = (corpus.uncovered(), corpus.missing());
    for f in &uncovered {
        println!("error: reachable but not covered: {f}");
    }
    for f in &missing {
        println!("error: required but never reached: {f}");
    }
    if uncovered.is_empty() && missing.is_empty() {
        println!("every reachable feature is covered");
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Replace the corpus files under `dir` with `corpus`'s.
fn write_corpus(
    dir: &std::path::Path,
    corpus: &model::checker::export::Corpus,
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let numbered = name.len() > 5 && name[..4].bytes().all(|b| b.is_ascii_digit());
        if numbered && name.ends_with(".json") {
            std::fs::remove_file(&path)?;
        }
    }
    for t in &corpus.traces {
        std::fs::write(dir.join(&t.file), t.trace.to_json() + "\n")?;
    }
    Ok(())
}
