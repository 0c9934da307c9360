//! One case's world: its directory, its runtime root, bundles, runtime calls, and the
//! cleanup and leak checks that run after it, whatever the result.

use crate::bundle;
use crate::procs::children;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    pub fn ok(&self, what: &str) -> Result<&Self, String> {
        if self.code == 0 {
            Ok(self)
        } else {
            Err(format!(
                "{what}: exit {}: {}",
                self.code,
                self.stderr.trim()
            ))
        }
    }

    pub fn failed(&self, what: &str) -> Result<&Self, String> {
        if self.code != 0 {
            Ok(self)
        } else {
            Err(format!(
                "{what}: succeeded but should have failed (stdout {:?})",
                self.stdout
            ))
        }
    }
}

pub struct Ctx {
    pub runtime: PathBuf,
    pub dir: PathBuf,
    pub root: PathBuf,
    pub is_corral: bool,
    calls: usize,
    /// Container pids seen by the case: all must be gone after cleanup.
    pids: Vec<i32>,
    /// Host mounts the case made (host_tmpfs), unmounted by cleanup.
    host_mounts: Vec<PathBuf>,
    /// cgroupsPath values the case used (`cgroup_name`): all must be gone after cleanup.
    cgroups: Vec<String>,
    /// With `--systemd-cgroup`: the units and scope cgroups before the case.
    before: Option<crate::cgpath::Snapshot>,
}

const TIMEOUT: Duration = Duration::from_secs(120);

/// Global flags the harness puts before every runtime call (`--systemd-cgroup`).
static GLOBAL_FLAGS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();

/// Sets the global flags once, before any case runs.
pub fn set_global_flags(flags: Vec<String>) {
    let _ = GLOBAL_FLAGS.set(flags);
}

fn global_flags() -> &'static [String] {
    GLOBAL_FLAGS.get().map_or(&[], Vec::as_slice)
}

/// The harness was given `--systemd-cgroup`: every call has it, and the cases of the
/// systemd driver run.
pub fn systemd_cgroup() -> bool {
    global_flags().iter().any(|f| f == "--systemd-cgroup")
}

impl Ctx {
    pub fn new(runtime: &Path, work: &Path, name: &str, is_corral: bool) -> Self {
        let dir = work.join(name);
        std::fs::create_dir_all(&dir).expect("create case dir");
        Ctx {
            runtime: runtime.to_path_buf(),
            root: dir.join("root"),
            dir,
            is_corral,
            calls: 0,
            pids: vec![],
            host_mounts: vec![],
            cgroups: vec![],
            before: crate::cgpath::Snapshot::take(),
        }
    }

    /// A fresh bundle with `config` (see bundle::config).
    pub fn bundle(&mut self, config: &Value) -> Result<PathBuf, String> {
        self.calls += 1;
        let dir = self.dir.join(format!("bundle{}", self.calls));
        bundle::make(&dir, config).map_err(|e| format!("make bundle {}: {e}", dir.display()))
    }

    /// A command for the runtime (the global flags first) with stdio on fresh files of
    /// the case.
    fn command(&mut self, args: &[&str]) -> (Command, PathBuf, PathBuf) {
        let runtime = self.runtime.clone();
        let mut all: Vec<&str> = global_flags().iter().map(String::as_str).collect();
        all.extend(args);
        self.command_of(&runtime, &all)
    }

    /// A command for `program` with stdio on fresh files of the case.
    fn command_of(&mut self, program: &Path, args: &[&str]) -> (Command, PathBuf, PathBuf) {
        self.calls += 1;
        let out = self.dir.join(format!("call{}.out", self.calls));
        let err = self.dir.join(format!("call{}.err", self.calls));
        let mut c = Command::new(program);
        c.args(args);
        // What a service manager may have given this process is for it alone: the
        // runtime would pass it to every container (see cases::activation).
        for var in [
            "NOTIFY_SOCKET",
            "LISTEN_FDS",
            "LISTEN_PID",
            "LISTEN_FDNAMES",
        ] {
            c.env_remove(var);
        }
        // Files, not pipes: a detached container keeps its stdio open long after the
        // runtime has exited.
        c.stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).expect("create output file"))
            .stderr(std::fs::File::create(&err).expect("create output file"));
        (c, out, err)
    }

    fn finish((mut c, out, err): (Command, PathBuf, PathBuf)) -> Out {
        let code = match c.spawn() {
            Ok(child) => wait_timeout(child),
            Err(e) => {
                return Out {
                    code: -1,
                    stdout: String::new(),
                    stderr: e.to_string(),
                }
            }
        };
        Out {
            code,
            stdout: std::fs::read_to_string(out).unwrap_or_default(),
            stderr: std::fs::read_to_string(err).unwrap_or_default(),
        }
    }

    fn with_root(&self, args: &[&str]) -> Vec<String> {
        let mut v = vec![
            "--root".to_string(),
            self.root.to_string_lossy().into_owned(),
        ];
        v.extend(args.iter().map(|a| a.to_string()));
        v
    }

    /// Runs the runtime with `--root ROOT ARGS` and waits (at most `TIMEOUT`).
    pub fn rt(&mut self, args: &[&str]) -> Out {
        let args = self.with_root(args);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Self::finish(self.command(&args))
    }

    /// Runs the runtime with `--root ROOT ARGS`, `input` on its standard input.
    pub fn rt_with_stdin(&mut self, args: &[&str], input: &str) -> Out {
        let file = self.dir.join(format!("stdin{}", self.calls));
        if let Err(e) = std::fs::write(&file, input) {
            return Out {
                code: -1,
                stdout: String::new(),
                stderr: format!("write {}: {e}", file.display()),
            };
        }
        let args = self.with_root(args);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut cmd = self.command(&args);
        match std::fs::File::open(&file) {
            Ok(f) => cmd.0.stdin(f),
            Err(_) => cmd.0.stdin(Stdio::null()),
        };
        Self::finish(cmd)
    }

    /// Runs the runtime in directory `cwd` with exactly `args` (no `--root` added).
    pub fn rt_in(&mut self, cwd: &Path, args: &[&str]) -> Out {
        let mut cmd = self.command(args);
        cmd.0.current_dir(cwd);
        Self::finish(cmd)
    }

    /// Runs the runtime in `cwd` as the unprivileged `uid`/`gid` (no supplementary
    /// groups), with exactly `args` (no `--root` added) and an environment of only PATH
    /// and `env`.
    pub fn rt_as(
        &mut self,
        (uid, gid): (u32, u32),
        cwd: &Path,
        env: &[(&str, &Path)],
        args: &[&str],
    ) -> Out {
        use std::os::unix::process::CommandExt;
        let mut cmd = self.command(args);
        // std drops the supplementary groups (setgroups(0)) when it changes the uid.
        cmd.0
            .current_dir(cwd)
            .uid(uid)
            .gid(gid)
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
            .envs(env.iter().copied());
        Self::finish(cmd)
    }

    /// Runs the runtime (with `--root`) holding an extra open file as fd 3.
    pub fn rt_with_fd3(&mut self, args: &[&str]) -> Out {
        self.rt_with_fd3_on(args, Path::new("/dev/null"))
    }

    /// Runs the runtime (with `--root`) holding `path` (a file or a directory) open as fd 3.
    pub fn rt_with_fd3_on(&mut self, args: &[&str], path: &Path) -> Out {
        use std::os::fd::AsRawFd;
        use std::os::unix::process::CommandExt;
        let args = self.with_root(args);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut cmd = self.command(&args);
        let extra = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) => {
                return Out {
                    code: -1,
                    stdout: String::new(),
                    stderr: format!("open {}: {e}", path.display()),
                }
            }
        };
        let fd = extra.as_raw_fd();
        // SAFETY: dup2 is async-signal-safe; it runs in the forked child before exec and
        // gives it fd 3 without close-on-exec.
        unsafe {
            cmd.0.pre_exec(move || {
                if libc::dup2(fd, 3) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let out = Self::finish(cmd);
        drop(extra);
        out
    }

    /// Starts the runtime without waiting; returns the child and its output files.
    pub fn rt_spawn(&mut self, args: &[&str]) -> Result<(Child, PathBuf), String> {
        self.rt_spawn_with(args, |_| {})
    }

    /// `rt_spawn` with the command changed by `setup` first (env, stdio, ...).
    pub fn rt_spawn_with(
        &mut self,
        args: &[&str],
        setup: impl FnOnce(&mut Command),
    ) -> Result<(Child, PathBuf), String> {
        let args = self.with_root(args);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (mut c, out, _) = self.command(&args);
        setup(&mut c);
        c.spawn().map(|ch| (ch, out)).map_err(|e| e.to_string())
    }

    /// `rt` with the command changed by `setup` first (env, stdio, ...).
    pub fn rt_with(&mut self, args: &[&str], setup: impl FnOnce(&mut Command)) -> Out {
        let args = self.with_root(args);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut cmd = self.command(&args);
        setup(&mut cmd.0);
        Self::finish(cmd)
    }

    /// Runs `sh -c SCRIPT` where `"$@"` is the runtime with `--root` and `args`: the
    /// script can set things up (fds, variables naming its own pid) and exec it.
    pub fn rt_via_sh(&mut self, script: &str, args: &[&str]) -> Out {
        let mut full = vec![
            "-c".to_string(),
            script.to_string(),
            "sh".to_string(),
            self.runtime.to_string_lossy().into_owned(),
        ];
        full.extend(global_flags().iter().cloned());
        full.extend(self.with_root(args));
        let full: Vec<&str> = full.iter().map(String::as_str).collect();
        Self::finish(self.command_of(Path::new("/bin/sh"), &full))
    }

    pub fn state(&mut self, id: &str) -> Result<Value, String> {
        let o = self.rt(&["state", id]);
        o.ok(&format!("state {id}"))?;
        let v: Value = serde_json::from_str(&o.stdout)
            .map_err(|e| format!("state {id}: bad JSON {e}: {}", o.stdout))?;
        if let Some(pid) = pid_of(&v) {
            self.track(pid);
        }
        Ok(v)
    }

    pub fn status(&mut self, id: &str) -> Result<String, String> {
        Ok(self.state(id)?["status"]
            .as_str()
            .unwrap_or_default()
            .to_string())
    }

    /// Polls `state` until the status is `want` (at most 10 s).
    pub fn wait_status(&mut self, id: &str, want: &str) -> Result<(), String> {
        self.wait_status_for(id, want, crate::PATIENCE)
    }

    /// `wait_status` with a deadline of `limit` (slow work in an emulated guest).
    pub fn wait_status_for(&mut self, id: &str, want: &str, limit: Duration) -> Result<(), String> {
        let start = Instant::now();
        loop {
            // A container that a background `run` is still creating may not exist yet.
            let got = self.status(id);
            if got.as_deref() == Ok(want) {
                return Ok(());
            }
            if start.elapsed() > limit {
                return Err(format!("{id}: status stayed {got:?}, wanted {want:?}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Mounts a tmpfs on the host at `path` (created if missing; it must lie under the
    /// case dir) with comma-separated `options`: mount flags (ro, nosuid, noatime, …)
    /// and tmpfs data (size=…, mode=…). cleanup() unmounts it.
    pub fn host_tmpfs(&mut self, path: &Path, options: &str) -> Result<(), String> {
        use std::ffi::CString;
        use std::os::unix::ffi::OsStrExt;
        if !path.starts_with(&self.dir) {
            return Err(format!(
                "host_tmpfs {}: not under the case dir",
                path.display()
            ));
        }
        std::fs::create_dir_all(path).map_err(|e| format!("mkdir {}: {e}", path.display()))?;
        let (mut flags, mut data) = (0, vec![]);
        for o in options.split(',').filter(|o| !o.is_empty()) {
            match o {
                "ro" => flags |= libc::MS_RDONLY,
                "nosuid" => flags |= libc::MS_NOSUID,
                "nodev" => flags |= libc::MS_NODEV,
                "noexec" => flags |= libc::MS_NOEXEC,
                "noatime" => flags |= libc::MS_NOATIME,
                "nodiratime" => flags |= libc::MS_NODIRATIME,
                "strictatime" => flags |= libc::MS_STRICTATIME,
                "nosymfollow" => flags |= libc::MS_NOSYMFOLLOW,
                "sync" => flags |= libc::MS_SYNCHRONOUS,
                "dirsync" => flags |= libc::MS_DIRSYNC,
                _ => data.push(o),
            }
        }
        let target = CString::new(path.as_os_str().as_bytes()).map_err(|e| e.to_string())?;
        let data = CString::new(data.join(",")).map_err(|e| e.to_string())?;
        // SAFETY: mount with valid NUL-terminated strings.
        let r = unsafe {
            libc::mount(
                c"tmpfs".as_ptr(),
                target.as_ptr(),
                c"tmpfs".as_ptr(),
                flags,
                data.as_ptr().cast(),
            )
        };
        if r != 0 {
            let e = std::io::Error::last_os_error();
            return Err(format!(
                "mount tmpfs on {} ({options}): {e}",
                path.display()
            ));
        }
        self.host_mounts.push(path.to_path_buf());
        Ok(())
    }

    /// Detaches the case's host mounts, newest first.
    fn unmount_host_mounts(&mut self) {
        use std::os::unix::ffi::OsStrExt;
        while let Some(p) = self.host_mounts.pop() {
            if let Ok(c) = std::ffi::CString::new(p.as_os_str().as_bytes()) {
                // SAFETY: umount2 with a valid NUL-terminated path.
                unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
            }
        }
    }

    /// A unique `linux.cgroupsPath` for this case in the form of the harness's cgroup
    /// driver (see `cgpath`), checked by cleanup.
    pub fn cgroup_name(&mut self, what: &str) -> String {
        let name = crate::cgpath::for_case(what);
        self.cgroups.push(name.clone());
        name
    }

    pub fn track(&mut self, pid: i32) {
        if !self.pids.contains(&pid) {
            self.pids.push(pid);
        }
    }

    /// The names under the runtime root (one per container the runtime knows).
    fn root_entries(&self) -> Vec<String> {
        std::fs::read_dir(&self.root)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect()
    }

    /// Deletes what the case left, then reports anything still there.
    pub fn cleanup(&mut self) -> Result<(), String> {
        // A container process that ended as our child (we are a subreaper) keeps the
        // pid namespace it was in from dying until it is reaped: reap it first.
        reap();
        use std::os::unix::fs::MetadataExt;
        // As the root's owner (a rootless case's user): corral refuses another's root.
        let owner = std::fs::metadata(&self.root).map_or((0, 0), |m| (m.uid(), m.gid()));
        let root = self.root.to_string_lossy().into_owned();
        for id in &self.root_entries() {
            if owner.0 == 0 {
                self.rt(&["delete", "--force", id]);
            } else {
                let dir = self.dir.clone();
                self.rt_as(
                    owner,
                    &dir,
                    &[],
                    &["--root", &root, "delete", "--force", id],
                );
            }
        }
        let mut leaks = vec![];
        let deadline = Instant::now() + crate::PATIENCE;
        loop {
            reap();
            let kids = children();
            let alive: Vec<i32> = self
                .pids
                .iter()
                .copied()
                .filter(|p| Path::new(&format!("/proc/{p}")).exists())
                .collect();
            if kids.is_empty() && alive.is_empty() {
                break;
            }
            if Instant::now() > deadline {
                let left: Vec<i32> = kids.into_iter().chain(alive).collect();
                leaks.push(format!("processes {left:?}"));
                // Report, then end them (they descend from this run), so that one
                // leaking case does not fail every case after it.
                for pid in left {
                    // SAFETY: kill with plain integers, on a pid this run started.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
                std::thread::sleep(Duration::from_millis(50));
                reap();
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        for name in std::mem::take(&mut self.cgroups) {
            let left: Vec<PathBuf> = cgroup_dirs(&name)
                .into_iter()
                .filter(|d| d.exists())
                .collect();
            if !left.is_empty() {
                leaks.push(format!("cgroups {left:?}"));
                // Removed (they are empty once the processes above are gone), so that one
                // leaking case does not fail the cases after it.
                for d in left {
                    let _ = std::fs::remove_dir(d);
                }
            }
        }
        if let Some(before) = &self.before {
            let left = before.left(Duration::from_secs(15));
            if !left.is_empty() {
                leaks.push(format!("systemd {}", left.join(", ")));
            }
        }
        let left = self.root_entries();
        if !left.is_empty() {
            leaks.push(format!("state under the root: {left:?}"));
        }
        self.unmount_host_mounts();
        let dir = self.dir.to_string_lossy().into_owned();
        let mounts: Vec<String> = std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(&dir))
            .map(|l| l.split(' ').nth(4).unwrap_or_default().to_string())
            .collect();
        if !mounts.is_empty() {
            leaks.push(format!("mounts {mounts:?}"));
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
        if leaks.is_empty() {
            Ok(())
        } else {
            Err(leaks.join("; "))
        }
    }
}

/// Where a relative cgroupsPath `name` lands on the host, per hierarchy: below this
/// process's own cgroup (the runtime's, too) in each hierarchy of /proc/self/cgroup, and
/// on a cgroup v2 host below its parent (runc's placement: a cgroup with processes, as
/// the caller's is, cannot give its children controllers). With `--systemd-cgroup`, a
/// `slice:prefix:name` lands in its scope's cgroup.
pub fn cgroup_dirs(name: &str) -> Vec<PathBuf> {
    if let Some(scope) = crate::cgpath::scope_dir(name) {
        return vec![scope];
    }
    let root = Path::new("/sys/fs/cgroup");
    let v2 = root.join("cgroup.controllers").exists();
    std::fs::read_to_string("/proc/self/cgroup")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut f = l.splitn(3, ':');
            let (_, ctrls, path) = (f.next()?, f.next()?, f.next()?);
            let h = match ctrls {
                "" if v2 => root.to_path_buf(),
                "" => root.join("unified"),
                c => root.join(c.strip_prefix("name=").unwrap_or(c)),
            };
            let own = Path::new(path.trim_start_matches('/'));
            let own = match v2 {
                true => own.parent().unwrap_or(own),
                false => own,
            };
            let dir = h.join(own).join(name);
            // A hybrid host's cgroup2: runc 1.1 puts a relative path below its root
            // whatever the caller's cgroup there (corral below the caller's cgroup).
            let at_root = h.join(name);
            let dir = match ctrls.is_empty() && !v2 && !dir.exists() && at_root.exists() {
                true => at_root,
                false => dir,
            };
            h.exists().then_some(dir)
        })
        .collect()
}

/// Waits for a runtime started with `rt_spawn` (at most 30 s, then it is killed).
pub fn wait_child(child: Child) -> Result<i32, String> {
    match wait_timeout(child) {
        -2 => Err(format!(
            "the runtime did not exit within {} s (killed)",
            TIMEOUT.as_secs()
        )),
        code => Ok(code),
    }
}

fn wait_timeout(mut child: Child) -> i32 {
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(st)) => return exit_code(st),
            Ok(None) if start.elapsed() > TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return -2;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(1)),
            Err(_) => return -1,
        }
    }
}

fn exit_code(st: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0))
}

/// Reaps every exited child (orphaned inits are ours: we are a subreaper).
pub fn reap() {
    loop {
        // SAFETY: waitpid with a null status pointer.
        let r = unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) };
        if r <= 0 {
            break;
        }
    }
}

/// The `pid` of a `state` answer, if it is a pid (positive, fits a pid_t).
pub fn pid_of(state: &Value) -> Option<i32> {
    state["pid"]
        .as_i64()
        .filter(|p| *p > 0)
        .and_then(|p| i32::try_from(p).ok())
}
