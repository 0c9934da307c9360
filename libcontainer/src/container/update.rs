//! `update`: change the limits of a created, running or paused container.
//!
//! The change is a `linux.resources` JSON object (what containerd's shim sends on
//! stdin, or what the CLI flags make): it is merged into the resources the state
//! records (objects key by key, anything else replaced), the result is checked and
//! written as `create` writes it, and recorded for the next `update`. As with runc:
//! a 0 (or "") where runc's `update` reads 0 as "unchanged" changes nothing, kernel
//! memory is ignored with a warning, and device rules are not updated.

use crate::state::{StateDir, Status};
use crate::{Error, Result};
use oci_spec::runtime::LinuxResources;
use serde_json::{Map, Value};
use std::path::Path;

/// Fields where runc's `update` reads 0 (or "") as "leave as it is".
const UNCHANGED_IF_ZERO: &[(&str, &str)] = &[
    ("memory", "limit"),
    ("memory", "reservation"),
    ("memory", "swap"),
    ("cpu", "shares"),
    ("cpu", "quota"),
    ("cpu", "period"),
    ("cpu", "realtimeRuntime"),
    ("cpu", "realtimePeriod"),
    ("cpu", "cpus"),
    ("cpu", "mems"),
    ("blockIO", "weight"),
    ("pids", "limit"),
];

/// Applies `change` (from `source`: a file name, `-` for stdin, or the flags) to
/// container `id`. `warn` gets what is ignored.
pub fn update(
    root: &Path,
    id: &str,
    source: &Path,
    change: Value,
    warn: &dyn Fn(&str),
) -> Result<()> {
    let dir = StateDir::open(root, id)?;
    let saved = dir.load()?;
    let status = dir.status(saved.as_ref());
    let mut saved = match (status, saved) {
        (Status::Created | Status::Running | Status::Paused, Some(s)) => s,
        _ => {
            return Err(Error::BadStatus {
                id: id.to_string(),
                status: status.as_str(),
                msg: "cannot update a container that is not running",
            })
        }
    };
    let cg = super::pause::cgroup(&saved, "update")?.clone();
    let change = clean(change, source, warn)?;
    let old = saved
        .resources
        .take()
        .unwrap_or_else(|| Value::Object(Map::new()));
    let merged = merged(old, &change);
    let resources: LinuxResources = parse(&merged, source)?;
    cg.update(&resources)?;
    saved.resources = Some(merged);
    dir.save(&saved)
}

/// `change` checked (an object whose fields parse as `linux.resources`) and trimmed of
/// what does not change anything.
fn clean(mut change: Value, source: &Path, warn: &dyn Fn(&str)) -> Result<Value> {
    let Some(obj) = change.as_object_mut() else {
        return Err(invalid(
            source,
            "",
            "must be a JSON object (linux.resources)",
        ));
    };
    parse::<LinuxResources>(&Value::Object(obj.clone()), source)?;
    for (section, field) in UNCHANGED_IF_ZERO {
        let Some(s) = obj.get_mut(*section).and_then(Value::as_object_mut) else {
            continue;
        };
        if s.get(*field).is_some_and(|v| v == 0 || v == "") {
            s.remove(*field);
        }
    }
    if let Some(m) = obj.get_mut("memory").and_then(Value::as_object_mut) {
        for k in ["kernel", "kernelTCP"] {
            if m.remove(k).is_some() {
                warn(&format!(
                    "memory.{k}: kernel memory settings are ignored (as runc does)"
                ));
            }
        }
        // Unlimited memory with the old memory+swap limit would put memory+swap below
        // memory: unlimited memory+swap too, unless the change says otherwise.
        if m.get("limit") == Some(&Value::from(-1)) && !m.contains_key("swap") {
            m.insert("swap".into(), Value::from(-1));
        }
    }
    // runc's update does not change device rules; containerd sends them along.
    obj.remove("devices");
    Ok(change)
}

/// `old` with every key of `change` put in: objects merged key by key, anything else
/// (numbers, strings, lists) replaced.
fn merged(mut old: Value, change: &Value) -> Value {
    match (old.as_object_mut(), change.as_object()) {
        (Some(o), Some(c)) => {
            for (k, v) in c {
                let slot = o.remove(k).unwrap_or(Value::Null);
                let v = if slot.is_object() {
                    merged(slot, v)
                } else {
                    v.clone()
                };
                o.insert(k.clone(), v);
            }
            old
        }
        _ => change.clone(),
    }
}

fn invalid(source: &Path, field: &str, msg: impl Into<String>) -> Error {
    Error::Invalid {
        file: source.to_path_buf(),
        field: if field.is_empty() {
            "resources".into()
        } else {
            field.to_string()
        },
        msg: msg.into(),
    }
}

/// `v` as a `T`, or an error naming the field that does not parse.
fn parse<T: serde::de::DeserializeOwned>(v: &Value, source: &Path) -> Result<T> {
    crate::json::from_value(v.clone()).map_err(|m| invalid(source, &m.field, m.msg))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field_of(v: Value) -> String {
        match parse::<LinuxResources>(&v, Path::new("-")) {
            Err(Error::Invalid { field, .. }) => field,
            other => panic!("expected a field error, got {other:?}"),
        }
    }

    #[test]
    fn the_bad_field_is_named() {
        assert_eq!(
            field_of(json!({ "memory": { "limit": "x" } })),
            "memory.limit"
        );
        assert_eq!(
            field_of(json!({ "pids": { "limit": 5 }, "cpu": { "shares": -1 } })),
            "cpu.shares"
        );
        assert_eq!(
            field_of(json!({ "devices": [{ "allow": true }, { "allow": "no" }] })),
            "devices[1].allow"
        );
    }

    #[test]
    fn merge_keeps_what_the_change_leaves_out() {
        let old = json!({ "memory": { "limit": 1, "swap": 2 }, "pids": { "limit": 3 } });
        let new = merged(old, &json!({ "memory": { "limit": 5 } }));
        assert_eq!(
            new,
            json!({ "memory": { "limit": 5, "swap": 2 }, "pids": { "limit": 3 } })
        );
    }

    #[test]
    fn zeros_and_kernel_memory_change_nothing() {
        let seen = std::cell::RefCell::new(vec![]);
        let warn = |m: &str| seen.borrow_mut().push(m.to_string());
        let c = json!({ "memory": { "limit": 0, "kernel": 5 }, "cpu": { "cpus": "" },
                        "pids": { "limit": 0 }, "devices": [] });
        let out = clean(c, Path::new("-"), &warn).unwrap();
        assert_eq!(out, json!({ "memory": {}, "cpu": {}, "pids": {} }));
        assert_eq!(seen.borrow().len(), 1);
        let bad = clean(json!([1]), Path::new("f.json"), &warn).unwrap_err();
        assert!(bad.to_string().starts_with("f.json: resources:"), "{bad}");
    }
}
