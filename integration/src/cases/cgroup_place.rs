//! Where a container without an absolute cgroupsPath goes, seen from the host: below
//! the caller's own cgroup on v1, beside it (below its parent) on v2, where the caller's
//! cgroup (a service, a login session's scope) holds processes and so cannot give its
//! children controllers (the no-internal-processes rule). The ids hold the harness's
//! pid, so the default cgroup (`corral-<id>`, runc's `<id>`) is this run's alone.
//! With `--systemd-cgroup` the default is a scope `PREFIX-<id>.scope` in `system.slice`
//! (corral's prefix `corral`, runc's `runc`), wherever the caller runs.

use super::ensure;
use crate::bundle::config;
use crate::ctx::{systemd_cgroup, Ctx};
use crate::{Case, CaseResult};
use serde_json::json;
use std::path::{Path, PathBuf};

pub fn cases() -> Vec<Case> {
    vec![
        Case::new("cgroup_default_beside_the_callers_cgroup", default_place),
        Case::new("cgroup_default_from_a_systemd_scope", from_scope),
        Case::new("cgroup_below_a_cgroup_with_processes_refused", below_busy).cgroupfs_only(
            "an absolute cgroupfs path below a cgroup with processes (a systemd scope \
             always goes into a slice)",
        ),
    ]
}

const CGROUP2: &str = "/sys/fs/cgroup";

fn v2() -> bool {
    Path::new(CGROUP2).join("cgroup.controllers").exists()
}

/// The cgroup of `pid` in the hierarchy with `controller` (v1) or the unified one (v2),
/// as a host directory.
pub(super) fn cgroup_of(pid: &str, controller: &str) -> Result<PathBuf, String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).map_err(|e| e.to_string())?;
    let v2 = v2();
    text.lines()
        .find_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, ctrls, path) = (f.next()?, f.next()?, f.next()?);
            let hit = match v2 {
                true => ctrls.is_empty(),
                false => ctrls.split(',').any(|c| c == controller),
            };
            let h = match v2 {
                true => PathBuf::from(CGROUP2),
                false => Path::new(CGROUP2).join(ctrls),
            };
            hit.then(|| h.join(path.trim_start_matches('/')))
        })
        .ok_or_else(|| format!("/proc/{pid}/cgroup has no {controller} line: {text}"))
}

/// Where a v2 runtime puts a container without an absolute cgroupsPath: the parent of
/// `own`, or the root when `own` is the root.
pub(super) fn parent_of(own: &Path) -> PathBuf {
    match own == Path::new(CGROUP2) {
        true => own.to_path_buf(),
        false => own.parent().unwrap_or(own).to_path_buf(),
    }
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// A detached container (`sleep`) with memory and pids limits and no cgroupsPath.
fn bundle(cx: &mut Ctx) -> Result<PathBuf, String> {
    let mut cfg = config(&["sleep", "1000"]);
    cfg["linux"]["resources"] = json!({
        "memory": { "limit": 67108864 },
        "pids": { "limit": 64 }
    });
    cx.bundle(&cfg)
}

/// The init's cgroup (memory hierarchy on v1) and that it holds the limits.
fn placed(cx: &mut Ctx, id: &str) -> Result<PathBuf, String> {
    let pid = cx.state(id)?["pid"].as_i64().unwrap_or(0).to_string();
    let dir = cgroup_of(&pid, "memory")?;
    let file = if v2() {
        "memory.max"
    } else {
        "memory.limit_in_bytes"
    };
    let got = read(&dir.join(file));
    ensure!(
        got == "67108864",
        "{}/{file} is {got:?}, not 67108864",
        dir.display()
    );
    Ok(dir)
}

/// The systemd driver's default place: a scope of the runtime's, named after the id, in
/// `system.slice`.
fn in_system_slice(dir: &Path, id: &str) -> CaseResult {
    let name = dir.file_name().unwrap_or_default().to_string_lossy();
    ensure!(
        dir.parent() == Some(&Path::new(CGROUP2).join("system.slice"))
            && name.ends_with(&format!("-{id}.scope")),
        "the container's cgroup {} is not a scope PREFIX-{id}.scope in system.slice",
        dir.display()
    );
    Ok(())
}

fn deleted(cx: &mut Ctx, id: &str, dir: &Path) -> CaseResult {
    cx.rt(&["delete", "--force", id]).ok("delete --force")?;
    ensure!(!dir.exists(), "{} is left after delete", dir.display());
    Ok(())
}

fn default_place(cx: &mut Ctx) -> CaseResult {
    let id = format!("cgplace-{}-default", std::process::id());
    let b = bundle(cx)?;
    let bs = b.to_string_lossy().into_owned();
    cx.rt(&["run", "-d", "--bundle", &bs, &id])
        .ok("run -d without cgroupsPath")?;
    let dir = placed(cx, &id)?;
    if systemd_cgroup() {
        in_system_slice(&dir, &id)?;
        return deleted(cx, &id, &dir);
    }
    let own = cgroup_of("self", "memory")?;
    let want = match v2() {
        true => parent_of(&own),
        false => own.clone(),
    };
    ensure!(
        dir.parent() == Some(want.as_path()),
        "the container's cgroup {} is not below {} (the harness is in {})",
        dir.display(),
        want.display(),
        own.display()
    );
    deleted(cx, &id, &dir)
}

/// As a login shell runs it: the runtime in a transient scope of its own (`systemd-run
/// --scope`), which holds it while it makes the container. The container must not go
/// into the scope (its controllers could not be enabled there, EBUSY), and `delete`
/// leaves nothing. Where systemd is not PID 1 there is no scope to run in: nothing to
/// check.
fn from_scope(cx: &mut Ctx) -> CaseResult {
    if !Path::new("/run/systemd/system").is_dir() || !v2() {
        return Ok(());
    }
    let id = format!("cgplace-{}-scope", std::process::id());
    let b = bundle(cx)?;
    let bs = b.to_string_lossy().into_owned();
    // The script prints the scope it ran in, then becomes the runtime there.
    let script = "echo scope=$(cut -d: -f3 /proc/self/cgroup); exec \"$@\"";
    let o = cx.rt_via_sh(
        &format!("exec systemd-run --scope --quiet -- sh -c '{script}' sh \"$@\""),
        &["run", "-d", "--bundle", &bs, &id],
    );
    o.ok("run -d without cgroupsPath in a systemd scope")?;
    let scope = super::field(&o.stdout, "scope")
        .unwrap_or_default()
        .to_string();
    ensure!(
        scope.ends_with(".scope"),
        "not run in a scope: {}",
        o.stdout
    );
    let dir = placed(cx, &id)?;
    if systemd_cgroup() {
        in_system_slice(&dir, &id)?;
        return deleted(cx, &id, &dir);
    }
    let scope = Path::new(CGROUP2).join(scope.trim_start_matches('/'));
    ensure!(
        !dir.starts_with(&scope) && dir.parent() == scope.parent(),
        "the container's cgroup {} is not beside the scope {}",
        dir.display(),
        scope.display()
    );
    deleted(cx, &id, &dir)
}

/// v2: a cgroupsPath below a cgroup that holds a process (here a `sleep` of the
/// harness) cannot get the controllers its limits need: `create` fails, naming the
/// cgroup and the rule (corral), and leaves nothing.
fn below_busy(cx: &mut Ctx) -> CaseResult {
    if !v2() {
        return Ok(());
    }
    let own = cgroup_of("self", "")?;
    let busy = parent_of(&own).join(format!("cgplace-{}-busy", std::process::id()));
    std::fs::create_dir(&busy).map_err(|e| format!("mkdir {}: {e}", busy.display()))?;
    let mut sleeper = std::process::Command::new("sleep")
        .arg("1000")
        .spawn()
        .map_err(|e| e.to_string())?;
    let r = std::fs::write(busy.join("cgroup.procs"), sleeper.id().to_string())
        .map_err(|e| e.to_string())
        .and_then(|()| refused_below(cx, &busy));
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    let _ = std::fs::remove_dir(&busy);
    r
}

fn refused_below(cx: &mut Ctx, busy: &Path) -> CaseResult {
    let below = busy.strip_prefix(CGROUP2).map_err(|e| e.to_string())?;
    let mut cfg = config(&["true"]);
    cfg["linux"]["cgroupsPath"] = json!(format!("/{}/c", below.display()));
    cfg["linux"]["resources"] = json!({ "memory": { "limit": 67108864 } });
    let b = cx.bundle(&cfg)?;
    let o = cx.rt(&["create", "--bundle", &b.to_string_lossy(), "cgplace"]);
    o.failed("create below a cgroup with a process")?;
    if cx.is_corral {
        let busy = busy.display().to_string();
        for want in ["linux.cgroupsPath", busy.as_str(), "no-internal-processes"] {
            ensure!(
                o.stderr.contains(want),
                "the error should name {want}: {}",
                o.stderr
            );
        }
    }
    ensure!(!busy.join("c").exists(), "{}/c is left", busy.display());
    Ok(())
}
