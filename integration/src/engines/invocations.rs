//! The runtime invocations the engines make, as the wrappers log them (see
//! World::wrapper), normalised into forms: `ENGINE CWD ARG…` where an absolute path
//! is `<path>` and a container id `<id>`. The fixture `integration/engines/
//! invocations.txt` keeps the forms of a reference run (`--record`); the suite checks
//! that the runtime's command line takes every one of them (clihelp.rs) and that the
//! flows that pass made no form the fixture lacks.

use std::collections::BTreeSet;
use std::path::Path;

pub const FIXTURE: &str = include_str!("../../engines/invocations.txt");

const HEADER: &str = "\
# How podman, containerd (ctr, through containerd-shim-runc-v2) and Docker call the OCI
# runtime in the flows of corral-engines, logged by a wrapper script around runc 1.1.5
# and normalised: <path> stands for an absolute path, <id> for a container id.
# Columns: engine, cwd (`bundle` when the runtime ran in a directory holding a
# config.json, else `other`), the arguments. corral-engines checks that the runtime
# under test takes each line (its `--help`: commands, flags, number of arguments).
# Regenerate: corral-engines --runtime $(command -v runc) --record integration/engines/invocations.txt
";

/// The size of the log now: the calls of a flow are those appended after it.
pub fn log_len(log: &Path) -> u64 {
    std::fs::metadata(log).map(|m| m.len()).unwrap_or(0)
}

/// The forms of the calls logged from byte `from` on.
pub fn forms_since(log: &Path, from: u64) -> BTreeSet<String> {
    let bytes = std::fs::read(log).unwrap_or_default();
    let from = usize::try_from(from).unwrap_or(usize::MAX);
    let tail = bytes.get(from..).unwrap_or_default();
    String::from_utf8_lossy(tail)
        .lines()
        .filter(|l| !l.is_empty())
        .map(normalise)
        .collect()
}

/// One log line (`engine\tcwd\targ\targ…`) as a form.
pub fn normalise(line: &str) -> String {
    line.split('\t')
        .enumerate()
        .map(|(i, a)| {
            if i < 2 {
                a.to_string()
            } else {
                normalise_arg(a)
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn normalise_arg(a: &str) -> String {
    match a.split_once('=') {
        Some((flag, value)) if a.starts_with("--") => format!("{flag}={}", normalise_value(value)),
        _ => normalise_value(a),
    }
}

fn normalise_value(v: &str) -> String {
    let hex_id = v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit());
    if v.starts_with('/') {
        "<path>".into()
    } else if hex_id || v.starts_with("eng-") || v.starts_with("sdeng-") {
        "<id>".into()
    } else {
        v.replace(' ', "<space>")
    }
}

/// The fixture's forms.
pub fn fixture() -> BTreeSet<String> {
    FIXTURE
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// A form split back into (engine, arguments).
pub fn parse(form: &str) -> (&str, Vec<&str>) {
    let mut words = form.split(' ');
    let engine = words.next().unwrap_or_default();
    let _cwd = words.next();
    (engine, words.collect())
}

pub fn record(path: &Path, forms: &BTreeSet<String>) -> std::io::Result<()> {
    let mut text = HEADER.to_string();
    for f in forms {
        text.push_str(f);
        text.push('\n');
    }
    std::fs::write(path, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_ids_are_normalised() {
        let id = "a".repeat(64);
        let line = format!("podman\tother\t--log-format=json\t--log\t/x/y\tkill\t{id}\t15");
        assert_eq!(
            normalise(&line),
            "podman other --log-format=json --log <path> kill <id> 15"
        );
        assert_eq!(
            normalise("containerd\tbundle\t--root=/r\tstart\tsdeng-main"),
            "containerd bundle --root=<path> start <id>"
        );
    }
}
