//! Every sentence the tools say about TCP states, timers and retries.
//!
//! - [`socket`]: one socket as a listing shows it (rnetstat), from the
//!   kernel's numbers for that socket.
//! - [`conn`]: one connection as its own program lives it (rnc's
//!   `--explain`): the handshake, SYNs resent, the close path and what the
//!   kernel keeps after the close.
//! - [`firewall`]: what a firewall rule does to a TCP connection (rfw),
//!   from a neutral description of the rule and both hosts' settings.
//! - [`counters`]: what the kernel's TCP counters count (rnetstat `-s`).
//! - [`transition`]: one step of a socket's life as `rnetstat --watch`
//!   shows it (`OLD -> NEW`, a segment resent), and what comes next.
//!
//! The figures come from [`crate::timing`] (one formula each); the words
//! for numbers and durations come from this module, so all three tools
//! quote the same figure the same way.

pub mod conn;
pub mod counters;
pub mod firewall;
pub mod socket;
pub mod transition;

pub use socket::{explain_tcp, explain_timer, explain_udp};
pub use transition::{retransmit, transition, Point, Resent, Role, Seen};

/// Seconds with two decimals from USER_HZ ticks, as netstat prints them.
pub fn ticks_to_secs(ticks: u64) -> String {
    format!("{}.{:02}", ticks / 100, ticks % 100)
}

/// `1 byte`, `2 bytes`: a count with its noun.
pub fn plural(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}

/// `1 time`, `5 times`.
pub fn times(n: u64) -> String {
    plural(n, "time", "times")
}

/// A predicted duration as every tool quotes it: one decimal below 10 s
/// (`7.0 s`), whole seconds above (`63 s`), and minutes beside long ones
/// (`131 s (about 2 minutes)`).
pub fn duration(secs: f64) -> String {
    if secs < 10.0 {
        format!("{secs:.1} s")
    } else if secs < 100.0 {
        format!("{secs:.0} s")
    } else {
        format!("{secs:.0} s (about {:.0} minutes)", secs / 60.0)
    }
}

/// What to say beside a predicted time: the kernel's timers run late.
pub const TIMERS_RUN_LATE: &str =
    "the kernel's timers fire up to an eighth of their length late, so allow a few seconds more";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_alike_everywhere() {
        assert_eq!(duration(7.0), "7.0 s");
        assert_eq!(duration(1.4), "1.4 s");
        assert_eq!(duration(63.0), "63 s");
        assert_eq!(duration(102.2), "102 s (about 2 minutes)");
        assert_eq!(duration(131.0), "131 s (about 2 minutes)");
        assert_eq!(duration(924.6), "925 s (about 15 minutes)");
        assert_eq!(times(1), "1 time");
        assert_eq!(plural(2, "byte", "bytes"), "2 bytes");
    }
}
