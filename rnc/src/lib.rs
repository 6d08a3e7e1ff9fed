//! rnc: OpenBSD netcat (Debian's netcat-openbsd 1.219) with the same
//! flags, messages and exit statuses, a relay that never drops a byte it
//! read, and `--explain` narration of its own TCP states on stderr.

pub mod cli;
pub mod narrate;
pub mod net;
pub mod proxy;
pub mod relay;
mod sys;
pub mod unix;

use cli::{Action, Family, Options};
use narrate::Narrator;
use net::{Connected, Transport};
use relay::{End, RelayOpts};
use rnet_core::args::split_argv_full;
use socket2::Socket;
use std::ffi::OsString;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::process::ExitCode;

/// The environment variable that turns rnc's narration on or off.
pub const EXPLAIN_ENV: &str = "RNC_EXPLAIN";

/// The version line of `-h`.
pub const VERSION_LINE: &str = "OpenBSD netcat (Debian patchlevel 1.219-1)";

/// Runs rnc with the full argument list (program name first).
pub fn run<I: IntoIterator<Item = OsString>>(args: I) -> ExitCode {
    let (prog, argv0, rest, fixes) = split_argv_full(args.into_iter().collect(), "rnc");
    if let Some(note) = rnet_core::args::dash_note(&fixes) {
        eprintln!("{prog}: {note}");
    }
    match cli::parse(&rest) {
        Action::Help => {
            eprint!(
                "{VERSION_LINE}\n{}{}{}",
                cli::USAGE,
                cli::HELP,
                cli::EXTRA_HELP
            );
            ExitCode::SUCCESS
        }
        Action::Usage(msg) => {
            if let Some(m) = msg {
                eprintln!("{argv0}: {m}");
            }
            eprint!("{}", cli::USAGE);
            ExitCode::from(1)
        }
        Action::Fail(m) => {
            eprintln!("{prog}: {m}");
            ExitCode::from(1)
        }
        Action::Run(mut o) => {
            if o.md5 {
                // As nc: the key comes from the terminal, never from argv.
                match sys::read_password("TCP MD5SIG password: ") {
                    Some(k) => o.md5_key = Some(k.into_bytes()),
                    None => {
                        eprintln!("{prog}: Unable to read TCP MD5SIG password");
                        return ExitCode::from(1);
                    }
                }
            }
            let explain = o
                .explain
                .unwrap_or_else(|| rnet_core::explain_from_env(EXPLAIN_ENV));
            let mut narr = Narrator::new(&prog, explain);
            narr.listener = o.listen;
            narr.scan = o.zero_io;
            narr.idle = o.timeout;
            let sigfd = match sys::install_signal_pipe() {
                Ok(fd) => fd,
                Err(e) => {
                    eprintln!("{prog}: {}", net::strip_os_error(&e));
                    return ExitCode::from(1);
                }
            };
            let code = if let Some(refusal) = unsupported(&o) {
                eprintln!("{prog}: {refusal}");
                1
            } else if o.family == Family::Unix {
                unix::unix_mode(&prog, &o, &mut narr, sigfd)
            } else if o.listen {
                listen_mode(&prog, &o, &mut narr, sigfd)
            } else {
                connect_mode(&prog, &o, &mut narr, sigfd)
            };
            ExitCode::from(code)
        }
    }
}

/// Flags rnc refuses, with the reason (listed in docs/compat.md).
fn unsupported(o: &Options) -> Option<&'static str> {
    if o.proxy_addr.is_some() && o.udp {
        return Some("no proxy support for UDP mode");
    }
    None
}

pub(crate) fn relay_opts(o: &Options, t: Transport, listener: bool) -> RelayOpts {
    RelayOpts {
        no_stdin: o.no_stdin,
        fin_on_eof: o.shutdown_on_eof || o.quit.is_some_and(|q| q >= 0),
        listener,
        // -w 0 is a zero poll timeout, as in nc: end at the first idle poll.
        idle: o.timeout,
        crlf: o.crlf,
        interval: o.interval.filter(|i| *i > 0),
        telnet: o.telnet,
        recv_limit: o.recv_limit,
        datagram: t == Transport::Udp,
        // -q N on a datagram socket (UDP, or UNIX with -u): nc stops at
        // stdin EOF, N seconds later; there is no FIN to wait for.
        quit_datagram: o.quit.filter(|q| *q >= 0 && o.udp).map(|q| q as u64),
    }
}

/// After a relay: `-q` lingers (a datagram relay has already lingered,
/// reading, inside the relay); SIGINT or SIGTERM end rnc by that signal;
/// a reset or a failed write to stdout is one line on stderr. Returns the
/// exit status the relay's end calls for.
pub(crate) fn finish(prog: &str, o: &Options, end: End, sigfd: i32) -> u8 {
    match end {
        End::Signal(sig) => sys::die_of(sig),
        End::Done | End::Idle => {
            if let Some(q) = o.quit.filter(|q| *q > 0 && !o.udp) {
                if let Some(sig) = sys::sleep_or_signal(q as f64, sigfd) {
                    sys::die_of(sig);
                }
            }
            0
        }
        End::Reset => {
            eprintln!("{prog}: read from network: Connection reset by peer");
            1
        }
        End::OutputFailed(e) => {
            eprintln!("{prog}: write to stdout: {}", net::strip_os_error(&e));
            1
        }
    }
}

/// Serves one connection: narration of the handshake, the relay and the
/// close. Returns how the relay ended and, for TCP, the ends whose close
/// the caller narrates with `Narrator::closed` once every socket that
/// must go is closed (close first, then narrate). The caller `finish`es.
fn serve(
    c: Connected,
    o: &Options,
    t: Transport,
    listener: bool,
    narr: &mut Narrator,
    sigfd: i32,
) -> (End, Option<(SocketAddr, SocketAddr)>) {
    let tcp = t == Transport::Tcp;
    if tcp {
        narr.established(c.sock.as_raw_fd(), &c.local, &c.peer, listener);
    }
    let end = relay::relay(c.sock.as_raw_fd(), &relay_opts(o, t, listener), narr, sigfd);
    if tcp {
        narr.closing(c.sock.as_raw_fd());
    }
    let (local, peer) = (c.local, c.peer);
    drop(c.sock);
    (end, tcp.then_some((local, peer)))
}

/// `serve`, then the account of the close (a client has no other socket
/// to close first).
fn serve_client(c: Connected, o: &Options, t: Transport, narr: &mut Narrator, sigfd: i32) -> End {
    let (end, ends) = serve(c, o, t, false, narr, sigfd);
    if let Some((local, peer)) = ends {
        narr.closed(&local, &peer, &end);
    }
    end
}

fn connect_mode(prog: &str, o: &Options, narr: &mut Narrator, sigfd: i32) -> u8 {
    let t = Transport::of(o);
    let host = &o.operands[0];
    if let Some(p) = &o.source_port {
        // Checked once, before any connect (nc fails silently here).
        if let Err(m) = net::parse_ports(std::slice::from_ref(p), t) {
            eprintln!("{prog}: {m}");
            return 1;
        }
    }
    let mut ports = match net::parse_ports(&o.operands[1..], t) {
        Ok(p) => p,
        Err(m) => {
            eprintln!("{prog}: {m}");
            return 1;
        }
    };
    if o.random {
        shuffle(&mut ports);
    }
    let mut rc = 1;
    for (i, port) in ports.iter().enumerate() {
        if i > 0 {
            if let Some(iv) = o.interval.filter(|i| *i > 0) {
                sys::sleep_secs(f64::from(iv));
            }
        }
        if let Some(spec) = &o.proxy_addr {
            match via_proxy(o, spec, host, port.number) {
                Ok(c) => {
                    rc = 0;
                    if !o.zero_io {
                        let st = finish(prog, o, serve_client(c, o, t, narr, sigfd), sigfd);
                        if st != 0 {
                            return st;
                        }
                    }
                    continue;
                }
                Err(m) => {
                    eprintln!("{prog}: {m}");
                    return 1;
                }
            }
        }
        let addrs = match net::resolve_dest(host, port.number, o, t) {
            Ok(a) => a,
            Err(e) => {
                eprintln!(
                    "{prog}: getaddrinfo for host \"{host}\" port {}: {e}",
                    port.text
                );
                return 1;
            }
        };
        let mut connected: Option<Connected> = None;
        for addr in addrs {
            match net::connect_one(addr, o, t, narr, sigfd) {
                Err(sig) => sys::die_of(sig),
                Ok(Ok(c)) => {
                    connected = Some(c);
                    break;
                }
                Ok(Err(e)) => {
                    let who = who(host, &addr);
                    let what = if e.raw_os_error() == Some(libc::EINPROGRESS) {
                        "timed out"
                    } else {
                        "failed"
                    };
                    // nc says this only with -v; rnc says why a connect
                    // failed in every case but a -z scan without -v.
                    if o.verbose || !o.zero_io {
                        eprintln!(
                            "{prog}: connect to {who} port {} ({}) {what}: {}",
                            port.text,
                            t.name(),
                            net::strip_os_error(&e)
                        );
                    }
                    narr.connect_failed(&addr, &e);
                }
            }
        }
        let Some(c) = connected else { continue };
        // A UDP "connection" always succeeds: with -v, nc's probe decides
        // whether to say so (and whether to go on); without -v nothing is
        // probed.
        if o.verbose && t == Transport::Udp {
            narr.udp_probe(o.timeout);
            match udp_probe(&c.sock, o.timeout, sigfd) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(sig) => sys::die_of(sig),
            }
        }
        rc = 0;
        if o.verbose {
            let service = if o.numeric {
                None
            } else {
                rnet_core::names::service_name(port.number, t.name())
            };
            eprintln!(
                "Connection to {} {} port [{}/{}] succeeded!",
                who(host, &c.peer),
                port.text,
                t.name(),
                service.as_deref().unwrap_or("*")
            );
        }
        if o.zero_io {
            if t == Transport::Tcp && narr.on() {
                let (local, peer) = (c.local, c.peer);
                drop(c);
                narr.scan_open(&local, &peer);
            }
            continue;
        }
        if o.pass_fd {
            if t == Transport::Tcp {
                narr.established(c.sock.as_raw_fd(), &c.local, &c.peer, false);
            }
            return match sys::send_fd(1, c.sock.as_raw_fd()) {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("{prog}: {}", net::strip_os_error(&e));
                    1
                }
            };
        }
        let st = finish(prog, o, serve_client(c, o, t, narr, sigfd), sigfd);
        if st != 0 {
            return st;
        }
    }
    rc
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
fn via_proxy(o: &Options, spec: &str, host: &str, port: u16) -> Result<Connected, String> {
    let proto = o.proxy_proto.unwrap_or(cli::ProxyProto::Socks5);
    let (phost, pport) = proxy::split_proxy(spec, proto);
    let pport = net::parse_ports(&[pport], Transport::Tcp)?
        .first()
        .map(|p| p.number)
        .ok_or_else(|| "port number invalid".to_string())?;
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
                .ok_or_else(|| "Unable to read proxy passphrase".to_string())?,
        ),
        None => None,
    };
    let auth = o.proxy_user.as_deref().zip(password.as_deref());
    let mut stream = proxy::connect_proxy(&paddrs).map_err(|e| {
        format!(
            "connect to proxy {phost} port {pport} (tcp) failed: {}",
            net::strip_os_error(&e)
        )
    })?;
    proxy::handshake(&mut stream, proto, host, port, dest, auth).map_err(|e| e.to_string())?;
    if o.verbose {
        eprintln!("Connection to {host} {port} port [tcp/*] succeeded!");
    }
    let local = stream.local_addr().map_err(|e| net::strip_os_error(&e))?;
    let peer = stream.peer_addr().map_err(|e| net::strip_os_error(&e))?;
    let sock = Socket::from(stream);
    let _ = sock.set_nonblocking(true);
    Ok(Connected { sock, local, peer })
}

/// `-u -v`: nc's probe (`udptest`): two one-byte `X` datagrams at once,
/// then one a second for `-w` seconds (3 without `-w`). A closed port
/// answers with an ICMP error, which makes a later write fail with
/// ECONNREFUSED: then the port counts as closed (`Ok(false)`). The peer
/// receives the `X` bytes as data, as with nc. `Err(sig)`: a signal came.
fn udp_probe(s: &Socket, w: Option<u32>, sigfd: i32) -> Result<bool, i32> {
    let refused =
        |r: std::io::Result<usize>| r.is_err_and(|e| e.raw_os_error() == Some(libc::ECONNREFUSED));
    if s.send(b"X").is_err() || refused(s.send(b"X")) {
        return Ok(false);
    }
    for _ in 0..w.unwrap_or(3) {
        if let Some(sig) = sys::sleep_or_signal(1.0, sigfd) {
            return Err(sig);
        }
        if refused(s.send(b"X")) {
            return Ok(false);
        }
    }
    Ok(true)
}

fn shuffle<T>(v: &mut [T]) {
    // A small xorshift seeded from the clock: `-r` only needs the order to
    // differ between runs.
    let mut x = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0x9e37_79b9_7f4a_7c15)
        | 1;
    for i in (1..v.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.swap(i, (x % (i as u64 + 1)) as usize);
    }
}

fn listen_mode(prog: &str, o: &Options, narr: &mut Narrator, sigfd: i32) -> u8 {
    let t = Transport::of(o);
    let (host, port): (Option<&str>, &str) = match o.operands.as_slice() {
        [h, p] => (Some(h.as_str()), p.as_str()),
        [p] => (o.source_addr.as_deref(), p.as_str()),
        _ => (
            o.source_addr.as_deref(),
            o.source_port.as_deref().unwrap_or(""),
        ),
    };
    let (lsock, local) = match net::listen_socket(host, port, o, t) {
        Ok(x) => x,
        Err(m) => {
            eprintln!("{prog}: {m}");
            return 1;
        }
    };
    if o.verbose {
        // As nc: a UDP socket is bound, never listening.
        eprintln!(
            "{} on {} {}",
            if t == Transport::Udp {
                "Bound"
            } else {
                "Listening"
            },
            rnet_core::names::host_text(&local, o.numeric),
            local.port()
        );
    }
    narr.listening(&local, t == Transport::Udp, o.keep);
    if t == Transport::Udp && o.keep {
        // -u -k: the socket stays unconnected and takes datagrams from
        // every sender; it has no one to answer (as nc).
        let _ = lsock.set_nonblocking(true);
        let ropts = relay_opts(o, t, true);
        return finish(
            prog,
            o,
            relay::relay(lsock.as_raw_fd(), &ropts, narr, sigfd),
            sigfd,
        );
    }
    let mut lsock = Some(lsock);
    loop {
        let Some(l) = lsock.as_ref() else { return 1 };
        let conn = if t == Transport::Udp {
            match udp_first_datagram(l, sigfd) {
                Ok(peer) => Connected {
                    sock: match l.try_clone() {
                        Ok(s) => s,
                        Err(e) => {
                            eprintln!("{prog}: {}", net::strip_os_error(&e));
                            return 1;
                        }
                    },
                    local,
                    peer,
                },
                Err(Some(sig)) => sys::die_of(sig),
                Err(None) => return 1,
            }
        } else {
            match accept(l, sigfd) {
                Ok(c) => c,
                Err(Some(sig)) => sys::die_of(sig),
                Err(None) => {
                    eprintln!(
                        "{prog}: accept: {}",
                        net::strip_os_error(&std::io::Error::last_os_error())
                    );
                    return 1;
                }
            }
        };
        if o.verbose {
            eprintln!(
                "Connection received on {} {}",
                rnet_core::names::host_text(&conn.peer, o.numeric),
                conn.peer.port()
            );
        }
        let (end, ends) = serve(conn, o, t, true, narr, sigfd);
        // With -k a reset ends only that client; a dead stdout ends all.
        let fatal = matches!(end, End::OutputFailed(_));
        let last = !o.keep || t == Transport::Udp || fatal || matches!(end, End::Signal(_));
        if last {
            // Close first, then narrate: the LISTEN socket goes before the
            // account of the connection's close, which may follow the
            // kernel's states for up to a second.
            lsock = None;
        }
        if let Some((local, peer)) = ends {
            narr.closed(&local, &peer, &end);
        }
        let st = finish(prog, o, end, sigfd);
        if last {
            return st;
        }
    }
}

/// Waits for a connection (or a signal).
fn accept(l: &Socket, sigfd: i32) -> Result<Connected, Option<i32>> {
    loop {
        if !sys::wait_fd(l.as_raw_fd(), libc::POLLIN, sigfd, -1)? {
            continue;
        }
        match l.accept() {
            Ok((s, peer)) => {
                let local = s.local_addr().ok().and_then(|a| a.as_socket());
                let Some(peer) = peer.as_socket() else {
                    return Err(None);
                };
                let Some(local) = local else { return Err(None) };
                let _ = s.set_nonblocking(true);
                return Ok(Connected {
                    sock: s,
                    local,
                    peer,
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return Err(None),
        }
    }
}

/// `-u -l` without `-k`: waits for the first datagram and locks onto its
/// sender (connects the socket to it, as nc): replies go there, and the
/// kernel refuses datagrams from anyone else.
fn udp_first_datagram(s: &Socket, sigfd: i32) -> Result<SocketAddr, Option<i32>> {
    let from = unix::first_sender(s, sigfd)?;
    let Some(peer) = from.as_socket() else {
        return Err(None);
    };
    if s.connect(&from).is_err() {
        return Err(None);
    }
    let _ = s.set_nonblocking(true);
    Ok(peer)
}
