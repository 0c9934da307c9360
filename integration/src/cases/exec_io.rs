//! `exec` and what crosses into the process: a terminal sent over `--console-socket`,
//! only stdio and `--preserve-fds` fds, a pidfd over `--pidfd-socket` (and the init's,
//! with `create --pidfd-socket`); and the flags corral refuses.

use super::exec::{end, exec, pid_file, sleeper};
use super::terminal::{read_until, receive_fd};
use super::{ensure, field};
use crate::bundle::config;
use crate::ctx::{wait_child, Ctx};
use crate::{Case, CaseResult};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixListener;

pub fn cases() -> Vec<Case> {
    vec![
        Case::new("exec_tty_console_socket", tty),
        Case::new("exec_only_stdio_and_preserved_fds", fds),
        // runc 1.1.5 has no --pidfd-socket (runc 1.2 does).
        Case::corral(
            "exec_pidfd_socket",
            "--pidfd-socket, a flag of runc 1.2",
            pidfd_socket,
        ),
        Case::wording("exec_refusals_name_the_flag", refusals),
        // The same for a container's init.
        Case::corral(
            "lifecycle_create_pidfd_socket",
            "--pidfd-socket, a flag of runc 1.2",
            create_pidfd_socket,
        ),
    ]
}

/// In a sleeper container, `exec -d --pid-file F FLAGS SOCKET c1 ARGS`: returns the fd
/// received on SOCKET and the pid in F.
fn detached(cx: &mut Ctx, flags: &[&str], args: &[&str]) -> Result<(OwnedFd, i32), String> {
    sleeper(cx, config(&[]))?;
    let sock = cx.dir.join("fd.sock");
    let listener = UnixListener::bind(&sock).map_err(|e| format!("bind: {e}"))?;
    let file = cx.dir.join("exec.pid");
    let (sock, file_arg) = (sock.to_string_lossy(), file.to_string_lossy());
    let mut v = vec!["exec", "--detach", "--pid-file", &file_arg];
    v.extend_from_slice(flags);
    v.extend([&*sock, "c1"]);
    v.extend_from_slice(args);
    let (child, _) = cx.rt_spawn(&v)?;
    let fd = receive_fd(&listener);
    let code = wait_child(child)?;
    ensure!(code == 0, "exec {flags:?} exited {code}");
    let pid = pid_file(cx, &file)?;
    Ok((fd?, pid))
}

/// `--tty --console-socket` (runc wants `--detach` with it): the master arrives on the
/// socket; the process's stdio and controlling terminal is the slave, a pty of the
/// container's devpts.
fn tty(cx: &mut Ctx) -> CaseResult {
    let script = "echo tty=$(tty); read line; echo got=$line; sleep 999";
    let (master, pid) = detached(cx, &["--tty", "--console-socket"], &["sh", "-c", script])?;
    // Typed only once the shell has printed its line: typed earlier, the pty's echo lands
    // inside that line (seen in a slow guest).
    let first = read_until(&master, "\n");
    nix::unistd::write(&master, b"typed\n").map_err(|e| e.to_string())?;
    let out = first + &read_until(&master, "got=");
    end(pid)?;
    ensure!(
        field(&out, "tty").is_some_and(|t| t.starts_with("/dev/pts/")),
        "tty: {out}"
    );
    ensure!(
        out.contains("got=typed"),
        "the process did not read the pty: {out}"
    );
    Ok(())
}

/// The process gets stdio and nothing else of the runtime (fd 3 is ls's own directory),
/// unless `--preserve-fds` passes more.
fn fds(cx: &mut Ctx) -> CaseResult {
    sleeper(cx, config(&[]))?;
    let listing = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let o = cx.rt_with_fd3(&["exec", "c1", "ls", "/proc/self/fd"]);
    o.ok("exec ls")?;
    ensure!(listing(&o.stdout) == "0 1 2 3", "fds: {}", o.stdout);
    let o = cx.rt_with_fd3(&[
        "exec",
        "--preserve-fds",
        "1",
        "c1",
        "sh",
        "-c",
        "echo fd3=$(stat -L -c %t:%T /proc/self/fd/3); echo fds=$(ls /proc/self/fd)",
    ]);
    o.ok("exec --preserve-fds 1")?;
    ensure!(field(&o.stdout, "fd3") == Some("1:3"), "fd 3: {}", o.stdout);
    ensure!(field(&o.stdout, "fds") == Some("0 1 2 3 4"), "{}", o.stdout);
    Ok(())
}

/// `--pidfd-socket`: a pidfd of the process (the pid of `--pid-file`) arrives, and
/// signals through it reach the process.
fn pidfd_socket(cx: &mut Ctx) -> CaseResult {
    let (pidfd, pid) = detached(cx, &["--pidfd-socket"], &["sleep", "999"])?;
    is_pidfd_of(&pidfd, pid)?;
    // SAFETY: pidfd_send_signal with an fd we own and no siginfo.
    let r = unsafe { libc::syscall(libc::SYS_pidfd_send_signal, pidfd.as_raw_fd(), 9, 0, 0) };
    ensure!(
        r == 0,
        "pidfd_send_signal: {}",
        std::io::Error::last_os_error()
    );
    let mut fds = [nix::poll::PollFd::new(
        std::os::fd::AsFd::as_fd(&pidfd),
        nix::poll::PollFlags::POLLIN,
    )];
    let n = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(5000u16)).unwrap_or(0);
    ensure!(n == 1, "process {pid} outlived SIGKILL through its pidfd");
    end(pid)
}

/// Fails unless `fd` is a pidfd of `pid` (its fdinfo says so).
fn is_pidfd_of(fd: &OwnedFd, pid: i32) -> CaseResult {
    let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.as_raw_fd()))
        .map_err(|e| e.to_string())?;
    ensure!(
        info.lines()
            .any(|l| l.split_whitespace().eq(["Pid:", &pid.to_string()])),
        "not a pidfd of process {pid}: {info}"
    );
    Ok(())
}

/// `create --pidfd-socket`: a pidfd of the init arrives once it is ready.
fn create_pidfd_socket(cx: &mut Ctx) -> CaseResult {
    let sock = cx.dir.join("fd.sock");
    let listener = UnixListener::bind(&sock).map_err(|e| format!("bind: {e}"))?;
    let b = cx.bundle(&config(&["sleep", "1000"]))?;
    let (child, _) = cx.rt_spawn(&[
        "create",
        "--bundle",
        &b.to_string_lossy(),
        "--pidfd-socket",
        &sock.to_string_lossy(),
        "c1",
    ])?;
    let fd = receive_fd(&listener);
    let code = wait_child(child)?;
    ensure!(code == 0, "create --pidfd-socket exited {code}");
    let pid = crate::ctx::pid_of(&cx.state("c1")?).unwrap_or(0);
    is_pidfd_of(&fd?, pid)
}

/// What corral refuses, before anything runs: each error names the flag.
fn refusals(cx: &mut Ctx) -> CaseResult {
    sleeper(cx, config(&[]))?;
    let sock = cx.dir.join("nobody.sock");
    let sock = sock.to_string_lossy();
    for (args, says) in [
        (&["--tty", "c1", "true"][..], "--console-socket"),
        (&["--console-socket", &sock, "c1", "true"], "--tty"),
        (&["--cgroup", "no-such-sub", "c1", "true"], "does not exist"),
        (
            &["--process", "/nonexistent.json", "c1"],
            "/nonexistent.json",
        ),
        (&["--cwd", "relative", "c1", "true"], "--cwd relative"),
        (
            &["--apparmor", "x", "--process", "p.json", "c1"],
            "--apparmor",
        ),
    ] {
        let o = exec(cx, args);
        o.failed(&format!("exec {args:?}"))?;
        ensure!(o.stderr.contains(says), "{args:?}: {}", o.stderr);
    }
    ensure!(cx.status("c1")? == "running", "c1 changed");
    Ok(())
}
