//! Lifeguard's local health multiplier (PROTOCOL.md §5): increments, decrements, clamping, scaling.

use crate::common::*;
use swim_checked_core::health::Health;
use swim_checked_core::{Body, Config, Timer};

fn node() -> Driver {
    Driver::with_peers(Config::lan(), 2..=5)
}

/// Run one protocol period starting at `at` whose probe gets `nacks` nacks and no ack; returns
/// the effects of the tick that judges it.
fn failed_period(d: &mut Driver, at: u64, nacks: usize) -> Vec<swim_checked_core::Effect> {
    let (seq, _, _) = d.probe_at(at);
    let out = d.timer_at(at + d.node.probe_timeout(), Timer::ProbeTimeout(seq));
    let helpers = ping_reqs(&out);
    for &(to, _, _) in helpers.iter().take(nacks) {
        let helper = (1..=5).find(|&i| addr(i) == to).unwrap();
        d.recv(helper, Body::Nack { seq }, vec![]);
    }
    let next = at + d.node.probe_interval();
    d.timer_at(next, Timer::Tick)
}

#[test]
fn health_is_clamped_to_its_range() {
    let mut h = Health::new(8);
    assert_eq!(h.score(), 0);
    h.apply(-1);
    assert_eq!(h.score(), 0, "never below zero");
    h.apply(3);
    assert_eq!(h.score(), 3);
    h.apply(100);
    assert_eq!(h.score(), 8, "never above S");
    h.apply(-2);
    assert_eq!(h.score(), 6);
    assert_eq!(h.scale(1_000), 7_000);
    assert_eq!(Health::new(0).scale(500), 500);
    let mut off = Health::new(0);
    off.apply(5);
    assert_eq!(off.score(), 0, "S = 0 disables the multiplier");
}

#[test]
fn a_failed_probe_with_silent_helpers_costs_one_per_helper() {
    let mut d = node();
    failed_period(&mut d, 1_000, 0);
    // +1 for the failed probe, +1 for each of the 3 helpers that sent nothing.
    assert_eq!(d.node.health(), 4);
    assert_eq!(d.node.stats().probes_failed, 1);
    assert_eq!(d.node.stats().ping_reqs_sent, 3);
}

#[test]
fn nacks_prove_the_helpers_healthy() {
    let mut d = node();
    failed_period(&mut d, 1_000, 2);
    assert_eq!(
        d.node.health(),
        2,
        "+1 failed probe, +1 for the one silent helper"
    );
    let mut d = node();
    failed_period(&mut d, 1_000, 3);
    assert_eq!(
        d.node.health(),
        1,
        "all helpers nacked: only the failed probe counts"
    );
}

#[test]
fn a_failed_probe_without_helpers_costs_one() {
    let mut config = Config::lan();
    config.indirect_checks = 0;
    let mut d = Driver::with_peers(config, 2..=5);
    failed_period(&mut d, 1_000, 0);
    assert_eq!(d.node.health(), 1);
}

#[test]
fn poor_health_stretches_the_period_and_the_timeout() {
    let mut d = node();
    let out = failed_period(&mut d, 1_000, 0);
    assert_eq!(d.node.health(), 4);
    // The next tick is scheduled afresh with the new multiplier: 1 s x (4 + 1).
    assert_eq!(timer_set(&out, Timer::Tick), Some(2_000 + 5_000));
    let seq = pings(&out)[0].1;
    assert_eq!(
        timer_set(&out, Timer::ProbeTimeout(seq)),
        Some(2_000 + 2_500)
    );
    assert_eq!(d.node.probe_interval(), 5_000);
    assert_eq!(d.node.probe_timeout(), 2_500);
}

#[test]
fn health_saturates_at_its_maximum() {
    let mut d = node();
    let mut at = 1_000;
    for _ in 0..5 {
        failed_period(&mut d, at, 0);
        at += d.node.probe_interval() * 2;
    }
    assert_eq!(d.node.health(), 8);
    assert_eq!(d.node.probe_interval(), 9_000);
    let mut small = Config::lan();
    small.max_health = 2;
    let mut d = Driver::with_peers(small, 2..=5);
    failed_period(&mut d, 1_000, 0);
    assert_eq!(d.node.health(), 2);
}

#[test]
fn a_successful_probe_earns_one_back_and_no_more() {
    let mut d = node();
    let out = failed_period(&mut d, 1_000, 0);
    assert_eq!(d.node.health(), 4);
    // The tick that judged the failure started the next probe: its ack earns one back.
    let (_, seq, target) = pings(&out)[0];
    d.recv(peer(target), Body::Ack { seq }, vec![]);
    assert_eq!(d.node.health(), 3);
    let mut at = 10_000;
    for expected in [2, 1, 0, 0] {
        let (seq, target, _) = d.probe_at(at);
        let out = d.recv(peer(target), Body::Ack { seq }, vec![]);
        assert!(cancelled(&out, Timer::ProbeTimeout(seq)));
        // A duplicate ack is not a second success.
        d.recv(peer(target), Body::Ack { seq }, vec![]);
        assert_eq!(d.node.health(), expected);
        at += 10_000;
    }
}

#[test]
fn a_late_but_in_period_ack_is_a_success() {
    let mut d = node();
    d.gossip(2, vec![suspect(1, 0, &[2])]); // refute: health 1
    assert_eq!(d.node.health(), 1);
    let (seq, target, _) = d.probe_at(1_000);
    let out = d.timer_at(1_000 + d.node.probe_timeout(), Timer::ProbeTimeout(seq));
    assert_eq!(ping_reqs(&out).len(), 3);
    d.now += 100;
    d.recv(peer(target), Body::Ack { seq }, vec![]);
    assert_eq!(d.node.health(), 0);
    let out = d.timer_at(3_000, Timer::Tick);
    assert_eq!(d.node.health(), 0, "no penalty for an acked probe");
    assert_eq!(
        d.status_of(peer(target)),
        Some(swim_checked_core::Status::Alive)
    );
    assert!(events(&out).is_empty());
}

#[test]
fn helping_others_never_changes_health() {
    let mut d = node();
    d.gossip(2, vec![suspect(1, 0, &[2])]);
    assert_eq!(d.node.health(), 1);
    // Relay a ping-req that fails (nack), and one that succeeds (ack forwarded).
    for (origin_seq, answered) in [(40, false), (41, true)] {
        let out = d.recv(
            2,
            Body::PingReq {
                seq: origin_seq,
                target: id(3),
                target_addr: addr(3),
            },
            vec![],
        );
        let (_, seq, _) = pings(&out)[0];
        if answered {
            d.recv(3, Body::Ack { seq }, vec![]);
        } else {
            let at = timer_set(&out, Timer::Relay(seq)).unwrap();
            d.timer_at(at, Timer::Relay(seq));
        }
    }
    assert_eq!(d.node.health(), 1);
}

/// The local health aware probe switched off: failed probes and silent helpers leave the
/// multiplier at 0, and the period and timeout stay as configured. Nothing else changes: the
/// probe still fails and the target is still suspected.
#[test]
fn with_local_health_off_the_multiplier_stays_zero() {
    let config = Config {
        lifeguard_local_health: false,
        ..Config::lan()
    };
    let mut d = Driver::with_peers(config.clone(), 2..=5);
    let mut on = node();
    failed_period(&mut d, 1_000, 0);
    failed_period(&mut on, 1_000, 0);
    assert_eq!(d.node.health(), 0);
    assert_eq!(d.node.probe_interval(), config.probe_interval);
    assert_eq!(d.node.probe_timeout(), config.probe_timeout);
    assert_eq!(d.node.stats().probes_failed, 1);
    assert_eq!(
        d.node.member(id(5)).map(|m| m.status),
        on.node.member(id(5)).map(|m| m.status)
    );
    assert!(
        d.node
            .members()
            .any(|m| m.status == swim_checked_core::Status::Suspect)
    );
    assert_eq!(on.node.health(), 4, "the same period with the switch on");
    assert_eq!(on.node.probe_interval(), 5 * config.probe_interval);
    let off = Health::of(&config);
    assert_eq!(off.max(), 0);
    assert_eq!(Health::of(&Config::lan()).max(), 8);
}
