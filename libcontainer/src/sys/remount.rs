//! Mount attributes on kernels without mount_setattr(2) (before Linux 5.12: Debian 11,
//! Ubuntu 20.04, Amazon Linux 2), chosen at run time by what the kernel answers.
//!
//! With mount_setattr a tree gets its attributes while it is detached, and whole trees
//! at once (`rro`, `rnosuid`, …). Without it the only way is mount(2) with
//! `MS_REMOUNT | MS_BIND`, which the kernel refuses on a detached tree (it is in no
//! mount namespace of ours): the tree is attached first and then remounted, each mount
//! of it on its own for a recursive attribute, as runc does. So a read-only bind is
//! writable for an instant after it is attached. Nothing of the container runs yet
//! then, and the mount is in the container's own mount namespace, whose mounts do not
//! propagate back (`/` is made a recursive slave first); only a container without a
//! mount namespace of its own shows that instant in the host's mount table.
//!
//! Each remount keeps the flags the mount has (read with fstatvfs): a bind remount
//! replaces all of them, and one that dropped a flag locked by a user namespace would
//! be refused. A submount is reached by its mount point in /proc/self/mountinfo and
//! checked to be that very mount (its mount id) before it is changed: a path that led
//! elsewhere (a symlink swapped in, a mount stacked on top) is refused, never followed.

use super::mount::{self as m, MountAttr};
use nix::errno::Errno;
use nix::mount::MsFlags;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicU8, Ordering};

/// 0: not asked yet, 1: the kernel has mount_setattr, 2: it has not.
static SETATTR: AtomicU8 = AtomicU8::new(0);

/// Whether the kernel has mount_setattr(2) (Linux 5.12), asked once: an empty change,
/// which the kernel accepts as a no-op where the call exists and answers ENOSYS where
/// it does not.
pub fn has_mount_setattr() -> bool {
    match SETATTR.load(Ordering::Relaxed) {
        1 => true,
        2 => false,
        _ => {
            let has = m::setattr(m::cwd(), false, &MountAttr::default()) != Err(Errno::ENOSYS);
            SETATTR.store(if has { 1 } else { 2 }, Ordering::Relaxed);
            has
        }
    }
}

/// A failed step: what was done (the call and, for a submount, its mount point) and
/// the kernel's answer.
#[derive(Debug)]
pub struct Failed {
    pub step: String,
    pub errno: Errno,
}

impl Failed {
    fn new(step: impl Into<String>) -> impl FnOnce(Errno) -> Failed {
        let step = step.into();
        move |errno| Failed { step, errno }
    }
}

/// Gives the detached tree `tree` the attributes `top` (its top mount) and `rec` (every
/// mount of it), then attaches it on `target`. Without mount_setattr: attach, then
/// remount (see the module's comment).
pub fn attach_with(
    tree: BorrowedFd,
    target: BorrowedFd,
    top: &MountAttr,
    rec: &MountAttr,
) -> Result<(), Failed> {
    let attach = || m::attach(tree, target).map_err(Failed::new("move_mount"));
    if has_mount_setattr() {
        for (attr, recursive) in [(top, false), (rec, true)] {
            if !attr.is_empty() {
                m::setattr(tree, recursive, attr).map_err(Failed::new(setattr_step(attr)))?;
            }
        }
        return attach();
    }
    attach()?;
    set_attached(tree, false, top)?;
    set_attached(tree, true, rec)
}

/// Sets `attr` on the attached mount `fd` is the root of (and every mount below it
/// with `recursive`): mount_setattr, or remounts on kernels without it.
pub fn set_attached(fd: BorrowedFd, recursive: bool, attr: &MountAttr) -> Result<(), Failed> {
    if attr.is_empty() {
        return Ok(());
    }
    if has_mount_setattr() {
        return m::setattr(fd, recursive, attr).map_err(Failed::new(setattr_step(attr)));
    }
    remount_tree(fd, recursive, attr)
}

/// The fallback of [`set_attached`]: a bind remount of the mount `fd` is the root of and,
/// with `recursive`, of each mount below it, parents first.
fn remount_tree(fd: BorrowedFd, recursive: bool, attr: &MountAttr) -> Result<(), Failed> {
    let top = format!("/proc/self/fd/{}", fd.as_raw_fd());
    remount(fd, &top, attr)?;
    if recursive {
        for (id, point) in submounts(fd)? {
            let sub = open_submount(id, &point)?;
            let path = format!("/proc/self/fd/{}", sub.as_raw_fd());
            remount(sub.as_fd(), &path, attr).map_err(|f| Failed {
                step: format!("{} of the submount {point}", f.step),
                errno: f.errno,
            })?;
        }
    }
    Ok(())
}

/// Sets `attr` on the mount at `path` alone, which `fd` is opened on (`/`, for
/// `root.readonly`, which needs no /proc to be reached).
pub fn set_at_path(fd: BorrowedFd, path: &str, attr: &MountAttr) -> Result<(), Failed> {
    if has_mount_setattr() {
        return m::setattr(fd, false, attr).map_err(Failed::new(setattr_step(attr)));
    }
    remount(fd, path, attr)
}

/// A propagation type (`MS_SHARED`, … with `MS_REC` for the whole tree) on the attached
/// mount `fd` is the root of.
pub fn set_propagation(fd: BorrowedFd, flag: MsFlags) -> Result<(), Failed> {
    if has_mount_setattr() {
        let attr = MountAttr {
            propagation: (flag - MsFlags::MS_REC).bits(),
            ..Default::default()
        };
        return m::setattr(fd, flag.contains(MsFlags::MS_REC), &attr)
            .map_err(Failed::new("set propagation (mount_setattr)"));
    }
    let path = format!("/proc/self/fd/{}", fd.as_raw_fd());
    nix::mount::mount(
        None::<&str>,
        path.as_str(),
        None::<&str>,
        flag,
        None::<&str>,
    )
    .map_err(Failed::new("set propagation (mount)"))
}

/// The step named in an error.
pub fn setattr_step(attr: &MountAttr) -> String {
    format!(
        "mount_setattr(set {:#x}, clear {:#x})",
        attr.attr_set, attr.attr_clr
    )
}

/// statvfs flag bits (`ST_*`) and the mount attributes they are.
const ST_ATTRS: &[(u64, u64)] = &[
    (libc::ST_RDONLY, m::MOUNT_ATTR_RDONLY),
    (libc::ST_NOSUID, m::MOUNT_ATTR_NOSUID),
    (libc::ST_NODEV, m::MOUNT_ATTR_NODEV),
    (libc::ST_NOEXEC, m::MOUNT_ATTR_NOEXEC),
    (libc::ST_NODIRATIME, m::MOUNT_ATTR_NODIRATIME),
    // ST_NOSYMFOLLOW (Linux 5.10), which libc does not name.
    (0x2000, m::MOUNT_ATTR_NOSYMFOLLOW),
];

/// The mount attributes of the mount `fd` is on, from fstatvfs(2).
fn attrs_of(fd: BorrowedFd) -> Result<u64, Errno> {
    // SAFETY: statvfs is plain data; zeroed is a valid value for the kernel to fill.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: fd is open and st a valid statvfs to write.
    Errno::result(unsafe { libc::fstatvfs(fd.as_raw_fd(), &mut st) })?;
    let f = st.f_flag;
    let mut a = ST_ATTRS
        .iter()
        .filter(|(st, _)| f & st != 0)
        .fold(0, |a, (_, attr)| a | attr);
    // No ST_ flag of its own: neither noatime nor relatime is strictatime.
    a |= if f & libc::ST_NOATIME != 0 {
        m::MOUNT_ATTR_NOATIME
    } else if f & libc::ST_RELATIME != 0 {
        m::MOUNT_ATTR_RELATIME
    } else {
        m::MOUNT_ATTR_STRICTATIME
    };
    Ok(a)
}

/// mount(2) flags of a bind remount giving a mount exactly the attributes `a`.
fn ms_flags(a: u64) -> MsFlags {
    let mut f = MsFlags::MS_REMOUNT | MsFlags::MS_BIND;
    for (ms, attr) in [
        (MsFlags::MS_RDONLY, m::MOUNT_ATTR_RDONLY),
        (MsFlags::MS_NOSUID, m::MOUNT_ATTR_NOSUID),
        (MsFlags::MS_NODEV, m::MOUNT_ATTR_NODEV),
        (MsFlags::MS_NOEXEC, m::MOUNT_ATTR_NOEXEC),
        (MsFlags::MS_NODIRATIME, m::MOUNT_ATTR_NODIRATIME),
        (MsFlags::from_bits_retain(256), m::MOUNT_ATTR_NOSYMFOLLOW),
    ] {
        if a & attr != 0 {
            f |= ms;
        }
    }
    f | match a & m::MOUNT_ATTR_ATIME {
        m::MOUNT_ATTR_NOATIME => MsFlags::MS_NOATIME,
        m::MOUNT_ATTR_STRICTATIME => MsFlags::MS_STRICTATIME,
        _ => MsFlags::MS_RELATIME,
    }
}

/// One bind remount of the mount at `path` (which `fd` is opened on) with its own
/// attributes changed by `attr`; none when nothing would change.
fn remount(fd: BorrowedFd, path: &str, attr: &MountAttr) -> Result<(), Failed> {
    let cur = attrs_of(fd).map_err(Failed::new("fstatvfs"))?;
    let new = (cur & !attr.attr_clr) | attr.attr_set;
    if new == cur {
        return Ok(());
    }
    let flags = ms_flags(new);
    nix::mount::mount(None::<&str>, path, None::<&str>, flags, None::<&str>)
        .map_err(Failed::new(format!("mount(MS_REMOUNT|MS_BIND, {flags:?})")))
}

/// The mount id of the mount `fd` is on: statx(2) with STATX_MNT_ID (Linux 5.8; reads no
/// /proc file, which a non-dumpable init in a user namespace may not open).
fn mount_id(fd: BorrowedFd) -> Result<u64, Failed> {
    const STATX_MNT_ID: u32 = 0x1000;
    // SAFETY: statx is plain data; zeroed is a valid value for the kernel to fill.
    let mut st: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: the path is an empty NUL-terminated string and st a valid statx to write.
    let ret = unsafe {
        libc::statx(
            fd.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            STATX_MNT_ID,
            &mut st,
        )
    };
    Errno::result(ret).map_err(Failed::new("statx(STATX_MNT_ID)"))?;
    if st.stx_mask & STATX_MNT_ID == 0 {
        return Err(Failed {
            step: "statx(STATX_MNT_ID): no mount id from this kernel (Linux 5.8 has it)".into(),
            errno: Errno::ENOSYS,
        });
    }
    Ok(st.stx_mnt_id)
}

/// Every mount below the one `fd` is the root of, parents first: (mount id, mount point).
fn submounts(fd: BorrowedFd) -> Result<Vec<(u64, String)>, Failed> {
    let top = mount_id(fd)?;
    // thread-self: the mount namespace is per thread (the init has one thread; a test more).
    let text = std::fs::read_to_string("/proc/thread-self/mountinfo").map_err(|e| Failed {
        step: "read /proc/thread-self/mountinfo".into(),
        errno: Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)),
    })?;
    Ok(descendants(&text, top))
}

fn descendants(mountinfo: &str, top: u64) -> Vec<(u64, String)> {
    let mounts: Vec<(u64, u64, String)> = mountinfo
        .lines()
        .filter_map(|l| {
            let mut f = l.split(' ');
            let id = f.next()?.parse().ok()?;
            let parent = f.next()?.parse().ok()?;
            let point = f.nth(2)?;
            Some((id, parent, unescape(point)))
        })
        .collect();
    let mut out: Vec<(u64, String)> = vec![];
    let mut next = 0;
    let mut parents = vec![top];
    while next < parents.len() {
        let p = parents[next];
        next += 1;
        for (id, parent, point) in &mounts {
            if *parent == p && *id != p && !parents.contains(id) {
                parents.push(*id);
                out.push((*id, point.clone()));
            }
        }
    }
    out
}

/// mountinfo writes space, tab, newline and backslash as `\ooo`.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let oct = b
            .get(i + 1..i + 4)
            .filter(|o| o.iter().all(|c| (b'0'..=b'7').contains(c)));
        match (b[i], oct) {
            (b'\\', Some(o)) => {
                out.push(o.iter().fold(0u8, |v, c| v.wrapping_mul(8) + (c - b'0')));
                i += 4;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The submount `id` opened at its mount point, checked to be that mount.
fn open_submount(id: u64, point: &str) -> Result<OwnedFd, Failed> {
    let fd = super::open(
        point,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_NOFOLLOW | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(Failed::new(format!("open the submount {point}")))?;
    if mount_id(fd.as_fd())? != id {
        return Err(Failed {
            step: format!(
                "reach the submount {point} (its path leads to another mount: it is covered or \
                 was replaced, so it cannot be remounted without mount_setattr of Linux 5.12)"
            ),
            errno: Errno::EBUSY,
        });
    }
    Ok(fd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descendants_parents_first() {
        let mi = "\
20 1 0:1 / / rw - ext4 x rw
30 20 0:2 / /r rw - tmpfs t rw
31 30 0:3 / /r/a\\040b rw - tmpfs t rw
32 31 0:4 / /r/a\\040b/c rw - tmpfs t rw
33 20 0:5 / /other rw - tmpfs t rw
34 30 0:6 / /r/d rw - tmpfs t rw";
        let d = descendants(mi, 30);
        assert_eq!(
            d,
            vec![
                (31, "/r/a b".to_string()),
                (34, "/r/d".to_string()),
                (32, "/r/a b/c".to_string())
            ]
        );
    }

    /// The fallback itself, on whatever kernel runs the tests: an rbind of a tmpfs with a
    /// tmpfs below it, attached, then made read-only by remounts; the source stays
    /// writable. In a mount namespace of this test's own thread; skipped without root.
    #[test]
    fn remount_tree_reaches_submounts() {
        if !nix::unistd::geteuid().is_root() {
            return;
        }
        let r = std::thread::spawn(|| -> Result<(), String> {
            use nix::mount::{mount, umount2, MntFlags};
            let e = |what: &str| {
                let what = what.to_string();
                move |e: Errno| format!("{what}: {e}")
            };
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).map_err(e("unshare"))?;
            let none = None::<&str>;
            mount(none, "/", none, MsFlags::MS_PRIVATE | MsFlags::MS_REC, none)
                .map_err(e("make / private"))?;
            let dir = std::env::temp_dir().join(format!("corral-remount-{}", std::process::id()));
            let (a, b) = (dir.join("a"), dir.join("b"));
            std::fs::create_dir_all(&a)
                .and_then(|_| std::fs::create_dir_all(&b))
                .map_err(|e| e.to_string())?;
            mount(Some("tmpfs"), &a, Some("tmpfs"), MsFlags::empty(), none).map_err(e("tmpfs"))?;
            std::fs::create_dir(a.join("sub")).map_err(|e| e.to_string())?;
            mount(
                Some("tmpfs"),
                &a.join("sub"),
                Some("tmpfs"),
                MsFlags::empty(),
                none,
            )
            .map_err(e("sub tmpfs"))?;
            let tree = m::clone_tree(m::cwd(), &a, true).map_err(e("open_tree"))?;
            let target =
                super::super::open(&b, nix::fcntl::OFlag::O_PATH, nix::sys::stat::Mode::empty())
                    .map_err(e("open b"))?;
            m::attach(tree.as_fd(), target.as_fd()).map_err(e("move_mount"))?;
            let ro = MountAttr {
                attr_set: m::MOUNT_ATTR_RDONLY,
                ..Default::default()
            };
            let done = remount_tree(tree.as_fd(), true, &ro)
                .map_err(|f| format!("{}: {}", f.step, f.errno));
            let ro_at = |p: &std::path::Path| {
                nix::sys::statvfs::statvfs(p)
                    .map(|s| s.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY))
            };
            let seen = [
                ro_at(&b),
                ro_at(&b.join("sub")),
                ro_at(&a),
                ro_at(&a.join("sub")),
            ];
            drop((tree, target));
            let _ = umount2(&b, MntFlags::MNT_DETACH);
            let _ = umount2(&a, MntFlags::MNT_DETACH);
            let _ = std::fs::remove_dir_all(&dir);
            done?;
            if seen != [Ok(true), Ok(true), Ok(false), Ok(false)] {
                return Err(format!("read-only at b, b/sub, a, a/sub: {seen:?}"));
            }
            Ok(())
        })
        .join()
        .expect("the test thread panicked");
        r.unwrap();
    }

    #[test]
    fn flags_round_trip() {
        let a = m::MOUNT_ATTR_RDONLY | m::MOUNT_ATTR_NOSUID | m::MOUNT_ATTR_NOATIME;
        assert_eq!(
            ms_flags(a),
            MsFlags::MS_REMOUNT
                | MsFlags::MS_BIND
                | MsFlags::MS_RDONLY
                | MsFlags::MS_NOSUID
                | MsFlags::MS_NOATIME
        );
        assert!(ms_flags(m::MOUNT_ATTR_RELATIME).contains(MsFlags::MS_RELATIME));
    }
}
