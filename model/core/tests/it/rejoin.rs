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
fn a_suspicion_that_runs_out_while_nobody_answers_starts_over() {
    let mut d = node();
    // Node 2 is suspected by us at 1000; none of our probes is answered afterwards.
    d.now = 1_000;
    d.gossip(3, vec![suspect(2, 0, &[1])]);
    let deadline = d.node.suspicion_deadline(id(2)).unwrap();
    let out = d.timer_at(deadline, Timer::Suspicion(id(2)));
    assert_eq!(d.status_of(2), Some(Status::Suspect), "no verdict");
    assert!(events(&out).is_empty());
    assert_eq!(d.node.stats().suspicions_held, 1);
    // Started over now, as ours alone: the longest timeout.
    let again = timer_set(&out, Timer::Suspicion(id(2))).expect("re-armed");
    assert_eq!(d.node.status_since(id(2)), Some(deadline));
    assert_eq!(d.node.member(id(2)).unwrap().suspecters, vec![id(1)]);
    assert!(
        again - deadline >= deadline - 1_000,
        "{again} after {deadline}"
    );
}

#[test]
fn a_suspicion_runs_out_into_a_verdict_once_a_probe_was_answered_since() {
    let mut d = node();
    d.now = 1_000;
    d.gossip(3, vec![suspect(2, 0, &[1])]);
    let (seq, target, _) = d.probe_at(2_000);
    assert_ne!(target, id(2));
    let peer = target.0;
    d.recv(peer, Body::Ack { seq }, vec![]);
    let deadline = d.node.suspicion_deadline(id(2)).unwrap();
    let out = d.timer_at(deadline, Timer::Suspicion(id(2)));
    assert_eq!(d.status_of(2), Some(Status::Dead));
    assert_eq!(events(&out)[0].kind(), EventKind::Dead);
    assert_eq!(d.node.stats().suspicions_held, 0);
}

#[test]
fn without_the_isolation_hold_the_verdict_comes_anyway() {
    let mut d = Driver::with_peers(classic(Config::lan()), 2..=4);
    d.now = 1_000;
    d.gossip(3, vec![suspect(2, 0, &[1])]);
    let deadline = d.node.suspicion_deadline(id(2)).unwrap();
    d.timer_at(deadline, Timer::Suspicion(id(2)));
    assert_eq!(d.status_of(2), Some(Status::Dead));
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
