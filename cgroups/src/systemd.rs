//! `--systemd-cgroup`: what corral checks without talking to systemd. Making the
//! container's cgroup a transient systemd scope needs systemd's D-Bus API, which corral
//! does not speak yet (README: a later issue); until then the flag fails `create` with
//! a reason: a malformed `slice:prefix:name` path, no systemd, or the missing D-Bus part.

use crate::{Error, Result};
use std::path::Path;

/// What `sd_booted(3)` checks: systemd is the init system.
pub fn running() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

/// The three parts of a systemd `cgroupsPath`, `slice:prefix:name` (runc's form; an empty
/// slice means `system.slice`).
pub fn parse(path: &str) -> Result<(&str, &str, &str)> {
    let bad = |msg: &str| Error::Invalid {
        field: "linux.cgroupsPath".into(),
        msg: format!("{path:?}: {msg}"),
    };
    let parts: Vec<&str> = path.split(':').collect();
    let [slice, prefix, name] = parts[..] else {
        return Err(bad(
            "with --systemd-cgroup it must be \"slice:prefix:name\" (e.g. system.slice:corral:ID)",
        ));
    };
    if !slice.is_empty() && !valid_slice(slice) {
        return Err(bad(&format!(
            "{slice:?} is not a slice name (NAME.slice, no '/', no empty '-' parts)"
        )));
    }
    if prefix.contains('/') || name.contains('/') {
        return Err(bad("the prefix and the name must not contain '/'"));
    }
    if name.is_empty() {
        return Err(bad("the name (after the second ':') is empty"));
    }
    Ok((slice, prefix, name))
}

fn valid_slice(slice: &str) -> bool {
    let Some(stem) = slice.strip_suffix(".slice") else {
        return false;
    };
    !stem.is_empty() && !slice.contains('/') && stem.split('-').all(|p| !p.is_empty())
}

/// `--systemd-cgroup` for a container whose `linux.cgroupsPath` is `path`: always an
/// error for now, the most precise one first.
pub fn check(path: Option<&str>) -> Result<()> {
    if let Some(p) = path.filter(|p| !p.is_empty()) {
        parse(p)?;
    }
    if !running() {
        return Err(Error::Other(
            "--systemd-cgroup: systemd is not running (no /run/systemd/system)".into(),
        ));
    }
    Err(Error::Unsupported {
        field: "--systemd-cgroup".into(),
        why: " (a systemd scope needs systemd's D-Bus API, which corral does not speak yet)".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(
            parse("system.slice:corral:abc").unwrap(),
            ("system.slice", "corral", "abc")
        );
        assert_eq!(parse(":corral:abc").unwrap().0, "");
        parse("user-1000.slice::abc").unwrap();
        for bad in [
            "/a/b",
            "a:b",
            "a:b:c:d",
            "system:corral:abc",
            ".slice:x:y",
            "a--b.slice:x:y",
            "-a.slice:x:y",
            "system.slice:x:",
            "system.slice:x:a/b",
        ] {
            let e = parse(bad).unwrap_err().to_string();
            assert!(e.starts_with("linux.cgroupsPath:"), "{bad}: {e}");
        }
    }
}
