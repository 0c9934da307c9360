//! CRIU, driven through its command line (`criu dump`, `pre-dump`, `restore`).
//!
//! Why the command line and not `criu swrk` (RPC over a socketpair, protobuf messages,
//! as runc does): the RPC needs CRIU's `rpc.proto` compiled in (a protobuf runtime and
//! the generated messages: size the stripped binary pays for every command), and it
//! gives no better errors: CRIU explains a failure only in its log file either way,
//! which corral reads back (see [`log_errors`]). The version is checked from
//! `criu --version`. What the RPC has and the command line lacks are its notifications
//! (callbacks during restore): corral needs none of them yet, and refuses what would
//! (a terminal's pty master sent to `--console-socket`).

use crate::{Error, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The oldest CRIU this was written and tested against (Debian 12's).
pub const MIN_VERSION: (u32, u32) = (3, 17);

/// `criu` from `$PATH`, checked to be recent enough.
pub fn find() -> Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    let criu = std::env::split_paths(&path)
        .map(|d| d.join("criu"))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            Error::Other(
                "checkpoint/restore needs CRIU: no criu in $PATH (Debian: apt-get install criu)"
                    .into(),
            )
        })?;
    let out = Command::new(&criu)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::io("cannot run", &criu, e))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let version = parse_version(&text).ok_or_else(|| {
        Error::Other(format!(
            "{} --version printed no version ({:?})",
            criu.display(),
            text.trim()
        ))
    })?;
    if version < MIN_VERSION {
        return Err(Error::Other(format!(
            "{} is CRIU {}.{}: corral needs {}.{} or later",
            criu.display(),
            version.0,
            version.1,
            MIN_VERSION.0,
            MIN_VERSION.1
        )));
    }
    Ok(criu)
}

/// Whether a usable CRIU is here: found, recent enough, and its own `criu check` passes
/// on this kernel (for `features`).
pub fn usable() -> bool {
    find().is_ok_and(|criu| {
        Command::new(criu)
            .arg("check")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// `(major, minor)` from `criu --version` ("Version: 3.17.1").
fn parse_version(text: &str) -> Option<(u32, u32)> {
    let v = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Version:"))?
        .trim();
    let mut parts = v.split('.').map(|p| p.parse::<u32>().ok());
    Some((parts.next()??, parts.next().flatten().unwrap_or(0)))
}

/// Runs `criu ARGS` with its log in `work/log_name`; on failure the error is CRIU's own
/// (the `Error` lines of its log).
pub fn run(
    criu: &Path,
    action: &str,
    args: &[String],
    work: &Path,
    log_name: &str,
    before_exec: Option<Box<dyn FnMut() -> std::io::Result<()> + Send + Sync>>,
) -> Result<()> {
    let mut cmd = Command::new(criu);
    cmd.arg(action)
        .args(["-v4", "-o", log_name, "-W"])
        .arg(work)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(f) = before_exec {
        // SAFETY: the closure only writes to cgroup files (no allocation-sensitive
        // state is shared with other threads: corral has none).
        unsafe { std::os::unix::process::CommandExt::pre_exec(&mut cmd, f) };
    }
    let out = cmd.output().map_err(|e| Error::io("cannot run", criu, e))?;
    if out.status.success() {
        return Ok(());
    }
    let log = work.join(log_name);
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let mut why = log_errors(&text);
    if why.is_empty() {
        why = String::from_utf8_lossy(&out.stderr).trim().to_string();
    }
    Err(Error::Other(format!(
        "criu {action} failed ({}): {why} (CRIU's log: {})",
        out.status,
        log.display()
    )))
}

/// CRIU's `Error (file:line): message` lines, messages only, joined; the last few.
fn log_errors(text: &str) -> String {
    let errors: Vec<&str> = text
        .lines()
        .filter_map(|l| {
            let rest = l.split_once("Error (")?.1;
            Some(rest.split_once("): ").map_or(rest, |(_, m)| m).trim())
        })
        .collect();
    let tail = &errors[errors.len().saturating_sub(3)..];
    tail.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(parse_version("Version: 3.17.1\n"), Some((3, 17)));
        assert_eq!(
            parse_version("Version: 3.19\nGitID: v3.19\n"),
            Some((3, 19))
        );
        assert_eq!(parse_version("criu 4\n"), None);
    }

    #[test]
    fn errors_from_the_log() {
        let log = "(00.001) Warn  (criu/x.c:1): meh\n\
                   (00.002) Error (criu/cr-restore.c:1234): Can't open images dir: No such file\n\
                   (00.003) Error (criu/crtools.c:260): Could not restore\n";
        assert_eq!(
            log_errors(log),
            "Can't open images dir: No such file; Could not restore"
        );
        assert_eq!(log_errors("nothing\n"), "");
    }
}
