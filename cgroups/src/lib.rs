//! The container's cgroup: where it is, making it, limiting it, emptying and removing it.
//!
//! Two back ends, picked from the host's mounts: [`v1`] (legacy and hybrid hosts: one
//! hierarchy per controller under /sys/fs/cgroup, plus the controller-less cgroup2 of a
//! hybrid host) and [`v2`] (/sys/fs/cgroup is cgroup2 with the controllers). Both are
//! plain file writes; see README.md for why not cgroups-rs.
//!
//! - [`layout`] reads /proc/self/mountinfo and /proc/self/cgroup: which hierarchies exist
//!   and where this process is in each.
//! - [`check`] validates `linux.resources` for a cgroup version, before anything is made
//!   (and [`check::host`] what the host must have for it).
//! - [`sub`] resolves `exec --cgroup` sub-cgroups of a container's cgroup.
//! - [`freezer`], [`stats`] and `update`: pause/resume, `events`, live `update`.
//! - One file per controller added after the first ones, each with its checks and its
//!   v1 and v2 writes: [`blkio`], [`hugetlb`], [`rdma`], [`net`] (v1 only), [`unified`]
//!   (v2 only); [`systemd`] checks `--systemd-cgroup`.
//! - [`rootless`]: where a caller that is not root may have a cgroup (a delegated
//!   subtree), and which of its limits it may set there.
//! - [`Cgroup`] is the container's cgroup, one directory per hierarchy; it serialises
//!   into the container's state so that `delete` finds it again, with the [`driver`]
//!   that made it (cgroupfs v1, cgroupfs v2, systemd), which `create`, `apply` and
//!   `destroy` go through.

pub mod blkio;
pub mod bpf;
pub mod check;
pub mod dbus;
pub mod driver;
pub mod freezer;
pub mod hugetlb;
mod knob;
pub mod layout;
pub mod net;
pub mod pidfd;
pub mod rdma;
pub mod rootless;
pub mod sd_props;
pub mod stats;
pub mod sub;
pub mod systemd;
pub mod unified;
mod update;
pub mod v1;
pub mod v2;

use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use check::check;
pub use driver::Driver;
pub use sub::SubCgroups;

pub type Result<T> = std::result::Result<T, Error>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A field of `linux.resources` (or `linux.cgroupsPath`) has a value corral refuses.
    #[error("{field}: {msg}")]
    Invalid { field: String, msg: String },
    /// A field corral does not implement (on this cgroup version).
    #[error("{field}: not supported by corral yet{why}")]
    Unsupported { field: String, why: String },
    /// Writing a control file failed: the field it came from, the file, the errno.
    #[error("{field}: cannot write {value:?} to {path}: {err}")]
    Write {
        field: String,
        path: PathBuf,
        value: String,
        #[source]
        err: std::io::Error,
    },
    #[error("{what} {path}: {err}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        err: std::io::Error,
    },
    #[error("{0}")]
    Other(String),
}

impl Error {
    fn io(what: &'static str, path: &Path, err: std::io::Error) -> Self {
        Error::Io {
            what,
            path: path.to_path_buf(),
            err,
        }
    }
}

/// How a child about to be cloned enters the container's cgroup by itself, opened by
/// [`Cgroup::entry`] before the clone. A pid written to a v1 `cgroup.procs` by another
/// process moves the whole thread group under the kernel's global threadgroup lock,
/// whose write side waits for an RCU grace period (10 to 15 ms on this project's host
/// when containers start apart); a single thread that writes "0" to `tasks` moves itself
/// without that lock ("If we migrate a single thread ... we can skip the global lock",
/// kernel/cgroup/cgroup.c; older kernels take it either way). cgroup2 has clone3's
/// CLONE_INTO_CGROUP, which places the child as it is made.
#[derive(Debug)]
pub struct Entry {
    /// The cgroup2 directory to clone into: the cgroup on v2, the controller-less
    /// cgroup2 directory on a hybrid host.
    pub into: Option<std::fs::File>,
    /// Each v1 hierarchy's `tasks` file, open for writing: see [`Entry::enter`].
    pub tasks: Vec<(PathBuf, std::fs::File)>,
}

impl Entry {
    /// In the cloned child, before it does anything else: moves this process (a single
    /// thread: the clone of a single-threaded runtime) into every v1 hierarchy. The kernel
    /// checks the opener's credentials, the parent's; the files are close-on-exec.
    pub fn enter(&self) -> Result<()> {
        use std::io::Write;
        for (path, file) in &self.tasks {
            (&*file).write_all(b"0").map_err(|err| Error::Write {
                field: "linux.cgroupsPath".into(),
                path: path.clone(),
                value: "0".into(),
                err,
            })?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Version {
    V1,
    V2,
}

/// The container's directory in one hierarchy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dir {
    /// The hierarchy's controllers (`["cpu", "cpuacct"]`, `["name=systemd"]`); empty for a
    /// cgroup2 hierarchy.
    pub controllers: Vec<String>,
    /// The hierarchy's mount point, e.g. `/sys/fs/cgroup/memory`.
    pub mount: PathBuf,
    /// The container's directory on the host.
    pub path: PathBuf,
    /// The parents of `path` that [`Cgroup::create`] made for a nested cgroupsPath, or
    /// found made by another container that shares them (see `create`), the highest
    /// first: [`Cgroup::destroy`] removes those that are empty by then.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub made: Vec<PathBuf>,
}

/// The container's cgroup: one directory per hierarchy (exactly one on v2), and the
/// [`Driver`] that made it (every later operation goes through the same one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "Saved")]
pub struct Cgroup {
    pub version: Version,
    pub driver: Driver,
    /// [`Driver::SystemdUser`]: the socket of the user bus whose manager holds the
    /// scope, so that every later command asks the same manager.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bus: Option<String>,
    pub dirs: Vec<Dir>,
}

/// A [`Cgroup`] as a state file holds it: one written before the driver was recorded
/// names none, and its cgroup was made by cgroupfs.
#[derive(Deserialize)]
struct Saved {
    version: Version,
    #[serde(default)]
    driver: Option<Driver>,
    #[serde(default)]
    bus: Option<String>,
    dirs: Vec<Dir>,
}

impl From<Saved> for Cgroup {
    fn from(s: Saved) -> Cgroup {
        Cgroup {
            version: s.version,
            driver: s.driver.unwrap_or(Driver::cgroupfs(s.version)),
            bus: s.bus,
            dirs: s.dirs,
        }
    }
}

impl Cgroup {
    /// Where the container's cgroup goes on this host, from `linux.cgroupsPath`:
    /// absolute → below each hierarchy's root; relative → below the caller's own cgroup
    /// in each v1 hierarchy, below its parent on v2 (see [`layout::resolve`]); absent →
    /// the relative path `corral-<id>`.
    pub fn resolve(cgroups_path: Option<&str>, id: &str) -> Result<Cgroup> {
        let mountinfo = read("/proc/self/mountinfo")?;
        let own = read("/proc/self/cgroup")?;
        layout::resolve(&mountinfo, &own, cgroups_path, id)
    }

    /// The version of the host's cgroups (from /proc/self/mountinfo).
    pub fn host_version() -> Result<Version> {
        Ok(layout::version(&read("/proc/self/mountinfo")?))
    }

    /// The directory in the hierarchy that has `controller`, if the host has one.
    pub fn dir_of(&self, controller: &str) -> Option<&Path> {
        match self.version {
            Version::V2 => self.dirs.first().map(|d| d.path.as_path()),
            Version::V1 => self
                .dirs
                .iter()
                .find(|d| d.controllers.iter().any(|c| c == controller))
                .map(|d| d.path.as_path()),
        }
    }

    /// Makes every directory (and missing parents), recording in [`Dir::made`] the
    /// parents it made, and those that exist and for which `shared` is true (made by
    /// another container, which may be deleted first). Recorded as they are made, so
    /// that a `create` that fails half way knows what to remove too.
    pub fn create(&mut self, shared: &dyn Fn(&Path) -> bool) -> Result<()> {
        match self.driver {
            Driver::CgroupfsV1 => v1::create(self, shared),
            Driver::CgroupfsV2 => v2::create(self, shared),
            // systemd makes the scope's cgroup when the scope starts (systemd::Scope).
            Driver::Systemd | Driver::SystemdUser => Ok(()),
        }
    }

    /// Every parent directory recorded in [`Dir::made`], in every hierarchy.
    pub fn made(&self) -> impl Iterator<Item = &Path> {
        self.dirs
            .iter()
            .flat_map(|d| d.made.iter().map(PathBuf::as_path))
    }

    /// Writes `linux.resources` (checked with [`check`] first).
    pub fn apply(&self, r: &LinuxResources, extra_devices: &[DeviceRule]) -> Result<()> {
        match self.driver {
            Driver::CgroupfsV1 => v1::apply(self, r, extra_devices),
            Driver::CgroupfsV2 => v2::apply(self, r, extra_devices),
            Driver::Systemd | Driver::SystemdUser => systemd::update(self, r),
        }
    }

    /// Opens, before a clone, what lets the child enter the cgroup in every hierarchy
    /// without the parent moving it (see [`Entry`]); `None` when a v1 `tasks` file
    /// cannot be opened (then the parent moves the child with [`Cgroup::add_pid`]).
    pub fn entry(&self) -> Result<Option<Entry>> {
        let mut entry = Entry {
            into: None,
            tasks: Vec::new(),
        };
        for d in &self.dirs {
            if d.controllers.is_empty() {
                let dir = std::fs::File::open(&d.path)
                    .map_err(|e| Error::io("cannot open cgroup", &d.path, e))?;
                entry.into = Some(dir);
                continue;
            }
            let path = d.path.join("tasks");
            match std::fs::OpenOptions::new().write(true).open(&path) {
                Ok(f) => entry.tasks.push((path, f)),
                Err(e) => {
                    debug(|| format!("cgroup: cannot open {}: {e}", path.display()));
                    return Ok(None);
                }
            }
        }
        Ok(Some(entry))
    }

    /// Moves process `pid` into the cgroup, in every hierarchy.
    pub fn add_pid(&self, pid: i32) -> Result<()> {
        for d in &self.dirs {
            let path = d.path.join("cgroup.procs");
            debug(|| format!("cgroup: pid {pid} into {}", path.display()));
            std::fs::write(&path, pid.to_string()).map_err(|err| Error::Write {
                field: "linux.cgroupsPath".into(),
                path,
                value: pid.to_string(),
                err,
            })?;
        }
        Ok(())
    }

    /// The processes in the cgroup (in any hierarchy), sorted; empty if it is gone.
    pub fn pids(&self) -> Vec<i32> {
        pids_in(&self.subtrees())
    }

    /// Every cgroup of the container in every hierarchy, the deepest first.
    fn subtrees(&self) -> Vec<PathBuf> {
        self.dirs.iter().flat_map(|d| subtree(&d.path)).collect()
    }

    /// Kills every process left, waits until the cgroup is empty (at most 10 s) and
    /// removes the container's directory in every hierarchy, then the parents `create`
    /// made (see [`Dir::made`]) that are empty, the deepest first. Idempotent: a missing
    /// directory is no error.
    pub fn destroy(&self) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(10);
        // The usual case: every directory is an empty leaf, and one rmdir each removes it.
        // The kernel refuses (EBUSY) a cgroup with a process or a child cgroup; at the
        // first refusal the procedure below lists and kills what is left (a directory
        // removed here is then simply missing). A systemd scope goes with its unit.
        if !self.driver.is_systemd() && self.dirs.iter().all(|d| rmdir_if_empty(&d.path)) {
            for d in &self.dirs {
                remove_parents(d)?;
            }
            return Ok(());
        }
        // Otherwise a process or a sub-cgroup is left (exec --cgroup, or made by the
        // container): the processes are frozen where the freezer allows it and killed.
        // Only a process already in the subtree can add one to it, so an empty subtree
        // stays empty; rmdir below would fail on any other.
        // The subtree whose processes were last listed is the one removed below (listed
        // again after every kill: a process killed may have made a cgroup before dying).
        let mut tree = self.subtrees();
        let mut left = pids_in(&tree);
        if !left.is_empty() {
            debug(|| format!("cgroup: killing processes left: {left:?}"));
            match self.driver {
                Driver::CgroupfsV2 => v2::kill(self),
                Driver::CgroupfsV1 => self.kill_frozen(),
                Driver::Systemd | Driver::SystemdUser => v2::kill(self),
            }
            tree = self.subtrees();
            left = pids_in(&tree);
        }
        loop {
            if left.is_empty() {
                break;
            }
            if Instant::now() > deadline {
                return Err(Error::Other(format!(
                    "cgroup {}: processes {left:?} still there 10 s after SIGKILL",
                    self.dirs[0].path.display()
                )));
            }
            // v1 has no cgroup.kill; on v2 this only catches what raced cgroup.kill.
            for p in pidfd::pin_listed(|| self.pids()) {
                let _ = p.signal(libc::SIGKILL);
            }
            std::thread::sleep(Duration::from_millis(5));
            tree = self.subtrees();
            left = pids_in(&tree);
        }
        // A scope's unit goes once its processes are gone; systemd removes its cgroup
        // with it (the rmdirs below then find nothing, or what systemd left).
        if self.driver.is_systemd() {
            systemd::stop(self)?;
        }
        // Sub-cgroups (exec --cgroup, or made by the container itself) go first.
        for d in &tree {
            rmdir_retry(d, deadline)?;
        }
        for d in &self.dirs {
            remove_parents(d)?;
        }
        Ok(())
    }
}

/// One device rule. `None` for a number is the wildcard (`*`, `-1` in the spec).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRule {
    pub typ: char,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    pub access: String,
}

impl DeviceRule {
    /// Rule `i` of `linux.resources.devices` (its `allow` aside): an absent type is every
    /// device, an absent access is `rwm`, an absent or `-1` number any number.
    ///
    /// A number is what v1's `devices.allow` and v2's device program both carry: a u32.
    /// Anything else is refused rather than cut down (cut to 32 bits, 4294967297 would
    /// be 1, and `c 1:1` is /dev/mem).
    pub fn from_spec(d: &oci_spec::runtime::LinuxDeviceCgroup, i: usize) -> Result<Self> {
        let number = |v: Option<i64>, name: &str| match v {
            None | Some(-1) => Ok(None),
            Some(n) => u32::try_from(n).map(Some).map_err(|_| Error::Invalid {
                field: format!("linux.resources.devices[{i}].{name}"),
                msg: format!(
                    "{n} is neither -1 (any) nor a number from 0 to {}",
                    u32::MAX
                ),
            }),
        };
        Ok(DeviceRule {
            typ: d
                .typ()
                .map_or('a', |t| t.as_str().chars().next().unwrap_or('a')),
            major: number(d.major(), "major")?,
            minor: number(d.minor(), "minor")?,
            access: d.access().clone().unwrap_or_else(|| "rwm".into()),
        })
    }
}

/// Makes `d.path` below `d.mount` one level at a time, recording made (and `shared`)
/// parents in `d.made`; `before(parent)` runs before each level is made.
pub(crate) fn make_levels(
    d: &mut Dir,
    shared: &dyn Fn(&Path) -> bool,
    mut before: impl FnMut(&Path) -> Result<()>,
) -> Result<()> {
    let Ok(below) = d.path.strip_prefix(&d.mount) else {
        return Err(Error::Other(format!(
            "cgroup {} is not below its hierarchy {}",
            d.path.display(),
            d.mount.display()
        )));
    };
    let levels: Vec<_> = below.components().collect();
    let mut cur = d.mount.clone();
    for (i, c) in levels.iter().enumerate() {
        before(&cur)?;
        cur.push(c);
        let parent = i + 1 < levels.len();
        let ours = match std::fs::create_dir(&cur) {
            Ok(()) => {
                debug(|| format!("cgroup: made {}", cur.display()));
                true
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => shared(&cur),
            Err(e) => return Err(Error::io("cannot create cgroup", &cur, e)),
        };
        if parent && ours && !d.made.contains(&cur) {
            d.made.push(cur.clone());
        }
    }
    Ok(())
}

/// Removes the parents `create` made for `d`, the deepest first, as long as they are
/// empty. One that is not (EBUSY, ENOTEMPTY) holds another container's cgroup: it
/// stays, and so does everything above it; that container's delete removes them.
fn remove_parents(d: &Dir) -> Result<()> {
    for p in d.made.iter().rev() {
        match std::fs::remove_dir(p) {
            Ok(()) => debug(|| format!("cgroup: removed parent {}", p.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) if matches!(e.raw_os_error(), Some(libc::EBUSY | libc::ENOTEMPTY)) => break,
            Err(e) => return Err(Error::io("cannot remove cgroup", p, e)),
        }
    }
    Ok(())
}

/// Removes `path` if the kernel lets it (no process, no child cgroup); true when it is
/// gone.
fn rmdir_if_empty(path: &Path) -> bool {
    match std::fs::remove_dir(path) {
        Ok(()) => {
            debug(|| format!("cgroup: removed {}", path.display()));
            true
        }
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
    }
}

fn rmdir_retry(path: &Path, deadline: Instant) -> Result<()> {
    loop {
        match std::fs::remove_dir(path) {
            Ok(()) => {
                debug(|| format!("cgroup: removed {}", path.display()));
                return Ok(());
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            // EBUSY: an exiting task not yet gone from the cgroup.
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5))
            }
            Err(e) => return Err(Error::io("cannot remove cgroup", path, e)),
        }
    }
}

/// `dir` and every cgroup below it, the deepest first (the order rmdir needs); nothing
/// when `dir` does not exist (create's check that a new cgroup is free, mostly).
fn subtree(dir: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    match std::fs::read_dir(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return out,
        Err(_) => {}
        Ok(entries) => {
            for e in entries.flatten() {
                // file_type does not follow symlinks; cgroupfs has none.
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    out.extend(subtree(&e.path()));
                }
            }
        }
    }
    out.push(dir.to_path_buf());
    out
}

/// The processes in `dirs`, sorted, each once.
fn pids_in(dirs: &[PathBuf]) -> Vec<i32> {
    let mut v: Vec<i32> = dirs.iter().flat_map(|d| procs(d)).collect();
    v.sort_unstable();
    v.dedup();
    v
}

fn procs(dir: &Path) -> Vec<i32> {
    read_small(&dir.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

static DEBUG: std::sync::OnceLock<fn(&str)> = std::sync::OnceLock::new();

/// Where `--debug` lines about what the back ends make, write and remove go (set once by
/// the runtime; without it nothing is formatted).
pub fn set_debug(f: fn(&str)) {
    let _ = DEBUG.set(f);
}

/// A debug line; `text` runs only when [`set_debug`] was called.
pub(crate) fn debug(text: impl FnOnce() -> String) {
    if let Some(f) = DEBUG.get() {
        f(&text());
    }
}

fn read(path: &str) -> Result<String> {
    read_small(Path::new(path)).map_err(|e| Error::io("cannot read", Path::new(path), e))
}

/// The whole of a file the kernel makes up as it is read (/proc, cgroupfs). These
/// report size 0, so `std::fs::read_to_string` asks for the size (statx) and then reads
/// 32, 32, 64, 128, … bytes (seven calls for a 1 KiB mountinfo); a 4 KiB buffer from the
/// start takes two reads, the second seeing the end.
pub fn read_small(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 4096];
    let mut len = 0;
    loop {
        if len == buf.len() {
            buf.resize(len * 2, 0);
        }
        match file.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(len);
    String::from_utf8(buf).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// Writes `value` to `dir/file`, for `field` of `linux.resources`: the file must exist
/// (see [`knob`]: a create on cgroupfs would turn a missing file into EACCES).
pub(crate) fn write(dir: &Path, file: &str, value: &str, field: &str) -> Result<()> {
    knob::write_existing(dir, file, value, field)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(mount: &Path, rel: &str) -> Dir {
        Dir {
            controllers: vec![],
            mount: mount.to_path_buf(),
            path: mount.join(rel),
            made: vec![],
        }
    }

    /// Plain directories behave as cgroups here: rmdir of a non-empty one fails.
    #[test]
    fn parents_go_with_the_last_container() {
        let m = std::env::temp_dir().join(format!("corral-parents-{}", std::process::id()));
        std::fs::create_dir_all(m.join("pre")).unwrap();
        let mut a = dir(&m, "pre/s/t/a");
        make_levels(&mut a, &|_| false, |_| Ok(())).unwrap();
        assert_eq!(a.made, [m.join("pre/s"), m.join("pre/s/t")]);
        // b finds a's parents: shared, since a recorded them.
        let mut b = dir(&m, "pre/s/t/b");
        make_levels(&mut b, &|p| a.made.iter().any(|x| x == p), |_| Ok(())).unwrap();
        assert_eq!(b.made, a.made);
        std::fs::remove_dir(&a.path).unwrap();
        remove_parents(&a).unwrap();
        assert!(b.path.is_dir(), "b's parents stay while b is there");
        std::fs::remove_dir(&b.path).unwrap();
        remove_parents(&b).unwrap();
        assert!(!m.join("pre/s").exists());
        assert!(m.join("pre").is_dir(), "a parent made before is kept");
        std::fs::remove_dir_all(m).unwrap();
    }
}
