//! Waiting for a foreground process (`exec`'s) while passing on the signals corral
//! receives, as runc does; the exit status is the process's, or 128+signal when a signal
//! ended it. (`run` waits in `foreground`, which also relays a terminal.)

use crate::{Error, Result};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;

/// Forwards signals to `pid`, a child of this process, until it exits; returns its
/// exit status, or 128+signal.
pub(super) fn forward_and_wait(pid: i32) -> Result<i32> {
    super::foreground::forward_signals(pid, false)?;
    loop {
        match waitpid(Pid::from_raw(pid), None) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(code),
            Ok(WaitStatus::Signaled(_, sig, _)) => return Ok(128 + sig as i32),
            Ok(_) | Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(Error::sys(format!("wait for process {pid}"), e)),
        }
    }
}
