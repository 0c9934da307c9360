//! Issue 12's "keep it so": the external attack runs that found corral sound, as bounded
//! cases with ids and cgroups of their own: many lifecycles at once, a `create` killed at
//! any moment, and hostile config.json variants (no panic, no crash, nothing left).

use super::ensure;
use crate::bundle::config;
use crate::ctx::{wait_child, Ctx};
use crate::{Case, CaseResult};
use serde_json::{json, Value};
use std::time::Duration;

pub fn cases() -> Vec<Case> {
    vec![
        Case::new("stress_concurrent_lifecycles", concurrent),
        // runc 1.1.5 leaves the cgroups of a create killed before it wrote its state.
        Case::corral(
            "stress_create_killed_at_any_moment",
            "a killed create leaves nothing after delete --force (runc 1.1.5 leaks cgroups)",
            killed_create,
        ),
        // runc 1.1.5 is not held to corral's refusal wording or its in-root resolution
        // of every path a config names.
        Case::corral(
            "stress_hostile_config_variants",
            "every hostile config refused or run, never a crash",
            hostile,
        ),
    ]
}

/// Exit codes of a runtime that crashed rather than refused: a Rust panic (101 in a
/// debug build; abort, SIGABRT, in the release one), SIGSEGV, SIGBUS, SIGFPE, SIGILL.
fn crashed(code: i32) -> bool {
    matches!(code, 101 | 132 | 134 | 135 | 136 | 139) || code < 0
}

/// 16 containers `run` at once (distinct ids, each its own cgroup, one root): every one
/// exits 0 and nothing is left (the cleanup checks the cgroups, processes and state).
fn concurrent(cx: &mut Ctx) -> CaseResult {
    let mut running = vec![];
    for i in 0..16 {
        let mut cfg = config(&["true"]);
        cfg["linux"]["cgroupsPath"] = json!(cx.cgroup_name(&format!("conc{i}")));
        let b = cx.bundle(&cfg)?.to_string_lossy().into_owned();
        let id = format!("conc{i}");
        let (child, out) = cx.rt_spawn(&["run", "--bundle", &b, &id])?;
        running.push((id, child, out));
    }
    let mut failed = vec![];
    for (id, child, out) in running {
        let code = wait_child(child)?;
        if code != 0 {
            let said = std::fs::read_to_string(out.with_extension("err")).unwrap_or_default();
            failed.push(format!("{id}: exit {code} {}", said.trim()));
        }
    }
    ensure!(
        failed.is_empty(),
        "concurrent runs failed: {}",
        failed.join("; ")
    );
    let list = cx.rt(&["list", "-q"]);
    list.ok("list")?;
    ensure!(
        list.stdout.trim().is_empty(),
        "containers left after their runs: {:?}",
        list.stdout.trim()
    );
    Ok(())
}

/// `create` SIGKILLed at 12 moments spread over its work (0 to 22 ms after its start: a
/// create takes about 10-30 ms here), each time followed by `delete --force`, which must
/// succeed or say the container does not exist; the cleanup then finds no process,
/// cgroup, state or mount of any of them.
fn killed_create(cx: &mut Ctx) -> CaseResult {
    for i in 0..12u64 {
        let mut cfg = config(&["sleep", "1000"]);
        cfg["linux"]["cgroupsPath"] = json!(cx.cgroup_name(&format!("killed{i}")));
        let b = cx.bundle(&cfg)?.to_string_lossy().into_owned();
        let id = format!("killed{i}");
        let (mut child, _) = cx.rt_spawn(&["create", "--bundle", &b, &id])?;
        // Deliberate: the moment of the kill is what the case varies; nothing to await.
        std::thread::sleep(Duration::from_millis(i * 2));
        let _ = child.kill();
        let _ = child.wait();
        let o = cx.rt(&["delete", "--force", &id]);
        ensure!(
            o.code == 0 || o.stderr.contains("does not exist"),
            "delete --force after create was killed at {} ms: exit {}: {}",
            i * 2,
            o.code,
            o.stderr.trim()
        );
    }
    Ok(())
}

/// A config with `edit` applied to the default one.
fn variant(edit: impl FnOnce(&mut Value)) -> Value {
    let mut cfg = config(&["true"]);
    edit(&mut cfg);
    cfg
}

/// Hostile config.json variants (wrong types, numbers out of range, paths that climb out
/// of the rootfs, unknown names, bad hooks): each is refused with a message or runs;
/// corral never crashes, no path outside the rootfs is touched, and nothing is left.
fn hostile(cx: &mut Ctx) -> CaseResult {
    let outside = format!("/tmp/corral-hostile-{}", std::process::id());
    let climb = format!("/../../../../../..{outside}");
    let long = "h".repeat(300);
    // Ten levels below a cgroup of the case's own (the cleanup checks it is gone).
    let deep = format!("{}/a/b/c/d/e/f/g/h/i/j", cx.cgroup_name("deep"));
    let variants: Vec<(&str, Value)> = vec![
        ("empty args", variant(|c| c["process"]["args"] = json!([]))),
        (
            "empty program",
            variant(|c| c["process"]["args"] = json!([""])),
        ),
        (
            "args not strings",
            variant(|c| c["process"]["args"] = json!([1, {}])),
        ),
        (
            "missing program",
            variant(|c| c["process"]["args"] = json!(["/nonexistent"])),
        ),
        (
            "uid too big",
            variant(|c| c["process"]["user"]["uid"] = json!(4294967296_u64)),
        ),
        (
            "uid negative",
            variant(|c| c["process"]["user"]["uid"] = json!(-1)),
        ),
        (
            "unknown rlimit",
            variant(|c| {
                c["process"]["rlimits"] = json!([{ "type": "RLIMIT_BOGUS", "hard": 1, "soft": 1 }])
            }),
        ),
        (
            "soft above hard",
            variant(|c| {
                c["process"]["rlimits"] =
                    json!([{ "type": "RLIMIT_NOFILE", "hard": 10, "soft": 20 }])
            }),
        ),
        (
            "unknown capability",
            variant(|c| c["process"]["capabilities"] = json!({ "bounding": ["CAP_BOGUS"] })),
        ),
        (
            "relative cwd",
            variant(|c| c["process"]["cwd"] = json!("relative")),
        ),
        (
            "cwd climbing out",
            variant(|c| c["process"]["cwd"] = json!(climb)),
        ),
        (
            "missing rootfs",
            variant(|c| c["root"]["path"] = json!("/nonexistent-rootfs")),
        ),
        (
            "mount climbing out",
            variant(|c| {
                c["mounts"] = json!([{ "destination": climb, "type": "tmpfs", "source": "tmpfs" }])
            }),
        ),
        (
            "relative mount destination",
            variant(|c| {
                c["mounts"] =
                    json!([{ "destination": "relative", "type": "tmpfs", "source": "tmpfs" }])
            }),
        ),
        (
            "unknown filesystem",
            variant(|c| {
                c["mounts"] = json!([{ "destination": "/x", "type": "nosuchfs", "source": "none" }])
            }),
        ),
        (
            "unknown mount option",
            variant(|c| {
                c["mounts"] = json!([{ "destination": "/x", "type": "tmpfs", "source": "tmpfs",
                                   "options": ["bogus-option=1"] }])
            }),
        ),
        (
            "unknown namespace",
            variant(|c| c["linux"]["namespaces"] = json!([{ "type": "bogus" }])),
        ),
        (
            "namespace twice",
            variant(|c| {
                c["linux"]["namespaces"] = json!([{ "type": "mount" }, { "type": "mount" }])
            }),
        ),
        (
            "namespace path missing",
            variant(|c| {
                c["linux"]["namespaces"] = json!([{ "type": "mount" },
                                              { "type": "network", "path": "/nonexistent/ns" }])
            }),
        ),
        (
            "masked path climbing out",
            variant(|c| c["linux"]["maskedPaths"] = json!([climb])),
        ),
        (
            "readonly path relative",
            variant(|c| c["linux"]["readonlyPaths"] = json!(["relative"])),
        ),
        (
            "sysctl climbing out",
            variant(|c| c["linux"]["sysctl"] = json!({ "../../../../tmp/x": "1" })),
        ),
        (
            "unknown sysctl",
            variant(|c| c["linux"]["sysctl"] = json!({ "kernel.bogus_knob": "1" })),
        ),
        (
            "hostname too long",
            variant(|c| c["hostname"] = json!(long)),
        ),
        (
            "memory limit negative",
            variant(|c| c["linux"]["resources"] = json!({ "memory": { "limit": -2 } })),
        ),
        (
            "pids limit not a number",
            variant(|c| c["linux"]["resources"] = json!({ "pids": { "limit": "many" } })),
        ),
        (
            "device climbing out",
            variant(|c| {
                c["linux"]["devices"] =
                    json!([{ "path": climb, "type": "c", "major": 1, "minor": 3 }])
            }),
        ),
        (
            "device of unknown type",
            variant(|c| {
                c["linux"]["devices"] =
                    json!([{ "path": "/dev/x", "type": "q", "major": 1, "minor": 3 }])
            }),
        ),
        (
            "unknown seccomp action",
            variant(|c| c["linux"]["seccomp"] = json!({ "defaultAction": "SCMP_ACT_BOGUS" })),
        ),
        (
            "unknown syscall name",
            variant(|c| {
                c["linux"]["seccomp"] = json!({ "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{ "names": ["no_such_call"], "action": "SCMP_ACT_ERRNO" }] })
            }),
        ),
        (
            "hook missing",
            variant(|c| c["hooks"] = json!({ "createRuntime": [{ "path": "/nonexistent-hook" }] })),
        ),
        (
            "hook relative",
            variant(|c| c["hooks"] = json!({ "prestart": [{ "path": "relative" }] })),
        ),
        (
            "maps without user namespace",
            variant(|c| {
                c["linux"]["uidMappings"] = json!([{ "containerID": 0, "hostID": 1000, "size": 1 }])
            }),
        ),
        (
            "annotation not a string",
            variant(|c| c["annotations"] = json!({ "a": 1 })),
        ),
        (
            "ociVersion nonsense",
            variant(|c| c["ociVersion"] = json!("banana")),
        ),
        (
            "deep cgroupsPath",
            variant(|c| c["linux"]["cgroupsPath"] = json!(deep)),
        ),
        ("config not an object", json!([1, 2, 3])),
    ];
    let mut bad = vec![];
    for (i, (what, cfg)) in variants.into_iter().enumerate() {
        let b = cx.bundle(&cfg)?.to_string_lossy().into_owned();
        let id = format!("hostile{i}");
        let o = cx.rt(&["run", "--bundle", &b, &id]);
        if crashed(o.code) {
            bad.push(format!(
                "{what}: crashed (exit {}): {}",
                o.code,
                o.stderr.trim()
            ));
        } else if o.code != 0 && o.stderr.trim().is_empty() {
            bad.push(format!("{what}: exit {} with no message", o.code));
        }
        // A refused run leaves nothing to delete; one that ran was deleted by `run`.
        cx.rt(&["delete", "--force", &id]);
        if std::path::Path::new(&outside).exists() {
            let _ = std::fs::remove_dir_all(&outside);
            let _ = std::fs::remove_file(&outside);
            bad.push(format!("{what}: made {outside} on the host"));
        }
    }
    ensure!(bad.is_empty(), "{}", bad.join("; "));
    Ok(())
}
