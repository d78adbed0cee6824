//! Suspicion and verdicts (PROTOCOL.md §5): Lifeguard's shrinking suspicion timeout, and the
//! push of a verdict once a suspicion expires here.

use crate::Millis;
use crate::config::Config;
use crate::effect::Effect;
use crate::faults::Fault;
use crate::member::NodeId;
use crate::pick::Pick;
use crate::status::Status;
use crate::suspicion::Bounds;
use crate::timer::Timer;

use super::Node;

/// Probes failed in a row (each of another member, round-robin, each with its indirect
/// probes) after which the next answer starts over the suspicions raised meanwhile
/// (PROTOCOL.md §14).
pub const CUT_OFF: u8 = 2;

impl Node {
    /// Deadline of the suspicion of `id`, if it is suspect here.
    pub fn suspicion_deadline(&self, id: NodeId) -> Option<Millis> {
        let rec = self.members.get(id)?;
        if rec.member.status != Status::Suspect {
            return None;
        }
        let mut bounds = Bounds::new(&self.config, self.cluster_size());
        if self.faults.has(Fault::IgnoresLifeguardSwitches) {
            let on = Config {
                lifeguard_dynamic_suspicion: true,
                ..(*self.config).clone()
            };
            bounds = Bounds::new(&on, self.cluster_size());
        }
        if self.faults.has(Fault::SuspicionNaturalLog) {
            let scale = (self.cluster_size() as f64).ln().max(1.0);
            let interval = self.config.probe_interval as f64;
            bounds.min = (self.config.suspicion_mult as f64 * scale * interval) as Millis;
            bounds.max = bounds.min * self.config.suspicion_max_mult as Millis;
        }
        let confirmations = if self.faults.has(Fault::SuspicionIgnoresConfirmations) {
            0
        } else {
            rec.member.suspecters.len().saturating_sub(1)
        };
        Some(rec.since.saturating_add(bounds.timeout(confirmations)))
    }

    pub(super) fn suspecter_cap(&self) -> usize {
        self.config.suspicion_confirmations + 1
    }

    /// Arm (or re-arm) the suspicion timer of `id` from its start and confirmations; expire it
    /// now if the deadline already passed.
    pub(super) fn arm_suspicion(
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

    pub(super) fn suspicion_timer(
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
        if self.cut_off_since_suspecting(id) {
            // We may be the one cut off: start the suspicion over as ours alone (the longest
            // timeout), so that the suspect has a whole one to refute through us once we hear
            // from the cluster again.
            self.stats.suspicions_held += 1;
            self.restart_suspicion(now, id, rng, out);
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

    /// Whether `id`'s suspicion is to start over (`Config::isolation_hold`): none of our probes
    /// was answered since it began, the last [`CUT_OFF`] failed (of members in turn), and we
    /// hold at least two other members alive or suspect, so that all of them falling silent at
    /// once says more about us than about them (with one other member there is nothing to
    /// compare with, and it is judged as usual).
    fn cut_off_since_suspecting(&self, id: NodeId) -> bool {
        let answering = |r: &&crate::membership::Record| {
            matches!(r.member.status, Status::Alive | Status::Suspect)
        };
        self.config.isolation_hold
            && self.silent_probes >= CUT_OFF
            && (self.members.get(id)).is_some_and(|r| self.last_heard <= r.since)
            && self.members.iter().filter(answering).nth(1).is_some()
    }

    /// Start the suspicion of `id` over now, as ours alone: the longest timeout.
    fn restart_suspicion(
        &mut self,
        now: Millis,
        id: NodeId,
        rng: &mut dyn Pick,
        out: &mut Vec<Effect>,
    ) {
        let me = self.me.id;
        if let Some(rec) = self.members.get_mut(id) {
            rec.member.suspecters = vec![me];
        }
        self.members.status_changed(id, Status::Suspect, now);
        self.arm_suspicion(now, id, rng, out);
    }

    /// One of our probes failed: one more sign that we may be cut off.
    pub(super) fn unanswered(&mut self) {
        self.silent_probes = (self.silent_probes + 1).min(CUT_OFF);
    }

    /// One of our probes was answered at `now`. If the [`CUT_OFF`] before it failed, we may
    /// have been cut off: every suspicion raised (or held) since the last answer starts over,
    /// so that its suspect has a whole timeout to refute through us now that we can hear it,
    /// and our stale suspicions confirm nobody's (PROTOCOL.md §14).
    pub(super) fn heard(&mut self, now: Millis, rng: &mut dyn Pick, out: &mut Vec<Effect>) {
        let silent_since = std::mem::replace(&mut self.last_heard, now);
        let failed = std::mem::take(&mut self.silent_probes);
        if !self.config.isolation_hold || failed < CUT_OFF {
            return;
        }
        let silent: Vec<NodeId> = (self.members.iter())
            .filter(|r| r.member.status == Status::Suspect && r.since >= silent_since)
            .map(|r| r.member.id)
            .collect();
        for id in silent {
            self.restart_suspicion(now, id, rng, out);
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
}
