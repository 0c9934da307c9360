//! Phase timings for `--debug`: where a `create`, `run` or `exec` spends its time.
//!
//! Each process keeps one timeline: [`mark`] ends the phase named there at the current
//! CLOCK_MONOTONIC time, so the phases of a process add up to its whole. The container
//! init (a forked copy) starts its own timeline at the parent's last mark before the
//! clone and sends its phases to the parent (`ChildMsg::Trace`, just before `Ready`),
//! which logs them after its own, each line `phase NAME MS ms` (`(init)` added for the
//! init's). Off unless [`enable`] was called: then [`mark`] is one atomic load.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

static ON: AtomicBool = AtomicBool::new(false);

struct Timeline {
    /// When the last phase ended, in ns of CLOCK_MONOTONIC.
    last: u64,
    phases: Vec<(&'static str, u64)>,
    /// What the init sent: its phases, by name, in ns.
    init: Vec<(String, u64)>,
}

static TIMELINE: Mutex<Timeline> = Mutex::new(Timeline {
    last: 0,
    phases: Vec::new(),
    init: Vec::new(),
});

fn now() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid timespec to write to; CLOCK_MONOTONIC always exists.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn timeline() -> std::sync::MutexGuard<'static, Timeline> {
    // corral has one thread: a poisoned lock can only be our own earlier panic.
    TIMELINE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Starts the timeline: the first phase is measured from here.
pub fn enable() {
    timeline().last = now();
    ON.store(true, Ordering::Relaxed);
}

pub fn on() -> bool {
    ON.load(Ordering::Relaxed)
}

/// Ends the phase `name` now.
pub fn mark(name: &'static str) {
    if !on() {
        return;
    }
    let t = now();
    let mut tl = timeline();
    let d = t.saturating_sub(tl.last);
    tl.phases.push((name, d));
    tl.last = t;
}

/// In the forked init: forget the parent's phases; the next one starts at the parent's
/// last mark (just before the clone).
pub fn restart_in_child() {
    if on() {
        let mut tl = timeline();
        tl.phases.clear();
        tl.init.clear();
    }
}

/// This process's phases, as the init sends them: `name=ns` separated by spaces.
pub fn encode() -> String {
    let tl = timeline();
    let parts: Vec<String> = tl.phases.iter().map(|(n, d)| format!("{n}={d}")).collect();
    parts.join(" ")
}

/// Keeps what the init sent (see [`encode`]), for [`report`].
pub fn received(text: &str) {
    timeline().init.extend(parse(text));
}

/// The phases in `text` (see [`encode`]); what is not `name=ns` is skipped.
fn parse(text: &str) -> Vec<(String, u64)> {
    text.split(' ')
        .filter_map(|p| p.split_once('='))
        .filter_map(|(n, d)| Some((n.to_string(), d.parse().ok()?)))
        .collect()
}

fn ms(ns: u64) -> String {
    format!("{:.3}", ns as f64 / 1e6)
}

/// Logs every phase, the init's after the parent's, then the total, and clears them.
/// Nothing when no phase ended (commands that start no process, or failed first).
pub fn report(log: &dyn Fn(&str)) {
    if !on() {
        return;
    }
    let (phases, init) = {
        let mut tl = timeline();
        (std::mem::take(&mut tl.phases), std::mem::take(&mut tl.init))
    };
    if phases.is_empty() && init.is_empty() {
        return;
    }
    for line in lines(&phases, &init) {
        log(&line);
    }
}

/// The log lines for these phases: `phase NAME MS ms`, `(init)` after the init's, and
/// the total of the parent's (the init's overlap them).
fn lines(phases: &[(&str, u64)], init: &[(String, u64)]) -> Vec<String> {
    let mut out: Vec<String> = phases
        .iter()
        .map(|(n, d)| format!("phase {n} {} ms", ms(*d)))
        .collect();
    out.extend(
        init.iter()
            .map(|(n, d)| format!("phase {n} {} ms (init)", ms(*d))),
    );
    let total: u64 = phases.iter().map(|(_, d)| d).sum();
    out.push(format!("phases total {} ms", ms(total)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // Pure functions only: the timeline is global, and other tests mark phases too.
    #[test]
    fn the_init_s_phases_come_after_and_the_total_is_the_parent_s() {
        let init = parse("mounts=1500000 pivot=20000 junk x=y");
        assert_eq!(
            init,
            [("mounts".into(), 1_500_000), ("pivot".into(), 20_000)]
        );
        let lines = lines(&[("parse", 250_000), ("validate", 1_000_000)], &init);
        assert_eq!(
            lines,
            [
                "phase parse 0.250 ms",
                "phase validate 1.000 ms",
                "phase mounts 1.500 ms (init)",
                "phase pivot 0.020 ms (init)",
                "phases total 1.250 ms",
            ]
        );
    }
}
