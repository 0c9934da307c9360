//! The runc-compatible command line of corral.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\nspec: ", "1.3.0");

#[derive(Parser, Debug)]
#[command(
    name = "corral",
    version = VERSION,
    about = "corral: a low-level OCI container runtime",
    long_about = "corral runs containers from OCI bundles (runtime-spec 1.3). Its command line follows runc's, so container engines can use it as their OCI runtime."
)]
pub struct Cli {
    // Global options come before the command, as with runc.
    /// Directory for the state of containers (default /run/corral; $XDG_RUNTIME_DIR/corral when not root)
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Write log lines to FILE instead of standard error
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Format of log lines
    #[arg(long = "log-format", value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Log debug lines too
    #[arg(long)]
    pub debug: bool,
    /// Manage cgroups through systemd (not supported yet)
    #[arg(long = "systemd-cgroup")]
    pub systemd_cgroup: bool,
    /// Rootless mode: true, false or auto (default: rootless when not run as root). A rootless container needs a user namespace
    #[arg(long, value_name = "true|false|auto", num_args = 0..=1, default_missing_value = "true")]
    pub rootless: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListFormat {
    Table,
    Json,
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Path to the bundle directory (holding config.json)
    #[arg(short, long, default_value = ".", value_name = "DIR")]
    pub bundle: PathBuf,
    /// Unix socket to send the pseudo-terminal master to (with process.terminal)
    #[arg(long = "console-socket", value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// Write the container init's pid to FILE
    #[arg(long = "pid-file", value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// Do not use pivot_root to enter the rootfs (for a ramfs root): move it and chroot
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Do not create a new session keyring for the container
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// Number of extra fds to pass to the container, after stdio and those of socket activation ($LISTEN_FDS)
    #[arg(long = "preserve-fds", default_value_t = 0, value_name = "N")]
    pub preserve_fds: u32,
    /// The container id: a name unique under --root
    pub id: String,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a container, ready to start
    Create(CreateArgs),
    /// Start a created container: run its user process (with $NOTIFY_SOCKET, wait until it is ready)
    Start { id: String },
    /// Create and start a container, wait for it (unless --detach) and delete it
    Run {
        #[command(flatten)]
        create: CreateArgs,
        /// Return once the container is started
        #[arg(short, long)]
        detach: bool,
        /// Do not delete the container after it exits
        #[arg(long)]
        keep: bool,
        /// Do not become the subreaper of processes the container leaves behind
        #[arg(long = "no-subreaper")]
        no_subreaper: bool,
    },
    /// Print the state of a container as JSON
    State { id: String },
    /// Send a signal to a container's init (default SIGTERM)
    Kill {
        /// Send the signal to every process of the container
        #[arg(short, long)]
        all: bool,
        id: String,
        /// Signal name (KILL or SIGKILL) or number
        #[arg(default_value = "SIGTERM")]
        signal: String,
    },
    /// Delete a container and everything it holds
    Delete {
        /// Kill the container first if it is running
        #[arg(short, long)]
        force: bool,
        id: String,
    },
    /// List containers
    List {
        /// Output format
        #[arg(short, long, value_enum, default_value = "table")]
        format: ListFormat,
        /// Print only the ids
        #[arg(short, long)]
        quiet: bool,
    },
    /// Write a default config.json for a new bundle
    Spec {
        /// Directory to write config.json in
        #[arg(short, long, default_value = ".", value_name = "DIR")]
        bundle: PathBuf,
        /// Write a config for running as an unprivileged user
        #[arg(long)]
        rootless: bool,
    },
    /// Print the features of this runtime as JSON (runtime-spec features.md)
    Features,
    /// Run a process in a container (not supported yet)
    Exec(Unsupported),
    /// List the processes of a container (not supported yet)
    Ps(Unsupported),
    /// Freeze every process of a container (not supported yet)
    Pause(Unsupported),
    /// Thaw a paused container (not supported yet)
    Resume(Unsupported),
    /// Print a container's events and statistics (not supported yet)
    Events(Unsupported),
    /// Change a container's resource limits (not supported yet)
    Update(Unsupported),
}

/// A command a later version of corral implements; refused with an error today.
#[derive(Args, Debug)]
pub struct Unsupported {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    pub args: Vec<String>,
}
