//! The parent side of process creation.

use super::channel::{self, ChildMsg, ParentEnd, ParentMsg};
use super::{init, seccomp_listener, InitConfig};
use super::{maps, namespaces};
use crate::sys::{self, Forked};
use crate::{Error, Result};
use corral_cgroups::{Cgroup, Entry, Version};
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

/// How the child enters the container's cgroup, opened before the clone: by itself
/// (`corral_cgroups::Entry`: clone3 puts it in the cgroup2 directory, and it writes
/// itself into every v1 hierarchy first thing), or, when this is `None`, placed by the
/// parent ([`placed`]): a systemd scope takes it, or a v1 `tasks` file could not be
/// opened.
pub(super) fn entry(cgroup: Option<&Cgroup>, scope: bool) -> Result<Option<Entry>> {
    match cgroup {
        Some(cg) if !scope => Ok(cg.entry()?),
        _ => Ok(None),
    }
}

/// After the clone: unless the child enters the cgroup by itself (`entry`), the parent
/// puts it there in every hierarchy (v1; a systemd scope has it already) and says so.
pub(super) fn placed(
    cgroup: Option<&Cgroup>,
    entry: Option<&Entry>,
    child: Pid,
    parent: &ParentEnd,
) -> Result<()> {
    if let (Some(cg), None) = (cgroup, entry) {
        if cg.version == Version::V1 {
            cg.add_pid(child.as_raw())?;
        }
        parent.send(ParentMsg::CgroupJoined)?;
    }
    Ok(())
}

/// The child's side of [`placed`], before it does anything else: it enters the cgroup
/// by itself, or waits until the parent has put it there.
pub(super) fn enter(
    cgroup: Option<&Cgroup>,
    entry: Option<&Entry>,
    chan: &super::channel::ChildEnd,
) -> Result<()> {
    match (cgroup, entry) {
        (_, Some(e)) => e.enter().map_err(Error::Cgroup),
        (Some(_), None) => match chan.recv()? {
            ParentMsg::CgroupJoined => Ok(()),
            m => Err(Error::Init(format!("expected CgroupJoined, got {m:?}"))),
        },
        (None, None) => Ok(()),
    }
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
    if plan.net_by_parent && init::runtime_in_userns() {
        // Back to its own network namespace, which an ancestor user namespace may own
        // (rootless podman's), the runtime would need CAP_SYS_ADMIN there: setns EPERM.
        plan.net_by_parent = false;
        plan.clone_flags |= libc::CLONE_NEWNET as u64;
    }
    const NEWCGROUP: u64 = libc::CLONE_NEWCGROUP as u64;
    if cfg.cgroup.is_some() && plan.clone_flags & NEWCGROUP != 0 {
        plan.clone_flags &= !NEWCGROUP;
        plan.cgroupns_late = true;
    }
    crate::trace::step(|| namespaces::describe(cfg.spec, &plan));
    let entry = entry(cfg.cgroup, cfg.start_scope.is_some())?;
    let (parent, child) = channel::pair()?;
    for (t, fd) in &plan.parent_joins {
        namespaces::join(*t, fd)?;
    }
    crate::trace::step(|| {
        let into = match (cfg.cgroup, &entry) {
            (Some(c), Some(e)) => {
                let into = c.dirs.iter().filter(|d| d.controllers.is_empty());
                let into = into.map(|d| format!(" into cgroup {}", d.path.display()));
                let v1 = e.tasks.iter().map(|(p, _)| p.display().to_string());
                let v1: Vec<String> = v1.collect();
                let v1 = match v1.is_empty() {
                    true => String::new(),
                    false => format!("; it writes itself into {}", v1.join(", ")),
                };
                into.collect::<String>() + &v1
            }
            _ => String::new(),
        };
        format!("clone3 the init, flags {:#x}{into}", plan.clone_flags)
    });
    let cgroup_fd = entry
        .as_ref()
        .and_then(|e| e.into.as_ref().map(|f| f.as_raw_fd()));
    // SAFETY: corral is single-threaded (no runtime, logger or executor thread).
    let pid = match unsafe { sys::clone3_fork(plan.clone_flags, cgroup_fd) } {
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
                init::run(cfg, &plan, entry.as_ref(), child, fifo)
            })
        }
        Ok(Forked::Parent(pid)) => pid,
    };
    crate::trace::step(|| format!("the init is pid {pid}"));
    drop(child);
    drop(fifo);
    crate::trace::mark("clone");
    let mut guard = KillOnDrop(vec![pid]);
    if let Some(start) = cfg.start_scope {
        start(pid.as_raw())?;
        crate::trace::mark("scope");
    }
    placed(cfg.cgroup, entry.as_ref(), pid, &parent)?;
    drop(entry);
    crate::trace::mark("join");
    if plan.net_by_parent {
        parent.send(ParentMsg::NetNs(namespaces::make_net()?))?;
        crate::trace::mark("network");
    }
    let mut spawned = Spawned {
        pid,
        own_pid_ns: plan.new_pidns,
    };
    let mut phase = if plan.fork_init {
        Phase::AwaitingFork(on_cloned)
    } else {
        on_cloned(&spawned)?;
        crate::trace::mark("state");
        Phase::SettingUp { forked: false }
    };
    loop {
        let Some((msg, sender)) = parent.recv()? else {
            // Reaped here, so the guard must not signal the pid again.
            let who = guard.0.pop().unwrap_or(pid);
            return Err(Error::Init(ended_before_ready(who)));
        };
        let (action, next) = phase.accept(msg, sender)?;
        phase = next;
        match action {
            Action::WriteMaps => {
                // The sender is the process that made the user namespace.
                let target = if sender > 0 {
                    Pid::from_raw(sender)
                } else {
                    pid
                };
                crate::trace::step(|| format!("write the uid and gid maps of pid {target}"));
                maps::write(target, cfg.spec)?;
                parent.send(ParentMsg::MapsWritten)?;
            }
            Action::Forked(on_cloned) => {
                // The first child has forked the real init and exits: reap it.
                spawned.pid = Pid::from_raw(sender);
                guard.0 = vec![spawned.pid];
                let _ = waitpid(pid, None);
                on_cloned(&spawned)?;
            }
            Action::RunHooks => {
                // The init has made its mounts and waits before pivot_root.
                let pid = spawned.pid.as_raw();
                crate::trace::step(|| "the init waits before pivot_root: runtime hooks".into());
                crate::hooks::create_runtime(cfg.spec, cfg.id, cfg.bundle, pid)?;
                parent.send(ParentMsg::HooksDone)?;
            }
            Action::HandOver(fd) => {
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
            Action::Trace(t) => crate::trace::received(&t),
            Action::Ready => {
                crate::trace::mark("init");
                break;
            }
        }
    }
    guard.0.clear();
    Ok(spawned)
}

/// Where the parent is in the protocol (see `channel`). Each phase accepts only the
/// messages that may come in it, so an out-of-order message is an error by construction.
enum Phase<F> {
    /// The first child must fork the real init (a pid namespace to join, or a user
    /// namespace to make first): it says `Forked`, once, and `F` then runs with the real
    /// init's pid.
    AwaitingFork(F),
    /// The init (`forked`: the one the first child forked) sets itself up: it may ask
    /// for the runtime's hooks, then says `Ready`.
    SettingUp { forked: bool },
}

/// What the parent does for one message.
#[derive(Debug)]
enum Action<F> {
    WriteMaps,
    /// The real init was forked: run `F` with its pid.
    Forked(F),
    RunHooks,
    HandOver(OwnedFd),
    /// The init's phase timings (`--debug`).
    Trace(String),
    Ready,
}

impl<F> std::fmt::Debug for Phase<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Phase::AwaitingFork(_) => f.write_str("AwaitingFork"),
            Phase::SettingUp { forked } => write!(f, "SettingUp {{ forked: {forked} }}"),
        }
    }
}

impl<F> Phase<F> {
    /// The action for `msg` (stamped with its `sender`'s pid, 0 if unknown) and the
    /// phase after it.
    fn accept(self, msg: ChildMsg, sender: i32) -> Result<(Action<F>, Phase<F>)> {
        Ok(match (self, msg) {
            (_, ChildMsg::Error(msg)) => return Err(Error::Init(msg)),
            (p, ChildMsg::MapRequest) => (Action::WriteMaps, p),
            (p, ChildMsg::SeccompFd(fd)) => (Action::HandOver(fd), p),
            (p, ChildMsg::Trace(t)) => (Action::Trace(t), p),
            (Phase::AwaitingFork(f), ChildMsg::Forked) if sender > 0 => {
                (Action::Forked(f), Phase::SettingUp { forked: true })
            }
            (Phase::SettingUp { forked: true }, ChildMsg::Forked) if sender > 0 => {
                return Err(Error::Init("init forked twice".into()))
            }
            (p @ Phase::SettingUp { .. }, ChildMsg::Hooks) => (Action::RunHooks, p),
            (p @ Phase::SettingUp { .. }, ChildMsg::Ready) => (Action::Ready, p),
            (_, msg) => {
                return Err(Error::Init(format!(
                    "unexpected message {msg:?} from the init"
                )))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(p: Phase<()>, msg: ChildMsg, sender: i32) -> std::result::Result<String, String> {
        p.accept(msg, sender)
            .map(|(a, next)| format!("{a:?} -> {next:?}"))
            .map_err(|e| e.to_string())
    }

    const FORKING: fn() -> Phase<()> = || Phase::AwaitingFork(());
    const DIRECT: Phase<()> = Phase::SettingUp { forked: false };
    const FORKED: Phase<()> = Phase::SettingUp { forked: true };

    #[test]
    fn in_order() {
        let ok = |p, m, s| accept(p, m, s).unwrap();
        assert_eq!(
            ok(FORKING(), ChildMsg::MapRequest, 9),
            "WriteMaps -> AwaitingFork"
        );
        assert_eq!(
            ok(FORKING(), ChildMsg::Forked, 9),
            "Forked(()) -> SettingUp { forked: true }"
        );
        assert_eq!(
            ok(FORKED, ChildMsg::Hooks, 9),
            "RunHooks -> SettingUp { forked: true }"
        );
        assert_eq!(
            ok(DIRECT, ChildMsg::Ready, 9),
            "Ready -> SettingUp { forked: false }"
        );
    }

    #[test]
    fn out_of_order_is_an_error() {
        let unexpected = |p, m| accept(p, m, 9).unwrap_err();
        // Before the real init exists, it cannot ask for hooks or be ready.
        assert!(unexpected(FORKING(), ChildMsg::Hooks).contains("unexpected message Hooks"));
        assert!(unexpected(FORKING(), ChildMsg::Ready).contains("unexpected message Ready"));
        // A fork from an init that was not to fork, a second fork, an unknown sender.
        assert!(unexpected(DIRECT, ChildMsg::Forked).contains("unexpected message Forked"));
        assert!(unexpected(FORKED, ChildMsg::Forked).contains("init forked twice"));
        let e = accept(FORKING(), ChildMsg::Forked, 0).unwrap_err();
        assert!(e.contains("unexpected message Forked"), "{e}");
        let e = accept(DIRECT, ChildMsg::Error("no such file".into()), 9).unwrap_err();
        assert_eq!(e, "container init failed: no such file");
    }
}
