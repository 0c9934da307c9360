//! corral: each command is one call into libcontainer.
//!
//! No Rust runtime start-up (`no_main`): `main` below is the C entry point glibc calls.
//! What the runtime would do first is a stack-overflow guard for the main thread, which
//! glibc finds by reading /proc/self/maps, and an alternate signal stack: some 15 system
//! calls per start, twice for the commands that exec the sealed copy. corral keeps the
//! one part it relies on, SIGPIPE ignored (a closed pipe is an EPIPE error, not death),
//! and every path ends in `std::process::exit`, which flushes standard output as a
//! return from Rust's main would. Arguments still come through `std::env` (glibc hands
//! them to Rust's standard library at load time).
#![no_main]

use anyhow::{bail, Context, Result};
use clap::{CommandFactory, FromArgMatches};
use corral_cli::cli::{
    self, CheckpointArgs, Cli, Command, CreateArgs, CriuArgs, ExecArgs, ListFormat, RestoreArgs,
    UpdateArgs,
};
use corral_cli::log::Logger;
use corral_cli::ops;
use libcontainer::container::{self, CreateOptions, RunOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

fn default_root() -> PathBuf {
    let uid = nix_uid();
    if uid == 0 {
        return PathBuf::from("/run/corral");
    }
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d).join("corral"),
        _ => PathBuf::from(format!("/tmp/corral-{uid}")),
    }
}

/// `--rootless`: `auto` (the default) means rootless when not running as root.
fn rootless(flag: Option<&str>) -> Result<bool> {
    match flag {
        None | Some("auto") => Ok(nix_uid() != 0),
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(v) => bail!("--rootless takes true, false or auto, not {v:?}"),
    }
}

fn nix_uid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

/// `path` made absolute against the current directory: `create` changes directory to
/// the bundle, after which a relative --root or --pid-file would name another place.
fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path).with_context(|| format!("cannot resolve {}", path.display()))
}

/// `NOTIFY_SOCKET` of the caller's environment, which the container gets to use.
fn notify_socket() -> Option<PathBuf> {
    std::env::var_os("NOTIFY_SOCKET")
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
}

/// The fds socket activation handed us: `LISTEN_FDS`, when `LISTEN_PID` is our pid.
fn listen_fds() -> u32 {
    let var = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u32>().ok());
    match (var("LISTEN_PID"), var("LISTEN_FDS")) {
        (Some(pid), Some(n)) if pid == std::process::id() => n,
        _ => 0,
    }
}

fn create_options<'a>(
    root: &'a Path,
    a: &'a CreateArgs,
    paths: &'a (Option<PathBuf>, Option<PathBuf>),
    warn: &'a dyn Fn(&str),
    rootless: bool,
    log_debug: &'a dyn Fn(&str),
    systemd_cgroup: bool,
) -> Result<CreateOptions<'a>> {
    let (pid_file, notify_socket) = paths;
    Ok(CreateOptions {
        root,
        id: &a.id,
        bundle: &a.bundle,
        pid_file: pid_file.as_deref(),
        no_pivot: a.no_pivot,
        no_new_keyring: a.no_new_keyring,
        preserve_fds: a.preserve_fds,
        warn,
        rootless,
        log_debug: Some(log_debug),
        console_socket: a.console_socket.as_deref(),
        pidfd_socket: a.pidfd_socket.as_deref(),
        systemd_cgroup,
        notify_socket: notify_socket.as_deref(),
        listen_fds: listen_fds(),
    })
}

fn print_json(v: &serde_json::Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(v).expect("JSON values serialise")
    );
}

fn list(root: &Path, format: ListFormat, quiet: bool) -> Result<()> {
    let all = container::list(root)?;
    if quiet {
        all.iter()
            .for_each(|s| println!("{}", s.state["id"].as_str().unwrap_or_default()));
        return Ok(());
    }
    // `owner`, in the table and in JSON as runc prints it: the name of the user the
    // container's state dir belongs to.
    let states: Vec<serde_json::Value> = all
        .into_iter()
        .map(|s| {
            let mut v = s.state;
            let id = v["id"].as_str().unwrap_or_default().to_string();
            v["owner"] = ops::state_dir_owner(root, &id).into();
            v
        })
        .collect();
    if format == ListFormat::Json {
        println!("{}", serde_json::Value::from(states));
        return Ok(());
    }
    let mut rows = vec![["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from)];
    for v in &states {
        let f = |k: &str| match &v[k] {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        rows.push([
            f("id"),
            f("pid"),
            f("status"),
            f("bundle"),
            f("created"),
            f("owner"),
        ]);
    }
    print!("{}", ops::table(&rows));
    Ok(())
}

fn spec(bundle: &Path, rootless: bool) -> Result<()> {
    let path = bundle.join("config.json");
    if path.exists() {
        bail!("{} exists: remove it first", path.display());
    }
    let (uid, gid) = (
        nix::unistd::getuid().as_raw(),
        nix::unistd::getgid().as_raw(),
    );
    let v = libcontainer::template::default_spec(rootless, uid, gid);
    let text = serde_json::to_string_pretty(&v)? + "\n";
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))
}

fn ps(root: &Path, id: &str, format: ListFormat, ps_args: &[String]) -> Result<()> {
    // ps(1)'s options after "--" too, as `corral ps ID -- -o pid,args` reads best.
    let ps_args = ps_args.strip_prefix(&["--".to_string()]).unwrap_or(ps_args);
    if format == ListFormat::Json && !ps_args.is_empty() {
        bail!("ps options {ps_args:?} apply to the table format only (not with -f json)");
    }
    let pids = container::pids(root, id)?;
    match format {
        ListFormat::Json => println!("{}", serde_json::Value::from(pids)),
        ListFormat::Table => print!("{}", ops::ps_table(ps_args, &pids)?),
    }
    Ok(())
}

fn events(root: &Path, id: &str, stats: bool, interval: &str) -> Result<()> {
    let interval = ops::duration(interval)?;
    let line = |e: &container::Event| serde_json::to_string(e).expect("events serialise");
    if stats {
        println!("{}", line(&container::stats(root, id)?));
        return Ok(());
    }
    // A reader that went away (a closed pipe) ends the stream quietly.
    let mut out = std::io::stdout();
    Ok(container::events(root, id, interval, &mut |e| {
        writeln!(out, "{}", line(e)).is_ok()
    })?)
}

fn update(root: &Path, a: &UpdateArgs, warn: &dyn Fn(&str)) -> Result<()> {
    let (source, change) = match &a.resources {
        Some(_) if ops::has_flags(a) => {
            bail!("update: give the resources with --resources or with flags, not both")
        }
        Some(p) if p == Path::new("-") => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("cannot read the resources from standard input")?;
            (PathBuf::from("<stdin>"), text)
        }
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("cannot read the resources from {}", p.display()))?;
            (p.clone(), text)
        }
        None => {
            let change = ops::update_change(a)?;
            let flags = PathBuf::from("update flags");
            return Ok(container::update(root, &a.id, &flags, change, warn)?);
        }
    };
    let change: serde_json::Value = serde_json::from_slice(change.as_bytes())
        .with_context(|| format!("{}: not JSON", source.display()))?;
    Ok(container::update(root, &a.id, &source, change, warn)?)
}

fn exec(root: &Path, a: &ExecArgs, warn: &dyn Fn(&str), debug: &dyn Fn(&str)) -> Result<i32> {
    let flags = container::ProcessFlags {
        args: a.command.clone(),
        tty: a.tty,
        cwd: a.cwd.clone(),
        env: a.env.clone(),
        user: a.user.clone(),
        additional_gids: a.additional_gids.clone(),
        caps: a.cap.clone(),
        no_new_privs: a.no_new_privs,
        apparmor: a.apparmor.clone(),
        process_label: a.process_label.clone(),
    };
    Ok(container::exec(&container::ExecOptions {
        root,
        id: &a.id,
        process_file: a.process.as_deref(),
        flags: &flags,
        console_socket: a.console_socket.as_deref(),
        pidfd_socket: a.pidfd_socket.as_deref(),
        detach: a.detach,
        pid_file: a.pid_file.as_deref(),
        preserve_fds: a.preserve_fds,
        cgroup: &a.cgroup,
        ignore_paused: a.ignore_paused,
        warn,
        log_debug: Some(debug),
    })?)
}

/// The completion scripts are generated from the CLI definition by clap_complete in
/// tests/completion.rs (which fails when they are stale) and built in as text: the
/// generators themselves would cost the binary more than the three scripts.
fn completion(shell: cli::Shell) {
    let script = match shell {
        cli::Shell::Bash => include_str!("../completions/corral.bash"),
        cli::Shell::Zsh => include_str!("../completions/_corral"),
        cli::Shell::Fish => include_str!("../completions/corral.fish"),
    };
    print!("{script}");
}

/// The shared CRIU flags, with those corral cannot honour refused by name (with why).
fn criu_options(a: &CriuArgs, refused: &[(bool, &str, &str)]) -> Result<container::CriuOptions> {
    const NO_PAGE_SERVER: &str = "corral drives CRIU without its page server";
    let own = [
        (a.lazy_pages, "--lazy-pages", NO_PAGE_SERVER),
        (a.status_fd.is_some(), "--status-fd", NO_PAGE_SERVER),
        (a.page_server.is_some(), "--page-server", NO_PAGE_SERVER),
    ];
    if let Some((_, flag, why)) = own.iter().chain(refused).find(|(on, ..)| *on) {
        bail!("{flag}: not supported by corral ({why})");
    }
    let image_path = absolute(a.image_path.as_deref().unwrap_or(Path::new("checkpoint")))?;
    Ok(container::CriuOptions {
        image_path,
        work_path: a.work_path.as_deref().map(absolute).transpose()?,
        parent_path: None,
        leave_running: a.leave_running,
        tcp_established: a.tcp_established,
        tcp_skip_in_flight: a.tcp_skip_in_flight,
        link_remap: a.link_remap,
        ext_unix_sk: a.ext_unix_sk,
        shell_job: a.shell_job,
        file_locks: a.file_locks,
        pre_dump: false,
        manage_cgroups_mode: a.manage_cgroups_mode.clone(),
        empty_ns: a.empty_ns.clone(),
        auto_dedup: a.auto_dedup,
    })
}

fn checkpoint(root: &Path, a: &CheckpointArgs, warn: &dyn Fn(&str)) -> Result<()> {
    let mut o = criu_options(&a.criu, &[])?;
    o.parent_path = a.parent_path.clone();
    o.pre_dump = a.pre_dump;
    Ok(container::checkpoint(root, &a.id, &o, warn)?)
}

fn restore(root: &Path, a: &RestoreArgs, systemd: bool, warn: &dyn Fn(&str)) -> Result<i32> {
    let refused = [
        (
            a.no_pivot,
            "--no-pivot",
            "CRIU restores the mount namespace itself",
        ),
        (
            a.criu.leave_running,
            "--leave-running",
            "it is a checkpoint flag: restore has nothing to leave running",
        ),
    ];
    let o = criu_options(&a.criu, &refused)?;
    let pid_file = a.pid_file.as_deref().map(absolute).transpose()?;
    Ok(container::restore(&container::RestoreOptions {
        root,
        id: &a.id,
        bundle: &a.bundle,
        criu: &o,
        detach: a.detach,
        pid_file: pid_file.as_deref(),
        console_socket: a.console_socket.as_deref(),
        no_subreaper: a.no_subreaper,
        lsm_profile: a.lsm_profile.as_deref(),
        lsm_mount_context: a.lsm_mount_context.as_deref(),
        systemd_cgroup: systemd,
        warn,
    })?)
}

/// Runs the command; returns the exit status.
fn dispatch(cli: &Cli, log: &Logger) -> Result<i32> {
    let rootless = rootless(cli.rootless.as_deref())?;
    let root = absolute(&cli.root.clone().unwrap_or_else(default_root))?;
    log.debug(&format!(
        "{:?} with root {}{}",
        cli.command,
        root.display(),
        if rootless { " (rootless)" } else { "" }
    ));
    let warn = |msg: &str| log.warn(msg);
    let debug = |m: &str| log.debug(m);
    match &cli.command {
        Command::Create(a) => {
            let paths = (
                a.pid_file.as_deref().map(absolute).transpose()?,
                notify_socket(),
            );
            container::create(&create_options(
                &root,
                a,
                &paths,
                &warn,
                rootless,
                &debug,
                cli.systemd_cgroup,
            )?)?;
        }
        Command::Start { id } => {
            container::start(&root, id, notify_socket().as_deref(), &warn)?;
        }
        Command::Run {
            create,
            detach,
            keep,
            no_subreaper,
        } => {
            let paths = (
                create.pid_file.as_deref().map(absolute).transpose()?,
                notify_socket(),
            );
            let opts = create_options(
                &root,
                create,
                &paths,
                &warn,
                rootless,
                &debug,
                cli.systemd_cgroup,
            )?;
            let run = RunOptions {
                detach: *detach,
                keep: *keep,
                no_subreaper: *no_subreaper,
            };
            return Ok(container::run(&opts, &run)?);
        }
        Command::State { id } => print_json(&container::state(&root, id)?),
        Command::Kill { all, id, signal } => {
            container::kill(&root, id, libcontainer::signal::parse(signal)?, *all)?;
        }
        Command::Delete { force, id } => container::delete(&root, id, *force, &warn)?,
        Command::List { format, quiet } => list(&root, *format, *quiet)?,
        Command::Spec { bundle, rootless } => spec(bundle, *rootless)?,
        Command::Features => print_json(&libcontainer::features::features(env!("CORRAL_COMMIT"))),
        Command::Ps {
            format,
            id,
            ps_args,
        } => ps(&root, id, *format, ps_args)?,
        Command::Pause { id } => container::pause(&root, id)?,
        Command::Resume { id } => container::resume(&root, id)?,
        Command::Events {
            stats,
            interval,
            id,
        } => events(&root, id, *stats, interval)?,
        Command::Update(a) => update(&root, a, &warn)?,
        Command::Exec(a) => return exec(&root, a, &warn, &debug),
        Command::Completion { shell } => completion(*shell),
        Command::Checkpoint(a) => checkpoint(&root, a, &warn)?,
        Command::Restore(a) => return restore(&root, a, cli.systemd_cgroup, &warn),
    }
    Ok(0)
}

/// The command line, or the exit of a usage error, which goes to `--log` too.
fn parse() -> Cli {
    let version = cli::version_text(&libcontainer::features::libseccomp_version());
    let cmd = Cli::command().version(&*Box::leak(version.into_boxed_str()));
    // containerd's shim (go-runc) spells one flag of `restore` with a single dash, which
    // runc's Go flag parser takes as the long flag: so does corral.
    let args: Vec<std::ffi::OsString> = std::env::args_os()
        .map(|a| match a.to_str() {
            Some("-no-subreaper") => "--no-subreaper".into(),
            _ => a,
        })
        .collect();
    let err = match cmd
        .try_get_matches_from(&args)
        .and_then(|m| Cli::from_arg_matches(&m))
    {
        Ok(cli) => return cli,
        Err(e) => e,
    };
    use clap::error::ErrorKind;
    if !matches!(
        err.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    ) {
        if let (Some(path), format) = corral_cli::usage::log_flags(&args) {
            if let Ok(log) = Logger::new(Some(&path), format, false) {
                log.error_to_file(&corral_cli::usage::message(&err));
            }
        }
    }
    err.exit()
}

/// The C entry point (see the module doc).
#[no_mangle]
extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    // SAFETY: setting a signal's disposition to SIG_IGN, before any other thread exists.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    corral_main()
}

fn corral_main() -> ! {
    // `create`, `run` and `exec` decide once they have read the config whether their
    // process leaves corral through the exec trampoline or corral runs from a
    // write-protected copy of itself (libcontainer/src/trampoline.rs, sealed_exe.rs).
    let cli = parse();
    let log = match Logger::new(cli.log.as_deref(), cli.log_format, cli.debug) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("corral: error: cannot open log file: {e}");
            std::process::exit(1);
        }
    };
    if cli.debug {
        libcontainer::trace::enable();
    }
    let done = dispatch(&cli, &log);
    // `--debug`: where the command's time went (nothing without it).
    libcontainer::trace::report(&|m| log.debug(m));
    match done {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            log.error(&corral_cli::log::sentence(&e));
            std::process::exit(1);
        }
    }
}
