//! Errors of the node handle.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use swim_checked_core::{CommandError, ConfigError};

use crate::seal::KeyError;

/// What went wrong.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The configuration (or the start metadata) was rejected; the message says which field
    /// and why.
    Config(ConfigError),
    /// A socket operation failed.
    Io {
        /// What was being done: `"bind"`, `"local_addr"`, ...
        op: &'static str,
        /// The address concerned (the one bound, or the socket's), when known.
        addr: Option<String>,
        /// What the system said.
        error: io::Error,
    },
    /// The node would advertise an unspecified address (`0.0.0.0` / `::`) that peers cannot
    /// reach: set [`Builder::advertise`](crate::Builder::advertise).
    UnspecifiedAddr(SocketAddr),
    /// A seed host name did not resolve.
    Resolve {
        /// The `host:port` given.
        seed: String,
        /// What the resolver said.
        error: io::Error,
    },
    /// `join` was given no usable seed address.
    NoSeeds,
    /// The core refused the command (the node left, metadata too large, ...).
    Rejected(CommandError),
    /// No seed answered the join: each address tried, and what is known of why.
    Join(JoinError),
    /// [`Node::wait_for`](crate::Node::wait_for) timed out.
    Timeout {
        /// How long it waited.
        waited: Duration,
    },
    /// The node task has stopped (shut down, aborted, or every handle was dropped).
    Stopped,
    /// A key operation or encryption mode was refused (removing the primary key, a mode that
    /// needs a key without one, ...).
    Key(KeyError),
}

impl Error {
    /// An I/O error of `op` on `addr`.
    pub(crate) fn io(op: &'static str, addr: impl fmt::Display, error: io::Error) -> Self {
        Error::Io {
            op,
            addr: Some(addr.to_string()),
            error,
        }
    }
}

/// Why a join failed: every seed address tried, with what this node saw of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinError {
    /// Each address tried, in the order given.
    pub seeds: Vec<SeedFailure>,
    /// How long the join waited for an answer.
    pub waited: Duration,
}

/// One seed address that did not answer a join.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedFailure {
    /// The address tried.
    pub addr: SocketAddr,
    /// What is known of why.
    pub reason: SeedSilence,
}

/// What a node can tell about a seed that did not answer its join.
///
/// UDP gives little away: a seed that is down, one whose port is closed (the ICMP "port
/// unreachable" is not reported on an unconnected socket), one that runs another cluster label
/// and one that holds another key all drop the join without a word, and look the same from
/// here ([`SeedSilence::NoAnswer`]). The cases below are the ones a node can see.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SeedSilence {
    /// Nothing came back. The seed may be down, its port closed, or it may have dropped the
    /// join for another cluster label or another key: these cannot be told apart from here.
    NoAnswer,
    /// The seed sent datagrams, and this node dropped them, for this reason (a
    /// [`DecodeError::reason`](swim_checked_core::DecodeError::reason): `label_mismatch` for
    /// another cluster label, `unauthenticated` for another key, `plaintext_refused`, ...).
    Dropped(&'static str),
    /// Sending to the seed failed locally (no route, address family, permission, ...).
    SendFailed(io::ErrorKind),
}

impl fmt::Display for SeedSilence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SeedSilence::NoAnswer => f.write_str(
                "no answer (down, port closed, or another cluster label or key: UDP does not say which)",
            ),
            SeedSilence::Dropped(reason) => {
                write!(f, "its datagrams were dropped here: {reason}")
            }
            SeedSilence::SendFailed(kind) => write!(f, "sending to it failed: {kind}"),
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no seed answered within {:?}", self.waited)?;
        for (i, seed) in self.seeds.iter().enumerate() {
            let sep = if i == 0 { ": " } else { "; " };
            write!(f, "{sep}{}: {}", seed.addr, seed.reason)?;
        }
        Ok(())
    }
}

impl std::error::Error for JoinError {}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config(e) => write!(f, "{e}"),
            Error::Io {
                op,
                addr: Some(addr),
                error,
            } => write!(f, "{op} {addr}: {error}"),
            Error::Io {
                op,
                addr: None,
                error,
            } => write!(f, "{op}: {error}"),
            Error::UnspecifiedAddr(a) => write!(
                f,
                "bound to unspecified address {a}: peers cannot reach it, set an advertise address"
            ),
            Error::Resolve { seed, error } => write!(f, "cannot resolve seed {seed:?}: {error}"),
            Error::NoSeeds => write!(f, "no seed address to join through"),
            Error::Rejected(e) => write!(f, "command rejected: {e}"),
            Error::Join(e) => write!(f, "join failed: {e}"),
            Error::Timeout { waited } => write!(f, "condition not met within {waited:?}"),
            Error::Stopped => write!(f, "the node has stopped"),
            Error::Key(e) => write!(f, "key refused: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Config(e) => Some(e),
            Error::Io { error, .. } => Some(error),
            Error::Resolve { error, .. } => Some(error),
            Error::Rejected(e) => Some(e),
            Error::Join(e) => Some(e),
            Error::Key(e) => Some(e),
            _ => None,
        }
    }
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        Error::Config(e)
    }
}

impl From<KeyError> for Error {
    fn from(e: KeyError) -> Self {
        Error::Key(e)
    }
}

impl From<CommandError> for Error {
    fn from(e: CommandError) -> Self {
        Error::Rejected(e)
    }
}
