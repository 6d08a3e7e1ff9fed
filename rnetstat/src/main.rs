//! rnetstat: see the library for everything.
use std::process::ExitCode;

fn main() -> ExitCode {
    rnetstat::run(std::env::args_os())
}
