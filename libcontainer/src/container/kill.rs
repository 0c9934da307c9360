//! `kill`: signal a created or running container's init, or with `--all` every
//! process of the container.

use crate::state::{process_alive, Saved, StateDir, Status};
use crate::{Error, Result};
use corral_cgroups::pidfd::{self, Pinned};
use std::path::Path;

pub fn kill(root: &Path, id: &str, signal: i32, all: bool) -> Result<()> {
    let dir = StateDir::open(root, id)?;
    let saved = dir.load()?;
    let status = dir.status(saved.as_ref());
    let saved = match (status, saved) {
        // A paused container's processes get the signal when thawed; SIGKILL at once.
        (Status::Created | Status::Running | Status::Paused, Some(s)) => s,
        _ => {
            return Err(Error::BadStatus {
                id: id.to_string(),
                status: status.as_str(),
                msg: "cannot signal a container that is not running",
            })
        }
    };
    // The init, pinned by a pidfd and checked to be the process `create` recorded; with
    // --all every process of the container, each pinned and still listed after the pin.
    let procs = if all {
        pidfd::pin_listed(|| container_pids(&saved))
    } else {
        let init = Pinned::open(saved.pid, |pid| process_alive(pid, saved.pid_start));
        let init =
            init.map_err(|e| Error::Other(format!("pidfd_open of the init {}: {e}", saved.pid)))?;
        // The init exited between the status check and its pin: stopped, as if the
        // status had been read a moment later.
        let init = init.ok_or_else(|| Error::BadStatus {
            id: id.to_string(),
            status: Status::Stopped.as_str(),
            msg: "cannot signal a container that is not running",
        })?;
        vec![init]
    };
    for p in procs {
        p.signal(signal).map_err(|e| {
            Error::Other(format!(
                "cannot send signal {signal} to process {}: {e}",
                p.pid()
            ))
        })?;
    }
    // A frozen task does not die of SIGKILL until it is thawed (v1): thaw a paused
    // container after the signal, as runc does. Other signals wait for `resume`.
    if signal == libc::SIGKILL {
        if let Some(cg) = saved.cgroup.as_ref().filter(|c| c.frozen()) {
            cg.thaw()?;
        }
    }
    Ok(())
}

fn ns_of(pid: i32) -> Option<std::path::PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok()
}

/// The init and, when it has a pid namespace of its own, every process in it;
/// otherwise the init and its descendants.
pub(crate) fn container_pids(saved: &Saved) -> Vec<i32> {
    if !process_alive(saved.pid, saved.pid_start) {
        return vec![];
    }
    // The cgroup holds exactly the container's processes, including those that were
    // reparented out of the init's tree.
    if let Some(cg) = &saved.cgroup {
        let mut pids = cg.pids();
        if !pids.is_empty() {
            pids.retain(|p| *p != saved.pid);
            pids.insert(0, saved.pid);
            return pids;
        }
    }
    let procs: Vec<(i32, i32)> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| Some((pid, ppid(pid)?)))
        .collect();
    let mut out = vec![saved.pid];
    if saved.own_pid_ns {
        let ns = ns_of(saved.pid);
        out.extend(
            procs
                .iter()
                .filter(|(p, _)| *p != saved.pid && ns.is_some() && ns_of(*p) == ns)
                .map(|(p, _)| *p),
        );
        return out;
    }
    let mut i = 0;
    while i < out.len() {
        let parent = out[i];
        out.extend(
            procs
                .iter()
                .filter(|(_, pp)| *pp == parent)
                .map(|(p, _)| *p),
        );
        i += 1;
    }
    out
}

fn ppid(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 2..].split(' ').nth(1)?.parse().ok()
}
