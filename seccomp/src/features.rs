//! `linux.seccomp` of `corral features`: what the linked libseccomp can really do.

use crate::compile::{arch, flag_supported};
use crate::names::{name, ACTIONS, ARCHS, FLAGS, OPERATORS};
use libseccomp::{ScmpAction, ScmpFilterContext};
use serde_json::{json, Value};

pub fn features() -> Value {
    // An architecture this libseccomp does not know, or of the other byte order than
    // this machine (one filter holds one byte order), fails to be added to a filter.
    let archs: Vec<String> = match ScmpFilterContext::new(ScmpAction::Allow) {
        Ok(mut ctx) => ARCHS
            .iter()
            .filter(|a| ctx.add_arch(arch(**a)).is_ok())
            .map(name)
            .collect(),
        Err(_) => Vec::new(),
    };
    json!({
        "enabled": true,
        "actions": ACTIONS.iter().map(name).collect::<Vec<_>>(),
        "operators": OPERATORS.iter().map(name).collect::<Vec<_>>(),
        "archs": archs,
        "knownFlags": FLAGS.iter().map(name).collect::<Vec<_>>(),
        "supportedFlags": FLAGS
            .iter()
            .filter(|f| flag_supported(**f).is_ok())
            .map(name)
            .collect::<Vec<_>>(),
    })
}
