//! The default devices every container gets, and the /dev links.

use super::sys_err;
use crate::{Error, Result};
use nix::mount::{mount, MsFlags};
use nix::sys::stat::{makedev, mknod, Mode, SFlag};
use std::path::Path;

/// (name, major, minor): runtime-spec `config-linux.md`, "Default Devices".
const DEFAULT: &[(&str, u64, u64)] = &[
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

pub fn create_default(rootfs: &Path, in_userns: bool) -> Result<()> {
    let dev = rootfs.join("dev");
    std::fs::create_dir_all(&dev).map_err(|e| Error::io("cannot create", &dev, e))?;
    for (name, major, minor) in DEFAULT {
        let path = dev.join(name);
        if in_userns {
            // mknod is refused in a user namespace: bind the host's node instead.
            if !path.exists() {
                std::fs::File::create(&path).map_err(|e| Error::io("cannot create", &path, e))?;
            }
            let host = format!("/dev/{name}");
            mount(
                Some(host.as_str()),
                &path,
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
            .map_err(sys_err(format!("bind {host}")))?;
            continue;
        }
        let _ = std::fs::remove_file(&path);
        mknod(
            &path,
            SFlag::S_IFCHR,
            Mode::from_bits_truncate(0o666),
            makedev(*major, *minor),
        )
        .map_err(sys_err(format!("mknod /dev/{name}")))?;
    }
    Ok(())
}

/// /dev/fd, /dev/std{in,out,err}, /dev/ptmx (to the devpts instance) and /dev/core.
pub fn links(rootfs: &Path) -> Result<()> {
    let dev = rootfs.join("dev");
    let mut links = vec![
        ("/proc/self/fd", "fd"),
        ("/proc/self/fd/0", "stdin"),
        ("/proc/self/fd/1", "stdout"),
        ("/proc/self/fd/2", "stderr"),
    ];
    if Path::new("/proc/kcore").exists() {
        links.push(("/proc/kcore", "core"));
    }
    for (to, name) in links {
        match std::os::unix::fs::symlink(to, dev.join(name)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(Error::io("cannot create link", dev.join(name), e)),
        }
    }
    let ptmx = dev.join("ptmx");
    let _ = std::fs::remove_file(&ptmx);
    std::os::unix::fs::symlink("pts/ptmx", &ptmx)
        .map_err(|e| Error::io("cannot create link", &ptmx, e))
}
