//! Helpers shared by the integration tests: start loopback clusters and wait on events.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::time::Duration;

use swim_checked::{Config, Events, Member, MemberEvent, Node, NodeId, Status};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Generous bound for anything that should take a few protocol periods.
pub const SOON: Duration = Duration::from_secs(20);

/// Wait until `cond(node)` holds, re-checking after each of the node's events (no polling).
/// `events` must have been subscribed before the condition could have become true.
pub async fn wait_for(
    node: &Node,
    events: &mut Events,
    within: Duration,
    what: &str,
    mut cond: impl FnMut(&Node) -> bool,
) {
    let deadline = Instant::now() + within;
    loop {
        if cond(node) {
            return;
        }
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(_)) => {}
            Ok(None) => panic!("node {} stopped while waiting for {what}", node.id()),
            Err(_) => panic!(
                "timed out after {within:?} waiting for {what} at node {}: view {:#?}",
                node.id(),
                node.members()
            ),
        }
    }
}

/// Whether `node` holds exactly `ids` alive (and nobody else alive or suspect).
pub fn sees_alive(node: &Node, ids: &BTreeSet<NodeId>) -> bool {
    let live: BTreeSet<NodeId> = node.live_members().iter().map(|m| m.id).collect();
    let all_alive = node
        .live_members()
        .iter()
        .all(|m| m.status == Status::Alive);
    all_alive && &live == ids
}

/// A cluster of nodes on loopback, each with its event stream (subscribed before joining).
pub struct Cluster {
    pub nodes: Vec<Node>,
    pub events: Vec<Events>,
}

impl Cluster {
    /// Start `n` nodes with `config` on 127.0.0.1, join them all through the first, and wait
    /// until every node holds all of them alive.
    pub async fn start(n: usize, config: impl Into<Config>) -> Cluster {
        Cluster::start_in_zones(n, config, &[]).await
    }

    /// As [`Cluster::start`], node `i` in zone `zones[i % zones.len()]` (none if empty).
    pub async fn start_in_zones(n: usize, config: impl Into<Config>, zones: &[&str]) -> Cluster {
        let config: Config = config.into();
        let mut nodes = Vec::new();
        let mut events = Vec::new();
        for i in 0..n {
            let mut builder = Node::builder(config.clone());
            if !zones.is_empty() {
                builder = builder.zone(zones[i % zones.len()]);
            }
            let node = builder.bind("127.0.0.1:0").await.unwrap();
            events.push(node.subscribe());
            nodes.push(node);
        }
        let seed = nodes[0].local_addr();
        let joins: Vec<_> = nodes[1..]
            .iter()
            .map(|node| {
                let node = node.clone();
                tokio::spawn(async move { node.join([seed]).await })
            })
            .collect();
        for join in joins {
            join.await.unwrap().expect("join");
        }
        let mut cluster = Cluster { nodes, events };
        cluster.converge(SOON).await;
        cluster
    }

    pub fn ids(&self) -> BTreeSet<NodeId> {
        self.nodes.iter().map(|n| n.id()).collect()
    }

    /// Wait until every node holds every node alive.
    pub async fn converge(&mut self, within: Duration) {
        let ids = self.ids();
        for (node, events) in self.nodes.iter().zip(&mut self.events) {
            wait_for(node, events, within, "convergence", |n| sees_alive(n, &ids)).await;
        }
    }

    /// Wait until every node but `except` holds `id` with status `status`.
    pub async fn all_see(
        &mut self,
        except: &[usize],
        id: NodeId,
        status: Status,
        within: Duration,
    ) {
        for (i, (node, events)) in self.nodes.iter().zip(&mut self.events).enumerate() {
            if except.contains(&i) {
                continue;
            }
            let what = format!("{id} to be {status:?}");
            wait_for(node, events, within, &what, |n| {
                n.status_of(id) == Some(status)
            })
            .await;
        }
    }

    /// Forward every node's events (from now on) into one channel, tagged with the node index.
    pub fn merge_events(&mut self) -> mpsc::UnboundedReceiver<(usize, MemberEvent)> {
        let (tx, rx) = mpsc::unbounded_channel();
        for (i, node) in self.nodes.iter().enumerate() {
            let mut events = node.subscribe();
            let tx = tx.clone();
            tokio::spawn(async move {
                while let Some(event) = events.recv().await {
                    if tx.send((i, event)).is_err() {
                        break;
                    }
                }
            });
        }
        rx
    }

    pub async fn shutdown(self) {
        for node in &self.nodes {
            node.shutdown().await.unwrap();
        }
    }
}

/// The members of `node`'s view, for messages.
pub fn view(node: &Node) -> Vec<Member> {
    node.members()
}
