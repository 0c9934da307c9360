//! Cgroup fields past memory/cpu/pids/devices: blockIO, hugepageLimits, rdma, network,
//! unified. Each is read from inside the container (its cgroup mount) and from the host
//! where the host has the controller, and refused with the field named (nothing left)
//! where it has not: the same cases run on the v1 build host (no hugetlb, rdma, net_cls
//! or net_prio hierarchy) and in the v2 guest.

use super::cgroups::{cg_config, refused_no_cgroup};
use super::{ensure, run_script};
use crate::ctx::{cgroup_dirs, systemd_cgroup, Ctx};
use crate::loopdev::LoopDev;
use crate::{Case, CaseResult};
use serde_json::{json, Value};
use std::path::Path;

pub fn cases() -> Vec<Case> {
    vec![
        Case::new("cgroup_blkio_weight_and_throttle", blkio),
        Case::new("cgroup_blkio_weight_device", blkio_weight_device),
        Case::new("cgroup_hugetlb_limits", hugetlb),
        Case::new("cgroup_hugetlb_bad_size_refused", hugetlb_bad_size),
        Case::new("cgroup_rdma_unknown_device_refused", rdma),
        Case::new("cgroup_network_classid_priorities", network),
        Case::new("cgroup_unified_written", unified),
        Case::new("cgroup_unified_missing_file_refused", unified_missing),
        // runc writes both and the unified value wins; corral refuses the overlap.
        Case::corral(
            "cgroup_unified_conflict_refused",
            "unified keys that overlap typed resources refused",
            unified_conflict,
        ),
    ]
}

fn v2() -> bool {
    Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// Whether a container below this process's cgroup (with `--systemd-cgroup`: a scope in
/// `system.slice`) can have controller `c`.
fn has_controller(c: &str) -> bool {
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    if systemd_cgroup() {
        let list = std::fs::read_to_string("/sys/fs/cgroup/system.slice/cgroup.controllers");
        return list.unwrap_or_default().split_whitespace().any(|x| x == c);
    }
    if v2() {
        let path = own
            .lines()
            .find_map(|l| l.strip_prefix("0::"))
            .unwrap_or("/");
        let dir = Path::new("/sys/fs/cgroup").join(path.trim_start_matches('/'));
        let list = std::fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
        return list.split_whitespace().any(|x| x == c);
    }
    own.lines().any(|l| {
        l.split(':')
            .nth(1)
            .is_some_and(|list| list.split(',').any(|x| x == c))
    })
}

/// The lines of a control file, `;`-joined ("MISSING" when absent).
fn lines_of(text: Option<String>) -> String {
    match text {
        Some(t) => t.lines().collect::<Vec<_>>().join(";"),
        None => "MISSING".into(),
    }
}

/// Each of `files` as the container sees it (in its cgroup mount: v2's top or any v1
/// hierarchy) and as the host sees it (the container's cgroup dirs), for a container
/// made from `cfg` whose relative cgroupsPath is `name`. Then checks both against
/// `want`: for each (file, line), `line` is one of the file's lines.
fn check_files(cx: &mut Ctx, cfg: &Value, name: &str, want: &[(String, String)]) -> CaseResult {
    let mut files: Vec<&str> = want.iter().map(|(f, _)| f.as_str()).collect();
    files.dedup();
    let script = format!(
        "for f in {}; do p=$(ls -d /sys/fs/cgroup/$f /sys/fs/cgroup/*/$f 2>/dev/null | head -n1); \
         if [ -n \"$p\" ]; then echo \"$f=$(tr '\\n' ';' < $p)\"; else echo \"$f=MISSING\"; fi; done",
        files.join(" ")
    );
    let out = run_script(cx, cfg.clone(), &script)?;
    let inside = |f: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(f)?.strip_prefix('='))
            .map(|v| v.trim_end_matches(';').to_string())
            .unwrap_or_else(|| "MISSING".into())
    };
    let b = cx.bundle(cfg)?;
    cx.rt(&["create", "--bundle", &b.to_string_lossy(), "c2"])
        .ok("create")?;
    let dirs = cgroup_dirs(name);
    let host = |f: &str| {
        lines_of(
            dirs.iter()
                .find_map(|d| std::fs::read_to_string(d.join(f)).ok()),
        )
    };
    let seen: Vec<(String, String, String)> = files
        .iter()
        .map(|f| (f.to_string(), inside(f), host(f)))
        .collect();
    cx.rt(&["delete", "--force", "c2"]).ok("delete")?;
    for (f, line) in want {
        let (_, i, h) = seen.iter().find(|(x, _, _)| x == f).expect("file listed");
        for (where_, v) in [("inside", i), ("host", h)] {
            ensure!(
                v.split(';').any(|l| l.trim() == line),
                "{where_}: {f} is {v:?}, want a line {line:?}"
            );
        }
    }
    let left: Vec<_> = dirs.iter().filter(|d| d.exists()).collect();
    ensure!(left.is_empty(), "after delete: {left:?} still there");
    Ok(())
}

fn want(pairs: &[(&str, String)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(f, l)| (f.to_string(), l.clone()))
        .collect()
}

fn blkio(cx: &mut Ctx) -> CaseResult {
    let dev = LoopDev::attach(&cx.dir)?;
    let d = |rate: u64| json!([{ "major": dev.major, "minor": dev.minor, "rate": rate }]);
    let mut res = json!({ "blockIO": {
        "throttleReadBpsDevice": d(1048576), "throttleWriteBpsDevice": d(2097152),
        "throttleReadIOPSDevice": d(100), "throttleWriteIOPSDevice": d(200)
    }});
    let mm = format!("{}:{}", dev.major, dev.minor);
    let mut w = if v2() {
        want(&[(
            "io.max",
            format!("{mm} rbps=1048576 wbps=2097152 riops=100 wiops=200"),
        )])
    } else {
        want(&[
            ("blkio.throttle.read_bps_device", format!("{mm} 1048576")),
            ("blkio.throttle.write_bps_device", format!("{mm} 2097152")),
            ("blkio.throttle.read_iops_device", format!("{mm} 100")),
            ("blkio.throttle.write_iops_device", format!("{mm} 200")),
        ])
    };
    // BFQ takes the weight as it is; v2's io.weight gets runc's conversion of 300 to its
    // 1..10000 scale: 1 + (300 - 10) * 9999 / 990 = 2930. CFQ's blkio.weight is gone
    // since Linux 5.0: a v1 kernel without BFQ has no weight at all.
    let weight = match (v2(), bfq_in_kernel()) {
        (true, true) => Some(("io.bfq.weight", "default 300")),
        (true, false) => Some(("io.weight", "default 2930")),
        _ if Path::new("/sys/fs/cgroup/blkio/blkio.weight").exists() => {
            Some(("blkio.weight", "300"))
        }
        (false, true) => Some(("blkio.bfq.weight", "300")),
        (false, false) => None,
    };
    match weight {
        Some((f, line)) => {
            res["blockIO"]["weight"] = json!(300);
            w.push((f.to_string(), line.to_string()));
        }
        None => {
            let (cfg, name) = cg_config(cx, "blkio-w", json!({ "blockIO": { "weight": 300 } }));
            refused_no_cgroup(cx, &cfg, &name, "linux.resources.blockIO.weight")?;
        }
    }
    let (cfg, name) = cg_config(cx, "blkio", res);
    check_files(cx, &cfg, &name, &w)
}

/// BFQ is in the kernel (built in or loaded): then cgroups have its weight files.
fn bfq_in_kernel() -> bool {
    std::fs::read_dir("/sys/block")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("queue/scheduler")).ok())
        .any(|s| {
            s.split_whitespace()
                .any(|x| x.trim_matches(['[', ']']) == "bfq")
        })
}

fn blkio_weight_device(cx: &mut Ctx) -> CaseResult {
    let mut dev = LoopDev::attach(&cx.dir)?;
    let mm = format!("{}:{}", dev.major, dev.minor);
    let res = json!({ "blockIO": { "weightDevice": [
        { "major": dev.major, "minor": dev.minor, "weight": 300 }] } });
    let (cfg, name) = cg_config(cx, "blkio-dev", res);
    // A per-device weight needs BFQ on the device; without BFQ, v2's io.weight takes it
    // once the iocost controller is on for the device (root's io.cost.qos).
    if dev.set_scheduler("bfq")? {
        let f = if v2() {
            "io.bfq.weight"
        } else if Path::new("/sys/fs/cgroup/blkio/blkio.weight_device").exists() {
            "blkio.weight_device"
        } else {
            "blkio.bfq.weight_device"
        };
        return check_files(cx, &cfg, &name, &want(&[(f, format!("{mm} 300"))]));
    }
    if !v2() {
        // No BFQ on a v1 kernel: no file takes a device weight.
        let says = "linux.resources.blockIO.weightDevice[0].weight";
        return refused_no_cgroup(cx, &cfg, &name, says);
    }
    let qos = "/sys/fs/cgroup/io.cost.qos";
    std::fs::write(qos, format!("{mm} enable=1")).map_err(|e| format!("{qos}: {e}"))?;
    if !cx.is_corral {
        // runc 1.1.5 drops per-device weights when BFQ is not loaded (no error, nothing
        // written): only check that it still runs the container.
        return run_script(cx, cfg, "true").map(|_| ());
    }
    check_files(
        cx,
        &cfg,
        &name,
        &want(&[("io.weight", format!("{mm} 2930"))]),
    )
}

/// The host's huge page sizes as the kernel names them (2MB, 1GB), with their bytes.
fn page_sizes() -> Vec<(String, u64)> {
    let mut kbs: Vec<u64> = std::fs::read_dir("/sys/kernel/mm/hugepages")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().into_string().ok()?;
            n.strip_prefix("hugepages-")?
                .strip_suffix("kB")?
                .parse()
                .ok()
        })
        .collect();
    kbs.sort_unstable();
    kbs.into_iter()
        .map(|k| {
            let name = match k {
                k if k >= 1 << 20 => format!("{}GB", k >> 20),
                k if k >= 1 << 10 => format!("{}MB", k >> 10),
                k => format!("{k}KB"),
            };
            (name, k << 10)
        })
        .collect()
}

fn hugetlb(cx: &mut Ctx) -> CaseResult {
    let sizes = page_sizes();
    ensure!(
        !sizes.is_empty(),
        "no huge page sizes in /sys/kernel/mm/hugepages"
    );
    // Two pages of each size: the kernel rounds a limit down to whole pages.
    let limits: Vec<Value> = sizes
        .iter()
        .map(|(s, bytes)| json!({ "pageSize": s, "limit": 2 * bytes }))
        .collect();
    let (cfg, name) = cg_config(cx, "hugetlb", json!({ "hugepageLimits": limits }));
    if !has_controller("hugetlb") {
        return refused_no_cgroup(cx, &cfg, &name, "linux.resources.hugepageLimits");
    }
    let suffix = if v2() { "max" } else { "limit_in_bytes" };
    let mut w = vec![];
    for (s, bytes) in &sizes {
        w.push((format!("hugetlb.{s}.{suffix}"), (2 * bytes).to_string()));
    }
    // The reservation limit too (Linux 5.7+): the spec's limit is on reservations when
    // the kernel accounts them. runc 1.1.5 does not write it: corral only.
    if cx.is_corral && kernel_at_least(5, 7) {
        let (s, bytes) = &sizes[0];
        w.push((
            format!("hugetlb.{s}.rsvd.{suffix}"),
            (2 * bytes).to_string(),
        ));
    }
    check_files(cx, &cfg, &name, &w)
}

/// The running kernel is at least `major.minor`.
fn kernel_at_least(major: u32, minor: u32) -> bool {
    let r = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut it = r
        .trim()
        .split(['.', '-'])
        .map(|p| p.parse::<u32>().unwrap_or(0));
    (it.next().unwrap_or(0), it.next().unwrap_or(0)) >= (major, minor)
}

fn hugetlb_bad_size(cx: &mut Ctx) -> CaseResult {
    let res = json!({ "hugepageLimits": [{ "pageSize": "3MB", "limit": 4194304 }] });
    let (cfg, name) = cg_config(cx, "hugetlb-bad", res);
    let says = if has_controller("hugetlb") {
        "linux.resources.hugepageLimits[0].pageSize"
    } else {
        "linux.resources.hugepageLimits"
    };
    refused_no_cgroup(cx, &cfg, &name, says)
}

fn rdma(cx: &mut Ctx) -> CaseResult {
    // No host here has an RDMA device: the controller (where there is one) refuses it.
    let res = json!({ "rdma": { "corral_nodev": { "hcaHandles": 3, "hcaObjects": 100 } } });
    let (cfg, name) = cg_config(cx, "rdma", res);
    refused_no_cgroup(cx, &cfg, &name, "linux.resources.rdma")
}

fn network(cx: &mut Ctx) -> CaseResult {
    // lo exists in the container's new network namespace, and the runtime's.
    let res = json!({ "network": { "classID": 1048577,
                                   "priorities": [{ "name": "lo", "priority": 5 }] } });
    let (cfg, name) = cg_config(cx, "net", res);
    if v2() {
        if !cx.is_corral {
            // runc 1.1.5 ignores network on v2 without a word; the spec wants an error
            // (no conversion exists), which corral gives.
            return run_script(cx, cfg, "true").map(|_| ());
        }
        return refused_no_cgroup(cx, &cfg, &name, "linux.resources.network.classID");
    }
    if !has_controller("net_cls") {
        return refused_no_cgroup(cx, &cfg, &name, "linux.resources.network.classID");
    }
    if !has_controller("net_prio") {
        return refused_no_cgroup(cx, &cfg, &name, "linux.resources.network.priorities");
    }
    let w = want(&[
        ("net_cls.classid", "1048577".into()),
        ("net_prio.ifpriomap", "lo 5".into()),
    ]);
    check_files(cx, &cfg, &name, &w)
}

fn unified(cx: &mut Ctx) -> CaseResult {
    let res = json!({ "memory": { "limit": 67108864 },
                      "unified": { "memory.high": "33554432", "pids.max": "20" } });
    let (cfg, name) = cg_config(cx, "unified", res);
    if !v2() {
        return refused_no_cgroup(cx, &cfg, &name, "linux.resources.unified");
    }
    let w = want(&[
        ("memory.high", "33554432".into()),
        ("pids.max", "20".into()),
        ("memory.max", "67108864".into()),
    ]);
    check_files(cx, &cfg, &name, &w)
}

fn unified_missing(cx: &mut Ctx) -> CaseResult {
    let res = json!({ "unified": { "memory.no_such_file": "1" } });
    let (cfg, name) = cg_config(cx, "unified-missing", res);
    let says = if v2() {
        "linux.resources.unified[\"memory.no_such_file\"]"
    } else {
        "linux.resources.unified"
    };
    // With --systemd-cgroup the file is written once the scope holds the init: the
    // refusal must end the init with the scope, not wait out systemd's stop timeout
    // (corral took 60 s). A refused create takes a few seconds in the loaded guest.
    let t = std::time::Instant::now();
    refused_no_cgroup(cx, &cfg, &name, says)?;
    let took = t.elapsed().as_secs();
    ensure!(took < 30, "the refused create took {took} s");
    Ok(())
}

fn unified_conflict(cx: &mut Ctx) -> CaseResult {
    for (what, res, key) in [
        (
            "conflict",
            json!({ "memory": { "limit": 67108864 }, "unified": { "memory.max": "33554432" } }),
            "memory.max",
        ),
        (
            "slash",
            json!({ "unified": { "../memory.max": "1" } }),
            "../memory.max",
        ),
        (
            "procs",
            json!({ "unified": { "cgroup.procs": "1" } }),
            "cgroup.procs",
        ),
    ] {
        let (cfg, name) = cg_config(cx, &format!("unified-{what}"), res);
        let says = if v2() {
            format!("linux.resources.unified[{key:?}]")
        } else {
            "linux.resources.unified".to_string()
        };
        refused_no_cgroup(cx, &cfg, &name, &says)?;
    }
    Ok(())
}
