//! Authenticated encryption of datagrams: keys, the keyring, the rollout mode, and the codec
//! the node task encodes and decodes with.
//!
//! Every datagram is either plaintext (with a CRC-32C) or sealed with XChaCha20-Poly1305 under
//! the keyring's primary key, with a fresh 24-byte random nonce from the operating system; the
//! header (magic, version, cluster label) and the envelope kind are authenticated as associated
//! data. A sealed datagram is opened with each installed key in turn, primary first. See
//! `docs/security.md` for the threat model, key rotation and the rollout steps.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use chacha20poly1305::aead::AeadInPlace;
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use rand::TryRngCore;
use rand::rngs::OsRng;
use swim_checked_core::codec::{NONCE_LEN, TAG_LEN};
use swim_checked_core::{DecodeError, EncodeError, Envelope, Message, Wire};
use zeroize::Zeroizing;

/// Bytes of a key.
pub const KEY_LEN: usize = 32;

/// Most keys a keyring holds: each one is tried on a sealed datagram that the keys before it
/// did not open, so the work a forged datagram costs grows with the count.
pub const MAX_KEYS: usize = 8;

/// A 32-byte XChaCha20-Poly1305 key. Its bytes are never printed (`Debug` shows
/// `Key(<redacted>)`) and are zeroed when it is dropped (`Zeroizing`).
#[derive(Clone)]
pub struct Key(Zeroizing<[u8; KEY_LEN]>);

impl Key {
    /// A key from its bytes.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Key(Zeroizing::new(bytes))
    }

    /// A key from standard base64 (with or without `=` padding), as
    /// `head -c 32 /dev/urandom | base64` prints it; surrounding whitespace is ignored.
    pub fn from_base64(text: &str) -> Result<Self, KeyError> {
        let bytes = base64_decode(text.trim()).ok_or(KeyError::BadEncoding)?;
        let bytes: [u8; KEY_LEN] = bytes.try_into().map_err(|_| KeyError::BadEncoding)?;
        Ok(Key::from_bytes(bytes))
    }

    /// A fresh random key from the operating system's random source.
    pub fn generate() -> Result<Self, KeyError> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        OsRng
            .try_fill_bytes(&mut *bytes)
            .map_err(|_| KeyError::NoRandomness)?;
        Ok(Key(bytes))
    }

    /// The key's bytes.
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// The key in standard base64 (padded), the form [`Key::from_base64`] reads.
    pub fn to_base64(&self) -> String {
        base64_encode(&self.0[..])
    }

    /// Equality without early exit, so comparing keys does not leak where they differ.
    fn same(&self, other: &Key) -> bool {
        self.0
            .iter()
            .zip(other.0.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.same(other)
    }
}

impl Eq for Key {}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(<redacted>)")
    }
}

/// Several keys, one of them primary: the primary seals every datagram sent; every installed
/// key is tried when opening one. Rotating: install the new key everywhere, make it primary
/// everywhere, then remove the old one everywhere; no datagram is refused on the way.
#[derive(Clone, PartialEq, Eq)]
pub struct Keyring {
    /// The primary first.
    keys: Vec<Key>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("keys", &self.keys.len())
            .finish_non_exhaustive()
    }
}

impl Keyring {
    /// A keyring holding `primary` alone.
    pub fn new(primary: Key) -> Self {
        Keyring {
            keys: vec![primary],
        }
    }

    /// The key that seals.
    pub fn primary(&self) -> &Key {
        &self.keys[0]
    }

    /// Every installed key, the primary first.
    pub fn keys(&self) -> &[Key] {
        &self.keys
    }

    /// Add a key that opens datagrams (it does not seal until [`use_key`](Keyring::use_key)).
    /// Installing a key already there does nothing.
    pub fn install(&mut self, key: Key) -> Result<(), KeyError> {
        if self.keys.contains(&key) {
            return Ok(());
        }
        if self.keys.len() >= MAX_KEYS {
            return Err(KeyError::TooManyKeys);
        }
        self.keys.push(key);
        Ok(())
    }

    /// Make an installed key the primary (the one that seals).
    pub fn use_key(&mut self, key: &Key) -> Result<(), KeyError> {
        let at = self
            .keys
            .iter()
            .position(|k| k == key)
            .ok_or(KeyError::UnknownKey)?;
        let key = self.keys.remove(at);
        self.keys.insert(0, key);
        Ok(())
    }

    /// Remove an installed key that is not the primary.
    pub fn remove(&mut self, key: &Key) -> Result<(), KeyError> {
        let at = self
            .keys
            .iter()
            .position(|k| k == key)
            .ok_or(KeyError::UnknownKey)?;
        if at == 0 {
            return Err(KeyError::PrimaryKey);
        }
        self.keys.remove(at);
        Ok(())
    }
}

/// What a node sends and accepts: the steps of rolling encryption out (or back) member by
/// member without losing a datagram. See `docs/security.md`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Encryption {
    /// Send plaintext, accept only plaintext (sealed datagrams are dropped as
    /// `unauthenticated`, even with keys installed). The default without a keyring.
    #[default]
    Off,
    /// Send plaintext, accept plaintext and sealed (needs a key): the first rollout step.
    Accept,
    /// Send sealed, accept plaintext and sealed (needs a key): the second rollout step.
    Send,
    /// Send sealed, accept only sealed (needs a key): plaintext is dropped as
    /// `plaintext_refused`. The default once a keyring is given.
    Require,
}

impl Encryption {
    /// Whether the mode needs a key.
    pub fn needs_key(self) -> bool {
        self != Encryption::Off
    }

    fn seals(self) -> bool {
        matches!(self, Encryption::Send | Encryption::Require)
    }
}

/// Why a key operation was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// The primary key cannot be removed: make another key primary first
    /// ([`Node::use_key`](crate::Node::use_key)).
    PrimaryKey,
    /// The key is not installed.
    UnknownKey,
    /// The keyring already holds [`MAX_KEYS`] keys.
    TooManyKeys,
    /// The encryption mode needs a key and none is installed.
    NoKey(Encryption),
    /// Not a 32-byte key in standard base64.
    BadEncoding,
    /// The operating system's random source failed.
    NoRandomness,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::PrimaryKey => write!(
                f,
                "the primary key cannot be removed: make another key primary first"
            ),
            KeyError::UnknownKey => write!(f, "no such key is installed"),
            KeyError::TooManyKeys => write!(f, "the keyring is full ({MAX_KEYS} keys)"),
            KeyError::NoKey(mode) => {
                write!(
                    f,
                    "encryption mode {mode:?} needs a key and none is installed"
                )
            }
            KeyError::BadEncoding => write!(f, "not a 32-byte key in standard base64"),
            KeyError::NoRandomness => write!(f, "the operating system's random source failed"),
        }
    }
}

impl std::error::Error for KeyError {}

/// The keys and mode in force, with a cipher per key.
pub(crate) struct Sealing {
    mode: Encryption,
    keyring: Option<Keyring>,
    /// One per key, in keyring order (the primary first).
    ciphers: Vec<XChaCha20Poly1305>,
}

impl Sealing {
    fn new(mode: Encryption, keyring: Option<Keyring>) -> Result<Self, KeyError> {
        if mode.needs_key() && keyring.is_none() {
            return Err(KeyError::NoKey(mode));
        }
        let ciphers = keyring
            .iter()
            .flat_map(|k| k.keys())
            .map(|k| XChaCha20Poly1305::new(k.as_bytes().into()))
            .collect();
        Ok(Sealing {
            mode,
            keyring,
            ciphers,
        })
    }
}

/// The keys and mode of a node, shared by its handles (which change them) and its task (which
/// picks up a change before the next datagram it encodes or decodes).
pub(crate) struct KeyState {
    current: Mutex<Arc<Sealing>>,
    generation: AtomicU64,
}

impl KeyState {
    pub fn new(mode: Encryption, keyring: Option<Keyring>) -> Result<Self, KeyError> {
        Ok(KeyState {
            current: Mutex::new(Arc::new(Sealing::new(mode, keyring)?)),
            generation: AtomicU64::new(0),
        })
    }

    fn load(&self) -> (Arc<Sealing>, u64) {
        let current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        (current.clone(), self.generation.load(Ordering::Acquire))
    }

    /// Change the keyring and mode together (atomically for the task).
    pub fn update(
        &self,
        change: impl FnOnce(&mut Option<Keyring>, &mut Encryption) -> Result<(), KeyError>,
    ) -> Result<(), KeyError> {
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        let (mut keyring, mut mode) = (current.keyring.clone(), current.mode);
        change(&mut keyring, &mut mode)?;
        *current = Arc::new(Sealing::new(mode, keyring)?);
        self.generation.fetch_add(1, Ordering::Release);
        Ok(())
    }

    pub fn keyring(&self) -> Option<Keyring> {
        self.load().0.keyring.clone()
    }

    pub fn mode(&self) -> Encryption {
        self.load().0.mode
    }
}

/// Why a message was not sent.
#[derive(Debug)]
pub(crate) enum SendError {
    Encode(EncodeError),
    NoRandomness,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Encode(e) => write!(f, "{e}"),
            SendError::NoRandomness => write!(f, "no nonce: the OS random source failed"),
        }
    }
}

/// The node task's encoder and decoder: the wire format plus the keys in force.
pub(crate) struct Codec {
    wire: Wire,
    keys: Arc<KeyState>,
    sealing: Arc<Sealing>,
    generation: u64,
}

impl Codec {
    pub fn new(wire: Wire, keys: Arc<KeyState>) -> Self {
        let (sealing, generation) = keys.load();
        Codec {
            wire,
            keys,
            sealing,
            generation,
        }
    }

    pub fn wire(&self) -> &Wire {
        &self.wire
    }

    /// Pick up a change of keys or mode made through a handle.
    pub fn refresh(&mut self) {
        if self.keys.generation.load(Ordering::Acquire) != self.generation {
            (self.sealing, self.generation) = self.keys.load();
        }
    }

    /// Encode `msg` into `buf`: sealed under the primary key in `Send` and `Require`, in the
    /// clear otherwise.
    pub fn encode_into(&self, msg: &Message, buf: &mut Vec<u8>) -> Result<(), SendError> {
        let sealing = &*self.sealing;
        let Some(cipher) = sealing.ciphers.first().filter(|_| sealing.mode.seals()) else {
            return self.wire.encode_into(msg, buf).map_err(SendError::Encode);
        };
        let mut nonce = [0u8; NONCE_LEN];
        OsRng
            .try_fill_bytes(&mut nonce)
            .map_err(|_| SendError::NoRandomness)?;
        self.wire
            .encode_sealed_into(msg, &nonce, buf, |aad, nonce, body| {
                let tag = cipher
                    .encrypt_in_place_detached(XNonce::from_slice(nonce), aad, body)
                    .expect("a datagram is far below the cipher's length limit");
                let mut out = [0u8; TAG_LEN];
                out.copy_from_slice(&tag);
                out
            })
            .map_err(SendError::Encode)
    }

    /// Decode a received datagram, opening it in place if sealed (on failure `bytes` are left
    /// as they were).
    pub fn decode(&self, bytes: &mut [u8]) -> Result<Message, DecodeError> {
        let sealing = &*self.sealing;
        let layout = match self.wire.open(bytes)? {
            Envelope::Plain { body } => {
                if sealing.mode == Encryption::Require {
                    return Err(DecodeError::PlaintextRefused);
                }
                return self.wire.decode_body(body);
            }
            Envelope::Sealed(layout) => layout,
        };
        if sealing.mode == Encryption::Off {
            return Err(DecodeError::Unauthenticated);
        }
        let (head, rest) = bytes.split_at_mut(layout.ciphertext.start);
        let (body, tag) = rest.split_at_mut(layout.ciphertext.len());
        let (aad, nonce) = (&head[layout.aad], XNonce::from_slice(&head[layout.nonce]));
        let tag = chacha20poly1305::Tag::from_slice(tag);
        for cipher in &sealing.ciphers {
            // The tag is checked before anything is decrypted: a failure leaves `body` as is.
            if cipher
                .decrypt_in_place_detached(nonce, aad, body, tag)
                .is_ok()
            {
                return self.wire.decode_body(body);
            }
        }
        Err(DecodeError::Unauthenticated)
    }
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(BASE64[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let v = BASE64.iter().position(|&b| b == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // Leftover bits must be zero padding of a valid length.
    (bits < 6 && acc == 0).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips() {
        for len in 0..40 {
            let bytes: Vec<u8> = (0..len as u8).map(|i| i.wrapping_mul(37)).collect();
            let text = base64_encode(&bytes);
            assert_eq!(base64_decode(&text), Some(bytes));
        }
        let key = Key::from_bytes([0xAB; KEY_LEN]);
        assert_eq!(Key::from_base64(&key.to_base64()), Ok(key.clone()));
        assert_eq!(
            Key::from_base64(&format!(" {}\n", key.to_base64().trim_end_matches('='))),
            Ok(key)
        );
        assert_eq!(Key::from_base64("not base64!"), Err(KeyError::BadEncoding));
        assert_eq!(Key::from_base64("AAAA"), Err(KeyError::BadEncoding));
    }

    #[test]
    fn debug_never_shows_key_bytes() {
        let key = Key::from_bytes([0x41; KEY_LEN]);
        let mut ring = Keyring::new(key.clone());
        ring.install(Key::from_bytes([0x42; KEY_LEN])).unwrap();
        let shown = format!("{key:?} {ring:?} {ring:#?}");
        assert!(!shown.contains("65") && !shown.contains("41") && !shown.contains("QUFB"));
        assert_eq!(format!("{key:?}"), "Key(<redacted>)");
    }

    #[test]
    fn the_primary_cannot_be_removed() {
        let (a, b) = (Key::from_bytes([1; KEY_LEN]), Key::from_bytes([2; KEY_LEN]));
        let mut ring = Keyring::new(a.clone());
        assert_eq!(ring.remove(&a), Err(KeyError::PrimaryKey));
        assert_eq!(ring.use_key(&b), Err(KeyError::UnknownKey));
        ring.install(b.clone()).unwrap();
        ring.install(b.clone()).unwrap();
        assert_eq!(ring.keys().len(), 2);
        ring.use_key(&b).unwrap();
        assert_eq!(ring.primary(), &b);
        ring.remove(&a).unwrap();
        assert_eq!(ring.keys(), [b]);
        for i in 0..MAX_KEYS as u8 - 1 {
            ring.install(Key::from_bytes([10 + i; KEY_LEN])).unwrap();
        }
        assert_eq!(
            ring.install(Key::from_bytes([99; KEY_LEN])),
            Err(KeyError::TooManyKeys)
        );
    }
}
