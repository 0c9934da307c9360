//! Spawning the container init and running it up to the user's `execve`.
//!
//! - [`spawn`]: the parent side. Opens the namespaces to join, clones the init with
//!   one clone3(2) into its new namespaces, answers its requests, waits until it is ready.
//! - [`init`]: the child side. Rootfs, hostname, credentials, then it blocks on
//!   `exec.fifo` until `start`, and execs.
//! - [`channel`]: the typed messages between the two.
//! - `maps`: the uid/gid maps the parent writes, directly or with newuidmap/newgidmap.
//! - `seccomp_listener`: the parent hands the seccomp notify fd to the agent.

pub mod channel;
pub mod init;
mod init_hooks;
pub mod lsm;
mod maps;
mod namespaces;
mod procfs;
mod sched;
mod seccomp_listener;
pub mod spawn;
pub mod sysctl;
pub mod tty;
mod user;

use oci_spec::runtime::Spec;
use std::path::Path;

/// Everything the init needs, prepared by the parent before it clones.
pub struct InitConfig<'a> {
    pub spec: &'a Spec,
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
    /// The container's cgroup, made and limited by `create`; the parent places the init
    /// in it before the init does anything (see `spawn`).
    pub cgroup: Option<&'a corral_cgroups::Cgroup>,
}
