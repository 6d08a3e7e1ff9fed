//! rnetstat: net-tools `netstat` with the same flags and byte-identical
//! output, reading `/proc/net` (or `$RNET_PROC_ROOT/net`), plus optional
//! TCP state annotations (`--explain`, `RNETSTAT_EXPLAIN=1`, `RNET_EXPLAIN=1`).
//!
//! The control flow mirrors net-tools' `main()` so that every section,
//! message and exit status comes out in the same order: sockets are read
//! one line at a time and written through one buffer, so memory stays flat
//! whatever the number of sockets.

pub mod cli;
pub mod gather;
pub mod render;
mod sys;

use cli::{Action, Options};
use gather::ProgCache;
use render::{Lookup, Names, RowCtx, RowOpts, SysLookup};
use rnet_core::args::split_argv_with;
use rnet_core::procnet::{
    proc_root, refusal, unix_printed_name, Family, InetEntry, InetReader, Proto, UnixNames,
    UnixReader, UNIX_ACCEPTCON,
};
use rnet_core::timing::{Hosts, TcpTimers};
use std::ffi::OsString;
use std::io::{self, ErrorKind, Write};
use std::path::Path;
use std::process::ExitCode;

/// The environment variable that turns rnetstat's annotations on or off.
pub const EXPLAIN_ENV: &str = "RNETSTAT_EXPLAIN";

/// Why a listing stopped early.
enum Stop {
    /// Standard output is gone (a closed pipe): exit quietly with 0.
    Quiet,
    /// Exit with this status (messages already printed).
    Status(u8),
}

impl From<io::Error> for Stop {
    fn from(e: io::Error) -> Self {
        if e.kind() == ErrorKind::BrokenPipe {
            Stop::Quiet
        } else {
            eprintln!("rnetstat: write error: {e}");
            Stop::Status(1)
        }
    }
}

/// Runs rnetstat with the full argument list (program name first).
pub fn run<I: IntoIterator<Item = OsString>>(args: I) -> ExitCode {
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
            let mut out = io::stdout().lock();
            let _ = out.write_all(cli::USAGE.as_bytes());
            let _ = out.write_all(cli::EXTRA_HELP.as_bytes());
            let _ = out.flush();
            ExitCode::SUCCESS
        }
        Action::Version => {
            let mut out = io::stdout().lock();
            let _ = out.write_all(cli::version_text().as_bytes());
            let _ = out.flush();
            ExitCode::SUCCESS
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
            ExitCode::from(3)
        }
        Action::Usage => {
            eprint!("{}{}", cli::USAGE, cli::AF_LIST);
            ExitCode::from(3)
        }
        Action::UnknownFamily(name) => {
            let msg = [&b"Unknown address family `"[..], &name, b"'.\n"].concat();
            let _ = io::stderr().write_all(&msg);
            ExitCode::from(1)
        }
        Action::Fail(msg, code) => {
            eprintln!("{msg}");
            ExitCode::from(code)
        }
        Action::Run(o) => {
            let not_yet = [
                (o.route, "-r (routing table)", "ip route"),
                (o.interfaces, "-i (interface table)", "ip -s link"),
                (o.statistics, "-s (statistics)", "nstat -a"),
                (o.masquerade, "-M (masqueraded connections)", "conntrack -L"),
                (o.groups, "-g (multicast groups)", "ip maddr"),
            ];
            if let Some((_, what, alt)) = not_yet.iter().find(|(on, _, _)| *on) {
                eprintln!("{prog}: {what} is not implemented by rnetstat; `{alt}' shows it");
                return ExitCode::from(1);
            }
            let explain = o
                .explain
                .unwrap_or_else(|| rnet_core::explain_from_env(EXPLAIN_ENV));
            let root = proc_root();
            match list(&prog, &o, explain, &root, SysLookup) {
                Ok(()) => ExitCode::SUCCESS,
                Err(Stop::Quiet) => ExitCode::SUCCESS,
                Err(Stop::Status(s)) => ExitCode::from(s),
            }
        }
    }
}

/// Before a message on stderr: on a terminal, show the rows printed so
/// far first, so the message lands where it happened. Into a pipe or file,
/// keep buffering, as net-tools' block-buffered stdout does (its messages
/// then come first when both streams share a pipe).
fn sync<W: Write>(out: &mut W) -> io::Result<()> {
    use std::io::IsTerminal;
    if io::stdout().is_terminal() {
        out.flush()?;
    }
    Ok(())
}

/// The result of reading one `/proc/net` file.
enum FileResult {
    Read,
    Missing,
}

/// The socket listing: net-tools' main loop.
fn list<L: Lookup>(
    prog: &str,
    o: &Options,
    explain: bool,
    root: &Path,
    lookup: L,
) -> Result<(), Stop> {
    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(64 * 1024, stdout.lock());
    let mut names = Names::new(lookup, o.numeric_hosts, o.numeric_ports, o.numeric_users);
    let hosts = if explain {
        let (hosts, warning) = Hosts::read(root);
        if let Some(w) = warning {
            eprintln!("{prog}: {w}");
        }
        hosts
    } else {
        Hosts::same(TcpTimers::default())
    };
    let opts = RowOpts {
        wide: o.wide,
        extend: o.extend > 0,
        programs: o.programs,
        timers: o.timers,
        explain,
    };
    let flag_arg = o.proto_args();
    let inet_section = !flag_arg || o.tcp || o.sctp || o.udp || o.udplite || o.raw;
    let unix_section = !flag_arg || o.unix;
    loop {
        let progs = if o.programs && (inet_section || unix_section) {
            let c = ProgCache::load(root);
            if let Some(n) = c.notice {
                eprint!("{}", n.text());
            }
            c
        } else {
            ProgCache::default()
        };
        let mut ctx = RowCtx {
            names: &mut names,
            progs: &progs,
            opts,
            hosts: &hosts,
        };
        if inet_section {
            out.write_all(render::inet_title(o.all, o.listening).as_bytes())?;
            out.write_all(render::inet_header(&opts).as_bytes())?;
        }
        let inet_protos = [
            (o.tcp, Proto::Tcp, "AF INET (tcp)"),
            (o.udp, Proto::Udp, "AF INET (udp)"),
            (o.udplite, Proto::UdpLite, "AF INET (udplite)"),
            (o.raw, Proto::Raw, "AF INET (raw)"),
        ];
        for (wanted, proto, af_name) in inet_protos {
            if !flag_arg || wanted {
                inet_proto(prog, o, proto, af_name, root, &mut ctx, &mut out)?;
            }
            // net-tools lists SCTP right after TCP.
            if proto == Proto::Tcp && (!flag_arg || o.sctp) {
                sync(&mut out)?;
                sctp(prog, o, root)?;
            }
        }
        if unix_section {
            unix(prog, o, root, &progs, &mut out)?;
        }
        let others = [
            (o.ipx, "AF IPX", &["net/ipx/socket", "net/ipx_socket"][..]),
            (o.ax25, "AF AX25", &["net/ax25"][..]),
            (o.x25, "AF X25", &["net/x25"][..]),
            (o.netrom, "AF NETROM", &["net/nr"][..]),
            (o.rose, "AF ROSE", &["net/rose"][..]),
        ];
        for (wanted, af_name, files) in others {
            if flag_arg && !wanted {
                continue;
            }
            sync(&mut out)?;
            if files.iter().any(|f| root.join(f).exists()) {
                eprintln!("{prog}: listing {af_name} sockets is not supported by rnetstat");
                if flag_arg {
                    out.flush()?;
                    return Err(Stop::Status(1));
                }
            } else {
                if flag_arg || o.verbose {
                    eprintln!("{prog}: no support for `{af_name}' on this system.");
                }
                if flag_arg {
                    out.flush()?;
                    return Err(Stop::Status(1));
                }
            }
        }
        if flag_arg && o.bluetooth {
            sync(&mut out)?;
            eprintln!("{prog}: feature `AF BLUETOOTH' not supported.\nPlease recompile `net-tools' with newer kernel source or full configuration.");
            return Err(Stop::Status(1));
        }
        out.flush()?;
        if !o.continuous {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
}

/// One protocol, v4 file then v6 file, as net-tools' `INFO_GUTS6`.
fn inet_proto<L: Lookup, W: Write>(
    prog: &str,
    o: &Options,
    proto: Proto,
    af_name: &str,
    root: &Path,
    ctx: &mut RowCtx<'_, L>,
    out: &mut W,
) -> Result<(), Stop> {
    let flag_arg = o.proto_args();
    let mut rc = 0;
    if !flag_arg || o.inet {
        if let FileResult::Missing = inet_file(prog, proto, Family::V4, root, o, ctx, out)? {
            if flag_arg || o.verbose {
                sync(out)?;
                eprintln!("{prog}: no support for `{af_name}' on this system.");
            }
            if flag_arg {
                rc = 1;
            }
        }
    }
    if !flag_arg || o.inet6 {
        // A missing IPv6 file is silent, as in net-tools.
        inet_file(prog, proto, Family::V6, root, o, ctx, out)?;
    }
    if rc != 0 {
        out.flush()?;
        return Err(Stop::Status(rc));
    }
    Ok(())
}

fn bogus_kind(proto: Proto) -> &'static str {
    match proto {
        Proto::Tcp => "tcp",
        Proto::Udp | Proto::UdpLite => "udp",
        Proto::Raw => "raw",
    }
}

/// Whether net-tools would print this row.
fn selected(proto: Proto, e: &InetEntry, o: &Options) -> bool {
    if o.all {
        return true;
    }
    let listening = match proto {
        // TCP: listening iff the remote port is 0 (the state is not checked).
        Proto::Tcp => e.remote_port == 0,
        // UDP and raw: listening iff the remote address is all zeros.
        _ => e.remote.is_unspecified(),
    };
    listening == o.listening
}

/// How opening a table went, as net-tools' `proc_fopen` sees it.
enum Opened<R> {
    Reader(R),
    /// ENOENT or EACCES: "no support" (net-tools treats both alike).
    Missing,
    /// Not a kernel table: warned about and skipped, the listing goes on
    /// as for a file that was read.
    Skipped,
}

/// Sorts the result of opening a table into [`Opened`], printing the
/// one-line reason for a skipped file; any other error is `perror`'s line
/// and exit status 255, as in netstat.
fn classify_open<R, W: Write>(
    prog: &str,
    path: &Path,
    opened: io::Result<R>,
    out: &mut W,
) -> Result<Opened<R>, Stop> {
    match opened {
        Ok(r) => Ok(Opened::Reader(r)),
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::PermissionDenied) => {
            Ok(Opened::Missing)
        }
        Err(e) => {
            if let Some(r) = refusal(&e) {
                sync(out)?;
                eprintln!("{prog}: {}: {r}", path.display());
                return Ok(Opened::Skipped);
            }
            // perror(path): the C library's text without Rust's " (os error N)".
            let text = e.to_string();
            let text = text.split(" (os error").next().unwrap_or(&text).to_string();
            eprintln!("{}: {text}", path.display());
            Err(Stop::Status(255))
        }
    }
}

/// One step of reading a table: `None` at the end (or after a read error,
/// reported as net-tools reports it, or a [`rnet_core::procnet::Refusal`]
/// at a limit, reported in one line), `Some(None)` for
/// a malformed line (warned about as net-tools does), `Some(Some(entry))`
/// otherwise.
fn next_item<E, W: Write>(
    prog: &str,
    next: io::Result<Option<Result<E, rnet_core::procnet::LineError>>>,
    path: &Path,
    kind: &str,
    out: &mut W,
) -> Result<Option<Option<E>>, Stop> {
    match next {
        Ok(None) => Ok(None),
        Ok(Some(Ok(e))) => Ok(Some(Some(e))),
        Ok(Some(Err(_))) => {
            sync(out)?;
            eprintln!("warning, got bogus {kind} line.");
            Ok(Some(None))
        }
        Err(e) => {
            sync(out)?;
            match refusal(&e) {
                Some(r) => eprintln!("{prog}: {}: {r}", path.display()),
                None => eprintln!("{}: {e}", path.display()),
            }
            Ok(None)
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn inet_file<L: Lookup, W: Write>(
    prog: &str,
    proto: Proto,
    family: Family,
    root: &Path,
    o: &Options,
    ctx: &mut RowCtx<'_, L>,
    out: &mut W,
) -> Result<FileResult, Stop> {
    let path = proto.path(root, family);
    let mut reader = match classify_open(prog, &path, InetReader::open(&path), out)? {
        Opened::Reader(r) => r,
        Opened::Missing => return Ok(FileResult::Missing),
        Opened::Skipped => return Ok(FileResult::Read),
    };
    let mut line = Vec::with_capacity(256);
    while let Some(item) = next_item(prog, reader.next_entry(), &path, bogus_kind(proto), out)? {
        let Some(e) = item else { continue };
        if !selected(proto, &e, o) {
            continue;
        }
        line.clear();
        render::inet_row(ctx, proto, &e, &mut line);
        out.write_all(&line)?;
    }
    Ok(FileResult::Read)
}

/// SCTP: net-tools reads `/proc/net/sctp/eps` (only with `-a` or `-l`)
/// and then `/proc/net/sctp/assocs`; where SCTP is not loaded both are
/// missing, which is the only case rnetstat handles. Each missing file gets
/// its own note under `-v`; a requested `-S` stops at the first.
fn sctp(prog: &str, o: &Options, root: &Path) -> Result<(), Stop> {
    let flag_arg = o.proto_args();
    // net-tools' INFO_GUTS: SCTP is an IPv4 table (`-6 --sctp` skips it).
    if flag_arg && !o.inet {
        return Ok(());
    }
    let mut files = Vec::new();
    if o.all || o.listening {
        files.push("net/sctp/eps");
    }
    files.push("net/sctp/assocs");
    for f in files {
        if root.join(f).exists() {
            eprintln!("{prog}: listing SCTP sockets is not supported by rnetstat");
            return Ok(());
        }
        if flag_arg || o.verbose {
            eprintln!("{prog}: no support for `AF INET (sctp)' on this system.");
        }
        if flag_arg && o.sctp {
            return Err(Stop::Status(1));
        }
    }
    Ok(())
}

fn unix<W: Write>(
    prog: &str,
    o: &Options,
    root: &Path,
    progs: &ProgCache,
    out: &mut W,
) -> Result<(), Stop> {
    out.write_all(render::unix_title_header(o.all, o.listening, o.programs).as_bytes())?;
    let path = root.join("net/unix");
    let mut reader = match classify_open(prog, &path, UnixReader::open(&path), out)? {
        Opened::Reader(r) => r,
        Opened::Skipped => return Ok(()),
        Opened::Missing => {
            let flag_arg = o.proto_args();
            if flag_arg || o.verbose {
                sync(out)?;
                eprintln!("{prog}: no support for `AF UNIX' on this system.");
            }
            if flag_arg {
                out.flush()?;
                return Err(Stop::Status(1));
            }
            return Ok(());
        }
    };
    // Only the machine's own /proc describes the sockets netlink reports.
    let mut names = LiveUnixNames::new(root == Path::new("/proc"));
    let mut line = Vec::with_capacity(256);
    while let Some(item) = next_item(prog, reader.next_entry_with(&mut names), &path, "unix", out)?
    {
        let Some(e) = item else { continue };
        if !o.all {
            let listening = e.state == 1 && e.flags & UNIX_ACCEPTCON != 0;
            if listening != o.listening {
                continue;
            }
        }
        line.clear();
        render::unix_row(
            &e,
            reader.has_inode(),
            o.programs.then_some(progs),
            &mut line,
        );
        out.write_all(&line)?;
    }
    Ok(())
}

/// How many times one listing takes the kernel's list of unix sockets
/// again ([`LiveUnixNames`]). The list is taken before `/proc/net/unix`
/// is opened, so a socket bound between the two is in the file and not in
/// the list. The first such socket met makes a new list, which holds every
/// socket bound until that moment (the rest of the file is read in
/// milliseconds); the second covers a socket bound while that new list
/// was being taken. Each list is a full dump, costing about as much as
/// reading the file, so more would only make a machine that binds sockets
/// all the time pay for many dumps per listing; and no number closes the
/// race: a socket bound after the last list is read as netstat reads it,
/// its lines as lines.
const MAX_UNIX_LIST_RELOADS: u32 = 2;

/// The kernel's own list of unix sockets (`NETLINK_SOCK_DIAG`), so that a
/// name holding a newline is read as one socket and not as a forged row.
/// Only what the check needs is kept: the inode of every named socket (4
/// bytes each, to notice a socket the list does not have) and the printed
/// names that hold a newline (the only ones that need checking); other
/// names are not copied. A named socket missing from the list (bound after
/// it was taken) makes it be taken again, at most
/// [`MAX_UNIX_LIST_RELOADS`] times per listing.
///
/// `D` takes the list: [`sys::unix_socket_names`], or a stand-in in tests.
struct LiveUnixNames<D> {
    live: bool,
    dump: D,
    /// Inodes of the named sockets in the last list, sorted.
    named: Vec<u32>,
    /// `(inode, printed name)` of the names holding a newline, sorted.
    with_newline: Vec<(u32, Vec<u8>)>,
    reloads: u32,
}

impl LiveUnixNames<fn(&mut dyn FnMut(u32, &[u8])) -> Option<()>> {
    fn new(live: bool) -> Self {
        LiveUnixNames::with_dump(live, sys::unix_socket_names)
    }
}

impl<D: FnMut(&mut dyn FnMut(u32, &[u8])) -> Option<()>> LiveUnixNames<D> {
    fn with_dump(live: bool, dump: D) -> Self {
        let mut n = LiveUnixNames {
            live,
            dump,
            named: Vec::new(),
            with_newline: Vec::new(),
            reloads: 0,
        };
        // No unix_diag: nothing to check against, as net-tools.
        n.live = live && n.load();
        n
    }

    /// Takes the list; on failure keeps the one it had and says false.
    fn load(&mut self) -> bool {
        let mut named = Vec::new();
        let mut with_newline = Vec::new();
        let answered = (self.dump)(&mut |inode, name| {
            named.push(inode);
            // unix_printed_name turns only NULs into `@`: the printed name
            // holds a newline exactly when the bound one does.
            if name.contains(&b'\n') {
                with_newline.push((inode, unix_printed_name(name)));
            }
        })
        .is_some();
        if answered {
            named.sort_unstable();
            with_newline.sort_unstable();
            self.named = named;
            self.with_newline = with_newline;
        }
        answered
    }
}

impl<D: FnMut(&mut dyn FnMut(u32, &[u8])) -> Option<()>> UnixNames for LiveUnixNames<D> {
    fn printed(&mut self, inode: u64) -> Option<&[u8]> {
        if !self.live {
            return None;
        }
        let i = u32::try_from(inode).ok()?;
        if self.named.binary_search(&i).is_err() && self.reloads < MAX_UNIX_LIST_RELOADS {
            self.reloads += 1;
            if !self.load() {
                // Keep checking against the list already taken; stop asking.
                self.reloads = MAX_UNIX_LIST_RELOADS;
            }
        }
        let k = self
            .with_newline
            .binary_search_by_key(&i, |(k, _)| *k)
            .ok()?;
        Some(&self.with_newline[k].1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    thread_local! {
        /// Lists taken by the stand-in dumps on this test's thread.
        static DUMPS: Cell<u32> = const { Cell::new(0) };
    }

    /// A machine that binds a new socket between any two lists: each list
    /// holds two old sockets (one named with a newline) and a new one.
    fn busy(each: &mut dyn FnMut(u32, &[u8])) -> Option<()> {
        let n = DUMPS.with(|d| {
            d.set(d.get() + 1);
            d.get()
        });
        each(10, b"/run/plain.sock\0");
        each(11, b"\0evil\nforged row");
        each(100 + n, b"\0new");
        Some(())
    }

    /// The first list answers, every later one fails.
    fn fails_later(each: &mut dyn FnMut(u32, &[u8])) -> Option<()> {
        let n = DUMPS.with(|d| {
            d.set(d.get() + 1);
            d.get()
        });
        each(11, b"\0evil\nforged row");
        (n == 1).then_some(())
    }

    #[test]
    fn unknown_sockets_take_the_list_again_at_most_max_reloads_times() {
        DUMPS.with(|d| d.set(0));
        let mut names = LiveUnixNames::with_dump(true, busy);
        assert_eq!(DUMPS.with(Cell::get), 1);
        // Only the name with a newline is kept, as the file prints it.
        assert_eq!(
            names.with_newline,
            vec![(11, b"@evil\nforged row".to_vec())]
        );
        assert_eq!(names.named, vec![10, 11, 101]);
        assert_eq!(names.printed(11), Some(&b"@evil\nforged row"[..]));
        assert_eq!(names.printed(10), None);
        assert_eq!(DUMPS.with(Cell::get), 1, "known sockets need no new list");
        // Sockets bound after the list, one after another.
        for inode in 200..300 {
            assert_eq!(names.printed(inode), None);
        }
        assert_eq!(DUMPS.with(Cell::get), 1 + MAX_UNIX_LIST_RELOADS);
        assert_eq!(names.printed(11), Some(&b"@evil\nforged row"[..]));
    }

    #[test]
    fn a_list_that_fails_later_keeps_the_one_taken() {
        DUMPS.with(|d| d.set(0));
        let mut names = LiveUnixNames::with_dump(true, fails_later);
        assert_eq!(names.printed(500), None);
        assert_eq!(DUMPS.with(Cell::get), 2);
        assert_eq!(names.printed(11), Some(&b"@evil\nforged row"[..]));
        assert_eq!(names.printed(501), None);
        assert_eq!(DUMPS.with(Cell::get), 2, "no more lists after a failure");
        // A first list that fails: nothing to check against, no more asking.
        DUMPS.with(|d| d.set(1));
        let mut names = LiveUnixNames::with_dump(true, fails_later);
        assert_eq!(names.printed(11), None);
        assert_eq!(DUMPS.with(Cell::get), 2);
        // Under RNET_PROC_ROOT: never asked.
        DUMPS.with(|d| d.set(0));
        let mut names = LiveUnixNames::with_dump(false, busy);
        assert_eq!(names.printed(11), None);
        assert_eq!(DUMPS.with(Cell::get), 0);
    }
}
