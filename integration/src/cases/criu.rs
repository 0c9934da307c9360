//! checkpoint and restore through CRIU. CRIU 3.17 does not run on the build host's
//! kernel: these cases run in the guest (`scripts/v2-guest.sh --criu --filter criu_`),
//! and the host's runs skip them.
//!
//! The container is a counter: it appends 1, 2, 3, … to /count in its rootfs, one line
//! every 50 ms, with its stdio on /dev/null (CRIU cannot dump fds on the harness's
//! files). A restored counter that continues where it was leaves one unbroken sequence
//! in the file; one that started again would write 1 a second time. It also has a bind
//! mount, a tmpfs and masked paths, which CRIU must get back as they were.

use super::ensure;
use crate::bundle::config;
use crate::ctx::Ctx;
use crate::{Case, CaseResult};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub fn cases() -> Vec<Case> {
    vec![
        Case::new("criu_checkpoint_restore_continues", continues),
        Case::new("criu_leave_running", leave_running),
        Case::new("criu_pre_dump_then_dump", pre_dump_then_dump),
        Case::new("criu_restore_new_id", restore_new_id),
        Case::new("criu_restore_foreground", restore_foreground),
        Case::new("criu_checkpoint_paused", checkpoint_paused),
        Case::new("criu_bad_image_path", bad_image_path),
        Case::new("criu_missing_criu", missing_criu),
        Case::wording("criu_failed_restore_names_criu_error", failed_restore_error),
        Case::wording("criu_refused_flags", refused_flags),
        Case::corral(
            "criu_features_annotation",
            "corral's own features annotation for checkpoint/restore",
            features_annotation,
        ),
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
    let mut cfg = config(&["sh", "-c", COUNTER]);
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

/// The restored init is in a cgroup of `id`'s own (cgroup v2, as in the guest) with
/// the bundle's pids limit written again.
fn restored_cgroup(pid: i64, id: &str) -> CaseResult {
    let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    let Some(path) = own.lines().find_map(|l| l.strip_prefix("0::")) else {
        return Ok(()); // cgroup v1: the guest's v2 run covers it.
    };
    ensure!(
        path.contains(id),
        "restored init {pid} is in cgroup {path}, not {id}'s"
    );
    let max = std::fs::read_to_string(format!("/sys/fs/cgroup{path}/pids.max")).unwrap_or_default();
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
    let o = cx.rt_with(
        &["restore", "-d", "--image-path", img, "--bundle", &bs, "c1"],
        setup,
    );
    o.failed(what)?;
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
    for flag in [
        &["--no-pivot"][..],
        &["--console-socket", "/nonexistent"],
        &["--leave-running"],
    ] {
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
