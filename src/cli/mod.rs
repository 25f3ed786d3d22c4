//! The offline parts of the command line: verifying codes with no server, and fetching the
//! bundle that lets a device do so. (`main.rs` parses the command and runs the rest.)

pub mod fetch;
pub mod verify;
