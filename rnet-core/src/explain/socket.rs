//! What one socket's state means right now, from the kernel's own numbers
//! (state, timer, retransmissions, queues, inode), never from a guess.
//! Predictions name the sysctl they come from.

use super::{plural, ticks_to_secs};
use crate::procnet::{InetEntry, TimerKind};
use crate::tcp_state::TcpState;
use crate::timing::{Hosts, TcpTimers};

/// `" of tcp_syn_retries=6"`, or nothing when the sysctl is unknown.
fn of_knob(knob: &str, value: Option<i64>) -> String {
    value.map(|v| format!(" of {knob}={v}")).unwrap_or_default()
}

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

/// SYN retransmissions against what the kernel allows: `tcp_syn_retries`
/// plus `tcp_syn_linear_timeouts` where that knob exists (Linux 6.5+).
fn syn_retries(e: &InetEntry, sys: &TcpTimers) -> String {
    let limit = match (sys.syn_retries, sys.syn_linear_timeouts) {
        (Some(r), Some(l)) if l > 0 => format!(
            " of {} (tcp_syn_retries={r} + tcp_syn_linear_timeouts={l})",
            sys.syn_schedule().sent.saturating_sub(1)
        ),
        _ => of_knob("tcp_syn_retries", sys.syn_retries),
    };
    retries_and_next(e, "SYN", &limit)
}

fn retries_and_next(e: &InetEntry, what: &str, limit: &str) -> String {
    let mut s = format!(
        "{} so far",
        if e.retransmits == 0 {
            format!("no {what} retransmission")
        } else {
            format!("{what} retransmissions: {}{limit}", e.retransmits)
        }
    );
    if e.timer_kind() == TimerKind::Retransmit {
        s.push_str(&format!(", next in {} s", ticks_to_secs(e.timer_ticks)));
    }
    s
}

fn probe_note(e: &InetEntry) -> &'static str {
    if e.timer_kind() == TimerKind::Probe {
        "; probe timer: sends are being refused (zero window, or a DROP in this host's OUTPUT chain)"
    } else {
        ""
    }
}

/// A one-line explanation of a TCP socket for a learner, with its live
/// numbers. The text starts with the state in netstat's spelling, so a
/// `grep` for a state finds annotated lines as well.
pub fn explain_tcp(e: &InetEntry, hosts: &Hosts) -> String {
    let sys = &hosts.here;
    let Some(state) = e.state.known() else {
        return format!(
            "state code {:02X} is not a TCP state rnetstat knows",
            e.state.code()
        );
    };
    let name = state.info().netstat;
    let body = match state {
        TcpState::Established => {
            let mut s = String::from("handshake complete, data can flow both ways");
            if e.inode == 0 {
                s.push_str("; not yet accept()ed by the listening program");
            }
            s.push_str(&queues(e));
            if e.retransmits > 0 {
                s.push_str(&format!(
                    "; {} of unacknowledged data",
                    plural(e.retransmits, "retransmission", "retransmissions")
                ));
            }
            s
        }
        TcpState::SynSent => format!(
            "handshake step 1 of 3: our SYN is out, no SYN|ACK yet; {}; a SYN that stays unanswered means it or the reply is dropped",
            syn_retries(e, sys)
        ),
        TcpState::SynRecv | TcpState::NewSynRecv => format!(
            "handshake step 2 of 3: SYN received and SYN|ACK sent, waiting for the client's final ACK; {}{}",
            retries_and_next(e, "SYN|ACK", &of_knob("tcp_synack_retries", sys.synack_retries)),
            if e.retransmits == 0 {
                "; if this row keeps vanishing and coming back, this host's own OUTPUT chain drops the SYN|ACK: the refused resend discards the request until the client's next SYN"
            } else {
                ""
            }
        ),
        TcpState::FinWait1 => format!(
            "this side closed first; its FIN is not acknowledged yet; {}{}",
            retries_and_next(e, "FIN", &of_knob("tcp_orphan_retries", sys.orphan_retries.map(orphan_retries))),
            probe_note(e)
        ),
        TcpState::FinWait2 => {
            if e.timer_kind() == TimerKind::TimeWait || e.inode == 0 {
                let left = match e.timer_kind() {
                    TimerKind::TimeWait | TimerKind::Keepalive => {
                        format!("{} s left", ticks_to_secs(e.timer_ticks))
                    }
                    _ => "timer not shown".to_string(),
                };
                format!(
                    "this side closed first and the peer acknowledged its FIN; the program is gone (orphaned), so it ends after tcp_fin_timeout{} unless the peer's FIN arrives: {left}; the peer is in CLOSE_WAIT",
                    sys.fin_timeout.map(|v| format!("={v} s")).unwrap_or_default()
                )
            } else {
                "this side sent its FIN (shutdown() or close) and the peer acknowledged it; the program still holds the socket, so no timer ends this: it waits for the peer's FIN for as long as it takes; the peer is in CLOSE_WAIT".to_string()
            }
        }
        TcpState::TimeWait => format!(
            "this side closed first; both FINs are acknowledged; {} s left of the 60 s 2MSL wait (TCP_TIMEWAIT_LEN), then the socket is gone",
            ticks_to_secs(e.timer_ticks)
        ),
        TcpState::Close => "no connection: the socket is bound but neither listening nor connected".to_string(),
        TcpState::CloseWait => format!(
            "peer closed first (its FIN arrived), the local program has not closed yet; it stays until the program closes{}",
            if e.rx_queue > 1 {
                format!("; {} not yet read", plural(e.rx_queue - 1, "byte", "bytes"))
            } else {
                String::new()
            }
        ),
        TcpState::LastAck => format!(
            "peer closed first, then this side; waiting for the ACK of our FIN; {}{}",
            retries_and_next(e, "FIN", &of_knob("tcp_orphan_retries", sys.orphan_retries.map(orphan_retries))),
            probe_note(e)
        ),
        TcpState::Listen => format!(
            "waiting for connections; {} in the accept queue",
            plural(e.rx_queue, "connection waits", "connections wait")
        ),
        TcpState::Closing => format!(
            "both sides closed at once (simultaneous close); waiting for the ACK of our FIN; {}",
            retries_and_next(e, "FIN", &of_knob("tcp_orphan_retries", sys.orphan_retries.map(orphan_retries)))
        ),
    };
    format!("{name}: {body}")
}

/// The kernel reads `tcp_orphan_retries = 0` as 8.
fn orphan_retries(v: i64) -> i64 {
    if v == 0 {
        8
    } else {
        v
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
        assert!(
            t.contains("SYN retransmissions: 7 of tcp_syn_retries=6"),
            "{t}"
        );
        assert!(t.contains("next in 7.47 s"), "{t}");
        e.retransmits = 0;
        assert!(explain_tcp(&e, &sys()).contains("no SYN retransmission so far"));
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
            t.contains("SYN|ACK retransmissions: 3 of tcp_synack_retries=5"),
            "{t}"
        );
        assert!(t.contains("next in 3.37 s"), "{t}");
        assert!(!t.contains("vanishing"), "{t}");
        e.retransmits = 0;
        let t = explain_tcp(&e, &sys());
        assert!(t.contains("OUTPUT chain drops the SYN|ACK"), "{t}");
    }

    #[test]
    fn time_wait_counts_down() {
        let mut e = entry(6);
        e.timer = 3;
        e.timer_ticks = 0x174C;
        e.inode = 0;
        let t = explain_tcp(&e, &sys());
        assert!(t.contains("this side closed first"), "{t}");
        assert!(t.contains("59.64 s left of the 60 s"), "{t}");
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
        assert!(t.contains("tcp_fin_timeout=60 s"), "{t}");
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
        let mut e = entry(4);
        e.retransmits = 3;
        e.timer = 4;
        let t = explain_tcp(&e, &sys());
        assert!(t.contains("3 of tcp_orphan_retries=8"), "{t}");
        assert!(t.contains("probe timer"), "{t}");
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
    fn udp_has_no_states() {
        let mut e = entry(7);
        assert!(explain_udp(&e).contains("no handshake"));
        e.state = StateCode::from(1);
        assert!(explain_udp(&e).contains("connect()"));
    }
}
