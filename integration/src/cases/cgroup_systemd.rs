//! The systemd cgroup driver (`--systemd-cgroup`, given to the harness, which passes it
//! to every call): the container's cgroup is a transient scope `sddrv-PID-WHAT.scope`,
//! with limits systemd keeps across `systemctl daemon-reload`, annotations as unit
//! properties, a failed start that leaves nothing, and `delete` that leaves no unit and
//! no cgroup, also after the init or the runtime was killed. Run on a systemd host
//! (scripts/systemd-guest.sh). Without the flag, only the first case runs: a malformed
//! path is refused, and on a host without systemd the flag fails saying so.

use super::cgroups::cg_config;
use super::{ensure, field};
use crate::ctx::{systemd_cgroup, Ctx};
use crate::{Case, CaseResult, Needs};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub fn cases() -> Vec<Case> {
    let sd = |name, run| Case::needs(name, Needs::Systemd(None), run);
    vec![
        Case::new("cgroup_systemd_bad_path_or_no_systemd_refused", refused),
        sd("cgroup_systemd_limits_inside_and_in_the_unit", limits),
        sd("cgroup_systemd_daemon_reload_keeps_limits", reload),
        sd("cgroup_systemd_nested_slice", nested_slice),
        sd("cgroup_systemd_update_pause_ps_kill", ops),
        sd("cgroup_systemd_annotations_set_properties", annotations),
        sd("cgroup_systemd_bad_annotation_refused", bad_annotation),
        sd("cgroup_systemd_failed_job_leaves_nothing", failed_job),
        // runc 1.1.5 starts the container in the other's scope (it takes UnitExists
        // for success), and its delete then stops that scope.
        Case::needs(
            "cgroup_systemd_unit_exists_refused_other_untouched",
            Needs::Systemd(Some("a live unit of the scope's name refused, left alone")),
            unit_exists,
        ),
        sd("cgroup_systemd_delete_after_init_killed", init_killed),
        sd("cgroup_systemd_delete_after_runtime_killed", runtime_killed),
    ]
}

/// A container's scope: the cgroupsPath that names it, the unit, its cgroup.
pub(super) struct Scope {
    pub(super) path: String,
    pub(super) unit: String,
    pub(super) dir: PathBuf,
}

fn scope_in(slice: &str, slice_dir: &str, what: &str) -> Scope {
    let name = format!("{}-{what}", std::process::id());
    let unit = format!("sddrv-{name}.scope");
    Scope {
        path: format!("{slice}:sddrv:{name}"),
        dir: Path::new("/sys/fs/cgroup").join(slice_dir).join(&unit),
        unit,
    }
}

pub(super) fn scope(what: &str) -> Scope {
    scope_in("system.slice", "system.slice", what)
}

/// cg_config (cgroup namespace, /sys/fs/cgroup mounted) on the scope's path.
fn sd_config(cx: &mut Ctx, s: &Scope, resources: Value, args: &[&str]) -> Value {
    let (mut cfg, _) = cg_config(cx, "sddrv", resources);
    cfg["linux"]["cgroupsPath"] = json!(s.path);
    cfg["process"]["args"] = json!(args);
    cfg
}

/// `systemctl show -p PROP UNIT --value`.
pub(super) fn show(unit: &str, prop: &str) -> String {
    Command::new("systemctl")
        .args(["show", "-p", prop, "--value", unit])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn systemctl(args: &[&str]) -> CaseResult {
    let o = Command::new("systemctl")
        .args(args)
        .output()
        .map_err(|e| format!("systemctl: {e}"))?;
    ensure!(
        o.status.success(),
        "systemctl {args:?}: {}",
        String::from_utf8_lossy(&o.stderr).trim()
    );
    Ok(())
}

/// No unit loaded and no cgroup (systemd unloads a stopped unit from its event loop,
/// just after the stop job: at most 10 s).
pub(super) fn gone(s: &Scope) -> CaseResult {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let load = show(&s.unit, "LoadState");
        if load == "not-found" && !s.dir.exists() {
            return Ok(());
        }
        ensure!(
            Instant::now() < deadline,
            "{} is left: LoadState={load} ActiveState={}, cgroup {} {}",
            s.unit,
            show(&s.unit, "ActiveState"),
            s.dir.display(),
            if s.dir.exists() { "exists" } else { "gone" }
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The unit's properties as `systemctl show` prints them.
fn has_props(s: &Scope, want: &[(&str, &str)]) -> CaseResult {
    for (p, v) in want {
        let have = show(&s.unit, p);
        ensure!(have == *v, "{}: {p}={have:?}, want {v:?}", s.unit);
    }
    Ok(())
}

/// `delete --force ID`, then nothing of the scope is left.
fn delete_gone(cx: &mut Ctx, s: &Scope, id: &str) -> CaseResult {
    cx.rt(&["delete", "--force", id]).ok("delete")?;
    gone(s)
}

fn init_pid(cx: &mut Ctx, id: &str) -> Result<i32, String> {
    let pid = crate::ctx::pid_of(&cx.state(id)?).unwrap_or(0);
    ensure!(pid > 0, "no init pid for {id}");
    Ok(pid)
}

pub(super) fn in_scope(s: &Scope, pid: i32) -> CaseResult {
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    let want = format!(
        "0::/{}",
        s.dir
            .strip_prefix("/sys/fs/cgroup")
            .unwrap_or(&s.dir)
            .display()
    );
    ensure!(
        cg.trim() == want,
        "init {pid} is in {:?}, not {want:?}",
        cg.trim()
    );
    Ok(())
}

/// Both runtimes refuse a cgroupsPath that is not `slice:prefix:name`; on a host
/// without systemd a good one fails too, naming that (corral's words checked).
fn refused(cx: &mut Ctx) -> CaseResult {
    let running = Path::new("/run/systemd/system").is_dir();
    let s = scope("refused");
    let mut cfg = sd_config(cx, &s, json!({}), &["true"]);
    let mut tries = vec![("sddrv-not-a-slice-path", "linux.cgroupsPath")];
    if !running {
        tries.push((s.path.as_str(), "systemd is not running"));
    }
    for (path, says) in tries {
        cfg["linux"]["cgroupsPath"] = json!(path);
        let b = cx.bundle(&cfg)?;
        let b = b.to_string_lossy();
        let mut args = vec!["create", "--bundle", &b, "c1"];
        if !systemd_cgroup() {
            args.insert(0, "--systemd-cgroup");
        }
        let o = cx.rt(&args);
        o.failed(&format!("create --systemd-cgroup with {path:?}"))?;
        if cx.is_corral {
            ensure!(
                o.stderr.contains(says),
                "{path:?}: error does not say {says:?}: {}",
                o.stderr.trim()
            );
        }
        cx.rt(&["state", "c1"])
            .failed("state after a failed create")?;
    }
    Ok(())
}

const LIMITS: &str = "echo mem=$(cat /sys/fs/cgroup/memory.max); \
    echo low=$(cat /sys/fs/cgroup/memory.low); \
    echo swap=$(cat /sys/fs/cgroup/memory.swap.max); \
    echo weight=$(cat /sys/fs/cgroup/cpu.weight); echo cpu=$(cat /sys/fs/cgroup/cpu.max); \
    echo pids=$(cat /sys/fs/cgroup/pids.max); echo cpus=$(cat /sys/fs/cgroup/cpuset.cpus)";

fn limit_resources() -> Value {
    json!({
        "memory": { "limit": 67108864, "reservation": 4194304, "swap": 100663296 },
        "cpu": { "shares": 1024, "quota": 50000, "period": 100000, "cpus": "0" },
        "pids": { "limit": 42 }
    })
}

const WANT: &[(&str, &str)] = &[
    ("mem", "67108864"),
    ("low", "4194304"),
    ("swap", "33554432"),
    ("weight", "39"),
    ("cpu", "50000 100000"),
    ("pids", "42"),
    ("cpus", "0"),
];

fn check_limits(out: &str, when: &str) -> CaseResult {
    for (k, v) in WANT {
        ensure!(
            field(out, k) == Some(v),
            "{when}: {k}={:?}, want {v}: {out}",
            field(out, k)
        );
    }
    Ok(())
}

/// Limits seen inside, the init in the scope's cgroup, the unit's properties as runc
/// sets them; after delete no unit and no cgroup.
fn limits(cx: &mut Ctx) -> CaseResult {
    let s = scope("limits");
    let cfg = sd_config(cx, &s, limit_resources(), &["sh", "-c", LIMITS]);
    let b = cx.bundle(&cfg)?;
    let b = b.to_string_lossy();
    let o = cx.rt(&["run", "--bundle", &b, "c1"]);
    o.ok("run")?;
    check_limits(&o.stdout, "inside")?;
    gone(&s)?;
    let cfg = sd_config(cx, &s, limit_resources(), &["sleep", "1000"]);
    let b = cx.bundle(&cfg)?;
    cx.rt(&["create", "--bundle", &b.to_string_lossy(), "c2"])
        .ok("create")?;
    let pid = init_pid(cx, "c2")?;
    in_scope(&s, pid)?;
    has_props(
        &s,
        &[
            ("MemoryMax", "67108864"),
            ("MemoryLow", "4194304"),
            ("MemorySwapMax", "33554432"),
            ("CPUWeight", "39"),
            ("CPUQuotaPerSecUSec", "500ms"),
            ("TasksMax", "42"),
            ("AllowedCPUs", "0"),
            ("Delegate", "yes"),
            ("ActiveState", "active"),
        ],
    )?;
    delete_gone(cx, &s, "c2")
}

/// `systemctl daemon-reload` makes systemd write every unit's properties to its cgroup
/// again: the limits and device rules the container sees are the same after it.
fn reload(cx: &mut Ctx) -> CaseResult {
    let s = scope("reload");
    let mut res = limit_resources();
    // Everything denied but runc's default devices and /dev/kmsg (1:11) for writing; the
    // fuse node (10:229) is denied: opening it fails with EPERM, whatever its driver.
    res["devices"] = json!([
        { "allow": false, "access": "rwm" },
        { "allow": true, "type": "c", "major": 1, "minor": 11, "access": "w" }
    ]);
    let mut cfg = sd_config(cx, &s, res, &["sleep", "1000"]);
    cfg["linux"]["devices"] = json!([
        { "path": "/dev/sddrv-kmsg", "type": "c", "major": 1, "minor": 11, "fileMode": 0o600 },
        { "path": "/dev/sddrv-fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o600 }
    ]);
    let b = cx.bundle(&cfg)?;
    cx.rt(&["create", "--bundle", &b.to_string_lossy(), "c1"])
        .ok("create")?;
    cx.rt(&["start", "c1"]).ok("start")?;
    let script = format!(
        "{LIMITS}; echo sddrv-reload-test > /dev/sddrv-kmsg && echo kmsg=ok; \
         (: < /dev/sddrv-fuse) 2>&1 | grep -q 'not permitted' && echo fuse=denied; true"
    );
    let look = |cx: &mut Ctx, when: &str| -> CaseResult {
        let o = cx.rt(&["exec", "c1", "sh", "-c", &script]);
        o.ok(&format!("exec {when}"))?;
        check_limits(&o.stdout, when)?;
        ensure!(
            field(&o.stdout, "kmsg") == Some("ok") && field(&o.stdout, "fuse") == Some("denied"),
            "{when}: device rules: {}",
            o.stdout
        );
        Ok(())
    };
    look(cx, "before daemon-reload")?;
    systemctl(&["daemon-reload"])?;
    look(cx, "after daemon-reload")?;
    delete_gone(cx, &s, "c1")
}

/// A slice `sddrv-PID.slice` is `sddrv.slice/sddrv-PID.slice` in the hierarchy, as
/// systemd names it; the slices, which systemd made for the scope, are stopped by the
/// case.
fn nested_slice(cx: &mut Ctx) -> CaseResult {
    let slice = format!("sddrv-{}.slice", std::process::id());
    let s = scope_in(&slice, &format!("sddrv.slice/{slice}"), "nested");
    let cfg = sd_config(
        cx,
        &s,
        json!({ "pids": { "limit": 9 } }),
        &["sleep", "1000"],
    );
    let b = cx.bundle(&cfg)?;
    let made = cx.rt(&["create", "--bundle", &b.to_string_lossy(), "c1"]);
    let checked = made.ok("create").map(|_| ()).and_then(|()| {
        let pid = init_pid(cx, "c1")?;
        in_scope(&s, pid)?;
        ensure!(
            show(&s.unit, "Slice") == slice,
            "{}: Slice={}",
            s.unit,
            show(&s.unit, "Slice")
        );
        cx.rt(&["delete", "--force", "c1"]).ok("delete")?;
        gone(&s)
    });
    let _ = systemctl(&["stop", &slice, "sddrv.slice"]);
    checked
}

/// update, pause/resume, ps, events, kill --all through the scope.
fn ops(cx: &mut Ctx) -> CaseResult {
    let s = scope("ops");
    let cfg = sd_config(
        cx,
        &s,
        json!({ "memory": { "limit": 67108864 } }),
        &["sh", "-c", "sleep 1000 & exec sleep 1001"],
    );
    let b = cx.bundle(&cfg)?;
    cx.rt(&["create", "--bundle", &b.to_string_lossy(), "c1"])
        .ok("create")?;
    cx.rt(&["start", "c1"]).ok("start")?;
    cx.rt(&["update", "--memory", "50331648", "--pids-limit", "17", "c1"])
        .ok("update")?;
    let file = |f: &str| super::cgroups::read(&s.dir.join(f));
    for (have, want, what) in [
        (show(&s.unit, "MemoryMax"), "50331648", "MemoryMax"),
        (show(&s.unit, "TasksMax"), "17", "TasksMax"),
        (file("memory.max"), "50331648", "memory.max"),
        (file("pids.max"), "17", "pids.max"),
    ] {
        ensure!(have == want, "after update: {what}={have:?}, want {want}");
    }
    cx.rt(&["pause", "c1"]).ok("pause")?;
    ensure!(cx.status("c1")? == "paused", "not paused");
    ensure!(file("cgroup.freeze") == "1", "cgroup.freeze is not 1");
    cx.rt(&["resume", "c1"]).ok("resume")?;
    ensure!(cx.status("c1")? == "running", "not running after resume");
    let o = cx.rt(&["ps", "--format", "json", "c1"]);
    o.ok("ps")?;
    let pids: Vec<i64> = serde_json::from_str(o.stdout.trim()).map_err(|e| format!("ps: {e}"))?;
    ensure!(pids.len() == 2, "ps: {pids:?}, want 2 processes");
    let o = cx.rt(&["events", "--stats", "c1"]);
    o.ok("events --stats")?;
    ensure!(
        o.stdout.contains("\"memory\""),
        "events --stats: {}",
        o.stdout
    );
    cx.rt(&["kill", "--all", "c1", "KILL"]).ok("kill --all")?;
    cx.wait_status("c1", "stopped")?;
    cx.rt(&["delete", "c1"]).ok("delete")?;
    gone(&s)
}

/// `org.systemd.property.*` annotations become the unit's properties (Sec → USec).
fn annotations(cx: &mut Ctx) -> CaseResult {
    let s = scope("annot");
    let mut cfg = sd_config(cx, &s, json!({}), &["sleep", "1000"]);
    cfg["annotations"] = json!({
        "org.systemd.property.TimeoutStopSec": "uint64 7",
        "org.systemd.property.CollectMode": "'inactive-or-failed'",
        "org.systemd.property.TasksMax": "uint64 33",
    });
    let b = cx.bundle(&cfg)?;
    cx.rt(&["create", "--bundle", &b.to_string_lossy(), "c1"])
        .ok("create")?;
    has_props(
        &s,
        &[
            ("TimeoutStopUSec", "7s"),
            ("CollectMode", "inactive-or-failed"),
            ("TasksMax", "33"),
        ],
    )?;
    delete_gone(cx, &s, "c1")
}

/// An unknown property and a value of the wrong type are refused (corral names the
/// annotation), and nothing is left: no state, unit, cgroup or process.
fn bad_annotation(cx: &mut Ctx) -> CaseResult {
    let s = scope("badannot");
    for (k, v) in [
        ("org.systemd.property.SddrvNoSuchProperty", "true"),
        ("org.systemd.property.TasksMax", "'lots'"),
    ] {
        let mut cfg = sd_config(cx, &s, json!({}), &["sleep", "1000"]);
        cfg["annotations"] = json!({ k: v });
        let b = cx.bundle(&cfg)?;
        let o = cx.rt(&["create", "--bundle", &b.to_string_lossy(), "c1"]);
        o.failed(&format!("create with {k}={v}"))?;
        if cx.is_corral {
            ensure!(
                o.stderr.contains(&format!("annotations[\"{k}\"]")),
                "error does not name {k}: {}",
                o.stderr.trim()
            );
        }
        cx.rt(&["state", "c1"])
            .failed("state after a failed create")?;
        gone(&s)?;
    }
    Ok(())
}

/// A start job that fails (the scope requires emergency.target, which is not active):
/// create fails naming the unit (corral), and leaves nothing.
fn failed_job(cx: &mut Ctx) -> CaseResult {
    let s = scope("failjob");
    let mut cfg = sd_config(cx, &s, json!({}), &["sleep", "1000"]);
    cfg["annotations"] = json!({
        "org.systemd.property.Requisite": "['emergency.target']",
        "org.systemd.property.After": "['emergency.target']",
    });
    ensure!(
        show("emergency.target", "ActiveState") == "inactive",
        "emergency.target is active: the job would not fail"
    );
    let b = cx.bundle(&cfg)?;
    let o = cx.rt(&["create", "--bundle", &b.to_string_lossy(), "c1"]);
    o.failed("create whose start job fails")?;
    if cx.is_corral {
        ensure!(
            o.stderr.contains(&s.unit) && o.stderr.contains("dependency"),
            "error does not name {} and the job's result: {}",
            s.unit,
            o.stderr.trim()
        );
    }
    cx.rt(&["state", "c1"])
        .failed("state after a failed create")?;
    gone(&s)
}

/// A live unit of the scope's name (systemd-run --scope) in another slice, so that the
/// container's own cgroup path is free and systemd is asked: it answers UnitExists, the
/// unit is not the container's, create fails, and that unit and its process are
/// untouched.
fn unit_exists(cx: &mut Ctx) -> CaseResult {
    let s = scope("exists");
    let mut other = Command::new("systemd-run")
        .args([
            "--quiet",
            "--scope",
            "--unit",
            &s.unit,
            "--slice",
            "user.slice",
        ])
        .args(["sleep", "1000"])
        .spawn()
        .map_err(|e| format!("systemd-run: {e}"))?;
    let result = (|| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while show(&s.unit, "ActiveState") != "active" {
            ensure!(
                Instant::now() < deadline,
                "systemd-run's scope never started"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let cfg = sd_config(cx, &s, json!({}), &["sleep", "1000"]);
        let b = cx.bundle(&cfg)?;
        let o = cx.rt(&["create", "--bundle", &b.to_string_lossy(), "c1"]);
        o.failed("create with another's unit name")?;
        ensure!(
            o.stderr.contains("UnitExists"),
            "the error is not systemd's UnitExists: {}",
            o.stderr.trim()
        );
        cx.rt(&["state", "c1"])
            .failed("state after a failed create")?;
        ensure!(
            show(&s.unit, "ActiveState") == "active",
            "the other scope was stopped"
        );
        ensure!(
            matches!(other.try_wait(), Ok(None)),
            "the other scope's process was killed"
        );
        Ok(())
    })();
    let _ = other.kill();
    let _ = other.wait();
    result?;
    gone(&s)
}

/// kill -9 of the init: delete stops what is left of the unit.
fn init_killed(cx: &mut Ctx) -> CaseResult {
    let s = scope("initkill");
    let cfg = sd_config(cx, &s, json!({}), &["sleep", "1000"]);
    let b = cx.bundle(&cfg)?;
    cx.rt(&["create", "--bundle", &b.to_string_lossy(), "c1"])
        .ok("create")?;
    cx.rt(&["start", "c1"]).ok("start")?;
    let pid = init_pid(cx, "c1")?;
    // SAFETY: kill with plain integers, on the container's init this case started.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    cx.wait_status("c1", "stopped")?;
    cx.rt(&["delete", "c1"]).ok("delete")?;
    gone(&s)
}

/// kill -9 of the runtime in the middle of `create`, once the scope holds the init (a
/// createRuntime hook that blocks): `delete --force` leaves no unit, cgroup or state.
fn runtime_killed(cx: &mut Ctx) -> CaseResult {
    let s = scope("rtkill");
    let mut cfg = sd_config(cx, &s, json!({}), &["sleep", "1000"]);
    let marker = cx.dir.join("hook.pid");
    cfg["hooks"] = json!({ "createRuntime": [{
        "path": "/bin/sh",
        "args": ["sh", "-c", format!("echo $$ > {}; exec sleep 1000", marker.display())]
    }]});
    let b = cx.bundle(&cfg)?;
    let (mut child, _) = cx.rt_spawn(&["create", "--bundle", &b.to_string_lossy(), "c1"])?;
    let deadline = Instant::now() + Duration::from_secs(20);
    let hook = loop {
        if let Some(p) = std::fs::read_to_string(&marker)
            .ok()
            .and_then(|t| t.trim().parse::<i32>().ok())
        {
            break p;
        }
        if let Ok(Some(st)) = child.try_wait() {
            return Err(format!("create ended before its hook ran: {st}"));
        }
        ensure!(Instant::now() < deadline, "the hook never ran");
        std::thread::sleep(Duration::from_millis(20));
    };
    cx.track(hook);
    let active = show(&s.unit, "ActiveState");
    let _ = child.kill();
    let _ = child.wait();
    // SAFETY: kill with plain integers, on the hook this case's create started.
    unsafe { libc::kill(hook, libc::SIGKILL) };
    ensure!(
        active == "active",
        "the scope was {active:?} while create ran its hook"
    );
    cx.rt(&["delete", "--force", "c1"]).ok("delete --force")?;
    gone(&s)
}
