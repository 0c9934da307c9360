//! The lifecycle of runtime-spec `runtime.md`, one file per operation.

mod cgroup;
mod create;
mod delete;
mod exec;
mod exec_process;
mod kill;
mod list;
mod run;
mod start;
mod wait;

use create::create_locked;
use start::release;
mod state;

pub use create::{create, CreateOptions};
pub use delete::delete;
pub use exec::{exec, ExecOptions};
pub use exec_process::ProcessFlags;
pub use kill::kill;
pub use list::{list, Summary};
pub use run::run;
pub use start::start;
pub use state::state;
