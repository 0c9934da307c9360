//! Fields of runtime-spec 1.3 that runc 1.1.5 does not know (it ignores them, and its
//! `features` reports none of them): `linux.memoryPolicy`, `process.execCPUAffinity`,
//! `linux.netDevices`, and the refusal of `linux.intelRdt` where resctrl is not mounted.

use super::errors::refused;
use super::exec::{exec, exec_script, sleeper};
use super::{ensure, run_script};
use crate::bundle::config;
use crate::ctx::{Ctx, Out};
use crate::needs::EXEC_CPU_AFFINITY;
use crate::Feature;
use crate::{Case, CaseResult};
use serde_json::{json, Value};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::process::Command;

pub fn cases() -> Vec<Case> {
    vec![
        Case::feature("memory_policy_every_mode_and_flag", Feature::MemoryPolicy, memory_policy_modes),
        Case::feature("memory_policy_in_exec", Feature::MemoryPolicy, memory_policy_exec),
        Case::feature("bad_memory_policy", Feature::MemoryPolicy, bad_memory_policy),
        Case::feature("exec_cpu_affinity_final", EXEC_CPU_AFFINITY, exec_cpu_affinity),
        Case::feature("bad_exec_cpu_affinity", EXEC_CPU_AFFINITY, bad_exec_cpu_affinity),
        Case::feature("net_devices_moved_in_and_back", Feature::NetDevices, net_devices),
        Case::feature(
            "net_devices_back_when_create_fails", Feature::NetDevices,
            net_devices_failed_create,
        ),
        Case::feature("net_devices_in_user_namespace", Feature::NetDevices, net_devices_userns),
        Case::feature("bad_net_devices", Feature::NetDevices, bad_net_devices),
        Case::corral(
            "net_devices_state_files_swapped_for_symlinks",
            "netDevices state files opened without following symlinks",
            net_devices_swapped_state,
        ),
        // runc 1.1.5 creates the container anyway (closID alone, no resctrl mounted),
        // against the spec's MUST.
        Case::runc11_lacks("bad_intel_rdt_without_resctrl", "config-linux.md intelRdt: the runtime MUST write the process ID to the tasks file \"in a mounted resctrl pseudo-filesystem\"", intel_rdt_refused),
    ]
}

/// The policy column of the first line of /proc/self/numa_maps in a container with
/// `policy` (the kernel prints the process policy for mappings without their own).
fn numa_maps_policy(cx: &mut Ctx, policy: &Value) -> Result<String, String> {
    let mut cfg = config(&[]);
    cfg["linux"]["memoryPolicy"] = policy.clone();
    let out = run_script(cx, cfg, "head -n 1 /proc/self/numa_maps")?;
    Ok(out.trim().to_string())
}

/// The modes and flags the runtime's `features` lists under `linux.memoryPolicy`.
fn listed_policies(cx: &mut Ctx) -> Result<Vec<String>, String> {
    let o = cx.rt(&["features"]);
    o.ok("features")?;
    let v: Value = serde_json::from_str(&o.stdout).map_err(|e| format!("features: {e}"))?;
    let p = &v["linux"]["memoryPolicy"];
    Ok(["modes", "flags"]
        .iter()
        .flat_map(|k| p[k].as_array().cloned().unwrap_or_default())
        .filter_map(|n| n.as_str().map(String::from))
        .collect())
}

/// Every mode and flag `features` lists takes effect; one it leaves out (the kernel is
/// too old for it: MPOL_F_NUMA_BALANCING needs Linux 5.12, MPOL_PREFERRED_MANY 5.15,
/// MPOL_WEIGHTED_INTERLEAVE 6.9) is refused, naming the field and the kernel.
fn memory_policy_modes(cx: &mut Ctx) -> CaseResult {
    let listed = listed_policies(cx)?;
    // In every kernel a runtime can run on (MPOL_LOCAL is from Linux 3.8).
    for old in [
        "MPOL_DEFAULT",
        "MPOL_BIND",
        "MPOL_INTERLEAVE",
        "MPOL_PREFERRED",
        "MPOL_LOCAL",
        "MPOL_F_STATIC_NODES",
        "MPOL_F_RELATIVE_NODES",
    ] {
        ensure!(
            listed.iter().any(|l| l == old),
            "features lacks {old}: {listed:?}"
        );
    }
    // This host has node 0 only (/sys/devices/system/node/online).
    let table = [
        (json!({ "mode": "MPOL_BIND", "nodes": "0" }), " bind:0 "),
        (
            json!({ "mode": "MPOL_INTERLEAVE", "nodes": "0" }),
            " interleave:0 ",
        ),
        (
            json!({ "mode": "MPOL_WEIGHTED_INTERLEAVE", "nodes": "0" }),
            " weighted interleave:0 ",
        ),
        (
            json!({ "mode": "MPOL_PREFERRED", "nodes": "0" }),
            " prefer:0 ",
        ),
        (
            json!({ "mode": "MPOL_PREFERRED_MANY", "nodes": "0" }),
            " prefer (many):0 ",
        ),
        (json!({ "mode": "MPOL_LOCAL" }), " local "),
        (json!({ "mode": "MPOL_DEFAULT" }), " default "),
        (
            json!({ "mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES"] }),
            " bind=static:0 ",
        ),
        (
            json!({ "mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_RELATIVE_NODES"] }),
            " bind=relative:0 ",
        ),
        (
            json!({ "mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_NUMA_BALANCING"] }),
            " bind=balancing:0 ",
        ),
    ];
    for (policy, want) in table {
        let flag = policy["flags"][0].as_str();
        let unlisted = [policy["mode"].as_str(), flag]
            .into_iter()
            .flatten()
            .find(|n| !listed.iter().any(|l| l == n));
        if let Some(name) = unlisted {
            let field = if Some(name) == flag { "flags" } else { "mode" };
            let mut cfg = config(&["true"]);
            cfg["linux"]["memoryPolicy"] = policy.clone();
            let says =
                format!("linux.memoryPolicy.{field}: {name} is not supported by this kernel");
            refused(cx, &cfg, &says)?;
            continue;
        }
        let line = numa_maps_policy(cx, &policy)?;
        ensure!(
            format!("{line} ").contains(want),
            "{policy}: numa_maps says {line:?}, not {want:?}"
        );
    }
    Ok(())
}

/// A process of `exec` has the container's policy too.
fn memory_policy_exec(cx: &mut Ctx) -> CaseResult {
    let mut cfg = config(&[]);
    cfg["linux"]["memoryPolicy"] = json!({ "mode": "MPOL_INTERLEAVE", "nodes": "0" });
    sleeper(cx, cfg)?;
    let out = exec_script(cx, &[], "head -n 1 /proc/self/numa_maps")?;
    ensure!(out.contains(" interleave:0 "), "exec'd process: {out}");
    Ok(())
}

fn bad_memory_policy(cx: &mut Ctx) -> CaseResult {
    let with = |p: Value| {
        let mut cfg = config(&["true"]);
        cfg["linux"]["memoryPolicy"] = p;
        cfg
    };
    let node = with(json!({ "mode": "MPOL_BIND", "nodes": "0,7" }));
    refused(cx, &node, "linux.memoryPolicy.nodes: node 7 is not online")?;
    let none = with(json!({ "mode": "MPOL_INTERLEAVE" }));
    refused(cx, &none, "linux.memoryPolicy.nodes")?;
    let syntax = with(json!({ "mode": "MPOL_BIND", "nodes": "1-0" }));
    refused(cx, &syntax, "linux.memoryPolicy.nodes")?;
    let both = with(json!({ "mode": "MPOL_BIND", "nodes": "0",
        "flags": ["MPOL_F_STATIC_NODES", "MPOL_F_RELATIVE_NODES"] }));
    refused(cx, &both, "linux.memoryPolicy.flags")?;
    // Refused by the kernel in the init (balancing is for bind and preferred-many), and
    // reported from there; before Linux 5.12, which has no such flag, by `create`.
    let kernel = with(json!({ "mode": "MPOL_INTERLEAVE", "nodes": "0",
        "flags": ["MPOL_F_NUMA_BALANCING"] }));
    let says = match listed_policies(cx)?
        .iter()
        .any(|l| l == "MPOL_F_NUMA_BALANCING")
    {
        true => "linux.memoryPolicy: set_mempolicy MPOL_INTERLEAVE",
        false => "linux.memoryPolicy.flags: MPOL_F_NUMA_BALANCING is not supported by this kernel",
    };
    refused(cx, &kernel, says)
}

fn cpus_allowed(out: &str) -> Option<&str> {
    out.lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .map(str::trim)
}

/// `final` is where an `exec` process runs, from a process file or from the config's
/// process; the init is left alone (runtime-spec: "not applicable to the container's
/// init process").
fn exec_cpu_affinity(cx: &mut Ctx) -> CaseResult {
    let mut cfg = config(&[]);
    cfg["process"]["execCPUAffinity"] = json!({ "initial": "0", "final": "1" });
    let init = sleeper(cx, cfg)?;
    let status = std::fs::read_to_string(format!("/proc/{init}/status")).unwrap_or_default();
    let all = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    ensure!(
        cpus_allowed(&status) == cpus_allowed(&all),
        "the init was pinned: {:?}",
        cpus_allowed(&status)
    );
    let out = exec_script(cx, &[], "cat /proc/self/status")?;
    ensure!(
        cpus_allowed(&out) == Some("1"),
        "exec: {:?}",
        cpus_allowed(&out)
    );
    let p = json!({
        "user": { "uid": 0, "gid": 0 }, "cwd": "/", "env": ["PATH=/bin"],
        "args": ["cat", "/proc/self/status"],
        "execCPUAffinity": { "final": "0" }
    });
    let path = cx.dir.join("process.json");
    std::fs::write(&path, p.to_string()).map_err(|e| e.to_string())?;
    let o = exec(cx, &["--process", &path.to_string_lossy(), "c1"]);
    o.ok("exec --process")?;
    ensure!(
        cpus_allowed(&o.stdout) == Some("0"),
        "exec -p: {:?}",
        cpus_allowed(&o.stdout)
    );
    Ok(())
}

fn bad_exec_cpu_affinity(cx: &mut Ctx) -> CaseResult {
    sleeper(cx, config(&[]))?;
    // This host has CPUs 0 and 1: the kernel refuses the others, for each list.
    for (name, aff) in [
        ("final", json!({ "final": "7" })),
        ("initial", json!({ "initial": "9", "final": "1" })),
        ("final", json!({ "final": "1-0" })),
    ] {
        let p = json!({
            "user": { "uid": 0, "gid": 0 }, "cwd": "/", "args": ["true"],
            "execCPUAffinity": aff
        });
        let path = cx.dir.join("process.json");
        std::fs::write(&path, p.to_string()).map_err(|e| e.to_string())?;
        let o = exec(cx, &["--process", &path.to_string_lossy(), "c1"]);
        o.failed(&format!("exec with {aff}"))?;
        let want = format!("process.execCPUAffinity.{name}");
        ensure!(
            o.stderr.contains(&want),
            "{aff}: error does not say {want}: {}",
            o.stderr.trim()
        );
    }
    Ok(())
}

/// A scratch network namespace (`ip netns`) that stands for the host: corral runs in
/// it, so its interfaces are the "host" ones and the machine's are never touched.
struct ScratchNet {
    name: String,
    fd: OwnedFd,
}

impl ScratchNet {
    fn new(tag: &str) -> Result<Self, String> {
        let name = format!("corral-newfields-{}-{tag}", std::process::id());
        ip(&["netns", "add", &name])?;
        let fd = std::fs::File::open(format!("/run/netns/{name}"))
            .map(OwnedFd::from)
            .map_err(|e| format!("open netns {name}: {e}"));
        let net = ScratchNet { name, fd: fd? };
        net.ip(&["link", "add", "va", "type", "veth", "peer", "name", "vb"])?;
        // ifb: a virtual device like dummy (which this kernel lacks), destroyed with its
        // namespace: a device that is not moved back is gone.
        net.ip(&["link", "add", "i0", "type", "ifb"])?;
        Ok(net)
    }

    fn ip(&self, args: &[&str]) -> Result<String, String> {
        let mut v = vec!["-n", self.name.as_str()];
        v.extend_from_slice(args);
        ip(&v)
    }

    /// The names of its interfaces.
    fn links(&self) -> Result<Vec<String>, String> {
        let out = self.ip(&["-o", "link", "show"])?;
        Ok(out
            .lines()
            .filter_map(|l| l.split(": ").nth(1))
            .map(|n| n.split('@').next().unwrap_or(n).to_string())
            .collect())
    }

    /// The runtime, run in this namespace.
    fn rt(&self, cx: &mut Ctx, args: &[&str]) -> Out {
        use std::os::unix::process::CommandExt;
        let fd = self.fd.as_raw_fd();
        cx.rt_with(args, |c| {
            // SAFETY: setns is async-signal-safe; it runs in the forked child before exec.
            unsafe {
                c.pre_exec(move || {
                    if libc::setns(fd, libc::CLONE_NEWNET) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        })
    }
}

impl Drop for ScratchNet {
    fn drop(&mut self) {
        let _ = ip(&["netns", "del", &self.name]);
    }
}

fn ip(args: &[&str]) -> Result<String, String> {
    let o = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip: {e}"))?;
    if !o.status.success() {
        return Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&o.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&o.stdout).into_owned())
}

fn net_config(devices: Value, script: &str) -> Value {
    let mut cfg = config(&["sh", "-c", script]);
    cfg["linux"]["netDevices"] = devices;
    cfg
}

/// Runs `body`, then deletes c1 from inside `net` whatever happened (the harness's own
/// delete would run in the machine's namespace and move the devices there).
fn in_scratch(
    cx: &mut Ctx,
    net: &ScratchNet,
    body: impl FnOnce(&mut Ctx) -> CaseResult,
) -> CaseResult {
    let r = body(cx);
    net.rt(cx, &["delete", "--force", "c1"]);
    r
}

/// The namespace pin (`netns`) and the list of moved devices (`netdevices.json`) in
/// the state dir swapped for symlinks to a host mount point and a host file (by
/// whoever could write there): `delete` must neither unmount the host's mount nor read
/// or write the file, as it opens both through the state dir's fd without following a
/// link. (Followed, the unmount of the pin would take the host's mount away.)
fn net_devices_swapped_state(cx: &mut Ctx) -> CaseResult {
    let net = ScratchNet::new("swap")?;
    let b = cx.bundle(&net_config(json!({ "i0": {} }), "true"))?;
    let b = b.to_string_lossy().into_owned();
    let host_mnt = cx.dir.join("host-mnt-secpaths");
    cx.host_tmpfs(&host_mnt, "size=64k")?;
    let victim = cx.dir.join("victim-secpaths.json");
    std::fs::write(&victim, "host data").map_err(|e| e.to_string())?;
    let state = cx.root.join("c1");
    in_scratch(cx, &net, |cx| {
        net.rt(cx, &["create", "--bundle", &b, "c1"]).ok("create")?;
        let pin = state.join("netns");
        let pin_c = std::ffi::CString::new(pin.as_os_str().as_encoded_bytes())
            .map_err(|e| e.to_string())?;
        // SAFETY: umount2 with a valid C string.
        if unsafe { libc::umount2(pin_c.as_ptr(), libc::MNT_DETACH) } != 0 {
            return Err(format!(
                "unmount {}: {}",
                pin.display(),
                std::io::Error::last_os_error()
            ));
        }
        for (name, to) in [("netns", &host_mnt), ("netdevices.json", &victim)] {
            let at = state.join(name);
            std::fs::remove_file(&at).map_err(|e| format!("rm {}: {e}", at.display()))?;
            std::os::unix::fs::symlink(to, &at).map_err(|e| e.to_string())?;
        }
        net.rt(cx, &["delete", "--force", "c1"])
            .ok("delete --force")?;
        ensure!(
            super::fsutil::host_mount_points()
                .iter()
                .any(|p| Path::new(p) == host_mnt),
            "the host's mount at {} was unmounted through the swapped pin",
            host_mnt.display()
        );
        let now = std::fs::read_to_string(&victim).unwrap_or_default();
        ensure!(now == "host data", "the host file became {now:?}");
        Ok(())
    })
}

/// `va` renamed `ctr0` and `i0` under its own name are in the container, nowhere else
/// meanwhile, and back in the "host" namespace with their names after `delete`.
fn net_devices(cx: &mut Ctx) -> CaseResult {
    let net = ScratchNet::new("in")?;
    let cfg = net_config(
        json!({ "va": { "name": "ctr0" }, "i0": {} }),
        "ls /sys/class/net | tr '\\n' ' '",
    );
    let b = cx.bundle(&cfg)?;
    let b = b.to_string_lossy().into_owned();
    in_scratch(cx, &net, |cx| {
        net.rt(cx, &["create", "--bundle", &b, "c1"]).ok("create")?;
        let host = net.links()?;
        ensure!(
            !host.iter().any(|l| l == "va" || l == "i0"),
            "still on the host after create: {host:?}"
        );
        net.rt(cx, &["start", "c1"]).ok("start")?;
        cx.wait_status("c1", "stopped")?;
        net.rt(cx, &["delete", "c1"]).ok("delete")?;
        let host = net.links()?;
        for want in ["va", "vb", "i0"] {
            ensure!(
                host.iter().any(|l| l == want),
                "{want} is not back: {host:?}"
            );
        }
        ensure!(
            !host.iter().any(|l| l == "ctr0"),
            "kept its container name: {host:?}"
        );
        Ok(())
    })?;
    // What the container saw, from its log: `run` in the foreground, to read stdout.
    let o = net.rt(cx, &["run", "--bundle", &b, "c1"]);
    o.ok("run")?;
    let seen: Vec<&str> = o.stdout.split_whitespace().collect();
    ensure!(
        seen.contains(&"ctr0") && seen.contains(&"i0") && !seen.contains(&"va"),
        "the container's interfaces: {seen:?}"
    );
    let host = net.links()?;
    ensure!(
        host.iter().any(|l| l == "va") && host.iter().any(|l| l == "i0"),
        "after run: {host:?}"
    );
    Ok(())
}

/// The container's network namespace belongs to its own user namespace.
fn net_devices_userns(cx: &mut Ctx) -> CaseResult {
    let net = ScratchNet::new("userns")?;
    let mut cfg = net_config(
        json!({ "i0": { "name": "u0" } }),
        "ls /sys/class/net | tr '\\n' ' '",
    );
    cfg["linux"]["namespaces"]
        .as_array_mut()
        .expect("namespaces is an array")
        .push(json!({ "type": "user" }));
    cfg["linux"]["uidMappings"] = json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]);
    cfg["linux"]["gidMappings"] = json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]);
    let b = cx.bundle(&cfg)?;
    let b = b.to_string_lossy().into_owned();
    in_scratch(cx, &net, |cx| {
        let o = net.rt(cx, &["run", "--bundle", &b, "c1"]);
        o.ok("run")?;
        let seen: Vec<&str> = o.stdout.split_whitespace().collect();
        ensure!(seen.contains(&"u0"), "the container's interfaces: {seen:?}");
        let host = net.links()?;
        ensure!(host.iter().any(|l| l == "i0"), "i0 is not back: {host:?}");
        Ok(())
    })
}

/// The second move fails ("lo" exists in every network namespace): `create` fails
/// naming the device, and the first one, already moved, is back.
fn net_devices_failed_create(cx: &mut Ctx) -> CaseResult {
    let net = ScratchNet::new("fail")?;
    let cfg = net_config(
        json!({ "i0": { "name": "ctr1" }, "va": { "name": "lo" } }),
        "true",
    );
    let b = cx.bundle(&cfg)?;
    let b = b.to_string_lossy().into_owned();
    in_scratch(cx, &net, |cx| {
        let o = net.rt(cx, &["create", "--bundle", &b, "c1"]);
        o.failed("create")?;
        ensure!(
            o.stderr.contains("linux.netDevices.va") && o.stderr.contains("\"lo\""),
            "error: {}",
            o.stderr.trim()
        );
        let host = net.links()?;
        for want in ["i0", "va"] {
            ensure!(
                host.iter().any(|l| l == want),
                "{want} is not back: {host:?}"
            );
        }
        Ok(())
    })
}

fn bad_net_devices(cx: &mut Ctx) -> CaseResult {
    let missing = net_config(json!({ "corral-nf-none": {} }), "true");
    refused(
        cx,
        &missing,
        "linux.netDevices.corral-nf-none: no such interface",
    )?;
    let long = net_config(json!({ "lo": { "name": "a-name-of-16-byt" } }), "true");
    refused(cx, &long, "linux.netDevices.lo.name")?;
    let mut no_ns = net_config(json!({ "lo": {} }), "true");
    no_ns["linux"]["namespaces"] =
        json!([{ "type": "mount" }, { "type": "pid" }, { "type": "uts" }]);
    refused(cx, &no_ns, "linux.netDevices: needs a network namespace")
}

/// runtime-spec: "If no mounted resctrl pseudo-filesystem is available in the runtime
/// mount namespace, the runtime MUST generate an error." No host here has one.
fn intel_rdt_refused(cx: &mut Ctx) -> CaseResult {
    let mounted = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .contains(" - resctrl ");
    ensure!(
        !mounted,
        "resctrl is mounted here: this case is for hosts without it"
    );
    for rdt in [
        json!({ "closID": "c1" }),
        json!({ "l3CacheSchema": "L3:0=f" }),
        json!({ "memBwSchema": "MB:0=50" }),
        json!({ "schemata": ["L3:0=f"] }),
        json!({ "enableMonitoring": true }),
    ] {
        let mut cfg = config(&["true"]);
        cfg["linux"]["intelRdt"] = rdt;
        refused(cx, &cfg, "linux.intelRdt: no resctrl filesystem is mounted")?;
    }
    Ok(())
}
