//! Writing a control file that must already exist. Without `O_CREAT`: cgroupfs answers
//! a create of a missing file with EACCES, which would hide that the kernel simply has
//! no such file (a controller not enabled, a feature this kernel lacks, a typo).

use crate::{Error, Result};
use std::io::Write;
use std::path::Path;

/// Writes `value` to `dir/file` in one write, for `field`; a missing file is an error
/// saying so.
pub(crate) fn write_existing(dir: &Path, file: &str, value: &str, field: &str) -> Result<()> {
    let path = dir.join(file);
    crate::debug(|| format!("cgroup: write {value:?} to {} ({field})", path.display()));
    let r = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .and_then(|mut f| f.write_all(value.as_bytes()));
    r.map_err(|err| {
        if err.kind() == std::io::ErrorKind::NotFound {
            Error::Invalid {
                field: field.to_string(),
                msg: format!("this kernel has no {} (needed to set it)", path.display()),
            }
        } else {
            Error::Write {
                field: field.to_string(),
                path,
                value: value.to_string(),
                err,
            }
        }
    })
}

/// `err` of a write for `field`, when it is the errno `errno`: an [`Error::Invalid`]
/// with `msg` instead, for errnos whose plain text would not say what is wrong.
pub(crate) fn explain(err: Error, errno: i32, msg: impl FnOnce() -> String) -> Error {
    match err {
        Error::Write {
            field,
            path,
            value,
            err,
        } if err.raw_os_error() == Some(errno) => Error::Invalid {
            field,
            msg: format!(
                "the kernel refused {value:?} in {} ({err}): {}",
                path.display(),
                msg()
            ),
        },
        e => e,
    }
}
