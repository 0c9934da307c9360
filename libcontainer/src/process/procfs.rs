//! A private procfs for the init's own writes: sysctls and LSM exec labels.
//!
//! Why not the container's `/proc`: its mounts come from the bundle, and a bind mount
//! over `/proc/sys/...` or `/proc/self/attr/...` (allowed for the files lxcfs emulates)
//! would redirect a write meant for the kernel onto a file the config chose
//! (CVE-2025-52881). So the init makes a procfs of its own with fsopen/fsmount: a
//! detached mount, in no mount namespace's tree, that no container mount can cover. It
//! is made while the init is already in the container's pid and network namespaces, so
//! `<pid>` and `sys/net` are the container's. Every path is opened beneath it with
//! openat2, refusing symlinks, magic links and crossing into another mount.

use crate::sys::mount::{self, FsContext};
use crate::{Error, Result};
use nix::errno::Errno;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

const RESOLVE_NO_XDEV: u64 = 0x01;
const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_NO_SYMLINKS: u64 = 0x04;
const RESOLVE_BENEATH: u64 = 0x08;

pub struct Procfs(OwnedFd);

impl Procfs {
    /// A new procfs of the caller's pid namespace. Made before the rootfs is set up: in a
    /// user namespace the kernel only allows a new procfs where a full one is visible.
    pub fn open() -> Result<Self> {
        let fail = |e| Error::sys("make a private procfs (fsopen proc)", e);
        let fc = FsContext::open("proc").map_err(fail)?;
        let attrs = mount::MOUNT_ATTR_NOSUID | mount::MOUNT_ATTR_NODEV | mount::MOUNT_ATTR_NOEXEC;
        let mnt = fc.mount(attrs).map_err(|e| {
            Error::Other(format!(
                "make a private procfs (fsmount proc): {e}: {}",
                fc.log()
            ))
        })?;
        Ok(Procfs(mnt))
    }

    /// Opens `rel` (no `..`, no links) below this procfs for writing.
    pub fn open_write(&self, rel: &Path) -> std::result::Result<OwnedFd, Errno> {
        mount::openat2(
            self.0.as_fd(),
            rel,
            libc::O_WRONLY,
            0,
            RESOLVE_NO_XDEV | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_BENEATH,
        )
    }

    /// This process's fd directory (`thread-self/fd`: the init is single-threaded), for
    /// the close-on-exec fallback of kernels before 5.11 (see `init::cloexec_from`).
    pub fn own_fds(&self) -> std::result::Result<OwnedFd, Errno> {
        mount::openat2(
            self.0.as_fd(),
            Path::new("thread-self/fd"),
            libc::O_RDONLY | libc::O_DIRECTORY,
            0,
            RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS | RESOLVE_BENEATH,
        )
    }

    /// Writes `value` to `rel` in one write(2) (procfs takes a value per write).
    pub fn write(&self, rel: &Path, value: &[u8]) -> std::result::Result<(), Errno> {
        let fd = self.open_write(rel)?;
        write_all(&fd, value)
    }
}

/// One write(2) of all of `value`: a short write is an error, not a retry (a second
/// write would be read by procfs as a second value).
pub fn write_all(fd: &OwnedFd, value: &[u8]) -> std::result::Result<(), Errno> {
    match nix::unistd::write(fd, value)? {
        n if n == value.len() => Ok(()),
        _ => Err(Errno::EIO),
    }
}

/// `sys/<key with '.' as '/'>`: where sysctl `key` lives under a procfs.
pub fn sysctl_path(key: &str) -> std::path::PathBuf {
    Path::new("sys").join(key.replace('.', "/"))
}
