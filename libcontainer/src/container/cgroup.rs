//! The container's cgroup as `create` makes it: where (resolved before anything is
//! made), then the directories and the limits, before the init is cloned.

use crate::bundle::Bundle;
use crate::state::StateDir;
use crate::validate::cgroup_error;
use crate::{Error, Result};
use corral_cgroups::systemd::Scope;
use corral_cgroups::{Cgroup, DeviceRule};
use oci_spec::runtime::{LinuxResources, Spec};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

/// Where the container's cgroup goes; `None` in rootless mode (no cgroup yet). Also
/// checks that the host has what `linux.resources` needs there. With `--systemd-cgroup`
/// also the scope `create` starts once the init exists (see `corral_cgroups::systemd`):
/// for a caller that is not root on the host a scope of its own systemd user manager,
/// with the limits its delegated controllers allow (the others named in a warning,
/// never refused).
pub(super) fn resolve(
    bundle: &Bundle,
    id: &str,
    rootless: bool,
    systemd: bool,
    warn: &dyn Fn(&str),
) -> Result<(Option<Cgroup>, Option<Scope>)> {
    // Rootless mode, or root of a user namespace that maps it to a user of the host
    // (rootless podman runs the runtime so): the bus sees that user, whose manager is
    // the one to ask (runc asks the user bus for its owner's uid to decide the same).
    let user = systemd && (rootless || corral_cgroups::dbus::peer_uid() != 0);
    let spec = &bundle.spec;
    let path = spec.linux().as_ref().and_then(|l| l.cgroups_path().clone());
    let path = path.as_ref().map(|p| p.to_string_lossy().into_owned());
    // A bad cgroupsPath or annotation is about config.json; the rest is about the flag.
    let config_error = |e| match e {
        e @ corral_cgroups::Error::Invalid { .. } => cgroup_error(&bundle.config_path, e),
        e => Error::Cgroup(e),
    };
    let scope = match systemd {
        true => Some(
            corral_cgroups::systemd::plan(
                path.as_deref(),
                id,
                spec.annotations().as_ref(),
                resources(spec),
                &device_rules(),
                user,
            )
            .map_err(config_error)?,
        ),
        false => None,
    };
    if let Some(s) = scope.as_ref().filter(|s| !s.skipped.is_empty()) {
        warn(&format!(
            "rootless mode: controllers not delegated to uid {} by its systemd user \
             manager ({}): {} not applied",
            corral_cgroups::dbus::peer_uid(),
            s.cgroup.dirs[0]
                .path
                .parent()
                .unwrap_or(&s.cgroup.dirs[0].path)
                .display(),
            s.skipped.join(", ")
        ));
    }
    if rootless && scope.is_none() {
        return Ok((None, None));
    }
    let cg = match &scope {
        Some(s) => s.cgroup.clone(),
        None => Cgroup::resolve(path.as_deref(), id)?,
    };
    // A user manager's scope holds only what its delegated controllers allow (above).
    if let (Some(r), false) = (resources(spec), user) {
        corral_cgroups::check::host(r, &cg).map_err(|e| cgroup_error(&bundle.config_path, e))?;
    }
    Ok((Some(cg), scope))
}

/// Rootless mode without `--systemd-cgroup`: the container's cgroup where the caller
/// may make it (a delegated subtree, see `corral_cgroups::rootless`), with the limits of
/// the controllers delegated there; else none. What is skipped is a warning naming the
/// fields, never a refusal: `spec`'s resources are cut down to what is set.
pub(super) fn rootless(
    spec: &mut Spec,
    file: &Path,
    id: &str,
    warn: &dyn Fn(&str),
) -> Result<Option<Cgroup>> {
    use corral_cgroups::rootless::{delegated_only, limits, undelegated};
    let path = spec.linux().as_ref().and_then(|l| l.cgroups_path().clone());
    let path = path.as_ref().map(|p| p.to_string_lossy().into_owned());
    let cg = Cgroup::resolve(path.as_deref(), id).map_err(|e| cgroup_error(file, e))?;
    let wanted = resources(spec).cloned().unwrap_or_default();
    let Some(linux) = spec.linux_mut() else {
        return Ok(None);
    };
    if let Some(why) = undelegated(&cg) {
        let mut fields: Vec<String> = path
            .iter()
            .filter(|p| !p.is_empty())
            .map(|_| "linux.cgroupsPath".into())
            .collect();
        fields.extend(limits(&wanted, cg.version).into_iter().map(|(f, _)| f));
        if !fields.is_empty() {
            warn(&format!(
                "rootless mode: no cgroup for the container ({why}): {} not applied",
                fields.join(", ")
            ));
        }
        linux.set_resources(None);
        return Ok(None);
    }
    let (kept, skipped) = delegated_only(&wanted, &cg);
    if !skipped.is_empty() {
        warn(&format!(
            "rootless mode: controllers not delegated to uid {} in {}: {} not applied",
            nix::unistd::geteuid(),
            cg.dirs[0]
                .path
                .parent()
                .unwrap_or(&cg.dirs[0].path)
                .display(),
            skipped.join(", ")
        ));
    }
    linux.set_resources(Some(kept));
    Ok(Some(cg))
}

fn resources(spec: &Spec) -> Option<&LinuxResources> {
    spec.linux().as_ref().and_then(|l| l.resources().as_ref())
}

/// Makes the cgroup ([`limit`] writes the limits). A cgroup that already exists is joined only
/// if it is empty: `delete` kills what is in it, and must never reach other processes.
/// Once that is checked, the cgroup is recorded in the state dir before anything is
/// made, so that a failed `create`, or `delete` after a `create` that died half way,
/// removes it, and neither ever touches a cgroup this container did not claim.
///
/// Returns the cgroup with the parents it made for a nested cgroupsPath (recorded again
/// once made), which `delete` removes when they are empty. A parent that exists is
/// shared if another container under the root recorded it (it may be deleted first,
/// and then this one removes it); one made by someone else is never removed. The
/// root stays locked meanwhile, so that no delete removes a parent this one goes into.
///
/// A systemd scope is neither made nor recorded here: it is started, and then
/// recorded, once the init exists (see [`start_scope`]).
pub(super) fn make(cg: &Cgroup, dir: &StateDir) -> Result<Cgroup> {
    crate::trace::step(|| {
        let dirs: Vec<String> = cg
            .dirs
            .iter()
            .map(|d| d.path.display().to_string())
            .collect();
        format!(
            "cgroup: driver {:?} (cgroup {:?}), at {}",
            cg.driver,
            cg.version,
            dirs.join(", ")
        )
    });
    if let Some(pid) = cg.pids().first() {
        return Err(Error::Other(format!(
            "linux.cgroupsPath: cgroup {} exists and holds process {pid}: not joined",
            cg.dirs[0].path.display()
        )));
    }
    if cg.driver.is_systemd() {
        return Ok(cg.clone());
    }
    dir.save_cgroup(cg)?;
    let mut made = cg.clone();
    {
        let _root = dir.lock_root()?;
        let others = dir.others_cgroups();
        let shared = |p: &Path| others.iter().any(|o| o.made().any(|m| m == p));
        let created = made.create(&shared);
        if made != *cg {
            dir.save_cgroup(&made)?;
        }
        created?;
    }
    Ok(made)
}

/// Writes the limits of `spec` and the device rules to the cgroup [`make`] made (with
/// the systemd driver the scope's properties hold them). `create` does it once the init
/// is cloned, while the init sets itself up: it handles the init's Ready only after
/// this, and nothing of the container runs before then. A rootless container gets no
/// device filter (see `corral_cgroups::rootless::limits`).
pub(super) fn limit(cg: &Cgroup, spec: &Spec, rootless: bool) -> Result<()> {
    if cg.driver.is_systemd() {
        return Ok(());
    }
    let none = LinuxResources::default();
    let extra = if rootless { vec![] } else { device_rules() };
    cg.apply(resources(spec).unwrap_or(&none), &extra)?;
    Ok(())
}

/// After a failed `create` or `restore`: the cgroup it recorded in `dir` (only one it
/// claimed), with whatever is in it, and the parents it made.
pub(super) fn destroy_recorded(dir: &StateDir) {
    if let Ok(Some(cg)) = dir.load_cgroup() {
        let _root = cg.made().next().map(|_| dir.lock_root());
        let _ = cg.destroy();
    }
}

/// Starts the container's scope with the init `pid` in it, then records it: recorded
/// only once it is this container's, so that a failed `create` (a unit of that name that
/// is not ours, above all) never stops it. Should corral die between the two, the init
/// dies with it (it waits for corral), and systemd unloads the emptied scope itself.
pub(super) fn start_scope(scope: &Scope, dir: &StateDir, pid: i32) -> Result<()> {
    scope.start(pid)?;
    dir.save_cgroup(&scope.cgroup)
}

/// Starts the container's scope for `restore` before CRIU runs, held by a process of
/// corral's own: systemd starts no scope without a process in it, and CRIU, run as a
/// command, cannot be held between fork and exec while the unit starts. CRIU then joins
/// the scope's cgroup and restores the tree into it (`--cgroup-root`); the holder goes
/// when it is dropped, after CRIU (the restored tree keeps the scope alive).
pub(super) fn start_held_scope(scope: &Scope, dir: &StateDir) -> Result<Holder> {
    let holder = Holder::fork()?;
    start_scope(scope, dir, holder.pid.as_raw())?;
    Ok(holder)
}

/// A child that blocks reading a pipe until corral closes the other end (or dies), then
/// exits; reaped when dropped.
pub(super) struct Holder {
    pid: nix::unistd::Pid,
    release: Option<OwnedFd>,
}

impl Holder {
    fn fork() -> Result<Holder> {
        use nix::unistd::{fork, ForkResult};
        let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| Error::sys("--systemd-cgroup: pipe for the scope's holder", e))?;
        // SAFETY: corral has one thread; the child only closes, reads and exits, all
        // async-signal-safe, and runs no destructor (`_exit`).
        match unsafe { fork() } {
            Ok(ForkResult::Child) => {
                let mut b = [0u8; 1];
                // SAFETY: the write end is this process's copy: closed so that EOF comes
                // when corral closes its own; then reads into a local buffer until it does.
                unsafe {
                    libc::close(w.as_raw_fd());
                    while libc::read(r.as_raw_fd(), b.as_mut_ptr().cast(), 1) < 0
                        && *libc::__errno_location() == libc::EINTR
                    {}
                    libc::_exit(0)
                }
            }
            Ok(ForkResult::Parent { child }) => Ok(Holder {
                pid: child,
                release: Some(w),
            }),
            Err(e) => Err(Error::sys("--systemd-cgroup: fork the scope's holder", e)),
        }
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        drop(self.release.take());
        let _ = nix::sys::wait::waitpid(self.pid, None);
    }
}

/// Devices every container may use after the spec's own rules: runc's list (null, zero,
/// full, random, urandom, tty, ptmx, pts, tun, and mknod of any node), nothing more.
/// The nodes of `linux.devices` get no rule of their own: a config that lists a node
/// but denies it in `linux.resources.devices` keeps it denied, as with runc (engines
/// that want it usable add the allow rule themselves).
fn device_rules() -> Vec<DeviceRule> {
    let rule = |typ, major, minor, access: &str| DeviceRule {
        typ,
        major,
        minor,
        access: access.into(),
    };
    vec![
        rule('c', None, None, "m"),
        rule('b', None, None, "m"),
        rule('c', Some(1), Some(3), "rwm"),
        rule('c', Some(1), Some(5), "rwm"),
        rule('c', Some(1), Some(7), "rwm"),
        rule('c', Some(1), Some(8), "rwm"),
        rule('c', Some(1), Some(9), "rwm"),
        rule('c', Some(5), Some(0), "rwm"),
        rule('c', Some(5), Some(2), "rwm"),
        rule('c', Some(136), None, "rwm"),
        rule('c', Some(10), Some(200), "rwm"),
    ]
}
