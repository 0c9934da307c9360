//! `start`: release the init blocked on exec.fifo, wait until it has exec'd the user's
//! program, then run the poststart hooks (and relay readiness, see `activation`).
//!
//! exec.fifo carries the handshake both ways. `start` writes one byte, which the init
//! reads; the init runs the startContainer hooks and execs. Its fd of the fifo (opened
//! read-write by `create`) is close-on-exec, and the init holds the only one that
//! reads: once it is closed, the write end `start` holds reports POLLERR. Should a
//! startContainer hook fail, the init writes the error into the fifo before it exits,
//! and `start` reads it there (the pipe's data lives as long as `start`'s fd).
//! `start --debug` writes [`START_TRACED`] instead of `0`: then an init with
//! startContainer hooks first writes `T`, its steps (see `trace::encode_timed`) and a
//! NUL, which `start` logs as the init's.

use super::activation::Notify;
use crate::hooks::{self, Kind, State};
use crate::state::{Saved, StateDir, Status};
use crate::{sys, Error, Result};
use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

/// `notify_socket` is the caller's `NOTIFY_SOCKET`; `warn` logs a failed poststart hook.
pub fn start(
    root: &Path,
    id: &str,
    notify_socket: Option<&Path>,
    warn: &dyn Fn(&str),
) -> Result<()> {
    let dir = StateDir::open(root, id)?;
    let saved = dir.load()?;
    let status = dir.status(saved.as_ref());
    let msg = match (status, saved) {
        (Status::Created, Some(saved)) if saved.no_process => {
            return Err(Error::Invalid {
                file: saved.bundle.join("config.json"),
                field: "process".into(),
                msg: format!(
                    "container {id} was created without a process, which start needs \
                     (config.md: \"REQUIRED when start is called\"); it stays created, \
                     `delete --force` removes it"
                ),
            });
        }
        (Status::Created, Some(saved)) => {
            let notify = match notify_socket {
                Some(host) => Notify::bind(&dir, host)?,
                None => None,
            };
            start_locked(root, dir, &saved, warn)?;
            return match notify {
                Some(n) => wait_ready(&n, &saved, saved.pid),
                None => Ok(()),
            };
        }
        (Status::Running | Status::Paused, _) => "cannot start a container that is already running",
        (Status::Stopped, _) => "cannot start a container that has stopped",
        _ => "cannot start a container that is still being created",
    };
    Err(Error::BadStatus {
        id: id.to_string(),
        status: status.as_str(),
        msg,
    })
}

/// Waits for the container to report READY on its notify socket and passes it on,
/// naming `mainpid` as the service's main process.
pub(super) fn wait_ready(n: &Notify, saved: &Saved, mainpid: i32) -> Result<()> {
    let pidfd = match sys::pidfd_open(saved.pid) {
        Ok(fd) => fd,
        Err(nix::Error::ESRCH) => return Ok(()),
        Err(e) => return Err(Error::sys(format!("pidfd_open {}", saved.pid), e)),
    };
    n.wait(&pidfd, mainpid)
}

/// Starts the created container whose locked dir is `dir`, then runs the poststart
/// hooks without the lock (a hook may well ask `corral state`). A failed
/// startContainer hook stops the container: it is deleted and the error returned.
pub(super) fn start_locked(
    root: &Path,
    dir: StateDir,
    saved: &Saved,
    warn: &dyn Fn(&str),
) -> Result<()> {
    let released = release(&dir);
    drop(dir);
    if let Err(Released::HookFailed(msg)) = released {
        let _ = super::delete(root, &saved.id, true, warn);
        return Err(Error::Other(format!(
            "{msg} (container {} deleted)",
            saved.id
        )));
    }
    if let Err(Released::Other(e)) = released {
        return Err(e);
    }
    let list = Kind::Poststart.of(saved.hooks.as_ref());
    if !list.is_empty() {
        let state = State::of_saved(saved).json(Status::Running.as_str(), saved.pid);
        hooks::run_warn(Kind::Poststart, list, &state, warn);
    }
    Ok(())
}

enum Released {
    /// A startContainer hook failed; the init has exited.
    HookFailed(String),
    Other(Error),
}

impl From<Error> for Released {
    fn from(e: Error) -> Self {
        Released::Other(e)
    }
}

/// The byte `start --debug` releases the init with: it asks for the steps of its
/// startContainer hooks.
pub(crate) const START_TRACED: u8 = b'D';

/// Lets the init (blocked on exec.fifo) exec the user program; returns once it has.
fn release(dir: &StateDir) -> std::result::Result<(), Released> {
    let path = dir.fifo_path();
    // Non-blocking: with no reader (the init died) this fails with ENXIO at once.
    let fd = match dir.open_fifo(OFlag::O_WRONLY) {
        Ok(fd) => fd,
        Err(nix::Error::ENXIO) => {
            return Err(Error::Other(format!(
                "container {}: the init is not waiting to start",
                dir.id
            ))
            .into())
        }
        Err(e) => return Err(Error::sys(format!("open {}", path.display()), e).into()),
    };
    let byte = if crate::trace::on() {
        START_TRACED
    } else {
        b'0'
    };
    nix::unistd::write(&fd, &[byte])
        .map_err(|e| Error::sys(format!("write {}", path.display()), e))?;
    wait_no_reader(&fd).map_err(|e| Error::sys("poll exec.fifo", e))?;
    let left = read_back(dir).map_err(|e| Error::sys(format!("read {}", path.display()), e))?;
    dir.remove_fifo()?;
    let left = match left.strip_prefix(b"T") {
        Some(rest) => {
            let end = rest.iter().position(|b| *b == 0).unwrap_or(rest.len());
            crate::trace::received_timed(&String::from_utf8_lossy(&rest[..end]));
            rest.get(end + 1..).unwrap_or_default()
        }
        None => &left[..],
    };
    match left.split_first() {
        None => Ok(()),
        Some((b'E', msg)) => Err(Released::HookFailed(
            String::from_utf8_lossy(msg).into_owned(),
        )),
        Some(_) => Err(Error::Other(format!(
            "container {}: the init exited before it could start",
            dir.id
        ))
        .into()),
    }
}

/// Waits until no process has the fifo open for reading. With no events asked for,
/// poll reports only POLLERR, which a pipe's write end gets once its readers are gone.
fn wait_no_reader(fd: &OwnedFd) -> nix::Result<()> {
    loop {
        let mut fds = [PollFd::new(fd.as_fd(), PollFlags::empty())];
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::Error::EINTR) => continue,
            r => return r.map(drop),
        }
    }
}

/// What the init left in the fifo: nothing once it has exec'd, an error message if a
/// startContainer hook failed, or our own byte if it died before reading it.
fn read_back(dir: &StateDir) -> nix::Result<Vec<u8>> {
    let fd = dir.open_fifo(OFlag::O_RDONLY)?;
    let mut buf = vec![0u8; 4096];
    match nix::unistd::read(fd.as_raw_fd(), &mut buf) {
        Ok(n) => buf.truncate(n),
        Err(nix::Error::EAGAIN) => buf.clear(),
        Err(e) => return Err(e),
    }
    Ok(buf)
}
