//! The host's cgroup hierarchies (from /proc/self/mountinfo) and the caller's place in
//! each (from /proc/self/cgroup), and where `linux.cgroupsPath` puts the container.

use crate::{Cgroup, Dir, Error, Result, Version};
use std::path::{Component, Path, PathBuf};

pub(crate) const ROOT: &str = "/sys/fs/cgroup";

/// One mounted hierarchy.
#[derive(Debug, PartialEq)]
struct Mount {
    /// The cgroup path the mount shows at its mount point (`/` unless a bind of a subtree).
    root: String,
    point: String,
    /// Empty for cgroup2.
    controllers: Vec<String>,
}

/// Options of a v1 mount that are not controllers.
const NOT_CONTROLLERS: &[&str] = &["rw", "ro", "clone_children", "noprefix", "xattr"];

fn mounts(mountinfo: &str) -> Vec<Mount> {
    let mut out: Vec<Mount> = Vec::new();
    for line in mountinfo.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let f: Vec<&str> = left.split(' ').collect();
        let r: Vec<&str> = right.split(' ').collect();
        if f.len() < 5 || r.len() < 3 || (r[0] != "cgroup" && r[0] != "cgroup2") {
            continue;
        }
        let controllers: Vec<String> = if r[0] == "cgroup2" {
            vec![]
        } else {
            r[2].split(',')
                .filter(|o| !NOT_CONTROLLERS.contains(o) && !o.starts_with("release_agent="))
                .map(str::to_string)
                .collect()
        };
        let m = Mount {
            root: f[3].to_string(),
            point: f[4].to_string(),
            controllers,
        };
        // A hierarchy mounted twice (or a subtree of it bound elsewhere): keep the mount
        // right under /sys/fs/cgroup, or the first one.
        let v2 = r[0] == "cgroup2";
        let same = |p: &Mount| p.controllers == m.controllers && p.controllers.is_empty() == v2;
        if let Some(prev) = out.iter_mut().find(|p| same(p)) {
            if !is_top(&prev.point) && is_top(&m.point) {
                *prev = m;
            }
            continue;
        }
        out.push(m);
    }
    out
}

fn is_top(point: &str) -> bool {
    point == ROOT
        || point
            .strip_prefix(ROOT)
            .and_then(|r| r.strip_prefix('/'))
            .is_some_and(|r| !r.contains('/'))
}

/// V2 when /sys/fs/cgroup itself is cgroup2, else V1 (legacy or hybrid).
pub fn version(mountinfo: &str) -> Version {
    if mounts(mountinfo)
        .iter()
        .any(|m| m.point == ROOT && m.controllers.is_empty())
    {
        Version::V2
    } else {
        Version::V1
    }
}

/// The caller's cgroup in the hierarchy with `controllers` (empty: cgroup2).
fn own_path<'a>(proc_cgroup: &'a str, controllers: &[String]) -> Option<&'a str> {
    proc_cgroup.lines().find_map(|line| {
        let mut f = line.splitn(3, ':');
        let (_, list, path) = (f.next()?, f.next()?, f.next()?);
        let same = if controllers.is_empty() {
            list.is_empty()
        } else {
            let mut a: Vec<&str> = list.split(',').collect();
            let mut b: Vec<&str> = controllers.iter().map(String::as_str).collect();
            a.sort_unstable();
            b.sort_unstable();
            a == b
        };
        same.then_some(path)
    })
}

/// The caller's cgroup in hierarchy `m`, relative to its mount point.
fn own_below<'a>(m: &Mount, proc_cgroup: &'a str) -> &'a Path {
    let own = own_path(proc_cgroup, &m.controllers).unwrap_or("/");
    // The mount shows the hierarchy from m.root down.
    let below = Path::new(own.strip_prefix(m.root.as_str()).unwrap_or(own));
    below.strip_prefix("/").unwrap_or(below)
}

/// The caller's cgroup in the hierarchy mounted at `point`, as a directory.
pub(crate) fn own_dir(mountinfo: &str, proc_cgroup: &str, point: &Path) -> Option<PathBuf> {
    let m = mounts(mountinfo)
        .into_iter()
        .find(|m| Path::new(&m.point) == point)?;
    Some(Path::new(&m.point).join(own_below(&m, proc_cgroup)))
}

/// `cgroupsPath` as a relative path without `..`, and whether it was absolute.
fn clean(p: &str) -> Result<(PathBuf, bool)> {
    let invalid = |msg: &str| Error::Invalid {
        field: "linux.cgroupsPath".into(),
        msg: format!("{p:?}: {msg}"),
    };
    if p.contains(':') && !p.starts_with('/') {
        return Err(Error::Invalid {
            field: "linux.cgroupsPath".into(),
            msg: format!(
                "{p:?} looks like systemd's slice:prefix:name, which needs --systemd-cgroup"
            ),
        });
    }
    let mut out = PathBuf::new();
    for c in Path::new(p).components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::RootDir | Component::CurDir => {}
            _ => return Err(invalid("must not contain \"..\"")),
        }
    }
    if out.as_os_str().is_empty() {
        return Err(invalid("names no cgroup below the root"));
    }
    Ok((out, p.starts_with('/')))
}

/// The container's cgroup for `cgroups_path` (see [`Cgroup::resolve`]).
pub fn resolve(
    mountinfo: &str,
    proc_cgroup: &str,
    cgroups_path: Option<&str>,
    id: &str,
) -> Result<Cgroup> {
    let (rel, absolute) = match cgroups_path.filter(|p| !p.is_empty()) {
        Some(p) => clean(p)?,
        None => (PathBuf::from(format!("corral-{id}")), false),
    };
    let version = version(mountinfo);
    let all = mounts(mountinfo);
    let chosen: Vec<&Mount> = match version {
        Version::V2 => all.iter().filter(|m| m.point == ROOT).collect(),
        // Every v1 hierarchy under /sys/fs/cgroup, and a hybrid host's cgroup2 (runc
        // joins it too: tools find containers there).
        Version::V1 => all.iter().filter(|m| is_top(&m.point)).collect(),
    };
    if chosen.is_empty() {
        return Err(Error::Other(format!(
            "no cgroup hierarchy is mounted under {ROOT}"
        )));
    }
    let mut dirs = Vec::new();
    for m in chosen {
        let mut path = PathBuf::from(&m.point);
        if !absolute {
            let mut below = own_below(m, proc_cgroup);
            // On v2 a cgroup with processes of its own cannot give its children
            // controllers (the no-internal-processes rule), and the caller's cgroup (a
            // service, a login session's scope) holds at least the caller: the container
            // goes beside it, below its parent, as runc places it. A parent has no
            // processes of its own unless it has no controllers enabled for its children
            // either (and the root cgroup is exempt).
            if version == Version::V2 {
                below = below.parent().unwrap_or(below);
            }
            path.push(below);
        }
        path.push(&rel);
        dirs.push(Dir {
            controllers: m.controllers.clone(),
            mount: PathBuf::from(&m.point),
            path,
            made: vec![],
        });
    }
    Ok(Cgroup {
        version,
        driver: crate::Driver::cgroupfs(version),
        bus: None,
        dirs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
90 31 0:32 /process_api /mnt/x rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw";
    const OWN: &str = "9:name=systemd:/\n4:memory:/process_api/abc\n1:cpu:/\n0::/\n";

    fn paths(c: &Cgroup) -> Vec<&str> {
        c.dirs.iter().map(|d| d.path.to_str().unwrap()).collect()
    }

    #[test]
    fn hybrid_relative_default_and_absolute() {
        assert_eq!(version(HYBRID), Version::V1);
        let c = resolve(HYBRID, OWN, None, "x").unwrap();
        assert_eq!(
            paths(&c),
            [
                "/sys/fs/cgroup/cpu/corral-x",
                "/sys/fs/cgroup/memory/process_api/abc/corral-x",
                "/sys/fs/cgroup/systemd/corral-x",
                "/sys/fs/cgroup/unified/corral-x",
            ]
        );
        assert_eq!(c.dirs[2].controllers, ["name=systemd"]);
        let c = resolve(HYBRID, OWN, Some("/a/b"), "x").unwrap();
        assert_eq!(paths(&c)[1], "/sys/fs/cgroup/memory/a/b");
        assert_eq!(
            c.dir_of("memory").unwrap(),
            Path::new("/sys/fs/cgroup/memory/a/b")
        );
    }

    #[test]
    fn unified_host() {
        let mi = "30 23 0:27 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate";
        assert_eq!(version(mi), Version::V2);
        // Relative and default: beside the caller's cgroup (a login session's scope
        // here), below its parent.
        let own = "0::/user.slice/user-0.slice/session-1.scope\n";
        let c = resolve(mi, own, Some("k/c1"), "x").unwrap();
        assert_eq!(paths(&c), ["/sys/fs/cgroup/user.slice/user-0.slice/k/c1"]);
        let c = resolve(mi, own, None, "x").unwrap();
        assert_eq!(
            paths(&c),
            ["/sys/fs/cgroup/user.slice/user-0.slice/corral-x"]
        );
        let c = resolve(mi, own, Some("/k/c1"), "x").unwrap();
        assert_eq!(paths(&c), ["/sys/fs/cgroup/k/c1"]);
        // A caller in the root cgroup (a guest's PID 1 shell): below the root.
        let c = resolve(mi, "0::/\n", None, "x").unwrap();
        assert_eq!(paths(&c), ["/sys/fs/cgroup/corral-x"]);
        // Inside a cgroup namespace the mount's root is the namespace's root.
        let mi = "30 23 0:27 /ns /sys/fs/cgroup rw - cgroup2 cgroup2 rw";
        let c = resolve(mi, "0::/ns/a/me\n", None, "x").unwrap();
        assert_eq!(paths(&c), ["/sys/fs/cgroup/a/corral-x"]);
        let c = resolve(mi, "0::/ns/me\n", None, "x").unwrap();
        assert_eq!(paths(&c), ["/sys/fs/cgroup/corral-x"]);
    }

    #[test]
    fn bad_paths_are_refused() {
        for p in ["/a/../../etc", "/", "system.slice:corral:x"] {
            let e = resolve(HYBRID, OWN, Some(p), "x").unwrap_err();
            assert!(e.to_string().starts_with("linux.cgroupsPath"), "{e}");
        }
    }
}
