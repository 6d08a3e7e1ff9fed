//! `netstat -s`: the kernel's SNMP counters from `/proc/net/snmp`,
//! `/proc/net/netstat` (and `/proc/net/sctp/snmp` when SCTP is loaded),
//! or with `-6` from `/proc/net/snmp6`, laid out as net-tools 2.10 does.
//!
//! net-tools looks each counter up with `bsearch` in tables that are not
//! all sorted in `strcmp` order, so some counters it has a sentence for
//! are not found and come out as `Name: value` (or not at all when zero).
//! [`bsearch`] repeats the C library's search step for step, so the same
//! counters are found and missed. A counter net-tools has no sentence for
//! is printed as `Name: value` when not zero, indented as the line before
//! it; a section net-tools does not know is printed with its title.

use crate::cli::Options;
use crate::error::{Error, ExitStatus};
use rnet_core::os::strerror_text;
use rnet_core::procnet::LineReader;
use std::io::{self, Write};
use std::path::Path;

/// How a counter is printed (net-tools' `enum State`); the indent and the
/// histogram title belong to the kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Always printed.
    Number,
    /// Printed when not zero.
    OptNumber,
    /// IP forwarding (a static setting: never printed by `-s`).
    Forward,
    /// A line of the ICMP input histogram (when not zero).
    InpIcmp,
    /// A line of the ICMP output histogram (when not zero).
    OutpIcmp,
    /// The RTO algorithm (a static setting: never printed).
    RtoAlg,
}

impl Kind {
    fn indent(self) -> usize {
        match self {
            Kind::InpIcmp | Kind::OutpIcmp => 8,
            _ => 4,
        }
    }

    fn title(self) -> &'static str {
        match self {
            Kind::InpIcmp => "ICMP input histogram:",
            Kind::OutpIcmp => "ICMP output histogram:",
            _ => "",
        }
    }
}

/// One counter net-tools has a sentence for: its name, the sentence
/// (`{}` stands for the value; empty: never printed), how it prints,
/// whether it is a static setting, whether it opens a histogram.
struct Entry {
    name: &'static str,
    text: &'static str,
    kind: Kind,
    is_static: bool,
    titled: bool,
}

const fn e(name: &'static str, text: &'static str, kind: Kind) -> Entry {
    Entry {
        name,
        text,
        kind,
        is_static: false,
        titled: false,
    }
}

const fn st(name: &'static str, text: &'static str, kind: Kind) -> Entry {
    Entry {
        name,
        text,
        kind,
        is_static: true,
        titled: false,
    }
}

const fn h(name: &'static str, text: &'static str, kind: Kind) -> Entry {
    Entry {
        name,
        text,
        kind,
        is_static: false,
        titled: true,
    }
}

use Kind::{Forward, InpIcmp, Number, OptNumber, OutpIcmp, RtoAlg};

// The tables below are in net-tools' order (which is what its binary
// search sees), with its sentences: the output must be the same bytes.

const IP: &[Entry] = &[
    st("DefaultTTL", "Default TTL is {}", Number),
    st("Forwarding", "Forwarding is {}", Forward),
    e("ForwDatagrams", "{} forwarded", Number),
    e("FragCreates", "{} fragments created", OptNumber),
    e(
        "FragFails",
        "{} outgoing packets failed fragmentation",
        OptNumber,
    ),
    e("FragOKs", "{} outgoing packets fragmented ok", OptNumber),
    e("InAddrErrors", "{} with invalid addresses", OptNumber),
    e("InDelivers", "{} incoming packets delivered", Number),
    e("InDiscards", "{} incoming packets discarded", Number),
    e("InHdrErrors", "{} with invalid headers", OptNumber),
    e("InReceives", "{} total packets received", Number),
    e("InUnknownProtos", "{} with unknown protocol", OptNumber),
    e("OutDiscards", "{} outgoing packets dropped", OptNumber),
    e(
        "OutNoRoutes",
        "{} dropped because of missing route",
        OptNumber,
    ),
    e("OutRequests", "{} requests sent out", Number),
    e("ReasmFails", "{} packet reassemblies failed", OptNumber),
    e("ReasmOKs", "{} packets reassembled ok", OptNumber),
    e("ReasmReqds", "{} reassemblies required", OptNumber),
    e(
        "ReasmTimeout",
        "{} fragments dropped after timeout",
        OptNumber,
    ),
];

const IP6: &[Entry] = &[
    e("Ip6FragCreates", "{} fragments created", OptNumber),
    e(
        "Ip6FragFails",
        "{} outgoing packets failed fragmentation",
        OptNumber,
    ),
    e("Ip6FragOKs", "{} outgoing packets fragmented ok", OptNumber),
    e("Ip6InAddrErrors", "{} with invalid addresses", OptNumber),
    e("Ip6InDelivers", "{} incoming packets delivered", Number),
    e("Ip6InDiscards", "{} incoming packets discarded", Number),
    e("Ip6InHdrErrors", "{} with invalid headers", OptNumber),
    e("Ip6InMcastPkts", "{} incoming multicast packets", OptNumber),
    e(
        "Ip6InNoRoutes",
        "{} incoming packets with no route",
        OptNumber,
    ),
    e("Ip6InReceives", "{} total packets received", Number),
    e("Ip6InTooBigErrors", "{} with packets too big", OptNumber),
    e("Ip6InTruncatedPkts", "{} with truncated packets", OptNumber),
    e("Ip6InUnknownProtos", "{} with unknown protocol", OptNumber),
    e("Ip6OutDiscards", "{} outgoing packets dropped", OptNumber),
    e("Ip6OutForwDatagrams", "{} forwarded", Number),
    e(
        "Ip6OutMcastPkts",
        "{} outgoing multicast packets",
        OptNumber,
    ),
    e(
        "Ip6OutNoRoutes",
        "{} dropped because of missing route",
        OptNumber,
    ),
    e("Ip6OutRequests", "{} requests sent out", Number),
    e("Ip6ReasmFails", "{} packet reassemblies failed", OptNumber),
    e("Ip6ReasmOKs", "{} packets reassembled ok", OptNumber),
    e("Ip6ReasmReqds", "{} reassemblies required", OptNumber),
    e(
        "Ip6ReasmTimeout",
        "{} fragments dropped after timeout",
        OptNumber,
    ),
];

const ICMP: &[Entry] = &[
    h("InAddrMaskReps", "address mask replies: {}", InpIcmp),
    h("InAddrMasks", "address mask request: {}", InpIcmp),
    h("InDestUnreachs", "destination unreachable: {}", InpIcmp),
    h("InEchoReps", "echo replies: {}", InpIcmp),
    h("InEchos", "echo requests: {}", InpIcmp),
    e("InErrors", "{} input ICMP message failed", Number),
    e("InMsgs", "{} ICMP messages received", Number),
    h("InParmProbs", "wrong parameters: {}", InpIcmp),
    h("InRedirects", "redirects: {}", InpIcmp),
    h("InSrcQuenchs", "source quenches: {}", InpIcmp),
    h("InTimeExcds", "timeout in transit: {}", InpIcmp),
    h("InTimestampReps", "timestamp reply: {}", InpIcmp),
    h("InTimestamps", "timestamp request: {}", InpIcmp),
    h("OutAddrMaskReps", "address mask replies: {}", OutpIcmp),
    h("OutAddrMasks", "address mask requests: {}", OutpIcmp),
    h("OutDestUnreachs", "destination unreachable: {}", OutpIcmp),
    h("OutEchoReps", "echo replies: {}", OutpIcmp),
    h("OutEchos", "echo requests: {}", OutpIcmp),
    e("OutErrors", "{} ICMP messages failed", Number),
    e("OutMsgs", "{} ICMP messages sent", Number),
    h("OutParmProbs", "wrong parameters: {}", OutpIcmp),
    h("OutRedirects", "redirect: {}", OutpIcmp),
    h("OutSrcQuenchs", "source quench: {}", OutpIcmp),
    h("OutTimeExcds", "time exceeded: {}", OutpIcmp),
    h("OutTimestampReps", "timestamp replies: {}", OutpIcmp),
    h("OutTimestamps", "timestamp requests: {}", OutpIcmp),
];

const ICMP6: &[Entry] = &[
    h(
        "Icmp6InDestUnreachs",
        "destination unreachable: {}",
        InpIcmp,
    ),
    h("Icmp6InEchoReplies", "echo replies: {}", InpIcmp),
    h("Icmp6InEchos", "echo requests: {}", InpIcmp),
    e("Icmp6InErrors", "{} input ICMP message failed", Number),
    h(
        "Icmp6InGroupMembQueries",
        "group member queries: {}",
        InpIcmp,
    ),
    h(
        "Icmp6InGroupMembReductions",
        "group member reductions: {}",
        InpIcmp,
    ),
    h(
        "Icmp6InGroupMembResponses",
        "group member responses: {}",
        InpIcmp,
    ),
    e("Icmp6InMsgs", "{} ICMP messages received", Number),
    h(
        "Icmp6InNeighborAdvertisements",
        "neighbour advertisement: {}",
        InpIcmp,
    ),
    h("Icmp6InNeighborSolicits", "neighbour solicits: {}", InpIcmp),
    h("Icmp6InParmProblems", "parameter problem: {}", InpIcmp),
    h("Icmp6InPktTooBigs", "packets too big: {}", InpIcmp),
    h("Icmp6InRedirects", "redirects: {}", InpIcmp),
    h(
        "Icmp6InRouterAdvertisements",
        "router advertisement: {}",
        InpIcmp,
    ),
    h("Icmp6InRouterSolicits", "router solicits: {}", InpIcmp),
    h(
        "Icmp6InTimeExcds",
        "received ICMPv6 time exceeded: {}",
        InpIcmp,
    ),
    h(
        "Icmp6OutDestUnreachs",
        "destination unreachable: {}",
        OutpIcmp,
    ),
    h("Icmp6OutEchoReplies", "echo replies: {}", OutpIcmp),
    h("Icmp6OutEchos", "echo requests: {}", OutpIcmp),
    h(
        "Icmp6OutGroupMembQueries",
        "group member queries: {}",
        OutpIcmp,
    ),
    h(
        "Icmp6OutGroupMembReductions",
        "group member reductions: {}",
        OutpIcmp,
    ),
    h(
        "Icmp6OutGroupMembResponses",
        "group member responses: {}",
        OutpIcmp,
    ),
    e("Icmp6OutMsgs", "{} ICMP messages sent", Number),
    h(
        "Icmp6OutNeighborAdvertisements",
        "neighbor advertisements: {}",
        OutpIcmp,
    ),
    h(
        "Icmp6OutNeighborSolicits",
        "neighbor solicits: {}",
        OutpIcmp,
    ),
    h("Icmp6OutParmProblems", "parameter problem: {}", OutpIcmp),
    h("Icmp6OutPktTooBigs", "packets too big: {}", OutpIcmp),
    h("Icmp6OutRedirects", "redirects: {}", OutpIcmp),
    // net-tools' name has a trailing space: it never matches a counter.
    h(
        "Icmp6OutRouterAdvertisements ",
        "router advertisement: {}",
        OutpIcmp,
    ),
    h("Icmp6OutRouterSolicits", "router solicits: {}", OutpIcmp),
    h(
        "Icmp6OutTimeExcds",
        "sent ICMPv6 time exceeded: {}",
        OutpIcmp,
    ),
];

const TCP: &[Entry] = &[
    e("ActiveOpens", "{} active connection openings", Number),
    e("AttemptFails", "{} failed connection attempts", Number),
    e("CurrEstab", "{} connections established", Number),
    e("EstabResets", "{} connection resets received", Number),
    e("InErrs", "{} bad segments received", Number),
    e("InSegs", "{} segments received", Number),
    e("MaxConn", "", Number),
    e("OutRsts", "{} resets sent", Number),
    e("OutSegs", "{} segments sent out", Number),
    e("PassiveOpens", "{} passive connection openings", Number),
    e("RetransSegs", "{} segments retransmitted", Number),
    st("RtoAlgorithm", "RTO algorithm is {}", RtoAlg),
    e("RtoMax", "", Number),
    e("RtoMin", "", Number),
];

const UDP: &[Entry] = &[
    e("InDatagrams", "{} packets received", Number),
    e("InErrors", "{} packet receive errors", Number),
    e("NoPorts", "{} packets to unknown port received", Number),
    e("OutDatagrams", "{} packets sent", Number),
    e("RcvbufErrors", "{} receive buffer errors", Number),
    e("SndbufErrors", "{} send buffer errors", Number),
];

const UDP6: &[Entry] = &[
    e("Udp6InDatagrams", "{} packets received", Number),
    e("Udp6InErrors", "{} packet receive errors", Number),
    e("Udp6NoPorts", "{} packets to unknown port received", Number),
    e("Udp6OutDatagrams", "{} packets sent", Number),
];

const TCP_EXT: &[Entry] = &[
    e(
        "DelayedACKLocked",
        "{} delayed acks further delayed because of locked socket",
        OptNumber,
    ),
    e(
        "DelayedACKLost",
        "Quick ack mode was activated {} times",
        OptNumber,
    ),
    e("DelayedACKs", "{} delayed acks sent", OptNumber),
    e(
        "EmbryonicRsts",
        "{} resets received for embryonic SYN_RECV sockets",
        OptNumber,
    ),
    e(
        "ListenDrops",
        "{} SYNs to LISTEN sockets dropped",
        OptNumber,
    ),
    e(
        "ListenOverflows",
        "{} times the listen queue of a socket overflowed",
        OptNumber,
    ),
    e(
        "LockDroppedIcmps",
        "{} ICMP packets dropped because socket was locked",
        OptNumber,
    ),
    e(
        "OfoPruned",
        "{} packets dropped from out-of-order queue because of socket buffer overrun",
        OptNumber,
    ),
    e(
        "OutOfWindowIcmps",
        "{} ICMP packets dropped because they were out-of-window",
        OptNumber,
    ),
    e(
        "PAWSActive",
        "{} active connections rejected because of time stamp",
        OptNumber,
    ),
    e(
        "PAWSEstab",
        "{} packets rejected in established connections because of timestamp",
        OptNumber,
    ),
    e(
        "PAWSPassive",
        "{} passive connections rejected because of time stamp",
        OptNumber,
    ),
    e(
        "PruneCalled",
        "{} packets pruned from receive queue because of socket buffer overrun",
        OptNumber,
    ),
    e(
        "RcvPruned",
        "{} packets pruned from receive queue",
        OptNumber,
    ),
    e(
        "SockMallocOOM",
        "Ran {} times out of system memory during packet sending",
        OptNumber,
    ),
    e(
        "SyncookiesFailed",
        "{} invalid SYN cookies received",
        OptNumber,
    ),
    e("SyncookiesRecv", "{} SYN cookies received", OptNumber),
    e("SyncookiesSent", "{} SYN cookies sent", OptNumber),
    e(
        "TCPAbortFailed",
        "{} times unable to send RST due to no memory",
        OptNumber,
    ),
    e(
        "TCPAbortOnClose",
        "{} connections reset due to early user close",
        OptNumber,
    ),
    e(
        "TCPAbortOnData",
        "{} connections reset due to unexpected data",
        OptNumber,
    ),
    e(
        "TCPAbortOnLinger",
        "{} connections aborted after user close in linger timeout",
        OptNumber,
    ),
    e(
        "TCPAbortOnMemory",
        "{} connections aborted due to memory pressure",
        OptNumber,
    ),
    e(
        "TCPAbortOnSyn",
        "{} connections reset due to unexpected SYN",
        OptNumber,
    ),
    e(
        "TCPAbortOnTimeout",
        "{} connections aborted due to timeout",
        OptNumber,
    ),
    e(
        "TCPDirectCopyFromBacklog",
        "{} bytes directly in process context from backlog",
        OptNumber,
    ),
    e(
        "TCPDirectCopyFromPrequeue",
        "{} bytes directly received in process context from prequeue",
        OptNumber,
    ),
    e(
        "TCPDSACKOfoRecv",
        "{} DSACKs for out of order packets received",
        OptNumber,
    ),
    e(
        "TCPDSACKOfoSent",
        "{} DSACKs sent for out of order packets",
        OptNumber,
    ),
    e(
        "TCPDSACKOldSent",
        "{} DSACKs sent for old packets",
        OptNumber,
    ),
    e("TCPDSACKRecv", "{} DSACKs received", OptNumber),
    e(
        "TCPDSackUndo",
        "{} congestion window recovered without slow start using DSACK",
        OptNumber,
    ),
    e(
        "TCPDSACKUndo",
        "{} congestion windows recovered without slow start by DSACK",
        OptNumber,
    ),
    e(
        "TCPFACKReorder",
        "Detected reordering {} times using FACK",
        OptNumber,
    ),
    e("TCPFastRetrans", "{} fast retransmits", OptNumber),
    e("TCPForwardRetrans", "{} forward retransmits", OptNumber),
    e(
        "TCPFullUndo",
        "{} congestion windows fully recovered without slow start",
        OptNumber,
    ),
    e("TCPHPAcks", "{} predicted acknowledgments", OptNumber),
    e("TCPHPHits", "{} packet headers predicted", Number),
    e(
        "TCPHPHitsToUser",
        "{} packet headers predicted and directly queued to user",
        OptNumber,
    ),
    e("TCPLossFailures", "{} timeouts in loss state", OptNumber),
    e("TCPLoss", "{} TCP data loss events", OptNumber),
    e(
        "TCPLossUndo",
        "{} congestion windows recovered without slow start after partial ack",
        OptNumber,
    ),
    e("TCPLostRetransmits", "{} retransmits lost", OptNumber),
    e(
        "TCPMemoryPressures",
        "TCP ran low on memory {} times",
        OptNumber,
    ),
    e(
        "TCPPartialUndo",
        "{} congestion windows partially recovered using Hoe heuristic",
        OptNumber,
    ),
    e(
        "TCPPrequeued",
        "{} packets directly queued to recvmsg prequeue",
        OptNumber,
    ),
    e(
        "TCPPrequeueDropped",
        "{} packets dropped from prequeue",
        OptNumber,
    ),
    e(
        "TCPPureAcks",
        "{} acknowledgments not containing data payload received",
        OptNumber,
    ),
    e(
        "TCPRcvCollapsed",
        "{} packets collapsed in receive queue due to low socket buffer",
        OptNumber,
    ),
    e(
        "TCPRenoFailures",
        "{} timeouts after reno fast retransmit",
        OptNumber,
    ),
    e(
        "TCPRenoRecoveryFailed",
        "{} reno fast retransmits failed",
        OptNumber,
    ),
    e(
        "TCPRenoRecoveryFail",
        "{} classic Reno fast retransmits failed",
        OptNumber,
    ),
    e(
        "TCPRenoRecovery",
        "{} times recovered from packet loss due to fast retransmit",
        OptNumber,
    ),
    e(
        "TCPRenoReorder",
        "Detected reordering {} times using reno fast retransmit",
        OptNumber,
    ),
    e(
        "TCPSackFailures",
        "{} timeouts after SACK recovery",
        OptNumber,
    ),
    e(
        "TCPSackRecoveryFail",
        "{} SACK retransmits failed",
        OptNumber,
    ),
    e(
        "TCPSackRecovery",
        "{} times recovered from packet loss by selective acknowledgements",
        OptNumber,
    ),
    e("TCPSACKReneging", "{} bad SACK blocks received", OptNumber),
    e(
        "TCPSACKReorder",
        "Detected reordering {} times using SACK",
        OptNumber,
    ),
    e(
        "TCPSchedulerFailed",
        "{} times receiver scheduled too late for direct processing",
        OptNumber,
    ),
    e(
        "TCPSlowStartRetrans",
        "{} retransmits in slow start",
        OptNumber,
    ),
    e("TCPTimeouts", "{} other TCP timeouts", OptNumber),
    e(
        "TCPTSReorder",
        "Detected reordering {} times using time stamp",
        OptNumber,
    ),
    e(
        "TWKilled",
        "{} TCP sockets finished time wait in slow timer",
        OptNumber,
    ),
    e(
        "TW",
        "{} TCP sockets finished time wait in fast timer",
        OptNumber,
    ),
    e(
        "TWRecycled",
        "{} time wait sockets recycled by time stamp",
        OptNumber,
    ),
];

const SCTP: &[Entry] = &[
    e("SctpAborteds", "{} Number of Aborteds ", Number),
    e("SctpActiveEstabs", "{} Active Associations", Number),
    e(
        "SctpChecksumErrors",
        "{} Number of Packets with invalid Checksum",
        Number,
    ),
    e("SctpCurrEstab", "{} Current Associations", Number),
    e(
        "SctpFragUsrMsgs",
        "{} Number of messages fragmented",
        Number,
    ),
    e(
        "SctpInCtrlChunks",
        "{} Number of control chunks received",
        Number,
    ),
    e(
        "SctpInOrderChunks",
        "{} Number of ordered chunks received",
        Number,
    ),
    e(
        "SctpInSCTPPacks",
        "{} Number of SCTP packets received",
        Number,
    ),
    e(
        "SctpInUnorderChunks",
        "{} Number of Unordered chunks received",
        Number,
    ),
    e(
        "SctpOutCtrlChunks",
        "{} Number of control chunks sent",
        Number,
    ),
    e("SctpOutOfBlues", "{} Number of Out of Blue packets", Number),
    e(
        "SctpOutOrderChunks",
        "{} Number of ordered chunks sent",
        Number,
    ),
    e("SctpOutSCTPPacks", "{} Number of SCTP packets sent", Number),
    e(
        "SctpOutUnorderChunks",
        "{} Number of Unordered chunks sent",
        Number,
    ),
    e("SctpPassiveEstabs", "{} Passive Associations", Number),
    e(
        "SctpReasmUsrMsgs",
        "{} Number of messages reassembled ",
        Number,
    ),
    e(
        "SctpShutdowns",
        "{} Number of Graceful Terminations",
        Number,
    ),
];

/// Which selection flag turns a section on.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Sel {
    Raw,
    Tcp,
    Udp,
    Sctp,
    /// Sections net-tools does not know: always on.
    Unknown,
}

struct Section {
    title: &'static str,
    table: &'static [Entry],
    sel: Sel,
}

const SNMP_SECTIONS: &[Section] = &[
    Section {
        title: "Ip",
        table: IP,
        sel: Sel::Raw,
    },
    Section {
        title: "Icmp",
        table: ICMP,
        sel: Sel::Raw,
    },
    Section {
        title: "Tcp",
        table: TCP,
        sel: Sel::Tcp,
    },
    Section {
        title: "Udp",
        table: UDP,
        sel: Sel::Udp,
    },
    Section {
        title: "Sctp",
        table: SCTP,
        sel: Sel::Sctp,
    },
    Section {
        title: "TcpExt",
        table: TCP_EXT,
        sel: Sel::Tcp,
    },
];

const SNMP6_SECTIONS: &[Section] = &[
    Section {
        title: "Ip6",
        table: IP6,
        sel: Sel::Raw,
    },
    Section {
        title: "Icmp6",
        table: ICMP6,
        sel: Sel::Raw,
    },
    Section {
        title: "Udp6",
        table: UDP6,
        sel: Sel::Udp,
    },
    Section {
        title: "Tcp6",
        table: TCP,
        sel: Sel::Tcp,
    },
];

/// glibc's `bsearch` with `strcmp`, step for step: on a table that is not
/// sorted it misses the same names.
fn bsearch<'a>(table: &'a [Entry], key: &[u8]) -> Option<&'a Entry> {
    let (mut l, mut u) = (0usize, table.len());
    while l < u {
        let idx = (l + u) / 2;
        match key.cmp(table[idx].name.as_bytes()) {
            std::cmp::Ordering::Less => u = idx,
            std::cmp::Ordering::Greater => l = idx + 1,
            std::cmp::Ordering::Equal => return Some(&table[idx]),
        }
    }
    None
}

/// C's `strtoull(s, &end, 10)`: leading white space, a sign, digits; the
/// value (saturated, negated modulo 2^64 after `-`) and the bytes used
/// (0 when there are no digits).
fn strtoull(s: &[u8]) -> (u64, usize) {
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        neg = s[i] == b'-';
        i += 1;
    }
    let start = i;
    let mut v: u64 = 0;
    let mut overflow = false;
    while i < s.len() && s[i].is_ascii_digit() {
        match v
            .checked_mul(10)
            .and_then(|x| x.checked_add(u64::from(s[i] - b'0')))
        {
            Some(x) => v = x,
            None => overflow = true,
        }
        i += 1;
    }
    if i == start {
        return (0, 0);
    }
    if overflow {
        return (u64::MAX, i);
    }
    (if neg { v.wrapping_neg() } else { v }, i)
}

/// The selection flags of `-s` (net-tools' `f_raw`, `f_tcp`, ...).
#[derive(Clone, Copy)]
struct Flags {
    raw: bool,
    tcp: bool,
    udp: bool,
    sctp: bool,
}

impl Flags {
    fn on(self, sel: Sel) -> bool {
        match sel {
            Sel::Raw => self.raw,
            Sel::Tcp => self.tcp,
            Sel::Udp => self.udp,
            Sel::Sctp => self.sctp,
            Sel::Unknown => true,
        }
    }
}

/// The section being printed: a known one (its table) or an unknown one.
#[derive(Clone, Copy)]
struct Current {
    table: &'static [Entry],
    on: bool,
}

/// The printer: net-tools' `state` (the kind of the last line printed)
/// carries from line to line and across unknown sections.
struct Printer<'w, W: Write> {
    out: &'w mut W,
    flags: Flags,
    state: Kind,
    /// `--explain`: annotate the TCP counters a learner needs.
    explain: bool,
}

impl<W: Write> Printer<'_, W> {
    /// Starts a section: prints its title when it is on.
    fn section(&mut self, tabs: &'static [Section], title: &[u8]) -> io::Result<Current> {
        if let Some(s) = tabs.iter().find(|s| s.title.as_bytes() == title) {
            let on = self.flags.on(s.sel);
            if on {
                self.out.write_all(title)?;
                self.out.write_all(b":\n")?;
            }
            self.state = Kind::Number;
            return Ok(Current { table: s.table, on });
        }
        // Unknown sections keep the state of the last line.
        self.out.write_all(title)?;
        self.out.write_all(b":\n")?;
        Ok(Current {
            table: &[],
            on: self.flags.on(Sel::Unknown),
        })
    }

    fn pad(&mut self, n: usize) -> io::Result<()> {
        write!(self.out, "{:n$}", "")
    }

    /// Ends a printed counter line, with its annotation under `--explain`
    /// (TCP sections only).
    fn end_line(&mut self, cur: Current, name: &[u8]) -> io::Result<()> {
        let tcp = std::ptr::eq(cur.table, TCP) || std::ptr::eq(cur.table, TCP_EXT);
        if self.explain && tcp {
            let text = std::str::from_utf8(name)
                .ok()
                .and_then(rnet_core::explain::counters::tcp_counter);
            if let Some(text) = text {
                write!(self.out, "  # {text}")?;
            }
        }
        self.out.write_all(b"\n")
    }

    /// One counter (net-tools' `printval`).
    fn value(&mut self, cur: Current, name: &[u8], val: u64) -> io::Result<Option<Kind>> {
        let Some(ent) = bsearch(cur.table, name) else {
            if val != 0 {
                self.pad(self.state.indent())?;
                self.out.write_all(name)?;
                write!(self.out, ": {val}")?;
                self.end_line(cur, name)?;
            }
            return Ok(None);
        };
        if ent.is_static || ent.text.is_empty() {
            return Ok(None);
        }
        let kind = ent.kind;
        if ent.titled && self.state != kind {
            self.pad(self.state.indent())?;
            writeln!(self.out, "{}", kind.title())?;
        }
        let show = match kind {
            Kind::OptNumber | Kind::InpIcmp | Kind::OutpIcmp => val != 0,
            Kind::Number => true,
            // Static settings returned above.
            Kind::Forward | Kind::RtoAlg => false,
        };
        if show {
            self.pad(kind.indent())?;
            let (a, b) = ent.text.split_once("{}").unwrap_or((ent.text, ""));
            write!(self.out, "{a}{val}{b}")?;
            self.end_line(cur, name)?;
        }
        self.state = kind;
        Ok(Some(kind))
    }
}

/// The part of a line C string functions see: up to the first NUL.
fn c_str(line: &[u8]) -> &[u8] {
    line.iter()
        .position(|b| *b == 0)
        .map_or(line, |n| &line[..n])
}

fn is_sep(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n')
}

/// The outcome of reading one file.
enum Read {
    Done,
    /// A pair of lines without a colon: netstat's "Problem while parsing".
    FormatError,
}

/// Reads a file of pairs of lines (`Title: names` / `Title: values`), as
/// net-tools' `process_fd`. With `filter`, only sections whose title
/// starts with it.
fn pairs<W: Write>(
    p: &mut Printer<'_, W>,
    path: &Path,
    reader: &mut LineReader<std::fs::File>,
    filter: Option<&[u8]>,
) -> Result<Read, Error> {
    loop {
        let names = match reader.next_line() {
            Ok(Some((l, _))) => c_str(l).to_vec(),
            Ok(None) => return Ok(Read::Done),
            Err(e) => {
                read_error(path, &e);
                return Ok(Read::Done);
            }
        };
        if names.is_empty() {
            continue;
        }
        let values = match reader.next_line() {
            Ok(Some((l, _))) => c_str(l).to_vec(),
            Ok(None) => return Ok(Read::Done),
            Err(e) => {
                read_error(path, &e);
                return Ok(Read::Done);
            }
        };
        let (Some(sc), Some(vc)) = (
            names.iter().position(|b| *b == b':'),
            values.iter().position(|b| *b == b':'),
        ) else {
            return Ok(Read::FormatError);
        };
        let title = &names[..sc];
        if let Some(f) = filter {
            if !title.starts_with(f) {
                continue;
            }
        }
        let cur = p.section(SNMP_SECTIONS, title)?;
        let mut np = &values[vc + 1..];
        for name in names[sc + 1..].split(|b| is_sep(*b)) {
            if name.is_empty() {
                continue;
            }
            let skip = np.iter().take_while(|b| is_sep(**b)).count();
            np = &np[skip..];
            let (val, used) = strtoull(np);
            np = &np[used..];
            if cur.on {
                p.value(cur, name, val)?;
            }
        }
    }
}

/// Reads `/proc/net/snmp6` (one `Name value` a line), as net-tools'
/// `process6_fd`: a section starts where the name no longer contains the
/// current section's title (the name up to its first `6`).
fn snmp6<W: Write>(
    p: &mut Printer<'_, W>,
    path: &Path,
    reader: &mut LineReader<std::fs::File>,
) -> Result<(), Error> {
    let mut name: Vec<u8> = Vec::new();
    let mut val: u64 = 0;
    let mut title: Option<Vec<u8>> = None;
    let mut cur = Current {
        table: &[],
        on: false,
    };
    loop {
        let line = match reader.next_line() {
            Ok(Some((l, _))) => c_str(l).to_vec(),
            Ok(None) => return Ok(()),
            Err(e) => {
                read_error(path, &e);
                return Ok(());
            }
        };
        // sscanf("%s %llu"): a line without a word keeps the last name
        // and value; a word without a number keeps the last value.
        let mut words = line
            .split(|b| b.is_ascii_whitespace() || *b == 0x0b)
            .filter(|w| !w.is_empty());
        if let Some(w) = words.next() {
            name = w.to_vec();
            let rest_at = line
                .windows(w.len())
                .position(|x| x == w)
                .map_or(line.len(), |i| i + w.len());
            let (v, used) = strtoull(&line[rest_at..]);
            if used > 0 {
                val = v;
            }
        }
        let new_title = |n: &[u8]| -> Vec<u8> {
            match n.iter().position(|b| *b == b'6') {
                Some(i) => n[..=i].to_vec(),
                None => n.to_vec(),
            }
        };
        let contains = |hay: &[u8], needle: &[u8]| {
            needle.is_empty() || hay.windows(needle.len()).any(|x| x == needle)
        };
        let change = match &title {
            None => true,
            Some(t) => !contains(&name, t),
        };
        if change {
            let t = new_title(&name);
            cur = p.section(SNMP6_SECTIONS, &t)?;
            title = Some(t);
        }
        if cur.on {
            p.value(cur, &name, val)?;
        }
    }
}

/// A read error or refusal in the middle of a file: one line on stderr.
fn read_error(path: &Path, e: &io::Error) {
    let text = strerror_text(e);
    eprintln!("rnetstat: {}: {text}", path.display());
}

/// Opens one `/proc` file; a missing one is `None` (the caller says what
/// netstat says), a refused one too, after one line on stderr.
fn open(path: &Path, quiet_missing: bool, what: &str) -> Option<LineReader<std::fs::File>> {
    match LineReader::open(path) {
        Ok(r) => Some(r),
        Err(e) => {
            if rnet_core::procnet::refusal(&e).is_some() {
                eprintln!("rnetstat: {}: {e}", path.display());
            } else if !quiet_missing {
                // perror(what)
                eprintln!("{what}: {}", strerror_text(&e));
            }
            None
        }
    }
}

/// `netstat -s`: prints the statistics of the family `-A`/`-4`/`-6`
/// named (IPv4 when none), limited to the protocols `-t`, `-u`, `-w`
/// (`--sctp`) name; another family is netstat's message and exit 1.
/// With `explain`, the TCP counters a learner needs (opens, failed
/// attempts, retransmissions, SYN retries) end with `  # ` and what they
/// count.
pub fn statistics<W: Write>(
    o: &Options,
    explain: bool,
    root: &Path,
    out: &mut W,
) -> Result<ExitStatus, Error> {
    let flags = Flags {
        raw: o.raw,
        tcp: o.tcp,
        udp: o.udp,
        sctp: o.sctp,
    };
    let af = if o.afname.is_empty() {
        "inet"
    } else {
        o.afname.as_str()
    };
    let mut p = Printer {
        out,
        flags,
        state: Kind::Number,
        explain,
    };
    let net = root.join("net");
    match af {
        "inet" => {
            let snmp = net.join("snmp");
            if let Some(mut r) = open(&snmp, false, "cannot open /proc/net/snmp") {
                if let Read::FormatError = pairs(&mut p, &snmp, &mut r, None)? {
                    p.out.flush()?;
                    eprintln!("Problem while parsing /proc/net/snmp");
                }
            } else {
                p.out.flush()?;
                return Ok(ExitStatus::Success);
            }
            let netstat = net.join("netstat");
            if let Some(mut r) = open(&netstat, true, "") {
                if let Read::FormatError = pairs(&mut p, &netstat, &mut r, None)? {
                    p.out.flush()?;
                    eprintln!("Problem while parsing /proc/net/netstat");
                }
            }
            let sctp = net.join("sctp").join("snmp");
            if let Some(mut r) = open(&sctp, true, "") {
                sctp_lines(&mut p, &sctp, &mut r)?;
            }
        }
        "inet6" => {
            let snmp6_path = net.join("snmp6");
            match open(&snmp6_path, false, "cannot open /proc/net/snmp6") {
                Some(mut r) => snmp6(&mut p, &snmp6_path, &mut r)?,
                None => {
                    p.out.flush()?;
                    return Ok(ExitStatus::Success);
                }
            }
            let snmp = net.join("snmp");
            match open(&snmp, false, "cannot open /proc/net/snmp") {
                Some(mut r) => {
                    // net-tools ignores a format error here.
                    let _ = pairs(&mut p, &snmp, &mut r, Some(b"Tcp"))?;
                }
                None => {
                    p.out.flush()?;
                    return Ok(ExitStatus::Success);
                }
            }
        }
        other => {
            writeln!(
                p.out,
                "netstat: No statistics support for specified address family: {other}"
            )?;
            p.out.flush()?;
            return Ok(ExitStatus::Failure);
        }
    }
    p.out.flush()?;
    Ok(ExitStatus::Success)
}

/// `/proc/net/sctp/snmp`: `Name value` lines under one `Sctp:` title, as
/// net-tools' `process_fd2`.
fn sctp_lines<W: Write>(
    p: &mut Printer<'_, W>,
    path: &Path,
    reader: &mut LineReader<std::fs::File>,
) -> Result<(), Error> {
    let cur = p.section(SNMP_SECTIONS, b"Sctp")?;
    loop {
        let line = match reader.next_line() {
            Ok(Some((l, _))) => c_str(l).to_vec(),
            Ok(None) => return Ok(()),
            Err(e) => {
                read_error(path, &e);
                return Ok(());
            }
        };
        let end = line.iter().position(|b| is_sep(*b)).unwrap_or(line.len());
        let name = &line[..end];
        let rest = if end < line.len() {
            &line[end + 1..]
        } else {
            &[][..]
        };
        let skip = rest.iter().take_while(|b| is_sep(**b)).count();
        let rest = &rest[skip..];
        if !rest.is_empty() && cur.on {
            // strtoul on a 64-bit system: the same as strtoull.
            p.value(cur, name, strtoull(rest).0)?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bsearch_misses_what_glibc_misses() {
        // Iptab is not in strcmp order around "Forwarding".
        assert!(bsearch(IP, b"Forwarding").is_none());
        assert!(bsearch(IP, b"InReceives").is_some());
        assert!(bsearch(TCP_EXT, b"TCPSackRecovery").is_none());
        assert!(bsearch(TCP_EXT, b"TW").is_some());
        assert!(bsearch(TCP, b"ActiveOpens").is_some());
    }

    #[test]
    fn strtoull_is_cs() {
        assert_eq!(strtoull(b" 12 3"), (12, 3));
        assert_eq!(strtoull(b"-1"), (u64::MAX, 2));
        assert_eq!(strtoull(b"x"), (0, 0));
        assert_eq!(strtoull(b"99999999999999999999999"), (u64::MAX, 23));
    }
}
