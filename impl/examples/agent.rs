//! One cluster member from the command line: prints its events and the membership table
//! whenever it changes.
//!
//! ```sh
//! # three terminals:
//! cargo run -p swim-checked --example agent -- --bind 127.0.0.1:7946 --name a
//! cargo run -p swim-checked --example agent -- --bind 127.0.0.1:7947 --name b --join 127.0.0.1:7946
//! cargo run -p swim-checked --example agent -- --bind 127.0.0.1:7948 --name c --join localhost:7946 --meta role=db
//! ```
//!
//! Kill one (Ctrl-\ or `kill -9`) and the others report it suspect, then dead. Ctrl-C leaves
//! gracefully: the others report it left. Logs go to stderr (`RUST_LOG=swim_checked=debug`).

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use swim_checked::{Config, EventKind, Member, MemberEvent, Meta, Node, Phase, Status};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Preset {
    /// 1 s probes (memberlist's LAN defaults).
    Lan,
    /// 5 s probes (memberlist's WAN defaults).
    Wan,
    /// 200 ms probes, for one host.
    Local,
}

/// A SWIM + Lifeguard cluster member.
#[derive(Debug, Parser)]
#[command(name = "agent")]
struct Args {
    /// UDP address to listen on (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:7946")]
    bind: String,
    /// Address peers should use, when it differs from --bind (required with 0.0.0.0).
    #[arg(long)]
    advertise: Option<SocketAddr>,
    /// Seed to join through, `host:port` (repeatable).
    #[arg(long)]
    join: Vec<String>,
    /// Metadata `key=value` (repeatable).
    #[arg(long, value_parser = parse_pair)]
    meta: Vec<(String, String)>,
    /// A human name, carried as metadata `name`.
    #[arg(long)]
    name: Option<String>,
    /// Timing preset.
    #[arg(long, value_enum, default_value = "lan")]
    preset: Preset,
    /// Cluster label: datagrams of other clusters are dropped.
    #[arg(long, default_value = "")]
    label: String,
}

fn parse_pair(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("expected key=value, got {s:?}"))?;
    Ok((k.to_owned(), v.to_owned()))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let config = Config {
        label: args.label.clone(),
        ..match args.preset {
            Preset::Lan => Config::lan(),
            Preset::Wan => Config::wan(),
            Preset::Local => Config::local(),
        }
    };
    let mut pairs = args.meta.clone();
    if let Some(name) = &args.name {
        pairs.push(("name".into(), name.clone()));
    }
    let mut builder = Node::builder(config).meta(Meta::from_pairs(pairs));
    if let Some(addr) = args.advertise {
        builder = builder.advertise(addr);
    }
    let node = builder.bind(args.bind.as_str()).await?;
    let mut events = node.subscribe();
    println!("started id={} addr={}", node.id(), node.local_addr());
    print_table(&node);

    if !args.join.is_empty() {
        let joiner = node.clone();
        let seeds = args.join.clone();
        tokio::spawn(async move {
            match joiner.join(&seeds).await {
                Ok(joined) => println!(
                    "joined via {:?} ({} members known)",
                    joined.seeds, joined.members
                ),
                Err(e) => println!("join failed: {e}"),
            }
        });
    }

    let stop = shutdown_signal();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            event = events.recv() => {
                let Some(event) = event else { break };
                print_event(&event);
                while let Some(event) = events.try_recv() {
                    print_event(&event);
                }
                if node.phase() == Phase::Removed {
                    // Declared dead (a long pause, a partition): come back under a new id.
                    let id = node.rejoin().await?;
                    println!("removed from the cluster: rejoined as id={id}");
                }
                print_table(&node);
            }
            () = &mut stop => {
                println!("leaving");
                if let Err(e) = tokio::time::timeout(Duration::from_secs(20), node.leave()).await {
                    println!("leave timed out: {e}");
                }
                node.shutdown().await?;
                println!("left");
                break;
            }
        }
    }
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).unwrap();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn kind(kind: EventKind) -> &'static str {
    match kind {
        EventKind::Joined => "joined",
        EventKind::Suspect => "suspect",
        EventKind::Unreachable => "unreachable",
        EventKind::AliveAgain => "alive_again",
        EventKind::Dead => "dead",
        EventKind::Left => "left",
        EventKind::MetadataChanged => "metadata_changed",
    }
}

fn print_event(event: &MemberEvent) {
    let m = &event.member;
    println!(
        "event kind={} id={} addr={} incarnation={} name={}",
        kind(event.kind()),
        m.id,
        m.addr,
        m.incarnation,
        m.meta.get("name").unwrap_or("-"),
    );
}

fn meta_string(m: &Member) -> String {
    let pairs: Vec<String> = m
        .meta
        .iter()
        .filter(|(k, _)| *k != "name")
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    if pairs.is_empty() {
        "-".into()
    } else {
        pairs.join(",")
    }
}

fn print_table(node: &Node) {
    let members = node.members();
    let count = |s: &[Status]| members.iter().filter(|m| s.contains(&m.status)).count();
    let me = node.id();
    let mut out = format!(
        "membership: {} alive, {} suspect, {} dead or left\n  {:<12} {:<16} {:<21} {:<11} {:>4}  META\n",
        count(&[Status::Alive]),
        count(&[Status::Suspect, Status::Unreachable]),
        count(&[Status::Dead, Status::Left]),
        "NAME",
        "ID",
        "ADDR",
        "STATUS",
        "INC",
    );
    for m in &members {
        out.push_str(&format!(
            "{} {:<12} {:<16} {:<21} {:<11} {:>4}  {}\n",
            if m.id == me { "*" } else { " " },
            m.meta.get("name").unwrap_or("-"),
            m.id.to_string(),
            m.addr.to_string(),
            m.status.name(),
            m.incarnation,
            meta_string(m),
        ));
    }
    print!("{out}");
}
