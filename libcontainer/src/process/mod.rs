//! Spawning the container init and running it up to the user's `execve`.
//!
//! - [`spawn`]: the parent side. Opens the namespaces to join, clones the init with
//!   one clone3(2) into its new namespaces, answers its requests, waits until it is ready.
//! - [`init`]: the child side. Rootfs, hostname, credentials, then it blocks on
//!   `exec.fifo` until `start`, and execs.
//! - [`channel`]: the typed messages between the two.
//! - [`exec`]: `corral exec`'s process, in the namespaces and cgroup of a container's
//!   init, set up as the init's own.
//! - `maps`: the uid/gid maps the parent writes, directly or with newuidmap/newgidmap.
//! - `filter`: the seccomp filter's load, and the calls the init makes after it.
//! - `seccomp_listener`: the parent hands the seccomp notify fd to the agent.

pub(crate) mod affinity;
pub(crate) mod boundary;
pub mod channel;
pub mod exec;
mod filter;
pub mod init;
mod init_hooks;
pub mod lsm;
mod maps;
mod namespaces;
pub use namespaces::{has_mount_ns, has_own_pid_ns};
pub mod numa;
mod procfs;
mod sched;
mod seccomp_listener;
pub mod spawn;
pub mod sysctl;
pub mod tty;
mod user;

use crate::{Error, Result};
use oci_spec::runtime::Spec;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::Path;

pub(crate) use filter::allows_trampoline;

/// Connects to the `--pidfd-socket` at `path`.
pub fn connect_pidfd_socket(path: &Path) -> Result<UnixStream> {
    UnixStream::connect(path).map_err(|e| Error::io("cannot connect to --pidfd-socket", path, e))
}

/// `--pidfd-socket`: sends a pidfd of `pid` (a child of corral, not yet reaped, so the
/// pid cannot be another process's) over `socket` with SCM_RIGHTS, `kind` as the data
/// ("standard" for a container's init, "setns" for a process of `exec`, as runc 1.2).
pub fn send_pidfd(socket: &UnixStream, pid: i32, kind: &str) -> Result<()> {
    let pidfd =
        crate::sys::pidfd_open(pid).map_err(|e| Error::sys(format!("pidfd_open {pid}"), e))?;
    crate::sys::send_fd(socket.as_raw_fd(), kind.as_bytes(), pidfd.as_raw_fd())
        .map_err(|e| Error::sys("send the pidfd over --pidfd-socket", e))
}

/// Everything the init needs, prepared by the parent before it clones.
pub struct InitConfig<'a> {
    pub spec: &'a Spec,
    /// The values of `spec.process` the validator checked: the init sets these.
    pub checked: Option<&'a crate::checked::CheckedProcess>,
    pub rootfs: &'a Path,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    /// Extra fds after stdio that the container keeps (`--preserve-fds`).
    pub preserve_fds: u32,
    /// Fds of the parent the init must close at once, before anything else: the state
    /// dir's lock above all (a flock belongs to the open file, which the fork shares).
    pub parent_fds: Vec<std::os::fd::RawFd>,
    /// Idmapped trees made on the host, by index of `mounts` (see `rootfs::idmap`).
    pub idmapped: &'a [Option<std::os::fd::OwnedFd>],
    /// The seccomp filter, compiled before clone: the init inherits it in its copy of
    /// the memory and only loads it.
    pub seccomp: Option<&'a corral_seccomp::Compiled>,
    /// The container's id and bundle, for the seccomp listener.
    pub id: &'a str,
    pub bundle: &'a Path,
    /// The connected `--console-socket`, for the pty master (see `tty`).
    pub console_socket: Option<std::os::fd::RawFd>,
    /// The container's cgroup, made and limited by `create`; the init enters it before it
    /// does anything else (or the parent places it there first, see `spawn::entry`).
    pub cgroup: Option<&'a corral_cgroups::Cgroup>,
    /// With `--systemd-cgroup`: starts the scope with the init's pid in it, in place of
    /// CLONE_INTO_CGROUP (systemd makes the cgroup, and refuses a scope with no process).
    pub start_scope: Option<&'a dyn Fn(i32) -> crate::Result<()>>,
    /// The exec trampoline's sealed memfd (see `crate::trampoline`), when the init leaves
    /// corral through it; else corral runs from a write-protected copy already.
    pub trampoline: Option<&'a std::os::fd::OwnedFd>,
}
