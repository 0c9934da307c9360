//! `maskedPaths` and `readonlyPaths`, applied after pivot_root, inside the new root.
//!
//! A masked file gets a bind of the container's /dev/null, checked first to be the
//! null device (CVE-2025-31133: a /dev/null replaced by a symlink or another file
//! turned the mask into a writable bind of what it pointed to). A masked directory gets
//! an empty read-only tmpfs; there is one such tmpfs, and every other masked directory
//! gets a bind of it, so a thousand masks cost a thousand binds, not a thousand
//! filesystems.

use super::paths::InRoot;
use super::{attr_err, kernel_err};
use crate::sys::mount::{self as m, FsContext, MountAttr};
use crate::sys::remount as r;
use crate::{Error, Result};
use nix::errno::Errno;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

const NULL_DEVICE: (u64, u64) = (1, 3);

pub struct Masks {
    root: InRoot,
    /// The container's /dev/null, once checked.
    null: Option<OwnedFd>,
    /// The empty tmpfs of the first masked directory, attached.
    empty: Option<OwnedFd>,
}

impl Masks {
    pub fn new() -> Result<Self> {
        Ok(Masks {
            root: InRoot::open(Path::new("/"))?,
            null: None,
            empty: None,
        })
    }

    pub fn mask(&mut self, path: &str) -> Result<()> {
        let target = match self.root.resolve(Path::new(path)) {
            Err(Errno::ENOENT) => {
                crate::trace::step(|| format!("masked path {path}: absent, skipped"));
                return Ok(());
            }
            r => r.map_err(|e| Error::sys(format!("maskedPaths: open {path}"), e))?,
        };
        let st = nix::sys::stat::fstat(target.as_raw_fd())
            .map_err(|e| Error::sys(format!("maskedPaths: stat {path}"), e))?;
        let what = format!("maskedPaths: mask {path}");
        let dir = st.st_mode & libc::S_IFMT == libc::S_IFDIR;
        crate::trace::step(|| {
            let with = if dir {
                "an empty read-only tmpfs"
            } else {
                "/dev/null"
            };
            format!("masked path {path}: bind of {with}")
        });
        if dir {
            let tree = match &self.empty {
                Some(first) => m::clone_tree(first.as_fd(), Path::new(""), false)
                    .map_err(|e| kernel_err(format!("{what}: clone the empty tmpfs"), e))?,
                None => empty_tmpfs().map_err(|e| kernel_err(format!("{what}: tmpfs"), e))?,
            };
            m::attach(tree.as_fd(), target.as_fd())
                .map_err(|e| kernel_err(format!("{what}: move_mount"), e))?;
            self.empty.get_or_insert(tree);
        } else {
            let null = self.null()?;
            let tree = m::clone_tree(null.as_fd(), Path::new(""), false)
                .map_err(|e| kernel_err(format!("{what}: clone /dev/null"), e))?;
            m::attach(tree.as_fd(), target.as_fd())
                .map_err(|e| kernel_err(format!("{what}: move_mount"), e))?;
        }
        Ok(())
    }

    /// The container's /dev/null, opened without following a link and checked to be
    /// the character device 1:3.
    fn null(&mut self) -> Result<&OwnedFd> {
        if self.null.is_none() {
            let fd = self
                .root
                .resolve_flags(Path::new("/dev/null"), libc::O_PATH | libc::O_NOFOLLOW)
                .map_err(|e| Error::sys("maskedPaths: open /dev/null", e))?;
            let st = nix::sys::stat::fstat(fd.as_raw_fd())
                .map_err(|e| Error::sys("maskedPaths: stat /dev/null", e))?;
            let dev = (
                libc::major(st.st_rdev) as u64,
                libc::minor(st.st_rdev) as u64,
            );
            if st.st_mode & libc::S_IFMT != libc::S_IFCHR || dev != NULL_DEVICE {
                return Err(Error::Other(format!(
                    "maskedPaths: /dev/null in the container is not the null device \
                     (character device 1:3) but mode {:o} device {}:{}; refusing to mask with it",
                    st.st_mode, dev.0, dev.1
                )));
            }
            self.null = Some(fd);
        }
        Ok(self.null.as_ref().expect("set above"))
    }

    /// `readonlyPaths`: a recursive clone of the path, made read-only, attached on it.
    pub fn readonly(&self, path: &str) -> Result<()> {
        let target = match self.root.resolve(Path::new(path)) {
            Err(Errno::ENOENT) => return Ok(()),
            r => r.map_err(|e| Error::sys(format!("readonlyPaths: open {path}"), e))?,
        };
        let what = format!("readonlyPaths: {path}");
        crate::trace::step(|| format!("readonly path {path}: recursive read-only bind"));
        let tree = m::clone_tree(target.as_fd(), Path::new(""), true)
            .map_err(|e| kernel_err(format!("{what}: open_tree"), e))?;
        let ro = MountAttr {
            attr_set: m::MOUNT_ATTR_RDONLY,
            ..Default::default()
        };
        r::attach_with(tree.as_fd(), target.as_fd(), &MountAttr::default(), &ro)
            .map_err(|f| attr_err(&what, f))
    }
}

fn empty_tmpfs() -> std::result::Result<OwnedFd, Errno> {
    let fc = FsContext::open("tmpfs")?;
    fc.set("mode", Some("0755"))?;
    fc.set("size", Some("4k"))?;
    fc.mount(
        m::MOUNT_ATTR_RDONLY | m::MOUNT_ATTR_NOSUID | m::MOUNT_ATTR_NODEV | m::MOUNT_ATTR_NOEXEC,
    )
}
