//! The runtime root is not trusted blindly: a root another user owns (or may write) is
//! refused, nothing is written through a symlink put in place of a container's
//! directory or state file, and what the root holds is private (files 0600, dirs
//! 0700). corral extensions: runc 1.1.5 takes a root another user owns or every user
//! may write, keeps its state dir 0711 and exec.fifo 0622, and refuses a swapped
//! directory or state.json only as "container does not exist", naming neither.

use super::ensure;
use super::userns::test_user;
use crate::bundle::config;
use crate::ctx::Ctx;
use crate::{Case, CaseResult};
use serde_json::{json, Value};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

pub fn cases() -> Vec<Case> {
    vec![
        Case::corral(
            "state_root_of_another_user_refused",
            "a state root another user controls refused",
            other_users_root,
        ),
        Case::corral(
            "state_dir_swapped_for_symlink_not_followed",
            "state dirs opened without following symlinks",
            swapped_dir,
        ),
        Case::corral(
            "state_file_swapped_for_symlink_refused",
            "state files opened without following symlinks",
            swapped_file,
        ),
        Case::corral(
            "state_files_private",
            "state files readable by root alone",
            private_files,
        ),
        Case::corral(
            "state_root_writable_by_others_refused",
            "a state root others may write refused",
            writable_root,
        ),
    ]
}

/// Every entry under `dir`, recursively (symlinks not followed), with its metadata.
fn walk(dir: &Path, out: &mut Vec<(std::path::PathBuf, std::fs::Metadata)>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let Ok(m) = e.path().symlink_metadata() else {
            continue;
        };
        if m.is_dir() {
            walk(&e.path(), out);
        }
        out.push((e.path(), m));
    }
}

fn mkdir_mode(path: &Path, mode: u32) -> Result<(), String> {
    std::fs::create_dir_all(path).map_err(|e| format!("mkdir {}: {e}", path.display()))?;
    // chmod after mkdir: the umask would cut the group and other bits.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| format!("chmod {}: {e}", path.display()))
}

/// The attacker's side: root runs corral with a --root that `corraltest` owns, and that
/// user has put a container directory there that is a symlink to a root-owned directory.
/// corral must refuse the root before it reads or writes anything in it.
fn other_users_root(cx: &mut Ctx) -> CaseResult {
    let user = test_user()?;
    let victim = cx.dir.join("victim");
    mkdir_mode(&victim, 0o700)?;
    let secret = victim.join("state.json");
    std::fs::write(&secret, b"root's own file\n").map_err(|e| e.to_string())?;
    mkdir_mode(&cx.root, 0o700)?;
    std::os::unix::fs::chown(&cx.root, Some(user.0), Some(user.1)).map_err(|e| e.to_string())?;
    std::os::unix::fs::symlink(&victim, cx.root.join("c0")).map_err(|e| e.to_string())?;
    std::os::unix::fs::lchown(cx.root.join("c0"), Some(user.0), Some(user.1))
        .map_err(|e| e.to_string())?;
    let b = cx.bundle(&config(&["sleep", "1000"]))?;
    let root = cx.root.to_string_lossy().into_owned();
    for args in [
        vec!["create", "--bundle", &b.to_string_lossy(), "c1"],
        vec!["delete", "--force", "c0"],
        vec!["state", "c0"],
        vec!["list"],
    ] {
        let o = cx.rt(&args);
        o.failed(&format!("{} in a root uid {} owns", args[0], user.0))?;
        ensure!(
            o.stderr.contains(&root) && o.stderr.contains(&format!("uid {}", user.0)),
            "{}: the error does not name the root and its owner: {}",
            args[0],
            o.stderr.trim()
        );
    }
    let names: Vec<String> = std::fs::read_dir(&cx.root)
        .map_err(|e| e.to_string())?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    ensure!(names == ["c0"], "the runtime made {names:?} in the root");
    let now = std::fs::read(&secret).unwrap_or_default();
    ensure!(
        now == b"root's own file\n",
        "{} changed through the symlink: {:?}",
        secret.display(),
        String::from_utf8_lossy(&now)
    );
    // Removed here: the harness would ask the runtime, which refuses this root.
    std::fs::remove_file(cx.root.join("c0")).map_err(|e| e.to_string())?;
    Ok(())
}

/// Container c1, created (`sleep`) in a cgroup of the case's, `edit` applied to its config.
fn created(cx: &mut Ctx, what: &str, edit: impl FnOnce(&mut Value)) -> CaseResult {
    let mut cfg = config(&["sleep", "1000"]);
    cfg["linux"]["cgroupsPath"] = json!(cx.cgroup_name(what));
    edit(&mut cfg);
    let b = cx.bundle(&cfg)?;
    cx.rt(&["create", "--bundle", &b.to_string_lossy(), "c1"])
        .ok("create")?;
    cx.state("c1")?;
    Ok(())
}

/// Moves `real` to `stash` and puts a symlink to `target` in its place while `check`
/// runs; then the real one goes back (for the harness to delete the container).
fn swapped(
    real: &Path,
    stash: &Path,
    target: &Path,
    check: impl FnOnce() -> CaseResult,
) -> CaseResult {
    std::fs::rename(real, stash).map_err(|e| e.to_string())?;
    std::os::unix::fs::symlink(target, real).map_err(|e| e.to_string())?;
    let r = check();
    std::fs::remove_file(real).map_err(|e| e.to_string())?;
    std::fs::rename(stash, real).map_err(|e| e.to_string())?;
    r
}

/// Each of `calls` fails, naming `path`.
fn all_fail(cx: &mut Ctx, calls: &[&[&str]], path: &Path) -> CaseResult {
    for args in calls {
        let o = cx.rt(args);
        o.failed(&format!("{} with {} a symlink", args[0], path.display()))?;
        ensure!(
            o.stderr.contains(&path.to_string_lossy().into_owned()),
            "{}: the error does not name {}: {}",
            args[0],
            path.display(),
            o.stderr.trim()
        );
    }
    Ok(())
}

const UPDATE: &[&str] = &["update", "--pids-limit", "50", "c1"];

/// A created container whose directory under the (root-owned) root is then swapped for
/// a symlink to a directory outside, holding a copy of its state: `update`, which
/// rewrites state.json, `start` and `delete` must fail and leave the outside directory
/// as it was.
fn swapped_dir(cx: &mut Ctx) -> CaseResult {
    created(cx, "swap", |_| {})?;
    let real = cx.root.join("c1");
    let outside = cx.dir.join("outside");
    mkdir_mode(&outside, 0o700)?;
    let state = std::fs::read(real.join("state.json")).map_err(|e| e.to_string())?;
    std::fs::write(outside.join("state.json"), &state).map_err(|e| e.to_string())?;
    let stash = cx.dir.join("c1-moved");
    swapped(&real, &stash, &outside, || {
        let calls: &[&[&str]] = &[UPDATE, &["start", "c1"], &["delete", "--force", "c1"]];
        all_fail(cx, calls, &real)?;
        let mut left = vec![];
        walk(&outside, &mut left);
        let names: Vec<_> = left.iter().map(|(p, _)| p.clone()).collect();
        ensure!(
            names == [outside.join("state.json")],
            "the runtime wrote into {}: {names:?}",
            outside.display()
        );
        let now = std::fs::read(outside.join("state.json")).unwrap_or_default();
        ensure!(now == state, "state.json outside the root was rewritten");
        Ok(())
    })
}

/// state.json swapped for a symlink to a file outside: `state` and `update` fail, and
/// the outside file stays as it was.
fn swapped_file(cx: &mut Ctx) -> CaseResult {
    created(cx, "swapfile", |_| {})?;
    let file = cx.root.join("c1/state.json");
    let before = std::fs::read(&file).map_err(|e| e.to_string())?;
    let outside = cx.dir.join("outside.json");
    swapped(&file, &outside, &outside, || {
        all_fail(cx, &[&["state", "c1"], UPDATE], &file)?;
        let now = std::fs::read(&outside).unwrap_or_default();
        ensure!(now == before, "{} was rewritten", outside.display());
        Ok(())
    })
}

/// What a container's state holds (hook environments, annotations) is for root alone.
fn private_files(cx: &mut Ctx) -> CaseResult {
    created(cx, "private", |cfg| {
        cfg["annotations"] = json!({ "secret": "s3cret" });
        cfg["hooks"] = json!({ "poststop": [
            { "path": "/bin/true", "env": ["TOKEN=s3cret"] }
        ]});
    })?;
    let mut all = vec![];
    walk(&cx.root, &mut all);
    all.push((
        cx.root.clone(),
        cx.root.symlink_metadata().map_err(|e| e.to_string())?,
    ));
    let names: Vec<String> = all
        .iter()
        .filter_map(|(p, _)| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    for want in ["state.json", "cgroup.json", "exec.fifo", "c1"] {
        ensure!(names.iter().any(|n| n == want), "no {want} in {names:?}");
    }
    let loose: Vec<String> = all
        .iter()
        .filter(|(_, m)| {
            let mode = m.mode() & 0o7777;
            if m.is_dir() {
                mode != 0o700
            } else {
                mode & 0o077 != 0
            }
        })
        .map(|(p, m)| format!("{} {:o}", p.display(), m.mode() & 0o7777))
        .collect();
    ensure!(
        loose.is_empty(),
        "not private (files 0600, dirs 0700): {loose:?}"
    );
    cx.rt(&["delete", "--force", "c1"]).ok("delete")?;
    Ok(())
}

/// A root its group or every user may write is refused, naming it and why.
fn writable_root(cx: &mut Ctx) -> CaseResult {
    let b = cx.bundle(&config(&["true"]))?;
    let root = cx.root.to_string_lossy().into_owned();
    for (mode, says) in [(0o777, "every user"), (0o770, "its group")] {
        mkdir_mode(&cx.root, mode)?;
        let o = cx.rt(&["create", "--bundle", &b.to_string_lossy(), "c1"]);
        o.failed(&format!("create in a root of mode {mode:o}"))?;
        ensure!(
            o.stderr.contains(&root) && o.stderr.contains(says),
            "mode {mode:o}: the error does not name the root and {says:?}: {}",
            o.stderr.trim()
        );
        let n = std::fs::read_dir(&cx.root)
            .map_err(|e| e.to_string())?
            .count();
        ensure!(
            n == 0,
            "mode {mode:o}: the runtime made {n} entries in the root"
        );
    }
    // The same root, once private, is fine.
    mkdir_mode(&cx.root, 0o700)?;
    cx.rt(&["run", "--bundle", &b.to_string_lossy(), "c1"])
        .ok("run in the root made private")?;
    Ok(())
}
