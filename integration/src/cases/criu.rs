//! checkpoint and restore through CRIU. CRIU 3.17 does not run on the build host's
//! kernel: these cases run in the guest (`scripts/v2-guest.sh --criu --filter criu_`).
//! Those that run CRIU skip themselves where `criu check` fails (`Case::with_criu`).
//!
//! The container is a counter: it appends 1, 2, 3, … to /count in its rootfs, one line
//! every 50 ms, with its stdio on /dev/null (CRIU cannot dump fds on the harness's
//! files). A restored counter that continues where it was leaves one unbroken sequence
//! in the file; one that started again would write 1 a second time. It also has a bind
//! mount, a tmpfs and masked paths, which CRIU must get back as they were.

use super::cgroup_systemd::{gone, in_scope, scope, show, Scope};
use super::ensure;
use crate::bundle::config;
use crate::ctx::Ctx;
use crate::{Case, CaseResult, Needs};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub fn cases() -> Vec<Case> {
    vec![
        Case::new("criu_checkpoint_restore_continues", continues).with_criu(),
        Case::new("criu_leave_running", leave_running).with_criu(),
        Case::new("criu_pre_dump_then_dump", pre_dump_then_dump).with_criu(),
        Case::new("criu_restore_new_id", restore_new_id).with_criu(),
        Case::new("criu_restore_foreground", restore_foreground).with_criu(),
        Case::new("criu_checkpoint_paused", checkpoint_paused).with_criu(),
        Case::new("criu_bad_image_path", bad_image_path).with_criu(),
        Case::new("criu_restore_stdio_pipes", stdio_pipes).with_criu(),
        Case::new("criu_restore_console_socket", console_socket).with_criu(),
        Case::new("criu_missing_criu", missing_criu).with_criu(),
        Case::wording("criu_failed_restore_names_criu_error", failed_restore_error).with_criu(),
        Case::wording("criu_refused_flags", refused_flags),
        Case::needs(
            "criu_systemd_restore_in_scope",
            Needs::Systemd(None),
            systemd_restore,
        )
        .with_criu(),
        Case::needs(
            "criu_systemd_failed_restore_leaves_nothing",
            Needs::Systemd(None),
            systemd_failed_restore,
        )
        .with_criu(),
        Case::corral(
            "criu_features_annotation",
            "corral's own features annotation for checkpoint/restore",
            features_annotation,
        )
        .with_criu(),
    ]
}

/// The counter's pids limit, which a restored container's cgroup must have again.
const PIDS_MAX: u32 = 57;

/// TCG emulation makes CRIU slow: generous limits for what is awaited.
const LIMIT: Duration = Duration::from_secs(60);

const COUNTER: &str = "exec </dev/null >/dev/null 2>&1; echo kept >/run/mark; i=0; \
                       while :; do i=$((i+1)); echo $i >>/count; usleep 50000; done";

/// A counter bundle, run detached as `id`; returns the bundle.
fn start_counter(cx: &mut Ctx, id: &str) -> Result<PathBuf, String> {
    start_counter_in(cx, id, None)
}

/// [`start_counter`] with `linux.cgroupsPath` set to `cgroups_path`.
fn start_counter_in(cx: &mut Ctx, id: &str, cgroups_path: Option<&str>) -> Result<PathBuf, String> {
    let mut cfg = config(&["sh", "-c", COUNTER]);
    if let Some(p) = cgroups_path {
        cfg["linux"]["cgroupsPath"] = serde_json::json!(p);
    }
    let host = cx.dir.join("shared");
    std::fs::create_dir_all(&host).map_err(|e| e.to_string())?;
    std::fs::write(host.join("hello"), "from the host\n").map_err(|e| e.to_string())?;
    let mounts = cfg["mounts"].as_array_mut().expect("config has mounts");
    mounts.push(
        serde_json::json!({ "destination": "/shared", "type": "bind",
        "source": host, "options": ["rbind", "ro"] }),
    );
    mounts.push(serde_json::json!({ "destination": "/run", "type": "tmpfs",
        "source": "tmpfs", "options": ["mode=755", "size=1m"] }));
    cfg["linux"]["maskedPaths"] = serde_json::json!(["/proc/kcore", "/proc/scsi"]);
    cfg["linux"]["resources"] = serde_json::json!({ "pids": { "limit": PIDS_MAX } });
    let b = cx.bundle(&cfg)?;
    for d in ["shared", "run"] {
        std::fs::create_dir_all(b.join("rootfs").join(d)).map_err(|e| e.to_string())?;
    }
    let bs = b.to_string_lossy().into_owned();
    cx.rt(&["run", "-d", "--bundle", &bs, id]).ok("run -d")?;
    cx.state(id)?;
    wait_count(&b, 3)?;
    Ok(b)
}

/// The numbers in the counter's file.
fn counts(b: &Path) -> Vec<u64> {
    std::fs::read_to_string(b.join("rootfs/count"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// Waits until the counter has written more than `n`; returns its last number.
fn wait_count(b: &Path, n: u64) -> Result<u64, String> {
    let start = Instant::now();
    loop {
        let last = counts(b).last().copied().unwrap_or(0);
        if last > n {
            return Ok(last);
        }
        if start.elapsed() > LIMIT {
            return Err(format!(
                "the counter stayed at {last}, wanted more than {n}"
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The file holds 1, 2, …, N without a gap or a restart.
fn unbroken(b: &Path) -> CaseResult {
    let c = counts(b);
    for (i, n) in c.iter().enumerate() {
        ensure!(
            *n == i as u64 + 1,
            "line {} of the counter is {n}, not {}: it did not continue where it was ({:?}…)",
            i + 1,
            i + 1,
            &c[i.saturating_sub(3)..(i + 3).min(c.len())]
        );
    }
    Ok(())
}

/// `o.ok(what)`, with the lines before CRIU's errors in `log` added on failure: the
/// guest's files are gone once it powers off.
fn ok_or_log(o: &crate::ctx::Out, what: &str, log: &Path) -> CaseResult {
    o.ok(what).map(|_| ()).map_err(|e| {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let last = lines
            .iter()
            .rposition(|l| l.contains("Error"))
            .unwrap_or(lines.len());
        let from = last.saturating_sub(25);
        format!(
            "{e}\n{}",
            lines[from..(last + 3).min(lines.len())].join("\n")
        )
    })
}

fn images(cx: &Ctx, name: &str) -> String {
    cx.dir.join(name).to_string_lossy().into_owned()
}

/// Restores `id` from `img` (detached) and checks that it runs and counts on past
/// `last`, with its mounts back.
fn restore_and_check(cx: &mut Ctx, b: &Path, img: &str, id: &str, last: u64) -> CaseResult {
    let bs = b.to_string_lossy().into_owned();
    let o = cx.rt(&["restore", "-d", "--image-path", img, "--bundle", &bs, id]);
    ok_or_log(&o, "restore -d", &Path::new(img).join("restore.log"))?;
    let st = cx.state(id)?;
    ensure!(
        st["status"] == "running",
        "after restore: status {}",
        st["status"]
    );
    let pid = st["pid"].as_i64().unwrap_or(0);
    ensure!(pid > 0, "after restore: pid {pid}");
    // runc 1.1.5 leaves a tree restored under a new id in the old id's cgroup (CRIU
    // makes it again from the images: /c1 for c2), without the new id's limits.
    if cx.is_corral {
        restored_cgroup(pid, id)?;
    }
    wait_count(b, last + 3)?;
    unbroken(b)?;
    let o = cx.rt(&[
        "exec",
        id,
        "sh",
        "-c",
        "cat /shared/hello /run/mark; wc -c </proc/kcore; \
        grep -c ' /run tmpfs' /proc/mounts",
    ]);
    o.ok("exec after restore")?;
    let want = "from the host\nkept\n0\n1\n";
    ensure!(
        o.stdout == want,
        "after restore, bind/tmpfs/mask: {:?}, want {want:?}",
        o.stdout
    );
    Ok(())
}

/// The restored init is in a cgroup of `id`'s own with the bundle's pids limit written
/// again: on cgroup v2, or in the v1 pids hierarchy (`--cgroup-v1` guest).
fn restored_cgroup(pid: i64, id: &str) -> CaseResult {
    let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    let v1 = own.lines().find_map(|l| {
        let (_, rest) = l.split_once(':')?;
        let (ctrl, path) = rest.split_once(':')?;
        ctrl.split(',').any(|c| c == "pids").then_some(path)
    });
    let (dir, path) = match v1 {
        Some(p) => ("/sys/fs/cgroup/pids", p),
        None => match own.lines().find_map(|l| l.strip_prefix("0::")) {
            Some(p) => ("/sys/fs/cgroup", p),
            None => return Err(format!("restored init {pid}: no pids cgroup in {own:?}")),
        },
    };
    ensure!(
        path.contains(id),
        "restored init {pid} is in cgroup {path}, not {id}'s"
    );
    let max = std::fs::read_to_string(format!("{dir}{path}/pids.max")).unwrap_or_default();
    ensure!(
        max.trim() == PIDS_MAX.to_string(),
        "cgroup {path}: pids.max {max:?} after restore, want {PIDS_MAX}"
    );
    Ok(())
}

fn continues(cx: &mut Ctx) -> CaseResult {
    let b = start_counter(cx, "c1")?;
    let img = images(cx, "img");
    cx.rt(&["checkpoint", "--image-path", &img, "c1"])
        .ok("checkpoint")?;
    ensure!(
        Path::new(&img).join("inventory.img").is_file(),
        "no inventory.img in {img}"
    );
    cx.rt(&["state", "c1"])
        .failed("state after checkpoint (the container is gone)")?;
    let last = counts(&b).last().copied().unwrap_or(0);
    restore_and_check(cx, &b, &img, "c1", last)?;
    cx.rt(&["delete", "--force", "c1"]).ok("delete")?;
    Ok(())
}

fn leave_running(cx: &mut Ctx) -> CaseResult {
    let b = start_counter(cx, "c1")?;
    let pid = cx.state("c1")?["pid"].clone();
    let img = images(cx, "img");
    let o = cx.rt(&["checkpoint", "--leave-running", "--image-path", &img, "c1"]);
    ok_or_log(
        &o,
        "checkpoint --leave-running",
        &Path::new(&img).join("dump.log"),
    )?;
    let st = cx.state("c1")?;
    ensure!(
        st["status"] == "running",
        "after --leave-running: {}",
        st["status"]
    );
    ensure!(st["pid"] == pid, "pid changed: {} then {}", pid, st["pid"]);
    let last = counts(&b).last().copied().unwrap_or(0);
    wait_count(&b, last + 3)?;
    unbroken(&b)?;
    ensure!(
        Path::new(&img).join("inventory.img").is_file(),
        "no inventory.img in {img}"
    );
    cx.rt(&["delete", "--force", "c1"]).ok("delete")?;
    Ok(())
}

fn pre_dump_then_dump(cx: &mut Ctx) -> CaseResult {
    let b = start_counter(cx, "c1")?;
    let pre = images(cx, "pre");
    cx.rt(&["checkpoint", "--pre-dump", "--image-path", &pre, "c1"])
        .ok("checkpoint --pre-dump")?;
    ensure!(
        cx.status("c1")? == "running",
        "a pre-dump stopped the container"
    );
    let last = counts(&b).last().copied().unwrap_or(0);
    wait_count(&b, last + 2)?;
    let img = images(cx, "img");
    let o = cx.rt(&[
        "checkpoint",
        "--parent-path",
        "../pre",
        "--image-path",
        &img,
        "c1",
    ]);
    o.ok("checkpoint --parent-path ../pre")?;
    let last = counts(&b).last().copied().unwrap_or(0);
    restore_and_check(cx, &b, &img, "c1", last)?;
    cx.rt(&["delete", "--force", "c1"]).ok("delete")?;
    Ok(())
}

fn restore_new_id(cx: &mut Ctx) -> CaseResult {
    let b = start_counter(cx, "c1")?;
    let img = images(cx, "img");
    cx.rt(&["checkpoint", "--image-path", &img, "c1"])
        .ok("checkpoint")?;
    let last = counts(&b).last().copied().unwrap_or(0);
    restore_and_check(cx, &b, &img, "c2", last)?;
    cx.rt(&["state", "c1"])
        .failed("state of the checkpointed id")?;
    cx.rt(&["delete", "--force", "c2"]).ok("delete")?;
    Ok(())
}

/// Without --detach, restore waits for the container like `run`: its exit status is the
/// container's (128+9 once SIGKILLed), and the container is gone after.
fn restore_foreground(cx: &mut Ctx) -> CaseResult {
    let b = start_counter(cx, "c1")?;
    let img = images(cx, "img");
    cx.rt(&["checkpoint", "--image-path", &img, "c1"])
        .ok("checkpoint")?;
    let last = counts(&b).last().copied().unwrap_or(0);
    let bs = b.to_string_lossy().into_owned();
    let (child, _) = cx.rt_spawn(&["restore", "--image-path", &img, "--bundle", &bs, "c1"])?;
    cx.wait_status_for("c1", "running", LIMIT)?;
    wait_count(&b, last + 3)?;
    unbroken(&b)?;
    cx.rt(&["kill", "c1", "KILL"]).ok("kill")?;
    let code = crate::ctx::wait_child(child)?;
    ensure!(
        code == 137,
        "foreground restore exited {code}, want 137 (SIGKILL)"
    );
    cx.rt(&["state", "c1"])
        .failed("state after the foreground restore ended")?;
    Ok(())
}

fn checkpoint_paused(cx: &mut Ctx) -> CaseResult {
    let b = start_counter(cx, "c1")?;
    cx.rt(&["pause", "c1"]).ok("pause")?;
    let img = images(cx, "img");
    cx.rt(&["checkpoint", "--image-path", &img, "c1"])
        .ok("checkpoint of a paused container")?;
    let last = counts(&b).last().copied().unwrap_or(0);
    let bs = b.to_string_lossy().into_owned();
    let o = cx.rt(&["restore", "-d", "--image-path", &img, "--bundle", &bs, "c1"]);
    o.ok("restore")?;
    // CRIU may give the tree back frozen, as it was dumped: thaw it then.
    if cx.status("c1")? == "paused" {
        cx.rt(&["resume", "c1"]).ok("resume")?;
    }
    wait_count(&b, last + 3)?;
    unbroken(&b)?;
    cx.rt(&["delete", "--force", "c1"]).ok("delete")?;
    Ok(())
}

fn bad_image_path(cx: &mut Ctx) -> CaseResult {
    let b = start_counter(cx, "c1")?;
    // A regular file where the image directory should be.
    let file = cx.dir.join("not-a-dir");
    std::fs::write(&file, "x").map_err(|e| e.to_string())?;
    let f = file.to_string_lossy().into_owned();
    let o = cx.rt(&["checkpoint", "--image-path", &f, "c1"]);
    o.failed("checkpoint --image-path FILE")?;
    ensure!(
        !o.stderr.trim().is_empty(),
        "checkpoint failed without a message"
    );
    ensure!(
        cx.status("c1")? == "running",
        "a failed checkpoint stopped the container"
    );
    cx.rt(&["delete", "--force", "c1"]).ok("delete")?;
    let bs = b.to_string_lossy().into_owned();
    let missing = images(cx, "missing");
    let o = cx.rt(&[
        "restore",
        "-d",
        "--image-path",
        &missing,
        "--bundle",
        &bs,
        "c2",
    ]);
    o.failed("restore --image-path MISSING")?;
    ensure!(
        !o.stderr.trim().is_empty(),
        "restore failed without a message"
    );
    cx.rt(&["state", "c2"])
        .failed("state after a failed restore")?;
    if cx.is_corral {
        ensure!(
            o.stderr.contains(&missing),
            "the error does not name the path: {}",
            o.stderr
        );
    }
    Ok(())
}

fn missing_criu(cx: &mut Ctx) -> CaseResult {
    let b = start_counter(cx, "c1")?;
    let img = images(cx, "img");
    let no_criu = |c: &mut std::process::Command| {
        c.env("PATH", "/nonexistent");
    };
    let o = cx.rt_with(&["checkpoint", "--image-path", &img, "c1"], no_criu);
    o.failed("checkpoint without criu")?;
    ensure!(
        o.stderr.contains("criu"),
        "the error does not name criu: {}",
        o.stderr
    );
    ensure!(
        cx.status("c1")? == "running",
        "a failed checkpoint stopped the container"
    );
    cx.rt(&["checkpoint", "--image-path", &img, "c1"])
        .ok("checkpoint")?;
    restore_fails(cx, &b, &img, "restore without criu", &["criu"], no_criu)
}

/// Images CRIU cannot restore (the process tree's image removed): the error is CRIU's
/// own, from its log, and nothing is left (the harness checks state, cgroups, mounts).
fn failed_restore_error(cx: &mut Ctx) -> CaseResult {
    let b = start_counter(cx, "c1")?;
    let img = images(cx, "img");
    cx.rt(&["checkpoint", "--image-path", &img, "c1"])
        .ok("checkpoint")?;
    std::fs::remove_file(Path::new(&img).join("pstree.img")).map_err(|e| e.to_string())?;
    let want = ["criu restore failed", "restore.log"];
    restore_fails(cx, &b, &img, "restore without pstree.img", &want, |_| {})
}

/// A restore of `c1` (with `setup` on its command) fails, its error says each of
/// `want`, and no container is left.
fn restore_fails(
    cx: &mut Ctx,
    b: &Path,
    img: &str,
    what: &str,
    want: &[&str],
    setup: impl FnOnce(&mut std::process::Command),
) -> CaseResult {
    let bs = b.to_string_lossy().into_owned();
    let yards = criu_yards();
    let o = cx.rt_with(
        &["restore", "-d", "--image-path", img, "--bundle", &bs, "c1"],
        setup,
    );
    o.failed(what)?;
    let left: Vec<String> = criu_yards().difference(&yards).cloned().collect();
    ensure!(
        left.is_empty(),
        "{what}: CRIU's mount namespace yard is left in /tmp: {left:?}"
    );
    for w in want {
        ensure!(
            o.stderr.contains(w),
            "{what}: the error does not say {w:?}: {}",
            o.stderr
        );
    }
    cx.rt(&["state", "c1"])
        .failed("state after a failed restore")?;
    Ok(())
}

/// CRIU's temporary directories for the restored mount namespace, `/tmp/.criu.mntns.*`.
fn criu_yards() -> std::collections::BTreeSet<String> {
    std::fs::read_dir("/tmp")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with(".criu.mntns."))
        .collect()
}

fn refused_flags(cx: &mut Ctx) -> CaseResult {
    let b = start_counter(cx, "c1")?;
    let img = images(cx, "img");
    for flag in [
        &["--lazy-pages"][..],
        &["--page-server", "127.0.0.1:1"],
        &["--status-fd", "3"],
    ] {
        let mut args = vec!["checkpoint", "--image-path", &img];
        args.extend_from_slice(flag);
        args.push("c1");
        let o = cx.rt(&args);
        o.failed(&format!("checkpoint {}", flag[0]))?;
        ensure!(
            o.stderr.contains(flag[0]),
            "{}: the error does not name it: {}",
            flag[0],
            o.stderr
        );
    }
    ensure!(
        cx.status("c1")? == "running",
        "a refused checkpoint stopped the container"
    );
    let bs = b.to_string_lossy().into_owned();
    for flag in [&["--no-pivot"][..], &["--leave-running"]] {
        let mut args = vec!["restore", "-d", "--image-path", &img, "--bundle", &bs];
        args.extend_from_slice(flag);
        args.push("c2");
        let o = cx.rt(&args);
        o.failed(&format!("restore {}", flag[0]))?;
        ensure!(
            o.stderr.contains(flag[0]),
            "{}: the error does not name it: {}",
            flag[0],
            o.stderr
        );
    }
    cx.rt(&["delete", "--force", "c1"]).ok("delete")?;
    Ok(())
}

/// With the systemd driver (the harness's `--systemd-cgroup`, in the systemd guest): the
/// counter, checkpointed, is restored into a transient scope of the driver's: its init in
/// the scope's cgroup, the pids limit in the cgroup and in the unit (TasksMax), `update`
/// going through systemd (the state records the driver), and `delete` leaving no unit.
fn systemd_restore(cx: &mut Ctx) -> CaseResult {
    let s = scope("criu-restore");
    let b = start_counter_in(cx, "c1", Some(&s.path))?;
    let img = images(cx, "img");
    let o = cx.rt(&["checkpoint", "--image-path", &img, "c1"]);
    ok_or_log(&o, "checkpoint", &Path::new(&img).join("dump.log"))?;
    gone(&s)?;
    let last = counts(&b).last().copied().unwrap_or(0);
    let bs = b.to_string_lossy().into_owned();
    let o = cx.rt(&["restore", "-d", "--image-path", &img, "--bundle", &bs, "c1"]);
    ok_or_log(&o, "restore -d", &Path::new(&img).join("restore.log"))?;
    ensure!(cx.status("c1")? == "running", "after restore: not running");
    let pid = crate::ctx::pid_of(&cx.state("c1")?).unwrap_or(0);
    in_scope(&s, pid)?;
    wait_count(&b, last + 3)?;
    unbroken(&b)?;
    scope_pids_max(&s, PIDS_MAX)?;
    cx.rt(&["update", "--pids-limit", "61", "c1"])
        .ok("update --pids-limit 61")?;
    scope_pids_max(&s, 61)?;
    cx.rt(&["delete", "--force", "c1"]).ok("delete")?;
    gone(&s)
}

/// The scope's pids limit, in its cgroup and as its unit's TasksMax.
fn scope_pids_max(s: &Scope, want: u32) -> CaseResult {
    let file = std::fs::read_to_string(s.dir.join("pids.max")).unwrap_or_default();
    let unit = show(&s.unit, "TasksMax");
    ensure!(
        file.trim() == want.to_string() && unit == want.to_string(),
        "{}: pids.max {:?}, TasksMax {unit:?}, want {want}",
        s.unit,
        file.trim()
    );
    Ok(())
}

/// With the systemd driver, a restore that fails leaves nothing: refused before anything
/// (no images there), failing once CRIU restored the tree into the scope (a pid file that
/// cannot be written: the tree must be killed and the unit stopped), or failing in CRIU
/// (images without their process tree): no unit, no cgroup, no state, no process (and no
/// mount: the harness checks).
fn systemd_failed_restore(cx: &mut Ctx) -> CaseResult {
    let s = scope("criu-failed");
    let b = start_counter_in(cx, "c1", Some(&s.path))?;
    let img = images(cx, "img");
    cx.rt(&["checkpoint", "--image-path", &img, "c1"])
        .ok("checkpoint")?;
    gone(&s)?;
    let missing = images(cx, "missing");
    restore_fails(
        cx,
        &b,
        &missing,
        "restore --image-path MISSING",
        &[],
        |_| {},
    )?;
    gone(&s)?;
    let bs = b.to_string_lossy().into_owned();
    let pid_file = cx
        .dir
        .join("no-such-dir/pid")
        .to_string_lossy()
        .into_owned();
    let args = [
        "restore",
        "-d",
        "--pid-file",
        &pid_file,
        "--image-path",
        &img,
        "--bundle",
        &bs,
        "c1",
    ];
    cx.rt(&args)
        .failed("restore --pid-file in a missing directory")?;
    cx.rt(&["state", "c1"])
        .failed("state after a failed restore")?;
    gone(&s)?;
    std::fs::remove_file(Path::new(&img).join("pstree.img")).map_err(|e| e.to_string())?;
    restore_fails(cx, &b, &img, "restore without pstree.img", &[], |_| {})?;
    gone(&s)
}

/// The annotation is there where CRIU works (the guest), and not without criu in $PATH.
fn features_annotation(cx: &mut Ctx) -> CaseResult {
    let key = "io.github.corral.checkpoint.enabled";
    let with = annotation(&cx.rt(&["features"]), key)?;
    ensure!(with == "true", "features: {key} is {with} where CRIU works");
    let o = cx.rt_with(&["features"], |c| {
        c.env("PATH", "/nonexistent");
    });
    let without = annotation(&o, key)?;
    ensure!(
        without.is_null(),
        "features: {key} is {without} without criu"
    );
    Ok(())
}

fn annotation(o: &crate::ctx::Out, key: &str) -> Result<serde_json::Value, String> {
    o.ok("features")?;
    let v: serde_json::Value = serde_json::from_str(&o.stdout).map_err(|e| e.to_string())?;
    Ok(v["annotations"][key].clone())
}

/// The numbers read from `r` (one a line) until `n` of them came or LIMIT passed.
fn read_numbers(r: &std::os::fd::OwnedFd, n: usize) -> Vec<u64> {
    let mut text = String::new();
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    while text.lines().count() <= n && start.elapsed() < LIMIT {
        let mut fds = [nix::poll::PollFd::new(
            std::os::fd::AsFd::as_fd(r),
            nix::poll::PollFlags::POLLIN,
        )];
        if nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(200u16)).unwrap_or(0) == 0 {
            continue;
        }
        match nix::unistd::read(std::os::fd::AsRawFd::as_raw_fd(r), &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(k) => text.push_str(&String::from_utf8_lossy(&buf[..k])),
        }
    }
    text.lines().filter_map(|l| l.trim().parse().ok()).collect()
}

/// `setup` for a runtime command whose stdio are pipes: `out` the write end of the
/// pipe the test reads, `input` the read end of one it never writes.
fn on_pipes(
    out: std::os::fd::OwnedFd,
    input: std::os::fd::OwnedFd,
) -> impl FnOnce(&mut std::process::Command) {
    move |c: &mut std::process::Command| {
        let err = out.try_clone().expect("dup the pipe");
        c.stdin(std::process::Stdio::from(input))
            .stdout(std::process::Stdio::from(out))
            .stderr(std::process::Stdio::from(err));
    }
}

/// A container whose stdio are pipes (as under an engine's conmon or shim): restored
/// with new pipes as the restore's stdio, it writes on into the new one, from where it
/// was (runc's descriptors.json and CRIU's --inherit-fd). Without that, the restored
/// shell writes to a pipe nobody reads and dies of SIGPIPE.
fn stdio_pipes(cx: &mut Ctx) -> CaseResult {
    let script = "i=0; while :; do i=$((i+1)); echo $i; usleep 50000; done";
    let b = cx.bundle(&config(&["sh", "-c", script]))?;
    let bs = b.to_string_lossy().into_owned();
    let id = "criueng-pipes";
    let (r1, w1) = nix::unistd::pipe().map_err(|e| e.to_string())?;
    let (in1, _keep1) = nix::unistd::pipe().map_err(|e| e.to_string())?;
    cx.rt_with(&["run", "-d", "--bundle", &bs, id], on_pipes(w1, in1))
        .ok("run -d on pipes")?;
    let before = read_numbers(&r1, 3);
    ensure!(before.len() >= 3, "before: the container wrote {before:?}");
    let img = images(cx, "img");
    let o = cx.rt(&["checkpoint", "--image-path", &img, id]);
    ok_or_log(&o, "checkpoint", &Path::new(&img).join("dump.log"))?;
    // The rest of the first pipe, up to its end (the dumped tree is gone).
    let mut before = before;
    before.extend(read_numbers(&r1, usize::MAX));
    let last = before.last().copied().unwrap_or(0);
    let (r2, w2) = nix::unistd::pipe().map_err(|e| e.to_string())?;
    let (in2, _keep2) = nix::unistd::pipe().map_err(|e| e.to_string())?;
    let o = cx.rt_with(
        &["restore", "-d", "--image-path", &img, "--bundle", &bs, id],
        on_pipes(w2, in2),
    );
    ok_or_log(
        &o,
        "restore -d on new pipes",
        &Path::new(&img).join("restore.log"),
    )?;
    let after = read_numbers(&r2, 3);
    cx.rt(&["delete", "--force", id]).ok("delete")?;
    ensure!(
        after.len() >= 3,
        "after restore the container wrote {after:?} on the new pipe (before: …{:?})",
        &before[before.len().saturating_sub(3)..]
    );
    let first = after[0];
    ensure!(
        first > 1 && first <= last + 1,
        "the restored counter wrote {first} first on the new pipe, the old one ended at {last}"
    );
    ensure!(
        after.windows(2).all(|w| w[1] == w[0] + 1),
        "the restored counter skipped: {after:?}"
    );
    Ok(())
}

/// A container with a terminal (`--console-socket`): restored with a new console socket,
/// it gets a new pty whose master arrives there, and the shell that was reading its
/// terminal reads the new one, with its variables as they were; /dev/console is the
/// new pty too.
fn console_socket(cx: &mut Ctx) -> CaseResult {
    use std::os::unix::net::UnixListener;
    let script = "n=0; echo tty=$(tty); while read line; do n=$((n+1)); echo got=$line n=$n; done";
    let mut cfg = config(&["sh", "-c", script]);
    cfg["process"]["terminal"] = serde_json::json!(true);
    let b = cx.bundle(&cfg)?;
    let bs = b.to_string_lossy().into_owned();
    let id = "criueng-tty";
    let sock1 = cx.dir.join("console1.sock");
    let listener1 = UnixListener::bind(&sock1).map_err(|e| format!("bind: {e}"))?;
    let s1 = sock1.to_string_lossy().into_owned();
    let (child, _) = cx.rt_spawn(&["run", "-d", "--console-socket", &s1, "--bundle", &bs, id])?;
    let master1 = super::terminal::receive_fd(&listener1);
    let code = crate::ctx::wait_child(child)?;
    let master1 = master1.map_err(|e| format!("run -d --console-socket (exit {code}): {e}"))?;
    ensure!(code == 0, "run -d with a console socket exited {code}");
    nix::unistd::write(&master1, b"one\n").map_err(|e| e.to_string())?;
    let out = super::terminal::read_until(&master1, "n=1");
    ensure!(out.contains("got=one n=1"), "before checkpoint: {out:?}");
    let img = images(cx, "img");
    let o = cx.rt(&["checkpoint", "--image-path", &img, id]);
    ok_or_log(&o, "checkpoint", &Path::new(&img).join("dump.log"))?;
    drop(master1);
    let sock2 = cx.dir.join("console2.sock");
    let listener2 = UnixListener::bind(&sock2).map_err(|e| format!("bind: {e}"))?;
    let s2 = sock2.to_string_lossy().into_owned();
    let args = [
        "restore",
        "-d",
        "--console-socket",
        &s2,
        "--image-path",
        &img,
        "--bundle",
        &bs,
        id,
    ];
    let (child, _) = cx.rt_spawn(&args)?;
    let master2 = super::terminal::receive_fd(&listener2);
    let code = crate::ctx::wait_child(child)?;
    if code != 0 {
        let log = Path::new(&img).join("restore.log");
        let o = cx.rt(&["state", id]);
        return ok_or_log(
            &crate::ctx::Out {
                code,
                stdout: String::new(),
                stderr: format!("restore -d --console-socket exited {code}; {}", o.stderr),
            },
            "restore",
            &log,
        );
    }
    let master2 = master2.map_err(|e| format!("restore --console-socket: {e}"))?;
    nix::unistd::write(&master2, b"two\n").map_err(|e| e.to_string())?;
    let out = super::terminal::read_until(&master2, "n=2");
    let o = cx.rt(&[
        "exec",
        id,
        "sh",
        "-c",
        "echo fd0=$(stat -L -c %t:%T /proc/1/fd/0); echo console=$(stat -c %t:%T /dev/console)",
    ]);
    cx.rt(&["delete", "--force", id]).ok("delete")?;
    ensure!(
        out.contains("got=two n=2"),
        "after restore, the shell did not answer on the new pty as before: {out:?}"
    );
    let seen = o.ok("exec after restore")?.stdout.clone();
    let fd0 = super::field(&seen, "fd0");
    ensure!(
        fd0.is_some_and(|t| t.starts_with("88:")) && fd0 == super::field(&seen, "console"),
        "after restore the init's stdin and /dev/console are not the same pty: {seen:?}"
    );
    Ok(())
}
