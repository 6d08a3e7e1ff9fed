//! What a rule does to a TCP connection: rfw's rule turned into the
//! neutral [`FirewallRule`] of `rnet_core::explain::firewall`, where every
//! sentence and figure lives (so all tools word them alike), and the
//! counter line of `rfw -L -v`.

use crate::rule::{Rule, Target};
use rnet_core::explain::firewall::{self, Action, FirewallRule, Place, Protocol, Sender, TcpFlags};
use rnet_core::timing::Hosts;

/// The rule as rnet-core's explanations read it: where `chain` sits, who
/// sends what the rule matches (packets *to* the port come from the
/// connecting side, packets *from* it from the listening side), its single
/// port, flags and target.
pub fn firewall_rule(chain: &str, rule: &Rule) -> FirewallRule {
    let sender = match (&rule.dport, &rule.sport, &rule.mports) {
        (Some(d), _, _) if !d.not => Sender::Client,
        (_, Some(s), _) if !s.not => Sender::Server,
        (None, None, Some(m)) if !m.not && m.value.0 == 'd' => Sender::Client,
        (None, None, Some(m)) if !m.not && m.value.0 == 's' => Sender::Server,
        _ => Sender::Unknown,
    };
    let protocol = match &rule.proto {
        None => Protocol::Any,
        Some(p) if !p.not && p.value == "tcp" => Protocol::Tcp,
        Some(p) if p.not && p.value != "tcp" => Protocol::Any,
        Some(p) if p.not => Protocol::Other(format!("! -p {}", p.value)),
        Some(p) => Protocol::Other(format!("-p {}", p.value)),
    };
    let action = match rule.target.as_ref() {
        Some(Target::Drop) => Action::Drop,
        Some(Target::Reject(k)) if k == "tcp-reset" => Action::RejectReset,
        Some(Target::Reject(_)) => Action::RejectIcmp,
        Some(Target::Accept) => Action::Accept,
        Some(Target::Return) => Action::Return,
        Some(Target::Log) => Action::Log,
        Some(Target::Other(name)) => Action::Chain(name.clone()),
        None => Action::Chain(String::new()),
    };
    FirewallRule {
        place: Place::of_chain(chain),
        sender,
        port: rule.single_port(),
        protocol,
        flags: rule.tcp_flags.as_ref().map(|f| TcpFlags {
            mask: f.value.0,
            comp: f.value.1,
            invert: f.not,
        }),
        action,
    }
}

/// The noun for what a rule's counter counts ("SYNs", "FINs", "packets").
pub fn counted(rule: &Rule) -> &'static str {
    // The chain does not change the noun.
    firewall::counted(&firewall_rule("", rule))
}

/// One line per rule with its counter: "OUTPUT rule 1 (added by rfw): 2
/// SYNs dropped so far, 11 per connection attempt; …", the rest being the
/// first sentence of [`explain`].
pub fn counter_line(chain: &str, num: usize, rule: &Rule, hosts: &Hosts) -> String {
    let (pkts, _) = rule.counters.unwrap_or((0, 0));
    firewall::counter_line(
        chain,
        num,
        rule.tag.is_some(),
        pkts,
        &firewall_rule(chain, rule),
        hosts,
    )
}

/// What `rule` in `chain` does to TCP connections, one sentence per line.
/// Empty when the rule has no target (nothing happens to a packet).
pub fn explain(chain: &str, rule: &Rule, hosts: &Hosts) -> Vec<String> {
    if rule.target.is_none() {
        return Vec::new();
    }
    firewall::explain(&firewall_rule(chain, rule), hosts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::split_rule_line;
    use rnet_core::timing::TcpTimers;

    fn rule(s: &str) -> Rule {
        Rule::parse(&split_rule_line(s), false).unwrap()
    }

    fn t() -> Hosts {
        Hosts::same(TcpTimers {
            syn_retries: Some(6),
            syn_linear_timeouts: Some(4),
            synack_retries: Some(5),
            fin_timeout: Some(60),
            orphan_retries: Some(0),
            retries2: Some(15),
        })
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
        assert!(l[0].contains("SYN_RECV row flickers"), "{l:?}");
        assert!(l[2].contains("SYN_SENT"), "{l:?}");
        let l = explain("INPUT", &r, &t());
        assert!(l[0].contains("stays in SYN_RECV for about 130 s"), "{l:?}");
        assert!(l[0].contains("21 SYN|ACKs"), "{l:?}");
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
        assert!(fin[0].contains("probe timer"), "{fin:?}");
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
        let udp = explain("INPUT", &rule("-p udp --dport 53 -j DROP"), &t());
        assert!(udp[0].contains("does not match TCP (-p udp)"), "{udp:?}");
        // `! -p udp` matches TCP.
        let not_udp = explain("INPUT", &rule("! -p udp -j DROP"), &t());
        assert!(!not_udp[0].contains("does not match TCP"), "{not_udp:?}");
    }

    #[test]
    fn counters() {
        let mut r = rule("-p tcp --dport 5555 --tcp-flags SYN,ACK SYN -j DROP");
        r.counters = Some((2, 120));
        let line = counter_line("OUTPUT", 1, &r, &t());
        assert!(
            line.starts_with("OUTPUT rule 1: 2 SYNs dropped so far, 11 per connection attempt;"),
            "{line}"
        );
        r.counters = Some((1, 60));
        assert!(counter_line("OUTPUT", 1, &r, &t()).contains(": 1 SYN dropped"));
        let mut r = rule("-p tcp --sport 5555 --tcp-flags SYN,ACK SYN,ACK -j DROP");
        r.counters = Some((3, 180));
        let line = counter_line("INPUT", 1, &r, &t());
        assert!(
            line.contains("3 SYN|ACKs dropped so far, 21 per connection attempt;")
                && line.contains("21 SYN|ACKs in all"),
            "{line}"
        );
    }
}
