//! What a profile does with one system call, read from the profile itself (no filter
//! is built): the init uses it to refuse, before it loads a filter, one that would stop
//! a call it must still make afterwards, and to name that call.

use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction as Action, LinuxSeccompOperator as Op};

/// How a profile stops a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// `SCMP_ACT_ERRNO`: the call fails with this errno.
    Errno(i32),
    /// Any other action that keeps the call from running (kill, trap, trace).
    Action(Action),
}

/// How `s` stops `name` made with `args` (values by argument index), or `None` when it
/// lets it run (`ALLOW`, `LOG`, or `NOTIFY`, which the listener answers) or when a rule
/// naming the call depends on an argument not given, so the answer is not known here.
pub fn denial(s: &LinuxSeccomp, name: &str, args: &[(usize, u64)]) -> Option<Denial> {
    let mut action = (s.default_action(), s.default_errno_ret());
    for sc in s.syscalls().iter().flatten() {
        if !sc.names().iter().any(|n| n == name) {
            continue;
        }
        let conds = sc.args().as_deref().unwrap_or_default();
        let mut holds = Vec::with_capacity(conds.len());
        for c in conds {
            let value = args.iter().find(|(i, _)| *i == c.index())?.1;
            holds.push((
                c.index(),
                cond_holds(c.op(), value, c.value(), c.value_two()),
            ));
        }
        // Conditions on different arguments must all hold; several on one argument are
        // alternatives (as `compile` builds them).
        let all = holds
            .iter()
            .all(|(i, _)| holds.iter().any(|(j, h)| j == i && *h));
        if all {
            action = (sc.action(), sc.errno_ret());
            break;
        }
    }
    match action.0 {
        Action::ScmpActAllow | Action::ScmpActLog | Action::ScmpActNotify => None,
        Action::ScmpActErrno => Some(Denial::Errno(action.1.map_or(libc::EPERM, |r| r as i32))),
        a => Some(Denial::Action(a)),
    }
}

fn cond_holds(op: Op, arg: u64, value: u64, value_two: Option<u64>) -> bool {
    match op {
        Op::ScmpCmpNe => arg != value,
        Op::ScmpCmpLt => arg < value,
        Op::ScmpCmpLe => arg <= value,
        Op::ScmpCmpEq => arg == value,
        Op::ScmpCmpGe => arg >= value,
        Op::ScmpCmpGt => arg > value,
        Op::ScmpCmpMaskedEq => arg & value == value_two.unwrap_or(0),
    }
}

/// Whether `name` is a system call of the architecture corral was built for (as
/// libseccomp's table for it says). libseccomp resolves a call the architecture lacks
/// to a negative pseudo-number (`poll` on aarch64), which no process can make.
pub fn is_native_syscall(name: &str) -> bool {
    libseccomp::ScmpSyscall::from_name(name).is_ok_and(|nr| nr.as_raw_syscall() >= 0)
}
