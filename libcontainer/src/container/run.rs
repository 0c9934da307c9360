//! `run`: create, start and, in the foreground, wait for the init and delete.

use super::{create_locked, delete, release, CreateOptions};
use crate::{Error, Result};
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;
use std::sync::atomic::{AtomicI32, Ordering};

static INIT_PID: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward(sig: libc::c_int) {
    let pid = INIT_PID.load(Ordering::Relaxed);
    if pid > 0 {
        // SAFETY: kill is async-signal-safe.
        unsafe { libc::kill(pid, sig) };
    }
}

/// Signals a foreground `run` passes on to the container, as runc does.
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

/// Returns the exit status `run` should have: the container's, or 128+signal.
pub fn run(opts: &CreateOptions, detach: bool, keep: bool) -> Result<i32> {
    // Started while still holding the lock create took: nothing to re-read or re-check.
    let (dir, pid) = create_locked(opts)?;
    let started = release(&dir);
    drop(dir);
    if let Err(e) = started {
        let _ = delete(opts.root, opts.id, true);
        return Err(e);
    }
    if detach {
        return Ok(0);
    }
    INIT_PID.store(pid, Ordering::Relaxed);
    let action = SigAction::new(
        SigHandler::Handler(forward),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for sig in FORWARDED {
        // SAFETY: the handler only calls kill(2), which is async-signal-safe.
        unsafe { sigaction(*sig, &action) }
            .map_err(|e| Error::sys(format!("sigaction {sig}"), e))?;
    }
    let code = loop {
        match waitpid(Pid::from_raw(pid), None) {
            Ok(WaitStatus::Exited(_, code)) => break code,
            Ok(WaitStatus::Signaled(_, sig, _)) => break 128 + sig as i32,
            Ok(_) | Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(Error::sys(format!("wait for init {pid}"), e)),
        }
    };
    if !keep {
        delete(opts.root, opts.id, true)?;
    }
    Ok(code)
}
