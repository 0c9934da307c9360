//! `state`: the state JSON of runtime-spec `runtime.md`.

use crate::state::{oci_state, StateDir, Status};
use crate::Result;
use std::path::Path;

pub fn state(root: &Path, id: &str) -> Result<serde_json::Value> {
    let dir = StateDir::open(root, id)?;
    Ok(match dir.load()? {
        Some(saved) => oci_state(&saved, dir.status(Some(&saved))),
        None => serde_json::json!({
            "ociVersion": crate::OCI_VERSION,
            "id": id,
            "pid": 0,
            "status": Status::Creating.as_str(),
            "bundle": "",
        }),
    })
}
