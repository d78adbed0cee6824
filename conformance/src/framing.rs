//! How the replay harness puts messages into datagrams and takes them out: in the clear, or
//! sealed as a cluster in the middle of a key rotation.
//!
//! Sealed, the node under test holds two keys: the harness reads only what is sealed under the
//! primary (what the node must send with) and seals what it delivers under the second (an
//! older key, still accepted during a rotation). The harness seals and opens with its own
//! XChaCha20-Poly1305 around the core's framing ([`Wire::encode_sealed_into`],
//! [`Wire::open`]), not with the shell's code, so a slip in the shell's sealing, opening or
//! choice of key diverges instead of cancelling out.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{Tag, XChaCha20Poly1305, XNonce};
use swim_checked::{Encryption, Key, Keyring};
use swim_checked_core::codec::{CHECKSUM_LEN, NONCE_LEN, TAG_LEN};
use swim_checked_core::{EncodeError, Envelope, Message, Wire};

/// The keys of a sealed replay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keys {
    /// The node's primary key: the node seals with it; the harness opens with it alone.
    pub primary: [u8; 32],
    /// A second key the node still accepts: the harness seals with it.
    pub older: [u8; 32],
}

impl Keys {
    /// Two fixed, distinct keys.
    pub fn fixed() -> Self {
        Keys {
            primary: [0x5a; 32],
            older: [0xa5; 32],
        }
    }

    /// The node's keyring (primary first) and mode: sealed datagrams only, both ways. The
    /// keys reach the node as an operator hands them over, in base64 text, so the node opens
    /// the harness's datagrams only if the shell's text form of a key is the key.
    pub fn node_side(&self) -> Result<(Keyring, Encryption), String> {
        let key = |bytes: [u8; 32]| {
            let text = Key::from_bytes(bytes).to_base64();
            Key::from_base64(&text).map_err(|e| format!("the key's base64 {text:?}: {e}"))
        };
        let mut ring = Keyring::new(key(self.primary)?);
        (ring.install(key(self.older)?)).map_err(|e| format!("the older key: {e}"))?;
        Ok((ring, Encryption::Require))
    }
}

/// A datagram the node must drop, and why.
#[derive(Clone, Debug)]
pub struct Forgery {
    pub bytes: Vec<u8>,
    /// The drop reason the node must count it under.
    pub code: &'static str,
    /// What it is, for a divergence's text.
    pub what: &'static str,
}

/// The harness's encoder and decoder for one cluster label.
pub struct Framing {
    wire: Wire,
    /// Shared by the framings of other labels made from this one, so nonces never repeat.
    sealed: Option<Arc<Ciphers>>,
}

impl std::fmt::Debug for Framing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        (f.debug_struct("Framing"))
            .field("wire", &self.wire)
            .field("sealed", &self.is_sealed())
            .finish()
    }
}

struct Ciphers {
    /// Seals what the harness delivers.
    seal: XChaCha20Poly1305,
    /// Opens what the node sends.
    open: XChaCha20Poly1305,
    /// Nonces of the harness's datagrams: a counter (unique per key, which is all
    /// XChaCha20-Poly1305 asks).
    next_nonce: AtomicU64,
}

impl Framing {
    /// Framing on `wire`, sealed under `keys` if any.
    pub fn new(wire: Wire, keys: Option<&Keys>) -> Self {
        let sealed = keys.map(|k| {
            Arc::new(Ciphers {
                seal: XChaCha20Poly1305::new((&k.older).into()),
                open: XChaCha20Poly1305::new((&k.primary).into()),
                next_nonce: AtomicU64::new(1),
            })
        });
        Framing { wire, sealed }
    }

    /// The same keys on another cluster label's wire.
    pub fn relabelled(&self, wire: Wire) -> Self {
        Framing {
            wire,
            sealed: self.sealed.clone(),
        }
    }

    pub fn wire(&self) -> &Wire {
        &self.wire
    }

    /// Whether datagrams are sealed.
    pub fn is_sealed(&self) -> bool {
        self.sealed.is_some()
    }

    /// One datagram carrying `msg`, as the node must accept it.
    pub fn encode(&self, msg: &Message) -> Result<Vec<u8>, EncodeError> {
        let Some(c) = &self.sealed else {
            return self.wire.encode(msg);
        };
        let mut nonce = [0u8; NONCE_LEN];
        nonce[..8].copy_from_slice(&c.next_nonce.fetch_add(1, Ordering::Relaxed).to_le_bytes());
        let mut buf = Vec::new();
        self.wire
            .encode_sealed_into(msg, &nonce, &mut buf, |aad, nonce, body| {
                let tag = (c.seal)
                    .encrypt_in_place_detached(XNonce::from_slice(nonce), aad, body)
                    .expect("a datagram is far below the cipher's length limit");
                tag.into()
            })?;
        Ok(buf)
    }

    /// Datagrams carrying `msg` that the node must drop, each with the drop reason
    /// ([`DecodeError::reason`](swim_checked_core::DecodeError::reason)) and what it is: cut
    /// short; and when sealed, in the clear, sealed under a key the node does not hold, and
    /// sealed with one ciphertext byte altered.
    pub fn forgeries(&self, msg: &Message) -> Result<Vec<Forgery>, EncodeError> {
        if !self.is_sealed() {
            return Ok(vec![self.cut_short(msg)?]);
        }
        let stranger = Framing::new(
            self.wire.clone(),
            Some(&Keys {
                primary: [0x33; 32],
                older: [0x33; 32],
            }),
        );
        Ok(vec![
            Forgery {
                bytes: self.wire.encode(msg)?,
                code: "plaintext_refused",
                what: "a datagram in the clear",
            },
            Forgery {
                bytes: stranger.encode(msg)?,
                code: "unauthenticated",
                what: "a datagram sealed under a key the node does not hold",
            },
            self.tampered(msg)?,
            self.cut_short(msg)?,
        ])
    }

    /// A datagram carrying `msg` cut one byte short of holding any message: in the clear,
    /// the header and one byte less than a checksum; sealed, the header, nonce and tag with
    /// nothing between them. The node must drop it as truncated, before any checksum or tag.
    pub fn cut_short(&self, msg: &Message) -> Result<Forgery, EncodeError> {
        let bytes = self.encode(msg)?;
        // The header and the envelope kind.
        let head = self.wire.header_len() + 1;
        let bytes = match self.sealed {
            Some(_) => {
                let mut cut = bytes[..head + NONCE_LEN].to_vec();
                cut.extend_from_slice(&bytes[bytes.len() - TAG_LEN..]);
                cut
            }
            None => bytes[..head + CHECKSUM_LEN - 1].to_vec(),
        };
        Ok(Forgery {
            bytes,
            code: "truncated",
            what: "a datagram cut short of any message",
        })
    }

    /// A datagram carrying `msg` with its last body byte flipped on the way, which the node
    /// must drop: by its checksum in the clear, by its tag when sealed.
    pub fn tampered(&self, msg: &Message) -> Result<Forgery, EncodeError> {
        let mut bytes = self.encode(msg)?;
        let (trailer, code, what) = match self.sealed {
            Some(_) => (
                TAG_LEN,
                "unauthenticated",
                "a sealed datagram with a ciphertext byte altered",
            ),
            None => (
                CHECKSUM_LEN,
                "bad_checksum",
                "a datagram with a body byte altered",
            ),
        };
        let at = bytes.len() - trailer - 1;
        bytes[at] ^= 0x01;
        Ok(Forgery { bytes, code, what })
    }

    /// The message in a datagram the node sent: sealed under the primary key when sealed, and
    /// exactly as long as the core's size function says (what budgets and byte counts use).
    pub fn decode(&self, bytes: &[u8]) -> Result<Message, String> {
        let msg = self.open(bytes)?;
        let size = match self.sealed {
            Some(_) => self.wire.sealed_len(&msg),
            None => self.wire.datagram_len(&msg),
        };
        if size != bytes.len() {
            return Err(format!(
                "{} bytes long, where the core sizes its message at {size}",
                bytes.len()
            ));
        }
        Ok(msg)
    }

    fn open(&self, bytes: &[u8]) -> Result<Message, String> {
        let Some(c) = &self.sealed else {
            return self.wire.decode(bytes).map_err(|e| e.to_string());
        };
        let layout = match self.wire.open(bytes).map_err(|e| e.to_string())? {
            Envelope::Sealed(layout) => layout,
            Envelope::Plain { .. } => return Err("sent in the clear, not sealed".into()),
        };
        let mut body = bytes[layout.ciphertext.clone()].to_vec();
        let tag: [u8; TAG_LEN] = bytes[layout.tag].try_into().expect("the tag's length");
        (c.open)
            .decrypt_in_place_detached(
                XNonce::from_slice(&bytes[layout.nonce]),
                &bytes[layout.aad],
                &mut body,
                &Tag::from(tag),
            )
            .map_err(|_| "not sealed under the node's primary key".to_string())?;
        self.wire.decode_body(&body).map_err(|e| e.to_string())
    }
}
