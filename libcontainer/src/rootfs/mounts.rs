//! One entry of `mounts`, made by file descriptor: the mount is built detached (a new
//! filesystem with fsopen/fsmount, a bind with open_tree), given its attributes while
//! nothing can see it, and attached with move_mount onto a target opened inside the
//! rootfs (see `paths`).

use super::options::{self, Parsed};
use super::paths::{InRoot, Kind};
use super::{attr_err, cgroupfs, copyup, kernel_err};
use crate::sys::mount::{self as m, FsContext, MountAttr};
use crate::sys::remount as r;
use crate::{Error, Result};
use nix::errno::Errno;
use nix::mount::MsFlags;
use oci_spec::runtime::Mount;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

/// Files inside /proc that may be covered (lxcfs emulates them), as runc allows.
const PROC_ALLOWED: &[&str] = &[
    "cpuinfo",
    "diskstats",
    "meminfo",
    "stat",
    "swaps",
    "uptime",
    "loadavg",
    "slabinfo",
    "net/dev",
    "sys/kernel/ns_last_pid",
];

/// Filesystems that take no SELinux `context=` (runc labels only the others).
const NO_LABEL: &[&str] = &["proc", "sysfs", "mqueue", "cgroup", "cgroup2"];

pub fn is_bind(m: &Mount) -> bool {
    m.typ().as_deref() == Some("bind")
        || options::parse(m.options().as_deref().unwrap_or_default()).bind
}

/// Whether mount `m` is the same in any network namespace: a bind, or a filesystem
/// that does not look at the mounter's (sysfs shows that namespace's devices; nfs,
/// cifs and the like reach their servers through it; an unknown type may too).
pub fn net_free(m: &Mount) -> bool {
    const FREE: &[&str] = &["proc", "tmpfs", "devpts", "mqueue", "cgroup", "cgroup2"];
    m.typ().as_deref().is_some_and(|t| FREE.contains(&t)) || is_bind(m)
}

pub fn is_bind_of_dev(m: &Mount) -> bool {
    // The cheap test first: parsing options allocates.
    m.destination() == Path::new("/dev") && is_bind(m)
}

/// What one mount needs besides its entry.
pub struct Env<'a> {
    pub root: &'a InRoot,
    /// The idmapped tree the parent prepared for this entry, if it is idmapped.
    pub idmapped: Option<BorrowedFd<'a>>,
    /// `linux.mountLabel`, on a host with SELinux.
    pub label: Option<&'a str>,
    /// The container's cgroup (for a `cgroup` mount).
    pub cgroup: Option<&'a corral_cgroups::Cgroup>,
}

/// Mount `i` in words, for `--debug`: type, source, destination and its options.
pub fn describe(i: usize, m: &Mount) -> String {
    let typ = m.typ().as_deref().filter(|t| !t.is_empty()).unwrap_or("-");
    let src = m
        .source()
        .as_deref()
        .map_or("-".into(), |s| s.display().to_string());
    let opts = m.options().as_deref().unwrap_or_default().join(",");
    let opts = if opts.is_empty() { "-" } else { opts.as_str() };
    format!(
        "mounts[{i}]: {typ} {src} on {} ({opts})",
        m.destination().display()
    )
}

pub fn mount_one(env: &Env, m: &Mount) -> Result<()> {
    let opts = options::parse(m.options().as_deref().unwrap_or_default());
    let typ = m.typ().as_deref().filter(|t| !t.is_empty());
    let typ = typ.unwrap_or(if opts.bind { "bind" } else { "none" });
    let what = format!("mount {typ} on {}", m.destination().display());
    let fail = |step: &str| {
        let what = what.clone();
        let step = step.to_string();
        move |e: Errno| kernel_err(format!("{what}: {step}"), e)
    };
    if opts.flags.contains(MsFlags::MS_REMOUNT) {
        return remount(env.root, m.destination(), &opts).map_err(fail("remount"));
    }
    let tree = if opts.bind || typ == "bind" {
        bind(env, m, &opts, &what)?
    } else {
        let (target, at) = env.root.target_at(m.destination(), Kind::Dir)?;
        check_proc(
            env.root,
            m.destination(),
            (target.as_fd(), at),
            typ,
            None,
            &what,
        )?;
        if typ == "cgroup" {
            // Attached already, with its attributes.
            cgroupfs::mount_cgroups(target.as_fd(), &opts, env.cgroup)?
        } else {
            let (tree, extra) = new_fs(env, m, typ, &opts, target.as_fd(), &what)?;
            r::attach_with(tree.as_fd(), target.as_fd(), &extra, &MountAttr::default())
                .map_err(|f| attr_err(&what, f))?;
            tree
        }
    };
    for flag in &opts.propagation {
        r::set_propagation(tree.as_fd(), *flag).map_err(|f| attr_err(&what, f))?;
    }
    Ok(())
}

/// A bind: a clone of the source tree (the whole tree with `rbind`), its attributes
/// set on the clone, then attached. The clone is read-only before anyone can see it,
/// where mount(2) needs a bind and then a remount.
fn bind(env: &Env, m: &Mount, opts: &Parsed, what: &str) -> Result<OwnedFd> {
    let src = m
        .source()
        .as_deref()
        .ok_or_else(|| Error::Other(format!("{what}: a bind mount needs a source")))?;
    let tree = match env.idmapped {
        Some(fd) => fd
            .try_clone_to_owned()
            .map_err(|e| Error::io("cannot dup the idmapped tree of", src, e))?,
        None => m::clone_tree(m::cwd(), src, opts.recursive_bind())
            .map_err(|e| kernel_err(format!("{what}: source {}", src.display()), e))?,
    };
    let st = nix::sys::stat::fstat(tree.as_raw_fd())
        .map_err(|e| Error::sys(format!("{what}: stat source {}", src.display()), e))?;
    let kind = if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
        Kind::Dir
    } else {
        Kind::File
    };
    let (target, at) = env.root.target_at(m.destination(), kind)?;
    check_proc(
        env.root,
        m.destination(),
        (target.as_fd(), at),
        "bind",
        Some(src),
        what,
    )?;
    r::attach_with(tree.as_fd(), target.as_fd(), &opts.attr(), &opts.rec)
        .map_err(|f| attr_err(what, f))?;
    Ok(tree)
}

/// A new filesystem: each option a fsconfig(2) call, so a bad one is named with what the
/// filesystem said about it. It has no submounts, so the recursive attributes are its
/// own, given by fsmount(2) with the plain ones; what fsmount of Linux 5.2 does not take
/// (nosymfollow) is returned, to be set when it is attached.
fn new_fs(
    env: &Env,
    m: &Mount,
    typ: &str,
    opts: &Parsed,
    target: BorrowedFd,
    what: &str,
) -> Result<(OwnedFd, MountAttr)> {
    let fc = FsContext::open(typ).map_err(|e| {
        let why = if e == Errno::ENODEV {
            ": the kernel has no such filesystem type (see /proc/filesystems)"
        } else {
            ""
        };
        kernel_err(format!("{what}: fsopen{why}"), e)
    })?;
    let set = |key: &str, value: Option<&str>| {
        fc.set(key, value).map_err(|e| {
            let option = value.map_or(key.to_string(), |v| format!("{key}={v}"));
            let log = fc.log();
            Error::sys(format!("{what}: option {option:?}: {log}"), e)
        })
    };
    if let Some(src) = m.source() {
        set("source", Some(&src.to_string_lossy()))?;
    }
    for d in &opts.data {
        match d.split_once('=') {
            Some((k, v)) => set(k, Some(v))?,
            None => set(d, None)?,
        }
    }
    for flag in opts.sb_flags() {
        set(flag, None)?;
    }
    if let Some(label) = env.label.filter(|_| !NO_LABEL.contains(&typ)) {
        set("context", Some(label))?;
    }
    let attrs = (opts.attr().attr_set & !opts.rec.attr_clr) | opts.rec.attr_set;
    let extra = MountAttr {
        attr_set: attrs & !m::FSMOUNT_ATTRS,
        ..Default::default()
    };
    let mnt = fc.mount(attrs & m::FSMOUNT_ATTRS).map_err(|e| {
        let log = fc.log();
        Error::sys(format!("{what}: {log}"), e)
    })?;
    if opts.tmpcopyup {
        copyup::copy_tree(target, mnt.as_fd())
            .map_err(|e| Error::Other(format!("{what}: tmpcopyup: {e}")))?;
    }
    Ok((mnt, extra))
}

/// `remount`: changes the flags of what is mounted at the destination already.
fn remount(root: &InRoot, dest: &Path, opts: &Parsed) -> std::result::Result<(), Errno> {
    let target = root.resolve(dest)?;
    // mount(2) follows the fd's magic link to the very mount that was resolved.
    let path = format!("/proc/self/fd/{}", target.as_raw_fd());
    let data = opts.data.join(",");
    let data = (!data.is_empty()).then_some(data.as_str());
    nix::mount::mount(None::<&str>, path.as_str(), None::<&str>, opts.flags, data)
}

/// runc's rule: only a procfs goes on /proc, and inside /proc only the files lxcfs
/// emulates may be covered, so that nothing can hide procfs from maskedPaths and
/// readonlyPaths. Checked where the mount really lands, after symlinks; and a
/// destination at or below /proc must land there: a rootfs whose /proc is a link to
/// another directory would take the procfs and everything mounted "below /proc" there,
/// out of reach of this rule (CVE-2023-28642).
/// `target` is the fd the destination resolved to, with its path in the container when
/// `target_at` knows it already.
fn check_proc(
    root: &InRoot,
    dest: &Path,
    target: (BorrowedFd, Option<PathBuf>),
    typ: &str,
    src: Option<&Path>,
    what: &str,
) -> Result<()> {
    let at = match target {
        (_, Some(at)) => at,
        (fd, None) => root.path_of(fd)?,
    };
    let Ok(rel) = at.strip_prefix("/proc") else {
        if names_proc(dest) {
            return Err(Error::Other(format!(
                "{what}: /proc in the rootfs is a symbolic link (the destination resolves \
                 to {}): /proc must be a directory",
                at.display()
            )));
        }
        return Ok(());
    };
    if rel.as_os_str().is_empty() {
        let is_proc = typ == "proc" || src.is_some_and(is_procfs);
        if !is_proc {
            return Err(Error::Other(format!(
                "{what}: only a proc filesystem may be mounted on /proc"
            )));
        }
    } else if !PROC_ALLOWED.iter().any(|p| rel == Path::new(p)) {
        return Err(Error::Other(format!(
            "{what}: {} is inside /proc, where only {} may be covered",
            at.display(),
            PROC_ALLOWED.join(", ")
        )));
    }
    Ok(())
}

/// Whether `dest`, as written (each `..` removing the name before it), is /proc or
/// below it.
fn names_proc(dest: &Path) -> bool {
    let mut names: Vec<&std::ffi::OsStr> = vec![];
    for c in dest.components() {
        match c {
            Component::Normal(n) => names.push(n),
            Component::ParentDir => {
                names.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    names.first().is_some_and(|n| *n == "proc")
}

fn is_procfs(path: &Path) -> bool {
    nix::sys::statfs::statfs(path)
        .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::PROC_SUPER_MAGIC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_naming_proc() {
        for d in ["/proc", "proc/sys", "/x/../proc/cpuinfo", "//proc/"] {
            assert!(names_proc(Path::new(d)), "{d}");
        }
        for d in ["/", "/procfs", "/proc/../etc", "/sys/proc", "../x"] {
            assert!(!names_proc(Path::new(d)), "{d}");
        }
    }
}
