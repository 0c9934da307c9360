//! Docker 20.10: dockerd with its data and exec roots, pid file, socket and trust key
//! under the suite's directory, on the suite's containerd (`--containerd`), no bridge
//! and no iptables, and the runtime under test registered as `under-test`
//! (`--add-runtime`), its cgroup driver the suite's (`native.cgroupdriver=systemd` with
//! `--cgroup-manager systemd`). dockerd gives the shim a runtime root under its exec root. The
//! client is /usr/bin/docker, which matches the daemon (Debian's /usr/local/bin/docker
//! is newer).

use crate::args::CgroupManager;
use crate::dockerlike::{self, Cli, DockerLike};
use crate::image::Image;
use crate::world::World;
use crate::{CaseResult, Engine, Flow};
use std::path::{Path, PathBuf};
use std::process::Command;

const CLIENT: &str = "/usr/bin/docker";
/// The runtime's name in dockerd.
const RUNTIME: &str = "under-test";

pub struct Docker {
    cli: Cli,
    exec_root: PathBuf,
}

impl DockerLike for Docker {
    fn cli(&self) -> &Cli {
        &self.cli
    }
}

/// Starts dockerd on `containerd` (its socket) and loads the image.
pub fn setup(w: &mut World, containerd: &Path, img: &Image) -> Result<Docker, String> {
    let dir = w.path("docker")?;
    let exec_root = dir.join("exec");
    let sock = format!("unix://{}", dir.join("docker.sock").display());
    // Without it, dockerd writes /etc/docker/key.json.
    let config = format!(
        "{{\"deprecated-key-path\": \"{}\"}}\n",
        dir.join("key.json").display()
    );
    let config_file = dir.join("daemon.json");
    std::fs::write(&config_file, config).map_err(|e| format!("{}: {e}", config_file.display()))?;
    let wrapper = w.wrapper("docker", None)?;
    let mut cmd = Command::new("dockerd");
    cmd.arg("--config-file")
        .arg(&config_file)
        .arg("--data-root")
        .arg(dir.join("data"))
        .arg("--exec-root")
        .arg(&exec_root)
        .arg("--pidfile")
        .arg(dir.join("dockerd.pid"))
        .args(["-H", &sock, "--containerd"])
        .arg(containerd)
        .args(["--iptables=false", "--ip6tables=false", "--bridge=none"])
        .arg(format!("--add-runtime={RUNTIME}={}", wrapper.display()));
    if w.cgroup_manager == CgroupManager::Systemd {
        // Containers in system.slice/docker-ID.scope; the shim passes --systemd-cgroup.
        cmd.args(["--exec-opt", "native.cgroupdriver=systemd"]);
    }
    let cli = Cli {
        program: CLIENT.into(),
        global: vec!["-H".into(), sock],
        env: vec![],
        run_args: ["--runtime", RUNTIME, "--network", "none"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        rm_force: &["rm", "-f"],
        tty_needs_terminal: true,
    };
    let probe = cli.cmd(&["version"]);
    let probe_args: Vec<_> = probe.get_args().map(|a| a.to_os_string()).collect();
    w.start_daemon("dockerd", cmd, dir.join("dockerd.log"), move |w| {
        let mut c = Command::new(CLIENT);
        c.args(&probe_args);
        w.run(c).code == 0
    })?;
    let archive = img.archive.to_string_lossy().into_owned();
    cli.call(w, &["load", "-i", &archive]).ok()?;
    Ok(Docker { cli, exec_root })
}

impl Engine for Docker {
    const NAME: &'static str = "docker";

    fn flows() -> Vec<Flow<Self>> {
        vec![
            Flow::new("docker_run_rm", dockerlike::run_rm),
            Flow::new("docker_create_rm", create_rm),
            Flow::new("docker_run_detached", dockerlike::run_detached),
            Flow::new("docker_exec", dockerlike::exec),
            Flow::new("docker_exec_tty", dockerlike::exec_tty),
            Flow::new("docker_stop", dockerlike::stop),
            Flow::new("docker_kill", dockerlike::kill),
            Flow::new("docker_pause", dockerlike::pause),
            Flow::new("docker_stats", dockerlike::stats),
            Flow::new("docker_top", dockerlike::top),
            Flow::new("docker_rm_force", dockerlike::rm_force),
            Flow::new("docker_memory", |d: &mut Docker, w| {
                dockerlike::limits(&d.cli, w, false)
            }),
        ]
    }

    fn reset(&mut self, w: &mut World) -> CaseResult {
        self.cli.remove_all(w)?;
        // dockerd names the shim's runtime root after the runtime type: runtime-*/moby.
        for e in std::fs::read_dir(&self.exec_root)
            .into_iter()
            .flatten()
            .flatten()
        {
            if e.file_name().to_string_lossy().starts_with("runtime-") {
                crate::runtime_root_empty(&e.path().join("moby"))?;
            }
        }
        Ok(())
    }
}

/// `create` then `rm`: a container Docker has created but not started is Docker's
/// alone (the containerd task, and with it the runtime's container, is made by
/// `start`), so neither asks the runtime for anything.
fn create_rm(d: &mut Docker, w: &mut World) -> CaseResult {
    let before = crate::invocations::log_len(&w.log);
    d.cli.create(w, &["sleep", "1000"]).ok()?;
    let status = d.cli.inspect(w, "{{.State.Status}}")?;
    crate::ensure!(status == "created", "after create: {status}");
    d.cli.call(w, &["rm", dockerlike::NAME]).ok()?;
    let left = d.cli.call(w, &["ps", "-aq"]).ok()?.stdout.clone();
    crate::ensure!(left.trim().is_empty(), "rm left {left:?}");
    let calls = crate::invocations::forms_since(&w.log, before);
    crate::ensure!(
        calls.is_empty(),
        "create and rm called the runtime: {calls:?}"
    );
    Ok(())
}
