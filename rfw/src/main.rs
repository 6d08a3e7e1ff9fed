//! rfw: see the library for everything.
use std::process::ExitCode;

fn main() -> ExitCode {
    rfw::run(std::env::args_os())
}
