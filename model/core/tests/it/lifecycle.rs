//! Join, leave, metadata, confirm_dead, tombstones and rejoin (PROTOCOL.md §3, §6, §7).

use std::net::SocketAddr;

use crate::common::*;
use swim_checked_core::{
    Body, Command, CommandError, Config, Effect, EventKind, Member, Meta, Phase, Status, Timer,
};

fn node() -> Driver {
    Driver::with_peers(classic(Config::lan()), 2..=5)
}

// ----- join -----

#[test]
fn join_sends_our_view_to_every_seed_but_ourselves() {
    let mut d = Driver::new(classic(Config::lan()));
    let out = d
        .cmd(Command::Join {
            seeds: vec![addr(1), addr(2), addr(3)],
        })
        .unwrap();
    let s = sends(&out);
    assert_eq!(s.len(), 2);
    for ((to, msg), seed) in s.iter().zip([2, 3]) {
        assert_eq!(*to, addr(seed));
        assert_eq!(
            msg.body,
            Body::Sync {
                reply: true,
                members: vec![alive(1, 0)]
            }
        );
    }
    assert_eq!(timer_set(&out, Timer::JoinRetry), Some(1_000));
    assert_eq!(
        d.cmd(Command::Join {
            seeds: vec![addr(1)]
        }),
        Err(CommandError::NoSeeds)
    );
    assert_eq!(
        d.cmd(Command::Join { seeds: vec![] }),
        Err(CommandError::NoSeeds)
    );
}

#[test]
fn a_seed_answers_a_join_with_its_whole_view() {
    let mut seed = node();
    seed.gossip(2, vec![record(6, 1, Status::Dead)]);
    let out = seed.recv(
        9,
        Body::Sync {
            reply: true,
            members: vec![alive(9, 0)],
        },
        vec![],
    );
    let ev = events(&out);
    assert_eq!(ev.len(), 1);
    assert_eq!((ev[0].member.id, ev[0].kind()), (id(9), EventKind::Joined));
    // The joiner's address has not proved it receives our datagrams: the only answer is a
    // ping, smaller than the request, that checks the address.
    let first = sends(&out);
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].0, addr(9));
    let Some(&(_, seq, target)) = pings(&out).first() else {
        panic!("a validation ping")
    };
    assert_eq!(target, id(9));
    // Its ack validates it, and the whole view follows.
    let out = seed.recv(9, Body::Ack { seq }, vec![]);
    let s = sends(&out);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].0, addr(9));
    let Body::Sync { reply, members } = &s[0].1.body else {
        panic!("sync expected")
    };
    assert!(!reply);
    let ids: Vec<u64> = members.iter().map(|m| m.id.0).collect();
    assert_eq!(
        ids,
        vec![1, 2, 3, 4, 5, 6, 9],
        "itself first, tombstones included"
    );
    // The joiner learns everyone.
    let mut joiner = Driver::new_as(classic(Config::lan()), 9).0;
    let out = joiner.recv(1, s[0].1.body.clone(), vec![]);
    assert_eq!(joiner.node.cluster_size(), 6);
    assert_eq!(joiner.status_of(6), Some(Status::Dead));
    let joined: Vec<u64> = events(&out)
        .iter()
        .filter(|e| e.kind() == EventKind::Joined)
        .map(|e| e.member.id.0)
        .collect();
    assert_eq!(joined, vec![1, 2, 3, 4, 5], "no event for a tombstone");
}

/// A join storm: the seed's answer lists members that joined just before us and do not know
/// us yet. While the join is fresh we tell each live member we learn of from a sync about us
/// directly (not the seed, not tombstones, not members we knew); afterwards, gossip does it.
#[test]
fn a_fresh_joiner_announces_itself_to_the_members_the_seed_lists() {
    let (mut joiner, _) = Driver::new_as(classic(Config::lan()), 9);
    joiner
        .cmd(Command::Join {
            seeds: vec![addr(1)],
        })
        .unwrap();
    let view = |ids: &[u64]| Body::Sync {
        reply: false,
        members: ids
            .iter()
            .map(|&i| alive(i, 0))
            .chain([record(6, 1, Status::Dead)])
            .collect(),
    };
    let out = joiner.recv(1, view(&[1, 2, 3]), vec![]);
    let announced: Vec<SocketAddr> = sends(&out).iter().map(|(to, _)| *to).collect();
    assert_eq!(announced, vec![addr(2), addr(3)]);
    for (_, msg) in sends(&out) {
        assert_eq!(
            msg.body,
            Body::Sync {
                reply: false,
                members: vec![alive(9, 0)]
            }
        );
    }
    // A second chunk of the answer: only the members new to us.
    let out = joiner.recv(1, view(&[2, 4]), vec![]);
    let announced: Vec<SocketAddr> = sends(&out).iter().map(|(to, _)| *to).collect();
    assert_eq!(announced, vec![addr(4)]);
    // The window lasts two periods from the join: its last millisecond still announces.
    let window = 2 * classic(Config::lan()).probe_interval;
    joiner.now += window - 1;
    let out = joiner.recv(1, view(&[7]), vec![]);
    let announced: Vec<SocketAddr> = sends(&out).iter().map(|(to, _)| *to).collect();
    assert_eq!(announced, vec![addr(7)]);
    // Two periods after the join, news of a member spreads by gossip only.
    joiner.now += 1;
    let out = joiner.recv(1, view(&[5]), vec![]);
    assert!(sends(&out).is_empty());
    assert_eq!(joiner.status_of(5), Some(Status::Alive));
}

#[test]
fn join_retries_until_a_seed_answers_then_stops() {
    let mut config = classic(Config::lan());
    config.join_attempts = 3;
    let mut d = Driver::new(config);
    d.cmd(Command::Join {
        seeds: vec![addr(2)],
    })
    .unwrap();
    let out = d.timer_at(1_000, Timer::JoinRetry);
    assert_eq!(sends(&out).len(), 1, "second attempt");
    assert_eq!(timer_set(&out, Timer::JoinRetry), Some(2_000));
    let out = d.timer_at(2_000, Timer::JoinRetry);
    assert_eq!(sends(&out).len(), 1, "third and last attempt");
    assert_eq!(timer_set(&out, Timer::JoinRetry), None);
    let out = d.timer_at(3_000, Timer::JoinRetry);
    assert!(out.is_empty(), "gave up");

    let mut d = Driver::new(classic(Config::lan()));
    d.cmd(Command::Join {
        seeds: vec![addr(2)],
    })
    .unwrap();
    d.gossip(2, vec![alive(2, 0)]); // the seed answered
    let out = d.timer_at(1_000, Timer::JoinRetry);
    assert!(out.is_empty(), "joined: no more attempts");
}

// ----- leave -----

#[test]
fn leave_gossips_left_at_a_raised_incarnation() {
    let mut d = node();
    d.now = 3_000;
    let out = d.cmd(Command::Leave).unwrap();
    assert_eq!(d.node.phase(), Phase::Leaving);
    let left = record(1, 1, Status::Left);
    assert_eq!(d.me(), &left);
    assert!(d.node.gossip().contains(id(1)));
    // Every live member is pinged, our `left` record leading each datagram.
    let s = sends(&out);
    assert_eq!(s.len(), 4);
    for (to, msg) in &s {
        let Body::Ping { target, .. } = msg.body else {
            panic!("{msg:?}")
        };
        assert_eq!(d.node.member(target).unwrap().addr, *to);
        assert_eq!(msg.gossip[0], left);
    }
    assert_eq!(timer_set(&out, Timer::LeaveDone), Some(3_000 + 5_000));
    // While leaving: commands refused, gossip about us ignored, pings still answered.
    assert_eq!(
        d.cmd(Command::SetMeta(Meta::default())),
        Err(CommandError::NotRunning(Phase::Leaving))
    );
    assert_eq!(
        d.cmd(Command::Rejoin { id: id(50) }),
        Err(CommandError::StillMember)
    );
    d.gossip(2, vec![suspect(1, 1, &[2])]);
    assert_eq!(d.me(), &left);
    let out = d.recv(
        2,
        Body::Ping {
            seq: 3,
            target: id(1),
        },
        vec![],
    );
    assert!(carried(&out).contains(&&left));
    // ... and ping-reqs are not served.
    let out = d.recv(
        2,
        Body::PingReq {
            seq: 3,
            target: id(3),
            target_addr: addr(3),
        },
        vec![],
    );
    assert!(out.is_empty());
}

/// The sequence number of the leave pings in `out`.
fn leave_seq(out: &[Effect]) -> u32 {
    match sends(out)[0].1.body {
        Body::Ping { seq, .. } => seq,
        ref other => panic!("{other:?}"),
    }
}

#[test]
fn leave_completes_when_every_member_acknowledged() {
    let mut d = node();
    let out = d.cmd(Command::Leave).unwrap();
    let seq = leave_seq(&out);
    // An ack of another sequence number proves nothing.
    d.recv(2, Body::Ack { seq: seq + 7 }, vec![]);
    assert_eq!(d.node.awaiting_leave_acks().count(), 4);
    for member in 2..5 {
        assert!(d.recv(member, Body::Ack { seq }, vec![]).is_empty());
        assert_eq!(d.node.phase(), Phase::Leaving);
    }
    assert_eq!(d.node.awaiting_leave_acks().collect::<Vec<_>>(), [id(5)]);
    let out = d.recv(5, Body::Ack { seq }, vec![]);
    assert_eq!(d.node.phase(), Phase::Left);
    let ev = events(&out);
    assert_eq!(ev.len(), 1);
    assert_eq!((ev[0].member.id, ev[0].kind()), (id(1), EventKind::Left));
    for t in [Timer::Tick, Timer::Sync, Timer::LeaveDone] {
        assert!(cancelled(&out, t), "{t:?}");
    }
    assert!(
        d.recv(
            2,
            Body::Ping {
                seq: 9,
                target: id(1)
            },
            vec![]
        )
        .is_empty()
    );
}

#[test]
fn leave_pings_again_the_silent_and_stops_waiting_for_the_dead() {
    let mut d = node();
    let out = d.cmd(Command::Leave).unwrap();
    let seq = leave_seq(&out);
    d.recv(2, Body::Ack { seq }, vec![]);
    d.recv(3, Body::Ack { seq }, vec![]);
    // A probe period later, the two silent members are pinged again, nobody else.
    let out = d.timer_at(1_000, Timer::Tick);
    let mut again: Vec<SocketAddr> = sends(&out).iter().map(|(to, _)| *to).collect();
    again.sort();
    assert_eq!(again, [addr(4), addr(5)]);
    assert_eq!(timer_set(&out, Timer::Tick), Some(2_000));
    // Member 5 is declared dead meanwhile: member 4's ack is the last one needed.
    d.gossip(3, vec![record(5, 0, Status::Dead)]);
    let out = d.recv(4, Body::Ack { seq }, vec![]);
    assert_eq!(d.node.phase(), Phase::Left);
    assert_eq!(events(&out)[0].kind(), EventKind::Left);
}

#[test]
fn leave_completes_at_the_timeout_at_the_latest() {
    let mut d = node();
    d.cmd(Command::Leave).unwrap();
    let out = d.timer_at(5_000, Timer::LeaveDone);
    assert_eq!(d.node.phase(), Phase::Left);
    assert_eq!(events(&out)[0].kind(), EventKind::Left);
    // A stale LeaveDone later is harmless.
    assert!(d.timer(Timer::LeaveDone).is_empty());
}

#[test]
fn leaving_alone_is_immediate() {
    let mut d = Driver::new(classic(Config::lan()));
    let out = d.cmd(Command::Leave).unwrap();
    assert_eq!(d.node.phase(), Phase::Left);
    assert_eq!(events(&out)[0].kind(), EventKind::Left);
}

#[test]
fn others_see_a_leaver_as_left_for_good() {
    let mut d = node();
    let out = d.gossip(3, vec![record(3, 1, Status::Left)]);
    assert_eq!(events(&out)[0].kind(), EventKind::Left);
    assert_eq!(d.node.cluster_size(), 4);
    // Stale alive gossip cannot bring it back.
    let out = d.gossip(2, vec![alive(3, 7)]);
    assert!(out.is_empty());
    assert_eq!(d.status_of(3), Some(Status::Left));
    // Dead after left is not a new event.
    let out = d.gossip(2, vec![record(3, 2, Status::Dead)]);
    assert!(events(&out).is_empty());
}

// ----- metadata -----

#[test]
fn set_meta_raises_the_incarnation_and_spreads() {
    let mut d = node();
    let meta = Meta::from_pairs([("role", "db")]);
    let out = d.cmd(Command::SetMeta(meta.clone())).unwrap();
    assert!(events(&out).is_empty());
    let expected = Member::alive(id(1), addr(1), 1, meta.clone());
    assert_eq!(d.me(), &expected);
    assert!(d.node.gossip().contains(id(1)));
    assert_eq!(d.me().meta.get("role"), Some("db"));
    // A receiver reports the change.
    let mut other = Driver::new_as(classic(Config::lan()), 2).0;
    other.gossip(1, vec![alive(1, 0)]);
    let out = other.gossip(1, vec![expected.clone()]);
    let ev = events(&out);
    assert_eq!(ev[0].kind(), EventKind::MetadataChanged);
    assert_eq!(ev[0].member.meta, meta);
    // A new incarnation with the same metadata is not a metadata change.
    let out = other.gossip(1, vec![Member::alive(id(1), addr(1), 2, meta.clone())]);
    assert!(events(&out).is_empty());
    assert_eq!(other.node.member(id(1)).unwrap().incarnation, 2);
}

#[test]
fn oversized_metadata_is_refused() {
    let mut d = node();
    let meta = Meta::from_pairs([("blob", "x".repeat(600))]);
    let len = meta.encoded_len();
    assert_eq!(
        d.cmd(Command::SetMeta(meta)),
        Err(CommandError::MetaTooLarge { len, max: 512 })
    );
    assert_eq!(d.me().incarnation, 0, "nothing changed");
    assert!(
        CommandError::MetaTooLarge { len, max: 512 }
            .to_string()
            .contains("512-byte limit")
    );
}

// ----- confirm_dead -----

#[test]
fn confirm_dead_declares_a_member_dead() {
    let mut d = node();
    d.now = 5_000;
    d.gossip(2, vec![suspect(3, 2, &[2])]);
    let out = d.cmd(Command::ConfirmDead(id(3))).unwrap();
    assert_eq!(d.node.member(id(3)), Some(&record(3, 2, Status::Dead)));
    assert!(cancelled(&out, Timer::Suspicion(id(3))));
    assert_eq!(events(&out)[0].kind(), EventKind::Dead);
    assert!(d.node.gossip().contains(id(3)));
    assert_eq!(d.node.status_since(id(3)), Some(5_000));
}

#[test]
fn confirm_dead_refuses_what_makes_no_sense() {
    let mut d = node();
    d.gossip(2, vec![record(4, 0, Status::Dead)]);
    assert_eq!(
        d.cmd(Command::ConfirmDead(id(1))),
        Err(CommandError::IsSelf)
    );
    assert_eq!(
        d.cmd(Command::ConfirmDead(id(77))),
        Err(CommandError::UnknownMember(id(77)))
    );
    assert_eq!(
        d.cmd(Command::ConfirmDead(id(4))),
        Err(CommandError::AlreadyDead(id(4)))
    );
    for e in [
        CommandError::IsSelf,
        CommandError::UnknownMember(id(77)),
        CommandError::AlreadyDead(id(4)),
        CommandError::NoSeeds,
        CommandError::SameId,
        CommandError::StillMember,
        CommandError::NotRunning(Phase::Left),
    ] {
        assert!(!e.to_string().is_empty());
    }
}

// ----- tombstones -----

#[test]
fn tombstones_expire_after_their_ttl_and_the_id_stays_dead() {
    let mut config = classic(Config::lan());
    config.tombstone_ttl = 10_000;
    let mut d = Driver::with_peers(config, 2..=5);
    d.now = 1_000;
    d.gossip(2, vec![record(3, 0, Status::Dead)]);
    // Stale gossip about a tombstone is ignored.
    assert!(d.gossip(2, vec![alive(3, 5)]).is_empty());
    d.timer_at(10_999, Timer::Tick);
    assert_eq!(d.status_of(3), Some(Status::Dead), "kept until the TTL");
    d.timer_at(11_000, Timer::Tick);
    assert_eq!(d.status_of(3), None, "purged at the TTL");
    assert_eq!(d.node.members().count(), 4);
    // A purged id stays dead: any gossip about it is ignored.
    for m in [alive(3, 9), suspect(3, 9, &[2]), record(3, 9, Status::Dead)] {
        assert!(d.gossip(2, vec![m]).is_empty());
        assert_eq!(d.status_of(3), None);
    }
}

#[test]
fn purged_ids_are_remembered_up_to_a_bound() {
    let mut config = classic(Config::lan());
    config.tombstone_ttl = 1_000;
    config.purged_memory = 1;
    let mut d = Driver::with_peers(config, 2..=5);
    d.gossip(
        2,
        vec![record(3, 0, Status::Dead), record(4, 0, Status::Dead)],
    );
    d.timer_at(2_000, Timer::Tick);
    assert_eq!((d.status_of(3), d.status_of(4)), (None, None));
    // Only the last purged id is remembered: the older one is forgotten.
    d.gossip(2, vec![alive(4, 0)]);
    assert_eq!(d.status_of(4), None);
    d.gossip(2, vec![alive(3, 0)]);
    assert_eq!(d.status_of(3), Some(Status::Alive));
}

#[test]
fn the_member_table_is_bounded() {
    let mut config = classic(Config::lan());
    config.max_members = 3;
    let d = Driver::with_peers(config, 2..=6);
    assert_eq!(d.node.members().count(), 4, "ourselves + a full table of 3");
    assert_eq!(d.node.stats().dropped_table_full, 2);
}

#[test]
fn anti_entropy_reaches_the_dead_while_their_tombstone_lasts() {
    // A member declared dead that never heard of it must learn it, or both sides of a healed
    // partition keep running with views that hold each other dead.
    let mut config = classic(Config::lan());
    config.tombstone_ttl = 100_000;
    let mut d = Driver::with_peers(config, [2]);
    d.gossip(2, vec![record(2, 0, Status::Dead)]);
    let out = d.timer_at(30_000, Timer::Sync);
    let s = sends(&out);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].0, addr(2));
    let Body::Sync { reply, members } = &s[0].1.body else {
        panic!("sync expected")
    };
    assert!(reply);
    assert!(members.contains(&record(2, 0, Status::Dead)));
    // The dead member learns it was removed.
    let (mut other, _) = Driver::new_as(classic(Config::lan()), 2);
    other.gossip(1, vec![alive(1, 0)]);
    other.recv(1, s[0].1.body.clone(), vec![]);
    assert_eq!(other.node.phase(), Phase::Removed);
    // Left members stopped on their own, and purged ones are forgotten: nobody to sync with.
    let mut d = Driver::with_peers(classic(Config::lan()), [2, 3]);
    d.gossip(2, vec![record(2, 0, Status::Left)]);
    d.gossip(3, vec![record(3, 0, Status::Dead)]);
    d.timer_at(6 * 3_600_000, Timer::Tick); // purges the tombstones
    let out = d.timer_at(6 * 3_600_000 + 1, Timer::Sync);
    assert!(sends(&out).is_empty());
    assert_eq!(
        timer_set(&out, Timer::Sync),
        Some(6 * 3_600_000 + 1 + 30_000)
    );
}

// ----- rejoin -----

#[test]
fn rejoin_needs_a_removed_or_left_node_and_a_new_id() {
    let mut d = node();
    assert_eq!(
        d.cmd(Command::Rejoin { id: id(50) }),
        Err(CommandError::StillMember)
    );
    d.gossip(2, vec![record(1, 0, Status::Dead)]);
    assert_eq!(d.node.phase(), Phase::Removed);
    assert_eq!(
        d.cmd(Command::Rejoin { id: id(1) }),
        Err(CommandError::SameId)
    );
}

#[test]
fn rejoin_comes_back_under_a_new_id_and_contacts_the_cluster() {
    let mut d = node();
    d.cmd(Command::SetMeta(Meta::from_pairs([("v", "1")])))
        .unwrap();
    d.gossip(2, vec![record(1, 1, Status::Dead)]);
    d.now = 7_000;
    let out = d.cmd(Command::Rejoin { id: id(50) }).unwrap();
    assert_eq!(d.node.phase(), Phase::Running);
    assert_eq!(d.node.id(), id(50));
    let me = d.me().clone();
    assert_eq!((me.incarnation, me.status), (0, Status::Alive));
    assert_eq!(me.meta.get("v"), Some("1"), "metadata kept");
    assert_eq!(d.node.health(), 0);
    // The old id is dead for ever, here too.
    assert_eq!(d.status_of(1), Some(Status::Dead));
    assert!(d.gossip(2, vec![alive(1, 9)]).is_empty());
    // Every member we knew gets our new view.
    let to: Vec<_> = sends(&out).iter().map(|s| s.0).collect();
    assert_eq!(to, vec![addr(2), addr(3), addr(4), addr(5)]);
    assert_eq!(timer_set(&out, Timer::Tick), Some(8_000));
    assert_eq!(timer_set(&out, Timer::Sync), Some(37_000));
    assert_eq!(timer_set(&out, Timer::JoinRetry), Some(8_000));
}

#[test]
fn rejoin_after_leaving_keeps_the_old_id_left() {
    let mut d = node();
    d.cmd(Command::Leave).unwrap();
    d.timer_at(5_000, Timer::LeaveDone);
    assert_eq!(d.node.phase(), Phase::Left);
    let before = d.node.member(id(1)).unwrap().clone();
    assert_eq!(before.status, Status::Left);
    d.cmd(Command::Rejoin { id: id(50) }).unwrap();
    // Our record of our old id only moves up the lattice: left stays left.
    assert_eq!(d.node.member(id(1)), Some(&before));
}

#[test]
fn rejoin_resumes_pending_suspicions() {
    let mut d = node();
    d.now = 1_000;
    d.gossip(2, vec![suspect(3, 0, &[2])]);
    d.gossip(2, vec![record(1, 0, Status::Dead)]);
    d.now = 2_000;
    let out = d.cmd(Command::Rejoin { id: id(50) }).unwrap();
    // The suspicion of 3 still runs from its start (the timer was cancelled on removal).
    assert_eq!(timer_set(&out, Timer::Suspicion(id(3))), Some(25_000));
    let out = d.timer_at(25_000, Timer::Suspicion(id(3)));
    assert_eq!(d.status_of(3), Some(Status::Dead));
    assert_eq!(events(&out)[0].kind(), EventKind::Dead);
}
