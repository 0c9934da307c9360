//! The exec trampoline: how the container's init leaves corral's binary behind without
//! corral re-executing itself from a write-protected copy (see `sealed_exe`).
//!
//! The copy protects corral's binary from the container (CVE-2019-5736) for as long as a
//! process of the container runs it: the init until it execs the user's program, and
//! the program itself when the kernel resolves an interpreter named `/proc/self/exe`
//! (a `#!` line, or an ELF's PT_INTERP) in the init. But running from the copy costs a
//! second start of corral: an exec of a 3 MiB static binary, glibc's start-up (its CPUID
//! probes are slow in a VM) and relocations, about a seventh of a `run` here.
//!
//! Where no process of the container can exist before the user's program, the init
//! instead execs, once it is ready, this 466-byte program from a sealed memfd
//! ([`trampoline-x86_64.S`](trampoline-x86_64.S)): it waits for `start` on exec.fifo and
//! execs the user's program. So the init's executable is corral's binary only while it
//! sets the container up, when the container has no process; from Ready on it is the
//! sealed memfd, which no one can write; and an interpreter named `/proc/self/exe`
//! resolves to the trampoline, which refuses to run as one (exit 127).
//!
//! [`usable`] says where that holds; elsewhere `create` and `run` re-exec from the copy
//! as before (`exec`: see [`usable_for_exec`]):
//! - a pid namespace of the container's own (joined, or the host's, other processes
//!   could reach the init while it is corral);
//! - a `process` (without one the init waits as corral until it is deleted);
//! - no createContainer or startContainer hooks (corral starts them from the init, in
//!   the container's namespaces);
//! - no AppArmor profile or SELinux label (the kernel applies it at the next exec, the
//!   trampoline's, whose memfd the policy may not let that label execute);
//! - a seccomp profile that allows the trampoline's calls (`filter`);
//! - x86-64 (the trampoline is written for it).

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use oci_spec::runtime::Spec;

/// trampoline-x86_64.S, assembled (the test `bytes_are_the_source` checks them against
/// the source where binutils are installed): an ELF header, two program headers, the
/// code and its two messages.
#[cfg(target_arch = "x86_64")]
const ELF: &[u8] = &[
    0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x02, 0x00, 0x3e, 0x00, 0x01, 0x00, 0x00, 0x00, 0xb0, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x40, 0x00, 0x38, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xd2, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xd2, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x51, 0xe5, 0x74, 0x64, 0x06, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    // code (at offset 0xb0)
    0x48, 0x8b, 0x1c, 0x24, 0x48, 0x83, 0xfb, 0x03, 0x0f, 0x82, 0xdf, 0x00, 0x00, 0x00, 0x48, 0x8b,
    0x74, 0x24, 0x08, 0x45, 0x31, 0xe4, 0x0f, 0xb6, 0x06, 0x84, 0xc0, 0x74, 0x18, 0x83, 0xe8, 0x30,
    0x83, 0xf8, 0x09, 0x0f, 0x87, 0xc4, 0x00, 0x00, 0x00, 0x45, 0x6b, 0xe4, 0x0a, 0x41, 0x01, 0xc4,
    0x48, 0xff, 0xc6, 0xeb, 0xe1, 0x44, 0x89, 0xe7, 0x48, 0x8d, 0x74, 0x24, 0xf8, 0xba, 0x01, 0x00,
    0x00, 0x00, 0x31, 0xc0, 0x0f, 0x05, 0x48, 0x83, 0xf8, 0xfc, 0x74, 0xe9, 0x48, 0x83, 0xf8, 0x01,
    0x0f, 0x85, 0x9e, 0x00, 0x00, 0x00, 0x44, 0x89, 0xe7, 0xbe, 0x02, 0x00, 0x00, 0x00, 0xba, 0x01,
    0x00, 0x00, 0x00, 0xb8, 0x48, 0x00, 0x00, 0x00, 0x0f, 0x05, 0x48, 0x8b, 0x7c, 0x24, 0x10, 0x48,
    0x8d, 0x74, 0x24, 0x18, 0x48, 0x8d, 0x54, 0xdc, 0x10, 0xb8, 0x3b, 0x00, 0x00, 0x00, 0x0f, 0x05,
    0x48, 0xf7, 0xd8, 0x49, 0x89, 0xc5, 0x48, 0x8d, 0x35, 0x80, 0x00, 0x00, 0x00, 0xba, 0x0d, 0x00,
    0x00, 0x00, 0xe8, 0x69, 0x00, 0x00, 0x00, 0x48, 0x8b, 0x74, 0x24, 0x10, 0x31, 0xd2, 0x80, 0x3c,
    0x16, 0x00, 0x74, 0x04, 0xff, 0xc2, 0xeb, 0xf6, 0xe8, 0x53, 0x00, 0x00, 0x00, 0x48, 0x8d, 0x35,
    0x66, 0x00, 0x00, 0x00, 0xba, 0x08, 0x00, 0x00, 0x00, 0xe8, 0x42, 0x00, 0x00, 0x00, 0x48, 0x8d,
    0x74, 0x24, 0xe0, 0xc6, 0x06, 0x0a, 0x4c, 0x89, 0xe8, 0xb9, 0x0a, 0x00, 0x00, 0x00, 0x31, 0xd2,
    0x48, 0xf7, 0xf1, 0x80, 0xc2, 0x30, 0x48, 0xff, 0xce, 0x88, 0x16, 0x48, 0x85, 0xc0, 0x75, 0xee,
    0x48, 0x8d, 0x54, 0x24, 0xe1, 0x48, 0x29, 0xf2, 0xe8, 0x13, 0x00, 0x00, 0x00, 0xbf, 0x7f, 0x00,
    0x00, 0x00, 0xeb, 0x05, 0xbf, 0x01, 0x00, 0x00, 0x00, 0xb8, 0xe7, 0x00, 0x00, 0x00, 0x0f, 0x05,
    0xbf, 0x02, 0x00, 0x00, 0x00, 0xb8, 0x01, 0x00, 0x00, 0x00, 0x0f, 0x05, 0xc3,
    // "corral: exec ", ": errno "
    b'c', b'o', b'r', b'r', b'a', b'l', b':', b' ', b'e', b'x', b'e', b'c', b' ', b':', b' ', b'e',
    b'r', b'r', b'n', b'o', b' ',
];

/// The calls the trampoline makes, under the container's seccomp filter, with the
/// arguments known before (see `filter`): `execveat` is the init's, of the trampoline.
pub(crate) const CALLS: [(&str, &[(usize, u64)]); 6] = [
    ("execveat", &[]),
    ("read", &[]),
    (
        "fcntl",
        &[(1, libc::F_SETFD as u64), (2, libc::FD_CLOEXEC as u64)],
    ),
    ("execve", &[]),
    ("write", &[]),
    ("exit_group", &[]),
];

/// Whether the init of a container of `spec` may leave corral through the trampoline
/// (see the module doc); the seccomp profile is checked by the caller.
pub fn usable(spec: &Spec) -> bool {
    if !cfg!(target_arch = "x86_64") {
        return false;
    }
    let Some(process) = spec.process() else {
        return false;
    };
    if process.apparmor_profile().is_some() || process.selinux_label().is_some() {
        return false;
    }
    let hooks = spec.hooks().as_ref();
    crate::process::has_own_pid_ns(spec)
        && crate::hooks::Kind::CreateContainer.of(hooks).is_empty()
        && crate::hooks::Kind::StartContainer.of(hooks).is_empty()
}

/// Whether `exec`'s process (`process`) may leave corral through the trampoline. Unlike
/// the init's, it sets itself up while the container has processes. It is not dumpable,
/// so one of them reaches it (`/proc/PID/exe`, `fd`, `mem`, ptrace) only with
/// CAP_SYS_PTRACE over the user namespace its memory belongs to, the host's; which a
/// process of the container can hold only without a user namespace of its own and with
/// CAP_SYS_PTRACE in its bounding set (the init's, from config.json, or an earlier
/// `exec`'s: the caller checks that mark, see `StateDir::mark_ptrace`). Otherwise as for
/// the init: x86-64, a pid namespace of the container's own (other containers' processes
/// could see it otherwise) and no LSM label.
pub fn usable_for_exec(spec: &Spec, process: &oci_spec::runtime::Process) -> bool {
    cfg!(target_arch = "x86_64")
        && process.apparmor_profile().is_none()
        && process.selinux_label().is_none()
        && crate::process::has_own_pid_ns(spec)
        && spec
            .process()
            .as_ref()
            .is_some_and(|p| !may_ptrace(spec, p))
        && !may_ptrace(spec, process)
}

/// Whether `process` of the container may hold CAP_SYS_PTRACE over the host's user
/// namespace: the container has no user namespace of its own, and the bounding set
/// has it, or is not given (corral then leaves the capabilities as they are).
pub fn may_ptrace(spec: &Spec, process: &oci_spec::runtime::Process) -> bool {
    let own_userns = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|n| {
            n.iter().any(|ns| {
                ns.typ() == oci_spec::runtime::LinuxNamespaceType::User && ns.path().is_none()
            })
        });
    let bounding = process
        .capabilities()
        .as_ref()
        .and_then(|c| c.bounding().as_ref());
    !own_userns && bounding.is_none_or(|b| b.contains(&oci_spec::runtime::Capability::SysPtrace))
}

/// The trampoline in a sealed memfd (close-on-exec); None where the kernel refuses one
/// that can be executed (`vm.memfd_noexec = 2`), or off x86-64.
pub fn make() -> Option<OwnedFd> {
    #[cfg(target_arch = "x86_64")]
    {
        crate::sealed_exe::sealed_memfd_of(c"corral-exec", ELF).ok()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        None
    }
}

/// Execs the trampoline `fd`, which waits on `fifo` (inherited: not close-on-exec) and
/// then execs `path` with `args` and `env`; returns only on failure, with what failed.
pub(crate) fn exec(
    fd: &OwnedFd,
    fifo: RawFd,
    path: &CString,
    args: &[CString],
    env: &[CString],
) -> String {
    let mut argv = Vec::with_capacity(args.len() + 2);
    argv.push(CString::new(fifo.to_string()).unwrap_or_default());
    argv.push(path.clone());
    argv.extend(args.iter().cloned());
    let e = crate::sealed_exe::execveat(fd.as_raw_fd(), &argv, env);
    format!("exec the trampoline (to exec {path:?}): {e}")
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;
    use std::io::Write;
    use std::process::{Command, Stdio};

    #[test]
    fn who_may_ptrace_the_host() {
        let spec = |namespaces: serde_json::Value| -> Spec {
            serde_json::from_value(serde_json::json!({
                "ociVersion": "1.2.0",
                "root": { "path": "rootfs" },
                "linux": { "namespaces": namespaces }
            }))
            .unwrap()
        };
        let process = |caps: serde_json::Value| -> oci_spec::runtime::Process {
            let mut p = serde_json::json!({ "cwd": "/", "user": { "uid": 0, "gid": 0 } });
            if !caps.is_null() {
                p["capabilities"] = caps;
            }
            serde_json::from_value(p).unwrap()
        };
        let host = spec(serde_json::json!([{ "type": "pid" }]));
        let kill = process(serde_json::json!({ "bounding": ["CAP_KILL"] }));
        let ptrace = process(serde_json::json!({ "bounding": ["CAP_KILL", "CAP_SYS_PTRACE"] }));
        assert!(!may_ptrace(&host, &kill));
        assert!(may_ptrace(&host, &ptrace));
        // Capabilities left as they are: the runtime's.
        assert!(may_ptrace(&host, &process(serde_json::Value::Null)));
        assert!(may_ptrace(&host, &process(serde_json::json!({}))));
        // Over its own user namespace only.
        let userns = spec(serde_json::json!([{ "type": "pid" }, { "type": "user" }]));
        assert!(!may_ptrace(&userns, &ptrace));
        let joined = spec(serde_json::json!([{ "type": "user", "path": "/proc/1/ns/user" }]));
        assert!(may_ptrace(&joined, &ptrace));
    }

    /// The bytes above are what binutils make of the source (skipped without them).
    #[test]
    fn bytes_are_the_source() {
        let dir = std::env::temp_dir().join(format!("corral-trampoline-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let src = concat!(env!("CARGO_MANIFEST_DIR"), "/src/trampoline-x86_64.S");
        let (obj, bin) = (dir.join("t.o"), dir.join("t.bin"));
        let built = Command::new("as")
            .args(["--64", "-o"])
            .arg(&obj)
            .arg(src)
            .status()
            .is_ok_and(|s| s.success())
            && Command::new("objcopy")
                .args(["-O", "binary"])
                .arg(&obj)
                .arg(&bin)
                .status()
                .is_ok_and(|s| s.success());
        if built {
            assert_eq!(std::fs::read(&bin).unwrap(), ELF, "ELF differs from {src}");
        } else {
            eprintln!("no binutils: the source was not assembled");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Runs the trampoline from its memfd, with its standard input as the fifo (`start`
    /// is the bytes written there) and `args` after it; stdout, stderr, exit status.
    fn run(start: &[u8], args: &[&str]) -> (String, String, i32) {
        use std::os::unix::process::CommandExt;
        let fd = make().expect("the trampoline's memfd");
        // Resolved before the exec completes, which is when the close-on-exec memfd goes.
        let mut child = Command::new(format!("/proc/self/fd/{}", fd.as_raw_fd()))
            .arg0("0")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(start).unwrap();
        let out = child.wait_with_output().unwrap();
        (
            String::from_utf8_lossy(&out.stdout).into(),
            String::from_utf8_lossy(&out.stderr).into(),
            out.status.code().unwrap_or(-1),
        )
    }

    #[test]
    fn waits_then_execs_the_program() {
        let script = "echo $0 $1; exit 7";
        let (out, _, code) = run(b"0", &["/bin/sh", "sh", "-c", script, "zero", "one"]);
        assert_eq!((out.as_str(), code), ("zero one\n", 7));
    }

    #[test]
    fn not_started_exits_1() {
        assert_eq!(run(b"", &["/bin/true", "true"]).2, 1);
    }

    #[test]
    fn a_failed_exec_says_why_and_exits_127() {
        let (_, err, code) = run(b"0", &["/nonexistent/x", "x"]);
        assert_eq!(
            (err.as_str(), code),
            ("corral: exec /nonexistent/x: errno 2\n", 127)
        );
    }

    #[test]
    fn refuses_to_be_an_interpreter() {
        // A script whose interpreter is the trampoline gets it with the interpreter's
        // path, not a fifo, as its first argument.
        let dir = std::env::temp_dir().join(format!("corral-tramp-interp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (t, script) = (dir.join("t"), dir.join("script"));
        std::fs::write(&t, ELF).unwrap();
        std::fs::write(&script, format!("#!{}\n", t.display())).unwrap();
        for f in [&t, &script] {
            std::fs::set_permissions(f, std::os::unix::fs::PermissionsExt::from_mode(0o755))
                .unwrap();
        }
        let (_, _, code) = run(b"0", &[script.to_str().unwrap(), "script", "a", "b"]);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(code, 127);
    }
}
