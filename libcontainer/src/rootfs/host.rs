//! A container without a mount namespace of its own shares the runtime's (the spec: it
//! "MUST inherit the runtime namespace"). Its rootfs is then a bind of itself in that
//! namespace, made by the init and made private so that nothing mounted under it
//! propagates; the init chroots into it (pivot_root would move the runtime's own root,
//! and there is no namespace to unmount the old root in). `create` finds that bind by
//! its mount ID, and `delete` (or a failed `create`) detaches it with everything mounted
//! under it, so that no mount of the container is left in the host's mount table
//! (runc leaves them).

use crate::{Error, Result};
use nix::mount::{umount2, MntFlags};
use std::path::Path;

/// A path as /proc/self/mountinfo writes it (space, tab, newline, backslash escaped).
fn escaped(path: &Path) -> String {
    let mut s = String::new();
    for c in path.to_string_lossy().chars() {
        match c {
            ' ' => s.push_str("\\040"),
            '\t' => s.push_str("\\011"),
            '\n' => s.push_str("\\012"),
            '\\' => s.push_str("\\134"),
            c => s.push(c),
        }
    }
    s
}

/// The IDs of the mounts on `path` (in this process's mount namespace), bottom first.
pub fn mount_ids_at(path: &Path) -> Result<Vec<u64>> {
    let info = "/proc/self/mountinfo";
    let text = std::fs::read_to_string(info).map_err(|e| Error::io("cannot read", info, e))?;
    Ok(ids_at(&text, &escaped(path)))
}

fn ids_at(mountinfo: &str, point: &str) -> Vec<u64> {
    mountinfo
        .lines()
        .filter_map(|l| {
            let mut f = l.split(' ');
            let id = f.next()?.parse().ok()?;
            (f.nth(3)? == point).then_some(id)
        })
        .collect()
}

/// Detaches the mounts on `path` down to and including mount `id` (what the container
/// stacked on its root goes first); nothing when `id` is gone already.
pub fn unmount(path: &Path, id: u64) -> Result<()> {
    // Each round removes the top mount; a container stacks only so many.
    for _ in 0..64 {
        if !mount_ids_at(path)?.contains(&id) {
            return Ok(());
        }
        umount2(path, MntFlags::MNT_DETACH).map_err(|e| {
            Error::sys(
                format!(
                    "unmount the container's root {} (mount {id})",
                    path.display()
                ),
                e,
            )
        })?;
    }
    Err(Error::Other(format!(
        "unmount the container's root {}: mount {id} is still there",
        path.display()
    )))
}

/// The mount on `path` made since `before` was taken (the init's bind), if any.
pub fn made_since(path: &Path, before: &[u64]) -> Result<Option<u64>> {
    Ok(mount_ids_at(path)?
        .into_iter()
        .find(|id| !before.contains(id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_points_are_matched_escaped() {
        let info = "22 1 0:21 / / rw shared:1 - ext4 /dev/vda rw\n\
                    40 22 0:30 / /b/my\\040root rw - tmpfs tmpfs rw\n\
                    41 40 0:30 / /b/my\\040root rw - tmpfs tmpfs rw\n";
        let p = escaped(Path::new("/b/my root"));
        assert_eq!(ids_at(info, &p), [40, 41]);
        assert!(ids_at(info, "/b").is_empty());
    }
}
