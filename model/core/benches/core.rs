//! Core benchmarks: the cost of one transition at 10, 1,000 and 10,000 members, and the memory
//! a member record takes.
//!
//! `cargo bench -p swim-checked-core --bench core` (criterion). The memory figures are printed
//! first, measured with a counting global allocator.

// A counting global allocator is the one place that needs `unsafe`.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, criterion_group};
use swim_checked_core::{Body, Config, Effect, Member, Message, Meta, Node, NodeId, Timer};

/// Counts live heap bytes, so the bench can report bytes per member.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const SIZES: [usize; 3] = [10, 1_000, 10_000];

fn addr(i: usize) -> SocketAddr {
    SocketAddr::from(([10, (i >> 16) as u8, (i >> 8) as u8, i as u8], 7946))
}

fn id(i: usize) -> NodeId {
    // Spread ids over the u64 range like random ids would be.
    NodeId((i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

fn view(n: usize, incarnation: u64) -> Vec<Member> {
    (1..n)
        .map(|i| Member::alive(id(i), addr(i), incarnation, Meta::default()))
        .collect()
}

fn pick() -> impl FnMut(usize) -> usize {
    let mut s = 0x2545_F491_4F6C_DD1Du64;
    move |n| {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s % n as u64) as usize
    }
}

/// A node that knows `n - 1` alive peers, with the updates about them still queued.
fn node_with(n: usize) -> Node {
    let mut out = Vec::new();
    let mut node = Node::new(Config::lan(), id(0), addr(0), Meta::default(), 0, &mut out).unwrap();
    let sync = Message {
        from: id(1),
        body: Body::Sync {
            reply: false,
            members: view(n, 0),
        },
        gossip: Vec::new(),
    };
    node.handle_message(1, addr(1), sync, &mut pick(), &mut out);
    node
}

/// A ping carrying as much gossip as fits in a datagram (updates the node already knows).
fn full_ping(node: &Node) -> Message {
    let wire = swim_checked_core::Wire::new(node.config());
    let mut msg = Message {
        from: id(1),
        body: Body::Ping {
            seq: 7,
            target: node.id(),
        },
        gossip: Vec::new(),
    };
    for m in node.members().skip(1) {
        msg.gossip.push(m.clone());
        if wire.datagram_len(&msg) > node.config().max_datagram {
            msg.gossip.pop();
            break;
        }
    }
    msg
}

fn bench_transitions(c: &mut Criterion) {
    for n in SIZES {
        let node = node_with(n);
        let ping = full_ping(&node);
        let mut group = c.benchmark_group(format!("n={n}"));
        // Both directions full: the ping carries a datagram of gossip and the node's own queue
        // holds an update about every member, so the ack is packed full too. The node is
        // refreshed (untimed) whenever its queue runs low.
        group.bench_function("ping with full piggyback", |b| {
            let mut rng = pick();
            b.iter_custom(|iters| {
                let mut elapsed = Duration::ZERO;
                let mut live = node.clone();
                let mut out = Vec::with_capacity(4);
                for _ in 0..iters {
                    if live.gossip().len() < n / 2 {
                        live = node.clone();
                    }
                    let msg = ping.clone();
                    out.clear();
                    let start = Instant::now();
                    live.handle_message(2, addr(1), msg, &mut rng, &mut out);
                    elapsed += start.elapsed();
                    black_box(&out);
                }
                elapsed
            })
        });
        group.bench_function("ping with full piggyback, queue empty", |b| {
            let mut rng = pick();
            let mut live = node.clone();
            let mut out = Vec::new();
            while !live.gossip().is_empty() {
                out.clear();
                live.handle_message(2, addr(1), ping.clone(), &mut rng, &mut out);
            }
            b.iter_batched(
                || ping.clone(),
                |msg| {
                    out.clear();
                    live.handle_message(2, addr(1), msg, &mut rng, &mut out);
                    black_box(out.len())
                },
                BatchSize::SmallInput,
            )
        });
        group.bench_function("probe tick", |b| {
            let mut rng = pick();
            b.iter_batched_ref(
                || (node.clone(), Vec::with_capacity(4)),
                |(node, out)| {
                    node.handle_timer(1_000, Timer::Tick, &mut rng, out);
                    black_box(out.len())
                },
                BatchSize::SmallInput,
            )
        });
        let newer = Message {
            from: id(1),
            body: Body::Sync {
                reply: false,
                members: view(n, 1),
            },
            gossip: Vec::new(),
        };
        group.bench_function("merge full sync (all news)", |b| {
            let mut rng = pick();
            b.iter_batched_ref(
                || (node.clone(), newer.clone(), Vec::with_capacity(n)),
                |(node, msg, out)| {
                    let msg = std::mem::replace(msg, full_ping(&node_with(2)));
                    node.handle_message(2, addr(1), msg, &mut rng, out);
                    black_box(out.len())
                },
                BatchSize::LargeInput,
            )
        });
        group.finish();
    }
}

/// Heap bytes per member record: the whole node divided by its members, once with the
/// dissemination queue full (just after learning everyone) and once drained (steady state).
fn report_memory() {
    for n in SIZES {
        let before = LIVE.load(Ordering::Relaxed);
        let mut node = node_with(n);
        let full = LIVE.load(Ordering::Relaxed) - before;
        let mut rng = pick();
        let mut out = Vec::new();
        let mut now = 1_000;
        while !node.gossip().is_empty() {
            out.clear();
            node.handle_timer(now, Timer::Tick, &mut rng, &mut out);
            // Answer nothing: probes fail, but no member is dropped before its suspicion ends.
            for e in &out {
                if let Effect::Send { msg, .. } = e
                    && let Body::Ping { seq, .. } = msg.body
                {
                    let ack = Message {
                        from: id(1),
                        body: Body::Ack { seq },
                        gossip: Vec::new(),
                    };
                    let mut sink = Vec::new();
                    node.handle_message(now, addr(1), ack, &mut rng, &mut sink);
                }
            }
            now += 1_000;
        }
        let drained = LIVE.load(Ordering::Relaxed) - before;
        println!(
            "memory n={n}: {:.0} B/member with the gossip queue full, {:.0} B/member at rest",
            full as f64 / n as f64,
            drained as f64 / n as f64
        );
        drop(node);
    }
}

criterion_group!(benches, bench_transitions);

fn main() {
    report_memory();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
