//! corral runs `create`, `run` and `exec` of a container whose process cannot leave
//! corral through the exec trampoline (see `crate::trampoline`: it can where the
//! container has a pid namespace of its own, no hooks in it and no LSM label, and for
//! `exec` no process there may hold CAP_SYS_PTRACE over the host), from a copy of itself
//! that nobody can write (CVE-2019-5736).
//!
//! Why: until it execs the user's program, a container's init (and an `exec` process)
//! is this binary. Keeping it undumpable closes `/proc/PID/exe` to the container, but
//! not every route: if the program the init execs is a script starting
//! `#!/proc/self/exe`, the kernel resolves that link in the init, loads *our* binary as
//! the interpreter, and the resulting process is an ordinary dumpable one with the
//! container's credentials. A process of the container then opens `/proc/PID/exe`,
//! waits until the file is no longer busy and writes through the fd: the host's corral
//! is replaced, and the next invocation runs the container's payload as root.
//!
//! So before anything else these commands re-exec themselves from one of:
//! 1. **A read-only overlayfs** (as root): a detached overlay whose layers are the
//!    binary's directory and an empty tmpfs, with no upper layer. Its superblock is
//!    read-only for good (overlayfs refuses to become writable without an upper layer),
//!    so no mount flag a container could clear stands between it and the file. No copy:
//!    the page cache of the binary is shared. A plain read-only bind mount is not enough:
//!    a process with CAP_SYS_ADMIN in another mount namespace may clear MOUNT_ATTR_RDONLY
//!    on a detached mount it holds a file of (seen on Linux 6.18).
//! 2. **A sealed memfd** (when the overlay cannot be made: not root, no overlayfs, the
//!    binary replaced on disk): a copy sealed against writes, growth, shrinking and
//!    further sealing; every write to it fails, for every holder, root included.
//!
//! The overlay costs a few mount calls and the exec; the memfd a copy of the whole binary
//! on top (about four times as much here): `scripts/bench.sh` shows the total.

use crate::sys::mount::{FsContext, MOUNT_ATTR_NODEV, MOUNT_ATTR_NOSUID, MOUNT_ATTR_RDONLY};
use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, SealFlag};
use nix::sys::memfd::{memfd_create, MemFdCreateFlag};
use nix::sys::sendfile::sendfile;
use std::ffi::{CString, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

/// Seals that make the memfd copy immutable for good. `F_SEAL_EXEC` (Linux 6.3) keeps
/// its mode bits as they are; an older kernel refuses it, and the copy is sealed
/// without it.
const SEALS: libc::c_int =
    libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
const F_SEAL_EXEC: libc::c_int = 0x0020;
/// `MFD_EXEC` (Linux 6.3): an executable memfd, also where `vm.memfd_noexec` makes
/// memfds non-executable by default. Older kernels refuse the flag; theirs are.
const MFD_EXEC: libc::c_uint = 0x0010;

/// Returns when this process already runs from a copy nobody can write; otherwise makes
/// one and execs it (returning only on failure).
pub fn ensure() -> io::Result<()> {
    let exe = File::open("/proc/self/exe").map_err(|e| context("open /proc/self/exe", e))?;
    if unwritable(&exe) {
        name_after_argv0();
        return Ok(());
    }
    let copy = match read_only_overlay(&exe) {
        Some(fd) => fd,
        None => sealed_memfd(&exe)?,
    };
    drop(exe);
    exec_fd(&copy)
}

/// Whether every write to our binary fails, whoever holds it: a sealed memfd, or a file
/// of a read-only filesystem (our overlay; or a host whose /usr is read-only, which a
/// container cannot make writable: the mount is not in its namespace).
fn unwritable(exe: &File) -> bool {
    // A file that is not a memfd gives EINVAL.
    if let Ok(seals) = fcntl(exe.as_raw_fd(), FcntlArg::F_GET_SEALS) {
        return seals & SEALS == SEALS;
    }
    // The kernel checks for a read-only filesystem before it checks that the file is
    // being executed (ETXTBSY): EROFS says it all. Nothing is written.
    match std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_CLOEXEC)
        .open("/proc/self/exe")
    {
        Ok(_) => false,
        Err(e) => e.raw_os_error() == Some(libc::EROFS),
    }
}

/// A file of a detached, read-only overlay of the binary's directory (see the module
/// doc), checked to be our binary; None where it cannot be made.
fn read_only_overlay(exe: &File) -> Option<OwnedFd> {
    let path = std::fs::read_link("/proc/self/exe").ok()?;
    let (dir, name) = (path.parent()?, path.file_name()?);
    let me = exe.metadata().ok()?;
    let on_disk = std::fs::metadata(&path).ok()?;
    // A binary replaced (or deleted: the link then ends in " (deleted)") since we
    // started is not ours to run.
    if (on_disk.dev(), on_disk.ino()) != (me.dev(), me.ino()) {
        return None;
    }
    // overlayfs splits lowerdir on ':' and options on ','; such a path goes the memfd way.
    let dir_bytes = dir.as_os_str().as_bytes();
    if dir_bytes.iter().any(|b| matches!(b, b':' | b',' | b'\\')) {
        return None;
    }
    // Without an upper layer overlayfs wants two lower ones: the second is empty.
    let empty = FsContext::open("tmpfs")
        .ok()?
        .mount(MOUNT_ATTR_RDONLY)
        .ok()?;
    let overlay = FsContext::open("overlay").ok()?;
    let lower = format!("{}:/proc/self/fd/{}", dir.display(), empty.as_raw_fd());
    overlay.set("lowerdir", Some(&lower)).ok()?;
    let mnt = overlay
        .mount(MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV)
        .ok()?;
    drop((empty, overlay));
    let file = open_at(&mnt, Path::new(name))?;
    let seen = file.metadata().ok()?;
    (seen.len() == me.len() && seen.mtime() == me.mtime() && seen.mtime_nsec() == me.mtime_nsec())
        .then(|| OwnedFd::from(file))
}

fn open_at(dir: &OwnedFd, name: &Path) -> Option<File> {
    let name = CString::new(name.as_os_str().as_bytes()).ok()?;
    // SAFETY: name is NUL-terminated; openat returns a new fd or -1.
    let fd = unsafe {
        libc::openat(
            dir.as_raw_fd(),
            name.as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NOFOLLOW,
        )
    };
    // SAFETY: a non-negative fd was just returned to us and is owned by nothing else.
    (fd >= 0).then(|| unsafe { File::from_raw_fd(fd) })
}

/// An executable memfd (close-on-exec) named `name`, to be filled and then [`seal`]ed.
fn exec_memfd(name: &std::ffi::CStr) -> io::Result<OwnedFd> {
    let flags = MemFdCreateFlag::MFD_CLOEXEC | MemFdCreateFlag::MFD_ALLOW_SEALING;
    match memfd_create(name, flags | MemFdCreateFlag::from_bits_retain(MFD_EXEC)) {
        // Without the flag an older kernel does not know.
        Err(Errno::EINVAL) => memfd_create(name, flags),
        r => r,
    }
    .map_err(|e| context("memfd_create", e.into()))
}

/// Seals `fd` against every change (and against further sealing).
fn seal(fd: &OwnedFd) -> io::Result<()> {
    add_seals(fd, SEALS | F_SEAL_EXEC)
        .or_else(|_| add_seals(fd, SEALS))
        .map_err(|e| context("seal the copy", e.into()))
}

/// `bytes` in a sealed, executable memfd named `name` (the trampoline, x86-64 only).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) fn sealed_memfd_of(name: &std::ffi::CStr, bytes: &[u8]) -> io::Result<OwnedFd> {
    let fd = exec_memfd(name)?;
    let mut file = File::from(fd);
    io::Write::write_all(&mut file, bytes).map_err(|e| context("write the memfd", e))?;
    let fd = OwnedFd::from(file);
    seal(&fd)?;
    Ok(fd)
}

fn sealed_memfd(exe: &File) -> io::Result<OwnedFd> {
    // The name shows in /proc/PID/exe ("/memfd:/corral (deleted)"), so tools that look
    // for processes of a binary named corral still find ours.
    let copy = exec_memfd(c"/corral")?;
    let mut left = exe.metadata()?.len();
    while left > 0 {
        let chunk = usize::try_from(left).unwrap_or(usize::MAX);
        // No offset: sendfile reads from exe's file position.
        match sendfile(&copy, exe, None, chunk) {
            Ok(0) => {
                return Err(context(
                    "copy the binary",
                    io::ErrorKind::UnexpectedEof.into(),
                ))
            }
            Ok(n) => left = left.saturating_sub(u64::try_from(n).unwrap_or(u64::MAX)),
            Err(Errno::EINTR) => {}
            Err(e) => return Err(context("copy the binary (sendfile)", e.into())),
        }
    }
    seal(&copy)?;
    Ok(copy)
}

fn add_seals(fd: &OwnedFd, seals: libc::c_int) -> nix::Result<()> {
    let seals = SealFlag::from_bits_retain(seals);
    fcntl(fd.as_raw_fd(), FcntlArg::F_ADD_SEALS(seals)).map(drop)
}

/// execveat of the copy with our own arguments and environment.
fn exec_fd(copy: &OwnedFd) -> io::Result<()> {
    let cstrings = |v: Vec<OsString>| -> io::Result<Vec<CString>> {
        v.into_iter()
            .map(|s| CString::new(s.into_vec()).map_err(io::Error::other))
            .collect()
    };
    let args = cstrings(std::env::args_os().collect())?;
    let env = cstrings(
        std::env::vars_os()
            .map(|(mut kv, v)| {
                kv.push("=");
                kv.push(v);
                kv
            })
            .collect(),
    )?;
    Err(context(
        "exec the copy",
        execveat(copy.as_raw_fd(), &args, &env),
    ))
}

/// execveat of `fd` itself with `args` and `env`; returns only on failure, with the
/// error.
pub(crate) fn execveat(fd: std::os::fd::RawFd, args: &[CString], env: &[CString]) -> io::Error {
    let ptrs = |v: &[CString]| -> Vec<*const libc::c_char> {
        v.iter()
            .map(|s| s.as_ptr())
            .chain([std::ptr::null()])
            .collect()
    };
    let (argv, envp) = (ptrs(args), ptrs(env));
    // SAFETY: argv and envp are NULL-terminated arrays of NUL-terminated strings that
    // outlive the call; the path is empty with AT_EMPTY_PATH, so the fd is executed.
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            fd,
            c"".as_ptr(),
            argv.as_ptr(),
            envp.as_ptr(),
            libc::AT_EMPTY_PATH,
        )
    };
    io::Error::last_os_error()
}

/// execveat of an fd names the process after the fd's number: give it the name of the
/// binary it was started as, for ps and top.
fn name_after_argv0() {
    let Some(arg0) = std::env::args_os().next() else {
        return;
    };
    let arg0 = arg0.into_vec();
    let base = arg0.rsplit(|b| *b == b'/').next().unwrap_or_default();
    let mut name = [0u8; 16];
    let n = base.len().min(15);
    name[..n].copy_from_slice(&base[..n]);
    // At most 15 bytes and a NUL; a NUL inside argv0 ends the name there.
    if let Ok(name) = std::ffi::CStr::from_bytes_until_nul(&name) {
        let _ = nix::sys::prctl::set_name(name);
    }
}

fn context(what: &str, e: io::Error) -> io::Error {
    io::Error::new(
        e.kind(),
        format!("run from a write-protected copy of corral: {what}: {e}"),
    )
}
