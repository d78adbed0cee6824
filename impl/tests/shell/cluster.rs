//! Real nodes on loopback UDP in real time: convergence, crash detection, leave, metadata,
//! restart and rejoin. Every wait is on events, with generous timeouts.

use std::time::Duration;

use crate::common::{Cluster, SOON, sees_alive, wait_for};
use swim_checked::harness::core::Config;
use swim_checked::harness::core::suspicion::Bounds;
use swim_checked::{EventKind, Meta, Node, Phase, Status};
use tokio::time::Instant;

/// The longest a crash may take to be declared dead everywhere, as the configuration implies:
/// until some member probes the victim (a member is probed at least once every 2n-1 periods),
/// the period that judges the probe, the longest suspicion (no confirmation at all), and two
/// periods to spread the verdict.
fn detection_bound(config: &Config, n: usize) -> Duration {
    let periods = (2 * n as u64 + 2) * config.probe_interval;
    let suspicion = Bounds::new(config, n).max;
    Duration::from_millis(periods + suspicion)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_nodes_converge() {
    let cluster = Cluster::start(5, Config::local()).await;
    let ids = cluster.ids();
    assert_eq!(ids.len(), 5);
    for node in &cluster.nodes {
        assert!(sees_alive(node, &ids), "{:#?}", node.members());
        assert_eq!(node.cluster_size(), 5);
        assert_eq!(node.phase(), Phase::Running);
        let stats = node.stats();
        assert!(
            stats.datagrams_in > 0 && stats.datagrams_out > 0,
            "{stats:?}"
        );
        assert_eq!(stats.dropped.total(), 0);
    }
    cluster.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aborted_node_is_declared_dead_by_all_within_the_bound() {
    let config = Config::local();
    let mut cluster = Cluster::start(5, config.clone()).await;
    let victim = cluster.nodes[4].id();
    let bound = detection_bound(&config, 5);
    let start = Instant::now();
    cluster.nodes[4].abort();
    cluster.all_see(&[4], victim, Status::Dead, bound).await;
    let took = start.elapsed();
    assert!(took <= bound, "took {took:?}, bound {bound:?}");
    for node in &cluster.nodes[..4] {
        assert_eq!(node.live_members().len(), 4);
        assert!(node.stats().probes_sent > 0);
    }
}

/// The topology-aware selector on real sockets: six nodes in three zones, helpers from other
/// zones first, far members in one probe pass of two. Every node carries its zone, and a
/// crash is still declared dead by all within the zoned bound, `(f + 1)(n - 1)` periods
/// between probes of one member instead of `2(n - 1)`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zoned_selection_detects_a_crash_within_its_bound() {
    let config = Config {
        zone_helpers: true,
        far_pass_every: 2,
        ..Config::local()
    };
    let mut cluster = Cluster::start_in_zones(6, config.clone(), &["a", "b", "c"]).await;
    for (i, node) in cluster.nodes.iter().enumerate() {
        let zone = node.local_member().meta.get("zone").map(str::to_owned);
        assert_eq!(zone.as_deref(), Some(["a", "b", "c"][i % 3]));
    }
    let victim = cluster.nodes[5].id();
    // One more pass of `n - 1` periods than the uniform bound: `f = 2`.
    let bound =
        detection_bound(&config, 6) + Duration::from_millis((6 - 1) * config.probe_interval);
    let start = Instant::now();
    cluster.nodes[5].abort();
    cluster.all_see(&[5], victim, Status::Dead, bound).await;
    let took = start.elapsed();
    assert!(took <= bound, "took {took:?}, bound {bound:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_leave_shows_as_left() {
    let mut cluster = Cluster::start(5, Config::local()).await;
    let leaver = cluster.nodes[4].clone();
    let id = leaver.id();
    let mut own = leaver.subscribe();
    leaver.leave().await.unwrap();
    assert_eq!(leaver.phase(), Phase::Left);
    assert_eq!(
        own.recv().await.map(|e| (e.member.id, e.kind())),
        Some((id, EventKind::Left)),
        "the leaver reports its own departure"
    );
    cluster.all_see(&[4], id, Status::Left, SOON).await;
    // Nobody took the departure for a failure.
    for node in &cluster.nodes[..4] {
        assert_eq!(node.live_members().len(), 4);
    }
    // A node that left refuses further commands but can rejoin.
    assert!(leaver.set_metadata(Meta::default()).await.is_err());
    leaver.shutdown().await.unwrap();
    assert!(!leaver.is_running());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_change_reaches_every_node() {
    let mut cluster = Cluster::start(5, Config::local()).await;
    let changer = cluster.nodes[2].clone();
    let id = changer.id();
    let before = changer.local_member().incarnation;
    changer
        .set_metadata(Meta::from_pairs([("version", "2"), ("zone", "b")]))
        .await
        .unwrap();
    assert_eq!(changer.local_member().incarnation, before + 1);
    for (node, events) in cluster.nodes.iter().zip(&mut cluster.events) {
        wait_for(node, events, SOON, "the new metadata", |n| {
            n.member(id).is_some_and(|m| {
                m.meta.get("version") == Some("2") && m.meta.get("zone") == Some("b")
            })
        })
        .await;
    }
    // Too much metadata is refused with the limit in the error.
    let big = "x".repeat(2_000);
    let err = changer
        .set_metadata(Meta::from_pairs([("blob", big.as_str())]))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("exceeds"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_node_rejoins_under_a_new_id_and_the_old_id_stays_dead() {
    let config = Config::local();
    let mut cluster = Cluster::start(5, config.clone()).await;
    let mut history = cluster.merge_events();
    let old = cluster.nodes[4].clone();
    let (old_id, addr) = (old.id(), old.local_addr());
    old.abort();
    old.stopped().await;

    // The same process comes back on the same address: a new member.
    let new = Node::bind(config.clone(), addr).await.unwrap();
    let new_id = new.id();
    assert_ne!(new_id, old_id);
    cluster.events[4] = new.subscribe();
    cluster.nodes[4] = new.clone();
    new.join([cluster.nodes[0].local_addr()]).await.unwrap();

    cluster
        .all_see(
            &[],
            old_id,
            Status::Dead,
            detection_bound(&config, 5) + SOON,
        )
        .await;
    cluster.converge(SOON).await;
    for node in &cluster.nodes {
        assert_eq!(node.status_of(old_id), Some(Status::Dead));
        assert_eq!(node.status_of(new_id), Some(Status::Alive));
    }
    // The old id went down the lattice only: never alive again after its death.
    let mut dead_at = [false; 5];
    while let Ok((i, event)) = history.try_recv() {
        if event.member.id != old_id {
            continue;
        }
        if event.to == Status::Dead {
            dead_at[i] = true;
        } else {
            assert!(!dead_at[i], "old id came back at node {i}: {event:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_declared_dead_rejoins_by_itself_at_the_next_generation() {
    // Short suspicions so the pause below is enough to be declared dead.
    let config = Config {
        suspicion_mult: 1,
        ..Config::local()
    };
    let mut cluster = Cluster::start(4, config.clone()).await;
    let node = cluster.nodes[3].clone();
    let id = node.id();
    let bound = detection_bound(&config, 4);
    node.stall(bound + Duration::from_millis(500))
        .await
        .unwrap();
    cluster.all_see(&[3], id, Status::Dead, bound + SOON).await;
    // On resume it learns it was declared dead and comes back by itself, same id.
    let mut own = node.subscribe();
    wait_for(&node, &mut own, SOON, "its automatic rejoin", |n| {
        n.local_member().generation == 1
    })
    .await;
    assert_eq!(node.phase(), Phase::Running);
    assert_eq!(node.id(), id);
    cluster.converge(SOON).await;
    for n in &cluster.nodes {
        let m = n.member(id).expect("known");
        assert_eq!((m.status, m.generation), (Status::Alive, 1));
    }
    assert_eq!(node.stats().core.auto_rejoins, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_declared_dead_rejoins_under_a_new_id() {
    // Short suspicions so the pause below is enough to be declared dead; the application
    // decides what happens then.
    let config = Config {
        suspicion_mult: 1,
        auto_rejoin: false,
        ..Config::local()
    };
    let mut cluster = Cluster::start(4, config.clone()).await;
    let node = cluster.nodes[3].clone();
    let old_id = node.id();
    let mut own = node.subscribe();
    let bound = detection_bound(&config, 4);
    node.stall(bound + Duration::from_millis(500))
        .await
        .unwrap();
    cluster
        .all_see(&[3], old_id, Status::Dead, bound + SOON)
        .await;

    // On resume it learns it was declared dead.
    wait_for(&node, &mut own, SOON, "its own removal", |n| {
        n.phase() == Phase::Removed
    })
    .await;
    let new_id = node.rejoin().await.unwrap();
    assert_ne!(new_id, old_id);
    assert_eq!(node.id(), new_id);
    assert_eq!(node.phase(), Phase::Running);
    cluster.converge(SOON).await;
    for n in &cluster.nodes {
        assert_eq!(n.status_of(old_id), Some(Status::Dead));
    }
    assert!(
        node.rejoin().await.is_err(),
        "rejoin needs to be removed first"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_nodes_converge() {
    let cluster = Cluster::start(50, Config::local()).await;
    let ids = cluster.ids();
    for node in &cluster.nodes {
        assert!(sees_alive(node, &ids));
    }
    cluster.shutdown().await;
}

/// A hundred nodes join through one seed at once, with push-pull pushed out of the test's reach:
/// the joins and gossip alone must bring every node the whole view. Every joiner is a stranger
/// to the seed (PROTOCOL.md §12): its view must follow the validation round trip, and the
/// intake bounds must not drop the storm's news.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_storm_converges_without_push_pull() {
    let config = Config {
        sync_interval: 3_600_000,
        ..Config::local()
    };
    let cluster = Cluster::start(100, config).await;
    let ids = cluster.ids();
    for node in &cluster.nodes {
        assert!(sees_alive(node, &ids));
        let stats = node.with_core(|core| core.stats());
        assert_eq!(stats.dropped_new_per_datagram, 0, "{stats:?}");
        assert_eq!(stats.dropped_new_per_source, 0, "{stats:?}");
    }
    cluster.shutdown().await;
}
