//! What a firewall rule does to a TCP connection: which end sends the
//! segments it matches, which state each end is left in, and for how long.
//!
//! The input is a [`FirewallRule`], a neutral description any tool can
//! build (rfw builds it from an iptables rule): where the rule sits, who
//! sends what it matches, the port, the TCP flags and the action. Every
//! figure comes from [`crate::timing`] with the settings of the host it is
//! about ([`Hosts`]): a figure about the other end names whose value it
//! used ([`Hosts::knob_text`]). `docs/tcp-timers.md` gives the kernel
//! behaviour behind each sentence.

use super::{duration, plural, TIMERS_RUN_LATE};
use crate::tcp_state::TcpState;
use crate::timing::{
    synrecv_life, unacked_give_up, GiveUp, Host, Hosts, Knob, SynAckLoss, TIME_WAIT_SECS,
};

/// TCP flag bits as iptables' `--tcp-flags` names them.
pub mod flag {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
    /// PSH.
    pub const PSH: u8 = 0x08;
    /// ACK.
    pub const ACK: u8 = 0x10;
    /// URG.
    pub const URG: u8 = 0x20;
    /// ALL.
    pub const ALL: u8 = 0x3f;

    /// Flag names in the order `iptables -S` prints them.
    pub const NAMES: [(&str, u8); 6] = [
        ("FIN", FIN),
        ("SYN", SYN),
        ("RST", RST),
        ("PSH", PSH),
        ("ACK", ACK),
        ("URG", URG),
    ];
}

/// Flag bits as iptables lists them (`SYN,ACK`; `NONE` for none).
pub fn flags_text(bits: u8) -> String {
    if bits == 0 {
        return "NONE".to_string();
    }
    flag::NAMES
        .iter()
        .filter(|(_, b)| bits & b != 0)
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(",")
}

/// Where the rule sits on a packet's way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// Leaving this host (OUTPUT, POSTROUTING): a drop here makes this
    /// host's own send fail.
    Leaving,
    /// Arriving at this host (INPUT, PREROUTING): the segment left its
    /// sender and is lost here.
    Arriving,
    /// Passing through this host (FORWARD): both ends are other hosts.
    Passing,
    /// A chain of the user's: which way depends on where it is jumped to
    /// from; both ends are treated as other hosts.
    Unknown,
}

impl Place {
    /// The place of a built-in iptables chain (`OUTPUT` is leaving;
    /// user chains are [`Place::Unknown`]).
    pub fn of_chain(chain: &str) -> Place {
        match chain {
            "OUTPUT" | "POSTROUTING" => Place::Leaving,
            "INPUT" | "PREROUTING" => Place::Arriving,
            "FORWARD" => Place::Passing,
            _ => Place::Unknown,
        }
    }

    fn words(self) -> &'static str {
        match self {
            Place::Leaving => "leaving this host",
            Place::Arriving => "arriving at this host",
            Place::Passing => "passing through this host",
            Place::Unknown => "that reach this chain",
        }
    }
}

/// Which end of a connection sends the segments a rule matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sender {
    /// The end that connects to the port (`--dport`: segments go *to* it).
    Client,
    /// The end that listens on the port (`--sport`: segments come *from* it).
    Server,
    /// Not said by the rule (no port).
    Unknown,
}

/// The protocol a rule is limited to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// TCP only.
    Tcp,
    /// Every protocol (no `-p`, or one that excludes another protocol).
    Any,
    /// Not TCP; the text is the option as given (`-p udp`, `! -p tcp`).
    Other(String),
}

/// What the rule does with a matched packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Discard silently (`DROP`).
    Drop,
    /// Discard and answer with a TCP RST (`REJECT --reject-with tcp-reset`).
    RejectReset,
    /// Discard and answer with an ICMP error (`REJECT`, the default reply).
    RejectIcmp,
    /// Let it through (`ACCEPT`).
    Accept,
    /// Back to the calling chain (`RETURN`).
    Return,
    /// Log it and go on (`LOG`).
    Log,
    /// On to another chain or target, by name.
    Chain(String),
}

/// `--tcp-flags MASK COMP` (with `!` when `invert`): the bits of `mask`
/// are examined and must equal `comp`. `--syn` is `FIN,SYN,RST,ACK SYN`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpFlags {
    /// The flags examined.
    pub mask: u8,
    /// The flags of `mask` that must be set.
    pub comp: u8,
    /// `!` was given: the rule matches when they differ.
    pub invert: bool,
}

impl TcpFlags {
    /// Whether a segment with `bits` set matches.
    pub fn matches(&self, bits: u8) -> bool {
        ((bits & self.mask) == self.comp) != self.invert
    }
}

/// Which of the segment kinds a connection sends a rule matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segments {
    /// SYN (the client's first segment).
    pub syn: bool,
    /// SYN|ACK (the server's answer).
    pub synack: bool,
    /// A pure ACK.
    pub ack: bool,
    /// Data (PSH|ACK).
    pub data: bool,
    /// FIN (FIN|ACK).
    pub fin: bool,
    /// RST (RST|ACK).
    pub rst: bool,
}

impl Segments {
    /// Every kind (no `--tcp-flags`).
    pub const ALL: Segments = Segments {
        syn: true,
        synack: true,
        ack: true,
        data: true,
        fin: true,
        rst: true,
    };

    /// The kinds `flags` matches.
    pub fn of(flags: &TcpFlags) -> Segments {
        let m = |b| flags.matches(b);
        Segments {
            syn: m(flag::SYN),
            synack: m(flag::SYN | flag::ACK),
            ack: m(flag::ACK),
            data: m(flag::ACK | flag::PSH),
            fin: m(flag::FIN | flag::ACK),
            rst: m(flag::RST | flag::ACK),
        }
    }
}

/// A firewall rule as far as TCP cares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FirewallRule {
    /// Where it sits.
    pub place: Place,
    /// Who sends what it matches.
    pub sender: Sender,
    /// The single port it names, if any.
    pub port: Option<u16>,
    /// The protocol it is limited to.
    pub protocol: Protocol,
    /// `--tcp-flags`, if given.
    pub flags: Option<TcpFlags>,
    /// What it does.
    pub action: Action,
}

impl FirewallRule {
    /// The segment kinds it matches.
    pub fn segments(&self) -> Segments {
        self.flags.as_ref().map_or(Segments::ALL, Segments::of)
    }
}

/// The noun for what a rule's counter counts, plural and singular
/// (`("SYNs", "SYN")`).
fn noun_pair(r: &FirewallRule) -> (&'static str, &'static str) {
    if r.flags.is_none() || r.protocol != Protocol::Tcp {
        return ("packets", "packet");
    }
    let s = r.segments();
    match (s.syn, s.synack, s.ack, s.data, s.fin, s.rst) {
        (true, false, false, false, false, false) => ("SYNs", "SYN"),
        (false, true, false, false, false, false) => ("SYN|ACKs", "SYN|ACK"),
        (true, true, false, false, false, false) => ("SYNs and SYN|ACKs", "SYN or SYN|ACK"),
        (false, false, false, false, true, false) => ("FINs", "FIN"),
        (false, false, true, true, false, false) => ("ACKs", "ACK"),
        (false, false, false, true, false, false) => ("data segments", "data segment"),
        (false, false, false, false, false, true) => ("RSTs", "RST"),
        _ => ("segments", "segment"),
    }
}

/// The noun for what a rule's counter counts ("SYNs", "FINs", "packets").
pub fn counted(r: &FirewallRule) -> &'static str {
    noun_pair(r).0
}

fn verb(a: &Action) -> &'static str {
    match a {
        Action::Drop => "dropped",
        Action::RejectReset | Action::RejectIcmp => "rejected",
        Action::Accept => "accepted",
        Action::Log => "logged",
        Action::Return | Action::Chain(_) => "matched",
    }
}

fn st(s: TcpState) -> &'static str {
    s.info().netstat
}

/// One end of the connection, as a figure about it needs it.
#[derive(Clone, Copy)]
struct End {
    /// Client or server, where known.
    role: Option<Sender>,
    /// Whose settings apply.
    host: Host,
    /// This host is that end.
    here: bool,
    /// It sends the matched segments.
    sends: bool,
    /// The rule sits on neither end.
    between: bool,
}

impl End {
    fn of(place: Place, role: Sender, sends: bool) -> End {
        let here = match place {
            Place::Leaving => sends,
            Place::Arriving => !sends,
            Place::Passing | Place::Unknown => false,
        };
        End {
            role: (role != Sender::Unknown).then_some(role),
            host: if here { Host::Here } else { Host::Peer },
            here,
            sends,
            between: matches!(place, Place::Passing | Place::Unknown),
        }
    }

    /// "the client", "the client (this host)", "this host", "the other host".
    fn name(&self) -> String {
        match (self.role, self.here) {
            (Some(r), true) => format!("{} (this host)", role_name(r)),
            (Some(r), false) => role_name(r).to_string(),
            (None, true) => "this host".to_string(),
            (None, false) if self.between => if self.sends {
                "the sending host"
            } else {
                "the receiving host"
            }
            .to_string(),
            (None, false) => "the other host".to_string(),
        }
    }

    /// How a peer's setting names this end ("the client").
    fn peer_name(&self) -> &'static str {
        match self.role {
            Some(r) => role_name(r),
            None if self.sends => "the sending host",
            None => "the receiving host",
        }
    }
}

fn opposite(r: Sender) -> Sender {
    match r {
        Sender::Client => Sender::Server,
        Sender::Server => Sender::Client,
        Sender::Unknown => Sender::Unknown,
    }
}

fn role_name(r: Sender) -> &'static str {
    match r {
        Sender::Client => "the client",
        Sender::Server => "the server",
        Sender::Unknown => "either end",
    }
}

/// The client's SYN schedule, worded: "the time budget of …".
fn syn_knobs(hosts: &Hosts, client: &End) -> String {
    hosts.knobs_text(
        client.host,
        &[Knob::SynRetries, Knob::SynLinearTimeouts],
        client.peer_name(),
    )
}

/// How many segments of the kind a rule counts one connection attempt
/// sends while the rule holds it, where the explanation predicts it: the
/// client's SYNs for a SYN drop, the server's SYN|ACKs for a SYN|ACK drop.
/// `(count, noun)`; the same figure [`explain`] quotes.
pub fn predicted_count(r: &FirewallRule, hosts: &Hosts) -> Option<(u64, &'static str)> {
    if r.action != Action::Drop {
        return None;
    }
    match counted(r) {
        "SYNs" if r.sender != Sender::Server => {
            let client = End::of(r.place, Sender::Client, true);
            let (syns, _) = hosts.timers(client.host).syn_send_times();
            Some((syns.len() as u64, "SYNs"))
        }
        "SYN|ACKs" if r.sender != Sender::Client => {
            let life = synack_life(r, hosts).0;
            Some((u64::from(life.synacks), "SYN|ACKs"))
        }
        _ => None,
    }
}

/// The server's request sockets while its SYN|ACKs are lost, with the
/// client and server ends.
fn synack_life(r: &FirewallRule, hosts: &Hosts) -> (crate::timing::SynRecvLife, End, End) {
    let server = End::of(r.place, Sender::Server, true);
    let client = End::of(r.place, Sender::Client, false);
    let (syns, _) = hosts.timers(client.host).syn_send_times();
    let retries = Knob::SynackRetries.value(hosts.timers(server.host));
    let loss = if r.place == Place::Leaving {
        SynAckLoss::ServerOutput
    } else {
        SynAckLoss::Wire
    };
    (synrecv_life(&syns, retries, loss), client, server)
}

/// One line per rule with its counter: "OUTPUT rule 1 (added by rfw): 2
/// SYNs dropped so far, 11 per connection attempt; …", the rest being the
/// first sentence of [`explain`].
pub fn counter_line(
    chain: &str,
    num: usize,
    added_by_rfw: bool,
    packets: u64,
    r: &FirewallRule,
    hosts: &Hosts,
) -> String {
    let (many, one) = noun_pair(r);
    let noun = if packets == 1 { one } else { many };
    let mine = if added_by_rfw { " (added by rfw)" } else { "" };
    let per = predicted_count(r, hosts)
        .map(|(n, _)| format!(", {n} per connection attempt"))
        .unwrap_or_default();
    let summary = explain(r, hosts)
        .into_iter()
        .next()
        .unwrap_or_else(|| "no TCP-specific effect".to_string());
    format!(
        "{chain} rule {num}{mine}: {packets} {noun} {} so far{per}; {summary}",
        verb(&r.action)
    )
}

/// What `r` does to TCP connections, one sentence per line; figures about
/// the other end use its settings from `hosts` and say whose they are.
pub fn explain(r: &FirewallRule, hosts: &Hosts) -> Vec<String> {
    if let Protocol::Other(p) = &r.protocol {
        return vec![format!(
            "does not match TCP ({p}), so TCP states are not affected"
        )];
    }
    let where_ = r.place.words();
    let noun = counted(r);
    match &r.action {
        Action::Accept => {
            return vec![format!(
                "accepts {noun} {where_}; states are not changed (the rules below it in this chain are not consulted for them)"
            )]
        }
        Action::Return => {
            return vec![format!(
                "returns {noun} {where_} to the chain that jumped here (in a built-in chain its policy decides); this rule changes no state"
            )]
        }
        Action::Log => {
            return vec![format!(
                "logs {noun} {where_} to the kernel log (dmesg) and lets them continue; states are not changed"
            )]
        }
        Action::Chain(name) => return vec![format!("sends {noun} {where_} on to `{name}'")],
        Action::Drop | Action::RejectReset | Action::RejectIcmp => {}
    }
    let s = r.segments();
    let p = r
        .port
        .map_or_else(|| "any port".to_string(), |p| format!("port {p}"));
    if r.sender == Sender::Unknown && s == Segments::ALL {
        return vec![format!(
            "{} every TCP segment {where_} (no port given): every connection through this chain stalls",
            if r.action == Action::Drop { "drops" } else { "rejects" }
        )];
    }
    let mut lines = Vec::new();
    let mut timed = false;
    if s.syn && r.sender != Sender::Server {
        syn_lines(r, hosts, &p, &mut lines, &mut timed);
    }
    if s.synack && r.sender != Sender::Client {
        synack_lines(r, hosts, &p, &mut lines, &mut timed);
    }
    let snd = End::of(r.place, r.sender, true);
    let oth = End::of(r.place, opposite(r.sender), false);
    if s.fin && !s.data {
        fin_lines(r, hosts, &snd, &oth, &mut lines, &mut timed);
    }
    if s.ack && !s.syn && !s.fin {
        ack_lines(r, hosts, &snd, &oth, &mut lines, &mut timed);
    }
    data_lines(r, hosts, &p, &snd, &oth, &mut lines, &mut timed);
    if lines.is_empty() {
        let (mask, comp) = r.flags.map_or((0, 0), |f| (f.mask, f.comp));
        if comp & !mask != 0 && r.flags.is_some_and(|f| !f.invert) {
            lines.push(format!(
                "matches nothing: --tcp-flags wants {} set but only examines {}",
                flags_text(comp),
                flags_text(mask)
            ));
        } else {
            lines.push(format!(
                "{} {noun} {where_} on {p}; the common handshake and teardown segments are not among them",
                if r.action == Action::Drop { "drops" } else { "rejects" }
            ));
        }
    }
    if timed {
        lines.push(format!("the times are nominal: {TIMERS_RUN_LATE}"));
    }
    lines
}

/// Where a segment is lost, as a clause: "dropped before it leaves this host".
fn lost(r: &FirewallRule) -> String {
    let v = verb(&r.action);
    match r.place {
        Place::Leaving => format!("{v} before it leaves this host"),
        Place::Arriving => format!("{v} on arrival here"),
        Place::Passing | Place::Unknown => format!("{v} on its way through this host"),
    }
}

/// The client's SYN dropped: SYN_SENT until the kernel's time budget ends.
fn syn_lines(r: &FirewallRule, hosts: &Hosts, p: &str, lines: &mut Vec<String>, timed: &mut bool) {
    let client = End::of(r.place, Sender::Client, true);
    match r.action {
        Action::RejectReset | Action::RejectIcmp => {
            lines.push(format!(
                "a connect to {p} fails at once with \"Connection refused\" ({} answers the SYN); no state is left behind",
                if r.action == Action::RejectReset {
                    "the RST"
                } else {
                    "the ICMP port-unreachable"
                }
            ));
        }
        _ => {
            lines.push(syn_sent_line(
                hosts,
                &client,
                &format!(
                    "the connection from {} to {p} stays in {}: its SYN is {} and resent",
                    client.name(),
                    st(TcpState::SynSent),
                    lost(r)
                ),
            ));
            *timed = true;
            lines.push(format!(
                "the server never sees the SYN and stays in {} (no {} appears there)",
                st(TcpState::Listen),
                st(TcpState::SynRecv)
            ));
        }
    }
}

/// "{head}, N SYNs in all (the last at L s); connect() fails … about T after
/// the first SYN (the time budget …)": one figure each, from the client's
/// settings.
fn syn_sent_line(hosts: &Hosts, client: &End, head: &str) -> String {
    let t = hosts.timers(client.host);
    let (syns, give_up) = t.syn_send_times();
    let last = syns.last().copied().unwrap_or(0);
    let linear = Knob::SynLinearTimeouts.value(t) > 0 && hosts.here.syn_linear_timeouts.is_some();
    format!(
        "{head}: {} in all, the last {last} s after the first; connect() fails with \"Connection timed out\" about {} after the first SYN: the time budget tcp_syn_retries allows{} ({})",
        plural(syns.len() as u64, "SYN", "SYNs"),
        duration(give_up as f64),
        if linear {
            ", which tcp_syn_linear_timeouts' 1 s gaps fill with more SYNs"
        } else {
            ""
        },
        syn_knobs(hosts, client)
    )
}

/// The server's SYN|ACK dropped: SYN_RECV for as long as the client tries
/// (lost on the way or at the client), or a flickering row (dropped by the
/// server's own OUTPUT chain).
fn synack_lines(
    r: &FirewallRule,
    hosts: &Hosts,
    p: &str,
    lines: &mut Vec<String>,
    timed: &mut bool,
) {
    let (life, client, server) = synack_life(r, hosts);
    let recv = st(TcpState::SynRecv);
    let retries = hosts.knob_text(server.host, Knob::SynackRetries, server.peer_name());
    *timed = true;
    if r.place == Place::Leaving {
        lines.push(format!(
            "{} on {p} answers each SYN with a SYN|ACK that is {}: the send fails, the request's first timed resend fails too and discards it about 1 s later, and the client's next SYN makes a new one, so the {recv} row flickers (it looks steady while SYNs come every second) until about {} after the client's first SYN: {} SYN|ACK attempts, each counted by this rule (the client's SYNs: {})",
            server.name(),
            lost(r),
            duration(life.end() as f64),
            life.synacks,
            syn_knobs(hosts, &client)
        ));
        lines.push(format!(
            "the article's Exercise 2 step (i) blames SYN-flood protection for the vanishing {recv} row; here it is this host's own OUTPUT drop (the failed resend discards the request)"
        ));
    } else if matches!(r.action, Action::RejectReset | Action::RejectIcmp) {
        lines.push(format!(
            "the server's SYN|ACK from {p} is {}: the {} goes back to the server, which discards its request at once; each SYN the client resends makes a new one, briefly in {recv}",
            lost(r),
            if r.action == Action::RejectReset {
                "RST"
            } else {
                "ICMP error"
            }
        ));
    } else {
        let alone = synrecv_life(
            &[0],
            Knob::SynackRetries.value(hosts.timers(server.host)),
            SynAckLoss::Wire,
        )
        .end();
        lines.push(format!(
            "the server's SYN|ACK from {p} is {}: the server stays in {recv} for about {} after the client's first SYN, as long as the client keeps resending its SYN, not just the {} its SYN|ACK retries alone would take: each repeated SYN is answered at once and restarts the request's timer, and a SYN after the request expired creates a new one (so the retransmission count in netstat -o starts again at 0); {} in all{} (the server's request: {retries}; the client's SYNs: {})",
            lost(r),
            duration(life.end() as f64),
            duration(alone as f64),
            plural(u64::from(life.synacks), "SYN|ACK", "SYN|ACKs"),
            if r.place == Place::Arriving {
                ", each counted by this rule"
            } else {
                ""
            },
            syn_knobs(hosts, &client)
        ));
    }
    lines.push(syn_sent_line(
        hosts,
        &client,
        &format!(
            "{} stays in {}, resending its SYN",
            client.name(),
            st(TcpState::SynSent)
        ),
    ));
}

/// "after about 102 s (tcp_orphan_retries=0, 0 means 8)" for a probing
/// socket; for a retransmitting one both possible ends, with why when
/// `why` (the first time a text says it).
fn give_up_text(hosts: &Hosts, end: &End, knob: Knob, probe: bool, why: bool) -> String {
    let t = hosts.timers(end.host);
    let boundary = match knob {
        Knob::OrphanRetries => t.orphan_retries_effective(),
        _ => knob.value(t),
    }
    .clamp(0, 255) as u32;
    let mut name = hosts.knob_text(end.host, knob, end.peer_name());
    if knob == Knob::OrphanRetries {
        name.push_str(", 0 means 8");
    }
    match unacked_give_up(boundary, probe) {
        GiveUp {
            budget,
            early: Some(early),
            late,
        } if why => format!(
            "about {} after it was first sent, or one doubling later, about {}, if the kernel's timers ran less than 0.2 s late ({name}: a budget of {} counted from the first retransmission, which the doubling resends reach 0.2 s short)",
            duration(early),
            duration(late),
            duration(budget)
        ),
        GiveUp {
            early: Some(early),
            late,
            ..
        } => format!(
            "about {} or {} after it was first sent ({name})",
            duration(early),
            duration(late)
        ),
        GiveUp {
            early: None, late, ..
        } => format!("after about {} ({name})", duration(late)),
    }
}

/// The sender's FIN dropped: FIN_WAIT1 (closing first) or LAST_ACK
/// (closing second), with the probe timer when this host's own output
/// refuses it.
fn fin_lines(
    r: &FirewallRule,
    hosts: &Hosts,
    snd: &End,
    oth: &End,
    lines: &mut Vec<String>,
    timed: &mut bool,
) {
    let est = st(TcpState::Established);
    if r.action == Action::RejectReset {
        lines.push(format!(
            "when {} closes first, its FIN draws a RST: its socket is gone at once while {} stays {est} and never learns of the close (half-open)",
            snd.name(),
            oth.name()
        ));
        return;
    }
    *timed = true;
    let local = r.place == Place::Leaving;
    let orphan = give_up_text(hosts, snd, Knob::OrphanRetries, local, true);
    let budget = format!(
        "once its program has closed the socket it gives up {orphan}; a socket the program still holds (a half-close, as nc -N makes) gives up {}",
        give_up_text(hosts, snd, Knob::Retries2, local, false)
    );
    if local {
        lines.push(format!(
            "when {} closes first, its FIN is {}: it stays in {}, and as nothing is in flight the kernel runs its probe timer instead of retransmitting (netstat -o shows `probe', the retransmission count stays 0 and the probes are counted; each probe tries the FIN again and this rule counts it); {budget}; {} stays {est} and never learns of the close",
            snd.name(),
            lost(r),
            st(TcpState::FinWait1),
            oth.name()
        ));
    } else {
        lines.push(format!(
            "when {} closes first, its FIN is {}: {} stays in {} retransmitting it (netstat -o there shows `on' and the retransmission count climbs); {budget}; {} stays {est} and never learns of the close",
            snd.name(),
            lost(r),
            snd.peer_name(),
            st(TcpState::FinWait1),
            oth.name()
        ));
    }
    let orphan = give_up_text(hosts, snd, Knob::OrphanRetries, local, false);
    let fin_timeout = Knob::FinTimeout.value(hosts.timers(oth.host));
    lines.push(format!(
        "when {} closes second, it stays in {} {} and gives up {orphan}, while {} sits in {}: once its program has closed the socket that ends after {} ({}), otherwise it waits with no timer; if both close at once, {} appears",
        snd.name(),
        st(TcpState::LastAck),
        if local {
            "probing (its FIN never leaves)"
        } else {
            "retransmitting its FIN"
        },
        oth.name(),
        st(TcpState::FinWait2),
        duration(fin_timeout.max(0) as f64),
        hosts.knob_text(oth.host, Knob::FinTimeout, oth.peer_name()),
        st(TcpState::Closing)
    ));
}

/// The sender's pure ACKs dropped: the last ACK of a close and the
/// handshake's third segment are lost.
fn ack_lines(
    r: &FirewallRule,
    hosts: &Hosts,
    snd: &End,
    oth: &End,
    lines: &mut Vec<String>,
    timed: &mut bool,
) {
    *timed = true;
    lines.push(format!(
        "pure ACKs from {} are {}: when {} closes second, the last ACK of the close is lost, so {} stays in {} retransmitting its FIN and gives up {}, while {} sits in {}, answering each FIN again and restarting its {} s",
        snd.name(),
        verb(&r.action),
        oth.name(),
        oth.peer_name(),
        st(TcpState::LastAck),
        give_up_text(hosts, oth, Knob::OrphanRetries, false, true),
        snd.peer_name(),
        st(TcpState::TimeWait),
        TIME_WAIT_SECS
    ));
    if snd.role == Some(Sender::Client) {
        let retries = Knob::SynackRetries.value(hosts.timers(oth.host));
        let alone = synrecv_life(&[0], retries, SynAckLoss::Wire);
        lines.push(format!(
            "a new connection's final handshake ACK is lost too: the client thinks {} while the server stays in {} resending its SYN|ACK ({} in all) and discards the request after about {} ({})",
            st(TcpState::Established),
            st(TcpState::SynRecv),
            alone.synacks,
            duration(alone.end() as f64),
            hosts.knob_text(oth.host, Knob::SynackRetries, "the server")
        ));
    }
}

/// Data segments dropped or reset.
fn data_lines(
    r: &FirewallRule,
    hosts: &Hosts,
    p: &str,
    snd: &End,
    oth: &End,
    lines: &mut Vec<String>,
    timed: &mut bool,
) {
    let s = r.segments();
    let est = st(TcpState::Established);
    let r2 = give_up_text(hosts, snd, Knob::Retries2, r.place == Place::Leaving, true);
    let resent = if r.place == Place::Leaving {
        "it never leaves, so the kernel probes (netstat -o shows `probe' here, not retransmissions)"
    } else {
        "it is retransmitted"
    };
    if s.data && !s.ack {
        if r.action == Action::RejectReset {
            lines.push(format!(
                "the first data segment {} sends draws a RST: its socket is gone at once (nc exits silently) while {} stays {est} (half-open)",
                snd.name(),
                oth.name()
            ));
        } else {
            *timed = true;
            lines.push(format!(
                "{}'s data is {}: {resent} and the connection gives up {r2}, {est} on both sides until then",
                snd.name(),
                verb(&r.action)
            ));
        }
    } else if s.data && s.ack && s.syn {
        if r.action == Action::RejectReset {
            lines.push(format!(
                "an established connection on {p} is reset by {}'s next segment: that socket is gone (\"Connection reset by peer\") while {} stays {est} (half-open)",
                snd.name(),
                oth.name()
            ));
        } else {
            *timed = true;
            lines.push(format!(
                "established connections on {p} stall as well: {}'s segments are {}: {resent} until the connection gives up {r2}",
                snd.name(),
                verb(&r.action)
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timing::{syn_send_times, TcpTimers};

    fn defaults() -> TcpTimers {
        TcpTimers {
            syn_retries: Some(6),
            syn_linear_timeouts: Some(4),
            synack_retries: Some(5),
            fin_timeout: Some(60),
            orphan_retries: Some(0),
            retries2: Some(15),
        }
    }

    fn hosts() -> Hosts {
        Hosts::same(defaults())
    }

    fn rule(chain: &str, sender: Sender, mask: u8, comp: u8, action: Action) -> FirewallRule {
        FirewallRule {
            place: Place::of_chain(chain),
            sender,
            port: Some(5555),
            protocol: Protocol::Tcp,
            flags: Some(TcpFlags {
                mask,
                comp,
                invert: false,
            }),
            action,
        }
    }

    const SYN: u8 = flag::SYN;
    const ACK: u8 = flag::ACK;
    const FIN: u8 = flag::FIN;
    const RST: u8 = flag::RST;
    const PSH: u8 = flag::PSH;

    fn syn_drop(chain: &str) -> FirewallRule {
        rule(chain, Sender::Client, SYN | ACK, SYN, Action::Drop)
    }

    fn synack_drop(chain: &str) -> FirewallRule {
        rule(chain, Sender::Server, SYN | ACK, SYN | ACK, Action::Drop)
    }

    #[test]
    fn article_syn_drop_on_the_client() {
        let l = explain(&syn_drop("OUTPUT"), &hosts());
        assert!(l[0].contains("stays in SYN_SENT"), "{l:?}");
        assert!(l[0].contains("the client (this host)"), "{l:?}");
        assert!(l[0].contains("dropped before it leaves this host"), "{l:?}");
        assert!(l[0].contains("11 SYNs in all"), "{l:?}");
        assert!(l[0].contains("the last 67 s after the first"), "{l:?}");
        assert!(l[0].contains("about 131 s (about 2 minutes)"), "{l:?}");
        assert!(
            l[0].contains("(tcp_syn_retries=6, tcp_syn_linear_timeouts=4)"),
            "{l:?}"
        );
        assert!(l[1].contains("stays in LISTEN"), "{l:?}");
        assert!(l.last().unwrap().contains("timers fire"), "{l:?}");
        assert_eq!(counted(&syn_drop("OUTPUT")), "SYNs");
        assert_eq!(
            predicted_count(&syn_drop("OUTPUT"), &hosts()),
            Some((11, "SYNs"))
        );
        // --syn and ALL SYN say the same.
        for (mask, comp) in [(SYN | RST | ACK | FIN, SYN), (0x3f, SYN)] {
            let r = rule("OUTPUT", Sender::Client, mask, comp, Action::Drop);
            assert_eq!(explain(&r, &hosts())[0], l[0]);
        }
    }

    #[test]
    fn one_figure_for_the_syn_budget() {
        // tcp_syn_retries=2 with 4 linear timeouts: 6 SYNs, 7 s, not "5 of 5".
        let t = TcpTimers {
            syn_retries: Some(2),
            ..defaults()
        };
        let l = explain(&syn_drop("OUTPUT"), &Hosts::same(t));
        let (syns, give_up) = syn_send_times(2, 4);
        assert!(
            l[0].contains(&format!("{} SYNs in all", syns.len())),
            "{l:?}"
        );
        assert!(
            l[0].contains(&format!("about {} after", duration(give_up as f64))),
            "{l:?}"
        );
        assert!(l[0].contains("6 SYNs in all") && l[0].contains("about 7.0 s"));
        assert!(l[0].contains("budget tcp_syn_retries allows"), "{l:?}");
    }

    #[test]
    fn syn_drop_on_the_server_uses_the_clients_settings() {
        // On the server (INPUT, --dport): the client is the peer.
        let h = Hosts::with_peer(defaults(), "tcp_syn_retries=2").unwrap();
        let l = explain(&syn_drop("INPUT"), &h);
        assert!(l[0].contains("dropped on arrival here"), "{l:?}");
        assert!(l[0].contains("6 SYNs in all"), "{l:?}");
        assert!(
            l[0].contains("the client's tcp_syn_retries=2 from RNET_PEER_SYSCTL"),
            "{l:?}"
        );
        assert_eq!(predicted_count(&syn_drop("INPUT"), &h), Some((6, "SYNs")));
        // Nothing given: the assumption is said.
        let l = explain(&syn_drop("INPUT"), &hosts());
        assert!(
            l[0].contains("if the client has them as this host does"),
            "{l:?}"
        );
    }

    #[test]
    fn synack_dropped_at_the_clients_input_lives_as_long_as_the_client_tries() {
        let r = synack_drop("INPUT");
        let l = explain(&r, &hosts());
        assert!(l[0].contains("stays in SYN_RECV for about 130 s"), "{l:?}");
        assert!(l[0].contains("not just the 63 s"), "{l:?}");
        assert!(l[0].contains("21 SYN|ACKs"), "{l:?}");
        assert!(l[0].contains("starts again at 0"), "{l:?}");
        assert!(
            l[0].contains("tcp_synack_retries=5 if the server has it as this host does"),
            "{l:?}"
        );
        // The client is this host: its own settings, unqualified.
        assert!(
            l[0].contains("the client's SYNs: tcp_syn_retries=6, tcp_syn_linear_timeouts=4)"),
            "{l:?}"
        );
        assert!(
            l[1].contains("the client (this host) stays in SYN_SENT"),
            "{l:?}"
        );
        assert!(l[1].contains("11 SYNs") && l[1].contains("131 s"), "{l:?}");
        assert_eq!(predicted_count(&r, &hosts()), Some((21, "SYN|ACKs")));
        // The server's retries given: its figure, said to be its.
        let h = Hosts::with_peer(defaults(), "tcp_synack_retries=1").unwrap();
        let (syns, _) = syn_send_times(6, 4);
        let life = synrecv_life(&syns, 1, SynAckLoss::Wire);
        let l = explain(&r, &h);
        assert!(
            l[0].contains(&format!("for about {}", duration(life.end() as f64))),
            "{l:?}"
        );
        assert!(
            l[0].contains(&format!("{} SYN|ACKs", life.synacks)),
            "{l:?}"
        );
        assert!(
            l[0].contains("the server's tcp_synack_retries=1 from RNET_PEER_SYSCTL"),
            "{l:?}"
        );
        // This host's own synack_retries are not used for the server.
        let mine = TcpTimers {
            synack_retries: Some(1),
            ..defaults()
        };
        let l = explain(&r, &Hosts::with_peer(mine, "tcp_synack_retries=5").unwrap());
        assert!(l[0].contains("about 130 s"), "{l:?}");
    }

    #[test]
    fn synack_dropped_by_the_servers_own_output_flickers() {
        let r = synack_drop("OUTPUT");
        let l = explain(&r, &hosts());
        assert!(l[0].contains("the server (this host)"), "{l:?}");
        assert!(l[0].contains("SYN_RECV row flickers"), "{l:?}");
        assert!(l[0].contains("22 SYN|ACK attempts"), "{l:?}");
        assert!(l[0].contains("until about 68 s"), "{l:?}");
        assert!(l[1].contains("Exercise 2 step (i)"), "{l:?}");
        assert!(l[1].contains("SYN-flood protection"), "{l:?}");
        assert!(
            l[2].contains("SYN_SENT") && l[2].contains("11 SYNs"),
            "{l:?}"
        );
        // The client is the peer here.
        assert!(
            l[2].contains("if the client has them as this host does"),
            "{l:?}"
        );
        let h =
            Hosts::with_peer(defaults(), "tcp_syn_retries=2,tcp_syn_linear_timeouts=1").unwrap();
        let l = explain(&r, &h);
        let (syns, give_up) = syn_send_times(2, 1);
        assert!(
            l[2].contains(&format!("{} SYNs in all", syns.len())),
            "{l:?}"
        );
        assert!(l[2].contains(&duration(give_up as f64)), "{l:?}");
        assert_eq!(counted(&r), "SYN|ACKs");
    }

    #[test]
    fn fin_dropped_locally_runs_the_probe_timer() {
        let r = rule("OUTPUT", Sender::Client, FIN, FIN, Action::Drop);
        let l = explain(&r, &hosts());
        assert!(
            l[0].contains("FIN_WAIT1") && l[0].contains("ESTABLISHED"),
            "{l:?}"
        );
        assert!(l[0].contains("probe timer"), "{l:?}");
        assert!(l[0].contains("retransmission count stays 0"), "{l:?}");
        assert!(l[0].contains("about 102 s (about 2 minutes)"), "{l:?}");
        assert!(l[0].contains("tcp_orphan_retries=0, 0 means 8"), "{l:?}");
        assert!(l[0].contains("about 925 s"), "{l:?}");
        assert!(!l[0].contains("retransmitting it"), "{l:?}");
        assert!(
            l[1].contains("LAST_ACK") && l[1].contains("CLOSING"),
            "{l:?}"
        );
        // FIN_WAIT2 is the server's, the peer's tcp_fin_timeout.
        let h = Hosts::with_peer(defaults(), "tcp_fin_timeout=5").unwrap();
        let l = explain(&r, &h);
        assert!(
            l[1].contains("5.0 s (the server's tcp_fin_timeout=5 from RNET_PEER_SYSCTL)"),
            "{l:?}"
        );
        assert!(l.last().unwrap().contains("late"), "{l:?}");
    }

    #[test]
    fn fin_dropped_at_input_is_retransmitted_by_the_peer_with_its_settings() {
        // On the server, the client's FIN dropped on arrival.
        let r = rule("INPUT", Sender::Client, FIN, FIN, Action::Drop);
        let h = Hosts::with_peer(defaults(), "tcp_orphan_retries=2").unwrap();
        let l = explain(&r, &h);
        assert!(l[0].contains("dropped on arrival here"), "{l:?}");
        assert!(l[0].contains("`on'") && !l[0].contains("probe"), "{l:?}");
        // Measured: gone 3.33 s after the FIN (one doubling past the 1.4 s budget).
        assert!(
            l[0].contains(
                "about 1.6 s after it was first sent, or one doubling later, about 3.2 s"
            ),
            "{l:?}"
        );
        assert!(
            l[0].contains("the client's tcp_orphan_retries=2 from RNET_PEER_SYSCTL"),
            "{l:?}"
        );
        assert!(
            l[0].contains("the server (this host) stays ESTABLISHED"),
            "{l:?}"
        );
        // FIN_WAIT2 here: this host's tcp_fin_timeout, unqualified.
        assert!(l[1].contains("60 s (tcp_fin_timeout=60)"), "{l:?}");
    }

    #[test]
    fn last_ack_of_a_close_dropped() {
        let r = rule(
            "OUTPUT",
            Sender::Client,
            SYN | ACK | FIN | RST,
            ACK,
            Action::Drop,
        );
        let l = explain(&r, &hosts());
        assert!(
            l[0].contains("LAST_ACK") && l[0].contains("TIME_WAIT"),
            "{l:?}"
        );
        assert!(l[0].contains("restarting its 60 s"), "{l:?}");
        assert!(
            l[0].contains("if the server has it as this host does"),
            "{l:?}"
        );
        assert!(l[1].contains("SYN_RECV") && l[1].contains("63 s"), "{l:?}");
        assert!(l[1].contains("6 in all"), "{l:?}");
        assert_eq!(counted(&r), "ACKs");
    }

    #[test]
    fn rejects_and_whole_port_rules() {
        let mut r = rule("INPUT", Sender::Client, 0, 0, Action::RejectReset);
        r.flags = None;
        let l = explain(&r, &hosts());
        assert!(l[0].contains("Connection refused"), "{l:?}");
        let psh = rule("INPUT", Sender::Client, PSH, PSH, Action::RejectReset);
        assert!(explain(&psh, &hosts())[0].contains("half-open"));
        let mut all = rule("INPUT", Sender::Client, 0, 0, Action::Drop);
        all.flags = None;
        let l = explain(&all, &hosts());
        assert!(l[0].contains("SYN_SENT"), "{l:?}");
        assert!(l.iter().any(|x| x.contains("stall")), "{l:?}");
        assert_eq!(counted(&all), "packets");
        let mut udp = all.clone();
        udp.protocol = Protocol::Other("-p udp".into());
        assert!(explain(&udp, &hosts())[0].contains("does not match TCP (-p udp)"));
        let none = rule("OUTPUT", Sender::Client, SYN, SYN | FIN, Action::Drop);
        assert!(explain(&none, &hosts())[0].starts_with("matches nothing"));
        let acc = rule("OUTPUT", Sender::Client, SYN | ACK, SYN, Action::Accept);
        assert!(explain(&acc, &hosts())[0].starts_with("accepts SYNs leaving"));
        let mut noport = syn_drop("OUTPUT");
        noport.sender = Sender::Unknown;
        noport.port = None;
        let l = explain(&noport, &hosts());
        assert!(l[0].contains("to any port stays in SYN_SENT"), "{l:?}");
    }

    #[test]
    fn counter_lines_quote_the_explanations_figure() {
        let r = syn_drop("OUTPUT");
        let line = counter_line("OUTPUT", 1, true, 2, &r, &hosts());
        assert!(
            line.starts_with(
                "OUTPUT rule 1 (added by rfw): 2 SYNs dropped so far, 11 per connection attempt; "
            ),
            "{line}"
        );
        assert!(line.contains("11 SYNs in all"), "{line}");
        let line = counter_line("OUTPUT", 1, false, 1, &r, &hosts());
        assert!(
            line.starts_with("OUTPUT rule 1: 1 SYN dropped so far"),
            "{line}"
        );
        let r = synack_drop("INPUT");
        let line = counter_line("INPUT", 3, false, 4, &r, &hosts());
        assert!(
            line.starts_with("INPUT rule 3: 4 SYN|ACKs dropped so far, 21 per connection attempt;"),
            "{line}"
        );
        assert!(line.contains("21 SYN|ACKs in all"), "{line}");
        let fin = rule("OUTPUT", Sender::Client, FIN, FIN, Action::Drop);
        assert!(counter_line("OUTPUT", 2, false, 1, &fin, &hosts())
            .contains(": 1 FIN dropped so far; when"));
    }
}
