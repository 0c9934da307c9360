//! corral-engines: the engine test suite. Runs podman, containerd (ctr, through
//! containerd-shim-runc-v2) and Docker end to end with the OCI runtime given by
//! `--runtime PATH` (corral, or runc as the reference) and checks what each container
//! saw or what the host shows.
//!
//! `--engine podman|containerd|docker` (repeatable) picks engines, `--filter S` keeps
//! the flows whose name contains S, `--list` prints the names, `--record FILE` writes
//! the invocation forms this run made (the fixture, from a reference run), `--keep`
//! keeps the temporary directory. Everything lives under one temporary directory; the
//! daemons are stopped by pid at the end (and on failure, Ctrl-C or a panic); then the
//! suite fails on any process, mount or cgroup left behind.

mod clihelp;
mod cmd;
mod containerd;
mod docker;
mod dockerlike;
mod host;
mod image;
mod invocations;
mod podman;
#[path = "../procs.rs"]
mod procs;
mod world;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
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
/// its containers.
pub fn runtime_root_empty(dir: &Path) -> CaseResult {
    let left: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    ensure!(
        left.is_empty(),
        "the runtime kept state in {}: {left:?}",
        dir.display()
    );
    Ok(())
}

const ENGINES: [&str; 3] = ["podman", "containerd", "docker"];
const USAGE: &str = "usage: corral-engines --runtime PATH [--engine podman|containerd|docker]... \
                     [--filter SUBSTRING]... [--list] [--record FILE] [--keep]";

struct Args {
    runtime: PathBuf,
    engines: Vec<String>,
    filters: Vec<String>,
    list: bool,
    record: Option<PathBuf>,
    keep: bool,
}

impl Args {
    fn selects(&self, engine: &str, name: &str) -> bool {
        self.engines.iter().any(|e| e == engine)
            && (self.filters.is_empty() || self.filters.iter().any(|f| name.contains(f.as_str())))
    }
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        runtime: PathBuf::new(),
        engines: vec![],
        filters: vec![],
        list: false,
        record: None,
        keep: false,
    };
    let mut runtime = None;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or(format!("{arg} needs a value\n{USAGE}"));
        match arg.as_str() {
            "--runtime" => runtime = Some(PathBuf::from(value()?)),
            "--engine" => {
                let e = value()?;
                if !ENGINES.contains(&e.as_str()) {
                    return Err(format!("unknown engine {e:?}\n{USAGE}"));
                }
                a.engines.push(e);
            }
            "--filter" => a.filters.push(value()?),
            "--record" => a.record = Some(PathBuf::from(value()?)),
            "--list" => a.list = true,
            "--keep" => a.keep = true,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    if a.engines.is_empty() {
        a.engines = ENGINES.iter().map(|e| e.to_string()).collect();
    }
    a.runtime = match runtime {
        Some(r) => r
            .canonicalize()
            .map_err(|e| format!("runtime {}: {e}", r.display()))?,
        None if a.list => PathBuf::new(),
        None => return Err(format!("--runtime PATH is required\n{USAGE}")),
    };
    Ok(a)
}

/// What the run found.
#[derive(Default)]
struct Tally {
    /// The temporary directory, written `$T` in messages.
    dir: String,
    passed: usize,
    failed: Vec<String>,
    /// Invocation forms of every flow, and of the flows that passed.
    forms: BTreeSet<String>,
    forms_of_passed: BTreeSet<String>,
}

impl Tally {
    fn report(&mut self, name: &str, result: CaseResult, took: Duration) {
        match result {
            Ok(()) => {
                self.passed += 1;
                println!("ok   {name} ({:.1} s)", took.as_secs_f64());
            }
            Err(e) => {
                println!("FAIL {name}: {}", e.replace(&self.dir, "$T"));
                self.failed.push(name.to_string());
            }
        }
    }
}

/// Runs the selected flows of engine `E`, each followed by the engine's reset.
fn run_flows<E: Engine>(e: &mut E, w: &mut World, args: &Args, t: &mut Tally) {
    for flow in E::flows()
        .into_iter()
        .filter(|f| args.selects(E::NAME, f.name))
    {
        if cmd::interrupted() {
            t.report(
                flow.name,
                Err("not run: interrupted".into()),
                Duration::ZERO,
            );
            continue;
        }
        let (start, from) = (Instant::now(), invocations::log_len(&w.log));
        let mounts = host::mount_points();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (flow.run)(e, w)))
            .unwrap_or_else(|_| Err("panicked".into()));
        let reset = w.cleaning(|w| e.reset(w));
        let leaks = w.flow_leaks(&mounts);
        let reset = match (reset, leaks.is_empty()) {
            (Ok(()), true) => Ok(()),
            (r, _) => {
                let mut why: Vec<String> = r.err().into_iter().collect();
                if !leaks.is_empty() {
                    why.push(format!("left behind: {}", leaks.join(", ")));
                }
                Err(why.join("; "))
            }
        };
        let forms = invocations::forms_since(&w.log, from);
        let result = match (result, reset) {
            (Ok(()), Ok(())) => {
                t.forms_of_passed.extend(forms.iter().cloned());
                Ok(())
            }
            (Ok(()), Err(r)) => Err(format!("after the flow: {r}")),
            (Err(e), Ok(())) => Err(e),
            (Err(e), Err(r)) => Err(format!("{e}\n     and after it: {r}")),
        };
        t.forms.extend(forms);
        t.report(flow.name, result, start.elapsed());
    }
}

/// Marks the selected flows of `E` failed (not run: `why`).
fn fail_all<E: Engine>(args: &Args, t: &mut Tally, why: &str) {
    for f in E::flows()
        .into_iter()
        .filter(|f| args.selects(E::NAME, f.name))
    {
        t.report(f.name, Err(why.to_string()), Duration::ZERO);
    }
}

/// Marks the selected flows of engine `first` and of the engines after it failed.
fn fail_from(first: &str, args: &Args, t: &mut Tally, why: &str) {
    let from = ENGINES.iter().position(|e| *e == first).unwrap_or(0);
    for e in &ENGINES[from..] {
        match *e {
            "podman" => fail_all::<podman::Podman>(args, t, why),
            "containerd" => fail_all::<containerd::Containerd>(args, t, why),
            _ => fail_all::<docker::Docker>(args, t, why),
        }
    }
}

fn any<E: Engine>(args: &Args) -> bool {
    E::flows().iter().any(|f| args.selects(E::NAME, f.name))
}

/// Sets up engine `E` (unless none of its flows is selected) and runs its flows.
fn engine<E: Engine>(
    w: &mut World,
    args: &Args,
    t: &mut Tally,
    setup: impl FnOnce(&mut World) -> Result<E, String>,
) {
    if !any::<E>(args) {
        return;
    }
    if cmd::interrupted() {
        return fail_all::<E>(args, t, "not run: interrupted");
    }
    match setup(w) {
        Ok(mut e) => run_flows(&mut e, w, args, t),
        Err(e) => fail_all::<E>(args, t, &format!("setup: {e}")),
    }
}

/// Runs the selected flows of each engine. podman comes first: it makes the image
/// every engine loads. containerd and Docker share one containerd daemon.
fn run_engines(w: &mut World, args: &Args, t: &mut Tally) {
    let later = any::<containerd::Containerd>(args) || any::<docker::Docker>(args);
    if !later && !any::<podman::Podman>(args) {
        return;
    }
    let made = image::rootfs_tar(&w.dir).and_then(|img| Ok((podman::setup(w, &img)?, img)));
    let (mut pm, img) = match made {
        Ok(x) => x,
        Err(e) => return fail_from("podman", args, t, &format!("setup: {e}")),
    };
    run_flows(&mut pm, w, args, t);
    if !later {
        return;
    }
    let sock = match cmd::interrupted() {
        true => Err("not run: interrupted".to_string()),
        false => containerd::start_daemon(w).map_err(|e| format!("setup: {e}")),
    };
    let sock = match sock {
        Ok(s) => s,
        Err(e) => return fail_from("containerd", args, t, &e),
    };
    engine(w, args, t, |w| containerd::setup(w, &sock, &img));
    engine(w, args, t, |w| docker::setup(w, &sock, &img));
}

/// The runtime's command line takes every fixture form of the selected engines.
fn invocations_supported(args: &Args) -> CaseResult {
    let mut surface = clihelp::Surface::new(args.runtime.clone());
    let mut bad = vec![];
    let fixture = invocations::fixture();
    ensure!(!fixture.is_empty(), "the fixture holds no invocation");
    for form in &fixture {
        let (engine, words) = invocations::parse(form);
        if args.engines.iter().any(|e| e == engine) {
            if let Err(e) = surface.check(&words) {
                bad.push(format!("{form}\n       {e}"));
            }
        }
    }
    ensure!(
        bad.is_empty(),
        "{} form(s) not taken:\n     {}",
        bad.len(),
        bad.join("\n     ")
    );
    Ok(())
}

/// The flows that passed made no invocation form the fixture lacks.
fn invocations_in_fixture(t: &Tally) -> CaseResult {
    let fixture = invocations::fixture();
    let new: Vec<&String> = t.forms_of_passed.difference(&fixture).collect();
    ensure!(
        new.is_empty(),
        "forms not in the fixture (regenerate it with --record from a runc run):\n     {}",
        new.iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n     ")
    );
    Ok(())
}

/// The checks of the fixture, after the flows.
fn run_fixture_checks(args: &Args, t: &mut Tally) {
    let ran_flows = !t.forms.is_empty();
    if args.selects_check("invocations_supported") {
        let start = Instant::now();
        t.report(
            "invocations_supported",
            invocations_supported(args),
            start.elapsed(),
        );
    }
    if ran_flows && args.record.is_none() && args.selects_check("invocations_in_fixture") {
        let r = invocations_in_fixture(t);
        t.report("invocations_in_fixture", r, Duration::ZERO);
    }
    if let Some(path) = &args.record {
        match invocations::record(path, &t.forms) {
            Ok(()) => println!("recorded {} forms in {}", t.forms.len(), path.display()),
            Err(e) => t.report(
                "record",
                Err(format!("{}: {e}", path.display())),
                Duration::ZERO,
            ),
        }
    }
}

impl Args {
    fn selects_check(&self, name: &str) -> bool {
        self.filters.is_empty() || self.filters.iter().any(|f| name.contains(f.as_str()))
    }
}

fn list(args: &Args) {
    let mut names: Vec<&str> = vec![];
    names.extend(
        podman::Podman::flows()
            .iter()
            .filter(|f| args.selects("podman", f.name))
            .map(|f| f.name),
    );
    names.extend(
        containerd::Containerd::flows()
            .iter()
            .filter(|f| args.selects("containerd", f.name))
            .map(|f| f.name),
    );
    names.extend(
        docker::Docker::flows()
            .iter()
            .filter(|f| args.selects("docker", f.name))
            .map(|f| f.name),
    );
    for n in names {
        println!("{n}");
    }
    for n in ["invocations_supported", "invocations_in_fixture"] {
        if args.selects_check(n) {
            println!("{n}");
        }
    }
}

fn main() {
    let args = parse_args().unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2);
    });
    if args.list {
        return list(&args);
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
    println!("runtime {}", args.runtime.display());
    let mut w = World::new(&args.runtime, args.keep).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2);
    });
    let mut t = Tally {
        dir: w.dir.to_string_lossy().into_owned(),
        ..Tally::default()
    };
    println!("temporary directory ($T): {}", w.dir.display());
    run_engines(&mut w, &args, &mut t);
    run_fixture_checks(&args, &mut t);
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
