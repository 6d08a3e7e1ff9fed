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
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

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

/// The address family of a table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    /// IPv4 file (`tcp`).
    V4,
    /// IPv6 file (`tcp6`).
    V6,
}

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
    /// The `st` column, raw (TCP: see [`crate::tcp_state`]).
    pub state: u8,
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
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
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

/// Reads a table line by line into a reused buffer: streaming, so memory
/// stays flat whatever the number of sockets.
pub struct LineReader<R> {
    inner: BufReader<R>,
    buf: Vec<u8>,
    line_no: usize,
}

impl LineReader<File> {
    /// Opens a file with a buffer big enough for the kernel's page-sized reads.
    pub fn open(path: &Path) -> io::Result<Self> {
        Ok(LineReader::new(File::open(path)?))
    }
}

impl<R: Read> LineReader<R> {
    /// Wraps any reader (fixtures in tests).
    pub fn new(inner: R) -> Self {
        LineReader {
            inner: BufReader::with_capacity(64 * 1024, inner),
            buf: Vec::with_capacity(512),
            line_no: 0,
        }
    }

    /// The next line (without its newline) and its 1-based number, or
    /// `None` at end of file.
    pub fn next_line(&mut self) -> io::Result<Option<(&[u8], usize)>> {
        self.buf.clear();
        let n = self.inner.read_until(b'\n', &mut self.buf)?;
        if n == 0 {
            return Ok(None);
        }
        self.line_no += 1;
        let mut line: &[u8] = &self.buf;
        if let Some(l) = line.strip_suffix(b"\n") {
            line = l;
        }
        Ok(Some((line, self.line_no)))
    }
}

/// What a table reader yields for each data line.
pub type InetItem = Result<InetEntry, LineError>;

/// Streams the entries of an internet table: the header (line 1) is skipped,
/// each malformed (or blank) line is an `Err` and reading goes on.
pub struct InetReader<R> {
    lines: LineReader<R>,
}

impl InetReader<File> {
    /// Opens `/proc/net/<file>` (or its fixture).
    pub fn open(path: &Path) -> io::Result<Self> {
        Ok(InetReader::new(File::open(path)?))
    }
}

impl<R: Read> InetReader<R> {
    /// Wraps a reader.
    pub fn new(inner: R) -> Self {
        InetReader {
            lines: LineReader::new(inner),
        }
    }

    /// The next entry, `Ok(None)` at the end; I/O errors end the stream.
    pub fn next_entry(&mut self) -> io::Result<Option<InetItem>> {
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

/// Streams `/proc/net/unix`.
pub struct UnixReader<R> {
    lines: LineReader<R>,
    has_inode: bool,
}

impl UnixReader<File> {
    /// Opens the file.
    pub fn open(path: &Path) -> io::Result<Self> {
        Ok(UnixReader::new(File::open(path)?))
    }
}

impl<R: Read> UnixReader<R> {
    /// Wraps a reader.
    pub fn new(inner: R) -> Self {
        UnixReader {
            lines: LineReader::new(inner),
            has_inode: false,
        }
    }

    /// Whether the header named an `Inode` column (known after the first line).
    pub fn has_inode(&self) -> bool {
        self.has_inode
    }

    /// The next entry, `Ok(None)` at the end.
    pub fn next_entry(&mut self) -> io::Result<Option<Result<UnixEntry, LineError>>> {
        loop {
            match self.lines.next_line()? {
                None => return Ok(None),
                Some((line, 1)) => {
                    self.has_inode = line.windows(5).any(|w| w == b"Inode");
                    continue;
                }
                Some((line, no)) => return Ok(Some(parse_unix_line(line, no))),
            }
        }
    }
}

/// Reads an integer sysctl such as `net/ipv4/tcp_fin_timeout` under the
/// proc root (`sys/` is per network namespace for `net/`).
pub fn read_sysctl(root: &Path, name: &str) -> Option<i64> {
    let text = std::fs::read_to_string(root.join("sys").join(name)).ok()?;
    text.split_whitespace().next()?.parse().ok()
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

    fn read_all(text: &str) -> Vec<InetItem> {
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
        assert_eq!(listen.state, 0x0A);
        assert_eq!(listen.rx_queue, 2);
        assert_eq!(listen.inode, 158464);
        let req = v[1].as_ref().unwrap();
        assert_eq!(
            (req.state, req.timer, req.timer_ticks, req.retransmits),
            (3, 1, 0x151, 3)
        );
        assert_eq!(req.fields, 11);
        let syn = v[2].as_ref().unwrap();
        assert_eq!((syn.tx_queue, syn.retransmits), (1, 7));
        let tw = v[3].as_ref().unwrap();
        assert_eq!(
            (tw.state, tw.timer, tw.timer_ticks, tw.inode),
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
        assert_eq!(e.state, 0x0D);
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
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
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
