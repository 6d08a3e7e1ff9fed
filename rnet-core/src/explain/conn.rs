//! One connection as its own program lives it (rnc's `--explain`): the
//! handshake, each SYN resent, the close and every state the close passes
//! through, and what the kernel keeps after the program let go.
//!
//! Every function takes what the program saw (typed states, addresses,
//! counts, clock readings) and returns the sentence; the program only
//! watches and prints (`rnc: STATE: text`). Figures come from
//! [`crate::timing`] and durations are worded by [`super::duration`].

use super::{duration, plural, times, TIMERS_RUN_LATE};
use crate::tcp_state::TcpState;
use crate::timing::{unacked_give_up, Hosts, Knob, TcpTimers, TIME_WAIT_SECS};
use std::net::SocketAddr;

/// The state name as netstat spells it.
pub fn name(s: TcpState) -> &'static str {
    s.info().netstat
}

/// The label of a line about a connection that is gone (nothing left in
/// the kernel's tables).
pub const CLOSED: &str = "CLOSED";

// ------------------------------------------------------------ opening

/// `LISTEN`: a listening socket is up on `local`.
pub fn listening(local: &SocketAddr) -> String {
    format!(
        "listening on {local}; each SYN that arrives gets a SYN|ACK (SYN_RECV) and, after the client's ACK, a new ESTABLISHED socket"
    )
}

/// A UDP socket bound on `local` (`keep`: `-k`, never connected).
pub fn udp_bound(local: &SocketAddr, keep: bool) -> String {
    if keep {
        format!("bound to {local}; UDP has no handshake and no LISTEN state; with -k the socket stays unconnected: datagrams from every sender are read, and there is no one to answer")
    } else {
        format!("bound to {local}; UDP has no handshake and no LISTEN state: the first datagram decides the peer")
    }
}

/// `-u -v`: the probe nc sends before saying "succeeded", over `secs`.
pub fn udp_probe(secs: u32) -> String {
    format!(
        "UDP has no handshake: probing with {} one-byte 'X' datagrams over {secs} s (the peer receives them as data, as from nc -u -v); an ICMP port-unreachable answer makes a later send fail with 'Connection refused'",
        2 + u64::from(secs)
    )
}

/// `0, 1, 2 and 4`: send times in seconds.
fn time_list(ts: &[u64]) -> String {
    let words: Vec<String> = ts.iter().map(u64::to_string).collect();
    match words.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) if rest.len() < 16 => format!("{} and {last}", rest.join(", ")),
        Some((last, rest)) => format!("{}, … and {last}", rest[..8].join(", ")),
    }
}

/// What tcp_syn_retries (and tcp_syn_linear_timeouts, where the kernel
/// has it) make of the budget, for this host's settings.
fn syn_budget_words(t: &TcpTimers) -> String {
    let r = Knob::SynRetries.value(t);
    match t.syn_linear_timeouts {
        Some(l) if l > 0 => format!(
            "the limit is a time budget set by tcp_syn_retries={r}, not a count of SYNs: tcp_syn_linear_timeouts={l} resends the first SYNs 1 s apart inside it"
        ),
        Some(l) => format!(
            "the limit is a time budget set by tcp_syn_retries={r} (tcp_syn_linear_timeouts={l}), not a count of SYNs"
        ),
        None => format!("the limit is a time budget set by tcp_syn_retries={r}, not a count of SYNs"),
    }
}

/// `SYN_SENT`: `connect()` sent the first SYN to `peer`; predicts the SYNs
/// and the give-up time from this host's settings (`hosts.here`: the SYN
/// schedule is the connecting host's alone).
pub fn syn_sent(peer: &SocketAddr, hosts: &Hosts) -> String {
    let t = &hosts.here;
    let sched = t.syn_schedule();
    let (sends, _) = t.syn_send_times();
    format!(
        "SYN sent to {peer}; waiting for SYN|ACK; if none comes the kernel sends {} SYNs in all (at {} s) and gives up {} after the first SYN: {}; {TIMERS_RUN_LATE}",
        sched.sent,
        time_list(&sends),
        duration(sched.timeout as f64),
        syn_budget_words(t),
    )
}

/// `SYN_SENT`: no SYN|ACK yet and the SYN was resent `resent` times so
/// far, `at` seconds after the first SYN (the clock's reading); `sends`
/// and `give_up` are the schedule of [`TcpTimers::syn_send_times`].
pub fn syn_resent(resent: u32, at: f64, sends: &[u64], give_up: u64, t: &TcpTimers) -> String {
    let total = sends.len();
    let this = resent as usize + 1;
    let head = format!(
        "no answer: SYN resent {} ({at:.1} s after the first)",
        times(u64::from(resent))
    );
    let why = "a firewall may be dropping the SYN or the SYN|ACK";
    if this < total {
        format!(
            "{head}, SYN {this} of {total}; if none comes the next goes {} after the first; {why}",
            duration(sends[this] as f64)
        )
    } else {
        let left = (give_up as f64 - at).max(0.0);
        format!(
            "{head}, the last SYN: no more tries; the kernel gives up {} after the first SYN, about {} from now ({}); {why}",
            duration(give_up as f64),
            duration(left),
            syn_budget_words(t),
        )
    }
}

/// `6 SYNs (the first, then resent 5 times)`.
pub fn syns_text(syns: u32) -> String {
    if syns <= 1 {
        "1 SYN (none resent)".to_string()
    } else {
        format!(
            "{syns} SYNs (the first, then resent {})",
            times(u64::from(syns - 1))
        )
    }
}

/// Why a connect attempt ended without a connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConnectEnd {
    /// The peer answered the SYN with a RST.
    Refused,
    /// The kernel gave up: no SYN|ACK within its time budget.
    TimedOut,
    /// `-w N` ran out first.
    WTimeout(u32),
    /// An ICMP error came back.
    Unreachable,
    /// Any other error, as the system words it.
    Other(String),
}

/// `CLOSED`: a connect to `peer` failed after `syns` SYNs and `secs`
/// seconds; `t` is this host's settings.
pub fn connect_failed(
    peer: &SocketAddr,
    end: &ConnectEnd,
    syns: u32,
    secs: f64,
    t: &TcpTimers,
) -> String {
    match end {
        ConnectEnd::Refused => format!(
            "{peer} refused: our SYN was answered with a RST (nothing listens on that port, or a firewall rejects with tcp-reset)"
        ),
        ConnectEnd::TimedOut => format!(
            "{peer} timed out: {} and no SYN|ACK in {secs:.1} s; the kernel gave up ({}); the SYN or the SYN|ACK is being dropped",
            syns_text(syns),
            syn_budget_words(t)
        ),
        ConnectEnd::WTimeout(w) => format!(
            "{peer}: gave up after the -w timeout of {w} s, still in SYN_SENT after {}; rnc closed the socket and the kernel sends nothing more (no RST: nothing answered the SYN)",
            syns_text(syns)
        ),
        ConnectEnd::Unreachable => format!(
            "{peer} unreachable: an ICMP error came back (no route, or a firewall rejects with icmp-*-unreachable)"
        ),
        ConnectEnd::Other(e) => format!("connect to {peer} failed: {e}"),
    }
}

/// `CLOSED`: a signal (`signal`, e.g. `Ctrl-C (SIGINT)`) ended rnc in
/// SYN_SENT, `secs` after the first SYN, with `syns` sent.
pub fn syn_abandoned(peer: &SocketAddr, signal: &str, syns: u32, secs: f64) -> String {
    format!(
        "{signal} {secs:.1} s after the first SYN: the connection attempt to {peer} is abandoned in SYN_SENT after {}; rnc closed the socket and the kernel sends nothing more: no FIN (no connection was made) and no RST (nothing answered the SYN), so {peer} never hears of it",
        syns_text(syns)
    )
}

/// `-z`, the port answered: one line for the port.
pub fn scan_open(local: &SocketAddr, peer: &SocketAddr) -> String {
    format!(
        "{peer} open: three-way handshake complete from {local} (our SYN, their SYN|ACK, our ACK); -z closes at once, which sends our FIN"
    )
}

/// `ESTABLISHED`: the handshake completed (`accepted`: on the listening
/// side).
pub fn established(local: &SocketAddr, peer: &SocketAddr, accepted: bool) -> String {
    let how = if accepted {
        "three-way handshake complete (their SYN, our SYN|ACK, their ACK)"
    } else {
        "three-way handshake complete (our SYN, their SYN|ACK, our ACK)"
    };
    format!("{local} <-> {peer}; {how}; data can flow both ways")
}

// ---------------------------------------------------- while it is open

/// Which end a sentence is about, for the article's Exercise 1 step i.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// The `nc -l` side.
    Server,
    /// The side that connected.
    Client,
}

/// The one sentence that ties Exercise 1 step i (Ctrl-C on the server
/// after data was exchanged) to what this system does.
pub fn article_step_i(me: End) -> String {
    let (client, server) = match me {
        End::Server => ("the client", "this server"),
        End::Client => ("this client", "the server"),
    };
    format!(
        "The article (Exercise 1, step i) shows the server in TIME_WAIT and the client fully closed here, because the nc it used quit as soon as the network side closed; Debian's nc 1.219, which rnc follows, keeps the client until its own input ends (TCP allows a half-close: a FIN only says the peer will send nothing more), so {client} stays in CLOSE_WAIT until Ctrl-D or Ctrl-C and {server} waits in FIN_WAIT2 meanwhile."
    )
}

/// `CLOSE_WAIT`: the peer's FIN arrived while rnc holds the socket.
/// `listener`: rnc runs with `-l` (it ends at once, as nc).
pub fn peer_closed(listener: bool) -> String {
    if listener {
        "the peer closed first (its FIN arrived and the kernel acknowledged it); a listening rnc ends now, as nc does: closing the socket sends our FIN (LAST_ACK until the peer acknowledges it)".to_string()
    } else {
        format!(
            "the peer closed first (its FIN arrived and the kernel acknowledged it); this side stays in CLOSE_WAIT until rnc's input ends (Ctrl-D) or it is stopped (Ctrl-C); then our FIN goes (LAST_ACK). {}",
            article_step_i(End::Client)
        )
    }
}

/// `FIN_WAIT1` after `-N`: stdin ended and rnc shut down its sending side.
pub fn half_close() -> String {
    "rnc's input ended and -N shut down the sending side only (shutdown(SHUT_WR), a half-close): our FIN is sent, and this side can still receive until the peer's FIN comes; waiting for the ACK of our FIN".to_string()
}

/// A state reached while rnc still holds the socket (seen by polling
/// `TCP_INFO`). `listener`: rnc runs with `-l`.
pub fn state_while_open(s: TcpState, listener: bool) -> String {
    match s {
        TcpState::CloseWait => peer_closed(listener),
        TcpState::FinWait1 => half_close(),
        TcpState::FinWait2 => "the peer acknowledged our FIN; this side can still receive until the peer's FIN comes (the peer is in CLOSE_WAIT); rnc holds the socket, so no timer ends this state".to_string(),
        TcpState::Closing => "the peer's FIN crossed ours (a simultaneous close: each side sent its FIN before it received the other's); waiting for the ACK of ours, then both sides pass through TIME_WAIT".to_string(),
        TcpState::LastAck => "the peer closed first and we sent our FIN; waiting for its ACK".to_string(),
        TcpState::TimeWait => time_wait_why(false),
        TcpState::Close => "the connection is closed".to_string(),
        other => other.info().explanation.to_string(),
    }
}

/// The kernel resent segments of an open connection `n` times in all.
pub fn retransmissions(n: u64) -> String {
    format!(
        "the kernel has resent segments {} on this connection: segments are being lost or dropped",
        times(n)
    )
}

/// `CLOSED`: the peer reset the connection.
pub fn reset() -> String {
    "connection reset by peer (RST): the peer's socket is gone (its program ended, or a firewall answered with tcp-reset); no TIME_WAIT on either side".to_string()
}

// ------------------------------------------------------------ closing

/// What made rnc close its socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CloseCause {
    /// A signal, as a learner types it (`Ctrl-C (SIGINT)`).
    Signal(String),
    /// The relay ended by netcat's rules (input and network done).
    Done,
    /// `-w N`: no data for N seconds.
    Idle(u32),
    /// A reset ended the relay.
    Reset,
    /// Writing stdout failed.
    OutputFailed,
}

impl CloseCause {
    fn words(&self) -> String {
        match self {
            CloseCause::Signal(s) => format!("after {s}"),
            CloseCause::Done => "with both directions done".to_string(),
            CloseCause::Idle(w) => format!("after -w {w}: no data for {w} s"),
            CloseCause::Reset => "after a reset".to_string(),
            CloseCause::OutputFailed => "when writing stdout failed".to_string(),
        }
    }
}

/// Who sent the first FIN, as rnc saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Closer {
    /// This side: closed (or half-closed) while ESTABLISHED.
    Active,
    /// The peer: its FIN came first (CLOSE_WAIT).
    Passive,
}

/// What rnc knew when it closed the socket, and what it has found since.
#[derive(Clone, Debug)]
pub struct CloseStory {
    /// This end.
    pub local: SocketAddr,
    /// The other end.
    pub peer: SocketAddr,
    /// Why rnc closed.
    pub cause: CloseCause,
    /// rnc runs with `-l`.
    pub listener: bool,
    /// Who sent the first FIN.
    pub closer: Closer,
    /// Every state rnc has seen since ESTABLISHED, in order (by polling
    /// `TCP_INFO` while open and `/proc/net/tcp` after the close).
    pub seen: Vec<TcpState>,
    /// A reset was seen before the close.
    pub saw_reset: bool,
    /// Bytes received but not read when the socket was closed.
    pub unread: u64,
    /// Milliseconds between the last two looks at the connection (how
    /// long a state rnc did not see can have lasted at most).
    pub gap_ms: f64,
    /// This host's settings.
    pub timers: TcpTimers,
    /// The row's timer is the zero-window probe timer (this host's output
    /// refuses the FIN), not the retransmission timer.
    pub probing: bool,
}

/// What `/proc/net/tcp` shows of the connection after the close.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Found {
    /// A row in state `state`; `left`: seconds its timer has left.
    Row {
        /// The row's state.
        state: TcpState,
        /// Seconds left on the row's timer, if one runs.
        left: Option<f64>,
    },
    /// No row: nothing is left of the connection.
    Gone,
}

/// The canonical close path of `closer` up to `last`.
fn path_to(closer: Closer, seen: &[TcpState], last: Option<TcpState>) -> Vec<TcpState> {
    use TcpState::*;
    let full: Vec<TcpState> = match closer {
        Closer::Active if seen.contains(&Closing) || last == Some(Closing) => {
            vec![Established, FinWait1, Closing, TimeWait]
        }
        Closer::Active => vec![Established, FinWait1, FinWait2, TimeWait],
        Closer::Passive => vec![Established, CloseWait, LastAck],
    };
    match last {
        Some(l) => match full.iter().position(|s| *s == l) {
            Some(i) => full[..=i].to_vec(),
            None => full,
        },
        // Gone: the whole path (passive), or up to our FIN (active: a
        // reset answered it).
        None if closer == Closer::Active => vec![Established, FinWait1],
        None => full,
    }
}

/// `ESTABLISHED -> FIN_WAIT1 -> FIN_WAIT2 -> TIME_WAIT; FIN_WAIT1 and
/// FIN_WAIT2 passed in under 1 ms, too fast to be seen`: the path to
/// `last` (`None`: gone), naming the states rnc did not see.
pub fn path(closer: Closer, seen: &[TcpState], last: Option<TcpState>, gap_ms: f64) -> String {
    let states = path_to(closer, seen, last);
    let mut words: Vec<&str> = states.iter().map(|s| name(*s)).collect();
    if last.is_none() {
        words.push(CLOSED);
    }
    let mut text = words.join(" -> ");
    let unseen: Vec<&str> = states
        .iter()
        .skip(1)
        .filter(|s| Some(**s) != last && !seen.contains(s))
        .map(|s| name(*s))
        .collect();
    if !unseen.is_empty() {
        let list = match unseen.split_last() {
            Some((l, [])) => l.to_string(),
            Some((l, rest)) => format!("{} and {l}", rest.join(", ")),
            None => String::new(),
        };
        let ms = gap_ms.ceil().max(1.0);
        text.push_str(&format!(
            "; {list} passed in under {ms:.0} ms, between two looks, too fast to be seen"
        ));
    }
    text
}

/// Why TIME_WAIT exists; `both`: after a simultaneous close (rnc saw
/// CLOSING).
pub fn time_wait_why(both: bool) -> String {
    let who = if both {
        "both sides wait here, since both closed at once (a simultaneous close, through CLOSING)"
    } else {
        "this side sent its FIN before it received the peer's, so it waits here; the peer waits too only if its FIN also left before ours arrived (a simultaneous close)"
    };
    format!(
        "TIME_WAIT lasts {} (fixed in the kernel, no sysctl): if our last ACK is lost, the peer resends its FIN and this side must still be there to acknowledge it again; and old duplicate segments of this connection must die out before the same address/port pair is used again; {who}",
        duration(TIME_WAIT_SECS as f64)
    )
}

/// How long an orphaned FIN is resent or probed, worded with the knob;
/// `probing`: the row's timer is the probe timer (this host's own output
/// refuses the FIN, so nothing is in flight).
fn orphan_words(t: &TcpTimers, probing: bool) -> String {
    let v = t.orphan_retries.unwrap_or(0);
    let knob = if v <= 0 {
        format!("tcp_orphan_retries={v}, which means 8")
    } else {
        format!("tcp_orphan_retries={v}")
    };
    let n = t.orphan_retries_effective().clamp(0, 255) as u32;
    let g = unacked_give_up(n, probing);
    if probing {
        return format!(
            "this host's own firewall refuses it, so nothing is in flight: the probe timer retries after 0.2, 0.4, 0.8 … s and the kernel drops the socket about {} after the close, the budget {knob} allows; {TIMERS_RUN_LATE}",
            duration(g.late)
        );
    }
    let ends = match g.early {
        Some(e) => format!(
            "about {} after the close if the kernel's timers have run late enough to reach its budget by then, else about {}",
            duration(e),
            duration(g.late)
        ),
        None => format!("about {} after the close", duration(g.late)),
    };
    format!(
        "the kernel resends it, waiting twice as long each time from about 0.2 s, and drops the socket {ends}: the budget {knob} allows is {}, counted from the first resend; {TIMERS_RUN_LATE}",
        duration(g.budget)
    )
}

/// A state found after the close that is not the last one rnc reports
/// (it changed while rnc looked): a short line.
pub fn passing(story: &CloseStory, s: TcpState) -> String {
    let head = format!("socket closed {}", story.cause.words());
    match s {
        TcpState::FinWait1 => format!("{head}: our FIN is sent; waiting for its ACK"),
        TcpState::FinWait2 => {
            format!("{head}: the peer acknowledged our FIN; waiting for the peer's FIN")
        }
        TcpState::Closing => format!(
            "{head}: the peer's FIN crossed ours (simultaneous close); waiting for the ACK of ours"
        ),
        TcpState::LastAck => {
            format!("{head}: our FIN is sent after the peer's; waiting for its ACK")
        }
        other => format!("{head}: {}", other.info().explanation),
    }
}

/// The last word on the connection after the close: its state (or that it
/// is gone), the whole path with the states that passed unseen, and what
/// the kernel does next. Returns the label and the text.
pub fn after_close(story: &CloseStory, found: Found) -> (String, String) {
    let head = format!("socket closed {}", story.cause.words());
    let ends = format!("{} <-> {}", story.local, story.peer);
    if story.unread > 0 {
        return (
            CLOSED.to_string(),
            format!(
                "{head} with {} received but not read, so the kernel sent a reset (RST) instead of a FIN; nothing is left of {ends}: no TIME_WAIT on either side",
                plural(story.unread, "byte", "bytes")
            ),
        );
    }
    if story.saw_reset {
        return (
            CLOSED.to_string(),
            format!("{head}; the connection had been reset (RST), so nothing more was sent and nothing is left of {ends}: no TIME_WAIT on either side"),
        );
    }
    let (state, left) = match found {
        Found::Row { state, left } => (Some(state), left),
        Found::Gone => (None, None),
    };
    let route = path(story.closer, &story.seen, state, story.gap_ms);
    let left_words = |l: Option<f64>| l.map(|s| format!("{s:.1} s left")).unwrap_or_default();
    let t = &story.timers;
    let text = match (state, story.closer) {
        (Some(TcpState::TimeWait), Closer::Active) => {
            let both = story.seen.contains(&TcpState::Closing);
            let why = time_wait_why(both);
            format!(
                "{head}; {route}. {ends} stays in TIME_WAIT ({}); {why}",
                left_words(left),
            )
        }
        (Some(TcpState::TimeWait), Closer::Passive) => format!(
            "{head}; {ends} is in TIME_WAIT ({}): the peer's FIN came first, yet this side waits there too, so both FINs crossed (a simultaneous close); {}",
            left_words(left),
            time_wait_why(true)
        ),
        (Some(TcpState::FinWait2), _) => {
            let fin = Knob::FinTimeout.value(t);
            let mut s = format!(
                "{head}; {route}: the peer acknowledged our FIN but has not sent its own (its program has not closed: CLOSE_WAIT there); the kernel keeps this orphaned socket at most tcp_fin_timeout={fin} s (this host's setting{}) and then drops it without TIME_WAIT; if the peer's FIN comes first, TIME_WAIT follows",
                left.map(|l| format!("; {l:.1} s left")).unwrap_or_default()
            );
            if story.listener {
                s.push_str(". ");
                s.push_str(&article_step_i(End::Server));
            }
            s
        }
        (Some(TcpState::FinWait1), _) => format!(
            "{head}; {route}: our FIN is not acknowledged yet; {}",
            orphan_words(t, story.probing)
        ),
        (Some(TcpState::Closing), _) => format!(
            "{head}; {route}: the peer's FIN crossed ours (a simultaneous close); waiting for the ACK of ours; if it does not come, {}",
            orphan_words(t, story.probing)
        ),
        (Some(TcpState::LastAck), _) => format!(
            "{head}; {route}: the peer closed first and our FIN is sent; waiting for its ACK; if it does not come, {}",
            orphan_words(t, story.probing)
        ),
        (Some(other), _) => format!(
            "{head}; the kernel still holds {ends} in {}: {}",
            name(other),
            other.info().explanation
        ),
        (None, Closer::Passive) => format!(
            "{head}; {route}: the peer acknowledged our FIN, so nothing is left of {ends}; no TIME_WAIT on this side: the peer, which closed first, waits there"
        ),
        (None, Closer::Active) => format!(
            "{head}; {route}: our FIN was answered with a reset (RST), so the peer no longer knew this connection (its program or host had dropped it); nothing is left of {ends}, no TIME_WAIT"
        ),
    };
    let label = state.map_or(CLOSED, name).to_string();
    (label, text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timing::{syn_send_times, Hosts};

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn timers(retries: i64, linear: i64) -> TcpTimers {
        TcpTimers {
            syn_retries: Some(retries),
            syn_linear_timeouts: Some(linear),
            synack_retries: Some(5),
            fin_timeout: Some(60),
            orphan_retries: Some(0),
            retries2: Some(15),
        }
    }

    #[test]
    fn syn_sent_quotes_the_one_formula() {
        for (r, l) in [(6, 4), (2, 4), (1, 1), (3, 0)] {
            let t = timers(r, l);
            let s = t.syn_schedule();
            let text = syn_sent(&a("198.18.0.2:5555"), &Hosts::same(t));
            assert!(text.contains(&format!("{} SYNs", s.sent)), "{text}");
            assert!(text.contains(&duration(s.timeout as f64)), "{text}");
            assert!(text.contains(&format!("tcp_syn_retries={r}")), "{text}");
            assert!(!text.contains(" + "), "no sum of knobs: {text}");
        }
        let text = syn_sent(&a("198.18.0.2:5555"), &Hosts::same(timers(6, 4)));
        assert!(
            text.contains("11 SYNs in all (at 0, 1, 2, 3, 4, 5, 7, 11, 19, 35 and 67 s)"),
            "{text}"
        );
        assert!(
            text.contains("131 s (about 2 minutes) after the first SYN"),
            "{text}"
        );
    }

    #[test]
    fn resends_count_resends_and_the_last_says_when_it_gives_up() {
        let t = timers(2, 4);
        let (sends, give_up) = syn_send_times(2, 4);
        assert_eq!(sends.len(), 6);
        let first = syn_resent(1, 1.0, &sends, give_up, &t);
        assert!(first.contains("SYN resent 1 time (1.0 s"), "{first}");
        assert!(first.contains("SYN 2 of 6"), "{first}");
        assert!(!first.contains("times"), "{first}");
        let last = syn_resent(5, 5.0, &sends, give_up, &t);
        assert!(last.contains("SYN resent 5 times"), "{last}");
        assert!(last.contains("the last SYN: no more tries"), "{last}");
        assert!(
            last.contains("gives up 7.0 s after the first SYN"),
            "{last}"
        );
        assert!(last.contains("about 2.0 s from now"), "{last}");
        assert!(!last.contains("next"), "{last}");
        // More resends than the model predicts: still no "next".
        let over = syn_resent(9, 6.0, &sends, give_up, &t);
        assert!(over.contains("no more tries"), "{over}");
        assert_eq!(syns_text(1), "1 SYN (none resent)");
        assert_eq!(syns_text(11), "11 SYNs (the first, then resent 10 times)");
        assert_eq!(syns_text(2), "2 SYNs (the first, then resent 1 time)");
    }

    #[test]
    fn abandoned_says_nothing_more_is_sent() {
        let s = syn_abandoned(&a("198.18.0.2:5555"), "Ctrl-C (SIGINT)", 3, 2.04);
        assert!(s.contains("abandoned in SYN_SENT after 3 SYNs"), "{s}");
        assert!(s.contains("no RST"), "{s}");
        assert!(s.contains("2.0 s after the first SYN"), "{s}");
    }

    fn story(closer: Closer, seen: &[TcpState]) -> CloseStory {
        CloseStory {
            local: a("198.18.0.1:40000"),
            peer: a("198.18.0.2:5555"),
            cause: CloseCause::Signal("Ctrl-C (SIGINT)".into()),
            listener: false,
            closer,
            seen: seen.to_vec(),
            saw_reset: false,
            unread: 0,
            gap_ms: 0.3,
            timers: timers(6, 4),
            probing: false,
        }
    }

    #[test]
    fn active_close_names_every_state_and_why_time_wait() {
        use TcpState::*;
        let st = story(Closer::Active, &[Established]);
        let (label, text) = after_close(
            &st,
            Found::Row {
                state: TimeWait,
                left: Some(59.98),
            },
        );
        assert_eq!(label, "TIME_WAIT");
        assert!(
            text.contains("ESTABLISHED -> FIN_WAIT1 -> FIN_WAIT2 -> TIME_WAIT; FIN_WAIT1 and FIN_WAIT2 passed in under 1 ms"),
            "{text}"
        );
        assert!(text.contains("60.0 s left"), "{text}");
        assert!(text.contains("last ACK is lost"), "{text}");
        assert!(text.contains("old duplicate segments"), "{text}");
        assert!(
            text.contains("sent its FIN before it received the peer's"),
            "{text}"
        );
        assert!(
            text.starts_with("socket closed after Ctrl-C (SIGINT); "),
            "{text}"
        );
        // FIN_WAIT1 seen, FIN_WAIT2 not.
        let st = story(Closer::Active, &[Established, FinWait1]);
        let (_, text) = after_close(
            &st,
            Found::Row {
                state: TimeWait,
                left: None,
            },
        );
        assert!(text.contains("; FIN_WAIT2 passed in under 1 ms"), "{text}");
        // Simultaneous close: both sides, not "this side closed first".
        let st = story(Closer::Active, &[Established, FinWait1, Closing]);
        let (_, text) = after_close(
            &st,
            Found::Row {
                state: TimeWait,
                left: Some(60.0),
            },
        );
        assert!(
            text.contains("ESTABLISHED -> FIN_WAIT1 -> CLOSING -> TIME_WAIT"),
            "{text}"
        );
        assert!(text.contains("both sides wait here"), "{text}");
        assert!(!text.contains("so it waits here"), "{text}");
    }

    #[test]
    fn passive_close_names_close_wait_and_last_ack() {
        use TcpState::*;
        let st = story(Closer::Passive, &[Established, CloseWait]);
        let (label, text) = after_close(&st, Found::Gone);
        assert_eq!(label, "CLOSED");
        assert!(
            text.contains(
                "ESTABLISHED -> CLOSE_WAIT -> LAST_ACK -> CLOSED; LAST_ACK passed in under 1 ms"
            ),
            "{text}"
        );
        assert!(text.contains("the peer acknowledged our FIN"), "{text}");
        assert!(!text.contains(", or "), "says which happened: {text}");
        // Gone after our own FIN: a reset answered it.
        let st = story(Closer::Active, &[Established]);
        let (_, text) = after_close(&st, Found::Gone);
        assert!(
            text.contains("ESTABLISHED -> FIN_WAIT1 -> CLOSED"),
            "{text}"
        );
        assert!(text.contains("answered with a reset"), "{text}");
        let mut st = story(Closer::Active, &[Established]);
        st.saw_reset = true;
        assert!(after_close(&st, Found::Gone).1.contains("had been reset"));
        st.saw_reset = false;
        st.unread = 1;
        assert!(after_close(&st, Found::Gone)
            .1
            .contains("1 byte received but not read"));
    }

    #[test]
    fn server_in_fin_wait2_ties_to_the_article() {
        use TcpState::*;
        let mut st = story(Closer::Active, &[Established]);
        st.listener = true;
        let (label, text) = after_close(
            &st,
            Found::Row {
                state: FinWait2,
                left: Some(59.9),
            },
        );
        assert_eq!(label, "FIN_WAIT2");
        assert!(
            text.contains("ESTABLISHED -> FIN_WAIT1 -> FIN_WAIT2; FIN_WAIT1 passed"),
            "{text}"
        );
        assert!(text.contains("tcp_fin_timeout=60 s"), "{text}");
        assert!(text.contains("Exercise 1, step i"), "{text}");
        assert!(text.contains("Debian's nc 1.219"), "{text}");
        assert!(text.contains("this server waits in FIN_WAIT2"), "{text}");
        assert!(peer_closed(false).contains("this client stays in CLOSE_WAIT"));
        let mut probed = st.clone();
        probed.probing = true;
        let p = after_close(
            &probed,
            Found::Row {
                state: FinWait1,
                left: None,
            },
        )
        .1;
        assert!(p.contains("probe timer") && p.contains("102 s"), "{p}");
        let fw1 = after_close(
            &st,
            Found::Row {
                state: FinWait1,
                left: None,
            },
        )
        .1;
        assert!(
            fw1.contains(&duration(st.timers.orphan_give_up_secs())),
            "{fw1}"
        );
        assert!(fw1.contains("which means 8"), "{fw1}");
    }

    #[test]
    fn half_close_says_it_can_still_receive() {
        let s = half_close();
        assert!(
            s.contains("half-close") && s.contains("can still receive"),
            "{s}"
        );
        assert!(!s.contains("closed first"), "{s}");
    }

    #[test]
    fn grammar() {
        assert!(
            retransmissions(1).contains("1 time "),
            "{}",
            retransmissions(1)
        );
        assert!(
            connect_failed(&a("[::1]:9"), &ConnectEnd::TimedOut, 6, 7.1, &timers(2, 4))
                .contains("6 SYNs (the first, then resent 5 times)")
        );
        assert_eq!(time_list(&[0]), "0");
        assert_eq!(time_list(&[0, 1]), "0 and 1");
    }
}
