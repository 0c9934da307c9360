//! Usage errors (an unknown flag, a missing argument) reach `--log` too: containerd's
//! shim reads a failed call's error from that file, not from standard error. clap
//! failed, so the global flags are read from the raw arguments here.

use crate::cli::LogFormat;
use std::ffi::OsString;
use std::path::PathBuf;

/// `--log FILE` and `--log-format text|json` among the global options, which come
/// before the command (a `--log` after it belongs to the container's command line).
pub fn log_flags(args: &[OsString]) -> (Option<PathBuf>, LogFormat) {
    let (mut log, mut format) = (None, LogFormat::Text);
    let mut it = args
        .iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned());
    while let Some(a) = it.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) => (f.to_string(), Some(v.to_string())),
            None => (a.clone(), None),
        };
        let takes_value = ["--log", "--log-format", "--root"].contains(&flag.as_str());
        let value = match (takes_value, inline) {
            (true, Some(v)) => Some(v),
            (true, None) => it.next(),
            (false, _) => None,
        };
        match (flag.as_str(), value) {
            ("--log", Some(v)) => log = Some(PathBuf::from(v)),
            ("--log-format", Some(v)) if v == "json" => format = LogFormat::Json,
            ("--log-format", Some(_)) => format = LogFormat::Text,
            _ if !a.starts_with('-') => break,
            _ => {}
        }
    }
    (log, format)
}

/// clap's error as one line: its first paragraph (a missing argument is named on the
/// line below), without the "error: " clap starts it with.
pub fn message(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let para: Vec<&str> = text
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect();
    let line = para.join(" ");
    line.strip_prefix("error: ").unwrap_or(&line).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(args: &[&str]) -> (Option<PathBuf>, LogFormat) {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        log_flags(&args)
    }

    #[test]
    fn global_log_flags_are_found_before_the_command_only() {
        let (log, f) = flags(&[
            "corral",
            "--root",
            "/r",
            "--log",
            "/l",
            "--log-format",
            "json",
            "create",
            "--bogus",
        ]);
        assert_eq!(
            (log.as_deref(), f),
            (Some(std::path::Path::new("/l")), LogFormat::Json)
        );
        let (log, f) = flags(&["corral", "--log=/l2", "--log-format=text", "x"]);
        assert_eq!(
            (log.as_deref(), f),
            (Some(std::path::Path::new("/l2")), LogFormat::Text)
        );
        let (log, _) = flags(&["corral", "exec", "id", "sh", "--log", "/not-ours"]);
        assert_eq!(log, None);
    }
}
