//! `state`: the state JSON of runtime-spec `runtime.md`.

use crate::state::{oci_state, StateDir, Status};
use crate::Result;
use std::path::Path;

pub fn state(root: &Path, id: &str) -> Result<serde_json::Value> {
    let dir = StateDir::peek(root, id)?;
    let saved = dir.load()?;
    // Read without the lock: a delete may have removed the directory meanwhile.
    if saved.is_none() && !dir.exists() {
        return Err(crate::Error::NotFound(id.to_string()));
    }
    Ok(match saved {
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
