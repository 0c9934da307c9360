//! `restore`: a container made again from CRIU's images, under a (maybe new) id.
//!
//! As `create` does, the id is claimed and the cgroup made with the bundle's limits
//! before anything runs (corral's cgroup code, not CRIU's); CRIU itself is moved into
//! that cgroup before it execs, so the tree it restores is born there (and
//! `--cgroup-root` tells it so). With `--systemd-cgroup` that cgroup is the container's
//! transient scope, started first around a holding process
//! (`cgroup::start_held_scope`), its limits written, as `create` has them. The rootfs
//! is bound on `<state dir>/criu-root` for CRIU's `--root` (it needs a mount point),
//! and the external mounts `checkpoint` declared are mapped to their host paths again.
//! The restored init is restored as corral's child (`--restore-sibling`), so a
//! foreground restore waits for it like `run`. The caller's stdio pipes, or a new pty
//! for a terminal, take the place of those the images name (see `criu_fds`). Any
//! failure removes what was made: cgroup (and whatever CRIU had restored in it), the
//! bind, the state dir.

use super::checkpoint::{external_mounts, external_namespaces, CriuOptions, NET_KEY};
use super::{delete, foreground};
use crate::bundle::Bundle;
use crate::state::{proc_stat, Saved, StateDir};
use crate::{criu, Error, Result};
use corral_cgroups::systemd::Scope;
use corral_cgroups::{Cgroup, Version};
use oci_spec::runtime::LinuxNamespaceType;
use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

pub struct RestoreOptions<'a> {
    pub root: &'a Path,
    pub id: &'a str,
    pub bundle: &'a Path,
    pub criu: &'a CriuOptions,
    pub detach: bool,
    pub pid_file: Option<&'a Path>,
    /// `--console-socket`: where the master of the restored terminal's new pty goes.
    pub console_socket: Option<&'a Path>,
    pub no_subreaper: bool,
    /// `--lsm-profile TYPE:NAME` and `--lsm-mount-context CTX`, passed to CRIU.
    pub lsm_profile: Option<&'a str>,
    pub lsm_mount_context: Option<&'a str>,
    /// `--systemd-cgroup`: the cgroup is a transient scope, started before CRIU runs.
    pub systemd_cgroup: bool,
    pub warn: &'a dyn Fn(&str),
}

/// Restores the container; returns the exit status (the container's in the foreground).
pub fn restore(o: &RestoreOptions) -> Result<i32> {
    let criu = criu::find()?;
    let images = &o.criu.image_path;
    if !images.join("inventory.img").is_file() {
        return Err(Error::Other(format!(
            "--image-path {}: no checkpoint there (no inventory.img)",
            images.display()
        )));
    }
    let bundle = super::create::load_bundle(o.id, o.bundle, true)?;
    for w in &bundle.warnings {
        (o.warn)(w);
    }
    let console = super::create::console_socket(&bundle, o.console_socket)?;
    let (cgroup, scope) = super::cgroup::resolve(&bundle, o.id, false, o.systemd_cgroup, o.warn)?;
    if !o.detach && !o.no_subreaper {
        foreground::become_subreaper()?;
    }
    let dir = StateDir::create(o.root, o.id)?;
    let console = console.as_ref().map(|c| c.as_raw_fd());
    let cgroup = (cgroup.as_ref(), scope.as_ref());
    let pid = match restore_in(&dir, &bundle, cgroup, &criu, console, o) {
        Ok(pid) => pid,
        Err(e) => {
            // CRIU may have restored part of the tree in the cgroup: destroy kills it.
            super::cgroup::destroy_recorded(&dir);
            let _ = dir.remove();
            return Err(e);
        }
    };
    // Unlocked: while the container runs, kill, pause, exec and checkpoint need the lock.
    drop(dir);
    if o.detach {
        return Ok(0);
    }
    foreground::forward_signals(pid, false)?;
    let code = foreground::wait(pid, None, None, o.warn)?;
    delete(o.root, o.id, true, o.warn)?;
    Ok(code)
}

fn restore_in(
    dir: &StateDir,
    bundle: &Bundle,
    (cgroup, scope): (Option<&Cgroup>, Option<&Scope>),
    criu: &Path,
    console: Option<RawFd>,
    o: &RestoreOptions,
) -> Result<i32> {
    let made = cgroup
        .map(|cg| {
            let made = super::cgroup::make(cg, dir)?;
            super::cgroup::limit(&made, &bundle.spec, false).map(|()| made)
        })
        .transpose()?;
    // Dropped (the holder gone) when this returns: after CRIU, on every path.
    let _holder = scope
        .map(|s| super::cgroup::start_held_scope(s, dir))
        .transpose()?;
    let work = o.criu.work();
    std::fs::create_dir_all(work).map_err(|e| Error::io("--work-path", work, e))?;
    let criu_root = dir.dir.join("criu-root");
    std::fs::create_dir(&criu_root).map_err(|e| Error::io("cannot make", &criu_root, e))?;
    let rootfs = bundle
        .rootfs
        .canonicalize()
        .map_err(|e| Error::io("cannot resolve", &bundle.rootfs, e))?;
    make_mountpoints(bundle, &rootfs)?;
    nix::mount::mount(
        Some(&rootfs),
        &criu_root,
        None::<&str>,
        nix::mount::MsFlags::MS_BIND | nix::mount::MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(|e| {
        Error::sys(
            format!("bind {} on {}", rootfs.display(), criu_root.display()),
            e,
        )
    })?;
    let pidfile = dir.dir.join("criu.pid");
    let result = (|| {
        let (mut args, _netns) = restore_args(bundle, made.as_ref(), &criu_root, &pidfile, o)?;
        let process = bundle.spec.process().as_ref();
        let terminal = console.zip(process);
        let inherited = super::criu_fds::restore(&o.criu.image_path, terminal)?;
        args.extend(inherited.args.iter().cloned());
        let join = made.as_ref().map(procs_files).unwrap_or_default();
        criu::run(
            criu,
            "restore",
            &args,
            work,
            "restore.log",
            Some(Box::new(move || join_cgroup(&join))),
        )?;
        read_pid(&pidfile)
    })();
    let _ = nix::mount::umount2(&criu_root, nix::mount::MntFlags::MNT_DETACH);
    let _ = std::fs::remove_dir(&criu_root);
    let _ = std::fs::remove_file(&pidfile);
    let pid = result?;
    let (_, pid_start) = proc_stat(pid)
        .ok_or_else(|| Error::Other(format!("the restored init {pid} died at once")))?;
    let saved = Saved::of_new_init(
        o.id,
        bundle,
        (pid, pid_start),
        crate::process::has_own_pid_ns(&bundle.spec),
        made,
    );
    dir.save(&saved)?;
    dir.created()?;
    if let Some(p) = o.pid_file {
        super::create::write_pid_file(p, pid)?;
    }
    Ok(pid)
}

/// Every mount's destination exists in the rootfs, as `create` makes them, for CRIU to
/// mount on: a new container's rootfs (podman's `restore --import`) lacks those the
/// runtime made in the old one (`/etc/hosts`, …). Not below a tmpfs, whose files CRIU
/// restores itself.
fn make_mountpoints(bundle: &Bundle, rootfs: &Path) -> Result<()> {
    use crate::rootfs::paths::{InRoot, Kind};
    let root = InRoot::open(rootfs)?;
    let mounts: Vec<_> = bundle.spec.mounts().iter().flatten().collect();
    let tmpfs: Vec<&Path> = mounts
        .iter()
        .filter(|m| m.typ().as_deref() == Some("tmpfs"))
        .map(|m| m.destination().as_path())
        .collect();
    for m in &mounts {
        let dest = m.destination().as_path();
        if tmpfs.iter().any(|t| dest != *t && dest.starts_with(t)) {
            continue;
        }
        let file = crate::rootfs::is_bind(m)
            && m.source()
                .as_ref()
                .and_then(|s| std::fs::metadata(bundle.dir.join(s)).ok())
                .is_some_and(|md| !md.is_dir());
        root.target(dest, if file { Kind::File } else { Kind::Dir })?;
    }
    Ok(())
}

/// CRIU's restore flags; also the fd of a joined network namespace, which must stay
/// open (inherited by CRIU) until it has run.
fn restore_args(
    bundle: &Bundle,
    cgroup: Option<&Cgroup>,
    criu_root: &Path,
    pidfile: &Path,
    o: &RestoreOptions,
) -> Result<(Vec<String>, Option<OwnedFd>)> {
    let s = |p: &Path| p.to_string_lossy().into_owned();
    let mut a = o.criu.common_args()?;
    a.extend([
        "--root".into(),
        s(criu_root),
        "--restore-detached".into(),
        "--restore-sibling".into(),
    ]);
    a.extend(["--pidfile".into(), s(pidfile)]);
    for (key, host) in external_mounts(&bundle.spec, &bundle.dir) {
        a.extend([
            "--external".into(),
            format!("mnt[{key}]:{}", host.display()),
        ]);
    }
    for (root, ctrl) in cgroup.map(cgroup_roots).unwrap_or_default() {
        let v = if ctrl.is_empty() {
            root
        } else {
            format!("{ctrl}:{root}")
        };
        a.extend(["--cgroup-root".into(), v]);
    }
    if let Some(p) = o.lsm_profile {
        a.extend(["--lsm-profile".into(), p.into()]);
    }
    if let Some(c) = o.lsm_mount_context {
        a.extend(["--lsm-mount-context".into(), c.into()]);
    }
    let mut netns = None;
    if !external_namespaces(&bundle.spec)?.is_empty() {
        let path = bundle
            .spec
            .linux()
            .as_ref()
            .and_then(|l| l.namespaces().as_ref())
            .into_iter()
            .flatten()
            .find(|n| n.typ() == LinuxNamespaceType::Network)
            .and_then(|n| n.path().clone())
            .expect("external_namespaces found one");
        // Without O_CLOEXEC: CRIU inherits it.
        let fd = crate::sys::open(
            &path,
            nix::fcntl::OFlag::O_RDONLY,
            nix::sys::stat::Mode::empty(),
        )
        .map_err(|e| Error::sys(format!("linux.namespaces: open {}", path.display()), e))?;
        a.extend([
            "--inherit-fd".into(),
            format!("fd[{}]:{NET_KEY}", fd.as_raw_fd()),
        ]);
        netns = Some(fd);
    }
    Ok((a, netns))
}

/// Each hierarchy's cgroup as (path below its mount, controllers joined by commas;
/// empty on v2), for `--cgroup-root`.
fn cgroup_roots(cg: &Cgroup) -> Vec<(String, String)> {
    cg.dirs
        .iter()
        .map(|d| {
            let rel = d.path.strip_prefix(&d.mount).unwrap_or(&d.path);
            let ctrl = match cg.version {
                Version::V2 => String::new(),
                Version::V1 => d.controllers.join(","),
            };
            (format!("/{}", rel.display()), ctrl)
        })
        .collect()
}

fn procs_files(cg: &Cgroup) -> Vec<CString> {
    cg.dirs
        .iter()
        .filter_map(|d| CString::new(d.path.join("cgroup.procs").as_os_str().as_bytes()).ok())
        .collect()
}

/// In CRIU's child before exec: joins every hierarchy's cgroup (writes "0", itself).
/// Only open/write/close: nothing that allocates after fork.
fn join_cgroup(files: &[CString]) -> std::io::Result<()> {
    for f in files {
        // SAFETY: a NUL-terminated path; the fd is closed below.
        let fd = unsafe { libc::open(f.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: writes one byte from a static buffer to the fd opened above.
        let n = unsafe { libc::write(fd, b"0".as_ptr().cast(), 1) };
        let err = std::io::Error::last_os_error();
        // SAFETY: closes the fd opened above.
        unsafe { libc::close(fd) };
        if n != 1 {
            return Err(err);
        }
    }
    Ok(())
}

fn read_pid(pidfile: &Path) -> Result<i32> {
    let text = std::fs::read_to_string(pidfile)
        .map_err(|e| Error::io("criu restore wrote no pid file", pidfile, e))?;
    text.trim().parse().map_err(|_| {
        Error::Other(format!(
            "criu restore: pid file {}: {text:?} is not a pid",
            pidfile.display()
        ))
    })
}
