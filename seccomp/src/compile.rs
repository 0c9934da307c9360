//! `linux.seccomp` → a libseccomp filter context, built in memory and loaded later.

use crate::names::name;
use crate::{Error, Result};
use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
    ScmpVersion,
};
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction as Action, LinuxSeccompArg,
    LinuxSeccompFilterFlag as Flag, LinuxSeccompOperator as Op,
};
use std::os::fd::{FromRawFd, OwnedFd};

/// The kernel passes six arguments to a system call; `args[].index` counts from 0.
const MAX_ARG_INDEX: usize = 5;

/// A filter ready to load.
pub struct Compiled {
    ctx: ScmpFilterContext,
    notify: bool,
    skipped: Vec<String>,
}

impl std::fmt::Debug for Compiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compiled")
            .field("notify", &self.notify)
            .field("skipped", &self.skipped)
            .finish_non_exhaustive()
    }
}

impl Compiled {
    /// Syscall names libseccomp does not know, left out of the filter (as runc does: a
    /// profile written for a newer kernel still works on an older one).
    pub fn skipped(&self) -> &[String] {
        &self.skipped
    }

    /// Whether a rule uses `SCMP_ACT_NOTIFY`, so that [`Compiled::load`] returns a fd.
    pub fn uses_notify(&self) -> bool {
        self.notify
    }

    /// Attaches the filter to the calling thread (for good: it is inherited across
    /// execve). Returns the notify fd when a rule uses `SCMP_ACT_NOTIFY`.
    ///
    /// Without no_new_privs set, the kernel requires CAP_SYS_ADMIN for this.
    pub fn load(&self) -> Result<Option<OwnedFd>> {
        self.ctx.load().map_err(|e| Error::Load(e.to_string()))?;
        if !self.notify {
            return Ok(None);
        }
        let fd = self
            .ctx
            .get_notify_fd()
            .map_err(|e| Error::Load(format!("get the notify fd: {e}")))?;
        // SAFETY: the kernel made this fd (O_CLOEXEC) when the filter was loaded, and only
        // libseccomp's global state refers to it; libseccomp uses it again only through
        // its notify calls, which corral never makes, so taking ownership (and closing it
        // once it is handed over) cannot close a fd something else still uses.
        Ok(Some(unsafe { OwnedFd::from_raw_fd(fd) }))
    }
}

/// The checks that need no filter: run at validation, before anything is created.
pub fn check(s: &LinuxSeccomp) -> Result<()> {
    let f = |rest: &str| format!("linux.seccomp.{rest}");
    if s.default_action() == Action::ScmpActNotify {
        return Err(Error::invalid(
            f("defaultAction"),
            "SCMP_ACT_NOTIFY cannot be the default action: the init's own system calls \
             would wait for a listener it has not handed its fd to yet",
        ));
    }
    action(
        s.default_action(),
        s.default_errno_ret(),
        &f("defaultErrnoRet"),
    )?;
    for (i, fl) in s.flags().iter().flatten().enumerate() {
        flag_supported(*fl).map_err(|msg| Error::invalid(f(&format!("flags[{i}]")), msg))?;
    }
    for (i, sc) in s.syscalls().iter().flatten().enumerate() {
        action(
            sc.action(),
            sc.errno_ret(),
            &f(&format!("syscalls[{i}].errnoRet")),
        )?;
        if sc.action() == Action::ScmpActNotify && s.listener_path().is_none() {
            return Err(Error::invalid(
                f(&format!("syscalls[{i}].action")),
                "SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath",
            ));
        }
        for (j, a) in sc.args().iter().flatten().enumerate() {
            if a.index() > MAX_ARG_INDEX {
                return Err(Error::invalid(
                    f(&format!("syscalls[{i}].args[{j}].index")),
                    format!("{} is not 0 to {MAX_ARG_INDEX}", a.index()),
                ));
            }
        }
    }
    Ok(())
}

/// Builds the filter. Allocates: call it before the process gives up what it needs to
/// allocate (and ideally before clone, so that the init only loads).
pub fn compile(s: &LinuxSeccomp) -> Result<Compiled> {
    check(s)?;
    let lib = |field: String| {
        move |e: libseccomp::error::SeccompError| Error::invalid(field, e.to_string())
    };
    let default = action(s.default_action(), s.default_errno_ret(), "")?;
    let mut ctx =
        ScmpFilterContext::new(default).map_err(lib("linux.seccomp.defaultAction".into()))?;
    // libseccomp sets no_new_privs when it loads a filter unless told not to; that is
    // process.noNewPrivileges' decision, and the init makes it.
    ctx.set_ctl_nnp(false)
        .map_err(lib("linux.seccomp".into()))?;
    for (i, a) in s.architectures().iter().flatten().enumerate() {
        ctx.add_arch(arch(*a)).map_err(|e| {
            Error::invalid(
                format!("linux.seccomp.architectures[{i}]"),
                format!(
                    "{} cannot go in a filter on this machine with {} (unknown to the \
                     library, or of the other byte order): {e}",
                    name(a),
                    library()
                ),
            )
        })?;
    }
    for (i, fl) in s.flags().iter().flatten().enumerate() {
        set_flag(&mut ctx, *fl).map_err(lib(format!("linux.seccomp.flags[{i}]")))?;
    }
    let mut notify = false;
    let mut skipped = Vec::new();
    for (i, sc) in s.syscalls().iter().flatten().enumerate() {
        let act = action(sc.action(), sc.errno_ret(), "")?;
        if act == default {
            // libseccomp refuses a rule that does what the default does; it is a no-op.
            continue;
        }
        notify |= act == ScmpAction::Notify;
        let args = sc.args().as_deref().unwrap_or_default();
        let conds: Vec<ScmpArgCompare> = args.iter().map(compare).collect();
        let mut seen = [false; MAX_ARG_INDEX + 1];
        let distinct = args
            .iter()
            .all(|a| !std::mem::replace(&mut seen[a.index()], true));
        for (j, n) in sc.names().iter().enumerate() {
            let Ok(nr) = ScmpSyscall::from_name(n) else {
                skipped.push(n.clone());
                continue;
            };
            add_rules(&mut ctx, act, nr, &conds, distinct)
                .map_err(lib(format!("linux.seccomp.syscalls[{i}].names[{j}]")))?;
        }
    }
    Ok(Compiled {
        ctx,
        notify,
        skipped,
    })
}

/// Conditions on different arguments must all hold (one rule); several conditions on
/// the same argument can never all hold, so each is a rule of its own (any may hold).
fn add_rules(
    ctx: &mut ScmpFilterContext,
    act: ScmpAction,
    nr: ScmpSyscall,
    conds: &[ScmpArgCompare],
    distinct: bool,
) -> std::result::Result<(), libseccomp::error::SeccompError> {
    if conds.is_empty() {
        ctx.add_rule(act, nr)?;
    } else if distinct {
        ctx.add_rule_conditional(act, nr, conds)?;
    } else {
        for c in conds {
            ctx.add_rule_conditional(act, nr, std::slice::from_ref(c))?;
        }
    }
    Ok(())
}

fn compare(a: &LinuxSeccompArg) -> ScmpArgCompare {
    #[allow(
        clippy::cast_possible_truncation,
        reason = "`check` refused an index above MAX_ARG_INDEX (5) before any filter is built"
    )]
    let idx = a.index() as u32;
    let (op, datum) = match a.op() {
        Op::ScmpCmpNe => (ScmpCompareOp::NotEqual, a.value()),
        Op::ScmpCmpLt => (ScmpCompareOp::Less, a.value()),
        Op::ScmpCmpLe => (ScmpCompareOp::LessOrEqual, a.value()),
        Op::ScmpCmpEq => (ScmpCompareOp::Equal, a.value()),
        Op::ScmpCmpGe => (ScmpCompareOp::GreaterEqual, a.value()),
        Op::ScmpCmpGt => (ScmpCompareOp::Greater, a.value()),
        // The spec: `value` is the mask, `valueTwo` what the masked argument must equal.
        Op::ScmpCmpMaskedEq => (
            ScmpCompareOp::MaskedEqual(a.value()),
            a.value_two().unwrap_or(0),
        ),
    };
    ScmpArgCompare::new(idx, op, datum)
}

/// The action, with its errno (EPERM unless `errnoRet` says otherwise, as in runc).
fn action(a: Action, errno_ret: Option<u32>, field: &str) -> Result<ScmpAction> {
    let ret = errno_ret.unwrap_or(libc::EPERM as u32);
    Ok(match a {
        // SCMP_ACT_KILL is the old name of SCMP_ACT_KILL_THREAD.
        Action::ScmpActKill | Action::ScmpActKillThread => ScmpAction::KillThread,
        Action::ScmpActKillProcess => ScmpAction::KillProcess,
        Action::ScmpActTrap => ScmpAction::Trap,
        Action::ScmpActErrno => ScmpAction::Errno(
            i32::try_from(ret)
                .ok()
                .filter(|r| *r < 4096)
                .ok_or_else(|| {
                    Error::invalid(field, format!("{ret} is not an errno (1 to 4095)"))
                })?,
        ),
        Action::ScmpActTrace => ScmpAction::Trace(u16::try_from(ret).map_err(|_| {
            Error::invalid(
                field,
                format!("{ret} does not fit the 16 bits of SCMP_ACT_TRACE's value"),
            )
        })?),
        Action::ScmpActLog => ScmpAction::Log,
        Action::ScmpActAllow => ScmpAction::Allow,
        Action::ScmpActNotify => ScmpAction::Notify,
    })
}

pub(crate) fn arch(a: Arch) -> ScmpArch {
    match a {
        Arch::ScmpArchNative => ScmpArch::Native,
        Arch::ScmpArchX86 => ScmpArch::X86,
        Arch::ScmpArchX86_64 => ScmpArch::X8664,
        Arch::ScmpArchX32 => ScmpArch::X32,
        Arch::ScmpArchArm => ScmpArch::Arm,
        Arch::ScmpArchAarch64 => ScmpArch::Aarch64,
        Arch::ScmpArchMips => ScmpArch::Mips,
        Arch::ScmpArchMips64 => ScmpArch::Mips64,
        Arch::ScmpArchMips64n32 => ScmpArch::Mips64N32,
        Arch::ScmpArchMipsel => ScmpArch::Mipsel,
        Arch::ScmpArchMipsel64 => ScmpArch::Mipsel64,
        Arch::ScmpArchMipsel64n32 => ScmpArch::Mipsel64N32,
        Arch::ScmpArchPpc => ScmpArch::Ppc,
        Arch::ScmpArchPpc64 => ScmpArch::Ppc64,
        Arch::ScmpArchPpc64le => ScmpArch::Ppc64Le,
        Arch::ScmpArchS390 => ScmpArch::S390,
        Arch::ScmpArchS390x => ScmpArch::S390X,
        Arch::ScmpArchParisc => ScmpArch::Parisc,
        Arch::ScmpArchParisc64 => ScmpArch::Parisc64,
        Arch::ScmpArchRiscv64 => ScmpArch::Riscv64,
        Arch::ScmpArchLoongarch64 => ScmpArch::Loongarch64,
        Arch::ScmpArchM68k => ScmpArch::M68k,
        Arch::ScmpArchSh => ScmpArch::Sh,
        Arch::ScmpArchSheb => ScmpArch::Sheb,
    }
}

/// "libseccomp 2.5.4", the library corral is linked with.
pub(crate) fn library() -> String {
    match ScmpVersion::current() {
        Ok(v) => format!("libseccomp {v}"),
        Err(_) => "this libseccomp".into(),
    }
}

/// Whether the linked libseccomp can set `f`; the error says why not.
pub(crate) fn flag_supported(f: Flag) -> std::result::Result<(), String> {
    if f != Flag::SeccompFilterFlagWaitKillableRecv {
        return Ok(());
    }
    match ScmpVersion::current() {
        Ok(v) if (v.major, v.minor) >= (2, 6) => Ok(()),
        _ => Err(format!(
            "{} needs libseccomp 2.6.0 or newer; corral is linked with {}, which is too old",
            name(&f),
            library()
        )),
    }
}

fn set_flag(
    ctx: &mut ScmpFilterContext,
    f: Flag,
) -> std::result::Result<(), libseccomp::error::SeccompError> {
    match f {
        Flag::SeccompFilterFlagTsync => ctx.set_ctl_tsync(true),
        Flag::SeccompFilterFlagLog => ctx.set_ctl_log(true),
        // "Speculative store bypass": the filter leaves the mitigation off.
        Flag::SeccompFilterFlagSpecAllow => ctx.set_ctl_ssb(true),
        Flag::SeccompFilterFlagWaitKillableRecv => ctx.set_ctl_waitkill(true),
    }
    .map(drop)
}
