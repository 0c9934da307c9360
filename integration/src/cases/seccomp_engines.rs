//! Engines' default seccomp profiles (`integration/fixtures/seccomp`, see its README),
//! with and without no_new_privs, for a non-root user with extra capabilities: the
//! init loads the filter and must get to the user's program under it.

use super::{ensure, field, run_script};
use crate::bundle::config;
use crate::ctx::Ctx;
use crate::{Case, CaseResult};
use serde_json::{json, Value};

pub fn cases() -> Vec<Case> {
    vec![
        Case::new("seccomp_engine_profiles", engine_profiles),
        Case::new("seccomp_profile_denies_an_init_call", denies_an_init_call),
        Case::new("seccomp_profile_kills_poll", kills_poll),
    ]
}

pub(super) const PROFILES: [(&str, &str); 3] = [
    (
        "docker-20.10.24",
        include_str!("../../fixtures/seccomp/docker-20.10.24.json"),
    ),
    (
        "containerd-1.6.20",
        include_str!("../../fixtures/seccomp/containerd-1.6.20.json"),
    ),
    (
        "podman-4.3.1",
        include_str!("../../fixtures/seccomp/podman-4.3.1.json"),
    ),
];

/// Docker's defaults plus CAP_NET_ADMIN and CAP_SYS_PTRACE, with their numbers.
const CAPS: [(&str, u32); 16] = [
    ("CAP_CHOWN", 0),
    ("CAP_DAC_OVERRIDE", 1),
    ("CAP_FOWNER", 3),
    ("CAP_FSETID", 4),
    ("CAP_KILL", 5),
    ("CAP_SETGID", 6),
    ("CAP_SETUID", 7),
    ("CAP_SETPCAP", 8),
    ("CAP_NET_BIND_SERVICE", 10),
    ("CAP_NET_ADMIN", 12),
    ("CAP_NET_RAW", 13),
    ("CAP_SYS_CHROOT", 18),
    ("CAP_SYS_PTRACE", 19),
    ("CAP_MKNOD", 27),
    ("CAP_AUDIT_WRITE", 29),
    ("CAP_SETFCAP", 31),
];

pub(super) fn profile(text: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|e| format!("fixture: {e}"))
}

/// Removes `name` from every rule of `p`.
fn without(mut p: Value, name: &str) -> Value {
    for rule in p["syscalls"].as_array_mut().into_iter().flatten() {
        if let Some(names) = rule["names"].as_array_mut() {
            names.retain(|n| n != name);
        }
    }
    p
}

/// A container as uid 1000 (gid 1000, also in group 10) with `CAPS` in every set
/// (ambient too, so the non-root program keeps them), under `seccomp`.
fn user_config(seccomp: Value, nnp: bool) -> Value {
    let mut cfg = config(&["true"]);
    cfg["linux"]["seccomp"] = seccomp;
    cfg["process"]["noNewPrivileges"] = json!(nnp);
    cfg["process"]["user"] = json!({ "uid": 1000, "gid": 1000, "additionalGids": [10] });
    let names: Vec<&str> = CAPS.iter().map(|(n, _)| *n).collect();
    cfg["process"]["capabilities"] = json!({
        "bounding": names, "effective": names, "permitted": names,
        "inheritable": names, "ambient": names,
    });
    cfg
}

fn engine_profiles(cx: &mut Ctx) -> CaseResult {
    let mask: u64 = CAPS.iter().map(|(_, n)| 1u64 << n).sum();
    let script = "echo uid=$(id -u); echo gid=$(id -g); echo groups=$(id -G | tr ' ' ,); \
                  grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status | tr -d ' \\t' | tr : =";
    let mut profiles = Vec::new();
    for (name, text) in PROFILES {
        profiles.push((name.to_string(), profile(text)?));
    }
    // Docker's profile before close_range was added (Docker 20.10.9 and older): an
    // allow-list without it.
    let (_, docker) = PROFILES[0];
    profiles.push((
        "docker-20.10.24 without close_range".into(),
        without(profile(docker)?, "close_range"),
    ));
    for (name, p) in profiles {
        for nnp in [true, false] {
            let what = format!("{name}, noNewPrivileges {nnp}");
            let mut cfg = user_config(p.clone(), nnp);
            // A cgroup of its own: parallel runs never share one.
            cfg["linux"]["cgroupsPath"] = json!(cx.cgroup_name("engine-profile"));
            let out = run_script(cx, cfg, script).map_err(|e| format!("{what}: {e}"))?;
            ensure!(
                field(&out, "uid") == Some("1000")
                    && field(&out, "gid") == Some("1000")
                    && field(&out, "groups") == Some("1000,10"),
                "{what}: wrong identity: {out}"
            );
            ensure!(
                field(&out, "CapEff") == Some(&format!("{mask:016x}")),
                "{what}: effective capabilities are not {mask:016x}: {out}"
            );
            ensure!(
                field(&out, "Seccomp") == Some("2")
                    && field(&out, "NoNewPrivs") == Some(if nnp { "1" } else { "0" }),
                "{what}: wrong filter mode or no_new_privs: {out}"
            );
        }
    }
    Ok(())
}

/// A profile that denies a call the init must make after loading it: without
/// no_new_privs that is capset (the uid and capability change comes after the load,
/// in runc too). corral names it; with no_new_privs the same profile runs, as the
/// capabilities are set before the load.
fn denies_an_init_call(cx: &mut Ctx) -> CaseResult {
    let (_, docker) = PROFILES[0];
    let p = without(profile(docker)?, "capset");
    let mut cfg = user_config(p.clone(), false);
    cfg["linux"]["cgroupsPath"] = json!(cx.cgroup_name("denied"));
    let b = cx.bundle(&cfg)?;
    let o = cx.rt(&["run", "--bundle", &b.to_string_lossy(), "c1"]);
    o.failed("run with capset denied")?;
    if cx.is_corral {
        ensure!(
            o.stderr.contains("capset") && o.stderr.contains("EPERM"),
            "the error does not name capset and EPERM: {}",
            o.stderr.trim()
        );
    }
    cx.rt(&["state", "c1"]).failed("state after a failed run")?;
    let mut cfg = user_config(p, true);
    cfg["linux"]["cgroupsPath"] = json!(cx.cgroup_name("denied-nnp"));
    let out = run_script(cx, cfg, "echo uid=$(id -u)")?;
    ensure!(field(&out, "uid") == Some("1000"), "with nnp: {out}");
    Ok(())
}

/// The init waits for `start` with a blocking read, not poll: a profile that kills poll
/// (which the container's program may never need) still runs, as with runc.
fn kills_poll(cx: &mut Ctx) -> CaseResult {
    let mut cfg = config(&["true"]);
    cfg["linux"]["cgroupsPath"] = json!(cx.cgroup_name("kills-poll"));
    cfg["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{ "names": ["poll", "ppoll"], "action": "SCMP_ACT_KILL_PROCESS" }]
    });
    let out = run_script(cx, cfg, "echo ran=yes")?;
    ensure!(field(&out, "ran") == Some("yes"), "did not run: {out}");
    Ok(())
}
