//! `process.terminal` with `--console-socket`: the receiver is written here, as a
//! container engine's would be (a unix socket, the pty master in SCM_RIGHTS).

use super::errors::refused;
use super::{ensure, field};
use crate::bundle::config;
use crate::ctx::Ctx;
use crate::{Case, CaseResult};
use serde_json::json;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::time::{Duration, Instant};

pub fn cases() -> Vec<Case> {
    vec![
        Case::new("term_console_socket_gets_the_pty", console_socket),
        Case::new("term_terminal_needs_a_console_socket", needs_socket),
        Case::new("term_run_relays_the_terminal", run_relays),
        // runc 1.1.5 opens and binds the slave by its path /dev/pts/N (CVE-2025-52565).
        Case::corral(
            "term_console_is_the_pty_not_its_path",
            "the console is the pty corral opened, not its path (CVE-2025-52565)",
            console_not_by_path,
        ),
        // runc 1.1.5 casts consoleSize to 16 bits: 65616 rows become 80.
        Case::corral(
            "term_console_size_beyond_16_bits_refused",
            "a consoleSize over 65535 refused, not truncated",
            console_size_too_big,
        ),
    ]
}

/// Receives one fd sent with SCM_RIGHTS on an accepted connection of `listener`
/// (waiting at most [`crate::PATIENCE`] for the connection: a runtime that fails never
/// connects).
pub(super) fn receive_fd(listener: &UnixListener) -> Result<OwnedFd, String> {
    let mut fds = [nix::poll::PollFd::new(
        std::os::fd::AsFd::as_fd(listener),
        nix::poll::PollFlags::POLLIN,
    )];
    if nix::poll::poll(
        &mut fds,
        nix::poll::PollTimeout::try_from(crate::PATIENCE).unwrap_or(nix::poll::PollTimeout::MAX),
    )
    .unwrap_or(0)
        == 0
    {
        return Err(format!(
            "nothing connected to the socket within {} s",
            crate::PATIENCE.as_secs()
        ));
    }
    listener.set_nonblocking(false).map_err(|e| e.to_string())?;
    let (conn, _) = listener.accept().map_err(|e| format!("accept: {e}"))?;
    let mut data = [0u8; 256];
    let mut iov = [std::io::IoSliceMut::new(&mut data)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = nix::sys::socket::recvmsg::<()>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        nix::sys::socket::MsgFlags::empty(),
    )
    .map_err(|e| format!("recvmsg: {e}"))?;
    for c in msg.cmsgs().map_err(|e| e.to_string())? {
        if let nix::sys::socket::ControlMessageOwned::ScmRights(fds) = c {
            if let Some(fd) = fds.first() {
                // SAFETY: the kernel installed this fd for us; nothing else owns it.
                return Ok(unsafe { OwnedFd::from_raw_fd(*fd) });
            }
        }
    }
    Err("no fd in the message on the console socket".into())
}

/// Reads from the pty master until `until` shows up or [`crate::PATIENCE`] passes.
pub(super) fn read_until(master: &OwnedFd, until: &str) -> String {
    read_for(master, until, crate::PATIENCE)
}

/// Reads from the pty master until `until` shows up or `limit` passes.
fn read_for(master: &OwnedFd, until: &str, limit: Duration) -> String {
    let mut out = Vec::new();
    let start = Instant::now();
    let mut buf = [0u8; 1024];
    while start.elapsed() < limit {
        let mut fds = [nix::poll::PollFd::new(
            std::os::fd::AsFd::as_fd(master),
            nix::poll::PollFlags::POLLIN,
        )];
        if nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(200u16)).unwrap_or(0) == 0 {
            continue;
        }
        match nix::unistd::read(master.as_raw_fd(), &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
        if String::from_utf8_lossy(&out).contains(until) {
            break;
        }
    }
    String::from_utf8_lossy(&out).replace('\r', "")
}

/// `create` of bundle `b` with the console socket `listener` bound at `sock`, which must
/// succeed; returns the pty master the runtime sent.
fn create_with_socket(
    cx: &mut Ctx,
    b: &std::path::Path,
    sock: &std::path::Path,
    listener: &UnixListener,
) -> Result<OwnedFd, String> {
    let (child, _) = cx.rt_spawn(&[
        "create",
        "--bundle",
        &b.to_string_lossy(),
        "--console-socket",
        &sock.to_string_lossy(),
        "c1",
    ])?;
    // Waited for even when nothing came, so that the runtime is reaped.
    let master = receive_fd(listener);
    let code = crate::ctx::wait_child(child)?;
    let master = master?;
    ensure!(code == 0, "create with a console socket exited {code}");
    Ok(master)
}

/// The master arrives during `create`; after `start` the container's shell reads what is
/// written to it and answers on it: the slave is its stdio, controlling tty and
/// /dev/console, with the window size of `consoleSize`.
fn console_socket(cx: &mut Ctx) -> CaseResult {
    let sock = cx.dir.join("console.sock");
    let listener = UnixListener::bind(&sock).map_err(|e| format!("bind: {e}"))?;
    let mut cfg = config(&[
        "sh",
        "-c",
        "echo tty=$(tty); echo size=$(stty size); \
         echo console=$(stat -c %t:%T /dev/console); echo pts0=$(stat -c %t:%T /dev/pts/0); \
         read line; echo got=$line",
    ]);
    cfg["process"]["terminal"] = json!(true);
    cfg["process"]["consoleSize"] = json!({ "height": 33, "width": 101 });
    let b = cx.bundle(&cfg)?;
    let master = create_with_socket(cx, &b, &sock, &listener)?;
    cx.rt(&["start", "c1"]).ok("start")?;
    nix::unistd::write(&master, b"hello from the test\n").map_err(|e| e.to_string())?;
    let out = read_until(&master, "got=");
    ensure!(field(&out, "tty") == Some("/dev/pts/0"), "tty: {out}");
    ensure!(field(&out, "size") == Some("33 101"), "stty size: {out}");
    ensure!(
        field(&out, "console").is_some() && field(&out, "console") == field(&out, "pts0"),
        "/dev/console is not the pty: {out}"
    );
    ensure!(
        out.contains("got=hello from the test"),
        "the shell did not read what was written to the master: {out}"
    );
    Ok(())
}

/// The slave is found from the master and bound over /dev/console from its fd, never by
/// the path `/dev/pts/N`, which the container's config decides: here `/dev/pts` is a
/// directory of decoy files (and `/dev/ptmx` leads to a real devpts at /real), so a
/// runtime that goes by the path opens or binds a decoy instead of the pty.
fn console_not_by_path(cx: &mut Ctx) -> CaseResult {
    let sock = cx.dir.join("console.sock");
    let listener = UnixListener::bind(&sock).map_err(|e| format!("bind: {e}"))?;
    let decoys = cx.dir.join("decoys");
    std::fs::create_dir_all(&decoys).map_err(|e| e.to_string())?;
    for n in 0..8 {
        std::fs::write(decoys.join(n.to_string()), "decoy\n").map_err(|e| e.to_string())?;
    }
    std::os::unix::fs::symlink("/real/ptmx", decoys.join("ptmx")).map_err(|e| e.to_string())?;
    let mut cfg = config(&[
        "sh",
        "-c",
        "echo console=$(stat -c %F:%t:%T /dev/console); echo fd0=$(readlink /proc/self/fd/0); \
         read line; echo got=$line",
    ]);
    cfg["process"]["terminal"] = json!(true);
    let mounts = cfg["mounts"].as_array_mut().expect("mounts");
    mounts.retain(|m| m["destination"] != "/dev/pts");
    mounts.push(
        json!({ "destination": "/dev/pts", "type": "bind", "source": decoys,
                        "options": ["bind", "ro"] }),
    );
    mounts.push(
        json!({ "destination": "/real", "type": "devpts", "source": "devpts",
                        "options": ["newinstance", "ptmxmode=0666", "mode=0620"] }),
    );
    let b = cx.bundle(&cfg)?;
    std::fs::create_dir(b.join("rootfs/real")).map_err(|e| e.to_string())?;
    let master = create_with_socket(cx, &b, &sock, &listener)?;
    let mut n: libc::c_uint = 0;
    // SAFETY: TIOCGPTN writes one unsigned int through the pointer.
    let ret = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTN, &mut n) };
    ensure!(ret == 0, "TIOCGPTN on the master failed");
    cx.rt(&["start", "c1"]).ok("start")?;
    nix::unistd::write(&master, b"hello\n").map_err(|e| e.to_string())?;
    let out = read_until(&master, "got=");
    let want = format!("character special file:88:{n:x}");
    ensure!(
        field(&out, "console") == Some(want.as_str()),
        "/dev/console is not pty {n} of the master sent ({want}): {out}"
    );
    let fd0 = format!("/real/{n}");
    ensure!(
        field(&out, "fd0") == Some(fd0.as_str()),
        "stdin is not {fd0}: {out}"
    );
    ensure!(out.contains("got=hello"), "the shell did not read: {out}");
    Ok(())
}

/// A terminal without a console socket has nowhere to go: `create` refuses it.
fn needs_socket(cx: &mut Ctx) -> CaseResult {
    let mut cfg = config(&["true"]);
    cfg["process"]["terminal"] = json!(true);
    refused(cx, &cfg, "--console-socket")
}

/// The kernel's winsize holds 16 bits per side: a bigger consoleSize is refused by
/// `create`, naming the field, rather than cut to its low bits.
fn console_size_too_big(cx: &mut Ctx) -> CaseResult {
    let mut cfg = config(&["true"]);
    cfg["process"]["consoleSize"] = json!({"height": 65616, "width": 80});
    refused(cx, &cfg, "process.consoleSize.height")
}

/// A foreground `run` with a terminal and no console socket relays it: the caller's
/// terminal (here a pty the case made, on the runtime's stdio) goes into raw mode with
/// its size copied to the container's, keystrokes reach the container's shell and its
/// output comes back, SIGWINCH copies a new size, the shell's exit status is run's, and
/// the caller's terminal settings are restored.
fn run_relays(cx: &mut Ctx) -> CaseResult {
    use nix::sys::termios::{tcgetattr, LocalFlags};
    let size = |rows, cols| libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let pty = nix::pty::openpty(Some(&size(40, 120)), None).map_err(|e| e.to_string())?;
    let mut cfg = config(&["sh"]);
    cfg["process"]["terminal"] = json!(true);
    let b = cx.bundle(&cfg)?;
    let before = tcgetattr(&pty.slave).map_err(|e| e.to_string())?;
    let stdio = || pty.slave.try_clone().map(std::process::Stdio::from);
    let (s0, s1, s2) = (stdio(), stdio(), stdio());
    let (child, _) = cx.rt_spawn_with(&["run", "--bundle", &b.to_string_lossy(), "c1"], |c| {
        if let (Ok(a), Ok(b), Ok(d)) = (s0, s1, s2) {
            c.stdin(a).stdout(b).stderr(d);
        }
    })?;
    let runtime = child.id() as i32;
    let prompt = read_until(&pty.master, "# ");
    let during = tcgetattr(&pty.slave).map_err(|e| e.to_string())?;
    let raw = !during
        .local_flags
        .intersects(LocalFlags::ICANON | LocalFlags::ECHO);
    let typed = |s: &str| nix::unistd::write(&pty.master, s.as_bytes()).map_err(|e| e.to_string());
    typed("stty size; echo hi-$((1+2))\n")?;
    let first = read_until(&pty.master, "hi-3");
    // SAFETY: TIOCSWINSZ reads one winsize from the pointer, valid for the call.
    unsafe { libc::ioctl(pty.master.as_raw_fd(), libc::TIOCSWINSZ, &size(50, 132)) };
    let mut resized = String::new();
    for _ in 0..20 {
        // SAFETY: kill with plain integers, on the runtime this case started.
        unsafe { libc::kill(runtime, libc::SIGWINCH) };
        typed("stty size\n")?;
        resized += &read_for(&pty.master, "50 132", Duration::from_millis(500));
        if resized.contains("50 132") {
            break;
        }
    }
    typed("exit 3\n")?;
    let code = crate::ctx::wait_child(child)?;
    let after = tcgetattr(&pty.slave).map_err(|e| e.to_string())?;
    ensure!(
        prompt.contains("# "),
        "no prompt from the container's shell: {prompt:?}"
    );
    ensure!(
        raw,
        "the caller's terminal is not in raw mode while run relays it"
    );
    ensure!(
        first.contains("40 120") && first.contains("hi-3"),
        "{first:?}"
    );
    ensure!(
        resized.contains("50 132"),
        "SIGWINCH did not resize: {resized:?}"
    );
    ensure!(code == 3, "run exited {code}, want the shell's 3");
    ensure!(
        after == before,
        "the caller's terminal settings were not restored"
    );
    Ok(())
}
