//! The corral binary's command line, from outside: flags, errors, exit codes, logs.
//! (Containers themselves are tested by the conformance suite in integration/.)

use std::path::PathBuf;
use std::process::{Command, Output};

fn corral(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_corral"))
        .args(args)
        .output()
        .expect("run corral")
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("corral-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `create` of `id` from `bundle`, with its state under `root`.
fn create(root: &std::path::Path, bundle: &str, id: &str) -> Output {
    let root = root.to_str().unwrap();
    corral(&["--root", root, "create", "--bundle", bundle, id])
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn version_prints_runcs_lines() {
    for flag in ["--version", "-v"] {
        let o = corral(&[flag]);
        assert!(o.status.success(), "{flag}");
        let out = String::from_utf8_lossy(&o.stdout);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 4, "{flag}: {out}");
        assert_eq!(
            lines[0],
            concat!("corral version ", env!("CARGO_PKG_VERSION"))
        );
        assert!(
            lines[1].starts_with("commit: ") && lines[1].len() > 8,
            "{out}"
        );
        assert_eq!(lines[2], "spec: 1.3.0");
        let lib = lines[3]
            .strip_prefix("libseccomp: ")
            .expect("libseccomp line");
        assert!(lib.split('.').all(|n| n.parse::<u32>().is_ok()), "{out}");
    }
}

#[test]
fn usage_errors_go_to_the_log_too() {
    let root = tmp("usage-log");
    for (format, args, says) in [
        ("json", &["--bogus", "list"][..], "'--bogus'"),
        ("text", &["create"][..], "<ID>"),
        ("json", &["kill"][..], "<ID>"),
    ] {
        let log = root.join(format!("log.{format}"));
        let _ = std::fs::remove_file(&log);
        let mut all = vec!["--log", log.to_str().unwrap(), "--log-format", format];
        all.extend_from_slice(args);
        let o = corral(&all);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(stderr(&o).contains(says), "{args:?}: {}", stderr(&o));
        let text = std::fs::read_to_string(&log).expect("the log file");
        let line = text.lines().last().unwrap();
        if format == "json" {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["level"], "error");
            assert!(v["msg"].as_str().unwrap().contains(says), "{line}");
        } else {
            assert!(
                line.contains("level=error") && line.contains(says),
                "{line}"
            );
        }
    }
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn exec_argument_errors_name_the_flag_and_make_nothing() {
    let root = tmp("exec-args");
    let r = root.to_str().unwrap();
    for (args, says) in [
        (&["exec", "id"][..], "give a COMMAND"),
        (
            &["exec", "--process", "p.json", "id", "true"],
            "COMMAND cannot be combined with --process",
        ),
        (
            &["exec", "-p", "p.json", "--env", "A=1", "id"],
            "--env cannot be combined",
        ),
        (&["exec", "--user", "root", "id", "true"], "--user \"root\""),
        (
            &["exec", "--cwd", "tmp", "id", "true"],
            "--cwd tmp: not an absolute path",
        ),
        (
            &["exec", "-e", "NOVALUE", "id", "true"],
            "--env \"NOVALUE\"",
        ),
        (
            &["exec", "--cgroup", "a", "--cgroup", "b", "id", "true"],
            "--cgroup a",
        ),
        (
            &["exec", "--cgroup", "x/../..", "id", "true"],
            "--cgroup x/../..",
        ),
        (&["exec", "id", "true"], "container id does not exist"),
    ] {
        let mut full = vec!["--root", r];
        full.extend_from_slice(args);
        let o = corral(&full);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(says), "{args:?}: {}", stderr(&o));
    }
    // A gid must be a number: clap's own usage error.
    let o = corral(&["--root", r, "exec", "-g", "wheel", "id", "true"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(std::fs::read_dir(&root).unwrap().count(), 0);
    std::fs::remove_dir_all(root).unwrap();
}

/// `--systemd-cgroup` is refused by `create` and `run` only (see the conformance suite's
/// cgroup_systemd_flag_refused); other commands take it, as runc's do.
#[test]
fn systemd_cgroup_flag_is_accepted_by_other_commands() {
    let root = tmp("systemd");
    let r = root.to_str().unwrap();
    let o = corral(&["--root", r, "--systemd-cgroup", "list", "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn unknown_container_fails_with_exit_1() {
    let root = tmp("unknown");
    let r = root.to_str().unwrap();
    for cmd in ["state", "start", "delete"] {
        let o = corral(&["--root", r, cmd, "nope"]);
        assert_eq!(o.status.code(), Some(1), "{cmd}");
        // "error" as runc's lines say (level=error): tools grep stderr for it.
        assert!(
            stderr(&o).contains("corral: error: container nope does not exist"),
            "{cmd}: {}",
            stderr(&o)
        );
    }
    assert!(corral(&["--root", r, "delete", "--force", "nope"])
        .status
        .success());
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn cgroup_commands_on_an_unknown_container_fail() {
    let root = tmp("cgops");
    let r = root.to_str().unwrap();
    for args in [
        &["pause", "nope"][..],
        &["resume", "nope"],
        &["events", "--stats", "nope"],
        &["events", "nope"],
        &["update", "--memory", "64m", "nope"],
        &["ps", "nope"],
        &["ps", "-f", "json", "nope"],
    ] {
        let o = corral(&[&["--root", r][..], args].concat());
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(
            stderr(&o).contains("container nope does not exist"),
            "{args:?}: {}",
            stderr(&o)
        );
    }
    assert!(std::fs::read_dir(&root).unwrap().next().is_none());
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn cgroup_command_flags_are_checked() {
    let root = tmp("cgflags");
    let r = root.to_str().unwrap();
    let bad_json = root.join("bad.json");
    std::fs::write(&bad_json, "{ not json").unwrap();
    let bad = bad_json.to_str().unwrap();
    for (args, says) in [
        (
            &["events", "--interval", "5x", "c"][..],
            "--interval \"5x\"",
        ),
        (&["events", "--interval", "0s", "c"], "more than 0"),
        (&["update", "--memory", "12q", "c"], "--memory \"12q\""),
        (&["update", "--memory-swap", "lots", "c"], "--memory-swap"),
        (&["update", "-r", "-", "--memory", "1m", "c"], "not both"),
        (
            &["update", "-r", "/nonexistent/r.json", "c"],
            "/nonexistent/r.json",
        ),
        (&["update", "-r", bad, "c"], "bad.json: not JSON"),
        (&["ps", "-f", "json", "c", "-o", "pid"], "table format only"),
    ] {
        let o = corral(&[&["--root", r][..], args].concat());
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        assert!(stderr(&o).contains(says), "{args:?}: {}", stderr(&o));
    }
    // clap's own refusals: exit 2.
    for args in [
        &["ps", "-f", "xml", "c"][..],
        &["update", "--pids-limit", "many", "c"],
        &["pause"],
    ] {
        let o = corral(&[&["--root", r][..], args].concat());
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    }
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn json_log_gets_the_error() {
    let root = tmp("log");
    let log = root.join("log.json");
    let o = corral(&[
        "--root",
        root.to_str().unwrap(),
        "--log",
        log.to_str().unwrap(),
        "--log-format",
        "json",
        "state",
        "nope",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let text = std::fs::read_to_string(&log).unwrap();
    let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["level"], "error");
    assert!(
        last["msg"].as_str().unwrap().contains("does not exist"),
        "{last}"
    );
    assert!(last["time"].as_str().unwrap().ends_with('Z'), "{last}");
    std::fs::remove_dir_all(root).unwrap();
}

/// A library error ends its message with its cause and also returns it as its source:
/// the line on stderr says the cause once.
#[test]
fn an_error_says_its_cause_once() {
    let root = tmp("cause");
    let o = create(&root, "/nonexistent-corral-bundle", "c1");
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert_eq!(
        err.trim_end(),
        "corral: error: bundle directory /nonexistent-corral-bundle: \
         No such file or directory (os error 2)",
    );
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn invalid_id_is_refused_before_anything_is_made() {
    let root = tmp("badid");
    let o = create(&root, "/nonexistent", "../x");
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("invalid container id"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read_dir(&root).unwrap().count(), 0);
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn rootless_needs_a_user_namespace() {
    let dir = tmp("rootless");
    let root = dir.join("root");
    std::fs::create_dir_all(dir.join("rootfs")).unwrap();
    let b = dir.to_str().unwrap();
    assert!(corral(&["spec", "--bundle", b]).status.success());
    let o = corral(&[
        "--root",
        root.to_str().unwrap(),
        "--rootless",
        "true",
        "create",
        "--bundle",
        b,
        "c1",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("linux.namespaces: rootless mode") && err.contains("needs a user namespace"),
        "{err}"
    );
    assert!(!root.exists(), "refused before the state root is made");
    let o = corral(&["--rootless", "maybe", "list"]);
    assert!(stderr(&o).contains("true, false or auto"), "{}", stderr(&o));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn spec_rootless_maps_the_caller() {
    let dir = tmp("spec");
    let o = corral(&["spec", "--rootless", "--bundle", dir.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
    let nss = v["linux"]["namespaces"].as_array().unwrap();
    assert!(nss.iter().any(|n| n["type"] == "user"));
    assert!(!nss.iter().any(|n| n["type"] == "network"));
    // SAFETY: getuid cannot fail.
    let uid = unsafe { libc::getuid() };
    assert_eq!(v["linux"]["uidMappings"][0]["hostID"], uid);
    let again = corral(&["spec", "--bundle", dir.to_str().unwrap()]);
    assert_eq!(
        again.status.code(),
        Some(1),
        "spec must not overwrite config.json"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn features_is_truthful_json() {
    let o = corral(&["features"]);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["ociVersionMax"], "1.3.0");
    assert_eq!(
        v["hooks"],
        serde_json::json!([
            "prestart",
            "createRuntime",
            "createContainer",
            "startContainer",
            "poststart",
            "poststop"
        ])
    );
    // The 1.3 fields, each listed once implemented (integration: spec13_fields).
    let linux = &v["linux"];
    // What the kernel accepts: at least the modes and flags of every Linux since 3.8.
    let listed = |k: &str| linux["memoryPolicy"][k].as_array().unwrap().clone();
    for m in [
        "MPOL_DEFAULT",
        "MPOL_BIND",
        "MPOL_INTERLEAVE",
        "MPOL_PREFERRED",
        "MPOL_LOCAL",
    ] {
        assert!(listed("modes").contains(&m.into()), "{m}");
    }
    for f in ["MPOL_F_RELATIVE_NODES", "MPOL_F_STATIC_NODES"] {
        assert!(listed("flags").contains(&f.into()), "{f}");
    }
    assert_eq!(linux["netDevices"]["enabled"], true);
    assert_eq!(linux["intelRdt"]["enabled"], false);
    // Every field of features.md is there.
    for k in [
        "ociVersionMin",
        "ociVersionMax",
        "hooks",
        "mountOptions",
        "linux",
        "annotations",
        "potentiallyUnsafeConfigAnnotations",
    ] {
        assert!(v.get(k).is_some(), "features lacks {k}");
    }
    for k in [
        "namespaces",
        "capabilities",
        "cgroup",
        "seccomp",
        "apparmor",
        "selinux",
        "intelRdt",
        "memoryPolicy",
        "mountExtensions",
        "netDevices",
    ] {
        assert!(linux.get(k).is_some(), "features lacks linux.{k}");
    }
    for k in ["v1", "v2", "systemd", "systemdUser", "rdma"] {
        assert!(linux["cgroup"][k].is_boolean(), "linux.cgroup.{k}");
    }
    for k in ["enabled", "schemata", "monitoring"] {
        assert!(linux["intelRdt"][k].is_boolean(), "linux.intelRdt.{k}");
    }
    assert_eq!(
        v["potentiallyUnsafeConfigAnnotations"],
        serde_json::json!([])
    );
    let ann = &v["annotations"];
    let version = String::from_utf8_lossy(&corral(&["--version"]).stdout).into_owned();
    let line = |p: &str| {
        version
            .lines()
            .find_map(|l| l.strip_prefix(p))
            .unwrap()
            .to_string()
    };
    assert_eq!(
        ann["io.github.seccomp.libseccomp.version"],
        line("libseccomp: ")
    );
    assert_eq!(ann["io.github.corral.commit"], line("commit: "));
    assert_eq!(ann["io.github.corral.version"], env!("CARGO_PKG_VERSION"));
    // seccomp: what this libseccomp can do, and no more.
    let sc = &v["linux"]["seccomp"];
    assert_eq!(sc["enabled"], true);
    let list = |k: &str| -> Vec<&str> {
        sc[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect()
    };
    assert_eq!(list("actions").len(), 9);
    assert!(list("actions").contains(&"SCMP_ACT_NOTIFY"));
    assert_eq!(list("operators").len(), 7);
    // Every architecture libseccomp knows, as the spec names them; NATIVE is none.
    for a in [
        "SCMP_ARCH_X86_64",
        "SCMP_ARCH_X86",
        "SCMP_ARCH_AARCH64",
        "SCMP_ARCH_S390X",
    ] {
        assert!(list("archs").contains(&a), "{a}");
    }
    assert!(!list("archs").contains(&"SCMP_ARCH_NATIVE"));
    assert_eq!(list("knownFlags").len(), 4);
    assert!(list("supportedFlags")
        .iter()
        .all(|f| list("knownFlags").contains(f)));
    assert!(list("supportedFlags").contains(&"SECCOMP_FILTER_FLAG_TSYNC"));
    // What the mount code knows, and nothing else (the conformance suite mounts each).
    let opts: Vec<&str> = v["mountOptions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o.as_str().unwrap())
        .collect();
    for o in [
        "rro",
        "rnoatime",
        "idmap",
        "ridmap",
        "tmpcopyup",
        "nosymfollow",
        "rbind",
    ] {
        assert!(opts.contains(&o), "{o} missing from {opts:?}");
    }
    assert!(!opts.contains(&"size=64k"));
    assert_eq!(v["linux"]["mountExtensions"]["idmap"]["enabled"], true);
}
