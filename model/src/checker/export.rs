//! The conformance corpus (PROTOCOL.md §11): runs of the model chosen to cover everything it
//! reaches.
//!
//! Each export world is explored exhaustively, in shell order ([`Setup::shell_order`]), by a
//! plain depth-first search that remembers, for every [`Feature`] (a kind of step, a lattice
//! transition with its cause, a protocol behaviour such as a refutation), the first path that
//! shows it. The corpus is then chosen greedily: for each feature in order that no chosen
//! trace covers yet, its first path is completed to the end of the run (always taking the
//! first enabled input, so the trace ends at rest) and becomes a trace. Seeded random walks of
//! a four-node world are added on top. Everything is deterministic: the search order is the
//! model's input order and the walks are seeded, so two exports write identical files.
//!
//! A stateright `CheckerVisitor` would see the same paths, but 0.31 rebuilds each path from
//! fingerprints (re-running every step from the initial state) for every state it visits:
//! quadratic in the depth. The search here keeps its path on its stack instead.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;
use std::hash::BuildHasherDefault;
use std::time::Instant;

use super::walk::{SplitMix, walk_seed};
use super::{Action, Datagram, Outsider, Setup, State, SwimModel, Trace, UserCommand, stable_hash};
use swim_checked_core::status::precedence;
use swim_checked_core::{Body, Member, Message, Status, Timer};

/// One thing a step can show.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Feature {
    /// A kind of step: `deliver nack`, `timer suspicion`, `command leave`, `crash`, ...
    Step(String),
    /// A node's record of a member changed status (`from: None`: it learned of the member),
    /// and the kind of step that did it. Changes of incarnation at the same status count
    /// (`alive -> alive`: a refutation or a metadata change seen by a peer).
    Transition {
        from: Option<Status>,
        to: Status,
        cause: String,
    },
    /// A protocol behaviour worth a trace of its own.
    Behaviour(&'static str),
}

/// A node raised its own incarnation without being asked: it refuted a suspicion.
pub const REFUTATION: &str = "refutation";
/// A suspicion gained an independent suspecter (a Lifeguard confirmation).
pub const CONFIRMATION: &str = "suspicion confirmed";
/// A confirmation moved the suspicion timer earlier.
pub const SHORTENED: &str = "suspicion shortened by a confirmation";
/// A node started leaving, finished leaving, or learned the cluster removed it.
pub const LEAVING: &str = "phase running -> leaving";
pub const LEFT: &str = "phase leaving -> left";
pub const REMOVED: &str = "phase running -> removed";
/// A replay hands a node a record older than the one it holds (the node must ignore it).
pub const STALE_REPLAY: &str = "replay of an older record than the receiver holds";
/// A node that left or was removed came back under a new id.
pub const REJOINED: &str = "phase left -> running";
pub const REJOINED_REMOVED: &str = "phase removed -> running";
/// A node learnt it was declared dead and rejoined at its next generation by itself.
pub const AUTO_REJOINED: &str = "automatic rejoin at the next generation";
/// A node's record of another member moved to a new generation of it (a restart).
pub const RESTART_SEEN: &str = "member seen at a new generation";
/// A node held `unreachable` refuted it: a peer's record went back to `alive`.
pub const REFUTED_UNREACHABLE: &str = "refutation from unreachable";
/// A node suspected, or declared dead or unreachable, a member that was leaving.
pub const LEAVE_RACE: &str = "verdict on a leaving member";
/// A tombstone expired: the record is gone and its id purged.
pub const TOMBSTONE_EXPIRED: &str = "tombstone expired";
/// A failed probe took local health above 1.
pub const HEALTH_ABOVE_ONE: &str = "local health above 1";
/// A probe pass began that holds only the node's zone (PROTOCOL.md §15).
pub const NEAR_PASS: &str = "probe pass of the node's zone only";

/// A throttled node probed a member that never answered in the period's extra slot
/// (PROTOCOL.md §12).
pub const WAITING_PROBED: &str = "member that never answered probed in the extra slot";
/// A node that refused a record at intake (too many members never answered) learnt a
/// member.
pub const REFUSED_THEN_LEARNT: &str = "member learnt after a refusal at intake";
/// A node's validation ping to an address nobody held was answered (PROTOCOL.md §12).
pub const STRANGER_VALIDATED: &str = "stranger's address validated by its ack";

/// A node split its full view over more than one sync datagram to one peer (records fill
/// datagrams: PROTOCOL.md §6).
pub const VIEW_SPLIT: &str = "full view split over sync datagrams";

/// The "world" of the features only the conformance harness makes: datagrams a node's shell
/// must drop before its core sees them.
pub const SHELL: &str = "shell";

/// What the corpus must show (the export fails if one of these is not even reachable).
pub fn required() -> Vec<Feature> {
    let step = |s: &str| Feature::Step(s.into());
    vec![
        step("outsider other_cluster"),
        step("outsider oversize"),
        step("outsider meta_over_limit"),
        step("outsider too_many_suspecters"),
        step("deliver nack"),
        step("command leave"),
        step("command set_meta"),
        step("command confirm_dead"),
        step("command rejoin"),
        step("command broadcast"),
        step("command send_to"),
        step("deliver gossip"),
        step("deliver direct"),
        step("timer gossip"),
        step("replay ping"),
        step("restart"),
        Feature::Behaviour(STALE_REPLAY),
        Feature::Behaviour(REJOINED),
        Feature::Behaviour(REFUTATION),
        Feature::Behaviour(SHORTENED),
        Feature::Behaviour(REFUTED_UNREACHABLE),
        Feature::Behaviour(LEAVE_RACE),
        Feature::Behaviour(TOMBSTONE_EXPIRED),
        Feature::Behaviour(HEALTH_ABOVE_ONE),
        Feature::Behaviour(AUTO_REJOINED),
        Feature::Behaviour(RESTART_SEEN),
        Feature::Behaviour(NEAR_PASS),
        Feature::Behaviour(VIEW_SPLIT),
        Feature::Behaviour(WAITING_PROBED),
        Feature::Behaviour(REFUSED_THEN_LEARNT),
        Feature::Behaviour(STRANGER_VALIDATED),
        Feature::Transition {
            from: Some(Status::Suspect),
            to: Status::Dead,
            cause: "timer suspicion".into(),
        },
        Feature::Transition {
            from: Some(Status::Unreachable),
            to: Status::Dead,
            cause: "command confirm_dead".into(),
        },
    ]
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Feature::Step(s) => write!(f, "step {s}"),
            Feature::Transition { from, to, cause } => write!(
                f,
                "transition {} -> {} by {cause}",
                from.map_or("unknown", Status::name),
                to.name()
            ),
            Feature::Behaviour(b) => write!(f, "behaviour {b}"),
        }
    }
}

/// The kind of a step, as features and file names spell it.
pub fn step_kind(action: &Action) -> String {
    let body = |m: &Message| match &m.body {
        Body::Sync { reply: true, .. } => "sync_request",
        body => body.kind(),
    };
    match action {
        Action::Deliver(d, _) => format!("deliver {}", body(&d.msg)),
        Action::Fire(_, timer, _) => format!("timer {}", timer_kind(*timer)),
        Action::Command(_, c, _) => format!(
            "command {}",
            match c {
                UserCommand::Leave => "leave",
                UserCommand::SetMeta(_) => "set_meta",
                UserCommand::ConfirmDead(_) => "confirm_dead",
                UserCommand::Rejoin(_) => "rejoin",
                UserCommand::Broadcast(_) => "broadcast",
                UserCommand::SendTo(..) => "send_to",
            }
        ),
        Action::Drop(d) => format!("drop {}", body(&d.msg)),
        Action::Duplicate(d) => format!("duplicate {}", body(&d.msg)),
        Action::Replay(d) => format!("replay {}", body(&d.msg)),
        Action::Advance(_) => "advance".into(),
        Action::Crash(_) => "crash".into(),
        Action::Restart(_) => "restart".into(),
        Action::Pause(_) => "pause".into(),
        Action::Resume(_) => "resume".into(),
        Action::Outsider(_, kind) => format!("outsider {}", kind.name()),
    }
}

fn timer_kind(timer: Timer) -> &'static str {
    match timer {
        Timer::Tick => "tick",
        Timer::ProbeTimeout(_) => "probe_timeout",
        Timer::Relay(_) => "relay",
        Timer::Suspicion(_) => "suspicion",
        Timer::Sync => "sync",
        Timer::JoinRetry => "join_retry",
        Timer::LeaveDone => "leave_done",
        Timer::Gossip => "gossip",
    }
}

/// The features of the step `action` from `before` to `after`.
pub fn features(before: &State, action: &Action, after: &State, out: &mut Vec<Feature>) {
    let kind = step_kind(action);
    let Some(i) = action.node().filter(|_| action.is_node_input()) else {
        if let Action::Replay(d) = action
            && carries_older(before, d)
        {
            out.push(Feature::Behaviour(STALE_REPLAY));
        }
        out.push(Feature::Step(kind));
        return;
    };
    use swim_checked_core::Phase::*;
    let (old, new) = (&before.hosts[i], &after.hosts[i]);
    let me = new.node.local_member().id;
    for m in new.node.members() {
        let prev: Option<&Member> = old.node.member(m.id);
        match prev {
            Some(p) if (p.status, p.incarnation) == (m.status, m.incarnation) => {
                if m.status == Status::Suspect && m.suspecters.len() > p.suspecters.len() {
                    out.push(Feature::Behaviour(CONFIRMATION));
                    let deadline = |h: &super::Host| h.timers.get(Timer::Suspicion(m.id));
                    if let (Some(a), Some(b)) = (deadline(old), deadline(new))
                        && b < a
                    {
                        out.push(Feature::Behaviour(SHORTENED));
                    }
                }
            }
            _ => {
                if prev.is_some_and(|p| p.status == Status::Unreachable)
                    && m.status == Status::Alive
                {
                    out.push(Feature::Behaviour(REFUTED_UNREACHABLE));
                }
                let verdict = matches!(
                    m.status,
                    Status::Suspect | Status::Unreachable | Status::Dead
                );
                let leaving =
                    (after.hosts.iter()).any(|h| h.node.id() == m.id && h.node.phase() == Leaving);
                if verdict && leaving {
                    out.push(Feature::Behaviour(LEAVE_RACE));
                }
                if m.id == me
                    && !matches!(action, Action::Command(..))
                    && prev.is_some_and(|p| p.incarnation < m.incarnation)
                {
                    out.push(Feature::Behaviour(REFUTATION));
                }
                out.push(Feature::Transition {
                    from: prev.map(|p| p.status),
                    to: m.status,
                    cause: kind.clone(),
                });
            }
        }
    }
    if (old.node.members()).any(|m| new.node.member(m.id).is_none() && new.node.is_purged(m.id)) {
        out.push(Feature::Behaviour(TOMBSTONE_EXPIRED));
    }
    if new.node.local_member().generation > old.node.local_member().generation {
        out.push(Feature::Behaviour(AUTO_REJOINED));
    }
    if (new.node.members()).any(|m| {
        m.id != me
            && old
                .node
                .member(m.id)
                .is_some_and(|p| p.generation < m.generation)
    }) {
        out.push(Feature::Behaviour(RESTART_SEEN));
    }
    if old.node.health() <= 1 && new.node.health() > 1 {
        out.push(Feature::Behaviour(HEALTH_ABOVE_ONE));
    }
    if !old.node.probe_order().is_near_pass() && new.node.probe_order().is_near_pass() {
        out.push(Feature::Behaviour(NEAR_PASS));
    }
    // The probe-order rule marked it (`rules::probe_order`).
    if after.ghost.marks.waiting_probed {
        out.push(Feature::Behaviour(WAITING_PROBED));
    }
    if new.node.stats().dropped_unanswered_full > 0
        && (new.node.members()).any(|m| old.node.member(m.id).is_none())
    {
        out.push(Feature::Behaviour(REFUSED_THEN_LEARNT));
    }
    if new.node.stats().strangers_validated > old.node.stats().strangers_validated {
        out.push(Feature::Behaviour(STRANGER_VALIDATED));
    }
    if splits_view(before, i, after) {
        out.push(Feature::Behaviour(VIEW_SPLIT));
    }
    match (old.node.phase(), new.node.phase()) {
        (Running, Leaving) => out.push(Feature::Behaviour(LEAVING)),
        (Leaving, Left) => out.push(Feature::Behaviour(LEFT)),
        (Running, Removed) => out.push(Feature::Behaviour(REMOVED)),
        (Left, Running) => out.push(Feature::Behaviour(REJOINED)),
        (Removed, Running) => out.push(Feature::Behaviour(REJOINED_REMOVED)),
        _ => {}
    }
    out.push(Feature::Step(kind));
}

/// Whether node `i`'s step from `before` to `after` sent one peer its view in two or more sync
/// datagrams: records in more than one, none in two (a corrective sync beside a view repeats
/// a record).
fn splits_view(before: &State, i: usize, after: &State) -> bool {
    let mut by_peer: BTreeMap<usize, Vec<&[Member]>> = BTreeMap::new();
    for (d, _) in &after.net {
        if let Body::Sync { members, .. } = &d.msg.body
            && d.from == i
            && !before.net.iter().any(|(b, _)| b == d)
        {
            by_peer.entry(d.to).or_default().push(members);
        }
    }
    by_peer.values().any(|chunks| {
        let ids: BTreeSet<_> = chunks.iter().flat_map(|c| c.iter().map(|m| m.id)).collect();
        chunks.len() > 1 && ids.len() == chunks.iter().map(|c| c.len()).sum::<usize>()
    })
}

/// Whether `d` carries a record of some member (other than its receiver) older than the one
/// its receiver holds in `s`.
fn carries_older(s: &State, d: &Datagram) -> bool {
    let node = &s.hosts[d.to].node;
    let members: &[Member] = match &d.msg.body {
        Body::Sync { members, .. } => members,
        _ => &[],
    };
    (members.iter().chain(&d.msg.gossip))
        .filter(|m| m.id != node.id())
        .any(|m| {
            node.member(m.id)
                .is_some_and(|held| precedence(m) < precedence(held))
        })
}

/// A world of the corpus: its name (used in file names) and setup.
#[derive(Clone, Debug)]
pub struct World {
    pub name: &'static str,
    pub setup: Setup,
}

/// The worlds explored exhaustively, all in shell order: faults (one drop, one crash), a
/// paused node, a reliable network with duplicates and commands, `unreachable` with
/// confirmations by the application, a leave followed by a rejoin under a new id, a
/// replayed datagram ([`replay_world`]), a partition healed by an automatic rejoin, and zones
/// ([`zoned_export_world`]).
pub fn worlds() -> Vec<World> {
    let mut faults = Setup::new(3);
    faults.shell_order = true;
    let mut pauses = Setup::new(3);
    pauses.crashes = 0;
    pauses.drops = 0;
    pauses.pauses = 1;
    pauses.stagger = 1;
    pauses.horizon = pauses.settle() + 2 * pauses.core.probe_interval;
    pauses.shell_order = true;
    let mut commands = Setup::new(3).reliable();
    commands.stagger = 1;
    commands.duplicates = 1;
    commands.leaves = 1;
    commands.meta_changes = 1;
    commands.shell_order = true;
    let mut unreachable = Setup::new(3);
    unreachable.core = Setup::scaled_config(true);
    unreachable.drops = 0;
    unreachable.stagger = 1;
    unreachable.horizon = unreachable.settle() + 7 * unreachable.core.probe_interval;
    unreachable.shell_order = true;
    let mut rejoin = Setup::new(3).reliable();
    rejoin.stagger = 1;
    rejoin.leaves = 1;
    rejoin.rejoins = 1;
    rejoin.horizon = rejoin.rejoin_horizon();
    rejoin.shell_order = true;
    let replay = replay_world();
    // A node cut off, declared dead, rejoining at its next generation after the heal.
    let mut partition = super::worlds::partition_world().setup;
    partition.stagger = 1;
    partition.shell_order = true;
    // The targeted situations of `check`'s default worlds, in shell order.
    let in_shell_order = |mut setup: Setup| {
        setup.stagger = 1;
        setup.shell_order = true;
        setup
    };
    let targeted = |label: &str| {
        in_shell_order(
            (super::worlds::targeted_worlds().into_iter())
                .find(|w| w.label == label)
                .expect("a targeted world")
                .setup,
        )
    };
    let mut worlds = vec![
        World {
            name: "faults",
            setup: faults,
        },
        World {
            name: "pauses",
            setup: pauses,
        },
        World {
            name: "commands",
            setup: commands,
        },
        World {
            name: "unreachable",
            setup: unreachable,
        },
        World {
            name: "rejoin",
            setup: rejoin,
        },
        World {
            name: "replay",
            setup: replay,
        },
        World {
            name: "pause-unreachable",
            setup: targeted("unreachable"),
        },
        World {
            name: "leave-race",
            setup: targeted("leave race"),
        },
        World {
            name: "health",
            setup: targeted("health"),
        },
        World {
            name: "tombstones",
            setup: targeted("tombstones"),
        },
        World {
            name: "partition",
            setup: partition,
        },
        World {
            name: "zoned",
            setup: zoned_export_world(),
        },
        World {
            name: "packed",
            setup: packed_export_world(),
        },
        World {
            name: "application",
            setup: application_export_world(),
        },
    ];
    // The intake bounds, the throttle and a restart at a new address (PROTOCOL.md §12), as
    // `check` runs them.
    for world in super::worlds::guard_worlds() {
        worlds.push(World {
            name: world.label,
            setup: in_shell_order(world.setup),
        });
    }
    // The traces run to the horizon: the quiet end is what the replay checks the longest.
    for world in &mut worlds {
        world.setup.stop_when_quiet = false;
    }
    worlds
}

/// The zoned world of the corpus (PROTOCOL.md §15): three nodes in two zones (`n1`, `n3` in
/// `a`), helpers by zone and far members in one pass of two, one crash, in shell order: the
/// real node must walk the same near and full passes as the core.
pub fn zoned_export_world() -> Setup {
    let mut zoned = Setup::new(3);
    zoned.zones = 2;
    zoned.core.zone_helpers = true;
    zoned.core.far_pass_every = 2;
    zoned.drops = 0;
    zoned.stagger = 1;
    zoned.horizon = zoned.settle() + 2 * zoned.core.probe_interval;
    zoned.shell_order = true;
    zoned
}

/// Metadata of the packed world, in encoded bytes: each record then takes 241 bytes (242 to
/// 245 with an incarnation above 127 or suspecters), so that with the 45 bytes of header and
/// envelope reserve a 512-byte datagram has room for one record besides the smallest
/// message, never two (462 bytes are left), and would have room for two if the overhead were
/// counted short by 44 bytes or more.
pub const PACKED_META_BYTES: usize = 228;

/// The packed world of the corpus (PROTOCOL.md §6): three nodes whose metadata is exactly
/// `max_meta_bytes` ([`PACKED_META_BYTES`]), one crash: piggybacked gossip takes one record per
/// datagram, a full view takes one sync datagram per record, and a record at the metadata
/// limit must be accepted by the real node's decoder.
pub fn packed_export_world() -> Setup {
    let mut packed = Setup::new(3);
    packed.packed = true;
    packed.core.max_meta_bytes = PACKED_META_BYTES;
    packed.drops = 0;
    packed.stagger = 1;
    packed.horizon = packed.settle() + 2 * packed.core.probe_interval;
    packed.shell_order = true;
    packed
}

/// The application world of the corpus (PROTOCOL.md §13): a reliable network, one broadcast
/// and one direct message, by any node at any time of the disturbance window. The real node
/// must gossip the broadcast on the same rounds, and deliver each message to the application
/// once, as the core does.
pub fn application_export_world() -> Setup {
    let mut application = Setup::new(3).reliable();
    application.broadcasts = 1;
    application.directs = 1;
    application.stagger = 1;
    application.shell_order = true;
    application
}

/// The replay world of the corpus: a reliable network, one metadata change and one replay,
/// with push-pull every 15 ms so that full views (each member's record at incarnation 0) are
/// sent inside the disturbance window (28 ms) and a replay can hand one to a node after it
/// learned the newer record: the real node must ignore the old one.
pub fn replay_world() -> Setup {
    let mut replay = Setup::new(3).reliable();
    replay.core.sync_interval = 15;
    replay.stagger = 1;
    replay.meta_changes = 1;
    replay.replays = 1;
    replay.horizon = replay.settle() + 28;
    replay.shell_order = true;
    replay
}

/// The world of the seeded walks: four nodes, staggered, every kind of fault.
pub fn walk_world() -> World {
    let mut four = Setup::new(4);
    four.stagger = 3;
    four.drops = 2;
    four.duplicates = 1;
    four.pauses = 1;
    four.meta_changes = 1;
    four.shell_order = true;
    four.horizon = four.settle() + 4 * four.core.probe_interval;
    four.stop_when_quiet = false;
    World {
        name: "four",
        setup: four,
    }
}

/// What the exhaustive search of one world found.
#[derive(Debug)]
pub struct Exploration {
    pub states: u64,
    pub transitions: u64,
    pub max_depth: usize,
    pub seconds: f64,
    /// The first path (from the initial state) that shows each feature.
    pub first: BTreeMap<Feature, Vec<Action>>,
}

/// The state's fingerprint is its hash already (see `stable_hash`): no need to hash it again.
#[derive(Default)]
struct Identity(u64);

impl std::hash::Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

/// Explore every state of `model` depth first; `progress` is called now and then.
pub fn explore(model: &SwimModel, mut progress: impl FnMut(u64, usize)) -> Exploration {
    struct Frame {
        state: State,
        next: std::vec::IntoIter<(Action, State)>,
    }
    let successors = |s: &State| -> std::vec::IntoIter<(Action, State)> {
        let mut all = Vec::new();
        for input in model.inputs(s) {
            all.extend(model.outcomes(s, input));
        }
        all.into_iter()
    };
    let start = Instant::now();
    let init = model.initial_state();
    let mut seen: HashSet<u64, BuildHasherDefault<Identity>> = HashSet::default();
    seen.insert(stable_hash(&init));
    let mut first: BTreeMap<Feature, Vec<Action>> = BTreeMap::new();
    let mut path: Vec<Action> = Vec::new();
    let mut stack = vec![Frame {
        next: successors(&init),
        state: init,
    }];
    let (mut transitions, mut max_depth) = (0u64, 0usize);
    let mut found = Vec::new();
    while let Some(frame) = stack.last_mut() {
        let Some((action, next)) = frame.next.next() else {
            stack.pop();
            path.pop();
            continue;
        };
        transitions += 1;
        found.clear();
        features(&frame.state, &action, &next, &mut found);
        for f in found.drain(..) {
            first.entry(f).or_insert_with(|| {
                let mut p = path.clone();
                p.push(action.clone());
                p
            });
        }
        if seen.insert(stable_hash(&next)) {
            path.push(action);
            max_depth = max_depth.max(path.len());
            if seen.len().is_multiple_of(1 << 16) {
                progress(seen.len() as u64, max_depth);
            }
            stack.push(Frame {
                next: successors(&next),
                state: next,
            });
        }
    }
    Exploration {
        states: seen.len() as u64,
        transitions,
        max_depth,
        seconds: start.elapsed().as_secs_f64(),
        first,
    }
}

/// `actions` from the initial state, then always the first enabled input (with its first
/// outcome) until the run ends: a maximal path that ends at rest.
pub fn complete(model: &SwimModel, mut actions: Vec<Action>) -> Vec<Action> {
    let mut state = model.initial_state();
    for a in &actions {
        state = model.apply(&state, a, None);
    }
    while let Some(input) = model.inputs(&state).into_iter().next() {
        let (action, next) = model.outcomes(&state, input).swap_remove(0);
        state = next;
        actions.push(action);
    }
    actions
}

/// `actions` with, right after its first delivery, the same datagram handed over twice more
/// by the harness: labelled for another cluster, then one byte over `max_datagram`. The
/// shell must drop both without a step of its node (the model takes none).
pub fn with_outsiders(mut actions: Vec<Action>) -> Vec<Action> {
    let first = actions.iter().enumerate().find_map(|(k, a)| match a {
        Action::Deliver(d, _) => Some((k, d.clone())),
        _ => None,
    });
    if let Some((k, d)) = first {
        let outsiders = [
            Outsider::OtherCluster,
            Outsider::Oversize,
            Outsider::MetaOverLimit,
            Outsider::TooManySuspecters,
        ]
        .map(|wrong| Action::Outsider(d.clone(), wrong));
        actions.splice(k + 1..k + 1, outsiders);
    }
    actions
}

/// Seeded random walk `k`: a uniformly random input, then a uniformly random outcome of its
/// picks, to the end of the run.
pub fn random_walk(model: &SwimModel, seed: u64, k: u64) -> Vec<Action> {
    let mut rng = SplitMix::new(walk_seed(seed, k));
    let mut state = model.initial_state();
    let mut actions = Vec::new();
    loop {
        let mut inputs = model.inputs(&state);
        if inputs.is_empty() {
            return actions;
        }
        let input = inputs.swap_remove(rng.below(inputs.len()));
        let mut outcomes = model.outcomes(&state, input);
        let (action, next) = outcomes.swap_remove(rng.below(outcomes.len()));
        state = next;
        actions.push(action);
    }
}

/// Every feature `actions` shows from the initial state.
pub fn covered(model: &SwimModel, actions: &[Action]) -> BTreeSet<Feature> {
    let mut state = model.initial_state();
    let mut out = Vec::new();
    for a in actions {
        let next = model.apply(&state, a, None);
        features(&state, a, &next, &mut out);
        state = next;
    }
    out.into_iter().collect()
}

/// One trace of the corpus before it is written.
#[derive(Debug)]
pub struct Chosen {
    /// File name, e.g. `0003-faults-deliver-nack.json`.
    pub file: String,
    pub world: &'static str,
    pub trace: Trace,
    pub covers: BTreeSet<Feature>,
}

/// The corpus and how it covers what the worlds reach.
#[derive(Debug)]
pub struct Corpus {
    pub traces: Vec<Chosen>,
    /// Per world: the exhaustive search.
    pub explorations: Vec<(&'static str, Exploration)>,
    /// Every feature some world reaches, with the worlds that reach it.
    pub reachable: BTreeMap<Feature, Vec<&'static str>>,
}

impl Corpus {
    /// Reachable features no trace covers (empty by construction unless something is wrong).
    pub fn uncovered(&self) -> Vec<&Feature> {
        (self.reachable.keys())
            .filter(|f| !self.traces.iter().any(|t| t.covers.contains(f)))
            .collect()
    }

    /// Required features that no world reaches.
    pub fn missing(&self) -> Vec<Feature> {
        (required().into_iter())
            .filter(|f| !self.reachable.contains_key(f))
            .collect()
    }

    /// The coverage table: every feature, the worlds reaching it, how many traces cover it
    /// and the first of them.
    pub fn coverage_table(&self) -> String {
        let mut all: BTreeSet<&Feature> = self.reachable.keys().collect();
        for t in &self.traces {
            all.extend(&t.covers);
        }
        let rows: Vec<[String; 4]> = all
            .iter()
            .map(|f| {
                let worlds = self.reachable.get(*f).map_or("-".into(), |w| w.join(","));
                let covering: Vec<&Chosen> = self
                    .traces
                    .iter()
                    .filter(|t| t.covers.contains(f))
                    .collect();
                let first = covering.first().map_or("NOT COVERED".into(), |t| {
                    t.file.split('-').next().unwrap_or("").to_string()
                });
                [f.to_string(), worlds, covering.len().to_string(), first]
            })
            .collect();
        let head = ["feature", "reached in", "traces", "first"];
        let width = |c: usize| (rows.iter().map(|r| r[c].len())).fold(head[c].len(), usize::max);
        let w = [width(0), width(1), width(2), width(3)];
        let line = |r: [&str; 4]| {
            format!(
                "{:<a$}  {:<b$}  {:>c$}  {}\n",
                r[0],
                r[1],
                r[2],
                r[3],
                a = w[0],
                b = w[1],
                c = w[2]
            )
        };
        let mut out = line(head);
        for r in &rows {
            out += &line([&r[0], &r[1], &r[2], &r[3]]);
        }
        out
    }
}

/// A file-name slug of a feature.
fn slug(f: &Feature) -> String {
    let text = match f {
        Feature::Step(s) => s.clone(),
        Feature::Transition { from, to, cause } => format!(
            "{}-{}-by-{cause}",
            from.map_or("unknown", Status::name),
            to.name()
        ),
        Feature::Behaviour(b) => b.to_string(),
    };
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').chars().take(60).collect()
}

/// Explore every world, choose the traces, add `walks` seeded walks of [`walk_world`].
pub fn build(
    worlds: &[World],
    walks: u64,
    seed: u64,
    mut log: impl FnMut(&str, &Exploration),
) -> Corpus {
    let mut traces: Vec<Chosen> = Vec::new();
    let mut explorations = Vec::new();
    let mut reachable: BTreeMap<Feature, Vec<&'static str>> = BTreeMap::new();
    let add = |traces: &mut Vec<Chosen>,
               world: &World,
               model: &SwimModel,
               actions: Vec<Action>,
               covers: BTreeSet<Feature>,
               reason: String,
               covers_first: Vec<String>,
               seed: Option<u64>| {
        let init = model.initial_state();
        let (mut trace, _) = Trace::record(model, &init, actions);
        trace.seed = seed;
        trace.covers = covers_first;
        let file = format!("{:04}-{}-{}.json", traces.len() + 1, world.name, reason);
        traces.push(Chosen {
            file,
            world: world.name,
            trace,
            covers,
        });
    };
    let mut chosen: BTreeSet<Feature> = BTreeSet::new();
    for world in worlds {
        let model = SwimModel::new(world.setup.clone());
        let exploration = explore(&model, |_, _| {});
        log(world.name, &exploration);
        for f in exploration.first.keys() {
            reachable.entry(f.clone()).or_default().push(world.name);
        }
        for (f, path) in &exploration.first {
            if chosen.contains(f) {
                continue;
            }
            let actions = complete(&model, path.clone());
            let covers = covered(&model, &actions);
            let new: Vec<String> = (covers.iter())
                .filter(|c| !chosen.contains(*c))
                .map(|c| c.to_string())
                .collect();
            chosen.extend(covers.iter().cloned());
            add(
                &mut traces,
                world,
                &model,
                actions,
                covers,
                slug(f),
                new,
                None,
            );
        }
        explorations.push((world.name, exploration));
    }
    if let Some(first) = worlds.first() {
        let shell = World {
            name: SHELL,
            setup: first.setup.clone(),
        };
        let model = SwimModel::new(shell.setup.clone());
        let actions = with_outsiders(complete(&model, Vec::new()));
        let covers = covered(&model, &actions);
        let new: Vec<String> = (covers.iter())
            .filter(|c| !chosen.contains(*c))
            .map(|c| c.to_string())
            .collect();
        for f in covers.iter().filter(|f| !chosen.contains(*f)) {
            reachable.entry(f.clone()).or_default().push(SHELL);
        }
        chosen.extend(covers.iter().cloned());
        let reason = "outsider-drops".to_string();
        add(
            &mut traces,
            &shell,
            &model,
            actions,
            covers,
            reason,
            new,
            None,
        );
    }
    let four = walk_world();
    let model = SwimModel::new(four.setup.clone());
    for k in 0..walks {
        let actions = random_walk(&model, seed, k);
        let covers = covered(&model, &actions);
        let reason = format!("walk-{k}");
        let why = vec![format!("seeded walk {k} of seed {seed}")];
        add(
            &mut traces,
            &four,
            &model,
            actions,
            covers,
            reason,
            why,
            Some(seed),
        );
    }
    Corpus {
        traces,
        explorations,
        reachable,
    }
}

/// The corpus as files hold it: trace count, steps per trace, and every feature the traces
/// cover with the number of traces covering it (what the corpus snapshot test compares).
/// Fails on a trace this model cannot run again.
pub fn summary(traces: &[(String, Trace)]) -> Result<String, String> {
    let mut out = format!("{} traces\n", traces.len());
    let mut count: BTreeMap<Feature, usize> = BTreeMap::new();
    for (file, t) in traces {
        let setup = Setup::from_trace(&t.setup).ok_or(format!("{file}: unknown setup"))?;
        let actions = t.actions().ok_or(format!("{file}: bad step"))?;
        let model = SwimModel::new(setup);
        for f in covered(&model, &actions) {
            *count.entry(f).or_default() += 1;
        }
        out += &format!("{file}: {} steps\n", t.steps.len());
    }
    out += &format!("\n{} features covered\n", count.len());
    for (f, n) in count {
        out += &format!("{f}: {n}\n");
    }
    Ok(out)
}
