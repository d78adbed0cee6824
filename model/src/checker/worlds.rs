//! The worlds `check` runs by default. Two broad ones (faults; a reliable network with
//! commands) and small targeted ones, each of two or three nodes and a few faults, built so
//! that every property of PROTOCOL.md §9 bites somewhere: each targeted world has the
//! reachability properties that prove its situation is reached.

use super::Setup;
use super::setup::Partition;
use swim_checked_core::Config;

/// One default world: its label in the report and its setup.
#[derive(Clone, Debug)]
pub struct World {
    pub label: &'static str,
    pub setup: Setup,
}

/// A world of `nodes` nodes on the scaled-down config, no fault, whose disturbance window is
/// `window` ms (the horizon is the settle time plus the window), after `tweak`.
fn targeted(nodes: usize, window: u64, tweak: impl FnOnce(&mut Setup)) -> Setup {
    let mut setup = Setup::new(nodes).reliable();
    tweak(&mut setup);
    setup.horizon = setup.settle() + window;
    setup
}

/// The two broad worlds, of `nodes` nodes (3 by default). An outsider on the wire may replay
/// one datagram in both three-node worlds; four or more nodes leave replays out (they
/// multiply the space about fivefold, which the four-node run cannot afford).
pub fn broad(nodes: usize) -> Vec<World> {
    let mut faults = Setup::new(3);
    // Two losses: with the fallback ping, one lost datagram no longer fails a probe, and the
    // run must still show a false suspicion being refuted.
    faults.drops = 2;
    if nodes <= 3 {
        faults.replays = 1;
    }
    let mut reliable = faults.clone().reliable();
    // Aligned periods with commands make a 10-million-state world: start nodes 1 ms apart.
    reliable.stagger = 1;
    reliable.duplicates = 1;
    reliable.leaves = 1;
    reliable.meta_changes = 1;
    let mut worlds = vec![
        World {
            label: "faults",
            setup: faults,
        },
        World {
            label: "reliable",
            setup: reliable,
        },
    ];
    for w in &mut worlds {
        let gap = w.setup.horizon.saturating_sub(w.setup.settle());
        w.setup.nodes = nodes;
        w.setup.horizon = w.setup.settle() + gap;
    }
    worlds
}

/// Every default world: the broad ones, the targeted ones, Lifeguard's switches, then the
/// partition.
pub fn defaults() -> Vec<World> {
    let mut worlds = broad(3);
    worlds.extend(targeted_worlds());
    worlds.extend(lifeguard_worlds());
    worlds.push(partition_world());
    worlds.push(hold_world());
    worlds.push(zoned_world());
    worlds.push(rounds_world());
    worlds.extend(guard_worlds());
    worlds.push(application_world());
    worlds
}

/// Application data (PROTOCOL.md §13): two broadcasts and a direct message, by any node in
/// the first 10 ms after all started. Each node gossips every 2 ms, sends each broadcast twice
/// and remembers both identities: each node must deliver each broadcast once (its own coming
/// back is ignored) and only what arrived, and pass it on; a queue of one makes a second
/// broadcast push the first out where both wait.
pub fn application_world() -> World {
    World {
        label: "application",
        setup: targeted(3, 10, |s| {
            s.broadcasts = 2;
            s.directs = 1;
            s.stagger = 1;
            s.core.user_dedup = 2;
            s.core.user_retransmit_mult = 2;
            s.core.gossip_interval = 2;
        }),
    }
}

/// The bounds on hostile input acting (PROTOCOL.md §12): a stranger's address validated
/// before it gets a view, and the intake bounds and the probe throttle, which every other
/// world leaves off (its `max_members` is no larger than the bounds). No fault: no member may
/// be suspected, and at rest every view must hold every node.
pub fn guard_worlds() -> Vec<World> {
    let guarded = |max_unanswered: usize| {
        targeted(3, 30, |s| {
            s.core.max_new_per_datagram = 1;
            s.core.max_new_per_source = 1;
            s.core.unanswered_free = 1;
            s.core.max_unanswered = max_unanswered;
        })
    };
    let rejoin = rejoin_world().setup;
    let mut restart = guarded(2);
    restart.crashes = 1;
    restart.restarts = 1;
    restart.horizon = restart.settle() + 12;
    vec![
        // The rejoin world with tombstones that expire: a node whose `left` record is purged
        // everywhere comes back from an address nobody holds. A seed answers it with a
        // validation ping only, and its view once the ack proves the address.
        World {
            label: "stranger",
            setup: Setup {
                core: Config {
                    tombstone_ttl: 10,
                    ..rejoin.core.clone()
                },
                stop_when_quiet: false,
                ..rejoin
            },
        },
        // One member that never answered at most: a node starts knowing only the peer that
        // sent it the view, refuses the other (and its pings' records) until that peer
        // answered, and must still learn it, from gossip or a push-pull.
        World {
            label: "intake",
            setup: guarded(1),
        },
        // Two peers that never answered outnumber the one allowed: they leave the probe
        // order and share one extra probe slot a period until they answer.
        World {
            label: "throttle",
            setup: guarded(2),
        },
        // A node crashes and its process starts again elsewhere (another host or port) at its
        // next generation. Its join comes from an address no record holds: the seeds validate
        // it before they send their views, a member moves to the new address only through a
        // datagram that may introduce it, and a node answers the new address within its
        // amplification budget until it has proved itself.
        World {
            label: "restart",
            setup: restart,
        },
    ]
}

/// Four nodes with three indirect rounds per failed probe (PROTOCOL.md §4), as the library
/// runs by default. A crash and a loss, as in `health`: the crashed node must still be held
/// dead in time (completeness) while later rounds probe it, the second round must ask the
/// one helper the first did not (helpers asked once a probe), and the third finds none left.
pub fn rounds_world() -> World {
    World {
        label: "rounds",
        setup: crash_and_loss(4, |s| s.core.indirect_rounds = 3),
    }
}

/// Four nodes in three zones (`n1` and `n4` in `a`, `n2` in `b`, `n3` in `c`) with the
/// topology-aware selector (PROTOCOL.md §15): helpers from other zones first, far members in
/// one probe pass of two. A crash and a loss, as in `health`: a crashed far member must still
/// be held dead within the zoned bound (completeness), helpers are asked by the fates they
/// share (helpers by zone), and a new pass that leaves a live member out must be a near pass
/// (probe order).
pub fn zoned_world() -> World {
    World {
        label: "zoned",
        setup: crash_and_loss(4, |s| {
            s.zones = 3;
            s.core.zone_helpers = true;
            s.core.far_pass_every = 2;
        }),
    }
}

/// The `health` world's disturbance on `nodes` nodes, after `tweak`: one crash and one loss
/// within 10 ms, `S = 2` and `alpha = 2` (probes fail, helpers nack or stay silent, suspicions
/// gather confirmations, the crashed node must be declared dead in time).
fn crash_and_loss(nodes: usize, tweak: impl FnOnce(&mut Setup)) -> Setup {
    targeted(nodes, 10, |s| {
        s.crashes = 1;
        s.drops = 1;
        s.core.max_health = 2;
        s.core.suspicion_mult = 2;
        tweak(s);
    })
}

/// The `health` world (a crash and a loss among three nodes) with `auto_rejoin` and
/// `isolation_hold` on, as they are by default: the hold must not keep a real crash from being
/// declared dead within `D` (completeness), nor make a live node look dead (PROTOCOL.md §14).
pub fn hold_world() -> World {
    World {
        label: "hold",
        setup: targeted(3, 20, |s| {
            s.crashes = 1;
            // Two losses, so that a survivor can fail two probes in a row and hold its
            // suspicion of the crashed node.
            s.drops = 2;
            s.core.auto_rejoin = true;
            s.core.isolation_hold = true;
        }),
    }
}

/// One node of three cut off for longer than a whole suspicion (PROTOCOL.md §14): the others
/// declare it dead, it holds its suspicions of them without a verdict, and after the heal it
/// must learn of its death, rejoin at its next generation and be held alive there by both
/// ("heal at rest"), while no other node is ever declared dead. One datagram may also be lost
/// anywhere. `auto_rejoin` and `isolation_hold` are on here only.
pub fn partition_world() -> World {
    let cut = PARTITION_FROM..PARTITION_FROM + PARTITION_WINDOW;
    World {
        label: "partition",
        setup: targeted(3, cut.end + 5, |s| {
            s.drops = 1;
            s.core.auto_rejoin = true;
            s.core.isolation_hold = true;
            s.partition = Some(Partition {
                node: 2,
                from: cut.start,
                until: cut.end,
            });
        }),
    }
}

/// The partition world's cut starts before the first probe and lasts twice the longest
/// suspicion of three nodes (30 ms), so the others' verdict can land inside it.
const PARTITION_FROM: u64 = 5;
const PARTITION_WINDOW: u64 = 60;

/// Lifeguard's three components each switched off in a small world of its own (and all three
/// at once: SWIM as published), where every safety property must still hold and the per-step
/// rules check that the component stays off (PROTOCOL.md §4-§6).
pub fn lifeguard_worlds() -> Vec<World> {
    // A crash and a loss among three nodes, as in `health`: probes fail, helpers nack,
    // suspicions gather confirmations, the crashed node must be declared dead in time. With
    // the period never stretched by local health, a nack must come back within one period:
    // a 4 ms probe timeout leaves room for the ping-req, the helper's wait (80% of it) and
    // the nack (with the scaled-down 5 ms, every nack lands after the probe was judged).
    let crash = |tweak: fn(&mut swim_checked_core::Config)| {
        crash_and_loss(3, |s| {
            tweak(&mut s.core);
            if !s.core.lifeguard_local_health {
                s.core.probe_timeout = 4;
            }
        })
    };
    vec![
        // The multiplier must stay 0 while probes fail and helpers stay silent.
        World {
            label: "no local health",
            setup: crash(|c| c.lifeguard_local_health = false),
        },
        // Every suspicion lasts the minimum whatever its confirmations.
        World {
            label: "fixed suspicion",
            setup: crash(|c| c.lifeguard_dynamic_suspicion = false),
        },
        // Two losses make a false suspicion: it must reach the suspect as queued gossip (or a
        // push-pull) and be refuted, with no record sent to it out of turn.
        World {
            label: "no buddy",
            setup: targeted(2, 30, |s| {
                s.drops = 2;
                s.core.lifeguard_buddy = false;
            }),
        },
        // All three off.
        World {
            label: "swim",
            setup: crash(|c| {
                c.lifeguard_local_health = false;
                c.lifeguard_dynamic_suspicion = false;
                c.lifeguard_buddy = false;
            }),
        },
    ]
}

/// A leave, then a rejoin under a new id: the old id stays gone, the new one alive.
fn rejoin_world() -> World {
    let core = Setup::scaled_config(false);
    World {
        label: "rejoin",
        setup: targeted(2, core.leave_timeout + 3 * core.probe_interval, |s| {
            s.leaves = 1;
            s.rejoins = 1;
        }),
    }
}

/// The targeted worlds (see the module doc); each line says what it makes bite.
pub fn targeted_worlds() -> Vec<World> {
    vec![
        // A pause longer than a whole suspicion: the live node is declared dead, then its
        // refutation (alive at a higher incarnation) and stale records race the verdict.
        // "no resurrection" bites here.
        World {
            label: "pause",
            setup: targeted(2, 40, |s| {
                s.pauses = 1;
            }),
        },
        // The same pause with `unreachable` on: the verdict is `unreachable`, refuted from
        // there, or confirmed dead by the application.
        World {
            label: "unreachable",
            setup: targeted(2, 40, |s| {
                s.pauses = 1;
                s.core = Setup::scaled_config(true);
            }),
        },
        // A metadata change racing a refutation: two losses make a false suspicion.
        World {
            label: "meta race",
            setup: targeted(2, 30, |s| {
                s.drops = 2;
                s.meta_changes = 1;
            }),
        },
        // A leave racing a suspicion and a death verdict of the leaving node (two losses
        // make the suspicion).
        World {
            label: "leave race",
            setup: targeted(2, 30, |s| {
                s.drops = 2;
                s.leaves = 1;
            }),
        },
        rejoin_world(),
        // Health capped at 2 after a crash: helpers nack, or (a lost nack) stay silent and
        // cost one more point. Three nodes and alpha = 2, so the suspicion timeout's log base
        // shows: max(1, log10 3) x 20 = 20 ms, where ln 3 would give 21.
        World {
            label: "health",
            setup: crash_and_loss(3, |_| {}),
        },
        // Tombstones that expire: a crashed node's record is purged, then a record of it
        // arrives again (a peer's push-pull) and must be ignored.
        World {
            label: "tombstones",
            setup: targeted(3, 10, |s| {
                s.crashes = 1;
                s.core.tombstone_ttl = 20;
                // A run is quiet once the crashed node is dead everywhere, before any
                // tombstone expires: run to the horizon.
                s.stop_when_quiet = false;
            }),
        },
    ]
}
