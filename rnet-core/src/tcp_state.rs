//! The TCP state table: one source of truth for every binary.
//!
//! Each state is numbered as in the kernel's `include/net/tcp_states.h`
//! (the `st` column of `/proc/net/tcp`). Every spelling has its own named
//! field (net-tools `SYN_RECV`, RFC 793 `SYN-RECEIVED`) and no `Display`
//! silently picks one.

/// A TCP state as the kernel numbers it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TcpState {
    /// 01: data flows both ways.
    Established,
    /// 02: active open, our SYN is out, waiting for SYN|ACK.
    SynSent,
    /// 03: passive open, SYN received and SYN|ACK sent, waiting for the ACK.
    SynRecv,
    /// 04: we closed first and our FIN is not yet acknowledged.
    FinWait1,
    /// 05: our FIN was acknowledged; waiting for the peer's FIN.
    FinWait2,
    /// 06: both FINs exchanged, we closed first; waiting 2MSL.
    TimeWait,
    /// 07: no connection (a bound or fresh socket).
    Close,
    /// 08: the peer closed first; our program has not closed yet.
    CloseWait,
    /// 09: the peer closed first, we closed after; waiting for the last ACK.
    LastAck,
    /// 0A: waiting for connections.
    Listen,
    /// 0B: both sides closed at once; waiting for the ACK of our FIN.
    Closing,
    /// 0C: the kernel's request-socket state; `/proc` prints it as 03.
    NewSynRecv,
}

/// A state code as read from the kernel: a known [`TcpState`] or the raw
/// number of one this table does not know. Unknown codes are kept, never
/// mapped silently to a known state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StateCode {
    /// A state the table knows.
    Known(TcpState),
    /// Any other value of the `st` column.
    Unknown(u8),
}

impl TryFrom<u8> for TcpState {
    type Error = u8;

    fn try_from(code: u8) -> Result<Self, u8> {
        Ok(match code {
            0x01 => TcpState::Established,
            0x02 => TcpState::SynSent,
            0x03 => TcpState::SynRecv,
            0x04 => TcpState::FinWait1,
            0x05 => TcpState::FinWait2,
            0x06 => TcpState::TimeWait,
            0x07 => TcpState::Close,
            0x08 => TcpState::CloseWait,
            0x09 => TcpState::LastAck,
            0x0A => TcpState::Listen,
            0x0B => TcpState::Closing,
            0x0C => TcpState::NewSynRecv,
            other => return Err(other),
        })
    }
}

impl From<u8> for StateCode {
    fn from(code: u8) -> Self {
        match TcpState::try_from(code) {
            Ok(s) => StateCode::Known(s),
            Err(raw) => StateCode::Unknown(raw),
        }
    }
}

impl StateCode {
    /// The net-tools spelling; `UNKNOWN` for codes the table does not know
    /// (net-tools itself reads past its array there).
    pub fn netstat_name(self) -> &'static str {
        match self {
            StateCode::Known(s) => s.info().netstat,
            StateCode::Unknown(_) => "UNKNOWN",
        }
    }

    /// The number as the kernel printed it.
    pub fn code(self) -> u8 {
        match self {
            StateCode::Known(s) => s.info().code,
            StateCode::Unknown(raw) => raw,
        }
    }

    /// The known state, if any.
    pub fn known(self) -> Option<TcpState> {
        match self {
            StateCode::Known(s) => Some(s),
            StateCode::Unknown(_) => None,
        }
    }
}

/// Which end of a connection reaches a state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The end that called `connect()`.
    ActiveOpener,
    /// The end that called `listen()` / `accept()`.
    PassiveOpener,
    /// Either end, once the connection is up.
    Both,
    /// The end that sent the first FIN.
    ActiveCloser,
    /// The end that received the first FIN.
    PassiveCloser,
    /// Both ends at once (simultaneous close).
    SimultaneousCloser,
    /// No connection at all.
    Neither,
}

impl Side {
    /// A short phrase for a learner.
    pub fn describe(self) -> &'static str {
        match self {
            Side::ActiveOpener => "the side that called connect()",
            Side::PassiveOpener => "the listening side",
            Side::Both => "both sides",
            Side::ActiveCloser => "the side that closed first",
            Side::PassiveCloser => "the side whose peer closed first",
            Side::SimultaneousCloser => "both sides, when they close at the same time",
            Side::Neither => "a socket with no connection",
        }
    }
}

/// The timer that ends a state, and the knob behind it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateTimer {
    /// What the timer does.
    pub what: &'static str,
    /// The sysctl (under `/proc/sys/`) or constant that sets it.
    pub knob: &'static str,
}

/// Everything the tools say about one state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateInfo {
    /// The state.
    pub state: TcpState,
    /// Kernel number (`st` column).
    pub code: u8,
    /// net-tools `netstat` spelling (under `LC_ALL=C`).
    pub netstat: &'static str,
    /// RFC 793 name.
    pub rfc793: &'static str,
    /// `ss` spelling.
    pub ss: &'static str,
    /// Which side reaches it.
    pub side: Side,
    /// What moves a socket into this state.
    pub enters: &'static str,
    /// What moves it out, and where to.
    pub leaves: &'static str,
    /// The timer that ends it, if one does.
    pub timer: Option<StateTimer>,
    /// One line for a learner.
    pub explanation: &'static str,
    /// What the learner can do or watch next.
    pub next: &'static str,
}

/// The state table, in kernel order.
pub const STATES: [StateInfo; 12] = [
    StateInfo {
        state: TcpState::Established,
        code: 0x01,
        netstat: "ESTABLISHED",
        rfc793: "ESTABLISHED",
        ss: "ESTAB",
        side: Side::Both,
        enters: "the three-way handshake completed (SYN, SYN|ACK, ACK)",
        leaves: "this side closes (sends FIN: FIN_WAIT1) or the peer's FIN arrives (CLOSE_WAIT)",
        timer: None,
        explanation: "connection open, data can flow both ways",
        next: "close one end (Ctrl-C or Ctrl-D) to start the teardown",
    },
    StateInfo {
        state: TcpState::SynSent,
        code: 0x02,
        netstat: "SYN_SENT",
        rfc793: "SYN-SENT",
        ss: "SYN-SENT",
        side: Side::ActiveOpener,
        enters: "connect() sent a SYN",
        leaves:
            "a SYN|ACK arrives (ESTABLISHED), a RST arrives (refused), or the SYN retries run out",
        timer: Some(StateTimer {
            what: "SYN retransmission: gaps of 1 s (net.ipv4.tcp_syn_linear_timeouts), then doubling, until a time budget is spent",
            knob: "net.ipv4.tcp_syn_retries",
        }),
        explanation: "our SYN is out, waiting for the peer's SYN|ACK",
        next: "if it stays here, the SYN or the SYN|ACK is being dropped (firewall?)",
    },
    StateInfo {
        state: TcpState::SynRecv,
        code: 0x03,
        netstat: "SYN_RECV",
        rfc793: "SYN-RECEIVED",
        ss: "SYN-RECV",
        side: Side::PassiveOpener,
        enters: "a SYN arrived at a listener and a SYN|ACK was sent",
        leaves: "the client's ACK arrives (ESTABLISHED), or the SYN|ACK retries run out with no new SYN from the client",
        timer: Some(StateTimer {
            what: "SYN|ACK retransmission, 1 s and then doubling; each repeated SYN from the client is answered at once and restarts it",
            knob: "net.ipv4.tcp_synack_retries",
        }),
        explanation: "SYN received and SYN|ACK sent, waiting for the final ACK",
        next: "if it stays here, the SYN|ACK or the final ACK is being dropped",
    },
    StateInfo {
        state: TcpState::FinWait1,
        code: 0x04,
        netstat: "FIN_WAIT1",
        rfc793: "FIN-WAIT-1",
        ss: "FIN-WAIT-1",
        side: Side::ActiveCloser,
        enters: "this side closed first and sent its FIN",
        leaves: "the ACK of our FIN arrives (FIN_WAIT2), or the peer's FIN crosses ours (CLOSING)",
        timer: Some(StateTimer {
            what: "FIN retransmission, or the probe timer while this host cannot send (a DROP in its OUTPUT chain, a zero window)",
            knob: "net.ipv4.tcp_orphan_retries once the program has closed the socket, net.ipv4.tcp_retries2 while it holds it",
        }),
        explanation: "we closed first; our FIN is not acknowledged yet",
        next: "normally gone in one round trip; if it stays, our FIN or its ACK is dropped",
    },
    StateInfo {
        state: TcpState::FinWait2,
        code: 0x05,
        netstat: "FIN_WAIT2",
        rfc793: "FIN-WAIT-2",
        ss: "FIN-WAIT-2",
        side: Side::ActiveCloser,
        enters: "the peer acknowledged our FIN",
        leaves: "the peer's FIN arrives (TIME_WAIT), or, if orphaned, tcp_fin_timeout expires",
        timer: Some(StateTimer {
            what: "orphan timeout (only once the program has closed the socket)",
            knob: "net.ipv4.tcp_fin_timeout",
        }),
        explanation: "we closed first and the peer acknowledged; waiting for the peer's FIN",
        next: "the peer sits in CLOSE_WAIT until its program closes",
    },
    StateInfo {
        state: TcpState::TimeWait,
        code: 0x06,
        netstat: "TIME_WAIT",
        rfc793: "TIME-WAIT",
        ss: "TIME-WAIT",
        side: Side::ActiveCloser,
        enters: "our FIN was acknowledged and the peer's FIN arrived: this side closed first, or both closed at once (through CLOSING)",
        leaves: "60 s pass (TCP_TIMEWAIT_LEN): the socket is gone",
        timer: Some(StateTimer {
            what: "2MSL wait, fixed at 60 s",
            knob: "TCP_TIMEWAIT_LEN (compile-time, no sysctl)",
        }),
        explanation: "waiting 60 s so that a lost last ACK can be sent again and old duplicate segments die out",
        next: "it disappears by itself; the peer's socket is already gone (or also in TIME_WAIT after a simultaneous close)",
    },
    StateInfo {
        state: TcpState::Close,
        code: 0x07,
        netstat: "CLOSE",
        rfc793: "CLOSED",
        ss: "UNCONN",
        side: Side::Neither,
        enters: "a socket was created or bound but neither connected nor listening",
        leaves: "connect() (SYN_SENT) or listen() (LISTEN)",
        timer: None,
        explanation: "no connection: bound or fresh socket",
        next: "nothing happens until the program calls connect() or listen()",
    },
    StateInfo {
        state: TcpState::CloseWait,
        code: 0x08,
        netstat: "CLOSE_WAIT",
        rfc793: "CLOSE-WAIT",
        ss: "CLOSE-WAIT",
        side: Side::PassiveCloser,
        enters: "the peer's FIN arrived: the peer closed first",
        leaves: "our program closes the socket and sends its FIN (LAST_ACK)",
        timer: None,
        explanation: "peer closed, the local program has not",
        next: "it stays until the program closes; many of these mean a leaked socket",
    },
    StateInfo {
        state: TcpState::LastAck,
        code: 0x09,
        netstat: "LAST_ACK",
        rfc793: "LAST-ACK",
        ss: "LAST-ACK",
        side: Side::PassiveCloser,
        enters: "the peer closed first and we have now sent our FIN too",
        leaves: "the ACK of our FIN arrives: the socket is gone",
        timer: Some(StateTimer {
            what: "FIN retransmission, or the probe timer while this host cannot send (a DROP in its OUTPUT chain, a zero window)",
            knob: "net.ipv4.tcp_orphan_retries once the program has closed the socket, net.ipv4.tcp_retries2 while it holds it",
        }),
        explanation: "both closed, peer first; waiting for the ACK of our FIN",
        next: "normally gone in one round trip; if it stays, our FIN or its ACK is dropped",
    },
    StateInfo {
        state: TcpState::Listen,
        code: 0x0A,
        netstat: "LISTEN",
        rfc793: "LISTEN",
        ss: "LISTEN",
        side: Side::PassiveOpener,
        enters: "the program called listen()",
        leaves: "the program closes the listening socket",
        timer: None,
        explanation: "waiting for connections",
        next: "connect to it from a client; each handshake creates a new socket",
    },
    StateInfo {
        state: TcpState::Closing,
        code: 0x0B,
        netstat: "CLOSING",
        rfc793: "CLOSING",
        ss: "CLOSING",
        side: Side::SimultaneousCloser,
        enters: "we sent a FIN and received the peer's FIN before the ACK of ours",
        leaves: "the ACK of our FIN arrives (TIME_WAIT)",
        timer: Some(StateTimer {
            what: "FIN retransmission, or the probe timer while this host cannot send (a DROP in its OUTPUT chain, a zero window)",
            knob: "net.ipv4.tcp_orphan_retries once the program has closed the socket, net.ipv4.tcp_retries2 while it holds it",
        }),
        explanation: "both sides closed at once; waiting for the ACK of our FIN",
        next: "moves to TIME_WAIT as soon as our FIN is acknowledged",
    },
    StateInfo {
        state: TcpState::NewSynRecv,
        code: 0x0C,
        netstat: "SYN_RECV",
        rfc793: "SYN-RECEIVED",
        ss: "SYN-RECV",
        side: Side::PassiveOpener,
        enters: "a SYN arrived at a listener (request socket)",
        leaves: "the client's ACK arrives (ESTABLISHED), or the SYN|ACK retries run out with no new SYN from the client",
        timer: Some(StateTimer {
            what: "SYN|ACK retransmission, 1 s and then doubling; each repeated SYN from the client is answered at once and restarts it",
            knob: "net.ipv4.tcp_synack_retries",
        }),
        explanation: "SYN received and SYN|ACK sent, waiting for the final ACK",
        next: "if it stays here, the SYN|ACK or the final ACK is being dropped",
    },
];

impl TcpState {
    /// The table row of this state.
    pub fn info(self) -> &'static StateInfo {
        let idx = match self {
            TcpState::Established => 0,
            TcpState::SynSent => 1,
            TcpState::SynRecv => 2,
            TcpState::FinWait1 => 3,
            TcpState::FinWait2 => 4,
            TcpState::TimeWait => 5,
            TcpState::Close => 6,
            TcpState::CloseWait => 7,
            TcpState::LastAck => 8,
            TcpState::Listen => 9,
            TcpState::Closing => 10,
            TcpState::NewSynRecv => 11,
        };
        &STATES[idx]
    }

    /// Looks a state up by any of its spellings, case-insensitively, with
    /// `-` and `_` treated alike (`time-wait`, `TIME_WAIT`, `FIN-WAIT-1`).
    pub fn from_name(name: &str) -> Option<TcpState> {
        let norm = |s: &str| -> String {
            s.chars()
                .filter(|c| *c != '-' && *c != '_')
                .map(|c| c.to_ascii_uppercase())
                .collect()
        };
        let want = norm(name);
        STATES
            .iter()
            .find(|i| norm(i.netstat) == want || norm(i.rfc793) == want || norm(i.ss) == want)
            .map(|i| i.state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_match_table() {
        for (i, info) in STATES.iter().enumerate() {
            assert_eq!(info.code as usize, i + 1);
            assert_eq!(TcpState::try_from(info.code), Ok(info.state));
            assert_eq!(info.state.info().code, info.code);
        }
    }

    #[test]
    fn unknown_codes_keep_their_value() {
        assert_eq!(StateCode::from(0x00), StateCode::Unknown(0));
        assert_eq!(StateCode::from(0x0D), StateCode::Unknown(0x0D));
        assert_eq!(StateCode::from(0x0D).netstat_name(), "UNKNOWN");
        assert_eq!(StateCode::from(0x0C).netstat_name(), "SYN_RECV");
    }

    #[test]
    fn netstat_spellings_are_net_tools() {
        let names: Vec<_> = STATES.iter().take(11).map(|i| i.netstat).collect();
        assert_eq!(
            names,
            [
                "ESTABLISHED",
                "SYN_SENT",
                "SYN_RECV",
                "FIN_WAIT1",
                "FIN_WAIT2",
                "TIME_WAIT",
                "CLOSE",
                "CLOSE_WAIT",
                "LAST_ACK",
                "LISTEN",
                "CLOSING"
            ]
        );
    }

    #[test]
    fn from_name_accepts_every_spelling() {
        assert_eq!(TcpState::from_name("time-wait"), Some(TcpState::TimeWait));
        assert_eq!(TcpState::from_name("FIN-WAIT-1"), Some(TcpState::FinWait1));
        assert_eq!(TcpState::from_name("estab"), Some(TcpState::Established));
        assert_eq!(TcpState::from_name("syn-received"), Some(TcpState::SynRecv));
        assert_eq!(TcpState::from_name("bogus"), None);
    }

    #[test]
    fn timers_name_their_knob() {
        assert!(TcpState::FinWait2
            .info()
            .timer
            .unwrap()
            .knob
            .contains("tcp_fin_timeout"));
        assert!(TcpState::SynSent
            .info()
            .timer
            .unwrap()
            .knob
            .contains("tcp_syn_retries"));
        assert!(TcpState::Established.info().timer.is_none());
    }
}
