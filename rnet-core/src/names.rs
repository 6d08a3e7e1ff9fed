//! Name service lookups shared by the tools, through glibc's NSS exactly
//! as the originals do them (net-tools' `gethostbyaddr`/`getnameinfo`,
//! `getservent`; netcat's `getaddrinfo`, `getnameinfo`, `getservbyport`),
//! so `/etc/hosts`, `/etc/services` and `nsswitch.conf` give both the
//! same answers.
//!
//! Every function here is safe to call from any number of threads at once:
//! the single lookups use the reentrant forms (`getservbyport_r`,
//! `getservbyname_r`, `getprotobynumber_r`, `getnetbyaddr_r`;
//! `getaddrinfo` and `getnameinfo` are reentrant as they are), and the walk
//! of the whole services database ([`all_services`]) holds one process-wide
//! lock, since the C library keeps that walk's read position in one place.
//! The foreign calls themselves are in the crate's private `sys` module.

use std::ffi::CString;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use crate::sys;

/// `getnameinfo` for an IPv4 address; `None` if no name is known
/// (`NI_NAMEREQD`). Same answer as net-tools' `gethostbyaddr`: both return
/// the entry's official name.
pub fn host_name_v4(addr: Ipv4Addr) -> Option<String> {
    let sa = SocketAddr::V4(SocketAddrV4::new(addr, 0));
    sys::getnameinfo_host(&sa, libc::NI_NAMEREQD).ok()
}

/// `getnameinfo` for an IPv6 address with flags 0, as net-tools calls it:
/// the numeric form comes back when no name is known. `None` on failure.
pub fn host_name_v6(addr: Ipv6Addr) -> Option<String> {
    let sa = SocketAddr::V6(SocketAddrV6::new(addr, 0, 0, 0));
    sys::getnameinfo_host(&sa, 0).ok()
}

/// `getnetbyaddr` (the `/etc/networks` database), used by net-tools for
/// IPv4 addresses whose last octet is 0. `None` when no network has that
/// number or the lookup fails, as `getnetbyaddr`'s null.
pub fn net_name(addr: Ipv4Addr) -> Option<String> {
    sys::getnetbyaddr(u32::from(addr)).ok().flatten()
}

/// Every `(port, proto, name)` of the services database, in file order
/// (`setservent`/`getservent`/`endservent`, as net-tools reads it). Ports
/// are host order. Walks from two threads take turns (one process-wide
/// lock); a lookup error ends the list where it happened, as a null from
/// `getservent` ends net-tools' loop.
pub fn all_services() -> Vec<(u16, String, String)> {
    let mut out = Vec::new();
    // An error after some entries keeps them, as explained above.
    let _ = sys::each_service(|s| out.push((s.port, s.proto, s.name)));
    out
}

/// The name of a port in the services database (`getservbyport`).
pub fn service_name(port: u16, proto: &str) -> Option<String> {
    let proto = CString::new(proto).ok()?;
    Some(sys::getservbyport(port, &proto).ok()??.name)
}

/// The name of an IP protocol number (`getprotobynumber`, `/etc/protocols`).
pub fn protocol_name(n: u16) -> Option<String> {
    sys::getprotobynumber(i32::from(n)).ok().flatten()
}

/// The port of a service name (`getservbyname`), host order.
pub fn service_port(name: &str, proto: &str) -> Option<u16> {
    let name = CString::new(name).ok()?;
    let proto = CString::new(proto).ok()?;
    Some(sys::getservbyname(&name, &proto).ok()??.port)
}

/// Hints for [`resolve`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Hints {
    /// `AF_INET`, `AF_INET6` or 0 for either.
    pub family: i32,
    /// `SOCK_STREAM`, `SOCK_DGRAM`, ...
    pub socktype: i32,
    /// `IPPROTO_*` or 0.
    pub protocol: i32,
    /// `AI_NUMERICHOST`: never ask a name server.
    pub numeric_host: bool,
    /// `AI_PASSIVE`: a null host means the wildcard address.
    pub passive: bool,
}

/// `getaddrinfo`: the addresses of a host and numeric port, in the order
/// the resolver gives them. The error is `gai_strerror`'s text.
pub fn resolve(host: Option<&str>, port: u16, hints: Hints) -> Result<Vec<SocketAddr>, String> {
    let host_c = match host {
        Some(h) => Some(CString::new(h).map_err(|_| "Name or service not known".to_string())?),
        None => None,
    };
    let port_c = CString::new(port.to_string())
        .map_err(|_| "Servname not supported for ai_socktype".to_string())?;
    let flag = |on: bool, f: i32| if on { f } else { 0 };
    let h = sys::AddrHints {
        family: hints.family,
        socktype: hints.socktype,
        protocol: hints.protocol,
        flags: libc::AI_NUMERICSERV
            | flag(hints.numeric_host, libc::AI_NUMERICHOST)
            | flag(hints.passive, libc::AI_PASSIVE),
    };
    sys::getaddrinfo(host_c.as_ref(), &port_c, h).map_err(|e| e.message())
}

/// `getnameinfo` with `NI_NUMERICSERV` (and `NI_NUMERICHOST` when asked):
/// the host text netcat prints in "Listening on HOST PORT". Falls back to
/// the numeric text when the lookup fails.
pub fn host_text(addr: &SocketAddr, numeric: bool) -> String {
    if !numeric {
        let name = match addr.ip() {
            IpAddr::V4(a) => host_name_v4(a),
            IpAddr::V6(a) => host_name_v6(a),
        };
        if let Some(n) = name {
            return n;
        }
    }
    match addr.ip() {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => crate::addr::ntop6(&a),
    }
}

/// IP protocols known by name without the protocols database: libxtables'
/// own list (`xtables_chain_protos`: tcp, sctp, udp, udplite, icmp,
/// icmpv6, esp, ah, mh, all) and the names rfw's iptables parser reads
/// (ipv6-icmp, dccp, gre, igmp). The first entry of a number is its name.
const KNOWN_PROTOCOLS: &[(&str, u8)] = &[
    ("all", 0),
    ("icmp", 1),
    ("igmp", 2),
    ("tcp", 6),
    ("udp", 17),
    ("dccp", 33),
    ("gre", 47),
    ("esp", 50),
    ("ah", 51),
    ("icmpv6", 58),
    ("ipv6-icmp", 58),
    ("sctp", 132),
    ("mh", 135),
    ("udplite", 136),
];

/// The protocols database read by [`protocol_number`].
const PROTOCOLS_FILE: &str = "/etc/protocols";

/// Largest protocols database read (Debian's is about 3 KiB).
const PROTOCOLS_LIMIT: u64 = 1 << 20;

/// The number of an IP protocol name, compared ignoring ASCII case (iptables
/// lowercases `-p`'s value; the database's aliases are upper-case spellings
/// of its names): a name libxtables knows without the database first (the
/// table above), then an official name or alias in
/// `/etc/protocols`, read directly (at most 1 MiB; no NSS call, so nothing
/// here shares static state between threads). `None` for a number, which
/// callers read themselves.
pub fn protocol_number(name: &str) -> Option<u8> {
    if let Some((_, n)) = KNOWN_PROTOCOLS
        .iter()
        .find(|(p, _)| p.eq_ignore_ascii_case(name))
    {
        return Some(*n);
    }
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(PROTOCOLS_FILE)
        .ok()?
        .take(PROTOCOLS_LIMIT)
        .read_to_string(&mut text)
        .ok()?;
    protocol_in(&text, name)
}

/// The name libxtables gives protocol `n` without the protocols database,
/// if it has one (the first of the table above).
pub fn known_protocol_name(n: u8) -> Option<&'static str> {
    KNOWN_PROTOCOLS
        .iter()
        .find(|(_, k)| *k == n)
        .map(|(p, _)| *p)
}

/// `name`'s number in a protocols(5) text: `NAME NUMBER ALIASES… # comment`.
fn protocol_in(text: &str, name: &str) -> Option<u8> {
    text.lines().find_map(|line| {
        let mut w = line.split('#').next().unwrap_or("").split_whitespace();
        let official = w.next()?;
        let number = w.next()?.parse::<u8>().ok()?;
        (official.eq_ignore_ascii_case(name) || w.any(|a| a.eq_ignore_ascii_case(name)))
            .then_some(number)
    })
}

#[cfg(test)]
mod protocol_tests {
    use super::*;

    #[test]
    fn names_without_the_database() {
        assert_eq!(protocol_number("tcp"), Some(6));
        assert_eq!(protocol_number("TCP"), Some(6));
        assert_eq!(protocol_number("all"), Some(0));
        assert_eq!(protocol_number("ipv6-icmp"), Some(58));
        assert_eq!(protocol_number("no-such-protocol"), None);
        assert_eq!(protocol_number("6"), None);
        assert_eq!(known_protocol_name(6), Some("tcp"));
        assert_eq!(known_protocol_name(58), Some("icmpv6"));
        assert_eq!(known_protocol_name(99), None);
    }

    #[test]
    fn database_lines() {
        let text = "# comment\nip\t0\tIP\t\t# internet protocol\n\nxns-idp\t22\tXNS-IDP\nbad\nworse x\nbig 300 BIG\n";
        assert_eq!(protocol_in(text, "xns-idp"), Some(22));
        assert_eq!(protocol_in(text, "XNS-IDP"), Some(22));
        assert_eq!(protocol_in(text, "ip"), Some(0));
        assert_eq!(protocol_in(text, "internet"), None);
        assert_eq!(protocol_in(text, "bad"), None);
        assert_eq!(protocol_in(text, "worse"), None);
        assert_eq!(protocol_in(text, "big"), None);
    }
}
