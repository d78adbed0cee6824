//! Side-by-side cluster benchmark: the same scenarios on swim-checked, foca and (where Go and
//! Debian's memberlist sources are installed) memberlist, plus the syscall floor at idle.
//!
//! ```sh
//! cargo run --release -p peers -- all                  # every scenario, default sizes
//! cargo run --release -p peers -- detect --reps 3      # one scenario, fewer repetitions
//! cargo run --release -p peers -- idle --n 50 --duration 2 --reps 1   # a smoke run
//! cargo run --release -p peers -- idle --libs swim-checked,swim-checked+key,foca  # sealed too
//! ```
//!
//! Every repetition of every library runs in a fresh process of this binary (`--child`), so
//! the libraries share no allocator, runtime or heap history; memberlist runs in its own Go
//! process. Repetitions interleave the libraries (A B C A B C ...) so drift on the machine hits
//! all alike. Each scenario prints one JSON line per library: the median, min, max and every
//! value of each figure, and the ratios of its medians and maxima to swim-checked's in the
//! same run (and, at idle, its CPU against the floor's).

mod cluster;
mod floor;
mod foca_udp;
mod measure;
// The /proc reading and rounding of the library's cluster bench: one copy for both.
mod memberlist;
#[path = "../../benches/cluster/process_stats.rs"]
mod process_stats;
mod swim;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use clap::Parser;
use serde_json::{Map, Value, json};

use cluster::Rep;
use measure::{columns, ratios, summary};
use process_stats::round;

const SWIM: &str = "swim-checked";
/// swim-checked with every datagram sealed (one random key).
const SWIM_KEYED: &str = "swim-checked+key";
const FOCA: &str = "foca";
const MEMBERLIST: &str = "memberlist";
const FLOOR: &str = "floor";

#[derive(Debug, Parser)]
#[command(about = "Cluster scenarios on swim-checked, foca and memberlist, side by side")]
struct Args {
    /// Scenarios: detect, loss, idle, join or all.
    #[arg(default_values_t = ["all".to_string()])]
    scenarios: Vec<String>,
    /// Repetitions per library (default: detect 10, join 5, loss 3, idle 3).
    #[arg(long)]
    reps: Option<usize>,
    /// Cluster size for every scenario run (default: detect 20, loss 20, idle 200 and 1000,
    /// join 100).
    #[arg(long)]
    n: Option<usize>,
    /// Measured seconds of loss (default 60) and idle (default 30); for detect, how long to
    /// wait for every survivor's verdict (default 30).
    #[arg(long)]
    duration: Option<f64>,
    /// Send-loss probabilities of the loss scenario.
    #[arg(long, value_delimiter = ',', default_values_t = [0.10, 0.30])]
    loss: Vec<f64>,
    /// Libraries to run, in the order each round runs them (`swim-checked+key`: with every
    /// datagram sealed).
    #[arg(long, value_delimiter = ',', default_values_t = [SWIM.to_string(), FOCA.to_string(), MEMBERLIST.to_string()])]
    libs: Vec<String>,
    /// tokio worker threads of each Rust process (memberlist: GOMAXPROCS).
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Internal: run one repetition of this library and print its figures.
    #[arg(long, hide = true)]
    child: Option<String>,
    /// Internal: the scenario of a `--child` run.
    #[arg(long, hide = true)]
    scenario: Option<String>,
    /// Internal: the index of a `--child` repetition.
    #[arg(long, hide = true, default_value_t = 0)]
    rep: usize,
    /// Internal: datagrams per node per second the floor sends.
    #[arg(long, hide = true, default_value_t = 10.0)]
    floor_rate: f64,
    /// Internal: bytes per datagram the floor sends.
    #[arg(long, hide = true, default_value_t = 27)]
    floor_bytes: usize,
}

fn main() {
    let args = Args::parse();
    if let Some(lib) = &args.child {
        std::process::exit(child(lib, &args));
    }
    let all = args.scenarios.iter().any(|s| s == "all");
    let wants = |s: &str| all || args.scenarios.iter().any(|x| x == s);
    for s in &args.scenarios {
        if !["all", "detect", "loss", "idle", "join"].contains(&s.as_str()) {
            eprintln!("unknown scenario {s} (detect, loss, idle, join or all)");
            std::process::exit(2);
        }
    }
    let memberlist = if args.libs.iter().any(|l| l == MEMBERLIST) {
        match memberlist::build() {
            Ok(path) => Some(path),
            Err(why) => {
                eprintln!("peers: skipping memberlist: {why}");
                None
            }
        }
    } else {
        None
    };
    let libs: Vec<&str> = (args.libs.iter().map(String::as_str))
        .filter(|l| *l != MEMBERLIST || memberlist.is_some())
        .collect();
    let run = Runner {
        args: &args,
        libs,
        memberlist,
    };
    if wants("detect") {
        let secs = args.duration.unwrap_or(30.0);
        run.scenario(
            "detect",
            args.n.unwrap_or(20),
            secs,
            0.0,
            args.reps.unwrap_or(10),
        );
    }
    if wants("loss") {
        for &p in &args.loss {
            let secs = args.duration.unwrap_or(60.0);
            run.scenario(
                "loss",
                args.n.unwrap_or(20),
                secs,
                p,
                args.reps.unwrap_or(3),
            );
        }
    }
    if wants("idle") {
        let sizes = args.n.map_or(vec![200, 1000], |n| vec![n]);
        for n in sizes {
            run.scenario(
                "idle",
                n,
                args.duration.unwrap_or(30.0),
                0.0,
                args.reps.unwrap_or(3),
            );
        }
    }
    if wants("join") {
        run.scenario(
            "join",
            args.n.unwrap_or(100),
            0.0,
            0.0,
            args.reps.unwrap_or(5),
        );
    }
}

/// A `--child` process: one repetition of one library; its figures on stdout as one JSON
/// object; the exit status says whether it worked.
fn child(lib: &str, args: &Args) -> i32 {
    let rep = Rep {
        scenario: args.scenario.clone().unwrap_or_default(),
        n: args.n.unwrap_or(20).max(2),
        secs: args.duration.unwrap_or(30.0),
        loss: args.loss.first().copied().unwrap_or(0.0),
        index: args.rep,
    };
    let _ = floor::SHAPE.set(floor::Shape {
        rate: args.floor_rate,
        bytes: args.floor_bytes,
    });
    let runtime = if args.threads == 0 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()
    }
    .expect("a tokio runtime");
    let result = runtime.block_on(async {
        match lib {
            SWIM => cluster::run::<swim::Swim<false>>(&rep).await,
            SWIM_KEYED => cluster::run::<swim::Swim<true>>(&rep).await,
            FOCA => cluster::run::<foca_udp::FocaCluster>(&rep).await,
            FLOOR if rep.scenario == "idle" => cluster::run::<floor::Floor>(&rep).await,
            other => Err(format!("no Rust driver for {other} in {}", rep.scenario)),
        }
    });
    // Do not wait for tasks stuck in a blocking call: the figures are out.
    runtime.shutdown_background();
    match result {
        Ok(figures) => {
            println!("{}", Value::Object(figures));
            0
        }
        Err(why) => {
            eprintln!("peers --child {lib}: {why}");
            1
        }
    }
}

struct Runner<'a> {
    args: &'a Args,
    libs: Vec<&'a str>,
    memberlist: Option<PathBuf>,
}

impl Runner<'_> {
    /// `reps` interleaved rounds of every library (and the floor after swim-checked at
    /// idle), then one JSON line per library.
    fn scenario(&self, scenario: &str, n: usize, secs: f64, loss: f64, reps: usize) {
        let mut order: Vec<&str> = self.libs.clone();
        if scenario == "idle" {
            order.push(FLOOR);
        }
        let mut results: BTreeMap<&str, Vec<Map<String, Value>>> = BTreeMap::new();
        let mut failed: BTreeMap<&str, usize> = BTreeMap::new();
        for index in 0..reps {
            // The floor copies the rate and size swim-checked just measured.
            let mut shape = (self.args.floor_rate, self.args.floor_bytes);
            for &lib in &order {
                match self.one(lib, scenario, n, secs, loss, index, shape) {
                    Ok(figures) => {
                        if lib == SWIM && scenario == "idle" {
                            let get = |k: &str| figures.get(k).and_then(Value::as_f64);
                            if let (Some(rate), Some(bytes)) =
                                (get("datagrams_per_node_s"), get("bytes_per_datagram"))
                            {
                                shape = (rate, bytes.round() as usize);
                            }
                        }
                        results.entry(lib).or_default().push(figures);
                    }
                    Err(why) => {
                        eprintln!("peers: {scenario} n={n} {lib} rep {index}: {why}");
                        *failed.entry(lib).or_default() += 1;
                    }
                }
            }
        }
        let summaries: BTreeMap<&str, Map<String, Value>> = (results.iter())
            .map(|(lib, reps)| {
                let cols = columns(reps);
                (
                    *lib,
                    cols.iter().map(|(k, v)| (k.clone(), summary(v))).collect(),
                )
            })
            .collect();
        for &lib in &order {
            let metrics = summaries.get(lib).cloned().unwrap_or_default();
            let mut line = json!({
                "scenario": scenario,
                "lib": lib,
                "n": n,
                "reps": results.get(lib).map_or(0, Vec::len),
                "failed_reps": failed.get(lib).copied().unwrap_or(0),
            });
            match scenario {
                "loss" => {
                    line["secs"] = json!(secs);
                    line["send_loss"] = json!(loss);
                }
                "idle" => line["secs"] = json!(secs),
                _ => {}
            }
            if lib != SWIM
                && let Some(base) = summaries.get(SWIM)
            {
                line["ratio_to_swim_checked"] = ratios(&metrics, base);
            }
            if scenario == "idle"
                && lib != FLOOR
                && let Some(floor) = summaries.get(FLOOR)
            {
                let cpu =
                    |m: &Map<String, Value>| m.get("cpu_s_per_node_s").map(|s| s["median"].clone());
                if let (Some(Value::Number(x)), Some(Value::Number(y))) =
                    (cpu(&metrics), cpu(floor))
                    && let (Some(x), Some(y)) = (x.as_f64(), y.as_f64())
                    && y > 0.0
                {
                    line["cpu_ratio_to_floor"] = json!(round(x / y));
                }
            }
            line["metrics"] = Value::Object(metrics);
            println!("{line}");
        }
    }

    /// One repetition of one library in a process of its own.
    #[allow(clippy::too_many_arguments)]
    fn one(
        &self,
        lib: &str,
        scenario: &str,
        n: usize,
        secs: f64,
        loss: f64,
        index: usize,
        shape: (f64, usize),
    ) -> Result<Map<String, Value>, String> {
        let mut cmd = if lib == MEMBERLIST {
            let path = self
                .memberlist
                .as_ref()
                .ok_or("memberlist harness not built")?;
            Command::new(path)
        } else {
            let mut cmd = Command::new(std::env::current_exe().map_err(|e| e.to_string())?);
            cmd.args(["--child", lib]);
            cmd
        };
        cmd.args(["--scenario", scenario])
            .args(["--n", &n.to_string()])
            .args(["--duration", &secs.to_string()])
            .args(["--loss", &loss.to_string()])
            .args(["--rep", &index.to_string()])
            .args(["--threads", &self.args.threads.to_string()])
            .args(["--floor-rate", &shape.0.to_string()])
            .args(["--floor-bytes", &shape.1.to_string()]);
        let output = cmd.output().map_err(|e| format!("spawn: {e}"))?;
        if !output.status.success() {
            return Err(String::from_utf8_lossy(&output.stderr).trim().to_string());
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        let line = stdout.lines().last().unwrap_or("");
        match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(figures)) => Ok(figures),
            _ => Err(format!("not a JSON object: {line:?}")),
        }
    }
}
