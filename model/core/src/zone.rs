//! Topology-aware selection (PROTOCOL.md §15): which members a probe pass holds and which
//! members are asked to help a failed probe, when members name their zone.
//!
//! A member's zone is its metadata [`ZONE_KEY`]; members without one share the unnamed zone.
//! Both rules only reorder or thin choices the uniform selector makes, and draw through
//! [`Pick`] like the rest of the core.

use std::net::SocketAddr;

use crate::member::{Member, NodeId};
use crate::pick::{Pick, choose};

/// The metadata key that names a member's zone (a rack, a data centre, a cloud zone).
pub const ZONE_KEY: &str = "zone";

/// The zone `m` names (`None`: the unnamed zone).
pub fn zone_of(m: &Member) -> Option<&str> {
    m.meta.get(ZONE_KEY)
}

/// A candidate helper: its id, its address and the fates it shares with the probe.
pub(crate) struct Candidate {
    pub id: NodeId,
    pub addr: SocketAddr,
    /// 0 to 2: one for being in the target's zone, one for being in ours. A helper in a third
    /// zone reaches the target over links the direct probe did not use, so an outage of the
    /// target's zone link or of ours cannot silence it along with the target.
    pub shared: u8,
}

impl Candidate {
    /// `helper` as a candidate to probe a target in `target_zone` for a node in `our_zone`.
    pub fn new(helper: &Member, target_zone: Option<&str>, our_zone: Option<&str>) -> Candidate {
        let zone = zone_of(helper);
        Candidate {
            id: helper.id,
            addr: helper.addr,
            shared: u8::from(zone == target_zone) + u8::from(zone == our_zone),
        }
    }
}

/// Choose up to `k` helpers, moved to the front of `candidates`: with `by_zone`, those that
/// share fewest fates with the probe first, drawn uniformly within each rank; else drawn
/// uniformly from all (the same draws as without zones). Returns how many were chosen.
pub(crate) fn choose_helpers(
    rng: &mut dyn Pick,
    candidates: &mut [Candidate],
    k: usize,
    by_zone: bool,
) -> usize {
    if !by_zone {
        return choose(rng, candidates, k);
    }
    // Stable: within a rank the table's id order, so the draws are the same on every driver.
    candidates.sort_by_key(|c| c.shared);
    let mut chosen = 0;
    while chosen < k.min(candidates.len()) {
        let rank = candidates[chosen].shared;
        let end = chosen + candidates[chosen..].partition_point(|c| c.shared == rank);
        // A rank is taken whole before the next is drawn from, so the choice stays a prefix.
        chosen += choose(rng, &mut candidates[chosen..end], k - chosen);
    }
    chosen
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use super::*;
    use crate::member::Meta;

    fn member(id: u64, zone: Option<&str>) -> Member {
        let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 7000 + id as u16);
        let meta = zone
            .map(|z| Meta::from_pairs([(ZONE_KEY, z)]))
            .unwrap_or_default();
        Member::alive(NodeId(id), addr, 0, meta)
    }

    proptest::proptest! {
        /// Whatever the draws, the helpers chosen are `min(k, n)` distinct candidates, and no
        /// candidate left out shares fewer fates than one chosen.
        #[test]
        fn helpers_sharing_fewer_fates_are_always_chosen_first(
            zones in proptest::collection::vec(0u8..4, 0..12),
            k in 0usize..6,
            draws in proptest::collection::vec(0usize..100, 64),
        ) {
            let names = ["a", "b", "c"];
            let zone = |z: u8| names.get(z as usize).copied();
            let mut candidates: Vec<Candidate> = (zones.iter().enumerate())
                .map(|(i, &z)| Candidate::new(&member(i as u64, zone(z)), Some("a"), Some("b")))
                .collect();
            let mut draws = draws.into_iter().cycle();
            let mut rng = |n: usize| draws.next().unwrap_or(0) % n;
            let chosen = choose_helpers(&mut rng, &mut candidates, k, true);
            proptest::prop_assert_eq!(chosen, k.min(zones.len()));
            let worst_in = candidates[..chosen].iter().map(|c| c.shared).max();
            let best_out = candidates[chosen..].iter().map(|c| c.shared).min();
            if let (Some(w), Some(b)) = (worst_in, best_out) {
                proptest::prop_assert!(w <= b, "chose a helper sharing {w} fates over one sharing {b}");
            }
            let mut ids: Vec<_> = candidates[..chosen].iter().map(|c| c.id).collect();
            ids.sort();
            ids.dedup();
            proptest::prop_assert_eq!(ids.len(), chosen);
        }
    }

    #[test]
    fn a_helper_in_a_third_zone_shares_no_fate_and_ours_shares_two_with_a_local_probe() {
        let c = |z| Candidate::new(&member(9, z), Some("a"), Some("a")).shared;
        assert_eq!((c(Some("a")), c(Some("b")), c(None)), (2, 0, 0));
        let d = |z| Candidate::new(&member(9, z), Some("a"), Some("b")).shared;
        assert_eq!((d(Some("a")), d(Some("b")), d(Some("c"))), (1, 1, 0));
    }
}
