//! Push-pull anti-entropy (PROTOCOL.md §6): periodic full-view exchanges with one partner, at an
//! interval that grows with the cluster.

use std::net::SocketAddr;

use crate::Millis;
use crate::effect::Effect;
use crate::faults::Fault;
use crate::member::{Member, NodeId};
use crate::pick::Pick;
use crate::status::Status;
use crate::timer::Timer;

use super::{Node, Phase};

impl Node {
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

    /// The push-pull timer: it was armed when the cluster was smaller (a fresh node arms it
    /// alone, at the base interval), so wait out the interval the cluster has grown to.
    pub(super) fn sync_timer(&mut self, now: Millis, rng: &mut dyn Pick, out: &mut Vec<Effect>) {
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
                self.await_view(now, to);
                self.send_view(to, true, out);
            }
        }
        out.push(Effect::SetTimer {
            timer: Timer::Sync,
            at: now + self.sync_interval(),
        });
    }

    /// Part of a peer's view: merge it, announce ourselves to members it taught us while we
    /// join, and answer with our own view if asked.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_sync(
        &mut self,
        now: Millis,
        from: SocketAddr,
        sender: NodeId,
        reply: bool,
        members: Vec<Member>,
        rng: &mut dyn Pick,
        out: &mut Vec<Effect>,
    ) {
        if (self.joining.as_ref()).is_some_and(|j| j.seeds.contains(&from))
            && !self.seeds_answered.contains(&from)
        {
            self.seeds_answered.push(from);
        }
        for update in members {
            let (id, addr) = (update.id, update.addr);
            let announce = self.announcing(now)
                && update.status == Status::Alive
                && id != self.me.id
                && addr != from
                && self.members.get(id).is_none();
            if self.faults.has(Fault::SyncOverwrites)
                && id != self.me.id
                && let Some(rec) = self.members.get_mut(id)
            {
                rec.member = update;
                continue;
            }
            if !self.heeds(sender, &update) {
                continue;
            }
            self.apply(now, update, rng, out);
            if announce && self.member(id).is_some_and(|m| m.status == Status::Alive) {
                out.push(self.sync_message(addr, false, vec![self.me.clone()]));
            }
        }
        if reply && matches!(self.phase, Phase::Running | Phase::Leaving) {
            if self.intake.is_some_and(|i| !i.validated) {
                // No amplification toward an address that has not proved it receives ours.
                self.reply_to_stranger(from, sender, out);
            } else {
                self.send_view(from, false, out);
            }
        }
    }
}
