//! Lifeguard's local-health-aware suspicion (PROTOCOL.md §5): bounds, confirmations, expiry.

use crate::common::*;
use swim_checked_core::suspicion::Bounds;
use swim_checked_core::{Body, Command, Config, EventKind, Status, Timer};

#[test]
fn bounds_follow_the_formula_exactly() {
    let lan = classic(Config::lan());
    // n = 5: log10 5 < 1, so Min = 4 x 1 s, Max = 6 x Min, K = 2.
    let b = Bounds::new(&lan, 5);
    assert_eq!((b.min, b.max, b.k), (4_000, 24_000, 2));
    assert_eq!(b.timeout(0), 24_000);
    // 24000 - 20000 x ln 2 / ln 3 = 11381.4
    assert_eq!(b.timeout(1), 11_381);
    assert_eq!(b.timeout(2), 4_000);
    // n = 20: Min = 4 x log10(20) s, truncated to the millisecond of scale.
    let b = Bounds::new(&lan, 20);
    assert_eq!((b.min, b.max), (5_204, 31_224));
    assert_eq!(b.timeout(1), 14_807);
    // n = 100: log10 = 2.
    let b = Bounds::new(&lan, 100);
    assert_eq!((b.min, b.max), (8_000, 48_000));
    assert_eq!(b.timeout(1), 22_762);
    // WAN: alpha = 6, 5 s period.
    let b = Bounds::new(&Config::wan(), 5);
    assert_eq!((b.min, b.max), (30_000, 180_000));
}

#[test]
fn confirmations_beyond_k_do_not_shorten_further() {
    let b = Bounds::new(&classic(Config::lan()), 5);
    assert_eq!(b.timeout(3), b.min);
    assert_eq!(b.timeout(100), b.min);
    let mut k3 = classic(Config::lan());
    k3.suspicion_confirmations = 3;
    let b = Bounds::new(&k3, 5);
    assert_eq!(b.k, 3);
    let t: Vec<u64> = (0..5).map(|c| b.timeout(c)).collect();
    assert_eq!(t, vec![24_000, 14_000, 8_150, 4_000, 4_000]);
}

#[test]
fn small_clusters_want_no_confirmations_and_wait_the_minimum() {
    let lan = classic(Config::lan());
    for n in 0..=3 {
        let b = Bounds::new(&lan, n);
        assert_eq!(b.k, 0, "n = {n}: n - 2 < K");
        assert_eq!(b.timeout(0), 4_000);
    }
    assert_eq!(Bounds::new(&lan, 4).k, 2);
    // In a 3-member cluster a suspicion lasts exactly Min.
    let mut d = Driver::with_peers(classic(Config::lan()), 2..=3);
    d.now = 500;
    let out = d.gossip(2, vec![suspect(3, 0, &[2])]);
    assert_eq!(timer_set(&out, Timer::Suspicion(id(3))), Some(4_500));
}

#[test]
fn a_failed_probe_starts_a_suspicion_with_me_as_first_suspecter() {
    let mut d = Driver::with_peers(classic(Config::lan()), 2..=5);
    let (seq, target, _) = d.probe_at(1_000);
    d.timer_at(1_500, Timer::ProbeTimeout(seq));
    let out = d.timer_at(2_000, Timer::Tick);
    let m = d.node.member(target).unwrap();
    assert_eq!(m.status, Status::Suspect);
    assert_eq!(m.suspecters, vec![id(1)]);
    assert_eq!(d.node.status_since(target), Some(2_000));
    assert_eq!(
        timer_set(&out, Timer::Suspicion(target)),
        Some(2_000 + 24_000)
    );
    assert_eq!(d.node.suspicion_deadline(target), Some(26_000));
    let ev = events(&out);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].kind(), EventKind::Suspect);
    assert!(d.node.gossip().contains(target));
    assert_eq!(d.node.member(target), Some(m));
    assert_eq!(d.node.stats().suspicions_raised, 1);
}

#[test]
fn each_confirmation_moves_the_deadline_to_the_exact_value() {
    let mut d = Driver::with_peers(classic(Config::lan()), 2..=5);
    d.now = 1_000;
    let out = d.gossip(3, vec![suspect(5, 0, &[3])]);
    assert_eq!(timer_set(&out, Timer::Suspicion(id(5))), Some(25_000));
    d.now = 2_000;
    let out = d.gossip(4, vec![suspect(5, 0, &[4])]);
    // Measured from the start of the suspicion, not from the confirmation.
    assert_eq!(
        timer_set(&out, Timer::Suspicion(id(5))),
        Some(1_000 + 11_381)
    );
    assert!(d.node.gossip().contains(id(5)));
    assert_eq!(d.node.member(id(5)).unwrap().suspecters, vec![id(3), id(4)]);
    d.now = 3_000;
    let out = d.gossip(2, vec![suspect(5, 0, &[2])]);
    assert_eq!(
        timer_set(&out, Timer::Suspicion(id(5))),
        Some(1_000 + 4_000)
    );
    assert!(
        events(&out).is_empty(),
        "a confirmation is not a view change"
    );
}

#[test]
fn confirmations_are_capped_at_k() {
    let mut d = Driver::with_peers(classic(Config::lan()), 2..=9);
    d.gossip(2, vec![suspect(5, 0, &[2, 3, 4])]);
    assert_eq!(d.node.member(id(5)).unwrap().suspecters.len(), 3);
    // A fourth, bigger suspecter is over the cap: not news, nothing re-gossiped or re-armed.
    let before = d.node.gossip().transmits(id(5));
    let out = d.gossip(6, vec![suspect(5, 0, &[6])]);
    assert!(out.is_empty());
    assert_eq!(d.node.gossip().transmits(id(5)), before);
    assert_eq!(
        d.node.member(id(5)).unwrap().suspecters,
        vec![id(2), id(3), id(4)]
    );
}

#[test]
fn a_confirmation_after_the_new_deadline_kills_at_once() {
    let mut d = Driver::with_peers(classic(Config::lan()), 2..=5);
    d.now = 1_000;
    d.gossip(3, vec![suspect(5, 0, &[3])]);
    d.now = 20_000; // past 1000 + 11381
    let out = d.gossip(4, vec![suspect(5, 0, &[4])]);
    assert_eq!(d.status_of(5), Some(Status::Dead));
    let ev = events(&out);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].kind(), EventKind::Dead);
    assert_eq!(ev[0].from, Some(Status::Suspect));
    assert!(cancelled(&out, Timer::Suspicion(id(5))));
}

#[test]
fn expiry_declares_dead_and_an_early_firing_rearms() {
    let mut d = Driver::with_peers(classic(Config::lan()), 2..=5);
    d.now = 1_000;
    d.gossip(3, vec![suspect(5, 0, &[3])]);
    // A timer firing before its deadline (a shell racing a moved deadline) only re-arms.
    let out = d.timer_at(20_000, Timer::Suspicion(id(5)));
    assert_eq!(timer_set(&out, Timer::Suspicion(id(5))), Some(25_000));
    assert_eq!(d.status_of(5), Some(Status::Suspect));
    let out = d.timer_at(25_000, Timer::Suspicion(id(5)));
    assert_eq!(d.status_of(5), Some(Status::Dead));
    assert_eq!(d.node.member(id(5)).unwrap().incarnation, 0);
    assert_eq!(events(&out)[0].kind(), EventKind::Dead);
    assert!(d.node.gossip().contains(id(5)));
    assert_eq!(d.node.cluster_size(), 4);
    // The dead are no longer probed.
    for t in 1..=8 {
        let (seq, target, _) = d.probe_at(25_000 + t * 1_000);
        assert_ne!(target, id(5));
        d.recv(peer(target), Body::Ack { seq }, vec![]);
    }
}

#[test]
fn refutation_cancels_the_suspicion_and_its_timer_goes_stale() {
    let mut d = Driver::with_peers(classic(Config::lan()), 2..=5);
    d.gossip(3, vec![suspect(5, 0, &[3])]);
    let out = d.gossip(5, vec![alive(5, 1)]);
    assert!(cancelled(&out, Timer::Suspicion(id(5))));
    assert_eq!(events(&out)[0].kind(), EventKind::AliveAgain);
    // A timer that fires anyway does nothing.
    let out = d.timer_at(24_000, Timer::Suspicion(id(5)));
    assert!(out.is_empty());
    assert_eq!(d.status_of(5), Some(Status::Alive));
    assert_eq!(d.node.suspicion_deadline(id(5)), None);
}

#[test]
fn a_suspicion_at_a_new_incarnation_restarts_the_clock() {
    let mut d = Driver::with_peers(classic(Config::lan()), 2..=5);
    d.now = 1_000;
    d.gossip(3, vec![suspect(5, 0, &[3, 4])]);
    // We miss the refutation alive(1); later someone suspects incarnation 1 afresh.
    d.now = 10_000;
    let out = d.gossip(2, vec![suspect(5, 1, &[2])]);
    assert_eq!(d.node.member(id(5)).unwrap().suspecters, vec![id(2)]);
    assert_eq!(d.node.status_since(id(5)), Some(10_000));
    assert_eq!(
        timer_set(&out, Timer::Suspicion(id(5))),
        Some(10_000 + 24_000)
    );
    assert_eq!(events(&out)[0].kind(), EventKind::Suspect);
}

#[test]
fn with_unreachable_enabled_expiry_asks_the_application() {
    let mut config = classic(Config::lan());
    config.unreachable = true;
    let mut d = Driver::with_peers(config, 2..=5);
    d.gossip(3, vec![suspect(5, 0, &[3])]);
    let out = d.timer_at(24_000, Timer::Suspicion(id(5)));
    assert_eq!(d.status_of(5), Some(Status::Unreachable));
    assert_eq!(events(&out)[0].kind(), EventKind::Unreachable);
    assert_eq!(d.node.cluster_size(), 5, "unreachable is still a member");
    assert_eq!(timer_set(&out, Timer::Suspicion(id(5))), None);
    // The application confirms.
    let out = d.cmd(Command::ConfirmDead(id(5))).unwrap();
    assert_eq!(d.status_of(5), Some(Status::Dead));
    assert_eq!(events(&out)[0].from, Some(Status::Unreachable));
    assert_eq!(events(&out)[0].kind(), EventKind::Dead);
}

#[test]
fn incoming_unreachable_depends_on_the_config() {
    let mut d = Driver::with_peers(classic(Config::lan()), 2..=5);
    let out = d.gossip(3, vec![record(5, 2, Status::Unreachable)]);
    assert_eq!(
        d.status_of(5),
        Some(Status::Dead),
        "off: unreachable means dead"
    );
    assert_eq!(d.node.member(id(5)).unwrap().incarnation, 2);
    assert_eq!(events(&out)[0].kind(), EventKind::Dead);

    let mut config = classic(Config::lan());
    config.unreachable = true;
    let mut d = Driver::with_peers(config, 2..=5);
    d.gossip(3, vec![record(5, 2, Status::Unreachable)]);
    assert_eq!(d.status_of(5), Some(Status::Unreachable));
}

#[test]
fn a_suspect_learnt_with_its_first_record_gets_a_timer() {
    let mut d = Driver::with_peers(classic(Config::lan()), 2..=5);
    d.now = 700;
    let out = d.gossip(3, vec![suspect(9, 0, &[3])]);
    let ev = events(&out);
    assert_eq!(ev[0].kind(), EventKind::Joined);
    assert_eq!(ev[0].to, Status::Suspect);
    // Six members now (1..=5 and 9).
    assert_eq!(
        timer_set(&out, Timer::Suspicion(id(9))),
        Some(700 + Bounds::new(&classic(Config::lan()), 6).max)
    );
}

/// Addresses the effects push `id`'s dead record to, alone in a sync datagram.
fn verdict_pushes(out: &[swim_checked_core::Effect], i: u64) -> Vec<std::net::SocketAddr> {
    sends(out)
        .into_iter()
        .filter(|(_, m)| match &m.body {
            Body::Sync { reply, members } => {
                !reply
                    && members.len() == 1
                    && members[0].id == id(i)
                    && members[0].status == Status::Dead
            }
            _ => false,
        })
        .map(|(a, _)| a)
        .collect()
}

#[test]
fn an_expired_suspicion_is_pushed_to_every_member_held_alive_or_suspect() {
    let mut d = Driver::with_peers(classic(Config::lan()), 2..=7);
    d.now = 1_000;
    d.gossip(
        2,
        vec![
            suspect(5, 0, &[2]),
            suspect(6, 0, &[2]),
            record(7, 0, Status::Dead),
        ],
    );
    let deadline = d.node.suspicion_deadline(id(5)).unwrap();
    let out = d.timer_at(deadline, Timer::Suspicion(id(5)));
    assert_eq!(d.status_of(5), Some(Status::Dead));
    let mut to = verdict_pushes(&out, 5);
    to.sort_unstable();
    // Everyone who may be running: the alive and the suspect, once each; not the dead.
    assert_eq!(to, vec![addr(2), addr(3), addr(4), addr(6)]);
}

#[test]
fn a_verdict_heard_from_another_is_not_pushed_on() {
    let mut d = Driver::with_peers(classic(Config::lan()), 2..=6);
    let out = d.gossip(2, vec![record(5, 0, Status::Dead)]);
    assert_eq!(d.status_of(5), Some(Status::Dead));
    assert!(
        verdict_pushes(&out, 5).is_empty(),
        "the declarer told everyone"
    );
    // Our own timer for it, if one was pending, is now stale and pushes nothing either.
    let out = d.timer_at(100_000, Timer::Suspicion(id(5)));
    assert!(verdict_pushes(&out, 5).is_empty());
}

/// The local health aware suspicion switched off: SWIM's fixed timeout, the minimum, from the
/// first suspecter on; confirmations are still gathered (and gossiped) but do not move it.
#[test]
fn with_dynamic_suspicion_off_every_suspicion_lasts_the_minimum() {
    let fixed = Config {
        lifeguard_dynamic_suspicion: false,
        ..classic(Config::lan())
    };
    let on = Bounds::new(&classic(Config::lan()), 5);
    let off = Bounds::new(&fixed, 5);
    assert_eq!(off.min, on.min);
    assert_eq!((off.max, off.k), (off.min, 0));
    for c in 0..4 {
        assert_eq!(off.timeout(c), on.min);
    }
    let mut d = Driver::with_peers(fixed, 2..=5);
    d.now = 1_000;
    let out = d.gossip(3, vec![suspect(5, 0, &[3])]);
    assert_eq!(
        timer_set(&out, Timer::Suspicion(id(5))),
        Some(1_000 + on.min)
    );
    d.now = 2_000;
    d.gossip(4, vec![suspect(5, 0, &[4])]);
    assert_eq!(d.node.member(id(5)).unwrap().suspecters, vec![id(3), id(4)]);
    assert_eq!(d.node.suspicion_deadline(id(5)), Some(1_000 + on.min));
}
