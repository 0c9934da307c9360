//! Loading the seccomp filter, and the only system calls the init makes after it.
//!
//! A loaded filter applies to the init's own calls too, and engines' default profiles
//! are allow-lists written for containers, not for runtimes. So everything the init can
//! do before the load it does before (fds marked close-on-exec, cwd, executable lookup,
//! personality, LSM labels, groups and gid, no_new_privs), and after the load it makes
//! only the calls below, which Docker's, podman's (containers-common) and containerd's
//! default profiles all allow (x86-64 names, as glibc makes them; checked with
//! `strace -f` on `corral create` and `start`):
//!
//! | when                                   | system calls, in order                      |
//! |----------------------------------------|---------------------------------------------|
//! | a rule uses `SCMP_ACT_NOTIFY`          | `sendmsg` (the notify fd), `close`          |
//! | without `noNewPrivileges` (the kernel  | `setresuid`, `prctl` (PR_SET_KEEPCAPS,      |
//! | lets only a CAP_SYS_ADMIN holder load  | PR_CAP_AMBIENT), `capget`, `capset`         |
//! | a filter then, and the uid change      |                                             |
//! | drops it)                              |                                             |
//! | the init                               | `sendto` (Ready), `fcntl` (F_GETFD: a debug |
//! |                                        | build's check before close), `close` (the   |
//! |                                        | channel), `read` (exec.fifo, blocking),     |
//! |                                        | `execve`                                    |
//! | `corral exec`'s process                | `sendto` (Ready), `execve`                  |
//! | a failure                              | `sendto` or else `write` (the error), `exit_group` |
//!
//! `startContainer` hooks run after `start`, so under the filter, as with runc: each is
//! spawned and waited for (`getpid`, `pipe2`, `prlimit64`, `mmap`, `rt_sigprocmask`,
//! `clone3` or `clone` where the profile answers ENOSYS as Docker's does, `munmap`,
//! `pidfd_open`, `write`, `read`, `poll`, `wait4`; the hook's child `rt_sigaction`,
//! `setpgid`, `dup2`, `execve`).
//!
//! [`check`] reads the profile before the load and refuses one that stops any call of
//! the list, naming it; a failure after the load says so (see `channel` and `spawn`
//! for how it reaches the caller when even `sendto` is denied).

use super::channel::{ChildEnd, ChildMsg};
use crate::{Error, Result};
use corral_seccomp::Denial;
use oci_spec::runtime::{LinuxSeccomp, Process};

/// Who makes the calls after the load.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Caller {
    Init,
    Exec,
}

/// The calls of the table above for this process, with the arguments known before.
fn calls_after_load(
    process: &Process,
    notify: bool,
    caller: Caller,
) -> Vec<(&'static str, Vec<(usize, u64)>)> {
    let mut calls = Vec::new();
    if notify {
        calls.push(("sendmsg", vec![]));
        calls.push(("close", vec![]));
    }
    if process.no_new_privileges() != Some(true) {
        let uid = u64::from(process.user().uid());
        calls.push(("setresuid", vec![(0, uid), (1, uid), (2, uid)]));
        if let Some(c) = process.capabilities() {
            calls.push(("prctl", vec![(0, libc::PR_SET_KEEPCAPS as u64), (1, 0)]));
            calls.push(("capget", vec![]));
            calls.push(("capset", vec![]));
            calls.push((
                "prctl",
                vec![
                    (0, libc::PR_CAP_AMBIENT as u64),
                    (1, libc::PR_CAP_AMBIENT_CLEAR_ALL as u64),
                ],
            ));
            if c.ambient().as_ref().is_some_and(|a| !a.is_empty()) {
                let raise = libc::PR_CAP_AMBIENT_RAISE as u64;
                calls.push(("prctl", vec![(0, libc::PR_CAP_AMBIENT as u64), (1, raise)]));
            }
        }
    }
    calls.push(("sendto", vec![]));
    if caller == Caller::Init {
        calls.push(("fcntl", vec![(1, libc::F_GETFD as u64)]));
        calls.push(("close", vec![]));
        calls.push(("read", vec![]));
    }
    calls.push(("execve", vec![]));
    calls.push(("exit_group", vec![]));
    calls
}

/// Refuses a profile that stops a call the process makes after loading it.
pub(super) fn check(
    profile: &LinuxSeccomp,
    process: &Process,
    notify: bool,
    caller: Caller,
) -> Result<()> {
    for (name, args) in calls_after_load(process, notify, caller) {
        let Some(d) = corral_seccomp::denial(profile, name, &args) else {
            continue;
        };
        let how = match d {
            Denial::Errno(n) => format!("{:?}", nix::errno::Errno::from_raw(n)),
            Denial::Action(a) => serde_json::to_value(a)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_else(|| format!("{a:?}")),
        };
        return Err(Error::Other(format!(
            "linux.seccomp: the profile denies {name} ({how}), which the container's \
             process must make after the filter is loaded"
        )));
    }
    Ok(())
}

/// Loads the filter compiled before clone (libseccomp only turns it into BPF here) and
/// sends the notify fd, if any, to the parent for the listener.
pub(super) fn load(seccomp: &corral_seccomp::Compiled, chan: &ChildEnd) -> Result<()> {
    let fd = seccomp
        .load()
        .map_err(|e| Error::Other(format!("linux.seccomp: {e}")))?;
    if let Some(fd) = fd {
        chan.send(&ChildMsg::SeccompFd(fd)).map_err(after_load)?;
        // Dropped here: the fd must not reach the container, which could otherwise
        // answer its own notifications.
    }
    Ok(())
}

/// An error of a step after the load, saying so: the profile may be the cause.
pub(super) fn after_load(e: Error) -> Error {
    Error::Other(format!("{e} (after the seccomp filter was loaded)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docker() -> LinuxSeccomp {
        let text = include_str!("../../../integration/fixtures/seccomp/docker-20.10.24.json");
        serde_json::from_str(text).unwrap()
    }

    fn process(nnp: bool) -> Process {
        serde_json::from_value(serde_json::json!({
            "user": {"uid": 1000, "gid": 1000}, "cwd": "/", "args": ["true"],
            "noNewPrivileges": nnp,
            "capabilities": {"bounding": ["CAP_KILL"], "ambient": ["CAP_KILL"]},
        }))
        .unwrap()
    }

    #[test]
    fn dockers_profile_allows_every_call_after_the_load() {
        for nnp in [true, false] {
            for caller in [Caller::Init, Caller::Exec] {
                check(&docker(), &process(nnp), true, caller).unwrap();
            }
        }
    }

    #[test]
    fn a_denied_call_is_named() {
        let mut p = serde_json::to_value(docker()).unwrap();
        for rule in p["syscalls"].as_array_mut().unwrap() {
            rule["names"]
                .as_array_mut()
                .unwrap()
                .retain(|n| n != "setresuid");
        }
        let p: LinuxSeccomp = serde_json::from_value(p).unwrap();
        check(&p, &process(true), false, Caller::Init).unwrap();
        let e = check(&p, &process(false), false, Caller::Init).unwrap_err();
        assert!(e.to_string().contains("denies setresuid (EPERM)"), "{e}");
    }
}
