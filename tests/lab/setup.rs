//! Scenarios 1 to 3 (Exercise 1: listen, connect, client closes) and 5 to
//! 7 (Exercise 2: the handshake cut by a firewall), plus the helpers the
//! teardown scenarios share.

use std::time::{Duration, Instant};

use rnet_testkit::labkit::{syn_schedule, Nc, Scene, Side};
use rnet_testkit::netns::SERVER_V4;
use rnet_testkit::rules::{SYNACK_DROP, SYN_DROP};

/// The article's port.
pub const PORT: u16 = 5555;
/// Deadline for a state that follows at once from an action.
pub const SOON: Duration = Duration::from_secs(5);

/// Diagnosis printed when rnc's narration of the state it left behind
/// misses the state rnetstat shows.
pub const RNC_LEFT_BEHIND_TOO_EARLY: &str =
    "TOOL BUG (rnc --explain): after close() rnc looks its \
4-tuple up in /proc/net/tcp once, at once. The state the article expects comes a moment later: \
FIN_WAIT2 after the peer's ACK, which is a delayed ACK (tens of ms) when the peer enters \
CLOSE_WAIT; TIME_WAIT after the peer program's own FIN. So rnc reports a transient FIN_WAIT1 \
('our FIN is not yet acknowledged: the kernel keeps retransmitting it') or FIN_WAIT2 while \
rnetstat and netstat show the settled state. rnc should re-read the state while it is \
FIN_WAIT1 (about one RTO, 200 ms) and say what may follow, before narrating.";

/// S: `rnc --explain -l 5555`; LISTEN on the server, in rnetstat, netstat
/// and rnc's narration.
pub fn listen(scene: &Scene) -> Nc {
    let srv = scene.rnc(Side::Server, "server rnc", &["--explain", "-l", "5555"]);
    scene.agree(Side::Server, PORT, "LISTEN", &srv, SOON);
    srv
}

/// Scenario 2's scene: a listener and a connected client, ESTABLISHED on
/// both sides.
pub fn connected(scene: &Scene) -> (Nc, Nc) {
    let srv = listen(scene);
    let cli = scene.rnc(
        Side::Client,
        "client rnc",
        &["--explain", SERVER_V4, "5555"],
    );
    scene.agree(Side::Client, PORT, "ESTABLISHED", &cli, SOON);
    scene.agree(Side::Server, PORT, "ESTABLISHED", &srv, SOON);
    (srv, cli)
}

/// Lowers the client's SYN schedule to `tcp_syn_retries=1`,
/// `tcp_syn_linear_timeouts=1`: 3 SYNs, one a second, given up at 4 s.
/// Returns (SYNs, seconds to the failure).
pub fn short_syn_schedule(scene: &Scene) -> (u32, u64) {
    scene.lower(Side::Client, "net.ipv4.tcp_syn_retries", 1);
    scene.lower(Side::Client, "net.ipv4.tcp_syn_linear_timeouts", 1);
    let (sent, _, timeout) = syn_schedule(1, 1);
    (sent, timeout)
}

/// Checks a connect that timed out: rnc's nc-style message and status,
/// its time against the schedule, and its narration (SYN_SENT with the
/// predicted number of SYNs, every SYN resent, then the failure).
pub fn check_timed_out(scene: &Scene, cli: &mut Nc, sent: u32, timeout: u64) {
    let (status, at) = scene.ok(cli.wait_exit(Duration::from_secs(timeout + 10)));
    let took = at.duration_since(cli.started()).as_secs_f64();
    let err = cli.stderr();
    scene.check(status.code() == Some(1), || {
        format!("rnc must exit 1 after a connect timeout, got {status}")
    });
    scene.check(
        err.contains("rnc: connect to 198.18.0.2 port 5555 (tcp) failed: Connection timed out"),
        || format!("rnc's timeout message is missing:\n{err}"),
    );
    scene.check(
        took >= timeout as f64 - 0.5 && took <= timeout as f64 + 3.0,
        || format!("connect gave up after {took:.2} s; the lowered sysctls predict {timeout} s"),
    );
    let predicted = format!("sends {sent} SYNs in all");
    scene.check(
        cli.lines_about("SYN_SENT")
            .iter()
            .any(|l| l.contains(&predicted)),
        || format!("rnc's SYN_SENT line should predict {sent} SYNs:\n{err}"),
    );
    let retrans = cli
        .lines_about("SYN_SENT")
        .iter()
        .filter(|l| l.contains("SYN resent"))
        .count();
    scene.check(retrans as u32 == sent - 1, || {
        format!(
            "rnc narrated {retrans} SYNs resent, expected {}:\n{err}",
            sent - 1
        )
    });
    scene.note(&format!("connect timed out after {took:.2} s"));
}

#[test]
fn scenario_01_listen() {
    let Some(scene) = Scene::new("scenario_01_listen", "scenario 1 (listen, Ex 1)") else {
        return;
    };
    let srv = listen(&scene);
    let rows = scene.rows(Side::Server, "-nat", PORT);
    scene.check(
        rows.len() == 1
            && rows[0].local == "0.0.0.0:5555"
            && rows[0].foreign == "0.0.0.0:*"
            && rows[0].proto == "tcp",
        || format!("expected one LISTEN 0.0.0.0:5555 0.0.0.0:*, got {rows:#?}"),
    );
    scene.expect_states(Side::Client, PORT, &[]);
    scene.check(srv.stderr().contains("listening on 0.0.0.0:5555"), || {
        format!("rnc's LISTEN line: {}", srv.stderr())
    });
    scene.pass();
}

#[test]
fn scenario_02_connected() {
    let Some(scene) = Scene::new("scenario_02_connected", "scenario 2 (connected, Ex 1)") else {
        return;
    };
    let (_srv, cli) = connected(&scene);
    scene.expect_states(Side::Server, PORT, &["LISTEN", "ESTABLISHED"]);
    scene.expect_states(Side::Client, PORT, &["ESTABLISHED"]);
    scene.check(
        cli.said().first().map(String::as_str) == Some("SYN_SENT"),
        || {
            format!(
                "the client's narration starts with SYN_SENT: {:?}",
                cli.said()
            )
        },
    );
    scene.pass();
}

#[test]
fn scenario_03_client_closes_first() {
    let Some(scene) = Scene::new(
        "scenario_03_client_closes_first",
        "scenario 3 (client closes first, Ex 1)",
    ) else {
        return;
    };
    let (mut srv, mut cli) = connected(&scene);
    cli.ctrl_c();
    let tw = scene.wait_state_timer(Side::Client, PORT, "TIME_WAIT", SOON);
    // The listening rnc exits on the peer's EOF, taking LISTEN with it.
    scene.wait_no_rows(Side::Server, PORT, SOON);
    scene.same_as_netstat(Side::Client, PORT);
    scene.same_as_netstat(Side::Server, PORT);
    scene.narrates(&cli, "TIME_WAIT", RNC_LEFT_BEHIND_TOO_EARLY);
    let (st, _) = scene.ok(srv.wait_exit(SOON));
    scene.check(st.success(), || {
        format!("the listening rnc exits 0 on EOF, got {st}")
    });
    let (st, _) = scene.ok(cli.wait_exit(SOON));
    scene.check(st.code().is_none(), || {
        format!("Ctrl-C ends rnc by SIGINT as it does nc, got {st}")
    });
    // 2MSL: 60 s, fixed; read its countdown instead of waiting for it.
    check_time_wait_countdown(&scene, Side::Client, tw.timer_secs());
    scene.pass();
}

/// TIME_WAIT's `-o` timer is `timewait`, counts down from 60 s, and ticks:
/// a second reading a second later is about a second lower.
pub fn check_time_wait_countdown(scene: &Scene, side: Side, first: Option<f64>) {
    let row = scene.wait_state_timer(side, PORT, "TIME_WAIT", SOON);
    let first_secs = first.or(row.timer_secs()).unwrap_or(-1.0);
    scene.check(
        row.timer_kind.as_deref() == Some("timewait") && (50.0..=60.0).contains(&first_secs),
        || {
            format!(
                "TIME_WAIT timer should be timewait (5x.xx/0/0): {}",
                row.timer_text()
            )
        },
    );
    let t0 = Instant::now();
    let a = row.timer_secs().unwrap_or(0.0);
    std::thread::sleep(Duration::from_millis(1000));
    let b = scene
        .wait_state_timer(side, PORT, "TIME_WAIT", SOON)
        .timer_secs()
        .unwrap_or(0.0);
    let dt = t0.elapsed().as_secs_f64();
    scene.check((a - b - dt).abs() < 0.5, || {
        format!("TIME_WAIT countdown went from {a:.2} to {b:.2} in {dt:.2} s")
    });
    let note = scene
        .rows(side, "-nat", PORT)
        .into_iter()
        .find(|r| r.state == "TIME_WAIT")
        .and_then(|r| r.note)
        .unwrap_or_default();
    scene.check(note.contains("s left of the fixed 60 s"), || {
        format!("rnetstat's TIME_WAIT note: {note}")
    });
}

#[test]
fn scenario_05_syn_dropped_at_client() {
    let Some(scene) = Scene::new(
        "scenario_05_syn_dropped_at_client",
        "scenario 5 (SYN dropped at client OUTPUT, Ex 2a)",
    ) else {
        return;
    };
    let (sent, timeout) = short_syn_schedule(&scene);
    let _srv = listen(&scene);
    let rule = scene.rfw(Side::Client, &SYN_DROP.insert());
    scene.check(rule.stderr_text().contains("SYN_SENT"), || {
        format!("rfw's explanation names SYN_SENT: {}", rule.stderr_text())
    });
    let mut cli = scene.rnc(
        Side::Client,
        "client rnc",
        &["--explain", "-v", SERVER_V4, "5555"],
    );
    let row = scene.agree(Side::Client, PORT, "SYN_SENT", &cli, SOON);
    scene.check(row.foreign == "198.18.0.2:5555", || format!("{row:?}"));
    // The server never sees the SYN.
    scene.expect_states(Side::Server, PORT, &["LISTEN"]);
    scene.same_as_netstat(Side::Server, PORT);
    // Retransmissions show in -nato while it retries.
    scene.wait_rows(
        Side::Client,
        "-nato",
        PORT,
        "SYN_SENT with a retransmission counted",
        Duration::from_secs(timeout),
        |rows| {
            rows.iter()
                .find(|r| r.state == "SYN_SENT" && r.retransmissions() >= Some(1))
                .cloned()
        },
    );
    check_timed_out(&scene, &mut cli, sent, timeout);
    scene.wait_no_rows(Side::Client, PORT, SOON);
    scene.expect_states(Side::Server, PORT, &["LISTEN"]);
    // iptables -L OUTPUT -vn counts every SYN: 60 bytes each.
    let (pkts, bytes) = scene.rule_counters(Side::Client, "OUTPUT");
    scene.check(pkts == u64::from(sent) && bytes == 60 * pkts, || {
        format!("rfw -L OUTPUT -vn counted {pkts} packets, {bytes} bytes; expected {sent} SYNs of 60 bytes")
    });
    scene.pass();
}

#[test]
fn scenario_06_synack_dropped_at_server_output() {
    let Some(scene) = Scene::new(
        "scenario_06_synack_dropped_at_server_output",
        "scenario 6 (SYN|ACK dropped at server OUTPUT, Ex 2b)",
    ) else {
        return;
    };
    let (sent, timeout) = short_syn_schedule(&scene);
    let _srv = listen(&scene);
    scene.rfw(Side::Server, &SYNACK_DROP.insert());
    let mut cli = scene.rnc(
        Side::Client,
        "client rnc",
        &["--explain", "-v", SERVER_V4, "5555"],
    );
    scene.agree(Side::Client, PORT, "SYN_SENT", &cli, SOON);
    let recv = scene.wait_state(Side::Server, PORT, "SYN_RECV", SOON);
    // The refused SYN|ACK is never counted as sent, and rnetstat says why
    // the row comes and goes.
    let note = recv.note.clone().unwrap_or_default();
    scene.check(note.contains("OUTPUT chain drops the SYN|ACK"), || {
        format!("rnetstat's SYN_RECV note should explain the flicker: {note}")
    });
    check_timed_out(&scene, &mut cli, sent, timeout);
    // The request socket goes with the client's attempts.
    scene.wait_state_gone(Side::Server, PORT, "SYN_RECV", Duration::from_secs(10));
    scene.expect_states(Side::Server, PORT, &["LISTEN"]);
    scene.same_as_netstat(Side::Server, PORT);
    scene.wait_no_rows(Side::Client, PORT, SOON);
    scene.pass();
}

#[test]
fn scenario_07_synack_dropped_at_client_input() {
    let Some(scene) = Scene::new(
        "scenario_07_synack_dropped_at_client_input",
        "scenario 7 (SYN|ACK dropped at client INPUT)",
    ) else {
        return;
    };
    let (sent, timeout) = short_syn_schedule(&scene);
    // SYN|ACKs at 0, 1, 3 s; the request is given up at 7 s.
    scene.lower(Side::Server, "net.ipv4.tcp_synack_retries", 2);
    let (_, _, synack_timeout) = syn_schedule(2, 0);
    let _srv = listen(&scene);
    scene.rfw(Side::Client, &SYNACK_DROP.with(&["-I", "INPUT"]));
    let mut cli = scene.rnc(
        Side::Client,
        "client rnc",
        &["--explain", "-v", SERVER_V4, "5555"],
    );
    scene.agree(Side::Client, PORT, "SYN_SENT", &cli, SOON);
    let first = scene.wait_state(Side::Server, PORT, "SYN_RECV", SOON);
    let appeared = Instant::now();
    scene.same_as_netstat(Side::Server, PORT);
    scene.check(first.local == "198.18.0.2:5555", || format!("{first:?}"));
    // Steady, unlike scenario 6: present at every poll until it expires,
    // its SYN|ACK retransmissions counting up.
    let mut max_retrans = 0;
    let gone = scene.wait_rows(
        Side::Server,
        "-nato",
        PORT,
        "SYN_RECV expired",
        Duration::from_secs(synack_timeout + 8),
        |rows| match rows.iter().find(|r| r.state == "SYN_RECV") {
            Some(r) => {
                max_retrans = max_retrans.max(r.retransmissions().unwrap_or(0));
                None
            }
            None => Some(Instant::now()),
        },
    );
    let lived = gone.duration_since(appeared).as_secs_f64();
    scene.note(&format!(
        "SYN_RECV lived {lived:.2} s, up to {max_retrans} SYN|ACK retransmissions"
    ));
    scene.check(max_retrans >= 2, || {
        format!("SYN_RECV should show its SYN|ACK retransmissions (tcp_synack_retries=2), saw at most {max_retrans}")
    });
    scene.check(
        lived >= synack_timeout as f64 - 1.5 && lived <= synack_timeout as f64 + 4.0,
        || format!("SYN_RECV lived {lived:.2} s; tcp_synack_retries=2 predicts about {synack_timeout} s"),
    );
    check_timed_out(&scene, &mut cli, sent, timeout);
    scene.expect_states(Side::Server, PORT, &["LISTEN"]);
    scene.pass();
}
