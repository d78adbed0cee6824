//! What a run measures: detection of each crash, the spread of each update, false suspicions
//! and false deaths, traffic, and convergence after each heal. Fed by the members' own events
//! ([`MemberEvent`]) and the datagrams they send; summarised into a [`Report`] of plain numbers
//! (simulated seconds, counts), the same for the same seed.

use serde::{Deserialize, Serialize};
use swim_checked_core::{EventKind, MemberEvent, NodeId};

/// Not yet.
const NEVER: u64 = u64::MAX;

/// One crash and when the cluster noticed it.
#[derive(Clone, Debug)]
pub struct Failure {
    pub id: NodeId,
    pub at: u64,
    pub first_suspect: u64,
    pub first_dead: u64,
    /// When each member first held it dead (by member index).
    pub dead_at: Vec<u64>,
}

/// One metadata change and when each member saw it.
#[derive(Clone, Debug)]
pub struct Update {
    pub id: NodeId,
    pub incarnation: u64,
    pub at: u64,
    pub seen_at: Vec<u64>,
}

/// A heal and when every member again held every other alive.
#[derive(Clone, Copy, Debug)]
pub struct Heal {
    pub at: u64,
    pub converged_at: Option<u64>,
}

/// How the subject of an event stood when the event was reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject {
    /// Up and running, handling its inputs on time.
    Healthy,
    /// Up and running, but slow (its inputs are delayed).
    Slow,
    /// Crashed, left, removed, or an id its owner no longer uses.
    Gone,
}

/// Running tallies of one run.
#[derive(Clone, Debug, Default)]
pub struct Metrics {
    capacity: usize,
    pub failures: Vec<Failure>,
    pub updates: Vec<Update>,
    pub heals: Vec<Heal>,
    pub datagrams: u64,
    pub bytes: u64,
    pub cross_zone_bytes: u64,
    pub lost_loss: u64,
    pub lost_partition: u64,
    pub lost_one_way: u64,
    /// Datagrams that reached a member that was down.
    pub lost_down: u64,
    /// Member-seconds of up members (the denominator of per-member rates).
    pub member_seconds: f64,
    pub suspicions: u64,
    pub false_suspicions: u64,
    pub false_suspicions_of_slow: u64,
    pub false_deaths: u64,
    pub false_deaths_of_slow: u64,
    /// Healthy members (id and incarnation) some member held dead: each wrong verdict once.
    pub falsely_dead: std::collections::BTreeSet<(NodeId, u64)>,
    pub commands_refused: u64,
    pub steps: u64,
}

impl Metrics {
    pub fn new(capacity: usize) -> Metrics {
        Metrics {
            capacity,
            ..Metrics::default()
        }
    }

    pub fn crashed(&mut self, id: NodeId, at: u64) {
        self.failures.push(Failure {
            id,
            at,
            first_suspect: NEVER,
            first_dead: NEVER,
            dead_at: vec![NEVER; self.capacity],
        });
    }

    pub fn updated(&mut self, id: NodeId, incarnation: u64, at: u64) {
        self.updates.push(Update {
            id,
            incarnation,
            at,
            seen_at: vec![NEVER; self.capacity],
        });
    }

    /// Member `observer` reported `e` at `at`; `subject` is how its subject stood.
    pub fn event(&mut self, observer: usize, e: &MemberEvent, at: u64, subject: Subject) {
        let id = e.member.id;
        match e.kind() {
            EventKind::Suspect => {
                self.suspicions += 1;
                match subject {
                    Subject::Healthy => self.false_suspicions += 1,
                    Subject::Slow => self.false_suspicions_of_slow += 1,
                    Subject::Gone => {}
                }
                for f in self.failures.iter_mut().filter(|f| f.id == id) {
                    f.first_suspect = f.first_suspect.min(at);
                }
            }
            EventKind::Dead => {
                match subject {
                    Subject::Healthy => {
                        self.false_deaths += 1;
                        self.falsely_dead.insert((id, e.member.incarnation));
                    }
                    Subject::Slow => self.false_deaths_of_slow += 1,
                    Subject::Gone => {}
                }
                for f in self.failures.iter_mut().filter(|f| f.id == id) {
                    f.first_dead = f.first_dead.min(at);
                    f.dead_at[observer] = f.dead_at[observer].min(at);
                }
            }
            EventKind::MetadataChanged
            | EventKind::AliveAgain
            | EventKind::Joined
            | EventKind::Restarted => {
                for u in self.updates.iter_mut().filter(|u| u.id == id) {
                    if e.member.incarnation >= u.incarnation {
                        u.seen_at[observer] = u.seen_at[observer].min(at);
                    }
                }
            }
            EventKind::Unreachable | EventKind::Left => {}
        }
    }

    /// The summary. `witness(i, since)`: whether member `i` ran from `since` to the end (the
    /// members whose views the "all" times wait for).
    pub fn report(&self, witness: &dyn Fn(usize, u64) -> bool) -> Report {
        let after = |t: u64, from: u64| (t != NEVER).then(|| (t - from) as f64 / 1e6);
        let last = |times: &[u64], since: u64, except: usize| {
            let mut worst = since;
            for (i, &t) in times.iter().enumerate() {
                if i != except && witness(i, since) {
                    if t == NEVER {
                        return None;
                    }
                    worst = worst.max(t);
                }
            }
            Some((worst - since) as f64 / 1e6)
        };
        let owner = |id: NodeId| ((id.0 & 0xffff_ffff) - 1) as usize;
        let failures = (self.failures.iter())
            .map(|f| FailureReport {
                at_s: f.at as f64 / 1e6,
                first_suspect_s: after(f.first_suspect, f.at),
                first_dead_s: after(f.first_dead, f.at),
                all_dead_s: last(&f.dead_at, f.at, owner(f.id)),
            })
            .collect();
        let updates = (self.updates.iter())
            .map(|u| UpdateReport {
                at_s: u.at as f64 / 1e6,
                all_seen_s: last(&u.seen_at, u.at, owner(u.id)),
            })
            .collect();
        let heals = (self.heals.iter())
            .map(|h| HealReport {
                at_s: h.at as f64 / 1e6,
                converged_s: h.converged_at.map(|c| (c - h.at) as f64 / 1e6),
            })
            .collect();
        let per_member = |x: u64| {
            if self.member_seconds > 0.0 {
                x as f64 / self.member_seconds
            } else {
                0.0
            }
        };
        Report {
            steps: self.steps,
            datagrams: self.datagrams,
            bytes: self.bytes,
            cross_zone_bytes: self.cross_zone_bytes,
            datagrams_per_member_s: round(per_member(self.datagrams)),
            bytes_per_member_s: round(per_member(self.bytes)),
            lost: Lost {
                loss: self.lost_loss,
                partition: self.lost_partition,
                one_way: self.lost_one_way,
                down: self.lost_down,
            },
            suspicions: self.suspicions,
            false_suspicions: self.false_suspicions,
            false_suspicions_of_slow: self.false_suspicions_of_slow,
            false_deaths: self.false_deaths,
            false_deaths_of_slow: self.false_deaths_of_slow,
            falsely_dead: self.falsely_dead.len() as u64,
            commands_refused: self.commands_refused,
            failures,
            updates,
            heals,
        }
    }
}

/// Three decimals: enough, and the same text on every machine.
fn round(x: f64) -> f64 {
    (x * 1_000.0).round() / 1_000.0
}

/// A run's figures (times in simulated seconds, relative to their cause).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub steps: u64,
    pub datagrams: u64,
    pub bytes: u64,
    pub cross_zone_bytes: u64,
    pub datagrams_per_member_s: f64,
    pub bytes_per_member_s: f64,
    pub lost: Lost,
    pub suspicions: u64,
    /// Suspicions raised of a member that was up, running and not slow.
    pub false_suspicions: u64,
    pub false_suspicions_of_slow: u64,
    /// Dead verdicts about a member that was up, running and not slow.
    pub false_deaths: u64,
    pub false_deaths_of_slow: u64,
    /// Wrong dead verdicts on healthy members, each counted once however many members held
    /// it (a member and incarnation declared dead).
    #[serde(default)]
    pub falsely_dead: u64,
    pub commands_refused: u64,
    pub failures: Vec<FailureReport>,
    pub updates: Vec<UpdateReport>,
    pub heals: Vec<HealReport>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Lost {
    pub loss: u64,
    pub partition: u64,
    pub one_way: u64,
    pub down: u64,
}

/// One crash: after how long the first member suspected it, the first held it dead, and every
/// member that ran throughout held it dead (`None`: not within the run).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FailureReport {
    pub at_s: f64,
    pub first_suspect_s: Option<f64>,
    pub first_dead_s: Option<f64>,
    pub all_dead_s: Option<f64>,
}

/// One update: after how long every member that ran throughout held it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UpdateReport {
    pub at_s: f64,
    pub all_seen_s: Option<f64>,
}

/// One heal: after how long every running member held every other alive again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HealReport {
    pub at_s: f64,
    pub converged_s: Option<f64>,
}
