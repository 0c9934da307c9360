//! Container ids: plain names that are safe as a directory name under the root.

use crate::{Error, Result};

/// Accepts the ids runc accepts (`^[\w+-\.]+$`), which never name `.`, `..` or a path.
pub fn check(id: &str) -> Result<()> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '-' | '.');
    if id.is_empty() || id.len() > 1024 || id == "." || id == ".." || !id.chars().all(ok_char) {
        return Err(Error::InvalidId(id.to_string()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn plain_names_pass() {
        for id in ["a", "web-1", "x.y_z+1", "0123456789abcdef"] {
            assert!(check(id).is_ok(), "{id}");
        }
    }

    #[test]
    fn paths_and_empty_fail() {
        for id in ["", ".", "..", "a/b", "/", "../x", "a b", "é"] {
            assert!(check(id).is_err(), "{id:?}");
        }
        assert!(check(&"a".repeat(1025)).is_err());
    }
}
