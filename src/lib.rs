//! The corral command line: the clap definition (shared with the man page generator)
//! and the log writer. `main.rs` turns each command into one library call.

pub mod cli;
pub mod log;
pub mod ops;
pub mod usage;
