//! The cases, by theme.

mod activation;
mod cgroup_fields;
mod cgroup_lifecycle;
mod cgroup_ops;
mod cgroup_parents;
mod cgroup_place;
mod cgroup_rootless;
mod cgroup_systemd;
mod cgroup_systemd_user;
mod cgroup_update;
mod cgroups;
mod criu;
mod debug_trace;
mod errors;
mod escape_interp;
mod escapes;
mod escapes_rootfs;
mod exec;
mod exec_io;
mod exec_status;
mod flags;
mod fsutil;
mod harden;
mod hooks;
mod ids;
mod inside;
mod lifecycle;
mod lifecycle_rules;
mod misc;
mod mount_errors;
mod mount_features;
mod mounts;
mod paths;
mod process;
mod realworld;
mod seccomp;
mod seccomp_engines;
mod spec13_fields;
mod state_dir;
mod stress;
mod terminal;
mod userns;

use crate::ctx::Ctx;
use crate::Case;
use serde_json::{json, Value};

/// Fails the case with a message unless `cond` holds.
macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}
pub(crate) use ensure;

pub fn all() -> Vec<Case> {
    let mut v = vec![];
    v.extend(lifecycle::cases());
    v.extend(lifecycle_rules::cases());
    v.extend(inside::cases());
    v.extend(errors::cases());
    v.extend(ids::cases());
    v.extend(escapes::cases());
    v.extend(escape_interp::cases());
    v.extend(escapes_rootfs::cases());
    v.extend(misc::cases());
    v.extend(mounts::cases());
    v.extend(mount_features::cases());
    v.extend(paths::cases());
    v.extend(mount_errors::cases());
    v.extend(process::cases());
    v.extend(userns::cases());
    v.extend(seccomp::cases());
    v.extend(seccomp_engines::cases());
    v.extend(realworld::cases());
    v.extend(terminal::cases());
    v.extend(cgroups::cases());
    v.extend(cgroup_ops::cases());
    v.extend(cgroup_update::cases());
    v.extend(exec::cases());
    v.extend(cgroup_fields::cases());
    v.extend(cgroup_lifecycle::cases());
    v.extend(cgroup_systemd::cases());
    v.extend(cgroup_systemd_user::cases());
    v.extend(cgroup_parents::cases());
    v.extend(cgroup_place::cases());
    v.extend(cgroup_rootless::cases());
    v.extend(hooks::cases());
    v.extend(stress::cases());
    v.extend(activation::cases());
    v.extend(flags::cases());
    v.extend(debug_trace::cases());
    v.extend(state_dir::cases());
    v.extend(spec13_fields::cases());
    v.extend(harden::cases());
    v.extend(criu::cases());
    v
}

/// The value of `key=value` on a line of `out`.
pub fn field<'a>(out: &'a str, key: &str) -> Option<&'a str> {
    out.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
}

/// Runs `script` under `sh -c` in a container made from `cfg` and returns stdout.
pub fn run_script(cx: &mut Ctx, mut cfg: Value, script: &str) -> Result<String, String> {
    cfg["process"]["args"] = json!(["sh", "-c", script]);
    let b = cx.bundle(&cfg)?;
    let o = cx.rt(&["run", "--bundle", &b.to_string_lossy(), "c1"]);
    o.ok("run")?;
    Ok(o.stdout)
}
