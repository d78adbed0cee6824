//! The node handle.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use swim_checked_core::{Command, Member, Meta, Millis, NodeId, Phase, Status, Timer};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::AbortHandle;

use crate::builder::Builder;
use crate::config::Config;
use crate::error::Error;
use crate::events::{Events, Messages};
use crate::seal::{Encryption, Key, KeyError};
use crate::shared::Shared;
use crate::stats::Stats;
use crate::task::Request;
use crate::view::View;

/// A seed to join through: a socket address, or `host:port` resolved at join time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seed {
    /// A socket address, used as is.
    Addr(SocketAddr),
    /// A `host:port` name, resolved when joining (to its addresses of the node's own IP family,
    /// if it has any).
    Host(String),
}

impl From<SocketAddr> for Seed {
    fn from(addr: SocketAddr) -> Self {
        Seed::Addr(addr)
    }
}

impl From<(IpAddr, u16)> for Seed {
    fn from(addr: (IpAddr, u16)) -> Self {
        Seed::Addr(addr.into())
    }
}

impl From<&str> for Seed {
    fn from(s: &str) -> Self {
        match s.parse() {
            Ok(addr) => Seed::Addr(addr),
            Err(_) => Seed::Host(s.to_owned()),
        }
    }
}

impl From<String> for Seed {
    fn from(s: String) -> Self {
        Seed::from(s.as_str())
    }
}

impl From<&String> for Seed {
    fn from(s: &String) -> Self {
        Seed::from(s.as_str())
    }
}

impl fmt::Display for Seed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Seed::Addr(a) => write!(f, "{a}"),
            Seed::Host(h) => f.write_str(h),
        }
    }
}

/// What a successful [`Node::join`] learned.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Joined {
    /// The seed addresses that answered with their view, in the order the answers came (the
    /// join returns at the first answer, so usually one).
    pub seeds: Vec<SocketAddr>,
    /// Members believed in the cluster once the answer was merged, this node included.
    pub members: usize,
}

/// A running member of a cluster: a cheap, cloneable handle to its node task.
///
/// Read methods (`members`, `stats`, ...) take a snapshot under a short lock; commands (`join`,
/// `leave`, ...) are sent to the task and answered when done. The task stops on
/// [`shutdown`](Node::shutdown), [`abort`](Node::abort), or when every handle is dropped.
#[derive(Clone)]
pub struct Node {
    pub(crate) shared: Arc<Shared>,
    pub(crate) commands: mpsc::Sender<Request>,
    pub(crate) abort: AbortHandle,
    pub(crate) alive: watch::Receiver<()>,
    pub(crate) addr: SocketAddr,
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Node")
            .field("id", &self.id())
            .field("addr", &self.addr)
            .finish()
    }
}

impl Node {
    /// A builder for a node with `config` (a [`Config`], or the core's configuration).
    pub fn builder(config: impl Into<Config>) -> Builder {
        Builder::new(config.into())
    }

    /// Start a node with `config` on a UDP socket bound to `addr` (defaults elsewhere).
    pub async fn bind(
        config: impl Into<Config>,
        addr: impl tokio::net::ToSocketAddrs + fmt::Debug,
    ) -> Result<Node, Error> {
        Builder::new(config.into()).bind(addr).await
    }

    // ----- reading the view -----

    /// The node's current id (it changes on [`rejoin`](Node::rejoin)).
    pub fn id(&self) -> NodeId {
        self.shared.lock().core.id()
    }

    /// The address this node advertises (and receives on).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// This node's own record.
    pub fn local_member(&self) -> Member {
        self.shared.lock().core.local_member().clone()
    }

    /// Every member this node knows, itself first, then by id; dead and left members are
    /// included while their tombstone lasts.
    pub fn members(&self) -> Vec<Member> {
        self.shared.lock().core.members().cloned().collect()
    }

    /// Members believed in the cluster (alive or suspect, not dead or left), itself included.
    pub fn live_members(&self) -> Vec<Member> {
        self.shared
            .lock()
            .core
            .members()
            .filter(|m| !m.status.is_terminal())
            .cloned()
            .collect()
    }

    /// This node's record of `id`.
    pub fn member(&self, id: NodeId) -> Option<Member> {
        self.shared.lock().core.member(id).cloned()
    }

    /// Status of `id` here.
    pub fn status_of(&self, id: NodeId) -> Option<Status> {
        self.shared.lock().core.member(id).map(|m| m.status)
    }

    /// Members believed in the cluster, itself included.
    pub fn cluster_size(&self) -> usize {
        self.shared.lock().core.cluster_size()
    }

    /// Where this node is in its life (running, leaving, left, removed).
    pub fn phase(&self) -> Phase {
        self.shared.lock().core.phase()
    }

    /// The configuration.
    pub fn config(&self) -> Config {
        self.shared.lock().core.config().into()
    }

    /// Counters: traffic, drops by reason, LHM, probes, suspicions.
    pub fn stats(&self) -> Stats {
        let state = self.shared.lock();
        state.stats.snapshot(
            &self.shared.io,
            state.core.stats(),
            state.core.health(),
            state.core.gossip().len(),
        )
    }

    /// Armed timers and their deadlines (on the node's clock), earliest first.
    pub fn timers(&self) -> Vec<(Timer, Millis)> {
        let mut timers: Vec<_> = self.shared.lock().timers.iter().collect();
        timers.sort_unstable_by_key(|&(timer, at)| (at, timer));
        timers
    }

    /// Deadline of one timer, if armed.
    pub fn timer(&self, timer: Timer) -> Option<Millis> {
        self.shared.lock().timers.get(timer)
    }

    /// Read the core state machine directly (probe order, gossip queue, suspicion deadlines).
    /// The node task waits while `f` runs: keep it short.
    pub fn with_core<R>(&self, f: impl FnOnce(&swim_checked_core::Node) -> R) -> R {
        f(&self.shared.lock().core)
    }

    /// Whether the node task is still running.
    pub fn is_running(&self) -> bool {
        !self.commands.is_closed()
    }

    // ----- keys -----

    /// Install a key that opens received datagrams at once; it seals nothing until
    /// [`use_key`](Node::use_key) makes it primary. The first key installed on a node without
    /// one becomes its primary (the mode stays as it is: see
    /// [`set_encryption`](Node::set_encryption)). Installing a key already there does nothing.
    pub fn install_key(&self, key: Key) -> Result<(), Error> {
        self.shared.keys.update(|ring, _| match ring {
            Some(ring) => ring.install(key),
            None => {
                *ring = Some(crate::Keyring::new(key));
                Ok(())
            }
        })?;
        Ok(())
    }

    /// Make an installed key the primary: every datagram sent from now on is sealed with it.
    pub fn use_key(&self, key: &Key) -> Result<(), Error> {
        self.shared.keys.update(|ring, _| match ring {
            Some(ring) => ring.use_key(key),
            None => Err(KeyError::UnknownKey),
        })?;
        Ok(())
    }

    /// Remove an installed key: datagrams sealed with it are dropped from now on. The primary
    /// key cannot be removed ([`KeyError::PrimaryKey`]).
    pub fn remove_key(&self, key: &Key) -> Result<(), Error> {
        self.shared.keys.update(|ring, _| match ring {
            Some(ring) => ring.remove(key),
            None => Err(KeyError::UnknownKey),
        })?;
        Ok(())
    }

    /// The installed keys, the primary first (empty without a keyring).
    pub fn keys(&self) -> Vec<Key> {
        self.shared
            .keys
            .keyring()
            .map(|ring| ring.keys().to_vec())
            .unwrap_or_default()
    }

    /// What the node sends and accepts now.
    pub fn encryption(&self) -> Encryption {
        self.shared.keys.mode()
    }

    /// Change what the node sends and accepts, at once (the rollout steps of
    /// `docs/security.md`). Modes other than [`Encryption::Off`] need a key.
    pub fn set_encryption(&self, mode: Encryption) -> Result<(), Error> {
        self.shared.keys.update(|_, m| {
            *m = mode;
            Ok(())
        })?;
        Ok(())
    }

    // ----- events -----

    /// A stream of member events from now on (joined, suspect, alive again, dead, left,
    /// metadata changed), including this node's own removal or departure. A
    /// [`Stream`](futures_core::Stream), or read it with [`Events::recv`].
    pub fn subscribe(&self) -> Events {
        let capacity = self.shared.event_capacity;
        Events::new(self.shared.lock().events.subscribe(capacity))
    }

    /// The current view, and every change from now on, with the semantics of a tokio
    /// [`watch`](tokio::sync::watch) channel: [`borrow`](watch::Receiver::borrow) reads the
    /// latest [`View`], [`changed`](watch::Receiver::changed) waits for the next one, and a
    /// slow reader skips straight to the latest. The view is published after every step that
    /// reported an event or changed this node's own record (a purged tombstone alone does not
    /// republish it). As with any `watch` channel, do not hold a
    /// [`borrow`](watch::Receiver::borrow) across an `.await` or a call into the node: the node
    /// task waits for it to publish.
    ///
    /// ```no_run
    /// # async fn demo(node: swim_checked::Node) {
    /// let mut view = node.watch();
    /// loop {
    ///     println!("{} live members", view.borrow_and_update().live_count());
    ///     if view.changed().await.is_err() {
    ///         break;
    ///     }
    /// }
    /// # }
    /// ```
    pub fn watch(&self) -> watch::Receiver<View> {
        let state = self.shared.lock();
        // Nothing is published while nobody watches: bring the view up to date first.
        state.view.send_replace(View::of(&state.core));
        state.view.subscribe()
    }

    /// Wait until `condition` holds for the view (checked now, then after each change), at
    /// most `timeout` of tokio's clock; returns the view that satisfied it.
    ///
    /// ```no_run
    /// # async fn demo(node: swim_checked::Node) -> Result<(), swim_checked::Error> {
    /// use std::time::Duration;
    /// let view = node.wait_for(|v| v.live_count() == 5, Duration::from_secs(10)).await?;
    /// # Ok(()) }
    /// ```
    pub async fn wait_for(
        &self,
        mut condition: impl FnMut(&View) -> bool,
        timeout: Duration,
    ) -> Result<View, Error> {
        let mut rx = self.watch();
        match tokio::time::timeout(timeout, rx.wait_for(|v| condition(v))).await {
            Ok(Ok(view)) => Ok(view.clone()),
            Ok(Err(_)) => Err(Error::Stopped),
            Err(_) => Err(Error::Timeout { waited: timeout }),
        }
    }

    /// A stream of the application data this node receives from now on: broadcasts (each once)
    /// and direct messages. A [`Stream`](futures_core::Stream), or read it with
    /// [`Messages::recv`].
    pub fn messages(&self) -> Messages {
        let capacity = self.shared.event_capacity;
        Messages::new(self.shared.lock().messages.subscribe(capacity))
    }

    // ----- application data -----

    /// Gossip `payload` to every member (PROTOCOL.md §13). Returns once it is queued; it then
    /// rides in gossip datagrams after the membership updates, every `gossip_interval`, until
    /// every member holding it sent it its retransmit budget. Delivery is epidemic, not
    /// acknowledged. At most `Config::max_user_payload` bytes; a full queue
    /// (`Config::user_queue`) loses its most-sent broadcast, counted in
    /// [`Stats::core`](crate::Stats::core)`.user_dropped`.
    pub async fn broadcast(&self, payload: impl Into<Vec<u8>>) -> Result<(), Error> {
        self.command(Command::Broadcast(payload.into())).await
    }

    /// Send `payload` to member `to` in one datagram, at once (not acknowledged; at most
    /// `Config::max_user_payload` bytes).
    pub async fn send_to(&self, to: NodeId, payload: impl Into<Vec<u8>>) -> Result<(), Error> {
        self.command(Command::SendTo {
            to,
            payload: payload.into(),
        })
        .await
    }

    // ----- commands -----

    async fn request<R>(
        &self,
        make: impl FnOnce(oneshot::Sender<R>) -> Request,
    ) -> Result<R, Error> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(make(tx))
            .await
            .map_err(|_| Error::Stopped)?;
        rx.await.map_err(|_| Error::Stopped)
    }

    /// Join a cluster through `seeds` (socket addresses or `host:port` names): send them our
    /// view, retrying every `join_retry_interval` up to `join_attempts` times while no member
    /// is known, and wait until a seed answers with its view. Returns which seeds answered and
    /// the size of the view then.
    ///
    /// Succeeds only on a seed's answer, even if the node knows members already. When none
    /// answers within `join_attempts x join_retry_interval + probe_timeout`, the error
    /// ([`Error::Join`]) lists every address tried with what this node saw of it: nothing, its
    /// datagrams dropped here (another label, another key), or a local send failure. A seed
    /// that drops the join (down, port closed, another label or key) cannot say so over UDP:
    /// see [`SeedSilence`](crate::SeedSilence).
    ///
    /// ```no_run
    /// # async fn demo(node: swim_checked::Node) -> Result<(), swim_checked::Error> {
    /// let joined = node.join(["10.0.0.1:7946", "seed.internal:7946"]).await?;
    /// println!("{} members, through {:?}", joined.members, joined.seeds);
    /// # Ok(()) }
    /// ```
    pub async fn join<I>(&self, seeds: I) -> Result<Joined, Error>
    where
        I: IntoIterator,
        I::Item: Into<Seed>,
    {
        let seeds = self.resolve(seeds).await?;
        if seeds.is_empty() {
            return Err(Error::NoSeeds);
        }
        self.request(|reply| Request::Join { seeds, reply }).await?
    }

    async fn resolve<I>(&self, seeds: I) -> Result<Vec<SocketAddr>, Error>
    where
        I: IntoIterator,
        I::Item: Into<Seed>,
    {
        let v4 = self.addr.is_ipv4();
        let mut out = Vec::new();
        for seed in seeds {
            match seed.into() {
                Seed::Addr(addr) => out.push(addr),
                Seed::Host(host) => {
                    let found: Vec<SocketAddr> = tokio::net::lookup_host(host.as_str())
                        .await
                        .map_err(|error| Error::Resolve {
                            seed: host.clone(),
                            error,
                        })?
                        .collect();
                    let same_family: Vec<SocketAddr> = found
                        .iter()
                        .copied()
                        .filter(|a| a.is_ipv4() == v4)
                        .collect();
                    let usable = if same_family.is_empty() {
                        found
                    } else {
                        same_family
                    };
                    if usable.is_empty() {
                        return Err(Error::Resolve {
                            seed: host,
                            error: std::io::Error::new(
                                std::io::ErrorKind::NotFound,
                                "no address found",
                            ),
                        });
                    }
                    out.extend(usable);
                }
            }
        }
        out.dedup();
        Ok(out)
    }

    async fn command(&self, command: Command) -> Result<(), Error> {
        self.request(|reply| Request::Command { command, reply })
            .await?
    }

    /// Replace this node's metadata; the change (at a raised incarnation) reaches every member
    /// through gossip.
    pub async fn set_metadata(&self, meta: Meta) -> Result<(), Error> {
        self.command(Command::SetMeta(meta)).await
    }

    /// Set one metadata key, keeping the others: one raised incarnation, none if the value
    /// is already there. Returns whether the metadata changed.
    pub async fn set_meta_key(
        &self,
        key: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<bool, Error> {
        let (key, value) = (key.into(), value.into());
        self.update_meta(move |meta| {
            let mut pairs: std::collections::BTreeMap<String, String> = (meta.iter())
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            pairs.insert(key, value);
            Some(pairs.into())
        })
        .await
    }

    /// Remove one metadata key, keeping the others: one raised incarnation, none if the key
    /// is absent. Returns whether the metadata changed.
    pub async fn remove_meta_key(&self, key: &str) -> Result<bool, Error> {
        let key = key.to_owned();
        self.update_meta(move |meta| {
            meta.get(&key)?;
            Some(Meta::from_pairs(meta.iter().filter(|(k, _)| *k != key)))
        })
        .await
    }

    /// Change the metadata as the node task holds it (so concurrent updates of different keys
    /// do not lose each other).
    async fn update_meta(
        &self,
        update: impl FnOnce(&Meta) -> Option<Meta> + Send + 'static,
    ) -> Result<bool, Error> {
        self.request(|reply| Request::UpdateMeta {
            update: Box::new(update),
            reply,
        })
        .await?
    }

    /// Declare a member dead (typically after it became `unreachable`, with
    /// `Config::unreachable` on).
    pub async fn confirm_dead(&self, id: NodeId) -> Result<(), Error> {
        self.command(Command::ConfirmDead(id)).await
    }

    /// Leave gracefully: tell every live member we left, and return once each acknowledged
    /// (PROTOCOL.md §7: the core pings each with the `left` record and counts the acks), or
    /// after `Config::leave_timeout` if some never do (crashed, partitioned). The node then
    /// takes no part until [`rejoin`](Node::rejoin); the socket stays open until
    /// [`shutdown`](Node::shutdown).
    pub async fn leave(&self) -> Result<(), Error> {
        self.request(|reply| Request::Leave { reply }).await?
    }

    /// Come back under a fresh random id after leaving, or after being declared dead with
    /// `Config::auto_rejoin` off (with it on, the node comes back by itself at its next
    /// generation, under the same id: PROTOCOL.md §14). The old id stays dead for ever.
    /// Contacts the members still known and the previous seeds. Returns the new id.
    pub async fn rejoin(&self) -> Result<NodeId, Error> {
        self.request(|reply| Request::Rejoin { id: None, reply })
            .await?
    }

    /// [`rejoin`](Node::rejoin) under a chosen id.
    pub async fn rejoin_as(&self, id: NodeId) -> Result<NodeId, Error> {
        self.request(|reply| Request::Rejoin {
            id: Some(id),
            reply,
        })
        .await?
    }

    /// Stop the node task (without leaving: peers will detect it as failed unless it left
    /// first) and close its socket. Returns once the socket is closed.
    pub async fn shutdown(&self) -> Result<(), Error> {
        match self.request(|reply| Request::Shutdown { reply }).await {
            Ok(()) | Err(Error::Stopped) => {}
            Err(e) => return Err(e),
        }
        self.stopped().await;
        Ok(())
    }

    /// Kill the node task at once, as a crash would: no leave, no goodbye. Use
    /// [`stopped`](Node::stopped) to wait until its socket is closed.
    pub fn abort(&self) {
        self.abort.abort();
    }

    /// Wait until the node task has ended.
    pub async fn stopped(&self) {
        let mut alive = self.alive.clone();
        while alive.changed().await.is_ok() {}
    }

    /// Testing aid: block the node task for `duration` of its clock, as a stopped process or a
    /// long pause would (no datagram read, no timer fired; datagrams queue in the socket).
    /// Returns when the pause begins.
    pub async fn stall(&self, duration: Duration) -> Result<(), Error> {
        self.request(|reply| Request::Stall {
            duration: duration.as_millis() as Millis,
            reply,
        })
        .await
    }
}
