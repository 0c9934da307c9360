//! The process `exec` runs, as runc makes it: a `--process` file alone, or the
//! config's `process` with the command and the process flags over it.

use crate::bundle::{self, Bundle};
use crate::checked::CheckedProcess;
use crate::{validate, Error, Result};
use oci_spec::runtime::{Capabilities, Capability, LinuxCapabilities, Process};
use std::path::{Path, PathBuf};

/// `exec`'s flags that describe the process (runc's names).
#[derive(Debug, Default, Clone)]
pub struct ProcessFlags {
    /// COMMAND [ARGS...]
    pub args: Vec<String>,
    /// `--tty`
    pub tty: bool,
    pub cwd: Option<PathBuf>,
    /// `--env KEY=VALUE`, over the config's (a later one wins).
    pub env: Vec<String>,
    /// `--user UID[:GID]`
    pub user: Option<String>,
    /// `--additional-gids`, added to the config's.
    pub additional_gids: Vec<u32>,
    /// `--cap`: added to the bounding, effective and permitted sets (and ambient when
    /// the config makes it inheritable).
    pub caps: Vec<String>,
    pub no_new_privs: bool,
    pub apparmor: Option<String>,
    /// `--process-label` (SELinux)
    pub process_label: Option<String>,
}

impl ProcessFlags {
    /// The flags given, by name.
    fn given(&self) -> Vec<&'static str> {
        [
            ("COMMAND", !self.args.is_empty()),
            ("--tty", self.tty),
            ("--cwd", self.cwd.is_some()),
            ("--env", !self.env.is_empty()),
            ("--user", self.user.is_some()),
            ("--additional-gids", !self.additional_gids.is_empty()),
            ("--cap", !self.caps.is_empty()),
            ("--no-new-privs", self.no_new_privs),
            ("--apparmor", self.apparmor.is_some()),
            ("--process-label", self.process_label.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, set)| set.then_some(name))
        .collect()
    }

    /// Checks the flags alone, before anything is read: a process comes either from a
    /// file or from a command, and flag values must be well formed.
    pub fn check(&self, process_file: Option<&Path>) -> Result<()> {
        // podman (conmon) sends `--tty` with a process file whose terminal is true; the
        // file still decides (checked in `build`).
        let given: Vec<_> = self
            .given()
            .into_iter()
            .filter(|f| process_file.is_none() || *f != "--tty")
            .collect();
        match (process_file, given.first()) {
            (Some(_), Some(flag)) => {
                return Err(Error::Other(format!(
                    "exec: {flag} cannot be combined with --process (the file describes the \
                     whole process)"
                )))
            }
            (None, _) if self.args.is_empty() => {
                return Err(Error::Other(
                    "exec: give a COMMAND to run, or --process FILE".into(),
                ))
            }
            _ => {}
        }
        if let Some(cwd) = self.cwd.as_ref().filter(|c| !c.is_absolute()) {
            return Err(Error::Other(format!(
                "exec: --cwd {}: not an absolute path",
                cwd.display()
            )));
        }
        if let Some(e) = self.env.iter().find(|e| !e.contains('=')) {
            return Err(Error::Other(format!("exec: --env {e:?}: not KEY=VALUE")));
        }
        if let Some(u) = &self.user {
            parse_user(u)?;
        }
        if let Some(g) = self.additional_gids.iter().find(|g| **g > validate::MAX_ID) {
            return Err(Error::Other(format!(
                "exec: --additional-gids: {}",
                validate::out_of_range(*g)
            )));
        }
        Ok(())
    }
}

/// `UID[:GID]`, numbers only (as runc).
fn parse_user(s: &str) -> Result<(u32, Option<u32>)> {
    let bad = || Error::Other(format!("exec: --user {s:?}: not UID[:GID] (numbers)"));
    let (uid, gid) = match s.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (s, None),
    };
    let uid = uid.parse().map_err(|_| bad())?;
    let gid = gid.map(|g| g.parse().map_err(|_| bad())).transpose()?;
    // The config's ids are checked by `validate`; these never reach it as flags.
    if let Some(id) = [Some(uid), gid]
        .into_iter()
        .flatten()
        .find(|id| *id > validate::MAX_ID)
    {
        return Err(Error::Other(format!(
            "exec: --user {s:?}: {}",
            validate::out_of_range(id)
        )));
    }
    Ok((uid, gid))
}

/// The process to run: the `--process` file, or the bundle's with the flags applied;
/// checked as `create` checks the config's, with its checked values. `warn` gets what is
/// skipped.
pub fn build(
    process_file: Option<&Path>,
    flags: &ProcessFlags,
    bundle: &Bundle,
    warn: &dyn Fn(&str),
) -> Result<(Process, CheckedProcess)> {
    if let Some(path) = process_file {
        let (p, warnings) = bundle::load_process(path)?;
        warnings.iter().for_each(|w| warn(w));
        let checked = validate::exec_process(&p, path)?;
        if flags.tty && p.terminal() != Some(true) {
            return Err(Error::Other(format!(
                "exec: --tty, but {}: terminal is not true",
                path.display()
            )));
        }
        return Ok((p, checked));
    }
    bundle.warnings.iter().for_each(|w| warn(w));
    let mut p = bundle
        .spec
        .process()
        .clone()
        .ok_or_else(|| Error::Other("process: config.json has none".into()))?;
    apply(&mut p, flags, warn)?;
    let checked = validate::exec_process(&p, &bundle.config_path)?;
    Ok((p, checked))
}

fn apply(p: &mut Process, f: &ProcessFlags, warn: &dyn Fn(&str)) -> Result<()> {
    p.set_args(Some(f.args.clone()));
    p.set_terminal(Some(f.tty));
    if let Some(cwd) = &f.cwd {
        p.set_cwd(cwd.clone());
    }
    let mut env = p.env().clone().unwrap_or_default();
    for e in &f.env {
        let key = &e[..=e.find('=').expect("checked")];
        env.retain(|old| !old.starts_with(key));
        env.push(e.clone());
    }
    p.set_env(Some(env));
    let user = p.user_mut();
    if let Some(u) = &f.user {
        let (uid, gid) = parse_user(u)?;
        user.set_uid(uid);
        if let Some(gid) = gid {
            user.set_gid(gid);
        }
    }
    if !f.additional_gids.is_empty() {
        let mut gids = user.additional_gids().clone().unwrap_or_default();
        gids.extend(&f.additional_gids);
        user.set_additional_gids(Some(gids));
    }
    if let Some(caps) = p.capabilities().clone() {
        p.set_capabilities(Some(add_caps(caps, &f.caps, warn)));
    }
    if f.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    if let Some(a) = &f.apparmor {
        p.set_apparmor_profile(Some(a.clone()));
    }
    if let Some(l) = &f.process_label {
        p.set_selinux_label(Some(l.clone()));
    }
    Ok(())
}

/// `--cap`s added to the sets (a process without capabilities in its config keeps
/// them all anyway). Ambient needs the capability inheritable too.
fn add_caps(mut c: LinuxCapabilities, names: &[String], warn: &dyn Fn(&str)) -> LinuxCapabilities {
    let add = |set: &Option<Capabilities>, cap: Capability| {
        let mut s = set.clone().unwrap_or_default();
        s.insert(cap);
        Some(s)
    };
    for name in names {
        let cap = match bundle::capability(name) {
            Ok(cap) => cap,
            Err(why) => {
                warn(&format!("exec: --cap: {why} {name:?}: skipped"));
                continue;
            }
        };
        c.set_bounding(add(c.bounding(), cap));
        c.set_effective(add(c.effective(), cap));
        c.set_permitted(add(c.permitted(), cap));
        if c.inheritable().as_ref().is_some_and(|i| i.contains(&cap)) {
            c.set_ambient(add(c.ambient(), cap));
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_process() -> Process {
        serde_json::from_value(serde_json::json!({
            "user": { "uid": 0, "gid": 0, "additionalGids": [5] },
            "args": ["sh"], "cwd": "/", "env": ["PATH=/bin", "TERM=xterm"],
            "capabilities": { "bounding": ["CAP_KILL"], "effective": ["CAP_KILL"],
                              "permitted": ["CAP_KILL"], "inheritable": ["CAP_NET_RAW"] },
            "apparmorProfile": "default"
        }))
        .unwrap()
    }

    #[test]
    fn flags_override_the_config_process() {
        let mut p = config_process();
        let f = ProcessFlags {
            args: vec!["id".into()],
            cwd: Some("/tmp".into()),
            env: vec!["TERM=dumb".into(), "A=1".into()],
            user: Some("1000:1001".into()),
            additional_gids: vec![7],
            caps: vec!["CAP_SYS_ADMIN".into(), "NET_RAW".into(), "CAP_BOGUS".into()],
            no_new_privs: true,
            ..Default::default()
        };
        let warned = std::cell::RefCell::new(vec![]);
        apply(&mut p, &f, &|w| warned.borrow_mut().push(w.to_string())).unwrap();
        assert_eq!(p.args().as_deref(), Some(&["id".to_string()][..]));
        assert_eq!(p.cwd(), Path::new("/tmp"));
        assert_eq!(
            p.env().as_deref().unwrap(),
            ["PATH=/bin", "TERM=dumb", "A=1"]
        );
        assert_eq!((p.user().uid(), p.user().gid()), (1000, 1001));
        assert_eq!(p.user().additional_gids().as_deref(), Some(&[5, 7][..]));
        let c = p.capabilities().as_ref().unwrap();
        let eff = c.effective().as_ref().unwrap();
        assert!(eff.contains(&Capability::SysAdmin) && eff.contains(&Capability::Kill));
        assert!(c.bounding().as_ref().unwrap().contains(&Capability::NetRaw));
        // Ambient only for what the config makes inheritable.
        assert_eq!(
            c.ambient().as_ref().unwrap().iter().collect::<Vec<_>>(),
            [&Capability::NetRaw]
        );
        assert_eq!(p.no_new_privileges(), Some(true));
        assert_eq!(p.terminal(), Some(false));
        assert_eq!(p.apparmor_profile().as_deref(), Some("default"));
        assert_eq!(warned.borrow().len(), 1, "{:?}", warned.borrow());
        assert!(warned.borrow()[0].contains("CAP_BOGUS"));
    }

    #[test]
    fn flag_errors_name_the_flag() {
        let cmd = |f: ProcessFlags| ProcessFlags {
            args: vec!["true".into()],
            ..f
        };
        for (f, file, want) in [
            (ProcessFlags::default(), None, "COMMAND"),
            (
                cmd(Default::default()),
                Some(Path::new("p.json")),
                "COMMAND cannot",
            ),
            (
                ProcessFlags {
                    tty: true,
                    no_new_privs: true,
                    ..Default::default()
                },
                Some(Path::new("p.json")),
                "--no-new-privs cannot",
            ),
            (
                cmd(ProcessFlags {
                    cwd: Some("rel".into()),
                    ..Default::default()
                }),
                None,
                "--cwd rel",
            ),
            (
                cmd(ProcessFlags {
                    env: vec!["NOEQUALS".into()],
                    ..Default::default()
                }),
                None,
                "--env \"NOEQUALS\"",
            ),
            (
                cmd(ProcessFlags {
                    user: Some("root".into()),
                    ..Default::default()
                }),
                None,
                "--user \"root\"",
            ),
            (
                cmd(ProcessFlags {
                    user: Some("0:4294967295".into()),
                    ..Default::default()
                }),
                None,
                "--user \"0:4294967295\": 4294967295 is not an id",
            ),
            (
                cmd(ProcessFlags {
                    additional_gids: vec![1, 2147483648],
                    ..Default::default()
                }),
                None,
                "--additional-gids: 2147483648 is not an id",
            ),
            (
                cmd(ProcessFlags {
                    user: Some("1:x".into()),
                    ..Default::default()
                }),
                None,
                "--user \"1:x\"",
            ),
        ] {
            let e = f.check(file).unwrap_err().to_string();
            assert!(e.contains(want), "{f:?}: {e}");
        }
        assert!(cmd(Default::default()).check(None).is_ok());
        assert!(ProcessFlags::default()
            .check(Some(Path::new("p.json")))
            .is_ok());
        // podman sends --tty with a process file (whose terminal `build` checks).
        let tty = ProcessFlags {
            tty: true,
            ..Default::default()
        };
        assert!(tty.check(Some(Path::new("p.json"))).is_ok());
    }
}
