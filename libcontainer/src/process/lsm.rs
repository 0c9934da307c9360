//! `process.apparmorProfile` and `process.selinuxLabel`: the label the next execve
//! gives the process, written to the init's own `attr/exec` file in the private procfs
//! (see `procfs`), by pid, so no mount of the container can redirect it.
//!
//! The file is opened early, while the init is still root, and written at the end of
//! setup: the kernel applies an exec label at the next execve, which is the user's.

use super::procfs::{self, Procfs};
use crate::{Error, Result};
use oci_spec::runtime::Process;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

/// AppArmor is enabled when its module says so.
pub fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.trim() == "Y")
}

/// SELinux is enabled when its filesystem is mounted.
pub fn selinux_enabled() -> bool {
    Path::new("/sys/fs/selinux/enforce").exists()
}

fn profile(p: &Process) -> Option<&str> {
    p.apparmor_profile().as_deref().filter(|s| !s.is_empty())
}

fn label(p: &Process) -> Option<&str> {
    p.selinux_label().as_deref().filter(|s| !s.is_empty())
}

/// Whether `process` asks for an exec label (and so needs the private procfs).
pub fn wanted(p: &Process) -> bool {
    profile(p).is_some() || label(p).is_some()
}

/// Exec labels to write, each with its open `attr` file.
pub struct ExecLabels(Vec<(&'static str, OwnedFd, Vec<u8>, PathBuf)>);

/// Opens the `attr` files for what `process` asks (validation made sure the LSMs are on).
pub fn prepare(proc: &Procfs, process: &Process) -> Result<ExecLabels> {
    let pid = std::process::id();
    let mut out = vec![];
    if let Some(p) = profile(process) {
        // The per-LSM directory (Linux 5.8+) first: attr/exec belongs to the first
        // major LSM, which may be another one.
        let per_lsm = PathBuf::from(format!("{pid}/attr/apparmor/exec"));
        let (fd, path) = match proc.open_write(&per_lsm) {
            Ok(fd) => (fd, per_lsm),
            Err(_) => {
                let path = PathBuf::from(format!("{pid}/attr/exec"));
                let fd = proc.open_write(&path).map_err(|e| {
                    Error::sys(
                        format!("process.apparmorProfile: open {}", path.display()),
                        e,
                    )
                })?;
                (fd, path)
            }
        };
        out.push((
            "process.apparmorProfile",
            fd,
            format!("exec {p}").into_bytes(),
            path,
        ));
    }
    if let Some(l) = label(process) {
        let path = PathBuf::from(format!("{pid}/attr/exec"));
        let fd = proc
            .open_write(&path)
            .map_err(|e| Error::sys(format!("process.selinuxLabel: open {}", path.display()), e))?;
        out.push(("process.selinuxLabel", fd, l.as_bytes().to_vec(), path));
    }
    Ok(ExecLabels(out))
}

impl ExecLabels {
    /// Writes each label: from now on, the next execve runs under it.
    pub fn apply(self) -> Result<()> {
        for (field, fd, value, path) in self.0 {
            procfs::write_all(&fd, &value).map_err(|e| {
                Error::sys(
                    format!(
                        "{field}: write {:?} to {}",
                        String::from_utf8_lossy(&value),
                        path.display()
                    ),
                    e,
                )
            })?;
        }
        Ok(())
    }
}
