//! What a service manager hands a runtime, passed on to the container as runc does:
//! readiness notification (`NOTIFY_SOCKET`) and socket activation (`LISTEN_FDS`).

use super::{ensure, field};
use crate::bundle::config;
use crate::ctx::{wait_child, Ctx};
use crate::{Case, CaseResult};
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::time::{Duration, Instant};

pub fn cases() -> Vec<Case> {
    vec![
        Case::new("notify_ready_reaches_the_caller_after_start", notify),
        Case::new("listen_fds_reach_the_container", listen_fds),
    ]
}

/// Polls `cond` every 10 ms for at most `limit`.
fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    cond()
}

/// The datagrams `sock` has received so far.
fn received(sock: &UnixDatagram) -> Vec<String> {
    let mut got = vec![];
    let mut buf = [0u8; 4096];
    while let Ok(n) = sock.recv(&mut buf) {
        got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    got
}

/// `create` with NOTIFY_SOCKET gives the container its own socket at $NOTIFY_SOCKET
/// (/run/notify/notify.sock, bound by `start` before the program runs); `start` waits
/// until the container says READY there, and only then tells the caller's socket
/// (READY=1, then MAINPID=<the container's pid>). Other messages are not passed on.
fn notify(cx: &mut Ctx) -> CaseResult {
    let host = cx.dir.join("host-notify.sock");
    let sock = UnixDatagram::bind(&host).map_err(|e| format!("bind {host:?}: {e}"))?;
    sock.set_nonblocking(true).map_err(|e| e.to_string())?;
    let cfg = config(&[
        "sh",
        "-c",
        "echo notify=$NOTIFY_SOCKET; echo type=$(stat -c %F $NOTIFY_SOCKET); sleep 1000",
    ]);
    let b = cx.bundle(&cfg)?;
    let env = |c: &mut std::process::Command| {
        c.env("NOTIFY_SOCKET", &host);
    };
    let (create, out) =
        cx.rt_spawn_with(&["create", "--bundle", &b.to_string_lossy(), "c1"], env)?;
    ensure!(wait_child(create)? == 0, "create with NOTIFY_SOCKET failed");
    let pid = cx.state("c1")?["pid"].as_i64().unwrap_or_default();
    // The container's view of its socket, from the host.
    let inside = format!("/proc/{pid}/root/run/notify/notify.sock");
    let (mut start, _) = cx.rt_spawn_with(&["start", "c1"], env)?;
    ensure!(
        wait_for(crate::PATIENCE, || Path::new(&inside).exists()),
        "no {inside} after start"
    );
    let (early, waiting) = {
        // Deliberate: nothing may happen in this window (no READY=1 is relayed and start
        // does not return before the program says so), and that has no event to await.
        std::thread::sleep(Duration::from_millis(200));
        (
            received(&sock),
            start.try_wait().map_err(|e| e.to_string())?.is_none(),
        )
    };
    let c = UnixDatagram::unbound().map_err(|e| e.to_string())?;
    for msg in ["STATUS=starting", "READY=1"] {
        c.send_to(msg.as_bytes(), &inside)
            .map_err(|e| format!("send {msg} to {inside}: {e}"))?;
    }
    let code = wait_child(start)?;
    let mut got = vec![];
    wait_for(crate::PATIENCE, || {
        got.extend(received(&sock));
        got.len() >= 2
    });
    let text = std::fs::read_to_string(&out).unwrap_or_default();
    ensure!(early.is_empty(), "the caller heard {early:?} before READY");
    ensure!(waiting, "start returned before the container was ready");
    ensure!(code == 0, "start exited {code}");
    ensure!(
        got == ["READY=1\n".to_string(), format!("MAINPID={pid}\n")],
        "the caller's socket got {got:?}"
    );
    ensure!(
        field(&text, "notify") == Some("/run/notify/notify.sock")
            && field(&text, "type") == Some("socket"),
        "the container saw {text:?}"
    );
    Ok(())
}

/// With LISTEN_FDS and LISTEN_PID naming the runtime itself (socket activation), the
/// container gets those fds from 3, then the --preserve-fds ones, and LISTEN_FDS=1,
/// LISTEN_PID=1; with a LISTEN_PID of another process, neither.
fn listen_fds(cx: &mut Ctx) -> CaseResult {
    let (three, four) = (cx.dir.join("three"), cx.dir.join("four"));
    std::fs::write(&three, "activated").map_err(|e| e.to_string())?;
    std::fs::write(&four, "preserved").map_err(|e| e.to_string())?;
    let cfg = config(&[
        "sh",
        "-c",
        "echo fds=$LISTEN_FDS pid=$LISTEN_PID; \
         [ -e /proc/self/fd/3 ] && echo three=$(cat <&3) || echo three=none; \
         [ -e /proc/self/fd/4 ] && echo four=$(cat <&4) || echo four=none",
    ]);
    let b = cx.bundle(&cfg)?;
    let b = b.to_string_lossy();
    let (t, f) = (three.display(), four.display());
    let ours = format!("exec 3<{t} 4<{f}; LISTEN_FDS=1 LISTEN_PID=$$ exec \"$@\"");
    let o = cx.rt_via_sh(&ours, &["run", "--preserve-fds", "1", "--bundle", &b, "c1"]);
    o.ok("run with LISTEN_FDS")?;
    ensure!(
        o.stdout.contains("fds=1 pid=1")
            && field(&o.stdout, "three") == Some("activated")
            && field(&o.stdout, "four") == Some("preserved"),
        "with LISTEN_PID of the runtime: {}",
        o.stdout
    );
    let other = format!("exec 3<{t}; LISTEN_FDS=1 LISTEN_PID=1 exec \"$@\"");
    let o = cx.rt_via_sh(&other, &["run", "--bundle", &b, "c2"]);
    o.ok("run with another's LISTEN_PID")?;
    ensure!(
        o.stdout.contains("fds= pid=") && field(&o.stdout, "three") == Some("none"),
        "with LISTEN_PID of another process: {}",
        o.stdout
    );
    Ok(())
}
