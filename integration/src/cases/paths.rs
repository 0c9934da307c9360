//! Paths in the rootfs: symlinks in mount destinations must not lead out of it,
//! masked and read-only paths, and linux.devices.

use super::errors::refused_bundle;
use super::fsutil::{
    host_mount_points, mount_at, push_mount, run_bundle, script_bundle, symlink, with_userns,
    write, WRITE_PROBE,
};
use super::{ensure, field, run_script};
use crate::bundle::config;
use crate::ctx::Ctx;
use crate::{Case, CaseResult};
use serde_json::json;
use std::path::Path;

pub fn cases() -> Vec<Case> {
    vec![
        Case::new(
            "fs_symlinked_destinations_stay_in_rootfs",
            symlinked_destinations,
        ),
        // runtime-spec 1.2 deprecated relative destinations but keeps them valid.
        Case::new(
            "fs_relative_destination_is_under_root",
            relative_destination,
        ),
        Case::new("fs_masked_and_readonly_paths", masked_and_readonly),
        Case::corral(
            "fs_masked_dirs_share_one_tmpfs",
            "masked directories share one read-only tmpfs",
            masked_dirs_share_tmpfs,
        ),
        Case::corral(
            "fs_masked_paths_need_a_real_dev_null",
            "masking refused with a /dev/null that is not the null device",
            fake_dev_null,
        ),
        Case::new("fs_linux_devices", devices),
        Case::new("fs_linux_devices_in_user_namespace", devices_in_userns),
    ]
}

/// A relative destination is relative to the container's `/`, and its `..` stays there.
fn relative_destination(cx: &mut Ctx) -> CaseResult {
    let mut cfg = config(&[]);
    push_mount(
        &mut cfg,
        json!({ "destination": "relative/dir", "type": "tmpfs", "source": "tmpfs" }),
    );
    push_mount(
        &mut cfg,
        json!({ "destination": "../../rel-up", "type": "tmpfs", "source": "tmpfs" }),
    );
    let out = run_script(cx, cfg, "cat /proc/self/mountinfo")?;
    for point in ["/relative/dir", "/rel-up"] {
        let m = mount_at(&out, point)?;
        ensure!(m.fstype == "tmpfs", "{point} is not a tmpfs: {out}");
    }
    Ok(())
}

/// Mounts under `etcl -> /`, `up -> ../../..…` and `/../../..` land in the rootfs, and
/// so does one under `link -> /tmp`: nothing is made or mounted on the host.
fn symlinked_destinations(cx: &mut Ctx) -> CaseResult {
    let tag = std::process::id();
    let names = [1, 2, 3].map(|i| format!("escape{i}-conformance-{tag}"));
    let x = format!("x-conformance-{tag}");
    let host_paths: Vec<String> = names
        .iter()
        .map(|n| format!("/{n}"))
        .chain([format!("/tmp/{x}")])
        .collect();
    for p in &host_paths {
        ensure!(
            !Path::new(p).exists(),
            "{p} exists on the host before the run"
        );
    }
    let mut cfg = config(&[]);
    let dests = [
        format!("/etcl/{}", names[0]),
        format!("/up/{}", names[1]),
        format!("/../../../{}", names[2]),
        format!("/link/{x}"),
    ];
    for d in &dests {
        push_mount(
            &mut cfg,
            json!({ "destination": d, "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"] }),
        );
    }
    let b = script_bundle(cx, cfg, "cat /proc/self/mountinfo")?;
    let rootfs = b.join("rootfs");
    symlink("/", &rootfs.join("etcl"))?;
    symlink(&"../".repeat(12), &rootfs.join("up"))?;
    symlink("/tmp", &rootfs.join("link"))?;
    let out = run_bundle(cx, &b, "c1");
    // Host checks first, whatever the run did; remove what escaped (empty dirs only).
    let escaped: Vec<&String> = host_paths
        .iter()
        .filter(|p| Path::new(p).exists())
        .collect();
    for p in &escaped {
        let _ = std::fs::remove_dir(p);
    }
    ensure!(escaped.is_empty(), "made on the host: {escaped:?}");
    let mounted: Vec<String> = host_mount_points()
        .into_iter()
        .filter(|m| names.iter().chain([&x]).any(|n| m.ends_with(n.as_str())))
        .collect();
    ensure!(mounted.is_empty(), "mounted on the host: {mounted:?}");
    let out = out?;
    for point in names
        .iter()
        .map(|n| format!("/{n}"))
        .chain([format!("/tmp/{x}")])
    {
        let m = mount_at(&out, &point)?;
        ensure!(m.fstype == "tmpfs", "{point}: {}", m.line);
        let in_rootfs = rootfs.join(&point[1..]);
        ensure!(
            in_rootfs.is_dir(),
            "{} was not made in the rootfs",
            in_rootfs.display()
        );
    }
    Ok(())
}

fn masked_and_readonly(cx: &mut Ctx) -> CaseResult {
    let mut cfg = config(&[]);
    cfg["linux"]["maskedPaths"] = json!(["/secret-file", "/secret-dir", "/does-not-exist"]);
    cfg["linux"]["readonlyPaths"] = json!(["/ro-dir"]);
    let script = format!(
        "{WRITE_PROBE} echo \"file=[$(cat /secret-file)]\"; echo \"dir=[$(ls -A /secret-dir)]\"; \
         echo rofile=$(cat /ro-dir/file); w /ro-dir; w /"
    );
    let b = script_bundle(cx, cfg, &script)?;
    let rootfs = b.join("rootfs");
    write(&rootfs.join("secret-file"), "s3cret")?;
    write(&rootfs.join("secret-dir/inner"), "hidden")?;
    write(&rootfs.join("ro-dir/file"), "visible")?;
    let out = run_bundle(cx, &b, "c1")?;
    ensure!(field(&out, "file") == Some("[]"), "masked file:\n{out}");
    ensure!(field(&out, "dir") == Some("[]"), "masked directory:\n{out}");
    ensure!(
        field(&out, "rofile") == Some("visible"),
        "read-only dir content:\n{out}"
    );
    ensure!(
        field(&out, "w/ro-dir").is_some_and(|e| e.contains("Read-only file system")),
        "/ro-dir is writable:\n{out}"
    );
    ensure!(
        field(&out, "w/") == Some("ok"),
        "the root is not writable:\n{out}"
    );
    Ok(())
}

/// corral masks all directories with one read-only tmpfs.
fn masked_dirs_share_tmpfs(cx: &mut Ctx) -> CaseResult {
    let mut cfg = config(&[]);
    cfg["linux"]["maskedPaths"] = json!(["/m1", "/m2"]);
    let script = "for d in m1 m2; do echo $d=$(stat -c %d /$d) \"[$(ls -A /$d)]\"; done; \
                  echo root=$(stat -c %d /); cat /proc/self/mountinfo";
    let b = script_bundle(cx, cfg, script)?;
    write(&b.join("rootfs/m1/a"), "a")?;
    write(&b.join("rootfs/m2/b"), "b")?;
    let out = run_bundle(cx, &b, "c1")?;
    let (m1, m2) = (field(&out, "m1"), field(&out, "m2"));
    let root = field(&out, "root").unwrap_or_default();
    ensure!(
        m1.is_some_and(|m| m.ends_with(" []") && !m.starts_with(&format!("{root} "))),
        "/m1 not masked:\n{out}"
    );
    ensure!(
        m1 == m2,
        "/m1 and /m2 on different devices (or not both masked):\n{out}"
    );
    ensure!(
        mount_at(&out, "/m1")?.fstype == "tmpfs",
        "/m1 is not a tmpfs:\n{out}"
    );
    Ok(())
}

/// Masking a file binds /dev/null over it: a /dev/null that is a regular file (here a
/// bind of one) would show its content instead, so create must refuse.
fn fake_dev_null(cx: &mut Ctx) -> CaseResult {
    let fake = cx.dir.join("fake-null");
    write(&fake, "not null")?;
    let mut cfg = config(&["true"]);
    cfg["linux"]["maskedPaths"] = json!(["/secret-file"]);
    push_mount(
        &mut cfg,
        json!({ "destination": "/dev/null", "type": "bind", "source": fake, "options": ["bind"] }),
    );
    let b = cx.bundle(&cfg)?;
    write(&b.join("rootfs/secret-file"), "s3cret")?;
    refused_bundle(cx, &b.to_string_lossy(), "/dev/null")
}

fn devices(cx: &mut Ctx) -> CaseResult {
    let mut cfg = config(&[]);
    // Read /dev/mydev (mode 640) as its owner: the process has no CAP_DAC_OVERRIDE.
    cfg["process"]["user"] = json!({ "uid": 1000, "gid": 1001 });
    cfg["linux"]["devices"] = json!([
        { "path": "/dev/mydev", "type": "c", "major": 1, "minor": 5, "fileMode": 0o640,
          "uid": 1000, "gid": 1001 },
        { "path": "/dev/blk0", "type": "b", "major": 7, "minor": 0, "fileMode": 0o600 },
        { "path": "/dev/myfifo", "type": "p" }
    ]);
    let script =
        "for d in mydev blk0 myfifo; do echo $d=$(stat -c '%F %t %T %a %u %g' /dev/$d); done; \
                  echo zero=$(head -c 4 /dev/mydev | od -An -tx1)";
    let out = run_script(cx, cfg, script)?;
    let want = [
        ("mydev", "character special file 1 5 640 1000 1001"),
        ("blk0", "block special file 7 0 600 0 0"),
    ];
    for (d, w) in want {
        ensure!(field(&out, d) == Some(w), "/dev/{d} (want {w}):\n{out}");
    }
    ensure!(
        field(&out, "myfifo").is_some_and(|f| f.starts_with("fifo ")),
        "/dev/myfifo:\n{out}"
    );
    ensure!(
        field(&out, "zero").map(str::trim) == Some("00 00 00 00"),
        "/dev/mydev (1:5) does not read zeros:\n{out}"
    );
    Ok(())
}

/// In a user namespace the runtime cannot mknod: the node is bound from the host.
fn devices_in_userns(cx: &mut Ctx) -> CaseResult {
    let mut cfg = config(&[]);
    with_userns(&mut cfg, 100000);
    cfg["linux"]["devices"] =
        json!([{ "path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11 }]);
    let out = run_script(cx, cfg, "echo kmsg=$(stat -c '%F %t %T' /dev/kmsg)")?;
    ensure!(
        field(&out, "kmsg") == Some("character special file 1 b"),
        "/dev/kmsg (want char 1:11):\n{out}"
    );
    Ok(())
}
