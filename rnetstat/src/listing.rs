//! The socket listing: net-tools netstat's main loop, one `/proc/net`
//! table after another (TCP, SCTP, UDP, UDP-Lite, raw, then UNIX and the
//! families rnetstat only reports on), each read one line at a time and
//! written through the caller's buffer, so memory stays flat whatever the
//! number of sockets. Messages go to stderr at the point netstat prints
//! them; what ends a listing early is an [`Error`] for `run()` to report.
//!
//! The TCP and UDP tables of the machine's own `/proc` are read over
//! sock_diag netlink instead ([`rnet_core::diag`]) where that gives the
//! same bytes: see [`Source`] and docs/architecture.md ("sock_diag").

use crate::cli::Options;
use crate::error::{Error, ExitStatus};
use crate::json;
use crate::names::{Lookup, Names};
use crate::programs::ProgCache;
use crate::render::{self, RowCtx, RowOpts};
use crate::unix_names::LiveUnixNames;
use rnet_core::diag::{self, Cond, DiagReader, OneWalk, Query, ALL_STATES, LISTEN_BIT};
use rnet_core::os::strerror_text;
use rnet_core::procnet::{
    refusal, Family, InetEntry, InetReader, LineError, Proto, UnixReader, UNIX_ACCEPTCON,
};
use rnet_core::timing::{Hosts, TcpTimers};
use std::io::{self, ErrorKind, Write};
use std::path::Path;

/// The environment variable that picks where the TCP and UDP tables come
/// from (man/rnetstat.8, ENVIRONMENT).
pub const SOURCE_ENV: &str = "RNETSTAT_SOURCE";

/// Where the TCP and UDP tables are read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// sock_diag where it gives /proc's bytes, /proc otherwise and
    /// whenever sock_diag fails before the first row (the default).
    Auto,
    /// `/proc/net` only (`RNETSTAT_SOURCE=proc`, and always under
    /// `RNET_PROC_ROOT`: a fixture tree is not the kernel netlink asks).
    Proc,
    /// As `Auto`, but a sock_diag failure is an error, not a fallback
    /// (`RNETSTAT_SOURCE=netlink`: proves the path in tests).
    Netlink,
}

impl Source {
    /// The source for a listing of `root`: `Proc` unless `root` is the
    /// machine's `/proc`, else `$RNETSTAT_SOURCE` (`proc`, `netlink`;
    /// unset, empty, `auto` or anything else: `Auto`).
    pub fn from_env(root: &Path) -> Source {
        if root != Path::new("/proc") {
            return Source::Proc;
        }
        match std::env::var_os(SOURCE_ENV) {
            Some(v) if v == "proc" => Source::Proc,
            Some(v) if v == "netlink" => Source::Netlink,
            _ => Source::Auto,
        }
    }
}

/// Whether sock_diag gives every field the rows of `proto` print, as
/// docs/architecture.md ("sock_diag") works out field by field. UDP: all
/// of them. TCP: not `-e` (a request socket's user is its listener's in
/// /proc, 0 over netlink), not `-o` and annotations (its retransmit count
/// is `num_timeout` in /proc, `num_retrans` over netlink), not `--json`
/// (both); a listener's Send-Q, which netlink does not carry, is read from
/// /proc's listening section (see [`diag_tcp`]).
fn diag_gives_rows(proto: Proto, o: &Options, explain: bool) -> bool {
    match proto {
        Proto::Udp => true,
        Proto::Tcp => !(o.extend > 0 || o.timers || o.json || explain),
        Proto::UdpLite | Proto::Raw => false,
    }
}

/// Before a message on stderr: on a terminal, show the rows printed so
/// far first, so the message lands where it happened. Into a pipe or file,
/// keep buffering, as net-tools' block-buffered stdout does (its messages
/// then come first when both streams share a pipe).
pub(crate) fn sync<W: Write>(out: &mut W) -> io::Result<()> {
    use std::io::IsTerminal;
    if io::stdout().is_terminal() {
        out.flush()?;
    }
    Ok(())
}

/// `LISTEN`'s number in the `st` column.
const TCP_LISTEN: u32 = 10;

/// The result of reading one `/proc/net` file.
enum FileResult {
    Read,
    Missing,
}

/// The socket listing: net-tools' main loop, written to `out` (stdout
/// behind one buffer, which the caller flushes after reporting an error,
/// so a message comes first as with netstat's block-buffered stdout).
pub fn list<L: Lookup, W: Write>(
    prog: &str,
    o: &Options,
    explain: bool,
    root: &Path,
    lookup: L,
    out: &mut W,
) -> Result<(), Error> {
    let mut names = Names::new(lookup, o.numeric_hosts, o.numeric_ports, o.numeric_users);
    let source = Source::from_env(root);
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
    // A filter selects internet sockets: the UNIX section (no ports, no
    // TCP states) is listed only when asked for, and then keeps no row.
    let unix_section = (!flag_arg && !o.filter.active()) || o.unix;
    loop {
        let progs = if o.programs && (inet_section || unix_section) {
            let c = ProgCache::load(root);
            crate::sys::give_back_free_memory();
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
        if inet_section && !o.json {
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
                inet_proto(prog, o, proto, af_name, root, source, &mut ctx, out)?;
            }
            // net-tools lists SCTP right after TCP.
            if proto == Proto::Tcp && (!flag_arg || o.sctp) {
                sync(out)?;
                sctp(prog, o, root)?;
            }
        }
        if unix_section {
            unix(prog, o, root, &progs, out)?;
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
            sync(out)?;
            if files.iter().any(|f| root.join(f).exists()) {
                eprintln!("{prog}: listing {af_name} sockets is not supported by rnetstat");
                if flag_arg {
                    out.flush()?;
                    return Err(Error::Exit(ExitStatus::Failure));
                }
            } else {
                if flag_arg || o.verbose {
                    eprintln!("{prog}: no support for `{af_name}' on this system.");
                }
                if flag_arg {
                    out.flush()?;
                    return Err(Error::Exit(ExitStatus::Failure));
                }
            }
        }
        if flag_arg && o.bluetooth {
            sync(out)?;
            eprintln!("{prog}: feature `AF BLUETOOTH' not supported.\nPlease recompile `net-tools' with newer kernel source or full configuration.");
            return Err(Error::Exit(ExitStatus::Failure));
        }
        out.flush()?;
        if !o.continuous {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
}

/// One protocol, v4 file then v6 file, as net-tools' `INFO_GUTS6`.
#[allow(clippy::too_many_arguments)]
fn inet_proto<L: Lookup, W: Write>(
    prog: &str,
    o: &Options,
    proto: Proto,
    af_name: &str,
    root: &Path,
    source: Source,
    ctx: &mut RowCtx<'_, L>,
    out: &mut W,
) -> Result<(), Error> {
    let flag_arg = o.proto_args();
    let v6 = !flag_arg || o.inet6;
    let mut missing = false;
    let mut held = None;
    if !flag_arg || o.inet {
        let walked = if proto == Proto::Tcp && v6 {
            tcp_one_walk(prog, root, source, o, ctx, &mut held, out)?
        } else {
            None
        };
        let read = match walked {
            Some(r) => r,
            None => inet_file(prog, proto, Family::V4, root, source, o, ctx, out)?,
        };
        if let FileResult::Missing = read {
            // net-tools stays silent when the protocols came from a family
            // flag alone (`-4`, `-A inet`: its flag_noprot).
            if !o.noprot && (flag_arg || o.verbose) {
                sync(out)?;
                eprintln!("{prog}: no support for `{af_name}' on this system.");
            }
            missing = flag_arg && !o.noprot;
        }
    }
    if v6 {
        match held {
            Some(held) => tcp6_held(prog, root, held, o, ctx, out)?,
            // A missing IPv6 file is silent, as in net-tools.
            None => {
                inet_file(prog, proto, Family::V6, root, source, o, ctx, out)?;
            }
        }
    }
    if missing {
        out.flush()?;
        return Err(Error::Exit(ExitStatus::Failure));
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
    if !o.filter.matches(e) {
        return false;
    }
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
pub(crate) enum Opened<R> {
    Reader(R),
    /// ENOENT or EACCES: "no support" (net-tools treats both alike).
    Missing,
    /// Not a kernel table: warned about and skipped, the listing goes on
    /// as for a file that was read.
    Skipped,
}

/// Sorts the result of opening a table into [`Opened`], printing the
/// one-line reason for a skipped file; any other error ends the listing
/// ([`Error::Open`]: `perror`'s line and exit status 255, as in netstat).
pub(crate) fn classify_open<R, W: Write>(
    prog: &str,
    path: &Path,
    opened: io::Result<R>,
    out: &mut W,
) -> Result<Opened<R>, Error> {
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
            Err(Error::Open(path.to_path_buf(), e))
        }
    }
}

/// One step of reading a table: `None` at the end (or after a read error,
/// reported as net-tools reports it, or a [`rnet_core::procnet::Refusal`]
/// at a limit, reported in one line), `Some(None)` for
/// a malformed line (warned about as net-tools does), `Some(Some(entry))`
/// otherwise.
pub(crate) fn next_item<E, W: Write>(
    prog: &str,
    next: io::Result<Option<Result<E, LineError>>>,
    path: &Path,
    kind: &str,
    out: &mut W,
) -> Result<Option<Option<E>>, Error> {
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
    source: Source,
    o: &Options,
    ctx: &mut RowCtx<'_, L>,
    out: &mut W,
) -> Result<FileResult, Error> {
    let path = proto.path(root, family);
    if source != Source::Proc && diag_gives_rows(proto, o, ctx.opts.explain) {
        // Only for the kernel's own /proc (not a tree bound over it); a
        // missing file keeps netstat's messages on the /proc path.
        if diag::is_kernel_table(&path) {
            if let Some(r) = diag_file(prog, proto, family, &path, source, o, ctx, out)? {
                return Ok(r);
            }
        }
    }
    let mut reader = match classify_open(prog, &path, InetReader::open(&path), out)? {
        Opened::Reader(r) => r,
        Opened::Missing => return Ok(FileResult::Missing),
        Opened::Skipped => return Ok(FileResult::Read),
    };
    let mut line = Vec::with_capacity(256);
    while let Some(item) = next_item(prog, reader.next_entry(), &path, bogus_kind(proto), out)? {
        let Some(e) = item else { continue };
        print_row(ctx, proto, &e, o, &mut line, out)?;
    }
    Ok(FileResult::Read)
}

/// Prints `e` as netstat (or `--json`) would, if net-tools would print it;
/// `line` is the reused row buffer.
fn print_row<L: Lookup, W: Write>(
    ctx: &mut RowCtx<'_, L>,
    proto: Proto,
    e: &InetEntry,
    o: &Options,
    line: &mut Vec<u8>,
    out: &mut W,
) -> io::Result<()> {
    if !selected(proto, e, o) {
        return Ok(());
    }
    line.clear();
    if o.json {
        json::inet_object(ctx, proto, e, line);
    } else {
        render::inet_row(ctx, proto, e, line);
    }
    out.write_all(line)
}

/// The kernel filter of a sock_diag query: `--port`, `--sport`, `--dport`
/// as port conditions and, for TCP under `-l`, the remote port 0 that
/// makes a row a listening one. [`selected`] still checks every row.
pub(crate) fn kernel_filter(o: &Options, proto: Proto) -> Option<Vec<u8>> {
    let mut clauses: Vec<Vec<Cond>> = Vec::new();
    if let Some(p) = o.filter.port {
        clauses.push(vec![Cond::SportEq(p), Cond::DportEq(p)]);
    }
    if let Some(p) = o.filter.sport {
        clauses.push(vec![Cond::SportEq(p)]);
    }
    if let Some(p) = o.filter.dport {
        clauses.push(vec![Cond::DportEq(p)]);
    }
    // `-l` keeps the few sockets with no remote port; the default (no
    // `-a`) keeps nearly all, where a program would only add work.
    if proto == Proto::Tcp && o.listening && !o.all {
        clauses.push(vec![Cond::DportEq(0)]);
    }
    let refs: Vec<&[Cond]> = clauses.iter().map(|c| c.as_slice()).collect();
    diag::bytecode(&refs)
}

/// Starts a dump: `None` when it failed and the caller is to read /proc
/// (`Source::Auto`); under `Source::Netlink` the failure is reported and
/// ends the run with status 1.
pub(crate) fn open_dump<W: Write>(
    prog: &str,
    query: &Query,
    source: Source,
    out: &mut W,
) -> Result<Option<DiagReader>, Error> {
    match DiagReader::open(query) {
        Ok(r) => Ok(Some(r)),
        Err(e) if source == Source::Netlink => {
            sync(out)?;
            eprintln!(
                "{prog}: sock_diag {}: {}",
                query.proto.file_name(query.family),
                strerror_text(&e)
            );
            out.flush()?;
            Err(Error::Exit(ExitStatus::Failure))
        }
        Err(_) => Ok(None),
    }
}

/// Reports an error that ended a dump after rows were out (as a /proc
/// read error is reported), so the caller can end the table.
pub(crate) fn dump_error<W: Write>(
    prog: &str,
    query: &Query,
    err: &io::Error,
    out: &mut W,
) -> Result<(), Error> {
    sync(out)?;
    eprintln!(
        "{prog}: sock_diag {}: {}",
        query.proto.file_name(query.family),
        strerror_text(err)
    );
    Ok(())
}

/// A table over sock_diag: the dump's query (every state asked for but
/// TCP's LISTEN) and whether TCP listeners are read from `/proc`.
struct DiagPlan {
    query: Query,
    listeners: bool,
}

impl DiagPlan {
    /// `None` when the filter has no kernel form (the caller reads /proc).
    fn new(o: &Options, proto: Proto, family: Family) -> Option<DiagPlan> {
        let bytecode = kernel_filter(o, proto)?;
        let states = if o.filter.states != 0 {
            o.filter.states
        } else {
            ALL_STATES
        };
        // TCP listeners come from /proc; the dump has the rest.
        let (listeners, dump_states) = match proto {
            Proto::Tcp => (states & LISTEN_BIT != 0, states & !LISTEN_BIT),
            _ => (false, states),
        };
        let mut query = Query::all(proto, family);
        query.states = dump_states;
        query.bytecode = bytecode;
        Some(DiagPlan { query, listeners })
    }

    /// Whether anything but listeners is asked for.
    fn dumps(&self) -> bool {
        self.query.states != 0
    }
}

/// Where a table stands after its listening section.
enum Section {
    /// Go on with the dump, numbering from this `sl`.
    Next(u64),
    /// The table ends here.
    End(FileResult),
}

/// TCP: the listening section of the /proc table at `path` (a listener's
/// Send-Q is `write_seq - snd_una` there, which no netlink reply carries),
/// printed, which is where /proc lists it: before every other socket.
fn proc_listeners<L: Lookup, W: Write>(
    prog: &str,
    plan: &DiagPlan,
    path: &Path,
    o: &Options,
    ctx: &mut RowCtx<'_, L>,
    line: &mut Vec<u8>,
    out: &mut W,
) -> Result<Section, Error> {
    let proto = plan.query.proto;
    // Reading /proc's listening section costs a walk of the established
    // hash up to the family's first socket there (all of it for `tcp6` on
    // a machine of IPv4 connections): skip it when the kernel, asked over
    // netlink (a walk of the listening hash only), has no listener that
    // passes the filter.
    let listeners = plan.listeners && {
        let mut q = Query::all(proto, plan.query.family);
        q.states = LISTEN_BIT;
        q.bytecode = plan.query.bytecode.clone();
        match DiagReader::open(&q).and_then(|mut r| r.next_entry()) {
            Ok(first) => first.is_some(),
            // Not decided: read /proc.
            Err(_) => true,
        }
    };
    let mut slot = 0u64;
    if !listeners {
        return Ok(Section::Next(slot));
    }
    let mut table = match classify_open(prog, path, InetReader::open_head(path), out)? {
        Opened::Reader(r) => r,
        Opened::Missing => return Ok(Section::End(FileResult::Missing)),
        Opened::Skipped => return Ok(Section::End(FileResult::Read)),
    };
    while let Some(item) = next_item(prog, table.next_entry(), path, bogus_kind(proto), out)? {
        let Some(e) = item else { continue };
        // The established table starts with the first other state.
        if u32::from(e.state.code()) != TCP_LISTEN {
            break;
        }
        slot += 1;
        print_row(ctx, proto, &e, o, line, out)?;
    }
    Ok(Section::Next(slot))
}

/// The rows of a dump, numbered from `slot`; an error after rows are out
/// is reported as a /proc read error is, and ends the table.
#[allow(clippy::too_many_arguments)]
fn dump_rows<L: Lookup, W: Write>(
    prog: &str,
    query: &Query,
    mut next: impl FnMut() -> io::Result<Option<InetEntry>>,
    mut slot: u64,
    o: &Options,
    ctx: &mut RowCtx<'_, L>,
    line: &mut Vec<u8>,
    out: &mut W,
) -> Result<(), Error> {
    loop {
        let e = match next() {
            Ok(Some(e)) => e,
            Ok(None) => return Ok(()),
            Err(err) => return dump_error(prog, query, &err, out),
        };
        let e = InetEntry { slot, ..e };
        slot += 1;
        print_row(ctx, query.proto, &e, o, line, out)?;
    }
}

/// One table over sock_diag, `None` when it could not be dumped and the
/// caller is to read /proc instead (`Source::Auto`). TCP: the listening
/// section of the /proc file ([`proc_listeners`]), then the other sockets
/// over netlink, which is the order /proc lists them in.
#[allow(clippy::too_many_arguments)]
fn diag_file<L: Lookup, W: Write>(
    prog: &str,
    proto: Proto,
    family: Family,
    path: &Path,
    source: Source,
    o: &Options,
    ctx: &mut RowCtx<'_, L>,
    out: &mut W,
) -> Result<Option<FileResult>, Error> {
    let Some(plan) = DiagPlan::new(o, proto, family) else {
        return Ok(None);
    };
    // Opened first, so that a failure falls back before any row is out.
    let mut reader = if plan.dumps() {
        match open_dump(prog, &plan.query, source, out)? {
            Some(r) => Some(r),
            None => return Ok(None),
        }
    } else {
        None
    };
    let mut line = Vec::with_capacity(256);
    let slot = match proc_listeners(prog, &plan, path, o, ctx, &mut line, out)? {
        Section::Next(slot) => slot,
        Section::End(r) => return Ok(Some(r)),
    };
    if let Some(r) = reader.as_mut() {
        dump_rows(
            prog,
            &plan.query,
            || r.next_entry(),
            slot,
            o,
            ctx,
            &mut line,
            out,
        )?;
    }
    Ok(Some(FileResult::Read))
}

/// TCP's IPv4 table from one sock_diag walk of both families
/// ([`OneWalk`]), when both tables are listed, both are the kernel's, and
/// IPv6 sockets are few: `None` when not taken (the caller lists the two
/// tables one by one). `held` gets the IPv6 entries of the walk when it
/// holds them all, for [`tcp6_held`].
#[allow(clippy::too_many_arguments)]
fn tcp_one_walk<L: Lookup, W: Write>(
    prog: &str,
    root: &Path,
    source: Source,
    o: &Options,
    ctx: &mut RowCtx<'_, L>,
    held: &mut Option<Vec<InetEntry>>,
    out: &mut W,
) -> Result<Option<FileResult>, Error> {
    let path = Proto::Tcp.path(root, Family::V4);
    let taken = source != Source::Proc
        && diag_gives_rows(Proto::Tcp, o, ctx.opts.explain)
        && diag::is_kernel_table(&path)
        && diag::is_kernel_table(&Proto::Tcp.path(root, Family::V6))
        && OneWalk::worth(root);
    if !taken {
        return Ok(None);
    }
    let plan = match DiagPlan::new(o, Proto::Tcp, Family::V4) {
        Some(plan) if plan.dumps() => plan,
        _ => return Ok(None),
    };
    // A kernel that refuses the request is asked family by family.
    let Ok(mut walk) = OneWalk::open(&plan.query) else {
        return Ok(None);
    };
    let mut line = Vec::with_capacity(256);
    let slot = match proc_listeners(prog, &plan, &path, o, ctx, &mut line, out)? {
        Section::Next(slot) => slot,
        Section::End(r) => return Ok(Some(r)),
    };
    let next = || walk.next_v4();
    dump_rows(prog, &plan.query, next, slot, o, ctx, &mut line, out)?;
    *held = walk.into_v6();
    Ok(Some(FileResult::Read))
}

/// TCP's IPv6 table from the entries [`tcp_one_walk`] held: its listening
/// section from /proc, then those entries.
fn tcp6_held<L: Lookup, W: Write>(
    prog: &str,
    root: &Path,
    held: Vec<InetEntry>,
    o: &Options,
    ctx: &mut RowCtx<'_, L>,
    out: &mut W,
) -> Result<(), Error> {
    let Some(plan) = DiagPlan::new(o, Proto::Tcp, Family::V6) else {
        return Ok(());
    };
    let path = Proto::Tcp.path(root, Family::V6);
    let mut line = Vec::with_capacity(256);
    let slot = match proc_listeners(prog, &plan, &path, o, ctx, &mut line, out)? {
        Section::Next(slot) => slot,
        Section::End(_) => return Ok(()),
    };
    let mut held = held.into_iter();
    dump_rows(
        prog,
        &plan.query,
        || Ok(held.next()),
        slot,
        o,
        ctx,
        &mut line,
        out,
    )
}

/// SCTP: net-tools reads `/proc/net/sctp/eps` (only with `-a` or `-l`)
/// and then `/proc/net/sctp/assocs`; where SCTP is not loaded both are
/// missing, which is the only case rnetstat handles. Each missing file gets
/// its own note under `-v`; a requested `-S` stops at the first.
fn sctp(prog: &str, o: &Options, root: &Path) -> Result<(), Error> {
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
            return Err(Error::Exit(ExitStatus::Failure));
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
) -> Result<(), Error> {
    if !o.json {
        out.write_all(render::unix_title_header(o.all, o.listening, o.programs).as_bytes())?;
    }
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
                return Err(Error::Exit(ExitStatus::Failure));
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
        if o.filter.active() {
            continue;
        }
        if !o.all {
            let listening = e.state == 1 && e.flags & UNIX_ACCEPTCON != 0;
            if listening != o.listening {
                continue;
            }
        }
        line.clear();
        if o.json {
            let program = o.programs.then(|| match (e.inode, reader.has_inode()) {
                (Some(i), true) => progs.get(i),
                _ => "-",
            });
            json::unix_object(&e, program, &mut line);
        } else {
            render::unix_row(
                &e,
                reader.has_inode(),
                o.programs.then_some(progs),
                &mut line,
            );
        }
        out.write_all(&line)?;
    }
    Ok(())
}
