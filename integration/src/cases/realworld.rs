//! Configs engines and runc-style tools send that must run (issue 11): deprecated kernel
//! memory limits, a hostname in a joined uts namespace, listed devices under a deny-all
//! device list, mount options runc knows.

use super::cgroups::cg_config;
use super::{ensure, field, run_script};
use crate::bundle::config;
use crate::ctx::Ctx;
use crate::needs::DELETE_REMOVES;
use crate::{Case, CaseResult};
use serde_json::json;
use std::process::{Child, Command, Stdio};

pub fn cases() -> Vec<Case> {
    vec![
        Case::new("kernel_memory_limits_are_ignored", kernel_memory),
        Case::new("hostname_in_a_joined_uts_namespace", joined_uts_hostname),
        Case::new("listed_device_stays_denied", listed_device_denied),
        Case::new("mount_options_silent_and_iversion", silent_and_iversion),
        // runc 1.1.5 runs it, but leaves the mounts in the host's mount namespace after
        // delete and execs `exec`'s process in the host's root, not the container's.
        Case::runc11_lacks("no_mount_namespace", DELETE_REMOVES, no_mount_namespace),
    ]
}

/// `memory.kernel` and `kernelTCP` run (runc and crun ignore them); the limit next to
/// them is still applied.
fn kernel_memory(cx: &mut Ctx) -> CaseResult {
    let limit = 64 * 1024 * 1024;
    let (cfg, _) = cg_config(
        cx,
        "kmem",
        json!({ "memory": { "limit": limit, "kernel": limit, "kernelTCP": limit } }),
    );
    let script = "echo limit=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes \
                  /sys/fs/cgroup/memory.max 2>/dev/null)";
    let out = run_script(cx, cfg, script)?;
    ensure!(
        field(&out, "limit") == Some(&limit.to_string()),
        "memory.limit not applied next to the kernel limits: {out}"
    );
    Ok(())
}

/// A process in a uts namespace of its own, which the case owns and kills.
struct UtsHolder(Child);

impl Drop for UtsHolder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn host_name() -> Result<String, String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .map_err(|e| e.to_string())
}

fn hostname_of(pid: u32) -> Result<String, String> {
    let o = Command::new("nsenter")
        .args(["-u", "-t", &pid.to_string(), "hostname"])
        .output()
        .map_err(|e| format!("nsenter: {e}"))?;
    Ok(String::from_utf8_lossy(&o.stdout).trim().to_string())
}

/// `hostname` and `domainname` with the uts namespace joined by path: set there, as
/// runc does, and the host's own names untouched.
fn joined_uts_hostname(cx: &mut Ctx) -> CaseResult {
    let host = host_name()?;
    let holder = Command::new("unshare")
        .args(["--uts", "sh", "-c", "echo ready; exec sleep 1000"])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("unshare: {e}"))?;
    let mut holder = UtsHolder(holder);
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(holder.0.stdout.take().expect("piped")),
        &mut line,
    )
    .map_err(|e| e.to_string())?;
    let pid = holder.0.id();
    let mut cfg = config(&["true"]);
    cfg["linux"]["cgroupsPath"] = json!(cx.cgroup_name("joined-uts"));
    cfg["hostname"] = json!("rw-joined-uts");
    cfg["domainname"] = json!("rw-joined.example");
    for ns in cfg["linux"]["namespaces"]
        .as_array_mut()
        .expect("namespaces")
    {
        if ns["type"] == "uts" {
            ns["path"] = json!(format!("/proc/{pid}/ns/uts"));
        }
    }
    let out = run_script(
        cx,
        cfg,
        "echo host=$(hostname); echo domain=$(cat /proc/sys/kernel/domainname)",
    )?;
    ensure!(
        field(&out, "host") == Some("rw-joined-uts"),
        "hostname not set inside: {out}"
    );
    // runc 1.1.5 does not know `domainname`.
    ensure!(
        !cx.is_corral || field(&out, "domain") == Some("rw-joined.example"),
        "domainname not set inside: {out}"
    );
    let theirs = hostname_of(pid)?;
    ensure!(
        theirs == "rw-joined-uts",
        "the joined namespace's hostname is {theirs:?}"
    );
    let now = host_name()?;
    ensure!(now == host, "the host's hostname changed: {now:?}");
    drop(holder);
    Ok(())
}

/// A node in `linux.devices` under a deny-all `linux.resources.devices`: made, but not
/// usable (EPERM), as with runc; the default devices still are.
fn listed_device_denied(cx: &mut Ctx) -> CaseResult {
    let (mut cfg, _) = cg_config(
        cx,
        "listed-dev",
        json!({ "devices": [{ "allow": false, "access": "rwm" }] }),
    );
    // /dev/kmsg's numbers (c 1:11): in no default list, writable without capabilities.
    cfg["linux"]["devices"] = json!([
        { "path": "/dev/rw-kmsg", "type": "c", "major": 1, "minor": 11, "fileMode": 438 }
    ]);
    let script = "test -c /dev/rw-kmsg && echo made=yes; \
                  (exec 3>/dev/rw-kmsg) 2>/tmp/e; echo rc=$?; read e < /tmp/e; echo err=$e; \
                  echo x > /dev/null && echo null=ok";
    let out = run_script(cx, cfg, script)?;
    ensure!(field(&out, "made") == Some("yes"), "node not made: {out}");
    ensure!(
        field(&out, "rc") != Some("0") && out.contains("not permitted"),
        "the listed but denied device was opened (or another error): {out}"
    );
    ensure!(field(&out, "null") == Some("ok"), "/dev/null denied: {out}");
    Ok(())
}

/// `silent`, `loud`, `iversion` and `noiversion` are mount flags, not tmpfs data
/// (`tmpfs: Unknown parameter 'silent'`).
fn silent_and_iversion(cx: &mut Ctx) -> CaseResult {
    let mut cfg = config(&["true"]);
    cfg["linux"]["cgroupsPath"] = json!(cx.cgroup_name("silent"));
    let mounts = cfg["mounts"].as_array_mut().expect("mounts");
    for (i, opts) in [["silent", "iversion"], ["loud", "noiversion"]]
        .iter()
        .enumerate()
    {
        mounts.push(json!({
            "destination": format!("/rw{i}"), "type": "tmpfs", "source": "tmpfs",
            "options": ["nosuid", opts[0], opts[1], "size=1m"]
        }));
    }
    let out = run_script(
        cx,
        cfg,
        "grep -c ' /rw[01] ' /proc/self/mountinfo | sed 's/^/mounts=/'",
    )?;
    ensure!(
        field(&out, "mounts") == Some("2"),
        "tmpfs not mounted: {out}"
    );
    Ok(())
}

/// The host's mount points at or under `root`.
fn host_mounts_under(root: &std::path::Path) -> Result<Vec<String>, String> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").map_err(|e| e.to_string())?;
    let root = root.to_string_lossy().into_owned();
    Ok(info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|p| *p == root || p.starts_with(&format!("{root}/")))
        .map(str::to_string)
        .collect())
}

/// No mount namespace in `linux.namespaces`: the container runs in its rootfs with its
/// mounts, `exec` lands in the same root, and once deleted nothing of it is left in the
/// host's mount table.
fn no_mount_namespace(cx: &mut Ctx) -> CaseResult {
    let mut cfg = config(&["sleep", "1000"]);
    cfg["linux"]["namespaces"] = json!([
        { "type": "pid" }, { "type": "ipc" }, { "type": "uts" }, { "type": "network" }
    ]);
    cfg["linux"]["cgroupsPath"] = json!(cx.cgroup_name("nomnt"));
    let b = cx.bundle(&cfg)?;
    let rootfs = b.join("rootfs").canonicalize().map_err(|e| e.to_string())?;
    std::fs::write(rootfs.join("marker"), "in-the-rootfs\n").map_err(|e| e.to_string())?;
    let before = host_mounts_under(&rootfs)?;
    let bs = b.to_string_lossy().into_owned();
    cx.rt(&["create", "--bundle", &bs, "c1"]).ok("create")?;
    cx.rt(&["start", "c1"]).ok("start")?;
    let o = cx.rt(&[
        "exec",
        "c1",
        "sh",
        "-c",
        "echo marker=$(cat /marker); echo proc=$(test -r /proc/self/status && echo yes); \
         echo dev=$(test -c /dev/null && echo yes); echo pid=$$",
    ]);
    o.ok("exec")?;
    ensure!(
        field(&o.stdout, "marker") == Some("in-the-rootfs"),
        "exec is not in the container's root: {}",
        o.stdout
    );
    ensure!(
        field(&o.stdout, "proc") == Some("yes") && field(&o.stdout, "dev") == Some("yes"),
        "the container's mounts are missing: {}",
        o.stdout
    );
    let during = host_mounts_under(&rootfs)?;
    ensure!(
        during.len() > before.len(),
        "no container mount under the rootfs in the shared mount namespace: {during:?}"
    );
    cx.rt(&["delete", "--force", "c1"]).ok("delete --force")?;
    let after = host_mounts_under(&rootfs)?;
    ensure!(
        after == before,
        "mounts left behind after delete: {after:?}"
    );
    // A create that fails in the init after some mounts are made leaves none either.
    cfg["mounts"].as_array_mut().expect("mounts").push(json!({
        "destination": "/gone", "type": "tmpfs", "source": "tmpfs",
        "options": ["size=not-a-size"]
    }));
    std::fs::write(b.join("config.json"), cfg.to_string()).map_err(|e| e.to_string())?;
    cx.rt(&["create", "--bundle", &bs, "c2"])
        .failed("create with a bad tmpfs option")?;
    let after = host_mounts_under(&rootfs)?;
    ensure!(
        after == before,
        "mounts left behind by a failed create: {after:?}"
    );
    Ok(())
}
