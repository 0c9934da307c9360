//! The runtime root (`--root`), opened once and trusted only if it is safe.
//!
//! Everything corral keeps under the root (state.json, cgroup.json, exec.fifo, …) drives
//! what it does as root later: which pid `delete` kills, which cgroup it removes, what
//! it writes. So the root must be corral's caller's alone: owned by the caller's euid
//! and writable by no group and no other user. It is opened with `O_NOFOLLOW`, and every
//! operation below it goes through that fd (`openat`, `mkdirat`, `unlinkat`,
//! `renameat`), one name at a time and never following a symlink: a directory swapped
//! for a symlink anywhere below the root is an error, not a way out. Files are made
//! 0600 and directories 0700 (they hold hook environments and annotations).

use crate::{Error, Result};
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::Mode;
use nix::unistd::UnlinkatFlags;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

/// Files: read-write for the owner only.
pub const FILE_MODE: u32 = 0o600;
/// Directories: the owner only.
pub const DIR_MODE: u32 = 0o700;

/// The opened runtime root.
pub struct Root {
    pub path: PathBuf,
    fd: OwnedFd,
}

/// `openat(dir, name)` without following a symlink at `name`, close-on-exec.
pub fn open_at(dir: RawFd, name: &str, flags: OFlag, mode: u32) -> nix::Result<OwnedFd> {
    let fd = nix::fcntl::openat(
        Some(dir),
        name,
        flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(mode),
    )?;
    // SAFETY: openat returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The directory `name` of `dir`, opened without following a symlink.
pub fn open_dir_at(dir: RawFd, name: &str) -> nix::Result<OwnedFd> {
    open_at(dir, name, OFlag::O_RDONLY | OFlag::O_DIRECTORY, 0)
}

/// Whether `dir` has an entry `name` (a symlink counts as itself, not its target).
pub fn exists_at(dir: RawFd, name: &str) -> bool {
    nix::sys::stat::fstatat(Some(dir), name, AtFlags::AT_SYMLINK_NOFOLLOW).is_ok()
}

/// Replaces `dir/name` with `data` atomically: a temporary file in the same directory
/// (mode 0600), its data synced (fdatasync), renamed over it. A reader sees the old or
/// the new file, and so does corral after a crash of the host: without the sync, ext4
/// may commit the rename before the data, and `delete` would then meet an empty
/// `cgroup.json`. The directory is not synced: a rename lost in a crash leaves the old
/// file, whole, and that fsync cost another 16 ms per create + delete on this host's
/// ext4 (the fdatasync 31 ms: 200 interleaved runs, 107 → 138 ms mean, debug build).
pub fn write_atomic(dir: RawFd, name: &str, data: &[u8]) -> nix::Result<()> {
    write_atomic_mode(dir, name, data, FILE_MODE)
}

/// [`write_atomic`] with the temporary file made with `mode` (cut by the umask).
pub fn write_atomic_mode(dir: RawFd, name: &str, data: &[u8], mode: u32) -> nix::Result<()> {
    let tmp = format!(".{name}.tmp");
    // Left by a corral that died half way; unlinkat removes a symlink, not its target.
    match nix::unistd::unlinkat(Some(dir), tmp.as_str(), UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(nix::Error::ENOENT) => {}
        Err(e) => return Err(e),
    }
    let fd = open_at(
        dir,
        &tmp,
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL,
        mode,
    )?;
    let written = write_all(&fd, data).and_then(|()| nix::unistd::fdatasync(fd.as_raw_fd()));
    drop(fd);
    let renamed =
        written.and_then(|()| nix::fcntl::renameat(Some(dir), tmp.as_str(), Some(dir), name));
    if renamed.is_err() {
        let _ = nix::unistd::unlinkat(Some(dir), tmp.as_str(), UnlinkatFlags::NoRemoveDir);
    }
    renamed
}

fn write_all(fd: &OwnedFd, mut data: &[u8]) -> nix::Result<()> {
    while !data.is_empty() {
        match nix::unistd::write(fd, data) {
            Ok(n) => data = &data[n..],
            Err(nix::Error::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The content of the regular file `dir/name`; `None` if it does not exist.
pub fn read_at(dir: RawFd, name: &str) -> nix::Result<Option<Vec<u8>>> {
    let fd = match open_at(dir, name, OFlag::O_RDONLY | OFlag::O_NONBLOCK, 0) {
        Ok(fd) => fd,
        Err(nix::Error::ENOENT) => return Ok(None),
        Err(e) => return Err(e),
    };
    // Not a fifo or a device put there in its place: those could block or worse.
    let st = nix::sys::stat::fstat(fd.as_raw_fd())?;
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return Err(nix::Error::EINVAL);
    }
    let mut out = vec![];
    let mut buf = [0u8; 8192];
    loop {
        match nix::unistd::read(fd.as_raw_fd(), &mut buf) {
            Ok(0) => return Ok(Some(out)),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(nix::Error::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
}

/// Removes everything in the directory `fd`, subdirectories included, never following
/// a symlink (a symlink is removed, not what it points to).
pub fn empty_dir(fd: RawFd) -> nix::Result<()> {
    let names: Vec<(String, bool)> = {
        let dup = nix::unistd::dup(fd)?;
        let mut d = nix::dir::Dir::from_fd(dup)?;
        d.iter()
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().to_str().ok()?.to_string();
                let is_dir = is_dir(fd, &e, &name);
                (name != "." && name != "..").then_some((name, is_dir))
            })
            .collect()
    };
    for (name, is_dir) in names {
        if is_dir {
            empty_dir(open_dir_at(fd, &name)?.as_raw_fd())?;
            nix::unistd::unlinkat(Some(fd), name.as_str(), UnlinkatFlags::RemoveDir)?;
        } else {
            nix::unistd::unlinkat(Some(fd), name.as_str(), UnlinkatFlags::NoRemoveDir)?;
        }
    }
    Ok(())
}

/// Whether the entry `name` of `dir` is a directory (a symlink to one is not).
fn is_dir(dir: RawFd, e: &nix::dir::Entry, name: &str) -> bool {
    match e.file_type() {
        Some(t) => t == nix::dir::Type::Directory,
        // DT_UNKNOWN: some filesystems leave the type to a stat.
        None => nix::sys::stat::fstatat(Some(dir), name, AtFlags::AT_SYMLINK_NOFOLLOW)
            .is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFDIR),
    }
}

/// Takes an exclusive `flock` on `fd`, waiting for it.
pub fn lock(fd: RawFd) -> nix::Result<()> {
    // SAFETY: flock takes an fd and a plain integer.
    nix::errno::Errno::result(unsafe { libc::flock(fd, libc::LOCK_EX) }).map(drop)
}

impl Root {
    /// Opens the root; `Ok(None)` if it does not exist.
    pub fn open(path: &Path) -> Result<Option<Root>> {
        let path = normalise(path);
        match crate::sys::open(
            &path,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => Root::checked(path, fd).map(Some),
            Err(nix::Error::ENOENT) => Ok(None),
            Err(e) => Err(Root::open_error(&path, e)),
        }
    }

    /// Opens the root, made (mode 0700, missing parents too) if it does not exist.
    pub fn create(path: &Path) -> Result<Root> {
        use std::os::unix::fs::DirBuilderExt;
        let norm = normalise(path);
        if let Some(parent) = norm.parent() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(DIR_MODE)
                .create(parent)
                .map_err(|e| Error::io("cannot create state root", parent, e))?;
        }
        match nix::unistd::mkdir(&norm, Mode::from_bits_truncate(DIR_MODE)) {
            Ok(()) | Err(nix::Error::EEXIST) => {}
            Err(e) => {
                return Err(Error::sys(
                    format!("mkdir state root {}", norm.display()),
                    e,
                ))
            }
        }
        Root::open(&norm)?.ok_or_else(|| {
            Error::Other(format!(
                "state root {}: removed while corral opened it",
                norm.display()
            ))
        })
    }

    fn open_error(path: &Path, e: nix::Error) -> Error {
        let symlink = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
        if symlink {
            return Error::Other(format!(
                "state root {} is a symbolic link, which corral does not follow: \
                 pass the directory it names",
                path.display()
            ));
        }
        Error::sys(format!("open state root {}", path.display()), e)
    }

    /// Refuses a root another user could change under corral's feet.
    fn checked(path: PathBuf, fd: OwnedFd) -> Result<Root> {
        let st = nix::sys::stat::fstat(fd.as_raw_fd())
            .map_err(|e| Error::sys(format!("stat state root {}", path.display()), e))?;
        let euid = nix::unistd::geteuid().as_raw();
        let why = if st.st_uid != euid {
            Some(format!(
                "belongs to uid {}, not to uid {euid} that corral runs as",
                st.st_uid
            ))
        } else if st.st_mode & 0o022 != 0 {
            Some(format!(
                "is writable by {} (mode {:o})",
                if st.st_mode & 0o002 != 0 {
                    "every user"
                } else {
                    "its group"
                },
                st.st_mode & 0o7777
            ))
        } else {
            None
        };
        match why {
            Some(why) => Err(Error::UnsafeRoot { path, why }),
            None => Ok(Root { path, fd }),
        }
    }

    pub fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// The entries of the root that are directories (not symlinks to one), unsorted.
    pub fn dir_names(&self) -> Result<Vec<String>> {
        let fail = |e| Error::sys(format!("read state root {}", self.path.display()), e);
        let dup = nix::unistd::dup(self.fd()).map_err(fail)?;
        let mut d = nix::dir::Dir::from_fd(dup).map_err(fail)?;
        Ok(d.iter()
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().to_str().ok()?.to_string();
                is_dir(self.fd(), &e, &name).then_some(name)
            })
            .filter(|n| n != "." && n != "..")
            .collect())
    }
}

/// `path` without `.` components and trailing slashes: a trailing slash would make
/// the kernel follow a symlink at the last component despite `O_NOFOLLOW`.
fn normalise(path: &Path) -> PathBuf {
    path.components().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn tmp(what: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("corral-rootdir-{what}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn root_is_private_and_files_never_follow_symlinks() {
        let d = tmp("private");
        let root = Root::create(&d).unwrap();
        let mode = std::fs::metadata(&d).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        write_atomic(root.fd(), "f", b"x").unwrap();
        let mode = std::fs::metadata(d.join("f")).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(read_at(root.fd(), "f").unwrap().unwrap(), b"x");
        std::os::unix::fs::symlink(d.join("f"), d.join("l")).unwrap();
        assert_eq!(read_at(root.fd(), "l").unwrap_err(), nix::Error::ELOOP);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn writable_root_is_refused() {
        let d = tmp("writable");
        std::fs::create_dir(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = Root::open(&d).err().expect("refused").to_string();
        assert!(e.contains("writable by every user"), "{e}");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
