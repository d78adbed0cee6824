//! What a replay needs from a trace, read once: the core configuration, each node's start and
//! every step with what must follow it.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use model::checker::{Input, PickRecord, Step, Trace};
use swim_checked_core::{Body, Config, Effect, Member, Message, Meta, Millis, Node, NodeId, Timer};

/// How a node of the trace starts: created at `at`, then fed `inputs` (datagrams from other
/// model nodes, at `at`), consuming `picks`; afterwards it has armed `timers` and holds `view`.
#[derive(Clone, Debug)]
pub struct Start {
    pub index: usize,
    pub id: NodeId,
    pub addr: SocketAddr,
    pub at: Millis,
    pub inputs: Vec<(usize, Message)>,
    pub picks: Vec<PickRecord>,
    pub timers: Vec<(Timer, Millis)>,
    pub view: Vec<Member>,
}

/// One trace, ready to replay.
#[derive(Clone, Debug)]
pub struct Script {
    /// Where it came from (a file name), for messages.
    pub name: String,
    pub config: Config,
    pub starts: Vec<Start>,
    pub steps: Vec<Step>,
    /// The stepping node's armed timers after each step (`None`: no node stepped).
    pub timers: Vec<Option<Vec<(Timer, Millis)>>>,
}

impl Script {
    /// Read a trace.
    pub fn from_trace(name: impl Into<String>, trace: &Trace) -> Result<Script, String> {
        let name = name.into();
        if trace.format != 1 {
            return Err(format!(
                "{name}: trace format {} (this harness reads 1)",
                trace.format
            ));
        }
        let t = &trace.setup;
        let config = t.config();
        let n = trace.nodes.len();
        let mut starts = Vec::new();
        for node in &trace.nodes {
            let i = node.index;
            let at = i as Millis * t.stagger;
            let j = (i + 1) % n;
            let sync = Message {
                from: trace.nodes[j].id,
                body: Body::Sync {
                    reply: false,
                    members: (trace.nodes.iter())
                        .filter(|m| m.index != i)
                        .map(|m| Member::alive(m.id, m.addr, 0, Meta::default()))
                        .collect(),
                },
                gossip: Vec::new(),
            };
            let ping = Message {
                from: trace.nodes[j].id,
                body: Body::Ping {
                    seq: 0,
                    target: node.id,
                },
                gossip: Vec::new(),
            };
            let picks = trace.initial_picks.get(i).cloned().unwrap_or_default();
            let mut replay = picks.iter().map(|p| p.value);
            let mut pick = |_n: usize| replay.next().unwrap_or(0);
            let mut out = Vec::new();
            let mut core = Node::new(
                config.clone(),
                node.id,
                node.addr,
                Meta::default(),
                at,
                &mut out,
            )
            .map_err(|e| format!("{name}: {e}"))?;
            let from = trace.nodes[j].addr;
            core.handle_message(at, from, sync.clone(), &mut pick, &mut out);
            let mut inputs = vec![(j, sync)];
            for _ in 0..64 {
                if core.gossip().is_empty() {
                    break;
                }
                core.handle_message(at, from, ping.clone(), &mut pick, &mut Vec::new());
                inputs.push((j, ping.clone()));
            }
            let mut timers = BTreeMap::new();
            fold_timers(&mut timers, &out);
            starts.push(Start {
                index: i,
                id: node.id,
                addr: node.addr,
                at,
                inputs,
                picks,
                timers: timers.into_iter().collect(),
                view: core.members().cloned().collect(),
            });
        }
        // Timers after each step: the stepping node's map, fired timer removed, effects applied.
        let mut maps: Vec<BTreeMap<Timer, Millis>> = (starts.iter())
            .map(|s| s.timers.iter().copied().collect())
            .collect();
        let mut timers = Vec::new();
        for step in &trace.steps {
            if let Input::Crash { node } = step.input {
                maps[node].clear();
            }
            let Some(i) = step.node else {
                timers.push(None);
                continue;
            };
            if let Input::Timer { timer, .. } = step.input {
                maps[i].remove(&timer);
            }
            fold_timers(&mut maps[i], &step.effects);
            timers.push(Some(maps[i].iter().map(|(&t, &at)| (t, at)).collect()));
        }
        Ok(Script {
            name,
            config,
            starts,
            steps: trace.steps.clone(),
            timers,
        })
    }

    /// The model index of an address of the trace.
    pub fn index_of(&self, addr: SocketAddr) -> Option<usize> {
        self.starts.iter().position(|s| s.addr == addr)
    }

    /// The armed timers of the stepping node after step `k`.
    pub fn timers_after(&self, k: usize) -> Option<&[(Timer, Millis)]> {
        self.timers.get(k)?.as_deref()
    }
}

fn fold_timers(map: &mut BTreeMap<Timer, Millis>, effects: &[Effect]) {
    for e in effects {
        match e {
            Effect::SetTimer { timer, at } => {
                map.insert(*timer, *at);
            }
            Effect::CancelTimer { timer } => {
                map.remove(timer);
            }
            _ => {}
        }
    }
}
