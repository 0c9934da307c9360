//! The man pages in man/ are generated from the CLI definition; this test fails when
//! they are stale. Regenerate with `CORRAL_UPDATE_MAN=1 cargo test --test man`.

use clap::CommandFactory;
use std::path::Path;

fn render(cmd: clap::Command) -> Vec<u8> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd)
        .section("8")
        .manual("corral manual")
        .render(&mut buf)
        .expect("render man page");
    buf
}

/// (file name, contents) for corral(8) and one page per command.
fn pages() -> Vec<(String, Vec<u8>)> {
    let mut cmd = corral_cli::cli::Cli::command().version(env!("CARGO_PKG_VERSION"));
    cmd.build();
    let mut out = vec![("corral.8".to_string(), render(cmd.clone()))];
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let name = format!("corral-{}", sub.get_name());
        // clap wants a 'static name without its "string" feature; a test may leak it.
        let page = sub
            .clone()
            .name(&*Box::leak(name.clone().into_boxed_str()))
            .version(env!("CARGO_PKG_VERSION"));
        out.push((format!("{name}.8"), render(page)));
    }
    out
}

#[test]
fn man_pages_are_current() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    let update = std::env::var_os("CORRAL_UPDATE_MAN").is_some();
    let pages = pages();
    let mut stale = vec![];
    for (name, text) in &pages {
        let path = dir.join(name);
        if update {
            std::fs::write(&path, text).unwrap();
        } else if std::fs::read(&path).ok().as_ref() != Some(text) {
            stale.push(name.clone());
        }
    }
    for entry in std::fs::read_dir(&dir).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !pages.iter().any(|(n, _)| *n == name) {
            if update {
                std::fs::remove_file(entry.path()).unwrap();
            } else {
                stale.push(format!("{name} (no such command)"));
            }
        }
    }
    assert!(
        stale.is_empty(),
        "stale man pages {stale:?}: run CORRAL_UPDATE_MAN=1 cargo test --test man"
    );
}

#[test]
fn every_command_has_a_page() {
    let names: Vec<String> = pages().into_iter().map(|(n, _)| n).collect();
    for cmd in [
        "create", "start", "run", "exec", "state", "kill", "delete", "list", "spec", "features",
        "pause", "resume", "events", "update", "ps",
    ] {
        assert!(
            names.contains(&format!("corral-{cmd}.8")),
            "no page for {cmd}"
        );
    }
}
