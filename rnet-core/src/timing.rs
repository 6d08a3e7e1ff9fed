//! Retransmission schedules behind the TCP states a firewall rule freezes:
//! how many SYNs an active open sends and when it gives up, how long a
//! request socket resends its SYN|ACK, how many times an orphaned socket
//! resends its FIN. Pure arithmetic over the sysctl values, so every tool
//! quotes the same numbers; the caller reads the sysctls (see
//! [`crate::procnet::read_sysctl`]) in the network namespace that matters.

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
            self.syn_retries.unwrap_or(6),
            self.syn_linear_timeouts.unwrap_or(0),
        )
    }

    /// The SYN|ACK schedule of a request socket (default 5 retries).
    pub fn synack_schedule(&self) -> SynSchedule {
        syn_schedule(self.synack_retries.unwrap_or(5), 0)
    }

    /// About how long an orphaned socket resends its FIN before giving up:
    /// the retransmission timeout starts near `TCP_RTO_MIN` (0.2 s) on a
    /// short path and doubles, so `n` retries take 0.2 x (2^(n+1) - 1) s
    /// (8 retries: about 102 s; observed 107-108 s; 2 retries: 1.4 s).
    pub fn orphan_give_up_secs(&self) -> f64 {
        let n = self.orphan_retries_effective().clamp(0, 30) as i32;
        0.2 * (2f64.powi(n + 1) - 1.0)
    }

    /// Seconds as the explanations quote them: one decimal below 10 s.
    pub fn secs_text(secs: f64) -> String {
        if secs < 10.0 {
            format!("{secs:.1}")
        } else {
            format!("{secs:.0}")
        }
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

/// When the (SYN or SYN|ACK) retransmissions of a handshake happen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SynSchedule {
    /// Segments sent in all (the first one plus every retransmission).
    pub sent: u32,
    /// Seconds from the first send to the last retransmission.
    pub last_at: u64,
    /// Seconds from the first send until the attempt is given up
    /// (nominal; observed times run a few seconds longer).
    pub timeout: u64,
}

/// The schedule for `retries` retransmissions whose first `linear`
/// back-offs are not doubled (`tcp_syn_linear_timeouts`): an initial
/// timeout of 1 s, gaps of 1 s for the first `linear + 1` retransmissions,
/// then doubling, and a last wait as long as the next gap would be.
/// With Linux 6.5+ defaults (6, 4): 11 SYNs, the last at 67 s, given up at
/// 131 s; before 6.5 (6, 0): 7 SYNs, the last at 63 s, given up at 127 s.
pub fn syn_schedule(retries: i64, linear: i64) -> SynSchedule {
    const RTO_MAX: u64 = 120;
    let retries = retries.clamp(0, 127) as u32;
    let linear = linear.clamp(0, 127) as u32;
    // tcp_write_timeout(): an active open may retransmit its SYN
    // `tcp_syn_retries + tcp_syn_linear_timeouts` times, but it also gives
    // up once the time since the first SYN reaches what `tcp_syn_retries`
    // doubling retransmissions from 1 s would take (tcp_model_timeout):
    // (2^(retries+1) - 1) s, and 120 s per retry beyond the doubling cap.
    let max_retransmits = retries + linear;
    let thresh = 6; // ilog2(TCP_RTO_MAX / TCP_TIMEOUT_INIT) = ilog2(120)
    let model = if retries <= thresh {
        (2u64 << retries) - 1
    } else {
        ((2u64 << thresh) - 1) + u64::from(retries - thresh) * RTO_MAX
    };
    // The gap before the i-th retransmission (1-based): 1 s for the first
    // `linear + 1`, then doubling, capped at TCP_RTO_MAX.
    let gap = |i: u32| -> u64 {
        if i <= linear + 1 {
            1
        } else {
            1u64.checked_shl(i - linear - 1)
                .unwrap_or(RTO_MAX)
                .min(RTO_MAX)
        }
    };
    let (mut t, mut done) = (0u64, 0u32);
    loop {
        let fire = t.saturating_add(gap(done + 1));
        if done >= max_retransmits || fire >= model {
            return SynSchedule {
                sent: done + 1,
                last_at: t,
                timeout: fire,
            };
        }
        t = fire;
        done += 1;
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
        assert_eq!(TcpTimers::secs_text(t(2).orphan_give_up_secs()), "1.4");
        assert_eq!(TcpTimers::secs_text(t(0).orphan_give_up_secs()), "102");
        assert_eq!(TcpTimers::secs_text(t(8).orphan_give_up_secs()), "102");
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
