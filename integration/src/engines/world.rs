//! The suite's world: one temporary directory holding every engine's state, the
//! runtime wrappers and the daemons' sockets; the daemons started (each stopped by its
//! pid); and the teardown that runs at the end, on failure, on an interrupt and on a
//! panic (Drop), then reports whatever was left behind.

use crate::args::CgroupManager;
use crate::cmd::{self, Out, OutFiles};
use crate::host::{self, Snapshot};
use crate::systemd::SystemdSnapshot;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

struct Daemon {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

pub struct World {
    /// The temporary directory: everything of the run lives below it.
    pub dir: PathBuf,
    /// The runtime under test (absolute).
    pub runtime: PathBuf,
    /// Where every wrapper logs the runtime's invocations.
    pub log: PathBuf,
    /// The engines' cgroup driver.
    pub cgroup_manager: CgroupManager,
    /// Long-lived helpers an engine started on its own and left to us (rootless
    /// podman's pause process): kept like the daemons, killed by pid at the end.
    helpers: Vec<i32>,
    outs: PathBuf,
    calls: usize,
    daemons: Vec<Daemon>,
    snapshot: Snapshot,
    /// Keep the temporary directory at the end (for a look at logs).
    keep: bool,
    /// Commands run now are not ended by an interrupt (cleanup).
    cleaning: bool,
    done: bool,
}

impl World {
    pub fn new(runtime: &Path, keep: bool, cgroup_manager: CgroupManager) -> Result<World, String> {
        let snapshot = Snapshot::take();
        let dir = std::env::temp_dir().join(format!("corral-engines-{}", std::process::id()));
        let outs = dir.join("out");
        std::fs::create_dir_all(&outs).map_err(|e| format!("mkdir {}: {e}", outs.display()))?;
        Ok(World {
            log: dir.join("invocations.log"),
            cgroup_manager,
            helpers: vec![],
            dir,
            runtime: runtime.to_path_buf(),
            outs,
            calls: 0,
            daemons: vec![],
            snapshot,
            keep,
            cleaning: false,
            done: false,
        })
    }

    /// A directory below the temporary directory (created).
    pub fn path(&self, rel: &str) -> Result<PathBuf, String> {
        let p = self.dir.join(rel);
        std::fs::create_dir_all(&p).map_err(|e| format!("mkdir {}: {e}", p.display()))?;
        Ok(p)
    }

    fn files(&mut self) -> OutFiles {
        self.calls += 1;
        OutFiles::new(&self.outs, self.calls)
    }

    /// Runs `cmd` (deadline cmd::timeout()).
    pub fn run(&mut self, cmd: Command) -> Out {
        self.run_for(cmd, cmd::timeout())
    }

    pub fn run_for(&mut self, cmd: Command, limit: Duration) -> Out {
        let files = self.files();
        cmd::run(cmd, &files, limit, !self.cleaning)
    }

    /// Runs `f` (a cleanup) with its commands safe from an interrupt.
    pub fn cleaning<T>(&mut self, f: impl FnOnce(&mut World) -> T) -> T {
        self.cleaning = true;
        let r = f(self);
        self.cleaning = false;
        r
    }

    /// Runs `cmd` on a terminal of its own.
    pub fn run_pty(&mut self, cmd: Command) -> Out {
        cmd::run_pty(cmd, cmd::timeout())
    }

    /// The runtime as `engine` calls it: a script named like the runtime (engines pick
    /// behaviour by that name, e.g. podman's `runtime_supports_json`) that appends
    /// `engine<TAB>cwd<TAB>arg<TAB>arg…` to the invocation log (cwd: `bundle` when the
    /// directory holds a config.json) and execs the runtime, with `--root ROOT` first
    /// when `root` is given (for engines that pass no `--root`).
    pub fn wrapper(&self, engine: &str, root: Option<&Path>) -> Result<PathBuf, String> {
        let dir = self.path(&format!("bin/{engine}"))?;
        let name = self.runtime.file_name().unwrap_or_default();
        let path = dir.join(name);
        let root = root
            .map(|r| format!(" --root '{}'", r.display()))
            .unwrap_or_default();
        let script = format!(
            "#!/bin/sh\n\
             # corral-engines: logs how {engine} calls the runtime, then runs it.\n\
             if [ -e config.json ]; then cwd=bundle; else cwd=other; fi\n\
             line=\"{engine}\t$cwd\"\n\
             for a in \"$@\"; do line=\"$line\t$a\"; done\n\
             printf '%s\\n' \"$line\" >> '{log}'\n\
             exec '{rt}'{root} \"$@\"\n",
            log = self.log.display(),
            rt = self.runtime.display(),
        );
        write_executable(&path, &script)?;
        Ok(path)
    }

    /// Starts a daemon (in its own process group, so that a Ctrl-C reaches the suite
    /// only) with its output in `log`, then polls `ready` for at most 30 s.
    pub fn start_daemon(
        &mut self,
        name: &'static str,
        mut cmd: Command,
        log: PathBuf,
        ready: impl Fn(&mut World) -> bool,
    ) -> Result<(), String> {
        use std::os::unix::process::CommandExt;
        let file = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let err = file.try_clone().map_err(|e| e.to_string())?;
        cmd.stdin(std::process::Stdio::null())
            .stdout(file)
            .stderr(err)
            .process_group(0);
        let what = cmd::describe(&cmd);
        let child = cmd.spawn().map_err(|e| format!("{what}: {e}"))?;
        self.daemons.push(Daemon { name, child, log });
        let start = Instant::now();
        loop {
            if ready(self) {
                return Ok(());
            }
            let d = self.daemons.last_mut().expect("just pushed");
            let exited = d.child.try_wait().ok().flatten();
            if exited.is_some() || start.elapsed() > Duration::from_secs(30) || cmd::interrupted() {
                let log = std::fs::read_to_string(&d.log).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(5).collect();
                return Err(format!(
                    "{name} did not come up ({}): {what}\n  {}",
                    exited.map_or("not ready in 30 s".into(), |s| s.to_string()),
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n  ")
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Pids of the daemons still running (never reaped behind their `Child`), and of
    /// the helpers.
    pub fn daemon_pids(&self) -> Vec<i32> {
        let daemons = self.daemons.iter().map(|d| d.child.id() as i32);
        daemons.chain(self.helpers.iter().copied()).collect()
    }

    /// Keeps the processes an engine left to us now (we are their subreaper) as
    /// helpers, until the end of the run.
    pub fn adopt_helpers(&mut self) {
        let left = crate::procs::others(&self.daemon_pids());
        self.helpers.extend(left);
    }

    /// Stops the daemons, newest first: SIGTERM by pid, SIGKILL after 20 s.
    pub fn stop_daemons(&mut self) -> Vec<String> {
        let mut problems = vec![];
        while let Some(mut d) = self.daemons.pop() {
            if let Ok(Some(st)) = d.child.try_wait() {
                problems.push(format!("{} had exited by itself ({st})", d.name));
                continue;
            }
            // SAFETY: kill by the pid of our own child, not yet reaped.
            unsafe { libc::kill(d.child.id() as i32, libc::SIGTERM) };
            let start = Instant::now();
            while d.child.try_wait().ok().flatten().is_none() {
                if start.elapsed() > Duration::from_secs(20) {
                    problems.push(format!("{} ignored SIGTERM for 20 s: killed", d.name));
                    let _ = d.child.kill();
                    let _ = d.child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        problems
    }

    /// What the last flow left on the host once its containers were removed: processes
    /// other than the daemons, mounts that were not there before it, container cgroups.
    /// Each is ended, detached or removed once reported, so that one flow's leak does
    /// not fail the next.
    pub fn flow_leaks(
        &self,
        mounts_before: &[String],
        systemd_before: Option<&SystemdSnapshot>,
    ) -> Vec<String> {
        let mut leaks = end_processes(&self.daemon_pids(), Duration::from_secs(10));
        if let Some(sd) = systemd_before {
            leaks.extend(sd.leaks());
        }
        for m in host::mount_points() {
            if !mounts_before.contains(&m) {
                leaks.push(format!("mount {m}"));
                if Path::new(&m).starts_with(&self.dir) {
                    host::detach(&m);
                }
            }
        }
        let cgroups = self.snapshot.container_cgroups();
        leaks.extend(host::summarize(&cgroups));
        host::remove_cgroups(&cgroups);
        leaks
    }

    /// Stops the daemons, then checks and cleans the host: processes, mounts,
    /// cgroups, system paths, and removes the temporary directory. Returns
    /// (leaks, notes): leaks fail the run.
    pub fn teardown(&mut self) -> (Vec<String>, Vec<String>) {
        self.done = true;
        self.cleaning = true;
        let mut leaks = self.stop_daemons();
        let me = std::process::id() as i32;
        for pid in std::mem::take(&mut self.helpers) {
            if crate::procs::ppid(pid) == Some(me) {
                // SAFETY: kill by the pid of our own child (we are its subreaper).
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        leaks.extend(end_processes(&[], Duration::from_secs(10)));
        for m in self.snapshot.new_mounts() {
            leaks.push(format!("mount {m}"));
            host::detach(&m);
        }
        leaks.extend(self.snapshot.clean_cgroups());
        let notes: Vec<String> = self
            .snapshot
            .clean_paths()
            .into_iter()
            .map(|p| format!("removed {p} (engines create it whatever their flags say)"))
            .collect();
        self.remove_dir(&mut leaks);
        (leaks, notes)
    }

    fn remove_dir(&self, leaks: &mut Vec<String>) {
        let prefix = self.dir.to_string_lossy().into_owned();
        if host::mount_points().iter().any(|m| m.starts_with(&prefix)) {
            leaks.push(format!(
                "{} kept: something is still mounted below it",
                prefix
            ));
        } else if self.keep {
            println!("kept {prefix}");
        } else if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            leaks.push(format!("remove {prefix}: {e}"));
        }
    }
}

impl Drop for World {
    /// A panic or an early return still stops the daemons and cleans up.
    fn drop(&mut self) {
        if !self.done {
            let (leaks, _) = self.teardown();
            for l in leaks {
                eprintln!("left behind: {l}");
            }
        }
    }
}

/// Waits (at most `limit`) for our children other than `keep` (orphaned engine helpers
/// and container processes: we are a subreaper) to go; kills and reports any that stay.
fn end_processes(keep: &[i32], limit: Duration) -> Vec<String> {
    let start = Instant::now();
    loop {
        let left = crate::procs::others(keep);
        if left.is_empty() {
            return vec![];
        }
        if start.elapsed() > limit {
            let leaks = left
                .iter()
                .map(|p| format!("process {p} ({})", host::cmdline(*p)))
                .collect();
            kill_children(keep);
            return leaks;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Kills our children by pid, a few rounds (a killed conmon or shim hands its
/// container's processes on to us).
fn kill_children(keep: &[i32]) {
    for _ in 0..5 {
        let left = crate::procs::others(keep);
        if left.is_empty() {
            return;
        }
        for pid in left {
            // SAFETY: kill by pid of our own child (a descendant of this run).
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        std::thread::sleep(Duration::from_millis(100));
        host::reap_except(keep);
    }
}

pub fn write_executable(path: &Path, text: &str) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).map_err(|e| format!("write {}: {e}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("chmod {}: {e}", path.display()))
}
