//! Deliberately broken variants of the core, for the model checker's own tests.
//!
//! The broken rules exist only under `--cfg swim_faults` (see `docs/checker.md`). Each
//! [`Fault`] is one wrong rule; a node carries the set it runs with
//! ([`crate::Node::set_faults`]), so checker threads and tests running in parallel share no
//! global. Without the cfg this module is private and its `Faults` is a zero-sized set whose
//! `has` is a `const fn` returning `false`: the core's call sites are plain `if`s that compile
//! away.

use crate::member::Member;
use crate::status::Merge;

#[cfg(swim_faults)]
pub use broken::Faults;
#[cfg(not(swim_faults))]
pub(crate) use real::Faults;

/// One wrong protocol rule.
// Without the cfg, the merge faults are named only by the broken merge selection.
#[cfg_attr(not(swim_faults), allow(dead_code))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fault {
    /// Merge takes whatever record arrives (last writer wins), ignoring the incarnation order.
    MergeLastWriterWins,
    /// Merge compares `(incarnation, rank)` only: a higher incarnation overrides `dead`.
    MergeRevivesDead,
    /// Gossip about oneself is merged into one's own record instead of being refuted.
    AppliesGossipAboutSelf,
    /// A failed probe suspects the target at one incarnation above the one it probed.
    SuspectsAtHigherIncarnation,
    /// Acks of our own probes are ignored (helpers still forward them).
    IgnoresAcks,
    /// Merge takes a newer record's status and incarnation but keeps the old metadata.
    MergeForgetsMetadata,
    /// A suspicion never times out.
    SuspicionNeverExpires,
    /// The suspicion timeout ignores Lifeguard confirmations (always the maximum).
    SuspicionIgnoresConfirmations,
    /// Refuting a suspicion re-gossips `alive` without raising the incarnation.
    RefutesWithoutRaising,
    /// A helper whose relayed probe went unanswered counts it against its own health.
    HealthCountsRelays,
    /// The suspicion timeout scales with `ln n` instead of `log10 n`.
    SuspicionNaturalLog,
    /// Updates are piggybacked without limit (the retransmit count is ignored).
    RetransmitsUnbounded,
    /// A message to a suspect member does not carry its suspicion first (no buddy record).
    NoBuddy,
    /// Push-pull takes the peer's records as they are, older or not.
    SyncOverwrites,
    /// Each protocol period passes over one member of the probe order without probing it.
    ProbeSkipsMember,
    /// Lifeguard's switches are ignored: local health, the shrinking suspicion and the buddy
    /// record run even when switched off.
    IgnoresLifeguardSwitches,
    /// Zone-aware helpers are drawn uniformly, whatever fates they share with the probe.
    HelpersIgnoreZones,
    /// Every new pass is a near one: members of other zones are never probed again.
    FarMembersSkipped,
    /// A later indirect round draws its helpers from every alive member, asking again the
    /// ones an earlier round of the same probe asked.
    LaterRoundsReask,
    /// A throttled period has no extra probe slot: members that never answered wait outside
    /// the probe order and are never probed.
    NoExtraProbeSlot,
    /// Nacks never conclude a round: a probe whose every helper nacked waits for the tick.
    NacksWaitForTheTick,
    /// A member that answers while it waits outside the probe order stays out until the next
    /// pass.
    AnsweredStaysOut,
    /// Broadcast identities are not remembered: every copy that arrives is delivered.
    ForgetsBroadcasts,
    /// A relayed broadcast is delivered as from the member that relayed it.
    DeliversFromRelayer,
    /// Broadcasts are sent without limit (the retransmit count is ignored).
    BroadcastsUnbounded,
    /// A member's id proves any address a datagram from or to it uses, not only the one its
    /// record holds: a restarted member's new address is answered without a budget.
    TrustsMovedAddress,
    /// The intake bounds admit everything: no per-datagram bound, no cap on members that
    /// never answered.
    AdmitsUnbounded,
}

/// The signature of [`crate::status::merge`].
pub type MergeFn = fn(&mut Member, &Member, usize) -> Merge;

/// The real core: no fault can be set.
#[cfg(not(swim_faults))]
mod real {
    use super::{Fault, MergeFn};

    /// The empty set, and the only one.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
    pub(crate) struct Faults;

    impl Faults {
        /// No fault: the real core.
        pub(crate) const NONE: Faults = Faults;

        /// Never: every fault check in the core is a constant `false`.
        pub(crate) const fn has(self, _fault: Fault) -> bool {
            false
        }

        /// The real merge.
        pub(crate) const fn merge_or(self, real: MergeFn) -> MergeFn {
            real
        }
    }
}

#[cfg(swim_faults)]
mod broken {
    use super::{Fault, MergeFn};
    use crate::member::Member;
    use crate::status::{Merge, Status, merge, normalize_suspecters, precedence};

    impl Fault {
        /// Every fault, in declaration order.
        pub const ALL: [Fault; 27] = [
            Fault::MergeLastWriterWins,
            Fault::MergeRevivesDead,
            Fault::AppliesGossipAboutSelf,
            Fault::SuspectsAtHigherIncarnation,
            Fault::IgnoresAcks,
            Fault::MergeForgetsMetadata,
            Fault::SuspicionNeverExpires,
            Fault::SuspicionIgnoresConfirmations,
            Fault::RefutesWithoutRaising,
            Fault::HealthCountsRelays,
            Fault::SuspicionNaturalLog,
            Fault::RetransmitsUnbounded,
            Fault::NoBuddy,
            Fault::SyncOverwrites,
            Fault::ProbeSkipsMember,
            Fault::IgnoresLifeguardSwitches,
            Fault::HelpersIgnoreZones,
            Fault::FarMembersSkipped,
            Fault::LaterRoundsReask,
            Fault::NoExtraProbeSlot,
            Fault::NacksWaitForTheTick,
            Fault::AnsweredStaysOut,
            Fault::ForgetsBroadcasts,
            Fault::DeliversFromRelayer,
            Fault::BroadcastsUnbounded,
            Fault::TrustsMovedAddress,
            Fault::AdmitsUnbounded,
        ];

        fn bit(self) -> u32 {
            1 << (self as u32)
        }
    }

    /// A set of faults (empty: the real core).
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
    pub struct Faults(u32);

    impl Faults {
        /// No fault: the real core.
        pub const NONE: Faults = Faults(0);

        /// This set plus `fault`.
        pub fn with(self, fault: Fault) -> Self {
            Faults(self.0 | fault.bit())
        }

        /// Whether `fault` is in the set.
        pub fn has(self, fault: Fault) -> bool {
            self.0 & fault.bit() != 0
        }

        /// Whether the set is empty (the real core).
        pub fn is_empty(self) -> bool {
            self.0 == 0
        }

        /// The merge this node runs: a broken one if a merge fault is set, else `real`.
        pub fn merge_or(self, real: MergeFn) -> MergeFn {
            if self.has(Fault::MergeLastWriterWins) {
                merge_last_writer_wins
            } else if self.has(Fault::MergeRevivesDead) {
                merge_reviving_dead
            } else if self.has(Fault::MergeForgetsMetadata) {
                merge_forgetting_metadata
            } else {
                real
            }
        }
    }

    impl From<Fault> for Faults {
        fn from(fault: Fault) -> Self {
            Faults::NONE.with(fault)
        }
    }

    fn take(local: &mut Member, incoming: &Member, cap: usize) -> Merge {
        let from = local.status;
        let meta = local.meta.clone();
        *local = incoming.clone();
        normalize_suspecters(&mut local.suspecters, cap);
        if incoming.status.is_terminal() && incoming.meta.is_empty() {
            local.meta = meta;
        }
        Merge::Advanced { from }
    }

    /// Broken: any different record wins, older or not (terminal records still stick).
    fn merge_last_writer_wins(local: &mut Member, incoming: &Member, cap: usize) -> Merge {
        let differs = (local.incarnation, local.status) != (incoming.incarnation, incoming.status);
        if local.status.is_terminal() || !differs {
            return merge(local, incoming, cap);
        }
        take(local, incoming, cap)
    }

    /// Broken: `dead` is just another status, ordered by incarnation like the others.
    fn merge_reviving_dead(local: &mut Member, incoming: &Member, cap: usize) -> Merge {
        let key = |m: &Member| {
            let (_, _, incarnation, rank) = precedence(m);
            (incarnation, m.status == Status::Dead, rank)
        };
        if local.status.is_terminal() && key(incoming) > key(local) {
            return take(local, incoming, cap);
        }
        merge(local, incoming, cap)
    }

    /// Broken: the metadata of the old record survives a newer incarnation.
    fn merge_forgetting_metadata(local: &mut Member, incoming: &Member, cap: usize) -> Merge {
        let meta = local.meta.clone();
        let outcome = merge(local, incoming, cap);
        local.meta = meta;
        outcome
    }
}
