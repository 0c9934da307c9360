//! The man pages in man/ are generated from the CLI definition plus the sections below
//! (ENVIRONMENT, FILES, EXIT STATUS, EXAMPLES, SEE ALSO); this test fails when they are
//! stale. Regenerate with `CORRAL_UPDATE_MAN=1 cargo test --test man`.

use clap::CommandFactory;
use roff::{bold, italic, roman, Inline, Roff};
use std::path::Path;

/// `corral [GLOBAL OPTIONS]` then, for a command's page, the command, its options with
/// their value names and its arguments.
fn synopsis(top: &clap::Command, sub: Option<&clap::Command>) -> Roff {
    fn options(line: &mut Vec<Inline>, cmd: &clap::Command) {
        for a in cmd
            .get_arguments()
            .filter(|a| !a.is_hide_set() && !a.is_positional())
        {
            let flag = match (a.get_long(), a.get_short()) {
                (Some(l), _) => format!("--{l}"),
                (None, Some(s)) => format!("-{s}"),
                (None, None) => continue,
            };
            if ["--help", "--version"].contains(&flag.as_str()) {
                continue;
            }
            line.push(roman(" ["));
            line.push(bold(flag));
            let takes = a.get_num_args().is_some_and(|n| n.takes_values());
            if let (true, Some(names)) = (takes, a.get_value_names()) {
                let value = names
                    .iter()
                    .map(|n| n.to_string())
                    .collect::<Vec<_>>()
                    .join(" ");
                let optional = a.get_num_args().is_some_and(|n| n.min_values() == 0);
                line.push(roman(if optional { " [" } else { " " }));
                line.push(italic(value));
                if optional {
                    line.push(roman("]"));
                }
            } else if takes {
                line.push(roman(" "));
                line.push(italic(a.get_id().as_str().to_uppercase()));
            }
            line.push(roman("]"));
        }
    }
    let mut line = vec![bold("corral")];
    options(&mut line, top);
    match sub {
        None => {
            line.push(roman(" "));
            line.push(italic("COMMAND"));
            line.push(roman(" ..."));
        }
        Some(sub) => {
            line.push(roman(" "));
            line.push(bold(sub.get_name().to_string()));
            options(&mut line, sub);
            for p in sub.get_positionals().filter(|a| !a.is_hide_set()) {
                let name = p
                    .get_value_names()
                    .and_then(|n| n.first().map(|n| n.to_string()))
                    .unwrap_or_else(|| p.get_id().as_str().to_uppercase());
                let many = p.get_num_args().is_some_and(|n| n.max_values() > 1);
                let (open, close) = if p.is_required_set() {
                    ("", "")
                } else {
                    ("[", "]")
                };
                line.push(roman(format!(" {open}")));
                line.push(italic(name));
                line.push(roman(format!("{close}{}", if many { "..." } else { "" })));
            }
        }
    }
    let mut r = Roff::new();
    r.control("SH", ["SYNOPSIS"]).text(line);
    r
}

/// A list of (term, text) as indented paragraphs under a heading.
fn section(r: &mut Roff, heading: &str, items: &[(&str, &str)]) {
    r.control("SH", [heading]);
    for (term, text) in items {
        r.control("TP", []).text([bold(*term)]).text([roman(*text)]);
    }
}

const ENVIRONMENT: &[(&str, &str)] = &[
    ("XDG_RUNTIME_DIR", "Without --root and when not run as root, the state lives in $XDG_RUNTIME_DIR/corral (in /tmp/corral-UID when it is unset); root's is /run/corral."),
    ("NOTIFY_SOCKET", "create and run give the container /run/notify/notify.sock; start and run wait for its READY= and send the caller READY=1 and MAINPID, as runc does."),
    ("LISTEN_FDS", "With LISTEN_PID, the number of fds (from fd 3) socket activation handed corral: they reach the container, before the --preserve-fds ones."),
    ("LISTEN_PID", "LISTEN_FDS is used only when this is corral's own pid."),
];

const FILES: &[(&str, &str)] = &[
    ("/run/corral", "The state root (--root) of root; $XDG_RUNTIME_DIR/corral for other users. It must belong to the caller and not be writable by its group or others; it holds one directory per container (mode 0700)."),
    ("ROOT/ID/state.json", "What create recorded (pid and its start time, bundle, cgroup, annotations), mode 0600, replaced atomically. The status is derived from the kernel when asked."),
    ("ROOT/ID/exec.fifo", "The fifo the init waits on until start opens it; gone once the container started."),
    ("ROOT/ID/cgroup.json", "The container's cgroup, recorded before it is made, so that delete --force removes it even after a create that died half way."),
    ("ROOT/ID/creating", "Present while create is under way."),
    ("ROOT/ID/notify/notify.sock", "The socket the container's /run/notify/notify.sock is (with NOTIFY_SOCKET; the directory is mode 0755)."),
];

const EXIT_STATUS: &[(&str, &str)] = &[
    ("0", "Success."),
    ("1", "The command failed: the error is on standard error and, with --log, in the log file."),
    ("2", "A usage error (an unknown flag, a missing argument), also written to the --log file."),
    ("N", "run and exec in the foreground exit with the status of the container's process, 128+N when signal N ended it."),
];

/// Each page's examples, one command line each.
fn examples(cmd: &str) -> &'static [&'static str] {
    match cmd {
        "corral" => &["corral spec --bundle /srv/web", "corral run --bundle /srv/web web", "corral --root /run/my-engine --log /run/web.log --log-format json create --bundle /srv/web web"],
        "create" => &["corral create --bundle /srv/web --pid-file /run/web.pid web", "corral start web"],
        "start" => &["corral create --bundle /srv/web web && corral start web"],
        "run" => &["corral run --bundle /srv/web web", "corral run -d --bundle /srv/web --pid-file /run/web.pid web"],
        "exec" => &["corral exec web ps -ef", "corral exec -t --console-socket /run/console.sock web sh", "corral exec --process process.json web"],
        "state" => &["corral state web"],
        "kill" => &["corral kill web", "corral kill -a web KILL"],
        "delete" => &["corral delete web", "corral delete -f web"],
        "list" => &["corral list", "corral list -f json", "corral list -q"],
        "spec" => &["corral spec", "corral spec --rootless --bundle ~/bundle"],
        "features" => &["corral features"],
        "ps" => &["corral ps web", "corral ps web -- -o pid,args", "corral ps -f json web"],
        "pause" => &["corral pause web"],
        "resume" => &["corral resume web"],
        "events" => &["corral events --stats web", "corral events --interval 1s web"],
        "update" => &["corral update --memory 512m --pids-limit 100 web", "corral update -r resources.json web"],
        "completion" => &["corral completion bash > /usr/share/bash-completion/completions/corral", "corral completion zsh > /usr/share/zsh/site-functions/_corral", "corral completion fish > ~/.config/fish/completions/corral.fish"],
        _ => &[],
    }
}

/// The pages each page points to (all of them exist: `see_also_names_existing_pages`).
fn see_also(cmd: &str, all: &[String]) -> Vec<String> {
    let related: &[&str] = match cmd {
        "corral" => return all.iter().filter(|n| *n != "corral").cloned().collect(),
        "create" | "start" | "run" => &["create", "start", "run", "delete", "state", "spec"],
        "exec" | "ps" => &["exec", "ps", "run"],
        "state" | "list" => &["state", "list", "events"],
        "kill" | "delete" => &["kill", "delete", "state"],
        "pause" | "resume" => &["pause", "resume", "update"],
        "events" | "update" => &["events", "update", "pause"],
        "spec" | "features" => &["spec", "features", "create"],
        _ => &[],
    };
    let mut out = vec!["corral".to_string()];
    for r in related.iter().filter(|r| **r != cmd) {
        out.push(format!("corral-{r}"));
    }
    out
}

fn render(cmd: &clap::Command, top: &clap::Command, sub: bool, all: &[String]) -> Vec<u8> {
    let short = if sub { cmd.get_name() } else { "corral" };
    let page_name = if sub {
        format!("corral-{short}")
    } else {
        "corral".into()
    };
    let man = clap_mangen::Man::new(
        cmd.clone()
            .name(Box::leak(page_name.clone().into_boxed_str()) as &str),
    )
    .section("8")
    .manual("corral manual");
    let mut buf = Vec::new();
    man.render_title(&mut buf).unwrap();
    man.render_name_section(&mut buf).unwrap();
    synopsis(top, sub.then_some(cmd))
        .to_writer(&mut buf)
        .unwrap();
    man.render_description_section(&mut buf).unwrap();
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut buf).unwrap();
    }
    if !sub {
        man.render_subcommands_section(&mut buf).unwrap();
    }
    let mut r = Roff::new();
    section(&mut r, "ENVIRONMENT", ENVIRONMENT);
    section(&mut r, "FILES", FILES);
    section(&mut r, "EXIT STATUS", EXIT_STATUS);
    r.control("SH", ["EXAMPLES"]);
    for e in examples(short) {
        r.control("PP", []).text([roman(format!("$ {e}"))]);
    }
    r.control("SH", ["SEE ALSO"]);
    let refs: Vec<String> = see_also(short, all)
        .iter()
        .map(|n| format!("{n}(8)"))
        .collect();
    r.text([roman(refs.join(", "))]);
    r.to_writer(&mut buf).unwrap();
    buf
}

/// (file name, contents) for corral(8) and one page per command.
fn pages() -> Vec<(String, Vec<u8>)> {
    let mut cmd = corral_cli::cli::Cli::command().version(env!("CARGO_PKG_VERSION"));
    cmd.build();
    let subs: Vec<clap::Command> = cmd
        .get_subcommands()
        .filter(|s| s.get_name() != "help")
        .cloned()
        .collect();
    let mut all = vec!["corral".to_string()];
    all.extend(subs.iter().map(|s| format!("corral-{}", s.get_name())));
    let mut out = vec![("corral.8".to_string(), render(&cmd, &cmd, false, &all))];
    for sub in &subs {
        let page = sub.clone().version(env!("CARGO_PKG_VERSION"));
        out.push((
            format!("corral-{}.8", sub.get_name()),
            render(&page, &cmd, true, &all),
        ));
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
        "create",
        "start",
        "run",
        "exec",
        "state",
        "kill",
        "delete",
        "list",
        "spec",
        "features",
        "pause",
        "resume",
        "events",
        "update",
        "ps",
        "completion",
    ] {
        assert!(
            names.contains(&format!("corral-{cmd}.8")),
            "no page for {cmd}"
        );
    }
}

/// The committed pages, as man(1) reads them: every section in order, value names in
/// the synopsis, and a SEE ALSO that names only pages man/ has.
#[test]
fn every_page_has_every_section_and_names_only_existing_pages() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    let sections = [
        "NAME",
        "SYNOPSIS",
        "DESCRIPTION",
        "OPTIONS",
        "ENVIRONMENT",
        "FILES",
        "EXIT STATUS",
        "EXAMPLES",
        "SEE ALSO",
    ];
    for entry in std::fs::read_dir(&dir).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(entry.path()).unwrap();
        let heads: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix(".SH "))
            .map(|h| h.trim_matches('"'))
            .collect();
        let mut at = 0;
        for s in sections {
            // A command without options of its own still lists -h/--help under OPTIONS.
            let i = heads
                .iter()
                .position(|h| *h == s)
                .unwrap_or_else(|| panic!("{name}: no {s} in {heads:?}"));
            assert!(i >= at, "{name}: {s} out of order in {heads:?}");
            at = i;
        }
        for var in [
            "XDG_RUNTIME_DIR",
            "NOTIFY_SOCKET",
            "LISTEN_FDS",
            "LISTEN_PID",
        ] {
            assert!(text.contains(var), "{name}: {var}");
        }
        let see_also = text.split(".SH \"SEE ALSO\"").nth(1).unwrap();
        let refs: Vec<&str> = see_also
            .split(", ")
            .map(|r| r.trim())
            .filter(|r| !r.is_empty())
            .collect();
        assert!(!refs.is_empty(), "{name}: empty SEE ALSO");
        for r in refs {
            let page = r
                .strip_suffix("(8)")
                .unwrap_or_else(|| panic!("{name}: {r:?} is not a section 8 page"));
            let page = page.replace("\\-", "-");
            assert!(
                dir.join(format!("{page}.8")).exists(),
                "{name}: SEE ALSO names {page}(8), which man/ does not have"
            );
        }
    }
    let top = std::fs::read_to_string(dir.join("corral-create.8")).unwrap();
    let synopsis = top
        .split(".SH SYNOPSIS")
        .nth(1)
        .unwrap()
        .split(".SH")
        .next()
        .unwrap();
    for value in ["DIR", "FILE", "PATH", "N", "ID"] {
        assert!(
            synopsis.contains(&format!("\\fI{value}\\fR")),
            "create's synopsis lacks the value name {value}: {synopsis}"
        );
    }
}
