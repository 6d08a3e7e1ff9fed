//! Reading an iptables command line the way iptables reads it.
//!
//! iptables parses its arguments with `getopt_long` (optstring
//! `-:A:C:D:E:F::I:L::M:N:P:VX::Z::c:d:i:j:o:p:s:t:R:S::W::46bfg:h::m:nvw::x`)
//! over a table of long options that grows as matches and targets are
//! loaded (`-m tcp`, `-j REJECT`, or the protocol's match when `-p tcp`
//! is followed by an option the table does not know yet). So:
//! - short options cluster and take their value glued or as the next
//!   word: `-traw`, `-PINPUT DROP`, `-nvL`, `-jDROP`;
//! - long options take `--opt=value` or `--opt value`, and any unique
//!   prefix of a long option in the table is that option (`--ju` is
//!   `--jump`, `--dp` is tcp's `--dport` once tcp is loaded); a prefix
//!   shared by options that differ is ambiguous, which iptables reports
//!   as `unknown option`;
//! - command operands (rule numbers, `-P`'s policy, `-L`'s chain) are the
//!   next word when it does not start with `-` or `!`;
//! - `!` negates the option after it; `--` ends the options.
//!
//! [`Invocation::parse`] does the same over the option tables of the
//! extensions rfw knows (tcp, udp, udplite, sctp, dccp, multiport,
//! comment, state, conntrack, icmp, icmp6, limit, REJECT, LOG) and keeps
//! options of other extensions opaque (their values are the words up to
//! the next option). It yields the command, the table, and every rule
//! option by its canonical name with its values, and
//! [`Invocation::canon`], an argument vector that spells every option in
//! full and every value as a word of its own, which iptables reads the
//! same way. rfw runs that vector (plus its tag and `-w`), so what it
//! judged is what iptables parses.

use crate::error::Status;
use rnet_core::args::{match_long, LongMatch};
use std::fmt;

/// An iptables command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmd {
    /// `-A CHAIN`.
    Append,
    /// `-I CHAIN [NUM]`.
    Insert,
    /// `-D CHAIN SPEC` or `-D CHAIN NUM`.
    Delete,
    /// `-C CHAIN SPEC`.
    Check,
    /// `-R CHAIN NUM SPEC`.
    Replace,
    /// `-L [CHAIN [NUM]]`.
    List,
    /// `-S [CHAIN [NUM]]`.
    ListRules,
    /// `-F [CHAIN]`.
    Flush,
    /// `-Z [CHAIN [NUM]]`.
    Zero,
    /// `-N CHAIN`.
    NewChain,
    /// `-X [CHAIN]`.
    DeleteChain,
    /// `-P CHAIN TARGET`.
    Policy,
    /// `-E OLD NEW`.
    Rename,
    /// `-V`.
    Version,
    /// `-h`.
    Help,
}

impl Cmd {
    /// The short option letter.
    pub fn letter(self) -> char {
        match self {
            Cmd::Append => 'A',
            Cmd::Insert => 'I',
            Cmd::Delete => 'D',
            Cmd::Check => 'C',
            Cmd::Replace => 'R',
            Cmd::List => 'L',
            Cmd::ListRules => 'S',
            Cmd::Flush => 'F',
            Cmd::Zero => 'Z',
            Cmd::NewChain => 'N',
            Cmd::DeleteChain => 'X',
            Cmd::Policy => 'P',
            Cmd::Rename => 'E',
            Cmd::Version => 'V',
            Cmd::Help => 'h',
        }
    }

    fn from_letter(c: char) -> Option<Cmd> {
        Some(match c {
            'A' => Cmd::Append,
            'I' => Cmd::Insert,
            'D' => Cmd::Delete,
            'C' => Cmd::Check,
            'R' => Cmd::Replace,
            'L' => Cmd::List,
            'S' => Cmd::ListRules,
            'F' => Cmd::Flush,
            'Z' => Cmd::Zero,
            'N' => Cmd::NewChain,
            'X' => Cmd::DeleteChain,
            'P' => Cmd::Policy,
            'E' => Cmd::Rename,
            'V' => Cmd::Version,
            'h' => Cmd::Help,
            _ => return None,
        })
    }

    /// Whether the command changes the ruleset.
    pub fn modifies(self) -> bool {
        !matches!(
            self,
            Cmd::List | Cmd::ListRules | Cmd::Check | Cmd::Version | Cmd::Help
        )
    }

    /// Whether the command carries a rule-spec.
    pub fn takes_rule(self) -> bool {
        matches!(
            self,
            Cmd::Append | Cmd::Insert | Cmd::Delete | Cmd::Check | Cmd::Replace
        )
    }

    /// Whether the command adds a rule.
    pub fn adds(self) -> bool {
        matches!(self, Cmd::Append | Cmd::Insert | Cmd::Replace)
    }
}

/// How an option takes its value (getopt's `has_arg`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Arg {
    No,
    Req,
    Opt,
}

/// One entry of an option table.
#[derive(Clone, Copy, Debug)]
struct Def {
    /// The long name, without `--`.
    name: &'static str,
    arg: Arg,
    /// Canonical key: the short letter for iptables' own options, the
    /// preferred long name (`--dport`) for an extension's.
    key: &'static str,
    /// `!` may precede it.
    inv: bool,
    /// Further words the option's parser takes from argv (`--tcp-flags
    /// MASK COMP`).
    extra: u8,
}

const fn d(name: &'static str, arg: Arg, key: &'static str, inv: bool) -> Def {
    Def {
        name,
        arg,
        key,
        inv,
        extra: 0,
    }
}

/// iptables' own long options (iptables/xtables.c `original_opts`).
const BASE: &[Def] = &[
    d("append", Arg::Req, "A", false),
    d("delete", Arg::Req, "D", false),
    d("check", Arg::Req, "C", false),
    d("insert", Arg::Req, "I", false),
    d("replace", Arg::Req, "R", false),
    d("list", Arg::Opt, "L", false),
    d("list-rules", Arg::Opt, "S", false),
    d("flush", Arg::Opt, "F", false),
    d("zero", Arg::Opt, "Z", false),
    d("new-chain", Arg::Req, "N", false),
    d("delete-chain", Arg::Opt, "X", false),
    d("rename-chain", Arg::Req, "E", false),
    d("policy", Arg::Req, "P", false),
    d("source", Arg::Req, "s", true),
    d("destination", Arg::Req, "d", true),
    d("src", Arg::Req, "s", true),
    d("dst", Arg::Req, "d", true),
    d("protocol", Arg::Req, "p", true),
    d("in-interface", Arg::Req, "i", true),
    d("jump", Arg::Req, "j", false),
    d("table", Arg::Req, "t", false),
    d("match", Arg::Req, "m", false),
    d("numeric", Arg::No, "n", false),
    d("out-interface", Arg::Req, "o", true),
    d("verbose", Arg::No, "v", false),
    d("wait", Arg::Opt, "w", false),
    d("wait-interval", Arg::Opt, "W", false),
    d("exact", Arg::No, "x", false),
    d("fragments", Arg::No, "f", true),
    d("version", Arg::No, "V", false),
    d("help", Arg::Opt, "h", false),
    d("line-numbers", Arg::No, "0", false),
    d("modprobe", Arg::Req, "M", false),
    d("set-counters", Arg::Req, "c", false),
    d("goto", Arg::Req, "g", false),
    d("ipv4", Arg::No, "4", false),
    d("ipv6", Arg::No, "6", false),
];

/// The short options and how they take a value (the optstring above).
fn short_arg(c: char) -> Option<Arg> {
    Some(match c {
        'A' | 'C' | 'D' | 'E' | 'I' | 'M' | 'N' | 'P' | 'R' | 'c' | 'd' | 'g' | 'i' | 'j' | 'm'
        | 'o' | 'p' | 's' | 't' => Arg::Req,
        'F' | 'L' | 'S' | 'W' | 'X' | 'Z' | 'h' | 'w' => Arg::Opt,
        'V' | '4' | '6' | 'b' | 'f' | 'n' | 'v' | 'x' => Arg::No,
        _ => return None,
    })
}

/// The long name of a short option (for messages and rendering).
fn long_of(key: &str) -> &'static str {
    BASE.iter()
        .find(|d| d.key == key)
        .map(|d| d.name)
        .unwrap_or("")
}

const PORTS: &[Def] = &[
    d("source-port", Arg::Req, "--sport", true),
    d("sport", Arg::Req, "--sport", true),
    d("destination-port", Arg::Req, "--dport", true),
    d("dport", Arg::Req, "--dport", true),
];

const TCP: &[Def] = &[
    d("source-port", Arg::Req, "--sport", true),
    d("sport", Arg::Req, "--sport", true),
    d("destination-port", Arg::Req, "--dport", true),
    d("dport", Arg::Req, "--dport", true),
    d("syn", Arg::No, "--syn", true),
    Def {
        name: "tcp-flags",
        arg: Arg::Req,
        key: "--tcp-flags",
        inv: true,
        extra: 1,
    },
    d("tcp-option", Arg::Req, "--tcp-option", true),
];

const SCTP: &[Def] = &[
    d("source-port", Arg::Req, "--sport", true),
    d("sport", Arg::Req, "--sport", true),
    d("destination-port", Arg::Req, "--dport", true),
    d("dport", Arg::Req, "--dport", true),
    Def {
        name: "chunk-types",
        arg: Arg::Req,
        key: "--chunk-types",
        inv: true,
        extra: 1,
    },
];

const DCCP: &[Def] = &[
    d("source-port", Arg::Req, "--sport", true),
    d("sport", Arg::Req, "--sport", true),
    d("destination-port", Arg::Req, "--dport", true),
    d("dport", Arg::Req, "--dport", true),
    d("dccp-types", Arg::Req, "--dccp-types", true),
    d("dccp-option", Arg::Req, "--dccp-option", true),
];

const MULTIPORT: &[Def] = &[
    d("source-ports", Arg::Req, "--sports", true),
    d("sports", Arg::Req, "--sports", true),
    d("destination-ports", Arg::Req, "--dports", true),
    d("dports", Arg::Req, "--dports", true),
    d("ports", Arg::Req, "--ports", true),
];

const COMMENT: &[Def] = &[d("comment", Arg::Req, "--comment", false)];
const STATE: &[Def] = &[d("state", Arg::Req, "--state", true)];
const CONNTRACK: &[Def] = &[
    d("ctstate", Arg::Req, "--ctstate", true),
    d("ctproto", Arg::Req, "--ctproto", true),
    d("ctorigsrc", Arg::Req, "--ctorigsrc", true),
    d("ctorigdst", Arg::Req, "--ctorigdst", true),
    d("ctreplsrc", Arg::Req, "--ctreplsrc", true),
    d("ctrepldst", Arg::Req, "--ctrepldst", true),
    d("ctstatus", Arg::Req, "--ctstatus", true),
    d("ctexpire", Arg::Req, "--ctexpire", true),
    d("ctorigsrcport", Arg::Req, "--ctorigsrcport", true),
    d("ctorigdstport", Arg::Req, "--ctorigdstport", true),
    d("ctreplsrcport", Arg::Req, "--ctreplsrcport", true),
    d("ctrepldstport", Arg::Req, "--ctrepldstport", true),
    d("ctdir", Arg::Req, "--ctdir", false),
];
const ICMP: &[Def] = &[d("icmp-type", Arg::Req, "--icmp-type", true)];
const ICMP6: &[Def] = &[d("icmpv6-type", Arg::Req, "--icmpv6-type", true)];
const LIMIT: &[Def] = &[
    d("limit", Arg::Req, "--limit", false),
    d("limit-burst", Arg::Req, "--limit-burst", false),
];
const REJECT: &[Def] = &[d("reject-with", Arg::Req, "--reject-with", false)];
const LOG: &[Def] = &[
    d("log-level", Arg::Req, "--log-level", false),
    d("log-prefix", Arg::Req, "--log-prefix", false),
    d("log-tcp-sequence", Arg::No, "--log-tcp-sequence", false),
    d("log-tcp-options", Arg::No, "--log-tcp-options", false),
    d("log-ip-options", Arg::No, "--log-ip-options", false),
    d("log-uid", Arg::No, "--log-uid", false),
    d("log-macdecode", Arg::No, "--log-macdecode", false),
];

/// The matches rfw knows, by name, with their option tables.
const MATCHES: &[(&str, &[Def])] = &[
    ("tcp", TCP),
    ("udp", PORTS),
    ("udplite", PORTS),
    ("sctp", SCTP),
    ("dccp", DCCP),
    ("multiport", MULTIPORT),
    ("comment", COMMENT),
    ("state", STATE),
    ("conntrack", CONNTRACK),
    ("icmp", ICMP),
    ("icmp6", ICMP6),
    ("limit", LIMIT),
];

/// The target extensions rfw knows, with their option tables.
const TARGETS: &[(&str, &[Def])] = &[("REJECT", REJECT), ("LOG", LOG)];

/// The option table of a match rfw knows, by name.
fn match_table(name: &str) -> Option<&'static [Def]> {
    MATCHES.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// The option table of a target rfw knows (standard verdicts and user
/// chains have none; `None`: another target extension, whose options are
/// opaque; their names are upper case, as iptables' own are).
fn target_table(name: &str) -> Option<&'static [Def]> {
    if let Some((_, t)) = TARGETS.iter().find(|(n, _)| *n == name) {
        return Some(t);
    }
    Some(match name {
        "ACCEPT" | "DROP" | "RETURN" | "QUEUE" | "CONTINUE" => &[],
        _ if name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            && name.starts_with(|c: char| c.is_ascii_uppercase()) =>
        {
            return None
        }
        _ => &[],
    })
}

/// The names of the matches rfw knows (`-m NAME`).
pub fn match_names() -> impl Iterator<Item = &'static str> {
    MATCHES.iter().map(|(n, _)| *n)
}

/// An iptables option as rfw's reader knows it (for shell completions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KnownOption {
    /// The short letter of iptables' own options (`-p`).
    pub short: Option<char>,
    /// The long name without `--` (empty for a short option without one).
    pub long: &'static str,
    /// It takes a value (required or optional).
    pub takes_value: bool,
    /// The match or target whose option it is (`tcp`, `LOG`); `None` for
    /// iptables' own.
    pub extension: Option<&'static str>,
}

/// iptables' short options, in its optstring's order.
const SHORTS: &str = "ACDEIMNPRcdgijmopstFLSWXZhwV46bfnvx";

/// Every option rfw reads as iptables reads it: iptables' own (with their
/// letter) and those of each match and target rfw knows, each name once.
pub fn known_options() -> Vec<KnownOption> {
    let mut v: Vec<KnownOption> = Vec::new();
    for c in SHORTS.chars() {
        let Some(arg) = short_arg(c) else { continue };
        let key = c.to_string();
        let long = BASE.iter().find(|d| d.key == key).map_or("", |d| d.name);
        v.push(KnownOption {
            short: Some(c),
            long,
            takes_value: arg != Arg::No,
            extension: None,
        });
    }
    // Long synonyms of iptables' own (`--src` for `-s`).
    for d in BASE {
        if !v.iter().any(|o| o.long == d.name) {
            v.push(KnownOption {
                short: None,
                long: d.name,
                takes_value: d.arg != Arg::No,
                extension: None,
            });
        }
    }
    for (ext, table) in MATCHES.iter().chain(TARGETS) {
        for d in *table {
            if !v.iter().any(|o| o.long == d.name) {
                v.push(KnownOption {
                    short: None,
                    long: d.name,
                    takes_value: d.arg != Arg::No,
                    extension: Some(ext),
                });
            }
        }
    }
    v
}

/// The match a protocol loads (iptables' `find_proto`: numbers are looked
/// up by name), for the protocols whose matches rfw knows; a name is read
/// as its number ([`rnet_core::names::protocol_number`]).
pub fn proto_match(proto: &str) -> Option<&'static str> {
    let p = proto.to_ascii_lowercase();
    let n = match p.parse::<u8>() {
        // Plain decimal only, as before (iptables would also read 06, 0x6).
        Ok(n) if n.to_string() == p => n,
        Ok(_) => return None,
        Err(_) => rnet_core::names::protocol_number(&p)?,
    };
    Some(match n {
        6 => "tcp",
        17 => "udp",
        136 => "udplite",
        132 => "sctp",
        33 => "dccp",
        1 => "icmp",
        58 => "icmp6",
        _ => return None,
    })
}

/// A loaded extension: its options join the table in load order.
#[derive(Clone, Debug)]
struct Ext {
    name: String,
    /// `None`: an extension rfw does not know; its options are opaque.
    table: Option<&'static [Def]>,
    /// Canonical keys given so far (each option once per extension).
    used: Vec<&'static str>,
}

/// One rule option as iptables reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    /// `!` came before it.
    pub neg: bool,
    /// Canonical key: `-p`, `-s`, `-d`, `-i`, `-o`, `-j`, `-g`, `-m`,
    /// `-f`, `-c` for iptables' own; `--dport`, `--sports`, `--comment`…
    /// for an extension's; the word as typed for an opaque option.
    pub key: String,
    /// The extension the option belongs to (`None`: iptables' own).
    pub ext: Option<String>,
    /// The option as rendered (`-p`, `--dport`, `--destination-port`).
    pub opt: String,
    /// Its values.
    pub vals: Vec<String>,
    /// An option of an extension rfw does not know.
    pub opaque: bool,
}

impl Item {
    /// The words of this item: `[!] OPT VALUES…`.
    pub fn words(&self) -> Vec<String> {
        let mut v = Vec::with_capacity(2 + self.vals.len());
        if self.neg {
            v.push("!".to_string());
        }
        v.push(self.opt.clone());
        v.extend(self.vals.iter().cloned());
        v
    }

    /// A target (`-j` / `-g`).
    pub fn is_target(&self) -> bool {
        self.ext.is_none() && (self.key == "-j" || self.key == "-g")
    }
}

/// An option of rfw's own found among the iptables words.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Own {
    /// `--dry-run`, `--force`, `--quiet`, `--help`, `--ttl`.
    pub name: String,
    /// `--ttl`'s value.
    pub value: Option<String>,
    /// Index of its first word.
    pub at: usize,
    /// How many words it takes (2 for `--ttl SECS`).
    pub len: usize,
}

/// rfw's own long options (matched exactly, never by prefix).
const OWN_FLAGS: &[&str] = &["--dry-run", "--force", "--quiet", "--help"];

/// A parsed iptables command line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Invocation {
    /// The command, if one was given.
    pub cmd: Option<Cmd>,
    /// The command's operands (chain, rule number, policy target, new name).
    pub operands: Vec<String>,
    /// `-t TABLE` (`None`: filter).
    pub table: Option<String>,
    /// The user gave `-w` / `--wait` (rfw then adds none).
    pub wait_given: bool,
    /// `-v` was given.
    pub verbose: bool,
    /// `-Z` given together with `-L` / `-S`.
    pub zero_too: bool,
    /// The rule options, in order.
    pub items: Vec<Item>,
    /// The rule-spec words, canonical (the items rendered).
    pub rule_words: Vec<String>,
    /// The whole command line, canonical: what rfw runs.
    pub canon: Vec<String>,
    /// Index in `canon` where the rule options start (rfw's tag goes at
    /// the target, or at the end of the rule options).
    rule_end: usize,
    /// Index in `canon` of the target item, if any.
    target_at: Option<usize>,
    /// rfw's own options found where an option may stand.
    pub own: Vec<Own>,
}

/// A mistake in the command line that iptables would reject with exit 2.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArgvError {
    /// Two commands (`-I … -D …`).
    TwoCommands(char, char),
    /// A command without its chain (`-I`, `-P INPUT`).
    MissingOperand(char, &'static str),
    /// `-t nosuchtable`.
    BadTable(String),
    /// A rule number that is not a positive number.
    BadRuleNumber(String),
    /// `-i` in OUTPUT, `-o` in INPUT.
    WrongInterface(char, String),
    /// An option iptables does not have here (or a prefix of several).
    UnknownOption(String, Vec<String>),
    /// An option without its value.
    MissingValue(String),
    /// `--syn=1`: a value given to an option that takes none.
    NoValueAllowed(String),
    /// A word where an option must stand.
    BadArgument(String),
    /// Words after `--`.
    TrailingWords(String),
    /// `! !`, `! -m`, `! -j`, or a `!` at the end.
    BadNegation(String),
    /// The same option twice where iptables allows it once.
    Twice(String),
    /// An option that needs another (`-m comment` without `--comment`).
    Needs(String, String),
    /// An option the command does not take (`-A … -n`).
    Illegal(char),
    /// A chain name of 29 characters or more.
    ChainTooLong(String),
    /// DROP in the nat table.
    NatDrop,
    /// `-m tcp` on another protocol (the kernel refuses it: exit 4).
    ProtoMismatch(String),
    /// `-w abc`.
    NotNumeric(String, String),
}

impl ArgvError {
    /// iptables' exit status for this mistake: 2 (parameter problem), 3
    /// for a table that does not exist, 4 for a match the kernel refuses
    /// on this protocol.
    pub fn status(&self) -> Status {
        match self {
            ArgvError::BadTable(_) => Status::VersionProblem,
            ArgvError::ProtoMismatch(_) => Status::ResourceProblem,
            _ => Status::ParameterProblem,
        }
    }
}

impl fmt::Display for ArgvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArgvError::TwoCommands(a, b) => write!(
                f,
                "only one command at a time: -{a} and -{b} were both given; run them one after \
                 the other"
            ),
            ArgvError::MissingOperand(c, what) => write!(f, "-{c} needs {what}, e.g. -{c} OUTPUT"),
            ArgvError::BadTable(t) => write!(
                f,
                "unknown table `{t}'; use filter (the default), nat, mangle, raw or security"
            ),
            ArgvError::BadRuleNumber(n) => {
                write!(f, "invalid rule number `{n}'; rule numbers start at 1")
            }
            ArgvError::WrongInterface(c, chain) => {
                let (opt, other) = if *c == 'i' {
                    ("-i", "-o")
                } else {
                    ("-o", "-i")
                };
                write!(f, "{opt} cannot be used in {chain} (packets there have no such interface); use {other}")
            }
            ArgvError::UnknownOption(o, cands) if cands.len() > 1 => write!(
                f,
                "unknown option `{o}': it abbreviates several options ({}); spell one out",
                cands.join(", ")
            ),
            ArgvError::UnknownOption(o, _) => match o.as_str() {
                "--dport" | "--sport" | "--destination-port" | "--source-port" | "--syn"
                | "--tcp-flags" | "--tcp-option" => {
                    write!(f, "`{o}' needs `-p tcp' (or -p udp for ports) before it")
                }
                "--dports" | "--sports" | "--ports" | "--destination-ports" | "--source-ports" => {
                    write!(f, "`{o}' needs `-p tcp -m multiport' before it")
                }
                "--reject-with" => write!(f, "`{o}' needs `-j REJECT' before it"),
                "--comment" | "--state" | "--ctstate" | "--limit" => {
                    write!(f, "`{o}' needs `-m {}' before it", &o[2..])
                }
                _ => write!(f, "unknown option `{o}' (see rfw -h for iptables' options)"),
            },
            ArgvError::MissingValue(o) => write!(f, "`{o}' needs a value after it"),
            ArgvError::NoValueAllowed(o) => write!(f, "`{o}' takes no value"),
            ArgvError::BadArgument(w) => write!(
                f,
                "unexpected word `{w}' (values go right after their option; quote values with spaces)"
            ),
            ArgvError::TrailingWords(w) => write!(
                f,
                "words after `--' are not options iptables reads (`{w}'); remove the `--'"
            ),
            ArgvError::BadNegation(w) => write!(f, "`!' cannot go {w}"),
            ArgvError::Twice(o) => write!(f, "`{o}' can be given only once"),
            ArgvError::Needs(a, b) => write!(f, "`{a}' needs {b}"),
            ArgvError::Illegal(c) => {
                let o = match c {
                    '0' => "--line-numbers".to_string(),
                    c => format!("-{c}"),
                };
                write!(f, "`{o}' does not go with this command")
            }
            ArgvError::ChainTooLong(c) => {
                write!(f, "chain name `{c}' is too long (at most 28 characters)")
            }
            ArgvError::ProtoMismatch(m) => write!(
                f,
                "`-m {m}' only works with `-p {m}' (the kernel refuses it otherwise)"
            ),
            ArgvError::NotNumeric(o, v) => write!(f, "`{o}' takes seconds, not `{v}'"),
            ArgvError::NatDrop => write!(
                f,
                "the nat table is not for filtering: iptables refuses DROP there; use the filter table"
            ),
        }
    }
}

/// Reads a number as iptables' `xtables_strtoui(s, NULL, &v, min, max)`
/// does: `strtoul` with base 0 (`0x16` hex, `026` octal), leading blanks
/// and `+` allowed, no sign `-`, the whole word a number.
pub fn strtoui(s: &str, min: u64, max: u64) -> Option<u64> {
    rnet_core::num::strtoul_base0(s.as_bytes()).filter(|v| (min..=max).contains(v))
}

/// iptables' `xs_has_arg`: the next word is an operand (not an option, not
/// `!`).
fn has_operand(words: &[String], i: usize) -> bool {
    words
        .get(i)
        .is_some_and(|w| !w.starts_with('-') && !w.starts_with('!'))
}

/// Which options a word holds.
enum Word<'a> {
    /// `--name[=value]`.
    Long(&'a str, Option<&'a str>),
    /// `-abc`.
    Short(&'a str),
    /// Not an option.
    Plain,
    /// `--`.
    End,
}

fn classify(w: &str) -> Word<'_> {
    if w == "--" {
        Word::End
    } else if let Some(l) = w.strip_prefix("--") {
        match l.split_once('=') {
            Some((n, v)) => Word::Long(n, Some(v)),
            None => Word::Long(l, None),
        }
    } else if w.len() > 1 && w.starts_with('-') {
        Word::Short(&w[1..])
    } else {
        Word::Plain
    }
}

/// What an option name resolves to in the current table.
enum Found {
    Base(Def),
    Ext(usize, Def),
    /// Unknown, or a prefix of several different options (the names).
    None(Vec<String>),
}

struct Parser<'a> {
    words: &'a [String],
    /// Whether rfw's own options are recognised.
    own_ok: bool,
    inv: Invocation,
    exts: Vec<Ext>,
    /// `-p`'s value.
    proto: Option<String>,
    proto_loaded: bool,
    /// Keys of iptables' own options already given.
    base_used: Vec<&'static str>,
    /// The canonical words, with item boundaries.
    out: Vec<String>,
    neg: bool,
    /// Index of the word being read.
    at: usize,
    /// Listing flags given (`n`, `v`, `x`, `0` for --line-numbers).
    flags: Vec<char>,
    /// `-W` given.
    interval_given: bool,
    /// `!` before `-p`.
    proto_negated: bool,
}

impl<'a> Parser<'a> {
    fn new(words: &'a [String], own_ok: bool) -> Parser<'a> {
        Parser {
            words,
            own_ok,
            inv: Invocation::default(),
            exts: Vec::new(),
            proto: None,
            proto_loaded: false,
            base_used: Vec::new(),
            out: Vec::new(),
            neg: false,
            at: 0,
            flags: Vec::new(),
            interval_given: false,
            proto_negated: false,
        }
    }

    fn resolve(&self, name: &str) -> Found {
        // Table order: iptables' options, then each extension's in load
        // order; entries with the same meaning are one option.
        let all = BASE.iter().map(|d| (None, *d)).chain(
            self.exts
                .iter()
                .enumerate()
                .flat_map(|(k, e)| e.table.unwrap_or(&[]).iter().map(move |d| (Some(k), *d))),
        );
        let same = |(o1, d1): &(Option<usize>, Def), (o2, d2): &(Option<usize>, Def)| {
            o1 == o2 && d1.key == d2.key && d1.arg == d2.arg
        };
        match match_long(all, name, |(_, d)| d.name, |_| true, same) {
            LongMatch::One((owner, d)) if !name.is_empty() => match owner {
                None => Found::Base(d),
                Some(k) => Found::Ext(k, d),
            },
            LongMatch::Ambiguous(hits) => {
                Found::None(hits.iter().map(|(_, d)| format!("--{}", d.name)).collect())
            }
            _ => Found::None(Vec::new()),
        }
    }

    /// iptables' `load_proto`: on an unknown option, the protocol's match
    /// is loaded once and the option read again.
    fn load_proto(&mut self) -> bool {
        if self.proto_loaded {
            return false;
        }
        let Some(p) = self.proto.clone() else {
            return false;
        };
        self.proto_loaded = true;
        let name = match proto_match(&p) {
            Some(m) => m.to_string(),
            None if p == "all" || p == "0" => return false,
            None => p,
        };
        if self.exts.iter().any(|e| e.name == name) {
            // A clone brings no new options.
            return false;
        }
        self.load(&name, true);
        true
    }

    fn load(&mut self, name: &str, is_match: bool) {
        let table = if is_match {
            match_table(name)
        } else {
            target_table(name)
        };
        self.exts.push(Ext {
            name: name.to_string(),
            table,
            used: Vec::new(),
        });
    }

    fn any_opaque(&self) -> bool {
        self.exts.iter().any(|e| e.table.is_none())
    }

    /// Takes the value of an option with a required argument: glued, after
    /// `=`, or the next word.
    fn req_value(
        &self,
        i: &mut usize,
        glued: Option<&str>,
        shown: &str,
    ) -> Result<String, ArgvError> {
        if let Some(g) = glued {
            return Ok(g.to_string());
        }
        match self.words.get(*i) {
            Some(v) => {
                *i += 1;
                Ok(v.clone())
            }
            None => Err(ArgvError::MissingValue(shown.to_string())),
        }
    }

    fn push_item(&mut self, item: Item) {
        if item.is_target() {
            self.inv.target_at = Some(self.out.len());
        }
        self.out.extend(item.words());
        self.inv.rule_words.extend(item.words());
        self.inv.items.push(item);
    }

    fn command(
        &mut self,
        c: Cmd,
        shown: &str,
        val: Option<String>,
        i: &mut usize,
    ) -> Result<(), ArgvError> {
        if self.neg {
            return Err(ArgvError::BadNegation(format!("before {shown}")));
        }
        // -L / -S may go with -Z (list, then zero the counters).
        let mut combined = false;
        if let Some(prev) = self.inv.cmd {
            let list_zero = |a: Cmd, b: Cmd| {
                matches!(a, Cmd::List | Cmd::ListRules) && b == Cmd::Zero
                    || matches!(b, Cmd::List | Cmd::ListRules) && a == Cmd::Zero
            };
            if !list_zero(prev, c) || self.inv.zero_too {
                return Err(ArgvError::TwoCommands(prev.letter(), c.letter()));
            }
            combined = true;
            self.inv.zero_too = true;
        }
        if !combined || c != Cmd::Zero {
            self.inv.cmd = Some(c);
        }
        let l = c.letter();
        let words = self.words;
        let mut ops: Vec<String> = Vec::new();
        let rulenum = |w: &str| -> Result<String, ArgvError> {
            strtoui(w, 1, i32::MAX as u64)
                .map(|n| n.to_string())
                .ok_or_else(|| ArgvError::BadRuleNumber(w.to_string()))
        };
        match c {
            Cmd::Append | Cmd::Check | Cmd::NewChain => {
                ops.push(val.ok_or(ArgvError::MissingOperand(l, "a chain name"))?);
            }
            Cmd::Insert | Cmd::Delete | Cmd::Replace => {
                ops.push(val.ok_or(ArgvError::MissingOperand(l, "a chain name"))?);
                if has_operand(words, *i) {
                    ops.push(rulenum(&words[*i])?);
                    *i += 1;
                } else if c == Cmd::Replace {
                    return Err(ArgvError::MissingOperand(l, "a chain and a rule number"));
                }
            }
            Cmd::List | Cmd::ListRules | Cmd::Flush | Cmd::Zero | Cmd::DeleteChain => {
                let chain = match val {
                    Some(v) => Some(v),
                    None if has_operand(words, *i) => {
                        *i += 1;
                        Some(words[*i - 1].clone())
                    }
                    None => None,
                };
                if let Some(ch) = chain {
                    ops.push(ch);
                    if matches!(c, Cmd::List | Cmd::ListRules | Cmd::Zero) && has_operand(words, *i)
                    {
                        ops.push(rulenum(&words[*i])?);
                        *i += 1;
                    }
                }
            }
            Cmd::Policy | Cmd::Rename => {
                let what = if c == Cmd::Policy {
                    "a chain and a policy (ACCEPT or DROP)"
                } else {
                    "the old and the new chain name"
                };
                ops.push(val.ok_or(ArgvError::MissingOperand(l, what))?);
                if !has_operand(words, *i) {
                    return Err(ArgvError::MissingOperand(l, what));
                }
                ops.push(words[*i].clone());
                *i += 1;
            }
            Cmd::Version | Cmd::Help => {}
        }
        // Rendered: the option, then each operand as a word of its own;
        // an optional chain that looks like an option goes after `=`.
        let long = format!("--{}", long_of(&l.to_string()));
        match (c, ops.first()) {
            (Cmd::List | Cmd::ListRules | Cmd::Flush | Cmd::Zero | Cmd::DeleteChain, Some(ch))
                if !has_operand(std::slice::from_ref(ch), 0) =>
            {
                self.out.push(format!("{long}={ch}"));
                self.out.extend(ops.iter().skip(1).cloned());
            }
            _ => {
                self.out.push(shown.to_string());
                self.out.extend(ops.iter().cloned());
            }
        }
        // The chain named last wins, as iptables keeps one.
        if !combined || !ops.is_empty() {
            self.inv.operands = ops;
        }
        Ok(())
    }

    /// One of iptables' own options (key = short letter).
    fn base(
        &mut self,
        d: Def,
        shown: &str,
        glued: Option<&str>,
        i: &mut usize,
    ) -> Result<(), ArgvError> {
        let key = d.key;
        if let Some(c) = key.chars().next().and_then(Cmd::from_letter) {
            let val = match d.arg {
                Arg::Req => Some(
                    self.req_value(i, glued, shown)
                        .map_err(|_| ArgvError::MissingOperand(c.letter(), "a chain name"))?,
                ),
                Arg::Opt => glued.map(String::from),
                Arg::No => None,
            };
            return self.command(c, shown, val, i);
        }
        if self.neg && !d.inv {
            return Err(ArgvError::BadNegation(format!("before {shown}")));
        }
        match key {
            "4" | "6" if self.own_ok => self.inv.own.push(Own {
                name: format!("-{key}"),
                value: None,
                at: self.at,
                len: 1,
            }),
            "n" | "v" | "x" | "0" | "4" | "6" => {
                self.inv.verbose |= key == "v";
                if let Some(c) = key.chars().next() {
                    self.flags.push(c);
                }
                // -4 / -6 are rfw's; the others are listing flags.
                if !matches!(key, "4" | "6") {
                    self.out.push(shown.to_string());
                }
            }
            "w" | "W" => {
                self.inv.wait_given |= key == "w";
                self.interval_given |= key == "W";
                let v = match glued {
                    Some(g) => Some(g.to_string()),
                    None if has_operand(self.words, *i) => {
                        *i += 1;
                        Some(self.words[*i - 1].clone())
                    }
                    None => None,
                };
                match v {
                    Some(v) => {
                        // sscanf("%i"): a number must lead.
                        let t = v.trim_start();
                        let t = t.strip_prefix(['+', '-']).unwrap_or(t);
                        if !t.starts_with(|c: char| c.is_ascii_digit()) {
                            return Err(ArgvError::NotNumeric(shown.to_string(), v));
                        }
                        self.out.push(format!("--{}={v}", long_of(key)));
                    }
                    None => self.out.push(shown.to_string()),
                }
            }
            "t" => {
                let t = self.req_value(i, glued, shown)?;
                if !matches!(t.as_str(), "filter" | "nat" | "mangle" | "raw" | "security") {
                    return Err(ArgvError::BadTable(t));
                }
                self.out.extend([shown.to_string(), t.clone()]);
                self.inv.table = Some(t);
            }
            "M" => {
                let v = self.req_value(i, glued, shown)?;
                self.out.extend([shown.to_string(), v]);
            }
            "b" => return Err(ArgvError::UnknownOption(shown.to_string(), Vec::new())),
            _ => {
                // Rule options: -p -s -d -i -o -j -g -m -f -c.
                let sk: &'static str = match key {
                    "p" => "-p",
                    "s" => "-s",
                    "d" => "-d",
                    "i" => "-i",
                    "o" => "-o",
                    "j" => "-j",
                    "g" => "-g",
                    "m" => "-m",
                    "f" => "-f",
                    _ => "-c",
                };
                if sk != "-m" {
                    let group = if sk == "-g" { "-j" } else { sk };
                    if self.base_used.contains(&group) {
                        return Err(ArgvError::Twice(shown.to_string()));
                    }
                    self.base_used.push(group);
                }
                let mut vals = Vec::new();
                if d.arg == Arg::Req {
                    vals.push(self.req_value(i, glued, shown)?);
                }
                match sk {
                    "-p" => {
                        let p = vals[0].to_ascii_lowercase();
                        vals[0] = p.clone();
                        self.proto = Some(p);
                        self.proto_negated = self.neg;
                    }
                    "-m" => {
                        // A match loaded again is a new instance (iptables
                        // marks the earlier one completed): its options may
                        // be given again, and the table stays as it is.
                        let name = vals[0].clone();
                        match self.exts.iter_mut().find(|e| e.name == name) {
                            Some(e) => {
                                mandatory(e)?;
                                e.used.clear();
                            }
                            None => self.load(&name, true),
                        }
                    }
                    "-j" => {
                        let name = vals[0].clone();
                        self.load(&name, false);
                    }
                    // `-c PKTS,BYTES` or `-c PKTS BYTES`.
                    "-c" if !vals[0].contains(',') => {
                        if !has_operand(self.words, *i) {
                            return Err(ArgvError::MissingValue(shown.to_string()));
                        }
                        vals.push(self.words[*i].clone());
                        *i += 1;
                    }
                    _ => {}
                }
                let item = Item {
                    neg: self.neg,
                    key: sk.to_string(),
                    ext: None,
                    opt: shown.to_string(),
                    vals,
                    opaque: false,
                };
                self.push_item(item);
            }
        }
        Ok(())
    }

    fn ext_opt(
        &mut self,
        k: usize,
        d: Def,
        shown: &str,
        glued: Option<&str>,
        i: &mut usize,
    ) -> Result<(), ArgvError> {
        if self.neg && !d.inv {
            return Err(ArgvError::BadNegation(format!("before {shown}")));
        }
        let e = &mut self.exts[k];
        let once_group = if e.name == "multiport" {
            "ports"
        } else {
            d.key
        };
        if e.used.contains(&once_group) {
            return Err(ArgvError::Twice(shown.to_string()));
        }
        e.used.push(once_group);
        let ext = e.name.clone();
        let mut vals = Vec::new();
        match d.arg {
            Arg::Req => vals.push(self.req_value(i, glued, shown)?),
            Arg::Opt => vals.extend(glued.map(String::from)),
            Arg::No => {
                if glued.is_some() {
                    return Err(ArgvError::NoValueAllowed(shown.to_string()));
                }
            }
        }
        for _ in 0..d.extra {
            if !has_operand(self.words, *i) {
                return Err(ArgvError::MissingValue(shown.to_string()));
            }
            vals.push(self.words[*i].clone());
            *i += 1;
        }
        let item = Item {
            neg: self.neg,
            key: d.key.to_string(),
            ext: Some(ext),
            opt: shown.to_string(),
            vals,
            opaque: false,
        };
        self.push_item(item);
        Ok(())
    }

    /// An option no table knows, while an extension rfw does not know is
    /// loaded: its values are the words up to the next option.
    fn opaque(&mut self, word: &str, i: &mut usize) {
        let owner = self
            .exts
            .iter()
            .rev()
            .find(|e| e.table.is_none())
            .map(|e| e.name.clone());
        let (opt, mut vals) = match classify(word) {
            Word::Long(n, Some(v)) => (format!("--{n}"), vec![v.to_string()]),
            _ => (word.to_string(), Vec::new()),
        };
        while has_operand(self.words, *i) {
            vals.push(self.words[*i].clone());
            *i += 1;
        }
        let item = Item {
            neg: self.neg,
            key: opt.clone(),
            ext: owner,
            opt,
            vals,
            opaque: true,
        };
        self.push_item(item);
    }

    fn run(&mut self) -> Result<(), ArgvError> {
        let words = self.words;
        let mut i = 0;
        while i < words.len() {
            let w = words[i].as_str();
            let start = i;
            self.at = start;
            i += 1;
            match classify(w) {
                Word::End => {
                    if let Some(rest) = words.get(i) {
                        return Err(ArgvError::TrailingWords(rest.clone()));
                    }
                    break;
                }
                Word::Plain => {
                    if w == "!" {
                        if self.neg {
                            return Err(ArgvError::BadNegation("twice in a row".to_string()));
                        }
                        self.neg = true;
                        continue;
                    }
                    return Err(ArgvError::BadArgument(w.to_string()));
                }
                Word::Long(name, glued) => {
                    if self.own_ok {
                        let full = format!("--{name}");
                        if OWN_FLAGS.contains(&full.as_str()) && glued.is_none() {
                            self.inv.own.push(Own {
                                name: full,
                                value: None,
                                at: start,
                                len: 1,
                            });
                            continue;
                        }
                        if full == "--ttl" {
                            let v = match glued {
                                Some(g) => Some(g.to_string()),
                                None => {
                                    i += 1;
                                    words.get(i - 1).cloned()
                                }
                            };
                            self.inv.own.push(Own {
                                name: full,
                                value: v,
                                at: start,
                                len: (i - start).min(words.len() - start),
                            });
                            continue;
                        }
                    }
                    let mut retried = false;
                    loop {
                        match self.resolve(name) {
                            Found::Base(d) => {
                                let shown = if d.name == name {
                                    w.split('=').next().unwrap_or(w).to_string()
                                } else {
                                    format!("--{}", d.name)
                                };
                                if d.arg == Arg::No && glued.is_some() {
                                    return Err(ArgvError::NoValueAllowed(w.to_string()));
                                }
                                self.base(d, &shown, glued, &mut i)?;
                            }
                            Found::Ext(k, d) => {
                                let shown = format!("--{}", d.name);
                                self.ext_opt(k, d, &shown, glued, &mut i)?;
                            }
                            Found::None(cands) => {
                                if !retried && self.load_proto() {
                                    retried = true;
                                    continue;
                                }
                                if cands.is_empty() && self.any_opaque() {
                                    self.opaque(w, &mut i);
                                } else {
                                    let shown = format!("--{name}");
                                    return Err(ArgvError::UnknownOption(shown, cands));
                                }
                            }
                        }
                        break;
                    }
                }
                Word::Short(cluster) => {
                    let chars: Vec<(usize, char)> = cluster.char_indices().collect();
                    let mut k = 0;
                    while k < chars.len() {
                        let (pos, c) = chars[k];
                        k += 1;
                        let rest = &cluster[pos + c.len_utf8()..];
                        let glued = (!rest.is_empty()).then_some(rest);
                        let shown = format!("-{c}");
                        let Some(arg) = short_arg(c) else {
                            // iptables tries the protocol's match, whose
                            // options are all long: still unknown.
                            if self.any_opaque() && k == 1 {
                                self.opaque(w, &mut i);
                                break;
                            }
                            return Err(ArgvError::UnknownOption(shown, Vec::new()));
                        };
                        let key = c.to_string();
                        let def = BASE.iter().find(|d| d.key == key).copied().unwrap_or(Def {
                            name: "",
                            arg,
                            key: "b",
                            inv: false,
                            extra: 0,
                        });
                        let def = Def { arg, ..def };
                        match arg {
                            Arg::No => self.base(def, &shown, None, &mut i)?,
                            Arg::Req | Arg::Opt => {
                                self.base(def, &shown, glued, &mut i)?;
                                break;
                            }
                        }
                        if self.inv.cmd == Some(Cmd::Help) || self.inv.cmd == Some(Cmd::Version) {
                            break;
                        }
                        // Flags in a cluster are negated only once.
                        self.neg = false;
                    }
                }
            }
            self.neg = false;
            if matches!(self.inv.cmd, Some(Cmd::Help) | Some(Cmd::Version)) {
                // iptables acts on -h / -V at once and reads no further.
                break;
            }
        }
        if self.neg {
            return Err(ArgvError::BadNegation("at the end".to_string()));
        }
        Ok(())
    }

    fn finish(self) -> Result<Invocation, ArgvError> {
        for e in &self.exts {
            mandatory(e)?;
            // tcp's and udp's options need that protocol (negated or not).
            let proto_is =
                |p: &Option<String>| p.as_deref().and_then(proto_match) == Some(e.name.as_str());
            if matches!(e.name.as_str(), "tcp" | "udp")
                && (self.proto.is_none() || !e.used.is_empty() && !proto_is(&self.proto))
            {
                return Err(ArgvError::Needs(
                    format!("-m {}", e.name),
                    format!("-p {}", e.name),
                ));
            }
            // Without options, the kernel refuses the match on any other
            // (or a negated) protocol.
            if matches!(e.name.as_str(), "tcp" | "udp")
                && e.used.is_empty()
                && (!proto_is(&self.proto) || self.proto_negated)
            {
                return Err(ArgvError::ProtoMismatch(e.name.clone()));
            }
        }
        if self.interval_given && !self.inv.wait_given {
            return Err(ArgvError::Needs("-W".to_string(), "-w".to_string()));
        }
        if let Some(cmd) = self.inv.cmd {
            // iptables' commands_v_options: options a command refuses.
            let given = self
                .flags
                .iter()
                .copied()
                .chain(self.base_used.iter().filter_map(|k| k.chars().nth(1)));
            let cmds: Vec<Cmd> = if self.inv.zero_too {
                vec![cmd, Cmd::Zero]
            } else {
                vec![cmd]
            };
            for f in given {
                if cmds
                    .iter()
                    .all(|&c| illegal(c, self.inv.operands.len() > 1, f))
                {
                    return Err(ArgvError::Illegal(f));
                }
            }
        }
        if let Some(ch) = self.inv.chain() {
            if ch.len() >= 29 {
                return Err(ArgvError::ChainTooLong(ch.to_string()));
            }
        }
        if self.inv.table.as_deref() == Some("nat") {
            let drops = self
                .inv
                .items
                .iter()
                .any(|i| i.key == "-j" && i.vals == ["DROP"])
                || self.inv.cmd == Some(Cmd::Policy)
                    && self.inv.operands.get(1).is_some_and(|p| p == "DROP");
            if drops {
                return Err(ArgvError::NatDrop);
            }
        }
        let mut inv = self.inv;
        inv.rule_end = self.out.len();
        inv.canon = self.out;
        if let (Some(chain), true) = (inv.chain(), inv.cmd.is_some_and(Cmd::takes_rule)) {
            for it in &inv.items {
                if it.ext.is_none() && it.key == "-i" && matches!(chain, "OUTPUT" | "POSTROUTING") {
                    return Err(ArgvError::WrongInterface('i', chain.to_string()));
                }
                if it.ext.is_none() && it.key == "-o" && matches!(chain, "INPUT" | "PREROUTING") {
                    return Err(ArgvError::WrongInterface('o', chain.to_string()));
                }
            }
        }
        Ok(inv)
    }
}

/// The options an extension cannot do without (`-m comment` needs
/// `--comment`; conntrack and multiport need one of theirs).
fn mandatory(e: &Ext) -> Result<(), ArgvError> {
    let need = match e.name.as_str() {
        "comment" => "--comment",
        "state" => "--state",
        "icmp" => "--icmp-type",
        "icmp6" => "--icmpv6-type",
        "conntrack" | "multiport" if e.used.is_empty() => "one of its options",
        _ => return Ok(()),
    };
    if need.starts_with("--") && !e.used.contains(&need) {
        return Err(ArgvError::Needs(format!("-m {}", e.name), need.to_string()));
    }
    if !need.starts_with("--") {
        return Err(ArgvError::Needs(format!("-m {}", e.name), need.to_string()));
    }
    Ok(())
}

/// Whether iptables refuses option `f` (`n s d p j v x i o 0 c f`, `0`
/// for --line-numbers) with command `c` (`numbered`: `-D CHAIN NUM`).
fn illegal(c: Cmd, numbered: bool, f: char) -> bool {
    let allowed: &str = match c {
        Cmd::Insert | Cmd::Replace | Cmd::Append => "sdpjvioc",
        Cmd::Delete if numbered => "v",
        Cmd::Delete | Cmd::Check => "sdpjviof",
        Cmd::List => "nvx0",
        Cmd::Policy => "vc",
        Cmd::Version | Cmd::Help => return false,
        _ => "v",
    };
    // -f goes with the rule commands too.
    let allowed = if matches!(c, Cmd::Insert | Cmd::Replace | Cmd::Append) {
        "sdpjviocf"
    } else {
        allowed
    };
    !allowed.contains(f)
}

impl Invocation {
    /// Reads `words` (no program name, rfw's own options already removed).
    pub fn parse(words: &[String]) -> Result<Invocation, ArgvError> {
        Self::parse_impl(words, false)
    }

    /// Reads `words`, taking rfw's own options (`--dry-run`, `--force`,
    /// `--quiet`, `--help`, `--ttl SECS`) wherever an option may stand;
    /// they are listed in [`Invocation::own`] and left out of `canon`.
    pub fn parse_with_own(words: &[String]) -> Result<Invocation, ArgvError> {
        Self::parse_impl(words, true)
    }

    fn parse_impl(words: &[String], own_ok: bool) -> Result<Invocation, ArgvError> {
        let mut p = Parser::new(words, own_ok);
        p.run()?;
        p.finish()
    }

    /// rfw's own options among `words`, up to the first mistake iptables
    /// would report (the rest is reported by [`Invocation::parse`]).
    pub fn own_options(words: &[String]) -> Vec<Own> {
        let mut p = Parser::new(words, true);
        let _ = p.run();
        p.inv.own
    }

    /// Reads one rule-spec (the words after `-A CHAIN`, as typed or as
    /// `iptables -S` prints them).
    pub fn parse_spec(chain: &str, words: &[String]) -> Result<Invocation, ArgvError> {
        let mut all = vec!["-A".to_string(), chain.to_string()];
        all.extend_from_slice(words);
        Self::parse(&all)
    }

    /// The chain the command names, if any.
    pub fn chain(&self) -> Option<&str> {
        self.operands.first().map(String::as_str)
    }

    /// The table (`filter` when not given).
    pub fn table(&self) -> &str {
        self.table.as_deref().unwrap_or("filter")
    }

    /// The rule number of `-I` / `-D` / `-R` / `-S` / `-Z`, if given.
    pub fn rule_number(&self) -> Option<u32> {
        self.operands.get(1).and_then(|n| n.parse().ok())
    }

    /// The canonical command line with `-m comment --comment TAG` before
    /// the target (where `iptables -S` prints it), or after the last word
    /// when loading the comment match there would change how a later word
    /// reads (an opaque `--comm` would become `--comment`).
    pub fn canon_with_tag(&self, tag: &str) -> Vec<String> {
        let with_at = |at: usize| {
            let mut v = self.canon[..at].to_vec();
            v.extend(["-m", "comment", "--comment"].map(String::from));
            v.push(tag.to_string());
            v.extend_from_slice(&self.canon[at..]);
            v
        };
        let keeps_meaning = |v: &[String]| {
            Invocation::parse(v).is_ok_and(|t| {
                let mine: Vec<&Item> = t
                    .items
                    .iter()
                    .filter(|i| !(i.key == "--comment" && i.vals == [tag]))
                    .filter(|i| !(i.key == "-m" && i.vals == ["comment"]))
                    .collect();
                let theirs: Vec<&Item> = self
                    .items
                    .iter()
                    .filter(|i| !(i.key == "-m" && i.vals == ["comment"]))
                    .collect();
                mine == theirs
            })
        };
        if let Some(at) = self.target_at {
            let v = with_at(at);
            if keeps_meaning(&v) {
                return v;
            }
        }
        with_at(self.rule_end)
    }

    /// The rule-spec words as they will run, tag included.
    pub fn rule_words_with_tag(&self, tag: &str) -> Vec<String> {
        match Invocation::parse(&self.canon_with_tag(tag)) {
            Ok(t) => t.rule_words,
            Err(_) => self.rule_words.clone(),
        }
    }
}

/// Whether `chain` is one of the built-in chains of `table`.
pub fn is_builtin(table: &str, chain: &str) -> bool {
    let builtins: &[&str] = match table {
        "nat" => &["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"],
        "mangle" => &["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"],
        "raw" => &["PREROUTING", "OUTPUT"],
        "security" => &["INPUT", "FORWARD", "OUTPUT"],
        _ => &["INPUT", "FORWARD", "OUTPUT"],
    };
    builtins.contains(&chain)
}

/// Every table rfw manages (`rfw reset` and `--ttl` look in all of them).
pub const TABLES: &[&str] = &["filter", "raw", "mangle", "nat", "security"];

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Invocation, ArgvError> {
        let w: Vec<String> = s.split_whitespace().map(String::from).collect();
        Invocation::parse(&w)
    }

    fn canon(s: &str) -> String {
        p(s).unwrap().canon.join(" ")
    }

    #[test]
    fn article_commands() {
        let i = p("-I OUTPUT -p tcp --dport 5555 --tcp-flags SYN,ACK SYN -j DROP").unwrap();
        assert_eq!(i.cmd, Some(Cmd::Insert));
        assert_eq!(i.operands, vec!["OUTPUT"]);
        assert_eq!(
            i.rule_words.join(" "),
            "-p tcp --dport 5555 --tcp-flags SYN,ACK SYN -j DROP"
        );
        let i = p("-L OUTPUT -vn").unwrap();
        assert_eq!(
            (i.cmd, i.chain(), i.verbose),
            (Some(Cmd::List), Some("OUTPUT"), true)
        );
        assert!(i.rule_words.is_empty());
        let i = p("-nvL").unwrap();
        assert_eq!((i.cmd, i.chain(), i.verbose), (Some(Cmd::List), None, true));
        let i = p("-I INPUT 2 -p tcp -j ACCEPT").unwrap();
        assert_eq!(i.rule_number(), Some(2));
        let i = p("-D OUTPUT 1").unwrap();
        assert_eq!(i.rule_number(), Some(1));
        assert!(i.rule_words.is_empty());
        let i = p("-t filter -S OUTPUT -w 5").unwrap();
        assert!(i.wait_given);
        assert_eq!(i.table(), "filter");
        assert_eq!(i.canon.join(" "), "-t filter -S OUTPUT --wait=5");
    }

    #[test]
    fn getopt_spellings() {
        // Glued short options and their values.
        assert_eq!(p("-traw -I PREROUTING -j DROP").unwrap().table(), "raw");
        assert_eq!(
            canon("-traw -IPREROUTING -jDROP"),
            "-t raw -I PREROUTING -j DROP"
        );
        let i = p("-PINPUT DROP").unwrap();
        assert_eq!(
            (i.cmd, i.operands.clone()),
            (Some(Cmd::Policy), vec!["INPUT".into(), "DROP".into()])
        );
        // `=` and unique prefixes of long options.
        assert_eq!(
            p("--table=raw -A PREROUTING -j DROP").unwrap().table(),
            "raw"
        );
        assert_eq!(p("--tab raw -L").unwrap().table(), "raw");
        assert_eq!(
            canon("-A INPUT -p tcp --ju DROP"),
            "-A INPUT -p tcp --jump DROP"
        );
        assert_eq!(canon("-A OUTPUT --j REJECT"), "-A OUTPUT --jump REJECT");
        assert_eq!(
            canon("-A INPUT -p tcp --dp 22"),
            "-A INPUT -p tcp --dport 22"
        );
        assert_eq!(
            canon("-A INPUT -p tcp --dport=22"),
            "-A INPUT -p tcp --dport 22"
        );
        assert_eq!(canon("--ap INPUT -j ACCEPT"), "--append INPUT -j ACCEPT");
        assert_eq!(
            canon("--insert=INPUT 1 -j ACCEPT"),
            "--insert INPUT 1 -j ACCEPT"
        );
        assert_eq!(
            canon("-A INPUT -p tcp -j REJECT --reject tcp-reset"),
            "-A INPUT -p tcp -j REJECT --reject-with tcp-reset"
        );
        // A prefix of a multiport option when tcp is not loaded.
        let i = p("-A INPUT -p tcp -m multiport --dport 22 -j DROP").unwrap();
        assert_eq!(i.items[2].key, "--dports");
        // Glued -p and the protocol in lower case.
        let i = p("-A INPUT -pTCP --dport 22").unwrap();
        assert_eq!(i.items[0].vals, vec!["tcp"]);
        // -L and -Z together, in either order.
        let i = p("-Z -L INPUT").unwrap();
        assert_eq!(
            (i.cmd, i.chain(), i.zero_too),
            (Some(Cmd::List), Some("INPUT"), true)
        );
        let i = p("-L INPUT -Z").unwrap();
        assert_eq!(
            (i.cmd, i.chain(), i.zero_too),
            (Some(Cmd::List), Some("INPUT"), true)
        );
        assert!(p("-L -Z -Z").is_err());
        // Optional-value commands take the rest of a cluster: -Lnv lists "nv".
        assert_eq!(p("-Lnv").unwrap().chain(), Some("nv"));
        // Rule numbers are read with base 0.
        assert_eq!(p("-D INPUT 010").unwrap().rule_number(), Some(8));
        // `--` at the end changes nothing.
        assert_eq!(
            canon("-A INPUT -p tcp -j ACCEPT --"),
            "-A INPUT -p tcp -j ACCEPT"
        );
    }

    #[test]
    fn what_iptables_rejects() {
        let unknown = |s: &str| matches!(p(s), Err(ArgvError::UnknownOption(..)));
        assert!(unknown("-A INPUT -p tcp --d 22"));
        assert!(unknown("-A INPUT -p tcp --s 22"));
        assert!(unknown("-A INPUT -p tcp --de 22"));
        assert!(unknown("-A INPUT -j REJECT --r tcp-reset"));
        assert!(unknown("-A INPUT -j LOG --log-t"));
        assert!(unknown("-A INPUT --dport 22"));
        assert!(unknown("-A INPUT -Q"));
        assert!(matches!(
            p("-A INPUT -p tcp --syn=1"),
            Err(ArgvError::NoValueAllowed(_))
        ));
        assert!(matches!(
            p("-A INPUT -p tcp -j ACCEPT -- --dport 5"),
            Err(ArgvError::TrailingWords(_))
        ));
        assert!(matches!(
            p("-A INPUT -p tcp -j ACCEPT 7"),
            Err(ArgvError::BadArgument(_))
        ));
        assert!(matches!(
            p("-A INPUT -p tcp --dport"),
            Err(ArgvError::MissingValue(_))
        ));
        assert!(matches!(
            p("-A INPUT -p tcp --tcp-flags SYN"),
            Err(ArgvError::MissingValue(_))
        ));
        assert!(matches!(
            p("-A INPUT -p tcp --dport 1 --dport 2"),
            Err(ArgvError::Twice(_))
        ));
        assert!(matches!(
            p("-A INPUT ! ! -p tcp"),
            Err(ArgvError::BadNegation(_))
        ));
        assert!(matches!(
            p("-A INPUT -p tcp !"),
            Err(ArgvError::BadNegation(_))
        ));
        assert!(matches!(p("-D INPUT 0"), Err(ArgvError::BadRuleNumber(_))));
    }

    #[test]
    fn mistakes() {
        assert_eq!(p("-I"), Err(ArgvError::MissingOperand('I', "a chain name")));
        assert_eq!(
            p("-I OUTPUT -D OUTPUT"),
            Err(ArgvError::TwoCommands('I', 'D'))
        );
        assert_eq!(p("-t bogus -L"), Err(ArgvError::BadTable("bogus".into())));
        assert_eq!(
            p("-I OUTPUT -i lo -j DROP"),
            Err(ArgvError::WrongInterface('i', "OUTPUT".into()))
        );
        assert!(matches!(
            p("-P INPUT"),
            Err(ArgvError::MissingOperand('P', _))
        ));
    }

    #[test]
    fn option_values_stay_data() {
        let i = p("-A INPUT -p tcp -m comment --comment -L -j DROP").unwrap();
        assert_eq!(i.cmd, Some(Cmd::Append));
        assert!(i.rule_words.contains(&"-L".to_string()));
        let w: Vec<String> = [
            "-A",
            "INPUT",
            "-m",
            "comment",
            "--comment",
            "--force",
            "--dry-run",
        ]
        .map(String::from)
        .to_vec();
        let i = Invocation::parse_with_own(&w).unwrap();
        assert_eq!(i.own.len(), 1);
        assert_eq!(i.own[0].name, "--dry-run");
    }

    #[test]
    fn opaque_extensions_keep_their_words() {
        let i = p("-A OUTPUT -p dccp --dport 5 -j ACCEPT").unwrap();
        assert_eq!(i.items[1].key, "--dport");
        let i = p("-A OUTPUT -m foo --bar 1 2 --baz -j ACCEPT").unwrap();
        assert!(i.items[1].opaque && i.items[2].opaque);
        assert_eq!(i.items[1].vals, vec!["1", "2"]);
    }

    #[test]
    fn tag_goes_before_the_target() {
        let i = p("-I OUTPUT -p tcp --dport 5555 --tcp-flags SYN,ACK SYN -j DROP").unwrap();
        assert_eq!(
            i.canon_with_tag("rfw:1").join(" "),
            "-I OUTPUT -p tcp --dport 5555 --tcp-flags SYN,ACK SYN -m comment --comment rfw:1 -j DROP"
        );
        let i = p("-A INPUT -p tcp --dport 1").unwrap();
        assert_eq!(
            i.canon_with_tag("rfw:1").join(" "),
            "-A INPUT -p tcp --dport 1 -m comment --comment rfw:1"
        );
        let i = p("-A INPUT -m comment --comment -j -j ACCEPT").unwrap();
        assert_eq!(
            i.canon_with_tag("rfw:1").join(" "),
            "-A INPUT -m comment --comment -j -m comment --comment rfw:1 -j ACCEPT"
        );
    }

    #[test]
    fn numbers_as_strtoul_base_0() {
        assert_eq!(strtoui("026", 0, 65535), Some(22));
        assert_eq!(strtoui("0x16", 0, 65535), Some(22));
        assert_eq!(strtoui("0X16", 0, 65535), Some(22));
        assert_eq!(strtoui(" +22", 0, 65535), Some(22));
        assert_eq!(strtoui("0", 0, 65535), Some(0));
        assert_eq!(strtoui("08", 0, 65535), None);
        assert_eq!(strtoui("0x", 0, 65535), None);
        assert_eq!(strtoui("-1", 0, 65535), None);
        assert_eq!(strtoui("65536", 0, 65535), None);
        assert_eq!(strtoui("99999999999999999999999", 0, 65535), None);
        assert_eq!(strtoui("", 0, 65535), None);
        assert_eq!(strtoui("22abc", 0, 65535), None);
    }

    use rnet_testkit::rng::Rng;

    const VOCAB: &[&str] = &[
        "-A",
        "-I",
        "-D",
        "-C",
        "-R",
        "-L",
        "-S",
        "-F",
        "-Z",
        "-N",
        "-X",
        "-P",
        "-E",
        "-t",
        "-p",
        "-s",
        "-d",
        "-i",
        "-o",
        "-j",
        "-g",
        "-m",
        "-n",
        "-v",
        "-x",
        "-w",
        "-W",
        "-c",
        "-f",
        "!",
        "--",
        "--append",
        "--ap",
        "--ju",
        "--j",
        "--jump",
        "--table",
        "--tab",
        "--dport",
        "--dp",
        "--d",
        "--s",
        "--sport",
        "--syn",
        "--tcp-flags",
        "--dports",
        "--ports",
        "--sports",
        "--comment",
        "--comm",
        "--state",
        "--ctstate",
        "--reject-with",
        "--reject",
        "--log-prefix",
        "--line-numbers",
        "--wait",
        "--list",
        "--policy",
        "INPUT",
        "OUTPUT",
        "PREROUTING",
        "FORWARD",
        "tcp",
        "udp",
        "dccp",
        "6",
        "all",
        "multiport",
        "comment",
        "state",
        "conntrack",
        "foo",
        "REJECT",
        "LOG",
        "DROP",
        "ACCEPT",
        "raw",
        "filter",
        "nat",
        "22",
        "026",
        "0x16",
        "ssh",
        "1:2",
        "30:22",
        ":22",
        "22:",
        "80,22,1000:2000",
        "SYN,ACK",
        "SYN",
        "NEW",
        "tcp-reset",
        "1",
        "0",
        "99999999999",
        "",
        " ",
        "a b",
        "\u{2013}L",
        "\u{2014}",
        "-\u{e9}",
        "--\u{fc}ber",
        "=",
        "--=x",
        "--dport=22",
        "-traw",
        "-PINPUT",
        "-jDROP",
        "-p6",
        "-nvL",
        "-Lnv",
        "-w5",
        "--dry-run",
        "--force",
        "--ttl",
        "--quiet",
        "--help",
        "-4",
        "-6",
        "-h",
        "-V",
    ];

    fn mutate(r: &mut Rng, w: &str) -> String {
        let mut s: Vec<char> = w.chars().collect();
        match r.below(6) {
            0 if !s.is_empty() => {
                let k = r.below(s.len());
                s.truncate(k);
            }
            1 => s.insert(
                r.below(s.len() + 1),
                ['=', '-', '!', ':', ',', '\u{2013}', '\0'][r.below(7)],
            ),
            2 if !s.is_empty() => {
                let k = r.below(s.len());
                s[k] = char::from_u32(r.next() as u32 % 0x3000).unwrap_or('?');
            }
            _ => {}
        }
        s.into_iter().collect()
    }

    #[test]
    fn random_argv_never_panics_and_its_rendering_is_stable() {
        let mut r = Rng::splitmix64(0x5eed_0008);
        let mut ok = 0;
        for _ in 0..20_000 {
            let n = r.below(12);
            let mut words: Vec<String> = Vec::with_capacity(n + 1);
            for _ in 0..n {
                let w = *r.pick(VOCAB);
                let w = if r.below(4) == 0 {
                    mutate(&mut r, w)
                } else {
                    w.to_string()
                };
                // Glue two words now and then (`-p` + `tcp`).
                if r.below(8) == 0 {
                    if let Some(last) = words.last_mut() {
                        last.push_str(&w);
                        continue;
                    }
                }
                words.push(w);
            }
            let _ = Invocation::own_options(&words);
            let _ = Invocation::parse_with_own(&words);
            let Ok(inv) = Invocation::parse(&words) else {
                continue;
            };
            ok += 1;
            // Reading the rendering gives the same command line.
            let again = Invocation::parse(&inv.canon)
                .unwrap_or_else(|e| panic!("{words:?} -> {:?}: {e}", inv.canon));
            assert_eq!(again.canon, inv.canon, "{words:?}");
            assert_eq!(again.items, inv.items, "{words:?}");
            assert_eq!(
                (again.cmd, &again.operands, &again.table),
                (inv.cmd, &inv.operands, &inv.table),
                "{words:?}"
            );
            let _ = crate::rule::Rule::from_items(&inv.items, r.below(2) == 0);
            // The tagged plan reads back with the tag as a comment.
            if inv.cmd.is_some_and(Cmd::adds) {
                let tagged = inv.canon_with_tag("rfw:1.2");
                let t = Invocation::parse(&tagged)
                    .unwrap_or_else(|e| panic!("{words:?} -> {tagged:?}: {e}"));
                assert!(
                    t.items
                        .iter()
                        .any(|i| i.key == "--comment" && i.vals == ["rfw:1.2"]),
                    "{tagged:?}"
                );
            }
        }
        eprintln!("argv property: {ok} of 20000 random command lines valid, all stable");
        assert!(ok > 1_000, "too few valid command lines: {ok}");
    }
}
