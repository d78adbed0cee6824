//! The wire format: a small header, an envelope kind, and the postcard encoding of a
//! [`Message`], either in the clear with a checksum or sealed (authenticated encryption).
//!
//! ```text
//! +-----+-----+---------+-----------+-------+------+------------------------------------------+
//! | 'S' | 'W' | version | label len | label | kind | envelope                                 |
//! +-----+-----+---------+-----------+-------+------+------------------------------------------+
//! kind 0, plaintext: postcard(Message) | crc32c(header | kind | postcard(Message)), 4 bytes LE
//! kind 1, sealed:    nonce (24) | XChaCha20-Poly1305(postcard(Message)) | tag (16)
//!                    associated data: header | kind
//! ```
//!
//! This module encodes and decodes the plaintext envelope and lays out the sealed one; the
//! cipher itself (keys, nonces from the OS) belongs to the shell, so the core stays free of
//! randomness and keys. The node packs gossip against `max_datagram` minus the header and
//! [`ENVELOPE_RESERVE`] (the larger envelope), whichever envelope the shell then uses, so a
//! datagram never exceeds `Config::max_datagram`. Decoding never panics: every malformed input
//! is a [`DecodeError`].

use std::fmt;

use crate::config::Config;
use crate::member::Member;
use crate::message::{Body, Message};

/// First two bytes of every datagram.
pub const MAGIC: [u8; 2] = *b"SW";
/// Protocol version this build speaks (3: member records carry a name and a generation).
pub const VERSION: u8 = 3;
/// Envelope kind of a plaintext datagram: the body, then its CRC-32C.
pub const KIND_PLAIN: u8 = 0;
/// Envelope kind of a sealed datagram: nonce, then the encrypted body and its tag.
pub const KIND_SEALED: u8 = 1;
/// Bytes of the CRC-32C that ends a plaintext datagram.
pub const CHECKSUM_LEN: usize = 4;
/// Bytes of the XChaCha20-Poly1305 nonce of a sealed datagram.
pub const NONCE_LEN: usize = 24;
/// Bytes of the Poly1305 tag that ends a sealed datagram.
pub const TAG_LEN: usize = 16;
/// Bytes of the larger envelope besides the body, the kind byte included: what the packing
/// budget sets aside whatever the shell's encryption mode.
pub const ENVELOPE_RESERVE: usize = 1 + if NONCE_LEN + TAG_LEN > CHECKSUM_LEN {
    NONCE_LEN + TAG_LEN
} else {
    CHECKSUM_LEN
};
/// Longest cluster label.
pub const MAX_LABEL: usize = 255;
/// Smallest `max_datagram` accepted by [`Config::validate`].
pub const MIN_DATAGRAM: usize = 512;
/// Bound on suspecters per record accepted from the wire.
pub const MAX_SUSPECTERS: usize = 33;

/// Bytes of a message around one member record with no metadata, at worst (10-byte varints,
/// IPv6 address, the longest name): what the metadata limit must leave room for.
const RECORD_OVERHEAD: usize = 106 + 2 + crate::member::MAX_NAME_BYTES;

/// Largest metadata the configuration can carry in one datagram.
pub fn max_meta_room(config: &Config) -> usize {
    let fixed = datagram_overhead(&config.label)
        + RECORD_OVERHEAD
        + 10 * (config.suspicion_confirmations + 1);
    config.max_datagram.saturating_sub(fixed)
}

/// Bytes of a message around one application payload, at worst: sender and origin ids,
/// sequence number and length varints, body tag and the empty gossip vector.
const USER_OVERHEAD: usize = 48;

/// Largest application payload the configuration can carry in one datagram.
pub fn max_user_room(config: &Config) -> usize {
    config
        .max_datagram
        .saturating_sub(datagram_overhead(&config.label) + USER_OVERHEAD)
}

/// Bytes a datagram of cluster `label` spends besides the postcard message, at most: the header
/// (magic, version, label) and [`ENVELOPE_RESERVE`]. The node packs gossip against
/// `max_datagram - datagram_overhead(label) - encoded message`. [`Wire::header_len`] is the
/// header alone.
pub fn datagram_overhead(label: &str) -> usize {
    prefix_len(label) + ENVELOPE_RESERVE
}

/// Bytes a plaintext datagram of cluster `label` spends besides the postcard message: the
/// header, the envelope kind and the CRC-32C (the smallest envelope).
pub fn plaintext_overhead(label: &str) -> usize {
    prefix_len(label) + 1 + CHECKSUM_LEN
}

/// Bytes of the header alone: magic, version, label length and label.
fn prefix_len(label: &str) -> usize {
    MAGIC.len() + 2 + label.len()
}

/// Encoded size of any serializable part of a message.
pub fn encoded_len<T: serde::Serialize + ?Sized>(value: &T) -> usize {
    postcard::experimental::serialized_size(value).unwrap_or(usize::MAX)
}

/// Bytes a LEB128 varint length prefix takes.
pub fn varint_len(n: usize) -> usize {
    let bits = usize::BITS - (n | 1).leading_zeros();
    bits.div_ceil(7) as usize
}

/// Encoder and decoder for one cluster (label) and datagram size.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Wire {
    label: String,
    max_datagram: usize,
    max_meta_bytes: usize,
    max_user_payload: usize,
}

/// Why a datagram was not encoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EncodeError {
    /// The encoded message would exceed the datagram size.
    TooLarge {
        /// Encoded length, header included.
        len: usize,
        /// The configured datagram size.
        max: usize,
    },
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::TooLarge { len, max } => {
                write!(f, "message of {len} bytes exceeds the {max}-byte datagram")
            }
        }
    }
}

impl std::error::Error for EncodeError {}

/// Why a datagram was dropped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Shorter than a header.
    Truncated {
        /// Bytes received.
        len: usize,
    },
    /// Longer than the configured datagram size.
    Oversized {
        /// Bytes received.
        len: usize,
        /// The configured datagram size.
        max: usize,
    },
    /// Does not start with the magic bytes: not ours.
    BadMagic,
    /// A protocol version this build does not speak.
    UnsupportedVersion(u8),
    /// Another cluster's label (or none where one is expected).
    LabelMismatch,
    /// The body is not a valid encoding.
    Malformed(String),
    /// Bytes left over after the message.
    TrailingBytes(usize),
    /// Decodes, but breaks a limit (metadata size, suspecters, ...).
    Invalid(&'static str),
    /// A plaintext datagram whose CRC-32C does not match: corrupted on the way (or forged
    /// carelessly).
    BadChecksum,
    /// A sealed datagram that no installed key opens (or none is installed): forged, corrupted,
    /// or sealed with a key this node does not hold.
    Unauthenticated,
    /// A plaintext datagram where only sealed ones are accepted.
    PlaintextRefused,
    /// An envelope kind this build does not know.
    UnknownEnvelope(u8),
}

impl DecodeError {
    /// Stable short name of the reason, for drop counters.
    pub fn reason(&self) -> &'static str {
        match self {
            DecodeError::Truncated { .. } => "truncated",
            DecodeError::Oversized { .. } => "oversized",
            DecodeError::BadMagic => "bad_magic",
            DecodeError::UnsupportedVersion(_) => "unsupported_version",
            DecodeError::LabelMismatch => "label_mismatch",
            DecodeError::Malformed(_) => "malformed",
            DecodeError::TrailingBytes(_) => "trailing_bytes",
            DecodeError::Invalid(_) => "invalid",
            DecodeError::BadChecksum => "bad_checksum",
            DecodeError::Unauthenticated => "unauthenticated",
            DecodeError::PlaintextRefused => "plaintext_refused",
            DecodeError::UnknownEnvelope(_) => "unknown_envelope",
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated { len } => write!(f, "truncated datagram ({len} bytes)"),
            DecodeError::Oversized { len, max } => {
                write!(f, "oversized datagram ({len} bytes, limit {max})")
            }
            DecodeError::BadMagic => write!(f, "bad magic bytes"),
            DecodeError::UnsupportedVersion(v) => {
                write!(
                    f,
                    "unsupported protocol version {v} (this build speaks {VERSION})"
                )
            }
            DecodeError::LabelMismatch => write!(f, "cluster label mismatch"),
            DecodeError::Malformed(e) => write!(f, "malformed message: {e}"),
            DecodeError::TrailingBytes(n) => write!(f, "{n} trailing bytes after the message"),
            DecodeError::Invalid(why) => write!(f, "invalid message: {why}"),
            DecodeError::BadChecksum => write!(f, "checksum mismatch"),
            DecodeError::Unauthenticated => write!(f, "sealed by no installed key"),
            DecodeError::PlaintextRefused => write!(f, "plaintext refused: only sealed accepted"),
            DecodeError::UnknownEnvelope(k) => write!(f, "unknown envelope kind {k}"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// A received datagram whose header checked out, before its body is decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Envelope<'a> {
    /// In the clear; the checksum matched.
    Plain {
        /// The postcard body.
        body: &'a [u8],
    },
    /// Sealed: where its parts lie, to open it (in place) with a key.
    Sealed(SealedLayout),
}

/// Where the parts of a sealed datagram lie (byte ranges into it), for opening it in place.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SealedLayout {
    /// Header and kind byte: the associated data.
    pub aad: std::ops::Range<usize>,
    /// The nonce.
    pub nonce: std::ops::Range<usize>,
    /// The encrypted body.
    pub ciphertext: std::ops::Range<usize>,
    /// The tag.
    pub tag: std::ops::Range<usize>,
}

/// The CRC-32C of a plaintext datagram's header, kind and body (little-endian), which ends it.
pub fn checksum(covered: &[u8]) -> [u8; CHECKSUM_LEN] {
    crc32c::crc32c(covered).to_le_bytes()
}

impl Wire {
    /// The wire of a configuration (its label, datagram size and metadata limit).
    pub fn new(config: &Config) -> Self {
        Wire {
            label: config.label.clone(),
            max_datagram: config.max_datagram,
            max_meta_bytes: config.max_meta_bytes,
            max_user_payload: config.user_payload_limit(),
        }
    }

    /// Header bytes of every datagram (magic, version, label length, label), before the
    /// envelope kind.
    pub fn header_len(&self) -> usize {
        prefix_len(&self.label)
    }

    /// Largest datagram.
    pub fn max_datagram(&self) -> usize {
        self.max_datagram
    }

    /// Encoded size of a whole plaintext datagram carrying `msg`.
    pub fn datagram_len(&self, msg: &Message) -> usize {
        self.header_len() + 1 + encoded_len(msg) + CHECKSUM_LEN
    }

    /// Encoded size of a whole sealed datagram carrying `msg`.
    pub fn sealed_len(&self, msg: &Message) -> usize {
        self.header_len() + 1 + NONCE_LEN + encoded_len(msg) + TAG_LEN
    }

    /// Header, kind and (for a sealed datagram) nonce, then the body: `buf` cleared first.
    fn put_body(
        &self,
        kind: u8,
        nonce: Option<&[u8; NONCE_LEN]>,
        msg: &Message,
        buf: &mut Vec<u8>,
    ) {
        buf.clear();
        buf.extend_from_slice(&MAGIC);
        buf.push(VERSION);
        buf.push(self.label.len() as u8);
        buf.extend_from_slice(self.label.as_bytes());
        buf.push(kind);
        if let Some(nonce) = nonce {
            buf.extend_from_slice(nonce);
        }
        let body =
            postcard::to_extend(msg, std::mem::take(buf)).expect("writing to a Vec cannot fail");
        *buf = body;
    }

    fn check_len(&self, buf: &[u8]) -> Result<(), EncodeError> {
        if buf.len() > self.max_datagram {
            return Err(EncodeError::TooLarge {
                len: buf.len(),
                max: self.max_datagram,
            });
        }
        Ok(())
    }

    /// Encode `msg` as a plaintext datagram (kind 0, with its CRC-32C) into `buf` (cleared
    /// first).
    pub fn encode_into(&self, msg: &Message, buf: &mut Vec<u8>) -> Result<(), EncodeError> {
        self.put_body(KIND_PLAIN, None, msg, buf);
        let sum = checksum(buf);
        buf.extend_from_slice(&sum);
        self.check_len(buf)
    }

    /// Encode `msg` as a sealed datagram (kind 1) into `buf` (cleared first): `seal` encrypts
    /// the body in place, given the associated data (header and kind) and the nonce, and
    /// returns the tag, which is appended.
    pub fn encode_sealed_into(
        &self,
        msg: &Message,
        nonce: &[u8; NONCE_LEN],
        buf: &mut Vec<u8>,
        seal: impl FnOnce(&[u8], &[u8; NONCE_LEN], &mut [u8]) -> [u8; TAG_LEN],
    ) -> Result<(), EncodeError> {
        self.put_body(KIND_SEALED, Some(nonce), msg, buf);
        let aad_len = self.header_len() + 1;
        let (head, body) = buf.split_at_mut(aad_len + NONCE_LEN);
        let tag = seal(&head[..aad_len], nonce, body);
        buf.extend_from_slice(&tag);
        self.check_len(buf)
    }

    /// Encode `msg` as one datagram.
    pub fn encode(&self, msg: &Message) -> Result<Vec<u8>, EncodeError> {
        let mut buf = Vec::with_capacity(self.datagram_len(msg));
        self.encode_into(msg, &mut buf)?;
        Ok(buf)
    }

    /// Decode one plaintext datagram, checking header, label, checksum, exact length and
    /// limits. A sealed datagram is [`DecodeError::Unauthenticated`] here: the shell opens
    /// those (see [`Wire::open`]).
    pub fn decode(&self, bytes: &[u8]) -> Result<Message, DecodeError> {
        match self.open(bytes)? {
            Envelope::Plain { body } => self.decode_body(body),
            Envelope::Sealed { .. } => Err(DecodeError::Unauthenticated),
        }
    }

    /// Check a datagram's size, header, label and envelope; for a plaintext one, its checksum.
    /// The body is not decoded yet (see [`Wire::decode_body`]).
    pub fn open<'a>(&self, bytes: &'a [u8]) -> Result<Envelope<'a>, DecodeError> {
        let kind_at = self.check_header(bytes)?;
        let Some(&kind) = bytes.get(kind_at) else {
            return Err(DecodeError::Truncated { len: bytes.len() });
        };
        match kind {
            KIND_PLAIN => {
                let Some(end) = bytes
                    .len()
                    .checked_sub(CHECKSUM_LEN)
                    .filter(|&e| e > kind_at)
                else {
                    return Err(DecodeError::Truncated { len: bytes.len() });
                };
                if checksum(&bytes[..end]) != bytes[end..] {
                    return Err(DecodeError::BadChecksum);
                }
                Ok(Envelope::Plain {
                    body: &bytes[kind_at + 1..end],
                })
            }
            KIND_SEALED => {
                let nonce = kind_at + 1..kind_at + 1 + NONCE_LEN;
                let Some(tag_at) = bytes.len().checked_sub(TAG_LEN).filter(|&t| t > nonce.end)
                else {
                    return Err(DecodeError::Truncated { len: bytes.len() });
                };
                Ok(Envelope::Sealed(SealedLayout {
                    aad: 0..kind_at + 1,
                    ciphertext: nonce.end..tag_at,
                    nonce,
                    tag: tag_at..bytes.len(),
                }))
            }
            other => Err(DecodeError::UnknownEnvelope(other)),
        }
    }

    /// Decode a body (plaintext, or opened): exact length and limits.
    pub fn decode_body(&self, body: &[u8]) -> Result<Message, DecodeError> {
        let (msg, rest): (Message, &[u8]) =
            postcard::take_from_bytes(body).map_err(|e| DecodeError::Malformed(e.to_string()))?;
        if !rest.is_empty() {
            return Err(DecodeError::TrailingBytes(rest.len()));
        }
        self.check_limits(&msg)?;
        Ok(msg)
    }

    /// Check size, magic, version and label; returns where the envelope kind lies.
    fn check_header(&self, bytes: &[u8]) -> Result<usize, DecodeError> {
        if bytes.len() > self.max_datagram {
            return Err(DecodeError::Oversized {
                len: bytes.len(),
                max: self.max_datagram,
            });
        }
        if bytes.len() < 4 {
            return Err(DecodeError::Truncated { len: bytes.len() });
        }
        if bytes[..2] != MAGIC {
            return Err(DecodeError::BadMagic);
        }
        if bytes[2] != VERSION {
            return Err(DecodeError::UnsupportedVersion(bytes[2]));
        }
        let label_len = bytes[3] as usize;
        let Some(label) = bytes.get(4..4 + label_len) else {
            return Err(DecodeError::Truncated { len: bytes.len() });
        };
        if label != self.label.as_bytes() {
            return Err(DecodeError::LabelMismatch);
        }
        Ok(4 + label_len)
    }

    fn check_limits(&self, msg: &Message) -> Result<(), DecodeError> {
        let members: &[Member] = match &msg.body {
            Body::Sync { members, .. } => members,
            Body::Gossip { broadcasts } => {
                if (broadcasts.iter()).any(|b| b.payload.len() > self.max_user_payload) {
                    return Err(DecodeError::Invalid("broadcast over the payload limit"));
                }
                &[]
            }
            Body::Direct { payload } if payload.len() > self.max_user_payload => {
                return Err(DecodeError::Invalid(
                    "direct message over the payload limit",
                ));
            }
            _ => &[],
        };
        for m in msg.gossip.iter().chain(members) {
            if m.meta.encoded_len() > self.max_meta_bytes {
                return Err(DecodeError::Invalid("metadata over the size limit"));
            }
            if m.suspecters.len() > MAX_SUSPECTERS {
                return Err(DecodeError::Invalid("too many suspecters"));
            }
            if let Some(why) = m.name_error() {
                return Err(DecodeError::Invalid(why));
            }
        }
        Ok(())
    }
}
