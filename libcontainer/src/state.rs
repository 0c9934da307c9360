//! The container's state directory under the runtime root, and its status.
//!
//! Layout of `<root>/<id>/`:
//! - `state.json`: what `create` learnt (pid, the pid's start time, bundle, creation time);
//!   written once the init is ready, replaced atomically.
//! - `exec.fifo`: exists from `create` until `start`; the init blocks reading it.
//! - `cgroup.json`: the container's cgroup, written by `create` once it has claimed the
//!   cgroup and before it makes it, so that `delete` finds it even when `create` died
//!   before `state.json`.
//! - `creating`: exists while `create` works (its hooks may ask for the state); an
//!   init that is alive while it exists is still being created.
//! - `notify/`: with `NOTIFY_SOCKET`, bound into the container (see `container::notify`).
//!
//! Every command that changes something holds an exclusive `flock` on the directory
//! while it works, so two invocations on one id are serialised (`state`, `ps` and
//! `events` only read, without it). The status is never stored: it is derived
//! from the kernel each time (is the pid alive with the same start time, not a zombie,
//! does the fifo still exist, is the cgroup frozen), so a recycled pid or a crashed corral cannot make
//! `state` lie.

use crate::{id, Error, Result};
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

const STATE_FILE: &str = "state.json";
const FIFO: &str = "exec.fifo";
const CGROUP_FILE: &str = "cgroup.json";
const CREATING: &str = "creating";

/// What `create` records about a container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Saved {
    pub id: String,
    pub pid: i32,
    /// Start time of `pid` in clock ticks since boot (field 22 of /proc/PID/stat).
    pub pid_start: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    pub owner: u32,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// The init has a pid namespace of its own (so killing it ends every process).
    pub own_pid_ns: bool,
    /// The container's cgroup (absent in rootless mode), removed by `delete`.
    #[serde(default)]
    pub cgroup: Option<corral_cgroups::Cgroup>,
    /// `linux.resources` as config.json gave them, with every `update` since merged in
    /// (JSON: typed only when used, which keeps the state code small).
    #[serde(default)]
    pub resources: Option<serde_json::Value>,
    /// The config's hooks: `start` and `delete` run the later ones from here, as the
    /// config may have changed since (runtime.md: it must not affect the container).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hooks: Option<oci_spec::runtime::Hooks>,
    /// Without a mount namespace of its own: the mount ID of the rootfs bind the init
    /// made in the host's mount namespace, which `delete` detaches (see `rootfs::host`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_mount: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Creating,
    Created,
    Running,
    /// Running, but its cgroup is frozen (`pause`).
    Paused,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

/// A locked container directory.
pub struct StateDir {
    pub id: String,
    pub dir: PathBuf,
    _lock: OwnedFd,
}

fn lock_dir(dir: &Path) -> nix::Result<OwnedFd> {
    let fd = nix::fcntl::open(
        dir,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    // SAFETY: open returned a new fd that nothing else owns.
    let fd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    // SAFETY: flock takes an fd we own and a plain integer.
    nix::errno::Errno::result(unsafe { libc::flock(fd.as_raw_fd(), libc::LOCK_EX) })?;
    Ok(fd)
}

/// The root directory, created (mode 0700) if missing. When corral is not root, the
/// root must be its own: a directory another user made (say in /tmp, the fallback when
/// $XDG_RUNTIME_DIR is unset) would let that user tamper with the state.
pub fn ensure_root(root: &Path) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(root)
        .map_err(|e| Error::io("cannot create state root", root, e))?;
    let euid = nix::unistd::geteuid().as_raw();
    let meta = std::fs::metadata(root).map_err(|e| Error::io("cannot stat state root", root, e))?;
    if euid != 0 && meta.uid() != euid {
        return Err(Error::Other(format!(
            "state root {} belongs to uid {}, not to uid {euid} that corral runs as: pass --root",
            root.display(),
            meta.uid()
        )));
    }
    Ok(())
}

impl StateDir {
    /// Claims `id` under `root`: fails if the container exists.
    pub fn create(root: &Path, id: &str) -> Result<Self> {
        id::check(id)?;
        ensure_root(root)?;
        let dir = root.join(id);
        match nix::unistd::mkdir(&dir, Mode::from_bits_truncate(0o711)) {
            Ok(()) => {}
            Err(nix::Error::EEXIST) => return Err(Error::Exists(id.to_string())),
            Err(e) => return Err(Error::sys(format!("mkdir {}", dir.display()), e)),
        }
        let marked = lock_dir(&dir)
            .map_err(|e| Error::sys(format!("lock {}", dir.display()), e))
            .and_then(|lock| {
                let marker = dir.join(CREATING);
                std::fs::write(&marker, b"").map_err(|e| Error::io("cannot write", &marker, e))?;
                Ok(lock)
            });
        match marked {
            Ok(lock) => Ok(StateDir {
                id: id.to_string(),
                dir,
                _lock: lock,
            }),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                Err(e)
            }
        }
    }

    /// Opens and locks an existing container's directory.
    pub fn open(root: &Path, id: &str) -> Result<Self> {
        id::check(id)?;
        let dir = root.join(id);
        let lock = match lock_dir(&dir) {
            Ok(l) => l,
            Err(nix::Error::ENOENT) => return Err(Error::NotFound(id.to_string())),
            Err(e) => return Err(Error::sys(format!("lock {}", dir.display()), e)),
        };
        // A delete that held the lock before us may have removed the directory.
        let st = nix::sys::stat::fstat(lock.as_raw_fd())
            .map_err(|e| Error::sys(format!("stat {}", dir.display()), e))?;
        if st.st_nlink == 0 {
            return Err(Error::NotFound(id.to_string()));
        }
        Ok(StateDir {
            id: id.to_string(),
            dir,
            _lock: lock,
        })
    }

    /// Opens an existing container's directory to read it, without the lock: for
    /// `state`, `ps` and `events`, which change nothing. state.json is replaced whole
    /// (rename), so a reader sees the old or the new one; and a hook that `create` or
    /// `start` runs (holding the lock) can still ask for the container's state.
    pub fn peek(root: &Path, id: &str) -> Result<Self> {
        id::check(id)?;
        let dir = root.join(id);
        let fd = match nix::fcntl::open(
            &dir,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(nix::Error::ENOENT) => return Err(Error::NotFound(id.to_string())),
            Err(e) => return Err(Error::sys(format!("open {}", dir.display()), e)),
        };
        Ok(StateDir {
            id: id.to_string(),
            dir,
            // SAFETY: open returned a new fd that nothing else owns.
            _lock: unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) },
        })
    }

    /// `create` is done: from now on the status is derived from the init and the fifo.
    pub fn created(&self) -> Result<()> {
        let marker = self.dir.join(CREATING);
        std::fs::remove_file(&marker).map_err(|e| Error::io("cannot remove", &marker, e))
    }

    /// The fd holding the lock, which a forked child must close.
    pub fn lock_fd(&self) -> std::os::fd::RawFd {
        self._lock.as_raw_fd()
    }

    pub fn fifo_path(&self) -> PathBuf {
        self.dir.join(FIFO)
    }

    pub fn save(&self, saved: &Saved) -> Result<()> {
        let tmp = self.dir.join(".state.json.tmp");
        let data = serde_json::to_vec(saved).expect("state serialises");
        std::fs::write(&tmp, data).map_err(|e| Error::io("cannot write", &tmp, e))?;
        let path = self.dir.join(STATE_FILE);
        std::fs::rename(&tmp, &path).map_err(|e| Error::io("cannot write", &path, e))
    }

    /// The saved state, or `None` while `create` has not finished (or died half way).
    pub fn load(&self) -> Result<Option<Saved>> {
        self.read_json(STATE_FILE)
    }

    /// Records the cgroup `create` claimed (see the module's layout).
    pub fn save_cgroup(&self, cg: &corral_cgroups::Cgroup) -> Result<()> {
        let path = self.dir.join(CGROUP_FILE);
        let data = serde_json::to_vec(cg).expect("cgroup serialises");
        std::fs::write(&path, data).map_err(|e| Error::io("cannot write", &path, e))
    }

    /// The cgroup `create` claimed, if it got that far.
    pub fn load_cgroup(&self) -> Result<Option<corral_cgroups::Cgroup>> {
        self.read_json(CGROUP_FILE)
    }

    /// The JSON file `name` of the dir, `None` if it does not exist.
    fn read_json<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<Option<T>> {
        let path = self.dir.join(name);
        match std::fs::read(&path) {
            Ok(data) => serde_json::from_slice(&data)
                .map(Some)
                .map_err(|e| Error::Other(format!("corrupt state file {}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("cannot read", &path, e)),
        }
    }

    pub fn status(&self, saved: Option<&Saved>) -> Status {
        let Some(saved) = saved else {
            return Status::Creating;
        };
        if !process_alive(saved.pid, saved.pid_start) {
            return Status::Stopped;
        }
        if self.dir.join(CREATING).exists() {
            Status::Creating
        } else if self.fifo_path().exists() {
            Status::Created
        } else if saved.cgroup.as_ref().is_some_and(|c| c.frozen()) {
            Status::Paused
        } else {
            Status::Running
        }
    }

    /// Removes the directory and everything in it; the lock goes with it.
    pub fn remove(self) -> Result<()> {
        std::fs::remove_dir_all(&self.dir).map_err(|e| Error::io("cannot remove", &self.dir, e))
    }
}

/// Field 3 (state) and field 22 (start time) of /proc/PID/stat.
pub fn proc_stat(pid: i32) -> Option<(char, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split(' ');
    let state = fields.next()?.chars().next()?;
    let start = fields.nth(18)?.parse().ok()?;
    Some((state, start))
}

/// Whether `pid` is the same live (not zombie) process that started at `start`.
pub fn process_alive(pid: i32, start: u64) -> bool {
    matches!(proc_stat(pid), Some((state, s)) if s == start && state != 'Z' && state != 'X')
}

/// The state JSON of runtime-spec `runtime.md`, with runc's extra fields.
pub fn oci_state(saved: &Saved, status: Status) -> serde_json::Value {
    let pid = if status == Status::Stopped {
        0
    } else {
        saved.pid
    };
    let mut v = serde_json::json!({
        "ociVersion": crate::OCI_VERSION,
        "id": saved.id,
        "pid": pid,
        "status": status.as_str(),
        "bundle": saved.bundle,
        "rootfs": saved.rootfs,
        "created": saved.created,
        "owner": if saved.owner == 0 { String::new() } else { saved.owner.to_string() },
    });
    if !saved.annotations.is_empty() {
        v["annotations"] = serde_json::json!(saved.annotations);
    }
    v
}

/// The ids of the containers under `root`, sorted.
pub fn list_ids(root: &Path) -> Result<Vec<String>> {
    let entries = match std::fs::read_dir(root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
        Err(e) => return Err(Error::io("cannot read", root, e)),
    };
    let mut ids: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| id::check(n).is_ok())
        .collect();
    ids.sort();
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_stat_parses() {
        let me = std::process::id() as i32;
        let (state, start) = proc_stat(me).unwrap();
        // The test harness's main thread may be running or sleeping, never a zombie.
        assert!(matches!(state, 'R' | 'S'), "state {state}");
        assert!(process_alive(me, start));
        assert!(!process_alive(me, start + 1));
    }
}
