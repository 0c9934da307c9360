//! `process.execCPUAffinity` of an `exec` process (runtime-spec: "not applicable to the
//! container's init process"): `initial` is where corral runs while it makes the process
//! and puts it in the container's cgroup, `final` where the process runs after that.

use crate::{Error, Result};
use corral_cgroups::check::parse_list;
use nix::sched::{sched_getaffinity, sched_setaffinity, CpuSet};
use nix::unistd::Pid;
use oci_spec::runtime::ExecCPUAffinity;

const FIELD: &str = "process.execCPUAffinity";

/// The CPUs of a list (`0-3,7`); an error is `(field, why)`.
pub fn cpu_set(name: &str, list: &str) -> std::result::Result<CpuSet, (String, String)> {
    let field = format!("{FIELD}.{name}");
    let cpus = parse_list(list).map_err(|m| (field.clone(), format!("{list:?}: {m}")))?;
    let mut set = CpuSet::new();
    for c in cpus {
        set.set(c as usize).map_err(|_| {
            let max = CpuSet::count();
            (
                field.clone(),
                format!("CPU {c} is beyond the kernel's {max}"),
            )
        })?;
    }
    Ok(set)
}

fn set(name: &str, list: &str, cpus: &CpuSet) -> Result<()> {
    sched_setaffinity(Pid::from_raw(0), cpus)
        .map_err(|e| Error::Other(format!("{FIELD}.{name}: sched_setaffinity {list:?}: {e}")))
}

fn given(list: &Option<String>) -> Option<&str> {
    list.as_deref().filter(|l| !l.trim().is_empty())
}

/// Checks both lists (the spec's regex is oci-spec's; this checks the numbers).
pub fn check(a: &ExecCPUAffinity) -> std::result::Result<(), (String, String)> {
    for (name, list) in [("initial", a.initial()), ("final", a.cpu_affinity_final())] {
        if let Some(l) = given(list) {
            cpu_set(name, l)?;
        }
    }
    Ok(())
}

fn parsed(name: &str, list: &str) -> Result<CpuSet> {
    cpu_set(name, list).map_err(|(f, m)| Error::Other(format!("{f}: {m}")))
}

/// Moves the caller (corral, before it clones the process) to the `initial` CPUs;
/// returns the affinity to go back to once the process is cloned.
pub fn initial(a: Option<&ExecCPUAffinity>) -> Result<Option<CpuSet>> {
    let Some(list) = a.and_then(|a| given(a.initial())) else {
        return Ok(None);
    };
    let before = sched_getaffinity(Pid::from_raw(0))
        .map_err(|e| Error::Other(format!("{FIELD}.initial: sched_getaffinity: {e}")))?;
    set("initial", list, &parsed("initial", list)?)?;
    Ok(Some(before))
}

/// Back to the affinity `initial` returned.
pub fn restore(before: Option<CpuSet>) {
    if let Some(cpus) = before {
        let _ = sched_setaffinity(Pid::from_raw(0), &cpus);
    }
}

/// In the process, once in the container's cgroup: the `final` CPUs. Without them the
/// affinity is left to the kernel (runtime-spec 1.3: "SHOULD NOT change" it), which
/// resets it when it moves a process into a cpuset.
pub fn final_cpus(a: Option<&ExecCPUAffinity>) -> Result<()> {
    match a.and_then(|a| given(a.cpu_affinity_final())) {
        Some(list) => set("final", list, &parsed("final", list)?),
        None => Ok(()),
    }
}
