//! Why a case may not apply to a runtime, decided from what the runtime reports through
//! its `features` command (runtime-spec `features.md`), never from its name.
//!
//! A case with no needs is spec behaviour every runtime must have. The others say why
//! they are skipped where they are: the runtime lacks a spec feature (it does not report
//! it, or it is a release measured to lack a behaviour `features` has no entry for), or the
//! case tests a corral restriction, extension or wording.

use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// What a case needs from the runtime under test.
#[derive(Clone, Copy)]
pub enum Needs {
    /// Spec behaviour every runtime must have.
    Nothing,
    /// A spec feature, run where the runtime's `features` reports it.
    Feature(Feature),
    /// Spec-required behaviour that `features` has no entry for. `lacking` is a runtime
    /// release (known from its `features` annotations) measured to get it wrong; every
    /// other runtime must pass. `spec` is the requirement, in the spec's words.
    Behaviour {
        spec: &'static str,
        lacking: Release,
    },
    /// A corral restriction or extension beyond the spec (stricter refusals, hardening,
    /// flags of a later runc): run on corral only. The string says which.
    Corral(&'static str),
    /// Asserts the words of corral's own messages: run on corral only.
    Wording,
    /// The systemd cgroup driver: run when the harness was given `--systemd-cgroup`
    /// (on a host with systemd, as PID 1); `Some(what)`: on corral only, `what` saying
    /// which corral restriction.
    Systemd(Option<&'static str>),
}

/// A spec feature that `features` reports.
#[derive(Clone, Copy)]
pub enum Feature {
    /// `linux.namespaces` lists this type.
    Namespace(&'static str, &'static str),
    /// `linux.memoryPolicy` is present.
    MemoryPolicy,
    /// `linux.netDevices.enabled`.
    NetDevices,
    /// `linux.mountExtensions.idmap.enabled`.
    IdmapMounts,
    /// A field features.md has no entry for: `ociVersionMax` must be at least `since`,
    /// the spec release that added it.
    Field {
        field: &'static str,
        since: &'static str,
        words: &'static str,
    },
}

impl Feature {
    /// The feature, named with the spec's words.
    pub fn describe(&self) -> String {
        match self {
            Feature::Namespace(t, words) => format!("linux.namespaces type {t:?} ({words})"),
            Feature::MemoryPolicy => "linux.memoryPolicy (the NUMA memory policy of the \
                container's processes, as set_mempolicy(2))"
                .into(),
            Feature::NetDevices => "linux.netDevices (network devices moved into the \
                container's network namespace)"
                .into(),
            Feature::IdmapMounts => {
                "idmapped mounts (mounts[].uidMappings and gidMappings, \"idmap\")".into()
            }
            Feature::Field {
                field,
                since,
                words,
            } => format!("{field} (runtime-spec {since}: {words})"),
        }
    }
}

/// The spec features of the cases that `features` names only through `ociVersionMax`.
pub const TIME_NS: Feature =
    Feature::Namespace("time", "the container will be able to have its own clocks");
pub const PERSONALITY: Feature = Feature::Field {
    field: "linux.personality",
    since: "1.1.0",
    words: "sets the Linux execution personality",
};
pub const DOMAINNAME: Feature = Feature::Field {
    field: "domainname",
    since: "1.1.0",
    words: "the container's domainname as seen by processes running inside the container",
};
pub const SCHEDULER: Feature = Feature::Field {
    field: "process.scheduler",
    since: "1.2.0",
    words: "the scheduler properties for the process",
};
pub const IO_PRIORITY: Feature = Feature::Field {
    field: "process.ioPriority",
    since: "1.2.0",
    words: "the I/O priority settings for the container's processes",
};
pub const EXEC_CPU_AFFINITY: Feature = Feature::Field {
    field: "process.execCPUAffinity",
    since: "1.2.0",
    words: "CPU affinity used to execute the process",
};

/// runtime.md, delete: what several cgroup cases check that runc 1.1 leaves behind.
pub const DELETE_REMOVES: &str =
    "runtime.md delete: \"deleting a container MUST delete the resources that were created \
     during the create step\"";

/// A runtime release, as its `features` annotations name it.
#[derive(Clone, Copy)]
pub struct Release {
    pub annotation: &'static str,
    pub prefix: &'static str,
    pub name: &'static str,
}

/// runc 1.1.x (`org.opencontainers.runc.version` 1.1.5 on the project's machines).
pub const RUNC_1_1: Release = Release {
    annotation: "org.opencontainers.runc.version",
    prefix: "1.1.",
    name: "runc 1.1",
};

/// The skip reasons, in the order the summary prints them.
pub const REASONS: [&str; 7] = [
    "runtime lacks a spec feature",
    "runtime lacks a spec behaviour",
    "corral restriction or extension",
    "corral wording",
    "systemd driver cases",
    "CRIU does not work on this host",
    "cgroupfs driver cases",
];

/// Why CRIU cannot work here: (index into REASONS, `criu check`'s first error line), or
/// None when `criu check` passes. Asked once per run.
pub fn criu_fails() -> Option<(usize, String)> {
    static ANSWER: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let why = ANSWER.get_or_init(|| {
        let out = match Command::new("criu").arg("check").output() {
            Ok(o) if o.status.success() => return None,
            Ok(o) => o,
            Err(e) => return Some(format!("criu check: {e}")),
        };
        let text = String::from_utf8_lossy(&out.stderr).into_owned()
            + &String::from_utf8_lossy(&out.stdout);
        let first = text.lines().find(|l| l.contains("Error")).unwrap_or("");
        Some(format!("criu check failed: {}", first.trim()))
    });
    why.clone().map(|w| (5, w))
}

/// The index in REASONS of a cgroupfs driver case run with `--systemd-cgroup`.
pub const CGROUPFS: usize = 6;

/// What the runtime under test reported through `features` (empty when it has no such
/// command: it then reports no feature and is not corral).
pub struct Reported(Value);

impl Reported {
    pub fn query(runtime: &Path) -> Self {
        let out = Command::new(runtime).arg("features").output();
        let v = out
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| serde_json::from_slice(&o.stdout).ok())
            .unwrap_or(Value::Null);
        Reported(v)
    }

    /// corral says so in its annotations.
    pub fn is_corral(&self) -> bool {
        self.0["annotations"]["io.github.corral.version"].is_string()
    }

    fn has(&self, f: &Feature) -> bool {
        let linux = &self.0["linux"];
        match f {
            Feature::Namespace(t, _) => linux["namespaces"]
                .as_array()
                .is_some_and(|a| a.iter().any(|n| n == t)),
            Feature::MemoryPolicy => linux["memoryPolicy"].is_object(),
            Feature::NetDevices => linux["netDevices"]["enabled"] == true,
            Feature::IdmapMounts => linux["mountExtensions"]["idmap"]["enabled"] == true,
            Feature::Field { since, .. } => self.0["ociVersionMax"]
                .as_str()
                .is_some_and(|v| at_least(v, since)),
        }
    }

    fn is(&self, r: &Release) -> bool {
        self.0["annotations"][r.annotation]
            .as_str()
            .is_some_and(|v| v.starts_with(r.prefix))
    }

    /// Why `needs` is not met by this runtime: (index into REASONS, detail), or None when
    /// the case runs.
    pub fn skip(&self, needs: &Needs) -> Option<(usize, String)> {
        match needs {
            Needs::Nothing => None,
            Needs::Feature(f) if !self.has(f) => Some((0, f.describe())),
            Needs::Behaviour { spec, lacking } if self.is(lacking) => {
                Some((1, format!("{} does not: {spec}", lacking.name)))
            }
            Needs::Corral(what) if !self.is_corral() => Some((2, what.to_string())),
            Needs::Wording if !self.is_corral() => Some((3, "corral's own words".into())),
            Needs::Systemd(_) if !crate::ctx::systemd_cgroup() => {
                Some((4, "the harness runs without --systemd-cgroup".into()))
            }
            Needs::Systemd(Some(what)) if !self.is_corral() => Some((2, what.to_string())),
            _ => None,
        }
    }
}

/// `have` ≥ `want` as dotted versions; a suffix such as `-dev` or `+ds1` on a part is
/// that part's number (1.0.2-dev counts as 1.0.2).
fn at_least(have: &str, want: &str) -> bool {
    let parts = |s: &str| -> Vec<u64> {
        s.split('.')
            .map(|p| {
                let digits: String = p.chars().take_while(char::is_ascii_digit).collect();
                digits.parse().unwrap_or(0)
            })
            .collect()
    };
    parts(have) >= parts(want)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn runc() -> Reported {
        Reported(json!({
            "ociVersionMax": "1.0.2-dev",
            "linux": { "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "user", "uts"] },
            "annotations": { "org.opencontainers.runc.version": "1.1.5+ds1" },
        }))
    }

    fn corral() -> Reported {
        Reported(json!({
            "ociVersionMax": "1.3.0",
            "linux": {
                "namespaces": ["cgroup", "time"],
                "memoryPolicy": {}, "netDevices": { "enabled": true },
                "mountExtensions": { "idmap": { "enabled": true } },
            },
            "annotations": { "io.github.corral.version": "0.1.0" },
        }))
    }

    const DOMAIN: Needs = Needs::Feature(Feature::Field {
        field: "domainname",
        since: "1.1.0",
        words: "the NIS domain name",
    });

    #[test]
    fn features_decide() {
        let time = Needs::Feature(Feature::Namespace("time", "own clocks"));
        for n in [time, DOMAIN, Needs::Feature(Feature::MemoryPolicy)] {
            assert_eq!(runc().skip(&n).map(|s| s.0), Some(0));
            assert!(corral().skip(&n).is_none());
        }
        let b = Needs::Behaviour {
            spec: "x",
            lacking: RUNC_1_1,
        };
        assert_eq!(runc().skip(&b).map(|s| s.0), Some(1));
        assert!(corral().skip(&b).is_none());
        // A runtime without `features` lacks every feature but no measured behaviour.
        assert!(Reported(Value::Null).skip(&b).is_none());
        assert_eq!(Reported(Value::Null).skip(&DOMAIN).map(|s| s.0), Some(0));
        assert_eq!(runc().skip(&Needs::Corral("x")).map(|s| s.0), Some(2));
        assert_eq!(runc().skip(&Needs::Wording).map(|s| s.0), Some(3));
        assert!(corral().skip(&Needs::Wording).is_none());
    }

    #[test]
    fn versions() {
        assert!(at_least("1.0.2-dev", "1.0.2"));
        assert!(!at_least("1.0.2-dev", "1.1.0"));
        assert!(at_least("1.3.0", "1.2.0"));
        assert!(at_least("1.10.0", "1.2.0"));
    }
}
