//! Cgroups: limits seen from inside the container (its /sys/fs/cgroup mount) and from
//! the host, enforced (pids, memory, devices), gone after delete, and bad resources
//! refused with nothing left. Each case uses its own relative cgroupsPath (see
//! `Ctx::cgroup_name`), so parallel runs never collide; cleanup checks it is gone.
//! Files are v1's unless the container sees cgroup2 (`cgroup.controllers` at the top),
//! so the same cases run in a v2 guest.

use super::errors::refused;
use super::{ensure, field, run_script};
use crate::bundle::config;
use crate::ctx::{cgroup_dirs, systemd_cgroup, wait_child, Ctx};
use crate::{Case, CaseResult};
use serde_json::{json, Value};

pub fn cases() -> Vec<Case> {
    vec![
        Case::new("cgroup_limits_inside_and_on_host", limits),
        Case::new("cgroup_pids_limit_stops_fork_loop", pids_limit),
        Case::new("cgroup_memory_limit_oom_kills", oom),
        Case::new("cgroup_devices_allow_and_deny", devices),
        Case::new("cgroup_bad_cpus_refused_nothing_left", bad_cpus),
        Case::new("cgroup_zero_values_mean_unset", zero_values),
        // runc writes the realtime files and kernel memory: corral refuses them (yet).
        Case::corral(
            "cgroup_unsupported_fields_named",
            "cpu realtime limits refused (not implemented)",
            unsupported_fields,
        ),
    ]
}

/// A config with a cgroup namespace, the cgroup mount, `resources` and cgroupsPath.
pub(super) fn cg_config(cx: &mut Ctx, what: &str, resources: Value) -> (Value, String) {
    let name = cx.cgroup_name(what);
    let mut cfg = config(&["true"]);
    cfg["linux"]["cgroupsPath"] = json!(name);
    cfg["linux"]["resources"] = resources;
    cfg["linux"]["namespaces"]
        .as_array_mut()
        .expect("namespaces")
        .push(json!({ "type": "cgroup" }));
    cfg["mounts"].as_array_mut().expect("mounts").push(json!({
        "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
        "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]
    }));
    (cfg, name)
}

/// `V=` for the script: where each controller's files are inside the container.
pub(super) const DIRS: &str = "if [ -e /sys/fs/cgroup/cgroup.controllers ]; then V=2; \
    M=/sys/fs/cgroup; C=/sys/fs/cgroup; P=/sys/fs/cgroup; S=/sys/fs/cgroup; \
    else V=1; M=/sys/fs/cgroup/memory; C=/sys/fs/cgroup/cpu; P=/sys/fs/cgroup/pids; \
    S=/sys/fs/cgroup/cpuset; fi; echo v=$V; ";

pub(super) fn read(path: &std::path::Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn limits(cx: &mut Ctx) -> CaseResult {
    let res = json!({
        "memory": { "limit": 33554432 },
        "cpu": { "shares": 512, "quota": 50000, "period": 100000, "cpus": "0" },
        "pids": { "limit": 30 }
    });
    let (cfg, name) = cg_config(cx, "limits", res);
    let script = format!(
        "{DIRS} if [ $V = 2 ]; then echo mem=$(cat $M/memory.max); echo cpu=$(cat $C/cpu.max); \
         echo weight=$(cat $C/cpu.weight); else echo mem=$(cat $M/memory.limit_in_bytes); \
         echo cpu=\"$(cat $C/cpu.cfs_quota_us) $(cat $C/cpu.cfs_period_us)\"; \
         echo shares=$(cat $C/cpu.shares); fi; echo pids=$(cat $P/pids.max); \
         echo cpus=$(cat $S/cpuset.cpus); \
         echo eff=$(cat $S/cpuset.cpus.effective 2>/dev/null || cat $S/cpuset.effective_cpus)"
    );
    let out = run_script(cx, cfg.clone(), &script)?;
    let want: &[(&str, &str)] = if field(&out, "v") == Some("2") {
        &[
            ("mem", "33554432"),
            ("cpu", "50000 100000"),
            ("weight", "20"),
        ]
    } else {
        &[
            ("mem", "33554432"),
            ("cpu", "50000 100000"),
            ("shares", "512"),
        ]
    };
    // The effective set too: what the kernel lets the container use.
    for (k, v) in want
        .iter()
        .chain(&[("pids", "30"), ("cpus", "0"), ("eff", "0")])
    {
        ensure!(
            field(&out, k) == Some(v),
            "inside: {k}={:?}, want {v}: {out}",
            field(&out, k)
        );
    }
    // From the host, while the container exists; and gone after delete.
    let b = cx.bundle(&cfg)?;
    cx.rt(&["create", "--bundle", &b.to_string_lossy(), "c2"])
        .ok("create")?;
    let pid = cx.state("c2")?["pid"].as_i64().unwrap_or(0);
    let dirs = cgroup_dirs(&name);
    ensure!(!dirs.is_empty(), "no cgroup hierarchy found for {name}");
    for d in &dirs {
        ensure!(
            read(&d.join("cgroup.procs"))
                .lines()
                .any(|l| l == pid.to_string()),
            "init {pid} is not in {}",
            d.display()
        );
    }
    let host = |f: &str| dirs.iter().map(|d| d.join(f)).find(|p| p.exists());
    for (f, v) in [
        ("memory.limit_in_bytes", "33554432"),
        ("memory.max", "33554432"),
        ("pids.max", "30"),
        ("cpu.cfs_quota_us", "50000"),
    ] {
        if let Some(p) = host(f) {
            ensure!(
                read(&p) == v,
                "host {}: {:?}, want {v}",
                p.display(),
                read(&p)
            );
        }
    }
    cx.rt(&["delete", "--force", "c2"]).ok("delete")?;
    let left: Vec<_> = dirs.iter().filter(|d| d.exists()).collect();
    ensure!(left.is_empty(), "after delete: {left:?} still there");
    Ok(())
}

/// Docker sends `cpu.shares: 0` and `blockIO.weight: 0` for "not set": the container
/// runs with the kernel's defaults (shares 1024, v2 weight 100).
fn zero_values(cx: &mut Ctx) -> CaseResult {
    let res = json!({ "cpu": { "shares": 0 }, "blockIO": { "weight": 0 } });
    let (cfg, _) = cg_config(cx, "zero", res);
    let script = format!(
        "{DIRS} if [ $V = 2 ]; then echo cpu=$(cat $C/cpu.weight); \
         else echo cpu=$(cat $C/cpu.shares); fi"
    );
    let out = run_script(cx, cfg, &script)?;
    let want = if field(&out, "v") == Some("2") {
        "100"
    } else {
        "1024"
    };
    ensure!(
        field(&out, "cpu") == Some(want),
        "inside: {out}, want cpu={want}"
    );
    Ok(())
}

fn pids_limit(cx: &mut Ctx) -> CaseResult {
    let (cfg, _) = cg_config(cx, "pids", json!({ "pids": { "limit": 8 } }));
    // Builtins only after the loop (no fork left); the sleeps die with the pid namespace.
    let script = format!(
        "{DIRS} sh -c 'i=0; while [ $i -lt 20 ]; do sleep 30 & i=$((i+1)); done' 2>/tmp/e; \
         read cur < $P/pids.current; read e < /tmp/e; echo cur=$cur; echo err=$e"
    );
    let out = run_script(cx, cfg, &script)?;
    let cur: u32 = field(&out, "cur")
        .and_then(|c| c.parse().ok())
        .ok_or(format!("no cur: {out}"))?;
    ensure!(cur <= 8, "pids.current {cur} above the limit 8: {out}");
    ensure!(
        field(&out, "err").is_some_and(|e| !e.is_empty()),
        "no fork failed: {out}"
    );
    Ok(())
}

fn oom(cx: &mut Ctx) -> CaseResult {
    let (mut cfg, name) = cg_config(cx, "oom", json!({ "memory": { "limit": 33554432 } }));
    // tail keeps the whole newline-less stream in memory: 200 MiB under a 32 MiB limit.
    // Its oom_score_adj of 1000 makes it the first victim. Which task the kernel kills is
    // the kernel's choice, not the runtime's: under load the OOM reaper may give up on a
    // dying tail and the kernel then picks the shell (pid 1), seen with runc and corral on
    // this v1 host. So the proof is the cgroup's own oom_kill counter, read from the host
    // after the container stopped, plus a SIGKILL of tail or of the whole container.
    cfg["process"]["args"] = json!([
        "sh",
        "-c",
        "head -c 200m /dev/zero | (echo 1000 > /proc/self/oom_score_adj; exec tail) \
         > /dev/null; echo st=$?"
    ]);
    let b = cx.bundle(&cfg)?;
    // A systemd scope's cgroup goes with its last process, before the counter could be
    // read: then the slice's, which counts its descendants' (cgroup v2), is read before
    // and after.
    let dirs = match systemd_cgroup() {
        true => cgroup_dirs(&name)
            .iter()
            .filter_map(|d| d.parent().map(std::path::Path::to_path_buf))
            .collect(),
        false => vec![],
    };
    let before = oom_kills(&dirs);
    let (child, out) = cx.rt_spawn(&["create", "--bundle", &b.to_string_lossy(), "c1"])?;
    ensure!(wait_child(child)? == 0, "create failed");
    let dirs = match systemd_cgroup() {
        true => dirs,
        false => cgroup_dirs(&name),
    };
    cx.rt(&["start", "c1"]).ok("start")?;
    // Pushing 200 MiB through a pipe takes a while in the emulated v2 guest.
    cx.wait_status_for("c1", "stopped", std::time::Duration::from_secs(60))?;
    let out = std::fs::read_to_string(out).unwrap_or_default();
    let kills = oom_kills(&dirs).saturating_sub(before);
    cx.rt(&["delete", "c1"]).ok("delete")?;
    ensure!(kills >= 1, "no oom_kill counted in {dirs:?}: {out}");
    // Either tail died of SIGKILL and the shell said so, or the shell itself was killed
    // (then it printed nothing).
    ensure!(
        field(&out, "st").is_none_or(|s| s == "137"),
        "tail not SIGKILLed: {out}"
    );
    Ok(())
}

/// The `oom_kill` counter of the first of `dirs` that has one (v1 `memory.oom_control`,
/// v2 `memory.events`); 0 if none has.
fn oom_kills(dirs: &[std::path::PathBuf]) -> u32 {
    dirs.iter()
        .flat_map(|d| ["memory.oom_control", "memory.events"].map(|f| d.join(f)))
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .flat_map(|t| t.lines().map(str::to_string).collect::<Vec<_>>())
        .find_map(|l| {
            l.strip_prefix("oom_kill ")
                .and_then(|n| n.trim().parse::<u32>().ok())
        })
        .unwrap_or(0)
}

fn devices(cx: &mut Ctx) -> CaseResult {
    // /dev/kmsg (c 1:11): in no default list, built into every kernel (fuse may be a
    // module that is not loaded), and writable without capabilities.
    let script = "mknod /tmp/f c 1 11 && (exec 3>/tmp/f) 2>/tmp/e; echo rc=$?; \
                  read e < /tmp/e; echo err=$e";
    let caps = json!(["CAP_MKNOD"]);
    for (allow, rules) in [
        (false, json!([{ "allow": false, "access": "rwm" }])),
        (
            true,
            json!([{ "allow": false, "access": "rwm" },
                      { "allow": true, "type": "c", "major": 1, "minor": 11, "access": "rw" }]),
        ),
    ] {
        let (mut cfg, _) = cg_config(
            cx,
            if allow { "dev-allow" } else { "dev-deny" },
            json!({ "devices": rules }),
        );
        for set in ["bounding", "effective", "permitted"] {
            cfg["process"]["capabilities"][set] = caps.clone();
        }
        let out = run_script(cx, cfg, script)?;
        if allow {
            ensure!(
                field(&out, "rc") == Some("0"),
                "allowed device not opened: {out}"
            );
        } else {
            ensure!(
                field(&out, "rc") != Some("0") && out.contains("not permitted"),
                "denied device opened (or another error): {out}"
            );
        }
    }
    Ok(())
}

fn bad_cpus(cx: &mut Ctx) -> CaseResult {
    let (cfg, name) = cg_config(cx, "badcpus", json!({ "cpu": { "cpus": "abc" } }));
    refused_no_cgroup(cx, &cfg, &name, "linux.resources.cpu.cpus")
}

/// A create of `cfg` refused naming `says`, with no cgroup of `name` left.
pub(super) fn refused_no_cgroup(cx: &mut Ctx, cfg: &Value, name: &str, says: &str) -> CaseResult {
    refused(cx, cfg, says)?;
    let left: Vec<_> = cgroup_dirs(name)
        .into_iter()
        .filter(|d| d.exists())
        .collect();
    ensure!(
        left.is_empty(),
        "cgroup left after a refused create: {left:?}"
    );
    Ok(())
}

/// A field this host's cgroup cannot honour is refused by name (`memory.kernel` and
/// `kernelTCP`, which the kernel dropped, are ignored with a warning instead: see
/// `realworld`).
fn unsupported_fields(cx: &mut Ctx) -> CaseResult {
    let res = json!({ "cpu": { "realtimeRuntime": 1000 } });
    let (cfg, name) = cg_config(cx, "rt", res);
    refused_no_cgroup(cx, &cfg, &name, "linux.resources.cpu.realtimeRuntime")
}
