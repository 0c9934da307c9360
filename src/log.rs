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
