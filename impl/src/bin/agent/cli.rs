//! The command line: `run` starts an agent; `members`, `events` and `broadcast` talk to a
//! running agent over its HTTP API.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Where an agent's HTTP API listens unless told otherwise (loopback only).
pub const DEFAULT_HTTP: &str = "127.0.0.1:8946";

/// A SWIM + Lifeguard cluster member with an HTTP API, a live dashboard and Prometheus metrics.
#[derive(Debug, Parser)]
#[command(name = "swim-agent", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a cluster member (flags override the config file).
    Run(Box<RunArgs>),
    /// Print the members a running agent knows.
    Members {
        #[command(flatten)]
        client: ClientArgs,
        /// Print the JSON the API returns.
        #[arg(long)]
        json: bool,
    },
    /// Follow a running agent's member events and received messages (one line each).
    Events {
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Broadcast TEXT to every member through a running agent.
    Broadcast {
        #[command(flatten)]
        client: ClientArgs,
        /// The text to broadcast.
        text: String,
    },
    /// Print a fresh random key in base64, for a key file.
    Keygen,
}

/// Which agent a client subcommand talks to.
#[derive(Debug, Args)]
pub struct ClientArgs {
    /// The agent's HTTP address, `host:port`.
    #[arg(long, default_value = DEFAULT_HTTP)]
    pub http: String,
}

/// Flags of `run`; each one given overrides the config file.
#[derive(Debug, Default, Args)]
pub struct RunArgs {
    /// TOML config file (see docs/agent.md).
    #[arg(long, short = 'c')]
    pub config: Option<PathBuf>,
    /// UDP address to listen on, `host:port` (port 0: any free port) [default: 127.0.0.1:7946].
    #[arg(long)]
    pub bind: Option<String>,
    /// Address peers should use, when it differs from --bind (required with 0.0.0.0).
    #[arg(long)]
    pub advertise: Option<std::net::SocketAddr>,
    /// Seed to join through, `host:port` (repeatable, or comma-separated).
    #[arg(long = "seed", visible_alias = "seeds", value_delimiter = ',')]
    pub seeds: Vec<String>,
    /// A human name, carried as metadata `name`.
    #[arg(long)]
    pub name: Option<String>,
    /// A zone (rack, availability zone), carried as metadata `zone`.
    #[arg(long)]
    pub zone: Option<String>,
    /// Metadata `key=value` (repeatable).
    #[arg(long = "meta", value_parser = parse_pair)]
    pub meta: Vec<(String, String)>,
    /// Timing preset; the config file's `[protocol]` table overrides its fields [default: lan].
    #[arg(long, value_enum)]
    pub preset: Option<Preset>,
    /// Cluster label: datagrams of other clusters are dropped.
    #[arg(long)]
    pub label: Option<String>,
    /// File of base64 keys, one a line, the first one primary: datagrams are sealed.
    #[arg(long)]
    pub key_file: Option<PathBuf>,
    /// HTTP address of the API, dashboard and /metrics (port 0: any free port)
    /// [default: 127.0.0.1:8946].
    #[arg(long)]
    pub http: Option<String>,
    /// Testing knob: drop each outgoing datagram with probability P (0.0..=1.0), to try a
    /// cluster on a lossy network where netem is not available.
    #[arg(long, value_name = "P", value_parser = parse_loss)]
    pub loss: Option<f64>,
    /// Seed of the --loss draws [default: derived from the bind address].
    #[arg(long, value_name = "N", requires = "loss")]
    pub loss_seed: Option<u64>,
    /// Write every transition of the node to FILE, one JSON line each, to check the run
    /// against the model afterwards (`conformance::validate`); time is then the wall clock in
    /// milliseconds since the Unix epoch.
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
}

/// Timing presets (`swim_checked::Config::lan`, `wan`, `local`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// 1 s probes (memberlist's LAN defaults).
    #[default]
    Lan,
    /// 5 s probes (memberlist's WAN defaults).
    Wan,
    /// 200 ms probes, for one host.
    Local,
}

impl Preset {
    pub fn config(self) -> swim_checked::Config {
        match self {
            Preset::Lan => swim_checked::Config::lan(),
            Preset::Wan => swim_checked::Config::wan(),
            Preset::Local => swim_checked::Config::local(),
        }
    }
}

fn parse_pair(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("expected key=value, got {s:?}"))?;
    if k.is_empty() {
        return Err(format!("empty key in {s:?}"));
    }
    Ok((k.to_owned(), v.to_owned()))
}

/// A probability for `--loss`; clap names the flag in its error.
fn parse_loss(s: &str) -> Result<f64, String> {
    let p: f64 = s
        .parse()
        .map_err(|_| format!("expected a probability from 0.0 to 1.0, got {s:?}"))?;
    if !(0.0..=1.0).contains(&p) {
        return Err(format!("{p} is not a probability from 0.0 to 1.0"));
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn run_flags_parse() {
        let cli = Cli::try_parse_from([
            "swim-agent",
            "run",
            "--bind",
            "127.0.0.1:0",
            "--seed",
            "a:1,b:2",
            "--seed",
            "c:3",
            "--meta",
            "role=db",
            "--preset",
            "local",
            "--name",
            "n1",
            "--record",
            "/tmp/n1.jsonl",
        ])
        .unwrap();
        let Command::Run(run) = cli.command else {
            panic!("not run")
        };
        assert_eq!(run.seeds, ["a:1", "b:2", "c:3"]);
        assert_eq!(run.meta, [("role".to_owned(), "db".to_owned())]);
        assert_eq!(run.preset, Some(Preset::Local));
        assert_eq!(run.record, Some(PathBuf::from("/tmp/n1.jsonl")));
    }

    #[test]
    fn bad_metadata_is_refused() {
        let err = Cli::try_parse_from(["swim-agent", "run", "--meta", "role"]).unwrap_err();
        assert!(err.to_string().contains("expected key=value"), "{err}");
    }

    #[test]
    fn loss_is_a_probability() {
        // `--loss=P`: a negative value is not taken for a flag.
        let run =
            |loss: &str| Cli::try_parse_from(["swim-agent", "run", &format!("--loss={loss}")]);
        let Command::Run(args) = run("0.3").unwrap().command else {
            panic!("not run")
        };
        assert_eq!(args.loss, Some(0.3));
        for bad in ["1.5", "-0.1", "lots", "NaN"] {
            let err = run(bad).unwrap_err().to_string();
            assert!(
                err.contains("--loss") && err.contains("probability"),
                "{err}"
            );
        }
        let err = Cli::try_parse_from(["swim-agent", "run", "--loss-seed", "7"]).unwrap_err();
        assert!(err.to_string().contains("--loss"), "{err}");
    }
}
