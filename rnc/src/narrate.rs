//! `--explain`: one line on stderr per event, each naming the TCP state as
//! netstat spells it, read from the kernel (`TCP_INFO` while the socket is
//! open, `/proc/net/tcp{,6}` after it is closed). Never on stdout.

use crate::sys::{self, TcpInfo};
use rnet_core::explain::ticks_to_secs;
use rnet_core::procnet::{proc_root, Family, InetReader, Proto};
use rnet_core::tcp_state::{StateCode, TcpState};
use rnet_core::timing::TcpTimers;
use std::net::SocketAddr;
use std::os::fd::RawFd;

/// Prints annotations when enabled.
pub struct Narrator {
    prog: String,
    on: bool,
    last: Option<TcpInfo>,
    /// rnc runs with `-l`.
    pub listener: bool,
}

fn state_name(code: u8) -> &'static str {
    StateCode::from(code).netstat_name()
}

/// An address as netstat prints it (`198.18.0.1:47550`, `[::1]:5555` here
/// for readability).
fn ep(a: &SocketAddr) -> String {
    a.to_string()
}

impl Narrator {
    /// A narrator for program `prog`, on or off.
    pub fn new(prog: &str, on: bool) -> Self {
        Narrator {
            prog: prog.to_string(),
            on,
            last: None,
            listener: false,
        }
    }

    /// Whether annotations are on.
    pub fn on(&self) -> bool {
        self.on
    }

    fn say(&self, state: &str, text: &str) {
        if self.on {
            eprintln!("{}: {state}: {text}", self.prog);
        }
    }

    /// A listening socket is up.
    pub fn listening(&self, local: &SocketAddr, udp: bool, keep: bool) {
        if udp && keep {
            self.say(
                "UDP",
                &format!("bound to {}; UDP has no handshake and no LISTEN state; with -k the socket stays unconnected: datagrams from every sender are read, and there is no one to answer", ep(local)),
            );
        } else if udp {
            self.say(
                "UDP",
                &format!("bound to {}; UDP has no handshake and no LISTEN state: the first datagram decides the peer", ep(local)),
            );
        } else {
            self.say(
                "LISTEN",
                &format!(
                    "listening on {}; each SYN that arrives gets a SYN|ACK (SYN_RECV) and, after the client's ACK, a new ESTABLISHED socket",
                    ep(local)
                ),
            );
        }
    }

    /// `-u -v`: the probe datagrams nc sends before saying "succeeded".
    pub fn udp_probe(&self, w: Option<u32>) {
        let secs = w.unwrap_or(3);
        self.say(
            "UDP",
            &format!(
                "UDP has no handshake: probing with {} one-byte 'X' datagrams over {secs} s (the peer receives them as data, as from nc -u -v); an ICMP port-unreachable answer makes a later send fail with 'Connection refused'",
                2 + secs
            ),
        );
    }

    /// `connect()` sent the first SYN.
    pub fn syn_sent(&mut self, fd: RawFd, peer: &SocketAddr) {
        if !self.on {
            return;
        }
        let t = TcpTimers::read(&proc_root());
        let sched = t.syn_schedule();
        self.say(
            "SYN_SENT",
            &format!(
                "SYN sent to {}; waiting for SYN|ACK; if none comes the kernel sends {} SYNs in all and gives up after about {} s (tcp_syn_retries={}{})",
                ep(peer),
                sched.sent,
                sched.timeout,
                t.syn_retries.unwrap_or(6),
                t.syn_linear_timeouts
                    .map(|n| format!(", tcp_syn_linear_timeouts={n}"))
                    .unwrap_or_default()
            ),
        );
        self.last = sys::tcp_info(fd);
    }

    /// Called every tick while connecting: reports each SYN retransmission.
    pub fn connecting_tick(&mut self, fd: RawFd) {
        if !self.on {
            return;
        }
        let Some(now) = sys::tcp_info(fd) else { return };
        let before = self.last.map(|l| l.retransmits).unwrap_or(0);
        if now.state == 2 && now.retransmits > before {
            self.say(
                "SYN_SENT",
                &format!(
                    "no answer: SYN retransmission {} (back-off {}, next try in {:.1} s); a firewall may be dropping the SYN or the SYN|ACK",
                    now.retransmits,
                    now.backoff,
                    f64::from(now.rto_us) / 1e6
                ),
            );
        }
        self.last = Some(now);
    }

    /// The handshake completed.
    pub fn established(
        &mut self,
        fd: RawFd,
        local: &SocketAddr,
        peer: &SocketAddr,
        accepted: bool,
    ) {
        if !self.on {
            return;
        }
        let how = if accepted {
            "three-way handshake complete (their SYN, our SYN|ACK, their ACK)"
        } else {
            "three-way handshake complete (our SYN, their SYN|ACK, our ACK)"
        };
        // The handshake completed even if the connection has moved on by
        // now (a client that sent and closed before accept() leaves the
        // socket in CLOSE_WAIT): say ESTABLISHED, then report the change.
        self.say(
            "ESTABLISHED",
            &format!(
                "{} <-> {}; {how}; data can flow both ways",
                ep(local),
                ep(peer)
            ),
        );
        self.last = sys::tcp_info(fd).map(|i| TcpInfo { state: 1, ..i });
        self.tick(fd);
    }

    /// Reports a state change seen by polling `TCP_INFO` (FIN_WAIT1 to
    /// FIN_WAIT2, CLOSE_WAIT, CLOSING …).
    pub fn tick(&mut self, fd: RawFd) {
        if !self.on {
            return;
        }
        let Some(now) = sys::tcp_info(fd) else { return };
        // CLOSE here means both FINs are done while our descriptor is still
        // open (the kernel moved the connection to a TIME_WAIT mini-socket);
        // what is left is reported by `left_behind` after the close.
        if now.state == 7 {
            self.last = Some(now);
            return;
        }
        if self.last.map(|l| l.state) != Some(now.state) {
            let text = match TcpState::try_from(now.state) {
                Ok(TcpState::CloseWait) if self.listener => "the peer closed first (its FIN arrived); a listening rnc ends now, as nc does, which sends our FIN".to_string(),
                Ok(TcpState::CloseWait) => "the peer closed first (its FIN arrived); this side stays in CLOSE_WAIT until rnc's input ends (Ctrl-D) or it is stopped (Ctrl-C)".to_string(),
                Ok(TcpState::FinWait1) => "this side closed first and sent its FIN; waiting for the peer's ACK".to_string(),
                Ok(TcpState::FinWait2) => "the peer acknowledged our FIN; waiting for the peer's FIN (the peer is in CLOSE_WAIT)".to_string(),
                Ok(TcpState::Closing) => "both sides sent a FIN at once (simultaneous close); waiting for the ACK of ours".to_string(),
                Ok(TcpState::LastAck) => "the peer closed first and we sent our FIN; waiting for its ACK".to_string(),
                Ok(TcpState::TimeWait) => "both FINs exchanged and this side closed first: it will wait 2MSL (60 s)".to_string(),
                Ok(TcpState::Close) => "the connection is closed".to_string(),
                Ok(s) => s.info().explanation.to_string(),
                Err(_) => "unknown state".to_string(),
            };
            self.say(state_name(now.state), &text);
        } else if now.total_retrans > self.last.map(|l| l.total_retrans).unwrap_or(0) {
            self.say(
                state_name(now.state),
                &format!(
                    "{} retransmission(s) so far: segments are being lost or dropped",
                    now.total_retrans
                ),
            );
        }
        self.last = Some(now);
    }

    /// The peer's FIN arrived (read returned 0).
    pub fn peer_fin(&mut self, fd: RawFd) {
        self.tick(fd);
    }

    /// The peer reset the connection.
    pub fn reset(&self) {
        self.say(
            "CLOSED",
            "connection reset by peer (RST): the peer's socket is gone (its program ended, or a firewall answered with tcp-reset); no TIME_WAIT on either side",
        );
    }

    /// A connect attempt failed; says which of refused, timed out or
    /// unreachable it was, from the error and the SYNs seen.
    pub fn connect_failed(&self, peer: &SocketAddr, err: &std::io::Error) {
        let syns = self.last.map(|l| u32::from(l.retransmits) + 1).unwrap_or(1);
        let text = match err.raw_os_error() {
            Some(libc::ECONNREFUSED) => format!(
                "refused: {} answered our SYN with RST (nothing listens on that port, or a firewall rejects with tcp-reset)",
                ep(peer)
            ),
            Some(libc::ETIMEDOUT) => format!(
                "timed out: no answer to {syns} SYN(s); the SYN or the SYN|ACK is being dropped"
            ),
            Some(libc::EINPROGRESS) => format!(
                "gave up after the -w timeout, still in SYN_SENT after {syns} SYN(s)"
            ),
            Some(libc::EHOSTUNREACH) | Some(libc::ENETUNREACH) => format!(
                "unreachable: an ICMP error came back for {} (no route, or a firewall rejects with icmp-*-unreachable)",
                ep(peer)
            ),
            _ => format!("connect failed: {err}"),
        };
        self.say("CLOSED", &text);
    }

    /// After rnc closed the socket: the state the 4-tuple was left in,
    /// looked up in `/proc/net/tcp{,6}`.
    pub fn left_behind(&self, local: &SocketAddr, peer: &SocketAddr) {
        if !self.on {
            return;
        }
        // Right after close() the last segments may still be in flight (the
        // peer's delayed ACK, its FIN): report the state found, then follow
        // a closing state for up to half a second and report each change,
        // so every state netstat can show is named.
        let closing = |st: u8| {
            matches!(
                TcpState::try_from(st),
                Ok(TcpState::FinWait1 | TcpState::FinWait2 | TcpState::Closing | TcpState::LastAck)
            )
        };
        let start = std::time::Instant::now();
        let mut found = lookup(local, peer);
        self.report_left(local, peer, found);
        while found.is_some_and(|(st, _, _)| closing(st))
            && start.elapsed() < std::time::Duration::from_millis(500)
        {
            std::thread::sleep(std::time::Duration::from_millis(20));
            let now = lookup(local, peer);
            if now.map(|f| f.0) != found.map(|f| f.0) {
                self.report_left(local, peer, now);
            }
            found = now;
        }
    }

    fn report_left(&self, local: &SocketAddr, peer: &SocketAddr, found: Option<(u8, u8, u64)>) {
        match found {
            Some((state, timer, ticks)) => {
                let name = state_name(state);
                let text = match TcpState::try_from(state) {
                    Ok(TcpState::TimeWait) => format!(
                        "socket closed; {} <-> {} stays in TIME_WAIT for {} s more (2MSL): this side closed first",
                        ep(local),
                        ep(peer),
                        ticks_to_secs(ticks)
                    ),
                    Ok(TcpState::FinWait2) if timer == 3 => format!(
                        "socket closed; the kernel keeps it (orphaned) in FIN_WAIT2 for {} s more (tcp_fin_timeout), waiting for the peer's FIN",
                        ticks_to_secs(ticks)
                    ),
                    Ok(TcpState::FinWait1) => "socket closed; our FIN is not yet acknowledged: the kernel keeps retransmitting it (tcp_orphan_retries)".to_string(),
                    Ok(TcpState::Closing) => "socket closed; the peer's FIN crossed ours: simultaneous close, waiting for the ACK of our FIN".to_string(),
                    Ok(TcpState::LastAck) => "socket closed after the peer's FIN; waiting for the ACK of our FIN".to_string(),
                    Ok(s) => format!("socket closed; the kernel still holds it: {}", s.info().explanation),
                    Err(_) => "socket closed".to_string(),
                };
                self.say(name, &text);
            }
            None => self.say(
                "CLOSED",
                &format!(
                    "socket closed; nothing is left of {} <-> {} (the peer closed first, or the connection was reset)",
                    ep(local),
                    ep(peer)
                ),
            ),
        }
    }
}

/// Finds a 4-tuple in `/proc/net/tcp` and `tcp6`: (state, timer, ticks).
fn lookup(local: &SocketAddr, peer: &SocketAddr) -> Option<(u8, u8, u64)> {
    let root = proc_root();
    for family in [Family::V4, Family::V6] {
        let Ok(mut r) = InetReader::open(&Proto::Tcp.path(&root, family)) else {
            continue;
        };
        while let Ok(Some(item)) = r.next_entry() {
            let Ok(e) = item else { continue };
            let canon = |a: std::net::IpAddr| match a {
                std::net::IpAddr::V6(v6) => {
                    v6.to_ipv4_mapped().map(std::net::IpAddr::V4).unwrap_or(a)
                }
                v4 => v4,
            };
            if e.local_port == local.port()
                && e.remote_port == peer.port()
                && canon(e.local) == canon(local.ip())
                && canon(e.remote) == canon(peer.ip())
            {
                return Some((e.state.code(), e.timer, e.timer_ticks));
            }
        }
    }
    None
}
