//! Flags of the command line around the container: `--pid-file`, `run --no-subreaper`,
//! `--log` with `--log-format json` and `--debug` (with its phase timings).

use super::{ensure, field};
use crate::bundle::config;
use crate::ctx::Ctx;
use crate::{Case, CaseResult};
use serde_json::{json, Value};

pub fn cases() -> Vec<Case> {
    vec![
        Case::new("flags_pid_file_is_replaced_whole", pid_file),
        Case::new(
            "flags_pid_file_temporary_symlink_not_followed",
            pid_file_tmp_symlink,
        ),
        Case::new("flags_run_is_subreaper_unless_told", subreaper),
        Case::new("flags_json_log_of_a_failed_create", json_log),
        Case::new("flags_json_log_of_a_failed_start", json_log_start),
        Case::corral(
            "flags_debug_logs_phase_timings",
            "--debug logs the timings of create's phases",
            phases,
        ),
    ]
}

/// The pid file is written beside and renamed over the old one: a reader sees the old
/// file or the whole new one, never a half-written one. The old file (kept here through
/// a second link) is not rewritten, and no temporary file is left.
fn pid_file(cx: &mut Ctx) -> CaseResult {
    let dir = cx.dir.join("pids");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let pf = dir.join("c1.pid");
    std::fs::write(&pf, "stale").map_err(|e| e.to_string())?;
    std::fs::hard_link(&pf, dir.join("old")).map_err(|e| e.to_string())?;
    let b = cx.bundle(&config(&["sleep", "1000"]))?;
    let args = [
        "create",
        "--pid-file",
        &pf.to_string_lossy(),
        "--bundle",
        &b.to_string_lossy(),
        "c1",
    ];
    cx.rt(&args).ok("create")?;
    let pid = cx.state("c1")?["pid"].as_i64().unwrap_or_default();
    let read = |p: &str| std::fs::read_to_string(dir.join(p)).unwrap_or_default();
    ensure!(
        read("c1.pid").trim() == pid.to_string(),
        "pid file {:?}, pid {pid}",
        read("c1.pid")
    );
    ensure!(
        read("old") == "stale",
        "the old pid file was rewritten in place: {:?}",
        read("old")
    );
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map_err(|e| e.to_string())?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    ensure!(
        names == ["c1.pid", "old"],
        "left in the pid file's directory: {names:?}"
    );
    Ok(())
}

/// A symlink left at the pid file's temporary name (`.NAME.tmp`, by whoever can write
/// the directory) must not be followed: the file it points to keeps its content, and
/// the pid file is a regular file holding the pid.
fn pid_file_tmp_symlink(cx: &mut Ctx) -> CaseResult {
    let dir = cx.dir.join("pids-secpaths");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let victim = cx.dir.join("victim-secpaths");
    std::fs::write(&victim, "host data").map_err(|e| e.to_string())?;
    let pf = dir.join("c1.pid");
    // runc's temporary name and corral's.
    for tmp in [".c1.pid", ".c1.pid.tmp"] {
        std::os::unix::fs::symlink(&victim, dir.join(tmp)).map_err(|e| e.to_string())?;
    }
    let b = cx.bundle(&config(&["sleep", "1000"]))?;
    let (pf_s, b_s) = (pf.to_string_lossy(), b.to_string_lossy());
    let o = cx.rt(&[
        "create",
        "--pid-file",
        &pf_s,
        "--bundle",
        &b_s,
        "secpaths-pid",
    ]);
    let now = std::fs::read_to_string(&victim).unwrap_or_default();
    ensure!(now == "host data", "the symlink's target became {now:?}");
    if !cx.is_corral && o.code != 0 {
        // runc 1.1.5 refuses a name taken (O_EXCL), which is safe too; corral removes a
        // stale temporary name first (unlinkat removes a link, not its target).
        return Ok(());
    }
    o.ok("create")?;
    let pid = cx.state("secpaths-pid")?["pid"]
        .as_i64()
        .unwrap_or_default();
    let meta = std::fs::symlink_metadata(&pf).map_err(|e| e.to_string())?;
    let text = std::fs::read_to_string(&pf).unwrap_or_default();
    ensure!(
        meta.is_file() && text.trim() == pid.to_string(),
        "the pid file is {:?} holding {text:?}, pid {pid}",
        meta.file_type()
    );
    Ok(())
}

/// A foreground `run` takes the orphans of a container that shares its pid namespace
/// (it is their subreaper), unless `--no-subreaper`.
fn subreaper(cx: &mut Ctx) -> CaseResult {
    let mut cfg = config(&[
        "sh",
        "-c",
        "(sleep 1000 & echo $! > /tmp/orphan); echo runtime=$PPID; \
         echo orphan_parent=$(sed -n 's/^PPid:\\s*//p' /proc/$(cat /tmp/orphan)/status)",
    ]);
    cfg["linux"]["namespaces"] = json!([{ "type": "ipc" }, { "type": "uts" }, { "type": "mount" }]);
    let b = cx.bundle(&cfg)?;
    let b = b.to_string_lossy();
    let o = cx.rt(&["run", "--bundle", &b, "c1"]);
    o.ok("run")?;
    let (rt, parent) = (
        field(&o.stdout, "runtime"),
        field(&o.stdout, "orphan_parent"),
    );
    ensure!(
        rt.is_some() && rt == parent,
        "run: the orphan's parent is not run: {}",
        o.stdout
    );
    let o = cx.rt(&["run", "--no-subreaper", "--bundle", &b, "c2"]);
    o.ok("run --no-subreaper")?;
    let (rt, parent) = (
        field(&o.stdout, "runtime"),
        field(&o.stdout, "orphan_parent"),
    );
    ensure!(
        rt.is_some() && parent.is_some() && rt != parent,
        "run --no-subreaper: the orphan went to run: {}",
        o.stdout
    );
    Ok(())
}

/// `--log FILE --log-format json`: one JSON object per line, as containerd's go-runc
/// reads them; a failed `create` ends the file with its error; `--debug` adds debug lines.
fn json_log(cx: &mut Ctx) -> CaseResult {
    let log = cx.dir.join("log.json");
    let b = cx.bundle(&config(&["/nonexistent-program"]))?;
    let o = cx.rt(&[
        "--log",
        &log.to_string_lossy(),
        "--log-format",
        "json",
        "--debug",
        "create",
        "--bundle",
        &b.to_string_lossy(),
        "c1",
    ]);
    o.failed("create of a missing program")?;
    let text = std::fs::read_to_string(&log).map_err(|e| format!("{log:?}: {e}"))?;
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).map_err(|e| format!("log line {l:?}: {e}")))
        .collect::<Result<_, _>>()?;
    let last = lines.last().ok_or("empty log")?;
    ensure!(last["level"] == "error", "last line {last}");
    ensure!(
        last["msg"]
            .as_str()
            .is_some_and(|m| m.contains("nonexistent-program")),
        "the error does not name the program: {last}"
    );
    ensure!(
        rfc3339(last["time"].as_str().unwrap_or_default()),
        "time of {last}"
    );
    ensure!(
        lines.iter().any(|l| l["level"] == "debug"),
        "no debug line with --debug: {text}"
    );
    Ok(())
}

/// A failed `start` (of a container already running) ends the JSON log with its error.
fn json_log_start(cx: &mut Ctx) -> CaseResult {
    let b = cx.bundle(&config(&["sleep", "30"]))?;
    cx.rt(&["create", "--bundle", &b.to_string_lossy(), "c1"])
        .ok("create")?;
    cx.rt(&["start", "c1"]).ok("start")?;
    let log = cx.dir.join("start.json");
    let l = log.to_string_lossy().into_owned();
    cx.rt(&["--log", &l, "--log-format", "json", "start", "c1"])
        .failed("second start")?;
    let text = std::fs::read_to_string(&log).map_err(|e| format!("{log:?}: {e}"))?;
    let last: Value = text
        .lines()
        .last()
        .map(serde_json::from_str)
        .ok_or("empty log")?
        .map_err(|e| format!("last log line: {e}: {text}"))?;
    ensure!(last["level"] == "error", "last line {last}");
    ensure!(
        last["msg"].as_str().is_some_and(|m| m.contains("running")),
        "the error does not say the container runs: {last}"
    );
    ensure!(
        rfc3339(last["time"].as_str().unwrap_or_default()),
        "time of {last}"
    );
    Ok(())
}

/// `YYYY-MM-DDTHH:MM:SS`, then optional fraction, then `Z` or an offset.
fn rfc3339(t: &str) -> bool {
    let b = t.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
    b.len() >= 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && (t.ends_with('Z') || t[19..].contains(['+', '-']))
}

/// `--debug` logs where a `run` spent its time: one `phase NAME MS ms` line per phase of
/// corral's own, then the container init's (marked `(init)`, sent over from it), then
/// the total; without `--debug`, none.
fn phases(cx: &mut Ctx) -> CaseResult {
    let b = cx.bundle(&config(&["true"]))?;
    let b = b.to_string_lossy();
    let log = cx.dir.join("debug.log");
    let l = log.to_string_lossy();
    cx.rt(&["--log", &l, "--debug", "run", "--bundle", &b, "c1"])
        .ok("run --debug")?;
    let text = std::fs::read_to_string(&log).map_err(|e| format!("{log:?}: {e}"))?;
    let mut seen = vec![];
    for line in text.lines().filter(|l| l.contains("msg=\"phase")) {
        let msg = line.split("msg=\"").nth(1).unwrap_or_default();
        let words: Vec<&str> = msg.trim_end_matches('"').split(' ').collect();
        let ms = match words[..] {
            ["phase", name, ms, "ms"] => (name.to_string(), ms),
            ["phase", name, ms, "ms", "(init)"] => (format!("init {name}"), ms),
            ["phases", "total", ms, "ms"] => ("total".to_string(), ms),
            _ => return Err(format!("phase line of another form: {line}")),
        };
        ensure!(ms.1.parse::<f64>().is_ok(), "not a number of ms: {line}");
        seen.push(ms.0);
    }
    for want in [
        "parse",
        "validate",
        "state",
        "cgroup",
        "clone",
        "init",
        "exec",
        "delete",
        "init clone",
        "init mounts",
        "init devices",
        "init pivot",
        "init masks",
        "init seccomp",
        "total",
    ] {
        ensure!(
            seen.iter().any(|s| s == want),
            "no phase {want:?} in the --debug log: {seen:?}"
        );
    }
    ensure!(
        seen.last().is_some_and(|s| s == "total"),
        "the total is not last: {seen:?}"
    );
    let quiet = cx.dir.join("quiet.log");
    cx.rt(&[
        "--log",
        &quiet.to_string_lossy(),
        "run",
        "--bundle",
        &b,
        "c2",
    ])
    .ok("run without --debug")?;
    let text = std::fs::read_to_string(&quiet).unwrap_or_default();
    ensure!(
        !text.contains("phase"),
        "phases logged without --debug: {text}"
    );
    Ok(())
}
