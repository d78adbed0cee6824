//! Failure detection (PROTOCOL.md §4): protocol periods, direct and indirect probes, nacks,
//! and the relays run for other members' probes.

use std::net::SocketAddr;

use crate::Millis;
use crate::effect::Effect;
use crate::faults::Fault;
use crate::member::NodeId;
use crate::message::{Body, Message};
use crate::pick::Pick;
use crate::probe::{Probe, Relay};
use crate::status::Status;
use crate::timer::Timer;
use crate::zone::{Candidate, choose_helpers, zone_of};

use super::{Node, Phase};

impl Node {
    /// A protocol period ends and the next begins: judge last period's probes, purge old
    /// tombstones, probe the next `p` targets, arm the next tick at the LHM-scaled interval.
    pub(super) fn tick(&mut self, now: Millis, rng: &mut dyn Pick, out: &mut Vec<Effect>) {
        let finished = std::mem::take(&mut self.probes);
        for (_, probe) in finished {
            if !probe.acked && !probe.failed {
                self.probe_failed(now, &probe, rng, out);
            }
        }
        self.members
            .purge(now, self.config.tombstone_ttl, self.config.purged_memory);
        if self.phase == Phase::Leaving {
            // A leaving node judges nobody: it pings the members yet to acknowledge its leave.
            if self.departure_tick(out) {
                out.push(Effect::SetTimer {
                    timer: Timer::Tick,
                    at: now + self.probe_interval(),
                });
            }
            return;
        }
        if self.faults.has(Fault::ProbeSkipsMember) {
            let _ = self.next_target(rng, false);
        }
        self.guard.introduced.clear();
        let throttled = self.throttled();
        for _ in 0..self.config.direct_probes {
            let target = self.next_target(rng, throttled);
            let Some(target) = target else {
                break;
            };
            if self.probes.values().any(|p| p.target == target) {
                break; // fewer members than probes per period
            }
            self.start_probe(now, target, out);
        }
        if throttled
            && !self.faults.has(Fault::NoExtraProbeSlot)
            && let Some(target) = self.next_unanswered(rng)
            && self.members.get(target).is_some()
            && !self.probes.values().any(|p| p.target == target)
        {
            self.start_probe(now, target, out);
        }
        out.push(Effect::SetTimer {
            timer: Timer::Tick,
            at: now + self.probe_interval(),
        });
    }

    /// The next member of the probe order: a live one; with `throttled`, one that has answered
    /// (members that never did wait for the extra slot, so the order keeps its bound for the
    /// others); of our zone only in a near pass (PROTOCOL.md §15).
    fn next_target(&mut self, rng: &mut dyn Pick, throttled: bool) -> Option<NodeId> {
        let unanswered = &self.guard.unanswered;
        let ours = zone_of(&self.me);
        let far_every = if self.faults.has(Fault::FarMembersSkipped) {
            u8::MAX
        } else {
            self.config.far_pass_every
        };
        self.order.next_near(
            &self.members,
            rng,
            |m| !(m.status.is_terminal() || throttled && unanswered.contains(&m.id)),
            |m| zone_of(m) == ours,
            far_every,
            // Dead and left members are refused for good; members that never answered, while
            // throttled, until they answer (`on_ack` puts them back) or the table changes.
            true,
        )
    }

    fn start_probe(&mut self, now: Millis, target: NodeId, out: &mut Vec<Effect>) {
        let rec = &self
            .members
            .get(target)
            .expect("probe target is known")
            .member;
        let (target_addr, generation, incarnation) = (rec.addr, rec.generation, rec.incarnation);
        let seq = self.next_seq();
        self.probes.insert(
            seq,
            Probe {
                target,
                target_addr,
                generation,
                incarnation,
                acked: false,
                failed: false,
                helpers: 0,
                awaiting: Vec::new(),
                rounds: 0,
                asked: Vec::new(),
            },
        );
        self.stats.probes_sent += 1;
        self.send(target_addr, Some(target), Body::Ping { seq, target }, out);
        out.push(Effect::SetTimer {
            timer: Timer::ProbeTimeout(seq),
            at: now + self.probe_timeout(),
        });
    }

    /// No direct ack in time, or the next indirect round is due: ask `k` alive members not
    /// asked before to probe the target for us, and ping it once more ourselves (memberlist's
    /// fallback ping, over UDP). On a lossy link a lost ping or ack is the usual cause, and
    /// each round adds independent paths before the period ends. Rounds are spread evenly
    /// over the rest of the period, the last leaving time for its helpers' answers.
    pub(super) fn probe_timeout_fired(
        &mut self,
        now: Millis,
        seq: u32,
        rng: &mut dyn Pick,
        out: &mut Vec<Effect>,
    ) {
        let Some(probe) = self.probes.get(&seq) else {
            return;
        };
        if probe.acked || probe.failed || probe.rounds >= self.config.indirect_rounds {
            return;
        }
        let (target, target_addr, round) = (probe.target, probe.target_addr, probe.rounds + 1);
        let target_zone = self.members.get(target).and_then(|r| zone_of(&r.member));
        let ours = zone_of(&self.me);
        let reask = self.faults.has(Fault::LaterRoundsReask);
        let mut helpers: Vec<Candidate> = self
            .members
            .iter()
            .filter(|r| {
                r.member.status == Status::Alive
                    && r.member.id != target
                    && (reask || !probe.asked.contains(&r.member.id))
            })
            .map(|r| Candidate::new(&r.member, target_zone, ours))
            .collect();
        let k = choose_helpers(
            rng,
            &mut helpers,
            self.config.indirect_checks,
            self.config.zone_helpers && !self.faults.has(Fault::HelpersIgnoreZones),
        );
        for &Candidate { id, addr, .. } in &helpers[..k] {
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
        let rounds = self.config.indirect_rounds;
        let more = round < rounds;
        if let Some(probe) = self.probes.get_mut(&seq) {
            probe.rounds = round;
            let chosen = helpers[..k].iter().map(|c| c.id);
            if round == 1 {
                probe.helpers = k as u8;
                probe.awaiting = chosen.clone().collect();
            }
            if more {
                probe.asked.extend(chosen);
            } else {
                probe.asked = Vec::new();
            }
        }
        if more {
            let rest = self.probe_interval().saturating_sub(self.probe_timeout());
            out.push(Effect::SetTimer {
                timer: Timer::ProbeTimeout(seq),
                at: now + (rest / Millis::from(rounds)).max(1),
            });
        }
    }

    /// A ping: ack it if it is for us (an old address may reach someone else).
    pub(super) fn on_ping(
        &mut self,
        from: SocketAddr,
        sender: NodeId,
        seq: u32,
        target: NodeId,
        out: &mut Vec<Effect>,
    ) {
        if target == self.me.id {
            self.send(from, Some(sender), Body::Ack { seq }, out);
        } else {
            self.stats.misdirected += 1;
        }
    }

    pub(super) fn on_ack(
        &mut self,
        now: Millis,
        seq: u32,
        rng: &mut dyn Pick,
        out: &mut Vec<Effect>,
    ) {
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
            let target = probe.target;
            // A member that answers for the first time while the order skips such members
            // was left out of the pass (`next_target`): it is back in.
            let throttled = self.throttled();
            let stays_out = self.faults.has(Fault::AnsweredStaysOut);
            if self.guard.unanswered.remove(&target) && throttled && !stays_out {
                self.order.put_back(target, rng);
            }
            self.health.apply(-1);
            out.push(Effect::CancelTimer {
                timer: Timer::ProbeTimeout(seq),
            });
            self.heard(now, rng, out);
        }
    }

    /// A helper's nack: it reached us but not the target.
    pub(super) fn on_nack(
        &mut self,
        now: Millis,
        sender: NodeId,
        seq: u32,
        rng: &mut dyn Pick,
        out: &mut Vec<Effect>,
    ) {
        if let Some(p) = self.probes.get_mut(&seq)
            && !p.acked
            && !p.failed
            && let Some(i) = p.awaiting.iter().position(|&h| h == sender)
        {
            p.awaiting.swap_remove(i);
            // Every helper reached us and none reached the target: the round is
            // conclusive, so judge it now rather than at the end of the period. With later
            // rounds, their helpers may still reach it: the period's end judges.
            let conclusive = p.awaiting.is_empty() && self.config.indirect_rounds == 1;
            if conclusive && !self.faults.has(Fault::NacksWaitForTheTick) {
                p.failed = true;
                let probe = p.clone();
                self.probe_failed(now, &probe, rng, out);
            }
        }
    }

    /// A probe got no ack: at the end of its period, or earlier once every helper nacked.
    /// Count it against our own health and suspect the target.
    pub(super) fn probe_failed(
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
        self.unanswered();
        let silent_helpers = probe.awaiting.len() as i32;
        self.health.apply(1 + silent_helpers);
        if let Some(rec) = self.members.get(probe.target)
            && !rec.member.status.is_terminal()
            && rec.member.generation == probe.generation
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

    /// Someone asks us to probe `target` on their behalf.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn relay_probe(
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
        if self.allowance(target_addr, Some(target)).is_some() {
            // An address that never proved it receives ours (a forged ping-req can name any):
            // one bare ping, no gossip.
            let msg = Message {
                from: self.me.id,
                body: Body::Ping { seq, target },
                gossip: Vec::new(),
            };
            out.push(Effect::Send {
                to: target_addr,
                msg,
            });
        } else {
            self.send(target_addr, Some(target), Body::Ping { seq, target }, out);
        }
        out.push(Effect::SetTimer {
            timer: Timer::Relay(seq),
            at: now + self.config.probe_timeout * 8 / 10,
        });
    }

    /// First firing: nack the origin. Second firing (a period later): forget the relay.
    pub(super) fn relay_timer(&mut self, now: Millis, seq: u32, out: &mut Vec<Effect>) {
        let Some(relay) = self.relays.get_mut(&seq) else {
            return;
        };
        if relay.nacked {
            self.relays.remove(&seq);
            return;
        }
        relay.nacked = true;
        let (origin, origin_id, origin_seq) = (relay.origin, relay.origin_id, relay.origin_seq);
        if self.faults.has(Fault::HealthCountsRelays) {
            self.health.apply(1);
        }
        self.stats.nacks_sent += 1;
        self.send(origin, Some(origin_id), Body::Nack { seq: origin_seq }, out);
        out.push(Effect::SetTimer {
            timer: Timer::Relay(seq),
            at: now + self.config.probe_interval,
        });
    }

    pub(super) fn next_seq(&mut self) -> u32 {
        self.next_seq = self.next_seq.wrapping_add(1);
        self.next_seq
    }
}
