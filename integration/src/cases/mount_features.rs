//! Mount features beyond flags: tmpcopyup, idmapped binds, and every option that
//! `features` lists.

use super::fsutil::{
    chown, chown_tree, mkdir, mount_at, push_mount, run_bundle, script_bundle, symlink,
    with_userns, write, WRITE_PROBE,
};
use super::{ensure, field, run_script};
use crate::bundle::config;
use crate::ctx::Ctx;
use crate::Feature;
use crate::{Case, CaseResult};
use serde_json::{json, Value};

pub fn cases() -> Vec<Case> {
    vec![
        Case::new("fs_tmpcopyup", tmpcopyup),
        // runc 1.1.5 has no idmapped mounts (`idmap` and mount uidMappings are ignored).
        Case::feature("fs_idmap_mount_with_mappings", Feature::IdmapMounts, idmap_with_mappings),
        Case::feature("fs_idmap_mount_in_user_namespace", Feature::IdmapMounts, idmap_in_userns),
        // runc 1.1.5 lists `defaults` but passes it to a tmpfs as data: EINVAL.
        Case::runc11_lacks("fs_features_mount_options_all_work", "features.md mountOptions: the mount options the runtime recognizes (`defaults` on a tmpfs)", features_options),
    ]
}

/// A tmpfs with `tmpcopyup` over a rootfs directory starts with its content.
fn tmpcopyup(cx: &mut Ctx) -> CaseResult {
    let mut cfg = config(&[]);
    push_mount(
        &mut cfg,
        json!({ "destination": "/etc/conf-dir", "type": "tmpfs", "source": "tmpfs",
                "options": ["tmpcopyup", "size=1m"] }),
    );
    let d = "/etc/conf-dir";
    let script = format!(
        "{WRITE_PROBE} echo file=$(cat {d}/file); echo inner=$(cat {d}/sub/inner); \
         echo link=$(readlink {d}/sub/link); echo via=$(cat {d}/sub/link); w {d}; \
         cat /proc/self/mountinfo"
    );
    let b = script_bundle(cx, cfg, &script)?;
    let conf = b.join("rootfs/etc/conf-dir");
    write(&conf.join("file"), "hello")?;
    write(&conf.join("sub/inner"), "inner")?;
    symlink("../file", &conf.join("sub/link"))?;
    let out = run_bundle(cx, &b, "c1")?;
    ensure!(field(&out, "file") == Some("hello"), "{d}/file:\n{out}");
    ensure!(
        field(&out, "inner") == Some("inner"),
        "{d}/sub/inner:\n{out}"
    );
    ensure!(
        field(&out, "link") == Some("../file"),
        "{d}/sub/link:\n{out}"
    );
    ensure!(
        field(&out, "via") == Some("hello"),
        "through {d}/sub/link:\n{out}"
    );
    ensure!(
        field(&out, "w/etc/conf-dir") == Some("ok"),
        "{d} not writable:\n{out}"
    );
    let m = mount_at(&out, d)?;
    ensure!(m.fstype == "tmpfs", "{d} is not a tmpfs: {}", m.line);
    ensure!(
        !conf.join(".probe").exists(),
        "the write went to the rootfs, not the tmpfs"
    );
    Ok(())
}

/// `idsrc` with `a` owned by 0:0 and `b` by 1000:1000.
fn id_source(cx: &mut Ctx) -> Result<std::path::PathBuf, String> {
    let src = cx.dir.join("idsrc");
    write(&src.join("a"), "a")?;
    write(&src.join("b"), "b")?;
    chown(&src.join("a"), 0, 0)?;
    chown(&src.join("b"), 1000, 1000)?;
    Ok(src)
}

const STAT_AB: &str = "for f in a b; do echo $f=$(stat -c '%u:%g' /id/$f); done";

/// Whether the runtime says this kernel can idmap a mount (`features`; corral says no
/// before Linux 5.12, which lacks mount_setattr).
fn idmap_enabled(cx: &mut Ctx) -> Result<bool, String> {
    let o = cx.rt(&["features"]);
    o.ok("features")?;
    let v: Value = serde_json::from_str(&o.stdout).map_err(|e| format!("features: {e}"))?;
    Ok(v["linux"]["mountExtensions"]["idmap"]["enabled"] != json!(false))
}

/// Where the kernel cannot idmap: the container must not start, and the error says why.
fn refused_idmap(cx: &mut Ctx, cfg: Value) -> CaseResult {
    let b = script_bundle(cx, cfg, STAT_AB)?;
    let o = cx.rt(&["run", "--bundle", &b.to_string_lossy(), "c1"]);
    o.failed("run with an idmapped mount on a kernel without idmapped mounts")?;
    ensure!(
        o.stderr
            .contains("idmapped mounts need mount_setattr of Linux 5.12"),
        "the refusal does not say why: {}",
        o.stderr.trim()
    );
    Ok(())
}

fn idmap_with_mappings(cx: &mut Ctx) -> CaseResult {
    let src = id_source(cx)?;
    let enabled = idmap_enabled(cx)?;
    for opt in ["idmap", "ridmap"] {
        let map = json!([{ "containerID": 0, "hostID": 2000, "size": 1001 }]);
        let mut cfg = config(&[]);
        push_mount(
            &mut cfg,
            json!({ "destination": "/id", "type": "bind", "source": src, "options": ["bind", opt],
                    "uidMappings": map, "gidMappings": map }),
        );
        if !enabled {
            refused_idmap(cx, cfg)?;
            continue;
        }
        let out = run_script(cx, cfg, STAT_AB)?;
        ensure!(
            field(&out, "a") == Some("2000:2000"),
            "{opt}: /id/a (0:0 on disk):\n{out}"
        );
        ensure!(
            field(&out, "b") == Some("3000:3000"),
            "{opt}: /id/b (1000:1000 on disk):\n{out}"
        );
    }
    Ok(())
}

/// `idmap` without mappings of its own, in a container with a user namespace: the
/// container's mappings apply, so on-disk ids show unchanged inside.
fn idmap_in_userns(cx: &mut Ctx) -> CaseResult {
    let src = id_source(cx)?;
    let mut cfg = config(&[]);
    with_userns(&mut cfg, 100000);
    push_mount(
        &mut cfg,
        json!({ "destination": "/id", "type": "bind", "source": src, "options": ["bind", "idmap"] }),
    );
    if !idmap_enabled(cx)? {
        return refused_idmap(cx, cfg);
    }
    let b = script_bundle(cx, cfg, STAT_AB)?;
    chown_tree(&b.join("rootfs"), 100000, 100000)?;
    let out = run_bundle(cx, &b, "c1")?;
    ensure!(
        field(&out, "a") == Some("0:0"),
        "/id/a (0:0 on disk):\n{out}"
    );
    ensure!(
        field(&out, "b") == Some("1000:1000"),
        "/id/b (1000:1000 on disk):\n{out}"
    );
    Ok(())
}

/// The mount entries that exercise `opt` at `dest`.
fn mounts_for(opt: &str, dest: &str, host: &std::path::Path) -> Vec<Value> {
    let tmpfs = |opts: Value| json!({ "destination": dest, "type": "tmpfs", "source": "tmpfs", "options": opts });
    match opt {
        "bind" | "rbind" => {
            vec![json!({ "destination": dest, "type": "bind", "source": host, "options": [opt] })]
        }
        "idmap" | "ridmap" => {
            let map = json!([{ "containerID": 0, "hostID": 2000, "size": 1000 }]);
            vec![json!({ "destination": dest, "type": "bind", "source": host,
                         "options": ["bind", opt], "uidMappings": map, "gidMappings": map })]
        }
        "remount" => vec![tmpfs(json!(["size=1m"])), tmpfs(json!(["remount"]))],
        _ => vec![tmpfs(json!([opt]))],
    }
}

/// A container with one mount per option in `opts` (at /t-<i>); its output, or the
/// runtime's error.
fn run_options(cx: &mut Ctx, opts: &[String], id: &str) -> Result<String, String> {
    let host = cx.dir.join("hostdir");
    mkdir(&host)?;
    let mut cfg = config(&[]);
    for (i, o) in opts.iter().enumerate() {
        for m in mounts_for(o, &format!("/t-{i}"), &host) {
            push_mount(&mut cfg, m);
        }
    }
    let b = script_bundle(cx, cfg, "echo ran=yes; cat /proc/self/mountinfo")?;
    run_bundle(cx, &b, id)
}

/// Every option `features` lists works (fs_bad_unknown_mount_option: one it does not
/// list is refused).
fn features_options(cx: &mut Ctx) -> CaseResult {
    let o = cx.rt(&["features"]);
    o.ok("features")?;
    let v: Value = serde_json::from_str(&o.stdout).map_err(|e| format!("features JSON: {e}"))?;
    let opts: Vec<String> = v["mountOptions"]
        .as_array()
        .ok_or_else(|| format!("features has no mountOptions: {}", o.stdout))?
        .iter()
        .filter_map(|s| s.as_str().map(str::to_string))
        .collect();
    ensure!(opts.len() > 10, "features lists few mountOptions: {opts:?}");
    let together = run_options(cx, &opts, "all");
    if together.as_ref().map(|out| field(out, "ran")) != Ok(Some("yes")) {
        let mut bad = vec![];
        for (i, o) in opts.iter().enumerate() {
            match run_options(cx, std::slice::from_ref(o), &format!("opt{i}")) {
                Ok(out) if field(&out, "ran") == Some("yes") => {}
                Ok(out) => bad.push(format!("{o}: the container printed {out:?}")),
                Err(e) => bad.push(format!("{o}: {e}")),
            }
        }
        return Err(format!(
            "a container with every listed option failed ({}); one by one: {}",
            together.err().unwrap_or_default(),
            if bad.is_empty() {
                "all work".to_string()
            } else {
                bad.join("; ")
            }
        ));
    }
    // Each listed option made a mount at /t-<i>.
    let out = together?;
    for (i, o) in opts.iter().enumerate() {
        mount_at(&out, &format!("/t-{i}")).map_err(|e| format!("option {o}: {e}"))?;
    }
    Ok(())
}
