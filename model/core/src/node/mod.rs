//! The per-node state machine: every protocol decision lives here.
//!
//! Inputs are [`Node::handle_message`], [`Node::handle_timer`] and [`Node::handle_command`],
//! each given the current time and a [`Pick`] for randomness; outputs are [`Effect`]s appended
//! to the caller's vector, to be carried out in order.

use std::collections::BTreeMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;
use std::sync::Arc;

use crate::Millis;
use crate::codec::{encoded_len, header_len};
use crate::config::{Config, ConfigError};
use crate::effect::{Effect, MemberEvent};
use crate::faults::{Fault, Faults};
use crate::gossip::{Budget, Gossip, retransmit_limit};
use crate::health::Health;
use crate::member::{Member, Meta, NodeId};
use crate::membership::Membership;
use crate::message::{Body, Message};
use crate::pick::{Pick, choose};
use crate::probe::{Probe, ProbeOrder, Relay};
use crate::status::{Merge, Status, merge, normalize_suspecters};
use crate::suspicion::Bounds;
use crate::timer::Timer;

/// Where a node is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    /// A member of the cluster.
    Running,
    /// Spreading its `left` record before stopping.
    Leaving,
    /// Left gracefully; only [`Command::Rejoin`] brings it back, under a new id.
    Left,
    /// Declared dead by the cluster; only [`Command::Rejoin`] brings it back, under a new id.
    Removed,
}

/// What the application asks of its node.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Command {
    /// Send our view (and ask for theirs) to these seed addresses, retrying until one answers.
    Join { seeds: Vec<SocketAddr> },
    /// Leave gracefully: gossip `left` at a raised incarnation, then stop.
    Leave,
    /// Replace our metadata (raises our incarnation).
    SetMeta(Meta),
    /// Declare a member dead (typically after it became `unreachable`).
    ConfirmDead(NodeId),
    /// Come back under a new id after being removed or after leaving.
    Rejoin { id: NodeId },
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
    MetaTooLarge { len: usize, max: usize },
    /// No such member in the view.
    UnknownMember(NodeId),
    /// The member is already dead or left.
    AlreadyDead(NodeId),
    /// A node cannot declare itself dead.
    IsSelf,
    /// The new id is the current one.
    SameId,
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
        }
    }
}

impl std::error::Error for CommandError {}

/// Counters about this node's protocol activity (not part of its state's identity).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeStats {
    pub probes_sent: u64,
    pub probes_failed: u64,
    pub ping_reqs_sent: u64,
    pub nacks_sent: u64,
    pub suspicions_raised: u64,
    pub refutations: u64,
    pub misdirected: u64,
    pub dropped_table_full: u64,
    pub dropped_relays_full: u64,
}

/// One member's protocol state machine.
#[derive(Clone, Debug)]
pub struct Node {
    config: Arc<Config>,
    header_len: usize,
    me: Member,
    phase: Phase,
    members: Membership,
    gossip: Gossip,
    order: ProbeOrder,
    /// Push-pull partners: members alive or dead, round-robin in random passes.
    sync_order: ProbeOrder,
    /// Probes started this period, by sequence number.
    probes: BTreeMap<u32, Probe>,
    /// Indirect probes run for others, by our sequence number.
    relays: BTreeMap<u32, Relay>,
    next_seq: u32,
    health: Health,
    seeds: Vec<SocketAddr>,
    join_attempts_left: u32,
    /// Until this time (a join in progress), every live member we learn of from a sync is
    /// told about us directly, so a join storm converges in a round trip, not in gossip rounds.
    announce_until: Millis,
    /// When our last push-pull round ran (or we started): the next one is due a whole
    /// current sync interval later, which grows with the cluster.
    last_sync: Millis,
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
            && self.probes == other.probes
            && self.relays == other.relays
            && self.next_seq == other.next_seq
            && self.health == other.health
            && self.seeds == other.seeds
            && self.join_attempts_left == other.join_attempts_left
            && self.announce_until == other.announce_until
            && self.last_sync == other.last_sync
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
        self.seeds.hash(state);
        self.join_attempts_left.hash(state);
        self.announce_until.hash(state);
        self.last_sync.hash(state);
    }
}

impl Node {
    /// Start a node: it is alone, alive at incarnation 0, and arms its first probe tick (and
    /// sync round). Join a cluster with [`Command::Join`].
    pub fn new(
        config: Config,
        id: NodeId,
        addr: SocketAddr,
        meta: Meta,
        now: Millis,
        out: &mut Vec<Effect>,
    ) -> Result<Self, ConfigError> {
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
        let node = Node {
            header_len: header_len(&config.label),
            health: Health::new(config.max_health),
            config: Arc::new(config),
            me: Member::alive(id, addr, 0, meta),
            phase: Phase::Running,
            members: Membership::default(),
            gossip: Gossip::default(),
            order: ProbeOrder::default(),
            sync_order: ProbeOrder::default(),
            probes: BTreeMap::new(),
            relays: BTreeMap::new(),
            next_seq: 0,
            seeds: Vec::new(),
            join_attempts_left: 0,
            announce_until: 0,
            last_sync: now,
            stats: NodeStats::default(),
            faults: Faults::NONE,
        };
        node.arm_periodic(now, out);
        Ok(node)
    }

    // ----- inspection -----

    pub fn id(&self) -> NodeId {
        self.me.id
    }

    pub fn addr(&self) -> SocketAddr {
        self.me.addr
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

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

    /// Members believed in the cluster (not dead, not left), ourselves included: Lifeguard's `n`.
    pub fn cluster_size(&self) -> usize {
        self.members.live() + 1
    }

    /// The local health multiplier.
    pub fn health(&self) -> u8 {
        self.health.score()
    }

    pub fn stats(&self) -> NodeStats {
        self.stats
    }

    /// Run with these deliberate bugs (model checker tests only).
    #[cfg(swim_faults)]
    pub fn set_faults(&mut self, faults: Faults) {
        self.faults = faults;
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
        node.seeds = self.seeds.iter().map(|&a| addr(a)).collect();
        node
    }

    /// The dissemination queue.
    pub fn gossip(&self) -> &Gossip {
        &self.gossip
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

    /// Current push-pull period: `sync_interval`, scaled up with `log2 n` above 32 members.
    pub fn sync_interval(&self) -> Millis {
        let n = self.cluster_size();
        let base = self.config.sync_interval;
        if n <= 32 {
            return base;
        }
        let mult = ((n as f64).log2() - 32f64.log2()).ceil() as u64 + 1;
        base.saturating_mul(mult)
    }

    /// Deadline of the suspicion of `id`, if it is suspect here.
    pub fn suspicion_deadline(&self, id: NodeId) -> Option<Millis> {
        let rec = self.members.get(id)?;
        if rec.member.status != Status::Suspect {
            return None;
        }
        let bounds = Bounds::new(&self.config, self.cluster_size());
        let confirmations = if self.faults.has(Fault::SuspicionIgnoresConfirmations) {
            0
        } else {
            rec.member.suspecters.len().saturating_sub(1)
        };
        Some(rec.since.saturating_add(bounds.timeout(confirmations)))
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
        let Message {
            from: sender,
            body,
            gossip,
        } = msg;
        for update in gossip {
            self.apply(now, update, rng, out);
        }
        if !matches!(self.phase, Phase::Running | Phase::Leaving) {
            return; // the gossip told us we are dead
        }
        match body {
            Body::Ping { seq, target } => {
                if target == self.me.id {
                    self.send(from, Some(sender), Body::Ack { seq }, out);
                } else {
                    self.stats.misdirected += 1;
                }
            }
            Body::PingReq {
                seq,
                target,
                target_addr,
            } => self.relay_probe(now, from, sender, seq, target, target_addr, out),
            Body::Ack { seq } => self.on_ack(seq, out),
            Body::Nack { seq } => {
                if let Some(p) = self.probes.get_mut(&seq)
                    && !p.acked
                    && !p.failed
                    && let Some(i) = p.awaiting.iter().position(|&h| h == sender)
                {
                    p.awaiting.swap_remove(i);
                    // Every helper reached us and none reached the target: the round is
                    // conclusive, so judge it now rather than at the end of the period.
                    if p.awaiting.is_empty() {
                        p.failed = true;
                        let probe = p.clone();
                        self.probe_failed(now, &probe, rng, out);
                    }
                }
            }
            Body::Sync { reply, members } => {
                for update in members {
                    let (id, addr) = (update.id, update.addr);
                    let announce = now < self.announce_until
                        && update.status == Status::Alive
                        && id != self.me.id
                        && addr != from
                        && self.members.get(id).is_none();
                    self.apply(now, update, rng, out);
                    if announce && self.member(id).is_some_and(|m| m.status == Status::Alive) {
                        out.push(self.sync_message(addr, false, vec![self.me.clone()]));
                    }
                }
                if reply && matches!(self.phase, Phase::Running | Phase::Leaving) {
                    self.send_view(from, false, out);
                }
            }
        }
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
            Timer::ProbeTimeout(seq) => self.probe_timeout_fired(seq, rng, out),
            Timer::Relay(seq) => self.relay_timer(now, seq, out),
            Timer::Suspicion(id) => self.suspicion_timer(now, id, rng, out),
            Timer::Sync => {
                // Armed when the cluster was smaller (a fresh node arms it alone, at the base
                // interval): wait out the interval the cluster has grown to.
                let due = self.last_sync + self.sync_interval();
                if now < due {
                    out.push(Effect::SetTimer {
                        timer: Timer::Sync,
                        at: due,
                    });
                } else {
                    self.sync_round(now, rng, out);
                }
            }
            Timer::JoinRetry => self.join_retry(now, out),
            Timer::LeaveDone => {
                if self.phase == Phase::Leaving {
                    self.finish_leave(out);
                }
            }
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
            Command::Join { seeds } => {
                let seeds: Vec<SocketAddr> =
                    seeds.into_iter().filter(|s| *s != self.me.addr).collect();
                if seeds.is_empty() {
                    return Err(CommandError::NoSeeds);
                }
                self.seeds = seeds;
                self.join_attempts_left = self.config.join_attempts.saturating_sub(1);
                self.contact_seeds(now, out);
            }
            Command::Leave => self.leave(now, rng, out),
            Command::SetMeta(meta) => {
                let len = meta.encoded_len();
                if len > self.config.max_meta_bytes {
                    return Err(CommandError::MetaTooLarge {
                        len,
                        max: self.config.max_meta_bytes,
                    });
                }
                self.me.meta = meta;
                self.me.incarnation += 1;
                self.gossip.enqueue(self.me.id);
            }
            Command::ConfirmDead(id) => {
                if id == self.me.id {
                    return Err(CommandError::IsSelf);
                }
                let rec = self
                    .members
                    .get(id)
                    .ok_or(CommandError::UnknownMember(id))?;
                if rec.member.status.is_terminal() {
                    return Err(CommandError::AlreadyDead(id));
                }
                let dead = rec.member.with_status(Status::Dead, rec.member.incarnation);
                self.apply(now, dead, rng, out);
            }
            Command::Rejoin { .. } => unreachable!("handled above"),
        }
        Ok(())
    }

    // ----- gossip -----

    /// Merge one record into the view: events, dissemination, probe order and suspicion
    /// timers follow from what changed.
    fn apply(
        &mut self,
        now: Millis,
        mut incoming: Member,
        rng: &mut dyn Pick,
        out: &mut Vec<Effect>,
    ) {
        if self.faults.has(Fault::AppliesGossipAboutSelf) && incoming.id == self.me.id {
            merge(&mut self.me, &incoming, usize::MAX);
            return;
        }
        if incoming.id == self.me.id {
            self.news_about_self(incoming, out);
            return;
        }
        if incoming.status == Status::Unreachable && !self.config.unreachable {
            incoming.status = Status::Dead;
        }
        if incoming.status == Status::Suspect {
            normalize_suspecters(&mut incoming.suspecters, self.suspecter_cap());
        } else {
            incoming.suspecters.clear();
        }
        let id = incoming.id;
        if self.members.is_purged(id) {
            return;
        }
        let cap = self.suspecter_cap();
        let Some(rec) = self.members.get_mut(id) else {
            if self.members.len() >= self.config.max_members {
                self.stats.dropped_table_full += 1;
                return;
            }
            let status = incoming.status;
            self.members.insert(incoming.clone(), now);
            self.gossip.enqueue(id);
            if !status.is_terminal() {
                self.order.insert(id, rng);
                out.push(Effect::Event(MemberEvent {
                    member: incoming,
                    from: None,
                    to: status,
                }));
                if status == Status::Suspect {
                    self.arm_suspicion(now, id, rng, out);
                }
            }
            return;
        };
        // Only an `alive -> alive` change of metadata is reported; compare before merging.
        let same_meta = rec.member.meta == incoming.meta;
        let merge = self.faults.merge_or(merge);
        match merge(&mut rec.member, &incoming, cap) {
            Merge::Stale => {}
            Merge::Confirmed => {
                self.gossip.enqueue(id);
                self.arm_suspicion(now, id, rng, out);
            }
            Merge::Advanced { from } => {
                let member = rec.member.clone();
                let to = member.status;
                self.members.status_changed(id, from, now);
                self.gossip.enqueue(id);
                if from == Status::Suspect && to != Status::Suspect {
                    out.push(Effect::CancelTimer {
                        timer: Timer::Suspicion(id),
                    });
                }
                let quiet = (from.is_terminal() && to.is_terminal())
                    || (from == to && to == Status::Alive && same_meta);
                if !quiet {
                    out.push(Effect::Event(MemberEvent {
                        member,
                        from: Some(from),
                        to,
                    }));
                }
                if to == Status::Suspect {
                    self.arm_suspicion(now, id, rng, out);
                }
            }
        }
    }

    /// Our own suspicion timer declared a member dead (or unreachable): tell every member we
    /// hold alive or suspect at once, one small sync datagram each, besides piggybacking it.
    /// The first suspecter's timer fires first and the others then hear the verdict from it and
    /// cancel theirs, so a death costs about `n` datagrams, and every view holds it one round
    /// trip after the first (gossip remains the fallback for a lost push).
    fn push_verdict(&mut self, id: NodeId, out: &mut Vec<Effect>) {
        let Some(rec) = self.members.get(id) else {
            return;
        };
        let verdict = &rec.member;
        for r in self.members.iter() {
            if matches!(r.member.status, Status::Alive | Status::Suspect) {
                out.push(self.sync_message(r.member.addr, false, vec![verdict.clone()]));
            }
        }
    }

    /// Gossip about ourselves is never applied: refute suspicions, leave when declared dead.
    fn news_about_self(&mut self, news: Member, out: &mut Vec<Effect>) {
        if self.phase != Phase::Running {
            return;
        }
        match news.status {
            Status::Alive => {}
            Status::Suspect | Status::Unreachable => {
                if self.faults.has(Fault::RefutesWithoutRaising) {
                    self.gossip.enqueue(self.me.id);
                    return;
                }
                if news.incarnation >= self.me.incarnation {
                    self.me.incarnation = news.incarnation.saturating_add(1);
                    self.health.apply(1);
                    self.stats.refutations += 1;
                }
                // Newer or older, our current `alive` is the answer.
                self.gossip.enqueue(self.me.id);
            }
            Status::Dead | Status::Left => {
                self.phase = Phase::Removed;
                self.stop_timers(out);
                out.push(Effect::Event(MemberEvent {
                    member: self.me.with_status(Status::Dead, self.me.incarnation),
                    from: Some(Status::Alive),
                    to: Status::Dead,
                }));
            }
        }
    }

    fn suspecter_cap(&self) -> usize {
        self.config.suspicion_confirmations + 1
    }

    /// Arm (or re-arm) the suspicion timer of `id` from its start and confirmations; expire it
    /// now if the deadline already passed.
    fn arm_suspicion(
        &mut self,
        now: Millis,
        id: NodeId,
        rng: &mut dyn Pick,
        out: &mut Vec<Effect>,
    ) {
        let Some(deadline) = self.suspicion_deadline(id) else {
            return;
        };
        if deadline <= now {
            self.suspicion_timer(now, id, rng, out);
        } else {
            out.push(Effect::SetTimer {
                timer: Timer::Suspicion(id),
                at: deadline,
            });
        }
    }

    fn suspicion_timer(
        &mut self,
        now: Millis,
        id: NodeId,
        rng: &mut dyn Pick,
        out: &mut Vec<Effect>,
    ) {
        let Some(deadline) = self.suspicion_deadline(id) else {
            return; // refuted or already dead: a stale timer
        };
        if self.faults.has(Fault::SuspicionNeverExpires) {
            return;
        }
        if deadline > now {
            out.push(Effect::SetTimer {
                timer: Timer::Suspicion(id),
                at: deadline,
            });
            return;
        }
        let rec = &self.members.get(id).expect("suspect member").member;
        let status = if self.config.unreachable {
            Status::Unreachable
        } else {
            Status::Dead
        };
        let verdict = rec.with_status(status, rec.incarnation);
        self.apply(now, verdict, rng, out);
        self.push_verdict(id, out);
    }

    // ----- sending -----

    /// Send `body` to `to`, filling the rest of the datagram with gossip. If the destination is
    /// suspect (or dead) here, its own record goes first without spending transmits (buddy
    /// system: it learns of the suspicion at once and can refute it).
    fn send(&mut self, to: SocketAddr, to_id: Option<NodeId>, body: Body, out: &mut Vec<Effect>) {
        let mut msg = Message {
            from: self.me.id,
            body,
            gossip: Vec::new(),
        };
        let base = self.header_len + encoded_len(&msg);
        let mut budget = Budget {
            free: self.config.max_datagram.saturating_sub(base),
            count: 0,
        };
        let mut buddy = None;
        if let Some(t) = to_id
            && let Some(rec) = self.members.get(t)
            && rec.member.status != Status::Alive
            && budget.take(encoded_len(&rec.member))
        {
            msg.gossip.push(rec.member.clone());
            buddy = Some(t);
        }
        let limit = retransmit_limit(self.config.retransmit_mult, self.cluster_size());
        let (me, members) = (&self.me, &self.members);
        let current = |id: NodeId| record(me, members, id);
        self.gossip
            .pack(&mut budget, limit, buddy, &current, &mut msg.gossip);
        out.push(Effect::Send { to, msg });
    }

    /// Our full view (ourselves and every record, tombstones included), split over as many
    /// sync datagrams as it takes. Only the first asks for a reply.
    fn send_view(&mut self, to: SocketAddr, reply: bool, out: &mut Vec<Effect>) {
        let empty = Message {
            from: self.me.id,
            body: Body::Sync {
                reply,
                members: Vec::new(),
            },
            gossip: Vec::new(),
        };
        let room = self
            .config
            .max_datagram
            .saturating_sub(self.header_len + encoded_len(&empty));
        let mut chunk: Vec<Member> = Vec::new();
        let mut budget = Budget {
            free: room,
            count: 0,
        };
        let mut first = true;
        let view: Vec<&Member> = self.members().collect();
        for member in view {
            let size = encoded_len(member);
            if !budget.take(size) {
                if !chunk.is_empty() {
                    out.push(self.sync_message(to, reply && first, std::mem::take(&mut chunk)));
                    first = false;
                }
                budget = Budget {
                    free: room,
                    count: 0,
                };
                if !budget.take(size) {
                    continue; // cannot happen with a validated config
                }
            }
            chunk.push(member.clone());
        }
        if !chunk.is_empty() {
            out.push(self.sync_message(to, reply && first, chunk));
        }
    }

    fn sync_message(&self, to: SocketAddr, reply: bool, members: Vec<Member>) -> Effect {
        Effect::Send {
            to,
            msg: Message {
                from: self.me.id,
                body: Body::Sync { reply, members },
                gossip: Vec::new(),
            },
        }
    }

    fn next_seq(&mut self) -> u32 {
        self.next_seq = self.next_seq.wrapping_add(1);
        self.next_seq
    }

    // ----- failure detection -----

    /// A protocol period ends and the next begins: judge last period's probes, purge old
    /// tombstones, probe the next `p` targets, arm the next tick at the LHM-scaled interval.
    fn tick(&mut self, now: Millis, rng: &mut dyn Pick, out: &mut Vec<Effect>) {
        let finished = std::mem::take(&mut self.probes);
        for (_, probe) in finished {
            if !probe.acked && !probe.failed {
                self.probe_failed(now, &probe, rng, out);
            }
        }
        self.members
            .purge(now, self.config.tombstone_ttl, self.config.purged_memory);
        if self.phase == Phase::Leaving && !self.gossip.contains(self.me.id) {
            self.finish_leave(out);
            return;
        }
        for _ in 0..self.config.direct_probes {
            let Some(target) = self.order.next_target(&self.members, rng) else {
                break;
            };
            if self.probes.values().any(|p| p.target == target) {
                break; // fewer members than probes per period
            }
            self.start_probe(now, target, out);
        }
        out.push(Effect::SetTimer {
            timer: Timer::Tick,
            at: now + self.probe_interval(),
        });
    }

    /// A probe got no ack: at the end of its period, or earlier once every helper nacked.
    /// Count it against our own health and suspect the target.
    fn probe_failed(
        &mut self,
        now: Millis,
        probe: &Probe,
        rng: &mut dyn Pick,
        out: &mut Vec<Effect>,
    ) {
        if self.phase != Phase::Running {
            return;
        }
        self.stats.probes_failed += 1;
        let silent_helpers = probe.awaiting.len() as i32;
        self.health.apply(1 + silent_helpers);
        if let Some(rec) = self.members.get(probe.target)
            && !rec.member.status.is_terminal()
        {
            let mut suspicion = rec.member.with_status(Status::Suspect, probe.incarnation);
            if self.faults.has(Fault::SuspectsAtHigherIncarnation) {
                suspicion.incarnation += 1;
            }
            suspicion.suspecters.push(self.me.id);
            self.stats.suspicions_raised += 1;
            self.apply(now, suspicion, rng, out);
        }
    }

    fn start_probe(&mut self, now: Millis, target: NodeId, out: &mut Vec<Effect>) {
        let rec = &self
            .members
            .get(target)
            .expect("probe target is known")
            .member;
        let (target_addr, incarnation) = (rec.addr, rec.incarnation);
        let seq = self.next_seq();
        self.probes.insert(
            seq,
            Probe {
                target,
                target_addr,
                incarnation,
                acked: false,
                failed: false,
                helpers: 0,
                awaiting: Vec::new(),
            },
        );
        self.stats.probes_sent += 1;
        self.send(target_addr, Some(target), Body::Ping { seq, target }, out);
        out.push(Effect::SetTimer {
            timer: Timer::ProbeTimeout(seq),
            at: now + self.probe_timeout(),
        });
    }

    /// No direct ack in time: ask `k` random alive members to probe the target for us, and
    /// ping it once more ourselves (memberlist's fallback ping, over UDP): on a lossy link a
    /// lost ping or ack is the usual cause, and a second direct try is one more independent
    /// path before the period ends (in the loss benchmark it cuts false suspicions about 6x).
    fn probe_timeout_fired(&mut self, seq: u32, rng: &mut dyn Pick, out: &mut Vec<Effect>) {
        let Some(probe) = self.probes.get(&seq) else {
            return;
        };
        if probe.acked {
            return;
        }
        let (target, target_addr) = (probe.target, probe.target_addr);
        let mut helpers: Vec<(NodeId, SocketAddr)> = self
            .members
            .iter()
            .filter(|r| r.member.status == Status::Alive && r.member.id != target)
            .map(|r| (r.member.id, r.member.addr))
            .collect();
        let k = choose(rng, &mut helpers, self.config.indirect_checks);
        for &(id, addr) in &helpers[..k] {
            self.stats.ping_reqs_sent += 1;
            self.send(
                addr,
                Some(id),
                Body::PingReq {
                    seq,
                    target,
                    target_addr,
                },
                out,
            );
        }
        self.send(target_addr, Some(target), Body::Ping { seq, target }, out);
        if let Some(probe) = self.probes.get_mut(&seq) {
            probe.helpers = k as u8;
            probe.awaiting = helpers[..k].iter().map(|&(id, _)| id).collect();
        }
    }

    fn on_ack(&mut self, seq: u32, out: &mut Vec<Effect>) {
        if let Some(relay) = self.relays.remove(&seq) {
            // Forward to the origin, even after our nack (a late ack still counts there).
            self.send(
                relay.origin,
                Some(relay.origin_id),
                Body::Ack {
                    seq: relay.origin_seq,
                },
                out,
            );
            out.push(Effect::CancelTimer {
                timer: Timer::Relay(seq),
            });
            return;
        }
        if self.faults.has(Fault::IgnoresAcks) {
            return;
        }
        if let Some(probe) = self.probes.get_mut(&seq)
            && !probe.acked
            && !probe.failed
        {
            probe.acked = true;
            self.health.apply(-1);
            out.push(Effect::CancelTimer {
                timer: Timer::ProbeTimeout(seq),
            });
        }
    }

    /// Someone asks us to probe `target` on their behalf.
    #[allow(clippy::too_many_arguments)]
    fn relay_probe(
        &mut self,
        now: Millis,
        origin: SocketAddr,
        origin_id: NodeId,
        origin_seq: u32,
        target: NodeId,
        target_addr: SocketAddr,
        out: &mut Vec<Effect>,
    ) {
        if self.phase != Phase::Running {
            return;
        }
        if self.relays.len() >= self.config.max_relays {
            self.stats.dropped_relays_full += 1;
            return;
        }
        let seq = self.next_seq();
        self.relays.insert(
            seq,
            Relay {
                origin,
                origin_id,
                origin_seq,
                nacked: false,
            },
        );
        self.send(target_addr, Some(target), Body::Ping { seq, target }, out);
        out.push(Effect::SetTimer {
            timer: Timer::Relay(seq),
            at: now + self.config.probe_timeout * 8 / 10,
        });
    }

    /// First firing: nack the origin. Second firing (a period later): forget the relay.
    fn relay_timer(&mut self, now: Millis, seq: u32, out: &mut Vec<Effect>) {
        let Some(relay) = self.relays.get_mut(&seq) else {
            return;
        };
        if relay.nacked {
            self.relays.remove(&seq);
            return;
        }
        relay.nacked = true;
        let (origin, origin_id, origin_seq) = (relay.origin, relay.origin_id, relay.origin_seq);
        self.stats.nacks_sent += 1;
        self.send(origin, Some(origin_id), Body::Nack { seq: origin_seq }, out);
        out.push(Effect::SetTimer {
            timer: Timer::Relay(seq),
            at: now + self.config.probe_interval,
        });
    }

    // ----- anti-entropy, join, leave -----

    fn sync_round(&mut self, now: Millis, rng: &mut dyn Pick, out: &mut Vec<Effect>) {
        self.last_sync = now;
        if self.phase == Phase::Running {
            // Alive members, and the dead while their tombstone lasts ("gossip to the dead"):
            // a member declared dead that never heard of it would otherwise keep running with
            // a view that never converges (after a partition both sides hold the other dead).
            // Partners in a round-robin of random passes, not drawn afresh each round: every partner
            // comes up within two passes, so a change held by any member reaches every member
            // in a bounded number of rounds (with independent draws a node can keep missing
            // the members that know; the model checker found such a four-node run).
            let me = self.me.addr;
            let partner = self.sync_order.next_where(&self.members, rng, |m| {
                matches!(m.status, Status::Alive | Status::Dead) && m.addr != me
            });
            if let Some(to) = partner.and_then(|id| self.members.get(id)) {
                let to = to.member.addr;
                self.send_view(to, true, out);
            }
        }
        out.push(Effect::SetTimer {
            timer: Timer::Sync,
            at: now + self.sync_interval(),
        });
    }

    fn contact_seeds(&mut self, now: Millis, out: &mut Vec<Effect>) {
        self.announce_until = now + 2 * self.config.probe_interval;
        for seed in self.seeds.clone() {
            self.send_view(seed, true, out);
        }
        if self.join_attempts_left > 0 {
            out.push(Effect::SetTimer {
                timer: Timer::JoinRetry,
                at: now + self.config.join_retry_interval,
            });
        }
    }

    fn join_retry(&mut self, now: Millis, out: &mut Vec<Effect>) {
        if self.phase != Phase::Running || self.members.live() > 0 || self.join_attempts_left == 0 {
            self.seeds.clear();
            self.join_attempts_left = 0;
            return;
        }
        self.join_attempts_left -= 1;
        self.contact_seeds(now, out);
    }

    fn leave(&mut self, now: Millis, rng: &mut dyn Pick, out: &mut Vec<Effect>) {
        self.phase = Phase::Leaving;
        self.me.incarnation += 1;
        self.me.status = Status::Left;
        self.gossip.enqueue(self.me.id);
        // Tell k members directly; probes and acks carry the rest.
        let mut peers: Vec<(NodeId, SocketAddr)> = self
            .members
            .iter()
            .filter(|r| r.member.status == Status::Alive)
            .map(|r| (r.member.id, r.member.addr))
            .collect();
        let k = choose(rng, &mut peers, self.config.indirect_checks.max(1));
        for &(_, addr) in &peers[..k] {
            out.push(self.sync_message(addr, false, vec![self.me.clone()]));
        }
        if self.members.live() == 0 {
            self.finish_leave(out);
            return;
        }
        out.push(Effect::SetTimer {
            timer: Timer::LeaveDone,
            at: now + self.config.leave_timeout,
        });
    }

    fn finish_leave(&mut self, out: &mut Vec<Effect>) {
        self.phase = Phase::Left;
        self.stop_timers(out);
        out.push(Effect::Event(MemberEvent {
            member: self.me.clone(),
            from: Some(Status::Alive),
            to: Status::Left,
        }));
    }

    fn rejoin(
        &mut self,
        now: Millis,
        id: NodeId,
        rng: &mut dyn Pick,
        out: &mut Vec<Effect>,
    ) -> Result<(), CommandError> {
        if matches!(self.phase, Phase::Running | Phase::Leaving) {
            return Err(CommandError::StillMember);
        }
        if id == self.me.id {
            return Err(CommandError::SameId);
        }
        // Our old self is dead for ever; remember it like any tombstone (a `left` record stays
        // `left`: our view of the old id only moves up the lattice).
        let old = if self.me.status.is_terminal() {
            self.me.clone()
        } else {
            self.me.with_status(Status::Dead, self.me.incarnation)
        };
        if self.members.len() < self.config.max_members {
            self.members.insert(old, now);
        }
        let mut seeds: Vec<SocketAddr> = self
            .members
            .iter()
            .filter(|r| !r.member.status.is_terminal())
            .map(|r| r.member.addr)
            .collect();
        for seed in std::mem::take(&mut self.seeds) {
            if !seeds.contains(&seed) {
                seeds.push(seed);
            }
        }
        self.me = Member::alive(id, self.me.addr, 0, self.me.meta.clone());
        self.phase = Phase::Running;
        self.gossip = Gossip::default();
        self.probes.clear();
        self.relays.clear();
        self.health = Health::new(self.config.max_health);
        self.arm_periodic(now, out);
        // Suspicions still pending lost their timers when we stopped: resume them.
        let suspects: Vec<NodeId> = self
            .members
            .iter()
            .filter(|r| r.member.status == Status::Suspect)
            .map(|r| r.member.id)
            .collect();
        for suspect in suspects {
            self.arm_suspicion(now, suspect, rng, out);
        }
        if !seeds.is_empty() {
            self.seeds = seeds;
            self.join_attempts_left = self.config.join_attempts.saturating_sub(1);
            self.contact_seeds(now, out);
        }
        Ok(())
    }

    fn arm_periodic(&self, now: Millis, out: &mut Vec<Effect>) {
        out.push(Effect::SetTimer {
            timer: Timer::Tick,
            at: now + self.probe_interval(),
        });
        if self.config.sync_interval > 0 {
            out.push(Effect::SetTimer {
                timer: Timer::Sync,
                at: now + self.sync_interval(),
            });
        }
    }

    /// Cancel every timer this node may have armed: it stops taking part.
    fn stop_timers(&mut self, out: &mut Vec<Effect>) {
        let mut timers = vec![Timer::Tick, Timer::Sync, Timer::JoinRetry, Timer::LeaveDone];
        timers.extend(self.probes.keys().map(|&s| Timer::ProbeTimeout(s)));
        timers.extend(self.relays.keys().map(|&s| Timer::Relay(s)));
        timers.extend(
            self.members
                .iter()
                .filter(|r| r.member.status == Status::Suspect)
                .map(|r| Timer::Suspicion(r.member.id)),
        );
        self.probes.clear();
        self.relays.clear();
        self.seeds.clear();
        self.join_attempts_left = 0;
        self.announce_until = 0;
        self.last_sync = 0;
        out.extend(
            timers
                .into_iter()
                .map(|timer| Effect::CancelTimer { timer }),
        );
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
