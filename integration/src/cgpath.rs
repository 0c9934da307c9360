//! The cases' cgroupsPath in the form of the harness's cgroup driver, chosen here and
//! nowhere else: a relative path `corral-test-PID-WHAT` with the cgroupfs driver, and
//! `system.slice:corral-test:PID-WHAT` with `--systemd-cgroup` (runc's
//! `slice:prefix:name`: the transient scope `corral-test-PID-WHAT.scope` in
//! `system.slice`). Also where a systemd path lands (the scope's cgroup), and, with
//! `--systemd-cgroup`, what a case must not leave: a transient unit loaded, or a scope
//! or slice cgroup (a slice systemd made for a scope has one while it is active), that
//! was not there before it.

use crate::ctx::systemd_cgroup;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

const ROOT: &str = "/sys/fs/cgroup";

/// A unique cgroupsPath for `what`, in the harness driver's form.
pub fn for_case(what: &str) -> String {
    let pid = std::process::id();
    match systemd_cgroup() {
        true => format!("system.slice:corral-test:{pid}-{what}"),
        false => format!("corral-test-{pid}-{what}"),
    }
}

/// The scope's cgroup of a systemd cgroupsPath `slice:prefix:name` (an empty slice is
/// `system.slice`; `a-b.slice` is `a.slice/a-b.slice` in the hierarchy, as systemd
/// nests slices); `None` for any other path, or without `--systemd-cgroup`.
pub fn scope_dir(path: &str) -> Option<PathBuf> {
    systemd_cgroup().then(|| scope_of(path)).flatten()
}

fn scope_of(path: &str) -> Option<PathBuf> {
    let [slice, prefix, name] = path.split(':').collect::<Vec<_>>()[..] else {
        return None;
    };
    let slice = if slice.is_empty() {
        "system.slice"
    } else {
        slice
    };
    let mut dir = PathBuf::from(ROOT);
    if let Some(stem) = slice.strip_suffix(".slice").filter(|s| *s != "-") {
        let parts: Vec<&str> = stem.split('-').collect();
        for i in 1..=parts.len() {
            dir.push(format!("{}.slice", parts[..i].join("-")));
        }
    }
    let unit = match prefix {
        "" => format!("{name}.scope"),
        p => format!("{p}-{name}.scope"),
    };
    Some(dir.join(unit))
}

/// What systemd and the cgroup tree hold before a case, to compare with after it.
pub struct Snapshot {
    units: BTreeSet<String>,
    dirs: BTreeSet<PathBuf>,
}

/// The transient units systemd has loaded (any state): each has its unit file in
/// /run/systemd/transient until systemd unloads it. A directory listing, not a
/// `systemctl` call per case, which takes long in the emulated guest.
fn units() -> BTreeSet<String> {
    std::fs::read_dir("/run/systemd/transient")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// The scope and slice cgroups at the top of the hierarchy and in `system.slice`.
fn dirs() -> BTreeSet<PathBuf> {
    let root = Path::new(ROOT);
    [root.to_path_buf(), root.join("system.slice")]
        .iter()
        .flat_map(|d| std::fs::read_dir(d).into_iter().flatten().flatten())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "scope" || x == "slice"))
        .collect()
}

impl Snapshot {
    /// Before a case: `None` without `--systemd-cgroup` (nothing to compare).
    pub fn take() -> Option<Snapshot> {
        systemd_cgroup().then(|| Snapshot {
            units: units(),
            dirs: dirs(),
        })
    }

    /// After a case's cleanup: the units and cgroups that are new, waiting for systemd
    /// to unload what was stopped (it does so from its event loop, just after the stop
    /// job) for at most `patience`. What is still there is stopped and forgotten, so
    /// that one case's leak does not fail the next ones, and returned.
    pub fn left(&self, patience: std::time::Duration) -> Vec<String> {
        let deadline = std::time::Instant::now() + patience;
        loop {
            let new_units: Vec<String> = units().difference(&self.units).cloned().collect();
            let new_dirs: Vec<PathBuf> = dirs().difference(&self.dirs).cloned().collect();
            if new_units.is_empty() && new_dirs.is_empty() {
                return vec![];
            }
            if std::time::Instant::now() > deadline {
                for u in &new_units {
                    let _ = Command::new("systemctl").args(["stop", u]).output();
                    let _ = Command::new("systemctl").args(["reset-failed", u]).output();
                }
                for d in &new_dirs {
                    let _ = std::fs::remove_dir(d);
                }
                let mut left: Vec<String> = new_units.iter().map(|u| format!("unit {u}")).collect();
                left.extend(new_dirs.iter().map(|d| format!("cgroup {}", d.display())));
                return left;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::scope_of;
    use std::path::Path;

    #[test]
    fn scopes() {
        let at = |p: &str| scope_of(p).map(|d| d.display().to_string());
        let want = |d: &str| Some(Path::new(super::ROOT).join(d).display().to_string());
        assert_eq!(
            at("system.slice:corral-test:1-x"),
            want("system.slice/corral-test-1-x.scope")
        );
        assert_eq!(at(":runc:c1"), want("system.slice/runc-c1.scope"));
        assert_eq!(at("a-b.slice::n"), want("a.slice/a-b.slice/n.scope"));
        assert_eq!(at("-.slice:p:n"), want("p-n.scope"));
        assert_eq!(at("corral-test-1-x"), None);
        assert_eq!(at("/a/b"), None);
    }
}
