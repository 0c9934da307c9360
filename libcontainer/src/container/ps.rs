//! `ps`: the processes of a container (host pids), init first.

use crate::state::{StateDir, Status};
use crate::Result;
use std::path::Path;

/// The container's pids: those in its cgroup (without one, the init and its
/// descendants); none once it has stopped, as with runc.
pub fn pids(root: &Path, id: &str) -> Result<Vec<i32>> {
    let dir = StateDir::peek(root, id)?;
    let saved = dir.load()?;
    Ok(match (dir.status(saved.as_ref()), saved) {
        (Status::Stopped | Status::Creating, _) | (_, None) => vec![],
        (_, Some(s)) => super::kill::container_pids(&s),
    })
}
