//! What the host looked like before the suite, and what the engines left after it:
//! mounts, the cgroups engines make at the top of each hierarchy, the few system paths
//! engines write whatever they are told, and processes.

pub use crate::procs::reap_except;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Cgroup parents the engines make at the top of each hierarchy: podman's cgroupfs
/// manager (`libpod_parent`, with conmon in `libpod_parent/conmon`), ctr's namespace
/// (`default`) and Docker's cgroupfs driver (`docker`). Each container's cgroup lies below.
const ENGINE_CGROUPS: [&str; 3] = ["libpod_parent", "default", "docker"];
/// Cgroups the engines keep for themselves below ENGINE_CGROUPS (not containers').
const ENGINE_OWN_CGROUPS: [&str; 1] = ["libpod_parent/conmon"];

/// Paths engines create whatever their flags say: containerd 1.6's shim sockets
/// (`/run/containerd/s`), dockerd's plugin directory (`/run/docker/plugins`), podman's
/// network lock and run directories. `/var/lib/containers/cache` (podman's blob cache)
/// is accepted and left alone.
const SYSTEM_PATHS: [&str; 6] = [
    "/run/containerd",
    "/run/docker",
    "/run/libpod",
    "/run/containers",
    "/etc/containers/networks",
    "/etc/docker/key.json",
];

pub struct Snapshot {
    mounts: HashSet<String>,
    cgroups: HashSet<PathBuf>,
    paths: HashSet<PathBuf>,
}

impl Snapshot {
    pub fn take() -> Snapshot {
        Snapshot {
            mounts: mount_points().into_iter().collect(),
            cgroups: engine_cgroups().into_iter().collect(),
            paths: SYSTEM_PATHS
                .iter()
                .map(PathBuf::from)
                .filter(|p| p.symlink_metadata().is_ok())
                .collect(),
        }
    }

    /// Mount points that were not there before.
    pub fn new_mounts(&self) -> Vec<String> {
        mount_points()
            .into_iter()
            .filter(|m| !self.mounts.contains(m))
            .collect()
    }

    /// Container cgroups (not the engines' own) below the engine cgroup parents this
    /// run created: none once every container is removed.
    pub fn container_cgroups(&self) -> Vec<PathBuf> {
        let mut found = vec![];
        for top in self.new_engine_cgroups() {
            let mut below = vec![];
            walk(&top, &mut below);
            let base = top.parent().unwrap_or(&top).to_path_buf();
            found.extend(below.into_iter().skip(1).filter(|d| {
                let rel = d.strip_prefix(&base).unwrap_or(d);
                !ENGINE_OWN_CGROUPS.iter().any(|o| rel == Path::new(o))
            }));
        }
        found
    }

    fn new_engine_cgroups(&self) -> Vec<PathBuf> {
        engine_cgroups()
            .into_iter()
            .filter(|c| !self.cgroups.contains(c))
            .collect()
    }

    /// Removes the engine cgroup parents this run created (once empty); returns the
    /// container cgroups found below them (leaks) and what could not be removed.
    pub fn clean_cgroups(&self) -> Vec<String> {
        let mut leaks = summarize(&self.container_cgroups());
        for top in self.new_engine_cgroups() {
            let mut below = vec![];
            walk(&top, &mut below);
            for d in below.iter().rev() {
                if let Err(e) = std::fs::remove_dir(d) {
                    leaks.push(format!("cgroup {} not removed: {e}", d.display()));
                }
            }
        }
        leaks
    }

    /// Removes the system paths this run created (engines make them whatever their
    /// flags say); returns what was removed.
    pub fn clean_paths(&self) -> Vec<String> {
        let mut removed = vec![];
        for p in SYSTEM_PATHS.iter().map(Path::new) {
            if self.paths.contains(p) || p.symlink_metadata().is_err() {
                continue;
            }
            let prefix = p.to_string_lossy();
            if mount_points().iter().any(|m| m.starts_with(&*prefix)) {
                removed.push(format!(
                    "{} (left: something is mounted below)",
                    p.display()
                ));
                continue;
            }
            let r = if p.is_dir() {
                std::fs::remove_dir_all(p)
            } else {
                std::fs::remove_file(p)
            };
            removed.push(match r {
                Ok(()) => p.display().to_string(),
                Err(e) => format!("{} (not removed: {e})", p.display()),
            });
        }
        removed
    }
}

/// Cgroups as one line per path below the hierarchies (`cgroup libpod_parent/x (in 10
/// hierarchies)`): a container's cgroup is one directory in each.
pub fn summarize(cgroups: &[PathBuf]) -> Vec<String> {
    let mut count: std::collections::BTreeMap<PathBuf, usize> = Default::default();
    for c in cgroups {
        let rel = hierarchies()
            .iter()
            .find_map(|h| c.strip_prefix(h).ok())
            .unwrap_or(c)
            .to_path_buf();
        *count.entry(rel).or_default() += 1;
    }
    count
        .iter()
        .map(|(rel, n)| format!("cgroup {} (in {n} hierarchies)", rel.display()))
        .collect()
}

/// Removes empty cgroups, deepest first (a leak reported, so later flows do not see it).
pub fn remove_cgroups(cgroups: &[PathBuf]) {
    let mut v = cgroups.to_vec();
    v.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for d in v {
        let _ = std::fs::remove_dir(d);
    }
}

/// Mount points of this mount namespace.
pub fn mount_points() -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
        .collect()
}

/// Detaches `mount` (a mount point the suite found left behind).
pub fn detach(mount: &str) {
    if let Ok(c) = std::ffi::CString::new(mount) {
        // SAFETY: umount2 with a valid NUL-terminated path.
        unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
    }
}

/// The cgroup hierarchies of this host (v2: /sys/fs/cgroup itself).
pub fn hierarchies() -> Vec<PathBuf> {
    let root = Path::new("/sys/fs/cgroup");
    if root.join("cgroup.procs").exists() {
        return vec![root.to_path_buf()];
    }
    let mut seen = HashSet::new();
    std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("cgroup.procs").exists())
        .filter(|p| seen.insert(p.canonicalize().unwrap_or(p.clone())))
        .collect()
}

/// The engine cgroup parents that exist now, in every hierarchy.
pub fn engine_cgroups() -> Vec<PathBuf> {
    hierarchies()
        .iter()
        .flat_map(|h| ENGINE_CGROUPS.iter().map(move |n| h.join(n)))
        .filter(|p| p.is_dir())
        .collect()
}

/// `dir` and every cgroup below it, parents first.
fn walk(dir: &Path, into: &mut Vec<PathBuf>) {
    into.push(dir.to_path_buf());
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            walk(&e.path(), into);
        }
    }
}

/// The cgroup of `pid` in the hierarchy holding `controller` (v1), as a host path.
pub fn cgroup_dir(pid: i32, controller: &str) -> Option<PathBuf> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    let root = Path::new("/sys/fs/cgroup");
    text.lines().find_map(|l| {
        let mut f = l.splitn(3, ':');
        let (_, ctrls, path) = (f.next()?, f.next()?, f.next()?);
        let rel = path.trim_start_matches('/');
        if ctrls.is_empty() && root.join("cgroup.procs").exists() {
            return Some(root.join(rel));
        }
        ctrls
            .split(',')
            .any(|c| c == controller)
            .then(|| root.join(controller).join(rel))
    })
}

/// Whether `pid` has exited and waits to be reaped.
/// `pid`'s command line, for messages.
pub fn cmdline(pid: i32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            String::from_utf8_lossy(&b)
                .replace('\0', " ")
                .trim()
                .to_string()
        })
        .unwrap_or_default()
}

/// The init `pid` of a detached container comes to run `cmdline`, in a pid namespace
/// other than ours.
pub fn runs_apart(pid: i32, cmdline: &str) -> crate::CaseResult {
    crate::wait_until(
        &format!("{cmdline:?} to run"),
        Duration::from_secs(10),
        || Ok(self::cmdline(pid) == cmdline),
    )?;
    let me = std::process::id() as i32;
    crate::ensure!(
        ns_link(pid, "pid") != ns_link(me, "pid"),
        "the container shares the host's pid namespace"
    );
    Ok(())
}

/// The inode link of namespace `ns` of `pid` (`net:[4026…]`).
pub fn ns_link(pid: i32, ns: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{ns}"))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The value of `key` (e.g. `Uid:`) in /proc/PID/status.
pub fn status_field(pid: i32, key: &str) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix(key).map(|v| v.trim().to_string()))
}
