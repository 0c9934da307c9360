//! Loading an OCI bundle: `config.json`, parsed and validated, and the rootfs it names.

use crate::{validate, Error, Result};
use oci_spec::runtime::Spec;
use std::path::{Path, PathBuf};

pub struct Bundle {
    /// The bundle directory, absolute and without symlinks.
    pub dir: PathBuf,
    pub config_path: PathBuf,
    pub spec: Spec,
    /// The container's root filesystem, absolute.
    pub rootfs: PathBuf,
}

/// serde's message for an unknown enum value gives a line and column, not the field;
/// for `linux.seccomp`, whose fields are mostly such values, say which field it is.
fn named_parse_error(data: &[u8], path: &Path) -> Option<Error> {
    let v: serde_json::Value = serde_json::from_slice(data).ok()?;
    let seccomp = v.get("linux")?.get("seccomp")?;
    let e = corral_seccomp::check_json(seccomp).err()?;
    Some(validate::seccomp_error(path, e))
}

impl Bundle {
    pub fn load(dir: &Path) -> Result<Self> {
        let dir = dir
            .canonicalize()
            .map_err(|e| Error::io("bundle directory", dir, e))?;
        let config_path = dir.join("config.json");
        let data =
            std::fs::read(&config_path).map_err(|e| Error::io("cannot read", &config_path, e))?;
        let spec: Spec = serde_json::from_slice(&data).map_err(|err| {
            named_parse_error(&data, &config_path).unwrap_or(Error::ConfigParse {
                path: config_path.clone(),
                err,
            })
        })?;
        let rootfs = validate::check(&spec, &config_path, &dir)?;
        Ok(Bundle {
            dir,
            config_path,
            spec,
            rootfs,
        })
    }
}
