//! Faults on loopback: a lossy network, a paused node, malformed datagrams.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::common::{Cluster, SOON, sees_alive, wait_for};
use swim_checked::harness::core::Config;
use swim_checked::harness::{
    Body, DecodeError, LossControl, Lossy, Message, Millis, Observer, UdpTransport, Wire,
};
use swim_checked::{EventKind, Member, Meta, Node, NodeId, Status};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::Instant;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_percent_loss_causes_no_false_dead() {
    const N: usize = 8;
    const PERIODS: u64 = 60;
    let config = Config::local();
    let mut nodes = Vec::new();
    let mut controls: Vec<LossControl> = Vec::new();
    let mut events = Vec::new();
    for i in 0..N {
        let transport = Lossy::new(
            UdpTransport::bind("127.0.0.1:0").await.unwrap(),
            0.0,
            i as u64 + 1,
        );
        controls.push(transport.control());
        let node = Node::builder(config.clone()).start(transport).unwrap();
        events.push(node.subscribe());
        nodes.push(node);
    }
    let seed = nodes[0].local_addr();
    for node in &nodes[1..] {
        node.join([seed]).await.unwrap();
    }
    let mut cluster = Cluster { nodes, events };
    cluster.converge(SOON).await;
    let mut history = cluster.merge_events();

    for control in &controls {
        control.set_send_loss(0.10);
    }
    // Collect events for many protocol periods (a fixed duration, not a condition).
    let end = Instant::now() + Duration::from_millis(PERIODS * config.probe_interval);
    let (mut dead, mut suspect) = (Vec::new(), 0);
    while let Ok(Some((i, event))) = tokio::time::timeout_at(end, history.recv()).await {
        match event.kind() {
            EventKind::Dead | EventKind::Left => dead.push((i, event)),
            EventKind::Suspect => suspect += 1,
            _ => {}
        }
    }
    let dropped: u64 = controls.iter().map(|c| c.sent_dropped()).sum();
    let sent: u64 = cluster.nodes.iter().map(|n| n.stats().datagrams_out).sum();
    assert!(
        dropped > sent / 20,
        "the wrapper dropped {dropped} of {sent}"
    );
    assert!(dead.is_empty(), "false dead under 10% loss: {dead:#?}");
    eprintln!(
        "10% loss over {PERIODS} periods: {dropped}/{sent} datagrams dropped, {suspect} suspect events, no dead"
    );
    for control in &controls {
        control.set_send_loss(0.0);
    }
    cluster.converge(SOON).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_node_is_suspected_then_refutes_without_dying() {
    // Minimum suspicion 15 x 200 ms = 3 s, twice the pause: the suspicion must not end in death.
    let config = Config {
        suspicion_mult: 15,
        ..Config::local()
    };
    let pause = Duration::from_millis(8 * config.probe_interval);
    let mut cluster = Cluster::start(5, config.clone()).await;
    let mut history = cluster.merge_events();
    let paused = cluster.nodes[4].clone();
    let id = paused.id();
    let incarnation = paused.local_member().incarnation;

    paused.stall(pause).await.unwrap();
    let stalled_at = Instant::now();
    // Someone notices.
    let suspected = loop {
        let (i, event) = tokio::time::timeout(SOON, history.recv())
            .await
            .expect("nobody suspected the paused node")
            .unwrap();
        assert_ne!(event.kind(), EventKind::Dead, "{event:?}");
        if event.member.id == id && event.kind() == EventKind::Suspect {
            break i;
        }
    };
    assert!(
        stalled_at.elapsed() < pause + Duration::from_millis(config.probe_interval),
        "suspected only after the pause"
    );
    // On resume it refutes: everyone holds it alive at a higher incarnation.
    for (node, events) in cluster.nodes.iter().zip(&mut cluster.events) {
        wait_for(node, events, SOON, "the refutation", |n| {
            n.member(id)
                .is_some_and(|m| m.status == Status::Alive && m.incarnation > incarnation)
        })
        .await;
    }
    assert!(paused.stats().refutations >= 1);
    assert!(cluster.nodes[suspected].stats().suspicions_refuted >= 1);
    while let Ok((i, event)) = history.try_recv() {
        assert!(
            !matches!(event.kind(), EventKind::Dead | EventKind::Left),
            "node {i}: {event:?}"
        );
    }
    let ids = cluster.ids();
    for node in &cluster.nodes {
        assert!(sees_alive(node, &ids));
    }
}

/// Reports every dropped datagram.
struct Drops(mpsc::UnboundedSender<&'static str>);

impl Observer for Drops {
    fn on_drop(&self, _now: Millis, _from: SocketAddr, _len: usize, error: &DecodeError) {
        let _ = self.0.send(error.reason());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_datagrams_are_counted_and_ignored() {
    let config = Config {
        label: "blue".into(),
        ..Config::local()
    };
    let (tx, mut drops) = mpsc::unbounded_channel();
    let node = Node::builder(config.clone())
        .observer(Arc::new(Drops(tx)))
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let peer = Node::bind(config.clone(), "127.0.0.1:0").await.unwrap();
    let mut events = node.subscribe();
    peer.join([node.local_addr()]).await.unwrap();
    let ids: BTreeSet<NodeId> = [node.id(), peer.id()].into();
    wait_for(&node, &mut events, SOON, "the peer", |n| {
        sees_alive(n, &ids)
    })
    .await;
    let view_before: Vec<(NodeId, Status, u64)> = node
        .members()
        .iter()
        .map(|m| (m.id, m.status, m.incarnation))
        .collect();

    let wire = Wire::new(&config);
    let stranger = NodeId(0xdead_beef);
    let ping = Message {
        from: stranger,
        body: Body::Ping {
            seq: 1,
            target: node.id(),
        },
        gossip: vec![Member::alive(
            stranger,
            "127.0.0.1:9".parse().unwrap(),
            0,
            Meta::default(),
        )],
    };
    let valid = wire.encode(&ping).unwrap();
    let header = wire.header_len();

    let mut bad: Vec<(&str, Vec<u8>)> = Vec::new();
    bad.push(("bad_magic", b"GET / HTTP/1.1\r\n\r\n".to_vec()));
    bad.push(("truncated", b"SW".to_vec()));
    let mut huge = valid.clone();
    huge.resize(config.max_datagram * 3, 0);
    bad.push(("oversized", huge));
    let mut version = valid.clone();
    version[2] = 99;
    bad.push(("unsupported_version", version));
    let red = Wire::new(&Config {
        label: "red".into(),
        ..config.clone()
    });
    bad.push(("label_mismatch", red.encode(&ping).unwrap()));
    // Edits with the checksum recomputed, so that the edit is what is refused.
    let rechecked = |mut bytes: Vec<u8>| {
        bytes.extend_from_slice(&swim_checked::harness::core::codec::checksum(&bytes));
        bytes
    };
    let body_end = valid.len() - 4;
    let mut garbage = valid[..header + 1].to_vec();
    garbage.extend_from_slice(&[0xff; 16]);
    bad.push(("malformed", rechecked(garbage)));
    let mut trailing = valid[..body_end].to_vec();
    trailing.push(0);
    bad.push(("trailing_bytes", rechecked(trailing)));
    let mut corrupted = valid.clone();
    corrupted[header + 3] ^= 0x10;
    bad.push(("bad_checksum", corrupted));
    let mut kind = valid[..body_end].to_vec();
    kind[header] = 9;
    bad.push(("unknown_envelope", rechecked(kind)));
    let mut sealed = valid[..header].to_vec();
    sealed.push(swim_checked::harness::core::codec::KIND_SEALED);
    sealed.extend_from_slice(&[0x42; 64]);
    bad.push(("unauthenticated", sealed));
    let roomy = Wire::new(&Config {
        max_meta_bytes: 1_000,
        ..config.clone()
    });
    let fat_meta = Meta::from_pairs([("blob", "x".repeat(900))]);
    let invalid = Message {
        gossip: vec![Member::alive(
            stranger,
            "127.0.0.1:9".parse().unwrap(),
            0,
            fat_meta,
        )],
        ..ping.clone()
    };
    bad.push(("invalid", roomy.encode(&invalid).unwrap()));
    // Plus random bytes of many lengths: each is dropped for some reason.
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut random = Vec::new();
    for len in [0usize, 1, 3, 4, 5, 17, 64, 600, 1_399, 1_400, 1_401] {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        random.push(bytes);
    }

    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for (_, bytes) in &bad {
        socket.send_to(bytes, node.local_addr()).await.unwrap();
    }
    for bytes in &random {
        socket.send_to(bytes, node.local_addr()).await.unwrap();
    }
    let mut seen = Vec::new();
    for _ in 0..bad.len() + random.len() {
        let reason = tokio::time::timeout(SOON, drops.recv())
            .await
            .expect("every bad datagram is reported")
            .unwrap();
        seen.push(reason);
    }
    let stats = node.stats();
    for (reason, _) in &bad {
        assert!(
            stats.dropped.get(reason).unwrap() >= 1,
            "{reason} not counted: {:?}",
            stats.dropped
        );
    }
    assert_eq!(stats.dropped.total() as usize, bad.len() + random.len());
    assert_eq!(seen.len(), bad.len() + random.len());
    // The view did not change: the stranger never got in.
    assert!(node.member(stranger).is_none());
    let view_after: Vec<(NodeId, Status, u64)> = node
        .members()
        .iter()
        .map(|m| (m.id, m.status, m.incarnation))
        .collect();
    assert_eq!(view_before, view_after);
    // And the node still works: a valid datagram gets through.
    socket.send_to(&valid, node.local_addr()).await.unwrap();
    wait_for(&node, &mut events, SOON, "the stranger", |n| {
        n.member(stranger).is_some()
    })
    .await;
    assert!(node.is_running());
}
