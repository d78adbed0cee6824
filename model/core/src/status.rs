//! The status lattice and the merge of member records (PROTOCOL.md §2).
//!
//! Knowledge about one generation of a member is ordered
//! `alive(0) < suspect(0) < unreachable(0) < alive(1) < ... < dead/left`.
//! Non-terminal records compare by `(incarnation, rank)`; terminal ones (`dead`, `left`) sit
//! above all of them and, among themselves, compare by `(incarnation, rank)` too so that the merge
//! stays commutative. Two suspects with equal incarnation join their sets of suspecters. A
//! higher generation sits above every record of a lower one: a restart supersedes a death.

use serde::{Deserialize, Serialize};

use crate::member::{Member, NodeId};

/// The status of a member as seen by one observer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Status {
    /// Believed up.
    Alive,
    /// A probe failed: it has until the suspicion times out to refute.
    Suspect,
    /// Suspicion timed out and the application decides (only with `Config::unreachable`).
    Unreachable,
    /// Declared failed: terminal for this generation of the member.
    Dead,
    /// Left gracefully: terminal for this generation of the member.
    Left,
}

impl Status {
    /// `dead` and `left` are terminal: nothing brings this generation back.
    pub fn is_terminal(self) -> bool {
        matches!(self, Status::Dead | Status::Left)
    }

    /// Rank inside one incarnation.
    fn rank(self) -> u8 {
        match self {
            Status::Alive | Status::Dead => 0,
            Status::Suspect | Status::Left => 1,
            Status::Unreachable => 2,
        }
    }

    /// Lower-case name, as used in traces and logs.
    pub fn name(self) -> &'static str {
        match self {
            Status::Alive => "alive",
            Status::Suspect => "suspect",
            Status::Unreachable => "unreachable",
            Status::Dead => "dead",
            Status::Left => "left",
        }
    }
}

/// Position of a record in the lattice, ignoring suspecters: bigger is newer knowledge.
pub fn precedence(m: &Member) -> (u64, bool, u64, u8) {
    (
        m.generation,
        m.status.is_terminal(),
        m.incarnation,
        m.status.rank(),
    )
}

/// What merging an incoming record into the local one did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Merge {
    /// Nothing new: the local record already knows as much.
    Stale,
    /// Same suspicion, more independent suspecters: a Lifeguard confirmation.
    Confirmed,
    /// The record moved up the lattice; `from` is the status it had before.
    Advanced {
        /// The status before the merge.
        from: Status,
    },
}

impl Merge {
    /// Whether the local record changed (and so is worth gossiping).
    pub fn is_news(self) -> bool {
        !matches!(self, Merge::Stale)
    }
}

/// Sort, deduplicate and cap a set of suspecters (keeping the smallest ids, so the capped union
/// is still a semilattice join).
pub fn normalize_suspecters(set: &mut Vec<NodeId>, cap: usize) {
    set.sort_unstable();
    set.dedup();
    set.truncate(cap);
}

/// Merge `incoming` into `local` (records about the same member). `cap` bounds the suspecter
/// set (K+1). Returns what changed.
pub fn merge(local: &mut Member, incoming: &Member, cap: usize) -> Merge {
    debug_assert_eq!(local.id, incoming.id);
    let mine = precedence(local);
    let theirs = precedence(incoming);
    if theirs > mine {
        let from = local.status;
        if incoming.generation > local.generation {
            // A new life of the member: it may listen elsewhere.
            local.generation = incoming.generation;
            local.addr = incoming.addr;
            local.name = incoming.name.clone();
        }
        local.incarnation = incoming.incarnation;
        local.status = incoming.status;
        local.suspecters.clear();
        if incoming.status == Status::Suspect {
            local.suspecters.extend_from_slice(&incoming.suspecters);
            normalize_suspecters(&mut local.suspecters, cap);
        }
        // Terminal gossip travels without metadata: keep what we knew.
        if !(incoming.status.is_terminal() && incoming.meta.is_empty()) {
            local.meta = incoming.meta.clone();
        }
        return Merge::Advanced { from };
    }
    if theirs == mine
        && local.status == Status::Suspect
        && incoming
            .suspecters
            .iter()
            .any(|s| local.suspecters.binary_search(s).is_err())
    {
        // Capped union; with a full set it may still swap in smaller ids, keeping the join exact.
        let old = local.suspecters.clone();
        local.suspecters.extend_from_slice(&incoming.suspecters);
        normalize_suspecters(&mut local.suspecters, cap);
        if local.suspecters != old {
            return Merge::Confirmed;
        }
    }
    Merge::Stale
}

/// The join of two records about one member (pure form of [`merge`]).
pub fn join(a: &Member, b: &Member, cap: usize) -> Member {
    let mut out = a.clone();
    merge(&mut out, b, cap);
    out
}
