//! `sim-replay`: replay the member of a simulator counterexample (`model sim run` writes
//! `sim-counterexample.json`) against a real `swim-checked` node on loopback UDP.
//!
//! ```text
//! cargo run --release -p conformance --bin sim-replay -- sim-counterexample.json
//! ```
//!
//! Exit 0: the node took every recorded step as the simulator's core did; 1: the first
//! divergence, printed; 2: the file could not be read or replayed. Built with
//! `RUSTFLAGS="--cfg swim_faults"`, `--fault NAME` runs the node with the broken core the
//! counterexample was found with (`model sim run --fault NAME`), which must replay clean.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use conformance::Options;
use conformance::corpus::runtime;
use conformance::sim_replay::replay_counterexample;
use model::sim::counterexample::Counterexample;

#[derive(Parser, Debug)]
#[command(
    name = "sim-replay",
    about = "Replay a simulator counterexample's member against a real swim-checked node."
)]
struct Cli {
    /// The counterexample (JSON, as `model sim run` writes it).
    #[arg(default_value = "sim-counterexample.json")]
    counterexample: PathBuf,
    /// Longest wait for the node to react, in seconds.
    #[arg(long, default_value_t = 20)]
    timeout_s: u64,
    /// Run the node's core with this deliberate bug (a `Fault` name, e.g. `MergeRevivesDead`).
    #[cfg(swim_faults)]
    #[arg(long)]
    fault: Option<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let name = cli.counterexample.display().to_string();
    let cx: Counterexample = match std::fs::read_to_string(&cli.counterexample)
        .map_err(|e| e.to_string())
        .and_then(|text| serde_json::from_str(&text).map_err(|e| e.to_string()))
    {
        Ok(cx) => cx,
        Err(e) => {
            eprintln!("{name}: {e}");
            return ExitCode::from(2);
        }
    };
    let timeout = Duration::from_secs(cli.timeout_s);
    #[cfg(not(swim_faults))]
    let opts = Options {
        timeout,
        ..Options::default()
    };
    #[cfg(swim_faults)]
    let opts = match model::sim::runner::faults_named(cli.fault.as_deref()) {
        Ok(core_faults) => Options {
            timeout,
            core_faults,
            ..Options::default()
        },
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    println!(
        "{name}: \"{}\" broken by member {} ({}) at {:.6}s of scenario {} (seed {}); {} steps",
        cx.property,
        cx.member,
        cx.id,
        cx.at_s,
        cx.scenario.name,
        cx.scenario.seed,
        cx.steps.len()
    );
    match runtime().block_on(replay_counterexample(&name, &cx, &opts)) {
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
        Ok(Ok(done)) => {
            println!(
                "no divergence: {} steps compared, {} datagrams delivered, {} read",
                done.steps, done.delivered, done.sent
            );
            ExitCode::SUCCESS
        }
        Ok(Err(divergence)) => {
            println!("{divergence}");
            ExitCode::from(1)
        }
    }
}
