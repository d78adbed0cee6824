//! Gossip about oneself (PROTOCOL.md §3): refutation, re-gossip of older news, removal.

use crate::common::*;
use swim_checked_core::{Body, Command, CommandError, Config, EventKind, Phase, Status, Timer};

fn node() -> Driver {
    Driver::with_peers(classic(Config::lan()), 2..=5)
}

#[test]
fn suspicion_at_my_incarnation_is_refuted_with_the_next_one() {
    let mut d = node();
    let out = d.gossip(2, vec![suspect(1, 0, &[2])]);
    assert_eq!(d.me().incarnation, 1);
    assert_eq!(d.me().status, Status::Alive);
    assert_eq!(d.node.health(), 1, "a refutation costs one health point");
    assert_eq!(d.node.stats().refutations, 1);
    assert!(d.node.gossip().contains(id(1)), "the refutation is queued");
    assert_eq!(d.node.gossip().transmits(id(1)), Some(0));
    assert!(events(&out).is_empty(), "no event about ourselves");
}

#[test]
fn suspicion_at_a_higher_incarnation_jumps_above_it() {
    let mut d = node();
    d.gossip(2, vec![suspect(1, 5, &[2])]);
    assert_eq!(d.me().incarnation, 6);
    assert!(d.node.gossip().contains(id(1)));
}

#[test]
fn unreachable_about_me_is_refuted_like_a_suspicion() {
    let mut d = node();
    d.gossip(2, vec![record(1, 2, Status::Unreachable)]);
    assert_eq!(d.me().incarnation, 3);
    assert_eq!(d.node.health(), 1);
    assert_eq!(d.node.phase(), Phase::Running);
}

#[test]
fn older_news_about_me_only_regossips_my_current_alive() {
    let mut d = node();
    d.gossip(2, vec![suspect(1, 2, &[2])]);
    assert_eq!(d.me().incarnation, 3);
    // Spend a transmit of our alive(3).
    let out = d.recv(
        2,
        Body::Ping {
            seq: 9,
            target: id(1),
        },
        vec![],
    );
    assert!(carried(&out).contains(&&alive(1, 3)));
    assert_eq!(d.node.gossip().transmits(id(1)), Some(1));
    // Old suspicion: same incarnation, same health, fresh transmit count.
    d.gossip(3, vec![suspect(1, 1, &[3])]);
    assert_eq!(d.me().incarnation, 3);
    assert_eq!(d.node.health(), 1);
    assert_eq!(d.node.stats().refutations, 1);
    assert_eq!(d.node.gossip().transmits(id(1)), Some(0));
}

#[test]
fn alive_about_me_is_never_applied() {
    let mut d = node();
    let before = d.me().clone();
    let out = d.gossip(2, vec![alive(1, 9)]);
    assert_eq!(d.me(), &before);
    assert!(out.is_empty());
    assert_eq!(d.node.health(), 0);
}

#[test]
fn dead_about_me_removes_the_node() {
    for status in [Status::Dead, Status::Left] {
        let mut d = node();
        // Arm some timers first: a suspicion and a probe.
        d.gossip(2, vec![suspect(3, 0, &[2])]);
        let (seq, _, _) = d.probe_at(1_000);
        let out = d.gossip(2, vec![record(1, 0, status)]);
        assert_eq!(d.node.phase(), Phase::Removed);
        let ev = events(&out);
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].member.id, id(1));
        assert_eq!(ev[0].kind(), EventKind::Dead);
        for t in [
            Timer::Tick,
            Timer::Sync,
            Timer::ProbeTimeout(seq),
            Timer::Suspicion(id(3)),
        ] {
            assert!(cancelled(&out, t), "{t:?} cancelled");
        }
        // From now on the node is inert.
        assert!(
            d.recv(
                2,
                Body::Ping {
                    seq: 1,
                    target: id(1)
                },
                vec![]
            )
            .is_empty()
        );
        assert!(d.timer(Timer::Tick).is_empty());
        assert_eq!(
            d.cmd(Command::SetMeta(Default::default())),
            Err(CommandError::NotRunning(Phase::Removed))
        );
    }
}

#[test]
fn the_refutation_rides_on_the_next_message() {
    let mut d = node();
    let out = d.recv(
        2,
        Body::Ping {
            seq: 4,
            target: id(1),
        },
        vec![suspect(1, 0, &[3])],
    );
    // The ack to the very ping that carried the suspicion already refutes it.
    let acks: Vec<_> = sends(&out)
        .into_iter()
        .filter(|(_, m)| matches!(m.body, Body::Ack { seq: 4 }))
        .collect();
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0].0, addr(2));
    assert!(acks[0].1.gossip.contains(&alive(1, 1)));
}

#[test]
fn a_suspected_node_learns_of_it_from_the_probe_itself_and_refutes() {
    // Node 1 suspects node 2; node 2 hears of it from node 1's ping (buddy system).
    let mut a = node();
    a.gossip(3, vec![suspect(2, 0, &[3])]);
    let (mut b, _) = Driver::new_as(classic(Config::lan()), 2);
    b.gossip(1, vec![alive(1, 0), alive(3, 0)]);
    let mut seq_target = None;
    for t in 1..=4 {
        let (seq, target, out) = a.probe_at(t * 1_000);
        if target == id(2) {
            let ping = sends(&out)
                .into_iter()
                .find(|(to, _)| *to == addr(2))
                .unwrap()
                .1
                .clone();
            assert_eq!(ping.gossip[0].status, Status::Suspect, "buddy record first");
            let reply = {
                let mut out = Vec::new();
                b.node
                    .handle_message(b.now, addr(1), ping, &mut b.script, &mut out);
                out
            };
            assert_eq!(b.me().incarnation, 1);
            let ack = sends(&reply)[0].1.clone();
            assert!(ack.gossip.contains(&alive(2, 1)));
            let out = a.recv(2, ack.body.clone(), ack.gossip.clone());
            seq_target = Some((seq, out));
            break;
        }
        a.recv(peer(target), swim_checked_core::Body::Ack { seq }, vec![]);
    }
    let (seq, out) = seq_target.expect("node 2 is probed within one pass");
    assert_eq!(a.status_of(2), Some(Status::Alive));
    assert!(cancelled(&out, Timer::Suspicion(id(2))));
    assert!(cancelled(&out, Timer::ProbeTimeout(seq)), "the ack counted");
    assert_eq!(events(&out)[0].kind(), EventKind::AliveAgain);
}

#[test]
fn only_the_owner_raises_its_incarnation() {
    let mut d = node();
    // Suspicions of others never raise their incarnation here.
    d.gossip(2, vec![suspect(3, 4, &[2])]);
    assert_eq!(d.node.member(id(3)).unwrap().incarnation, 4);
    // Our own suspicion of a peer uses the incarnation we hold for it.
    let (seq, target, _) = d.probe_at(1_000);
    let inc = d.node.member(target).unwrap().incarnation;
    d.timer_at(1_500, Timer::ProbeTimeout(seq));
    d.timer_at(2_000, Timer::Tick);
    let m = d.node.member(target).unwrap();
    assert_eq!(m.status, Status::Suspect);
    assert_eq!(m.incarnation, inc);
    assert!(m.suspecters.contains(&id(1)));
}
