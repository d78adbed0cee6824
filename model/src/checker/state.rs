//! The state of the world: every host (the node, its life, its timers), the datagrams in
//! flight, the clock, the budgets left and the history the properties need.

use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::sync::Arc;

use swim_checked_core::{Message, Millis, Node, Phase, TimerTable};

/// Where a node is in its life, as the environment sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Life {
    Up,
    /// Slow: its timers and deliveries wait.
    Paused,
    /// Gone for good since `at`.
    Crashed {
        at: Millis,
    },
}

/// A fixed-key hash of anything: states hash the cached hashes of their parts.
pub(crate) fn stable_hash<T: Hash + ?Sized>(value: &T) -> u64 {
    ahash::RandomState::with_seeds(7, 11, 13, 17).hash_one(value)
}

/// One node and what the environment keeps for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Host {
    /// The core's state machine (shared until a step changes it).
    pub node: Arc<Node>,
    /// Hash of `node`, kept up to date: a state hashes only what changed.
    node_hash: u64,
    pub life: Life,
    /// Armed timers and their deadlines.
    pub timers: TimerTable,
}

/// A crashed host hashes as its identity, its own record and when it crashed: nothing else it
/// holds can act or change again, and the properties read nothing else of it (its frozen view
/// keeps satisfying `incarnation authority`, as incarnations only grow), so runs that differ
/// only in what a node knew when it crashed are one state to the checker.
impl Hash for Host {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.life.hash(state);
        if let Life::Crashed { .. } = self.life {
            (self.node.id(), self.node.local_member()).hash(state);
            return;
        }
        self.node_hash.hash(state);
        self.timers.hash(state);
    }
}

impl Host {
    pub fn new(node: Node, life: Life, timers: TimerTable) -> Self {
        Host {
            node_hash: stable_hash(&node),
            node: Arc::new(node),
            life,
            timers,
        }
    }

    /// Change the node (copied if shared) and rehash it.
    pub(crate) fn update<R>(&mut self, f: impl FnOnce(&mut Node) -> R) -> R {
        let r = f(Arc::make_mut(&mut self.node));
        self.node_hash = stable_hash(&*self.node);
        r
    }

    /// Up or paused, and still a member (running or leaving).
    pub fn participates(&self) -> bool {
        !matches!(self.life, Life::Crashed { .. })
            && matches!(self.node.phase(), Phase::Running | Phase::Leaving)
    }

    /// Up, paused or not, and running.
    pub fn is_running(&self) -> bool {
        !matches!(self.life, Life::Crashed { .. }) && self.node.phase() == Phase::Running
    }
}

/// A datagram in flight between two model nodes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Datagram {
    pub from: usize,
    pub to: usize,
    pub msg: Message,
    /// Hash of the above, computed once.
    hash: u64,
}

impl Datagram {
    pub fn new(from: usize, to: usize, msg: Message) -> Self {
        let hash = stable_hash(&(from, to, &msg));
        Datagram {
            from,
            to,
            msg,
            hash,
        }
    }
}

impl Hash for Datagram {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.hash.hash(state);
    }
}

/// Faults and commands still allowed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Budget {
    pub drops: u8,
    pub duplicates: u8,
    pub crashes: u8,
    pub pauses: u8,
    pub replays: u8,
    pub leaves: u8,
    pub meta_changes: u8,
    pub rejoins: u8,
    pub restarts: u8,
    pub broadcasts: u8,
    pub directs: u8,
}

/// History the properties need and the state alone does not show. The rule flags are set by
/// the step that breaks the rule (they stay false in a correct run, so they split no states);
/// the marks say what the last step did and are cleared by the next one (they split only the
/// states right after such a step).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Ghost {
    /// Time of the last fault or command (completeness counts from the later of this and the
    /// crash).
    pub last_disturbance: Millis,
    /// Some node's record of some member moved down the lattice.
    pub moved_down: bool,
    /// Some node held a member dead (or purged it), then alive or suspect.
    pub resurrected: bool,
    /// Some node's local health left `0..=S`, or changed in a step that was neither an outcome
    /// of its own probe nor a refutation (helping another node's probe, say).
    pub health_misused: bool,
    /// Some node armed a suspicion timer at another deadline than Lifeguard's formula gives.
    pub suspicion_misarmed: bool,
    /// Some node piggybacked an update more often than its retransmit limit.
    pub over_retransmitted: bool,
    /// Some node sent a message to a member it suspects without that suspicion first (buddy
    /// system on), or with that suspicion from outside the gossip queue (off).
    pub buddy_missing: bool,
    /// A push-pull exchange moved some record down the lattice.
    pub sync_lowered: bool,
    /// Some node's probe order skipped a live member, started a pass early or without every
    /// live member, or a protocol period probed nobody while live members were known.
    pub probe_order_broken: bool,
    /// Some node with zone-aware helpers on asked a helper while leaving out a live one that
    /// shares fewer fates with the probe (PROTOCOL.md §15).
    pub helpers_misranked: bool,
    /// Some node's later indirect round asked a helper that an earlier round of the same probe
    /// had asked (PROTOCOL.md §4).
    pub helpers_reasked: bool,
    /// Some node's probe did not fail at the nack that left no helper awaited in its only
    /// round, or failed at a nack that did not (PROTOCOL.md §4).
    pub nack_misjudged: bool,
    /// Some node delivered a broadcast twice, or its own, or did not deliver one the first
    /// time it arrived (PROTOCOL.md §13).
    pub user_misdelivered: bool,
    /// Some node delivered application data that the datagram it took did not carry, or under
    /// another sender than the one its payload names.
    pub user_forged: bool,
    /// Some node sent a broadcast more often than its retransmit limit, or one while leaving,
    /// or gossiped to more than `user_fanout` members at once, or did not queue a broadcast it
    /// delivered while running.
    pub user_missent: bool,
    /// Some node sent an address that had not proved it receives its datagrams more than
    /// `amplification_factor` times the bytes it received from it, or its view (PROTOCOL.md
    /// §12).
    pub amplified: bool,
    /// Some node took more new members from one datagram than the intake bounds allow, or
    /// held more live members that never answered than `max_unanswered` (PROTOCOL.md §12).
    pub intake_unbounded: bool,
    /// The application data each node delivered and sent so far.
    pub user: UserLog,
    /// What each node exchanged with addresses no record of it holds.
    pub strangers: Strangers,
    /// What the last step did, for the reachability properties.
    pub marks: Marks,
}

/// The broadcasts each model node delivered, and how many times it sent each. A broadcast is
/// known by the budget left when it was issued: the model's payloads are `[sender, left]`
/// ([`super::SwimModel`]'s commands), so each names one broadcast of its run. Indexed by model
/// node: the symmetry reduction, which renames nodes but not payloads, is not used with
/// application data.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct UserLog {
    delivered: [u8; UserLog::NODES],
    sent: [[u8; UserLog::BROADCASTS]; UserLog::NODES],
}

impl UserLog {
    /// Model nodes and broadcasts a log can follow (later broadcasts are not followed: the
    /// worlds these rules judge have no more).
    pub const NODES: usize = 8;
    pub const BROADCASTS: usize = 8;

    /// Whether node `i` delivered broadcast `k`.
    pub fn delivered(&self, i: usize, k: usize) -> bool {
        k < Self::BROADCASTS && self.delivered[i] & (1 << k) != 0
    }

    pub(crate) fn deliver(&mut self, i: usize, k: usize) {
        if k < Self::BROADCASTS {
            self.delivered[i] |= 1 << k;
        }
    }

    /// Count one more send of broadcast `k` by node `i`; returns the sends so far.
    pub(crate) fn send(&mut self, i: usize, k: usize) -> u8 {
        let Some(sent) = self.sent[i].get_mut(k) else {
            return 0;
        };
        *sent = sent.saturating_add(1);
        *sent
    }
}

/// What each model node exchanged with addresses that no record of its table holds (PROTOCOL.md
/// §12), kept for the amplification rule. Empty wherever every datagram comes from a member's
/// address, so it splits no states there.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Strangers(Vec<Tally>);

/// Node `node`'s exchanges with `addr`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Tally {
    pub node: usize,
    pub addr: SocketAddr,
    /// Bytes received from it while it had not proved itself, at their plaintext size.
    pub received: u64,
    /// Bytes sent to it meanwhile, at their sealed size.
    pub sent: u64,
    /// The sequence numbers of the pings sent to it meanwhile: an ack of one proves it.
    pub pings: Vec<u32>,
    /// It proved it receives the node's datagrams (acked one of those pings), or the node
    /// asked it for its view.
    pub proven: bool,
}

impl Strangers {
    /// Where node `i`'s exchanges with `addr` are, or would go (kept sorted).
    fn search(&self, i: usize, addr: SocketAddr) -> Result<usize, usize> {
        self.0
            .binary_search_by(|t| (t.node, t.addr).cmp(&(i, addr)))
    }

    /// Node `i`'s exchanges with `addr` (none if none yet).
    pub fn get(&self, i: usize, addr: SocketAddr) -> Option<&Tally> {
        self.search(i, addr).ok().map(|at| &self.0[at])
    }

    /// Whether `addr` proved itself to node `i` (acked its ping, or was asked for its view).
    pub fn proven(&self, i: usize, addr: SocketAddr) -> bool {
        self.get(i, addr).is_some_and(|t| t.proven)
    }

    pub(crate) fn get_mut(&mut self, i: usize, addr: SocketAddr) -> &mut Tally {
        let at = match self.search(i, addr) {
            Ok(at) => at,
            Err(at) => {
                let tally = Tally {
                    node: i,
                    addr,
                    received: 0,
                    sent: 0,
                    pings: Vec::new(),
                    proven: false,
                };
                self.0.insert(at, tally);
                at
            }
        };
        &mut self.0[at]
    }

    /// The same exchanges under a renaming of nodes and addresses (the symmetry reduction).
    pub(crate) fn renamed(
        &self,
        node: impl Fn(usize) -> usize,
        addr: impl Fn(SocketAddr) -> SocketAddr,
    ) -> Strangers {
        let mut tallies: Vec<Tally> = (self.0.iter())
            .map(|t| Tally {
                node: node(t.node),
                addr: addr(t.addr),
                ..t.clone()
            })
            .collect();
        tallies.sort_unstable_by_key(|t| (t.node, t.addr));
        Strangers(tallies)
    }

    /// Add the exchanges of nodes this holds none of.
    pub(crate) fn extend(&mut self, other: Strangers) {
        self.0.extend(other.0);
        self.0.sort_unstable_by_key(|t| (t.node, t.addr));
    }

    /// Forget node `i`'s exchanges: a restarted process starts with none.
    pub(crate) fn forget(&mut self, i: usize) {
        self.0.retain(|t| t.node != i);
    }
}

/// Things a step did that no state shows afterwards (see [`Ghost::marks`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Marks {
    /// A record went from `unreachable` to `alive` (a refutation from `unreachable`).
    pub refuted_unreachable: bool,
    /// A datagram carried a record of an id the receiver had purged.
    pub purged_gossiped: bool,
    /// A failed probe raised the prober's health by more than one (a helper stayed silent).
    pub silent_helper: bool,
    /// A suspicion ran out while its holder seemed cut off, and started over (PROTOCOL.md §14).
    pub held: bool,
    /// A new probe pass left a live member of another zone out (PROTOCOL.md §15).
    pub near_pass: bool,
    /// A failed probe asked a helper over a live one sharing more fates (PROTOCOL.md §15).
    pub helper_ranked: bool,
    /// A later indirect round of a failed probe asked a helper (PROTOCOL.md §4).
    pub later_round: bool,
    /// A member waiting outside the probe order was probed in the period's extra slot
    /// (PROTOCOL.md §12).
    pub waiting_probed: bool,
    /// A broadcast arrived at a node that had delivered or sent it before.
    pub broadcast_seen_again: bool,
}

/// The copies of one datagram in flight.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Copies {
    /// Deliverable now.
    pub ready: u8,
    /// Sent this instant: deliverable from the next (one millisecond later).
    pub fresh: u8,
}

impl Copies {
    pub fn total(self) -> u8 {
        self.ready + self.fresh
    }
}

/// The whole world: nodes, network, clock, budgets.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct State {
    pub now: Millis,
    pub hosts: Vec<Host>,
    /// Datagrams in flight with their copies, sorted.
    pub net: Vec<(Arc<Datagram>, Copies)>,
    pub budget: Budget,
    pub ghost: Ghost,
    /// What a replay may deliver again: every distinct datagram sent so far inside the
    /// disturbance window, sorted, except those to a crashed node (nobody listens there).
    /// Kept only while a replay is left and the window is open, and emptied otherwise, so
    /// that runs which differ only in what they sent merge again once no replay can happen.
    /// A replay is only possible of something in it, so it belongs to the state (and to the
    /// fingerprint) while it can be used.
    pub history: Vec<Arc<Datagram>>,
}

impl State {
    /// Put one more copy of `dg` on the wire: `fresh` if it was sent this instant.
    pub(crate) fn add_datagram(&mut self, dg: Datagram, fresh: bool) {
        let i = match self.net.binary_search_by(|(d, _)| (**d).cmp(&dg)) {
            Ok(i) => i,
            Err(i) => {
                self.net.insert(i, (Arc::new(dg), Copies::default()));
                i
            }
        };
        let copies = &mut self.net[i].1;
        if fresh {
            copies.fresh += 1;
        } else {
            copies.ready += 1;
        }
    }

    /// Note that `dg` was sent (once is enough: a replay may deliver it any number of times).
    pub(crate) fn record_sent(&mut self, dg: &Datagram) {
        if let Err(i) = self.history.binary_search_by(|d| (**d).cmp(dg)) {
            self.history.insert(i, Arc::new(dg.clone()));
        }
    }

    /// Take one deliverable copy of `dg` off the wire.
    pub(crate) fn remove_datagram(&mut self, dg: &Datagram) {
        if let Ok(i) = self.net.binary_search_by(|(d, _)| (**d).cmp(dg)) {
            let copies = &mut self.net[i].1;
            copies.ready = copies.ready.saturating_sub(1);
            if copies.total() == 0 {
                self.net.remove(i);
            }
        }
    }

    /// Datagrams that can be delivered now (one entry per distinct datagram).
    pub fn deliverable(&self) -> impl Iterator<Item = &Arc<Datagram>> {
        (self.net.iter())
            .filter(|(_, c)| c.ready > 0)
            .map(|(d, _)| d)
    }

    /// The next instant the clock can move to: the earliest deadline after `now` among up
    /// nodes, or the next millisecond if a datagram sent this instant waits to arrive.
    pub fn next_instant(&self) -> Option<Millis> {
        let arrival = self.in_transit().then_some(self.now + 1);
        [self.next_deadline(), arrival].into_iter().flatten().min()
    }

    /// Some datagram sent this instant is on its way.
    pub fn in_transit(&self) -> bool {
        self.net.iter().any(|(_, c)| c.fresh > 0)
    }

    /// Some up node has a timer due.
    pub fn timer_due(&self) -> bool {
        (self.hosts.iter()).any(|h| h.life == Life::Up && h.timers.is_due(self.now))
    }

    /// Whether node `i` has an input it must take before the clock moves: a deliverable
    /// datagram or a due timer (while it is up).
    pub fn has_urgent_input(&self, i: usize) -> bool {
        let h = &self.hosts[i];
        h.life == Life::Up && (h.timers.is_due(self.now) || self.deliverable().any(|d| d.to == i))
    }

    /// Earliest deadline after `now` among up nodes.
    pub fn next_deadline(&self) -> Option<Millis> {
        self.hosts
            .iter()
            .filter(|h| h.life == Life::Up)
            .flat_map(|h| h.timers.iter().map(|(_, at)| at))
            .filter(|&at| at > self.now)
            .min()
    }

    /// Some datagram can be delivered or some timer can fire.
    pub fn has_urgent_step(&self) -> bool {
        self.deliverable()
            .any(|d| self.hosts[d.to].life == Life::Up)
            || self.timer_due()
    }
}
