//! Usage on v2: the one directory's files, mapped onto runc's (v1-shaped) fields as
//! runc does: times in nanoseconds, swap reported as memory + swap.

use super::{hugepage_sizes, keyed, list, num, Blkio, BlkioEntry, Hugetlb, Memory};
use super::{MemoryEntry, Pids, Stats};
use std::collections::BTreeMap;
use std::path::Path;

pub(super) fn stats(d: &Path) -> Stats {
    let mut s = Stats::default();
    let cpu = keyed(&d.join("cpu.stat"));
    let us = |k: &str| cpu.get(k).copied().unwrap_or(0) * 1000;
    s.cpu.usage.total = us("usage_usec");
    s.cpu.usage.user = us("user_usec");
    s.cpu.usage.kernel = us("system_usec");
    s.cpu.throttling.periods = cpu.get("nr_periods").copied().unwrap_or(0);
    s.cpu.throttling.throttled_periods = cpu.get("nr_throttled").copied().unwrap_or(0);
    s.cpu.throttling.throttled_time = us("throttled_usec");
    let text = |name: &str| std::fs::read_to_string(d.join(name)).unwrap_or_default();
    s.cpuset.cpus = list(&text("cpuset.cpus.effective"));
    s.cpuset.mems = list(&text("cpuset.mems.effective"));
    s.memory = memory(d);
    s.pids = Pids {
        current: num(&d.join("pids.current")),
        limit: num(&d.join("pids.max")),
    };
    s.blkio = io(&text("io.stat"));
    s.hugetlb = hugetlb(d);
    s
}

/// A limit file: `max` is the largest number, as runc reports it.
fn limit(path: &Path) -> u64 {
    match std::fs::read_to_string(path) {
        Ok(t) if t.trim() == "max" => u64::MAX,
        Ok(t) => t.trim().parse().unwrap_or(0),
        Err(_) => 0,
    }
}

fn memory(d: &Path) -> Memory {
    let raw = keyed(&d.join("memory.stat"));
    let events = keyed(&d.join("memory.events"));
    let usage = MemoryEntry {
        limit: limit(&d.join("memory.max")),
        usage: num(&d.join("memory.current")),
        max: num(&d.join("memory.peak")),
        failcnt: events.get("max").copied().unwrap_or(0),
    };
    // v1 counts swap as memory + swap; v2 counts swap alone.
    let swap_limit = limit(&d.join("memory.swap.max"));
    let swap = MemoryEntry {
        limit: match swap_limit {
            u64::MAX => u64::MAX,
            l => l.saturating_add(usage.limit),
        },
        usage: num(&d.join("memory.swap.current")) + usage.usage,
        max: 0,
        failcnt: 0,
    };
    Memory {
        cache: raw.get("file").copied().unwrap_or(0),
        usage,
        swap,
        raw,
        ..Memory::default()
    }
}

/// io.stat: `MAJ:MIN rbytes=N wbytes=N rios=N wios=N dbytes=N dios=N` per device.
fn io(text: &str) -> Blkio {
    let mut b = Blkio::default();
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let Some((maj, min)) = f.next().and_then(|d| d.split_once(':')) else {
            continue;
        };
        let (Ok(major), Ok(minor)) = (maj.parse(), min.parse()) else {
            continue;
        };
        for kv in f {
            let Some((k, v)) = kv.split_once('=') else {
                continue;
            };
            let (list, op) = match k {
                "rbytes" => (&mut b.io_service_bytes_recursive, "Read"),
                "wbytes" => (&mut b.io_service_bytes_recursive, "Write"),
                "rios" => (&mut b.io_serviced_recursive, "Read"),
                "wios" => (&mut b.io_serviced_recursive, "Write"),
                _ => continue,
            };
            list.push(BlkioEntry {
                major,
                minor,
                op: op.into(),
                value: v.parse().unwrap_or(0),
            });
        }
    }
    b
}

fn hugetlb(d: &Path) -> BTreeMap<String, Hugetlb> {
    hugepage_sizes(d)
        .into_iter()
        .map(|size| {
            let events = keyed(&d.join(format!("hugetlb.{size}.events")));
            let h = Hugetlb {
                usage: num(&d.join(format!("hugetlb.{size}.current"))),
                max: 0,
                failcnt: events.get("max").copied().unwrap_or(0),
            };
            (size, h)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_stat_lines() {
        let b = io("8:0 rbytes=4096 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n");
        assert_eq!(b.io_service_bytes_recursive.len(), 2);
        assert_eq!(b.io_service_bytes_recursive[0].op, "Read");
        assert_eq!(b.io_service_bytes_recursive[0].value, 4096);
        assert_eq!(
            (
                b.io_serviced_recursive[0].major,
                b.io_serviced_recursive[0].minor
            ),
            (8, 0)
        );
    }
}
