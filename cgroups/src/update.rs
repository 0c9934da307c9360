//! `update`: new limits for a container that exists.

use crate::{check, Cgroup, Result};
use oci_spec::runtime::LinuxResources;

impl Cgroup {
    /// Checks and writes `r`, the container's whole `linux.resources` after the change
    /// (rewriting a value that did not change is harmless). Device rules are left as
    /// `create` wrote them, as runc's `update` does.
    pub fn update(&self, r: &LinuxResources) -> Result<()> {
        check(r, self.version)?;
        let mut r = r.clone();
        r.set_devices(None);
        self.apply(&r, &[])
    }
}
