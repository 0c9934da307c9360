//! `features`: runtime-spec `features.md`, listing only what this build does.

use serde_json::{json, Value};

/// `commit`: the commit corral is built from (the binary knows it, the library not).
pub fn features(commit: &str) -> Value {
    let setattr = crate::sys::remount::has_mount_setattr();
    let mut annotations = json!({
        "io.github.seccomp.libseccomp.version": corral_seccomp::version(),
        "io.github.corral.version": env!("CARGO_PKG_VERSION"),
        "io.github.corral.commit": commit,
        // How `rro`, `rnosuid`, … are applied on this kernel: by mount_setattr, or
        // (before Linux 5.12) by a bind remount of each mount of the tree.
        "io.github.corral.mount.recursiveAttributes":
            if setattr { "mount_setattr" } else { "remount" },
    });
    // Only when a usable CRIU is here (found, recent enough, its `criu check` passes):
    // engines take the key as a promise that `checkpoint` and `restore` work.
    if crate::criu::usable() {
        annotations["io.github.corral.checkpoint.enabled"] = json!("true");
    }
    let caps: Vec<String> = caps::all()
        .iter()
        .map(|c| c.to_string())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mempolicy = crate::process::numa::supported();
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
            // written on both; --systemd-cgroup makes a scope of the system's systemd, or
            // of a rootless caller's own user manager (proven in the systemd guest).
            "cgroup": { "v1": true, "v2": true, "systemd": true, "systemdUser": true, "rdma": true },
            "seccomp": corral_seccomp::features(),
            "apparmor": { "enabled": true },
            "selinux": { "enabled": true },
            // resctrl groups are not written yet: `linux.intelRdt` is refused.
            "intelRdt": { "enabled": false, "schemata": false, "monitoring": false },
            // What this kernel's set_mempolicy(2) accepts (probed: see `numa::supported`).
            "memoryPolicy": {
                "modes": mempolicy.modes.iter().map(|m| m.to_string()).collect::<Vec<_>>(),
                "flags": mempolicy.flags.iter().map(|f| f.to_string()).collect::<Vec<_>>(),
            },
            "netDevices": { "enabled": true },
            // Idmapped mounts need mount_setattr (Linux 5.12): what this kernel can do.
            "mountExtensions": { "idmap": { "enabled": setattr } },
        },
        // The names runc uses for the same facts, plus corral's own.
        "annotations": annotations,
        // No annotation of config.json changes what corral does (runc lists `bundle` and
        // `org.systemd.property.`, which it reads): none can make a container less safe.
        "potentiallyUnsafeConfigAnnotations": [],
    })
}

/// The version of the libseccomp corral is linked with, for `--version`.
pub fn libseccomp_version() -> String {
    corral_seccomp::version()
}
