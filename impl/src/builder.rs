//! The builder of a [`Node`]: configuration, metadata and the injection points.

use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use swim_checked_core::zone::ZONE_KEY;
use swim_checked_core::{Member, Meta, Name, NodeId, TimerTable};
use tokio::sync::{mpsc, watch};
use tracing::Instrument;

use crate::clock::{Clock, TokioClock, wall_clock_millis};
use crate::config::Config;
use crate::error::Error;
use crate::faults::Hooks;
use crate::node::Node;
use crate::observer::Observer;
use crate::pick::{Picker, RngPicker};
use crate::seal::{Encryption, KeyState, Keyring};
use crate::shared::{EventSlot, Shared, State};
use crate::stats::{IoCounters, ShellStats};
use crate::task::{Parts, Task};
use crate::transport::{Transport, UdpTransport};
use crate::view::View;

/// Builds a [`Node`]: configuration, metadata, and the injection points (clock, randomness,
/// observer, transport).
///
/// ```no_run
/// # async fn demo() -> Result<(), swim_checked::Error> {
/// use swim_checked::{Config, Meta, Node};
/// let node = Node::builder(Config::lan())
///     .meta(Meta::from_pairs([("role", "db")]))
///     .bind("10.0.0.5:7946")
///     .await?;
/// # Ok(()) }
/// ```
pub struct Builder<C = TokioClock, P = RngPicker> {
    config: Config,
    meta: Meta,
    /// Set as metadata `zone` over `meta` at the start.
    zone: Option<String>,
    id: Option<NodeId>,
    /// The generation to start at; `None`: 0, or the start time for a named node.
    generation: Option<u64>,
    name: Name,
    advertise: Option<SocketAddr>,
    clock: C,
    picker: P,
    observer: Option<Arc<dyn Observer>>,
    event_capacity: usize,
    hooks: Hooks,
    keyring: Option<Keyring>,
    encryption: Option<Encryption>,
}

impl<C, P> fmt::Debug for Builder<C, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("config", &self.config)
            .field("meta", &self.meta)
            .field("id", &self.id)
            .field("advertise", &self.advertise)
            .field("observer", &self.observer.is_some())
            .field("event_capacity", &self.event_capacity)
            .field("keyring", &self.keyring)
            .field("encryption", &self.encryption)
            .finish()
    }
}

impl Builder {
    pub(crate) fn new(config: Config) -> Self {
        Builder {
            config,
            meta: Meta::default(),
            zone: None,
            id: None,
            generation: None,
            name: Name::default(),
            advertise: None,
            clock: TokioClock::new(),
            picker: RngPicker::from_os(),
            observer: None,
            event_capacity: 256,
            hooks: Hooks::correct(),
            keyring: None,
            encryption: None,
        }
    }
}

impl<C: Clock, P: Picker> Builder<C, P> {
    /// The node's starting metadata.
    pub fn meta(mut self, meta: Meta) -> Self {
        self.meta = meta;
        self
    }

    /// The member's zone (a rack, a data centre, a cloud zone): its metadata
    /// [`ZONE_KEY`](swim_checked_core::zone::ZONE_KEY), set over [`Builder::meta`] whatever
    /// the order of the calls. The topology-aware selector reads it
    /// ([`Config::zone_helpers`], [`Config::far_pass_every`]); a later
    /// [`Node::set_metadata`] keeps the zone only if its metadata holds it.
    pub fn zone(mut self, zone: &str) -> Self {
        self.zone = Some(zone.to_owned());
        self
    }

    /// Use this id instead of a random one from the picker.
    pub fn id(mut self, id: NodeId) -> Self {
        self.id = Some(id);
        self
    }

    /// Name the member: its id is [`NodeId::from_name`], the same every time a process starts
    /// under this name, and it starts at a generation above every earlier process's (the wall
    /// clock in milliseconds, unless [`Builder::generation`] says otherwise). The cluster then
    /// sees a restart as one member's next generation (a `Restarted` event), not a death and a
    /// stranger.
    pub fn name(mut self, name: &str) -> Self {
        self.id = Some(NodeId::from_name(name));
        self.name = Name::from(name);
        if self.generation.is_none() {
            self.generation = Some(wall_clock_millis());
        }
        self
    }

    /// Start at this generation (default 0, or the start time for a [`Builder::name`]d node).
    pub fn generation(mut self, generation: u64) -> Self {
        self.generation = Some(generation);
        self
    }

    /// The address peers should use to reach this node, when it differs from the bound one
    /// (required when binding `0.0.0.0` or `::`).
    pub fn advertise(mut self, addr: SocketAddr) -> Self {
        self.advertise = Some(addr);
        self
    }

    /// Buffer of each event subscriber (default 256 events).
    pub fn event_capacity(mut self, capacity: usize) -> Self {
        self.event_capacity = capacity.max(1);
        self
    }

    /// Seal every datagram with the keyring's primary key and accept only datagrams one of its
    /// keys opens (unless [`encryption`](Builder::encryption) says otherwise). The keys can
    /// change later on the running node ([`Node::install_key`] and the like).
    pub fn keyring(mut self, keyring: Keyring) -> Self {
        self.keyring = Some(keyring);
        self
    }

    /// What to send and accept (default: [`Encryption::Require`] with a keyring,
    /// [`Encryption::Off`] without). Modes other than `Off` need a keyring.
    pub fn encryption(mut self, mode: Encryption) -> Self {
        self.encryption = Some(mode);
        self
    }

    /// Replace the clock (default: [`TokioClock`]).
    pub fn clock<C2: Clock>(self, clock: C2) -> Builder<C2, P> {
        Builder {
            config: self.config,
            meta: self.meta,
            zone: self.zone,
            id: self.id,
            generation: self.generation,
            name: self.name,
            advertise: self.advertise,
            clock,
            picker: self.picker,
            observer: self.observer,
            event_capacity: self.event_capacity,
            hooks: self.hooks,
            keyring: self.keyring,
            encryption: self.encryption,
        }
    }

    /// Replace the random source (default: [`RngPicker::from_os`]).
    pub fn picker<P2: Picker>(self, picker: P2) -> Builder<C, P2> {
        Builder {
            config: self.config,
            meta: self.meta,
            zone: self.zone,
            id: self.id,
            generation: self.generation,
            name: self.name,
            advertise: self.advertise,
            clock: self.clock,
            picker,
            observer: self.observer,
            event_capacity: self.event_capacity,
            hooks: self.hooks,
            keyring: self.keyring,
            encryption: self.encryption,
        }
    }

    /// Watch every transition of the node (see [`Observer`]).
    pub fn observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Run the node with a deliberately broken shell (conformance tests only).
    #[cfg(swim_faults)]
    pub fn fault(mut self, fault: crate::faults::ShellFault) -> Self {
        self.hooks = self.hooks.broken(fault);
        self
    }

    /// Run the node with a deliberately broken core (conformance tests only: to replay a
    /// broken core's run, recorded elsewhere, step for step).
    #[cfg(swim_faults)]
    pub fn core_faults(mut self, faults: swim_checked_core::faults::Faults) -> Self {
        self.hooks = self.hooks.core_broken(faults);
        self
    }

    /// Bind a UDP socket to `addr` and start the node on it (alone until
    /// [`join`](Node::join)). Port 0 picks a free port; [`Node::local_addr`] tells which.
    ///
    /// An error binding names the address (`bind 127.0.0.1:7946: Address in use`).
    pub async fn bind(
        self,
        addr: impl tokio::net::ToSocketAddrs + fmt::Debug,
    ) -> Result<Node, Error> {
        self.config.validate()?;
        if let Some(mode) = self
            .encryption
            .filter(|m| m.needs_key() && self.keyring.is_none())
        {
            return Err(crate::seal::KeyError::NoKey(mode).into());
        }
        let name = format!("{addr:?}");
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host(addr)
            .await
            .map_err(|e| Error::io("resolve", name.trim_matches('"'), e))?
            .collect();
        let mut last = None;
        for addr in addrs {
            match UdpTransport::bind(addr).await {
                Ok(transport) => return self.start(transport),
                Err(e) => last = Some(Error::io("bind", addr, e)),
            }
        }
        Err(last.unwrap_or_else(|| {
            Error::io(
                "resolve",
                name.trim_matches('"'),
                std::io::Error::new(std::io::ErrorKind::NotFound, "no address found"),
            )
        }))
    }

    /// Start the node on a transport of your own (a wrapped socket, a test network). Must be
    /// called from within a tokio runtime: the node runs as one task on it.
    pub fn start<T: Transport>(mut self, transport: T) -> Result<Node, Error> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| Error::Io {
            op: "start",
            addr: None,
            error: std::io::Error::other(
                "swim_checked::Node must be started from within a tokio runtime",
            ),
        })?;
        let config = self.config.to_core()?;
        let mode = self.encryption.unwrap_or(if self.keyring.is_some() {
            Encryption::Require
        } else {
            Encryption::Off
        });
        let keys = Arc::new(KeyState::new(mode, self.keyring)?);
        let addr = match self.advertise {
            Some(addr) => addr,
            None => transport.local_addr().map_err(|e| Error::Io {
                op: "local_addr",
                addr: None,
                error: e,
            })?,
        };
        if addr.ip().is_unspecified() || addr.port() == 0 {
            return Err(Error::UnspecifiedAddr(addr));
        }
        let id = match self.id {
            Some(id) => id,
            None => self.picker.node_id(),
        };
        let now = self.clock.now();
        let mut effects = Vec::new();
        let meta = match self.zone {
            Some(zone) => Meta::from_pairs(
                (self.meta.iter())
                    .filter(|&(k, _)| k != ZONE_KEY)
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .chain([(ZONE_KEY.to_owned(), zone)]),
            ),
            None => self.meta,
        };
        let me = Member::alive(id, addr, 0, meta)
            .named(self.name)
            .at_generation(self.generation.unwrap_or(0));
        let mut core =
            swim_checked_core::Node::start(config.clone(), me.clone(), now, &mut effects)?;
        self.hooks.break_core(&mut core);
        let mut timers = TimerTable::new();
        for effect in &effects {
            timers.apply(effect);
        }
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                timers,
                stats: ShellStats::default(),
                events: EventSlot::default(),
                messages: EventSlot::default(),
                view: tokio::sync::watch::Sender::new(View::of(&core)),
                core,
            }),
            io: IoCounters::default(),
            event_capacity: self.event_capacity,
            keys,
        });
        if let Some(observer) = &self.observer {
            observer.on_step(&crate::observer::Step {
                now,
                input: crate::observer::Input::Start { me: &me },
                effects: &effects,
            });
        }
        let (commands, requests) = mpsc::channel(16);
        let (alive_tx, alive_rx) = watch::channel(());
        let span = tracing::info_span!("swim", node = %id, addr = %addr);
        let hooks = self.hooks.configured(&config);
        let task = Task::new(Parts {
            shared: shared.clone(),
            transport,
            clock: self.clock,
            picker: self.picker,
            observer: self.observer,
            requests,
            alive: alive_tx,
            config,
            addr,
            hooks,
        });
        let handle = runtime.spawn(
            async move {
                tracing::debug!("node started");
                let mut task = task;
                let reply = task.run().await;
                drop(task); // closes the socket before the shutdown reply
                tracing::debug!("node stopped");
                if let Some(reply) = reply {
                    let _ = reply.send(());
                }
            }
            .instrument(span),
        );
        Ok(Node {
            shared,
            commands,
            abort: handle.abort_handle(),
            alive: alive_rx,
            addr,
        })
    }
}
