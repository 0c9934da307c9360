//! The process's rlimits, identity and capabilities, set in the order the kernel needs:
//! rlimits and the bounding set while still root, then groups, gid, uid (keeping
//! capabilities across the uid change), then the capability sets.

use crate::checked::{CapSets, CheckedProcess, Rlimit};
use crate::{Error, Result};
use caps::CapSet;

/// setrlimit(2) of each of `process.rlimits`, in order.
pub fn set_rlimits(rlimits: &[Rlimit]) -> Result<()> {
    for r in rlimits {
        nix::sys::resource::setrlimit(r.resource, r.soft, r.hard).map_err(|e| {
            Error::sys(
                format!(
                    "process.rlimits[{}]: set {} to soft {} hard {}",
                    r.index, r.name, r.soft, r.hard
                ),
                e,
            )
        })?;
    }
    Ok(())
}

fn cap_err(what: &'static str) -> impl FnOnce(caps::errors::CapsError) -> Error {
    move |e| Error::Other(format!("process.capabilities: {what}: {e}"))
}

/// Drops from the bounding set what the config does not list (needs CAP_SETPCAP).
/// One prctl per capability: the kernel answers EINVAL past its last one, so there is
/// no need to read the set or probe the kernel first (the caps crate does both).
fn drop_bounding(c: &CapSets) -> Result<()> {
    let keep: Vec<u8> = c.bounding.iter().map(|cap| cap.index()).collect();
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

fn set_caps(c: &CapSets) -> Result<()> {
    // Effective first: it must stay within permitted at every step.
    caps::set(None, CapSet::Effective, &c.effective).map_err(cap_err("set effective"))?;
    caps::set(None, CapSet::Inheritable, &c.inheritable).map_err(cap_err("set inheritable"))?;
    caps::set(None, CapSet::Permitted, &c.permitted).map_err(cap_err("set permitted"))?;
    caps::clear(None, CapSet::Ambient).map_err(cap_err("clear ambient"))?;
    for cap in &c.ambient {
        caps::raise(None, CapSet::Ambient, *cap).map_err(cap_err("raise ambient"))?;
    }
    Ok(())
}

fn keep_caps(on: bool) -> Result<()> {
    nix::sys::prctl::set_keepcaps(on)
        .map_err(|e| Error::sys(format!("prctl(PR_SET_KEEPCAPS, {})", u8::from(on)), e))
}

/// The part of the identity change that keeps every capability: the bounding set,
/// groups and gid. The seccomp filter can still be loaded after it without
/// no_new_privs (that needs CAP_SYS_ADMIN, which [`set_uid_and_caps`] drops).
pub fn set_groups_and_gid(process: &CheckedProcess) -> Result<()> {
    if let Some(c) = &process.capabilities {
        drop_bounding(c)?;
        keep_caps(true)?;
    }
    let gids = &process.additional_gids;
    // setgroups is denied in a user namespace whose gid_map was written with setgroups
    // denied; an empty list then is what the process has anyway.
    if let Err(e) = nix::unistd::setgroups(gids) {
        if !(gids.is_empty() && e == nix::errno::Errno::EPERM) {
            return Err(Error::sys(
                format!(
                    "process.user.additionalGids: setgroups {:?}",
                    gids.iter().map(|g| g.as_raw()).collect::<Vec<_>>()
                ),
                e,
            ));
        }
    }
    let gid = process.gid;
    nix::unistd::setresgid(gid, gid, gid)
        .map_err(|e| Error::sys(format!("process.user.gid: setgid {gid}"), e))
}

/// The rest: uid (capabilities kept across it), then the capability sets. Its system
/// calls are setresuid, prctl(PR_SET_KEEPCAPS), capget, capset and
/// prctl(PR_CAP_AMBIENT): the init may make them after the seccomp filter is loaded.
pub fn set_uid_and_caps(process: &CheckedProcess) -> Result<()> {
    let uid = process.uid;
    nix::unistd::setresuid(uid, uid, uid)
        .map_err(|e| Error::sys(format!("process.user.uid: setuid {uid}"), e))?;
    if let Some(c) = &process.capabilities {
        keep_caps(false)?;
        set_caps(c)?;
    }
    Ok(())
}

pub fn set_no_new_privileges() -> Result<()> {
    nix::sys::prctl::set_no_new_privs().map_err(|e| Error::sys("prctl(PR_SET_NO_NEW_PRIVS, 1)", e))
}
