//! The hostile-input lab: a small real cluster on loopback whose genuine datagrams are
//! recorded, a generator of hostile datagrams by class, and a sender with flow control.
//!
//! Shared by the campaign (`main.rs` beside this file) and its CI-sized test
//! (`impl/tests/shell/hostile.rs`, which includes this file by path), so both attack the node
//! the same way.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use chacha20poly1305::aead::AeadInPlace;
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use swim_checked::harness::core::Config;
use swim_checked::harness::core::Envelope;
use swim_checked::harness::core::codec::{NONCE_LEN, TAG_LEN, VERSION};
use swim_checked::harness::{
    Body, DecodeError, Input, Message, Millis, Observer, RngPicker, Step, Transport, UdpTransport,
    Wire,
};
use swim_checked::{KEY_LEN, Key, Keyring, Member, Meta, Node, NodeId, Stats, Status};

/// Receive buffer of the victim's socket: deep enough that the sender's window never
/// overflows it (the kernel caps it at `net.core.rmem_max`).
pub const VICTIM_RCVBUF: usize = 4 << 20;

/// What an attacker sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    /// Random bytes of random lengths (0 to 2x `max_datagram`); half of them behind a valid
    /// header, so that the body decoder sees them.
    Random,
    /// Genuine datagrams with 1 to 4 mutations (bit flips, truncation, extension, byte swaps,
    /// boundary bytes, varint blow-ups); mutations that still decode are regenerated.
    Mutated,
    /// Genuine messages under another cluster label.
    WrongLabel,
    /// Genuine datagrams with another protocol version byte.
    WrongVersion,
    /// Genuine datagrams, verbatim: well-formed, processed, and must not change a view.
    Replay,
    /// Well-formed messages with forged records: `dead`, `suspect`, `alive` (at a higher
    /// incarnation, another address) about live members, `alive` for unknown ids.
    Forged,
    /// Genuine messages sealed with a key the cluster does not hold.
    WrongKey,
}

/// What the node must do with a class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// Drop every datagram (counted in `Stats::dropped`), change no view.
    Dropped,
    /// Process every datagram, change no view.
    Processed,
    /// Known to change views (plaintext cluster): reported, not asserted.
    Vulnerable,
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Expect::Dropped => "dropped",
            Expect::Processed => "processed",
            Expect::Vulnerable => "expected-vulnerable",
        })
    }
}

impl Class {
    /// Every class, in campaign order (forgeries last: without a key they wreck the view).
    pub const ALL: [Class; 7] = [
        Class::Random,
        Class::Mutated,
        Class::WrongLabel,
        Class::WrongVersion,
        Class::Replay,
        Class::WrongKey,
        Class::Forged,
    ];

    /// Short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Class::Random => "random",
            Class::Mutated => "mutated",
            Class::WrongLabel => "wrong_label",
            Class::WrongVersion => "wrong_version",
            Class::Replay => "replay",
            Class::Forged => "forged_record",
            Class::WrongKey => "wrong_key",
        }
    }

    /// What the node must do with this class, with or without a key.
    pub fn expect(self, keyed: bool) -> Expect {
        match self {
            Class::Random | Class::Mutated | Class::WrongLabel | Class::WrongVersion => {
                Expect::Dropped
            }
            Class::Replay => Expect::Processed,
            Class::Forged if keyed => Expect::Dropped,
            Class::Forged => Expect::Vulnerable,
            // Sealed under a key the node does not hold; without a key, any sealed datagram.
            Class::WrongKey => Expect::Dropped,
        }
    }

    /// The one drop reason every datagram of this class must be counted under, when there is
    /// one (random and mutated datagrams fail in many ways).
    pub fn reason(self, keyed: bool) -> Option<&'static str> {
        match self {
            Class::WrongLabel => Some("label_mismatch"),
            Class::WrongVersion => Some("unsupported_version"),
            Class::WrongKey => Some("unauthenticated"),
            Class::Forged if keyed => Some("plaintext_refused"),
            _ => None,
        }
    }
}

/// The cluster key of a keyed lab, derived from the seed (reproducible runs).
pub fn lab_key(seed: u64) -> [u8; KEY_LEN] {
    let mut key = [0u8; KEY_LEN];
    StdRng::seed_from_u64(seed ^ 0x6b65_795f_6c61_625f).fill_bytes(&mut key);
    key
}

/// A key the cluster does not hold (for [`Class::WrongKey`]), derived from the seed.
pub fn wrong_key(seed: u64) -> [u8; KEY_LEN] {
    let mut key = [0u8; KEY_LEN];
    StdRng::seed_from_u64(seed ^ 0x7772_6f6e_675f_6b79).fill_bytes(&mut key);
    if key == lab_key(seed) {
        key[0] ^= 1;
    }
    key
}

/// Run the node with the cluster key (the keyring's default mode, `Encryption::Require`:
/// seal everything, accept only what the key opens), or in plaintext without one.
pub fn keyed(builder: swim_checked::Builder, key: Option<&[u8; KEY_LEN]>) -> swim_checked::Builder {
    match key {
        Some(key) => builder.keyring(Keyring::new(Key::from_bytes(*key))),
        None => builder,
    }
}

/// The lab's codec: the wire format plus the cluster key if there is one. Encodes as a node of
/// the cluster does (sealed under the key, or plaintext) and decodes as the victim does
/// (`Encryption::Require` with a key: plaintext refused, sealed opened with the key; without a
/// key: plaintext only), the same steps as the library's `seal::Codec`.
#[derive(Clone)]
pub struct Sealer {
    wire: Wire,
    cipher: Option<XChaCha20Poly1305>,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealer")
            .field("keyed", &self.cipher.is_some())
            .finish_non_exhaustive()
    }
}

impl Sealer {
    pub fn new(config: &Config, key: Option<&[u8; KEY_LEN]>) -> Sealer {
        Sealer {
            wire: Wire::new(config),
            cipher: key.map(|k| XChaCha20Poly1305::new(k.into())),
        }
    }

    /// The same key under another wire format (another label).
    pub fn with_wire(&self, wire: Wire) -> Sealer {
        Sealer {
            wire,
            cipher: self.cipher.clone(),
        }
    }

    pub fn keyed(&self) -> bool {
        self.cipher.is_some()
    }

    pub fn wire(&self) -> &Wire {
        &self.wire
    }

    /// Encode `msg` into `out` as a cluster member would: sealed under the key with `nonce`,
    /// or plaintext without a key.
    pub fn encode_into(
        &self,
        msg: &Message,
        nonce: &[u8; NONCE_LEN],
        out: &mut Vec<u8>,
    ) -> Result<(), swim_checked::harness::core::EncodeError> {
        match &self.cipher {
            Some(cipher) => seal_into(&self.wire, cipher, msg, nonce, out),
            None => self.wire.encode_into(msg, out),
        }
    }

    /// Decode a datagram as the victim does.
    pub fn decode(&self, bytes: &[u8]) -> Result<Message, DecodeError> {
        let layout = match self.wire.open(bytes)? {
            Envelope::Plain { body } => {
                if self.cipher.is_some() {
                    return Err(DecodeError::PlaintextRefused);
                }
                return self.wire.decode_body(body);
            }
            Envelope::Sealed(layout) => layout,
        };
        let Some(cipher) = &self.cipher else {
            return Err(DecodeError::Unauthenticated);
        };
        let mut body = bytes[layout.ciphertext.clone()].to_vec();
        let nonce = XNonce::from_slice(&bytes[layout.nonce]);
        let tag = chacha20poly1305::Tag::from_slice(&bytes[layout.tag]);
        cipher
            .decrypt_in_place_detached(nonce, &bytes[layout.aad], &mut body, tag)
            .map_err(|_| DecodeError::Unauthenticated)?;
        self.wire.decode_body(&body)
    }
}

/// Seal `msg` under `cipher` with `nonce` into `out` (as `seal::Codec::encode_into` does).
fn seal_into(
    wire: &Wire,
    cipher: &XChaCha20Poly1305,
    msg: &Message,
    nonce: &[u8; NONCE_LEN],
    out: &mut Vec<u8>,
) -> Result<(), swim_checked::harness::core::EncodeError> {
    wire.encode_sealed_into(msg, nonce, out, |aad, nonce, body| {
        let tag = cipher
            .encrypt_in_place_detached(XNonce::from_slice(nonce), aad, body)
            .expect("a datagram is far below the cipher's length limit");
        let mut tag_bytes = [0u8; TAG_LEN];
        tag_bytes.copy_from_slice(&tag);
        tag_bytes
    })
}

// ----- the lab cluster -----

/// A transport that records what the node sends (while recording is on, up to a cap).
pub struct Capture<T> {
    inner: T,
    log: Arc<Recorder>,
}

/// The datagrams recorded by [`Capture`] transports.
#[derive(Debug, Default)]
pub struct Recorder {
    on: AtomicBool,
    cap: usize,
    datagrams: Mutex<Vec<Vec<u8>>>,
}

impl Recorder {
    pub fn new(cap: usize) -> Arc<Recorder> {
        Arc::new(Recorder {
            on: AtomicBool::new(true),
            cap,
            datagrams: Mutex::default(),
        })
    }

    pub fn len(&self) -> usize {
        self.datagrams.lock().unwrap().len()
    }

    /// Stop recording and hand over what was recorded.
    pub fn take(&self) -> Vec<Vec<u8>> {
        self.on.store(false, Ordering::Relaxed);
        std::mem::take(&mut *self.datagrams.lock().unwrap())
    }
}

impl<T: Transport> Transport for Capture<T> {
    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    fn poll_recv(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        self.inner.poll_recv(cx, buf)
    }

    fn send(&mut self, datagram: &[u8], to: SocketAddr) -> io::Result<()> {
        if self.log.on.load(Ordering::Relaxed) {
            let mut log = self.log.datagrams.lock().unwrap();
            if log.len() < self.log.cap {
                log.push(datagram.to_vec());
            }
        }
        self.inner.send(datagram, to)
    }
}

/// Counts what the victim did with the attacker's datagrams (lock-free: the sender polls it
/// for flow control).
#[derive(Debug)]
pub struct Tally {
    attacker: SocketAddr,
    processed: AtomicU64,
    dropped: AtomicU64,
}

impl Tally {
    pub fn new(attacker: SocketAddr) -> Arc<Tally> {
        Arc::new(Tally {
            attacker,
            processed: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        })
    }

    /// Attacker datagrams decoded and fed to the core.
    pub fn processed(&self) -> u64 {
        self.processed.load(Ordering::Relaxed)
    }

    /// Attacker datagrams dropped before the core.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Attacker datagrams the victim has handled either way.
    pub fn handled(&self) -> u64 {
        self.processed() + self.dropped()
    }
}

impl Observer for Tally {
    fn on_step(&self, step: &Step<'_>) {
        if let Input::Message { from, .. } = step.input
            && from == self.attacker
        {
            self.processed.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn on_drop(&self, _now: Millis, from: SocketAddr, _len: usize, _error: &DecodeError) {
        if from == self.attacker {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A cluster on loopback: node 0 is the victim, every node's sends are recorded, and the
/// attacker's socket is bound.
pub struct Lab {
    pub config: Config,
    /// The cluster key (`None`: the cluster runs in plaintext).
    pub key: Option<[u8; KEY_LEN]>,
    pub seed: u64,
    pub nodes: Vec<Node>,
    pub recorder: Arc<Recorder>,
    pub tally: Arc<Tally>,
    pub attacker: UdpSocket,
}

impl Lab {
    /// Start `members` nodes (ids from `seed`), join them through the victim, wait until every
    /// node holds all alive, then until at least `genuine` datagrams were recorded. With
    /// `keyed`, every node holds the key [`lab_key`]`(seed)` (and so seals everything).
    pub async fn start(
        config: Config,
        members: usize,
        seed: u64,
        genuine: usize,
        with_key: bool,
    ) -> Lab {
        let key = with_key.then(|| lab_key(seed));
        assert!(
            members >= 2,
            "a lab needs the victim and at least one other member"
        );
        let attacker = UdpSocket::bind("127.0.0.1:0").expect("attacker socket");
        let tally = Tally::new(attacker.local_addr().unwrap());
        let recorder = Recorder::new(genuine.max(1) * 4);
        let mut nodes = Vec::with_capacity(members);
        for i in 0..members {
            let socket = if i == 0 {
                victim_socket().expect("victim socket")
            } else {
                tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap()
            };
            let transport = Capture {
                inner: UdpTransport::from_socket(socket),
                log: recorder.clone(),
            };
            let mut builder = keyed(Node::builder(config.clone()), key.as_ref())
                .picker(RngPicker::seeded(seed.wrapping_add(i as u64)));
            if i == 0 {
                builder = builder.observer(tally.clone());
            }
            nodes.push(builder.start(transport).expect("node starts"));
        }
        attacker
            .connect(nodes[0].local_addr())
            .expect("attacker connects");
        let seed_addr = nodes[0].local_addr();
        for node in &nodes[1..] {
            node.join([seed_addr]).await.expect("join");
        }
        let lab = Lab {
            config,
            key,
            seed,
            nodes,
            recorder,
            tally,
            attacker,
        };
        let within = Duration::from_secs(30);
        poll_until(within, "convergence", || lab.all_alive()).await;
        poll_until(within, "genuine traffic", || lab.recorder.len() >= genuine).await;
        lab
    }

    pub fn victim(&self) -> &Node {
        &self.nodes[0]
    }

    /// Whether the cluster runs with a key.
    pub fn keyed(&self) -> bool {
        self.key.is_some()
    }

    /// Encodes and decodes as a member of this cluster.
    pub fn sealer(&self) -> Sealer {
        Sealer::new(&self.config, self.key.as_ref())
    }

    /// Whether every node holds every node alive (and nothing else).
    pub fn all_alive(&self) -> bool {
        let mut ids: Vec<NodeId> = self.nodes.iter().map(|n| n.id()).collect();
        ids.sort();
        self.nodes.iter().all(|node| {
            let members = node.members();
            let mut alive: Vec<NodeId> = members
                .iter()
                .filter(|m| m.status == Status::Alive)
                .map(|m| m.id)
                .collect();
            alive.sort();
            alive == ids && members.len() == ids.len()
        })
    }

    /// Every node's counters.
    pub fn stats(&self) -> Vec<Stats> {
        self.nodes.iter().map(|n| n.stats()).collect()
    }

    /// The generator, over what the cluster sent so far (recording stops).
    pub fn hostile(&self, seed: u64) -> Hostile {
        let live: Vec<Member> = self.victim().members();
        Hostile::new(
            seed,
            &self.config,
            self.sealer(),
            wrong_key(self.seed),
            self.recorder.take(),
            live,
            self.victim().id(),
        )
    }

    pub async fn shutdown(self) {
        for node in &self.nodes {
            let _ = node.shutdown().await;
        }
    }
}

/// The victim's socket, with a deep receive buffer.
fn victim_socket() -> io::Result<tokio::net::UdpSocket> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None)?;
    socket.set_recv_buffer_size(VICTIM_RCVBUF)?;
    socket.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())?;
    socket.set_nonblocking(true)?;
    tokio::net::UdpSocket::from_std(socket.into())
}

/// Poll `cond` every 10 ms until it holds; panic after `within`.
pub async fn poll_until(within: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Whether the node at `addr` answers a ping for `id` within `within` (from a fresh socket;
/// the ping is encoded, and the ack decoded, with `sealer`: with the cluster key if any).
pub fn answers_ping(sealer: &Sealer, addr: SocketAddr, id: NodeId, within: Duration) -> bool {
    let mut rng = StdRng::seed_from_u64(id.0 ^ 0x0b5e_47e5);
    let socket = UdpSocket::bind("127.0.0.1:0").expect("probe socket");
    socket.connect(addr).unwrap();
    let seq = 0x5eed_0001;
    let ping = Message {
        from: NodeId(0x0b5e_47e5),
        body: Body::Ping { seq, target: id },
        gossip: Vec::new(),
    };
    let deadline = Instant::now() + within;
    let mut buf = vec![0; 65_536];
    let mut next_ping = Instant::now();
    while Instant::now() < deadline {
        if Instant::now() >= next_ping {
            let mut nonce = [0u8; NONCE_LEN];
            rng.fill_bytes(&mut nonce);
            let mut datagram = Vec::new();
            sealer.encode_into(&ping, &nonce, &mut datagram).unwrap();
            socket.send(&datagram).unwrap();
            next_ping = Instant::now() + Duration::from_millis(500);
        }
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        if let Ok(n) = socket.recv(&mut buf)
            && let Ok(msg) = sealer.decode(&buf[..n])
            && msg.from == id
            && msg.body == (Body::Ack { seq })
        {
            return true;
        }
    }
    false
}

// ----- the generator -----

/// Generates hostile datagrams of each class from the genuine ones, reproducibly from a seed.
pub struct Hostile {
    rng: StdRng,
    config: Config,
    /// The cluster's codec (with its key, if any).
    sealer: Sealer,
    /// The same key under other labels.
    others: Vec<Sealer>,
    /// A key the cluster does not hold.
    wrong: XChaCha20Poly1305,
    genuine: Vec<Vec<u8>>,
    messages: Vec<Message>,
    live: Vec<Member>,
    victim: NodeId,
    /// Random or mutated datagrams that still decoded (regenerated, never sent).
    pub still_valid: u64,
}

impl fmt::Debug for Hostile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hostile")
            .field("genuine", &self.genuine.len())
            .field("live", &self.live.len())
            .finish()
    }
}

impl Hostile {
    /// A generator over `genuine` datagrams (those that `sealer` decodes, i.e. opens with the
    /// cluster key if there is one, are kept) of a cluster whose live members are `live`.
    pub fn new(
        seed: u64,
        config: &Config,
        sealer: Sealer,
        wrong: [u8; KEY_LEN],
        genuine: Vec<Vec<u8>>,
        live: Vec<Member>,
        victim: NodeId,
    ) -> Hostile {
        let mut kept = Vec::new();
        let mut messages = Vec::new();
        for datagram in genuine {
            if let Ok(msg) = sealer.decode(&datagram) {
                kept.push(datagram);
                messages.push(msg);
            }
        }
        assert!(!kept.is_empty(), "no genuine datagram recorded");
        let others = ["other", "x", "swim-checked-prod-eu-west-1", "\u{0}"]
            .into_iter()
            .filter(|label| *label != config.label)
            .map(|label| {
                sealer.with_wire(Wire::new(&Config {
                    label: label.into(),
                    ..config.clone()
                }))
            })
            .collect();
        Hostile {
            rng: StdRng::seed_from_u64(seed),
            config: config.clone(),
            sealer,
            others,
            wrong: XChaCha20Poly1305::new((&wrong).into()),
            genuine: kept,
            messages,
            live,
            victim,
            still_valid: 0,
        }
    }

    /// Genuine datagrams the generator works from.
    pub fn genuine(&self) -> usize {
        self.genuine.len()
    }

    /// Genuine datagrams by message kind.
    pub fn genuine_kinds(&self) -> BTreeMap<&'static str, usize> {
        let mut kinds = BTreeMap::new();
        for msg in &self.messages {
            *kinds.entry(msg.body.kind()).or_default() += 1;
        }
        kinds
    }

    /// The next datagram of `class` into `out` (cleared first).
    pub fn fill(&mut self, class: Class, out: &mut Vec<u8>) {
        loop {
            out.clear();
            match class {
                Class::Random => self.random(out),
                Class::Mutated => self.mutated(out),
                Class::WrongLabel => self.wrong_label(out),
                Class::WrongVersion => self.wrong_version(out),
                Class::Replay => {
                    let i = self.rng.random_range(0..self.genuine.len());
                    out.extend_from_slice(&self.genuine[i]);
                }
                Class::Forged => self.forged(out),
                Class::WrongKey => self.wrong_key(out),
            }
            let must_fail = matches!(class, Class::Random | Class::Mutated);
            if must_fail && self.sealer.decode(out).is_ok() {
                self.still_valid += 1;
                continue;
            }
            return;
        }
    }

    fn random(&mut self, out: &mut Vec<u8>) {
        let len = self.rng.random_range(0..=2 * self.config.max_datagram);
        out.resize(len, 0);
        self.rng.fill_bytes(out);
        let header = self.sealer.wire().header_len();
        if len >= header && self.rng.random_bool(0.5) {
            out[..header].copy_from_slice(&self.genuine[0][..header]);
        }
    }

    fn mutated(&mut self, out: &mut Vec<u8>) {
        let i = self.rng.random_range(0..self.genuine.len());
        out.extend_from_slice(&self.genuine[i]);
        let rng = &mut self.rng;
        for _ in 0..rng.random_range(1..=4) {
            let len = out.len();
            match rng.random_range(0..6) {
                0 if len > 0 => out[rng.random_range(0..len)] ^= 1 << rng.random_range(0..8),
                1 if len > 0 => out.truncate(rng.random_range(0..len)),
                2 => {
                    for _ in 0..rng.random_range(1..=64) {
                        out.push(rng.random());
                    }
                }
                3 if len > 1 => out.swap(rng.random_range(0..len), rng.random_range(0..len)),
                4 if len > 0 => {
                    const BOUNDARY: [u8; 6] = [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff];
                    out[rng.random_range(0..len)] = BOUNDARY[rng.random_range(0..BOUNDARY.len())];
                }
                _ => {
                    // A run of continuation bytes: a varint (length, id, incarnation) overflow.
                    let at = rng.random_range(0..=len);
                    let run = rng.random_range(1..=12);
                    out.splice(at..at, std::iter::repeat_n(0xff, run));
                }
            }
        }
    }

    fn nonce(&mut self) -> [u8; NONCE_LEN] {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng.fill_bytes(&mut nonce);
        nonce
    }

    /// A genuine message encoded (sealed under the cluster key, if any) under another label.
    fn wrong_label(&mut self, out: &mut Vec<u8>) {
        let nonce = self.nonce();
        let msg = &self.messages[self.rng.random_range(0..self.messages.len())];
        let other = &self.others[self.rng.random_range(0..self.others.len())];
        match other.encode_into(msg, &nonce, out) {
            Ok(()) => {}
            // Too large under the longer label: the genuine datagram with the label patched.
            Err(_) => {
                out.clear();
                out.extend_from_slice(&self.genuine[0]);
                out[4] ^= 0x20;
            }
        }
    }

    fn wrong_version(&mut self, out: &mut Vec<u8>) {
        let i = self.rng.random_range(0..self.genuine.len());
        out.extend_from_slice(&self.genuine[i]);
        let mut version = self.rng.random::<u8>();
        if version == VERSION {
            version = VERSION.wrapping_add(1);
        }
        out[2] = version;
    }

    /// A well-formed plaintext ping at the victim whose gossip carries one forged record (an
    /// attacker without the key can only send plaintext, or [`Class::WrongKey`]).
    fn forged(&mut self, out: &mut Vec<u8>) {
        let rng = &mut self.rng;
        let subject = &self.live[rng.random_range(0..self.live.len())];
        let record = match rng.random_range(0..4) {
            0 => subject.with_status(Status::Dead, subject.incarnation),
            1 => subject.with_status(Status::Suspect, subject.incarnation),
            2 => {
                let mut hijack = subject.with_status(Status::Alive, subject.incarnation + 1);
                hijack.addr = "127.0.0.1:9".parse().unwrap();
                hijack
            }
            _ => Member::alive(
                NodeId(rng.random()),
                "127.0.0.1:9".parse().unwrap(),
                0,
                Meta::default(),
            ),
        };
        let impersonated = self.live[rng.random_range(0..self.live.len())].id;
        let msg = Message {
            from: impersonated,
            body: Body::Ping {
                seq: rng.random(),
                target: self.victim,
            },
            gossip: vec![record],
        };
        self.sealer
            .wire()
            .encode_into(&msg, out)
            .expect("a forged ping fits");
    }

    /// A genuine message sealed with a key the cluster does not hold (without a key: any
    /// sealed datagram).
    fn wrong_key(&mut self, out: &mut Vec<u8>) {
        let nonce = self.nonce();
        let msg = &self.messages[self.rng.random_range(0..self.messages.len())];
        seal_into(self.sealer.wire(), &self.wrong, msg, &nonce, out)
            .expect("a genuine message fits sealed");
    }
}

// ----- the sender -----

/// Why a class was not sent completely.
#[derive(Debug)]
pub enum SendError {
    /// The socket refused a datagram.
    Io(io::Error),
    /// The victim handled nothing for this long with datagrams outstanding (lost or stuck).
    Stalled { sent: u64, handled: u64 },
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Io(e) => write!(f, "send failed: {e}"),
            SendError::Stalled { sent, handled } => {
                write!(f, "victim stalled: {handled} of {sent} handled")
            }
        }
    }
}

/// How long the victim may make no progress with datagrams outstanding.
pub const STALL: Duration = Duration::from_secs(30);

/// Send `n` datagrams of `class` at the victim, never more than `window` ahead of what it has
/// handled (so the socket never overflows: no datagram is lost), then wait until it has
/// handled them all. `sent` is the attacker's running total. Blocking: call it off the
/// runtime's worker threads.
pub fn attack(
    lab_socket: &UdpSocket,
    tally: &Tally,
    hostile: &mut Hostile,
    class: Class,
    n: u64,
    window: u64,
    sent: &mut u64,
) -> Result<(), SendError> {
    let mut buf = Vec::with_capacity(4 * 65_536);
    for _ in 0..n {
        hostile.fill(class, &mut buf);
        wait_handled(tally, *sent + 1 - window.min(*sent + 1), *sent)?;
        lab_socket.send(&buf).map_err(SendError::Io)?;
        *sent += 1;
    }
    wait_handled(tally, *sent, *sent)
}

/// Wait until the victim has handled at least `target` attacker datagrams (of `sent`).
fn wait_handled(tally: &Tally, target: u64, sent: u64) -> Result<(), SendError> {
    let mut handled = tally.handled();
    if handled >= target {
        return Ok(());
    }
    let mut last_progress = Instant::now();
    let mut spins = 0u32;
    loop {
        let now = tally.handled();
        if now >= target {
            return Ok(());
        }
        if now != handled {
            handled = now;
            last_progress = Instant::now();
        } else if last_progress.elapsed() > STALL {
            return Err(SendError::Stalled { sent, handled });
        }
        spins += 1;
        if spins < 64 {
            std::hint::spin_loop();
        } else if spins < 256 {
            std::thread::yield_now();
        } else {
            std::thread::sleep(Duration::from_micros(50));
        }
    }
}
