//! rnet-core: what rnc, rnetstat and rfw know about TCP, in one place.
//!
//! - [`tcp_state`]: the state table (kernel number, netstat and RFC 793
//!   spellings, which side reaches it, what enters and leaves it, the timer
//!   that ends it and its sysctl, a line for learners).
//! - [`procnet`]: streaming, tolerant parsers of `/proc/net` tables, and the
//!   `RNET_PROC_ROOT` seam that points them at a fixture tree.
//! - [`diag`]: the TCP and UDP tables over sock_diag netlink (what `ss`
//!   reads), as the same entries, with kernel-side filters.
//! - [`addr`]: address decoding and glibc-exact IPv6 text.
//! - [`explain`]: every sentence about TCP states, timers and retries.
//! - [`args`]: getopt-compatible tokenizing and Unicode dash repair.
//! - [`timing`]: one formula per figure (SYN schedule, SYN_RECV life,
//!   orphaned FIN, TIME_WAIT) and both hosts' sysctls.
//! - [`names`]: host, service and network lookups through the C library.
//! - [`num`]: numbers read as C's `strtoul` base 0 reads them.
//! - [`procfd`]: which process holds which socket (`/proc/<pid>/fd`), and
//!   the TCP ports processes of one name listen on.
//! - [`os`]: the effective uid, the monotonic clock and `O_NOFOLLOW`.
//! - [`trace`]: the kernel's TCP tracepoints through a private tracefs
//!   instance.
//!
//! This crate has no command-line parser of its own and prints nothing.
//! Its only `unsafe` code is the private `sys` module: safe wrappers, one
//! foreign call per `unsafe` block, over the C library calls std lacks.
#![deny(missing_docs)]

pub mod addr;
pub mod args;
pub mod diag;
pub mod explain;
pub mod names;
pub mod num;
pub mod os;
pub mod procfd;
pub mod procnet;
#[allow(unsafe_code)]
mod sys;
pub mod tcp_state;
pub mod timing;
pub mod trace;

/// The environment variable that turns annotations on (`1`) or off (`0`)
/// in all three tools at once.
pub const EXPLAIN_ENV: &str = "RNET_EXPLAIN";

/// Reads an on/off environment variable: `Some(true)` for `1`, `yes`,
/// `true`, `on`; `Some(false)` for `0`, `no`, `false`, `off`, and for an
/// empty value; `None` when unset or unrecognised.
pub fn env_switch(name: &str) -> Option<bool> {
    switch_value(&std::env::var_os(name)?)
}

/// An on/off value as [`env_switch`] reads it (case and surrounding
/// blanks ignored): `None` when it is neither.
pub fn switch_value(value: &std::ffi::OsStr) -> Option<bool> {
    let v = value.to_string_lossy().trim().to_ascii_lowercase();
    match v.as_str() {
        "1" | "yes" | "true" | "on" => Some(true),
        "" | "0" | "no" | "false" | "off" => Some(false),
        _ => None,
    }
}

/// Whether annotations are on for a tool: its own variable (for example
/// `RNETSTAT_EXPLAIN`) wins over `RNET_EXPLAIN`; off when neither is set.
pub fn explain_from_env(tool_var: &str) -> bool {
    env_switch(tool_var)
        .or_else(|| env_switch(EXPLAIN_ENV))
        .unwrap_or(false)
}
