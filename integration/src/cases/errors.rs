//! Bad input: every case must fail with a non-zero exit and leave nothing behind (the
//! harness checks the root, processes and mounts after each case). With corral, the
//! error must also name what is wrong.

use super::ensure;
use crate::bundle::config;
use crate::ctx::Ctx;
use crate::{Case, CaseResult};
use serde_json::{json, Value};

pub fn cases() -> Vec<Case> {
    vec![
        Case::new("bad_malformed_json", malformed_json),
        // A config without process is no error at create (config.md: process is
        // "REQUIRED when start is called"): see lifecycle_rules.
        Case::new("bad_missing_rootfs", missing_rootfs),
        Case::new("bad_relative_cwd", relative_cwd),
        Case::new("bad_unknown_namespace_type", unknown_namespace),
        Case::new("bad_empty_args", empty_args),
        // runc 1.1.5 creates the container and fails only at `start`, in execve.
        Case::corral(
            "bad_nul_byte_in_args_or_env",
            "a NUL byte in process.args or env refused by create, not at start",
            nul_in_args_or_env,
        ),
        Case::new("bad_executable_not_found", executable_not_found),
        Case::new("bad_hostname_without_uts_namespace", hostname_without_uts),
        Case::new("bad_container_ids", bad_ids),
        Case::new("bad_unknown_id", unknown_id),
        Case::new("bad_duplicate_id", duplicate_id),
        Case::new("bad_json_type_names_the_field", json_type),
        Case::new("bad_json_huge_value_not_echoed", huge_value),
        Case::new(
            "bad_json_type_in_process_file_and_resources",
            json_type_exec_update,
        ),
        Case::new(
            "bad_masked_paths_need_a_mount_namespace",
            masked_needs_mount_ns,
        ),
        // config-linux.md: a namespace path "MUST be an absolute path in the runtime mount
        // namespace". runc 1.1.5 refuses it too; corral's words are checked by `refused`.
        Case::new("bad_relative_namespace_path", relative_ns_path),
    ]
}

/// `create` on a bundle with `cfg` must fail; corral's error must contain `says`.
pub(super) fn refused(cx: &mut Ctx, cfg: &Value, says: &str) -> CaseResult {
    let b = cx.bundle(cfg)?;
    refused_bundle(cx, &b.to_string_lossy(), says)
}

pub(super) fn refused_bundle(cx: &mut Ctx, b: &str, says: &str) -> CaseResult {
    let o = cx.rt(&["create", "--bundle", b, "c1"]);
    o.failed("create")?;
    if cx.is_corral {
        ensure!(
            o.stderr.contains(says),
            "error does not say {says:?}: {}",
            o.stderr.trim()
        );
    }
    cx.rt(&["state", "c1"])
        .failed("state of a container whose create failed")?;
    Ok(())
}

fn malformed_json(cx: &mut Ctx) -> CaseResult {
    let b = cx.bundle(&config(&["true"]))?;
    std::fs::write(
        b.join("config.json"),
        "{\n  \"ociVersion\": \"1.0.2\",\n  \"process\": {\n",
    )
    .map_err(|e| e.to_string())?;
    refused_bundle(cx, &b.to_string_lossy(), "config.json")?;
    if cx.is_corral {
        let o = cx.rt(&["create", "--bundle", &b.to_string_lossy(), "c2"]);
        ensure!(
            o.stderr.contains("line 4"),
            "no line number: {}",
            o.stderr.trim()
        );
    }
    Ok(())
}

fn missing_rootfs(cx: &mut Ctx) -> CaseResult {
    let mut cfg = config(&["true"]);
    cfg["root"]["path"] = json!("no-such-rootfs");
    refused(cx, &cfg, "root.path")
}

fn relative_cwd(cx: &mut Ctx) -> CaseResult {
    let mut cfg = config(&["true"]);
    cfg["process"]["cwd"] = json!("tmp");
    refused(cx, &cfg, "process.cwd")
}

fn unknown_namespace(cx: &mut Ctx) -> CaseResult {
    let mut cfg = config(&["true"]);
    cfg["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({ "type": "bogus" }));
    refused(cx, &cfg, "bogus")
}

fn empty_args(cx: &mut Ctx) -> CaseResult {
    let cfg = config(&[]);
    refused(cx, &cfg, "process.args")
}

/// execve cannot pass a string with a NUL byte: `create` refuses it, naming the entry.
fn nul_in_args_or_env(cx: &mut Ctx) -> CaseResult {
    refused(cx, &config(&["echo", "a\u{0}b"]), "process.args[1]")?;
    let mut cfg = config(&["true"]);
    cfg["process"]["env"] = json!(["PATH=/bin", "A=\u{0}"]);
    refused(cx, &cfg, "process.env[1]")
}

fn executable_not_found(cx: &mut Ctx) -> CaseResult {
    refused(cx, &config(&["no-such-program"]), "no-such-program")?;
    let b = cx.bundle(&config(&["/bin/no-such-file"]))?;
    refused_bundle(cx, &b.to_string_lossy(), "/bin/no-such-file")
}

fn hostname_without_uts(cx: &mut Ctx) -> CaseResult {
    let mut cfg = config(&["true"]);
    cfg["linux"]["namespaces"] = json!([{ "type": "pid" }, { "type": "mount" }]);
    refused(cx, &cfg, "hostname")
}

fn bad_ids(cx: &mut Ctx) -> CaseResult {
    let b = cx.bundle(&config(&["true"]))?;
    let b = b.to_string_lossy().into_owned();
    for id in ["", "..", "a/b", "../escape"] {
        let o = cx.rt(&["create", "--bundle", &b, id]);
        o.failed(&format!("create with id {id:?}"))?;
    }
    ensure!(!cx.dir.join("escape").exists(), "an id escaped the root");
    Ok(())
}

fn unknown_id(cx: &mut Ctx) -> CaseResult {
    for cmd in [
        &["state", "nope"][..],
        &["start", "nope"],
        &["kill", "nope", "KILL"],
        &["delete", "nope"],
    ] {
        let o = cx.rt(cmd);
        o.failed(&cmd.join(" "))?;
        // Tools grep stderr for "error": runc's line is `level=error msg=...`.
        ensure!(
            o.stderr.contains("error"),
            "{}: stderr does not say error: {}",
            cmd.join(" "),
            o.stderr.trim()
        );
    }
    // runc: a forced delete of a container that does not exist is not an error.
    cx.rt(&["delete", "--force", "nope"])
        .ok("delete --force of an unknown id")?;
    Ok(())
}

fn duplicate_id(cx: &mut Ctx) -> CaseResult {
    let b = cx.bundle(&config(&["sleep", "1000"]))?;
    let b = b.to_string_lossy().into_owned();
    cx.rt(&["create", "--bundle", &b, "c1"]).ok("create")?;
    let pid = cx.state("c1")?["pid"].clone();
    let o = cx.rt(&["create", "--bundle", &b, "c1"]);
    o.failed("second create with the same id")?;
    if cx.is_corral {
        ensure!(
            o.stderr.contains("already exists"),
            "error: {}",
            o.stderr.trim()
        );
    }
    let st = cx.state("c1")?;
    ensure!(
        st["status"] == "created" && st["pid"] == pid,
        "the first container changed: {st}"
    );
    cx.rt(&["start", "c1"]).ok("start the first container")?;
    Ok(())
}

/// Without a mount namespace a container runs (see `realworld`), but masked paths
/// need one (runc's rule).
fn masked_needs_mount_ns(cx: &mut Ctx) -> CaseResult {
    let mut cfg = config(&["true"]);
    cfg["linux"]["namespaces"] = json!([{ "type": "pid" }, { "type": "uts" }]);
    cfg["linux"]["maskedPaths"] = json!(["/proc/kcore"]);
    refused(cx, &cfg, "linux.maskedPaths")
}

fn relative_ns_path(cx: &mut Ctx) -> CaseResult {
    let mut cfg = config(&["true"]);
    cfg["linux"]["namespaces"] =
        json!([{ "type": "mount" }, { "type": "network", "path": "proc/1/ns/net" }]);
    refused(cx, &cfg, "linux.namespaces[1].path")
}

/// The longest error a runtime may print for one bad value (which may be a megabyte).
const MAX_ERROR: usize = 2048;

/// `out` failed; with corral its error names each of `says`.
fn names(cx: &Ctx, out: &crate::ctx::Out, what: &str, says: &[&str]) -> CaseResult {
    out.failed(what)?;
    ensure!(
        out.stderr.len() <= MAX_ERROR,
        "{what}: {} bytes of error (a value echoed in full?)",
        out.stderr.len()
    );
    if cx.is_corral {
        for s in says {
            ensure!(
                out.stderr.contains(s),
                "{what}: the error does not say {s:?}: {}",
                out.stderr.trim()
            );
        }
    }
    Ok(())
}

/// `create` of `cfg` fails; corral's error names config.json and each of `says`.
fn create_names(cx: &mut Ctx, cfg: &Value, what: &str, says: &[&str]) -> CaseResult {
    let b = cx.bundle(cfg)?;
    let file = b.join("config.json").to_string_lossy().into_owned();
    let o = cx.rt(&["create", "--bundle", &b.to_string_lossy(), "c1"]);
    names(cx, &o, what, &[says, &[file.as_str()]].concat())?;
    cx.rt(&["state", "c1"])
        .failed("state after a failed create")?;
    Ok(())
}

/// serde alone says "invalid type: integer `7`, expected a string", naming no field.
fn json_type(cx: &mut Ctx) -> CaseResult {
    let mut cfg = config(&["true"]);
    cfg["process"]["args"] = json!([7]);
    create_names(
        cx,
        &cfg,
        "create with process.args [7]",
        &["process.args[0]"],
    )
}

fn huge_value(cx: &mut Ctx) -> CaseResult {
    let mut cfg = config(&["true"]);
    cfg["process"]["user"]["uid"] = json!("A".repeat(1 << 20));
    create_names(
        cx,
        &cfg,
        "create with a 1 MiB string as uid",
        &["process.user.uid"],
    )
}

fn json_type_exec_update(cx: &mut Ctx) -> CaseResult {
    super::exec::sleeper(cx, config(&[]))?;
    let process = cx.dir.join("process.json");
    let p = json!({ "args": ["true", 7], "cwd": "/", "user": { "uid": 0, "gid": 0 } });
    std::fs::write(&process, p.to_string()).map_err(|e| e.to_string())?;
    let path = process.to_string_lossy().into_owned();
    let o = cx.rt(&["exec", "--process", &path, "c1"]);
    names(
        cx,
        &o,
        "exec --process with args [\"true\", 7]",
        &["process.args[1]", &path],
    )?;
    let resources = cx.dir.join("resources.json");
    let r = json!({ "pids": { "limit": "B".repeat(1 << 20) } });
    std::fs::write(&resources, r.to_string()).map_err(|e| e.to_string())?;
    let path = resources.to_string_lossy().into_owned();
    let o = cx.rt(&["update", "-r", &path, "c1"]);
    names(
        cx,
        &o,
        "update -r with a 1 MiB string as pids.limit",
        &["pids.limit", &path],
    )?;
    ensure!(cx.status("c1")? == "running", "the container stopped");
    Ok(())
}
