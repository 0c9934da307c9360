//! A `cgroup` mount of `config.json`: cgroup2 on a unified host; on a v1 or hybrid
//! host a tmpfs holding one mount per hierarchy the host has, as runc does.
//! Each v1 hierarchy shows the container's own cgroup directory (bound from the host),
//! what a fresh mount in its cgroup namespace would show. /proc/self/cgroup cannot say
//! which directory that is: read inside the container's cgroup namespace it says `/`.

use super::options::Parsed;
use super::{attr_err, kernel_err};
use crate::sys::mount::{self as m, FsContext, MountAttr};
use crate::sys::remount as r;
use crate::{Error, Result};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

const HOST_CGROUP: &str = "/sys/fs/cgroup";

/// Mounts the cgroup filesystem(s) on `target` and returns the attached mount.
pub fn mount_cgroups(
    target: BorrowedFd,
    opts: &Parsed,
    cgroup: Option<&corral_cgroups::Cgroup>,
) -> Result<OwnedFd> {
    let what = "mount cgroup";
    let fs = nix::sys::statfs::statfs(HOST_CGROUP)
        .map_err(|e| Error::sys(format!("{what}: statfs {HOST_CGROUP}"), e))?;
    let attr = opts.attr();
    if fs.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC {
        // A new filesystem has no submounts: the recursive attributes are its own.
        let attrs = (attr.attr_set & !opts.rec.attr_clr) | opts.rec.attr_set;
        let mnt = FsContext::open("cgroup2")
            .and_then(|fc| fc.mount(attrs & m::FSMOUNT_ATTRS))
            .map_err(|e| kernel_err(format!("{what}: cgroup2"), e))?;
        let extra = MountAttr {
            attr_set: attrs & !m::FSMOUNT_ATTRS,
            ..Default::default()
        };
        r::attach_with(mnt.as_fd(), target, &extra, &MountAttr::default())
            .map_err(|f| attr_err(what, f))?;
        return Ok(mnt);
    }
    // Writable until the binds are in; the flags come last, on the whole tree. The
    // tmpfs is attached first: the kernels we support cannot mount into a detached tree.
    let mnt = FsContext::open("tmpfs")
        .and_then(|fc| fc.set("mode", Some("755")).map(|_| fc))
        .and_then(|fc| fc.mount(0))
        .map_err(|e| kernel_err(format!("{what}: tmpfs"), e))?;
    m::attach(mnt.as_fd(), target).map_err(|e| kernel_err(format!("{what}: move_mount"), e))?;
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| Error::io("cannot read", "/proc/self/mountinfo", e))?;
    let own = std::fs::read_to_string("/proc/self/cgroup")
        .map_err(|e| Error::io("cannot read", "/proc/self/cgroup", e))?;
    let dir = mnt.as_raw_fd();
    for h in hierarchies(&mountinfo) {
        nix::sys::stat::mkdirat(
            Some(dir),
            h.name,
            nix::sys::stat::Mode::from_bits_truncate(0o755),
        )
        .map_err(|e| Error::sys(format!("{what}: mkdir {}", h.name), e))?;
        // The container's own cgroup of each hierarchy, never the host's whole tree: what
        // a fresh mount in a new cgroup namespace shows, and cheaper to make.
        let mount = Path::new(HOST_CGROUP).join(h.name);
        let host = match cgroup.and_then(|c| c.dirs.iter().find(|d| d.mount == mount)) {
            Some(d) => d.path.clone(),
            // No cgroup of its own (rootless): the caller's, as the host sees it.
            None => mount.join(own_path(&own, &h).unwrap_or("/").trim_start_matches('/')),
        };
        let tree = m::clone_tree(m::cwd(), &host, false)
            .map_err(|e| kernel_err(format!("{what}: bind {}", host.display()), e))?;
        m::attach_at(tree.as_fd(), mnt.as_fd(), Path::new(h.name))
            .map_err(|e| kernel_err(format!("{what}: bind {} on {}", host.display(), h.name), e))?;
    }
    // Links such as cpu -> cpu,cpuacct.
    if let Ok(entries) = std::fs::read_dir(HOST_CGROUP) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_symlink()) {
                if let Ok(to) = std::fs::read_link(e.path()) {
                    let _ = nix::unistd::symlinkat(&to, Some(dir), &*e.file_name());
                }
            }
        }
    }
    // The mount's flags on the tmpfs and every bind below it, in one call rather than a
    // remount per hierarchy (where the kernel has mount_setattr).
    r::set_attached(mnt.as_fd(), true, &attr)
        .map_err(|f| attr_err(&format!("{what}: set {:?} on the tree", opts.flags), f))?;
    r::set_attached(mnt.as_fd(), true, &opts.rec)
        .map_err(|f| attr_err(&format!("{what}: recursive attributes"), f))?;
    Ok(mnt)
}

#[derive(Debug, PartialEq)]
struct Hierarchy<'a> {
    name: &'a str,
    fstype: &'a str,
    data: String,
}

/// The cgroup hierarchies mounted directly under /sys/fs/cgroup, from mountinfo.
fn hierarchies(mountinfo: &str) -> Vec<Hierarchy<'_>> {
    let mut out = Vec::new();
    for line in mountinfo.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let Some(point) = left.split(' ').nth(4) else {
            continue;
        };
        let mut r = right.split(' ');
        let (Some(fstype), Some(_src), Some(opts)) = (r.next(), r.next(), r.next()) else {
            continue;
        };
        if fstype != "cgroup" && fstype != "cgroup2" {
            continue;
        }
        let Some(name) = point.strip_prefix("/sys/fs/cgroup/") else {
            continue;
        };
        if name.contains('/') || out.iter().any(|h: &Hierarchy| h.name == name) {
            continue;
        }
        let data: Vec<&str> = opts
            .split(',')
            .filter(|o| *o != "rw" && *o != "ro")
            .collect();
        out.push(Hierarchy {
            name,
            fstype,
            data: data.join(","),
        });
    }
    out
}

/// This process's path in hierarchy `h`, from /proc/self/cgroup (`ID:controllers:/path`).
fn own_path<'a>(proc_cgroup: &'a str, h: &Hierarchy) -> Option<&'a str> {
    proc_cgroup.lines().find_map(|line| {
        let mut f = line.splitn(3, ':');
        let (_, controllers, path) = (f.next()?, f.next()?, f.next()?);
        let matches = if h.fstype == "cgroup2" {
            controllers.is_empty()
        } else {
            !controllers.is_empty()
                && controllers
                    .split(',')
                    .all(|c| h.data.split(',').any(|o| o == c))
        };
        matches.then_some(path)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hybrid_mountinfo() {
        let mi = "\
35 26 0:30 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
36 35 0:31 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw,nsdelegate
38 35 0:33 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:9 - cgroup cgroup rw,cpu,cpuacct
39 35 0:34 / /sys/fs/cgroup/memory/process_api rw - cgroup cgroup rw,memory
40 35 0:34 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory";
        let h = hierarchies(mi);
        let names: Vec<_> = h
            .iter()
            .map(|h| (h.name, h.fstype, h.data.as_str()))
            .collect();
        let own = "12:name=systemd:/sys\n5:memory:/process_api/x\n3:cpu,cpuacct:/a\n0::/u\n";
        let paths: Vec<_> = h.iter().map(|h| own_path(own, h)).collect();
        assert_eq!(paths, vec![Some("/u"), Some("/a"), Some("/process_api/x")]);
        assert_eq!(
            names,
            vec![
                ("unified", "cgroup2", "nsdelegate"),
                ("cpu,cpuacct", "cgroup", "cpu,cpuacct"),
                ("memory", "cgroup", "memory"),
            ]
        );
    }
}
