//! The unit properties of a container's systemd scope (see [`crate::systemd`]).
//!
//! - [`of_resources`]: the limits systemd knows as properties, converted as runc
//!   converts them, so that systemd, which writes its units' properties to their cgroups
//!   again whenever it re-applies them (`systemctl daemon-reload`, a `set-property`),
//!   writes the container's own values. What has no property is written to the cgroup's
//!   files only (and systemd leaves those alone).
//! - [`of_annotations`]: `org.systemd.property.NAME` annotations, whose values are in
//!   GVariant's text form (`uint64 1024`, `true`, `'text'`, `['a.service']`), as runc and
//!   crun read them; `NAMESec` is `NAMEUSec` in seconds (runc's conversion). A property
//!   corral does not know, or a value not of the property's D-Bus type, is refused
//!   before anything is made.

use crate::dbus::Value;
use crate::{DeviceRule, Error, Result};
use oci_spec::runtime::LinuxResources;
use std::collections::HashMap;

type Props = Vec<(String, Value)>;

const F: &str = "linux.resources";

fn prop(name: &str, v: Value) -> (String, Value) {
    (name.to_string(), v)
}

/// `-1` (and any negative) is systemd's infinity.
fn limit(v: i64) -> Value {
    Value::U64(u64::try_from(v).unwrap_or(u64::MAX))
}

/// The properties for `r` (and, when devices are set, the rules after the spec's own:
/// `extra`).
pub fn of_resources(r: &LinuxResources, extra: &[DeviceRule]) -> Result<Props> {
    let mut out = devices(r, extra)?;
    if let Some(m) = r.memory() {
        if let Some(l) = m.limit().filter(|l| *l != 0) {
            out.push(prop("MemoryMax", limit(l)));
        }
        if let Some(l) = m.reservation().filter(|l| *l != 0) {
            out.push(prop("MemoryLow", limit(l)));
        }
        if let Some(s) = crate::v2::swap_max(m.swap(), m.limit())? {
            out.push(prop("MemorySwapMax", max_or_num(&s, "memory.swap")?));
        }
    }
    if let Some(c) = r.cpu() {
        if let Some(s) = c.shares().filter(|s| *s != 0) {
            out.push(prop("CPUWeight", Value::U64(crate::v2::cpu_weight(s))));
        }
        cpu_quota(&mut out, c.quota().unwrap_or(0), c.period().unwrap_or(0));
        if let Some(v) = c.cpus().as_deref().filter(|v| !v.trim().is_empty()) {
            out.push(prop("AllowedCPUs", bits(v, "cpu.cpus")?));
        }
        if let Some(v) = c.mems().as_deref().filter(|v| !v.trim().is_empty()) {
            out.push(prop("AllowedMemoryNodes", bits(v, "cpu.mems")?));
        }
    }
    if let Some(p) = r.pids() {
        if p.limit() > 0 || p.limit() == -1 {
            out.push(prop("TasksMax", limit(p.limit())));
        }
    }
    if let Some(b) = r.block_io() {
        block_io(&mut out, b);
    }
    if let Some(u) = r.unified() {
        unified(&mut out, u)?;
    }
    Ok(out)
}

fn max_or_num(v: &str, field: &str) -> Result<Value> {
    if v == "max" {
        return Ok(Value::U64(u64::MAX));
    }
    v.parse().map(Value::U64).map_err(|_| Error::Invalid {
        field: format!("{F}.{field}"),
        msg: format!("{v:?} is neither \"max\" nor a number"),
    })
}

/// runc's conversion: CPUQuotaPeriodUSec as given; CPUQuotaPerSecUSec is the quota per
/// second of time, which systemd keeps as a whole percentage of a CPU, so it is rounded
/// up to 10 ms (the cgroup's own cpu.max gets the exact values from the file write).
fn cpu_quota(out: &mut Props, quota: i64, period: u64) {
    if period != 0 {
        out.push(prop("CPUQuotaPeriodUSec", Value::U64(period)));
    }
    if quota == 0 && period == 0 {
        return;
    }
    let mut per_sec = u64::MAX;
    if let Some(quota) = u64::try_from(quota).ok().filter(|q| *q > 0) {
        let period = if period == 0 { 100_000 } else { period };
        per_sec = quota.saturating_mul(1_000_000) / period;
        if per_sec % 10_000 != 0 {
            per_sec = (per_sec / 10_000 + 1) * 10_000;
        }
    }
    out.push(prop("CPUQuotaPerSecUSec", Value::U64(per_sec)));
}

/// A cpuset list (`0-3,7`) as systemd's bitmask: bit `n % 8` of byte `n / 8` is `n`.
fn bits(list: &str, field: &str) -> Result<Value> {
    let bad = || Error::Invalid {
        field: format!("{F}.{field}"),
        msg: format!("{list:?} is not a list of numbers and ranges (e.g. 0-3,7)"),
    };
    let mut out: Vec<u8> = vec![];
    for part in list.trim().split(',') {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let (a, b): (usize, usize) = (
            a.trim().parse().map_err(|_| bad())?,
            b.trim().parse().map_err(|_| bad())?,
        );
        if a > b || b >= 1 << 16 {
            return Err(bad());
        }
        for n in a..=b {
            if out.len() <= n / 8 {
                out.resize(n / 8 + 1, 0);
            }
            out[n / 8] |= 1 << (n % 8);
        }
    }
    Ok(Value::Bytes(out))
}

fn block_dev(major: i64, minor: i64) -> String {
    format!("/dev/block/{major}:{minor}")
}

/// blockIO: the weights (converted to io.weight's range, as the file write does) and
/// the throttles, per device as `/dev/block/MAJOR:MINOR`.
fn block_io(out: &mut Props, b: &oci_spec::runtime::LinuxBlockIo) {
    if let Some(w) = b.weight() {
        out.push(prop("IOWeight", Value::U64(crate::blkio::io_weight(w))));
    }
    let weights: Vec<(String, u64)> = b
        .weight_device()
        .iter()
        .flatten()
        .filter_map(|d| Some((block_dev(d.major(), d.minor()), d.weight()?)))
        .map(|(dev, w)| (dev, crate::blkio::io_weight(w)))
        .collect();
    if !weights.is_empty() {
        out.push(prop("IODeviceWeight", Value::PairsU64(weights)));
    }
    for (name, list) in [
        ("IOReadBandwidthMax", b.throttle_read_bps_device()),
        ("IOWriteBandwidthMax", b.throttle_write_bps_device()),
        ("IOReadIOPSMax", b.throttle_read_iops_device()),
        ("IOWriteIOPSMax", b.throttle_write_iops_device()),
    ] {
        let v: Vec<(String, u64)> = list
            .iter()
            .flatten()
            .map(|d| (block_dev(d.major(), d.minor()), d.rate()))
            .collect();
        if !v.is_empty() {
            out.push(prop(name, Value::PairsU64(v)));
        }
    }
}

/// The unified keys systemd has properties for (runc's list); the rest is written to
/// the files only.
fn unified(out: &mut Props, u: &HashMap<String, String>) -> Result<()> {
    let mut keys: Vec<&String> = u.keys().collect();
    keys.sort();
    for k in keys {
        let v = u[k].trim();
        let field = format!("unified[{k:?}]");
        let bad = || Error::Invalid {
            field: format!("{F}.{field}"),
            msg: format!("{v:?} is not a value of {k}"),
        };
        match k.as_str() {
            "cpu.max" => {
                let mut it = v.split_whitespace();
                let quota = match it.next() {
                    Some("max") => 0,
                    Some(q) => q.parse().map_err(|_| bad())?,
                    None => return Err(bad()),
                };
                let period = it
                    .next()
                    .map_or(Ok(100_000), |p| p.parse().map_err(|_| bad()))?;
                cpu_quota(out, quota, period);
            }
            "cpu.weight" => out.push(prop("CPUWeight", Value::U64(v.parse().map_err(|_| bad())?))),
            "cpuset.cpus" => out.push(prop("AllowedCPUs", bits(v, &field)?)),
            "cpuset.mems" => out.push(prop("AllowedMemoryNodes", bits(v, &field)?)),
            "memory.high" | "memory.low" | "memory.min" | "memory.max" | "memory.swap.max" => {
                let name = match k.as_str() {
                    "memory.high" => "MemoryHigh",
                    "memory.low" => "MemoryLow",
                    "memory.min" => "MemoryMin",
                    "memory.max" => "MemoryMax",
                    _ => "MemorySwapMax",
                };
                out.push(prop(name, max_or_num(v, &field)?));
            }
            "pids.max" => out.push(prop("TasksMax", max_or_num(v, &field)?)),
            _ => {}
        }
    }
    Ok(())
}

/// DevicePolicy and DeviceAllow. systemd's device list is an allow list only: when the
/// rules end in "deny everything except …", that list becomes DeviceAllow with
/// DevicePolicy=strict; otherwise (allow everything except …, or a rule systemd cannot
/// name) DevicePolicy=auto puts no limit of systemd's own, and corral's device program,
/// attached beside systemd's and never touched by it, enforces the rules alone.
fn devices(r: &LinuxResources, extra: &[DeviceRule]) -> Result<Props> {
    if r.devices().is_none() && extra.is_empty() {
        return Ok(vec![]);
    }
    let mut rules = vec![];
    for (i, d) in r.devices().iter().flatten().enumerate() {
        rules.push((d.allow(), DeviceRule::from_spec(d, i)?));
    }
    rules.extend(extra.iter().map(|e| (true, e.clone())));
    let auto = || vec![prop("DevicePolicy", Value::Str("auto".into()))];
    let Some(allowed) = allow_list(&rules) else {
        return Ok(auto());
    };
    let groups = std::fs::read_to_string("/proc/devices").unwrap_or_default();
    let mut entries = vec![];
    for d in &allowed {
        let types: &[char] = match d.typ {
            'a' => &['c', 'b'],
            'c' => &['c'],
            _ => &['b'],
        };
        for &t in types {
            let Some(name) = device_name(t, d.major, d.minor, &groups) else {
                return Ok(auto());
            };
            entries.push((name, d.access.clone()));
        }
    }
    Ok(vec![
        prop("DevicePolicy", Value::Str("strict".into())),
        prop("DeviceAllow", Value::Pairs(entries)),
    ])
}

/// The devices allowed once every rule is applied in order, if the result is an allow
/// list (the last "all devices" rule denied everything); `None` for a deny list.
fn allow_list(rules: &[(bool, DeviceRule)]) -> Option<Vec<DeviceRule>> {
    let mut default_allow = true;
    let mut list: Vec<DeviceRule> = vec![];
    for (allow, d) in rules {
        let everything = d.typ == 'a' && d.major.is_none() && d.minor.is_none();
        if everything && "rwm".chars().all(|c| d.access.contains(c)) {
            default_allow = *allow;
            list.clear();
            continue;
        }
        if *allow != default_allow {
            match list
                .iter_mut()
                .find(|e| (e.typ, e.major, e.minor) == (d.typ, d.major, d.minor))
            {
                Some(e) => {
                    let add: String = d
                        .access
                        .chars()
                        .filter(|c| !e.access.contains(*c))
                        .collect();
                    e.access.push_str(&add);
                }
                None => list.push(d.clone()),
            }
        } else {
            // Take the rule's access away from every entry it covers.
            for e in &mut list {
                let covers = (d.typ == 'a' || d.typ == e.typ)
                    && d.major.is_none_or(|m| Some(m) == e.major)
                    && d.minor.is_none_or(|m| Some(m) == e.minor);
                if covers {
                    e.access.retain(|c| !d.access.contains(c));
                }
            }
            list.retain(|e| !e.access.is_empty());
        }
    }
    (!default_allow).then_some(list)
}

/// systemd's name for a device rule: `char-*` (every device of a type), `char-GROUP`
/// (a major number, by its name in /proc/devices), `/dev/char/MAJOR:MINOR`.
fn device_name(t: char, major: Option<u32>, minor: Option<u32>, groups: &str) -> Option<String> {
    let kind = if t == 'c' { "char" } else { "block" };
    match (major, minor) {
        (None, None) => Some(format!("{kind}-*")),
        (Some(ma), Some(mi)) => Some(format!("/dev/{kind}/{ma}:{mi}")),
        (Some(ma), None) => {
            let section = if t == 'c' {
                "Character devices:"
            } else {
                "Block devices:"
            };
            groups
                .split("\n\n")
                .find(|s| s.trim_start().starts_with(section))?
                .lines()
                .filter_map(|l| l.trim().split_once(' '))
                .find(|(n, _)| n.parse() == Ok(ma))
                .map(|(_, name)| format!("{kind}-{}", name.trim()))
        }
        (None, Some(_)) => None,
    }
}

/// The D-Bus type of the properties an annotation may set: those of a scope that
/// systemd 252 takes in a transient unit. Slice, PIDs and Delegate stay corral's.
const KNOWN: &[(&str, &str)] = &[
    ("CPUAccounting", "b"),
    ("MemoryAccounting", "b"),
    ("TasksAccounting", "b"),
    ("IOAccounting", "b"),
    ("IPAccounting", "b"),
    ("DefaultDependencies", "b"),
    ("SendSIGKILL", "b"),
    ("SendSIGHUP", "b"),
    ("CPUWeight", "t"),
    ("StartupCPUWeight", "t"),
    ("CPUQuotaPerSecUSec", "t"),
    ("CPUQuotaPeriodUSec", "t"),
    ("IOWeight", "t"),
    ("StartupIOWeight", "t"),
    ("MemoryMin", "t"),
    ("MemoryLow", "t"),
    ("MemoryHigh", "t"),
    ("MemoryMax", "t"),
    ("MemorySwapMax", "t"),
    ("MemoryZSwapMax", "t"),
    ("DefaultMemoryMin", "t"),
    ("DefaultMemoryLow", "t"),
    ("TasksMax", "t"),
    ("TimeoutStopUSec", "t"),
    ("RuntimeMaxUSec", "t"),
    ("RuntimeRandomizedExtraUSec", "t"),
    ("ManagedOOMMemoryPressureLimit", "u"),
    ("KillSignal", "i"),
    ("FinalKillSignal", "i"),
    ("WatchdogSignal", "i"),
    ("Description", "s"),
    ("CollectMode", "s"),
    ("KillMode", "s"),
    ("DevicePolicy", "s"),
    ("OOMPolicy", "s"),
    ("ManagedOOMSwap", "s"),
    ("ManagedOOMMemoryPressure", "s"),
    ("ManagedOOMPreference", "s"),
    ("After", "as"),
    ("Before", "as"),
    ("Wants", "as"),
    ("Requires", "as"),
    ("Requisite", "as"),
    ("BindsTo", "as"),
    ("PartOf", "as"),
    ("Conflicts", "as"),
    ("DisableControllers", "as"),
];

const PREFIX: &str = "org.systemd.property.";

/// The `org.systemd.property.*` annotations as unit properties, sorted by name.
pub fn of_annotations(a: Option<&HashMap<String, String>>) -> Result<Props> {
    let mut keys: Vec<&String> = a
        .into_iter()
        .flat_map(|a| a.keys())
        .filter(|k| k.starts_with(PREFIX))
        .collect();
    keys.sort();
    let a = a.map(|a| a.to_owned()).unwrap_or_default();
    keys.into_iter()
        .map(|k| {
            annotation(&k[PREFIX.len()..], &a[k]).map_err(|msg| Error::Invalid {
                field: format!("annotations[{k:?}]"),
                msg,
            })
        })
        .collect()
}

fn annotation(name: &str, text: &str) -> std::result::Result<(String, Value), String> {
    let mut value = parse_variant(text)?;
    let mut name = name.to_string();
    // runc's rule: NAMESec (a lower-case letter before "Sec") is NAMEUSec in seconds.
    if let Some(stem) = name.strip_suffix("Sec") {
        if stem.ends_with(|c: char| c.is_ascii_lowercase()) {
            let secs = match value {
                Value::I32(n) => n as f64,
                Value::U32(n) => n as f64,
                Value::I64(n) => n as f64,
                Value::U64(n) => n as f64,
                Value::F64(n) => n,
                _ => return Err(format!("{name} takes a number of seconds, not {text:?}")),
            };
            if secs < 0.0 {
                return Err(format!("{name} takes a number of seconds, not {text:?}"));
            }
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "secs is not negative (checked above), and a float-to-int cast saturates"
            )]
            let usec = (secs * 1e6) as u64;
            value = Value::U64(usec);
            name = format!("{stem}USec");
        }
    }
    let Some((_, want)) = KNOWN.iter().find(|(n, _)| *n == name) else {
        return Err(format!(
            "{name} is not a scope property corral sets (it knows {})",
            KNOWN.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
        ));
    };
    let have = value.signature();
    if have != *want {
        return Err(format!(
            "{name} is of D-Bus type {want:?}, the value {text:?} is of type {have:?} \
             (GVariant text: e.g. \"uint64 1024\", \"true\", \"'text'\", \"['a.service']\")"
        ));
    }
    Ok((name, value))
}

/// A value in GVariant's text form, the part of it unit properties use.
fn parse_variant(text: &str) -> std::result::Result<Value, String> {
    let t = text.trim();
    let bad = || format!("{text:?} is not a value in GVariant's text form corral reads");
    let int =
        |s: &str| -> std::result::Result<i128, String> { s.trim().parse().map_err(|_| bad()) };
    if let Some((ty, rest)) = t.split_once(' ') {
        let v = match ty {
            "boolean" => {
                return parse_variant(rest).and_then(|v| match v {
                    Value::Bool(_) => Ok(v),
                    _ => Err(bad()),
                })
            }
            "int32" => i32::try_from(int(rest)?).map(Value::I32).ok(),
            "uint32" => u32::try_from(int(rest)?).map(Value::U32).ok(),
            "int64" => i64::try_from(int(rest)?).map(Value::I64).ok(),
            "uint64" => u64::try_from(int(rest)?).map(Value::U64).ok(),
            "double" => rest.trim().parse().map(Value::F64).ok(),
            "@as" => return strings(rest.trim()).map(Value::Strs).ok_or_else(bad),
            _ => None,
        };
        if let Some(v) = v {
            return Ok(v);
        }
        if ["int32", "uint32", "int64", "uint64", "double"].contains(&ty) {
            return Err(bad());
        }
    }
    match t {
        "true" => return Ok(Value::Bool(true)),
        "false" => return Ok(Value::Bool(false)),
        _ => {}
    }
    if let Some(s) = string(t) {
        return Ok(Value::Str(s));
    }
    if t.starts_with('[') {
        return strings(t).map(Value::Strs).ok_or_else(bad);
    }
    if let Ok(n) = t.parse::<i32>() {
        return Ok(Value::I32(n));
    }
    if let Ok(n) = t.parse::<i64>() {
        return Ok(Value::I64(n));
    }
    if t.contains('.') {
        if let Ok(f) = t.parse::<f64>() {
            return Ok(Value::F64(f));
        }
    }
    Err(bad())
}

/// `'text'` or `"text"`, with `\` escaping the next character.
fn string(t: &str) -> Option<String> {
    let q = t.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let inner = t.strip_prefix(q)?.strip_suffix(q)?;
    let mut out = String::new();
    let mut it = inner.chars();
    while let Some(c) = it.next() {
        match c {
            '\\' => out.push(it.next()?),
            c if c == q => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

/// `['a', 'b']` or `[]`.
fn strings(t: &str) -> Option<Vec<String>> {
    let inner = t.strip_prefix('[')?.strip_suffix(']')?.trim();
    if inner.is_empty() {
        return Some(vec![]);
    }
    inner.split(',').map(|s| string(s.trim())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxResources;

    fn res(json: &str) -> LinuxResources {
        serde_json::from_str(json).unwrap()
    }

    fn get<'a>(p: &'a Props, n: &str) -> Option<&'a Value> {
        p.iter().rev().find(|(k, _)| k == n).map(|(_, v)| v)
    }

    #[test]
    fn resources_as_runc_maps_them() {
        let r = res(
            r#"{"memory":{"limit":104857600,"swap":209715200,"reservation":1024},
            "cpu":{"shares":1024,"quota":12345,"period":100000,"cpus":"0-1,9","mems":"0"},
            "pids":{"limit":42}}"#,
        );
        let p = of_resources(&r, &[]).unwrap();
        assert_eq!(get(&p, "MemoryMax"), Some(&Value::U64(104857600)));
        assert_eq!(get(&p, "MemorySwapMax"), Some(&Value::U64(104857600)));
        assert_eq!(get(&p, "MemoryLow"), Some(&Value::U64(1024)));
        assert_eq!(get(&p, "CPUWeight"), Some(&Value::U64(39)));
        assert_eq!(get(&p, "CPUQuotaPeriodUSec"), Some(&Value::U64(100000)));
        // 123450 µs per second, rounded up to whole percents.
        assert_eq!(get(&p, "CPUQuotaPerSecUSec"), Some(&Value::U64(130000)));
        assert_eq!(get(&p, "AllowedCPUs"), Some(&Value::Bytes(vec![3, 2])));
        assert_eq!(get(&p, "AllowedMemoryNodes"), Some(&Value::Bytes(vec![1])));
        assert_eq!(get(&p, "TasksMax"), Some(&Value::U64(42)));
        assert!(get(&p, "DevicePolicy").is_none());
        let p = of_resources(&res(r#"{"memory":{"limit":-1},"pids":{"limit":-1}}"#), &[]).unwrap();
        assert_eq!(get(&p, "MemoryMax"), Some(&Value::U64(u64::MAX)));
        assert_eq!(get(&p, "MemorySwapMax"), Some(&Value::U64(u64::MAX)));
        assert_eq!(get(&p, "TasksMax"), Some(&Value::U64(u64::MAX)));
        let p = of_resources(
            &res(r#"{"unified":{"memory.high":"max","cpu.max":"50000 100000"}}"#),
            &[],
        )
        .unwrap();
        assert_eq!(get(&p, "MemoryHigh"), Some(&Value::U64(u64::MAX)));
        assert_eq!(get(&p, "CPUQuotaPerSecUSec"), Some(&Value::U64(500000)));
    }

    #[test]
    fn device_lists() {
        let r = res(r#"{"devices":[{"allow":false,"access":"rwm"},
            {"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"},
            {"allow":false,"type":"c","major":1,"minor":3,"access":"w"},
            {"allow":true,"type":"b","access":"m"}]}"#);
        let p = of_resources(&r, &[]).unwrap();
        assert_eq!(get(&p, "DevicePolicy"), Some(&Value::Str("strict".into())));
        assert_eq!(
            get(&p, "DeviceAllow"),
            Some(&Value::Pairs(vec![
                ("/dev/char/1:3".into(), "rm".into()),
                ("block-*".into(), "m".into())
            ]))
        );
        // Allow everything but one: systemd cannot say it.
        let r =
            res(r#"{"devices":[{"allow":false,"type":"c","major":1,"minor":3,"access":"rwm"}]}"#);
        let p = of_resources(&r, &[]).unwrap();
        assert_eq!(get(&p, "DevicePolicy"), Some(&Value::Str("auto".into())));
        let groups = "Character devices:\n  1 mem\n136 pts\n\nBlock devices:\n  8 sd\n";
        assert_eq!(
            device_name('c', Some(136), None, groups).unwrap(),
            "char-pts"
        );
        assert_eq!(device_name('b', Some(8), None, groups).unwrap(), "block-sd");
        assert_eq!(device_name('c', Some(99), None, groups), None);
    }

    #[test]
    fn annotations() {
        let a: HashMap<String, String> = [
            ("org.systemd.property.TasksMax", "uint64 7"),
            ("org.systemd.property.TimeoutStopSec", "2"),
            ("org.systemd.property.CollectMode", "'inactive-or-failed'"),
            ("org.systemd.property.After", "['a.service', \"b.service\"]"),
            ("org.systemd.property.SendSIGHUP", "true"),
            ("other", "x"),
        ]
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
        let p = of_annotations(Some(&a)).unwrap();
        assert_eq!(get(&p, "TasksMax"), Some(&Value::U64(7)));
        assert_eq!(get(&p, "TimeoutStopUSec"), Some(&Value::U64(2_000_000)));
        assert_eq!(
            get(&p, "CollectMode"),
            Some(&Value::Str("inactive-or-failed".into()))
        );
        assert_eq!(
            get(&p, "After"),
            Some(&Value::Strs(vec!["a.service".into(), "b.service".into()]))
        );
        assert_eq!(p.len(), 5);
        for (k, v) in [
            ("org.systemd.property.NoSuchThing", "true"),
            ("org.systemd.property.TasksMax", "'lots'"),
            ("org.systemd.property.TasksMax", "7"),
            ("org.systemd.property.Slice", "'x.slice'"),
            ("org.systemd.property.MemoryMax", "uint64 -1"),
            ("org.systemd.property.Description", "'unterminated"),
        ] {
            let a = HashMap::from([(k.to_string(), v.to_string())]);
            let e = of_annotations(Some(&a)).unwrap_err().to_string();
            assert!(e.starts_with(&format!("annotations[{k:?}]: ")), "{e}");
        }
    }
}
