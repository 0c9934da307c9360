//! `checkpoint`: dump a running (or paused) container's process tree to images with
//! CRIU. Without `--leave-running` CRIU kills the tree and the container is deleted
//! (as runc does); `--pre-dump` only copies memory, and the container keeps running.
//!
//! Mounts that come from the host (binds, masked files, device nodes) cannot be dumped:
//! each is declared to CRIU as external, by its destination in the container, and
//! `restore` maps the same keys to the host paths again. The init's stdio pipes and
//! terminal are recorded for `restore` (see `criu_fds`).

use super::delete;
use crate::bundle::Bundle;
use crate::criu;
use crate::state::{StateDir, Status};
use crate::{Error, Result};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::path::{Path, PathBuf};

/// The flags `checkpoint` and `restore` share (runc's names and meanings).
#[derive(Debug, Default, Clone)]
pub struct CriuOptions {
    /// Where the images are (made by checkpoint if missing).
    pub image_path: PathBuf,
    /// Where CRIU's log and temporary files go (default: the image path).
    pub work_path: Option<PathBuf>,
    /// The images of a previous pre-dump, relative to the image path.
    pub parent_path: Option<PathBuf>,
    pub leave_running: bool,
    pub tcp_established: bool,
    pub tcp_skip_in_flight: bool,
    pub link_remap: bool,
    pub ext_unix_sk: bool,
    pub shell_job: bool,
    pub file_locks: bool,
    pub pre_dump: bool,
    /// soft, full, strict or ignore (CRIU's default: soft).
    pub manage_cgroups_mode: Option<String>,
    /// Namespaces made empty on restore: only `network`, as with runc.
    pub empty_ns: Vec<String>,
    pub auto_dedup: bool,
}

impl CriuOptions {
    pub(super) fn work(&self) -> &Path {
        self.work_path.as_deref().unwrap_or(&self.image_path)
    }

    /// The CRIU flags both directions take.
    pub(super) fn common_args(&self) -> Result<Vec<String>> {
        let mut a: Vec<String> = vec!["-D".into(), path_arg(&self.image_path)];
        for (on, flag) in [
            (self.tcp_established, "--tcp-established"),
            (self.tcp_skip_in_flight, "--skip-in-flight"),
            (self.link_remap, "--link-remap"),
            (self.ext_unix_sk, "--ext-unix-sk"),
            (self.shell_job, "--shell-job"),
            (self.file_locks, "--file-locks"),
            (self.auto_dedup, "--auto-dedup"),
        ] {
            if on {
                a.push(flag.into());
            }
        }
        if let Some(m) = &self.manage_cgroups_mode {
            if !["soft", "full", "strict", "ignore"].contains(&m.as_str()) {
                return Err(Error::Other(format!(
                    "--manage-cgroups-mode {m:?}: must be soft, full, strict or ignore"
                )));
            }
            a.push(format!("--manage-cgroups={m}"));
        } else {
            a.push("--manage-cgroups".into());
        }
        for ns in &self.empty_ns {
            if ns != "network" {
                return Err(Error::Other(format!(
                    "--empty-ns {ns:?}: only network can be left empty (as with runc)"
                )));
            }
            a.extend(["--empty-ns".into(), "net".into()]);
        }
        Ok(a)
    }
}

fn path_arg(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Dumps container `id` with CRIU.
pub fn checkpoint(root: &Path, id: &str, o: &CriuOptions, warn: &dyn Fn(&str)) -> Result<()> {
    let criu = criu::find()?;
    let dir = StateDir::open(root, id)?;
    let saved = dir.load()?.ok_or_else(|| Error::NotFound(id.to_string()))?;
    let status = dir.status(Some(&saved));
    if !matches!(status, Status::Running | Status::Paused) {
        return Err(Error::BadStatus {
            id: id.to_string(),
            status: status.as_str(),
            msg: "only a running or paused container can be checkpointed",
        });
    }
    let bundle = Bundle::load(&saved.bundle)?;
    for (p, what) in [
        (&o.image_path, "--image-path"),
        (&o.work().to_path_buf(), "--work-path"),
    ] {
        std::fs::create_dir_all(p).map_err(|e| Error::io(what, p, e))?;
    }
    let mut args = o.common_args()?;
    args.extend(["-t".into(), saved.pid.to_string()]);
    let rootfs = saved.rootfs.canonicalize().unwrap_or(saved.rootfs.clone());
    args.extend(["--root".into(), path_arg(&rootfs)]);
    if let Some(p) = &o.parent_path {
        args.extend([
            "--prev-images-dir".into(),
            path_arg(p),
            "--track-mem".into(),
        ]);
    }
    let action = if o.pre_dump {
        args.push("--track-mem".into());
        "pre-dump"
    } else {
        if o.leave_running {
            args.push("--leave-running".into());
        }
        "dump"
    };
    if let Some(cg) = saved.cgroup.as_ref().and_then(|c| c.dir_of("freezer")) {
        args.extend(["--freeze-cgroup".into(), path_arg(cg)]);
    }
    for (key, _) in external_mounts(&bundle.spec, &bundle.dir) {
        args.extend(["--external".into(), format!("mnt[{key}]:{key}")]);
    }
    args.extend(super::criu_fds::dump(
        saved.pid,
        &o.image_path,
        terminal(&bundle.spec),
    )?);
    for (ino, key) in external_namespaces(&bundle.spec)? {
        args.extend(["--external".into(), format!("net[{ino}]:{key}")]);
    }
    let log = if o.pre_dump {
        "pre-dump.log"
    } else {
        "dump.log"
    };
    criu::run(&criu, action, &args, o.work(), log, None)?;
    if !o.pre_dump && !o.leave_running {
        // CRIU killed the tree: the container is gone, and so is its state.
        drop(dir);
        delete(root, id, true, warn)?;
    }
    Ok(())
}

fn terminal(spec: &Spec) -> bool {
    spec.process().as_ref().and_then(|p| p.terminal()) == Some(true)
}

/// The container's mounts that come from the host, as (key, host path): the key is the
/// destination in the container. Binds (their source), masked files (the host's
/// /dev/null, under the key /dev/null as runc does) and the device nodes.
pub(super) fn external_mounts(spec: &Spec, bundle: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    for m in spec.mounts().iter().flatten() {
        if crate::rootfs::is_bind(m) {
            if let Some(src) = m.source() {
                out.push((path_arg(m.destination()), bundle.join(src)));
            }
        }
    }
    let linux = spec.linux().as_ref();
    let masked = linux.and_then(|l| l.masked_paths().as_ref());
    if masked.is_some_and(|m| !m.is_empty()) {
        out.push(("/dev/null".into(), "/dev/null".into()));
    }
    for d in linux
        .and_then(|l| l.devices().as_ref())
        .into_iter()
        .flatten()
    {
        out.push((path_arg(d.path()), d.path().clone()));
    }
    out.sort();
    out.dedup();
    out
}

/// The network namespace the container joined by path, as (inode, key): CRIU must not
/// dump it, and `restore` hands the same namespace back under the key.
pub(super) fn external_namespaces(spec: &Spec) -> Result<Vec<(u64, String)>> {
    let mut out = Vec::new();
    let namespaces = spec.linux().as_ref().and_then(|l| l.namespaces().as_ref());
    for ns in namespaces.into_iter().flatten() {
        if let (LinuxNamespaceType::Network, Some(p)) = (ns.typ(), ns.path()) {
            let st = nix::sys::stat::stat(p)
                .map_err(|e| Error::sys(format!("linux.namespaces: stat {}", p.display()), e))?;
            out.push((st.st_ino, NET_KEY.to_string()));
        }
    }
    Ok(out)
}

/// The key of an external network namespace (runc's name for it).
pub(super) const NET_KEY: &str = "extRootNetNS";
