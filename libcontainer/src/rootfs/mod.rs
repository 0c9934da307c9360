//! The container's filesystem view, built inside its new mount namespace (or, without
//! one, on a private bind of the rootfs in the host's: see `host`):
//! propagation → bind the rootfs → `mounts` in order → `/dev` → hooks → pivot_root →
//! masked and read-only paths → read-only root.

mod cgroupfs;
mod copyup;
pub(crate) mod devices;
pub mod host;
pub mod idmap;
mod masks;
mod mounts;
pub use mounts::is_bind;
pub mod options;
pub mod paths;

use crate::sys;
use crate::{Error, Result};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::Mode;
use oci_spec::runtime::Spec;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::Path;

/// What the rootfs steps need besides the spec.
pub struct RootfsConfig<'a> {
    pub spec: &'a Spec,
    pub rootfs: &'a Path,
    pub no_pivot: bool,
    /// The container has a mount namespace of its own (see `host` when it has not).
    pub own_mount_ns: bool,
    /// The init is in a new user namespace: device nodes cannot be made, only bound.
    pub in_userns: bool,
    /// The idmapped trees the parent prepared, by index of `mounts` (see `idmap`).
    pub idmapped: &'a [Option<OwnedFd>],
    /// The container's cgroup, which a `cgroup` mount shows on a v1 host.
    pub cgroup: Option<&'a corral_cgroups::Cgroup>,
    /// Runs once the mounts are made, before pivot_root (the create-time hooks).
    pub before_pivot: &'a dyn Fn() -> Result<()>,
    /// Runs before each mount that may depend on the network namespace (see
    /// `mounts::net_free`): the init joins the one the runtime made, if it has not yet.
    pub join_net: &'a dyn Fn() -> Result<()>,
}

pub(crate) fn sys_err(what: impl Into<String>) -> impl FnOnce(nix::Error) -> Error {
    let what = what.into();
    move |e| Error::sys(what, e)
}

/// An error of the mount API, saying so when the kernel is too old to have the call.
pub(crate) fn kernel_err(what: impl Into<String>, e: Errno) -> Error {
    let what = what.into();
    if e == Errno::ENOSYS {
        Error::Other(format!(
            "{what}: this kernel lacks the system call (corral mounts with open_tree, \
             move_mount and fsopen of Linux 5.2 and openat2 of 5.6)"
        ))
    } else {
        Error::sys(what, e)
    }
}

/// A failed step of setting mount attributes (see `sys::remount`), for the mount `what`.
pub(crate) fn attr_err(what: &str, f: sys::remount::Failed) -> Error {
    kernel_err(format!("{what}: {}", f.step), f.errno)
}

pub fn setup(cfg: &RootfsConfig) -> Result<()> {
    if cfg.own_mount_ns {
        // Nothing we mount may propagate back to the host: make every mount a slave first.
        crate::trace::step(|| "mount: / made a recursive slave".into());
        mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::MS_SLAVE | MsFlags::MS_REC,
            None::<&str>,
        )
        .map_err(sys_err("make / a recursive slave"))?;
    }
    // The kernel's name for the rootfs, which `paths` compares resolved paths with.
    let rootfs = std::fs::canonicalize(cfg.rootfs)
        .map_err(|e| Error::io("cannot resolve", cfg.rootfs, e))?;
    let rootfs = rootfs.as_path();
    // pivot_root needs the new root to be a mount point.
    crate::trace::step(|| format!("mount: rbind the rootfs {} on itself", rootfs.display()));
    mount(
        Some(rootfs),
        rootfs,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(sys_err(format!("bind mount rootfs {}", rootfs.display())))?;
    if !cfg.own_mount_ns {
        // In the host's mount namespace: only this bind and its copies of submounts
        // change, and nothing mounted under it from now on propagates anywhere.
        mount(
            None::<&str>,
            rootfs,
            None::<&str>,
            MsFlags::MS_PRIVATE | MsFlags::MS_REC,
            None::<&str>,
        )
        .map_err(sys_err(format!("make rootfs {} private", rootfs.display())))?;
    }
    let root = paths::InRoot::open(rootfs)?;
    let linux = cfg.spec.linux().as_ref();
    let env = |i: usize| mounts::Env {
        root: &root,
        idmapped: cfg
            .idmapped
            .get(i)
            .and_then(|t| t.as_ref())
            .map(|t| t.as_fd()),
        label: linux
            .and_then(|l| l.mount_label().as_deref())
            .filter(|l| !l.is_empty()),
        cgroup: cfg.cgroup,
    };
    let spec_mounts = cfg.spec.mounts().as_deref().unwrap_or_default();
    for (i, m) in spec_mounts.iter().enumerate() {
        if !mounts::net_free(m) {
            (cfg.join_net)()?;
        }
        crate::trace::step(|| mounts::describe(i, m));
        mounts::mount_one(&env(i), m).map_err(|e| Error::Other(format!("mounts[{i}]: {e}")))?;
    }
    crate::trace::mark("mounts");
    if !spec_mounts.iter().any(mounts::is_bind_of_dev) {
        let devices = linux
            .and_then(|l| l.devices().as_deref())
            .unwrap_or_default();
        devices::create(&root, devices, cfg.in_userns)?;
        devices::links(&root)?;
    }
    drop(root);
    crate::trace::mark("devices");
    (cfg.before_pivot)()?;
    crate::trace::mark("hooks");
    let how = match (cfg.own_mount_ns, cfg.no_pivot) {
        (false, _) => "chroot (no mount namespace of its own)",
        (true, true) => "move to / and chroot (--no-pivot)",
        (true, false) => "pivot_root",
    };
    crate::trace::step(|| format!("root: {how} into {}", rootfs.display()));
    if !cfg.own_mount_ns {
        chroot(rootfs)?;
    } else if cfg.no_pivot {
        move_root(rootfs)?;
    } else {
        pivot(rootfs)?;
    }
    crate::trace::mark("pivot");
    if let Some(linux) = linux {
        let mut masks = masks::Masks::new()?;
        for p in linux.masked_paths().iter().flatten() {
            masks.mask(p)?;
        }
        for p in linux.readonly_paths().iter().flatten() {
            masks.readonly(p)?;
        }
        if let Some(prop) = linux.rootfs_propagation() {
            let flags = options::propagation(prop).ok_or_else(|| {
                Error::Other(format!(
                    "linux.rootfsPropagation: {prop:?} is not a propagation"
                ))
            })?;
            crate::trace::step(|| format!("mount: rootfsPropagation {prop} on /"));
            mount(None::<&str>, "/", None::<&str>, flags, None::<&str>)
                .map_err(sys_err(format!("set rootfsPropagation {prop}")))?;
        }
    }
    if cfg.spec.root().as_ref().and_then(|r| r.readonly()) == Some(true) {
        // Only the root mount: what is mounted on it keeps its own flags.
        let ro = sys::mount::MountAttr {
            attr_set: sys::mount::MOUNT_ATTR_RDONLY,
            ..Default::default()
        };
        crate::trace::step(|| "mount: / made read-only (root.readonly)".into());
        let root = open_dir(Path::new("/"))?;
        sys::remount::set_at_path(root.as_fd(), "/", &ro)
            .map_err(|f| attr_err("make / read-only (root.readonly)", f))?;
    }
    crate::trace::mark("masks");
    Ok(())
}

fn open_dir(path: &Path) -> Result<OwnedFd> {
    crate::sys::open(
        path,
        OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(sys_err(format!("open {}", path.display())))
}

/// pivot_root(".", ".") stacks the old root on top of the new one; unmounting "."
/// then removes it, with no directory needed inside the rootfs to hold it.
fn pivot(rootfs: &Path) -> Result<()> {
    let old = open_dir(Path::new("/"))?;
    let new = open_dir(rootfs)?;
    nix::unistd::fchdir(new.as_raw_fd()).map_err(sys_err("chdir to rootfs"))?;
    sys::pivot_root(".", ".").map_err(sys_err(format!("pivot_root to {}", rootfs.display())))?;
    nix::unistd::fchdir(old.as_raw_fd()).map_err(sys_err("chdir to old root"))?;
    // The old root must not propagate the unmount to the host.
    mount(
        None::<&str>,
        ".",
        None::<&str>,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(sys_err("make old root a slave"))?;
    umount2(".", MntFlags::MNT_DETACH).map_err(sys_err("unmount old root"))?;
    nix::unistd::chdir("/").map_err(sys_err("chdir /"))
}

/// Without a mount namespace of its own: chroot into the rootfs, as runc does (see
/// `host`). The container shares the host's mount table, so a process of it with
/// CAP_SYS_CHROOT or CAP_SYS_ADMIN is not confined by the chroot: configs that drop the
/// mount namespace trust their container.
fn chroot(rootfs: &Path) -> Result<()> {
    nix::unistd::chdir(rootfs).map_err(sys_err("chdir to rootfs"))?;
    nix::unistd::chroot(".").map_err(sys_err("chroot to rootfs"))?;
    nix::unistd::chdir("/").map_err(sys_err("chdir /"))
}

/// `--no-pivot`: move the rootfs over / and chroot, for roots pivot_root cannot leave (ramfs).
fn move_root(rootfs: &Path) -> Result<()> {
    nix::unistd::chdir(rootfs).map_err(sys_err("chdir to rootfs"))?;
    mount(
        Some(rootfs),
        "/",
        None::<&str>,
        MsFlags::MS_MOVE,
        None::<&str>,
    )
    .map_err(sys_err("move rootfs to /"))?;
    nix::unistd::chroot(".").map_err(sys_err("chroot to rootfs"))?;
    nix::unistd::chdir("/").map_err(sys_err("chdir /"))
}
