//! `--systemd-cgroup`: the container's cgroup is a transient systemd scope.
//!
//! `linux.cgroupsPath` is `slice:prefix:name` (runc's form; absent, it is
//! `system.slice:corral:ID`). The scope `prefix-name.scope` (`name.scope` without a
//! prefix) goes into the slice, whose cgroup is where systemd puts nested slices
//! (`a-b.slice` is `a.slice/a-b.slice`). [`plan`] works all of that out before anything
//! is made, with the unit's properties ([`crate::sd_props`]: the resources systemd knows,
//! and `org.systemd.property.*` annotations).
//!
//! The scope cannot exist without a process (systemd refuses an empty one), so it is
//! started once the init is cloned, with the init's pid in `PIDs`, while the init waits
//! for the parent ([`Scope::start`]); the limits systemd has no property for are then
//! written to the scope's cgroup like a v2 one, before the init runs. The D-Bus client
//! ([`crate::dbus`]) is blocking and thread-free, and runs only in corral's process.
//! Every later operation finds the unit from the cgroup's directory name, which is the
//! unit's name.
//!
//! A caller that is not root on the host gets its scope from its own systemd user
//! manager ([`Driver::SystemdUser`]), on its user bus, under that manager's cgroup
//! (`user.slice/user-UID.slice/user@UID.service`), in `user.slice` by default as runc
//! does; only the limits of the controllers delegated to the user are set (see
//! [`plan`]). The cgroup records that bus, so every later operation asks the same
//! manager.

use crate::dbus::{self, Bus, Value};
use crate::{Cgroup, DeviceRule, Dir, Driver, Error, Result, Version};
use oci_spec::runtime::LinuxResources;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// What `sd_booted(3)` checks: systemd is the init system.
pub fn running() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

/// The three parts of a systemd `cgroupsPath`, `slice:prefix:name` (runc's form; an empty
/// slice means `system.slice`).
pub fn parse(path: &str) -> Result<(&str, &str, &str)> {
    let bad = |msg: &str| Error::Invalid {
        field: "linux.cgroupsPath".into(),
        msg: format!("{path:?}: {msg}"),
    };
    let parts: Vec<&str> = path.split(':').collect();
    let [slice, prefix, name] = parts[..] else {
        return Err(bad(
            "with --systemd-cgroup it must be \"slice:prefix:name\" (e.g. system.slice:corral:ID)",
        ));
    };
    if !slice.is_empty() && !valid_slice(slice) {
        return Err(bad(&format!(
            "{slice:?} is not a slice name (NAME.slice, no '/', no empty '-' parts)"
        )));
    }
    if name.is_empty() {
        return Err(bad("the name (after the second ':') is empty"));
    }
    // systemd's unit name characters (unit_name_is_valid): anything else is refused by
    // systemd anyway, with a less helpful error, after the init exists.
    let unit_char = |c: char| c.is_ascii_alphanumeric() || ":-_.\\".contains(c);
    if !prefix.chars().chain(name.chars()).all(unit_char) {
        return Err(bad(
            "the prefix and the name may hold only ASCII letters, digits and \":-_.\\\" \
             (systemd's unit name characters)",
        ));
    }
    if name.ends_with(".slice") {
        return Err(bad(
            "a name ending in .slice asks for a slice unit instead of a scope, which corral \
             does not make",
        ));
    }
    Ok((slice, prefix, name))
}

fn valid_slice(slice: &str) -> bool {
    if slice == "-.slice" {
        return true;
    }
    let Some(stem) = slice.strip_suffix(".slice") else {
        return false;
    };
    !stem.is_empty() && !slice.contains('/') && stem.split('-').all(|p| !p.is_empty())
}

/// The scope's unit name.
pub fn unit_name(prefix: &str, name: &str) -> String {
    match prefix {
        "" => format!("{name}.scope"),
        p => format!("{p}-{name}.scope"),
    }
}

/// Where systemd puts the cgroup of `slice`, below the hierarchy's root: each `-` is a
/// level (`a-b.slice` is `a.slice/a-b.slice`), and `-.slice` is the root itself.
pub fn slice_dir(slice: &str) -> PathBuf {
    let mut out = PathBuf::new();
    let Some(stem) = slice.strip_suffix(".slice").filter(|s| *s != "-") else {
        return out;
    };
    let mut prefix = String::new();
    for part in stem.split('-') {
        prefix.push_str(part);
        out.push(format!("{prefix}.slice"));
        prefix.push('-');
    }
    out
}

/// The transient scope `create` starts, with everything it needs (see [`plan`]).
#[derive(Debug, Clone)]
pub struct Scope {
    pub unit: String,
    pub cgroup: Cgroup,
    /// A user manager's scope: the limits left out because their controller is not
    /// delegated to the user, by field (what `create` warns about).
    pub skipped: Vec<String>,
    props: Vec<(String, Value)>,
    resources: LinuxResources,
    extra: Vec<DeviceRule>,
}

/// Works out the container's scope before anything is made: `cgroups_path` (see
/// [`parse`]), the unit's properties from `resources` and the `org.systemd.property.*`
/// `annotations`. An error names the field or the annotation; on a host without systemd
/// it says so.
///
/// `user`: the caller is not root, and the scope goes to its own systemd user manager
/// (runc's rootless form: the default slice is `user.slice`, inside the manager's own
/// cgroup `user.slice/user-UID.slice/user@UID.service`). That manager is asked here
/// where its cgroup is, so an unreachable bus fails before anything is made; the limits
/// whose controller it was not delegated are left out ([`Scope::skipped`]), and so are
/// device rules (a user manager cannot attach a device filter, and the container's user
/// namespace keeps it from the devices its user may not open).
pub fn plan(
    cgroups_path: Option<&str>,
    id: &str,
    annotations: Option<&HashMap<String, String>>,
    resources: Option<&LinuxResources>,
    extra: &[DeviceRule],
    user: bool,
) -> Result<Scope> {
    let default_slice = if user { "user.slice" } else { "system.slice" };
    let default = format!("{default_slice}:corral:{id}");
    let path = cgroups_path.filter(|p| !p.is_empty()).unwrap_or(&default);
    let (slice, prefix, name) = parse(path)?;
    let slice = if slice.is_empty() {
        default_slice
    } else {
        slice
    };
    let none = LinuxResources::default();
    let resources = resources.unwrap_or(&none);
    // Checked in full before anything is asked of systemd.
    let resource_props = crate::sd_props::of_resources(resources, extra)?;
    let annotation_props = crate::sd_props::of_annotations(annotations)?;
    if !running() {
        return Err(Error::Other(
            "--systemd-cgroup: systemd is not running on this host (no /run/systemd/system): \
             drop the flag to use cgroupfs"
                .into(),
        ));
    }
    let mountinfo = crate::read("/proc/self/mountinfo")?;
    if crate::layout::version(&mountinfo) != Version::V2 {
        return Err(Error::Unsupported {
            field: "--systemd-cgroup".into(),
            why: " on a host whose cgroups are v1 or hybrid (corral's systemd driver needs \
                  a pure cgroup v2 host)"
                .into(),
        });
    }
    let mount = PathBuf::from(crate::layout::ROOT);
    let unit = unit_name(prefix, name);
    let (driver, bus, top) = match user {
        false => (Driver::Systemd, None, mount.clone()),
        true => {
            let (bus, top) = user_manager()?;
            (Driver::SystemdUser, Some(bus), mount.join(top))
        }
    };
    let cgroup = Cgroup {
        version: Version::V2,
        driver,
        bus,
        dirs: vec![Dir {
            controllers: vec![],
            path: top.join(slice_dir(slice)).join(&unit),
            mount,
            made: vec![],
        }],
    };
    let mut props = base_props(id, slice);
    let (resources, skipped, extra) = match user {
        false => {
            props.extend(resource_props);
            (resources.clone(), vec![], extra.to_vec())
        }
        true => {
            let (kept, skipped) = crate::rootless::delegated_only(resources, &cgroup);
            props.extend(crate::sd_props::of_resources(&kept, &[])?);
            (kept, skipped, vec![])
        }
    };
    props.extend(annotation_props);
    Ok(Scope {
        unit,
        cgroup,
        skipped,
        props,
        resources,
        extra,
    })
}

/// The caller's systemd user manager: its bus, and its cgroup below the hierarchy's
/// root (its `ControlGroup`, e.g. `user.slice/user-1000.slice/user@1000.service`).
fn user_manager() -> Result<(String, PathBuf)> {
    let uid = dbus::peer_uid();
    let unreachable = |e: Error| {
        Error::Other(format!(
            "--systemd-cgroup: cannot reach the systemd user manager of uid {uid} ({e}); a \
             rootless caller needs its user bus ($DBUS_SESSION_BUS_ADDRESS, else \
             $XDG_RUNTIME_DIR/bus: a login session or `loginctl enable-linger`), or drop \
             the flag to use cgroupfs"
        ))
    };
    let path = Bus::user_path().map_err(unreachable)?;
    let top = Bus::connect(&path)
        .and_then(|mut b| b.manager_string("ControlGroup"))
        .map_err(unreachable)?;
    let top = top.trim_start_matches('/');
    if top.is_empty() || top.split('/').any(|c| c == "..") {
        return Err(unreachable(Error::Other(format!(
            "its ControlGroup {top:?} is not a cgroup below the root"
        ))));
    }
    Ok((path, PathBuf::from(top)))
}

/// The bus of the manager that holds `cg`'s scope.
fn bus_of(cg: &Cgroup) -> Result<Bus> {
    match (cg.driver, &cg.bus) {
        (Driver::SystemdUser, Some(path)) => Bus::connect(path),
        (Driver::SystemdUser, None) => Bus::connect(&Bus::user_path()?),
        _ => Bus::system(),
    }
}

/// What every scope gets, as runc sets it: the slice, delegation (the container may
/// manage its own sub-cgroups, and systemd leaves them alone), accounting on (so the
/// controllers are enabled down to the scope), and no default dependencies (a scope of
/// a container must not be stopped at shutdown before what runs it).
fn base_props(id: &str, slice: &str) -> Vec<(String, Value)> {
    let p = |n: &str, v| (n.to_string(), v);
    vec![
        p("Description", Value::Str(format!("corral container {id}"))),
        p("Slice", Value::Str(slice.into())),
        p("Delegate", Value::Bool(true)),
        p("MemoryAccounting", Value::Bool(true)),
        p("CPUAccounting", Value::Bool(true)),
        p("IOAccounting", Value::Bool(true)),
        p("TasksAccounting", Value::Bool(true)),
        p("DefaultDependencies", Value::Bool(false)),
    ]
}

fn failed(unit: &str, e: impl std::fmt::Display) -> Error {
    Error::Other(format!("--systemd-cgroup: cannot start unit {unit}: {e}"))
}

impl Scope {
    /// Starts the scope with `pid` in it and waits for systemd's job, then writes what
    /// has no unit property to its cgroup. A unit of that name left failed by an earlier
    /// container is reset and the start tried once more (a live one is an error: it is
    /// not this container's). On an error the unit is stopped if this call started it.
    pub fn start(&self, pid: i32) -> Result<()> {
        let mut bus = bus_of(&self.cgroup).map_err(|e| failed(&self.unit, e))?;
        let mut props = self.props.clone();
        let pid = u32::try_from(pid)
            .map_err(|_| Error::Other(format!("{}: {pid} is not a process id", self.unit)))?;
        props.push(("PIDs".into(), Value::U32s(vec![pid])));
        let mut r = bus.start_transient(&self.unit, &props);
        if matches!(&r, Err(e) if dbus::is(e, "UnitExists")) {
            let _ = bus.reset_failed(&self.unit);
            r = bus.start_transient(&self.unit, &props);
        }
        match r {
            Err(e) if dbus::is(&e, "UnitExists") => return Err(failed(&self.unit, e)),
            Err(e) => {
                // A job that failed may leave the unit loaded, failed.
                stop_with(&mut bus, &self.unit, pid);
                return Err(failed(&self.unit, e));
            }
            Ok(()) => {}
        }
        let written = crate::v2::apply(&self.cgroup, &self.resources, &self.extra);
        if written.is_err() {
            stop_with(&mut bus, &self.unit, pid);
        }
        written
    }
}

/// Stops `unit` of a start that failed, after killing `init`, the process put in it
/// (create's init; restore's holder). The stop job alone would wait for systemd's stop
/// timeout (90 s) or the bus's (60 s): its SIGTERM does not reach create's init, the
/// first process of a pid namespace, which has no handler and is waiting for corral.
/// Either is corral's unreaped child, so its pid is still its own.
fn stop_with(bus: &mut Bus, unit: &str, init: u32) {
    if let Ok(pid) = libc::pid_t::try_from(init) {
        // SAFETY: kill with plain integers, on corral's own unreaped child.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    let _ = bus.stop(unit);
    let _ = bus.reset_failed(unit);
}

impl Cgroup {
    /// The systemd unit whose cgroup this is (the directory's name).
    pub fn unit(&self) -> Option<String> {
        let name = self.dirs.first()?.path.file_name()?.to_str()?;
        name.ends_with(".scope").then(|| name.to_owned())
    }
}

/// `update` of a scope: the properties first (so that systemd keeps them), then the
/// files, as `create` does.
pub(crate) fn update(cg: &Cgroup, r: &LinuxResources) -> Result<()> {
    let unit = cg
        .unit()
        .ok_or_else(|| Error::Other("the container's cgroup names no systemd scope".into()))?;
    let props = crate::sd_props::of_resources(r, &[])?;
    if !props.is_empty() {
        let mut bus = bus_of(cg)?;
        bus.set_properties(&unit, &props)
            .map_err(|e| Error::Other(format!("cannot set the properties of {unit}: {e}")))?;
    }
    crate::v2::apply(cg, r, &[])
}

/// Stops the scope (its processes are gone by now: [`Cgroup::destroy`] killed them) and
/// forgets it if it failed, so that no unit is left loaded. A unit that is gone already
/// (systemd unloads an empty scope by itself) is no error.
pub(crate) fn stop(cg: &Cgroup) -> Result<()> {
    let Some(unit) = cg.unit() else {
        return Ok(());
    };
    let mut bus = match bus_of(cg) {
        Ok(b) => b,
        // A user manager that is gone (its user's last session ended) took its scopes
        // and their cgroups with it.
        Err(_) if cg.driver == Driver::SystemdUser && !cg.dirs[0].path.exists() => return Ok(()),
        Err(e) => return Err(e),
    };
    bus.stop(&unit)
        .map_err(|e| Error::Other(format!("cannot stop unit {unit}: {e}")))?;
    let _ = bus.reset_failed(&unit);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(
            parse("system.slice:corral:abc").unwrap(),
            ("system.slice", "corral", "abc")
        );
        assert_eq!(parse(":corral:abc").unwrap().0, "");
        parse("user-1000.slice::abc").unwrap();
        parse("-.slice:x:abc").unwrap();
        for bad in [
            "/a/b",
            "a:b",
            "a:b:c:d",
            "system:corral:abc",
            ".slice:x:y",
            "a--b.slice:x:y",
            "-a.slice:x:y",
            "system.slice:x:",
            "system.slice:x:a/b",
            "system.slice:x y:a",
            "system.slice:x:k.slice",
        ] {
            let e = parse(bad).unwrap_err().to_string();
            assert!(e.starts_with("linux.cgroupsPath:"), "{bad}: {e}");
        }
    }

    #[test]
    fn units_and_slices() {
        assert_eq!(unit_name("corral", "a"), "corral-a.scope");
        assert_eq!(unit_name("", "a"), "a.scope");
        assert_eq!(slice_dir("system.slice"), Path::new("system.slice"));
        assert_eq!(
            slice_dir("a-b-c.slice"),
            Path::new("a.slice/a-b.slice/a-b-c.slice")
        );
        assert_eq!(slice_dir("-.slice"), Path::new(""));
    }
}
