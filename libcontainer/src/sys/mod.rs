//! Thin wrappers over the system calls nix and libc do not wrap for us.

pub(crate) mod mount;
pub(crate) mod remount;
pub(crate) mod rtnl;

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, FdFlag};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};

/// `struct clone_args` of clone3(2).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// What [`clone3_fork`] returned in the calling process.
pub enum Forked {
    Parent(nix::unistd::Pid),
    Child,
}

/// Forks with clone3(2): no new stack, so the child runs on a copy of ours, like fork(2),
/// but namespace flags (including `CLONE_NEWTIME`, which clone(2) cannot take) apply at once.
///
/// With `cgroup` (an open cgroup2 directory) the child starts in that cgroup
/// (`CLONE_INTO_CGROUP`, Linux 5.7): it never runs a single instruction outside it.
///
/// # Safety
///
/// The caller must be single-threaded: the child gets a copy of the whole address space
/// with only the calling thread in it, so a lock another thread held (the allocator's,
/// stdio's, a `Mutex`) would stay locked in the child forever, and the child's first
/// allocation could hang or corrupt the heap. Debug builds assert it (from
/// `/proc/self/task`).
pub unsafe fn clone3_fork(flags: u64, cgroup: Option<RawFd>) -> Result<Forked, Errno> {
    debug_assert_single_threaded();
    const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
    // With CLONE_PARENT the kernel takes the exit signal from the caller and refuses one here.
    let exit_signal = if flags & libc::CLONE_PARENT as u64 != 0 {
        0
    } else {
        libc::SIGCHLD as u64
    };
    let mut args = CloneArgs {
        flags,
        exit_signal,
        ..Default::default()
    };
    if let Some(fd) = cgroup {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = u64::try_from(fd).map_err(|_| Errno::EBADF)?;
    }
    // SAFETY: args is a valid clone_args of the size we pass; with stack 0 and no CLONE_VM
    // the kernel gives the child a copy-on-write copy of this stack, as fork(2) does.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    match ret {
        -1 => Err(Errno::last()),
        0 => Ok(Forked::Child),
        pid => libc::pid_t::try_from(pid)
            .map(|pid| Forked::Parent(nix::unistd::Pid::from_raw(pid)))
            .map_err(|_| Errno::ERANGE),
    }
}

/// In debug builds, panics unless the calling process has exactly one thread (when
/// `/proc/self/task` can be read: a procfs of another pid namespace may not show us).
fn debug_assert_single_threaded() {
    if cfg!(debug_assertions) {
        if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
            let n = tasks.count();
            assert!(
                n == 1,
                "clone3_fork called with {n} threads: it needs exactly one"
            );
        }
    }
}

/// open(2) with the new fd owned, as nix 0.30's `open` returns it (0.29's returns a
/// raw fd): the one place a fresh fd from open becomes an `OwnedFd`.
pub fn open<P: ?Sized + nix::NixPath>(
    path: &P,
    flags: nix::fcntl::OFlag,
    mode: nix::sys::stat::Mode,
) -> Result<OwnedFd, Errno> {
    let fd = nix::fcntl::open(path, flags, mode)?;
    // SAFETY: open returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// pivot_root(2), which libc does not export.
pub fn pivot_root(new_root: &str, put_old: &str) -> Result<(), Errno> {
    let new_root = std::ffi::CString::new(new_root).map_err(|_| Errno::EINVAL)?;
    let put_old = std::ffi::CString::new(put_old).map_err(|_| Errno::EINVAL)?;
    // SAFETY: both pointers are valid NUL-terminated strings for the call's duration.
    let ret = unsafe { libc::syscall(libc::SYS_pivot_root, new_root.as_ptr(), put_old.as_ptr()) };
    Errno::result(ret).map(drop)
}

const CLOSE_RANGE_CLOEXEC: u32 = 1 << 2;

/// Marks every fd from `first` on close-on-exec with close_range(2) and
/// CLOSE_RANGE_CLOEXEC (Linux 5.11). Older kernels answer EINVAL (close_range of 5.9
/// without the flag) or ENOSYS: see [`cloexec_listed`] and [`has_cloexec_range`].
pub fn close_range_cloexec(first: u32) -> Result<(), Errno> {
    // SAFETY: close_range only changes fd flags; no memory is passed.
    let ret = unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, CLOSE_RANGE_CLOEXEC) };
    Errno::result(ret).map(drop)
}

/// Whether close_range(2) takes CLOSE_RANGE_CLOEXEC: asked on the one fd that cannot be
/// open (the highest), which changes nothing where it does.
pub fn has_cloexec_range() -> bool {
    // SAFETY: as above; the range holds no open fd.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            u32::MAX,
            u32::MAX,
            CLOSE_RANGE_CLOEXEC,
        )
    };
    ret == 0
}

/// The fallback of [`close_range_cloexec`]: marks close-on-exec, with fcntl(2), every fd
/// from `first` on that `fd_dir` lists (a procfs's `<pid>/fd` of the caller, opened as a
/// directory). The caller must be single-threaded, so that no fd appears meanwhile.
pub fn cloexec_listed(fd_dir: OwnedFd, first: u32) -> Result<(), Errno> {
    let own = fd_dir.as_raw_fd();
    let mut dir = nix::dir::Dir::from_fd(fd_dir.into_raw_fd())?;
    let fds: Vec<RawFd> = dir
        .iter()
        .filter_map(|e| e.ok()?.file_name().to_str().ok()?.parse().ok())
        .filter(|fd| *fd != own && u32::try_from(*fd).is_ok_and(|fd| fd >= first))
        .collect();
    drop(dir);
    for fd in fds {
        // F_SETFD only changes the flags of fd; FD_CLOEXEC is the only fd flag.
        fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))?;
    }
    Ok(())
}

/// A pidfd for `pid` (pidfd_open(2)): pollable, readable once the process has exited.
pub fn pidfd_open(pid: i32) -> Result<OwnedFd, Errno> {
    // SAFETY: no memory is passed; on success the kernel returns a new fd we own.
    let ret = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    let fd = RawFd::try_from(Errno::result(ret)?).map_err(|_| Errno::EBADF)?;
    // SAFETY: fd was just returned by the kernel and is owned by no one else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Sends `fd` over the unix socket `socket` with SCM_RIGHTS, `data` as the message.
pub fn send_fd(socket: RawFd, data: &[u8], fd: RawFd) -> Result<(), Errno> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    let fds = [fd];
    sendmsg::<()>(
        socket,
        &[std::io::IoSlice::new(data)],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::MSG_NOSIGNAL,
        None,
    )
    .map(drop)
}

/// Joins a new anonymous session keyring, so the container does not share the caller's.
pub fn join_new_session_keyring() -> Result<(), Errno> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    // SAFETY: a NULL name asks for a new anonymous keyring; no other memory is passed.
    let ret = unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, 0usize) };
    Errno::result(ret).map(drop)
}

/// Ends the calling process at once, without running Rust or libc exit handlers
/// (the forked init must not flush or free what belongs to the parent's image).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and touches no shared state (nix has no wrapper).
    unsafe { libc::_exit(code) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A test runs beside the harness's main thread (and a thread of its own here): the
    /// debug build refuses to clone before any child exists.
    #[test]
    #[should_panic(expected = "clone3_fork called with")]
    fn clone3_fork_refuses_a_process_with_threads() {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let other = std::thread::spawn(move || rx.recv());
        // SAFETY: this breaks the contract on purpose; should the assertion be missing,
        // the child exits at once and the parent's test fails (no panic).
        let r = unsafe { clone3_fork(0, None) };
        if let Ok(Forked::Child) = r {
            exit_now(0);
        }
        if let Ok(Forked::Parent(pid)) = r {
            let _ = nix::sys::wait::waitpid(pid, None);
        }
        drop(tx);
        let _ = other.join();
    }
}
