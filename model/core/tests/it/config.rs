//! Configuration presets and validation: every rejection names its field and says why.

use crate::common::*;
use swim_checked_core::codec::max_meta_room;
use swim_checked_core::{Config, ConfigError, Meta, Node};

/// Apply `change` to the LAN preset and validate.
fn reject(change: impl FnOnce(&mut Config)) -> ConfigError {
    let mut c = Config::lan();
    change(&mut c);
    c.validate().expect_err("should be rejected")
}

/// The rejection names `field` and its reason contains every one of `words`.
fn assert_rejected(err: ConfigError, field: &str, words: &[&str]) {
    assert_eq!(err.field, field, "{err}");
    for w in words {
        assert!(err.reason.contains(w), "{err} should mention {w:?}");
    }
    let text = err.to_string();
    assert!(text.starts_with("invalid config: "), "{text}");
    assert!(text.contains(field) && text.contains(&err.reason), "{text}");
}

#[test]
fn presets_are_valid_and_sensible() {
    for (name, c) in [
        ("lan", Config::lan()),
        ("wan", Config::wan()),
        ("local", Config::local()),
    ] {
        assert_eq!(c.validate(), Ok(()), "{name}");
        assert!(c.probe_timeout < c.probe_interval, "{name}");
    }
    assert_eq!(Config::default(), Config::lan());
    let lan = Config::lan();
    assert_eq!(
        (
            lan.indirect_checks,
            lan.suspicion_mult,
            lan.suspicion_max_mult,
            lan.suspicion_confirmations
        ),
        (3, 4, 6, 2),
        "PROTOCOL.md §4-§5 defaults: k = 3, alpha = 4, beta = 6, K = alpha - 2"
    );
    assert_eq!((lan.max_health, lan.retransmit_mult), (8, 4));
    assert_eq!((lan.max_datagram, lan.max_meta_bytes), (1_400, 512));
    assert!(!lan.unreachable, "unreachable is off by default");
    assert!(Config::wan().probe_interval > lan.probe_interval);
    assert!(Config::local().probe_interval < lan.probe_interval);
}

/// The WAN and loopback presets are the LAN one with its timings stretched or shortened: every
/// field they change moves in their network's direction, and nothing else differs.
#[test]
fn wan_and_local_presets_change_timings_only_and_all_one_way() {
    let lan = Config::lan();
    let timings = |c: &Config| {
        [
            c.probe_interval,
            c.probe_timeout,
            c.sync_interval,
            c.join_retry_interval,
            c.leave_timeout,
        ]
    };
    let with_lan_timings = |c: Config| Config {
        probe_interval: lan.probe_interval,
        probe_timeout: lan.probe_timeout,
        sync_interval: lan.sync_interval,
        join_retry_interval: lan.join_retry_interval,
        leave_timeout: lan.leave_timeout,
        suspicion_mult: lan.suspicion_mult,
        ..c
    };
    let (wan, local) = (Config::wan(), Config::local());
    for (slower, faster) in [(&wan, &lan), (&lan, &local)] {
        let (slow, fast) = (timings(slower), timings(faster));
        assert!(
            slow.iter().zip(&fast).all(|(s, f)| s > f),
            "{slow:?} against {fast:?}"
        );
    }
    assert!(
        wan.suspicion_mult > lan.suspicion_mult,
        "a WAN suspects more slowly"
    );
    assert_eq!(local.suspicion_mult, lan.suspicion_mult);
    assert_eq!(with_lan_timings(wan), lan);
    assert_eq!(with_lan_timings(local), lan);
}

#[test]
fn zero_periods_and_timeouts_are_rejected() {
    assert_rejected(
        reject(|c| c.probe_interval = 0),
        "probe_interval",
        &["zero"],
    );
    assert_rejected(reject(|c| c.probe_timeout = 0), "probe_timeout", &["zero"]);
    assert_rejected(reject(|c| c.tombstone_ttl = 0), "tombstone_ttl", &["zero"]);
    assert_rejected(
        reject(|c| c.join_retry_interval = 0),
        "join_retry_interval",
        &["zero"],
    );
    assert_rejected(reject(|c| c.leave_timeout = 0), "leave_timeout", &["zero"]);
}

#[test]
fn the_probe_timeout_must_fit_in_the_period() {
    for timeout in [1_000, 1_500] {
        assert_rejected(
            reject(|c| c.probe_timeout = timeout),
            "probe_timeout",
            &[&format!("{timeout} ms"), "probe_interval (1000 ms)"],
        );
    }
    let mut c = Config::lan();
    c.probe_timeout = 999;
    assert_eq!(c.validate(), Ok(()));
}

#[test]
fn probe_fan_out_is_bounded() {
    assert_rejected(
        reject(|c| c.direct_probes = 0),
        "direct_probes",
        &["0", "1..=16"],
    );
    assert_rejected(
        reject(|c| c.direct_probes = 17),
        "direct_probes",
        &["17", "1..=16"],
    );
    assert_rejected(
        reject(|c| c.indirect_checks = 17),
        "indirect_checks",
        &["17", "16"],
    );
    for rounds in [0, 5] {
        assert_rejected(
            reject(|c| c.indirect_rounds = rounds),
            "indirect_rounds",
            &[&rounds.to_string(), "1..=4"],
        );
    }
    let mut c = Config::lan();
    c.indirect_rounds = 4;
    c.indirect_checks = 0; // plain SWIM without indirect probes is allowed
    c.direct_probes = 16;
    assert_eq!(c.validate(), Ok(()));
}

#[test]
fn lifeguard_parameters_are_bounded() {
    assert_rejected(
        reject(|c| c.suspicion_mult = 0),
        "suspicion_mult",
        &["at least 1"],
    );
    assert_rejected(
        reject(|c| c.suspicion_max_mult = 0),
        "suspicion_max_mult",
        &["at least 1"],
    );
    assert_rejected(
        reject(|c| c.suspicion_confirmations = 33),
        "suspicion_confirmations",
        &["33", "32"],
    );
    assert_rejected(reject(|c| c.max_health = 65), "max_health", &["65", "64"]);
    // The bounds themselves are allowed.
    let at_bounds = Config {
        suspicion_confirmations: 32,
        max_health: 64,
        ..Config::lan()
    };
    assert_eq!(at_bounds.validate(), Ok(()));
    // No room for the multiplier is a switch left on by mistake; switched off, it is fine.
    assert_rejected(
        reject(|c| c.max_health = 0),
        "max_health",
        &["lifeguard_local_health"],
    );
    let off = Config {
        max_health: 0,
        lifeguard_local_health: false,
        ..Config::lan()
    };
    assert_eq!(off.validate(), Ok(()));
    assert_rejected(
        reject(|c| c.retransmit_mult = 0),
        "retransmit_mult",
        &["at least 1"],
    );
}

#[test]
fn datagram_size_and_label_are_bounded() {
    assert_rejected(
        reject(|c| c.max_datagram = 511),
        "max_datagram",
        &["511", "512..=65507"],
    );
    assert_rejected(
        reject(|c| c.max_datagram = 65_508),
        "max_datagram",
        &["65508"],
    );
    assert_rejected(
        reject(|c| c.label = "x".repeat(256)),
        "label",
        &["256", "255"],
    );
    let mut c = Config::lan();
    c.label = "x".repeat(255);
    c.max_meta_bytes = 256;
    assert_eq!(c.validate(), Ok(()));
}

#[test]
fn metadata_must_fit_in_one_datagram() {
    let mut c = Config::lan();
    c.max_datagram = 512;
    let room = max_meta_room(&c);
    assert!(room > 0 && room < 512);
    c.max_meta_bytes = room;
    assert_eq!(c.validate(), Ok(()));
    c.max_meta_bytes = room + 1;
    assert_rejected(
        c.validate().unwrap_err(),
        "max_meta_bytes",
        &[
            &format!("{}", room + 1),
            "512-byte",
            &format!("at most {room}"),
        ],
    );
    // A longer label leaves less room.
    let mut labelled = c.clone();
    labelled.label = "abcdefgh".into();
    assert_eq!(max_meta_room(&labelled), room - 8);
}

#[test]
fn sync_must_not_run_faster_than_probing() {
    assert_rejected(
        reject(|c| c.sync_interval = 999),
        "sync_interval",
        &["999 ms", "use 0 to disable"],
    );
    let mut c = Config::lan();
    c.sync_interval = 0;
    assert_eq!(c.validate(), Ok(()), "0 disables sync");
}

#[test]
fn tables_must_have_room() {
    assert_rejected(
        reject(|c| c.max_members = 1),
        "max_members",
        &["at least one peer"],
    );
    assert_rejected(reject(|c| c.max_relays = 0), "max_relays", &["at least 1"]);
}

#[test]
fn a_node_refuses_to_start_with_a_bad_config_or_meta() {
    let mut out = Vec::new();
    let mut bad = Config::lan();
    bad.probe_interval = 0;
    let err = Node::new(bad, id(1), addr(1), Meta::default(), 0, &mut out).unwrap_err();
    assert_eq!(err.field, "probe_interval");
    let mut small = Config::lan();
    small.max_meta_bytes = 10;
    let meta = Meta::from_pairs([("role", "database-primary")]);
    let err = Node::new(small, id(1), addr(1), meta.clone(), 0, &mut out).unwrap_err();
    assert_eq!(err.field, "meta");
    assert!(
        err.reason
            .contains(&format!("{} bytes", meta.encoded_len())),
        "{err}"
    );
    assert!(err.reason.contains("max_meta_bytes (10)"), "{err}");
    assert!(out.is_empty(), "nothing started");
}

#[test]
fn a_new_node_is_alone_alive_at_zero_with_its_timers_armed() {
    let (d, out) = Driver::new_as(Config::lan(), 1);
    assert_eq!(d.me(), &alive(1, 0));
    assert_eq!(d.node.cluster_size(), 1);
    assert_eq!(d.node.members().count(), 1);
    assert_eq!(timer_set(&out, swim_checked_core::Timer::Tick), Some(1_000));
    assert_eq!(
        timer_set(&out, swim_checked_core::Timer::Sync),
        Some(30_000)
    );
    assert_eq!(out.len(), 2);
    let mut no_sync = Config::lan();
    no_sync.sync_interval = 0;
    let (_, out) = Driver::new_as(no_sync, 1);
    assert_eq!(out.len(), 1, "sync disabled: only the tick");
}
