//! completions/ (what `corral completion SHELL` prints and scripts/install.sh installs)
//! is generated from the CLI definition by clap_complete; this test fails when it is
//! stale. Regenerate with `CORRAL_UPDATE_COMPLETIONS=1 cargo test --test completion`.

use clap::CommandFactory;
use clap_complete::Shell;
use std::path::Path;
use std::process::Command;

const SCRIPTS: [(Shell, &str, &str); 3] = [
    (Shell::Bash, "bash", "corral.bash"),
    (Shell::Zsh, "zsh", "_corral"),
    (Shell::Fish, "fish", "corral.fish"),
];

#[test]
fn completions_are_current_and_printed_by_corral() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("completions");
    let update = std::env::var_os("CORRAL_UPDATE_COMPLETIONS").is_some();
    for (shell, name, file) in SCRIPTS {
        let mut text = Vec::new();
        let mut cmd = corral_cli::cli::Cli::command();
        clap_complete::generate(shell, &mut cmd, "corral", &mut text);
        let path = dir.join(file);
        if update {
            std::fs::write(&path, &text).unwrap();
            continue;
        }
        assert!(
            std::fs::read(&path).ok() == Some(text.clone()),
            "{file} is stale: run CORRAL_UPDATE_COMPLETIONS=1 cargo test --test completion"
        );
        let o = Command::new(env!("CARGO_BIN_EXE_corral"))
            .args(["completion", name])
            .output()
            .unwrap();
        assert!(
            o.status.success() && o.stdout == text,
            "corral completion {name}"
        );
    }
}

#[test]
fn completion_refuses_other_shells() {
    let o = Command::new(env!("CARGO_BIN_EXE_corral"))
        .args(["completion", "powershell"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}
