//! rnc: see the library for everything.
use std::process::ExitCode;

fn main() -> ExitCode {
    rnc::run(std::env::args_os())
}
