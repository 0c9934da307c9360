//! The run's own cgroup. The cases' ids are fixed (`c1`), and a runtime puts a container
//! without cgroupsPath in a cgroup named after its id (corral `corral-<id>`, runc `<id>`)
//! below its caller's cgroup (v1; on v2 below its parent): two runs at once from the
//! same cgroup would meet there ("cgroup … holds process N: not joined"). So the harness
//! first moves itself into a cgroup of this run, `conformance-<pid>`, made below its own
//! in every hierarchy (v1), or beside it with the harness in a leaf `harness` below it
//! (v2: a cgroup with processes gives its children no controllers), and moves back and
//! removes it at the end. Where it cannot (no permission, a read-only cgroupfs), it says
//! so and stays where it is.

use std::path::{Path, PathBuf};

const ROOT: &str = "/sys/fs/cgroup";

/// Where the harness was (to go back to) and the directories made, the deepest last.
pub struct RunCgroup {
    back: Vec<PathBuf>,
    made: Vec<PathBuf>,
}

/// The harness's cgroup directories: (hierarchy dir, own cgroup dir), from
/// /proc/self/cgroup; cgroup2 is `/sys/fs/cgroup` on a v2 host, `unified` on a hybrid.
fn own() -> (bool, Vec<PathBuf>) {
    let v2 = Path::new(ROOT).join("cgroup.controllers").exists();
    let text = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let dirs = text
        .lines()
        .filter_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, ctrls, path) = (f.next()?, f.next()?, f.next()?);
            let h = match ctrls {
                "" if v2 => PathBuf::from(ROOT),
                "" => Path::new(ROOT).join("unified"),
                c => Path::new(ROOT).join(c.strip_prefix("name=").unwrap_or(c)),
            };
            h.exists().then(|| h.join(path.trim_start_matches('/')))
        })
        .collect();
    (v2, dirs)
}

impl RunCgroup {
    /// Moves this process into the run's cgroup (see the module); `None` with a note on
    /// stderr when it cannot.
    pub fn enter() -> Option<RunCgroup> {
        let (v2, back) = own();
        let name = format!("conformance-{}", std::process::id());
        let mut run = RunCgroup {
            back: back.clone(),
            made: vec![],
        };
        let r = if v2 {
            let own = &back[0];
            let parent = match own == Path::new(ROOT) {
                true => own.clone(),
                false => own.parent().unwrap_or(own).to_path_buf(),
            };
            let leaf = parent.join(&name).join("harness");
            run.mkdir(&parent.join(&name))
                .and_then(|()| run.mkdir(&leaf))
                .and_then(|()| join(&leaf))
        } else {
            back.iter().try_for_each(|own| {
                let dir = own.join(&name);
                run.mkdir(&dir)?;
                // A new v1 cpuset has no cpus or mems: a process cannot join it before.
                for f in ["cpuset.cpus", "cpuset.mems"] {
                    if let Ok(v) = std::fs::read_to_string(own.join(f)) {
                        std::fs::write(dir.join(f), v.trim())
                            .map_err(|e| format!("{}: {e}", dir.join(f).display()))?;
                    }
                }
                join(&dir)
            })
        };
        match r {
            Ok(()) => Some(run),
            Err(e) => {
                eprintln!("note: the run stays in its caller's cgroup ({e})");
                run.leave();
                None
            }
        }
    }

    fn mkdir(&mut self, dir: &Path) -> Result<(), String> {
        std::fs::create_dir(dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
        self.made.push(dir.to_path_buf());
        Ok(())
    }

    /// Moves back to where the run started, then removes what it made (a cgroup left
    /// by a case, which the case reported, keeps its parent: said on stderr).
    pub fn leave(&self) {
        for b in &self.back {
            let _ = join(b);
        }
        for d in self.made.iter().rev() {
            if let Err(e) = std::fs::remove_dir(d) {
                eprintln!("note: cannot remove the run's cgroup {}: {e}", d.display());
            }
        }
    }
}

fn join(dir: &Path) -> Result<(), String> {
    let procs = dir.join("cgroup.procs");
    std::fs::write(&procs, std::process::id().to_string())
        .map_err(|e| format!("{}: {e}", procs.display()))
}
