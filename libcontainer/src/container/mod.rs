//! The lifecycle of runtime-spec `runtime.md`, one file per operation.

mod activation;
mod cgroup;
mod create;
mod delete;
mod foreground;
mod kill;
mod list;
mod run;
mod start;
mod state;
mod tty_relay;

use create::create_locked;

pub use create::{create, CreateOptions};
pub use delete::delete;
pub use kill::kill;
pub use list::{list, Summary};
pub use run::{run, RunOptions};
pub use start::start;
pub use state::state;
