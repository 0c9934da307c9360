//! The container's state directory under the runtime root, and its status.
//!
//! The root is opened and checked by [`crate::rootdir`]; every file below is reached
//! through its fd, never by path, and is 0600 (directories 0700). Layout of
//! `<root>/<id>/`:
//! - `state.json`: what `create` learnt (pid, the pid's start time, bundle, creation time);
//!   written once the init is ready, replaced atomically (temporary file, fdatasync,
//!   rename).
//! - `exec.fifo`: exists from `create` until `start`; the init blocks reading it.
//! - `cgroup.json`: the container's cgroup, written by `create` once it has claimed the
//!   cgroup and before it makes it, so that `delete` finds it even when `create` died
//!   before `state.json`.
//! - `creating`: exists while `create` works (its hooks may ask for the state); an
//!   init that is alive while it exists is still being created.
//! - `notify/`: with `NOTIFY_SOCKET`, bound into the container (see `container::notify`).
//! - `netns`, `netdevices.json`: with `linux.netDevices`, the pinned network namespace
//!   and the interfaces moved into it (see `netdev`).
//! - `ptrace`: an `exec` gave a process of the container CAP_SYS_PTRACE over the host's
//!   user namespace (see `trampoline::usable_for_exec`).
//!
//! Every command that changes something holds an exclusive `flock` on the directory
//! while it works, so two invocations on one id are serialised (`state`, `ps` and
//! `events` only read, without it; an `exec` through the trampoline holds a shared one
//! while its process sets itself up). The status is never stored: it is derived
//! from the kernel each time (is the pid alive with the same start time, not a zombie,
//! does the fifo still exist, is the cgroup frozen), so a recycled pid or a crashed corral cannot make
//! `state` lie.

use crate::rootdir::{self, Root, DIR_MODE, FILE_MODE};
use crate::{id, Error, Result};
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use nix::unistd::UnlinkatFlags;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

const STATE_FILE: &str = "state.json";
const FIFO: &str = "exec.fifo";
const CGROUP_FILE: &str = "cgroup.json";
const CREATING: &str = "creating";
/// See [`StateDir::mark_ptrace`].
const PTRACE_FILE: &str = "ptrace";

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
    /// config.json had no `process` at create: the init waits with nothing to exec, and
    /// `start` refuses (config.md: process "is REQUIRED when start is called").
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_process: bool,
    /// Created by a corral whose `exec`s mark the container when they give a process
    /// CAP_SYS_PTRACE (`StateDir::mark_ptrace`): only then does the absence of the mark
    /// say that no process of it may hold the capability. Absent (false) in the state of
    /// an earlier corral's container, and for a restored one, whose processes come from
    /// a checkpoint the mark did not travel with.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ptrace_marked_since_create: bool,
}

impl Saved {
    /// What `create` and `restore` record for a new init `pid` (started at `pid_start`)
    /// of `bundle`, created now by the caller.
    pub fn of_new_init(
        id: &str,
        bundle: &crate::bundle::Bundle,
        (pid, pid_start): (i32, u64),
        own_pid_ns: bool,
        cgroup: Option<corral_cgroups::Cgroup>,
    ) -> Self {
        Saved {
            id: id.to_string(),
            pid,
            pid_start,
            bundle: bundle.dir.clone(),
            rootfs: bundle.rootfs.clone(),
            created: crate::timefmt::now_rfc3339(),
            owner: nix::unistd::geteuid().as_raw(),
            annotations: bundle
                .spec
                .annotations()
                .clone()
                .unwrap_or_default()
                .into_iter()
                .collect(),
            own_pid_ns,
            cgroup,
            resources: bundle.resources.clone(),
            hooks: bundle.spec.hooks().clone(),
            host_mount: None,
            no_process: bundle.spec.process().is_none(),
            ptrace_marked_since_create: false,
        }
    }
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

/// A container's directory under the root, opened through the root's fd without
/// following symlinks (see `rootdir`); its fd also holds the lock.
pub struct StateDir {
    pub id: String,
    /// `<root>/<id>`, for messages only: nothing is opened by this path.
    pub dir: PathBuf,
    root: Root,
    fd: OwnedFd,
}

impl StateDir {
    /// Claims `id` under `root` (made if missing): fails if the container exists.
    pub fn create(root: &Path, id: &str) -> Result<Self> {
        id::check(id)?;
        let root = Root::create(root)?;
        let path = root.path.join(id);
        match nix::sys::stat::mkdirat(Some(root.fd()), id, Mode::from_bits_truncate(DIR_MODE)) {
            Ok(()) => {}
            Err(nix::Error::EEXIST) => return Err(Error::Exists(id.to_string())),
            Err(e) => return Err(Error::sys(format!("mkdir {}", path.display()), e)),
        }
        let fd = match rootdir::open_dir_at(root.fd(), id) {
            Ok(fd) => fd,
            Err(e) => {
                let _ = nix::unistd::unlinkat(Some(root.fd()), id, UnlinkatFlags::RemoveDir);
                return Err(Error::sys(format!("open {}", path.display()), e));
            }
        };
        let dir = StateDir {
            id: id.to_string(),
            dir: path,
            root,
            fd,
        };
        // The marker is empty (its name is all it says) and the directory was made just
        // now: it is made in place, with no temporary file to remove first and rename.
        let marked = rootdir::lock(dir.fd()).and_then(|()| {
            let flags = OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL;
            rootdir::open_at(dir.fd(), CREATING, flags, FILE_MODE).map(drop)
        });
        match marked {
            Ok(()) => Ok(dir),
            Err(e) => {
                let what = format!("mark {} as being created", dir.dir.display());
                let _ = dir.remove();
                Err(Error::sys(what, e))
            }
        }
    }

    /// Opens and locks an existing container's directory.
    pub fn open(root: &Path, id: &str) -> Result<Self> {
        let dir = StateDir::find(root, id)?;
        rootdir::lock(dir.fd())
            .map_err(|e| Error::sys(format!("lock {}", dir.dir.display()), e))?;
        // A delete that held the lock before us may have removed the directory.
        if !dir.exists() {
            return Err(Error::NotFound(id.to_string()));
        }
        Ok(dir)
    }

    /// Opens an existing container's directory to read it, without the lock: for
    /// `state`, `ps` and `events`, which change nothing. state.json is replaced whole
    /// (rename), so a reader sees the old or the new one; and a hook that `create` or
    /// `start` runs (holding the lock) can still ask for the container's state.
    pub fn peek(root: &Path, id: &str) -> Result<Self> {
        StateDir::find(root, id)
    }

    fn find(root: &Path, id: &str) -> Result<Self> {
        id::check(id)?;
        StateDir::locate(Root::open(root)?, id)?.ok_or_else(|| Error::NotFound(id.to_string()))
    }

    /// The directory `id` of `root` (`None` if either is missing); a symlink there is
    /// an error, never followed.
    fn locate(root: Option<Root>, id: &str) -> Result<Option<Self>> {
        let Some(root) = root else {
            return Ok(None);
        };
        let dir = root.path.join(id);
        match rootdir::open_dir_at(root.fd(), id) {
            Ok(fd) => Ok(Some(StateDir {
                id: id.to_string(),
                dir,
                root,
                fd,
            })),
            Err(nix::Error::ENOENT) => Ok(None),
            Err(e) => Err(not_a_dir(&dir, e)),
        }
    }

    fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Whether the directory is still there (a delete may have removed it).
    pub fn exists(&self) -> bool {
        nix::sys::stat::fstat(self.fd()).is_ok_and(|st| st.st_nlink > 0)
    }

    /// `create` is done: from now on the status is derived from the init and the fifo.
    pub fn created(&self) -> Result<()> {
        self.unlink(CREATING)
    }

    fn unlink(&self, name: &str) -> Result<()> {
        nix::unistd::unlinkat(Some(self.fd()), name, UnlinkatFlags::NoRemoveDir)
            .map_err(|e| Error::sys(format!("remove {}", self.dir.join(name).display()), e))
    }

    /// The fds a forked child must close: the lock and the root.
    pub fn parent_fds(&self) -> [RawFd; 2] {
        [self.fd(), self.root.fd()]
    }

    /// Makes exec.fifo (mode 0600) and opens it read-write, non-blocking.
    pub fn make_fifo(&self) -> Result<OwnedFd> {
        let path = self.dir.join(FIFO);
        nix::unistd::mkfifoat(Some(self.fd()), FIFO, Mode::from_bits_truncate(FILE_MODE))
            .map_err(|e| Error::sys(format!("mkfifo {}", path.display()), e))?;
        self.open_fifo(OFlag::O_RDWR)
            .map_err(|e| Error::sys(format!("open {}", path.display()), e))
    }

    /// Opens exec.fifo non-blocking with `flags` (never through a symlink).
    pub fn open_fifo(&self, flags: OFlag) -> nix::Result<OwnedFd> {
        let fd = rootdir::open_at(self.fd(), FIFO, flags | OFlag::O_NONBLOCK, 0)?;
        let st = nix::sys::stat::fstat(fd.as_raw_fd())?;
        if st.st_mode & libc::S_IFMT != libc::S_IFIFO {
            return Err(nix::Error::EINVAL);
        }
        Ok(fd)
    }

    /// `start` is done with exec.fifo.
    pub fn remove_fifo(&self) -> Result<()> {
        self.unlink(FIFO)
    }

    /// The name of exec.fifo, for messages.
    pub fn fifo_path(&self) -> PathBuf {
        self.dir.join(FIFO)
    }

    /// Makes the subdirectory `name` with `mode` and opens it (see `activation`).
    pub fn make_subdir(&self, name: &str, mode: u32) -> Result<OwnedFd> {
        let path = self.dir.join(name);
        nix::sys::stat::mkdirat(Some(self.fd()), name, Mode::from_bits_truncate(mode))
            .and_then(|()| rootdir::open_dir_at(self.fd(), name))
            .map_err(|e| Error::sys(format!("mkdir {}", path.display()), e))
    }

    /// The subdirectory `name`, `None` if it does not exist.
    pub fn subdir(&self, name: &str) -> Result<Option<OwnedFd>> {
        match rootdir::open_dir_at(self.fd(), name) {
            Ok(fd) => Ok(Some(fd)),
            Err(nix::Error::ENOENT) => Ok(None),
            Err(e) => Err(not_a_dir(&self.dir.join(name), e)),
        }
    }

    pub fn save(&self, saved: &Saved) -> Result<()> {
        let data = serde_json::to_vec(saved).expect("state serialises");
        self.write(STATE_FILE, &data)
    }

    /// Replaces the file `name` of the dir with `data` atomically (see `rootdir`).
    pub fn write(&self, name: &str, data: &[u8]) -> Result<()> {
        let path = self.dir.join(name);
        rootdir::write_atomic(self.fd(), name, data).map_err(|e| match e {
            nix::Error::ELOOP => symlink_refused(&path),
            e => Error::sys(format!("write {}", path.display()), e),
        })
    }

    /// Records that a process of the container may hold CAP_SYS_PTRACE over the host's
    /// user namespace (an `exec` gave it one): later `exec`s run from the
    /// write-protected copy, not through the trampoline (see
    /// `trampoline::usable_for_exec`). Written under the exclusive lock.
    pub fn mark_ptrace(&self) -> Result<()> {
        self.write(PTRACE_FILE, b"")
    }

    /// Whether [`mark_ptrace`](Self::mark_ptrace) was called.
    pub fn ptrace_marked(&self) -> bool {
        rootdir::exists_at(self.fd(), PTRACE_FILE)
    }

    /// Trades the exclusive lock for a shared one (not atomically: what the lock guards
    /// must be read again after it): `exec`s through the trampoline hold it until their
    /// process has left corral, so that an `exec` that marks the container (which takes
    /// the exclusive lock) waits for them.
    pub fn share_lock(&self) -> Result<()> {
        // SAFETY: flock takes an fd and a plain integer.
        nix::errno::Errno::result(unsafe { libc::flock(self.fd(), libc::LOCK_SH) })
            .map(drop)
            .map_err(|e| Error::sys(format!("lock {} (shared)", self.dir.display()), e))
    }

    /// The saved state, or `None` while `create` has not finished (or died half way).
    pub fn load(&self) -> Result<Option<Saved>> {
        self.read_json(STATE_FILE)
    }

    /// Records the cgroup `create` claimed (see the module's layout).
    pub fn save_cgroup(&self, cg: &corral_cgroups::Cgroup) -> Result<()> {
        let data = serde_json::to_vec(cg).expect("cgroup serialises");
        self.write(CGROUP_FILE, &data)
    }

    /// The cgroup `create` claimed, if it got that far.
    pub fn load_cgroup(&self) -> Result<Option<corral_cgroups::Cgroup>> {
        self.read_json(CGROUP_FILE)
    }

    /// The cgroups of the other containers under the root (as far as they can be read).
    pub fn others_cgroups(&self) -> Vec<corral_cgroups::Cgroup> {
        let names = self.root.dir_names().unwrap_or_default();
        names
            .iter()
            .filter(|n| **n != self.id && id::check(n).is_ok())
            .filter_map(|n| rootdir::open_dir_at(self.root.fd(), n).ok())
            .filter_map(|fd| rootdir::read_at(fd.as_raw_fd(), CGROUP_FILE).ok().flatten())
            .filter_map(|data| serde_json::from_slice(&data).ok())
            .collect()
    }

    /// Holds an exclusive lock on the whole root until the guard is dropped: for the
    /// cgroup parents containers share (made by one, removed by the last).
    pub fn lock_root(&self) -> Result<OwnedFd> {
        let path = &self.root.path;
        // A new open file description of the root: flock locks belong to those.
        let fd = rootdir::open_dir_at(self.root.fd(), ".")
            .map_err(|e| Error::sys(format!("open state root {}", path.display()), e))?;
        rootdir::lock(fd.as_raw_fd())
            .map_err(|e| Error::sys(format!("lock state root {}", path.display()), e))?;
        Ok(fd)
    }

    /// The regular file `name` of the dir, `None` if it does not exist.
    pub fn read(&self, name: &str) -> Result<Option<Vec<u8>>> {
        rootdir::read_at(self.fd(), name).map_err(|e| match e {
            nix::Error::ELOOP => symlink_refused(&self.dir.join(name)),
            e => Error::sys(format!("read {}", self.dir.join(name).display()), e),
        })
    }

    /// Whether the dir has an entry `name` (a symlink is not followed).
    pub fn has(&self, name: &str) -> bool {
        rootdir::exists_at(self.fd(), name)
    }

    /// Opens `name` of the dir with `flags`, never through a symlink (`O_CREAT` makes
    /// it 0600).
    pub fn open_at(&self, name: &str, flags: OFlag) -> Result<OwnedFd> {
        rootdir::open_at(self.fd(), name, flags, FILE_MODE).map_err(|e| match e {
            nix::Error::ELOOP => symlink_refused(&self.dir.join(name)),
            e => Error::sys(format!("open {}", self.dir.join(name).display()), e),
        })
    }

    /// The JSON file `name` of the dir, `None` if it does not exist.
    fn read_json<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<Option<T>> {
        let path = self.dir.join(name);
        match self.read(name)? {
            Some(data) => serde_json::from_slice(&data)
                .map(Some)
                .map_err(|err| Error::CorruptState { path, err }),
            None => Ok(None),
        }
    }

    pub fn status(&self, saved: Option<&Saved>) -> Status {
        let Some(saved) = saved else {
            return Status::Creating;
        };
        if !process_alive(saved.pid, saved.pid_start) {
            return Status::Stopped;
        }
        if rootdir::exists_at(self.fd(), CREATING) {
            Status::Creating
        } else if rootdir::exists_at(self.fd(), FIFO) {
            Status::Created
        } else if saved.cgroup.as_ref().is_some_and(|c| c.frozen()) {
            Status::Paused
        } else {
            Status::Running
        }
    }

    /// Removes the directory and everything in it; the lock goes with it.
    pub fn remove(self) -> Result<()> {
        let fail = |e| Error::sys(format!("remove {}", self.dir.display()), e);
        rootdir::empty_dir(self.fd()).map_err(fail)?;
        nix::unistd::unlinkat(
            Some(self.root.fd()),
            self.id.as_str(),
            UnlinkatFlags::RemoveDir,
        )
        .map_err(fail)
    }
}

fn symlink_refused(path: &Path) -> Error {
    Error::Other(format!(
        "{} is a symbolic link, which corral does not follow",
        path.display()
    ))
}

/// Why `path` (expected to be a directory) could not be opened.
fn not_a_dir(path: &Path, e: nix::Error) -> Error {
    match e {
        // O_NOFOLLOW on a symlink gives ELOOP (ENOTDIR with O_DIRECTORY on some).
        nix::Error::ELOOP | nix::Error::ENOTDIR => Error::Other(format!(
            "{} is not a directory (a symbolic link or a file in its place): \
             corral does not follow it",
            path.display()
        )),
        e => Error::sys(format!("open {}", path.display()), e),
    }
}

/// Field 3 (state) and field 22 (start time) of /proc/PID/stat.
pub fn proc_stat(pid: i32) -> Option<(char, u64)> {
    let stat = corral_cgroups::read_small(Path::new(&format!("/proc/{pid}/stat"))).ok()?;
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
    let Some(root) = Root::open(root)? else {
        return Ok(vec![]);
    };
    let mut ids: Vec<String> = root
        .dir_names()?
        .into_iter()
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
