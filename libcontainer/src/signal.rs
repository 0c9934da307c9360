//! Signal names and numbers as `kill` accepts them: `KILL`, `SIGKILL` or `9`.

use crate::{Error, Result};
use std::str::FromStr;

/// Parses a signal the way runc does; returns the signal number.
pub fn parse(s: &str) -> Result<i32> {
    if let Ok(n) = s.parse::<i32>() {
        if (1..=libc::SIGRTMAX()).contains(&n) {
            return Ok(n);
        }
        return Err(Error::Other(format!("invalid signal number {n}")));
    }
    let upper = s.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    nix::sys::signal::Signal::from_str(&name)
        .map(|sig| sig as i32)
        .map_err(|_| Error::Other(format!("unknown signal {s:?}")))
}

/// SIGKILL to a child of ours that we have not reaped (an init or exec process whose
/// setup failed), through its pidfd like every signal to a container process. Errors are
/// ignored: the caller reaps it next, and a child that is gone needs nothing.
pub(crate) fn kill_child(pid: i32) {
    if let Ok(Some(p)) = corral_cgroups::pidfd::Pinned::child(pid) {
        let _ = p.signal(libc::SIGKILL);
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn names_and_numbers() {
        assert_eq!(parse("KILL").unwrap(), 9);
        assert_eq!(parse("SIGKILL").unwrap(), 9);
        assert_eq!(parse("term").unwrap(), 15);
        assert_eq!(parse("9").unwrap(), 9);
        assert_eq!(parse("34").unwrap(), 34);
        assert!(parse("0").is_err());
        assert!(parse("SIGBOGUS").is_err());
    }
}
