//! Whether a runtime's command line takes an invocation form, read from the runtime's
//! own `--help` (runc's urfave/cli and corral's clap both list each option as
//! `--name PLACEHOLDER[, -n PLACEHOLDER]` and print a usage line with the arguments):
//! the command exists, every flag is one it lists (global flags before the command,
//! the command's after it), and there are no more arguments than its usage names.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;

#[derive(Debug, Default)]
pub struct Help {
    /// Flag name (`--root`, `-b`) -> whether it takes a value.
    flags: HashMap<String, bool>,
    /// The most arguments the usage line names; None when unbounded (`...`).
    max_args: Option<usize>,
}

/// The runtime's help texts, read once each.
pub struct Surface {
    runtime: PathBuf,
    helps: HashMap<String, Result<Help, String>>,
}

impl Surface {
    pub fn new(runtime: PathBuf) -> Surface {
        Surface {
            runtime,
            helps: HashMap::new(),
        }
    }

    fn help(&mut self, command: &str) -> Result<&Help, String> {
        if !self.helps.contains_key(command) {
            let h = read_help(&self.runtime, command);
            self.helps.insert(command.to_string(), h);
        }
        self.helps[command].as_ref().map_err(Clone::clone)
    }

    /// Ok when the runtime's command line takes `args` (one form's arguments).
    pub fn check(&mut self, args: &[&str]) -> Result<(), String> {
        let mut i = self.flags("", args, 0)?;
        let Some(command) = args.get(i) else {
            return Ok(());
        };
        self.help(command)?;
        let mut positional = 0;
        i += 1;
        while i < args.len() {
            if args[i].starts_with('-') && args[i] != "-" {
                i = self.flags(command, args, i)?;
            } else {
                positional += 1;
                i += 1;
            }
        }
        let max = self.help(command)?.max_args;
        match max {
            Some(m) if positional > m => Err(format!(
                "`{command}` takes at most {m} argument(s) by its usage line, got {positional}"
            )),
            _ => Ok(()),
        }
    }

    /// Checks the flags of `command` ("" = global) from `args[i]` on; returns the
    /// index of the first argument that is not a flag or a flag's value.
    fn flags(&mut self, command: &str, args: &[&str], mut i: usize) -> Result<usize, String> {
        let help = self.help(command)?;
        while let Some(a) = args.get(i).filter(|a| a.starts_with('-') && **a != "-") {
            let (name, inline) = match a.split_once('=') {
                Some((n, _)) => (n, true),
                None => (*a, false),
            };
            let where_ = if command.is_empty() {
                "global"
            } else {
                command
            };
            let takes = *help
                .flags
                .get(name)
                .ok_or(format!("{where_} flag {name} is not in the runtime's help"))?;
            i += if takes && !inline { 2 } else { 1 };
        }
        Ok(i)
    }
}

/// `RUNTIME --help` ("" command) or `RUNTIME COMMAND --help`, parsed.
fn read_help(runtime: &PathBuf, command: &str) -> Result<Help, String> {
    let mut c = Command::new(runtime);
    if !command.is_empty() {
        c.arg(command);
    }
    let out = c
        .arg("--help")
        .output()
        .map_err(|e| format!("{}: {e}", runtime.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!("`{command} --help` fails: no such command"));
    }
    Ok(parse(&text, command))
}

pub fn parse(text: &str, command: &str) -> Help {
    let mut h = Help {
        max_args: usage_args(text, command),
        ..Help::default()
    };
    for line in text.lines().map(str::trim_start) {
        if !line.starts_with('-') {
            continue;
        }
        // The option part ends where the description starts (two spaces).
        let opts = line.split("  ").next().unwrap_or_default();
        let alts: Vec<Vec<&str>> = opts
            .split(", ")
            .map(|a| a.split_whitespace().collect())
            .collect();
        let takes = alts.iter().any(|a| {
            a.get(1)
                .is_some_and(|p| *p == "value" || p.starts_with('<'))
        });
        for a in alts {
            if let Some(name) = a.first().filter(|n| n.starts_with('-')) {
                h.flags
                    .insert(name.trim_end_matches(',').to_string(), takes);
            }
        }
    }
    h
}

/// How many arguments the usage line of `command` names (`<id>`, `[signal]`), not
/// counting option placeholders; None when it takes any number.
fn usage_args(text: &str, command: &str) -> Option<usize> {
    let mut lines = text.lines().map(str::trim);
    let usage = loop {
        let l = lines.next()?;
        if let Some(u) = l.strip_prefix("Usage:") {
            break u.trim().to_string();
        }
        if l == "USAGE:" {
            break lines.next()?.to_string();
        }
    };
    let usage = usage
        .replace("[command options]", "")
        .replace("[global options]", "")
        .replace("[OPTIONS]", "");
    let words: Vec<&str> = usage.split_whitespace().collect();
    let after = words
        .iter()
        .position(|w| *w == command)
        .map_or(1, |p| p + 1);
    let mut n = 0;
    for w in words.iter().skip(after).take_while(|w| **w != "||") {
        if w.contains("...") {
            return None;
        }
        if w.starts_with('<') || w.starts_with('[') {
            n += 1;
        }
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUNC_KILL: &str = "NAME:\n   runc kill - kill sends the signal\n\nUSAGE:\n   \
        runc kill [command options] <container-id> [signal]\n\nOPTIONS:\n   \
        --all, -a  send the specified signal to all processes inside the container\n";
    const CLAP_CREATE: &str = "Create a container\n\nUsage: corral create [OPTIONS] <ID>\n\n\
        Arguments:\n  <ID>  The container id\n\nOptions:\n  \
        -b, --bundle <DIR>  Path to the bundle\n      --no-pivot  Do not pivot\n";
    const CLAP_UNSUPPORTED: &str = "Freeze (not supported yet)\n\nUsage: corral pause\n\n\
        Options:\n  -h, --help  Print help\n";

    #[test]
    fn runc_and_clap_help_are_read() {
        let k = parse(RUNC_KILL, "kill");
        assert_eq!(k.max_args, Some(2));
        assert_eq!(k.flags.get("--all"), Some(&false));
        assert_eq!(k.flags.get("-a"), Some(&false));
        let c = parse(CLAP_CREATE, "create");
        assert_eq!(c.max_args, Some(1));
        assert_eq!(c.flags.get("-b"), Some(&true));
        assert_eq!(c.flags.get("--bundle"), Some(&true));
        assert_eq!(c.flags.get("--no-pivot"), Some(&false));
        assert_eq!(parse(CLAP_UNSUPPORTED, "pause").max_args, Some(0));
    }
}
