//! list, spec, features.

use super::ensure;
use crate::bundle::config;
use crate::ctx::Ctx;
use crate::{Case, CaseResult};
use serde_json::Value;

pub fn cases() -> Vec<Case> {
    vec![
        Case::new("list_formats", list_formats),
        Case::new("spec_writes_a_runnable_config", spec),
        Case::new("features_json", features),
    ]
}

fn list_formats(cx: &mut Ctx) -> CaseResult {
    let b = cx.bundle(&config(&["sleep", "1000"]))?;
    let b = b.to_string_lossy().into_owned();
    cx.rt(&["create", "--bundle", &b, "one"]).ok("create one")?;
    cx.rt(&["run", "-d", "--bundle", &b, "two"]).ok("run two")?;
    let q = cx.rt(&["list", "-q"]);
    q.ok("list -q")?;
    let mut ids: Vec<&str> = q.stdout.lines().collect();
    ids.sort();
    ensure!(ids == ["one", "two"], "list -q: {:?}", q.stdout);
    let j = cx.rt(&["list", "--format", "json"]);
    j.ok("list --format json")?;
    let v: Value = serde_json::from_str(&j.stdout).map_err(|e| format!("list json: {e}"))?;
    let status = |id: &str| {
        v.as_array()
            .and_then(|a| a.iter().find(|c| c["id"] == id))
            .map(|c| c["status"].clone())
    };
    ensure!(status("one") == Some("created".into()), "one: {v}");
    ensure!(status("two") == Some("running".into()), "two: {v}");
    // `owner`: the name of the state dir's owner, in JSON as in the table (root here).
    let owners: Vec<&Value> = v
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| &c["owner"])
        .collect();
    ensure!(owners == [&Value::from("root"); 2], "list json owners: {v}");
    let t = cx.rt(&["list"]);
    t.ok("list")?;
    ensure!(
        t.stdout.starts_with("ID") && t.stdout.contains("one") && t.stdout.contains("two"),
        "list table: {}",
        t.stdout
    );
    // The columns align: each header word starts where its values start.
    let mut lines = t.stdout.lines();
    let header = lines.next().unwrap_or_default();
    for col in ["PID", "STATUS", "BUNDLE", "CREATED", "OWNER"] {
        let at = header
            .find(col)
            .ok_or(format!("no {col} column: {header}"))?;
        for l in t.stdout.lines().skip(1) {
            let starts =
                l.get(at..).is_some_and(|r| !r.starts_with(' ')) && l.get(at - 1..at) == Some(" ");
            ensure!(starts, "{col} does not align in the table:\n{}", t.stdout);
        }
    }
    ensure!(
        t.stdout.lines().skip(1).all(|l| l.ends_with(" root")),
        "table owners: {}",
        t.stdout
    );
    Ok(())
}

fn spec(cx: &mut Ctx) -> CaseResult {
    let b = cx.bundle(&config(&["true"]))?;
    std::fs::remove_file(b.join("config.json")).map_err(|e| e.to_string())?;
    let bs = b.to_string_lossy().into_owned();
    cx.rt(&["spec", "--bundle", &bs]).ok("spec")?;
    cx.rt(&["spec", "--bundle", &bs])
        .failed("spec over an existing config.json")?;
    let mut v: Value =
        serde_json::from_slice(&std::fs::read(b.join("config.json")).map_err(|e| e.to_string())?)
            .map_err(|e| format!("spec output: {e}"))?;
    ensure!(
        v["ociVersion"]
            .as_str()
            .is_some_and(|s| s.starts_with("1.")),
        "ociVersion {}",
        v["ociVersion"]
    );
    // The default config runs as it is but for the program (and runc's terminal).
    // Its cgroup mount (v1: a tmpfs of per-hierarchy binds; v2: cgroup2) is read-only
    // and shows the hierarchies.
    let script = "ls /sys/fs/cgroup | grep -q . && echo listed; \
                  mkdir /sys/fs/cgroup/probe 2>/dev/null || echo top-ro; \
                  for h in /sys/fs/cgroup/*/; do mkdir $h/probe 2>/dev/null && echo rw:$h; done; echo spec-ok";
    v["process"]["args"] = serde_json::json!(["sh", "-c", script]);
    v["process"]["terminal"] = Value::Bool(false);
    crate::bundle::write_config(&b, &v).map_err(|e| e.to_string())?;
    let o = cx.rt(&["run", "--bundle", &bs, "c1"]);
    o.ok("run the default spec")?;
    ensure!(
        o.stdout == "listed\ntop-ro\nspec-ok\n",
        "output {:?}",
        o.stdout
    );
    Ok(())
}

fn features(cx: &mut Ctx) -> CaseResult {
    let o = cx.rt(&["features"]);
    o.ok("features")?;
    let v: Value = serde_json::from_str(&o.stdout).map_err(|e| format!("features: {e}"))?;
    ensure!(
        v["ociVersionMin"].as_str().is_some(),
        "no ociVersionMin: {v}"
    );
    ensure!(
        v["ociVersionMax"].as_str().is_some(),
        "no ociVersionMax: {v}"
    );
    let nss = v["linux"]["namespaces"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for n in ["mount", "pid", "network", "ipc", "uts", "user"] {
        ensure!(nss.iter().any(|x| x == n), "features lacks namespace {n}");
    }
    let cg = &v["linux"]["cgroup"];
    for k in ["v1", "v2"] {
        ensure!(cg[k] == true, "linux.cgroup.{k} is not true: {cg}");
    }
    if cx.is_corral {
        // What this build does: rdma.max is written; --systemd-cgroup makes a systemd scope,
        // of the user's own manager for a rootless caller (cgroup_systemd_user_*).
        let want = serde_json::json!({ "v1": true, "v2": true, "systemd": true,
                                       "systemdUser": true, "rdma": true });
        ensure!(*cg == want, "linux.cgroup is {cg}, want {want}");
    }
    Ok(())
}
