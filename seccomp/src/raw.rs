//! Names the field when `linux.seccomp` holds a value oci-spec's types reject: serde
//! reports only "unknown variant … at line 12 column 5", which does not say which field.

use crate::names::name;
use crate::{Error, Result};
use oci_spec::runtime::{Arch, LinuxSeccompAction, LinuxSeccompFilterFlag, LinuxSeccompOperator};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Checks the enumerated fields of a raw `linux.seccomp` object. Call it when the whole
/// `config.json` failed to parse: `Ok` means the problem is not in these fields.
pub fn check_json(seccomp: &Value) -> Result<()> {
    one::<LinuxSeccompAction>(seccomp.get("defaultAction"), "defaultAction", "action")?;
    each::<Arch>(seccomp, "architectures", "architecture")?;
    each::<LinuxSeccompFilterFlag>(seccomp, "flags", "flag")?;
    let syscalls = seccomp.get("syscalls").and_then(Value::as_array);
    for (i, sc) in syscalls.into_iter().flatten().enumerate() {
        let at = format!("syscalls[{i}]");
        one::<LinuxSeccompAction>(sc.get("action"), &format!("{at}.action"), "action")?;
        let args = sc.get("args").and_then(Value::as_array);
        for (j, a) in args.into_iter().flatten().enumerate() {
            one::<LinuxSeccompOperator>(a.get("op"), &format!("{at}.args[{j}].op"), "operator")?;
        }
    }
    Ok(())
}

fn each<T: DeserializeOwned>(seccomp: &Value, key: &str, what: &str) -> Result<()> {
    let list = seccomp.get(key).and_then(Value::as_array);
    for (i, v) in list.into_iter().flatten().enumerate() {
        one::<T>(Some(v), &format!("{key}[{i}]"), what)?;
    }
    Ok(())
}

fn one<T: DeserializeOwned>(v: Option<&Value>, field: &str, what: &str) -> Result<()> {
    let Some(v) = v else { return Ok(()) };
    if serde_json::from_value::<T>(v.clone()).is_ok() {
        return Ok(());
    }
    let known = match what {
        "action" => crate::names::ACTIONS.iter().map(name).collect::<Vec<_>>(),
        "architecture" => crate::names::ARCHS.iter().map(name).collect(),
        "flag" => crate::names::FLAGS.iter().map(name).collect(),
        _ => crate::names::OPERATORS.iter().map(name).collect(),
    };
    Err(Error::invalid(
        format!("linux.seccomp.{field}"),
        format!("unknown {what} {v}; known: {}", known.join(", ")),
    ))
}
