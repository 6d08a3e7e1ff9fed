//! `rnet-completions TOOL SHELL`: prints the completion script of TOOL
//! (rnc, rnetstat, rfw) for SHELL (bash, zsh, fish), generated from the
//! tool's own flag tables. The packages run it at build time.

use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: rnet-completions rnc|rnetstat|rfw bash|zsh|fish";
    let [tool, shell] = args.as_slice() else {
        eprintln!("{usage}");
        return ExitCode::from(2);
    };
    let Some((_, sh)) = rnet_completions::SHELLS.iter().find(|(n, _)| n == shell) else {
        eprintln!("rnet-completions: unknown shell `{shell}'\n{usage}");
        return ExitCode::from(2);
    };
    let Some(script) = rnet_completions::generate(tool, *sh) else {
        eprintln!("rnet-completions: unknown tool `{tool}'\n{usage}");
        return ExitCode::from(2);
    };
    match std::io::stdout().lock().write_all(script.as_bytes()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rnet-completions: write error: {e}");
            ExitCode::FAILURE
        }
    }
}
