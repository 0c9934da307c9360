//! Rootless cgroups without systemd: the runtime run as the test user with
//! `linux.resources`. Where the user may write no cgroup the container runs without
//! limits (corral warns naming them); in a subtree delegated to the user (the
//! directory and its cgroup.procs, subtree_control and threads chowned to it, as
//! systemd's `Delegate=` does) the container gets its cgroup there, with the limits.

use super::cgroup_place::{cgroup_of, parent_of};
use super::userns::{rootless_bundle, test_user};
use super::{ensure, field};
use crate::ctx::Ctx;
use crate::{Case, CaseResult};
use serde_json::{json, Value};
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::chown;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

pub fn cases() -> Vec<Case> {
    vec![
        Case::corral(
            "cgroup_rootless_limits_without_delegation_warn",
            "rootless limits skipped with a warning (runc 1.1 refuses them on v2)",
            undelegated,
        )
        .cgroupfs_only(ROOTLESS),
        Case::new("cgroup_rootless_delegated_subtree", delegated).cgroupfs_only(ROOTLESS),
    ]
}

const ROOTLESS: &str = "rootless cgroups without systemd (with it: the user's manager)";

const LIMITS: &str = r#"{ "memory": { "limit": 67108864 }, "pids": { "limit": 64 } }"#;

/// The user's bundle (`spec --rootless`) running `args`, with memory and pids limits.
fn bundle(cx: &mut Ctx, user: (u32, u32), args: Value) -> Result<(PathBuf, PathBuf), String> {
    let (b, xdg) = rootless_bundle(cx, user, args)?;
    let path = b.join("config.json");
    let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
    let mut cfg: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    cfg["linux"]["resources"] = serde_json::from_str(LIMITS).expect("limits");
    crate::bundle::write_config(&b, &cfg).map_err(|e| e.to_string())?;
    Ok((b, xdg))
}

/// Run by the user from the harness's own cgroup (root's): no cgroup it may write, so
/// the container runs in the caller's cgroup, and the limits are named as skipped.
fn undelegated(cx: &mut Ctx) -> CaseResult {
    let user = test_user()?;
    let script = "echo cg=$(cat /proc/self/cgroup | tr '\\n' ' ')";
    let (b, xdg) = bundle(cx, user, json!(["sh", "-c", script]))?;
    let env = [("XDG_RUNTIME_DIR", xdg.as_path())];
    let o = cx.rt_as(user, &b, &env, &["run", "cgplace"]);
    o.ok("run with linux.resources as the test user, no cgroup delegated")?;
    ensure!(field(&o.stdout, "cg").is_some(), "{}{}", o.stdout, o.stderr);
    for f in [
        "linux.resources.memory",
        "linux.resources.pids",
        "not applied",
    ] {
        ensure!(
            o.stderr.contains(f),
            "the warning should name {f}: {}",
            o.stderr
        );
    }
    Ok(())
}

/// `dir` and the files a delegation hands over, chowned to `user`.
fn delegate(dir: &Path, user: (u32, u32)) -> Result<(), String> {
    for f in [
        "",
        "cgroup.procs",
        "cgroup.subtree_control",
        "cgroup.threads",
    ] {
        let p = if f.is_empty() {
            dir.to_path_buf()
        } else {
            dir.join(f)
        };
        chown(&p, Some(user.0), Some(user.1)).map_err(|e| format!("chown {}: {e}", p.display()))?;
    }
    Ok(())
}

/// v2 only (a v1 host has one hierarchy per controller, each to delegate): a subtree
/// `D` delegated to the user beside the harness's cgroup, the runtime started as the
/// user in `D/caller` (moved there by root before it drops to the user): the container's cgroup is made in `D` with the limits, and
/// `delete` removes it.
fn delegated(cx: &mut Ctx) -> CaseResult {
    let root = Path::new("/sys/fs/cgroup");
    if !root.join("cgroup.controllers").exists() {
        return Ok(());
    }
    let user = test_user()?;
    let own = cgroup_of("self", "")?;
    let parent = parent_of(&own);
    // The parent gives its children memory and pids (root may enable them: it has no
    // processes of its own, or is the root).
    let on = std::fs::read_to_string(parent.join("cgroup.subtree_control")).unwrap_or_default();
    for c in ["memory", "pids"] {
        if !on.split_whitespace().any(|x| x == c) {
            std::fs::write(parent.join("cgroup.subtree_control"), format!("+{c}"))
                .map_err(|e| format!("enable {c} in {}: {e}", parent.display()))?;
        }
    }
    let d = parent.join(format!("cgplace-{}-deleg", std::process::id()));
    let caller = d.join("caller");
    std::fs::create_dir_all(&caller).map_err(|e| format!("mkdir {}: {e}", caller.display()))?;
    let r = in_delegated(cx, user, &d, &caller);
    // Empty by now (the runtime has exited, the container is deleted).
    let _ = std::fs::remove_dir(&caller);
    let _ = std::fs::remove_dir(&d);
    r?;
    ensure!(!d.exists(), "{} is left", d.display());
    Ok(())
}

fn in_delegated(cx: &mut Ctx, user: (u32, u32), d: &Path, caller: &Path) -> CaseResult {
    delegate(d, user)?;
    delegate(caller, user)?;
    let (b, xdg) = bundle(cx, user, json!(["sleep", "1000"]))?;
    let env = [("XDG_RUNTIME_DIR", xdg.as_path())];
    // The runtime's process moves itself into D/caller (as root: the move crosses
    // cgroups the user may not write), then becomes the user.
    let procs = CString::new(caller.join("cgroup.procs").as_os_str().as_bytes())
        .map_err(|e| e.to_string())?;
    let o = cx.rt_with(&["run", "-d", "cgplace"], |c| {
        c.current_dir(&b)
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
            .env("XDG_RUNTIME_DIR", &xdg);
        // SAFETY: only async-signal-safe calls (open, write, close, setgroups, setgid,
        // setuid) in the forked child before exec, on memory made before the fork.
        unsafe {
            c.pre_exec(move || {
                let fd = libc::open(procs.as_ptr(), libc::O_WRONLY);
                // "0" in cgroup.procs is the writer itself.
                if fd < 0 || libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::close(fd);
                if libc::setgroups(0, std::ptr::null()) != 0
                    || libc::setgid(user.1) != 0
                    || libc::setuid(user.0) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    });
    o.ok("run -d with linux.resources as the test user in a delegated cgroup")?;
    let st = cx.rt_as(user, &b, &env, &["state", "cgplace"]);
    let state: Value = serde_json::from_str(&st.ok("state as the test user")?.stdout)
        .map_err(|e| format!("state: {e}: {}", st.stdout))?;
    let pid = crate::ctx::pid_of(&state).unwrap_or(0);
    cx.track(pid);
    let dir = cgroup_of(&pid.to_string(), "")?;
    ensure!(
        dir.parent() == Some(d),
        "the container's cgroup {} is not in the delegated {} ({})",
        dir.display(),
        d.display(),
        o.stderr
    );
    for (file, want) in [("memory.max", "67108864"), ("pids.max", "64")] {
        let got = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
        ensure!(
            got.trim() == want,
            "{}/{file} is {got:?}, not {want}",
            dir.display()
        );
    }
    cx.rt_as(user, &b, &env, &["delete", "--force", "cgplace"])
        .ok("delete as the test user")?;
    ensure!(!dir.exists(), "{} is left after delete", dir.display());
    Ok(())
}
