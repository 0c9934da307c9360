//! The parent side of process creation.

use super::channel::{self, ChildMsg, ParentEnd, ParentMsg};
use super::{init, seccomp_listener, InitConfig};
use super::{maps, namespaces};
use crate::sys::{self, Forked};
use crate::{Error, Result};
use corral_cgroups::{Cgroup, Version};
use nix::sys::signal::Signal;
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use std::os::fd::{AsRawFd, OwnedFd};

pub struct Spawned {
    pub pid: Pid,
    /// The init is pid 1 of a new pid namespace.
    pub own_pid_ns: bool,
}

/// Kills and reaps the children if setup does not finish.
pub(super) struct KillOnDrop(pub(super) Vec<Pid>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        for pid in &self.0 {
            crate::signal::kill_child(pid.as_raw());
            let _ = waitpid(*pid, None);
        }
    }
}

/// v2: the cgroup directory clone3 puts the child in (CLONE_INTO_CGROUP). v1 has no
/// such flag: the parent writes the child's pid into every hierarchy right after the
/// clone (see [`placed`]), and the child waits for that.
pub(super) fn clone_into(cgroup: Option<&Cgroup>) -> Result<Option<std::fs::File>> {
    match cgroup {
        Some(cg) if cg.version == Version::V2 => {
            let p = &cg.dirs[0].path;
            let dir = std::fs::File::open(p).map_err(|e| Error::io("cannot open cgroup", p, e))?;
            Ok(Some(dir))
        }
        _ => Ok(None),
    }
}

/// After the clone: the child, in its cgroup on every hierarchy, is told so.
pub(super) fn placed(cgroup: Option<&Cgroup>, child: Pid, parent: &ParentEnd) -> Result<()> {
    if let Some(cg) = cgroup {
        if cg.version == Version::V1 {
            cg.add_pid(child.as_raw())?;
        }
        parent.send(ParentMsg::CgroupJoined)?;
    }
    Ok(())
}

/// How the init (a child of ours) ended without a message: a seccomp profile that
/// kills a call the init makes after loading it leaves only SIGSYS to go by.
fn ended_before_ready(pid: Pid) -> String {
    use nix::sys::wait::WaitStatus;
    match waitpid(pid, None) {
        Ok(WaitStatus::Signaled(_, Signal::SIGSYS, _)) => "the container init was killed by \
            SIGSYS: linux.seccomp stops a system call the init makes after loading the \
            filter (setresuid, prctl, capget, capset without noNewPrivileges; sendmsg with \
            a listener; sendto, write, fcntl, close, read, execve)"
            .into(),
        Ok(WaitStatus::Signaled(_, sig, _)) => {
            format!("the container init was killed by {sig} before it was ready")
        }
        Ok(WaitStatus::Exited(_, code)) => {
            format!("the container init exited with status {code} before it was ready")
        }
        _ => "the container init exited before it was ready".into(),
    }
}

/// Clones the init and runs it up to Ready: it then waits on `fifo` for `start`.
/// `on_cloned` runs in the parent while the init sets itself up (the two overlap).
pub fn spawn(
    cfg: &InitConfig,
    fifo: OwnedFd,
    on_cloned: impl FnOnce(&Spawned) -> Result<()>,
) -> Result<Spawned> {
    let mut plan = namespaces::plan(cfg.spec)?;
    const NEWCGROUP: u64 = libc::CLONE_NEWCGROUP as u64;
    if cfg.cgroup.is_some() && plan.clone_flags & NEWCGROUP != 0 {
        plan.clone_flags &= !NEWCGROUP;
        plan.cgroupns_late = true;
    }
    let cgroup_dir = clone_into(cfg.cgroup)?;
    let (parent, child) = channel::pair()?;
    for (t, fd) in &plan.parent_joins {
        namespaces::join(*t, fd)?;
    }
    let pid = match sys::clone3_fork(plan.clone_flags, cgroup_dir.as_ref().map(|f| f.as_raw_fd())) {
        Err(e) => {
            return Err(Error::sys(
                format!("clone3 with flags {:#x}", plan.clone_flags),
                e,
            ))
        }
        Ok(Forked::Child) => {
            drop(parent);
            let report = child.try_clone().ok();
            super::boundary::child("the container init", report, || {
                init::run(cfg, &plan, child, fifo)
            })
        }
        Ok(Forked::Parent(pid)) => pid,
    };
    drop(child);
    drop(fifo);
    drop(cgroup_dir);
    let mut guard = KillOnDrop(vec![pid]);
    placed(cfg.cgroup, pid, &parent)?;
    let mut on_cloned = Some(on_cloned);
    let mut spawned = Spawned {
        pid,
        own_pid_ns: plan.new_pidns,
    };
    if !plan.fork_init {
        (on_cloned.take().expect("called once"))(&spawned)?;
    }
    loop {
        match parent.recv()? {
            Some((ChildMsg::MapRequest, sender)) => {
                // The sender is the process that made the user namespace.
                let target = if sender > 0 {
                    Pid::from_raw(sender)
                } else {
                    pid
                };
                maps::write(target, cfg.spec)?;
                parent.send(ParentMsg::MapsWritten)?;
            }
            Some((ChildMsg::Forked, sender)) if plan.fork_init && sender > 0 => {
                // The first child has forked the real init and exits: reap it.
                spawned.pid = Pid::from_raw(sender);
                guard.0 = vec![spawned.pid];
                let _ = waitpid(pid, None);
                (on_cloned
                    .take()
                    .ok_or_else(|| Error::Init("init forked twice".into()))?)(
                    &spawned
                )?;
            }
            Some((ChildMsg::Hooks, _)) if on_cloned.is_none() => {
                // The init has made its mounts and waits before pivot_root.
                let pid = spawned.pid.as_raw();
                crate::hooks::create_runtime(cfg.spec, cfg.id, cfg.bundle, pid)?;
                parent.send(ParentMsg::HooksDone)?;
            }
            Some((ChildMsg::SeccompFd(fd), _)) => {
                let c = seccomp_listener::Container {
                    id: cfg.id,
                    bundle: cfg.bundle,
                    pid: spawned.pid.as_raw(),
                    process_pid: spawned.pid.as_raw(),
                    status: oci_spec::runtime::ContainerState::Creating,
                };
                // The init goes on meanwhile; a notified syscall it makes waits for the agent.
                seccomp_listener::hand_over(cfg.spec, &c, fd)?;
            }
            Some((ChildMsg::Ready, _)) if on_cloned.is_none() => break,
            Some((ChildMsg::Error(msg), _)) => return Err(Error::Init(msg)),
            Some((msg, _)) => {
                return Err(Error::Init(format!(
                    "unexpected message {msg:?} from the init"
                )))
            }
            None => {
                // Reaped here, so the guard must not signal the pid again.
                let who = guard.0.pop().unwrap_or(pid);
                return Err(Error::Init(ended_before_ready(who)));
            }
        }
    }
    guard.0.clear();
    Ok(spawned)
}
