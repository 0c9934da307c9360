//! `exec`: a new process in the namespaces and the cgroup of a running (or created)
//! container's init, set up as the init sets up its own process, then exec'd.
//!
//! ```text
//!   parent (corral exec, on the host)            child
//!   pidfd of the init, namespaces that differ
//!   setns(pidfd, CLONE_NEWPID)  (only children
//!     enter a pid namespace: the one clone
//!     below lands in it)
//!   not dumpable (the child inherits it)
//!   clone3 (cgroup2: CLONE_INTO_CGROUP) ------->  closes the parent's fds
//!                                                 v1: writes itself into every
//!                                                 hierarchy's tasks file
//!   (CgroupJoined --> only where the parent
//!    moves it: see `spawn::entry`)                (private procfs, for LSM labels)
//!                                                 setns(pidfd, every other namespace)
//!                                   <-- Forked    (only when the parent could not join
//!                                                  the pid namespace: rootless corral
//!                                                  lacks CAP_SYS_ADMIN where it runs;
//!                                                  the child joins it too and forks
//!                                                  once more with CLONE_PARENT)
//!                                                 keyring, terminal, then what the init
//!                                                 does last (`init::finish`)
//!                                <-- SeccompFd    (with SCMP_ACT_NOTIFY)
//!                         <-- Ready or Error      execve
//!   end-of-file: exec'd        <-- Error           (only if execve failed)
//! ```
//! Joining every namespace with one setns(2) on a pidfd (Linux 5.8) lets the kernel
//! order them (user first) and check each against the caller's credentials before any
//! changes, so namespaces of the host (a network namespace joined by path) and of the
//! container's user namespace are joined alike.

use super::channel::{self, ChildEnd, ChildMsg, ParentEnd};
use super::init::{self, Exec, LastSteps};
use super::procfs::Procfs;
use super::spawn::{self, KillOnDrop};
use super::{affinity, lsm, namespaces, seccomp_listener, tty};
use crate::sys::{self, Forked};
use crate::{Error, Result};
use corral_cgroups::Cgroup;
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use oci_spec::runtime::{ContainerState, Process, Spec};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::Path;

/// What the new process needs, prepared by `corral exec` before it clones.
pub struct ExecConfig<'a> {
    pub process: &'a Process,
    /// The values of `process` the validator checked: the process gets these.
    pub checked: &'a crate::checked::CheckedProcess,
    /// The container's config: seccomp listener, personality.
    pub spec: &'a Spec,
    /// The container's seccomp filter, compiled before clone.
    pub seccomp: Option<&'a corral_seccomp::Compiled>,
    /// A pidfd of the container's init, checked to be the container's.
    pub init: &'a OwnedFd,
    pub init_pid: i32,
    pub preserve_fds: u32,
    /// Fds of the parent the child closes first thing (the state dir's lock).
    pub parent_fds: Vec<RawFd>,
    /// The connected `--console-socket`, for the pty master.
    pub console_socket: Option<RawFd>,
    /// Where the process goes: the container's cgroup, or sub-cgroups of it.
    pub cgroup: Option<&'a Cgroup>,
    pub id: &'a str,
    pub bundle: &'a Path,
    /// The exec trampoline, when the process leaves corral through it (see
    /// `trampoline::usable_for_exec`): it is given a pipe that holds its one byte.
    pub trampoline: Option<&'a OwnedFd>,
}

const NEWPID: u64 = libc::CLONE_NEWPID as u64;
const NEWUSER: u64 = libc::CLONE_NEWUSER as u64;

/// Namespace files under /proc/PID/ns and their clone flags.
const NAMESPACES: [(&str, u64); 8] = [
    ("user", NEWUSER),
    ("mnt", libc::CLONE_NEWNS as u64),
    ("pid", NEWPID),
    ("uts", libc::CLONE_NEWUTS as u64),
    ("ipc", libc::CLONE_NEWIPC as u64),
    ("net", libc::CLONE_NEWNET as u64),
    ("cgroup", libc::CLONE_NEWCGROUP as u64),
    ("time", super::namespaces::CLONE_NEWTIME),
];

/// The namespaces of `pid` that are not this process's own (joining one's own user
/// namespace is an error, the others would be no-ops).
fn differing_namespaces(pid: i32) -> Result<u64> {
    let mut flags = 0;
    for (name, flag) in NAMESPACES {
        let theirs = format!("/proc/{pid}/ns/{name}");
        let theirs = match std::fs::read_link(&theirs) {
            Ok(l) => l,
            // A namespace type this kernel does not have.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io("cannot read", theirs, e)),
        };
        let ours = format!("/proc/self/ns/{name}");
        let ours = std::fs::read_link(&ours).map_err(|e| Error::io("cannot read", ours, e))?;
        if theirs != ours {
            flags |= flag;
        }
    }
    Ok(flags)
}

/// The /proc/PID/ns names of `flags`.
fn ns_names(flags: u64) -> String {
    let names: Vec<&str> = NAMESPACES
        .iter()
        .filter(|(_, f)| flags & f != 0)
        .map(|(n, _)| *n)
        .collect();
    names.join(", ")
}

/// setns(2) with a pidfd: every namespace of `flags` at once.
fn join(pidfd: &OwnedFd, flags: u64) -> nix::Result<()> {
    nix::sched::setns(pidfd, namespaces::clone_flags(flags)?)
}

/// The namespaces the child joins, and whether it must fork into the pid namespace
/// itself: corral joins the init's pid namespace here when it may (only children enter
/// one, so the one clone lands in it).
fn join_pid_namespace(cfg: &ExecConfig) -> Result<(u64, bool)> {
    let flags = differing_namespaces(cfg.init_pid)?;
    crate::trace::step(|| {
        format!(
            "namespaces: joins those of init pid {} that differ from corral's: {}",
            cfg.init_pid,
            ns_names(flags)
        )
    });
    if flags & NEWPID == 0 {
        return Ok((flags, false));
    }
    match join(cfg.init, NEWPID) {
        Ok(()) => Ok((flags & !NEWPID, false)),
        // It needs CAP_SYS_ADMIN in corral's own user namespace as well.
        Err(nix::Error::EPERM) => Ok((flags, true)),
        Err(e) => Err(Error::sys("join the container's pid namespace", e)),
    }
}

/// Starts the process; returns its pid once it has exec'd the user's program. On
/// failure the child is killed and reaped.
pub fn spawn(cfg: &ExecConfig) -> Result<Pid> {
    let (flags, fork_in_child) = join_pid_namespace(cfg)?;
    let entry = spawn::entry(cfg.cgroup, false)?;
    let (parent, child) = channel::pair()?;
    // Not dumpable, so that the child is not either from its first instruction until its
    // execve (CVE-2019-5736, as the init): it is in the container's pid namespace from
    // the clone on, and its processes must not ptrace it or open /proc/PID/exe (the
    // runtime's binary) or /proc/PID/fd. The flag is part of the memory map, which the
    // child copies.
    init::set_dumpable(false)?;
    crate::trace::mark("prepare");
    let cgroup_fd = entry
        .as_ref()
        .and_then(|e| e.into.as_ref().map(|f| f.as_raw_fd()));
    // The child starts on the `initial` CPUs and keeps them until it is in the cgroup.
    let before = affinity::initial(cfg.process.exec_cpu_affinity().as_ref())?;
    // SAFETY: corral is single-threaded (no runtime, logger or executor thread).
    let cloned = unsafe { sys::clone3_fork(0, cgroup_fd) };
    if !matches!(cloned, Ok(Forked::Child)) {
        affinity::restore(before);
    }
    let first = match cloned {
        Err(e) => return Err(Error::sys("clone3 the exec process", e)),
        Ok(Forked::Child) => {
            drop(parent);
            let mut fds = cfg.parent_fds.clone();
            fds.extend(cgroup_fd);
            let report = child.try_clone().ok();
            super::boundary::child("the exec process", report, || {
                child_main(cfg, &fds, flags, fork_in_child, entry.as_ref(), child)
            })
        }
        Ok(Forked::Parent(pid)) => pid,
    };
    drop(child);
    crate::trace::mark("clone");
    let mut guard = KillOnDrop(vec![first]);
    if let Some(adj) = cfg.process.oom_score_adj() {
        // Inherited by the process when the child forks it.
        let path = format!("/proc/{first}/oom_score_adj");
        std::fs::write(&path, adj.to_string())
            .map_err(|e| Error::io("process.oomScoreAdj: cannot write", &path, e))?;
    }
    spawn::placed(cfg.cgroup, entry.as_ref(), first, &parent)?;
    drop(entry);
    let pid = until_exec(cfg, &parent, first, fork_in_child, &mut guard)?;
    crate::trace::mark("exec");
    guard.0.clear();
    Ok(pid)
}

/// Answers the child until its execve; returns the process's pid (`first`, or the one
/// it forked when `fork_in_child`, which `guard` then holds).
fn until_exec(
    cfg: &ExecConfig,
    parent: &ParentEnd,
    first: Pid,
    fork_in_child: bool,
    guard: &mut KillOnDrop,
) -> Result<Pid> {
    let mut pid = first;
    loop {
        match parent.recv()? {
            Some((ChildMsg::Forked, sender)) if fork_in_child && sender > 0 && pid == first => {
                pid = Pid::from_raw(sender);
                guard.0 = vec![pid];
                let _ = waitpid(first, None);
            }
            Some((ChildMsg::SeccompFd(fd), _)) => {
                let c = seccomp_listener::Container {
                    id: cfg.id,
                    bundle: cfg.bundle,
                    pid: cfg.init_pid,
                    process_pid: pid.as_raw(),
                    status: ContainerState::Running,
                };
                seccomp_listener::hand_over(cfg.spec, &c, fd)?;
            }
            Some((ChildMsg::Trace(t), _)) => crate::trace::received(&t),
            Some((ChildMsg::Ready, _)) if !fork_in_child || pid != first => break,
            other => return Err(unexpected(other.map(|(m, _)| m))),
        }
    }
    // End-of-file: the child's end closed at its execve, the user's program runs.
    match parent.recv()? {
        None => Ok(pid),
        Some((msg, _)) => Err(unexpected(Some(msg))),
    }
}

/// The error for what the child sent instead of the next step (`None`: it exited).
fn unexpected(msg: Option<ChildMsg>) -> Error {
    Error::Other(match msg {
        Some(ChildMsg::Error(m)) => format!("exec: {m}"),
        Some(m) => format!("exec: unexpected message {m:?} from the process"),
        None => "exec: the process exited before it was ready".into(),
    })
}

/// The child: never returns.
fn child_main(
    cfg: &ExecConfig,
    parent_fds: &[RawFd],
    flags: u64,
    fork: bool,
    entry: Option<&corral_cgroups::Entry>,
    chan: ChildEnd,
) -> ! {
    // Its steps and phases only: the parent logs its own.
    crate::trace::restart_in_child();
    for fd in parent_fds {
        // The owners live in the parent's image, which this process never drops (it
        // execs or _exits), so nothing closes these fds twice.
        let _ = nix::unistd::close(*fd);
    }
    match setup(cfg, flags, fork, entry, &chan) {
        Ok((exec, go)) => {
            crate::trace::step(|| "ready: execve next".into());
            let sent = init::send_trace(&chan);
            if let Err(e) = sent.and_then(|()| chan.send(&ChildMsg::Ready)) {
                let _ = chan.send(&ChildMsg::Error(e.to_string()));
                sys::exit_now(1);
            }
            // The channel stays open: execve (or the trampoline's execveat) closes it
            // (close-on-exec), which tells the parent the program runs; a failed one is
            // reported on it. The trampoline reports its own failure on stderr (127).
            let err = match (cfg.trampoline, &go) {
                (Some(t), Some(go)) => init::through_trampoline(t, go.as_raw_fd(), &exec),
                _ => init::execve(&exec),
            };
            let _ = chan.send(&ChildMsg::Error(err));
            sys::exit_now(127);
        }
        Err(e) => init::fail(&chan, &e.to_string()),
    }
}

fn setup(
    cfg: &ExecConfig,
    flags: u64,
    fork: bool,
    entry: Option<&corral_cgroups::Entry>,
    chan: &ChildEnd,
) -> Result<(Exec, Option<OwnedFd>)> {
    // Nothing of the user's runs before this process is in the cgroup.
    spawn::enter(cfg.cgroup, entry, chan)?;
    let labels = lsm::wanted(cfg.process);
    // Made while still in the host's mount namespace, where a new procfs is allowed (in
    // the container's, a masked /proc would forbid it in a user namespace), and already
    // in the container's pid namespace, so `<pid>` is ours.
    // Kernels before 5.11 list the fds to mark close-on-exec in it (`init::cloexec_from`).
    let fallback = !sys::has_cloexec_range();
    let mut procfs = if labels && !fork {
        Some(Procfs::open()?)
    } else if fallback && !fork {
        Procfs::open().ok()
    } else {
        None
    };
    if flags != 0 {
        crate::trace::step(|| format!("setns the init's pidfd: {}", ns_names(flags)));
        join(cfg.init, flags).map_err(|e| Error::sys("join the container's namespaces", e))?;
    }
    if flags & NEWUSER != 0 {
        // Our host ids may be unmapped there: become its root until set_identity.
        init::become_root();
    }
    if !super::has_mount_ns(cfg.spec) {
        // The container shares our mount namespace, and its init is chrooted into its
        // rootfs (see `rootfs::host`): so is this process, or it would run in the host's.
        let root = format!("/proc/{}/root", cfg.init_pid);
        nix::unistd::chroot(root.as_str())
            .map_err(|e| Error::sys(format!("chroot to the container's root {root}"), e))?;
        nix::unistd::chdir("/").map_err(|e| Error::sys("chdir /", e))?;
    }
    if fork {
        // SAFETY: this child of corral's one thread has only that thread.
        match unsafe { sys::clone3_fork(libc::CLONE_PARENT as u64, None) } {
            Ok(Forked::Child) => chan.send(&ChildMsg::Forked)?,
            Ok(Forked::Parent(_)) => sys::exit_now(0),
            Err(e) => return Err(Error::sys("fork into the container's pid namespace", e)),
        }
        if labels {
            procfs = Some(Procfs::open()?);
        } else if fallback {
            procfs = Procfs::open().ok();
        }
    }
    sys::join_new_session_keyring().map_err(|e| Error::sys("join a new session keyring", e))?;
    let process = cfg.process;
    if process.terminal() == Some(true) {
        tty::setup(cfg.checked, cfg.console_socket, false)?;
    }
    // The trampoline waits for one byte, which `start` writes for the init: here it is
    // there already (written now: no pipe2 or write is made under the seccomp filter).
    let go = match cfg.trampoline {
        Some(_) => Some(ready_pipe()?),
        None => None,
    };
    let linux = cfg.spec.linux().as_ref();
    let last = LastSteps {
        process,
        checked: cfg.checked,
        seccomp: cfg.seccomp,
        profile: cfg.spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()),
        caller: super::filter::Caller::Exec {
            trampoline: go.is_some(),
        },
        preserve_fds: cfg.preserve_fds,
        inherited: go.as_ref().map(|g| g.as_raw_fd()),
        personality: linux.and_then(|l| l.personality().as_ref()),
        memory_policy: linux.and_then(|l| l.memory_policy().as_ref()),
        exec_cpu_affinity: process.exec_cpu_affinity().as_ref(),
    };
    init::finish(&last, procfs, chan).map(|exec| (exec, go))
}

/// The read end of a pipe that holds one byte (its write end closed).
fn ready_pipe() -> Result<OwnedFd> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| Error::sys("pipe2 for the exec trampoline", e))?;
    nix::unistd::write(&w, b"x").map_err(|e| Error::sys("write to the trampoline's pipe", e))?;
    Ok(r)
}
