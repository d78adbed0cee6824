//! Property tests: the merge is a join-semilattice, the codec round-trips and never panics, the
//! dissemination queue behaves like its simple specification, and one node under random inputs
//! keeps its invariants.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use crate::common::{Rng, *};
use proptest::prelude::*;
use swim_checked_core::codec::encoded_len;
use swim_checked_core::gossip::{Budget, Gossip};
use swim_checked_core::health::Health;
use swim_checked_core::member::Name;
use swim_checked_core::status::{join, merge, precedence};
use swim_checked_core::suspicion::Bounds;
use swim_checked_core::{
    Body, Command, Config, Effect, Member, Merge, Message, Meta, NodeId, Phase, Status, Timer, Wire,
};

const CAP: usize = 3;

fn cases(n: u32) -> ProptestConfig {
    proptest_config(n)
}

// ----- the lattice -----

fn status() -> impl Strategy<Value = Status> {
    prop_oneof![
        Just(Status::Alive),
        Just(Status::Suspect),
        Just(Status::Unreachable),
        Just(Status::Dead),
        Just(Status::Left),
    ]
}

/// Metadata is payload of an incarnation: a function of it (never empty, so that terminal
/// records carry theirs too).
fn meta_of(inc: u64) -> Meta {
    Meta::from_pairs([("inc", inc.to_string())])
}

/// A well-formed record about member 7: suspecters sorted, capped, and only on a suspect.
fn record_about_7() -> impl Strategy<Value = Member> {
    (
        0..3u64,
        0..4u64,
        status(),
        proptest::collection::btree_set(1..7u64, 0..5),
    )
        .prop_map(|(generation, inc, status, by)| {
            // A new generation may listen elsewhere; within one, the address is fixed.
            let at = addr(7 + 10 * generation);
            let mut m = Member::alive(id(7), at, inc, meta_of(inc))
                .at_generation(generation)
                .with_status(status, inc);
            if status == Status::Suspect {
                m.suspecters = by.into_iter().take(CAP).map(NodeId).collect();
            }
            m
        })
}

/// `x <= y` in the lattice: joining `x` into `y` adds nothing.
fn le(x: &Member, y: &Member) -> bool {
    lattice(&join(y, x, CAP)) == lattice(y)
}

proptest! {
    #![proptest_config(cases(512))]

    #[test]
    fn merge_is_commutative(a in record_about_7(), b in record_about_7()) {
        prop_assert_eq!(join(&a, &b, CAP), join(&b, &a, CAP));
    }

    #[test]
    fn merge_is_associative(a in record_about_7(), b in record_about_7(), c in record_about_7()) {
        let left = join(&join(&a, &b, CAP), &c, CAP);
        let right = join(&a, &join(&b, &c, CAP), CAP);
        prop_assert_eq!(left, right);
    }

    #[test]
    fn merge_is_idempotent(a in record_about_7(), b in record_about_7()) {
        prop_assert_eq!(join(&a, &a, CAP), a.clone());
        let ab = join(&a, &b, CAP);
        prop_assert_eq!(join(&ab, &b, CAP), ab.clone());
        let mut again = ab.clone();
        prop_assert_eq!(merge(&mut again, &b, CAP), Merge::Stale);
    }

    #[test]
    fn merge_is_monotone(a in record_about_7(), d in record_about_7(), c in record_about_7()) {
        // b is any record above a.
        let b = join(&a, &d, CAP);
        prop_assert!(le(&a, &b));
        prop_assert!(le(&join(&a, &c, CAP), &join(&b, &c, CAP)));
        // The join is an upper bound of its inputs, and the least one.
        let ac = join(&a, &c, CAP);
        prop_assert!(le(&a, &ac) && le(&c, &ac));
        if le(&a, &d) && le(&c, &d) {
            prop_assert!(le(&ac, &d));
        }
    }

    #[test]
    fn merge_reports_exactly_what_changed(a in record_about_7(), b in record_about_7()) {
        let mut local = a.clone();
        let result = merge(&mut local, &b, CAP);
        let changed = lattice(&local) != lattice(&a);
        prop_assert_eq!(result.is_news(), changed);
        let rose = precedence(&local) > precedence(&a);
        match result {
            Merge::Advanced { from } => {
                prop_assert!(rose);
                prop_assert_eq!(from, a.status);
            }
            Merge::Confirmed => {
                prop_assert!(!rose);
                prop_assert_eq!(local.status, Status::Suspect);
            }
            Merge::Stale => prop_assert_eq!(&local, &a),
        }
        // Terminal is terminal for a generation; only a newer one supersedes it.
        if a.status.is_terminal() && !local.status.is_terminal() {
            prop_assert!(local.generation > a.generation);
        }
        prop_assert!(local.generation >= a.generation);
    }

    #[test]
    fn lattice_part_laws_hold_with_any_metadata(
        a in record_about_7(), b in record_about_7(), c in record_about_7(),
        ma in any::<bool>(), mb in any::<bool>(),
    ) {
        // Terminal gossip may travel without metadata; the lattice part is unaffected.
        let strip = |mut m: Member, s: bool| { if s { m.meta = Meta::default(); } m };
        let (a, b) = (strip(a, ma), strip(b, mb));
        prop_assert_eq!(lattice(&join(&a, &b, CAP)), lattice(&join(&b, &a, CAP)));
        prop_assert_eq!(
            lattice(&join(&join(&a, &b, CAP), &c, CAP)),
            lattice(&join(&a, &join(&b, &c, CAP), CAP))
        );
    }
}

// ----- Lifeguard arithmetic -----

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn suspicion_timeout_shrinks_from_max_to_min(
        n in 0..2_000usize, k in 0..6usize, interval in 1..10_000u64,
        alpha in 1..8u32, beta in 1..8u32,
    ) {
        let mut config = classic(Config::lan());
        config.probe_interval = interval;
        config.suspicion_mult = alpha;
        config.suspicion_max_mult = beta;
        config.suspicion_confirmations = k;
        let b = Bounds::new(&config, n);
        prop_assert!(b.min >= alpha as u64 * interval);
        prop_assert_eq!(b.max, b.min * beta as u64);
        let mut last = u64::MAX;
        for c in 0..=k + 2 {
            let t = b.timeout(c);
            prop_assert!(t >= b.min && t <= b.max.max(b.min));
            prop_assert!(t <= last, "more confirmations never wait longer");
            last = t;
        }
        prop_assert_eq!(b.timeout(b.k), b.min, "K confirmations: the minimum");
        if b.k > 0 {
            prop_assert_eq!(b.timeout(0), b.max, "no confirmation: the maximum");
        }
    }

    #[test]
    fn health_stays_in_range(max in 0..=64u8, deltas in proptest::collection::vec(-10..10i32, 0..50)) {
        let mut h = Health::new(max);
        let mut model = 0i32;
        for d in deltas {
            h.apply(d);
            model = (model + d).clamp(0, max as i32);
            prop_assert_eq!(h.score() as i32, model);
            prop_assert_eq!(h.scale(100), 100 * (model as u64 + 1));
        }
    }
}

// ----- the codec -----

fn socket_addr() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>()).prop_map(|(ip, port)| SocketAddr::from((ip, port))),
        (any::<[u8; 16]>(), any::<u16>()).prop_map(|(ip, port)| SocketAddr::from((ip, port))),
    ]
}

fn any_member() -> impl Strategy<Value = Member> {
    (
        (any::<u64>(), any::<u64>()),
        socket_addr(),
        any::<u64>(),
        status(),
        proptest::collection::vec(any::<u64>(), 0..4),
        proptest::collection::btree_map("[a-z]{0,6}", "\\PC{0,8}", 0..3),
    )
        .prop_map(|((i, generation), addr, inc, status, by, meta)| Member {
            // Named (its id derived from the name) one time in two.
            id: if i % 2 == 0 {
                NodeId(i)
            } else {
                NodeId::from_name(&format!("db-{i}"))
            },
            name: if i % 2 == 0 {
                Name::default()
            } else {
                format!("db-{i}").as_str().into()
            },
            generation,
            addr,
            incarnation: inc,
            status,
            suspecters: by.into_iter().map(NodeId).collect(),
            meta: Meta::from(meta),
        })
}

fn any_body() -> impl Strategy<Value = Body> {
    prop_oneof![
        (any::<u32>(), any::<u64>()).prop_map(|(seq, t)| Body::Ping {
            seq,
            target: NodeId(t)
        }),
        (any::<u32>(), any::<u64>(), socket_addr()).prop_map(|(seq, t, a)| Body::PingReq {
            seq,
            target: NodeId(t),
            target_addr: a
        }),
        any::<u32>().prop_map(|seq| Body::Ack { seq }),
        any::<u32>().prop_map(|seq| Body::Nack { seq }),
        (any::<bool>(), proptest::collection::vec(any_member(), 0..4))
            .prop_map(|(reply, members)| Body::Sync { reply, members }),
    ]
}

fn any_message() -> impl Strategy<Value = Message> {
    (
        any::<u64>(),
        any_body(),
        proptest::collection::vec(any_member(), 0..5),
    )
        .prop_map(|(from, body, gossip)| Message {
            from: NodeId(from),
            body,
            gossip,
        })
}

fn roomy_wire(label: &str) -> Wire {
    let mut c = classic(Config::lan());
    c.max_datagram = 65_507;
    c.max_meta_bytes = 4_096;
    c.label = label.into();
    Wire::new(&c)
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn codec_round_trips(msg in any_message(), label in "[a-z]{0,12}") {
        let wire = roomy_wire(&label);
        let bytes = wire.encode(&msg).unwrap();
        prop_assert_eq!(bytes.len(), wire.datagram_len(&msg));
        prop_assert_eq!(wire.decode(&bytes), Ok(msg));
    }

    #[test]
    fn every_strict_prefix_is_refused(msg in any_message()) {
        let wire = roomy_wire("lbl");
        let bytes = wire.encode(&msg).unwrap();
        for len in 0..bytes.len() {
            prop_assert!(wire.decode(&bytes[..len]).is_err(), "prefix of {} bytes", len);
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let wire = roomy_wire("");
        let _ = wire.decode(&bytes);
        // Also behind a valid header, where the body decoder gets to see them.
        let mut framed = vec![b'S', b'W', swim_checked_core::codec::VERSION, 0];
        framed.extend_from_slice(&bytes);
        if let Ok(msg) = wire.decode(&framed) {
            // Whatever decodes re-encodes to something that decodes to the same message.
            let again = wire.encode(&msg).unwrap();
            prop_assert_eq!(wire.decode(&again), Ok(msg));
        }
    }

    #[test]
    fn corrupted_datagrams_never_panic(msg in any_message(), flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4)) {
        let wire = roomy_wire("x");
        let mut bytes = wire.encode(&msg).unwrap();
        for (at, b) in flips {
            let i = at % bytes.len();
            bytes[i] = b;
        }
        let _ = wire.decode(&bytes);
    }
}

// ----- the dissemination queue against its specification -----

/// The queue as PROTOCOL.md §6 describes it, written the obvious way: least-sent first, oldest first
/// among equals; each pack spends one transmit per update sent; an update leaves at `limit`.
#[derive(Default)]
struct RefQueue {
    /// id -> (record, transmits, when it entered its current transmit class)
    entries: BTreeMap<NodeId, (Member, u32, u64)>,
    clock: u64,
}

impl RefQueue {
    fn enqueue(&mut self, m: Member) {
        self.clock += 1;
        self.entries.insert(m.id, (m, 0, self.clock));
    }

    fn order(&self) -> Vec<NodeId> {
        let mut ids: Vec<_> = self.entries.keys().copied().collect();
        ids.sort_by_key(|i| (self.entries[i].1, self.entries[i].2));
        ids
    }

    fn pack(&mut self, budget: &mut Budget, limit: u32, except: Option<NodeId>) -> Vec<Member> {
        let mut out = Vec::new();
        let mut picked = Vec::new();
        let mut skips = 0;
        for i in self.order() {
            let (m, t, _) = self.entries[&i].clone();
            if t >= limit {
                self.entries.retain(|_, e| e.1 < limit);
                break;
            }
            if Some(i) == except {
                continue;
            }
            if budget.take(encoded_len(&m)) {
                out.push(m);
                picked.push(i);
                continue;
            }
            skips += 1;
            if skips > 16 || budget.free < 8 {
                break;
            }
        }
        for i in picked {
            self.clock += 1;
            let e = self.entries.get_mut(&i).unwrap();
            e.1 += 1;
            e.2 = self.clock;
            if e.1 >= limit {
                self.entries.remove(&i);
            }
        }
        out
    }
}

#[derive(Clone, Debug)]
enum QueueOp {
    Enqueue(u64, u64),
    Remove(u64),
    Pack {
        free: usize,
        limit: u32,
        except: Option<u64>,
    },
}

fn queue_op() -> impl Strategy<Value = QueueOp> {
    prop_oneof![
        4 => (0..24u64, 0..12u64).prop_map(|(i, inc)| QueueOp::Enqueue(i, inc)),
        1 => (0..24u64).prop_map(QueueOp::Remove),
        4 => (0..400usize, 1..6u32, proptest::option::of(0..24u64))
            .prop_map(|(free, limit, except)| QueueOp::Pack { free, limit, except }),
    ]
}

proptest! {
    #![proptest_config(cases(128))]

    #[test]
    fn gossip_queue_matches_its_specification(ops in proptest::collection::vec(queue_op(), 1..300)) {
        let mut real = Gossip::default();
        let mut spec = RefQueue::default();
        // The node's table: the queue sends the current record of each member it names.
        let mut table: std::collections::BTreeMap<NodeId, Member> = Default::default();
        for op in ops {
            match op {
                QueueOp::Enqueue(i, inc) => {
                    // Sizes vary with the incarnation, so some updates do not fit.
                    let meta = Meta::from_pairs([("pad", "x".repeat(inc as usize * 15))]);
                    let m = Member::alive(id(i), addr(i), inc, meta);
                    real.enqueue(m.id);
                    table.insert(m.id, m.clone());
                    spec.enqueue(m);
                }
                QueueOp::Remove(i) => {
                    real.remove(id(i));
                    spec.entries.remove(&id(i));
                }
                QueueOp::Pack { free, limit, except } => {
                    let mut b1 = Budget { free, count: 0 };
                    let mut b2 = Budget { free, count: 0 };
                    let mut out = Vec::new();
                    let record = |m: NodeId| table.get(&m);
                    real.pack(&mut b1, limit, except.map(id).as_slice(), &record, &mut out);
                    let expected = spec.pack(&mut b2, limit, except.map(id));
                    prop_assert_eq!(&out, &expected);
                    prop_assert_eq!((b1.free, b1.count), (b2.free, b2.count));
                    let used: usize = out.iter().map(encoded_len).sum();
                    prop_assert!(used <= free, "byte budget respected");
                }
            }
            let real_order: Vec<(NodeId, u32)> = real.iter().collect();
            let spec_order: Vec<(NodeId, u32)> =
                spec.order().into_iter().map(|i| (i, spec.entries[&i].1)).collect();
            prop_assert_eq!(&real_order, &spec_order);
            prop_assert_eq!(real.len(), spec.entries.len());
            for i in 0..24 {
                prop_assert_eq!(real.contains(id(i)), spec.entries.contains_key(&id(i)));
                prop_assert_eq!(real.transmits(id(i)), spec.entries.get(&id(i)).map(|e| e.1));
            }
        }
    }
}

// ----- one node under random inputs -----

#[derive(Clone, Debug)]
enum Input {
    Msg {
        from: u64,
        body: Body,
        gossip: Vec<Member>,
    },
    Timer(Timer),
    Cmd(Command),
    Wait(u64),
}

/// A record about one of ids 1..=6 (1 is the node under test).
fn small_record() -> impl Strategy<Value = Member> {
    (
        1..=6u64,
        0..4u64,
        status(),
        proptest::collection::btree_set(1..=6u64, 0..4),
    )
        .prop_map(|(i, inc, status, by)| {
            let mut m = record(i, inc, status);
            if status == Status::Suspect {
                m.suspecters = by.into_iter().map(NodeId).collect();
            }
            m
        })
}

fn input() -> impl Strategy<Value = Input> {
    let body = prop_oneof![
        (0..8u32, 1..=6u64).prop_map(|(seq, t)| Body::Ping { seq, target: id(t) }),
        (0..8u32, 2..=6u64).prop_map(|(seq, t)| Body::PingReq {
            seq,
            target: id(t),
            target_addr: addr(t)
        }),
        (0..8u32).prop_map(|seq| Body::Ack { seq }),
        (0..8u32).prop_map(|seq| Body::Nack { seq }),
        (
            any::<bool>(),
            proptest::collection::vec(small_record(), 0..4)
        )
            .prop_map(|(reply, members)| Body::Sync { reply, members }),
    ];
    let timer = prop_oneof![
        Just(Timer::Tick),
        (0..8u32).prop_map(Timer::ProbeTimeout),
        (0..8u32).prop_map(Timer::Relay),
        (1..=6u64).prop_map(|i| Timer::Suspicion(id(i))),
        Just(Timer::Sync),
        Just(Timer::JoinRetry),
        Just(Timer::LeaveDone),
    ];
    let cmd = prop_oneof![
        (1..=3u64).prop_map(|s| Command::Join {
            seeds: vec![addr(s)]
        }),
        Just(Command::Leave),
        (0..3u8).prop_map(|v| Command::SetMeta(Meta::from_pairs([("v", v.to_string())]))),
        (1..=7u64).prop_map(|i| Command::ConfirmDead(id(i))),
        // The id is replaced by a fresh one when the command runs.
        Just(Command::Rejoin { id: NodeId(0) }),
    ];
    prop_oneof![
        6 => (2..=6u64, body, proptest::collection::vec(small_record(), 0..4))
            .prop_map(|(from, body, gossip)| Input::Msg { from, body, gossip }),
        3 => timer.prop_map(Input::Timer),
        1 => cmd.prop_map(Input::Cmd),
        2 => (0..3_000u64).prop_map(Input::Wait),
    ]
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn a_node_keeps_its_invariants_under_any_input(
        unreachable in any::<bool>(),
        seed in any::<u64>(),
        inputs in proptest::collection::vec(input(), 1..120),
    ) {
        let mut config = classic(Config::lan());
        config.unreachable = unreachable;
        config.tombstone_ttl = 20_000;
        let wire = Wire::new(&config);
        let cap = config.suspicion_confirmations + 1;
        let mut d = Driver::new(config);
        let mut rng = Rng(seed);
        let mut seen: BTreeMap<NodeId, Member> = BTreeMap::new();
        let mut dead: BTreeSet<NodeId> = BTreeSet::new();
        let mut fresh = 0;
        for input in inputs {
            let mut out = Vec::new();
            match input {
                Input::Msg { from, body, gossip } => {
                    let msg = Message { from: id(from), body, gossip };
                    d.node.handle_message(d.now, addr(from), msg, &mut rng, &mut out);
                }
                Input::Timer(t) => d.node.handle_timer(d.now, t, &mut rng, &mut out),
                Input::Cmd(mut c) => {
                    if let Command::Rejoin { id } = &mut c {
                        fresh += 1;
                        *id = NodeId(1_000 + fresh);
                    }
                    let before = d.node.clone();
                    if d.node.handle_command(d.now, c, &mut rng, &mut out).is_err() {
                        prop_assert!(out.is_empty(), "a refused command does nothing");
                        prop_assert!(d.node == before, "a refused command changes nothing");
                    }
                }
                Input::Wait(ms) => d.now += ms,
            }
            for e in &out {
                match e {
                    Effect::Send { msg, .. } => {
                        prop_assert!(wire.encode(msg).is_ok(), "datagram over budget");
                        prop_assert_eq!(msg.from, d.node.id());
                    }
                    Effect::SetTimer { at, timer } => {
                        prop_assert!(*at > d.now, "{:?} set in the past", timer);
                    }
                    _ => {}
                }
            }
            if d.node.phase() == Phase::Running {
                let me = d.node.local_member();
                prop_assert_eq!(me.status, Status::Alive);
                prop_assert_eq!(d.node.member(me.id), Some(me));
                prop_assert_eq!(d.node.members().filter(|m| m.id == me.id).count(), 1);
            }
            for m in d.node.members() {
                if let Some(prev) = seen.get(&m.id) {
                    prop_assert!(
                        lattice(&join(prev, m, cap)) == lattice(m),
                        "view of {:?} went down: {:?} -> {:?}", m.id, prev, m
                    );
                }
                if dead.contains(&m.id) {
                    prop_assert!(m.status.is_terminal(), "{:?} resurrected", m.id);
                }
                if m.status.is_terminal() {
                    dead.insert(m.id);
                }
                seen.insert(m.id, m.clone());
            }
        }
    }
}
