//! The status lattice and the merge of records (PROTOCOL.md §2).

use crate::common::*;
use swim_checked_core::status::{join, merge};
use swim_checked_core::{EventKind, Member, MemberEvent, Merge, Meta, NodeId, Status};

/// Suspecter cap used in these tests (K + 1 with K = 2).
const CAP: usize = 3;

/// PROTOCOL.md §2's order written out as an explicit chain, lowest first: non-terminal records by
/// incarnation then alive < suspect < unreachable, then every terminal record above all of them.
fn chain() -> Vec<Member> {
    let mut v = Vec::new();
    for inc in 0..3 {
        v.push(record(7, inc, Status::Alive));
        v.push(suspect(7, inc, &[2]));
        v.push(record(7, inc, Status::Unreachable));
    }
    for inc in 0..3 {
        v.push(record(7, inc, Status::Dead));
        v.push(record(7, inc, Status::Left));
    }
    v
}

#[test]
fn every_pair_of_statuses_is_ordered_as_the_spec_says() {
    let chain = chain();
    for (i, low) in chain.iter().enumerate() {
        for high in &chain[i + 1..] {
            // Lower news into a higher record: nothing changes.
            let mut local = high.clone();
            assert_eq!(
                merge(&mut local, low, CAP),
                Merge::Stale,
                "{low:?} into {high:?}"
            );
            assert_eq!(&local, high);
            // Higher news into a lower record: it wins, whole.
            let mut local = low.clone();
            assert_eq!(
                merge(&mut local, high, CAP),
                Merge::Advanced { from: low.status },
                "{high:?} into {low:?}"
            );
            assert_eq!(&local, high);
        }
    }
}

#[test]
fn equal_records_are_not_news() {
    for m in chain() {
        let mut local = m.clone();
        assert_eq!(merge(&mut local, &m, CAP), Merge::Stale, "{m:?}");
        assert_eq!(local, m);
        assert!(!Merge::Stale.is_news());
    }
}

#[test]
fn dead_beats_any_incarnation_and_nothing_revives_it() {
    for terminal in [Status::Dead, Status::Left] {
        let mut local = record(7, u64::MAX, Status::Alive);
        let news = record(7, 0, terminal);
        assert_eq!(
            merge(&mut local, &news, CAP),
            Merge::Advanced {
                from: Status::Alive
            }
        );
        assert_eq!(local.status, terminal);
        for later in [
            record(7, u64::MAX, Status::Alive),
            suspect(7, u64::MAX, &[3]),
            record(7, u64::MAX, Status::Unreachable),
        ] {
            let mut dead = local.clone();
            assert_eq!(merge(&mut dead, &later, CAP), Merge::Stale);
            assert_eq!(dead.status, terminal);
        }
    }
}

#[test]
fn a_new_suspecter_is_a_confirmation_and_a_known_one_is_not() {
    let mut local = suspect(7, 4, &[2]);
    assert_eq!(merge(&mut local, &suspect(7, 4, &[2]), CAP), Merge::Stale);
    assert_eq!(
        merge(&mut local, &suspect(7, 4, &[3]), CAP),
        Merge::Confirmed
    );
    assert_eq!(local.suspecters, vec![id(2), id(3)]);
    // A subset of what we know is no news.
    assert_eq!(merge(&mut local, &suspect(7, 4, &[3]), CAP), Merge::Stale);
    assert_eq!(
        merge(&mut local, &suspect(7, 4, &[2, 3]), CAP),
        Merge::Stale
    );
    assert!(Merge::Confirmed.is_news());
    // Suspecters at another incarnation are not confirmations of this suspicion.
    assert_eq!(merge(&mut local, &suspect(7, 3, &[5]), CAP), Merge::Stale);
    assert_eq!(local.suspecters, vec![id(2), id(3)]);
}

#[test]
fn suspecters_are_capped_keeping_the_smallest_ids() {
    let mut local = suspect(7, 0, &[5, 6, 8]);
    // A bigger id does not fit in a full set: no news.
    assert_eq!(merge(&mut local, &suspect(7, 0, &[9]), CAP), Merge::Stale);
    assert_eq!(local.suspecters, vec![id(5), id(6), id(8)]);
    // A smaller one replaces the biggest: the set changed, so it is news.
    assert_eq!(
        merge(&mut local, &suspect(7, 0, &[2]), CAP),
        Merge::Confirmed
    );
    assert_eq!(local.suspecters, vec![id(2), id(5), id(6)]);
    // Taking a suspicion wholesale normalizes and caps its set too.
    let mut local = alive(7, 0);
    let wild = suspect(7, 0, &[9, 4, 4, 1, 3]);
    merge(&mut local, &wild, CAP);
    assert_eq!(local.suspecters, vec![id(1), id(3), id(4)]);
}

#[test]
fn a_newer_suspicion_replaces_the_suspecters_and_alive_clears_them() {
    let mut local = suspect(7, 0, &[2, 3]);
    assert_eq!(
        merge(&mut local, &suspect(7, 1, &[4]), CAP),
        Merge::Advanced {
            from: Status::Suspect
        }
    );
    assert_eq!(local.suspecters, vec![id(4)]);
    assert_eq!(
        merge(&mut local, &alive(7, 2), CAP),
        Merge::Advanced {
            from: Status::Suspect
        }
    );
    assert!(local.suspecters.is_empty());
    assert_eq!(local.status, Status::Alive);
}

#[test]
fn metadata_travels_with_its_incarnation() {
    let old = Meta::from_pairs([("zone", "a")]);
    let new = Meta::from_pairs([("zone", "b")]);
    let mut local = Member::alive(id(7), addr(7), 1, old.clone());
    let mut newer = Member::alive(id(7), addr(7), 2, new.clone());
    assert!(merge(&mut local, &newer, CAP).is_news());
    assert_eq!(local.meta, new);
    // Older metadata never comes back.
    let stale = Member::alive(id(7), addr(7), 1, old);
    assert_eq!(merge(&mut local, &stale, CAP), Merge::Stale);
    assert_eq!(local.meta, new);
    // Terminal gossip travels without metadata: the record keeps what we knew.
    newer.meta = Meta::default();
    let dead = newer.with_status(Status::Dead, 2);
    merge(&mut local, &dead, CAP);
    assert_eq!((local.status, &local.meta), (Status::Dead, &new));
}

#[test]
fn join_is_the_pure_form_of_merge() {
    let a = suspect(7, 1, &[2]);
    let b = suspect(7, 1, &[3]);
    let j = join(&a, &b, CAP);
    assert_eq!(j.suspecters, vec![id(2), id(3)]);
    assert_eq!(a.suspecters, vec![id(2)], "inputs untouched");
    assert_eq!(join(&a, &alive(7, 2), CAP), alive(7, 2));
    assert_eq!(join(&alive(7, 2), &a, CAP), alive(7, 2));
}

#[test]
fn status_names_and_terminality() {
    let all = [
        (Status::Alive, "alive", false),
        (Status::Suspect, "suspect", false),
        (Status::Unreachable, "unreachable", false),
        (Status::Dead, "dead", true),
        (Status::Left, "left", true),
    ];
    for (s, name, terminal) in all {
        assert_eq!(s.name(), name);
        assert_eq!(s.is_terminal(), terminal, "{name}");
    }
}

#[test]
fn event_kinds_cover_every_transition() {
    use Status::*;
    let cases = [
        (None, Alive, EventKind::Joined),
        (None, Suspect, EventKind::Joined),
        (None, Dead, EventKind::Dead),
        (Some(Alive), Suspect, EventKind::Suspect),
        (Some(Alive), Unreachable, EventKind::Unreachable),
        (Some(Suspect), Unreachable, EventKind::Unreachable),
        (Some(Suspect), Alive, EventKind::AliveAgain),
        (Some(Unreachable), Alive, EventKind::AliveAgain),
        (Some(Alive), Alive, EventKind::MetadataChanged),
        (Some(Suspect), Suspect, EventKind::Suspect),
        (Some(Alive), Dead, EventKind::Dead),
        (Some(Unreachable), Dead, EventKind::Dead),
        (Some(Alive), Left, EventKind::Left),
        (Some(Suspect), Left, EventKind::Left),
    ];
    for (from, to, kind) in cases {
        let ev = MemberEvent {
            member: record(7, 0, to),
            from,
            to,
            previous_generation: None,
        };
        assert_eq!(ev.kind(), kind, "{from:?} -> {to:?}");
    }
}

#[test]
fn event_kinds_are_listed_by_index_and_named() {
    use EventKind::*;
    // Exhaustive: a new kind does not compile here until it is given its place in `ALL`.
    let place = |kind: EventKind| match kind {
        Joined => (0, "joined"),
        Suspect => (1, "suspect"),
        Unreachable => (2, "unreachable"),
        AliveAgain => (3, "alive_again"),
        Dead => (4, "dead"),
        Left => (5, "left"),
        MetadataChanged => (6, "metadata_changed"),
        Restarted => (7, "restarted"),
    };
    assert_eq!(EventKind::ALL.len(), 8);
    for (i, kind) in EventKind::ALL.into_iter().enumerate() {
        assert_eq!((kind as usize, kind.name()), place(kind), "{kind:?}");
        assert_eq!(place(kind).0, i, "{kind:?} out of place in ALL");
    }
}

#[test]
fn node_ids_print_as_hex() {
    assert_eq!(format!("{}", NodeId(255)), "00000000000000ff");
    assert_eq!(format!("{:?}", NodeId(255)), "#ff");
}
