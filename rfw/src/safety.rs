//! What rfw refuses without `--force`: changes that can lock a learner out
//! of the machine or reach beyond the lab (reference/iptables.md §8.2).

use crate::argv::{is_builtin, Cmd, Invocation};
use crate::rule::{PortRange, Rule, Target};

/// The live SSH session, from `$SSH_CONNECTION` ("client-ip client-port
/// server-ip server-port").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ssh {
    /// The client's port.
    pub client_port: u16,
    /// The server's port.
    pub server_port: u16,
}

impl Ssh {
    /// Reads `$SSH_CONNECTION`, if set and well formed.
    pub fn from_env() -> Option<Ssh> {
        let v = std::env::var("SSH_CONNECTION").ok()?;
        let f: Vec<&str> = v.split_whitespace().collect();
        match f.as_slice() {
            [_, cp, _, sp] => Some(Ssh {
                client_port: cp.parse().ok()?,
                server_port: sp.parse().ok()?,
            }),
            _ => None,
        }
    }
}

fn range_hits(r: &Option<crate::rule::Neg<PortRange>>, port: u16) -> bool {
    match r {
        Some(n) => n.value.contains(port) != n.not,
        None => false,
    }
}

/// Whether any port option of the rule (`--dport`, `--sport`, multiport's
/// lists, negations included) matches `port`.
pub fn port_hits(rule: &Rule, port: u16) -> bool {
    range_hits(&rule.dport, port)
        || range_hits(&rule.sport, port)
        || rule
            .mports
            .as_ref()
            .is_some_and(|m| m.value.1.iter().any(|r| r.contains(port)) != m.not)
}

/// Whether the rule can match TCP packets: no `-p`, `-p tcp` / `-p all`,
/// or a negated protocol other than tcp.
pub fn may_match_tcp(rule: &Rule) -> bool {
    match &rule.proto {
        None => true,
        Some(p) if p.not => p.value != "tcp",
        Some(p) => matches!(p.value.as_str(), "tcp" | "all"),
    }
}

/// Why the command is refused (`None`: allowed). `rule` is the parsed
/// rule-spec of commands that have one.
pub fn check(inv: &Invocation, rule: Option<&Rule>, ssh: Option<&Ssh>) -> Option<String> {
    let cmd = inv.cmd?;
    let table = inv.table();
    if cmd.modifies() && table != "filter" && cmd != Cmd::Zero {
        return Some(format!(
            "rfw changes only the filter table (the labs need nothing else); this would change `{table}'"
        ));
    }
    match cmd {
        Cmd::Policy => {
            return Some(format!(
                "a policy change (-P {}) affects every packet, including your own session",
                inv.operands.join(" ")
            ))
        }
        Cmd::Flush => match inv.chain() {
            None => return Some("-F without a chain flushes every chain, including rules rfw did not add; use rfw reset".to_string()),
            Some(c) if is_builtin(table, c) => {
                return Some(format!(
                    "flushing the built-in chain {c} removes rules rfw did not add; use rfw reset"
                ))
            }
            _ => {}
        },
        Cmd::DeleteChain if inv.chain().is_none() => {
            return Some("-X without a chain deletes every user-defined chain".to_string())
        }
        _ => {}
    }
    let rule = rule?;
    if !matches!(cmd, Cmd::Append | Cmd::Insert | Cmd::Replace) {
        return None;
    }
    if let Some(t @ (Target::Other(_) | Target::Return)) = &rule.target {
        return Some(format!(
            "target {} is outside what rfw allows (ACCEPT, DROP, REJECT, LOG)",
            t.name()
        ));
    }
    if !rule.target.as_ref().is_some_and(Target::blocks) {
        return None;
    }
    let chain = inv.chain().unwrap_or("");
    let has_port = rule.dport.as_ref().is_some_and(|p| !p.not)
        || rule.sport.as_ref().is_some_and(|p| !p.not)
        || rule.mports.as_ref().is_some_and(|p| !p.not);
    if matches!(chain, "INPUT" | "OUTPUT") && !(rule.proto.is_some() && has_port) {
        return Some(format!(
            "{} in {chain} without -p and a port blocks far more than one lab port and can cut this machine off",
            rule.target.as_ref().map(Target::name).unwrap_or("DROP")
        ));
    }
    let tcp_or_any = may_match_tcp(rule);
    if tcp_or_any && port_hits(rule, 22) {
        return Some("the rule matches port 22 (ssh): it can cut off remote logins".to_string());
    }
    if let Some(s) = ssh {
        for p in [s.server_port, s.client_port] {
            if tcp_or_any && port_hits(rule, p) {
                return Some(format!(
                    "the rule matches port {p} of your SSH session ($SSH_CONNECTION)"
                ));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::split_rule_line;

    fn refused(s: &str, ssh: Option<&Ssh>) -> Option<String> {
        let w = split_rule_line(s);
        let inv = Invocation::parse(&w).unwrap();
        let rule = inv
            .cmd
            .filter(|c| c.takes_rule())
            .map(|_| Rule::from_items(&inv.items, false).unwrap());
        check(&inv, rule.as_ref(), ssh)
    }

    #[test]
    fn spellings_iptables_accepts_are_judged_as_iptables_reads_them() {
        for s in [
            "-I INPUT -p tcp --dport 026 -j DROP",
            "-I INPUT -p tcp --dport 0x16 -j DROP",
            "-I INPUT -p tcp --dport ssh -j DROP",
            "-traw -I PREROUTING -j DROP",
            "--table=raw -I PREROUTING -p tcp --dport 5555 -j DROP",
            "--tab raw -I PREROUTING -p tcp --dport 5555 -j DROP",
            "-A INPUT -p tcp --ju DROP",
            "-A OUTPUT --j REJECT",
            "-A INPUT -p tcp --dp 22 -j DROP",
            "-A INPUT -p tcp --dport=22 -j DROP",
            "-A INPUT -p tcp --dport :22 -j DROP",
            "-A INPUT -p tcp --dport 22: -j DROP",
            "-A INPUT -p tcp --sport 20:30 -j DROP",
            "-A INPUT -p tcp -m multiport --dports 80,22,1000:2000 -j DROP",
            "-A INPUT -p tcp -m multiport --ports 80,026 -j DROP",
            "-A INPUT -p tcp -m multiport --sports 1000:2000,22 -j DROP",
            "-A INPUT -p tcp -m multiport --dport 22 -j DROP",
            "-A INPUT -p tcp -m multiport ! --dports 80 -j DROP",
            "-A INPUT -p tcp ! --dport 5555 -j DROP",
            "-A INPUT ! -p udp --dport 22 -j DROP",
            "-PINPUT DROP",
            "-AINPUT -jDROP",
        ] {
            assert!(refused(s, None).is_some(), "{s}");
        }
        let ssh = Ssh {
            client_port: 50000,
            server_port: 2222,
        };
        assert!(refused(
            "-I INPUT -p tcp -m multiport --dports 80,2222 -j DROP",
            Some(&ssh)
        )
        .is_some());
        assert!(refused("-I INPUT -p tcp --dport 04256 -j DROP", Some(&ssh)).is_some());
        // Not TCP: a UDP port 22 rule cannot cut off ssh.
        assert_eq!(refused("-I INPUT -p udp --dport 22 -j DROP", None), None);
        assert_eq!(
            refused("-I INPUT -p tcp -m multiport --dports 80,443 -j DROP", None),
            None
        );
    }

    #[test]
    fn the_article_is_allowed() {
        for s in [
            "-I OUTPUT -p tcp --dport 5555 --tcp-flags SYN,ACK SYN -j DROP",
            "-I OUTPUT -p tcp --sport 5555 --tcp-flags SYN,ACK SYN,ACK -j DROP",
            "-I INPUT -p tcp --dport 5555 -j REJECT --reject-with tcp-reset",
            "-L OUTPUT -vn",
            "-F MYCHAIN",
            "-I INPUT -p tcp --dport 22 -j ACCEPT",
        ] {
            assert_eq!(refused(s, None), None, "{s}");
        }
    }

    #[test]
    fn lockouts_are_refused() {
        for s in [
            "-P INPUT DROP",
            "-F",
            "-F INPUT",
            "-X",
            "-I INPUT -j DROP",
            "-A OUTPUT -p tcp -j REJECT",
            "-I INPUT -p tcp --dport 22 -j DROP",
            "-I INPUT -p tcp --dport 1:1024 -j DROP",
            "-t nat -A POSTROUTING -j MASQUERADE",
            "-I INPUT -p tcp --dport 5555 -j SOMECHAIN",
        ] {
            assert!(refused(s, None).is_some(), "{s}");
        }
        let ssh = Ssh {
            client_port: 50000,
            server_port: 2222,
        };
        assert!(refused("-I INPUT -p tcp --dport 2222 -j DROP", Some(&ssh)).is_some());
        assert!(refused("-I INPUT -p tcp --dport 5555 -j DROP", Some(&ssh)).is_none());
    }
}
