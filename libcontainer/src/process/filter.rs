//! Loading the seccomp filter, and the only system calls the init makes after it.
//!
//! A loaded filter applies to the init's own calls too, and engines' default profiles
//! are allow-lists written for containers, not for runtimes. So everything the init can
//! do before the load it does before (fds marked close-on-exec, cwd, executable lookup,
//! personality, LSM labels, groups and gid, no_new_privs), and after the load it makes
//! only the calls below, which Docker's, podman's (containers-common) and containerd's
//! default profiles all allow (as glibc makes them; checked with `strace -f` on
//! `corral create` and `start` on x86-64). The names are those of x86-64 and aarch64
//! alike, except where the table says otherwise: aarch64 (like every architecture
//! added since 2012) has only the newer call of some pairs (`ppoll` for `poll`, `dup3`
//! for `dup2`), which glibc makes there instead. See [`arch`].
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
//! | the init leaving through the trampoline| `sendto`, `fcntl` (F_GETFD), `close`, then  |
//! | (`crate::trampoline`)                  | `execveat` (the trampoline), whose calls    |
//! |                                        | are `read` (exec.fifo), `fcntl` (F_SETFD,   |
//! |                                        | FD_CLOEXEC), `execve`; on failure `write`,  |
//! |                                        | `exit_group`                                |
//! | the init, with `startContainer` hooks  | each hook spawned and waited for: `getpid`, |
//! | (they run after `start`, so under the  | `pipe2`, `prlimit64`, `mmap`,               |
//! | filter, as with runc)                  | `rt_sigprocmask`, `clone3` (or `clone` where|
//! |                                        | the profile answers ENOSYS, as Docker's     |
//! |                                        | does), `munmap`, `pidfd_open`, `write`,     |
//! |                                        | `read`, `poll` (aarch64: `ppoll`), `wait4`; |
//! |                                        | the hook's child `rt_sigaction`, `setpgid`, |
//! |                                        | `dup2` (aarch64: `dup3`), `execve`          |
//! | `corral exec`'s process                | `sendto` (Ready), `execve`; or `execveat`   |
//! |                                        | (the trampoline), whose calls are as above  |
//! | a failure                              | `sendto` or else `write` (the error), `exit_group` |
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
    /// The container's init; `start_hooks`: it runs `startContainer` hooks;
    /// `trampoline`: it leaves corral through the exec trampoline.
    Init { start_hooks: bool, trampoline: bool },
    /// `corral exec`'s process; `trampoline`: it leaves corral through the trampoline.
    Exec { trampoline: bool },
}

/// The names of the calls that differ between architectures: glibc makes the newer
/// call where the architecture has only that one.
pub(super) mod arch {
    #[cfg(target_arch = "x86_64")]
    pub const POLL: &str = "poll";
    #[cfg(target_arch = "x86_64")]
    pub const DUP2: &str = "dup2";

    #[cfg(target_arch = "aarch64")]
    pub const POLL: &str = "ppoll";
    #[cfg(target_arch = "aarch64")]
    pub const DUP2: &str = "dup3";

    // Elsewhere (corral is built and tested for the two above): the older names, which
    // 32-bit and older 64-bit architectures have.
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    pub const POLL: &str = "poll";
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    pub const DUP2: &str = "dup2";
}

/// The calls of running one `startContainer` hook under the filter (but `clone3`,
/// checked with its fallback, see [`check`]).
fn hook_calls() -> [&'static str; 15] {
    [
        "getpid",
        "pipe2",
        "prlimit64",
        "mmap",
        "rt_sigprocmask",
        "munmap",
        "pidfd_open",
        "write",
        "read",
        arch::POLL,
        "wait4",
        "rt_sigaction",
        "setpgid",
        arch::DUP2,
        "execve",
    ]
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
    if let Caller::Init {
        start_hooks,
        trampoline,
    } = caller
    {
        calls.push(("fcntl", vec![(1, libc::F_GETFD as u64)]));
        calls.push(("close", vec![]));
        calls.push(("read", vec![]));
        if start_hooks {
            calls.extend(hook_calls().map(|c| (c, vec![])));
        }
        if trampoline {
            calls.extend(crate::trampoline::CALLS.map(|(c, a)| (c, a.to_vec())));
        }
    }
    if caller == (Caller::Exec { trampoline: true }) {
        calls.extend(crate::trampoline::CALLS.map(|(c, a)| (c, a.to_vec())));
    }
    calls.push(("execve", vec![]));
    calls.push(("exit_group", vec![]));
    calls
}

/// Whether `profile` (if any) lets the trampoline run: its calls and the init's exec of
/// it (`create` chooses the write-protected copy of corral otherwise).
pub(crate) fn allows_trampoline(profile: Option<&LinuxSeccomp>) -> bool {
    profile.is_none_or(|p| {
        crate::trampoline::CALLS
            .iter()
            .all(|(name, args)| corral_seccomp::denial(p, name, args).is_none())
    })
}

/// Refuses a profile that stops a call the process makes after loading it.
pub(super) fn check(
    profile: &LinuxSeccomp,
    process: &Process,
    notify: bool,
    caller: Caller,
) -> Result<()> {
    let denied = |name: &str, d: Denial, what: &str| {
        let how = match d {
            Denial::Errno(n) => format!("{:?}", nix::errno::Errno::from_raw(n)),
            Denial::Action(a) => serde_json::to_value(a)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_else(|| format!("{a:?}")),
        };
        Error::Other(format!(
            "linux.seccomp: the profile denies {name} ({how}), which {what} must make after \
             the filter is loaded"
        ))
    };
    for (name, args) in calls_after_load(process, notify, caller) {
        if let Some(d) = corral_seccomp::denial(profile, name, &args) {
            return Err(denied(name, d, "the container's process"));
        }
    }
    if matches!(
        caller,
        Caller::Init {
            start_hooks: true,
            ..
        }
    ) {
        // glibc's posix_spawn makes clone3, and clone only where clone3 fails with ENOSYS.
        let what = "the init, to run startContainer hooks,";
        if let Some(d) = corral_seccomp::denial(profile, "clone3", &[]) {
            if d != Denial::Errno(libc::ENOSYS) {
                return Err(denied("clone3", d, what));
            }
            let flags = (libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD) as u64;
            if let Some(d) = corral_seccomp::denial(profile, "clone", &[(0, flags)]) {
                return Err(denied("clone", d, what));
            }
        }
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

    const CALLERS: [Caller; 4] = [
        Caller::Init {
            start_hooks: false,
            trampoline: false,
        },
        Caller::Init {
            start_hooks: true,
            trampoline: false,
        },
        Caller::Init {
            start_hooks: false,
            trampoline: true,
        },
        Caller::Exec { trampoline: false },
    ];

    #[test]
    fn dockers_profile_allows_every_call_after_the_load() {
        for nnp in [true, false] {
            for caller in CALLERS {
                check(&docker(), &process(nnp), true, caller).unwrap();
            }
        }
    }

    /// Every name checked is a system call of the architecture built for (run under
    /// qemu-user by scripts/cross-aarch64.sh): a name it lacks would never match the
    /// profile's rule for the call glibc really makes.
    #[test]
    fn every_name_is_a_call_of_this_architecture() {
        let mut names: Vec<&str> = vec!["clone3", "clone"];
        for caller in CALLERS {
            let calls = calls_after_load(&process(false), true, caller);
            names.extend(calls.iter().map(|(n, _)| *n));
        }
        for name in names {
            assert!(
                corral_seccomp::is_native_syscall(name),
                "{name} is not a system call of {}",
                std::env::consts::ARCH
            );
        }
    }

    #[test]
    fn hooks_need_clone3_or_its_fallback() {
        let hooks = Caller::Init {
            start_hooks: true,
            trampoline: false,
        };
        let mut p = serde_json::to_value(docker()).unwrap();
        for rule in p["syscalls"].as_array_mut().unwrap() {
            rule["names"]
                .as_array_mut()
                .unwrap()
                .retain(|n| n != "clone" && n != arch::POLL);
        }
        let p: LinuxSeccomp = serde_json::from_value(p).unwrap();
        check(
            &p,
            &process(true),
            false,
            Caller::Init {
                start_hooks: false,
                trampoline: false,
            },
        )
        .unwrap();
        let e = check(&p, &process(true), false, hooks).unwrap_err();
        assert!(
            e.to_string().contains(&format!("denies {}", arch::POLL)),
            "{e}"
        );
        let mut p = serde_json::to_value(p).unwrap();
        p["syscalls"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"names": [arch::POLL], "action": "SCMP_ACT_ALLOW"}));
        let p: LinuxSeccomp = serde_json::from_value(p).unwrap();
        // Docker's clone3 answers ENOSYS: without clone, hooks cannot run.
        let e = check(&p, &process(true), false, hooks).unwrap_err();
        assert!(e.to_string().contains("denies clone (EPERM)"), "{e}");
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
        let init = Caller::Init {
            start_hooks: false,
            trampoline: false,
        };
        check(&p, &process(true), false, init).unwrap();
        let e = check(&p, &process(false), false, init).unwrap_err();
        assert!(e.to_string().contains("denies setresuid (EPERM)"), "{e}");
    }
}
