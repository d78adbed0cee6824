//! Watching the view: one node prints its view each time it changes while four others join,
//! one changes its metadata, one leaves and one crashes.
//!
//! ```sh
//! cargo run -p swim-checked --example watch
//! ```

use std::time::Duration;

use swim_checked::{Config, Meta, Node, View};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::local();
    let watcher = Node::builder(config.clone())
        .meta(Meta::from_pairs([("name", "watcher")]))
        .bind("127.0.0.1:0")
        .await?;

    // The current view at once, then every change (a slow reader skips to the latest).
    let mut view = watcher.watch();
    let printer = tokio::spawn(async move {
        loop {
            print(&view.borrow_and_update());
            if view.changed().await.is_err() {
                break;
            }
        }
    });

    let mut others = Vec::new();
    for i in 1..=4 {
        let node = Node::builder(config.clone())
            .meta(Meta::from_pairs([("name", format!("node-{i}"))]))
            .bind("127.0.0.1:0")
            .await?;
        node.join([watcher.local_addr()]).await?;
        others.push(node);
    }
    let ten = Duration::from_secs(10);
    watcher.wait_for(|v| v.live_count() == 5, ten).await?;

    others[0].set_meta_key("role", "leader").await?;
    let leader = others[0].id();
    watcher
        .wait_for(
            |v| v.get(leader).is_some_and(|m| m.meta.get("role").is_some()),
            ten,
        )
        .await?;

    others[1].leave().await?;
    others[2].abort();
    let crashed = others[2].id();
    watcher
        .wait_for(
            |v| v.live_count() == 3 && v.get(crashed).is_some_and(|m| m.status.is_terminal()),
            ten,
        )
        .await?;

    watcher.shutdown().await?;
    printer.abort();
    for node in [&others[0], &others[1], &others[3]] {
        node.shutdown().await?;
    }
    Ok(())
}

fn print(view: &View) {
    let members: Vec<String> = view
        .members()
        .iter()
        .map(|m| {
            let name = m.meta.get("name").unwrap_or("?");
            let role = m
                .meta
                .get("role")
                .map(|r| format!(" ({r})"))
                .unwrap_or_default();
            format!("{name}{role}: {:?}", m.status)
        })
        .collect();
    println!("{} live | {}", view.live_count(), members.join(", "));
}
