//! `run`: create, start and, in the foreground, wait for the init and delete.

use super::{create_locked, delete, release, CreateOptions};
use crate::Result;

/// Returns the exit status `run` should have: the container's, or 128+signal.
pub fn run(opts: &CreateOptions, detach: bool, keep: bool) -> Result<i32> {
    // Started while still holding the lock create took: nothing to re-read or re-check.
    let (dir, pid) = create_locked(opts)?;
    let started = release(&dir);
    drop(dir);
    if let Err(e) = started {
        let _ = delete(opts.root, opts.id, true);
        return Err(e);
    }
    if detach {
        return Ok(0);
    }
    let code = super::wait::forward_and_wait(pid)?;
    if !keep {
        delete(opts.root, opts.id, true)?;
    }
    Ok(code)
}
