//! One hook process. No thread: a single poll(2) loop writes the state to its stdin,
//! reads its stdout and stderr (the start of each is kept for the error message) and
//! waits on a pidfd, with the hook's `timeout` as the deadline. The hook runs in a
//! process group of its own, which is killed whole when the deadline passes.

use crate::sys;
use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use oci_spec::runtime::Hook;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Bytes of stdout and of stderr kept for the error message.
const KEEP: usize = 4096;

/// Runs `hook` with `state` on its stdin; the error says why it failed.
pub(super) fn run(hook: &Hook, state: &[u8], cwd: Option<&Path>) -> Result<(), String> {
    let mut child = spawn(hook, cwd).map_err(|e| format!("cannot run it: {e}"))?;
    let pid = child.id() as i32;
    let pidfd = match sys::pidfd_open(pid) {
        Ok(fd) => fd,
        Err(e) => {
            kill(&mut child);
            return Err(format!("pidfd_open: {e}"));
        }
    };
    let mut io = Io::new(&mut child, state).inspect_err(|_| kill(&mut child))?;
    let deadline = hook
        .timeout()
        .map(|t| Instant::now() + Duration::from_secs(u64::try_from(t).unwrap_or(0)));
    if !io.pump(&pidfd, deadline) {
        kill(&mut child);
        let t = hook.timeout().unwrap_or_default();
        return Err(format!("killed after its timeout of {t} s{}", io.output()));
    }
    let status = child.wait().map_err(|e| format!("wait: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{}{}", describe(status), io.output()))
    }
}

fn spawn(hook: &Hook, cwd: Option<&Path>) -> std::io::Result<Child> {
    let mut cmd = Command::new(hook.path());
    // args[0] is argv[0], which need not be the path (execv semantics).
    if let Some((argv0, rest)) = hook.args().as_deref().and_then(|a| a.split_first()) {
        cmd.arg0(argv0).args(rest);
    }
    // Exactly the hook's env: nothing of the runtime's leaks in.
    cmd.env_clear();
    for (k, v) in hook
        .env()
        .iter()
        .flatten()
        .filter_map(|e| e.split_once('='))
    {
        cmd.env(k, v);
    }
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
}

/// SIGKILLs the hook's process group (and the hook, should it have left it) and reaps it.
fn kill(child: &mut Child) {
    // The group is the one spawn made for this child, led by it.
    if let Ok(pgid) = libc::pid_t::try_from(child.id()) {
        let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (_, Some(sig)) => format!("killed by signal {sig}"),
        _ => status.to_string(),
    }
}

fn nonblocking(fd: &OwnedFd) -> Result<(), String> {
    fcntl(fd.as_raw_fd(), FcntlArg::F_SETFL(OFlag::O_NONBLOCK))
        .map(drop)
        .map_err(|e| format!("fcntl O_NONBLOCK: {e}"))
}

/// An output pipe of the hook and what was kept of it.
struct Output {
    fd: Option<OwnedFd>,
    kept: Vec<u8>,
}

impl Output {
    fn new(fd: Option<OwnedFd>) -> Result<Self, String> {
        if let Some(fd) = &fd {
            nonblocking(fd)?;
        }
        Ok(Output { fd, kept: vec![] })
    }

    /// Reads what is there; closes the pipe at end-of-file or on an error.
    fn read(&mut self) {
        let Some(fd) = &self.fd else { return };
        let mut buf = [0u8; 4096];
        loop {
            match nix::unistd::read(fd.as_raw_fd(), &mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let room = KEEP.saturating_sub(self.kept.len());
                    self.kept.extend_from_slice(&buf[..n.min(room)]);
                }
                Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) => return,
                Err(_) => break,
            }
        }
        self.fd = None;
    }

    fn text(&self, name: &str) -> String {
        let t = String::from_utf8_lossy(&self.kept);
        let t = t.trim_end();
        if t.is_empty() {
            String::new()
        } else {
            format!(", {name}: {t:?}")
        }
    }
}

struct Io<'a> {
    stdin: Option<OwnedFd>,
    state: &'a [u8],
    out: Output,
    err: Output,
}

#[derive(Clone, Copy)]
enum Slot {
    Exit,
    In,
    Out,
    Err,
}

impl<'a> Io<'a> {
    fn new(child: &mut Child, state: &'a [u8]) -> Result<Self, String> {
        let stdin = child.stdin.take().map(OwnedFd::from);
        if let Some(fd) = &stdin {
            nonblocking(fd)?;
        }
        Ok(Io {
            stdin,
            state,
            out: Output::new(child.stdout.take().map(OwnedFd::from))?,
            err: Output::new(child.stderr.take().map(OwnedFd::from))?,
        })
    }

    fn output(&self) -> String {
        format!("{}{}", self.out.text("stdout"), self.err.text("stderr"))
    }

    /// Writes as much of the state as the pipe takes; closes stdin once it is all
    /// written, or when the hook does not read it (EPIPE).
    fn write_stdin(&mut self) {
        let Some(fd) = &self.stdin else { return };
        loop {
            if self.state.is_empty() {
                break;
            }
            match nix::unistd::write(fd, self.state) {
                Ok(n) => self.state = &self.state[n..],
                Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) => return,
                Err(_) => break,
            }
        }
        self.stdin = None;
    }

    /// Moves data until the hook exits (true) or `deadline` passes (false). Output
    /// still held open by a process the hook left behind is not waited for.
    fn pump(&mut self, pidfd: &OwnedFd, deadline: Option<Instant>) -> bool {
        self.write_stdin();
        loop {
            let mut slots = vec![Slot::Exit];
            let mut fds = vec![PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
            if let Some(fd) = &self.stdin {
                slots.push(Slot::In);
                fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLOUT));
            }
            for (slot, o) in [(Slot::Out, &self.out), (Slot::Err, &self.err)] {
                if let Some(fd) = &o.fd {
                    slots.push(slot);
                    fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
                }
            }
            let timeout = match deadline {
                None => PollTimeout::NONE,
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    // Rounded up, so the loop never spins on a zero timeout early.
                    PollTimeout::try_from(left.as_millis() + 1).unwrap_or(PollTimeout::MAX)
                }
            };
            match poll(&mut fds, timeout) {
                Ok(0) if deadline.is_some_and(|d| Instant::now() >= d) => return false,
                Ok(_) | Err(Errno::EINTR) => {}
                Err(_) => return false,
            }
            let ready: Vec<Slot> = fds
                .iter()
                .zip(&slots)
                .filter(|(fd, _)| fd.revents().is_some_and(|r| !r.is_empty()))
                .map(|(_, s)| *s)
                .collect();
            drop(fds);
            let mut exited = false;
            for slot in ready {
                match slot {
                    Slot::Exit => exited = true,
                    Slot::In => self.write_stdin(),
                    Slot::Out => self.out.read(),
                    Slot::Err => self.err.read(),
                }
            }
            if exited {
                self.out.read();
                self.err.read();
                return true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(args: &[&str], timeout: Option<i64>) -> Hook {
        let mut h = Hook::default();
        h.set_path("/bin/sh".into());
        h.set_args(Some(args.iter().map(|s| s.to_string()).collect()));
        h.set_env(Some(vec!["GREETING=hi".into()]));
        h.set_timeout(timeout);
        h
    }

    #[test]
    fn state_on_stdin_env_and_argv0() {
        let h = hook(
            &[
                "sh",
                "-c",
                r#"read s; [ "$s" = '{"x":1}' ] && [ "$GREETING" = hi ] && [ "$0" = zero ] && [ -z "$HOME" ]"#,
                "zero",
            ],
            None,
        );
        run(&h, b"{\"x\":1}\n", None).unwrap();
    }

    #[test]
    fn failure_gives_status_and_output() {
        let h = hook(&["sh", "-c", "echo out; echo oops >&2; exit 3"], None);
        let e = run(&h, b"{}", None).unwrap_err();
        assert_eq!(e, r#"exit status 3, stdout: "out", stderr: "oops""#);
    }

    #[test]
    fn a_hook_that_ignores_a_large_state_still_finishes() {
        let h = hook(&["sh", "-c", "exit 0"], None);
        run(&h, &vec![b' '; 1 << 20], None).unwrap();
    }

    #[test]
    fn timeout_kills_the_whole_group() {
        let h = hook(&["sh", "-c", "sleep 30 & sleep 30"], Some(1));
        let start = Instant::now();
        let e = run(&h, b"{}", None).unwrap_err();
        assert!(e.starts_with("killed after its timeout of 1 s"), "{e}");
        assert!(start.elapsed() < Duration::from_secs(3));
    }

    #[test]
    fn missing_program() {
        let mut h = hook(&[], None);
        h.set_path("/nonexistent/hook".into());
        let e = run(&h, b"{}", None).unwrap_err();
        assert!(e.starts_with("cannot run it: "), "{e}");
    }
}
