//! The cases, by theme.

mod errors;
mod inside;
mod lifecycle;
mod misc;

use crate::Case;

/// Fails the case with a message unless `cond` holds.
macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}
pub(crate) use ensure;

pub fn all() -> Vec<Case> {
    let mut v = vec![];
    v.extend(lifecycle::cases());
    v.extend(inside::cases());
    v.extend(errors::cases());
    v.extend(misc::cases());
    v
}

/// The value of `key=value` on a line of `out`.
pub fn field<'a>(out: &'a str, key: &str) -> Option<&'a str> {
    out.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
}
