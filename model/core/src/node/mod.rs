//! The per-node state machine: every protocol decision lives here.
//!
//! Inputs are [`Node::handle_message`], [`Node::handle_timer`] and [`Node::handle_command`],
//! each given the current time and a [`Pick`] for randomness; outputs are [`Effect`]s appended
//! to the caller's vector, to be carried out in order.
//!
//! This file holds the state, its identity for the model checker, the accessors and the entry
//! points, which only dispatch. The rules live by family: `detect` (probing), `suspect`
//! (suspicion and verdicts), `merge` (gossip and refutation), `send` (packing datagrams), `sync`
//! (push-pull) and `lifecycle` (join, leave, rejoin, commands).

use std::collections::BTreeMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::sync::Arc;

use crate::Millis;
use crate::codec::datagram_overhead;
use crate::config::{Config, ConfigError};
use crate::effect::Effect;
use crate::faults::Faults;
use crate::gossip::Gossip;
use crate::health::Health;
use crate::member::{Member, Meta, NodeId};
use crate::membership::Membership;
use crate::message::{Body, Message};
use crate::pick::Pick;
use crate::probe::{Probe, ProbeOrder, Relay};
use crate::status::Status;
use crate::timer::Timer;
use crate::user::UserQueue;

mod detect;
mod guard;
mod lifecycle;
mod merge;
mod send;
mod suspect;
mod sync;
mod user;

use guard::{Guard, Intake};
use lifecycle::{Departure, Joining};

/// Where a node is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    /// A member of the cluster.
    Running,
    /// Spreading its `left` record before stopping.
    Leaving,
    /// Left gracefully; only [`Command::Rejoin`] brings it back, under a new id.
    Left,
    /// Declared dead by the cluster, without `Config::auto_rejoin`; only [`Command::Rejoin`]
    /// brings it back, under a new id.
    Removed,
}

/// What the application asks of its node (serializable, for recordings of runs).
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Command {
    /// Send our view (and ask for theirs) to these seed addresses, retrying until one answers.
    Join {
        /// Addresses to contact (our own is ignored).
        seeds: Vec<SocketAddr>,
    },
    /// Leave gracefully: gossip `left` at a raised incarnation, then stop.
    Leave,
    /// Replace our metadata (raises our incarnation).
    SetMeta(Meta),
    /// Gossip application data to every member (PROTOCOL.md §13).
    Broadcast(Vec<u8>),
    /// Send application data to one member (PROTOCOL.md §13).
    SendTo {
        /// The member.
        to: NodeId,
        /// The application's bytes.
        payload: Vec<u8>,
    },
    /// Declare a member dead (typically after it became `unreachable`).
    ConfirmDead(NodeId),
    /// Come back under a new id after being removed or after leaving.
    Rejoin {
        /// The new id: it must differ from the current one.
        id: NodeId,
    },
}

/// Why a command was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommandError {
    /// The node is not running (it left or was removed).
    NotRunning(Phase),
    /// Rejoin is only for a node that left or was removed.
    StillMember,
    /// Join without any seed address (other than our own).
    NoSeeds,
    /// Metadata over the configured limit.
    MetaTooLarge {
        /// Encoded length of the metadata.
        len: usize,
        /// `Config::max_meta_bytes`.
        max: usize,
    },
    /// No such member in the view.
    UnknownMember(NodeId),
    /// The member is already dead or left.
    AlreadyDead(NodeId),
    /// A node cannot declare itself dead.
    IsSelf,
    /// The new id is the current one.
    SameId,
    /// Application data over `Config::max_user_payload`.
    PayloadTooLarge {
        /// Bytes given.
        len: usize,
        /// `Config::max_user_payload`.
        max: usize,
    },
    /// Application data addressed to this node itself.
    ToSelf,
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandError::NotRunning(p) => write!(f, "node is not running (phase {p:?})"),
            CommandError::StillMember => {
                write!(f, "node is still a member; rejoin needs it removed or left")
            }
            CommandError::NoSeeds => write!(f, "no seed address to join through"),
            CommandError::MetaTooLarge { len, max } => {
                write!(f, "metadata of {len} bytes exceeds the {max}-byte limit")
            }
            CommandError::UnknownMember(id) => write!(f, "unknown member {id}"),
            CommandError::AlreadyDead(id) => write!(f, "member {id} is already dead or left"),
            CommandError::IsSelf => write!(f, "a node cannot declare itself dead"),
            CommandError::SameId => write!(f, "rejoin needs a new id"),
            CommandError::PayloadTooLarge { len, max } => {
                write!(f, "payload of {len} bytes exceeds the {max}-byte limit")
            }
            CommandError::ToSelf => write!(f, "cannot send a message to this node itself"),
        }
    }
}

impl std::error::Error for CommandError {}

/// Counters about this node's protocol activity (not part of its state's identity).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NodeStats {
    /// Probes started (one direct ping each).
    pub probes_sent: u64,
    /// Probes that ended without an ack.
    pub probes_failed: u64,
    /// Ping-reqs sent to helpers.
    pub ping_reqs_sent: u64,
    /// Nacks sent for indirect probes whose target stayed silent.
    pub nacks_sent: u64,
    /// Suspicions raised by our own failed probes.
    pub suspicions_raised: u64,
    /// Suspicions of ourselves refuted by raising our incarnation.
    pub refutations: u64,
    /// Pings for another id that reached us (a stale address).
    pub misdirected: u64,
    /// New members ignored because the table was full (`Config::max_members`).
    pub dropped_table_full: u64,
    /// Ping-reqs ignored because too many relays ran (`Config::max_relays`).
    pub dropped_relays_full: u64,
    /// Records dropped for a generation more than `Config::max_generation_jump` above the
    /// highest held for their member.
    pub dropped_generation_jump: u64,
    /// Records dropped for an incarnation more than `Config::max_incarnation_jump` above the
    /// highest seen for their member.
    pub dropped_incarnation_jump: u64,
    /// New members ignored over `Config::max_new_per_datagram` in one datagram.
    pub dropped_new_per_datagram: u64,
    /// New members ignored over `Config::max_new_per_source` from one address in a period.
    pub dropped_new_per_source: u64,
    /// New members ignored because `Config::max_unanswered` members never answered a probe.
    pub dropped_unanswered_full: u64,
    /// Replies to unvalidated addresses cut or withheld by the amplification budget.
    pub replies_limited: u64,
    /// Unvalidated addresses validated by answering our ping.
    pub strangers_validated: u64,
    /// Application broadcasts delivered (received for the first time).
    pub user_delivered: u64,
    /// Direct application messages delivered.
    pub direct_delivered: u64,
    /// Application broadcasts received again (already seen): ignored.
    pub user_duplicates: u64,
    /// Application broadcasts the full queue lost before their retransmit budget was spent
    /// (`Config::user_queue`).
    pub user_dropped: u64,
    /// Suspicions that ran out while none of our probes had been answered since they began,
    /// and started over instead of ending in a verdict (`Config::isolation_hold`).
    pub suspicions_held: u64,
    /// Times this node learnt it was declared dead and rejoined at the next generation
    /// (`Config::auto_rejoin`).
    pub auto_rejoins: u64,
    /// Times a live record of our id at a newer generation, at another address, made this
    /// node stop: another process runs under its name.
    pub name_conflicts: u64,
}

/// One member's protocol state machine.
#[derive(Clone, Debug)]
pub struct Node {
    config: Arc<Config>,
    /// Bytes a datagram spends besides its message: header and the larger envelope.
    overhead: usize,
    me: Member,
    phase: Phase,
    members: Membership,
    gossip: Gossip,
    order: ProbeOrder,
    /// Push-pull partners: members alive or dead, round-robin in random passes.
    sync_order: ProbeOrder,
    /// Targets of application gossip: members alive or suspect, round-robin in random passes,
    /// so that a broadcast's transmits go to distinct members.
    gossip_order: ProbeOrder,
    /// Probes started this period, by sequence number.
    probes: BTreeMap<u32, Probe>,
    /// Indirect probes run for others, by our sequence number.
    relays: BTreeMap<u32, Relay>,
    next_seq: u32,
    health: Health,
    /// From a join (or rejoin) until the node stops; `None` if it never joined.
    joining: Option<Joining>,
    /// While leaving: the members yet to acknowledge our `left` record.
    departure: Option<Departure>,
    /// Application broadcasts waiting to be gossiped, and the identities seen.
    user: UserQueue,
    /// Seed addresses that answered the current join, in order (read by the shell only, not
    /// part of the node's identity).
    seeds_answered: Vec<SocketAddr>,
    /// When our last push-pull round ran (or we started): the next one is due a whole
    /// current sync interval later, which grows with the cluster.
    last_sync: Millis,
    /// When one of our probes was last answered (or we started): a suspicion that began after
    /// it was raised by a node that may be cut off itself (`Config::isolation_hold`).
    last_heard: Millis,
    /// Our probes that failed in a row since one was last answered, up to `suspect::CUT_OFF`.
    silent_probes: u8,
    /// Anti-amplification and intake bounds (PROTOCOL.md §12).
    guard: Guard,
    /// The datagram being handled, while it is (not part of the state).
    intake: Option<Intake>,
    stats: NodeStats,
    /// Deliberate bugs, for the model checker's tests only (none without `--cfg swim_faults`).
    faults: Faults,
}

impl PartialEq for Node {
    fn eq(&self, other: &Self) -> bool {
        self.me == other.me
            && self.phase == other.phase
            && self.members == other.members
            && self.gossip == other.gossip
            && self.order == other.order
            && self.sync_order == other.sync_order
            && self.gossip_order == other.gossip_order
            && self.probes == other.probes
            && self.relays == other.relays
            && self.next_seq == other.next_seq
            && self.health == other.health
            && self.joining == other.joining
            && self.departure == other.departure
            && self.user == other.user
            && self.last_sync == other.last_sync
            && self.last_heard == other.last_heard
            && self.silent_probes == other.silent_probes
            && self.guard == other.guard
    }
}

impl Eq for Node {}

/// Hashes the protocol state that decides what the node does next (not the configuration, the
/// counters, or times nothing reads any more), deterministically.
impl Hash for Node {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.me.hash(state);
        self.phase.hash(state);
        (self.members).hash_behaviour(self.config.tombstone_ttl, state);
        self.gossip.hash(state);
        // Members dead or gone are passed over when their turn comes: only the others count.
        let status = |id| self.members.get(id).map(|r| r.member.status);
        (self.order).hash_behaviour(|id| status(id).is_some_and(Status::is_terminal), state);
        (self.sync_order).hash_behaviour(|id| status(id) == Some(Status::Left), state);
        (self.gossip_order).hash_behaviour(|id| status(id).is_some_and(Status::is_terminal), state);
        // A probe judged this period (acked, or failed on its helpers' nacks) waits only for
        // the tick, which skips it, and late answers to it are ignored: its target, sequence
        // number and helpers are read by nothing any more.
        for (seq, probe) in &self.probes {
            if probe.acked || probe.failed {
                (probe.acked, probe.failed).hash(state);
            } else {
                (seq, probe).hash(state);
            }
        }
        self.relays.hash(state);
        self.next_seq.hash(state);
        self.health.hash(state);
        self.joining.hash(state);
        self.departure.hash(state);
        self.user.hash(state);
        self.last_sync.hash(state);
        // The hold reads `last_heard` only against the start of a suspicion.
        if self.config.isolation_hold {
            for r in self.members.iter() {
                if r.member.status == Status::Suspect {
                    (self.last_heard > r.since).hash(state);
                }
            }
            self.silent_probes.hash(state);
        }
        self.guard.hash(state);
    }
}

impl Node {
    /// Start a node at generation 0: it is alone, alive at incarnation 0, and arms its first
    /// probe tick (and sync round). Join a cluster with [`Command::Join`].
    pub fn new(
        config: Config,
        id: NodeId,
        addr: SocketAddr,
        meta: Meta,
        now: Millis,
        out: &mut Vec<Effect>,
    ) -> Result<Self, ConfigError> {
        Node::start(config, Member::alive(id, addr, 0, meta), now, out)
    }

    /// Start a node as `me` (alive at incarnation 0; its id, name, generation, address and
    /// metadata are taken as they are). A process that starts again under the name of an
    /// earlier one takes a generation above every one that process had (the library uses the
    /// start time in milliseconds), so the cluster takes it for the member's next life.
    pub fn start(
        config: Config,
        me: Member,
        now: Millis,
        out: &mut Vec<Effect>,
    ) -> Result<Self, ConfigError> {
        let me = me.with_status(Status::Alive, 0);
        let meta = &me.meta;
        config.validate()?;
        let len = meta.encoded_len();
        if len > config.max_meta_bytes {
            return Err(ConfigError {
                field: "meta",
                reason: format!(
                    "{len} bytes exceeds max_meta_bytes ({})",
                    config.max_meta_bytes
                ),
            });
        }
        if me.generation
            > config
                .max_generation_jump
                .min(crate::member::MAX_GENERATION)
        {
            return Err(ConfigError {
                field: "generation",
                reason: format!(
                    "{} is above max_generation_jump ({}): peers would drop every record of it",
                    me.generation, config.max_generation_jump
                ),
            });
        }
        if let Some(why) = me.name_error() {
            return Err(ConfigError {
                field: "name",
                reason: format!(
                    "{:?}: {why} (at most {} bytes, the id NodeId::from_name of it)",
                    me.name.as_str(),
                    crate::member::MAX_NAME_BYTES
                ),
            });
        }
        let node = Node {
            overhead: datagram_overhead(&config.label),
            health: Health::of(&config),
            config: Arc::new(config),
            me,
            phase: Phase::Running,
            members: Membership::default(),
            gossip: Gossip::default(),
            order: ProbeOrder::default(),
            sync_order: ProbeOrder::default(),
            gossip_order: ProbeOrder::default(),
            probes: BTreeMap::new(),
            relays: BTreeMap::new(),
            next_seq: 0,
            joining: None,
            departure: None,
            user: UserQueue::default(),
            seeds_answered: Vec::new(),
            last_sync: now,
            last_heard: now,
            silent_probes: 0,
            guard: Guard::default(),
            intake: None,
            stats: NodeStats::default(),
            faults: Faults::NONE,
        };
        node.arm_periodic(now, out);
        Ok(node)
    }

    // ----- inspection -----

    /// Our id.
    pub fn id(&self) -> NodeId {
        self.me.id
    }

    /// Our address.
    pub fn addr(&self) -> SocketAddr {
        self.me.addr
    }

    /// The configuration the node runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Where the node is in its life.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Our own record: `alive(incarnation)` while running.
    pub fn local_member(&self) -> &Member {
        &self.me
    }

    /// Our record of `id` (ourselves included).
    pub fn member(&self, id: NodeId) -> Option<&Member> {
        record(&self.me, &self.members, id)
    }

    /// When our current record of `id` took its status (suspicion start, time of death).
    pub fn status_since(&self, id: NodeId) -> Option<Millis> {
        self.members.get(id).map(|r| r.since)
    }

    /// The whole view: ourselves first, then every known member (tombstones included) in id order.
    pub fn members(&self) -> impl Iterator<Item = &Member> {
        std::iter::once(&self.me).chain(self.members.iter().map(|r| &r.member))
    }

    /// Whether a tombstone of `id` expired here: its record is gone, and gossip about that
    /// generation of it (or an older one) is ignored.
    pub fn is_purged(&self, id: NodeId) -> bool {
        self.members.is_purged(id)
    }

    /// Whether `member`'s record would be ignored as purged (its generation's tombstone expired).
    pub fn is_purged_record(&self, member: &Member) -> bool {
        self.members.is_purged_record(member)
    }

    /// Members believed in the cluster (not dead, not left), ourselves included: Lifeguard's `n`.
    pub fn cluster_size(&self) -> usize {
        self.members.live() + 1
    }

    /// The local health multiplier.
    pub fn health(&self) -> u8 {
        self.health.score()
    }

    /// Counters of protocol activity since the node started.
    pub fn stats(&self) -> NodeStats {
        self.stats
    }

    /// Run with these deliberate bugs (model checker tests only).
    #[cfg(swim_faults)]
    pub fn set_faults(&mut self, faults: Faults) {
        self.faults = faults;
        if faults.has(crate::faults::Fault::IgnoresLifeguardSwitches) {
            self.health = Health::new(self.config.max_health);
        }
    }

    /// The same node with every node id and address renamed, inside its records, queues,
    /// probes and relays too (the model checker's symmetry reduction). Suspecter sets are
    /// re-sorted; the renaming must be a bijection.
    pub fn renamed(
        &self,
        id: &dyn Fn(NodeId) -> NodeId,
        addr: &dyn Fn(SocketAddr) -> SocketAddr,
    ) -> Node {
        let member = |m: &Member| m.renamed(id, addr);
        let mut node = self.clone();
        node.me = member(&self.me);
        node.members = self.members.renamed(id, &member);
        node.gossip = self.gossip.renamed(id);
        node.order = self.order.renamed(id);
        node.sync_order = self.sync_order.renamed(id);
        node.gossip_order = self.gossip_order.renamed(id);
        for probe in node.probes.values_mut() {
            probe.target = id(probe.target);
            probe.target_addr = addr(probe.target_addr);
            for helper in &mut probe.awaiting {
                *helper = id(*helper);
            }
        }
        for relay in node.relays.values_mut() {
            relay.origin = addr(relay.origin);
            relay.origin_id = id(relay.origin_id);
        }
        node.guard = self.guard.renamed(id, addr);
        if let Some(joining) = &mut node.joining {
            joining.seeds = joining.seeds.iter().map(|&a| addr(a)).collect();
        }
        if let Some(departure) = &mut node.departure {
            departure.awaiting = departure.awaiting.iter().map(|&i| id(i)).collect();
        }
        node.user = self.user.renamed(id);
        node.seeds_answered = self.seeds_answered.iter().map(|&a| addr(a)).collect();
        node
    }

    /// The dissemination queue.
    pub fn gossip(&self) -> &Gossip {
        &self.gossip
    }

    /// Application broadcasts waiting to be gossiped.
    pub fn user_queue(&self) -> &UserQueue {
        &self.user
    }

    /// Seed addresses that answered the current (or last) join with their view, in the order
    /// the answers came. Cleared by each join.
    pub fn seeds_answered(&self) -> &[SocketAddr] {
        &self.seeds_answered
    }

    /// While leaving: members that have not acknowledged our `left` record yet.
    pub fn awaiting_leave_acks(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.departure
            .iter()
            .flat_map(|d| d.awaiting.iter().copied())
    }

    /// Live members that never answered a probe of ours (PROTOCOL.md §12; kept only while the
    /// intake bounds can act).
    pub fn never_answered(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.guard.unanswered.iter().copied()
    }

    /// The probe order.
    pub fn probe_order(&self) -> &ProbeOrder {
        &self.order
    }

    /// Probes of the current period.
    pub fn probes(&self) -> &BTreeMap<u32, Probe> {
        &self.probes
    }

    /// Indirect probes run for others.
    pub fn relays(&self) -> &BTreeMap<u32, Relay> {
        &self.relays
    }

    /// Current probe interval (base scaled by LHM).
    pub fn probe_interval(&self) -> Millis {
        self.health.scale(self.config.probe_interval)
    }

    /// Current probe timeout (base scaled by LHM).
    pub fn probe_timeout(&self) -> Millis {
        self.health.scale(self.config.probe_timeout)
    }

    // ----- inputs -----

    /// A message arrived from `from` (the datagram's source address).
    pub fn handle_message(
        &mut self,
        now: Millis,
        from: SocketAddr,
        msg: Message,
        rng: &mut dyn Pick,
        out: &mut Vec<Effect>,
    ) {
        if !matches!(self.phase, Phase::Running | Phase::Leaving) {
            return;
        }
        let validated = self.is_validated(from, Some(msg.from));
        if !validated {
            let len = self.received_len(&msg);
            self.note_received(from, len);
        }
        self.intake = Some(self.intake(now, from, &msg, validated));
        self.dispatch(now, from, msg, rng, out);
        self.intake = None;
    }

    fn dispatch(
        &mut self,
        now: Millis,
        from: SocketAddr,
        msg: Message,
        rng: &mut dyn Pick,
        out: &mut Vec<Effect>,
    ) {
        let Message {
            from: sender,
            body,
            gossip,
        } = msg;
        for update in gossip {
            if self.heeds(sender, &update) {
                self.apply(now, update, rng, out);
            }
        }
        if !matches!(self.phase, Phase::Running | Phase::Leaving) {
            return; // the gossip told us we are dead
        }
        match body {
            Body::Ping { seq, target } => self.on_ping(from, sender, seq, target, out),
            Body::PingReq {
                seq,
                target,
                target_addr,
            } => self.relay_probe(now, from, sender, seq, target, target_addr, out),
            Body::Ack { seq } => {
                if !self.validation_ack(from, seq, out) && !self.leave_acked(sender, seq, out) {
                    self.on_ack(now, seq, rng, out);
                }
            }
            Body::Nack { seq } => self.on_nack(now, sender, seq, rng, out),
            Body::Sync { reply, members } => {
                self.on_sync(now, from, sender, reply, members, rng, out)
            }
            Body::Gossip { broadcasts } => self.on_gossip(now, sender, broadcasts, out),
            Body::Direct { payload } => self.on_direct(sender, payload, out),
        }
    }

    /// Whether to merge `record` from `sender`: not when we hold the sender dead or left and
    /// the record is about a third member (PROTOCOL.md §14). A node cut off from the cluster
    /// holds stale suspicions and verdicts about those who declared it dead; until it has
    /// rejoined, only its records of itself and of us are worth hearing (of us: we only ever
    /// refute them, or learn from them that we must rejoin, which both sides of a healed split
    /// must).
    pub(super) fn heeds(&self, sender: NodeId, record: &Member) -> bool {
        record.id == sender
            || record.id == self.me.id
            || self
                .members
                .get(sender)
                .is_none_or(|r| !r.member.status.is_terminal())
    }

    /// A timer armed by an earlier [`Effect::SetTimer`] is due.
    pub fn handle_timer(
        &mut self,
        now: Millis,
        timer: Timer,
        rng: &mut dyn Pick,
        out: &mut Vec<Effect>,
    ) {
        if !matches!(self.phase, Phase::Running | Phase::Leaving) {
            return;
        }
        match timer {
            Timer::Tick => self.tick(now, rng, out),
            Timer::ProbeTimeout(seq) => self.probe_timeout_fired(now, seq, rng, out),
            Timer::Relay(seq) => self.relay_timer(now, seq, out),
            Timer::Suspicion(id) => self.suspicion_timer(now, id, rng, out),
            Timer::Sync => self.sync_timer(now, rng, out),
            Timer::JoinRetry => self.join_retry(now, out),
            Timer::LeaveDone => self.leave_timer(out),
            Timer::Gossip => self.gossip_timer(now, rng, out),
        }
    }

    /// The application's request.
    pub fn handle_command(
        &mut self,
        now: Millis,
        command: Command,
        rng: &mut dyn Pick,
        out: &mut Vec<Effect>,
    ) -> Result<(), CommandError> {
        if let Command::Rejoin { id } = command {
            return self.rejoin(now, id, rng, out);
        }
        if self.phase != Phase::Running {
            return Err(CommandError::NotRunning(self.phase));
        }
        match command {
            Command::Join { seeds } => self.join(now, seeds, out),
            Command::Leave => {
                self.leave(now, out);
                Ok(())
            }
            Command::SetMeta(meta) => self.set_meta(meta),
            Command::Broadcast(payload) => self.broadcast(now, payload, out),
            Command::SendTo { to, payload } => self.send_to(to, payload, out),
            Command::ConfirmDead(id) => self.confirm_dead(now, id, rng, out),
            Command::Rejoin { .. } => unreachable!("handled above"),
        }
    }
}

/// Our current record of `id`: our own for our id, the table's otherwise. A free function so
/// that packing gossip (which borrows the queue mutably) can look records up too.
fn record<'a>(me: &'a Member, members: &'a Membership, id: NodeId) -> Option<&'a Member> {
    if id == me.id {
        Some(me)
    } else {
        members.get(id).map(|r| &r.member)
    }
}
