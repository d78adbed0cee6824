//! The properties the checker proves (PROTOCOL.md §9), as named predicates over one state.
//!
//! Safety properties are stateright `always` properties, checked on every reachable state.
//! Those about transitions (monotone views, no resurrection, and the rules of
//! [`super::rules`]) read flags that the step breaking the rule sets ([`super::Ghost`]). Convergence and completeness are *bounded*: the model ends
//! every run with a fault-free stretch ([`super::Setup::settle`]) and they are written
//! `always(at rest => converged)` and `always(now >= crash + D => dead)`; stateright's
//! `eventually` is not used (in 0.31 it misses counterexamples on cycles and merged paths).
//!
//! Reachability properties are `sometimes` properties: each shows that a rule is exercised, so
//! that no safety property holds vacuously.

use stateright::Property;

use super::{
    Host, Life, Setup, State, SwimModel, UserLog, generation, index_of, moved_addr, node_id_in,
};
use swim_checked_core::status::precedence;
use swim_checked_core::suspicion::Bounds;
use swim_checked_core::{Member, MemberEvent, Node, Status, Timer};

/// Safety (`always`) or reachability (`sometimes`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Safety,
    Reachability,
}

/// One property: its name (as reported), what it says, and when it applies.
#[derive(Clone, Copy, Debug)]
pub struct PropertyInfo {
    pub name: &'static str,
    pub kind: Kind,
    /// One line: what it proves.
    pub about: &'static str,
    /// Whether the setup can exercise it (otherwise it is reported "n/a").
    pub applies: fn(&Setup) -> bool,
    pub condition: fn(&SwimModel, &State) -> bool,
}

pub const MONOTONE_VIEWS: &str = "monotone views";
pub const NO_RESURRECTION: &str = "no resurrection";
pub const SELF_VIEW: &str = "self view";
pub const INCARNATION_AUTHORITY: &str = "incarnation authority";
pub const ACCURACY: &str = "accuracy (reliable network)";
pub const CONVERGENCE: &str = "convergence at rest";
pub const HEAL: &str = "heal at rest";
pub const CUT_ALONE: &str = "only the cut node re-identifies";
pub const COMPLETENESS: &str = "completeness";
pub const LOCAL_HEALTH: &str = "local health";
pub const SUSPICION_DEADLINE: &str = "suspicion deadline";
pub const RETRANSMIT_LIMIT: &str = "retransmit limit";
pub const BUDDY_FIRST: &str = "buddy first";
pub const SYNC_NEVER_LOWERS: &str = "push-pull never lowers";
pub const PROBE_ROUND_ROBIN: &str = "probe round-robin";
pub const ZONE_HELPERS: &str = "helpers by zone";
pub const HELPERS_ONCE: &str = "helpers asked once a probe";
pub const NACKS_CONCLUDE: &str = "nacks conclude a round";
pub const NO_AMPLIFICATION: &str = "no amplification";
pub const BOUNDED_INTAKE: &str = "bounded intake";
pub const BROADCAST_ONCE: &str = "broadcast delivered once";
pub const USER_AS_SENT: &str = "application data as sent";
pub const BROADCAST_SENDS: &str = "broadcast sends";
pub const REACH_CONVERGED: &str = "converged at rest";
pub const REACH_REFUTED: &str = "false suspicion refuted";
pub const REACH_DEAD: &str = "crashed node declared dead";
pub const REACH_CONFIRMED: &str = "confirmation shortens suspicion";
pub const REACH_NACK: &str = "nack received";
pub const REACH_LEFT: &str = "member left";
pub const REACH_META: &str = "metadata spread";
pub const REACH_DEADLINE: &str = "completeness deadline reached";
pub const REACH_REJOINED: &str = "member rejoined";
pub const REACH_LIVE_DEAD: &str = "live node declared dead";
pub const REACH_UNREACHABLE_REFUTED: &str = "refuted from unreachable";
pub const REACH_CONFIRMED_DEAD: &str = "unreachable confirmed dead";
pub const REACH_HEALTH_2: &str = "health reached 2";
pub const REACH_SILENT_HELPER: &str = "silent helper counted";
pub const REACH_TOMBSTONE_EXPIRED: &str = "tombstone expired";
pub const REACH_PURGED_GOSSIPED: &str = "purged id gossiped again";
pub const REACH_LEAVE_RACE: &str = "leave races a verdict";
pub const REACH_META_REFUTED: &str = "metadata races a refutation";
pub const REACH_AUTO_REJOINED: &str = "declared dead, rejoined by itself";
pub const REACH_HELD: &str = "suspicion held by a cut-off node";
pub const REACH_NEAR_PASS: &str = "near pass leaves a far member out";
pub const REACH_HELPER_RANKED: &str = "helper from another zone chosen";
pub const REACH_LATER_ROUND: &str = "later round asks a new helper";
pub const REACH_WAITING_PROBED: &str = "member that never answered probed aside";
pub const REACH_REFUSED_LEARNT: &str = "member refused at intake learnt later";
pub const REACH_STRANGER_VALIDATED: &str = "stranger's address validated";
pub const REACH_MOVED: &str = "restarted member learnt at its new address";
pub const REACH_BROADCAST_EVERYWHERE: &str = "broadcast delivered everywhere";
pub const REACH_BROADCAST_SEEN: &str = "seen broadcast ignored";
pub const REACH_BROADCAST_PUSHED_OUT: &str = "broadcast pushed out of a full queue";

/// Every property, safety first, in report order.
pub const PROPERTIES: &[PropertyInfo] = &[
    PropertyInfo {
        name: MONOTONE_VIEWS,
        kind: Kind::Safety,
        about: "a node's record of a member only moves up the lattice",
        applies: |_| true,
        condition: |_, s| !s.ghost.moved_down,
    },
    PropertyInfo {
        name: NO_RESURRECTION,
        kind: Kind::Safety,
        about: "once a node holds a member dead, never alive or suspect again",
        applies: |_| true,
        condition: |_, s| !s.ghost.resurrected,
    },
    PropertyInfo {
        name: SELF_VIEW,
        kind: Kind::Safety,
        about: "a running node holds itself alive at its own incarnation",
        applies: |_| true,
        condition: self_view,
    },
    PropertyInfo {
        name: INCARNATION_AUTHORITY,
        kind: Kind::Safety,
        about: "nobody holds an incarnation of m above m's own",
        applies: |_| true,
        condition: incarnation_authority,
    },
    PropertyInfo {
        name: ACCURACY,
        kind: Kind::Safety,
        about: "no loss, crash or pause: no member is ever suspected",
        applies: Setup::is_reliable,
        condition: accuracy,
    },
    PropertyInfo {
        name: CONVERGENCE,
        kind: Kind::Safety,
        about: "at rest (no step left), all members hold the same view",
        applies: |_| true,
        condition: |m, s| !at_rest(m, s) || converged(s),
    },
    PropertyInfo {
        name: HEAL,
        kind: Kind::Safety,
        about: "at rest after a partition, every up node runs and every other holds it alive at its generation",
        applies: |s| s.partition.is_some(),
        condition: |m, s| m.setup.partition.is_none() || !at_rest(m, s) || healed(s),
    },
    PropertyInfo {
        name: CUT_ALONE,
        kind: Kind::Safety,
        about: "a one-node partition: no node but the cut one ever leaves its first generation",
        applies: |s| s.partition.is_some(),
        condition: |m, s| {
            let Some(cut) = m.setup.partition.map(|p| p.node) else {
                return true;
            };
            (s.hosts.iter().enumerate())
                .all(|(i, h)| i == cut || h.node.local_member().generation == 0)
        },
    },
    PropertyInfo {
        name: COMPLETENESS,
        kind: Kind::Safety,
        about: "D after a crash and the last fault, every member holds it dead",
        applies: |s| s.crashes > 0,
        condition: completeness,
    },
    PropertyInfo {
        name: LOCAL_HEALTH,
        kind: Kind::Safety,
        about: "health stays in 0..=S, moved only by own probes and refutations",
        applies: |_| true,
        condition: |_, s| !s.ghost.health_misused,
    },
    PropertyInfo {
        name: SUSPICION_DEADLINE,
        kind: Kind::Safety,
        about: "every suspicion timer is armed at Lifeguard's start + timeout(n, c), the start being when the suspicion began",
        applies: |_| true,
        condition: |_, s| !s.ghost.suspicion_misarmed,
    },
    PropertyInfo {
        name: RETRANSMIT_LIMIT,
        kind: Kind::Safety,
        about: "no update is piggybacked more than mult x ceil(log10(n + 1)) times",
        applies: |_| true,
        condition: |_, s| !s.ghost.over_retransmitted,
    },
    PropertyInfo {
        name: BUDDY_FIRST,
        kind: Kind::Safety,
        about: "a message to a member held suspect carries that record first (buddy system off: only as queued gossip)",
        applies: |_| true,
        condition: |_, s| !s.ghost.buddy_missing,
    },
    PropertyInfo {
        name: SYNC_NEVER_LOWERS,
        kind: Kind::Safety,
        about: "a push-pull exchange never moves a record down the lattice",
        applies: |_| true,
        condition: |_, s| !s.ghost.sync_lowered,
    },
    PropertyInfo {
        name: PROBE_ROUND_ROBIN,
        kind: Kind::Safety,
        about: "live members are probed once a pass: at most 2n-1 periods apart",
        applies: |_| true,
        condition: |_, s| !s.ghost.probe_order_broken,
    },
    PropertyInfo {
        name: ZONE_HELPERS,
        kind: Kind::Safety,
        about: "zone-aware helpers: no helper is asked over a live one sharing fewer fates",
        applies: |s| s.core.zone_helpers,
        condition: |_, s| !s.ghost.helpers_misranked,
    },
    PropertyInfo {
        name: HELPERS_ONCE,
        kind: Kind::Safety,
        about: "a later indirect round asks only helpers no earlier round of its probe asked",
        applies: |s| s.core.indirect_rounds > 1,
        condition: |_, s| !s.ghost.helpers_reasked,
    },
    PropertyInfo {
        name: NACKS_CONCLUDE,
        kind: Kind::Safety,
        about: "a probe fails at the nack that leaves no helper awaited in its only round, not before",
        applies: |s| s.nodes >= 3,
        condition: |_, s| !s.ghost.nack_misjudged,
    },
    PropertyInfo {
        name: NO_AMPLIFICATION,
        kind: Kind::Safety,
        about: "an address that has not proved it receives a node's datagrams gets at most amplification_factor x the bytes it sent, and never the view",
        applies: |_| true,
        condition: |_, s| !s.ghost.amplified,
    },
    PropertyInfo {
        name: BOUNDED_INTAKE,
        kind: Kind::Safety,
        about: "a datagram from a source that never answered introduces at most max_new_per_datagram members; at most max_unanswered are held",
        applies: |s| s.core.intake_bounds_act(),
        condition: |_, s| !s.ghost.intake_unbounded,
    },
    PropertyInfo {
        name: BROADCAST_ONCE,
        kind: Kind::Safety,
        about: "a node delivers each broadcast but its own once, the first time it arrives",
        applies: user_data_judged,
        condition: |_, s| !s.ghost.user_misdelivered,
    },
    PropertyInfo {
        name: USER_AS_SENT,
        kind: Kind::Safety,
        about: "what a node delivers is what its datagram carried, from the sender that sent it",
        applies: user_data_judged,
        condition: |_, s| !s.ghost.user_forged,
    },
    PropertyInfo {
        name: BROADCAST_SENDS,
        kind: Kind::Safety,
        about: "a running node passes on what it delivers and gossips while any waits, each at most user_mult x ceil(log10(n + 1)) times; none once leaving",
        applies: user_data_judged,
        condition: |_, s| !s.ghost.user_missent && gossip_timer_runs(s),
    },
    PropertyInfo {
        name: REACH_CONVERGED,
        kind: Kind::Reachability,
        about: "a run reaches rest with all views equal",
        applies: |_| true,
        condition: |m, s| at_rest(m, s) && converged(s),
    },
    PropertyInfo {
        name: REACH_REFUTED,
        kind: Kind::Reachability,
        about: "a live member refutes a suspicion and others see it alive again",
        applies: false_suspicion_possible,
        condition: refuted,
    },
    PropertyInfo {
        name: REACH_DEAD,
        kind: Kind::Reachability,
        about: "a crashed node is declared dead",
        applies: |s| s.crashes > 0,
        condition: crashed_declared_dead,
    },
    PropertyInfo {
        name: REACH_CONFIRMED,
        kind: Kind::Reachability,
        about: "a Lifeguard confirmation brings a suspicion timeout forward",
        applies: |s| s.nodes >= 3 && s.crashes > 0 && s.core.lifeguard_dynamic_suspicion,
        condition: confirmation_shortens,
    },
    PropertyInfo {
        name: REACH_NACK,
        kind: Kind::Reachability,
        about: "a helper's nack reaches the prober",
        applies: |s| s.nodes >= 3 && (s.crashes > 0 || s.pauses > 0 || s.drops >= 2),
        condition: nack_received,
    },
    PropertyInfo {
        name: REACH_LEFT,
        kind: Kind::Reachability,
        about: "a member leaves and another holds it left",
        applies: |s| s.leaves > 0,
        condition: member_left,
    },
    PropertyInfo {
        name: REACH_META,
        kind: Kind::Reachability,
        about: "a metadata change reaches another member",
        applies: |s| s.meta_changes > 0,
        condition: metadata_spread,
    },
    PropertyInfo {
        name: REACH_DEADLINE,
        kind: Kind::Reachability,
        about: "a run lasts D past a crash (completeness is not vacuous)",
        applies: |s| s.crashes > 0,
        condition: deadline_reached,
    },
    PropertyInfo {
        name: REACH_REJOINED,
        kind: Kind::Reachability,
        about: "a member rejoins under a new id; another holds it alive, its old id gone",
        applies: |s| s.rejoins > 0 && s.leaves > 0,
        condition: rejoined,
    },
    PropertyInfo {
        name: REACH_LIVE_DEAD,
        kind: Kind::Reachability,
        about: "a running node is held dead by another (no resurrection is tested)",
        applies: long_pause,
        condition: live_declared_dead,
    },
    PropertyInfo {
        name: REACH_UNREACHABLE_REFUTED,
        kind: Kind::Reachability,
        about: "a node held unreachable refutes it and is held alive again",
        applies: |s| s.core.unreachable && long_pause(s),
        condition: |_, s| s.ghost.marks.refuted_unreachable,
    },
    PropertyInfo {
        name: REACH_CONFIRMED_DEAD,
        kind: Kind::Reachability,
        about: "the application confirms an unreachable member dead",
        applies: |s| s.core.unreachable && long_pause(s),
        condition: confirmed_dead,
    },
    PropertyInfo {
        name: REACH_HEALTH_2,
        kind: Kind::Reachability,
        about: "a node's local health reaches 2 (+1 and +2 are told apart)",
        applies: |s| health_can_reach(s, 2) && s.nodes >= 3 && s.crashes > 0,
        condition: |_, s| s.hosts.iter().any(|h| h.node.health() >= 2),
    },
    PropertyInfo {
        name: REACH_SILENT_HELPER,
        kind: Kind::Reachability,
        about: "a helper that stays silent costs the prober one more health point",
        applies: |s| health_can_reach(s, 2) && s.nodes >= 3 && s.crashes > 0 && s.drops > 0,
        condition: |_, s| s.ghost.marks.silent_helper,
    },
    PropertyInfo {
        name: REACH_TOMBSTONE_EXPIRED,
        kind: Kind::Reachability,
        about: "a tombstone expires and its id is purged",
        applies: tombstones_expire,
        condition: |_, s| {
            s.hosts.iter().filter(|h| h.participates()).any(|h| {
                (0..s.hosts.len()).any(|j| (0..=1).any(|g| h.node.is_purged(node_id_in(j, g))))
            })
        },
    },
    PropertyInfo {
        name: REACH_PURGED_GOSSIPED,
        kind: Kind::Reachability,
        about: "a record of a purged id arrives again (and is ignored)",
        applies: |s| tombstones_expire(s) && s.nodes >= 3,
        condition: |_, s| s.ghost.marks.purged_gossiped,
    },
    PropertyInfo {
        name: REACH_LEAVE_RACE,
        kind: Kind::Reachability,
        about: "a leaving node is suspected or declared dead meanwhile",
        applies: |s| s.leaves > 0 && false_suspicion_possible(s),
        condition: leave_races_verdict,
    },
    PropertyInfo {
        name: REACH_META_REFUTED,
        kind: Kind::Reachability,
        about: "a node changes metadata and refutes; both spread",
        applies: |s| s.meta_changes > 0 && false_suspicion_possible(s),
        condition: metadata_and_refutation,
    },
    PropertyInfo {
        name: REACH_AUTO_REJOINED,
        kind: Kind::Reachability,
        about: "a node declared dead rejoins at its next generation and another holds it alive",
        applies: |s| s.core.auto_rejoin && s.partition.is_some(),
        condition: auto_rejoined,
    },
    PropertyInfo {
        name: REACH_HELD,
        kind: Kind::Reachability,
        about: "a suspicion runs out while its holder's probes all fail, and starts over",
        applies: |s| s.core.isolation_hold,
        condition: |_, s| s.ghost.marks.held,
    },
    PropertyInfo {
        name: REACH_NEAR_PASS,
        kind: Kind::Reachability,
        about: "a probe pass holds only near members while a far one is live",
        applies: |s| s.core.far_pass_every > 1 && s.zones > 1,
        condition: |_, s| s.ghost.marks.near_pass,
    },
    PropertyInfo {
        name: REACH_HELPER_RANKED,
        kind: Kind::Reachability,
        about: "a failed probe asks a helper over one sharing more fates",
        applies: |s| s.core.zone_helpers && s.zones > 1,
        condition: |_, s| s.ghost.marks.helper_ranked,
    },
    PropertyInfo {
        name: REACH_LATER_ROUND,
        kind: Kind::Reachability,
        about: "a failed probe's second indirect round asks a helper",
        applies: |s| s.core.indirect_rounds > 1,
        condition: |_, s| s.ghost.marks.later_round,
    },
    PropertyInfo {
        name: REACH_WAITING_PROBED,
        kind: Kind::Reachability,
        about: "members that never answered outnumber the rest: one is probed in the extra slot",
        applies: |s| s.core.max_unanswered > s.core.unanswered_free && s.core.intake_bounds_act(),
        condition: |_, s| s.ghost.marks.waiting_probed,
    },
    PropertyInfo {
        name: REACH_REFUSED_LEARNT,
        kind: Kind::Reachability,
        about: "a node refused a member's record at intake, and holds every node later",
        applies: |s| s.core.max_unanswered + 1 < s.nodes && s.core.intake_bounds_act(),
        condition: refused_learnt,
    },
    PropertyInfo {
        name: REACH_STRANGER_VALIDATED,
        kind: Kind::Reachability,
        about: "a rejoin from an address nobody holds: a seed's validation ping is answered",
        applies: |s| {
            (s.rejoins > 0 && s.core.tombstone_ttl != swim_checked_core::config::NEVER)
                || s.restarts > 0
        },
        condition: |_, s| (s.hosts.iter()).any(|h| h.node.stats().strangers_validated > 0),
    },
    PropertyInfo {
        name: REACH_MOVED,
        kind: Kind::Reachability,
        about: "a crashed node restarts at another address; another node holds it alive there",
        applies: |s| s.restarts > 0,
        condition: |_, s| {
            (s.hosts.iter()).any(|h| {
                h.is_running()
                    && h.node.members().any(|m| {
                        m.id != h.node.id()
                            && m.status == Status::Alive
                            && index_of(m.id).is_some_and(|i| m.addr == moved_addr(i))
                    })
            })
        },
    },
    PropertyInfo {
        name: REACH_BROADCAST_EVERYWHERE,
        kind: Kind::Reachability,
        about: "every node but its origin delivered a broadcast",
        applies: |s| s.broadcasts > 0 && user_data_judged(s),
        condition: delivered_everywhere,
    },
    PropertyInfo {
        name: REACH_BROADCAST_SEEN,
        kind: Kind::Reachability,
        about: "a broadcast arrived again where it was delivered or sent, and was ignored",
        applies: |s| s.broadcasts > 0 && user_data_judged(s),
        condition: |_, s| s.ghost.marks.broadcast_seen_again && !s.ghost.user_misdelivered,
    },
    PropertyInfo {
        name: REACH_BROADCAST_PUSHED_OUT,
        kind: Kind::Reachability,
        about: "a node's queue was full: a new broadcast pushed the most-sent one out",
        applies: |s| usize::from(s.broadcasts) > s.core.user_queue && user_data_judged(s),
        condition: |_, s| (s.hosts.iter()).any(|h| h.node.stats().user_dropped > 0),
    },
];

/// The properties as stateright sees them.
pub fn all() -> Vec<Property<SwimModel>> {
    PROPERTIES
        .iter()
        .map(|p| match p.kind {
            Kind::Safety => Property::always(p.name, p.condition),
            Kind::Reachability => Property::sometimes(p.name, p.condition),
        })
        .collect()
}

/// The description of a property by name.
pub fn info(name: &str) -> Option<&'static PropertyInfo> {
    PROPERTIES.iter().find(|p| p.name == name)
}

// ----- helpers -----

/// A node that refused a record because too many members never answered holds every node.
fn refused_learnt(model: &SwimModel, s: &State) -> bool {
    let n = model.setup.nodes;
    (s.hosts.iter()).any(|h| {
        h.node.stats().dropped_unanswered_full > 0
            && (0..n).all(|i| h.node.member(node_id_in(i, 0)).is_some())
    })
}

/// Whether the application-data rules judge the world (`rules::application`): it sends
/// application data, its nodes remember every broadcast's identity, and the ghost's log can
/// follow them all.
fn user_data_judged(s: &Setup) -> bool {
    (s.broadcasts > 0 || s.directs > 0)
        && usize::from(s.broadcasts) <= s.core.user_dedup.min(UserLog::BROADCASTS)
        && s.nodes <= UserLog::NODES
}

/// Every running node (up or paused) whose broadcasts wait has its gossip timer armed
/// (PROTOCOL.md §13): no broadcast is stranded in a queue.
fn gossip_timer_runs(s: &State) -> bool {
    (s.hosts.iter())
        .filter(|h| h.is_running() && !h.node.user_queue().is_empty())
        .all(|h| h.timers.get(Timer::Gossip).is_some())
}

/// Some broadcast was delivered by every node but one, its origin (which never delivers its
/// own: `broadcast delivered once`).
fn delivered_everywhere(model: &SwimModel, s: &State) -> bool {
    let n = s.hosts.len();
    (0..usize::from(model.setup.broadcasts))
        .any(|k| (0..n).filter(|&i| s.ghost.user.delivered(i, k)).count() + 1 == n)
}

/// Whether the faults can make a probe of a live member fail: both direct tries and the
/// indirect path must break (one helper per probe; none with two nodes, or with a crashed
/// helper).
fn false_suspicion_possible(s: &Setup) -> bool {
    s.pauses > 0 || s.drops >= 3 || (s.drops >= 2 && (s.nodes == 2 || s.crashes > 0))
}

/// No step of the protocol is left: nothing to deliver, nothing due, nobody paused, and the
/// next deadline (if any) lies past the horizon.
pub fn at_rest(model: &SwimModel, s: &State) -> bool {
    if model.ended_quiet(s) {
        return true;
    }
    !s.has_urgent_step()
        && s.hosts.iter().all(|h| h.life != Life::Paused)
        && s.next_instant().is_none_or(|t| t > model.setup.horizon)
}

/// What must agree between two views of a member: generation, status and incarnation, and the metadata
/// of a member still in the cluster. (A tombstone keeps whatever metadata its holder knew when
/// the verdict arrived, since terminal gossip travels without metadata: the walks found two
/// members disagreeing there forever, which is harmless.)
fn key(m: &Member) -> (u64, Status, u64, Option<&swim_checked_core::Meta>) {
    let meta = (!m.status.is_terminal()).then_some(&m.meta);
    (m.generation, m.status, m.incarnation, meta)
}

/// All members still in the cluster hold the same record (status, incarnation, metadata) of
/// every model node, under each id it has had.
pub fn converged(s: &State) -> bool {
    let live: Vec<&Host> = s.hosts.iter().filter(|h| h.participates()).collect();
    let Some((first, rest)) = live.split_first() else {
        return true;
    };
    let mut ids = s
        .hosts
        .iter()
        .enumerate()
        .flat_map(|(j, h)| (0..=generation(h.node.id())).map(move |g| node_id_in(j, g)));
    ids.all(|id| {
        let reference = first.node.member(id).map(key);
        rest.iter().all(|h| h.node.member(id).map(key) == reference)
    })
}

/// Heal at rest: every node that is up is running, and every other running node holds it
/// alive at its current generation.
fn healed(s: &State) -> bool {
    let up = || s.hosts.iter().filter(|h| h.life == Life::Up);
    up().all(|h| {
        let me = h.node.local_member();
        h.is_running()
            && up().filter(|k| k.node.id() != me.id).all(|k| {
                k.node
                    .member(me.id)
                    .is_some_and(|m| m.status == Status::Alive && m.generation == me.generation)
            })
    })
}

/// Some node runs at a generation above 0 and another running node holds it alive there.
fn auto_rejoined(_: &SwimModel, s: &State) -> bool {
    s.hosts.iter().filter(|h| h.is_running()).any(|h| {
        let me = h.node.local_member();
        me.generation > 0
            && s.hosts.iter().filter(|k| k.is_running()).any(|k| {
                k.node.id() != me.id
                    && k.node
                        .member(me.id)
                        .is_some_and(|m| m.status == Status::Alive && m.generation == me.generation)
            })
    })
}

/// The host that holds `id` now: its owner, unless the owner rejoined under another id since.
fn current_owner(s: &State, id: swim_checked_core::NodeId) -> Option<&Host> {
    index_of(id)
        .and_then(|j| s.hosts.get(j))
        .filter(|h| h.node.id() == id)
}

fn self_view(_: &SwimModel, s: &State) -> bool {
    s.hosts
        .iter()
        .filter(|h| h.is_running())
        .all(|h| holds_self_view(&h.node))
}

// ----- the rules on one node or one record, shared with the simulator (`crate::sim::online`) -----

/// Monotone views, on one record: `now` sits below `then` in the lattice.
pub fn moved_down(then: &Member, now: &Member) -> bool {
    precedence(now) < precedence(then)
}

/// No resurrection, on one record: a terminal record became live again at the same generation
/// (a new generation is the member's next life, not a resurrection).
pub fn resurrected(then: &Member, now: &Member) -> bool {
    then.status.is_terminal() && !now.status.is_terminal() && now.generation <= then.generation
}

/// No resurrection, on one event: a member went from terminal to live within one generation.
pub fn resurrecting_event(e: &MemberEvent) -> bool {
    e.previous_generation.is_none()
        && e.from.is_some_and(Status::is_terminal)
        && !e.to.is_terminal()
}

/// Self view, on one running node: every record it holds of its own id is `alive` at its own
/// incarnation. The table holds a record of the node's own id only if a rule put it there
/// (`status_since` looks in the table alone), so the whole view is read only then.
pub fn holds_self_view(node: &Node) -> bool {
    let me = node.local_member();
    let good = |m: &Member| m.status == Status::Alive && m.incarnation == me.incarnation;
    good(me)
        && (node.status_since(me.id).is_none()
            || node.members().filter(|m| m.id == me.id).all(good))
}

/// Incarnation authority, on one record: nobody holds a generation and incarnation of `m` above
/// the ones its owner holds (`own`: the owner's record of that id, if it is known).
pub fn within_authority(m: &Member, own: Option<&Member>) -> bool {
    own.is_none_or(|own| (m.generation, m.incarnation) <= (own.generation, own.incarnation))
}

/// The owner's own incarnation bounds everyone's: its current one for the id it holds, the
/// one it left with (kept in its own view when it rejoined) for an id it held before.
fn incarnation_authority(_: &SwimModel, s: &State) -> bool {
    s.hosts.iter().all(|h| {
        h.node.members().all(|m| {
            let Some(owner) = index_of(m.id).and_then(|j| s.hosts.get(j)) else {
                return true;
            };
            let own = if owner.node.id() == m.id {
                Some(owner.node.local_member())
            } else {
                owner.node.member(m.id)
            };
            within_authority(m, own)
        })
    })
}

fn accuracy(model: &SwimModel, s: &State) -> bool {
    if !model.setup.is_reliable() {
        return true;
    }
    s.hosts.iter().filter(|h| h.participates()).all(|h| {
        h.node.members().all(|m| {
            let suspected = matches!(
                m.status,
                Status::Suspect | Status::Unreachable | Status::Dead
            );
            !suspected || current_owner(s, m.id).is_none_or(|o| !o.participates())
        })
    })
}

/// When completeness starts to bind for the crashed host `c`, if it crashed.
pub(crate) fn completeness_deadline(model: &SwimModel, s: &State, c: &Host) -> Option<u64> {
    match c.life {
        Life::Crashed { at } => Some(at.max(s.ghost.last_disturbance) + model.detection_bound),
        _ => None,
    }
}

fn completeness(model: &SwimModel, s: &State) -> bool {
    s.hosts.iter().all(|c| {
        let Some(deadline) = completeness_deadline(model, s, c) else {
            return true;
        };
        if s.now < deadline {
            return true;
        }
        let detected = |m: &Member| {
            m.status.is_terminal()
                || (model.setup.core.unreachable && m.status == Status::Unreachable)
        };
        s.hosts.iter().filter(|h| h.participates()).all(|h| {
            let id = c.node.id();
            h.node.member(id).is_some_and(detected) || h.node.is_purged(id)
        })
    })
}

/// A run lasts `D` past a crash, or ends quiet with the crashed node dead everywhere (views
/// cannot change after that, so completeness holds to the deadline).
fn deadline_reached(model: &SwimModel, s: &State) -> bool {
    s.hosts.iter().any(|c| {
        completeness_deadline(model, s, c).is_some_and(|d| s.now >= d || model.ended_quiet(s))
    })
}

fn refuted(_: &SwimModel, s: &State) -> bool {
    s.hosts.iter().any(|target| {
        let me = target.node.local_member();
        // Only a refutation raises the incarnation of a running node that never changed its
        // metadata.
        target.is_running()
            && me.incarnation > 0
            && me.meta.is_empty()
            && s.hosts.iter().any(|h| {
                h.participates()
                    && h.node.id() != me.id
                    && h.node
                        .member(me.id)
                        .is_some_and(|m| m.status == Status::Alive && m.incarnation > 0)
            })
    })
}

/// With `unreachable` on, the protocol's verdict is `unreachable` (the application confirms).
fn crashed_declared_dead(model: &SwimModel, s: &State) -> bool {
    let verdict = if model.setup.core.unreachable {
        Status::Unreachable
    } else {
        Status::Dead
    };
    s.hosts.iter().any(|c| {
        matches!(c.life, Life::Crashed { .. })
            && s.hosts.iter().any(|h| {
                h.participates()
                    && h.node
                        .member(c.node.id())
                        .is_some_and(|m| m.status == verdict)
            })
    })
}

fn confirmation_shortens(_: &SwimModel, s: &State) -> bool {
    s.hosts.iter().filter(|h| h.participates()).any(|h| {
        h.node
            .members()
            .filter(|m| m.status == Status::Suspect)
            .any(|m| {
                let (Some(since), Some(at)) = (
                    h.node.status_since(m.id),
                    h.timers.get(Timer::Suspicion(m.id)),
                ) else {
                    return false;
                };
                let unconfirmed = Bounds::new(h.node.config(), h.node.cluster_size()).timeout(0);
                at < since + unconfirmed
            })
    })
}

fn nack_received(_: &SwimModel, s: &State) -> bool {
    s.hosts
        .iter()
        .any(|h| h.node.probes().values().any(|p| p.nacks() > 0))
}

fn member_left(_: &SwimModel, s: &State) -> bool {
    s.hosts.iter().filter(|h| h.participates()).any(|h| {
        h.node
            .members()
            .any(|m| m.id != h.node.id() && m.status == Status::Left)
    })
}

fn metadata_spread(_: &SwimModel, s: &State) -> bool {
    s.hosts.iter().filter(|h| h.participates()).any(|h| {
        h.node
            .members()
            .any(|m| m.id != h.node.id() && !m.meta.is_empty())
    })
}

fn rejoined(_: &SwimModel, s: &State) -> bool {
    s.hosts.iter().enumerate().any(|(j, r)| {
        let id = r.node.id();
        let g = generation(id);
        r.is_running()
            && g > 0
            && s.hosts.iter().any(|h| {
                h.participates()
                    && h.node.id() != id
                    && h.node.member(id).is_some_and(|m| m.status == Status::Alive)
                    && (h.node.member(node_id_in(j, g - 1))).is_some_and(|m| m.status.is_terminal())
            })
    })
}

/// Whether a node can stay paused past a whole suspicion of it: its peers' next probe, the
/// failure judged a period later, one more period of phase, then the unconfirmed timeout.
fn long_pause(s: &Setup) -> bool {
    let suspicion = Bounds::new(&s.core, s.nodes).timeout(0);
    s.pauses > 0 && s.disturb_until() >= 3 * s.core.probe_interval + suspicion
}

/// Whether the local health multiplier can reach `score` (the local health aware probe is on
/// and its cap allows it).
fn health_can_reach(s: &Setup, score: u8) -> bool {
    s.core.lifeguard_local_health && s.core.max_health >= score
}

/// Whether tombstones can expire inside a run: a death (or leave) and a TTL shorter than the
/// horizon.
fn tombstones_expire(s: &Setup) -> bool {
    s.core.tombstone_ttl < s.horizon && (s.crashes > 0 || s.leaves > 0)
}

/// A node that is still running (paused, maybe) is held dead by a member: the verdict was
/// wrong, and every record of it that arrives later must leave it dead.
fn live_declared_dead(_: &SwimModel, s: &State) -> bool {
    s.hosts.iter().any(|target| {
        let id = target.node.id();
        target.is_running()
            && s.hosts.iter().any(|h| {
                h.participates()
                    && h.node.id() != id
                    && h.node.member(id).is_some_and(|m| m.status == Status::Dead)
            })
    })
}

/// With `unreachable` on, the protocol alone never says `dead`: a node holding a member dead
/// learnt it from an application's confirmation.
fn confirmed_dead(model: &SwimModel, s: &State) -> bool {
    model.setup.core.unreachable
        && s.hosts.iter().filter(|h| h.participates()).any(|h| {
            h.node
                .members()
                .any(|m| m.id != h.node.id() && m.status == Status::Dead)
        })
}

fn leave_races_verdict(_: &SwimModel, s: &State) -> bool {
    s.hosts.iter().any(|leaver| {
        let id = leaver.node.id();
        !matches!(leaver.life, Life::Crashed { .. })
            && leaver.node.phase() == swim_checked_core::Phase::Leaving
            && s.hosts.iter().any(|h| {
                h.participates()
                    && h.node.id() != id
                    && h.node.member(id).is_some_and(|m| {
                        matches!(
                            m.status,
                            Status::Suspect | Status::Unreachable | Status::Dead
                        )
                    })
            })
    })
}

/// A running node's incarnation went up twice, once for its one metadata change and once for
/// a refutation, and another member holds its latest record, metadata included.
fn metadata_and_refutation(_: &SwimModel, s: &State) -> bool {
    s.hosts.iter().any(|target| {
        let me = target.node.local_member();
        target.is_running()
            && me.incarnation >= 2
            && !me.meta.is_empty()
            && s.hosts.iter().any(|h| {
                h.participates()
                    && h.node.id() != me.id
                    && h.node.member(me.id).is_some_and(|m| {
                        m.status == Status::Alive
                            && m.incarnation == me.incarnation
                            && m.meta == me.meta
                    })
            })
    })
}
