//! The one image every engine runs, made here (there is no registry to pull from): a
//! busybox rootfs from Debian's busybox-static, tarred; podman imports the tar and saves
//! it as a Docker archive, which `ctr images import` and `docker load` read.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The image's name in every engine.
pub const NAME: &str = "localhost/corral-engines-busybox:1";
const BUSYBOX: &str = "/bin/busybox";

pub struct Image {
    /// The rootfs tar (for `podman import`).
    pub rootfs_tar: PathBuf,
    /// `podman save --format docker-archive` of the image (for ctr and docker), once made.
    pub archive: PathBuf,
}

/// Makes the rootfs and its tar under `dir`.
pub fn rootfs_tar(dir: &Path) -> Result<Image, String> {
    let rootfs = dir.join("rootfs");
    make_rootfs(&rootfs).map_err(|e| format!("busybox rootfs in {}: {e}", rootfs.display()))?;
    let tar = dir.join("rootfs.tar");
    let out = Command::new("tar")
        .arg("-C")
        .arg(&rootfs)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .output()
        .map_err(|e| format!("tar: {e}"))?;
    if !out.status.success() {
        return Err(format!("tar: {}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(Image {
        rootfs_tar: tar,
        archive: dir.join("image-docker.tar"),
    })
}

fn make_rootfs(rootfs: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for d in ["bin", "etc", "proc", "sys", "dev", "root", "tmp"] {
        std::fs::create_dir_all(rootfs.join(d))?;
    }
    std::fs::set_permissions(rootfs.join("tmp"), std::fs::Permissions::from_mode(0o1777))?;
    std::fs::copy(BUSYBOX, rootfs.join("bin/busybox"))?;
    let list = Command::new(BUSYBOX).arg("--list").output()?;
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        // busybox lists itself: a link named busybox would replace the binary.
        if applet != "busybox" && !applet.is_empty() {
            std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet))?;
        }
    }
    std::fs::write(
        rootfs.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n",
    )?;
    std::fs::write(
        rootfs.join("etc/group"),
        "root:x:0:\ntty:x:5:\nnogroup:x:65534:\n",
    )
}
