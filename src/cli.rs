//! The runc-compatible command line of corral.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// The version clap knows at compile time; `corral --version` prints [`version_text`].
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What `--version` and `-v` print after "corral ", line by line as runc prints them
/// (moby's and go-runc's parsers read them: tests/version.rs).
pub fn version_text(libseccomp: &str) -> String {
    format!(
        "version {}\ncommit: {}\nspec: {}\nlibseccomp: {libseccomp}",
        env!("CARGO_PKG_VERSION"),
        env!("CORRAL_COMMIT"),
        libcontainer::OCI_VERSION,
    )
}

#[derive(Parser, Debug)]
#[command(
    name = "corral",
    version = VERSION,
    disable_version_flag = true,
    about = "corral: a low-level OCI container runtime",
    long_about = "corral runs containers from OCI bundles (runtime-spec 1.3). Its command line follows runc's, so container engines can use it as their OCI runtime."
)]
pub struct Cli {
    // Global options come before the command, as with runc.
    /// Directory for the state of containers (default /run/corral; $XDG_RUNTIME_DIR/corral when not root). It must belong to the caller and not be writable by its group or others
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Write log lines to FILE instead of standard error
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Format of log lines
    #[arg(
        long = "log-format",
        value_enum,
        default_value = "text",
        value_name = "text|json"
    )]
    pub log_format: LogFormat,
    /// Log debug lines too
    #[arg(long)]
    pub debug: bool,
    /// Manage cgroups through systemd: the container gets a transient scope (cgroupsPath slice:prefix:name, default system.slice:corral:ID; for a non-root caller user.slice:corral:ID in its own systemd user manager) made over D-Bus; later commands use the driver the state records
    #[arg(long = "systemd-cgroup")]
    pub systemd_cgroup: bool,
    /// Rootless mode: true, false or auto (default: rootless when not run as root). A rootless container needs a user namespace
    #[arg(long, value_name = "true|false|auto", num_args = 0..=1, default_missing_value = "true")]
    pub rootless: Option<String>,
    /// Print the version, the commit, the runtime-spec and libseccomp versions
    #[arg(short = 'v', long = "version", action = clap::ArgAction::Version)]
    pub version: Option<bool>,
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
    /// Unix socket to send a pidfd of the container's init to (SCM_RIGHTS), once it is ready
    #[arg(long = "pidfd-socket", value_name = "PATH")]
    pub pidfd_socket: Option<PathBuf>,
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
// Each command's arguments are built only when it is the one parsed: building them all
// cost about a third of a short command's start (clap's stack and heap pages). So the
// doc comments of the argument structs below are plain comments: with `defer` clap
// would take them as the command's about text.
#[command(defer = true)]
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
    /// Delete a stopped container and everything it holds
    Delete {
        /// Kill the container first if it is not stopped (created, running or paused)
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
    /// Run a new process in a created or running container
    #[command(
        override_usage = "corral exec [OPTIONS] <ID> <COMMAND> [ARGS]...\n       corral exec [OPTIONS] --process <FILE> <ID>",
        long_about = "Run a new process in a created or running container: in the namespaces and the cgroup of its init, under its seccomp profile. Without --process the process is the config's process (user, env, cwd, capabilities, rlimits, labels, noNewPrivileges) with COMMAND as its args and the flags below over it; --process takes a whole OCI process object from a JSON file instead. In the foreground corral waits for the process and exits with its status (128+N when signal N ended it), passing on the signals it gets; with --detach it returns once the process runs."
    )]
    Exec(Box<ExecArgs>),
    /// List the processes of a container: a ps(1) table of them, or their pids as JSON
    ///
    /// The table is ps(1)'s output (ps -ef, or ps with PS_ARGS, given after the id)
    /// with its header and the rows of the container's processes.
    Ps {
        /// Output format: table (ps's own, filtered to the container) or json (pids)
        #[arg(short, long, value_enum, default_value = "table")]
        format: ListFormat,
        id: String,
        /// Options for ps(1) in table format (default -ef); they go after the id
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "PS_ARGS"
        )]
        ps_args: Vec<String>,
    },
    /// Freeze every process of a running container (its cgroup)
    Pause { id: String },
    /// Thaw a paused container
    Resume { id: String },
    /// Print a container's statistics, and its OOM events, as JSON lines
    ///
    /// With --stats: one {"type":"stats","id":ID,"data":{…}} object (runc's fields).
    /// Without: such an object at once and every --interval, and {"type":"oom","id":ID}
    /// each time the container's cgroup runs out of memory, until the container stops.
    Events {
        /// Print the statistics once and exit
        #[arg(long)]
        stats: bool,
        /// Time between two statistics (Go syntax: 5s, 500ms, 1m30s)
        #[arg(long, default_value = "5s", value_name = "DURATION")]
        interval: String,
        id: String,
    },
    /// Change a running container's resource limits
    ///
    /// The change is a linux.resources JSON object (--resources FILE, or - for standard
    /// input, as containerd's shim sends it) or the flags; what is left out stays as it
    /// is, and so does a 0 where runc reads 0 as "unchanged" (memory, cpu shares, quota
    /// and period, pids and blkio weight). Device rules are not changed. The result is
    /// checked like create's limits and recorded in the container's state.
    Update(Box<UpdateArgs>),
    /// Print a completion script for a shell (scripts/install.sh installs them)
    ///
    /// Bash: source it, or put it in /usr/share/bash-completion/completions/corral.
    /// zsh: put it as _corral in a directory of $fpath. fish: put it in
    /// ~/.config/fish/completions/corral.fish.
    Completion {
        /// The shell to complete for
        #[arg(value_enum)]
        shell: Shell,
    },
    /// Checkpoint a running container with CRIU (Debian: apt-get install criu)
    ///
    /// CRIU dumps the container's processes to --image-path; the container is then gone
    /// unless --leave-running (or --pre-dump, which only copies memory ahead of a dump).
    Checkpoint(Box<CheckpointArgs>),
    /// Restore a container from a checkpoint made with `checkpoint`, under ID
    ///
    /// The bundle's config is used as `create` would (its cgroup and limits); the
    /// state is `running`, with the restored init's new pid. In the foreground corral
    /// waits for the container and deletes it, as `run` does; --detach returns at once.
    Restore(Box<RestoreArgs>),
}

/// The shells `completion` writes scripts for.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

// What `checkpoint` and `restore` share (runc's flags and meanings).
#[derive(Args, Debug)]
pub struct CriuArgs {
    /// Directory of the checkpoint images (default ./checkpoint)
    #[arg(long = "image-path", value_name = "DIR")]
    pub image_path: Option<PathBuf>,
    /// Directory for CRIU's log and temporary files (default: the image path)
    #[arg(long = "work-path", value_name = "DIR")]
    pub work_path: Option<PathBuf>,
    /// Leave the container running after the checkpoint
    #[arg(long = "leave-running")]
    pub leave_running: bool,
    /// Allow established TCP connections
    #[arg(long = "tcp-established")]
    pub tcp_established: bool,
    /// Skip in-flight TCP connections
    #[arg(long = "tcp-skip-in-flight")]
    pub tcp_skip_in_flight: bool,
    /// Allow linking unlinked files back
    #[arg(long = "link-remap")]
    pub link_remap: bool,
    /// Allow external unix sockets
    #[arg(long = "ext-unix-sk")]
    pub ext_unix_sk: bool,
    /// Allow shell jobs
    #[arg(long = "shell-job")]
    pub shell_job: bool,
    /// Handle file locks
    #[arg(long = "file-locks")]
    pub file_locks: bool,
    /// Lazy migration through a page server: not supported by corral (refused)
    #[arg(long = "lazy-pages")]
    pub lazy_pages: bool,
    /// Fd to report lazy-pages readiness on: not supported by corral (refused)
    #[arg(long = "status-fd", value_name = "FD")]
    pub status_fd: Option<String>,
    /// Page server ADDRESS:PORT: not supported by corral (refused)
    #[arg(long = "page-server", value_name = "ADDRESS:PORT")]
    pub page_server: Option<String>,
    /// CRIU's cgroups mode: soft (default), full, strict or ignore
    #[arg(long = "manage-cgroups-mode", value_name = "MODE")]
    pub manage_cgroups_mode: Option<String>,
    /// Create this namespace empty on restore instead of restoring it (network only; repeatable)
    #[arg(long = "empty-ns", value_name = "NS")]
    pub empty_ns: Vec<String>,
    /// Deduplicate the parent's images as the dump goes
    #[arg(long = "auto-dedup")]
    pub auto_dedup: bool,
}

#[derive(Args, Debug)]
pub struct CheckpointArgs {
    #[command(flatten)]
    pub criu: CriuArgs,
    /// Images of a previous pre-dump, relative to the image path
    #[arg(long = "parent-path", value_name = "DIR")]
    pub parent_path: Option<PathBuf>,
    /// Dump memory only, and leave the container running (for a later dump with --parent-path)
    #[arg(long = "pre-dump")]
    pub pre_dump: bool,
    pub id: String,
}

#[derive(Args, Debug)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub criu: CriuArgs,
    /// Path to the bundle directory (holding config.json)
    #[arg(short, long, default_value = ".", value_name = "DIR")]
    pub bundle: PathBuf,
    /// Return once the container is restored
    #[arg(short, long)]
    pub detach: bool,
    /// Write the restored init's pid to FILE
    #[arg(long = "pid-file", value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// Unix socket to send the restored terminal's new pty master to
    #[arg(long = "console-socket", value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// Do not become the subreaper of processes the container leaves behind
    #[arg(long = "no-subreaper")]
    pub no_subreaper: bool,
    /// Do not use pivot_root: not supported by corral's restore (refused)
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// LSM profile of the restored processes, TYPE:NAME (apparmor:P, selinux:L)
    #[arg(long = "lsm-profile", value_name = "TYPE:NAME")]
    pub lsm_profile: Option<String>,
    /// SELinux mount context for the restored mounts
    #[arg(long = "lsm-mount-context", value_name = "CTX")]
    pub lsm_mount_context: Option<String>,
    pub id: String,
}

// `update`: a `linux.resources` JSON object (`-r`), or flags; unchanged values can be
// left out. Memory sizes take a unit: 512m, 1g (powers of 1024), or -1 for unlimited.
#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// File with the resources to change (linux.resources JSON), or - for standard input
    #[arg(short, long, value_name = "FILE")]
    pub resources: Option<PathBuf>,
    /// Memory limit in bytes (512m, 1g; -1: unlimited)
    #[arg(long, value_name = "SIZE", allow_hyphen_values = true)]
    pub memory: Option<String>,
    /// Memory + swap limit in bytes (-1: unlimited swap)
    #[arg(long = "memory-swap", value_name = "SIZE", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Memory reservation (soft limit) in bytes
    #[arg(
        long = "memory-reservation",
        value_name = "SIZE",
        allow_hyphen_values = true
    )]
    pub memory_reservation: Option<String>,
    /// Kernel memory limit: ignored with a warning, as runc does
    #[arg(
        long = "kernel-memory",
        value_name = "SIZE",
        allow_hyphen_values = true
    )]
    pub kernel_memory: Option<String>,
    /// CPU CFS quota in µs per period (-1: unlimited)
    #[arg(long = "cpu-quota", value_name = "US", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CPU CFS period in µs
    #[arg(long = "cpu-period", value_name = "US")]
    pub cpu_period: Option<u64>,
    /// CPU CFS burst in µs
    #[arg(long = "cpu-burst", value_name = "US")]
    pub cpu_burst: Option<u64>,
    /// CPU shares (relative weight)
    #[arg(long = "cpu-share", value_name = "N")]
    pub cpu_share: Option<u64>,
    /// SCHED_IDLE for the cgroup: 1 or 0
    #[arg(long = "cpu-idle", value_name = "0|1")]
    pub cpu_idle: Option<i64>,
    /// CPU realtime period in µs (not supported by corral yet)
    #[arg(long = "cpu-rt-period", value_name = "US")]
    pub cpu_rt_period: Option<u64>,
    /// CPU realtime runtime in µs (not supported by corral yet)
    #[arg(long = "cpu-rt-runtime", value_name = "US", allow_hyphen_values = true)]
    pub cpu_rt_runtime: Option<i64>,
    /// CPUs to run on (0-3,5)
    #[arg(long = "cpuset-cpus", value_name = "LIST")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes to use (0-1)
    #[arg(long = "cpuset-mems", value_name = "LIST")]
    pub cpuset_mems: Option<String>,
    /// Maximum number of pids (-1: unlimited)
    #[arg(long = "pids-limit", value_name = "N", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Block IO weight, 10 to 1000
    #[arg(long = "blkio-weight", value_name = "N")]
    pub blkio_weight: Option<u16>,
    pub id: String,
}

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// A JSON file with an OCI process object: the whole process (no COMMAND, no process flags)
    #[arg(short, long, value_name = "FILE")]
    pub process: Option<PathBuf>,
    /// Give the process a pseudo-terminal (sent to --console-socket)
    #[arg(short, long)]
    pub tty: bool,
    /// Unix socket to send the pseudo-terminal master to (with --tty)
    #[arg(long = "console-socket", value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// Unix socket to send a pidfd of the process to (SCM_RIGHTS)
    #[arg(long = "pidfd-socket", value_name = "PATH")]
    pub pidfd_socket: Option<PathBuf>,
    /// Return once the process runs instead of waiting for it
    #[arg(short, long)]
    pub detach: bool,
    /// Write the process's pid to FILE
    #[arg(long = "pid-file", value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// Working directory in the container (absolute)
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,
    /// Set an environment variable (repeatable)
    #[arg(short, long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Run as this user (numbers)
    #[arg(short, long, value_name = "UID[:GID]")]
    pub user: Option<String>,
    /// An additional group (repeatable)
    #[arg(short = 'g', long = "additional-gids", value_name = "GID")]
    pub additional_gids: Vec<u32>,
    /// Add a capability to the bounding, effective and permitted sets (repeatable)
    #[arg(short = 'c', long = "cap", value_name = "CAP")]
    pub cap: Vec<String>,
    /// Set no_new_privs for the process
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    /// AppArmor profile of the process
    #[arg(long, value_name = "PROFILE")]
    pub apparmor: Option<String>,
    /// SELinux label of the process
    #[arg(long = "process-label", value_name = "LABEL")]
    pub process_label: Option<String>,
    /// Number of extra fds after stdio to pass to the process
    #[arg(long = "preserve-fds", default_value_t = 0, value_name = "N")]
    pub preserve_fds: u32,
    /// Run in an existing sub-cgroup of the container's: PATH, or CONTROLLER[,CONTROLLER...]:PATH on cgroup v1 (repeatable)
    #[arg(long, value_name = "[CONTROLLER:]PATH")]
    pub cgroup: Vec<String>,
    /// Run the process even if the container is paused (it runs once the container is resumed)
    #[arg(long = "ignore-paused")]
    pub ignore_paused: bool,
    /// The container id
    pub id: String,
    /// The program and its arguments
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    pub command: Vec<String>,
}

// A command a later version of corral implements; refused with an error today.
#[derive(Args, Debug)]
pub struct Unsupported {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    pub args: Vec<String>,
}
