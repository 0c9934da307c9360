//! `process.terminal`: a pseudo-terminal made inside the container, sent to the caller
//! over `--console-socket` as runc does (containerd and podman read the master from it).
//!
//! The init, after pivot_root, opens the container's own `/dev/ptmx` (of its devpts
//! instance), gives the window size, binds the slave over `/dev/console`, sends the master
//! with SCM_RIGHTS and keeps only the slave: as its controlling terminal and stdio.
//!
//! The slave is never looked up by its name `/dev/pts/N`: what that path leads to is up
//! to the container's config and image (a directory of other files, a symlink), and
//! binding whatever it names over `/dev/console` is CVE-2025-52565. The slave is opened
//! from the master (TIOCGPTPEER) and the bind is cloned from that fd.

use crate::checked::CheckedProcess;
use crate::rootfs::paths::{InRoot, Kind};
use crate::sys::mount as m;
use crate::{Error, Result};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

/// The pty pair; the master goes to the console socket.
pub struct Pty {
    pub master: OwnedFd,
    pub slave: OwnedFd,
}

fn err(what: &str) -> impl FnOnce(nix::Error) -> Error + '_ {
    move |e| Error::sys(format!("process.terminal: {what}"), e)
}

/// The terminal of `process`: a pty made in the container's devpts (after pivot_root or,
/// for `exec`, after joining the container's mount namespace), its master sent over
/// `console_socket`, its slave made the caller's controlling terminal and stdio; the
/// init (`console`) also binds the slave over `/dev/console`.
pub fn setup(process: &CheckedProcess, console_socket: Option<RawFd>, console: bool) -> Result<()> {
    let pty = open(process.console_size, process.uid.as_raw())?;
    if console {
        bind_console(&pty)?;
    }
    if let Some(socket) = console_socket {
        send_master(socket, &pty)?;
        // The socket's owner lives in the parent's image, which this process never
        // drops (it execs or _exits), so nothing closes the fd twice.
        let _ = nix::unistd::close(socket);
    }
    become_tty(pty)
}

/// Opens a new pty in the container's devpts; `size` is `consoleSize` (height, width).
pub fn open(size: Option<(u16, u16)>, uid: u32) -> Result<Pty> {
    open_at(Path::new("/dev/ptmx"), size, uid)
}

/// Opens a new pty through `ptmx` (of the devpts instance it belongs to).
pub fn open_at(ptmx: &Path, size: Option<(u16, u16)>, uid: u32) -> Result<Pty> {
    let master = crate::sys::open(
        ptmx,
        nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_NOCTTY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| Error::sys(format!("process.terminal: open {}", ptmx.display()), e))?;
    let mut unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads one int from the pointer, which lives for the call.
    let ret = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &mut unlock) };
    nix::errno::Errno::result(ret).map_err(err("unlock the pty"))?;
    if let Some((rows, cols)) = size {
        let ws = libc::winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads a winsize from the pointer, valid for the call.
        let ret = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
        nix::errno::Errno::result(ret).map_err(err("set consoleSize"))?;
    }
    let flags = libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC;
    // SAFETY: TIOCGPTPEER takes the open flags as an integer and returns a new fd.
    let fd = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTPEER, flags) };
    let fd = nix::errno::Errno::result(fd).map_err(err("open the pty slave (TIOCGPTPEER)"))?;
    // SAFETY: TIOCGPTPEER returned a new fd that nothing else owns.
    let slave = unsafe { OwnedFd::from_raw_fd(fd) };
    // The process's own terminal, as with a login: its user may read and write it.
    nix::unistd::fchown(slave.as_raw_fd(), Some(uid.into()), None)
        .map_err(err("chown the pty slave"))?;
    Ok(Pty { master, slave })
}

/// Binds the slave, from its fd, over `/dev/console` (resolved in the container's root,
/// made as an empty file if missing).
pub fn bind_console(pty: &Pty) -> Result<()> {
    let root = InRoot::open(Path::new("/"))?;
    let target = root.target(Path::new("/dev/console"), Kind::File)?;
    let tree = m::clone_tree(pty.slave.as_fd(), Path::new(""), false)
        .map_err(err("bind the pty over /dev/console"))?;
    m::attach(tree.as_fd(), target.as_fd()).map_err(err("bind the pty over /dev/console"))
}

/// Sends the master over the console socket, with its name as the data (runc's format).
pub fn send_master(socket: RawFd, pty: &Pty) -> Result<()> {
    crate::sys::send_fd(socket, b"/dev/ptmx", pty.master.as_raw_fd())
        .map_err(err("send the pty master over --console-socket"))
}

/// Makes the slave the controlling terminal and stdio of this process (a new session).
pub fn become_tty(pty: Pty) -> Result<()> {
    drop(pty.master);
    nix::unistd::setsid().map_err(err("setsid"))?;
    // SAFETY: TIOCSCTTY takes an integer argument.
    let ret = unsafe { libc::ioctl(pty.slave.as_raw_fd(), libc::TIOCSCTTY, 0) };
    nix::errno::Errno::result(ret).map_err(err("make the pty the controlling terminal"))?;
    for fd in 0..3 {
        nix::unistd::dup2(pty.slave.as_raw_fd(), fd).map_err(err("dup the pty to stdio"))?;
    }
    Ok(())
}
