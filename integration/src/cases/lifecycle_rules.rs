//! What runtime.md and config.md say about the lifecycle where runc 1.1.5 does otherwise:
//! `delete` of a created container, and a config without `process`.

use super::{ensure, field};
use crate::bundle::config;
use crate::ctx::{Ctx, Out};
use crate::{Case, CaseResult};
use serde_json::json;
use std::path::Path;

const DELETE_NOT_STOPPED: &str =
    "runtime.md delete: \"Attempting to delete a container that is not stopped MUST generate an error\"";
const PROCESS_AT_START: &str = "config.md process: \"This property is REQUIRED when start is called\", not at create; runtime.md start: \"This operation MUST generate an error if process was not set\"";

pub fn cases() -> Vec<Case> {
    vec![
        // runc 1.1.5 deletes a created container without --force (it kills it).
        Case::runc11_lacks(
            "lifecycle_delete_created_needs_force",
            DELETE_NOT_STOPPED,
            delete_created_needs_force,
        ),
        // runc 1.1.5 refuses create without process.
        Case::runc11_lacks(
            "lifecycle_create_without_process",
            PROCESS_AT_START,
            create_without_process,
        ),
        Case::new("run_without_process_makes_nothing", run_without_process),
    ]
}

fn pid_of(cx: &mut Ctx, id: &str) -> Result<i64, String> {
    Ok(cx.state(id)?["pid"].as_i64().unwrap_or(0))
}

/// `delete --force` removes container `id`, whose init was `pid`, and the init with it.
fn force_deleted(cx: &mut Ctx, id: &str, pid: i64) -> CaseResult {
    cx.rt(&["delete", "--force", id]).ok("delete --force")?;
    cx.rt(&["state", id]).failed("state after delete --force")?;
    crate::ctx::reap();
    ensure!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "pid {pid} alive after delete --force"
    );
    Ok(())
}

/// `o` failed with an error naming every one of `words`.
fn names(o: &Out, what: &str, words: &[&str]) -> CaseResult {
    let err = o.stderr.trim();
    ensure!(
        words.iter().all(|w| err.contains(w)),
        "{what}'s error does not name {words:?}: {err}"
    );
    Ok(())
}

/// A bundle whose config has no `process`.
fn without_process(cx: &mut Ctx) -> Result<String, String> {
    let mut cfg = config(&[]);
    cfg.as_object_mut().map(|o| o.remove("process"));
    Ok(cx.bundle(&cfg)?.to_string_lossy().into_owned())
}

/// `delete` of a created container fails naming its status and `--force`, and changes
/// nothing: `start` then runs the program as if no delete had been asked for.
fn delete_created_needs_force(cx: &mut Ctx) -> CaseResult {
    let b = cx.bundle(&config(&[
        "sh",
        "-c",
        "echo started > /tmp/mark; exec sleep 1000",
    ]))?;
    let mark = b.join("rootfs/tmp/mark");
    let b = b.to_string_lossy().into_owned();
    cx.rt(&["create", "--bundle", &b, "c1"]).ok("create")?;
    let pid = pid_of(cx, "c1")?;
    let o = cx.rt(&["delete", "c1"]);
    o.failed("delete of a created container")?;
    names(&o, "delete", &["created", "--force"])?;
    ensure!(
        cx.status("c1")? == "created" && pid_of(cx, "c1")? == pid,
        "the refused delete changed the container: {}",
        cx.state("c1")?
    );
    ensure!(!mark.exists(), "the program ran before start");
    cx.rt(&["start", "c1"])
        .ok("start after the refused delete")?;
    cx.wait_status("c1", "running")?;
    let deadline = std::time::Instant::now() + crate::PATIENCE;
    while std::fs::read_to_string(&mark).unwrap_or_default() != "started\n" {
        ensure!(
            std::time::Instant::now() < deadline,
            "the program never ran after start"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    force_deleted(cx, "c1", pid)?;
    // --force on a created container that never started: it is gone with its init.
    cx.rt(&["create", "--bundle", &b, "c2"]).ok("create c2")?;
    let pid = pid_of(cx, "c2")?;
    force_deleted(cx, "c2", pid)
}

/// A config without `process`: create makes the container (its namespaces, hostname and
/// mounts, as an exec'd process sees), start fails naming `process` and config.json and
/// leaves it created, and `delete --force` removes it.
fn create_without_process(cx: &mut Ctx) -> CaseResult {
    let b = without_process(cx)?;
    cx.rt(&["create", "--bundle", &b, "c1"])
        .ok("create without process")?;
    ensure!(
        cx.status("c1")? == "created",
        "after create: {}",
        cx.state("c1")?
    );
    let pid = pid_of(cx, "c1")?;
    let p = json!({
        "terminal": false,
        "user": { "uid": 0, "gid": 0 },
        "args": ["sh", "-c", "echo host=$(hostname); echo pid=$$; echo proc=$(cat /proc/1/comm)"],
        "env": ["PATH=/bin"],
        "cwd": "/"
    });
    let path = cx.dir.join("process.json");
    std::fs::write(&path, p.to_string()).map_err(|e| e.to_string())?;
    let path = path.to_string_lossy().into_owned();
    let o = cx.rt(&["exec", "--process", &path, "c1"]);
    let out = o
        .ok("exec into the container without process")?
        .stdout
        .clone();
    ensure!(
        field(&out, "host") == Some("conformance") && field(&out, "pid") != Some("1"),
        "not in the container's namespaces: {out}"
    );
    ensure!(
        field(&out, "proc").is_some_and(|c| !c.is_empty()),
        "the container's /proc has no pid 1: {out}"
    );
    let o = cx.rt(&["start", "c1"]);
    o.failed("start without process")?;
    names(&o, "start", &["process", "config.json"])?;
    ensure!(
        cx.status("c1")? == "created" && pid_of(cx, "c1")? == pid,
        "the refused start changed the container: {}",
        cx.state("c1")?
    );
    cx.rt(&["delete", "c1"])
        .failed("delete without --force of the created container")?;
    force_deleted(cx, "c1", pid)
}

/// `run` starts at once, so a config without `process` fails before anything is made
/// (the harness then finds no state, process, cgroup or mount left).
fn run_without_process(cx: &mut Ctx) -> CaseResult {
    let b = without_process(cx)?;
    let o = cx.rt(&["run", "--bundle", &b, "c1"]);
    o.failed("run without process")?;
    if cx.is_corral {
        names(&o, "run", &["process", "config.json"])?;
    }
    cx.rt(&["state", "c1"])
        .failed("state after the failed run")?;
    Ok(())
}
