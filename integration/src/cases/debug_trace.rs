//! `--debug`: the steps of create, exec and delete in the log (issue 16 §3), enough to
//! diagnose a failure from the log alone: namespaces, mounts, devices, masked and
//! read-only paths, the cgroup and what was written to it, seccomp, hooks, teardown.

use super::ensure;
use crate::bundle::config;
use crate::ctx::Ctx;
use crate::{Case, CaseResult};
use serde_json::{json, Value};

pub fn cases() -> Vec<Case> {
    vec![
        Case::corral(
            "flags_debug_traces_the_steps",
            "--debug logs the steps of create, exec and delete",
            steps,
        ),
        Case::corral(
            "flags_debug_logs_start_container_hooks",
            "start --debug logs the init's startContainer hooks, also a failed one",
            start_hooks,
        ),
        Case::corral(
            "flags_debug_log_shows_the_failed_mount",
            "--debug logs the init's steps up to a failed mount",
            failed_mount,
        ),
    ]
}

/// The `msg` of every debug line of a JSON log.
fn debug_lines(cx: &Ctx, name: &str) -> Result<Vec<String>, String> {
    let log = cx.dir.join(name);
    let text = std::fs::read_to_string(&log).map_err(|e| format!("{log:?}: {e}"))?;
    let mut out = vec![];
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).map_err(|e| format!("{line}: {e}"))?;
        if v["level"] == "debug" {
            out.push(v["msg"].as_str().unwrap_or_default().to_string());
        }
    }
    Ok(out)
}

/// The one step line containing every one of `words`, or an error naming them.
fn has(lines: &[String], words: &[&str]) -> CaseResult {
    ensure!(
        lines.iter().any(|l| words.iter().all(|w| l.contains(w))),
        "no --debug step says {words:?}; steps:\n{}",
        lines.join("\n")
    );
    Ok(())
}

fn steps(cx: &mut Ctx) -> CaseResult {
    let mut cfg = config(&["sleep", "30"]);
    cfg["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/mnt/trace-bind", "type": "bind", "source": "rootfs/etc",
        "options": ["rbind", "ro", "nosuid"]
    }));
    let cg = cx.cgroup_name("trace");
    cfg["linux"]["cgroupsPath"] = json!(cg);
    cfg["linux"]["resources"] = json!({ "pids": { "limit": 77 } });
    cfg["linux"]["devices"] = json!([
        { "path": "/dev/trace-null", "type": "c", "major": 1, "minor": 3, "fileMode": 0o640 }
    ]);
    cfg["linux"]["maskedPaths"] = json!(["/proc/kcore", "/proc/acpi"]);
    cfg["linux"]["readonlyPaths"] = json!(["/proc/sys"]);
    cfg["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{ "names": ["kexec_load", "open_by_handle_at"], "action": "SCMP_ACT_ERRNO" }]
    });
    cfg["hooks"] = json!({ "prestart": [{ "path": "/bin/true", "timeout": 7 }] });
    let b = cx.bundle(&cfg)?;
    let b = b.to_string_lossy();
    let log = cx.dir.join("debug.json");
    let log = log.to_string_lossy();
    let debug = ["--debug", "--log", &log, "--log-format", "json"];
    let with = |args: &[&'static str]| -> Vec<String> {
        debug.iter().chain(args).map(|s| s.to_string()).collect()
    };
    let run = |cx: &mut Ctx, args: Vec<String>| {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        cx.rt(&a)
    };
    let mut create = with(&["create", "--bundle"]);
    create.extend([b.to_string(), "c1".into()]);
    run(cx, create).ok("create --debug")?;
    run(cx, with(&["exec", "c1", "true"])).ok("exec --debug")?;
    run(cx, with(&["delete", "--force", "c1"])).ok("delete --debug")?;
    let lines = debug_lines(cx, "debug.json")?;
    let steps: Vec<String> = lines.into_iter().filter(|l| l.starts_with('+')).collect();
    for l in &steps {
        let ms = l[1..].split(' ').next().unwrap_or_default();
        ensure!(ms.parse::<f64>().is_ok(), "a step without its time: {l}");
    }
    // Each namespace of the config, made by clone3.
    has(
        &steps,
        &["namespaces: new", "pid", "ipc", "uts", "mount", "network"],
    )?;
    // Each mount, with its source, destination, type and options, in the init.
    for (dest, typ) in [
        ("/proc", "proc"),
        ("/dev", "tmpfs"),
        ("/dev/pts", "devpts"),
        ("/dev/shm", "tmpfs"),
        ("/sys", "sysfs"),
    ] {
        has(
            &steps,
            &[
                "init: mounts[",
                &format!(" {typ} "),
                &format!(" on {dest} ("),
            ],
        )?;
    }
    for want in [
        "init: mounts[5]: bind rootfs/etc on /mnt/trace-bind (rbind,ro,nosuid)",
        "init: device /dev/trace-null c 1:3 mode 640",
        "init: masked path /proc/acpi",
        "init: readonly path /proc/sys",
        "init: root: pivot_root",
        // The cgroup and what was written there (its driver and path: below).
        "pids.max (linux.resources.pids.limit)",
        // The filter: its default action, rules and architectures; loaded in the init.
        "seccomp: compiled, default action SCMP_ACT_ALLOW, 1 rules (2 syscall names",
        "architectures SCMP_ARCH_X86_64",
        "init: seccomp: loading the filter",
        "hook prestart[0] /bin/true (timeout 7 s): exit 0",
        // exec: the namespaces it joins; delete: its teardown.
        "namespaces: joins those of init pid",
        "delete c1: status",
        "delete: destroy cgroup",
        "delete: remove the state dir",
    ] {
        has(&steps, &[want])?;
    }
    // The exec process sends its own steps, not its copy of corral's.
    ensure!(
        !steps.iter().any(|l| l.contains("init: namespaces: joins")),
        "the exec process repeated corral's steps:\n{}",
        steps.join("\n")
    );
    has(&steps, &["cgroup: driver", &cg])?;
    has(&steps, &["cgroup: write \"77\" to ", "pids.max"])?;
    // Without --debug: no step at all.
    let quiet = cx.dir.join("quiet.json");
    let q = quiet.to_string_lossy();
    cx.rt(&[
        "--log",
        &q,
        "--log-format",
        "json",
        "create",
        "--bundle",
        &b,
        "c2",
    ])
    .ok("create without --debug")?;
    cx.rt(&["delete", "--force", "c2"]).ok("delete")?;
    let text = std::fs::read_to_string(&quiet).unwrap_or_default();
    ensure!(
        !text.contains("mounts["),
        "steps logged without --debug: {text}"
    );
    Ok(())
}

/// A mount whose source is missing fails `create`; the debug log shows the init's steps
/// up to that mount, the mount itself and why it failed, before the error.
fn failed_mount(cx: &mut Ctx) -> CaseResult {
    let mut cfg = config(&["true"]);
    cfg["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/mnt/trace-missing", "type": "bind",
        "source": "/nonexistent-trace-source", "options": ["rbind"]
    }));
    let b = cx.bundle(&cfg)?;
    let log = cx.dir.join("failed.json");
    let o = cx.rt(&[
        "--debug",
        "--log",
        &log.to_string_lossy(),
        "--log-format",
        "json",
        "create",
        "--bundle",
        &b.to_string_lossy(),
        "c1",
    ]);
    o.failed("create with a missing mount source")?;
    let lines = debug_lines(cx, "failed.json")?;
    let mount = "init: mounts[5]: bind /nonexistent-trace-source on /mnt/trace-missing (rbind)";
    has(&lines, &[mount])?;
    has(&lines, &["init: mounts[4]: sysfs sysfs on /sys"])?;
    has(
        &lines,
        &[
            "init: failed: mounts[5]",
            "/nonexistent-trace-source",
            "ENOENT",
        ],
    )?;
    has(&lines, &["create failed, removing what it made"])?;
    let at = |w: &str| lines.iter().position(|l| l.contains(w));
    ensure!(
        at("init: mounts[4]") < at(mount) && at(mount) < at("init: failed"),
        "steps out of order:\n{}",
        lines.join("\n")
    );
    Ok(())
}

/// startContainer hooks run in the init after `start` released it, under the seccomp
/// filter; `start --debug` logs their steps (with the init's marker), a failed hook's
/// too, next to its error. `create` runs without --debug: the steps must come from
/// `start`'s request. The hook that passes runs under each engine's default profile:
/// what the init does to send its steps is allowed there.
fn start_hooks(cx: &mut Ctx) -> CaseResult {
    let mut runs = vec![("bad".to_string(), "/bin/false", "failed", None)];
    for (name, text) in super::seccomp_engines::PROFILES {
        let p = super::seccomp_engines::profile(text)?;
        runs.push((format!("ok-{name}"), "/bin/true", "exit 0", Some(p)));
    }
    for (id, hook, ends, seccomp) in runs {
        let mut cfg = config(&["true"]);
        cfg["hooks"] = json!({ "startContainer": [{ "path": hook, "timeout": 9 }] });
        if let Some(p) = seccomp {
            cfg["linux"]["seccomp"] = p;
        }
        let b = cx.bundle(&cfg)?;
        cx.rt(&["create", "--bundle", &b.to_string_lossy(), &id])
            .ok("create")?;
        let name = format!("start-{id}.json");
        let log = cx.dir.join(&name);
        let log = log.to_string_lossy();
        let o = cx.rt(&[
            "--debug",
            "--log",
            &log,
            "--log-format",
            "json",
            "start",
            &id,
        ]);
        if hook == "/bin/true" {
            o.ok(&format!("start --debug of {id}"))?;
        } else {
            o.failed("start with a failing startContainer hook")?;
        }
        let lines = debug_lines(cx, &name)?;
        let step = format!("init: hook startContainer[0] {hook} (timeout 9 s): {ends}");
        has(&lines, &[&step]).map_err(|e| format!("{id}: {e}"))?;
        cx.rt(&["delete", "--force", &id]).ok("delete")?;
    }
    Ok(())
}
