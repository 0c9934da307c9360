//! `linux.resources.hugepageLimits`: `hugetlb.<size>.limit_in_bytes` (v1) or
//! `hugetlb.<size>.max` (v2). The spec's limit is on reservations where the kernel
//! accounts them (Linux 5.7+: `hugetlb.<size>.rsvd.*`), else on usage: corral writes the
//! usage limit always and the reservation limit where the file exists.
//!
//! Page sizes are named as the kernel names its files (`64KB`, `2MB`, `1GB`, as runc
//! does); a size the host lacks (/sys/kernel/mm/hugepages) is refused before anything
//! is made.

use crate::knob::write_existing;
use crate::{Error, Result, Version};
use oci_spec::runtime::LinuxHugepageLimit;
use std::path::Path;

const F: &str = "linux.resources.hugepageLimits";

/// The kernel's name for a huge page of `kb` KiB (mm/hugetlb_cgroup.c's `mem_fmt`).
pub fn size_name(kb: u64) -> String {
    match kb {
        k if k >= 1 << 20 => format!("{}GB", k >> 20),
        k if k >= 1 << 10 => format!("{}MB", k >> 10),
        k => format!("{k}KB"),
    }
}

/// The huge page sizes of this host, from `hugepages-<N>kB` in `dir`
/// (/sys/kernel/mm/hugepages), smallest first.
pub fn host_sizes(dir: &Path) -> Vec<String> {
    let mut kbs: Vec<u64> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            name.strip_prefix("hugepages-")?
                .strip_suffix("kB")?
                .parse()
                .ok()
        })
        .collect();
    kbs.sort_unstable();
    kbs.into_iter().map(size_name).collect()
}

/// The limits checked without the host: a size written `<N><unit>B`, a limit ≥ 0.
pub(crate) fn check(limits: &[LinuxHugepageLimit]) -> Result<()> {
    for (i, l) in limits.iter().enumerate() {
        let p = l.page_size();
        let unit = ["KB", "MB", "GB", "TB", "PB"]
            .iter()
            .find_map(|u| p.strip_suffix(u));
        if !unit.is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())) {
            return Err(Error::Invalid {
                field: format!("{F}[{i}].pageSize"),
                msg: format!("{p:?} is not a size like 2MB or 1GB"),
            });
        }
        if l.limit() < 0 {
            return Err(Error::Invalid {
                field: format!("{F}[{i}].limit"),
                msg: format!("{} is not a number of bytes", l.limit()),
            });
        }
    }
    Ok(())
}

/// Every page size must be one of the host's `sizes`.
pub(crate) fn check_sizes(limits: &[LinuxHugepageLimit], sizes: &[String]) -> Result<()> {
    for (i, l) in limits.iter().enumerate() {
        if !sizes.iter().any(|s| s == l.page_size()) {
            let have = if sizes.is_empty() {
                "none".to_string()
            } else {
                sizes.join(", ")
            };
            return Err(Error::Invalid {
                field: format!("{F}[{i}].pageSize"),
                msg: format!(
                    "{:?} is not a huge page size of this host (it has: {have})",
                    l.page_size()
                ),
            });
        }
    }
    Ok(())
}

/// Writes the limits to `dir`, the hugetlb hierarchy's directory (v1) or the container's
/// (v2).
pub(crate) fn apply(dir: &Path, limits: &[LinuxHugepageLimit], v: Version) -> Result<()> {
    let suffix = match v {
        Version::V1 => "limit_in_bytes",
        Version::V2 => "max",
    };
    for (i, l) in limits.iter().enumerate() {
        let field = format!("{F}[{i}].limit");
        let size = l.page_size();
        let limit = l.limit().to_string();
        write_existing(dir, &format!("hugetlb.{size}.{suffix}"), &limit, &field)?;
        let rsvd = format!("hugetlb.{size}.rsvd.{suffix}");
        if dir.join(&rsvd).exists() {
            write_existing(dir, &rsvd, &limit, &field)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_checks() {
        assert_eq!(size_name(64), "64KB");
        assert_eq!(size_name(2048), "2MB");
        assert_eq!(size_name(1 << 20), "1GB");
        assert_eq!(size_name(16 << 20), "16GB");
        let l = |p: &str, n: i64| -> LinuxHugepageLimit {
            serde_json::from_value(serde_json::json!({ "pageSize": p, "limit": n })).unwrap()
        };
        check(&[l("2MB", 0), l("1GB", 1 << 30)]).unwrap();
        for (bad, field) in [
            (l("2M", 1), "linux.resources.hugepageLimits[0].pageSize"),
            (l("MB", 1), "linux.resources.hugepageLimits[0].pageSize"),
            (l("2MB", -1), "linux.resources.hugepageLimits[0].limit"),
        ] {
            let e = check(&[bad]).unwrap_err().to_string();
            assert!(e.starts_with(field), "{e}");
        }
        let sizes = vec!["2MB".to_string(), "1GB".to_string()];
        check_sizes(&[l("2MB", 1)], &sizes).unwrap();
        let e = check_sizes(&[l("2MB", 1), l("3MB", 1)], &sizes).unwrap_err();
        assert!(e.to_string().contains("[1].pageSize"), "{e}");
        assert!(e.to_string().contains("2MB, 1GB"), "{e}");
    }
}
