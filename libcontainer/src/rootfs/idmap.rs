//! Idmapped bind mounts (`idmap`, `ridmap`, `uidMappings`/`gidMappings` on a mount),
//! prepared by the runtime on the host before the init is cloned.
//!
//! MOUNT_ATTR_IDMAP needs privilege over the filesystem's own user namespace (the
//! host's), which an init inside a container user namespace no longer has. So the
//! parent clones each source tree, idmaps it with a user namespace holding the
//! mappings, and the init, which inherits the fds, attaches the trees where they go.
//! A file whose owner on disk is `containerID + n` shows as owned by `hostID + n`.

use super::kernel_err;
use super::options::{self, Idmap};
use crate::sys::mount::{self as m, MountAttr};
use crate::sys::{self, Forked};
use crate::{Error, Result};
use nix::sys::wait::waitpid;
use oci_spec::runtime::{LinuxIdMapping, Mount, Spec};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

/// How `m` is idmapped, if it is: mappings on the mount imply `idmap`.
pub fn kind(m: &Mount) -> Option<Idmap> {
    // Most mounts name neither option: skip the parse (create runs this for every mount).
    let named = m
        .options()
        .iter()
        .flatten()
        .any(|o| o == "idmap" || o == "ridmap");
    if !named {
        return (m.uid_mappings().is_some() || m.gid_mappings().is_some()).then_some(Idmap::Top);
    }
    let opts = options::parse(m.options().as_deref().unwrap_or_default());
    opts.idmap.or_else(|| {
        (m.uid_mappings().is_some() || m.gid_mappings().is_some()).then_some(Idmap::Top)
    })
}

/// One entry per mount of the spec: the idmapped tree of the idmapped ones. Empty when
/// no mount is idmapped (the common case costs nothing).
pub fn prepare(spec: &Spec) -> Result<Vec<Option<OwnedFd>>> {
    let mounts = spec.mounts().as_deref().unwrap_or_default();
    if !mounts.iter().any(|m| kind(m).is_some()) {
        return Ok(vec![]);
    }
    let linux = spec.linux().as_ref();
    let mut namespaces: Vec<(String, OwnedFd)> = vec![];
    let mut out = Vec::with_capacity(mounts.len());
    for (i, mnt) in mounts.iter().enumerate() {
        let Some(kind) = kind(mnt) else {
            out.push(None);
            continue;
        };
        let what = format!(
            "mounts[{i}] (idmapped bind on {})",
            mnt.destination().display()
        );
        // Validation made sure that one of the two has both maps.
        let (uids, gids) = match (mnt.uid_mappings(), mnt.gid_mappings()) {
            (Some(u), Some(g)) => (u, g),
            _ => linux
                .and_then(|l| Some((l.uid_mappings().as_ref()?, l.gid_mappings().as_ref()?)))
                .ok_or_else(|| {
                    Error::Other(format!(
                        "{what}: no uidMappings and gidMappings, on the mount or in linux"
                    ))
                })?,
        };
        let key = format!("{}|{}", map_text(uids), map_text(gids));
        let userns = match namespaces.iter().position(|(k, _)| *k == key) {
            Some(n) => n,
            None => {
                let fd =
                    userns_with(uids, gids).map_err(|e| Error::Other(format!("{what}: {e}")))?;
                namespaces.push((key, fd));
                namespaces.len() - 1
            }
        };
        let src = mnt
            .source()
            .as_deref()
            .ok_or_else(|| Error::Other(format!("{what}: a bind mount needs a source")))?;
        let recursive =
            options::parse(mnt.options().as_deref().unwrap_or_default()).recursive_bind();
        if !sys::remount::has_mount_setattr() {
            // No fallback can idmap a mount: mount(2) has no such flag.
            return Err(Error::Other(format!(
                "{what}: idmapped mounts need mount_setattr of Linux 5.12, which this \
                 kernel ({}) lacks",
                std::fs::read_to_string("/proc/sys/kernel/osrelease")
                    .unwrap_or_default()
                    .trim()
            )));
        }
        let tree = m::clone_tree(m::cwd(), src, recursive)
            .map_err(|e| kernel_err(format!("{what}: source {}", src.display()), e))?;
        let attr = MountAttr {
            attr_set: m::MOUNT_ATTR_IDMAP,
            userns_fd: u64::try_from(namespaces[userns].1.as_raw_fd())
                .map_err(|_| Error::Other(format!("{what}: a bad user namespace fd")))?,
            ..Default::default()
        };
        m::setattr(tree.as_fd(), kind == Idmap::Recursive, &attr).map_err(|e| {
            let why = if e == nix::errno::Errno::EINVAL {
                " (does the filesystem of the source support idmapped mounts?)"
            } else {
                ""
            };
            kernel_err(format!("{what}: idmap {}{why}", src.display()), e)
        })?;
        out.push(Some(tree));
    }
    Ok(out)
}

fn map_text(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

/// A user namespace with these maps: a child makes it and waits on a pipe while we
/// write its maps and open it; closing the pipe lets it exit.
fn userns_with(uids: &[LinuxIdMapping], gids: &[LinuxIdMapping]) -> Result<OwnedFd> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| Error::sys("pipe for the idmap user namespace", e))?;
    // SAFETY: corral is single-threaded (no runtime, logger or executor thread).
    let pid = match unsafe { sys::clone3_fork(libc::CLONE_NEWUSER as u64, None) } {
        Ok(Forked::Child) => crate::process::boundary::child("the idmap helper", None, || {
            drop(w);
            let mut b = [0u8; 1];
            let _ = nix::unistd::read(r.as_raw_fd(), &mut b);
            sys::exit_now(0);
        }),
        Ok(Forked::Parent(pid)) => pid,
        Err(e) => return Err(Error::sys("clone a user namespace for the idmap", e)),
    };
    drop(r);
    let result = (|| {
        for (file, maps) in [("uid_map", uids), ("gid_map", gids)] {
            let path = format!("/proc/{pid}/{file}");
            std::fs::write(&path, map_text(maps))
                .map_err(|e| Error::io("cannot write", &path, e))?;
        }
        let path = format!("/proc/{pid}/ns/user");
        sys::open(
            path.as_str(),
            nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .map_err(|e| Error::sys(format!("open {path}"), e))
    })();
    drop(w);
    let _ = waitpid(pid, None);
    result
}
