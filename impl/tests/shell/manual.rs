//! Deterministic time: real nodes on real loopback sockets, driven by one [`ManualClock`].
//!
//! Time stands still while datagrams fly; the driver advances the clock to the next deadline
//! only once the network is quiet (every datagram sent was handled and every node is idle), as
//! the conformance harness does. Protocol timing is then exact, whatever the machine's load.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use swim_checked::harness::core::Config;
use swim_checked::harness::core::suspicion::Bounds;
use swim_checked::harness::{
    Clock, DecodeError, Effect, Input, ManualClock, Millis, Observer, RngPicker, Step, Timer,
    UdpTransport,
};
use swim_checked::{Node, NodeId, Status};
use tokio::sync::Notify;

#[derive(Default)]
struct NetState {
    addrs: Vec<SocketAddr>,
    live: Vec<bool>,
    idle: Vec<bool>,
    next: Vec<Option<Millis>>,
    handled: Vec<u64>,
    sent_to: HashMap<SocketAddr, u64>,
    sends: Vec<u64>,
    /// (node, member, status, time) of every event.
    events: Vec<(usize, NodeId, Status, Millis)>,
    /// Every step: (node, time, input kind).
    steps: Vec<(usize, Millis, String)>,
}

/// Watches every node of a test network to tell when it is quiet.
#[derive(Default)]
struct Net {
    state: Mutex<NetState>,
    notify: Notify,
}

struct Tap {
    net: Arc<Net>,
    index: usize,
}

impl Observer for Tap {
    fn on_step(&self, step: &Step<'_>) {
        let mut s = self.net.state.lock().unwrap();
        let i = self.index;
        s.idle[i] = false;
        let kind = match step.input {
            Input::Start { .. } => "start".to_string(),
            Input::Message { msg, .. } => {
                s.handled[i] += 1;
                msg.body.kind().to_string()
            }
            Input::Timer(t) => format!("{t:?}"),
            Input::Command { command, .. } => format!("{command:?}"),
        };
        s.steps.push((i, step.now, kind));
        for effect in step.effects {
            match effect {
                Effect::Send { to, .. } => {
                    *s.sent_to.entry(*to).or_default() += 1;
                    s.sends[i] += 1;
                }
                Effect::Event(e) => s.events.push((i, e.member.id, e.to, step.now)),
                _ => {}
            }
        }
    }

    fn on_drop(&self, _now: Millis, _from: SocketAddr, _len: usize, _error: &DecodeError) {
        self.net.state.lock().unwrap().handled[self.index] += 1;
    }

    fn on_idle(&self, _now: Millis, next: Option<Millis>) {
        {
            let mut s = self.net.state.lock().unwrap();
            s.idle[self.index] = true;
            s.next[self.index] = next;
        }
        self.net.notify.notify_waiters();
    }
}

impl Net {
    fn quiet(&self, now: Millis) -> bool {
        let s = self.state.lock().unwrap();
        (0..s.addrs.len()).filter(|&i| s.live[i]).all(|i| {
            s.idle[i]
                && s.next[i].is_none_or(|d| d > now)
                && s.handled[i] == s.sent_to.get(&s.addrs[i]).copied().unwrap_or(0)
        })
    }

    /// Wait until every live node handled everything due at the clock's time.
    async fn settle(&self, clock: &ManualClock) {
        let now = clock.now();
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.quiet(now) {
                return;
            }
            tokio::time::timeout(Duration::from_secs(20), notified)
                .await
                .unwrap_or_else(|_| panic!("network never went quiet at {now}"));
        }
    }

    fn next_deadline(&self) -> Option<Millis> {
        let s = self.state.lock().unwrap();
        (0..s.addrs.len())
            .filter(|&i| s.live[i])
            .filter_map(|i| s.next[i])
            .min()
    }

    /// Jump from deadline to deadline until `end`, settling the network at each.
    async fn run_until(&self, clock: &ManualClock, end: Millis) {
        loop {
            self.settle(clock).await;
            match self.next_deadline() {
                Some(at) if at <= end => clock.set(at),
                _ => {
                    clock.set(end);
                    self.settle(clock).await;
                    return;
                }
            }
        }
    }

    fn kill(&self, index: usize) {
        self.state.lock().unwrap().live[index] = false;
    }
}

async fn start(net: &Arc<Net>, clock: &ManualClock, config: &Config, seed: u64) -> Node {
    let transport = UdpTransport::bind("127.0.0.1:0").await.unwrap();
    let index = {
        let mut s = net.state.lock().unwrap();
        s.addrs.push(transport.socket().local_addr().unwrap());
        s.live.push(true);
        s.idle.push(false);
        s.next.push(None);
        s.handled.push(0);
        s.sends.push(0);
        s.addrs.len() - 1
    };
    Node::builder(config.clone())
        .clock(clock.clone())
        .picker(RngPicker::seeded(seed))
        .observer(Arc::new(Tap {
            net: net.clone(),
            index,
        }))
        .start(transport)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_clock_drives_timers_exactly() {
    let config = Config::local();
    let net = Arc::new(Net::default());
    let clock = ManualClock::new(1_000);
    let node = start(&net, &clock, &config, 1).await;
    // The id comes from the seeded picker.
    assert_eq!(node.id(), {
        use swim_checked::harness::Picker;
        RngPicker::seeded(1).node_id()
    });
    assert_eq!(
        node.timers(),
        vec![
            (Timer::Tick, 1_000 + config.probe_interval),
            (Timer::Sync, 1_000 + config.sync_interval)
        ]
    );
    net.settle(&clock).await;
    // Alone, each tick only re-arms the next one: exactly one step per period.
    net.run_until(&clock, 2_000).await;
    let steps: Vec<(Millis, String)> = net
        .state
        .lock()
        .unwrap()
        .steps
        .iter()
        .map(|(_, t, k)| (*t, k.clone()))
        .collect();
    let expected: Vec<(Millis, String)> = std::iter::once((1_000, "start".to_string()))
        .chain((1..=5).map(|k| (1_000 + k * 200, "Tick".to_string())))
        .collect();
    assert_eq!(steps, expected);
    assert_eq!(node.timer(Timer::Tick), Some(2_200));

    // A stalled task fires nothing until its clock passes the stall.
    node.stall(Duration::from_millis(1_000)).await.unwrap();
    clock.set(2_600);
    clock.set(3_000);
    net.run_until(&clock, 3_000).await;
    let ticks = net
        .state
        .lock()
        .unwrap()
        .steps
        .iter()
        .filter(|(_, t, _)| *t > 2_000)
        .count();
    // Overdue ticks collapse into one (each tick re-arms from "now").
    assert_eq!(ticks, 1);
    assert_eq!(node.timer(Timer::Tick), Some(3_200));
    node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_clock_cluster_detects_a_crash_within_the_configured_time() {
    const N: usize = 5;
    let config = Config::local();
    let net = Arc::new(Net::default());
    let clock = ManualClock::new(0);
    let mut nodes = Vec::new();
    for i in 0..N {
        nodes.push(start(&net, &clock, &config, 100 + i as u64).await);
    }
    for node in &nodes[1..] {
        // A join needs no time to pass: the seed answers at once.
        node.join([nodes[0].local_addr()]).await.unwrap();
    }
    net.run_until(&clock, 3_000).await;
    for node in &nodes {
        assert_eq!(node.live_members().len(), N, "{:#?}", node.members());
        assert!(
            node.live_members()
                .iter()
                .all(|m| m.status == Status::Alive)
        );
    }
    let no_suspicion_yet = net
        .state
        .lock()
        .unwrap()
        .events
        .iter()
        .all(|e| e.2 == Status::Alive);
    assert!(no_suspicion_yet, "false suspicion on a quiet network");

    let victim = nodes[N - 1].id();
    nodes[N - 1].abort();
    nodes[N - 1].stopped().await;
    net.kill(N - 1);
    let crash = clock.now();
    let bounds = Bounds::new(&config, N);
    let bound = (2 * N as u64 + 2) * config.probe_interval + bounds.max;
    net.run_until(&clock, crash + bound).await;

    let s = net.state.lock().unwrap();
    let first_suspicion = s
        .events
        .iter()
        .filter(|e| e.1 == victim && e.2 == Status::Suspect)
        .map(|e| e.3)
        .min()
        .expect("the victim was suspected");
    for (i, node) in nodes[..N - 1].iter().enumerate() {
        assert_eq!(node.status_of(victim), Some(Status::Dead), "node {i}");
        let dead_at = s
            .events
            .iter()
            .find(|e| e.0 == i && e.1 == victim && e.2 == Status::Dead)
            .map(|e| e.3)
            .unwrap();
        // Never before a whole minimum suspicion, never after the bound.
        assert!(
            dead_at >= first_suspicion + bounds.min,
            "node {i} declared it dead at {dead_at}, suspicion began {first_suspicion}"
        );
        assert!(
            dead_at <= crash + bound,
            "node {i}: {dead_at} > {crash} + {bound}"
        );
        // The shell sent exactly what the core asked for, and counted what it reported.
        let stats = node.stats();
        assert_eq!(stats.datagrams_out, s.sends[i]);
        let events = s.events.iter().filter(|e| e.0 == i).count();
        assert_eq!(stats.events, events as u64, "node {i}");
        assert_eq!(stats.suspicions_refuted, 0, "node {i}: nothing was refuted");
    }
    assert!(first_suspicion > crash);
    eprintln!(
        "crash at {crash}, first suspicion at {first_suspicion}, {} steps, {} datagrams",
        s.steps.len(),
        s.sends.iter().sum::<u64>()
    );
}
