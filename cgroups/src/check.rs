//! `linux.resources` checked for a cgroup version before anything is made: every field
//! corral does not write is refused by name, every bad value names its field.

use crate::{Cgroup, Error, Result, Version};
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType, LinuxResources};
use std::path::Path;

const R: &str = "linux.resources";

fn unsupported(field: &str, why: &str) -> Error {
    Error::Unsupported {
        field: format!("{R}.{field}"),
        why: why.to_string(),
    }
}

fn invalid(field: &str, msg: impl Into<String>) -> Error {
    Error::Invalid {
        field: format!("{R}.{field}"),
        msg: msg.into(),
    }
}

pub fn check(r: &LinuxResources, v: Version) -> Result<()> {
    if let Some(b) = r.block_io() {
        crate::blkio::check(b, v)?;
    }
    crate::hugetlb::check(r.hugepage_limits().as_deref().unwrap_or_default())?;
    if let Some(n) = r.network() {
        crate::net::check(n, v)?;
    }
    if let Some(m) = r.rdma() {
        crate::rdma::check(m)?;
    }
    crate::unified::check(r, v)?;
    memory(r, v)?;
    cpu(r, v)?;
    devices(r.devices().as_deref().unwrap_or_default())
}

fn memory(r: &LinuxResources, v: Version) -> Result<()> {
    let Some(m) = r.memory() else { return Ok(()) };
    for (f, set) in [
        ("memory.kernel", m.kernel().is_some()),
        ("memory.kernelTCP", m.kernel_tcp().is_some()),
        ("memory.useHierarchy", m.use_hierarchy().is_some()),
    ] {
        if set {
            return Err(unsupported(f, ""));
        }
    }
    for (f, val) in [
        ("memory.limit", m.limit()),
        ("memory.reservation", m.reservation()),
        ("memory.swap", m.swap()),
    ] {
        if val.is_some_and(|x| x < -1) {
            return Err(invalid(f, "must be -1 (unlimited) or a number of bytes"));
        }
    }
    if m.swappiness().is_some_and(|s| s > 100) {
        return Err(invalid("memory.swappiness", "must be 0 to 100"));
    }
    if v == Version::V2 {
        if m.swappiness().is_some() {
            return Err(unsupported(
                "memory.swappiness",
                " (cgroup v2 has no per-cgroup swappiness)",
            ));
        }
        if m.disable_oom_killer() == Some(true) {
            return Err(unsupported(
                "memory.disableOOMKiller",
                " (cgroup v2 cannot turn the OOM killer off)",
            ));
        }
        crate::v2::swap_max(m.swap(), m.limit())?;
    } else if let (Some(s), Some(l)) = (m.swap(), m.limit()) {
        if s != -1 && s != 0 && l != -1 && s < l {
            return Err(invalid(
                "memory.swap",
                format!("{s} is below memory.limit {l} (it is memory + swap)"),
            ));
        }
    }
    Ok(())
}

fn cpu(r: &LinuxResources, v: Version) -> Result<()> {
    let Some(c) = r.cpu() else { return Ok(()) };
    if c.realtime_runtime().is_some() {
        return Err(unsupported("cpu.realtimeRuntime", ""));
    }
    if c.realtime_period().is_some() {
        return Err(unsupported("cpu.realtimePeriod", ""));
    }
    if let Some(s) = c.shares() {
        if s != 0 && !(2..=262144).contains(&s) {
            return Err(invalid("cpu.shares", format!("{s} is not in 2..262144")));
        }
    }
    if let Some(p) = c.period() {
        if p != 0 && !(1000..=1_000_000).contains(&p) {
            return Err(invalid(
                "cpu.period",
                format!("{p} µs is not in 1000..1000000"),
            ));
        }
    }
    if let Some(q) = c.quota() {
        if q > 0 && q < 1000 {
            return Err(invalid("cpu.quota", format!("{q} µs is below 1000")));
        }
    }
    if c.idle().is_some_and(|i| i != 0 && i != 1) {
        return Err(invalid("cpu.idle", "must be 0 or 1"));
    }
    let _ = v;
    for (f, list) in [("cpu.cpus", c.cpus()), ("cpu.mems", c.mems())] {
        if let Some(l) = list.as_deref() {
            cpu_list(l).map_err(|m| invalid(f, format!("{l:?}: {m}")))?;
        }
    }
    Ok(())
}

/// The kernel's list syntax: `0-3,5,7-8` (empty: unset).
fn cpu_list(s: &str) -> std::result::Result<(), String> {
    parse_list(s).map(drop)
}

/// The numbers named in the kernel's list syntax (`0-3,5,7-8`; empty: none), as cpusets,
/// `execCPUAffinity` and `memoryPolicy.nodes` write them.
pub fn parse_list(s: &str) -> std::result::Result<Vec<u32>, String> {
    let mut out = vec![];
    if s.trim().is_empty() {
        return Ok(out);
    }
    for part in s.trim().split(',') {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let a: u32 = a.parse().map_err(|_| format!("{part:?} is not N or N-M"))?;
        let b: u32 = b.parse().map_err(|_| format!("{part:?} is not N or N-M"))?;
        if a > b {
            return Err(format!("{part:?} is a range that ends before it starts"));
        }
        if b - a > 65536 {
            return Err(format!("{part:?} is a range of more than 65536 numbers"));
        }
        out.extend(a..=b);
    }
    Ok(out)
}

/// Device rules: the same on both versions (v1 writes them to files, v2 to a BPF program).
fn devices(list: &[LinuxDeviceCgroup]) -> Result<()> {
    for (i, d) in list.iter().enumerate() {
        if let Some(a) = d.access().as_deref() {
            if a.is_empty() || !a.chars().all(|c| matches!(c, 'r' | 'w' | 'm')) {
                return Err(invalid(
                    &format!("devices[{i}].access"),
                    format!("{a:?} is not made of r, w and m"),
                ));
            }
        }
        if matches!(d.typ(), Some(LinuxDeviceType::U | LinuxDeviceType::P)) {
            return Err(invalid(
                &format!("devices[{i}].type"),
                "must be a, b or c in a device cgroup rule",
            ));
        }
        crate::DeviceRule::from_spec(d, i)?;
    }
    Ok(())
}

/// What the host must have for `r`, checked against where the cgroup `cg` will be before
/// anything is made: the controller of every field that needs one (v1: a hierarchy;
/// v2: the controller in `cgroup.controllers` of the nearest existing ancestor, which
/// `create` enables on the way down), and the huge page sizes.
pub fn host(r: &LinuxResources, cg: &Cgroup) -> Result<()> {
    let has = Controllers::of(cg);
    let v1 = cg.version == Version::V1;
    let mut need: Vec<(&str, String)> = vec![];
    if r.block_io().as_ref().is_some_and(crate::blkio::is_set) {
        need.push((if v1 { "blkio" } else { "io" }, "blockIO".into()));
    }
    let huge = r.hugepage_limits().as_deref().unwrap_or_default();
    if !huge.is_empty() {
        need.push(("hugetlb", "hugepageLimits".into()));
    }
    if r.rdma().as_ref().is_some_and(|m| !m.is_empty()) {
        need.push(("rdma", "rdma".into()));
    }
    if let Some(n) = r.network() {
        if n.class_id().is_some() {
            need.push(("net_cls", "network.classID".into()));
        }
        if n.priorities().as_ref().is_some_and(|p| !p.is_empty()) {
            need.push(("net_prio", "network.priorities".into()));
        }
    }
    let mut keys: Vec<&String> = r.unified().iter().flat_map(|m| m.keys()).collect();
    keys.sort();
    for k in keys {
        let c = crate::unified::controller(k);
        if c != "cgroup" {
            need.push((c, format!("unified[{k:?}]")));
        }
    }
    for (c, field) in need {
        if !has.has(c) {
            return Err(invalid(&field, has.missing(c)));
        }
    }
    if !huge.is_empty() {
        let sizes = crate::hugetlb::host_sizes(Path::new("/sys/kernel/mm/hugepages"));
        crate::hugetlb::check_sizes(huge, &sizes)?;
    }
    Ok(())
}

/// The controllers the container's cgroup can have.
pub(crate) enum Controllers<'a> {
    V1(&'a Cgroup),
    /// The nearest existing directory and its `cgroup.controllers`.
    V2(std::path::PathBuf, String),
}

impl<'a> Controllers<'a> {
    pub(crate) fn of(cg: &'a Cgroup) -> Self {
        if cg.version == Version::V1 {
            return Controllers::V1(cg);
        }
        let leaf = &cg.dirs[0].path;
        let dir = leaf
            .ancestors()
            .find(|d| d.join("cgroup.controllers").exists())
            .unwrap_or(leaf);
        let list = std::fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
        Controllers::V2(dir.to_path_buf(), list)
    }

    pub(crate) fn has(&self, c: &str) -> bool {
        match self {
            Controllers::V1(cg) => cg.dir_of(c).is_some(),
            Controllers::V2(_, list) => list.split_whitespace().any(|x| x == c),
        }
    }

    fn missing(&self, c: &str) -> String {
        match self {
            Controllers::V1(_) => format!("this host has no {c} cgroup hierarchy"),
            Controllers::V2(dir, list) => format!(
                "the {c} controller is not available in {} (cgroup.controllers: {:?})",
                dir.display(),
                list.trim()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(v: serde_json::Value) -> LinuxResources {
        serde_json::from_value(v).unwrap()
    }

    fn field(r: Result<()>) -> String {
        match r {
            Err(Error::Invalid { field, .. } | Error::Unsupported { field, .. }) => field,
            other => panic!("expected a field error, got {other:?}"),
        }
    }

    #[test]
    fn good_block_passes_on_v1() {
        let r = res(serde_json::json!({
            "memory": { "limit": 33554432, "swap": 67108864, "disableOOMKiller": false },
            "cpu": { "shares": 512, "quota": 50000, "period": 100000, "cpus": "0-1,3" },
            "pids": { "limit": 10 },
            "devices": [{ "allow": false, "access": "rwm" },
                        { "allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw" }]
        }));
        check(&r, Version::V1).unwrap();
        check(&r, Version::V2).unwrap();
    }

    #[test]
    fn bad_fields_are_named() {
        let cases = [
            (
                serde_json::json!({ "cpu": { "cpus": "abc" } }),
                "linux.resources.cpu.cpus",
            ),
            (
                serde_json::json!({ "cpu": { "mems": "1-0" } }),
                "linux.resources.cpu.mems",
            ),
            (
                serde_json::json!({ "cpu": { "realtimeRuntime": 1000 } }),
                "linux.resources.cpu.realtimeRuntime",
            ),
            (
                serde_json::json!({ "cpu": { "shares": 1 } }),
                "linux.resources.cpu.shares",
            ),
            (
                serde_json::json!({ "blockIO": { "weight": 2000 } }),
                "linux.resources.blockIO.weight",
            ),
            (
                serde_json::json!({ "unified": { "memory.max": "1" } }),
                "linux.resources.unified",
            ),
            (
                serde_json::json!({ "memory": { "kernel": 1 } }),
                "linux.resources.memory.kernel",
            ),
            (
                serde_json::json!({ "memory": { "limit": -5 } }),
                "linux.resources.memory.limit",
            ),
            (
                serde_json::json!({ "devices": [{ "allow": true, "access": "x" }] }),
                "linux.resources.devices[0].access",
            ),
            (
                serde_json::json!({ "devices": [
                    { "allow": true, "type": "c", "major": 4294967297_i64, "minor": 1 }] }),
                "linux.resources.devices[0].major",
            ),
            (
                serde_json::json!({ "devices": [{ "allow": true, "access": "r" },
                    { "allow": false, "type": "c", "major": 1, "minor": -2 }] }),
                "linux.resources.devices[1].minor",
            ),
        ];
        for (v, f) in cases {
            assert_eq!(field(check(&res(v), Version::V1)), f);
        }
    }

    #[test]
    fn zero_values_are_unset() {
        // What Docker sends for `docker run --memory 64m`.
        let r = res(serde_json::json!({
            "memory": { "limit": 67108864, "swap": 134217728, "disableOOMKiller": false },
            "cpu": { "shares": 0 },
            "blockIO": { "weight": 0 }
        }));
        check(&r, Version::V1).unwrap();
        check(&r, Version::V2).unwrap();
        // A set value is still checked: v2 has no leaf weight.
        let r = res(serde_json::json!({ "blockIO": { "leafWeight": 10 } }));
        assert!(field(check(&r, Version::V2)).starts_with("linux.resources.blockIO"));
    }

    #[test]
    fn v2_refusals() {
        let r = res(serde_json::json!({ "memory": { "swappiness": 10 } }));
        assert_eq!(
            field(check(&r, Version::V2)),
            "linux.resources.memory.swappiness"
        );
        let r = res(serde_json::json!({ "memory": { "swap": 100 } }));
        assert_eq!(field(check(&r, Version::V2)), "linux.resources.memory.swap");
        let all = res(serde_json::json!({ "devices": [
            { "allow": false, "access": "rwm" }, { "allow": true, "access": "rwm" }] }));
        check(&all, Version::V2).unwrap();
        check(&res(serde_json::json!({ "devices": [] })), Version::V2).unwrap();
    }
}
