//! `--json`: one JSON object per socket, one per line (JSON Lines), with
//! the field names documented in man/rnetstat.8 (JSON OUTPUT). Written by
//! hand into the row buffer (no serialization crate): numbers as decimal,
//! strings through [`push_str`], which escapes every byte a terminal or a
//! parser could trip on and keeps non-UTF-8 bytes recoverable.

use crate::names::Lookup;
use crate::render::{proto_label, push_u64, unix_state_name, unix_type_name, RowCtx};
use rnet_core::addr::ntop6;
use rnet_core::explain::{explain_tcp, explain_timer, explain_udp};
use rnet_core::procnet::{InetEntry, Proto, UnixEntry, UNIX_ACCEPTCON};
use std::net::IpAddr;

const HEX: &[u8; 16] = b"0123456789abcdef";

fn push_u00(out: &mut Vec<u8>, b: u8) {
    out.extend_from_slice(b"\\u00");
    out.push(HEX[usize::from(b >> 4)]);
    out.push(HEX[usize::from(b & 15)]);
}

/// Appends `bytes` as a JSON string, quotes included.
///
/// Printable ASCII is written as is, `"` and `\` with a backslash, the
/// C0 controls as `\b \f \n \r \t` or `\u00XX`, DEL as `\u007f`. A UTF-8
/// character from U+00A0 up is written as is; every other byte of 0x80 and
/// above (not valid UTF-8, or part of a C1 control U+0080 to U+009F) is
/// written `\u00XX` with its own value. Reading each `\u0080`…`\u00ff` back
/// as the byte it names gives the original bytes exactly, and no raw
/// control byte ever reaches a terminal.
pub fn push_str(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            0x20..=0x7e => out.push(b),
            0x00..=0x1f | 0x7f => push_u00(out, b),
            _ => {
                let len = utf8_len(&bytes[i..]);
                if len > 0 {
                    out.extend_from_slice(&bytes[i..i + len]);
                    i += len;
                    continue;
                }
                push_u00(out, b);
            }
        }
        i += 1;
    }
    out.push(b'"');
}

/// The length of the valid UTF-8 character of U+00A0 or above that `s`
/// starts with, or 0.
fn utf8_len(s: &[u8]) -> usize {
    let len = match s[0] {
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => return 0,
    };
    match s.get(..len).map(std::str::from_utf8) {
        Some(Ok(c)) if c.chars().next().is_some_and(|c| c >= '\u{a0}') => len,
        _ => 0,
    }
}

fn key(out: &mut Vec<u8>, first: bool, name: &str) {
    out.extend_from_slice(if first { b"{\"" } else { b",\"" });
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
}

fn num(out: &mut Vec<u8>, name: &str, n: u64) {
    key(out, false, name);
    push_u64(out, n);
}

fn text(out: &mut Vec<u8>, name: &str, s: &[u8]) {
    key(out, false, name);
    push_str(out, s);
}

fn ip_text(ip: IpAddr, out: &mut Vec<u8>) {
    match ip {
        IpAddr::V4(a) => {
            // Dotted quad: nothing to escape, no allocation.
            out.push(b'"');
            for (i, octet) in a.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                push_u64(out, u64::from(octet));
            }
            out.push(b'"');
        }
        // glibc's text, as netstat prints it.
        IpAddr::V6(a) => push_str(out, ntop6(&a).as_bytes()),
    }
}

/// The name of a timer kind as `-o` prints it, as a JSON string.
fn timer_text(proto: Proto, timer: u8, out: &mut Vec<u8>) {
    let name: &[u8] = match (proto, timer) {
        (_, 0) => b"off",
        (Proto::Tcp, 1) => b"on",
        (Proto::Tcp, 2) => b"keepalive",
        (Proto::Tcp, 3) => b"timewait",
        (Proto::Tcp, 4) => b"probe",
        (Proto::Udp | Proto::UdpLite | Proto::Raw, 1 | 2) => b"on",
        _ => b"unkn-",
    };
    out.push(b'"');
    out.extend_from_slice(name);
    if name != b"off" && (proto != Proto::Tcp || name == b"unkn-") {
        push_u64(out, u64::from(timer));
    }
    out.push(b'"');
}

/// One internet socket as a JSON object and a newline.
pub fn inet_object<L: Lookup>(
    ctx: &mut RowCtx<'_, L>,
    proto: Proto,
    e: &InetEntry,
    out: &mut Vec<u8>,
) {
    key(out, true, "proto");
    push_str(out, proto_label(proto, e.local.is_ipv6()).as_bytes());
    num(out, "recv_q", e.rx_queue);
    num(out, "send_q", e.tx_queue);
    key(out, false, "local_address");
    ip_text(e.local, out);
    num(out, "local_port", u64::from(e.local_port));
    key(out, false, "foreign_address");
    ip_text(e.remote, out);
    num(out, "foreign_port", u64::from(e.remote_port));
    text(out, "state", e.state.netstat_name().as_bytes());
    num(out, "state_code", u64::from(e.state.code()));
    key(out, false, "timer");
    timer_text(proto, e.timer, out);
    num(out, "timer_code", u64::from(e.timer));
    key(out, false, "timer_seconds");
    push_u64(out, e.timer_ticks / 100);
    out.push(b'.');
    if e.timer_ticks % 100 < 10 {
        out.push(b'0');
    }
    push_u64(out, e.timer_ticks % 100);
    num(out, "retransmits", e.retransmits);
    key(out, false, "probes");
    let probes = i64::from(e.probes as i32);
    if probes < 0 {
        out.push(b'-');
    }
    push_u64(out, probes.unsigned_abs());
    num(out, "uid", u64::from(e.uid));
    num(out, "inode", e.inode);
    if ctx.opts.programs {
        text(out, "program", ctx.progs.get(e.inode).as_bytes());
    }
    if ctx.opts.explain {
        let note = match proto {
            Proto::Tcp if ctx.opts.timers => {
                format!("{}; {}", explain_tcp(e, ctx.hosts), explain_timer(e))
            }
            Proto::Tcp => explain_tcp(e, ctx.hosts),
            Proto::Udp | Proto::UdpLite => explain_udp(e),
            Proto::Raw => String::new(),
        };
        if !note.is_empty() {
            text(out, "explanation", note.as_bytes());
        }
    }
    out.extend_from_slice(b"}\n");
}

/// One UNIX socket as a JSON object and a newline.
pub fn unix_object(e: &UnixEntry, program: Option<&str>, out: &mut Vec<u8>) {
    key(out, true, "proto");
    push_str(out, if e.protocol == 0 { b"unix" } else { b"??" });
    num(out, "refcnt", e.refcount);
    key(out, false, "flags");
    out.push(b'[');
    let mut first = true;
    for (bit, name) in [(UNIX_ACCEPTCON, "ACC"), (1 << 17, "W"), (1 << 18, "N")] {
        if e.flags & bit != 0 {
            if !first {
                out.push(b',');
            }
            first = false;
            push_str(out, name.as_bytes());
        }
    }
    out.push(b']');
    text(out, "type", unix_type_name(e.sock_type).as_bytes());
    text(out, "state", unix_state_name(e).as_bytes());
    num(out, "state_code", u64::from(e.state));
    key(out, false, "inode");
    match e.inode {
        Some(i) => push_u64(out, i),
        None => out.extend_from_slice(b"null"),
    }
    key(out, false, "path");
    match &e.path {
        Some(p) => push_str(out, p),
        None => out.extend_from_slice(b"null"),
    }
    if let Some(p) = program {
        text(out, "program", p.as_bytes());
    }
    out.extend_from_slice(b"}\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A strict reader of the strings [`push_str`] writes: JSON's escapes,
    /// with `\u0080`…`\u00ff` read back as single bytes (the documented rule).
    fn decode(s: &[u8]) -> Vec<u8> {
        assert_eq!((s[0], s[s.len() - 1]), (b'"', b'"'));
        let s = &s[1..s.len() - 1];
        let mut out = Vec::new();
        let mut i = 0;
        while i < s.len() {
            assert!(s[i] >= 0x20 && s[i] != 0x7f, "raw control byte {:#x}", s[i]);
            assert_ne!(s[i], b'"', "unescaped quote");
            if s[i] != b'\\' {
                out.push(s[i]);
                i += 1;
                continue;
            }
            let c = s[i + 1];
            i += 2;
            match c {
                b'"' | b'\\' | b'/' => out.push(c),
                b'n' => out.push(b'\n'),
                b'r' => out.push(b'\r'),
                b't' => out.push(b'\t'),
                b'b' => out.push(8),
                b'f' => out.push(12),
                b'u' => {
                    let h = std::str::from_utf8(&s[i..i + 4]).unwrap();
                    let v = u32::from_str_radix(h, 16).unwrap();
                    assert!(v <= 0xff, "{h}");
                    out.push(v as u8);
                    i += 4;
                }
                _ => panic!("bad escape {c}"),
            }
        }
        out
    }

    fn enc(b: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        push_str(&mut v, b);
        v
    }

    #[test]
    fn timer_names_as_netstat() {
        let t = |p, n| {
            let mut v = Vec::new();
            timer_text(p, n, &mut v);
            String::from_utf8(v).unwrap()
        };
        assert_eq!(t(Proto::Tcp, 0), "\"off\"");
        assert_eq!(t(Proto::Tcp, 3), "\"timewait\"");
        assert_eq!(t(Proto::Tcp, 9), "\"unkn-9\"");
        assert_eq!(t(Proto::Udp, 2), "\"on2\"");
        assert_eq!(t(Proto::Raw, 0), "\"off\"");
        assert_eq!(t(Proto::Raw, 5), "\"unkn-5\"");
        let mut v = Vec::new();
        ip_text("198.18.0.1".parse().unwrap(), &mut v);
        assert_eq!(v, b"\"198.18.0.1\"");
    }

    #[test]
    fn escapes() {
        assert_eq!(
            enc(b"a\"b\\c\n\x01\x7f"),
            b"\"a\\\"b\\\\c\\n\\u0001\\u007f\""
        );
        assert_eq!(enc(b"\xff\xc3"), b"\"\\u00ff\\u00c3\"");
        assert_eq!(enc("é€😀".as_bytes()), "\"é€😀\"".as_bytes());
        // A C1 control (U+009B, CSI) never reaches the output raw.
        assert_eq!(enc("\u{9b}".as_bytes()), b"\"\\u00c2\\u009b\"");
        // Overlong and surrogate encodings are not UTF-8.
        assert_eq!(
            enc(b"\xc0\xaf\xed\xa0\x80"),
            b"\"\\u00c0\\u00af\\u00ed\\u00a0\\u0080\""
        );
    }

    #[test]
    fn every_byte_string_round_trips() {
        // Seeded splitmix64: 20,000 strings of random bytes, biased towards
        // controls, quotes, backslashes and UTF-8 fragments.
        let mut state = 0x5eed_u64;
        let mut next = move || {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        const PIECES: &[&[u8]] = &[
            b"\"",
            b"\\",
            b"\n",
            b"\x00",
            b"\x1b[2J",
            "é".as_bytes(),
            "\u{85}".as_bytes(),
            "€".as_bytes(),
            b"\xe2\x82",
            b"\xf0\x9f\x98\x80",
            b"\xff",
            b"\x7f",
            b"/",
        ];
        for _ in 0..20_000 {
            let mut s = Vec::new();
            for _ in 0..next() % 12 {
                if next() % 2 == 0 {
                    s.extend_from_slice(PIECES[(next() % PIECES.len() as u64) as usize]);
                } else {
                    s.push(next() as u8);
                }
            }
            let e = enc(&s);
            assert!(std::str::from_utf8(&e).is_ok(), "{s:?}");
            assert_eq!(decode(&e), s, "{s:?} -> {}", String::from_utf8_lossy(&e));
        }
    }
}
