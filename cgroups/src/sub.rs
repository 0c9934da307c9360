//! `exec --cgroup`: run a process in an existing sub-cgroup of the container's, in
//! runc's format: `PATH` (in every hierarchy) or `CTRL[,CTRL...]:PATH` (cgroup v1, the
//! hierarchy of each controller; the option may be given once per controller).

use crate::{Cgroup, Error, Result, Version};
use std::path::{Component, Path, PathBuf};

/// Parsed `--cgroup` values.
#[derive(Debug, Default, PartialEq)]
pub struct SubCgroups {
    /// A path for every hierarchy.
    all: Option<PathBuf>,
    /// (controller, path) for single v1 hierarchies.
    by_controller: Vec<(String, PathBuf)>,
}

fn invalid(arg: &str, msg: &str) -> Error {
    Error::Invalid {
        field: format!("--cgroup {arg}"),
        msg: msg.to_string(),
    }
}

/// A path below the container's cgroup: relative, no `..` (a leading `/` is the
/// container's cgroup itself, as with runc).
fn below(arg: &str, path: &str) -> Result<PathBuf> {
    let p = Path::new(path);
    if p.components().any(|c| c == Component::ParentDir) {
        return Err(invalid(arg, "\"..\" would leave the container's cgroup"));
    }
    Ok(p.components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .collect())
}

impl SubCgroups {
    pub fn parse(args: &[String]) -> Result<Self> {
        let mut out = SubCgroups::default();
        for arg in args {
            let Some((ctrls, path)) = arg.split_once(':') else {
                if args.len() > 1 {
                    return Err(invalid(
                        arg,
                        "with several --cgroup, each needs a <controller>: prefix",
                    ));
                }
                out.all = Some(below(arg, arg)?);
                continue;
            };
            if path.contains(':') {
                return Err(invalid(arg, "not [<controller>[,<controller>...]:]<path>"));
            }
            for c in ctrls.split(',') {
                if c.is_empty() {
                    return Err(invalid(arg, "empty controller name"));
                }
                if out.by_controller.iter().any(|(have, _)| have == c) {
                    return Err(invalid(arg, &format!("controller {c} given twice")));
                }
                out.by_controller.push((c.to_string(), below(arg, path)?));
            }
        }
        Ok(out)
    }

    /// `cg` with the sub-cgroups in place of its directories; each must exist.
    pub fn apply(&self, cg: &Cgroup) -> Result<Cgroup> {
        let mut out = cg.clone();
        if let Some(p) = &self.all {
            for d in &mut out.dirs {
                d.path.push(p);
            }
        }
        for (ctrl, p) in &self.by_controller {
            let arg = format!("{ctrl}:{}", p.display());
            if cg.version == Version::V2 {
                return Err(invalid(
                    &arg,
                    "cgroup v2 has one hierarchy: give the path without a controller",
                ));
            }
            let d = out
                .dirs
                .iter_mut()
                .find(|d| d.controllers.iter().any(|c| c == ctrl))
                .ok_or_else(|| invalid(&arg, &format!("no cgroup v1 hierarchy has {ctrl}")))?;
            d.path.push(p);
        }
        for d in &out.dirs {
            if !d.path.is_dir() {
                return Err(Error::Other(format!(
                    "--cgroup: cgroup {} does not exist",
                    d.path.display()
                )));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Dir;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn plain_and_per_controller_paths() {
        let s = SubCgroups::parse(&args(&["/a/b"])).unwrap();
        assert_eq!(s.all, Some(PathBuf::from("a/b")));
        let s = SubCgroups::parse(&args(&["cpu,memory:x", "pids:y"])).unwrap();
        assert_eq!(
            s.by_controller,
            vec![
                ("cpu".into(), "x".into()),
                ("memory".into(), "x".into()),
                ("pids".into(), "y".into())
            ]
        );
    }

    #[test]
    fn bad_values_are_refused() {
        for a in [
            &["a", "b"][..],
            &["cpu:a", "b"],
            &[":a"],
            &["cpu,:a"],
            &["cpu:a", "cpu:b"],
            &["a/../.."],
            &["cpu:a:b"],
        ] {
            let e = SubCgroups::parse(&args(a)).unwrap_err().to_string();
            assert!(e.starts_with("--cgroup "), "{a:?}: {e}");
        }
    }

    #[test]
    fn v2_takes_no_controller_and_paths_must_exist() {
        let dir = std::env::temp_dir().join(format!("corral-sub-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("s")).unwrap();
        let cg = Cgroup {
            version: Version::V2,
            driver: crate::Driver::CgroupfsV2,
            bus: None,
            dirs: vec![Dir {
                controllers: vec![],
                mount: "/sys/fs/cgroup".into(),
                path: dir.clone(),
                made: vec![],
            }],
        };
        let s = SubCgroups::parse(&args(&["s"])).unwrap();
        assert_eq!(s.apply(&cg).unwrap().dirs[0].path, dir.join("s"));
        let s = SubCgroups::parse(&args(&["missing"])).unwrap();
        assert!(s
            .apply(&cg)
            .unwrap_err()
            .to_string()
            .contains("does not exist"));
        let s = SubCgroups::parse(&args(&["memory:s"])).unwrap();
        assert!(s.apply(&cg).unwrap_err().to_string().contains("cgroup v2"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
