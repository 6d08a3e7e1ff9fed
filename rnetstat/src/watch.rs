//! `--watch`: every TCP state change of this network namespace's
//! sockets, one row each, as it happens (man/rnetstat.8, WATCH).
//!
//! Two sources:
//! - **tracepoint**: a private tracefs instance (`rnet_core::trace`) with
//!   `sock:inet_sock_set_state`, `tcp:tcp_retransmit_skb` and
//!   `tcp:tcp_retransmit_synack`, filtered in the kernel on the ports and
//!   the family. The loop sleeps in `poll` until the kernel has events
//!   or a signal comes; the table is read only to confirm an event that
//!   nothing else confirms, and every `--interval` (1000 ms by default)
//!   while a TIME_WAIT or request socket is followed. An idle watch
//!   costs nothing.
//! - **polling**: without tracefs (not root, no tracefs in a container),
//!   the socket table is read every `--interval` (20 ms by default) and
//!   compared; a state shorter than that can be missed, and the first
//!   line says so. The table comes over sock_diag with the ports filtered
//!   in the kernel where the listings would use it (`listing::Source`),
//!   else from `/proc/net/tcp` and `tcp6`.
//!
//! The tracepoints report every namespace's sockets. An event is shown
//! only when it is this namespace's: its process (for an event raised by
//! a system call) is in this namespace, or its socket (the address and
//! port pair) is in this namespace's table or was already shown. Events
//! that neither confirms within [`HOLD`] are dropped. Rows leave in the
//! kernel's time order: an event waiting for confirmation holds back the
//! ones after it.
//!
//! The table also gives what no tracepoint reports: a request socket
//! (SYN received, SYN|ACK sent, no full socket yet: `new -> SYN_RECV`),
//! the TIME_WAIT socket a closing socket became (the kernel reports
//! `FIN_WAIT2 -> CLOSE`; the table shows the TIME_WAIT socket in its
//! place) and the end of TIME_WAIT (`TIME_WAIT -> gone`).
//!
//! When both ends of a connection are in this namespace, its rows are a
//! ladder: the client's state and the server's side by side.

use crate::cli::Options;
use crate::error::{Error, ExitStatus};
use crate::json;
use crate::listing::{kernel_filter, Source};
use crate::names::{Lookup, Names, ServiceProto};
use crate::render::{endpoint, push_u64};
use crate::sys;
use rnet_core::diag::{self, DiagReader, Query};
use rnet_core::explain::transition::{self, Point, Resent, Role, Seen};
use rnet_core::procnet::{Family, InetEntry, InetReader, Proto};
use rnet_core::tcp_state::{StateCode, TcpState};
use rnet_core::timing::{Hosts, TcpTimers};
use rnet_core::trace::{self, Event, EventKind, Instance};
use std::collections::{HashMap, HashSet, VecDeque};
use std::io::{IsTerminal, Write};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::time::Duration;

/// How long an event waits for proof that it is this namespace's.
const HOLD: Duration = Duration::from_millis(300);

/// More sockets proven foreign than this, and the set starts again (the
/// kernel may not report every foreign socket's end).
const FOREIGN_MAX: usize = 65_536;

/// How often a row waiting for proof looks at the table again.
const RECHECK_US: u64 = 20_000;

/// The table read period when polling, and with the tracepoint.
pub const POLL_INTERVAL_MS: u64 = 20;
/// See [`POLL_INTERVAL_MS`].
pub const TRACE_INTERVAL_MS: u64 = 1000;

/// The instance name prefix under tracefs `instances/`.
const INSTANCE_PREFIX: &str = "rnetstat";

/// A socket: its own address and port, the peer's.
type Key = (SocketAddr, SocketAddr);

/// What the table says of one socket.
#[derive(Clone, Copy, Debug)]
struct Row {
    state: StateCode,
    retransmits: u64,
    v6: bool,
    /// A timewait socket (timer `timewait`: TIME_WAIT, or an orphaned
    /// FIN_WAIT2) or a request socket (SYN_RECV without an inode): no
    /// event reports what happens to it next.
    mini: bool,
}

/// One read of this namespace's TCP tables.
#[derive(Default)]
struct Table {
    rows: HashMap<Key, Row>,
}

/// Where and how the table is read: over sock_diag, with the ports
/// filtered in the kernel, when the tables are the machine's own (as the
/// listings choose, `RNETSTAT_SOURCE`), else from `/proc`.
struct TableSource {
    root: PathBuf,
    v4: bool,
    v6: bool,
    source: Source,
    /// The ports of `--port/--sport/--dport` as inet_diag bytecode.
    bytecode: Vec<u8>,
}

impl TableSource {
    /// Whether the table comes over sock_diag (a dump can be made now).
    fn diag(&self) -> bool {
        self.source != Source::Proc
            && diag::is_kernel_table(&Proto::Tcp.path(&self.root, Family::V4))
            && DiagReader::open(&Query::all(Proto::Tcp, Family::V4)).is_ok()
    }

    /// What the first line calls the table.
    fn name(&self) -> &'static str {
        if self.diag() {
            "the socket table over sock_diag"
        } else {
            "/proc/net/tcp and tcp6"
        }
    }
}

impl Table {
    fn read(src: &TableSource) -> Table {
        let mut rows = HashMap::new();
        // Both families from one walk of the kernel's tables (a dump of
        // one family walks them whole too); the order does not matter here.
        let path = |family| Proto::Tcp.path(&src.root, family);
        if src.v4
            && src.v6
            && src.source != Source::Proc
            && diag::is_kernel_table(&path(Family::V4))
            && diag::is_kernel_table(&path(Family::V6))
        {
            let q = Query {
                both: true,
                bytecode: src.bytecode.clone(),
                ..Query::all(Proto::Tcp, Family::V4)
            };
            if let Ok(mut reader) = DiagReader::open(&q) {
                while let Ok(Some(e)) = reader.next_entry() {
                    let family = if e.local.is_ipv4() {
                        Family::V4
                    } else {
                        Family::V6
                    };
                    Table::add(&mut rows, &e, family);
                }
                return Table { rows };
            }
        }
        for (wanted, family) in [(src.v4, Family::V4), (src.v6, Family::V6)] {
            if !wanted {
                continue;
            }
            let path = Proto::Tcp.path(&src.root, family);
            if src.source != Source::Proc && diag::is_kernel_table(&path) {
                let q = Query {
                    bytecode: src.bytecode.clone(),
                    ..Query::all(Proto::Tcp, family)
                };
                if let Ok(mut reader) = DiagReader::open(&q) {
                    while let Ok(Some(e)) = reader.next_entry() {
                        Table::add(&mut rows, &e, family);
                    }
                    continue;
                }
            }
            let Ok(mut reader) = InetReader::open(&path) else {
                continue;
            };
            while let Ok(Some(item)) = reader.next_entry() {
                let Ok(e) = item else { continue };
                Table::add(&mut rows, &e, family);
            }
        }
        Table { rows }
    }

    fn add(rows: &mut HashMap<Key, Row>, e: &InetEntry, family: Family) {
        let key = (
            SocketAddr::new(e.local, e.local_port),
            SocketAddr::new(e.remote, e.remote_port),
        );
        let request = e.inode == 0
            && matches!(
                e.state.known(),
                Some(TcpState::SynRecv | TcpState::NewSynRecv)
            );
        rows.insert(
            key,
            Row {
                state: e.state,
                retransmits: e.retransmits,
                v6: family == Family::V6,
                mini: e.timer == 3 || request,
            },
        );
    }

    fn state(&self, key: &Key) -> Option<TcpState> {
        self.rows.get(key).and_then(|r| r.state.known())
    }
}

/// What the watch knows of a socket it has shown or found.
#[derive(Clone, Copy, Debug)]
struct Sock {
    state: TcpState,
    /// A request or timewait socket: no event reports its end.
    table_only: bool,
    role: Role,
    /// Retransmissions counted (tracepoint) or the table's counter.
    resent: u64,
    v6: bool,
}

/// What happened to a socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Change {
    Move {
        old: Point,
        new: Point,
    },
    Resent {
        state: TcpState,
        what: Resent,
        refused: bool,
    },
}

/// A row waiting to be shown.
#[derive(Clone, Copy, Debug)]
struct Item {
    /// Microseconds since the watch started.
    at_us: u64,
    key: Key,
    v6: bool,
    change: Change,
    /// Whether the socket is this namespace's; `None` while unknown.
    ours: Option<bool>,
    /// When to give up waiting for `ours` (microseconds, as `at_us`).
    hold_until_us: u64,
    seen: Seen,
    /// A `CLOSE -> SYN_SENT` reported before connect() chose the local
    /// port (the kernel sets the state first): the port comes from the
    /// socket's next event or the table.
    unbound: bool,
    /// The table must be read for this row: a close that may have left
    /// a TIME_WAIT socket, a SYN|ACK resent by a request socket.
    wants_table: bool,
    /// After this row the socket is one only the table shows (a request
    /// or timewait socket): its next change and its end come from there.
    table_only: bool,
}

/// Where the rows go and how they look.
struct Printer<'a, L: Lookup, W: Write> {
    out: &'a mut W,
    names: Names<L>,
    json: bool,
    explain: bool,
    wide: bool,
    colour: bool,
    hosts: Hosts,
    ladder_header: bool,
}

/// The watch's whole state.
struct Watch {
    /// The invocation name, for messages.
    prog: String,
    /// Where the socket table comes from, and which families.
    src: TableSource,
    filter: crate::filter::Filter,
    start_us: u64,
    known: HashMap<Key, Sock>,
    /// Sockets proven to be another namespace's (until they close).
    foreign: HashSet<Key>,
    /// Sockets proven to be this namespace's.
    ours: HashSet<Key>,
    /// Other namespaces' connects whose port is not known yet: (peer,
    /// local address, until when).
    foreign_connects: Vec<(SocketAddr, IpAddr, u64)>,
    queue: VecDeque<Item>,
    table: Table,
    /// This process's network namespace (`net:[4026531840]`).
    netns: Option<PathBuf>,
    /// Sockets shown in a ladder, and whether each is the client: a
    /// ladder stays one after the other end is gone.
    laddered: HashMap<Key, bool>,
}

/// Runs `--watch` until a signal or a closed stdout.
pub fn watch<L: Lookup, W: Write>(
    prog: &str,
    o: &Options,
    lookup: L,
    out: &mut W,
) -> Result<ExitStatus, Error> {
    let interval = o.interval;
    if o.statistics || o.route || o.interfaces || o.masquerade || o.groups || o.summary {
        eprintln!("{prog}: --watch cannot be combined with -s, -r, -i, -M, -g or --summary");
        return Ok(ExitStatus::Usage);
    }
    // Columns and repetition a watch row does not have: refused rather
    // than ignored.
    if o.programs || o.extend > 0 || o.timers || o.continuous {
        eprintln!("{prog}: --watch has no -p, -e or -o columns and runs on its own (no -c)");
        return Ok(ExitStatus::Usage);
    }
    if (!o.noprot && (o.udp || o.udplite || o.raw || o.sctp))
        || o.unix
        || o.ipx
        || o.ax25
        || o.netrom
        || o.x25
        || o.rose
        || o.bluetooth
    {
        eprintln!("{prog}: --watch follows TCP sockets only");
        return Ok(ExitStatus::Usage);
    }
    let stop = match sys::stop_signals() {
        Ok(fd) => fd,
        Err(e) => {
            eprintln!(
                "{prog}: cannot catch signals: {}",
                rnet_core::os::strerror_text(&e)
            );
            return Ok(ExitStatus::Failure);
        }
    };
    let root = rnet_core::procnet::proc_root();
    let any = !(o.inet || o.inet6);
    let (v4, v6) = (o.inet || any, o.inet6 || any);
    let explain = o.explain != Some(false);
    let hosts = if explain {
        let (hosts, warning) = Hosts::read(&root);
        if let Some(w) = warning {
            eprintln!("{prog}: {w}");
        }
        hosts
    } else {
        Hosts::same(TcpTimers::default())
    };
    let mut p = Printer {
        out,
        names: Names::new(lookup, o.numeric_hosts, o.numeric_ports, o.numeric_users),
        json: o.json,
        explain,
        wide: o.wide,
        colour: !o.json
            && std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none(),
        hosts,
        ladder_header: false,
    };
    let src = TableSource {
        source: Source::from_env(&root),
        bytecode: kernel_filter(o, Proto::Tcp).unwrap_or_default(),
        root,
        v4,
        v6,
    };
    let mut w = Watch {
        prog: prog.to_string(),
        table: Table::read(&src),
        src,
        filter: o.filter,
        start_us: rnet_core::os::monotonic_us(),
        known: HashMap::new(),
        foreign: HashSet::new(),
        ours: HashSet::new(),
        foreign_connects: Vec::new(),
        queue: VecDeque::new(),
        netns: std::fs::read_link("/proc/self/ns/net").ok(),
        laddered: HashMap::new(),
    };
    w.adopt_table();
    // The tracepoint when tracefs lets us (and the /proc tables are the
    // kernel's own: a fixture tree under RNET_PROC_ROOT has no events).
    let fixture = std::env::var_os(rnet_core::procnet::PROC_ROOT_ENV).is_some();
    let source = if fixture {
        Err(format!("{} is set", rnet_core::procnet::PROC_ROOT_ENV))
    } else {
        trace::remove_stale(INSTANCE_PREFIX);
        let family = if v4 && v6 { None } else { Some(v6) };
        let filter = trace::filter_text(o.filter.port, o.filter.sport, o.filter.dport, family);
        Instance::create(
            INSTANCE_PREFIX,
            &[
                trace::STATE_EVENT,
                trace::RETRANSMIT_EVENT,
                trace::SYNACK_EVENT,
            ],
            &filter,
        )
    };
    let result = match source {
        Ok(mut inst) => {
            let ms = interval.unwrap_or(TRACE_INTERVAL_MS);
            let note = format!(
                "Source: tracepoint sock:inet_sock_set_state (every change, kernel timestamps); \
                 the socket table confirms this namespace's sockets and, every {ms} ms while one \
                 is followed, the end of TIME_WAIT and of request sockets. Ctrl-C stops."
            );
            p.start("tracepoint", ms, &note)?;
            w.run_traced(&mut inst, &stop, Duration::from_millis(ms), &mut p)
            // `inst` drops here: events off, directory removed.
        }
        Err(why) => {
            let ms = interval.unwrap_or(POLL_INTERVAL_MS);
            let table = w.src.name();
            let note = format!(
                "Source: polling {table} every {ms} ms (tracepoint unavailable: {why}); \
                 it can miss a state that lasts less than {ms} ms, and times are when a change was seen. \
                 Ctrl-C stops."
            );
            p.start("polling", ms, &note)?;
            w.run_polled(&stop, Duration::from_millis(ms), &mut p)
        }
    };
    result.map(|()| ExitStatus::Success)
}

impl Watch {
    fn now_us(&self) -> u64 {
        rnet_core::os::monotonic_us().saturating_sub(self.start_us)
    }

    /// Takes the table's sockets as known (not shown: they were there
    /// before the watch began).
    fn adopt_table(&mut self) {
        let keys: Vec<(Key, Row)> = self.table.rows.iter().map(|(k, r)| (*k, *r)).collect();
        for (key, row) in keys {
            if let Some(state) = row.state.known() {
                let role = self.role_of(&key, state);
                self.known.insert(
                    key,
                    Sock {
                        state,
                        table_only: row.mini,
                        role,
                        resent: row.retransmits,
                        v6: row.v6,
                    },
                );
                self.ours.insert(key);
            }
        }
    }

    // ------------------------------------------------------------ polling

    fn run_polled<L: Lookup, W: Write>(
        &mut self,
        stop: &std::os::fd::OwnedFd,
        every: Duration,
        p: &mut Printer<'_, L, W>,
    ) -> Result<(), Error> {
        loop {
            let out = std::io::stdout();
            let ready = sys::poll_readable(&[stop.as_fd()], Some(out.as_fd()), Some(every))
                .map_err(Error::Write)?;
            if ready[0] || ready[1] {
                return Ok(());
            }
            let table = Table::read(&self.src);
            let at = self.now_us();
            let mut items = Vec::new();
            for (key, row) in &table.rows {
                let Some(state) = row.state.known() else {
                    continue;
                };
                match self.known.get(key) {
                    None => {
                        items.push(self.item(at, *key, row.v6, Point::New, Point::State(state)))
                    }
                    Some(s) if s.state != state => items.push(self.item(
                        at,
                        *key,
                        row.v6,
                        Point::State(s.state),
                        Point::State(state),
                    )),
                    Some(s) if row.retransmits > s.resent && row.retransmits > 0 => {
                        let mut it = self.item(at, *key, row.v6, Point::New, Point::New);
                        it.change = Change::Resent {
                            state,
                            what: resent_what(state),
                            refused: false,
                        };
                        items.push(it);
                    }
                    Some(_) => {}
                }
            }
            for (key, s) in &self.known {
                if !table.rows.contains_key(key) {
                    items.push(self.item(at, *key, s.v6, Point::State(s.state), Point::Gone));
                }
            }
            self.table = table;
            // One read's rows: connection by connection, the listener,
            // then the client, then the server.
            items.sort_by_key(|i| {
                let rank = match self
                    .role_of(&i.key, self.table.state(&i.key).unwrap_or(TcpState::Close))
                {
                    Role::Listener => 0,
                    Role::Client => 1,
                    Role::Server => 2,
                    Role::Unknown => 3,
                };
                (i.key.min((i.key.1, i.key.0)), rank)
            });
            for mut it in items {
                it.seen = Seen::Polling;
                if let Change::Resent { .. } = it.change {
                    if let Some(s) = self.known.get_mut(&it.key) {
                        s.resent = self
                            .table
                            .rows
                            .get(&it.key)
                            .map_or(s.resent, |r| r.retransmits);
                    }
                }
                self.emit(it, p)?;
            }
        }
    }

    fn item(&self, at_us: u64, key: Key, v6: bool, old: Point, new: Point) -> Item {
        Item {
            at_us,
            key,
            v6,
            change: Change::Move { old, new },
            ours: Some(true),
            hold_until_us: at_us,
            seen: Seen::Tracepoint,
            unbound: false,
            wants_table: false,
            table_only: false,
        }
    }

    // --------------------------------------------------------- tracepoint

    fn run_traced<L: Lookup, W: Write>(
        &mut self,
        inst: &mut Instance,
        stop: &std::os::fd::OwnedFd,
        every: Duration,
        p: &mut Printer<'_, L, W>,
    ) -> Result<(), Error> {
        let mut pending = String::new();
        let mut buf = vec![0u8; 64 * 1024];
        let every_us = every.as_micros() as u64;
        let mut last_read_us = self.now_us();
        loop {
            let now = self.now_us();
            // The table is read again every interval only while it shows
            // something no event will report (a TIME_WAIT or a request
            // socket ending), and while a row waits for proof; otherwise
            // the watch sleeps until the kernel has events.
            let mut wake = if self.follows_table_only() {
                Some(last_read_us + every_us)
            } else {
                None
            };
            if let Some(first) = self.queue.iter().find(|i| i.ours.is_none() || i.unbound) {
                let at = first.hold_until_us.min(last_read_us + RECHECK_US);
                wake = Some(wake.map_or(at, |w| w.min(at)));
            }
            let timeout = wake.map(|w| Duration::from_micros(w.saturating_sub(now)));
            let ready = {
                let Some(fd) = inst.fd() else {
                    return Ok(());
                };
                let out = std::io::stdout();
                sys::poll_readable(&[fd, stop.as_fd()], Some(out.as_fd()), timeout)
                    .map_err(Error::Write)?
            };
            // A signal: the rows already proven go out first. Nobody
            // reads stdout any more (`| head`): nothing more to write.
            if ready[1] {
                return self.flush(u64::MAX, p);
            }
            if ready[2] {
                return Ok(());
            }
            let mut events = Vec::new();
            loop {
                let n = match inst.read(&mut buf) {
                    Ok(n) => n,
                    Err(e) => {
                        eprintln!(
                            "{}: reading the tracefs instance {}: {}",
                            self.prog,
                            inst.name(),
                            rnet_core::os::strerror_text(&e)
                        );
                        return Err(Error::Exit(ExitStatus::Failure));
                    }
                };
                if n == 0 {
                    break;
                }
                pending.push_str(&String::from_utf8_lossy(&buf[..n]));
                while let Some(nl) = pending.find('\n') {
                    let line: String = pending.drain(..=nl).collect();
                    if let Some(ev) = trace::parse_line(&line) {
                        events.push(ev);
                    } else if let Some(n) = trace::lost_events(&line) {
                        // The ring buffer overflowed (stdout stalled, or a
                        // storm of other namespaces' events): say so.
                        eprintln!(
                            "{}: the kernel dropped {n} trace events while the watch was behind; rows may be missing",
                            self.prog
                        );
                    }
                }
            }
            let now = self.now_us();
            // Events are first judged on what is known; the table is read
            // only when that is not enough (a row still unproven, a close
            // that may have left a TIME_WAIT socket, a SYN|ACK resent by a
            // request socket) or when it is due.
            for ev in events {
                self.classify(ev, now);
            }
            let due = self.follows_table_only() && now >= last_read_us + every_us;
            let unproven = self.queue.iter().any(|i| i.ours.is_none() || i.unbound)
                && now >= last_read_us + RECHECK_US;
            if due || unproven || self.queue.iter().any(|i| i.wants_table) {
                self.table = Table::read(&self.src);
                last_read_us = now;
                self.settle_from_table(now);
            }
            self.flush(now, p)?;
        }
    }

    /// Queues an event, deciding whether it is this namespace's if it can.
    fn classify(&mut self, ev: Event, now: u64) {
        let at_us = ev.ts_us.saturating_sub(self.start_us);
        let key = (ev.local, ev.remote);
        let change = match ev.kind {
            EventKind::State { old, new } => Change::Move {
                old: Point::State(old),
                new: Point::State(new),
            },
            EventKind::Retransmit { state, err } => Change::Resent {
                state,
                what: resent_what(state),
                refused: err.is_some_and(|e| e != 0),
            },
            EventKind::SynAckRetransmit => Change::Resent {
                state: TcpState::SynRecv,
                what: Resent::SynAck,
                refused: false,
            },
        };
        let unbound = ev.local.port() == 0
            && matches!(
                ev.kind,
                EventKind::State {
                    old: TcpState::Close,
                    new: TcpState::SynSent
                }
            );
        if !unbound && ev.local.port() != 0 {
            self.bind_connect(&key, ev.kind);
        }
        let ours = self.decide_event(&key, ev.kind, ev.task);
        let closes = matches!(
            change,
            Change::Move {
                new: Point::State(TcpState::Close),
                ..
            }
        );
        match ours {
            Some(true) => {
                self.confirm(&key, true);
            }
            Some(false) => {
                self.confirm(&key, false);
                if closes {
                    self.foreign.remove(&key);
                }
            }
            None => {}
        }
        self.queue.push_back(Item {
            at_us,
            key,
            v6: ev.v6,
            change,
            ours,
            hold_until_us: now + HOLD.as_micros() as u64,
            seen: Seen::Tracepoint,
            unbound,
            wants_table: closes || ev.kind == EventKind::SynAckRetransmit,
            table_only: ev.kind == EventKind::SynAckRetransmit,
        });
    }

    /// Whether the table shows something that ends without an event: a
    /// TIME_WAIT socket or a request socket being followed.
    fn follows_table_only(&self) -> bool {
        self.known.values().any(|s| s.table_only)
    }

    /// After a table read: a close whose socket is now a TIME_WAIT socket
    /// is shown as entering TIME_WAIT; rows waiting for proof look again;
    /// what only the table shows is added.
    fn settle_from_table(&mut self, now: u64) {
        for i in 0..self.queue.len() {
            let it = self.queue[i];
            if !it.wants_table {
                continue;
            }
            self.queue[i].wants_table = false;
            if let Change::Move {
                old,
                new: Point::State(TcpState::Close),
            } = it.change
            {
                // The socket lives on as a small timewait socket: in
                // TIME_WAIT, or (closed by its program before the peer's
                // FIN came) in FIN_WAIT2 for tcp_fin_timeout.
                if let Some(s @ (TcpState::TimeWait | TcpState::FinWait2)) =
                    self.table.state(&it.key)
                {
                    self.queue[i].change = Change::Move {
                        old,
                        new: Point::State(s),
                    };
                    self.queue[i].table_only = true;
                }
            }
        }
        self.recheck();
        self.table_rows(now);
    }

    /// Gives a waiting unbound `CLOSE -> SYN_SENT` the local port of the
    /// socket `key`, whose event `kind` shows it was in SYN_SENT (the
    /// same peer, the same local address).
    fn bind_connect(&mut self, key: &Key, kind: EventKind) {
        let from_syn_sent = matches!(
            kind,
            EventKind::State {
                old: TcpState::SynSent,
                ..
            } | EventKind::Retransmit {
                state: TcpState::SynSent,
                ..
            }
        );
        if !from_syn_sent || self.queue.iter().any(|i| i.key == *key && !i.unbound) {
            return;
        }
        let waiting = self.queue.iter_mut().find(|i| {
            i.unbound
                && i.key.1 == key.1
                && (i.key.0.ip().is_unspecified() || same_ip(i.key.0.ip(), key.0.ip()))
        });
        if let Some(it) = waiting {
            it.key = *key;
            it.unbound = false;
            let decided = it.ours;
            if let Some(o) = decided {
                self.confirm(key, o);
            }
        } else if let Some(i) = self
            .foreign_connects
            .iter()
            .position(|c| c.0 == key.1 && (c.1.is_unspecified() || same_ip(c.1, key.0.ip())))
        {
            self.foreign_connects.swap_remove(i);
            self.foreign.insert(*key);
        }
    }

    /// Whether the socket `key` is this namespace's, from what is known
    /// without looking at the event: `Some` when known.
    fn decide(&self, key: &Key, task: Option<u32>) -> Option<bool> {
        if self.foreign.contains(key) {
            return Some(false);
        }
        if let (Some(pid), Some(mine)) = (task, &self.netns) {
            if let Ok(theirs) = std::fs::read_link(format!("/proc/{pid}/ns/net")) {
                return Some(&theirs == mine);
            }
        }
        if self.ours.contains(key) || self.table.rows.contains_key(key) {
            return Some(true);
        }
        // Both ends of a loopback connection (or one to this socket's own
        // address) are in one namespace: the other end vouches.
        let (l, r) = *key;
        let one_host = (l.ip().is_loopback() && r.ip().is_loopback()) || same_ip(l.ip(), r.ip());
        if r.port() != 0 && one_host && self.ours.contains(&(r, l)) {
            return Some(true);
        }
        None
    }

    /// As [`Watch::decide`], then from what the event says: every socket
    /// of this namespace was either in the table when the watch began or
    /// made since (a connect, a listen, a handshake completed on one of
    /// its listeners), and those are followed. So an event of a socket
    /// that already existed, which nothing here follows or waits for, is
    /// another namespace's; so is a handshake on a port where no listener
    /// of this namespace listens. Only what remains needs the table.
    fn decide_event(&self, key: &Key, kind: EventKind, task: Option<u32>) -> Option<bool> {
        if let Some(known) = self.decide(key, task) {
            return Some(known);
        }
        let waited_for = |k: &Key| {
            self.queue.iter().any(|i| {
                i.ours != Some(false)
                    && (i.key == *k
                        || (i.unbound
                            && i.key.1 == k.1
                            && (i.key.0.ip().is_unspecified() || same_ip(i.key.0.ip(), k.0.ip()))))
            })
        };
        match kind {
            EventKind::State {
                old: TcpState::Close,
                ..
            } => None,
            EventKind::State {
                old: TcpState::Listen,
                new: TcpState::SynRecv,
            }
            | EventKind::SynAckRetransmit => {
                if self.listener_for(&key.0) {
                    None
                } else {
                    Some(false)
                }
            }
            _ if waited_for(key) => None,
            _ => Some(false),
        }
    }

    /// Records what was proven of `key`, and settles the rows of the same
    /// socket still waiting.
    fn confirm(&mut self, key: &Key, ours: bool) {
        if ours {
            self.ours.insert(*key);
        } else {
            self.foreign.insert(*key);
        }
        for it in self.queue.iter_mut() {
            if it.key == *key && it.ours.is_none() && !it.unbound {
                it.ours = Some(ours);
            }
        }
    }

    /// Looks again at the rows waiting: the socket may be in the table
    /// now.
    fn recheck(&mut self) {
        // An unbound connect still in SYN_SENT: its port is in the table.
        let unbound: Vec<usize> = (0..self.queue.len())
            .filter(|i| self.queue[*i].unbound)
            .collect();
        for i in unbound {
            let want = self.queue[i].key;
            let found = self.table.rows.iter().find(|(k, r)| {
                r.state.known() == Some(TcpState::SynSent)
                    && k.1 == want.1
                    && !self.known.contains_key(k)
                    && (want.0.ip().is_unspecified() || same_ip(k.0.ip(), want.0.ip()))
            });
            if let Some((k, _)) = found {
                let k = *k;
                self.queue[i].key = k;
                self.queue[i].unbound = false;
                if self.queue[i].ours.is_none() {
                    self.queue[i].ours = Some(true);
                }
                self.confirm(&k, true);
            }
        }
        // Decided rows vouch for the rows of their sockets, and for the
        // other end on loopback: repeat until nothing changes.
        loop {
            let found: Vec<Key> = self
                .queue
                .iter()
                .filter(|i| i.ours.is_none() && !i.unbound)
                .filter(|i| self.decide(&i.key, None) == Some(true))
                .map(|i| i.key)
                .collect();
            if found.is_empty() {
                return;
            }
            for key in found {
                self.confirm(&key, true);
            }
        }
    }

    /// What only the table shows: new request sockets, and the end of
    /// TIME_WAIT and of request sockets.
    fn table_rows(&mut self, now: u64) {
        let queued: HashSet<Key> = self.queue.iter().map(|i| i.key).collect();
        let moving: HashSet<Key> = self
            .queue
            .iter()
            .filter(|i| matches!(i.change, Change::Move { .. }))
            .map(|i| i.key)
            .collect();
        let mut items = Vec::new();
        for (key, row) in &self.table.rows {
            let requestish = matches!(
                row.state.known(),
                Some(TcpState::SynRecv | TcpState::NewSynRecv)
            );
            if requestish && !self.known.contains_key(key) && !moving.contains(key) {
                // Seen now, or just before its first SYN|ACK resend.
                let at = self
                    .queue
                    .iter()
                    .filter(|i| i.key == *key)
                    .map(|i| i.at_us.saturating_sub(1))
                    .min()
                    .unwrap_or(now);
                let mut it = self.item(
                    at,
                    *key,
                    row.v6,
                    Point::New,
                    Point::State(TcpState::SynRecv),
                );
                it.seen = Seen::Polling;
                items.push(it);
            }
        }
        for (key, s) in &self.known {
            if !s.table_only || queued.contains(key) {
                continue;
            }
            // Gone, or moved on (an orphaned FIN_WAIT2 whose peer's FIN
            // came is now TIME_WAIT).
            let now_state = self.table.state(key);
            let new = match now_state {
                None => Point::Gone,
                Some(t) if state_text(t) != state_text(s.state) => Point::State(t),
                Some(_) => continue,
            };
            let mut it = self.item(now, *key, s.v6, Point::State(s.state), new);
            it.seen = Seen::Polling;
            it.table_only = true;
            items.push(it);
        }
        items.sort_by_key(|i| i.key);
        for it in items {
            self.ours.insert(it.key);
            self.queue.push_back(it);
        }
    }

    /// Shows the rows that can go, in time order; a row still unproven
    /// holds back the ones after it until its hold ends (then it is
    /// dropped as another namespace's).
    fn flush<L: Lookup, W: Write>(
        &mut self,
        now: u64,
        p: &mut Printer<'_, L, W>,
    ) -> Result<(), Error> {
        self.queue.make_contiguous().sort_by_key(|i| i.at_us);
        self.foreign_connects.retain(|c| c.2 > now);
        while let Some(first) = self.queue.front() {
            let waiting = first.ours.is_none() || first.unbound;
            if waiting && first.ours != Some(false) && now < first.hold_until_us {
                break;
            }
            let it = self.queue.pop_front().expect("front exists");
            if it.ours == Some(true) {
                self.emit(it, p)?;
            } else if it.unbound && it.ours == Some(false) {
                // Another namespace's connect: its socket's next events
                // (with the port) are known to be foreign too.
                self.foreign_connects.push((
                    it.key.1,
                    it.key.0.ip(),
                    now + HOLD.as_micros() as u64,
                ));
            }
        }
        if self.foreign.len() > FOREIGN_MAX {
            self.foreign.clear();
        }
        Ok(())
    }

    // ------------------------------------------------------------ showing

    /// Updates what is known of the socket and shows the row (unless a
    /// filter hides it).
    fn emit<L: Lookup, W: Write>(
        &mut self,
        it: Item,
        p: &mut Printer<'_, L, W>,
    ) -> Result<(), Error> {
        let prev = self.known.get(&it.key).copied();
        match it.change {
            Change::Move {
                new: Point::State(TcpState::Close) | Point::Gone,
                ..
            } => {
                self.known.remove(&it.key);
                self.ours.remove(&it.key);
            }
            Change::Move {
                new: Point::State(s),
                ..
            } => {
                let role = match prev.map(|p| p.role) {
                    Some(r) if r != Role::Unknown && s != TcpState::Listen => r,
                    _ => self.role_of(&it.key, s),
                };
                let resent = match it.seen {
                    Seen::Polling => self.table.rows.get(&it.key).map_or(0, |r| r.retransmits),
                    Seen::Tracepoint => prev.map_or(0, |p| p.resent),
                };
                self.known.insert(
                    it.key,
                    Sock {
                        state: s,
                        table_only: it.table_only || s == TcpState::TimeWait,
                        role,
                        resent,
                        v6: it.v6,
                    },
                );
            }
            Change::Move {
                new: Point::New, ..
            } => {}
            Change::Resent { state, .. } => {
                let role = prev.map_or_else(|| self.role_of(&it.key, state), |p| p.role);
                let resent = match it.seen {
                    Seen::Polling => self.table.rows.get(&it.key).map_or(0, |r| r.retransmits),
                    Seen::Tracepoint => prev.map_or(0, |p| p.resent) + 1,
                };
                self.known.insert(
                    it.key,
                    Sock {
                        state,
                        table_only: it.table_only || prev.is_some_and(|p| p.table_only),
                        role,
                        resent,
                        v6: it.v6,
                    },
                );
            }
        }
        if !self.keeps(&it) {
            return Ok(());
        }
        let role = self
            .known
            .get(&it.key)
            .map(|s| s.role)
            .or(prev.map(|p| p.role))
            .unwrap_or(Role::Unknown);
        let count = self.known.get(&it.key).map_or(0, |s| s.resent);
        let ladder = self.ladder_of(&it.key, role);
        let rev = (it.key.1, it.key.0);
        if let Some(l) = &ladder {
            self.laddered.insert(it.key, l.client);
            self.laddered.insert(rev, !l.client);
        }
        p.row(&it, role, count, ladder.as_ref())?;
        if !self.known.contains_key(&it.key) && !self.known.contains_key(&rev) {
            self.laddered.remove(&it.key);
            self.laddered.remove(&rev);
        }
        Ok(())
    }

    /// Whether `--state` keeps the row (ports and family were filtered
    /// before: in the kernel, or by the table read).
    fn keeps(&self, it: &Item) -> bool {
        let f = &self.filter;
        let key = it.key;
        if f.port
            .is_some_and(|p| key.0.port() != p && key.1.port() != p)
            || f.sport.is_some_and(|p| key.0.port() != p)
            || f.dport.is_some_and(|p| key.1.port() != p)
        {
            return false;
        }
        if it.v6 && !self.src.v6 || !it.v6 && !self.src.v4 {
            return false;
        }
        if f.states == 0 {
            return true;
        }
        let has = |s: TcpState| {
            let code = u32::from(s.info().code);
            code < 32 && f.states & (1 << code) != 0
        };
        match it.change {
            Change::Move { old, new } => [old, new]
                .iter()
                .any(|p| matches!(p, Point::State(s) if has(*s))),
            Change::Resent { state, .. } => has(state),
        }
    }

    /// The listening sockets (from the table and what was shown).
    fn listener_for(&self, addr: &SocketAddr) -> bool {
        let matches = |k: &Key| {
            k.0.port() == addr.port()
                && k.1.port() == 0
                && (k.0.ip() == addr.ip()
                    || k.0.ip().is_unspecified()
                    || same_ip(k.0.ip(), addr.ip()))
        };
        self.table
            .rows
            .iter()
            .any(|(k, r)| r.state.known() == Some(TcpState::Listen) && matches(k))
            || self
                .known
                .iter()
                .any(|(k, s)| s.state == TcpState::Listen && matches(k))
    }

    /// The role a socket in `state` plays.
    fn role_of(&self, key: &Key, state: TcpState) -> Role {
        match state {
            TcpState::Listen => return Role::Listener,
            TcpState::SynSent => return Role::Client,
            TcpState::SynRecv | TcpState::NewSynRecv => return Role::Server,
            _ => {}
        }
        if let Some(s) = self.known.get(key) {
            if s.role != Role::Unknown && s.role != Role::Listener {
                return s.role;
            }
        }
        match self.known.get(&(key.1, key.0)).map(|s| s.role) {
            Some(Role::Client) => return Role::Server,
            Some(Role::Server) => return Role::Client,
            _ => {}
        }
        if key.1.port() == 0 {
            Role::Unknown
        } else if self.listener_for(&key.0) {
            Role::Server
        } else if self.listener_for(&key.1) {
            Role::Client
        } else {
            Role::Unknown
        }
    }

    /// The ladder of a connection whose other end is in this namespace:
    /// (this socket is the client, the other end's state text).
    fn ladder_of(&self, key: &Key, role: Role) -> Option<Ladder> {
        let (l, r) = *key;
        if r.port() == 0 || role == Role::Listener {
            return None;
        }
        let local_ip = r.ip().is_loopback()
            || same_ip(r.ip(), l.ip())
            || self
                .table
                .rows
                .keys()
                .chain(self.known.keys())
                .any(|k| same_ip(k.0.ip(), r.ip()));
        if !local_ip {
            return None;
        }
        let rev = (r, l);
        // The other end's state at this row's time: what was shown of it,
        // else the state its first waiting row leaves, else the table's.
        let waiting = self.queue.iter().find_map(|i| match i.change {
            Change::Move {
                old: Point::State(s),
                ..
            } if i.key == rev => Some(s),
            _ => None,
        });
        let peer_state = self
            .known
            .get(&rev)
            .map(|s| s.state)
            .or(waiting)
            .or_else(|| self.table.state(&rev));
        let listening = self.listener_for(&r);
        let before = self.laddered.get(key).copied();
        if before.is_none() && peer_state.is_none() && !listening && !self.listener_for(&l) {
            return None;
        }
        let client = before.unwrap_or(match role {
            Role::Client => true,
            Role::Server => false,
            _ => listening || l.port() > r.port(),
        });
        let peer = match peer_state {
            Some(s) => state_text(s).to_string(),
            None if client && listening => "LISTEN".to_string(),
            None => "-".to_string(),
        };
        Some(Ladder { client, peer })
    }
}

/// The other end of a laddered connection.
struct Ladder {
    /// This row's socket is the client.
    client: bool,
    /// The other end's state, as its cell shows it.
    peer: String,
}

/// The same address, an IPv4 one and its v4-mapped form included.
fn same_ip(a: IpAddr, b: IpAddr) -> bool {
    a.to_canonical() == b.to_canonical()
}

/// What a retransmission in `state` resends.
fn resent_what(state: TcpState) -> Resent {
    match state {
        TcpState::SynSent => Resent::Syn,
        TcpState::SynRecv | TcpState::NewSynRecv => Resent::SynAck,
        TcpState::FinWait1 | TcpState::Closing | TcpState::LastAck => Resent::Fin,
        _ => Resent::Data,
    }
}

/// netstat's spelling of a state (a request socket is SYN_RECV there).
fn state_text(s: TcpState) -> &'static str {
    match s {
        TcpState::NewSynRecv => TcpState::SynRecv.info().netstat,
        s => s.info().netstat,
    }
}

fn point_text(p: Point) -> &'static str {
    match p {
        Point::New => "new",
        Point::Gone => "gone",
        Point::State(s) => state_text(s),
    }
}

fn resent_text(what: Resent) -> &'static str {
    match what {
        Resent::Syn => "SYN",
        Resent::SynAck => "SYN|ACK",
        Resent::Fin => "FIN",
        Resent::Data => "data",
    }
}

fn role_text(r: Role) -> &'static str {
    match r {
        Role::Client => "client",
        Role::Server => "server",
        Role::Listener => "listener",
        Role::Unknown => "unknown",
    }
}

/// The cell of the socket that changed.
fn cell(change: Change, count: u64) -> String {
    match change {
        Change::Move { old, new } => format!("{} -> {}", point_text(old), point_text(new)),
        Change::Resent { state, what, .. } => {
            format!(
                "{}, {} resent #{count}",
                state_text(state),
                resent_text(what)
            )
        }
    }
}

/// ANSI colour of a cell on a terminal: green for ESTABLISHED, red for
/// an end, yellow for the rest.
fn colour_of(change: Change) -> &'static str {
    match change {
        Change::Move {
            new: Point::State(TcpState::Established),
            ..
        } => "\x1b[1;32m",
        Change::Move {
            new: Point::Gone | Point::State(TcpState::Close),
            ..
        } => "\x1b[1;31m",
        _ => "\x1b[1;33m",
    }
}

impl<L: Lookup, W: Write> Printer<'_, L, W> {
    fn start(&mut self, source: &str, ms: u64, note: &str) -> Result<(), Error> {
        let mut b = Vec::new();
        if self.json {
            b.extend_from_slice(b"{\"type\":\"source\",\"source\":");
            json::push_str(&mut b, source.as_bytes());
            b.extend_from_slice(b",\"interval_ms\":");
            push_u64(&mut b, ms);
            b.extend_from_slice(b",\"note\":");
            json::push_str(&mut b, note.as_bytes());
            b.extend_from_slice(b"}\n");
        } else {
            b.extend_from_slice(note.as_bytes());
            b.push(b'\n');
            b.extend_from_slice(
                format!(
                    "{:<10} {:<5} {:<23} {:<23} Transition\n",
                    "Time(ms)", "Proto", "Local Address", "Foreign Address"
                )
                .as_bytes(),
            );
        }
        self.out.write_all(&b)?;
        self.out.flush()?;
        Ok(())
    }

    fn endpoint_text(&mut self, a: SocketAddr) -> String {
        let mut b = Vec::new();
        endpoint(
            &mut self.names,
            a.ip(),
            a.port(),
            ServiceProto::Tcp,
            self.wide,
            &mut b,
        );
        String::from_utf8_lossy(&b).into_owned()
    }

    fn annotation(&self, it: &Item, role: Role, count: u64) -> String {
        match it.change {
            Change::Move { old, new } => {
                transition::transition(old, new, role, it.seen, &self.hosts)
            }
            Change::Resent {
                state,
                what,
                refused,
            } => transition::retransmit(state, what, count, refused, role, &self.hosts),
        }
    }

    fn row(
        &mut self,
        it: &Item,
        role: Role,
        count: u64,
        ladder: Option<&Ladder>,
    ) -> Result<(), Error> {
        let note = if self.explain {
            Some(self.annotation(it, role, count))
        } else {
            None
        };
        let mut b = Vec::new();
        let ms = it.at_us as f64 / 1000.0;
        let proto = if it.v6 { "tcp6" } else { "tcp" };
        if self.json {
            json_row(&mut b, it, ms, proto, role, count, ladder, note.as_deref());
        } else {
            let cell_text = cell(it.change, count);
            let colour = self.colour;
            let paint = |s: &str, width: usize| -> String {
                let padded = format!("{s:<width$}");
                if colour {
                    let tail = &padded[s.len()..];
                    format!("{}{s}\x1b[0m{tail}", colour_of(it.change))
                } else {
                    padded
                }
            };
            match ladder {
                Some(l) => {
                    if !self.ladder_header {
                        self.ladder_header = true;
                        b.extend_from_slice(
                            format!(
                                "{:<10} {:<5} {:<23} {:<23} {:<25} | Server\n",
                                "Time(ms)", "Proto", "Client", "Server", "Client"
                            )
                            .as_bytes(),
                        );
                    }
                    let (client, server) = if l.client {
                        (it.key.0, it.key.1)
                    } else {
                        (it.key.1, it.key.0)
                    };
                    let (ct, st) = (self.endpoint_text(client), self.endpoint_text(server));
                    let (ccell, scell) = if l.client {
                        (paint(&cell_text, 25), l.peer.clone())
                    } else {
                        (format!("{:<25}", l.peer), paint(&cell_text, 0))
                    };
                    b.extend_from_slice(
                        format!("{ms:>10.3} {proto:<5} {ct:<23} {st:<23} {ccell} | {scell}")
                            .as_bytes(),
                    );
                    if let Some(n) = &note {
                        let side = if l.client { "client" } else { "server" };
                        b.extend_from_slice(format!("  {side}: {n}").as_bytes());
                    }
                }
                None => {
                    let (lt, ft) = (self.endpoint_text(it.key.0), self.endpoint_text(it.key.1));
                    b.extend_from_slice(
                        format!(
                            "{ms:>10.3} {proto:<5} {lt:<23} {ft:<23} {}",
                            paint(&cell_text, 0)
                        )
                        .as_bytes(),
                    );
                    if let Some(n) = &note {
                        b.extend_from_slice(format!("  {n}").as_bytes());
                    }
                }
            }
            b.push(b'\n');
        }
        self.out.write_all(&b)?;
        self.out.flush()?;
        Ok(())
    }
}

/// One row as a JSON object (the field names of man/rnetstat.8, WATCH).
#[allow(clippy::too_many_arguments)]
fn json_row(
    b: &mut Vec<u8>,
    it: &Item,
    ms: f64,
    proto: &str,
    role: Role,
    count: u64,
    ladder: Option<&Ladder>,
    note: Option<&str>,
) {
    let kind = match it.change {
        Change::Move { .. } => "transition",
        Change::Resent { .. } => "retransmit",
    };
    b.extend_from_slice(
        format!("{{\"type\":\"{kind}\",\"time_ms\":{ms:.3},\"proto\":\"{proto}\"").as_bytes(),
    );
    let addr = |b: &mut Vec<u8>, name: &str, a: SocketAddr| {
        b.extend_from_slice(format!(",\"{name}_address\":").as_bytes());
        json::push_str(b, json_ip(a.ip()).as_bytes());
        b.extend_from_slice(format!(",\"{name}_port\":{}", a.port()).as_bytes());
    };
    addr(b, "local", it.key.0);
    addr(b, "foreign", it.key.1);
    match it.change {
        Change::Move { old, new } => {
            b.extend_from_slice(
                format!(
                    ",\"old\":\"{}\",\"new\":\"{}\"",
                    point_text(old),
                    point_text(new)
                )
                .as_bytes(),
            );
        }
        Change::Resent {
            state,
            what,
            refused,
        } => {
            b.extend_from_slice(
                format!(
                    ",\"state\":\"{}\",\"what\":\"{}\",\"count\":{count},\"refused_locally\":{refused}",
                    state_text(state),
                    resent_text(what)
                )
                .as_bytes(),
            );
        }
    }
    b.extend_from_slice(format!(",\"role\":\"{}\"", role_text(role)).as_bytes());
    if let Change::Move { .. } = it.change {
        b.extend_from_slice(b",\"peer_state\":");
        match ladder.map(|l| l.peer.as_str()).filter(|p| *p != "-") {
            Some(p) => json::push_str(b, p.as_bytes()),
            None => b.extend_from_slice(b"null"),
        }
    }
    if let Some(n) = note {
        b.extend_from_slice(b",\"annotation\":");
        json::push_str(b, n.as_bytes());
    }
    b.extend_from_slice(b"}\n");
}

/// An address as the listings' JSON writes it (glibc's IPv6 text).
fn json_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => rnet_core::addr::ntop6(&a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn cells_read_as_the_spec_says() {
        let m = Change::Move {
            old: Point::State(TcpState::FinWait2),
            new: Point::State(TcpState::TimeWait),
        };
        assert_eq!(cell(m, 0), "FIN_WAIT2 -> TIME_WAIT");
        let g = Change::Move {
            old: Point::New,
            new: Point::State(TcpState::NewSynRecv),
        };
        assert_eq!(cell(g, 0), "new -> SYN_RECV");
        let r = Change::Resent {
            state: TcpState::SynSent,
            what: Resent::Syn,
            refused: true,
        };
        assert_eq!(cell(r, 2), "SYN_SENT, SYN resent #2");
    }

    #[test]
    fn v4_mapped_is_the_same_address() {
        assert!(same_ip(
            "::ffff:127.0.0.1".parse().unwrap(),
            "127.0.0.1".parse().unwrap()
        ));
        assert!(!same_ip(
            "::1".parse().unwrap(),
            "127.0.0.1".parse().unwrap()
        ));
    }

    fn watch_with(rows: &[(&str, &str, u8)]) -> Watch {
        let mut table = Table::default();
        for (l, r, st) in rows {
            table.rows.insert(
                (sa(l), sa(r)),
                Row {
                    state: StateCode::from(*st),
                    retransmits: 0,
                    v6: false,
                    mini: false,
                },
            );
        }
        let mut w = Watch {
            prog: "rnetstat".to_string(),
            src: TableSource {
                root: PathBuf::from("/nonexistent"),
                v4: true,
                v6: true,
                source: Source::Proc,
                bytecode: Vec::new(),
            },
            filter: Default::default(),
            start_us: 0,
            known: HashMap::new(),
            foreign: HashSet::new(),
            ours: HashSet::new(),
            foreign_connects: Vec::new(),
            queue: VecDeque::new(),
            table,
            netns: None,
            laddered: HashMap::new(),
        };
        w.adopt_table();
        w
    }

    #[test]
    fn roles_and_ladder_on_loopback() {
        let w = watch_with(&[
            ("127.0.0.1:5555", "0.0.0.0:0", 10),
            ("127.0.0.1:40000", "127.0.0.1:5555", 1),
            ("127.0.0.1:5555", "127.0.0.1:40000", 1),
        ]);
        let c = (sa("127.0.0.1:40000"), sa("127.0.0.1:5555"));
        let s = (c.1, c.0);
        assert_eq!(w.role_of(&c, TcpState::Established), Role::Client);
        assert_eq!(w.role_of(&s, TcpState::Established), Role::Server);
        let l = w.ladder_of(&c, Role::Client).expect("laddered");
        assert!(l.client);
        assert_eq!(l.peer, "ESTABLISHED");
        let l = w.ladder_of(&s, Role::Server).expect("laddered");
        assert!(!l.client);
        // A peer elsewhere: no ladder.
        let far = (sa("198.18.0.1:40000"), sa("198.18.0.2:5555"));
        assert!(w.ladder_of(&far, Role::Client).is_none());
    }

    #[test]
    fn a_held_row_waits_and_an_unproven_one_is_dropped() {
        let mut w = watch_with(&[("127.0.0.1:5555", "0.0.0.0:0", 10)]);
        let ev = |ts: u64, port: u16| Event {
            ts_us: ts,
            local: sa("127.0.0.1:5555"),
            remote: sa(&format!("127.0.0.1:{port}")),
            v6: false,
            kind: EventKind::State {
                old: TcpState::Listen,
                new: TcpState::SynRecv,
            },
            task: None,
        };
        // A handshake on our listener's port: ours or a twin's elsewhere.
        w.classify(ev(10, 40000), 0);
        w.classify(ev(20, 40001), 0);
        assert!(w.queue.iter().all(|i| i.ours.is_none()));
        // The second socket appears in the table: proven, but it waits
        // behind the first.
        w.table.rows.insert(
            (sa("127.0.0.1:5555"), sa("127.0.0.1:40001")),
            Row {
                state: StateCode::from(1),
                retransmits: 0,
                v6: false,
                mini: false,
            },
        );
        w.recheck();
        assert_eq!(w.queue[1].ours, Some(true));
        assert_eq!(w.queue[0].ours, None);
    }

    #[test]
    fn what_cannot_be_ours_is_foreign_without_the_table() {
        let mut w = watch_with(&[("127.0.0.1:5555", "0.0.0.0:0", 10)]);
        let key = (sa("198.18.0.1:40000"), sa("198.18.0.2:80"));
        // An existing socket nothing here follows.
        let est = EventKind::State {
            old: TcpState::Established,
            new: TcpState::FinWait1,
        };
        assert_eq!(w.decide_event(&key, est, None), Some(false));
        // A handshake where no listener of ours listens.
        let hs = EventKind::State {
            old: TcpState::Listen,
            new: TcpState::SynRecv,
        };
        assert_eq!(
            w.decide_event(&(sa("198.18.0.2:80"), sa("198.18.0.1:1")), hs, None),
            Some(false)
        );
        // A connect whose process is gone: not known yet.
        let c = EventKind::State {
            old: TcpState::Close,
            new: TcpState::SynSent,
        };
        assert_eq!(
            w.decide_event(&(sa("198.18.0.1:0"), sa("198.18.0.2:80")), c, None),
            None
        );
        // Its next event binds it; a foreign connect makes its socket foreign.
        w.foreign_connects
            .push((sa("198.18.0.2:80"), "198.18.0.1".parse().unwrap(), u64::MAX));
        let up = EventKind::State {
            old: TcpState::SynSent,
            new: TcpState::Established,
        };
        w.bind_connect(&key, up);
        assert!(w.foreign.contains(&key));
    }
}
