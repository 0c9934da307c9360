//! Known runtime escapes (runc's CVEs), each tried from inside a container.

use super::escape_interp::{runtime_copy, wait_report};
use super::{ensure, field};
use crate::bundle::config;
use crate::ctx::Ctx;
use crate::{Case, CaseResult};
use serde_json::json;

pub fn cases() -> Vec<Case> {
    vec![
        Case::new("escape_runtime_binary_unreachable", runtime_binary),
        Case::new("escape_runtime_binary_unreachable_own_pid_ns", own_pid_ns),
        Case::new("escape_cwd_through_leaked_fd", cwd_leaked_fd),
        Case::new("escape_exec_cwd_through_leaked_fd", exec_cwd_leaked_fd),
    ]
}

/// CVE-2019-5736: while a container is `created`, its init is still the runtime's
/// binary. An attacker in the same pid namespace (a pod) opens /proc/PID/exe of that
/// init, waits for it to go away, then writes through the fd, which would overwrite the
/// runtime on the host. The victim runs from a copy of the runtime, which must come out
/// unchanged (corral's init is not dumpable, so the open fails; runc 1.1.5 runs its init
/// from an anonymous copy, so the write lands there).
fn runtime_binary(cx: &mut Ctx) -> CaseResult {
    let copy = cx.dir.join("runtime-copy");
    std::fs::copy(&cx.runtime, &copy).map_err(|e| format!("copy the runtime: {e}"))?;
    let original = std::fs::read(&copy).map_err(|e| e.to_string())?;
    let sandbox = cx.bundle(&config(&["sleep", "1000"]))?;
    cx.rt(&["run", "-d", "--bundle", &sandbox.to_string_lossy(), "pod"])
        .ok("run the pod sandbox")?;
    let pod = cx.state("pod")?["pid"].as_i64().unwrap_or(0);
    let join = |cfg: &mut serde_json::Value| {
        cfg["linux"]["namespaces"] = json!([
            { "type": "mount" }, { "type": "ipc" }, { "type": "uts" }, { "type": "network" },
            { "type": "pid", "path": format!("/proc/{pod}/ns/pid") }
        ]);
        cfg.as_object_mut().unwrap().remove("hostname");
    };
    // Victim and attacker have the same capabilities, as with `exec` into a container:
    // then only the init's dumpable flag stands between them (with fewer capabilities than
    // its target, a process may not reach it anyway).
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    let caps = json!({ "bounding": caps, "effective": caps, "permitted": caps });
    let mut victim = config(&["true"]);
    victim["process"]["capabilities"] = caps.clone();
    join(&mut victim);
    let vb = cx.bundle(&victim)?;
    let runtime = std::mem::replace(&mut cx.runtime, copy.clone());
    let created = cx.rt(&["create", "--bundle", &vb.to_string_lossy(), "victim"]);
    cx.runtime = runtime;
    created.ok("create the victim with the runtime's copy")?;
    let vpid = cx.state("victim")?["pid"].as_i64().unwrap_or(0);
    // The attacker: an ordinary container (no CAP_SYS_PTRACE, with which root may ptrace
    // anything by design) in the pod's pid namespace.
    let mut cfg = config(&[]);
    join(&mut cfg);
    cfg["process"]["capabilities"] = caps;
    // `command exec`: a failed redirection of a plain `exec` would end the shell.
    let script = "for d in /proc/[0-9]*; do \
                    case $(cat $d/comm 2>/dev/null) in runtime-copy|runc*) p=${d#/proc/};; esac; done; \
                  echo target=$p; \
                  if command exec 3</proc/$p/exe; then echo opened=yes; else echo opened=no; fi; \
                  cat /proc/$p/maps >/dev/null 2>&1; echo maps=$?; \
                  i=0; while [ -e /proc/$p ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; \
                  echo gone=$i; \
                  if echo pwned >/proc/self/fd/3; then echo wrote=yes; else echo wrote=no; fi";
    cfg["process"]["args"] = json!(["sh", "-c", script]);
    let ab = cx.bundle(&cfg)?;
    let (child, out_path) = cx.rt_spawn(&["run", "--bundle", &ab.to_string_lossy(), "attacker"])?;
    // Let the attacker find and open the victim's init, then end the victim.
    let start = std::time::Instant::now();
    while !std::fs::read_to_string(&out_path)
        .unwrap_or_default()
        .contains("opened=")
        && start.elapsed() < crate::PATIENCE
    {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    cx.rt(&["delete", "--force", "victim"])
        .ok("delete the victim")?;
    // The victim's init is our child (we are a subreaper): reap it, or the pod's pid 1
    // cannot finish dying when the cleanup deletes the pod.
    crate::ctx::reap();
    crate::ctx::wait_child(child)?;
    let out = std::fs::read_to_string(&out_path).unwrap_or_default();
    ensure!(
        field(&out, "target").is_some_and(|t| !t.is_empty()),
        "the attacker did not find the victim's init (host pid {vpid}): {out}"
    );
    let now = std::fs::read(&copy).map_err(|e| e.to_string())?;
    ensure!(
        now == original,
        "the runtime binary on the host was changed through /proc/PID/exe: {out}"
    );
    if cx.is_corral {
        // corral's init is not dumpable: its exe link and its memory map (what ptrace
        // access guards) are closed to the attacker.
        ensure!(
            field(&out, "opened") == Some("no") && field(&out, "maps").is_some_and(|m| m != "0"),
            "the attacker reached the created init's exe or memory map: {out}"
        );
    }
    Ok(())
}

/// CVE-2019-5736 in a container with a pid namespace of its own, the usual case (where
/// corral's init leaves corral through its exec trampoline rather than running from a
/// write-protected copy): a process `exec`'d into the created container opens
/// /proc/1/exe, the init's, and writes through it while the container waits for `start`,
/// and again once the init has exec'd its program. The victim is created by a copy of
/// the runtime, which must come out unchanged; with corral the link must not even name
/// the copy (the init's executable is the sealed trampoline from Ready on).
fn own_pid_ns(cx: &mut Ctx) -> CaseResult {
    let (copy, original) = runtime_copy(cx)?;
    let b = cx.bundle(&config(&["sleep", "1000"]))?;
    let runtime = std::mem::replace(&mut cx.runtime, copy.clone());
    let created = cx.rt(&["create", "--bundle", &b.to_string_lossy(), "victim"]);
    cx.runtime = runtime;
    created.ok("create the victim with the runtime's copy")?;
    // `command exec`: a failed redirection of a plain `exec` would end the shell.
    let script = "l=$(readlink /proc/1/exe 2>&1); echo \"link=$l\" >>/out; \
                  if command exec 3</proc/1/exe; then echo opened=yes; else echo opened=no; fi >>/out; \
                  if echo pwned >/proc/self/fd/3; then echo wrote=yes; else echo wrote=no; fi >>/out 2>&1; \
                  i=0; while [ ! -e /go ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done; \
                  if echo pwned >/proc/self/fd/3; then echo started_wrote=yes; else echo started_wrote=no; fi >>/out 2>&1; \
                  echo done=1 >>/out";
    // In the foreground: `exec` reaps it (a detached one would be this harness's child
    // once `exec` ends, and the victim's init could not finish dying before it is reaped).
    let (attacker, _) = cx.rt_spawn(&["exec", "victim", "sh", "-c", script])?;
    let out = b.join("rootfs/out");
    wait_report(&out, "wrote")?;
    cx.rt(&["start", "victim"]).ok("start the victim")?;
    std::fs::write(b.join("rootfs/go"), "").map_err(|e| e.to_string())?;
    let text = wait_report(&out, "done")?;
    crate::ctx::wait_child(attacker)?;
    cx.rt(&["delete", "--force", "victim"])
        .ok("delete the victim")?;
    crate::ctx::reap();
    let now = std::fs::read(&copy).map_err(|e| e.to_string())?;
    ensure!(
        now == original,
        "the runtime binary on the host was changed through /proc/1/exe: {text}"
    );
    ensure!(
        field(&text, "opened") == Some("no")
            || (field(&text, "wrote") == Some("no") && field(&text, "started_wrote") == Some("no")),
        "the attacker wrote through the init's exe: {text}"
    );
    if cx.is_corral {
        ensure!(
            field(&text, "link").is_some_and(|l| !l.contains("runtime-copy")),
            "the created init's exe is the runtime's binary: {text}"
        );
    }
    Ok(())
}

/// CVE-2024-21626: a `cwd` of `/proc/self/fd/3`, where fd 3 is a host directory passed
/// with `--preserve-fds`, would start the process in the host's filesystem. The runtime
/// must refuse it, and leave nothing behind.
fn cwd_leaked_fd(cx: &mut Ctx) -> CaseResult {
    let mut cfg = config(&["sh", "-c", "cat secret; echo escaped"]);
    cfg["process"]["cwd"] = json!("/proc/self/fd/3");
    let b = cx.bundle(&cfg)?;
    let b = b.to_string_lossy().into_owned();
    leaked_fd_refused(cx, &["run", "--preserve-fds", "1", "--bundle", &b, "c1"])
}

/// CVE-2024-21626 through `exec`: `--cwd /proc/self/fd/3`, fd 3 a host directory passed
/// with `--preserve-fds`, must not put the process outside the container's root.
fn exec_cwd_leaked_fd(cx: &mut Ctx) -> CaseResult {
    let b = cx.bundle(&config(&["sleep", "1000"]))?;
    cx.rt(&["run", "-d", "--bundle", &b.to_string_lossy(), "c1"])
        .ok("run -d")?;
    let script = "cat secret; echo escaped";
    let cwd = "/proc/self/fd/3";
    let args = [
        "exec",
        "--preserve-fds",
        "1",
        "--cwd",
        cwd,
        "c1",
        "sh",
        "-c",
        script,
    ];
    leaked_fd_refused(cx, &args)
}

/// Runs the runtime with `args` and fd 3 open on a host directory holding `secret`: it
/// must fail, naming process.cwd, and the process must not have run there.
fn leaked_fd_refused(cx: &mut Ctx, args: &[&str]) -> CaseResult {
    let host_dir = cx.dir.join("host-secret");
    std::fs::create_dir_all(&host_dir).map_err(|e| e.to_string())?;
    std::fs::write(host_dir.join("secret"), "host").map_err(|e| e.to_string())?;
    let o = cx.rt_with_fd3_on(args, &host_dir);
    ensure!(
        !o.stdout.contains("escaped") && !o.stdout.contains("host"),
        "the process ran in the host directory: {}",
        o.stdout
    );
    o.failed(&format!("{args:?}"))?;
    if cx.is_corral {
        ensure!(
            o.stderr.contains("process.cwd"),
            "the error does not name process.cwd: {}",
            o.stderr.trim()
        );
    }
    Ok(())
}
