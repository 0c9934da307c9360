//! Typed parsing of JSON input (config.json, `exec --process` files, `update` resources)
//! with errors that name the field, as `process.args[0]`, rather than serde's bare
//! "invalid type: integer `7`, expected a string".
//!
//! Values the input holds are echoed in such messages; a value of a megabyte must not
//! make a megabyte of error, so messages are cut to `MAX_ECHO` bytes.

use serde::de::DeserializeOwned;
use serde_json::Value;

/// The most bytes of input a message echoes (the rest is left out, and counted).
pub const MAX_ECHO: usize = 300;

/// Where `Value` does not fit the type, and why.
#[derive(Debug)]
pub struct Mismatch {
    /// The path of the field, as `process.args[0]`; empty for the value as a whole.
    pub field: String,
    pub msg: String,
}

/// `v` as a `T`, or which field does not fit and why.
pub fn from_value<T: DeserializeOwned>(v: Value) -> Result<T, Mismatch> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        Mismatch {
            // serde_path_to_error writes the empty path as ".".
            field: capped(if path == "." { "" } else { &path }),
            msg: capped(&e.inner().to_string()),
        }
    })
}

/// `s` cut to about `MAX_ECHO` bytes: its start and its end (which says what was
/// expected) are kept, the middle left out with its length told.
pub fn capped(s: &str) -> String {
    if s.len() <= MAX_ECHO {
        return s.to_string();
    }
    let head = crate::trace::char_floor(s, MAX_ECHO * 2 / 3);
    // The first char boundary at or after the tail's start (s.len() is one).
    let tail = (s.len() - MAX_ECHO / 3..=s.len())
        .find(|i| s.is_char_boundary(*i))
        .unwrap_or(s.len());
    format!(
        "{}[… {} bytes left out …]{}",
        &s[..head],
        tail - head,
        &s[tail..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_field_is_named() {
        let v = json!({ "ociVersion": "1.0.2", "process": { "args": [7], "cwd": "/",
                        "user": { "uid": 0, "gid": 0 } } });
        let e = from_value::<oci_spec::runtime::Spec>(v).unwrap_err();
        assert_eq!(e.field, "process.args[0]");
        assert!(e.msg.contains("expected a string"), "{}", e.msg);
        let ns = json!({ "ociVersion": "1.0.2", "linux": { "namespaces": [
                         { "type": "pid" }, { "type": "bogus" }] } });
        let e = from_value::<oci_spec::runtime::Spec>(ns).unwrap_err();
        assert_eq!(e.field, "linux.namespaces[1].type");
        let e = from_value::<oci_spec::runtime::Spec>(json!("x")).unwrap_err();
        assert_eq!(e.field, "");
    }

    #[test]
    fn echoed_values_are_cut() {
        let huge = "é".repeat(100_000);
        let v = json!({ "ociVersion": "1.0.2", "process": { "args": ["sh"], "cwd": "/",
                        "user": { "uid": huge, "gid": 0 } } });
        let e = from_value::<oci_spec::runtime::Spec>(v).unwrap_err();
        assert_eq!(e.field, "process.user.uid");
        assert!(e.msg.len() <= MAX_ECHO + 40, "{} bytes", e.msg.len());
        assert!(e.msg.starts_with("invalid type: string \"éé"), "{}", e.msg);
        assert!(e.msg.ends_with("expected u32"), "{}", e.msg);
        assert!(e.msg.contains("bytes left out"), "{}", e.msg);
        assert_eq!(capped("short"), "short");
    }
}
