//! Application data (PROTOCOL.md §13): the broadcast queue, its budget and priority, dedup,
//! direct messages, and the limits on the wire.

use crate::common::*;
use swim_checked_core::{
    Body, Broadcast, Command, CommandError, Config, DecodeError, Effect, Message, Timer, UserKind,
    UserMessage, Wire,
};

fn node() -> Driver {
    Driver::with_peers(Config::lan(), 2..=5)
}

fn delivered(effects: &[Effect]) -> Vec<&UserMessage> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Deliver(m) => Some(m),
            _ => None,
        })
        .collect()
}

fn broadcasts_sent(effects: &[Effect]) -> Vec<&Broadcast> {
    sends(effects)
        .into_iter()
        .filter_map(|(_, msg)| match &msg.body {
            Body::Gossip { broadcasts } => Some(broadcasts),
            _ => None,
        })
        .flatten()
        .collect()
}

#[test]
fn a_broadcast_is_gossiped_to_fanout_members_until_its_budget_is_spent() {
    let carriers = |out: &[Effect]| -> Vec<std::net::SocketAddr> {
        sends(out)
            .into_iter()
            .filter(
                |(_, m)| matches!(&m.body, Body::Gossip { broadcasts } if !broadcasts.is_empty()),
            )
            .map(|(to, _)| to)
            .collect()
    };
    let mut d = node();
    let out = d.cmd(Command::Broadcast(b"hi".to_vec())).unwrap();
    assert!(sends(&out).is_empty(), "queued, not sent at once");
    assert_eq!(timer_set(&out, Timer::Gossip), Some(200));
    // n = 5: budget 4 x ceil(log10 6) = 4 transmits; fanout 3 per gossip round.
    let out = d.timer_at(200, Timer::Gossip);
    let s = sends(&out);
    assert_eq!(s.len(), 3);
    let mut targets: Vec<_> = s.iter().map(|(to, _)| *to).collect();
    targets.sort();
    targets.dedup();
    assert_eq!(targets.len(), 3, "three distinct members");
    assert_eq!(broadcasts_sent(&out).len(), 3);
    assert_eq!(broadcasts_sent(&out)[0].payload, b"hi");
    assert_eq!(timer_set(&out, Timer::Gossip), Some(400));
    let mut reached = carriers(&out);
    let out = d.timer_at(400, Timer::Gossip);
    reached.extend(carriers(&out));
    reached.sort();
    reached.dedup();
    assert_eq!(
        reached.len(),
        4,
        "round-robin targets: the origin alone reaches all four"
    );
    assert_eq!(
        broadcasts_sent(&out).len(),
        1,
        "the fourth and last transmit"
    );
    assert!(d.node.user_queue().is_empty());
    assert_eq!(timer_set(&out, Timer::Gossip), None, "idle queue, no timer");
    assert!(delivered(&out).is_empty(), "not delivered to its origin");
}

#[test]
fn membership_updates_take_the_budget_first() {
    // The largest payload a datagram can carry: no room for it beside any membership update.
    let config = Config {
        max_user_payload: 65_000,
        ..Config::lan()
    };
    let mut d = Driver::with_peers(config, 2..=5);
    let limit = d.node.config().user_payload_limit();
    d.cmd(Command::Broadcast(vec![7; limit])).unwrap();
    // A membership update waits too: it goes first, and the broadcast no longer fits.
    d.gossip(2, vec![alive(9, 0)]);
    assert!(d.node.gossip().contains(id(9)));
    let out = d.timer_at(200, Timer::Gossip);
    for (_, msg) in sends(&out) {
        assert!(msg.gossip.iter().any(|m| m.id == id(9)), "{msg:?}");
        assert_eq!(msg.body, Body::Gossip { broadcasts: vec![] });
    }
    assert_eq!(d.node.user_queue().len(), 1, "kept, its budget unspent");
    // Once the membership update was sent its budget, the broadcast goes.
    let mut at = 200;
    while d.node.gossip().contains(id(9)) {
        at += 200;
        d.timer_at(at, Timer::Gossip);
    }
    let out = d.timer_at(at + 200, Timer::Gossip);
    assert!(!broadcasts_sent(&out).is_empty());
}

#[test]
fn a_received_broadcast_is_delivered_once_and_passed_on() {
    let mut d = node();
    let b = Broadcast {
        origin: id(3),
        seq: 0,
        payload: b"news".to_vec(),
    };
    let body = Body::Gossip {
        broadcasts: vec![b.clone()],
    };
    let out = d.recv(2, body.clone(), vec![]);
    assert_eq!(
        delivered(&out),
        [&UserMessage {
            from: id(3),
            kind: UserKind::Broadcast,
            payload: b"news".to_vec(),
        }]
    );
    assert!(sends(&out).is_empty(), "gossip is never answered");
    assert_eq!(timer_set(&out, Timer::Gossip), Some(200), "passed on");
    let out = d.recv(4, body, vec![]);
    assert!(delivered(&out).is_empty());
    assert_eq!(d.node.stats().user_duplicates, 1);
    assert_eq!(d.node.stats().user_delivered, 1);
}

#[test]
fn the_queue_and_the_identities_remembered_are_bounded() {
    let config = Config {
        user_queue: 2,
        user_dedup: 2,
        ..Config::lan()
    };
    let mut d = Driver::with_peers(config, 2..=5);
    let from = |seq| Body::Gossip {
        broadcasts: vec![Broadcast {
            origin: id(3),
            seq,
            payload: vec![seq as u8],
        }],
    };
    for seq in 0..3 {
        assert_eq!(delivered(&d.recv(2, from(seq), vec![])).len(), 1);
    }
    assert_eq!(d.node.user_queue().len(), 2);
    assert_eq!(d.node.stats().user_dropped, 1, "the full queue lost one");
    // Only the last two identities are remembered: the first comes back as new.
    assert!(delivered(&d.recv(2, from(2), vec![])).is_empty());
    assert_eq!(delivered(&d.recv(2, from(0), vec![])).len(), 1);
}

#[test]
fn direct_messages_go_to_one_member_and_are_delivered() {
    let mut d = node();
    let out = d
        .cmd(Command::SendTo {
            to: id(4),
            payload: b"psst".to_vec(),
        })
        .unwrap();
    let s = sends(&out);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].0, addr(4));
    assert_eq!(
        s[0].1.body,
        Body::Direct {
            payload: b"psst".to_vec()
        }
    );
    let out = d.recv(
        4,
        Body::Direct {
            payload: b"back".to_vec(),
        },
        vec![],
    );
    assert_eq!(delivered(&out)[0].kind, UserKind::Direct);
    assert_eq!(delivered(&out)[0].from, id(4));
    assert_eq!(d.node.stats().direct_delivered, 1);
    assert_eq!(
        d.node.stats().user_delivered,
        0,
        "a direct message is not a broadcast"
    );
    assert_eq!(
        d.cmd(Command::SendTo {
            to: id(1),
            payload: vec![]
        }),
        Err(CommandError::ToSelf)
    );
    assert_eq!(
        d.cmd(Command::SendTo {
            to: id(77),
            payload: vec![]
        }),
        Err(CommandError::UnknownMember(id(77)))
    );
}

#[test]
fn payloads_are_bounded_by_command_and_on_the_wire() {
    let mut d = node();
    let limit = d.node.config().user_payload_limit();
    assert_eq!(limit, 1_024);
    assert_eq!(
        d.cmd(Command::Broadcast(vec![0; limit + 1])),
        Err(CommandError::PayloadTooLarge {
            len: limit + 1,
            max: limit
        })
    );
    // A small datagram caps the payload at what fits.
    let small = Config {
        max_datagram: 512,
        ..Config::lan()
    };
    assert!(small.user_payload_limit() < 512);
    // Every payload the limit allows fits in a datagram, either way it travels.
    let wire = Wire::new(&small);
    let big = vec![0xAB; small.user_payload_limit()];
    for body in [
        Body::Direct {
            payload: big.clone(),
        },
        Body::Gossip {
            broadcasts: vec![Broadcast {
                origin: swim_checked_core::NodeId(u64::MAX),
                seq: u64::MAX,
                payload: big.clone(),
            }],
        },
    ] {
        let msg = Message {
            from: swim_checked_core::NodeId(u64::MAX),
            body,
            gossip: vec![],
        };
        let bytes = wire.encode(&msg).expect("fits");
        assert_eq!(wire.decode(&bytes), Ok(msg));
    }
    // Over the limit, a datagram from the wire is refused.
    let roomy = Wire::new(&Config::lan());
    let msg = Message {
        from: id(2),
        body: Body::Direct {
            payload: vec![0; 440],
        },
        gossip: vec![],
    };
    let bytes = roomy.encode(&msg).unwrap();
    assert!(matches!(wire.decode(&bytes), Err(DecodeError::Invalid(_))));
}

#[test]
fn join_records_the_seeds_that_answered() {
    let mut d = Driver::new(Config::lan());
    d.cmd(Command::Join {
        seeds: vec![addr(2), addr(3)],
    })
    .unwrap();
    assert!(d.node.seeds_answered().is_empty());
    d.recv(
        3,
        Body::Sync {
            reply: false,
            members: vec![alive(3, 0)],
        },
        vec![],
    );
    assert_eq!(d.node.seeds_answered(), [addr(3)]);
    // A sync from a member that is not a seed is no answer to the join.
    d.recv(
        4,
        Body::Sync {
            reply: false,
            members: vec![alive(4, 0)],
        },
        vec![],
    );
    assert_eq!(d.node.seeds_answered(), [addr(3)]);
}
