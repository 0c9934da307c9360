//! Paths inside the rootfs, resolved by the kernel as if the rootfs were `/`.
//!
//! Every lookup is one openat2(2) with `RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS` from
//! an fd of the rootfs: a symlink, absolute or full of `..`, cannot lead out of it, and
//! `/proc/self/fd/N` style links are refused. What is created (mount points, device
//! nodes) is created relative to an fd of its parent, and what is mounted is mounted
//! onto the fd the lookup returned.

use crate::sys::mount::openat2;
use crate::{Error, Result};
use nix::errno::Errno;
use std::ffi::OsStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

const RESOLVE: u64 = libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS;

/// An opened root directory: the rootfs before pivot_root, `/` after.
pub struct InRoot {
    fd: OwnedFd,
    /// Where it is, for messages.
    path: PathBuf,
}

/// What to create at a missing mount target.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Kind {
    Dir,
    File,
}

impl InRoot {
    pub fn open(path: &Path) -> Result<Self> {
        let fd = crate::sys::open(
            path,
            nix::fcntl::OFlag::O_PATH
                | nix::fcntl::OFlag::O_DIRECTORY
                | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .map_err(|e| Error::sys(format!("open {}", path.display()), e))?;
        Ok(InRoot {
            fd,
            path: path.to_path_buf(),
        })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// `path` (taken as relative to the root, whether it starts with `/` or not) opened
    /// with `O_PATH`, symlinks followed inside the root only.
    pub fn resolve(&self, path: &Path) -> std::result::Result<OwnedFd, Errno> {
        self.resolve_flags(path, libc::O_PATH)
    }

    /// Like [`resolve`](Self::resolve), with other open flags (`O_NOFOLLOW`, `O_DIRECTORY`).
    pub fn resolve_flags(&self, path: &Path, flags: i32) -> std::result::Result<OwnedFd, Errno> {
        openat2(self.fd(), relative(path), flags, 0, RESOLVE)
    }

    /// The directory `path`, made with every missing parent (mode 0755), all inside the root.
    /// A dangling symlink on the way (`/run -> /var/run` in an image without /var/run)
    /// has its target made, inside the root as the kernel resolves it there.
    pub fn mkdir_all(&self, path: &Path) -> Result<OwnedFd> {
        self.mkdir_all_within(path, 0)
    }

    /// `mkdir_all`, `links` dangling symlinks deep (at most 40, as the kernel's own limit).
    fn mkdir_all_within(&self, path: &Path, links: u32) -> Result<OwnedFd> {
        match self.resolve_flags(path, libc::O_PATH | libc::O_DIRECTORY) {
            Err(Errno::ENOENT) => {}
            r => return r.map_err(|e| self.err("cannot open", path, e)),
        }
        // Walk from the root: each prefix is resolved afresh (so a symlink met on the way
        // is followed inside the root), and a missing component is made in the directory
        // the previous prefix resolved to.
        let mut dir = self
            .fd
            .try_clone()
            .map_err(|e| Error::io("cannot dup", &self.path, e))?;
        let mut prefix = PathBuf::new();
        for c in relative(path).components() {
            let parent = prefix.clone();
            prefix.push(c);
            let open = |p: &Path| self.resolve_flags(p, libc::O_PATH | libc::O_DIRECTORY);
            match open(&prefix) {
                Ok(fd) => dir = fd,
                Err(Errno::ENOENT) => {
                    let Component::Normal(name) = c else {
                        return Err(self.err("cannot open", &prefix, Errno::ENOENT));
                    };
                    let raw = std::os::fd::AsRawFd::as_raw_fd(&dir);
                    match make_dir_in(&dir, name) {
                        Ok(()) => {}
                        // A dangling symlink (a file would give ENOTDIR below): its
                        // target, read through the parent's fd, is made in the root.
                        Err(Errno::EEXIST) => match nix::fcntl::readlinkat(Some(raw), name) {
                            Ok(_) if links >= 40 => {
                                return Err(self.err("cannot create", &prefix, Errno::ELOOP))
                            }
                            Ok(to) => {
                                self.mkdir_all_within(&parent.join(to), links + 1)?;
                            }
                            Err(_) => {}
                        },
                        Err(e) => return Err(self.err("cannot create", &prefix, e)),
                    }
                    dir = open(&prefix).map_err(|e| self.err("cannot open", &prefix, e))?;
                }
                Err(e) => return Err(self.err("cannot open", &prefix, e)),
            }
        }
        Ok(dir)
    }

    /// The mount target at `path`: opened if it exists, else created as `kind` (an empty
    /// file for a file bind) with its missing parents.
    pub fn target(&self, path: &Path, kind: Kind) -> Result<OwnedFd> {
        match self.resolve(path) {
            Err(Errno::ENOENT) => {}
            r => return r.map_err(|e| self.err("cannot open mount target", path, e)),
        }
        if kind == Kind::Dir {
            return self.mkdir_all(path);
        }
        let (parent, name) =
            split(path).ok_or_else(|| self.err("cannot create", path, Errno::EINVAL))?;
        let dir = self.mkdir_all(parent)?;
        match make_file_in(&dir, name) {
            Ok(fd) => Ok(fd),
            Err(Errno::EEXIST) => self
                .resolve(path)
                .map_err(|e| self.err("cannot open mount target", path, e)),
            Err(e) => Err(self.err("cannot create", path, e)),
        }
    }

    /// [`target`](Self::target), and the target's path in the container when the
    /// lookup followed no symlink and `path` has no `..`: then it is `path` itself, and
    /// [`path_of`](Self::path_of), a procfs lookup and a readlink, is not needed. The
    /// usual case, a target that exists or whose parent does, takes one or two lookups.
    pub fn target_at(&self, path: &Path, kind: Kind) -> Result<(OwnedFd, Option<PathBuf>)> {
        let plain = !path.components().any(|c| c == Component::ParentDir);
        let literal = || plain.then(|| Path::new("/").join(relative(path)));
        match self.resolve_plain(path, libc::O_PATH) {
            Ok(fd) => return Ok((fd, literal())),
            // No symlink on the way to the first missing name.
            Err(Errno::ENOENT) => {
                if let Some(fd) = self.make_in_parent(path, kind)? {
                    return Ok((fd, literal()));
                }
            }
            // A symlink on the way (ELOOP), or an error the general lookup reports.
            Err(_) => {}
        }
        self.target(path, kind).map(|fd| (fd, None))
    }

    /// `path` resolved as [`resolve_flags`](Self::resolve_flags) does, but failing
    /// (ELOOP) at any symlink.
    fn resolve_plain(&self, path: &Path, flags: i32) -> std::result::Result<OwnedFd, Errno> {
        let how = RESOLVE | libc::RESOLVE_NO_SYMLINKS;
        openat2(self.fd(), relative(path), flags, 0, how)
    }

    /// The missing `path` made as `kind` in its parent, when the parent exists and is
    /// reached without a symlink; `None` for everything else (a missing parent, a
    /// symlink, a name that appeared meanwhile), which [`target`](Self::target) handles.
    fn make_in_parent(&self, path: &Path, kind: Kind) -> Result<Option<OwnedFd>> {
        let Some((parent, name)) = split(path) else {
            return Ok(None);
        };
        let Ok(dir) = self.resolve_plain(parent, libc::O_PATH | libc::O_DIRECTORY) else {
            return Ok(None);
        };
        let made = match kind {
            Kind::Dir => make_dir_in(&dir, name).and_then(|()| {
                let how = RESOLVE | libc::RESOLVE_NO_SYMLINKS;
                openat2(
                    dir.as_fd(),
                    Path::new(name),
                    libc::O_PATH | libc::O_DIRECTORY,
                    0,
                    how,
                )
            }),
            Kind::File => make_file_in(&dir, name),
        };
        match made {
            Ok(fd) => Ok(Some(fd)),
            Err(Errno::EEXIST | Errno::ELOOP | Errno::ENOENT) => Ok(None),
            Err(e) => Err(self.err("cannot create", path, e)),
        }
    }

    /// The container path of an fd opened in this root, from the kernel's record of it
    /// (used to apply the rules for `/proc` to where a mount really lands).
    pub fn path_of(&self, fd: BorrowedFd) -> Result<PathBuf> {
        let link = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&fd));
        let real = std::fs::read_link(&link).map_err(|e| Error::io("cannot read", &link, e))?;
        let inside = real.strip_prefix(&self.path).map_err(|_| {
            Error::Other(format!(
                "{} resolved to {}, outside the rootfs {}",
                link,
                real.display(),
                self.path.display()
            ))
        })?;
        Ok(Path::new("/").join(inside))
    }

    fn err(&self, what: &str, path: &Path, e: Errno) -> Error {
        Error::sys(
            format!(
                "{what} {} in {}",
                Path::new("/").join(relative(path)).display(),
                self.path.display()
            ),
            e,
        )
    }
}

/// Directory `name` (mode 0755) made in the directory `dir`.
fn make_dir_in(dir: &OwnedFd, name: &OsStr) -> std::result::Result<(), Errno> {
    let mode = nix::sys::stat::Mode::from_bits_truncate(0o755);
    nix::sys::stat::mkdirat(Some(std::os::fd::AsRawFd::as_raw_fd(dir)), name, mode)
}

/// Empty file `name` (mode 0644) made in the directory `dir`, opened. O_EXCL never
/// follows a symlink: a dangling one there fails with EEXIST.
fn make_file_in(dir: &OwnedFd, name: &OsStr) -> std::result::Result<OwnedFd, Errno> {
    openat2(
        dir.as_fd(),
        Path::new(name),
        libc::O_CREAT | libc::O_EXCL | libc::O_RDONLY | libc::O_NOFOLLOW,
        0o644,
        RESOLVE | libc::RESOLVE_NO_SYMLINKS,
    )
}

/// `path` without its leading `/`: openat2 resolves it below the root fd.
fn relative(path: &Path) -> &Path {
    let mut p = path;
    while let Ok(rest) = p.strip_prefix("/") {
        p = rest;
    }
    if p.as_os_str().is_empty() {
        Path::new(".")
    } else {
        p
    }
}

/// The parent and the last name of `path`, if it ends in a name.
pub fn split(path: &Path) -> Option<(&Path, &OsStr)> {
    match path.components().next_back()? {
        Component::Normal(name) => Some((path.parent().unwrap_or(Path::new("/")), name)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths() {
        assert_eq!(relative(Path::new("/a/b")), Path::new("a/b"));
        assert_eq!(relative(Path::new("a")), Path::new("a"));
        assert_eq!(relative(Path::new("/")), Path::new("."));
    }

    #[test]
    fn split_last_name() {
        assert_eq!(
            split(Path::new("/dev/null")),
            Some((Path::new("/dev"), OsStr::new("null")))
        );
        assert_eq!(split(Path::new("/a/..")), None);
    }

    /// A symlink to `/` and one full of `..` both stay inside the root.
    #[test]
    fn symlinks_stay_inside() {
        let dir = std::env::temp_dir().join(format!("corral-paths-{}", std::process::id()));
        let root = dir.join("root");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::os::unix::fs::symlink("/", root.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../../..", root.join("sub/up")).unwrap();
        let r = InRoot::open(&root).unwrap();
        for p in ["/abs/made1", "/sub/up/made2", "../../made3"] {
            r.mkdir_all(Path::new(p)).unwrap();
        }
        for name in ["made1", "made2", "made3"] {
            assert!(root.join(name).is_dir(), "{name} not made inside the root");
        }
        // Dangling links: their targets are made inside the root, however they point.
        std::os::unix::fs::symlink("/var/run", root.join("run")).unwrap();
        std::os::unix::fs::symlink("../../../../opt/x", root.join("sub/dangling")).unwrap();
        for p in ["/run/notify", "/sub/dangling/y"] {
            let fd = r.mkdir_all(Path::new(p)).unwrap();
            assert!(r.path_of(fd.as_fd()).is_ok(), "{p} left the root");
        }
        assert!(root.join("var/run/notify").is_dir());
        assert!(root.join("opt/x/y").is_dir());
        std::os::unix::fs::symlink("loop", root.join("loop")).unwrap();
        assert!(r.mkdir_all(Path::new("/loop/z")).is_err());
        let f = r.target(Path::new("/abs/etc/file"), Kind::File).unwrap();
        assert_eq!(r.path_of(f.as_fd()).unwrap(), Path::new("/etc/file"));
        assert!(root.join("etc/file").is_file());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// `target_at` names the target itself only where the lookup met no symlink and the
    /// path has no `..`; its name then agrees with the kernel's (`path_of`).
    #[test]
    fn target_at_knows_literal_paths_only() {
        let dir = std::env::temp_dir().join(format!("corral-target-at-{}", std::process::id()));
        let root = dir.join("root");
        std::fs::create_dir_all(root.join("dev")).unwrap();
        std::fs::create_dir_all(root.join("real")).unwrap();
        std::os::unix::fs::symlink("/real", root.join("link")).unwrap();
        std::os::unix::fs::symlink("/real/made", root.join("dangling")).unwrap();
        let r = InRoot::open(&root).unwrap();
        let cases = [
            ("/dev", Kind::Dir, Some("/dev")),         // exists
            ("/dev/pts", Kind::Dir, Some("/dev/pts")), // made in its parent
            ("dev/file", Kind::File, Some("/dev/file")),
            ("/a/b/c", Kind::Dir, None), // parents missing: the general lookup
            ("/link/x", Kind::Dir, None),
            ("/dangling", Kind::Dir, None),
            ("/dev/../real/y", Kind::Dir, None),
        ];
        for (path, kind, want) in cases {
            let (fd, at) = r.target_at(Path::new(path), kind).unwrap();
            assert_eq!(at.as_deref(), want.map(Path::new), "{path}");
            let real = r.path_of(fd.as_fd()).unwrap();
            if let Some(at) = at {
                assert_eq!(at, real, "{path}");
            }
        }
        assert!(root.join("real/x").is_dir() && root.join("real/made").is_dir());
        assert!(root.join("dev/file").is_file() && root.join("a/b/c").is_dir());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
