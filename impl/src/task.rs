//! The node task: one loop that feeds the core and carries out its effects.
//!
//! Each turn of the loop: if a timer is due, first read every datagram already queued on the
//! transport (so that replies that arrived during a pause count before the timers judge them),
//! then fire every timer that is due; settle waiting commands, tell the observer the node is
//! idle, then wait for the first of a command, a datagram or the next deadline.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use swim_checked_core::{Command, CommandError, Effect, Meta, Millis, NodeId, Phase, Pick, Wire};
use tokio::sync::broadcast::Sender;
use tokio::sync::{mpsc, oneshot, watch};

use crate::clock::{Clock, Sleep};
use crate::error::{Error, JoinError, SeedFailure, SeedSilence};
use crate::faults::Hooks;
use crate::metrics::Metrics;
use crate::node::Joined;
use crate::observer::{Input, Observer, Step};
use crate::pick::Picker;
use crate::seal::Codec;
use crate::shared::{Shared, State};
use crate::transport::Transport;
use crate::view::View;

/// Datagrams read in one go before timers get their turn.
const DRAIN_BATCH: usize = 64;
/// Timers fired in one go before datagrams get their turn.
const TIMER_BATCH: usize = 256;

/// A change of the metadata as the task holds it: `None` leaves it as it is.
pub(crate) type MetaUpdate = Box<dyn FnOnce(&Meta) -> Option<Meta> + Send>;

/// A request from a handle to the task.
pub(crate) enum Request {
    Join {
        seeds: Vec<SocketAddr>,
        reply: oneshot::Sender<Result<Joined, Error>>,
    },
    Leave {
        reply: oneshot::Sender<Result<(), Error>>,
    },
    Command {
        command: Command,
        reply: oneshot::Sender<Result<(), Error>>,
    },
    /// Change the metadata as it is when the task gets to it: `None` leaves it unchanged.
    UpdateMeta {
        update: MetaUpdate,
        reply: oneshot::Sender<Result<bool, Error>>,
    },
    Rejoin {
        id: Option<NodeId>,
        reply: oneshot::Sender<Result<NodeId, Error>>,
    },
    Stall {
        duration: Millis,
        reply: oneshot::Sender<()>,
    },
    Shutdown {
        reply: oneshot::Sender<()>,
    },
}

struct JoinWaiter {
    deadline: Millis,
    waited: Millis,
    /// Each seed, and what was seen of it so far.
    seeds: Vec<(SocketAddr, SeedSilence)>,
    reply: oneshot::Sender<Result<Joined, Error>>,
}

impl JoinWaiter {
    /// Note what was seen of `addr`, if it is one of the seeds.
    fn saw(&mut self, addr: SocketAddr, what: SeedSilence) {
        for (seed, silence) in &mut self.seeds {
            if *seed == addr {
                *silence = what.clone();
            }
        }
    }
}

/// What woke the task.
enum Wake {
    Request(Option<Request>),
    Datagram(std::io::Result<Received>),
    Deadline,
}

/// A datagram, decoded while it was in the receive buffer.
struct Received {
    len: usize,
    from: SocketAddr,
    decoded: Result<swim_checked_core::Message, swim_checked_core::DecodeError>,
}

thread_local! {
    /// Datagram buffers, shared by the node tasks that run on this thread (they are only used
    /// between two awaits), so that a process with many nodes does not keep two per node.
    static RECV_BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    static SEND_BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Receive one datagram into this thread's buffer and decode it there (opening a sealed one in
/// place).
fn poll_decode<T: Transport>(
    transport: &mut T,
    codec: &mut Codec,
    hooks: &Hooks,
    len: usize,
    cx: &mut Context<'_>,
) -> Poll<std::io::Result<Received>> {
    RECV_BUF.with_borrow_mut(|buf| {
        if buf.len() < len {
            buf.resize(len, 0);
        }
        transport.poll_recv(cx, &mut buf[..len]).map(|got| {
            got.map(|(len, from)| {
                codec.refresh();
                let decoded = codec.decode(&mut buf[..len]);
                Received {
                    len,
                    from,
                    decoded: hooks.decoded(decoded, codec.wire(), &buf[..len]),
                }
            })
        })
    })
}

pub(crate) struct Task<T, C, P> {
    shared: Arc<Shared>,
    transport: T,
    /// Declared after `transport`, so dropped after it: a subscriber that sees the event stream
    /// end knows the socket is closed.
    _close_events: CloseEvents,
    clock: C,
    picker: P,
    observer: Option<Arc<dyn Observer>>,
    requests: mpsc::Receiver<Request>,
    /// The wire format and the keys in force.
    codec: Codec,
    /// One byte longer than the largest datagram, so that oversized ones show as such.
    recv_len: usize,
    effects: Vec<Effect>,
    sleep: Option<(Millis, Sleep)>,
    join_waiters: Vec<JoinWaiter>,
    leave_waiters: Vec<oneshot::Sender<Result<(), Error>>>,
    join_wait: Millis,
    /// Dropped with the task: handles waiting in `Node::stopped` wake up.
    _alive: watch::Sender<()>,
    /// The deadline of the earliest armed timer, noted after each step.
    next_timer: Option<Millis>,
    /// Counters and gauges of the `metrics` feature (no-ops without it).
    metrics: Metrics,
    /// Deliberately broken rules (`--cfg swim_faults` only; no-ops otherwise).
    hooks: Hooks,
}

/// Everything a node task is made of, handed over by the builder.
pub(crate) struct Parts<T, C, P> {
    pub shared: Arc<Shared>,
    pub transport: T,
    pub clock: C,
    pub picker: P,
    pub observer: Option<Arc<dyn Observer>>,
    pub requests: mpsc::Receiver<Request>,
    /// Dropped with the task: handles waiting in `Node::stopped` wake up.
    pub alive: watch::Sender<()>,
    pub config: swim_checked_core::Config,
    /// The advertised address (labels the metrics).
    pub addr: SocketAddr,
    pub hooks: Hooks,
}

impl<T: Transport, C: Clock, P: Picker> Task<T, C, P> {
    pub fn new(parts: Parts<T, C, P>) -> Self {
        let Parts {
            shared,
            transport,
            clock,
            picker,
            observer,
            requests,
            alive,
            config,
            addr,
            hooks,
        } = parts;
        let metrics = Metrics::new(addr);
        let next_timer = {
            let state = shared.lock();
            metrics.gauges(&state.core); // from the start, not from the first step
            state.timers.next_deadline()
        };
        let join_wait = config
            .join_retry_interval
            .saturating_mul(config.join_attempts.max(1) as Millis)
            .saturating_add(config.probe_timeout);
        let codec = Codec::new(Wire::new(&config), shared.keys.clone());
        Task {
            _close_events: CloseEvents(shared.clone()),
            shared,
            transport,
            clock,
            picker,
            observer,
            requests,
            codec,
            recv_len: config.max_datagram + 1,
            effects: Vec::new(),
            sleep: None,
            join_waiters: Vec::new(),
            leave_waiters: Vec::new(),
            join_wait,
            _alive: alive,
            next_timer,
            metrics,
            hooks,
        }
    }

    /// Run until shut down (returns the shutdown reply, to send once the socket is closed) or
    /// until every handle is gone.
    pub async fn run(&mut self) -> Option<oneshot::Sender<()>> {
        loop {
            if self.timer_due() {
                // Replies that arrived meanwhile (say, during a pause) count before the timers
                // judge the probes they answer.
                self.drain();
            }
            self.fire_due_timers();
            self.settle_waiters();
            self.trim();
            let next = self.next_deadline();
            if let Some(observer) = &self.observer {
                observer.on_idle(self.clock.now(), next);
            }
            match next {
                Some(at) if self.sleep.as_ref().is_none_or(|(d, _)| *d != at) => {
                    self.sleep = Some((at, self.clock.sleep_until(at)));
                }
                None => self.sleep = None,
                _ => {}
            }
            let wake = {
                let requests = &mut self.requests;
                let transport = &mut self.transport;
                let (codec, hooks, len) = (&mut self.codec, &self.hooks, self.recv_len);
                let sleep = &mut self.sleep;
                tokio::select! {
                    biased;
                    request = requests.recv() => Wake::Request(request),
                    got = std::future::poll_fn(|cx| poll_decode(transport, codec, hooks, len, cx)) => Wake::Datagram(got),
                    () = async { sleep.as_mut().expect("guarded").1.as_mut().await }, if sleep.is_some() => Wake::Deadline,
                }
            };
            match wake {
                Wake::Request(None) => return None,
                Wake::Request(Some(Request::Shutdown { reply })) => return Some(reply),
                Wake::Request(Some(request)) => self.request(request).await,
                Wake::Datagram(Ok(received)) => self.datagram(received),
                Wake::Datagram(Err(e)) => self.recv_error(e).await,
                Wake::Deadline => self.sleep = None,
            }
        }
    }

    /// Read what is already queued on the transport, without waiting.
    fn drain(&mut self) {
        let mut cx = Context::from_waker(Waker::noop());
        for _ in 0..DRAIN_BATCH {
            match poll_decode(
                &mut self.transport,
                &mut self.codec,
                &self.hooks,
                self.recv_len,
                &mut cx,
            ) {
                Poll::Ready(Ok(received)) => self.datagram(received),
                Poll::Ready(Err(e)) => {
                    self.count_recv_error(&e);
                    break;
                }
                Poll::Pending => break,
            }
        }
    }

    /// Whether a timer is due (the task alone changes the timer map, so the deadline it noted
    /// after its last step is current).
    fn timer_due(&self) -> bool {
        self.next_timer.is_some_and(|at| at <= self.clock.now())
    }

    fn fire_due_timers(&mut self) {
        for _ in 0..TIMER_BATCH {
            let now = self.clock.now();
            if self.next_timer.is_none_or(|at| at > now) {
                return;
            }
            // The next due timer, earliest deadline first (ties in timer order).
            let fired = self.step(|state, picker, hooks, out| {
                let timer = hooks.pop_due(&mut state.timers, now)?;
                state.core.handle_timer(now, timer, picker, out);
                Some(timer)
            });
            let Some(timer) = fired else {
                return;
            };
            self.observe(now, Input::Timer(timer));
        }
    }

    fn next_deadline(&self) -> Option<Millis> {
        let join = self.join_waiters.iter().map(|w| w.deadline).min();
        match (self.next_timer, join) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Answer `join` once a seed replied (or give up at its deadline) and `leave` once done.
    fn settle_waiters(&mut self) {
        if self.join_waiters.is_empty() && self.leave_waiters.is_empty() {
            return;
        }
        let (answered, members, phase) = {
            let state = self.shared.lock();
            let core = &state.core;
            (
                core.seeds_answered().to_vec(),
                core.cluster_size(),
                core.phase(),
            )
        };
        let now = self.clock.now();
        for waiter in std::mem::take(&mut self.join_waiters) {
            if !answered.is_empty() {
                let _ = waiter.reply.send(Ok(Joined {
                    seeds: answered.clone(),
                    members,
                }));
            } else if phase != Phase::Running {
                let _ = waiter
                    .reply
                    .send(Err(Error::Rejected(CommandError::NotRunning(phase))));
            } else if now >= waiter.deadline {
                let _ = waiter.reply.send(Err(Error::Join(JoinError {
                    seeds: (waiter.seeds.into_iter())
                        .map(|(addr, reason)| SeedFailure { addr, reason })
                        .collect(),
                    waited: std::time::Duration::from_millis(waiter.waited),
                })));
            } else if !waiter.reply.is_closed() {
                self.join_waiters.push(waiter);
            }
        }
        if phase != Phase::Leaving {
            for reply in self.leave_waiters.drain(..) {
                let _ = reply.send(Ok(()));
            }
        }
    }

    async fn request(&mut self, request: Request) {
        match request {
            Request::Join { seeds, reply } => {
                let now = self.clock.now();
                // Waiting before the command is carried out, to see its send errors.
                self.join_waiters.push(JoinWaiter {
                    deadline: now.saturating_add(self.join_wait),
                    waited: self.join_wait,
                    seeds: (seeds.iter())
                        .map(|&s| (s, SeedSilence::NoAnswer))
                        .collect(),
                    reply,
                });
                if let Err(e) = self.command(now, Command::Join { seeds }) {
                    let waiter = self.join_waiters.pop().expect("pushed above");
                    let _ = waiter.reply.send(Err(e.into()));
                }
            }
            Request::UpdateMeta { update, reply } => {
                let now = self.clock.now();
                let current = self.shared.lock().core.local_member().meta.clone();
                let result = match update(&current) {
                    Some(meta) if meta != current => self
                        .command(now, Command::SetMeta(meta))
                        .map(|()| true)
                        .map_err(Error::from),
                    _ => Ok(false),
                };
                let _ = reply.send(result);
            }
            Request::Leave { reply } => {
                let now = self.clock.now();
                match self.command(now, Command::Leave) {
                    Ok(()) => self.leave_waiters.push(reply),
                    Err(e) => {
                        let _ = reply.send(Err(e.into()));
                    }
                }
            }
            Request::Command { command, reply } => {
                let now = self.clock.now();
                let _ = reply.send(self.command(now, command).map_err(Error::from));
            }
            Request::Rejoin { id, reply } => {
                let now = self.clock.now();
                let id = id.unwrap_or_else(|| self.picker.node_id());
                let result = self.command(now, Command::Rejoin { id });
                if result.is_ok() {
                    tracing::info!(new_id = %id, "rejoined under a new id");
                    tracing::Span::current().record("node", tracing::field::display(id));
                }
                let _ = reply.send(result.map(|()| id).map_err(Error::from));
            }
            Request::Stall { duration, reply } => {
                let until = self.clock.now().saturating_add(duration);
                tracing::debug!(duration, "stalling the node task");
                let _ = reply.send(());
                self.clock.sleep_until(until).await;
                tracing::debug!("stall over");
            }
            Request::Shutdown { .. } => unreachable!("handled by the loop"),
        }
    }

    fn command(&mut self, now: Millis, command: Command) -> Result<(), CommandError> {
        let observed = self.observer.is_some().then(|| command.clone());
        let result = self
            .step(|state, picker, _, out| {
                Some(state.core.handle_command(now, command, picker, out))
            })
            .expect("a command is always a step");
        if let Some(command) = &observed {
            self.observe(
                now,
                Input::Command {
                    command,
                    result: &result,
                },
            );
        }
        result
    }

    fn datagram(&mut self, received: Received) {
        let Received { len, from, decoded } = received;
        let now = self.clock.now();
        self.metrics.received(len, decoded.as_ref().err());
        let msg = match decoded {
            Ok(msg) => msg,
            Err(error) => {
                self.shared.lock().stats.received(len, Some(&error));
                tracing::debug!(%from, len, reason = error.reason(), %error, "dropped datagram");
                for waiter in &mut self.join_waiters {
                    waiter.saw(from, SeedSilence::Dropped(error.reason()));
                }
                if let Some(observer) = &self.observer {
                    observer.on_drop(now, from, len, &error);
                }
                return;
            }
        };
        tracing::trace!(%from, kind = msg.body.kind(), gossip = msg.gossip.len(), "received");
        let observed = self.observer.is_some().then(|| msg.clone());
        let _ = self.step(|state, picker, hooks, out| {
            state.stats.received(len, None);
            if hooks.applies_twice() {
                state
                    .core
                    .handle_message(now, from, msg.clone(), picker, out);
            }
            state.core.handle_message(now, from, msg, picker, out);
            Some(())
        });
        if let Some(msg) = &observed {
            self.observe(now, Input::Message { from, msg });
        }
    }

    /// One step, under one lock: `input` feeds the core (or finds nothing to feed it and returns
    /// `None`), then the timer map, the counters and the gauges take in the effects. Outside the
    /// lock, datagrams are sent and events published in the order of the effects, which stay in
    /// `self.effects` for the observer.
    fn step<R>(
        &mut self,
        input: impl FnOnce(&mut State, &mut dyn Pick, &Hooks, &mut Vec<Effect>) -> Option<R>,
    ) -> Option<R> {
        self.effects.clear();
        let (result, subscribers) = {
            let mut guard = self.shared.lock();
            let state = &mut *guard;
            let result = input(state, &mut self.picker, &self.hooks, &mut self.effects)?;
            let mut events = false;
            let mut delivered = false;
            for effect in &self.effects {
                match effect {
                    Effect::SetTimer { timer, at } => {
                        let at = self.hooks.deadline(*timer, *at, || self.clock.now());
                        state.timers.set(*timer, at);
                    }
                    Effect::CancelTimer { timer } => {
                        if self.hooks.cancels() {
                            state.timers.cancel(*timer);
                        }
                    }
                    Effect::Event(event) => {
                        events = true;
                        state.stats.event(event);
                    }
                    Effect::Deliver(_) => delivered = true,
                    Effect::Send { .. } => {}
                }
            }
            self.next_timer = state.timers.next_deadline();
            refresh_view(state, events);
            self.metrics.gauges(&state.core);
            let subscribers = if events { state.events.live() } else { None };
            let readers = if delivered {
                state.messages.live()
            } else {
                None
            };
            (result, (subscribers, readers))
        };
        let (subscribers, readers) = subscribers;
        let effects = std::mem::take(&mut self.effects);
        self.codec.refresh();
        let (mut sent, mut bytes, mut errors, mut too_large) = (0u64, 0u64, 0u64, 0u64);
        let mut failed = Vec::new();
        for effect in &effects {
            match effect {
                Effect::Send { to, msg } => {
                    let Some(msg) = self.hooks.outgoing(msg) else {
                        continue;
                    };
                    let msg = &*msg;
                    let transport = &mut self.transport;
                    let codec = &self.codec;
                    SEND_BUF.with_borrow_mut(|buf| {
                        if let Err(error) = codec.encode_into(msg, buf) {
                            too_large += 1;
                            tracing::warn!(%to, %error, kind = msg.body.kind(), "message not sent");
                            return;
                        }
                        match transport.send(buf, *to) {
                            Ok(()) => {
                                sent += 1;
                                bytes += buf.len() as u64;
                                tracing::trace!(%to, kind = msg.body.kind(), len = buf.len(), "sent");
                            }
                            Err(error) => {
                                errors += 1;
                                tracing::debug!(%to, %error, "send failed");
                                failed.push((*to, error.kind()));
                            }
                        }
                    });
                }
                Effect::Event(event) if self.hooks.publishes(event) => {
                    self.publish(event, subscribers.as_ref());
                }
                Effect::Deliver(message) => {
                    tracing::debug!(from = %message.from, kind = ?message.kind, len = message.payload.len(), "delivered");
                    if let Some(readers) = &readers {
                        let _ = readers.send(Arc::new(message.clone()));
                    }
                }
                _ => {}
            }
        }
        for (to, kind) in failed {
            for waiter in &mut self.join_waiters {
                waiter.saw(to, SeedSilence::SendFailed(kind));
            }
        }
        self.shared.io.sent(sent, bytes, errors, too_large);
        self.metrics.sent(sent, bytes, errors);
        self.effects = effects;
        Some(result)
    }

    /// Give back the memory of an unusually large step (a full sync) once it is done.
    fn trim(&mut self) {
        if self.effects.capacity() > 64 {
            self.effects = Vec::new();
        }
    }

    fn observe(&self, now: Millis, input: Input<'_>) {
        if let Some(observer) = &self.observer {
            observer.on_step(&Step {
                now,
                input,
                effects: &self.effects,
            });
        }
    }

    /// Log and count `event`, and hand it to the subscribers (`sender`: the event channel as it
    /// was when the step took the lock; `None` if nobody had subscribed yet).
    fn publish(
        &self,
        event: &swim_checked_core::MemberEvent,
        sender: Option<&Sender<Arc<swim_checked_core::MemberEvent>>>,
    ) {
        tracing::info!(
            member = %event.member.id,
            addr = %event.member.addr,
            incarnation = event.member.incarnation,
            from = event.from.map(|s| s.name()).unwrap_or("unknown"),
            to = event.to.name(),
            "member {:?}",
            event.kind(),
        );
        self.metrics.event(event);
        if let Some(sender) = sender {
            let _ = sender.send(Arc::new(event.clone()));
        }
    }

    fn count_recv_error(&self, error: &std::io::Error) {
        self.shared.io.recv_error();
        tracing::debug!(%error, "receive failed");
    }

    async fn recv_error(&mut self, error: std::io::Error) {
        self.count_recv_error(&error);
        // Some platforms report ICMP errors of earlier sends here; do not spin on a broken socket.
        tokio::task::yield_now().await;
    }
}

/// Publish the view to watchers if it changed: after events, or when our own record moved
/// (a refutation, new metadata). Nothing is built while nobody watches.
pub(crate) fn refresh_view(state: &mut State, events: bool) {
    if state.view.receiver_count() == 0 {
        return;
    }
    let me = state.core.local_member();
    let moved = {
        let seen = state.view.borrow();
        let local = seen.local();
        local.id != me.id || local.incarnation != me.incarnation || local.status != me.status
    };
    if events || moved {
        state.view.send_replace(View::of(&state.core));
    }
}

/// Ends the event and message streams when dropped.
struct CloseEvents(Arc<Shared>);

impl Drop for CloseEvents {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.events.close();
        state.messages.close();
    }
}

impl<T, C, P> Drop for Task<T, C, P> {
    fn drop(&mut self) {
        for waiter in self.join_waiters.drain(..) {
            let _ = waiter.reply.send(Err(Error::Stopped));
        }
        for reply in self.leave_waiters.drain(..) {
            let _ = reply.send(Err(Error::Stopped));
        }
    }
}
