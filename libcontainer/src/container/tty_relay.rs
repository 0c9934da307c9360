//! The terminal of a foreground `run` without `--console-socket`: the init sends the
//! pty master over an internal socket pair instead, and `run` relays it, as runc does:
//! its own terminal (the first of stdin, stdout, stderr that is one) goes into raw mode
//! (output processing kept) with its window size copied to the pty, stdin is copied to
//! the master and the master to stdout, and on SIGWINCH the new size is copied again.
//! The terminal is restored when the relay is dropped. ONLCR is cleared on the pty, so
//! a newline is translated once, by the caller's terminal.

use crate::{Error, Result};
use nix::errno::Errno;
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
use nix::sys::termios::{self, OutputFlags, SetArg, Termios};
use std::io::IoSliceMut;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, Ordering};

/// The write end of the SIGWINCH self-pipe, for the signal handler.
static WINCH_PIPE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_winch(_: libc::c_int) {
    let fd = WINCH_PIPE.load(Ordering::Relaxed);
    if fd >= 0 {
        // SAFETY: write is async-signal-safe; the byte lives for the call.
        unsafe { libc::write(fd, b"w".as_ptr().cast(), 1) };
    }
}

fn err(what: &str) -> impl FnOnce(Errno) -> Error + '_ {
    move |e| Error::sys(format!("terminal relay: {what}"), e)
}

/// The pty master the init sent on `socket`, if it made a terminal: it sends it before
/// it reports Ready, so it is there once `create` has returned.
pub(super) fn recv_master(socket: &OwnedFd) -> Result<Option<OwnedFd>> {
    let mut data = [0u8; 64];
    let mut iov = [IoSliceMut::new(&mut data)];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let msg = match recvmsg::<()>(
        socket.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_CMSG_CLOEXEC,
    ) {
        Ok(m) => m,
        Err(Errno::EAGAIN) => return Ok(None),
        Err(e) => return Err(err("receive the pty master")(e)),
    };
    for c in msg.cmsgs().map_err(err("receive the pty master"))? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            if let Some(fd) = fds.first() {
                // SAFETY: the kernel installed this fd for us; nothing else owns it.
                return Ok(Some(unsafe { OwnedFd::from_raw_fd(*fd) }));
            }
        }
    }
    Ok(None)
}

pub(super) struct Relay {
    master: OwnedFd,
    /// The caller's terminal and its settings before raw mode.
    host: Option<(BorrowedFd<'static>, Termios)>,
    winch: (OwnedFd, OwnedFd),
    stdin_open: bool,
    master_open: bool,
}

/// What the foreground loop polls for the relay.
#[derive(Clone, Copy)]
pub(super) enum Slot {
    Stdin,
    Master,
    Winch,
}

/// Standard input, output or error (0, 1, 2).
fn stdio(fd: RawFd) -> BorrowedFd<'static> {
    // SAFETY: corral never closes its stdio, so these fds stay open while it runs.
    unsafe { BorrowedFd::borrow_raw(fd) }
}

/// The first of stdin, stdout and stderr that is a terminal.
fn host_terminal() -> Option<BorrowedFd<'static>> {
    (0..3).map(stdio).find(|fd| termios::tcgetattr(fd).is_ok())
}

impl Relay {
    pub(super) fn new(master: OwnedFd) -> Result<Self> {
        let mut t = termios::tcgetattr(&master).map_err(err("tcgetattr the pty"))?;
        t.output_flags.remove(OutputFlags::ONLCR);
        termios::tcsetattr(&master, SetArg::TCSANOW, &t).map_err(err("clear ONLCR"))?;
        let (r, w) =
            nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC | nix::fcntl::OFlag::O_NONBLOCK)
                .map_err(err("pipe"))?;
        let mut relay = Relay {
            master,
            host: None,
            winch: (r, w),
            stdin_open: true,
            master_open: true,
        };
        if let Some(fd) = host_terminal() {
            let saved = termios::tcgetattr(fd).map_err(err("tcgetattr"))?;
            let mut raw = saved.clone();
            termios::cfmakeraw(&mut raw);
            raw.output_flags.insert(OutputFlags::OPOST);
            termios::tcsetattr(fd, SetArg::TCSANOW, &raw).map_err(err("raw mode"))?;
            relay.host = Some((fd, saved));
            relay.resize();
        }
        WINCH_PIPE.store(relay.winch.1.as_raw_fd(), Ordering::Relaxed);
        let action = nix::sys::signal::SigAction::new(
            nix::sys::signal::SigHandler::Handler(on_winch),
            nix::sys::signal::SaFlags::SA_RESTART,
            nix::sys::signal::SigSet::empty(),
        );
        // SAFETY: the handler only calls write(2), which is async-signal-safe.
        unsafe { nix::sys::signal::sigaction(nix::sys::signal::Signal::SIGWINCH, &action) }
            .map_err(err("sigaction SIGWINCH"))?;
        Ok(relay)
    }

    /// Copies the caller's window size to the pty (the kernel then signals the
    /// container's foreground process group).
    fn resize(&self) {
        let Some((fd, _)) = &self.host else { return };
        let mut ws = libc::winsize {
            ws_row: 0,
            ws_col: 0,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCGWINSZ writes one winsize through the pointer, valid for the call.
        if unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) } == 0 {
            // SAFETY: TIOCSWINSZ reads one winsize from the pointer.
            unsafe { libc::ioctl(self.master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
        }
    }

    /// The fds to poll for input, with what each is.
    pub(super) fn fds(&self) -> Vec<(Slot, BorrowedFd<'_>)> {
        let mut v = vec![(Slot::Winch, self.winch.0.as_fd())];
        if self.master_open {
            v.push((Slot::Master, self.master.as_fd()));
        }
        if self.stdin_open {
            v.push((Slot::Stdin, stdio(0)));
        }
        v
    }

    pub(super) fn ready(&mut self, slot: Slot) -> Result<()> {
        match slot {
            Slot::Stdin => self.stdin_open = copy(stdio(0), self.master.as_fd())?,
            Slot::Master => self.master_open = copy(self.master.as_fd(), stdio(1))?,
            Slot::Winch => {
                let mut b = [0u8; 64];
                while nix::unistd::read(self.winch.0.as_raw_fd(), &mut b).is_ok_and(|n| n > 0) {}
                self.resize();
            }
        }
        Ok(())
    }

    /// Once the init has exited: what the pty still holds goes to stdout.
    pub(super) fn drain(&self) -> Result<()> {
        nix::fcntl::fcntl(
            self.master.as_raw_fd(),
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        )
        .map_err(err("fcntl"))?;
        // The kernel flushes the pty's pending input before a read reports EAGAIN.
        while copy(self.master.as_fd(), stdio(1))? {}
        Ok(())
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        WINCH_PIPE.store(-1, Ordering::Relaxed);
        if let Some((fd, saved)) = &self.host {
            let _ = termios::tcsetattr(fd, SetArg::TCSANOW, saved);
        }
    }
}

/// Copies one read's worth from `from` to `to`; false at end-of-file (EIO on a pty
/// whose other side is gone) or when nothing is there (EAGAIN).
fn copy(from: BorrowedFd, to: BorrowedFd) -> Result<bool> {
    let mut buf = [0u8; 8192];
    let n = loop {
        match nix::unistd::read(from.as_raw_fd(), &mut buf) {
            Ok(n) => break n,
            Err(Errno::EINTR) => continue,
            Err(Errno::EIO | Errno::EAGAIN) => return Ok(false),
            Err(e) => return Err(err("read")(e)),
        }
    };
    let mut rest = &buf[..n];
    while !rest.is_empty() {
        match nix::unistd::write(to, rest) {
            Ok(w) => rest = &rest[w..],
            Err(Errno::EINTR) => {}
            Err(e) => return Err(err("write")(e)),
        }
    }
    Ok(n > 0)
}
