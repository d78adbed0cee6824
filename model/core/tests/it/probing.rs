//! Failure detection (PROTOCOL.md §4): pings, indirect probes, nacks, late acks, probe order.

use std::collections::{BTreeMap, BTreeSet};

use crate::common::*;
use swim_checked_core::{Body, Config, NodeId, Pick, Status, Timer};

fn node() -> Driver {
    Driver::with_peers(Config::lan(), 2..=5)
}

#[test]
fn a_ping_for_me_is_acked_to_its_source_address() {
    let mut d = node();
    let out = d.recv(
        3,
        Body::Ping {
            seq: 77,
            target: id(1),
        },
        vec![],
    );
    let s = sends(&out);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].0, addr(3));
    assert_eq!(s[0].1.body, Body::Ack { seq: 77 });
    assert_eq!(s[0].1.from, id(1));
}

#[test]
fn a_ping_for_someone_else_is_not_answered() {
    // A restarted process must not answer for its previous id.
    let mut d = node();
    let out = d.recv(
        3,
        Body::Ping {
            seq: 77,
            target: id(42),
        },
        vec![],
    );
    assert!(sends(&out).is_empty());
    assert_eq!(d.node.stats().misdirected, 1);
}

#[test]
fn a_tick_pings_the_next_target_and_arms_the_probe_timeout() {
    let mut d = node();
    let (seq, target, out) = d.probe_at(1_000);
    let p = pings(&out);
    assert_eq!(p.len(), 1, "one direct probe per period by default");
    assert_eq!(p[0].0, addr(peer(target)));
    assert_eq!(timer_set(&out, Timer::ProbeTimeout(seq)), Some(1_500));
    assert_eq!(timer_set(&out, Timer::Tick), Some(2_000));
    let probe = &d.node.probes()[&seq];
    assert_eq!(
        (probe.target, probe.acked, probe.helpers),
        (target, false, 0)
    );
}

#[test]
fn alone_a_node_probes_nobody() {
    let mut d = Driver::new(Config::lan());
    let out = d.timer_at(1_000, Timer::Tick);
    assert!(sends(&out).is_empty());
    assert_eq!(timer_set(&out, Timer::Tick), Some(2_000));
}

#[test]
fn several_direct_probes_per_period() {
    let mut config = Config::lan();
    config.direct_probes = 2;
    let mut d = Driver::with_peers(config.clone(), 2..=5);
    let out = d.timer_at(1_000, Timer::Tick);
    let targets: BTreeSet<NodeId> = pings(&out).iter().map(|p| p.2).collect();
    assert_eq!(targets.len(), 2);
    // Fewer peers than probes: each peer at most once.
    config.direct_probes = 3;
    let mut d = Driver::with_peers(config, [2]);
    let out = d.timer_at(1_000, Timer::Tick);
    assert_eq!(pings(&out).len(), 1);
}

#[test]
fn no_direct_ack_asks_k_alive_helpers_other_than_the_target() {
    let mut d = Driver::with_peers(Config::lan(), 2..=7);
    d.gossip(2, vec![suspect(6, 0, &[2])]); // suspects are not asked to help
    let (seq, target, _) = d.probe_at(1_000);
    assert_ne!(
        target,
        id(6),
        "with picks at 0 the first target is another peer"
    );
    let out = d.timer_at(1_500, Timer::ProbeTimeout(seq));
    let reqs = ping_reqs(&out);
    assert_eq!(reqs.len(), 3);
    let helpers: BTreeSet<_> = reqs.iter().map(|r| r.0).collect();
    assert_eq!(helpers.len(), 3, "distinct helpers");
    for (to, s, t) in &reqs {
        assert_eq!((*s, *t), (seq, target));
        assert_ne!(*to, addr(peer(target)));
        assert_ne!(*to, addr(6));
    }
    for (_, m) in sends(&out) {
        match m.body {
            Body::PingReq { target_addr, .. } => assert_eq!(target_addr, addr(peer(target))),
            Body::Ping { .. } => {}
            _ => unreachable!("only ping-reqs and the fallback ping"),
        }
    }
    // And one more direct ping, same sequence number: its ack counts like the first one's.
    assert_eq!(pings(&out), vec![(addr(peer(target)), seq, target)]);
    assert_eq!(d.node.probes()[&seq].helpers, 3);
    // With room for everyone, exactly the alive non-targets are asked.
    let mut config = Config::lan();
    config.indirect_checks = 16;
    let mut d = Driver::with_peers(config, 2..=7);
    d.gossip(2, vec![suspect(6, 0, &[2]), record(5, 0, Status::Dead)]);
    let (seq, target, _) = d.probe_at(1_000);
    let out = d.timer_at(1_500, Timer::ProbeTimeout(seq));
    let asked: BTreeSet<_> = ping_reqs(&out).iter().map(|r| r.0).collect();
    let expected: BTreeSet<_> = [2, 3, 4, 7]
        .into_iter()
        .filter(|&i| id(i) != target)
        .map(addr)
        .collect();
    assert_eq!(asked, expected);
}

#[test]
fn a_second_round_later_in_the_period_asks_new_helpers_and_pings_again() {
    let mut two = Config::lan();
    two.indirect_rounds = 2;
    let mut d = Driver::with_peers(two.clone(), 2..=9);
    let (seq, target, _) = d.probe_at(1_000);
    let first = d.timer_at(1_500, Timer::ProbeTimeout(seq));
    // Half-way through the rest of the period (1,500 to 2,000).
    assert_eq!(timer_set(&first, Timer::ProbeTimeout(seq)), Some(1_750));
    let round_1: BTreeSet<_> = ping_reqs(&first).iter().map(|r| r.0).collect();
    let second = d.timer_at(1_750, Timer::ProbeTimeout(seq));
    assert_eq!(
        timer_set(&second, Timer::ProbeTimeout(seq)),
        None,
        "two rounds"
    );
    let round_2: BTreeSet<_> = ping_reqs(&second).iter().map(|r| r.0).collect();
    assert_eq!((round_1.len(), round_2.len()), (3, 3));
    assert!(
        round_1.is_disjoint(&round_2),
        "{round_1:?} then {round_2:?}"
    );
    assert!(!round_2.contains(&addr(peer(target))));
    assert_eq!(pings(&second), vec![(addr(peer(target)), seq, target)]);
    // Firing again (a stale timer) asks nobody.
    assert!(d.timer_at(1_760, Timer::ProbeTimeout(seq)).is_empty());
    // The first round's helpers nack; the second round's cannot before the period ends,
    // and their silence does not count against our health.
    d.now = 1_800;
    for h in &round_1 {
        d.recv(peer_at(*h), Body::Nack { seq }, vec![]);
    }
    assert_eq!(d.status_of(peer(target)), Some(Status::Alive));
    d.timer_at(2_000, Timer::Tick);
    assert_eq!(d.status_of(peer(target)), Some(Status::Suspect));
    assert_eq!(d.node.health(), 1);

    // An ack through a second-round helper saves the target.
    let mut d = Driver::with_peers(two, 2..=9);
    let (seq, target, _) = d.probe_at(1_000);
    d.timer_at(1_500, Timer::ProbeTimeout(seq));
    let second = d.timer_at(1_750, Timer::ProbeTimeout(seq));
    d.now = 1_900;
    d.recv(peer_at(ping_reqs(&second)[0].0), Body::Ack { seq }, vec![]);
    let out = d.timer_at(2_000, Timer::Tick);
    assert!(events(&out).is_empty());
    assert_eq!(d.status_of(peer(target)), Some(Status::Alive));
}

#[test]
fn the_default_three_rounds_go_a_third_of_the_rest_apart_until_helpers_run_out() {
    // Seven peers: the target and six helpers, three for each of the first two rounds.
    let mut d = Driver::with_peers(Config::lan(), 2..=8);
    let (seq, target, _) = d.probe_at(1_000);
    let mut asked = BTreeSet::new();
    let mut at = 1_500;
    for (round, (helpers, next)) in [(3, Some(1_666)), (3, Some(1_832)), (0, None)]
        .into_iter()
        .enumerate()
    {
        let out = d.timer_at(at, Timer::ProbeTimeout(seq));
        let reqs = ping_reqs(&out);
        assert_eq!(reqs.len(), helpers, "round {}", round + 1);
        for r in &reqs {
            assert!(asked.insert(r.0), "{:?} asked twice", r.0);
        }
        assert_eq!(pings(&out), vec![(addr(peer(target)), seq, target)]);
        assert_eq!(timer_set(&out, Timer::ProbeTimeout(seq)), next);
        at = next.unwrap_or(at);
    }
}

#[test]
fn one_round_asks_once() {
    let mut config = Config::lan();
    config.indirect_rounds = 1;
    let mut d = Driver::with_peers(config, 2..=9);
    let (seq, _, _) = d.probe_at(1_000);
    let out = d.timer_at(1_500, Timer::ProbeTimeout(seq));
    assert_eq!(ping_reqs(&out).len(), 3);
    assert_eq!(timer_set(&out, Timer::ProbeTimeout(seq)), None);
    assert!(
        d.node.probes()[&seq].asked.is_empty(),
        "nothing kept for a later round"
    );
}

#[test]
fn fewer_helpers_when_few_are_alive() {
    let mut d = Driver::with_peers(Config::lan(), 2..=3);
    let (seq, _, _) = d.probe_at(1_000);
    let out = d.timer_at(1_500, Timer::ProbeTimeout(seq));
    assert_eq!(ping_reqs(&out).len(), 1);
    assert_eq!(d.node.probes()[&seq].helpers, 1);
}

#[test]
fn an_ack_in_time_ends_the_probe_quietly() {
    let mut d = node();
    let (seq, target, _) = d.probe_at(1_000);
    let out = d.recv(peer(target), Body::Ack { seq }, vec![]);
    assert!(cancelled(&out, Timer::ProbeTimeout(seq)));
    // A probe timeout that fires anyway asks nobody.
    let out = d.timer_at(1_500, Timer::ProbeTimeout(seq));
    assert!(out.is_empty());
    let out = d.timer_at(2_000, Timer::Tick);
    assert!(events(&out).is_empty());
    assert_eq!(d.status_of(peer(target)), Some(Status::Alive));
}

#[test]
fn an_indirect_ack_saves_the_target() {
    let mut d = node();
    let (seq, target, _) = d.probe_at(1_000);
    let out = d.timer_at(1_500, Timer::ProbeTimeout(seq));
    let helper = peer_at(ping_reqs(&out)[0].0);
    d.now = 1_700;
    d.recv(helper, Body::Ack { seq }, vec![]);
    let out = d.timer_at(2_000, Timer::Tick);
    assert!(events(&out).is_empty());
    assert_eq!(d.status_of(peer(target)), Some(Status::Alive));
    assert_eq!(d.node.health(), 0);
}

#[test]
fn an_ack_after_the_period_is_ignored() {
    let mut d = node();
    let (seq, target, _) = d.probe_at(1_000);
    d.timer_at(1_500, Timer::ProbeTimeout(seq));
    let out = d.timer_at(2_000, Timer::Tick);
    assert_eq!(d.status_of(peer(target)), Some(Status::Suspect));
    let health = d.node.health();
    let next_seq = pings(&out)[0].1;
    d.now = 2_100;
    let out = d.recv(peer(target), Body::Ack { seq }, vec![]);
    assert!(out.is_empty());
    assert_eq!(d.node.health(), health, "a late ack does not count");
    assert_eq!(d.status_of(peer(target)), Some(Status::Suspect));
    assert!(!d.node.probes()[&next_seq].acked);
}

#[test]
fn nacks_are_counted_once_per_helper_asked() {
    let mut d = node();
    let (seq, _, _) = d.probe_at(1_000);
    let out = d.timer_at(1_500, Timer::ProbeTimeout(seq));
    let helper = peer_at(ping_reqs(&out)[0].0);
    for _ in 0..5 {
        d.recv(helper, Body::Nack { seq }, vec![]);
    }
    assert_eq!(d.node.probes()[&seq].nacks(), 1);
    assert_eq!(d.node.probes()[&seq].awaiting.len(), 2);
    // Nacks for an unknown probe are ignored.
    d.recv(2, Body::Nack { seq: seq + 100 }, vec![]);
    assert!(!d.node.probes().contains_key(&(seq + 100)));
}

#[test]
fn nacks_after_an_ack_are_ignored() {
    let mut d = node();
    let (seq, target, _) = d.probe_at(1_000);
    d.timer_at(1_500, Timer::ProbeTimeout(seq));
    d.recv(peer(target), Body::Ack { seq }, vec![]);
    d.recv(2, Body::Nack { seq }, vec![]);
    assert_eq!(d.node.probes()[&seq].nacks(), 0);
}

#[test]
fn a_helper_pings_the_target_nacks_at_80_percent_and_still_forwards_a_late_ack() {
    let mut d = node();
    d.now = 10_000;
    let out = d.recv(
        2,
        Body::PingReq {
            seq: 40,
            target: id(3),
            target_addr: addr(3),
        },
        vec![],
    );
    let p = pings(&out);
    assert_eq!(p.len(), 1);
    let (to, seq, target) = p[0];
    assert_eq!((to, target), (addr(3), id(3)));
    assert_eq!(timer_set(&out, Timer::Relay(seq)), Some(10_000 + 400));
    // 80% of the timeout: nack to the origin with the origin's sequence number.
    let out = d.timer_at(10_400, Timer::Relay(seq));
    let s = sends(&out);
    assert_eq!(s.len(), 1);
    assert_eq!((s[0].0, &s[0].1.body), (addr(2), &Body::Nack { seq: 40 }));
    assert_eq!(d.node.stats().nacks_sent, 1);
    assert_eq!(timer_set(&out, Timer::Relay(seq)), Some(10_400 + 1_000));
    // The ack comes late: forwarded anyway.
    let out = d.recv(3, Body::Ack { seq }, vec![]);
    let s = sends(&out);
    assert_eq!((s[0].0, &s[0].1.body), (addr(2), &Body::Ack { seq: 40 }));
    assert!(cancelled(&out, Timer::Relay(seq)));
    assert!(d.node.relays().is_empty());
}

#[test]
fn a_helper_forgets_the_relay_a_period_after_its_nack() {
    let mut d = node();
    let out = d.recv(
        2,
        Body::PingReq {
            seq: 40,
            target: id(3),
            target_addr: addr(3),
        },
        vec![],
    );
    let seq = pings(&out)[0].1;
    d.timer_at(400, Timer::Relay(seq));
    let out = d.timer_at(1_400, Timer::Relay(seq));
    assert!(out.is_empty(), "no second nack");
    assert!(d.node.relays().is_empty());
    // An ack after that has nobody to go to.
    let out = d.recv(3, Body::Ack { seq }, vec![]);
    assert!(sends(&out).is_empty());
}

#[test]
fn an_ack_to_a_relay_before_the_nack_is_forwarded_once() {
    let mut d = node();
    let out = d.recv(
        2,
        Body::PingReq {
            seq: 40,
            target: id(3),
            target_addr: addr(3),
        },
        vec![],
    );
    let seq = pings(&out)[0].1;
    let out = d.recv(3, Body::Ack { seq }, vec![]);
    assert_eq!(sends(&out).len(), 1);
    assert!(cancelled(&out, Timer::Relay(seq)));
    let out = d.recv(3, Body::Ack { seq }, vec![]);
    assert!(sends(&out).is_empty(), "duplicate ack not forwarded twice");
    let out = d.timer_at(400, Timer::Relay(seq));
    assert!(out.is_empty(), "no nack after success");
}

#[test]
fn relays_are_bounded() {
    let mut config = Config::lan();
    config.max_relays = 2;
    let mut d = Driver::with_peers(config, 2..=5);
    for seq in 0..4 {
        d.recv(
            2,
            Body::PingReq {
                seq,
                target: id(3),
                target_addr: addr(3),
            },
            vec![],
        );
    }
    assert_eq!(d.node.relays().len(), 2);
    assert_eq!(d.node.stats().dropped_relays_full, 2);
}

/// Ack every probe for `periods` periods with seeded picks; returns the targets in order.
fn probe_targets(d: &mut Driver, rng: &mut impl Pick, periods: usize) -> Vec<NodeId> {
    let mut targets = Vec::new();
    for _ in 0..periods {
        d.now += 1_000;
        let mut out = Vec::new();
        d.node.handle_timer(d.now, Timer::Tick, rng, &mut out);
        let (_, seq, target) = pings(&out)[0];
        d.recv(peer(target), Body::Ack { seq }, vec![]);
        targets.push(target);
    }
    targets
}

#[test]
fn each_pass_probes_every_member_once_in_a_fresh_random_order() {
    let mut d = Driver::with_peers(Config::lan(), 2..=7);
    let mut rng = Rng(11);
    let targets = probe_targets(&mut d, &mut rng, 6 * 8);
    let passes: Vec<Vec<NodeId>> = targets.chunks(6).map(<[_]>::to_vec).collect();
    for pass in &passes {
        let set: BTreeSet<_> = pass.iter().collect();
        assert_eq!(set.len(), 6, "a pass visits each member once: {pass:?}");
    }
    let orders: BTreeSet<_> = passes.iter().collect();
    assert!(orders.len() > 1, "passes are reshuffled");
}

/// Answers picks from a list (then 0) and records the range of each.
struct Asked {
    answers: Vec<usize>,
    ranges: Vec<usize>,
}

impl Pick for Asked {
    fn pick(&mut self, n: usize) -> usize {
        self.ranges.push(n);
        self.answers
            .get(self.ranges.len() - 1)
            .copied()
            .unwrap_or(0)
    }
}

#[test]
fn a_later_pass_draws_each_member_as_it_goes_with_the_law_of_a_shuffle() {
    // After the first pass, each visit draws among the members left: the 3 x 2 sequences of
    // picks (the last member needs none) give each of the 3! orders exactly once.
    let mut orders = BTreeSet::new();
    for first in 0..3 {
        for second in 0..2 {
            let mut d = Driver::with_peers(Config::lan(), 2..=4);
            probe_targets(&mut d, &mut Rng(1), 3); // the first pass: no draw at its visits
            let mut asked = Asked {
                answers: vec![first, second],
                ranges: vec![],
            };
            let pass = probe_targets(&mut d, &mut asked, 3);
            assert_eq!(asked.ranges, [3, 2], "one draw per visit, among those left");
            orders.insert(pass);
        }
    }
    assert_eq!(orders.len(), 6, "{orders:?}");
}

#[test]
fn a_drawn_pass_keeps_the_set_left_not_an_order() {
    let mut d = Driver::with_peers(Config::lan(), 2..=5);
    probe_targets(&mut d, &mut Rng(2), 4 + 1);
    assert!(d.node.probe_order().is_drawn());
    let rest: Vec<NodeId> = d.node.probe_order().rest().collect();
    assert_eq!(rest.len(), 3);
    assert!(rest.is_sorted(), "{rest:?}");
    // A member learnt now joins the set, with no pick.
    d.script.push(&[7]);
    d.gossip(2, vec![alive(9, 0)]);
    assert_eq!(d.script.0, [7], "no pick asked");
    let rest: Vec<NodeId> = d.node.probe_order().rest().collect();
    assert_eq!(rest.len(), 4);
    assert!(rest.is_sorted() && rest.contains(&id(9)), "{rest:?}");
}

#[test]
fn a_member_is_probed_at_least_every_2n_minus_1_periods() {
    for seed in 0..20 {
        let mut d = Driver::with_peers(Config::lan(), 2..=6);
        let mut rng = Rng(seed);
        let targets = probe_targets(&mut d, &mut rng, 5 * 10);
        let n = 5;
        let mut last: BTreeMap<NodeId, usize> = BTreeMap::new();
        for (i, t) in targets.iter().enumerate() {
            if let Some(prev) = last.insert(*t, i) {
                let gap = i - prev;
                assert!(gap < 2 * n, "seed {seed}: gap {gap} > 2n - 1");
            }
        }
        assert_eq!(last.len(), 5);
    }
}

#[test]
fn a_new_member_joins_the_rest_of_the_current_pass() {
    let mut d = Driver::with_peers(Config::lan(), 2..=5);
    let mut rng = Rng(3);
    probe_targets(&mut d, &mut rng, 2); // two of four probed in this pass
    assert_eq!(d.node.probe_order().rest().len(), 2);
    // The insertion pick is relative to the unvisited rest: 1 puts it second in what remains.
    d.script.push(&[1]);
    d.gossip(2, vec![alive(9, 0)]);
    assert_eq!(d.node.probe_order().rest().nth(1), Some(id(9)));
    let rest = probe_targets(&mut d, &mut rng, 3);
    assert_eq!(rest[1], id(9));
    let seen: BTreeSet<_> = rest.iter().collect();
    assert_eq!(
        seen.len(),
        3,
        "the pass finishes before anyone is probed twice"
    );
}

#[test]
fn dead_and_left_members_are_skipped() {
    let mut d = Driver::with_peers(Config::lan(), 2..=5);
    d.gossip(
        2,
        vec![record(3, 0, Status::Dead), record(4, 0, Status::Left)],
    );
    let mut rng = Rng(5);
    let targets = probe_targets(&mut d, &mut rng, 10);
    assert!(targets.iter().all(|t| *t == id(2) || *t == id(5)));
}

#[test]
fn a_suspect_is_still_probed_and_told_of_its_suspicion_first() {
    let mut d = Driver::with_peers(Config::lan(), 2..=3);
    d.gossip(2, vec![suspect(3, 0, &[2])]);
    for t in 1..=2 {
        let out = d.timer_at(t * 1_000, Timer::Tick);
        let (to, seq, target) = pings(&out)[0];
        if target == id(3) {
            let msg = sends(&out)[0].1;
            assert_eq!(msg.gossip[0], suspect(3, 0, &[2]));
            assert_eq!(
                msg.gossip.iter().filter(|m| m.id == id(3)).count(),
                1,
                "the queued update is not sent twice"
            );
            assert_eq!(to, addr(3));
            return;
        }
        d.recv(peer(target), Body::Ack { seq }, vec![]);
    }
    panic!("the suspect was never probed");
}

/// The index of the peer listening on `a`.
fn peer_at(a: std::net::SocketAddr) -> u64 {
    (2..=9).find(|&i| addr(i) == a).expect("a peer's address")
}

#[test]
fn a_nack_from_every_helper_judges_the_probe_before_the_period_ends() {
    // With one indirect round: a later round's helpers could still reach the target.
    let mut config = Config::lan();
    config.indirect_rounds = 1;
    let mut d = Driver::with_peers(config, 2..=5);
    let (seq, target, _) = d.probe_at(1_000);
    let out = d.timer_at(1_500, Timer::ProbeTimeout(seq));
    let helpers: Vec<u64> = ping_reqs(&out).iter().map(|r| peer_at(r.0)).collect();
    assert_eq!(helpers.len(), 3);
    d.now = 1_800;
    for &h in &helpers[..2] {
        let out = d.recv(h, Body::Nack { seq }, vec![]);
        assert!(events(&out).is_empty(), "a helper is still out");
        assert_eq!(d.status_of(peer(target)), Some(Status::Alive));
    }
    let out = d.recv(helpers[2], Body::Nack { seq }, vec![]);
    assert_eq!(events(&out).len(), 1);
    assert_eq!(d.status_of(peer(target)), Some(Status::Suspect));
    assert_eq!(d.node.status_since(target), Some(1_800));
    assert!(d.node.probes()[&seq].failed);
    let stats = d.node.stats();
    assert_eq!((stats.probes_failed, stats.suspicions_raised), (1, 1));
    // Every helper answered: only the failed probe itself counts against our health.
    assert_eq!(d.node.health(), 1);
    // The verdict stands: a late ack neither counts nor clears, and the tick judges it once.
    d.now = 1_900;
    assert!(d.recv(peer(target), Body::Ack { seq }, vec![]).is_empty());
    assert_eq!(d.node.health(), 1);
    let out = d.timer_at(2_000, Timer::Tick);
    assert!(events(&out).is_empty());
    let stats = d.node.stats();
    assert_eq!((stats.probes_failed, stats.suspicions_raised), (1, 1));
    assert_eq!(d.status_of(peer(target)), Some(Status::Suspect));
}

#[test]
fn a_silent_helper_leaves_the_judgement_to_the_end_of_the_period() {
    let mut d = node();
    let (seq, target, _) = d.probe_at(1_000);
    let out = d.timer_at(1_500, Timer::ProbeTimeout(seq));
    let helpers: Vec<u64> = ping_reqs(&out).iter().map(|r| peer_at(r.0)).collect();
    d.now = 1_800;
    for &h in &helpers[..2] {
        d.recv(h, Body::Nack { seq }, vec![]);
    }
    // A duplicate nack, or one from a member that was not asked, does not stand in for the
    // silent helper.
    d.recv(helpers[0], Body::Nack { seq }, vec![]);
    d.recv(9, Body::Nack { seq }, vec![]);
    assert_eq!(d.node.probes()[&seq].nacks(), 2);
    assert!(!d.node.probes()[&seq].failed);
    assert_eq!(d.status_of(peer(target)), Some(Status::Alive));
    let out = d.timer_at(2_000, Timer::Tick);
    assert_eq!(events(&out).len(), 1);
    assert_eq!(d.status_of(peer(target)), Some(Status::Suspect));
    assert_eq!(d.node.status_since(target), Some(2_000));
    // One for the failed probe, one for the helper that never answered.
    assert_eq!(d.node.health(), 2);
}

#[test]
fn the_walked_part_of_a_pass_is_forgotten() {
    // Passes that walked the same members in different orders, with the same rest, are one
    // order: what was walked decides nothing (the checker counts them as one state).
    let mut walks: Vec<(Vec<NodeId>, Driver)> = Vec::new();
    for seed in 0..64 {
        let mut d = Driver::with_peers(Config::lan(), 2..=4);
        // The first pass follows the order members were learnt in; the second is drawn.
        let targets = probe_targets(&mut d, &mut Rng(seed), 5)[3..].to_vec();
        walks.push((targets, d));
    }
    let (a, b) = walks
        .iter()
        .enumerate()
        .find_map(|(i, (t, _))| {
            let j = walks
                .iter()
                .position(|(u, _)| u[0] == t[1] && u[1] == t[0])?;
            Some((i, j))
        })
        .expect("some seeds walk the same two members in opposite orders");
    let (order_a, order_b) = (walks[a].1.node.probe_order(), walks[b].1.node.probe_order());
    assert_eq!(order_a.rest().len(), 1);
    assert_eq!(order_a, order_b);
}

#[test]
fn a_judged_probe_is_fingerprinted_without_its_details() {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let hash = |n: &swim_checked_core::Node| {
        let mut h = DefaultHasher::new();
        n.hash(&mut h);
        h.finish()
    };
    // The same probe, with different helpers asked after its direct timeout.
    let run = |picks: &[usize], ack: bool| {
        let mut d = Driver::with_peers(Config::lan(), 2..=6);
        let (seq, target, _) = d.probe_at(1_000);
        d.script.push(picks);
        d.timer_at(1_500, Timer::ProbeTimeout(seq));
        if ack {
            d.recv(peer(target), Body::Ack { seq }, vec![]);
        }
        d.node
    };
    let (a, b) = (run(&[0, 0, 0], true), run(&[3, 2, 1], true));
    assert_ne!(a.probes(), b.probes(), "different helpers were asked");
    assert_eq!(hash(&a), hash(&b), "acked: the helpers no longer matter");
    // Still open, the helpers asked decide which nacks count: kept.
    let (a, b) = (run(&[0, 0, 0], false), run(&[3, 2, 1], false));
    assert_ne!(hash(&a), hash(&b));
}

/// A closure is a source of choices (the checker's and the tests' scripted randomness): its
/// answer is the choice, asked with the range.
#[test]
fn a_closure_answers_picks() {
    let mut asked = Vec::new();
    let mut last = |n: usize| {
        asked.push(n);
        n - 1
    };
    assert_eq!(Pick::pick(&mut last, 7), 6);
    assert_eq!(Pick::pick(&mut last, 3), 2);
    assert_eq!(asked, [7, 3]);
}
