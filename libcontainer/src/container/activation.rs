//! What systemd hands a service, passed on to the container as runc 1.1 does.
//!
//! - Socket activation: when the caller's `LISTEN_PID` is corral's pid, its
//!   `LISTEN_FDS` fds (from 3) reach the container before the `--preserve-fds` ones,
//!   with `LISTEN_FDS=<n>` and `LISTEN_PID=1` in the container's environment.
//! - Readiness notification (`NOTIFY_SOCKET`): `create` makes `<state dir>/notify`,
//!   binds it read-only over `/run/notify` in the container and sets
//!   `NOTIFY_SOCKET=/run/notify/notify.sock` there. `start` (or `run`) binds that
//!   socket before it releases the init, then waits until a datagram with a `READY=`
//!   line arrives (or the init exits) and sends the caller's socket `READY=...` and
//!   `MAINPID=<pid>`. Other messages are dropped: until then the caller knows nothing
//!   of the container but that it is starting.

use super::CreateOptions;
use crate::bundle::Bundle;
use crate::checked::CheckedProcess;
use crate::state::StateDir;
use crate::{Error, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::stat::{FchmodatFlags, Mode};
use nix::unistd::UnlinkatFlags;
use oci_spec::runtime::{Mount, Spec};
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::path::{Path, PathBuf};

const DIR: &str = "notify";
const IN_CONTAINER_DIR: &str = "/run/notify";
const SOCKET: &str = "notify.sock";

/// Adds what `opts` passes through to the spec `create` is about to run (and its
/// environment to the checked process the init gets it from).
pub(super) fn edit_spec(bundle: &mut Bundle, opts: &CreateOptions) -> Result<()> {
    let spec = &mut bundle.spec;
    let checked = &mut bundle.process;
    if opts.notify_socket.is_some() {
        let mut m = Mount::default();
        m.set_destination(PathBuf::from(IN_CONTAINER_DIR));
        m.set_source(Some(opts.root.join(opts.id).join(DIR)));
        m.set_typ(Some("bind".into()));
        m.set_options(Some(
            ["bind", "nosuid", "noexec", "nodev", "ro"]
                .map(String::from)
                .to_vec(),
        ));
        spec.mounts_mut().get_or_insert_with(Vec::new).push(m);
        let var = format!("NOTIFY_SOCKET={IN_CONTAINER_DIR}/{SOCKET}");
        push_env(spec, checked, var)?;
    }
    if opts.listen_fds > 0 {
        push_env(spec, checked, format!("LISTEN_FDS={}", opts.listen_fds))?;
        // runc's value: the container's program is pid 1 of its own pid namespace.
        push_env(spec, checked, "LISTEN_PID=1".into())?;
    }
    Ok(())
}

fn push_env(spec: &mut Spec, checked: &mut Option<CheckedProcess>, var: String) -> Result<()> {
    let c = CString::new(var.as_bytes())
        .map_err(|_| Error::Other(format!("process.env: {var:?} contains a NUL byte")))?;
    if let Some(checked) = checked {
        checked.env.push(c);
    }
    if let Some(p) = spec.process_mut() {
        p.env_mut().get_or_insert_with(Vec::new).push(var);
    }
    Ok(())
}

/// Makes `<state dir>/notify`, which the container gets as /run/notify. It is 0755,
/// the one exception to the state dir's 0700: every user of the container must reach
/// the socket in it (and it holds nothing else).
pub(super) fn make_notify_dir(dir: &StateDir) -> Result<()> {
    let fd = dir.make_subdir(DIR, 0o755)?;
    // The mode given to mkdir is cut by the umask.
    nix::sys::stat::fchmod(fd.as_raw_fd(), Mode::from_bits_truncate(0o755))
        .map_err(|e| Error::sys(format!("chmod {}", dir.dir.join(DIR).display()), e))
}

/// The container's end of the notify socket, and where READY goes.
pub(super) struct Notify {
    socket: UnixDatagram,
    host: SocketAddr,
}

/// `NOTIFY_SOCKET` as an address: a path, or `@name` for an abstract socket.
fn host_addr(host: &Path) -> Result<SocketAddr> {
    let bad = |e: std::io::Error| Error::io("NOTIFY_SOCKET", host, e);
    match host.as_os_str().as_encoded_bytes().strip_prefix(b"@") {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(name).map_err(bad)
        }
        None => SocketAddr::from_pathname(host).map_err(bad),
    }
}

impl Notify {
    /// Binds the socket the container sees as $NOTIFY_SOCKET; `None` when the
    /// container was created without one.
    pub(super) fn bind(state_dir: &StateDir, host: &Path) -> Result<Option<Notify>> {
        let Some(dir) = state_dir.subdir(DIR)? else {
            return Ok(None);
        };
        let path = state_dir.dir.join(DIR).join(SOCKET);
        let _ = nix::unistd::unlinkat(Some(dir.as_raw_fd()), SOCKET, UnlinkatFlags::NoRemoveDir);
        // Bound through the directory's fd (its /proc link), not by a path that could
        // be changed on the way.
        let via_fd = format!("/proc/self/fd/{}/{SOCKET}", dir.as_raw_fd());
        let socket = UnixDatagram::bind(via_fd).map_err(|e| Error::io("cannot bind", &path, e))?;
        // Any user of the container may notify, as with systemd's own socket.
        nix::sys::stat::fchmodat(
            Some(dir.as_raw_fd()),
            SOCKET,
            Mode::from_bits_truncate(0o777),
            FchmodatFlags::NoFollowSymlink,
        )
        .map_err(|e| Error::sys(format!("chmod {}", path.display()), e))?;
        socket
            .set_nonblocking(true)
            .map_err(|e| Error::io("cannot set non-blocking", &path, e))?;
        Ok(Some(Notify {
            socket,
            host: host_addr(host)?,
        }))
    }

    pub(super) fn fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }

    /// Reads what has arrived; once a `READY=` line has, tells the caller's socket that
    /// `mainpid` is ready and returns true.
    pub(super) fn on_readable(&self, mainpid: i32) -> Result<bool> {
        let mut buf = [0u8; 4096];
        loop {
            let n = match self.socket.recv(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::Other(format!("notify socket: {e}"))),
            };
            let text = String::from_utf8_lossy(&buf[..n]);
            if let Some(line) = text.lines().find(|l| l.starts_with("READY=")) {
                self.send(&format!("{line}\n"))?;
                self.send(&format!("MAINPID={mainpid}\n"))?;
                return Ok(true);
            }
        }
    }

    fn send(&self, msg: &str) -> Result<()> {
        let out = UnixDatagram::unbound().and_then(|s| s.send_to_addr(msg.as_bytes(), &self.host));
        out.map(drop)
            .map_err(|e| Error::Other(format!("NOTIFY_SOCKET {:?}: {e}", self.host)))
    }

    /// Waits for READY (forwarded with `mainpid`) or for the init behind `pidfd` to exit.
    pub(super) fn wait(&self, pidfd: &OwnedFd, mainpid: i32) -> Result<()> {
        loop {
            let mut fds = [
                PollFd::new(self.fd(), PollFlags::POLLIN),
                PollFd::new(pidfd.as_fd(), PollFlags::POLLIN),
            ];
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) | Err(nix::Error::EINTR) => {}
                Err(e) => return Err(Error::sys("poll the notify socket", e)),
            }
            let [sock, init] = fds.map(|f| f.revents().is_some_and(|r| !r.is_empty()));
            if sock && self.on_readable(mainpid)? || init {
                return Ok(());
            }
        }
    }
}
