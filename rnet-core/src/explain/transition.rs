//! What one step of a socket's life means, as `rnetstat --watch` shows it
//! (`OLD -> NEW` and `STATE, WHAT resent #N`): why the socket moved, and
//! what comes next, in one or two short sentences.
//!
//! The words follow what the kernel reports: with the tracepoint
//! `sock:inet_sock_set_state` every change of a full socket (a request
//! socket, SYN received and SYN|ACK sent, is only in the socket table: it
//! appears as `new -> SYN_RECV`); with polling only the states the table
//! showed at each look. Figures come from [`crate::timing`] with the
//! settings of the host they are about ([`Hosts`]); `docs/tcp-timers.md`
//! gives the kernel behaviour behind each of them.

use super::{duration, plural};
use crate::tcp_state::TcpState;
use crate::timing::{
    model_timeout, synrecv_life, Host, Hosts, Knob, SynAckLoss, RTO_MIN_SECS, TIME_WAIT_SECS,
};

/// One end of a transition as `rnetstat --watch` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Point {
    /// Not seen before (`new`): first seen in the socket table.
    New,
    /// A TCP state.
    State(TcpState),
    /// No longer in the socket table (`gone`).
    Gone,
}

/// Which end of the connection the socket is, when known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The end that sent the first SYN (called `connect()`).
    Client,
    /// A connection accepted by a listener.
    Server,
    /// The listening socket itself.
    Listener,
    /// Not known.
    Unknown,
}

/// What was resent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resent {
    /// The client's SYN (SYN_SENT).
    Syn,
    /// The server's SYN|ACK (SYN_RECV).
    SynAck,
    /// Our FIN (FIN_WAIT1, CLOSING, LAST_ACK).
    Fin,
    /// Data.
    Data,
}

/// How the change was seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seen {
    /// The kernel's tracepoint: every change of a full socket.
    Tracepoint,
    /// Reading the socket table every interval: short states can be missed.
    Polling,
}

/// The state as netstat spells it; the kernel's request-socket state is
/// SYN_RECV, as `/proc` prints it.
fn name(s: TcpState) -> &'static str {
    s.info().netstat
}

/// The request-socket state reads as SYN_RECV everywhere.
fn norm(s: TcpState) -> TcpState {
    match s {
        TcpState::NewSynRecv => TcpState::SynRecv,
        other => other,
    }
}

fn norm_point(p: Point) -> Point {
    match p {
        Point::State(s) => Point::State(norm(s)),
        other => other,
    }
}

/// How a text names the other end, for [`Hosts::knob_text`].
fn peer_name(role: Role) -> &'static str {
    match role {
        Role::Client => "the server",
        Role::Server | Role::Listener => "the client",
        Role::Unknown => "the peer",
    }
}

/// What polling may have missed between two looks.
const UNSEEN: &str = "states in between may have passed unseen between two looks";

/// `1, 2, 3 and 5 s`: send times in seconds (ASCII, at most 12 shown).
fn secs_list(ts: &[u64]) -> String {
    let words: Vec<String> = ts.iter().map(u64::to_string).collect();
    match words.split_last() {
        None => String::new(),
        Some((last, [])) => format!("{last} s"),
        Some((last, rest)) if rest.len() <= 11 => format!("{} and {last} s", rest.join(", ")),
        Some((last, rest)) => format!("{}, ... and {last} s", rest[..8].join(", ")),
    }
}

/// This host's SYN knobs as a text quotes them.
fn syn_knobs(hosts: &Hosts, role: Role) -> String {
    hosts.knobs_text(
        Host::Here,
        &[Knob::SynRetries, Knob::SynLinearTimeouts],
        peer_name(role),
    )
}

/// What an unanswered connect does on this host: when the SYN is resent
/// and when connect() gives up (the SYN schedule is the connecting host's).
fn syn_plan(hosts: &Hosts, role: Role) -> String {
    let (sends, give_up) = hosts.here.syn_send_times();
    let resends = if sends.len() > 1 {
        format!("this host resends it at {}", secs_list(&sends[1..]))
    } else {
        "this host does not resend it".to_string()
    };
    format!(
        "unanswered, {resends} and connect() gives up {} after the first ({})",
        duration(give_up as f64),
        syn_knobs(hosts, role)
    )
}

/// When a socket whose FIN (or data after the close) is not acknowledged
/// gives up, by this host's settings: the kernel stops at the first timeout
/// that finds the budget spent since the first resend, and whether the
/// program has closed the socket decides the budget (a transition does not
/// say which).
fn fin_give_up(hosts: &Hosts, role: Role) -> String {
    let t = &hosts.here;
    let orphan = t.orphan_give_up_secs();
    let held = model_timeout(Knob::Retries2.value(t).clamp(0, 255) as u32, RTO_MIN_SECS);
    format!(
        "the kernel gives up once about {} have passed since the first resend if the program closed it ({}, 0 means 8), {} if it holds it ({})",
        duration(orphan),
        hosts.knob_text(Host::Here, Knob::OrphanRetries, peer_name(role)),
        duration(held),
        hosts.knob_text(Host::Here, Knob::Retries2, peer_name(role))
    )
}

/// How a socket whose FIN was never acknowledged ended: a reset, or this
/// host gave up. The figure is the orphan budget (the program closed the
/// socket); with the FIN refused by this host's own output nothing is
/// resent and the probe timer spends the same budget from the FIN itself
/// ([`crate::timing::unacked_give_up`]; measured: FIN_WAIT1 -> CLOSE 1.44 s
/// after the FIN with tcp_orphan_retries=2, budget 1.4 s).
fn fin_end(hosts: &Hosts, role: Role) -> String {
    let t = &hosts.here;
    let orphan = t.orphan_give_up_secs();
    format!(
        "a reset (RST) came or went, or this host gave up resending it: if the program closed it, once about {} had passed since the first resend, or since the FIN if its own firewall refused it ({}, 0 means 8)",
        duration(orphan),
        hosts.knob_text(Host::Here, Knob::OrphanRetries, peer_name(role)),
    )
}

/// When an open connection whose data goes unacknowledged gives up: the
/// budget `tcp_retries2` sets, counted from the first resend.
fn data_give_up(hosts: &Hosts, role: Role) -> String {
    let r = Knob::Retries2.value(&hosts.here).clamp(0, 255) as u32;
    format!(
        "the kernel drops the connection once about {} have passed since the first resend ({})",
        duration(model_timeout(r, RTO_MIN_SECS)),
        hosts.knob_text(Host::Here, Knob::Retries2, peer_name(role))
    )
}

/// How long an orphaned FIN_WAIT2 lives on this host.
fn fin_timeout(hosts: &Hosts, role: Role) -> String {
    format!(
        "{} ({})",
        duration(Knob::FinTimeout.value(&hosts.here).max(0) as f64),
        hosts.knob_text(Host::Here, Knob::FinTimeout, peer_name(role))
    )
}

/// Why TIME_WAIT exists, short.
fn time_wait_why() -> String {
    format!(
        "TIME_WAIT holds the ports {} (TCP_TIMEWAIT_LEN, no sysctl) so that a lost last ACK can be sent again when the peer resends its FIN, and old duplicate segments die out",
        duration(TIME_WAIT_SECS as f64)
    )
}

/// How long a request socket lives on its own, and while the client keeps
/// resending its SYN (the server's SYN|ACK budget is this host's when the
/// socket is the server; the client's SYN schedule is the peer's).
fn request_life(hosts: &Hosts, role: Role) -> String {
    let retries = Knob::SynackRetries.value(&hosts.here);
    let alone = synrecv_life(&[0], retries, SynAckLoss::Wire);
    let (client_syns, _) = hosts.peer.syn_send_times();
    let kept = synrecv_life(&client_syns, retries, SynAckLoss::Wire);
    format!(
        "unanswered, it is resent for about {} ({}), or as long as the client resends its SYN: about {} by {}",
        duration(alone.end() as f64),
        hosts.knob_text(Host::Here, Knob::SynackRetries, peer_name(role)),
        duration(kept.end() as f64),
        hosts.knobs_text(
            Host::Peer,
            &[Knob::SynRetries, Knob::SynLinearTimeouts],
            "the client"
        )
    )
}

/// A reset or an abort ended a connection in `from` (tracepoint: the
/// kernel reports CLOSE; polling: the row vanished).
fn ended_abruptly(hosts: &Hosts, role: Role) -> String {
    format!(
        "a reset (RST) was received or sent (a program closing with unread data or SO_LINGER 0, or a tcp-reset rule), or the kernel gave up resending ({})",
        hosts.knob_text(Host::Here, Knob::Retries2, peer_name(role))
    )
}

/// The sentence for a pair the kernel makes in a normal life (or that
/// polling sees for it), or `None` for an unusual pair.
fn specific(old: Point, new: Point, role: Role, seen: Seen, hosts: &Hosts) -> Option<String> {
    use Point::{Gone, New, State};
    use TcpState::*;
    let polled = seen == Seen::Polling;
    let text = match (old, new) {
        // ------------------------------------------------------ opening
        (State(Close), State(Listen)) => "listen() was called: waiting for connections; each client's SYN gets a SYN|ACK from a request socket (SYN_RECV), and the client's ACK makes a new ESTABLISHED socket".to_string(),
        (State(Listen), State(Close)) => "the program closed the listening socket (or ended): connections not yet accept()ed are reset, and a SYN to this port is now refused with a RST unless another socket listens there".to_string(),
        (State(Close), State(SynSent)) => format!(
            "connect(): the first SYN is sent (handshake step 1 of 3); {}",
            syn_plan(hosts, role)
        ),
        (State(SynSent), State(Established)) => "the server's SYN|ACK arrived and this side sent the final ACK (handshake step 3 of 3): connected; the server's socket becomes ESTABLISHED when that ACK arrives".to_string(),
        (State(SynSent), State(Close)) => {
            let (_, give_up) = hosts.here.syn_send_times();
            format!(
                "the connection attempt ended: refused (a RST answered the SYN: nothing listens there, or a tcp-reset rule), an ICMP unreachable, no SYN|ACK within {} (\"Connection timed out\", {}), or the program closed it",
                duration(give_up as f64),
                syn_knobs(hosts, role)
            )
        }
        (State(SynSent), State(SynRecv)) => "simultaneous open: the peer's SYN arrived while ours was out; SYN|ACK sent, waiting for the ACK of our SYN".to_string(),
        (State(Listen), State(SynRecv)) => {
            let mut s = "the client's ACK completed the handshake: the kernel made this connection's own socket from the listener (hence LISTEN as its old state; the listener stays in LISTEN); it becomes ESTABLISHED at once".to_string();
            if polled {
                s.push_str(&format!("; {UNSEEN}"));
            }
            s
        }
        (State(SynRecv), State(Established)) => "the client's ACK arrived (handshake step 3 of 3): connected; the connection waits in the listener's accept queue until the program accept()s it".to_string(),
        (State(SynRecv), State(Close)) => format!(
            "the connection ended during its handshake: {}; no FIN exchange, no TIME_WAIT",
            ended_abruptly(hosts, role)
        ),
        // ------------------------------------------------------ closing
        (State(Established), State(FinWait1)) => "this side closed (close()) or shut down its sending side (shutdown()): its FIN is sent; waiting for the peer's ACK of it".to_string(),
        (State(FinWait1), State(FinWait2)) => format!(
            "the peer acknowledged our FIN; this side can still receive and waits for the peer's FIN (the peer is in CLOSE_WAIT until its program closes); if the program has closed this socket, the kernel drops it when {} pass without that FIN",
            fin_timeout(hosts, role)
        ),
        (State(FinWait1), State(Closing)) => "the peer's FIN arrived before the ACK of ours: a simultaneous close (both sides sent a FIN); waiting for the ACK of our FIN, then TIME_WAIT on both sides".to_string(),
        (State(FinWait2), State(TimeWait)) => format!(
            "the peer's FIN arrived and this side acknowledged it: the close is complete. {}",
            time_wait_why()
        ),
        (State(Closing), State(TimeWait)) => format!(
            "the ACK of our FIN arrived after a simultaneous close: both sides wait in TIME_WAIT. {}",
            time_wait_why()
        ),
        (State(TimeWait), Gone) => format!(
            "TIME_WAIT is over (it lasts {}; a new connection on the same ports can end it early): the kernel freed the socket and the ports can be used again",
            duration(TIME_WAIT_SECS as f64)
        ),
        (State(Established), State(CloseWait)) => "the peer's FIN arrived (the peer closed or shut down its sending side) and was acknowledged; this side can still send, and stays in CLOSE_WAIT until the program closes the socket".to_string(),
        (State(CloseWait), State(LastAck)) => "the program closed the socket: our FIN is sent; waiting for its ACK, then the socket is freed (no TIME_WAIT on this side: the peer, which closed first, waits there)".to_string(),
        (State(LastAck), State(Close)) => "our FIN was acknowledged (unless a reset or the end of the FIN resends ended it): the socket is freed, with no TIME_WAIT on this side; the peer, which closed first, waits in TIME_WAIT".to_string(),
        // ------------------------------------------ resets and give-ups
        (State(Established), State(Close)) => format!(
            "the connection ended without the FIN exchange: {}; no TIME_WAIT",
            ended_abruptly(hosts, role)
        ),
        (State(CloseWait), State(Close)) => format!(
            "the connection ended before our FIN was sent: {}; no LAST_ACK, no TIME_WAIT",
            ended_abruptly(hosts, role)
        ),
        (State(FinWait1), State(Close)) => format!(
            "our FIN was never acknowledged: {}",
            fin_end(hosts, role)
        ),
        (State(Closing), State(Close)) => "the ACK of our FIN arrived and the socket became a small TIME_WAIT socket (the socket table shows TIME_WAIT), unless a reset or the end of the FIN resends ended it".to_string(),
        // The watch shows a FIN_WAIT2 -> CLOSE after which the table
        // still has the socket in FIN_WAIT2 as FIN_WAIT2 -> FIN_WAIT2.
        (State(FinWait2), State(FinWait2)) => format!(
            "the program closed the socket before the peer's FIN came (orphaned): the kernel keeps only a small FIN_WAIT2 socket, at most {}; the peer's FIN moves it to TIME_WAIT, else it is dropped (no program can read or write it any more)",
            fin_timeout(hosts, role)
        ),
        (State(FinWait2), State(Close)) => format!(
            "this socket became a small timewait socket: TIME_WAIT if the peer's FIN came, or an orphaned FIN_WAIT2 kept at most {}, as the socket table shows; if it shows neither, that time ran out (the kernel then resets the peer) or a reset ended it",
            fin_timeout(hosts, role)
        ),
        // ------------------------------------------- first seen (`new`)
        (New, State(SynRecv)) => format!(
            "a request socket: SYN received, SYN|ACK sent (step 2 of 3); waiting for the client's ACK; {}",
            request_life(hosts, role)
        ),
        (New, State(s)) if !polled => format!(
            "already in {} when first seen in the socket table: {}",
            name(s),
            s.info().explanation
        ),
        (New, State(Listen)) => "first seen listening: listen() was called; waiting for connections".to_string(),
        (New, State(SynSent)) => format!(
            "first seen in SYN_SENT: connect() sent its SYN; {}",
            syn_plan(hosts, role)
        ),
        (New, State(Established)) => {
            let unseen = match role {
                Role::Client => "its SYN_SENT passed unseen",
                Role::Server | Role::Listener => "its SYN_RECV passed unseen",
                Role::Unknown => "SYN_SENT or SYN_RECV passed unseen",
            };
            format!("first seen ESTABLISHED: the handshake completed between two looks ({unseen}); data can flow both ways")
        }
        (New, State(TimeWait)) => format!(
            "first seen in TIME_WAIT: this side closed first (or both at once) and the close completed between two looks, unseen. {}",
            time_wait_why()
        ),
        (New, State(s)) => format!(
            "first seen in {}: {}; earlier states may have passed unseen between two looks",
            name(s),
            s.info().explanation
        ),
        // ------------------------------------------------------- `gone`
        (State(SynRecv), Gone) => {
            let mut s = format!(
                "the request socket is gone: its SYN|ACK resends ran out without the client's ACK ({}), a RST from the client ended it, or this host's own firewall refused a timed resend, which discards it at once (the client's next SYN makes a new one)",
                hosts.knob_text(Host::Here, Knob::SynackRetries, peer_name(role))
            );
            if polled {
                s.push_str("; or the connection was made and ended between two looks");
            }
            s
        }
        (State(Listen), Gone) => "the listening socket is gone: the program closed it (or ended); a SYN to this port is now refused with a RST unless another socket listens there".to_string(),
        (State(SynSent), Gone) => {
            let (_, give_up) = hosts.here.syn_send_times();
            let mut s = format!(
                "the connection attempt is over: refused (RST), an ICMP unreachable, no SYN|ACK within {} ({}), or the program closed it",
                duration(give_up as f64),
                syn_knobs(hosts, role)
            );
            if polled {
                s.push_str("; or it connected and ended between two looks");
            }
            s
        }
        (State(FinWait2), Gone) => format!(
            "the peer's FIN never came: the orphaned socket ran out its {} and was dropped without TIME_WAIT (the peer may be reset then); or a reset ended it",
            fin_timeout(hosts, role)
        ),
        (State(LastAck), Gone) => "our FIN was acknowledged (unless a reset or the end of the FIN resends ended it): nothing is left on this side, no TIME_WAIT; the peer, which closed first, waits in TIME_WAIT".to_string(),
        (State(CloseWait), Gone) => format!(
            "the program closed the socket and the peer acknowledged our FIN (LAST_ACK passed unseen), or {}",
            ended_abruptly(hosts, role)
        ),
        (State(Established), Gone) => {
            let mut s = format!("the connection ended without TIME_WAIT on this side: {}", ended_abruptly(hosts, role));
            if polled {
                s.push_str("; or the peer closed first and CLOSE_WAIT and LAST_ACK passed between two looks");
            }
            s
        }
        (State(FinWait1), Gone) => format!(
            "our FIN was never acknowledged (no TIME_WAIT): {}",
            fin_end(hosts, role)
        ),
        (State(Closing), Gone) => format!(
            "our FIN was never acknowledged (no TIME_WAIT): {}",
            fin_end(hosts, role)
        ),
        (State(Close), Gone) => "the socket is closed and freed: the program let it go".to_string(),
        (State(a), State(b)) if polled => return unseen_path(a, b),
        _ => return None,
    };
    Some(text)
}

/// The moves a polled socket makes in a normal life, between states that
/// last (no CLOSE, no LISTEN): what polling can skip over.
const STEPS: [(TcpState, TcpState); 9] = [
    (TcpState::SynSent, TcpState::Established),
    (TcpState::SynRecv, TcpState::Established),
    (TcpState::Established, TcpState::FinWait1),
    (TcpState::Established, TcpState::CloseWait),
    (TcpState::FinWait1, TcpState::FinWait2),
    (TcpState::FinWait1, TcpState::Closing),
    (TcpState::FinWait2, TcpState::TimeWait),
    (TcpState::Closing, TcpState::TimeWait),
    (TcpState::CloseWait, TcpState::LastAck),
];

/// Every shortest path of [`STEPS`] from `a` to `b` (none when `b` is not
/// reachable, or the pair is one step).
fn shortest_paths(a: TcpState, b: TcpState) -> Vec<Vec<TcpState>> {
    let mut layer: Vec<Vec<TcpState>> = vec![vec![a]];
    for _ in 0..STEPS.len() {
        let mut next = Vec::new();
        for p in &layer {
            let last = *p.last().unwrap_or(&a);
            for (from, to) in STEPS {
                if from == last && !p.contains(&to) {
                    let mut q = p.clone();
                    q.push(to);
                    next.push(q);
                }
            }
        }
        let done: Vec<Vec<TcpState>> = next
            .iter()
            .filter(|p| p.last() == Some(&b))
            .cloned()
            .collect();
        if !done.is_empty() {
            return if done[0].len() > 2 { done } else { Vec::new() };
        }
        if next.is_empty() {
            break;
        }
        layer = next;
    }
    Vec::new()
}

/// Polling saw `a` then `b` with steps between them: name the path
/// (`ESTABLISHED -> FIN_WAIT1 -> FIN_WAIT2 (or CLOSING) -> TIME_WAIT`).
fn unseen_path(a: TcpState, b: TcpState) -> Option<String> {
    let paths = shortest_paths(a, b);
    let first = paths.first()?;
    let mut words: Vec<String> = Vec::new();
    let mut differ = 0;
    for (i, s) in first.iter().enumerate() {
        let mut alts: Vec<&str> = Vec::new();
        for p in &paths {
            if let Some(x) = p.get(i) {
                if !alts.contains(&name(*x)) {
                    alts.push(name(*x));
                }
            }
        }
        if alts.len() > 1 {
            differ += 1;
            words.push(format!("{} (or {})", name(*s), alts[1..].join(" or ")));
        } else {
            words.push(name(*s).to_string());
        }
    }
    if differ > 1 {
        // Alternatives at more than one place: show one path as an example.
        words = first.iter().map(|s| name(*s).to_string()).collect();
        words.push("(for example)".to_string());
    }
    let between = first.len() - 2;
    Some(format!(
        "{}: the {} between passed unseen between two looks; now {}: {}",
        words.join(" -> "),
        if between == 1 { "state" } else { "states" },
        name(b),
        b.info().explanation
    ))
}

/// A correct sentence for any pair, from the state table's meanings.
fn generic(old: Point, new: Point, seen: Seen) -> String {
    let caveat = if seen == Seen::Polling {
        format!("; {UNSEEN}")
    } else {
        String::new()
    };
    match (old, new) {
        (Point::State(a), Point::State(b)) if a == b => {
            format!("still {}: {}", name(b), b.info().explanation)
        }
        (Point::State(a), Point::State(TcpState::Close)) => format!(
            "an unusual move: the socket left {} ({}) and is closed, its connection (if any) over{caveat}",
            name(a),
            a.info().explanation
        ),
        (Point::State(a), Point::State(b)) => format!(
            "an unusual move from {} ({}) to {} ({}){caveat}",
            name(a),
            a.info().explanation,
            name(b),
            b.info().explanation
        ),
        (Point::Gone, Point::State(b)) => format!(
            "a socket with these addresses and ports is back: a new socket, now in {}: {}",
            name(b),
            b.info().explanation
        ),
        (Point::New, Point::Gone) => {
            "seen once and gone: the socket came and went between two looks".to_string()
        }
        (_, Point::New) | (Point::Gone, Point::Gone) | (Point::New, Point::State(_)) => {
            "no change the kernel reported: the socket is listed again".to_string()
        }
        (Point::State(a), Point::Gone) => format!(
            "no longer in the socket table: the kernel freed the socket ({} before){caveat}",
            a.info().explanation
        ),
    }
}

/// Why the socket moved from `old` to `new`, and what comes next: one or
/// two sentences. Figures about this socket's own timers use this host's
/// settings (`hosts.here`); the client's SYN schedule seen from a server
/// is the peer's (`hosts.peer`, named as given or assumed).
pub fn transition(old: Point, new: Point, role: Role, seen: Seen, hosts: &Hosts) -> String {
    let (old, new) = (norm_point(old), norm_point(new));
    specific(old, new, role, seen, hosts).unwrap_or_else(|| generic(old, new, seen))
}

/// `SYN`, `SYN|ACK`, `FIN`, `data`: as the watch's cell spells it.
fn what_name(what: Resent) -> &'static str {
    match what {
        Resent::Syn => "SYN",
        Resent::SynAck => "SYN|ACK",
        Resent::Fin => "FIN",
        Resent::Data => "data",
    }
}

/// The clause for a resend this host's own output refused.
const REFUSED: &str =
    "never left this host (its own firewall refused it, e.g. an OUTPUT DROP rule)";

/// What the n-th retransmission (`count`, from 1) of `what` in `state`
/// means; `refused_locally`: this host refused to send it (the
/// tracepoint's err != 0: e.g. an OUTPUT DROP rule).
pub fn retransmit(
    state: TcpState,
    what: Resent,
    count: u64,
    refused_locally: bool,
    role: Role,
    hosts: &Hosts,
) -> String {
    use TcpState::*;
    let state = norm(state);
    let n = count.max(1);
    let head = format!("{} resent #{n}", what_name(what));
    match (what, state) {
        (Resent::Syn, SynSent) => syn_resent(n, refused_locally, role, hosts),
        (Resent::SynAck, SynRecv | Listen) if refused_locally => format!(
            "{head} {REFUSED}; a request whose timed resend fails is discarded at once, so the SYN_RECV row vanishes until the client's next SYN makes a new one"
        ),
        (Resent::SynAck, SynRecv | Listen) => format!(
            "{head} (by its timer or for a repeated SYN): no ACK from the client yet; {}",
            request_life(hosts, role)
        ),
        (Resent::Fin, FinWait1 | Closing | LastAck) => {
            let first = if refused_locally {
                format!("{head} {REFUSED}; it still counts")
            } else {
                format!("{head}: our FIN is not acknowledged yet; it or its ACK is being lost")
            };
            format!("{first}. {}", capitalize(&fin_give_up(hosts, role)))
        }
        (Resent::Data, FinWait1 | Closing | LastAck) => {
            let first = if refused_locally {
                format!("{head} {REFUSED}; it still counts")
            } else {
                format!("{head}: sent before our FIN and not acknowledged; a segment or its ACK is being lost")
            };
            format!("{first}. {}", capitalize(&fin_give_up(hosts, role)))
        }
        (Resent::Data, Established | CloseWait | SynRecv) => {
            let first = if refused_locally {
                format!("{head} {REFUSED}; it still counts")
            } else {
                format!(
                    "{head}: not acknowledged in time, so a segment or its ACK is being lost; each resend waits twice as long"
                )
            };
            format!("{first}. {}", capitalize(&data_give_up(hosts, role)))
        }
        (_, s) => {
            let first = if refused_locally {
                format!("{head} in {} {REFUSED}", name(s))
            } else {
                format!("{head} in {}: no ACK came for it in time", name(s))
            };
            format!("{first}; {}: {}", name(s), s.info().explanation)
        }
    }
}

/// `SYN resent #n`: when it went by this host's schedule, and what comes
/// next (the next resend, or when connect() gives up).
fn syn_resent(n: u64, refused: bool, role: Role, hosts: &Hosts) -> String {
    let (sends, give_up) = hosts.here.syn_send_times();
    let knobs = syn_knobs(hosts, role);
    let resends = sends.len() as u64 - 1;
    let Some(at) = usize::try_from(n).ok().and_then(|i| sends.get(i)) else {
        return format!(
            "SYN resent #{n}: more resends than this host's settings give ({}, {knobs}): the program may have set TCP_SYNCNT, or the settings changed",
            plural(resends, "resend", "resends")
        );
    };
    let gap = at - sends[n as usize - 1];
    let head = format!(
        "SYN resent #{n}, {} after the first SYN (gap {})",
        duration(*at as f64),
        duration(gap as f64)
    );
    let head = if refused {
        format!("{head}, {REFUSED}; the schedule goes on")
    } else {
        format!("{head}: no SYN|ACK yet, the SYN or the reply is being lost")
    };
    match sends.get(n as usize + 1) {
        Some(next) => format!(
            "{head}; next at {}, given up at {} ({knobs})",
            duration(*next as f64),
            duration(give_up as f64)
        ),
        None => format!(
            "{head}; the last one: without a SYN|ACK, connect() fails (\"Connection timed out\") {} after the first SYN ({knobs})",
            duration(give_up as f64)
        ),
    }
}

/// The first letter in upper case (a clause that starts a sentence).
fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timing::TcpTimers;
    use Point::{Gone, New, State};
    use TcpState::*;

    fn defaults() -> Hosts {
        Hosts::same(TcpTimers {
            syn_retries: Some(6),
            syn_linear_timeouts: Some(4),
            synack_retries: Some(5),
            fin_timeout: Some(60),
            orphan_retries: Some(0),
            retries2: Some(15),
        })
    }

    fn lowered() -> Hosts {
        Hosts::same(TcpTimers {
            syn_retries: Some(2),
            syn_linear_timeouts: Some(1),
            synack_retries: Some(2),
            fin_timeout: Some(20),
            orphan_retries: Some(2),
            retries2: Some(5),
        })
    }

    const ROLES: [Role; 4] = [Role::Client, Role::Server, Role::Listener, Role::Unknown];
    const SEEN: [Seen; 2] = [Seen::Tracepoint, Seen::Polling];

    /// The pairs of a normal life (brief of issue 12), with the role that
    /// makes them and how they can be seen.
    fn listed() -> Vec<(Point, Point, Role, Seen)> {
        let t = Seen::Tracepoint;
        let p = Seen::Polling;
        let mut v = vec![
            (State(Close), State(Listen), Role::Listener, t),
            (State(Listen), State(Close), Role::Listener, t),
            (State(Close), State(SynSent), Role::Client, t),
            (State(SynSent), State(Established), Role::Client, t),
            (State(SynSent), State(Close), Role::Client, t),
            (State(Listen), State(SynRecv), Role::Server, t),
            (State(SynRecv), State(Established), Role::Server, t),
            (State(SynRecv), State(Established), Role::Server, p),
            (State(SynRecv), State(Close), Role::Server, t),
            (State(SynSent), State(SynRecv), Role::Client, t),
            (State(FinWait1), State(Closing), Role::Unknown, t),
            (State(FinWait2), State(TimeWait), Role::Unknown, t),
            (State(Closing), State(TimeWait), Role::Unknown, t),
            (State(TimeWait), Gone, Role::Unknown, t),
            (State(TimeWait), Gone, Role::Unknown, p),
            (State(CloseWait), State(LastAck), Role::Unknown, t),
            (State(LastAck), State(Close), Role::Unknown, t),
            (State(Established), State(Close), Role::Unknown, t),
            (State(CloseWait), State(Close), Role::Unknown, t),
            (State(FinWait1), State(Close), Role::Unknown, t),
            (State(FinWait2), State(Close), Role::Unknown, t),
            (State(Closing), State(Close), Role::Unknown, t),
            (New, State(SynRecv), Role::Server, t),
            (New, State(SynRecv), Role::Server, p),
        ];
        for role in [Role::Client, Role::Server] {
            for seen in SEEN {
                v.push((State(Established), State(FinWait1), role, seen));
                v.push((State(FinWait1), State(FinWait2), role, seen));
                v.push((State(Established), State(CloseWait), role, seen));
            }
        }
        for s in [
            Listen,
            SynSent,
            Established,
            FinWait1,
            FinWait2,
            TimeWait,
            CloseWait,
            LastAck,
            Closing,
        ] {
            v.push((New, State(s), Role::Unknown, p));
            v.push((New, State(s), Role::Unknown, t));
            v.push((State(s), Gone, Role::Unknown, p));
        }
        v.push((State(SynRecv), Gone, Role::Server, p));
        v.push((State(SynRecv), Gone, Role::Server, t));
        v
    }

    fn check(text: &str) {
        assert!(!text.trim().is_empty(), "empty");
        assert!(text.is_ascii(), "non-ASCII: {text}");
        assert!(!text.ends_with('.'), "trailing period: {text}");
        assert!(!text.contains(".."), "{text}");
        assert!(!text.contains("  "), "double space: {text}");
        assert_eq!(text.trim(), text, "{text}");
        // A terminal line or two beside the row (a count of 20 digits aside).
        let digits: usize = text
            .split(|c: char| !c.is_ascii_digit())
            .map(|d| d.len().saturating_sub(3))
            .sum();
        assert!(
            text.len() - digits <= 320,
            "too long ({}): {text}",
            text.len()
        );
    }

    #[test]
    fn every_listed_pair_has_its_own_sentence() {
        for (old, new, role, seen) in listed() {
            for hosts in [defaults(), lowered()] {
                let text = transition(old, new, role, seen, &hosts);
                check(&text);
                assert_ne!(
                    text,
                    generic(old, new, seen),
                    "{old:?} -> {new:?} ({role:?}, {seen:?}) is generic"
                );
                assert!(
                    specific(old, new, role, seen, &hosts).is_some(),
                    "{old:?} -> {new:?}"
                );
            }
        }
    }

    #[test]
    fn every_pair_gives_a_clean_sentence() {
        let mut points = vec![New, Gone];
        points.extend(crate::tcp_state::STATES.iter().map(|i| State(i.state)));
        for old in &points {
            for new in &points {
                for role in ROLES {
                    for seen in SEEN {
                        for hosts in [defaults(), lowered()] {
                            check(&transition(*old, *new, role, seen, &hosts));
                        }
                    }
                }
            }
        }
        for i in crate::tcp_state::STATES.iter() {
            for what in [Resent::Syn, Resent::SynAck, Resent::Fin, Resent::Data] {
                for count in [0, 1, 2, 5, 6, 10, 11, 12, u64::MAX] {
                    for refused in [false, true] {
                        for role in ROLES {
                            for hosts in [defaults(), lowered()] {
                                check(&retransmit(i.state, what, count, refused, role, &hosts));
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn opening_says_what_the_kernel_did() {
        let h = defaults();
        let t = transition(
            State(Close),
            State(SynSent),
            Role::Client,
            Seen::Tracepoint,
            &h,
        );
        assert!(t.contains("first SYN is sent"), "{t}");
        assert!(
            t.contains("resends it at 1, 2, 3, 4, 5, 7, 11, 19, 35 and 67 s"),
            "{t}"
        );
        assert!(
            t.contains("gives up 131 s (about 2 minutes) after the first"),
            "{t}"
        );
        assert!(
            t.contains("tcp_syn_retries=6, tcp_syn_linear_timeouts=4"),
            "{t}"
        );
        let t = transition(
            State(Listen),
            State(SynRecv),
            Role::Server,
            Seen::Tracepoint,
            &h,
        );
        assert!(t.contains("client's ACK completed the handshake"), "{t}");
        assert!(t.contains("listener stays in LISTEN"), "{t}");
        let t = transition(
            State(SynSent),
            State(Close),
            Role::Client,
            Seen::Tracepoint,
            &h,
        );
        for w in ["refused", "ICMP", "131 s", "program closed it"] {
            assert!(t.contains(w), "{w}: {t}");
        }
        let t = transition(New, State(SynRecv), Role::Server, Seen::Polling, &h);
        assert!(t.contains("request socket"), "{t}");
        // 63 s alone (5 resends), about 130 s while the client retries.
        assert!(t.contains("about 63 s (tcp_synack_retries=5)"), "{t}");
        assert!(t.contains("about 130 s"), "{t}");
        assert!(
            t.contains("if the client has them as this host does"),
            "{t}"
        );
        assert!(!t.contains("unseen"), "{t}");
        let t = transition(State(SynRecv), Gone, Role::Server, Seen::Tracepoint, &h);
        assert!(t.contains("own firewall refused a timed resend"), "{t}");
        let t = transition(New, State(SynRecv), Role::Server, Seen::Polling, &lowered());
        assert!(t.contains("about 7.0 s (tcp_synack_retries=2)"), "{t}");
    }

    #[test]
    fn closing_names_the_timers_and_why_time_wait() {
        let h = defaults();
        let t = transition(
            State(FinWait1),
            State(FinWait2),
            Role::Server,
            Seen::Tracepoint,
            &h,
        );
        assert!(t.contains("60 s (tcp_fin_timeout=60)"), "{t}");
        assert!(t.contains("CLOSE_WAIT"), "{t}");
        let t = transition(
            State(FinWait2),
            State(TimeWait),
            Role::Client,
            Seen::Tracepoint,
            &h,
        );
        assert!(t.contains("lost last ACK"), "{t}");
        assert!(t.contains("old duplicate segments"), "{t}");
        assert!(t.contains("60 s"), "{t}");
        let t = transition(
            State(Closing),
            State(TimeWait),
            Role::Client,
            Seen::Tracepoint,
            &h,
        );
        assert!(t.contains("both sides"), "{t}");
        let t = transition(
            State(FinWait2),
            State(Close),
            Role::Server,
            Seen::Tracepoint,
            &h,
        );
        assert!(
            t.contains("timewait socket") && t.contains("FIN_WAIT2"),
            "{t}"
        );
        assert!(t.contains("resets the peer"), "{t}");
        let t = transition(
            State(FinWait1),
            State(Close),
            Role::Server,
            Seen::Tracepoint,
            &h,
        );
        assert!(t.contains("tcp_orphan_retries=0, 0 means 8"), "{t}");
        assert!(
            t.contains("since the FIN if its own firewall refused it"),
            "{t}"
        );
        // 8 orphan retries from 0.2 s: a 102.2 s budget (timing.rs).
        assert!(
            t.contains("once about 102 s (about 2 minutes) had passed"),
            "{t}"
        );
        let t = transition(
            State(LastAck),
            State(Close),
            Role::Server,
            Seen::Tracepoint,
            &h,
        );
        assert!(t.contains("our FIN was acknowledged"), "{t}");
        assert!(t.contains("no TIME_WAIT on this side"), "{t}");
        let t = transition(
            State(Established),
            State(Close),
            Role::Client,
            Seen::Tracepoint,
            &h,
        );
        assert!(t.contains("reset (RST)"), "{t}");
    }

    #[test]
    fn polling_says_what_it_may_have_missed() {
        let h = defaults();
        let t = transition(New, State(Established), Role::Client, Seen::Polling, &h);
        assert!(t.contains("SYN_SENT passed unseen"), "{t}");
        let t = transition(New, State(FinWait1), Role::Unknown, Seen::Polling, &h);
        assert!(t.contains("may have passed unseen"), "{t}");
        let t = transition(New, State(FinWait1), Role::Unknown, Seen::Tracepoint, &h);
        assert!(t.contains("already in FIN_WAIT1"), "{t}");
        let t = transition(State(Established), Gone, Role::Unknown, Seen::Polling, &h);
        assert!(t.contains("CLOSE_WAIT and LAST_ACK passed"), "{t}");
        let t = transition(
            State(Established),
            Gone,
            Role::Unknown,
            Seen::Tracepoint,
            &h,
        );
        assert!(!t.contains("between two looks"), "{t}");
        let t = transition(
            State(Established),
            State(TimeWait),
            Role::Client,
            Seen::Polling,
            &h,
        );
        assert!(
            t.starts_with("ESTABLISHED -> FIN_WAIT1 -> FIN_WAIT2 (or CLOSING) -> TIME_WAIT: the states between passed unseen"),
            "{t}"
        );
        let t = transition(
            State(Established),
            State(LastAck),
            Role::Server,
            Seen::Polling,
            &h,
        );
        assert!(
            t.starts_with("ESTABLISHED -> CLOSE_WAIT -> LAST_ACK: the state between"),
            "{t}"
        );
        // The tracepoint sees every step: no path is guessed.
        let t = transition(
            State(Established),
            State(TimeWait),
            Role::Client,
            Seen::Tracepoint,
            &h,
        );
        assert_eq!(
            t,
            generic(State(Established), State(TimeWait), Seen::Tracepoint)
        );
        // A pair no path joins stays generic.
        let t = transition(
            State(TimeWait),
            State(SynSent),
            Role::Client,
            Seen::Polling,
            &h,
        );
        assert!(t.starts_with("an unusual move from TIME_WAIT"), "{t}");
    }

    #[test]
    fn figures_follow_the_hosts() {
        let (d, l) = (defaults(), lowered());
        let cases: Vec<(Point, Point, Role)> = vec![
            (State(Close), State(SynSent), Role::Client),
            (State(SynSent), State(Close), Role::Client),
            (New, State(SynRecv), Role::Server),
            (State(FinWait1), State(FinWait2), Role::Client),
            (State(FinWait2), State(Close), Role::Server),
            (State(FinWait1), State(Close), Role::Server),
            (State(Established), State(Close), Role::Server),
            (State(FinWait2), Gone, Role::Server),
            (State(SynRecv), Gone, Role::Server),
        ];
        for (old, new, role) in cases {
            let a = transition(old, new, role, Seen::Tracepoint, &d);
            let b = transition(old, new, role, Seen::Tracepoint, &l);
            assert_ne!(a, b, "{old:?} -> {new:?}");
        }
        let t = transition(
            State(Close),
            State(SynSent),
            Role::Client,
            Seen::Tracepoint,
            &l,
        );
        // tcp_syn_retries=2, 1 linear timeout: gaps 1, 1, 2; the next, 4 s,
        // would pass the 7 s budget: given up at 8 s.
        assert!(t.contains("resends it at 1, 2 and 4 s"), "{t}");
        assert!(t.contains("gives up 8.0 s after the first"), "{t}");
        for what in [Resent::Syn, Resent::SynAck, Resent::Fin, Resent::Data] {
            let s = match what {
                Resent::Syn => SynSent,
                Resent::SynAck => SynRecv,
                Resent::Fin => FinWait1,
                Resent::Data => Established,
            };
            assert_ne!(
                retransmit(s, what, 1, false, Role::Client, &d),
                retransmit(s, what, 1, false, Role::Client, &l),
                "{what:?}"
            );
        }
        // The client's SYN schedule seen from the server is the peer's.
        let given = Hosts::with_peer(d.here, "tcp_syn_retries=1").unwrap();
        let t = transition(New, State(SynRecv), Role::Server, Seen::Tracepoint, &given);
        assert!(
            t.contains("the client's tcp_syn_retries=1 from RNET_PEER_SYSCTL"),
            "{t}"
        );
        assert!(t.contains("about 63 s (tcp_synack_retries=5)"), "{t}");
        assert_ne!(
            t,
            transition(New, State(SynRecv), Role::Server, Seen::Tracepoint, &d)
        );
        // The connecting host's own schedule is never the peer's.
        let t = transition(
            State(Close),
            State(SynSent),
            Role::Client,
            Seen::Tracepoint,
            &given,
        );
        assert!(t.contains("tcp_syn_retries=6"), "{t}");
    }

    #[test]
    fn syn_resends_follow_this_hosts_schedule() {
        let h = defaults();
        let t = retransmit(SynSent, Resent::Syn, 1, false, Role::Client, &h);
        assert!(
            t.starts_with("SYN resent #1, 1.0 s after the first SYN (gap 1.0 s): no SYN|ACK"),
            "{t}"
        );
        assert!(
            t.contains("next at 2.0 s, given up at 131 s (about 2 minutes)"),
            "{t}"
        );
        let t = retransmit(SynSent, Resent::Syn, 7, false, Role::Client, &h);
        assert!(
            t.contains("#7, 11 s after the first SYN (gap 4.0 s)"),
            "{t}"
        );
        let t = retransmit(SynSent, Resent::Syn, 10, false, Role::Client, &h);
        assert!(t.contains("67 s after the first SYN (gap 32 s)"), "{t}");
        assert!(t.contains("the last one"), "{t}");
        assert!(
            t.contains("131 s (about 2 minutes) after the first SYN"),
            "{t}"
        );
        assert!(!t.contains("next"), "{t}");
        let t = retransmit(SynSent, Resent::Syn, 11, false, Role::Client, &h);
        assert!(
            t.contains("more resends than this host's settings give (10 resends"),
            "{t}"
        );
        let t = retransmit(SynSent, Resent::Syn, 3, false, Role::Client, &lowered());
        assert!(t.contains("the last one"), "{t}");
        assert!(t.contains("8.0 s after the first SYN"), "{t}");
        let t = retransmit(SynSent, Resent::Syn, 2, true, Role::Client, &h);
        assert!(t.contains("never left this host"), "{t}");
        assert!(t.contains("the schedule goes on; next at 3.0 s"), "{t}");
    }

    #[test]
    fn refused_resends_say_the_segment_never_left() {
        let h = defaults();
        for (s, what) in [
            (SynSent, Resent::Syn),
            (SynRecv, Resent::SynAck),
            (FinWait1, Resent::Fin),
            (LastAck, Resent::Fin),
            (Established, Resent::Data),
        ] {
            let refused = retransmit(s, what, 3, true, Role::Unknown, &h);
            let lost = retransmit(s, what, 3, false, Role::Unknown, &h);
            assert!(refused.contains("never left this host"), "{refused}");
            assert!(refused.contains("OUTPUT DROP"), "{refused}");
            assert!(!lost.contains("never left"), "{lost}");
        }
        let t = retransmit(FinWait1, Resent::Fin, 2, false, Role::Server, &h);
        assert!(
            t.starts_with("FIN resent #2: our FIN is not acknowledged"),
            "{t}"
        );
        assert!(t.contains("tcp_retries2=15"), "{t}");
        assert!(t.contains("925 s"), "{t}");
        let t = retransmit(Established, Resent::Data, 1, false, Role::Client, &h);
        assert!(t.contains("925 s (about 15 minutes)"), "{t}");
        let t = retransmit(SynRecv, Resent::SynAck, 1, true, Role::Server, &h);
        assert!(t.contains("discarded at once"), "{t}");
        let t = retransmit(NewSynRecv, Resent::SynAck, 1, false, Role::Server, &h);
        assert!(t.contains("about 63 s"), "{t}");
    }

    #[test]
    fn lists_read_as_english() {
        assert_eq!(secs_list(&[1]), "1 s");
        assert_eq!(secs_list(&[1, 2]), "1 and 2 s");
        let many: Vec<u64> = (1..=20).collect();
        assert_eq!(secs_list(&many), "1, 2, 3, 4, 5, 6, 7, 8, ... and 20 s");
        assert_eq!(capitalize("this"), "This");
        assert_eq!(capitalize(""), "");
    }
}
