//! The commit corral is built from, for `--version` and `features` (as runc prints its
//! own): `git describe --always --long --abbrev=12`, or $CORRAL_COMMIT (a packager
//! building from a tarball sets it), or "unknown".

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !s.is_empty()).then_some(s)
}

fn main() {
    println!("cargo:rerun-if-env-changed=CORRAL_COMMIT");
    // A new commit or checkout changes HEAD or the branch it points to.
    for path in ["HEAD", "packed-refs"] {
        if let Some(p) = git(&["rev-parse", "--git-path", path]) {
            println!("cargo:rerun-if-changed={p}");
        }
    }
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        if let Some(p) = git(&["rev-parse", "--git-path", &branch]) {
            println!("cargo:rerun-if-changed={p}");
        }
    }
    let commit = std::env::var("CORRAL_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| git(&["describe", "--always", "--long", "--abbrev=12"]))
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=CORRAL_COMMIT={commit}");
}
