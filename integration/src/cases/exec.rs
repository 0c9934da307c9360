//! `exec`: a new process in a running container, seen from inside (its namespaces,
//! cgroup, identity, seccomp, labels) and from the host (its exit status), and the
//! helpers of the exec cases. The container's state (created, stopped, paused, sub-
//! cgroups, `--detach`) is in `exec_status`; terminal, fds and pidfds in `exec_io`.

use super::{ensure, field, fsutil};
use crate::bundle::config;
use crate::ctx::{Ctx, Out};
use crate::needs::TIME_NS;
use crate::{Case, CaseResult};
use serde_json::{json, Value};
use std::path::PathBuf;

pub fn cases() -> Vec<Case> {
    let mut v = vec![
        Case::new("exec_exit_status", exit_status),
        Case::new("exec_forwards_signals", forwards_signals),
        Case::new("exec_enters_every_namespace", namespaces),
        Case::new("exec_user_namespace", user_namespace),
        Case::new("exec_rootless", super::userns::rootless_exec),
        Case::new("exec_cap_user_groups", cap_user_groups),
        Case::new("exec_env_and_cwd", env_and_cwd),
        Case::new("exec_process_json", process_json),
        Case::new("exec_under_the_seccomp_profile", seccomp),
        Case::new("exec_and_init_sigpipe_not_ignored", sigpipe_not_ignored),
        Case::corral(
            "exec_ptrace_capable_process_takes_the_copy",
            "`exec` leaves corral through the trampoline unless a process of the container \
             may hold CAP_SYS_PTRACE over the host",
            ptrace_takes_the_copy,
        ),
        // runc 1.1.5 has no time namespaces.
        Case::feature("exec_time_namespace", TIME_NS, time_namespace),
    ];
    v.extend(super::exec_status::cases());
    v.extend(super::exec_io::cases());
    // Only where the LSM is on (the v2 guest; see process.rs).
    if super::process::apparmor_profile_loaded() {
        v.push(Case::new("exec_apparmor_profile", apparmor));
    }
    if std::path::Path::new("/sys/fs/selinux/enforce").exists() {
        v.push(Case::new("exec_process_label", selinux));
    }
    v
}

/// Runs `cfg` detached as `c1` with `sleep` as its init; returns the init's pid.
pub(super) fn sleeper(cx: &mut Ctx, cfg: Value) -> Result<i32, String> {
    sleeper_bundle(cx, cfg).map(|(pid, _)| pid)
}

/// `sleeper`, also returning the bundle.
pub(super) fn sleeper_bundle(cx: &mut Ctx, mut cfg: Value) -> Result<(i32, PathBuf), String> {
    cfg["process"]["args"] = json!(["sleep", "1000"]);
    let b = cx.bundle(&cfg)?;
    cx.rt(&["run", "-d", "--bundle", &b.to_string_lossy(), "c1"])
        .ok("run -d")?;
    let pid = init_pid(cx)?;
    sleeping(pid)?;
    Ok((pid, b))
}

/// Waits (at most 10 s) until `pid` runs `sleep`: `run -d` returns once the init is
/// started, which may be before its execve.
pub(super) fn sleeping(pid: i32) -> CaseResult {
    let start = std::time::Instant::now();
    while std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default() != "sleep\n" {
        ensure!(
            start.elapsed().as_secs() < 10,
            "init {pid} never exec'd sleep"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    Ok(())
}

pub(super) fn init_pid(cx: &mut Ctx) -> Result<i32, String> {
    let st = cx.state("c1")?;
    crate::ctx::pid_of(&st).ok_or_else(|| format!("no pid in the state: {st}"))
}

/// Adds a new namespace of type `t` to `cfg`.
fn add_namespace(cfg: &mut Value, t: &str) {
    cfg["linux"]["namespaces"]
        .as_array_mut()
        .expect("namespaces is an array")
        .push(json!({ "type": t }));
}

/// Kills a detached exec'd process and reaps it. Orphaned, it became this harness's
/// child (a subreaper outside the container's pid namespace), and while its zombie is
/// not reaped the container's init cannot finish exiting, so `delete` would wait.
pub(super) fn end(pid: i32) -> CaseResult {
    // SAFETY: kill with plain integers, on a process this case started.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let start = std::time::Instant::now();
    while std::path::Path::new(&format!("/proc/{pid}")).exists() {
        crate::ctx::reap();
        if start.elapsed().as_secs() > 5 {
            return Err(format!("process {pid} outlived SIGKILL"));
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    Ok(())
}

/// The pid in `file`, tracked for cleanup.
pub(super) fn pid_file(cx: &mut Ctx, file: &std::path::Path) -> Result<i32, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("pid file: {e}"))?;
    let pid = text
        .trim()
        .parse()
        .map_err(|_| format!("pid file holds {text:?}"))?;
    cx.track(pid);
    Ok(pid)
}

/// `exec ARGS...` (with --root).
pub(super) fn exec(cx: &mut Ctx, args: &[&str]) -> Out {
    let mut v = vec!["exec"];
    v.extend_from_slice(args);
    cx.rt(&v)
}

/// `exec c1 sh -c script`, which must succeed; returns stdout.
pub(super) fn exec_script(cx: &mut Ctx, flags: &[&str], script: &str) -> Result<String, String> {
    let mut args = flags.to_vec();
    args.extend(["c1", "sh", "-c", script]);
    let o = exec(cx, &args);
    o.ok(&format!("exec {flags:?} {script:?}"))?;
    Ok(o.stdout)
}

/// The status is the process's, 128+N for signal N; the container goes on running.
fn exit_status(cx: &mut Ctx) -> CaseResult {
    sleeper(cx, config(&[]))?;
    let o = exec(cx, &["c1", "sh", "-c", "exit 3"]);
    ensure!(o.code == 3, "exit 3 gave {}: {}", o.code, o.stderr);
    let o = exec(cx, &["c1", "sh", "-c", "kill -KILL $$"]);
    ensure!(o.code == 137, "SIGKILL gave {}: {}", o.code, o.stderr);
    ensure!(
        cx.status("c1")? == "running",
        "the container stopped with its exec'd process"
    );
    Ok(())
}

/// A foreground exec passes the signals it gets on to its process (as runc does).
fn forwards_signals(cx: &mut Ctx) -> CaseResult {
    sleeper(cx, config(&[]))?;
    let script = "trap 'echo got-TERM; exit 7' TERM; echo ready; while :; do sleep 0.1; done";
    let (child, out) = cx.rt_spawn(&["exec", "c1", "sh", "-c", script])?;
    let start = std::time::Instant::now();
    while !std::fs::read_to_string(&out)
        .unwrap_or_default()
        .contains("ready")
    {
        if start.elapsed() > crate::PATIENCE {
            let _ = crate::ctx::wait_child(child);
            return Err("the exec'd shell never said ready".into());
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // SAFETY: kill with plain integers, on the runtime process this case started.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let code = crate::ctx::wait_child(child)?;
    let text = std::fs::read_to_string(&out).unwrap_or_default();
    ensure!(
        code == 7 && text.contains("got-TERM"),
        "SIGTERM to the runtime: exit {code}, output {text:?}"
    );
    Ok(())
}

const NAMESPACES: [&str; 6] = ["mnt", "pid", "uts", "ipc", "net", "cgroup"];

/// Every namespace of the init (those of the config plus cgroup), its hostname, its pid
/// namespace (the process is not pid 1; pid 1 is the init), its cgroup and its mounts
/// (a file one exec writes to a tmpfs of the container, another reads, the host's
/// rootfs does not have).
fn namespaces(cx: &mut Ctx) -> CaseResult {
    let mut cfg = config(&[]);
    add_namespace(&mut cfg, "cgroup");
    fsutil::push_mount(
        &mut cfg,
        json!({ "destination": "/scratch", "type": "tmpfs", "source": "tmpfs" }),
    );
    let (init, bundle) = sleeper_bundle(cx, cfg)?;
    let script = "for n in mnt pid uts ipc net cgroup; do \
                  [ \"$(readlink /proc/self/ns/$n)\" = \"$(readlink /proc/1/ns/$n)\" ] \
                  && echo same_$n=1; done; \
                  echo host=$(hostname); echo mypid=$$; \
                  echo init=$(tr '\\0' ' ' < /proc/1/cmdline); \
                  echo cg_self=$(tr '\\n' , < /proc/self/cgroup); \
                  echo cg_init=$(tr '\\n' , < /proc/1/cgroup); \
                  echo secret > /scratch/f";
    let out = exec_script(cx, &[], script)?;
    for n in NAMESPACES {
        ensure!(
            field(&out, &format!("same_{n}")) == Some("1"),
            "not in the init's {n} namespace: {out}"
        );
        let host = std::fs::read_link(format!("/proc/self/ns/{n}")).map_err(|e| e.to_string())?;
        let theirs =
            std::fs::read_link(format!("/proc/{init}/ns/{n}")).map_err(|e| e.to_string())?;
        ensure!(
            host != theirs,
            "the container shares the host's {n} namespace"
        );
    }
    ensure!(
        field(&out, "host") == Some("conformance"),
        "hostname: {out}"
    );
    ensure!(
        field(&out, "mypid").is_some_and(|p| p != "1"),
        "exec'd process is pid 1: {out}"
    );
    ensure!(field(&out, "init") == Some("sleep 1000"), "pid 1: {out}");
    ensure!(
        field(&out, "cg_self").is_some() && field(&out, "cg_self") == field(&out, "cg_init"),
        "cgroup differs from the init's: {out}"
    );
    let out = exec_script(cx, &[], "echo got=$(cat /scratch/f)")?;
    ensure!(field(&out, "got") == Some("secret"), "second exec: {out}");
    let b = bundle.join("rootfs/scratch/f");
    ensure!(!b.exists(), "{} exists on the host", b.display());
    Ok(())
}

/// With a user namespace, the process is in it: its uid_map is the init's.
fn user_namespace(cx: &mut Ctx) -> CaseResult {
    let mut cfg = config(&[]);
    fsutil::with_userns(&mut cfg, 100000);
    sleeper(cx, cfg)?;
    let out = exec_script(
        cx,
        &[],
        "echo self=$(tr -s ' ' < /proc/self/uid_map); echo init=$(tr -s ' ' < /proc/1/uid_map); \
         echo uid=$(id -u)",
    )?;
    ensure!(
        field(&out, "self") == Some(" 0 100000 65536"),
        "uid_map: {out}"
    );
    ensure!(field(&out, "self") == field(&out, "init"), "{out}");
    ensure!(field(&out, "uid") == Some("0"), "{out}");
    Ok(())
}

const STATUS: &str =
    "grep -E '^(Uid|Gid|Groups|CapEff|CapBnd):' /proc/self/status | tr -s '\\t' ' '";

/// `--cap` adds to the config's capabilities; `--user` and `--additional-gids` set the
/// ids (a non-root user keeps the bounding set, and no effective capability).
fn cap_user_groups(cx: &mut Ctx) -> CaseResult {
    let mut cfg = config(&[]);
    let caps = json!(["CAP_CHOWN", "CAP_KILL"]);
    cfg["process"]["capabilities"] =
        json!({ "bounding": caps, "effective": caps, "permitted": caps });
    sleeper(cx, cfg)?;
    let plain = exec_script(cx, &[], STATUS)?;
    ensure!(
        plain.contains("CapEff: 0000000000000021"),
        "config's capabilities: {plain}"
    );
    let added = exec_script(cx, &["--cap", "CAP_SYS_ADMIN"], STATUS)?;
    ensure!(
        added.contains("CapEff: 0000000000200021") && added.contains("CapBnd: 0000000000200021"),
        "--cap CAP_SYS_ADMIN: {added}"
    );
    let flags = [
        "--cap",
        "CAP_SYS_ADMIN",
        "--user",
        "1000:1001",
        "--additional-gids",
        "2000",
        "--additional-gids",
        "3000",
    ];
    let user = exec_script(cx, &flags, STATUS)?;
    for want in [
        "Uid: 1000 1000 1000 1000",
        "Gid: 1001 1001 1001 1001",
        "Groups: 2000 3000",
        "CapBnd: 0000000000200021",
        "CapEff: 0000000000000000",
    ] {
        ensure!(user.contains(want), "no {want:?}: {user}");
    }
    Ok(())
}

/// `--env` over the config's environment, `--cwd`.
fn env_and_cwd(cx: &mut Ctx) -> CaseResult {
    sleeper(cx, config(&[]))?;
    // Short and long forms are not mixed: runc refuses "two forms of the same flag".
    let flags = ["-e", "FOO=bar", "-e", "TERM=dumb", "--cwd", "/proc"];
    let script = "echo foo=$FOO; echo term=$TERM; echo path=$PATH; echo pwd=$(pwd)";
    let out = exec_script(cx, &flags, script)?;
    ensure!(field(&out, "foo") == Some("bar"), "{out}");
    ensure!(field(&out, "term") == Some("dumb"), "{out}");
    ensure!(
        field(&out, "path").is_some_and(|p| p.contains("/bin")),
        "the config's PATH: {out}"
    );
    ensure!(field(&out, "pwd") == Some("/proc"), "{out}");
    Ok(())
}

/// `--process`: the file is the whole process (the config's env is not used).
fn process_json(cx: &mut Ctx) -> CaseResult {
    sleeper(cx, config(&[]))?;
    let p = json!({
        "terminal": false,
        "user": { "uid": 33, "gid": 44 },
        "args": ["sh", "-c", "echo ids=$(id -u):$(id -g); echo x=$X; echo term=$TERM; echo pwd=$(pwd)"],
        "env": ["PATH=/bin", "X=from-json"],
        "cwd": "/dev"
    });
    let path = cx.dir.join("process.json");
    std::fs::write(&path, p.to_string()).map_err(|e| e.to_string())?;
    let o = exec(cx, &["--process", &path.to_string_lossy(), "c1"]);
    o.ok("exec --process")?;
    let out = &o.stdout;
    ensure!(field(out, "ids") == Some("33:44"), "{out}");
    ensure!(field(out, "x") == Some("from-json"), "{out}");
    ensure!(
        field(out, "term") == Some(""),
        "the config's env leaked in: {out}"
    );
    ensure!(field(out, "pwd") == Some("/dev"), "{out}");
    Ok(())
}

/// The container's seccomp profile filters the exec'd process too.
fn seccomp(cx: &mut Ctx) -> CaseResult {
    let mut cfg = config(&[]);
    cfg["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{ "names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 123 }]
    });
    sleeper(cx, cfg)?;
    let out = exec_script(
        cx,
        &[],
        "mkdir /made 2>&1; echo rc=$?; echo $(grep '^Seccomp:' /proc/self/status)",
    )?;
    ensure!(
        out.contains("No medium found") && field(&out, "rc") == Some("1"),
        "mkdir was not refused with errno 123: {out}"
    );
    ensure!(out.contains("Seccomp: 2"), "not in filter mode: {out}");
    Ok(())
}

/// SIGPIPE is not ignored in the init nor in an exec'd process (a runtime written in
/// Rust ignores it itself, and an ignored signal stays ignored across execve).
fn sigpipe_not_ignored(cx: &mut Ctx) -> CaseResult {
    let init = sleeper(cx, config(&[]))?;
    let out = exec(cx, &["c1", "grep", "SigIgn", "/proc/self/status"]);
    let status =
        std::fs::read_to_string(format!("/proc/{init}/status")).map_err(|e| e.to_string())?;
    for (who, text) in [
        ("exec'd process", &out.ok("exec grep")?.stdout),
        ("init", &status),
    ] {
        let mask = text
            .lines()
            .find_map(|l| l.strip_prefix("SigIgn:"))
            .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
            .ok_or(format!("{who}: no SigIgn in {text}"))?;
        ensure!(
            mask & (1 << (libc::SIGPIPE - 1)) == 0,
            "{who} ignores SIGPIPE: SigIgn {mask:016x}"
        );
    }
    Ok(())
}

/// `--apparmor`: the process runs confined by the profile (which denies writes under
/// /tmp), though the container's init is not.
fn apparmor(cx: &mut Ctx) -> CaseResult {
    use super::process::AA_PROFILE;
    sleeper(cx, config(&[]))?;
    let script = "echo label=$(cat /proc/self/attr/current); \
                  touch /tmp/x 2>/dev/null; echo tmp=$?; echo init=$(cat /proc/1/attr/current)";
    let out = exec_script(cx, &["--apparmor", AA_PROFILE], script)?;
    ensure!(
        field(&out, "label") == Some(&format!("{AA_PROFILE} (enforce)")),
        "not confined by the profile: {out}"
    );
    ensure!(
        field(&out, "tmp").is_some_and(|c| c != "0"),
        "the profile's deny of /tmp was not enforced: {out}"
    );
    ensure!(field(&out, "init") == Some("unconfined"), "{out}");
    Ok(())
}

/// `--process-label`: the process runs with the SELinux label.
fn selinux(cx: &mut Ctx) -> CaseResult {
    use super::process::SE_PROCESS;
    sleeper(cx, config(&[]))?;
    let out = exec_script(
        cx,
        &["--process-label", SE_PROCESS],
        "echo label=$(cat /proc/self/attr/current); echo init=$(cat /proc/1/attr/current)",
    )?;
    let label = |k| field(&out, k).map(|l| l.trim_end_matches('\0'));
    ensure!(
        label("label") == Some(SE_PROCESS),
        "not running with {SE_PROCESS}: {out}"
    );
    ensure!(
        label("init") != Some(SE_PROCESS),
        "the init has it too: {out}"
    );
    Ok(())
}

/// A container's time namespace (with a boottime offset) is joined too: the process
/// sees the container's uptime, not the host's.
fn time_namespace(cx: &mut Ctx) -> CaseResult {
    let mut cfg = config(&[]);
    add_namespace(&mut cfg, "time");
    cfg["linux"]["timeOffsets"] = json!({ "boottime": { "secs": 1000000 } });
    sleeper(cx, cfg)?;
    let script = "echo up=$(cut -d. -f1 /proc/uptime); \
                  [ \"$(readlink /proc/self/ns/time)\" = \"$(readlink /proc/1/ns/time)\" ] \
                  && echo same=1";
    let out = exec_script(cx, &[], script)?;
    super::process::uptime_ahead_by_a_million(&out)?;
    ensure!(
        field(&out, "same") == Some("1"),
        "not the init's time namespace: {out}"
    );
    Ok(())
}

/// How `exec ARGS c1 true` left corral, from its `--debug` trace.
fn how_exec_left(cx: &mut Ctx, name: &str, args: &[&str]) -> Result<String, String> {
    let log = cx.dir.join(format!("exec-how-{name}.log"));
    let log_arg = log.to_string_lossy().into_owned();
    let mut all = vec!["--debug", "--log", &log_arg, "exec"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["c1", "true"]);
    cx.rt(&all).ok("exec")?;
    let trace = std::fs::read_to_string(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    let line = trace
        .lines()
        .find(|l| l.contains("exec: the process leaves") || l.contains("exec: from the write"));
    line.map(str::to_string)
        .ok_or_else(|| format!("no decision in the trace: {trace}"))
}

/// The process of an `exec` is corral's binary while it sets itself up in the
/// container's namespaces. Not dumpable, it is out of the container's reach unless a
/// process there holds CAP_SYS_PTRACE over the host's user namespace; so `exec` leaves
/// corral through the trampoline only where none may: an `exec` whose process may hold
/// it (here `--cap`) runs from the write-protected copy, and so does every later `exec`
/// (the container is marked). With a user namespace of its own, no process of the
/// container holds a capability over the host.
fn ptrace_takes_the_copy(cx: &mut Ctx) -> CaseResult {
    let trampoline = "exec: the process leaves corral through the trampoline";
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    let mut cfg = config(&[]);
    cfg["process"]["capabilities"] =
        json!({ "bounding": caps, "effective": caps, "permitted": caps });
    sleeper(cx, cfg.clone())?;
    let first = how_exec_left(cx, "first", &[])?;
    ensure!(first.contains(trampoline), "a plain exec: {first}");
    // The state an earlier corral wrote (or a restore) says nothing of marks: the copy.
    let state = cx.root.join("c1/state.json");
    let text = std::fs::read_to_string(&state).map_err(|e| format!("{}: {e}", state.display()))?;
    let mut older: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    older
        .as_object_mut()
        .ok_or("state.json is not an object")?
        .remove("ptrace_marked_since_create")
        .ok_or("state.json has no ptrace_marked_since_create")?;
    std::fs::write(&state, older.to_string()).map_err(|e| e.to_string())?;
    let unmarked = how_exec_left(cx, "unmarked", &[]);
    std::fs::write(&state, &text).map_err(|e| e.to_string())?;
    let unmarked = unmarked?;
    ensure!(
        unmarked.contains("made by an earlier corral"),
        "an exec into an earlier corral's container: {unmarked}"
    );
    let given = how_exec_left(cx, "given", &["--cap", "CAP_SYS_PTRACE"])?;
    ensure!(
        given.contains("write-protected copy") && given.contains("may hold CAP_SYS_PTRACE"),
        "an exec given CAP_SYS_PTRACE: {given}"
    );
    let after = how_exec_left(cx, "after", &[])?;
    ensure!(
        after.contains("an earlier process was given CAP_SYS_PTRACE"),
        "a plain exec after it: {after}"
    );
    cx.rt(&["delete", "-f", "c1"]).ok("delete")?;
    // The init's bounding set has it: from the first exec on.
    cfg["process"]["capabilities"]["bounding"]
        .as_array_mut()
        .ok_or("the config has no bounding set")?
        .push(json!("CAP_SYS_PTRACE"));
    sleeper(cx, cfg.clone())?;
    let init_may = how_exec_left(cx, "init", &[])?;
    ensure!(
        init_may.contains("write-protected copy"),
        "the init may ptrace: {init_may}"
    );
    cx.rt(&["delete", "-f", "c1"]).ok("delete")?;
    // The same in a user namespace of the container's own: the trampoline.
    cfg["linux"]["namespaces"]
        .as_array_mut()
        .ok_or("the config has no namespaces")?
        .push(json!({ "type": "user" }));
    cfg["linux"]["uidMappings"] = json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]);
    cfg["linux"]["gidMappings"] = json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]);
    sleeper(cx, cfg)?;
    let userns = how_exec_left(cx, "userns", &["--cap", "CAP_SYS_PTRACE"])?;
    ensure!(userns.contains(trampoline), "in a user namespace: {userns}");
    Ok(())
}
