//! The mount API of Linux 5.2+ (fsopen, fsconfig, fsmount, open_tree, move_mount),
//! mount_setattr (5.12) and openat2 (5.6), which nix does not wrap.
//!
//! corral mounts by file descriptor: a mount is built detached (fsmount, open_tree),
//! given its attributes, and attached with move_mount onto a target that was opened
//! inside the rootfs. No path is walked twice, so a symlink swapped in between the
//! check and the mount cannot redirect it.

use nix::errno::Errno;
use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

pub const MOUNT_ATTR_RDONLY: u64 = 0x1;
pub const MOUNT_ATTR_NOSUID: u64 = 0x2;
pub const MOUNT_ATTR_NODEV: u64 = 0x4;
pub const MOUNT_ATTR_NOEXEC: u64 = 0x8;
/// The mask of the three atime modes; relatime is the mode 0.
pub const MOUNT_ATTR_ATIME: u64 = 0x70;
pub const MOUNT_ATTR_RELATIME: u64 = 0;
pub const MOUNT_ATTR_NOATIME: u64 = 0x10;
pub const MOUNT_ATTR_STRICTATIME: u64 = 0x20;
pub const MOUNT_ATTR_NODIRATIME: u64 = 0x80;
pub const MOUNT_ATTR_IDMAP: u64 = 0x10_0000;
pub const MOUNT_ATTR_NOSYMFOLLOW: u64 = 0x20_0000;
/// What fsmount(2) takes since Linux 5.2 (nosymfollow only since 5.14).
pub const FSMOUNT_ATTRS: u64 = MOUNT_ATTR_RDONLY
    | MOUNT_ATTR_NOSUID
    | MOUNT_ATTR_NODEV
    | MOUNT_ATTR_NOEXEC
    | MOUNT_ATTR_ATIME
    | MOUNT_ATTR_NODIRATIME;

const OPEN_TREE_CLONE: u32 = 1;
const MOVE_MOUNT_F_EMPTY_PATH: u32 = 0x4;
const MOVE_MOUNT_T_EMPTY_PATH: u32 = 0x40;
const FSOPEN_CLOEXEC: u32 = 1;
const FSMOUNT_CLOEXEC: u32 = 1;
const FSCONFIG_SET_FLAG: u32 = 0;
const FSCONFIG_SET_STRING: u32 = 1;
const FSCONFIG_CMD_CREATE: u32 = 6;

/// `struct mount_attr` of mount_setattr(2).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct MountAttr {
    pub attr_set: u64,
    pub attr_clr: u64,
    /// MS_SHARED, MS_SLAVE, MS_PRIVATE or MS_UNBINDABLE, or 0 to leave it.
    pub propagation: u64,
    pub userns_fd: u64,
}

impl MountAttr {
    pub fn is_empty(&self) -> bool {
        *self == MountAttr::default()
    }
}

fn cstr(path: &Path) -> Result<CString, Errno> {
    CString::new(path.as_os_str().as_encoded_bytes()).map_err(|_| Errno::EINVAL)
}

fn owned(ret: libc::c_long) -> Result<OwnedFd, Errno> {
    let fd = RawFd::try_from(Errno::result(ret)?).map_err(|_| Errno::EBADF)?;
    // SAFETY: a non-negative return of these calls is a new fd that only we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

const EMPTY: &CStr = c"";

/// The current directory as a directory fd (AT_FDCWD), for calls that take a path.
pub fn cwd() -> BorrowedFd<'static> {
    // SAFETY: AT_FDCWD is never closed; every *at call takes it as "the cwd".
    unsafe { BorrowedFd::borrow_raw(libc::AT_FDCWD) }
}

/// openat2(2) with `resolve` flags (RESOLVE_IN_ROOT and friends); always O_CLOEXEC.
pub fn openat2(
    dir: BorrowedFd,
    path: &Path,
    flags: libc::c_int,
    mode: u32,
    resolve: u64,
) -> Result<OwnedFd, Errno> {
    let path = cstr(path)?;
    // SAFETY: open_how is plain data; zeroed is a valid value before we fill it in.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = u64::try_from(flags | libc::O_CLOEXEC).map_err(|_| Errno::EINVAL)?;
    how.mode = if flags & libc::O_CREAT != 0 {
        mode as u64
    } else {
        0
    };
    how.resolve = resolve;
    loop {
        // SAFETY: path is NUL-terminated and how a valid open_how of the size passed.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dir.as_raw_fd(),
                path.as_ptr(),
                &how as *const libc::open_how,
                std::mem::size_of::<libc::open_how>(),
            )
        };
        match owned(ret) {
            // RESOLVE_IN_ROOT fails with EAGAIN when a rename raced the walk: walk again.
            Err(Errno::EAGAIN) => continue,
            r => return r,
        }
    }
}

/// open_tree(OPEN_TREE_CLONE): a detached copy of the mount at `path` (and of the mounts
/// below it with `recursive`), for a bind mount by fd. An empty path means `dir` itself.
pub fn clone_tree(dir: BorrowedFd, path: &Path, recursive: bool) -> Result<OwnedFd, Errno> {
    let p = cstr(path)?;
    let mut flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as u32;
    if recursive {
        flags |= libc::AT_RECURSIVE as u32;
    }
    if p.is_empty() {
        flags |= libc::AT_EMPTY_PATH as u32;
    }
    // SAFETY: p is NUL-terminated; no other memory is passed.
    owned(unsafe { libc::syscall(libc::SYS_open_tree, dir.as_raw_fd(), p.as_ptr(), flags) })
}

/// move_mount(2) of the detached (or attached) mount `from` onto the file or directory
/// `to` was opened on.
pub fn attach(from: BorrowedFd, to: BorrowedFd) -> Result<(), Errno> {
    attach_at(from, to, Path::new(""))
}

/// move_mount(2) of `from` onto `name` below the directory `to` (an empty name: `to`).
pub fn attach_at(from: BorrowedFd, to: BorrowedFd, name: &Path) -> Result<(), Errno> {
    let name = cstr(name)?;
    let mut flags = MOVE_MOUNT_F_EMPTY_PATH;
    if name.is_empty() {
        flags |= MOVE_MOUNT_T_EMPTY_PATH;
    }
    // SAFETY: both paths are NUL-terminated; no other memory is passed.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from.as_raw_fd(),
            EMPTY.as_ptr(),
            to.as_raw_fd(),
            name.as_ptr(),
            flags,
        )
    };
    Errno::result(ret).map(drop)
}

/// mount_setattr(2) on the mount `fd` refers to, and with `recursive` on every mount below.
pub fn setattr(fd: BorrowedFd, recursive: bool, attr: &MountAttr) -> Result<(), Errno> {
    setattr_at(fd, Path::new(""), recursive, attr)
}

/// mount_setattr(2) on the mount at `path` (relative to `dir`; empty: `dir` itself).
pub fn setattr_at(
    dir: BorrowedFd,
    path: &Path,
    recursive: bool,
    attr: &MountAttr,
) -> Result<(), Errno> {
    let p = cstr(path)?;
    let mut flags = 0;
    if recursive {
        flags |= libc::AT_RECURSIVE as u32;
    }
    if p.is_empty() {
        flags |= libc::AT_EMPTY_PATH as u32;
    }
    // SAFETY: p is NUL-terminated and attr a valid mount_attr of the size passed.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            dir.as_raw_fd(),
            p.as_ptr(),
            flags,
            attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    Errno::result(ret).map(drop)
}

/// A filesystem context of fsopen(2), to be configured and turned into a mount.
pub struct FsContext(OwnedFd);

impl FsContext {
    pub fn open(fstype: &str) -> Result<Self, Errno> {
        let t = CString::new(fstype).map_err(|_| Errno::EINVAL)?;
        // SAFETY: t is NUL-terminated; no other memory is passed.
        owned(unsafe { libc::syscall(libc::SYS_fsopen, t.as_ptr(), FSOPEN_CLOEXEC) }).map(Self)
    }

    fn config(&self, cmd: u32, key: Option<&str>, value: Option<&str>) -> Result<(), Errno> {
        let key = key
            .map(CString::new)
            .transpose()
            .map_err(|_| Errno::EINVAL)?;
        let value = value
            .map(CString::new)
            .transpose()
            .map_err(|_| Errno::EINVAL)?;
        let ptr = |c: &Option<CString>| c.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
        // SAFETY: key and value are NUL-terminated or null, as the command expects.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                self.0.as_raw_fd(),
                cmd,
                ptr(&key),
                ptr(&value),
                0,
            )
        };
        Errno::result(ret).map(drop)
    }

    /// `key=value`, or a bare `key` (a flag such as `newinstance` or `ro`).
    pub fn set(&self, key: &str, value: Option<&str>) -> Result<(), Errno> {
        match value {
            Some(v) => self.config(FSCONFIG_SET_STRING, Some(key), Some(v)),
            None => self.config(FSCONFIG_SET_FLAG, Some(key), None),
        }
    }

    /// Creates the superblock, then a detached mount of it with `attr_flags`.
    pub fn mount(&self, attr_flags: u64) -> Result<OwnedFd, Errno> {
        let attr_flags = libc::c_uint::try_from(attr_flags).map_err(|_| Errno::EINVAL)?;
        self.config(FSCONFIG_CMD_CREATE, None, None)?;
        // SAFETY: no memory is passed.
        owned(unsafe {
            libc::syscall(
                libc::SYS_fsmount,
                self.0.as_raw_fd(),
                FSMOUNT_CLOEXEC,
                attr_flags,
            )
        })
    }

    /// What the filesystem logged about a failed call ("tmpfs: Bad value for 'size'").
    pub fn log(&self) -> String {
        let mut out = vec![];
        let mut buf = [0u8; 512];
        // Each read returns one message; the log is empty (ENODATA) at the end.
        while let Ok(n) = nix::unistd::read(self.0.as_raw_fd(), &mut buf) {
            if n == 0 {
                break;
            }
            let msg = String::from_utf8_lossy(&buf[..n]);
            // Messages start with "e " (error), "w " (warning) or "i " (info).
            out.push(msg.get(2..).unwrap_or_default().trim().to_string());
        }
        out.join("; ")
    }
}
