//! What can be tested without loading a filter (loading is for the conformance suite).

use super::*;
use crate::names::{name, ACTIONS, ARCHS, OPERATORS};
use oci_spec::runtime::{Arch, LinuxSeccomp};
use serde_json::json;

fn profile(v: serde_json::Value) -> LinuxSeccomp {
    serde_json::from_value(v).unwrap()
}

fn field_of(r: Result<Compiled>) -> String {
    r.unwrap_err().field().unwrap().to_string()
}

#[test]
fn every_action_compiles_as_a_rule_and_as_the_default() {
    for a in ACTIONS {
        let n = name(&a);
        let p = profile(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": "/run/agent.sock",
            "syscalls": [{"names": ["getcwd"], "action": n, "errnoRet": 38}],
        }));
        let c = compile(&p).unwrap_or_else(|e| panic!("{n}: {e}"));
        assert_eq!(c.uses_notify(), n == "SCMP_ACT_NOTIFY", "{n}");
        if n != "SCMP_ACT_NOTIFY" {
            let p = profile(json!({
                "defaultAction": n,
                "defaultErrnoRet": 1,
                "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}],
            }));
            compile(&p).unwrap_or_else(|e| panic!("default {n}: {e}"));
        }
    }
}

#[test]
fn notify_is_not_a_default_action() {
    let p = profile(json!({"defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/x"}));
    assert_eq!(field_of(compile(&p)), "linux.seccomp.defaultAction");
}

#[test]
fn every_operator_compiles() {
    for op in OPERATORS {
        let p = profile(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ERRNO",
                          "args": [{"index": 0, "value": 8, "valueTwo": 8, "op": name(&op)}]}],
        }));
        compile(&p).unwrap_or_else(|e| panic!("{}: {e}", name(&op)));
    }
}

#[test]
fn conditions_on_one_argument_are_alternatives() {
    // Two conditions on arg 0 in one rule could never both hold; libseccomp refuses that.
    let p = profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ERRNO", "args": [
            {"index": 0, "value": 8, "op": "SCMP_CMP_EQ"},
            {"index": 0, "value": 9, "op": "SCMP_CMP_EQ"},
            {"index": 1, "value": 0, "op": "SCMP_CMP_NE"}]}],
    }));
    compile(&p).unwrap();
}

#[test]
fn architectures_are_added_or_named_in_the_error() {
    let supported = features()["archs"].clone();
    let supported: Vec<String> = serde_json::from_value(supported).unwrap();
    assert!(supported.contains(&"SCMP_ARCH_X86_64".to_string()));
    assert!(supported.contains(&"SCMP_ARCH_X86".to_string()));
    for a in ARCHS {
        let p = profile(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", name(&a)],
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}],
        }));
        // A listed architecture of the other byte order than x86-64 is refused too
        // (one filter, one byte order): named like an unknown one.
        match compile(&p) {
            Ok(_) => assert!(
                supported.contains(&name(&a)) || a == Arch::ScmpArchNative,
                "{}",
                name(&a)
            ),
            Err(e) => assert_eq!(e.field(), Some("linux.seccomp.architectures[1]"), "{e}"),
        }
    }
}

#[test]
fn features_list_every_architecture_libseccomp_knows_by_its_spec_name() {
    let archs = crate::archs();
    assert!(!archs.iter().any(|a| a == "SCMP_ARCH_NATIVE"), "{archs:?}");
    // libseccomp 2.5 knows both byte orders of every family it supports.
    for a in [
        "SCMP_ARCH_X86_64",
        "SCMP_ARCH_AARCH64",
        "SCMP_ARCH_PPC64LE",
        "SCMP_ARCH_S390X",
    ] {
        assert!(archs.iter().any(|x| x == a), "{a} missing from {archs:?}");
    }
    assert!(
        archs.iter().all(|a| a.starts_with("SCMP_ARCH_")),
        "{archs:?}"
    );
    assert!(crate::version().starts_with("2."), "{}", crate::version());
}

#[test]
fn unknown_names_are_skipped_and_reported() {
    let p = profile(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "no_such_syscall", "mkdirat"], "action": "SCMP_ACT_ERRNO"}],
    }));
    assert_eq!(compile(&p).unwrap().skipped(), ["no_such_syscall"]);
}

#[test]
fn a_rule_doing_the_default_is_left_out() {
    let p = profile(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO"},
                     {"names": ["write"], "action": "SCMP_ACT_ALLOW"}],
    }));
    compile(&p).unwrap();
}

#[test]
fn bad_values_name_their_field() {
    let bad = [
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW",
                   "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}),
            "linux.seccomp.syscalls[0].action",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW",
                   "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"},
                                {"names": ["read"], "action": "SCMP_ACT_ERRNO",
                                 "args": [{"index": 6, "value": 0, "op": "SCMP_CMP_EQ"}]}]}),
            "linux.seccomp.syscalls[1].args[0].index",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW",
                   "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5000}]}),
            "linux.seccomp.syscalls[0].errnoRet",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_TRACE", "defaultErrnoRet": 70000}),
            "linux.seccomp.defaultErrnoRet",
        ),
    ];
    for (p, field) in bad {
        assert_eq!(field_of(compile(&profile(p))), field);
    }
}

#[test]
fn flags_are_set_or_refused_as_too_new() {
    let f = features();
    let supported: Vec<String> = serde_json::from_value(f["supportedFlags"].clone()).unwrap();
    for flag in f["knownFlags"].as_array().unwrap() {
        let p = profile(json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": [flag]}));
        match compile(&p) {
            Ok(_) => assert!(supported.iter().any(|s| s == flag), "{flag}"),
            Err(e) => {
                assert!(!supported.iter().any(|s| s == flag), "{flag}: {e}");
                assert!(e.to_string().contains("too old"), "{e}");
            }
        }
    }
}

#[test]
fn raw_json_errors_name_the_field() {
    let cases = [
        (
            json!({"defaultAction": "SCMP_ACT_BOGUS"}),
            "linux.seccomp.defaultAction",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86", "SCMP_ARCH_BOGUS"]}),
            "linux.seccomp.architectures[1]",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_BOGUS"]}),
            "linux.seccomp.flags[0]",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["a"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["b"], "action": "SCMP_ACT_BOGUS"}]}),
            "linux.seccomp.syscalls[1].action",
        ),
        (
            json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["a"], "action": "SCMP_ACT_ERRNO",
                 "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_BOGUS"}]}]}),
            "linux.seccomp.syscalls[0].args[0].op",
        ),
    ];
    for (v, field) in cases {
        let e = check_json(&v).unwrap_err();
        assert_eq!(e.field(), Some(field), "{e}");
        assert!(e.to_string().contains("BOGUS"), "{e}");
    }
    check_json(&json!({"defaultAction": "SCMP_ACT_ALLOW"})).unwrap();
}

#[test]
fn denial_reads_the_profile_like_the_filter() {
    let p = profile(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [
            {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
            {"names": ["kill"], "action": "SCMP_ACT_KILL_PROCESS"},
            {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
        ],
    }));
    assert_eq!(denial(&p, "write", &[]), None);
    assert_eq!(
        denial(&p, "close_range", &[]),
        Some(Denial::Errno(libc::EPERM))
    );
    assert_eq!(denial(&p, "clone3", &[]), Some(Denial::Errno(libc::ENOSYS)));
    assert_eq!(
        denial(&p, "kill", &[]),
        Some(Denial::Action(
            oci_spec::runtime::LinuxSeccompAction::ScmpActKillProcess
        ))
    );
    assert_eq!(denial(&p, "personality", &[(0, 8)]), None);
    assert_eq!(
        denial(&p, "personality", &[(0, 9)]),
        Some(Denial::Errno(libc::EPERM))
    );
    // An argument not given: not known.
    assert_eq!(denial(&p, "personality", &[]), None);
}
