//! Log lines for `--log` and `--log-format`, as containerd's go-runc reads them:
//! text as logrus writes it, or one JSON object per line (`level`, `msg`, `time`).
//! Written synchronously: corral has no thread to spare for a logger.

use crate::cli::LogFormat;
use std::fs::File;
use std::io::Write;
use std::path::Path;

pub struct Logger {
    file: Option<File>,
    format: LogFormat,
    debug: bool,
}

impl Logger {
    pub fn new(path: Option<&Path>, format: LogFormat, debug: bool) -> std::io::Result<Self> {
        let file = match path {
            Some(p) => Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)?,
            ),
            None => None,
        };
        Ok(Logger {
            file,
            format,
            debug,
        })
    }

    fn line(&self, level: &str, msg: &str) -> String {
        let time = libcontainer::timefmt::now_rfc3339();
        match self.format {
            LogFormat::Json => {
                let mut s =
                    serde_json::json!({ "level": level, "msg": msg, "time": time }).to_string();
                s.push('\n');
                s
            }
            LogFormat::Text => format!("time={time:?} level={level} msg={msg:?}\n"),
        }
    }

    fn write(&self, level: &str, msg: &str) {
        let line = self.line(level, msg);
        match &self.file {
            Some(f) => {
                let _ = (&*f).write_all(line.as_bytes());
            }
            None => {
                let _ = std::io::stderr().write_all(line.as_bytes());
            }
        }
    }

    /// An error: to the log file when there is one, and always to standard error.
    pub fn error(&self, msg: &str) {
        self.error_to_file(msg);
        eprintln!("corral: error: {msg}");
    }

    /// An error to the log file only (when there is one).
    pub fn error_to_file(&self, msg: &str) {
        if self.file.is_some() {
            self.write("error", msg);
        }
    }

    pub fn warn(&self, msg: &str) {
        self.write("warning", msg);
    }

    pub fn debug(&self, msg: &str) {
        if self.debug {
            self.write("debug", msg);
        }
    }
}

/// An error and its causes as one line, "what: why: why", each cause said once: a
/// library error that ends its message with its cause (`open /x: No such file…`)
/// also returns that cause as its `source()`, for callers that branch on the kind.
pub fn sentence(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.ends_with(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::sentence;
    use anyhow::Context;

    #[test]
    fn each_cause_said_once() {
        let io = std::io::Error::from_raw_os_error(libc::ENOENT);
        let lib = libcontainer::Error::io("cannot open", "/b/config.json", io);
        let want = "cannot open /b/config.json: No such file or directory (os error 2)";
        let e = anyhow::Error::from(lib);
        assert_eq!(sentence(&e), want);
        let e = e.context("create c1");
        assert_eq!(sentence(&e), format!("create c1: {want}"));
        // A context over a plain cause still names the cause.
        let e = Err::<(), _>(std::io::Error::from_raw_os_error(libc::EACCES))
            .context("cannot write /p")
            .unwrap_err();
        assert_eq!(
            sentence(&e),
            "cannot write /p: Permission denied (os error 13)"
        );
    }
}
