//! The lab, end to end: every scenario of README.md's table "Teardown and
//! the other scenarios" (the article's Exercises 1 and 2 and the teardown states of
//! its Part 2), run with rnc, rnetstat and rfw only, each in a client and
//! a server network namespace of its own (client 198.18.0.1, server
//! 198.18.0.2, joined by a veth; no other address carries traffic, and
//! every firewall rule goes into those namespaces).
//!
//! Each scenario asserts the state each side shows in `rnetstat -nat` as
//! soon as it appears (polled every 50 ms under a deadline), that the
//! real `netstat -nat` shows the same rows where it is installed, and that
//! the `--explain` annotations of rnetstat and of rnc name the same state.
//! Keystrokes are signals: Ctrl-C is SIGINT, Ctrl-Z SIGSTOP, `fg` SIGCONT,
//! Ctrl-D closing rnc's stdin (a pipe the test holds). Durations are
//! checked against per-namespace sysctls lowered for speed
//! (`tcp_syn_retries`, `tcp_syn_linear_timeouts`, `tcp_synack_retries`,
//! `tcp_fin_timeout`, `tcp_orphan_retries`); TIME_WAIT cannot be
//! shortened, so its countdown is read from `rnetstat -nato`.
//!
//! Needs root, `ip` and `iptables`; otherwise every test prints why it is
//! skipped (a failure with `RNET_REQUIRE_LAB=1`). Binaries: `$RNC_BIN`,
//! `$RNETSTAT_BIN`, `$RFW_BIN`, else `target/<profile>/` (run
//! `cargo build --workspace --bins` first). Each test prints
//! `lab: scenario N (...): PASS in X s` on stderr.

#[path = "lab/setup.rs"]
mod setup;

#[path = "lab/teardown.rs"]
mod teardown;
