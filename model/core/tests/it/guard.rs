//! Bounds on hostile input (PROTOCOL.md §12): no amplification toward unvalidated addresses,
//! bounded intake per datagram and per source, members that never answered capped and probed
//! in their own slot, and incarnation jumps dropped.

use std::collections::BTreeSet;
use std::net::SocketAddr;

use crate::common::*;
use proptest::prelude::*;
use swim_checked_core::codec::Wire;
use swim_checked_core::{Body, Command, Config, Effect, Member, Message, Node, Status, Timer};

/// A config that lets a test fill a table quickly (the intake bounds loosened).
fn loose() -> Config {
    Config {
        max_new_per_datagram: 100_000,
        max_new_per_source: 100_000,
        max_unanswered: 100_000,
        unanswered_free: 100_000,
        ..Config::lan()
    }
}

/// Node 1 knowing peers `2..=n` (filled from one sync datagram).
fn big(config: Config, n: u64) -> Driver {
    Driver::with_peers(config, 2..=n)
}

fn bytes_to(wire: &Wire, effects: &[Effect], to: SocketAddr) -> usize {
    sends(effects)
        .into_iter()
        .filter(|(t, _)| *t == to)
        .map(|(_, m)| wire.datagram_len(m))
        .sum()
}

fn deliver(node: &mut Node, now: u64, from: SocketAddr, msg: Message) -> Vec<Effect> {
    let mut out = Vec::new();
    node.handle_message(now, from, msg, &mut Script::default(), &mut out);
    out
}

#[test]
fn a_forged_sync_at_3000_members_gets_at_most_three_times_its_bytes() {
    let mut d = big(loose(), 3_001);
    let wire = Wire::new(d.node.config());
    let victim = addr(60_000);
    let forged = Message {
        from: id(60_000),
        body: Body::Sync {
            reply: true,
            members: vec![],
        },
        gossip: vec![],
    };
    let request = wire.datagram_len(&forged);
    assert!(request <= 20, "a {request}-byte request");
    let (mut sent, mut received) = (0, 0);
    for round in 0..20 {
        let out = deliver(&mut d.node, d.now, victim, forged.clone());
        received += request;
        sent += bytes_to(&wire, &out, victim);
        assert!(
            sent <= 3 * received,
            "round {round}: {sent} > 3 x {received}"
        );
    }
    assert!(d.node.stats().replies_limited >= 1);
    // Without the rule the reply would be the whole view: ~100 datagrams.
    let full: usize = d
        .node
        .members()
        .map(swim_checked_core::codec::encoded_len)
        .sum();
    assert!(full > 1_000 * request);
}

#[test]
fn a_join_through_a_seed_gets_the_whole_view_after_one_validation_round_trip() {
    let mut seed = big(loose(), 201);
    let (mut joiner, _) = Driver::new_as(Config::lan(), 500);
    let out = joiner
        .cmd(Command::Join {
            seeds: vec![addr(1)],
        })
        .unwrap();
    // Pump datagrams between the two only; count round trips (seed -> joiner legs).
    let mut to_seed: Vec<Message> = sends(&out)
        .into_iter()
        .filter(|(t, _)| *t == addr(1))
        .map(|(_, m)| m.clone())
        .collect();
    let mut legs = 0;
    while !to_seed.is_empty() {
        let mut to_joiner = Vec::new();
        for msg in to_seed.drain(..) {
            let out = deliver(&mut seed.node, seed.now, addr(500), msg);
            to_joiner.extend(
                sends(&out)
                    .into_iter()
                    .filter(|(t, _)| *t == addr(500))
                    .map(|(_, m)| m.clone()),
            );
        }
        if to_joiner.is_empty() {
            break;
        }
        legs += 1;
        for msg in to_joiner {
            let out = deliver(&mut joiner.node, joiner.now, addr(1), msg);
            to_seed.extend(
                sends(&out)
                    .into_iter()
                    .filter(|(t, _)| *t == addr(1))
                    .map(|(_, m)| m.clone()),
            );
        }
    }
    assert_eq!(
        joiner.node.cluster_size(),
        201 + 1,
        "the joiner knows everyone"
    );
    assert_eq!(
        legs, 2,
        "one extra round trip: the cut reply, then the rest after the ack"
    );
    assert_eq!(seed.node.stats().strangers_validated, 1);
    assert_eq!(joiner.node.stats().dropped_new_per_datagram, 0);
}

/// A stranger that asked for our view is validated by the ack of our ping, however many
/// unpinged strangers came and went beside it.
#[test]
fn a_pinged_stranger_is_validated_after_unpinged_ones_were_evicted() {
    let config = Config {
        max_strangers: 2,
        ..loose()
    };
    let mut seed = big(config, 40);
    let (now, ask) = (seed.now, |from: u64, reply: bool| Message {
        from: id(from),
        body: if reply {
            Body::Sync {
                reply: true,
                members: vec![alive(from, 0)],
            }
        } else {
            Body::Ping {
                seq: 7,
                target: id(1),
            }
        },
        gossip: vec![],
    });
    deliver(&mut seed.node, now, addr(500), ask(500, false));
    let out = deliver(&mut seed.node, now, addr(501), ask(501, true));
    let seq = sends(&out)
        .into_iter()
        .find_map(|(to, m)| match m.body {
            Body::Ping { seq, .. } if to == addr(501) => Some(seq),
            _ => None,
        })
        .unwrap_or_else(|| panic!("a validation ping to the stranger that asked: {out:?}"));
    // A third stranger evicts the first, which was never pinged.
    deliver(&mut seed.node, now, addr(502), ask(502, false));
    let ack = Message {
        from: id(501),
        body: Body::Ack { seq },
        gossip: vec![],
    };
    let out = deliver(&mut seed.node, now, addr(501), ack);
    assert_eq!(seed.node.stats().strangers_validated, 1);
    assert!(
        bytes_to(&Wire::new(seed.node.config()), &out, addr(501)) > 0,
        "the view it was owed follows the ack"
    );
}

/// The intake bounds at their tightest: one new member per datagram and per source.
fn one_new_per_datagram() -> Config {
    Config {
        max_new_per_datagram: 1,
        max_new_per_source: 1,
        ..Config::lan()
    }
}

fn newcomers(range: std::ops::Range<u64>) -> Vec<Member> {
    range.map(|i| alive(i, 0)).collect()
}

#[test]
fn one_datagram_and_one_source_introduce_a_bounded_number_of_members() {
    let config = Config {
        max_new_per_datagram: 16,
        max_new_per_source: 64,
        ..Config::lan()
    };
    let mut d = Driver::with_peers(config, 2..=3);
    d.timer_at(1_000, Timer::Tick); // a new period: per-source counts start afresh
    let before = d.node.members().count();
    d.gossip(2, newcomers(100..140));
    assert_eq!(d.node.members().count(), before + 16);
    assert_eq!(d.node.stats().dropped_new_per_datagram, 24);
    for k in 0..4 {
        d.gossip(2, newcomers(200 + 16 * k..216 + 16 * k));
    }
    assert_eq!(
        d.node.members().count(),
        before + 64,
        "64 per source per period"
    );
    assert_eq!(d.node.stats().dropped_new_per_source, 16);
    // Another source, or the next period, may introduce more.
    d.gossip(3, newcomers(300..310));
    assert_eq!(d.node.members().count(), before + 74);
    d.timer_at(2_000, Timer::Tick);
    d.gossip(2, newcomers(400..410));
    assert_eq!(d.node.members().count(), before + 84);
}

/// A member's new generation at a new address is a new address to send to: it goes through
/// the intake bounds like a newcomer, so one datagram cannot point every member at a victim.
#[test]
fn a_new_generation_at_a_new_address_is_admitted_like_a_newcomer() {
    let config = one_new_per_datagram();
    let mut d = Driver::with_peers(config, 2..=4);
    d.timer_at(1_000, Timer::Tick); // a new period: per-source counts start afresh
    let moved = |i: u64| Member {
        generation: 1,
        addr: addr(900 + i),
        ..alive(i, 0)
    };
    // A newcomer fills the datagram's one place: the move of member 2 waits.
    d.gossip(3, vec![alive(100, 0), moved(2)]);
    assert!(d.node.member(id(100)).is_some());
    let held = d.node.member(id(2)).expect("member 2");
    assert_eq!((held.generation, held.addr), (0, addr(2)));
    assert_eq!(d.node.stats().dropped_new_per_datagram, 1);
    // The same generation at the same address is no new address: not bounded.
    d.gossip(
        3,
        vec![
            alive(101, 0),
            Member {
                generation: 1,
                ..alive(4, 0)
            },
        ],
    );
    assert_eq!(d.node.member(id(4)).map(|m| m.generation), Some(1));
    // From another source, in its own place, the move is taken.
    d.gossip(4, vec![moved(2)]);
    let held = d.node.member(id(2)).expect("member 2");
    assert_eq!((held.generation, held.addr), (1, addr(902)));
}

#[test]
fn members_that_never_answered_are_capped_and_probed_apart_while_a_crash_is_detected() {
    let config = Config {
        max_unanswered: 64,
        max_new_per_source: 1_000,
        ..Config::lan()
    };
    let (mut d, _) = Driver::new_as(config, 1);
    // Five real members, from the seed's reply to our join (exempt, vouched for).
    d.cmd(Command::Join {
        seeds: vec![addr(2)],
    })
    .unwrap();
    d.recv(
        2,
        Body::Sync {
            reply: false,
            members: (2..=6).map(|i| alive(i, 0)).collect(),
        },
        vec![],
    );
    // A forger adds 200 members that never answer, 16 per datagram.
    for k in 0..13 {
        d.gossip(6, newcomers(1_000 + 16 * k..1_016 + 16 * k));
    }
    let forged = |t: swim_checked_core::NodeId| t.0 >= 1_000;
    let table: Vec<_> = d.node.members().filter(|m| forged(m.id)).collect();
    assert_eq!(
        table.len(),
        64,
        "at most max_unanswered members never answered"
    );
    assert!(d.node.stats().dropped_unanswered_full > 0);
    // Member 3 crashed. Real members answer; forged ones never do.
    let real = 5u64;
    let bound = 2 * real - 1; // periods, as for a table with no forged member
    let mut detected = None;
    for period in 1..=bound + 1 {
        let out = d.timer_at(period * 10_000, Timer::Tick);
        let ps = pings(&out);
        assert!(
            ps.iter().filter(|p| forged(p.2)).count() <= 1,
            "one slot for them"
        );
        assert!(ps.iter().filter(|p| !forged(p.2)).count() <= 1);
        if d.status_of(3) == Some(Status::Suspect) && detected.is_none() {
            detected = Some(period);
        }
        for (_, seq, target) in ps {
            if !forged(target) && target != id(3) {
                d.recv(target.0, Body::Ack { seq }, vec![]);
            }
        }
    }
    let detected = detected.expect("the crashed member is suspected");
    // Probed within 2R - 1 periods, judged at the next tick.
    assert!(detected <= bound + 1, "suspected at period {detected}");
}

proptest! {
    #![proptest_config(proptest_config(64))]

    /// An address is news only with a new generation (PROTOCOL.md §12): a record about a known
    /// member at the generation we hold merges exactly as if it carried the address we hold,
    /// whatever intake budget its datagram has left, and never counts as a newcomer.
    #[test]
    fn a_same_generation_record_merges_whatever_address_it_carries(
        newcomers_before in 0u64..24,
        status in prop_oneof![
            Just(Status::Alive),
            Just(Status::Suspect),
            Just(Status::Dead),
            Just(Status::Left),
        ],
        incarnation in 0u64..3,
    ) {
        let config = Config {
            max_new_per_datagram: 16,
            ..Config::lan()
        };
        let known = match status {
            Status::Suspect => suspect(3, incarnation, &[2]),
            _ => record(3, incarnation, status),
        };
        let elsewhere = Member {
            addr: addr(70_000),
            ..known.clone()
        };
        let run = |record: Member| {
            let mut d = Driver::with_peers(config.clone(), 2..=3);
            let mut gossip = newcomers(100..100 + newcomers_before);
            gossip.push(record);
            let out = d.gossip(2, gossip);
            (d.node, out)
        };
        let (node, out) = run(elsewhere);
        prop_assert_eq!(node.member(id(3)).map(|m| m.addr), Some(addr(3)));
        prop_assert_eq!((node, out), run(known));
    }
}

#[test]
fn an_incarnation_jump_is_dropped_and_counted() {
    let mut d = Driver::with_peers(Config::lan(), 2..=3);
    d.gossip(3, vec![alive(7, 1 << 33)]);
    assert_eq!(d.status_of(7), None, "unknown member above 2^32");
    d.gossip(3, vec![alive(2, u64::MAX)]);
    assert_eq!(d.node.member(id(2)).unwrap().incarnation, 0);
    assert_eq!(d.node.stats().dropped_incarnation_jump, 2);
    d.gossip(3, vec![alive(2, 1 << 32)]);
    assert_eq!(
        d.node.member(id(2)).unwrap().incarnation,
        1 << 32,
        "exactly 2^32 is fine"
    );
}

#[test]
fn a_generation_jump_is_dropped_and_counted_and_the_member_can_still_rejoin() {
    let mut d = Driver::with_peers(Config::lan(), 2..=3);
    d.gossip(3, vec![alive(7, 0).at_generation(1 << 49)]);
    assert_eq!(d.status_of(7), None, "unknown member above 2^48");
    d.gossip(3, vec![record(2, 0, Status::Dead).at_generation(u64::MAX)]);
    assert_eq!(d.node.member(id(2)).unwrap().generation, 0);
    // About ourselves: a forged generation does not push us to the last one.
    d.gossip(3, vec![record(1, 0, Status::Dead).at_generation(u64::MAX)]);
    assert_eq!(d.me().generation, 0);
    assert_eq!(d.node.stats().dropped_generation_jump, 3);
    // A real restart, a wall-clock generation, is taken; a new life starts its incarnations over.
    let restart = 1_796_533_890_411;
    d.gossip(2, vec![alive(2, 5).at_generation(restart)]);
    assert_eq!(d.node.member(id(2)).unwrap().generation, restart);
    assert_eq!(d.node.stats().dropped_incarnation_jump, 0);
}

#[test]
fn a_member_can_still_refute_after_a_forged_huge_incarnation() {
    let mut d = Driver::with_peers(Config::lan(), 2..=3);
    d.gossip(3, vec![alive(2, u64::MAX)]);
    d.gossip(3, vec![suspect(2, 0, &[3])]);
    assert_eq!(d.status_of(2), Some(Status::Suspect));
    d.gossip(2, vec![alive(2, 1)]);
    assert_eq!(d.status_of(2), Some(Status::Alive), "the refutation wins");
    // About ourselves: a forged suspicion at u64::MAX does not push us to the end of time.
    d.gossip(3, vec![suspect(1, u64::MAX, &[3])]);
    assert_eq!(d.me().incarnation, 0);
    d.gossip(3, vec![suspect(1, 0, &[3])]);
    assert_eq!(d.me().incarnation, 1, "a real suspicion is still refuted");
}

#[test]
fn a_forged_ping_req_gets_replies_within_the_budget() {
    let mut d = Driver::with_peers(Config::lan(), 2..=40);
    // Plenty of gossip queued to piggyback.
    let wire = Wire::new(d.node.config());
    let stranger = addr(60_001);
    let req = Message {
        from: id(60_001),
        body: Body::PingReq {
            seq: 9,
            target: id(2),
            target_addr: addr(2),
        },
        gossip: vec![],
    };
    let out = deliver(&mut d.node, d.now, stranger, req.clone());
    let relay = pings(&out);
    assert_eq!(relay.len(), 1, "one ping for the request");
    // The stranger's budget bounds what goes back to the stranger, not what its request makes
    // us send a member: the ping to member 2 carries gossip like any other.
    let (_, ping) = sends(&out)
        .into_iter()
        .find(|(to, _)| *to == addr(2))
        .unwrap();
    assert!(wire.datagram_len(ping) > 3 * wire.datagram_len(&req));
    let mut sent = bytes_to(&wire, &out, stranger);
    let out = d.recv(2, Body::Ack { seq: relay[0].1 }, vec![]);
    sent += bytes_to(&wire, &out, stranger);
    assert!(sent > 0, "the forwarded ack still goes");
    assert!(sent <= 3 * wire.datagram_len(&req), "{sent} bytes");
    // A forged ping-req naming a stranger as target: a bare ping, no gossip.
    let out = deliver(
        &mut d.node,
        d.now,
        stranger,
        Message {
            body: Body::PingReq {
                seq: 10,
                target: id(9_999),
                target_addr: addr(9_999),
            },
            ..req
        },
    );
    let to: BTreeSet<_> = sends(&out)
        .into_iter()
        .map(|(t, m)| (t, m.gossip.len()))
        .collect();
    assert_eq!(to, BTreeSet::from([(addr(9_999), 0)]));
}

#[test]
fn guard_settings_are_validated_by_name() {
    let bad = |c: Config| c.validate().unwrap_err().field;
    let lan = Config::lan;
    assert_eq!(
        bad(Config {
            amplification_factor: 0,
            ..lan()
        }),
        "amplification_factor"
    );
    assert_eq!(
        bad(Config {
            max_strangers: 0,
            ..lan()
        }),
        "max_strangers"
    );
    assert_eq!(
        bad(Config {
            max_validated: 0,
            ..lan()
        }),
        "max_validated"
    );
    assert_eq!(
        bad(Config {
            max_new_per_datagram: 0,
            ..lan()
        }),
        "max_new_per_datagram"
    );
    assert_eq!(
        bad(Config {
            max_new_per_source: 8,
            ..lan()
        }),
        "max_new_per_source"
    );
    assert_eq!(
        bad(Config {
            unanswered_free: 0,
            ..lan()
        }),
        "unanswered_free"
    );
    assert_eq!(
        bad(Config {
            max_unanswered: 8,
            ..lan()
        }),
        "unanswered_free"
    );
    assert_eq!(
        bad(Config {
            max_incarnation_jump: 0,
            ..lan()
        }),
        "max_incarnation_jump"
    );
}

/// Gossip from a live member that answered our probes, at its own address, is not bounded per
/// datagram (PROTOCOL.md §12): a join storm's news spreads through such members. A member that
/// never answered still introduces one new member a datagram.
#[test]
fn a_member_that_answered_introduces_members_past_the_datagram_bound() {
    let config = one_new_per_datagram();
    let mut d = Driver::with_peers(config, [2]);
    let (seq, target, _) = d.probe_at(1_000);
    assert_eq!(target, id(2));
    d.recv(2, Body::Ack { seq }, vec![]);
    let held = |d: &Driver, ids: std::ops::Range<u64>| {
        ids.filter(|&i| d.node.member(id(i)).is_some()).count()
    };
    d.gossip(2, newcomers(200..203));
    assert_eq!(
        held(&d, 200..203),
        3,
        "every new member from one that answered"
    );
    d.gossip(201, newcomers(300..303));
    assert_eq!(
        held(&d, 300..303),
        1,
        "one from a member that never answered"
    );
}

/// A view the node asked for is exempt from the intake bounds for two probe intervals from
/// the request, and only for them: in its last millisecond every member it lists is taken, in
/// the next only the bound's one (and the sender's own record).
#[test]
fn an_asked_view_is_exempt_for_two_periods_only() {
    let config = one_new_per_datagram();
    let window = 2 * config.probe_interval;
    let view = Body::Sync {
        reply: false,
        members: newcomers(1..5),
    };
    for (after, listed) in [(window - 1, 3), (window, 1)] {
        let (mut joiner, _) = Driver::new_as(config.clone(), 9);
        joiner
            .cmd(Command::Join {
                seeds: vec![addr(1)],
            })
            .unwrap();
        joiner.now += after;
        joiner.recv(1, view.clone(), vec![]);
        let held = (2..5).filter(|&i| joiner.node.member(id(i)).is_some());
        assert_eq!(held.count(), listed, "{after} ms after the request");
        assert!(joiner.node.member(id(1)).is_some(), "the seed's own record");
    }
}
