//! The article's iptables rules as data: one table of the rules the lab
//! scenarios type (docs/tcp-timers.md explains what each does to a
//! connection), each with the chain and host the article puts it on and
//! its match and target spelled word for word as the article spells them.
//! Every suite that types one of these rules takes it from here (rfw's CLI
//! tests, `tests/rfw_lab.rs`, the lab scenes in `tests/lab/`).
//!
//! A rule goes into a chain with [`Rule::insert`] (`-I CHAIN …`),
//! [`Rule::delete`] (`-D CHAIN …`) or [`Rule::with`] (any command words
//! before the match, such as `explain INPUT` or `--dry-run -I OUTPUT`).

/// Which host of the lab pair a rule goes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Host {
    /// The client (198.18.0.1), which connects.
    Client,
    /// The server (198.18.0.2), which listens.
    Server,
}

/// One rule of the article.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    /// The lab scenario (and the article's exercise) it belongs to.
    pub scenario: &'static str,
    /// The host the article inserts it on.
    pub host: Host,
    /// The chain the article inserts it into.
    pub chain: &'static str,
    /// The match and target, as the article types them after the chain.
    pub spec: &'static str,
}

impl Rule {
    /// The match and target as an argument vector.
    pub fn spec(&self) -> Vec<&'static str> {
        argv(self.spec)
    }

    /// `cmd` (e.g. `["-I", "INPUT"]`, `["explain", "OUTPUT"]`) followed by
    /// the match and target.
    pub fn with<'a>(&self, cmd: &[&'a str]) -> Vec<&'a str> {
        cmd.iter().copied().chain(self.spec()).collect()
    }

    /// `-I <chain> <spec>`, in the article's chain.
    pub fn insert(&self) -> Vec<&'static str> {
        self.with(&["-I", self.chain])
    }

    /// `-D <chain> <spec>`, in the article's chain.
    pub fn delete(&self) -> Vec<&'static str> {
        self.with(&["-D", self.chain])
    }

    /// `cmd` followed by the match and target with the article's port
    /// (the argument of `--dport` or `--sport`) replaced by `port`, for a
    /// test whose namespaces run several connections on ports of their own.
    pub fn on_port(&self, cmd: &[&str], port: impl std::fmt::Display) -> Vec<String> {
        let mut out: Vec<String> = cmd.iter().map(|w| w.to_string()).collect();
        let mut after_port_option = false;
        for w in self.spec() {
            out.push(if after_port_option {
                port.to_string()
            } else {
                w.to_string()
            });
            after_port_option = w == "--dport" || w == "--sport";
        }
        out
    }

    /// The command line the article prints, `iptables -I <chain> <spec>`.
    pub fn typed(&self) -> String {
        format!("iptables -I {} {}", self.chain, self.spec)
    }
}

/// Scenario 5 (Exercise 2a): the client drops its own SYNs and stays in
/// SYN_SENT.
pub const SYN_DROP: Rule = Rule {
    scenario: "5: SYN dropped at the client (Exercise 2a)",
    host: Host::Client,
    chain: "OUTPUT",
    spec: "-p tcp --dport 5555 --tcp-flags SYN,ACK SYN -j DROP",
};

/// Scenario 6 (Exercise 2b): the server drops its SYN|ACKs on the way out
/// (scenario 7 puts the same match in the client's INPUT).
pub const SYNACK_DROP: Rule = Rule {
    scenario: "6: SYN|ACK dropped at the server's OUTPUT (Exercise 2b)",
    host: Host::Server,
    chain: "OUTPUT",
    spec: "-p tcp --sport 5555 --tcp-flags SYN,ACK SYN,ACK -j DROP",
};

/// Scenarios 8 and 13: the client's FIN never leaves (FIN_WAIT1, or
/// CLOSING when both close).
pub const FIN_DROP: Rule = Rule {
    scenario: "8: FIN_WAIT1 (and 13: CLOSING)",
    host: Host::Client,
    chain: "OUTPUT",
    spec: "-p tcp --dport 5555 --tcp-flags FIN FIN -j DROP",
};

/// Scenario 11: the client's last ACK is lost, the server stays in
/// LAST_ACK.
pub const LAST_ACK_DROP: Rule = Rule {
    scenario: "11: LAST_ACK, last ACK lost",
    host: Host::Client,
    chain: "OUTPUT",
    spec: "-p tcp --dport 5555 --tcp-flags SYN,ACK,FIN,RST ACK -j DROP",
};

/// Scenario 12: the server's FIN is lost on its way out.
pub const SERVER_FIN_DROP: Rule = Rule {
    scenario: "12: LAST_ACK, server FIN lost",
    host: Host::Server,
    chain: "OUTPUT",
    spec: "-p tcp --sport 5555 --tcp-flags FIN FIN -j DROP",
};

/// Scenario 14: the server answers a SYN with a reset (connection
/// refused).
pub const REFUSE: Rule = Rule {
    scenario: "14: refused",
    host: Host::Server,
    chain: "INPUT",
    spec: "-p tcp --dport 5555 -j REJECT --reject-with tcp-reset",
};

/// Scenario 14 with a plain `-j REJECT` (an ICMP port unreachable): nc
/// prints the same refusal.
pub const REJECT_PLAIN: Rule = Rule {
    scenario: "14: refused, plain REJECT",
    host: Host::Server,
    chain: "INPUT",
    spec: "-p tcp --dport 5555 -j REJECT",
};

/// Scenario 14 with `-j DROP`: no answer at all, so only a connect
/// timeout (`nc -w`) ends the client.
pub const SILENT_DROP: Rule = Rule {
    scenario: "14: dropped, no answer",
    host: Host::Server,
    chain: "INPUT",
    spec: "-p tcp --dport 5555 -j DROP",
};

/// Scenario 15: the server answers data with a reset; the client's socket
/// goes, the server's stays half-open.
pub const PSH_RESET: Rule = Rule {
    scenario: "15: RST on an established connection",
    host: Host::Server,
    chain: "INPUT",
    spec: "-p tcp --dport 5555 --tcp-flags PSH PSH -j REJECT --reject-with tcp-reset",
};

/// Scenario 16: SYNs to 6002 are dropped so both ends open at once.
pub const SIMULTANEOUS_OPEN: Rule = Rule {
    scenario: "16: simultaneous open",
    host: Host::Server,
    chain: "INPUT",
    spec: "-p tcp --dport 6002 --syn -j DROP",
};

/// Every rule of the article, in scenario order.
pub const ARTICLE: &[Rule] = &[
    SYN_DROP,
    SYNACK_DROP,
    FIN_DROP,
    LAST_ACK_DROP,
    SERVER_FIN_DROP,
    REFUSE,
    REJECT_PLAIN,
    SILENT_DROP,
    PSH_RESET,
    SIMULTANEOUS_OPEN,
];

/// The `&str`s of owned words, for the `&[&str]` parameters of the
/// runners (`strs(&FIN_DROP.on_port(&["-A", "OUTPUT"], port))`).
pub fn strs(words: &[String]) -> Vec<&str> {
    words.iter().map(String::as_str).collect()
}

/// An argument vector from words separated by spaces, as a shell splits a
/// line without quotes: `argv("-I OUTPUT -p tcp")` is
/// `["-I", "OUTPUT", "-p", "tcp"]`. An argument with a space, a quote or
/// an empty argument cannot be written this way; spell those out.
pub fn argv(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_splits_on_spaces() {
        assert_eq!(
            argv("-I OUTPUT  -p tcp\t--dport 5555"),
            ["-I", "OUTPUT", "-p", "tcp", "--dport", "5555"]
        );
        assert!(argv("  ").is_empty());
    }

    #[test]
    fn rules_spell_what_the_article_types() {
        assert_eq!(
            SYN_DROP.typed(),
            "iptables -I OUTPUT -p tcp --dport 5555 --tcp-flags SYN,ACK SYN -j DROP"
        );
        assert_eq!(
            SYNACK_DROP.with(&["-D", "INPUT"]),
            argv("-D INPUT -p tcp --sport 5555 --tcp-flags SYN,ACK SYN,ACK -j DROP")
        );
        assert_eq!(FIN_DROP.delete()[..2], ["-D", "OUTPUT"]);
        assert_eq!(
            strs(&SYNACK_DROP.on_port(&["-w", "5", "-A", "INPUT"], 40123)),
            argv("-w 5 -A INPUT -p tcp --sport 40123 --tcp-flags SYN,ACK SYN,ACK -j DROP")
        );
        for r in ARTICLE {
            let spec = r.spec();
            assert_eq!(&spec[..2], ["-p", "tcp"], "{}", r.scenario);
            assert!(spec.contains(&"-j"), "{}", r.scenario);
        }
    }
}
