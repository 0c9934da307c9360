//! `pause` and `resume`: freeze and thaw every process of a running container through
//! its cgroup. The status `paused` is read back from the kernel (see `state`).

use crate::state::{Saved, StateDir, Status};
use crate::{Error, Result};
use corral_cgroups::Cgroup;
use std::path::Path;

pub fn pause(root: &Path, id: &str) -> Result<()> {
    let msg = "cannot pause a container that is not running";
    change(root, id, Status::Running, msg, Cgroup::freeze)
}

pub fn resume(root: &Path, id: &str) -> Result<()> {
    let msg = "cannot resume a container that is not paused";
    change(root, id, Status::Paused, msg, Cgroup::thaw)
}

/// Runs `op` on the cgroup of container `id` if its status is `want`, holding the
/// container's lock until it is done.
fn change(
    root: &Path,
    id: &str,
    want: Status,
    msg: &'static str,
    op: fn(&Cgroup) -> corral_cgroups::Result<()>,
) -> Result<()> {
    let (_lock, saved, status) = load(root, id)?;
    match saved {
        Some(s) if status == want => Ok(op(cgroup(&s, "pause and resume")?)?),
        _ => Err(Error::BadStatus {
            id: id.to_string(),
            status: status.as_str(),
            msg,
        }),
    }
}

/// The locked state dir (held until the freeze or thaw is done), the saved state and
/// the status.
fn load(root: &Path, id: &str) -> Result<(StateDir, Option<Saved>, Status)> {
    let dir = StateDir::open(root, id)?;
    let saved = dir.load()?;
    let status = dir.status(saved.as_ref());
    Ok((dir, saved, status))
}

/// The container's cgroup; a rootless container has none.
pub(super) fn cgroup<'a>(saved: &'a Saved, what: &str) -> Result<&'a Cgroup> {
    saved.cgroup.as_ref().ok_or_else(|| {
        Error::Other(format!(
            "container {}: {what} needs the container's cgroup, and it has none (rootless mode)",
            saved.id
        ))
    })
}
