//! Hooks (config.md "POSIX-platform Hooks", runtime.md lifecycle): each hook appends a
//! line to a host file with its name, a variable of its `env`, an argument, its mount
//! namespace and the state it read on stdin; the cases check order and contents, and
//! what a failing hook does.
//!
//! runc 1.1.5 runs poststart hooks at the end of `create` (status `created`), fails
//! `create` when one fails, says nothing in `start` when a startContainer hook fails
//! (the container just stops), and stops at the first failing poststop hook; those
//! checks are corral extensions here, corral following the spec.

use super::ensure;
use crate::bundle::{config, BUSYBOX};
use crate::ctx::{cgroup_dirs, Ctx};
use crate::{Case, CaseResult};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub fn cases() -> Vec<Case> {
    vec![
        Case::new("hooks_run_in_order_with_state", in_order),
        Case::new("hooks_failing_create_hook_leaves_nothing", failing_create),
        Case::new("hooks_timeout_kills_the_hook", timeout),
        Case::new("hooks_failing_poststop_still_deletes", failing_poststop),
        Case::runc11_lacks("hooks_poststart_after_the_program_starts", "config.md hooks: poststart \"MUST be called after the user-specified process is executed but before the start operation returns\"", poststart_after),
        Case::runc11_lacks("hooks_failing_start_hook_fails_start", "runtime.md start: a failing startContainer hook MUST generate an error and stop the container", failing_start),
        Case::wording("hooks_poststart_poststop_failures_warn", warn_and_go_on),
        Case::wording("hooks_errors_name_the_hook", errors_name_the_hook),
        Case::corral("hooks_can_read_the_state", "`state` answers while `create` holds the id lock", hook_reads_state),
    ]
}

/// Appends `name|$V|$0|mount ns|state` to `$2`. Run by busybox as `sh`: busybox picks
/// its applet by argv[0], so this also checks that args[0] is argv[0].
const SCRIPT: &str = r#"st=$(cat); printf '%s|%s|%s|%s|%s\n' "$1" "$V" "$0" "$(readlink /proc/self/ns/mnt)" "$st" >> "$2""#;

fn hook(name: &str, log: &str) -> Value {
    json!({
        "path": BUSYBOX,
        "args": ["sh", "-c", SCRIPT, format!("zero-{name}"), name, log],
        "env": [format!("V=v-{name}"), "PATH=/bin:/usr/bin:/sbin:/usr/sbin"],
    })
}

/// A hook that prints to both outputs and exits 1.
fn failing(tag: &str) -> Value {
    json!({
        "path": BUSYBOX,
        "args": ["sh", "-c", format!("echo out-{tag}; echo err-{tag} >&2; exit 1")],
    })
}

/// One line of the log.
struct Line {
    name: String,
    var: String,
    arg0: String,
    mnt: String,
    state: Value,
}

/// The case's shared dir (bound at /shared in the container) and its log, host side.
fn shared(cx: &Ctx) -> Result<(PathBuf, String), String> {
    let dir = cx.dir.join("shared");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let log = dir.join("hooks.log").to_string_lossy().into_owned();
    Ok((dir, log))
}

/// A config whose process appends `user|||<mount ns>|` to the log, with /shared bound.
fn logging_config(shared: &Path, script: &str) -> Value {
    let mut cfg = config(&[
        "sh",
        "-c",
        &format!("echo \"user|||$(readlink /proc/self/ns/mnt)|\" >> /shared/hooks.log; {script}"),
    ]);
    cfg["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/shared", "type": "bind",
        "source": shared.to_string_lossy(), "options": ["rbind"]
    }));
    cfg
}

fn lines(log: &str) -> Result<Vec<Line>, String> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .map(|l| {
            let f: Vec<&str> = l.splitn(5, '|').collect();
            ensure!(f.len() == 5, "bad log line {l:?}");
            let state = if f[0] == "user" {
                Value::Null
            } else {
                serde_json::from_str(f[4]).map_err(|e| format!("state {:?}: {e}", f[4]))?
            };
            Ok(Line {
                name: f[0].into(),
                var: f[1].into(),
                arg0: f[2].into(),
                mnt: f[3].into(),
                state,
            })
        })
        .collect()
}

fn names(lines: &[Line]) -> Vec<&str> {
    lines.iter().map(|l| l.name.as_str()).collect()
}

fn find<'a>(lines: &'a [Line], name: &str) -> Result<&'a Line, String> {
    lines
        .iter()
        .find(|l| l.name == name)
        .ok_or_else(|| format!("{name} did not run: {:?}", names(lines)))
}

fn mnt_ns(pid: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/mnt"))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A hook's line has its env, its args and the state it should have been given.
fn check(l: &Line, id: &str, status: &str, pid: Option<i64>, mnt: &str) -> CaseResult {
    let n = &l.name;
    ensure!(l.var == format!("v-{n}"), "{n}: env V={:?}", l.var);
    ensure!(l.arg0 == format!("zero-{n}"), "{n}: $0 {:?}", l.arg0);
    ensure!(l.mnt == mnt, "{n}: mount namespace {}, want {mnt}", l.mnt);
    let st = &l.state;
    ensure!(st["id"] == id && st["status"] == status, "{n}: state {st}");
    ensure!(
        st["bundle"].as_str().is_some_and(|b| b.starts_with('/')),
        "{n}: state {st}"
    );
    ensure!(st["ociVersion"].is_string(), "{n}: state {st}");
    ensure!(st["pid"].as_i64() == pid, "{n}: pid in {st}, want {pid:?}");
    Ok(())
}

fn all_hooks(log: &str) -> Value {
    json!({
        "prestart": [hook("prestart", log)],
        "createRuntime": [hook("createRuntime", log), hook("createRuntime2", log)],
        "createContainer": [hook("createContainer", log)],
        "startContainer": [hook("startContainer", "/shared/hooks.log")],
        "poststart": [hook("poststart", log)],
        "poststop": [hook("poststop", log)],
    })
}

/// Creates c1 from `cfg`.
fn create(cx: &mut Ctx, cfg: &Value) -> CaseResult {
    let b = cx.bundle(cfg)?;
    cx.rt(&["create", "--bundle", &b.to_string_lossy(), "c1"])
        .ok("create")?;
    Ok(())
}

/// Creates c1 with every kind of hook, its program running `script`; returns the log
/// and the init's pid.
fn create_with_all_hooks(cx: &mut Ctx, script: &str) -> Result<(String, i64), String> {
    let (dir, log) = shared(cx)?;
    let mut cfg = logging_config(&dir, script);
    cfg["hooks"] = all_hooks(&log);
    create(cx, &cfg)?;
    let pid = cx.state("c1")?["pid"].as_i64().unwrap_or_default();
    Ok((log, pid))
}

/// Every kind runs, in the order of the lifecycle and of its list, with its env, args
/// and state; createContainer and startContainer in the container's mount namespace,
/// the others in the runtime's. (Where runc runs poststart is checked by no case shared
/// with it: see `poststart_after`.)
fn in_order(cx: &mut Ctx) -> CaseResult {
    let (log, pid) = create_with_all_hooks(cx, "true")?;
    let (host, init) = (mnt_ns("self"), mnt_ns(&pid.to_string()));
    ensure!(
        host != init,
        "the container has no mount namespace of its own"
    );
    let l = lines(&log)?;
    let first = [
        "prestart",
        "createRuntime",
        "createRuntime2",
        "createContainer",
    ];
    ensure!(
        names(&l).starts_with(&first),
        "after create: {:?}",
        names(&l)
    );
    ensure!(!names(&l).contains(&"startContainer"), "{:?}", names(&l));
    for h in &l[..3] {
        check(h, "c1", "creating", Some(pid), &host)?;
    }
    // The container's view: pid 1 of its pid namespace.
    check(&l[3], "c1", "creating", Some(1), &init)?;
    cx.rt(&["start", "c1"]).ok("start")?;
    cx.wait_status("c1", "stopped")?;
    let l = lines(&log)?;
    let order = names(&l);
    let at = |n: &str| order.iter().position(|x| *x == n);
    ensure!(
        at("createContainer") < at("startContainer") && at("startContainer") < at("user"),
        "after start: {order:?}"
    );
    check(find(&l, "startContainer")?, "c1", "created", Some(1), &init)?;
    ensure!(
        find(&l, "user")?.mnt == init,
        "the program's mount namespace"
    );
    let post = find(&l, "poststart")?;
    ensure!(
        post.mnt == host && post.state["pid"] == pid,
        "poststart: {}",
        post.state
    );
    ensure!(
        !order.contains(&"poststop"),
        "poststop before delete: {order:?}"
    );
    cx.rt(&["delete", "c1"]).ok("delete")?;
    let l = lines(&log)?;
    ensure!(names(&l).last() == Some(&"poststop"), "{:?}", names(&l));
    check(l.last().unwrap(), "c1", "stopped", None, &host)
}

/// runtime.md: poststart runs after the user's program started, before `start` returns.
fn poststart_after(cx: &mut Ctx) -> CaseResult {
    let (log, pid) = create_with_all_hooks(cx, "sleep 1000")?;
    ensure!(
        !names(&lines(&log)?).contains(&"poststart"),
        "poststart ran in create"
    );
    cx.rt(&["start", "c1"]).ok("start")?;
    let l = lines(&log)?;
    // The program runs alongside the poststart hook: its line may come before or after.
    let order: Vec<&str> = names(&l).into_iter().filter(|n| *n != "user").collect();
    ensure!(
        order.ends_with(&["startContainer", "poststart"]),
        "after start: {order:?}"
    );
    check(
        find(&l, "poststart")?,
        "c1",
        "running",
        Some(pid),
        &mnt_ns("self"),
    )?;
    // The program had been exec'd when poststart ran: its state said running.
    ensure!(cx.status("c1")? == "running", "not running after start");
    Ok(())
}

/// A createRuntime hook that fails fails `create` with its output; the hooks after it do
/// not run, the poststop hooks do (runtime.md: on to step 12), and nothing is left:
/// no state, process or cgroup (the harness checks).
fn failing_create(cx: &mut Ctx) -> CaseResult {
    let (_, log) = shared(cx)?;
    let mut cfg = config(&["true"]);
    let cg = cx.cgroup_name("hookfail");
    cfg["linux"]["cgroupsPath"] = json!(cg);
    cfg["hooks"] = json!({
        "createRuntime": [failing("createRuntime"), hook("createRuntime2", &log)],
        "poststop": [hook("poststop", &log)],
    });
    let b = cx.bundle(&cfg)?;
    let o = cx.rt(&["create", "--bundle", &b.to_string_lossy(), "c1"]);
    o.failed("create with a failing hook")?;
    ensure!(o.stderr.contains("err-createRuntime"), "{}", o.stderr);
    cx.rt(&["state", "c1"])
        .failed("state after a failed create")?;
    ensure!(cgroup_dirs(&cg).iter().all(|d| !d.exists()), "cgroup left");
    let l = lines(&log)?;
    ensure!(names(&l) == ["poststop"], "hooks run: {:?}", names(&l));
    Ok(())
}

/// A hook that outlives its `timeout` is killed and fails `create` about then: it
/// sleeps 60 s, with a timeout of 1 s, and `create` takes little more than one that
/// has no hook (measured first: the runtime's own time varies a lot, runc's under
/// emulation takes seconds).
fn timeout(cx: &mut Ctx) -> CaseResult {
    let b = cx.bundle(&config(&["true"]))?;
    let start = Instant::now();
    cx.rt(&["create", "--bundle", &b.to_string_lossy(), "c0"])
        .ok("create without hooks")?;
    let plain = start.elapsed();
    cx.rt(&["delete", "--force", "c0"]).ok("delete")?;
    let mut cfg = config(&["true"]);
    cfg["hooks"] = json!({
        "createRuntime": [{ "path": BUSYBOX, "args": ["sleep", "60"], "timeout": 1 }],
    });
    let b = cx.bundle(&cfg)?;
    let start = Instant::now();
    let o = cx.rt(&["create", "--bundle", &b.to_string_lossy(), "c1"]);
    let took = start.elapsed();
    o.failed("create with a hook past its timeout")?;
    ensure!(
        took < plain + Duration::from_secs(5),
        "create took {took:?} with a hook timeout of 1 s, {plain:?} without the hook"
    );
    cx.rt(&["state", "c1"])
        .failed("state after a failed create")?;
    // The killed hook is no process of ours left: the harness checks.
    Ok(())
}

/// A createRuntime hook that asks the runtime for the container's state gets it: `state`
/// does not wait for the lock `create` holds while its hooks run.
fn hook_reads_state(cx: &mut Ctx) -> CaseResult {
    let out = cx.dir.join("state-from-hook.json");
    let call = format!(
        "'{}' --root '{}' state c1 > '{}'",
        cx.runtime.display(),
        cx.root.display(),
        out.display()
    );
    let mut cfg = config(&["true"]);
    cfg["hooks"] = json!({
        "createRuntime": [{ "path": BUSYBOX, "args": ["sh", "-c", call], "timeout": 5 }],
    });
    let b = cx.bundle(&cfg)?;
    cx.rt(&["create", "--bundle", &b.to_string_lossy(), "c1"])
        .ok("create with a hook that reads the state")?;
    let text = std::fs::read_to_string(&out).map_err(|e| format!("{out:?}: {e}"))?;
    let st: Value = serde_json::from_str(&text).map_err(|e| format!("{e}: {text:?}"))?;
    ensure!(
        st["id"] == "c1" && st["status"] == "creating",
        "state seen by the hook: {st}"
    );
    Ok(())
}

/// A failing poststop hook does not stop `delete`: everything is removed.
fn failing_poststop(cx: &mut Ctx) -> CaseResult {
    let mut cfg = config(&["true"]);
    cfg["hooks"] = json!({ "poststop": [failing("poststop")] });
    let b = cx.bundle(&cfg)?;
    cx.rt(&["run", "-d", "--bundle", &b.to_string_lossy(), "c1"])
        .ok("run -d")?;
    cx.wait_status("c1", "stopped")?;
    cx.rt(&["delete", "c1"])
        .ok("delete with a failing poststop hook")?;
    cx.rt(&["state", "c1"]).failed("state after delete")?;
    Ok(())
}

/// A startContainer hook that fails fails `start` with its output; the program never
/// runs, the container is gone and the poststop hooks ran.
fn failing_start(cx: &mut Ctx) -> CaseResult {
    let (dir, log) = shared(cx)?;
    let mut cfg = logging_config(&dir, "sleep 1000");
    cfg["hooks"] = json!({
        "startContainer": [failing("startContainer")],
        "poststop": [hook("poststop", &log)],
    });
    create(cx, &cfg)?;
    let o = cx.rt(&["start", "c1"]);
    o.failed("start with a failing startContainer hook")?;
    ensure!(
        o.stderr.contains("hooks.startContainer[0]")
            && o.stderr.contains("err-startContainer")
            && o.stderr.contains("exit status 1"),
        "{}",
        o.stderr
    );
    cx.rt(&["state", "c1"])
        .failed("state after a failed start")?;
    let l = lines(&log)?;
    ensure!(names(&l) == ["poststop"], "{:?}", names(&l));
    Ok(())
}

/// runtime.md: a failing poststart or poststop hook is a warning; the other hooks of
/// the list still run and the operation succeeds.
fn warn_and_go_on(cx: &mut Ctx) -> CaseResult {
    let (_, log) = shared(cx)?;
    let mut cfg = config(&["sleep", "1000"]);
    cfg["hooks"] = json!({
        "poststart": [failing("poststart"), hook("poststart", &log)],
        "poststop": [failing("poststop"), hook("poststop", &log)],
    });
    create(cx, &cfg)?;
    let o = cx.rt(&["start", "c1"]);
    o.ok("start with a failing poststart hook")?;
    ensure!(
        o.stderr.contains("warning") && o.stderr.contains("hooks.poststart[0]"),
        "no warning: {}",
        o.stderr
    );
    ensure!(cx.status("c1")? == "running", "not running");
    let o = cx.rt(&["delete", "-f", "c1"]);
    o.ok("delete with a failing poststop hook")?;
    ensure!(o.stderr.contains("hooks.poststop[0]"), "{}", o.stderr);
    let l = lines(&log)?;
    ensure!(names(&l) == ["poststart", "poststop"], "{:?}", names(&l));
    Ok(())
}

/// corral's errors name the hook by its field and path, and bad hooks are refused
/// before anything is made.
fn errors_name_the_hook(cx: &mut Ctx) -> CaseResult {
    let mut cfg = config(&["true"]);
    cfg["hooks"] = json!({ "createContainer": [failing("cc")] });
    let b = cx.bundle(&cfg)?;
    let o = cx.rt(&["run", "--bundle", &b.to_string_lossy(), "c1"]);
    o.failed("run with a failing createContainer hook")?;
    ensure!(
        o.stderr.contains(&format!(
            "hooks.createContainer[0] ({BUSYBOX}): exit status 1"
        )) && o.stderr.contains("err-cc"),
        "{}",
        o.stderr
    );
    for (hooks, want) in [
        (
            json!({ "prestart": [{ "path": "bin/true" }] }),
            "hooks.prestart[0].path",
        ),
        (
            json!({ "poststop": [{ "path": "/bin/true", "timeout": 0 }] }),
            "hooks.poststop[0].timeout",
        ),
        (
            json!({ "createRuntime": [{ "path": "/nonexistent/hook" }] }),
            "hooks.createRuntime[0] (/nonexistent/hook): cannot run it",
        ),
    ] {
        cfg["hooks"] = hooks;
        let b = cx.bundle(&cfg)?;
        let o = cx.rt(&["create", "--bundle", &b.to_string_lossy(), "c2"]);
        o.failed(want)?;
        ensure!(o.stderr.contains(want), "want {want:?}: {}", o.stderr);
    }
    Ok(())
}
