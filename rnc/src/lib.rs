//! rnc: OpenBSD netcat (Debian's netcat-openbsd 1.219) with the same
//! flags, messages and exit statuses, a relay that never drops a byte it
//! read, and `--explain` narration of its own TCP states on stderr.
//!
//! `run()` parses the command line and hands the run to one mode:
//! `connect` (a client, and through `scan` the `-z` port lists), `listen`
//! (`-l`), `udp` (what datagrams change in both), `unix` (`-U`). Each
//! serves its connections with `serve` (narration, `relay`, the end), and
//! returns `Result<(), Error>`; `run()` alone says an error and turns it
//! into nc's exit status.

pub mod cli;
mod connect;
pub mod error;
mod listen;
pub mod narrate;
pub mod net;
pub mod proxy;
pub mod relay;
mod scan;
mod serve;
mod sys;
mod udp;
pub mod unix;

use cli::{Action, Options};
use error::{Error, Exit};
use narrate::Narrator;
use rnet_core::args::split_argv_full;
use std::ffi::OsString;
use std::process::ExitCode;

/// The environment variable that turns rnc's narration on or off.
pub const EXPLAIN_ENV: &str = "RNC_EXPLAIN";

/// The version line of `-h`.
pub const VERSION_LINE: &str = "OpenBSD netcat (Debian patchlevel 1.219-1)";

/// Runs rnc with the full argument list (program name first).
pub fn run<I: IntoIterator<Item = OsString>>(args: I) -> ExitCode {
    let (prog, argv0, rest, fixes) = split_argv_full(args.into_iter().collect(), "rnc");
    if let Some(note) = rnet_core::args::dash_note(&fixes) {
        eprintln!("{prog}: {note}");
    }
    let result = match cli::parse(&rest) {
        Action::Help => {
            eprint!(
                "{VERSION_LINE}\n{}{}{}",
                cli::USAGE,
                cli::HELP,
                cli::EXTRA_HELP
            );
            Ok(())
        }
        Action::Usage(msg) => {
            if let Some(m) = msg {
                eprintln!("{argv0}: {m}");
            }
            eprint!("{}", cli::USAGE);
            Err(Error::Quiet)
        }
        Action::Fail(m) => Err(Error::Msg(m)),
        Action::Run(o) => start(&prog, *o),
    };
    match result {
        Ok(()) => Exit::Success.into(),
        Err(Error::Signal(sig)) => sys::die_of(sig),
        Err(e) => {
            e.report(&prog);
            Exit::Failure.into()
        }
    }
}

/// Reads what the terminal must give, sets up narration and the signal
/// pipe, and runs the mode the options ask for.
fn start(prog: &str, mut o: Options) -> Result<(), Error> {
    if o.md5 {
        // As nc: the key comes from the terminal, never from argv.
        let k = sys::read_password("TCP MD5SIG password: ")
            .ok_or_else(|| Error::Msg("Unable to read TCP MD5SIG password".into()))?;
        o.md5_key = Some(k.into_bytes());
    }
    let explain = o
        .explain
        .unwrap_or_else(|| rnet_core::explain_from_env(EXPLAIN_ENV));
    let mut narr = Narrator::new(prog, explain);
    narr.listener = o.listen;
    narr.scan = o.zero_io;
    narr.idle = o.timeout;
    let sigfd = sys::install_signal_pipe().map_err(|e| Error::os("", e))?;
    if let Some(refusal) = unsupported(&o) {
        return Err(Error::Msg(refusal.into()));
    }
    let session = serve::Session {
        prog,
        o: &o,
        narr: &mut narr,
        sigfd,
    };
    if o.unix {
        unix::unix_mode(session)
    } else if o.listen {
        listen::listen_mode(session)
    } else {
        connect::connect_mode(session)
    }
}

/// Flags rnc refuses, with the reason (listed in docs/compat.md).
fn unsupported(o: &Options) -> Option<&'static str> {
    if o.proxy_addr.is_some() && o.udp {
        return Some("no proxy support for UDP mode");
    }
    None
}
