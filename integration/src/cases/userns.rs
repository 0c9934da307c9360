//! User namespaces: mappings to unprivileged host ids, several ranges, unmappable ids,
//! and rootless mode (the runtime run as the unprivileged user `corraltest`, which
//! scripts/test.sh creates with /etc/subuid and /etc/subgid ranges).

use super::{ensure, field};
use crate::bundle::config;
use crate::ctx::Ctx;
use crate::{Case, CaseResult};
use serde_json::{json, Value};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub fn cases() -> Vec<Case> {
    vec![
        Case::new("userns_root_maps_to_unprivileged_uid", root_to_unprivileged),
        Case::new("userns_several_ranges", several_ranges),
        Case::new("userns_unmapped_user_refused", unmapped_user),
        Case::new("userns_rootless_spec_run", rootless_spec_run),
        Case::new("userns_rootless_subid_ranges", rootless_subid_ranges),
        Case::new("userns_rootless_undelegated_refused", rootless_undelegated),
        // runc 1.1.5's `spec --rootless` binds /sys with a plain `ro`: the host's cgroup
        // hierarchies below it stay writable (CVE-2023-25809).
        Case::corral(
            "userns_rootless_spec_sys_read_only",
            "`spec --rootless` binds /sys recursively read-only (CVE-2023-25809)",
            rootless_sys_read_only,
        ),
    ]
}

const TEST_USER: &str = "corraltest";

/// The test user's uid and gid, from /etc/passwd.
pub(super) fn test_user() -> Result<(u32, u32), String> {
    let passwd = std::fs::read_to_string("/etc/passwd").map_err(|e| e.to_string())?;
    passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.first() == Some(&TEST_USER) && f.len() > 3)
        .and_then(|f| Some((f[2].parse().ok()?, f[3].parse().ok()?)))
        .ok_or_else(|| format!("no user {TEST_USER}: scripts/test.sh creates it (useradd -m)"))
}

/// The first range `file` (/etc/subuid or /etc/subgid) delegates to the test user.
fn subid_start(file: &str) -> Result<u32, String> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.strip_prefix(TEST_USER)?.strip_prefix(':'))
        .find_map(|r| {
            let (start, size) = r.split_once(':')?;
            (size.parse::<u32>().ok()? >= 65536).then_some(start.parse().ok()?)
        })
        .ok_or_else(|| format!("{file} gives {TEST_USER} no range of 65536 ids"))
}

pub(super) fn with_userns(mut cfg: Value, uids: Value, gids: Value) -> Value {
    cfg["linux"]["namespaces"]
        .as_array_mut()
        .expect("namespaces is an array")
        .push(json!({ "type": "user" }));
    cfg["linux"]["uidMappings"] = uids;
    cfg["linux"]["gidMappings"] = gids;
    cfg
}

/// A host directory under the case dir, owned by `owner` with `mode`, bound at /data.
/// The rootfs belongs to host root, which the container's user namespace does not map,
/// so the mount point must exist beforehand: see `bundle_with_data`.
fn data_dir(cx: &Ctx, cfg: &mut Value, owner: (u32, u32), mode: u32) -> Result<PathBuf, String> {
    let dir = cx.dir.join("data");
    std::fs::create_dir_all(&dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
    std::os::unix::fs::chown(&dir, Some(owner.0), Some(owner.1)).map_err(|e| e.to_string())?;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode))
        .map_err(|e| e.to_string())?;
    cfg["mounts"].as_array_mut().expect("mounts").push(json!({
        "destination": "/data", "type": "bind", "source": dir, "options": ["rbind"]
    }));
    Ok(dir)
}

/// A bundle from `cfg` running `script`, with /data made in its rootfs.
fn bundle_with_data(cx: &mut Ctx, mut cfg: Value, script: &str) -> Result<PathBuf, String> {
    cfg["process"]["args"] = json!(["sh", "-c", script]);
    let b = cx.bundle(&cfg)?;
    std::fs::create_dir(b.join("rootfs/data")).map_err(|e| format!("mkdir rootfs/data: {e}"))?;
    Ok(b)
}

/// `run` as root with /data made (see `bundle_with_data`); returns stdout.
fn run_with_data(cx: &mut Ctx, cfg: Value, script: &str) -> Result<String, String> {
    let b = bundle_with_data(cx, cfg, script)?;
    let o = cx.rt(&["run", "--bundle", &b.to_string_lossy(), "c1"]);
    o.ok("run")?;
    Ok(o.stdout)
}

fn owner(path: &Path) -> Result<(u32, u32), String> {
    let m = std::fs::metadata(path).map_err(|e| format!("stat {}: {e}", path.display()))?;
    Ok((m.uid(), m.gid()))
}

const MAPS: &str = "echo uidmap=$(cat /proc/self/uid_map | tr -s ' ' | tr '\\n' ,); \
                    echo gidmap=$(cat /proc/self/gid_map | tr -s ' ' | tr '\\n' ,); \
                    echo uid=$(id -u); echo gid=$(id -g)";

fn root_to_unprivileged(cx: &mut Ctx) -> CaseResult {
    let m = json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]);
    let mut cfg = with_userns(config(&[]), m.clone(), m);
    let data = data_dir(cx, &mut cfg, (100000, 100000), 0o755)?;
    let out = run_with_data(cx, cfg, &format!("{MAPS}; touch /data/f && echo made=1"))?;
    ensure!(
        field(&out, "uidmap") == Some(" 0 100000 65536,"),
        "uid_map inside: {out}"
    );
    ensure!(field(&out, "uid") == Some("0"), "uid inside: {out}");
    ensure!(field(&out, "made") == Some("1"), "create /data/f: {out}");
    let got = owner(&data.join("f"))?;
    ensure!(
        got == (100000, 100000),
        "container root's file is owned by {got:?} on the host, not (100000, 100000)"
    );
    Ok(())
}

fn several_ranges(cx: &mut Ctx) -> CaseResult {
    let m = json!([
        { "containerID": 0, "hostID": 100000, "size": 1000 },
        { "containerID": 1000, "hostID": 200000, "size": 1000 }
    ]);
    let mut cfg = with_userns(config(&[]), m.clone(), m);
    cfg["process"]["user"] = json!({ "uid": 1500, "gid": 1500 });
    let data = data_dir(cx, &mut cfg, (0, 0), 0o777)?;
    let out = run_with_data(cx, cfg, &format!("{MAPS}; touch /data/f && echo made=1"))?;
    ensure!(
        field(&out, "uidmap") == Some(" 0 100000 1000, 1000 200000 1000,"),
        "uid_map inside: {out}"
    );
    ensure!(
        field(&out, "gidmap") == Some(" 0 100000 1000, 1000 200000 1000,"),
        "gid_map inside: {out}"
    );
    ensure!(
        field(&out, "uid") == Some("1500") && field(&out, "gid") == Some("1500"),
        "ids inside: {out}"
    );
    ensure!(field(&out, "made") == Some("1"), "create /data/f: {out}");
    let got = owner(&data.join("f"))?;
    ensure!(
        got == (200500, 200500),
        "uid 1500's file is owned by {got:?} on the host, not (200500, 200500)"
    );
    Ok(())
}

fn unmapped_user(cx: &mut Ctx) -> CaseResult {
    let m = json!([{ "containerID": 0, "hostID": 100000, "size": 1000 }]);
    let mut cfg = with_userns(config(&["true"]), m.clone(), m);
    cfg["process"]["user"] = json!({ "uid": 5000, "gid": 0 });
    let b = cx.bundle(&cfg)?;
    let o = cx.rt(&["create", "--bundle", &b.to_string_lossy(), "c1"]);
    o.failed("create with process.user.uid 5000 outside a mapping of 1000 ids")?;
    // runc 1.1.5 says "cannot set uid to unmapped user in user namespace", naming no field.
    if cx.is_corral {
        ensure!(
            o.stderr.contains("process.user.uid") && o.stderr.contains("linux.uidMappings"),
            "the error should name the field: {}",
            o.stderr
        );
    }
    Ok(())
}

/// The test user's state root: `$XDG_RUNTIME_DIR` is a directory of the case owned by
/// the user, and the runtime's default root is `$XDG_RUNTIME_DIR/<runtime>`. Cleanup
/// looks there.
pub(super) fn user_root(cx: &mut Ctx, user: (u32, u32)) -> Result<PathBuf, String> {
    let xdg = cx.dir.join("xdg");
    std::fs::create_dir_all(&xdg).map_err(|e| e.to_string())?;
    std::os::unix::fs::chown(&xdg, Some(user.0), Some(user.1)).map_err(|e| e.to_string())?;
    std::fs::set_permissions(&xdg, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| e.to_string())?;
    cx.root = xdg.join(if cx.is_corral { "corral" } else { "runc" });
    Ok(xdg)
}

/// A bundle the test user owns, with the config `spec --rootless` wrote as that user
/// (no terminal, `args`), and the user's `$XDG_RUNTIME_DIR` (see `user_root`).
pub(super) fn rootless_bundle(
    cx: &mut Ctx,
    user: (u32, u32),
    args: Value,
) -> Result<(PathBuf, PathBuf), String> {
    let xdg = user_root(cx, user)?;
    let env = [("XDG_RUNTIME_DIR", xdg.as_path())];
    // The harness's busybox rootfs (readable by anyone) in a bundle dir the user owns.
    let b = cx.bundle(&config(&[]))?;
    std::fs::remove_file(b.join("config.json")).map_err(|e| e.to_string())?;
    std::os::unix::fs::chown(&b, Some(user.0), Some(user.1)).map_err(|e| e.to_string())?;
    cx.rt_as(user, &b, &env, &["spec", "--rootless"])
        .ok("spec --rootless as the test user")?;
    let path = b.join("config.json");
    let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
    let mut cfg: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    cfg["process"]["terminal"] = json!(false);
    cfg["process"]["args"] = args;
    crate::bundle::write_config(&b, &cfg).map_err(|e| e.to_string())?;
    Ok((b, xdg))
}

fn rootless_spec_run(cx: &mut Ctx) -> CaseResult {
    let user = test_user()?;
    let (b, xdg) = rootless_bundle(cx, user, json!(["sh", "-c", MAPS]))?;
    let env = [("XDG_RUNTIME_DIR", xdg.as_path())];
    let o = cx.rt_as(user, &b, &env, &["run", "--keep", "c1"]);
    o.ok("run as the test user")?;
    let out = &o.stdout;
    ensure!(field(out, "uid") == Some("0"), "id -u inside: {out}");
    ensure!(
        field(out, "uidmap") == Some(&format!(" 0 {} 1,", user.0)),
        "uid_map inside: {out}"
    );
    let state = cx.root.join("c1");
    let got = owner(&state)?;
    ensure!(
        got.0 == user.0,
        "state dir {} is owned by {got:?}, not by the user",
        state.display()
    );
    cx.rt_as(user, &b, &env, &["delete", "c1"])
        .ok("delete as the test user")?;
    Ok(())
}

/// Every mount under /sys of the `spec --rootless` config is read-only: mkdir in
/// /sys/fs/cgroup (the one hierarchy of a v2 host) and in each hierarchy below it fails with EROFS (which the kernel checks before the permission, so EACCES
/// would mean a writable mount), and mountinfo says `ro` for each.
fn rootless_sys_read_only(cx: &mut Ctx) -> CaseResult {
    let user = test_user()?;
    let script = "awk '$5 ~ /^\\/sys/ { n++ } $5 ~ /^\\/sys/ && $6 !~ /^ro/ { print \"rw=\" $5 } \
                  END { print \"mounts=\" n }' /proc/self/mountinfo; \
                  for h in /sys/fs/cgroup /sys/fs/cgroup/*/; do [ -d $h ] || continue; \
                  mkdir $h/probe 2>&1 | grep -q 'Read-only' || echo writable=$h; done; echo done=1";
    let (b, xdg) = rootless_bundle(cx, user, json!(["sh", "-c", script]))?;
    let env = [("XDG_RUNTIME_DIR", xdg.as_path())];
    let o = cx.rt_as(user, &b, &env, &["run", "c1"]);
    o.ok("run the rootless spec as the test user")?;
    let out = &o.stdout;
    ensure!(field(out, "done") == Some("1"), "{out}{}", o.stderr);
    ensure!(
        field(out, "mounts").and_then(|n| n.parse::<u32>().ok()) > Some(1),
        "no submounts of /sys to check: {out}"
    );
    ensure!(
        !out.contains("rw=") && !out.contains("writable="),
        "writable mounts under /sys: {out}"
    );
    Ok(())
}

/// `exec` as the test user into its rootless container (corral cannot join the pid
/// namespace from outside there: the process forks once more inside it).
pub(super) fn rootless_exec(cx: &mut Ctx) -> CaseResult {
    let user = test_user()?;
    let (b, xdg) = rootless_bundle(cx, user, json!(["sleep", "1000"]))?;
    let env = [("XDG_RUNTIME_DIR", xdg.as_path())];
    cx.rt_as(user, &b, &env, &["run", "-d", "c1"])
        .ok("run -d as the test user")?;
    // As the user: corral run as root refuses a root that another user owns.
    let o = cx.rt_as(user, &b, &env, &["state", "c1"]);
    let state: Value = serde_json::from_str(&o.ok("state as the test user")?.stdout)
        .map_err(|e| format!("state: {e}: {}", o.stdout))?;
    let init = crate::ctx::pid_of(&state).unwrap_or(0);
    cx.track(init);
    super::exec::sleeping(init)?;
    let script = "echo pid=$$; echo init=$(tr '\\0' ' ' < /proc/1/cmdline); \
                  echo uidmap=$(tr -s ' ' < /proc/self/uid_map); exit 4";
    let o = cx.rt_as(user, &b, &env, &["exec", "c1", "sh", "-c", script]);
    let out = &o.stdout;
    ensure!(o.code == 4, "exec exited {}: {}{out}", o.code, o.stderr);
    ensure!(field(out, "pid").is_some_and(|p| p != "1"), "{out}");
    ensure!(field(out, "init") == Some("sleep 1000"), "pid 1: {out}");
    ensure!(
        field(out, "uidmap") == Some(&format!(" 0 {} 1", user.0)),
        "uid_map: {out}"
    );
    cx.rt_as(user, &b, &env, &["delete", "--force", "c1"])
        .ok("delete as the test user")?;
    Ok(())
}

/// Mappings the user may make only through newuidmap/newgidmap: its own id for root,
/// then its /etc/subuid and /etc/subgid ranges.
fn subid_maps(user: (u32, u32), subuid: u32, subgid: u32) -> (Value, Value) {
    let m = |own: u32, sub: u32| {
        json!([
            { "containerID": 0, "hostID": own, "size": 1 },
            { "containerID": 1, "hostID": sub, "size": 65536 }
        ])
    };
    (m(user.0, subuid), m(user.1, subgid))
}

fn rootless_subid_ranges(cx: &mut Ctx) -> CaseResult {
    let user = test_user()?;
    let (subuid, subgid) = (subid_start("/etc/subuid")?, subid_start("/etc/subgid")?);
    let xdg = user_root(cx, user)?;
    let (uids, gids) = subid_maps(user, subuid, subgid);
    let mut cfg = with_userns(config(&[]), uids, gids);
    cfg["process"]["user"] = json!({ "uid": 1000, "gid": 1000 });
    let data = data_dir(cx, &mut cfg, (0, 0), 0o777)?;
    let b = bundle_with_data(cx, cfg, &format!("{MAPS}; touch /data/f && echo made=1"))?;
    let env = [("XDG_RUNTIME_DIR", xdg.as_path())];
    let o = cx.rt_as(user, &b, &env, &["run", "c1"]);
    o.ok("run with subordinate id ranges as the test user")?;
    let out = &o.stdout;
    ensure!(
        field(out, "uidmap") == Some(&format!(" 0 {} 1, 1 {subuid} 65536,", user.0)),
        "uid_map inside: {out}"
    );
    ensure!(field(out, "uid") == Some("1000"), "uid inside: {out}");
    ensure!(field(out, "made") == Some("1"), "create /data/f: {out}");
    let got = owner(&data.join("f"))?;
    let want = (subuid + 999, subgid + 999);
    ensure!(
        got == want,
        "uid 1000's file is owned by {got:?} on the host, not {want:?}"
    );
    Ok(())
}

fn rootless_undelegated(cx: &mut Ctx) -> CaseResult {
    let user = test_user()?;
    let xdg = user_root(cx, user)?;
    // 1 → 2000000000: no /etc/subuid gives the test user that.
    let (uids, gids) = subid_maps(user, 2_000_000_000, subid_start("/etc/subgid")?);
    let cfg = with_userns(config(&["true"]), uids, gids);
    let b = cx.bundle(&cfg)?;
    let env = [("XDG_RUNTIME_DIR", xdg.as_path())];
    let o = cx.rt_as(user, &b, &env, &["create", "c1"]);
    o.failed("create with a uid range not delegated to the user")?;
    if cx.is_corral {
        ensure!(
            o.stderr.contains("linux.uidMappings") && o.stderr.contains("/etc/subuid"),
            "the error should name the field: {}",
            o.stderr
        );
    }
    Ok(())
}
