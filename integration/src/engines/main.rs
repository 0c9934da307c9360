//! corral-engines: the engine test suite. Runs podman, containerd (ctr, through
//! containerd-shim-runc-v2) and Docker end to end with the OCI runtime given by
//! `--runtime PATH` (corral, or runc as the reference) and checks what each container
//! saw or what the host shows.
//!
//! `--engine podman|podman-rootless|containerd|docker` (repeatable) picks engines
//! (podman-rootless: podman as the unprivileged `corraltest`, only when named),
//! `--cgroup-manager systemd` has them use their systemd cgroup driver, `--filter S` keeps
//! the flows whose name contains S (ends with S when S ends with `$`), `--list` prints the names, `--record FILE` writes
//! the invocation forms this run made (the fixture, from a reference run), `--keep`
//! keeps the temporary directory. Everything lives under one temporary directory; the
//! daemons are stopped by pid at the end (and on failure, Ctrl-C or a panic); then the
//! suite fails on any process, mount or cgroup left behind (and, on a systemd host, any
//! unit: see systemd.rs).

mod args;
mod checkpoint;
mod clihelp;
mod cmd;
mod containerd;
mod docker;
mod dockerlike;
mod fixture_checks;
mod host;
mod image;
mod invocations;
mod podman;
#[path = "../procs.rs"]
mod procs;
mod runner;
mod systemd;
mod world;

use std::path::Path;
use std::time::{Duration, Instant};
use world::World;

pub type CaseResult = Result<(), String>;

/// Fails the flow with a message unless `cond` holds.
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

/// One named flow of an engine.
pub struct Flow<E> {
    pub name: &'static str,
    pub run: fn(&mut E, &mut World) -> CaseResult,
}

impl<E> Flow<E> {
    pub fn new(name: &'static str, run: fn(&mut E, &mut World) -> CaseResult) -> Self {
        Flow { name, run }
    }
}

pub trait Engine: Sized {
    const NAME: &'static str;
    fn flows() -> Vec<Flow<Self>>;
    /// After each flow, pass or fail: removes its containers and checks that the
    /// runtime holds no state for them.
    fn reset(&mut self, w: &mut World) -> CaseResult;
}

/// Polls `f` every 50 ms until it holds, for at most `limit`.
pub fn wait_until(
    what: &str,
    limit: Duration,
    mut f: impl FnMut() -> Result<bool, String>,
) -> CaseResult {
    let start = Instant::now();
    loop {
        let r = f();
        if r == Ok(true) {
            return Ok(());
        }
        if start.elapsed() > limit || cmd::interrupted() {
            let why = r.err().map(|e| format!(": {e}")).unwrap_or_default();
            return Err(format!("waited {limit:?} for {what}{why}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The rest of the line of `out` that starts with `key`, trimmed.
pub fn line_value<'a>(out: &'a str, key: &str) -> Result<&'a str, String> {
    out.lines()
        .find_map(|l| l.strip_prefix(key))
        .map(str::trim)
        .ok_or(format!("no {key:?} line in {out:?}"))
}

/// The runtime keeps no container state in `dir` (its --root) once the engine removed
/// its containers. What is left is reported, then removed (the suite's own directory),
/// so that the next flow starts clean.
pub fn runtime_root_empty(dir: &Path) -> CaseResult {
    let left: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect();
    for p in &left {
        let _ = std::fs::remove_dir_all(p);
    }
    let names: Vec<_> = left.iter().filter_map(|p| p.file_name()).collect();
    ensure!(
        left.is_empty(),
        "the runtime kept state in {}: {names:?}",
        dir.display()
    );
    Ok(())
}

fn main() {
    let args = args::parse_args().unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2);
    });
    if args.list {
        return runner::list(&args);
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("corral-engines runs engines and their daemons: run it as root");
        std::process::exit(2);
    }
    // Orphaned conmons, shims and container processes become our children, so the
    // suite can see whether any is left.
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    cmd::catch_interrupts();
    // podman's conmon runs the runtime in podman's own cwd: from / (never a bundle), the
    // invocation forms (cwd `other` for podman) do not depend on where the suite started.
    if let Err(e) = std::env::set_current_dir("/") {
        eprintln!("chdir /: {e}");
        std::process::exit(2);
    }
    println!(
        "runtime {}, the engines' cgroup manager {}",
        args.runtime.display(),
        args.cgroup_manager.name()
    );
    let mut w = World::new(&args.runtime, args.keep, args.cgroup_manager).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2);
    });
    let mut t = runner::Tally {
        dir: w.dir.to_string_lossy().into_owned(),
        ..runner::Tally::default()
    };
    println!("temporary directory ($T): {}", w.dir.display());
    runner::run_engines(&mut w, &args, &mut t);
    fixture_checks::run_fixture_checks(&args, &mut t);
    let (leaks, notes) = w.teardown();
    for n in notes {
        println!("note: {n}");
    }
    if !leaks.is_empty() {
        println!("FAIL left behind:\n     {}", leaks.join("\n     "));
        t.failed.push("cleanup".into());
    }
    if cmd::interrupted() {
        println!("interrupted");
    }
    println!("{} passed, {} failed", t.passed, t.failed.len());
    std::process::exit(if t.failed.is_empty() && !cmd::interrupted() {
        0
    } else {
        1
    });
}
