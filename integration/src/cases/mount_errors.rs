//! Bad mounts: create must fail and leave nothing behind; corral must name the entry.

use super::errors::refused;
use super::fsutil::{push_mount, write};
use crate::bundle::config;
use crate::ctx::Ctx;
use crate::{Case, CaseResult};
use serde_json::{json, Value};

pub fn cases() -> Vec<Case> {
    vec![
        Case::new("fs_bad_bind_source_missing", missing_source),
        Case::new("fs_bad_tmpfs_option_value", bad_tmpfs_option),
        Case::new("fs_bad_unknown_mount_option", unknown_option),
        // runc 1.1.5 takes a relative destination as relative to the rootfs.
        Case::new("fs_bad_tmpfs_over_proc", tmpfs_over_proc),
        Case::new("fs_bad_bind_into_proc", bind_into_proc),
        // runc 1.1.5 refuses too, by accident: it adds context= to the tmpfs mounts, EINVAL.
        Case::new("fs_bad_mount_label_without_selinux", mount_label),
    ]
}

/// The base config with `mount` added; the mount's index.
fn with_mount(mount: Value) -> (Value, usize) {
    let mut cfg = config(&["true"]);
    let i = push_mount(&mut cfg, mount);
    (cfg, i)
}

fn missing_source(cx: &mut Ctx) -> CaseResult {
    let src = cx.dir.join("no-such-dir");
    let (cfg, i) = with_mount(
        json!({ "destination": "/data", "type": "bind", "source": src, "options": ["rbind"] }),
    );
    refused(cx, &cfg, &format!("mounts[{i}]"))?;
    refused(cx, &cfg, &src.to_string_lossy())
}

fn bad_tmpfs_option(cx: &mut Ctx) -> CaseResult {
    let (cfg, i) = with_mount(
        json!({ "destination": "/t", "type": "tmpfs", "source": "tmpfs",
                                      "options": ["size=notanumber"] }),
    );
    refused(cx, &cfg, &format!("mounts[{i}]"))
}

/// An option that `features` does not list.
fn unknown_option(cx: &mut Ctx) -> CaseResult {
    let (cfg, _) = with_mount(
        json!({ "destination": "/t", "type": "tmpfs", "source": "tmpfs",
                                      "options": ["rnotanoption"] }),
    );
    refused(cx, &cfg, "rnotanoption")
}

fn tmpfs_over_proc(cx: &mut Ctx) -> CaseResult {
    let (cfg, _) =
        with_mount(json!({ "destination": "/proc", "type": "tmpfs", "source": "tmpfs" }));
    refused(cx, &cfg, "/proc")
}

fn bind_into_proc(cx: &mut Ctx) -> CaseResult {
    let file = cx.dir.join("hostfile");
    write(&file, "x")?;
    let (cfg, _) = with_mount(json!({ "destination": "/proc/sys/foo", "type": "bind",
                                      "source": file, "options": ["bind"] }));
    refused(cx, &cfg, "/proc")
}

fn mount_label(cx: &mut Ctx) -> CaseResult {
    if std::path::Path::new("/sys/fs/selinux/enforce").exists() {
        return Err("this host has SELinux: the case needs a host without it".into());
    }
    let mut cfg = config(&["true"]);
    cfg["linux"]["mountLabel"] = json!("system_u:object_r:container_file_t:s0");
    refused(cx, &cfg, "linux.mountLabel")
}
