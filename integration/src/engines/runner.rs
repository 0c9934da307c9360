//! Running the flows: each engine set up once, its selected flows one by one, each
//! followed by the engine's reset and the leak checks; the tally of results.

use crate::args::{Args, ENGINES};
use crate::systemd::SystemdSnapshot;
use crate::world::World;
use crate::{cmd, containerd, docker, host, image, invocations, podman};
use crate::{CaseResult, Engine};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// What the run found.
#[derive(Default)]
pub struct Tally {
    /// The temporary directory, written `$T` in messages.
    pub dir: String,
    pub passed: usize,
    pub failed: Vec<String>,
    /// Invocation forms of every flow, and of the flows that passed.
    pub forms: BTreeSet<String>,
    pub forms_of_passed: BTreeSet<String>,
}

impl Tally {
    pub fn report(&mut self, name: &str, result: CaseResult, took: Duration) {
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
        let systemd = SystemdSnapshot::take();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (flow.run)(e, w)))
            .unwrap_or_else(|_| Err("panicked".into()));
        let reset = w.cleaning(|w| e.reset(w));
        let leaks = w.flow_leaks(&mounts, systemd.as_ref());
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
            "podman-rootless" => fail_all::<podman::Rootless>(args, t, why),
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
pub fn run_engines(w: &mut World, args: &Args, t: &mut Tally) {
    let later = any::<containerd::Containerd>(args) || any::<docker::Docker>(args);
    if !later && !any::<podman::Podman>(args) && !any::<podman::Rootless>(args) {
        return;
    }
    let made = image::rootfs_tar(&w.dir).and_then(|img| Ok((podman::setup(w, &img)?, img)));
    let (mut pm, img) = match made {
        Ok(x) => x,
        Err(e) => return fail_from("podman", args, t, &format!("setup: {e}")),
    };
    run_flows(&mut pm, w, args, t);
    engine(w, args, t, |w| podman::setup_rootless(w, &img));
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

pub fn list(args: &Args) {
    let mut names: Vec<&str> = vec![];
    names.extend(
        podman::Podman::flows()
            .iter()
            .filter(|f| args.selects("podman", f.name))
            .map(|f| f.name),
    );
    names.extend(
        podman::Rootless::flows()
            .iter()
            .filter(|f| args.selects("podman-rootless", f.name))
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
