//! Every value the spec defines for the enumerated fields of `linux.seccomp`, and their
//! names as they appear in `config.json`.

use oci_spec::runtime::{
    Arch, LinuxSeccompAction as Action, LinuxSeccompFilterFlag as Flag, LinuxSeccompOperator as Op,
};

pub const ACTIONS: [Action; 9] = [
    Action::ScmpActKill,
    Action::ScmpActKillProcess,
    Action::ScmpActKillThread,
    Action::ScmpActTrap,
    Action::ScmpActErrno,
    Action::ScmpActTrace,
    Action::ScmpActAllow,
    Action::ScmpActLog,
    Action::ScmpActNotify,
];

pub const OPERATORS: [Op; 7] = [
    Op::ScmpCmpNe,
    Op::ScmpCmpLt,
    Op::ScmpCmpLe,
    Op::ScmpCmpEq,
    Op::ScmpCmpGe,
    Op::ScmpCmpGt,
    Op::ScmpCmpMaskedEq,
];

pub const FLAGS: [Flag; 4] = [
    Flag::SeccompFilterFlagTsync,
    Flag::SeccompFilterFlagLog,
    Flag::SeccompFilterFlagSpecAllow,
    Flag::SeccompFilterFlagWaitKillableRecv,
];

pub const ARCHS: [Arch; 24] = [
    Arch::ScmpArchNative,
    Arch::ScmpArchX86,
    Arch::ScmpArchX86_64,
    Arch::ScmpArchX32,
    Arch::ScmpArchArm,
    Arch::ScmpArchAarch64,
    Arch::ScmpArchMips,
    Arch::ScmpArchMips64,
    Arch::ScmpArchMips64n32,
    Arch::ScmpArchMipsel,
    Arch::ScmpArchMipsel64,
    Arch::ScmpArchMipsel64n32,
    Arch::ScmpArchPpc,
    Arch::ScmpArchPpc64,
    Arch::ScmpArchPpc64le,
    Arch::ScmpArchS390,
    Arch::ScmpArchS390x,
    Arch::ScmpArchParisc,
    Arch::ScmpArchParisc64,
    Arch::ScmpArchRiscv64,
    Arch::ScmpArchLoongarch64,
    Arch::ScmpArchM68k,
    Arch::ScmpArchSh,
    Arch::ScmpArchSheb,
];

/// The name `config.json` uses for `v` (its serde name, so parsing and printing agree).
pub fn name<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_the_parser() {
        fn check<
            T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
        >(
            all: &[T],
            prefix: &str,
        ) {
            for v in all {
                let n = name(v);
                assert!(n.starts_with(prefix), "{n}");
                let back: T = serde_json::from_value(serde_json::Value::String(n)).unwrap();
                assert_eq!(&back, v);
            }
        }
        check(&ACTIONS, "SCMP_ACT_");
        check(&OPERATORS, "SCMP_CMP_");
        check(&FLAGS, "SECCOMP_FILTER_FLAG_");
        check(&ARCHS, "SCMP_ARCH_");
        assert_eq!(name(&Arch::ScmpArchX86_64), "SCMP_ARCH_X86_64");
    }
}
