//! Usage on v1: each controller's files in its own hierarchy.

use super::{hugepage_sizes, keyed, list, num, Blkio, BlkioEntry, Cpu, CpuSet, Hugetlb};
use super::{Memory, MemoryEntry, Pids, Stats};
use crate::Cgroup;
use std::collections::BTreeMap;
use std::path::Path;

pub(super) fn stats(cg: &Cgroup) -> Stats {
    let mut s = Stats::default();
    if let Some(d) = cg.dir_of("cpuacct") {
        cpuacct(d, &mut s.cpu);
    }
    if let Some(d) = cg.dir_of("cpu") {
        let st = keyed(&d.join("cpu.stat"));
        let t = &mut s.cpu.throttling;
        t.periods = st.get("nr_periods").copied().unwrap_or(0);
        t.throttled_periods = st.get("nr_throttled").copied().unwrap_or(0);
        t.throttled_time = st.get("throttled_time").copied().unwrap_or(0);
    }
    if let Some(d) = cg.dir_of("cpuset") {
        s.cpuset = cpuset(d);
    }
    if let Some(d) = cg.dir_of("memory") {
        s.memory = memory(d);
    }
    if let Some(d) = cg.dir_of("pids") {
        s.pids = Pids {
            current: num(&d.join("pids.current")),
            limit: num(&d.join("pids.max")),
        };
    }
    if let Some(d) = cg.dir_of("blkio") {
        s.blkio = blkio(d);
    }
    if let Some(d) = cg.dir_of("hugetlb") {
        s.hugetlb = hugetlb(d);
    }
    s
}

fn numbers(path: &Path) -> Vec<u64> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect()
}

fn cpuacct(d: &Path, cpu: &mut Cpu) {
    let u = &mut cpu.usage;
    u.total = num(&d.join("cpuacct.usage"));
    u.percpu = numbers(&d.join("cpuacct.usage_percpu"));
    // cpuacct.usage_all: a header, then "cpu user system" in nanoseconds per cpu.
    let all = std::fs::read_to_string(d.join("cpuacct.usage_all")).unwrap_or_default();
    for line in all.lines().skip(1) {
        let f: Vec<u64> = line
            .split_whitespace()
            .filter_map(|n| n.parse().ok())
            .collect();
        if let [_, user, system] = f[..] {
            u.percpu_user.push(user);
            u.percpu_kernel.push(system);
        }
    }
    // cpuacct.stat counts clock ticks.
    let hz = match nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK) {
        Ok(Some(n)) => u64::try_from(n).ok().filter(|n| *n > 0).unwrap_or(100),
        _ => 100,
    };
    let st = keyed(&d.join("cpuacct.stat"));
    let ns = |k: &str| st.get(k).copied().unwrap_or(0) * (1_000_000_000 / hz);
    u.user = ns("user");
    u.kernel = ns("system");
}

fn cpuset(d: &Path) -> CpuSet {
    let f = |name: &str| num(&d.join(format!("cpuset.{name}")));
    let text = |name: &str| std::fs::read_to_string(d.join(name)).unwrap_or_default();
    CpuSet {
        cpus: list(&text("cpuset.cpus")),
        cpu_exclusive: f("cpu_exclusive"),
        mems: list(&text("cpuset.mems")),
        mem_hardwall: f("mem_hardwall"),
        mem_exclusive: f("mem_exclusive"),
        memory_migrate: f("memory_migrate"),
        memory_spread_page: f("memory_spread_page"),
        memory_spread_slab: f("memory_spread_slab"),
        memory_pressure: f("memory_pressure"),
        sched_load_balance: f("sched_load_balance"),
        sched_relax_domain_level: text("cpuset.sched_relax_domain_level")
            .trim()
            .parse()
            .unwrap_or(0),
    }
}

/// `memory.<prefix>usage_in_bytes` and its siblings.
fn entry(d: &Path, prefix: &str) -> MemoryEntry {
    let f = |name: &str| num(&d.join(format!("memory.{prefix}{name}")));
    MemoryEntry {
        limit: f("limit_in_bytes"),
        usage: f("usage_in_bytes"),
        max: f("max_usage_in_bytes"),
        failcnt: f("failcnt"),
    }
}

fn memory(d: &Path) -> Memory {
    let raw = keyed(&d.join("memory.stat"));
    Memory {
        cache: raw.get("cache").copied().unwrap_or(0),
        usage: entry(d, ""),
        swap: entry(d, "memsw."),
        kernel: entry(d, "kmem."),
        kernel_tcp: entry(d, "kmem.tcp."),
        raw,
    }
}

/// `MAJ:MIN Op value` lines (or `MAJ:MIN value`); the `Total` line is left out.
fn blkio_entries(path: &Path) -> Vec<BlkioEntry> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (maj, min) = f.first()?.split_once(':')?;
            let (op, value) = match f[..] {
                [_, op, v] => (op.to_string(), v),
                [_, v] => (String::new(), v),
                _ => return None,
            };
            Some(BlkioEntry {
                major: maj.parse().ok()?,
                minor: min.parse().ok()?,
                op,
                value: value.parse().ok()?,
            })
        })
        .collect()
}

/// The first family of files the kernel fills (its first file has entries), as runc
/// picks it: BFQ, then CFQ, then the throttle counters (recursive, then not).
fn blkio(d: &Path) -> Blkio {
    type Field = fn(&mut Blkio) -> &mut Vec<BlkioEntry>;
    let groups: [&[(&str, Field)]; 4] = [
        &[
            ("blkio.bfq.io_serviced_recursive", |b| {
                &mut b.io_serviced_recursive
            }),
            ("blkio.bfq.io_service_bytes_recursive", |b| {
                &mut b.io_service_bytes_recursive
            }),
        ],
        &[
            ("blkio.io_serviced_recursive", |b| {
                &mut b.io_serviced_recursive
            }),
            ("blkio.io_service_bytes_recursive", |b| {
                &mut b.io_service_bytes_recursive
            }),
            ("blkio.sectors_recursive", |b| &mut b.sectors_recursive),
            ("blkio.io_service_time_recursive", |b| {
                &mut b.io_service_time_recursive
            }),
            ("blkio.io_wait_time_recursive", |b| {
                &mut b.io_wait_time_recursive
            }),
            ("blkio.io_merged_recursive", |b| &mut b.io_merged_recursive),
            ("blkio.io_queued_recursive", |b| &mut b.io_queue_recursive),
            ("blkio.time_recursive", |b| &mut b.io_time_recursive),
        ],
        &[
            ("blkio.throttle.io_serviced_recursive", |b| {
                &mut b.io_serviced_recursive
            }),
            ("blkio.throttle.io_service_bytes_recursive", |b| {
                &mut b.io_service_bytes_recursive
            }),
        ],
        &[
            ("blkio.throttle.io_serviced", |b| {
                &mut b.io_serviced_recursive
            }),
            ("blkio.throttle.io_service_bytes", |b| {
                &mut b.io_service_bytes_recursive
            }),
        ],
    ];
    let mut out = Blkio::default();
    for group in groups {
        if blkio_entries(&d.join(group[0].0)).is_empty() {
            continue;
        }
        for (file, field) in group {
            *field(&mut out) = blkio_entries(&d.join(file));
        }
        break;
    }
    out
}

fn hugetlb(d: &Path) -> BTreeMap<String, Hugetlb> {
    hugepage_sizes(d)
        .into_iter()
        .map(|size| {
            let f = |name: &str| num(&d.join(format!("hugetlb.{size}.{name}")));
            let h = Hugetlb {
                usage: f("usage_in_bytes"),
                max: f("max_usage_in_bytes"),
                failcnt: f("failcnt"),
            };
            (size, h)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blkio_lines() {
        let dir = std::env::temp_dir().join(format!("corral-blkio-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("blkio.throttle.io_service_bytes_recursive");
        std::fs::write(&f, "8:0 Read 4096\n8:0 Write 512\nTotal 4608\n").unwrap();
        std::fs::write(
            dir.join("blkio.throttle.io_serviced_recursive"),
            "8:0 Read 1\n",
        )
        .unwrap();
        let b = blkio(&dir);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(b.io_service_bytes_recursive.len(), 2);
        assert_eq!(b.io_service_bytes_recursive[1].op, "Write");
        assert_eq!(b.io_service_bytes_recursive[1].value, 512);
        assert_eq!(b.io_serviced_recursive[0].value, 1);
        assert!(b.sectors_recursive.is_empty());
    }
}
