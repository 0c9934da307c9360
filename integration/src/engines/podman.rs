//! podman 4.3 with the runtime under test (`--runtime WRAPPER`): every root, run and
//! temporary directory under the suite's, vfs storage, the suite's cgroup manager
//! (cgroupfs unless `--cgroup-manager systemd`), no network; as root, and rootless as
//! systemd::ROOTLESS_USER (engine podman-rootless). podman
//! passes no `--root` to the runtime, so its wrapper adds one; a containers.conf (through
//! CONTAINERS_CONF) lists the runtime's name in `runtime_supports_json`, as a user of
//! corral would, so that podman passes `--log-format=json --log FILE` to it.

use crate::dockerlike::{self, Cli, DockerLike};
use crate::image::{self, Image};
use crate::systemd;
use crate::world::World;
use crate::{ensure, CaseResult, Engine, Flow};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

pub struct Podman {
    pub(crate) cli: Cli,
    /// The runtime's --root (given by the wrapper).
    rt_root: PathBuf,
}

impl DockerLike for Podman {
    fn cli(&self) -> &Cli {
        &self.cli
    }
}

/// Makes podman's world; imports the rootfs tar as the image and saves it as the
/// Docker archive the other engines load.
pub fn setup(w: &mut World, img: &Image) -> Result<Podman, String> {
    let p = make(w, "podman", img, None)?;
    let archive = img.archive.to_string_lossy().into_owned();
    let save = [
        "save",
        "--format",
        "docker-archive",
        "-o",
        &archive,
        image::NAME,
    ];
    p.cli.call(w, &save).ok()?;
    Ok(p)
}

/// podman as the unprivileged ROOTLESS_USER (through setpriv, with its systemd
/// manager's environment): its own storage and runtime root, owned by the user.
pub fn setup_rootless(w: &mut World, img: &Image) -> Result<Rootless, String> {
    let ids = systemd::user_ids(systemd::ROOTLESS_USER)?;
    // Every wrapper appends to the one invocation log, this one as the user.
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&w.log)
        .and_then(|_| std::fs::set_permissions(&w.log, std::fs::Permissions::from_mode(0o666)))
        .map_err(|e| format!("{}: {e}", w.log.display()))?;
    let p = make(w, "podman-rootless", img, Some(ids))?;
    // The pause process rootless podman keeps its user namespace with is left to us.
    w.adopt_helpers();
    Ok(Rootless(p))
}

/// The world of a podman named `engine` (its directory, runtime root and wrapper),
/// as root or as the user `ids`, with the image imported.
fn make(
    w: &mut World,
    engine: &str,
    img: &Image,
    ids: Option<(u32, u32)>,
) -> Result<Podman, String> {
    let dir = w.path(engine)?;
    let rt_root = w.path(&format!("state/{engine}"))?;
    if let Some((uid, gid)) = ids {
        for d in [&dir, &rt_root] {
            std::os::unix::fs::chown(d, Some(uid), Some(gid))
                .map_err(|e| format!("chown {}: {e}", d.display()))?;
        }
    }
    let wrapper = w.wrapper(engine, Some(&rt_root))?;
    let name = w.runtime.file_name().unwrap_or_default().to_string_lossy();
    let conf = dir.join("containers.conf");
    let text = format!(
        "[engine]\nruntime_supports_json = [\"crun\", \"runc\", \"kata\", \"runsc\", \"krun\", \"{name}\"]\n"
    );
    std::fs::write(&conf, text).map_err(|e| format!("{}: {e}", conf.display()))?;
    let sub = |s: &str| dir.join(s).to_string_lossy().into_owned();
    let mut global: Vec<String> = vec![];
    let mut env = vec![("CONTAINERS_CONF", conf)];
    let program = match ids {
        None => "podman".into(),
        Some((uid, gid)) => {
            let (uid, gid) = (uid.to_string(), gid.to_string());
            global.extend(
                ["--reuid", &uid, "--regid", &gid, "--init-groups", "podman"].map(String::from),
            );
            env.extend(systemd::user_env(uid.parse().unwrap_or_default()));
            "setpriv".into()
        }
    };
    global.extend([
        "--root".into(),
        sub("root"),
        "--runroot".into(),
        sub("run"),
        "--tmpdir".into(),
        sub("tmp"),
        "--network-config-dir".into(),
        sub("net"),
        "--storage-driver".into(),
        "vfs".into(),
        "--events-backend".into(),
        "file".into(),
        "--cgroup-manager".into(),
        w.cgroup_manager.name().into(),
        "--runtime".into(),
        wrapper.to_string_lossy().into_owned(),
    ]);
    // This host lacks CAP_SYS_RESOURCE: podman's default nofile 1048576 is above the
    // hard limit, which no runtime can raise (see HOST.md). Rootless podman keeps the
    // user's own limits, which a user cannot raise either.
    let run_args: &[&str] = match ids {
        None => &[
            "--network",
            "none",
            "--ulimit",
            "nofile=20000:20000",
            "--ulimit",
            "nproc=32768:32768",
        ],
        Some(_) => &["--network", "none"],
    };
    let p = Podman {
        cli: Cli {
            program,
            global,
            env,
            run_args: run_args.iter().map(|s| s.to_string()).collect(),
            rm_force: &["rm", "-f", "-t", "0"],
            tty_needs_terminal: false,
        },
        rt_root,
    };
    let tar = img.rootfs_tar.to_string_lossy().into_owned();
    p.cli.call(w, &["import", &tar, image::NAME]).ok()?;
    Ok(p)
}

/// Rootless podman: the flows of a user's containers (run, exec, pause, stats, the
/// limits the user's delegated controllers allow, rm).
pub struct Rootless(Podman);

impl DockerLike for Rootless {
    fn cli(&self) -> &Cli {
        &self.0.cli
    }
}

impl Engine for Rootless {
    const NAME: &'static str = "podman-rootless";

    fn flows() -> Vec<Flow<Self>> {
        vec![
            Flow::new("podman_rootless_run_rm", dockerlike::run_rm),
            Flow::new("podman_rootless_exec", dockerlike::exec),
            Flow::new("podman_rootless_pause", dockerlike::pause),
            Flow::new("podman_rootless_stats", dockerlike::stats),
            Flow::new("podman_rootless_limits", |p: &mut Rootless, w| {
                dockerlike::limits(&p.0.cli, w, true)
            }),
            Flow::new("podman_rootless_rm_force", dockerlike::rm_force),
        ]
    }

    fn reset(&mut self, w: &mut World) -> CaseResult {
        self.0.reset(w)
    }
}

impl Engine for Podman {
    const NAME: &'static str = "podman";

    fn flows() -> Vec<Flow<Self>> {
        vec![
            Flow::new("podman_run_rm", dockerlike::run_rm),
            Flow::new("podman_run_detached", dockerlike::run_detached),
            Flow::new("podman_exec", dockerlike::exec),
            Flow::new("podman_exec_tty", dockerlike::exec_tty),
            Flow::new("podman_stop", dockerlike::stop),
            Flow::new("podman_kill", dockerlike::kill),
            Flow::new("podman_pause", dockerlike::pause),
            Flow::new("podman_top", dockerlike::top),
            Flow::new("podman_stats", dockerlike::stats),
            Flow::new("podman_rm_force", dockerlike::rm_force),
            Flow::new("podman_init_rm", init_rm),
            Flow::new("podman_limits", |p: &mut Podman, w| {
                dockerlike::limits(&p.cli, w, true)
            }),
            Flow::new("podman_read_only", read_only),
            Flow::new("podman_cap_drop", cap_drop),
            Flow::new("podman_seccomp", seccomp),
            Flow::new("podman_user", user),
            Flow::new("podman_uidmap", uidmap),
            Flow::new(
                "podman_checkpoint_restore",
                crate::checkpoint::podman_restore,
            ),
            Flow::new(
                "podman_checkpoint_export_import",
                crate::checkpoint::podman_export_import,
            ),
        ]
    }

    fn reset(&mut self, w: &mut World) -> CaseResult {
        self.cli.remove_all(w)?;
        crate::runtime_root_empty(&self.rt_root)
    }
}

/// `--read-only`: the root cannot be written; podman's tmpfs on /tmp can.
fn read_only(p: &mut Podman, w: &mut World) -> CaseResult {
    let script = "touch /x 2>&1; echo root=$?; touch /tmp/x && echo tmp=ok";
    let out = p.cli.run_script(w, &["--read-only"], script)?;
    ensure!(
        out.contains("Read-only file system") && out.contains("root=1"),
        "--read-only: the root was writable: {out:?}"
    );
    ensure!(
        out.contains("tmp=ok"),
        "--read-only: /tmp not writable: {out:?}"
    );
    Ok(())
}

/// `--cap-drop CHOWN`: gone from the bounding and effective sets, and chown fails.
fn cap_drop(p: &mut Podman, w: &mut World) -> CaseResult {
    let script = "grep -E '^Cap(Eff|Bnd)' /proc/self/status; chown 1 /tmp 2>&1; echo chown=$?";
    let out = p.cli.run_script(w, &["--cap-drop", "CHOWN"], script)?;
    for set in ["CapEff:", "CapBnd:"] {
        let v = crate::line_value(&out, set)?;
        let bits = u64::from_str_radix(v, 16).map_err(|e| format!("{set} {v:?}: {e}"))?;
        ensure!(bits & 1 == 0, "{set} {v} still holds CAP_CHOWN");
        ensure!(bits != 0, "{set} is empty: more than CAP_CHOWN was dropped");
    }
    ensure!(
        out.contains("Operation not permitted") && out.contains("chown=1"),
        "chown worked without CAP_CHOWN: {out:?}"
    );
    Ok(())
}

/// `--security-opt seccomp=FILE`: a profile that fails mkdir with EPERM.
fn seccomp(p: &mut Podman, w: &mut World) -> CaseResult {
    let profile = w.path("podman")?.join("seccomp.json");
    let json = r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}"#;
    std::fs::write(&profile, json).map_err(|e| format!("{}: {e}", profile.display()))?;
    let opt = format!("seccomp={}", profile.display());
    let script = "grep '^Seccomp:' /proc/self/status; mkdir /tmp/d 2>&1; echo mkdir=$?; \
                  touch /tmp/f && echo touch=ok";
    let out = p.cli.run_script(w, &["--security-opt", &opt], script)?;
    ensure!(out.contains("Seccomp:\t2"), "no seccomp filter: {out:?}");
    ensure!(
        out.contains("Operation not permitted") && out.contains("mkdir=1"),
        "mkdir was not refused by the profile: {out:?}"
    );
    ensure!(
        out.contains("touch=ok"),
        "the profile refused more than mkdir: {out:?}"
    );
    Ok(())
}

/// `--user 65534:65534`: the process runs as that user and group.
fn user(p: &mut Podman, w: &mut World) -> CaseResult {
    let script = "id -u; id -g; grep -E '^(Uid|Gid):' /proc/self/status";
    let out = p.cli.run_script(w, &["--user", "65534:65534"], script)?;
    let mut lines = out.lines();
    ensure!(
        lines.next() == Some("65534") && lines.next() == Some("65534"),
        "--user: {out:?}"
    );
    ensure!(
        out.contains("Uid:\t65534\t65534\t65534\t65534"),
        "--user: not every uid changed: {out:?}"
    );
    Ok(())
}

/// `--uidmap`/`--gidmap`: the container is root inside a user namespace whose root is
/// host uid 100000, as the container and the host see it.
fn uidmap(p: &mut Podman, w: &mut World) -> CaseResult {
    let map = ["--uidmap", "0:100000:65536", "--gidmap", "0:100000:65536"];
    let out = p.cli.run_script(w, &map, "id -u; cat /proc/self/uid_map")?;
    let words: Vec<&str> = out.split_whitespace().collect();
    ensure!(words == ["0", "0", "100000", "65536"], "inside: {out:?}");
    let pid = p.cli.detached(w, &map, &["sleep", "1000"])?;
    let host_uid = crate::host::status_field(pid, "Uid:").unwrap_or_default();
    ensure!(
        host_uid.split_whitespace().next() == Some("100000"),
        "the init runs as host uid {host_uid:?}, wanted 100000"
    );
    Ok(())
}

/// `init` has the runtime create the container (podman: "initialized"), and `rm` (no
/// `-f`) of it asks the runtime for `delete --force`: the created init is gone with its
/// state (runtime.md: deleting a container that is not stopped without it "MUST
/// generate an error").
fn init_rm(p: &mut Podman, w: &mut World) -> CaseResult {
    p.cli.create(w, &["sleep", "1000"]).ok()?;
    p.cli.call(w, &["init", dockerlike::NAME]).ok()?;
    let status = p.cli.inspect(w, "{{.State.Status}}")?;
    ensure!(status == "initialized", "after init: {status}");
    let held: Vec<_> = std::fs::read_dir(&p.rt_root)
        .map_err(|e| format!("{}: {e}", p.rt_root.display()))?
        .flatten()
        .collect();
    ensure!(
        held.len() == 1,
        "the runtime holds {} containers after init",
        held.len()
    );
    let pid: i32 = p.cli.inspect(w, "{{.State.Pid}}")?.parse().unwrap_or(0);
    let init = crate::host::cmdline(pid);
    p.cli.call(w, &["rm", dockerlike::NAME]).ok()?;
    let left = p.cli.call(w, &["ps", "-aq"]).ok()?.stdout.clone();
    ensure!(left.trim().is_empty(), "rm left {left:?}");
    ensure!(
        pid <= 0 || crate::host::cmdline(pid) != init,
        "the created init {pid} still runs"
    );
    crate::runtime_root_empty(&p.rt_root)
}
