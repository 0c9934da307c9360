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
    let (saved, init) = running_init(o)?;
    let bundle = Bundle::load(&saved.bundle)?;
    let (process, checked) = exec_process::build(o.process_file, o.flags, &bundle, o.warn)?;
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
    };
    let pid = spawn::spawn(&cfg)?;
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

/// The container's saved state and a pidfd of its init, once it is known to be created
/// or running and not paused. The state dir is unlocked again on return: the process
/// may wait in a frozen cgroup (`--ignore-paused`) until `resume`, which takes the lock.
fn running_init(o: &ExecOptions) -> Result<(Saved, OwnedFd)> {
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
    Ok((saved, init))
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
