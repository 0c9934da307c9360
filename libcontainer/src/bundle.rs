//! Loading an OCI bundle: `config.json`, parsed and validated, and the rootfs it names.

use crate::checked::CheckedProcess;
use crate::{json, validate, Error, Result};
use oci_spec::runtime::Spec;
use serde_json::Value;
use std::path::{Path, PathBuf};

pub struct Bundle {
    /// The bundle directory, absolute and without symlinks.
    pub dir: PathBuf,
    pub config_path: PathBuf,
    pub spec: Spec,
    /// The container's root filesystem, absolute.
    pub rootfs: PathBuf,
    /// The process's values, checked (see [`crate::checked`]); `None` without a process.
    pub process: Option<CheckedProcess>,
    /// What was skipped rather than refused (unknown capabilities), for the caller to log.
    pub warnings: Vec<String>,
    /// `linux.resources` as written in config.json, which the state records for `update`.
    pub resources: Option<Value>,
}

/// serde's message for an unknown enum value gives a line and column, not the field;
/// for `linux.seccomp`, whose fields are mostly such values, say which field it is.
fn named_parse_error(data: &[u8], path: &Path) -> Option<Error> {
    let v: serde_json::Value = serde_json::from_slice(data).ok()?;
    let seccomp = v.get("linux")?.get("seccomp")?;
    let e = corral_seccomp::check_json(seccomp).err()?;
    Some(validate::seccomp_error(path, e))
}

impl Bundle {
    pub fn load(dir: &Path) -> Result<Self> {
        let dir = dir
            .canonicalize()
            .map_err(|e| Error::io("bundle directory", dir, e))?;
        let config_path = dir.join("config.json");
        let data =
            std::fs::read(&config_path).map_err(|e| Error::io("cannot read", &config_path, e))?;
        let mut raw: Value = serde_json::from_slice(&data).map_err(|err| Error::ConfigParse {
            path: config_path.clone(),
            err,
        })?;
        let mut warnings = skip_unknown_capabilities(&mut raw, last_cap());
        warnings.extend(skip_kernel_memory(&mut raw));
        spec_scheduler_flags(&mut raw);
        let resources = raw.pointer("/linux/resources").cloned();
        let spec: Spec = json::from_value(raw).map_err(|m| {
            named_parse_error(&data, &config_path).unwrap_or_else(|| mismatch(&config_path, m))
        })?;
        crate::trace::mark("parse");
        let validate::Validated { rootfs, process } = validate::check(&spec, &config_path, &dir)?;
        crate::trace::mark("validate");
        Ok(Bundle {
            dir,
            config_path,
            spec,
            rootfs,
            process,
            warnings,
            resources,
        })
    }
}

/// Reads an OCI `process` object (`exec --process`), with the same leniency as
/// `config.json`'s: unknown capabilities are skipped with a warning each.
pub fn load_process(path: &Path) -> Result<(oci_spec::runtime::Process, Vec<String>)> {
    let data = std::fs::read(path).map_err(|e| Error::io("cannot read", path, e))?;
    let parse_err = |err| Error::ConfigParse {
        path: path.to_path_buf(),
        err,
    };
    let process: Value = serde_json::from_slice(&data).map_err(parse_err)?;
    // The config's own fixes look for `/process/...`.
    let mut raw = serde_json::json!({ "process": process });
    let warnings = skip_unknown_capabilities(&mut raw, last_cap());
    spec_scheduler_flags(&mut raw);
    let process = json::from_value(raw["process"].take()).map_err(|m| {
        let field = match m.field.as_str() {
            "" => "process".to_string(),
            f if f.starts_with('[') => format!("process{f}"),
            f => format!("process.{f}"),
        };
        mismatch(path, json::Mismatch { field, ..m })
    })?;
    Ok((process, warnings))
}

/// A value of `file` that does not fit the spec's types, as an error naming the field.
fn mismatch(file: &Path, m: json::Mismatch) -> Error {
    Error::Invalid {
        file: file.to_path_buf(),
        field: if m.field.is_empty() {
            "(the whole document)".into()
        } else {
            m.field
        },
        msg: m.msg,
    }
}

/// Capability `name` (with or without `CAP_`), or why it is skipped: unknown to corral,
/// or past the running kernel's last capability.
pub fn capability(name: &str) -> std::result::Result<oci_spec::runtime::Capability, &'static str> {
    match cap_number(name) {
        None => Err("unknown capability"),
        Some(n) if n > last_cap() => Err("capability not supported by the running kernel"),
        Some(_) => serde_json::from_value(Value::from(name)).map_err(|_| "unknown capability"),
    }
}

const CAP_SETS: [&str; 5] = [
    "bounding",
    "effective",
    "inheritable",
    "permitted",
    "ambient",
];

/// The highest capability number of the running kernel.
fn last_cap() -> u8 {
    corral_cgroups::read_small(std::path::Path::new("/proc/sys/kernel/cap_last_cap"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(u8::MAX)
}

/// The number of capability `name` if corral knows it (with or without `CAP_`, as
/// oci-spec accepts it), else None.
fn cap_number(name: &str) -> Option<u8> {
    let upper = name.to_uppercase();
    let bare = upper.trim_start_matches("CAP_");
    // oci-spec must know it too, or typed parsing would refuse the whole config.
    serde_json::from_value::<oci_spec::runtime::Capability>(Value::from(bare)).ok()?;
    let cap: caps::Capability = format!("CAP_{bare}").parse().ok()?;
    Some(cap.index())
}

/// `linux.resources.memory.kernel` and `kernelTCP`: the kernel dropped kmem limits
/// (5.16: kmem.limit_in_bytes is gone, cgroup v2 never had them); runc and crun accept
/// and ignore them, and so does corral, with a warning each.
fn skip_kernel_memory(raw: &mut Value) -> Vec<String> {
    let Some(Value::Object(m)) = raw.pointer_mut("/linux/resources/memory") else {
        return vec![];
    };
    ["kernel", "kernelTCP"]
        .into_iter()
        .filter(|k| m.remove(*k).is_some())
        .map(|k| {
            format!("linux.resources.memory.{k}: kernel memory limits are ignored (as runc does)")
        })
        .collect()
}

/// runtime-spec: a capability the runtime does not know, or the kernel lacks, is logged
/// and skipped, and the container still runs. oci-spec refuses such a name outright, so
/// the sets are filtered in the raw JSON before typed parsing. Returns one warning per
/// name skipped.
fn skip_unknown_capabilities(raw: &mut Value, last_cap: u8) -> Vec<String> {
    let mut warnings = vec![];
    let Some(caps) = raw.pointer_mut("/process/capabilities") else {
        return warnings;
    };
    for set in CAP_SETS {
        let Some(Value::Array(names)) = caps.get_mut(set) else {
            continue;
        };
        names.retain(|n| {
            let Some(name) = n.as_str() else {
                return true; // not a string: left for the parser to refuse
            };
            let why = match cap_number(name) {
                None => "unknown capability",
                Some(n) if n > last_cap => "capability not supported by the running kernel",
                Some(_) => return true,
            };
            warnings.push(format!(
                "process.capabilities.{set}: {why} {name:?}: skipped"
            ));
            false
        });
    }
    skip_unraisable_ambient(caps, &mut warnings);
    warnings
}

/// The kernel raises an ambient capability only if it is both permitted and inheritable
/// (capabilities(7)); `runc spec` writes ambient capabilities with no inheritable set, and
/// runc warns and goes on. So does corral: such names are left out of the ambient set.
fn skip_unraisable_ambient(caps: &mut Value, warnings: &mut Vec<String>) {
    let numbers = |set: &str| -> Vec<u8> {
        caps.get(set)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .filter_map(cap_number)
                    .collect()
            })
            .unwrap_or_default()
    };
    let (permitted, inheritable) = (numbers("permitted"), numbers("inheritable"));
    let Some(Value::Array(ambient)) = caps.get_mut("ambient") else {
        return;
    };
    ambient.retain(|n| {
        let Some((name, number)) = n.as_str().and_then(|s| Some((s, cap_number(s)?))) else {
            return true;
        };
        if permitted.contains(&number) && inheritable.contains(&number) {
            return true;
        }
        warnings.push(format!(
            "process.capabilities.ambient: {name:?} is not both permitted and inheritable, \
             so the kernel cannot raise it: skipped"
        ));
        false
    });
}

/// oci-spec 0.10 spells two scheduler flags its own way (`SCHED_RESET_ON_FORK`,
/// `SCHED_FLAG_D_L_OVERRUN`) and refuses the runtime-spec's names: translate those.
fn spec_scheduler_flags(raw: &mut Value) {
    let Some(Value::Array(flags)) = raw.pointer_mut("/process/scheduler/flags") else {
        return;
    };
    for f in flags {
        let oci_spec_name = match f.as_str() {
            Some("SCHED_FLAG_RESET_ON_FORK") => "SCHED_RESET_ON_FORK",
            Some("SCHED_FLAG_DL_OVERRUN") => "SCHED_FLAG_D_L_OVERRUN",
            _ => continue,
        };
        *f = Value::from(oci_spec_name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_and_too_new_capabilities_are_skipped_with_a_warning() {
        let mut v = json!({ "process": { "capabilities": {
            "bounding": ["CAP_CHOWN", "CAP_BOGUS"],
            "effective": ["CAP_CHOWN", "NET_ADMIN", "CAP_CHECKPOINT_RESTORE"],
            "ambient": [],
        }}});
        // A kernel whose last capability is CAP_BPF (39).
        let w = skip_unknown_capabilities(&mut v, 39);
        assert_eq!(
            v["process"]["capabilities"]["bounding"],
            json!(["CAP_CHOWN"])
        );
        assert_eq!(
            v["process"]["capabilities"]["effective"],
            json!(["CAP_CHOWN", "NET_ADMIN"])
        );
        assert_eq!(w.len(), 2, "{w:?}");
        assert!(
            w[0].contains("bounding") && w[0].contains("CAP_BOGUS"),
            "{w:?}"
        );
        assert!(
            w[1].contains("effective") && w[1].contains("CAP_CHECKPOINT_RESTORE"),
            "{w:?}"
        );
    }

    #[test]
    fn the_runtime_specs_scheduler_flags_parse() {
        let mut v = json!({ "process": { "scheduler": { "policy": "SCHED_OTHER",
            "flags": ["SCHED_FLAG_RESET_ON_FORK", "SCHED_FLAG_DL_OVERRUN", "SCHED_FLAG_RECLAIM"] }}});
        spec_scheduler_flags(&mut v);
        let s: oci_spec::runtime::Scheduler =
            serde_json::from_value(v["process"]["scheduler"].take()).unwrap();
        assert_eq!(s.flags().as_ref().map(Vec::len), Some(3));
    }

    /// oci-spec checks `execCPUAffinity` with a regex; corral links `regex-lite` in place
    /// of `regex` (vendor/regex): the check must still take CPU lists and refuse the rest.
    #[test]
    fn exec_cpu_affinity_syntax_is_still_checked() {
        let parse = |s: &str| {
            serde_json::from_value::<oci_spec::runtime::ExecCPUAffinity>(
                json!({ "initial": s, "final": "0" }),
            )
        };
        for good in ["0", "0-3", "0-3,5,7-9", "12"] {
            assert!(parse(good).is_ok(), "{good} refused");
        }
        for bad in ["", "x", "0-", "1,,2", "0-3,a", "٣"] {
            let e = parse(bad).expect_err(bad).to_string();
            assert!(e.contains("execCPUAffinity"), "{bad}: {e}");
        }
    }

    #[test]
    fn ambient_capabilities_that_cannot_be_raised_are_skipped() {
        let mut v = json!({ "process": { "capabilities": {
            "permitted": ["CAP_KILL", "CAP_CHOWN"],
            "inheritable": ["KILL"],
            "ambient": ["CAP_KILL", "CAP_CHOWN"],
        }}});
        let w = skip_unknown_capabilities(&mut v, 40);
        assert_eq!(v["process"]["capabilities"]["ambient"], json!(["CAP_KILL"]));
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("CAP_CHOWN"), "{w:?}");
    }

    #[test]
    fn no_capabilities_no_warnings() {
        let mut v = json!({ "process": { "args": ["true"] } });
        assert!(skip_unknown_capabilities(&mut v, 40).is_empty());
    }
}
