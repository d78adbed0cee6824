//! The library as an application uses it (issue 21): one test per friction point, on
//! loopback, waiting on events or the watched view (never sleeping to wait).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use swim_checked::{
    CommandError, Config, Error, EventKind, Key, Keyring, Meta, Node, NodeId, SeedSilence, Status,
    UserKind,
};

use crate::common::{Cluster, SOON};

/// A configuration whose joins give up quickly (3 attempts, 100 ms apart).
fn quick_join() -> Config {
    Config::local()
        .edit()
        .join_attempts(3)
        .join_retry_interval(Duration::from_millis(100))
        .build()
        .unwrap()
}

// ----- 1. join -----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_reports_the_seeds_that_answered_and_the_view_size() {
    let cluster = Cluster::start(3, Config::local()).await;
    let newcomer = Node::bind(Config::local(), "127.0.0.1:0").await.unwrap();
    let seed = cluster.nodes[1].local_addr();
    let joined = newcomer.join([seed]).await.unwrap();
    assert_eq!(joined.seeds, [seed]);
    assert_eq!(joined.members, 4, "the seed's whole view came back");
    newcomer.shutdown().await.unwrap();
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_fails_when_no_seed_answers_even_with_a_peer_known() {
    let a = Node::bind(quick_join(), "127.0.0.1:0").await.unwrap();
    let b = Node::bind(quick_join(), "127.0.0.1:0").await.unwrap();
    b.join([a.local_addr()]).await.unwrap();
    let silent = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let silent = silent.local_addr().unwrap();
    let err = b.join([silent]).await.unwrap_err();
    let Error::Join(join) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(join.seeds.len(), 1);
    assert_eq!(
        (join.seeds[0].addr, &join.seeds[0].reason),
        (silent, &SeedSilence::NoAnswer)
    );
    let text = err.to_string();
    assert!(
        text.contains(&silent.to_string()) && text.contains("no answer"),
        "{text}"
    );
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}

/// A seed of another cluster label that also tries to reach us: its datagrams are dropped
/// here as `label_mismatch`, and the join error says so for its address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_error_names_a_label_mismatch_seen_from_the_seed() {
    let joiner = Node::bind(
        quick_join().edit().label("blue").build().unwrap(),
        "127.0.0.1:0",
    )
    .await
    .unwrap();
    let red = Node::bind(
        Config::local().edit().label("red").build().unwrap(),
        "127.0.0.1:0",
    )
    .await
    .unwrap();
    // `red` keeps trying to join `joiner` (ten attempts, 200 ms apart) while it joins `red`.
    let red_joins = {
        let red = red.clone();
        let to = joiner.local_addr();
        tokio::spawn(async move { red.join([to]).await })
    };
    let err = joiner.join([red.local_addr()]).await.unwrap_err();
    let Error::Join(join) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(
        join.seeds[0].reason,
        SeedSilence::Dropped("label_mismatch"),
        "{err}"
    );
    assert!(err.to_string().contains("label_mismatch"), "{err}");
    red.shutdown().await.unwrap();
    assert!(red_joins.await.unwrap().is_err());
    joiner.shutdown().await.unwrap();
}

/// Same with another key: the seed's sealed datagrams do not open here (`unauthenticated`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_error_names_a_wrong_key_seen_from_the_seed() {
    let key = |b: u8| Key::from_bytes([b; 32]);
    let joiner = Node::builder(quick_join())
        .keyring(Keyring::new(key(1)))
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let other = Node::builder(Config::local())
        .keyring(Keyring::new(key(2)))
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let other_joins = {
        let other = other.clone();
        let to = joiner.local_addr();
        tokio::spawn(async move { other.join([to]).await })
    };
    let err = joiner.join([other.local_addr()]).await.unwrap_err();
    let Error::Join(join) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(
        join.seeds[0].reason,
        SeedSilence::Dropped("unauthenticated"),
        "{err}"
    );
    other.shutdown().await.unwrap();
    assert!(other_joins.await.unwrap().is_err());
    joiner.shutdown().await.unwrap();
}

/// A seed this socket cannot send to (an IPv6 address from an IPv4 socket): the send error is
/// reported for that address, the reachable seed answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_error_names_a_local_send_failure() {
    let node = Node::bind(quick_join(), "127.0.0.1:0").await.unwrap();
    let unreachable: std::net::SocketAddr = "[::1]:9".parse().unwrap();
    let err = node.join([unreachable]).await.unwrap_err();
    let Error::Join(join) = &err else {
        panic!("{err:?}")
    };
    assert!(
        matches!(join.seeds[0].reason, SeedSilence::SendFailed(_)),
        "{err}"
    );
    assert!(err.to_string().contains("[::1]:9"), "{err}");
    node.shutdown().await.unwrap();
}

// ----- 2. leave -----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leave_returns_once_every_member_acknowledged() {
    let config = Config::local()
        .edit()
        .leave_timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let cluster = Cluster::start(4, config).await;
    let leaver = &cluster.nodes[3];
    let started = Instant::now();
    leaver.leave().await.unwrap();
    let took = started.elapsed();
    // Returned because every member holds the `left` record, not at the 30 s bound.
    for node in &cluster.nodes[..3] {
        assert_eq!(node.status_of(leaver.id()), Some(Status::Left), "{took:?}");
    }
    assert!(took < Duration::from_secs(15), "leave took {took:?}");
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leave_waits_at_most_leave_timeout_for_a_silent_member() {
    // Suspicion far longer than the leave: the crashed member stays live here meanwhile.
    let config = Config::local()
        .edit()
        .leave_timeout(Duration::from_millis(800))
        .suspicion_mult(100)
        .build()
        .unwrap();
    let cluster = Cluster::start(3, config).await;
    cluster.nodes[2].abort();
    cluster.nodes[2].stopped().await;
    let started = Instant::now();
    cluster.nodes[1].leave().await.unwrap();
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(700), "left after {took:?}");
    assert_eq!(
        cluster.nodes[0].status_of(cluster.nodes[1].id()),
        Some(Status::Left)
    );
    cluster.shutdown().await;
}

// ----- 3. events are a Stream -----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_a_stream() {
    let a = Node::bind(Config::local(), "127.0.0.1:0").await.unwrap();
    let b = Node::bind(Config::local(), "127.0.0.1:0").await.unwrap();
    let joined = a
        .subscribe()
        .filter(|e| std::future::ready(e.kind() == EventKind::Joined));
    let mut joined = std::pin::pin!(joined);
    b.join([a.local_addr()]).await.unwrap();
    let event = tokio::time::timeout(SOON, joined.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(event.member.id, b.id());
    // The stream ends when the node stops.
    let mut events = a.subscribe();
    a.shutdown().await.unwrap();
    assert!(events.next().await.is_none());
    b.shutdown().await.unwrap();
}

// ----- 4. watch -----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_gives_the_view_then_its_changes() {
    let a = Node::bind(Config::local(), "127.0.0.1:0").await.unwrap();
    let b = Node::bind(Config::local(), "127.0.0.1:0").await.unwrap();
    let mut view = a.watch();
    {
        let now = view.borrow_and_update();
        assert_eq!(now.members().len(), 1);
        assert_eq!(now.local().id, a.id());
    }
    b.join([a.local_addr()]).await.unwrap();
    let seen = tokio::time::timeout(SOON, view.wait_for(|v| v.live_count() == 2))
        .await
        .unwrap()
        .unwrap()
        .clone();
    assert_eq!(seen.get(b.id()).unwrap().status, Status::Alive);
    b.leave().await.unwrap();
    let seen = tokio::time::timeout(
        SOON,
        view.wait_for(|v| v.get(b.id()).is_some_and(|m| m.status == Status::Left)),
    )
    .await
    .unwrap()
    .unwrap()
    .clone();
    assert_eq!(seen.live_count(), 1);
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}

// ----- 5. wait_for -----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_returns_the_view_or_times_out() {
    let cluster = Cluster::start(3, Config::local()).await;
    let view = cluster.nodes[0]
        .wait_for(|v| v.live_count() == 3, SOON)
        .await
        .unwrap();
    assert_eq!(view.live_count(), 3);
    let err = cluster.nodes[0]
        .wait_for(|v| v.live_count() == 10, Duration::from_millis(300))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { waited } if waited == Duration::from_millis(300)));
    cluster.shutdown().await;
}

// ----- 6. application data -----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcasts_reach_every_member_once() {
    let cluster = Cluster::start(5, Config::local()).await;
    let mut inboxes: Vec<_> = cluster.nodes.iter().map(Node::messages).collect();
    let origin = &cluster.nodes[0];
    for i in 0..3 {
        origin.broadcast(format!("news {i}")).await.unwrap();
    }
    for (i, inbox) in inboxes.iter_mut().enumerate().skip(1) {
        let mut got = BTreeSet::new();
        while got.len() < 3 {
            let m = tokio::time::timeout(SOON, inbox.recv())
                .await
                .unwrap()
                .unwrap();
            assert_eq!((m.from, m.kind), (origin.id(), UserKind::Broadcast));
            assert!(got.insert(m.payload), "node {i} got a broadcast twice");
        }
    }
    // Each delivered once (the identities seen are remembered), the origin's not to itself.
    for (i, inbox) in inboxes.iter_mut().enumerate() {
        assert!(inbox.try_recv().is_none(), "node {i}: extra delivery");
        let delivered = cluster.nodes[i].stats().core.user_delivered;
        assert_eq!(delivered, if i == 0 { 0 } else { 3 }, "node {i}");
    }
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_messages_reach_one_member() {
    let cluster = Cluster::start(3, Config::local()).await;
    let (a, b, c) = (&cluster.nodes[0], &cluster.nodes[1], &cluster.nodes[2]);
    let mut to_b = b.messages();
    a.send_to(b.id(), b"just for b".to_vec()).await.unwrap();
    let m = tokio::time::timeout(SOON, to_b.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (m.from, m.kind, &m.payload[..]),
        (a.id(), UserKind::Direct, &b"just for b"[..])
    );
    assert_eq!(c.stats().core.direct_delivered, 0);
    let err = a.send_to(NodeId(42), "x").await.unwrap_err();
    assert!(
        matches!(err, Error::Rejected(CommandError::UnknownMember(_))),
        "{err:?}"
    );
    let err = a.send_to(a.id(), "x").await.unwrap_err();
    assert!(
        matches!(err, Error::Rejected(CommandError::ToSelf)),
        "{err:?}"
    );
    cluster.shutdown().await;
}

#[tokio::test]
async fn application_data_is_bounded_and_drops_are_counted() {
    let config = Config::local().edit().user_queue(2).build().unwrap();
    let limit = config.to_core().unwrap().user_payload_limit();
    let node = Node::bind(config, "127.0.0.1:0").await.unwrap();
    let err = node.broadcast(vec![0u8; limit + 1]).await.unwrap_err();
    assert!(
        matches!(err, Error::Rejected(CommandError::PayloadTooLarge { len, max }) if len == limit + 1 && max == limit),
        "{err:?}"
    );
    node.broadcast(vec![0u8; limit]).await.unwrap();
    // Alone, nothing leaves the queue: of five broadcasts, the queue keeps two.
    for i in 0..4u8 {
        node.broadcast(vec![i]).await.unwrap();
    }
    let stats = node.stats();
    assert_eq!(stats.core.user_dropped, 3);
    assert_eq!(node.with_core(|core| core.user_queue().len()), 2);
    node.shutdown().await.unwrap();
}

// ----- 7. metadata by key -----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_changes_one_key_at_a_time() {
    let a = Node::builder(Config::local())
        .meta(Meta::from_pairs([("role", "db"), ("zone", "a")]))
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let b = Node::bind(Config::local(), "127.0.0.1:0").await.unwrap();
    b.join([a.local_addr()]).await.unwrap();
    let inc = a.local_member().incarnation;
    assert!(a.set_meta_key("zone", "b").await.unwrap());
    assert_eq!(a.local_member().incarnation, inc + 1);
    assert!(
        !a.set_meta_key("zone", "b").await.unwrap(),
        "same value: no change"
    );
    assert!(!a.remove_meta_key("absent").await.unwrap());
    assert_eq!(a.local_member().incarnation, inc + 1);
    assert!(a.remove_meta_key("role").await.unwrap());
    assert_eq!(a.local_member().incarnation, inc + 2);
    assert_eq!(a.local_member().meta, Meta::from_pairs([("zone", "b")]));
    // `b` hears of it.
    let want = Meta::from_pairs([("zone", "b")]);
    b.wait_for(|v| v.get(a.id()).is_some_and(|m| m.meta == want), SOON)
        .await
        .unwrap();
    a.shutdown().await.unwrap();
    b.shutdown().await.unwrap();
}

// ----- 8. configuration -----

#[test]
fn config_loads_from_toml_with_durations() {
    let config: Config = toml::from_str(
        r#"
        probe_interval = "500ms"
        probe_timeout = "0.2s"
        leave_timeout = "2s"
        tombstone_ttl = "1h"
        sync_interval = 30000
        label = "prod"
        "#,
    )
    .unwrap();
    assert_eq!(config.probe_interval, Duration::from_millis(500));
    assert_eq!(config.probe_timeout, Duration::from_millis(200));
    assert_eq!(config.leave_timeout, Duration::from_secs(2));
    assert_eq!(config.tombstone_ttl, Duration::from_secs(3_600));
    assert_eq!(config.sync_interval, Duration::from_secs(30));
    assert_eq!(config.label, "prod");
    assert_eq!(
        config.max_datagram,
        Config::lan().max_datagram,
        "defaults fill the rest"
    );
    config.validate().unwrap();
    // Written back, it reads the same.
    let text = toml::to_string(&config).unwrap();
    assert_eq!(toml::from_str::<Config>(&text).unwrap(), config);
}

#[test]
fn config_presets_are_the_cores_and_slower_across_a_wan() {
    use swim_checked::harness::core;
    let presets = [
        (Config::local(), core::Config::local()),
        (Config::lan(), core::Config::lan()),
        (Config::wan(), core::Config::wan()),
    ];
    for (shell, core) in presets {
        assert_eq!(shell.to_core().unwrap(), core);
    }
    let (local, lan, wan) = (Config::local(), Config::lan(), Config::wan());
    assert_eq!(Config::default(), lan);
    for (faster, slower) in [(&local, &lan), (&lan, &wan)] {
        assert!(faster.probe_interval < slower.probe_interval);
        assert!(faster.probe_timeout < slower.probe_timeout);
        assert!(faster.join_retry_interval < slower.join_retry_interval);
    }
    assert!(wan.suspicion_mult > lan.suspicion_mult);
}

#[test]
fn config_errors_name_the_field() {
    let err = toml::from_str::<Config>("probe_interval = \"fast\"").unwrap_err();
    assert!(err.to_string().contains("probe_interval"), "{err}");
    let err = toml::from_str::<Config>("probe_intervall = \"1s\"").unwrap_err();
    assert!(err.to_string().contains("probe_intervall"), "{err}");
    let err = Config::builder()
        .probe_timeout(Duration::from_secs(5))
        .build()
        .unwrap_err();
    assert_eq!(err.field, "probe_timeout");
    let err = Config::builder()
        .leave_timeout(Duration::from_micros(1_500))
        .build()
        .unwrap_err();
    assert_eq!(err.field, "leave_timeout");
    assert!(
        err.to_string().contains("whole number of milliseconds"),
        "{err}"
    );
    // A loaded configuration is checked when the node starts.
    let config: Config = toml::from_str("user_fanout = 0").unwrap();
    assert_eq!(config.validate().unwrap_err().field, "user_fanout");
}

// ----- 10. I/O errors name the address -----

#[tokio::test]
async fn io_errors_name_the_address() {
    let taken = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let err = Node::bind(Config::local(), addr).await.unwrap_err();
    assert!(matches!(err, Error::Io { op: "bind", .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(&addr.to_string()), "{text}");
    let err = Node::bind(Config::local(), "no-such-host.invalid:1")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no-such-host.invalid:1"), "{err}");
}
