//! `linux.resources.network`: v1's `net_cls.classid` and `net_prio.ifpriomap` (one
//! `IF PRIO` line per interface). cgroup v2 has neither controller and no conversion
//! exists (runtime-spec: the runtime MUST then generate an error), so v2 refuses them.

use crate::knob::write_existing;
use crate::{Error, Result, Version};
use oci_spec::runtime::LinuxNetwork;
use std::path::Path;

const F: &str = "linux.resources.network";

/// Whether the block asks for anything.
pub fn is_set(n: &LinuxNetwork) -> bool {
    n.class_id().is_some() || n.priorities().as_ref().is_some_and(|p| !p.is_empty())
}

pub(crate) fn check(n: &LinuxNetwork, v: Version) -> Result<()> {
    if v == Version::V2 && is_set(n) {
        let field = if n.class_id().is_some() {
            "classID"
        } else {
            "priorities"
        };
        return Err(Error::Invalid {
            field: format!("{F}.{field}"),
            msg: "cgroup v2 has no net_cls or net_prio controller, and there is no \
                  conversion (mark traffic by cgroup with a BPF program or nftables instead)"
                .into(),
        });
    }
    for (i, p) in n.priorities().iter().flatten().enumerate() {
        let name = p.name();
        if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(Error::Invalid {
                field: format!("{F}.priorities[{i}].name"),
                msg: format!("{name:?} is not an interface name"),
            });
        }
    }
    Ok(())
}

/// `net_cls.classid` in `dir` (the net_cls hierarchy's directory).
pub(crate) fn apply_class_id(dir: &Path, n: &LinuxNetwork) -> Result<()> {
    match n.class_id() {
        Some(id) => write_existing(
            dir,
            "net_cls.classid",
            &id.to_string(),
            &format!("{F}.classID"),
        ),
        None => Ok(()),
    }
}

/// `net_prio.ifpriomap` in `dir` (the net_prio hierarchy's directory).
pub(crate) fn apply_priorities(dir: &Path, n: &LinuxNetwork) -> Result<()> {
    for (i, p) in n.priorities().iter().flatten().enumerate() {
        let line = format!("{} {}", p.name(), p.priority());
        let field = format!("{F}.priorities[{i}]");
        write_existing(dir, "net_prio.ifpriomap", &line, &field)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_refuses_v1_checks_names() {
        let n: LinuxNetwork = serde_json::from_value(serde_json::json!({
            "classID": 1048577, "priorities": [{ "name": "eth0", "priority": 5 }]
        }))
        .unwrap();
        check(&n, Version::V1).unwrap();
        let e = check(&n, Version::V2).unwrap_err().to_string();
        assert!(e.starts_with("linux.resources.network.classID:"), "{e}");
        let empty: LinuxNetwork = serde_json::from_value(serde_json::json!({})).unwrap();
        check(&empty, Version::V2).unwrap();
        let bad: LinuxNetwork = serde_json::from_value(serde_json::json!({
            "priorities": [{ "name": "eth 0", "priority": 5 }]
        }))
        .unwrap();
        let e = check(&bad, Version::V1).unwrap_err().to_string();
        assert!(
            e.starts_with("linux.resources.network.priorities[0].name:"),
            "{e}"
        );
    }
}
