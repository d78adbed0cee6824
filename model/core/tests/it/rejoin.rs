//! Generations, automatic rejoin, the isolation hold and whom a node heeds (PROTOCOL.md §14).

use crate::common::*;
use swim_checked_core::{Body, Config, EventKind, Phase, Status, Timer};

/// Node 1 with peers 2, 3 and 4, PROTOCOL.md §14 on (the LAN defaults).
fn node() -> Driver {
    Driver::with_peers(Config::lan(), 2..=4)
}

#[test]
fn a_node_declared_dead_rejoins_at_the_next_generation_under_the_same_id() {
    let mut d = node();
    let out = d.gossip(2, vec![record(1, 0, Status::Dead)]);
    assert_eq!(d.node.phase(), Phase::Running);
    let me = d.me();
    assert_eq!((me.id, me.generation, me.incarnation), (id(1), 1, 0));
    assert_eq!(me.status, Status::Alive);
    let ev = events(&out);
    assert_eq!(ev.len(), 1, "one event: {ev:?}");
    assert_eq!(ev[0].kind(), EventKind::Restarted);
    assert_eq!(ev[0].previous_generation, Some(0));
    assert_eq!(d.node.stats().auto_rejoins, 1);
    // It tells members it still knows, with its new record.
    let told: Vec<_> = sends(&out)
        .into_iter()
        .filter(|(_, m)| matches!(&m.body, Body::Sync { members, .. } if members[0] == *d.me()))
        .map(|(to, _)| to)
        .collect();
    assert_eq!(told.len(), 3, "{out:?}");
    // The view carried on: the others are still held alive.
    assert_eq!(d.node.cluster_size(), 4);
}

#[test]
fn a_newer_generation_of_our_id_makes_us_rejoin_above_it() {
    let mut d = node();
    d.gossip(2, vec![alive(1, 3).at_generation(5)]);
    assert_eq!(d.me().generation, 6);
    // An older generation of our id is a past life: ignored.
    let out = d.gossip(2, vec![record(1, 9, Status::Dead).at_generation(2)]);
    assert!(events(&out).is_empty());
    assert_eq!(d.me().generation, 6);
}

#[test]
fn without_auto_rejoin_a_node_declared_dead_stops() {
    let mut d = Driver::with_peers(classic(Config::lan()), 2..=4);
    let out = d.gossip(2, vec![record(1, 0, Status::Dead)]);
    assert_eq!(d.node.phase(), Phase::Removed);
    assert_eq!(events(&out)[0].kind(), EventKind::Dead);
}

#[test]
fn a_leaving_node_told_it_is_dead_does_not_come_back() {
    let mut d = node();
    d.cmd(swim_checked_core::Command::Leave).unwrap();
    d.gossip(2, vec![record(1, 1, Status::Dead)]);
    assert_eq!(d.me().generation, 0);
    assert_ne!(d.node.phase(), Phase::Running);
}

#[test]
fn a_new_generation_supersedes_a_dead_member_with_one_restarted_event() {
    let mut d = node();
    d.gossip(3, vec![record(2, 4, Status::Dead)]);
    assert_eq!(d.status_of(2), Some(Status::Dead));
    let mut back = alive(2, 0).at_generation(1);
    back.addr = addr(12); // a new life may listen elsewhere
    let out = d.gossip(2, vec![back.clone()]);
    let ev = events(&out);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].kind(), EventKind::Restarted);
    assert_eq!(ev[0].previous_generation, Some(0));
    assert_eq!(d.node.member(id(2)), Some(&back));
    assert_eq!(d.node.cluster_size(), 4);
    // The old generation's records are stale now.
    let out = d.gossip(3, vec![record(2, 9, Status::Dead)]);
    assert!(events(&out).is_empty());
    assert_eq!(d.status_of(2), Some(Status::Alive));
}

#[test]
fn gossip_from_a_sender_held_dead_counts_only_about_itself_and_us() {
    let mut d = node();
    d.gossip(3, vec![record(2, 0, Status::Dead)]);
    // Node 2, cut off and held dead here, still suspects node 3: not heard.
    let out = d.gossip(2, vec![suspect(3, 0, &[2]), record(4, 0, Status::Dead)]);
    assert!(events(&out).is_empty(), "{out:?}");
    assert_eq!(d.status_of(3), Some(Status::Alive));
    assert_eq!(d.status_of(4), Some(Status::Alive));
    // What it says of us is heard (we refute it).
    d.gossip(2, vec![suspect(1, 0, &[2])]);
    assert_eq!(d.me().incarnation, 1);
    // Its own new generation is heard, and from then on all it says.
    d.gossip(2, vec![alive(2, 0).at_generation(1)]);
    assert_eq!(d.status_of(2), Some(Status::Alive));
    d.gossip(2, vec![suspect(3, 0, &[2])]);
    assert_eq!(d.status_of(3), Some(Status::Suspect));
}

#[test]
fn a_name_travels_with_its_record_and_must_match_the_id() {
    use swim_checked_core::{Message, Wire};
    let config = Config::lan();
    let wire = Wire::new(&config);
    let named = |name: &str, id| {
        let mut m = alive(2, 0).named(name.into());
        m.id = id;
        Message {
            from: id,
            body: Body::Ack { seq: 1 },
            gossip: vec![m],
        }
    };
    let good = named("db-3", swim_checked_core::NodeId::from_name("db-3"));
    let bytes = wire.encode(&good).unwrap();
    assert_eq!(wire.decode(&bytes).unwrap().gossip[0].name.as_str(), "db-3");
    let forged = named("db-3", id(9));
    let bytes = wire.encode(&forged).unwrap();
    assert!(
        wire.decode(&bytes).is_err(),
        "a name that is not the id's is refused"
    );
    let long = "x".repeat(swim_checked_core::member::MAX_NAME_BYTES + 1);
    let bytes = wire
        .encode(&named(&long, swim_checked_core::NodeId::from_name(&long)))
        .unwrap();
    assert!(wire.decode(&bytes).is_err(), "an over-long name is refused");
}

#[test]
fn a_node_started_under_a_name_keeps_it_across_rejoins() {
    use swim_checked_core::{Meta, Node, NodeId};
    let me = |name: &str, id| {
        swim_checked_core::Member::alive(id, addr(1), 0, Meta::default())
            .named(name.into())
            .at_generation(7)
    };
    let mut out = Vec::new();
    let bad = Node::start(Config::lan(), me("db-1", id(1)), 0, &mut out);
    assert_eq!(bad.unwrap_err().field, "name");
    let node = Node::start(
        Config::lan(),
        me("db-1", NodeId::from_name("db-1")),
        0,
        &mut out,
    );
    let mut d = Driver {
        node: node.unwrap(),
        now: 0,
        script: Default::default(),
    };
    assert_eq!(d.me().generation, 7);
    d.gossip(2, vec![d.me().with_status(Status::Dead, 0)]);
    assert_eq!(d.me().generation, 8);
    assert_eq!(d.me().name.as_str(), "db-1");
}

#[test]
fn a_member_whose_tombstone_expired_is_still_told_it_is_dead() {
    let mut config = Config::lan();
    config.tombstone_ttl = 1_000;
    let mut d = Driver::with_peers(config, 2..=3);
    d.gossip(3, vec![record(2, 0, Status::Dead)]);
    d.probe_at(2_000);
    d.probe_at(4_000);
    assert!(d.node.is_purged(id(2)), "the tombstone expired");
    // Node 2, cut off all along, pings us: the ack tells it it is dead.
    let out = d.recv(
        2,
        Body::Ping {
            seq: 9,
            target: id(1),
        },
        vec![],
    );
    let ack = sends(&out)
        .into_iter()
        .find(|(to, m)| *to == addr(2) && matches!(m.body, Body::Ack { seq: 9 }))
        .expect("an ack")
        .1;
    assert_eq!(ack.gossip[0].id, id(2));
    assert_eq!(ack.gossip[0].status, Status::Dead);
    // Its next generation is welcome.
    d.gossip(2, vec![alive(2, 0).at_generation(1)]);
    assert_eq!(d.status_of(2), Some(Status::Alive));
}

#[test]
fn another_live_process_under_our_name_makes_us_stop_not_race_it() {
    let mut d = node();
    let mut other = alive(1, 0).at_generation(3);
    other.addr = addr(11);
    d.gossip(2, vec![other]);
    assert_eq!(d.node.phase(), Phase::Removed);
    assert_eq!(d.node.stats().name_conflicts, 1);
    assert_eq!(d.node.stats().auto_rejoins, 0);
}

#[test]
fn members_held_unreachable_do_not_count_as_witnesses_of_isolation() {
    let mut config = Config::lan();
    config.unreachable = true;
    let mut d = Driver::with_peers(config, 2..=3);
    d.gossip(2, vec![record(3, 0, Status::Unreachable)]);
    for k in 1..=5 {
        d.probe_at(k * 1_000);
    }
    assert!(d.node.stats().probes_failed >= 4);
    // Node 2 is the only other member that could answer: nothing to compare with.
    let deadline = d.node.suspicion_deadline(id(2)).expect("node 2 suspected");
    d.timer_at(deadline.max(d.now), Timer::Suspicion(id(2)));
    assert_eq!(
        d.status_of(2),
        Some(Status::Unreachable),
        "judged, not held"
    );
    assert_eq!(d.node.stats().suspicions_held, 0);
}

#[test]
fn a_suspicion_that_runs_out_after_four_unanswered_probes_starts_over() {
    let mut d = cut_off(Config::lan());
    let suspect = (2..=4)
        .find(|&i| d.status_of(i) == Some(Status::Suspect))
        .unwrap();
    let deadline = d.node.suspicion_deadline(id(suspect)).unwrap();
    let out = d.timer_at(deadline, Timer::Suspicion(id(suspect)));
    assert_eq!(d.status_of(suspect), Some(Status::Suspect), "no verdict");
    assert!(events(&out).is_empty());
    assert_eq!(d.node.stats().suspicions_held, 1);
    // Started over now, as ours alone: the longest timeout.
    let again = timer_set(&out, Timer::Suspicion(id(suspect))).expect("re-armed");
    assert_eq!(d.node.status_since(id(suspect)), Some(deadline));
    assert_eq!(d.node.member(id(suspect)).unwrap().suspecters, vec![id(1)]);
    assert!(again > deadline);
}

#[test]
fn without_the_isolation_hold_the_verdict_comes_anyway() {
    let mut d = cut_off(classic(Config::lan()));
    let suspect = (2..=4)
        .find(|&i| d.status_of(i) == Some(Status::Suspect))
        .unwrap();
    let deadline = d.node.suspicion_deadline(id(suspect)).unwrap();
    d.timer_at(deadline, Timer::Suspicion(id(suspect)));
    assert_eq!(d.status_of(suspect), Some(Status::Dead));
}

#[test]
fn one_answer_between_failures_keeps_verdicts_coming() {
    let mut d = Driver::with_peers(Config::lan(), 2..=4);
    d.probe_at(1_000);
    d.probe_at(2_000);
    let (seq, target, _) = d.probe_at(3_000);
    d.recv(target.0, Body::Ack { seq }, vec![]);
    d.probe_at(4_000);
    d.probe_at(5_000);
    let suspect = (2..=4)
        .find(|&i| d.status_of(i) == Some(Status::Suspect))
        .unwrap();
    let deadline = d.node.suspicion_deadline(id(suspect)).unwrap();
    d.timer_at(deadline.max(d.now), Timer::Suspicion(id(suspect)));
    assert_eq!(d.status_of(suspect), Some(Status::Dead));
    assert_eq!(d.node.stats().suspicions_held, 0);
}

#[test]
fn the_first_answer_after_four_failures_starts_every_suspicion_over() {
    let mut d = cut_off(Config::lan());
    let suspects: Vec<u64> = (2..=4)
        .filter(|&i| d.status_of(i) == Some(Status::Suspect))
        .collect();
    assert!(suspects.len() >= 2);
    let (seq, target, _) = d.probe_at(5_500);
    let out = d.recv(target.0, Body::Ack { seq }, vec![]);
    for s in suspects {
        if d.status_of(s) == Some(Status::Suspect) {
            assert_eq!(d.node.status_since(id(s)), Some(5_500), "n{s} started over");
            assert!(timer_set(&out, Timer::Suspicion(id(s))).is_some());
        }
    }
}

/// Node 1 with peers 2 to 4 whose probes at 1, 2, ... 5 s all fail (judged at the next tick):
/// four in a row, and each peer suspected in turn.
fn cut_off(config: Config) -> Driver {
    let mut d = Driver::with_peers(config, 2..=4);
    for k in 1..=5 {
        d.probe_at(k * 1_000);
    }
    assert_eq!(d.node.stats().probes_failed, 4);
    d
}

#[test]
fn a_past_life_held_down_gets_our_new_record_again_and_one_held_alive_does_not() {
    let mut d = node();
    d.gossip(2, vec![record(1, 0, Status::Dead)]);
    assert_eq!(d.me().generation, 1);
    let me = id(1);
    d.probe_at(d.node.probe_interval());
    let sent = d
        .node
        .gossip()
        .transmits(me)
        .expect("our new record is being gossiped");
    assert!(sent >= 1, "the ping carried our new record");
    // Whoever holds our past life alive has not seen it die either: nothing to answer.
    d.gossip(3, vec![alive(1, 0)]);
    assert_eq!(d.node.gossip().transmits(me), Some(sent));
    // Whoever holds it suspect or dead has missed our new record: it is queued afresh.
    for status in [Status::Suspect, Status::Dead] {
        d.probe_at(d.now + d.node.probe_interval());
        assert!(d.node.gossip().transmits(me) > Some(0));
        d.gossip(3, vec![record(1, 0, status)]);
        assert_eq!(d.node.gossip().transmits(me), Some(0), "{status:?}");
    }
}
