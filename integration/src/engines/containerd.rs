//! containerd 1.6 through ctr: `ctr run --runc-binary WRAPPER --runc-root DIR` goes
//! through containerd-shim-runc-v2, the path Kubernetes' CRI takes (with
//! `--runc-systemd-cgroup` under `--cgroup-manager systemd`). The daemon's root,
//! state and sockets are under the suite's directory (the shim's own sockets go to
//! /run/containerd/s whatever the config says); dockerd uses the same daemon.

use crate::args::CgroupManager;
use crate::cmd::Out;
use crate::host;
use crate::image::{self, Image};
use crate::world::World;
use crate::{ensure, wait_until, CaseResult, Engine, Flow};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Starts containerd with everything under `dir/containerd`; returns its socket.
pub fn start_daemon(w: &mut World) -> Result<PathBuf, String> {
    let dir = w.path("containerd")?;
    let sock = dir.join("containerd.sock");
    let config = format!(
        "version = 2\n\
         root = \"{d}/root\"\n\
         state = \"{d}/state\"\n\
         disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
         [grpc]\n  address = \"{s}\"\n\
         [ttrpc]\n  address = \"{s}.ttrpc\"\n\
         [debug]\n  address = \"{d}/debug.sock\"\n\
         [plugins.\"io.containerd.internal.v1.opt\"]\n  path = \"{d}/opt\"\n",
        d = dir.display(),
        s = sock.display(),
    );
    let file = dir.join("config.toml");
    std::fs::write(&file, config).map_err(|e| format!("{}: {e}", file.display()))?;
    let mut cmd = Command::new("containerd");
    cmd.arg("--config").arg(&file);
    let check = sock.clone();
    w.start_daemon("containerd", cmd, dir.join("containerd.log"), move |w| {
        check.exists() && w.run(ctr_cmd(&check, &["version"])).code == 0
    })?;
    Ok(sock)
}

fn ctr_cmd(sock: &Path, args: &[&str]) -> Command {
    let mut c = Command::new("ctr");
    c.arg("--address").arg(sock).args(args);
    c
}

pub struct Containerd {
    sock: PathBuf,
    /// ctr's FIFOs for the processes' stdio (default /run/containerd/fifo).
    fifo: String,
    wrapper: String,
    /// A wrapper around `wrapper` whose `start` fails: the task stays created.
    no_start: String,
    /// The runtime's --root, given through the runc options (the shim adds /<namespace>).
    rt_root: PathBuf,
    /// The detached containers' output (`--log-uri file://…`).
    logs: PathBuf,
}

const MAIN: &str = "sdeng-main";

pub fn setup(w: &mut World, sock: &Path, img: &Image) -> Result<Containerd, String> {
    let wrapper = w.wrapper("containerd", None)?;
    let no_start = w.path("bin/containerd-no-start")?.join("runtime");
    let script = format!(
        "#!/bin/sh\n\
         # corral-engines: start fails here, so that the task stays created.\n\
         for a in \"$@\"; do\n\
         \x20 if [ \"$a\" = start ]; then echo 'start refused by the flow' >&2; exit 1; fi\n\
         done\n\
         exec '{}' \"$@\"\n",
        wrapper.display()
    );
    crate::world::write_executable(&no_start, &script)?;
    let c = Containerd {
        sock: sock.to_path_buf(),
        fifo: w.path("containerd/fifo")?.to_string_lossy().into_owned(),
        wrapper: wrapper.to_string_lossy().into_owned(),
        no_start: no_start.to_string_lossy().into_owned(),
        rt_root: w.path("state/containerd")?,
        logs: w.path("containerd/logs")?,
    };
    let archive = img.archive.to_string_lossy().into_owned();
    let base = image::NAME.rsplit_once(':').map_or(image::NAME, |(b, _)| b);
    c.ctr(
        w,
        &[
            "images",
            "import",
            "--base-name",
            base,
            "--digests",
            &archive,
        ],
    )
    .ok()?;
    Ok(c)
}

impl Containerd {
    pub(crate) fn ctr(&self, w: &mut World, args: &[&str]) -> Out {
        w.run(ctr_cmd(&self.sock, args)).shown_as("ctr", args)
    }

    /// `ctr ARGS` with a deadline for CRIU under emulation.
    pub(crate) fn ctr_for(&self, w: &mut World, args: &[&str]) -> Out {
        w.run_for(ctr_cmd(&self.sock, args), crate::checkpoint::CRIU_TIMEOUT)
            .shown_as("ctr", args)
    }

    /// `ctr run` with the runtime under test: EXTRA, then IMAGE ID ARGS.
    fn run(&self, w: &mut World, extra: &[&str], id: &str, args: &[&str]) -> Out {
        self.run_with(w, &self.wrapper, extra, id, args)
    }

    /// `ctr run` with `binary` as the runtime (the wrapper, or one around it).
    fn run_with(
        &self,
        w: &mut World,
        binary: &str,
        extra: &[&str],
        id: &str,
        args: &[&str],
    ) -> Out {
        let rt_root = self.rt_root.to_string_lossy().into_owned();
        let mut v = vec!["run", "--fifo-dir", &self.fifo, "--runc-binary", binary];
        v.extend(["--runc-root", &rt_root]);
        // SystemdCgroup = true in the runc options (what the CRI plugin's setting sets),
        // the cgroup in nested slices as kubelet's are: sdeng.slice/sdeng-ctr.slice/
        // sdeng-ID.scope.
        let cgroup = format!("sdeng-ctr.slice:sdeng:{id}");
        if w.cgroup_manager == CgroupManager::Systemd {
            v.extend(["--runc-systemd-cgroup", "--cgroup", &cgroup]);
        }
        v.extend(extra);
        v.extend([image::NAME, id]);
        v.extend(args);
        self.ctr(w, &v)
    }

    /// Starts ID detached, its output to a log file; returns the init's host pid.
    pub(crate) fn detached(&self, w: &mut World, id: &str, args: &[&str]) -> Result<i32, String> {
        let uri = format!("file://{}", self.logs.join(id).display());
        self.run(w, &["-d", "--log-uri", &uri], id, args).ok()?;
        let (pid, status) = self.task(w, id)?;
        ensure!(status == "RUNNING", "task {id}: {status} after run -d");
        Ok(pid)
    }

    /// (pid, status) of task ID from `task ls`.
    pub(crate) fn task(&self, w: &mut World, id: &str) -> Result<(i32, String), String> {
        let out = self.ctr(w, &["task", "ls"]).ok()?.stdout.clone();
        let line = out
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .find(|f| f.first() == Some(&id))
            .ok_or(format!("no task {id} in `task ls`: {out:?}"))?;
        let pid = line.get(1).and_then(|p| p.parse().ok()).unwrap_or(0);
        Ok((pid, line.get(2).unwrap_or(&"").to_string()))
    }

    pub(crate) fn wait_status(&self, w: &mut World, id: &str, want: &str) -> CaseResult {
        let mut last = String::new();
        wait_until(
            &format!("task {id} {want}"),
            Duration::from_secs(10),
            || {
                last = self.task(w, id)?.1;
                Ok(last == want)
            },
        )
        .map_err(|e| format!("{e} (last {last:?})"))
    }

    fn wait_log(&self, id: &str, needle: &str) -> CaseResult {
        let path = self.logs.join(id);
        let mut last = String::new();
        wait_until(
            &format!("{needle:?} in {id}'s output"),
            Duration::from_secs(10),
            || {
                last = std::fs::read_to_string(&path).unwrap_or_default();
                Ok(last.contains(needle))
            },
        )
        .map_err(|e| format!("{e} (output {last:?})"))
    }

    fn exec(&self, w: &mut World, tty: bool, id: &str, args: &[&str]) -> Out {
        let mut v = vec![
            "task",
            "exec",
            "--fifo-dir",
            &self.fifo,
            "--exec-id",
            "sdeng-exec",
        ];
        if tty {
            v.push("-t");
        }
        v.push(id);
        v.extend(args);
        if tty {
            w.run_pty(ctr_cmd(&self.sock, &v)).shown_as("ctr", &v)
        } else {
            self.ctr(w, &v)
        }
    }
}

impl Engine for Containerd {
    const NAME: &'static str = "containerd";

    fn flows() -> Vec<Flow<Self>> {
        vec![
            Flow::new("containerd_run_rm", run_rm),
            Flow::new("containerd_run_detached", run_detached),
            Flow::new("containerd_exec", exec),
            Flow::new("containerd_exec_tty", exec_tty),
            Flow::new("containerd_pause_resume", pause_resume),
            Flow::new("containerd_kill", kill),
            Flow::new("containerd_metrics", metrics),
            Flow::new("containerd_task_delete", task_delete),
            Flow::new("containerd_created_task_delete", created_task_delete),
            Flow::new("containerd_pod_namespaces", pod_namespaces),
            Flow::new(
                "containerd_checkpoint_restore",
                crate::checkpoint::containerd_restore,
            ),
        ]
    }

    /// Kills and deletes every task, removes every container; fails when one stays.
    fn reset(&mut self, w: &mut World) -> CaseResult {
        let ids = self
            .ctr(w, &["containers", "ls", "-q"])
            .ok()?
            .stdout
            .clone();
        for id in ids.split_whitespace() {
            self.ctr(w, &["task", "kill", "-s", "SIGKILL", id]);
            let _ = self.wait_status(w, id, "STOPPED");
            self.ctr(w, &["task", "delete", "-f", id]);
            self.ctr(w, &["containers", "rm", id]).ok()?;
        }
        let left = self
            .ctr(w, &["containers", "ls", "-q"])
            .ok()?
            .stdout
            .clone();
        ensure!(left.trim().is_empty(), "containers left: {left}");
        crate::runtime_root_empty(&self.rt_root.join("default"))
    }
}

/// `run --rm` prints the output, passes the exit code on and leaves nothing.
fn run_rm(c: &mut Containerd, w: &mut World) -> CaseResult {
    let o = c.run(w, &["--rm"], "sdeng-rm", &["sh", "-c", "echo out-$((6*7))"]);
    let out = o.ok()?.stdout.clone();
    ensure!(out.contains("out-42"), "run --rm printed {out:?}");
    c.run(w, &["--rm"], "sdeng-rm", &["sh", "-c", "exit 7"])
        .code_is(7)?;
    let left = c.ctr(w, &["containers", "ls", "-q"]).ok()?.stdout.clone();
    ensure!(left.trim().is_empty(), "run --rm left containers: {left}");
    Ok(())
}

/// `run -d` leaves the task running, in its own pid namespace, output to its log.
fn run_detached(c: &mut Containerd, w: &mut World) -> CaseResult {
    let pid = c.detached(w, MAIN, &["sh", "-c", "echo started; exec sleep 1000"])?;
    c.wait_log(MAIN, "started")?;
    host::runs_apart(pid, "sleep 1000")
}

/// `task exec` runs a second process beside the init and passes its exit code on.
fn exec(c: &mut Containerd, w: &mut World) -> CaseResult {
    c.detached(w, MAIN, &["sleep", "1000"])?;
    let o = c.exec(
        w,
        false,
        MAIN,
        &["sh", "-c", "echo pid=$$; cat /proc/1/cmdline"],
    );
    let out = o.ok()?.stdout.clone();
    ensure!(
        out.contains("sleep\x001000") && !out.contains("pid=1\n"),
        "exec did not run beside the init: {out:?}"
    );
    c.exec(w, false, MAIN, &["sh", "-c", "exit 3"]).code_is(3)?;
    Ok(())
}

/// `task exec -t` gives the process a terminal (the runtime's console socket).
fn exec_tty(c: &mut Containerd, w: &mut World) -> CaseResult {
    c.detached(w, MAIN, &["sleep", "1000"])?;
    let out = c
        .exec(w, true, MAIN, &["sh", "-c", "tty"])
        .ok()?
        .stdout
        .clone();
    ensure!(
        out.lines().any(|l| l.starts_with("/dev/pts/")),
        "exec -t: no terminal in the container: {out:?}"
    );
    Ok(())
}

/// `task pause` freezes the task's cgroup, `task resume` thaws it.
fn pause_resume(c: &mut Containerd, w: &mut World) -> CaseResult {
    let pid = c.detached(w, MAIN, &["sleep", "1000"])?;
    c.ctr(w, &["task", "pause", MAIN]).ok()?;
    c.wait_status(w, MAIN, "PAUSED")?;
    ensure!(
        crate::dockerlike::frozen(pid)?,
        "paused, but the cgroup is not frozen"
    );
    c.ctr(w, &["task", "resume", MAIN]).ok()?;
    c.wait_status(w, MAIN, "RUNNING")?;
    ensure!(
        !crate::dockerlike::frozen(pid)?,
        "resumed, but the cgroup is frozen"
    );
    Ok(())
}

/// `task kill -s SIGUSR1` reaches the init's handler; `-s SIGKILL --all` stops the task.
fn kill(c: &mut Containerd, w: &mut World) -> CaseResult {
    let script = "trap 'echo got-USR1' USR1; echo ready; while :; do sleep 0.1; done";
    c.detached(w, MAIN, &["sh", "-c", script])?;
    c.wait_log(MAIN, "ready")?;
    c.ctr(w, &["task", "kill", "-s", "SIGUSR1", MAIN]).ok()?;
    c.wait_log(MAIN, "got-USR1")?;
    c.wait_status(w, MAIN, "RUNNING")?;
    c.ctr(w, &["task", "kill", "--all", "-s", "SIGKILL", MAIN])
        .ok()?;
    c.wait_status(w, MAIN, "STOPPED")
}

/// `task metrics` reads the task's cgroup: memory in use, one pid.
fn metrics(c: &mut Containerd, w: &mut World) -> CaseResult {
    c.detached(w, MAIN, &["sleep", "1000"])?;
    let o = c.ctr(w, &["task", "metrics", "--format", "json", MAIN]);
    let out = o.ok()?.stdout.clone();
    let v: serde_json::Value =
        serde_json::from_str(&out).map_err(|e| format!("metrics: {e}: {out:?}"))?;
    let mem = v["memory"]["usage"]["usage"]
        .as_u64()
        .or(v["memory"]["usage"].as_u64());
    ensure!(mem.is_some_and(|m| m > 0), "metrics: memory usage {mem:?}");
    let pids = v["pids"]["current"].as_u64();
    ensure!(pids == Some(1), "metrics: {pids:?} pids, wanted 1");
    Ok(())
}

/// `task delete` of a stopped task removes its state from the runtime.
fn task_delete(c: &mut Containerd, w: &mut World) -> CaseResult {
    let pid = c.detached(w, MAIN, &["sleep", "1000"])?;
    c.ctr(w, &["task", "kill", "-s", "SIGKILL", MAIN]).ok()?;
    c.wait_status(w, MAIN, "STOPPED")?;
    c.ctr(w, &["task", "delete", MAIN]).ok()?;
    let out = c.ctr(w, &["task", "ls"]).ok()?.stdout.clone();
    ensure!(
        !out.contains(MAIN),
        "task still listed after delete: {out:?}"
    );
    ensure!(host::cmdline(pid) != "sleep 1000", "the init still runs");
    crate::runtime_root_empty(&c.rt_root.join("default"))?;
    c.ctr(w, &["containers", "rm", MAIN]).ok()?;
    Ok(())
}

/// A task left created (its `start` failed, as when a CRI StartContainer fails): the
/// containerd client refuses a plain `task delete` ("task must be stopped before
/// deletion") without asking the runtime, and `task delete -f` kills it first, so the
/// runtime is asked to delete a stopped container only (runtime.md: deleting one that
/// is not stopped "MUST generate an error").
fn created_task_delete(c: &mut Containerd, w: &mut World) -> CaseResult {
    const ID: &str = "sdeng-created";
    let binary = c.no_start.clone();
    let o = c.run_with(w, &binary, &[], ID, &["sleep", "1000"]);
    ensure!(
        o.code != 0 && o.stderr.contains("start refused by the flow"),
        "run with a failing start: {}",
        o.describe("wanted start's failure")
    );
    let (pid, status) = c.task(w, ID)?;
    ensure!(
        status == "CREATED",
        "task {ID}: {status} after a failed start"
    );
    let init = host::cmdline(pid);
    ensure!(!init.is_empty(), "no created init {pid}");
    let o = c.ctr(w, &["task", "delete", ID]);
    ensure!(
        o.code != 0 && o.stderr.contains("must be stopped"),
        "task delete of a created task: {}",
        o.describe("wanted containerd's refusal")
    );
    ensure!(
        c.task(w, ID)?.1 == "CREATED",
        "the refused delete changed the task"
    );
    c.ctr(w, &["task", "delete", "-f", ID]).ok()?;
    let out = c.ctr(w, &["task", "ls"]).ok()?.stdout.clone();
    ensure!(
        !out.contains(ID),
        "task still listed after delete -f: {out:?}"
    );
    ensure!(
        host::cmdline(pid) != init,
        "the created init {pid} still runs"
    );
    crate::runtime_root_empty(&c.rt_root.join("default"))?;
    c.ctr(w, &["containers", "rm", ID]).ok()?;
    Ok(())
}

/// A pod as the CRI plugin makes it: a sandbox container, and a second one joining
/// its network, IPC and UTS namespaces by /proc/PID/ns path (but not its pid one).
fn pod_namespaces(c: &mut Containerd, w: &mut World) -> CaseResult {
    let sandbox = c.detached(w, "sdeng-sandbox", &["sleep", "1000"])?;
    let shared = ["net", "ipc", "uts"];
    let mut extra = vec![];
    for (ns, kind) in shared.iter().zip(["network", "ipc", "uts"]) {
        extra.push("--with-ns".to_string());
        extra.push(format!("{kind}:/proc/{sandbox}/ns/{ns}"));
    }
    extra.push("--rm".into());
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let script = "for n in net ipc uts pid; do echo $n=$(readlink /proc/self/ns/$n); done";
    let out = c
        .run(w, &extra, "sdeng-app", &["sh", "-c", script])
        .ok()?
        .stdout
        .clone();
    for ns in ["net", "ipc", "uts", "pid"] {
        let inside = crate::line_value(&out, &format!("{ns}="))?;
        let of_sandbox = host::ns_link(sandbox, ns);
        let same = inside == of_sandbox;
        ensure!(
            same == shared.contains(&ns),
            "{ns}: the second container has {inside}, the sandbox {of_sandbox}"
        );
    }
    Ok(())
}
