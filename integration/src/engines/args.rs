//! The command line of corral-engines.

use std::path::PathBuf;

/// Every engine, in the order they run. podman-rootless (podman as ROOTLESS_USER) runs
/// only when named: it is meant for a systemd host (see README "The systemd guest").
pub const ENGINES: [&str; 4] = ["podman", "podman-rootless", "containerd", "docker"];
const DEFAULT_ENGINES: [&str; 3] = ["podman", "containerd", "docker"];
const USAGE: &str = "usage: corral-engines --runtime PATH \
                     [--engine podman|podman-rootless|containerd|docker]... \
                     [--cgroup-manager cgroupfs|systemd] [--filter SUBSTRING[$]]... [--list] \
                     [--record FILE] [--keep] [--criu]";

/// How the engines are told to manage cgroups: their cgroupfs driver (the default), or
/// their systemd one (podman `--cgroup-manager systemd`, dockerd `native.cgroupdriver=
/// systemd`, ctr `--runc-systemd-cgroup`), which passes `--systemd-cgroup` to the runtime.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum CgroupManager {
    Cgroupfs,
    Systemd,
}

impl CgroupManager {
    pub fn name(self) -> &'static str {
        match self {
            CgroupManager::Cgroupfs => "cgroupfs",
            CgroupManager::Systemd => "systemd",
        }
    }
}

pub struct Args {
    pub runtime: PathBuf,
    pub engines: Vec<String>,
    pub filters: Vec<String>,
    pub list: bool,
    pub record: Option<PathBuf>,
    pub keep: bool,
    /// The checkpoint/restore flows too (`*_checkpoint_*`: they need a CRIU that runs on
    /// this kernel, i.e. the systemd guest).
    pub criu: bool,
    pub cgroup_manager: CgroupManager,
}

impl Args {
    pub fn selects(&self, engine: &str, name: &str) -> bool {
        self.engines.iter().any(|e| e == engine)
            && (self.criu || !name.contains("_checkpoint_"))
            && (self.filters.is_empty() || self.filters.iter().any(|f| matches(f, name)))
    }
}

pub fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        runtime: PathBuf::new(),
        engines: vec![],
        filters: vec![],
        list: false,
        record: None,
        keep: false,
        criu: false,
        cgroup_manager: CgroupManager::Cgroupfs,
    };
    let mut runtime = None;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or(format!("{arg} needs a value\n{USAGE}"));
        match arg.as_str() {
            "--runtime" => runtime = Some(PathBuf::from(value()?)),
            "--engine" => {
                let e = value()?;
                if !ENGINES.contains(&e.as_str()) {
                    return Err(format!("unknown engine {e:?}\n{USAGE}"));
                }
                a.engines.push(e);
            }
            "--filter" => a.filters.push(value()?),
            "--cgroup-manager" => {
                a.cgroup_manager = match value()?.as_str() {
                    "cgroupfs" => CgroupManager::Cgroupfs,
                    "systemd" => CgroupManager::Systemd,
                    m => return Err(format!("unknown cgroup manager {m:?}\n{USAGE}")),
                }
            }
            "--record" => {
                let f = PathBuf::from(value()?);
                // Absolute: the suite runs from / (see main).
                a.record =
                    Some(std::path::absolute(&f).map_err(|e| format!("{}: {e}", f.display()))?)
            }
            "--list" => a.list = true,
            "--keep" => a.keep = true,
            "--criu" => a.criu = true,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    if a.engines.is_empty() {
        a.engines = DEFAULT_ENGINES.iter().map(|e| e.to_string()).collect();
    }
    a.runtime = match runtime {
        Some(r) => r
            .canonicalize()
            .map_err(|e| format!("runtime {}: {e}", r.display()))?,
        None if a.list => PathBuf::new(),
        None => return Err(format!("--runtime PATH is required\n{USAGE}")),
    };
    Ok(a)
}

impl Args {
    /// Whether a check that belongs to no engine is selected.
    pub fn selects_check(&self, name: &str) -> bool {
        self.filters.is_empty() || self.filters.iter().any(|f| matches(f, name))
    }
}

/// Whether `name` holds `filter`; a filter ending in `$` only at its end
/// (`podman_exec$` is not `podman_exec_tty`).
fn matches(filter: &str, name: &str) -> bool {
    match filter.strip_suffix('$') {
        Some(end) => name.ends_with(end),
        None => name.contains(filter),
    }
}
