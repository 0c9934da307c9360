//! `linux.memoryPolicy`: the NUMA policy of the container's processes, set with
//! set_mempolicy(2) by the init (and by each `exec` process) before its execve; the
//! policy is inherited by every child and kept across execve.

use crate::{Error, Result};
use corral_cgroups::check::parse_list;
use oci_spec::runtime::{LinuxMemoryPolicy, MemoryPolicyFlagType as F, MemoryPolicyModeType as M};

const FIELD: &str = "linux.memoryPolicy";
const ONLINE: &str = "/sys/devices/system/node/online";

/// `mode | flags` and the node mask, as set_mempolicy(2) takes them.
pub struct MemPolicy {
    mode: libc::c_int,
    mask: Vec<libc::c_ulong>,
}

/// The kernel's value of a mode (`enum mempolicy_mode` in linux/mempolicy.h).
fn mode_value(m: M) -> libc::c_int {
    match m {
        M::MpolDefault => 0,
        M::MpolPreferred => 1,
        M::MpolBind => 2,
        M::MpolInterleave => 3,
        M::MpolLocal => 4,
        M::MpolPreferredMany => 5,
        M::MpolWeightedInterleave => 6,
    }
}

fn flag_value(f: F) -> libc::c_int {
    match f {
        F::MpolFStaticNodes => 1 << 15,
        F::MpolFRelativeNodes => 1 << 14,
        F::MpolFNumaBalancing => 1 << 13,
    }
}

/// The nodes this host has online (`0` on a kernel without NUMA, which has no such file).
fn online_nodes() -> Vec<u32> {
    std::fs::read_to_string(ONLINE)
        .ok()
        .and_then(|s| parse_list(&s).ok())
        .unwrap_or_else(|| vec![0])
}

/// Checks `p` against the rules of set_mempolicy(2) and the host's online nodes;
/// an error is `(field, why)`.
pub fn check(p: &LinuxMemoryPolicy) -> std::result::Result<MemPolicy, (String, String)> {
    let nodes_field = format!("{FIELD}.nodes");
    let text = p.nodes().as_deref().unwrap_or("");
    let nodes = parse_list(text).map_err(|m| (nodes_field.clone(), format!("{text:?}: {m}")))?;
    let flags = p.flags().as_deref().unwrap_or_default();
    let mode = p.mode();
    let mode_name = mode.to_string();
    match mode {
        M::MpolDefault | M::MpolLocal if !nodes.is_empty() => {
            return Err((nodes_field, format!("{mode_name} takes no nodes")));
        }
        M::MpolBind | M::MpolInterleave | M::MpolWeightedInterleave | M::MpolPreferredMany
            if nodes.is_empty() =>
        {
            return Err((nodes_field, format!("{mode_name} needs at least one node")));
        }
        _ => {}
    }
    let node_flags = flags.contains(&F::MpolFStaticNodes) || flags.contains(&F::MpolFRelativeNodes);
    if node_flags && nodes.is_empty() {
        return Err((
            format!("{FIELD}.flags"),
            "MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES qualify nodes, and none are given"
                .into(),
        ));
    }
    if flags.contains(&F::MpolFStaticNodes) && flags.contains(&F::MpolFRelativeNodes) {
        return Err((
            format!("{FIELD}.flags"),
            "MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES exclude each other".into(),
        ));
    }
    // Relative nodes are positions in the allowed set, not node numbers.
    if !flags.contains(&F::MpolFRelativeNodes) {
        let online = online_nodes();
        if let Some(n) = nodes.iter().find(|n| !online.contains(n)) {
            let list: Vec<String> = online.iter().map(u32::to_string).collect();
            return Err((
                nodes_field,
                format!(
                    "node {n} is not online on this host (online: {}, from {ONLINE})",
                    list.join(",")
                ),
            ));
        }
    }
    let bits = 8 * std::mem::size_of::<libc::c_ulong>();
    let mut mask =
        vec![0 as libc::c_ulong; nodes.iter().max().map_or(0, |m| *m as usize / bits + 1)];
    for n in &nodes {
        mask[*n as usize / bits] |= 1 << (*n as usize % bits);
    }
    let flag_bits = flags.iter().fold(0, |acc, f| acc | flag_value(*f));
    Ok(MemPolicy {
        mode: mode_value(mode) | flag_bits,
        mask,
    })
}

/// Sets the calling thread's policy (the init and `exec` are single-threaded).
pub fn apply(p: &LinuxMemoryPolicy) -> Result<()> {
    let policy = check(p).map_err(|(f, m)| Error::Other(format!("{f}: {m}")))?;
    let bits = 8 * std::mem::size_of::<libc::c_ulong>();
    // The kernel reads maxnode - 1 bits (an off-by-one it keeps for compatibility).
    let maxnode = (policy.mask.len() * bits + 1) as libc::c_ulong;
    let mask = if policy.mask.is_empty() {
        std::ptr::null()
    } else {
        policy.mask.as_ptr()
    };
    // SAFETY: `mask` is null or points to mask.len() words, all that maxnode covers.
    let ret = unsafe { libc::syscall(libc::SYS_set_mempolicy, policy.mode, mask, maxnode) };
    nix::errno::Errno::result(ret).map(drop).map_err(|e| {
        Error::Other(format!(
            "{FIELD}: set_mempolicy {} with nodes {:?}: {e}",
            p.mode(),
            p.nodes().as_deref().unwrap_or("")
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(v: serde_json::Value) -> LinuxMemoryPolicy {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn modes_flags_and_nodes() {
        let p = check(&policy(serde_json::json!({
            "mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES"]
        })))
        .unwrap();
        assert_eq!(p.mode, 2 | 1 << 15);
        assert_eq!(p.mask, vec![1]);
        let p = check(&policy(serde_json::json!({ "mode": "MPOL_LOCAL" }))).unwrap();
        assert_eq!((p.mode, p.mask.len()), (4, 0));
        let p = check(&policy(serde_json::json!({
            "mode": "MPOL_INTERLEAVE", "nodes": "0,65", "flags": ["MPOL_F_RELATIVE_NODES"]
        })))
        .unwrap();
        assert_eq!(p.mask, vec![1, 2]);
    }

    #[test]
    fn errors_name_the_field() {
        for (v, field) in [
            (serde_json::json!({ "mode": "MPOL_BIND" }), "nodes"),
            (
                serde_json::json!({ "mode": "MPOL_LOCAL", "nodes": "0" }),
                "nodes",
            ),
            (
                serde_json::json!({ "mode": "MPOL_BIND", "nodes": "0-x" }),
                "nodes",
            ),
            (
                serde_json::json!({ "mode": "MPOL_BIND", "nodes": "4000" }),
                "nodes",
            ),
            (
                serde_json::json!({ "mode": "MPOL_LOCAL", "flags": ["MPOL_F_STATIC_NODES"] }),
                "flags",
            ),
            (
                serde_json::json!({ "mode": "MPOL_BIND", "nodes": "0",
                    "flags": ["MPOL_F_STATIC_NODES", "MPOL_F_RELATIVE_NODES"] }),
                "flags",
            ),
        ] {
            let (f, _) = check(&policy(v.clone()))
                .err()
                .unwrap_or_else(|| panic!("{v}"));
            assert_eq!(f, format!("linux.memoryPolicy.{field}"), "{v}");
        }
    }
}
