//! `linux.seccomp`: filters seen from inside the container, a notify listener played
//! by this process, and bad profiles refused before anything is made.

use super::errors::refused;
use super::{ensure, field, run_script};
use crate::bundle::config;
use crate::ctx::Ctx;
use crate::{Case, CaseResult};
use serde_json::{json, Value};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::time::{Duration, Instant};

pub fn cases() -> Vec<Case> {
    vec![
        Case::new("seccomp_errno_and_errno_ret", errno_and_errno_ret),
        Case::new("seccomp_argument_filter", argument_filter),
        Case::new("seccomp_notify_listener", notify_listener),
        Case::new("seccomp_unreachable_listener", unreachable_listener),
        Case::new("seccomp_bad_profiles_name_the_field", bad_profiles),
        Case::corral(
            "seccomp_profile_stopping_start_hooks_refused",
            "a profile that stops what startContainer hooks need is refused at create",
            stops_start_hooks,
        ),
    ]
}

/// startContainer hooks run after `start`, under the filter: a profile that denies the
/// wait for them (`poll`, `ppoll` on aarch64; each name a call of its architecture
/// only, the other skipped) is refused at `create`, naming the call, instead of failing
/// every `start`. Without the hook the same profile runs.
fn stops_start_hooks(cx: &mut Ctx) -> CaseResult {
    let mut cfg = with_seccomp(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{ "names": ["poll", "ppoll"], "action": "SCMP_ACT_ERRNO" }]
    }));
    let b = cx.bundle(&cfg)?;
    cx.rt(&["run", "--bundle", &b.to_string_lossy(), "secpaths-nohook"])
        .ok("run without hooks")?;
    cfg["hooks"] = json!({ "startContainer": [{ "path": "/bin/true" }] });
    let b = cx.bundle(&cfg)?;
    let o = cx.rt(&["create", "--bundle", &b.to_string_lossy(), "secpaths-hook"]);
    o.failed("create with a startContainer hook")?;
    ensure!(
        o.stderr.contains("denies poll") || o.stderr.contains("denies ppoll"),
        "the error does not name poll: {}",
        o.stderr.trim()
    );
    cx.rt(&["state", "secpaths-hook"])
        .failed("state of a container whose create failed")?;
    Ok(())
}

/// ENOMEDIUM: an errno no shell command would otherwise print.
const ENOMEDIUM: u32 = 123;

fn with_seccomp(seccomp: Value) -> Value {
    let mut cfg = config(&["true"]);
    cfg["linux"]["seccomp"] = seccomp;
    cfg
}

fn errno_and_errno_ret(cx: &mut Ctx) -> CaseResult {
    let mut cfg = with_seccomp(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [
            { "names": ["mkdir", "mkdirat", "no_such_syscall_anywhere"], "action": "SCMP_ACT_ERRNO" },
            { "names": ["symlink", "symlinkat"], "action": "SCMP_ACT_ERRNO", "errnoRet": ENOMEDIUM },
        ]
    }));
    // Without no_new_privs the filter is loaded while the init still has CAP_SYS_ADMIN.
    cfg["process"]["noNewPrivileges"] = json!(false);
    let script = "mkdir /made 2>&1; echo mkdir=$?; ln -s /tmp /link 2>&1; echo ln=$?; \
                  echo hi > /tmp/f && echo cat=$(cat /tmp/f); \
                  echo status=$(grep '^Seccomp:' /proc/self/status | tr -d ' \\t')";
    let out = run_script(cx, cfg, script)?;
    ensure!(
        out.contains("Operation not permitted") && field(&out, "mkdir") == Some("1"),
        "mkdir was not refused with EPERM: {out}"
    );
    ensure!(
        out.contains("No medium found") && field(&out, "ln") == Some("1"),
        "symlink did not fail with errnoRet {ENOMEDIUM}: {out}"
    );
    ensure!(field(&out, "cat") == Some("hi"), "other calls fail: {out}");
    ensure!(
        field(&out, "status") == Some("Seccomp:2"),
        "not in filter mode: {out}"
    );
    Ok(())
}

fn argument_filter(cx: &mut Ctx) -> CaseResult {
    // personality(PER_LINUX32) is refused; personality(0xffffffff), a query, is not.
    let cfg = with_seccomp(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{
            "names": ["personality"], "action": "SCMP_ACT_ERRNO",
            "args": [{ "index": 0, "value": 8, "op": "SCMP_CMP_EQ" }]
        }]
    }));
    let script = "linux32 uname -m 2>&1; echo l32=$?; echo plain=$(uname -m); \
                  linux64 uname -m 2>&1; echo l64=$?";
    let out = run_script(cx, cfg, script)?;
    ensure!(
        out.contains("Operation not permitted") && field(&out, "l32") != Some("0"),
        "personality(PER_LINUX32) was allowed: {out}"
    );
    ensure!(field(&out, "plain") == Some("x86_64"), "uname: {out}");
    ensure!(
        field(&out, "l64") == Some("0"),
        "personality(PER_LINUX) was refused too: {out}"
    );
    Ok(())
}

/// What the listener thread saw.
struct Heard {
    state: Value,
    answered: usize,
}

fn notify_listener(cx: &mut Ctx) -> CaseResult {
    let sock = cx.dir.join("agent.sock");
    let listener = UnixListener::bind(&sock).map_err(|e| format!("bind {sock:?}: {e}"))?;
    let agent = std::thread::spawn(move || agent(listener));
    let cfg = with_seccomp(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": sock,
        "listenerMetadata": "hello agent",
        "syscalls": [{ "names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY" }]
    }));
    let script = "mkdir /made 2>&1; echo mkdir=$?; test -d /made && echo made=yes || echo made=no";
    let out = run_script(cx, cfg, script);
    let heard = agent.join().map_err(|_| "the agent thread panicked")??;
    let out = out?;
    ensure!(
        out.contains("Invalid cross-device link") && field(&out, "made") == Some("no"),
        "the container did not get the agent's EXDEV: {out}"
    );
    ensure!(heard.answered >= 1, "no notification answered");
    let s = &heard.state;
    ensure!(s["fds"] == json!(["seccompFd"]), "fds: {s}");
    ensure!(s["metadata"] == json!("hello agent"), "metadata: {s}");
    ensure!(s["state"]["id"] == json!("c1"), "state.id: {s}");
    ensure!(
        s["state"]["status"] == json!("creating"),
        "state.status: {s}"
    );
    ensure!(
        s["pid"].as_i64().is_some_and(|p| p > 1) && s["state"]["pid"] == s["pid"],
        "pid: {s}"
    );
    ensure!(s["ociVersion"].is_string(), "ociVersion: {s}");
    Ok(())
}

fn unreachable_listener(cx: &mut Ctx) -> CaseResult {
    let cfg = with_seccomp(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": cx.dir.join("nobody-listens.sock"),
        "syscalls": [{ "names": ["mkdir"], "action": "SCMP_ACT_NOTIFY" }]
    }));
    refused(cx, &cfg, "linux.seccomp.listenerPath")
}

fn bad_profiles(cx: &mut Ctx) -> CaseResult {
    let allow =
        |syscalls: Value| json!({ "defaultAction": "SCMP_ACT_ALLOW", "syscalls": syscalls });
    let mkdir = |action: &str| json!([{ "names": ["mkdir"], "action": action }]);
    let bad = [
        (
            json!({ "defaultAction": "SCMP_ACT_BOGUS" }),
            "linux.seccomp.defaultAction",
        ),
        (
            allow(mkdir("SCMP_ACT_BOGUS")),
            "linux.seccomp.syscalls[0].action",
        ),
        (
            json!({ "defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_BOGUS"] }),
            "linux.seccomp.architectures[0]",
        ),
        (
            allow(
                json!([{ "names": ["personality"], "action": "SCMP_ACT_ERRNO",
                           "args": [{ "index": 0, "value": 8, "op": "SCMP_CMP_BOGUS" }] }]),
            ),
            "linux.seccomp.syscalls[0].args[0].op",
        ),
        (
            json!({ "defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_BOGUS"] }),
            "linux.seccomp.flags[0]",
        ),
        (
            allow(mkdir("SCMP_ACT_NOTIFY")),
            "linux.seccomp.syscalls[0].action",
        ),
    ];
    for (seccomp, says) in bad {
        let cfg = with_seccomp(seccomp);
        refused(cx, &cfg, says)?;
    }
    Ok(())
}

/// The seccomp agent: takes one connection, reads the state and the fd, and answers
/// every notification with EXDEV until the container is gone.
fn agent(listener: UnixListener) -> Result<Heard, String> {
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let deadline = Instant::now() + crate::PATIENCE;
    let conn = loop {
        match listener.accept() {
            Ok((c, _)) => break c,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if Instant::now() > deadline {
                    return Err("nobody connected to the listener".into());
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(format!("accept: {e}")),
        }
    };
    conn.set_nonblocking(false).map_err(|e| e.to_string())?;
    let (mut text, fd) = recv_with_fd(conn.as_raw_fd())?;
    // The runtime need not close the connection (runc keeps it open): read until the
    // bytes make one whole JSON value.
    let state: Value = loop {
        match serde_json::from_slice(&text) {
            Ok(v) => break v,
            Err(e) if e.is_eof() => {
                let mut more = [0u8; 4096];
                match std::io::Read::read(&mut &conn, &mut more) {
                    Ok(0) | Err(_) => return Err(format!("state is cut short: {e}")),
                    Ok(n) => text.extend_from_slice(&more[..n]),
                }
            }
            Err(e) => return Err(format!("state is not JSON: {e}")),
        }
    };
    let fd = fd.ok_or("no fd came with the state")?;
    let answered = answer_all(&fd, deadline)?;
    Ok(Heard { state, answered })
}

/// One recvmsg: the bytes and the SCM_RIGHTS fd that came with them.
fn recv_with_fd(sock: RawFd) -> Result<(Vec<u8>, Option<OwnedFd>), String> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut cbuf = [0u64; 8];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: an all-zero msghdr is valid; the pointers set below outlive the call.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&cbuf);
    // SAFETY: msg points to live buffers of the sizes it states.
    let n = unsafe { libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC) };
    let Ok(n) = usize::try_from(n) else {
        return Err(format!("recvmsg: {}", std::io::Error::last_os_error()));
    };
    buf.truncate(n);
    let mut fd = None;
    // SAFETY: msg was filled by recvmsg; CMSG_* walk the control buffer it describes.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                let raw = std::ptr::read_unaligned(libc::CMSG_DATA(c) as *const RawFd);
                fd = Some(OwnedFd::from_raw_fd(raw));
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    Ok((buf, fd))
}

/// Answers notifications with -EXDEV until every process using the filter is gone.
fn answer_all(fd: &OwnedFd, deadline: Instant) -> Result<usize, String> {
    let mut answered = 0;
    loop {
        let mut p = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut p, 1, 100) };
        if r < 0 {
            return Err(format!("poll: {}", std::io::Error::last_os_error()));
        }
        if p.revents & libc::POLLIN != 0 {
            // SAFETY: the kernel wants a zeroed seccomp_notif to fill.
            let mut req: libc::seccomp_notif = unsafe { std::mem::zeroed() };
            // SAFETY: req is a seccomp_notif, as SECCOMP_IOCTL_NOTIF_RECV expects.
            if unsafe { libc::ioctl(fd.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_RECV, &mut req) } == 0
            {
                let mut resp = libc::seccomp_notif_resp {
                    id: req.id,
                    val: 0,
                    error: -libc::EXDEV,
                    flags: 0,
                };
                // SAFETY: resp is a seccomp_notif_resp, as SECCOMP_IOCTL_NOTIF_SEND expects.
                if unsafe { libc::ioctl(fd.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_SEND, &mut resp) }
                    == 0
                {
                    answered += 1;
                }
            }
            continue;
        }
        if p.revents & (libc::POLLHUP | libc::POLLERR) != 0 {
            return Ok(answered);
        }
        if Instant::now() > deadline {
            return Err(format!(
                "the container did not finish ({answered} answered)"
            ));
        }
    }
}
