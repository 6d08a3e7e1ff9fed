//! The sentences of `rnetstat --watch` (`rnet_core::explain::transition`)
//! against what the kernel really reports: short connections on loopback in
//! a namespace of the test's own, every state change recorded by the
//! tracepoint `sock:inet_sock_set_state` (a private tracefs instance), and
//! the socket table read from `/proc` where a sentence says what the table
//! shows.
//!
//! - every pair the kernel reported has a sentence of its own (never the
//!   generic one for an unusual move), and the pairs of each scene are the
//!   ones the texts are written for (so a kernel that reports differently
//!   fails here, not on a learner's screen);
//! - FIN_WAIT2 -> CLOSE: the sentence says the socket became a small
//!   timewait socket, TIME_WAIT or an orphaned FIN_WAIT2, "the socket table
//!   shows which": checked in both cases, and CLOSING -> CLOSE with TIME_WAIT
//!   in the table after a simultaneous close;
//! - SYN_SENT -> CLOSE after SYNs dropped by this namespace's OUTPUT chain:
//!   the give-up time the sentence quotes against the tracepoint's clock,
//!   within [nominal - 1 s, nominal x 1.15 + 2 s] as tests/explain_truth.rs.
//!
//! Every event is printed with its sentence (`TRUTH` lines, see them with
//! `--nocapture`). Network rule: loopback inside the test's namespace only;
//! the iptables rules live in that namespace and die with it; the tracefs
//! instance is private and removed on drop. Needs root, `ip`, `iptables`
//! and tracefs, else it says why it skips (a failure with
//! `RNET_REQUIRE_LAB=1`).

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use rnet_core::explain::duration;
use rnet_core::explain::transition::{transition, Point, Role, Seen};
use rnet_core::tcp_state::TcpState;
use rnet_core::timing::{Hosts, TcpTimers};
use rnet_testkit::netns::Netns;
use rnet_testkit::tracefs::{StateEvent, StateTrace};

/// The scenes' listening ports (below the ephemeral range, so no client
/// port can take one).
const FIRST: u16 = 4731;
const LAST: u16 = 4736;

/// tcp_fin_timeout in the test's namespace (seconds).
const FIN_TIMEOUT: u64 = 3;

fn state(name: &str) -> TcpState {
    TcpState::from_name(name).unwrap_or_else(|| panic!("unknown state {name}"))
}

fn iptables(ns: &Netns, ipt: &Path, args: &[&str]) {
    let mut full = vec!["-w", "5"];
    full.extend_from_slice(args);
    ns.run_ok(ipt, &full, Duration::from_secs(10));
}

/// The state code of `port`'s connection to or from `peer` in the
/// namespace's table (`None`: no row).
fn table_state(ns: &Netns, local: u16, remote: u16) -> Option<u8> {
    ns.proc_rows(&["tcp"])
        .expect("read /proc/net/tcp in the namespace")
        .iter()
        .find(|r| r.local_port == local && r.remote_port == remote)
        .map(|r| r.state)
}

/// Waits until the trace has an event `old -> new` on `sport`.
fn wait_event(trace: &StateTrace, sport: u16, old: &str, new: &str) -> StateEvent {
    trace
        .wait_for(Duration::from_secs(10), |e| {
            e.src.port() == sport && e.old == old && e.new == new
        })
        .unwrap_or_else(|| panic!("no {old} -> {new} on port {sport}:\n{}", trace.text()))
}

/// A connected pair on loopback: (client, accepted server socket).
fn pair(ns: &Netns, l: &TcpListener) -> (TcpStream, TcpStream) {
    let addr = l.local_addr().expect("listener address");
    let c = ns
        .run_in(move || TcpStream::connect(addr))
        .expect("enter the namespace")
        .expect("connect on loopback");
    let (s, _) = l.accept().expect("accept");
    (c, s)
}

fn listen(ns: &Netns, port: u16) -> TcpListener {
    ns.run_in(move || TcpListener::bind(("127.0.0.1", port)))
        .expect("enter the namespace")
        .expect("listen on loopback")
}

#[test]
fn every_transition_the_kernel_reports_has_its_own_sentence() {
    let test = "every_transition_the_kernel_reports_has_its_own_sentence";
    let Some(env) = rnet_testkit::lab_or_skip(test, &["iptables"]) else {
        return;
    };
    let ipt = env.program("iptables").to_path_buf();
    let ns = Netns::create(&env.ip, "watchtxt").expect("namespace");
    // Lowered so every scene ends in seconds: 3 SYNs, given up at 3 s; an
    // orphaned FIN given up after 1.4 s; an orphaned FIN_WAIT2 kept 3 s.
    for (k, v) in [
        ("net.ipv4.tcp_syn_retries", "1"),
        ("net.ipv4.tcp_orphan_retries", "2"),
        ("net.ipv4.tcp_fin_timeout", &FIN_TIMEOUT.to_string()),
    ] {
        ns.sysctl(k, v).expect("sysctl");
    }
    let timers = ns
        .run_in(|| TcpTimers::read(Path::new("/proc")))
        .expect("read the namespace's sysctls");
    let hosts = Hosts::same(timers);
    let filter =
        format!("(sport >= {FIRST} && sport <= {LAST}) || (dport >= {FIRST} && dport <= {LAST})");
    let trace = match StateTrace::start("watchtxt", &filter) {
        Ok(t) => t,
        Err(e) => return rnet_testkit::skip(test, &format!("no tracefs instance: {e}")),
    };
    let mut checks: Vec<String> = Vec::new();

    // 1. The client closes first, then the server: Exercise 1.
    let l = listen(&ns, 4731);
    let (mut c, mut s) = pair(&ns, &l);
    let cport = c.local_addr().unwrap().port();
    c.write_all(b"x").unwrap();
    let mut one = [0u8; 1];
    s.read_exact(&mut one).unwrap();
    drop(c);
    wait_event(&trace, 4731, "ESTABLISHED", "CLOSE_WAIT");
    assert_eq!(s.read(&mut one).unwrap(), 0, "end of file after the FIN");
    drop(s);
    wait_event(&trace, cport, "FIN_WAIT2", "CLOSE");
    wait_event(&trace, 4731, "LAST_ACK", "CLOSE");
    assert_eq!(
        table_state(&ns, cport, 4731),
        Some(0x06),
        "the client's FIN_WAIT2 -> CLOSE is TIME_WAIT in the table"
    );
    checks.push("scene 1: FIN_WAIT2 -> CLOSE shows TIME_WAIT in the table".into());
    drop(l);
    wait_event(&trace, 4731, "LISTEN", "CLOSE");

    // 2. The server closes first and the client stays in CLOSE_WAIT. As
    // the ACK of its FIN is processed, the orphaned FIN_WAIT2 becomes a
    // timewait socket (FIN_WAIT2 -> CLOSE at once, the table still shows
    // FIN_WAIT2, until tcp_fin_timeout), or, when the ACK is processed while
    // close() still holds the socket, it stays a full socket until
    // tcp_fin_timeout and then resets the peer (FIN_WAIT2 -> CLOSE then).
    let l = listen(&ns, 4732);
    let (c, s) = pair(&ns, &l);
    let cport2 = c.local_addr().unwrap().port();
    drop(s);
    let fw2 = wait_event(&trace, 4732, "FIN_WAIT1", "FIN_WAIT2");
    assert_eq!(
        table_state(&ns, 4732, cport2),
        Some(0x05),
        "the orphan is FIN_WAIT2 in the table"
    );
    let end = trace
        .wait_for(Duration::from_secs(FIN_TIMEOUT + 5), |e| {
            e.src.port() == 4732 && e.old == "FIN_WAIT2" && e.new == "CLOSE"
        })
        .unwrap_or_else(|| panic!("no FIN_WAIT2 -> CLOSE:\n{}", trace.text()));
    let after = (end.ts_us - fw2.ts_us) as f64 / 1e6;
    if after < 1.0 {
        assert_eq!(
            table_state(&ns, 4732, cport2),
            Some(0x05),
            "after FIN_WAIT2 -> CLOSE at once the table shows the timewait FIN_WAIT2"
        );
        checks.push(format!(
            "scene 2: FIN_WAIT2 -> CLOSE {after:.3} s after FIN_WAIT2, the table still shows FIN_WAIT2"
        ));
    } else {
        let ft = FIN_TIMEOUT as f64;
        assert!(
            after >= ft - 1.0 && after <= ft * 1.15 + 2.0,
            "FIN_WAIT2 -> CLOSE {after:.2} s after FIN_WAIT2, tcp_fin_timeout={FIN_TIMEOUT}"
        );
        assert_eq!(table_state(&ns, 4732, cport2), None);
        wait_event(&trace, cport2, "CLOSE_WAIT", "CLOSE");
        checks.push(format!(
            "scene 2: FIN_WAIT2 -> CLOSE {after:.2} s after FIN_WAIT2 (tcp_fin_timeout), the peer reset"
        ));
    }
    drop(c);
    drop(l);

    // 3. A simultaneous close: both FINs held at INPUT, then let through.
    let l = listen(&ns, 4733);
    let (c, s) = pair(&ns, &l);
    let cport3 = c.local_addr().unwrap().port();
    for dir in ["--dport", "--sport"] {
        iptables(
            &ns,
            &ipt,
            &[
                "-A",
                "INPUT",
                "-p",
                "tcp",
                dir,
                "4733",
                "--tcp-flags",
                "FIN",
                "FIN",
                "-j",
                "DROP",
            ],
        );
    }
    drop(c);
    drop(s);
    wait_event(&trace, 4733, "ESTABLISHED", "FIN_WAIT1");
    wait_event(&trace, cport3, "ESTABLISHED", "FIN_WAIT1");
    iptables(&ns, &ipt, &["-F", "INPUT"]);
    // Both FINs resent at once cross (CLOSING on both sides); if one
    // arrives first, its sender passes FIN_WAIT2 and only the other
    // CLOSING. Either way both end in TIME_WAIT.
    let mut closing = 0;
    for port in [4733, cport3] {
        let end = trace
            .wait_for(Duration::from_secs(10), |e| {
                e.src.port() == port && e.new == "CLOSE"
            })
            .unwrap_or_else(|| panic!("no end of {port}'s close:\n{}", trace.text()));
        closing += usize::from(end.old == "CLOSING");
    }
    assert!(closing >= 1, "no CLOSING:\n{}", trace.text());
    assert_eq!(table_state(&ns, 4733, cport3), Some(0x06));
    assert_eq!(table_state(&ns, cport3, 4733), Some(0x06));
    checks.push(format!(
        "scene 3: CLOSING -> CLOSE on {closing} side(s), TIME_WAIT on both in the table"
    ));
    drop(l);

    // 4. Refused: nothing listens on 4734.
    let refused = ns
        .run_in(|| TcpStream::connect(("127.0.0.1", 4734)))
        .expect("enter the namespace");
    assert!(refused.is_err(), "nothing listens on 4734");
    trace
        .wait_for(Duration::from_secs(5), |e| {
            e.dst.port() == 4734 && e.old == "SYN_SENT" && e.new == "CLOSE"
        })
        .expect("SYN_SENT -> CLOSE of the refused connect");

    // 5. Every SYN dropped by this host's OUTPUT chain: given up.
    iptables(
        &ns,
        &ipt,
        &[
            "-A",
            "OUTPUT",
            "-p",
            "tcp",
            "--dport",
            "4735",
            "--tcp-flags",
            "SYN",
            "SYN",
            "-j",
            "DROP",
        ],
    );
    let started = Instant::now();
    let timed_out = ns
        .run_in(|| {
            TcpStream::connect_timeout(&"127.0.0.1:4735".parse().unwrap(), Duration::from_secs(20))
        })
        .expect("enter the namespace");
    assert!(timed_out.is_err(), "the SYNs are dropped");
    assert!(started.elapsed() < Duration::from_secs(15));
    let born = trace
        .wait_for(Duration::from_secs(5), |e| {
            e.dst.port() == 4735 && e.new == "SYN_SENT"
        })
        .expect("CLOSE -> SYN_SENT on 4735");
    let ended = trace
        .wait_for(Duration::from_secs(5), |e| {
            e.dst.port() == 4735 && e.old == "SYN_SENT" && e.new == "CLOSE"
        })
        .expect("SYN_SENT -> CLOSE on 4735");
    let measured = (ended.ts_us - born.ts_us) as f64 / 1e6;
    let (_, give_up) = hosts.here.syn_send_times();
    let sentence = transition(
        Point::State(TcpState::SynSent),
        Point::State(TcpState::Close),
        Role::Client,
        Seen::Tracepoint,
        &hosts,
    );
    assert!(
        sentence.contains(&format!("within {}", duration(give_up as f64))),
        "{sentence}"
    );
    let nominal = give_up as f64;
    assert!(
        measured >= nominal - 1.0 && measured <= nominal * 1.15 + 2.0,
        "SYN_SENT lasted {measured:.2} s, the sentence says {nominal} s"
    );
    checks.push(format!(
        "scene 5: SYN_SENT -> CLOSE after {measured:.2} s, the sentence says {}",
        duration(nominal)
    ));
    iptables(&ns, &ipt, &["-F", "OUTPUT"]);

    // 6. Resets: a server closes with unread data, while ESTABLISHED and
    // then in CLOSE_WAIT.
    let l = listen(&ns, 4736);
    let (mut c, s) = pair(&ns, &l);
    c.write_all(b"unread").unwrap();
    thread::sleep(Duration::from_millis(50));
    drop(s);
    wait_event(&trace, 4736, "ESTABLISHED", "CLOSE");
    drop(c);
    let (mut c, s) = pair(&ns, &l);
    // The server never reads: the data and the FIN wait in its queue.
    c.write_all(b"unread").unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    wait_event(&trace, 4736, "ESTABLISHED", "CLOSE_WAIT");
    drop(s);
    wait_event(&trace, 4736, "CLOSE_WAIT", "CLOSE");
    drop(c);
    drop(l);
    thread::sleep(Duration::from_millis(100));

    // Every event on this namespace's loopback has a sentence of its own.
    let mut pairs = BTreeSet::new();
    for e in trace.events() {
        let loopback = |a: &SocketAddr| a.ip().is_loopback() || a.ip().is_unspecified();
        if !(loopback(&e.src) && loopback(&e.dst)) {
            continue;
        }
        let role = if e.dst.port() == 0 {
            Role::Listener
        } else if (FIRST..=LAST).contains(&e.src.port()) {
            Role::Server
        } else {
            Role::Client
        };
        let (old, new) = (state(&e.old), state(&e.new));
        let text = transition(
            Point::State(old),
            Point::State(new),
            role,
            Seen::Tracepoint,
            &hosts,
        );
        eprintln!(
            "TRUTH {}:{} {} -> {} ({role:?}): {text}",
            e.src.port(),
            e.dst.port(),
            e.old,
            e.new
        );
        assert!(
            !text.starts_with("an unusual move") && !text.starts_with("still "),
            "the kernel reported {} -> {}, which has no sentence of its own: {text}",
            e.old,
            e.new
        );
        pairs.insert(format!("{}->{}", e.old, e.new));
    }
    for want in [
        "CLOSE->LISTEN",
        "LISTEN->CLOSE",
        "CLOSE->SYN_SENT",
        "SYN_SENT->ESTABLISHED",
        "SYN_SENT->CLOSE",
        "LISTEN->SYN_RECV",
        "SYN_RECV->ESTABLISHED",
        "ESTABLISHED->FIN_WAIT1",
        "FIN_WAIT1->FIN_WAIT2",
        "FIN_WAIT1->CLOSING",
        "FIN_WAIT2->CLOSE",
        "CLOSING->CLOSE",
        "ESTABLISHED->CLOSE_WAIT",
        "CLOSE_WAIT->LAST_ACK",
        "LAST_ACK->CLOSE",
        "ESTABLISHED->CLOSE",
        "CLOSE_WAIT->CLOSE",
    ] {
        assert!(
            pairs.contains(want),
            "the kernel never reported {want}: {pairs:?}\n{}",
            trace.text()
        );
    }
    for c in &checks {
        eprintln!("TRUTH {c}");
    }
    // The namespace and the trace are removed by their guards.
}
