//! Streaming parsers for `/proc/net/{tcp,tcp6,udp,udp6,udplite,udplite6,raw,raw6,unix}`.
//!
//! Why by hand and not with the `procfs` crate: `procfs` 0.18 skips the
//! timer (`tr`, `tm->when`), `retrnsmt`, probes and the TCP tail (rto,
//! cwnd, ssthresh) that the annotations and `netstat -o` need, fails the
//! whole table on a state code it does not know, allocates a `String` per
//! line (about six times the cost of reading the file at 60,000 sockets)
//! and has no way to read a fixture tree for `/proc/net`. Here each line
//! is parsed in place from a reused byte buffer, short kernel lines (the
//! 12-field TIME_WAIT and request-socket lines) are accepted, extra fields
//! are ignored, and a malformed line is returned as an error for the caller
//! to report while the rest of the file is still read.

use crate::addr::{decode_v4, decode_v6, parse_hex_u32, parse_hex_u64};
use crate::tcp_state::StateCode;
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The environment variable that points every reader at a fixture tree
/// instead of `/proc` (it names the directory that stands for `/proc`).
pub const PROC_ROOT_ENV: &str = "RNET_PROC_ROOT";

/// The directory standing for `/proc`: `$RNET_PROC_ROOT` when set and not
/// empty, else `/proc`.
pub fn proc_root() -> PathBuf {
    match std::env::var_os(PROC_ROOT_ENV) {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => PathBuf::from("/proc"),
    }
}

/// An internet protocol with a `/proc/net` table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Proto {
    /// `/proc/net/tcp`, `tcp6`.
    Tcp,
    /// `/proc/net/udp`, `udp6`.
    Udp,
    /// `/proc/net/udplite`, `udplite6`.
    UdpLite,
    /// `/proc/net/raw`, `raw6`.
    Raw,
}

/// The address family of a table: IPv4 (`tcp`) or IPv6 (`tcp6`).
pub use crate::addr::Family;

impl Proto {
    /// The file name under `/proc/net` for this protocol and family.
    pub fn file_name(self, family: Family) -> &'static str {
        match (self, family) {
            (Proto::Tcp, Family::V4) => "tcp",
            (Proto::Tcp, Family::V6) => "tcp6",
            (Proto::Udp, Family::V4) => "udp",
            (Proto::Udp, Family::V6) => "udp6",
            (Proto::UdpLite, Family::V4) => "udplite",
            (Proto::UdpLite, Family::V6) => "udplite6",
            (Proto::Raw, Family::V4) => "raw",
            (Proto::Raw, Family::V6) => "raw6",
        }
    }

    /// The path of the table under a proc root.
    pub fn path(self, root: &Path, family: Family) -> PathBuf {
        root.join("net").join(self.file_name(family))
    }
}

/// The kind of timer in the `tr` column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerKind {
    /// 0: no timer pending.
    Off,
    /// 1: retransmission (also RTO, loss probe, SYN and SYN|ACK retries).
    Retransmit,
    /// 2: `sk_timer`: keepalive, or a long FIN_WAIT2 timeout.
    Keepalive,
    /// 3: the TIME_WAIT mini-socket timer (TIME_WAIT and orphaned FIN_WAIT2).
    TimeWait,
    /// 4: zero-window probe (also shown when local sends are refused).
    Probe,
    /// Any other value.
    Other(u8),
}

impl From<u8> for TimerKind {
    fn from(v: u8) -> Self {
        match v {
            0 => TimerKind::Off,
            1 => TimerKind::Retransmit,
            2 => TimerKind::Keepalive,
            3 => TimerKind::TimeWait,
            4 => TimerKind::Probe,
            o => TimerKind::Other(o),
        }
    }
}

/// One line of an internet socket table, with every field the kernel gives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InetEntry {
    /// Iteration index (`sl`); not stable between reads.
    pub slot: u64,
    /// Local address.
    pub local: IpAddr,
    /// Local port (for raw sockets, the IP protocol number).
    pub local_port: u16,
    /// Remote address.
    pub remote: IpAddr,
    /// Remote port.
    pub remote_port: u16,
    /// The `st` column: a TCP state number as [`crate::tcp_state`] knows
    /// it (UDP uses `ESTABLISHED` for a connected socket and `CLOSE` for
    /// an unconnected one; raw sockets print the number), or the raw value
    /// of a code the table does not know.
    pub state: StateCode,
    /// `tx_queue`: TCP bytes not yet acknowledged (UDP: memory in bytes).
    pub tx_queue: u64,
    /// `rx_queue`: TCP bytes not yet read (LISTEN: connections waiting for `accept()`).
    pub rx_queue: u64,
    /// Raw `tr` column.
    pub timer: u8,
    /// `tm->when`: time to expiry in USER_HZ ticks (1/100 s).
    pub timer_ticks: u64,
    /// `retrnsmt`: retransmissions (request sockets: SYN|ACKs resent).
    pub retransmits: u64,
    /// Owner's uid (0 if the line is short).
    pub uid: u32,
    /// The `timeout` column: unanswered zero-window or keepalive probes.
    pub probes: i64,
    /// Socket inode; 0 for TIME_WAIT, request sockets and children not yet accepted.
    pub inode: u64,
    /// Fields found on the line, counting up to `inode` plus one if more follow.
    pub fields: usize,
}

impl InetEntry {
    /// The timer kind.
    pub fn timer_kind(&self) -> TimerKind {
        TimerKind::from(self.timer)
    }
}

/// Why a line could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineError {
    /// 1-based line number in the file.
    pub line: usize,
    /// The field that was missing or malformed.
    pub field: &'static str,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}: bad or missing field `{}'",
            self.line, self.field
        )
    }
}

impl std::error::Error for LineError {}

/// Splits on ASCII blanks without allocating.
fn fields(line: &[u8]) -> Fields<'_> {
    Fields { rest: line }
}

/// Iterator over the blank-separated fields of a line.
struct Fields<'a> {
    rest: &'a [u8],
}

fn is_blank(b: u8) -> bool {
    // C's isspace(), as net-tools' sscanf() splits.
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c')
}

impl<'a> Iterator for Fields<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let start = self.rest.iter().position(|b| !is_blank(*b))?;
        let rest = &self.rest[start..];
        let end = rest.iter().position(|b| is_blank(*b)).unwrap_or(rest.len());
        self.rest = &rest[end..];
        Some(&rest[..end])
    }
}

fn parse_dec_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let mut v: u64 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(v)
}

fn parse_dec_i64(s: &[u8]) -> Option<i64> {
    match s.split_first() {
        Some((b'-', rest)) => parse_dec_u64(rest)
            .and_then(|v| i64::try_from(v).ok())
            .map(|v| -v),
        _ => parse_dec_u64(s).and_then(|v| i64::try_from(v).ok()),
    }
}

fn split_once(s: &[u8], sep: u8) -> Option<(&[u8], &[u8])> {
    let i = s.iter().position(|b| *b == sep)?;
    Some((&s[..i], &s[i + 1..]))
}

fn parse_endpoint(s: &[u8]) -> Option<(IpAddr, u16)> {
    let (addr, port) = split_once(s, b':')?;
    let port = u16::try_from(parse_hex_u32(port)?).ok()?;
    // net-tools: more than 8 hex digits means IPv6.
    let ip = if addr.len() > 8 {
        IpAddr::V6(decode_v6(addr)?)
    } else {
        IpAddr::V4(decode_v4(addr)?)
    };
    Some((ip, port))
}

/// Parses one data line of an internet table (not the header).
///
/// The first seven fields (`sl` through `retrnsmt`) are required, as in
/// net-tools; `uid`, `timeout` and `inode` default to 0 when a line ends
/// early, and anything after them is optional.
pub fn parse_inet_line(line: &[u8], line_no: usize) -> Result<InetEntry, LineError> {
    let err = |field| LineError {
        line: line_no,
        field,
    };
    let mut it = fields(line);
    let sl = it.next().ok_or(err("sl"))?;
    let slot = sl
        .strip_suffix(b":")
        .and_then(parse_dec_u64)
        .ok_or(err("sl"))?;
    let (local, local_port) = it
        .next()
        .and_then(parse_endpoint)
        .ok_or(err("local_address"))?;
    let (remote, remote_port) = it
        .next()
        .and_then(parse_endpoint)
        .ok_or(err("rem_address"))?;
    if local.is_ipv4() != remote.is_ipv4() {
        return Err(err("rem_address"));
    }
    let state = it
        .next()
        .and_then(parse_hex_u32)
        .and_then(|v| u8::try_from(v).ok())
        .map(StateCode::from)
        .ok_or(err("st"))?;
    let (tx, rx) = it
        .next()
        .and_then(|f| split_once(f, b':'))
        .ok_or(err("tx_queue:rx_queue"))?;
    let tx_queue = parse_hex_u64(tx).ok_or(err("tx_queue"))?;
    let rx_queue = parse_hex_u64(rx).ok_or(err("rx_queue"))?;
    let (tr, when) = it
        .next()
        .and_then(|f| split_once(f, b':'))
        .ok_or(err("tr:tm->when"))?;
    let timer = parse_hex_u32(tr)
        .and_then(|v| u8::try_from(v).ok())
        .ok_or(err("tr"))?;
    let timer_ticks = parse_hex_u64(when).ok_or(err("tm->when"))?;
    let retransmits = it.next().and_then(parse_hex_u64).ok_or(err("retrnsmt"))?;
    let mut total = 7;
    let mut opt_field = || it.next().inspect(|_| total += 1);
    let uid = match opt_field() {
        None => 0,
        Some(f) => parse_dec_u64(f)
            .and_then(|v| u32::try_from(v).ok())
            .ok_or(err("uid"))?,
    };
    let probes = match opt_field() {
        None => 0,
        Some(f) => parse_dec_i64(f).ok_or(err("timeout"))?,
    };
    let inode = match opt_field() {
        None => 0,
        Some(f) => parse_dec_u64(f).ok_or(err("inode"))?,
    };
    // The rest (refcount, pointer, rto, ato, quick/pingpong, cwnd,
    // ssthresh; UDP: ref, pointer, drops) is not used: it is not split, so
    // a line costs only what the printed columns need.
    if it.next().is_some() {
        total += 1;
    }
    Ok(InetEntry {
        slot,
        local,
        local_port,
        remote,
        remote_port,
        state,
        tx_queue,
        rx_queue,
        timer,
        timer_ticks,
        retransmits,
        uid,
        probes,
        inode,
        fields: total,
    })
}

/// The longest line accepted. The kernel's lines are short: tcp4 lines are
/// padded to 149 bytes, tcp6 lines are about 180, and a `unix` line is
/// about 60 bytes of fields plus a path of at most 108 bytes (`sun_path`).
/// 4 KiB is twenty times the longest of them, and also the width of the
/// one page a `seq_file` record must fit in; a longer line is not one the
/// kernel wrote.
pub const MAX_LINE: usize = 4096;

/// The most bytes read from one table: 256 MiB. A machine with 1,000,000
/// sockets writes about 150 MB of `/proc/net/tcp` (150 bytes a line);
/// real machines stay far below that, while `/dev/zero` or a runaway file
/// would otherwise be read until memory or patience runs out.
pub const MAX_TABLE_BYTES: u64 = 256 << 20;

/// The most time spent inside `read()` on one table: the kernel writes the
/// 256 MiB above in a few seconds (about 1 µs a socket), so 30 s is only
/// reached by a file that trickles (a FUSE or network file). The time
/// spent between reads (name lookups, a slow stdout) does not count. One
/// read of a regular file that never returns cannot be bounded this way;
/// FIFOs, the only local files that do that, are refused before they are
/// read (see [`open_table`]).
pub const MAX_READ_TIME: Duration = Duration::from_secs(30);

/// The read size of a table: big enough for many of the kernel's
/// page-sized reads of seq files at once.
const READ_BUF: usize = 64 * 1024;

/// The read size of [`InetReader::open_head`]: one page.
const HEAD_BUF: usize = 4096;

/// What may be read from one table. Outside this crate every reader has
/// [`Limits::KERNEL`]; the unit tests below use smaller ones to reach each
/// limit quickly, which is why the type is not public.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Longest line, newline excluded.
    pub(crate) max_line: usize,
    /// Total bytes.
    pub(crate) max_bytes: u64,
    /// Total time inside `read()`.
    pub(crate) max_time: Duration,
}

impl Limits {
    /// The limits for kernel tables: [`MAX_LINE`], [`MAX_TABLE_BYTES`],
    /// [`MAX_READ_TIME`].
    pub(crate) const KERNEL: Limits = Limits {
        max_line: MAX_LINE,
        max_bytes: MAX_TABLE_BYTES,
        max_time: MAX_READ_TIME,
    };
}

/// Why a `/proc` file is not read (or not read to its end): it is not what
/// the kernel provides there. Carried inside an [`io::Error`] of kind
/// `InvalidData`; [`refusal`] finds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Not a regular file (`/proc` tables are regular files of size 0);
    /// the text names the kind: "a FIFO", "a directory", ...
    NotRegular(&'static str),
    /// A regular file larger than [`MAX_TABLE_BYTES`] (its size).
    TooLarge(u64),
    /// A line longer than [`MAX_LINE`] (its 1-based number, the limit).
    LongLine(usize, usize),
    /// More than [`MAX_TABLE_BYTES`] bytes came out of it (the limit).
    TooManyBytes(u64),
    /// More than [`MAX_READ_TIME`] was spent reading it (the limit).
    TooSlow(Duration),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NotRegular(kind) => write!(f, "{kind}, not a kernel table; skipped"),
            Refusal::TooLarge(size) => write!(
                f,
                "{size} bytes, larger than any kernel table; skipped"
            ),
            Refusal::LongLine(line, max) => write!(
                f,
                "line {line} is longer than {max} bytes, not a kernel table; rest of the file skipped"
            ),
            Refusal::TooManyBytes(max) => write!(
                f,
                "more than {max} bytes, larger than any kernel table; rest of the file skipped"
            ),
            Refusal::TooSlow(t) => write!(
                f,
                "still not read after {} s; rest of the file skipped",
                t.as_secs()
            ),
        }
    }
}

impl std::error::Error for Refusal {}

impl From<Refusal> for io::Error {
    fn from(r: Refusal) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, r)
    }
}

/// The [`Refusal`] inside an error from [`open_table`] or a reader, if the
/// error is one.
pub fn refusal(e: &io::Error) -> Option<&Refusal> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<Refusal>())
}

fn file_kind(t: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

fn check_meta(meta: &std::fs::Metadata) -> Result<(), Refusal> {
    if !meta.file_type().is_file() {
        return Err(Refusal::NotRegular(file_kind(meta.file_type())));
    }
    // /proc files say 0; only a file that is not one can be this large.
    if meta.len() > MAX_TABLE_BYTES {
        return Err(Refusal::TooLarge(meta.len()));
    }
    Ok(())
}

/// Opens a `/proc` file (or its stand-in under `$RNET_PROC_ROOT`) for
/// reading, refusing anything the kernel does not put there. `/proc`
/// tables are regular files of size 0, so "is a regular file" is the test,
/// not the size.
///
/// The type is checked with `stat` before the file is opened, so a FIFO
/// (where `open` would wait for a writer), a directory or a device (where
/// `open` itself can act, as a watchdog or tape device does) is never
/// opened. A symbolic link is followed (a fixture tree may link to a
/// captured table; `/proc/net` itself is a link to `self/net`) and judged
/// by its target. The open uses `O_NONBLOCK | O_NOCTTY`, so a FIFO put in
/// place between the two steps cannot block it, and the opened file is
/// checked again with `fstat`. A refusal is an `InvalidData` error
/// holding a [`Refusal`]; a missing file is `NotFound`, as from `open`.
pub fn open_table(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    check_meta(&std::fs::metadata(path)?)?;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    check_meta(&file.metadata()?)?;
    Ok(file)
}

/// Reads a table line by line into a reused buffer: streaming, so memory
/// stays flat whatever the number of sockets, and bounded: a line is never
/// held beyond [`MAX_LINE`] bytes (so `/dev/zero` costs 4 KiB, not all
/// memory), and the file stops after [`MAX_TABLE_BYTES`] or
/// [`MAX_READ_TIME`].
/// After a refusal (returned once, as an error holding a [`Refusal`]) the
/// reader reports end of file.
pub struct LineReader<R> {
    inner: R,
    /// Read buffer and its unread part `buf[pos..end]`.
    buf: Box<[u8]>,
    pos: usize,
    end: usize,
    /// A line that spans reads is gathered here.
    line: Vec<u8>,
    line_no: usize,
    total: u64,
    read_time: Duration,
    limits: Limits,
    done: bool,
}

/// The index of the first newline: eight bytes at a time, as the reader's
/// hot loop (a byte-by-byte search cost a fifth of a `-nat` listing).
fn find_newline(s: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    const NL: u64 = LO * b'\n' as u64;
    let mut chunks = s.chunks_exact(8);
    let mut at = 0;
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        // A zero byte where the newlines were; the lowest flag is exact.
        let x = u64::from_le_bytes(w) ^ NL;
        let found = x.wrapping_sub(LO) & !x & HI;
        if found != 0 {
            return Some(at + (found.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|b| *b == b'\n')
        .map(|p| at + p)
}

/// One `read`, retried on EINTR, its time added to `spent`.
fn timed_read<R: Read>(inner: &mut R, buf: &mut [u8], spent: &mut Duration) -> io::Result<usize> {
    loop {
        let start = Instant::now();
        let r = inner.read(buf);
        *spent += start.elapsed();
        match r {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

impl LineReader<File> {
    /// Opens a file with [`open_table`].
    pub fn open(path: &Path) -> io::Result<Self> {
        Ok(LineReader::new(open_table(path)?))
    }
}

impl<R: Read> LineReader<R> {
    /// Wraps any reader (fixtures in tests), with the kernel limits.
    pub fn new(inner: R) -> Self {
        LineReader::with_limits(inner, Limits::KERNEL)
    }

    /// Wraps a reader with other limits (for the tests).
    pub(crate) fn with_limits(inner: R, limits: Limits) -> Self {
        LineReader::with_buffer(inner, limits, READ_BUF)
    }

    /// With a read buffer of `size` bytes.
    fn with_buffer(inner: R, limits: Limits, size: usize) -> Self {
        LineReader {
            inner,
            buf: vec![0u8; size.max(1)].into_boxed_slice(),
            pos: 0,
            end: 0,
            line: Vec::with_capacity(512),
            line_no: 0,
            total: 0,
            read_time: Duration::ZERO,
            limits,
            done: false,
        }
    }

    fn refuse(&mut self, r: Refusal) -> io::Error {
        self.done = true;
        self.line.clear();
        r.into()
    }

    /// Refills the buffer; `Ok(0)` at end of file.
    fn fill(&mut self) -> io::Result<usize> {
        let room = usize::try_from(self.limits.max_bytes.saturating_sub(self.total))
            .unwrap_or(usize::MAX)
            .min(self.buf.len());
        // At the byte limit, read one byte more: a file of exactly the
        // limit is still whole.
        let mut probe = [0u8; 1];
        let target: &mut [u8] = if room == 0 {
            &mut probe
        } else {
            &mut self.buf[..room]
        };
        let n = match timed_read(&mut self.inner, target, &mut self.read_time) {
            Ok(n) => n,
            Err(e) => {
                self.done = true;
                return Err(e);
            }
        };
        if self.read_time > self.limits.max_time {
            return Err(self.refuse(Refusal::TooSlow(self.limits.max_time)));
        }
        if room == 0 && n > 0 {
            return Err(self.refuse(Refusal::TooManyBytes(self.limits.max_bytes)));
        }
        self.pos = 0;
        self.end = n;
        self.total += n as u64;
        Ok(n)
    }

    /// The next line (without its newline) and its 1-based number, or
    /// `None` at end of file (or after a refusal or read error).
    pub fn next_line(&mut self) -> io::Result<Option<(&[u8], usize)>> {
        if self.done {
            return Ok(None);
        }
        self.line.clear();
        loop {
            let avail = &self.buf[self.pos..self.end];
            if let Some(i) = find_newline(avail) {
                let (start, stop) = (self.pos, self.pos + i);
                self.pos = stop + 1;
                if self.line.len() + i > self.limits.max_line {
                    let no = self.line_no + 1;
                    return Err(self.refuse(Refusal::LongLine(no, self.limits.max_line)));
                }
                self.line_no += 1;
                if self.line.is_empty() {
                    // The whole line is in the buffer: no copy.
                    return Ok(Some((&self.buf[start..stop], self.line_no)));
                }
                self.line.extend_from_slice(&self.buf[start..stop]);
                return Ok(Some((&self.line, self.line_no)));
            }
            if self.line.len() + avail.len() > self.limits.max_line {
                let no = self.line_no + 1;
                return Err(self.refuse(Refusal::LongLine(no, self.limits.max_line)));
            }
            self.line.extend_from_slice(avail);
            self.pos = self.end;
            if self.fill()? == 0 {
                self.done = true;
                if self.line.is_empty() {
                    return Ok(None);
                }
                self.line_no += 1;
                return Ok(Some((&self.line, self.line_no)));
            }
        }
    }
}

/// Streams the entries of an internet table: the header (line 1) is skipped,
/// each malformed (or blank) line is an `Err` and reading goes on.
pub struct InetReader<R> {
    lines: LineReader<R>,
}

impl InetReader<File> {
    /// Opens `/proc/net/<file>` (or its fixture).
    pub fn open(path: &Path) -> io::Result<Self> {
        Ok(InetReader::new(open_table(path)?))
    }

    /// Opens a table for its first lines (TCP's listening section): reads
    /// of one page, so that the kernel formats and copies a page of lines
    /// at a time rather than [`READ_BUF`] of them.
    pub fn open_head(path: &Path) -> io::Result<Self> {
        Ok(InetReader {
            lines: LineReader::with_buffer(open_table(path)?, Limits::KERNEL, HEAD_BUF),
        })
    }
}

impl<R: Read> InetReader<R> {
    /// Wraps a reader.
    pub fn new(inner: R) -> Self {
        InetReader::with_limits(inner, Limits::KERNEL)
    }

    /// Wraps a reader with other limits (for the tests).
    pub(crate) fn with_limits(inner: R, limits: Limits) -> Self {
        InetReader {
            lines: LineReader::with_limits(inner, limits),
        }
    }

    /// The next data line: its entry, or an `Err` for a malformed line
    /// (reading goes on); `Ok(None)` at the end; I/O errors end the stream.
    pub fn next_entry(&mut self) -> io::Result<Option<Result<InetEntry, LineError>>> {
        loop {
            match self.lines.next_line()? {
                None => return Ok(None),
                Some((_, 1)) => continue,
                // A blank line is malformed too, as for net-tools.
                Some((line, no)) => return Ok(Some(parse_inet_line(line, no))),
            }
        }
    }
}

/// One line of `/proc/net/unix`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnixEntry {
    /// Reference count.
    pub refcount: u64,
    /// Protocol (always 0 on Linux).
    pub protocol: u64,
    /// Flags; 0x10000 (`__SO_ACCEPTCON`) means listening.
    pub flags: u64,
    /// Socket type: 1 STREAM, 2 DGRAM, 3 RAW, 4 RDM, 5 SEQPACKET.
    pub sock_type: u32,
    /// 1 unconnected, 2 connecting, 3 connected, 4 disconnecting.
    pub state: u32,
    /// The seventh field read as an inode (the kernel has printed an
    /// `Inode` column since 2.2; see [`UnixReader::has_inode`]).
    pub inode: Option<u64>,
    /// Bound path (abstract names start with `@`), up to the first blank.
    pub path: Option<Vec<u8>>,
}

/// Flag bit of a listening unix socket.
pub const UNIX_ACCEPTCON: u64 = 1 << 16;

/// Parses one data line of `/proc/net/unix`: `Num RefCount Protocol Flags
/// Type St Inode Path`. Six fields are required.
pub fn parse_unix_line(line: &[u8], line_no: usize) -> Result<UnixEntry, LineError> {
    let err = |field| LineError {
        line: line_no,
        field,
    };
    let mut it = fields(line);
    it.next()
        .filter(|f| f.ends_with(b":") && parse_hex_u64(&f[..f.len() - 1]).is_some())
        .ok_or(err("Num"))?;
    let refcount = it.next().and_then(parse_hex_u64).ok_or(err("RefCount"))?;
    let protocol = it.next().and_then(parse_hex_u64).ok_or(err("Protocol"))?;
    let flags = it.next().and_then(parse_hex_u64).ok_or(err("Flags"))?;
    let sock_type = it.next().and_then(parse_hex_u32).ok_or(err("Type"))?;
    let state = it.next().and_then(parse_hex_u32).ok_or(err("St"))?;
    // `%lu` in net-tools: a field that is not a number leaves it unset.
    let inode = it.next().and_then(parse_dec_u64);
    // sscanf stops at the first field that does not convert.
    let path = if inode.is_some() {
        it.next().map(<[u8]>::to_vec)
    } else {
        None
    };
    Ok(UnixEntry {
        refcount,
        protocol,
        flags,
        sock_type,
        state,
        inode,
        path,
    })
}

/// The name of a unix socket as `/proc/net/unix` prints it, from the bytes
/// of its `sun_path` as bound (as `NETLINK_SOCK_DIAG` reports them): the
/// kernel's `unix_seq_show` writes an abstract name (leading NUL) as `@`
/// and the rest, a path without its closing NUL, every NUL as `@`, and
/// every other byte raw, newlines included.
pub fn unix_printed_name(sun_path: &[u8]) -> Vec<u8> {
    let (lead, rest): (&[u8], &[u8]) = match sun_path.split_first() {
        None => (b"", b""),
        Some((0, rest)) => (b"@", rest),
        Some(_) => (b"", &sun_path[..sun_path.len() - 1]),
    };
    let mut v = Vec::with_capacity(sun_path.len());
    v.extend_from_slice(lead);
    v.extend(rest.iter().map(|b| if *b == 0 { b'@' } else { *b }));
    v
}

/// Where a reader of `/proc/net/unix` can learn the names the file cannot
/// tell apart: a name is printed raw, so a newline in it starts what looks
/// like a new line, and with the right bytes a whole forged row. The
/// kernel's own list (`NETLINK_SOCK_DIAG`) says how each name really ends.
pub trait UnixNames {
    /// The name `/proc/net/unix` prints for the socket with this inode
    /// (see [`unix_printed_name`]), when known.
    fn printed(&mut self, inode: u64) -> Option<&[u8]>;
}

/// No names known: every line is taken as a line, as net-tools does.
pub struct NoUnixNames;

impl UnixNames for NoUnixNames {
    fn printed(&mut self, _: u64) -> Option<&[u8]> {
        None
    }
}

/// The bytes of a line after its `k`-th blank-separated field and the one
/// space that follows it (where `/proc/net/unix` puts the name).
fn after_field(line: &[u8], k: usize) -> Option<&[u8]> {
    let mut rest = line;
    for _ in 0..k {
        let start = rest.iter().position(|b| !is_blank(*b))?;
        rest = &rest[start..];
        let end = rest.iter().position(|b| is_blank(*b)).unwrap_or(rest.len());
        rest = &rest[end..];
    }
    rest.strip_prefix(b" ")
}

/// Streams `/proc/net/unix`.
pub struct UnixReader<R> {
    lines: LineReader<R>,
    has_inode: bool,
    /// A line read to check a continuation that turned out not to be one.
    pending: Option<(Vec<u8>, usize)>,
}

impl UnixReader<File> {
    /// Opens the file.
    pub fn open(path: &Path) -> io::Result<Self> {
        Ok(UnixReader::new(open_table(path)?))
    }
}

impl<R: Read> UnixReader<R> {
    /// Wraps a reader.
    pub fn new(inner: R) -> Self {
        UnixReader {
            lines: LineReader::new(inner),
            has_inode: false,
            pending: None,
        }
    }

    /// Whether the header named an `Inode` column (known after the first line).
    pub fn has_inode(&self) -> bool {
        self.has_inode
    }

    /// The next entry, `Ok(None)` at the end; every line is an entry.
    pub fn next_entry(&mut self) -> io::Result<Option<Result<UnixEntry, LineError>>> {
        self.next_entry_with(&mut NoUnixNames)
    }

    /// The next entry, with the lines that continue a socket's name (a
    /// name holding newlines, as `names` knows it) taken as part of that
    /// socket's line instead of as rows of their own. Each continuation
    /// line must be exactly the next piece of the known name; at the first
    /// that is not, it is read as a line of its own (a socket that changed
    /// between the two reads).
    pub fn next_entry_with(
        &mut self,
        names: &mut dyn UnixNames,
    ) -> io::Result<Option<Result<UnixEntry, LineError>>> {
        loop {
            let (entry, tail) = {
                let (line, no) = match &self.pending {
                    Some((l, n)) => (&l[..], *n),
                    None => match self.lines.next_line()? {
                        None => return Ok(None),
                        Some(x) => x,
                    },
                };
                if no == 1 {
                    self.has_inode = line.windows(5).any(|w| w == b"Inode");
                    self.pending = None;
                    continue;
                }
                let entry = parse_unix_line(line, no);
                // The rest of the name, when this line holds only its first
                // piece. The kernel writes a blank and the name after the
                // inode; the piece may be empty or all blanks (a path that
                // starts with a newline), when `path` is `None`.
                let tail = match (&entry, after_field(line, 7)) {
                    (
                        Ok(UnixEntry {
                            inode: Some(inode), ..
                        }),
                        Some(first),
                    ) => names.printed(*inode).and_then(|full| {
                        full.strip_prefix(first)
                            .and_then(|t| t.strip_prefix(b"\n"))
                            .map(<[u8]>::to_vec)
                    }),
                    _ => None,
                };
                (entry, tail)
            };
            self.pending = None;
            if let Some(tail) = tail {
                for piece in tail.split(|b| *b == b'\n') {
                    match self.lines.next_line()? {
                        Some((l, _)) if l == piece => {}
                        Some((l, n)) => {
                            self.pending = Some((l.to_vec(), n));
                            break;
                        }
                        None => break,
                    }
                }
            }
            return Ok(Some(entry));
        }
    }
}

/// Reads an integer sysctl such as `net/ipv4/tcp_fin_timeout` under the
/// proc root (`sys/` is per network namespace for `net/`).
///
/// Opened with [`open_table`] and read up to 64 bytes (the kernel writes an
/// integer and a newline), so a FIFO or `/dev/zero` in its place is `None`
/// like a missing file, never a hang.
pub fn read_sysctl(root: &Path, name: &str) -> Option<i64> {
    let file = open_table(&root.join("sys").join(name)).ok()?;
    let mut text = Vec::with_capacity(64);
    file.take(64).read_to_end(&mut text).ok()?;
    std::str::from_utf8(&text)
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   2: 0100007F:15B3 00000000:0000 0A 00000000:00000002 00:00000000 00000000     0        0 158464 3 00000000085b7a62 100 0 0 10 0
   5: 0100007F:15B7 0100007F:D9B0 03 00000000:00000000 01:00000151 00000003     0        0 0 0 00000000b60d7b96
  16: 0100007F:984C 0100007F:15B5 02 00000001:00000000 01:000002EB 00000007     0        0 158484 2 00000000e12089d7 800 0 0 1 -1
  23: 0100007F:E4BA 0100007F:15B8 06 00000000:00000000 03:0000156E 00000000     0        0 0 3 000000006d8c15d3
";

    fn read_all(text: &str) -> Vec<Result<InetEntry, LineError>> {
        let mut r = InetReader::new(text.as_bytes());
        let mut v = Vec::new();
        while let Some(item) = r.next_entry().unwrap() {
            v.push(item);
        }
        v
    }

    #[test]
    fn parses_full_and_short_lines() {
        if cfg!(target_endian = "big") {
            return;
        }
        let v = read_all(TCP);
        assert_eq!(v.len(), 4);
        let listen = v[0].as_ref().unwrap();
        assert_eq!(listen.local, IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(listen.local_port, 5555);
        assert_eq!(listen.state.code(), 0x0A);
        assert_eq!(listen.rx_queue, 2);
        assert_eq!(listen.inode, 158464);
        let req = v[1].as_ref().unwrap();
        assert_eq!(
            (
                req.state.code(),
                req.timer,
                req.timer_ticks,
                req.retransmits
            ),
            (3, 1, 0x151, 3)
        );
        assert_eq!(req.fields, 11);
        let syn = v[2].as_ref().unwrap();
        assert_eq!((syn.tx_queue, syn.retransmits), (1, 7));
        let tw = v[3].as_ref().unwrap();
        assert_eq!(
            (tw.state.code(), tw.timer, tw.timer_ticks, tw.inode),
            (6, 3, 5486, 0)
        );
    }

    #[test]
    fn missing_trailing_fields_default_to_zero() {
        let e = parse_inet_line(
            b"0: 0100007F:15B3 00000000:0000 0A 00000000:00000000 00:00000000 00000000",
            2,
        )
        .unwrap();
        assert_eq!((e.uid, e.probes, e.inode, e.fields), (0, 0, 0, 7));
    }

    #[test]
    fn malformed_lines_are_errors_and_reading_goes_on() {
        let text = format!(
            "{}garbage\n 9: 0100007F:ZZZZ 00000000:0000 0A\n 7: 0100007F:15B3\n\n 8: 0100007F:15B3 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 1\n",
            TCP
        );
        let v = read_all(&text);
        assert_eq!(v.len(), 9);
        assert_eq!(v[4].as_ref().unwrap_err().field, "sl");
        assert_eq!(v[5].as_ref().unwrap_err().field, "local_address");
        assert_eq!(v[6].as_ref().unwrap_err().field, "rem_address");
        // A blank line is malformed, as net-tools reports it.
        assert_eq!(v[7].as_ref().unwrap_err().field, "sl");
        assert_eq!(v[8].as_ref().unwrap().inode, 1);
    }

    #[test]
    fn unknown_state_and_large_values_do_not_fail() {
        let e = parse_inet_line(
            b"0: 0100007F:15B3 00000000:0000 0D FFFFFFFF:FFFFFFFF 09:FFFFFFFF FFFFFFFF 4294967295 -5 18446744073709551615",
            2)
        .unwrap();
        assert_eq!(e.state, StateCode::Unknown(0x0D));
        assert_eq!(e.timer_kind(), TimerKind::Other(9));
        assert_eq!(e.probes, -5);
        // An inode beyond i64 is rejected rather than wrapped.
        assert!(parse_inet_line(
            b"0: 0100007F:15B3 00000000:0000 0A 0:0 0:0 0 0 0 99999999999999999999999",
            2
        )
        .is_err());
    }

    #[test]
    fn v6_lines_and_mixed_families() {
        let e = parse_inet_line(
            b"0: 00000000000000000000000000000000:15B4 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0",
            2)
        .unwrap();
        assert_eq!(e.local, IpAddr::V6(Ipv6Addr::UNSPECIFIED));
        assert!(parse_inet_line(
            b"0: 00000000000000000000000000000000:15B4 00000000:0000 0A 0:0 0:0 0",
            2
        )
        .is_err());
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // Deterministic pseudo-random lines: mutations of a real line and
        // plain noise. Every one must parse or be an error, never a panic.
        let base = b"   0: 0100007F:15B3 00000000:0000 0A 00000000:00000002 00:00000000 00000000     0        0 158464 3 0 100 0 0 10 0";
        let mut next = crate::num::xorshift64(0x2545_f491_4f6c_dd1d);
        for _ in 0..20_000 {
            let mut line = base.to_vec();
            for _ in 0..(next() % 6) {
                let i = (next() as usize) % line.len();
                match next() % 4 {
                    0 => line[i] = next() as u8,
                    1 => {
                        line.remove(i);
                    }
                    2 => line.insert(i, b"0123456789ABCDEF: -"[(next() % 19) as usize]),
                    _ => line.truncate(i),
                }
                if line.is_empty() {
                    break;
                }
            }
            let _ = parse_inet_line(&line, 2);
            let _ = parse_unix_line(&line, 2);
            let noise: Vec<u8> = (0..(next() % 200)).map(|_| next() as u8).collect();
            let _ = parse_inet_line(&noise, 2);
            let _ = parse_unix_line(&noise, 2);
        }
    }

    /// A reader that hands out its data in pieces of the sizes given, in turn.
    struct Chunked<'a> {
        data: &'a [u8],
        sizes: Vec<usize>,
        k: usize,
    }

    impl Read for Chunked<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let want = self.sizes[self.k % self.sizes.len()].max(1);
            self.k += 1;
            let n = want.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    /// An endless kernel-like table: a header, then the same line forever.
    struct Endless {
        header_left: &'static [u8],
        line: &'static [u8],
        at: usize,
    }

    impl Read for Endless {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let mut n = 0;
            while n < buf.len() {
                if !self.header_left.is_empty() {
                    buf[n] = self.header_left[0];
                    self.header_left = &self.header_left[1..];
                } else {
                    buf[n] = self.line[self.at];
                    self.at = (self.at + 1) % self.line.len();
                }
                n += 1;
            }
            Ok(n)
        }
    }

    fn limits(max_line: usize, max_bytes: u64, max_time: Duration) -> Limits {
        Limits {
            max_line,
            max_bytes,
            max_time,
        }
    }

    #[test]
    fn find_newline_agrees_with_a_plain_search() {
        let mut next = crate::num::xorshift64(7);
        for _ in 0..20_000 {
            let x = next();
            let len = (x % 40) as usize;
            let v: Vec<u8> = (0..len)
                .map(|i| [b'\n', b'a', 0x8a, 0x0b, 0xff, 0][((x >> (i % 60)) % 6) as usize])
                .collect();
            assert_eq!(
                find_newline(&v),
                v.iter().position(|b| *b == b'\n'),
                "{v:?}"
            );
        }
    }

    #[test]
    fn dev_zero_is_one_long_line_and_memory_stays_small() {
        let mut r = LineReader::new(io::repeat(0));
        let e = r.next_line().unwrap_err();
        assert_eq!(refusal(&e), Some(&Refusal::LongLine(1, MAX_LINE)));
        // Nothing beyond one read buffer and one line was held.
        assert!(r.line.capacity() <= MAX_LINE, "{}", r.line.capacity());
        assert!(r.total <= (64 * 1024 + MAX_LINE) as u64);
        // After the refusal: end of file, not the same error again.
        assert!(r.next_line().unwrap().is_none());
        assert!(e.to_string().contains("line 1 is longer than 4096 bytes"));
    }

    #[test]
    fn a_line_of_exactly_the_limit_is_read_one_more_is_not() {
        let ok = format!("h\n{}\nnext\n", "x".repeat(100));
        let mut r = LineReader::with_limits(ok.as_bytes(), limits(100, 1 << 20, MAX_READ_TIME));
        assert_eq!(r.next_line().unwrap().unwrap().1, 1);
        assert_eq!(r.next_line().unwrap().unwrap().0.len(), 100);
        assert_eq!(r.next_line().unwrap().unwrap().0, b"next");
        let bad = format!("h\n{}\nnext\n", "x".repeat(101));
        let mut r = LineReader::with_limits(bad.as_bytes(), limits(100, 1 << 20, MAX_READ_TIME));
        r.next_line().unwrap();
        let e = r.next_line().unwrap_err();
        assert_eq!(refusal(&e), Some(&Refusal::LongLine(2, 100)));
        // A long last line without a newline is caught too.
        let tail = format!("h\n{}", "x".repeat(101));
        let mut r = LineReader::with_limits(tail.as_bytes(), limits(100, 1 << 20, MAX_READ_TIME));
        r.next_line().unwrap();
        assert!(r.next_line().is_err());
    }

    #[test]
    fn an_endless_table_stops_at_the_byte_limit() {
        let line: &[u8] = b"   0: 0100007F:15B3 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0\n";
        let src = Endless {
            header_left: b"  sl  local_address rem_address\n",
            line,
            at: 0,
        };
        let mut r = InetReader::with_limits(src, limits(MAX_LINE, 100_000, MAX_READ_TIME));
        let mut rows = 0;
        let err = loop {
            match r.next_entry() {
                Ok(Some(Ok(_))) => rows += 1,
                Ok(Some(Err(e))) => panic!("{e}"),
                Ok(None) => panic!("ended"),
                Err(e) => break e,
            }
        };
        assert_eq!(refusal(&err), Some(&Refusal::TooManyBytes(100_000)));
        assert_eq!(rows, (100_000 - 32) / line.len());
        assert!(r.next_entry().unwrap().is_none());
        // A table of exactly the limit is whole.
        let text = TCP.to_string();
        let mut r = InetReader::with_limits(
            text.as_bytes(),
            limits(MAX_LINE, text.len() as u64, MAX_READ_TIME),
        );
        let mut n = 0;
        while let Some(item) = r.next_entry().unwrap() {
            item.unwrap();
            n += 1;
        }
        assert_eq!(n, 4);
    }

    #[test]
    fn a_trickling_table_stops_at_the_time_limit() {
        struct Slow;
        impl Read for Slow {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                std::thread::sleep(Duration::from_millis(20));
                buf[0] = b'x';
                buf[1] = b'\n';
                Ok(2)
            }
        }
        let start = Instant::now();
        let mut r =
            LineReader::with_limits(Slow, limits(MAX_LINE, 1 << 30, Duration::from_millis(100)));
        let err = loop {
            match r.next_line() {
                Ok(Some(_)) => {}
                Ok(None) => panic!("ended"),
                Err(e) => break e,
            }
        };
        assert!(matches!(refusal(&err), Some(Refusal::TooSlow(_))));
        assert!(start.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn open_table_refuses_what_the_kernel_does_not_put_in_proc() {
        use std::os::unix::fs::symlink;
        let dir = std::env::temp_dir().join(format!("rnet-core-open-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("adir")).unwrap();
        std::fs::write(dir.join("plain"), TCP).unwrap();
        symlink(dir.join("plain"), dir.join("link")).unwrap();
        symlink("/dev/zero", dir.join("zero")).unwrap();
        // mkfifo(3) without unsafe code: the mkfifo program.
        let made = std::process::Command::new("mkfifo")
            .arg(dir.join("fifo"))
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        let huge = std::fs::File::create(dir.join("huge")).unwrap();
        huge.set_len(MAX_TABLE_BYTES + 1).unwrap();
        let kind = |name: &str| -> Option<Refusal> {
            match open_table(&dir.join(name)) {
                Ok(_) => None,
                Err(e) => Some(
                    refusal(&e)
                        .cloned()
                        .unwrap_or_else(|| panic!("{name}: {e}")),
                ),
            }
        };
        assert_eq!(kind("plain"), None);
        assert_eq!(kind("link"), None);
        assert_eq!(
            kind("zero"),
            Some(Refusal::NotRegular("a character device"))
        );
        assert_eq!(kind("adir"), Some(Refusal::NotRegular("a directory")));
        assert_eq!(kind("huge"), Some(Refusal::TooLarge(MAX_TABLE_BYTES + 1)));
        if made {
            assert_eq!(kind("fifo"), Some(Refusal::NotRegular("a FIFO")));
        }
        assert_eq!(
            open_table(&dir.join("missing")).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        // read_sysctl treats them all as absent, at once.
        std::fs::create_dir_all(dir.join("sys/net")).unwrap();
        symlink("/dev/zero", dir.join("sys/net/zero")).unwrap();
        std::fs::write(dir.join("sys/net/ok"), "60\n").unwrap();
        assert_eq!(read_sysctl(&dir, "net/zero"), None);
        assert_eq!(read_sysctl(&dir, "net/ok"), Some(60));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn any_chunking_and_any_limits_give_the_same_lines_or_one_refusal() {
        // Seeded: tables of random lines (some long, some without a final
        // newline) read through random read sizes and random limits. The
        // lines must be exactly those of a plain split, up to a refusal
        // that matches the limits; a line is never held beyond the limit.
        let mut next = crate::num::xorshift64(0x9e37_79b9_7f4a_7c15);
        for _ in 0..2_000 {
            let mut data = Vec::new();
            for _ in 0..(next() % 20) {
                let len = match next() % 8 {
                    0 => (next() % 400) as usize,
                    _ => (next() % 60) as usize,
                };
                data.extend((0..len).map(|_| b"ab \t\x1b\0xyz"[(next() % 9) as usize]));
                data.push(b'\n');
            }
            if next().is_multiple_of(3) {
                data.pop();
            }
            let max_line = 1 + (next() % 300) as usize;
            let max_bytes = if next().is_multiple_of(2) {
                u64::MAX
            } else {
                next() % (data.len() as u64 + 2)
            };
            let sizes: Vec<usize> = (0..1 + next() % 5)
                .map(|_| 1 + (next() % 97) as usize)
                .collect();
            let src = Chunked {
                data: &data,
                sizes,
                k: 0,
            };
            let mut r = LineReader::with_limits(src, limits(max_line, max_bytes, MAX_READ_TIME));
            let mut want = data.split(|b| *b == b'\n').collect::<Vec<_>>();
            if data.last() == Some(&b'\n') || data.is_empty() {
                want.pop();
            }
            let mut got = 0;
            loop {
                match r.next_line() {
                    Ok(Some((line, no))) => {
                        assert_eq!(line, want[got]);
                        assert_eq!(no, got + 1);
                        assert!(line.len() <= max_line);
                        got += 1;
                    }
                    Ok(None) => {
                        assert_eq!(got, want.len());
                        assert!(data.len() as u64 <= max_bytes);
                        break;
                    }
                    Err(e) => {
                        match refusal(&e).unwrap() {
                            Refusal::LongLine(no, m) => {
                                assert_eq!(*m, max_line);
                                assert_eq!(*no, got + 1);
                                assert!(want[got].len() > max_line);
                            }
                            Refusal::TooManyBytes(m) => {
                                assert_eq!(*m, max_bytes);
                                assert!(data.len() as u64 > max_bytes);
                            }
                            other => panic!("{other:?}"),
                        }
                        assert!(r.next_line().unwrap().is_none());
                        break;
                    }
                }
                assert!(r.line.len() <= max_line);
            }
        }
    }

    #[test]
    fn unix_names_as_the_kernel_prints_them() {
        assert_eq!(unix_printed_name(b"/run/x.sock\0"), b"/run/x.sock");
        assert_eq!(unix_printed_name(b"\0abs\0x\n"), b"@abs@x\n");
        assert_eq!(unix_printed_name(b"\0"), b"@");
        assert_eq!(unix_printed_name(b""), b"");
        assert_eq!(
            after_field(b"0: 2 0 10000 1 1 19001 @a b", 7),
            Some(&b"@a b"[..])
        );
        assert_eq!(after_field(b"0: 2 0 10000 1 1 19001", 7), None);
    }

    struct Names(Vec<(u64, Vec<u8>)>);

    impl UnixNames for Names {
        fn printed(&mut self, inode: u64) -> Option<&[u8]> {
            self.0
                .iter()
                .find(|(i, _)| *i == inode)
                .map(|(_, n)| &n[..])
        }
    }

    #[test]
    fn a_newline_in_a_known_name_does_not_make_a_row() {
        let forged = "0000000000000000: 00000002 00000000 00010000 0001 01 99999 /forged";
        let text = format!(
            "Num       RefCount Protocol Flags    Type St Inode Path
0000000000000000: 00000002 00000000 00010000 0001 01 20001 @evil
{forged}
more
0000000000000000: 00000002 00000000 00000000 0002 01 20002 @plain
0000000000000000: 00000002 00000000 00000000 0002 01 20003 @gone
0000000000000000: 00000002 00000000 00000000 0002 01 20004 /next
0000000000000000: 00000002 00000000 00010000 0001 01 20005 \n{forged}
0000000000000000: 00000002 00000000 00010000 0001 01 20006  \t\n{forged}
"
        );
        let mut names = Names(vec![
            (20001, format!("@evil\n{forged}\nmore").into_bytes()),
            // A relative path that starts with a newline (or blanks and a
            // newline): the first line holds no name netstat would read.
            (20005, format!("\n{forged}").into_bytes()),
            (20006, format!(" \t\n{forged}").into_bytes()),
            // Known with a newline, but the next line is not its next piece
            // (the socket changed between the two reads): read as a line.
            (20003, b"@gone\nelsewhere".to_vec()),
        ]);
        let mut r = UnixReader::new(text.as_bytes());
        let mut inodes = Vec::new();
        while let Some(e) = r.next_entry_with(&mut names).unwrap() {
            let e = e.unwrap();
            inodes.push((e.inode.unwrap(), e.path));
        }
        let name = |n: &[u8]| Some(n.to_vec());
        assert_eq!(
            inodes,
            vec![
                (20001, name(b"@evil")),
                (20002, name(b"@plain")),
                (20003, name(b"@gone")),
                (20004, name(b"/next")),
                (20005, None),
                (20006, None),
            ]
        );
        // Without names every line is a line, as in net-tools: the forged
        // row is a row, `more` a bogus line.
        let mut r = UnixReader::new(text.as_bytes());
        let (mut rows, mut bogus) = (0, 0);
        while let Some(e) = r.next_entry().unwrap() {
            if e.is_ok() {
                rows += 1;
            } else {
                bogus += 1;
            }
        }
        assert_eq!((rows, bogus), (9, 1));
    }

    #[test]
    fn unix_lines() {
        let text = "Num       RefCount Protocol Flags    Type St Inode Path
0000000000000000: 00000002 00000000 00010000 0001 01 19001 /run/systemd/notify
0000000000000000: 00000003 00000000 00000000 0001 03 1125
0000000000000000: 00000002 00000000 00000000 0002 01 20 @abstract name
bogus
";
        let mut r = UnixReader::new(text.as_bytes());
        let a = r.next_entry().unwrap().unwrap().unwrap();
        assert!(r.has_inode());
        assert_eq!(a.flags & UNIX_ACCEPTCON, UNIX_ACCEPTCON);
        assert_eq!(a.inode, Some(19001));
        assert_eq!(a.path.as_deref(), Some(&b"/run/systemd/notify"[..]));
        let b = r.next_entry().unwrap().unwrap().unwrap();
        assert_eq!((b.state, b.path.clone()), (3, None));
        let c = r.next_entry().unwrap().unwrap().unwrap();
        assert_eq!(c.path.as_deref(), Some(&b"@abstract"[..]));
        assert!(r.next_entry().unwrap().unwrap().is_err());
        assert!(r.next_entry().unwrap().is_none());
    }
}
