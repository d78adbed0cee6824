//! The integration tests of the shell, in one test binary (one link instead of one per file).
//!
//! - `amplification`: a forged-source sync gets at most 3x its bytes until validated.
//! - `api`: the handle's API around the protocol (configuration errors, seeds, lifecycle, stats).
//! - `cluster`: real nodes on loopback in real time (convergence, crashes, leave, rejoin).
//! - `faults`: a lossy network, a paused node, malformed datagrams.
//! - `hostile`: a flood of hostile datagrams at one node of a real cluster (CI-sized campaign).
//! - `manual`: deterministic time with a `ManualClock`, driven as the conformance harness does.
//! - `seal`: authenticated encryption (forgeries, bit flips, key rotation, rollout).
//! - `usage`: the library as an application uses it: join and leave results, streams, the
//!   watched view, application data, metadata by key, configuration, errors (issue 21).
//!
//! `common` holds the helpers they share (loopback clusters, waiting on events).

mod amplification;
mod api;
mod cluster;
mod common;
mod faults;
mod hostile;
mod manual;
mod seal;
mod usage;
