//! corral's container library.
//!
//! The modules follow the life of a container:
//! [`bundle`] loads `config.json` and [`validate`] checks it, [`state`] keeps the
//! container's directory under the runtime root, [`container`] holds one file per
//! lifecycle operation, [`process`] spawns the container init and runs it up to the
//! user's `execve`, [`rootfs`] builds its filesystem view and [`hooks`] runs the
//! config's hooks.

pub mod bundle;
pub mod checked;
pub mod container;
pub mod criu;
pub mod error;
pub mod features;
pub mod hooks;
pub mod id;
pub mod json;
pub mod netdev;
pub mod process;
pub mod rootdir;
pub mod rootfs;
pub mod sealed_exe;
pub mod signal;
pub mod state;
pub(crate) mod sys;
pub mod template;
pub mod timefmt;
pub mod trace;
pub mod trampoline;
pub mod validate;

pub use error::{Error, Result};

/// The runtime-spec version corral implements.
pub const OCI_VERSION: &str = "1.3.0";
