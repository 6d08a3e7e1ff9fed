//! Rendering: typed entries to netstat's exact bytes.
//!
//! Pure given a [`Lookup`] (the name service) and a [`ProgCache`]; the
//! tests use a fake lookup. Widths follow the printf formats of net-tools'
//! netstat.c, named at the helpers that stand for them (`%-Ns`, `%Nld`):
//! every width is a minimum and nothing is cut except addresses without
//! `-W` ([`endpoint`]).

use crate::names::{Lookup, Names, ServiceProto};
use crate::programs::ProgCache;
use rnet_core::explain::{explain_tcp, explain_timer, explain_udp};
use rnet_core::procnet::{InetEntry, Proto, UnixEntry, UNIX_ACCEPTCON};
use rnet_core::tcp_state::TcpState;
use rnet_core::timing::Hosts;
use std::net::IpAddr;

/// Appends a decimal number.
pub fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

fn push_i64(out: &mut Vec<u8>, n: i64) {
    if n < 0 {
        out.push(b'-');
    }
    push_u64(out, n.unsigned_abs());
}

/// Spaces up to `width` bytes written since `start` (`%-Ns` after the fact).
fn pad_since(out: &mut Vec<u8>, start: usize, width: usize) {
    let len = out.len() - start;
    if len < width {
        out.resize(out.len() + width - len, b' ');
    }
}

/// `%-Ns`
pub fn pad_left(out: &mut Vec<u8>, s: &str, width: usize) {
    let start = out.len();
    out.extend_from_slice(s.as_bytes());
    pad_since(out, start, width);
}

/// `%Nld`
fn pad_num(out: &mut Vec<u8>, n: i64, width: usize) {
    let mut tmp = Vec::new();
    let mut digits = [0u8; 21];
    let text: &[u8] = if n >= 0 {
        let mut v = n as u64;
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        &digits[i..]
    } else {
        push_i64(&mut tmp, n);
        &tmp
    };
    if text.len() < width {
        out.resize(out.len() + width - text.len(), b' ');
    }
    out.extend_from_slice(text);
}

/// net-tools' `addr_do_one`: `host:port`, cut to 23 bytes without `-W`
/// when host and port together are longer than 22 (bytes, as C cuts them).
pub fn endpoint<L: Lookup>(
    names: &mut Names<L>,
    ip: IpAddr,
    port: u16,
    proto: ServiceProto,
    wide: bool,
    out: &mut Vec<u8>,
) {
    let start = out.len();
    names.host(ip, out);
    let host_len = out.len() - start;
    out.push(b':');
    names.port(port, proto, out);
    let port_len = out.len() - start - host_len - 1;
    if !wide && host_len + port_len > 22 {
        let sport: Vec<u8> = out[start + host_len + 1..].to_vec();
        let keep_port = port_len.min(18);
        let keep_addr = (22 - keep_port).min(host_len);
        out.truncate(start + keep_addr);
        out.push(b':');
        out.extend_from_slice(&sport[..keep_port]);
    }
}

/// Options that shape a row.
#[derive(Clone, Copy, Debug, Default)]
pub struct RowOpts {
    /// `-W`
    pub wide: bool,
    /// `-e` given at least once.
    pub extend: bool,
    /// `-p`
    pub programs: bool,
    /// `-o`
    pub timers: bool,
    /// annotations
    pub explain: bool,
}

/// Title line of the internet section.
pub fn inet_title(all: bool, listening: bool) -> String {
    format!("Active Internet connections {}\n", scope(all, listening))
}

fn scope(all: bool, listening: bool) -> &'static str {
    if all {
        "(servers and established)"
    } else if listening {
        "(only servers)"
    } else {
        "(w/o servers)"
    }
}

/// Column header of the internet section.
pub fn inet_header(o: &RowOpts) -> String {
    let mut s = String::from(
        "Proto Recv-Q Send-Q Local Address           Foreign Address         State      ",
    );
    if o.extend {
        s.push_str(" User       Inode     ");
    }
    if o.programs {
        s.push_str(" PID/Program name    ");
    }
    if o.timers {
        s.push_str(" Timer");
    }
    s.push('\n');
    s
}

/// Title and header of the UNIX section.
pub fn unix_title_header(all: bool, listening: bool, programs: bool) -> String {
    let mut s = format!(
        "Active UNIX domain sockets {}\nProto RefCnt Flags       Type       State         I-Node  ",
        scope(all, listening)
    );
    if programs {
        s.push_str(" PID/Program name    ");
    }
    s.push_str(" Path\n");
    s
}

/// The `-o` text of a TCP socket.
fn tcp_timer(e: &InetEntry, out: &mut Vec<u8>) {
    let name: &[u8] = match e.timer {
        0 => {
            out.extend_from_slice(b"off (0.00/");
            push_u64(out, e.retransmits);
            out.push(b'/');
            push_i64(out, i64::from(e.probes as i32));
            out.push(b')');
            return;
        }
        1 => b"on",
        2 => b"keepalive",
        3 => b"timewait",
        4 => b"probe",
        _ => b"",
    };
    if name.is_empty() {
        out.extend_from_slice(b"unkn-");
        push_u64(out, u64::from(e.timer));
    } else {
        out.extend_from_slice(name);
    }
    timer_numbers(e.timer_ticks, e.retransmits, e.probes, out);
}

/// ` (secs/retrans/probes)` with seconds from USER_HZ ticks as `%2.2f`.
fn timer_numbers(ticks: u64, retr: u64, probes: i64, out: &mut Vec<u8>) {
    out.extend_from_slice(b" (");
    push_u64(out, ticks / 100);
    out.push(b'.');
    let frac = ticks % 100;
    if frac < 10 {
        out.push(b'0');
    }
    push_u64(out, frac);
    out.push(b'/');
    push_u64(out, retr);
    out.push(b'/');
    push_i64(out, i64::from(probes as i32));
    out.push(b')');
}

/// The `-o` text of a UDP or raw socket (`retr` is already what net-tools
/// prints: 0 for UDP).
fn dgram_timer(e: &InetEntry, retr: u64, out: &mut Vec<u8>) {
    match e.timer {
        0 => {
            out.extend_from_slice(b"off (0.00/");
            push_u64(out, retr);
            out.push(b'/');
            push_i64(out, i64::from(e.probes as i32));
            out.push(b')');
        }
        1 | 2 => {
            out.extend_from_slice(b"on");
            push_u64(out, u64::from(e.timer));
            timer_numbers(e.timer_ticks, retr, e.probes, out);
        }
        t => {
            out.extend_from_slice(b"unkn-");
            push_u64(out, u64::from(t));
            timer_numbers(e.timer_ticks, retr, e.probes, out);
        }
    }
}

/// The label of an entry's protocol (`tcp`, `tcp6`, `udpl6`, …).
pub fn proto_label(proto: Proto, v6: bool) -> &'static str {
    match (proto, v6) {
        (Proto::Tcp, false) => "tcp",
        (Proto::Tcp, true) => "tcp6",
        (Proto::Udp, false) => "udp",
        (Proto::Udp, true) => "udp6",
        (Proto::UdpLite, false) => "udpl",
        (Proto::UdpLite, true) => "udpl6",
        (Proto::Raw, false) => "raw",
        (Proto::Raw, true) => "raw6",
    }
}

/// Everything a row needs besides the entry.
pub struct RowCtx<'a, L> {
    /// Name service.
    pub names: &'a mut Names<L>,
    /// `-p` map (empty when `-p` is off).
    pub progs: &'a ProgCache,
    /// Row options.
    pub opts: RowOpts,
    /// Both ends' sysctls, for annotations.
    pub hosts: &'a Hosts,
}

/// One row of an internet table, appended to `out` with its newline.
pub fn inet_row<L: Lookup>(
    ctx: &mut RowCtx<'_, L>,
    proto: Proto,
    e: &InetEntry,
    out: &mut Vec<u8>,
) {
    let v6 = e.local.is_ipv6();
    let label = proto_label(proto, v6);
    let sproto = match proto {
        Proto::Tcp => ServiceProto::Tcp,
        Proto::Udp | Proto::UdpLite => ServiceProto::Udp,
        Proto::Raw => ServiceProto::Raw,
    };
    // "%-4s  " for tcp and raw, "%-5s " for udp: both 6 wide here.
    match proto {
        Proto::Udp | Proto::UdpLite => {
            pad_left(out, label, 5);
            out.push(b' ');
        }
        Proto::Tcp | Proto::Raw => {
            pad_left(out, label, 4);
            out.extend_from_slice(b"  ");
        }
    }
    pad_num(out, e.rx_queue as i64, 6);
    out.push(b' ');
    pad_num(out, e.tx_queue as i64, 6);
    out.push(b' ');
    let start = out.len();
    endpoint(ctx.names, e.local, e.local_port, sproto, ctx.opts.wide, out);
    pad_since(out, start, 23);
    out.push(b' ');
    let start = out.len();
    endpoint(
        ctx.names,
        e.remote,
        e.remote_port,
        sproto,
        ctx.opts.wide,
        out,
    );
    pad_since(out, start, 23);
    out.push(b' ');
    let start = out.len();
    match proto {
        Proto::Tcp => {
            if e.state.code() != 0 {
                out.extend_from_slice(e.state.netstat_name().as_bytes());
            }
        }
        Proto::Udp | Proto::UdpLite => {
            let name: &[u8] = match e.state.known() {
                Some(TcpState::Established) => b"ESTABLISHED",
                Some(TcpState::Close) => b"",
                _ => b"UNKNOWN",
            };
            out.extend_from_slice(name);
        }
        Proto::Raw => push_u64(out, u64::from(e.state.code())),
    }
    pad_since(out, start, 11);
    // net-tools' `finish_this_one`: the `-e`, `-p`, `-o` tail.
    if ctx.opts.extend {
        out.push(b' ');
        let start = out.len();
        ctx.names.user(e.uid, out);
        pad_since(out, start, 10);
        out.push(b' ');
        let start = out.len();
        push_u64(out, e.inode);
        pad_since(out, start, 10);
    }
    if ctx.opts.programs {
        out.push(b' ');
        pad_left(out, ctx.progs.get(e.inode), 20);
    }
    if ctx.opts.timers {
        out.push(b' ');
        match proto {
            Proto::Tcp => tcp_timer(e, out),
            Proto::Udp | Proto::UdpLite => dgram_timer(e, 0, out),
            Proto::Raw => dgram_timer(e, e.retransmits, out),
        }
    }
    if ctx.opts.explain {
        match proto {
            Proto::Tcp => {
                out.extend_from_slice(b"  # ");
                out.extend_from_slice(explain_tcp(e, ctx.hosts).as_bytes());
                if ctx.opts.timers {
                    out.extend_from_slice(b"; ");
                    out.extend_from_slice(explain_timer(e).as_bytes());
                }
            }
            Proto::Udp | Proto::UdpLite => {
                out.extend_from_slice(b"  # ");
                out.extend_from_slice(explain_udp(e).as_bytes());
            }
            Proto::Raw => {}
        }
    }
    out.push(b'\n');
}

/// Bytes as rnetstat shows text it did not write (`-p` program names, `-x`
/// socket paths): printable ASCII as is, every control or non-ASCII byte
/// as `.`, so no escape sequence or line break from a process reaches the
/// terminal. net-tools prints both raw (docs/compat.md).
pub fn printable(bytes: &[u8]) -> impl Iterator<Item = u8> + '_ {
    bytes
        .iter()
        .map(|&b| if (0x20..0x7f).contains(&b) { b } else { b'.' })
}

/// The Type column of a UNIX socket.
pub fn unix_type_name(sock_type: u32) -> &'static str {
    match sock_type {
        1 => "STREAM",
        2 => "DGRAM",
        3 => "RAW",
        4 => "RDM",
        5 => "SEQPACKET",
        _ => "UNKNOWN",
    }
}

/// The State column of a UNIX socket.
pub fn unix_state_name(e: &UnixEntry) -> &'static str {
    match e.state {
        0 => "FREE",
        1 if e.flags & UNIX_ACCEPTCON != 0 => "LISTENING",
        1 => "",
        2 => "CONNECTING",
        3 => "CONNECTED",
        4 => "DISCONNECTING",
        _ => "UNKNOWN",
    }
}

/// One row of the UNIX table.
pub fn unix_row(e: &UnixEntry, has_inode: bool, progs: Option<&ProgCache>, out: &mut Vec<u8>) {
    let proto = if e.protocol == 0 { "unix" } else { "??" };
    let mut flags = String::from("[ ");
    if e.flags & UNIX_ACCEPTCON != 0 {
        flags.push_str("ACC ");
    }
    if e.flags & (1 << 17) != 0 {
        flags.push_str("W ");
    }
    if e.flags & (1 << 18) != 0 {
        flags.push_str("N ");
    }
    flags.push(']');
    let ty = unix_type_name(e.sock_type);
    let state = unix_state_name(e);
    pad_left(out, proto, 5);
    out.push(b' ');
    let start = out.len();
    push_i64(out, e.refcount as i64);
    pad_since(out, start, 6);
    out.push(b' ');
    pad_left(out, &flags, 11);
    out.push(b' ');
    pad_left(out, ty, 10);
    out.push(b' ');
    pad_left(out, state, 13);
    out.push(b' ');
    let inode = e.inode.unwrap_or(0);
    if has_inode {
        let start = out.len();
        push_u64(out, inode);
        pad_since(out, start, 8);
    } else {
        out.extend_from_slice(b"-       ");
    }
    if let Some(p) = progs {
        out.push(b' ');
        pad_left(out, if has_inode { p.get(inode) } else { "-" }, 20);
    }
    out.push(b' ');
    // Without an Inode column net-tools prints the inode where the path goes.
    match (&e.path, has_inode) {
        (_, false) => push_u64(out, inode),
        // Cleaned as `-p` names are: an escape sequence never reaches the terminal.
        (Some(p), true) => out.extend(printable(p)),
        (None, true) => {}
    }
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use rnet_core::addr::ntop6;
    use rnet_core::procnet::parse_inet_line;
    use std::net::{Ipv4Addr, Ipv6Addr};

    struct Fake;
    impl Lookup for Fake {
        fn host_v4(&mut self, a: Ipv4Addr) -> Option<String> {
            (a == Ipv4Addr::LOCALHOST).then(|| "localhost".to_string())
        }
        fn host_v6(&mut self, a: Ipv6Addr) -> Option<String> {
            Some(if a == Ipv6Addr::LOCALHOST {
                "ip6-localhost".to_string()
            } else {
                ntop6(&a)
            })
        }
        fn net_v4(&mut self, _: Ipv4Addr) -> Option<String> {
            None
        }
        fn services(&mut self) -> Vec<(u16, String, String)> {
            vec![
                (5556, "tcp".into(), "freeciv".into()),
                (443, "tcp".into(), "https".into()),
                (53, "udp".into(), "domain".into()),
                (443, "tcp".into(), "https-last".into()),
            ]
        }
        fn user(&mut self, uid: u32) -> Option<String> {
            (uid == 0).then(|| "root".to_string())
        }
        fn protocol(&mut self, n: u16) -> Option<String> {
            (n == 1).then(|| "icmp".to_string())
        }
    }

    fn row(line: &str, proto: Proto, opts: RowOpts, numeric: bool) -> String {
        let e = parse_inet_line(line.as_bytes(), 2).unwrap();
        let mut names = Names::new(Fake, numeric, numeric, numeric);
        let progs = ProgCache::default();
        let sys = Hosts::same(rnet_core::timing::TcpTimers::default());
        let mut ctx = RowCtx {
            names: &mut names,
            progs: &progs,
            opts,
            hosts: &sys,
        };
        let mut out = Vec::new();
        inet_row(&mut ctx, proto, &e, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn headers() {
        let o = RowOpts {
            extend: true,
            programs: true,
            timers: true,
            ..RowOpts::default()
        };
        assert_eq!(
            inet_header(&o),
            "Proto Recv-Q Send-Q Local Address           Foreign Address         State       User       Inode      PID/Program name     Timer\n"
        );
        assert_eq!(
            inet_title(true, true),
            "Active Internet connections (servers and established)\n"
        );
        assert_eq!(
            inet_title(false, true),
            "Active Internet connections (only servers)\n"
        );
        assert_eq!(
            unix_title_header(false, false, false),
            "Active UNIX domain sockets (w/o servers)\nProto RefCnt Flags       Type       State         I-Node   Path\n"
        );
    }

    #[test]
    fn tcp_rows_numeric() {
        if cfg!(target_endian = "big") {
            return;
        }
        let listen = "2: 0100007F:15B3 00000000:0000 0A 00000000:00000002 00:00000000 00000000     0        0 158464 3 0 100 0 0 10 0";
        assert_eq!(
            row(listen, Proto::Tcp, RowOpts::default(), true),
            "tcp        2      0 127.0.0.1:5555          0.0.0.0:*               LISTEN     \n"
        );
        let fw1 = "31: 0100007F:E414 0100007F:15B3 04 003E1201:00000000 04:000000B1 00000000     0        0 158480 2 0 20 0 0 16 -1";
        let o = RowOpts {
            timers: true,
            ..RowOpts::default()
        };
        assert_eq!(
            row(fw1, Proto::Tcp, o, true),
            "tcp        0 4067841 127.0.0.1:58388         127.0.0.1:5555          FIN_WAIT1   probe (1.77/0/0)\n"
        );
        let tw = "23: 0100007F:E4BA 0100007F:15B8 06 00000000:00000000 03:0000156E 00000000     0        0 0 3 0";
        let o = RowOpts {
            extend: true,
            programs: true,
            timers: true,
            ..RowOpts::default()
        };
        assert_eq!(
            row(tw, Proto::Tcp, o, true),
            "tcp        0      0 127.0.0.1:58554         127.0.0.1:5560          TIME_WAIT   0          0          -                    timewait (54.86/0/0)\n"
        );
    }

    #[test]
    fn names_services_and_users() {
        if cfg!(target_endian = "big") {
            return;
        }
        let est = "1: 0100007F:CD74 0100007F:15B4 01 00000000:00000000 00:00000000 00000000     0        0 9 1 0 20 0 0 10 -1";
        let o = RowOpts {
            extend: true,
            ..RowOpts::default()
        };
        assert_eq!(
            row(est, Proto::Tcp, o, false),
            "tcp        0      0 localhost:52596         localhost:freeciv       ESTABLISHED root       9         \n"
        );
        let v6any = "0: 00000000000000000000000000000000:15B4 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 7 1 0 100 0 0 10 0";
        assert_eq!(
            row(v6any, Proto::Tcp, o, false),
            "tcp6       0      0 [::]:freeciv            [::]:*                  LISTEN      1000       7         \n"
        );
        let mapped = "1: 0000000000000000FFFF00000100007F:15B4 0000000000000000FFFF00000100007F:CD74 01 00000000:00000000 00:00000000 00000000     0        0 9 1 0 20 0 0 10 -1";
        assert_eq!(
            row(mapped, Proto::Tcp, RowOpts::default(), false),
            "tcp6       0      0 127.0.0.1:freeciv       127.0.0.1:52596         ESTABLISHED\n"
        );
    }

    #[test]
    fn truncation_without_wide() {
        // 2001:db8:1234:5678:9abc:def0:1234:5678 port 5555 to fe80::1ff:fe23:4567:890a port 443.
        let line = "1: B80D012078563412F0DEBC9A78563412:15B3 000080FE0000000023FEFF010A896745:01BB 01 00000000:00000000 00:00000000 00000000     0        0 9 1 0 20 0 0 10 -1";
        if cfg!(target_endian = "big") {
            return;
        }
        assert_eq!(
            row(line, Proto::Tcp, RowOpts::default(), true),
            "tcp6       0      0 2001:db8:1234:5678:5555 fe80::1ff:fe23:4567:443 ESTABLISHED\n"
        );
        let wide = RowOpts {
            wide: true,
            ..RowOpts::default()
        };
        assert_eq!(
            row(line, Proto::Tcp, wide, true),
            "tcp6       0      0 2001:db8:1234:5678:9abc:def0:1234:5678:5555 fe80::1ff:fe23:4567:890a:443 ESTABLISHED\n"
        );
        // Service names count too, and the last database entry wins.
        assert_eq!(
            row(line, Proto::Tcp, RowOpts::default(), false),
            "tcp6       0      0 2001:db8:1234:5678:5555 fe80::1ff:fe:https-last ESTABLISHED\n"
        );
    }

    #[test]
    fn udp_and_raw_rows() {
        if cfg!(target_endian = "big") {
            return;
        }
        let bound = "  1: 0100007F:15B3 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 5 2 0 0";
        assert_eq!(
            row(bound, Proto::Udp, RowOpts::default(), true),
            "udp        0      0 127.0.0.1:5555          0.0.0.0:*                          \n"
        );
        let conn = "  1: 0100007F:C50E 0100007F:0035 01 00000000:00000000 00:00000000 00000000     0        0 5 2 0 0";
        assert_eq!(
            row(conn, Proto::Udp, RowOpts::default(), false),
            "udp        0      0 localhost:50446         localhost:domain        ESTABLISHED\n"
        );
        let raw = "  1: 0100007F:0001 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 403586 2 0 0";
        let o = RowOpts {
            extend: true,
            ..RowOpts::default()
        };
        assert_eq!(
            row(raw, Proto::Raw, o, true),
            "raw        0      0 127.0.0.1:1             0.0.0.0:*               7           0          403586    \n"
        );
    }

    #[test]
    fn annotated_rows_keep_columns() {
        if cfg!(target_endian = "big") {
            return;
        }
        let tw = "23: 0100007F:E4BA 0100007F:15B8 06 00000000:00000000 03:0000156E 00000000     0        0 0 3 0";
        let o = RowOpts {
            explain: true,
            ..RowOpts::default()
        };
        let r = row(tw, Proto::Tcp, o, true);
        assert!(r.starts_with("tcp        0      0 127.0.0.1:58554         127.0.0.1:5560          TIME_WAIT    # TIME_WAIT: this side sent its FIN first"), "{r}");
        assert_eq!(r.split_whitespace().nth(5), Some("TIME_WAIT"));
    }

    #[test]
    fn unix_rows() {
        let e = UnixEntry {
            refcount: 2,
            protocol: 0,
            flags: UNIX_ACCEPTCON,
            sock_type: 1,
            state: 1,
            inode: Some(19001),
            path: Some(b"/run/x".to_vec()),
        };
        let mut out = Vec::new();
        unix_row(&e, true, None, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "unix  2      [ ACC ]     STREAM     LISTENING     19001    /run/x\n"
        );
        let e = UnixEntry {
            refcount: 3,
            flags: 0,
            state: 3,
            inode: Some(1125),
            path: None,
            ..e
        };
        let mut out = Vec::new();
        unix_row(&e, true, Some(&ProgCache::default()), &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "unix  3      [ ]         STREAM     CONNECTED     1125     -                    \n"
        );
    }
}
