//! `linux.resources.unified` (cgroup v2 only): each key is a file of the container's
//! cgroup, written with the value as given (one write per line, so the spec's multi-line
//! `io.max` example works).
//!
//! Refused: any unified on v1 (as runc does); a key that is not a plain file name
//! (`/`, `..`); the files through which the runtime manages the cgroup (`cgroup.procs`,
//! `cgroup.threads`, `cgroup.kill`, `cgroup.freeze`, `cgroup.subtree_control`); a key that
//! names a file a typed field of the same config also writes (which would win would be
//! an accident of order); a controller the cgroup cannot have, and a file the cgroup
//! does not have once made.

use crate::knob::write_existing;
use crate::{blkio, Error, Result, Version};
use oci_spec::runtime::LinuxResources;
use std::collections::HashMap;
use std::path::Path;

const F: &str = "linux.resources.unified";

/// Files the runtime itself drives.
const MANAGED: &[&str] = &[
    "cgroup.procs",
    "cgroup.threads",
    "cgroup.kill",
    "cgroup.freeze",
    "cgroup.subtree_control",
];

fn field(key: &str) -> String {
    format!("{F}[{key:?}]")
}

fn invalid(key: &str, msg: impl Into<String>) -> Error {
    Error::Invalid {
        field: field(key),
        msg: msg.into(),
    }
}

/// The keys in a stable order (the spec's map has none).
fn sorted(map: &HashMap<String, String>) -> Vec<(&String, &String)> {
    let mut v: Vec<_> = map.iter().collect();
    v.sort_by(|a, b| a.0.cmp(b.0));
    v
}

/// The controller a key belongs to: the part before the first dot.
pub fn controller(key: &str) -> &str {
    key.split_once('.').map_or(key, |(c, _)| c)
}

pub(crate) fn check(r: &LinuxResources, v: Version) -> Result<()> {
    let Some(map) = r.unified().as_ref().filter(|m| !m.is_empty()) else {
        return Ok(());
    };
    if v == Version::V1 {
        return Err(Error::Invalid {
            field: F.into(),
            msg: "unified resources need cgroup v2, and this host has cgroup v1".into(),
        });
    }
    let typed = typed_files(r);
    for (key, _) in sorted(map) {
        if key.is_empty() || key == "." || key == ".." || key.contains('/') {
            return Err(invalid(
                key,
                "is not a file name of the cgroup (no '/', no '..')",
            ));
        }
        if key.chars().any(|c| c.is_whitespace() || c.is_control()) || !key.contains('.') {
            return Err(invalid(key, "is not a cgroup file name (CONTROLLER.NAME)"));
        }
        if MANAGED.contains(&key.as_str()) {
            return Err(invalid(key, "is managed by the runtime, not a resource"));
        }
        if let Some((_, by)) = typed.iter().find(|(f, _)| f == key) {
            return Err(invalid(
                key,
                format!(
                    "linux.resources.{by} is set too and writes the same file: set one of them"
                ),
            ));
        }
    }
    Ok(())
}

/// The v2 files the typed fields of `r` write, with the field that writes each.
pub fn typed_files(r: &LinuxResources) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = vec![];
    let mut add = |set: bool, file: &str, by: &str| {
        if set {
            v.push((file.to_string(), by.to_string()));
        }
    };
    if let Some(m) = r.memory() {
        add(m.limit().is_some(), "memory.max", "memory.limit");
        add(m.swap().is_some(), "memory.swap.max", "memory.swap");
        // An unlimited memory without a swap value makes swap unlimited too (v2::swap_max).
        let swap_by_limit = m.swap().is_none() && m.limit() == Some(-1);
        add(swap_by_limit, "memory.swap.max", "memory.limit");
        add(
            m.reservation().is_some(),
            "memory.low",
            "memory.reservation",
        );
    }
    if let Some(c) = r.cpu() {
        add(
            c.shares().is_some_and(|s| s != 0),
            "cpu.weight",
            "cpu.shares",
        );
        add(c.quota().is_some_and(|q| q != 0), "cpu.max", "cpu.quota");
        add(c.period().is_some_and(|p| p != 0), "cpu.max", "cpu.period");
        add(c.burst().is_some(), "cpu.max.burst", "cpu.burst");
        add(c.idle().is_some(), "cpu.idle", "cpu.idle");
        let some = |s: &Option<String>| s.as_deref().is_some_and(|s| !s.trim().is_empty());
        add(some(c.cpus()), "cpuset.cpus", "cpu.cpus");
        add(some(c.mems()), "cpuset.mems", "cpu.mems");
    }
    add(r.pids().is_some(), "pids.max", "pids.limit");
    if r.block_io().as_ref().is_some_and(blkio::is_set) {
        for f in ["io.weight", "io.bfq.weight", "io.max"] {
            add(true, f, "blockIO");
        }
    }
    for (i, h) in r.hugepage_limits().iter().flatten().enumerate() {
        let by = format!("hugepageLimits[{i}]");
        add(true, &format!("hugetlb.{}.max", h.page_size()), &by);
        add(true, &format!("hugetlb.{}.rsvd.max", h.page_size()), &by);
    }
    add(
        r.rdma().as_ref().is_some_and(|m| !m.is_empty()),
        "rdma.max",
        "rdma",
    );
    v
}

/// Checks every key's file exists in `dir` (the container's v2 cgroup), then writes them.
pub(crate) fn apply(dir: &Path, map: &HashMap<String, String>) -> Result<()> {
    for (key, _) in sorted(map) {
        if !dir.join(key).exists() {
            return Err(invalid(
                key,
                format!(
                    "{} does not exist (the {} controller has no such file, or is not enabled)",
                    dir.join(key).display(),
                    controller(key)
                ),
            ));
        }
    }
    for (key, value) in sorted(map) {
        for line in lines(value) {
            write_existing(dir, key, line, &field(key))?;
        }
    }
    Ok(())
}

/// A value as the writes it takes: one per non-empty line; an empty value is one empty
/// write (some files take "" to reset).
fn lines(value: &str) -> Vec<&str> {
    let v: Vec<&str> = value.lines().filter(|l| !l.trim().is_empty()).collect();
    if v.is_empty() {
        vec![value]
    } else {
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(v: serde_json::Value) -> LinuxResources {
        serde_json::from_value(v).unwrap()
    }

    fn err(v: serde_json::Value, ver: Version) -> String {
        check(&res(v), ver).unwrap_err().to_string()
    }

    #[test]
    fn keys_are_checked() {
        let ok = serde_json::json!({ "unified": { "memory.high": "1000000", "pids.max": "5" } });
        check(&res(ok.clone()), Version::V2).unwrap();
        assert!(err(ok, Version::V1).starts_with("linux.resources.unified:"));
        for key in ["../x", "memory/max", "..", "max", "cgroup.procs", "a b.c"] {
            let e = err(serde_json::json!({ "unified": { key: "1" } }), Version::V2);
            assert!(
                e.starts_with(&format!("linux.resources.unified[{key:?}]")),
                "{e}"
            );
        }
        let e = err(
            serde_json::json!({ "memory": { "limit": 1000000 },
                                "unified": { "memory.max": "2000000" } }),
            Version::V2,
        );
        assert!(
            e.contains("[\"memory.max\"]") && e.contains("memory.limit"),
            "{e}"
        );
        // Another file of the same controller is fine.
        check(
            &res(serde_json::json!({ "memory": { "limit": 1000000 },
                                     "unified": { "memory.high": "900000" } })),
            Version::V2,
        )
        .unwrap();
        let e = err(
            serde_json::json!({ "hugepageLimits": [{ "pageSize": "2MB", "limit": 0 }],
                                "unified": { "hugetlb.2MB.max": "0" } }),
            Version::V2,
        );
        assert!(e.contains("hugepageLimits[0]"), "{e}");
    }

    #[test]
    fn values_split_into_lines() {
        assert_eq!(lines("5"), ["5"]);
        assert_eq!(lines(""), [""]);
        assert_eq!(
            lines("259:0 rbps=2\n253:0 rbps=2\n"),
            ["259:0 rbps=2", "253:0 rbps=2"]
        );
        assert_eq!(controller("hugetlb.2MB.max"), "hugetlb");
    }
}
