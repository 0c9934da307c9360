//! corral-conformance: runs every case against the runtime binary given with
//! `--runtime PATH` (corral, runc, …), each on a fresh bundle and its own `--root`,
//! and ends with one line `N passed, N failed`.
//!
//! `--filter S` keeps the cases whose name contains S (given several times: any of
//! them), `--skip S` leaves out those whose name contains S, and `--list` prints the
//! names that would run instead of running them. `--systemd-cgroup` passes that global
//! flag to every runtime call, and runs the cases of the systemd cgroup driver (skipped
//! without it).
//!
//! A case may say what it needs (`needs.rs`): a spec feature the runtime must report
//! through `features`, a spec behaviour a known release lacks, a corral restriction or
//! extension, or corral's wording. It is skipped, with the reason, where that is not
//! met, and the skips are counted per reason. After every case, pass or fail, the harness deletes what is left (`delete --force`), then checks that nothing
//! was left behind: no state under the root, no process, no mount. The run keeps to a
//! cgroup of its own (`runcg.rs`), so two runs at once never meet in a default cgroup.

mod bundle;
mod cases;
mod cgpath;
mod ctx;
mod loopdev;
mod needs;
mod procs;
mod runcg;

use ctx::Ctx;
pub use needs::{Feature, Needs, RUNC_1_1};
use std::path::PathBuf;

pub type CaseResult = Result<(), String>;

/// How long a case waits for something that must happen (a status, a process, a line of
/// output). It bounds only a failure: a case goes on as soon as the condition holds, so
/// it is generous for the software-emulated guests on a loaded host, where one `run`
/// can take several seconds.
pub const PATIENCE: std::time::Duration = std::time::Duration::from_secs(60);

pub struct Case {
    pub name: &'static str,
    /// What the runtime must report or be for the case to apply (see `needs.rs`).
    pub needs: Needs,
    pub run: fn(&mut Ctx) -> CaseResult,
    /// The case runs CRIU: skipped where `criu check` fails on this host (a fact of the
    /// host's kernel, not of the runtime), with CRIU's own reason.
    pub criu: bool,
    /// A case of the cgroupfs driver alone, skipped with `--systemd-cgroup` (why).
    pub cgroupfs: Option<&'static str>,
}

impl Case {
    /// A case every runtime must pass.
    pub fn new(name: &'static str, run: fn(&mut Ctx) -> CaseResult) -> Self {
        Self::needs(name, Needs::Nothing, run)
    }

    /// A case that applies where `needs` is met, and is skipped with its reason elsewhere.
    pub fn needs(name: &'static str, needs: Needs, run: fn(&mut Ctx) -> CaseResult) -> Self {
        Case {
            name,
            needs,
            run,
            criu: false,
            cgroupfs: None,
        }
    }

    /// This case checks what only the cgroupfs driver does (`why`: what, and where the
    /// systemd driver's counterpart is checked): skipped with `--systemd-cgroup`.
    pub fn cgroupfs_only(self, why: &'static str) -> Self {
        Case {
            cgroupfs: Some(why),
            ..self
        }
    }

    /// The case runs CRIU (see [`Case::criu`]).
    pub fn with_criu(mut self) -> Self {
        self.criu = true;
        self
    }

    /// A spec feature the runtime must report through `features`.
    pub fn feature(name: &'static str, f: Feature, run: fn(&mut Ctx) -> CaseResult) -> Self {
        Self::needs(name, Needs::Feature(f), run)
    }

    /// A corral restriction or extension beyond the spec (`what` says which).
    pub fn corral(name: &'static str, what: &'static str, run: fn(&mut Ctx) -> CaseResult) -> Self {
        Self::needs(name, Needs::Corral(what), run)
    }

    /// A case that asserts corral's own wording.
    pub fn wording(name: &'static str, run: fn(&mut Ctx) -> CaseResult) -> Self {
        Self::needs(name, Needs::Wording, run)
    }

    /// Spec-required behaviour runc 1.1 was measured to lack (`spec`: the spec's words).
    pub fn runc11_lacks(
        name: &'static str,
        spec: &'static str,
        run: fn(&mut Ctx) -> CaseResult,
    ) -> Self {
        let lacking = RUNC_1_1;
        Self::needs(name, Needs::Behaviour { spec, lacking }, run)
    }
}

const USAGE: &str = "usage: corral-conformance --runtime PATH [--filter SUBSTRING]... \
                     [--skip SUBSTRING]... [--list] [--systemd-cgroup]";

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
    let mut global = vec![];
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or(format!("{a} needs a value\n{USAGE}"));
        match a.as_str() {
            "--runtime" => runtime = Some(PathBuf::from(value()?)),
            "--filter" => filters.push(value()?),
            "--skip" => skips.push(value()?),
            "--list" => list = true,
            "--systemd-cgroup" => global.push(a.clone()),
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
    ctx::set_global_flags(global);
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
    // SAFETY: geteuid cannot fail and touches no memory.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("corral-conformance runs containers: run it as root");
        std::process::exit(2);
    }
    // Orphaned container inits become our children, so we can reap them and see
    // whether any is left.
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    let run_cgroup = runcg::RunCgroup::enter();
    let work = std::env::temp_dir().join(format!("conformance-{}", std::process::id()));
    std::fs::create_dir_all(&work).expect("create work dir");
    let reported = needs::Reported::query(&args.runtime);
    let is_corral = reported.is_corral();
    println!(
        "runtime {} ({})",
        args.runtime.display(),
        if is_corral {
            "corral"
        } else {
            "not corral: cases of corral's own behaviour skipped"
        }
    );
    let (mut passed, mut failed) = (0, 0);
    let mut skips = [0usize; needs::REASONS.len()];
    for case in cases::all() {
        if !args.selects(case.name) {
            continue;
        }
        let no_criu = case.criu.then(needs::criu_fails).flatten();
        let driver = case
            .cgroupfs
            .filter(|_| ctx::systemd_cgroup())
            .map(|why| (needs::CGROUPFS, why.to_string()));
        if let Some((reason, why)) = driver.or_else(|| reported.skip(&case.needs)).or(no_criu) {
            skips[reason] += 1;
            println!("skip {} ({}: {why})", case.name, needs::REASONS[reason]);
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
    if let Some(c) = run_cgroup {
        c.leave();
    }
    let skipped: usize = skips.iter().sum();
    if skipped > 0 {
        let per: Vec<String> = needs::REASONS
            .iter()
            .zip(skips)
            .filter(|(_, n)| *n > 0)
            .map(|(r, n)| format!("{n} {r}"))
            .collect();
        println!("skipped: {}", per.join(", "));
        println!("{passed} passed, {failed} failed, {skipped} skipped");
    } else {
        println!("{passed} passed, {failed} failed");
    }
    std::process::exit(if failed > 0 { 1 } else { 0 });
}
