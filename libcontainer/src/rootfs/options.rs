//! Mount options of `config.json` mapped to mount(2) flags, propagation changes and
//! filesystem data, as `mount(8)` and runc read them.

use nix::mount::MsFlags;

#[derive(Debug, PartialEq)]
pub struct Parsed {
    /// Flags to set.
    pub flags: MsFlags,
    /// Propagation changes, applied one by one after the mount.
    pub propagation: Vec<MsFlags>,
    /// Options the kernel's mount flags do not know: passed as filesystem data.
    pub data: Vec<String>,
    /// `bind` or `rbind` was given.
    pub bind: bool,
}

impl Default for Parsed {
    fn default() -> Self {
        Parsed {
            flags: MsFlags::empty(),
            propagation: vec![],
            data: vec![],
            bind: false,
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

/// Options of the spec that this version of corral does not implement yet: the
/// recursive attributes (mount_setattr), idmapped mounts and tmpcopyup.
pub fn is_unsupported(option: &str) -> bool {
    const RECURSIVE: &[&str] = &[
        "rro",
        "rrw",
        "rnosuid",
        "rsuid",
        "rnodev",
        "rdev",
        "rnoexec",
        "rexec",
        "rnodiratime",
        "rdiratime",
        "rrelatime",
        "rnorelatime",
        "rnoatime",
        "ratime",
        "rstrictatime",
        "rnostrictatime",
        "rnosymfollow",
        "rsymfollow",
    ];
    RECURSIVE.contains(&option) || matches!(option, "idmap" | "ridmap" | "tmpcopyup")
}

pub fn parse<S: AsRef<str>>(options: &[S]) -> Parsed {
    let mut p = Parsed::default();
    for o in options {
        let o = o.as_ref();
        if let Some((_, clears, flag)) = FLAGS.iter().find(|(name, _, _)| *name == o) {
            if *clears {
                p.flags.remove(*flag);
            } else {
                p.flags.insert(*flag);
            }
            p.bind |= flag.contains(MsFlags::MS_BIND);
        } else if let Some(flag) = propagation(o) {
            p.propagation.push(flag);
        } else if !o.is_empty() {
            p.data.push(o.to_string());
        }
    }
    p
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
    fn recursive_attributes_are_refused_for_now() {
        assert!(is_unsupported("rro"));
        assert!(!is_unsupported("ro"));
    }
}
