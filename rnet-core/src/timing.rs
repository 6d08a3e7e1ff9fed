//! Retransmission schedules behind the TCP states a firewall rule freezes:
//! how many SYNs an active open sends and when it gives up, how long a
//! request socket resends its SYN|ACK, how many times an orphaned socket
//! resends its FIN. Pure arithmetic over the sysctl values, so every tool
//! quotes the same numbers; the caller reads the sysctls (see
//! [`crate::procnet::read_sysctl`]) in the network namespace that matters.
//! `docs/tcp-timers.md` says what kernel behaviour each model follows and
//! how it was measured.

use crate::procnet::read_sysctl;
use std::path::Path;

/// The sysctls behind the handshake and teardown timers, as read from
/// `root/sys/net/ipv4/` (`None` where a file is missing; kernels before
/// 6.5 have no `tcp_syn_linear_timeouts`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpTimers {
    /// `net.ipv4.tcp_syn_retries`.
    pub syn_retries: Option<i64>,
    /// `net.ipv4.tcp_syn_linear_timeouts` (Linux 6.5 and later).
    pub syn_linear_timeouts: Option<i64>,
    /// `net.ipv4.tcp_synack_retries`.
    pub synack_retries: Option<i64>,
    /// `net.ipv4.tcp_fin_timeout` (seconds).
    pub fin_timeout: Option<i64>,
    /// `net.ipv4.tcp_orphan_retries` (0 means 8).
    pub orphan_retries: Option<i64>,
    /// `net.ipv4.tcp_retries2`.
    pub retries2: Option<i64>,
}

impl TcpTimers {
    /// Reads the knobs under `root/sys/net/ipv4/` (`root` stands for `/proc`).
    pub fn read(root: &Path) -> TcpTimers {
        let r = |n: &str| read_sysctl(root, &format!("net/ipv4/{n}"));
        TcpTimers {
            syn_retries: r("tcp_syn_retries"),
            syn_linear_timeouts: r("tcp_syn_linear_timeouts"),
            synack_retries: r("tcp_synack_retries"),
            fin_timeout: r("tcp_fin_timeout"),
            orphan_retries: r("tcp_orphan_retries"),
            retries2: r("tcp_retries2"),
        }
    }

    /// The SYN schedule of an active open under these settings (kernel
    /// defaults where a value is missing: 6 retries, no linear timeouts).
    pub fn syn_schedule(&self) -> SynSchedule {
        syn_schedule(
            Knob::SynRetries.value(self),
            Knob::SynLinearTimeouts.value(self),
        )
    }

    /// The send times of an active open's SYNs under these settings, and
    /// when it gives up (see [`syn_send_times`]).
    pub fn syn_send_times(&self) -> (Vec<u64>, u64) {
        syn_send_times(
            Knob::SynRetries.value(self),
            Knob::SynLinearTimeouts.value(self),
        )
    }

    /// The time budget of an orphaned socket's FIN: `n` =
    /// `tcp_orphan_retries` tries from `TCP_RTO_MIN` (0.2 s), doubling,
    /// 0.2 x (2^(n+1) - 1) s (8: 102.2 s; 2: 1.4 s). It is when the socket
    /// ends if this host's own OUTPUT refuses the FIN (the probe timer:
    /// measured 106.4 s and 1.46 s, timers late). A FIN that left and is
    /// lost ends later, at the first retransmission timeout past this
    /// budget counted from the first retransmission (2 retries: measured
    /// 3.35 s): see [`unacked_give_up`].
    pub fn orphan_give_up_secs(&self) -> f64 {
        model_timeout(
            self.orphan_retries_effective().clamp(0, 255) as u32,
            RTO_MIN_SECS,
        )
    }

    /// FIN retransmissions of an orphaned socket: `tcp_orphan_retries`,
    /// where 0 (the default) means 8, as `tcp_orphan_retries()` in
    /// `net/ipv4/tcp_timer.c` decides.
    pub fn orphan_retries_effective(&self) -> i64 {
        match self.orphan_retries {
            Some(v) if v > 0 => v,
            _ => 8,
        }
    }
}

/// `TCP_TIMEOUT_INIT`: the first retransmission timeout of a handshake, 1 s.
pub const TIMEOUT_INIT_SECS: u64 = 1;
/// `TCP_RTO_MAX`: no retransmission timeout grows beyond 120 s.
pub const RTO_MAX_SECS: u64 = 120;
/// `TCP_RTO_MIN`: the smallest retransmission timeout once a connection
/// is up, 0.2 s; on a short path a connection's timeout starts here.
pub const RTO_MIN_SECS: f64 = 0.2;
/// `TCP_TIMEWAIT_LEN`: how long a TIME_WAIT socket lives, 60 s, fixed at
/// compile time (no sysctl changes it).
pub const TIME_WAIT_SECS: u64 = 60;

/// The time budget the kernel gives `boundary` retransmissions that start
/// at `rto_base` seconds and double up to [`RTO_MAX_SECS`]
/// (`tcp_model_timeout()` in the kernel's `net/ipv4/tcp_timer.c`): a
/// connection gives up at the first timeout that finds this much time gone
/// since its first retransmission (an active open: since its first SYN).
/// So the limit is a time, not a count: `tcp_syn_linear_timeouts` adds
/// tries inside the same budget.
pub fn model_timeout(boundary: u32, rto_base: f64) -> f64 {
    // ilog2(TCP_RTO_MAX / rto_base): the doublings before the cap.
    let ratio = (RTO_MAX_SECS as f64 / rto_base).max(1.0);
    let thresh = ratio.log2().floor() as u32;
    if boundary <= thresh {
        ((2f64).powi(boundary as i32 + 1) - 1.0) * rto_base
    } else {
        ((2f64).powi(thresh as i32 + 1) - 1.0) * rto_base
            + f64::from(boundary - thresh) * RTO_MAX_SECS as f64
    }
}

/// One of the sysctls the explanations quote.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Knob {
    /// `net.ipv4.tcp_syn_retries`.
    SynRetries,
    /// `net.ipv4.tcp_syn_linear_timeouts`.
    SynLinearTimeouts,
    /// `net.ipv4.tcp_synack_retries`.
    SynackRetries,
    /// `net.ipv4.tcp_fin_timeout`.
    FinTimeout,
    /// `net.ipv4.tcp_orphan_retries`.
    OrphanRetries,
    /// `net.ipv4.tcp_retries2`.
    Retries2,
}

impl Knob {
    /// Every knob, in the order of [`TcpTimers`]' fields.
    pub const ALL: [Knob; 6] = [
        Knob::SynRetries,
        Knob::SynLinearTimeouts,
        Knob::SynackRetries,
        Knob::FinTimeout,
        Knob::OrphanRetries,
        Knob::Retries2,
    ];

    /// The name under `net.ipv4.` (`tcp_syn_retries`).
    pub fn name(self) -> &'static str {
        match self {
            Knob::SynRetries => "tcp_syn_retries",
            Knob::SynLinearTimeouts => "tcp_syn_linear_timeouts",
            Knob::SynackRetries => "tcp_synack_retries",
            Knob::FinTimeout => "tcp_fin_timeout",
            Knob::OrphanRetries => "tcp_orphan_retries",
            Knob::Retries2 => "tcp_retries2",
        }
    }

    /// The value assumed when the file is missing: the kernel's default,
    /// and 0 linear timeouts (kernels before 6.5 have no such knob).
    pub fn fallback(self) -> i64 {
        match self {
            Knob::SynRetries => 6,
            Knob::SynLinearTimeouts => 0,
            Knob::SynackRetries => 5,
            Knob::FinTimeout => 60,
            Knob::OrphanRetries => 0,
            Knob::Retries2 => 15,
        }
    }

    fn slot(self, t: &mut TcpTimers) -> &mut Option<i64> {
        match self {
            Knob::SynRetries => &mut t.syn_retries,
            Knob::SynLinearTimeouts => &mut t.syn_linear_timeouts,
            Knob::SynackRetries => &mut t.synack_retries,
            Knob::FinTimeout => &mut t.fin_timeout,
            Knob::OrphanRetries => &mut t.orphan_retries,
            Knob::Retries2 => &mut t.retries2,
        }
    }

    /// The knob's value as read into `t`, if the file was there.
    pub fn get(self, t: &TcpTimers) -> Option<i64> {
        match self {
            Knob::SynRetries => t.syn_retries,
            Knob::SynLinearTimeouts => t.syn_linear_timeouts,
            Knob::SynackRetries => t.synack_retries,
            Knob::FinTimeout => t.fin_timeout,
            Knob::OrphanRetries => t.orphan_retries,
            Knob::Retries2 => t.retries2,
        }
    }

    /// The knob's value in `t`, or [`Knob::fallback`].
    pub fn value(self, t: &TcpTimers) -> i64 {
        self.get(t).unwrap_or(self.fallback())
    }
}

/// Which end of a connection a figure is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Host {
    /// The host the tool runs on: its sysctls are read from `/proc`.
    Here,
    /// The other end: its sysctls are given in [`PEER_ENV`], or else
    /// assumed to be this host's, and the text says which.
    Peer,
}

/// The environment variable that gives the other host's sysctls, as
/// `tcp_synack_retries=2,tcp_syn_retries=3` (commas or blanks between,
/// `net.ipv4.` prefixes allowed).
pub const PEER_ENV: &str = "RNET_PEER_SYSCTL";

/// The sysctls of both ends of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hosts {
    /// This host's, read from `/proc/sys/net/ipv4`.
    pub here: TcpTimers,
    /// The peer's: this host's, overridden by what [`PEER_ENV`] gives.
    pub peer: TcpTimers,
    /// Which of [`Knob::ALL`] the peer's values were given for.
    given: [bool; 6],
}

impl Hosts {
    /// Both ends with this host's settings (nothing known of the peer).
    pub fn same(here: TcpTimers) -> Hosts {
        Hosts {
            here,
            peer: here,
            given: [false; 6],
        }
    }

    /// Reads this host's sysctls under `root` and the peer's from
    /// [`PEER_ENV`]; a malformed variable is ignored with the reason
    /// returned for a one-line warning.
    pub fn read(root: &Path) -> (Hosts, Option<String>) {
        let here = TcpTimers::read(root);
        match std::env::var(PEER_ENV) {
            Ok(spec) => match Hosts::with_peer(here, &spec) {
                Ok(h) => (h, None),
                Err(e) => (Hosts::same(here), Some(format!("ignoring {PEER_ENV}: {e}"))),
            },
            Err(_) => (Hosts::same(here), None),
        }
    }

    /// This host's settings, and the peer's as `spec` gives them.
    pub fn with_peer(here: TcpTimers, spec: &str) -> Result<Hosts, String> {
        let mut h = Hosts::same(here);
        for item in spec
            .split(|c: char| c == ',' || c.is_ascii_whitespace())
            .filter(|i| !i.is_empty())
        {
            let (name, value) = item
                .split_once('=')
                .ok_or_else(|| format!("`{item}' is not NAME=VALUE"))?;
            let name = name.strip_prefix("net.ipv4.").unwrap_or(name);
            let (i, knob) = Knob::ALL
                .iter()
                .enumerate()
                .find(|(_, k)| k.name() == name)
                .ok_or_else(|| format!("unknown setting `{name}'"))?;
            let value: i64 = value
                .parse()
                .ok()
                .filter(|v| (0..=1_000_000).contains(v))
                .ok_or_else(|| format!("bad value `{value}' for {name}"))?;
            *knob.slot(&mut h.peer) = Some(value);
            h.given[i] = true;
        }
        Ok(h)
    }

    /// The settings of `host`.
    pub fn timers(&self, host: Host) -> &TcpTimers {
        match host {
            Host::Here => &self.here,
            Host::Peer => &self.peer,
        }
    }

    /// Whether the peer's `knob` was given rather than assumed.
    pub fn peer_given(&self, knob: Knob) -> bool {
        Knob::ALL
            .iter()
            .position(|k| *k == knob)
            .is_some_and(|i| self.given[i])
    }

    /// The knob as a text quotes it, saying whose value it is:
    /// `tcp_synack_retries=5` (this host), `the server's
    /// tcp_synack_retries=2 from RNET_PEER_SYSCTL`, or `tcp_synack_retries=5
    /// if the server has it as this host does`. `peer` names the other end
    /// ("the server").
    pub fn knob_text(&self, host: Host, knob: Knob, peer: &str) -> String {
        self.knobs_text(host, &[knob], peer)
    }

    /// Several knobs of one host, as [`Hosts::knob_text`] words one:
    /// `tcp_syn_retries=6, tcp_syn_linear_timeouts=4 if the client has
    /// them as this host does`. The linear-timeouts knob is left out where
    /// this host's kernel has none.
    pub fn knobs_text(&self, host: Host, knobs: &[Knob], peer: &str) -> String {
        let t = self.timers(host);
        let shown: Vec<Knob> = knobs
            .iter()
            .copied()
            .filter(|k| *k != Knob::SynLinearTimeouts || self.here.syn_linear_timeouts.is_some())
            .collect();
        let list = |ks: &[Knob]| {
            ks.iter()
                .map(|k| format!("{}={}", k.name(), k.value(t)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if host == Host::Here {
            return list(&shown);
        }
        let (given, assumed): (Vec<Knob>, Vec<Knob>) =
            shown.iter().partition(|k| self.peer_given(**k));
        let mut parts = Vec::new();
        if !given.is_empty() {
            parts.push(format!("{peer}'s {} from {PEER_ENV}", list(&given)));
        }
        if !assumed.is_empty() {
            parts.push(format!(
                "{} if {peer} has {} as this host does",
                list(&assumed),
                if assumed.len() == 1 { "it" } else { "them" }
            ));
        }
        parts.join(", ")
    }
}

/// When a connection whose segment goes unacknowledged gives up: see
/// [`unacked_give_up`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GiveUp {
    /// The kernel's budget, [`model_timeout`] from [`RTO_MIN_SECS`].
    pub budget: f64,
    /// For a retransmitted segment, the end when the timers have run late
    /// enough to reach the budget (seconds after the segment was first
    /// sent); `None` for a probed one.
    pub early: Option<f64>,
    /// The end otherwise: one doubling later for a retransmitted segment,
    /// the budget itself for a probed one.
    pub late: f64,
}

/// When a connection whose segment (a FIN, or data) goes unacknowledged
/// gives up, in seconds after the segment was first sent, for a budget of
/// `boundary` retransmissions from [`RTO_MIN_SECS`] (`tcp_orphan_retries`,
/// or `tcp_retries2` while the program holds the socket) on a short path.
///
/// `probe`: this host's own output refuses the segment, so nothing is in
/// flight and the zero-window probe timer runs (`tcp_probe_timer()` in the
/// kernel's `net/ipv4/tcp_timer.c`): it gives up when `boundary` probes,
/// sent after 0.2, 0.4, 0.8 … s, found no way out, which is exactly the
/// [`model_timeout`] budget.
///
/// Otherwise the segment left and is retransmitted
/// (`tcp_retransmit_timer()`, `retransmits_timed_out()`): a tail-loss probe
/// resends it after about 0.2 s, the first retransmission follows one
/// timeout (0.2 s) later, and the timeouts then double (capped at
/// [`RTO_MAX_SECS`]). The connection gives up at the first timeout that
/// finds the budget used up *since the first retransmission*. The
/// `boundary`-th timeout after it falls 0.2 s short of the budget, so the
/// end comes there only if the kernel's timers have run 0.2 s late by then
/// (they fire up to an eighth of their length late, which long waits
/// always reach), else one doubling later.
/// Measured on Linux 6.18 (seconds from the FIN): `tcp_orphan_retries` 1:
/// 1.69 (late 1.6); 2: 3.33 (late 3.2); 3: 6.67 (late 6.4); 4: 6.73 (early
/// 6.4); 5: 13.49 (early 12.8); 0 (8): about 107 (early 102.4).
pub fn unacked_give_up(boundary: u32, probe: bool) -> GiveUp {
    let budget = model_timeout(boundary, RTO_MIN_SECS);
    if probe {
        return GiveUp {
            budget,
            early: None,
            late: budget,
        };
    }
    let first = 2.0 * RTO_MIN_SECS;
    let mut elapsed = 0.0;
    let mut early = None;
    for k in 1..=boundary.saturating_add(1).min(64) {
        elapsed += (RTO_MIN_SECS * 2f64.powi(k as i32)).min(RTO_MAX_SECS as f64);
        if elapsed >= budget - 1e-9 {
            break;
        }
        early = Some(first + elapsed);
    }
    GiveUp {
        budget,
        early,
        late: first + elapsed,
    }
}

/// When the (SYN or SYN|ACK) retransmissions of a handshake happen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SynSchedule {
    /// Segments sent in all (the first one plus every retransmission).
    pub sent: u32,
    /// Seconds from the first send to the last retransmission.
    pub last_at: u64,
    /// Seconds from the first send until the attempt is given up
    /// (nominal: the kernel's timers fire up to an eighth of their length
    /// late, so observed times run a few seconds longer).
    pub timeout: u64,
}

/// The send times (seconds after the first) of an active open's SYNs and
/// the time it gives up, for `retries` = `tcp_syn_retries` and `linear` =
/// `tcp_syn_linear_timeouts`: the gap before each retransmission is 1 s for
/// the first `linear + 1`, then doubles (capped at [`RTO_MAX_SECS`]); the
/// kernel retransmits at most `retries + linear` times and gives up at the
/// first timeout that finds the [`model_timeout`] of `retries` from 1 s used
/// up. With Linux 6.5+ defaults (6, 4): 11 SYNs, the last at 67 s, given up
/// at 131 s; before 6.5 (6, 0): 7 SYNs, the last at 63 s, given up at 127 s.
pub fn syn_send_times(retries: i64, linear: i64) -> (Vec<u64>, u64) {
    let retries = retries.clamp(0, 127) as u32;
    let linear = linear.clamp(0, 127) as u32;
    let max_retransmits = retries + linear;
    let budget = model_timeout(retries, TIMEOUT_INIT_SECS as f64).round() as u64;
    let gap = |i: u32| -> u64 {
        if i <= linear + 1 {
            TIMEOUT_INIT_SECS
        } else {
            1u64.checked_shl(i - linear - 1)
                .unwrap_or(RTO_MAX_SECS)
                .min(RTO_MAX_SECS)
        }
    };
    let mut times = vec![0u64];
    let mut t = 0u64;
    loop {
        let done = times.len() as u32 - 1;
        let fire = t.saturating_add(gap(done + 1));
        if done >= max_retransmits || fire >= budget {
            return (times, fire);
        }
        t = fire;
        times.push(t);
    }
}

/// The schedule for `retries` retransmissions whose first `linear`
/// back-offs are not doubled: see [`syn_send_times`].
pub fn syn_schedule(retries: i64, linear: i64) -> SynSchedule {
    let (times, timeout) = syn_send_times(retries, linear);
    SynSchedule {
        sent: times.len() as u32,
        last_at: times.last().copied().unwrap_or(0),
        timeout,
    }
}

/// Where a server's SYN|ACKs are lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SynAckLoss {
    /// On the way or at the client (the client's INPUT chain, a router):
    /// the server's sends succeed, so its request lives its full time.
    Wire,
    /// In the server's own OUTPUT chain: the send fails, and a request
    /// whose timed resend fails is discarded at once.
    ServerOutput,
}

/// What a server does while its SYN|ACKs never reach the client, which
/// keeps resending its SYN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SynRecvLife {
    /// SYN|ACKs the server sends (or tries to send) in all: one for each
    /// SYN that arrives, plus one at each expiry of the request's timer.
    pub synacks: u32,
    /// Each request socket (a `SYN_RECV` row) as (created, discarded), in
    /// seconds after the client's first SYN.
    pub requests: Vec<(u64, u64)>,
}

impl SynRecvLife {
    /// When the last request is discarded: the end of `SYN_RECV`.
    pub fn end(&self) -> u64 {
        self.requests.last().map_or(0, |r| r.1)
    }
}

/// The server side of a handshake whose SYN|ACKs are lost, request socket
/// by request socket, as the kernel runs it (`reqsk_timer_handler()` in
/// `net/ipv4/inet_connection_sock.c`, `tcp_check_req()` in
/// `net/ipv4/tcp_minisocks.c`): a SYN creates a request and is answered
/// with a SYN|ACK; the request's timer fires after 1 s, then 2, 4, … (each
/// time resending the SYN|ACK), and on the firing that finds
/// `synack_retries` resends done it discards the request. A repeated SYN
/// that finds the request is answered at once and pushes the timer back by
/// the current timeout; a SYN that comes after the request is gone creates
/// a new one. With [`SynAckLoss::ServerOutput`] the first timed resend
/// fails and discards the request (the row flickers). `syns` are the
/// client's SYN times (see [`syn_send_times`]); where a timer and a SYN
/// fall in the same second the timer goes first, as seen on Linux.
pub fn synrecv_life(syns: &[u64], synack_retries: i64, loss: SynAckLoss) -> SynRecvLife {
    struct Req {
        start: u64,
        fired: u32,
        expires: u64,
    }
    let max = synack_retries.clamp(0, 255) as u32;
    let timeout = |fired: u32| {
        TIMEOUT_INIT_SECS
            .checked_shl(fired)
            .unwrap_or(RTO_MAX_SECS)
            .min(RTO_MAX_SECS)
    };
    let mut life = SynRecvLife {
        synacks: 0,
        requests: Vec::new(),
    };
    let mut req: Option<Req> = None;
    let mut next = syns.iter().copied().peekable();
    loop {
        let syn = next.peek().copied();
        if let Some(r) = req.as_mut().filter(|r| syn.is_none_or(|s| r.expires <= s)) {
            // The request's timer fires (first, when a SYN comes in the
            // same second).
            if r.fired >= max {
                life.requests.push((r.start, r.expires));
                req = None;
                continue;
            }
            life.synacks += 1;
            if loss == SynAckLoss::ServerOutput {
                life.requests.push((r.start, r.expires));
                req = None;
                continue;
            }
            r.fired += 1;
            r.expires += timeout(r.fired);
            continue;
        }
        let Some(s) = syn else { return life };
        next.next();
        life.synacks += 1;
        match &mut req {
            None => {
                req = Some(Req {
                    start: s,
                    fired: 0,
                    expires: s + TIMEOUT_INIT_SECS,
                })
            }
            Some(r) if loss == SynAckLoss::Wire => r.expires = s + timeout(r.fired),
            Some(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syn_schedule_matches_the_kernel_for_small_retries() {
        // Observed: 6 SYNs and 7.1 s with tcp_syn_retries=2, 3 SYNs and 3 s
        // with 1 (Linux 6.18, tcp_syn_linear_timeouts=4).
        let two = syn_schedule(2, 4);
        assert_eq!((two.sent, two.timeout), (6, 7));
        let one = syn_schedule(1, 4);
        assert_eq!((one.sent, one.timeout), (3, 3));
    }

    #[test]
    fn orphan_give_up_follows_the_sysctl() {
        let t = |n| TcpTimers {
            orphan_retries: Some(n),
            ..TcpTimers::default()
        };
        assert!((t(2).orphan_give_up_secs() - 1.4).abs() < 1e-9);
        assert!((t(0).orphan_give_up_secs() - 102.2).abs() < 1e-9);
        assert!((t(8).orphan_give_up_secs() - 102.2).abs() < 1e-9);
    }

    #[test]
    fn schedules_match_the_kernel_documentation() {
        // ip-sysctl: before 6.5, 63 s to the last SYN, 127 s to the timeout.
        assert_eq!(
            syn_schedule(6, 0),
            SynSchedule {
                sent: 7,
                last_at: 63,
                timeout: 127
            }
        );
        // 6.5+: gaps 1,1,1,1,1,2,4,8,16,32 (67 s), then 64 s: 131 s, 11 SYNs.
        assert_eq!(
            syn_schedule(6, 4),
            SynSchedule {
                sent: 11,
                last_at: 67,
                timeout: 131
            }
        );
        // SYN|ACK: 1+2+4+8+16 = 31 s to the last, 63 s in all.
        assert_eq!(syn_schedule(5, 0).timeout, 63);
        assert_eq!(syn_schedule(2, 0).timeout, 7);
        assert_eq!(syn_schedule(-3, -1).sent, 1);
    }

    #[test]
    fn synrecv_outlives_the_synack_retries_while_the_client_retries() {
        // Measured on Linux 6.18 with the SYN|ACK dropped at the client's
        // INPUT, defaults on both hosts: 21 SYN|ACKs, SYN_RECV from 0 to
        // about 131 s, the first request gone at 67 s just as the
        // client's last SYN starts a second one.
        let (syns, give_up) = syn_send_times(6, 4);
        assert_eq!(syns, [0, 1, 2, 3, 4, 5, 7, 11, 19, 35, 67]);
        assert_eq!(give_up, 131);
        let life = synrecv_life(&syns, 5, SynAckLoss::Wire);
        assert_eq!(life.synacks, 21);
        assert_eq!(life.requests, [(0, 67), (67, 130)]);
        // A client that stops early leaves the request its own 63 s.
        assert_eq!(synrecv_life(&[0], 5, SynAckLoss::Wire).requests, [(0, 63)]);
        assert_eq!(synrecv_life(&[0], 5, SynAckLoss::Wire).synacks, 6);
    }

    #[test]
    fn synrecv_flickers_when_the_server_drops_its_own_synack() {
        // Scenario 6 of the lab: each SYN makes a request that the failed
        // resend discards after 1 s; 0-6 s looks continuous.
        let (syns, _) = syn_send_times(6, 4);
        let life = synrecv_life(&syns, 5, SynAckLoss::ServerOutput);
        assert_eq!(life.requests.len(), 11);
        assert_eq!(life.requests[6], (7, 8));
        assert_eq!(life.end(), 68);
        assert_eq!(life.synacks, 22);
    }

    #[test]
    fn give_up_times_follow_the_kernels_timers() {
        // The probe timer counts probes: exactly the budget (3 retries:
        // measured 3.10 s on Linux 6.18).
        let GiveUp {
            budget,
            early,
            late,
        } = unacked_give_up(3, true);
        assert!((budget - 3.0).abs() < 1e-9 && early.is_none() && late == budget);
        // Retransmissions: seconds from the FIN to the socket's end,
        // measured on Linux 6.18 with the FIN dropped at the peer's INPUT.
        for (n, measured) in [
            (1, 1.69),
            (2, 3.33),
            (3, 6.67),
            (4, 6.73),
            (5, 13.49),
            (8, 107.0),
        ] {
            let GiveUp { early, late, .. } = unacked_give_up(n, false);
            let near = |x: f64| measured >= x - 0.05 && measured <= x * 1.15 + 2.0;
            assert!(
                early.is_some_and(near) || near(late),
                "{n}: measured {measured}, predicted {early:?} or {late}"
            );
        }
        assert_eq!(unacked_give_up(3, false).early, Some(3.2));
        assert!((unacked_give_up(3, false).late - 6.4).abs() < 1e-9);
        // tcp_retries2=15: the 120 s cap keeps the 0.2 s shortfall.
        let GiveUp {
            budget: b,
            early: e,
            late: l,
        } = unacked_give_up(15, false);
        assert!((b - 924.6).abs() < 1e-6);
        assert!((e.unwrap() - 924.8).abs() < 1e-6 && (l - 1044.8).abs() < 1e-6);
    }

    #[test]
    fn model_timeout_is_the_kernels_budget() {
        assert_eq!(model_timeout(6, 1.0), 127.0);
        assert_eq!(model_timeout(2, 1.0), 7.0);
        assert_eq!(model_timeout(8, 1.0), 127.0 + 2.0 * 120.0);
        assert!((model_timeout(8, 0.2) - 102.2).abs() < 1e-9);
        assert!((model_timeout(15, 0.2) - 924.6).abs() < 1e-9);
    }

    #[test]
    fn peer_settings_are_given_or_assumed() {
        let here = TcpTimers {
            synack_retries: Some(5),
            ..TcpTimers::default()
        };
        let h = Hosts::same(here);
        assert_eq!(
            h.knob_text(Host::Peer, Knob::SynackRetries, "the server"),
            "tcp_synack_retries=5 if the server has it as this host does"
        );
        let h = Hosts::with_peer(here, "net.ipv4.tcp_synack_retries=2, tcp_syn_retries=3").unwrap();
        assert_eq!(h.peer.synack_retries, Some(2));
        assert_eq!(h.here.synack_retries, Some(5));
        assert_eq!(
            h.knob_text(Host::Peer, Knob::SynackRetries, "the server"),
            "the server's tcp_synack_retries=2 from RNET_PEER_SYSCTL"
        );
        assert_eq!(
            h.knob_text(Host::Here, Knob::SynackRetries, "the server"),
            "tcp_synack_retries=5"
        );
        let h = Hosts::with_peer(
            TcpTimers {
                syn_linear_timeouts: Some(4),
                ..here
            },
            "tcp_syn_retries=3",
        )
        .unwrap();
        assert_eq!(
            h.knobs_text(
                Host::Peer,
                &[Knob::SynRetries, Knob::SynLinearTimeouts],
                "the client"
            ),
            "the client's tcp_syn_retries=3 from RNET_PEER_SYSCTL, tcp_syn_linear_timeouts=4 if the client has it as this host does"
        );
        assert!(Hosts::with_peer(here, "tcp_bogus=1").is_err());
        assert!(Hosts::with_peer(here, "tcp_syn_retries").is_err());
        assert!(Hosts::with_peer(here, "tcp_syn_retries=-1").is_err());
        assert_eq!(Knob::SynLinearTimeouts.value(&TcpTimers::default()), 0);
    }

    #[test]
    fn orphan_retries_zero_means_eight() {
        let t = TcpTimers::default();
        assert_eq!(t.orphan_retries_effective(), 8);
        let t = TcpTimers {
            orphan_retries: Some(3),
            ..TcpTimers::default()
        };
        assert_eq!(t.orphan_retries_effective(), 3);
    }
}
