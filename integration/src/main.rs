//! corral-conformance: runs every case against the runtime binary given with
//! `--runtime PATH` (corral, runc, …), each on a fresh bundle and its own `--root`,
//! and ends with one line `N passed, N failed`.
//!
//! Cases marked as corral extensions test behaviour runc does not have (or words of
//! corral's errors); they are skipped for other runtimes. After every case, pass or
//! fail, the harness deletes what is left (`delete --force`), then checks that nothing
//! was left behind: no state under the root, no process, no mount.

mod bundle;
mod cases;
mod ctx;

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

struct Args {
    runtime: PathBuf,
    filter: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut runtime = None;
    let mut filter = None;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--runtime" => runtime = it.next().map(PathBuf::from),
            "--filter" => filter = it.next(),
            "-h" | "--help" => {
                return Err("usage: corral-conformance --runtime PATH [--filter SUBSTRING]".into())
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let runtime = runtime.ok_or("--runtime PATH is required")?;
    let runtime = runtime
        .canonicalize()
        .map_err(|e| format!("runtime {}: {e}", runtime.display()))?;
    Ok(Args { runtime, filter })
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
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
        if args
            .filter
            .as_deref()
            .is_some_and(|f| !case.name.contains(f))
        {
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
