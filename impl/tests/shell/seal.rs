//! Authenticated encryption on loopback: forged and corrupted datagrams change no view, keys
//! rotate under traffic without a drop, a plaintext cluster rolls out to `Require` without a
//! suspicion.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::Arc;

use chacha20poly1305::aead::AeadInPlace;
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use swim_checked::harness::core::codec::{NONCE_LEN, TAG_LEN};
use swim_checked::harness::{Body, DecodeError, Input, Message, Millis, Observer, Step, Wire};
use swim_checked::{
    Config, Encryption, Error, EventKind, Key, KeyError, Keyring, Member, MemberEvent, Meta, Node,
    NodeId, Status,
};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};

use crate::common::{Cluster, SOON, sees_alive};

/// Counts the datagrams that reached the core and reports every drop.
struct Tap {
    delivered: watch::Sender<u64>,
    drops: mpsc::UnboundedSender<&'static str>,
}

impl Observer for Tap {
    fn on_step(&self, step: &Step<'_>) {
        if let Input::Message { .. } = step.input {
            self.delivered.send_modify(|n| *n += 1);
        }
    }

    fn on_drop(&self, _now: Millis, _from: SocketAddr, _len: usize, error: &DecodeError) {
        let _ = self.drops.send(error.reason());
    }
}

/// A loopback cluster whose nodes are watched by a [`Tap`].
struct Sealed {
    cluster: Cluster,
    delivered: Vec<watch::Receiver<u64>>,
    drops: mpsc::UnboundedReceiver<&'static str>,
    events: mpsc::UnboundedReceiver<(usize, MemberEvent)>,
}

impl Sealed {
    async fn start(n: usize, keyring: Option<Keyring>) -> Sealed {
        let (drops_tx, drops) = mpsc::unbounded_channel();
        let mut nodes = Vec::new();
        let mut events = Vec::new();
        let mut delivered = Vec::new();
        for _ in 0..n {
            let (tx, rx) = watch::channel(0);
            let mut builder = Node::builder(Config::local()).observer(Arc::new(Tap {
                delivered: tx,
                drops: drops_tx.clone(),
            }));
            if let Some(ring) = &keyring {
                builder = builder.keyring(ring.clone());
            }
            let node = builder.bind("127.0.0.1:0").await.unwrap();
            events.push(node.subscribe());
            nodes.push(node);
            delivered.push(rx);
        }
        let seed = nodes[0].local_addr();
        for node in &nodes[1..] {
            node.join([seed]).await.expect("join");
        }
        let mut cluster = Cluster { nodes, events };
        cluster.converge(SOON).await;
        let events = cluster.merge_events();
        Sealed {
            cluster,
            delivered,
            drops,
            events,
        }
    }

    fn nodes(&self) -> &[Node] {
        &self.cluster.nodes
    }

    /// Wait until every node has handed `k` more datagrams to its core (traffic flowed under
    /// whatever was just changed).
    async fn traffic(&mut self, k: u64) {
        for rx in &mut self.delivered {
            let from = *rx.borrow_and_update();
            tokio::time::timeout(SOON, rx.wait_for(|&n| n >= from + k))
                .await
                .expect("traffic flows")
                .unwrap();
        }
    }

    /// Every (id, status, incarnation) of every node's view.
    fn views(&self) -> Vec<Vec<(NodeId, Status, u64)>> {
        self.nodes()
            .iter()
            .map(|n| {
                n.members()
                    .iter()
                    .map(|m| (m.id, m.status, m.incarnation))
                    .collect()
            })
            .collect()
    }

    /// Send `bytes` to `node` from a socket outside the cluster; the drop reason reported.
    async fn drop_reason_of(&mut self, node: &Node, bytes: &[u8]) -> Option<&'static str> {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        socket.send_to(bytes, node.local_addr()).await.unwrap();
        tokio::time::timeout(SOON, self.drops.recv()).await.unwrap()
    }

    /// No drop reported and no suspicion (or death) event so far.
    fn assert_quiet(&mut self) {
        if let Ok(reason) = self.drops.try_recv() {
            panic!("a datagram was dropped: {reason}");
        }
        while let Ok((i, event)) = self.events.try_recv() {
            assert!(
                !matches!(event.kind(), EventKind::Suspect | EventKind::Dead),
                "node {i}: {event:?}"
            );
        }
        for node in self.nodes() {
            let stats = node.stats();
            assert_eq!(stats.dropped.total(), 0, "{:?}", stats.dropped);
            assert_eq!(stats.suspicions_raised, 0);
        }
    }
}

/// A ping at `node` from an id outside the cluster.
fn outsider_ping(node: &Node) -> Message {
    Message {
        from: NodeId(9),
        body: Body::Ping {
            seq: 1,
            target: node.id(),
        },
        gossip: vec![],
    }
}

/// Seal `msg` as a node holding `key` would (an independent use of the cipher, checking the
/// layout too).
fn seal(wire: &Wire, key: &Key, msg: &Message, nonce_seed: u8) -> Vec<u8> {
    let cipher = XChaCha20Poly1305::new(key.as_bytes().into());
    let mut buf = Vec::new();
    wire.encode_sealed_into(
        msg,
        &[nonce_seed; NONCE_LEN],
        &mut buf,
        |aad, nonce, body| {
            let tag = cipher
                .encrypt_in_place_detached(XNonce::from_slice(nonce), aad, body)
                .unwrap();
            let mut out = [0u8; TAG_LEN];
            out.copy_from_slice(&tag);
            out
        },
    )
    .unwrap();
    buf
}

fn key(byte: u8) -> Key {
    Key::from_bytes([byte; 32])
}

/// Forged records about the cluster: the victim dead, suspect, or alive at a raised
/// incarnation, and a stranger alive.
fn forgeries(victim: &Member, target: NodeId) -> Vec<Message> {
    let stranger = NodeId(0x5eed);
    let mut dead = victim.clone();
    dead.status = Status::Dead;
    let mut suspect = victim.clone();
    suspect.status = Status::Suspect;
    suspect.suspecters = vec![stranger];
    let mut alive = victim.clone();
    alive.incarnation += 5;
    alive.meta = Meta::from_pairs([("owned", "yes")]);
    let intruder = Member::alive(stranger, "127.0.0.1:9".parse().unwrap(), 0, Meta::default());
    [dead, suspect, alive, intruder]
        .into_iter()
        .enumerate()
        .flat_map(|(i, record)| {
            [
                Message {
                    from: stranger,
                    body: Body::Ping {
                        seq: i as u32,
                        target,
                    },
                    gossip: vec![record.clone()],
                },
                Message {
                    from: stranger,
                    body: Body::Sync {
                        reply: false,
                        members: vec![record],
                    },
                    gossip: vec![],
                },
            ]
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_records_change_no_view() {
    let mut sealed = Sealed::start(3, Some(Keyring::new(key(1)))).await;
    let wire = Wire::new(&swim_checked::harness::core::Config::local());
    let before = sealed.views();
    let victim = sealed.nodes()[1].local_member();
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut sent = 0;
    for node in sealed.nodes() {
        for msg in forgeries(&victim, node.id()) {
            // Well-formed plaintext, and sealed with a key the cluster does not hold.
            for bytes in [wire.encode(&msg).unwrap(), seal(&wire, &key(2), &msg, 7)] {
                socket.send_to(&bytes, node.local_addr()).await.unwrap();
                sent += 1;
            }
        }
    }
    let mut seen = Vec::new();
    while seen.len() < sent {
        let reason = tokio::time::timeout(SOON, sealed.drops.recv())
            .await
            .expect("every forgery is reported")
            .unwrap();
        seen.push(reason);
    }
    assert_eq!(seen.len(), sent);
    let mut plaintext = 0;
    let mut unauthenticated = 0;
    for node in sealed.nodes() {
        let stats = node.stats();
        plaintext += stats.dropped.plaintext_refused;
        unauthenticated += stats.dropped.unauthenticated;
        assert_eq!(
            stats.dropped.total(),
            stats.dropped.plaintext_refused + stats.dropped.unauthenticated
        );
    }
    assert_eq!(
        (plaintext, unauthenticated),
        (sent as u64 / 2, sent as u64 / 2)
    );
    // Genuine traffic goes on; no view changed (incarnations included).
    sealed.traffic(4).await;
    assert_eq!(sealed.views(), before);
    let ids = sealed.cluster.ids();
    for node in sealed.nodes() {
        assert!(sees_alive(node, &ids));
        assert!(node.member(NodeId(0x5eed)).is_none());
    }
    if let Ok((i, event)) = sealed.events.try_recv() {
        panic!("node {i}: unexpected event {event:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_bit_flip_of_a_sealed_datagram_gets_in() {
    let mut sealed = Sealed::start(2, Some(Keyring::new(key(1)))).await;
    let wire = Wire::new(&swim_checked::harness::core::Config::local());
    let before = sealed.views();
    let node = sealed.nodes()[0].clone();
    let victim = sealed.nodes()[1].local_member();
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let genuine = seal(&wire, &key(1), &forgeries(&victim, node.id())[0], 3);
    for bit in 0..genuine.len() * 8 {
        let mut flipped = genuine.clone();
        flipped[bit / 8] ^= 1 << (bit % 8);
        socket.send_to(&flipped, node.local_addr()).await.unwrap();
        // One at a time: the socket buffer never overflows.
        let reason = tokio::time::timeout(SOON, sealed.drops.recv())
            .await
            .expect("every flipped datagram is dropped")
            .unwrap();
        assert_ne!(reason, "", "bit {bit}");
    }
    assert_eq!(node.stats().dropped.total(), genuine.len() as u64 * 8);
    sealed.traffic(2).await;
    assert_eq!(sealed.views(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_rotate_under_traffic_without_a_drop() {
    let (old, new) = (key(1), key(2));
    let mut sealed = Sealed::start(3, Some(Keyring::new(old.clone()))).await;
    sealed.traffic(6).await;
    for node in sealed.nodes() {
        node.install_key(new.clone()).unwrap();
        assert_eq!(node.keys(), [old.clone(), new.clone()]);
    }
    sealed.traffic(6).await;
    for node in sealed.nodes() {
        node.use_key(&new).unwrap();
        assert_eq!(node.keys()[0], new);
    }
    sealed.traffic(6).await;
    for node in sealed.nodes() {
        node.remove_key(&old).unwrap();
        assert_eq!(node.keys(), std::slice::from_ref(&new));
    }
    sealed.traffic(6).await;
    sealed.assert_quiet();
    // The old key opens nothing any more.
    let wire = Wire::new(&swim_checked::harness::core::Config::local());
    let node = sealed.nodes()[0].clone();
    let bytes = seal(&wire, &old, &outsider_ping(&node), 1);
    let reason = sealed.drop_reason_of(&node, &bytes).await;
    assert_eq!(reason, Some("unauthenticated"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plaintext_cluster_rolls_out_to_require_without_suspicion() {
    let k = key(7);
    let mut sealed = Sealed::start(3, None).await;
    sealed.traffic(4).await;
    for step in [Encryption::Accept, Encryption::Send, Encryption::Require] {
        // Member by member, with traffic in between.
        for i in 0..sealed.nodes().len() {
            let node = sealed.nodes()[i].clone();
            if step == Encryption::Accept {
                node.install_key(k.clone()).unwrap();
            }
            node.set_encryption(step).unwrap();
            assert_eq!(node.encryption(), step);
            sealed.traffic(3).await;
        }
    }
    sealed.assert_quiet();
    // Plaintext is refused now.
    let wire = Wire::new(&swim_checked::harness::core::Config::local());
    let node = sealed.nodes()[2].clone();
    let bytes = wire.encode(&outsider_ping(&node)).unwrap();
    let reason = sealed.drop_reason_of(&node, &bytes).await;
    assert_eq!(reason, Some("plaintext_refused"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_errors_are_clear() {
    // A mode that needs a key, without one.
    let err = Node::builder(Config::local())
        .encryption(Encryption::Require)
        .bind("127.0.0.1:0")
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Key(KeyError::NoKey(Encryption::Require))),
        "{err}"
    );
    let node = Node::bind(Config::local(), "127.0.0.1:0").await.unwrap();
    assert_eq!(node.encryption(), Encryption::Off);
    assert!(node.keys().is_empty());
    assert!(matches!(
        node.set_encryption(Encryption::Send),
        Err(Error::Key(KeyError::NoKey(Encryption::Send)))
    ));
    assert!(matches!(
        node.use_key(&key(1)),
        Err(Error::Key(KeyError::UnknownKey))
    ));
    node.install_key(key(1)).unwrap();
    assert_eq!(node.encryption(), Encryption::Off);
    let err = node.remove_key(&key(1)).unwrap_err();
    assert!(matches!(err, Error::Key(KeyError::PrimaryKey)));
    assert!(
        err.to_string().contains("primary key cannot be removed"),
        "{err}"
    );
    node.shutdown().await.unwrap();

    // A keyring alone means `Require`; Debug shows no key bytes.
    let builder = Node::builder(Config::local()).keyring(Keyring::new(key(0x41)));
    let shown = format!("{builder:?}");
    assert!(!shown.contains("65,") && !shown.contains("0x41"), "{shown}");
    let node = builder.bind("127.0.0.1:0").await.unwrap();
    assert_eq!(node.encryption(), Encryption::Require);
    assert_eq!(format!("{:?}", node.keys()), "[Key(<redacted>)]");
    node.shutdown().await.unwrap();
}

/// A node without a key and one with it do not hear each other (nor does `Off` open sealed
/// datagrams): the join times out, with the drops counted on both sides.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mismatched_modes_do_not_talk() {
    let config = Config {
        join_attempts: 2,
        ..Config::local()
    };
    let open = Node::bind(config.clone(), "127.0.0.1:0").await.unwrap();
    let closed = Node::builder(config)
        .keyring(Keyring::new(key(3)))
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let err = closed.join([open.local_addr()]).await.unwrap_err();
    assert!(matches!(err, Error::Join(_)), "{err}");
    assert!(open.stats().dropped.unauthenticated >= 1);
    let ids: BTreeSet<NodeId> = [open.id()].into();
    assert!(sees_alive(&open, &ids));
    open.shutdown().await.unwrap();
    closed.shutdown().await.unwrap();
}
