//! What the container process sees: namespaces, pid 1, hostname, identity, cwd,
//! rlimits, environment, mounts and devices.

use super::{ensure, field, run_script};
use crate::bundle::{config, BUSYBOX};
use crate::ctx::Ctx;
use crate::needs::{DOMAINNAME, TIME_NS};
use crate::{Case, CaseResult};
use serde_json::json;

pub fn cases() -> Vec<Case> {
    vec![
        Case::new("inside_namespaces_pid1_hostname", namespaces_pid1_hostname),
        Case::new("inside_user_cwd_env_rlimits", user_cwd_env_rlimits),
        Case::new("inside_capabilities_and_no_new_privs", capabilities),
        Case::new("inside_default_devices", default_devices),
        Case::new("inside_readonly_root", readonly_root),
        Case::new("inside_bind_mount_ro", bind_mount_ro),
        Case::new("inside_no_pivot", no_pivot),
        Case::new("inside_join_netns_by_path", join_netns),
        Case::new("inside_network_namespace_for_all", network_for_all),
        Case::new("inside_user_namespace_mappings", user_namespace),
        Case::new("inside_join_pod_namespaces", join_pod),
        Case::new("inside_join_userns_with_new_pidns", join_userns_new_pidns),
        Case::new("inside_fds_closed_unless_preserved", preserve_fds),
        Case::new("inside_signals_start_at_default", signals_default),
        // runc 1.1.5 leaves the container's root unshared with rootfsPropagation rshared.
        Case::runc11_lacks(
            "inside_rootfs_propagation",
            "config-linux.md rootfsPropagation: \"sets the rootfs's mount propagation\"",
            rootfs_propagation,
        ),
        Case::feature("inside_cgroup_and_time_namespaces", TIME_NS, cgroup_time_ns),
        // runc 1.1.5 accepts `domainname` and does not set it.
        Case::feature("inside_domainname", DOMAINNAME, domainname),
    ]
}

fn host_ns(name: &str) -> String {
    std::fs::read_link(format!("/proc/self/ns/{name}"))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn namespaces_pid1_hostname(cx: &mut Ctx) -> CaseResult {
    let script = "echo mypid=$$; echo host=$(hostname); for n in mnt pid uts ipc net; do echo $n=$(readlink /proc/self/ns/$n); done";
    let out = run_script(cx, config(&[]), script)?;
    ensure!(field(&out, "mypid") == Some("1"), "pid inside: {out}");
    ensure!(
        field(&out, "host") == Some("conformance"),
        "hostname inside: {out}"
    );
    for n in ["mnt", "pid", "uts", "ipc", "net"] {
        let inside = field(&out, n).unwrap_or_default();
        ensure!(
            !inside.is_empty() && inside != host_ns(n),
            "{n} namespace not new: {inside} (host {})",
            host_ns(n)
        );
    }
    Ok(())
}

/// The container's new network namespace is the one its sysfs shows, its net.* sysctls
/// go to, and its hooks see: prestart and createRuntime (in the runtime's namespaces,
/// which the runtime is back in) find the init in it, createContainer runs in it.
fn network_for_all(cx: &mut Ctx) -> CaseResult {
    let log = cx.dir.join("net-hooks.log");
    let log = log.to_string_lossy().into_owned();
    // NAME own=<its net ns> init=<the init's, from the state on stdin>
    let hook = |name: &str| {
        json!({
            "path": BUSYBOX,
            "args": ["sh", "-c", format!(
                "pid=$(sed 's/.*\"pid\": *\\([0-9]*\\).*/\\1/'); echo \"{name} own=$(readlink \
                 /proc/self/ns/net) init=$(readlink /proc/$pid/ns/net)\" >> {log}"
            )],
            "env": ["PATH=/bin:/usr/bin:/sbin:/usr/sbin"],
        })
    };
    // sysfs first: it shows the devices of the mounter's network namespace.
    let out = run_script(cx, config(&[]), "echo links=$(ls /sys/class/net)")?;
    ensure!(field(&out, "links") == Some("lo"), "sysfs shows {out}");
    // Then without a sysfs mount, which would have the init join before it anyway.
    let mut cfg = config(&[]);
    cfg["mounts"]
        .as_array_mut()
        .ok_or("the config has no mounts")?
        .retain(|m| m["type"] != "sysfs");
    cfg["hooks"] = json!({
        "prestart": [hook("prestart")],
        "createRuntime": [hook("createRuntime")],
        "createContainer": [hook("createContainer")],
    });
    let ttl = std::fs::read_to_string("/proc/sys/net/ipv4/ip_default_ttl")
        .map_err(|e| format!("the host's ip_default_ttl: {e}"))?;
    let want = if ttl.trim() == "42" { "43" } else { "42" };
    cfg["linux"]["sysctl"] = json!({ "net.ipv4.ip_default_ttl": want });
    let script = "echo net=$(readlink /proc/self/ns/net); \
                  echo ttl=$(cat /proc/sys/net/ipv4/ip_default_ttl)";
    let out = run_script(cx, cfg, script)?;
    let inside = field(&out, "net").unwrap_or_default();
    ensure!(
        !inside.is_empty() && inside != host_ns("net"),
        "net namespace not new: {out}"
    );
    ensure!(
        field(&out, "ttl") == Some(want),
        "the sysctl, inside: {out}"
    );
    let host_ttl = std::fs::read_to_string("/proc/sys/net/ipv4/ip_default_ttl").unwrap_or_default();
    ensure!(
        host_ttl == ttl,
        "the host's ip_default_ttl became {host_ttl:?}"
    );
    let text = std::fs::read_to_string(&log).map_err(|e| format!("{log}: {e}"))?;
    let seen = |name: &str| -> Result<(String, String), String> {
        let l = text
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .ok_or_else(|| format!("{name} did not run: {text:?}"))?;
        let get = |k: &str| {
            field(&l.replace(' ', "\n"), k)
                .unwrap_or_default()
                .to_string()
        };
        Ok((get("own"), get("init")))
    };
    for name in ["prestart", "createRuntime"] {
        let (own, init) = seen(name)?;
        ensure!(
            own == host_ns("net"),
            "{name} ran in net namespace {own}: {text:?}"
        );
        ensure!(
            init == inside,
            "{name} found the init in {init}, not {inside}: {text:?}"
        );
    }
    let (own, _) = seen("createContainer")?;
    ensure!(
        own == inside,
        "createContainer ran in {own}, not {inside}: {text:?}"
    );
    Ok(())
}

fn user_cwd_env_rlimits(cx: &mut Ctx) -> CaseResult {
    let mut cfg = config(&[]);
    cfg["process"]["user"] =
        json!({ "uid": 1000, "gid": 1001, "additionalGids": [10, 20], "umask": 23 });
    cfg["process"]["cwd"] = json!("/tmp");
    cfg["process"]["env"] = json!(["PATH=/bin", "FOO=bar baz"]);
    cfg["process"]["rlimits"] = json!([{ "type": "RLIMIT_NOFILE", "soft": 512, "hard": 768 }]);
    let script = "echo umask=$(umask); echo uid=$(id -u); echo gid=$(id -g); echo groups=$(id -G); echo cwd=$(pwd); echo foo=$FOO; \
                  grep 'Max open files' /proc/self/limits | tr -s ' ' | sed 's/^/lim=/'";
    let out = run_script(cx, cfg, script)?;
    ensure!(field(&out, "uid") == Some("1000"), "uid: {out}");
    ensure!(
        field(&out, "umask") == Some("0027"),
        "umask (23 = 0o027): {out}"
    );
    ensure!(field(&out, "gid") == Some("1001"), "gid: {out}");
    let groups = field(&out, "groups").unwrap_or_default();
    ensure!(
        groups.split(' ').any(|g| g == "10") && groups.split(' ').any(|g| g == "20"),
        "groups: {groups}"
    );
    ensure!(field(&out, "cwd") == Some("/tmp"), "cwd: {out}");
    ensure!(field(&out, "foo") == Some("bar baz"), "env: {out}");
    ensure!(
        field(&out, "lim") == Some("Max open files 512 768 files "),
        "rlimit: {out}"
    );
    Ok(())
}

fn capabilities(cx: &mut Ctx) -> CaseResult {
    let mut cfg = config(&[]);
    let caps = json!(["CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    cfg["process"]["capabilities"] =
        json!({ "bounding": caps, "effective": caps, "permitted": caps });
    let out = run_script(
        cx,
        cfg,
        "grep -E '^(CapEff|CapBnd|CapPrm|NoNewPrivs)' /proc/self/status | tr -d '\\t' | tr ':' '='",
    )?;
    // CAP_KILL is bit 5, CAP_NET_BIND_SERVICE bit 10.
    for f in ["CapEff", "CapBnd", "CapPrm"] {
        ensure!(field(&out, f) == Some("0000000000000420"), "{f}: {out}");
    }
    ensure!(field(&out, "NoNewPrivs") == Some("1"), "NoNewPrivs: {out}");
    Ok(())
}

fn default_devices(cx: &mut Ctx) -> CaseResult {
    let script = "for d in null zero full random urandom tty; do echo $d=$(stat -c '%F %t,%T %a' /dev/$d); done; \
                  echo fd=$(readlink /dev/fd); echo ptmx=$(readlink /dev/ptmx); echo nulltest=$(echo x > /dev/null && echo ok)";
    let out = run_script(cx, config(&[]), script)?;
    for (d, majmin) in [
        ("null", "1,3"),
        ("zero", "1,5"),
        ("full", "1,7"),
        ("random", "1,8"),
        ("urandom", "1,9"),
        ("tty", "5,0"),
    ] {
        let want = format!("character special file {majmin} 666");
        ensure!(
            field(&out, d) == Some(want.as_str()),
            "/dev/{d}: {:?} (want {want})",
            field(&out, d)
        );
    }
    ensure!(field(&out, "fd") == Some("/proc/self/fd"), "/dev/fd: {out}");
    ensure!(field(&out, "ptmx") == Some("pts/ptmx"), "/dev/ptmx: {out}");
    ensure!(field(&out, "nulltest") == Some("ok"), "/dev/null: {out}");
    Ok(())
}

fn readonly_root(cx: &mut Ctx) -> CaseResult {
    let mut cfg = config(&[]);
    cfg["root"]["readonly"] = json!(true);
    let out = run_script(
        cx,
        cfg,
        "touch /x 2>/dev/null && echo root=rw || echo root=ro; touch /dev/shm/x && echo shm=rw",
    )?;
    ensure!(field(&out, "root") == Some("ro"), "root.readonly: {out}");
    ensure!(
        field(&out, "shm") == Some("rw"),
        "mounts under a read-only root: {out}"
    );
    Ok(())
}

fn bind_mount_ro(cx: &mut Ctx) -> CaseResult {
    let host = cx.dir.join("hostdata");
    std::fs::create_dir_all(&host).map_err(|e| e.to_string())?;
    std::fs::write(host.join("file"), "from-host").map_err(|e| e.to_string())?;
    let mut cfg = config(&[]);
    cfg["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/data", "type": "bind", "source": host, "options": ["rbind", "ro", "nosuid"]
    }));
    let out = run_script(cx, cfg, "echo content=$(cat /data/file); touch /data/new 2>/dev/null && echo write=yes || echo write=no")?;
    ensure!(
        field(&out, "content") == Some("from-host"),
        "bind content: {out}"
    );
    ensure!(
        field(&out, "write") == Some("no"),
        "ro bind writable: {out}"
    );
    ensure!(
        !host.join("new").exists(),
        "container wrote through a read-only bind"
    );
    Ok(())
}

fn no_pivot(cx: &mut Ctx) -> CaseResult {
    let mut cfg = config(&["sh", "-c", "echo pid=$$; ls /"]);
    cfg["hostname"] = json!("nopivot");
    let b = cx.bundle(&cfg)?;
    let o = cx.rt(&["run", "--no-pivot", "--bundle", &b.to_string_lossy(), "c1"]);
    o.ok("run --no-pivot")?;
    ensure!(
        field(&o.stdout, "pid") == Some("1"),
        "no-pivot pid: {}",
        o.stdout
    );
    ensure!(
        o.stdout.lines().any(|l| l == "bin"),
        "no-pivot root listing: {}",
        o.stdout
    );
    Ok(())
}

fn join_netns(cx: &mut Ctx) -> CaseResult {
    let b = cx.bundle(&config(&["sleep", "1000"]))?;
    cx.rt(&["run", "-d", "--bundle", &b.to_string_lossy(), "sandbox"])
        .ok("run sandbox")?;
    let pid = cx.state("sandbox")?["pid"].as_i64().unwrap_or(0);
    let want = std::fs::read_link(format!("/proc/{pid}/ns/net")).map_err(|e| e.to_string())?;
    let mut cfg = config(&["readlink", "/proc/self/ns/net"]);
    cfg["linux"]["namespaces"] = json!([
        { "type": "pid" }, { "type": "ipc" }, { "type": "uts" }, { "type": "mount" },
        { "type": "network", "path": format!("/proc/{pid}/ns/net") }
    ]);
    let b2 = cx.bundle(&cfg)?;
    let o = cx.rt(&["run", "--bundle", &b2.to_string_lossy(), "member"]);
    o.ok("run member")?;
    ensure!(
        o.stdout.trim() == want.to_string_lossy(),
        "joined net ns {} (sandbox {})",
        o.stdout.trim(),
        want.display()
    );
    Ok(())
}

fn user_namespace(cx: &mut Ctx) -> CaseResult {
    let mut cfg = config(&[]);
    cfg["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "type": "user" }));
    cfg["linux"]["uidMappings"] = json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]);
    cfg["linux"]["gidMappings"] = json!([{ "containerID": 0, "hostID": 200000, "size": 65536 }]);
    // The init is not dumpable, so its /proc files belong to the host's root: the score
    // must still be set.
    cfg["process"]["oomScoreAdj"] = json!(345);
    let out = run_script(cx, cfg, "echo uidmap=$(cat /proc/self/uid_map | tr -s ' '); echo gidmap=$(cat /proc/self/gid_map | tr -s ' '); echo uid=$(id -u); echo null=$(echo x > /dev/null && echo ok); echo oom=$(cat /proc/self/oom_score_adj)")?;
    ensure!(
        field(&out, "uidmap") == Some(" 0 100000 65536"),
        "uid_map: {out}"
    );
    ensure!(
        field(&out, "gidmap") == Some(" 0 200000 65536"),
        "gid_map: {out}"
    );
    ensure!(
        field(&out, "uid") == Some("0"),
        "uid in the user namespace: {out}"
    );
    ensure!(
        field(&out, "null") == Some("ok"),
        "/dev/null in a user namespace: {out}"
    );
    ensure!(field(&out, "oom") == Some("345"), "oom_score_adj: {out}");
    Ok(())
}

fn cgroup_time_ns(cx: &mut Ctx) -> CaseResult {
    let mut cfg = config(&[]);
    let nss = cfg["linux"]["namespaces"].as_array_mut().unwrap();
    nss.push(json!({ "type": "cgroup" }));
    nss.push(json!({ "type": "time" }));
    let out = run_script(
        cx,
        cfg,
        "for n in cgroup time; do echo $n=$(readlink /proc/self/ns/$n); done",
    )?;
    for n in ["cgroup", "time"] {
        let inside = field(&out, n).unwrap_or_default();
        ensure!(
            !inside.is_empty() && inside != host_ns(n),
            "{n} namespace not new: {inside}"
        );
    }
    Ok(())
}

fn domainname(cx: &mut Ctx) -> CaseResult {
    let mut cfg = config(&[]);
    cfg["domainname"] = json!("example.org");
    let out = run_script(cx, cfg, "echo domain=$(cat /proc/sys/kernel/domainname)")?;
    ensure!(
        field(&out, "domain") == Some("example.org"),
        "domainname inside: {out}"
    );
    Ok(())
}

/// A second container joins the first one's pid, ipc, uts and network namespaces.
fn join_pod(cx: &mut Ctx) -> CaseResult {
    let mut sandbox = config(&["sleep", "1000"]);
    sandbox["hostname"] = json!("pod");
    let b = cx.bundle(&sandbox)?;
    cx.rt(&["run", "-d", "--bundle", &b.to_string_lossy(), "sandbox"])
        .ok("run sandbox")?;
    let pid = cx.state("sandbox")?["pid"].as_i64().unwrap_or(0);
    let ns = |n: &str| {
        std::fs::read_link(format!("/proc/{pid}/ns/{n}")).map(|p| p.to_string_lossy().into_owned())
    };
    let mut cfg = config(&[]);
    cfg.as_object_mut().unwrap().remove("hostname");
    cfg["linux"]["namespaces"] = json!([
        { "type": "mount" },
        { "type": "pid", "path": format!("/proc/{pid}/ns/pid") },
        { "type": "ipc", "path": format!("/proc/{pid}/ns/ipc") },
        { "type": "uts", "path": format!("/proc/{pid}/ns/uts") },
        { "type": "network", "path": format!("/proc/{pid}/ns/net") }
    ]);
    let script = "echo mypid=$$; echo host=$(hostname); for n in pid ipc uts net; do echo $n=$(readlink /proc/self/ns/$n); done";
    let out = run_script(cx, cfg, script)?;
    for n in ["pid", "ipc", "uts", "net"] {
        let want = ns(n).map_err(|e| format!("sandbox {n} ns: {e}"))?;
        ensure!(
            field(&out, n) == Some(want.as_str()),
            "{n}: {out} (sandbox {want})"
        );
    }
    ensure!(
        field(&out, "host") == Some("pod"),
        "hostname of the joined uts ns: {out}"
    );
    ensure!(
        field(&out, "mypid") != Some("1"),
        "joined pid ns, yet pid 1: {out}"
    );
    Ok(())
}

/// `rootfsPropagation: rshared` makes the container's root a shared mount.
fn rootfs_propagation(cx: &mut Ctx) -> CaseResult {
    let mut cfg = config(&[]);
    cfg["linux"]["rootfsPropagation"] = json!("rshared");
    let out = run_script(
        cx,
        cfg,
        "awk '$5 == \"/\" { print \"root=\" $0 }' /proc/self/mountinfo",
    )?;
    let root = field(&out, "root").unwrap_or_default();
    ensure!(root.contains("shared:"), "root mount not shared: {root}");
    Ok(())
}

/// The runtime holds an extra fd 3 (/dev/null): the container process gets only stdio,
/// unless the fd is passed on with --preserve-fds 1. Read from the host, in
/// /proc/PID/fd of the container's `sleep` once it has exec'd.
fn preserve_fds(cx: &mut Ctx) -> CaseResult {
    let b = cx.bundle(&config(&["sleep", "1000"]))?;
    let b = b.to_string_lossy().into_owned();
    for (id, extra, want) in [
        ("c1", &[][..], "0 1 2"),
        ("c2", &["--preserve-fds", "1"][..], "0 1 2 3"),
    ] {
        let mut args = vec!["run", "-d"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--bundle", &b, id]);
        cx.rt_with_fd3(&args).ok("run -d")?;
        let pid = cx.state(id)?["pid"].as_i64().unwrap_or(0);
        let start = std::time::Instant::now();
        while std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .unwrap_or_default()
            .trim()
            != "sleep"
        {
            ensure!(start.elapsed().as_secs() < 5, "{id}: never exec'd sleep");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let mut fds: Vec<u32> = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .map_err(|e| e.to_string())?
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse().ok())
            .collect();
        fds.sort();
        let got = fds
            .iter()
            .map(|f| f.to_string())
            .collect::<Vec<_>>()
            .join(" ");
        ensure!(
            got == want,
            "{id} ({extra:?}): container fds {got}, want {want}"
        );
        if id == "c2" {
            let target =
                std::fs::read_link(format!("/proc/{pid}/fd/3")).map_err(|e| e.to_string())?;
            ensure!(
                target == std::path::Path::new("/dev/null"),
                "preserved fd 3 is {}",
                target.display()
            );
        }
    }
    Ok(())
}

/// A second container joins the first one's user and network namespaces and gets a pid,
/// mount, ipc and uts namespace of its own (created inside the joined user namespace).
fn join_userns_new_pidns(cx: &mut Ctx) -> CaseResult {
    let mut first = config(&["sleep", "1000"]);
    first["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "type": "user" }));
    first["linux"]["uidMappings"] = json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]);
    first["linux"]["gidMappings"] = json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]);
    let b = cx.bundle(&first)?;
    cx.rt(&["run", "-d", "--bundle", &b.to_string_lossy(), "first"])
        .ok("run first")?;
    let pid = cx.state("first")?["pid"].as_i64().unwrap_or(0);
    let ns = |n: &str| {
        std::fs::read_link(format!("/proc/{pid}/ns/{n}")).map(|p| p.to_string_lossy().into_owned())
    };
    let mut cfg = config(&[]);
    // The joined namespace's mappings: runc 1.1.5 requires them even when joining.
    cfg["linux"]["uidMappings"] = first["linux"]["uidMappings"].clone();
    cfg["linux"]["gidMappings"] = first["linux"]["gidMappings"].clone();
    cfg["linux"]["namespaces"] = json!([
        { "type": "user", "path": format!("/proc/{pid}/ns/user") },
        { "type": "network", "path": format!("/proc/{pid}/ns/net") },
        { "type": "pid" }, { "type": "mount" }, { "type": "ipc" }, { "type": "uts" }
    ]);
    let script =
        "echo mypid=$$; echo uid=$(id -u); echo uidmap=$(cat /proc/self/uid_map | tr -s ' '); \
                  for n in user net pid; do echo $n=$(readlink /proc/self/ns/$n); done";
    let out = run_script(cx, cfg, script)?;
    ensure!(
        field(&out, "mypid") == Some("1"),
        "no pid namespace of its own: {out}"
    );
    ensure!(field(&out, "uid") == Some("0"), "uid: {out}");
    ensure!(
        field(&out, "uidmap") == Some(" 0 100000 65536"),
        "uid_map: {out}"
    );
    for n in ["user", "net"] {
        let want = ns(n).map_err(|e| format!("first {n} ns: {e}"))?;
        ensure!(
            field(&out, n) == Some(want.as_str()),
            "{n}: {out} (first {want})"
        );
    }
    let first_pid = ns("pid").map_err(|e| e.to_string())?;
    ensure!(
        field(&out, "pid") != Some(first_pid.as_str()),
        "shares the first pid ns: {out}"
    );
    Ok(())
}

/// The program starts with SIGPIPE as whoever called the runtime has it for a program
/// it runs itself (here: grep, run by this harness), and the same signal mask: the
/// runtime's own settings (Rust ignores SIGPIPE) do not reach it. (The realtime signals
/// 32 and 33 are left out: runc's Go runtime resets 33 and not 32.)
fn signals_default(cx: &mut Ctx) -> CaseResult {
    let args = ["grep", "^Sig[IB]", "/proc/self/status"];
    let b = cx.bundle(&config(&args))?;
    let o = cx.rt(&["run", "--bundle", &b.to_string_lossy(), "c1"]);
    o.ok("run")?;
    let direct = std::process::Command::new("/bin/grep")
        .args(&args[1..])
        .output()
        .map_err(|e| format!("grep: {e}"))?;
    let direct = String::from_utf8_lossy(&direct.stdout);
    let mask = |out: &str, key: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
    };
    const SIGPIPE: u64 = 1 << (libc::SIGPIPE - 1);
    let pipe = |out: &str| mask(out, "SigIgn:").map(|m| m & SIGPIPE);
    ensure!(
        pipe(&o.stdout).is_some() && pipe(&o.stdout) == pipe(&direct),
        "SIGPIPE in the container:\n{}run directly:\n{direct}",
        o.stdout
    );
    ensure!(
        mask(&o.stdout, "SigBlk:") == mask(&direct, "SigBlk:"),
        "blocked signals in the container:\n{}run directly:\n{direct}",
        o.stdout
    );
    Ok(())
}
