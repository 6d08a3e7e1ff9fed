//! What one socket's state means right now, from the kernel's own numbers
//! (state, timer, retransmissions, probes, queues, inode), never from a
//! guess. Predictions come from [`crate::timing`] and name the sysctl, and
//! the host, they depend on.

use super::{duration, plural, ticks_to_secs, times};
use crate::procnet::{InetEntry, TimerKind};
use crate::tcp_state::TcpState;
use crate::timing::{synrecv_life, unacked_give_up, Host, Hosts, Knob, SynAckLoss, TIME_WAIT_SECS};

fn queues(e: &InetEntry) -> String {
    let mut s = String::new();
    if e.rx_queue > 0 {
        s.push_str(&format!(
            "; {} received, not yet read by the program",
            plural(e.rx_queue, "byte", "bytes")
        ));
    }
    if e.tx_queue > 0 {
        s.push_str(&format!(
            "; {} sent, not yet acknowledged",
            plural(e.tx_queue, "byte", "bytes")
        ));
    }
    s
}

/// A socket with no inode is orphaned: its program has closed it and the
/// kernel finishes the connection alone.
fn orphaned(e: &InetEntry) -> bool {
    e.inode == 0
}

/// SYN_SENT: SYNs resent so far against the kernel's time budget.
fn syn_sent(e: &InetEntry, hosts: &Hosts) -> String {
    let t = &hosts.here;
    let sched = t.syn_schedule();
    let so_far = if e.retransmits == 0 {
        "first SYN sent, no answer yet".to_string()
    } else {
        format!("SYN resent {} so far", times(e.retransmits))
    };
    let budget = format!(
        "the kernel gives up {} after the first SYN: a time budget from {}{}, which fits {} SYNs in all",
        duration(sched.timeout as f64),
        hosts.knob_text(Host::Here, Knob::SynRetries, "the server"),
        match t.syn_linear_timeouts {
            Some(l) if l > 0 => format!(", with tcp_syn_linear_timeouts={l} gaps of 1 s first"),
            _ => String::new(),
        },
        sched.sent
    );
    let next = if e.timer_kind() != TimerKind::Retransmit {
        String::new()
    } else if e.retransmits + 1 >= u64::from(sched.sent) {
        format!(
            "; that was the last SYN: connect() fails with \"Connection timed out\" in {} s",
            ticks_to_secs(e.timer_ticks)
        )
    } else {
        format!("; next SYN in {} s", ticks_to_secs(e.timer_ticks))
    };
    format!("{so_far}; {budget}{next}")
}

/// SYN_RECV: the timer's SYN|ACK resends, and how long the row can live
/// while the client keeps trying (the client's settings are the peer's).
fn syn_recv(e: &InetEntry, hosts: &Hosts) -> String {
    let retries = Knob::SynackRetries.value(&hosts.here);
    let mut s = if e.retransmits == 0 {
        "SYN|ACK sent once, no timed resend yet".to_string()
    } else {
        format!(
            "the timer has resent the SYN|ACK {} of the {retries} {} allows",
            plural(e.retransmits, "time", "times"),
            hosts.knob_text(Host::Here, Knob::SynackRetries, "the client")
        )
    };
    if e.timer_kind() == TimerKind::Retransmit {
        if i64::try_from(e.retransmits).is_ok_and(|r| r >= retries) {
            s.push_str(&format!(
                "; no more timed resends: the request is dropped in {} s unless the client's ACK or another SYN comes",
                ticks_to_secs(e.timer_ticks)
            ));
        } else {
            s.push_str(&format!(
                "; next resend in {} s",
                ticks_to_secs(e.timer_ticks)
            ));
        }
    }
    let client = hosts.peer.syn_send_times();
    let life = synrecv_life(&client.0, retries, SynAckLoss::Wire);
    s.push_str(&format!(
        "; a repeated SYN from the client is answered at once and restarts this timer (not counted here), and a SYN after the request expired makes a new one (the count starts again at 0), so SYN_RECV lasts as long as the client keeps trying: about {} if every SYN|ACK is lost ({} SYN|ACKs in all; {})",
        duration(life.end() as f64),
        life.synacks,
        hosts.knobs_text(
            Host::Peer,
            &[Knob::SynRetries, Knob::SynLinearTimeouts],
            "the client"
        )
    ));
    if e.retransmits == 0 {
        s.push_str("; if this row keeps vanishing and coming back, this host's own OUTPUT chain drops the SYN|ACK: the failed resend discards the request until the client's next SYN (the article puts this down to SYN-flood protection; it is the local drop)");
    }
    s
}

/// FIN_WAIT1, CLOSING, LAST_ACK: our FIN is not acknowledged yet. A FIN
/// that left is retransmitted (`on` timer); a FIN this host refuses to
/// send (a DROP in its OUTPUT chain, or a zero window) is probed (`probe`
/// timer), with probes counted instead of retransmissions.
fn fin_unacked(e: &InetEntry, hosts: &Hosts) -> String {
    let t = &hosts.here;
    let probing = e.timer_kind() == TimerKind::Probe;
    let (boundary, why) = if orphaned(e) {
        (
            t.orphan_retries_effective(),
            format!(
                "the budget of {} (0 means 8) for a socket its program has closed",
                hosts.knob_text(Host::Here, Knob::OrphanRetries, "the peer")
            ),
        )
    } else {
        (
            Knob::Retries2.value(t),
            format!(
                "the budget of {} while the program still holds the socket",
                hosts.knob_text(Host::Here, Knob::Retries2, "the peer")
            ),
        )
    };
    let end = unacked_give_up(boundary.clamp(0, 255) as u32, probing);
    let give_up = match end.early {
        Some(early) => format!(
            "gives up about {} or {} after the FIN was first sent (one doubling later unless the timers ran late): {why}",
            duration(early),
            duration(end.late)
        ),
        None => format!("gives up after about {}: {why}", duration(end.late)),
    };
    match e.timer_kind() {
        TimerKind::Probe => format!(
            "the FIN has not left this host: sending is refused here (a DROP in this host's OUTPUT chain, or the peer's window is zero), so the kernel runs its probe timer instead of retransmitting: {} so far, next in {} s; {give_up}",
            plural(e.probes.max(0) as u64, "probe", "probes"),
            ticks_to_secs(e.timer_ticks)
        ),
        TimerKind::Retransmit if e.retransmits > 0 => format!(
            "the FIN (or data before it) was resent {}, next in {} s: it or its ACK is lost on the way; {give_up}",
            times(e.retransmits),
            ticks_to_secs(e.timer_ticks)
        ),
        _ => format!("FIN sent, its ACK normally comes within one round trip; if it stays, the socket {give_up}"),
    }
}

/// Why TIME_WAIT exists, in one clause.
const TIME_WAIT_WHY: &str = "it lingers so that, if our last ACK is lost, the peer's resent FIN is answered again, and so old duplicate segments of this connection die out before the same addresses and ports are used again";

/// A one-line explanation of a TCP socket for a learner, with its live
/// numbers. The text starts with the state in netstat's spelling, so a
/// `grep` for a state finds annotated lines as well.
pub fn explain_tcp(e: &InetEntry, hosts: &Hosts) -> String {
    let Some(state) = e.state.known() else {
        return format!(
            "state code {:02X} is not a TCP state rnetstat knows",
            e.state.code()
        );
    };
    let name = state.info().netstat;
    let sys = &hosts.here;
    let body = match state {
        TcpState::Established => {
            let mut s = String::from("handshake complete, data can flow both ways");
            if e.inode == 0 {
                s.push_str("; not yet accept()ed by the listening program");
            }
            s.push_str(&queues(e));
            if e.retransmits > 0 {
                s.push_str(&format!(
                    "; data resent {} so far: segments or their ACKs are being lost",
                    times(e.retransmits)
                ));
            }
            if e.timer_kind() == TimerKind::Probe {
                s.push_str("; probe timer: sending is refused (the peer's window is zero, or a DROP in this host's OUTPUT chain)");
            }
            s
        }
        TcpState::SynSent => format!(
            "handshake step 1 of 3: our SYN is out, no SYN|ACK yet; {}; a SYN that stays unanswered means it or the reply is dropped",
            syn_sent(e, hosts)
        ),
        TcpState::SynRecv | TcpState::NewSynRecv => format!(
            "handshake step 2 of 3: SYN received and SYN|ACK sent, waiting for the client's final ACK; {}",
            syn_recv(e, hosts)
        ),
        TcpState::FinWait1 => format!(
            "this side closed first; its FIN is not acknowledged yet; {}",
            fin_unacked(e, hosts)
        ),
        TcpState::FinWait2 => {
            if e.timer_kind() == TimerKind::TimeWait || orphaned(e) {
                let left = match e.timer_kind() {
                    TimerKind::TimeWait | TimerKind::Keepalive => {
                        format!("{} s left", ticks_to_secs(e.timer_ticks))
                    }
                    _ => "timer not shown".to_string(),
                };
                format!(
                    "this side closed first and the peer acknowledged its FIN; the program is gone (orphaned), so it ends after {} s ({}) unless the peer's FIN arrives: {left}; the peer is in CLOSE_WAIT until its program closes (the article expects TIME_WAIT after Ctrl-C on the server: its nc client quit when the server closed, where Debian's nc 1.219 and rnc keep the client until its input ends)",
                    Knob::FinTimeout.value(sys),
                    hosts.knob_text(Host::Here, Knob::FinTimeout, "the peer")
                )
            } else {
                "this side sent its FIN (shutdown() or close) and the peer acknowledged it; the program still holds the socket, so no timer ends this: it waits for the peer's FIN for as long as it takes (a half-close: it can still receive); the peer is in CLOSE_WAIT".to_string()
            }
        }
        TcpState::TimeWait => format!(
            "this side sent its FIN first (after a simultaneous close, both sides are here); {TIME_WAIT_WHY}: {} s left of the fixed {TIME_WAIT_SECS} s (TCP_TIMEWAIT_LEN, no sysctl), then the socket is gone",
            ticks_to_secs(e.timer_ticks)
        ),
        TcpState::Close => {
            "no connection: the socket is bound but neither listening nor connected".to_string()
        }
        TcpState::CloseWait => format!(
            "peer closed first (its FIN arrived), the local program has not closed yet; it stays until the program closes; {}",
            match e.rx_queue {
                0 => "Recv-Q 0: the program has read everything, end-of-file included".to_string(),
                1 => "Recv-Q 1 is the peer's FIN, which takes a sequence number: all data was read, end-of-file not yet".to_string(),
                n => format!(
                    "{} not yet read, then the FIN",
                    plural(n - 1, "byte", "bytes")
                ),
            }
        ),
        TcpState::LastAck => format!(
            "peer closed first, then this side; waiting for the ACK of our FIN; {}",
            fin_unacked(e, hosts)
        ),
        TcpState::Listen => format!(
            "waiting for connections; {} in the accept queue",
            plural(e.rx_queue, "connection waits", "connections wait")
        ),
        TcpState::Closing => format!(
            "both sides closed at once (simultaneous close): the peer's FIN crossed ours; waiting for the ACK of our FIN, then both sides go to TIME_WAIT; {}",
            fin_unacked(e, hosts)
        ),
    };
    format!("{name}: {body}")
}

/// What netstat's `-o` column says for this socket: the timer's name and
/// its three numbers.
pub fn explain_timer(e: &InetEntry) -> String {
    let secs = ticks_to_secs(e.timer_ticks);
    let (r, p) = (e.retransmits, e.probes);
    match e.timer_kind() {
        TimerKind::Off => "timer `off`: nothing is scheduled for this socket".to_string(),
        TimerKind::Retransmit => format!(
            "timer `on ({secs}/{r}/{p})`: the retransmission timer fires in {secs} s; {r} counts retransmissions (in SYN_RECV: SYN|ACKs resent by the timer), {p} unanswered probes"
        ),
        TimerKind::Keepalive => format!(
            "timer `keepalive ({secs}/{r}/{p})`: the socket's own timer fires in {secs} s (keepalive probes, or an orphaned FIN_WAIT2's tcp_fin_timeout); {p} keepalive probes unanswered"
        ),
        TimerKind::TimeWait => format!(
            "timer `timewait ({secs}/{r}/{p})`: the kernel removes this socket in {secs} s"
        ),
        TimerKind::Probe => format!(
            "timer `probe ({secs}/{r}/{p})`: the probe timer fires in {secs} s; {p} probes so far ({r} retransmissions: nothing has left this host to be retransmitted); the peer's window is zero, or this host refuses to send"
        ),
        TimerKind::Other(k) => format!("timer code {k}: not one netstat names"),
    }
}

/// A one-line explanation of a UDP socket: UDP has no connection states.
pub fn explain_udp(e: &InetEntry) -> String {
    if e.state.known() == Some(TcpState::Established) {
        "UDP has no handshake: connect() only fixed the peer address; datagrams from elsewhere are dropped".to_string()
    } else {
        "UDP has no handshake: bound and receiving datagrams from anyone".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp_state::StateCode;
    use crate::timing::TcpTimers;
    use std::net::{IpAddr, Ipv4Addr};

    fn entry(state: u8) -> InetEntry {
        InetEntry {
            slot: 0,
            local: IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1)),
            local_port: 47550,
            remote: IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2)),
            remote_port: 5555,
            state: StateCode::from(state),
            tx_queue: 0,
            rx_queue: 0,
            timer: 0,
            timer_ticks: 0,
            retransmits: 0,
            uid: 0,
            probes: 0,
            inode: 1234,
            fields: 17,
        }
    }

    fn sys() -> Hosts {
        Hosts::same(TcpTimers {
            syn_retries: Some(6),
            synack_retries: Some(5),
            fin_timeout: Some(60),
            orphan_retries: Some(0),
            ..TcpTimers::default()
        })
    }

    #[test]
    fn every_state_starts_with_its_netstat_name() {
        for code in 1..=0x0C {
            let text = explain_tcp(&entry(code), &sys());
            let want = StateCode::from(code).netstat_name();
            assert!(text.starts_with(&format!("{want}: ")), "{text}");
        }
        assert!(explain_tcp(&entry(0x0D), &sys()).contains("0D"));
        assert!(explain_tcp(&entry(0), &sys()).contains("00"));
    }

    #[test]
    fn established_mentions_queues_and_accept() {
        let mut e = entry(1);
        e.rx_queue = 100;
        e.tx_queue = 1;
        e.inode = 0;
        let t = explain_tcp(&e, &sys());
        assert!(t.contains("not yet accept()ed"), "{t}");
        assert!(t.contains("100 bytes received"), "{t}");
        assert!(t.contains("1 byte sent"), "{t}");
    }

    #[test]
    fn syn_sent_counts_retries_and_next() {
        let mut e = entry(2);
        e.timer = 1;
        e.timer_ticks = 0x2EB;
        e.retransmits = 7;
        let t = explain_tcp(&e, &sys());
        // tcp_syn_retries=6 without linear timeouts: 7 SYNs in a 127 s
        // budget; the 7th is the last, so the timer says when it gives up.
        assert!(t.contains("SYN resent 7 times so far"), "{t}");
        assert!(
            t.contains("gives up 127 s (about 2 minutes) after the first SYN"),
            "{t}"
        );
        assert!(t.contains("fits 7 SYNs in all"), "{t}");
        assert!(t.contains("that was the last SYN"), "{t}");
        assert!(t.contains("\"Connection timed out\" in 7.47 s"), "{t}");
        assert!(!t.contains("next SYN"), "{t}");
        e.retransmits = 1;
        let t = explain_tcp(&e, &sys());
        assert!(t.contains("SYN resent 1 time so far; "), "{t}");
        assert!(t.contains("next SYN in 7.47 s"), "{t}");
        e.retransmits = 0;
        assert!(explain_tcp(&e, &sys()).contains("first SYN sent, no answer yet"));
    }

    #[test]
    fn syn_recv_counts_synack_retries() {
        let mut e = entry(3);
        e.timer = 1;
        e.timer_ticks = 0x151;
        e.retransmits = 3;
        e.inode = 0;
        let t = explain_tcp(&e, &sys());
        assert!(t.contains("waiting for the client's final ACK"), "{t}");
        assert!(
            t.contains("resent the SYN|ACK 3 times of the 5 tcp_synack_retries=5 allows"),
            "{t}"
        );
        assert!(t.contains("next resend in 3.37 s"), "{t}");
        assert!(t.contains("as long as the client keeps trying"), "{t}");
        // The client's SYNs are the peer's: 7 SYNs (0 .. 63 s) without
        // linear timeouts; the request resends 5 times after the last.
        assert!(t.contains("about 126 s"), "{t}");
        assert!(
            t.contains("tcp_syn_retries=6 if the client has it as this host does"),
            "{t}"
        );
        assert!(!t.contains("vanishing"), "{t}");
        e.retransmits = 5;
        let t = explain_tcp(&e, &sys());
        assert!(t.contains("no more timed resends"), "{t}");
        e.retransmits = 0;
        let t = explain_tcp(&e, &sys());
        assert!(t.contains("OUTPUT chain drops the SYN|ACK"), "{t}");
        assert!(t.contains("SYN-flood"), "{t}");
        // Given the client's settings, the figure follows them.
        let hosts = Hosts::with_peer(sys().here, "tcp_syn_retries=1").unwrap();
        let t = explain_tcp(&e, &hosts);
        assert!(
            t.contains("the client's tcp_syn_retries=1 from RNET_PEER_SYSCTL"),
            "{t}"
        );
    }

    #[test]
    fn time_wait_counts_down() {
        let mut e = entry(6);
        e.timer = 3;
        e.timer_ticks = 0x174C;
        e.inode = 0;
        let t = explain_tcp(&e, &sys());
        assert!(t.contains("this side sent its FIN first"), "{t}");
        assert!(t.contains("simultaneous close, both sides"), "{t}");
        assert!(t.contains("our last ACK is lost"), "{t}");
        assert!(t.contains("old duplicate segments"), "{t}");
        assert!(t.contains("59.64 s left of the fixed 60 s"), "{t}");
    }

    #[test]
    fn close_wait_blames_the_program() {
        let mut e = entry(8);
        e.rx_queue = 1;
        let t = explain_tcp(&e, &sys());
        assert!(t.contains("peer closed first"), "{t}");
        assert!(t.contains("the local program has not"), "{t}");
        assert!(!t.contains("not yet read"), "{t}");
    }

    #[test]
    fn fin_wait2_orphaned_or_held() {
        let mut e = entry(5);
        e.timer = 3;
        e.timer_ticks = 0x12C7;
        e.inode = 0;
        let t = explain_tcp(&e, &sys());
        assert!(t.contains("orphaned"), "{t}");
        assert!(t.contains("ends after 60 s (tcp_fin_timeout=60)"), "{t}");
        assert!(t.contains("the article expects TIME_WAIT"), "{t}");
        assert!(t.contains("48.07 s left"), "{t}");
        let held = explain_tcp(&entry(5), &sys());
        assert!(held.contains("program still holds the socket"), "{held}");
    }

    #[test]
    fn listen_reports_accept_queue() {
        let mut e = entry(0x0A);
        e.rx_queue = 2;
        assert!(explain_tcp(&e, &sys()).contains("2 connections wait in the accept queue"));
    }

    #[test]
    fn orphan_retries_zero_means_eight() {
        // A FIN this host's OUTPUT chain drops never leaves: probe timer,
        // probes counted, no retransmission.
        let mut e = entry(4);
        e.timer = 4;
        e.probes = 8;
        e.timer_ticks = 5212;
        e.inode = 0;
        let t = explain_tcp(&e, &sys());
        assert!(t.contains("the FIN has not left this host"), "{t}");
        assert!(t.contains("8 probes so far, next in 52.12 s"), "{t}");
        assert!(!t.contains("retransmission so far"), "{t}");
        assert!(t.contains("gives up after about 102 s"), "{t}");
        assert!(t.contains("tcp_orphan_retries=0 (0 means 8)"), "{t}");
        // A FIN lost on the way is retransmitted.
        e.timer = 1;
        e.retransmits = 3;
        let t = explain_tcp(&e, &sys());
        assert!(t.contains("resent 3 times, next in 52.12 s"), "{t}");
        // Still held by the program: tcp_retries2's budget.
        e.inode = 7;
        let t = explain_tcp(&e, &sys());
        assert!(
            t.contains("about 925 s (about 15 minutes) or 1045 s (about 17 minutes)"),
            "{t}"
        );
        assert!(t.contains("tcp_retries2=15"), "{t}");
        let t = explain_tcp(&entry(9), &sys());
        assert!(
            t.starts_with("LAST_ACK: peer closed first, then this side"),
            "{t}"
        );
        let t = explain_tcp(&entry(0x0B), &sys());
        assert!(t.contains("simultaneous close"), "{t}");
        let t = explain_tcp(&entry(7), &sys());
        assert!(t.contains("no connection"), "{t}");
    }

    #[test]
    fn close_wait_recv_q_counts_the_fin() {
        let mut e = entry(8);
        e.rx_queue = 1;
        let t = explain_tcp(&e, &sys());
        assert!(t.contains("Recv-Q 1 is the peer's FIN"), "{t}");
        e.rx_queue = 0;
        assert!(explain_tcp(&e, &sys()).contains("end-of-file included"));
        e.rx_queue = 11;
        assert!(explain_tcp(&e, &sys()).contains("10 bytes not yet read, then the FIN"));
    }

    #[test]
    fn timer_column_explained() {
        let mut e = entry(4);
        e.timer = 4;
        e.probes = 8;
        e.timer_ticks = 5212;
        let t = explain_timer(&e);
        assert!(t.starts_with("timer `probe (52.12/0/8)`"), "{t}");
        e.timer = 1;
        e.retransmits = 2;
        assert!(explain_timer(&e).starts_with("timer `on (52.12/2/8)`"));
        e.timer = 0;
        assert!(explain_timer(&e).contains("`off`"));
        e.timer = 3;
        assert!(explain_timer(&e).contains("removes this socket in 52.12 s"));
        e.timer = 2;
        assert!(explain_timer(&e).contains("tcp_fin_timeout"));
    }

    #[test]
    fn udp_has_no_states() {
        let mut e = entry(7);
        assert!(explain_udp(&e).contains("no handshake"));
        e.state = StateCode::from(1);
        assert!(explain_udp(&e).contains("connect()"));
    }
}
