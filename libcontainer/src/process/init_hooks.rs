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
/// is gone; returns false then. `traced` (`start --debug`): the hooks' steps go there
/// too, before the error (see `container::start` for the format).
pub(super) fn start_container(cfg: &InitConfig, fifo: &OwnedFd, traced: bool) -> bool {
    let traced = traced
        && !Kind::StartContainer
            .of(cfg.spec.hooks().as_ref())
            .is_empty();
    if traced {
        crate::trace::restart_for_start();
    }
    let result = run_here(cfg, Kind::StartContainer, "created");
    // One write of at most PIPE_BUF bytes is atomic and fits the empty pipe, even one
    // of a single page (a user over pipe-user-pages-soft gets those): the error first
    // has room, the steps get what is left.
    const ROOM: usize = 4000;
    let error = match result {
        Ok(()) => String::new(),
        Err(e) => {
            let mut msg = format!("E{e}");
            msg.truncate(crate::trace::char_floor(&msg, ROOM));
            msg
        }
    };
    let mut out = String::new();
    if traced && error.len() + 3 < ROOM {
        let steps = crate::trace::encode_timed(ROOM - error.len() - 2).replace('\0', " ");
        out.push('T');
        out.push_str(&steps);
        out.push('\0');
    }
    out.push_str(&error);
    if !out.is_empty() {
        let _ = nix::unistd::write(fifo, out.as_bytes());
    }
    error.is_empty()
}
