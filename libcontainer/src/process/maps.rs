//! Writing a new user namespace's uid and gid maps, from the parent.
//!
//! Who may write what (user_namespaces(7)):
//! - a process with CAP_SETUID / CAP_SETGID over the parent namespace (corral as root)
//!   writes any map, several ranges at once;
//! - an unprivileged process may write only one line mapping its own effective id,
//!   `X <euid> 1`, and for gid_map only after writing "deny" to `setgroups` (otherwise
//!   it could drop a group it was denied by, with setgroups(2));
//! - anything more goes through the setuid helpers `newuidmap` / `newgidmap` (shadow's
//!   `uidmap` package), which allow the ranges /etc/subuid and /etc/subgid delegate to
//!   the caller, besides its own id.

use crate::{Error, Result};
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxIdMapping, Spec};
use std::path::PathBuf;

/// One of the two maps.
#[derive(Clone, Copy)]
struct Kind {
    file: &'static str,
    field: &'static str,
    helper: &'static str,
    delegation: &'static str,
    /// An unprivileged writer must deny setgroups(2) first.
    deny_setgroups: bool,
}

const UID: Kind = Kind {
    file: "uid_map",
    field: "linux.uidMappings",
    helper: "newuidmap",
    delegation: "/etc/subuid",
    deny_setgroups: false,
};
const GID: Kind = Kind {
    file: "gid_map",
    field: "linux.gidMappings",
    helper: "newgidmap",
    delegation: "/etc/subgid",
    deny_setgroups: true,
};

fn map_text(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

/// The map maps exactly `own`, the one id an unprivileged process may map by itself.
fn only_own_id(maps: &[LinuxIdMapping], own: u32) -> bool {
    matches!(maps, [m] if m.host_id() == own && m.size() == 1)
}

/// Writes the uid and gid maps of `pid`'s user namespace from `spec`.
pub fn write(pid: Pid, spec: &Spec) -> Result<()> {
    let linux = spec.linux().as_ref().ok_or_else(|| {
        Error::Other("linux: a user namespace needs linux.uidMappings and gidMappings".into())
    })?;
    let uids = linux.uid_mappings().as_deref().unwrap_or_default();
    let gids = linux.gid_mappings().as_deref().unwrap_or_default();
    let (euid, egid) = (
        nix::unistd::geteuid().as_raw(),
        nix::unistd::getegid().as_raw(),
    );
    write_one(pid, UID, uids, euid, euid)?;
    write_one(pid, GID, gids, euid, egid)
}

fn write_one(pid: Pid, kind: Kind, maps: &[LinuxIdMapping], euid: u32, own: u32) -> Result<()> {
    if euid == 0 {
        return write_file(pid, kind, maps);
    }
    if only_own_id(maps, own) {
        if kind.deny_setgroups {
            let path = format!("/proc/{pid}/setgroups");
            std::fs::write(&path, "deny").map_err(|e| {
                Error::Other(format!(
                    "{}: write \"deny\" to {path} (needed before an unprivileged gid_map): {e}",
                    kind.field
                ))
            })?;
        }
        return write_file(pid, kind, maps);
    }
    helper(pid, kind, maps, euid, own)
}

fn write_file(pid: Pid, kind: Kind, maps: &[LinuxIdMapping]) -> Result<()> {
    let path = format!("/proc/{pid}/{}", kind.file);
    // The kernel takes a map in one write only.
    std::fs::write(&path, map_text(maps))
        .map_err(|e| Error::Other(format!("{}: write {path}: {e}", kind.field)))
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Runs newuidmap / newgidmap: `PID ID HOSTID SIZE ...`.
fn helper(pid: Pid, kind: Kind, maps: &[LinuxIdMapping], euid: u32, own: u32) -> Result<()> {
    let Some(bin) = find_in_path(kind.helper) else {
        return Err(Error::Other(format!(
            "{}: corral runs as uid {euid}, which may map only its own id ({own}, size 1) by \
             itself; this mapping needs {} (Debian package uidmap), not found in $PATH",
            kind.field, kind.helper
        )));
    };
    let mut args = vec![pid.to_string()];
    for m in maps {
        args.extend([m.container_id(), m.host_id(), m.size()].map(|n| n.to_string()));
    }
    let out = std::process::Command::new(&bin)
        .args(&args)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| Error::Other(format!("{}: run {}: {e}", kind.field, bin.display())))?;
    if out.status.success() {
        return Ok(());
    }
    Err(Error::Other(format!(
        "{}: {} {} failed ({}): {} (an unprivileged user may map its own id and the ranges \
         {} delegates to it)",
        kind.field,
        kind.helper,
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr).trim(),
        kind.delegation
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxIdMappingBuilder;

    fn m(c: u32, h: u32, s: u32) -> LinuxIdMapping {
        LinuxIdMappingBuilder::default()
            .container_id(c)
            .host_id(h)
            .size(s)
            .build()
            .unwrap()
    }

    #[test]
    fn several_ranges_in_one_text() {
        let t = map_text(&[m(0, 100000, 1000), m(1000, 200000, 1000)]);
        assert_eq!(t, "0 100000 1000\n1000 200000 1000\n");
    }

    #[test]
    fn own_id_only_when_single_and_size_one() {
        assert!(only_own_id(&[m(0, 1000, 1)], 1000));
        assert!(!only_own_id(&[m(0, 1000, 2)], 1000));
        assert!(!only_own_id(&[m(0, 1001, 1)], 1000));
        assert!(!only_own_id(&[m(0, 1000, 1), m(1, 100000, 10)], 1000));
    }
}
