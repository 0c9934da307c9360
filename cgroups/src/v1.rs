//! cgroup v1 (legacy and hybrid hosts): one hierarchy per controller (or group of them),
//! the container's directory in each; limits are written to each controller's files.

use crate::{write, Cgroup, DeviceRule, Error, Result};
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxResources};
use std::path::Path;

pub fn create(cg: &mut Cgroup, shared: &dyn Fn(&Path) -> bool) -> Result<()> {
    for d in &mut cg.dirs {
        crate::make_levels(d, shared, |_| Ok(()))?;
        if d.controllers.iter().any(|c| c == "cpuset") {
            inherit_cpuset(&d.mount, &d.path)?;
        }
    }
    Ok(())
}

/// A new v1 cpuset cgroup starts with no cpus and no mems, and no task can join it
/// until both are set: copy them from the parent, level by level.
fn inherit_cpuset(mount: &Path, leaf: &Path) -> Result<()> {
    let Ok(below) = leaf.strip_prefix(mount) else {
        return Ok(());
    };
    let mut cur = mount.to_path_buf();
    for c in below.components() {
        let parent = cur.clone();
        cur.push(c);
        for f in ["cpuset.cpus", "cpuset.mems"] {
            let mine = std::fs::read_to_string(cur.join(f)).unwrap_or_default();
            if mine.trim().is_empty() {
                let theirs = std::fs::read_to_string(parent.join(f))
                    .map_err(|e| Error::io("cannot read", &parent.join(f), e))?;
                write(&cur, f, theirs.trim(), "linux.cgroupsPath")?;
            }
        }
    }
    Ok(())
}

fn need<'a>(cg: &'a Cgroup, controller: &str, field: &str) -> Result<&'a Path> {
    cg.dir_of(controller).ok_or_else(|| Error::Unsupported {
        field: format!("linux.resources.{field}"),
        why: format!(" (this host has no {controller} cgroup hierarchy)"),
    })
}

fn num(v: i64) -> String {
    v.to_string()
}

pub fn apply(cg: &Cgroup, r: &LinuxResources, extra: &[DeviceRule]) -> Result<()> {
    if let Some(m) = r.memory() {
        let dir = need(cg, "memory", "memory")?;
        limit_and_swap(dir, m.limit(), m.swap().filter(|s| *s != 0))?;
        if let Some(r) = m.reservation() {
            write(
                dir,
                "memory.soft_limit_in_bytes",
                &num(r),
                "linux.resources.memory.reservation",
            )?;
        }
        if let Some(s) = m.swappiness() {
            write(
                dir,
                "memory.swappiness",
                &s.to_string(),
                "linux.resources.memory.swappiness",
            )?;
        }
        if m.disable_oom_killer() == Some(true) {
            write(
                dir,
                "memory.oom_control",
                "1",
                "linux.resources.memory.disableOOMKiller",
            )?;
        }
    }
    if let Some(c) = r.cpu() {
        let f = "linux.resources.cpu";
        if c.shares().is_some_and(|s| s != 0)
            || c.quota().is_some_and(|q| q != 0)
            || c.period().is_some_and(|p| p != 0)
            || c.burst().is_some()
            || c.idle().is_some()
        {
            let dir = need(cg, "cpu", "cpu")?;
            if let Some(s) = c.shares().filter(|s| *s != 0) {
                write(dir, "cpu.shares", &s.to_string(), &format!("{f}.shares"))?;
            }
            // The period first: the quota is checked against it.
            if let Some(p) = c.period().filter(|p| *p != 0) {
                write(
                    dir,
                    "cpu.cfs_period_us",
                    &p.to_string(),
                    &format!("{f}.period"),
                )?;
            }
            if let Some(q) = c.quota().filter(|q| *q != 0) {
                let q = if q < 0 { -1 } else { q };
                write(dir, "cpu.cfs_quota_us", &num(q), &format!("{f}.quota"))?;
            }
            if let Some(b) = c.burst() {
                write(
                    dir,
                    "cpu.cfs_burst_us",
                    &b.to_string(),
                    &format!("{f}.burst"),
                )?;
            }
            if let Some(i) = c.idle() {
                write(dir, "cpu.idle", &num(i), &format!("{f}.idle"))?;
            }
        }
        for (file, field, val) in [
            ("cpuset.cpus", "cpus", c.cpus()),
            ("cpuset.mems", "mems", c.mems()),
        ] {
            if let Some(v) = val.as_deref().filter(|v| !v.trim().is_empty()) {
                let dir = need(cg, "cpuset", &format!("cpu.{field}"))?;
                write(dir, file, v.trim(), &format!("{f}.{field}"))?;
            }
        }
    }
    if let Some(p) = r.pids() {
        let dir = need(cg, "pids", "pids")?;
        // oci-spec reads an absent limit as 0: zero and below mean "no limit".
        let v = if p.limit() > 0 {
            num(p.limit())
        } else {
            "max".into()
        };
        write(dir, "pids.max", &v, "linux.resources.pids.limit")?;
    }
    // `update` passes no rules at all: the device rules stay as `create` wrote them.
    let rules = r.devices().is_some() || !extra.is_empty();
    if let Some(dir) = cg.dir_of("devices").filter(|_| rules) {
        devices(dir, r.devices().as_deref().unwrap_or_default(), extra)?;
    }
    apply_more(cg, r)
}

/// blockIO, hugepageLimits, rdma and network (see their modules); `check::host` made
/// sure every hierarchy needed is there.
fn apply_more(cg: &Cgroup, r: &LinuxResources) -> Result<()> {
    if let Some(b) = r.block_io().as_ref().filter(|b| crate::blkio::is_set(b)) {
        crate::blkio::apply_v1(need(cg, "blkio", "blockIO")?, b)?;
    }
    if let Some(h) = r.hugepage_limits().as_ref().filter(|h| !h.is_empty()) {
        let dir = need(cg, "hugetlb", "hugepageLimits")?;
        crate::hugetlb::apply(dir, h, crate::Version::V1)?;
    }
    if let Some(m) = r.rdma().as_ref().filter(|m| !m.is_empty()) {
        crate::rdma::apply(need(cg, "rdma", "rdma")?, m)?;
    }
    if let Some(n) = r.network() {
        if n.class_id().is_some() {
            crate::net::apply_class_id(need(cg, "net_cls", "network.classID")?, n)?;
        }
        if n.priorities().as_ref().is_some_and(|p| !p.is_empty()) {
            crate::net::apply_priorities(need(cg, "net_prio", "network.priorities")?, n)?;
        }
    }
    Ok(())
}

/// The memory limit and memory+swap, which the kernel keeps in order (memory+swap never
/// below memory): when memory+swap grows (or becomes unlimited) it goes first, else the
/// limit does. A fresh cgroup is unlimited, so `create` writes the limit first.
fn limit_and_swap(dir: &Path, limit: Option<i64>, swap: Option<i64>) -> Result<()> {
    let write_limit = |l: i64| {
        write(
            dir,
            "memory.limit_in_bytes",
            &num(l),
            "linux.resources.memory.limit",
        )
    };
    let write_swap = |s: i64| {
        write(
            dir,
            "memory.memsw.limit_in_bytes",
            &num(s),
            "linux.resources.memory.swap",
        )
    };
    let Some(s) = swap else {
        return limit.map_or(Ok(()), write_limit);
    };
    let now: i64 = std::fs::read_to_string(dir.join("memory.memsw.limit_in_bytes"))
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(i64::MAX);
    if s == -1 || s > now {
        write_swap(s)?;
        limit.map_or(Ok(()), write_limit)
    } else {
        limit.map_or(Ok(()), write_limit)?;
        write_swap(s)
    }
}

/// Deny everything, then the rules in order, then the devices every container gets.
fn devices(dir: &Path, rules: &[LinuxDeviceCgroup], extra: &[DeviceRule]) -> Result<()> {
    write(dir, "devices.deny", "a", "linux.resources.devices")?;
    for (i, d) in rules.iter().enumerate() {
        let rule = DeviceRule::from_spec(d, i)?;
        let file = if d.allow() {
            "devices.allow"
        } else {
            "devices.deny"
        };
        write(
            dir,
            file,
            &rule_text(&rule),
            &format!("linux.resources.devices[{i}]"),
        )?;
    }
    for r in extra {
        write(dir, "devices.allow", &rule_text(r), "linux.devices")?;
    }
    Ok(())
}

/// `c 1:3 rwm`; `a` stands alone (the kernel reads "a" as every device).
pub fn rule_text(r: &DeviceRule) -> String {
    let n = |v: Option<u32>| v.map_or("*".to_string(), |v| v.to_string());
    if r.typ == 'a' {
        return "a".into();
    }
    format!("{} {}:{} {}", r.typ, n(r.major), n(r.minor), r.access)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_rule_text() {
        let r = DeviceRule {
            typ: 'c',
            major: Some(136),
            minor: None,
            access: "rwm".into(),
        };
        assert_eq!(rule_text(&r), "c 136:* rwm");
        let a = DeviceRule {
            typ: 'a',
            major: None,
            minor: None,
            access: "r".into(),
        };
        assert_eq!(rule_text(&a), "a");
    }
}
