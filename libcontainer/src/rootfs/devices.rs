//! `linux.devices`, the default devices every container gets, and the /dev links.
//!
//! A node is made with mknodat(2) in its parent directory, opened inside the rootfs.
//! In a user namespace mknod is refused, so the host's node of the same path is bound
//! onto an empty file instead, as runc does.

use super::kernel_err;
use super::paths::{self, InRoot, Kind};
use crate::sys::mount as m;
use crate::{Error, Result};
use nix::errno::Errno;
use nix::sys::stat::{makedev, Mode, SFlag};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// (name, major, minor): runtime-spec `config-linux.md`, "Default Devices".
const DEFAULT: &[(&str, u64, u64)] = &[
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

/// One node to make.
struct Node {
    path: PathBuf,
    kind: SFlag,
    major: u64,
    minor: u64,
    mode: u32,
    uid: u32,
    gid: u32,
}

impl Node {
    fn from_spec(d: &LinuxDevice, i: usize) -> Result<Self> {
        let (major, minor) =
            numbers(d, i).map_err(|(field, msg)| Error::Other(format!("{field}: {msg}")))?;
        let kind = match d.typ() {
            LinuxDeviceType::B => SFlag::S_IFBLK,
            LinuxDeviceType::P => SFlag::S_IFIFO,
            // c, u, and a (validation refuses "a" here).
            _ => SFlag::S_IFCHR,
        };
        Ok(Node {
            path: d.path().clone(),
            kind,
            major: major.into(),
            minor: minor.into(),
            mode: d.file_mode().unwrap_or(0o666) & 0o7777,
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
        })
    }

    fn rdev(&self) -> u64 {
        if self.kind == SFlag::S_IFIFO {
            0
        } else {
            makedev(self.major, self.minor)
        }
    }
}

/// The largest major and minor a node can have: mknod(2) takes a 32-bit `dev` that the
/// kernel splits into 12 bits of major and 20 of minor (`new_decode_dev`); glibc's
/// `makedev` would put larger numbers in bits the call drops, and the node would get
/// other numbers than the ones asked for.
const MAX_MAJOR: u32 = (1 << 12) - 1;
const MAX_MINOR: u32 = (1 << 20) - 1;

/// The checked numbers of node `i` of `linux.devices`; on error, (field, why). A fifo
/// (`p`) has none: its numbers are not used.
pub(crate) fn numbers(
    d: &LinuxDevice,
    i: usize,
) -> std::result::Result<(u32, u32), (String, String)> {
    if d.typ() == LinuxDeviceType::P {
        return Ok((0, 0));
    }
    let number = |v: i64, name: &str, max: u32| {
        u32::try_from(v).ok().filter(|n| *n <= max).ok_or_else(|| {
            (
                format!("linux.devices[{i}].{name}"),
                format!("{v} is not a device {name} number (0 to {max})"),
            )
        })
    };
    Ok((
        number(d.major(), "major", MAX_MAJOR)?,
        number(d.minor(), "minor", MAX_MINOR)?,
    ))
}

/// `linux.devices`, then the default devices it does not name.
pub fn create(root: &InRoot, devices: &[LinuxDevice], in_userns: bool) -> Result<()> {
    let mut dirs = Dirs::default();
    for (i, d) in devices.iter().enumerate() {
        make(root, &mut dirs, &Node::from_spec(d, i)?, in_userns, false)
            .map_err(|e| Error::Other(format!("linux.devices[{i}] {}: {e}", d.path().display())))?;
    }
    for (name, major, minor) in DEFAULT {
        let path = Path::new("/dev").join(name);
        if devices.iter().any(|d| d.path() == &path) {
            continue;
        }
        let node = Node {
            path,
            kind: SFlag::S_IFCHR,
            major: *major,
            minor: *minor,
            mode: 0o666,
            uid: 0,
            gid: 0,
        };
        make(root, &mut dirs, &node, in_userns, true)
            .map_err(|e| Error::Other(format!("default device /dev/{name}: {e}")))?;
    }
    Ok(())
}

/// The parent directory of the last node made, kept for the next node with the same
/// parent (the six default devices share /dev: one resolution instead of six). A node
/// made there cannot change what the parent resolves to: mknod makes no directory or
/// symlink, and a replaced node is one name in it.
#[derive(Default)]
struct Dirs(Option<(PathBuf, OwnedFd)>);

impl Dirs {
    fn get(&mut self, root: &InRoot, parent: &Path) -> Result<&OwnedFd> {
        if !matches!(&self.0, Some((p, _)) if p == parent) {
            self.0 = Some((parent.to_path_buf(), root.mkdir_all(parent)?));
        }
        Ok(&self.0.as_ref().expect("just set").1)
    }
}

/// Makes `node`; a different file already at its path is an error, or with `replace`
/// (the default devices, which the spec requires whatever the image has) is replaced.
fn make(root: &InRoot, dirs: &mut Dirs, node: &Node, in_userns: bool, replace: bool) -> Result<()> {
    crate::trace::step(|| {
        let kind = match node.kind {
            SFlag::S_IFBLK => 'b',
            SFlag::S_IFIFO => 'p',
            _ => 'c',
        };
        let how = if in_userns {
            "bind of the host's node"
        } else {
            "mknod"
        };
        format!(
            "device {} {kind} {}:{} mode {:o} uid {} gid {} ({how})",
            node.path.display(),
            node.major,
            node.minor,
            node.mode,
            node.uid,
            node.gid
        )
    });
    if in_userns {
        return bind_host_node(root, node);
    }
    let (parent, name) = paths::split(&node.path)
        .ok_or_else(|| Error::Other("the path does not end in a name".into()))?;
    let dir = dirs.get(root, parent)?;
    let mknod = || {
        // The init runs with umask 0: the mode is exactly the one asked for.
        nix::sys::stat::mknodat(
            Some(dir.as_raw_fd()),
            name,
            node.kind,
            Mode::from_bits_truncate(node.mode),
            node.rdev(),
        )
    };
    match mknod() {
        Ok(()) | Err(Errno::EEXIST) => {}
        Err(e) => return Err(Error::sys("mknod", e)),
    }
    // The name's own file (a symlink there is that symlink, never its target), looked at
    // in the directory the node was made in: one call, no fd to open and close.
    let stat = || {
        nix::sys::stat::fstatat(
            Some(dir.as_raw_fd()),
            name,
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(|e| Error::sys("stat", e))
        .and_then(|st| check(&st, node))
    };
    let mut st = stat();
    if let Err(e) = st {
        if !replace {
            return Err(e);
        }
        nix::unistd::unlinkat(
            Some(dir.as_raw_fd()),
            name,
            nix::unistd::UnlinkatFlags::NoRemoveDir,
        )
        .map_err(|e| Error::sys("remove what the image has there", e))?;
        mknod().map_err(|e| Error::sys("mknod", e))?;
        st = stat();
    }
    let st = st?;
    // A node mknod just made is root's, with the mode asked for: nothing more to do.
    if st.st_uid == node.uid && st.st_gid == node.gid && st.st_mode & 0o7777 == node.mode {
        return Ok(());
    }
    // Owner and mode through an fd, checked again, so a name swapped after the stat is
    // not what changes.
    let fd = nix::fcntl::openat(
        Some(dir.as_raw_fd()),
        name,
        nix::fcntl::OFlag::from_bits_truncate(libc::O_PATH | libc::O_NOFOLLOW | libc::O_CLOEXEC),
        Mode::empty(),
    )
    .map_err(|e| Error::sys("open", e))?;
    // SAFETY: openat returned a new fd that nothing else owns.
    let fd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    let st = nix::sys::stat::fstat(fd.as_raw_fd())
        .map_err(|e| Error::sys("stat", e))
        .and_then(|st| check(&st, node))?;
    if st.st_uid != node.uid || st.st_gid != node.gid {
        chown_empty_path(&fd, node)?;
    }
    if st.st_mode & 0o7777 == node.mode {
        return Ok(());
    }
    let proc_path = format!("/proc/self/fd/{}", fd.as_raw_fd());
    nix::sys::stat::fchmodat(
        None,
        proc_path.as_str(),
        Mode::from_bits_truncate(node.mode),
        nix::sys::stat::FchmodatFlags::FollowSymlink,
    )
    .map_err(|e| Error::sys("chmod", e))
}

/// fchownat(fd, "", AT_EMPTY_PATH), which nix's flags cannot express.
fn chown_empty_path(fd: &OwnedFd, node: &Node) -> Result<()> {
    // SAFETY: an empty NUL-terminated path and plain integers.
    let ret = unsafe {
        libc::fchownat(
            fd.as_raw_fd(),
            c"".as_ptr(),
            node.uid,
            node.gid,
            libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    Errno::result(ret)
        .map(drop)
        .map_err(|e| Error::sys("chown", e))
}

/// A file already there must be the device asked for (the spec requires an error).
/// Returns the node's stat, for the owner and mode already there.
fn check(st: &nix::sys::stat::FileStat, node: &Node) -> Result<nix::sys::stat::FileStat> {
    let kind = st.st_mode & libc::S_IFMT;
    if kind != node.kind.bits() || (node.kind != SFlag::S_IFIFO && st.st_rdev != node.rdev()) {
        return Err(Error::Other(format!(
            "a different file is already there (mode {:o}, device {}:{})",
            st.st_mode,
            libc::major(st.st_rdev),
            libc::minor(st.st_rdev)
        )));
    }
    Ok(*st)
}

fn bind_host_node(root: &InRoot, node: &Node) -> Result<()> {
    let target = root.target(&node.path, Kind::File)?;
    let tree = m::clone_tree(m::cwd(), &node.path, false)
        .map_err(|e| kernel_err(format!("bind the host's {}", node.path.display()), e))?;
    m::attach(tree.as_fd(), target.as_fd())
        .map_err(|e| kernel_err(format!("bind the host's {}", node.path.display()), e))
}

/// /dev/fd, /dev/std{in,out,err}, /dev/ptmx (to the devpts instance) and /dev/core.
pub fn links(root: &InRoot) -> Result<()> {
    let dev = root.mkdir_all(Path::new("/dev"))?;
    let mut links = vec![
        ("/proc/self/fd", "fd"),
        ("/proc/self/fd/0", "stdin"),
        ("/proc/self/fd/1", "stdout"),
        ("/proc/self/fd/2", "stderr"),
    ];
    if Path::new("/proc/kcore").exists() {
        links.push(("/proc/kcore", "core"));
    }
    for (to, name) in links {
        match nix::unistd::symlinkat(to, Some(dev.as_raw_fd()), name) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(Error::sys(format!("cannot link /dev/{name}"), e)),
        }
    }
    // /dev/ptmx must be the devpts instance's: replace whatever the image has.
    let _ = nix::unistd::unlinkat(
        Some(dev.as_raw_fd()),
        "ptmx",
        nix::unistd::UnlinkatFlags::NoRemoveDir,
    );
    nix::unistd::symlinkat("pts/ptmx", Some(dev.as_raw_fd()), "ptmx")
        .map_err(|e| Error::sys("cannot link /dev/ptmx", e))
}
