//! Helpers of the file-system cases: /proc/self/mountinfo as the container printed it,
//! a shell probe for writability, host files and user-namespace bundles.

use crate::ctx::Ctx;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// One line of /proc/self/mountinfo.
#[derive(Debug, Clone)]
pub struct Mount {
    pub line: String,
    pub point: String,
    /// Per-mount options (field 6): rw/ro, nosuid, relatime, …
    pub opts: Vec<String>,
    /// Optional fields: shared:N, master:N, unbindable, …
    pub optional: Vec<String>,
    pub fstype: String,
    /// Super block options (after " - " and the fstype and source).
    pub super_opts: Vec<String>,
}

impl Mount {
    fn parse(line: &str) -> Option<Mount> {
        let (left, right) = line.split_once(" - ")?;
        let l: Vec<&str> = left.split(' ').collect();
        let r: Vec<&str> = right.split(' ').collect();
        if l.len() < 6 || r.len() < 3 || l[0].parse::<u64>().is_err() {
            return None;
        }
        let list = |s: &str| s.split(',').map(str::to_string).collect();
        Some(Mount {
            line: line.to_string(),
            point: l[4].to_string(),
            opts: list(l[5]),
            optional: l[6..].iter().map(|s| s.to_string()).collect(),
            fstype: r[0].to_string(),
            super_opts: list(r[2]),
        })
    }

    /// `flag` is among the per-mount options.
    pub fn has(&self, flag: &str) -> bool {
        self.opts.iter().any(|o| o == flag)
    }

    /// `flag` is among the super block options.
    pub fn super_has(&self, flag: &str) -> bool {
        self.super_opts.iter().any(|o| o == flag)
    }

    /// An optional field starts with `prefix` (e.g. "shared:").
    pub fn optional_has(&self, prefix: &str) -> bool {
        self.optional.iter().any(|o| o.starts_with(prefix))
    }
}

/// The mountinfo lines in `out` (other lines are skipped).
pub fn mountinfo(out: &str) -> Vec<Mount> {
    out.lines().filter_map(Mount::parse).collect()
}

/// The topmost mount at `point` in the mountinfo lines of `out`.
pub fn mount_at(out: &str, point: &str) -> Result<Mount, String> {
    mountinfo(out)
        .into_iter()
        .rev()
        .find(|m| m.point == point)
        .ok_or_else(|| format!("no mount at {point} in what the container printed:\n{out}"))
}

/// Host mount points (from this process's mountinfo).
pub fn host_mount_points() -> Vec<String> {
    mountinfo(&std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default())
        .into_iter()
        .map(|m| m.point)
        .collect()
}

/// A shell function `w DIR` that prints `wDIR=ok` if a file can be created in DIR,
/// else `wDIR=` and touch's error.
pub const WRITE_PROBE: &str =
    "w() { if e=$(touch \"$1/.probe\" 2>&1); then echo \"w$1=ok\"; else echo \"w$1=$e\"; fi; }; ";

/// Creates `path` and its parents.
pub fn mkdir(path: &Path) -> Result<(), String> {
    std::fs::create_dir_all(path).map_err(|e| format!("mkdir {}: {e}", path.display()))
}

/// Writes `content` to `path`, creating its parents.
pub fn write(path: &Path, content: &str) -> Result<(), String> {
    mkdir(path.parent().unwrap_or(Path::new("/")))?;
    std::fs::write(path, content).map_err(|e| format!("write {}: {e}", path.display()))
}

pub fn symlink(target: &str, link: &Path) -> Result<(), String> {
    std::os::unix::fs::symlink(target, link)
        .map_err(|e| format!("symlink {} -> {target}: {e}", link.display()))
}

pub fn chown(path: &Path, uid: u32, gid: u32) -> Result<(), String> {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))
        .map_err(|e| format!("chown {}: {e}", path.display()))
}

/// Chowns the tree at `root` (without following symlinks), except regular files with
/// more than one link: the bundle's busybox is a hard link to the host's.
pub fn chown_tree(root: &Path, uid: u32, gid: u32) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let md = std::fs::symlink_metadata(root).map_err(|e| format!("{}: {e}", root.display()))?;
    if md.is_file() && md.nlink() > 1 {
        return Ok(());
    }
    chown(root, uid, gid)?;
    if md.is_dir() {
        for e in std::fs::read_dir(root).map_err(|e| format!("{}: {e}", root.display()))? {
            let e = e.map_err(|e| e.to_string())?;
            chown_tree(&e.path(), uid, gid)?;
        }
    }
    Ok(())
}

/// Adds a new user namespace to `cfg`, mapping 0..65536 to `host`..`host`+65536.
pub fn with_userns(cfg: &mut Value, host: u32) {
    cfg["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "type": "user" }));
    let map = json!([{ "containerID": 0, "hostID": host, "size": 65536 }]);
    cfg["linux"]["uidMappings"] = map.clone();
    cfg["linux"]["gidMappings"] = map;
}

/// Appends `mount` to `cfg`'s mounts and returns its index.
pub fn push_mount(cfg: &mut Value, mount: Value) -> usize {
    let m = cfg["mounts"].as_array_mut().unwrap();
    m.push(mount);
    m.len() - 1
}

/// A bundle whose process runs `sh -c script` (the case may then edit its rootfs).
pub fn script_bundle(cx: &mut Ctx, mut cfg: Value, script: &str) -> Result<PathBuf, String> {
    cfg["process"]["args"] = json!(["sh", "-c", script]);
    cx.bundle(&cfg)
}

/// Runs the bundle `b` in the foreground as container `id` and returns its stdout.
pub fn run_bundle(cx: &mut Ctx, b: &Path, id: &str) -> Result<String, String> {
    let o = cx.rt(&["run", "--bundle", &b.to_string_lossy(), id]);
    o.ok(&format!("run {id}"))?;
    Ok(o.stdout)
}
