//! Member identity and the record gossiped about each member.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::status::Status;

/// A member's stable id: the same across restarts and rejoins, which raise its
/// [`Member::generation`] instead (a library node derives it from the member's name).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NodeId(pub u64);

impl NodeId {
    /// The id of the member named `name`: the same in every process and every version (64-bit
    /// FNV-1a of its UTF-8 bytes), so a process that restarts under its name is the same member
    /// at a new generation.
    pub fn from_name(name: &str) -> NodeId {
        const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
        const PRIME: u64 = 0x0000_0100_0000_01b3;
        let hash = (name.bytes()).fold(OFFSET, |h, b| (h ^ b as u64).wrapping_mul(PRIME));
        NodeId(hash)
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{:x}", self.0)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// Highest generation a record may carry: records above it are dropped, and a node held dead
/// there stops rather than rejoin (so forged generations end in a stop, not a loop).
pub const MAX_GENERATION: u64 = 1 << 62;

/// Longest member name, in bytes: a datagram with a longer one is invalid.
pub const MAX_NAME_BYTES: usize = 64;

/// A member's name, chosen by the application; its id is [`NodeId::from_name`] of it. Empty for
/// a member started without one (a random id). Cheap to clone (shared).
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name(Option<Arc<str>>);

impl Name {
    /// The name as text (empty if none).
    pub fn as_str(&self) -> &str {
        self.0.as_deref().unwrap_or("")
    }

    /// Whether the member has no name.
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }
}

impl From<&str> for Name {
    fn from(name: &str) -> Self {
        if name.is_empty() {
            Name(None)
        } else {
            Name(Some(Arc::from(name)))
        }
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// On the wire a string: one byte when empty.
impl Serialize for Name {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Ok(Name::from(&*name))
    }
}

/// Key/value metadata of a member. Cheap to clone (shared), compared by content.
///
/// Metadata belongs to an incarnation: only its owner changes it, and only by raising its
/// incarnation, so two records with the same incarnation carry the same metadata.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Meta(Option<Arc<BTreeMap<String, String>>>);

/// Decodes through [`Meta::from`], so an empty map from the wire equals no metadata.
impl<'de> Deserialize<'de> for Meta {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map = Option::<BTreeMap<String, String>>::deserialize(d)?;
        Ok(map.map(Meta::from).unwrap_or_default())
    }
}

impl Meta {
    /// Metadata from key/value pairs.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let map: BTreeMap<String, String> = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        Self::from(map)
    }

    /// The value under `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.as_ref()?.get(key).map(String::as_str)
    }

    /// All pairs, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .iter()
            .flat_map(|m| m.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }

    /// Whether there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.0.as_ref().is_none_or(|m| m.is_empty())
    }

    /// Encoded size on the wire, in bytes: what the metadata limit bounds.
    pub fn encoded_len(&self) -> usize {
        postcard::experimental::serialized_size(self).unwrap_or(usize::MAX)
    }
}

impl From<BTreeMap<String, String>> for Meta {
    fn from(map: BTreeMap<String, String>) -> Self {
        if map.is_empty() {
            Meta(None)
        } else {
            Meta(Some(Arc::new(map)))
        }
    }
}

impl fmt::Debug for Meta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// What one node knows about one member: the unit of gossip, of sync and of the local view.
///
/// The fields `incarnation`, `status` and `suspecters` form the lattice (see [`crate::status`]);
/// `addr` and `meta` are payload attached to the member and its incarnation.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Member {
    /// Who: stable across restarts and rejoins.
    pub id: NodeId,
    /// The name the id was derived from, if the member has one: sent with every record of it,
    /// so views and events speak of `db-3`, not of a number.
    pub name: Name,
    /// Which life of `id`: raised by every restart and automatic rejoin. `(id, generation)` is
    /// the identity the lattice orders: dead is terminal for it, and a higher generation
    /// supersedes every record of a lower one (PROTOCOL.md §2, §14).
    pub generation: u64,
    /// Where it receives datagrams.
    pub addr: SocketAddr,
    /// Raised only by the member itself, to refute a suspicion or publish new metadata.
    pub incarnation: u64,
    /// What this observer believes of it at this incarnation.
    pub status: Status,
    /// Who suspects this member at this incarnation (sorted, capped at K+1): Lifeguard's
    /// independent confirmations. Empty unless `status` is suspect.
    pub suspecters: Vec<NodeId>,
    /// The application's metadata, as of this incarnation.
    pub meta: Meta,
}

impl Member {
    /// A fresh `alive(incarnation)` record, at generation 0 (see [`Member::at_generation`]).
    pub fn alive(id: NodeId, addr: SocketAddr, incarnation: u64, meta: Meta) -> Self {
        Member {
            id,
            name: Name::default(),
            generation: 0,
            addr,
            incarnation,
            status: Status::Alive,
            suspecters: Vec::new(),
            meta,
        }
    }

    /// The same record under `name` (its id is expected to be [`NodeId::from_name`] of it).
    pub fn named(mut self, name: Name) -> Self {
        self.name = name;
        self
    }

    /// Why the record's name is not acceptable, if it is not: longer than [`MAX_NAME_BYTES`],
    /// or not the one its id derives from ([`NodeId::from_name`]). No name is acceptable.
    pub fn name_error(&self) -> Option<&'static str> {
        let name = self.name.as_str();
        if name.len() > MAX_NAME_BYTES {
            Some("name over the size limit")
        } else if !name.is_empty() && NodeId::from_name(name) != self.id {
            Some("name does not match its id")
        } else {
            None
        }
    }

    /// The same record at `generation`.
    pub fn at_generation(mut self, generation: u64) -> Self {
        self.generation = generation;
        self
    }

    /// The same member with another status at another incarnation (suspecters cleared).
    pub fn with_status(&self, status: Status, incarnation: u64) -> Self {
        Member {
            id: self.id,
            name: self.name.clone(),
            generation: self.generation,
            addr: self.addr,
            incarnation,
            status,
            suspecters: Vec::new(),
            meta: self.meta.clone(),
        }
    }

    /// The same record with its node ids and address mapped (suspecters kept sorted, as the
    /// lattice keeps them): for renaming nodes (the checker's symmetry) and translating
    /// address spaces (conformance replay).
    pub fn renamed(
        &self,
        id: &dyn Fn(NodeId) -> NodeId,
        addr: &dyn Fn(SocketAddr) -> SocketAddr,
    ) -> Member {
        let mut suspecters: Vec<NodeId> = self.suspecters.iter().map(|&s| id(s)).collect();
        suspecters.sort_unstable();
        Member {
            id: id(self.id),
            addr: addr(self.addr),
            suspecters,
            ..self.clone()
        }
    }
}
