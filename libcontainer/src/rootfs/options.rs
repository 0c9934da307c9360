//! Mount options of `config.json` mapped to mount(2) flags, propagation changes and
//! filesystem data, as `mount(8)` and runc read them.

use crate::sys::mount::{self as m, MountAttr};
use nix::mount::MsFlags;

/// Whether and how a bind mount is idmapped (`idmap`, `ridmap`, or mappings on the mount).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Idmap {
    /// The top mount only.
    Top,
    /// Every mount of an `rbind`.
    Recursive,
}

#[derive(Debug, PartialEq)]
pub struct Parsed {
    /// mount(2) flags the plain options leave set (later options win).
    pub flags: MsFlags,
    /// Flags a plain option cleared (`rw`, `suid`, …) and none set again.
    pub cleared: MsFlags,
    /// The recursive attributes (`rro`, `rnosuid`, …), for the whole tree.
    pub rec: MountAttr,
    /// Propagation changes, applied one by one after the mount.
    pub propagation: Vec<MsFlags>,
    /// Options the kernel's mount flags do not know: passed as filesystem data.
    pub data: Vec<String>,
    /// `bind` or `rbind` was given.
    pub bind: bool,
    /// `tmpcopyup`: the new tmpfs starts with a copy of what it covers.
    pub tmpcopyup: bool,
    pub idmap: Option<Idmap>,
    /// The atime mode the last atime option chose (a `MOUNT_ATTR_*` mode).
    pub atime: Option<u64>,
}

impl Default for Parsed {
    fn default() -> Self {
        Parsed {
            flags: MsFlags::empty(),
            cleared: MsFlags::empty(),
            rec: MountAttr::default(),
            propagation: vec![],
            data: vec![],
            bind: false,
            tmpcopyup: false,
            idmap: None,
            atime: None,
        }
    }
}

/// MS_NOSYMFOLLOW (Linux 5.10), which nix does not name.
const MS_NOSYMFOLLOW: MsFlags = MsFlags::from_bits_retain(256);

/// `(option, clears, flag)`: a clearing option removes the flag a setting one adds.
const FLAGS: &[(&str, bool, MsFlags)] = &[
    // mount(8)'s "defaults" are the kernel's defaults: nothing to set.
    ("defaults", false, MsFlags::empty()),
    ("ro", false, MsFlags::MS_RDONLY),
    ("rw", true, MsFlags::MS_RDONLY),
    ("nosuid", false, MsFlags::MS_NOSUID),
    ("suid", true, MsFlags::MS_NOSUID),
    ("nodev", false, MsFlags::MS_NODEV),
    ("dev", true, MsFlags::MS_NODEV),
    ("noexec", false, MsFlags::MS_NOEXEC),
    ("exec", true, MsFlags::MS_NOEXEC),
    ("sync", false, MsFlags::MS_SYNCHRONOUS),
    ("async", true, MsFlags::MS_SYNCHRONOUS),
    ("dirsync", false, MsFlags::MS_DIRSYNC),
    ("remount", false, MsFlags::MS_REMOUNT),
    ("mand", false, MsFlags::MS_MANDLOCK),
    ("nomand", true, MsFlags::MS_MANDLOCK),
    ("noatime", false, MsFlags::MS_NOATIME),
    ("atime", true, MsFlags::MS_NOATIME),
    ("nodiratime", false, MsFlags::MS_NODIRATIME),
    ("diratime", true, MsFlags::MS_NODIRATIME),
    ("relatime", false, MsFlags::MS_RELATIME),
    ("norelatime", true, MsFlags::MS_RELATIME),
    ("strictatime", false, MsFlags::MS_STRICTATIME),
    ("nostrictatime", true, MsFlags::MS_STRICTATIME),
    ("lazytime", false, MsFlags::MS_LAZYTIME),
    ("nolazytime", true, MsFlags::MS_LAZYTIME),
    ("nosymfollow", false, MS_NOSYMFOLLOW),
    ("symfollow", true, MS_NOSYMFOLLOW),
    // No fsconfig(2) key sets these on a new filesystem: `silent` only quiets the
    // kernel log at mount time (corral reports the fs context's own log), and the
    // filesystems that keep i_version (ext4 since Linux 6.2, xfs, btrfs) always do.
    // They reach mount(2) with `remount`, and are never filesystem data.
    ("silent", false, MsFlags::MS_SILENT),
    ("loud", true, MsFlags::MS_SILENT),
    ("iversion", false, MsFlags::MS_I_VERSION),
    ("noiversion", true, MsFlags::MS_I_VERSION),
    ("bind", false, MsFlags::MS_BIND),
    ("rbind", false, MsFlags::MS_BIND.union(MsFlags::MS_REC)),
];

/// The propagation type an option or `rootfsPropagation` names.
pub fn propagation(name: &str) -> Option<MsFlags> {
    let rec = MsFlags::MS_REC;
    Some(match name {
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | rec,
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | rec,
        "slave" => MsFlags::MS_SLAVE,
        "rslave" => MsFlags::MS_SLAVE | rec,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | rec,
        _ => return None,
    })
}

/// `(option, set, attribute)` of the recursive options: `rro` sets MOUNT_ATTR_RDONLY on
/// every mount of the tree, `rrw` clears it.
const RECURSIVE: &[(&str, bool, u64)] = &[
    ("rro", true, m::MOUNT_ATTR_RDONLY),
    ("rrw", false, m::MOUNT_ATTR_RDONLY),
    ("rnosuid", true, m::MOUNT_ATTR_NOSUID),
    ("rsuid", false, m::MOUNT_ATTR_NOSUID),
    ("rnodev", true, m::MOUNT_ATTR_NODEV),
    ("rdev", false, m::MOUNT_ATTR_NODEV),
    ("rnoexec", true, m::MOUNT_ATTR_NOEXEC),
    ("rexec", false, m::MOUNT_ATTR_NOEXEC),
    ("rnodiratime", true, m::MOUNT_ATTR_NODIRATIME),
    ("rdiratime", false, m::MOUNT_ATTR_NODIRATIME),
    ("rnosymfollow", true, m::MOUNT_ATTR_NOSYMFOLLOW),
    ("rsymfollow", false, m::MOUNT_ATTR_NOSYMFOLLOW),
];

/// The atime mode an option chooses. Clearing a mode (`atime`, `norelatime`,
/// `nostrictatime`) gives the kernel's default, relatime, as it does for mount(2).
fn atime_mode(option: &str) -> Option<u64> {
    Some(match option {
        "noatime" => m::MOUNT_ATTR_NOATIME,
        "strictatime" => m::MOUNT_ATTR_STRICTATIME,
        "relatime" | "atime" | "norelatime" | "nostrictatime" => m::MOUNT_ATTR_RELATIME,
        _ => return None,
    })
}

/// Every option corral knows (anything else is filesystem data): what `features` lists.
pub fn known() -> Vec<&'static str> {
    let mut v: Vec<&str> = FLAGS.iter().map(|(n, _, _)| *n).collect();
    v.extend(RECURSIVE.iter().map(|(n, _, _)| *n));
    v.extend([
        "rnoatime",
        "ratime",
        "rrelatime",
        "rnorelatime",
        "rstrictatime",
        "rnostrictatime",
        "private",
        "rprivate",
        "shared",
        "rshared",
        "slave",
        "rslave",
        "unbindable",
        "runbindable",
        "tmpcopyup",
        "idmap",
        "ridmap",
    ]);
    v.sort_unstable();
    v
}

pub fn parse<S: AsRef<str>>(options: &[S]) -> Parsed {
    let mut p = Parsed::default();
    for o in options {
        let o = o.as_ref();
        if let Some((_, clears, flag)) = FLAGS.iter().find(|(name, _, _)| *name == o) {
            if *clears {
                p.flags.remove(*flag);
                p.cleared.insert(*flag);
            } else {
                p.flags.insert(*flag);
                p.cleared.remove(*flag);
            }
            p.bind |= flag.contains(MsFlags::MS_BIND);
            if let Some(mode) = atime_mode(o) {
                p.atime = Some(mode);
            }
        } else if let Some((_, set, attr)) = RECURSIVE.iter().find(|(name, _, _)| *name == o) {
            if *set {
                p.rec.attr_set |= attr;
                p.rec.attr_clr &= !attr;
            } else {
                p.rec.attr_clr |= attr;
                p.rec.attr_set &= !attr;
            }
        } else if let Some(mode) = o.strip_prefix('r').and_then(atime_mode) {
            // An atime mode is changed by clearing the whole mask and setting one mode.
            p.rec.attr_set = (p.rec.attr_set & !m::MOUNT_ATTR_ATIME) | mode;
            p.rec.attr_clr |= m::MOUNT_ATTR_ATIME;
        } else if let Some(flag) = propagation(o) {
            p.propagation.push(flag);
        } else if o == "tmpcopyup" {
            p.tmpcopyup = true;
        } else if o == "idmap" {
            p.idmap = Some(Idmap::Top);
        } else if o == "ridmap" {
            p.idmap = Some(Idmap::Recursive);
        } else if !o.is_empty() {
            p.data.push(o.to_string());
        }
    }
    p
}

/// mount(2) flags that are attributes of one mount, and their mount_setattr(2) bits.
const PER_MOUNT: &[(MsFlags, u64)] = &[
    (MsFlags::MS_RDONLY, m::MOUNT_ATTR_RDONLY),
    (MsFlags::MS_NOSUID, m::MOUNT_ATTR_NOSUID),
    (MsFlags::MS_NODEV, m::MOUNT_ATTR_NODEV),
    (MsFlags::MS_NOEXEC, m::MOUNT_ATTR_NOEXEC),
    (MsFlags::MS_NODIRATIME, m::MOUNT_ATTR_NODIRATIME),
    (MS_NOSYMFOLLOW, m::MOUNT_ATTR_NOSYMFOLLOW),
];

impl Parsed {
    /// The plain options as attributes of the top mount: what they set, and what they
    /// clear (`rw`, `suid`, … on a bind of a mount that has the flag).
    pub fn attr(&self) -> MountAttr {
        let mut a = MountAttr::default();
        for (ms, attr) in PER_MOUNT {
            if self.flags.contains(*ms) {
                a.attr_set |= attr;
            } else if self.cleared.contains(*ms) {
                a.attr_clr |= attr;
            }
        }
        if let Some(mode) = self.atime {
            a.attr_set |= mode;
            a.attr_clr |= m::MOUNT_ATTR_ATIME;
        }
        a
    }

    /// Superblock flags of a new filesystem, as fsconfig(2) names them. `mand` is left
    /// out: Linux 5.15 dropped mandatory locking and mount(2) only warns about it.
    pub fn sb_flags(&self) -> impl Iterator<Item = &'static str> + '_ {
        [
            (MsFlags::MS_RDONLY, "ro"),
            (MsFlags::MS_SYNCHRONOUS, "sync"),
            (MsFlags::MS_DIRSYNC, "dirsync"),
            (MsFlags::MS_LAZYTIME, "lazytime"),
        ]
        .into_iter()
        .filter(|(f, _)| self.flags.contains(*f))
        .map(|(_, name)| name)
    }

    pub fn recursive_bind(&self) -> bool {
        self.bind && self.flags.contains(MsFlags::MS_REC)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_data_and_propagation() {
        let p = parse(&[
            "nosuid",
            "ro",
            "rbind",
            "rprivate",
            "mode=755",
            "size=65536k",
        ]);
        assert_eq!(
            p.flags,
            MsFlags::MS_NOSUID | MsFlags::MS_RDONLY | MsFlags::MS_BIND | MsFlags::MS_REC
        );
        assert!(p.bind);
        assert_eq!(p.propagation, vec![MsFlags::MS_PRIVATE | MsFlags::MS_REC]);
        assert_eq!(p.data, vec!["mode=755", "size=65536k"]);
    }

    #[test]
    fn defaults_is_no_data() {
        assert_eq!(parse(&["defaults", "ro"]).data, Vec::<String>::new());
    }

    #[test]
    fn later_option_wins() {
        assert_eq!(parse(&["ro", "rw"]).flags, MsFlags::empty());
        assert_eq!(parse(&["exec", "noexec"]).flags, MsFlags::MS_NOEXEC);
    }

    #[test]
    fn recursive_attributes() {
        let p = parse(&["rro", "rnosuid", "rsuid", "rexec", "rnoatime"]);
        assert_eq!(
            p.rec.attr_set,
            m::MOUNT_ATTR_RDONLY | m::MOUNT_ATTR_NOATIME,
            "{p:?}"
        );
        assert_eq!(
            p.rec.attr_clr,
            m::MOUNT_ATTR_NOSUID | m::MOUNT_ATTR_NOEXEC | m::MOUNT_ATTR_ATIME
        );
        assert!(p.data.is_empty());
        let p = parse(&["rstrictatime", "ratime"]);
        assert_eq!((p.rec.attr_set, p.rec.attr_clr), (0, m::MOUNT_ATTR_ATIME));
    }

    #[test]
    fn plain_options_as_attributes() {
        let a = parse(&["bind", "ro", "nosuid", "exec", "noatime"]).attr();
        assert_eq!(
            a.attr_set,
            m::MOUNT_ATTR_RDONLY | m::MOUNT_ATTR_NOSUID | m::MOUNT_ATTR_NOATIME
        );
        assert_eq!(a.attr_clr, m::MOUNT_ATTR_NOEXEC | m::MOUNT_ATTR_ATIME);
        assert_eq!(parse(&["nodev"]).attr().attr_clr, 0);
    }

    #[test]
    fn idmap_tmpcopyup_and_superblock_flags() {
        let p = parse(&["rbind", "ridmap", "tmpcopyup", "sync", "ro", "mand"]);
        assert_eq!(p.idmap, Some(Idmap::Recursive));
        assert!(p.tmpcopyup && p.recursive_bind());
        assert_eq!(p.sb_flags().collect::<Vec<_>>(), ["ro", "sync"]);
    }

    #[test]
    fn known_options_are_not_data() {
        let known = known();
        for o in &known {
            assert!(parse(&[o]).data.is_empty(), "{o} taken as data");
        }
        assert!(known.contains(&"rro") && known.contains(&"idmap") && known.contains(&"bind"));
        assert!(!parse(&["rfoo"]).data.is_empty());
    }
}
