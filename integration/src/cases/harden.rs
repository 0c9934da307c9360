//! Issue 12's hardening: device numbers that do not fit, and a `create` killed at any
//! write of its state that `delete --force` must still clean up.

use super::ensure;
use super::errors::refused;
use crate::bundle::config;
use crate::ctx::Ctx;
use crate::{Case, CaseResult};
use serde_json::json;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn cases() -> Vec<Case> {
    vec![
        Case::new("cgroup_device_rule_numbers_out_of_range", rule_numbers),
        // runc 1.1.5 cuts a node's numbers to 32 bits and makes c 1:1 (/dev/mem).
        Case::corral(
            "bad_device_node_numbers_out_of_range",
            "device numbers mknod cannot represent are refused",
            node_numbers,
        ),
        // runc 1.1.5 signals the number with kill(2).
        Case::corral(
            "lifecycle_kill_never_reaches_a_recycled_pid",
            "signals go through a pidfd checked to be the container's",
            recycled_pid,
        ),
        // runc 1.1.5 opens no pidfd.
        Case::corral(
            "lifecycle_kill_checks_the_pidfd_it_opened",
            "signals go through a pidfd checked to be the container's",
            recycled_pid_before_pin,
        ),
        // runc 1.1.5 has other state files; its delete of a damaged one is not tested.
        Case::corral(
            "state_damaged_delete_force_cleans_up",
            "corral's own state files",
            damaged_state,
        ),
        Case::corral(
            "state_create_killed_at_every_write",
            "corral's own state files",
            killed_create,
        ),
    ]
}

/// `linux.resources.devices`: a number is -1 (any) or fits in 32 bits, as v1's
/// devices.allow and v2's device program read it; 4294967297 cut to 32 bits is 1, and
/// an allow rule for `c 1:1` would give the container /dev/mem.
fn rule_numbers(cx: &mut Ctx) -> CaseResult {
    let field = |i: usize, name: &str| format!("linux.resources.devices[{i}].{name}");
    for (rules, says) in [
        (
            json!([{ "allow": true, "type": "c", "major": 4294967297_i64, "minor": 1, "access": "rw" }]),
            field(0, "major"),
        ),
        (
            json!([{ "allow": false, "access": "rwm" },
                   { "allow": true, "type": "c", "major": 1, "minor": -4294967295_i64, "access": "rw" }]),
            field(1, "minor"),
        ),
        (
            json!([{ "allow": true, "type": "b", "major": -2, "access": "r" }]),
            field(0, "major"),
        ),
    ] {
        let mut cfg = config(&["true"]);
        cfg["linux"]["resources"] = json!({ "devices": rules });
        refused(cx, &cfg, &says).map_err(|e| format!("devices {rules}: {e}"))?;
    }
    Ok(())
}

/// `linux.devices`: mknod(2) takes 12 bits of major and 20 of minor; a larger number
/// would make a node with other numbers than the config's.
fn node_numbers(cx: &mut Ctx) -> CaseResult {
    for (major, minor, says) in [
        (4294967297_i64, 1_i64, "linux.devices[0].major"),
        (4096, 0, "linux.devices[0].major"),
        (1, 1 << 20, "linux.devices[0].minor"),
        (1, -1, "linux.devices[0].minor"),
    ] {
        let mut cfg = config(&["true"]);
        cfg["linux"]["devices"] = json!([{
            "path": "/dev/harden-a", "type": "c", "major": major, "minor": minor
        }]);
        refused(cx, &cfg, says)?;
    }
    // The largest numbers that fit are made as asked.
    let mut cfg = config(&["sh", "-c", "stat -c %t:%T /dev/harden-a"]);
    cfg["linux"]["devices"] = json!([{
        "path": "/dev/harden-a", "type": "c", "major": 4095, "minor": 1048575
    }]);
    let b = cx.bundle(&cfg)?;
    let o = cx.rt(&["run", "--bundle", &b.to_string_lossy(), "c1"]);
    o.ok("run with the largest device numbers")?;
    ensure!(
        o.stdout.trim() == "fff:fffff",
        "the node has numbers {} (hex), not fff:fffff",
        o.stdout.trim()
    );
    Ok(())
}

/// `kill` between its check of the init and its signal: the init dies and its number
/// goes to another process. strace holds corral at the entry of the call that signals
/// (kill or pidfd_send_signal) while the case kills and reaps the init (the suite is
/// the subreaper) and makes a new process take its number (ns_last_pid). A signal to a
/// pid number would kill that process; through a pidfd it reaches no one.
/// strace holds the call for a fixed time: when the case's own steps took longer (a
/// loaded, emulated guest), the attempt proves nothing and is made again, held longer.
fn recycled_pid(cx: &mut Ctx) -> CaseResult {
    for hold in [3, 10, 30] {
        if recycled_pid_held(cx, hold, Held::Signal)? {
            return Ok(());
        }
    }
    Err("the runtime left its signal call before the pid was recycled, even held 30 s".into())
}

/// `kill` between its reading of the state and its pidfd_open of the init: the init
/// dies, its number goes to another process, and the pidfd opened is that process's.
/// The start time checked through the pidfd tells it is not the init: `kill` fails as
/// for a stopped container and the other process lives.
fn recycled_pid_before_pin(cx: &mut Ctx) -> CaseResult {
    for hold in [3, 10, 30] {
        if recycled_pid_held(cx, hold, Held::Pin)? {
            return Ok(());
        }
    }
    Err("the runtime left its pidfd_open before the pid was recycled, even held 30 s".into())
}

/// The call of `kill` that strace holds while the init's number is recycled.
#[derive(Clone, Copy, PartialEq)]
enum Held {
    /// kill(2) or pidfd_send_signal(2): `kill` must succeed, signalling no one.
    Signal,
    /// pidfd_open(2): `kill` must fail (the container stopped), signalling no one.
    Pin,
}

/// One attempt with the call held `hold` seconds: whether it proved anything.
fn recycled_pid_held(cx: &mut Ctx, hold: u64, call: Held) -> Result<bool, String> {
    let b = cx.bundle(&config(&["sleep", "1000"]))?;
    cx.rt(&["create", "--bundle", &b.to_string_lossy(), "c1"])
        .ok("create")?;
    let init = crate::ctx::pid_of(&cx.state("c1")?).unwrap_or(0);
    ensure!(init > 1, "no init pid in the state");
    let root = cx.root.to_string_lossy().into_owned();
    let rt = cx.runtime.to_string_lossy().into_owned();
    let calls = match call {
        Held::Signal => "kill,pidfd_send_signal",
        Held::Pin => "pidfd_open",
    };
    let inject = format!("inject={calls}:delay_enter={}", hold * 1_000_000);
    let mut strace = Command::new("strace")
        .args(["-f", "-o", "/dev/null"])
        .args(["-e", &format!("trace={calls}"), "-e", &inject])
        .args([rt.as_str(), "--root", &root, "kill", "c1", "KILL"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("strace: {e}"))?;
    // strace's and the runtime's stderr (only errors: the trace goes to /dev/null).
    let stderr = strace.stderr.take();
    let result = (|| {
        let tracer = strace.id() as i32;
        let held = wait_for(crate::PATIENCE, || {
            super::lifecycle::descendants(tracer)
                .into_iter()
                .find(|p| runs(*p, &rt) && in_call(*p, call))
        })
        .ok_or("the runtime never reached the call held")?;
        // The init dies and is reaped: its number is free.
        // SAFETY: kill with plain integers, on our own container's init.
        unsafe { libc::kill(init, libc::SIGKILL) };
        // SAFETY: waitpid with a null status pointer, on that init (our child).
        unsafe { libc::waitpid(init, std::ptr::null_mut(), 0) };
        let mut victim = take_pid(init)?;
        // Still held: the signal comes after the number went to the victim.
        let proven = in_call(held, call);
        let code = strace.wait().map_err(|e| e.to_string())?;
        let alive = victim.try_wait().map_err(|e| e.to_string())?.is_none();
        let _ = victim.kill();
        let _ = victim.wait();
        let mut said = String::new();
        if let Some(mut err) = stderr {
            let _ = std::io::Read::read_to_string(&mut err, &mut said);
        }
        match call {
            Held::Signal => ensure!(code.success(), "kill failed ({code}): {}", said.trim()),
            Held::Pin => ensure!(
                !code.success() && said.contains("not running"),
                "kill of a container whose init's number went to another process: {code}, {:?} (want a failure: not running)",
                said.trim()
            ),
        }
        ensure!(
            alive,
            "kill signalled process {init}, which is not the container's any more"
        );
        Ok(proven)
    })();
    let _ = strace.kill();
    let _ = strace.wait();
    let proven = result?;
    cx.rt(&["delete", "--force", "c1"]).ok("delete --force")?;
    Ok(proven)
}

/// Polls `f` every 5 ms until it gives something or `limit` passes.
fn wait_for<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Whether `pid` has exec'd the runtime: before its exec, strace's child stops itself
/// with kill(2) too, and holding that call is not holding the runtime.
fn runs(pid: i32, runtime: &str) -> bool {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    cmdline.split(|b| *b == 0).next() == Some(runtime.as_bytes())
}

/// Whether `pid` is at the call held: kill(2) (62) or pidfd_send_signal(2) (424), or
/// pidfd_open(2) (434).
fn in_call(pid: i32, call: Held) -> bool {
    let s = std::fs::read_to_string(format!("/proc/{pid}/syscall")).unwrap_or_default();
    let nr = s.split(' ').next();
    match call {
        Held::Signal => matches!(nr, Some("62" | "424")),
        Held::Pin => nr == Some("434"),
    }
}

/// A new process (a sleep) whose pid is `pid`: ns_last_pid set to the number before,
/// then a fork; another process of the host may take the number first, so a few tries.
fn take_pid(pid: i32) -> Result<Child, String> {
    for _ in 0..100 {
        std::fs::write("/proc/sys/kernel/ns_last_pid", (pid - 1).to_string())
            .map_err(|e| format!("ns_last_pid: {e}"))?;
        let mut c = Command::new("sleep")
            .arg("30")
            .spawn()
            .map_err(|e| e.to_string())?;
        if c.id() as i32 == pid {
            return Ok(c);
        }
        let _ = c.kill();
        let _ = c.wait();
    }
    Err(format!("could not make a process with pid {pid}"))
}

/// A created container with a cgroup of its own (relative cgroupsPath `name`).
fn created_with_cgroup(cx: &mut Ctx, name: &str, id: &str) -> Result<String, String> {
    let mut cfg = config(&["sleep", "1000"]);
    cfg["linux"]["cgroupsPath"] = json!(name);
    let b = cx.bundle(&cfg)?.to_string_lossy().into_owned();
    cx.rt(&["create", "--bundle", &b, id]).ok("create")?;
    Ok(b)
}

/// After `delete --force`: no state, no cgroup, no live init.
fn nothing_left(cx: &mut Ctx, name: &str, id: &str, init: Option<i32>) -> CaseResult {
    ensure!(
        !cx.root.join(id).exists(),
        "the state dir {} is still there",
        cx.root.join(id).display()
    );
    let left: Vec<_> = crate::ctx::cgroup_dirs(name)
        .into_iter()
        .filter(|d| d.exists())
        .collect();
    ensure!(left.is_empty(), "cgroups left: {left:?}");
    crate::ctx::reap();
    if let Some(pid) = init {
        ensure!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "the init {pid} is still there"
        );
    }
    Ok(())
}

/// A state dir whose state.json is damaged (empty, as a write cut short by a crash left
/// it before writes were atomic), with leftovers of an interrupted write: `delete
/// --force` reports it, kills the init and removes the cgroup it finds in cgroup.json,
/// and removes the directory.
fn damaged_state(cx: &mut Ctx) -> CaseResult {
    let name = cx.cgroup_name("harden-a-damaged");
    created_with_cgroup(cx, &name, "c1")?;
    let init = crate::ctx::pid_of(&cx.state("c1")?).unwrap_or(0);
    let dir = cx.root.join("c1");
    std::fs::write(dir.join("state.json"), "").map_err(|e| e.to_string())?;
    std::fs::write(dir.join(".cgroup.json.tmp"), "{\"dirs\"").map_err(|e| e.to_string())?;
    let o = cx.rt(&["delete", "--force", "c1"]);
    o.ok("delete --force of a damaged state dir")?;
    ensure!(
        o.stderr.contains("state.json"),
        "the damaged file is not reported: {}",
        o.stderr.trim()
    );
    nothing_left(cx, &name, "c1", Some(init))
}

/// `create` killed (strace injects SIGKILL) at each of its write(2) calls in turn, then
/// at each rename: every time `delete --force` must leave no state dir, no cgroup, no
/// process (and the suite checks mounts after the case).
fn killed_create(cx: &mut Ctx) -> CaseResult {
    let started = Instant::now();
    let name = cx.cgroup_name("harden-a-killed");
    let b = created_with_cgroup(cx, &name, "c0")?;
    cx.rt(&["delete", "--force", "c0"]).ok("delete --force")?;
    let root = cx.root.to_string_lossy().into_owned();
    let rt = cx.runtime.to_string_lossy().into_owned();
    // Output to files: the init, blocked on exec.fifo, keeps the runtime's stdio open.
    let err = cx.dir.join("create.err");
    let run = |strace_args: &[&str]| -> Result<std::process::ExitStatus, String> {
        let stderr = std::fs::File::create(&err).map_err(|e| e.to_string())?;
        Command::new("strace")
            .args(["-qq", "-e", "trace=write,rename,renameat,renameat2"])
            .args(strace_args)
            .args([rt.as_str(), "--root", &root, "create", "--bundle", &b, "c1"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .status()
            .map_err(|e| format!("strace: {e}"))
    };
    // Counted once: how many writes and renames a whole create makes.
    let log = cx.dir.join("create.strace").to_string_lossy().into_owned();
    let st = run(&["-o", &log])?;
    ensure!(
        st.success(),
        "create under strace failed: {}",
        std::fs::read_to_string(&err).unwrap_or_default()
    );
    cx.rt(&["delete", "--force", "c1"]).ok("delete --force")?;
    nothing_left(cx, &name, "c1", None)?;
    let text = std::fs::read_to_string(&log).map_err(|e| e.to_string())?;
    let count = |call: &str| text.lines().filter(|l| l.starts_with(call)).count();
    let (writes, renames) = (count("write("), count("rename"));
    ensure!(writes > 0, "strace saw no write of create");
    let at = |calls: &str, n: usize| format!("inject={calls}:signal=SIGKILL:when={n}");
    let runs = (1..=writes)
        .map(|n| at("write", n))
        .chain((1..=renames).map(|n| at("rename,renameat,renameat2", n)));
    for inject in runs {
        let st = run(&["-o", "/dev/null", "-e", &inject])?;
        ensure!(!st.success(), "create survived {inject}");
        cx.rt(&["delete", "--force", "c1"])
            .ok(&format!("delete --force after {inject}"))?;
        nothing_left(cx, &name, "c1", None).map_err(|e| format!("after {inject}: {e}"))?;
    }
    ensure!(
        started.elapsed() < Duration::from_secs(60),
        "{writes} writes and {renames} renames took {:?}",
        started.elapsed()
    );
    Ok(())
}
