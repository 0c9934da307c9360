//! corral-corpus: replays the corpus of real configs (integration/corpus/*.json, captured by
//! scripts/capture-corpus.sh from podman, containerd's ctr, Docker and the `spec` commands)
//! against the runtime under test, and with `--reference PATH` (runc) against that too.
//!
//! Each replay gets a fresh bundle with a busybox rootfs, its own container id, its own
//! `--root` and an absolute `linux.cgroupsPath` of its own (the engine's is replaced), and
//! runs PROBE with `run`. A replay either runs (exit 0, PROBE's output ending in
//! corpus-ok) or is refused (non-zero exit with an error on stderr); either way it must
//! leave nothing behind: no state under its root, no cgroup, no mount, no process. With a
//! reference, a config that one runtime runs and the other refuses, or where the container
//! saw something else, is a difference: it fails unless the known-differences file lists it
//! (`NAME  REASON`; `mount PATH  REASON` leaves that mount's line out of every comparison;
//! `#` comments).
//!
//! Placeholders in the corpus: `@BUNDLE@` (the bundle directory; a mount source
//! `@BUNDLE@/files/file-X` or `dir-X` is made as an empty file or directory) and
//! `@NS:TYPE@` (a namespace path: a holder process's net, ipc, uts, pid, cgroup
//! namespace, the host's for the others), `@HOSTNS:network@` (the host's network
//! namespace, as Docker's --network host names it).

#[path = "../procs.rs"]
mod procs;

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const USAGE: &str = "usage: corral-corpus --runtime PATH [--reference PATH] [--corpus DIR] \
                     [--known FILE] [--filter SUBSTRING]...";
const MARK: &str = "corpus-ok";
/// What the container prints: the settings a config decides, for comparing runtimes.
const PROBE: &str = "id; grep -E '^(Cap|NoNewPrivs|Seccomp:)' /proc/self/status; \
                     cat /proc/self/limits; hostname; touch /corpus-rw 2>/dev/null && echo rw; \
                     awk '{for (i = 7; $i != \"-\"; i++); print $5, $6, $(i + 1)}' /proc/self/mountinfo \
                     | sort; \
                     cd /sys/fs/cgroup 2>/dev/null && grep -H . memory/memory.limit_in_bytes \
                     memory/memory.soft_limit_in_bytes pids/pids.max cpu/cpu.cfs_quota_us \
                     cpu/cpu.shares cpuset/cpuset.cpus 2>/dev/null; \
                     echo corpus-ok";
const TIMEOUT: Duration = Duration::from_secs(30);

struct Args {
    runtime: PathBuf,
    reference: Option<PathBuf>,
    corpus: PathBuf,
    known: Option<PathBuf>,
    filters: Vec<String>,
}

fn parse_args() -> Result<Args, String> {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let mut a = Args {
        runtime: PathBuf::new(),
        reference: None,
        known: None,
        corpus,
        filters: vec![],
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or(format!("{arg} needs a value\n{USAGE}"));
        match arg.as_str() {
            "--runtime" => a.runtime = PathBuf::from(value()?),
            "--reference" => a.reference = Some(PathBuf::from(value()?)),
            "--corpus" => a.corpus = PathBuf::from(value()?),
            "--known" => a.known = Some(PathBuf::from(value()?)),
            "--filter" => a.filters.push(value()?),
            _ => return Err(format!("unknown argument {arg:?}\n{USAGE}")),
        }
    }
    if a.runtime.as_os_str().is_empty() {
        return Err(format!("--runtime is required\n{USAGE}"));
    }
    a.runtime = absolute(&a.runtime)?;
    if let Some(r) = &a.reference {
        a.reference = Some(absolute(r)?);
    }
    if a.known.is_none() {
        a.known = Some(a.corpus.join("known-differences"));
    }
    Ok(a)
}

fn absolute(p: &Path) -> Result<PathBuf, String> {
    std::fs::canonicalize(p).map_err(|e| format!("{}: {e}", p.display()))
}

/// What one replay did.
#[derive(Clone, PartialEq)]
enum Outcome {
    /// It ran: what the container saw (the PROBE's output).
    Ran(String),
    Refused(String),
}

impl Outcome {
    fn show(&self) -> String {
        match self {
            Outcome::Ran(_) => "ran".into(),
            Outcome::Refused(e) => format!("refused: {e}"),
        }
    }
}

/// A process whose namespaces the configs that join one by path join.
struct Holder {
    unshare: std::process::Child,
    pid: i32,
}

impl Holder {
    fn start() -> Result<Holder, String> {
        let mut unshare = Command::new("unshare")
            .args([
                "--net", "--ipc", "--uts", "--pid", "--cgroup", "--fork", "sleep", "3600",
            ])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("unshare: {e}"))?;
        let parent = unshare.id() as i32;
        let start = Instant::now();
        loop {
            let kids = std::fs::read_to_string(format!("/proc/{parent}/task/{parent}/children"))
                .unwrap_or_default();
            if let Some(pid) = kids.split_whitespace().find_map(|p| p.parse().ok()) {
                let ns = |p: i32| std::fs::read_link(format!("/proc/{p}/ns/pid")).ok();
                if ns(pid) != ns(std::process::id() as i32) {
                    return Ok(Holder { unshare, pid });
                }
            }
            if start.elapsed() > Duration::from_secs(10) {
                let _ = unshare.kill();
                let _ = unshare.wait();
                return Err("the namespace holder (unshare … sleep) did not start".into());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn ns_path(&self, kind: &str) -> String {
        let file = match kind {
            "network" => "net",
            "mount" => "mnt",
            k => k,
        };
        let pid = match file {
            "net" | "ipc" | "uts" | "pid" | "cgroup" => self.pid,
            _ => std::process::id() as i32,
        };
        format!("/proc/{pid}/ns/{file}")
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        // SAFETY: kill by the pid of our own grandchild (the holder's sleep).
        unsafe { libc::kill(self.pid, libc::SIGKILL) };
        let _ = self.unshare.wait();
    }
}

struct Replayer {
    dir: PathBuf,
    holder: Holder,
}

impl Replayer {
    /// Replays config `name` (text `text`) with `runtime`, tagged `tag`: the outcome, and
    /// what it left behind.
    fn replay(
        &self,
        runtime: &Path,
        tag: &str,
        name: &str,
        text: &str,
    ) -> Result<(Outcome, Vec<String>), String> {
        let bundle = self.dir.join(tag).join(name);
        let tag_dir = self.dir.join(tag);
        let root = tag_dir.join("state");
        std::fs::create_dir_all(&root).map_err(|e| format!("{}: {e}", root.display()))?;
        make_rootfs(&bundle.join("rootfs"))
            .map_err(|e| format!("busybox rootfs in {}: {e}", bundle.display()))?;
        let cgroup = format!("/corral-corpus-{}/{tag}-{name}", std::process::id());
        let config = self.config(text, &bundle, &cgroup)?;
        let file = bundle.join("config.json");
        std::fs::write(
            &file,
            serde_json::to_string_pretty(&config).unwrap_or_default(),
        )
        .map_err(|e| format!("{}: {e}", file.display()))?;
        let id = format!("corpus-{tag}-{name}");
        let rt = |args: &[&str]| {
            let mut c = Command::new(runtime);
            c.arg("--root").arg(&root).args(args).current_dir(&bundle);
            c
        };
        let bundle_s = bundle.to_string_lossy().into_owned();
        let (code, out, err) = run(rt(&["run", "--bundle", &bundle_s, &id]), &tag_dir)?;
        let outcome = if code == 0 && out.contains(MARK) {
            Outcome::Ran(out)
        } else if code == 0 {
            Outcome::Refused(format!("exit 0 without printing {MARK:?}: {out:?} {err:?}"))
        } else {
            let line = err
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("");
            if line.is_empty() {
                Outcome::Refused(format!("exit {code} with nothing on stderr"))
            } else {
                Outcome::Refused(format!("exit {code}: {}", line.trim()))
            }
        };
        let mut leaks = vec![];
        if matches!(&outcome, Outcome::Refused(e) if e.contains("panicked")) {
            leaks.push("the runtime panicked".into());
        }
        // What a refused or finished run left: the runtime's own delete first, as an
        // engine would call it; then whatever is still there is a leak.
        let _ = run(rt(&["delete", "--force", &id]), &tag_dir);
        leaks.extend(end_processes(&[self.holder.unshare.id() as i32]));
        // Only mounts below this replay's directory: other sessions on the host mount
        // and unmount their own things meanwhile, and those are none of ours.
        for m in mount_points()
            .into_iter()
            .rev()
            .filter(|m| Path::new(m).starts_with(&tag_dir))
        {
            leaks.push(format!("mount {m}"));
            let _ = nix_umount(&m);
        }
        for d in cgroup_dirs(&cgroup) {
            if d.exists() {
                leaks.push(format!("cgroup {}", d.display()));
                remove_cgroup_tree(&d);
            }
        }
        let left: Vec<String> = std::fs::read_dir(&root)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        if !left.is_empty() {
            leaks.push(format!("state under --root: {left:?}"));
            let _ = std::fs::remove_dir_all(&root);
        }
        if leaks.is_empty() {
            let _ = std::fs::remove_dir_all(&bundle);
        }
        Ok((outcome, leaks))
    }

    /// The corpus config made concrete for `bundle`.
    fn config(&self, text: &str, bundle: &Path, cgroup: &str) -> Result<Value, String> {
        let me = std::process::id();
        let mut text = text
            .replace("@BUNDLE@", &bundle.to_string_lossy())
            .replace("@HOSTNS:network@", &format!("/proc/{me}/ns/net"));
        while let Some(start) = text.find("@NS:") {
            let end = text[start + 4..]
                .find('@')
                .ok_or("an unterminated @NS: placeholder")?;
            let kind = text[start + 4..start + 4 + end].to_string();
            text.replace_range(start..start + 5 + end, &self.holder.ns_path(&kind));
        }
        let mut cfg: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        let files = bundle.join("files");
        for m in cfg["mounts"].as_array().into_iter().flatten() {
            let Some(src) = m["source"].as_str() else {
                continue;
            };
            let Ok(rel) = Path::new(src).strip_prefix(&files) else {
                continue;
            };
            let name = rel.to_string_lossy();
            let made = if name.starts_with("dir-") {
                std::fs::create_dir_all(src)
            } else {
                std::fs::create_dir_all(&files).and_then(|_| std::fs::write(src, ""))
            };
            made.map_err(|e| format!("{src}: {e}"))?;
        }
        cfg["root"]["path"] = "rootfs".into();
        cfg["process"]["terminal"] = false.into();
        cfg["process"]["args"] = serde_json::json!(["/bin/sh", "-c", PROBE]);
        if cfg["linux"].is_object() {
            cfg["linux"]["cgroupsPath"] = cgroup.into();
        }
        Ok(cfg)
    }
}

/// Runs `cmd` with stdin from /dev/null and its output in files under `dir` (not pipes:
/// a process the runtime leaves must not hold the runner up): (exit code, stdout,
/// stderr). Killed after TIMEOUT.
fn run(mut cmd: Command, dir: &Path) -> Result<(i32, String, String), String> {
    use std::os::unix::process::ExitStatusExt;
    let what = format!("{:?}", cmd.get_program());
    let (out, err) = (dir.join("stdout"), dir.join("stderr"));
    let file = |p: &Path| std::fs::File::create(p).map_err(|e| format!("{}: {e}", p.display()));
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(file(&out)?)
        .stderr(file(&err)?)
        .spawn()
        .map_err(|e| format!("{what}: {e}"))?;
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().map_err(|e| format!("{what}: {e}"))? {
            break st;
        }
        if start.elapsed() > TIMEOUT {
            let _ = child.kill();
            break child.wait().map_err(|e| format!("{what}: {e}"))?;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let code = status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    let read =
        |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned();
    Ok((code, read(&out), read(&err)))
}

fn make_rootfs(rootfs: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for d in ["bin", "etc", "proc", "sys", "dev", "root", "tmp"] {
        std::fs::create_dir_all(rootfs.join(d))?;
    }
    std::fs::set_permissions(rootfs.join("tmp"), std::fs::Permissions::from_mode(0o1777))?;
    std::fs::copy("/bin/busybox", rootfs.join("bin/busybox"))?;
    for applet in [
        "sh", "echo", "true", "sleep", "cat", "id", "grep", "hostname", "touch",
    ] {
        std::os::unix::fs::symlink("busybox", rootfs.join("bin").join(applet))?;
    }
    std::fs::write(
        rootfs.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n",
    )?;
    std::fs::write(rootfs.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n")
}

fn mount_points() -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
        .collect()
}

fn nix_umount(path: &str) -> Result<(), String> {
    let c = std::ffi::CString::new(path).map_err(|e| e.to_string())?;
    // SAFETY: umount2 with a NUL-terminated path.
    match unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) } {
        0 => Ok(()),
        _ => Err(std::io::Error::last_os_error().to_string()),
    }
}

/// Where an absolute cgroupsPath lands, in each hierarchy mounted under /sys/fs/cgroup.
fn cgroup_dirs(path: &str) -> Vec<PathBuf> {
    let root = Path::new("/sys/fs/cgroup");
    let rel = path.trim_start_matches('/');
    if root.join("cgroup.controllers").exists() {
        return vec![root.join(rel)];
    }
    std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
        .map(|e| e.path().join(rel))
        .collect()
}

fn remove_cgroup_tree(dir: &Path) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            remove_cgroup_tree(&e.path());
        }
    }
    let _ = std::fs::remove_dir(dir);
}

/// Waits (5 s at most) for our children other than `keep` (orphaned container processes:
/// we are a subreaper) to go; kills and reports those that stay.
fn end_processes(keep: &[i32]) -> Vec<String> {
    let start = Instant::now();
    loop {
        let left = procs::others(keep);
        if left.is_empty() {
            return vec![];
        }
        if start.elapsed() > Duration::from_secs(5) {
            for p in &left {
                // SAFETY: kill by the pid of our own child (a descendant of this run).
                unsafe { libc::kill(*p, libc::SIGKILL) };
            }
            procs::reap_except(keep);
            return left.iter().map(|p| format!("process {p}")).collect();
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The lines of the probe's output that differ between the runtime under test (`a`)
/// and the reference (`b`), as `; test saw [...], reference saw [...]`.
fn saw_differently(a: &str, b: &str) -> String {
    let only = |x: &str, y: &str| -> Vec<String> {
        x.lines()
            .filter(|l| !y.lines().any(|m| m == *l))
            .map(str::to_string)
            .collect()
    };
    format!(
        ": the container saw {:?} under the runtime, {:?} under the reference",
        only(a, b),
        only(b, a)
    )
}

/// The probe's output without the lines of the mounts that the known-differences file
/// lists (`mount PATH REASON`: the mount at PATH differs everywhere, for that reason).
fn compared(out: &str, known: &BTreeMap<String, String>) -> String {
    out.lines()
        .filter(|l| {
            let point = l.split(' ').next().unwrap_or("");
            !known.contains_key(&format!("mount {point}"))
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

/// The known differences: config name → reason, and `mount PATH` → reason.
fn known(path: &Path) -> Result<BTreeMap<String, String>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (key, rest) = match l.strip_prefix("mount ") {
                Some(m) => {
                    let (path, r) = m.trim().split_once(char::is_whitespace).unwrap_or((m, ""));
                    (format!("mount {path}"), r)
                }
                None => l
                    .split_once(char::is_whitespace)
                    .map_or((l.to_string(), ""), |(n, r)| (n.to_string(), r)),
            };
            (key, rest.trim().to_string())
        })
        .collect())
}

fn main() {
    let args = parse_args().unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2);
    });
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("corral-corpus runs containers: run it as root");
        std::process::exit(2);
    }
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    let known = known(args.known.as_deref().unwrap_or(Path::new(""))).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2);
    });
    let mut configs: Vec<PathBuf> = std::fs::read_dir(&args.corpus)
        .unwrap_or_else(|e| {
            eprintln!("{}: {e}", args.corpus.display());
            std::process::exit(2);
        })
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    configs.sort();
    let dir = std::env::temp_dir().join(format!("corral-corpus-{}", std::process::id()));
    let holder = Holder::start().unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2);
    });
    let r = Replayer { dir, holder };
    let (mut passed, mut failed) = (0, vec![]);
    let mut runtimes = vec![("test", args.runtime.clone())];
    if let Some(reference) = &args.reference {
        runtimes.push(("ref", reference.clone()));
    }
    for path in &configs {
        let name = path.file_stem().unwrap_or_default().to_string_lossy();
        if !args.filters.is_empty() && !args.filters.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let mut problems = vec![];
        let mut outcomes = vec![];
        for (tag, rt) in &runtimes {
            match r.replay(rt, tag, &name, &text) {
                Ok((o, leaks)) => {
                    if !leaks.is_empty() {
                        problems.push(format!(
                            "{} left behind: {}",
                            rt.display(),
                            leaks.join(", ")
                        ));
                    }
                    outcomes.push(o);
                }
                Err(e) => {
                    problems.push(format!("replay with {}: {e}", rt.display()));
                    outcomes.push(Outcome::Refused(e));
                }
            }
        }
        let shown: Vec<String> = runtimes
            .iter()
            .zip(&outcomes)
            .map(|((_, rt), o)| {
                let n = rt.file_name().unwrap_or_default().to_string_lossy();
                format!("{n} {}", o.show())
            })
            .collect();
        let (differs, saw) = match outcomes.as_slice() {
            [Outcome::Ran(a), Outcome::Ran(b)] => {
                let (a, b) = (compared(a, &known), compared(b, &known));
                (a != b, saw_differently(&a, &b))
            }
            [a, b] => (
                matches!(a, Outcome::Ran(_)) != matches!(b, Outcome::Ran(_)),
                String::new(),
            ),
            _ => (false, String::new()),
        };
        let reason = known.get(name.as_ref());
        if differs && reason.is_none() {
            problems.push(format!(
                "a difference not in the known-differences file{saw}"
            ));
        }
        if problems.is_empty() {
            passed += 1;
            let note = match (differs, reason) {
                (true, Some(why)) => format!(" (known difference: {why})"),
                (false, Some(_)) if outcomes.len() == 2 => {
                    " (listed as a known difference, but both agree now: remove it)".into()
                }
                _ => String::new(),
            };
            println!("ok   {name}: {}{note}", shown.join("; "));
        } else {
            println!(
                "FAIL {name}: {}\n     {}",
                shown.join("; "),
                problems.join("\n     ")
            );
            failed.push(name.into_owned());
        }
    }
    let Replayer { dir, holder } = r;
    drop(holder);
    procs::reap_except(&[]);
    // Never through a mount (a leaked bind of a host directory): kept, and a failure.
    if mount_points()
        .iter()
        .any(|m| Path::new(m).starts_with(&dir))
    {
        println!(
            "FAIL cleanup: {} kept: something is still mounted below it",
            dir.display()
        );
        failed.push("cleanup".into());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
    for d in cgroup_dirs(&format!("/corral-corpus-{}", std::process::id())) {
        remove_cgroup_tree(&d);
    }
    println!("{passed} passed, {} failed", failed.len());
    std::process::exit(i32::from(!failed.is_empty()));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every committed config parses, has the busybox rootfs, and names nothing of the
    /// host it was captured on: no capture directory, no process's namespace, no
    /// engine's cgroup.
    #[test]
    fn the_corpus_is_neutral() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
        let mut n = 0;
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            if p.extension().is_none_or(|x| x != "json") {
                continue;
            }
            n += 1;
            let text = std::fs::read_to_string(&p).unwrap();
            let cfg: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(cfg["root"]["path"], "rootfs", "{}", p.display());
            for bad in ["/tmp/", "/var/lib/", "libpod_parent", "/proc/1", "/proc/2"] {
                assert!(!text.contains(bad), "{} names {bad:?}", p.display());
            }
            let path = &cfg["linux"]["cgroupsPath"];
            assert!(
                path.is_null() || path == "@CGROUP@",
                "{}: {path}",
                p.display()
            );
        }
        assert!(n >= 29, "{n} configs in {}", dir.display());
    }

    #[test]
    fn known_differences_are_name_and_reason() {
        let f = std::env::temp_dir().join(format!("corral-corpus-known-{}", std::process::id()));
        std::fs::write(
            &f,
            "# a comment\n\nx-one  because of y\nx-two\nmount /a/b  z\n",
        )
        .unwrap();
        let k = known(&f).unwrap();
        std::fs::remove_file(&f).unwrap();
        assert_eq!(k.len(), 3);
        assert_eq!(k["mount /a/b"], "z");
        assert_eq!(
            compared("/a/b ro tmpfs\n/a ro tmpfs\n", &k),
            "/a ro tmpfs\n"
        );
        assert_eq!(k["x-one"], "because of y");
        assert_eq!(k["x-two"], "");
        assert!(known(Path::new("/nonexistent/known")).unwrap().is_empty());
    }

    #[test]
    fn only_the_differing_lines_are_shown() {
        let s = saw_differently("a\nb\nc\n", "a\nB\nc\n");
        assert!(
            s.contains(r#"["b"] under the runtime, ["B"] under the reference"#),
            "{s}"
        );
    }
}
