//! Application data: five nodes on loopback; each line typed on stdin (or a few canned lines
//! when stdin is not a terminal) is broadcast from one node and printed by every other node as
//! it arrives, then one direct message.
//!
//! ```sh
//! cargo run -p swim-checked --example broadcast
//! ```

use std::io::IsTerminal;
use std::time::Duration;

use swim_checked::{Config, Meta, Node, UserKind};
use tokio::time::Instant;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut nodes = Vec::new();
    for i in 0..5 {
        let node = Node::builder(Config::local())
            .meta(Meta::from_pairs([("name", format!("node-{i}"))]))
            .bind("127.0.0.1:0")
            .await?;
        nodes.push(node);
    }
    let seed = nodes[0].local_addr();
    for node in &nodes[1..] {
        node.join([seed]).await?;
    }
    for node in &nodes {
        node.wait_for(|view| view.live_count() == 5, Duration::from_secs(10))
            .await?;
    }
    println!("five nodes see each other");

    // Every node prints what it receives, and tells `main` it did.
    let start = Instant::now();
    let (got_tx, mut got) = tokio::sync::mpsc::unbounded_channel();
    for (i, node) in nodes.iter().enumerate() {
        let mut inbox = node.messages();
        let names = nodes.clone();
        let got_tx = got_tx.clone();
        tokio::spawn(async move {
            while let Some(message) = inbox.recv().await {
                let from = names
                    .iter()
                    .position(|n| n.id() == message.from)
                    .map_or(message.from.to_string(), |j| format!("node-{j}"));
                let how = match message.kind {
                    UserKind::Broadcast => "broadcast",
                    UserKind::Direct => "direct",
                };
                println!(
                    "{:>7.3}s  node-{i} got {how} from {from}: {}",
                    start.elapsed().as_secs_f64(),
                    String::from_utf8_lossy(&message.payload)
                );
                let _ = got_tx.send(());
            }
        });
    }

    let lines: Vec<String> = if std::io::stdin().is_terminal() {
        println!("type a line to broadcast it from node-0 (empty line to stop)");
        let (tx, mut typed) = tokio::sync::mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in std::io::stdin().lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut lines = Vec::new();
        while let Some(line) = typed.recv().await {
            if line.is_empty() {
                break;
            }
            nodes[0].broadcast(line.clone()).await?;
            lines.push(line);
        }
        lines
    } else {
        let lines = vec!["hello, cluster".to_owned(), "second news".to_owned()];
        for line in &lines {
            nodes[0].broadcast(line.clone()).await?;
        }
        lines
    };
    // The other four each receive every line, then node-4 one direct message.
    let want = 4 * lines.len() + 1;
    nodes[1]
        .send_to(nodes[4].id(), b"just between us".to_vec())
        .await?;
    for _ in 0..want {
        tokio::time::timeout(Duration::from_secs(10), got.recv())
            .await?
            .ok_or("node stopped")?;
    }
    println!("{want} deliveries in {:?}", start.elapsed());
    for node in &nodes {
        node.shutdown().await?;
    }
    Ok(())
}
