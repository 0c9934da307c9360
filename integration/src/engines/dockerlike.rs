//! podman and the docker client share a command line (`run`, `exec`, `stop`, `kill`,
//! `pause`, `top`, `stats`, `inspect`, `logs`, `rm`): the flows both must pass are
//! written once here, against `Cli`.

use crate::cmd::Out;
use crate::host;
use crate::image;
use crate::world::World;
use crate::{ensure, wait_until, CaseResult};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// How to drive one docker-like client.
pub struct Cli {
    pub program: PathBuf,
    /// Flags before the command (state roots, socket).
    pub global: Vec<String>,
    pub env: Vec<(&'static str, PathBuf)>,
    /// Flags of every `run` (runtime, network, ulimits).
    pub run_args: Vec<String>,
    /// How to remove a running container at once.
    pub rm_force: &'static [&'static str],
    /// `exec -t` needs a terminal on the client's stdin (docker's does).
    pub tty_needs_terminal: bool,
}

/// An engine driven through a docker-like client.
pub trait DockerLike {
    fn cli(&self) -> &Cli;
}

/// The name every flow gives its long-running container.
pub const NAME: &str = "sdeng-main";

impl Cli {
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.program);
        c.args(&self.global).args(args);
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    pub fn call(&self, w: &mut World, args: &[&str]) -> Out {
        let name = self
            .program
            .file_name()
            .unwrap_or_default()
            .to_string_lossy();
        w.run(self.cmd(args)).shown_as(&name, args)
    }

    /// `call` with the deadline `limit`.
    pub fn call_for(&self, w: &mut World, args: &[&str], limit: Duration) -> Out {
        let name = self
            .program
            .file_name()
            .unwrap_or_default()
            .to_string_lossy();
        w.run_for(self.cmd(args), limit).shown_as(&name, args)
    }

    /// `run [run_args] EXTRA IMAGE ARGS…`
    pub fn run(&self, w: &mut World, extra: &[&str], args: &[&str]) -> Out {
        let mut v: Vec<&str> = vec!["run"];
        v.extend(self.run_args.iter().map(String::as_str));
        v.extend(extra);
        v.push(image::NAME);
        v.extend(args);
        self.call(w, &v)
    }

    /// `create [run_args] --name NAME IMAGE ARGS…`: a container the engine has made
    /// but not started.
    pub fn create(&self, w: &mut World, args: &[&str]) -> Out {
        let mut v: Vec<&str> = vec!["create"];
        v.extend(self.run_args.iter().map(String::as_str));
        v.extend(["--name", NAME, image::NAME]);
        v.extend(args);
        self.call(w, &v)
    }

    /// `run --rm EXTRA IMAGE sh -c SCRIPT`; its stdout.
    pub fn run_script(
        &self,
        w: &mut World,
        extra: &[&str],
        script: &str,
    ) -> Result<String, String> {
        let mut e = vec!["--rm"];
        e.extend(extra);
        Ok(self.run(w, &e, &["sh", "-c", script]).ok()?.stdout.clone())
    }

    /// Starts NAME detached with ARGS; returns the host pid of its init.
    pub fn detached(&self, w: &mut World, extra: &[&str], args: &[&str]) -> Result<i32, String> {
        let mut e = vec!["-d", "--name", NAME];
        e.extend(extra);
        self.run(w, &e, args).ok()?;
        let pid = self.inspect(w, "{{.State.Pid}}")?;
        pid.parse::<i32>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or(format!("inspect: pid {pid:?} of a running container"))
    }

    /// `inspect -f FORMAT NAME`, trimmed.
    pub fn inspect(&self, w: &mut World, format: &str) -> Result<String, String> {
        Ok(self
            .call(w, &["inspect", "-f", format, NAME])
            .ok()?
            .stdout
            .trim()
            .to_string())
    }

    pub fn wait_status(&self, w: &mut World, want: &str) -> CaseResult {
        let mut last = String::new();
        wait_until(&format!("status {want}"), Duration::from_secs(10), || {
            last = self.inspect(w, "{{.State.Status}}")?;
            Ok(last == want)
        })
        .map_err(|e| format!("{e} (last {last:?})"))
    }

    /// Waits until the container's output (`logs`) holds `needle`.
    pub fn wait_logs(&self, w: &mut World, needle: &str) -> CaseResult {
        let mut last = String::new();
        wait_until(
            &format!("{needle:?} in logs"),
            Duration::from_secs(10),
            || {
                last = self.call(w, &["logs", NAME]).ok()?.stdout.clone();
                Ok(last.contains(needle))
            },
        )
        .map_err(|e| format!("{e} (logs {last:?})"))
    }

    /// Removes every container; fails when one stays.
    pub fn remove_all(&self, w: &mut World) -> CaseResult {
        let ids = self.call(w, &["ps", "-aq"]).ok()?.stdout.clone();
        for id in ids.split_whitespace() {
            let mut args = self.rm_force.to_vec();
            args.push(id);
            // podman's own cleanup of a `run --rm` container (conmon's exit command) may
            // still be unmounting its shm when this rm comes: EBUSY until it is done.
            let mut last = String::new();
            wait_until(&format!("rm -f {id}"), Duration::from_secs(30), || {
                let o = self.call(w, &args);
                match o.ok() {
                    Ok(_) => Ok(true),
                    Err(e) if e.contains("device or resource busy") => {
                        last = e;
                        Ok(false)
                    }
                    Err(e) => Err(e),
                }
            })
            .map_err(|e| format!("{e} {last}"))?;
        }
        let left = self.call(w, &["ps", "-aq"]).ok()?.stdout.clone();
        ensure!(
            left.trim().is_empty(),
            "containers left after rm -f: {left}"
        );
        Ok(())
    }
}

/// A script for a container's init that reports each signal in `sigs` on stdout
/// (`got-SIG`), says `ready`, and loops (pid 1 ignores signals it has no handler for).
fn trapping(sigs: &[&str]) -> String {
    let traps: String = sigs
        .iter()
        .map(|s| format!("trap 'echo got-{s}' {s}; "))
        .collect();
    format!("{traps}echo ready; while :; do sleep 0.1; done")
}

/// `run --rm` prints the container's output, passes its exit code on and leaves nothing.
pub fn run_rm<E: DockerLike>(e: &mut E, w: &mut World) -> CaseResult {
    let cli = e.cli();
    let out = cli.run_script(w, &[], "echo out-$((6*7)); echo pid=$$")?;
    ensure!(out.contains("out-42"), "run --rm printed {out:?}");
    ensure!(
        out.contains("pid=1\n"),
        "the container's process is not its pid 1: {out:?}"
    );
    cli.run(w, &["--rm"], &["sh", "-c", "exit 7"]).code_is(7)?;
    let left = cli.call(w, &["ps", "-aq"]).ok()?.stdout.clone();
    ensure!(left.trim().is_empty(), "run --rm left containers: {left}");
    Ok(())
}

/// `run -d` starts the container in the background, in its own pid namespace.
pub fn run_detached<E: DockerLike>(e: &mut E, w: &mut World) -> CaseResult {
    let cli = e.cli();
    let pid = cli.detached(w, &[], &["sh", "-c", "echo started; exec sleep 1000"])?;
    cli.wait_logs(w, "started")?;
    cli.wait_status(w, "running")?;
    host::runs_apart(pid, "sleep 1000")
}

/// `exec` runs a second process in the running container and passes its exit code on.
pub fn exec<E: DockerLike>(e: &mut E, w: &mut World) -> CaseResult {
    let cli = e.cli();
    cli.detached(w, &[], &["sleep", "1000"])?;
    let script = "echo pid=$$; cat /proc/1/cmdline";
    let o = cli.call(w, &["exec", NAME, "sh", "-c", script]);
    let out = o.ok()?.stdout.clone();
    ensure!(
        out.contains("sleep\x001000") && !out.contains("pid=1\n"),
        "exec did not run beside the container's init: {out:?}"
    );
    cli.call(w, &["exec", NAME, "sh", "-c", "exit 3"])
        .code_is(3)?;
    Ok(())
}

/// `exec -t` gives the process a terminal (the runtime's console socket).
pub fn exec_tty<E: DockerLike>(e: &mut E, w: &mut World) -> CaseResult {
    let cli = e.cli();
    cli.detached(w, &[], &["sleep", "1000"])?;
    let o = if cli.tty_needs_terminal {
        let args = ["exec", "-it", NAME, "sh", "-c", "tty; stty size"];
        w.run_pty(cli.cmd(&args)).shown_as("docker", &args)
    } else {
        cli.call(w, &["exec", "-t", NAME, "sh", "-c", "tty; stty size"])
    };
    let out = o.ok()?.stdout.clone();
    ensure!(
        out.lines().any(|l| l.starts_with("/dev/pts/")),
        "exec -t: no terminal in the container: {out:?}"
    );
    Ok(())
}

/// `stop -t 2`: SIGTERM (which the container traps and survives), SIGKILL 2 s later.
pub fn stop<E: DockerLike>(e: &mut E, w: &mut World) -> CaseResult {
    let cli = e.cli();
    cli.detached(w, &[], &["sh", "-c", &trapping(&["TERM"])])?;
    cli.wait_logs(w, "ready")?;
    let o = cli.call(w, &["stop", "-t", "2", NAME]);
    o.ok()?;
    ensure!(
        o.elapsed >= Duration::from_millis(1900),
        "stop returned after {:?}: before the 2 s timeout",
        o.elapsed
    );
    cli.wait_logs(w, "got-TERM")?;
    cli.wait_status(w, "exited")?;
    let code = cli.inspect(w, "{{.State.ExitCode}}")?;
    ensure!(code == "137", "exit code {code} after SIGKILL, wanted 137");
    Ok(())
}

/// `kill -s USR1` reaches the container's init; `kill` (SIGKILL) ends it.
pub fn kill<E: DockerLike>(e: &mut E, w: &mut World) -> CaseResult {
    let cli = e.cli();
    cli.detached(w, &[], &["sh", "-c", &trapping(&["USR1"])])?;
    cli.wait_logs(w, "ready")?;
    cli.call(w, &["kill", "-s", "USR1", NAME]).ok()?;
    cli.wait_logs(w, "got-USR1")?;
    cli.wait_status(w, "running")?;
    cli.call(w, &["kill", NAME]).ok()?;
    cli.wait_status(w, "exited")?;
    let code = cli.inspect(w, "{{.State.ExitCode}}")?;
    ensure!(code == "137", "exit code {code} after kill, wanted 137");
    Ok(())
}

/// `pause` freezes the container's cgroup (seen from the host), `unpause` thaws it.
pub fn pause<E: DockerLike>(e: &mut E, w: &mut World) -> CaseResult {
    let cli = e.cli();
    let pid = cli.detached(w, &[], &["sleep", "1000"])?;
    cli.call(w, &["pause", NAME]).ok()?;
    cli.wait_status(w, "paused")?;
    ensure!(
        frozen(pid)?,
        "paused, but the cgroup of pid {pid} is not frozen"
    );
    cli.call(w, &["unpause", NAME]).ok()?;
    cli.wait_status(w, "running")?;
    ensure!(
        !frozen(pid)?,
        "unpaused, but the cgroup of pid {pid} is frozen"
    );
    Ok(())
}

/// Whether the cgroup of `pid` is frozen: v1 `freezer.state`, v2 `cgroup.freeze`.
pub fn frozen(pid: i32) -> Result<bool, String> {
    let dir = host::cgroup_dir(pid, "freezer").ok_or(format!("no freezer cgroup of {pid}"))?;
    let (file, yes) = if dir.join("freezer.state").exists() {
        ("freezer.state", "FROZEN")
    } else {
        ("cgroup.freeze", "1")
    };
    let path = dir.join(file);
    let v = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(v.trim() == yes)
}

/// `top` lists the container's processes.
pub fn top<E: DockerLike>(e: &mut E, w: &mut World) -> CaseResult {
    let cli = e.cli();
    cli.detached(w, &[], &["sleep", "1000"])?;
    let out = cli.call(w, &["top", NAME]).ok()?.stdout.clone();
    ensure!(
        out.contains("sleep 1000"),
        "top does not show the init: {out:?}"
    );
    Ok(())
}

/// `stats --no-stream` reads the container's memory use and pids.
pub fn stats<E: DockerLike>(e: &mut E, w: &mut World) -> CaseResult {
    let cli = e.cli();
    cli.detached(w, &[], &["sleep", "1000"])?;
    let fmt = "{{.MemUsage}}|{{.PIDs}}";
    let out = cli
        .call(w, &["stats", "--no-stream", "--format", fmt, NAME])
        .ok()?
        .stdout
        .clone();
    let (mem, pids) = out
        .trim()
        .split_once('|')
        .ok_or(format!("stats printed {out:?}"))?;
    ensure!(
        !mem.starts_with("0B") && !mem.starts_with("--"),
        "stats: memory use {mem:?}"
    );
    ensure!(pids.trim() == "1", "stats: {pids:?} pids, wanted 1");
    Ok(())
}

/// `rm -f` removes a running container and ends its processes.
pub fn rm_force<E: DockerLike>(e: &mut E, w: &mut World) -> CaseResult {
    let cli = e.cli();
    let pid = cli.detached(w, &[], &["sleep", "1000"])?;
    let mut args = cli.rm_force.to_vec();
    args.push(NAME);
    cli.call(w, &args).ok()?;
    let left = cli.call(w, &["ps", "-aq"]).ok()?.stdout.clone();
    ensure!(left.trim().is_empty(), "rm -f left {left}");
    wait_until("the init to exit", Duration::from_secs(10), || {
        Ok(host::cmdline(pid) != "sleep 1000")
    })
}

/// `--memory` (and `--pids-limit` when `pids`) are the limits the container sees in
/// its cgroups.
pub fn limits(cli: &Cli, w: &mut World, pids: bool) -> CaseResult {
    let mut extra = vec!["--memory", "64m"];
    let mut script = String::from(
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max",
    );
    if pids {
        extra.extend(["--pids-limit", "50"]);
        script.push_str(
            "; cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max",
        );
    }
    let out = cli.run_script(w, &extra, &script)?;
    let mut lines = out.lines();
    ensure!(
        lines.next() == Some("67108864"),
        "memory limit inside: {out:?}"
    );
    ensure!(
        !pids || lines.next() == Some("50"),
        "pids limit inside: {out:?}"
    );
    Ok(())
}
