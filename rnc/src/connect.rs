//! The client: for each port of the list, each address the destination
//! resolves to (or the `-x` proxy), until one connects; then `-z` closes
//! it (`scan`), `-F` passes it on, or the relay serves it.

use crate::cli::{self, Options};
use crate::error::{os_text, Error};
use crate::narrate::Narrator;
use crate::net::{self, Connected, Port, Transport};
use crate::serve::{serve_client, Session};
use crate::{proxy, scan, sys, udp};
use socket2::Socket;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;

/// Runs the client. `Err(Error::Quiet)` when no port connected (each
/// failure was said as it happened, where nc says it).
pub(crate) fn connect_mode(session: Session) -> Result<(), Error> {
    let (prog, o, narr, sigfd) = (session.prog, session.o, session.narr, session.sigfd);
    let t = Transport::of(o);
    let host = &o.operands[0];
    let ports = scan::ports(o, t)?;
    let mut any = false;
    for (i, port) in ports.iter().enumerate() {
        if i > 0 {
            if let Some(iv) = o.interval.filter(|i| *i > 0) {
                sys::sleep_secs(f64::from(iv));
            }
        }
        if let Some(spec) = &o.proxy_addr {
            let c = via_proxy(o, spec, host, port.number)?;
            any = true;
            if !o.zero_io {
                serve_client(c, o, t, narr, sigfd)?;
            }
            continue;
        }
        let Some(c) = connect_port(prog, o, t, host, port, narr, sigfd)? else {
            continue;
        };
        // A UDP "connection" always succeeds: with -v, nc's probe decides
        // whether to say so (and whether to go on); without -v nothing is
        // probed.
        if o.verbose && t == Transport::Udp {
            narr.udp_probe(o.timeout);
            if !udp::probe(&c.sock, o.timeout, sigfd)? {
                continue;
            }
        }
        any = true;
        if o.verbose {
            succeeded(o, host, port, t, &c.peer);
        }
        if o.zero_io {
            scan::open(c, t, narr);
            continue;
        }
        if o.pass_fd {
            if t == Transport::Tcp {
                narr.established(c.sock.as_raw_fd(), &c.local, &c.peer, false);
            }
            return sys::send_fd(1, c.sock.as_raw_fd()).map_err(|e| Error::os("", e));
        }
        serve_client(c, o, t, narr, sigfd)?;
    }
    if any {
        Ok(())
    } else {
        Err(Error::Quiet)
    }
}

/// Tries each address of `host` for `port` in turn; `None` when none
/// connected (each failure said, as nc says it with `-v`).
fn connect_port(
    prog: &str,
    o: &Options,
    t: Transport,
    host: &str,
    port: &Port,
    narr: &mut Narrator,
    sigfd: i32,
) -> Result<Option<Connected>, Error> {
    let addrs = net::resolve_dest(host, port.number, o, t).map_err(|e| {
        Error::Msg(format!(
            "getaddrinfo for host \"{host}\" port {}: {e}",
            port.text
        ))
    })?;
    for addr in addrs {
        let e = match net::connect_one(addr, o, t, narr, sigfd) {
            Ok(c) => return Ok(Some(c)),
            Err(Error::Os(_, e)) => e,
            Err(other) => return Err(other),
        };
        let what = if e.raw_os_error() == Some(libc::EINPROGRESS) {
            "timed out"
        } else {
            "failed"
        };
        // nc says this only with -v; rnc says why a connect failed in
        // every case but a -z scan without -v.
        if o.verbose || !o.zero_io {
            eprintln!(
                "{prog}: connect to {} port {} ({}) {what}: {}",
                who(host, &addr),
                port.text,
                t.name(),
                os_text(&e)
            );
        }
        narr.connect_failed(&addr, &e);
    }
    Ok(None)
}

/// `-v`: `Connection to HOST PORT port [tcp/SERVICE] succeeded!`
fn succeeded(o: &Options, host: &str, port: &Port, t: Transport, peer: &SocketAddr) {
    let service = if o.numeric {
        None
    } else {
        rnet_core::names::service_name(port.number, t.name())
    };
    eprintln!(
        "Connection to {} {} port [{}/{}] succeeded!",
        who(host, peer),
        port.text,
        t.name(),
        service.as_deref().unwrap_or("*")
    );
}

/// How nc names a destination: as typed, plus the address when a name
/// was typed (`localhost (127.0.0.1)`).
fn who(host: &str, addr: &SocketAddr) -> String {
    let ip = match addr.ip() {
        std::net::IpAddr::V6(a) => rnet_core::addr::ntop6(&a),
        v4 => v4.to_string(),
    };
    if ip == host {
        host.to_string()
    } else {
        format!("{host} ({ip})")
    }
}

/// `-x`: connects through a SOCKS or HTTP CONNECT proxy.
fn via_proxy(o: &Options, spec: &str, host: &str, port: u16) -> Result<Connected, Error> {
    let proto = o.proxy_proto.unwrap_or(cli::ProxyProto::Socks5);
    let (phost, pport) = proxy::split_proxy(spec, proto);
    let pport = net::parse_ports(&[pport], Transport::Tcp)?
        .first()
        .map(|p| p.number)
        .ok_or_else(|| Error::Msg("port number invalid".into()))?;
    let hints = net::hints(o, Transport::Tcp, false);
    let paddrs = rnet_core::names::resolve(Some(&phost), pport, hints)
        .map_err(|e| format!("getaddrinfo for host \"{phost}\" port {pport}: {e}"))?;
    // SOCKS v4 and numeric destinations travel as addresses; SOCKS v5
    // sends a name as a name, so the proxy resolves it.
    let dest: Option<std::net::IpAddr> = match host.parse() {
        Ok(ip) => Some(ip),
        Err(_) if proto == cli::ProxyProto::Socks4 || o.numeric => {
            let h = rnet_core::names::Hints {
                family: libc::AF_INET,
                ..hints
            };
            let a = rnet_core::names::resolve(Some(host), port, h)
                .map_err(|e| format!("getaddrinfo for host \"{host}\" port {port}: {e}"))?;
            a.first().map(|a| a.ip())
        }
        Err(_) => None,
    };
    let password = match &o.proxy_user {
        Some(user) => Some(
            sys::read_password(&format!("Proxy password for {user}@{phost}: "))
                .ok_or_else(|| Error::Msg("Unable to read proxy passphrase".into()))?,
        ),
        None => None,
    };
    let auth = o.proxy_user.as_deref().zip(password.as_deref());
    let mut stream = proxy::connect_proxy(&paddrs).map_err(|e| {
        Error::os(
            format!("connect to proxy {phost} port {pport} (tcp) failed"),
            e,
        )
    })?;
    proxy::handshake(&mut stream, proto, host, port, dest, auth)
        .map_err(|e| Error::Msg(e.to_string()))?;
    if o.verbose {
        eprintln!("Connection to {host} {port} port [tcp/*] succeeded!");
    }
    let local = stream.local_addr().map_err(|e| Error::os("", e))?;
    let peer = stream.peer_addr().map_err(|e| Error::os("", e))?;
    let sock = Socket::from(stream);
    sock.set_nonblocking(true).map_err(|e| Error::os("", e))?;
    Ok(Connected { sock, local, peer })
}
