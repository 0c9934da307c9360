//! Fresh bundles: a busybox rootfs (from Debian's busybox-static) and a config.json
//! that the case edits as JSON.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};

pub const BUSYBOX: &str = "/bin/busybox";

/// A minimal config that runc and corral both accept: new pid, ipc, uts, mount and
/// network namespaces, the usual mounts, and `args`.
pub fn config(args: &[&str]) -> Value {
    json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": { "uid": 0, "gid": 0 },
            "args": args,
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "noNewPrivileges": true
        },
        "root": { "path": "rootfs", "readonly": false },
        "hostname": "conformance",
        "mounts": [
            { "destination": "/proc", "type": "proc", "source": "proc" },
            { "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
              "options": ["nosuid", "strictatime", "mode=755", "size=65536k"] },
            { "destination": "/dev/pts", "type": "devpts", "source": "devpts",
              "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"] },
            { "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
              "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
            { "destination": "/sys", "type": "sysfs", "source": "sysfs",
              "options": ["nosuid", "noexec", "nodev", "ro"] }
        ],
        "linux": {
            "namespaces": [
                { "type": "pid" }, { "type": "ipc" }, { "type": "uts" },
                { "type": "mount" }, { "type": "network" }
            ]
        }
    })
}

/// Makes `dir/rootfs` (busybox and its applet links) and `dir/config.json`.
pub fn make(dir: &Path, config: &Value) -> std::io::Result<PathBuf> {
    let rootfs = dir.join("rootfs");
    for d in ["bin", "proc", "sys", "dev", "tmp", "etc", "root"] {
        std::fs::create_dir_all(rootfs.join(d))?;
    }
    let bb = rootfs.join("bin/busybox");
    if std::fs::hard_link(BUSYBOX, &bb).is_err() {
        std::fs::copy(BUSYBOX, &bb)?;
    }
    let list = std::process::Command::new(BUSYBOX).arg("--list").output()?;
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if applet != "busybox" && !applet.is_empty() {
            std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet))?;
        }
    }
    std::fs::write(rootfs.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n")?;
    std::fs::write(rootfs.join("etc/group"), "root:x:0:\ntty:x:5:\n")?;
    write_config(dir, config)?;
    Ok(dir.to_path_buf())
}

pub fn write_config(dir: &Path, config: &Value) -> std::io::Result<()> {
    std::fs::write(dir.join("config.json"), serde_json::to_vec_pretty(config)?)
}
