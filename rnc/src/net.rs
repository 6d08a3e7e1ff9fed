//! Sockets: ports as netcat parses them, name resolution, connecting
//! (with `-w` and SYN narration), listening, and the socket options of
//! `-b -D -I -O -M -m -T`.

use crate::cli::Options;
use crate::error::Error;
use crate::narrate::Narrator;
use crate::sys::{self, Wake};
use rnet_core::names::{self, Hints};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

/// The transport of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// TCP
    Tcp,
    /// UDP (`-u`)
    Udp,
    /// DCCP (`-Z`)
    Dccp,
}

impl Transport {
    /// From the options.
    pub fn of(o: &Options) -> Self {
        if o.udp {
            Transport::Udp
        } else if o.dccp {
            Transport::Dccp
        } else {
            Transport::Tcp
        }
    }

    /// The name netcat prints (`tcp`, `udp`, `dccp`).
    pub fn name(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
            Transport::Dccp => "dccp",
        }
    }

    fn sock_type(self) -> Type {
        match self {
            Transport::Tcp => Type::STREAM,
            Transport::Udp => Type::DGRAM,
            Transport::Dccp => Type::DCCP,
        }
    }

    fn protocol(self) -> Option<Protocol> {
        match self {
            Transport::Tcp => Some(Protocol::TCP),
            Transport::Udp => Some(Protocol::UDP),
            Transport::Dccp => Some(Protocol::DCCP),
        }
    }

    fn raw_type(self) -> i32 {
        match self {
            Transport::Tcp => libc::SOCK_STREAM,
            Transport::Udp => libc::SOCK_DGRAM,
            Transport::Dccp => libc::SOCK_DCCP,
        }
    }
}

/// One port operand as typed, and its number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Port {
    /// The text netcat prints (`5555`, or the number of a service name).
    pub text: String,
    /// The number.
    pub number: u16,
}

/// Parses port operands: numbers, `lo-hi` ranges (either order, listed
/// ascending) and service names, with nc's messages.
pub fn parse_ports(operands: &[String], t: Transport) -> Result<Vec<Port>, String> {
    let mut out = Vec::new();
    for op in operands {
        // As nc: a range only when the operand starts with a digit; the
        // high end is checked first.
        let range = op
            .split_once('-')
            .filter(|(lo, _)| lo.starts_with(|c: char| c.is_ascii_digit()));
        if let Some((lo, hi)) = range {
            let hi = one_port(hi, t)?;
            let lo = one_port(lo, t)?;
            let (a, b) = if lo <= hi { (lo, hi) } else { (hi, lo) };
            for p in a..=b {
                out.push(Port {
                    text: p.to_string(),
                    number: p,
                });
            }
        } else {
            let n = one_port(op, t)?;
            out.push(Port {
                text: n.to_string(),
                number: n,
            });
        }
    }
    Ok(out)
}

fn one_port(s: &str, t: Transport) -> Result<u16, String> {
    match crate::cli::strtonum(s, 1, 65535) {
        Ok(n) => Ok(n as u16),
        Err("invalid") => {
            names::service_port(s, t.name()).ok_or_else(|| format!("port number invalid: {s}"))
        }
        Err(e) => Err(format!("port number {e}: {s}")),
    }
}

/// getaddrinfo hints for the options (`-4`/`-6`, `-n`) and transport.
pub fn hints(o: &Options, t: Transport, passive: bool) -> Hints {
    Hints {
        family: o.family.map_or(libc::AF_UNSPEC, |f| f.af()),
        socktype: t.raw_type(),
        protocol: 0,
        numeric_host: o.numeric,
        passive,
    }
}

/// Applies the common socket options (`-b -D -I -O -M -m -T`).
pub fn set_options(s: &Socket, o: &Options, v6: bool) -> io::Result<()> {
    if let Some(key) = &o.md5_key {
        crate::sys::set_md5sig(s.as_raw_fd(), v6, key)?;
    }
    if o.broadcast {
        s.set_broadcast(true)?;
    }
    if o.debug {
        set_int(s, libc::SOL_SOCKET, libc::SO_DEBUG, 1)?;
    }
    if let Some(n) = o.rcvbuf {
        s.set_recv_buffer_size(n as usize)?;
    }
    if let Some(n) = o.sndbuf {
        s.set_send_buffer_size(n as usize)?;
    }
    if let Some(ttl) = o.ttl {
        if v6 {
            s.set_unicast_hops_v6(ttl)?;
        } else {
            s.set_ttl_v4(ttl)?;
        }
    }
    if let Some(min) = o.minttl {
        if v6 {
            set_int(s, libc::IPPROTO_IPV6, libc::IPV6_MINHOPCOUNT, min as i32)?;
        } else {
            set_int(s, libc::IPPROTO_IP, libc::IP_MINTTL, min as i32)?;
        }
    }
    if let Some(tos) = o.tos {
        if v6 {
            s.set_tclass_v6(tos as u32)?;
        } else {
            s.set_tos_v4(tos as u32)?;
        }
    }
    Ok(())
}

fn set_int(s: &Socket, level: i32, name: i32, v: i32) -> io::Result<()> {
    crate::sys::setsockopt_int(s.as_raw_fd(), level, name, v)
}

/// A connected socket and its two ends.
pub struct Connected {
    /// The socket.
    pub sock: Socket,
    /// Our end.
    pub local: SocketAddr,
    /// Their end.
    pub peer: SocketAddr,
}

/// Connects to `addr` with nc's `-s`/`-p` binding, the `-w` timeout and
/// SYN narration. Returns the socket, `Error::Os` with why this address
/// failed (EINPROGRESS: the `-w` time ran out), or `Error::Signal`.
pub fn connect_one(
    addr: SocketAddr,
    o: &Options,
    t: Transport,
    narr: &mut Narrator,
    sigfd: i32,
) -> Result<Connected, Error> {
    let failed = |e: io::Error| Error::os("", e);
    let attempt = || -> io::Result<Socket> {
        let s = Socket::new(Domain::for_address(addr), t.sock_type(), t.protocol())?;
        if o.source_addr.is_some() || o.source_port.is_some() {
            let port = match &o.source_port {
                Some(p) => {
                    one_port(p, t).map_err(|m| io::Error::new(io::ErrorKind::InvalidInput, m))?
                }
                None => 0,
            };
            let ip: IpAddr = match &o.source_addr {
                Some(a) => {
                    let h = Hints {
                        family: if addr.is_ipv4() {
                            libc::AF_INET
                        } else {
                            libc::AF_INET6
                        },
                        socktype: t.raw_type(),
                        protocol: 0,
                        numeric_host: o.numeric,
                        passive: true,
                    };
                    names::resolve(Some(a), port, h)
                        .map_err(|m| io::Error::other(format!("getaddrinfo: {m}")))?
                        .first()
                        .map(|sa| sa.ip())
                        .ok_or_else(|| io::Error::other("getaddrinfo: no address"))?
                }
                None => {
                    if addr.is_ipv4() {
                        IpAddr::from([0, 0, 0, 0])
                    } else {
                        IpAddr::from([0u16; 8])
                    }
                }
            };
            s.set_reuse_address(true)?;
            s.bind(&SockAddr::from(SocketAddr::new(ip, port)))?;
        }
        set_options(&s, o, addr.is_ipv6())?;
        s.set_nonblocking(true)?;
        Ok(s)
    };
    let s = attempt().map_err(failed)?;
    let fd = s.as_raw_fd();
    match s.connect(&SockAddr::from(addr)) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {
            if t == Transport::Tcp {
                narr.syn_sent(fd, &addr);
            }
            // -w 0 polls once, as nc's timeout_connect does.
            let deadline = o
                .timeout
                .map(|w| Instant::now() + Duration::from_secs(u64::from(w)));
            loop {
                let mut ms: i32 = if narr.on() { 50 } else { -1 };
                if let Some(d) = deadline {
                    let left = d.saturating_duration_since(Instant::now()).as_millis() as i32;
                    ms = if ms < 0 { left } else { ms.min(left) };
                }
                match sys::wait_fd(fd, libc::POLLOUT, sigfd, ms).map_err(failed)? {
                    Wake::Signal(sig) => {
                        // Close first, then narrate.
                        narr.note_syns(fd);
                        drop(s);
                        if t == Transport::Tcp {
                            narr.abandoned(&addr, sig);
                        }
                        return Err(Error::Signal(sig));
                    }
                    Wake::Ready => break,
                    Wake::Timeout => {}
                }
                narr.connecting_tick(fd);
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Err(failed(io::Error::from_raw_os_error(libc::EINPROGRESS)));
                }
            }
            if let Some(err) = sys::so_error(fd) {
                return Err(failed(io::Error::from_raw_os_error(err)));
            }
        }
        Err(e) => return Err(failed(e)),
    }
    let local = s.local_addr().ok().and_then(|a| a.as_socket());
    let peer = s.peer_addr().ok().and_then(|a| a.as_socket());
    match (local, peer) {
        (Some(local), Some(peer)) => Ok(Connected {
            sock: s,
            local,
            peer,
        }),
        _ => Err(failed(io::Error::from_raw_os_error(libc::ENOTCONN))),
    }
}

/// Resolves a destination for connecting.
pub fn resolve_dest(
    host: &str,
    port: u16,
    o: &Options,
    t: Transport,
) -> Result<Vec<SocketAddr>, String> {
    names::resolve(Some(host), port, hints(o, t, false))
}

/// Resolves and binds the listening address (netcat listens on IPv4 unless
/// `-6` is given).
pub fn listen_socket(
    host: Option<&str>,
    port: &str,
    o: &Options,
    t: Transport,
) -> Result<(Socket, SocketAddr), Error> {
    // nc hands a number above 65535 to getaddrinfo, which keeps its low
    // 16 bits (`-l 65536` listens on a random port): rnc refuses it with
    // the wording nc uses for destination ports (docs/compat.md).
    let number = match crate::cli::strtonum(port, 0, 65535) {
        Ok(n) => n as u16,
        Err("invalid") => names::service_port(port, t.name()).ok_or_else(|| {
            Error::Msg("getaddrinfo: Servname not supported for ai_socktype".into())
        })?,
        Err(e) => return Err(Error::Msg(format!("port number {e}: {port}"))),
    };
    let mut h = hints(o, t, true);
    // Without an address and without -6, nc listens on IPv4 (0.0.0.0);
    // an address given decides its own family (`-l ::1 5555`).
    if o.family.is_none() && host.is_none() {
        h.family = libc::AF_INET;
    }
    let addrs = names::resolve(host, number, h).map_err(|e| format!("getaddrinfo: {e}"))?;
    let mut last = Error::Msg("getaddrinfo: no address".into());
    for addr in addrs {
        let r = (|| -> io::Result<Socket> {
            let s = Socket::new(Domain::for_address(addr), t.sock_type(), t.protocol())?;
            s.set_reuse_address(true)?;
            s.set_reuse_port(true)?;
            set_options(&s, o, addr.is_ipv6())?;
            s.bind(&SockAddr::from(addr))?;
            if t != Transport::Udp {
                s.listen(1)?;
            }
            Ok(s)
        })();
        match r {
            Ok(s) => {
                let local = s
                    .local_addr()
                    .ok()
                    .and_then(|a| a.as_socket())
                    .unwrap_or(addr);
                return Ok((s, local));
            }
            Err(e) => last = Error::os("", e),
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ports(v: &[&str]) -> Result<Vec<u16>, String> {
        parse_ports(
            &v.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            Transport::Tcp,
        )
        .map(|p| p.into_iter().map(|p| p.number).collect())
    }

    #[test]
    fn port_forms() {
        assert_eq!(ports(&["5555"]), Ok(vec![5555]));
        assert_eq!(ports(&["20-22"]), Ok(vec![20, 21, 22]));
        assert_eq!(ports(&["22-20"]), Ok(vec![20, 21, 22]));
        assert_eq!(
            ports(&["99999"]),
            Err("port number too large: 99999".into())
        );
        assert_eq!(ports(&["0"]), Err("port number too small: 0".into()));
        assert_eq!(ports(&["abc-5"]), Err("port number invalid: abc-5".into()));
        assert_eq!(
            ports(&["70000-70001"]),
            Err("port number too large: 70001".into())
        );
        assert_eq!(ports(&["1", "3"]), Ok(vec![1, 3]));
    }
}
