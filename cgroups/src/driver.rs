//! The cgroup drivers: what makes, limits and removes a container's cgroup.
//!
//! - [`Driver::CgroupfsV1`]: plain directories and file writes on a legacy or hybrid
//!   host (one directory per hierarchy, [`crate::v1`]).
//! - [`Driver::CgroupfsV2`]: the same on a pure cgroup v2 host ([`crate::v2`]).
//! - [`Driver::Systemd`]: a transient systemd scope (`--systemd-cgroup`), whose cgroup is
//!   then written like a v2 one ([`crate::systemd`]).
//! - [`Driver::SystemdUser`]: the same for a caller that is not root, in its own systemd
//!   user manager (reached on the bus the cgroup records, [`crate::Cgroup::bus`]).
//!
//! The driver that made a cgroup is recorded with it in the container's state (see
//! [`crate::Cgroup`]), so `update`, `pause`, `kill`, `delete`, … use the same one even
//! if the flags of a later command differ. A state written before the driver was
//! recorded names none: its cgroup was made by cgroupfs on its host's version.

use crate::Version;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Driver {
    CgroupfsV1,
    CgroupfsV2,
    Systemd,
    SystemdUser,
}

impl Driver {
    /// The cgroupfs driver of a host whose cgroups are `version`.
    pub fn cgroupfs(version: Version) -> Driver {
        match version {
            Version::V1 => Driver::CgroupfsV1,
            Version::V2 => Driver::CgroupfsV2,
        }
    }

    /// A scope of a systemd manager (the system's or a user's).
    pub fn is_systemd(self) -> bool {
        matches!(self, Driver::Systemd | Driver::SystemdUser)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_the_state() {
        assert_eq!(
            serde_json::to_string(&Driver::CgroupfsV2).unwrap(),
            "\"cgroupfs-v2\""
        );
        assert_eq!(
            serde_json::from_str::<Driver>("\"systemd\"").unwrap(),
            Driver::Systemd
        );
    }

    /// A state from before the driver was recorded: cgroupfs of its version.
    #[test]
    fn old_states_are_cgroupfs() {
        let old = r#"{"version":"V1","dirs":[]}"#;
        let cg: crate::Cgroup = serde_json::from_str(old).unwrap();
        assert_eq!(cg.driver, Driver::CgroupfsV1);
        let cg: crate::Cgroup = serde_json::from_str(&serde_json::to_string(&cg).unwrap()).unwrap();
        assert_eq!(cg.driver, Driver::CgroupfsV1);
        let sd = r#"{"version":"V2","driver":"systemd","dirs":[]}"#;
        let cg: crate::Cgroup = serde_json::from_str(sd).unwrap();
        assert_eq!(cg.driver, Driver::Systemd);
        let user = r#"{"version":"V2","driver":"systemd-user","bus":"/run/user/7/bus","dirs":[]}"#;
        let cg: crate::Cgroup = serde_json::from_str(user).unwrap();
        assert_eq!(cg.driver, Driver::SystemdUser);
        assert_eq!(cg.bus.as_deref(), Some("/run/user/7/bus"));
        assert_eq!(serde_json::to_string(&cg).unwrap(), user);
    }
}
