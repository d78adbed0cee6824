//! The handle's API around the protocol: configuration errors, addresses, seeds by name, join
//! failures, lifecycle after shutdown, statistics.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::common::{SOON, sees_alive, wait_for};
use swim_checked::{Config, Error, EventKind, Meta, Node, NodeId, SeedSilence, Status};

#[tokio::test]
async fn invalid_configuration_says_what_is_wrong() {
    let config = Config {
        probe_timeout: Duration::from_secs(2),
        ..Config::lan()
    };
    let err = Node::bind(config, "127.0.0.1:0").await.unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, Error::Config(ref e) if e.field == "probe_timeout"),
        "{err:?}"
    );
    assert!(
        text.contains("probe_timeout") && text.contains("shorter"),
        "{text}"
    );

    let big = Meta::from_pairs([("blob", "x".repeat(4_000))]);
    let err = Node::builder(Config::lan())
        .meta(big)
        .bind("127.0.0.1:0")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("max_meta_bytes"), "{err}");

    for preset in [Config::lan(), Config::wan(), Config::local()] {
        preset.validate().unwrap();
    }
}

#[tokio::test]
async fn an_unspecified_address_needs_an_advertised_one() {
    let err = Node::bind(Config::local(), "0.0.0.0:0").await.unwrap_err();
    assert!(matches!(err, Error::UnspecifiedAddr(_)), "{err:?}");
    let node = Node::builder(Config::local())
        .advertise("127.0.0.1:7".parse().unwrap())
        .bind("0.0.0.0:0")
        .await
        .unwrap();
    assert_eq!(node.local_addr(), "127.0.0.1:7".parse().unwrap());
    assert_eq!(node.local_member().addr, node.local_addr());
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_by_host_name_with_metadata() {
    let a = Node::builder(Config::local())
        .meta(Meta::from_pairs([("name", "a")]))
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let b = Node::builder(Config::local())
        .meta(Meta::from_pairs([("name", "b")]))
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let mut events = a.subscribe();
    let seed = format!("localhost:{}", a.local_addr().port());
    let joined = b.join([seed.as_str()]).await.unwrap();
    assert_eq!(joined.seeds, [a.local_addr()]);
    assert_eq!(joined.members, 2);
    let event = events.recv().await.unwrap();
    assert_eq!(event.kind(), EventKind::Joined);
    assert_eq!(event.member.meta.get("name"), Some("b"));
    let ids: BTreeSet<NodeId> = [a.id(), b.id()].into();
    wait_for(&b, &mut b.subscribe(), SOON, "a", |n| sees_alive(n, &ids)).await;
    assert_eq!(
        b.member(a.id()).unwrap().meta.get("name"),
        Some("a"),
        "the seed's metadata came back with its view"
    );

    let err = b.join(["no-such-host.invalid:1"]).await.unwrap_err();
    assert!(matches!(err, Error::Resolve { .. }), "{err:?}");
    let err = b.join(Vec::<String>::new()).await.unwrap_err();
    assert!(matches!(err, Error::NoSeeds), "{err:?}");
    let err = b.join([b.local_addr()]).await.unwrap_err();
    assert!(
        matches!(err, Error::Rejected(_)),
        "joining oneself: {err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_gives_up_when_no_seed_answers() {
    let config = Config {
        join_attempts: 3,
        join_retry_interval: Duration::from_millis(100),
        ..Config::local()
    };
    let silent = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let node = Node::bind(config, "127.0.0.1:0").await.unwrap();
    let err = tokio::time::timeout(SOON, node.join([silent.local_addr().unwrap()]))
        .await
        .expect("join is bounded")
        .unwrap_err();
    let Error::Join(join) = &err else {
        panic!("{err:?}")
    };
    let silent = silent.local_addr().unwrap();
    assert_eq!(join.seeds.len(), 1);
    assert_eq!(join.seeds[0].addr, silent);
    assert_eq!(join.seeds[0].reason, SeedSilence::NoAnswer);
    let text = err.to_string();
    assert!(text.contains(&silent.to_string()), "{text}");
    assert!(text.contains("no answer"), "{text}");
    // Three attempts reached the silent seed.
    let stats = node.stats();
    assert!(stats.datagrams_out >= 3, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_shutdown_commands_fail_and_streams_end() {
    let a = Node::bind(Config::local(), "127.0.0.1:0").await.unwrap();
    let mut events = a.subscribe();
    assert!(a.is_running());
    a.shutdown().await.unwrap();
    assert!(!a.is_running());
    assert!(events.recv().await.is_none());
    assert!(a.subscribe().recv().await.is_none());
    assert!(matches!(
        a.set_metadata(Meta::default()).await,
        Err(Error::Stopped)
    ));
    assert!(matches!(a.leave().await, Err(Error::Stopped)));
    // The last view stays readable, and the address is free again.
    assert_eq!(a.members().len(), 1);
    let again = Node::bind(Config::local(), a.local_addr()).await.unwrap();
    again.shutdown().await.unwrap();
    // Shutting down twice is fine.
    a.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_every_handle_stops_the_node() {
    let a = Node::bind(Config::local(), "127.0.0.1:0").await.unwrap();
    let addr = a.local_addr();
    let mut events = a.subscribe();
    drop(a);
    assert!(
        tokio::time::timeout(SOON, events.recv())
            .await
            .unwrap()
            .is_none()
    );
    // The socket was closed with the task.
    let b = Node::bind(Config::local(), addr).await.unwrap();
    b.shutdown().await.unwrap();
}

/// Counts the steps of a node.
struct Steps(tokio::sync::watch::Sender<u64>);

impl swim_checked::harness::Observer for Steps {
    fn on_step(&self, _step: &swim_checked::harness::Step<'_>) {
        self.0.send_modify(|n| *n += 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_count_traffic_both_ways() {
    let (tx, mut steps) = tokio::sync::watch::channel(0);
    let a = Node::bind(Config::local(), "127.0.0.1:0").await.unwrap();
    let b = Node::builder(Config::local())
        .observer(std::sync::Arc::new(Steps(tx)))
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    b.join([a.local_addr()]).await.unwrap();
    // Re-checked after every step of b.
    tokio::time::timeout(SOON, steps.wait_for(|_| b.stats().probes_sent >= 3))
        .await
        .expect("b probes a")
        .unwrap();
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
    let (sa, sb) = (a.stats(), b.stats());
    assert!(sb.probes_sent >= 3, "{sb:?}");
    assert_eq!(sb.probes_failed, 0);
    assert_eq!(sb.health, 0);
    // What one received, the other sent (loopback loses nothing; the last few may have been in
    // flight at shutdown).
    for (from, to) in [(sa, sb), (sb, sa)] {
        assert!(to.datagrams_in <= from.datagrams_out, "{from:?} {to:?}");
        assert!(from.datagrams_out <= to.datagrams_in + 3, "{from:?} {to:?}");
        assert!(to.bytes_in <= from.bytes_out);
    }
    assert_eq!(sa.dropped.total() + sb.dropped.total(), 0);
    assert!(sb.datagrams_out > 0 && sb.bytes_out > sb.datagrams_out * 10);
    assert_eq!(a.status_of(b.id()), Some(Status::Alive));
}

/// A subscriber that falls behind skips the oldest events and counts them, with both `recv`
/// and `try_recv`; one that keeps up misses nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_subscriber_skips_and_counts_events() {
    let a = Node::builder(Config::local())
        .event_capacity(1)
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let (mut by_recv, mut by_try_recv, mut watch) = (a.subscribe(), a.subscribe(), a.subscribe());
    let mut ids: BTreeSet<NodeId> = [a.id()].into();
    let mut others = Vec::new();
    for _ in 0..4 {
        let b = Node::builder(Config::local())
            .bind("127.0.0.1:0")
            .await
            .unwrap();
        b.join([a.local_addr()]).await.unwrap();
        ids.insert(b.id());
        others.push(b);
    }
    wait_for(&a, &mut watch, SOON, "all four joined", |n| {
        sees_alive(n, &ids)
    })
    .await;
    // Four `joined` events went into a buffer of one: the last is kept, three are skipped.
    let last = by_recv.recv().await.expect("the newest event is kept");
    assert_eq!(last.kind(), EventKind::Joined);
    assert!(by_recv.lagged() >= 3, "skipped: {}", by_recv.lagged());
    assert_eq!(
        by_try_recv.try_recv().map(|e| e.kind()),
        Some(EventKind::Joined)
    );
    assert!(
        by_try_recv.lagged() >= 3,
        "skipped: {}",
        by_try_recv.lagged()
    );
    assert_eq!(by_try_recv.try_recv(), None, "nothing else is waiting");
}

/// What logs show: seeds as typed, nodes and builders by their fields, the manual clock's time
/// (also through an `Arc`, as a shared clock is passed).
#[tokio::test]
async fn seeds_nodes_and_clocks_print_what_they_hold() {
    use std::sync::Arc;
    use swim_checked::Seed;
    use swim_checked::harness::{Clock, ManualClock};

    assert_eq!(Seed::from("db-1.local:7946").to_string(), "db-1.local:7946");
    let addr: std::net::SocketAddr = "10.0.0.7:7946".parse().unwrap();
    assert_eq!(Seed::from(addr).to_string(), "10.0.0.7:7946");

    let builder = Node::builder(Config::local()).id(NodeId(0xab));
    let shown = format!("{builder:?}");
    assert!(
        shown.starts_with("Builder") && shown.contains("#ab"),
        "{shown}"
    );
    let node = builder.bind("127.0.0.1:0").await.unwrap();
    let shown = format!("{node:?}");
    assert!(shown.contains("#ab"), "{shown}");
    assert!(shown.contains(&node.local_addr().to_string()), "{shown}");

    let clock = Arc::new(ManualClock::new(1_234));
    assert_eq!(Clock::now(&clock), 1_234);
    clock.advance(6);
    assert_eq!(Clock::now(&clock), 1_240);
    assert_eq!(format!("{:?}", *clock), "ManualClock { now: 1240 }");
    node.shutdown().await.unwrap();
}
