//! Process settings: capabilities (unknown names, every set), sysctls, personality,
//! scheduler, io priority and time offsets, read back from inside the container.

use super::errors::refused;
use super::{ensure, field, run_script};
use crate::bundle::config;
use crate::ctx::Ctx;
use crate::needs::{IO_PRIORITY, PERSONALITY, SCHEDULER, TIME_NS};
use crate::{Case, CaseResult};
use serde_json::json;

pub fn cases() -> Vec<Case> {
    let mut v = vec![
        Case::new("proc_unknown_capability_skipped", unknown_capability),
        Case::new("proc_capability_sets_non_root", capability_sets),
        Case::new(
            "proc_ambient_without_inheritable",
            ambient_without_inheritable,
        ),
        Case::new("proc_sysctl_ipc_and_net", sysctl_ipc_net),
        Case::new("proc_sysctl_refused", sysctl_refused),
        // runc 1.1.5 (runtime-spec 1.0.2) ignores linux.personality.
        Case::feature("proc_personality_linux32", PERSONALITY, personality),
        // runc 1.1.5 ignores process.scheduler (runtime-spec 1.2).
        Case::feature("proc_scheduler_batch_nice", SCHEDULER, scheduler),
        // runc 1.1.5 ignores process.ioPriority (runtime-spec 1.2).
        Case::feature("proc_io_priority", IO_PRIORITY, io_priority),
        // runc 1.1.5 has no time namespaces.
        Case::feature("proc_time_offsets", TIME_NS, time_offsets),
        // runc 1.1.5 refuses kernel.ns_last_pid, and writes sysctls through the
        // container's /proc (CVE-2025-52881).
        Case::corral(
            "proc_sysctl_not_through_container_proc",
            "sysctls written through corral's own /proc, not the container's (CVE-2025-52881)",
            sysctl_cve,
        ),
    ];
    // Only where AppArmor is on and the test profile is loaded (the v2 guest loads it;
    // this host has no AppArmor): a case that could not fail is no case.
    if apparmor_profile_loaded() {
        v.push(Case::new("proc_apparmor_profile", apparmor_profile));
    }
    // Only with SELinux on (the guest booted with --selinux).
    if std::path::Path::new("/sys/fs/selinux/enforce").exists() {
        v.push(Case::new("proc_selinux_label", selinux_label));
        v.push(Case::new("proc_selinux_mount_label", selinux_mount_label));
    }
    // Real-time policies need a real-time budget: with RT group scheduling (this host's
    // v1 cpu controller) a new cgroup has none, for any runtime. The v2 guest has it off.
    if !std::path::Path::new("/sys/fs/cgroup/cpu/cpu.rt_runtime_us").exists() {
        // runc 1.1.5 ignores process.scheduler (runtime-spec 1.2).
        v.push(Case::feature(
            "proc_scheduler_policies",
            SCHEDULER,
            scheduler_policies,
        ));
    }
    v
}

/// Every policy, read back from /proc/PID/stat (policy is field 41,
/// rt_priority 40, nice 19): the shell reads its own, as `$$`.
fn scheduler_policies(cx: &mut Ctx) -> CaseResult {
    for (sched, want) in [
        (json!({ "policy": "SCHED_OTHER", "nice": -5 }), "-5 0 0"),
        (json!({ "policy": "SCHED_IDLE" }), "0 0 5"),
        (json!({ "policy": "SCHED_FIFO", "priority": 10 }), "0 10 1"),
        (json!({ "policy": "SCHED_RR", "priority": 20 }), "0 20 2"),
        // A deadline task may not fork unless its children reset to the normal policy.
        (
            json!({ "policy": "SCHED_DEADLINE", "runtime": 10000000, "deadline": 30000000,
                    "period": 30000000, "flags": ["SCHED_FLAG_RESET_ON_FORK"] }),
            "0 0 6",
        ),
    ] {
        let mut cfg = config(&[]);
        cfg["process"]["scheduler"] = sched.clone();
        let out = run_script(cx, cfg, "echo sched=$(cut -d' ' -f19,40,41 /proc/$$/stat)")?;
        ensure!(
            field(&out, "sched") == Some(want),
            "{sched}: nice, rt_priority and policy: {out} (wanted {want})"
        );
    }
    Ok(())
}

pub(super) const SE_PROCESS: &str = "system_u:system_r:unconfined_t:s0";
const SE_FILE: &str = "system_u:object_r:tmp_t:s0";

/// process.selinuxLabel: the process runs with the label.
fn selinux_label(cx: &mut Ctx) -> CaseResult {
    let mut cfg = config(&[]);
    cfg["process"]["selinuxLabel"] = json!(SE_PROCESS);
    let out = run_script(cx, cfg, "echo label=$(cat /proc/self/attr/current)")?;
    ensure!(
        field(&out, "label").map(|l| l.trim_end_matches('\0')) == Some(SE_PROCESS),
        "not running with {SE_PROCESS}: {out}"
    );
    Ok(())
}

/// linux.mountLabel: a tmpfs of the bundle is mounted with that context.
fn selinux_mount_label(cx: &mut Ctx) -> CaseResult {
    let mut cfg = config(&[]);
    cfg["linux"]["mountLabel"] = json!(SE_FILE);
    cfg["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "destination": "/lbl", "type": "tmpfs", "source": "tmpfs" }));
    let out = run_script(cx, cfg, "grep ' /lbl ' /proc/self/mountinfo")?;
    ensure!(
        out.contains(&format!("context={SE_FILE}"))
            || out.contains(&format!("context=\"{SE_FILE}\"")),
        "the tmpfs has no context={SE_FILE}: {out}"
    );
    Ok(())
}

pub(super) const AA_PROFILE: &str = "corral-test";

pub(super) fn apparmor_profile_loaded() -> bool {
    std::fs::read_to_string("/sys/kernel/security/apparmor/profiles")
        .is_ok_and(|p| p.lines().any(|l| l.starts_with(&format!("{AA_PROFILE} "))))
}

/// process.apparmorProfile: the process runs confined by the profile (which denies writes
/// under /tmp) and says so in /proc/self/attr/current.
fn apparmor_profile(cx: &mut Ctx) -> CaseResult {
    let mut cfg = config(&[]);
    cfg["process"]["apparmorProfile"] = json!(AA_PROFILE);
    let script = "echo label=$(cat /proc/self/attr/current); \
                  touch /tmp/x 2>/dev/null; echo tmp=$?; touch /root/x; echo root=$?";
    let out = run_script(cx, cfg, script)?;
    ensure!(
        field(&out, "label") == Some("corral-test (enforce)"),
        "not confined by the profile: {out}"
    );
    ensure!(
        field(&out, "tmp").is_some_and(|c| c != "0"),
        "the profile's deny of /tmp was not enforced: {out}"
    );
    ensure!(
        field(&out, "root") == Some("0"),
        "writes elsewhere failed: {out}"
    );
    Ok(())
}

fn host_sysctl(key: &str) -> String {
    std::fs::read_to_string(format!("/proc/sys/{}", key.replace('.', "/")))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// An unknown capability in every set is skipped, the container runs, and (corral)
/// `run` names it in a warning.
fn unknown_capability(cx: &mut Ctx) -> CaseResult {
    let mut cfg = config(&[
        "sh",
        "-c",
        "echo eff=$(grep CapEff /proc/self/status | cut -f2)",
    ]);
    let caps = json!(["CAP_KILL", "CAP_BOGUS"]);
    cfg["process"]["capabilities"] = json!({
        "bounding": caps, "effective": caps, "permitted": caps,
        "inheritable": caps, "ambient": caps
    });
    let b = cx.bundle(&cfg)?;
    let o = cx.rt(&["run", "--bundle", &b.to_string_lossy(), "c1"]);
    o.ok("run with CAP_BOGUS")?;
    // CAP_KILL is bit 5.
    ensure!(
        field(&o.stdout, "eff") == Some("0000000000000020"),
        "CapEff: {}",
        o.stdout
    );
    if cx.is_corral {
        for set in [
            "bounding",
            "effective",
            "permitted",
            "inheritable",
            "ambient",
        ] {
            ensure!(
                o.stderr
                    .lines()
                    .any(|l| l.contains("CAP_BOGUS") && l.contains(set)),
                "no warning naming CAP_BOGUS in {set}: {}",
                o.stderr
            );
        }
    }
    Ok(())
}

/// Every set, exactly, for a non-root user: ambient capabilities survive the uid change
/// and the exec because they are also inheritable and permitted.
fn capability_sets(cx: &mut Ctx) -> CaseResult {
    let mut cfg = config(&[]);
    cfg["process"]["user"] = json!({ "uid": 1000, "gid": 1000 });
    let caps = json!(["CAP_NET_BIND_SERVICE", "CAP_CHOWN"]);
    cfg["process"]["capabilities"] = json!({
        "bounding": caps, "effective": caps, "permitted": caps,
        "inheritable": caps, "ambient": caps
    });
    let out = run_script(
        cx,
        cfg,
        "grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)' /proc/self/status | tr -d '\\t' | tr ':' '='",
    )?;
    // CAP_CHOWN is bit 0, CAP_NET_BIND_SERVICE bit 10.
    for f in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        ensure!(field(&out, f) == Some("0000000000000401"), "{f}: {out}");
    }
    Ok(())
}

/// `runc spec` writes ambient capabilities and no inheritable set: the kernel cannot raise
/// them, and the runtime warns and runs the container (runc's behaviour).
fn ambient_without_inheritable(cx: &mut Ctx) -> CaseResult {
    let mut cfg = config(&[]);
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    cfg["process"]["capabilities"] = json!({
        "bounding": caps, "effective": caps, "permitted": caps, "ambient": caps
    });
    let out = run_script(
        cx,
        cfg,
        "grep -E '^Cap(Inh|Eff|Amb)' /proc/self/status | tr -d '\\t' | tr ':' '='",
    )?;
    // CAP_KILL 5, CAP_NET_BIND_SERVICE 10, CAP_AUDIT_WRITE 29.
    for (f, want) in [
        ("CapInh", "0000000000000000"),
        ("CapEff", "0000000020000420"),
        ("CapAmb", "0000000000000000"),
    ] {
        ensure!(field(&out, f) == Some(want), "{f}: {out}");
    }
    Ok(())
}

fn sysctl_ipc_net(cx: &mut Ctx) -> CaseResult {
    let (shmmax, forward) = (
        host_sysctl("kernel.shmmax"),
        host_sysctl("net.ipv4.ip_forward"),
    );
    let mut cfg = config(&[]);
    cfg["linux"]["sysctl"] = json!({ "kernel.shmmax": "123456789", "net.ipv4.ip_forward": "1" });
    let out = run_script(
        cx,
        cfg,
        "echo shmmax=$(cat /proc/sys/kernel/shmmax); echo fwd=$(cat /proc/sys/net/ipv4/ip_forward)",
    )?;
    ensure!(
        field(&out, "shmmax") == Some("123456789"),
        "kernel.shmmax: {out}"
    );
    ensure!(
        field(&out, "fwd") == Some("1"),
        "net.ipv4.ip_forward: {out}"
    );
    ensure!(
        host_sysctl("kernel.shmmax") == shmmax && host_sysctl("net.ipv4.ip_forward") == forward,
        "the host's sysctls changed"
    );
    Ok(())
}

/// A key of no namespace, or of a namespace the container does not create, is refused.
fn sysctl_refused(cx: &mut Ctx) -> CaseResult {
    let panic = host_sysctl("kernel.panic");
    let mut cfg = config(&["true"]);
    cfg["linux"]["sysctl"] = json!({ "kernel.panic": "7" });
    refused(cx, &cfg, "kernel.panic")?;
    ensure!(
        host_sysctl("kernel.panic") == panic,
        "kernel.panic changed on the host"
    );
    for (key, without) in [("kernel.shmmax", "ipc"), ("net.ipv4.ip_forward", "network")] {
        let mut cfg = config(&["true"]);
        cfg["linux"]["sysctl"] = json!({ key: "1" });
        let nss = cfg["linux"]["namespaces"].as_array_mut().unwrap();
        nss.retain(|n| n["type"] != without);
        refused(cx, &cfg, key)?;
    }
    Ok(())
}

fn personality(cx: &mut Ctx) -> CaseResult {
    let mut cfg = config(&[]);
    cfg["linux"]["personality"] = json!({ "domain": "LINUX32" });
    let out = run_script(cx, cfg, "echo arch=$(uname -m)")?;
    ensure!(field(&out, "arch") == Some("i686"), "uname -m: {out}");
    Ok(())
}

/// /proc/self/stat: field 19 is the nice value, field 41 the policy (SCHED_BATCH = 3).
fn scheduler(cx: &mut Ctx) -> CaseResult {
    let mut cfg = config(&[]);
    cfg["process"]["scheduler"] =
        json!({ "policy": "SCHED_BATCH", "nice": 7, "flags": ["SCHED_FLAG_RESET_ON_FORK"] });
    let out = run_script(cx, cfg, "echo sched=$(cut -d' ' -f19,41 /proc/self/stat)")?;
    ensure!(
        field(&out, "sched") == Some("7 3"),
        "nice and policy: {out}"
    );
    Ok(())
}

fn io_priority(cx: &mut Ctx) -> CaseResult {
    let mut cfg = config(&[]);
    cfg["process"]["ioPriority"] = json!({ "class": "IOPRIO_CLASS_BE", "priority": 6 });
    let out = run_script(cx, cfg, "echo io=$(ionice -p $$)")?;
    ensure!(
        field(&out, "io") == Some("best-effort: prio 6"),
        "ionice: {out}"
    );
    Ok(())
}

/// boottime +1000000 s shows in /proc/uptime; both offsets in timens_offsets. Without a
/// new time namespace the offsets are refused.
fn time_offsets(cx: &mut Ctx) -> CaseResult {
    let mut cfg = config(&[]);
    cfg["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "type": "time" }));
    cfg["linux"]["timeOffsets"] = json!({
        "boottime": { "secs": 1000000 },
        "monotonic": { "secs": 5, "nanosecs": 7 }
    });
    let refused_cfg = {
        let mut c = cfg.clone();
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .retain(|n| n["type"] != "time");
        c["process"]["args"] = json!(["true"]);
        c
    };
    let out = run_script(
        cx,
        cfg,
        "echo up=$(cut -d. -f1 /proc/uptime); awk '{ print $1 \"=\" $2 \" \" $3 }' /proc/self/timens_offsets",
    )?;
    uptime_ahead_by_a_million(&out)?;
    ensure!(
        field(&out, "boottime") == Some("1000000 0"),
        "boottime: {out}"
    );
    ensure!(field(&out, "monotonic") == Some("5 7"), "monotonic: {out}");
    refused(cx, &refused_cfg, "linux.timeOffsets")
}

/// The `up=` uptime in `out` (whole seconds) is the host's plus 1000000 (a boottime
/// offset), give or take what the container took to start.
pub(super) fn uptime_ahead_by_a_million(out: &str) -> CaseResult {
    let up: u64 = field(out, "up").and_then(|u| u.parse().ok()).unwrap_or(0);
    let host_up: u64 = std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|u| u.split('.').next()?.parse().ok())
        .unwrap_or(0);
    ensure!(
        up >= host_up + 1_000_000 - 5 && up <= host_up + 1_000_000 + 60,
        "uptime inside {up}, host {host_up}: {out}"
    );
    Ok(())
}

/// CVE-2025-52881: a host file bound over /proc/sys/kernel/ns_last_pid must not get
/// the sysctl's value; the container's pid namespace must.
fn sysctl_cve(cx: &mut Ctx) -> CaseResult {
    let decoy = cx.dir.join("decoy");
    std::fs::write(&decoy, "untouched\n").map_err(|e| e.to_string())?;
    let mut cfg = config(&[]);
    cfg["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/proc/sys/kernel/ns_last_pid", "type": "bind",
        "source": decoy, "options": ["bind"]
    }));
    cfg["linux"]["sysctl"] = json!({ "kernel.ns_last_pid": "12345" });
    // `; true`: without it sh would exec the child in its own place, as pid 1.
    let out = run_script(cx, cfg, "sh -c 'echo child=$$'; true")?;
    let left = std::fs::read_to_string(&decoy).map_err(|e| e.to_string())?;
    ensure!(
        left == "untouched\n",
        "the sysctl was written to the bind mount: {left:?}"
    );
    ensure!(
        field(&out, "child") == Some("12346"),
        "the pid namespace did not get ns_last_pid 12345: {out}"
    );
    Ok(())
}
