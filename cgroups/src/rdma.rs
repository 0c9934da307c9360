//! `linux.resources.rdma`: one `rdma.max` line per device (`DEV hca_handle=N
//! hca_object=M`, only the limits given), the same file on v1 and v2. A device the
//! kernel does not know is refused by it (ENODEV), named in the error.

use crate::knob::{explain, write_existing};
use crate::{Error, Result};
use oci_spec::runtime::LinuxRdma;
use std::collections::HashMap;
use std::path::Path;

const F: &str = "linux.resources.rdma";

/// The devices in a stable order (the spec's map has none).
fn sorted(map: &HashMap<String, LinuxRdma>) -> Vec<(&String, &LinuxRdma)> {
    let mut v: Vec<_> = map.iter().collect();
    v.sort_by(|a, b| a.0.cmp(b.0));
    v
}

pub(crate) fn check(map: &HashMap<String, LinuxRdma>) -> Result<()> {
    for (dev, r) in sorted(map) {
        let field = format!("{F}[{dev:?}]");
        if dev.is_empty() || dev.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(Error::Invalid {
                field,
                msg: "a device name is not empty and has no spaces".into(),
            });
        }
        if r.hca_handles().is_none() && r.hca_objects().is_none() {
            return Err(Error::Invalid {
                field,
                msg: "needs hcaHandles or hcaObjects".into(),
            });
        }
    }
    Ok(())
}

/// The `rdma.max` line for one device.
pub fn line(dev: &str, r: &LinuxRdma) -> String {
    let mut s = dev.to_string();
    if let Some(n) = r.hca_handles() {
        s.push_str(&format!(" hca_handle={n}"));
    }
    if let Some(n) = r.hca_objects() {
        s.push_str(&format!(" hca_object={n}"));
    }
    s
}

/// Writes every device's limits to `dir` (the rdma hierarchy's directory, or v2's).
pub(crate) fn apply(dir: &Path, map: &HashMap<String, LinuxRdma>) -> Result<()> {
    for (dev, r) in sorted(map) {
        let field = format!("{F}[{dev:?}]");
        write_existing(dir, "rdma.max", &line(dev, r), &field)
            .map_err(|e| explain(e, libc::ENODEV, || format!("no RDMA device {dev}")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_checks() {
        let map: HashMap<String, LinuxRdma> = serde_json::from_value(serde_json::json!({
            "mlx5_1": { "hcaHandles": 3, "hcaObjects": 10000 },
            "rxe0": { "hcaObjects": 1000 }
        }))
        .unwrap();
        check(&map).unwrap();
        let lines: Vec<String> = sorted(&map).iter().map(|(d, r)| line(d, r)).collect();
        assert_eq!(
            lines,
            [
                "mlx5_1 hca_handle=3 hca_object=10000",
                "rxe0 hca_object=1000"
            ]
        );
        let bad: HashMap<String, LinuxRdma> =
            serde_json::from_value(serde_json::json!({ "mlx": {} })).unwrap();
        let e = check(&bad).unwrap_err().to_string();
        assert!(e.starts_with("linux.resources.rdma[\"mlx\"]:"), "{e}");
    }
}
