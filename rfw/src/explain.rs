//! What a rule does to a TCP connection, in the words of
//! `reference/lab-scenarios.md`: which side sends the matched segments,
//! which state each side is left in, and for how long (from the sysctls of
//! the namespace rfw runs in, named in the text). State names are taken
//! from rnet-core's table so all three tools spell them alike.

use crate::rule::{flags, Rule, Target};
use rnet_core::tcp_state::TcpState;
use rnet_core::timing::TcpTimers;

fn st(s: TcpState) -> &'static str {
    s.info().netstat
}

/// Which end sends the segments a rule matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sender {
    /// The end that connects to the port (packets go *to* the port).
    Client,
    /// The end that listens on the port (packets come *from* the port).
    Server,
}

/// Segment kinds a connection's ends send, as flag bits.
const SYN: u8 = flags::SYN;
const SYNACK: u8 = flags::SYN | flags::ACK;
const ACK: u8 = flags::ACK;
const DATA: u8 = flags::ACK | flags::PSH;
const FIN: u8 = flags::FIN | flags::ACK;
const RST: u8 = flags::RST | flags::ACK;

fn matches(rule: &Rule, seg: u8) -> bool {
    match &rule.tcp_flags {
        None => true,
        Some(f) => ((seg & f.value.0) == f.value.1) != f.not,
    }
}

/// The noun for what a rule's counter counts ("SYNs", "FINs", "segments").
pub fn counted(rule: &Rule) -> &'static str {
    if rule.tcp_flags.is_none() || !rule.is_tcp() {
        return "packets";
    }
    let m = |s| matches(rule, s);
    match (m(SYN), m(SYNACK), m(ACK), m(DATA), m(FIN), m(RST)) {
        (true, false, false, false, false, false) => "SYNs",
        (false, true, false, false, false, false) => "SYN|ACKs",
        (true, true, false, false, false, false) => "SYNs and SYN|ACKs",
        (false, false, false, false, true, false) => "FINs",
        (false, false, true, true, false, false) => "ACKs",
        (false, false, false, true, false, false) => "data segments",
        (false, false, false, false, false, true) => "RSTs",
        _ => "segments",
    }
}

fn verb(t: Option<&Target>) -> &'static str {
    match t {
        Some(Target::Drop) => "dropped",
        Some(Target::Reject(_)) => "rejected",
        Some(Target::Accept) => "accepted",
        Some(Target::Log) => "logged",
        _ => "matched",
    }
}

fn secs(n: u64) -> String {
    if n >= 100 {
        format!("{n} s (about {} minutes)", (n + 30) / 60)
    } else {
        format!("{n} s")
    }
}

/// One line per rule with its counter: "OUTPUT rule 1: 2 SYNs dropped so
/// far; …" (`summary` is the first sentence of [`explain`]).
pub fn counter_line(chain: &str, num: usize, rule: &Rule, summary: &str) -> String {
    let (pkts, _) = rule.counters.unwrap_or((0, 0));
    let noun = counted(rule);
    let noun = if pkts == 1 {
        noun.trim_end_matches('s').replace("s and ", " and ")
    } else {
        noun.to_string()
    };
    let mine = if rule.tag.is_some() {
        " (added by rfw)"
    } else {
        ""
    };
    format!(
        "{chain} rule {num}{mine}: {pkts} {noun} {} so far; {summary}",
        verb(rule.target.as_ref())
    )
}

/// What `rule` in `chain` does to TCP connections, one sentence per line.
/// Empty when there is nothing TCP-specific to say.
pub fn explain(chain: &str, rule: &Rule, t: &TcpTimers) -> Vec<String> {
    let Some(target) = rule.target.as_ref() else {
        return Vec::new();
    };
    let proto_ok = rule.proto.is_none() || rule.is_tcp();
    if !proto_ok {
        return vec![format!(
            "does not match TCP (-p {}), so TCP states are not affected",
            rule.proto.as_ref().map(|p| p.value.as_str()).unwrap_or("?")
        )];
    }
    let out_chain = matches!(chain, "OUTPUT" | "POSTROUTING");
    let in_chain = matches!(chain, "INPUT" | "PREROUTING");
    let port = rule.single_port();
    let p = port.map_or_else(|| "the port".to_string(), |p| format!("port {p}"));
    // Who sends what the rule matches: packets *to* the port come from the
    // connecting side, packets *from* it from the listening side.
    let sender = match (&rule.dport, &rule.sport) {
        (Some(_), _) => Some(Sender::Client),
        (None, Some(_)) => Some(Sender::Server),
        _ => None,
    };
    let here = |s: Sender| -> &'static str {
        match (s, out_chain, in_chain) {
            (Sender::Client, true, _) => "this host's connection",
            (Sender::Server, true, _) => "this host's server",
            (Sender::Client, _, true) => "the client's connection",
            (Sender::Server, _, true) => "the server's reply",
            _ => "the connection",
        }
    };
    let where_ = if out_chain {
        "leaving this host"
    } else if in_chain {
        "arriving at this host"
    } else {
        "passing through"
    };
    let mut lines = Vec::new();
    match target {
        Target::Accept | Target::Return => {
            lines.push(format!(
                "accepts {} {where_}; states are not changed (rules further down are skipped for them)",
                counted(rule)
            ));
            return lines;
        }
        Target::Log => {
            lines.push(format!(
                "logs {} {where_} to the kernel log (dmesg) and lets them continue; states are not changed",
                counted(rule)
            ));
            return lines;
        }
        Target::Other(name) => {
            lines.push(format!("sends {} {where_} on to `{name}'", counted(rule)));
            return lines;
        }
        Target::Drop | Target::Reject(_) => {}
    }
    let syn = t.syn_schedule();
    let synack = t.synack_schedule();
    let orphan = t.orphan_retries_effective();
    let syn_knobs = match t.syn_linear_timeouts {
        Some(l) => format!(
            "tcp_syn_retries={}, tcp_syn_linear_timeouts={l}",
            t.syn_retries.unwrap_or(6)
        ),
        None => format!("tcp_syn_retries={}", t.syn_retries.unwrap_or(6)),
    };
    let syn_sent = st(TcpState::SynSent);
    let reset = matches!(target, Target::Reject(k) if k == "tcp-reset");
    let reject = matches!(target, Target::Reject(_));
    let m = |s| matches(rule, s);
    let Some(sender) = sender else {
        // No port: the whole host.
        lines.push(format!(
            "{} every TCP segment {where_} (no port given): every connection through this chain stalls",
            if reject { "rejects" } else { "drops" }
        ));
        return lines;
    };
    let local = out_chain;
    if sender == Sender::Client && m(SYN) {
        if reject {
            lines.push(format!(
                "a connect to {p} fails at once with \"Connection refused\" ({}); no state is left behind",
                if reset { "the RST answers the SYN" } else { "the ICMP port-unreachable answers the SYN" }
            ));
        } else {
            lines.push(format!(
                "{} to {p} stays in {syn_sent}: its SYN is {} ({} SYNs in all, the last at {} s, from {syn_knobs}) and connect() fails with \"Connection timed out\" after about {}",
                here(Sender::Client),
                if local { "dropped before it leaves, and retried" } else { "dropped on arrival, and retried" },
                syn.sent,
                syn.last_at,
                secs(syn.timeout)
            ));
            lines.push(format!(
                "the server never sees the SYN and stays in {} (no {} appears there)",
                st(TcpState::Listen),
                st(TcpState::SynRecv)
            ));
        }
    }
    if sender == Sender::Server && m(SYNACK) {
        if local {
            lines.push(format!(
                "{} on {p} answers a SYN with a SYN|ACK that is dropped before it leaves: its {} entry flickers (the request is discarded when its first retransmission fails locally, and comes back with each client SYN)",
                here(Sender::Server),
                st(TcpState::SynRecv)
            ));
        } else {
            lines.push(format!(
                "the server's SYN|ACK from {p} is {} here: the server stays in {} steadily, resending it {} times (tcp_synack_retries={}, about {})",
                if reject { "rejected" } else { "dropped" },
                st(TcpState::SynRecv),
                synack.sent.saturating_sub(1),
                t.synack_retries.unwrap_or(5),
                secs(synack.timeout)
            ));
        }
        lines.push(format!(
            "the client stays in {syn_sent}, resending its SYN ({} in all, from {syn_knobs}), and gives up with \"Connection timed out\" after about {}",
            syn.sent,
            secs(syn.timeout)
        ));
    }
    let side_name = |s: Sender| match s {
        Sender::Client => "the client",
        Sender::Server => "the server",
    };
    let other = match sender {
        Sender::Client => Sender::Server,
        Sender::Server => Sender::Client,
    };
    if m(FIN) && !m(DATA) {
        lines.push(format!(
            "when {} closes first, its FIN is {}: it stays in {} resending the FIN ({orphan} times, tcp_orphan_retries={}, about {} s{}) while {} stays {} and never learns of the close",
            side_name(sender),
            if reject { "rejected" } else { "dropped" },
            st(TcpState::FinWait1),
            t.orphan_retries.unwrap_or(0),
            TcpTimers::secs_text(t.orphan_give_up_secs()),
            if local { "; a local drop shows a `probe' timer in netstat -o" } else { "" },
            side_name(other),
            st(TcpState::Established)
        ));
        lines.push(format!(
            "when {} closes second, it stays in {} resending its FIN while {} sits in {} until tcp_fin_timeout={} s; if both close at once, {} appears",
            side_name(sender),
            st(TcpState::LastAck),
            side_name(other),
            st(TcpState::FinWait2),
            t.fin_timeout.unwrap_or(60),
            st(TcpState::Closing)
        ));
    }
    if m(ACK) && !m(SYN) && !m(FIN) {
        lines.push(format!(
            "{}'s pure ACKs are {}: the last ACK of a close is lost, so {} stays in {} resending its FIN ({orphan} times, about {} s) while {} sits in {}, restarted by each FIN",
            side_name(sender),
            if reject { "rejected" } else { "dropped" },
            side_name(other),
            st(TcpState::LastAck),
            TcpTimers::secs_text(t.orphan_give_up_secs()),
            side_name(sender),
            st(TcpState::TimeWait)
        ));
        if sender == Sender::Client {
            lines.push(format!(
                "a new connection's final handshake ACK is lost too: the client thinks {} while the server stays in {}",
                st(TcpState::Established),
                st(TcpState::SynRecv)
            ));
        }
    }
    if m(DATA) && !m(ACK) {
        if reset {
            lines.push(format!(
                "the first data segment {} sends draws a RST: {}'s socket is gone at once (nc exits silently) while {} stays {} (half-open)",
                side_name(sender),
                side_name(sender),
                side_name(other),
                st(TcpState::Established)
            ));
        } else {
            lines.push(format!(
                "{}'s data is {}: it retransmits (tcp_retries2={}, many minutes) while the connection stays {} on both sides",
                side_name(sender),
                if reject { "rejected" } else { "dropped" },
                t.retries2.unwrap_or(15),
                st(TcpState::Established)
            ));
        }
    } else if m(DATA) && m(ACK) && m(SYN) {
        if reset {
            lines.push(format!(
                "an established connection on {p} is reset by {}'s next segment: that socket is gone (\"Connection reset by peer\") while {} stays {} (half-open)",
                side_name(sender),
                side_name(other),
                st(TcpState::Established)
            ));
        } else {
            lines.push(format!(
                "established connections on {p} stall as well: {}'s segments are {} and retransmitted (tcp_retries2={}, many minutes)",
                side_name(sender),
                if reject { "rejected" } else { "dropped" },
                t.retries2.unwrap_or(15)
            ));
        }
    }
    if lines.is_empty() {
        let (mask, comp) = rule.tcp_flags.as_ref().map_or((0, 0), |f| f.value);
        if comp & !mask != 0 {
            lines.push(format!(
                "matches nothing: --tcp-flags wants {} set but only examines {}",
                crate::rule::flags_text(comp),
                crate::rule::flags_text(mask)
            ));
        } else {
            lines.push(format!(
                "{} {} {where_} on {p}; the common handshake and teardown segments are not among them",
                if reject { "rejects" } else { "drops" },
                counted(rule)
            ));
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::split_rule_line;

    fn rule(s: &str) -> Rule {
        Rule::parse(&split_rule_line(s), false).unwrap()
    }

    fn t() -> TcpTimers {
        TcpTimers {
            syn_retries: Some(6),
            syn_linear_timeouts: Some(4),
            synack_retries: Some(5),
            fin_timeout: Some(60),
            orphan_retries: Some(0),
            retries2: Some(15),
        }
    }

    #[test]
    fn article_syn_drop() {
        let r = rule("-p tcp --dport 5555 --tcp-flags SYN,ACK SYN -j DROP");
        let l = explain("OUTPUT", &r, &t());
        assert!(l[0].contains("stays in SYN_SENT"), "{l:?}");
        assert!(l[0].contains("11 SYNs in all"), "{l:?}");
        assert!(l[0].contains("tcp_syn_retries=6"), "{l:?}");
        assert!(l[0].contains("131 s (about 2 minutes)"), "{l:?}");
        assert!(l[1].contains("stays in LISTEN"), "{l:?}");
        assert_eq!(counted(&r), "SYNs");
        // Every spelling of the client rule says the same.
        for s in [
            "--syn",
            "--tcp-flags SYN,RST,ACK,FIN SYN",
            "--tcp-flags ALL SYN",
        ] {
            let r2 = rule(&format!("-p tcp --dport 5555 {s} -j DROP"));
            assert_eq!(explain("OUTPUT", &r2, &t())[0], l[0], "{s}");
        }
    }

    #[test]
    fn article_synack_drop_and_input_variant() {
        let r = rule("-p tcp --sport 5555 --tcp-flags SYN,ACK SYN,ACK -j DROP");
        let l = explain("OUTPUT", &r, &t());
        assert!(l[0].contains("SYN_RECV entry flickers"), "{l:?}");
        assert!(l[1].contains("SYN_SENT"), "{l:?}");
        let l = explain("INPUT", &r, &t());
        assert!(l[0].contains("SYN_RECV steadily"), "{l:?}");
        assert_eq!(counted(&r), "SYN|ACKs");
    }

    #[test]
    fn teardown_rules() {
        let fin = explain(
            "OUTPUT",
            &rule("-p tcp --dport 5555 --tcp-flags FIN FIN -j DROP"),
            &t(),
        );
        assert!(
            fin[0].contains("FIN_WAIT1") && fin[0].contains("ESTABLISHED"),
            "{fin:?}"
        );
        assert!(
            fin[1].contains("LAST_ACK") && fin[1].contains("CLOSING"),
            "{fin:?}"
        );
        let ack = explain(
            "OUTPUT",
            &rule("-p tcp --dport 5555 --tcp-flags SYN,ACK,FIN,RST ACK -j DROP"),
            &t(),
        );
        assert!(
            ack[0].contains("LAST_ACK") && ack[0].contains("TIME_WAIT"),
            "{ack:?}"
        );
        let rst = explain(
            "INPUT",
            &rule("-p tcp --dport 5555 -j REJECT --reject-with tcp-reset"),
            &t(),
        );
        assert!(rst[0].contains("Connection refused"), "{rst:?}");
        let psh = explain(
            "INPUT",
            &rule("-p tcp --dport 5555 --tcp-flags PSH PSH -j REJECT --reject-with tcp-reset"),
            &t(),
        );
        assert!(psh[0].contains("half-open"), "{psh:?}");
        let all = explain("INPUT", &rule("-p tcp --dport 5555 -j DROP"), &t());
        assert!(all[0].contains("SYN_SENT"), "{all:?}");
        assert!(all.iter().any(|l| l.contains("stall")), "{all:?}");
    }

    #[test]
    fn counters() {
        let mut r = rule("-p tcp --dport 5555 --tcp-flags SYN,ACK SYN -j DROP");
        r.counters = Some((2, 120));
        assert!(
            counter_line("OUTPUT", 1, &r, "x").starts_with("OUTPUT rule 1: 2 SYNs dropped so far")
        );
        r.counters = Some((1, 60));
        assert!(counter_line("OUTPUT", 1, &r, "x").contains(": 1 SYN dropped"));
    }
}
