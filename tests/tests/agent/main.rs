//! The `swim-agent` binary as a person uses it, as OS processes on loopback: flags and config
//! files (`cli`), a cluster of agents that detects a killed one and a leaving one (`cluster`),
//! and the dashboard in a headless browser with the JSON API and `/metrics` (`dashboard`).

mod cli;
mod cluster;
// Process groups (to kill chromium with its driver) are Unix.
#[cfg(unix)]
mod dashboard;
