//! The parent/child channel: one SOCK_SEQPACKET socketpair made before clone, so every
//! message is one datagram and a dead peer reads as end-of-file.
//!
//! ```text
//!   parent (corral create)                    child (container init)
//!        |  CgroupJoined -->                   (only where the parent places the init in
//!        |                                      its cgroup, see `spawn::entry`: sent once it is
//!        |                                      in it; the init waits for it first thing)
//!        |  NetNs(fd) -->                      (only where the parent makes the network
//!        |                                      namespace, see `spawn::net_by_parent`; the
//!        |                                      init joins it before a mount that may
//!        |                                      depend on it, and before any hook)
//!        |                <-- MapRequest       (only with a new user namespace)
//!        |  write uid_map, gid_map
//!        |  MapsWritten -->
//!        |                <-- Forked           (only when the init had to fork again:
//!        |                                      sent by the real init, whose pid the
//!        |                                      parent takes from the message)
//!        |                <-- Hooks            (only with prestart or createRuntime hooks:
//!        |                                      mounts made, pivot_root not yet)
//!        |  run prestart, createRuntime hooks
//!        |  HooksDone -->
//!        |                <-- SeccompFd(fd)    (only when a seccomp rule uses
//!        |                                      SCMP_ACT_NOTIFY: the notify fd, as
//!        |  connect to linux.seccomp.listenerPath, SCM_RIGHTS, right after the filter is loaded)
//!        |  send it the container process state and the fd, close the fd
//!        |                <-- Trace(phases)    (only with --debug: the init's timings)
//!        |                <-- Ready            (set up, blocked on exec.fifo)
//!        |             or <-- Error(message)   (setup failed; the child exits 1. Sent
//!        |                                      with write(2) if send(2) fails: a
//!        |                                      seccomp profile may deny it. Without
//!        |                                      any message the parent reports how
//!        |                                      the child ended, e.g. SIGSYS)
//! ```
//! Each direction has its own message type, so a message can only travel one way. The
//! parent's end has SO_PASSCRED: the kernel stamps every message with its sender's pid,
//! translated into the parent's pid namespace. A fd travels as SCM_RIGHTS with its
//! message; the parent receives it close-on-exec.

use crate::{Error, Result};
use nix::sys::socket::{
    recv, recvmsg, send, sendmsg, setsockopt, socketpair, sockopt, AddressFamily, ControlMessage,
    ControlMessageOwned, MsgFlags, SockFlag, SockType,
};
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Child → parent.
#[derive(Debug)]
pub enum ChildMsg {
    MapRequest,
    Forked,
    /// Mounts are made: the runtime's hooks may run (see `hooks`).
    Hooks,
    /// The seccomp notify fd, for the parent to hand to the listener.
    SeccompFd(OwnedFd),
    /// `--debug` only: the init's phase timings (see `trace`), just before Ready.
    Trace(String),
    Ready,
    Error(String),
}

/// Parent → child.
#[derive(Debug)]
pub enum ParentMsg {
    MapsWritten,
    CgroupJoined,
    HooksDone,
    /// The container's network namespace, made by the parent (see `spawn`).
    NetNs(OwnedFd),
}

pub struct ParentEnd(OwnedFd);
pub struct ChildEnd(OwnedFd);

pub fn pair() -> Result<(ParentEnd, ChildEnd)> {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| Error::sys("socketpair", e))?;
    setsockopt(&a, sockopt::PassCred, &true).map_err(|e| Error::sys("SO_PASSCRED", e))?;
    Ok((ParentEnd(a), ChildEnd(b)))
}

fn send_bytes(fd: &OwnedFd, bytes: &[u8]) -> Result<()> {
    send(fd.as_raw_fd(), bytes, MsgFlags::MSG_NOSIGNAL)
        .map(drop)
        .map_err(|e| Error::sys("send on init channel", e))
}

/// The length of the next datagram, without taking it (0 at end-of-file): buffers are
/// sized to the message, not zeroed at 64 KiB for every one (their page faults were a
/// visible share of a `run`, in both processes).
fn next_len(fd: &OwnedFd) -> Result<usize> {
    loop {
        match recv(
            fd.as_raw_fd(),
            &mut [],
            MsgFlags::MSG_PEEK | MsgFlags::MSG_TRUNC,
        ) {
            Ok(n) => return Ok(n),
            // ECONNRESET: the peer closed with a message of ours unread (the init failed
            // before it took NetNs). The kernel reports that once, before the messages
            // still queued here (the init's Error): read on.
            Err(nix::Error::EINTR | nix::Error::ECONNRESET) => continue,
            Err(e) => return Err(Error::sys("receive on init channel", e)),
        }
    }
}

/// `bytes` with `fd` as SCM_RIGHTS: one datagram.
fn send_fd(sock: &OwnedFd, bytes: &[u8], fd: &OwnedFd) -> nix::Result<()> {
    let fds = [fd.as_raw_fd()];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    sendmsg::<()>(
        sock.as_raw_fd(),
        &[IoSlice::new(bytes)],
        &cmsg,
        MsgFlags::MSG_NOSIGNAL,
        None,
    )
    .map(drop)
}

/// One datagram and the fd it carries (close-on-exec), or `None` at end-of-file.
fn recv_with_fd(sock: &OwnedFd) -> Result<(Option<Vec<u8>>, Option<OwnedFd>)> {
    let mut buf = vec![0u8; next_len(sock)?.max(1)];
    let mut cmsg = nix::cmsg_space!([RawFd; 1]);
    loop {
        let mut iov = [IoSliceMut::new(&mut buf)];
        match recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Ok(m) => {
                let mut fd = None;
                for c in m.cmsgs().into_iter().flatten() {
                    if let ControlMessageOwned::ScmRights(rights) = c {
                        // SAFETY: the kernel just installed these fds in this process
                        // for this message; nothing else owns them.
                        fd = rights.first().map(|f| unsafe { OwnedFd::from_raw_fd(*f) });
                    }
                }
                let n = m.bytes;
                if n == 0 {
                    return Ok((None, fd));
                }
                buf.truncate(n);
                return Ok((Some(buf), fd));
            }
            Err(nix::Error::EINTR | nix::Error::ECONNRESET) => continue,
            Err(e) => return Err(Error::sys("receive on init channel", e)),
        }
    }
}

impl ParentEnd {
    /// The next message and its sender's pid, or `None` once every child end is closed.
    pub fn recv(&self) -> Result<Option<(ChildMsg, i32)>> {
        let mut buf = vec![0u8; next_len(&self.0)?.max(1)];
        let mut cmsg = nix::cmsg_space!(libc::ucred, [RawFd; 1]);
        let mut fds = Vec::new();
        let (n, pid) = loop {
            let mut iov = [IoSliceMut::new(&mut buf)];
            match recvmsg::<()>(
                self.0.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg),
                MsgFlags::MSG_CMSG_CLOEXEC,
            ) {
                Ok(m) => {
                    let mut pid = 0;
                    for c in m.cmsgs().into_iter().flatten() {
                        match c {
                            ControlMessageOwned::ScmCredentials(cr) => pid = cr.pid(),
                            ControlMessageOwned::ScmRights(rights) => {
                                // SAFETY: the kernel just installed these fds in this
                                // process for this message; nothing else owns them.
                                fds.extend(
                                    rights.iter().map(|fd| unsafe { OwnedFd::from_raw_fd(*fd) }),
                                );
                            }
                            _ => {}
                        }
                    }
                    break (m.bytes, pid);
                }
                Err(nix::Error::EINTR | nix::Error::ECONNRESET) => continue,
                Err(e) => return Err(Error::sys("receive on init channel", e)),
            }
        };
        if n == 0 {
            return Ok(None);
        }
        Self::decode(&buf[..n], fds.pop()).map(|m| Some((m, pid)))
    }

    /// `fd` is the message's SCM_RIGHTS fd, if any; a message that carries none drops it.
    fn decode(b: &[u8], fd: Option<OwnedFd>) -> Result<ChildMsg> {
        match b.split_first() {
            Some((b'M', _)) => Ok(ChildMsg::MapRequest),
            Some((b'F', _)) => Ok(ChildMsg::Forked),
            Some((b'H', _)) => Ok(ChildMsg::Hooks),
            Some((b'S', _)) => fd
                .map(ChildMsg::SeccompFd)
                .ok_or_else(|| Error::Other("the container init sent no seccomp notify fd".into())),
            Some((b'T', t)) => Ok(ChildMsg::Trace(String::from_utf8_lossy(t).into_owned())),
            Some((b'R', _)) => Ok(ChildMsg::Ready),
            Some((b'E', msg)) => Ok(ChildMsg::Error(String::from_utf8_lossy(msg).into_owned())),
            _ => Err(Error::Other(format!(
                "unknown message {b:?} from container init"
            ))),
        }
    }

    /// Sends `msg`; a child that is gone is no error here (EPIPE, or ECONNRESET when it
    /// left a message of ours unread): the parent receives next, and that says why it
    /// went (its Error message, or how it ended), which this send's error would hide.
    pub fn send(&self, msg: ParentMsg) -> Result<()> {
        let sent = match msg {
            ParentMsg::MapsWritten => send_bytes(&self.0, b"W"),
            ParentMsg::CgroupJoined => send_bytes(&self.0, b"C"),
            ParentMsg::HooksDone => send_bytes(&self.0, b"D"),
            ParentMsg::NetNs(fd) => send_fd(&self.0, b"N", &fd)
                .map_err(|e| Error::sys("send the network namespace on init channel", e)),
        };
        match sent {
            Err(Error::Sys {
                errno: nix::Error::EPIPE | nix::Error::ECONNRESET,
                ..
            }) => Ok(()),
            r => r,
        }
    }
}

impl ChildEnd {
    /// A second handle on this end (close-on-exec), for the clone boundary's report.
    pub fn try_clone(&self) -> Result<ChildEnd> {
        self.0
            .try_clone()
            .map(ChildEnd)
            .map_err(|e| Error::Other(format!("dup the init channel: {e}")))
    }

    pub fn send(&self, msg: &ChildMsg) -> Result<()> {
        match msg {
            ChildMsg::MapRequest => send_bytes(&self.0, b"M"),
            ChildMsg::Forked => send_bytes(&self.0, b"F"),
            ChildMsg::Hooks => send_bytes(&self.0, b"H"),
            ChildMsg::SeccompFd(fd) => send_fd(&self.0, b"S", fd)
                .map_err(|e| Error::sys("send the seccomp notify fd on init channel", e)),
            ChildMsg::Trace(t) => send_bytes(&self.0, &[b"T", t.as_bytes()].concat()),
            ChildMsg::Ready => send_bytes(&self.0, b"R"),
            ChildMsg::Error(m) => {
                let mut b = Vec::with_capacity(m.len() + 1);
                b.push(b'E');
                b.extend_from_slice(m.as_bytes());
                b.truncate(60 * 1024);
                // After the seccomp filter is loaded a profile may deny send(2); a
                // write(2) on the socket is the same datagram, and no profile can deny
                // write and still run a container.
                send_bytes(&self.0, &b)
                    .or_else(|e| nix::unistd::write(&self.0, &b).map(drop).map_err(|_| e))
            }
        }
    }

    pub fn recv(&self) -> Result<ParentMsg> {
        let (bytes, fd) = recv_with_fd(&self.0)?;
        match bytes.as_deref() {
            Some(b"W") => Ok(ParentMsg::MapsWritten),
            Some(b"C") => Ok(ParentMsg::CgroupJoined),
            Some(b"D") => Ok(ParentMsg::HooksDone),
            Some(b"N") => fd
                .map(ParentMsg::NetNs)
                .ok_or_else(|| Error::Other("the runtime sent no network namespace".into())),
            None => Err(Error::Other("the runtime went away".into())),
            Some(b) => Err(Error::Other(format!(
                "unknown message {b:?} from the runtime"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_sender_pid() {
        let me = std::process::id() as i32;
        let (p, c) = pair().unwrap();
        c.send(&ChildMsg::MapRequest).unwrap();
        assert!(matches!(p.recv().unwrap(), Some((ChildMsg::MapRequest, pid))  if pid == me));
        p.send(ParentMsg::MapsWritten).unwrap();
        assert!(matches!(c.recv().unwrap(), ParentMsg::MapsWritten));
        c.send(&ChildMsg::Forked).unwrap();
        assert!(matches!(p.recv().unwrap(), Some((ChildMsg::Forked, pid)) if pid == me));
        c.send(&ChildMsg::Error("mount /proc: EPERM".into()))
            .unwrap();
        assert!(matches!(
            p.recv().unwrap(),
            Some((ChildMsg::Error(m), pid)) if m == "mount /proc: EPERM" && pid == me
        ));
        drop(c);
        assert!(p.recv().unwrap().is_none());
    }

    #[test]
    fn an_unread_message_does_not_hide_the_error() {
        // The init fails and exits before it reads the network namespace sent to it.
        let (p, c) = pair().unwrap();
        c.send(&ChildMsg::Error("mounts[0]: EPERM".into())).unwrap();
        let (_, w) = nix::unistd::pipe().unwrap();
        p.send(ParentMsg::NetNs(w)).unwrap();
        drop(c);
        // A send after it is gone is no error either: the receive below says why.
        p.send(ParentMsg::HooksDone).unwrap();
        assert!(
            matches!(p.recv().unwrap(), Some((ChildMsg::Error(m), _)) if m == "mounts[0]: EPERM")
        );
        assert!(p.recv().unwrap().is_none());
    }

    #[test]
    fn a_fd_crosses_with_its_message() {
        let (p, c) = pair().unwrap();
        let (r, w) = nix::unistd::pipe().unwrap();
        c.send(&ChildMsg::SeccompFd(w)).unwrap();
        let Some((ChildMsg::SeccompFd(got), _)) = p.recv().unwrap() else {
            panic!("no fd")
        };
        nix::unistd::write(&got, b"x").unwrap();
        let mut b = [0u8; 1];
        assert_eq!(nix::unistd::read(r.as_raw_fd(), &mut b).unwrap(), 1);
        let flags = nix::fcntl::fcntl(got.as_raw_fd(), nix::fcntl::FcntlArg::F_GETFD).unwrap();
        assert_ne!(flags & libc::FD_CLOEXEC, 0);
        // And the other way: the parent's network namespace fd reaches the child.
        let (r, w) = nix::unistd::pipe().unwrap();
        p.send(ParentMsg::NetNs(w)).unwrap();
        let ParentMsg::NetNs(got) = c.recv().unwrap() else {
            panic!("no fd")
        };
        nix::unistd::write(&got, b"y").unwrap();
        assert_eq!(nix::unistd::read(r.as_raw_fd(), &mut b).unwrap(), 1);
        let flags = nix::fcntl::fcntl(got.as_raw_fd(), nix::fcntl::FcntlArg::F_GETFD).unwrap();
        assert_ne!(flags & libc::FD_CLOEXEC, 0);
    }
}
