//! Validation of a parsed `config.json`: a list of small named checks, run before
//! anything is created, so that bad input leaves nothing behind.
//!
//! Each check returns the first problem it finds as an error naming the file and the
//! field. Fields this version of corral does not implement are refused, never ignored.

use crate::rootfs::{self, options};
use crate::{Error, Result};
use oci_spec::runtime::{LinuxDeviceType, LinuxNamespaceType, Spec};
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
            msg: msg.into(),
        }
    }

    fn unsupported(&self, field: impl Into<String>) -> Error {
        Error::Unsupported {
            file: self.file.to_path_buf(),
            field: field.into(),
        }
    }
}

/// Checks `spec` (read from `file` in bundle `dir`); returns the absolute rootfs path.
pub fn check(spec: &Spec, file: &Path, dir: &Path) -> Result<PathBuf> {
    let cx = Ctx { file };
    version(&cx, spec)?;
    let rootfs = root(&cx, spec, dir)?;
    process(&cx, spec)?;
    namespaces(&cx, spec)?;
    mounts(&cx, spec)?;
    devices(&cx, spec)?;
    unsupported(&cx, spec)?;
    Ok(rootfs)
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

fn process(cx: &Ctx, spec: &Spec) -> Result<()> {
    let p = spec
        .process()
        .as_ref()
        .ok_or_else(|| cx.invalid("process", "is required"))?;
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
    for (i, e) in p.env().iter().flatten().enumerate() {
        if !e.contains('=') {
            return Err(cx.invalid(
                format!("process.env[{i}]"),
                format!("{e:?} is not KEY=value"),
            ));
        }
    }
    if p.terminal() == Some(true) {
        return Err(cx.unsupported("process.terminal"));
    }
    let checks: [(&str, bool); 5] = [
        ("process.apparmorProfile", p.apparmor_profile().is_some()),
        ("process.selinuxLabel", p.selinux_label().is_some()),
        ("process.scheduler", p.scheduler().is_some()),
        ("process.ioPriority", p.io_priority().is_some()),
        ("process.execCPUAffinity", p.exec_cpu_affinity().is_some()),
    ];
    refuse_set(cx, &checks)
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
        return Err(cx.invalid(
            "linux.namespaces",
            "corral needs a mount namespace to set up the rootfs without touching the host's mounts",
        ));
    }
    let new_ns = |t| {
        nss.into_iter()
            .flatten()
            .any(|ns| ns.typ() == t && ns.path().is_none())
    };
    if spec.hostname().as_deref().is_some_and(|h| !h.is_empty()) && !new_ns(LinuxNamespaceType::Uts)
    {
        return Err(cx.invalid("hostname", "needs a new uts namespace"));
    }
    if spec.domainname().as_deref().is_some_and(|h| !h.is_empty())
        && !new_ns(LinuxNamespaceType::Uts)
    {
        return Err(cx.invalid("domainname", "needs a new uts namespace"));
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
        if d.typ() == LinuxDeviceType::A {
            return Err(cx.invalid(
                format!("linux.devices[{i}].type"),
                "must be c, u, b or p (\"a\" is only for linux.resources.devices)",
            ));
        }
    }
    Ok(())
}

/// SELinux is enabled when its filesystem is mounted.
fn selinux_enabled() -> bool {
    Path::new("/sys/fs/selinux/enforce").exists()
}

fn unsupported(cx: &Ctx, spec: &Spec) -> Result<()> {
    let hooks = spec.hooks().as_ref().is_some_and(|h| {
        [
            h.prestart(),
            h.create_runtime(),
            h.create_container(),
            h.start_container(),
            h.poststart(),
            h.poststop(),
        ]
        .iter()
        .any(|v| v.as_ref().is_some_and(|v| !v.is_empty()))
    });
    refuse_set(cx, &[("hooks", hooks)])?;
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
    if l.mount_label().as_deref().is_some_and(|l| !l.is_empty()) && !selinux_enabled() {
        return Err(cx.invalid(
            "linux.mountLabel",
            "SELinux is not enabled on this host (no selinuxfs at /sys/fs/selinux)",
        ));
    }
    if let Some(s) = l.seccomp() {
        corral_seccomp::check(s).map_err(|e| seccomp_error(cx.file, e))?;
    }
    let set: [(&str, bool); 8] = [
        ("linux.resources", l.resources().is_some()),
        ("linux.cgroupsPath", l.cgroups_path().is_some()),
        (
            "linux.sysctl",
            l.sysctl().as_ref().is_some_and(|s| !s.is_empty()),
        ),
        ("linux.intelRdt", l.intel_rdt().is_some()),
        ("linux.personality", l.personality().is_some()),
        ("linux.timeOffsets", l.time_offsets().is_some()),
        ("linux.memoryPolicy", l.memory_policy().is_some()),
        ("linux.netDevices", l.net_devices().is_some()),
    ];
    refuse_set(cx, &set)?;
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

fn refuse_set(cx: &Ctx, fields: &[(&str, bool)]) -> Result<()> {
    match fields.iter().find(|(_, set)| *set) {
        Some((field, _)) => Err(cx.unsupported(*field)),
        None => Ok(()),
    }
}
