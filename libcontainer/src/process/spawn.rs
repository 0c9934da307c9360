//! The parent side of process creation.

use super::channel::{self, ChildMsg, ParentEnd, ParentMsg};
use super::namespaces;
use super::{init, InitConfig};
use crate::sys::{self, Forked};
use crate::{Error, Result};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxIdMapping, Spec};
use std::os::fd::OwnedFd;

pub struct Spawned {
    pub pid: Pid,
    /// The init is pid 1 of a new pid namespace.
    pub own_pid_ns: bool,
}

/// Kills and reaps the child if setup does not finish.
struct KillOnDrop(Option<Pid>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            let _ = kill(pid, Signal::SIGKILL);
            let _ = waitpid(pid, None);
        }
    }
}

/// Clones the init and runs it up to Ready: it then waits on `fifo` for `start`.
/// `on_cloned` runs in the parent while the child sets itself up (the two overlap).
pub fn spawn(
    cfg: &InitConfig,
    fifo: OwnedFd,
    on_cloned: impl FnOnce(&Spawned) -> Result<()>,
) -> Result<Spawned> {
    let plan = namespaces::plan(cfg.spec)?;
    let (parent, child) = channel::pair()?;
    for (t, fd) in &plan.parent_joins {
        namespaces::join(*t, fd)?;
    }
    let pid = match sys::clone3_fork(plan.clone_flags) {
        Err(e) => {
            return Err(Error::sys(
                format!("clone3 with flags {:#x}", plan.clone_flags),
                e,
            ))
        }
        Ok(Forked::Child) => {
            drop(parent);
            init::run(cfg, &plan, child, fifo)
        }
        Ok(Forked::Parent(pid)) => pid,
    };
    drop(child);
    drop(fifo);
    let mut guard = KillOnDrop(Some(pid));
    let spawned = Spawned {
        pid,
        own_pid_ns: plan.new_pidns,
    };
    on_cloned(&spawned)?;
    handshake(&parent, pid, cfg.spec)?;
    guard.0 = None;
    Ok(spawned)
}

fn handshake(chan: &ParentEnd, pid: Pid, spec: &Spec) -> Result<()> {
    loop {
        match chan.recv()? {
            Some(ChildMsg::MapRequest) => {
                write_maps(pid, spec)?;
                chan.send(ParentMsg::MapsWritten)?;
            }
            Some(ChildMsg::Ready) => return Ok(()),
            Some(ChildMsg::Error(msg)) => return Err(Error::Init(msg)),
            None => {
                return Err(Error::Init(
                    "the container init exited before it was ready".into(),
                ))
            }
        }
    }
}

fn map_text(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

fn write_maps(pid: Pid, spec: &Spec) -> Result<()> {
    let linux = spec
        .linux()
        .as_ref()
        .expect("validated: user namespace needs linux");
    for (file, maps, field) in [
        ("uid_map", linux.uid_mappings(), "linux.uidMappings"),
        ("gid_map", linux.gid_mappings(), "linux.gidMappings"),
    ] {
        let path = format!("/proc/{pid}/{file}");
        // The kernel takes a map in one write only.
        std::fs::write(&path, map_text(maps.as_deref().unwrap_or_default()))
            .map_err(|e| Error::Other(format!("{field}: write {path}: {e}")))?;
    }
    Ok(())
}
