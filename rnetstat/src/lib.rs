//! rnetstat: net-tools `netstat` with the same flags and byte-identical
//! output, reading `/proc/net` (or `$RNET_PROC_ROOT/net`), plus optional
//! TCP state annotations (`--explain`, `RNETSTAT_EXPLAIN=1`, `RNET_EXPLAIN=1`).
//!
//! The control flow mirrors net-tools' `main()` so that every section,
//! message and exit status comes out in the same order. This file reads
//! the command line and dispatches; the rooms are [`cli`] (netstat's
//! flags), [`filter`] (`--port`, `--state`…), `listing` (the main loop over the `/proc/net` tables),
//! [`render`] (rows as netstat's printf formats lay them out), [`names`]
//! (host, service and user names), [`programs`] (the `-p` column),
//! `unix_names` (the kernel's list of unix socket names), [`error`] (exit
//! statuses) and `sys` (the one module with unsafe code); the other modes
//! are `stats` (`-s`), `route` (`-r`), `interfaces` (`-i`), `groups`
//! (`-g`), `masquerade` (`-M`) and `watch` (`--watch`).

pub mod cli;
pub mod error;
pub mod filter;
mod groups;
mod interfaces;
pub mod json;
mod listing;
mod masquerade;
pub mod names;
pub mod programs;
pub mod render;
mod route;
mod stats;
pub mod summary;
mod sys;
mod unix_names;
mod watch;

use cli::Action;
use error::{Error, ExitStatus};
use names::SysLookup;
use rnet_core::args::split_argv_with;
use rnet_core::procnet::proc_root;
use std::ffi::OsString;
use std::io::{self, Write};
use std::process::ExitCode;

/// The environment variable that turns rnetstat's annotations on or off.
pub const EXPLAIN_ENV: &str = "RNETSTAT_EXPLAIN";

/// Runs rnetstat with the full argument list (program name first). The
/// only place that turns an [`Error`] into its message and exit status.
pub fn run<I: IntoIterator<Item = OsString>>(args: I) -> ExitCode {
    // stdout behind one buffer for the whole run. An error is reported
    // before the rows still buffered are written (when `out` drops), as
    // netstat's messages come before its block-buffered stdout.
    let mut out = io::BufWriter::with_capacity(32 * 1024, io::stdout().lock());
    let status = match dispatch(args, &mut out) {
        Ok(status) => status,
        Err(e) => e.report(),
    };
    drop(out);
    status.into()
}

/// Writes `parts` to `out` and flushes.
fn print<W: Write>(out: &mut W, parts: &[&[u8]]) -> Result<(), Error> {
    for p in parts {
        out.write_all(p)?;
    }
    out.flush()?;
    Ok(())
}

/// Reads the command line and does what it asks, writing to `out`.
fn dispatch<I: IntoIterator<Item = OsString>, W: Write>(
    args: I,
    out: &mut W,
) -> Result<ExitStatus, Error> {
    // Dashes are repaired in options only: an option's value is read as
    // typed (`-A –inet` is an unknown family, as for netstat).
    let (prog, argv0, rest, fixes) = split_argv_with(
        args.into_iter().collect(),
        "rnetstat",
        &rnet_core::args::short_opts(cli::SHORT_OPTS),
        cli::LONG_OPTS,
    );
    if let Some(note) = rnet_core::args::dash_note(&fixes) {
        eprintln!("{prog}: {note}");
    }
    let (notes, action) = cli::parse_with_notes(&rest);
    for n in notes {
        eprint!("{n}");
    }
    match action {
        Action::Help => {
            // net-tools' stdout is block-buffered, so its stderr part
            // comes first whenever both go to one pipe.
            eprint!("{}", cli::AF_LIST);
            print(out, &[cli::USAGE.as_bytes(), cli::EXTRA_HELP.as_bytes()])?;
            Ok(ExitStatus::Success)
        }
        Action::Version => {
            print(out, &[cli::version_text().as_bytes()])?;
            Ok(ExitStatus::Success)
        }
        Action::BadOption(e) => {
            // Byte for byte as glibc: a non-UTF-8 argument is shown raw.
            let msg = [
                argv0.as_bytes(),
                b": ",
                &e.to_bytes(),
                b"\n",
                cli::USAGE.as_bytes(),
                cli::AF_LIST.as_bytes(),
            ]
            .concat();
            let _ = io::stderr().write_all(&msg);
            Ok(ExitStatus::Usage)
        }
        Action::Usage => {
            eprint!("{}{}", cli::USAGE, cli::AF_LIST);
            Ok(ExitStatus::Usage)
        }
        Action::UnknownFamily(name) => {
            let msg = [&b"Unknown address family `"[..], &name, b"'.\n"].concat();
            let _ = io::stderr().write_all(&msg);
            Ok(ExitStatus::Failure)
        }
        Action::BadValue(msg) => {
            eprintln!("{prog}: {msg}");
            Ok(ExitStatus::Usage)
        }
        Action::Fail(msg, status) => {
            eprintln!("{msg}");
            Ok(status)
        }
        Action::Run(o) if o.watch => watch::watch(&prog, &o, SysLookup, out),
        Action::Run(o) if o.masquerade => masquerade::masquerade(&prog, &proc_root(), out),
        Action::Run(o) if o.statistics => {
            let explain = o
                .explain
                .unwrap_or_else(|| rnet_core::explain_from_env(EXPLAIN_ENV));
            stats::statistics(&o, explain, &proc_root(), out)
        }
        // -c repeats the table every second until a pass fails, as
        // netstat's wait_continous loop (the interface title once).
        Action::Run(o) if o.interfaces => {
            let mut first = true;
            loop {
                let st = interfaces::interfaces(&prog, &o, &proc_root(), first, out)?;
                if st != ExitStatus::Success || !o.continuous {
                    return Ok(st);
                }
                first = false;
                out.flush()?;
                std::thread::sleep(std::time::Duration::from_secs(1));
            }
        }
        Action::Run(o) if o.route => loop {
            let st = route::route(&prog, &o, &proc_root(), SysLookup, out)?;
            if st != ExitStatus::Success || !o.continuous {
                return Ok(st);
            }
            out.flush()?;
            std::thread::sleep(std::time::Duration::from_secs(1));
        },
        Action::Run(o) if o.groups && !o.continuous => {
            let explain = o
                .explain
                .unwrap_or_else(|| rnet_core::explain_from_env(EXPLAIN_ENV));
            // netstat's order: the internet sockets, the groups, then the
            // unix sockets and the other families.
            if o.tcp || o.sctp || o.udp || o.udplite || o.raw {
                let mut inet = o.clone();
                inet.unix = false;
                inet.ipx = false;
                inet.ax25 = false;
                inet.netrom = false;
                inet.x25 = false;
                inet.rose = false;
                inet.bluetooth = false;
                listing::list(&prog, &inet, explain, &proc_root(), SysLookup, out)?;
            }
            let st = groups::groups(&prog, &o, &proc_root(), SysLookup, out)?;
            if st != ExitStatus::Success {
                return Ok(st);
            }
            if o.unix || o.ipx || o.ax25 || o.netrom || o.x25 || o.rose || o.bluetooth {
                let mut rest = o.clone();
                rest.tcp = false;
                rest.sctp = false;
                rest.udp = false;
                rest.udplite = false;
                rest.raw = false;
                listing::list(&prog, &rest, explain, &proc_root(), SysLookup, out)?;
            }
            Ok(ExitStatus::Success)
        }
        Action::Run(o) => {
            if o.groups {
                eprintln!("{prog}: -g with -c is not implemented by rnetstat; `ip maddr' shows the groups");
                return Ok(ExitStatus::Failure);
            }
            let explain = o
                .explain
                .unwrap_or_else(|| rnet_core::explain_from_env(EXPLAIN_ENV));
            if o.summary {
                summary::summary(&prog, &o, &proc_root(), out)?;
                return Ok(ExitStatus::Success);
            }
            listing::list(&prog, &o, explain, &proc_root(), SysLookup, out)?;
            Ok(ExitStatus::Success)
        }
    }
}
