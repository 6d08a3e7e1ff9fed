//! Address decoding for `/proc/net` and address text as glibc prints it.
//!
//! The kernel prints each 32-bit word of an address with `%08X` in host
//! byte order, so `0100007F` is 127.0.0.1 on a little-endian machine:
//! parse the word as a `u32`, then take its native-endian bytes.

use std::net::{Ipv4Addr, Ipv6Addr};

/// IPv4 or IPv6: the family of a `/proc/net` table (`tcp`, `tcp6`), of
/// rnc's `-4`/`-6` (no choice is `Option::None`: either) and of the
/// iptables binary rfw runs (`iptables`, `ip6tables`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    /// IPv4 (`AF_INET`).
    V4,
    /// IPv6 (`AF_INET6`).
    V6,
}

impl Family {
    /// The socket address family (`AF_INET`, `AF_INET6`).
    pub fn af(self) -> libc::c_int {
        match self {
            Family::V4 => libc::AF_INET,
            Family::V6 => libc::AF_INET6,
        }
    }

    /// `v4` or `v6`.
    pub fn short(self) -> &'static str {
        match self {
            Family::V4 => "v4",
            Family::V6 => "v6",
        }
    }
}

/// Parses up to 8 hex digits as one `u32`. `None` on any other byte.
pub fn parse_hex_u32(hex: &[u8]) -> Option<u32> {
    if hex.is_empty() || hex.len() > 8 {
        return None;
    }
    let mut v: u32 = 0;
    for &b in hex {
        v = (v << 4) | u32::from(hex_val(b)?);
    }
    Some(v)
}

/// Parses up to 16 hex digits as one `u64`.
pub fn parse_hex_u64(hex: &[u8]) -> Option<u64> {
    if hex.is_empty() || hex.len() > 16 {
        return None;
    }
    let mut v: u64 = 0;
    for &b in hex {
        v = (v << 4) | u64::from(hex_val(b)?);
    }
    Some(v)
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes the `/proc/net` text of an IPv4 address (`0100007F`).
pub fn decode_v4(hex: &[u8]) -> Option<Ipv4Addr> {
    parse_hex_u32(hex).map(|w| Ipv4Addr::from(w.to_ne_bytes()))
}

/// Decodes the `/proc/net` text of an IPv6 address (32 hex digits, four
/// host-order words).
pub fn decode_v6(hex: &[u8]) -> Option<Ipv6Addr> {
    if hex.len() != 32 {
        return None;
    }
    let mut bytes = [0u8; 16];
    for (i, chunk) in hex.chunks(8).enumerate() {
        let w = parse_hex_u32(chunk)?;
        bytes[i * 4..i * 4 + 4].copy_from_slice(&w.to_ne_bytes());
    }
    Some(Ipv6Addr::from(bytes))
}

/// Formats an IPv6 address exactly as glibc's `inet_ntop` does.
///
/// It differs from Rust's `Display` in two places: glibc prints the
/// deprecated IPv4-compatible form (`::1.2.3.4`, and `::0.0.0.2` for `::2`)
/// and keeps the first of two equal zero runs; both follow RFC 2373 rather
/// than RFC 5952. net-tools prints whatever glibc gives, so we do too.
pub fn ntop6(addr: &Ipv6Addr) -> String {
    let w = addr.segments();
    // Longest run of at least two zero words; the first one on a tie.
    let (mut best_base, mut best_len) = (usize::MAX, 0usize);
    let mut i = 0;
    while i < 8 {
        if w[i] == 0 {
            let start = i;
            while i < 8 && w[i] == 0 {
                i += 1;
            }
            let len = i - start;
            if len > best_len {
                best_base = start;
                best_len = len;
            }
        } else {
            i += 1;
        }
    }
    if best_len < 2 {
        best_base = usize::MAX;
    }
    let mut out = String::with_capacity(46);
    let mut i = 0;
    while i < 8 {
        if best_base != usize::MAX && i >= best_base && i < best_base + best_len {
            if i == best_base {
                out.push(':');
            }
            i += 1;
            continue;
        }
        if i != 0 {
            out.push(':');
        }
        // Encapsulated IPv4 (compatible or mapped): glibc's exact test.
        if i == 6
            && best_base == 0
            && (best_len == 6
                || (best_len == 7 && w[7] != 0x0001)
                || (best_len == 5 && w[5] == 0xffff))
        {
            let o = addr.octets();
            out.push_str(&format!("{}.{}.{}.{}", o[12], o[13], o[14], o[15]));
            return out;
        }
        out.push_str(&format!("{:x}", w[i]));
        i += 1;
    }
    if best_base != usize::MAX && best_base + best_len == 8 {
        out.push(':');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v4_is_host_order_words() {
        let a = decode_v4(b"0100007F").unwrap();
        if cfg!(target_endian = "little") {
            assert_eq!(a, Ipv4Addr::new(127, 0, 0, 1));
        }
        assert_eq!(decode_v4(b"00000000").unwrap(), Ipv4Addr::UNSPECIFIED);
        assert!(decode_v4(b"0100007G").is_none());
        assert!(decode_v4(b"").is_none());
    }

    #[test]
    fn v6_words() {
        if cfg!(target_endian = "little") {
            let a = decode_v6(b"00000000000000000000000001000000").unwrap();
            assert_eq!(a, Ipv6Addr::LOCALHOST);
            let m = decode_v6(b"0000000000000000FFFF00000100007F").unwrap();
            assert_eq!(m.to_ipv4_mapped(), Some(Ipv4Addr::new(127, 0, 0, 1)));
        }
        assert!(decode_v6(b"0000").is_none());
    }

    #[test]
    fn ntop6_matches_glibc() {
        let cases = [
            ("::", "::"),
            ("::1", "::1"),
            ("::2", "::2"),
            ("::ffff", "::ffff"),
            ("::ffff:127.0.0.1", "::ffff:127.0.0.1"),
            ("::1.2.3.4", "::1.2.3.4"),
            ("2001:db8::1", "2001:db8::1"),
            ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
            ("fe80::1ff:fe23:4567:890a", "fe80::1ff:fe23:4567:890a"),
            (
                "2001:db8:ffff:ffff:ffff:ffff:ffff:fffe",
                "2001:db8:ffff:ffff:ffff:ffff:ffff:fffe",
            ),
            ("1:0:1:0:1:0:1:0", "1:0:1:0:1:0:1:0"),
            ("1::", "1::"),
            ("0:0:1::", "0:0:1::"),
        ];
        for (input, want) in cases {
            let a: Ipv6Addr = input.parse().unwrap();
            assert_eq!(ntop6(&a), want, "{input}");
        }
    }
}
