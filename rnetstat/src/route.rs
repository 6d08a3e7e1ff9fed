//! `netstat -r`: the kernel routing tables, `/proc/net/route` (IPv4) and
//! `/proc/net/ipv6_route` (`-6`, `-A inet6`), laid out as net-tools 2.10.
//!
//! The families come from `-A`/`-4`/`-6`/`-x` in the order given (IPv4
//! when none); each is printed in turn. `-e` picks the columns: none gives
//! MSS/Window/irtt, `-e` Metric/Ref/Use, `-ee` both (net-tools swaps the
//! first two). Without `-n` (or `-N`, which net-tools also takes as
//! numeric here) IPv4 destinations are looked up in the networks database
//! (hosts for host routes), `0.0.0.0/0` is `default`, gateways in the
//! hosts database; IPv6 addresses through `getnameinfo`, `::` is `[::]`.

use crate::cli::Options;
use crate::error::{Error, ExitStatus};
use crate::names::{fix_v4_mapped, Lookup};
use rnet_core::addr::ntop6;
use rnet_core::os::strerror_text;
use rnet_core::procnet::LineReader;
use std::io::Write;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;

const RTF_UP: u32 = 0x0001;
const RTF_GATEWAY: u32 = 0x0002;
const RTF_HOST: u32 = 0x0004;
const RTF_REINSTATE: u32 = 0x0008;
const RTF_DYNAMIC: u32 = 0x0010;
const RTF_MODIFIED: u32 = 0x0020;
const RTF_MTU: u32 = 0x0040;
const RTF_WINDOW: u32 = 0x0080;
const RTF_IRTT: u32 = 0x0100;
const RTF_REJECT: u32 = 0x0200;
const RTF_NOTCACHED: u32 = 0x0400;
const RTF_DEFAULT: u32 = 0x0001_0000;
const RTF_ALLONLINK: u32 = 0x0002_0000;
const RTF_ADDRCONF: u32 = 0x0004_0000;
const RTF_NONEXTHOP: u32 = 0x0020_0000;
const RTF_EXPIRES: u32 = 0x0040_0000;
const RTF_CACHE: u32 = 0x0100_0000;
const RTF_FLOW: u32 = 0x0200_0000;
const RTF_POLICY: u32 = 0x0400_0000;
const RTF_LOCAL: u32 = 0x8000_0000;

/// A small `sscanf`: conversions over one line, each skipping leading
/// white space; a failed conversion ends the scan.
struct Scan<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Scan<'a> {
    fn new(s: &'a [u8]) -> Self {
        Scan { s, pos: 0 }
    }

    fn skip_ws(&mut self) {
        while self.pos < self.s.len() && self.s[self.pos].is_ascii_whitespace()
            || self.pos < self.s.len() && self.s[self.pos] == 0x0b
        {
            self.pos += 1;
        }
    }

    /// `%Ns` (`width` 0: unlimited).
    fn string(&mut self, width: usize) -> Option<&'a [u8]> {
        self.skip_ws();
        let start = self.pos;
        while self.pos < self.s.len()
            && !(self.s[self.pos].is_ascii_whitespace() || self.s[self.pos] == 0x0b)
            && (width == 0 || self.pos - start < width)
        {
            self.pos += 1;
        }
        (self.pos > start).then(|| &self.s[start..self.pos])
    }

    /// `%X`/`%Nx` (`width` 0: unlimited): optional sign and `0x`, hex
    /// digits; the value truncated to 32 bits as a C `unsigned int`.
    fn hex(&mut self, width: usize) -> Option<u32> {
        self.number(16, width).map(|v| v as u32)
    }

    /// `%d`: a C `int` from `strtol`'s value.
    fn dec(&mut self) -> Option<i32> {
        self.number(10, 0).map(|v| v as u32 as i32)
    }

    fn number(&mut self, radix: u32, width: usize) -> Option<u64> {
        self.skip_ws();
        let limit = if width == 0 {
            self.s.len()
        } else {
            (self.pos + width).min(self.s.len())
        };
        let mut i = self.pos;
        let mut neg = false;
        if i < limit && (self.s[i] == b'+' || self.s[i] == b'-') {
            neg = self.s[i] == b'-';
            i += 1;
        }
        if radix == 16
            && i + 1 < limit
            && self.s[i] == b'0'
            && (self.s[i + 1] | 0x20) == b'x'
            && i + 2 < limit
            && self.s[i + 2].is_ascii_hexdigit()
        {
            i += 2;
        }
        let start = i;
        let mut v: u64 = 0;
        let mut over = false;
        while i < limit {
            let Some(d) = (self.s[i] as char).to_digit(radix) else {
                break;
            };
            match v
                .checked_mul(u64::from(radix))
                .and_then(|x| x.checked_add(u64::from(d)))
            {
                Some(x) => v = x,
                None => over = true,
            }
            i += 1;
        }
        if i == start {
            return None;
        }
        self.pos = i;
        if radix == 10 {
            // strtol: saturates at the signed limits.
            let mag = if over { u64::MAX } else { v };
            let val: i64 = if neg {
                if mag > 1 << 63 {
                    i64::MIN
                } else {
                    (mag as i64).wrapping_neg()
                }
            } else if mag > i64::MAX as u64 {
                i64::MAX
            } else {
                mag as i64
            };
            return Some(val as u64);
        }
        let v = if over { u64::MAX } else { v };
        Some(if neg { v.wrapping_neg() } else { v })
    }
}

/// The columns of `/proc/net/route` net-tools asks for, in its order.
const ROUTE_TITLES: [&str; 11] = [
    "Iface",
    "Destination",
    "Gateway",
    "Flags",
    "RefCnt",
    "Use",
    "Metric",
    "Mask",
    "MTU",
    "Window",
    "IRTT",
];

/// net-tools' `proc_gen_fmt`: for each header word, the column it is (or
/// `None`: skipped), up to the last wanted title; `Err(title)` names the
/// first wanted title the header lacks.
fn header_format(header: &[u8]) -> Result<Vec<Option<usize>>, &'static str> {
    let mut fmt = Vec::new();
    let mut want = 0;
    let words = header
        .split(|b| b.is_ascii_whitespace() || *b == b'|' || *b == 0x0b)
        .filter(|w| !w.is_empty());
    for w in words {
        if w == ROUTE_TITLES[want].as_bytes() {
            fmt.push(Some(want));
            want += 1;
            if want == ROUTE_TITLES.len() {
                return Ok(fmt);
            }
        } else {
            fmt.push(None);
        }
    }
    Err(ROUTE_TITLES[want])
}

/// One row of `/proc/net/route` as net-tools' variables hold it (they
/// keep their values from the row before when a field is not read).
#[derive(Clone, Default)]
struct V4Row {
    iface: Vec<u8>,
    dest: Vec<u8>,
    gate: Vec<u8>,
    mask: Vec<u8>,
    flags: u32,
    refcnt: i32,
    use_: i32,
    metric: i32,
    mss: i32,
    window: i32,
    irtt: i32,
}

/// Scans one line into `row`; the number of fields read (`-1` for none).
fn scan_v4(line: &[u8], fmt: &[Option<usize>], row: &mut V4Row) -> i32 {
    let mut sc = Scan::new(line);
    let mut n = 0;
    for col in fmt {
        let Some(col) = col else {
            if sc.string(0).is_none() {
                return if n == 0 { -1 } else { n };
            }
            continue;
        };
        let ok = match col {
            0 => sc.string(15).map(|s| row.iface = s.to_vec()),
            1 => sc.string(127).map(|s| row.dest = s.to_vec()),
            2 => sc.string(127).map(|s| row.gate = s.to_vec()),
            3 => sc.hex(0).map(|v| row.flags = v),
            4 => sc.dec().map(|v| row.refcnt = v),
            5 => sc.dec().map(|v| row.use_ = v),
            6 => sc.dec().map(|v| row.metric = v),
            7 => sc.string(127).map(|s| row.mask = s.to_vec()),
            8 => sc.dec().map(|v| row.mss = v),
            9 => sc.dec().map(|v| row.window = v),
            _ => sc.dec().map(|v| row.irtt = v),
        };
        if ok.is_none() {
            sc.skip_ws();
            return if n == 0 && sc.pos >= line.len() {
                -1
            } else {
                n
            };
        }
        n += 1;
    }
    n
}

/// net-tools' `INET_getsock`: eight hex digits, byte by byte, as the
/// kernel prints the network-order word; `None` (address unchanged) when
/// they are not.
fn hex_v4(text: &[u8]) -> Option<Ipv4Addr> {
    if text.len() < 8 || !text[..8].iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    let mut b = [0u8; 4];
    // "010200C0" is 192.0.2.1: the last pair is the first byte.
    for (i, o) in b.iter_mut().rev().enumerate() {
        let s = std::str::from_utf8(&text[2 * i..2 * i + 2]).ok()?;
        *o = u8::from_str_radix(s, 16).ok()?;
    }
    Some(Ipv4Addr::from(b))
}

/// net-tools' `INET_rresolve`: `numeric` (-n/-N), `default_name` (its
/// 0x8000), `host` (its 0x4000), and the netmask.
fn v4_name<L: Lookup>(
    lookup: &mut L,
    a: Ipv4Addr,
    numeric: bool,
    default_name: bool,
    host: bool,
    netmask: u32,
) -> String {
    if numeric {
        return a.to_string();
    }
    let ad = u32::from_ne_bytes(a.octets());
    if ad == 0 {
        if netmask == 0 {
            return if default_name { "default" } else { "*" }.to_string();
        }
        return "0.0.0.0".to_string();
    }
    let name = if ad & !netmask != 0 || host {
        lookup.host_v4(a)
    } else {
        lookup.net_v4(a)
    };
    name.unwrap_or_else(|| a.to_string())
}

/// The first 15 bytes (net-tools cuts its buffers there).
fn cut15(s: &str) -> &[u8] {
    &s.as_bytes()[..s.len().min(15)]
}

fn pad(out: &mut Vec<u8>, s: &[u8], width: usize) {
    out.extend_from_slice(s);
    for _ in s.len()..width {
        out.push(b' ');
    }
}

fn v4_flags(f: u32) -> String {
    let mut s = String::new();
    if f & RTF_UP != 0 {
        s.push('U');
    }
    if f & RTF_GATEWAY != 0 {
        s.push('G');
    }
    if f & RTF_REJECT != 0 {
        s = "!".to_string();
    }
    for (bit, c) in [
        (RTF_HOST, 'H'),
        (RTF_REINSTATE, 'R'),
        (RTF_DYNAMIC, 'D'),
        (RTF_MODIFIED, 'M'),
        (RTF_DEFAULT, 'd'),
        (RTF_ALLONLINK, 'a'),
        (RTF_ADDRCONF, 'c'),
        (RTF_NONEXTHOP, 'o'),
        (RTF_EXPIRES, 'e'),
        (RTF_CACHE, 'c'),
        (RTF_FLOW, 'f'),
        (RTF_POLICY, 'p'),
        (RTF_LOCAL, 'l'),
        (RTF_MTU, 'u'),
        (RTF_WINDOW, 'w'),
        (RTF_IRTT, 'i'),
        (RTF_NOTCACHED, 'n'),
    ] {
        if f & bit != 0 {
            s.push(c);
        }
    }
    s
}

/// Opens a routing table (`path` under the proc root); when it cannot be
/// opened, says so as netstat does (`perror("/proc/net/NAME")`, then
/// "FAMILY not configured in this system.") and answers `None` (netstat
/// then returns 1).
fn open_table<W: Write>(
    path: &Path,
    family: &str,
    out: &mut W,
) -> Result<Option<LineReader<std::fs::File>>, Error> {
    match LineReader::open(path) {
        Ok(r) => Ok(Some(r)),
        Err(e) => {
            out.flush()?;
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            eprintln!("/proc/net/{name}: {}", strerror_text(&e));
            writeln!(out, "{family} not configured in this system.")?;
            Ok(None)
        }
    }
}

/// `rprint_fib`: the IPv4 table. `Ok(false)` when netstat returns 1.
fn fib_v4<L: Lookup, W: Write>(
    root: &Path,
    ext: u32,
    numeric: bool,
    lookup: &mut L,
    out: &mut W,
) -> Result<bool, Error> {
    let path = root.join("net/route");
    let Some(mut reader) = open_table(&path, "INET (IPv4)", out)? else {
        return Ok(false);
    };
    out.write_all(b"Kernel IP routing table\n")?;
    let head = "Destination     Gateway         Genmask         ";
    match ext {
        1 => writeln!(out, "{head}Flags Metric Ref    Use Iface")?,
        2 => writeln!(out, "{head}Flags   MSS Window  irtt Iface")?,
        3 => writeln!(
            out,
            "{head}Flags Metric Ref    Use Iface    MSS   Window irtt"
        )?,
        _ => {}
    }
    let header = match reader.next_line() {
        Ok(Some((l, _))) => l.to_vec(),
        _ => return Ok(false),
    };
    let fmt = match header_format(&header) {
        Ok(f) => f,
        Err(title) => {
            out.flush()?;
            eprintln!("warning: /proc/net/route does not contain required field {title}");
            return Ok(false);
        }
    };
    let mut row = V4Row::default();
    let (mut dest, mut gate, mut mask) = (
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
    );
    let mut line_out = Vec::with_capacity(160);
    loop {
        let line = match reader.next_line() {
            Ok(Some((l, _))) => l,
            Ok(None) => break,
            Err(e) => {
                out.flush()?;
                eprintln!("rnetstat: {}: {e}", path.display());
                break;
            }
        };
        let num = scan_v4(line, &fmt, &mut row);
        if num < 10 || row.flags & RTF_UP == 0 {
            continue;
        }
        if let Some(a) = hex_v4(&row.dest) {
            dest = a;
        }
        if let Some(a) = hex_v4(&row.gate) {
            gate = a;
        }
        if let Some(a) = hex_v4(&row.mask) {
            mask = a;
        }
        let netmask = u32::from_ne_bytes(mask.octets());
        let net_text = v4_name(
            lookup,
            dest,
            numeric,
            true,
            row.flags & RTF_HOST != 0,
            netmask,
        );
        let gate_text = v4_name(lookup, gate, numeric, false, true, 0xffff_ff00);
        let mask_text = mask.to_string();
        let flags = v4_flags(row.flags);
        let reject = row.flags & RTF_REJECT != 0;
        let o = &mut line_out;
        o.clear();
        pad(o, cut15(&net_text), 15);
        o.push(b' ');
        if reject {
            o.extend_from_slice(b"-               ");
        } else {
            pad(o, cut15(&gate_text), 15);
            o.push(b' ');
        }
        match ext {
            1..=3 => {
                pad(o, cut15(&mask_text), 15);
                o.push(b' ');
                pad(o, flags.as_bytes(), 5);
                o.push(b' ');
            }
            _ => {
                o.clear();
                continue;
            }
        }
        let tail = match (ext, reject) {
            (1, true) => format!("{:<6} -  {:>7} -\n", row.metric, row.use_),
            (1, false) => format!(
                "{:<6} {:<2} {:>7} {}\n",
                row.metric,
                row.refcnt,
                row.use_,
                String::from_utf8_lossy(&row.iface)
            ),
            (2, true) => "    - -          - -\n".to_string(),
            (_, true) => format!(
                "{:<6} -  {:>7} -        -     -      -\n",
                row.metric, row.use_
            ),
            (2, false) => format!(
                "{:>5} {:<5} {:>6} {}\n",
                row.mss,
                row.window,
                row.irtt,
                String::from_utf8_lossy(&row.iface)
            ),
            _ => {
                let iface = &row.iface[..row.iface.len().min(6)];
                format!(
                    "{:<6} {:<3} {:>6} {:<6}   {:<5} {:<6} {}\n",
                    row.metric,
                    row.refcnt,
                    row.use_,
                    String::from_utf8_lossy(iface),
                    row.mss,
                    row.window,
                    row.irtt
                )
            }
        };
        o.extend_from_slice(tail.as_bytes());
        out.write_all(o)?;
    }
    Ok(true)
}

/// `rprint_cache`: the IPv4 routing cache, which has had no entries since
/// Linux 3.6 (`/proc/net/rt_cache` is its header alone). `Ok(None)` when
/// the file holds entries, which rnetstat does not read.
fn cache_v4<W: Write>(root: &Path, ext: u32, out: &mut W) -> Result<Option<bool>, Error> {
    let path = root.join("net/rt_cache");
    let mut reader = match LineReader::open(&path) {
        Ok(r) => r,
        Err(e) => {
            out.flush()?;
            eprintln!("/proc/net/rt_cache: {}", strerror_text(&e));
            writeln!(out, "INET (IPv4) not configured in this system.")?;
            return Ok(Some(false));
        }
    };
    let header = match reader.next_line() {
        Ok(Some((l, _))) => l.to_vec(),
        _ => return Ok(None),
    };
    loop {
        match reader.next_line() {
            Ok(Some((l, _))) if l.iter().all(u8::is_ascii_whitespace) => {}
            Ok(None) => break,
            _ => return Ok(None),
        }
    }
    let has = |w: &[u8]| header.windows(w.len()).any(|x| x == w);
    let mut format = 0;
    for (word, bit) in [
        (&b"IRTT"[..], 1),
        (b"TOS", 2),
        (b"HHRef", 4),
        (b"HHUptod", 8),
        (b"SpecDst", 16),
        (b"HH", 32),
        (b"ARP", 64),
    ] {
        if has(word) {
            format |= bit;
        }
    }
    out.write_all(b"Kernel IP routing cache\n")?;
    if format != 63 && format != 97 {
        writeln!(
            out,
            "ERROR: proc_guess_fmt(/proc/net/rt_cache,... returned: {format}"
        )?;
    }
    let head = "Source          Destination     Gateway         ";
    match ext {
        1 => writeln!(out, "{head}Flags Metric Ref    Use Iface")?,
        2 => writeln!(out, "{head}Flags   MSS Window  irtt Iface")?,
        _ => {}
    }
    if ext >= 3 {
        if format == 97 {
            writeln!(
                out,
                "{head}Flags Metric Ref    Use Iface    MSS   Window irtt  HH  Arp"
            )?;
        } else if format == 63 {
            writeln!(
                out,
                "{head}Flags Metric Ref    Use Iface    MSS   Window irtt  TOS HHRef HHUptod     SpecDst"
            )?;
        }
    }
    Ok(Some(true))
}

/// net-tools' `INET6_sprint` for a route: numeric text, `[::]` for the
/// unspecified address, else `getnameinfo`'s name.
fn v6_name<L: Lookup>(lookup: &mut L, a: Ipv6Addr, numeric: bool) -> String {
    let text = if numeric {
        ntop6(&a)
    } else if a.is_unspecified() {
        "[::]".to_string()
    } else {
        lookup.host_v6(a).unwrap_or_else(|| ntop6(&a))
    };
    fix_v4_mapped(&text, &a).to_string()
}

/// The state net-tools keeps across the rows of `ipv6_route`.
#[derive(Default)]
struct V6Row {
    dest: [Vec<u8>; 8],
    src: [Vec<u8>; 8],
    next: [Vec<u8>; 8],
    prefix: u32,
    slen: u32,
    metric: u32,
    refcnt: u32,
    use_: u32,
    flags: u32,
    iface: Vec<u8>,
    dest_addr: Option<Ipv6Addr>,
    next_addr: Option<Ipv6Addr>,
}

fn scan_v6(line: &[u8], r: &mut V6Row) {
    let mut sc = Scan::new(line);
    macro_rules! s4 {
        ($arr:expr) => {
            for part in $arr.iter_mut() {
                match sc.string(4) {
                    Some(s) => *part = s.to_vec(),
                    None => return,
                }
            }
        };
    }
    s4!(r.dest);
    match sc.hex(2) {
        Some(v) => r.prefix = v,
        None => return,
    }
    s4!(r.src);
    match sc.hex(2) {
        Some(v) => r.slen = v,
        None => return,
    }
    s4!(r.next);
    for field in [&mut r.metric, &mut r.refcnt, &mut r.use_, &mut r.flags] {
        match sc.hex(8) {
            Some(v) => *field = v,
            None => return,
        }
    }
    if let Some(s) = sc.string(15) {
        r.iface = s.to_vec();
    }
}

fn join8(parts: &[Vec<u8>; 8]) -> String {
    let v: Vec<String> = parts
        .iter()
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    v.join(":")
}

fn v6_flags(f: u32) -> String {
    let mut s = String::new();
    for (bit, c) in [
        (RTF_UP, 'U'),
        (RTF_REJECT, '!'),
        (RTF_GATEWAY, 'G'),
        (RTF_HOST, 'H'),
        (RTF_DEFAULT, 'D'),
        (RTF_ADDRCONF, 'A'),
        (RTF_CACHE, 'C'),
        (RTF_ALLONLINK, 'a'),
        (RTF_EXPIRES, 'e'),
        (RTF_MODIFIED, 'm'),
        (RTF_NONEXTHOP, 'n'),
        (RTF_FLOW, 'f'),
    ] {
        if f & bit != 0 {
            s.push(c);
        }
    }
    s
}

/// `rprint_fib6`: the IPv6 table (every `-e` level looks the same).
fn fib_v6<L: Lookup, W: Write>(
    root: &Path,
    numeric: bool,
    cache: bool,
    lookup: &mut L,
    out: &mut W,
) -> Result<bool, Error> {
    let path = root.join("net/ipv6_route");
    let Some(mut reader) = open_table(&path, "INET6 (IPv6)", out)? else {
        return Ok(false);
    };
    if cache {
        out.write_all(b"Kernel IPv6 routing cache\n")?;
    } else {
        out.write_all(b"Kernel IPv6 routing table\n")?;
    }
    out.write_all(
        b"Destination                    Next Hop                   Flag Met Ref  Use If\n",
    )?;
    let mut r = V6Row::default();
    loop {
        let line = match reader.next_line() {
            Ok(Some((l, _))) => l,
            Ok(None) => break,
            Err(e) => {
                out.flush()?;
                eprintln!("rnetstat: {}: {e}", path.display());
                break;
            }
        };
        scan_v6(line, &mut r);
        // The table lists the routes, the cache (-C) the cached entries.
        if (r.flags & RTF_CACHE != 0) != cache {
            continue;
        }
        if let Ok(a) = join8(&r.dest).parse::<Ipv6Addr>() {
            r.dest_addr = Some(a);
        }
        if let Ok(a) = join8(&r.next).parse::<Ipv6Addr>() {
            r.next_addr = Some(a);
        }
        let dest = match r.dest_addr {
            Some(a) => v6_name(lookup, a, numeric),
            None => "[NONE SET]".to_string(),
        };
        let dest = format!("{dest}/{}", r.prefix as i32);
        let next = match r.next_addr {
            Some(a) => v6_name(lookup, a, numeric),
            None => "[NONE SET]".to_string(),
        };
        writeln!(
            out,
            "{dest:<30} {next:<26} {:<4} {:<3} {:<1} {:>6} {}",
            v6_flags(r.flags),
            r.metric as i32,
            r.refcnt as i32,
            r.use_ as i32,
            String::from_utf8_lossy(&r.iface)
        )?;
    }
    Ok(true)
}

/// What a family other than inet and inet6 does under `-r` on a system
/// without its `/proc` files: (stderr text, stdout text); `None` when the
/// files exist (rnetstat does not read those tables).
fn other_family(root: &Path, name: &str) -> Option<(String, String)> {
    let net = root.join("net");
    let missing = |f: &str| !net.join(f).exists();
    let nf = "No such file or directory";
    match name {
        "ax25" if missing("ax25_route") => Some((
            format!("/proc/net/ax25_route: {nf}\n"),
            "AX.25 not configured in this system.\n".into(),
        )),
        "ipx" if missing("ipx/route") && missing("ipx_route") => Some((
            format!("{nf}\n"),
            "IPX routing not in file /proc/net/ipx/route or /proc/net/ipx_route found.\n".into(),
        )),
        "ddp" if missing("atalk_route") => Some((
            format!("Error opening /proc/net/atalk_route: {nf}\nDDP (AppleTalk) not configured on this system.\n"),
            String::new(),
        )),
        "x25" if missing("x25/route") => {
            Some((String::new(), "X.25 not configured in this system.\n".into()))
        }
        "rose" if missing("rose_nodes") => Some((
            format!("/proc/net/rose_nodes: {nf}\nROSE not configured in this system.\n"),
            String::new(),
        )),
        "netrom" if missing("nr_nodes") => Some((
            format!("/proc/net/nr_nodes: {nf}\n/proc/net/nr_neigh: Invalid argument\n"),
            "NET/ROM not configured in this system.\n".into(),
        )),
        _ => None,
    }
}

/// `netstat -r`: net-tools' `route_info` over the families named.
pub fn route<L: Lookup, W: Write>(
    prog: &str,
    o: &Options,
    root: &Path,
    mut lookup: L,
    out: &mut W,
) -> Result<ExitStatus, Error> {
    // net-tools' flag_exp starts at 1, each -e adds one, and -r swaps 1
    // and 2; the column set is that & 3.
    let exp = 1 + o.extend;
    let exp = match exp {
        1 => 2,
        2 => 1,
        n => n,
    };
    let ext = exp & 3;
    let numeric = o.numeric_hosts || o.symbolic;
    let want_fib = o.fib || !o.cache;
    let afname = if o.afname.is_empty() {
        "inet"
    } else {
        o.afname.as_str()
    };
    for name in afname.split(',') {
        if name.is_empty() {
            continue;
        }
        match name {
            "inet" | "inet6" => {
                if want_fib {
                    let ok = if name == "inet" {
                        fib_v4(root, ext, numeric, &mut lookup, out)?
                    } else {
                        fib_v6(root, numeric, false, &mut lookup, out)?
                    };
                    if !ok {
                        out.flush()?;
                        return Ok(ExitStatus::Failure);
                    }
                }
                if o.cache {
                    let done = if name == "inet" {
                        cache_v4(root, ext, out)?
                    } else if root.join("net/ndisc").exists() {
                        None
                    } else {
                        Some(fib_v6(root, numeric, true, &mut lookup, out)?)
                    };
                    match done {
                        Some(true) => {}
                        Some(false) => {
                            out.flush()?;
                            return Ok(ExitStatus::Failure);
                        }
                        None => {
                            out.flush()?;
                            eprintln!("{prog}: the entries of the {name} routing cache (Linux before 3.6) are not read by rnetstat; `ip route show cache' shows them");
                            return Ok(ExitStatus::Failure);
                        }
                    }
                }
            }
            "unix" | "ec" | "ash" => {
                out.flush()?;
                eprintln!("No routing for address family `{name}'.");
                return Ok(ExitStatus::Usage);
            }
            "ax25" | "ipx" | "ddp" | "x25" | "rose" | "netrom" => {
                out.flush()?;
                match other_family(root, name) {
                    Some((err, text)) => {
                        eprint!("{err}");
                        out.write_all(text.as_bytes())?;
                    }
                    None => {
                        eprintln!("{prog}: the {name} routing table is not supported by rnetstat")
                    }
                }
                out.flush()?;
                return Ok(ExitStatus::Failure);
            }
            other => {
                out.flush()?;
                eprintln!("Address family `{other}' not supported.");
                return Ok(ExitStatus::Usage);
            }
        }
    }
    out.flush()?;
    Ok(ExitStatus::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_hex_is_network_order_bytes() {
        assert_eq!(hex_v4(b"010200C0"), Some(Ipv4Addr::new(192, 0, 2, 1)));
        assert_eq!(hex_v4(b"0102"), None);
    }

    #[test]
    fn header_words_map_to_columns() {
        let h =
            b"Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT";
        assert_eq!(header_format(h).unwrap().len(), 11);
        assert_eq!(header_format(b"Iface Foo"), Err("Destination"));
    }

    #[test]
    fn scan_is_sscanf_like() {
        let mut s = Scan::new(b" 0x1F -3 abcdefgh");
        assert_eq!(s.hex(0), Some(0x1f));
        assert_eq!(s.dec(), Some(-3));
        assert_eq!(s.string(4), Some(&b"abcd"[..]));
        assert_eq!(s.string(4), Some(&b"efgh"[..]));
        assert_eq!(s.string(4), None);
    }
}
