//! seccomp filters for corral: runtime-spec `linux.seccomp`, compiled with libseccomp.
//!
//! - [`check`]: what can be said about a profile without building it (validation).
//! - [`check_json`]: names the field when `config.json` has a value oci-spec cannot parse
//!   (an unknown action, architecture, operator or flag).
//! - [`compile`]: builds the filter in memory; [`Compiled::load`] attaches it to the
//!   calling thread and returns the notify fd when a rule uses `SCMP_ACT_NOTIFY`.
//! - [`denial`]: how a profile stops one system call, read from the profile;
//!   [`is_native_syscall`]: whether a name is a call of the architecture built for.
//! - [`features`]: what this build and this libseccomp can do, for `corral features`.

mod compile;
mod features;
mod names;
mod raw;
mod verdict;

pub use compile::{check, compile, Compiled};
pub use features::{archs, features, version};
pub use names::name;
pub use raw::check_json;
pub use verdict::{denial, is_native_syscall, Denial};

/// An error in `linux.seccomp`, or while loading the filter.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A field of the profile cannot be turned into a filter; `field` is its full path
    /// (`linux.seccomp.syscalls[3].action`).
    #[error("{field}: {msg}")]
    Invalid { field: String, msg: String },
    /// The kernel or libseccomp refused the finished filter.
    #[error("load the seccomp filter: {0}")]
    Load(String),
}

impl Error {
    fn invalid(field: impl Into<String>, msg: impl Into<String>) -> Self {
        Error::Invalid {
            field: field.into(),
            msg: msg.into(),
        }
    }

    /// The field the error is about, when it is about one.
    pub fn field(&self) -> Option<&str> {
        match self {
            Error::Invalid { field, .. } => Some(field),
            Error::Load(_) => None,
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests;
