//! Protocol configuration, its presets and its validation.

use std::fmt;

use crate::Millis;

/// A duration no run reaches: a tombstone TTL this long never expires.
pub const NEVER: Millis = Millis::MAX / 4;

/// Everything that tunes the protocol. Start from a preset ([`Config::lan`], [`Config::wan`],
/// [`Config::local`]) and adjust; [`Config::validate`] rejects nonsense before a node starts.
/// Serializable so that a recording of a run says which configuration it ran.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Config {
    /// Base protocol period: one probe round every `probe_interval x (LHM + 1)`.
    pub probe_interval: Millis,
    /// Base wait for a direct ack before asking helpers: `probe_timeout x (LHM + 1)`.
    pub probe_timeout: Millis,
    /// `p`: direct probes started per protocol period.
    pub direct_probes: usize,
    /// `k`: helpers asked to probe indirectly when a direct probe times out.
    pub indirect_checks: usize,
    /// Rounds of indirect probing after a direct probe times out (PROTOCOL.md §4), spread
    /// evenly over the rest of the period. Each asks `k` helpers not asked before and pings the
    /// target once more itself, so a lossy link gets more independent paths before a verdict;
    /// the extra rounds cost datagrams only when a probe is failing. 1: SWIM's single round.
    pub indirect_rounds: u8,
    /// Lifeguard `alpha`: minimum suspicion = `alpha x max(1, log10 n) x probe_interval`.
    pub suspicion_mult: u32,
    /// Lifeguard `beta`: maximum suspicion = `beta x minimum`.
    pub suspicion_max_mult: u32,
    /// Lifeguard `K`: independent confirmations that shrink a suspicion to its minimum.
    pub suspicion_confirmations: usize,
    /// Lifeguard `S`: the local health multiplier ranges over `0..=max_health`.
    pub max_health: u8,
    /// Lifeguard's local health aware probe (PROTOCOL.md §4): failed probes, silent helpers
    /// and refutations raise the multiplier that stretches this node's period and timeout.
    /// Off: the multiplier stays 0 (SWIM's fixed period and timeout).
    pub lifeguard_local_health: bool,
    /// Lifeguard's local health aware suspicion (PROTOCOL.md §5): a suspicion starts at the
    /// maximum timeout and shrinks with independent confirmations. Off: every suspicion lasts
    /// the minimum, `alpha x max(1, log10 n) x probe_interval` (SWIM's fixed timeout).
    pub lifeguard_dynamic_suspicion: bool,
    /// Lifeguard's buddy system (PROTOCOL.md §6): a datagram to a member held suspect carries
    /// that suspicion first, so the member hears of it at once and refutes. Off: the record
    /// waits in the gossip queue like any other.
    pub lifeguard_buddy: bool,
    /// Topology-aware helpers (PROTOCOL.md §15): a failed direct probe asks helpers from zones
    /// other than the target's and ours first (a member's zone is its metadata `zone`), so
    /// the indirect path does not share the direct path's fate. Off: helpers drawn uniformly.
    pub zone_helpers: bool,
    /// Topology-aware probing (PROTOCOL.md §15): with `f > 1`, members of other zones are in
    /// one probe pass of `f`, the rest hold only our zone's members, so direct probes stay
    /// near. A live member is still probed at least once every `(f + 1)(n - 1)` periods. 1:
    /// every pass holds every member (uniform).
    pub far_pass_every: u8,
    /// Each update is piggybacked `retransmit_mult x ceil(log10(n + 1))` times.
    pub retransmit_mult: u32,
    /// Largest datagram, header included.
    pub max_datagram: usize,
    /// Push-pull anti-entropy period (0 disables it); scaled up above 32 members.
    pub sync_interval: Millis,
    /// How long a dead member's record is kept so stale gossip cannot revive it.
    pub tombstone_ttl: Millis,
    /// Purged ids remembered after their tombstone expired (bounded FIFO).
    pub purged_memory: usize,
    /// Largest membership table; further joiners are ignored (and counted).
    pub max_members: usize,
    /// Largest metadata, as encoded on the wire (bytes).
    pub max_meta_bytes: usize,
    /// Indirect probes this node runs for others at once; further requests are dropped.
    pub max_relays: usize,
    /// Whether a suspicion timeout yields `unreachable` (the application confirms the death)
    /// rather than `dead`.
    pub unreachable: bool,
    /// Whether a node that learns it was declared dead (or that the cluster holds a newer
    /// generation of its id) comes back by itself at the next generation (PROTOCOL.md §14).
    /// Off: it stops, and the application decides ([`crate::Command::Rejoin`]).
    pub auto_rejoin: bool,
    /// Whether a suspicion that runs out while none of our probes has been answered since it
    /// began starts over instead of ending in a verdict: a node cut off from the cluster cannot
    /// tell its own isolation from everyone's death, so it does not judge (PROTOCOL.md §14).
    pub isolation_hold: bool,
    /// Cluster label carried in every datagram header; datagrams with another label are dropped.
    pub label: String,
    /// Join: wait between attempts while no seed has answered.
    pub join_retry_interval: Millis,
    /// Join: attempts before giving up.
    pub join_attempts: u32,
    /// Leave: longest wait for every member to acknowledge the `left` record before stopping.
    pub leave_timeout: Millis,
    /// Anti-amplification: until an address has proved it receives our datagrams, we send it at
    /// most this many times the bytes we received from it (QUIC's rule; PROTOCOL.md §12).
    pub amplification_factor: usize,
    /// Unvalidated addresses whose bytes received and sent are remembered (oldest forgotten).
    pub max_strangers: usize,
    /// Addresses validated by answering our ping, remembered (oldest forgotten).
    pub max_validated: usize,
    /// New members one datagram may introduce (a reply to our own sync request is exempt).
    pub max_new_per_datagram: usize,
    /// New members one source address may introduce per protocol period (same exemption).
    pub max_new_per_source: usize,
    /// Live members that never answered a probe of ours, at most; further ones are ignored.
    pub max_unanswered: usize,
    /// While more members than this never answered a probe, they leave the regular probe
    /// order and get one extra probe slot per period between them.
    pub unanswered_free: usize,
    /// A record more than this above the highest incarnation seen for its member (for an
    /// unknown member: above this) is dropped, so a member can always refute.
    pub max_incarnation_jump: u64,
    /// A record more than this above the highest generation held for its member (for an
    /// unknown member: above this) is dropped, so a forged generation cannot push a member past
    /// the last one it can rejoin at. The default, 2^48, is about 8,900 years of wall-clock
    /// milliseconds (the library's generation of a named node).
    pub max_generation_jump: u64,
    /// Application broadcasts: period of the gossip datagrams sent while some wait.
    pub gossip_interval: Millis,
    /// Application broadcasts: members sent a gossip datagram each `gossip_interval`.
    pub user_fanout: usize,
    /// Application broadcasts: each is sent `user_retransmit_mult x ceil(log10(n + 1))` times
    /// by every member that holds it.
    pub user_retransmit_mult: u32,
    /// Application data: largest payload, in bytes (a broadcast or a direct message); capped
    /// at what fits in one datagram (see [`Config::user_payload_limit`]).
    pub max_user_payload: usize,
    /// Application broadcasts waiting to be sent, at most; a full queue loses its most-sent one
    /// (counted in `NodeStats::user_dropped`).
    pub user_queue: usize,
    /// Application broadcasts: identities remembered to deliver each once.
    pub user_dedup: usize,
}

impl Config {
    /// LAN defaults, as memberlist's `DefaultLANConfig`.
    pub fn lan() -> Self {
        Config {
            probe_interval: 1_000,
            probe_timeout: 500,
            direct_probes: 1,
            indirect_checks: 3,
            indirect_rounds: 3,
            suspicion_mult: 4,
            suspicion_max_mult: 6,
            suspicion_confirmations: 2,
            max_health: 8,
            lifeguard_local_health: true,
            lifeguard_dynamic_suspicion: true,
            lifeguard_buddy: true,
            zone_helpers: false,
            far_pass_every: 1,
            retransmit_mult: 4,
            max_datagram: 1_400,
            sync_interval: 30_000,
            tombstone_ttl: 6 * 3_600_000,
            purged_memory: 4_096,
            max_members: 65_536,
            max_meta_bytes: 512,
            max_relays: 256,
            unreachable: false,
            auto_rejoin: true,
            isolation_hold: true,
            label: String::new(),
            join_retry_interval: 1_000,
            join_attempts: 10,
            leave_timeout: 5_000,
            amplification_factor: 3,
            max_strangers: 1_024,
            max_validated: 256,
            max_new_per_datagram: 64,
            max_new_per_source: 256,
            max_unanswered: 4_096,
            unanswered_free: 16,
            max_incarnation_jump: 1 << 32,
            max_generation_jump: 1 << 48,
            gossip_interval: 200,
            user_fanout: 3,
            user_retransmit_mult: 4,
            max_user_payload: 1_024,
            user_queue: 256,
            user_dedup: 8_192,
        }
    }

    /// WAN defaults: longer periods and timeouts, as memberlist's `DefaultWANConfig`.
    pub fn wan() -> Self {
        Config {
            probe_interval: 5_000,
            probe_timeout: 3_000,
            suspicion_mult: 6,
            sync_interval: 60_000,
            join_retry_interval: 5_000,
            leave_timeout: 15_000,
            ..Self::lan()
        }
    }

    /// Loopback defaults: short periods for tests and single-host clusters.
    pub fn local() -> Self {
        Config {
            probe_interval: 200,
            probe_timeout: 100,
            sync_interval: 15_000,
            join_retry_interval: 200,
            leave_timeout: 1_000,
            ..Self::lan()
        }
    }

    /// The largest application payload accepted: `max_user_payload`, or less if a datagram
    /// cannot carry that much.
    pub fn user_payload_limit(&self) -> usize {
        self.max_user_payload.min(crate::codec::max_user_room(self))
    }

    /// Whether the intake bounds (PROTOCOL.md §12) can ever act: with `max_members` no
    /// larger than every one of them, no datagram, source or backlog can exceed them, and a
    /// node keeps none of their state (the model checker's scaled-down worlds).
    pub fn intake_bounds_act(&self) -> bool {
        self.max_members
            > (self.max_new_per_datagram)
                .min(self.max_new_per_source)
                .min(self.unanswered_free)
    }

    /// Check that the configuration makes sense; the error says which field is wrong and why.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let fail = |field: &'static str, reason: String| Err(ConfigError { field, reason });
        if self.probe_interval == 0 {
            return fail("probe_interval", "must be greater than zero".into());
        }
        if self.probe_timeout == 0 {
            return fail("probe_timeout", "must be greater than zero".into());
        }
        if self.probe_timeout >= self.probe_interval {
            return fail(
                "probe_timeout",
                format!(
                    "{} ms must be shorter than probe_interval ({} ms) so an indirect probe fits in the period",
                    self.probe_timeout, self.probe_interval
                ),
            );
        }
        if self.direct_probes == 0 || self.direct_probes > 16 {
            return fail(
                "direct_probes",
                format!("{} is outside 1..=16", self.direct_probes),
            );
        }
        if self.indirect_checks > 16 {
            return fail(
                "indirect_checks",
                format!(
                    "{} helpers per probe is more than 16, which floods the network",
                    self.indirect_checks
                ),
            );
        }
        if self.indirect_rounds == 0 || self.indirect_rounds > 4 {
            return fail(
                "indirect_rounds",
                format!(
                    "{} is outside 1..=4 (1 is SWIM's single round; use indirect_checks = 0 for none)",
                    self.indirect_rounds
                ),
            );
        }
        if self.suspicion_mult == 0 {
            return fail("suspicion_mult", "must be at least 1".into());
        }
        if self.suspicion_max_mult == 0 {
            return fail(
                "suspicion_max_mult",
                "must be at least 1 (the maximum suspicion is a multiple of the minimum)".into(),
            );
        }
        if self.suspicion_confirmations > 32 {
            return fail(
                "suspicion_confirmations",
                format!("{} is more than 32", self.suspicion_confirmations),
            );
        }
        if self.far_pass_every == 0 {
            return fail(
                "far_pass_every",
                "0 would never probe another zone; 1 probes every member every pass".into(),
            );
        }
        if self.max_health > 64 {
            return fail("max_health", format!("{} is more than 64", self.max_health));
        }
        if self.max_health == 0 && self.lifeguard_local_health {
            return fail(
                "max_health",
                "0 leaves the local health multiplier no room; set lifeguard_local_health = false to turn it off".into(),
            );
        }
        if self.retransmit_mult == 0 {
            return fail(
                "retransmit_mult",
                "must be at least 1 or no update is ever sent".into(),
            );
        }
        if self.max_datagram < crate::codec::MIN_DATAGRAM || self.max_datagram > 65_507 {
            return fail(
                "max_datagram",
                format!(
                    "{} bytes is outside {}..=65507",
                    self.max_datagram,
                    crate::codec::MIN_DATAGRAM
                ),
            );
        }
        if self.label.len() > crate::codec::MAX_LABEL {
            return fail(
                "label",
                format!(
                    "{} bytes is longer than {}",
                    self.label.len(),
                    crate::codec::MAX_LABEL
                ),
            );
        }
        let room = crate::codec::max_meta_room(self);
        if self.max_meta_bytes > room {
            return fail(
                "max_meta_bytes",
                format!(
                    "{} bytes of metadata cannot fit in a {}-byte datagram (at most {room})",
                    self.max_meta_bytes, self.max_datagram
                ),
            );
        }
        if self.sync_interval != 0 && self.sync_interval < self.probe_interval {
            return fail(
                "sync_interval",
                format!(
                    "{} ms is shorter than probe_interval ({} ms); use 0 to disable sync",
                    self.sync_interval, self.probe_interval
                ),
            );
        }
        if self.tombstone_ttl == 0 {
            return fail(
                "tombstone_ttl",
                "must be greater than zero or dead members can come back".into(),
            );
        }
        if self.max_members < 2 {
            return fail("max_members", "must allow at least one peer".into());
        }
        if self.max_relays == 0 {
            return fail(
                "max_relays",
                "must be at least 1 or this node never helps an indirect probe".into(),
            );
        }
        if self.join_retry_interval == 0 {
            return fail("join_retry_interval", "must be greater than zero".into());
        }
        if self.leave_timeout == 0 {
            return fail("leave_timeout", "must be greater than zero".into());
        }
        if self.amplification_factor == 0 {
            return fail(
                "amplification_factor",
                "must be at least 1 or no stranger is ever answered".into(),
            );
        }
        if self.max_strangers == 0 {
            return fail("max_strangers", "must be at least 1".into());
        }
        if self.max_validated == 0 {
            return fail("max_validated", "must be at least 1".into());
        }
        if self.max_new_per_datagram == 0 {
            return fail(
                "max_new_per_datagram",
                "must be at least 1 or no member can join".into(),
            );
        }
        if self.max_new_per_source < self.max_new_per_datagram {
            return fail(
                "max_new_per_source",
                format!(
                    "{} is below max_new_per_datagram ({})",
                    self.max_new_per_source, self.max_new_per_datagram
                ),
            );
        }
        if self.unanswered_free == 0 || self.max_unanswered < self.unanswered_free {
            return fail(
                "unanswered_free",
                format!(
                    "{} must be at least 1 and at most max_unanswered ({})",
                    self.unanswered_free, self.max_unanswered
                ),
            );
        }
        if self.max_incarnation_jump == 0 {
            return fail(
                "max_incarnation_jump",
                "must be at least 1 or no member can refute".into(),
            );
        }
        if self.max_generation_jump == 0 {
            return fail(
                "max_generation_jump",
                "must be at least 1 or no member can rejoin".into(),
            );
        }
        if self.gossip_interval == 0 {
            return fail("gossip_interval", "must be greater than zero".into());
        }
        if self.user_fanout == 0 {
            return fail(
                "user_fanout",
                "must be at least 1 or no broadcast is ever sent".into(),
            );
        }
        if self.user_retransmit_mult == 0 {
            return fail(
                "user_retransmit_mult",
                "must be at least 1 or no broadcast is ever sent".into(),
            );
        }
        if self.user_queue == 0 {
            return fail("user_queue", "must hold at least one broadcast".into());
        }
        if self.user_dedup < self.user_queue {
            return fail(
                "user_dedup",
                format!(
                    "{} identities remembered is fewer than user_queue ({})",
                    self.user_dedup, self.user_queue
                ),
            );
        }
        Ok(())
    }
}

impl Default for Config {
    fn default() -> Self {
        Self::lan()
    }
}

/// A configuration that [`Config::validate`] rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The offending field.
    pub field: &'static str,
    /// Why it is rejected.
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid config: {}: {}", self.field, self.reason)
    }
}

impl std::error::Error for ConfigError {}
