//! Phase timings for `--debug`: where a `create`, `run` or `exec` spends its time.
//!
//! Each process keeps one timeline: [`mark`] ends the phase named there at the current
//! CLOCK_MONOTONIC time, so the phases of a process add up to its whole. The container
//! init (a forked copy) starts its own timeline at the parent's last mark before the
//! clone and sends its phases to the parent (`ChildMsg::Trace`, just before `Ready`),
//! which logs them after its own, each line `phase NAME MS ms` (`(init)` added for the
//! init's). Off unless [`enable`] was called: then [`mark`] is one atomic load.
//!
//! [`step`] records what a step did (a namespace made, a mount, a hook run, …) with its
//! time since [`enable`], on CLOCK_REALTIME: the init may be in a time namespace of its
//! own, whose monotonic clock is offset, and its steps are merged with the parent's by
//! that time. The init sends its steps with its phases (on failure too, before the
//! error), so a failed `create` logs the step that failed. Without `--debug` a step is
//! one atomic load: its text is a closure, never formatted.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

static ON: AtomicBool = AtomicBool::new(false);

struct Timeline {
    /// When the last phase ended, in ns of CLOCK_MONOTONIC.
    last: u64,
    phases: Vec<(&'static str, u64)>,
    /// What the init sent: its phases, by name, in ns.
    init: Vec<(String, u64)>,
    /// CLOCK_REALTIME at [`enable`], in ns: steps are timed from it.
    start: u64,
    /// This process's steps: ns since `start`, what was done.
    steps: Vec<(u64, String)>,
    /// The init's (or an exec process's) steps, as it sent them.
    init_steps: Vec<(u64, String)>,
}

static TIMELINE: Mutex<Timeline> = Mutex::new(Timeline {
    last: 0,
    phases: Vec::new(),
    init: Vec::new(),
    start: 0,
    steps: Vec::new(),
    init_steps: Vec::new(),
});

fn realtime() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

fn now() -> u64 {
    // CLOCK_MONOTONIC always exists; its nanoseconds since boot fit a u64 for 584 years.
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .map(|ts| u64::try_from(std::time::Duration::from(ts).as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn timeline() -> std::sync::MutexGuard<'static, Timeline> {
    // corral has one thread: a poisoned lock can only be our own earlier panic.
    TIMELINE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Starts the timeline: the first phase is measured from here.
pub fn enable() {
    {
        let mut tl = timeline();
        tl.last = now();
        tl.start = realtime();
    }
    ON.store(true, Ordering::Relaxed);
    // The cgroup back end says what it writes through the same steps.
    corral_cgroups::set_debug(|s| step(|| s.to_string()));
}

/// Records a step; `text` runs only with `--debug`.
pub fn step(text: impl FnOnce() -> String) {
    if !on() {
        return;
    }
    // One line each: the init's steps travel as lines.
    let text = text().replace('\n', " ");
    let mut tl = timeline();
    let t = realtime().saturating_sub(tl.start);
    tl.steps.push((t, text));
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
        tl.steps.clear();
        tl.init_steps.clear();
    }
}

/// In the init, once `start --debug` has released it: a timeline of its own from now
/// (what it recorded for `create` was sent already), for the startContainer hooks.
pub fn restart_for_start() {
    {
        let mut tl = timeline();
        tl.phases.clear();
        tl.init.clear();
        tl.steps.clear();
        tl.init_steps.clear();
    }
    enable();
}

/// This process's steps for `start` (see [`received_timed`]): the CLOCK_REALTIME its
/// timeline started at, then [`encode`]'s lines; at most `max` bytes, cut at a char
/// boundary.
pub fn encode_timed(max: usize) -> String {
    let start = timeline().start;
    let mut out = format!("{start}\n{}", encode().concat());
    out.truncate(char_floor(&out, max));
    out
}

/// The largest char boundary of `s` at or below `max` (where to cut it to `max` bytes).
pub(crate) fn char_floor(s: &str, max: usize) -> usize {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    end
}

/// Keeps the init's steps that [`encode_timed`] made in another process: its times are
/// moved from its start to ours.
pub fn received_timed(text: &str) {
    let Some((origin, rest)) = text.split_once('\n') else {
        return;
    };
    let origin: u64 = origin.parse().unwrap_or(0);
    let mut tl = timeline();
    let shift = origin.saturating_sub(tl.start);
    for line in rest.split('\n') {
        if let Some((t, step)) = line.split_once('\t') {
            if let Ok(t) = t.parse::<u64>() {
                tl.init_steps.push((t + shift, step.to_string()));
            }
        }
    }
}

/// The most a message of the init channel carries here (its datagrams are read into 64 KiB).
const CHUNK: usize = 60 * 1024;

/// This process's phases and steps, as the init sends them: one or more messages of
/// lines, the first line the phases (`name=ns` separated by spaces), then one
/// `ns<TAB>text` line per step.
pub fn encode() -> Vec<String> {
    let tl = timeline();
    let parts: Vec<String> = tl.phases.iter().map(|(n, d)| format!("{n}={d}")).collect();
    let mut out = vec![parts.join(" ")];
    for (t, text) in &tl.steps {
        let line = format!("\n{t}\t{text}");
        let last = out.last_mut().expect("one message at least");
        if last.len() + line.len() <= CHUNK {
            last.push_str(&line);
        } else {
            // A step longer than a message is cut (at a char boundary).
            out.push(line[..char_floor(&line, CHUNK)].to_string());
        }
    }
    out
}

/// Keeps what the init sent (see [`encode`]), for [`report`].
pub fn received(text: &str) {
    let mut tl = timeline();
    for line in text.split('\n') {
        match line.split_once('\t') {
            Some((t, step)) if t.bytes().all(|b| b.is_ascii_digit()) && !t.is_empty() => {
                let t = t.parse().unwrap_or(0);
                tl.init_steps.push((t, step.to_string()));
            }
            _ => {
                let phases = parse(line);
                tl.init.extend(phases);
            }
        }
    }
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
    let (phases, init, steps, init_steps) = {
        let mut tl = timeline();
        (
            std::mem::take(&mut tl.phases),
            std::mem::take(&mut tl.init),
            std::mem::take(&mut tl.steps),
            std::mem::take(&mut tl.init_steps),
        )
    };
    for line in step_lines(&steps, &init_steps) {
        log(&line);
    }
    if phases.is_empty() && init.is_empty() {
        return;
    }
    for line in lines(&phases, &init) {
        log(&line);
    }
}

/// The steps of both processes in the order they happened: `+MS ms TEXT`, with `init: `
/// before the init's.
fn step_lines(steps: &[(u64, String)], init: &[(u64, String)]) -> Vec<String> {
    let mut all: Vec<(u64, bool, &str)> =
        steps.iter().map(|(t, s)| (*t, false, s.as_str())).collect();
    all.extend(init.iter().map(|(t, s)| (*t, true, s.as_str())));
    // Stable: steps of one process at the same time keep their order.
    all.sort_by_key(|(t, _, _)| *t);
    all.into_iter()
        .map(|(t, init, s)| format!("+{} ms {}{s}", ms(t), if init { "init: " } else { "" }))
        .collect()
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

    #[test]
    fn steps_interleave_by_time() {
        let parent = [
            (1_000_000, "cgroup made".to_string()),
            (5_000_000, "ready".into()),
        ];
        let init = [(2_500_000, "mount proc on /proc".to_string())];
        assert_eq!(
            step_lines(&parent, &init),
            [
                "+1.000 ms cgroup made",
                "+2.500 ms init: mount proc on /proc",
                "+5.000 ms ready",
            ]
        );
    }

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
