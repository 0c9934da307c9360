//! `features`: runtime-spec `features.md`, listing only what this build does.

use serde_json::{json, Value};

pub fn features() -> Value {
    let setattr = crate::sys::remount::has_mount_setattr();
    let caps: Vec<String> = caps::all()
        .iter()
        .map(|c| c.to_string())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": crate::OCI_VERSION,
        "hooks": crate::hooks::Kind::ALL.map(|k| k.name()),
        "mountOptions": crate::rootfs::options::known()
            .into_iter()
            .filter(|o| setattr || !o.ends_with("idmap"))
            .collect::<Vec<_>>(),
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
            "capabilities": caps,
            // What this build implements (features.md: unrelated to the host's setup).
            // v1 and v2 are proven on a hybrid host and in the v2 guest; `rdma.max` is
            // written on both; --systemd-cgroup is refused (no D-Bus client yet).
            "cgroup": { "v1": true, "v2": true, "systemd": false, "systemdUser": false, "rdma": true },
            "seccomp": corral_seccomp::features(),
            "apparmor": { "enabled": true },
            "selinux": { "enabled": true },
            // resctrl groups are not written yet: `linux.intelRdt` is refused.
            "intelRdt": { "enabled": false },
            "memoryPolicy": {
                "modes": ["MPOL_DEFAULT", "MPOL_BIND", "MPOL_INTERLEAVE",
                          "MPOL_WEIGHTED_INTERLEAVE", "MPOL_PREFERRED", "MPOL_PREFERRED_MANY",
                          "MPOL_LOCAL"],
                "flags": ["MPOL_F_NUMA_BALANCING", "MPOL_F_RELATIVE_NODES", "MPOL_F_STATIC_NODES"],
            },
            "netDevices": { "enabled": true },
            // Idmapped mounts need mount_setattr (Linux 5.12): what this kernel can do.
            "mountExtensions": { "idmap": { "enabled": setattr } },
        },
        "annotations": {
            "io.github.corral.version": env!("CARGO_PKG_VERSION"),
            // How `rro`, `rnosuid`, … are applied on this kernel: by mount_setattr, or
            // (before Linux 5.12) by a bind remount of each mount of the tree.
            "io.github.corral.mount.recursiveAttributes":
                if setattr { "mount_setattr" } else { "remount" },
        },
    })
}
