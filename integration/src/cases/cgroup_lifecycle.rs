//! The container's cgroup across the lifecycle's rough edges (the systemd driver's are
//! in `cgroup_systemd`): `delete` after a `create` that died half way, `delete` of a
//! container whose init died first, and a cgroupsPath another container holds.

use super::cgroups::cg_config;
use super::ensure;
use super::errors::refused;
use crate::ctx::{cgroup_dirs, systemd_cgroup, Ctx};
use crate::needs::DELETE_REMOVES;
use crate::{Case, CaseResult};
use serde_json::json;
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub fn cases() -> Vec<Case> {
    vec![
        // runc connects to the console socket non-blocking (Go) and fails at once with
        // EAGAIN on a full one: there is no half-done create of runc to kill.
        Case::corral(
            "cgroup_delete_after_create_died",
            "delete after a create killed half-way (blocked on a full console socket)",
            create_died,
        ),
        // runc 1.1.5 kills the orphans but removes the cgroup without waiting for them
        // to be gone: in the v2 guest its delete left the cgroup behind (EBUSY).
        Case::runc11_lacks(
            "cgroup_delete_kills_orphans_of_dead_init",
            DELETE_REMOVES,
            orphans,
        ),
        // runc joins the other container's cgroup here; corral refuses, leaving it be.
        Case::corral(
            "cgroup_shared_path_refused_other_untouched",
            "a cgroupsPath another container uses refused",
            shared_path,
        ),
    ]
}

fn existing(name: &str) -> Vec<PathBuf> {
    cgroup_dirs(name)
        .into_iter()
        .filter(|d| d.exists())
        .collect()
}

/// A unix socket whose backlog is full: a `connect` to it blocks until the test ends.
fn full_socket(path: &Path) -> Result<(UnixListener, UnixStream), String> {
    let l = UnixListener::bind(path).map_err(|e| format!("bind {}: {e}", path.display()))?;
    // SAFETY: listen on a socket we own; a backlog of 0 holds one pending connection.
    if unsafe { libc::listen(l.as_raw_fd(), 0) } != 0 {
        return Err(format!("listen: {}", std::io::Error::last_os_error()));
    }
    let first = UnixStream::connect(path).map_err(|e| format!("connect: {e}"))?;
    Ok((l, first))
}

/// `create` blocked in the middle (connecting to a console socket that never accepts,
/// after corral made the cgroup and before any init exists) and killed there: `delete
/// --force` must still find the cgroup and remove it, with the state dir.
fn create_died(cx: &mut Ctx) -> CaseResult {
    let (mut cfg, name) = cg_config(cx, "died", json!({ "pids": { "limit": 10 } }));
    cfg["process"]["terminal"] = json!(true);
    let sock = cx.dir.join("full.sock");
    let _held = full_socket(&sock)?;
    let b = cx.bundle(&cfg)?;
    let (b, sock) = (b.to_string_lossy(), sock.to_string_lossy());
    let args = ["create", "--bundle", &b, "--console-socket", &sock, "c1"];
    let (mut child, _) = cx.rt_spawn(&args)?;
    // corral makes the cgroup and the state dir, then connects. The systemd driver's
    // scope is started only once the init exists: there is no cgroup yet.
    let cgroup_first = !systemd_cgroup();
    let deadline = Instant::now() + crate::PATIENCE;
    loop {
        if let Ok(Some(st)) = child.try_wait() {
            return Err(format!("create did not block on the full socket: {st}"));
        }
        if (!cgroup_first || !existing(&name).is_empty()) && cx.root.join("c1").exists() {
            break;
        }
        ensure!(
            Instant::now() < deadline,
            "no cgroup and state dir after {} s",
            crate::PATIENCE.as_secs()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // Deliberate: nothing may happen in this window (create must stay blocked on the full
    // socket), and "still blocked" has no event to await.
    std::thread::sleep(Duration::from_millis(200));
    ensure!(
        matches!(child.try_wait(), Ok(None)),
        "create ended instead of blocking on the full socket"
    );
    let _ = child.kill();
    let _ = child.wait();
    cx.rt(&["delete", "--force", "c1"]).ok("delete --force")?;
    let left = existing(&name);
    ensure!(left.is_empty(), "delete --force left {left:?}");
    ensure!(
        !cx.root.join("c1").exists(),
        "delete --force left the state dir"
    );
    Ok(())
}

/// Without a pid namespace the init's children outlive it: after the init is killed,
/// `delete` must kill them through the cgroup and remove it.
fn orphans(cx: &mut Ctx) -> CaseResult {
    let (mut cfg, name) = cg_config(cx, "orphans", json!({}));
    let nss = cfg["linux"]["namespaces"]
        .as_array_mut()
        .expect("namespaces");
    nss.retain(|n| n["type"] != "pid");
    cfg["process"]["args"] = json!(["sh", "-c", "sleep 1000 & exec sleep 1001"]);
    let b = cx.bundle(&cfg)?;
    cx.rt(&["create", "--bundle", &b.to_string_lossy(), "c1"])
        .ok("create")?;
    cx.rt(&["start", "c1"]).ok("start")?;
    let init = crate::ctx::pid_of(&cx.state("c1")?).unwrap_or(0);
    ensure!(init > 0, "no init pid");
    let dirs = cgroup_dirs(&name);
    let deadline = Instant::now() + crate::PATIENCE;
    let orphan = loop {
        let procs = std::fs::read_to_string(dirs[0].join("cgroup.procs")).unwrap_or_default();
        if let Some(p) = procs
            .lines()
            .filter_map(|l| l.parse::<i32>().ok())
            .find(|p| *p != init)
        {
            break p;
        }
        ensure!(
            Instant::now() < deadline,
            "the background sleep never appeared in {}",
            dirs[0].display()
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    cx.track(orphan);
    // SAFETY: kill with plain integers, on the container's init this case started.
    unsafe { libc::kill(init, libc::SIGKILL) };
    cx.wait_status("c1", "stopped")?;
    ensure!(
        alive(orphan),
        "the orphan {orphan} died with the init: nothing to prove"
    );
    cx.rt(&["delete", "c1"]).ok("delete")?;
    let deadline = Instant::now() + crate::PATIENCE;
    while alive(orphan) {
        ensure!(
            Instant::now() < deadline,
            "orphan {orphan} still alive after delete"
        );
        crate::ctx::reap();
        std::thread::sleep(Duration::from_millis(10));
    }
    let left = existing(&name);
    ensure!(left.is_empty(), "delete left {left:?}");
    Ok(())
}

/// Alive and not a zombie.
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").map(|(_, r)| !r.starts_with('Z')))
        .unwrap_or(false)
}

/// A second container on a cgroupsPath whose cgroup holds the first one's init is
/// refused, and the refusal leaves the first container and its cgroup alone.
fn shared_path(cx: &mut Ctx) -> CaseResult {
    let (mut cfg, name) = cg_config(cx, "shared", json!({}));
    cfg["process"]["args"] = json!(["sleep", "1000"]);
    let b = cx.bundle(&cfg)?;
    cx.rt(&["create", "--bundle", &b.to_string_lossy(), "c0"])
        .ok("create c0")?;
    let pid = crate::ctx::pid_of(&cx.state("c0")?).unwrap_or(0);
    refused(cx, &cfg, "linux.cgroupsPath")?;
    ensure!(cx.status("c0")? == "created", "c0 is no longer created");
    ensure!(
        alive(pid),
        "c0's init {pid} was killed by the refused create"
    );
    let dirs = cgroup_dirs(&name);
    ensure!(
        dirs.iter().all(|d| d.exists()),
        "c0's cgroup was removed: {dirs:?}"
    );
    cx.rt(&["delete", "--force", "c0"]).ok("delete c0")?;
    Ok(())
}
