//! `create`: validate the bundle, claim the id, spawn the init and leave it blocked on
//! exec.fifo. Any failure removes what was made: state dir, fifo and process.

use crate::bundle::Bundle;
use crate::process::{connect_pidfd_socket, send_pidfd, spawn, InitConfig};
use crate::state::{proc_stat, Saved, StateDir};
use crate::{hooks, id, Error, Result};
use corral_cgroups::systemd::Scope;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

pub struct CreateOptions<'a> {
    pub root: &'a Path,
    pub id: &'a str,
    pub bundle: &'a Path,
    pub pid_file: Option<&'a Path>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: u32,
    /// Logs a warning: what the bundle asked for that is skipped rather than refused.
    pub warn: &'a dyn Fn(&str),
    /// Rootless mode: corral has no privilege on the host (see `validate::rootless`).
    pub rootless: bool,
    /// Where debug messages go (`--debug`); the library has no logger of its own.
    pub log_debug: Option<&'a dyn Fn(&str)>,
    /// `--console-socket`: where the pty master of a terminal goes.
    pub console_socket: Option<&'a Path>,
    /// `--pidfd-socket`: where a pidfd of the init goes once it is ready.
    pub pidfd_socket: Option<&'a Path>,
    /// `--systemd-cgroup`: the cgroup is a transient systemd scope.
    pub systemd_cgroup: bool,
    /// The caller's `NOTIFY_SOCKET`, passed through the container (see `notify`).
    pub notify_socket: Option<&'a Path>,
    /// Fds after stdio handed down by socket activation (`LISTEN_FDS` of the caller,
    /// when its `LISTEN_PID` is ours): the container gets them before `preserve_fds`.
    pub listen_fds: u32,
}

/// Creates the container; returns the init's pid.
pub fn create(opts: &CreateOptions) -> Result<i32> {
    create_locked(opts, None, false).map(|(_, pid)| pid)
}

/// Creates the container and keeps its state dir locked, for `run` to start it at once.
/// `console` is the socket for the pty master of a foreground `run`, which relays it;
/// `starts` says the caller starts it at once, so the config must have a `process`.
pub(super) fn create_locked(
    opts: &CreateOptions,
    console: Option<BorrowedFd>,
    starts: bool,
) -> Result<(StateDir, i32)> {
    // Everything about the input is checked before anything is made.
    let mut bundle = load_bundle(opts.id, opts.bundle, starts)?;
    // Before the warnings: a re-exec starts over, and would print them again.
    let trampoline = leave_corral(&bundle.spec)?;
    for w in &bundle.warnings {
        (opts.warn)(w);
    }
    if opts.rootless {
        let euid = nix::unistd::geteuid().as_raw();
        crate::validate::rootless(&bundle.spec, &bundle.config_path, euid)?;
    }
    let seccomp = compile_seccomp(&bundle, opts.log_debug)?;
    crate::trace::mark("seccomp");
    let (cgroup, scope) = if opts.rootless && !opts.systemd_cgroup {
        let file = bundle.config_path.clone();
        let cg = super::cgroup::rootless(&mut bundle.spec, &file, opts.id, opts.warn)?;
        (cg, None)
    } else {
        let (rootless, systemd) = (opts.rootless, opts.systemd_cgroup);
        super::cgroup::resolve(&bundle, opts.id, rootless, systemd, opts.warn)?
    };
    crate::trace::mark("cgroup");
    super::activation::edit_spec(&mut bundle, opts)?;
    // Without a mount namespace the init's mounts land in ours: what is on the rootfs
    // now is not the container's (see `rootfs::host`).
    let host_root = match crate::process::has_mount_ns(&bundle.spec) {
        true => None,
        false => {
            let root = bundle
                .rootfs
                .canonicalize()
                .map_err(|e| Error::io("cannot resolve", &bundle.rootfs, e))?;
            let before = crate::rootfs::host::mount_ids_at(&root)?;
            Some((root, before))
        }
    };
    let dir = StateDir::create(opts.root, opts.id)?;
    crate::trace::mark("state");
    let made = create_in(
        &dir,
        &bundle,
        seccomp.as_ref(),
        (cgroup.as_ref(), scope.as_ref()),
        opts,
        console,
        trampoline.as_ref(),
    )
    .and_then(|pid| match &host_root {
        Some((root, before)) => record_host_mount(&dir, root, before).map(|()| pid),
        None => Ok(pid),
    })
    .and_then(|pid| match dir.created() {
        Ok(()) => {
            crate::trace::mark("state");
            Ok(pid)
        }
        Err(e) => {
            crate::signal::kill_child(pid);
            let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
            Err(e)
        }
    });
    match made {
        Ok(pid) => Ok((dir, pid)),
        Err(e) => {
            crate::trace::step(|| format!("create failed, removing what it made: {e}"));
            // The init is dead by now (spawn kills and reaps it on failure). Only a
            // cgroup this create claimed (recorded in the dir) is removed, and only
            // the rootfs bind this create's init made.
            if let Some((root, before)) = &host_root {
                while let Ok(Some(id)) = crate::rootfs::host::made_since(root, before) {
                    if crate::rootfs::host::unmount(root, id).is_err() {
                        break;
                    }
                }
            }
            super::cgroup::destroy_recorded(&dir);
            crate::netdev::restore(&dir, opts.warn);
            let _ = dir.remove();
            let state = hooks::State::of_spec(opts.id, &bundle.dir, &bundle.spec);
            hooks::poststop(bundle.spec.hooks().as_ref(), &state, opts.warn);
            Err(e)
        }
    }
}

/// What `create` and `restore` check first about a new container: its id, its bundle,
/// and a `process` when it `starts` at once. The caller prints the bundle's warnings.
pub(super) fn load_bundle(id: &str, path: &Path, starts: bool) -> Result<Bundle> {
    id::check(id)?;
    let bundle = Bundle::load(path)?;
    if starts {
        crate::validate::process_required(&bundle.spec, &bundle.config_path)?;
    }
    Ok(bundle)
}

/// How the init will leave corral's binary for the user's program, out of reach of the
/// container (CVE-2019-5736): through the exec trampoline, returned, where it is usable
/// (see `crate::trampoline`); else from a write-protected copy of corral, which this
/// process then becomes by an exec (this call does not return then), unless it runs
/// from one already (`ensure` checks).
fn leave_corral(spec: &oci_spec::runtime::Spec) -> Result<Option<OwnedFd>> {
    let profile = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref());
    if crate::trampoline::usable(spec) && crate::process::allows_trampoline(profile) {
        if let Some(fd) = crate::trampoline::make() {
            crate::trace::step(|| {
                "the init will exec the user's program through the trampoline".into()
            });
            return Ok(Some(fd));
        }
    }
    crate::sealed_exe::ensure().map_err(|e| Error::Other(e.to_string()))?;
    Ok(None)
}

/// Builds the seccomp filter in the runtime, before anything is created: libseccomp
/// allocates, and the init, which inherits the result, then only has to load it.
pub(super) fn compile_seccomp(
    bundle: &Bundle,
    log_debug: Option<&dyn Fn(&str)>,
) -> Result<Option<corral_seccomp::Compiled>> {
    let Some(s) = bundle
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.seccomp().as_ref())
    else {
        return Ok(None);
    };
    let compiled = corral_seccomp::compile(s)
        .map_err(|e| crate::validate::seccomp_error(&bundle.config_path, e))?;
    crate::trace::step(|| seccomp_summary(s, &compiled));
    if let (Some(log), false) = (log_debug, compiled.skipped().is_empty()) {
        log(&format!(
            "linux.seccomp: syscalls unknown to libseccomp, left out of the filter: {}",
            compiled.skipped().join(", ")
        ));
    }
    Ok(Some(compiled))
}

/// The filter in words, for `--debug`.
fn seccomp_summary(s: &oci_spec::runtime::LinuxSeccomp, c: &corral_seccomp::Compiled) -> String {
    use corral_seccomp::name;
    let rules = s.syscalls().as_deref().unwrap_or_default();
    let names: usize = rules.iter().map(|r| r.names().len()).sum();
    let archs: Vec<String> = s.architectures().iter().flatten().map(name).collect();
    let flags: Vec<String> = s.flags().iter().flatten().map(name).collect();
    format!(
        "seccomp: compiled, default action {}, {} rules ({names} syscall names, {} unknown \
         to libseccomp), architectures {} (and the native one), flags {}{}",
        name(&s.default_action()),
        rules.len(),
        c.skipped().len(),
        if archs.is_empty() {
            "none".into()
        } else {
            archs.join(",")
        },
        if flags.is_empty() {
            "none".into()
        } else {
            flags.join(",")
        },
        if c.uses_notify() {
            ", with a notify listener"
        } else {
            ""
        },
    )
}

fn create_in(
    dir: &StateDir,
    bundle: &Bundle,
    seccomp: Option<&corral_seccomp::Compiled>,
    (cgroup, scope): (Option<&corral_cgroups::Cgroup>, Option<&Scope>),
    opts: &CreateOptions,
    run_console: Option<BorrowedFd>,
    trampoline: Option<&OwnedFd>,
) -> Result<i32> {
    // The cgroup exists before the init does, which joins it before it runs; on v2 its
    // limits are written while the init sets itself up (`record` below).
    let made = match cgroup {
        Some(cg) => Some(super::cgroup::make(cg, dir)?),
        None => None,
    };
    let cgroup = made.as_ref();
    // v1 device rules go in as "deny all", then each rule: a window in which the init,
    // making device nodes, would be refused. So on v1 the limits come first.
    let v1 = |c: &&corral_cgroups::Cgroup| c.version == corral_cgroups::Version::V1;
    if let Some(cg) = cgroup.filter(v1) {
        super::cgroup::limit(cg, &bundle.spec, opts.rootless)?;
    }
    crate::trace::mark("cgroup");
    let start_scope = scope.map(|s| move |pid| super::cgroup::start_scope(s, dir, pid));
    if opts.notify_socket.is_some() {
        super::activation::make_notify_dir(dir)?;
    }
    // Read-write, which never blocks on Linux: the init reads start's byte from it and,
    // should a startContainer hook fail, writes the error back (see start::release).
    let fifo = dir.make_fifo()?;
    let pidfd_socket = opts.pidfd_socket.map(connect_pidfd_socket).transpose()?;
    // Relative mount sources are relative to the bundle.
    nix::unistd::chdir(&bundle.dir)
        .map_err(|e| Error::sys(format!("chdir {}", bundle.dir.display()), e))?;
    // After the chdir: relative bind sources are resolved from the bundle here too.
    let idmapped = crate::rootfs::idmap::prepare(&bundle.spec)?;
    let console = match run_console {
        Some(_) => None,
        None => console_socket(bundle, opts.console_socket)?,
    };
    let cfg = InitConfig {
        spec: &bundle.spec,
        checked: bundle.process.as_ref(),
        idmapped: &idmapped,
        rootfs: &bundle.rootfs,
        no_pivot: opts.no_pivot,
        no_new_keyring: opts.no_new_keyring,
        preserve_fds: opts.listen_fds + opts.preserve_fds,
        parent_fds: dir
            .parent_fds()
            .into_iter()
            .chain(pidfd_socket.as_ref().map(|s| s.as_raw_fd()))
            .collect(),
        seccomp,
        id: opts.id,
        bundle: &bundle.dir,
        console_socket: run_console
            .map(|fd| fd.as_raw_fd())
            .or(console.as_ref().map(|s| s.as_raw_fd())),
        cgroup,
        start_scope: start_scope
            .as_ref()
            .map(|f| f as &dyn Fn(i32) -> Result<()>),
        trampoline,
    };
    // Recorded while the init sets itself up; if it then fails, the caller removes the dir.
    let record = |spawned: &spawn::Spawned| -> Result<()> {
        if let Some(cg) = cgroup.filter(|c| !v1(c)) {
            super::cgroup::limit(cg, &bundle.spec, opts.rootless)?;
            crate::trace::mark("cgroup");
        }
        let pid = spawned.pid.as_raw();
        // Written from here, the host: the init is not dumpable, so in a user namespace
        // its own /proc files belong to the host's root and it cannot write them.
        if let Some(adj) = bundle
            .spec
            .process()
            .as_ref()
            .and_then(|p| p.oom_score_adj())
        {
            let path = format!("/proc/{pid}/oom_score_adj");
            std::fs::write(&path, adj.to_string())
                .map_err(|e| Error::io("process.oomScoreAdj: cannot write", &path, e))?;
        }
        let (_, pid_start) =
            proc_stat(pid).ok_or_else(|| Error::Init("the container init died".into()))?;
        let saved = Saved {
            ptrace_marked_since_create: true,
            ..Saved::of_new_init(
                opts.id,
                bundle,
                (pid, pid_start),
                spawned.own_pid_ns,
                cgroup.cloned(),
            )
        };
        dir.save(&saved)
    };
    let spawned = spawn::spawn(&cfg, fifo, record)?;
    let pid = spawned.pid.as_raw();
    // Only once the init is ready, so a failed create leaves no pid file.
    let ready = || -> Result<()> {
        // In its network namespace, whichever way the init got one; before `start`.
        crate::netdev::move_in(dir, &bundle.spec, pid)?;
        if let Some(p) = opts.pid_file {
            write_pid_file(p, pid)?;
        }
        if let Some(s) = &pidfd_socket {
            send_pidfd(s, pid, "standard")?;
        }
        Ok(())
    };
    if let Err(e) = ready() {
        crate::signal::kill_child(pid);
        let _ = nix::sys::wait::waitpid(spawned.pid, None);
        return Err(e);
    }
    Ok(pid)
}

/// Records the rootfs bind the init made in the host's mount namespace, for `delete`.
fn record_host_mount(dir: &StateDir, root: &Path, before: &[u64]) -> Result<()> {
    let id = crate::rootfs::host::made_since(root, before)?;
    let mut saved = dir
        .load()?
        .ok_or_else(|| Error::Init("the container's state was not saved".into()))?;
    saved.host_mount = id;
    dir.save(&saved)
}

/// Writes the pid file atomically: a reader sees no file or the whole pid. The
/// temporary file is made beside it through the directory's fd, never through a
/// symlink left at its name (which would have root write the pid wherever it points).
pub fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    let bad = || Error::Other(format!("--pid-file {}: no file name", path.display()));
    let name = path.file_name().ok_or_else(bad)?.to_str().ok_or_else(bad)?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let dir = nix::fcntl::open(
        parent,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(|e| Error::sys(format!("--pid-file: open {}", parent.display()), e))?;
    // SAFETY: open returned a new fd that nothing else owns.
    let dir = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(dir) };
    crate::rootdir::write_atomic_mode(dir.as_raw_fd(), name, pid.to_string().as_bytes(), 0o644)
        .map_err(|e| Error::sys(format!("--pid-file: write {}", path.display()), e))
}

/// The `--console-socket` connection for a container with a terminal (runc's rules: one
/// needs the other); for `create` and `restore`.
pub(super) fn console_socket(bundle: &Bundle, socket: Option<&Path>) -> Result<Option<UnixStream>> {
    let terminal = bundle.spec.process().as_ref().and_then(|p| p.terminal()) == Some(true);
    match (terminal, socket) {
        (false, None) => Ok(None),
        (true, None) => Err(Error::Other(format!(
            "{}: process.terminal: a terminal needs --console-socket to send it to \
             (only a foreground `run` relays one itself)",
            bundle.config_path.display()
        ))),
        (false, Some(p)) => Err(Error::Other(format!(
            "--console-socket {}: the container has no terminal (process.terminal is not true)",
            p.display()
        ))),
        (true, Some(p)) => UnixStream::connect(p)
            .map(Some)
            .map_err(|e| Error::io("cannot connect to --console-socket", p, e)),
    }
}
