//! The node handle.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use swim_checked_core::{Config, Member, Meta, Millis, NodeId, Phase, Status, Timer};
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::task::AbortHandle;

use crate::builder::Builder;
use crate::error::Error;
use crate::events::Events;
use crate::seal::{Encryption, Key, KeyError};
use crate::shared::Shared;
use crate::stats::Stats;
use crate::task::Request;

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
    /// A builder for a node with `config`.
    pub fn builder(config: Config) -> Builder {
        Builder::new(config)
    }

    /// Start a node with `config` on a UDP socket bound to `addr` (defaults elsewhere).
    pub async fn bind(config: Config, addr: impl tokio::net::ToSocketAddrs) -> Result<Node, Error> {
        Builder::new(config).bind(addr).await
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
        self.shared.lock().core.config().clone()
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
    /// metadata changed), including this node's own removal or departure.
    pub fn subscribe(&self) -> Events {
        let mut state = self.shared.lock();
        let slot = &mut state.events;
        if slot.closed {
            let (tx, rx) = broadcast::channel(1);
            drop(tx);
            return Events::new(rx);
        }
        let capacity = self.shared.event_capacity;
        let sender = slot
            .sender
            .get_or_insert_with(|| broadcast::channel(capacity).0);
        Events::new(sender.subscribe())
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
    /// view, retrying every `join_retry_interval` up to `join_attempts` times, and wait until
    /// one answered. Returns the number of other members known then.
    ///
    /// ```no_run
    /// # async fn demo(node: swim_checked::Node) -> Result<(), swim_checked::Error> {
    /// node.join(["10.0.0.1:7946", "seed.internal:7946"]).await?;
    /// # Ok(()) }
    /// ```
    pub async fn join<I>(&self, seeds: I) -> Result<usize, Error>
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

    /// Replace this node's metadata; the change (at a raised incarnation) reaches every member
    /// through gossip.
    pub async fn set_metadata(&self, meta: Meta) -> Result<(), Error> {
        self.request(|reply| Request::Command {
            command: swim_checked_core::Command::SetMeta(meta),
            reply,
        })
        .await?
    }

    /// Declare a member dead (typically after it became `unreachable`, with
    /// `Config::unreachable` on).
    pub async fn confirm_dead(&self, id: NodeId) -> Result<(), Error> {
        self.request(|reply| Request::Command {
            command: swim_checked_core::Command::ConfirmDead(id),
            reply,
        })
        .await?
    }

    /// Leave gracefully: gossip `left` and wait (at most `Config::leave_timeout`) for it to
    /// spread. The node then takes no part until [`rejoin`](Node::rejoin); the socket stays
    /// open until [`shutdown`](Node::shutdown).
    pub async fn leave(&self) -> Result<(), Error> {
        self.request(|reply| Request::Leave { reply }).await?
    }

    /// Come back under a fresh random id after being declared dead (or after leaving): the old
    /// id stays dead for ever. Contacts the members still known and the previous seeds.
    /// Returns the new id.
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
