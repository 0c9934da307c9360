//! A foreground `run` waiting for its container: signals passed on to the init, and,
//! when there is a terminal to relay or a readiness to pass on, one poll(2) loop over
//! the init's pidfd, the notify socket and the terminal's fds.

use super::activation::Notify;
use super::tty_relay::{self, Relay};
use crate::{sys, Error, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::os::fd::{AsFd, IntoRawFd};
use std::sync::atomic::{AtomicI32, Ordering};

/// The pidfd of the process signals go to (-1: none yet); open until corral exits.
static INIT_PIDFD: AtomicI32 = AtomicI32::new(-1);

extern "C" fn forward(sig: libc::c_int) {
    let fd = INIT_PIDFD.load(Ordering::Relaxed);
    if fd >= 0 {
        // One system call: async-signal-safe.
        corral_cgroups::pidfd::send_raw(fd, sig);
    }
}

/// Signals a foreground `run` or `exec` passes on to its process, as runc does. SIGWINCH
/// resizes the relayed terminal instead, when there is one.
const FORWARDED: &[Signal] = &[
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGTERM,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
    Signal::SIGCONT,
];

/// Makes this process the reaper of the container's orphans (runc's default for `run`:
/// without a pid namespace of its own, what the init leaves behind comes back to us).
pub(super) fn become_subreaper() -> Result<()> {
    nix::sys::prctl::set_child_subreaper(true)
        .map_err(|e| Error::sys("prctl(PR_SET_CHILD_SUBREAPER)", e))
}

/// From now on, the signals above that corral gets go to `pid` (SIGWINCH not, when
/// corral relays a terminal: it resizes the pty instead).
pub(super) fn forward_signals(pid: i32, tty: bool) -> Result<()> {
    // Our child, not reaped before corral exits: its pidfd is the process for good.
    let pinned = corral_cgroups::pidfd::Pinned::child(pid)
        .map_err(|e| Error::Other(format!("pidfd_open {pid}: {e}")))?;
    if let Some(p) = pinned {
        // Kept open (never closed) for the handler, which may run until corral exits.
        INIT_PIDFD.store(p.into_fd().into_raw_fd(), Ordering::Relaxed);
    }
    let action = SigAction::new(
        SigHandler::Handler(forward),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for sig in FORWARDED
        .iter()
        .filter(|s| !(tty && **s == Signal::SIGWINCH))
    {
        // SAFETY: the handler only calls pidfd_send_signal(2), which is async-signal-safe.
        unsafe { sigaction(*sig, &action) }
            .map_err(|e| Error::sys(format!("sigaction {sig}"), e))?;
    }
    Ok(())
}

/// Waits for the init `pid` to exit; returns the exit status `run` should have: the
/// container's, or 128+signal.
pub(super) fn wait(
    pid: i32,
    mut tty: Option<Relay>,
    mut notify: Option<Notify>,
    warn: &dyn Fn(&str),
) -> Result<i32> {
    if tty.is_some() || notify.is_some() {
        let pidfd = sys::pidfd_open(pid).map_err(|e| Error::sys(format!("pidfd_open {pid}"), e))?;
        loop {
            let Ready {
                exited,
                notified,
                tty_ready,
            } = poll_once(&pidfd, &tty, &notify)?;
            if notified {
                // runc names itself the main process of a foreground run.
                let me = std::process::id() as i32;
                match notify.as_ref().map(|n| n.on_readable(me)) {
                    Some(Ok(true)) => notify = None,
                    Some(Err(e)) => {
                        warn(&e.to_string());
                        notify = None;
                    }
                    _ => {}
                }
            }
            if let Some(t) = tty.as_mut() {
                for slot in tty_ready {
                    t.ready(slot)?;
                }
            }
            if exited {
                break;
            }
        }
        if let Some(t) = &tty {
            t.drain()?;
        }
    }
    let code = loop {
        match waitpid(Pid::from_raw(pid), None) {
            Ok(WaitStatus::Exited(_, code)) => break code,
            Ok(WaitStatus::Signaled(_, sig, _)) => break 128 + sig as i32,
            Ok(_) | Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(Error::sys(format!("wait for init {pid}"), e)),
        }
    };
    drop(tty);
    reap_orphans();
    Ok(code)
}

struct Ready {
    exited: bool,
    notified: bool,
    tty_ready: Vec<tty_relay::Slot>,
}

fn poll_once(
    pidfd: &std::os::fd::OwnedFd,
    tty: &Option<Relay>,
    notify: &Option<Notify>,
) -> Result<Ready> {
    let tty_fds = tty.as_ref().map(|t| t.fds()).unwrap_or_default();
    let mut fds = vec![PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
    if let Some(n) = notify {
        fds.push(PollFd::new(n.fd(), PollFlags::POLLIN));
    }
    fds.extend(
        tty_fds
            .iter()
            .map(|(_, fd)| PollFd::new(*fd, PollFlags::POLLIN)),
    );
    match poll(&mut fds, PollTimeout::NONE) {
        Ok(_) | Err(nix::Error::EINTR) => {}
        Err(e) => return Err(Error::sys("poll", e)),
    }
    let mut ready = fds
        .iter()
        .map(|f| f.revents().is_some_and(|r| !r.is_empty()));
    let exited = ready.next().unwrap_or(false);
    let notified = notify.is_some() && ready.next().unwrap_or(false);
    let tty_ready = tty_fds
        .iter()
        .zip(ready)
        .filter(|(_, r)| *r)
        .map(|((slot, _), _)| *slot)
        .collect();
    Ok(Ready {
        exited,
        notified,
        tty_ready,
    })
}

/// Reaps the orphans that came back to us as subreaper and have exited.
fn reap_orphans() {
    while let Ok(st) = waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
        if st == WaitStatus::StillAlive {
            break;
        }
    }
}
