//! What the kernel's TCP counters (`/proc/net/snmp`, `/proc/net/netstat`)
//! count, for the counters a learner reads in `netstat -s` to follow a
//! connection's handshake and its retries (rnetstat `-s --explain`).
//!
//! The rules are the kernel's: `tcp_connect` counts an active open,
//! `tcp_create_openreq_child` a passive one, `tcp_done` a failed attempt
//! (from SYN_SENT or SYN_RECV), `tcp_set_state` an ESTABLISHED or
//! CLOSE_WAIT socket closed at once, `__tcp_retransmit_skb` and
//! `tcp_rtx_synack` each segment and SYN sent again.

/// The sentence for one counter by its kernel name (`ActiveOpens`,
/// `TCPSynRetrans`, ...), or `None` for a counter without one.
pub fn tcp_counter(name: &str) -> Option<&'static str> {
    Some(match name {
        "ActiveOpens" => {
            "connect() sent a SYN (CLOSED -> SYN_SENT), counted whether or not the peer answered"
        }
        "PassiveOpens" => {
            "a listener completed a handshake (SYN_RECV -> ESTABLISHED child socket)"
        }
        "AttemptFails" => {
            "connections that ended in SYN_SENT or SYN_RECV: refused (RST), given up after the SYN retries, or reset"
        }
        "EstabResets" => {
            "ESTABLISHED or CLOSE_WAIT connections that went straight to CLOSED (a reset, sent or received)"
        }
        "RetransSegs" => {
            "segments sent again: SYN and SYN-ACK retries, data after a timeout or a fast retransmit"
        }
        "TCPSynRetrans" => {
            "SYNs and SYN-ACKs sent again because no answer came (the retries of an unanswered connect)"
        }
        "TCPTimeouts" => "retransmission timer expirations (the RTO fired)",
        "OutRsts" => "segments sent with RST set (refusals and aborts)",
        "ListenOverflows" => "SYNs or handshakes dropped because a listener's accept queue was full",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_article_counters_have_a_sentence() {
        for n in [
            "ActiveOpens",
            "PassiveOpens",
            "AttemptFails",
            "RetransSegs",
            "TCPSynRetrans",
        ] {
            assert!(tcp_counter(n).is_some_and(|s| !s.is_empty()), "{n}");
        }
        assert_eq!(tcp_counter("InSegs"), None);
    }
}
