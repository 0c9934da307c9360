//! One entry of `mounts`, and the masked and read-only paths.

use super::{cgroupfs, options, sys_err};
use crate::{Error, Result};
use nix::mount::{mount, MsFlags};
use nix::sys::statvfs::{statvfs, FsFlags};
use oci_spec::runtime::Mount;
use std::path::{Path, PathBuf};

/// The mount's destination as a path under `rootfs` (a relative destination is
/// taken as relative to the container's `/`, as runc does).
fn target(rootfs: &Path, dest: &Path) -> PathBuf {
    rootfs.join(dest.strip_prefix("/").unwrap_or(dest))
}

pub fn is_bind_of_dev(m: &Mount) -> bool {
    let opts = options::parse(m.options().as_deref().unwrap_or_default());
    (opts.bind || m.typ().as_deref() == Some("bind")) && m.destination() == Path::new("/dev")
}

pub fn mount_one(rootfs: &Path, m: &Mount) -> Result<()> {
    let opts = options::parse(m.options().as_deref().unwrap_or_default());
    let dest = target(rootfs, m.destination());
    let typ = m
        .typ()
        .as_deref()
        .unwrap_or(if opts.bind { "bind" } else { "" });
    let data = opts.data.join(",");
    let what = format!("mount {} on {}", typ, m.destination().display());
    if opts.bind || typ == "bind" {
        let src = m
            .source()
            .as_ref()
            .ok_or_else(|| Error::Other(format!("{what}: a bind mount needs a source")))?;
        let meta = std::fs::metadata(src).map_err(|e| Error::io("bind source", src, e))?;
        create_target(&dest, meta.is_dir())?;
        let rec = opts.flags & MsFlags::MS_REC;
        mount(
            Some(src),
            &dest,
            None::<&str>,
            MsFlags::MS_BIND | rec,
            None::<&str>,
        )
        .map_err(sys_err(format!("{what} (bind {})", src.display())))?;
        let extra = opts.flags - (MsFlags::MS_BIND | MsFlags::MS_REC);
        if !extra.is_empty() {
            // A bind mount takes its flags only on a remount, and must keep those the
            // kernel has locked (in a user namespace) or the remount fails with EPERM.
            let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | extra | locked_flags(&dest);
            mount(None::<&str>, &dest, None::<&str>, flags, None::<&str>)
                .map_err(sys_err(format!("{what}: remount with {:?}", m.options())))?;
        }
    } else if typ == "cgroup" {
        create_target(&dest, true)?;
        cgroupfs::mount_cgroups(&dest, opts.flags)?;
    } else {
        create_target(&dest, true)?;
        let source = m.source().as_deref().unwrap_or(Path::new(typ));
        let data = (!data.is_empty()).then_some(data.as_str());
        mount(Some(source), &dest, Some(typ), opts.flags, data).map_err(sys_err(what.clone()))?;
    }
    for flag in opts.propagation {
        mount(None::<&str>, &dest, None::<&str>, flag, None::<&str>)
            .map_err(sys_err(format!("{what}: set propagation")))?;
    }
    Ok(())
}

/// Creates a missing mount point: a directory, or an empty file for a file bind.
fn create_target(dest: &Path, dir: bool) -> Result<()> {
    if dir {
        return std::fs::create_dir_all(dest)
            .map_err(|e| Error::io("cannot create mount point", dest, e));
    }
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| Error::io("cannot create mount point", parent, e))?;
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(dest)
    {
        Ok(_) => Ok(()),
        // An existing file (or a directory, which the bind will then refuse) is fine.
        Err(_) if dest.exists() => Ok(()),
        Err(e) => Err(Error::io("cannot create mount point", dest, e)),
    }
}

/// The flags of the mount at `path` that a bind remount must repeat.
pub fn locked_flags(path: impl AsRef<Path>) -> MsFlags {
    let Ok(st) = statvfs(path.as_ref()) else {
        return MsFlags::empty();
    };
    let map = [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ];
    map.iter()
        .filter(|(st_flag, _)| st.flags().contains(*st_flag))
        .fold(MsFlags::empty(), |acc, (_, ms)| acc | *ms)
}

/// `maskedPaths`: a directory gets an empty read-only tmpfs, a file /dev/null.
pub fn mask(path: &str) -> Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io("cannot mask", path, e)),
    };
    if meta.is_dir() {
        mount(
            Some("tmpfs"),
            path,
            Some("tmpfs"),
            MsFlags::MS_RDONLY,
            None::<&str>,
        )
        .map_err(sys_err(format!("mask {path}")))
    } else {
        mount(
            Some("/dev/null"),
            path,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(sys_err(format!("mask {path}")))
    }
}

/// `readonlyPaths`: bind the path onto itself, then remount it read-only.
pub fn make_readonly(path: &str) -> Result<()> {
    match mount(
        Some(path),
        path,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    ) {
        Ok(()) => {}
        Err(nix::Error::ENOENT) => return Ok(()),
        Err(e) => return Err(Error::sys(format!("bind {path} read-only"), e)),
    }
    let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | locked_flags(path);
    mount(None::<&str>, path, None::<&str>, flags, None::<&str>)
        .map_err(sys_err(format!("remount {path} read-only")))
}
