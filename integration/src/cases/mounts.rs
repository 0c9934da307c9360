//! Mount options as the container sees them: read-only binds with submounts, recursive
//! attributes, plain flags, propagation and remounts, read back from
//! /proc/self/mountinfo inside the container.

use super::fsutil::{mkdir, mount_at, mountinfo, push_mount, Mount, WRITE_PROBE};
use super::{ensure, field, run_script};
use crate::bundle::config;
use crate::ctx::Ctx;
use crate::{Case, CaseResult};
use serde_json::json;

pub fn cases() -> Vec<Case> {
    vec![
        Case::new("fs_rro_vs_ro_with_submount", rro_vs_ro),
        Case::new("fs_recursive_attributes_in_mountinfo", recursive_attributes),
        Case::new("fs_recursive_atime_set", recursive_atime_set),
        // runc 1.1.5 clears only the one atime bit: ratime and rnostrictatime fail with
        // EINVAL (attr_clr lacks MOUNT_ATTR__ATIME), rnorelatime does nothing.
        Case::runc11_lacks("fs_recursive_atime_cleared", "config.md mounts: the recursive options ratime, rnorelatime and rnostrictatime (mount_setattr(2) attr_clr)", recursive_atime_cleared),
        Case::new("fs_mount_flags_in_mountinfo", mount_flags),
        Case::new("fs_mount_flags_later_option_wins", later_option_wins),
        Case::new("fs_mount_propagation_options", propagation),
        Case::new("fs_remount_read_only", remount),
    ]
}

/// The options of the host tmpfs `src/flagged` of the recursive cases.
const FLAGGED: &str = "ro,nosuid,nodev,noexec,nodiratime,noatime,nosymfollow,size=1m";

/// `ro` on an rbind leaves submounts writable; `rro` makes them read-only too.
fn rro_vs_ro(cx: &mut Ctx) -> CaseResult {
    let src = cx.dir.join("src");
    cx.host_tmpfs(&src.join("sub"), "size=1m")?;
    let mut cfg = config(&[]);
    for (dest, ro) in [("/ro", "ro"), ("/rro", "rro")] {
        push_mount(
            &mut cfg,
            json!({ "destination": dest, "type": "bind", "source": src, "options": ["rbind", ro] }),
        );
    }
    let script = format!("{WRITE_PROBE} for d in /ro /ro/sub /rro /rro/sub; do w $d; done");
    let out = run_script(cx, cfg, &script)?;
    let erofs = |d: &str| {
        field(&out, &format!("w{d}")).is_some_and(|e| e.contains("Read-only file system"))
    };
    ensure!(
        field(&out, "w/ro/sub") == Some("ok"),
        "a submount of an `ro` rbind is not writable:\n{out}"
    );
    for d in ["/ro", "/rro", "/rro/sub"] {
        ensure!(erofs(d), "{d} is not read-only:\n{out}");
    }
    Ok(())
}

/// One rbind of `src` per recursive attribute; `src/plain` is a default tmpfs and
/// `src/flagged` one with every flag (FLAGGED).
fn recursive_binds(cx: &mut Ctx, attrs: &[&str]) -> Result<String, String> {
    let src = cx.dir.join("src");
    cx.host_tmpfs(&src.join("plain"), "size=1m")?;
    cx.host_tmpfs(&src.join("flagged"), FLAGGED)?;
    let mut cfg = config(&[]);
    for a in attrs {
        push_mount(
            &mut cfg,
            json!({ "destination": format!("/r-{a}"), "type": "bind", "source": src,
                    "options": ["rbind", a] }),
        );
    }
    run_script(cx, cfg, "cat /proc/self/mountinfo")
}

fn recursive_attributes(cx: &mut Ctx) -> CaseResult {
    let set = [
        ("rro", "ro"),
        ("rnosuid", "nosuid"),
        ("rnodev", "nodev"),
        ("rnoexec", "noexec"),
        ("rnodiratime", "nodiratime"),
        ("rnosymfollow", "nosymfollow"),
    ];
    // Each clearing attribute, its flag, and another flag of `flagged` that must stay.
    let clear = [
        ("rrw", "ro", "nosuid"),
        ("rsuid", "nosuid", "nodev"),
        ("rdev", "nodev", "noexec"),
        ("rexec", "noexec", "nosuid"),
        ("rdiratime", "nodiratime", "nosuid"),
        ("rsymfollow", "nosymfollow", "nosuid"),
    ];
    let attrs: Vec<&str> = set
        .iter()
        .map(|s| s.0)
        .chain(clear.iter().map(|c| c.0))
        .collect();
    let out = recursive_binds(cx, &attrs)?;
    for (attr, flag) in set {
        for point in [format!("/r-{attr}"), format!("/r-{attr}/plain")] {
            let m = mount_at(&out, &point)?;
            ensure!(m.has(flag), "{attr}: {point} lacks {flag}: {}", m.line);
        }
    }
    for (attr, flag, kept) in clear {
        let m = mount_at(&out, &format!("/r-{attr}/flagged"))?;
        ensure!(
            !m.has(flag),
            "{attr}: /r-{attr}/flagged still has {flag}: {}",
            m.line
        );
        ensure!(
            m.has(kept),
            "{attr}: /r-{attr}/flagged lost {kept} too (or is not the flagged tmpfs): {}",
            m.line
        );
    }
    Ok(())
}

/// Checks that `/r-<attr>/<sub>` shows relatime (or strictatime: neither relatime
/// nor noatime) for each (attr, relatime, subs) of `want`.
fn check_atime(out: &str, want: &[(&str, bool, &[&str])]) -> CaseResult {
    for (attr, relatime, subs) in want {
        for sub in *subs {
            let m = mount_at(out, &format!("/r-{attr}/{sub}"))?;
            ensure!(
                m.has("relatime") == *relatime && !m.has("noatime"),
                "{attr}: /r-{attr}/{sub} should be {}: {}",
                if *relatime { "relatime" } else { "strictatime" },
                m.line
            );
            if *sub == "flagged" {
                ensure!(
                    m.has("nodiratime"),
                    "{attr}: flagged lost nodiratime: {}",
                    m.line
                );
            }
        }
    }
    Ok(())
}

fn recursive_atime_set(cx: &mut Ctx) -> CaseResult {
    let out = recursive_binds(cx, &["rnoatime", "rstrictatime", "rrelatime"])?;
    let m = mount_at(&out, "/r-rnoatime/plain")?;
    ensure!(
        m.has("noatime"),
        "rnoatime: plain lacks noatime: {}",
        m.line
    );
    check_atime(
        &out,
        &[
            ("rstrictatime", false, &["plain", "flagged"]),
            ("rrelatime", true, &["flagged"]),
        ],
    )
}

/// corral takes ratime, rnostrictatime and rnorelatime as the kernel default, relatime
/// (what their plain forms give with mount(2)).
fn recursive_atime_cleared(cx: &mut Ctx) -> CaseResult {
    let out = recursive_binds(cx, &["ratime", "rnostrictatime", "rnorelatime"])?;
    check_atime(
        &out,
        &[
            ("ratime", true, &["plain", "flagged"]),
            ("rnostrictatime", true, &["plain", "flagged"]),
            ("rnorelatime", true, &["plain", "flagged"]),
        ],
    )
}

/// One tmpfs per flag, and a bind with `ro,nosuid`.
fn mount_flags(cx: &mut Ctx) -> CaseResult {
    let per_mount = [
        "ro",
        "nosuid",
        "nodev",
        "noexec",
        "noatime",
        "nodiratime",
        "nosymfollow",
        "relatime",
    ];
    let super_block = ["sync", "dirsync", "lazytime"];
    let host = cx.dir.join("hostdir");
    mkdir(&host)?;
    let mut cfg = config(&[]);
    let all = per_mount
        .iter()
        .chain(&super_block)
        .chain(&["strictatime", "mand", "nomand"]);
    for o in all {
        push_mount(
            &mut cfg,
            json!({ "destination": format!("/p-{o}"), "type": "tmpfs", "source": "tmpfs",
                    "options": [o, "size=1m"] }),
        );
    }
    push_mount(
        &mut cfg,
        json!({ "destination": "/b", "type": "bind", "source": host,
                "options": ["bind", "ro", "nosuid"] }),
    );
    let out = run_script(cx, cfg, "cat /proc/self/mountinfo")?;
    for o in per_mount {
        let m = mount_at(&out, &format!("/p-{o}"))?;
        ensure!(
            m.fstype == "tmpfs" && m.has(o),
            "/p-{o} lacks {o}: {}",
            m.line
        );
    }
    for o in super_block {
        let m = mount_at(&out, &format!("/p-{o}"))?;
        ensure!(
            m.super_has(o),
            "/p-{o} lacks {o} in the super options: {}",
            m.line
        );
    }
    let m = mount_at(&out, "/p-strictatime")?;
    ensure!(
        !m.has("relatime") && !m.has("noatime"),
        "/p-strictatime is not strictatime: {}",
        m.line
    );
    // The kernel no longer has mandatory locks: `mand`/`nomand` need only be accepted.
    for o in ["mand", "nomand"] {
        mount_at(&out, &format!("/p-{o}"))?;
    }
    let m = mount_at(&out, "/b")?;
    ensure!(
        m.has("ro") && m.has("nosuid"),
        "bind with ro,nosuid: {}",
        m.line
    );
    Ok(())
}

/// Pairs of options where the later one clears the earlier one; the reversed pair must
/// set the flag (so that ignoring both options does not pass).
fn later_option_wins(cx: &mut Ctx) -> CaseResult {
    // (set, clear, flag as shown, shown in the super options)
    let pairs = [
        ("ro", "rw", "ro", false),
        ("nosuid", "suid", "nosuid", false),
        ("nodev", "dev", "nodev", false),
        ("noexec", "exec", "noexec", false),
        ("noatime", "atime", "noatime", false),
        ("nosymfollow", "symfollow", "nosymfollow", false),
        ("nodiratime", "diratime", "nodiratime", false),
        ("sync", "async", "sync", true),
        ("lazytime", "nolazytime", "lazytime", true),
    ];
    let mut cfg = config(&[]);
    for (set, clear, _, _) in pairs {
        for (dest, opts) in [
            (format!("/c-{set}"), [set, clear]),
            (format!("/s-{set}"), [clear, set]),
        ] {
            push_mount(
                &mut cfg,
                json!({ "destination": dest, "type": "tmpfs", "source": "tmpfs", "options": opts }),
            );
        }
    }
    let out = run_script(cx, cfg, "cat /proc/self/mountinfo")?;
    for (set, clear, flag, sb) in pairs {
        let shows = |m: &Mount| if sb { m.super_has(flag) } else { m.has(flag) };
        let m = mount_at(&out, &format!("/c-{set}"))?;
        ensure!(
            !shows(&m),
            "[{set}, {clear}] still shows {flag}: {}",
            m.line
        );
        let m = mount_at(&out, &format!("/s-{set}"))?;
        ensure!(
            shows(&m),
            "[{clear}, {set}] does not show {flag}: {}",
            m.line
        );
    }
    ensure!(
        mount_at(&out, "/c-ro")?.has("rw"),
        "[ro, rw] is not rw:\n{out}"
    );
    Ok(())
}

fn propagation(cx: &mut Ctx) -> CaseResult {
    let mut cfg = config(&[]);
    for o in ["shared", "unbindable", "private"] {
        push_mount(
            &mut cfg,
            json!({ "destination": format!("/{o}"), "type": "tmpfs", "source": "tmpfs",
                    "options": [o] }),
        );
    }
    let out = run_script(cx, cfg, "cat /proc/self/mountinfo")?;
    let m = mount_at(&out, "/shared")?;
    ensure!(m.optional_has("shared:"), "`shared` tmpfs: {}", m.line);
    let m = mount_at(&out, "/unbindable")?;
    ensure!(
        m.optional_has("unbindable"),
        "`unbindable` tmpfs: {}",
        m.line
    );
    let m = mount_at(&out, "/private")?;
    ensure!(
        !m.optional_has("shared:") && !m.optional_has("master:"),
        "`private` tmpfs: {}",
        m.line
    );
    Ok(())
}

/// A tmpfs, then a second entry at the same destination with `remount,ro`.
fn remount(cx: &mut Ctx) -> CaseResult {
    let mut cfg = config(&[]);
    push_mount(
        &mut cfg,
        json!({ "destination": "/x", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"] }),
    );
    push_mount(
        &mut cfg,
        json!({ "destination": "/x", "type": "tmpfs", "source": "tmpfs",
                "options": ["remount", "ro"] }),
    );
    let script = format!("{WRITE_PROBE} w /x; cat /proc/self/mountinfo");
    let out = run_script(cx, cfg, &script)?;
    let m = mount_at(&out, "/x")?;
    ensure!(
        m.fstype == "tmpfs" && m.has("ro"),
        "/x after remount,ro: {}",
        m.line
    );
    ensure!(
        field(&out, "w/x").is_some_and(|e| e.contains("Read-only file system")),
        "/x is writable after remount,ro:\n{out}"
    );
    let tmpfs_at_x = mountinfo(&out).iter().filter(|m| m.point == "/x").count();
    ensure!(
        tmpfs_at_x == 1,
        "remount mounted a second tmpfs at /x:\n{out}"
    );
    Ok(())
}
