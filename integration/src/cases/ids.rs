//! User and group ids out of range: 4294967295 is -1 to the kernel, and `setresuid(-1,
//! ...)` or `chown(path, -1, ...)` leave the id as it is (root), so such an id must be
//! refused with the field named, never run. Like runc, corral takes ids in 0..2^31-1.

use super::userns::with_userns;
use super::{ensure, exec};
use crate::bundle::config;
use crate::ctx::Ctx;
use crate::{Case, CaseResult};
use serde_json::{json, Value};

pub fn cases() -> Vec<Case> {
    vec![
        Case::new("ids_process_user_out_of_range_refused", process_user),
        Case::new("ids_exec_user_out_of_range_refused", exec_user),
        // runc 1.1.5 takes these: the kernel maps hostIDs up to 4294967294, and a device
        // owner of -1 is left as root by chown(2).
        Case::corral(
            "ids_mappings_and_devices_out_of_range_refused",
            "ids beyond what the kernel or chown(2) take refused",
            mappings,
        ),
    ]
}

/// What the process writes if it runs: `uid gid` into /ran of its rootfs.
const RAN: &str = "echo \"$(id -u) $(id -g)\" > /ran";

/// `create` of `cfg` fails naming `field` and config.json, and nothing ran.
fn refused_run(cx: &mut Ctx, cfg: &Value, field: &str) -> CaseResult {
    let b = cx.bundle(cfg)?;
    let o = cx.rt(&["run", "--bundle", &b.to_string_lossy(), "c1"]);
    if let Ok(ids) = std::fs::read_to_string(b.join("rootfs/ran")) {
        return Err(format!(
            "{field} out of range: the process ran as uid and gid {}",
            ids.trim()
        ));
    }
    o.failed(&format!("run with {field} out of range"))?;
    if cx.is_corral {
        let config = b.join("config.json");
        ensure!(
            o.stderr.contains(field) && o.stderr.contains(&*config.to_string_lossy()),
            "the error should name {field} and {}: {}",
            config.display(),
            o.stderr.trim()
        );
    }
    cx.rt(&["state", "c1"])
        .failed("state of a container whose run failed")?;
    Ok(())
}

fn process_user(cx: &mut Ctx) -> CaseResult {
    let with_user = |user: Value| {
        let mut cfg = config(&["sh", "-c", RAN]);
        cfg["process"]["user"] = user;
        cfg
    };
    let minus_one = with_user(json!({ "uid": 4294967295u32, "gid": 4294967295u32 }));
    refused_run(cx, &minus_one, "process.user.uid")?;
    let gid = with_user(json!({ "uid": 0, "gid": 4294967295u32 }));
    refused_run(cx, &gid, "process.user.gid")?;
    // Not -1, but past 2^31-1: refused alike.
    let big = with_user(json!({ "uid": 2147483648u32, "gid": 0 }));
    refused_run(cx, &big, "process.user.uid")?;
    let groups = with_user(json!({ "uid": 0, "gid": 0, "additionalGids": [5, 4294967295u32] }));
    refused_run(cx, &groups, "process.user.additionalGids[1]")
}

/// `exec` with an id out of range, as a flag or in a `--process` file, fails and runs
/// nothing; corral's error names `says`.
fn exec_refused(cx: &mut Ctx, flags: &[&str], says: &str) -> CaseResult {
    let mut args = flags.to_vec();
    if !flags.contains(&"--process") {
        args.extend(["c1", "sh", "-c", "echo ran=$(id -u):$(id -g)"]);
    }
    let o = exec::exec(cx, &args);
    o.failed(&format!("exec {flags:?}"))?;
    ensure!(
        !o.stdout.contains("ran="),
        "exec {flags:?} ran its process: {}",
        o.stdout.trim()
    );
    if cx.is_corral {
        ensure!(
            o.stderr.contains(says),
            "exec {flags:?}: the error should say {says:?}: {}",
            o.stderr.trim()
        );
    }
    Ok(())
}

fn exec_user(cx: &mut Ctx) -> CaseResult {
    exec::sleeper(cx, config(&[]))?;
    exec_refused(cx, &["--user", "4294967295:4294967295"], "--user")?;
    exec_refused(cx, &["--user", "0:2147483648"], "--user")?;
    exec_refused(cx, &["-g", "4294967295"], "--additional-gids")?;
    let file = cx.dir.join("process.json");
    let process = json!({
        "user": { "uid": 4294967295u32, "gid": 0 },
        "args": ["sh", "-c", "echo ran=$(id -u):$(id -g)"],
        "cwd": "/", "env": ["PATH=/bin"]
    });
    std::fs::write(&file, process.to_string()).map_err(|e| e.to_string())?;
    let path = file.to_string_lossy().into_owned();
    exec_refused(cx, &["--process", &path, "c1"], "process.user.uid")?;
    if cx.is_corral {
        let o = exec::exec(cx, &["--process", &path, "c1"]);
        ensure!(o.stderr.contains(&path), "no file named: {}", o.stderr);
    }
    // The container is untouched: a good exec still runs.
    let o = exec::exec(cx, &["--user", "1000:1000", "c1", "id", "-u"]);
    o.ok("exec --user 1000:1000")?;
    ensure!(o.stdout.trim() == "1000", "id -u: {}", o.stdout);
    Ok(())
}

fn mappings(cx: &mut Ctx) -> CaseResult {
    let ok = json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]);
    let mut cfg = config(&["sh", "-c", RAN]);
    // The kernel takes ids up to 4294967294 in a map: only corral's range refuses this.
    let host = json!([{ "containerID": 0, "hostID": 3000000000u32, "size": 65536 }]);
    let c = with_userns(cfg.clone(), host, ok.clone());
    refused_run(cx, &c, "linux.uidMappings[0]")?;
    let two = json!([
        { "containerID": 0, "hostID": 100000, "size": 1 },
        { "containerID": 2147483647u32, "hostID": 200000, "size": 2 }
    ]);
    let c = with_userns(cfg.clone(), ok.clone(), two);
    refused_run(cx, &c, "linux.gidMappings[1]")?;
    let data = cx.dir.join("data");
    std::fs::create_dir_all(&data).map_err(|e| e.to_string())?;
    let mut c = cfg.clone();
    c["mounts"].as_array_mut().expect("mounts").push(json!({
        "destination": "/mnt", "type": "bind", "source": data, "options": ["rbind", "idmap"],
        "uidMappings": [{ "containerID": 0, "hostID": 4294967295u32, "size": 1 }],
        "gidMappings": [{ "containerID": 0, "hostID": 0, "size": 1 }]
    }));
    refused_run(cx, &c, "mounts[5].uidMappings[0]")?;
    cfg["linux"]["devices"] = json!([{
        "path": "/dev/owned", "type": "c", "major": 1, "minor": 3, "fileMode": 438,
        "uid": 4294967295u32, "gid": 0
    }]);
    refused_run(cx, &cfg, "linux.devices[0].uid")
}
