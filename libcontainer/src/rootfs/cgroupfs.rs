//! A `cgroup` mount of `config.json`: cgroup2 on a unified host; on a v1 or hybrid
//! host a tmpfs holding one mount per hierarchy the host has, as runc does.
//! Inside a new cgroup namespace each hierarchy shows the container's own cgroup as root.

use super::sys_err;
use crate::{sys, Error, Result};
use nix::mount::{mount, MsFlags};
use std::path::Path;

const HOST_CGROUP: &str = "/sys/fs/cgroup";

pub fn mount_cgroups(dest: &Path, flags: MsFlags) -> Result<()> {
    let fs =
        nix::sys::statfs::statfs(HOST_CGROUP).map_err(sys_err(format!("statfs {HOST_CGROUP}")))?;
    if fs.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC {
        return mount(Some("cgroup"), dest, Some("cgroup2"), flags, None::<&str>)
            .map_err(sys_err(format!("mount cgroup2 on {}", dest.display())));
    }
    // Writable until the binds are in; the flags come last, on the whole tree.
    mount(
        Some("tmpfs"),
        dest,
        Some("tmpfs"),
        MsFlags::empty(),
        Some("mode=755"),
    )
    .map_err(sys_err(format!(
        "mount tmpfs for cgroups on {}",
        dest.display()
    )))?;
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| Error::io("cannot read", "/proc/self/mountinfo", e))?;
    let own = std::fs::read_to_string("/proc/self/cgroup")
        .map_err(|e| Error::io("cannot read", "/proc/self/cgroup", e))?;
    for h in hierarchies(&mountinfo) {
        let target = dest.join(h.name);
        std::fs::create_dir_all(&target).map_err(|e| Error::io("cannot create", &target, e))?;
        // The container's own cgroup of each hierarchy, never the host's whole tree: what
        // a fresh mount in a new cgroup namespace shows, and cheaper to make.
        let rel = own_path(&own, &h).unwrap_or("/");
        let host = Path::new(HOST_CGROUP)
            .join(h.name)
            .join(rel.trim_start_matches('/'));
        mount(
            Some(&host),
            &target,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(sys_err(format!(
            "bind {} on {}",
            host.display(),
            target.display()
        )))?;
    }
    // Links such as cpu -> cpu,cpuacct.
    if let Ok(entries) = std::fs::read_dir(HOST_CGROUP) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_symlink()) {
                if let Ok(to) = std::fs::read_link(e.path()) {
                    let _ = std::os::unix::fs::symlink(to, dest.join(e.file_name()));
                }
            }
        }
    }
    // The mount's flags on the tmpfs and every bind below it, in one call rather than a
    // remount per hierarchy.
    let (set, clear) = mount_attrs(flags);
    sys::mount_setattr(dest, true, set, clear).map_err(|e| {
        let why = if e == nix::Error::ENOSYS {
            " (this kernel has no mount_setattr, Linux 5.12)"
        } else {
            ""
        };
        Error::sys(
            format!("set {flags:?} on {} and below{why}", dest.display()),
            e,
        )
    })
}

/// mount(2) flags as mount_setattr(2) attributes to set and to clear.
fn mount_attrs(flags: MsFlags) -> (u64, u64) {
    let mut set = 0;
    for (ms, attr) in [
        (MsFlags::MS_RDONLY, sys::MOUNT_ATTR_RDONLY),
        (MsFlags::MS_NOSUID, sys::MOUNT_ATTR_NOSUID),
        (MsFlags::MS_NODEV, sys::MOUNT_ATTR_NODEV),
        (MsFlags::MS_NOEXEC, sys::MOUNT_ATTR_NOEXEC),
        (MsFlags::MS_NODIRATIME, sys::MOUNT_ATTR_NODIRATIME),
    ] {
        if flags.contains(ms) {
            set |= attr;
        }
    }
    // An atime mode is set by clearing the whole mask and setting one mode (relatime = 0).
    let atime = if flags.contains(MsFlags::MS_NOATIME) {
        Some(sys::MOUNT_ATTR_NOATIME)
    } else if flags.contains(MsFlags::MS_STRICTATIME) {
        Some(sys::MOUNT_ATTR_STRICTATIME)
    } else if flags.contains(MsFlags::MS_RELATIME) {
        Some(0)
    } else {
        None
    };
    match atime {
        Some(mode) => (set | mode, sys::MOUNT_ATTR_ATIME),
        None => (set, 0),
    }
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
    fn flags_to_mount_attrs() {
        let ro = MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
        let f = ro | MsFlags::MS_NOEXEC | MsFlags::MS_RELATIME;
        assert_eq!(mount_attrs(f), (0xf, sys::MOUNT_ATTR_ATIME));
        let noatime = (sys::MOUNT_ATTR_NOATIME, sys::MOUNT_ATTR_ATIME);
        assert_eq!(mount_attrs(MsFlags::MS_NOATIME), noatime);
        assert_eq!(mount_attrs(MsFlags::empty()), (0, 0));
    }

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
