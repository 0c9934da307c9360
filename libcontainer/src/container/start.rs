//! `start`: release the init blocked on exec.fifo.

use crate::state::{StateDir, Status};
use crate::{Error, Result};
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;

pub fn start(root: &Path, id: &str) -> Result<()> {
    let dir = StateDir::open(root, id)?;
    let saved = dir.load()?;
    let status = dir.status(saved.as_ref());
    let msg = match status {
        Status::Created => return release(&dir),
        Status::Running | Status::Paused => "cannot start a container that is already running",
        Status::Stopped => "cannot start a container that has stopped",
        Status::Creating => "cannot start a container that is still being created",
    };
    Err(Error::BadStatus {
        id: id.to_string(),
        status: status.as_str(),
        msg,
    })
}

/// Lets the init (blocked on exec.fifo) exec the user program.
pub(super) fn release(dir: &StateDir) -> Result<()> {
    let path = dir.fifo_path();
    // Non-blocking: with no reader (the init died) this fails with ENXIO at once.
    let fd = match nix::fcntl::open(
        &path,
        OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(nix::Error::ENXIO) => {
            return Err(Error::Other(format!(
                "container {}: the init is not waiting to start",
                dir.id
            )))
        }
        Err(e) => return Err(Error::sys(format!("open {}", path.display()), e)),
    };
    // SAFETY: open returned a new fd that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    nix::unistd::write(&fd, b"0")
        .map_err(|e| Error::sys(format!("write {}", path.display()), e))?;
    std::fs::remove_file(&path).map_err(|e| Error::io("cannot remove", &path, e))
}
