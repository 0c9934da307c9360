//! Hands the seccomp notify fd to the agent at `linux.seccomp.listenerPath`, as
//! runtime-spec `config-linux.md` says: one message on a unix stream socket carrying the
//! container process state (JSON) and the fd (SCM_RIGHTS).

use crate::{Error, Result};
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use oci_spec::runtime::{
    ContainerProcessState, ContainerState, LinuxSeccomp, Spec, State, SECCOMP_FD_NAME,
};
use std::io::IoSlice;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

/// What the agent is told about the container besides the fd.
pub struct Container<'a> {
    pub id: &'a str,
    pub bundle: &'a Path,
    /// The init's pid, as the runtime (on the host) sees it.
    pub pid: i32,
    /// The process whose filter it is: the init, or a process of `exec`.
    pub process_pid: i32,
    pub status: ContainerState,
}

/// Connects to the listener and sends it the state and `fd`. The caller's copy of the
/// fd is closed when it drops `fd`: the agent then holds the only one outside the init.
pub fn hand_over(spec: &Spec, c: &Container, fd: OwnedFd) -> Result<()> {
    let seccomp = spec
        .linux()
        .as_ref()
        .and_then(|l| l.seccomp().as_ref())
        .ok_or_else(|| Error::Other("a seccomp notify fd without linux.seccomp".into()))?;
    let path = seccomp
        .listener_path()
        .as_deref()
        .ok_or_else(|| Error::Other("linux.seccomp.listenerPath: not set".into()))?;
    let err = |what: &str, e: &dyn std::fmt::Display| {
        Error::Other(format!(
            "linux.seccomp.listenerPath: {what} {}: {e}",
            path.display()
        ))
    };
    let json = serde_json::to_vec(&process_state(seccomp, spec, c))
        .map_err(|e| err("encode the state for", &e))?;
    let sock = UnixStream::connect(path).map_err(|e| err("connect to", &e))?;
    let fds = [fd.as_raw_fd()];
    let sent = sendmsg::<()>(
        sock.as_raw_fd(),
        &[IoSlice::new(&json)],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::MSG_NOSIGNAL,
        None,
    )
    .map_err(|e| err("send to", &e))?;
    // One sendmsg on a stream socket may send less than asked; the fd went with the first
    // byte, so the rest is plain data.
    if sent < json.len() {
        use std::io::Write;
        (&sock)
            .write_all(&json[sent..])
            .map_err(|e| err("send to", &e))?;
    }
    Ok(())
}

fn process_state(seccomp: &LinuxSeccomp, spec: &Spec, c: &Container) -> ContainerProcessState {
    let mut state = State::default();
    state.set_version(crate::OCI_VERSION.to_string());
    state.set_id(c.id.to_string());
    state.set_status(c.status);
    state.set_pid(Some(c.pid));
    state.set_bundle(c.bundle.to_path_buf());
    state.set_annotations(spec.annotations().clone());
    let mut s = ContainerProcessState::default();
    s.set_version(crate::OCI_VERSION.to_string());
    s.set_fds(vec![SECCOMP_FD_NAME.to_string()]);
    s.set_pid(c.process_pid);
    s.set_metadata(seccomp.listener_metadata().clone());
    s.set_state(state);
    s
}
