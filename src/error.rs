//! One error type for the whole runtime: what failed, with its context
//! (a JSON path, a file, a container id) and the errno where there is one.

use std::fmt;

#[derive(Debug)]
pub enum Error {
    /// Bad input from the user: a flag, a config field, an id.
    Invalid(String),
    /// A system call failed while doing `what`.
    Sys {
        what: String,
        errno: nix::errno::Errno,
    },
    /// An I/O error on a named file.
    Io { what: String, err: std::io::Error },
    /// Anything else, already phrased for the user.
    Msg(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Invalid(m) | Error::Msg(m) => f.write_str(m),
            Error::Sys { what, errno } => write!(f, "{what}: {}", errno.desc()),
            Error::Io { what, err } => write!(f, "{what}: {err}"),
        }
    }
}

impl std::error::Error for Error {}

/// Attach context to a failing syscall or I/O call.
pub trait Context<T> {
    fn ctx<S: Into<String>>(self, what: S) -> Result<T>;
    fn with_ctx<S: Into<String>, F: FnOnce() -> S>(self, what: F) -> Result<T>;
}

impl<T> Context<T> for std::result::Result<T, nix::errno::Errno> {
    fn ctx<S: Into<String>>(self, what: S) -> Result<T> {
        self.map_err(|errno| Error::Sys {
            what: what.into(),
            errno,
        })
    }
    fn with_ctx<S: Into<String>, F: FnOnce() -> S>(self, what: F) -> Result<T> {
        self.map_err(|errno| Error::Sys {
            what: what().into(),
            errno,
        })
    }
}

impl<T> Context<T> for std::io::Result<T> {
    fn ctx<S: Into<String>>(self, what: S) -> Result<T> {
        self.map_err(|err| Error::Io {
            what: what.into(),
            err,
        })
    }
    fn with_ctx<S: Into<String>, F: FnOnce() -> S>(self, what: F) -> Result<T> {
        self.map_err(|err| Error::Io {
            what: what().into(),
            err,
        })
    }
}
