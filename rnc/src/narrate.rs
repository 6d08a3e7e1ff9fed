//! `--explain`: one line on stderr per event, each naming the TCP state as
//! netstat spells it, read from the kernel (`TCP_INFO` while the socket is
//! open, `/proc/net/tcp{,6}` after it is closed). Never on stdout.
//!
//! This module only watches and prints: every sentence comes from
//! `rnet_core::explain::conn`. It remembers what it saw (each state and
//! when, the peer's FIN, a reset, a half-close) so that the account after
//! the close can say which path the connection took, including states
//! that passed too fast to be seen. The socket is always closed before
//! that account is given (close first, then narrate).

use crate::relay::End;
use crate::sys::{self, TcpInfo};
use rnet_core::explain::conn::{self, CloseCause, CloseStory, Closer, ConnectEnd, Found};
use rnet_core::procnet::{proc_root, Family, InetReader, Proto};
use rnet_core::tcp_state::TcpState;
use rnet_core::timing::{Hosts, TcpTimers};
use std::net::SocketAddr;
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

/// The timer column's `timewait` kind in `/proc/net/tcp`.
const TIMER_TIMEWAIT: u8 = 3;
/// The timer column's zero-window probe kind (`probe` in netstat -o).
const TIMER_PROBE: u8 = 4;
/// USER_HZ: `/proc/net/tcp` counts timer ticks at 100 a second.
const TICKS_PER_SEC: f64 = 100.0;

/// What a look at the connection found: a state, or nothing left (`None`).
type Look = Option<TcpState>;

/// Prints annotations when enabled.
pub struct Narrator {
    prog: String,
    on: bool,
    last: Option<TcpInfo>,
    /// rnc runs with `-l`.
    pub listener: bool,
    /// `-z`: one line per port, no SYN_SENT paragraph.
    pub scan: bool,
    /// `-w N`, for the words of an idle end.
    pub idle: Option<u32>,
    /// This host's settings, read at the first SYN or the close.
    timers: Option<TcpTimers>,
    /// When the first SYN of the current attempt left.
    syn_start: Option<Instant>,
    /// States seen since ESTABLISHED, in order.
    seen: Vec<TcpState>,
    /// The last state seen and the last time it was still seen.
    still: Option<(Look, Instant)>,
    /// How long the last change can have taken (ms between the look that
    /// saw it and the one before).
    gap_ms: f64,
    saw_reset: bool,
    unread: u64,
}

/// `Ctrl-C (SIGINT)` / `SIGTERM`.
fn signal_words(sig: i32) -> String {
    match sig {
        libc::SIGINT => "Ctrl-C (SIGINT)".to_string(),
        libc::SIGTERM => "SIGTERM".to_string(),
        n => format!("signal {n}"),
    }
}

impl Narrator {
    /// A narrator for program `prog`, on or off.
    pub fn new(prog: &str, on: bool) -> Self {
        Narrator {
            prog: prog.to_string(),
            on,
            last: None,
            listener: false,
            scan: false,
            idle: None,
            timers: None,
            syn_start: None,
            seen: Vec::new(),
            still: None,
            gap_ms: 0.0,
            saw_reset: false,
            unread: 0,
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

    fn timers(&mut self) -> TcpTimers {
        *self
            .timers
            .get_or_insert_with(|| TcpTimers::read(&proc_root()))
    }

    /// Notes a look at the connection that found `now`; returns whether
    /// the state changed (and records how long the change can have taken).
    fn look(&mut self, now: Look) -> bool {
        let t = Instant::now();
        let changed = match self.still {
            Some((was, at)) if was != now => {
                self.gap_ms = t.duration_since(at).as_secs_f64() * 1e3;
                true
            }
            Some(_) => false,
            None => true,
        };
        if changed {
            if let Some(s) = now {
                if self.seen.last() != Some(&s) {
                    self.seen.push(s);
                }
            }
        }
        self.still = Some((now, t));
        changed
    }

    /// A listening socket is up.
    pub fn listening(&self, local: &SocketAddr, udp: bool, keep: bool) {
        if udp {
            self.say("UDP", &conn::udp_bound(local, keep));
        } else {
            self.say("LISTEN", &conn::listening(local));
        }
    }

    /// `-u -v`: the probe datagrams nc sends before saying "succeeded".
    pub fn udp_probe(&self, w: Option<u32>) {
        self.say("UDP", &conn::udp_probe(w.unwrap_or(3)));
    }

    /// `connect()` sent the first SYN.
    pub fn syn_sent(&mut self, fd: RawFd, peer: &SocketAddr) {
        if !self.on {
            return;
        }
        self.syn_start = Some(Instant::now());
        // rnc narrates its own socket: only this host's settings matter
        // (nothing it says depends on the peer's, so RNET_PEER_SYSCTL is
        // not read).
        let hosts = Hosts::same(TcpTimers::read(&proc_root()));
        self.timers = Some(hosts.here);
        if !self.scan {
            self.say("SYN_SENT", &conn::syn_sent(peer, &hosts));
        }
        self.last = sys::tcp_info(fd);
    }

    fn syns(&self) -> u32 {
        self.last.map(|l| u32::from(l.retransmits) + 1).unwrap_or(1)
    }

    fn since_first_syn(&self) -> f64 {
        self.syn_start
            .map(|s| s.elapsed().as_secs_f64())
            .unwrap_or(0.0)
    }

    /// Called every tick while connecting: reports each SYN resent.
    pub fn connecting_tick(&mut self, fd: RawFd) {
        if !self.on {
            return;
        }
        let Some(now) = sys::tcp_info(fd) else { return };
        let before = self.last.map(|l| l.retransmits).unwrap_or(0);
        if now.state == 2 && now.retransmits > before && !self.scan {
            let t = self.timers();
            let (sends, give_up) = t.syn_send_times();
            let at = self.since_first_syn();
            for n in before + 1..=now.retransmits {
                self.say(
                    "SYN_SENT",
                    &conn::syn_resent(u32::from(n), at, &sends, give_up, &t),
                );
            }
        }
        if now.state == 2 {
            self.last = Some(now);
        }
    }

    /// Reads the SYN count of a connect about to be abandoned (before its
    /// socket is closed).
    pub fn note_syns(&mut self, fd: RawFd) {
        if let Some(now) = sys::tcp_info(fd).filter(|i| i.state == 2) {
            self.last = Some(now);
        }
    }

    /// A signal ended rnc in SYN_SENT (the socket is already closed).
    pub fn abandoned(&self, peer: &SocketAddr, sig: i32) {
        if self.syn_start.is_none() {
            return;
        }
        self.say(
            conn::CLOSED,
            &conn::syn_abandoned(
                peer,
                &signal_words(sig),
                self.syns(),
                self.since_first_syn(),
            ),
        );
    }

    /// `-z`: the port answered (the socket is already closed).
    pub fn scan_open(&self, local: &SocketAddr, peer: &SocketAddr) {
        self.say("ESTABLISHED", &conn::scan_open(local, peer));
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
        // The handshake completed even if the connection has moved on by
        // now (a client that sent and closed before accept() leaves the
        // socket in CLOSE_WAIT): say ESTABLISHED, then report the change.
        self.say("ESTABLISHED", &conn::established(local, peer, accepted));
        self.seen.clear();
        self.still = None;
        self.saw_reset = false;
        self.look(Some(TcpState::Established));
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
        let state = TcpState::try_from(now.state).ok();
        if state == Some(TcpState::Close) {
            // Both FINs are done while our descriptor is still open: the
            // kernel moved the connection to a TIME_WAIT mini-socket
            // (unless a reset closed it). Noted, not said: the account
            // after the close reads TIME_WAIT from /proc.
            if !self.saw_reset {
                let t = Instant::now();
                if let Some((was, at)) = self.still {
                    if was != Some(TcpState::TimeWait) {
                        self.gap_ms = t.duration_since(at).as_secs_f64() * 1e3;
                        self.still = Some((Some(TcpState::TimeWait), t));
                    }
                }
            }
            self.last = Some(now);
            return;
        }
        let changed = self.last.map(|l| l.state) != Some(now.state);
        if let Some(s) = state {
            self.look(Some(s));
        }
        if changed {
            match state {
                Some(s) => self.say(conn::name(s), &conn::state_while_open(s, self.listener)),
                None => self.say("UNKNOWN", &format!("state {} (unknown)", now.state)),
            }
        } else if now.total_retrans > self.last.map(|l| l.total_retrans).unwrap_or(0) {
            if let Some(s) = state {
                self.say(
                    conn::name(s),
                    &conn::retransmissions(u64::from(now.total_retrans)),
                );
            }
        }
        self.last = Some(now);
    }

    /// `-N`: rnc shut down its sending side (a half-close). The state it
    /// entered is known without a look (shutdown() moves ESTABLISHED to
    /// FIN_WAIT1 and CLOSE_WAIT to LAST_ACK before it returns), so it is
    /// said even if the peer's answer has already moved it on.
    pub fn half_closed(&mut self, fd: RawFd) {
        if !self.on {
            return;
        }
        let entered = if self
            .still
            .is_some_and(|(s, _)| s == Some(TcpState::CloseWait))
        {
            TcpState::LastAck
        } else {
            TcpState::FinWait1
        };
        let text = if entered == TcpState::FinWait1 {
            conn::half_close()
        } else {
            conn::state_while_open(entered, self.listener)
        };
        self.say(conn::name(entered), &text);
        self.look(Some(entered));
        if let Some(l) = self.last.as_mut() {
            l.state = entered.info().code;
        }
        self.tick(fd);
    }

    /// The peer's FIN arrived (read returned 0).
    pub fn peer_fin(&mut self, fd: RawFd) {
        self.tick(fd);
    }

    /// The peer reset the connection.
    pub fn reset(&mut self) {
        self.saw_reset = true;
        self.say(conn::CLOSED, &conn::reset());
    }

    /// A connect attempt failed; says which of refused, timed out or
    /// unreachable it was, from the error and the SYNs seen.
    pub fn connect_failed(&mut self, peer: &SocketAddr, err: &std::io::Error) {
        if !self.on {
            return;
        }
        let end = match err.raw_os_error() {
            Some(libc::ECONNREFUSED) => ConnectEnd::Refused,
            Some(libc::ETIMEDOUT) => ConnectEnd::TimedOut,
            Some(libc::EINPROGRESS) => ConnectEnd::WTimeout(
                self.idle
                    .unwrap_or_else(|| self.since_first_syn().round() as u32),
            ),
            Some(libc::EHOSTUNREACH) | Some(libc::ENETUNREACH) => ConnectEnd::Unreachable,
            _ => ConnectEnd::Other(err.to_string()),
        };
        let t = self.timers();
        let text = conn::connect_failed(peer, &end, self.syns(), self.since_first_syn(), &t);
        self.say(conn::CLOSED, &text);
    }

    /// Just before rnc closes the socket: the last look while it is open
    /// (state, bytes not read). Prints nothing, so the close is not
    /// delayed.
    pub fn closing(&mut self, fd: RawFd) {
        if !self.on {
            return;
        }
        self.unread = sys::unread_bytes(fd);
        let Some(now) = sys::tcp_info(fd) else { return };
        match TcpState::try_from(now.state) {
            Ok(TcpState::Close) => {}
            Ok(s) => {
                self.look(Some(s));
            }
            Err(_) => {}
        }
    }

    /// After rnc closed the socket (and, for a listener about to end, its
    /// listening socket): follows the 4-tuple in `/proc/net/tcp{,6}` while
    /// it is still changing, then says which path the close took and what
    /// the kernel keeps.
    pub fn closed(&mut self, local: &SocketAddr, peer: &SocketAddr, end: &End) {
        if !self.on {
            return;
        }
        let cause = match end {
            End::Signal(s) => CloseCause::Signal(signal_words(*s)),
            End::Done => CloseCause::Done,
            End::Idle => CloseCause::Idle(self.idle.unwrap_or(0)),
            End::Reset => CloseCause::Reset,
            End::OutputFailed(_) => CloseCause::OutputFailed,
        };
        let closer = if self
            .seen
            .iter()
            .any(|s| matches!(s, TcpState::CloseWait | TcpState::LastAck))
        {
            Closer::Passive
        } else {
            Closer::Active
        };
        let mut story = CloseStory {
            local: *local,
            peer: *peer,
            cause,
            listener: self.listener,
            closer,
            seen: Vec::new(),
            saw_reset: self.saw_reset,
            unread: self.unread,
            gap_ms: 0.0,
            timers: self.timers(),
            probing: false,
        };
        // A reset or unread data: nothing to follow.
        if self.saw_reset || self.unread > 0 {
            story.seen = self.seen.clone();
            let (label, text) = conn::after_close(&story, Found::Gone);
            self.say(&label, &text);
            return;
        }
        // Follow the states while they change: a closing state that waits
        // for an ACK for up to a second, FIN_WAIT2 (the peer's FIN) for
        // 300 ms; TIME_WAIT and a vanished connection are final. Each
        // state found on the way gets a short line once the next one is
        // seen; the last one gets the whole account.
        let start = Instant::now();
        let mut shown: Option<Found> = None;
        loop {
            let (found, timer) = lookup(local, peer);
            story.probing = timer == TIMER_PROBE;
            let state = match found {
                Found::Row { state, .. } => Some(state),
                Found::Gone => None,
            };
            let shown_state = shown.map(|f| match f {
                Found::Row { state, .. } => Some(state),
                Found::Gone => None,
            });
            if shown_state != Some(state) {
                if let Some(Found::Row { state: prev, .. }) = shown {
                    story.seen = self.seen.clone();
                    self.say(conn::name(prev), &conn::passing(&story, prev));
                }
                shown = Some(found);
            } else {
                // Keep the freshest timer reading.
                shown = Some(found);
            }
            self.look(state);
            let waited = start.elapsed();
            let done = match state {
                None | Some(TcpState::TimeWait) => true,
                Some(TcpState::FinWait2) => waited >= Duration::from_millis(300),
                Some(TcpState::FinWait1 | TcpState::Closing | TcpState::LastAck) => {
                    waited >= Duration::from_secs(1)
                }
                Some(_) => true,
            };
            if done {
                break;
            }
            let pause = if waited < Duration::from_millis(50) {
                1
            } else {
                5
            };
            std::thread::sleep(Duration::from_millis(pause));
        }
        story.seen = self.seen.clone();
        story.gap_ms = self.gap_ms;
        let (label, text) = conn::after_close(&story, shown.unwrap_or(Found::Gone));
        self.say(&label, &text);
    }
}

/// Finds a 4-tuple in `/proc/net/tcp` and `tcp6`: what is there, and the
/// kind of its timer (the `tr` column).
fn lookup(local: &SocketAddr, peer: &SocketAddr) -> (Found, u8) {
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
                let Some(state) = e.state.known() else {
                    continue;
                };
                let left = (e.timer != 0 || state == TcpState::TimeWait)
                    .then(|| e.timer_ticks as f64 / TICKS_PER_SEC);
                let left = if state == TcpState::FinWait2 && e.timer != TIMER_TIMEWAIT {
                    None
                } else {
                    left
                };
                return (Found::Row { state, left }, e.timer);
            }
        }
    }
    (Found::Gone, 0)
}
