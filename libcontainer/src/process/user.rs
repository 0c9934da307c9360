//! The process's rlimits, identity and capabilities, set in the order the kernel needs:
//! rlimits and the bounding set while still root, then groups, gid, uid (keeping
//! capabilities across the uid change), then the capability sets.

use crate::{Error, Result};
use caps::{CapSet, CapsHashSet};
use oci_spec::runtime::{Capabilities, LinuxCapabilities, PosixRlimit, Process};
use std::str::FromStr;

fn rlimit_resource(name: &str) -> Option<libc::__rlimit_resource_t> {
    Some(match name {
        "RLIMIT_CPU" => libc::RLIMIT_CPU,
        "RLIMIT_FSIZE" => libc::RLIMIT_FSIZE,
        "RLIMIT_DATA" => libc::RLIMIT_DATA,
        "RLIMIT_STACK" => libc::RLIMIT_STACK,
        "RLIMIT_CORE" => libc::RLIMIT_CORE,
        "RLIMIT_RSS" => libc::RLIMIT_RSS,
        "RLIMIT_NPROC" => libc::RLIMIT_NPROC,
        "RLIMIT_NOFILE" => libc::RLIMIT_NOFILE,
        "RLIMIT_MEMLOCK" => libc::RLIMIT_MEMLOCK,
        "RLIMIT_AS" => libc::RLIMIT_AS,
        "RLIMIT_LOCKS" => libc::RLIMIT_LOCKS,
        "RLIMIT_SIGPENDING" => libc::RLIMIT_SIGPENDING,
        "RLIMIT_MSGQUEUE" => libc::RLIMIT_MSGQUEUE,
        "RLIMIT_NICE" => libc::RLIMIT_NICE,
        "RLIMIT_RTPRIO" => libc::RLIMIT_RTPRIO,
        "RLIMIT_RTTIME" => libc::RLIMIT_RTTIME,
        _ => return None,
    })
}

pub fn set_rlimits(rlimits: &[PosixRlimit]) -> Result<()> {
    for (i, r) in rlimits.iter().enumerate() {
        let name = r.typ().to_string();
        let res = rlimit_resource(&name)
            .ok_or_else(|| Error::Other(format!("process.rlimits[{i}]: unknown type {name}")))?;
        let lim = libc::rlimit {
            rlim_cur: r.soft(),
            rlim_max: r.hard(),
        };
        // SAFETY: lim is a valid rlimit for the call's duration.
        let ret = unsafe { libc::setrlimit(res, &lim) };
        nix::errno::Errno::result(ret).map_err(|e| {
            Error::sys(
                format!(
                    "process.rlimits[{i}]: set {name} to soft {} hard {}",
                    r.soft(),
                    r.hard()
                ),
                e,
            )
        })?;
    }
    Ok(())
}

fn to_caps(set: &Option<Capabilities>) -> CapsHashSet {
    set.iter()
        .flatten()
        .filter_map(|c| {
            let name = c.to_string();
            let name = if name.starts_with("CAP_") {
                name
            } else {
                format!("CAP_{name}")
            };
            caps::Capability::from_str(&name).ok()
        })
        .collect()
}

fn cap_err(what: &'static str) -> impl FnOnce(caps::errors::CapsError) -> Error {
    move |e| Error::Other(format!("process.capabilities: {what}: {e}"))
}

/// Drops from the bounding set what the config does not list (needs CAP_SETPCAP).
/// One prctl per capability: the kernel answers EINVAL past its last one, so there is
/// no need to read the set or probe the kernel first (the caps crate does both).
fn drop_bounding(c: &LinuxCapabilities) -> Result<()> {
    let keep: Vec<u8> = to_caps(c.bounding())
        .iter()
        .map(|cap| cap.index())
        .collect();
    for index in 0..=u8::MAX {
        if keep.contains(&index) {
            continue;
        }
        // SAFETY: PR_CAPBSET_DROP takes a capability number.
        let ret =
            unsafe { libc::prctl(libc::PR_CAPBSET_DROP, libc::c_ulong::from(index), 0, 0, 0) };
        match nix::errno::Errno::result(ret) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINVAL) => break,
            Err(e) => {
                return Err(Error::sys(
                    format!("process.capabilities: drop capability {index} from the bounding set"),
                    e,
                ))
            }
        }
    }
    Ok(())
}

fn set_caps(c: &LinuxCapabilities) -> Result<()> {
    // Effective first: it must stay within permitted at every step.
    caps::set(None, CapSet::Effective, &to_caps(c.effective()))
        .map_err(cap_err("set effective"))?;
    caps::set(None, CapSet::Inheritable, &to_caps(c.inheritable()))
        .map_err(cap_err("set inheritable"))?;
    caps::set(None, CapSet::Permitted, &to_caps(c.permitted()))
        .map_err(cap_err("set permitted"))?;
    caps::clear(None, CapSet::Ambient).map_err(cap_err("clear ambient"))?;
    for cap in to_caps(c.ambient()) {
        caps::raise(None, CapSet::Ambient, cap).map_err(cap_err("raise ambient"))?;
    }
    Ok(())
}

fn prctl(op: libc::c_int, arg: libc::c_ulong) -> Result<()> {
    // SAFETY: the options used here take plain integers.
    let ret = unsafe { libc::prctl(op, arg, 0, 0, 0) };
    nix::errno::Errno::result(ret)
        .map(drop)
        .map_err(|e| Error::sys(format!("prctl({op})"), e))
}

/// The part of the identity change that keeps every capability: the bounding set,
/// groups and gid. The seccomp filter can still be loaded after it without
/// no_new_privs (that needs CAP_SYS_ADMIN, which [`set_uid_and_caps`] drops).
pub fn set_groups_and_gid(process: &Process) -> Result<()> {
    let user = process.user();
    if let Some(c) = process.capabilities() {
        drop_bounding(c)?;
        prctl(libc::PR_SET_KEEPCAPS, 1)?;
    }
    let gids: Vec<libc::gid_t> = user.additional_gids().clone().unwrap_or_default();
    // SAFETY: gids is a valid array of gids.len() elements.
    let ret = unsafe { libc::setgroups(gids.len(), gids.as_ptr()) };
    // setgroups is denied in a user namespace whose gid_map was written with setgroups
    // denied; an empty list then is what the process has anyway.
    if let Err(e) = nix::errno::Errno::result(ret) {
        if !(gids.is_empty() && e == nix::errno::Errno::EPERM) {
            return Err(Error::sys(
                format!("process.user.additionalGids: setgroups {gids:?}"),
                e,
            ));
        }
    }
    let gid = nix::unistd::Gid::from_raw(user.gid());
    nix::unistd::setresgid(gid, gid, gid)
        .map_err(|e| Error::sys(format!("process.user.gid: setgid {gid}"), e))
}

/// The rest: uid (capabilities kept across it), then the capability sets. Its system
/// calls are setresuid, prctl(PR_SET_KEEPCAPS), capget, capset and
/// prctl(PR_CAP_AMBIENT): the init may make them after the seccomp filter is loaded.
pub fn set_uid_and_caps(process: &Process) -> Result<()> {
    let uid = nix::unistd::Uid::from_raw(process.user().uid());
    nix::unistd::setresuid(uid, uid, uid)
        .map_err(|e| Error::sys(format!("process.user.uid: setuid {uid}"), e))?;
    if let Some(c) = process.capabilities() {
        prctl(libc::PR_SET_KEEPCAPS, 0)?;
        set_caps(c)?;
    }
    Ok(())
}

pub fn set_no_new_privileges() -> Result<()> {
    prctl(libc::PR_SET_NO_NEW_PRIVS, 1)
}
