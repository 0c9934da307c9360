//! Every signal corral sends to a container's process goes through here: to a pidfd
//! (pidfd_open(2), pidfd_send_signal(2), Linux 5.3), never to a bare pid number.
//!
//! A pid number names whatever process has it when the signal is sent: between reading
//! a pid (from the state, a cgroup, /proc) and kill(2), the process may exit and the
//! number go to another process, which would get the signal. A pidfd names one process
//! for good: opened first and then checked (start time, still listed in the cgroup),
//! the check is about the process the pidfd holds, or that process is dead and the
//! signal fails with ESRCH without reaching anyone.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// One process, pinned by its pidfd.
#[derive(Debug)]
pub struct Pinned {
    fd: OwnedFd,
    pid: i32,
}

impl Pinned {
    /// Opens a pidfd for `pid`, then asks `is_it(pid)` whether the number still names the
    /// process meant (checked after the open, so the answer is about the pidfd's
    /// process, or that process is gone). `None`: gone, or not the process meant.
    pub fn open(pid: i32, is_it: impl FnOnce(i32) -> bool) -> io::Result<Option<Pinned>> {
        // SAFETY: no memory is passed; on success the kernel returns a new fd we own.
        let ret = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        if ret < 0 {
            let e = io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(libc::ESRCH) => Ok(None),
                _ => Err(e),
            };
        }
        let raw = RawFd::try_from(ret).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
        // SAFETY: the kernel just returned this fd; nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        Ok(is_it(pid).then_some(Pinned { fd, pid }))
    }

    /// A child of the caller that it has not reaped: its number cannot go to another
    /// process before the caller waits for it.
    pub fn child(pid: i32) -> io::Result<Option<Pinned>> {
        Self::open(pid, |_| true)
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Sends `signal`; a process that has exited meanwhile is no error.
    pub fn signal(&self, signal: i32) -> io::Result<()> {
        match send_raw(self.fd.as_raw_fd(), signal) {
            0 => Ok(()),
            _ => {
                let e = io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::ESRCH) => Ok(()),
                    _ => Err(e),
                }
            }
        }
    }

    /// The pidfd, for a caller that must signal from a signal handler ([`send_raw`]) and
    /// keeps the fd open for as long as the handler may run.
    pub fn into_fd(self) -> OwnedFd {
        self.fd
    }
}

/// pidfd_send_signal(2) on a raw pidfd: one system call, async-signal-safe. Returns the
/// call's result (-1 with errno set on failure).
pub fn send_raw(pidfd: RawFd, signal: i32) -> libc::c_long {
    // SAFETY: no memory is passed (a NULL siginfo means "as kill(2) would").
    unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd,
            signal,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    }
}

/// Pins every process `list()` gives, then keeps those `list()` still gives: a number
/// that went to another process before its pidfd was opened is no longer listed (or
/// the process it names is one of the listed ones anyway).
pub fn pin_listed(list: impl Fn() -> Vec<i32>) -> Vec<Pinned> {
    let pinned: Vec<Pinned> = list()
        .into_iter()
        .filter_map(|pid| Pinned::child(pid).ok().flatten())
        .collect();
    let still = list();
    pinned
        .into_iter()
        .filter(|p| still.contains(&p.pid))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn a_reaped_process_is_not_signalled_through_its_old_pidfd() {
        let mut child = Command::new("sleep").arg("60").spawn().unwrap();
        let pid = i32::try_from(child.id()).unwrap();
        let p = Pinned::child(pid).unwrap().unwrap();
        p.signal(libc::SIGKILL).unwrap();
        child.wait().unwrap();
        // Dead and reaped: the pidfd still names that process, which is gone; the
        // number may be anyone's now, and nobody gets the signal.
        p.signal(libc::SIGKILL).unwrap();
        assert!(Pinned::open(pid, |_| false).unwrap().is_none());
    }

    #[test]
    fn only_processes_still_listed_are_kept() {
        let me = i32::try_from(std::process::id()).unwrap();
        let calls = std::cell::Cell::new(0);
        let pinned = pin_listed(|| {
            calls.set(calls.get() + 1);
            // Listed the first time only: as if it had left between the two readings.
            if calls.get() == 1 {
                vec![me]
            } else {
                vec![]
            }
        });
        assert!(pinned.is_empty());
        assert_eq!(pin_listed(|| vec![me]).len(), 1);
    }
}
