//! The `swim-agent` binary as a person uses it, as OS processes on loopback: flags and config
//! files (`cli`), a cluster of agents that detects a killed one and a leaving one (`cluster`),
//! their recordings checked against the model (`recordings`), and the dashboard in a headless
//! browser with the JSON API and `/metrics` (`dashboard`).

mod cli;
mod cluster;
mod recordings;
// Process groups (to kill chromium with its driver) are Unix.
#[cfg(unix)]
mod dashboard;
