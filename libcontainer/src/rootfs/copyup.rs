//! `tmpcopyup`: the new tmpfs starts with a copy of the directory it covers, done
//! while the tmpfs is still detached. Nothing is followed: symlinks are copied as
//! links, and every name is opened relative to its directory with O_NOFOLLOW.

use crate::{Error, Result};
use nix::dir::Dir;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{fstatat, mknodat, FileStat, Mode, SFlag};
use nix::unistd::{fchownat, Gid, Uid};
use std::ffi::OsStr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

/// Deep enough for any real image; a bound on recursion over untrusted content.
const MAX_DEPTH: usize = 64;

pub fn copy_tree(from: BorrowedFd, to: BorrowedFd) -> Result<()> {
    let src = open_dir(from, OsStr::new("."))?;
    let dst = open_dir(to, OsStr::new("."))?;
    // The tmpfs root takes the covered directory's owner and mode.
    let st = nix::sys::stat::fstat(src.as_raw_fd()).map_err(err("stat", OsStr::new(".")))?;
    nix::sys::stat::fchmod(
        dst.as_raw_fd(),
        Mode::from_bits_truncate(st.st_mode & 0o7777),
    )
    .map_err(err("chmod", OsStr::new(".")))?;
    nix::unistd::fchown(
        dst.as_raw_fd(),
        Some(Uid::from_raw(st.st_uid)),
        Some(Gid::from_raw(st.st_gid)),
    )
    .map_err(err("chown", OsStr::new(".")))?;
    copy_dir(src, dst, 0)
}

fn copy_dir(src: OwnedFd, dst: OwnedFd, depth: usize) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(Error::Other(format!("deeper than {MAX_DEPTH} directories")));
    }
    // Dir owns (and closes) the fd it is given: give it a copy, ours is for the *at calls.
    let copy = nix::unistd::dup(src.as_raw_fd()).map_err(err("dup", OsStr::new(".")))?;
    let mut dir = Dir::from_fd(copy).map_err(err("read", OsStr::new(".")))?;
    let src_fd = src;
    let names: Vec<Vec<u8>> = dir
        .iter()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_bytes().to_vec())
        .filter(|n| n != b"." && n != b"..")
        .collect();
    drop(dir);
    for name in names {
        let name = OsStr::from_bytes(&name);
        let st = fstatat(Some(src_fd.as_raw_fd()), name, AtFlags::AT_SYMLINK_NOFOLLOW)
            .map_err(err("stat", name))?;
        copy_entry(src_fd.as_fd(), dst.as_fd(), name, &st, depth)?;
        if st.st_mode & libc::S_IFMT != libc::S_IFLNK {
            nix::sys::stat::fchmodat(
                Some(dst.as_raw_fd()),
                name,
                Mode::from_bits_truncate(st.st_mode & 0o7777),
                nix::sys::stat::FchmodatFlags::FollowSymlink,
            )
            .map_err(err("chmod", name))?;
        }
        fchownat(
            Some(dst.as_raw_fd()),
            name,
            Some(Uid::from_raw(st.st_uid)),
            Some(Gid::from_raw(st.st_gid)),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(err("chown", name))?;
    }
    Ok(())
}

fn copy_entry(
    src: BorrowedFd,
    dst: BorrowedFd,
    name: &OsStr,
    st: &FileStat,
    depth: usize,
) -> Result<()> {
    let (s, d) = (src.as_raw_fd(), dst.as_raw_fd());
    match st.st_mode & libc::S_IFMT {
        libc::S_IFDIR => {
            nix::sys::stat::mkdirat(Some(d), name, Mode::from_bits_truncate(0o700))
                .map_err(err("mkdir", name))?;
            copy_dir(open_dir(src, name)?, open_dir(dst, name)?, depth + 1)
        }
        libc::S_IFREG => {
            let from = openat(s, name, OFlag::O_RDONLY, Mode::empty())?;
            let to = openat(
                d,
                name,
                OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL,
                Mode::from_bits_truncate(0o600),
            )?;
            std::io::copy(&mut std::fs::File::from(from), &mut std::fs::File::from(to))
                .map(drop)
                .map_err(|e| Error::io("cannot copy", name, e))
        }
        libc::S_IFLNK => {
            let to = nix::fcntl::readlinkat(Some(s), name).map_err(err("readlink", name))?;
            nix::unistd::symlinkat(to.as_os_str(), Some(d), name).map_err(err("symlink", name))
        }
        kind => mknodat(
            Some(d),
            name,
            SFlag::from_bits_truncate(kind),
            Mode::from_bits_truncate(0o600),
            st.st_rdev,
        )
        .map_err(err("mknod", name)),
    }
}

fn openat(dir: i32, name: &OsStr, flags: OFlag, mode: Mode) -> Result<OwnedFd> {
    let fd = nix::fcntl::openat(
        Some(dir),
        name,
        flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        mode,
    )
    .map_err(err("open", name))?;
    // SAFETY: openat returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn open_dir(dir: BorrowedFd, name: &OsStr) -> Result<OwnedFd> {
    openat(
        dir.as_raw_fd(),
        name,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY,
        Mode::empty(),
    )
}

fn err<'a>(what: &'static str, name: &'a OsStr) -> impl FnOnce(nix::Error) -> Error + 'a {
    move |e| Error::sys(format!("{what} {}", name.to_string_lossy()), e)
}
