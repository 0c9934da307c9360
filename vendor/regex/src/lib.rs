//! `regex` for corral's dependency graph: the `regex-lite` engine under the name `regex`.
//!
//! Only oci-spec uses `regex`, to check `process.execCPUAffinity` with `^(\d+(-\d+)?)(,\d+(-\d+)?)*$`;
//! regex-lite compiles the same syntax (its `\d` is ASCII digits, which is what a CPU list is).
pub use regex_lite::*;
