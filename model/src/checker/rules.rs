//! The rules checked on each step of one node (PROTOCOL.md §9): what the step did to its view,
//! its health, its timers and its datagrams, judged against the protocol. A broken rule sets a
//! flag in [`Ghost`] that a safety property reads; what the step exercised sets a mark that a
//! reachability property reads. The formulas here are written from PROTOCOL.md, not taken from
//! the core, so that a slip in the core's own arithmetic shows.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use swim_checked_core::codec::{datagram_overhead, encoded_len, plaintext_overhead};
use swim_checked_core::user::{Broadcast, UserKind};
use swim_checked_core::zone::zone_of;
use swim_checked_core::{
    Body, Config, Effect, Member, Message, Millis, Node, NodeId, Phase, Status, Timer,
};

use super::index_of;
use super::properties::{moved_down, resurrected};
use super::state::{Ghost, Strangers, UserLog};

/// What a node's step was fed.
#[derive(Clone, Copy, Debug)]
pub enum Cause<'a> {
    /// A datagram's message and its source address.
    Message(&'a Message, SocketAddr),
    Timer(Timer),
    /// A user command; `rejoin` says whether it was a rejoin (which starts a fresh health).
    Command {
        rejoin: bool,
    },
}

/// Lifeguard's suspicion timeout (PROTOCOL.md §5) for a cluster of `n` with `c` confirmations:
/// `Min = alpha x max(1, log10 n) x interval` (the scale taken to three decimals, in whole
/// milliseconds), `Max = beta x Min`, `K` wanted confirmations (none when fewer than `K` other
/// members could confirm), and `max(Min, Max - (Max - Min) x ln(c + 1) / ln(K + 1))`. With
/// the local health aware suspicion switched off, `Min` whatever the confirmations.
pub fn suspicion_timeout(config: &Config, n: usize, c: usize) -> Millis {
    let scale_milli = ((n.max(1) as f64).log10().max(1.0) * 1000.0) as Millis;
    let min = config.suspicion_mult as Millis * scale_milli * config.probe_interval / 1000;
    if !config.lifeguard_dynamic_suspicion {
        return min;
    }
    let max = min * config.suspicion_max_mult as Millis;
    let k = config.suspicion_confirmations;
    if k == 0 || n < k + 2 {
        return min;
    }
    let c = c.min(k) as f64;
    let shrink = (max - min) as f64 * (c + 1.0).ln() / (k as f64 + 1.0).ln();
    ((max as f64 - shrink).floor() as Millis).max(min)
}

/// How many times an update is piggybacked in a cluster of `n` (PROTOCOL.md §6):
/// `mult x ceil(log10(n + 1))`.
pub fn retransmit_limit(config: &Config, n: usize) -> u32 {
    config.retransmit_mult * log10_ceil(n + 1)
}

/// How many times each member sends a broadcast in a cluster of `n` (PROTOCOL.md §13):
/// `user_mult x max(1, ceil(log10(n + 1)))`.
pub fn broadcast_limit(config: &Config, n: usize) -> u32 {
    config.user_retransmit_mult * log10_ceil(n + 1)
}

/// `max(1, ceil(log10(x)))`, counted in whole powers of ten.
fn log10_ceil(x: usize) -> u32 {
    let mut scale = 1;
    while 10usize.pow(scale) < x {
        scale += 1;
    }
    scale
}

/// Judge one step of a node that went from `before` to `after`, fed `cause`, emitting `out`.
pub fn judge(
    now: Millis,
    before: &Node,
    after: &Node,
    cause: Cause,
    out: &[Effect],
    ghost: &mut Ghost,
) {
    views(before, after, cause, ghost);
    ghost.marks.held |= after.stats().suspicions_held > before.stats().suspicions_held;
    health(before, after, cause, ghost);
    suspicion_timers(now, before, after, out, ghost);
    piggybacking(before, after, out, ghost);
    probe_order(before, after, cause, ghost);
    helpers(before, cause, out, ghost);
    nacks(before, after, cause, ghost);
    application(before, after, cause, out, ghost);
    amplification(before, after, cause, out, ghost);
    intake(before, after, cause, ghost);
    if let Cause::Message(msg, _) = cause {
        let records = msg.gossip.iter().chain(match &msg.body {
            Body::Sync { members, .. } => members.as_slice(),
            _ => &[],
        });
        let mut records = records;
        if records.any(|m| before.is_purged(m.id)) {
            ghost.marks.purged_gossiped = true;
        }
    }
}

/// Records only move up the lattice; the dead (and the purged) stay so.
fn views(before: &Node, after: &Node, cause: Cause, ghost: &mut Ghost) {
    let sync = matches!(cause, Cause::Message(m, _) if matches!(m.body, Body::Sync { .. }));
    for now in after.members() {
        let Some(then) = before.member(now.id) else {
            if before.is_purged_record(now) && !now.status.is_terminal() {
                ghost.resurrected = true;
            }
            continue;
        };
        if moved_down(then, now) {
            ghost.moved_down = true;
            ghost.sync_lowered |= sync;
        }
        if resurrected(then, now) {
            ghost.resurrected = true;
        }
        if then.status == Status::Unreachable && now.status == Status::Alive {
            ghost.marks.refuted_unreachable = true;
        }
    }
}

/// Local health stays in `0..=S` and moves only on this node's own probe outcomes (judged at
/// a tick, or on an ack or nack of its own probe) and its refutations; helping another node's
/// probe never touches it. A rejoin starts afresh at 0. With the local health aware probe
/// switched off, it stays 0.
fn health(before: &Node, after: &Node, cause: Cause, ghost: &mut Ghost) {
    let (was, is) = (before.health(), after.health());
    let config = after.config();
    let cap = if config.lifeguard_local_health {
        config.max_health
    } else {
        0
    };
    if is > cap {
        ghost.health_misused = true;
    }
    if was == is {
        return;
    }
    if is >= was + 2 {
        ghost.marks.silent_helper = true;
    }
    let refuted = after.local_member().incarnation > before.local_member().incarnation;
    let allowed = match cause {
        Cause::Timer(Timer::Tick) => true,
        Cause::Timer(_) => false,
        Cause::Message(msg, _) => {
            let own = match msg.body {
                Body::Ack { seq } | Body::Nack { seq } => before.probes().contains_key(&seq),
                _ => false,
            };
            own || (refuted && is == was + 1)
        }
        Cause::Command { rejoin } => rejoin && is == 0,
    };
    if !allowed {
        ghost.health_misused = true;
    }
}

/// Every suspicion timer armed in the step is due at the suspicion's start plus Lifeguard's
/// timeout for the cluster size and the confirmations it has (the size before or after the
/// step: one step can both arm a timer and learn of a death). The start is the core's own
/// record of when a status began, so that record is judged too: a record's clock starts in the
/// step its status changes or it is learnt, a suspicion's also when it is raised at a newer
/// incarnation or starts over (the isolation hold, which re-arms its timer); otherwise the
/// clock stays.
fn suspicion_timers(now: Millis, before: &Node, after: &Node, out: &[Effect], ghost: &mut Ghost) {
    let mut armed: BTreeMap<NodeId, Millis> = BTreeMap::new();
    for effect in out {
        if let Effect::SetTimer {
            timer: Timer::Suspicion(id),
            at,
        } = effect
        {
            armed.insert(*id, *at);
        }
    }
    // (A rejoin moves the old self into the table: its clock is the rejoin's business.)
    for m in after
        .members()
        .filter(|m| m.id != after.id() && m.id != before.id())
    {
        let began = before.member(m.id).is_none_or(|p| {
            p.status != m.status
                || (m.status == Status::Suspect
                    && (p.generation, p.incarnation) < (m.generation, m.incarnation))
        });
        let since = after.status_since(m.id);
        let ok = if began {
            since == Some(now)
        } else {
            since == before.status_since(m.id)
                || (m.status == Status::Suspect && armed.contains_key(&m.id) && since == Some(now))
        };
        if !ok {
            ghost.suspicion_misarmed = true;
        }
    }
    for (id, at) in armed {
        let (Some(m), Some(since)) = (after.member(id), after.status_since(id)) else {
            continue;
        };
        if m.status != Status::Suspect {
            continue; // armed, then refuted or settled in the same step
        }
        let c = m.suspecters.len().saturating_sub(1);
        let fits = |n: usize| at == since.saturating_add(suspicion_timeout(after.config(), n, c));
        if !fits(after.cluster_size()) && !fits(before.cluster_size()) {
            ghost.suspicion_misarmed = true;
        }
    }
}

/// The buddy rule and the retransmit limit, over the datagrams the step sent (push-pull views
/// are full views, not piggybacking: they are left out). With the buddy system switched off,
/// a record sent to the member it is about is ordinary gossip: it must come from the gossip
/// queue (queued before or after the step), and it counts against the retransmit limit.
fn piggybacking(before: &Node, after: &Node, out: &[Effect], ghost: &mut Ghost) {
    let mut sent: BTreeMap<NodeId, u32> = BTreeMap::new();
    let buddy_on = after.config().lifeguard_buddy;
    for effect in out {
        let Effect::Send { to, msg } = effect else {
            continue;
        };
        if matches!(msg.body, Body::Sync { .. }) {
            continue;
        }
        let buddy = suspected_at(before, *to).filter(|&id| suspected_at(after, *to) == Some(id));
        let mut gossip = msg.gossip.iter();
        if let Some(id) = buddy.filter(|_| !buddy_on) {
            let queued = |n: &Node| n.gossip().transmits(id).is_some();
            if msg.gossip.iter().any(|m| m.id == id) && !queued(before) && !queued(after) {
                ghost.buddy_missing = true;
            }
        } else if let Some(id) = buddy {
            match msg.gossip.first() {
                Some(first) if first.id == id => {
                    gossip.next();
                }
                _ => ghost.buddy_missing = true,
            }
        }
        // While leaving, the sender's own `left` record follows the buddy record without
        // spending a transmit (PROTOCOL.md §7): it rides every leave ping until acknowledged.
        let mut gossip = gossip.peekable();
        let leaving = before.phase() == Phase::Leaving || after.phase() == Phase::Leaving;
        if leaving
            && gossip
                .peek()
                .is_some_and(|m| m.id == after.id() && m.status == Status::Left)
        {
            gossip.next();
        }
        for m in gossip {
            *sent.entry(m.id).or_default() += 1;
        }
    }
    let limit = retransmit_limit(after.config(), after.cluster_size())
        .max(retransmit_limit(before.config(), before.cluster_size()));
    for (id, times) in sent {
        let was = before.gossip().transmits(id);
        let is = after.gossip().transmits(id);
        // Sent `times` more (or re-queued in the step and sent since): never past the limit.
        let counted = is.is_none_or(|is| is == was.unwrap_or(0) + times || is <= times);
        if times > limit || is.is_some_and(|is| is > limit) || !counted {
            ghost.over_retransmitted = true;
        }
    }
}

/// Probes go round-robin (PROTOCOL.md §4): every live member is in the rest of the current
/// pass until it is probed (it may leave it unprobed only once it is no longer live); a member
/// learnt joins the pass; a new pass starts only once no live member is left in the old one,
/// and holds every live member; a period of a running node that knows a live member probes one.
/// With one probe per period, two probes of a live member are then at most `2n - 1` periods
/// apart (the first and the last of two passes of `n - 1`), which completeness counts on; a
/// near pass (PROTOCOL.md §15) may leave out members of other zones.
fn probe_order(before: &Node, after: &Node, cause: Cause, ghost: &mut Ghost) {
    if matches!(cause, Cause::Command { rejoin: true }) {
        return; // a new life: a new order
    }
    let live = |n: &Node| -> BTreeSet<NodeId> {
        (n.members())
            .filter(|m| m.id != n.id() && !m.status.is_terminal())
            .map(|m| m.id)
            .collect()
    };
    let (live_before, live_after) = (live(before), live(after));
    let was: BTreeSet<NodeId> = before.probe_order().rest().collect();
    let is: BTreeSet<NodeId> = after.probe_order().rest().collect();
    let probed: BTreeSet<NodeId> = (after.probes().iter())
        .filter(|(seq, _)| !before.probes().contains_key(seq))
        .map(|(_, p)| p.target)
        .collect();
    // Learnt now, or live again at a new generation.
    let learnt: BTreeSet<NodeId> = (live_after.iter().copied())
        .filter(|&id| before.member(id).is_none_or(|m| m.status.is_terminal()))
        .collect();
    // While more members never answered than the intake bounds leave free (PROTOCOL.md §12),
    // those members wait outside the order for the period's extra slot; one that answers
    // comes back into the pass.
    let waiting = |n: &Node| -> BTreeSet<NodeId> {
        if n.throttled() {
            n.never_answered().collect()
        } else {
            BTreeSet::new()
        }
    };
    let (waited, waits) = (waiting(before), waiting(after));
    let answered: BTreeSet<NodeId> = before
        .never_answered()
        .filter(|id| after.never_answered().all(|u| u != *id))
        .collect();
    let skipped = |id: &NodeId| waited.contains(id) || waits.contains(id);
    let gone_or_probed =
        |id: &NodeId| probed.contains(id) || !live_after.contains(id) || skipped(id);
    // A member in the rest, or probed, that was not in the old pass (nor just learnt, nor
    // back from waiting): a new pass began.
    let new_pass = (is.iter().chain(&probed))
        .any(|id| !was.contains(id) && !learnt.contains(id) && !answered.contains(id));
    let mut ok =
        (learnt.iter()).all(|id| is.contains(id) || probed.contains(id) || waits.contains(id));
    // One that answers while it waits is back in the pass at once.
    ok &= (answered.iter())
        .filter(|id| waited.contains(id) && live_after.contains(id))
        .all(|id| is.contains(id));
    if new_pass {
        // A near pass (PROTOCOL.md §15) may leave out members of other zones.
        let ours = after.member(after.id()).and_then(zone_of);
        let left_out = |id: &NodeId| {
            after.probe_order().is_near_pass() && after.member(*id).and_then(zone_of) != ours
        };
        ok &=
            (was.iter()).all(|id| !live_before.contains(id) || probed.contains(id) || skipped(id));
        ok &= (live_after.iter())
            .all(|id| is.contains(id) || probed.contains(id) || left_out(id) || skipped(id));
        ghost.marks.near_pass |= live_after.iter().any(left_out);
        // At most `f - 1` near passes in a row, so far members wait at most `f + 1` passes.
        let (then, now) = (
            before.probe_order().near_passes(),
            after.probe_order().near_passes(),
        );
        ok &= now == 0 || (now == then + 1 && now < after.config().far_pass_every);
    } else {
        ok &= was.iter().all(|id| is.contains(id) || gone_or_probed(id));
    }
    ghost.marks.waiting_probed |= probed.iter().any(|id| waited.contains(id));
    let running = |n: &Node| n.phase() == swim_checked_core::Phase::Running;
    if matches!(cause, Cause::Timer(Timer::Tick))
        && running(before)
        && running(after)
        && !live_before.is_empty()
        && probed.is_empty()
    {
        ok = false;
    }
    if !ok {
        ghost.probe_order_broken = true;
    }
}

/// A nack of our own probe from a helper still awaited (PROTOCOL.md §4): when it is the last
/// one awaited and no later round is configured, the round is conclusive and the probe fails
/// at once; otherwise the period's end judges it.
fn nacks(before: &Node, after: &Node, cause: Cause, ghost: &mut Ghost) {
    let Cause::Message(msg, _) = cause else {
        return;
    };
    let Body::Nack { seq } = msg.body else {
        return;
    };
    let Some(probe) = before.probes().get(&seq).filter(|p| !p.acked && !p.failed) else {
        return;
    };
    if !probe.awaiting.contains(&msg.from) {
        return;
    }
    // The nack leaves no helper awaited when its sender is the only one.
    let conclusive = probe.awaiting.len() == 1 && before.config().indirect_rounds == 1;
    let failed = after.probes().get(&seq).is_some_and(|p| p.failed);
    if failed != conclusive {
        ghost.nack_misjudged = true;
    }
}

/// With zone-aware helpers (PROTOCOL.md §15), the helpers a failed probe asks share no more
/// fates with it than any live member left out: one fate for being in the target's zone, one
/// for being in ours.
fn helpers(before: &Node, cause: Cause, out: &[Effect], ghost: &mut Ghost) {
    let Cause::Timer(Timer::ProbeTimeout(seq)) = cause else {
        return;
    };
    let Some(probe) = before.probes().get(&seq) else {
        return;
    };
    let asked: BTreeSet<SocketAddr> = (out.iter())
        .filter_map(|e| match e {
            Effect::Send { to, msg } if matches!(msg.body, Body::PingReq { .. }) => Some(*to),
            _ => None,
        })
        .collect();
    let again = |m: &Member| probe.asked.contains(&m.id);
    ghost.helpers_reasked |= (before.members()).any(|m| again(m) && asked.contains(&m.addr));
    ghost.marks.later_round |= probe.rounds > 0 && !asked.is_empty();
    if asked.is_empty() || !before.config().zone_helpers {
        return;
    }
    let zone = |id: NodeId| before.member(id).and_then(zone_of);
    let (target_zone, ours) = (zone(probe.target), zone(before.id()));
    let fates = |m: &Member| u8::from(zone_of(m) == target_zone) + u8::from(zone_of(m) == ours);
    // Helpers of earlier rounds are not candidates of a later one.
    let candidates = (before.members()).filter(|m| {
        m.id != before.id() && m.id != probe.target && m.status == Status::Alive && !again(m)
    });
    let (chosen, left): (Vec<&Member>, Vec<&Member>) =
        candidates.partition(|m| asked.contains(&m.addr));
    let chosen = (chosen.iter().map(|m| fates(m)).min()).zip(chosen.iter().map(|m| fates(m)).max());
    let left = (left.iter().map(|m| fates(m)).min()).zip(left.iter().map(|m| fates(m)).max());
    if let (Some((least_chosen, most_chosen)), Some((least_left, most_left))) = (chosen, left) {
        ghost.helpers_misranked |= least_left < most_chosen;
        ghost.marks.helper_ranked |= least_chosen < most_left;
    }
}

/// The member `node` holds at `addr`, if it holds it suspect, unreachable, dead or left (the
/// core's buddy rule covers every status but `alive`).
fn suspected_at(node: &Node, addr: SocketAddr) -> Option<NodeId> {
    // After a rejoin two ids share an address: the message is for the newer one.
    node.members()
        .filter(|m| m.addr == addr && m.id != node.id())
        .max_by_key(|m| m.id)
        .filter(|m| m.status != Status::Alive)
        .map(|m| m.id)
}

/// Application data (PROTOCOL.md §13), judged against what the step took and the model's
/// payloads, `[sender, left]` (see [`UserLog`]). Delivery: a node delivers a broadcast the
/// first time one arrives unless it is its own, exactly once, and nothing else (the worlds
/// where this is judged remember every identity: `user_dedup` is at least the broadcasts of a
/// run); it delivers what the datagram carried, a direct message from its sender and a
/// broadcast under its origin, the one the payload names. Sending: a running node queues
/// each broadcast it delivers, to pass it on; a gossip round reaches at most `user_fanout`
/// distinct members; each node sends each broadcast at most
/// `user_mult x max(1, ceil(log10(n + 1)))` times, and none once leaving.
fn application(before: &Node, after: &Node, cause: Cause, out: &[Effect], ghost: &mut Ghost) {
    let Some(i) = index_of(after.id()).filter(|&i| i < UserLog::NODES) else {
        return;
    };
    // The broadcast a payload names, and whether it names `from` as its sender.
    let named = |from: NodeId, payload: &[u8]| -> Option<usize> {
        let (&[sender, left], Some(j)) = (payload, index_of(from)) else {
            return None;
        };
        let k = usize::from(left).checked_sub(1)?;
        (usize::from(sender) == j + 1).then_some(k)
    };
    let msg = match cause {
        Cause::Message(msg, _) => Some(msg),
        _ => None,
    };
    let (received, direct): (&[Broadcast], Option<&[u8]>) = match msg.map(|m| &m.body) {
        Some(Body::Gossip { broadcasts }) => (broadcasts, None),
        Some(Body::Direct { payload }) => (&[], Some(payload)),
        _ => (&[], None),
    };
    let taking = |n: &Node| matches!(n.phase(), Phase::Running | Phase::Leaving);
    // What must be delivered: each broadcast new to this node, once.
    let mut owed: BTreeSet<usize> = BTreeSet::new();
    for b in received {
        let Some(k) = named(b.origin, &b.payload) else {
            continue;
        };
        let own = index_of(b.origin) == Some(i);
        if own || ghost.user.delivered(i, k) {
            ghost.marks.broadcast_seen_again = true;
        } else if taking(before) && taking(after) {
            owed.insert(k);
        }
    }
    let mut delivered = false;
    for effect in out {
        let Effect::Deliver(m) = effect else {
            continue;
        };
        let k = named(m.from, &m.payload);
        let carried = match m.kind {
            UserKind::Direct => {
                msg.is_some_and(|msg| msg.from == m.from) && direct == Some(m.payload.as_slice())
            }
            UserKind::Broadcast => {
                (received.iter()).any(|b| b.origin == m.from && b.payload == m.payload)
            }
        };
        if k.is_none() || !carried {
            ghost.user_forged = true;
        }
        delivered |= m.kind == UserKind::Broadcast;
        if let (UserKind::Broadcast, Some(k)) = (m.kind, k) {
            if !owed.remove(&k) {
                ghost.user_misdelivered = true; // twice, its own, or not carried
            }
            ghost.user.deliver(i, k);
        }
    }
    if !owed.is_empty() {
        ghost.user_misdelivered = true;
    }
    if delivered && after.phase() == Phase::Running && after.user_queue().is_empty() {
        ghost.user_missent = true;
    }
    let limit = broadcast_limit(after.config(), after.cluster_size())
        .max(broadcast_limit(before.config(), before.cluster_size()));
    let mut targets = BTreeSet::new();
    for effect in out {
        let Effect::Send { to, msg } = effect else {
            continue;
        };
        let Body::Gossip { broadcasts } = &msg.body else {
            continue;
        };
        if !targets.insert(*to) || targets.len() > after.config().user_fanout {
            ghost.user_missent = true;
        }
        if !broadcasts.is_empty() && before.phase() != Phase::Running {
            ghost.user_missent = true;
        }
        for b in broadcasts {
            match named(b.origin, &b.payload) {
                Some(k) if u32::from(ghost.user.send(i, k)) <= limit => {}
                _ => ghost.user_missent = true,
            }
        }
    }
}

/// No amplification (PROTOCOL.md §12). Until an address proves it receives a node's datagrams,
/// the node sends it at most `amplification_factor` times the bytes it received from it, and
/// never its view. Proven: the node's own address, one a record of its table holds, one it
/// asked for its view, one that acked a ping the node sent it. A datagram's source counts as
/// it was when the datagram arrived (nothing a datagram carries proves its own source). Bytes
/// received count at their plaintext size, bytes sent at their sealed size. A bare ping to the
/// target a `ping_req` names, no larger than the request (in the same envelope), is the
/// requester's cost.
fn amplification(before: &Node, after: &Node, cause: Cause, out: &[Effect], ghost: &mut Ghost) {
    let Some(i) = index_of(after.id()) else {
        return;
    };
    if !matches!(before.phase(), Phase::Running | Phase::Leaving) {
        return; // it takes nothing
    }
    let label = &after.config().label;
    let factor = after.config().amplification_factor as u64;
    let source = match cause {
        Cause::Message(msg, from) => Some((
            msg,
            from,
            arrival(i, before, from, msg, &mut ghost.strangers),
        )),
        _ => None,
    };
    for effect in out {
        let Effect::Send { to, msg } = effect else {
            continue;
        };
        let to = *to;
        if let Body::Sync { reply: true, .. } = msg.body {
            // Asked for its view: proven. Where the intake bounds act, the node keeps what it
            // asked even once no record holds the address any more.
            if after.config().intake_bounds_act() || !(holds(before, to) || holds(after, to)) {
                ghost.strangers.get_mut(i, to).proven = true;
            }
            continue;
        }
        let ok = match source {
            // Its view follows the ack that proves it, in the same step.
            Some((_, from, arrived)) if from == to => arrived || ghost.strangers.proven(i, to),
            _ => holds(before, to) || holds(after, to) || ghost.strangers.proven(i, to),
        };
        if ok {
            continue;
        }
        if let Body::Sync { .. } = msg.body {
            ghost.amplified = true;
            continue;
        }
        let len = (datagram_overhead(label) + encoded_len(msg)) as u64;
        let tally = ghost.strangers.get_mut(i, to);
        if let Body::Ping { seq, .. } = msg.body {
            tally.pings.push(seq);
        }
        let paid = source.is_some_and(|(request, _, _)| {
            matches!(request.body, Body::PingReq { target_addr, .. } if target_addr == to)
                && matches!(msg.body, Body::Ping { .. })
                && msg.gossip.is_empty()
                && encoded_len(msg) <= encoded_len(request)
        });
        if paid {
            continue;
        }
        tally.sent += len;
        if tally.sent > factor * tally.received {
            ghost.amplified = true;
        }
    }
}

/// Bounded intake (PROTOCOL.md §12), where the bounds act ([`Config::intake_bounds_act`]): a
/// datagram introduces at most `max_new_per_datagram` members the node did not hold, or held at
/// an older generation elsewhere, unless it comes from a live member that answered the node's
/// probes, at that member's address, or is a view (which the node may have asked for); a
/// member's own record from its own address does not count. At most `max_unanswered` live
/// members that never answered are held.
fn intake(before: &Node, after: &Node, cause: Cause, ghost: &mut Ghost) {
    let config = after.config();
    if !config.intake_bounds_act() {
        return;
    }
    if after.never_answered().count() > config.max_unanswered {
        ghost.intake_unbounded = true;
    }
    let Cause::Message(msg, from) = cause else {
        return;
    };
    if matches!(msg.body, Body::Sync { reply: false, .. }) {
        return;
    }
    let answered = (before.member(msg.from))
        .is_some_and(|m| m.addr == from && !m.status.is_terminal())
        && !before.never_answered().any(|id| id == msg.from);
    if answered {
        return;
    }
    let introduced = (after.members())
        .filter(|m| m.id != after.id() && !(m.id == msg.from && m.addr == from))
        .filter(|m| match before.member(m.id) {
            None => true,
            Some(was) => m.generation > was.generation && m.addr != was.addr,
        })
        .count();
    if introduced > config.max_new_per_datagram {
        ghost.intake_unbounded = true;
    }
}

/// Whether `node` holds `addr`: its own, or a record's (any status).
fn holds(node: &Node, addr: SocketAddr) -> bool {
    addr == node.addr() || node.members().any(|m| m.addr == addr)
}

/// `msg` arrives at model node `i` (`node`, before it takes it) from `from`: whether `from` had
/// proved itself, and if not, its credit for the amplification rule. An ack of a ping sent to
/// it proves it.
pub(crate) fn arrival(
    i: usize,
    node: &Node,
    from: SocketAddr,
    msg: &Message,
    strangers: &mut Strangers,
) -> bool {
    if holds(node, from) || strangers.proven(i, from) {
        return true;
    }
    let tally = strangers.get_mut(i, from);
    tally.received += (plaintext_overhead(&node.config().label) + encoded_len(msg)) as u64;
    if let Body::Ack { seq } = msg.body
        && tally.pings.contains(&seq)
    {
        tally.proven = true;
    }
    false
}
