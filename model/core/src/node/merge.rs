//! Merging gossip into the view (PROTOCOL.md §2, §3): events, dissemination and suspicion
//! timers follow from what changed; news about ourselves is refuted, never applied.

use crate::Millis;
use crate::effect::{Effect, MemberEvent};
use crate::faults::Fault;
use crate::member::Member;
use crate::pick::Pick;
use crate::status::{Merge, Status, merge, normalize_suspecters};
use crate::timer::Timer;

use super::{Node, Phase};

impl Node {
    /// Merge one record into the view: events, dissemination, probe order and suspicion
    /// timers follow from what changed.
    pub(super) fn apply(
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
        if self.jumps(&incoming) {
            return; // a member must always be able to refute: no jump to the end of time
        }
        if incoming.id == self.me.id {
            self.news_about_self(now, incoming, out);
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
        if self.members.is_purged_record(&incoming) {
            return;
        }
        // A new generation elsewhere is a new address to send to: admitted like a newcomer
        // (PROTOCOL.md §12), so one datagram cannot point every member at a victim.
        let moves = (self.members.get(id)).is_some_and(|r| {
            incoming.generation > r.member.generation && incoming.addr != r.member.addr
        });
        if moves && !self.admit(&incoming) {
            return;
        }
        let cap = self.suspecter_cap();
        let Some(rec) = self.members.get_mut(id) else {
            if self.members.len() >= self.config.max_members {
                self.stats.dropped_table_full += 1;
                return;
            }
            if !self.admit(&incoming) {
                return;
            }
            let status = incoming.status;
            self.members.insert(incoming.clone(), now);
            self.admitted(&incoming);
            self.gossip.enqueue(id);
            if !status.is_terminal() {
                self.order.insert(id, rng);
                out.push(Effect::Event(MemberEvent {
                    member: incoming,
                    from: None,
                    to: status,
                    previous_generation: None,
                }));
                if status == Status::Suspect {
                    self.arm_suspicion(now, id, rng, out);
                }
            }
            return;
        };
        // Only an `alive -> alive` change of metadata is reported; compare before merging.
        let same_meta = rec.member.meta == incoming.meta;
        let (generation, addr) = (rec.member.generation, rec.member.addr);
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
                let restarted = member.generation > generation;
                self.members.status_changed(id, from, now);
                self.members.readdress(id, addr);
                if moves {
                    self.admitted(&member);
                }
                self.gossip.enqueue(id);
                if to.is_terminal() {
                    self.guard.unanswered.remove(&id);
                }
                if from == Status::Suspect && to != Status::Suspect {
                    out.push(Effect::CancelTimer {
                        timer: Timer::Suspicion(id),
                    });
                }
                let quiet = !restarted
                    && ((from.is_terminal() && to.is_terminal())
                        || (from == to && to == Status::Alive && same_meta));
                if from.is_terminal() && !to.is_terminal() {
                    // A new generation of a dead member: probe it like a newcomer, at a fresh
                    // place (its old one, if still there, is what a dead member leaves behind).
                    self.order.reinsert(id, rng);
                }
                if !quiet {
                    out.push(Effect::Event(MemberEvent {
                        member,
                        from: Some(from),
                        to,
                        previous_generation: restarted.then_some(generation),
                    }));
                }
                if to == Status::Suspect {
                    self.arm_suspicion(now, id, rng, out);
                }
            }
        }
    }

    /// Gossip about ourselves is never applied: refute suspicions; when declared dead (or
    /// when the cluster holds a newer generation of our id), come back at the next generation
    /// or, without `auto_rejoin`, stop. Records of an older generation are about a past life.
    fn news_about_self(&mut self, now: Millis, news: Member, out: &mut Vec<Effect>) {
        if self.phase != Phase::Running {
            return;
        }
        if news.generation < self.me.generation {
            // A past life: whoever still holds it has missed our new record.
            if news.status != Status::Alive {
                self.gossip.enqueue(self.me.id);
            }
            return;
        }
        let superseded = news.generation > self.me.generation;
        match news.status {
            // Another live process under our name, elsewhere: do not race it to ever higher
            // generations (PROTOCOL.md §14); stop, counted.
            _ if superseded && !news.status.is_terminal() && news.addr != self.me.addr => {
                self.stats.name_conflicts += 1;
                self.stop_removed(out);
            }
            _ if superseded => self.declared_dead(now, news.generation, out),
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
            Status::Dead | Status::Left => self.declared_dead(now, news.generation, out),
        }
    }

    /// The cluster holds generation `held` of our id dead (or newer than ours): rejoin above it
    /// with `auto_rejoin`, or stop and tell the application.
    fn declared_dead(&mut self, now: Millis, held: u64, out: &mut Vec<Effect>) {
        if self.config.auto_rejoin && held < crate::member::MAX_GENERATION {
            self.auto_rejoin(now, held + 1, out);
            return;
        }
        self.stop_removed(out);
    }

    /// Stop taking part, and tell the application (`Phase::Removed`).
    fn stop_removed(&mut self, out: &mut Vec<Effect>) {
        self.phase = Phase::Removed;
        self.stop_timers(out);
        out.push(Effect::Event(MemberEvent {
            member: self.me.with_status(Status::Dead, self.me.incarnation),
            from: Some(Status::Alive),
            to: Status::Dead,
            previous_generation: None,
        }));
    }
}
