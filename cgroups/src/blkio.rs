//! `linux.resources.blockIO`: v1's `blkio.*` files, v2's `io.*` files.
//!
//! - Weights (1..1000; 0 means unset, as in runc): v1 writes `blkio.weight` where the
//!   kernel has it (CFQ, before Linux 5.0), else `blkio.bfq.weight`; v2 writes
//!   `io.bfq.weight` when BFQ is loaded, else `io.weight` converted to its 1..10000 scale
//!   (runc's conversion). Per-device weights go to the matching `*_device` file (v1) or the
//!   same file (v2) as `MAJ:MIN W`; the kernel takes them only for a device whose
//!   scheduler is BFQ (or, for `io.weight`, whose queue has iocost enabled).
//! - `leafWeight` came with CFQ: v1 writes `blkio.leaf_weight` (a kernel without it gets
//!   an error naming the field); v2 has nothing like it, so it is refused.
//! - Throttles: v1's `blkio.throttle.{read,write}_{bps,iops}_device` (`MAJ:MIN N`), v2's
//!   `io.max` (`MAJ:MIN rbps=N`, `wbps`, `riops`, `wiops`).

use crate::knob::{explain, write_existing};
use crate::{Error, Result, Version};
use oci_spec::runtime::{LinuxBlockIo, LinuxThrottleDevice};
use std::path::Path;

const F: &str = "linux.resources.blockIO";

fn invalid(field: &str, msg: impl Into<String>) -> Error {
    Error::Invalid {
        field: format!("{F}.{field}"),
        msg: msg.into(),
    }
}

/// Whether the block asks for anything (an empty `blockIO: {}` needs no controller).
pub fn is_set(b: &LinuxBlockIo) -> bool {
    nonzero(b.weight()).is_some()
        || nonzero(b.leaf_weight()).is_some()
        || b.weight_device().as_ref().is_some_and(|v| !v.is_empty())
        || throttles(b).iter().any(|t| !t.list.is_empty())
}

fn nonzero(w: Option<u16>) -> Option<u16> {
    w.filter(|w| *w != 0)
}

/// One throttle list: its field name, v1 file and v2 `io.max` key.
struct Throttle<'a> {
    field: &'static str,
    v1: &'static str,
    v2: &'static str,
    list: &'a [LinuxThrottleDevice],
}

fn throttles(b: &LinuxBlockIo) -> [Throttle<'_>; 4] {
    fn t<'a>(
        field: &'static str,
        v1: &'static str,
        v2: &'static str,
        list: &'a Option<Vec<LinuxThrottleDevice>>,
    ) -> Throttle<'a> {
        Throttle {
            field,
            v1,
            v2,
            list: list.as_deref().unwrap_or_default(),
        }
    }
    [
        t(
            "throttleReadBpsDevice",
            "blkio.throttle.read_bps_device",
            "rbps",
            b.throttle_read_bps_device(),
        ),
        t(
            "throttleWriteBpsDevice",
            "blkio.throttle.write_bps_device",
            "wbps",
            b.throttle_write_bps_device(),
        ),
        t(
            "throttleReadIOPSDevice",
            "blkio.throttle.read_iops_device",
            "riops",
            b.throttle_read_iops_device(),
        ),
        t(
            "throttleWriteIOPSDevice",
            "blkio.throttle.write_iops_device",
            "wiops",
            b.throttle_write_iops_device(),
        ),
    ]
}

fn weight_range(field: &str, w: Option<u16>) -> Result<()> {
    match nonzero(w) {
        Some(w) if w > 1000 => Err(invalid(field, format!("{w} is not in 1..1000"))),
        _ => Ok(()),
    }
}

fn device(field: &str, major: i64, minor: i64) -> Result<String> {
    if !(0..=u32::MAX as i64).contains(&major) || !(0..=u32::MAX as i64).contains(&minor) {
        return Err(invalid(
            field,
            format!("{major}:{minor} is not a device number"),
        ));
    }
    Ok(format!("{major}:{minor}"))
}

/// The block checked for cgroup version `v`, before anything is made.
pub(crate) fn check(b: &LinuxBlockIo, v: Version) -> Result<()> {
    weight_range("weight", b.weight())?;
    weight_range("leafWeight", b.leaf_weight())?;
    let no_leaf = |f: &str| {
        invalid(
            f,
            "cgroup v2 has no leaf weight (it belonged to v1's CFQ scheduler)",
        )
    };
    if v == Version::V2 && nonzero(b.leaf_weight()).is_some() {
        return Err(no_leaf("leafWeight"));
    }
    for (i, d) in b.weight_device().iter().flatten().enumerate() {
        let f = format!("weightDevice[{i}]");
        device(&f, d.major(), d.minor())?;
        if d.weight().is_none() && d.leaf_weight().is_none() {
            return Err(invalid(&f, "needs a weight or a leafWeight"));
        }
        weight_range(&format!("{f}.weight"), d.weight())?;
        weight_range(&format!("{f}.leafWeight"), d.leaf_weight())?;
        if v == Version::V2 && nonzero(d.leaf_weight()).is_some() {
            return Err(no_leaf(&format!("{f}.leafWeight")));
        }
    }
    for t in throttles(b) {
        for (i, d) in t.list.iter().enumerate() {
            device(&format!("{}[{i}]", t.field), d.major(), d.minor())?;
        }
    }
    Ok(())
}

/// cgroup v1: the `blkio` hierarchy's directory `dir`.
pub(crate) fn apply_v1(dir: &Path, b: &LinuxBlockIo) -> Result<()> {
    let (weight, weight_device) = if dir.join("blkio.weight").exists() {
        ("blkio.weight", "blkio.weight_device")
    } else {
        ("blkio.bfq.weight", "blkio.bfq.weight_device")
    };
    if let Some(w) = nonzero(b.weight()) {
        write_existing(dir, weight, &w.to_string(), &format!("{F}.weight"))?;
    }
    if let Some(w) = nonzero(b.leaf_weight()) {
        let f = format!("{F}.leafWeight");
        write_existing(dir, "blkio.leaf_weight", &w.to_string(), &f)?;
    }
    for (i, d) in b.weight_device().iter().flatten().enumerate() {
        let f = format!("weightDevice[{i}]");
        let dev = device(&f, d.major(), d.minor())?;
        for (file, sub, w) in [
            (weight_device, "weight", d.weight()),
            ("blkio.leaf_weight_device", "leafWeight", d.leaf_weight()),
        ] {
            if let Some(w) = nonzero(w) {
                let field = format!("{F}.{f}.{sub}");
                write_device_weight(dir, file, &format!("{dev} {w}"), &field)?;
            }
        }
    }
    for t in throttles(b) {
        for (i, d) in t.list.iter().enumerate() {
            let f = format!("{}[{i}]", t.field);
            let dev = device(&f, d.major(), d.minor())?;
            write_existing(
                dir,
                t.v1,
                &format!("{dev} {}", d.rate()),
                &format!("{F}.{f}"),
            )?;
        }
    }
    Ok(())
}

/// cgroup v2: the container's directory `dir`.
pub(crate) fn apply_v2(dir: &Path, b: &LinuxBlockIo) -> Result<()> {
    let bfq = dir.join("io.bfq.weight").exists();
    if let Some(w) = nonzero(b.weight()) {
        let f = format!("{F}.weight");
        if bfq {
            write_existing(dir, "io.bfq.weight", &w.to_string(), &f)?;
        } else {
            let v = format!("default {}", io_weight(w));
            write_existing(dir, "io.weight", &v, &f)?;
        }
    }
    for (i, d) in b.weight_device().iter().flatten().enumerate() {
        let f = format!("weightDevice[{i}]");
        let dev = device(&f, d.major(), d.minor())?;
        if let Some(w) = nonzero(d.weight()) {
            let field = format!("{F}.{f}.weight");
            let (file, w) = if bfq {
                ("io.bfq.weight", u64::from(w))
            } else {
                ("io.weight", io_weight(w))
            };
            write_device_weight(dir, file, &format!("{dev} {w}"), &field)?;
        }
    }
    for t in throttles(b) {
        for (i, d) in t.list.iter().enumerate() {
            let f = format!("{}[{i}]", t.field);
            let dev = device(&f, d.major(), d.minor())?;
            let line = format!("{dev} {}={}", t.v2, d.rate());
            write_existing(dir, "io.max", &line, &format!("{F}.{f}"))?;
        }
    }
    Ok(())
}

/// A per-device weight: EOPNOTSUPP is the kernel saying the device's scheduler (or io
/// controller) takes no weights, which its text does not say.
fn write_device_weight(dir: &Path, file: &str, line: &str, field: &str) -> Result<()> {
    write_existing(dir, file, line, field).map_err(|e| {
        explain(e, libc::EOPNOTSUPP, || {
            "a per-device weight needs the BFQ scheduler on that device \
             (or, for io.weight, the iocost controller enabled on it)"
                .into()
        })
    })
}

/// blkio's 10..1000 weight on io.weight's 1..10000 scale (runc's conversion); weights
/// below 10 (BFQ takes 1..1000) become 1.
pub fn io_weight(w: u16) -> u64 {
    1 + (u64::from(w).saturating_sub(10) * 9999) / 990
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blk(v: serde_json::Value) -> LinuxBlockIo {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn weight_conversion() {
        assert_eq!(io_weight(10), 1);
        assert_eq!(io_weight(5), 1);
        assert_eq!(io_weight(300), 2930);
        assert_eq!(io_weight(500), 4950);
        assert_eq!(io_weight(1000), 10000);
    }

    #[test]
    fn checks_name_the_field() {
        let err = |v, ver| check(&blk(v), ver).unwrap_err().to_string();
        let e = err(serde_json::json!({ "weight": 2000 }), Version::V1);
        assert!(e.starts_with("linux.resources.blockIO.weight:"), "{e}");
        let e = err(serde_json::json!({ "leafWeight": 100 }), Version::V2);
        assert!(e.starts_with("linux.resources.blockIO.leafWeight:"), "{e}");
        let e = err(
            serde_json::json!({ "weightDevice": [{ "major": 8, "minor": 0 }] }),
            Version::V1,
        );
        assert!(
            e.starts_with("linux.resources.blockIO.weightDevice[0]:"),
            "{e}"
        );
        let e = err(
            serde_json::json!({ "throttleWriteIOPSDevice":
                [{ "major": 8, "minor": 0, "rate": 1 }, { "major": -1, "minor": 0, "rate": 1 }] }),
            Version::V1,
        );
        assert!(
            e.starts_with("linux.resources.blockIO.throttleWriteIOPSDevice[1]:"),
            "{e}"
        );
        check(&blk(serde_json::json!({ "leafWeight": 100 })), Version::V1).unwrap();
        check(&blk(serde_json::json!({ "leafWeight": 0 })), Version::V2).unwrap();
    }

    #[test]
    fn set_or_not() {
        assert!(!is_set(&blk(serde_json::json!({}))));
        assert!(!is_set(&blk(serde_json::json!({ "weight": 0 }))));
        assert!(is_set(&blk(serde_json::json!({
            "throttleReadBpsDevice": [{ "major": 7, "minor": 0, "rate": 1 }] }))));
    }
}
