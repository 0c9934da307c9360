//! `linux.seccomp` of `corral features`: what the linked libseccomp can really do.

use crate::compile::flag_supported;
use crate::names::{name, ACTIONS, ARCHS, FLAGS, OPERATORS};
use oci_spec::runtime::Arch;
use serde_json::{json, Value};
use std::ffi::CString;

pub fn features() -> Value {
    json!({
        "enabled": true,
        "actions": ACTIONS.iter().map(name).collect::<Vec<_>>(),
        "operators": OPERATORS.iter().map(name).collect::<Vec<_>>(),
        "archs": archs(),
        "knownFlags": FLAGS.iter().map(name).collect::<Vec<_>>(),
        "supportedFlags": FLAGS
            .iter()
            .filter(|f| flag_supported(**f).is_ok())
            .map(name)
            .collect::<Vec<_>>(),
    })
}

/// Every architecture the linked libseccomp knows, by its runtime-spec name, as runc
/// lists them: `SCMP_ARCH_NATIVE` is not an architecture but "this machine's", so it is
/// left out. (One filter holds architectures of one byte order only: a config that
/// mixes them is refused naming the architecture.)
pub fn archs() -> Vec<String> {
    ARCHS
        .iter()
        .filter(|a| **a != Arch::ScmpArchNative && libseccomp_knows(a))
        .map(name)
        .collect()
}

/// libseccomp's own name of an architecture is the spec's without its prefix, in lower
/// case (`SCMP_ARCH_PPC64LE` is `ppc64le`).
fn libseccomp_knows(a: &Arch) -> bool {
    let n = name(a);
    let lower = n.trim_start_matches("SCMP_ARCH_").to_ascii_lowercase();
    let Ok(c) = CString::new(lower) else {
        return false;
    };
    // SAFETY: `c` is a NUL-terminated string that outlives the call; libseccomp only
    // reads it and returns a token (0: unknown).
    unsafe { libseccomp_sys::seccomp_arch_resolve_name(c.as_ptr()) != 0 }
}

/// The version of the libseccomp corral is linked with (`2.5.4`).
pub fn version() -> String {
    match libseccomp::ScmpVersion::current() {
        Ok(v) => format!("{}.{}.{}", v.major, v.minor, v.micro),
        Err(_) => "unknown".into(),
    }
}
