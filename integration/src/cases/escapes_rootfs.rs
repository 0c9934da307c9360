//! Known runtime escapes through a hostile rootfs (runc's CVEs and their kin): symlinks
//! and fake files put where the runtime mounts or writes, each checked from the host
//! and from inside the container.

use super::errors::refused_bundle;
use super::fsutil::{mount_at, mountinfo, push_mount, symlink, write};
use super::{ensure, field};
use crate::bundle::config;
use crate::ctx::{wait_child, Ctx};
use crate::{Case, CaseResult, Needs, RUNC_1_1};
use serde_json::json;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::time::{Duration, Instant};

pub fn cases() -> Vec<Case> {
    vec![
        Case::new(
            "escape_notify_dir_through_symlinked_run",
            notify_dir_symlinked,
        ),
        Case::new("escape_proc_volume_with_fake_attr", proc_volume),
        Case::new("escape_proc_symlink_in_rootfs", proc_symlink),
        // runc 1.1.5 binds the link's target (fixed in runc 1.2.8, 1.3.3 and 1.4.0).
        Case::needs(
            "escape_masked_path_through_dev_null_symlink",
            Needs::Behaviour {
                spec: "config-linux.md maskedPaths: \"mask over the provided paths inside \
                       the container so that they cannot be read\" (CVE-2025-31133)",
                lacking: RUNC_1_1,
            },
            dev_null_symlink,
        ),
        Case::new("escape_mount_target_symlink_exchange", symlink_exchange),
    ]
}

/// The names a directory holds, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|r| {
            r.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// With NOTIFY_SOCKET the runtime binds a directory of its own over /run/notify in the
/// container. A hostile rootfs makes /run (absolute link to a host directory) or
/// /run/notify (a `../` chain out of the rootfs) point outside it: the bind and the
/// directories made for it must land inside the rootfs, where the container finds its
/// socket by following its own link, and nothing may appear in the host directory.
/// Resolved on the host's side of the link, the runtime would make `notify` there and
/// the container would find no socket. (`create`, then `start` answered with READY
/// from the host: runc 1.1.5's foreground `run` waits for READY even after the
/// container's process is gone.)
fn notify_dir_symlinked(cx: &mut Ctx) -> CaseResult {
    let host_sock = cx.dir.join("host-notify.sock");
    let _sock = UnixDatagram::bind(&host_sock).map_err(|e| format!("bind {host_sock:?}: {e}"))?;
    let outside = cx.dir.join("outside-secpaths");
    write(&outside.join("marker"), "host")?;
    let abs = outside.to_string_lossy().into_owned();
    let up = format!("../../../../../../../../../..{abs}");
    let script = "echo type=$(stat -c %F /run/notify/notify.sock 2>&1); sleep 1000";
    // (link in the rootfs, its target, where the bind lands inside the rootfs)
    let setups = [
        ("run", abs.clone(), format!("{abs}/notify")),
        ("run/notify", up, abs.clone()),
    ];
    for (i, (link, target, lands)) in setups.iter().enumerate() {
        let b = cx.bundle(&config(&["sh", "-c", script]))?;
        let rootfs = b.join("rootfs");
        if let Some(parent) = Path::new(link).parent().filter(|p| *p != Path::new("")) {
            std::fs::create_dir_all(rootfs.join(parent)).map_err(|e| e.to_string())?;
        }
        symlink(target, &rootfs.join(link))?;
        let id = format!("secpaths-notify{i}");
        let env = |c: &mut std::process::Command| {
            c.env("NOTIFY_SOCKET", &host_sock);
        };
        let (create, out) =
            cx.rt_spawn_with(&["create", "--bundle", &b.to_string_lossy(), &id], env)?;
        let code = wait_child(create)?;
        let left = names(&outside);
        ensure!(
            left == ["marker"],
            "/{link} -> {target}: the host directory {abs} got {left:?}"
        );
        ensure!(code == 0, "create with /{link} -> {target} exited {code}");
        let pid = cx.state(&id)?["pid"].as_i64().unwrap_or_default();
        // Mount points as the container sees them (relative to its root).
        let mounts = std::fs::read_to_string(format!("/proc/{pid}/mountinfo"))
            .map_err(|e| format!("read the container's mountinfo: {e}"))?;
        mount_at(&mounts, lands)?;
        ensure!(
            rootfs.join(lands.trim_start_matches('/')).is_dir(),
            "/{link} -> {target}: {lands} was not made inside the rootfs"
        );
        let (start, _) = cx.rt_spawn_with(&["start", &id], env)?;
        // Through an fd of the directory: the whole path is longer than a socket
        // address may be.
        let inside = format!("/proc/{pid}/root{lands}");
        let dir = std::fs::File::open(&inside).map_err(|e| format!("open {inside}: {e}"))?;
        let via = format!("/proc/self/fd/{}/notify.sock", dir.as_raw_fd());
        let printed = || std::fs::read_to_string(&out).unwrap_or_default();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !printed().contains("type=") && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let sent = UnixDatagram::unbound().and_then(|c| c.send_to(b"READY=1", &via));
        if let Err(e) = sent {
            let _ = wait_child(start);
            return Err(format!("send READY to {inside}/notify.sock: {e}"));
        }
        ensure!(wait_child(start)? == 0, "start of {id} failed");
        ensure!(
            field(&printed(), "type") == Some("socket"),
            "/{link} -> {target}: the container has no socket at /run/notify/notify.sock:\n{}",
            printed()
        );
        cx.rt(&["delete", "--force", &id]).ok("delete")?;
    }
    Ok(())
}

/// CVE-2019-16884 (and its return, CVE-2023-27561): an image declares a volume at
/// /proc, filled with a fake tree (`self/attr/exec` a plain file), so the runtime's
/// write of the AppArmor label lands in a file and the process runs unconfined. The
/// bind over /proc must be refused, whatever the label: only a procfs goes there.
fn proc_volume(cx: &mut Ctx) -> CaseResult {
    let fake = cx.dir.join("fake-proc-secpaths");
    for f in ["self/attr/exec", "self/attr/current", "self/status"] {
        write(&fake.join(f), "")?;
    }
    let mut cfg = config(&["cat", "/proc/self/attr/exec"]);
    push_mount(
        &mut cfg,
        json!({ "destination": "/proc", "type": "bind", "source": fake, "options": ["rbind"] }),
    );
    let b = cx.bundle(&cfg)?;
    refused_bundle(cx, &b.to_string_lossy(), "/proc")
}

/// CVE-2023-28642: the rootfs makes /proc a link to another directory; a procfs mounted
/// "on /proc" then lands there, and what the config mounts below /proc (here a tmpfs
/// over /proc/sys, as an image volume would be) is checked against the link's path,
/// not /proc, and covers procfs files that the rules keep uncovered. The runtime must
/// refuse the symlinked /proc (runc since 1.1.5), so nothing is mounted through it.
fn proc_symlink(cx: &mut Ctx) -> CaseResult {
    let mut cfg = config(&["sh", "-c", "cat /proc/self/mountinfo"]);
    push_mount(
        &mut cfg,
        json!({ "destination": "/proc/sys", "type": "tmpfs", "source": "tmpfs" }),
    );
    let b = cx.bundle(&cfg)?;
    let rootfs = b.join("rootfs");
    std::fs::remove_dir(rootfs.join("proc")).map_err(|e| e.to_string())?;
    std::fs::create_dir(rootfs.join("fakeproc")).map_err(|e| e.to_string())?;
    symlink("/fakeproc", &rootfs.join("proc"))?;
    let o = cx.rt(&["run", "--bundle", &b.to_string_lossy(), "secpaths-proc"]);
    let over_sys = mountinfo(&o.stdout)
        .into_iter()
        .any(|m| m.point == "/fakeproc/sys" && m.fstype == "tmpfs");
    ensure!(
        !over_sys,
        "a tmpfs covers the procfs's sys through the /proc link:\n{}",
        o.stdout
    );
    o.failed("run with /proc a symlink")?;
    if cx.is_corral {
        ensure!(
            o.stderr.contains("/proc") && o.stderr.contains("symbolic link"),
            "the error does not say /proc is a symbolic link: {}",
            o.stderr.trim()
        );
    }
    cx.rt(&["state", "secpaths-proc"])
        .failed("state of a container whose run failed")?;
    Ok(())
}

/// CVE-2025-31133: masking binds /dev/null over each masked file; with /dev/null a
/// link (here /dev is an image volume holding `null -> /secret`), a runtime that
/// follows it binds the link's target instead, readable and writable where the config
/// asked for nothing. The runtime must refuse to mask with it (or mask with a real
/// null device): the masked file must never show the target's content.
fn dev_null_symlink(cx: &mut Ctx) -> CaseResult {
    let fake_dev = cx.dir.join("fake-dev-secpaths");
    std::fs::create_dir_all(&fake_dev).map_err(|e| e.to_string())?;
    symlink("/secret", &fake_dev.join("null"))?;
    let mut cfg = config(&["sh", "-c", "echo masked=$(cat /masked 2>&1)"]);
    cfg["linux"]["maskedPaths"] = json!(["/masked"]);
    push_mount(
        &mut cfg,
        json!({ "destination": "/dev", "type": "bind", "source": fake_dev, "options": ["rbind"] }),
    );
    let b = cx.bundle(&cfg)?;
    write(&b.join("rootfs/secret"), "pwned")?;
    write(&b.join("rootfs/masked"), "hidden")?;
    let o = cx.rt(&["run", "--bundle", &b.to_string_lossy(), "secpaths-null"]);
    ensure!(
        !o.stdout.contains("pwned"),
        "the masked file shows /dev/null's link target: {}",
        o.stdout
    );
    if o.code == 0 {
        // A runtime that masks with a real null device instead.
        ensure!(
            field(&o.stdout, "masked") == Some(""),
            "/masked is not masked: {}",
            o.stdout
        );
        return Ok(());
    }
    if cx.is_corral {
        ensure!(
            o.stderr.contains("/dev/null"),
            "the error does not name /dev/null: {}",
            o.stderr.trim()
        );
    }
    Ok(())
}

/// CVE-2021-30465: while the runtime makes a container's mounts, another process (a
/// container sharing a volume with it) keeps exchanging a directory on the mount
/// targets' path with a symlink to a host directory. A runtime that checks the path and
/// then mounts by path can be made to mount onto the host directory. Every mount must
/// land inside the rootfs (on the directory, or where the symlink points inside the
/// rootfs), so the container sees all of them; a run may fail, never escape.
fn symlink_exchange(cx: &mut Ctx) -> CaseResult {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    const MOUNTS: usize = 16;
    const RUNS: usize = 6;
    let host = cx.dir.join("host-secpaths");
    let host_s = host.to_string_lossy().into_owned();
    let mut cfg = config(&["cat", "/proc/self/mountinfo"]);
    for i in 0..MOUNTS {
        push_mount(
            &mut cfg,
            json!({ "destination": format!("/race/d/x{i}"), "type": "tmpfs",
                    "source": "secpaths-race", "options": ["size=16k"] }),
        );
    }
    let b = cx.bundle(&cfg)?;
    let race = b.join("rootfs/race");
    // Every target exists in the directory, in the host directory and where the link
    // points inside the rootfs: whichever way a lookup goes, it finds one.
    for i in 0..MOUNTS {
        for dir in [
            race.join("d"),
            host.clone(),
            b.join("rootfs").join(&host_s[1..]),
        ] {
            std::fs::create_dir_all(dir.join(format!("x{i}"))).map_err(|e| e.to_string())?;
        }
    }
    symlink(&host_s, &race.join("l"))?;
    let (d, l) = (
        std::ffi::CString::new(race.join("d").as_os_str().as_encoded_bytes()).unwrap(),
        std::ffi::CString::new(race.join("l").as_os_str().as_encoded_bytes()).unwrap(),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut swaps = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // SAFETY: renameat2 with two valid C strings.
                let r = unsafe {
                    libc::renameat2(
                        libc::AT_FDCWD,
                        d.as_ptr(),
                        libc::AT_FDCWD,
                        l.as_ptr(),
                        libc::RENAME_EXCHANGE,
                    )
                };
                if r == 0 {
                    swaps += 1;
                }
            }
            swaps
        })
    };
    let mut results = vec![];
    for run in 0..RUNS {
        let id = format!("secpaths-race{run}");
        results.push(cx.rt(&["run", "--bundle", &b.to_string_lossy(), &id]));
    }
    stop.store(true, Ordering::Relaxed);
    let swaps = swapper.join().map_err(|_| "the swapping thread panicked")?;
    ensure!(swaps > 0, "the directory and the link were never exchanged");
    let mut ran = 0;
    for (run, o) in results.iter().enumerate() {
        if o.code != 0 {
            continue;
        }
        ran += 1;
        let seen = o
            .stdout
            .lines()
            .filter(|l| l.contains(" - tmpfs secpaths-race "))
            .count();
        ensure!(
            seen == MOUNTS,
            "run {run}: the container sees {seen} of its {MOUNTS} mounts (the others went \
             through the link to the host):\n{}",
            o.stdout
        );
    }
    // A runtime that refuses every run under the swap lets nothing escape, which is what
    // the case checks; but corral must mount at least once under the race, so that the
    // case cannot pass for it by refusing. runc 1.1.5 sometimes refuses all six runs
    // ("readlink …: invalid argument"), seen in CI.
    ensure!(
        ran > 0 || !cx.is_corral,
        "no run succeeded: {}",
        results[0].stderr.trim()
    );
    let left = names(&host);
    ensure!(
        left.len() == MOUNTS,
        "the host directory {host_s} got {left:?}"
    );
    Ok(())
}
