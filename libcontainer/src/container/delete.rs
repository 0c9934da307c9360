//! `delete`: remove a stopped container; `--force` kills a created, running or paused
//! one first (runtime.md: "Attempting to delete a container that is not stopped MUST
//! generate an error"). The poststop hooks run once it is gone; `warn` logs those that
//! fail.

use crate::state::{process_alive, Saved, StateDir, Status};
use crate::{hooks, sys, Error, Result};
use corral_cgroups::pidfd;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use std::os::fd::AsFd;
use std::path::Path;

pub fn delete(root: &Path, id: &str, force: bool, warn: &dyn Fn(&str)) -> Result<()> {
    let dir = match StateDir::open(root, id) {
        // runc: deleting a container that does not exist with --force is not an error.
        Err(Error::NotFound(_)) if force => return Ok(()),
        r => r?,
    };
    // --force always makes progress: a state file it cannot read is reported and the
    // other records used instead; what it cannot remove is reported once the state
    // directory is gone (keeping it would only wedge the id).
    let saved = salvage(force, warn, "saved state", dir.load())?;
    let status = dir.status(saved.as_ref());
    crate::trace::step(|| {
        let pid = saved
            .as_ref()
            .map_or("unknown".into(), |s| s.pid.to_string());
        format!("delete {id}: status {}, init pid {pid}", status.as_str())
    });
    if status != Status::Stopped && !force {
        return Err(Error::BadStatus {
            id: id.to_string(),
            status: status.as_str(),
            msg: match status {
                Status::Created => {
                    "only a stopped container can be deleted (start it and let it stop, \
                     kill it, or use --force)"
                }
                Status::Creating => {
                    "only a stopped container can be deleted (wait for create to finish, \
                     or use --force)"
                }
                _ => "cannot delete a running container (stop it first, or use --force)",
            },
        });
    }
    let mut left = vec![];
    let mut step = |r: Result<()>| match r {
        Err(e) if force => {
            left.push(e.to_string());
            Ok(())
        }
        r => r,
    };
    if let Some(saved) = &saved {
        if status != Status::Stopped {
            crate::trace::step(|| "delete: SIGKILL the container's processes".into());
            step(kill_and_wait(saved))?;
        }
    }
    // Also kills what is left when the init is gone (without a pid namespace of its own,
    // its children outlive it), or when `create` died before it recorded the init.
    let cgroup = match saved.as_ref().and_then(|s| s.cgroup.clone()) {
        Some(cg) => Some(cg),
        None => salvage(force, warn, "cgroup record", dir.load_cgroup())?,
    };
    if let Some(cg) = &cgroup {
        crate::trace::step(|| format!("delete: destroy cgroup {}", cg.dirs[0].path.display()));
        step((|| {
            // Locked: a create under the root must not go into a parent removed meanwhile.
            let _root = cg.made().next().map(|_| dir.lock_root()).transpose()?;
            Ok(cg.destroy()?)
        })())?;
    }
    if let Some((s, id)) = saved.as_ref().and_then(|s| Some((s, s.host_mount?))) {
        let root = s.rootfs.canonicalize().unwrap_or_else(|_| s.rootfs.clone());
        crate::trace::step(|| format!("delete: unmount the rootfs bind {}", root.display()));
        step(crate::rootfs::host::unmount(&root, id))?;
    }
    crate::netdev::restore(&dir, warn);
    crate::trace::step(|| format!("delete: remove the state dir {}", dir.dir.display()));
    dir.remove()?;
    if let Some(saved) = &saved {
        hooks::poststop(saved.hooks.as_ref(), &hooks::State::of_saved(saved), warn);
    }
    match left.is_empty() {
        true => Ok(()),
        false => Err(Error::Other(format!(
            "container {id} is deleted, but not all it had: {}",
            left.join("; ")
        ))),
    }
}

/// A record of the state dir; with `force`, one that cannot be read is reported and
/// taken as missing.
fn salvage<T>(
    force: bool,
    warn: &dyn Fn(&str),
    what: &str,
    r: Result<Option<T>>,
) -> Result<Option<T>> {
    match r {
        Err(e) if force => {
            warn(&format!("{e}: deleting the container without its {what}"));
            Ok(None)
        }
        r => r,
    }
}

/// SIGKILLs every process of the container and waits until the init is gone.
fn kill_and_wait(saved: &Saved) -> Result<()> {
    // The pidfd pins the process: once it is open and the start time still matches,
    // signals and the wait cannot reach a recycled pid.
    let pidfd = match sys::pidfd_open(saved.pid) {
        Ok(fd) => fd,
        Err(nix::Error::ESRCH) => return Ok(()),
        Err(e) => return Err(Error::sys(format!("pidfd_open {}", saved.pid), e)),
    };
    if !process_alive(saved.pid, saved.pid_start) {
        return Ok(());
    }
    for p in pidfd::pin_listed(|| super::kill::container_pids(saved)) {
        let _ = p.signal(libc::SIGKILL);
    }
    // A paused container: thawed after the SIGKILLs, so that no process runs again
    // before it dies (and on kernels where a frozen task cannot die, so that it can).
    if let Some(cg) = saved.cgroup.as_ref().filter(|c| c.frozen()) {
        cg.thaw()?;
    }
    let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
    match poll(&mut fds, PollTimeout::from(10_000u16)) {
        Ok(n) if n > 0 => Ok(()),
        Ok(_) => Err(Error::Other(format!(
            "container {}: init {} did not die within 10 s of SIGKILL",
            saved.id, saved.pid
        ))),
        Err(e) => Err(Error::sys("poll pidfd", e)),
    }
}
