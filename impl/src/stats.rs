//! Counters of one node: traffic, drops by reason, and the core's protocol counters.

use std::sync::atomic::{AtomicU64, Ordering};

use swim_checked_core::{DecodeError, MemberEvent, NodeStats, Status};

/// Datagrams dropped before reaching the core, by reason (see [`DecodeError::reason`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Drops {
    /// Shorter than a header.
    pub truncated: u64,
    /// Longer than `Config::max_datagram`.
    pub oversized: u64,
    /// Not starting with the protocol's magic bytes.
    pub bad_magic: u64,
    /// Another protocol version.
    pub unsupported_version: u64,
    /// Another cluster's label.
    pub label_mismatch: u64,
    /// A body that does not decode.
    pub malformed: u64,
    /// Bytes left after the message.
    pub trailing_bytes: u64,
    /// Decodes, but breaks a limit (metadata size, suspecters).
    pub invalid: u64,
    /// A plaintext datagram whose CRC-32C does not match (corrupted).
    pub bad_checksum: u64,
    /// A sealed datagram that no installed key opens (forged, corrupted, another key), or any
    /// sealed datagram with encryption off.
    pub unauthenticated: u64,
    /// A plaintext datagram while only sealed ones are accepted (`Encryption::Require`).
    pub plaintext_refused: u64,
    /// An envelope kind this build does not know.
    pub unknown_envelope: u64,
}

impl Drops {
    /// The reasons, in field order, as [`DecodeError::reason`] names them.
    pub const REASONS: [&'static str; 12] = [
        "truncated",
        "oversized",
        "bad_magic",
        "unsupported_version",
        "label_mismatch",
        "malformed",
        "trailing_bytes",
        "invalid",
        "bad_checksum",
        "unauthenticated",
        "plaintext_refused",
        "unknown_envelope",
    ];

    /// All drops.
    pub fn total(&self) -> u64 {
        self.iter().map(|(_, n)| n).sum()
    }

    /// The count for a reason name; `None` for an unknown name.
    pub fn get(&self, reason: &str) -> Option<u64> {
        self.iter().find(|(r, _)| *r == reason).map(|(_, n)| n)
    }

    /// `(reason, count)` pairs, in field order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> {
        let counts = [
            self.truncated,
            self.oversized,
            self.bad_magic,
            self.unsupported_version,
            self.label_mismatch,
            self.malformed,
            self.trailing_bytes,
            self.invalid,
            self.bad_checksum,
            self.unauthenticated,
            self.plaintext_refused,
            self.unknown_envelope,
        ];
        Self::REASONS.into_iter().zip(counts)
    }

    pub(crate) fn record(&mut self, error: &DecodeError) {
        let slot = match error {
            DecodeError::Truncated { .. } => &mut self.truncated,
            DecodeError::Oversized { .. } => &mut self.oversized,
            DecodeError::BadMagic => &mut self.bad_magic,
            DecodeError::UnsupportedVersion(_) => &mut self.unsupported_version,
            DecodeError::LabelMismatch => &mut self.label_mismatch,
            DecodeError::Malformed(_) => &mut self.malformed,
            DecodeError::TrailingBytes(_) => &mut self.trailing_bytes,
            DecodeError::Invalid(_) => &mut self.invalid,
            DecodeError::BadChecksum => &mut self.bad_checksum,
            DecodeError::Unauthenticated => &mut self.unauthenticated,
            DecodeError::PlaintextRefused => &mut self.plaintext_refused,
            DecodeError::UnknownEnvelope(_) => &mut self.unknown_envelope,
        };
        *slot += 1;
    }
}

/// A snapshot of a node's counters ([`Node::stats`](crate::Node::stats)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Datagrams received (decoded or not).
    pub datagrams_in: u64,
    /// UDP payload bytes received.
    pub bytes_in: u64,
    /// Datagrams handed to the transport.
    pub datagrams_out: u64,
    /// UDP payload bytes handed to the transport.
    pub bytes_out: u64,
    /// Received datagrams dropped before the core, by reason.
    pub dropped: Drops,
    /// Sends the transport refused (buffer full, unreachable network...).
    pub send_errors: u64,
    /// Receive errors reported by the transport.
    pub recv_errors: u64,
    /// Messages the codec refused to encode (never expected: the core packs to size).
    pub encode_errors: u64,
    /// Lifeguard's local health multiplier, now.
    pub health: u8,
    /// Updates waiting to be piggybacked (the dissemination backlog), now: 0 once the news
    /// has been told enough times.
    pub gossip_queued: usize,
    /// Direct probes started.
    pub probes_sent: u64,
    /// Probes that got no ack at all, direct or indirect.
    pub probes_failed: u64,
    /// Suspicions this node raised (its own failed probes).
    pub suspicions_raised: u64,
    /// Suspicions about this node that it refuted.
    pub refutations: u64,
    /// Members suspected here that came back alive (suspicions refuted by their subject).
    pub suspicions_refuted: u64,
    /// Member events emitted.
    pub events: u64,
    /// Every counter of the core.
    pub core: NodeStats,
}

/// The shell's own counters that a step changes under the node's lock (the rest comes from the
/// core, and from [`IoCounters`], when a snapshot is taken).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ShellStats {
    datagrams_in: u64,
    bytes_in: u64,
    dropped: Drops,
    suspicions_refuted: u64,
    events: u64,
}

/// The shell's counters of what happens outside the node's lock: datagrams handed to the
/// transport after a step, and receive errors.
#[derive(Debug, Default)]
pub(crate) struct IoCounters {
    datagrams_out: AtomicU64,
    bytes_out: AtomicU64,
    send_errors: AtomicU64,
    encode_errors: AtomicU64,
    recv_errors: AtomicU64,
}

impl IoCounters {
    /// After a step: datagrams and bytes sent, sends refused, messages that did not encode.
    pub fn sent(&self, datagrams: u64, bytes: u64, errors: u64, too_large: u64) {
        for (counter, n) in [
            (&self.datagrams_out, datagrams),
            (&self.bytes_out, bytes),
            (&self.send_errors, errors),
            (&self.encode_errors, too_large),
        ] {
            if n > 0 {
                counter.fetch_add(n, Ordering::Relaxed);
            }
        }
    }

    pub fn recv_error(&self) {
        self.recv_errors.fetch_add(1, Ordering::Relaxed);
    }
}

impl ShellStats {
    /// A datagram of `len` bytes arrived; `error`: why it was dropped.
    pub fn received(&mut self, len: usize, error: Option<&DecodeError>) {
        self.datagrams_in += 1;
        self.bytes_in += len as u64;
        if let Some(error) = error {
            self.dropped.record(error);
        }
    }

    /// The core emitted `event`.
    pub fn event(&mut self, event: &MemberEvent) {
        self.events += 1;
        if event.from == Some(Status::Suspect) && event.to == Status::Alive {
            self.suspicions_refuted += 1;
        }
    }

    pub fn snapshot(
        &self,
        io: &IoCounters,
        core: NodeStats,
        health: u8,
        gossip_queued: usize,
    ) -> Stats {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        Stats {
            datagrams_in: self.datagrams_in,
            bytes_in: self.bytes_in,
            datagrams_out: load(&io.datagrams_out),
            bytes_out: load(&io.bytes_out),
            dropped: self.dropped,
            send_errors: load(&io.send_errors),
            recv_errors: load(&io.recv_errors),
            encode_errors: load(&io.encode_errors),
            health,
            gossip_queued,
            probes_sent: core.probes_sent,
            probes_failed: core.probes_failed,
            suspicions_raised: core.suspicions_raised,
            refutations: core.refutations,
            suspicions_refuted: self.suspicions_refuted,
            events: self.events,
            core,
        }
    }
}
