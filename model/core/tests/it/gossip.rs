//! Dissemination (PROTOCOL.md §6): retransmit budget, replacement, ordering, buddy system, byte budget.

use std::collections::BTreeSet;

use crate::common::*;
use swim_checked_core::gossip::{Budget, Gossip, retransmit_limit};
use swim_checked_core::{Body, Config, Effect, Member, Meta, NodeId, Status, Timer, Wire};

/// Every message node 1 sends in answer to `count` pings from peer `from`.
fn acks(d: &mut Driver, from: u64, count: u32) -> Vec<Effect> {
    let mut all = Vec::new();
    for seq in 0..count {
        all.extend(d.recv(from, Body::Ping { seq, target: id(1) }, vec![]));
    }
    all
}

fn times_carried(effects: &[Effect], m: &Member) -> usize {
    carried(effects).into_iter().filter(|c| *c == m).count()
}

#[test]
fn retransmit_limit_scales_with_log_n() {
    let cases = [
        (1, 4),
        (2, 4),
        (9, 4),
        (10, 8),
        (99, 8),
        (100, 12),
        (999, 12),
        (1_000, 16),
    ];
    for (n, limit) in cases {
        assert_eq!(retransmit_limit(4, n), limit, "n = {n}");
    }
    assert_eq!(retransmit_limit(3, 0), 3, "at least one round");
    assert_eq!(retransmit_limit(u32::MAX, 100), u32::MAX, "saturates");
}

#[test]
fn an_update_is_sent_exactly_its_budget_then_stops() {
    let mut d = Driver::with_peers(Config::lan(), [2]);
    // n = 2: 4 x ceil(log10 3) = 4 transmits.
    let out = acks(&mut d, 2, 10);
    assert_eq!(times_carried(&out, &alive(2, 0)), 4);
    let per_ack: Vec<usize> = sends(&out).iter().map(|(_, m)| m.gossip.len()).collect();
    assert_eq!(per_ack, vec![1, 1, 1, 1, 0, 0, 0, 0, 0, 0]);
    assert!(d.node.gossip().is_empty());
}

#[test]
fn a_change_restarts_dissemination() {
    let mut d = Driver::with_peers(Config::lan(), [2]);
    acks(&mut d, 2, 10);
    assert!(!d.node.gossip().contains(id(2)));
    let news = Member::alive(id(2), addr(2), 1, Meta::from_pairs([("v", "2")]));
    d.gossip(2, vec![news.clone()]);
    assert_eq!(d.node.gossip().transmits(id(2)), Some(0));
    let out = acks(&mut d, 2, 10);
    assert_eq!(times_carried(&out, &news), 4);
}

#[test]
fn a_newer_update_replaces_the_older_one_with_a_fresh_count() {
    let mut d = Driver::with_peers(Config::lan(), [2, 3]);
    acks(&mut d, 2, 2);
    assert_eq!(d.node.gossip().transmits(id(3)), Some(2));
    d.gossip(2, vec![suspect(3, 0, &[2])]);
    assert_eq!(d.node.gossip().len(), 2);
    assert!(d.node.gossip().contains(id(3)));
    assert_eq!(d.node.member(id(3)), Some(&suspect(3, 0, &[2])));
    assert_eq!(d.node.gossip().transmits(id(3)), Some(0));
    let out = acks(&mut d, 2, 10);
    assert_eq!(times_carried(&out, &alive(3, 0)), 0, "old news is gone");
    assert_eq!(times_carried(&out, &suspect(3, 0, &[2])), 4);
}

#[test]
fn least_sent_updates_go_first() {
    let mut d = Driver::with_peers(Config::lan(), [2, 3]);
    acks(&mut d, 2, 2);
    d.gossip(2, vec![alive(4, 0)]);
    let order: Vec<(NodeId, u32)> = d.node.gossip().iter().collect();
    assert_eq!(order[0], (id(4), 0));
    assert!(order[1..].iter().all(|&(_, t)| t == 2));
    let out = acks(&mut d, 2, 1);
    assert_eq!(sends(&out)[0].1.gossip[0].id, id(4));
}

#[test]
fn stale_news_is_not_regossiped() {
    let mut d = Driver::with_peers(Config::lan(), [2]);
    acks(&mut d, 2, 10);
    let out = d.gossip(2, vec![alive(2, 0)]);
    assert!(out.is_empty());
    assert!(d.node.gossip().is_empty());
}

#[test]
fn the_buddy_record_goes_first_without_spending_transmits() {
    let mut d = Driver::with_peers(Config::lan(), [2, 3]);
    d.gossip(2, vec![suspect(3, 0, &[2])]);
    // Many messages to the suspect: each carries its suspicion first, the budget is untouched.
    let mut to_suspect = Vec::new();
    for seq in 0..6 {
        to_suspect.extend(d.recv(3, Body::Ping { seq, target: id(1) }, vec![]));
    }
    for (to, m) in sends(&to_suspect) {
        assert_eq!(to, addr(3));
        assert_eq!(m.gossip[0], suspect(3, 0, &[2]));
    }
    assert_eq!(d.node.gossip().transmits(id(3)), Some(0));
    // Messages to others spend it as usual.
    let out = acks(&mut d, 2, 10);
    assert_eq!(times_carried(&out, &suspect(3, 0, &[2])), 4);
}

#[test]
fn budget_accounts_for_the_length_prefix() {
    let mut b = Budget {
        free: 1_000,
        count: 0,
    };
    for _ in 0..127 {
        assert!(b.take(1));
    }
    assert_eq!(b.free, 1_000 - 127);
    // The 128th update makes the vector's length prefix two bytes long.
    assert!(b.take(1));
    assert_eq!(b.free, 1_000 - 129);
    let mut tight = Budget { free: 10, count: 0 };
    assert!(!tight.take(11));
    assert_eq!(
        (tight.free, tight.count),
        (10, 0),
        "a refused take changes nothing"
    );
    assert!(tight.take(10));
    assert_eq!(tight.free, 0);
}

fn fat_config() -> Config {
    let mut config = Config::lan();
    config.max_datagram = 512;
    config.max_meta_bytes = 250;
    config.label = "cluster-a".into();
    config
}

fn fat_member(i: u64) -> Member {
    let value = "x".repeat(130 + (i as usize * 7) % 100);
    Member::alive(id(i), addr(i), i, Meta::from_pairs([("blob", value)]))
}

#[test]
fn every_datagram_fits_the_byte_budget() {
    let config = fat_config();
    let wire = Wire::new(&config);
    let mut d = Driver::new(config);
    let members: Vec<Member> = (2..40).map(fat_member).collect();
    for m in &members {
        d.gossip(2, vec![m.clone()]);
    }
    d.gossip(2, vec![suspect(5, 5, &[2, 3, 4])]);
    let mut out = acks(&mut d, 2, 40);
    out.extend(acks(&mut d, 5, 5)); // to the suspect: buddy record first
    let mut seen = BTreeSet::new();
    for (_, msg) in sends(&out) {
        let bytes = wire.encode(msg).expect("fits");
        assert!(bytes.len() <= 512);
        assert_eq!(wire.datagram_len(msg), bytes.len());
        assert_eq!(&wire.decode(&bytes).unwrap(), msg);
        seen.extend(msg.gossip.iter().map(|m| m.id));
    }
    assert_eq!(seen.len(), members.len(), "everything got through");
    for (to, msg) in sends(&out) {
        if to == addr(5) {
            assert_eq!(
                msg.gossip[0],
                suspect(5, 5, &[2, 3, 4]),
                "buddy record first"
            );
        }
    }
}

#[test]
fn a_full_view_is_split_over_datagrams_that_each_fit() {
    let config = fat_config();
    let wire = Wire::new(&config);
    let mut d = Driver::new(config);
    for i in 2..30 {
        d.gossip(2, vec![fat_member(i)]);
    }
    d.gossip(2, vec![record(30, 3, Status::Dead)]);
    let out = d.recv(
        7,
        Body::Sync {
            reply: true,
            members: vec![],
        },
        vec![],
    );
    let parts = sends(&out);
    assert!(parts.len() > 5, "{} parts", parts.len());
    let mut ids = BTreeSet::new();
    for (i, (to, msg)) in parts.iter().enumerate() {
        assert_eq!(*to, addr(7));
        let Body::Sync { reply, members } = &msg.body else {
            panic!("only sync parts")
        };
        assert!(!reply, "an answer does not ask for another answer");
        assert!(wire.encode(msg).unwrap().len() <= 512, "part {i}");
        ids.extend(members.iter().map(|m| m.id));
    }
    let view: BTreeSet<NodeId> = d.node.members().map(|m| m.id).collect();
    assert_eq!(ids, view, "ourselves, every member and every tombstone");
    // Asking side (when its round is due): only the first part asks for a reply.
    let mut out = Vec::new();
    let due = d.now.max(d.node.sync_interval());
    d.node
        .handle_timer(due, Timer::Sync, &mut Script::default(), &mut out);
    let replies: Vec<bool> = sends(&out)
        .iter()
        .map(|(_, m)| matches!(m.body, Body::Sync { reply: true, .. }))
        .collect();
    assert!(replies.len() > 1);
    assert!(replies[0] && replies[1..].iter().all(|r| !r));
}

#[test]
fn the_largest_record_the_config_allows_fits_in_every_message_kind() {
    let mut config = Config::lan();
    config.max_datagram = 512;
    config.label = "L".repeat(255);
    config.max_meta_bytes = swim_checked_core::codec::max_meta_room(&config);
    assert!(config.max_meta_bytes > 0);
    assert!(config.validate().is_ok());
    let wire = Wire::new(&config);
    // Metadata of exactly the limit, worst-case varints and an IPv6 address.
    let mut value = String::new();
    let meta = loop {
        let meta = Meta::from_pairs([("k", value.as_str())]);
        if meta.encoded_len() == config.max_meta_bytes {
            break meta;
        }
        assert!(meta.encoded_len() < config.max_meta_bytes);
        value.push('v');
    };
    let name = "n".repeat(swim_checked_core::member::MAX_NAME_BYTES);
    let big = Member {
        id: NodeId::from_name(&name),
        name: name.as_str().into(),
        generation: u64::MAX,
        addr: "[ffff::1]:65535".parse().unwrap(),
        incarnation: u64::MAX,
        status: Status::Suspect,
        suspecters: (0..3).map(|i| NodeId(u64::MAX - i)).collect(),
        meta,
    };
    let bodies = [
        Body::Ping {
            seq: u32::MAX,
            target: NodeId(u64::MAX),
        },
        Body::PingReq {
            seq: u32::MAX,
            target: NodeId(u64::MAX),
            target_addr: "[ffff::1]:65535".parse().unwrap(),
        },
        Body::Ack { seq: u32::MAX },
        Body::Nack { seq: u32::MAX },
        Body::Sync {
            reply: true,
            members: vec![],
        },
    ];
    for body in bodies {
        let msg = swim_checked_core::Message {
            from: NodeId(u64::MAX),
            body,
            gossip: vec![big.clone()],
        };
        let bytes = wire.encode(&msg).expect("one maximal record always fits");
        assert_eq!(wire.decode(&bytes).unwrap(), msg);
    }
}

#[test]
fn gossip_queue_basics() {
    let mut g = Gossip::default();
    assert!(g.is_empty());
    g.enqueue(id(2));
    g.enqueue(id(3));
    g.enqueue(id(2));
    assert_eq!(g.len(), 2);
    let order: Vec<NodeId> = g.iter().map(|(m, _)| m).collect();
    assert_eq!(order, vec![id(3), id(2)], "a replaced update queues behind");
    g.remove(id(3));
    assert!(!g.contains(id(3)));
    let mut out = Vec::new();
    let mut budget = Budget {
        free: 1_000,
        count: 0,
    };
    // The records sent are the table's current ones; an update about a member the table no
    // longer has is dropped.
    let (two, four) = (alive(2, 1), alive(4, 0));
    let record = |m: NodeId| [&two, &four].into_iter().find(|r| r.id == m);
    g.pack(&mut budget, 2, &[id(2)], &record, &mut out);
    assert!(out.is_empty(), "the excepted update is skipped");
    g.pack(&mut budget, 2, &[], &record, &mut out);
    assert_eq!(out, vec![alive(2, 1)]);
    assert_eq!(g.transmits(id(2)), Some(1));
    g.enqueue(id(5));
    g.pack(&mut budget, 2, &[id(2)], &record, &mut out);
    assert!(
        !g.contains(id(5)),
        "an update about an unknown member is dropped"
    );
    assert_eq!(out.len(), 1);
    // The limit shrank (the cluster got smaller): updates already sent enough are dropped.
    g.pack(&mut budget, 1, &[], &record, &mut out);
    assert!(g.is_empty());
    assert_eq!(out.len(), 1);
}

#[test]
fn a_member_we_hold_dead_learns_it_from_our_answer() {
    let mut d = Driver::with_peers(Config::lan(), [2, 3]);
    d.gossip(3, vec![record(2, 0, Status::Dead)]);
    // The dead member has not heard and pings us: the ack tells it first thing.
    let out = d.recv(
        2,
        Body::Ping {
            seq: 5,
            target: id(1),
        },
        vec![],
    );
    let (to, ack) = sends(&out)[0];
    assert_eq!(to, addr(2));
    assert_eq!(ack.body, Body::Ack { seq: 5 });
    assert_eq!(ack.gossip[0], record(2, 0, Status::Dead));
    // Its stale alive record, riding along, changed nothing here.
    let out = d.recv(2, Body::Ack { seq: 99 }, vec![alive(2, 0)]);
    assert!(out.is_empty());
    assert_eq!(d.status_of(2), Some(Status::Dead));
}

#[test]
fn anti_entropy_slows_down_above_32_members() {
    // `sync_interval x (ceil(log2 n - log2 32) + 1)` above 32 members.
    for (n, expected) in [(32, 30_000), (33, 60_000), (64, 60_000), (65, 90_000)] {
        let mut d = Driver::with_peers(Config::lan(), 2..=n);
        assert_eq!(d.node.cluster_size(), n as usize);
        assert_eq!(d.node.sync_interval(), expected, "n = {n}");
        let out = d.timer_at(expected, Timer::Sync);
        assert_eq!(timer_set(&out, Timer::Sync), Some(2 * expected));
        assert_eq!(sends(&out).len(), 1, "one random member per round");
    }
}

/// A fresh node arms its first round alone, at the base interval; if the cluster it joined
/// is bigger by then, the round waits for the interval of that size (no push-pull storm when
/// a whole cluster starts together).
#[test]
fn the_first_push_pull_waits_for_the_interval_the_cluster_grew_to() {
    let config = Config {
        max_new_per_datagram: 64,
        ..Config::lan()
    };
    let (mut d, start) = Driver::new_as(config, 1);
    assert_eq!(timer_set(&start, Timer::Sync), Some(30_000));
    let members: Vec<Member> = (2..=65).map(|p| alive(p, 0)).collect();
    d.recv(
        2,
        Body::Sync {
            reply: false,
            members,
        },
        vec![],
    );
    assert_eq!(d.node.sync_interval(), 90_000);
    let out = d.timer_at(30_000, Timer::Sync);
    assert!(sends(&out).is_empty(), "too early for 65 members");
    assert_eq!(timer_set(&out, Timer::Sync), Some(90_000));
    let out = d.timer_at(90_000, Timer::Sync);
    assert_eq!(sends(&out).len(), 1);
    assert_eq!(timer_set(&out, Timer::Sync), Some(180_000));
}

/// Push-pull partners come round-robin in random passes over the members alive or dead
/// (suspects skipped): each one within a pass, so a change held anywhere spreads in bounded
/// rounds. Independent draws could miss a member for ever (the checker found such a run).
#[test]
fn push_pull_partners_cover_every_member_alive_or_dead_each_pass() {
    let mut d = Driver::with_peers(Config::lan(), 2..=6);
    d.gossip(2, vec![record(5, 0, Status::Dead), suspect(6, 0, &[2])]);
    let mut partners = Vec::new();
    for round in 1..=8 {
        let out = d.timer_at(round * 30_000, Timer::Sync);
        let asked: Vec<_> = sends(&out)
            .into_iter()
            .filter(|(_, m)| matches!(m.body, Body::Sync { reply: true, .. }))
            .map(|(to, _)| to)
            .collect();
        assert_eq!(asked.len(), 1, "round {round}");
        partners.push(asked[0]);
    }
    for pass in partners.chunks(4) {
        let mut pass = pass.to_vec();
        pass.sort();
        assert_eq!(pass, vec![addr(2), addr(3), addr(4), addr(5)]);
    }
}

/// The buddy system switched off: a message to a suspect member carries its suspicion only
/// as ordinary gossip, spending transmits, and not after they are spent.
#[test]
fn with_the_buddy_system_off_the_suspicion_waits_its_turn() {
    let config = Config {
        lifeguard_buddy: false,
        ..Config::lan()
    };
    let mut d = Driver::with_peers(config, [2, 3]);
    d.gossip(2, vec![suspect(3, 0, &[2])]);
    let out = acks(&mut d, 3, 10);
    let s = suspect(3, 0, &[2]);
    // Sent to the suspect as to anyone: its budget (4 in a cluster of 3), then no more.
    assert_eq!(times_carried(&out, &s), 4);
    assert_eq!(d.node.gossip().transmits(id(3)), None);
    // Switched on, every one of the ten answers carries it first.
    let mut on = Driver::with_peers(Config::lan(), [2, 3]);
    on.gossip(2, vec![suspect(3, 0, &[2])]);
    let out = acks(&mut on, 3, 10);
    assert_eq!(times_carried(&out, &s), 10);
}

/// Queues compare equal when they would send updates about the same members in the same order
/// (the checker and the replay compare nodes by it): the same length is not enough.
#[test]
fn queues_of_one_length_differ_by_their_members() {
    let queue = |ids: &[u64]| {
        let mut g = Gossip::default();
        for &id in ids {
            g.enqueue(NodeId(id));
        }
        g
    };
    assert_eq!(queue(&[1, 2]), queue(&[1, 2]));
    assert_ne!(queue(&[1, 2]), queue(&[1, 3]));
    assert_ne!(queue(&[1]), queue(&[1, 2]));
}
