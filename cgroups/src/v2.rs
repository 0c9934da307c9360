//! cgroup v2 (unified hosts): one directory; controllers are enabled in every parent's
//! `cgroup.subtree_control` on the way down, and limits go to that one directory.
//! Device rules become a BPF program attached to the directory (see `bpf`).

use crate::{bpf, write, Cgroup, DeviceRule, Error, Result};
use oci_spec::runtime::LinuxResources;
use std::path::Path;

pub fn create(cg: &mut Cgroup, shared: &dyn Fn(&Path) -> bool) -> Result<()> {
    crate::make_levels(&mut cg.dirs[0], shared, enable_controllers)
}

/// Enables in `dir`'s children every controller `dir` has, unless already enabled.
///
/// A level a non-root caller may not write (above its delegated subtree) is left as it
/// is: the container gets the controllers delegated to it, and rootless mode skips the
/// limits of the others with a warning. A level with processes of its own refuses
/// (EBUSY): that is an error naming it and the rule, never a cgroup without controllers.
fn enable_controllers(dir: &Path) -> Result<()> {
    let have = crate::read_small(&dir.join("cgroup.controllers")).unwrap_or_default();
    let on = crate::read_small(&dir.join("cgroup.subtree_control")).unwrap_or_default();
    let missing: Vec<String> = have
        .split_whitespace()
        .filter(|c| !on.split_whitespace().any(|o| o == *c))
        .map(|c| format!("+{c}"))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let field = "linux.cgroupsPath";
    match write(dir, "cgroup.subtree_control", &missing.join(" "), field) {
        Err(Error::Write { err, .. })
            if matches!(err.raw_os_error(), Some(libc::EACCES | libc::EPERM))
                // SAFETY: geteuid cannot fail and touches no memory.
                && unsafe { libc::geteuid() } != 0 =>
        {
            Ok(())
        }
        Err(Error::Write { err, .. }) if err.raw_os_error() == Some(libc::EBUSY) => {
            Err(Error::Invalid {
                field: field.into(),
                msg: populated(dir, &missing.join(" ")),
            })
        }
        r => r,
    }
}

/// Why `dir` cannot give its children the controllers `missing`: v2's rule.
fn populated(dir: &Path, missing: &str) -> String {
    let procs = crate::procs(dir);
    let which = match procs.as_slice() {
        [] => "processes of its own".to_string(),
        [p] => format!("a process of its own (pid {p})"),
        [p, ..] => format!("{} processes of its own (pid {p}, …)", procs.len()),
    };
    format!(
        "cgroup {} holds {which}, and cgroup v2 enables controllers ({missing}) only for \
         the children of a cgroup without processes (the no-internal-processes rule): \
         give a cgroupsPath that is not below a cgroup with processes",
        dir.display()
    )
}

/// `memory.swap.max` from the spec's swap, which is memory + swap as on v1 (runc's
/// conversion): `None` leaves the file alone.
pub fn swap_max(swap: Option<i64>, limit: Option<i64>) -> Result<Option<String>> {
    let (swap, limit) = (swap.unwrap_or(0), limit.unwrap_or(0));
    let bad = |msg: &str| Error::Invalid {
        field: "linux.resources.memory.swap".into(),
        msg: msg.into(),
    };
    Ok(match (swap, limit) {
        // Unlimited memory and no swap given: unlimited swap too, as v1 behaves.
        (0, -1) | (-1, _) => Some("max".into()),
        (0, _) => None,
        (_, 0) | (_, -1) => return Err(bad("a swap limit needs a memory limit")),
        (s, l) if s < l => return Err(bad("memory + swap must not be below memory.limit")),
        (s, l) => Some((s - l).to_string()),
    })
}

/// cpu.shares (2..262144) to cpu.weight (1..10000), the conversion runc and crun use.
pub fn cpu_weight(shares: u64) -> u64 {
    1 + (shares.saturating_sub(2) * 9999) / 262142
}

fn max_or(v: i64) -> String {
    if v < 0 {
        "max".into()
    } else {
        v.to_string()
    }
}

pub fn apply(cg: &Cgroup, r: &LinuxResources, extra: &[DeviceRule]) -> Result<()> {
    let dir = &cg.dirs[0].path;
    // The device filter first: the limits below cannot fail in a way that matters less.
    let spec = r.devices().iter().flatten();
    let mut rules = spec
        .enumerate()
        .map(|(i, d)| Ok(bpf::Rule::new(d.allow(), DeviceRule::from_spec(d, i)?)))
        .collect::<Result<Vec<_>>>()?;
    rules.extend(extra.iter().map(|e| bpf::Rule::new(true, e.clone())));
    // `update` passes no rules at all: the filter `create` attached stays.
    if r.devices().is_some() || !extra.is_empty() {
        bpf::attach(dir, &rules)?;
    }
    let f = "linux.resources";
    if let Some(m) = r.memory() {
        if let Some(l) = m.limit() {
            write(dir, "memory.max", &max_or(l), &format!("{f}.memory.limit"))?;
        }
        if let Some(s) = swap_max(m.swap(), m.limit())? {
            write(dir, "memory.swap.max", &s, &format!("{f}.memory.swap"))?;
        }
        if let Some(r) = m.reservation() {
            write(
                dir,
                "memory.low",
                &max_or(r),
                &format!("{f}.memory.reservation"),
            )?;
        }
    }
    if let Some(c) = r.cpu() {
        if let Some(s) = c.shares().filter(|s| *s != 0) {
            write(
                dir,
                "cpu.weight",
                &cpu_weight(s).to_string(),
                &format!("{f}.cpu.shares"),
            )?;
        }
        let (q, p) = (
            c.quota().filter(|q| *q != 0),
            c.period().filter(|p| *p != 0),
        );
        if q.is_some() || p.is_some() {
            let q = q.map_or("max".into(), max_or);
            let p = p.unwrap_or(100_000);
            write(
                dir,
                "cpu.max",
                &format!("{q} {p}"),
                &format!("{f}.cpu.quota"),
            )?;
        }
        if let Some(b) = c.burst() {
            write(
                dir,
                "cpu.max.burst",
                &b.to_string(),
                &format!("{f}.cpu.burst"),
            )?;
        }
        if let Some(i) = c.idle() {
            write(dir, "cpu.idle", &i.to_string(), &format!("{f}.cpu.idle"))?;
        }
        for (file, field, val) in [
            ("cpuset.cpus", "cpus", c.cpus()),
            ("cpuset.mems", "mems", c.mems()),
        ] {
            if let Some(v) = val.as_deref().filter(|v| !v.trim().is_empty()) {
                write(dir, file, v.trim(), &format!("{f}.cpu.{field}"))?;
            }
        }
    }
    if let Some(p) = r.pids() {
        // oci-spec reads an absent limit as 0: zero and below mean "no limit".
        let v = if p.limit() > 0 {
            p.limit().to_string()
        } else {
            "max".into()
        };
        write(dir, "pids.max", &v, &format!("{f}.pids.limit"))?;
    }
    apply_more(dir, r)
}

/// blockIO, hugepageLimits, rdma (see their modules), then unified last; `check`
/// refused the v1-only fields and unified keys that overlap a typed field.
fn apply_more(dir: &Path, r: &LinuxResources) -> Result<()> {
    if let Some(b) = r.block_io().as_ref().filter(|b| crate::blkio::is_set(b)) {
        crate::blkio::apply_v2(dir, b)?;
    }
    if let Some(h) = r.hugepage_limits().as_ref().filter(|h| !h.is_empty()) {
        crate::hugetlb::apply(dir, h, crate::Version::V2)?;
    }
    if let Some(m) = r.rdma().as_ref().filter(|m| !m.is_empty()) {
        crate::rdma::apply(dir, m)?;
    }
    if let Some(u) = r.unified().as_ref().filter(|u| !u.is_empty()) {
        crate::unified::apply(dir, u)?;
    }
    Ok(())
}

/// cgroup.kill (Linux 5.14): SIGKILL to every process in the cgroup, atomically with
/// respect to forks. Older kernels lack it; the caller's kill loop then does the work.
pub fn kill(cg: &Cgroup) {
    crate::debug(|| {
        format!(
            "cgroup: write \"1\" to {}/cgroup.kill",
            cg.dirs[0].path.display()
        )
    });
    let _ = std::fs::write(cg.dirs[0].path.join("cgroup.kill"), "1");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions() {
        assert_eq!(cpu_weight(2), 1);
        assert_eq!(cpu_weight(1024), 39);
        assert_eq!(cpu_weight(262144), 10000);
        assert_eq!(swap_max(None, Some(100)).unwrap(), None);
        assert_eq!(swap_max(None, Some(-1)).unwrap().as_deref(), Some("max"));
        assert_eq!(
            swap_max(Some(-1), Some(100)).unwrap().as_deref(),
            Some("max")
        );
        assert_eq!(
            swap_max(Some(300), Some(100)).unwrap().as_deref(),
            Some("200")
        );
        assert!(swap_max(Some(50), Some(100)).is_err());
        assert!(swap_max(Some(50), None).is_err());
    }
}
