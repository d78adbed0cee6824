//! The world being checked: how many nodes, which faults and commands, how long, on the
//! scaled-down core configuration; and how model nodes are named (ids and addresses).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use swim_checked_core::health::Health;
use swim_checked_core::suspicion::Bounds;
use swim_checked_core::zone::ZONE_KEY;
use swim_checked_core::{Config, Meta, Millis, NodeId};

#[cfg(doc)]
use super::SwimModel;

/// A partition: node `node` is cut off from every other node from `from` until `until` (ms).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Partition {
    pub node: usize,
    pub from: Millis,
    pub until: Millis,
}

impl Partition {
    /// Whether a datagram between nodes `a` and `b` at time `now` crosses the cut.
    pub fn cuts(&self, a: usize, b: usize, now: Millis) -> bool {
        (self.from..self.until).contains(&now) && (a == self.node) != (b == self.node)
    }
}

/// What world to check: how many nodes, which faults, how long.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setup {
    /// Nodes in the cluster (2 to 5), all members from the start.
    pub nodes: usize,
    /// Datagrams the network may lose.
    pub drops: u8,
    /// Datagrams the network may deliver twice.
    pub duplicates: u8,
    /// Nodes that may crash.
    pub crashes: u8,
    /// Crashed nodes that may start again, at their second address (see [`moved_addr`]) and
    /// their next generation, joining through the others' addresses: a process restarted on
    /// another host or port (PROTOCOL.md §14).
    pub restarts: u8,
    /// Times a node may be paused (a slow node: its timers and deliveries wait).
    pub pauses: u8,
    /// Datagrams the network (an outsider on the wire) may deliver again: any datagram sent
    /// earlier in the run, to its destination, arriving one millisecond after the replay. What
    /// an attacker can still do once datagrams are authenticated and encrypted. While a replay
    /// is left, the state keeps every distinct datagram sent inside the disturbance window
    /// ([`State::history`](super::State::history)).
    pub replays: u8,
    /// Graceful leaves.
    pub leaves: u8,
    /// Metadata changes (each raises the owner's incarnation).
    pub meta_changes: u8,
    /// Rejoins under a new id, by a node that left or was removed (see [`rejoin_id`]).
    pub rejoins: u8,
    /// Application broadcasts (PROTOCOL.md §13), by any running node.
    pub broadcasts: u8,
    /// Application messages to one member, by any running node to a member it holds live.
    pub directs: u8,
    /// One node cut off from the others for a window: every datagram between it and another
    /// node sent in the window is lost (PROTOCOL.md §14).
    pub partition: Option<Partition>,
    /// Zones the nodes are spread over (node `i` in zone `i mod zones`, named in its metadata
    /// as PROTOCOL.md §15 reads it); 0 or 1: no zone metadata.
    pub zones: u8,
    /// Records that fill datagrams (PROTOCOL.md §6): every node's metadata is padded to
    /// exactly `max_meta_bytes` (see [`Setup::meta`]), which the world sets so that a datagram
    /// has room for one record and not two.
    pub packed: bool,
    /// Model time at which the run ends (milliseconds of the scaled-down config).
    pub horizon: Millis,
    /// Node `i` starts `i x stagger` ms after node 0 (0: all protocol periods aligned, the
    /// most concurrent and the largest space).
    pub stagger: Millis,
    /// Explore only the orders a real node task can show (see [`SwimModel::inputs`]): the
    /// conformance corpus is exported this way.
    pub shell_order: bool,
    /// Within an instant, nodes take their inputs in index order: node `j` takes a step only
    /// once no node before it has a datagram to take or a timer due (see
    /// [`reduce::node_order`](super::reduce::node_order)). A partial-order reduction for large worlds (`check` turns it
    /// on from four nodes). It is sound because nothing sent in an instant arrives in it:
    /// steps of different nodes in one instant touch different hosts and only add to what
    /// arrives later, so any run of an instant can be reordered node by node, each node
    /// keeping its own order, into one this rule allows, ending in the same state. So every
    /// state at which the clock moves is still reached, and every node still goes through
    /// every sequence of views it can. Crashes and losses, which touch one host or one
    /// datagram, are ordered the same way: a node crashes between its own inputs or once no
    /// node has anything left to take, and the datagrams to an up node are lost in their
    /// order. A replay, whose copy arrives in the next instant, comes once no node has anything
    /// left to take (it always does: see [`SwimModel::inputs`]).
    /// What is not visited are mixes of two nodes at different points of one instant: a
    /// property relating two nodes' states is checked there at every instant start and as
    /// each node steps, but a breach that begins and ends inside one millisecond could be
    /// missed (`tests/model/reduction.rs` shows the reduced search reaching the same instant
    /// starts, verdicts and broken cores).
    pub node_order: bool,
    /// End a run as soon as it is quiet ([`SwimModel::is_quiet`]): nothing can change a view
    /// any more, so the rest of the horizon adds states but nothing to check. On for `check`;
    /// off for the conformance corpus, whose traces run to the horizon.
    pub stop_when_quiet: bool,
    /// The core's configuration (validated).
    pub core: Config,
    /// Deliberate bugs the nodes run with (tests only).
    #[cfg(swim_faults)]
    pub faults: swim_checked_core::faults::Faults,
}

impl Setup {
    /// The default world of `check`: one drop, one crash, Lifeguard on, protocol periods
    /// aligned (every node ticks at the same instants: the most concurrent case).
    pub fn new(nodes: usize) -> Self {
        let core = Self::scaled_config(false);
        let mut setup = Setup {
            nodes,
            drops: 1,
            duplicates: 0,
            crashes: 1,
            pauses: 0,
            replays: 0,
            leaves: 0,
            meta_changes: 0,
            rejoins: 0,
            restarts: 0,
            broadcasts: 0,
            directs: 0,
            partition: None,
            zones: 0,
            packed: false,
            horizon: 0,
            stagger: 0,
            shell_order: false,
            node_order: false,
            stop_when_quiet: true,
            core,
            #[cfg(swim_faults)]
            faults: swim_checked_core::faults::Faults::NONE,
        };
        setup.horizon = setup.settle() + 2 * setup.core.probe_interval;
        setup
    }

    /// The same world without any fault (datagrams may still be duplicated or replayed): where
    /// accuracy is checked.
    pub fn reliable(mut self) -> Self {
        self.drops = 0;
        self.crashes = 0;
        self.pauses = 0;
        self
    }

    /// The core's configuration scaled down so the state space stays small: a 10 ms protocol
    /// period, one helper per indirect probe, one Lifeguard confirmation (reachable with three
    /// nodes), suspicion of 1 to 3 periods, LHM up to 1 (periods of 10 or 20 ms), each update
    /// piggybacked twice, push-pull sync every 3 periods (without it, an update whose few
    /// transmits all went to one member never reaches the others: the checker shows it). The
    /// formulas are the production ones.
    pub fn scaled_config(unreachable: bool) -> Config {
        let config = Config {
            probe_interval: 10,
            probe_timeout: 5,
            direct_probes: 1,
            indirect_checks: 1,
            // One round but in the worlds that check more (`worlds::health`).
            indirect_rounds: 1,
            suspicion_mult: 1,
            suspicion_max_mult: 3,
            suspicion_confirmations: 1,
            max_health: 1,
            retransmit_mult: 2,
            max_datagram: 512,
            sync_interval: 30,
            tombstone_ttl: swim_checked_core::config::NEVER,
            purged_memory: 16,
            max_members: 16,
            max_meta_bytes: 32,
            max_relays: 8,
            unreachable,
            label: String::new(),
            // Two attempts: a rejoin arms its retry, which must stand down once a seed answered.
            join_retry_interval: 10,
            join_attempts: 2,
            leave_timeout: 20,
            // Application data: `worlds::application_world` changes these to exercise it.
            gossip_interval: 10,
            user_fanout: 1,
            user_retransmit_mult: 1,
            max_user_payload: 64,
            user_queue: 1,
            user_dedup: 1,
            // Off but in the partition world, which checks them (`worlds::partition_world`).
            auto_rejoin: false,
            isolation_hold: false,
            ..Config::lan()
        };
        config.validate().expect("the scaled-down config is valid");
        config
    }

    /// Whether no datagram is lost, no node crashes and no node pauses (a duplicate or a
    /// replay loses nothing: accuracy must hold under them).
    pub fn is_reliable(&self) -> bool {
        self.drops == 0 && self.crashes == 0 && self.pauses == 0 && self.partition.is_none()
    }

    /// Whether the datagram from node `a` to node `b` is lost to the partition at `now`.
    pub fn cut(&self, a: usize, b: usize, now: Millis) -> bool {
        self.partition.is_some_and(|p| p.cuts(a, b, now))
    }

    /// The slowest protocol period: the base interval at the worst local health (the base
    /// interval itself with the local health aware probe off).
    pub fn slowest_period(&self) -> Millis {
        let worst = Health::of(&self.core).max();
        self.core.probe_interval * (worst as Millis + 1)
    }

    /// Completeness bound `D`: after a crash (and the last disturbance), every running node holds
    /// the crashed node dead within `D`. Each survivor probes each of its `n - 1` peers once per
    /// pass of its probe order, so two probes of the same member are at most `2(n-1) - 1`
    /// periods apart; the failed probe is judged one period later; one more period absorbs the
    /// phase of the ticks; the suspicion then lasts at most Lifeguard's maximum. Periods are
    /// counted at the worst local health.
    pub fn detection_bound(&self) -> Millis {
        let n = self.nodes as Millis;
        let bounds = Bounds::new(&self.core, self.nodes);
        // With far members in one pass of `f`, probes of one member are at most `(f + 1)(n - 1)`
        // periods apart (PROTOCOL.md §15); `f = 1` is the uniform walk's `2(n - 1)`.
        let passes = self.core.far_pass_every as Millis + 1;
        (passes * (n - 1) + 1) * self.slowest_period() + bounds.max
    }

    /// Node `i`'s metadata at the start: its zone, when the world has zones; padding to
    /// `max_meta_bytes`, when the world is packed.
    pub fn meta(&self, i: usize) -> Meta {
        if self.packed {
            padded_meta(self.core.max_meta_bytes)
        } else if self.zones > 1 {
            let zone = char::from(b'a' + (i % self.zones as usize) as u8).to_string();
            Meta::from_pairs([(ZONE_KEY, zone)])
        } else {
            Meta::default()
        }
    }

    /// Fault-free time every run ends with: detection, then two push-pull rounds to spread
    /// the last changes.
    pub fn settle(&self) -> Millis {
        self.detection_bound() + 2 * self.core.sync_interval.max(self.slowest_period())
    }

    /// A horizon whose disturbance window fits a leave (one period in), its end and a rejoin.
    pub fn rejoin_horizon(&self) -> Millis {
        self.settle() + self.core.leave_timeout + 3 * self.core.probe_interval
    }

    /// Faults and commands happen strictly before this time.
    pub fn disturb_until(&self) -> Millis {
        self.horizon.saturating_sub(self.settle())
    }

    /// A short description, e.g. `3 nodes, 1 drop, 1 crash, horizon 190 ms`.
    pub fn describe(&self) -> String {
        let mut parts = vec![format!("{} nodes", self.nodes)];
        let mut add = |n: u8, what: &str| {
            if n > 0 {
                parts.push(format!("{n} {what}{}", if n > 1 { "s" } else { "" }));
            }
        };
        add(self.drops, "drop");
        add(self.duplicates, "duplicate");
        add(self.crashes, "crash");
        add(self.restarts, "restart");
        add(self.pauses, "pause");
        add(self.replays, "replay");
        add(self.leaves, "leave");
        add(self.meta_changes, "metadata change");
        add(self.rejoins, "rejoin");
        add(self.broadcasts, "broadcast");
        add(self.directs, "direct message");
        add(self.zones, "zone");
        if self.packed {
            parts.push(format!("metadata of {} bytes", self.core.max_meta_bytes));
        }
        if let Some(p) = self.partition {
            parts.push(format!(
                "n{} cut off {}..{} ms",
                p.node + 1,
                p.from,
                p.until
            ));
        }
        if self.core.zone_helpers {
            parts.push("zone helpers".into());
        }
        if self.core.far_pass_every > 1 {
            parts.push(format!(
                "far members every {} passes",
                self.core.far_pass_every
            ));
        }
        if self.core.auto_rejoin {
            parts.push("auto rejoin".into());
        }
        if self.core.isolation_hold {
            parts.push("isolation hold".into());
        }
        if self.is_reliable() {
            parts.push("reliable network".into());
        }
        if self.core.unreachable {
            parts.push("unreachable on".into());
        }
        for (on, off) in [
            (self.core.lifeguard_local_health, "local health off"),
            (self.core.lifeguard_dynamic_suspicion, "fixed suspicion"),
            (self.core.lifeguard_buddy, "no buddy"),
        ] {
            if !on {
                parts.push(off.into());
            }
        }
        if self.stagger > 0 {
            parts.push(format!("stagger {} ms", self.stagger));
        }
        if self.shell_order {
            parts.push("shell order".into());
        }
        parts.push(format!(
            "horizon {} ms, faults before {} ms",
            self.horizon,
            self.disturb_until()
        ));
        parts.join(", ")
    }

    /// Why this setup cannot be checked, if it cannot.
    pub fn validate(&self) -> Result<(), String> {
        if !(2..=5).contains(&self.nodes) {
            return Err(format!("--nodes {} is outside 2..=5", self.nodes));
        }
        self.core.validate().map_err(|e| e.to_string())?;
        let disturbs = self.drops
            + self.duplicates
            + self.crashes
            + self.pauses
            + self.replays
            + self.leaves
            + self.meta_changes
            + self.rejoins
            + self.restarts
            + self.broadcasts
            + self.directs;
        if self.restarts > self.crashes {
            return Err(format!(
                "--restarts {} needs as many crashes (--crashes {}): only a crashed node restarts",
                self.restarts, self.crashes
            ));
        }
        if let Some(p) = self.partition
            && (p.node >= self.nodes || p.until > self.disturb_until() || p.from >= p.until)
        {
            return Err(format!(
                "the partition {p:?} must cut a node of the world and heal before {} ms",
                self.disturb_until()
            ));
        }
        if self.packed && self.meta(0).encoded_len() != self.core.max_meta_bytes {
            return Err(format!(
                "no padding makes metadata of exactly max_meta_bytes ({})",
                self.core.max_meta_bytes
            ));
        }
        if self.packed && self.zones > 1 {
            return Err("a packed world's metadata has no room for zones".into());
        }
        if disturbs > 0 && self.disturb_until() == 0 {
            return Err(format!(
                "--horizon {} leaves no time for faults: it must exceed the settle time of {} ms",
                self.horizon,
                self.settle()
            ));
        }
        Ok(())
    }
}

/// Metadata of `len` encoded bytes (one `pad` entry), or the longest shorter if no padding
/// comes to exactly `len`.
pub fn padded_meta(len: usize) -> Meta {
    (0..len)
        .rev()
        .map(|pad| Meta::from_pairs([("pad", "x".repeat(pad))]))
        .find(|m| m.encoded_len() <= len)
        .unwrap_or_default()
}

/// Ids of one model node's successive lives are this far apart.
const GENERATION: u64 = 8;

/// Model node `i` has id `n{i+1}`.
pub fn node_id(i: usize) -> NodeId {
    NodeId(i as u64 + 1)
}

/// The id a model node takes when it rejoins: `n{i+1}` becomes `n{i+1}'`, then `n{i+1}''`
/// (raw ids `i+1`, `i+1+8`, `i+1+16`, ...).
pub fn rejoin_id(id: NodeId) -> NodeId {
    NodeId(id.0 + GENERATION)
}

/// How many times the node that owns `id` had rejoined when it took it.
pub fn generation(id: NodeId) -> u64 {
    id.0.saturating_sub(1) / GENERATION
}

/// The id of model node `i` in its `g`th life.
pub fn node_id_in(i: usize, g: u64) -> NodeId {
    NodeId(node_id(i).0 + g * GENERATION)
}

/// Model node `i`'s first port; its second ([`moved_addr`]) is [`SECOND_PORTS`] above.
const FIRST_PORT: u16 = 7001;

/// How far a model node's second port is above its first (more than the nodes a world has).
const SECOND_PORTS: u16 = 100;

/// Model node `i` listens on `127.0.0.1:7001+i`.
pub fn node_addr(i: usize) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), FIRST_PORT + i as u16)
}

/// The model index of the node that owns (or owned) a node id, if it is one.
pub fn index_of(id: NodeId) -> Option<usize> {
    (id.0.checked_sub(1)).map(|v| (v % GENERATION) as usize)
}

/// Model node `i`, restarted ([`Setup::restarts`]), listens on `127.0.0.1:7101+i`.
pub fn moved_addr(i: usize) -> SocketAddr {
    SocketAddr::new(
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        FIRST_PORT + SECOND_PORTS + i as u16,
    )
}

/// The model index of the node listening (or that listened) on `addr`, if it is one.
pub fn index_of_addr(addr: SocketAddr) -> Option<usize> {
    (addr.port().checked_sub(FIRST_PORT)).map(|p| usize::from(p % SECOND_PORTS))
}
