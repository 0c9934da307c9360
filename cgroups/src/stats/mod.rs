//! The container's resource usage, as `events` prints it: runc's `Stats` layout and
//! field names (runc 1.1's `types/events.go`), so tools that read runc's output read
//! corral's. A zero the Go side tags `omitempty` is left out here too.
//!
//! Read from the kernel each time ([`v1`] from each controller's files, [`v2`] from the
//! one directory); a file that is missing (controller not mounted, older kernel) leaves
//! its fields at zero, as runc does.

mod v1;
mod v2;

use crate::{Cgroup, Version};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

fn zero(v: &u64) -> bool {
    *v == 0
}

#[derive(Debug, Default, Serialize)]
pub struct Stats {
    pub cpu: Cpu,
    pub cpuset: CpuSet,
    pub memory: Memory,
    pub pids: Pids,
    pub blkio: Blkio,
    pub hugetlb: BTreeMap<String, Hugetlb>,
    pub intel_rdt: BTreeMap<String, u64>,
    /// runc fills this only for containers it gave interfaces to: always null.
    pub network_interfaces: Option<Vec<()>>,
}

#[derive(Debug, Default, Serialize)]
pub struct Cpu {
    pub usage: CpuUsage,
    pub throttling: Throttling,
}

/// Nanoseconds.
#[derive(Debug, Default, Serialize)]
pub struct CpuUsage {
    #[serde(skip_serializing_if = "zero")]
    pub total: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_kernel: Vec<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_user: Vec<u64>,
    pub kernel: u64,
    pub user: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct Throttling {
    #[serde(skip_serializing_if = "zero")]
    pub periods: u64,
    #[serde(rename = "throttledPeriods", skip_serializing_if = "zero")]
    pub throttled_periods: u64,
    /// Nanoseconds.
    #[serde(rename = "throttledTime", skip_serializing_if = "zero")]
    pub throttled_time: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct CpuSet {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cpus: Vec<u16>,
    pub cpu_exclusive: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mems: Vec<u16>,
    pub mem_hardwall: u64,
    pub mem_exclusive: u64,
    pub memory_migrate: u64,
    pub memory_spread_page: u64,
    pub memory_spread_slab: u64,
    pub memory_pressure: u64,
    pub sched_load_balance: u64,
    pub sched_relax_domain_level: i64,
}

/// One counter family: `usage`, its peak `max`, the `limit` and how often it was hit.
#[derive(Debug, Default, Serialize)]
pub struct MemoryEntry {
    pub limit: u64,
    #[serde(skip_serializing_if = "zero")]
    pub usage: u64,
    #[serde(skip_serializing_if = "zero")]
    pub max: u64,
    pub failcnt: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct Memory {
    #[serde(skip_serializing_if = "zero")]
    pub cache: u64,
    pub usage: MemoryEntry,
    pub swap: MemoryEntry,
    pub kernel: MemoryEntry,
    #[serde(rename = "kernelTCP")]
    pub kernel_tcp: MemoryEntry,
    /// memory.stat, every key.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub raw: BTreeMap<String, u64>,
}

#[derive(Debug, Default, Serialize)]
pub struct Pids {
    #[serde(skip_serializing_if = "zero")]
    pub current: u64,
    /// 0 when unlimited.
    #[serde(skip_serializing_if = "zero")]
    pub limit: u64,
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct BlkioEntry {
    #[serde(skip_serializing_if = "zero")]
    pub major: u64,
    #[serde(skip_serializing_if = "zero")]
    pub minor: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub op: String,
    #[serde(skip_serializing_if = "zero")]
    pub value: u64,
}

/// Entries per device and operation; which lists are filled depends on the I/O
/// scheduler (v1) or is fixed (v2: bytes and operations).
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Blkio {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_serviced_recursive: Vec<BlkioEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_queue_recursive: Vec<BlkioEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_service_time_recursive: Vec<BlkioEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_wait_time_recursive: Vec<BlkioEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_merged_recursive: Vec<BlkioEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_time_recursive: Vec<BlkioEntry>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sectors_recursive: Vec<BlkioEntry>,
}

#[derive(Debug, Default, Serialize)]
pub struct Hugetlb {
    #[serde(skip_serializing_if = "zero")]
    pub usage: u64,
    #[serde(skip_serializing_if = "zero")]
    pub max: u64,
    pub failcnt: u64,
}

impl Cgroup {
    /// The cgroup's usage and limits now.
    pub fn stats(&self) -> Stats {
        match self.version {
            Version::V1 => v1::stats(self),
            Version::V2 => v2::stats(&self.dirs[0].path),
        }
    }

    /// How many times the cgroup ran out of memory so far: v2's `oom` count in
    /// memory.events; on v1, memory.oom_control's `oom_kill` plus `under_oom` (1 while
    /// a cgroup whose OOM killer is off sits at its limit).
    pub fn oom_count(&self) -> u64 {
        let Some(dir) = self.dir_of("memory") else {
            return 0;
        };
        match self.version {
            Version::V2 => keyed(&dir.join("memory.events"))
                .get("oom")
                .copied()
                .unwrap_or(0),
            Version::V1 => {
                let m = keyed(&dir.join("memory.oom_control"));
                m.get("oom_kill").unwrap_or(&0) + m.get("under_oom").unwrap_or(&0)
            }
        }
    }
}

/// A file holding one number (`max` and an unreadable file read as 0).
fn num(path: &Path) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// A file of `key value` lines (memory.stat, cpu.stat, memory.events).
fn keyed(path: &Path) -> BTreeMap<String, u64> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect()
}

/// The kernel's list syntax (`0-3,5`) as the numbers it names.
fn list(text: &str) -> Vec<u16> {
    let mut out = vec![];
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        if let (Ok(a), Ok(b)) = (a.parse::<u16>(), b.parse::<u16>()) {
            out.extend(a..=b);
        }
    }
    out
}

/// The page sizes the kernel has hugetlb files for, as hugetlb names them (`2MB`).
fn hugepage_sizes(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let size = name
                .strip_prefix("hugetlb.")?
                .split('.')
                .next()?
                .to_string();
            (size.ends_with('B') && !size.is_empty()).then_some(size)
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        assert_eq!(list("0-2,5\n"), [0, 1, 2, 5]);
        assert!(list("").is_empty());
    }

    #[test]
    fn zeros_left_out_as_runc_does() {
        let v = serde_json::to_value(Stats::default()).unwrap();
        assert_eq!(
            v["cpu"],
            serde_json::json!({ "usage": { "kernel": 0, "user": 0 }, "throttling": {} })
        );
        assert_eq!(
            v["memory"]["kernelTCP"],
            serde_json::json!({ "limit": 0, "failcnt": 0 })
        );
        assert_eq!(v["pids"], serde_json::json!({}));
        assert_eq!(v["blkio"], serde_json::json!({}));
        assert!(v["network_interfaces"].is_null());
    }
}
