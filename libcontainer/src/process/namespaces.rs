//! Which namespaces the init creates and joins, and in which process and order.
//!
//! A user namespace must exist before the namespaces it should own, and joining a
//! namespace owned by the host needs the host's capabilities, so joins come before a
//! new user namespace. pid and time namespaces apply only to children, so the parent
//! joins those itself before it clones. That leaves one clone3 for every common case:
//! - nothing to join in the child: clone3 with every new namespace at once;
//! - joins in the child, no new pid/time namespace: clone3 plain, the child joins
//!   (user first), then unshares the new ones.
//!
//! - joins in the child and a new pid or time namespace (which only a child of the
//!   unsharing process enters): clone3 plain, join, unshare, then the child forks the
//!   real init with CLONE_PARENT (so it is the runtime's child) and exits.
//! - `linux.timeOffsets`: offsets can only be written while no process is in the new
//!   time namespace, and a clone3 with CLONE_NEWTIME puts the child in at once. So such
//!   a spec takes the path above even without joins: the child unshares, writes
//!   `/proc/self/timens_offsets` (its own time namespace is still the old one; the file
//!   is that of the namespace its children will enter), then forks the init.

use crate::{Error, Result};
use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use nix::sys::stat::Mode;
use oci_spec::runtime::{LinuxNamespaceType as T, Spec};
use std::os::fd::OwnedFd;

pub const CLONE_NEWTIME: u64 = 0x80;

pub struct Plan {
    /// Flags for clone3: the namespaces created at once.
    pub clone_flags: u64,
    /// pid and time namespaces to join, joined by the parent before it clones.
    pub parent_joins: Vec<(T, OwnedFd)>,
    /// Namespaces the child joins, user first.
    pub child_joins: Vec<(T, OwnedFd)>,
    /// Namespaces the child creates with unshare(2) after its joins.
    pub child_unshare: u64,
    pub new_userns: bool,
    pub new_pidns: bool,
    /// The first child forks the init after its unshare (see the module comment).
    pub fork_init: bool,
    /// A new cgroup namespace is unshared by the init once it is in the container's
    /// cgroup, rather than made by clone3 (whose new namespace would be rooted at the
    /// runtime's cgroup). Set by `spawn` when the container has a cgroup.
    pub cgroupns_late: bool,
    /// A new network namespace is made by the parent after the clone ([`make_net`]) and
    /// sent to the init, which joins it before its first mount that may depend on it
    /// (see `rootfs::mounts::net_free`) and before any hook: the kernel's slowest
    /// namespace (about 0.65 ms here, most of a clone3) is made while the init mounts,
    /// not before it starts. Only where clone3 would make it, in the runtime's own user
    /// namespace (a new user namespace must own it: the init makes it then), and (see
    /// `spawn`) with the runtime in the initial user namespace: from a child one it could
    /// not return to its own network namespace when an ancestor owns that.
    pub net_by_parent: bool,
}

fn flag(t: T) -> u64 {
    // The enum's discriminants are the CLONE_NEW* values.
    t as u64
}

fn open_ns(path: &std::path::Path) -> Result<OwnedFd> {
    crate::sys::open(path, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(|e| Error::sys(format!("open namespace {}", path.display()), e))
}

fn namespaces_of(spec: &Spec) -> &[oci_spec::runtime::LinuxNamespace] {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .map(Vec::as_slice)
        .unwrap_or_default()
}

pub fn plan(spec: &Spec) -> Result<Plan> {
    let nss = namespaces_of(spec);
    let mut new = 0u64;
    let mut parent_joins = Vec::new();
    let mut child_joins = Vec::new();
    for ns in nss {
        match ns.path() {
            None => new |= flag(ns.typ()),
            Some(p) if matches!(ns.typ(), T::Pid | T::Time) => {
                parent_joins.push((ns.typ(), open_ns(p)?))
            }
            Some(p) => child_joins.push((ns.typ(), open_ns(p)?)),
        }
    }
    child_joins.sort_by_key(|(t, _)| *t != T::User);
    let new_userns = new & flag(T::User) != 0;
    let new_pidns = new & flag(T::Pid) != 0;
    let joins_first =
        !child_joins.is_empty() && (new_userns || child_joins.iter().any(|(t, _)| *t == T::User));
    let offsets = !time_offsets(spec).is_empty() && new & CLONE_NEWTIME != 0;
    // No join that must precede creation, no offsets: create everything in clone3.
    let unshare_first = joins_first || offsets;
    let (clone_flags, child_unshare) = if unshare_first { (0, new) } else { (new, 0) };
    let fork_init = unshare_first && new & (flag(T::Pid) | CLONE_NEWTIME) != 0;
    let mut clone_flags = clone_flags;
    let net_by_parent = clone_flags & flag(T::Network) != 0 && !new_userns;
    if net_by_parent {
        clone_flags &= !flag(T::Network);
    }
    Ok(Plan {
        clone_flags,
        parent_joins,
        child_joins,
        child_unshare,
        new_userns,
        new_pidns,
        fork_init,
        cgroupns_late: false,
        net_by_parent,
    })
}

/// The plan in words, for `--debug`: each namespace of the spec made or joined (with its
/// path), and by whom.
pub fn describe(spec: &Spec, plan: &Plan) -> String {
    let nss = namespaces_of(spec);
    let how = if plan.clone_flags != 0 {
        "by clone3"
    } else {
        "by unshare in the init, after its joins"
    };
    let mut new = vec![];
    let mut joined = vec![];
    for ns in nss {
        match ns.path() {
            None if ns.typ() == T::Cgroup && plan.cgroupns_late => {
                new.push("cgroup (unshared once in the cgroup)".to_string())
            }
            None if ns.typ() == T::Network && plan.net_by_parent => new.push(
                "network (made by the runtime while the init mounts, joined by the init)"
                    .to_string(),
            ),
            None => new.push(spec_name(ns.typ())),
            Some(p) => {
                let by = match ns.typ() {
                    T::Pid | T::Time => "runtime, before the clone",
                    _ => "init",
                };
                joined.push(format!(
                    "{} {} (by the {by})",
                    spec_name(ns.typ()),
                    p.display()
                ));
            }
        }
    }
    let mut out = format!("namespaces: new {} {how}", list(&new));
    out.push_str(&format!("; joined {}", list(&joined)));
    if plan.fork_init {
        out.push_str("; the init forks again to enter its new pid or time namespace");
    }
    out
}

/// The type as config.json names it (`mount`, `network`; Display says `mnt`, `net`).
fn spec_name(t: T) -> String {
    match serde_json::to_value(t) {
        Ok(serde_json::Value::String(s)) => s,
        _ => t.to_string(),
    }
}

fn list(v: &[String]) -> String {
    match v.is_empty() {
        true => "none".into(),
        false => v.join(", "),
    }
}

fn time_offsets(spec: &Spec) -> Vec<(&str, i64, u32)> {
    let offsets = spec
        .linux()
        .as_ref()
        .and_then(|l| l.time_offsets().as_ref());
    let mut v: Vec<_> = offsets
        .into_iter()
        .flatten()
        .map(|(clock, o)| {
            (
                clock.as_str(),
                o.secs().unwrap_or(0),
                o.nanosecs().unwrap_or(0),
            )
        })
        .collect();
    v.sort();
    v
}

/// The offsets as the kernel reads them: one `clock secs nanosecs` line each.
fn time_offsets_text(spec: &Spec) -> String {
    time_offsets(spec)
        .iter()
        .map(|(clock, secs, nanos)| format!("{clock} {secs} {nanos}\n"))
        .collect()
}

const TIMENS_OFFSETS: &str = "/proc/self/timens_offsets";

/// Opens `/proc/self/timens_offsets` for `linux.timeOffsets`, when the plan unshares a
/// time namespace with offsets. Opened first thing in the init: write access is checked
/// at open, and once the init has changed its uid (to root of a user namespace) it is no
/// longer dumpable, so its /proc files belong to the host's root. No container mount
/// exists yet: this /proc is the one the runtime was started with.
pub fn open_time_offsets(plan: &Plan, spec: &Spec) -> Result<Option<std::fs::File>> {
    if plan.child_unshare & CLONE_NEWTIME == 0 || time_offsets(spec).is_empty() {
        return Ok(None);
    }
    std::fs::OpenOptions::new()
        .write(true)
        .open(TIMENS_OFFSETS)
        .map(Some)
        .map_err(|e| Error::io("linux.timeOffsets: cannot open", TIMENS_OFFSETS, e))
}

/// Writes `linux.timeOffsets` for the time namespace just unshared, before any process
/// is in it (the kernel refuses afterwards): the file is that of the namespace the
/// caller's children will enter. Clock names are checked by validation.
pub fn write_time_offsets(file: std::fs::File, spec: &Spec) -> Result<()> {
    use std::io::Write;
    let text = time_offsets_text(spec);
    // One write: the kernel applies the whole set at once.
    (&file).write_all(text.as_bytes()).map_err(|e| {
        Error::Other(format!(
            "linux.timeOffsets: write {:?} to {TIMENS_OFFSETS}: {e}",
            text.trim_end()
        ))
    })
}

/// `flags` (CLONE_NEW* bits, as clone3 takes them) as the `int` of setns and unshare:
/// EINVAL for a bit above those 32 (only clone3 has any).
pub fn clone_flags(flags: u64) -> nix::Result<CloneFlags> {
    libc::c_int::try_from(flags)
        .map(CloneFlags::from_bits_retain)
        .map_err(|_| nix::errno::Errno::EINVAL)
}

pub fn join(t: T, fd: &OwnedFd) -> Result<()> {
    crate::trace::step(|| format!("setns {t} namespace"));
    clone_flags(flag(t))
        .and_then(|f| nix::sched::setns(fd, f))
        .map_err(|e| Error::sys(format!("join {t} namespace"), e))
}

/// A new network namespace for the container, made by this process, which stays in its
/// own (see `Plan::net_by_parent`).
pub fn make_net() -> Result<OwnedFd> {
    const SELF: &str = "/proc/thread-self/ns/net";
    let own = open_ns(std::path::Path::new(SELF))?;
    crate::trace::step(|| "make the network namespace (the runtime)".into());
    nix::sched::unshare(CloneFlags::CLONE_NEWNET)
        .map_err(|e| Error::sys("make the container's network namespace", e))?;
    let new = open_ns(std::path::Path::new(SELF));
    nix::sched::setns(&own, CloneFlags::CLONE_NEWNET)
        .map_err(|e| Error::sys("return to the runtime's network namespace", e))?;
    new
}

pub fn unshare(flags: u64) -> Result<()> {
    crate::trace::step(|| format!("unshare namespaces (flags {flags:#x})"));
    clone_flags(flags)
        .and_then(nix::sched::unshare)
        .map_err(|e| Error::sys("unshare namespaces", e))
}

/// Whether the container gets a pid namespace of its own (new, not joined by path).
pub fn has_own_pid_ns(spec: &Spec) -> bool {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|n| n.iter().any(|ns| ns.typ() == T::Pid && ns.path().is_none()))
}

/// Whether the container has a mount namespace other than the runtime's (new, or
/// joined by path); without one its mounts are made in the runtime's (see `rootfs::host`).
pub fn has_mount_ns(spec: &Spec) -> bool {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|n| n.iter().any(|ns| ns.typ() == T::Mount))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(namespaces: serde_json::Value) -> Spec {
        serde_json::from_value(serde_json::json!({
            "ociVersion": "1.2.0",
            "root": { "path": "rootfs" },
            "linux": {
                "namespaces": namespaces,
                "uidMappings": [{ "containerID": 0, "hostID": 1000, "size": 1 }],
                "gidMappings": [{ "containerID": 0, "hostID": 1000, "size": 1 }]
            }
        }))
        .unwrap()
    }

    #[test]
    fn the_runtime_makes_the_network_namespace_only_in_its_own_user_namespace() {
        const NET: u64 = libc::CLONE_NEWNET as u64;
        let p = plan(&spec(
            serde_json::json!([{ "type": "pid" }, { "type": "network" }]),
        ))
        .unwrap();
        assert!(p.net_by_parent);
        assert_eq!(p.clone_flags & NET, 0, "clone3 would make it too");
        assert_ne!(p.clone_flags, 0);
        // A new user namespace must own it: made with it by clone3.
        let p = plan(&spec(
            serde_json::json!([{ "type": "user" }, { "type": "network" }]),
        ))
        .unwrap();
        assert!(!p.net_by_parent);
        assert_ne!(p.clone_flags & NET, 0);
        // Joined by path, or none at all.
        let p = plan(&spec(
            serde_json::json!([{ "type": "network", "path": "/proc/self/ns/net" }]),
        ))
        .unwrap();
        assert!(!p.net_by_parent);
        let p = plan(&spec(serde_json::json!([{ "type": "mount" }]))).unwrap();
        assert!(!p.net_by_parent);
        // Unshared by the init after joining a user namespace: owned by that one.
        let p = plan(&spec(serde_json::json!([
            { "type": "user", "path": "/proc/self/ns/user" }, { "type": "network" }
        ])))
        .unwrap();
        assert!(!p.net_by_parent);
        assert_ne!(p.child_unshare & NET, 0);
    }
}
