//! `corral --version` read by the parsers of the tools that call runtimes: moby's
//! (dockerd's `parseRuntimeVersion`, for `docker info`) and go-runc's (containerd's
//! `Runc.Version`). Their logic is rewritten here in Rust, step for step; each is also
//! run on runc's own output, which it must read, so the reproduction is checked too.

use std::process::Command;

/// runc 1.1.5's `--version`, as Debian 12 prints it.
const RUNC: &str = "runc version 1.1.5+ds1\ncommit: 1.1.5+ds1-1+deb12u1\nspec: 1.0.2-dev\ngo: go1.19.8\nlibseccomp: 2.5.4\n";

#[derive(Debug, PartialEq)]
struct Parsed {
    runtime: String,
    version: String,
    commit: String,
}

/// moby daemon/info_unix.go `parseRuntimeVersion`: over the trimmed lines, one that
/// contains "version" gives the runtime (what is before it) and the version (what
/// follows its last occurrence); one that starts with "commit:" gives the commit.
/// An error when neither version nor commit was found.
fn moby(v: &str) -> Result<Parsed, String> {
    let (mut runtime, mut version, mut commit) = (String::new(), String::new(), String::new());
    for line in v.trim().split('\n') {
        if line.contains("version") {
            let s: Vec<&str> = line.split("version").collect();
            runtime = s[0].trim().to_string();
            version = s[s.len() - 1].trim().to_string();
            continue;
        }
        if let Some(c) = line.strip_prefix("commit:") {
            commit = c.trim().to_string();
        }
    }
    if version.is_empty() && commit.is_empty() {
        return Err(format!("unknown output format: {v}"));
    }
    Ok(Parsed {
        runtime,
        version,
        commit,
    })
}

/// go-runc runc.go `parseVersion` (v1.1): the trimmed output split on "\n"; a first
/// line that does not start with "runc version " gives an empty Version and no error;
/// otherwise the rest of that line is the version, and lines starting "commit: " and
/// "spec: " give the commit and the spec.
fn go_runc(data: &str) -> Result<(String, String, String), String> {
    let (mut runc, mut commit, mut spec) = (String::new(), String::new(), String::new());
    let parts: Vec<&str> = data.trim().split('\n').collect();
    if let Some(first) = parts.first() {
        let Some(v) = first.strip_prefix("runc version ") else {
            return Ok((runc, commit, spec));
        };
        runc = v.to_string();
        for part in &parts[1..] {
            if let Some(c) = part.strip_prefix("commit: ") {
                commit = c.to_string();
            } else if let Some(s) = part.strip_prefix("spec: ") {
                spec = s.to_string();
            }
        }
    }
    Ok((runc, commit, spec))
}

fn corral_version() -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_corral"))
        .arg("--version")
        .output()
        .expect("run corral");
    assert!(o.status.success());
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn the_reproduced_parsers_read_runc() {
    let p = moby(RUNC).unwrap();
    assert_eq!(
        (p.runtime.as_str(), p.version.as_str()),
        ("runc", "1.1.5+ds1")
    );
    assert_eq!(p.commit, "1.1.5+ds1-1+deb12u1");
    let (v, c, s) = go_runc(RUNC).unwrap();
    assert_eq!(
        (v.as_str(), c.as_str(), s.as_str()),
        ("1.1.5+ds1", "1.1.5+ds1-1+deb12u1", "1.0.2-dev")
    );
    assert!(moby("something else").is_err());
}

#[test]
fn moby_reads_corrals_name_version_and_commit() {
    let out = corral_version();
    let p = moby(&out).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.runtime, "corral");
    assert_eq!(p.version, env!("CARGO_PKG_VERSION"));
    let commit = out
        .lines()
        .nth(1)
        .unwrap()
        .strip_prefix("commit: ")
        .unwrap();
    assert_eq!(p.commit, commit);
    assert!(!p.commit.is_empty());
}

/// go-runc reads the fields of a runtime that calls itself runc only: for corral (as
/// for crun and youki) it returns an empty Version and no error, so containerd goes on.
/// What matters is that corral's output does not make it fail.
#[test]
fn go_runc_accepts_corrals_output() {
    let out = corral_version();
    assert_eq!(
        go_runc(&out),
        Ok((String::new(), String::new(), String::new()))
    );
    // Were corral to call itself runc, the same lines would give every field.
    let as_runc = out.replacen("corral version", "runc version", 1);
    let (v, c, s) = go_runc(&as_runc).unwrap();
    assert_eq!(
        (v.as_str(), s.as_str()),
        (env!("CARGO_PKG_VERSION"), "1.3.0")
    );
    assert!(!c.is_empty());
}
