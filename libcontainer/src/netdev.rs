//! `linux.netDevices`: interfaces of the runtime's network namespace moved into the
//! container's (renamed when `name` is given), and moved back, with their own names, when
//! the container is deleted or its `create` fails.
//!
//! The container's network namespace is pinned by a bind mount in the state dir
//! (`netns`, made, mounted on and read through the state dir's fd like its other files) from the move on: once the init has exited, nothing else would hold it, and
//! a network namespace that dies destroys its virtual interfaces (veth, dummy, …) and
//! sends physical ones to the initial namespace under their container names. The pairs
//! of names are written (`netdevices.json`) before each move, so that a half-done move
//! is undone too.

use crate::state::StateDir;
use crate::sys::rtnl::{Rtnl, IFNAMSIZ};
use crate::{Error, Result};
use nix::fcntl::OFlag;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, CloneFlags};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::collections::{BTreeMap, HashSet};
use std::os::fd::{AsRawFd, OwnedFd};

const FIELD: &str = "linux.netDevices";
const PIN: &str = "netns";
const MOVES: &str = "netdevices.json";

/// The devices to move: host name → name in the container, in name order.
fn devices(spec: &Spec) -> BTreeMap<String, String> {
    let Some(devs) = spec.linux().as_ref().and_then(|l| l.net_devices().as_ref()) else {
        return BTreeMap::new();
    };
    devs.iter()
        .map(|(host, d)| {
            let name = d
                .name()
                .as_deref()
                .filter(|n| !n.is_empty())
                .unwrap_or(host);
            (host.clone(), name.to_string())
        })
        .collect()
}

/// What the kernel takes as an interface name (dev_valid_name).
fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() < IFNAMSIZ
        && n != "."
        && n != ".."
        && !n
            .chars()
            .any(|c| c == '/' || c == ':' || c.is_whitespace() || c == '\0')
}

/// Names valid and unique in the container, a network namespace for them, each host
/// interface present in corral's network namespace; an error is `(field, why)`.
pub fn check(spec: &Spec) -> std::result::Result<(), (String, String)> {
    let devs = devices(spec);
    if devs.is_empty() {
        return Ok(());
    }
    let netns = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .into_iter()
        .flatten()
        .any(|ns| ns.typ() == LinuxNamespaceType::Network);
    if !netns {
        return Err((
            FIELD.into(),
            "needs a network namespace in linux.namespaces (without one the container \
             shares corral's, where the interfaces already are)"
                .into(),
        ));
    }
    let rtnl = Rtnl::open().map_err(|e| (FIELD.to_string(), format!("netlink socket: {e}")))?;
    let mut seen = HashSet::new();
    for (host, name) in &devs {
        let field = format!("{FIELD}.{host}");
        if !valid_name(host) {
            return Err((
                field,
                "is not an interface name (1 to 15 bytes, no '/', ':' or space)".into(),
            ));
        }
        if !valid_name(name) {
            return Err((
                format!("{field}.name"),
                format!("{name:?} is not an interface name (1 to 15 bytes, no '/', ':' or space)"),
            ));
        }
        if !seen.insert(name) {
            return Err((
                format!("{field}.name"),
                format!("{name:?} is given to two interfaces"),
            ));
        }
        if let Err(e) = rtnl.index(host) {
            return Err((
                field,
                format!("no such interface in corral's network namespace ({e})"),
            ));
        }
    }
    Ok(())
}

/// Moves the devices of `spec` into the network namespace of `pid` (the container's
/// init, not yet started), pinning that namespace in `dir`.
pub fn move_in(dir: &StateDir, spec: &Spec, pid: i32) -> Result<()> {
    let devs = devices(spec);
    if devs.is_empty() {
        return Ok(());
    }
    // Made and mounted on through the state dir's fd: no path is followed twice.
    let pin = dir.open_at(PIN, OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY)?;
    let ns = format!("/proc/{pid}/ns/net");
    let onto = format!("/proc/self/fd/{}", pin.as_raw_fd());
    mount(
        Some(ns.as_str()),
        onto.as_str(),
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|e| {
        let at = dir.dir.join(PIN);
        Error::sys(format!("{FIELD}: bind {ns} on {}", at.display()), e)
    })?;
    drop(pin);
    let netns = open_ns(dir)?;
    let rtnl = Rtnl::open().map_err(|e| Error::sys(format!("{FIELD}: netlink socket"), e))?;
    let mut moves: Vec<Move> = vec![];
    for (host, name) in devs {
        // Recorded before the move: a move can fail half done (moved, not renamed).
        moves.push(Move {
            host,
            name,
            done: false,
        });
        save(dir, &moves)?;
        let m = moves.last_mut().expect("just pushed");
        let moved = rtnl
            .index(&m.host)
            .and_then(|i| rtnl.move_to(i, &netns, &m.name));
        moved.map_err(|e| {
            Error::sys(
                format!(
                    "{FIELD}.{}: move into the container's network namespace as {:?}",
                    m.host, m.name
                ),
                e,
            )
        })?;
        m.done = true;
    }
    save(dir, &moves)
}

/// One interface to move, and whether it is in the container under its name there.
#[derive(serde::Serialize, serde::Deserialize)]
struct Move {
    host: String,
    name: String,
    done: bool,
}

fn save(dir: &StateDir, moves: &[Move]) -> Result<()> {
    let data = serde_json::to_vec(moves).expect("moves serialise");
    dir.write(MOVES, &data)
}

/// The container's network namespace, through its pin in `dir`.
fn open_ns(dir: &StateDir) -> Result<OwnedFd> {
    let fd = dir.open_at(PIN, OFlag::O_RDONLY)?;
    let st = nix::sys::statfs::fstatfs(&fd)
        .map_err(|e| Error::sys(format!("statfs {}", dir.dir.join(PIN).display()), e))?;
    // The pin is an empty file until the namespace is bound on it.
    if st.filesystem_type() != nix::sys::statfs::NSFS_MAGIC {
        return Err(Error::Other(format!(
            "{FIELD}: {} is not a network namespace",
            dir.dir.join(PIN).display()
        )));
    }
    Ok(fd)
}

/// Moves back what `move_in` moved (each found in the container's namespace under its
/// container name goes back to corral's under its own), then unpins the namespace.
/// Problems are warnings: an interface that cannot go back must not keep the container.
pub fn restore(dir: &StateDir, warn: &dyn Fn(&str)) {
    if !dir.has(PIN) {
        return;
    }
    let pin = dir.dir.join(PIN);
    if let Err(e) = move_back(dir, warn) {
        warn(&e.to_string());
    }
    // The mount on the pin, reached through the state dir's fd (a symlink there is
    // opened as itself, and is no namespace): umount2 follows the fd's magic link to
    // that very mount.
    let unmounted = dir.open_at(PIN, OFlag::O_PATH).map_err(|e| e.to_string());
    let unmounted = unmounted.and_then(|fd| {
        let nsfs = nix::sys::statfs::fstatfs(&fd)
            .is_ok_and(|st| st.filesystem_type() == nix::sys::statfs::NSFS_MAGIC);
        if !nsfs {
            return Ok(());
        }
        let at = format!("/proc/self/fd/{}", fd.as_raw_fd());
        match umount2(at.as_str(), MntFlags::MNT_DETACH) {
            // Never mounted (create failed before the bind).
            Ok(()) | Err(nix::Error::EINVAL) => Ok(()),
            Err(e) => Err(format!("{FIELD}: unmount {}: {e}", pin.display())),
        }
    });
    if let Err(e) = unmounted {
        warn(&e);
    }
}

fn move_back(dir: &StateDir, warn: &dyn Fn(&str)) -> Result<()> {
    let moves: Vec<Move> = match dir.read(MOVES)? {
        Some(data) => serde_json::from_slice(&data)
            .map_err(|e| Error::Other(format!("{}: {e}", dir.dir.join(MOVES).display())))?,
        None => return Ok(()),
    };
    let container = open_ns(dir)?;
    let own = std::fs::File::open("/proc/thread-self/ns/net")
        .map(OwnedFd::from)
        .map_err(|e| {
            Error::io(
                "cannot open network namespace",
                "/proc/thread-self/ns/net",
                e,
            )
        })?;
    // A socket made in the container's namespace; corral goes straight back to its own.
    setns(&container, CloneFlags::CLONE_NEWNET).map_err(|e| {
        Error::sys(
            format!("{FIELD}: join the container's network namespace"),
            e,
        )
    })?;
    let rtnl = Rtnl::open();
    setns(&own, CloneFlags::CLONE_NEWNET)
        .map_err(|e| Error::sys(format!("{FIELD}: return to corral's network namespace"), e))?;
    let rtnl = rtnl.map_err(|e| Error::sys(format!("{FIELD}: netlink socket"), e))?;
    for m in &moves {
        // The move that failed went no further than the container's namespace, with
        // the host's name (the kernel moves first, then renames), if it went there.
        let now = if m.done { &m.name } else { &m.host };
        match rtnl.index(now).and_then(|i| rtnl.move_to(i, &own, &m.host)) {
            // Never moved in, or gone with its peer.
            Ok(()) | Err(nix::Error::ENODEV) => {}
            Err(e) => warn(&format!(
                "{FIELD}.{}: cannot move {now:?} back to corral's network namespace: {e}",
                m.host
            )),
        }
    }
    Ok(())
}
