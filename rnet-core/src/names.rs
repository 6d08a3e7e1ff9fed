//! Name service lookups shared by the tools, through glibc's NSS exactly
//! as the originals do them (net-tools' `gethostbyaddr`/`getnameinfo`,
//! `getservent`; netcat's `getaddrinfo`, `getnameinfo`, `getservbyport`),
//! so `/etc/hosts`, `/etc/services` and `nsswitch.conf` give both the
//! same answers. Each call is one safe function over one libc call.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// `getnameinfo` for an IPv4 address; `None` if no name is known
/// (`NI_NAMEREQD`). Same answer as net-tools' `gethostbyaddr`: both return
/// the entry's official name.
pub fn host_name_v4(addr: Ipv4Addr) -> Option<String> {
    // SAFETY: sockaddr_in is plain old data; all-zero is a valid value.
    let mut sa: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    sa.sin_family = libc::AF_INET as libc::sa_family_t;
    sa.sin_addr.s_addr = u32::from_ne_bytes(addr.octets());
    let mut host = [0 as libc::c_char; 1025];
    // SAFETY: `sa` is a valid sockaddr_in of the length passed; `host` is a
    // writable buffer of the length passed; the service buffer is null/0.
    let rc = unsafe {
        libc::getnameinfo(
            (&sa as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            host.as_mut_ptr(),
            host.len() as libc::socklen_t,
            std::ptr::null_mut(),
            0,
            libc::NI_NAMEREQD,
        )
    };
    if rc != 0 {
        return None;
    }
    // SAFETY: on success getnameinfo wrote a NUL-terminated string.
    Some(
        unsafe { CStr::from_ptr(host.as_ptr()) }
            .to_string_lossy()
            .into_owned(),
    )
}

/// `getnameinfo` for an IPv6 address with flags 0, as net-tools calls it:
/// the numeric form comes back when no name is known. `None` on failure.
pub fn host_name_v6(addr: Ipv6Addr) -> Option<String> {
    // SAFETY: sockaddr_in6 is plain old data; all-zero is a valid value.
    let mut sa: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
    sa.sin6_family = libc::AF_INET6 as libc::sa_family_t;
    sa.sin6_addr.s6_addr = addr.octets();
    let mut host = [0 as libc::c_char; 1025];
    // SAFETY: as in host_name_v4, with a sockaddr_in6.
    let rc = unsafe {
        libc::getnameinfo(
            (&sa as *const libc::sockaddr_in6).cast(),
            std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
            host.as_mut_ptr(),
            host.len() as libc::socklen_t,
            std::ptr::null_mut(),
            0,
            0,
        )
    };
    if rc != 0 {
        return None;
    }
    // SAFETY: on success getnameinfo wrote a NUL-terminated string.
    Some(
        unsafe { CStr::from_ptr(host.as_ptr()) }
            .to_string_lossy()
            .into_owned(),
    )
}

/// `getnetbyaddr` (the `/etc/networks` database), used by net-tools for
/// IPv4 addresses whose last octet is 0.
pub fn net_name(addr: Ipv4Addr) -> Option<String> {
    // SAFETY: getnetbyaddr takes a host-order number and returns either
    // null or a pointer to a static netent whose n_name is a C string; we
    // copy it out before any other NSS call.
    unsafe {
        let ent = libc::getnetbyaddr(u32::from(addr), libc::AF_INET);
        if ent.is_null() || (*ent).n_name.is_null() {
            return None;
        }
        Some(CStr::from_ptr((*ent).n_name).to_string_lossy().into_owned())
    }
}

/// Every `(port, proto, name)` of the services database, in file order
/// (`setservent`/`getservent`/`endservent`). Ports are host order.
pub fn all_services() -> Vec<(u16, String, String)> {
    let mut out = Vec::new();
    // SAFETY: the getservent family is not thread-safe; rnetstat calls it
    // from one thread only. Each returned pointer is valid until the next
    // call, and we copy the strings before that.
    unsafe {
        libc::setservent(1);
        loop {
            let ent = libc::getservent();
            if ent.is_null() {
                break;
            }
            let e = &*ent;
            if e.s_name.is_null() || e.s_proto.is_null() {
                continue;
            }
            let port = u16::from_be(e.s_port as u16);
            let name = CStr::from_ptr(e.s_name).to_string_lossy().into_owned();
            let proto = CStr::from_ptr(e.s_proto).to_string_lossy().into_owned();
            out.push((port, proto, name));
        }
        libc::endservent();
    }
    out
}

/// The name of a port in the services database (`getservbyport`).
pub fn service_name(port: u16, proto: &str) -> Option<String> {
    let proto = CString::new(proto).ok()?;
    // SAFETY: getservbyport returns null or a pointer to static storage
    // valid until the next call; the name is copied out at once. Callers
    // are single-threaded with respect to the services database.
    unsafe {
        let ent = libc::getservbyport(i32::from(port.to_be()), proto.as_ptr());
        if ent.is_null() || (*ent).s_name.is_null() {
            return None;
        }
        Some(CStr::from_ptr((*ent).s_name).to_string_lossy().into_owned())
    }
}

/// The name of an IP protocol number (`getprotobynumber`, `/etc/protocols`).
pub fn protocol_name(n: u16) -> Option<String> {
    // SAFETY: getprotobynumber returns null or a pointer to static storage
    // valid until the next call; the name is copied out at once.
    unsafe {
        let ent = libc::getprotobynumber(i32::from(n));
        if ent.is_null() || (*ent).p_name.is_null() {
            return None;
        }
        Some(CStr::from_ptr((*ent).p_name).to_string_lossy().into_owned())
    }
}

/// The port of a service name (`getservbyname`), host order.
pub fn service_port(name: &str, proto: &str) -> Option<u16> {
    let name = CString::new(name).ok()?;
    let proto = CString::new(proto).ok()?;
    // SAFETY: as in service_name; s_port is copied out at once.
    unsafe {
        let ent = libc::getservbyname(name.as_ptr(), proto.as_ptr());
        if ent.is_null() {
            return None;
        }
        Some(u16::from_be((*ent).s_port as u16))
    }
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
    // SAFETY: addrinfo is plain old data; all-zero is a valid value.
    let mut h: libc::addrinfo = unsafe { std::mem::zeroed() };
    h.ai_family = hints.family;
    h.ai_socktype = hints.socktype;
    h.ai_protocol = hints.protocol;
    h.ai_flags = libc::AI_NUMERICSERV
        | if hints.numeric_host {
            libc::AI_NUMERICHOST
        } else {
            0
        }
        | if hints.passive { libc::AI_PASSIVE } else { 0 };
    let mut res: *mut libc::addrinfo = std::ptr::null_mut();
    // SAFETY: the strings are NUL-terminated and live across the call; on
    // success `res` is a list we walk read-only and free exactly once.
    let rc = unsafe {
        libc::getaddrinfo(
            host_c.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
            port_c.as_ptr(),
            &h,
            &mut res,
        )
    };
    if rc != 0 {
        // SAFETY: gai_strerror returns a static NUL-terminated string.
        let msg = unsafe { CStr::from_ptr(libc::gai_strerror(rc)) };
        return Err(msg.to_string_lossy().into_owned());
    }
    let mut out = Vec::new();
    let mut cur = res;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getaddrinfo returned; its
        // ai_addr points to a sockaddr of ai_addrlen bytes of ai_family.
        unsafe {
            let ai = &*cur;
            if !ai.ai_addr.is_null() {
                match ai.ai_family {
                    libc::AF_INET => {
                        let sa = &*(ai.ai_addr as *const libc::sockaddr_in);
                        out.push(SocketAddr::V4(SocketAddrV4::new(
                            Ipv4Addr::from(sa.sin_addr.s_addr.to_ne_bytes()),
                            u16::from_be(sa.sin_port),
                        )));
                    }
                    libc::AF_INET6 => {
                        let sa = &*(ai.ai_addr as *const libc::sockaddr_in6);
                        out.push(SocketAddr::V6(SocketAddrV6::new(
                            Ipv6Addr::from(sa.sin6_addr.s6_addr),
                            u16::from_be(sa.sin6_port),
                            sa.sin6_flowinfo,
                            sa.sin6_scope_id,
                        )));
                    }
                    _ => {}
                }
            }
            cur = ai.ai_next;
        }
    }
    // SAFETY: `res` came from a successful getaddrinfo and is freed once.
    unsafe { libc::freeaddrinfo(res) };
    Ok(out)
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
