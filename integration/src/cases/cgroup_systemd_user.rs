//! The systemd cgroup driver for a caller that is not root (`--systemd-cgroup`, given to
//! the harness): the runtime, run as the lingering test user, makes the container's
//! scope in that user's own systemd manager (over the user bus), under
//! `user.slice/user-UID.slice/user@UID.service/user.slice/` (runc's default slice for a
//! rootless caller), with the limits of the controllers delegated to the user; `delete`
//! leaves no unit and no cgroup, also after `kill -9` of the init; without a reachable
//! user bus `create` fails saying which bus, leaving nothing. Run in the systemd guest
//! (scripts/systemd-guest.sh), whose `user@.service` delegates `pids memory cpu`.

use super::userns::{rootless_bundle, test_user};
use super::{ensure, field};
use crate::ctx::Ctx;
use crate::{Case, CaseResult, Needs};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub fn cases() -> Vec<Case> {
    let sd = |name, run| Case::needs(name, Needs::Systemd(None), run);
    vec![
        sd("cgroup_systemd_user_scope_and_limits", scope_and_limits),
        // runc 1.1.5 fails writing hugetlb.2MB.max, which the scope of a user manager
        // without the hugetlb controller lacks.
        Case::needs(
            "cgroup_systemd_user_undelegated_limit_warned",
            Needs::Systemd(Some(
                "a limit the user's manager was not delegated warned about, not refused",
            )),
            undelegated,
        ),
        sd("cgroup_systemd_user_ops_and_delete", ops),
        sd("cgroup_systemd_user_delete_after_init_killed", init_killed),
        sd("cgroup_systemd_user_no_bus_refused", no_bus),
    ]
}

/// The test user, its runtime's environment (the state under the case's own
/// XDG_RUNTIME_DIR, the bus of its systemd manager, lingering), and a bundle of its own
/// running `args` with `resources`.
struct User {
    ids: (u32, u32),
    bundle: PathBuf,
    xdg: PathBuf,
    bus: PathBuf,
}

impl User {
    fn new(cx: &mut Ctx, args: Value, resources: Value) -> Result<User, String> {
        let ids = test_user()?;
        let (bundle, xdg) = rootless_bundle(cx, ids, args)?;
        let path = bundle.join("config.json");
        let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
        let mut cfg: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        // The same view for both runtimes' `spec --rootless`: no cgroup namespace (the
        // container's /proc/self/cgroup is the host's path) and the host's /sys, bound
        // read-only, so the scope's files are at /sys/fs/cgroup/PATH.
        let linux = &mut cfg["linux"];
        if let Some(ns) = linux["namespaces"].as_array_mut() {
            ns.retain(|n| n["type"] != "cgroup");
        }
        linux["resources"] = resources;
        if let Some(m) = cfg["mounts"].as_array_mut() {
            m.retain(|m| m["destination"] != "/sys/fs/cgroup");
        }
        crate::bundle::write_config(&bundle, &cfg).map_err(|e| e.to_string())?;
        let run = PathBuf::from(format!("/run/user/{}", ids.0));
        ensure!(
            run.join("systemd/private").exists(),
            "the test user's systemd manager does not run ({} has no systemd/private): \
             the systemd guest makes it linger",
            run.display()
        );
        Ok(User {
            ids,
            bundle,
            xdg,
            bus: PathBuf::from(format!("unix:path={}/bus", run.display())),
        })
    }

    /// The runtime as the user, with its user bus.
    fn rt(&self, cx: &mut Ctx, args: &[&str]) -> crate::ctx::Out {
        let env = [
            ("XDG_RUNTIME_DIR", self.xdg.as_path()),
            ("DBUS_SESSION_BUS_ADDRESS", self.bus.as_path()),
        ];
        cx.rt_as(self.ids, &self.bundle, &env, args)
    }

    /// The init's pid, from `state` as the user (corral refuses a state root that is
    /// not its caller's); tracked by the harness.
    fn pid(&self, cx: &mut Ctx, id: &str) -> Result<i32, String> {
        let o = self.rt(cx, &["state", id]);
        let state: Value = serde_json::from_str(&o.ok("state as the test user")?.stdout)
            .map_err(|e| format!("state: {e}: {}", o.stdout))?;
        let pid = crate::ctx::pid_of(&state).unwrap_or(0);
        ensure!(pid > 0, "no init pid for {id}: {state}");
        cx.track(pid);
        Ok(pid)
    }

    /// Waits until `state` as the user says `want`.
    fn wait_status(&self, cx: &mut Ctx, id: &str, want: &str) -> CaseResult {
        let deadline = Instant::now() + crate::PATIENCE;
        loop {
            let o = self.rt(cx, &["state", id]);
            let state: Value = serde_json::from_str(&o.stdout).unwrap_or_default();
            if state["status"] == want {
                return Ok(());
            }
            ensure!(
                Instant::now() < deadline,
                "{id} is not {want}: {}{}",
                o.stdout,
                o.stderr
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The scope the runtime makes for container `id` by default (`:PREFIX:ID`, the
    /// slice being user.slice for a rootless caller) and its cgroup.
    fn scope(&self, cx: &Ctx, id: &str) -> (String, PathBuf) {
        let prefix = if cx.is_corral { "corral" } else { "runc" };
        let unit = format!("{prefix}-{id}.scope");
        let dir = self.manager_dir().join("user.slice").join(&unit);
        (unit, dir)
    }

    fn manager_dir(&self) -> PathBuf {
        let uid = self.ids.0;
        PathBuf::from(format!(
            "/sys/fs/cgroup/user.slice/user-{uid}.slice/user@{uid}.service"
        ))
    }

    /// `systemctl --user show -p PROP --value UNIT` as the user.
    fn show(&self, unit: &str, prop: &str) -> String {
        let uid = self.ids.0.to_string();
        Command::new("setpriv")
            .args(["--reuid", &uid, "--regid", &self.ids.1.to_string()])
            .args(["--clear-groups", "systemctl", "--user", "show"])
            .args(["-p", prop, "--value", unit])
            .env("XDG_RUNTIME_DIR", format!("/run/user/{uid}"))
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    }

    /// No unit loaded in the user's manager, and no cgroup (systemd unloads a stopped
    /// unit from its event loop, just after the job: at most 10 s).
    fn gone(&self, unit: &str, dir: &Path) -> CaseResult {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let load = self.show(unit, "LoadState");
            if load == "not-found" && !dir.exists() {
                return Ok(());
            }
            ensure!(
                Instant::now() < deadline,
                "user unit {unit} is left: LoadState={load} ActiveState={}, cgroup {} {}",
                self.show(unit, "ActiveState"),
                dir.display(),
                if dir.exists() { "exists" } else { "gone" }
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn id(what: &str) -> String {
    format!("sdu-{}-{what}", std::process::id())
}

/// Prints the container's cgroup (as /proc/self/cgroup has it) and its limits.
const LOOK: &str = "cg=$(sed -n 's/^0:://p' /proc/self/cgroup); echo cg=$cg; \
    echo pids=$(cat /sys/fs/cgroup$cg/pids.max); echo mem=$(cat /sys/fs/cgroup$cg/memory.max)";

/// pids and memory: delegated to every user by Debian's user@.service.
fn delegated() -> Value {
    json!({ "memory": { "limit": 67108864 }, "pids": { "limit": 37 } })
}

/// The container's cgroup is its scope in the user's manager, under
/// user@UID.service/user.slice (the default cgroupsPath), with the delegated limits.
fn scope_and_limits(cx: &mut Ctx) -> CaseResult {
    let u = User::new(cx, json!(["sh", "-c", LOOK]), delegated())?;
    let id = id("lim");
    let (unit, dir) = u.scope(cx, &id);
    let o = u.rt(cx, &["run", &id]);
    o.ok("run --systemd-cgroup as the test user")?;
    let want = format!(
        "/{}",
        dir.strip_prefix("/sys/fs/cgroup").unwrap_or(&dir).display()
    );
    let out = &o.stdout;
    ensure!(
        field(out, "cg") == Some(&want),
        "the container's cgroup is {:?}, not its scope {want}: {out}{}",
        field(out, "cg"),
        o.stderr
    );
    ensure!(
        field(out, "pids") == Some("37") && field(out, "mem") == Some("67108864"),
        "the delegated limits are not applied: {out}"
    );
    u.gone(&unit, &dir)
}

/// hugepageLimits needs hugetlb, which no user manager is delegated (the guest's
/// delegates `cpuset cpu io memory pids`): the container runs with its other limits,
/// and the warning names the field.
fn undelegated(cx: &mut Ctx) -> CaseResult {
    let mut res = delegated();
    res["hugepageLimits"] = json!([{ "pageSize": "2MB", "limit": 4194304 }]);
    let u = User::new(cx, json!(["sh", "-c", LOOK]), res)?;
    let have =
        std::fs::read_to_string(u.manager_dir().join("cgroup.controllers")).unwrap_or_default();
    ensure!(
        !have.split_whitespace().any(|c| c == "hugetlb"),
        "the user's manager has hugetlb ({have:?}): nothing here is undelegated"
    );
    let id = id("undeleg");
    let (unit, dir) = u.scope(cx, &id);
    let o = u.rt(cx, &["run", &id]);
    o.ok("run --systemd-cgroup with an undelegated limit")?;
    ensure!(
        field(&o.stdout, "pids") == Some("37"),
        "the delegated limit is not applied: {}",
        o.stdout
    );
    ensure!(
        o.stderr.contains("linux.resources.hugepageLimits") && o.stderr.contains("not applied"),
        "the warning does not name linux.resources.hugepageLimits: {}",
        o.stderr
    );
    u.gone(&unit, &dir)
}

/// ps, pause/resume, update through the user's manager; `delete --force` of the running
/// container leaves no unit and no cgroup.
fn ops(cx: &mut Ctx) -> CaseResult {
    let args = json!(["sh", "-c", "sleep 1000 & exec sleep 1001"]);
    let u = User::new(cx, args, delegated())?;
    let id = id("ops");
    let (unit, dir) = u.scope(cx, &id);
    u.rt(cx, &["create", &id]).ok("create")?;
    u.rt(cx, &["start", &id]).ok("start")?;
    u.pid(cx, &id)?;
    ensure!(
        u.show(&unit, "ActiveState") == "active",
        "{unit} is not active in the user's manager"
    );
    let o = u.rt(cx, &["ps", "--format", "json", &id]);
    o.ok("ps")?;
    let pids: Vec<i64> = serde_json::from_str(o.stdout.trim()).map_err(|e| format!("ps: {e}"))?;
    ensure!(pids.len() == 2, "ps: {pids:?}, want 2 processes");
    u.rt(cx, &["pause", &id]).ok("pause")?;
    let file = |f: &str| super::cgroups::read(&dir.join(f));
    ensure!(file("cgroup.freeze") == "1", "cgroup.freeze is not 1");
    u.rt(cx, &["resume", &id]).ok("resume")?;
    u.rt(cx, &["update", "--pids-limit", "19", &id])
        .ok("update")?;
    ensure!(
        file("pids.max") == "19" && u.show(&unit, "TasksMax") == "19",
        "after update: pids.max={:?} TasksMax={:?}, want 19",
        file("pids.max"),
        u.show(&unit, "TasksMax")
    );
    u.rt(cx, &["delete", "--force", &id]).ok("delete --force")?;
    u.gone(&unit, &dir)
}

/// kill -9 of the init: `delete` leaves no unit and no cgroup.
fn init_killed(cx: &mut Ctx) -> CaseResult {
    let u = User::new(cx, json!(["sleep", "1000"]), delegated())?;
    let id = id("kill");
    let (unit, dir) = u.scope(cx, &id);
    u.rt(cx, &["run", "-d", &id]).ok("run -d")?;
    let pid = u.pid(cx, &id)?;
    // SAFETY: kill with plain integers, on the container's init this case started.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    u.wait_status(cx, &id, "stopped")?;
    u.rt(cx, &["delete", &id]).ok("delete")?;
    u.gone(&unit, &dir)
}

/// No user bus (XDG_RUNTIME_DIR without one, no DBUS_SESSION_BUS_ADDRESS): create
/// fails, naming the bus it tried (corral's words checked), and leaves no state.
fn no_bus(cx: &mut Ctx) -> CaseResult {
    let u = User::new(cx, json!(["sleep", "1000"]), delegated())?;
    let id = id("nobus");
    let env = [("XDG_RUNTIME_DIR", u.xdg.as_path())];
    let o = cx.rt_as(u.ids, &u.bundle, &env, &["create", &id]);
    o.failed("create --systemd-cgroup without a user bus")?;
    if cx.is_corral {
        let bus = u.xdg.join("bus");
        ensure!(
            o.stderr.contains(&bus.display().to_string()),
            "the error does not name the bus {}: {}",
            bus.display(),
            o.stderr.trim()
        );
    }
    u.rt(cx, &["state", &id])
        .failed("state after a failed create")?;
    let (unit, dir) = u.scope(cx, &id);
    u.gone(&unit, &dir)
}
