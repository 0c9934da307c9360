//! The init's part in hooks (see `crate::hooks`): before pivot_root it lets the parent
//! run `prestart` and `createRuntime`, then runs `createContainer` itself; after `start`
//! it runs `startContainer` and reports a failure back to `start` through exec.fifo.

use super::channel::{ChildEnd, ChildMsg, ParentMsg};
use super::InitConfig;
use crate::hooks::{self, Kind, State};
use crate::{Error, Result};
use std::os::fd::OwnedFd;

/// Called by `rootfs::setup` once the mounts are made, before pivot_root.
pub(super) fn before_pivot(cfg: &InitConfig, chan: &ChildEnd) -> Result<()> {
    if hooks::has_runtime_hooks(cfg.spec) {
        chan.send(&ChildMsg::Hooks)?;
        match chan.recv()? {
            ParentMsg::HooksDone => {}
            m => return Err(Error::Init(format!("expected HooksDone, got {m:?}"))),
        }
    }
    run_here(cfg, Kind::CreateContainer, "creating")
}

/// Runs `kind` in this process's namespaces; `createContainer` starts in the rootfs.
fn run_here(cfg: &InitConfig, kind: Kind, status: &str) -> Result<()> {
    let list = kind.of(cfg.spec.hooks().as_ref());
    if list.is_empty() {
        return Ok(());
    }
    // The pid as the container sees it (runtime.md: hooks in the container namespace).
    let pid = nix::unistd::getpid().as_raw();
    let state = State::of_spec(cfg.id, cfg.bundle, cfg.spec).json(status, pid);
    let cwd = (kind == Kind::CreateContainer).then_some(cfg.rootfs);
    hooks::run(kind, list, &state, cwd)
}

/// After `start` released the init: `startContainer`. On failure the error goes into
/// exec.fifo (opened read-write by `create`), where `start` reads it once this process
/// is gone; returns false then.
pub(super) fn start_container(cfg: &InitConfig, fifo: &OwnedFd) -> bool {
    let Err(e) = run_here(cfg, Kind::StartContainer, "created") else {
        return true;
    };
    let mut msg = format!("E{e}");
    // One write of at most PIPE_BUF bytes is atomic and fits the empty pipe.
    if msg.len() > 4000 {
        let mut end = 4000;
        while !msg.is_char_boundary(end) {
            end -= 1;
        }
        msg.truncate(end);
    }
    let _ = nix::unistd::write(fifo, msg.as_bytes());
    false
}
