//! `process.scheduler`, `process.ioPriority` and `linux.personality`: one system call
//! each, none of them wrapped by libc or nix.

use crate::{Error, Result};
use oci_spec::runtime::{
    IOPriorityClass, LinuxPersonality, LinuxPersonalityDomain, LinuxSchedulerFlag,
    LinuxSchedulerPolicy, Process, Scheduler,
};

/// `struct sched_attr` of sched_setattr(2), as of Linux 5.3 (with the util clamps).
#[repr(C)]
#[derive(Debug, Default, PartialEq)]
struct SchedAttr {
    size: u32,
    sched_policy: u32,
    sched_flags: u64,
    sched_nice: i32,
    sched_priority: u32,
    sched_runtime: u64,
    sched_deadline: u64,
    sched_period: u64,
    sched_util_min: u32,
    sched_util_max: u32,
}

fn policy(p: LinuxSchedulerPolicy) -> u32 {
    match p {
        LinuxSchedulerPolicy::SchedOther => 0,
        LinuxSchedulerPolicy::SchedFifo => 1,
        LinuxSchedulerPolicy::SchedRr => 2,
        LinuxSchedulerPolicy::SchedBatch => 3,
        // Reserved by the kernel and not implemented: sched_setattr answers EINVAL.
        LinuxSchedulerPolicy::SchedIso => 4,
        LinuxSchedulerPolicy::SchedIdle => 5,
        LinuxSchedulerPolicy::SchedDeadline => 6,
    }
}

fn flag(f: LinuxSchedulerFlag) -> u64 {
    match f {
        LinuxSchedulerFlag::SchedResetOnFork => 0x01,
        LinuxSchedulerFlag::SchedFlagReclaim => 0x02,
        LinuxSchedulerFlag::SchedFlagDLOverrun => 0x04,
        LinuxSchedulerFlag::SchedFlagKeepPolicy => 0x08,
        LinuxSchedulerFlag::SchedFlagKeepParams => 0x10,
        LinuxSchedulerFlag::SchedFlagUtilClampMin => 0x20,
        LinuxSchedulerFlag::SchedFlagUtilClampMax => 0x40,
    }
}

fn sched_attr(s: &Scheduler) -> Result<SchedAttr> {
    let priority = s.priority().unwrap_or(0);
    let priority = u32::try_from(priority).map_err(|_| {
        Error::Init(format!(
            "process.scheduler.priority: {priority} is negative"
        ))
    })?;
    #[allow(
        clippy::cast_possible_truncation,
        reason = "struct sched_attr is 56 bytes"
    )]
    let size = std::mem::size_of::<SchedAttr>() as u32;
    Ok(SchedAttr {
        size,
        sched_policy: policy(*s.policy()),
        sched_flags: s.flags().iter().flatten().fold(0, |a, f| a | flag(*f)),
        sched_nice: s.nice().unwrap_or(0),
        sched_priority: priority,
        sched_runtime: s.runtime().unwrap_or(0),
        sched_deadline: s.deadline().unwrap_or(0),
        sched_period: s.period().unwrap_or(0),
        // The spec has no clamp values: with the clamp flags, the clamps are reset.
        sched_util_min: 0,
        sched_util_max: 0,
    })
}

/// sched_setattr(2) on the calling thread with `process.scheduler`.
pub fn set_scheduler(process: &Process) -> Result<()> {
    let Some(s) = process.scheduler() else {
        return Ok(());
    };
    let attr = sched_attr(s)?;
    // SAFETY: attr is a valid sched_attr of the size it declares; pid 0 is this thread.
    let ret = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0) };
    nix::errno::Errno::result(ret).map(drop).map_err(|e| {
        Error::sys(
            format!("process.scheduler: sched_setattr policy {}", s.policy()),
            e,
        )
    })
}

/// ioprio_set(2) of the calling process with `process.ioPriority`.
pub fn set_io_priority(process: &Process) -> Result<()> {
    const IOPRIO_WHO_PROCESS: libc::c_int = 1;
    const IOPRIO_CLASS_SHIFT: u32 = 13;
    let Some(io) = process.io_priority() else {
        return Ok(());
    };
    let class: u32 = match io.class() {
        IOPriorityClass::IoprioClassRt => 1,
        IOPriorityClass::IoprioClassBe => 2,
        IOPriorityClass::IoprioClassIdle => 3,
    };
    let level = u32::try_from(io.priority())
        .ok()
        .filter(|l| *l < 8)
        .ok_or_else(|| {
            Error::Init(format!(
                "process.ioPriority.priority: {} is not in 0..7",
                io.priority()
            ))
        })?;
    let prio = (class << IOPRIO_CLASS_SHIFT) | level;
    // SAFETY: ioprio_set takes integers only; who 0 is the calling process.
    let ret = unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, prio) };
    nix::errno::Errno::result(ret).map(drop).map_err(|e| {
        Error::sys(
            format!(
                "process.ioPriority: ioprio_set class {} priority {}",
                io.class(),
                io.priority()
            ),
            e,
        )
    })
}

/// personality(2) with `linux.personality` (flags are refused by validation: the spec
/// defines none).
pub fn set_personality(p: Option<&LinuxPersonality>) -> Result<()> {
    const PER_LINUX: libc::c_int = 0;
    const PER_LINUX32: libc::c_int = 0x0008;
    let Some(p) = p else {
        return Ok(());
    };
    let persona = match p.domain() {
        LinuxPersonalityDomain::PerLinux => PER_LINUX,
        LinuxPersonalityDomain::PerLinux32 => PER_LINUX32,
    };
    nix::sys::personality::set(nix::sys::personality::Persona::from_bits_retain(persona))
        .map(drop)
        .map_err(|e| Error::sys(format!("linux.personality: personality {}", p.domain()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sched_attr_is_the_kernels_size_and_carries_every_field() {
        // SCHED_ATTR_SIZE_VER1 of the kernel's uapi.
        assert_eq!(std::mem::size_of::<SchedAttr>(), 56);
        let s: Scheduler = serde_json::from_value(serde_json::json!({
            "policy": "SCHED_DEADLINE",
            "flags": ["SCHED_RESET_ON_FORK", "SCHED_FLAG_D_L_OVERRUN", "SCHED_FLAG_UTIL_CLAMP_MAX"],
            "runtime": 1000, "deadline": 2000, "period": 3000
        }))
        .unwrap();
        let a = sched_attr(&s).unwrap();
        assert_eq!(a.sched_policy, 6);
        assert_eq!(a.sched_flags, 0x45);
        assert_eq!(
            (a.sched_runtime, a.sched_deadline, a.sched_period),
            (1000, 2000, 3000)
        );
    }
}
