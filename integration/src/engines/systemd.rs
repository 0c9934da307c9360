//! On a host run by systemd (the systemd guest): what a flow must not leave behind
//! beyond processes, mounts and the runtime's state, namely units (the scopes that a
//! systemd cgroup driver makes, named after the container, system and the rootless
//! user's) and cgroups anywhere in the tree. A snapshot before each flow; after the
//! flow's reset, whatever is new and stays is a leak. Slices are not: systemd keeps
//! the ones a scope was put in (`machine.slice`, `sdeng-ctr.slice`) once made.

use crate::host;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The unprivileged user rootless podman runs as (scripts/lib.sh's ensure_test_user,
/// lingering in the systemd guest).
pub const ROOTLESS_USER: &str = "corraltest";

pub struct SystemdSnapshot {
    units: BTreeSet<String>,
    cgroups: BTreeSet<PathBuf>,
}

/// Whether systemd runs this host (sd_booted(3)).
pub fn booted() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

/// (uid, gid) of `user`.
pub fn user_ids(user: &str) -> Result<(u32, u32), String> {
    let name = std::ffi::CString::new(user).map_err(|e| e.to_string())?;
    // SAFETY: getpwnam with a NUL-terminated name; the result is read at once, before
    // any other call that could reuse its static buffer.
    let pw = unsafe { libc::getpwnam(name.as_ptr()) };
    if pw.is_null() {
        return Err(format!(
            "no user {user} (scripts/lib.sh's ensure_test_user makes it)"
        ));
    }
    // SAFETY: pw is non-null and points to getpwnam's passwd record.
    Ok(unsafe { ((*pw).pw_uid, (*pw).pw_gid) })
}

/// The environment the rootless user's systemd manager and engines need.
pub fn user_env(uid: u32) -> Vec<(&'static str, PathBuf)> {
    let run = PathBuf::from(format!("/run/user/{uid}"));
    vec![
        (
            "DBUS_SESSION_BUS_ADDRESS",
            format!("unix:path={}/bus", run.display()).into(),
        ),
        ("XDG_RUNTIME_DIR", run),
        ("HOME", format!("/home/{ROOTLESS_USER}").into()),
    ]
}

/// `systemctl [--user] list-units --all`: the names of the units systemd holds.
fn units(user: Option<u32>) -> BTreeSet<String> {
    let mut cmd = match user {
        Some(uid) => {
            let mut c = Command::new("setpriv");
            c.args(["--reuid", &uid.to_string(), "--regid", &uid.to_string()])
                .args(["--clear-groups", "systemctl", "--user"])
                .envs(user_env(uid));
            c
        }
        None => Command::new("systemctl"),
    };
    cmd.args([
        "list-units",
        "--all",
        "--plain",
        "--no-legend",
        "--no-pager",
        "--full",
    ]);
    let out = cmd.output().map(|o| o.stdout).unwrap_or_default();
    String::from_utf8_lossy(&out)
        .lines()
        .filter_map(|l| l.split_whitespace().find(|w| *w != "●"))
        .filter(|u| !u.ends_with(".slice"))
        .map(|u| match user {
            Some(uid) => format!("user {uid}: {u}"),
            None => u.to_string(),
        })
        .collect()
}

/// The rootless user's uid when its systemd manager runs (lingering).
fn user_manager() -> Option<u32> {
    let (uid, _) = user_ids(ROOTLESS_USER).ok()?;
    Path::new(&format!("/run/user/{uid}/systemd/private"))
        .exists()
        .then_some(uid)
}

fn all_units() -> BTreeSet<String> {
    let mut u = units(None);
    if let Some(uid) = user_manager() {
        u.extend(units(Some(uid)));
    }
    u
}

/// Every cgroup directory but slices (v2: one tree).
fn all_cgroups() -> BTreeSet<PathBuf> {
    let mut found = BTreeSet::new();
    for h in host::hierarchies() {
        walk(&h, &mut found);
    }
    found
}

fn walk(dir: &Path, into: &mut BTreeSet<PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            let p = e.path();
            if !p.to_string_lossy().ends_with(".slice") {
                into.insert(p.clone());
            }
            walk(&p, into);
        }
    }
}

impl SystemdSnapshot {
    /// The units and cgroups now; None when systemd does not run this host.
    pub fn take() -> Option<SystemdSnapshot> {
        booted().then(|| SystemdSnapshot {
            units: all_units(),
            cgroups: all_cgroups(),
        })
    }

    /// What is new since the snapshot, ignoring the cgroups `host` checks itself (the
    /// cgroupfs drivers' parents and what lies below them).
    fn new_since(&self) -> (Vec<String>, Vec<PathBuf>) {
        let engine_tops = host::engine_cgroups();
        let units = all_units().difference(&self.units).cloned().collect();
        let cgroups = all_cgroups()
            .difference(&self.cgroups)
            .filter(|c| !engine_tops.iter().any(|t| c.starts_with(t)))
            .cloned()
            .collect();
        (units, cgroups)
    }

    /// The units and cgroups made since the snapshot that are still there 10 s on
    /// (systemd drops an emptied scope asynchronously); each is stopped or removed once
    /// reported, so that the next flow starts clean.
    pub fn leaks(&self) -> Vec<String> {
        let start = Instant::now();
        let (units, cgroups) = loop {
            let (u, c) = self.new_since();
            if (u.is_empty() && c.is_empty()) || start.elapsed() > Duration::from_secs(10) {
                break (u, c);
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        for u in &units {
            if !u.starts_with("user ") {
                let _ = Command::new("systemctl").args(["stop", u]).output();
                let _ = Command::new("systemctl").args(["reset-failed", u]).output();
            }
        }
        host::remove_cgroups(&cgroups);
        let mut leaks: Vec<String> = units.into_iter().map(|u| format!("unit {u}")).collect();
        leaks.extend(cgroups.iter().map(|c| format!("cgroup {}", c.display())));
        leaks
    }
}
