//! `run`: create, start and, in the foreground, wait for the init and delete.

use super::activation::Notify;
use super::tty_relay::{self, Relay};
use super::{create_locked, delete, foreground, start, CreateOptions};
use crate::{Error, Result};
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use std::os::fd::{AsFd, OwnedFd};

/// How `run` runs besides the container's own options.
pub struct RunOptions {
    /// Return once the container is started (and, with `NOTIFY_SOCKET`, ready).
    pub detach: bool,
    /// Do not delete the container after it exits.
    pub keep: bool,
    /// Do not become the subreaper of the container's orphans.
    pub no_subreaper: bool,
}

/// Returns the exit status `run` should have: the container's, or 128+signal.
pub fn run(opts: &CreateOptions, r: &RunOptions) -> Result<i32> {
    if !r.detach && !r.no_subreaper {
        foreground::become_subreaper()?;
    }
    // A foreground run relays a terminal itself: the init sends the master here.
    let console = if r.detach || opts.console_socket.is_some() {
        None
    } else {
        Some(
            socketpair(
                AddressFamily::Unix,
                SockType::Stream,
                None,
                SockFlag::SOCK_CLOEXEC,
            )
            .map_err(|e| Error::sys("socketpair", e))?,
        )
    };
    // Started while still holding the lock create took: nothing to re-read or re-check.
    let (dir, pid) = create_locked(
        opts,
        console.as_ref().map(|(_, theirs)| theirs.as_fd()),
        true,
    )?;
    let ours = console.map(|(ours, _)| ours);
    let prepared = (|| -> Result<_> {
        let saved = dir
            .load()?
            .ok_or_else(|| Error::Other(format!("container {}: no state", opts.id)))?;
        let notify = match opts.notify_socket {
            Some(host) => Notify::bind(&dir, host)?,
            None => None,
        };
        let tty = relay(ours.as_ref())?;
        Ok((saved, notify, tty))
    })();
    let (saved, notify, tty) = match prepared {
        Ok(p) => p,
        Err(e) => {
            drop(dir);
            let _ = delete(opts.root, opts.id, true, opts.warn);
            return Err(e);
        }
    };
    if let Err(e) = start::start_locked(opts.root, dir, &saved, opts.warn) {
        let _ = delete(opts.root, opts.id, true, opts.warn);
        return Err(e);
    }
    crate::trace::mark("exec");
    if r.detach {
        if let Some(n) = notify {
            start::wait_ready(&n, &saved, pid)?;
        }
        return Ok(0);
    }
    foreground::forward_signals(pid, tty.is_some())?;
    let code = foreground::wait(pid, tty, notify, opts.warn)?;
    crate::trace::mark("wait");
    if !r.keep {
        delete(opts.root, opts.id, true, opts.warn)?;
        crate::trace::mark("delete");
    }
    Ok(code)
}

/// The terminal relay, when the init made a terminal and sent its master on `ours`.
fn relay(ours: Option<&OwnedFd>) -> Result<Option<Relay>> {
    match ours.map(tty_relay::recv_master).transpose()?.flatten() {
        Some(master) => Relay::new(master).map(Some),
        None => Ok(None),
    }
}
