//! The values of a `process` that [`crate::validate`] checked, in the types the init
//! uses them in: the program and its argv and environment as C strings, user ids,
//! rlimits, capability sets and the console size. The
//! validator makes a [`CheckedProcess`] or refuses the config (naming the field), and
//! the init (and `exec`'s process) take their values from it only: they never parse or
//! check those fields again, so no unchecked value can reach them.

use nix::sys::resource::Resource;
use nix::unistd::{Gid, Uid};
use oci_spec::runtime::{Capabilities, PosixRlimit, Process};
use std::ffi::CString;

/// The part of `process` the init sets as it is, checked.
pub struct CheckedProcess {
    /// `process.args[0]`: not empty.
    pub program: String,
    /// `process.args`, none with a NUL byte.
    pub args: Vec<CString>,
    /// `process.env`, none with a NUL byte.
    pub env: Vec<CString>,
    /// `process.user.uid`, at most [`crate::validate::MAX_ID`].
    pub uid: Uid,
    /// `process.user.gid`, likewise.
    pub gid: Gid,
    /// `process.user.additionalGids`, likewise.
    pub additional_gids: Vec<Gid>,
    /// `process.rlimits`, in order.
    pub rlimits: Vec<Rlimit>,
    /// `process.capabilities`, each set resolved.
    pub capabilities: Option<CapSets>,
    /// `process.consoleSize` as the kernel's winsize takes it: (rows, columns).
    pub console_size: Option<(u16, u16)>,
}

/// One entry of `process.rlimits`.
pub struct Rlimit {
    /// Its index in `process.rlimits`, for errors.
    pub index: usize,
    /// Its `type` as written (`RLIMIT_NOFILE`), for errors.
    pub name: String,
    pub resource: Resource,
    pub soft: u64,
    pub hard: u64,
}

/// The five capability sets of `process.capabilities`.
pub struct CapSets {
    pub bounding: caps::CapsHashSet,
    pub effective: caps::CapsHashSet,
    pub inheritable: caps::CapsHashSet,
    pub permitted: caps::CapsHashSet,
    pub ambient: caps::CapsHashSet,
}

/// The field and message of a value that does not check.
pub type Refusal = (String, String);

impl CheckedProcess {
    /// Checks and converts `p`'s values (its ids were checked against `MAX_ID` before).
    pub fn new(p: &Process) -> Result<CheckedProcess, Refusal> {
        let args = p.args().as_deref().unwrap_or_default();
        let program = args
            .first()
            .filter(|a| !a.is_empty())
            .ok_or_else(|| {
                (
                    "process.args".to_string(),
                    "must name a program to run".to_string(),
                )
            })?
            .clone();
        let u = p.user();
        let console_size = match p.console_size() {
            Some(b) => Some((
                winsize_field("process.consoleSize.height", b.height())?,
                winsize_field("process.consoleSize.width", b.width())?,
            )),
            None => None,
        };
        Ok(CheckedProcess {
            program,
            args: c_strings("process.args", args)?,
            env: c_strings("process.env", p.env().as_deref().unwrap_or_default())?,
            uid: Uid::from_raw(u.uid()),
            gid: Gid::from_raw(u.gid()),
            additional_gids: u
                .additional_gids()
                .iter()
                .flatten()
                .map(|g| Gid::from_raw(*g))
                .collect(),
            rlimits: rlimits(p.rlimits().as_deref().unwrap_or_default())?,
            capabilities: p.capabilities().as_ref().map(cap_sets).transpose()?,
            console_size,
        })
    }
}

/// `list` (from `field`) as C strings: an execve argument cannot hold a NUL byte.
fn c_strings(field: &str, list: &[String]) -> Result<Vec<CString>, Refusal> {
    list.iter()
        .enumerate()
        .map(|(i, s)| {
            CString::new(s.as_bytes()).map_err(|_| {
                (
                    format!("{field}[{i}]"),
                    format!("{s:?} contains a NUL byte, which execve cannot pass"),
                )
            })
        })
        .collect()
}

fn winsize_field(field: &str, v: u64) -> Result<u16, Refusal> {
    u16::try_from(v).map_err(|_| (field.to_string(), format!("{v} is not in 0..65535")))
}

fn rlimits(list: &[PosixRlimit]) -> Result<Vec<Rlimit>, Refusal> {
    list.iter()
        .enumerate()
        .map(|(index, r)| {
            let name = r.typ().to_string();
            let resource = resource(&name).ok_or_else(|| {
                (
                    format!("process.rlimits[{index}].type"),
                    format!("{name} is not an rlimit of Linux"),
                )
            })?;
            Ok(Rlimit {
                index,
                name,
                resource,
                soft: r.soft(),
                hard: r.hard(),
            })
        })
        .collect()
}

fn resource(name: &str) -> Option<Resource> {
    Some(match name {
        "RLIMIT_CPU" => Resource::RLIMIT_CPU,
        "RLIMIT_FSIZE" => Resource::RLIMIT_FSIZE,
        "RLIMIT_DATA" => Resource::RLIMIT_DATA,
        "RLIMIT_STACK" => Resource::RLIMIT_STACK,
        "RLIMIT_CORE" => Resource::RLIMIT_CORE,
        "RLIMIT_RSS" => Resource::RLIMIT_RSS,
        "RLIMIT_NPROC" => Resource::RLIMIT_NPROC,
        "RLIMIT_NOFILE" => Resource::RLIMIT_NOFILE,
        "RLIMIT_MEMLOCK" => Resource::RLIMIT_MEMLOCK,
        "RLIMIT_AS" => Resource::RLIMIT_AS,
        "RLIMIT_LOCKS" => Resource::RLIMIT_LOCKS,
        "RLIMIT_SIGPENDING" => Resource::RLIMIT_SIGPENDING,
        "RLIMIT_MSGQUEUE" => Resource::RLIMIT_MSGQUEUE,
        "RLIMIT_NICE" => Resource::RLIMIT_NICE,
        "RLIMIT_RTPRIO" => Resource::RLIMIT_RTPRIO,
        "RLIMIT_RTTIME" => Resource::RLIMIT_RTTIME,
        _ => return None,
    })
}

fn cap_sets(c: &oci_spec::runtime::LinuxCapabilities) -> Result<CapSets, Refusal> {
    Ok(CapSets {
        bounding: cap_set("bounding", c.bounding())?,
        effective: cap_set("effective", c.effective())?,
        inheritable: cap_set("inheritable", c.inheritable())?,
        permitted: cap_set("permitted", c.permitted())?,
        ambient: cap_set("ambient", c.ambient())?,
    })
}

/// A set of `process.capabilities` (unknown names were skipped, with a warning, when
/// the config was read: one left here is one the caps crate does not know).
fn cap_set(set: &str, caps: &Option<Capabilities>) -> Result<caps::CapsHashSet, Refusal> {
    caps.iter()
        .flatten()
        .map(|c| {
            let name = c.to_string();
            let name = if name.starts_with("CAP_") {
                name
            } else {
                format!("CAP_{name}")
            };
            name.parse::<caps::Capability>().map_err(|_| {
                (
                    format!("process.capabilities.{set}"),
                    format!("{name} is not a capability corral can set"),
                )
            })
        })
        .collect()
}
