//! Operations on a live container's cgroup: `pause`/`resume` (a counter written by the
//! container stops and starts again), `kill` and `delete --force` of a paused
//! container, `ps`, a fork loop ended by `delete --force`, and what is refused.

use super::cgroups::cg_config;
use super::ensure;
use crate::ctx::{cgroup_dirs, reap, Ctx};
use crate::needs::DELETE_REMOVES;
use crate::{Case, CaseResult};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub fn cases() -> Vec<Case> {
    vec![
        Case::new("cgroup_pause_resume_counter", pause_resume),
        Case::new("cgroup_paused_delete_force", paused_delete_force),
        Case::new("cgroup_ops_refused_nothing_left", refused),
        // runc 1.1.5 pauses a created container (its init, blocked before exec, frozen).
        Case::corral(
            "cgroup_pause_created_refused",
            "pause refused for a created container",
            pause_created,
        ),
        Case::new("cgroup_ps_init_and_child", ps),
        // runc 1.1.5 passes on the v1 host; in the v2 guest its delete --force left the
        // (emptied) cgroup directory behind.
        Case::runc11_lacks(
            "cgroup_delete_force_ends_fork_loop",
            DELETE_REMOVES,
            fork_loop,
        ),
    ]
}

/// Writes an ever larger number to /tmp/cnt, 20 times a second.
const COUNTER: &str = "i=0; while true; do i=$((i+1)); echo $i > /tmp/cnt; sleep 0.05; done";

/// `run -d` of `cfg` as `id`; returns the bundle and the init's pid.
pub(super) fn run_detached(cx: &mut Ctx, cfg: &Value, id: &str) -> Result<(PathBuf, i64), String> {
    let b = cx.bundle(cfg)?;
    cx.rt(&["run", "-d", "--bundle", &b.to_string_lossy(), id])
        .ok("run -d")?;
    let pid = cx.state(id)?["pid"].as_i64().unwrap_or(0);
    Ok((b, pid))
}

/// Fails unless every directory of the cgroup `name` is gone.
fn cgroups_gone(name: &str) -> CaseResult {
    let left: Vec<_> = cgroup_dirs(name)
        .into_iter()
        .filter(|d| d.exists())
        .collect();
    ensure!(left.is_empty(), "cgroups left: {left:?}");
    Ok(())
}

fn counter(b: &Path) -> Option<u64> {
    std::fs::read_to_string(b.join("rootfs/tmp/cnt"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Waits (at most 10 s) until the counter is above `above`; returns it.
fn advances(b: &Path, above: u64) -> Result<u64, String> {
    let start = Instant::now();
    loop {
        match counter(b) {
            Some(n) if n > above => return Ok(n),
            _ if start.elapsed() > crate::PATIENCE => {
                return Err(format!(
                    "the counter stayed at {:?}, not above {above}",
                    counter(b)
                ))
            }
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

fn counter_config(cx: &mut Ctx, what: &str) -> Value {
    let (mut cfg, _) = cg_config(cx, what, json!({}));
    cfg["process"]["args"] = json!(["sh", "-c", COUNTER]);
    cfg
}

fn listed_status(cx: &mut Ctx, id: &str) -> Result<String, String> {
    let o = cx.rt(&["list", "-f", "json"]);
    o.ok("list")?;
    let v: Value = serde_json::from_str(&o.stdout).map_err(|e| format!("list: {e}"))?;
    let found = v.as_array().into_iter().flatten().find(|c| c["id"] == id);
    Ok(found
        .map_or("absent", |c| c["status"].as_str().unwrap_or(""))
        .to_string())
}

fn pause_resume(cx: &mut Ctx) -> CaseResult {
    let cfg = counter_config(cx, "pause");
    let (b, _) = run_detached(cx, &cfg, "c1")?;
    advances(&b, 2)?;
    cx.rt(&["pause", "c1"]).ok("pause")?;
    ensure!(
        cx.status("c1")? == "paused",
        "state after pause: {}",
        cx.status("c1")?
    );
    let listed = listed_status(cx, "c1")?;
    ensure!(listed == "paused", "list after pause: {listed}");
    let before = counter(&b);
    // Deliberate: nothing may happen in this window (the counter ticks every 50 ms when
    // it runs), and there is no event to await for "did not change".
    std::thread::sleep(Duration::from_millis(400));
    ensure!(
        counter(&b) == before,
        "counter went on while paused: {before:?} then {:?}",
        counter(&b)
    );
    cx.rt(&["resume", "c1"]).ok("resume")?;
    ensure!(
        cx.status("c1")? == "running",
        "state after resume: {}",
        cx.status("c1")?
    );
    advances(&b, before.unwrap_or(0))?;
    // SIGKILL reaches a paused container's init (runc thaws for it).
    cx.rt(&["pause", "c1"]).ok("pause again")?;
    cx.rt(&["kill", "c1", "KILL"])
        .ok("kill of a paused container")?;
    cx.wait_status("c1", "stopped")?;
    cx.rt(&["delete", "c1"]).ok("delete")?;
    Ok(())
}

fn paused_delete_force(cx: &mut Ctx) -> CaseResult {
    let (cfg, name) = cg_config(cx, "pausedel", json!({}));
    let mut cfg = cfg;
    cfg["process"]["args"] = json!(["sh", "-c", "sleep 100 & sleep 100"]);
    let (_, pid) = run_detached(cx, &cfg, "c1")?;
    cx.rt(&["pause", "c1"]).ok("pause")?;
    cx.rt(&["delete", "c1"])
        .failed("delete (no --force) of a paused container")?;
    cx.rt(&["delete", "--force", "c1"])
        .ok("delete --force of a paused container")?;
    cx.rt(&["state", "c1"]).failed("state after delete")?;
    // The init is our child once `run -d` has exited: reap it to see it gone.
    reap();
    ensure!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "init {pid} still there"
    );
    cgroups_gone(&name)
}

/// pause, resume, events and update of `id` must all fail.
fn all_refused(cx: &mut Ctx, id: &str, what: &str) -> CaseResult {
    for cmd in [
        &["pause"][..],
        &["resume"],
        &["events", "--stats"],
        &["update", "--memory", "64m"],
    ] {
        let args: Vec<&str> = cmd.iter().copied().chain([id]).collect();
        cx.rt(&args).failed(&format!("{cmd:?} of {what}"))?;
    }
    Ok(())
}

fn refused(cx: &mut Ctx) -> CaseResult {
    all_refused(cx, "nope", "an unknown container")?;
    // A created container is not paused; a stopped one can be neither.
    let (cfg, _) = cg_config(cx, "refused", json!({}));
    let b = cx.bundle(&cfg)?;
    let b = b.to_string_lossy();
    cx.rt(&["create", "--bundle", &b, "c1"]).ok("create")?;
    cx.rt(&["resume", "c1"])
        .failed("resume of a created container")?;
    ensure!(
        cx.status("c1")? == "created",
        "status after a refused resume"
    );
    let (cfg, _) = cg_config(cx, "refused2", json!({}));
    let b = cx.bundle(&cfg)?;
    cx.rt(&["create", "--bundle", &b.to_string_lossy(), "c2"])
        .ok("create c2")?;
    cx.rt(&["start", "c2"]).ok("start c2")?;
    cx.wait_status("c2", "stopped")?;
    all_refused(cx, "c2", "a stopped container")?;
    ensure!(cx.status("c2")? == "stopped", "status after the refusals");
    Ok(())
}

fn pause_created(cx: &mut Ctx) -> CaseResult {
    let (cfg, _) = cg_config(cx, "pausecreated", json!({}));
    let b = cx.bundle(&cfg)?;
    cx.rt(&["create", "--bundle", &b.to_string_lossy(), "c1"])
        .ok("create")?;
    let o = cx.rt(&["pause", "c1"]);
    o.failed("pause of a created container")?;
    ensure!(
        o.stderr.contains("not running"),
        "error: {}",
        o.stderr.trim()
    );
    ensure!(
        cx.status("c1")? == "created",
        "status after a refused pause"
    );
    cx.rt(&["start", "c1"]).ok("start after a refused pause")?;
    Ok(())
}

/// The pids `ps -f json` lists (waits, at most 10 s, until there are at least `n`).
fn ps_json(cx: &mut Ctx, id: &str, n: usize) -> Result<Vec<i64>, String> {
    let start = Instant::now();
    loop {
        let o = cx.rt(&["ps", "-f", "json", id]);
        o.ok("ps -f json")?;
        let v: Value = serde_json::from_str(o.stdout.trim())
            .map_err(|e| format!("ps -f json: {e}: {}", o.stdout))?;
        let pids: Vec<i64> = v
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_i64)
            .collect();
        if pids.len() >= n || start.elapsed() > crate::PATIENCE {
            return Ok(pids);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn ps(cx: &mut Ctx) -> CaseResult {
    let (mut cfg, _) = cg_config(cx, "ps", json!({}));
    cfg["process"]["args"] = json!(["sh", "-c", "sleep 100 & wait"]);
    let (_, init) = run_detached(cx, &cfg, "c1")?;
    let pids = ps_json(cx, "c1", 2)?;
    ensure!(pids.contains(&init), "init {init} not in {pids:?}");
    let child = pids
        .iter()
        .find(|p| **p != init)
        .ok_or(format!("no child in {pids:?}"))?;
    let cmdline = std::fs::read(format!("/proc/{child}/cmdline")).unwrap_or_default();
    ensure!(
        cmdline.starts_with(b"sleep"),
        "child {child} runs {:?}",
        String::from_utf8_lossy(&cmdline)
    );
    let o = cx.rt(&["ps", "c1"]);
    o.ok("ps")?;
    let mut lines = o.stdout.lines();
    let header = lines.next().unwrap_or_default();
    let col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .ok_or(format!("no PID column: {header:?}"))?;
    let rows: Vec<i64> = lines
        .filter_map(|l| l.split_whitespace().nth(col)?.parse().ok())
        .collect();
    ensure!(
        rows.contains(&init) && rows.contains(child),
        "table rows {rows:?}, want {init} and {child}"
    );
    ensure!(
        rows.iter().all(|p| pids.contains(p)),
        "table rows {rows:?} beyond the container's {pids:?}"
    );
    // ps(1)'s own options go after the id.
    let o = cx.rt(&["ps", "c1", "-e", "-o", "pid,args"]);
    o.ok("ps with options")?;
    ensure!(
        o.stdout.lines().count() == 1 + pids.len() && o.stdout.contains("sleep 100"),
        "ps -o pid,args: {}",
        o.stdout
    );
    Ok(())
}

fn fork_loop(cx: &mut Ctx) -> CaseResult {
    // No pid namespace: killing the init does not end the others; every process of the
    // cgroup must be found and killed while the loop keeps forking.
    let (mut cfg, name) = cg_config(cx, "forkloop", json!({ "pids": { "limit": 64 } }));
    cfg["linux"]["namespaces"]
        .as_array_mut()
        .expect("namespaces")
        .retain(|n| n["type"] != "pid");
    cfg["process"]["args"] = json!(["sh", "-c", "while true; do sleep 100 & done 2>/dev/null"]);
    let (_, _) = run_detached(cx, &cfg, "c1")?;
    // Only once the loop has really forked is there something to race: wait until the
    // cgroup holds half the pids limit (the same count on every hierarchy).
    let procs = cgroup_dirs(&name)
        .into_iter()
        .map(|d| d.join("cgroup.procs"))
        .find(|p| p.exists())
        .ok_or("the container's cgroup has no cgroup.procs")?;
    let count = || std::fs::read_to_string(&procs).map_or(0, |s| s.lines().count());
    let deadline = Instant::now() + crate::PATIENCE;
    while count() < 32 {
        ensure!(
            Instant::now() < deadline,
            "the fork loop never reached 32 processes ({} in {})",
            count(),
            procs.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    cx.rt(&["delete", "--force", "c1"]).ok("delete --force")?;
    cgroups_gone(&name)
}
