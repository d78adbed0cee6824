//! Errors of the node handle.

use std::fmt;
use std::io;
use std::net::SocketAddr;

use swim_checked_core::{CommandError, ConfigError};

use crate::seal::KeyError;

/// What went wrong.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The configuration (or the start metadata) was rejected; the message says which field
    /// and why.
    Config(ConfigError),
    /// Binding or reading the socket failed.
    Io(io::Error),
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
    /// No seed answered within `join_attempts x join_retry_interval`.
    JoinTimeout {
        /// The seed addresses tried.
        seeds: Vec<SocketAddr>,
    },
    /// The node task has stopped (shut down, aborted, or every handle was dropped).
    Stopped,
    /// A key operation or encryption mode was refused (removing the primary key, a mode that
    /// needs a key without one, ...).
    Key(KeyError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config(e) => write!(f, "{e}"),
            Error::Io(e) => write!(f, "socket error: {e}"),
            Error::UnspecifiedAddr(a) => write!(
                f,
                "bound to unspecified address {a}: peers cannot reach it, set an advertise address"
            ),
            Error::Resolve { seed, error } => write!(f, "cannot resolve seed {seed:?}: {error}"),
            Error::NoSeeds => write!(f, "no seed address to join through"),
            Error::Rejected(e) => write!(f, "command rejected: {e}"),
            Error::JoinTimeout { seeds } => write!(f, "no answer from seeds {seeds:?}"),
            Error::Stopped => write!(f, "the node has stopped"),
            Error::Key(e) => write!(f, "key refused: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Config(e) => Some(e),
            Error::Io(e) => Some(e),
            Error::Resolve { error, .. } => Some(error),
            Error::Rejected(e) => Some(e),
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

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

impl From<CommandError> for Error {
    fn from(e: CommandError) -> Self {
        Error::Rejected(e)
    }
}
