//! `list`: every container under the root, with its derived status.

use crate::state::list_ids;
use crate::Result;
use std::path::Path;

pub struct Summary {
    pub state: serde_json::Value,
}

pub fn list(root: &Path) -> Result<Vec<Summary>> {
    let mut out = Vec::new();
    for id in list_ids(root)? {
        // A container deleted while we list is simply not listed.
        if let Ok(state) = super::state(root, &id) {
            out.push(Summary { state });
        }
    }
    Ok(out)
}
