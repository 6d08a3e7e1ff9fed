//! The typed rule model: what a rule-spec means, so that a rule typed by a
//! learner (`-p tcp --dport 5555 --syn -j DROP`) and the same rule as
//! `iptables -S` prints it (`-p tcp -m tcp --dport 5555 --tcp-flags
//! FIN,SYN,RST,ACK SYN -j DROP`) compare equal, and so that explanations
//! can be derived from it. Parsing is pure; so is [`Rule::to_args`], which
//! turns a rule back into an argument vector in `iptables -S` order.

use crate::argv::{Invocation, Item};
use crate::error::Status;
use std::fmt;

/// TCP flag bits as the kernel numbers them (`flags:0x12/0x02` in `-L -n`),
/// shared with the explanations.
pub use rnet_core::explain::firewall::flag as flags;

/// Flag names in the order `iptables -S` prints them.
use flags::NAMES as FLAG_NAMES;

/// Parses a comma-separated flag list (`SYN,ACK`, `ALL`, `NONE`), names
/// compared without regard to case as iptables does. The error is the
/// first unknown name.
pub fn parse_tcp_flags(list: &str) -> Result<u8, String> {
    let mut bits = 0u8;
    for name in list.split(',') {
        let up = name.to_ascii_uppercase();
        bits |= match up.as_str() {
            "ALL" => flags::ALL,
            "NONE" => 0,
            _ => match FLAG_NAMES.iter().find(|(n, _)| *n == up) {
                Some((_, b)) => *b,
                None => return Err(name.to_string()),
            },
        };
    }
    Ok(bits)
}

/// Flag bits as `iptables -S` spells them (`FIN,SYN,RST,ACK`, `NONE`).
pub fn flags_text(bits: u8) -> String {
    if bits == 0 {
        return "NONE".to_string();
    }
    FLAG_NAMES
        .iter()
        .filter(|(_, b)| bits & b != 0)
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(",")
}

/// A port or an inclusive range, `5555` or `1000:2000`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortRange {
    /// First port.
    pub lo: u16,
    /// Last port.
    pub hi: u16,
}

impl PortRange {
    /// Whether `port` is in the range.
    pub fn contains(&self, port: u16) -> bool {
        self.lo <= port && port <= self.hi
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.lo == self.hi {
            write!(f, "{}", self.lo)
        } else {
            write!(f, "{}:{}", self.lo, self.hi)
        }
    }
}

/// Reads one port as iptables' `xtables_parse_port` does: a number read
/// by `strtoul` with base 0 (`026` is 22, `0x16` is 22), else a service
/// name from the services database for `proto` (`getservbyname`).
///
/// An empty `proto` reads it as udp's parser does (libxtables'
/// `xtables_getportbyname`, through `getaddrinfo`): decimal only (`026`
/// is 26, `0x16` is no port), the number taken modulo 65536 (`70000` is
/// 4464), the empty word 0, else a service name of any protocol.
pub fn parse_port(s: &str, proto: &str) -> Option<u16> {
    if proto.is_empty() {
        if s.is_empty() {
            return Some(0);
        }
        let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
        let t = t.strip_prefix('+').unwrap_or(t);
        if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
            return Some((t.parse::<u64>().unwrap_or(u64::MAX) & 0xffff) as u16);
        }
        if s.contains('\0') {
            return None;
        }
        return ["tcp", "udp", "sctp", "dccp"]
            .into_iter()
            .find_map(|p| rnet_core::names::service_port(s, p));
    }
    if let Some(v) = crate::argv::strtoui(s, 0, 65535) {
        return u16::try_from(v).ok();
    }
    if s.is_empty() || s.contains('\0') {
        return None;
    }
    rnet_core::names::service_port(s, proto)
}

/// Parses `PORT`, `LO:HI`, `LO:` and `:HI` as iptables does (an empty
/// side means 0 or 65535). With `ordered` (tcp, sctp, dccp) a range with
/// LO above HI is iptables' error `invalid portrange (min > max)`; udp
/// accepts it (and then matches nothing). The error is the part iptables
/// would name.
pub fn parse_port_range(s: &str, proto: &str, ordered: bool) -> Result<PortRange, String> {
    match s.split_once(':') {
        None => parse_port(s, proto)
            .map(|p| PortRange { lo: p, hi: p })
            .ok_or_else(|| s.to_string()),
        Some((a, b)) => {
            if b.contains(':') {
                return Err(s.to_string());
            }
            let lo = if a.is_empty() {
                0
            } else {
                parse_port(a, proto).ok_or_else(|| a.to_string())?
            };
            let hi = if b.is_empty() {
                65535
            } else {
                parse_port(b, proto).ok_or_else(|| b.to_string())?
            };
            if ordered && lo > hi {
                return Err(format!("{s} (the first port is above the second)"));
            }
            Ok(PortRange { lo, hi })
        }
    }
}

/// Parses a multiport list (`80,22,1000:2000`): at most 15 ports, a range
/// counting as two, each range rising.
pub fn parse_port_list(s: &str, proto: &str) -> Result<Vec<PortRange>, String> {
    let mut out = Vec::new();
    let mut count = 0;
    for part in s.split(',') {
        let r = match part.split_once(':') {
            Some((lo, hi)) => {
                count += 2;
                // Both ends must be given here (`22:` is no range).
                if lo.is_empty() || hi.is_empty() {
                    return Err(part.to_string());
                }
                let r = parse_port_range(part, proto, true)?;
                if r.lo >= r.hi {
                    return Err(format!("{part} (a range must rise)"));
                }
                r
            }
            None => {
                count += 1;
                let p = parse_port(part, proto).ok_or_else(|| part.to_string())?;
                PortRange { lo: p, hi: p }
            }
        };
        out.push(r);
    }
    if count > 15 {
        return Err(format!("{s} (more than 15 ports)"));
    }
    Ok(out)
}

/// A rule's target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// `-j ACCEPT`.
    Accept,
    /// `-j DROP`.
    Drop,
    /// `-j REJECT`, with its reply (`icmp-port-unreachable` by default).
    Reject(String),
    /// `-j LOG`.
    Log,
    /// `-j RETURN`.
    Return,
    /// Anything else: a user chain or another extension.
    Other(String),
}

impl Target {
    /// The name after `-j`.
    pub fn name(&self) -> &str {
        match self {
            Target::Accept => "ACCEPT",
            Target::Drop => "DROP",
            Target::Reject(_) => "REJECT",
            Target::Log => "LOG",
            Target::Return => "RETURN",
            Target::Other(n) => n,
        }
    }

    /// DROP or REJECT: a target that stops traffic.
    pub fn blocks(&self) -> bool {
        matches!(self, Target::Drop | Target::Reject(_))
    }
}

/// Canonical names of the REJECT replies (aliases as iptables accepts
/// them), for IPv4 and IPv6.
const REJECT_TYPES: &[(&str, &str)] = &[
    ("icmp-net-unreachable", "icmp-net-unreachable"),
    ("net-unreach", "icmp-net-unreachable"),
    ("icmp-host-unreachable", "icmp-host-unreachable"),
    ("host-unreach", "icmp-host-unreachable"),
    ("icmp-proto-unreachable", "icmp-proto-unreachable"),
    ("proto-unreach", "icmp-proto-unreachable"),
    ("icmp-port-unreachable", "icmp-port-unreachable"),
    ("port-unreach", "icmp-port-unreachable"),
    ("icmp-net-prohibited", "icmp-net-prohibited"),
    ("net-prohib", "icmp-net-prohibited"),
    ("icmp-host-prohibited", "icmp-host-prohibited"),
    ("host-prohib", "icmp-host-prohibited"),
    ("icmp-admin-prohibited", "icmp-admin-prohibited"),
    ("admin-prohib", "icmp-admin-prohibited"),
    ("tcp-reset", "tcp-reset"),
    ("tcp-rst", "tcp-reset"),
];

const REJECT_TYPES_V6: &[(&str, &str)] = &[
    ("icmp6-no-route", "icmp6-no-route"),
    ("no-route", "icmp6-no-route"),
    ("icmp6-adm-prohibited", "icmp6-adm-prohibited"),
    ("adm-prohibited", "icmp6-adm-prohibited"),
    ("icmp6-addr-unreachable", "icmp6-addr-unreachable"),
    ("addr-unreach", "icmp6-addr-unreachable"),
    ("icmp6-port-unreachable", "icmp6-port-unreachable"),
    ("port-unreach", "icmp6-port-unreachable"),
    ("icmp6-policy-fail", "icmp6-policy-fail"),
    ("policy-fail", "icmp6-policy-fail"),
    ("icmp6-reject-route", "icmp6-reject-route"),
    ("reject-route", "icmp6-reject-route"),
    ("tcp-reset", "tcp-reset"),
];

/// The canonical REJECT reply name, or `None` when iptables would say
/// `unknown reject type`.
pub fn reject_type(name: &str, v6: bool) -> Option<&'static str> {
    let table = if v6 { REJECT_TYPES_V6 } else { REJECT_TYPES };
    table.iter().find(|(a, _)| *a == name).map(|(_, c)| *c)
}

/// The default REJECT reply.
pub fn default_reject(v6: bool) -> &'static str {
    if v6 {
        "icmp6-port-unreachable"
    } else {
        "icmp-port-unreachable"
    }
}

/// A value that may be negated with `!`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Neg<T> {
    /// `!` was given.
    pub not: bool,
    /// The value.
    pub value: T,
}

/// One rule-spec, by meaning.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rule {
    /// `-p` (lower case; numbers 6 and 17 read as tcp and udp).
    pub proto: Option<Neg<String>>,
    /// `-s`, with a prefix length always present.
    pub src: Option<Neg<String>>,
    /// `-d`, with a prefix length always present.
    pub dst: Option<Neg<String>>,
    /// `-i`.
    pub in_if: Option<Neg<String>>,
    /// `-o`.
    pub out_if: Option<Neg<String>>,
    /// `--sport`.
    pub sport: Option<Neg<PortRange>>,
    /// `--dport`.
    pub dport: Option<Neg<PortRange>>,
    /// multiport's list: `'s'` (`--sports`), `'d'` (`--dports`) or `'b'`
    /// (`--ports`, either side), with the ports and ranges.
    pub mports: Option<Neg<(char, Vec<PortRange>)>>,
    /// `--tcp-flags MASK COMP` (also `--syn`), as bits.
    pub tcp_flags: Option<Neg<(u8, u8)>>,
    /// `--state` / `--ctstate` values, sorted.
    pub states: Option<Neg<Vec<String>>>,
    /// `--comment` texts other than rfw's tag, in order.
    pub comments: Vec<String>,
    /// rfw's tag (`rfw:…`), when the rule carries one.
    pub tag: Option<String>,
    /// The target.
    pub target: Option<Target>,
    /// The target came with `-g` (goto) rather than `-j`.
    pub goto: bool,
    /// Words this model does not know, in order (compared verbatim).
    pub other: Vec<String>,
    /// `-c PKTS BYTES` of `iptables -S -v`.
    pub counters: Option<(u64, u64)>,
}

/// Why a rule-spec cannot be read; `Display` is iptables' wording (without
/// its `iptables v1.8.9 (nf_tables): ` prefix).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RuleError {
    /// An option needs a value and none followed.
    MissingValue(String),
    /// `--tcp-flags` with a name iptables does not know.
    UnknownFlag(String),
    /// `--dport 70000`.
    BadPort(String),
    /// `--dport` (or another TCP option) without `-p tcp` before it.
    NeedsProto(String),
    /// `--reject-with bogus`.
    BadReject(String),
    /// `-s 1.2.3.400`.
    BadAddress(String),
    /// `--state BOGUS`.
    BadState(String),
    /// `-p nosuchproto`.
    BadProto(String),
    /// `-p udp … --reject-with tcp-reset` (iptables: exit 4 from the kernel).
    ResetNeedsTcp,
    /// The command line itself (unknown option, missing value, …).
    Syntax(crate::argv::ArgvError),
    /// `-m multiport` without `-p tcp`, udp, udplite, sctp or dccp.
    MultiportNeedsProto,
}

impl RuleError {
    /// The exit status iptables gives for this mistake.
    pub fn status(&self) -> Status {
        match self {
            RuleError::ResetNeedsTcp => Status::ResourceProblem,
            RuleError::Syntax(e) => e.status(),
            _ => Status::ParameterProblem,
        }
    }

    /// One line saying how to fix it.
    pub fn fix(&self) -> String {
        match self {
            RuleError::MissingValue(o) => format!("`{o}' needs a value after it"),
            RuleError::UnknownFlag(f) => format!(
                "unknown TCP flag `{f}'; --tcp-flags takes two comma-separated lists of \
                 SYN ACK FIN RST URG PSH ALL NONE, e.g. --tcp-flags SYN,ACK SYN"
            ),
            RuleError::BadPort(p) => {
                format!("invalid port `{p}'; use a number 0-65535 or a range such as 1000:2000")
            }
            RuleError::NeedsProto(o) => {
                format!("`{o}' needs `-p tcp' (or -p udp for ports) before it")
            }
            RuleError::BadReject(r) => format!(
                "unknown reject type `{r}'; use tcp-reset (with -p tcp) or icmp-port-unreachable"
            ),
            RuleError::BadAddress(a) => {
                format!("`{a}' is not an address; use a.b.c.d, a.b.c.d/len or an IPv6 address")
            }
            RuleError::BadState(s) => format!(
                "bad connection state `{s}'; use NEW, ESTABLISHED, RELATED, INVALID or UNTRACKED"
            ),
            RuleError::BadProto(p) => {
                format!("unknown protocol `{p}'; use tcp, udp, icmp, all or a number")
            }
            RuleError::ResetNeedsTcp => {
                "--reject-with tcp-reset only works with -p tcp (the kernel refuses it otherwise)"
                    .to_string()
            }
            RuleError::Syntax(e) => e.to_string(),
            RuleError::MultiportNeedsProto => {
                "-m multiport needs -p tcp, -p udp, -p udplite, -p sctp or -p dccp before it"
                    .to_string()
            }
        }
    }
}

fn neg<T>(not: bool, value: T) -> Option<Neg<T>> {
    Some(Neg { not, value })
}

/// `-p`'s value as the rule model holds it: lower case; `0`, `1`, `6` and
/// `17` as all, icmp, tcp and udp (the protocols rfw's rules look at),
/// other numbers up to 255 as numbers; a name must be known
/// ([`rnet_core::names::protocol_number`]).
fn proto_name(p: &str) -> Option<String> {
    let l = p.to_ascii_lowercase();
    if let Ok(n) = l.parse::<u16>() {
        let n = u8::try_from(n).ok()?;
        let named = matches!(l.as_str(), "0" | "1" | "6" | "17");
        return match rnet_core::names::known_protocol_name(n) {
            Some(name) if named => Some(name.to_string()),
            _ => Some(n.to_string()),
        };
    }
    rnet_core::names::protocol_number(&l).map(|_| l)
}

/// An IPv4 address as iptables reads it (libxtables'
/// `__numeric_to_ipaddr`): up to four dot-separated parts, each read with
/// base 0 and at most 255, missing ones zero (`198.18` is 198.18.0.0);
/// failing that, as `getaddrinfo` reads numbers (`inet_aton`: `5555` is
/// 0.0.21.179).
pub fn parse_ipv4(s: &str) -> Option<std::net::Ipv4Addr> {
    let parts: Vec<&str> = s.split('.').collect();
    if (1..=4).contains(&parts.len()) {
        let bytes: Option<Vec<u8>> = parts
            .iter()
            .map(|p| crate::argv::strtoui(p, 0, 255).map(|v| v as u8))
            .collect();
        if let Some(b) = bytes {
            let mut o = [0u8; 4];
            o[..b.len()].copy_from_slice(&b);
            return Some(o.into());
        }
    }
    // inet_aton: the last part fills the bytes left.
    let nums: Option<Vec<u64>> = parts
        .iter()
        .map(|p| crate::argv::strtoui(p, 0, u32::MAX as u64))
        .collect();
    let nums = nums.filter(|n| (1..=4).contains(&n.len()))?;
    let (head, last) = nums.split_at(nums.len() - 1);
    if head.iter().any(|&v| v > 255) {
        return None;
    }
    let rest_bits = 8 * (4 - head.len() as u32);
    if rest_bits < 32 && last[0] >> rest_bits != 0 {
        return None;
    }
    let mut v: u32 = 0;
    for (k, &h) in head.iter().enumerate() {
        v |= (h as u32) << (24 - 8 * k as u32);
    }
    Some((v | last[0] as u32).into())
}

/// Normalises an address as `-S` prints it: read as iptables reads it,
/// masked by its prefix, a prefix length always present; dotted masks
/// become lengths. Host names are kept as typed.
fn normalize_addr(a: &str) -> Result<String, RuleError> {
    let bad = || RuleError::BadAddress(a.to_string());
    let (host, mask) = match a.split_once('/') {
        Some((h, m)) => (h, Some(m)),
        None => (a, None),
    };
    let looks_numeric = !host.is_empty()
        && (host
            .chars()
            .all(|c| c.is_ascii_hexdigit() || c == '.' || c == 'x' || c == 'X')
            && host.starts_with(|c: char| c.is_ascii_digit())
            || host.contains(':')
                && host
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.'));
    let ip: std::net::IpAddr = if host.contains(':') {
        match host.parse::<std::net::Ipv6Addr>() {
            Ok(ip) => ip.into(),
            Err(_) if looks_numeric => return Err(bad()),
            Err(_) => return Ok(a.to_string()),
        }
    } else {
        match parse_ipv4(host) {
            Some(ip) => ip.into(),
            None if looks_numeric => return Err(bad()),
            None => return Ok(a.to_string()),
        }
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len = match mask {
        None => max,
        Some(m) => match crate::argv::strtoui(m, 0, max as u64) {
            Some(l) => l as u32,
            None => match parse_ipv4(m) {
                Some(dotted) if ip.is_ipv4() && m.contains('.') => u32::from(dotted).count_ones(),
                _ => return Err(bad()),
            },
        },
    };
    let ip = match ip {
        std::net::IpAddr::V4(v4) => {
            let m = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            std::net::IpAddr::V4((u32::from(v4) & m).into())
        }
        std::net::IpAddr::V6(v6) => {
            let m = if len == 0 {
                0
            } else {
                u128::MAX << (128 - len)
            };
            std::net::IpAddr::V6((u128::from(v6) & m).into())
        }
    };
    Ok(format!("{ip}/{len}"))
}

const STATES: &[&str] = &[
    "INVALID",
    "ESTABLISHED",
    "NEW",
    "RELATED",
    "UNTRACKED",
    "SNAT",
    "DNAT",
];

impl Rule {
    /// Reads a rule-spec (the words after `-A CHAIN`, as typed or as `-S`
    /// prints them), with iptables' option rules. `v6` selects the IPv6
    /// REJECT names.
    pub fn parse(words: &[String], v6: bool) -> Result<Rule, RuleError> {
        let inv = Invocation::parse_spec("RFW-SPEC", words).map_err(RuleError::Syntax)?;
        Rule::from_items(&inv.items, v6)
    }

    /// The meaning of the rule options of a parsed command line.
    pub fn from_items(items: &[Item], v6: bool) -> Result<Rule, RuleError> {
        let mut r = Rule::default();
        for it in items {
            let negated = it.neg;
            let v0 = it.vals.first().cloned().unwrap_or_default();
            if it.opaque {
                r.other.extend(it.words());
                continue;
            }
            let ext = it.ext.as_deref();
            match (ext, it.key.as_str()) {
                (None, "-p") => {
                    let p = proto_name(&v0).ok_or_else(|| RuleError::BadProto(v0.clone()))?;
                    r.proto = neg(negated, p);
                }
                (None, "-s") => r.src = neg(negated, normalize_addr(&v0)?),
                (None, "-d") => r.dst = neg(negated, normalize_addr(&v0)?),
                (None, "-i") => r.in_if = neg(negated, v0),
                (None, "-o") => r.out_if = neg(negated, v0),
                (None, "-m") => match v0.as_str() {
                    // Implied by -p tcp / the options that follow; -S
                    // prints them, typed rules often not.
                    "tcp" | "udp" | "comment" | "state" | "conntrack" | "multiport" => {}
                    _ => r.other.extend(["-m".to_string(), v0]),
                },
                (None, "-j" | "-g") => {
                    r.target = Some(match v0.as_str() {
                        "ACCEPT" => Target::Accept,
                        "DROP" => Target::Drop,
                        "REJECT" => Target::Reject(default_reject(v6).to_string()),
                        "LOG" => Target::Log,
                        "RETURN" => Target::Return,
                        _ => Target::Other(v0),
                    });
                    r.goto = it.key == "-g";
                }
                (None, "-c") => {
                    let (p, b) = match it.vals.as_slice() {
                        [one] => one.split_once(',').unwrap_or((one, "0")),
                        [p, b, ..] => (p.as_str(), b.as_str()),
                        [] => ("0", "0"),
                    };
                    r.counters = Some((p.parse().unwrap_or(0), b.parse().unwrap_or(0)));
                }
                (
                    Some(e @ ("tcp" | "udp" | "udplite" | "sctp" | "dccp")),
                    "--sport" | "--dport",
                ) => {
                    let pname = if matches!(e, "udp" | "udplite") {
                        ""
                    } else {
                        e
                    };
                    let ordered = !matches!(e, "udp" | "udplite");
                    let pr = parse_port_range(&v0, pname, ordered).map_err(RuleError::BadPort)?;
                    if it.key == "--dport" {
                        r.dport = neg(negated, pr);
                    } else {
                        r.sport = neg(negated, pr);
                    }
                }
                (Some("multiport"), k @ ("--sports" | "--dports" | "--ports")) => {
                    let proto = match &r.proto {
                        Some(p)
                            if !p.not
                                && matches!(
                                    p.value.as_str(),
                                    "tcp" | "udp" | "udplite" | "sctp" | "dccp"
                                ) =>
                        {
                            p.value.clone()
                        }
                        _ => return Err(RuleError::MultiportNeedsProto),
                    };
                    let list = parse_port_list(&v0, &proto).map_err(RuleError::BadPort)?;
                    let side = match k {
                        "--sports" => 's',
                        "--dports" => 'd',
                        _ => 'b',
                    };
                    r.mports = neg(negated, (side, list));
                }
                (Some("tcp"), "--tcp-flags") => {
                    let mask = parse_tcp_flags(&it.vals[0]).map_err(RuleError::UnknownFlag)?;
                    let comp = parse_tcp_flags(&it.vals[1]).map_err(RuleError::UnknownFlag)?;
                    r.tcp_flags = neg(negated, (mask, comp));
                }
                (Some("tcp"), "--syn") => {
                    r.tcp_flags = neg(
                        negated,
                        (
                            flags::SYN | flags::RST | flags::ACK | flags::FIN,
                            flags::SYN,
                        ),
                    );
                }
                (Some("comment"), "--comment") => {
                    if r.tag.is_none() && crate::tag::is_rfw_tag(&v0) {
                        r.tag = Some(v0);
                    } else {
                        r.comments.push(v0);
                    }
                }
                (Some("state"), "--state") | (Some("conntrack"), "--ctstate") => {
                    let mut list = Vec::new();
                    for s in v0.split(',') {
                        let up = s.to_ascii_uppercase();
                        if !STATES.contains(&up.as_str()) {
                            return Err(RuleError::BadState(s.to_string()));
                        }
                        list.push(up);
                    }
                    list.sort();
                    r.states = neg(negated, list);
                }
                (Some("REJECT"), "--reject-with") => {
                    let t = reject_type(&v0, v6).ok_or_else(|| RuleError::BadReject(v0.clone()))?;
                    if let Some(Target::Reject(kind)) = &mut r.target {
                        *kind = t.to_string();
                    }
                }
                // -f and the options this model does not interpret.
                _ => r.other.extend(it.words()),
            }
        }
        if matches!(&r.target, Some(Target::Reject(k)) if k == "tcp-reset")
            && r.proto.as_ref().is_none_or(|p| p.value != "tcp" || p.not)
        {
            return Err(RuleError::ResetNeedsTcp);
        }
        Ok(r)
    }

    /// Same meaning, rfw's tag and counters aside.
    pub fn same_as(&self, other: &Rule) -> bool {
        let strip = |r: &Rule| Rule {
            tag: None,
            counters: None,
            ..r.clone()
        };
        strip(self) == strip(other)
    }

    /// The TCP port the rule is about (`--dport` first, else `--sport`),
    /// when it names a single port.
    pub fn single_port(&self) -> Option<u16> {
        [&self.dport, &self.sport]
            .into_iter()
            .flatten()
            .find(|p| !p.not && p.value.lo == p.value.hi)
            .map(|p| p.value.lo)
    }

    /// Whether the rule is limited to TCP (or is ambiguous for it: no `-p`).
    pub fn is_tcp(&self) -> bool {
        self.proto
            .as_ref()
            .is_some_and(|p| !p.not && p.value == "tcp")
    }

    /// The argument vector of this rule in `iptables -S` order, with the
    /// tag (when set) as a comment before the target. Pure.
    pub fn to_args(&self) -> Vec<String> {
        let mut a: Vec<String> = Vec::new();
        let put = |a: &mut Vec<String>, not: bool, opt: &str, v: String| {
            if not {
                a.push("!".to_string());
            }
            a.push(opt.to_string());
            a.push(v);
        };
        if let Some(s) = &self.src {
            put(&mut a, s.not, "-s", s.value.clone());
        }
        if let Some(d) = &self.dst {
            put(&mut a, d.not, "-d", d.value.clone());
        }
        if let Some(i) = &self.in_if {
            put(&mut a, i.not, "-i", i.value.clone());
        }
        if let Some(o) = &self.out_if {
            put(&mut a, o.not, "-o", o.value.clone());
        }
        if let Some(p) = &self.proto {
            put(&mut a, p.not, "-p", p.value.clone());
            if !p.not && (self.sport.is_some() || self.dport.is_some() || self.tcp_flags.is_some())
            {
                a.extend(["-m".to_string(), p.value.clone()]);
            }
        }
        if let Some(p) = &self.sport {
            put(&mut a, p.not, "--sport", p.value.to_string());
        }
        if let Some(p) = &self.dport {
            put(&mut a, p.not, "--dport", p.value.to_string());
        }
        if let Some(f) = &self.tcp_flags {
            put(&mut a, f.not, "--tcp-flags", flags_text(f.value.0));
            a.push(flags_text(f.value.1));
        }
        if let Some(m) = &self.mports {
            a.extend(["-m".to_string(), "multiport".to_string()]);
            let opt = match m.value.0 {
                's' => "--sports",
                'd' => "--dports",
                _ => "--ports",
            };
            let list: Vec<String> = m.value.1.iter().map(PortRange::to_string).collect();
            put(&mut a, m.not, opt, list.join(","));
        }
        if let Some(s) = &self.states {
            a.extend(["-m".to_string(), "state".to_string()]);
            put(&mut a, s.not, "--state", s.value.join(","));
        }
        a.extend(self.other.iter().cloned());
        for c in self.comments.iter().chain(self.tag.iter()) {
            a.extend(["-m".to_string(), "comment".to_string()]);
            a.extend(["--comment".to_string(), c.clone()]);
        }
        match &self.target {
            Some(Target::Reject(kind)) => {
                a.extend(["-j", "REJECT", "--reject-with"].map(String::from));
                a.push(kind.clone());
            }
            Some(t) => a.extend([
                if self.goto { "-g" } else { "-j" }.to_string(),
                t.name().to_string(),
            ]),
            None => {}
        }
        a
    }
}

/// Splits one line of `iptables -S` into words: `"…"` quoting with `\"`
/// and `\\` escapes, as iptables prints comments.
pub fn split_rule_line(line: &str) -> Vec<String> {
    split_quoted(line, '"', true)
}

/// Splits a line into words on blanks, with `quote` grouping words; a
/// backslash escapes the next character inside quotes (`inside` true, as
/// iptables -S writes `"a \"b\""`) or outside them (`inside` false, as a
/// POSIX shell reads `'it'\''s'`).
pub fn split_quoted(line: &str, quote: char, inside: bool) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quoted = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c == quote => {
                quoted = !quoted;
                in_word = true;
            }
            '\\' if quoted == inside => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
                in_word = true;
            }
            c if c.is_whitespace() && !quoted => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

/// One `-A CHAIN …` rule of `iptables -S`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedRule {
    /// The chain.
    pub chain: String,
    /// Its number in the chain, as iptables counts (every rule, whether
    /// rfw can read it or not).
    pub num: usize,
    /// The words after the chain, exactly as printed (counters removed),
    /// ready for `-D CHAIN words…`.
    pub words: Vec<String>,
    /// Their meaning; for a rule rfw cannot read, an empty rule whose only
    /// field is the tag found in its words (if any), and `parsed` false.
    pub rule: Rule,
    /// Whether rfw could read the rule.
    pub parsed: bool,
}

/// Splits `iptables -S` output into records: a newline inside a quoted
/// comment (iptables prints it raw) does not end a rule.
pub fn split_records(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            '\\' if quoted => {
                cur.push(c);
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            '\n' if !quoted => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The first comment among `words` that is an rfw tag.
fn tag_in(words: &[String]) -> Option<String> {
    words
        .windows(2)
        .find(|w| w[0] == "--comment" && crate::tag::is_rfw_tag(&w[1]))
        .map(|w| w[1].clone())
}

/// The rules of an `iptables -S` (or `-S -v`) listing, in order, numbered
/// per chain as iptables numbers them; `-P` and `-N` lines are skipped.
pub fn parse_listing(text: &str, v6: bool) -> Vec<ListedRule> {
    let mut out: Vec<ListedRule> = Vec::new();
    for line in split_records(text) {
        let w = split_rule_line(&line);
        if w.len() < 2 || w[0] != "-A" {
            continue;
        }
        let mut words: Vec<String> = Vec::with_capacity(w.len());
        let mut counters = None;
        let mut k = 2;
        while k < w.len() {
            if w[k] == "-c" && k + 2 < w.len() {
                counters = Some((w[k + 1].parse().unwrap_or(0), w[k + 2].parse().unwrap_or(0)));
                k += 3;
                continue;
            }
            words.push(w[k].clone());
            k += 1;
        }
        let (mut rule, parsed) = match Rule::parse(&words, v6) {
            Ok(r) => (r, true),
            Err(_) => (
                Rule {
                    tag: tag_in(&words),
                    ..Rule::default()
                },
                false,
            ),
        };
        rule.counters = counters;
        let num = 1 + out.iter().filter(|l| l.chain == w[1]).count();
        out.push(ListedRule {
            chain: w[1].clone(),
            num,
            words,
            rule,
            parsed,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_spellings() {
        // The value as the rule holds it, and the match it loads.
        for (given, held, loads) in [
            ("TCP", Some("tcp"), Some("tcp")),
            ("6", Some("tcp"), Some("tcp")),
            ("17", Some("udp"), Some("udp")),
            ("1", Some("icmp"), Some("icmp")),
            ("0", Some("all"), None),
            ("006", Some("6"), None),
            ("47", Some("47"), None),
            ("58", Some("58"), Some("icmp6")),
            ("256", None, None),
            ("icmpv6", Some("icmpv6"), Some("icmp6")),
            ("IPv6-ICMP", Some("ipv6-icmp"), Some("icmp6")),
            ("dccp", Some("dccp"), Some("dccp")),
            ("gre", Some("gre"), None),
            ("no-such-protocol", None, None),
        ] {
            assert_eq!(proto_name(given).as_deref(), held, "{given}");
            assert_eq!(crate::argv::proto_match(given), loads, "{given}");
        }
    }

    fn words(s: &str) -> Vec<String> {
        split_rule_line(s)
    }

    fn rule(s: &str) -> Rule {
        Rule::parse(&words(s), false).unwrap()
    }

    #[test]
    fn typed_and_listed_forms_compare_equal() {
        let cases = [
            (
                "-p tcp --dport 5555 --tcp-flags SYN,ACK SYN -j DROP",
                "-p tcp -m tcp --dport 5555 --tcp-flags SYN,ACK SYN -j DROP",
            ),
            (
                "-p tcp --sport 5555 --syn -j DROP",
                "-p tcp -m tcp --sport 5555 --tcp-flags FIN,SYN,RST,ACK SYN -j DROP",
            ),
            (
                "-p tcp --dport 5555 --tcp-flags SYN,ACK,FIN,RST ACK -j DROP",
                "-p tcp -m tcp --dport 5555 --tcp-flags FIN,SYN,RST,ACK ACK -j DROP",
            ),
            (
                "-p tcp --dport 5555 -j REJECT",
                "-p tcp -m tcp --dport 5555 -j REJECT --reject-with icmp-port-unreachable",
            ),
            (
                "-s 198.18.0.1 -p tcp --dport ssh -m state --state NEW,ESTABLISHED -j ACCEPT",
                "-s 198.18.0.1/32 -p tcp -m tcp --dport 22 -m state --state ESTABLISHED,NEW -j ACCEPT",
            ),
            (
                "-p tcp --sport 1:1000 --tcp-flags ALL NONE -j DROP",
                "-p tcp -m tcp --sport 1:1000 --tcp-flags FIN,SYN,RST,PSH,ACK,URG NONE -j DROP",
            ),
        ];
        for (typed, listed) in cases {
            assert!(rule(typed).same_as(&rule(listed)), "{typed} vs {listed}");
        }
        assert!(!rule("-p tcp --dport 5555 -j DROP").same_as(&rule("-p tcp --dport 5556 -j DROP")));
    }

    #[test]
    fn tag_is_read_and_ignored_by_same_as() {
        let tagged = rule(
            r#"-p tcp -m tcp --dport 5555 --tcp-flags SYN,ACK SYN -m comment --comment "rfw:12.34" -j DROP"#,
        );
        assert_eq!(tagged.tag.as_deref(), Some("rfw:12.34"));
        assert!(tagged.same_as(&rule("-p tcp --dport 5555 --tcp-flags SYN,ACK SYN -j DROP")));
        // A comment that only looks like a tag is somebody else's.
        let foreign =
            rule(r#"-p tcp --dport 5555 -m comment --comment "rfw: keep, admin rule" -j DROP"#);
        assert_eq!(foreign.tag, None);
        assert_eq!(foreign.comments, vec!["rfw: keep, admin rule"]);
    }

    #[test]
    fn golden_argument_vectors() {
        let mut r = rule("-p tcp --dport 5555 --tcp-flags SYN,ACK SYN -j DROP");
        r.tag = Some("rfw:1".into());
        assert_eq!(
            r.to_args().join(" "),
            "-p tcp -m tcp --dport 5555 --tcp-flags SYN,ACK SYN -m comment --comment rfw:1 -j DROP"
        );
        let r = rule("-p tcp --dport 5555 --syn -j REJECT --reject-with tcp-reset");
        assert_eq!(
            r.to_args().join(" "),
            "-p tcp -m tcp --dport 5555 --tcp-flags FIN,SYN,RST,ACK SYN -j REJECT --reject-with tcp-reset"
        );
        let r = rule("! -s 198.18.0.0/255.255.0.0 -i veth0 -j ACCEPT");
        assert_eq!(
            r.to_args().join(" "),
            "! -s 198.18.0.0/16 -i veth0 -j ACCEPT"
        );
    }

    #[test]
    fn iptables_errors_and_their_status() {
        let e = |s: &str| Rule::parse(&words(s), false).unwrap_err();
        assert_eq!(
            e("-p tcp --tcp-flags SYN,BOGUS SYN -j DROP"),
            RuleError::UnknownFlag("BOGUS".into())
        );
        assert_eq!(
            e("-p tcp --dport 70000 -j DROP"),
            RuleError::BadPort("70000".into())
        );
        assert!(e("--dport 5555 -j DROP").fix().contains("needs `-p tcp'"));
        assert_eq!(
            e("-p tcp --dport").fix(),
            "`--dport' needs a value after it"
        );
        assert_eq!(
            e("-p tcp --dport 30:22 -j DROP"),
            RuleError::BadPort("30:22 (the first port is above the second)".into())
        );
        assert_eq!(
            e("-m multiport --dports 22 -j DROP"),
            RuleError::MultiportNeedsProto
        );
        assert_eq!(
            e("-s 1.2.3.400 -j DROP"),
            RuleError::BadAddress("1.2.3.400".into())
        );
        assert_eq!(
            e("-p tcp -j REJECT --reject-with bogus"),
            RuleError::BadReject("bogus".into())
        );
        let r = e("-p udp -j REJECT --reject-with tcp-reset");
        assert_eq!(
            (r.clone(), r.status().code()),
            (RuleError::ResetNeedsTcp, 4)
        );
        assert_eq!(
            e("-p tcp -m state --state BOGUS -j DROP"),
            RuleError::BadState("BOGUS".into())
        );
        // Case does not matter for flag names, as in iptables.
        assert!(Rule::parse(&words("-p tcp --tcp-flags syn,ack syn -j DROP"), false).is_ok());
    }

    #[test]
    fn listing_with_counters_and_quotes() {
        let text = "-P INPUT ACCEPT -c 0 0\n-N RFW\n\
            -A OUTPUT -p tcp -m tcp --dport 5555 --tcp-flags SYN,ACK SYN -m comment --comment \"rfw:1.2\" -c 3 180 -j DROP\n";
        let l = parse_listing(text, false);
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].chain, "OUTPUT");
        assert_eq!(l[0].rule.counters, Some((3, 180)));
        assert_eq!(l[0].rule.tag.as_deref(), Some("rfw:1.2"));
        assert_eq!(l[0].words.last().map(String::as_str), Some("DROP"));
        assert!(!l[0].words.contains(&"-c".to_string()));
    }

    #[test]
    fn unknown_options_are_kept_verbatim() {
        let r = rule("-p tcp -m mark --mark 5 -j DROP");
        assert_eq!(r.other, vec!["-m", "mark", "--mark", "5"]);
    }

    #[test]
    fn ports_read_as_iptables_reads_them() {
        let dport = |s: &str| rule(s).dport.map(|p| p.value);
        let one = |p| Some(PortRange { lo: p, hi: p });
        assert_eq!(dport("-p tcp --dport 026 -j DROP"), one(22));
        assert_eq!(dport("-p tcp --dport 0x16 -j DROP"), one(22));
        assert_eq!(dport("-p tcp --dport ssh -j DROP"), one(22));
        assert_eq!(dport("-p tcp --dp 22 -j DROP"), one(22));
        assert_eq!(dport("-p tcp --dport=22 -j DROP"), one(22));
        assert_eq!(dport("-p 6 --destination-port 22 -j DROP"), one(22));
        assert_eq!(
            dport("-p tcp --dport :22 -j DROP"),
            Some(PortRange { lo: 0, hi: 22 })
        );
        assert_eq!(
            dport("-p tcp --dport 22: -j DROP"),
            Some(PortRange { lo: 22, hi: 65535 })
        );
        // udp reads numbers in decimal, modulo 65536, and keeps a falling
        // range (which matches nothing).
        assert_eq!(dport("-p udp --dport 026 -j DROP"), one(26));
        assert_eq!(dport("-p udp --dport 08 -j DROP"), one(8));
        assert_eq!(dport("-p udp --dport 70000 -j DROP"), one(4464));
        assert!(Rule::parse(&words("-p udp --dport 0x16 -j DROP"), false).is_err());
        assert_eq!(
            dport("-p udp --dport 30:22 -j DROP"),
            Some(PortRange { lo: 30, hi: 22 })
        );
        let m = rule("-p tcp -m multiport --dports 80,026,1000:2000 -j DROP")
            .mports
            .unwrap();
        assert_eq!(m.value.0, 'd');
        assert_eq!(
            m.value.1,
            vec![
                PortRange { lo: 80, hi: 80 },
                PortRange { lo: 22, hi: 22 },
                PortRange { lo: 1000, hi: 2000 }
            ]
        );
        // Typed and listed multiport rules are the same rule.
        assert!(rule("-p tcp -m multiport --dports 80,026 -j DROP")
            .same_as(&rule("-p tcp -m multiport --dports 80,22 -j DROP")));
        assert!(Rule::parse(
            &words("-p tcp -m multiport --dports 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16 -j DROP"),
            false
        )
        .is_err());
    }

    #[test]
    fn addresses_as_iptables_reads_them() {
        let src = |s: &str| rule(s).src.map(|n| n.value);
        assert_eq!(
            src("-s 198.18.0.1 -j DROP").as_deref(),
            Some("198.18.0.1/32")
        );
        assert_eq!(
            src("-s 198.18.0.1/16 -j DROP").as_deref(),
            Some("198.18.0.0/16")
        );
        assert_eq!(src("-s 198.18 -j DROP").as_deref(), Some("198.18.0.0/32"));
        assert_eq!(src("-s 2 -j DROP").as_deref(), Some("2.0.0.0/32"));
        assert_eq!(src("-s 5555 -j DROP").as_deref(), Some("0.0.21.179/32"));
        assert_eq!(src("-s 0x7f.1 -j DROP").as_deref(), Some("127.1.0.0/32"));
        assert_eq!(
            src("-s 10.0.0.0/255.0.0.0 -j DROP").as_deref(),
            Some("10.0.0.0/8")
        );
        assert_eq!(
            src("-s 2001:db8::1/32 -j DROP").as_deref(),
            Some("2001:db8::/32")
        );
        assert!(Rule::parse(&words("-s 1.2.3.400 -j DROP"), false).is_err());
        assert!(Rule::parse(&words("-s 1.2.3.4/33 -j DROP"), false).is_err());
    }

    #[test]
    fn newlines_in_comments_make_no_phantom_rules() {
        let text = "-P OUTPUT ACCEPT\n\
            -A OUTPUT -p tcp -m tcp --dport 5 -m comment --comment \"a\n-A OUTPUT -p tcp --dport 9 -j DROP\" -j ACCEPT\n\
            -A OUTPUT -m comment --comment \"q\\\"x\\\" y\\'z \\\\ end\" -j ACCEPT\n\
            -A OUTPUT -p dccp -m dccp --dport 5 --dccp-types BOGUS -j ACCEPT\n\
            -A OUTPUT -m comment --comment \"rfw:1.2\" -j ACCEPT\n";
        let l = parse_listing(text, false);
        assert_eq!(l.len(), 4, "{l:#?}");
        assert_eq!(
            l[0].rule.comments,
            vec!["a\n-A OUTPUT -p tcp --dport 9 -j DROP"]
        );
        assert_eq!(l[1].rule.comments, vec!["q\"x\" y'z \\ end"]);
        assert_eq!(
            l.iter().map(|r| r.num).collect::<Vec<_>>(),
            vec![1, 2, 3, 4]
        );
        assert_eq!(l[3].rule.tag.as_deref(), Some("rfw:1.2"));
    }
}
