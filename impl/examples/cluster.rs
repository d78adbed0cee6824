//! N nodes in one process on loopback: watch them find each other, detect a crash, and see a
//! graceful departure.
//!
//! ```sh
//! cargo run -p swim-checked --example cluster -- 5
//! ```

use std::collections::BTreeSet;
use std::time::Duration;

use swim_checked::{Config, EventKind, Meta, Node, NodeId, Status};
use tokio::sync::mpsc;
use tokio::time::Instant;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(5)
        .max(3);
    let config = Config::local();
    let start = Instant::now();

    // Start the nodes, each with a name, and forward all their events to one channel.
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut nodes = Vec::new();
    for i in 0..n {
        let node = Node::builder(config.clone())
            .meta(Meta::from_pairs([("name", format!("node-{i}"))]))
            .bind("127.0.0.1:0")
            .await?;
        println!("node-{i}: id {} on {}", node.id(), node.local_addr());
        let mut events = node.subscribe();
        let tx = tx.clone();
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                let _ = tx.send((i, event));
            }
        });
        nodes.push(node);
    }
    let name = |id: NodeId, nodes: &[Node]| {
        nodes
            .iter()
            .position(|n| n.id() == id)
            .map_or(id.to_string(), |i| format!("node-{i}"))
    };

    // Everyone joins through node-0.
    let seed = nodes[0].local_addr();
    for node in &nodes[1..] {
        node.join([seed]).await?;
    }
    let all: BTreeSet<NodeId> = nodes.iter().map(|n| n.id()).collect();
    wait(&mut rx, &nodes, start, |nodes| {
        nodes.iter().all(|node| {
            let alive: BTreeSet<NodeId> = node
                .live_members()
                .iter()
                .filter(|m| m.status == Status::Alive)
                .map(|m| m.id)
                .collect();
            alive == all
        })
    })
    .await;
    println!(
        "--- converged: {n} nodes see each other ({:?})",
        start.elapsed()
    );

    // Crash the last node: no goodbye. The others suspect it, then declare it dead.
    let victim = nodes[n - 1].id();
    println!("--- crashing {}", name(victim, &nodes));
    nodes[n - 1].abort();
    let crashed = Instant::now();
    wait(&mut rx, &nodes, start, |nodes| {
        nodes[..n - 1]
            .iter()
            .all(|node| node.status_of(victim) == Some(Status::Dead))
    })
    .await;
    println!(
        "--- every survivor holds it dead {:?} after the crash",
        crashed.elapsed()
    );

    // A graceful leave: seen as left, not dead.
    let leaver = nodes[n - 2].id();
    println!("--- {} leaves gracefully", name(leaver, &nodes));
    nodes[n - 2].leave().await?;
    wait(&mut rx, &nodes, start, |nodes| {
        nodes[..n - 2]
            .iter()
            .all(|node| node.status_of(leaver) == Some(Status::Left))
    })
    .await;
    for (i, node) in nodes.iter().enumerate().take(n - 2) {
        let s = node.stats();
        println!(
            "node-{i}: {} datagrams out ({} bytes), {} in, {} probes ({} failed), LHM {}",
            s.datagrams_out, s.bytes_out, s.datagrams_in, s.probes_sent, s.probes_failed, s.health
        );
    }
    for node in &nodes[..n - 1] {
        node.shutdown().await?;
    }
    Ok(())
}

/// Print events as they come until `done` holds (or 30 s pass).
async fn wait(
    rx: &mut mpsc::UnboundedReceiver<(usize, swim_checked::MemberEvent)>,
    nodes: &[Node],
    start: Instant,
    done: impl Fn(&[Node]) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done(nodes) {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some((i, event))) => {
                let who = event
                    .member
                    .meta
                    .get("name")
                    .map(str::to_owned)
                    .unwrap_or_else(|| event.member.id.to_string());
                let what = match event.kind() {
                    EventKind::Joined => "joined",
                    EventKind::Suspect => "is suspect",
                    EventKind::Unreachable => "is unreachable",
                    EventKind::AliveAgain => "is alive again",
                    EventKind::Dead => "is dead",
                    EventKind::Left => "left",
                    EventKind::MetadataChanged => "changed its metadata",
                    EventKind::Restarted => "restarted",
                };
                println!(
                    "{:>7.3}s  node-{i}: {who} {what} (incarnation {})",
                    start.elapsed().as_secs_f64(),
                    event.member.incarnation
                );
            }
            _ => {
                println!("gave up waiting");
                return;
            }
        }
    }
}
