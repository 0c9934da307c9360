//! The command line of corral-engines.

use std::path::PathBuf;

pub const ENGINES: [&str; 3] = ["podman", "containerd", "docker"];
const USAGE: &str = "usage: corral-engines --runtime PATH [--engine podman|containerd|docker]... \
                     [--filter SUBSTRING]... [--list] [--record FILE] [--keep] [--criu]";

pub struct Args {
    pub runtime: PathBuf,
    pub engines: Vec<String>,
    pub filters: Vec<String>,
    pub list: bool,
    pub record: Option<PathBuf>,
    pub keep: bool,
    /// The checkpoint/restore flows too (`*_checkpoint_*`: they need a CRIU that runs on
    /// this kernel, i.e. the systemd guest).
    pub criu: bool,
}

impl Args {
    pub fn selects(&self, engine: &str, name: &str) -> bool {
        self.engines.iter().any(|e| e == engine)
            && (self.criu || !name.contains("_checkpoint_"))
            && (self.filters.is_empty() || self.filters.iter().any(|f| name.contains(f.as_str())))
    }
}

pub fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        runtime: PathBuf::new(),
        engines: vec![],
        filters: vec![],
        list: false,
        record: None,
        keep: false,
        criu: false,
    };
    let mut runtime = None;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or(format!("{arg} needs a value\n{USAGE}"));
        match arg.as_str() {
            "--runtime" => runtime = Some(PathBuf::from(value()?)),
            "--engine" => {
                let e = value()?;
                if !ENGINES.contains(&e.as_str()) {
                    return Err(format!("unknown engine {e:?}\n{USAGE}"));
                }
                a.engines.push(e);
            }
            "--filter" => a.filters.push(value()?),
            "--record" => {
                let f = PathBuf::from(value()?);
                // Absolute: the suite runs from / (see main).
                a.record =
                    Some(std::path::absolute(&f).map_err(|e| format!("{}: {e}", f.display()))?)
            }
            "--list" => a.list = true,
            "--keep" => a.keep = true,
            "--criu" => a.criu = true,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    if a.engines.is_empty() {
        a.engines = ENGINES.iter().map(|e| e.to_string()).collect();
    }
    a.runtime = match runtime {
        Some(r) => r
            .canonicalize()
            .map_err(|e| format!("runtime {}: {e}", r.display()))?,
        None if a.list => PathBuf::new(),
        None => return Err(format!("--runtime PATH is required\n{USAGE}")),
    };
    Ok(a)
}

impl Args {
    /// Whether a check that belongs to no engine is selected.
    pub fn selects_check(&self, name: &str) -> bool {
        self.filters.is_empty() || self.filters.iter().any(|f| name.contains(f.as_str()))
    }
}
