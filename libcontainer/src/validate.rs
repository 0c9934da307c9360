//! Validation of a parsed `config.json`: a list of small named checks, run before
//! anything is created, so that bad input leaves nothing behind.
//!
//! Each check returns the first problem it finds as an error naming the file and the
//! field. Fields this version of corral does not implement are refused, never ignored.

use crate::checked::CheckedProcess;
use crate::process::{lsm, sysctl};
use crate::rootfs::{self, options};
use crate::{Error, Result};
use oci_spec::runtime::{
    LinuxDeviceType, LinuxIdMapping, LinuxNamespaceType, LinuxSchedulerPolicy, Process, Spec,
};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

struct Ctx<'a> {
    file: &'a Path,
}

impl Ctx<'_> {
    fn invalid(&self, field: impl Into<String>, msg: impl Into<String>) -> Error {
        Error::Invalid {
            file: self.file.to_path_buf(),
            field: field.into(),
            // Messages quote values of the config, which may be huge.
            msg: crate::json::capped(&msg.into()),
        }
    }
}

/// What a config that passed gives the runtime: the values it checked, converted.
pub struct Validated {
    /// The absolute rootfs path.
    pub rootfs: PathBuf,
    /// The process's values the init sets (`None`: the config has no process).
    pub process: Option<CheckedProcess>,
}

/// Checks `spec` (read from `file` in bundle `dir`).
pub fn check(spec: &Spec, file: &Path, dir: &Path) -> Result<Validated> {
    let cx = Ctx { file };
    version(&cx, spec)?;
    let rootfs = root(&cx, spec, dir)?;
    let process = process(&cx, spec)?;
    namespaces(&cx, spec)?;
    id_mappings(&cx, spec)?;
    mounts(&cx, spec)?;
    devices(&cx, spec)?;
    process_settings(&cx, spec)?;
    sysctls(&cx, spec)?;
    time_offsets(&cx, spec)?;
    hooks(&cx, spec)?;
    unsupported(&cx, spec)?;
    Ok(Validated { rootfs, process })
}

/// Rootless mode (corral runs as `euid`, not root) needs a user namespace: without one
/// the container would hold none of the privilege its setup needs (mounts, hostname).
/// Its cgroup and limits are never a reason to refuse (see `container::cgroup::rootless`).
pub fn rootless(spec: &Spec, file: &Path, euid: u32) -> Result<()> {
    let has_userns = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|nss| nss.iter().any(|ns| ns.typ() == LinuxNamespaceType::User));
    if has_userns {
        return Ok(());
    }
    Err(Ctx { file }.invalid(
        "linux.namespaces",
        format!(
            "rootless mode (corral runs as uid {euid}) needs a user namespace: add \
             {{\"type\": \"user\"}} with linux.uidMappings and linux.gidMappings, as \
             `corral spec --rootless` writes"
        ),
    ))
}

fn version(cx: &Ctx, spec: &Spec) -> Result<()> {
    let v = spec.version();
    if v.is_empty() {
        return Err(cx.invalid("ociVersion", "is required"));
    }
    if !v.starts_with("1.") {
        return Err(cx.invalid(
            "ociVersion",
            format!("{v:?} is not a 1.x version this runtime implements"),
        ));
    }
    Ok(())
}

fn root(cx: &Ctx, spec: &Spec, dir: &Path) -> Result<PathBuf> {
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| cx.invalid("root", "is required"))?;
    if root.path().as_os_str().is_empty() {
        return Err(cx.invalid("root.path", "is required"));
    }
    let path = dir.join(root.path());
    match std::fs::metadata(&path) {
        Ok(m) if m.is_dir() => Ok(path),
        Ok(_) => Err(cx.invalid(
            "root.path",
            format!("{} is not a directory", path.display()),
        )),
        Err(e) => Err(cx.invalid("root.path", format!("{}: {e}", path.display()))),
    }
}

/// config.md: `process` "is REQUIRED when start is called", so `create` takes a config
/// without one (the init waits, and `start` refuses: see [`process_required`]).
fn process(cx: &Ctx, spec: &Spec) -> Result<Option<CheckedProcess>> {
    spec.process()
        .as_ref()
        .map(|p| process_fields(cx, p))
        .transpose()
}

/// For what starts the container at once (`run`, `restore`): `spec` has a `process`.
pub fn process_required(spec: &Spec, file: &Path) -> Result<()> {
    match spec.process() {
        Some(_) => Ok(()),
        None => Err(Ctx { file }.invalid(
            "process",
            "is required to start the container (config.md: \"REQUIRED when start is called\")",
        )),
    }
}

/// Checks a process that `exec` runs in an existing container: `process` (from `file`,
/// the config or a `--process` file) as `create` checks the config's.
pub fn exec_process(p: &Process, file: &Path) -> Result<CheckedProcess> {
    let cx = Ctx { file };
    let checked = process_fields(&cx, p)?;
    process_limits(&cx, p)?;
    Ok(checked)
}

fn process_fields(cx: &Ctx, p: &Process) -> Result<CheckedProcess> {
    match p.args() {
        Some(args) if !args.is_empty() && !args[0].is_empty() => {}
        _ => return Err(cx.invalid("process.args", "must name a program to run")),
    }
    if !p.cwd().is_absolute() {
        return Err(cx.invalid(
            "process.cwd",
            format!("{:?} is not an absolute path", p.cwd()),
        ));
    }
    user_ids(cx, p)?;
    for (i, e) in p.env().iter().flatten().enumerate() {
        if !e.contains('=') {
            return Err(cx.invalid(
                format!("process.env[{i}]"),
                format!("{e:?} is not KEY=value"),
            ));
        }
    }
    if let Some(a) = p.exec_cpu_affinity() {
        crate::process::affinity::check(a).map_err(|(f, m)| cx.invalid(f, m))?;
    }
    CheckedProcess::new(p).map_err(|(f, m)| cx.invalid(f, m))
}

/// The highest uid or gid corral accepts anywhere, as runc: 2^31 - 1. Above it ids mean
/// trouble: 4294967295 is -1 to the kernel, which `setresuid(-1, ...)` leaves unchanged
/// (the process would stay root), and many tools read ids as signed 32-bit numbers.
pub const MAX_ID: u32 = i32::MAX as u32;

/// `id` (from `field`) is at most `MAX_ID`.
fn id(cx: &Ctx, field: impl Into<String>, id: u32) -> Result<()> {
    if id > MAX_ID {
        return Err(cx.invalid(field, out_of_range(id)));
    }
    Ok(())
}

/// The message for an id above `MAX_ID`.
pub fn out_of_range(id: u32) -> String {
    format!("{id} is not an id in 0..{MAX_ID}")
}

/// `process.user`'s uid, gid and additional gids are in range.
fn user_ids(cx: &Ctx, p: &Process) -> Result<()> {
    let u = p.user();
    id(cx, "process.user.uid", u.uid())?;
    id(cx, "process.user.gid", u.gid())?;
    for (i, g) in u.additional_gids().iter().flatten().enumerate() {
        id(cx, format!("process.user.additionalGids[{i}]"), *g)?;
    }
    Ok(())
}

/// Whether `spec` creates a namespace of type `t` (rather than joining one or none).
fn new_ns(spec: &Spec, t: LinuxNamespaceType) -> bool {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .into_iter()
        .flatten()
        .any(|ns| ns.typ() == t && ns.path().is_none())
}

/// Scheduler, io priority, LSM labels and personality: values the kernel would refuse
/// late, or that the host cannot honour.
fn process_settings(cx: &Ctx, spec: &Spec) -> Result<()> {
    if let Some(p) = spec.process() {
        process_limits(cx, p)?;
    }
    let personality = spec.linux().as_ref().and_then(|l| l.personality().as_ref());
    if personality.is_some_and(|p| p.flags().as_ref().is_some_and(|f| !f.is_empty())) {
        return Err(cx.invalid(
            "linux.personality.flags",
            "the runtime-spec defines no personality flags",
        ));
    }
    Ok(())
}

/// Scheduler, io priority and LSM labels of a process.
fn process_limits(cx: &Ctx, p: &Process) -> Result<()> {
    if let Some(s) = p.scheduler() {
        if let Some(n) = s.nice().filter(|n| !(-20..=19).contains(n)) {
            return Err(cx.invalid("process.scheduler.nice", format!("{n} is not in -20..19")));
        }
        let realtime = matches!(
            s.policy(),
            LinuxSchedulerPolicy::SchedFifo | LinuxSchedulerPolicy::SchedRr
        );
        match s.priority().unwrap_or(0) {
            1..=99 if realtime => {}
            0 if !realtime => {}
            n => {
                return Err(cx.invalid(
                    "process.scheduler.priority",
                    format!(
                        "{n} with {}: SCHED_FIFO and SCHED_RR take 1..99, other policies 0",
                        s.policy()
                    ),
                ))
            }
        }
        if *s.policy() == LinuxSchedulerPolicy::SchedDeadline
            && (s.runtime().is_none() || s.deadline().is_none() || s.period().is_none())
        {
            return Err(cx.invalid(
                "process.scheduler",
                "SCHED_DEADLINE needs runtime, deadline and period",
            ));
        }
    }
    if let Some(io) = p.io_priority() {
        if !(0..=7).contains(&io.priority()) {
            return Err(cx.invalid(
                "process.ioPriority.priority",
                format!("{} is not in 0..7", io.priority()),
            ));
        }
    }
    if p.apparmor_profile()
        .as_deref()
        .is_some_and(|s| !s.is_empty())
        && !lsm::apparmor_enabled()
    {
        return Err(cx.invalid(
            "process.apparmorProfile",
            "AppArmor is not enabled on this host (/sys/module/apparmor/parameters/enabled is not Y)",
        ));
    }
    if p.selinux_label().as_deref().is_some_and(|s| !s.is_empty()) && !lsm::selinux_enabled() {
        return Err(cx.invalid(
            "process.selinuxLabel",
            "SELinux is not enabled on this host (no selinuxfs at /sys/fs/selinux)",
        ));
    }
    Ok(())
}

/// Only sysctls of a namespace the container creates: anything else would change the host.
fn sysctls(cx: &Ctx, spec: &Spec) -> Result<()> {
    let Some(map) = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) else {
        return Ok(());
    };
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    for key in keys {
        if !sysctl::well_formed(key) {
            return Err(cx.invalid("linux.sysctl", format!("{key:?} is not a sysctl name")));
        }
        let Some(t) = sysctl::namespace(key) else {
            return Err(cx.invalid(
                "linux.sysctl",
                format!("{key:?} is not namespaced: setting it would change the host"),
            ));
        };
        if !new_ns(spec, t) {
            return Err(cx.invalid(
                "linux.sysctl",
                format!("{key:?} needs a new {t} namespace in linux.namespaces"),
            ));
        }
        let field = match key.as_str() {
            "kernel.hostname" => spec.hostname(),
            "kernel.domainname" => spec.domainname(),
            _ => &None,
        };
        if let Some(v) = field.as_deref().filter(|v| !v.is_empty() && *v != map[key]) {
            return Err(cx.invalid(
                "linux.sysctl",
                format!(
                    "{key:?} = {:?} conflicts with {v:?} set in the config",
                    map[key]
                ),
            ));
        }
    }
    Ok(())
}

fn time_offsets(cx: &Ctx, spec: &Spec) -> Result<()> {
    let Some(map) = spec
        .linux()
        .as_ref()
        .and_then(|l| l.time_offsets().as_ref())
    else {
        return Ok(());
    };
    if map.is_empty() {
        return Ok(());
    }
    if !new_ns(spec, LinuxNamespaceType::Time) {
        return Err(cx.invalid(
            "linux.timeOffsets",
            "needs a new time namespace in linux.namespaces",
        ));
    }
    for (clock, o) in map {
        if clock != "monotonic" && clock != "boottime" {
            return Err(cx.invalid(
                "linux.timeOffsets",
                format!("{clock:?} is not a clock with an offset (monotonic or boottime)"),
            ));
        }
        if o.nanosecs().is_some_and(|n| n >= 1_000_000_000) {
            return Err(cx.invalid(
                format!("linux.timeOffsets.{clock}.nanosecs"),
                "must be below 1000000000",
            ));
        }
    }
    Ok(())
}

fn namespaces(cx: &Ctx, spec: &Spec) -> Result<()> {
    let linux = spec.linux().as_ref();
    let nss = linux.and_then(|l| l.namespaces().as_ref());
    let mut seen = HashSet::new();
    for (i, ns) in nss.into_iter().flatten().enumerate() {
        if !seen.insert(ns.typ()) {
            return Err(cx.invalid(
                format!("linux.namespaces[{i}]"),
                format!("namespace {} is listed twice", ns.typ()),
            ));
        }
        if let Some(path) = ns.path() {
            if !path.is_absolute() {
                return Err(cx.invalid(
                    format!("linux.namespaces[{i}].path"),
                    format!("{path:?} is not an absolute path"),
                ));
            }
            if let Err(e) = std::fs::metadata(path) {
                return Err(cx.invalid(
                    format!("linux.namespaces[{i}].path"),
                    format!("{}: {e}", path.display()),
                ));
            }
        }
    }
    if !seen.contains(&LinuxNamespaceType::Mount) {
        // The container's mounts are then made in the runtime's mount namespace, on a
        // private bind of the rootfs (see `rootfs::host`). What needs the container's
        // own view of the host's mounts is refused, as runc refuses masked and
        // read-only paths.
        let l = linux.as_ref();
        for (field, set) in [
            (
                "linux.maskedPaths",
                l.and_then(|l| l.masked_paths().as_ref())
                    .is_some_and(|p| !p.is_empty()),
            ),
            (
                "linux.readonlyPaths",
                l.and_then(|l| l.readonly_paths().as_ref())
                    .is_some_and(|p| !p.is_empty()),
            ),
            (
                "linux.rootfsPropagation",
                l.is_some_and(|l| l.rootfs_propagation().is_some()),
            ),
        ] {
            if set {
                return Err(cx.invalid(field, "needs a mount namespace in linux.namespaces"));
            }
        }
    }
    let new_ns = |t| {
        nss.into_iter()
            .flatten()
            .any(|ns| ns.typ() == t && ns.path().is_none())
    };
    // Set in the container's uts namespace, new or joined by path (as runc does); never
    // in the runtime's own.
    for (field, value) in [
        ("hostname", spec.hostname()),
        ("domainname", spec.domainname()),
    ] {
        if value.as_deref().is_some_and(|h| !h.is_empty())
            && !seen.contains(&LinuxNamespaceType::Uts)
        {
            return Err(cx.invalid(field, "needs a uts namespace in linux.namespaces"));
        }
    }
    let has_maps = linux.is_some_and(|l| l.uid_mappings().is_some() || l.gid_mappings().is_some());
    if new_ns(LinuxNamespaceType::User) {
        let l = linux.expect("namespaces come from linux");
        if l.uid_mappings().as_ref().is_none_or(|m| m.is_empty())
            || l.gid_mappings().as_ref().is_none_or(|m| m.is_empty())
        {
            return Err(cx.invalid(
                "linux.uidMappings",
                "a new user namespace needs uidMappings and gidMappings",
            ));
        }
    } else if has_maps && !seen.contains(&LinuxNamespaceType::User) {
        // With a joined user namespace the mappings describe it (runc requires them).
        return Err(cx.invalid(
            "linux.uidMappings",
            "mappings need a user namespace in linux.namespaces",
        ));
    }
    Ok(())
}

/// The kernel's limit on the lines of one uid_map or gid_map (since Linux 4.15).
const MAX_MAP_LINES: usize = 340;

/// Each range is non-empty and within 0..`MAX_ID` on both sides, and no two overlap on either side
/// (the kernel refuses such a map with a bare EINVAL).
fn ranges(cx: &Ctx, field: &str, maps: &[LinuxIdMapping]) -> Result<()> {
    if maps.len() > MAX_MAP_LINES {
        return Err(cx.invalid(
            field,
            format!(
                "{} ranges; the kernel takes at most {MAX_MAP_LINES}",
                maps.len()
            ),
        ));
    }
    let end = |start: u32, size: u32| u64::from(start) + u64::from(size);
    for (i, m) in maps.iter().enumerate() {
        if m.size() == 0 {
            return Err(cx.invalid(format!("{field}[{i}].size"), "must be at least 1"));
        }
        for (side, start) in [("containerID", m.container_id()), ("hostID", m.host_id())] {
            if end(start, m.size()) > u64::from(MAX_ID) + 1 {
                return Err(cx.invalid(
                    format!("{field}[{i}]"),
                    format!(
                        "{side} {start} with size {} runs past {MAX_ID}, the highest id",
                        m.size()
                    ),
                ));
            }
        }
        for (j, o) in maps[..i].iter().enumerate() {
            // [a, a + m.size) and [b, b + o.size) share an id.
            let overlap =
                |a: u32, b: u32| u64::from(a) < end(b, o.size()) && u64::from(b) < end(a, m.size());
            if overlap(m.container_id(), o.container_id()) {
                return Err(cx.invalid(
                    format!("{field}[{i}]"),
                    format!("its containerID range overlaps that of {field}[{j}]"),
                ));
            }
            if overlap(m.host_id(), o.host_id()) {
                return Err(cx.invalid(
                    format!("{field}[{i}]"),
                    format!("its hostID range overlaps that of {field}[{j}]"),
                ));
            }
        }
    }
    Ok(())
}

fn is_mapped(maps: &[LinuxIdMapping], id: u32) -> bool {
    maps.iter()
        .any(|m| (m.container_id()..=m.container_id() + (m.size() - 1)).contains(&id))
}

/// The container ids the mappings cover, for error messages: "0-999, 1000-1999".
fn covered(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{}-{}", m.container_id(), m.container_id() + (m.size() - 1)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The mappings of a new user namespace are well formed and map the process's ids: an
/// unmapped id would fail only in the init, at setuid(2), with a bare EINVAL.
fn id_mappings(cx: &Ctx, spec: &Spec) -> Result<()> {
    let Some(l) = spec.linux() else {
        return Ok(());
    };
    let uids = l.uid_mappings().as_deref().unwrap_or_default();
    let gids = l.gid_mappings().as_deref().unwrap_or_default();
    ranges(cx, "linux.uidMappings", uids)?;
    ranges(cx, "linux.gidMappings", gids)?;
    let new_userns = l
        .namespaces()
        .iter()
        .flatten()
        .any(|ns| ns.typ() == LinuxNamespaceType::User && ns.path().is_none());
    let user = match spec.process() {
        Some(p) if new_userns => p.user(),
        _ => return Ok(()),
    };
    if !is_mapped(uids, user.uid()) {
        return Err(cx.invalid(
            "process.user.uid",
            format!(
                "{} is not mapped by linux.uidMappings (container uids {})",
                user.uid(),
                covered(uids)
            ),
        ));
    }
    let groups = std::iter::once(("process.user.gid".to_string(), user.gid())).chain(
        user.additional_gids()
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, g)| (format!("process.user.additionalGids[{i}]"), *g)),
    );
    for (field, gid) in groups {
        if !is_mapped(gids, gid) {
            return Err(cx.invalid(
                field,
                format!(
                    "{gid} is not mapped by linux.gidMappings (container gids {})",
                    covered(gids)
                ),
            ));
        }
    }
    Ok(())
}

fn mounts(cx: &Ctx, spec: &Spec) -> Result<()> {
    let linux = spec.linux().as_ref();
    let non_empty = |m: &Option<Vec<_>>| m.as_ref().is_some_and(|m: &Vec<_>| !m.is_empty());
    let container_maps =
        linux.is_some_and(|l| non_empty(l.uid_mappings()) && non_empty(l.gid_mappings()));
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        let field = |f: &str| format!("mounts[{i}].{f}");
        // A relative destination is relative to the container's "/" (runtime-spec 1.2 made
        // it deprecated, not invalid); `rootfs::paths` resolves it so.
        if m.destination().as_os_str().is_empty() {
            return Err(cx.invalid(field("destination"), "is required"));
        }
        let opts = options::parse(m.options().as_deref().unwrap_or_default());
        let bind = opts.bind || m.typ().as_deref() == Some("bind");
        if bind && m.source().is_none() {
            return Err(cx.invalid(field("source"), "a bind mount needs a source"));
        }
        ranges(
            cx,
            &field("uidMappings"),
            m.uid_mappings().as_deref().unwrap_or_default(),
        )?;
        ranges(
            cx,
            &field("gidMappings"),
            m.gid_mappings().as_deref().unwrap_or_default(),
        )?;
        if m.uid_mappings().is_some() != m.gid_mappings().is_some() {
            return Err(cx.invalid(
                field("uidMappings"),
                "uidMappings and gidMappings go together",
            ));
        }
        if rootfs::idmap::kind(m).is_some() {
            if !bind {
                return Err(cx.invalid(
                    field("options"),
                    "idmap, ridmap and mount mappings are for bind mounts",
                ));
            }
            if m.uid_mappings().is_none() && !container_maps {
                return Err(cx.invalid(
                    field("options"),
                    "idmap without uidMappings/gidMappings on the mount uses the container's \
                     linux.uidMappings and linux.gidMappings, and there are none",
                ));
            }
        }
        if opts.tmpcopyup && m.typ().as_deref() != Some("tmpfs") {
            return Err(cx.invalid(field("options"), "tmpcopyup is for tmpfs mounts"));
        }
    }
    Ok(())
}

fn devices(cx: &Ctx, spec: &Spec) -> Result<()> {
    let devices = spec.linux().as_ref().and_then(|l| l.devices().as_ref());
    for (i, d) in devices.into_iter().flatten().enumerate() {
        if !d.path().is_absolute() {
            return Err(cx.invalid(
                format!("linux.devices[{i}].path"),
                format!("{:?} is not an absolute path", d.path()),
            ));
        }
        // chown(2) takes -1 as "leave unchanged": the node would stay root's.
        if let Some(uid) = d.uid() {
            id(cx, format!("linux.devices[{i}].uid"), uid)?;
        }
        if let Some(gid) = d.gid() {
            id(cx, format!("linux.devices[{i}].gid"), gid)?;
        }
        if d.typ() == LinuxDeviceType::A {
            return Err(cx.invalid(
                format!("linux.devices[{i}].type"),
                "must be c, u, b or p (\"a\" is only for linux.resources.devices)",
            ));
        }
        crate::rootfs::devices::numbers(d, i).map_err(|(field, msg)| cx.invalid(field, msg))?;
    }
    Ok(())
}

/// config.md: a hook's path is absolute, its timeout (if set) greater than zero.
fn hooks(cx: &Ctx, spec: &Spec) -> Result<()> {
    for kind in crate::hooks::Kind::ALL {
        for (i, h) in kind.of(spec.hooks().as_ref()).iter().enumerate() {
            let field = format!("hooks.{}[{i}]", kind.name());
            if !h.path().is_absolute() {
                return Err(cx.invalid(
                    format!("{field}.path"),
                    format!("{:?} is not an absolute path", h.path()),
                ));
            }
            if let Some(t) = h.timeout().filter(|t| *t <= 0) {
                return Err(cx.invalid(
                    format!("{field}.timeout"),
                    format!("{t} is not a number of seconds greater than zero"),
                ));
            }
        }
    }
    Ok(())
}

fn unsupported(cx: &Ctx, spec: &Spec) -> Result<()> {
    let Some(l) = spec.linux() else {
        return Ok(());
    };
    if let Some(p) = l.rootfs_propagation() {
        if crate::rootfs::options::propagation(p).is_none() {
            return Err(cx.invalid(
                "linux.rootfsPropagation",
                format!("{p:?} is not a propagation type"),
            ));
        }
    }
    if l.mount_label().as_deref().is_some_and(|l| !l.is_empty()) && !lsm::selinux_enabled() {
        return Err(cx.invalid(
            "linux.mountLabel",
            "SELinux is not enabled on this host (no selinuxfs at /sys/fs/selinux)",
        ));
    }
    if let Some(s) = l.seccomp() {
        corral_seccomp::check(s).map_err(|e| seccomp_error(cx.file, e))?;
    }
    if let Some(r) = l.resources() {
        let v = corral_cgroups::Cgroup::host_version().map_err(|e| cgroup_error(cx.file, e))?;
        corral_cgroups::check(r, v).map_err(|e| cgroup_error(cx.file, e))?;
    }
    if l.intel_rdt().is_some() {
        return Err(cx.invalid("linux.intelRdt", intel_rdt_refusal()));
    }
    if let Some(p) = l.memory_policy() {
        crate::process::numa::check(p).map_err(|(f, m)| cx.invalid(f, m))?;
        crate::process::numa::check_kernel(p).map_err(|(f, m)| cx.invalid(f, m))?;
    }
    crate::netdev::check(spec).map_err(|(f, m)| cx.invalid(f, m))?;
    for (field, paths) in [
        ("linux.maskedPaths", l.masked_paths()),
        ("linux.readonlyPaths", l.readonly_paths()),
    ] {
        for (i, p) in paths.iter().flatten().enumerate() {
            if !p.starts_with('/') {
                return Err(cx.invalid(
                    format!("{field}[{i}]"),
                    format!("{p:?} is not an absolute path"),
                ));
            }
        }
    }
    Ok(())
}

/// Why `linux.intelRdt` is refused on this host. The spec: "If no mounted resctrl
/// pseudo-filesystem is available in the runtime mount namespace, the runtime MUST
/// generate an error"; writing to one is not implemented yet (no host here has one).
fn intel_rdt_refusal() -> String {
    let mounted = std::fs::read_to_string("/proc/self/mountinfo")
        .map(|m| m.lines().any(|l| l.contains(" - resctrl ")))
        .unwrap_or(false);
    if mounted {
        "resctrl is mounted, but corral does not write resctrl groups yet".into()
    } else {
        let known = std::fs::read_to_string("/proc/filesystems")
            .map(|f| f.lines().any(|l| l.trim_end().ends_with("resctrl")))
            .unwrap_or(false);
        format!(
            "no resctrl filesystem is mounted (none in /proc/self/mountinfo; the kernel {} \
             resctrl)",
            if known { "knows" } else { "does not know" }
        )
    }
}

/// A seccomp error as an error about `file`, naming the field when there is one.
pub fn seccomp_error(file: &Path, e: corral_seccomp::Error) -> Error {
    match e {
        corral_seccomp::Error::Invalid { field, msg } => Error::Invalid {
            file: file.to_path_buf(),
            field,
            msg,
        },
        e => Error::Other(format!("linux.seccomp: {e}")),
    }
}

/// A cgroup error as an error about `file`, naming the field when there is one.
pub fn cgroup_error(file: &Path, e: corral_cgroups::Error) -> Error {
    match e {
        corral_cgroups::Error::Invalid { field, msg } => Error::Invalid {
            file: file.to_path_buf(),
            field,
            msg,
        },
        corral_cgroups::Error::Unsupported { field, why } if why.is_empty() => Error::Unsupported {
            file: file.to_path_buf(),
            field,
        },
        e => Error::Other(format!("{}: {e}", file.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_maps(uids: serde_json::Value, uid: u32) -> Result<()> {
        let spec: Spec = serde_json::from_value(serde_json::json!({
            "ociVersion": "1.0.2",
            "process": { "user": { "uid": uid, "gid": 0 }, "args": ["sh"], "cwd": "/" },
            "linux": {
                "namespaces": [{ "type": "user" }, { "type": "mount" }],
                "uidMappings": uids,
                "gidMappings": [{ "containerID": 0, "hostID": 100000, "size": 10 }]
            }
        }))
        .unwrap();
        id_mappings(
            &Ctx {
                file: Path::new("config.json"),
            },
            &spec,
        )
    }

    fn field_of(r: Result<()>) -> String {
        match r {
            Err(Error::Invalid { field, .. }) => field,
            other => panic!("expected an invalid field, got {other:?}"),
        }
    }

    #[test]
    fn several_ranges_map_the_user() {
        let two = serde_json::json!([
            { "containerID": 0, "hostID": 100000, "size": 1000 },
            { "containerID": 1000, "hostID": 200000, "size": 1000 }
        ]);
        assert!(check_maps(two.clone(), 1500).is_ok());
        assert_eq!(field_of(check_maps(two, 2000)), "process.user.uid");
    }

    #[test]
    fn bad_ranges_name_the_mapping() {
        let overlap = serde_json::json!([
            { "containerID": 0, "hostID": 100000, "size": 1000 },
            { "containerID": 999, "hostID": 200000, "size": 1 }
        ]);
        assert_eq!(field_of(check_maps(overlap, 0)), "linux.uidMappings[1]");
        let host_overlap = serde_json::json!([
            { "containerID": 0, "hostID": 100000, "size": 1000 },
            { "containerID": 1000, "hostID": 100500, "size": 1 }
        ]);
        assert_eq!(
            field_of(check_maps(host_overlap, 0)),
            "linux.uidMappings[1]"
        );
        let empty = serde_json::json!([{ "containerID": 0, "hostID": 1, "size": 0 }]);
        assert_eq!(field_of(check_maps(empty, 0)), "linux.uidMappings[0].size");
        let past_end =
            serde_json::json!([{ "containerID": 0, "hostID": 4294967295u32, "size": 2 }]);
        assert_eq!(field_of(check_maps(past_end, 0)), "linux.uidMappings[0]");
        // Ids stop at 2^31-1 (as runc's), on both sides.
        let last = serde_json::json!([{ "containerID": 0, "hostID": 2147483647u32, "size": 1 }]);
        assert!(check_maps(last, 0).is_ok());
        let past_max =
            serde_json::json!([{ "containerID": 2147483647u32, "hostID": 1, "size": 2 }]);
        assert_eq!(field_of(check_maps(past_max, 0)), "linux.uidMappings[0]");
    }
}
