//! create / start / state / kill / delete / run, every transition.

use super::ensure;
use crate::bundle::config;
use crate::ctx::{wait_child, Ctx};
use crate::{Case, CaseResult};
use std::time::{Duration, Instant};

pub fn cases() -> Vec<Case> {
    vec![
        Case::new(
            "lifecycle_create_start_kill_delete",
            create_start_kill_delete,
        ),
        Case::new(
            "lifecycle_stopped_when_process_exits",
            stopped_when_process_exits,
        ),
        Case::new("lifecycle_kill_created_container", kill_created),
        Case::new("lifecycle_start_twice_fails", start_twice),
        Case::new(
            "lifecycle_delete_running_needs_force",
            delete_running_needs_force,
        ),
        Case::new("lifecycle_kill_signal_forms", kill_signal_forms),
        Case::new("lifecycle_kill_default_is_sigterm", kill_default_term),
        Case::new("lifecycle_kill_all", kill_all),
        Case::new("run_exit_status", run_exit_status),
        Case::new("run_killed_exit_status", run_killed_status),
        Case::new("run_detach_and_pid_file", run_detach_pid_file),
        Case::new("run_keep", run_keep),
        Case::new("create_pid_file", create_pid_file),
        Case::new("relative_root_bundle_and_pid_file", relative_paths),
        // The id lock is corral's: runc 1.1.5 lets all four race, none wins, and it
        // leaves a `runc init` behind.
        Case::runc11_lacks("concurrent_create_same_id", "runtime.md create: for an ID that is not unique \"a new container MUST NOT be created\"", concurrent_create),
    ]
}

fn sleeper(cx: &mut Ctx) -> Result<String, String> {
    let b = cx.bundle(&config(&["sleep", "1000"]))?;
    Ok(b.to_string_lossy().into_owned())
}

fn create_start_kill_delete(cx: &mut Ctx) -> CaseResult {
    let b = sleeper(cx)?;
    cx.rt(&["create", "--bundle", &b, "c1"]).ok("create")?;
    let st = cx.state("c1")?;
    ensure!(
        st["status"] == "created",
        "after create: status {}",
        st["status"]
    );
    ensure!(st["id"] == "c1", "state id {}", st["id"]);
    ensure!(
        st["bundle"] == b.as_str(),
        "state bundle {} (want {b})",
        st["bundle"]
    );
    ensure!(
        st["ociVersion"]
            .as_str()
            .is_some_and(|v| v.starts_with("1.")),
        "ociVersion {}",
        st["ociVersion"]
    );
    let pid = st["pid"].as_i64().unwrap_or(0);
    ensure!(pid > 0, "created container has pid {pid}");
    // Blocked before exec: the init is not yet the user's program.
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    ensure!(
        comm.trim() != "sleep",
        "created container already runs the user program"
    );
    cx.rt(&["start", "c1"]).ok("start")?;
    cx.wait_status("c1", "running")?;
    let deadline = Instant::now() + crate::PATIENCE;
    while std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        != "sleep"
    {
        ensure!(
            Instant::now() < deadline,
            "after start, pid {pid} never became sleep"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    cx.rt(&["kill", "c1", "KILL"]).ok("kill")?;
    cx.wait_status("c1", "stopped")?;
    cx.rt(&["delete", "c1"]).ok("delete")?;
    cx.rt(&["state", "c1"]).failed("state after delete")?;
    Ok(())
}

fn stopped_when_process_exits(cx: &mut Ctx) -> CaseResult {
    let b = cx.bundle(&config(&["true"]))?;
    let b = b.to_string_lossy();
    cx.rt(&["create", "--bundle", &b, "c1"]).ok("create")?;
    cx.status("c1")?;
    cx.rt(&["start", "c1"]).ok("start")?;
    // Not reaped yet (a zombie of ours): must already count as stopped.
    cx.wait_status("c1", "stopped")?;
    crate::ctx::reap();
    ensure!(
        cx.status("c1")? == "stopped",
        "stopped container changed status after reaping"
    );
    let st = cx.state("c1")?;
    ensure!(
        st["pid"].as_i64().unwrap_or(0) == 0,
        "stopped container reports pid {}",
        st["pid"]
    );
    cx.rt(&["delete", "c1"]).ok("delete stopped")?;
    Ok(())
}

fn kill_created(cx: &mut Ctx) -> CaseResult {
    let b = sleeper(cx)?;
    cx.rt(&["create", "--bundle", &b, "c1"]).ok("create")?;
    cx.rt(&["kill", "c1", "KILL"]).ok("kill created")?;
    cx.wait_status("c1", "stopped")?;
    cx.rt(&["kill", "c1", "KILL"]).failed("kill stopped")?;
    cx.rt(&["start", "c1"]).failed("start stopped")?;
    cx.rt(&["delete", "c1"]).ok("delete")?;
    Ok(())
}

fn start_twice(cx: &mut Ctx) -> CaseResult {
    let b = sleeper(cx)?;
    cx.rt(&["create", "--bundle", &b, "c1"]).ok("create")?;
    cx.rt(&["start", "c1"]).ok("start")?;
    cx.rt(&["start", "c1"]).failed("second start")?;
    ensure!(
        cx.status("c1")? == "running",
        "second start changed the status"
    );
    Ok(())
}

fn delete_running_needs_force(cx: &mut Ctx) -> CaseResult {
    let b = sleeper(cx)?;
    cx.rt(&["run", "--detach", "--bundle", &b, "c1"])
        .ok("run -d")?;
    let pid = cx.state("c1")?["pid"].as_i64().unwrap_or(0);
    cx.rt(&["delete", "c1"]).failed("delete running")?;
    ensure!(
        cx.status("c1")? == "running",
        "refused delete changed the status"
    );
    cx.rt(&["delete", "--force", "c1"]).ok("delete --force")?;
    cx.rt(&["state", "c1"])
        .failed("state after delete --force")?;
    crate::ctx::reap();
    ensure!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "pid {pid} alive after delete --force"
    );
    Ok(())
}

fn kill_signal_forms(cx: &mut Ctx) -> CaseResult {
    let b = sleeper(cx)?;
    for (i, sig) in ["KILL", "SIGKILL", "9"].iter().enumerate() {
        let id = format!("k{i}");
        cx.rt(&["run", "-d", "--bundle", &b, &id]).ok("run -d")?;
        cx.rt(&["kill", &id, sig]).ok(&format!("kill {sig}"))?;
        cx.wait_status(&id, "stopped")?;
        cx.rt(&["delete", &id]).ok("delete")?;
    }
    cx.rt(&["run", "-d", "--bundle", &b, "bad"]).ok("run -d")?;
    cx.rt(&["kill", "bad", "SIGNOPE"])
        .failed("kill with an unknown signal")?;
    Ok(())
}

fn kill_default_term(cx: &mut Ctx) -> CaseResult {
    // pid 1 ignores signals it has no handler for: the trap proves SIGTERM arrived.
    let script = "trap 'exit 42' TERM; while :; do sleep 0.05; done";
    let b = cx.bundle(&config(&["sh", "-c", script]))?;
    let b = b.to_string_lossy().into_owned();
    let (child, _) = cx.rt_spawn(&["run", "--bundle", &b, "c1"])?;
    cx.wait_status("c1", "running")?;
    // Signal only once the trap is installed: SigCgt has the SIGTERM bit (15 → 1 << 14).
    let pid = cx.state("c1")?["pid"].as_i64().unwrap_or(0);
    let deadline = Instant::now() + crate::PATIENCE;
    loop {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let caught = status
            .lines()
            .find_map(|l| l.strip_prefix("SigCgt:"))
            .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
            .unwrap_or(0);
        if caught & (1 << 14) != 0 {
            break;
        }
        ensure!(
            Instant::now() < deadline,
            "the container never trapped SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    cx.rt(&["kill", "c1"]).ok("kill")?;
    let code = wait_child(child)?;
    ensure!(code == 42, "run exited {code}, want 42 from the TERM trap");
    Ok(())
}

/// `kill --all` signals every process of the container. Without a pid namespace (as in
/// runc's own test), killing the init alone leaves its children running: only `--all`
/// ends them, so the case fails if the runtime ignored it.
fn kill_all(cx: &mut Ctx) -> CaseResult {
    let mut cfg = config(&["sh", "-c", "sleep 1000 & sleep 1000 & wait"]);
    cfg["linux"]["namespaces"]
        .as_array_mut()
        .ok_or("config has no linux.namespaces")?
        .retain(|n| n["type"] != "pid");
    let b = cx.bundle(&cfg)?;
    let b = b.to_string_lossy().into_owned();
    cx.rt(&["run", "-d", "--bundle", &b, "c1"]).ok("run -d")?;
    let pid = crate::ctx::pid_of(&cx.state("c1")?).unwrap_or(0);
    let deadline = Instant::now() + crate::PATIENCE;
    let kids = loop {
        let kids = descendants(pid);
        if kids.len() >= 2 {
            break kids;
        }
        ensure!(
            Instant::now() < deadline,
            "container never started its two sleeps"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    kids.iter().for_each(|k| cx.track(*k));
    cx.rt(&["kill", "--all", "c1", "KILL"]).ok("kill --all")?;
    cx.wait_status("c1", "stopped")?;
    // The sleeps, orphaned to us (a subreaper), must die too: reap them as they do.
    let deadline = Instant::now() + crate::PATIENCE;
    loop {
        crate::ctx::reap();
        let alive: Vec<i32> = kids.iter().copied().filter(|k| running(*k)).collect();
        if alive.is_empty() {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "kill --all left the init's children {alive:?} running"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The process exists and is not a zombie.
fn running(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| Some(!s[s.rfind(')')? + 2..].starts_with('Z')))
        .unwrap_or(false)
}

pub(super) fn descendants(pid: i32) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|p| crate::procs::ppid(*p) == Some(pid))
        .collect()
}

fn run_exit_status(cx: &mut Ctx) -> CaseResult {
    let b = cx.bundle(&config(&["sh", "-c", "echo out; exit 3"]))?;
    let o = cx.rt(&["run", "--bundle", &b.to_string_lossy(), "c1"]);
    ensure!(
        o.code == 3,
        "run exited {}, want 3 ({})",
        o.code,
        o.stderr.trim()
    );
    ensure!(o.stdout == "out\n", "stdout {:?}", o.stdout);
    // run deletes the container afterwards.
    cx.rt(&["state", "c1"]).failed("state after run")?;
    Ok(())
}

fn run_killed_status(cx: &mut Ctx) -> CaseResult {
    let b = sleeper(cx)?;
    let (child, _) = cx.rt_spawn(&["run", "--bundle", &b, "c1"])?;
    cx.wait_status("c1", "running")?;
    cx.rt(&["kill", "c1", "KILL"]).ok("kill")?;
    let code = wait_child(child)?;
    ensure!(code == 137, "run exited {code}, want 137 (128 + SIGKILL)");
    Ok(())
}

fn run_detach_pid_file(cx: &mut Ctx) -> CaseResult {
    let b = sleeper(cx)?;
    let pf = cx.dir.join("run.pid");
    cx.rt(&[
        "run",
        "-d",
        "--pid-file",
        &pf.to_string_lossy(),
        "--bundle",
        &b,
        "c1",
    ])
    .ok("run -d")?;
    let st = cx.state("c1")?;
    ensure!(
        st["status"] == "running",
        "detached run: status {}",
        st["status"]
    );
    pid_file_matches(&pf, &st)?;
    Ok(())
}

fn create_pid_file(cx: &mut Ctx) -> CaseResult {
    let b = sleeper(cx)?;
    let pf = cx.dir.join("create.pid");
    cx.rt(&[
        "create",
        "--pid-file",
        &pf.to_string_lossy(),
        "--bundle",
        &b,
        "c1",
    ])
    .ok("create")?;
    let st = cx.state("c1")?;
    pid_file_matches(&pf, &st)?;
    cx.rt(&["delete", "--force", "c1"]).ok("delete created")?;
    cx.rt(&["state", "c1"]).failed("state after delete")?;
    Ok(())
}

fn run_keep(cx: &mut Ctx) -> CaseResult {
    let b = cx.bundle(&config(&["sh", "-c", "exit 7"]))?;
    let o = cx.rt(&["run", "--keep", "--bundle", &b.to_string_lossy(), "c1"]);
    ensure!(
        o.code == 7,
        "run --keep exited {} ({})",
        o.code,
        o.stderr.trim()
    );
    ensure!(
        cx.status("c1")? == "stopped",
        "kept container is not stopped"
    );
    cx.rt(&["delete", "c1"]).ok("delete kept")?;
    Ok(())
}

fn concurrent_create(cx: &mut Ctx) -> CaseResult {
    let b = sleeper(cx)?;
    let mut children = vec![];
    for _ in 0..4 {
        children.push(cx.rt_spawn(&["create", "--bundle", &b, "same"])?.0);
    }
    let ok = children
        .into_iter()
        .map(|c| wait_child(c).unwrap_or(-1))
        .filter(|code| *code == 0)
        .count();
    ensure!(ok == 1, "{ok} of 4 concurrent creates of one id succeeded");
    ensure!(
        cx.status("same")? == "created",
        "the container is not in created state"
    );
    Ok(())
}

/// `--root`, `--bundle` and `--pid-file` relative to the caller's directory.
fn relative_paths(cx: &mut Ctx) -> CaseResult {
    let b = cx.bundle(&config(&["sleep", "1000"]))?;
    let bundle = b.file_name().unwrap().to_string_lossy().into_owned();
    let dir = cx.dir.clone();
    let create = [
        "--root",
        "root",
        "create",
        "--bundle",
        &bundle,
        "--pid-file",
        "rel.pid",
        "c1",
    ];
    cx.rt_in(&dir, &create).ok("create with relative paths")?;
    // The harness's own --root is the same directory, absolute.
    let st = cx.state("c1")?;
    ensure!(st["status"] == "created", "status {}", st["status"]);
    pid_file_matches(&dir.join("rel.pid"), &st)?;
    cx.rt_in(&dir, &["--root", "root", "start", "c1"])
        .ok("start with a relative root")?;
    cx.wait_status("c1", "running")?;
    let run = [
        "--root",
        "root",
        "run",
        "--bundle",
        &bundle,
        "--pid-file",
        "run.pid",
        "-d",
        "c2",
    ];
    cx.rt_in(&dir, &run).ok("run -d with relative paths")?;
    ensure!(
        dir.join("run.pid").exists(),
        "run --pid-file relative: no pid file"
    );
    ensure!(cx.status("c2")? == "running", "c2 not running");
    Ok(())
}

/// The pid file holds exactly the pid `state` reports.
fn pid_file_matches(path: &std::path::Path, st: &serde_json::Value) -> CaseResult {
    let file =
        std::fs::read_to_string(path).map_err(|e| format!("pid file {}: {e}", path.display()))?;
    let pid = st["pid"].as_i64().map(|p| p.to_string());
    ensure!(
        pid.as_deref() == Some(file.trim()),
        "pid file {file:?}, state pid {}",
        st["pid"]
    );
    Ok(())
}
