//! scripts/install.sh into a DESTDIR with a PREFIX, as a package build runs it: the
//! binary, every man page and the three completion scripts land where distributions
//! put them, and bash loads the completion.

use std::path::Path;
use std::process::Command;

#[test]
fn install_puts_binary_man_pages_and_completions_under_destdir_and_prefix() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dest = std::env::temp_dir().join(format!("corral-install-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dest);
    let o = Command::new("bash")
        .arg(repo.join("scripts/install.sh"))
        .env("DESTDIR", &dest)
        .env("PREFIX", "/usr")
        .env("CORRAL_BIN", env!("CARGO_BIN_EXE_corral"))
        .output()
        .expect("run scripts/install.sh");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let usr = dest.join("usr");
    let bin = usr.join("sbin/corral");
    let v = Command::new(&bin).arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&v.stdout).starts_with("corral version "));
    for page in std::fs::read_dir(repo.join("man")).unwrap().flatten() {
        let installed = usr.join("share/man/man8").join(page.file_name());
        assert_eq!(
            std::fs::read(&installed).ok(),
            std::fs::read(page.path()).ok(),
            "{installed:?}"
        );
    }
    for (path, says) in [
        (
            "share/bash-completion/completions/corral",
            "complete -F _corral",
        ),
        ("share/zsh/site-functions/_corral", "#compdef corral"),
        (
            "share/fish/vendor_completions.d/corral.fish",
            "complete -c corral",
        ),
    ] {
        let text =
            std::fs::read_to_string(usr.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert!(text.contains(says), "{path}");
    }
    // bash sources it and completes the commands and a command's flags.
    let script = format!(
        ". {}; COMP_WORDS=(corral cr); COMP_CWORD=1; _corral corral cr corral; echo \"${{COMPREPLY[*]}}\"; \
         COMP_WORDS=(corral create --pid); COMP_CWORD=2; _corral corral --pid create; echo \"${{COMPREPLY[*]}}\"",
        usr.join("share/bash-completion/completions/corral").display()
    );
    let o = Command::new("bash").args(["-c", &script]).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.first(), Some(&"create"), "{out}");
    assert!(
        lines
            .get(1)
            .is_some_and(|l| l.contains("--pid-file") && l.contains("--pidfd-socket")),
        "{out}"
    );
    std::fs::remove_dir_all(&dest).unwrap();
}
