//! corral-conformance: runs every case against the runtime binary given with
//! `--runtime PATH` (corral, runc, …), each on a fresh bundle and its own `--root`,
//! and ends with one line `N passed, N failed`.
//!
//! `--filter S` keeps the cases whose name contains S (given several times: any of
//! them), `--skip S` leaves out those whose name contains S, and `--list` prints the
//! names that would run instead of running them.
//!
//! Cases marked as corral extensions test behaviour runc does not have (or words of
//! corral's errors); they are skipped for other runtimes. After every case, pass or
//! fail, the harness deletes what is left (`delete --force`), then checks that nothing
//! was left behind: no state under the root, no process, no mount.

mod bundle;
mod cases;
mod ctx;
mod loopdev;
mod procs;

use ctx::Ctx;
use std::path::PathBuf;

pub type CaseResult = Result<(), String>;

pub struct Case {
    pub name: &'static str,
    /// Tests corral behaviour that runc does not share: skipped for other runtimes.
    pub extension: bool,
    pub run: fn(&mut Ctx) -> CaseResult,
}

impl Case {
    /// A case every runtime must pass.
    pub fn new(name: &'static str, run: fn(&mut Ctx) -> CaseResult) -> Self {
        Case {
            name,
            extension: false,
            run,
        }
    }

    /// A case of corral-only behaviour, skipped for other runtimes.
    pub fn extension(name: &'static str, run: fn(&mut Ctx) -> CaseResult) -> Self {
        Case {
            name,
            extension: true,
            run,
        }
    }
}

const USAGE: &str = "usage: corral-conformance --runtime PATH [--filter SUBSTRING]... \
                     [--skip SUBSTRING]... [--list]";

struct Args {
    runtime: PathBuf,
    filters: Vec<String>,
    skips: Vec<String>,
    list: bool,
}

impl Args {
    fn selects(&self, name: &str) -> bool {
        (self.filters.is_empty() || self.filters.iter().any(|f| name.contains(f.as_str())))
            && !self.skips.iter().any(|s| name.contains(s.as_str()))
    }
}

fn parse_args() -> Result<Args, String> {
    let (mut runtime, mut filters, mut skips, mut list) = (None, vec![], vec![], false);
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or(format!("{a} needs a value\n{USAGE}"));
        match a.as_str() {
            "--runtime" => runtime = Some(PathBuf::from(value()?)),
            "--filter" => filters.push(value()?),
            "--skip" => skips.push(value()?),
            "--list" => list = true,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    let runtime = match runtime {
        Some(r) => r
            .canonicalize()
            .map_err(|e| format!("runtime {}: {e}", r.display()))?,
        // --list needs no runtime.
        None if list => PathBuf::new(),
        None => return Err(format!("--runtime PATH is required\n{USAGE}")),
    };
    Ok(Args {
        runtime,
        filters,
        skips,
        list,
    })
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    if args.list {
        for case in cases::all().iter().filter(|c| args.selects(c.name)) {
            println!("{}", case.name);
        }
        return;
    }
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("corral-conformance runs containers: run it as root");
        std::process::exit(2);
    }
    // Orphaned container inits become our children, so we can reap them and see
    // whether any is left.
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    let work = std::env::temp_dir().join(format!("conformance-{}", std::process::id()));
    std::fs::create_dir_all(&work).expect("create work dir");
    let is_corral = ctx::runtime_is_corral(&args.runtime);
    println!(
        "runtime {} ({})",
        args.runtime.display(),
        if is_corral {
            "corral"
        } else {
            "not corral: extensions skipped"
        }
    );
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for case in cases::all() {
        if !args.selects(case.name) {
            continue;
        }
        if case.extension && !is_corral {
            skipped += 1;
            println!("skip {} (corral extension)", case.name);
            continue;
        }
        let mut cx = Ctx::new(&args.runtime, &work, case.name, is_corral);
        let result = (case.run)(&mut cx);
        let leaks = cx.cleanup();
        match (result, leaks) {
            (Ok(()), Ok(())) => {
                passed += 1;
                println!("ok   {}", case.name);
            }
            (Err(e), leaks) => {
                failed += 1;
                println!("FAIL {}: {e}", case.name);
                if let Err(l) = leaks {
                    println!("     and it left: {l}");
                }
            }
            (Ok(()), Err(l)) => {
                failed += 1;
                println!("FAIL {}: left behind: {l}", case.name);
            }
        }
    }
    let _ = std::fs::remove_dir(&work);
    if skipped > 0 {
        println!("{passed} passed, {failed} failed, {skipped} skipped");
    } else {
        println!("{passed} passed, {failed} failed");
    }
    std::process::exit(if failed > 0 { 1 } else { 0 });
}
