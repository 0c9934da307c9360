//! Waiting for a foreground process (`run`'s init, `exec`'s process) while passing on
//! the signals corral receives, as runc does; the exit status is the process's, or
//! 128+signal when a signal ended it.

use crate::{Error, Result};
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;
use std::sync::atomic::{AtomicI32, Ordering};

static TARGET: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward(sig: libc::c_int) {
    let pid = TARGET.load(Ordering::Relaxed);
    if pid > 0 {
        // SAFETY: kill is async-signal-safe.
        unsafe { libc::kill(pid, sig) };
    }
}

/// Signals a foreground process gets from corral, as with runc.
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

/// Forwards signals to `pid`, a child of this process, until it exits; returns its
/// exit status, or 128+signal.
pub(super) fn forward_and_wait(pid: i32) -> Result<i32> {
    TARGET.store(pid, Ordering::Relaxed);
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
    loop {
        match waitpid(Pid::from_raw(pid), None) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(code),
            Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(128 + sig as i32),
            Ok(_) | Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(Error::sys(format!("wait for process {pid}"), e)),
        }
    }
}
