//! runtime-spec hooks (config.md "POSIX-platform Hooks"): programs run at set points of
//! the lifecycle, each given the container's state as JSON on stdin.
//!
//! Where each kind runs (runtime.md; runc 1.1.5 where the spec leaves room):
//! - `prestart` (deprecated) then `createRuntime`: by `create`, in the runtime's
//!   namespaces, while the init waits between its mounts and pivot_root
//!   (`process::channel`: Hooks → HooksDone). Status `creating`, the init's host pid.
//! - `createContainer`: by the init itself, in the container's namespaces, right after
//!   that and still before pivot_root, so the path resolves in the file tree the runtime
//!   sees; its working directory is the rootfs. Status `creating`, the pid the container sees.
//! - `startContainer`: by the init once `start` has released it, just before it execs
//!   the user's program, with that program's user, capabilities and seccomp filter; the
//!   path resolves in the container. Status `created`, the pid the container sees.
//! - `poststart`: by `start` (or `run`) once the program is exec'd, before it returns.
//!   Status `running`.
//! - `poststop`: by `delete` once the container is gone, and by a `create` or `start`
//!   that fails after the container existed (runtime.md: "continue the lifecycle at
//!   step 12"). Status `stopped`, no pid.
//!
//! Up to `startContainer`, a hook that fails (cannot be run, exits non-zero, is killed,
//! outlives its `timeout`) fails the operation and the rest of its list is not run; a
//! failing `poststart` or `poststop` hook is a warning and the others still run.

mod child;

use crate::state::Saved;
use crate::{Error, Result};
use oci_spec::runtime::{Hook, Hooks, Spec};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Prestart,
    CreateRuntime,
    CreateContainer,
    StartContainer,
    Poststart,
    Poststop,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Prestart,
        Kind::CreateRuntime,
        Kind::CreateContainer,
        Kind::StartContainer,
        Kind::Poststart,
        Kind::Poststop,
    ];

    /// The name of the field in `hooks`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Prestart => "prestart",
            Kind::CreateRuntime => "createRuntime",
            Kind::CreateContainer => "createContainer",
            Kind::StartContainer => "startContainer",
            Kind::Poststart => "poststart",
            Kind::Poststop => "poststop",
        }
    }

    /// The hooks of this kind, in the order given.
    // prestart is deprecated by the spec, and still run.
    #[allow(deprecated)]
    pub fn of(self, hooks: Option<&Hooks>) -> &[Hook] {
        let Some(h) = hooks else { return &[] };
        let list = match self {
            Kind::Prestart => h.prestart(),
            Kind::CreateRuntime => h.create_runtime(),
            Kind::CreateContainer => h.create_container(),
            Kind::StartContainer => h.start_container(),
            Kind::Poststart => h.poststart(),
            Kind::Poststop => h.poststop(),
        };
        list.as_deref().unwrap_or_default()
    }
}

/// What the state given to hooks says besides status and pid (runtime.md "State").
pub struct State {
    id: String,
    bundle: PathBuf,
    annotations: BTreeMap<String, String>,
}

impl State {
    pub fn of_spec(id: &str, bundle: &Path, spec: &Spec) -> Self {
        let annotations = spec.annotations().clone().unwrap_or_default();
        State {
            id: id.to_string(),
            bundle: bundle.to_path_buf(),
            annotations: annotations.into_iter().collect(),
        }
    }

    pub fn of_saved(saved: &Saved) -> Self {
        State {
            id: saved.id.clone(),
            bundle: saved.bundle.clone(),
            annotations: saved.annotations.clone(),
        }
    }

    /// The JSON for stdin; `pid` 0 (a stopped container) is left out, as runc does.
    pub fn json(&self, status: &str, pid: i32) -> Vec<u8> {
        let mut v = serde_json::json!({
            "ociVersion": crate::OCI_VERSION,
            "id": self.id,
            "status": status,
            "bundle": self.bundle,
        });
        if pid > 0 {
            v["pid"] = pid.into();
        }
        if !self.annotations.is_empty() {
            v["annotations"] = serde_json::json!(self.annotations);
        }
        serde_json::to_vec(&v).expect("JSON values serialise")
    }
}

fn error(kind: Kind, i: usize, hook: &Hook, msg: String) -> Error {
    Error::Hook {
        field: format!("hooks.{}[{i}]", kind.name()),
        path: hook.path().clone(),
        msg,
    }
}

/// Runs hook `i` of `kind`; with `--debug`, a step says which, its timeout and how it ended.
fn run_one(
    kind: Kind,
    i: usize,
    hook: &Hook,
    state: &[u8],
    cwd: Option<&Path>,
) -> std::result::Result<(), String> {
    let started = crate::trace::on().then(std::time::Instant::now);
    let r = child::run(hook, state, cwd);
    crate::trace::step(|| {
        let timeout = hook.timeout().map_or("none".into(), |t| format!("{t} s"));
        let end = match &r {
            Ok(()) => "exit 0".to_string(),
            Err(m) => format!("failed: {m}"),
        };
        let took = started.map_or(0.0, |s| s.elapsed().as_secs_f64() * 1e3);
        format!(
            "hook {}[{i}] {} (timeout {timeout}): {end} after {took:.3} ms",
            kind.name(),
            hook.path().display()
        )
    });
    r
}

/// Runs the hooks of `kind` in order, in directory `cwd` (default: ours); the first
/// that fails ends the list with its error.
pub fn run(kind: Kind, hooks: &[Hook], state: &[u8], cwd: Option<&Path>) -> Result<()> {
    for (i, hook) in hooks.iter().enumerate() {
        run_one(kind, i, hook, state, cwd).map_err(|msg| error(kind, i, hook, msg))?;
    }
    Ok(())
}

/// Runs every hook of `kind` (poststart, poststop): a failure is logged with `warn`,
/// and the others still run.
pub fn run_warn(kind: Kind, hooks: &[Hook], state: &[u8], warn: &dyn Fn(&str)) {
    for (i, hook) in hooks.iter().enumerate() {
        if let Err(msg) = run_one(kind, i, hook, state, None) {
            warn(&error(kind, i, hook, msg).to_string());
        }
    }
}

/// `prestart` then `createRuntime`, for the init `pid` that waits before pivot_root.
pub fn create_runtime(spec: &Spec, id: &str, bundle: &Path, pid: i32) -> Result<()> {
    let state = State::of_spec(id, bundle, spec).json("creating", pid);
    for kind in [Kind::Prestart, Kind::CreateRuntime] {
        run(kind, kind.of(spec.hooks().as_ref()), &state, None)?;
    }
    Ok(())
}

/// Whether the parent has hooks to run while the init waits before pivot_root.
pub fn has_runtime_hooks(spec: &Spec) -> bool {
    let h = spec.hooks().as_ref();
    !Kind::Prestart.of(h).is_empty() || !Kind::CreateRuntime.of(h).is_empty()
}

/// `poststop`, once the container is gone.
pub fn poststop(hooks: Option<&Hooks>, state: &State, warn: &dyn Fn(&str)) {
    let list = Kind::Poststop.of(hooks);
    if !list.is_empty() {
        run_warn(Kind::Poststop, list, &state.json("stopped", 0), warn);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_json_leaves_out_pid_zero_and_empty_annotations() {
        let mut s = State {
            id: "c1".into(),
            bundle: "/b".into(),
            annotations: BTreeMap::new(),
        };
        let v: serde_json::Value = serde_json::from_slice(&s.json("stopped", 0)).unwrap();
        assert_eq!(v["status"], "stopped");
        assert!(
            v.get("pid").is_none() && v.get("annotations").is_none(),
            "{v}"
        );
        s.annotations.insert("k".into(), "v".into());
        let v: serde_json::Value = serde_json::from_slice(&s.json("creating", 42)).unwrap();
        assert_eq!(v["pid"], 42);
        assert_eq!(v["annotations"]["k"], "v");
        assert_eq!(v["bundle"], "/b");
    }
}
