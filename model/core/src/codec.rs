//! The wire format: a small header and the postcard encoding of a [`Message`].
//!
//! ```text
//! +------+------+---------+-----------+----------------------+
//! | 'S'  | 'W'  | version | label len | label | postcard(Message) |
//! +------+------+---------+-----------+----------------------+
//! ```
//!
//! The node packs gossip against exactly these sizes, so a datagram never exceeds
//! `Config::max_datagram`. Decoding never panics: every malformed input is a [`DecodeError`].

use std::fmt;

use crate::config::Config;
use crate::member::Member;
use crate::message::{Body, Message};

/// First two bytes of every datagram.
pub const MAGIC: [u8; 2] = *b"SW";
/// Protocol version this build speaks.
pub const VERSION: u8 = 1;
/// Longest cluster label.
pub const MAX_LABEL: usize = 255;
/// Smallest `max_datagram` accepted by [`Config::validate`].
pub const MIN_DATAGRAM: usize = 512;
/// Bound on suspecters per record accepted from the wire.
pub const MAX_SUSPECTERS: usize = 33;

/// Bytes of a message around one member record with no metadata, at worst (10-byte varints,
/// IPv6 address): what the metadata limit must leave room for.
const RECORD_OVERHEAD: usize = 96;

/// Largest metadata the configuration can carry in one datagram.
pub fn max_meta_room(config: &Config) -> usize {
    let fixed =
        header_len(&config.label) + RECORD_OVERHEAD + 10 * (config.suspicion_confirmations + 1);
    config.max_datagram.saturating_sub(fixed)
}

/// Header length for a label.
pub fn header_len(label: &str) -> usize {
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
        }
    }
}

impl std::error::Error for DecodeError {}

impl Wire {
    /// The wire of a configuration (its label, datagram size and metadata limit).
    pub fn new(config: &Config) -> Self {
        Wire {
            label: config.label.clone(),
            max_datagram: config.max_datagram,
            max_meta_bytes: config.max_meta_bytes,
        }
    }

    /// Header bytes of every datagram.
    pub fn header_len(&self) -> usize {
        header_len(&self.label)
    }

    /// Largest datagram.
    pub fn max_datagram(&self) -> usize {
        self.max_datagram
    }

    /// Encoded size of a whole datagram carrying `msg`.
    pub fn datagram_len(&self, msg: &Message) -> usize {
        self.header_len() + encoded_len(msg)
    }

    /// Encode `msg` into `buf` (cleared first).
    pub fn encode_into(&self, msg: &Message, buf: &mut Vec<u8>) -> Result<(), EncodeError> {
        buf.clear();
        buf.extend_from_slice(&MAGIC);
        buf.push(VERSION);
        buf.push(self.label.len() as u8);
        buf.extend_from_slice(self.label.as_bytes());
        let body =
            postcard::to_extend(msg, std::mem::take(buf)).expect("writing to a Vec cannot fail");
        *buf = body;
        if buf.len() > self.max_datagram {
            return Err(EncodeError::TooLarge {
                len: buf.len(),
                max: self.max_datagram,
            });
        }
        Ok(())
    }

    /// Encode `msg` as one datagram.
    pub fn encode(&self, msg: &Message) -> Result<Vec<u8>, EncodeError> {
        let mut buf = Vec::with_capacity(self.datagram_len(msg));
        self.encode_into(msg, &mut buf)?;
        Ok(buf)
    }

    /// Decode one datagram, checking header, label, exact length and limits.
    pub fn decode(&self, bytes: &[u8]) -> Result<Message, DecodeError> {
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
        let (msg, rest): (Message, &[u8]) = postcard::take_from_bytes(&bytes[4 + label_len..])
            .map_err(|e| DecodeError::Malformed(e.to_string()))?;
        if !rest.is_empty() {
            return Err(DecodeError::TrailingBytes(rest.len()));
        }
        self.check_limits(&msg)?;
        Ok(msg)
    }

    fn check_limits(&self, msg: &Message) -> Result<(), DecodeError> {
        let members: &[Member] = match &msg.body {
            Body::Sync { members, .. } => members,
            _ => &[],
        };
        for m in msg.gossip.iter().chain(members) {
            if m.meta.encoded_len() > self.max_meta_bytes {
                return Err(DecodeError::Invalid("metadata over the size limit"));
            }
            if m.suspecters.len() > MAX_SUSPECTERS {
                return Err(DecodeError::Invalid("too many suspecters"));
            }
        }
        Ok(())
    }
}
