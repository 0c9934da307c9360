//! `exec` and the container's state: a created container takes processes, a stopped,
//! unknown or paused one does not (unless `--ignore-paused`); `--detach` leaves the
//! process running; `--cgroup` picks a sub-cgroup.

use super::exec::{end, exec, exec_script, init_pid, pid_file, sleeper, sleeper_bundle};
use super::{ensure, field};
use crate::bundle::config;
use crate::ctx::{cgroup_dirs, Ctx};
use crate::{Case, CaseResult};
use serde_json::json;
use std::path::PathBuf;

pub fn cases() -> Vec<Case> {
    vec![
        Case::new("exec_into_created_container", created),
        Case::new("exec_detach_pid_file", detach_pid_file),
        Case::new("exec_stopped_or_unknown_fails", stopped_or_unknown),
        Case::new("exec_paused_refused_unless_ignored", paused),
        Case::new("exec_sub_cgroup", sub_cgroup),
    ]
}

/// A created container (its init waits for `start`) takes processes too.
fn created(cx: &mut Ctx) -> CaseResult {
    let mut cfg = config(&["sleep", "1000"]);
    cfg["hostname"] = json!("created");
    let b = cx.bundle(&cfg)?;
    cx.rt(&["create", "--bundle", &b.to_string_lossy(), "c1"])
        .ok("create")?;
    init_pid(cx)?;
    let out = exec_script(cx, &[], "echo host=$(hostname)")?;
    ensure!(field(&out, "host") == Some("created"), "{out}");
    ensure!(cx.status("c1")? == "created", "exec started the container");
    Ok(())
}

/// `--detach --pid-file`: returns at once, the process lives on in the container's pid
/// namespace, its host pid in the file.
fn detach_pid_file(cx: &mut Ctx) -> CaseResult {
    let init = sleeper(cx, config(&[]))?;
    let file = cx.dir.join("exec.pid");
    exec(
        cx,
        &[
            "--detach",
            "--pid-file",
            &file.to_string_lossy(),
            "c1",
            "sleep",
            "999",
        ],
    )
    .ok("exec --detach")?;
    let pid = pid_file(cx, &file)?;
    ensure!(pid != init, "the pid file names the init");
    // The named process may still be the runtime's for a moment: both runtimes report
    // it ready before its execve (runc 1.1.5 was seen as `runc init` under load).
    let deadline = std::time::Instant::now() + crate::PATIENCE;
    loop {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).map_err(|e| e.to_string())?;
        if cmdline == b"sleep\x00999\x00" {
            break;
        }
        ensure!(
            std::time::Instant::now() < deadline,
            "process {pid} is {:?}, not sleep 999",
            String::from_utf8_lossy(&cmdline)
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let ns = |p: i32| std::fs::read_link(format!("/proc/{p}/ns/pid")).map_err(|e| e.to_string());
    ensure!(ns(pid)? == ns(init)?, "not in the init's pid namespace");
    end(pid)
}

/// A stopped or unknown container gets no process, and nothing is left.
fn stopped_or_unknown(cx: &mut Ctx) -> CaseResult {
    let b = cx.bundle(&config(&["true"]))?;
    cx.rt(&["run", "-d", "--bundle", &b.to_string_lossy(), "c1"])
        .ok("run -d")?;
    cx.wait_status("c1", "stopped")?;
    let o = exec(cx, &["c1", "sh", "-c", "echo ran"]);
    o.failed("exec in a stopped container")?;
    ensure!(!o.stdout.contains("ran"), "it ran: {}", o.stdout);
    if cx.is_corral {
        ensure!(o.stderr.contains("stopped"), "{}", o.stderr);
    }
    let o = exec(cx, &["nope", "true"]);
    o.failed("exec in an unknown container")?;
    if cx.is_corral {
        ensure!(o.stderr.contains("does not exist"), "{}", o.stderr);
    }
    ensure!(cx.status("c1")? == "stopped", "c1 changed");
    Ok(())
}

/// The container's freezer file and its frozen and thawed values.
fn freezer(name: &str) -> Option<(PathBuf, &'static str, &'static str)> {
    cgroup_dirs(name).into_iter().find_map(|d| {
        if d.join("freezer.state").exists() {
            Some((d.join("freezer.state"), "FROZEN", "THAWED"))
        } else if d.join("cgroup.freeze").exists() {
            Some((d.join("cgroup.freeze"), "1", "0"))
        } else {
            None
        }
    })
}

/// A paused (frozen) container refuses exec; `--ignore-paused` runs the process once the
/// container thaws.
fn paused(cx: &mut Ctx) -> CaseResult {
    let name = cx.cgroup_name("paused");
    let mut cfg = config(&[]);
    cfg["linux"]["cgroupsPath"] = json!(name);
    let (_, bundle) = sleeper_bundle(cx, cfg)?;
    let (file, frozen, thawed) = freezer(&name).ok_or("no freezer for the container")?;
    let set = |v: &str| std::fs::write(&file, v).map_err(|e| format!("{}: {e}", file.display()));
    set(frozen)?;
    let o = exec(cx, &["c1", "true"]);
    let refused = o.failed("exec in a paused container").map(drop);
    if refused.is_ok() && cx.is_corral && !o.stderr.contains("paused") {
        set(thawed)?;
        return Err(format!("error does not say paused: {}", o.stderr));
    }
    let marker = bundle.join("rootfs/tmp/ran");
    let (child, _) = cx.rt_spawn(&["exec", "--ignore-paused", "c1", "touch", "/tmp/ran"])?;
    // Deliberate: nothing may happen in this window (the exec'd process must not run
    // while the container is frozen), and "did not run" has no event to await.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let early = marker.exists();
    set(thawed)?;
    refused?;
    let code = crate::ctx::wait_child(child)?;
    ensure!(code == 0, "exec --ignore-paused exited {code}");
    ensure!(!early, "the process ran while the container was frozen");
    ensure!(marker.exists(), "the process did not run after the thaw");
    Ok(())
}

/// `--cgroup`: the process goes to an existing sub-cgroup of the container's (v1: of one
/// controller's hierarchy).
fn sub_cgroup(cx: &mut Ctx) -> CaseResult {
    let name = cx.cgroup_name("sub");
    let mut cfg = config(&[]);
    cfg["linux"]["cgroupsPath"] = json!(name);
    sleeper(cx, cfg)?;
    let v2 = std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let dir = cgroup_dirs(&name)
        .into_iter()
        .find(|d| v2 || d.starts_with("/sys/fs/cgroup/pids"))
        .ok_or("no cgroup dir for the container")?;
    let sub = dir.join("sub");
    std::fs::create_dir(&sub).map_err(|e| format!("mkdir {}: {e}", sub.display()))?;
    let arg = if v2 { "sub" } else { "pids:sub" };
    let out = exec_script(cx, &["--cgroup", arg], "cat /proc/self/cgroup");
    // delete removes the sub-cgroup with the container's.
    cx.rt(&["delete", "--force", "c1"]).ok("delete --force")?;
    let left = sub.exists();
    let _ = std::fs::remove_dir(&sub);
    let out = out?;
    ensure!(!left, "{} left after delete", sub.display());
    let line = out
        .lines()
        .find(|l| {
            if v2 {
                l.starts_with("0::")
            } else {
                l.contains(":pids:")
            }
        })
        .ok_or(format!("no pids line: {out}"))?;
    ensure!(line.ends_with(&format!("{name}/sub")), "not in sub: {out}");
    if !v2 {
        let other = out
            .lines()
            .find(|l| l.contains(":memory:"))
            .ok_or(format!("no memory line: {out}"))?;
        ensure!(
            other.ends_with(&name),
            "memory: not in the container's: {out}"
        );
    }
    Ok(())
}
