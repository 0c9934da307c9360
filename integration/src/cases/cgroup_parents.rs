//! The parents of a nested absolute `linux.cgroupsPath`: those the runtime made go with
//! the last container in them, in every hierarchy; one that existed before stays. runc
//! 1.1.5 leaves every parent behind: corral extensions. The cgroupfs driver's alone: with
//! `--systemd-cgroup` systemd makes the slices (`cgroup_systemd_nested_slice`).

use super::ensure;
use crate::bundle::config;
use crate::ctx::Ctx;
use crate::needs::DELETE_REMOVES;
use crate::{Case, CaseResult};
use serde_json::json;
use std::path::{Path, PathBuf};

pub fn cases() -> Vec<Case> {
    vec![
        Case::runc11_lacks("cgroup_nested_parents_removed", DELETE_REMOVES, nested)
            .cgroupfs_only(PARENTS),
        Case::runc11_lacks(
            "cgroup_shared_parents_removed_by_the_last",
            DELETE_REMOVES,
            shared,
        )
        .cgroupfs_only(PARENTS),
        Case::runc11_lacks(
            "cgroup_existing_parent_kept",
            DELETE_REMOVES,
            existing_parent,
        )
        .cgroupfs_only(PARENTS),
    ]
}

const PARENTS: &str = "the parents of a nested cgroupfs path (systemd makes the slices: \
    cgroup_systemd_nested_slice)";

/// Every cgroup hierarchy mounted at or right below /sys/fs/cgroup.
fn hierarchies() -> Vec<PathBuf> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let point = left.split(' ').nth(4)?;
            let fstype = right.split(' ').next()?;
            let top = point == "/sys/fs/cgroup"
                || Path::new(point).parent() == Some(Path::new("/sys/fs/cgroup"));
            (top && fstype.starts_with("cgroup")).then(|| PathBuf::from(point))
        })
        .collect()
}

/// `rel` (relative to the hierarchy root) in every hierarchy where it exists.
fn present(rel: &str) -> Vec<PathBuf> {
    hierarchies()
        .into_iter()
        .map(|h| h.join(rel))
        .filter(|p| p.exists())
        .collect()
}

/// This run's top cgroup, unique per process.
fn top() -> String {
    format!("corral-state-dir-test-{}", std::process::id())
}

/// Runs `body` with the top cgroup, then removes whatever is left under it in every
/// hierarchy (the deepest first), so that a failure leaves nothing behind.
fn with_top(cx: &mut Ctx, body: fn(&mut Ctx, &str) -> CaseResult) -> CaseResult {
    let top = top();
    let r = body(cx, &top);
    for id in ["c1", "c2"] {
        cx.rt(&["delete", "--force", id]);
    }
    for h in hierarchies() {
        let mut dirs = vec![];
        collect(&h.join(&top), &mut dirs);
        for d in dirs {
            let _ = std::fs::remove_dir(d);
        }
    }
    r
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            collect(&e.path(), out);
        }
    }
    if dir.exists() {
        out.push(dir.to_path_buf());
    }
}

fn create(cx: &mut Ctx, id: &str, path: &str) -> CaseResult {
    let mut cfg = config(&["sleep", "1000"]);
    cfg["linux"]["cgroupsPath"] = json!(path);
    let b = cx.bundle(&cfg)?;
    cx.rt(&["create", "--bundle", &b.to_string_lossy(), id])
        .ok(&format!("create {id} in {path}"))?;
    cx.state(id)?;
    Ok(())
}

/// `rel` is in every hierarchy.
fn everywhere(rel: &str) -> CaseResult {
    let all = hierarchies();
    let have = present(rel);
    ensure!(
        have.len() == all.len(),
        "{rel} is in {have:?}, not in every hierarchy of {all:?}"
    );
    Ok(())
}

fn nowhere(rel: &str) -> CaseResult {
    let left = present(rel);
    ensure!(left.is_empty(), "left behind: {left:?}");
    Ok(())
}

fn nested(cx: &mut Ctx) -> CaseResult {
    with_top(cx, |cx, top| {
        create(cx, "c1", &format!("/{top}/a/b/c1"))?;
        everywhere(&format!("{top}/a/b/c1"))?;
        cx.rt(&["delete", "--force", "c1"]).ok("delete")?;
        nowhere(top)
    })
}

/// Two containers in one parent: deleting the first keeps the second's parents,
/// deleting the second removes them, whichever made them.
fn shared(cx: &mut Ctx) -> CaseResult {
    with_top(cx, |cx, top| {
        create(cx, "c1", &format!("/{top}/shared/c1"))?;
        create(cx, "c2", &format!("/{top}/shared/c2"))?;
        cx.rt(&["delete", "--force", "c1"]).ok("delete c1")?;
        nowhere(&format!("{top}/shared/c1"))?;
        everywhere(&format!("{top}/shared/c2"))?;
        cx.rt(&["delete", "--force", "c2"]).ok("delete c2")?;
        nowhere(top)?;
        // The other order: the container that did not make the parent goes first.
        create(cx, "c1", &format!("/{top}/shared/c1"))?;
        create(cx, "c2", &format!("/{top}/shared/c2"))?;
        cx.rt(&["delete", "--force", "c2"]).ok("delete c2")?;
        everywhere(&format!("{top}/shared/c1"))?;
        cx.rt(&["delete", "--force", "c1"]).ok("delete c1")?;
        nowhere(top)
    })
}

/// A parent that existed before `create` is not the runtime's to remove.
fn existing_parent(cx: &mut Ctx) -> CaseResult {
    with_top(cx, |cx, top| {
        for h in hierarchies() {
            let d = h.join(top).join("pre");
            std::fs::create_dir_all(&d).map_err(|e| format!("mkdir {}: {e}", d.display()))?;
        }
        create(cx, "c1", &format!("/{top}/pre/x/c1"))?;
        cx.rt(&["delete", "--force", "c1"]).ok("delete")?;
        nowhere(&format!("{top}/pre/x"))?;
        everywhere(&format!("{top}/pre"))
    })
}
