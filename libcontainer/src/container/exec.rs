//! `exec`: run another process in a created or running container, as runc does. The
//! process comes from the config (or `--process`), see `exec_process`; it enters the
//! init's namespaces and cgroup, see `process::exec`. In the foreground corral waits for
//! it and exits with its status; with `--detach` it returns once the process runs.

use super::exec_process::{self, ProcessFlags};
use crate::bundle::Bundle;
use crate::process::exec::{self as spawn, ExecConfig};
use crate::process::{connect_pidfd_socket, send_pidfd};
use crate::state::{process_alive, Saved, StateDir, Status};
use crate::{sys, Error, Result};
use corral_cgroups::SubCgroups;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

pub struct ExecOptions<'a> {
    pub root: &'a Path,
    pub id: &'a str,
    /// `--process FILE`: the whole process; excludes the process flags.
    pub process_file: Option<&'a Path>,
    pub flags: &'a ProcessFlags,
    pub console_socket: Option<&'a Path>,
    /// `--pidfd-socket`: where a pidfd of the process goes.
    pub pidfd_socket: Option<&'a Path>,
    pub detach: bool,
    pub pid_file: Option<&'a Path>,
    pub preserve_fds: u32,
    /// `--cgroup` values (see `corral_cgroups::sub`).
    pub cgroup: &'a [String],
    pub ignore_paused: bool,
    pub warn: &'a dyn Fn(&str),
    pub log_debug: Option<&'a dyn Fn(&str)>,
}

/// Runs the process; returns corral's exit status: the process's (128+signal when a
/// signal ended it), or 0 with `--detach`.
pub fn exec(o: &ExecOptions) -> Result<i32> {
    o.flags.check(o.process_file)?;
    let subs = SubCgroups::parse(o.cgroup)?;
    let (dir, paused, saved, init) = running_init(o)?;
    let bundle = Bundle::load(&saved.bundle)?;
    let (process, checked) = exec_process::build(o.process_file, o.flags, &bundle, o.warn)?;
    let leave = leave_corral(dir, &saved, paused, &bundle.spec, &process)?;
    let seccomp = super::create::compile_seccomp(&bundle, o.log_debug)?;
    let cgroup = saved.cgroup.as_ref().map(|cg| subs.apply(cg)).transpose()?;
    let console = console_socket(process.terminal() == Some(true), o.console_socket)?;
    let pidfd_socket = o.pidfd_socket.map(connect_pidfd_socket).transpose()?;
    let cfg = ExecConfig {
        process: &process,
        checked: &checked,
        spec: &bundle.spec,
        seccomp: seccomp.as_ref(),
        init: &init,
        init_pid: saved.pid,
        preserve_fds: o.preserve_fds,
        parent_fds: pidfd_socket.iter().map(|s| s.as_raw_fd()).collect(),
        console_socket: console.as_ref().map(|s| s.as_raw_fd()),
        cgroup: cgroup.as_ref(),
        id: o.id,
        bundle: &bundle.dir,
        trampoline: leave.as_ref().map(|(t, _)| t),
    };
    let pid = spawn::spawn(&cfg)?;
    // The process has left corral: an `exec` that marks the container may go on.
    drop(leave);
    drop(console);
    if let Err(e) = started(o, pid.as_raw(), pidfd_socket.as_ref()) {
        crate::signal::kill_child(pid.as_raw());
        let _ = nix::sys::wait::waitpid(pid, None);
        return Err(e);
    }
    if o.detach {
        return Ok(0);
    }
    super::wait::forward_and_wait(pid.as_raw())
}

/// The pid file and the pidfd, once the process runs.
fn started(o: &ExecOptions, pid: i32, pidfd_socket: Option<&UnixStream>) -> Result<()> {
    if let Some(s) = pidfd_socket {
        send_pidfd(s, pid, "setns")?;
    }
    if let Some(p) = o.pid_file {
        super::create::write_pid_file(p, pid)?;
    }
    Ok(())
}

/// How the process leaves corral's binary (CVE-2019-5736): through the exec trampoline,
/// returned with the state dir under a shared lock (held until the process has left
/// corral), where no process of the container can reach it meanwhile (see
/// `trampoline::usable_for_exec`); else from a write-protected copy of corral, which this
/// process then becomes by an exec (this call does not return then), unless it runs
/// from one already. The dir comes locked (exclusive) and is unlocked otherwise: a
/// paused container's process waits in its frozen cgroup (`--ignore-paused`) until
/// `resume`, which takes the lock, and one under a seccomp agent may wait for it.
fn leave_corral(
    dir: StateDir,
    saved: &Saved,
    paused: bool,
    spec: &oci_spec::runtime::Spec,
    process: &oci_spec::runtime::Process,
) -> Result<Option<(OwnedFd, StateDir)>> {
    let profile = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref());
    let why = if crate::trampoline::may_ptrace(spec, process) {
        // While this process lives, no later `exec` may leave through the trampoline.
        dir.mark_ptrace()?;
        "the process may hold CAP_SYS_PTRACE over the host"
    } else if paused {
        "the container is paused"
    } else if !saved.ptrace_marked_since_create {
        "made by an earlier corral, or restored: its processes were never marked"
    } else if profile.is_some_and(|p| p.listener_path().is_some()) {
        // Its calls may wait for the seccomp agent, and `delete` must not wait with them.
        "a seccomp agent may hold its calls"
    } else if !crate::trampoline::usable_for_exec(spec, process)
        || !crate::process::allows_trampoline(profile)
    {
        "the trampoline is not usable for it"
    } else {
        dir.share_lock()?;
        // Read under the shared lock: an `exec` that marked the container in between
        // has written the mark.
        if dir.ptrace_marked() {
            "an earlier process was given CAP_SYS_PTRACE"
        } else if let Some(fd) = crate::trampoline::make() {
            crate::trace::step(|| "exec: the process leaves corral through the trampoline".into());
            return Ok(Some((fd, dir)));
        } else {
            "no executable memfd"
        }
    };
    crate::trace::step(|| format!("exec: from the write-protected copy of corral ({why})"));
    drop(dir);
    crate::sealed_exe::ensure().map_err(|e| Error::Other(e.to_string()))?;
    Ok(None)
}

/// The container's state dir (locked), whether it is paused, its saved state and a
/// pidfd of its init, once it is known to be created or running and not paused (or
/// paused, with `--ignore-paused`).
fn running_init(o: &ExecOptions) -> Result<(StateDir, bool, Saved, OwnedFd)> {
    let dir = StateDir::open(o.root, o.id)?;
    let saved = dir.load()?;
    let status = dir.status(saved.as_ref());
    let bad = |msg| Error::BadStatus {
        id: o.id.to_string(),
        status: status.as_str(),
        msg,
    };
    let saved = match (status, saved) {
        (Status::Created | Status::Running, Some(s)) => s,
        (Status::Paused, Some(s)) if o.ignore_paused => s,
        (Status::Paused, _) => {
            return Err(bad(
                "cannot exec in a paused container (use --ignore-paused to override)",
            ))
        }
        (Status::Stopped, _) => return Err(bad("cannot exec in a stopped container")),
        _ => {
            return Err(bad(
                "cannot exec in a container that is still being created",
            ))
        }
    };
    // The pidfd pins the init: checked after it is open, the start time proves it is the
    // container's and not a recycled pid.
    let init = sys::pidfd_open(saved.pid)
        .map_err(|e| Error::sys(format!("pidfd_open {}", saved.pid), e))?;
    if !process_alive(saved.pid, saved.pid_start) {
        return Err(bad("cannot exec in a stopped container"));
    }
    Ok((dir, status == Status::Paused, saved, init))
}

/// The `--console-socket` connection for a process with a terminal (runc's rules: one
/// needs the other).
fn console_socket(terminal: bool, socket: Option<&Path>) -> Result<Option<UnixStream>> {
    match (terminal, socket) {
        (false, None) => Ok(None),
        (true, None) => Err(Error::Other(
            "exec: a terminal (--tty, process.terminal) needs --console-socket to send it to \
             (corral does not relay a terminal itself yet)"
                .into(),
        )),
        (false, Some(p)) => Err(Error::Other(format!(
            "exec: --console-socket {}: the process has no terminal (--tty)",
            p.display()
        ))),
        (true, Some(p)) => UnixStream::connect(p)
            .map(Some)
            .map_err(|e| Error::io("cannot connect to --console-socket", p, e)),
    }
}
