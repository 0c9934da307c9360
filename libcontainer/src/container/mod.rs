//! The lifecycle of runtime-spec `runtime.md`, one file per operation.

mod activation;
mod cgroup;
mod checkpoint;
mod create;
mod criu_fds;
mod delete;
mod events;
mod exec;
mod exec_process;
mod foreground;
mod kill;
mod list;
mod pause;
mod ps;
mod restore;
mod run;
mod start;
mod state;
mod tty_relay;
mod update;
mod wait;

use create::create_locked;

pub use checkpoint::{checkpoint, CriuOptions};
pub use create::{create, CreateOptions};
pub use delete::delete;
pub use events::{events, stats, Event};
pub use exec::{exec, ExecOptions};
pub use exec_process::ProcessFlags;
pub use kill::kill;
pub use list::{list, Summary};
pub use pause::{pause, resume};
pub use ps::pids;
pub use restore::{restore, RestoreOptions};
pub use run::{run, RunOptions};
pub use start::start;
pub(crate) use start::START_TRACED;
pub use state::state;
pub use update::update;
