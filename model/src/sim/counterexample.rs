//! A simulator counterexample as a file: the scenario (which, with its seed, reproduces the
//! whole run) and every step of the member that broke a property, each a checker trace
//! [`Step`] (input, the picks it consumed, effects in order; the view after the last one).
//!
//! The checker's own [`crate::checker::Trace`] cannot hold a simulator run: its setup is a
//! checker world (scaled-down timings, one-millisecond network, model indices `0..5` with
//! ids `1..=5`), and replaying it means re-running that world's model, not `N` members over a
//! network with latencies and loss. What is replayable is one member: start a node with the
//! scenario's configuration, id and address, and hand it the recorded inputs at the recorded
//! times with the recorded picks; it must produce the recorded effects. The inputs from other
//! members are recorded whole, so nothing else of the run is needed. Two things a replay must
//! do as the simulator does, for they are not steps, and `starts` records: start the node on
//! its clock (`at`: the first step's `now` less its stagger), and, with `settled_start`, after
//! the first step (the sync that makes it a member) drain its join news with pings it answers
//! into the void, as `Simulation::settle` does (`settle`: the ping, how many, the picks they
//! asked). A join's command has no trace form (the checker's worlds start joined): it appears
//! as an input of kind `none`. `conformance`'s `sim_replay` replays the member against the
//! library (`cargo run -p conformance --bin sim-replay -- sim-counterexample.json`).

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};
use swim_checked_core::NodeId;

use super::runner::{Found, RecordedStart, sim_addr};
use super::scenario::Scenario;
use crate::checker::trace::{FORMAT_VERSION, Step, steps_by_line};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Counterexample {
    /// The checker's trace format version (of the steps).
    pub format: u32,
    pub property: String,
    pub detail: String,
    pub scenario: Scenario,
    /// The member that broke it, its id then and its address.
    pub member: usize,
    pub id: NodeId,
    pub addr: SocketAddr,
    pub at_s: f64,
    /// The member's starts (its node's creation and settling are not steps); none in a file
    /// written before they were recorded.
    #[serde(default)]
    pub starts: Vec<RecordedStart>,
    pub steps: Vec<Step>,
}

impl Counterexample {
    pub fn new(
        scenario: &Scenario,
        found: &Found,
        starts: Vec<RecordedStart>,
        steps: Vec<Step>,
    ) -> Counterexample {
        Counterexample {
            format: FORMAT_VERSION,
            property: found.violation.property.to_string(),
            detail: found.violation.detail.clone(),
            scenario: scenario.clone(),
            member: found.member,
            id: found.id,
            addr: sim_addr(found.member),
            at_s: found.at_s,
            starts,
            steps,
        }
    }

    /// One step per line, as the checker writes its traces.
    pub fn to_json(&self) -> String {
        let header = Counterexample {
            steps: Vec::new(),
            ..self.clone()
        };
        let head = serde_json::to_string_pretty(&header).expect("a counterexample serializes");
        steps_by_line(&head, &self.steps) + "\n"
    }
}
