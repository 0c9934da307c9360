//! The container init: runs in the cloned child, never returns.
//!
//! not dumpable → enter the cgroup (itself, or placed by the parent) (cgroup namespace) → join/create namespaces (time offsets) → private procfs → hostname →
//! keyring → rootfs (joining the network namespace the parent made, before the first
//! mount that may depend on it and before the hooks) → sysctls → scheduler, io priority → rlimits and identity → cwd
//! (inside the root), executable lookup, fds → personality, exec labels → groups, gid,
//! no_new_privs → seccomp → uid, capabilities → Ready → block on exec.fifo →
//! startContainer hooks → execve; or, in most containers, Ready → execveat of the exec
//! trampoline, which blocks on exec.fifo and execs the program (`crate::trampoline`).
//! (oomScoreAdj is written by the parent.) After the seccomp filter the init makes only
//! the calls listed in `filter`.
//! Any error before Ready is sent to the parent, which reports it and cleans up.
//! The steps from the scheduler on are [`finish`], which `exec` shares.

use super::channel::{ChildEnd, ChildMsg, ParentMsg};
use super::namespaces::{self, Plan};
use super::procfs::Procfs;
use super::{filter, init_hooks, lsm, sched, sysctl, tty, user, InitConfig};
use crate::checked::CheckedProcess;
use crate::rootfs::{self, RootfsConfig};
use crate::sys::{self, Forked};
use crate::{Error, Result};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use oci_spec::runtime::{
    ExecCPUAffinity, LinuxMemoryPolicy, LinuxPersonality, LinuxSeccomp, Process,
};
use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const NEWUSER: u64 = libc::CLONE_NEWUSER as u64;

/// The program to exec, resolved before Ready so a missing one fails `create`.
pub(super) struct Exec {
    path: CString,
    args: Vec<CString>,
    env: Vec<CString>,
}

pub(super) fn run(
    cfg: &InitConfig,
    plan: &Plan,
    entry: Option<&corral_cgroups::Entry>,
    chan: ChildEnd,
    fifo: OwnedFd,
) -> ! {
    crate::trace::restart_in_child();
    crate::trace::mark("clone");
    // Until it execs, the init is the corral binary: not dumpable, no process of the
    // container may ptrace it, read its memory or open /proc/<pid>/exe (CVE-2019-5736:
    // a container that can reach the runtime's binary through that link can overwrite
    // it on the host). execve makes the user's program dumpable again.
    if let Err(e) = set_dumpable(false) {
        let _ = chan.send(&ChildMsg::Error(e.to_string()));
        sys::exit_now(1);
    }
    for fd in &cfg.parent_fds {
        // The parent's copies stay open; this process never drops their owners (it
        // execs or _exits), so nothing closes them twice.
        let _ = nix::unistd::close(*fd);
    }
    let ready = blocking(&fifo).and_then(|()| setup(cfg, plan, entry, &chan, fifo.as_raw_fd()));
    let exec = match ready {
        Ok(exec) => exec,
        Err(e) => fail(&chan, &e.to_string()),
    };
    crate::trace::step(|| "ready: waits on exec.fifo for start".into());
    if let Err(e) = send_trace(&chan).and_then(|()| chan.send(&ChildMsg::Ready)) {
        let _ = chan.send(&ChildMsg::Error(e.to_string()));
        sys::exit_now(1);
    }
    drop(chan);
    // Without a process (see `setup`) `start` refuses before it writes: nothing wakes
    // this init but a signal.
    let Some(exec) = exec else {
        wait_for_start(&fifo);
        sys::exit_now(1);
    };
    if let Some(t) = cfg.trampoline {
        // From here the container's process runs the trampoline, not corral: it waits for
        // `start` and execs the program (see crate::trampoline).
        let err = through_trampoline(t, fifo.as_raw_fd(), &exec);
        eprintln!("corral: {err}");
        sys::exit_now(127);
    }
    let Some(byte) = wait_for_start(&fifo) else {
        sys::exit_now(1);
    };
    if !init_hooks::start_container(cfg, &fifo, byte == crate::container::START_TRACED) {
        sys::exit_now(1);
    }
    // exec.fifo stays open until execve closes it (close-on-exec): `start` waits for that.
    exec_now(&exec)
}

/// `--debug`: this process's phases and steps, to the parent (before Ready or Error).
pub(super) fn send_trace(chan: &ChildEnd) -> Result<()> {
    if crate::trace::on() {
        for m in crate::trace::encode() {
            chan.send(&ChildMsg::Trace(m))?;
        }
    }
    Ok(())
}

/// Reports `err` (and, with `--debug`, the steps up to it) to the parent and exits.
pub(super) fn fail(chan: &ChildEnd, err: &str) -> ! {
    crate::trace::step(|| format!("failed: {err}"));
    let _ = send_trace(chan);
    let _ = chan.send(&ChildMsg::Error(err.to_string()));
    sys::exit_now(1);
}

/// execve, or a message on stderr and exit 127 (the shell's "cannot execute").
pub(super) fn exec_now(exec: &Exec) -> ! {
    let err = execve(exec);
    eprintln!("corral: {err}");
    sys::exit_now(127);
}

/// Execs the trampoline `t`, which reads a byte from `fd` and execs `exec`; returns only
/// on failure, with what failed.
pub(super) fn through_trampoline(t: &OwnedFd, fd: RawFd, exec: &Exec) -> String {
    crate::trampoline::exec(t, fd, &exec.path, &exec.args, &exec.env)
}

/// execve; returns only on failure, with what failed.
pub(super) fn execve(exec: &Exec) -> String {
    let err = nix::unistd::execve(&exec.path, &exec.args, &exec.env).unwrap_err();
    format!("exec {:?}: {err}", exec.path)
}

/// Everything up to Ready; `None` when the config has no `process` (config.md: it "is
/// REQUIRED when start is called", not at create): then nothing of a process is set
/// up (terminal, scheduler, labels, rlimits, cwd, identity, capabilities,
/// noNewPrivileges, the seccomp filter, whose place among those depends on it) and the
/// init waits with nothing to exec, as the corral binary, not dumpable.
fn setup(
    cfg: &InitConfig,
    plan: &Plan,
    entry: Option<&corral_cgroups::Entry>,
    chan: &ChildEnd,
    fifo: RawFd,
) -> Result<Option<Exec>> {
    if cfg.cgroup.is_some() {
        // Nothing runs before this process is in the container's cgroup: every later
        // child inherits it.
        super::spawn::enter(cfg.cgroup, entry, chan)?;
        crate::trace::mark("join");
        if plan.cgroupns_late {
            // Made now, so that its root is the container's cgroup, not the runtime's.
            namespaces::unshare(libc::CLONE_NEWCGROUP as u64)?;
        }
    }
    let mut offsets = namespaces::open_time_offsets(plan, cfg.spec)?;
    if plan.clone_flags & NEWUSER != 0 {
        mapped(chan)?;
    }
    for (t, fd) in &plan.child_joins {
        namespaces::join(*t, fd)?;
        if *t == oci_spec::runtime::LinuxNamespaceType::User {
            // Our host uid is not mapped there: files we made would fail with EOVERFLOW.
            become_root();
        }
    }
    if plan.child_unshare != 0 {
        namespaces::unshare(plan.child_unshare)?;
        if plan.child_unshare & NEWUSER != 0 {
            mapped(chan)?;
        }
        if let Some(file) = offsets.take() {
            namespaces::write_time_offsets(file, cfg.spec)?;
        }
    }
    if plan.fork_init {
        // Only a child enters the new pid (or time) namespace just unshared. CLONE_PARENT
        // makes it the runtime's child; this process is done.
        // SAFETY: this child of corral's one thread has only that thread.
        match unsafe { sys::clone3_fork(libc::CLONE_PARENT as u64, None) } {
            Ok(Forked::Child) => chan.send(&ChildMsg::Forked)?,
            Ok(Forked::Parent(_)) => sys::exit_now(0),
            Err(e) => return Err(Error::sys("fork the init into its pid namespace", e)),
        }
    }
    let spec = cfg.spec;
    let process = spec.process().as_ref();
    let sysctls = spec
        .linux()
        .as_ref()
        .and_then(|l| l.sysctl().as_ref())
        .filter(|s| !s.is_empty());
    // Made now, in the container's pid and net namespaces, before any container mount.
    let procfs = if sysctls.is_some() || process.is_some_and(lsm::wanted) {
        Some(Procfs::open()?)
    } else if !sys::has_cloexec_range() {
        // Kernels before 5.11 list the fds to mark close-on-exec here (`cloexec_from`).
        Procfs::open().ok()
    } else {
        None
    };
    if let Some(h) = spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        nix::unistd::sethostname(h)
            .map_err(|e| Error::sys(format!("hostname: sethostname {h:?}"), e))?;
    }
    if let Some(d) = spec.domainname().as_deref().filter(|d| !d.is_empty()) {
        // SAFETY: d points to d.len() valid bytes.
        let ret = unsafe { libc::setdomainname(d.as_ptr().cast(), d.len()) };
        nix::errno::Errno::result(ret)
            .map_err(|e| Error::sys(format!("domainname: setdomainname {d:?}"), e))?;
    }
    if !cfg.no_new_keyring {
        sys::join_new_session_keyring().map_err(|e| Error::sys("join a new session keyring", e))?;
    }
    nix::sys::stat::umask(Mode::empty());
    crate::trace::mark("namespaces");
    let in_userns = plan.new_userns
        || plan
            .child_joins
            .iter()
            .any(|(t, _)| *t == oci_spec::runtime::LinuxNamespaceType::User)
        || runtime_in_userns();
    let net = std::cell::Cell::new(plan.net_by_parent);
    let join_net = || join_net(&net, chan);
    rootfs::setup(&RootfsConfig {
        spec,
        rootfs: cfg.rootfs,
        no_pivot: cfg.no_pivot,
        own_mount_ns: namespaces::has_mount_ns(spec),
        in_userns,
        idmapped: cfg.idmapped,
        cgroup: cfg.cgroup,
        // The runtime's hooks run in it too (prestart: a CNI plugin configures it).
        before_pivot: &|| join_net().and_then(|()| init_hooks::before_pivot(cfg, chan)),
        join_net: &join_net,
    })?;
    // Not later than here: sysctls, the process and `start` see the container's.
    join_net()?;
    for tree in cfg.idmapped.iter().flatten() {
        // Attached now; a detached host tree must not stay reachable as /proc/self/fd/N.
        // As for parent_fds in `run`: the owners are never dropped in this process.
        let _ = nix::unistd::close(tree.as_raw_fd());
    }
    let terminal = process.is_some_and(|p| p.terminal() == Some(true));
    if let (true, Some(checked)) = (terminal, cfg.checked) {
        tty::setup(checked, cfg.console_socket, true)?;
    } else {
        // A session of its own, as runc's init has (and the terminal's case makes): a
        // session led from outside the container's pid namespace cannot be dumped by
        // CRIU (`checkpoint`), nor should the container share the caller's session.
        nix::unistd::setsid().map_err(|e| Error::sys("setsid", e))?;
        reopen_dev_null();
    }
    if let (Some(proc), Some(sysctls)) = (&procfs, sysctls) {
        sysctl::write(proc, sysctls)?;
    }
    let Some(process) = process else {
        return Ok(None);
    };
    let checked = cfg
        .checked
        .ok_or_else(|| Error::Init("process: config.json's process was not validated".into()))?;
    let last = LastSteps {
        process,
        checked,
        seccomp: cfg.seccomp,
        profile: spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()),
        caller: filter::Caller::Init {
            start_hooks: !crate::hooks::Kind::StartContainer
                .of(spec.hooks().as_ref())
                .is_empty(),
            trampoline: cfg.trampoline.is_some(),
        },
        // The trampoline waits on exec.fifo in place of this process.
        inherited: cfg.trampoline.map(|_| fifo),
        preserve_fds: cfg.preserve_fds,
        personality: spec.linux().as_ref().and_then(|l| l.personality().as_ref()),
        memory_policy: spec
            .linux()
            .as_ref()
            .and_then(|l| l.memory_policy().as_ref()),
        // runtime-spec: execCPUAffinity is "not applicable to the container's init process".
        exec_cpu_affinity: None,
    };
    finish(&last, procfs, chan).map(Some)
}

/// Stdio that is the caller's /dev/null (an engine's conmon gives it as stdin) becomes
/// the container's own /dev/null, as runc does: a file on a mount of the host's, which
/// the container cannot see, is what CRIU cannot dump (`checkpoint`: "Can't lookup
/// mount"). Best effort: without a /dev/null of its own the container keeps the caller's.
fn reopen_dev_null() {
    let null = nix::sys::stat::makedev(1, 3);
    let Ok(own) = nix::fcntl::open(
        "/dev/null",
        nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_CLOEXEC,
        Mode::empty(),
    ) else {
        return;
    };
    if nix::sys::stat::fstat(own).is_ok_and(|st| st.st_rdev == null) {
        for fd in 0..3 {
            let st = nix::sys::stat::fstat(fd);
            if st.is_ok_and(|st| st.st_mode & libc::S_IFMT == libc::S_IFCHR && st.st_rdev == null) {
                // dup2 clears close-on-exec on the copy.
                let _ = nix::unistd::dup2(own, fd);
            }
        }
    }
    let _ = nix::unistd::close(own);
}

/// What the last steps of setup need, for the init and for `exec` alike.
pub(super) struct LastSteps<'a> {
    pub process: &'a Process,
    /// Its values the validator checked: argv and environment, ids, rlimits,
    /// capabilities.
    pub checked: &'a CheckedProcess,
    pub seccomp: Option<&'a corral_seccomp::Compiled>,
    /// The profile `seccomp` was compiled from, to check before loading it.
    pub profile: Option<&'a LinuxSeccomp>,
    pub caller: filter::Caller,
    /// Extra fds after stdio that the process keeps (`--preserve-fds`).
    pub preserve_fds: u32,
    /// An fd the program exec'd next keeps: exec.fifo, for the trampoline.
    pub inherited: Option<RawFd>,
    pub personality: Option<&'a LinuxPersonality>,
    /// `linux.memoryPolicy` of the container, for the init and `exec` alike.
    pub memory_policy: Option<&'a LinuxMemoryPolicy>,
    /// `process.execCPUAffinity`, whose `final` CPUs an `exec` process moves to.
    pub exec_cpu_affinity: Option<&'a ExecCPUAffinity>,
}

/// The last steps before the user's program, in the order the kernel needs: final CPU
/// affinity and memory policy (in the cgroup by now), scheduler and io priority (while
/// still root), LSM labels opened in `procfs` (the private procfs, when the process asks
/// for labels), rlimits, cwd, the executable, fds, personality, labels written, groups
/// and gid, no_new_privs, then the seccomp filter and, without no_new_privs, uid and
/// capabilities after it. After the filter only the calls listed in `filter` are made.
pub(super) fn finish(s: &LastSteps, procfs: Option<Procfs>, chan: &ChildEnd) -> Result<Exec> {
    let process = s.process;
    super::affinity::final_cpus(s.exec_cpu_affinity)?;
    if let Some(p) = s.memory_policy {
        super::numa::apply(p)?;
    }
    // While still root: real-time policies, negative nice and the RT io class need it.
    sched::set_scheduler(process)?;
    sched::set_io_priority(process)?;
    let labels = match &procfs {
        Some(proc) => Some(lsm::prepare(proc, process)?),
        None => None,
    };
    // Every fd past the preserved ones closes on exec (the runtime's own are O_CLOEXEC
    // already; this catches what the caller left open).
    cloexec_from(3 + s.preserve_fds, procfs.as_ref())?;
    if let Some(fd) = s.inherited {
        let keep = nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty());
        nix::fcntl::fcntl(fd, keep)
            .map_err(|e| Error::sys("keep the trampoline's fd open across exec", e))?;
    }
    drop(procfs);
    user::set_rlimits(&s.checked.rlimits)?;
    let umask = process.user().umask().unwrap_or(0o022);
    nix::sys::stat::umask(Mode::from_bits_truncate(umask));
    // As root, as runc does: a cwd only root may enter is entered.
    chdir_inside(process.cwd())?;
    let env = process.env().as_deref().unwrap_or_default();
    let path = find_executable(&s.checked.program, env)?;
    let exec = Exec {
        path: cstring(path.as_os_str().as_encoded_bytes())?,
        args: s.checked.args.clone(),
        env: s.checked.env.clone(),
    };
    sched::set_personality(s.personality)?;
    if let Some(labels) = labels {
        labels.apply()?;
    }
    // The Rust runtime ignores SIGPIPE in corral, and an ignored signal stays ignored
    // across execve: the user's program gets the default, as with any other runtime.
    // The channel's sends use MSG_NOSIGNAL.
    // SAFETY: signal(2) with SIG_DFL installs no handler.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    user::set_groups_and_gid(s.checked)?;
    let nnp = process.no_new_privileges() == Some(true);
    if nnp {
        user::set_uid_and_caps(s.checked)?;
        user::set_no_new_privileges()?;
    }
    crate::trace::mark("process");
    let loaded = s.seccomp.zip(s.profile);
    if let Some((filter, profile)) = loaded {
        filter::check(profile, process, filter.uses_notify(), s.caller)?;
        crate::trace::step(|| {
            let when = match nnp {
                true => "after no_new_privs and the uid change",
                false => "before the uid and capability change (noNewPrivileges is off)",
            };
            format!("seccomp: loading the filter {when}, the last step before execve")
        });
        filter::load(filter, chan)?;
    }
    crate::trace::mark("seccomp");
    if !nnp {
        // Without no_new_privs the kernel lets only a CAP_SYS_ADMIN holder load a
        // filter, and the uid change drops capabilities: it comes after the load, and
        // its calls are in `filter`'s list.
        user::set_uid_and_caps(s.checked).map_err(|e| match loaded {
            Some(_) => filter::after_load(e),
            None => e,
        })?;
    }
    crate::trace::mark("user");
    Ok(exec)
}

/// chdir to `process.cwd`, which must be inside the container's root: a cwd such as
/// `/proc/self/fd/N` naming a directory fd of the host would otherwise put the
/// container's process outside it (CVE-2024-21626). The kernel reports a cwd outside
/// the root as "(unreachable)", which getcwd(3) turns into ENOENT.
/// Marks every fd from `first` on close-on-exec: close_range(2) (Linux 5.11), or on older
/// kernels each fd a procfs lists, with fcntl(2): the private procfs when there is one,
/// else the container's /proc, checked to be a procfs. Refused when neither can be read:
/// an fd left open across exec would leak into the container.
fn cloexec_from(first: u32, procfs: Option<&Procfs>) -> Result<()> {
    match sys::close_range_cloexec(first) {
        Err(Errno::EINVAL | Errno::ENOSYS) => {}
        r => return r.map_err(|e| Error::sys("close_range", e)),
    }
    let what = "mark fds close-on-exec (this kernel lacks CLOSE_RANGE_CLOEXEC of Linux 5.11)";
    let dir = match procfs {
        Some(p) => p.own_fds(),
        None => container_fds(),
    }
    .map_err(|e| Error::sys(format!("{what}: list the fds in a procfs"), e))?;
    sys::cloexec_listed(dir, first).map_err(|e| Error::sys(what, e))
}

/// The container's /proc/thread-self/fd, if /proc is a procfs.
fn container_fds() -> std::result::Result<OwnedFd, Errno> {
    let fd = sys::open(
        "/proc/thread-self/fd",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    let fs = nix::sys::statfs::fstatfs(&fd)?;
    if fs.filesystem_type() != nix::sys::statfs::PROC_SUPER_MAGIC {
        return Err(Errno::ENOTSUP);
    }
    Ok(fd)
}

fn chdir_inside(cwd: &Path) -> Result<()> {
    nix::unistd::chdir(cwd)
        .map_err(|e| Error::sys(format!("process.cwd: chdir {}", cwd.display()), e))?;
    match nix::unistd::getcwd() {
        Ok(p) if p.is_absolute() => Ok(()),
        _ => Err(Error::Other(format!(
            "process.cwd: {} is outside the container's root",
            cwd.display()
        ))),
    }
}

fn cstring(b: &[u8]) -> Result<CString> {
    CString::new(b).map_err(|_| {
        Error::Other(format!(
            "{:?} contains a NUL byte",
            String::from_utf8_lossy(b)
        ))
    })
}

/// Joins the network namespace the runtime made (`Plan::net_by_parent`) once: `pending`
/// says it has not been joined yet.
fn join_net(pending: &std::cell::Cell<bool>, chan: &ChildEnd) -> Result<()> {
    if !pending.replace(false) {
        return Ok(());
    }
    match chan.recv()? {
        ParentMsg::NetNs(fd) => {
            namespaces::join(oci_spec::runtime::LinuxNamespaceType::Network, &fd)
        }
        m => Err(Error::Init(format!("expected NetNs, got {m:?}"))),
    }
}

/// Asks the parent for uid/gid maps, then becomes root of the new user namespace
/// (when 0 is mapped; otherwise the creator's full capabilities there still hold).
fn mapped(chan: &ChildEnd) -> Result<()> {
    // A parent that is not root may write our maps only while we are dumpable (our /proc
    // files are then its own). Nothing else is in the new user namespace yet.
    set_dumpable(true)?;
    chan.send(&ChildMsg::MapRequest)?;
    match chan.recv()? {
        ParentMsg::MapsWritten => {}
        m => return Err(Error::Init(format!("expected MapsWritten, got {m:?}"))),
    }
    set_dumpable(false)?;
    become_root();
    Ok(())
}

pub(super) fn set_dumpable(on: bool) -> Result<()> {
    nix::sys::prctl::set_dumpable(on)
        .map_err(|e| Error::sys(format!("prctl(PR_SET_DUMPABLE, {on})"), e))
}

/// Becomes uid/gid 0 of the user namespace we are in, when 0 is mapped there.
pub(super) fn become_root() {
    let root_g = nix::unistd::Gid::from_raw(0);
    let root_u = nix::unistd::Uid::from_raw(0);
    let _ = nix::unistd::setresgid(root_g, root_g, root_g);
    let _ = nix::unistd::setresuid(root_u, root_u, root_u);
}

fn is_executable(p: &Path) -> std::io::Result<bool> {
    let m = std::fs::metadata(p)?;
    Ok(m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `args[0]` as execvp(3) would find it, with the container's PATH.
fn find_executable(name: &str, env: &[String]) -> Result<PathBuf> {
    if name.contains('/') {
        return match is_executable(Path::new(name)) {
            Ok(true) => Ok(PathBuf::from(name)),
            Ok(false) => Err(Error::Other(format!("exec: {name:?}: permission denied"))),
            Err(e) => Err(Error::Other(format!("exec: {name:?}: stat {name}: {e}"))),
        };
    }
    let path_var = env
        .iter()
        .rev()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or(DEFAULT_PATH);
    for dir in path_var.split(':') {
        let p = Path::new(if dir.is_empty() { "." } else { dir }).join(name);
        if is_executable(&p).unwrap_or(false) {
            return Ok(p);
        }
    }
    Err(Error::Other(format!(
        "exec: {name:?}: executable file not found in $PATH"
    )))
}

/// Blocks until `start` writes a byte to exec.fifo. The fifo is open read-write here
/// (see `container::start`), so a blocking read sleeps until a byte comes: a writer that
/// leaves without writing changes nothing. One call (`read`) under the seccomp filter.
fn wait_for_start(fifo: &OwnedFd) -> Option<u8> {
    loop {
        let mut b = [0u8; 1];
        match nix::unistd::read(fifo.as_raw_fd(), &mut b) {
            Ok(1) => return Some(b[0]),
            Ok(_) => return None,
            Err(nix::Error::EINTR) => continue,
            Err(_) => return None,
        }
    }
}

/// `create` opens exec.fifo non-blocking (an open of a fifo would block otherwise);
/// the init's copy is its own open file now, and blocks (see `wait_for_start`).
fn blocking(fifo: &OwnedFd) -> Result<()> {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    let flags = fcntl(fifo.as_raw_fd(), FcntlArg::F_GETFL)
        .map_err(|e| Error::sys("read exec.fifo's flags", e))?;
    let flags = OFlag::from_bits_truncate(flags) - OFlag::O_NONBLOCK;
    fcntl(fifo.as_raw_fd(), FcntlArg::F_SETFL(flags))
        .map(drop)
        .map_err(|e| Error::sys("make exec.fifo blocking", e))
}

/// Whether corral itself runs in a user namespace other than the initial one (rootless
/// podman runs the runtime as uid 0 of its own): mknod is refused there too, so device
/// nodes are bound from the host as in a container's own user namespace.
pub(super) fn runtime_in_userns() -> bool {
    // The initial user namespace has a fixed inode number (PROC_USER_INIT_INO): one
    // stat, where reading and parsing uid_map took four calls on every create.
    const INITIAL: u64 = 0xEFFF_FFFD;
    std::fs::metadata("/proc/self/ns/user").is_ok_and(|m| m.ino() != INITIAL)
}
