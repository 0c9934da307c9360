//! Issue 12's hardening: device numbers that do not fit, and a `create` killed at any
//! write of its state that `delete --force` must still clean up.

use super::ensure;
use super::errors::refused;
use crate::bundle::config;
use crate::ctx::Ctx;
use crate::{Case, CaseResult};
use serde_json::json;

pub fn cases() -> Vec<Case> {
    vec![
        Case::new("cgroup_device_rule_numbers_out_of_range", rule_numbers),
        // runc 1.1.5 cuts a node's numbers to 32 bits and makes c 1:1 (/dev/mem).
        Case::extension("bad_device_node_numbers_out_of_range", node_numbers),
    ]
}

/// `linux.resources.devices`: a number is -1 (any) or fits in 32 bits, as v1's
/// devices.allow and v2's device program read it; 4294967297 cut to 32 bits is 1, and
/// an allow rule for `c 1:1` would give the container /dev/mem.
fn rule_numbers(cx: &mut Ctx) -> CaseResult {
    let field = |i: usize, name: &str| format!("linux.resources.devices[{i}].{name}");
    for (rules, says) in [
        (
            json!([{ "allow": true, "type": "c", "major": 4294967297_i64, "minor": 1, "access": "rw" }]),
            field(0, "major"),
        ),
        (
            json!([{ "allow": false, "access": "rwm" },
                   { "allow": true, "type": "c", "major": 1, "minor": -4294967295_i64, "access": "rw" }]),
            field(1, "minor"),
        ),
        (
            json!([{ "allow": true, "type": "b", "major": -2, "access": "r" }]),
            field(0, "major"),
        ),
    ] {
        let mut cfg = config(&["true"]);
        cfg["linux"]["resources"] = json!({ "devices": rules });
        refused(cx, &cfg, &says)?;
    }
    Ok(())
}

/// `linux.devices`: mknod(2) takes 12 bits of major and 20 of minor; a larger number
/// would make a node with other numbers than the config's.
fn node_numbers(cx: &mut Ctx) -> CaseResult {
    for (major, minor, says) in [
        (4294967297_i64, 1_i64, "linux.devices[0].major"),
        (4096, 0, "linux.devices[0].major"),
        (1, 1 << 20, "linux.devices[0].minor"),
        (1, -1, "linux.devices[0].minor"),
    ] {
        let mut cfg = config(&["true"]);
        cfg["linux"]["devices"] = json!([{
            "path": "/dev/harden-a", "type": "c", "major": major, "minor": minor
        }]);
        refused(cx, &cfg, says)?;
    }
    // The largest numbers that fit are made as asked.
    let mut cfg = config(&["sh", "-c", "stat -c %t:%T /dev/harden-a"]);
    cfg["linux"]["devices"] = json!([{
        "path": "/dev/harden-a", "type": "c", "major": 4095, "minor": 1048575
    }]);
    let b = cx.bundle(&cfg)?;
    let o = cx.rt(&["run", "--bundle", &b.to_string_lossy(), "c1"]);
    o.ok("run with the largest device numbers")?;
    ensure!(
        o.stdout.trim() == "fff:fffff",
        "the node has numbers {} (hex), not fff:fffff",
        o.stdout.trim()
    );
    Ok(())
}
