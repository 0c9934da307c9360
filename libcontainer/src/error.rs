//! The library's error type: every variant says what failed and where.
//!
//! A variant whose message ends with an OS or parser error also returns it as its
//! `source()`, so a caller can branch on the kind (`io::ErrorKind`, the errno) rather
//! than on words. The binary prints the chain without saying a cause twice.

use std::path::PathBuf;

pub type Result<T> = std::result::Result<T, Error>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O call on a named path failed.
    #[error("{what} {path}: {err}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        err: std::io::Error,
    },
    /// A system call failed.
    #[error("{what}: {errno}")]
    Sys {
        what: String,
        #[source]
        errno: nix::Error,
    },
    /// `config.json` is not valid JSON or does not match the spec's types.
    #[error("cannot parse {path}: {err}")]
    ConfigParse {
        path: PathBuf,
        #[source]
        err: serde_json::Error,
    },
    /// A field of `config.json` has a value the spec or corral does not allow.
    #[error("{file}: {field}: {msg}")]
    Invalid {
        file: PathBuf,
        field: String,
        msg: String,
    },
    /// A field of `config.json` that this version of corral does not implement.
    #[error("{file}: {field}: not supported by corral yet")]
    Unsupported { file: PathBuf, field: String },
    /// A command-line option that this version of corral does not implement.
    #[error("{0}: not supported by corral yet")]
    UnsupportedOption(String),
    #[error("invalid container id {0:?}: an id is 1 to 1024 characters of letters, digits, '_', '+', '-' and '.', and not '.' or '..'")]
    InvalidId(String),
    /// The runtime root is not safe to keep state in (see `rootdir`).
    #[error("state root {}: refused: it {why}, so another user could change corral's state", path.display())]
    UnsafeRoot { path: PathBuf, why: String },
    #[error("container {0} does not exist")]
    NotFound(String),
    /// A state file of a container is not what corral wrote (cut short, or changed): a
    /// caller cleaning up a damaged state dir branches on it.
    #[error("corrupt state file {}: {err}", path.display())]
    CorruptState {
        path: PathBuf,
        #[source]
        err: serde_json::Error,
    },
    #[error("container {0} already exists")]
    Exists(String),
    /// The operation is not allowed in the container's current status.
    #[error("container {id} is {status}: {msg}")]
    BadStatus {
        id: String,
        status: &'static str,
        msg: &'static str,
    },
    /// The container init failed before it could run the user's program.
    #[error("container init failed: {0}")]
    Init(String),
    /// A hook could not be run, failed or outlived its timeout.
    #[error("{field} ({}): {msg}", path.display())]
    Hook {
        field: String,
        path: PathBuf,
        msg: String,
    },
    /// Making, limiting or removing the container's cgroup failed.
    #[error(transparent)]
    Cgroup(#[from] corral_cgroups::Error),
    #[error("{0}")]
    Other(String),
}

impl Error {
    pub fn io(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            what,
            path: path.into(),
            err: source,
        }
    }

    pub fn sys(what: impl Into<String>, errno: nix::Error) -> Self {
        Error::Sys {
            what: what.into(),
            errno,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn causes_are_sources() {
        let gone = std::io::Error::from(std::io::ErrorKind::NotFound);
        let e = Error::io("cannot open", "/x", gone);
        let io = e.source().and_then(|s| s.downcast_ref::<std::io::Error>());
        assert_eq!(io.map(|e| e.kind()), Some(std::io::ErrorKind::NotFound));
        assert_eq!(e.to_string(), "cannot open /x: entity not found");

        let e = Error::sys("kill 1", nix::Error::EPERM);
        let errno = e.source().and_then(|s| s.downcast_ref::<nix::Error>());
        assert_eq!(errno, Some(&nix::Error::EPERM));

        let err = serde_json::from_str::<u8>("").unwrap_err();
        let e = Error::CorruptState {
            path: "/r/c1/state.json".into(),
            err,
        };
        assert!(e.source().is_some_and(|s| s.is::<serde_json::Error>()));
        assert_eq!(
            e.to_string(),
            "corrupt state file /r/c1/state.json: EOF while parsing a value at line 1 column 0"
        );
    }
}
