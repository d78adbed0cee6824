//! A core node (`swim_checked_core::Node`) fed arbitrary datagrams and timers.
//!
//! Input: 8 bytes of randomness seed, then records `[op: u8][len: u8][len bytes]`. With
//! `op % 4 < 3` the bytes are a message body: behind the cluster's header they go through
//! `Wire::decode`, as the shell does, and what decodes is handed to `handle_message` from one
//! of four source addresses (`op / 4 % 4`). With `op % 4 == 3` the clock advances by `len`
//! times 10 ms and every due timer fires. The node starts knowing two peers (a sync from
//! each). Checked after every step: no panic (debug assertions on), every message it sends
//! encodes within the datagram size, and a node still running holds itself alive.
#![no_main]

use std::net::SocketAddr;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use swim_checked_core::{
    Body, Config, Effect, Member, Message, Meta, Node, NodeId, Phase, Status, TimerTable, Wire,
};

static CONFIG: LazyLock<Config> = LazyLock::new(Config::local);
static WIRE: LazyLock<Wire> = LazyLock::new(|| Wire::new(&CONFIG));

fn addr(i: u8) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 7000 + u16::from(i)))
}

struct Harness {
    node: Node,
    timers: TimerTable,
    now: u64,
    rng: u64,
    out: Vec<Effect>,
}

impl Harness {
    fn pick(rng: &mut u64) -> impl FnMut(usize) -> usize + '_ {
        move |n| {
            // xorshift64*
            *rng ^= *rng >> 12;
            *rng ^= *rng << 25;
            *rng ^= *rng >> 27;
            (rng.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as usize % n.max(1)
        }
    }

    fn message(&mut self, from: SocketAddr, msg: Message) {
        {
            let mut pick = Self::pick(&mut self.rng);
            self.node
                .handle_message(self.now, from, msg, &mut pick, &mut self.out);
        }
        self.settle();
    }

    fn advance(&mut self, by: u64) {
        self.now += by;
        while let Some(timer) = self.timers.pop_due(self.now) {
            {
                let mut pick = Self::pick(&mut self.rng);
                self.node
                    .handle_timer(self.now, timer, &mut pick, &mut self.out);
            }
            self.settle();
        }
    }

    fn settle(&mut self) {
        for effect in self.out.drain(..) {
            self.timers.apply(&effect);
            if let Effect::Send { msg, .. } = &effect {
                WIRE.encode(msg)
                    .expect("the core packs every message to size");
            }
        }
        if self.node.phase() == Phase::Running {
            assert_eq!(self.node.local_member().status, Status::Alive);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((seed, mut rest)) = data.split_first_chunk::<8>() else {
        return;
    };
    let mut out = Vec::new();
    let node = Node::new(
        CONFIG.clone(),
        NodeId(1),
        addr(0),
        Meta::default(),
        0,
        &mut out,
    )
    .expect("valid config");
    let mut timers = TimerTable::new();
    for effect in &out {
        timers.apply(effect);
    }
    let mut h = Harness {
        node,
        timers,
        now: 0,
        rng: u64::from_le_bytes(*seed) | 1,
        out: Vec::new(),
    };
    for peer in 2..=3u8 {
        let me = Member::alive(NodeId(u64::from(peer)), addr(peer), 0, Meta::default());
        let sync = Message {
            from: me.id,
            body: Body::Sync {
                reply: false,
                members: vec![me],
            },
            gossip: Vec::new(),
        };
        h.message(addr(peer), sync);
    }
    let header = WIRE.header_len();
    let mut datagram = Vec::new();
    while let [op, len, tail @ ..] = rest {
        let len = usize::from(*len).min(tail.len());
        let (bytes, next) = tail.split_at(len);
        rest = next;
        if op % 4 == 3 {
            h.advance(len as u64 * 10);
            continue;
        }
        datagram.clear();
        datagram.extend_from_slice(
            &WIRE
                .encode(&Message {
                    from: NodeId(0),
                    body: Body::Ack { seq: 0 },
                    gossip: Vec::new(),
                })
                .unwrap()[..header],
        );
        datagram.extend_from_slice(bytes);
        if let Ok(msg) = WIRE.decode(&datagram) {
            h.message(addr(op / 4 % 4), msg);
        }
    }
});
