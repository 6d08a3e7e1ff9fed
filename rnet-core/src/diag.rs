//! The TCP and UDP socket tables over `NETLINK_SOCK_DIAG` (what `ss`
//! reads): one `SOCK_DIAG_BY_FAMILY` dump of an `inet_diag_req_v2` per
//! protocol and family, turned into the [`InetEntry`] values the `/proc`
//! parsers of [`crate::procnet`] give, in the order `/proc/net/tcp{,6}` and
//! `udp{,6}` list them (both walk the same kernel hash tables, listening
//! table first for TCP, bucket by bucket).
//!
//! Where a field matches `/proc` exactly and where it cannot is written
//! down field by field in docs/architecture.md ("sock_diag"); the callers
//! decide from that which listings may use this reader. In short: every
//! column of a non-listening TCP socket and of every UDP socket is the
//! same value `/proc` prints; a listener's `tx_queue` (`/proc`:
//! `write_seq - snd_una`, netlink: the backlog limit), a request socket's
//! `uid` (`/proc`: the listener's, netlink: 0) and `retrnsmt` (`/proc`:
//! `num_timeout`, netlink: `num_retrans`), the `sl` column of UDP (the hash
//! bucket) and the socket pointer are not.
//!
//! The state mask and the bytecode filter ([`Cond`]) run in the kernel,
//! so a filtered dump sends only the sockets that match.
//!
//! Parsing is bounded and panic-free on any input: every length is checked
//! before it is used, a malformed message ends the dump with an
//! `InvalidData` error, and a dump stops after [`MAX_DUMP_BYTES`] or
//! [`MAX_DUMP_TIME`]. The socket calls are the safe wrappers of the
//! crate's `sys` module.

use crate::addr::Family;
use crate::procnet::{InetEntry, Proto};
use crate::sys;
use crate::tcp_state::StateCode;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::time::{Duration, Instant};

/// `NETLINK_SOCK_DIAG` (`<linux/netlink.h>`).
const NETLINK_SOCK_DIAG: i32 = 4;
/// `SOCK_DIAG_BY_FAMILY` (`<linux/sock_diag.h>`).
const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// `TCPDIAG_GETSOCK` (`<linux/inet_diag.h>`): the first request type, still
/// served; the kernel runs it with the family unset, so one walk of its
/// tables answers for IPv4 and IPv6 alike.
const TCPDIAG_GETSOCK: u16 = 18;
const NLMSG_NOOP: u16 = 1;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300;
/// `struct nlmsghdr`.
const NLMSG_HDRLEN: usize = 16;
/// `struct inet_diag_req_v2`.
const REQ_LEN: usize = 56;
/// `struct inet_diag_req`, the request of [`TCPDIAG_GETSOCK`]: family,
/// the two prefix lengths and `idiag_ext`, the socket id, the state mask
/// and `idiag_dbs`.
const LEGACY_REQ_LEN: usize = 60;
/// `struct inet_diag_msg`.
const MSG_LEN: usize = 72;
/// `struct nlattr`.
const NLA_HDRLEN: usize = 4;
/// Request attribute: the filter program.
const INET_DIAG_REQ_BYTECODE: u16 = 1;
/// Reply attribute (and `idiag_ext` bit `1 << (INET_DIAG_INFO - 1)`):
/// `struct tcp_info`.
const INET_DIAG_INFO: u16 = 2;

/// `INET_DIAG_BC_*` operation codes (`<linux/inet_diag.h>`).
const BC_S_GE: u8 = 2;
const BC_S_LE: u8 = 3;
const BC_D_GE: u8 = 4;
const BC_D_LE: u8 = 5;
const BC_S_EQ: u8 = 11;
const BC_D_EQ: u8 = 12;

/// The most bytes taken from one dump: 256 MiB, as for a `/proc` table
/// (a dump costs about 80 bytes a socket, half a `/proc` line).
pub const MAX_DUMP_BYTES: u64 = 256 << 20;

/// The most time one dump may take, and the longest wait for one reply.
pub const MAX_DUMP_TIME: Duration = Duration::from_secs(30);

/// The receive buffer. The kernel sizes a dump's replies after the largest
/// receive buffer it has seen (`max_recvmsg_len`), capped at 32 KiB less
/// the skb's overhead, and never below its own minimum of a page or 8 KiB:
/// no reply is larger than this buffer. A larger one would only be memory
/// (each is zeroed, so touched, when allocated); a reply that did not fit
/// would still be caught (`MSG_TRUNC`) and end the dump with an error.
const RECV_BUF: usize = 32 * 1024;

/// TCP state numbers used here.
const TCP_SYN_RECV: u32 = 3;
const TCP_LISTEN: u32 = 10;
const TCP_NEW_SYN_RECV: u32 = 12;

/// Every TCP state (and the kernel's own NEW_SYN_RECV), the sockets
/// `/proc` lists; not the kernel's pseudo-state 13 (`TCP_BOUND_INACTIVE`,
/// bound sockets that neither listen nor connect, which `/proc` omits).
pub const ALL_STATES: u32 = (1 << 13) - 1;

/// The `LISTEN` bit of a state mask.
pub const LISTEN_BIT: u32 = 1 << TCP_LISTEN;

/// One condition of a kernel filter, on the local (`S`) or remote (`D`)
/// port, as [`bytecode`] compiles it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cond {
    /// Local port equals.
    SportEq(u16),
    /// Remote port equals.
    DportEq(u16),
    /// Local port at least.
    SportGe(u16),
    /// Local port at most.
    SportLe(u16),
    /// Remote port at least.
    DportGe(u16),
    /// Remote port at most.
    DportLe(u16),
}

impl Cond {
    fn code_port(self) -> (u8, u16) {
        match self {
            Cond::SportEq(p) => (BC_S_EQ, p),
            Cond::DportEq(p) => (BC_D_EQ, p),
            Cond::SportGe(p) => (BC_S_GE, p),
            Cond::SportLe(p) => (BC_S_LE, p),
            Cond::DportGe(p) => (BC_D_GE, p),
            Cond::DportLe(p) => (BC_D_LE, p),
        }
    }

    /// Whether a socket with these ports meets the condition (what the
    /// kernel's `inet_diag_bc_run` decides; used by the tests).
    pub fn holds(self, sport: u16, dport: u16) -> bool {
        match self {
            Cond::SportEq(p) => sport == p,
            Cond::DportEq(p) => dport == p,
            Cond::SportGe(p) => sport >= p,
            Cond::SportLe(p) => sport <= p,
            Cond::DportGe(p) => dport >= p,
            Cond::DportLe(p) => dport <= p,
        }
    }
}

/// Size of one compiled condition: the operation and the port operation.
const OP_LEN: usize = 8;
/// Size of a `JMP` operation.
const JMP_LEN: usize = 4;
/// `INET_DIAG_BC_JMP`.
const BC_JMP: u8 = 1;

/// Compiles a filter, an AND of clauses each an OR of conditions, into
/// `inet_diag` bytecode, in the shape `ss` builds and the kernel's
/// `inet_diag_bc_audit` accepts (it follows only the `yes` jumps, so every
/// operation must be on that chain): operations follow each other through
/// their `yes` jumps; a condition's `no` jump goes to the next condition of
/// its clause, over the `JMP` between them (whose own jump goes to the next
/// clause: the clause is true), or, for the last condition of a clause,
/// four bytes past the end: reject. Reaching the end exactly accepts.
/// `None` for an empty clause or a program longer than 4 KiB; no clauses
/// make an empty program (no attribute is sent).
pub fn bytecode(clauses: &[&[Cond]]) -> Option<Vec<u8>> {
    if clauses.iter().any(|c| c.is_empty()) {
        return None;
    }
    let clause_len = |k: usize| k * OP_LEN + (k - 1) * JMP_LEN;
    let total: usize = clauses.iter().map(|c| clause_len(c.len())).sum();
    if total > 4096 {
        return None;
    }
    let mut out = Vec::with_capacity(total);
    for clause in clauses {
        let clause_end = out.len() + clause_len(clause.len());
        for (j, cond) in clause.iter().enumerate() {
            let at = out.len();
            let last = j + 1 == clause.len();
            let no = if last {
                total + 4 - at
            } else {
                OP_LEN + JMP_LEN
            };
            let (code, port) = cond.code_port();
            out.push(code);
            out.push(OP_LEN as u8);
            out.extend_from_slice(&u16::try_from(no).ok()?.to_ne_bytes());
            // The second operation carries the port in its `no` field.
            out.extend_from_slice(&[0, 0]);
            out.extend_from_slice(&port.to_ne_bytes());
            if !last {
                // True: on to the next clause.
                let at = out.len();
                out.push(BC_JMP);
                out.push(JMP_LEN as u8);
                out.extend_from_slice(&u16::try_from(clause_end - at).ok()?.to_ne_bytes());
            }
        }
    }
    Some(out)
}

/// Runs bytecode as the kernel's `inet_diag_bc_run` does, for the
/// operations [`bytecode`] emits (the tests check the compiler against
/// [`Cond::holds`] with it). Bounded: a jump of 0 rejects, every other
/// jump moves forward.
pub fn run_bytecode(bc: &[u8], sport: u16, dport: u16) -> bool {
    let mut at = 0usize;
    let len = bc.len();
    while at < len {
        let Some(op) = bc.get(at..at + JMP_LEN) else {
            return false;
        };
        let yes_jump = usize::from(op[1]);
        let no_jump = usize::from(u16::from_ne_bytes([op[2], op[3]]));
        let yes = if op[0] == BC_JMP {
            false
        } else {
            let Some(op2) = bc.get(at + JMP_LEN..at + OP_LEN) else {
                return false;
            };
            let port = u16::from_ne_bytes([op2[2], op2[3]]);
            let cond = match op[0] {
                BC_S_EQ => Cond::SportEq(port),
                BC_D_EQ => Cond::DportEq(port),
                BC_S_GE => Cond::SportGe(port),
                BC_S_LE => Cond::SportLe(port),
                BC_D_GE => Cond::DportGe(port),
                BC_D_LE => Cond::DportLe(port),
                _ => return false,
            };
            cond.holds(sport, dport)
        };
        let jump = if yes { yes_jump } else { no_jump };
        if jump == 0 {
            return false;
        }
        at += jump;
    }
    at == len
}

/// The kernel's `valid_cc`: is `cc` bytes before the end reached by
/// following `yes` jumps from the start?
fn valid_cc(bc: &[u8], cc: usize) -> bool {
    let mut at = 0usize;
    loop {
        let len = bc.len().saturating_sub(at);
        if cc > len {
            return false;
        }
        if cc == len {
            return true;
        }
        let Some(&yes) = bc.get(at + 1) else {
            return false;
        };
        if yes < 4 || yes & 3 != 0 {
            return false;
        }
        at += usize::from(yes);
    }
}

/// What the kernel's `inet_diag_bc_audit` checks, for the operations
/// [`bytecode`] emits: the program the kernel would refuse with `EINVAL`
/// is `false` (the tests hold the compiler to it).
pub fn audit(bc: &[u8]) -> bool {
    let mut at = 0usize;
    while at < bc.len() {
        let len = bc.len() - at;
        let Some(op) = bc.get(at..at + JMP_LEN) else {
            return false;
        };
        let min_len = match op[0] {
            BC_JMP => JMP_LEN,
            BC_S_EQ | BC_D_EQ | BC_S_GE | BC_S_LE | BC_D_GE | BC_D_LE if len >= OP_LEN => OP_LEN,
            _ => return false,
        };
        let yes = usize::from(op[1]);
        let no = usize::from(u16::from_ne_bytes([op[2], op[3]]));
        if no < min_len || no > len + 4 || no & 3 != 0 {
            return false;
        }
        if no < len && !valid_cc(bc, len - no) {
            return false;
        }
        if yes < min_len || yes > len + 4 || yes & 3 != 0 {
            return false;
        }
        at += yes;
    }
    at == bc.len()
}

/// What to dump.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    /// [`Proto::Tcp`] or [`Proto::Udp`]; the others are refused
    /// (`EPROTONOSUPPORT`).
    pub proto: Proto,
    /// IPv4 (`/proc/net/tcp`) or IPv6 (`tcp6`) sockets.
    pub family: Family,
    /// TCP only: both families in one walk of the kernel's tables, IPv4
    /// and IPv6 entries interleaved in the walk's order (`family` is then
    /// only the name of errors). See [`OneWalk`], which puts them back in
    /// the order of the two `/proc` files.
    pub both: bool,
    /// Bit `1 << state` for each state kept, run by the kernel
    /// ([`ALL_STATES`]: every one). A request for `SYN_RECV` also keeps
    /// the kernel's `NEW_SYN_RECV` request sockets, which `/proc` shows as
    /// `SYN_RECV`.
    pub states: u32,
    /// Kernel filter from [`bytecode`] (empty: none).
    pub bytecode: Vec<u8>,
    /// Ask for `struct tcp_info` too (TCP only): the exact `retrnsmt` and
    /// `timeout` (probes) columns of full sockets, at the kernel's cost of
    /// filling it.
    pub info: bool,
    /// The `sl` number of the first entry (TCP numbers its lines from 0
    /// across the listening and the established table).
    pub first_slot: u64,
}

impl Query {
    /// Every socket of a protocol and family.
    pub fn all(proto: Proto, family: Family) -> Query {
        Query {
            proto,
            family,
            both: false,
            states: ALL_STATES,
            bytecode: Vec::new(),
            info: false,
            first_slot: 0,
        }
    }
}

/// The request: `nlmsghdr`, `inet_diag_req_v2`, and the bytecode
/// attribute when there is a filter.
pub fn request(q: &Query, seq: u32) -> io::Result<Vec<u8>> {
    let protocol = match q.proto {
        Proto::Tcp => libc::IPPROTO_TCP,
        Proto::Udp => libc::IPPROTO_UDP,
        Proto::UdpLite | Proto::Raw => {
            return Err(io::Error::from_raw_os_error(libc::EPROTONOSUPPORT))
        }
    };
    // Bit 13 (TCP_BOUND_INACTIVE) would add bound, unconnected sockets,
    // which /proc does not list: never asked for.
    let mut states = q.states & ALL_STATES;
    if states & (1 << TCP_SYN_RECV) != 0 {
        states |= 1 << TCP_NEW_SYN_RECV;
    }
    let attr_len = if q.bytecode.is_empty() {
        0
    } else {
        align4(NLA_HDRLEN + q.bytecode.len())
    };
    let legacy = q.both;
    if legacy && q.proto != Proto::Tcp {
        return Err(io::Error::from_raw_os_error(libc::EPROTONOSUPPORT));
    }
    let (kind, req_len) = if legacy {
        (TCPDIAG_GETSOCK, LEGACY_REQ_LEN)
    } else {
        (SOCK_DIAG_BY_FAMILY, REQ_LEN)
    };
    let len = NLMSG_HDRLEN + req_len + attr_len;
    let len32 = u32::try_from(len).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    let mut m = Vec::with_capacity(len);
    m.extend_from_slice(&len32.to_ne_bytes());
    m.extend_from_slice(&kind.to_ne_bytes());
    m.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    let ext = if q.info && q.proto == Proto::Tcp {
        1u8 << (INET_DIAG_INFO - 1)
    } else {
        0
    };
    if legacy {
        // inet_diag_req: the family is not read (the kernel sets it to
        // AF_UNSPEC), the protocol is the message type's; a zero socket
        // id, then the state mask and idiag_dbs.
        m.extend_from_slice(&[libc::AF_UNSPEC as u8, 0, 0, ext]);
        m.resize(NLMSG_HDRLEN + 4 + 48, 0);
        m.extend_from_slice(&states.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
    } else {
        // inet_diag_req_v2
        m.push(q.family.af() as u8);
        m.push(protocol as u8);
        m.push(ext);
        m.push(0);
        m.extend_from_slice(&states.to_ne_bytes());
        // inet_diag_sockid: all zeros (no port, address or cookie given).
        m.resize(NLMSG_HDRLEN + REQ_LEN, 0);
    }
    if !q.bytecode.is_empty() {
        let a = u16::try_from(NLA_HDRLEN + q.bytecode.len())
            .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        m.extend_from_slice(&a.to_ne_bytes());
        m.extend_from_slice(&INET_DIAG_REQ_BYTECODE.to_ne_bytes());
        m.extend_from_slice(&q.bytecode);
        m.resize(len, 0);
    }
    Ok(m)
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

fn bad(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("malformed sock_diag reply: {what}"),
    )
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at.checked_add(2)?)?;
    Some(u16::from_ne_bytes([s[0], s[1]]))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_ne_bytes([s[0], s[1], s[2], s[3]]))
}

/// One message of a reply datagram.
#[derive(Debug, PartialEq, Eq)]
pub enum Message<'a> {
    /// A socket: its `inet_diag_msg` (or `unix_diag_msg`) and attributes.
    Socket(&'a [u8]),
    /// `NLMSG_DONE`: the end of the dump.
    Done,
    /// `NLMSG_ERROR` or a `NLMSG_DONE` carrying one: the error number.
    Error(i32),
    /// Another type, or a message of another request: skipped.
    Other,
}

/// The next message of `buf` from `*pos`, which moves past it; `Ok(None)`
/// at the end of the datagram. Never reads outside `buf`; a length that
/// does not fit is an error.
pub fn next_message<'a>(
    buf: &'a [u8],
    pos: &mut usize,
    seq: u32,
) -> io::Result<Option<Message<'a>>> {
    message(buf, pos, seq, MSG_LEN)
}

/// [`next_message`] for replies whose socket messages are at least
/// `min_body` bytes (`inet_diag_msg`, `unix_diag_msg`).
fn message<'a>(
    buf: &'a [u8],
    pos: &mut usize,
    seq: u32,
    min_body: usize,
) -> io::Result<Option<Message<'a>>> {
    let rest = buf.get(*pos..).unwrap_or(&[]);
    if rest.is_empty() {
        return Ok(None);
    }
    if rest.len() < NLMSG_HDRLEN {
        return Err(bad("short message header"));
    }
    let len = u32_at(rest, 0).ok_or_else(|| bad("header"))? as usize;
    let kind = u16_at(rest, 4).ok_or_else(|| bad("header"))?;
    let mseq = u32_at(rest, 8).ok_or_else(|| bad("header"))?;
    if len < NLMSG_HDRLEN || len > rest.len() {
        return Err(bad("message length"));
    }
    let body = &rest[NLMSG_HDRLEN..len];
    // The last message of a datagram may lack its padding.
    *pos = pos.saturating_add(align4(len).min(rest.len()));
    if mseq != seq {
        return Ok(Some(Message::Other));
    }
    let error_in = |body: &[u8]| -> io::Result<i32> {
        let v = u32_at(body, 0).ok_or_else(|| bad("error message"))? as i32;
        Ok(v)
    };
    Ok(Some(match kind {
        NLMSG_DONE => {
            // The payload is the dump's status: 0, or a negative errno.
            match u32_at(body, 0).map(|v| v as i32) {
                Some(e) if e < 0 => Message::Error(e.saturating_neg()),
                _ => Message::Done,
            }
        }
        NLMSG_ERROR => {
            let e = error_in(body)?;
            if e == 0 {
                // An acknowledgement, not an error.
                Message::Other
            } else {
                Message::Error(e.saturating_neg())
            }
        }
        // A reply carries its request's type.
        SOCK_DIAG_BY_FAMILY | TCPDIAG_GETSOCK => {
            if body.len() < min_body {
                return Err(bad("short socket message"));
            }
            Message::Socket(body)
        }
        NLMSG_NOOP => Message::Other,
        _ => Message::Other,
    }))
}

/// The longest one dump of the unix socket list may take ([`unix_names`]).
/// The kernel answers fast (`ss -xa`, the same dump, lists 20,000 sockets
/// in 0.07 s), so 10 s is only reached by a machine under heavy load or a
/// kernel that trickles its answer. The dump is then given up and the
/// listing goes on without it: `-x` reads names as netstat does, so a name
/// holding a newline is not recognised (its second line is read as a
/// row). Checked after each receive, and a receive waits at most
/// [`UNIX_DUMP_RECV_TIMEOUT`], so a dump ends within 12 s whatever the
/// kernel does.
pub const UNIX_DUMP_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest one receive waits for the next part of the unix dump
/// (`SO_RCVTIMEO`): the kernel sends each part as soon as it is asked, so
/// a wait this long means it will not answer.
pub const UNIX_DUMP_RECV_TIMEOUT: Duration = Duration::from_secs(2);

/// `struct unix_diag_msg`: family, type, state, pad, inode, cookie.
const UNIX_MSG_LEN: usize = 16;

/// Hands `each(inode, name)` every named unix socket of this network
/// namespace, the name exactly as bound (`sun_path` bytes, abstract names
/// with their leading NUL), from `NETLINK_SOCK_DIAG` (`UNIX_DIAG_NAME`, as
/// `ss -x` reads it); sockets without a name (the kernel sends no
/// `UNIX_DIAG_NAME` for them) are not handed over. The name is lent, not
/// copied: the caller keeps what it needs. `None` when the kernel cannot
/// answer (no `unix_diag`) or the dump fails or runs past its limits;
/// what `each` was given until then is then only part of the list. A dump
/// is bounded in bytes ([`crate::procnet::MAX_TABLE_BYTES`]) and time
/// ([`UNIX_DUMP_TIMEOUT`]), so it cannot hang or grow the listing.
pub fn unix_names(each: &mut dyn FnMut(u32, &[u8])) -> Option<()> {
    const UDIAG_SHOW_NAME: u32 = 1;
    const UNIX_DIAG_NAME: u16 = 0;
    const SEQ: u32 = 1;
    let fd = sys::netlink_socket(NETLINK_SOCK_DIAG).ok()?;
    sys::set_recv_timeout(fd.as_fd(), UNIX_DUMP_RECV_TIMEOUT).ok()?;
    // struct nlmsghdr (16 bytes) + struct unix_diag_req (24 bytes).
    let mut req = Vec::with_capacity(40);
    req.extend_from_slice(&40u32.to_ne_bytes());
    req.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    req.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    req.extend_from_slice(&SEQ.to_ne_bytes());
    req.extend_from_slice(&0u32.to_ne_bytes()); // pid
    req.push(libc::AF_UNIX as u8); // sdiag_family
    req.push(0); // sdiag_protocol
    req.extend_from_slice(&0u16.to_ne_bytes()); // pad
    req.extend_from_slice(&u32::MAX.to_ne_bytes()); // udiag_states: all
    req.extend_from_slice(&0u32.to_ne_bytes()); // udiag_ino
    req.extend_from_slice(&UDIAG_SHOW_NAME.to_ne_bytes());
    req.extend_from_slice(&[0u8; 8]); // udiag_cookie
                                      // A datagram goes whole or not at all; anything else is a failure.
    if sys::netlink_send_to_kernel(fd.as_fd(), &req).ok()? != req.len() {
        return None;
    }
    let mut buf = vec![0u8; 64 * 1024];
    let mut received: u64 = 0;
    let start = Instant::now();
    loop {
        let n = sys::recv_datagram(fd.as_fd(), &mut buf).ok()?;
        // 0: closed without NLMSG_DONE; larger than `buf`: truncated.
        if n == 0 || n > buf.len() {
            return None;
        }
        received += n as u64;
        if received > crate::procnet::MAX_TABLE_BYTES || start.elapsed() > UNIX_DUMP_TIMEOUT {
            return None;
        }
        let mut pos = 0;
        while let Some(m) = message(&buf[..n], &mut pos, SEQ, UNIX_MSG_LEN).ok()? {
            match m {
                Message::Done => return Some(()),
                Message::Error(_) => return None,
                Message::Other => {}
                Message::Socket(body) => {
                    let ino = u32_at(body, 4)?;
                    let mut at = UNIX_MSG_LEN;
                    while let Some(rest) = body.get(at..).filter(|r| r.len() >= NLA_HDRLEN) {
                        let alen = usize::from(u16_at(rest, 0)?);
                        let kind = u16_at(rest, 2)?;
                        if alen < NLA_HDRLEN || alen > rest.len() {
                            break;
                        }
                        if kind == UNIX_DIAG_NAME {
                            each(ino, &rest[NLA_HDRLEN..alen]);
                        }
                        at = at.saturating_add(align4(alen));
                    }
                }
            }
        }
    }
}

/// The `INET_DIAG_INFO` attribute (`struct tcp_info`) of a socket
/// message, if present; malformed attributes are an error.
fn tcp_info(body: &[u8]) -> io::Result<Option<&[u8]>> {
    let mut at = MSG_LEN;
    while at < body.len() {
        let rest = &body[at..];
        if rest.len() < NLA_HDRLEN {
            return Err(bad("short attribute"));
        }
        let len = usize::from(u16_at(rest, 0).ok_or_else(|| bad("attribute"))?);
        let kind = u16_at(rest, 2).ok_or_else(|| bad("attribute"))? & 0x3fff;
        if len < NLA_HDRLEN || len > rest.len() {
            return Err(bad("attribute length"));
        }
        if kind == INET_DIAG_INFO {
            return Ok(Some(&rest[NLA_HDRLEN..len]));
        }
        at = at.saturating_add(align4(len));
    }
    Ok(None)
}

/// The family of a socket message (its first byte), for a dump of both.
fn message_family(body: &[u8]) -> io::Result<Family> {
    match body.first().map(|&f| i32::from(f)) {
        Some(libc::AF_INET) => Ok(Family::V4),
        Some(libc::AF_INET6) => Ok(Family::V6),
        _ => Err(bad("address family")),
    }
}

/// Turns one socket message into the entry `/proc` would show for it.
/// `proto`/`family` are the query's; a message of another family is an
/// error (the kernel sends only the family asked for).
pub fn socket_entry(body: &[u8], proto: Proto, family: Family, slot: u64) -> io::Result<InetEntry> {
    let m = body
        .get(..MSG_LEN)
        .ok_or_else(|| bad("short inet_diag_msg"))?;
    let fam = i32::from(m[0]);
    if fam != family.af() {
        return Err(bad("address family"));
    }
    let state = m[1];
    let timer = m[2];
    let retrans = m[3];
    let sport = u16::from_be_bytes([m[4], m[5]]);
    let dport = u16::from_be_bytes([m[6], m[7]]);
    let addr = |at: usize| -> IpAddr {
        match family {
            Family::V4 => IpAddr::V4(Ipv4Addr::new(m[at], m[at + 1], m[at + 2], m[at + 3])),
            Family::V6 => {
                let mut o = [0u8; 16];
                o.copy_from_slice(&m[at..at + 16]);
                IpAddr::V6(Ipv6Addr::from(o))
            }
        }
    };
    let word = |at: usize| u32::from_ne_bytes([m[at], m[at + 1], m[at + 2], m[at + 3]]);
    let expires_ms = word(52);
    let rqueue = word(56);
    let wqueue = word(60);
    let uid = word(64);
    let inode = word(68);
    let (timer, timer_ticks, retransmits, probes) = match proto {
        // /proc/net/udp prints constants here: "00:00000000 00000000" and
        // a timeout of 0.
        Proto::Udp | Proto::UdpLite | Proto::Raw => (0u8, 0u64, 0u64, 0i64),
        Proto::Tcp => {
            // jiffies_delta_to_msecs() here, jiffies_delta_to_clock_t() in
            // /proc: USER_HZ ticks are milliseconds / 10 for HZ 100, 250
            // and 1000 (docs/architecture.md, "sock_diag").
            let ticks = u64::from(expires_ms / 10);
            let (retr, probes) = match tcp_info(body)? {
                // tcpi_retransmits and tcpi_probes: the icsk_retransmits
                // and icsk_probes_out that /proc prints.
                Some(info) if info.len() >= 4 => (u64::from(info[2]), i64::from(info[3])),
                Some(_) => return Err(bad("short tcp_info")),
                // Without tcp_info the header's one counter is
                // icsk_retransmits under the retransmit timer and
                // icsk_probes_out under the keepalive and probe timers;
                // TIME_WAIT sockets have neither (0, as /proc prints).
                None => match timer {
                    2 | 4 => (0, i64::from(retrans)),
                    _ => (u64::from(retrans), 0),
                },
            };
            (timer, ticks, retr, probes)
        }
    };
    Ok(InetEntry {
        slot,
        local: addr(8),
        local_port: sport,
        remote: addr(24),
        remote_port: dport,
        state: StateCode::from(state),
        tx_queue: u64::from(wqueue),
        rx_queue: u64::from(rqueue),
        timer,
        timer_ticks,
        retransmits,
        uid,
        probes,
        inode: u64::from(inode),
        // Every kernel line has fields past the inode (refcount, pointer).
        fields: 11,
    })
}

/// Whether `path` (a `/proc/net` table) is the kernel's own, on a procfs:
/// only then does a dump describe the same sockets (a fixture tree bound
/// over `/proc` is not). `false` when it cannot be told (missing file).
pub fn is_kernel_table(path: &std::path::Path) -> bool {
    sys::on_procfs(path).unwrap_or(false)
}

/// One `recv` of a dump's datagram into `buf`, with the dump's bounds:
/// its length, or the error that ends the dump.
fn recv_checked(
    fd: &OwnedFd,
    buf: &mut [u8],
    total: &mut u64,
    started: Instant,
) -> io::Result<usize> {
    if started.elapsed() > MAX_DUMP_TIME {
        return Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "sock_diag dump still not done after 30 s",
        ));
    }
    let n = match sys::recv_datagram(fd.as_fd(), buf) {
        Ok(n) => n,
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "no sock_diag reply within 30 s",
            ))
        }
        Err(e) => return Err(e),
    };
    if n > buf.len() {
        return Err(bad("datagram larger than the receive buffer"));
    }
    if n == 0 {
        return Err(bad("empty datagram"));
    }
    *total += n as u64;
    if *total > MAX_DUMP_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("sock_diag dump larger than {MAX_DUMP_BYTES} bytes"),
        ));
    }
    Ok(n)
}

/// Whether a datagram holds the end of the dump (its `NLMSG_DONE` or an
/// error), or cannot be read on (the reader will report it).
fn ends_dump(datagram: &[u8], seq: u32) -> bool {
    let mut at = 0;
    loop {
        match next_message(datagram, &mut at, seq) {
            Ok(None) => return false,
            Ok(Some(Message::Done | Message::Error(_))) | Err(_) => return true,
            Ok(Some(_)) => {}
        }
    }
}

/// The first datagram from which a receiving thread is started.
const THREAD_MIN_DATAGRAM: usize = 8 * 1024;

/// A filled datagram from the receiving thread: buffer and length.
type Datagram = io::Result<(Box<[u8]>, usize)>;

/// Where the datagrams come from: `recv` in this thread, or, once a dump
/// spans more than one datagram, a receiving thread, so the kernel fills
/// the next datagram (most of a dump's cost) while this thread turns the
/// last one into rows. Two full and four empty buffers at most are in
/// flight (a few hundred KiB).
enum Feed {
    Direct(OwnedFd),
    Thread {
        full: Receiver<Datagram>,
        empty: SyncSender<Box<[u8]>>,
    },
}

/// The receiving thread: `recv` until the dump's end, an error, or the
/// reader going away (its end of the channel closed).
fn receive_loop(
    fd: OwnedFd,
    seq: u32,
    mut total: u64,
    started: Instant,
    full: SyncSender<Datagram>,
    empty: Receiver<Box<[u8]>>,
) {
    loop {
        let mut buf = empty
            .try_recv()
            .unwrap_or_else(|_| vec![0u8; RECV_BUF].into_boxed_slice());
        let r = recv_checked(&fd, &mut buf, &mut total, started);
        let last = match &r {
            Ok(n) => ends_dump(&buf[..*n], seq),
            Err(_) => true,
        };
        if full.send(r.map(|n| (buf, n))).is_err() || last {
            return;
        }
    }
}

/// A running dump: entries one at a time, datagram by datagram, in the
/// kernel's order; memory stays at a few receive buffers.
pub struct DiagReader {
    feed: Feed,
    buf: Box<[u8]>,
    pos: usize,
    end: usize,
    seq: u32,
    proto: Proto,
    family: Family,
    both: bool,
    /// The next `sl` number of each family (IPv4, IPv6).
    slots: [u64; 2],
    total: u64,
    started: Instant,
    done: bool,
}

impl DiagReader {
    /// Sends the request and receives the first reply, so that a kernel
    /// without the handler (`ENOENT`), without `NETLINK_SOCK_DIAG`
    /// (`EPROTONOSUPPORT`) or refusing the request (`EINVAL`) fails here,
    /// before anything is printed.
    pub fn open(q: &Query) -> io::Result<DiagReader> {
        let seq = std::process::id() ^ 0x5d1a_0000;
        let req = request(q, seq)?;
        let fd = sys::netlink_socket(NETLINK_SOCK_DIAG)?;
        sys::set_recv_timeout(fd.as_fd(), MAX_DUMP_TIME)?;
        let sent = sys::netlink_send_to_kernel(fd.as_fd(), &req)?;
        if sent != req.len() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "sock_diag request not sent whole",
            ));
        }
        let mut buf = vec![0u8; RECV_BUF].into_boxed_slice();
        let started = Instant::now();
        let mut total = 0;
        let end = recv_checked(&fd, &mut buf, &mut total, started)?;
        // An error as the first message: the request failed.
        let mut at = 0;
        if let Some(Message::Error(e)) = next_message(&buf[..end], &mut at, seq)? {
            return Err(io::Error::from_raw_os_error(e));
        }
        // A first datagram well short of the kernel's 32 KiB means the
        // walk reached the end of the table (a filtered dump): only the
        // end message is left, not worth a thread.
        let feed = if ends_dump(&buf[..end], seq) || end < THREAD_MIN_DATAGRAM {
            Feed::Direct(fd)
        } else {
            let (full_tx, full) = sync_channel(1);
            let (empty, empty_rx) = sync_channel(2);
            std::thread::Builder::new()
                .name("sock_diag".into())
                .stack_size(64 * 1024)
                .spawn(move || receive_loop(fd, seq, total, started, full_tx, empty_rx))?;
            Feed::Thread { full, empty }
        };
        Ok(DiagReader {
            feed,
            buf,
            pos: 0,
            end,
            seq,
            proto: q.proto,
            family: q.family,
            both: q.both,
            slots: [q.first_slot; 2],
            total,
            started,
            done: false,
        })
    }

    fn fill(&mut self) -> io::Result<()> {
        let n = match &self.feed {
            Feed::Direct(fd) => recv_checked(fd, &mut self.buf, &mut self.total, self.started)?,
            Feed::Thread { full, empty } => match full.recv() {
                Ok(Ok((buf, n))) => {
                    let old = std::mem::replace(&mut self.buf, buf);
                    let _ = empty.try_send(old);
                    n
                }
                Ok(Err(e)) => return Err(e),
                Err(_) => return Err(bad("the dump ended without its end message")),
            },
        };
        self.pos = 0;
        self.end = n;
        Ok(())
    }

    /// The next entry, `Ok(None)` at the end of the dump. An error ends
    /// the dump (later calls return `Ok(None)`).
    pub fn next_entry(&mut self) -> io::Result<Option<InetEntry>> {
        let r = self.step();
        if r.is_err() {
            self.done = true;
        }
        r
    }

    fn step(&mut self) -> io::Result<Option<InetEntry>> {
        loop {
            if self.done {
                return Ok(None);
            }
            let mut at = self.pos;
            let msg = next_message(&self.buf[..self.end], &mut at, self.seq)?;
            self.pos = at;
            match msg {
                None => self.fill()?,
                Some(Message::Done) => {
                    self.done = true;
                    return Ok(None);
                }
                Some(Message::Error(e)) => return Err(io::Error::from_raw_os_error(e)),
                Some(Message::Other) => {}
                Some(Message::Socket(body)) => {
                    let family = if self.both {
                        message_family(body)?
                    } else {
                        self.family
                    };
                    let slot = &mut self.slots[usize::from(family == Family::V6)];
                    let e = socket_entry(body, self.proto, family, *slot)?;
                    *slot += 1;
                    return Ok(Some(e));
                }
            }
        }
    }
}

/// The most IPv6 entries a [`OneWalk`] holds back while it hands out the
/// IPv4 ones (an [`InetEntry`] is 112 bytes on x86-64: 224 KiB at most).
pub const HOLD_MAX: usize = 2048;

/// TCP sockets of both families from one walk of the kernel's tables
/// instead of two (each dump walks the whole established hash, whatever
/// the family asked for), handed out in the order of the two `/proc`
/// files: every IPv4 entry in the walk's order, then every IPv6 one, held
/// back meanwhile. A walk's order within one family is the order of that
/// family's own dump, which is `/proc`'s. Worth it only while IPv6 sockets
/// are few ([`OneWalk::worth`]); past [`HOLD_MAX`] the IPv6 entries are
/// dropped and the caller dumps IPv6 on its own.
pub struct OneWalk {
    reader: DiagReader,
    held: Vec<InetEntry>,
    /// More IPv6 entries came than could be held.
    overflowed: bool,
    /// The dump reached its end (not an error).
    ended: bool,
}

impl OneWalk {
    /// Whether one walk is likely to hold every IPv6 entry: the namespace
    /// has at most half of [`HOLD_MAX`] IPv6 TCP sockets in use
    /// (`TCP6: inuse` in `sockstat6` under `proc_root`, which does not
    /// count TIME_WAIT and request sockets, hence the margin). `false`
    /// when it cannot be read.
    pub fn worth(proc_root: &std::path::Path) -> bool {
        let Ok(text) = std::fs::read_to_string(proc_root.join("net/sockstat6")) else {
            return false;
        };
        tcp6_in_use(&text).is_some_and(|n| n <= (HOLD_MAX / 2) as u64)
    }

    /// Starts the walk for `q` (its protocol must be TCP; `both` is set
    /// here), failing as [`DiagReader::open`] does.
    pub fn open(q: &Query) -> io::Result<OneWalk> {
        let q = Query {
            both: true,
            ..q.clone()
        };
        Ok(OneWalk {
            reader: DiagReader::open(&q)?,
            held: Vec::new(),
            overflowed: false,
            ended: false,
        })
    }

    /// The next IPv4 entry, holding back the IPv6 ones met on the way;
    /// `Ok(None)` at the end of the dump. An error ends the dump.
    pub fn next_v4(&mut self) -> io::Result<Option<InetEntry>> {
        loop {
            let Some(e) = self.reader.next_entry()? else {
                self.ended = true;
                return Ok(None);
            };
            if e.local.is_ipv4() {
                return Ok(Some(e));
            }
            if self.held.len() < HOLD_MAX {
                self.held.push(e);
            } else {
                self.overflowed = true;
            }
        }
    }

    /// The IPv6 entries in the walk's order, once [`OneWalk::next_v4`]
    /// returned `Ok(None)`; `None` when they are not all here (too many,
    /// or the dump ended in an error or was not read to its end): then
    /// IPv6 is to be dumped on its own.
    pub fn into_v6(self) -> Option<Vec<InetEntry>> {
        (self.ended && !self.overflowed).then_some(self.held)
    }
}

/// The `inuse` count of the `TCP6:` line of `/proc/net/sockstat6`.
fn tcp6_in_use(sockstat6: &str) -> Option<u64> {
    let rest = sockstat6
        .lines()
        .find_map(|l| l.strip_prefix("TCP6: inuse "))?;
    rest.split_ascii_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// splitmix64: a small seeded generator for the property tests.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n.max(1)
        }
    }

    fn header(len: usize, kind: u16, seq: u32) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&(len as u32).to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&0u16.to_ne_bytes());
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m
    }

    /// A socket message as the kernel builds it.
    fn socket_msg(
        e: &InetEntry,
        expires_ms: u32,
        retrans: u8,
        info: Option<[u8; 4]>,
        seq: u32,
    ) -> Vec<u8> {
        let mut body = vec![0u8; MSG_LEN];
        body[0] = if e.local.is_ipv4() {
            libc::AF_INET
        } else {
            libc::AF_INET6
        } as u8;
        body[1] = e.state.code();
        body[2] = e.timer;
        body[3] = retrans;
        body[4..6].copy_from_slice(&e.local_port.to_be_bytes());
        body[6..8].copy_from_slice(&e.remote_port.to_be_bytes());
        let put = |b: &mut [u8], at: usize, ip: IpAddr| match ip {
            IpAddr::V4(a) => b[at..at + 4].copy_from_slice(&a.octets()),
            IpAddr::V6(a) => b[at..at + 16].copy_from_slice(&a.octets()),
        };
        put(&mut body, 8, e.local);
        put(&mut body, 24, e.remote);
        body[52..56].copy_from_slice(&expires_ms.to_ne_bytes());
        body[56..60].copy_from_slice(&(e.rx_queue as u32).to_ne_bytes());
        body[60..64].copy_from_slice(&(e.tx_queue as u32).to_ne_bytes());
        body[64..68].copy_from_slice(&e.uid.to_ne_bytes());
        body[68..72].copy_from_slice(&(e.inode as u32).to_ne_bytes());
        if let Some(i) = info {
            // An unrelated attribute first, then a padded tcp_info.
            body.extend_from_slice(&8u16.to_ne_bytes());
            body.extend_from_slice(&1u16.to_ne_bytes());
            body.extend_from_slice(&[1, 2, 3, 4]);
            body.extend_from_slice(&(4u16 + 6).to_ne_bytes());
            body.extend_from_slice(&INET_DIAG_INFO.to_ne_bytes());
            body.extend_from_slice(&i);
            body.extend_from_slice(&[9, 9, 0, 0]);
        }
        let mut m = header(NLMSG_HDRLEN + body.len(), SOCK_DIAG_BY_FAMILY, seq);
        m.extend_from_slice(&body);
        m
    }

    fn entry(line: &str) -> InetEntry {
        crate::procnet::parse_inet_line(line.as_bytes(), 2).unwrap()
    }

    #[test]
    fn messages_become_the_proc_entries() {
        if cfg!(target_endian = "big") {
            return;
        }
        // FIN_WAIT1 with a retransmit timer of 1.77 s, 2 retransmits.
        let mut want = entry("31: 0100007F:E414 0100007F:15B3 04 003E1201:00000000 01:000000B1 00000002  1000        0 158480 2 0 20 0 0 16 -1");
        want.slot = 7;
        let m = socket_msg(&want, 1779, 2, Some([4, 0, 2, 0]), 5);
        let mut pos = 0;
        let Some(Message::Socket(body)) = next_message(&m, &mut pos, 5).unwrap() else {
            panic!("not a socket message");
        };
        assert_eq!(pos, m.len());
        let got = socket_entry(body, Proto::Tcp, Family::V4, 7).unwrap();
        assert_eq!(got, want);
        // Without tcp_info the header's counter is the retransmits here.
        let m = socket_msg(&want, 1779, 2, None, 5);
        let mut pos = 0;
        let Some(Message::Socket(body)) = next_message(&m, &mut pos, 5).unwrap() else {
            panic!("not a socket message");
        };
        assert_eq!(socket_entry(body, Proto::Tcp, Family::V4, 7).unwrap(), want);
        // ... and the probes under the keepalive timer.
        let mut ka = want.clone();
        ka.timer = 2;
        ka.retransmits = 0;
        ka.probes = 3;
        let m = socket_msg(&ka, 1779, 3, None, 5);
        let mut pos = 0;
        let Some(Message::Socket(body)) = next_message(&m, &mut pos, 5).unwrap() else {
            panic!("not a socket message");
        };
        assert_eq!(socket_entry(body, Proto::Tcp, Family::V4, 7).unwrap(), ka);
        // IPv6, and the wrong family is refused.
        let v6 = entry("0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0 100 0 0 10 0");
        let m = socket_msg(&v6, 0, 0, None, 1);
        let body = &m[NLMSG_HDRLEN..];
        assert_eq!(socket_entry(body, Proto::Tcp, Family::V6, 0).unwrap(), v6);
        assert!(socket_entry(body, Proto::Tcp, Family::V4, 0).is_err());
        // UDP prints constants for the timer columns.
        let udp = entry("  83: 0100007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000   101        0 21337 2 0 0");
        let m = socket_msg(&udp, 999, 9, None, 1);
        assert_eq!(
            socket_entry(&m[NLMSG_HDRLEN..], Proto::Udp, Family::V4, 83).unwrap(),
            udp
        );
    }

    #[test]
    fn done_error_and_other_messages() {
        let mut m = header(20, NLMSG_DONE, 9);
        m.extend_from_slice(&0i32.to_ne_bytes());
        let mut e = header(36, NLMSG_ERROR, 9);
        e.extend_from_slice(&(-libc::ENOENT).to_ne_bytes());
        e.extend_from_slice(&[0u8; 16]);
        let mut d = header(20, NLMSG_DONE, 9);
        d.extend_from_slice(&(-libc::EINVAL).to_ne_bytes());
        let mut stale = header(16, NLMSG_DONE, 8);
        stale.extend_from_slice(&m);
        let mut pos = 0;
        assert_eq!(next_message(&m, &mut pos, 9).unwrap(), Some(Message::Done));
        assert_eq!(next_message(&m, &mut pos, 9).unwrap(), None);
        let mut pos = 0;
        assert_eq!(
            next_message(&e, &mut pos, 9).unwrap(),
            Some(Message::Error(libc::ENOENT))
        );
        let mut pos = 0;
        assert_eq!(
            next_message(&d, &mut pos, 9).unwrap(),
            Some(Message::Error(libc::EINVAL))
        );
        let mut pos = 0;
        assert_eq!(
            next_message(&stale, &mut pos, 9).unwrap(),
            Some(Message::Other)
        );
        assert_eq!(
            next_message(&stale, &mut pos, 9).unwrap(),
            Some(Message::Done)
        );
        // Lengths that do not fit.
        for bad in [
            header(15, NLMSG_DONE, 9),
            header(17, NLMSG_DONE, 9),
            header(16, 20, 9),
        ] {
            let mut pos = 0;
            assert!(next_message(&bad, &mut pos, 9).is_err(), "{bad:?}");
        }
        assert!(next_message(&[1, 2, 3], &mut 0, 9).is_err());
    }

    #[test]
    fn the_parser_never_panics_on_any_input() {
        let mut rng = Rng(0x5eed_d1a9);
        let good = {
            let e = entry("1: 0100007F:E414 0100007F:15B3 01 00000000:00000000 00:00000000 00000000  1000        0 158480 2 0");
            let mut d = socket_msg(&e, 0, 0, Some([1, 0, 0, 0]), 3);
            d.extend(socket_msg(&e, 10, 1, None, 3));
            d.extend(header(20, NLMSG_DONE, 3));
            d.extend_from_slice(&0i32.to_ne_bytes());
            d
        };
        for round in 0..20_000 {
            let buf: Vec<u8> = if round % 2 == 0 {
                // Random bytes of a random length.
                let n = rng.below(400) as usize;
                (0..n).map(|_| rng.next() as u8).collect()
            } else {
                // The good datagram, mutated and cut.
                let mut d = good.clone();
                for _ in 0..=rng.below(6) {
                    let i = rng.below(d.len() as u64) as usize;
                    d[i] = rng.next() as u8;
                }
                let cut = rng.below(d.len() as u64 + 1) as usize;
                d.truncate(cut);
                d
            };
            let mut pos = 0;
            let mut steps = 0;
            for fam in [Family::V4, Family::V6] {
                pos = 0;
                while let Ok(Some(m)) = next_message(&buf, &mut pos, 3) {
                    steps += 1;
                    assert!(steps < 1000, "no progress");
                    assert!(pos <= buf.len());
                    if let Message::Socket(body) = m {
                        let _ = socket_entry(body, Proto::Tcp, fam, 0);
                        let _ = socket_entry(body, Proto::Udp, fam, 0);
                    }
                }
            }
            assert!(pos <= buf.len());
        }
        // The good datagram itself: two entries then the end.
        let mut pos = 0;
        let mut n = 0;
        while let Some(m) = next_message(&good, &mut pos, 3).unwrap() {
            match m {
                Message::Socket(b) => {
                    socket_entry(b, Proto::Tcp, Family::V4, 0).unwrap();
                    n += 1;
                }
                Message::Done => break,
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(n, 2);
    }

    #[test]
    fn bytecode_decides_as_the_filter() {
        let mut rng = Rng(42);
        let pick = |rng: &mut Rng| -> Cond {
            let p = [0u16, 1, 22, 80, 5555, 65535][rng.below(6) as usize];
            match rng.below(6) {
                0 => Cond::SportEq(p),
                1 => Cond::DportEq(p),
                2 => Cond::SportGe(p),
                3 => Cond::SportLe(p),
                4 => Cond::DportGe(p),
                _ => Cond::DportLe(p),
            }
        };
        for _ in 0..5_000 {
            let clauses: Vec<Vec<Cond>> = (0..1 + rng.below(4))
                .map(|_| (0..1 + rng.below(3)).map(|_| pick(&mut rng)).collect())
                .collect();
            let refs: Vec<&[Cond]> = clauses.iter().map(|c| c.as_slice()).collect();
            let bc = bytecode(&refs).unwrap();
            assert_eq!(bc.len() % 4, 0);
            assert!(audit(&bc), "{clauses:?}: {bc:?}");
            for _ in 0..20 {
                let s = [0u16, 1, 22, 80, 5555, 65535, rng.next() as u16][rng.below(7) as usize];
                let d = [0u16, 1, 22, 80, 5555, 65535, rng.next() as u16][rng.below(7) as usize];
                let want = clauses.iter().all(|c| c.iter().any(|x| x.holds(s, d)));
                assert_eq!(run_bytecode(&bc, s, d), want, "{clauses:?} {s} {d}");
            }
        }
        assert_eq!(bytecode(&[&[]]), None);
        assert_eq!(bytecode(&[]), Some(Vec::new()));
        assert!(run_bytecode(&[], 1, 2));
        // `--port 5555`: (sport == 5555 || dport == 5555), as ss compiles it.
        let bc = bytecode(&[&[Cond::SportEq(5555), Cond::DportEq(5555)]]).unwrap();
        assert_eq!(bc.len(), 20);
        assert_eq!(&bc[..4], &[BC_S_EQ, 8, 12, 0]);
        assert_eq!(&bc[8..12], &[BC_JMP, 4, 12, 0]);
        assert_eq!(&bc[12..16], &[BC_D_EQ, 8, 12, 0]);
        // What the audit refuses: a `no` off the `yes` chain, a short op.
        assert!(!audit(&[
            BC_S_EQ, 16, 8, 0, 0, 0, 80, 0, BC_D_EQ, 8, 12, 0, 0, 0, 80, 0
        ]));
        assert!(!audit(&[BC_S_EQ, 8, 12, 0]));
    }

    #[test]
    fn requests_have_the_kernel_layout() {
        let mut q = Query::all(Proto::Tcp, Family::V6);
        q.states = 1 << TCP_SYN_RECV;
        q.bytecode = bytecode(&[&[Cond::SportEq(80)]]).unwrap();
        assert!(audit(&q.bytecode));
        let r = request(&q, 77).unwrap();
        assert_eq!(r.len(), 16 + 56 + 12);
        assert_eq!(u32_at(&r, 0), Some(84));
        assert_eq!(u16_at(&r, 4), Some(SOCK_DIAG_BY_FAMILY));
        assert_eq!(u16_at(&r, 6), Some(0x301));
        assert_eq!(u32_at(&r, 8), Some(77));
        assert_eq!(r[16], libc::AF_INET6 as u8);
        assert_eq!(r[17], libc::IPPROTO_TCP as u8);
        assert_eq!(r[18], 0);
        assert_eq!(u32_at(&r, 20), Some((1 << 3) | (1 << 12)));
        q.states = u32::MAX;
        let r = request(&q, 77).unwrap();
        assert_eq!(u32_at(&r, 20), Some(ALL_STATES));
        q.states = 1 << TCP_SYN_RECV;
        assert_eq!(u16_at(&r, 72), Some(12));
        assert_eq!(u16_at(&r, 74), Some(INET_DIAG_REQ_BYTECODE));
        q.info = true;
        q.bytecode.clear();
        let r = request(&q, 1).unwrap();
        assert_eq!((r.len(), r[18]), (72, 2));
        q.proto = Proto::Raw;
        assert_eq!(
            request(&q, 1).unwrap_err().raw_os_error(),
            Some(libc::EPROTONOSUPPORT)
        );
    }

    /// `inet_diag_req` under `TCPDIAG_GETSOCK`: family unset, the state
    /// mask at byte 52 of the request, the filter after its 60 bytes; TCP
    /// only.
    #[test]
    fn a_walk_of_both_families_is_the_first_request_type() {
        let mut q = Query::all(Proto::Tcp, Family::V4);
        q.both = true;
        q.states = ALL_STATES & !LISTEN_BIT;
        q.bytecode = bytecode(&[&[Cond::SportEq(80), Cond::DportEq(80)]]).unwrap();
        let r = request(&q, 9).unwrap();
        let bc = q.bytecode.len();
        assert_eq!(r.len(), 16 + 60 + align4(4 + bc));
        assert_eq!(u32_at(&r, 0), Some(r.len() as u32));
        assert_eq!(u16_at(&r, 4), Some(TCPDIAG_GETSOCK));
        assert_eq!(u16_at(&r, 6), Some(0x301));
        assert_eq!(&r[16..20], &[libc::AF_UNSPEC as u8, 0, 0, 0]);
        assert!(r[20..68].iter().all(|&b| b == 0), "socket id");
        assert_eq!(u32_at(&r, 68), Some(0x1bff));
        assert_eq!(u32_at(&r, 72), Some(0), "idiag_dbs");
        assert_eq!(u16_at(&r, 76), Some((4 + bc) as u16));
        assert_eq!(u16_at(&r, 78), Some(INET_DIAG_REQ_BYTECODE));
        assert_eq!(&r[80..80 + bc], &q.bytecode[..]);
        q.info = true;
        assert_eq!(request(&q, 9).unwrap()[19], 2);
        q.proto = Proto::Udp;
        assert_eq!(
            request(&q, 9).unwrap_err().raw_os_error(),
            Some(libc::EPROTONOSUPPORT)
        );
    }

    /// Its replies carry type 18 and either family; an unknown family is
    /// an error.
    #[test]
    fn replies_of_both_families() {
        let mut body = vec![0u8; MSG_LEN];
        for (af, want) in [(libc::AF_INET, Family::V4), (libc::AF_INET6, Family::V6)] {
            body[0] = af as u8;
            assert_eq!(message_family(&body).unwrap(), want);
        }
        body[0] = 7;
        assert!(message_family(&body).is_err());
        assert!(message_family(&[]).is_err());
        let mut m = header(NLMSG_HDRLEN + MSG_LEN, TCPDIAG_GETSOCK, 5);
        m.extend_from_slice(&[0u8; MSG_LEN]);
        let mut at = 0;
        assert!(matches!(
            next_message(&m, &mut at, 5).unwrap(),
            Some(Message::Socket(_))
        ));
    }

    #[test]
    fn counts_ipv6_tcp_sockets_in_use() {
        let text = "TCP6: inuse 603\nUDP6: inuse 0\nUDPLITE6: inuse 0\nRAW6: inuse 0\nFRAG6: inuse 0 memory 0\n";
        assert_eq!(tcp6_in_use(text), Some(603));
        assert_eq!(tcp6_in_use("UDP6: inuse 4\n"), None);
        assert_eq!(tcp6_in_use("TCP6: inuse x\n"), None);
        assert_eq!(tcp6_in_use(""), None);
    }
}
