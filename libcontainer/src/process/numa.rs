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

/// Every mode and flag corral knows, in the order `features` lists them.
const MODES: [M; 7] = [
    M::MpolDefault,
    M::MpolBind,
    M::MpolInterleave,
    M::MpolWeightedInterleave,
    M::MpolPreferred,
    M::MpolPreferredMany,
    M::MpolLocal,
];
const FLAGS: [F; 3] = [
    F::MpolFNumaBalancing,
    F::MpolFRelativeNodes,
    F::MpolFStaticNodes,
];

/// The modes and flags the running kernel's set_mempolicy(2) accepts.
pub struct Supported {
    pub modes: Vec<M>,
    pub flags: Vec<F>,
}

/// Words of a node mask big enough for any kernel (MAX_NUMNODES is at most 1024).
const MASK_WORDS: usize = 1024 / (8 * std::mem::size_of::<libc::c_ulong>());
const MAXNODE: libc::c_ulong = 1024 + 1;

fn set_mempolicy(mode: libc::c_int, mask: Option<&[libc::c_ulong; MASK_WORDS]>) -> bool {
    let ptr = mask.map_or(std::ptr::null(), |m| m.as_ptr());
    // SAFETY: `ptr` is null or points to MASK_WORDS words, all that MAXNODE covers.
    unsafe { libc::syscall(libc::SYS_set_mempolicy, mode, ptr, MAXNODE) == 0 }
}

/// get_mempolicy(2) into `mode` and `mask`; `flags` 0 (the thread's policy) or
/// MPOL_F_MEMS_ALLOWED (the nodes the cpuset allows, `mode` unused).
fn get_mempolicy(
    mode: &mut libc::c_int,
    mask: &mut [libc::c_ulong; MASK_WORDS],
    flags: libc::c_ulong,
) -> bool {
    let (mode, mask): (*mut libc::c_int, *mut libc::c_ulong) = (mode, mask.as_mut_ptr());
    // SAFETY: both point to writable memory of the sizes given (MAXNODE bits for the
    // mask); addr is 0, which flags without MPOL_F_ADDR ignore.
    unsafe { libc::syscall(libc::SYS_get_mempolicy, mode, mask, MAXNODE, 0, flags) == 0 }
}

/// What this kernel supports, probed once per process: each mode (and each flag, with
/// MPOL_BIND) is set as the calling thread's policy on the first node the cpuset
/// allows, and the thread's own policy, read first with get_mempolicy(2), is put back
/// after. The modes and flags added after Linux 5.10 (MPOL_F_NUMA_BALANCING 5.12,
/// MPOL_PREFERRED_MANY 5.15, MPOL_WEIGHTED_INTERLEAVE 6.9) fail with EINVAL before.
/// Nothing runs in between (corral has one thread); when the policy cannot be read,
/// nothing is probed and nothing is supported.
pub fn supported() -> &'static Supported {
    static ONCE: std::sync::OnceLock<Supported> = std::sync::OnceLock::new();
    ONCE.get_or_init(probe)
}

fn probe() -> Supported {
    let none = Supported {
        modes: Vec::new(),
        flags: Vec::new(),
    };
    let (mut saved_mode, mut saved_mask) = (0, [0; MASK_WORDS]);
    let (mut unused, mut allowed) = (0, [0; MASK_WORDS]);
    if !get_mempolicy(&mut saved_mode, &mut saved_mask, 0)
        || !get_mempolicy(&mut unused, &mut allowed, MPOL_F_MEMS_ALLOWED)
    {
        return none;
    }
    // One node: the lowest the cpuset allows.
    let mut one = [0; MASK_WORDS];
    let Some(w) = allowed.iter().position(|w| *w != 0) else {
        return none;
    };
    one[w] = allowed[w] & allowed[w].wrapping_neg();
    let try_mode = |m: M| {
        let nodes = !matches!(m, M::MpolDefault | M::MpolLocal);
        set_mempolicy(mode_value(m), nodes.then_some(&one))
    };
    let bind = mode_value(M::MpolBind);
    let found = Supported {
        modes: MODES.into_iter().filter(|m| try_mode(*m)).collect(),
        flags: FLAGS
            .into_iter()
            .filter(|f| set_mempolicy(bind | flag_value(*f), Some(&one)))
            .collect(),
    };
    let empty = saved_mask.iter().all(|w| *w == 0);
    if !set_mempolicy(saved_mode, (!empty).then_some(&saved_mask)) {
        // The thread keeps a probed policy: tell nothing rather than run with it.
        return none;
    }
    found
}

const MPOL_F_MEMS_ALLOWED: libc::c_ulong = 1 << 2;

/// `p`'s mode and flags against what this kernel supports (see [`supported`]); an error
/// is `(field, why)`, naming the kernel.
pub fn check_kernel(p: &LinuxMemoryPolicy) -> std::result::Result<(), (String, String)> {
    let have = supported();
    let kernel = || {
        nix::sys::utsname::uname()
            .map(|u| u.release().to_string_lossy().into_owned())
            .unwrap_or_else(|_| "unknown".into())
    };
    let why = |what: String| {
        format!(
            "{what} is not supported by this kernel (Linux {}): set_mempolicy(2) refuses it \
             (`corral features` lists what it accepts)",
            kernel()
        )
    };
    if !have.modes.contains(&p.mode()) {
        return Err((format!("{FIELD}.mode"), why(p.mode().to_string())));
    }
    let flags = p.flags().as_deref().unwrap_or_default();
    if let Some(f) = flags.iter().find(|f| !have.flags.contains(f)) {
        return Err((format!("{FIELD}.flags"), why(f.to_string())));
    }
    Ok(())
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
