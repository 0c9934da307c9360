//! `update` (limits changed live, read back inside the container and on the host) and
//! `events` (statistics with the container's limits, an `oom` event in the stream).

use super::cgroup_ops::run_detached;
use super::cgroups::{cg_config, read, DIRS};
use super::{ensure, field};
use crate::ctx::{cgroup_dirs, Ctx};
use crate::{Case, CaseResult};
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

pub fn cases() -> Vec<Case> {
    vec![
        Case::new("cgroup_update_memory_pids_live", update_live),
        Case::new("cgroup_update_raises_memory_and_swap", update_swap),
        Case::new("cgroup_update_bad_json_names_field", update_bad_json),
        Case::new("cgroup_events_stats_usage_and_limits", events_stats),
        Case::new("cgroup_events_stream_oom", events_oom),
    ]
}

const MB: i64 = 1 << 20;

/// Copies the memory and pids limits it sees into /tmp/lim, 20 times a second.
fn watcher() -> String {
    format!(
        "{DIRS} while true; do if [ $V = 2 ]; then m=$(cat $M/memory.max); \
         else m=$(cat $M/memory.limit_in_bytes); fi; \
         printf 'mem=%s\\npids=%s\\n' $m $(cat $P/pids.max) > /tmp/lim.new; \
         mv /tmp/lim.new /tmp/lim; sleep 0.05; done"
    )
}

/// Waits (at most 10 s) until the container's /tmp/lim shows `mem` and `pids`.
fn sees(b: &Path, mem: i64, pids: i64) -> CaseResult {
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(b.join("rootfs/tmp/lim")).unwrap_or_default();
        if field(&text, "mem") == Some(&mem.to_string())
            && field(&text, "pids") == Some(&pids.to_string())
        {
            return Ok(());
        }
        if start.elapsed() > crate::PATIENCE {
            return Err(format!("inside: {text:?}, want mem={mem} pids={pids}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn limited(cx: &mut Ctx, what: &str, script: &str) -> (Value, String) {
    let res = json!({ "memory": { "limit": 32 * MB }, "pids": { "limit": 30 } });
    let (mut cfg, name) = cg_config(cx, what, res);
    cfg["process"]["args"] = json!(["sh", "-c", script]);
    (cfg, name)
}

fn update_live(cx: &mut Ctx) -> CaseResult {
    let (cfg, _) = limited(cx, "update", &watcher());
    let (b, _) = run_detached(cx, &cfg, "c1")?;
    sees(&b, 32 * MB, 30)?;
    cx.rt(&["update", "--memory", "64m", "--pids-limit", "20", "c1"])
        .ok("update with flags")?;
    sees(&b, 64 * MB, 20)?;
    // containerd's shim: the resources as JSON, from a file or on stdin.
    let file = cx.dir.join("res.json");
    std::fs::write(&file, json!({ "memory": { "limit": 48 * MB } }).to_string())
        .map_err(|e| e.to_string())?;
    cx.rt(&["update", "-r", &file.to_string_lossy(), "c1"])
        .ok("update -r FILE")?;
    sees(&b, 48 * MB, 20)?;
    let stdin = json!({ "pids": { "limit": 25 } }).to_string();
    cx.rt_with_stdin(&["update", "--resources", "-", "c1"], &stdin)
        .ok("update --resources -")?;
    sees(&b, 48 * MB, 25)?;
    Ok(())
}

/// The host's file `f` of the container's cgroup, if this host has it.
fn host_file(name: &str, f: &str) -> Option<std::path::PathBuf> {
    cgroup_dirs(name)
        .into_iter()
        .map(|d| d.join(f))
        .find(|p| p.exists())
}

fn update_swap(cx: &mut Ctx) -> CaseResult {
    let (cfg, name) = limited(cx, "swap", "sleep 100");
    run_detached(cx, &cfg, "c1")?;
    // memory + swap above the old one: on v1 the kernel takes it only before the limit.
    let (v1, v2) = (
        host_file(&name, "memory.memsw.limit_in_bytes"),
        host_file(&name, "memory.swap.max"),
    );
    if v1.is_none() && v2.is_none() {
        // No swap accounting here: the memory limit alone.
        cx.rt(&["update", "--memory", "128m", "c1"])
            .ok("update --memory")?;
    } else {
        cx.rt(&["update", "--memory", "32m", "--memory-swap", "64m", "c1"])
            .ok("update 32m/64m")?;
        cx.rt(&["update", "--memory", "128m", "--memory-swap", "256m", "c1"])
            .ok("update 128m/256m")?;
        let (path, want) = match (v1, v2) {
            (Some(p), _) => (p, 256 * MB),
            (_, Some(p)) => (p, 128 * MB),
            _ => unreachable!(),
        };
        ensure!(
            read(&path) == want.to_string(),
            "{}: {}, want {want}",
            path.display(),
            read(&path)
        );
    }
    let mem = host_file(&name, "memory.limit_in_bytes").or_else(|| host_file(&name, "memory.max"));
    let mem = mem.ok_or("no memory limit file on the host")?;
    ensure!(
        read(&mem) == (128 * MB).to_string(),
        "{}: {}",
        mem.display(),
        read(&mem)
    );
    Ok(())
}

fn update_bad_json(cx: &mut Ctx) -> CaseResult {
    let (cfg, name) = limited(cx, "badjson", "sleep 100");
    run_detached(cx, &cfg, "c1")?;
    let file = cx.dir.join("bad.json");
    std::fs::write(&file, r#"{ "memory": { "limit": "lots" } }"#).map_err(|e| e.to_string())?;
    let o = cx.rt(&["update", "-r", &file.to_string_lossy(), "c1"]);
    o.failed("update with a string memory.limit")?;
    ensure!(
        o.stderr.contains("memory.limit"),
        "error does not name memory.limit: {}",
        o.stderr.trim()
    );
    let mem = host_file(&name, "memory.limit_in_bytes").or_else(|| host_file(&name, "memory.max"));
    let mem = mem.ok_or("no memory limit file on the host")?;
    ensure!(
        read(&mem) == (32 * MB).to_string(),
        "limit changed by a refused update: {}",
        read(&mem)
    );
    cx.rt(&["update", "--memory", "64m", "nope"])
        .failed("update of an unknown container")?;
    ensure!(cx.status("c1")? == "running", "status after the refusals");
    Ok(())
}

fn events_stats(cx: &mut Ctx) -> CaseResult {
    let (cfg, _) = limited(cx, "stats", "sleep 100 & wait");
    run_detached(cx, &cfg, "c1")?;
    let o = cx.rt(&["events", "--stats", "c1"]);
    o.ok("events --stats")?;
    let v: Value = serde_json::from_str(o.stdout.trim())
        .map_err(|e| format!("events --stats: {e}: {}", o.stdout))?;
    ensure!(
        v["type"] == "stats" && v["id"] == "c1",
        "event: {}",
        o.stdout
    );
    let d = &v["data"];
    let n = |p: &str| d.pointer(p).and_then(Value::as_u64);
    ensure!(
        n("/memory/usage/usage").is_some_and(|u| u > 0),
        "memory.usage.usage: {}",
        d["memory"]["usage"]
    );
    ensure!(
        n("/memory/usage/limit") == Some(32 * MB as u64),
        "memory.usage.limit: {}",
        d["memory"]["usage"]
    );
    ensure!(
        n("/pids/current").is_some_and(|c| c > 0),
        "pids: {}",
        d["pids"]
    );
    ensure!(n("/pids/limit") == Some(30), "pids: {}", d["pids"]);
    for p in ["/cpu/usage/kernel", "/cpu/usage/user", "/memory/swap/limit"] {
        ensure!(n(p).is_some(), "no {p} in {d}");
    }
    Ok(())
}

fn events_oom(cx: &mut Ctx) -> CaseResult {
    // tail keeps the newline-less /dev/zero in memory: the init itself runs out of
    // memory and is killed, which ends the container.
    let script = "sleep 1; exec tail /dev/zero";
    let (cfg, _) = limited(cx, "oomevent", script);
    let b = cx.bundle(&cfg)?;
    cx.rt(&["create", "--bundle", &b.to_string_lossy(), "c1"])
        .ok("create")?;
    let (mut events, out) = cx.rt_spawn(&["events", "--interval", "1s", "c1"])?;
    cx.rt(&["start", "c1"]).ok("start")?;
    // Slow in the emulated guest on a loaded host: reclaim near the limit takes a while.
    cx.wait_status_for("c1", "stopped", Duration::from_secs(120))?;
    // The stream ends by itself once the container has stopped (corral; runc's does not).
    let limit = Duration::from_secs(if cx.is_corral { 10 } else { 2 });
    let start = Instant::now();
    let ended = loop {
        match events.try_wait() {
            Ok(Some(st)) => break Some(st),
            _ if start.elapsed() > limit => break None,
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    if ended.is_none() {
        let _ = events.kill();
        let _ = events.wait();
    }
    let text = std::fs::read_to_string(out).unwrap_or_default();
    let types: Vec<String> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|v| v["type"].as_str().unwrap_or_default().to_string())
        .collect();
    ensure!(
        types.iter().any(|t| t == "oom"),
        "no oom event in {types:?}"
    );
    ensure!(
        types.iter().any(|t| t == "stats"),
        "no stats event in {types:?}"
    );
    // runc 1.1.5 streams on after the container stopped; corral ends the stream.
    ensure!(
        !cx.is_corral || ended.is_some_and(|s| s.success()),
        "events did not end with the container: {ended:?}"
    );
    Ok(())
}
