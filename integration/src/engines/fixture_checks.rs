//! The checks of the invocation fixture (see invocations.rs), after the flows.

use crate::args::{Args, CgroupManager};
use crate::clihelp;
use crate::runner::Tally;
use crate::{ensure, CaseResult};
use std::time::{Duration, Instant};

/// The runtime's command line takes every fixture form of the selected engines.
fn invocations_supported(args: &Args) -> CaseResult {
    let mut surface = clihelp::Surface::new(args.runtime.clone());
    let mut bad = vec![];
    let fixture = crate::invocations::fixture();
    ensure!(!fixture.is_empty(), "the fixture holds no invocation");
    for form in &fixture {
        let (engine, words) = crate::invocations::parse(form);
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
    let fixture = crate::invocations::fixture();
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
pub fn run_fixture_checks(args: &Args, t: &mut Tally) {
    let ran_flows = !t.forms.is_empty();
    if args.selects_check("invocations_supported") {
        let start = Instant::now();
        t.report(
            "invocations_supported",
            invocations_supported(args),
            start.elapsed(),
        );
    }
    // The fixture is a reference run's of the default engines with their cgroupfs
    // drivers: another configuration makes other forms (`--systemd-cgroup`).
    let default_run = args.cgroup_manager == CgroupManager::Cgroupfs
        && !args.engines.iter().any(|e| e == "podman-rootless");
    if ran_flows
        && default_run
        && args.record.is_none()
        && args.selects_check("invocations_in_fixture")
    {
        let r = invocations_in_fixture(t);
        t.report("invocations_in_fixture", r, Duration::ZERO);
    }
    if let Some(path) = &args.record {
        match crate::invocations::record(path, &t.forms) {
            Ok(()) => println!("recorded {} forms in {}", t.forms.len(), path.display()),
            Err(e) => t.report(
                "record",
                Err(format!("{}: {e}", path.display())),
                Duration::ZERO,
            ),
        }
    }
}
