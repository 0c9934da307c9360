//! `linux.sysctl`: which keys a container may set (those of a namespace it owns), and
//! writing them through the private procfs (see `procfs` for why not `/proc`).

use super::procfs::{self, Procfs};
use crate::{Error, Result};
use oci_spec::runtime::LinuxNamespaceType as T;
use std::collections::HashMap;

const IPC_KEYS: [&str; 8] = [
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// The namespace whose sysctl `key` is, or None when it is not namespaced (setting it
/// would change the host).
pub fn namespace(key: &str) -> Option<T> {
    if IPC_KEYS.contains(&key) || key.starts_with("fs.mqueue.") {
        return Some(T::Ipc);
    }
    if key == "kernel.hostname" || key == "kernel.domainname" {
        return Some(T::Uts);
    }
    if key.starts_with("net.") {
        return Some(T::Network);
    }
    // The last pid the pid namespace gave out (CRIU's knob): scoped to the pid namespace.
    if key == "kernel.ns_last_pid" {
        return Some(T::Pid);
    }
    None
}

/// Whether `key` is a well-formed name: dot-separated words, no path syntax.
pub fn well_formed(key: &str) -> bool {
    !key.is_empty()
        && key
            .split('.')
            .all(|w| !w.is_empty() && !w.contains('/') && !w.contains('\0'))
}

/// Writes every sysctl, in key order (for errors that do not depend on hash order).
pub fn write(proc: &Procfs, sysctls: &HashMap<String, String>) -> Result<()> {
    let mut keys: Vec<&String> = sysctls.keys().collect();
    keys.sort();
    for key in keys {
        let value = &sysctls[key];
        let path = procfs::sysctl_path(key);
        proc.write(&path, value.as_bytes())
            .map_err(|e| Error::sys(format!("linux.sysctl: set {key} to {value:?}"), e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_namespaced_keys_have_a_namespace() {
        assert_eq!(namespace("kernel.shmmax"), Some(T::Ipc));
        assert_eq!(namespace("fs.mqueue.msg_max"), Some(T::Ipc));
        assert_eq!(namespace("net.ipv4.ip_forward"), Some(T::Network));
        assert_eq!(namespace("kernel.hostname"), Some(T::Uts));
        assert_eq!(namespace("kernel.panic"), None);
        assert_eq!(namespace("vm.swappiness"), None);
        assert!(!well_formed("net..x") && !well_formed("net.a/b") && well_formed("net.a.b"));
    }
}
