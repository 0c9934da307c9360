//! The init's files that lead out of the container, which CRIU cannot dump as they are
//! and which `restore` must connect to what its caller gives it:
//!
//! - stdio pipes (an engine's conmon or shim reads the container's output from them).
//!   `checkpoint` writes the init's fds 0-2 (`/proc/PID/fd/N` links) to
//!   `descriptors.json` in the images, as runc does; `restore` hands its own fd N to
//!   CRIU for each that was a pipe (`--inherit-fd fd[M]:pipe:[INODE]`), so the restored
//!   process writes to the pipe its new caller reads.
//! - a terminal (`process.terminal`): the pty slave is the init's stdio and controlling
//!   terminal, its master is the caller's. runc has CRIU make a new pty in the restored
//!   devpts and send the master back over its RPC socket (`orphan-pts-master`), which
//!   CRIU's command line cannot do. So corral declares the slave external when it dumps
//!   (`--external tty[RDEV:DEV]`, kept in `corral-ttys`), and on restore opens a new pty
//!   itself, sends the master to `--console-socket`, and gives CRIU the slave for that
//!   key (`--inherit-fd fd[M]:tty[RDEV:DEV]`); the `/dev/console` bind (of the old slave)
//!   is external too and is bound from the new slave.

use crate::process::tty;
use crate::{Error, Result};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// runc's name for the init's stdio links in the images.
const DESCRIPTORS: &str = "descriptors.json";
/// The external ttys of a dump, one `tty[RDEV:DEV]` key a line.
const TTYS: &str = "corral-ttys";
/// The key under which the `/dev/console` bind is external.
pub(super) const CONSOLE: &str = "/dev/console";
/// Linux's UNIX98_PTY_SLAVE_MAJOR.
const PTY_SLAVE_MAJOR: u64 = 136;

/// For `checkpoint` of the init `pid`: records its stdio in the images and returns the
/// CRIU flags that declare its terminals external.
pub(super) fn dump(pid: i32, images: &Path, terminal: bool) -> Result<Vec<String>> {
    let links: Vec<String> = (0..3)
        .map(|fd| {
            std::fs::read_link(format!("/proc/{pid}/fd/{fd}"))
                .map(|l| l.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .collect();
    let text = serde_json::to_string(&links).map_err(|e| Error::Other(e.to_string()))?;
    let path = images.join(DESCRIPTORS);
    std::fs::write(&path, text).map_err(|e| Error::io("cannot write", &path, e))?;
    let mut keys = ttys_of(pid)?;
    keys.sort();
    keys.dedup();
    if terminal && keys.is_empty() {
        return Err(Error::Other(format!(
            "process.terminal: the init {pid} holds no pty slave to declare to CRIU"
        )));
    }
    let path = images.join(TTYS);
    let lines: String = keys.iter().map(|k| format!("{k}\n")).collect();
    std::fs::write(&path, lines).map_err(|e| Error::io("cannot write", &path, e))?;
    let mut args = vec![];
    for k in keys {
        args.extend(["--external".into(), k]);
    }
    if terminal {
        args.extend(["--external".into(), format!("mnt[{CONSOLE}]:{CONSOLE}")]);
    }
    Ok(args)
}

/// `tty[RDEV:DEV]` (CRIU's key: both numbers in hex) of every pty slave the init holds.
fn ttys_of(pid: i32) -> Result<Vec<String>> {
    let dir = PathBuf::from(format!("/proc/{pid}/fd"));
    let entries = std::fs::read_dir(&dir).map_err(|e| Error::io("cannot read", &dir, e))?;
    let mut keys = vec![];
    for e in entries.flatten() {
        // Follows the link to the file itself: its device and the devpts it is on.
        let Ok(st) = std::fs::metadata(e.path()) else {
            continue;
        };
        let rdev = st.rdev();
        if st.file_type().is_char_device() && libc::major(rdev) as u64 == PTY_SLAVE_MAJOR {
            keys.push(format!("tty[{rdev:x}:{:x}]", st.dev()));
        }
    }
    Ok(keys)
}

/// What `restore` hands CRIU: fds it inherits (open until CRIU has run) and the flags
/// naming them.
pub(super) struct Inherited {
    pub args: Vec<String>,
    _fds: Vec<OwnedFd>,
}

/// For `restore`: the caller's stdio pipes for the pipes the images name and, for a
/// terminal, a new pty whose master goes over `console` (a connected socket) and whose
/// slave replaces the dumped one.
pub(super) fn restore(
    images: &Path,
    terminal: Option<(RawFd, &oci_spec::runtime::Process)>,
) -> Result<Inherited> {
    let mut out = Inherited {
        args: vec![],
        _fds: vec![],
    };
    if let Some((socket, process)) = terminal {
        let path = images.join(TTYS);
        let keys = std::fs::read_to_string(&path).unwrap_or_default();
        let keys: Vec<&str> = keys.lines().filter(|l| !l.is_empty()).collect();
        if keys.is_empty() {
            return Err(Error::Other(format!(
                "process.terminal: the checkpoint in {} holds no terminal (no {TTYS}): \
                 was it made by corral from a container with a terminal?",
                images.display()
            )));
        }
        let side = |field: &str, v: u64| {
            u16::try_from(v).map_err(|_| {
                Error::Other(format!(
                    "process.consoleSize.{field}: {v} is not in 0..65535"
                ))
            })
        };
        let size = match process.console_size() {
            Some(b) => Some((side("height", b.height())?, side("width", b.width())?)),
            None => None,
        };
        // The host's own devpts instance (mounted at /dev/pts; /dev/ptmx may lead to
        // another where devpts is mounted with newinstance), so that the slave has a
        // path to bind over the container's /dev/console.
        let ptmx = ["/dev/pts/ptmx", "/dev/ptmx"]
            .into_iter()
            .map(Path::new)
            .find(|p| p.exists())
            .unwrap_or(Path::new("/dev/ptmx"));
        let pty = tty::open_at(ptmx, size, process.user().uid())?;
        let slave = std::fs::read_link(format!("/proc/self/fd/{}", pty.slave.as_raw_fd()))
            .map_err(|e| Error::io("cannot read the link of", "the new pty slave", e))?;
        tty::send_master(socket, &pty)?;
        for key in keys {
            let fd = inheritable(pty.slave.as_raw_fd())?;
            out.args.extend([
                "--inherit-fd".into(),
                format!("fd[{}]:{key}", fd.as_raw_fd()),
            ]);
            out._fds.push(fd);
        }
        out.args.extend([
            "--external".into(),
            format!("mnt[{CONSOLE}]:{}", slave.display()),
        ]);
        return Ok(out);
    }
    let path = images.join(DESCRIPTORS);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(out); // Images of a runtime that records none.
    };
    let links: Vec<String> = serde_json::from_str(&text)
        .map_err(|e| Error::Other(format!("{}: not a list of 3 strings: {e}", path.display())))?;
    for (n, link) in (0..3).zip(links.iter()) {
        if link.starts_with("pipe:[") {
            let fd = inheritable(n)?;
            out.args.extend([
                "--inherit-fd".into(),
                format!("fd[{}]:{link}", fd.as_raw_fd()),
            ]);
            out._fds.push(fd);
        }
    }
    Ok(out)
}

/// A copy of `fd` without close-on-exec, above stdio, for CRIU to inherit.
fn inheritable(fd: RawFd) -> Result<OwnedFd> {
    // SAFETY: F_DUPFD takes an integer and returns a new fd (without FD_CLOEXEC).
    let new = unsafe { libc::fcntl(fd, libc::F_DUPFD, 3) };
    let new = nix::errno::Errno::result(new)
        .map_err(|e| Error::sys(format!("dup fd {fd} for CRIU"), e))?;
    // SAFETY: fcntl returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}
