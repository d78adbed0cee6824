//! What the agent has seen, for its HTTP clients: the recent log of member events and
//! application messages, when each member last changed, and a live feed of new entries.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use swim_checked::{MemberEvent, Node, NodeId, UserMessage};
use tokio::sync::broadcast;

use crate::api::{Change, Entry, MemberJson, Snapshot};

/// Entries kept for a page opened later (older ones are forgotten).
const LOG_CAPACITY: usize = 500;
/// Entries a slow live subscriber may fall behind by before it skips some.
const FEED_CAPACITY: usize = 1024;

/// Shared by the feed task (which records) and the HTTP handlers (which read).
#[derive(Debug)]
pub struct Hub {
    node: Node,
    state: Mutex<State>,
    live: broadcast::Sender<Arc<Entry>>,
}

#[derive(Debug, Default)]
struct State {
    seq: u64,
    log: VecDeque<Entry>,
    last_change: HashMap<NodeId, Change>,
}

impl Hub {
    pub fn new(node: Node) -> Arc<Hub> {
        Arc::new(Hub {
            node,
            state: Mutex::default(),
            live: broadcast::channel(FEED_CAPACITY).0,
        })
    }

    pub fn node(&self) -> &Node {
        &self.node
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A handler that panicked leaves a consistent log behind: keep serving it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn record_event(&self, event: &MemberEvent) -> Entry {
        let local = event.member.id == self.node.id();
        self.record(|seq, at_ms, state| {
            let change = Change {
                at_ms,
                kind: event.kind().name().to_owned(),
            };
            state.last_change.insert(event.member.id, change.clone());
            Entry::event(seq, event, local, change)
        })
    }

    /// Application text received, or sent by this agent (which does not receive its own).
    pub fn record_message(&self, message: &UserMessage) -> Entry {
        let from_name = self
            .node
            .member(message.from)
            .and_then(|m| crate::api::MemberJson::of(&m, false, None).name);
        self.record(|seq, at_ms, _| Entry::message(seq, at_ms, message, from_name))
    }

    fn record(&self, make: impl FnOnce(u64, u64, &mut State) -> Entry) -> Entry {
        let mut state = self.lock();
        state.seq += 1;
        let seq = state.seq;
        let entry = make(seq, now_ms(), &mut state);
        if state.log.len() == LOG_CAPACITY {
            state.log.pop_front();
        }
        state.log.push_back(entry.clone());
        // Sent under the lock, so a subscriber sees each entry once: in its snapshot or live.
        let _ = self.live.send(Arc::new(entry.clone()));
        entry
    }

    /// The member table, with when each member last changed.
    pub fn members(&self) -> Vec<MemberJson> {
        let state = self.lock();
        self.members_locked(&state)
    }

    fn members_locked(&self, state: &State) -> Vec<MemberJson> {
        let me = self.node.id();
        self.node
            .members()
            .iter()
            .map(|m| MemberJson::of(m, m.id == me, state.last_change.get(&m.id).cloned()))
            .collect()
    }

    /// The table and the recent log, and the entries recorded after them.
    pub fn subscribe(&self) -> (Snapshot, broadcast::Receiver<Arc<Entry>>) {
        let state = self.lock();
        let rx = self.live.subscribe();
        let snapshot = Snapshot {
            id: self.node.id().to_string(),
            members: self.members_locked(&state),
            log: state.log.iter().cloned().collect(),
        };
        (snapshot, rx)
    }

    /// The recent log.
    pub fn log(&self) -> Vec<Entry> {
        self.lock().log.iter().cloned().collect()
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
