//! Rootless mode without systemd: a caller that is not root gets a cgroup of its own
//! only inside a subtree delegated to it (the directories, and on v2 `cgroup.procs` of
//! the cgroup its init moves through, writable by it: what systemd's `Delegate=` does for
//! `user@UID.service`, or an administrator's chown), and limits only from the
//! controllers there. Elsewhere the container goes on without a cgroup of its own, and
//! `create` warns naming what it skipped, as runc and crun go on.

use crate::{layout, Cgroup, Version};
use oci_spec::runtime::LinuxResources;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Why the caller cannot make `cg` and move its init into it, naming the cgroup it may
/// not write; `None` when it can.
pub fn undelegated(cg: &Cgroup) -> Option<String> {
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    for d in &cg.dirs {
        // The directory is made below its nearest existing ancestor; one that exists is
        // joined through its cgroup.procs.
        let Some(top) = d.path.ancestors().find(|a| a.exists()) else {
            return Some(format!("{} does not exist", d.mount.display()));
        };
        let need = if top == d.path {
            top.join("cgroup.procs")
        } else {
            top.to_path_buf()
        };
        if !writable(&need) {
            return Some(format!(
                "{} is not writable by uid {}",
                need.display(),
                euid()
            ));
        }
        // v2 moves a process only for a writer of cgroup.procs in the common ancestor
        // of where it is and where it goes (the init is cloned into the cgroup from
        // here).
        if cg.version == Version::V2 {
            let Some(from) = layout::own_dir(&mountinfo, &own, &d.mount) else {
                return Some(format!(
                    "corral's own cgroup in {} is unknown",
                    d.mount.display()
                ));
            };
            let common = common_ancestor(&from, &d.path);
            let procs = common.join("cgroup.procs");
            if !writable(&procs) {
                return Some(format!(
                    "{} (of {}, the cgroup the init moves through from corral's own {}) is \
                     not writable by uid {}",
                    procs.display(),
                    common.display(),
                    from.display(),
                    euid()
                ));
            }
        }
    }
    None
}

/// The fields of `r` that limit something, by name (`linux.resources.memory`, …), with
/// the controller each needs on `version`. Device rules are left out: a rootless
/// container's user namespace keeps it from every device node its user may not open,
/// and a device filter needs privilege (bpf(2), v1's devices.allow) it does not have.
pub fn limits(r: &LinuxResources, version: Version) -> Vec<(String, String)> {
    let v1 = version == Version::V1;
    let mut out = vec![];
    let mut add = |field: &str, c: &str| out.push((format!("linux.resources.{field}"), c.into()));
    if r.memory().is_some() {
        add("memory", "memory");
    }
    if let Some(c) = r.cpu() {
        let cpu = c.shares().is_some()
            || c.quota().is_some()
            || c.period().is_some()
            || c.burst().is_some()
            || c.idle().is_some()
            || c.realtime_runtime().is_some()
            || c.realtime_period().is_some();
        if cpu {
            add("cpu (shares, quota, period, burst, idle)", "cpu");
        }
        if c.cpus().is_some() || c.mems().is_some() {
            add("cpu.cpus and cpu.mems", "cpuset");
        }
    }
    if r.pids().is_some() {
        add("pids", "pids");
    }
    if r.block_io().is_some() {
        add("blockIO", if v1 { "blkio" } else { "io" });
    }
    if r.hugepage_limits().as_ref().is_some_and(|h| !h.is_empty()) {
        add("hugepageLimits", "hugetlb");
    }
    if r.rdma().as_ref().is_some_and(|m| !m.is_empty()) {
        add("rdma", "rdma");
    }
    if let Some(n) = r.network() {
        if n.class_id().is_some() {
            add("network.classID", "net_cls");
        }
        if n.priorities().as_ref().is_some_and(|p| !p.is_empty()) {
            add("network.priorities", "net_prio");
        }
    }
    let mut keys: Vec<&String> = r.unified().iter().flat_map(|m| m.keys()).collect();
    keys.sort();
    for k in keys {
        add(&format!("unified[{k:?}]"), crate::unified::controller(k));
    }
    out
}

/// `r` without the limits whose controller `cg` cannot have (not delegated) and
/// without device rules (see [`limits`]); the skipped fields by name.
pub fn delegated_only(r: &LinuxResources, cg: &Cgroup) -> (LinuxResources, Vec<String>) {
    let has = crate::check::Controllers::of(cg);
    let mut kept = r.clone();
    kept.set_devices(None);
    let mut skipped = vec![];
    for (field, c) in limits(r, cg.version) {
        if has.has(&c) {
            continue;
        }
        skipped.push(format!("{field} (no {c} controller)"));
        match c.as_str() {
            "memory" => {
                kept.set_memory(None);
            }
            "pids" => {
                kept.set_pids(None);
            }
            "io" | "blkio" => {
                kept.set_block_io(None);
            }
            "hugetlb" => {
                kept.set_hugepage_limits(None);
            }
            "rdma" => {
                kept.set_rdma(None);
            }
            "net_cls" | "net_prio" => {
                kept.set_network(None);
            }
            "cpu" | "cpuset" => {
                if let Some(cpu) = kept.cpu_mut() {
                    if c == "cpu" {
                        cpu.set_shares(None).set_quota(None).set_period(None);
                        cpu.set_burst(None).set_idle(None);
                        cpu.set_realtime_runtime(None).set_realtime_period(None);
                    } else {
                        cpu.set_cpus(None).set_mems(None);
                    }
                }
            }
            _ => {
                if let Some(u) = kept.unified_mut() {
                    u.retain(|k, _| crate::unified::controller(k) != c);
                }
            }
        }
    }
    (kept, skipped)
}

/// The deepest cgroup both `a` and `b` are in.
fn common_ancestor(a: &Path, b: &Path) -> PathBuf {
    a.components()
        .zip(b.components())
        .take_while(|(x, y)| x == y)
        .map(|(x, _)| x)
        .collect()
}

fn euid() -> u32 {
    // SAFETY: geteuid cannot fail and touches no memory.
    unsafe { libc::geteuid() }
}

/// Whether this process (its effective ids, as the kernel checks a write) may write
/// `path`.
fn writable(path: &Path) -> bool {
    let Ok(c) = CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: faccessat with a valid NUL-terminated path; it only reads it.
    unsafe { libc::faccessat(libc::AT_FDCWD, c.as_ptr(), libc::W_OK, libc::AT_EACCESS) == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_ancestors() {
        let a = Path::new("/sys/fs/cgroup/user.slice/u/app.slice/me.scope");
        let b = Path::new("/sys/fs/cgroup/user.slice/u/app.slice/c1");
        assert_eq!(
            common_ancestor(a, b),
            Path::new("/sys/fs/cgroup/user.slice/u/app.slice")
        );
        assert_eq!(
            common_ancestor(a, Path::new("/sys/fs/cgroup/x")),
            Path::new("/sys/fs/cgroup")
        );
    }

    #[test]
    fn limits_by_controller() {
        let r: LinuxResources = serde_json::from_value(serde_json::json!({
            "memory": { "limit": 33554432 },
            "cpu": { "shares": 512, "cpus": "0" },
            "pids": { "limit": 10 },
            "devices": [{ "allow": false, "access": "rwm" }],
            "unified": { "io.weight": "100" }
        }))
        .unwrap();
        let got: Vec<String> = limits(&r, Version::V2)
            .into_iter()
            .map(|(_, c)| c)
            .collect();
        assert_eq!(got, ["memory", "cpu", "cpuset", "pids", "io"]);
    }
}
