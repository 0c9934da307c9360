//! What `ps`, `events` and `update` need on the command-line side: ps(1)'s table
//! filtered to the container, Go's duration syntax, runc's memory sizes, and the
//! `update` flags as a `linux.resources` change; `list`'s table and owner names.

use crate::cli::UpdateArgs;
use anyhow::{bail, Context, Result};
use serde_json::{json, Map, Value};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

/// Rows as a table whose columns align (as runc's tabwriter: each column as wide as
/// its widest cell plus 3 spaces, at least 12; the last one not padded).
pub fn table<const N: usize>(rows: &[[String; N]]) -> String {
    let mut widths = [0usize; N];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count() + 3).max(12);
        }
    }
    let mut out = String::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == N {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}", w = widths[i]));
            }
        }
        out.push('\n');
    }
    out
}

/// The name of the user `root/id` (a container's state dir) belongs to, from
/// /etc/passwd (corral is static: no NSS), or the uid as a number.
pub fn state_dir_owner(root: &Path, id: &str) -> String {
    match std::fs::symlink_metadata(root.join(id)) {
        Ok(m) => user_name(
            m.uid(),
            &std::fs::read_to_string("/etc/passwd").unwrap_or_default(),
        ),
        Err(_) => String::new(),
    }
}

/// `uid`'s name in passwd-format `text`, or the number.
pub fn user_name(uid: u32, text: &str) -> String {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split(':');
            let name = f.next()?;
            (f.nth(1)?.parse::<u32>().ok()? == uid).then(|| name.to_string())
        })
        .next()
        .unwrap_or_else(|| uid.to_string())
}

/// Runs `ps ARGS` (default `-ef`) and keeps its header and the rows whose PID column
/// holds one of `pids`.
pub fn ps_table(args: &[String], pids: &[i32]) -> Result<String> {
    let default = ["-ef".to_string()];
    let args = if args.is_empty() { &default[..] } else { args };
    let out = std::process::Command::new("ps")
        .args(args)
        .output()
        .context("cannot run ps")?;
    if !out.status.success() {
        bail!(
            "ps {}: {}: {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    filter_rows(&String::from_utf8_lossy(&out.stdout), pids)
}

fn filter_rows(text: &str, pids: &[i32]) -> Result<String> {
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let Some(col) = header.split_whitespace().position(|h| h == "PID") else {
        bail!("ps printed no PID column (its header is {header:?}): add one, e.g. -o pid,args");
    };
    let mut out = format!("{header}\n");
    for line in lines {
        let pid = line
            .split_whitespace()
            .nth(col)
            .and_then(|p| p.parse().ok());
        if pid.is_some_and(|p: i32| pids.contains(&p)) {
            out += line;
            out.push('\n');
        }
    }
    Ok(out)
}

/// `number` (digits, maybe a fraction: `1.5`) times `scale`, truncated; integers only
/// (no float parsing code in the binary for two flags).
fn scaled(number: &str, scale: u128) -> Option<u128> {
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    let digits = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !digits(int) || !digits(frac) || frac.len() > 18 {
        return None;
    }
    let whole = int.parse::<u128>().ok()?.checked_mul(scale)?;
    let part = match frac {
        "" => 0,
        f => f.parse::<u128>().ok()? * scale / 10u128.pow(u32::try_from(f.len()).ok()?),
    };
    whole.checked_add(part)
}

/// Go's duration syntax, as runc's `--interval` takes it: `5s`, `1.5s`, `1m30s`, `250ms`.
pub fn duration(text: &str) -> Result<Duration> {
    let bad = || format!("--interval {text:?}: not a duration such as 5s, 500ms or 1m30s");
    let mut rest = text.trim();
    let mut nanos = 0u128;
    if rest.is_empty() {
        bail!(bad());
    }
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .with_context(bad)?;
        let number = &rest[..n];
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let scale: u128 = match &rest[..u] {
            "ns" => 1,
            "us" | "µs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => bail!(bad()),
        };
        nanos += scaled(number, scale).with_context(bad)?;
        rest = &rest[u..];
    }
    if nanos == 0 {
        bail!("--interval {text:?}: must be more than 0");
    }
    let nanos = u64::try_from(nanos).ok().with_context(bad)?;
    Ok(Duration::from_nanos(nanos))
}

/// A memory size as runc reads it: bytes, or a number with k, m, g, t or p (powers of
/// 1024, an optional `i` and `b` after it, any case): `512m`, `1.5g`, `64MiB`; or -1.
pub fn size(flag: &str, text: &str) -> Result<i64> {
    let t = text.trim();
    if t == "-1" {
        return Ok(-1);
    }
    let bad = || format!("--{flag} {text:?}: not a size such as 1048576, 512m or 1g");
    let n = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let unit = t[n..].trim_start().to_ascii_lowercase();
    let unit = unit.strip_suffix('b').unwrap_or(&unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let power = match unit {
        "" => 0,
        "k" => 1,
        "m" => 2,
        "g" => 3,
        "t" => 4,
        "p" => 5,
        _ => bail!(bad()),
    };
    let bytes = scaled(&t[..n], 1u128 << (10 * power)).with_context(bad)?;
    i64::try_from(bytes).ok().with_context(bad)
}

/// The flags of `update` as a `linux.resources` change (only what was given).
pub fn update_change(a: &UpdateArgs) -> Result<Value> {
    let mut memory = Map::new();
    for (flag, key, v) in [
        ("memory", "limit", &a.memory),
        ("memory-swap", "swap", &a.memory_swap),
        ("memory-reservation", "reservation", &a.memory_reservation),
        ("kernel-memory", "kernel", &a.kernel_memory),
    ] {
        if let Some(v) = v {
            memory.insert(key.into(), json!(size(flag, v)?));
        }
    }
    let mut cpu = Map::new();
    let mut put = |key: &str, v: Option<Value>| {
        if let Some(v) = v {
            cpu.insert(key.into(), v);
        }
    };
    put("shares", a.cpu_share.map(Value::from));
    put("quota", a.cpu_quota.map(Value::from));
    put("period", a.cpu_period.map(Value::from));
    put("burst", a.cpu_burst.map(Value::from));
    put("idle", a.cpu_idle.map(Value::from));
    put("realtimePeriod", a.cpu_rt_period.map(Value::from));
    put("realtimeRuntime", a.cpu_rt_runtime.map(Value::from));
    put("cpus", a.cpuset_cpus.clone().map(Value::from));
    put("mems", a.cpuset_mems.clone().map(Value::from));
    let mut change = Map::new();
    for (key, m) in [("memory", memory), ("cpu", cpu)] {
        if !m.is_empty() {
            change.insert(key.into(), Value::Object(m));
        }
    }
    if let Some(p) = a.pids_limit {
        change.insert("pids".into(), json!({ "limit": p }));
    }
    if let Some(w) = a.blkio_weight {
        change.insert("blockIO".into(), json!({ "weight": w }));
    }
    Ok(Value::Object(change))
}

/// Whether any flag but `--resources` and the id was given.
pub fn has_flags(a: &UpdateArgs) -> bool {
    let strings = [
        &a.memory,
        &a.memory_swap,
        &a.memory_reservation,
        &a.kernel_memory,
        &a.cpuset_cpus,
        &a.cpuset_mems,
    ];
    strings.iter().any(|s| s.is_some())
        || a.cpu_quota.is_some()
        || a.cpu_period.is_some()
        || a.cpu_burst.is_some()
        || a.cpu_share.is_some()
        || a.cpu_idle.is_some()
        || a.cpu_rt_period.is_some()
        || a.cpu_rt_runtime.is_some()
        || a.pids_limit.is_some()
        || a.blkio_weight.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_columns_align_whatever_the_widths() {
        let rows = [
            ["ID", "STATUS", "OWNER"].map(String::from),
            ["a-very-long-container-id-indeed", "running", "root"].map(String::from),
            ["b", "created", "nobody"].map(String::from),
        ];
        let t = table(&rows);
        let at = |word: &str| -> Vec<usize> {
            t.lines()
                .map(|l| l.find(word).unwrap_or(usize::MAX))
                .collect()
        };
        let status = t.lines().next().unwrap().find("STATUS").unwrap();
        for l in t.lines().skip(1) {
            assert_eq!(
                l[status..].chars().next().map(|c| c.is_alphabetic()),
                Some(true),
                "{t}"
            );
            assert_eq!(&l[status - 3..status], "   ", "{t}");
        }
        assert_eq!(
            at("OWNER")[0],
            t.lines().nth(1).unwrap().find("root").unwrap(),
            "{t}"
        );
    }

    #[test]
    fn user_names_from_passwd() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534::/:/usr/sbin/nologin\n";
        assert_eq!(user_name(0, passwd), "root");
        assert_eq!(user_name(65534, passwd), "nobody");
        assert_eq!(user_name(1234, passwd), "1234");
    }

    #[test]
    fn sizes_as_runc_reads_them() {
        assert_eq!(size("memory", "512m").unwrap(), 512 << 20);
        assert_eq!(size("memory", "1G").unwrap(), 1 << 30);
        assert_eq!(size("memory", "64MiB").unwrap(), 64 << 20);
        assert_eq!(size("memory", "1.5k").unwrap(), 1536);
        assert_eq!(size("memory", "4096").unwrap(), 4096);
        assert_eq!(size("memory", "-1").unwrap(), -1);
        let e = size("memory", "12q").unwrap_err().to_string();
        assert!(e.contains("--memory \"12q\""), "{e}");
        assert!(size("memory", "m").is_err());
    }

    #[test]
    fn go_durations() {
        assert_eq!(duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(duration("1.5s").unwrap(), Duration::from_millis(1500));
        for bad in ["", "5", "5x", "0s", "s"] {
            assert!(duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ps_rows_filtered_by_pid_column() {
        let text = "UID PID PPID CMD\nroot 1 0 init\nroot 42 1 sh\nroot 43 42 sleep\n";
        assert_eq!(
            filter_rows(text, &[42, 43]).unwrap(),
            "UID PID PPID CMD\nroot 42 1 sh\nroot 43 42 sleep\n"
        );
        assert!(filter_rows("USER CMD\n", &[1]).is_err());
    }
}
