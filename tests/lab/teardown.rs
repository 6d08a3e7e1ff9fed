//! Scenarios 4 and 8 to 16: the teardown states of the article's Part 2,
//! refused and reset connections, and simultaneous open.

use std::thread;
use std::time::{Duration, Instant};

use crate::setup::{
    check_time_wait_countdown, connected, listen, PORT, RNC_LEFT_BEHIND_TOO_EARLY, SOON,
};
use rnet_testkit::labkit::{Row, Scene, Side};
use rnet_testkit::netns::{CLIENT_V4, SERVER_V4};
use rnet_testkit::rules::{
    FIN_DROP, LAST_ACK_DROP, PSH_RESET, REFUSE, REJECT_PLAIN, SERVER_FIN_DROP, SILENT_DROP,
    SIMULTANEOUS_OPEN,
};

/// Measures how long `state` stays on `side` from now on, polling
/// `rnetstat -nato`; returns (seconds, largest retransmission or probe
/// count, timer kinds seen).
fn lifetime(scene: &Scene, side: Side, state: &str, limit: Duration) -> (f64, u32, Vec<String>) {
    let start = Instant::now();
    let mut retrans = 0;
    let mut kinds: Vec<String> = Vec::new();
    let gone = scene.wait_rows(
        side,
        "-nato",
        PORT,
        &format!("{state} gone"),
        limit,
        |rows: &[Row]| match rows.iter().find(|r| r.state == state) {
            Some(r) => {
                retrans = retrans.max(r.retries_or_probes().unwrap_or(0));
                if let Some(k) = &r.timer_kind {
                    if !kinds.contains(k) {
                        kinds.push(k.clone());
                    }
                }
                None
            }
            None => Some(Instant::now()),
        },
    );
    let secs = gone.duration_since(start).as_secs_f64();
    scene.note(&format!(
        "{}: {state} lasted {secs:.2} s more, up to {retrans} retransmissions, timers {kinds:?}",
        side.name()
    ));
    (secs, retrans, kinds)
}

#[test]
fn scenario_04_server_closes_first() {
    let Some(scene) = Scene::new(
        "scenario_04_server_closes_first",
        "scenario 4 (server closes first)",
    ) else {
        return;
    };
    scene.lower(Side::Server, "net.ipv4.tcp_fin_timeout", 3);
    let (mut srv, mut cli) = connected(&scene);
    srv.ctrl_c();
    let fw2 = scene.wait_state_timer(Side::Server, PORT, "FIN_WAIT2", SOON);
    let since = Instant::now();
    scene.agree(Side::Client, PORT, "CLOSE_WAIT", &cli, SOON);
    scene.same_as_netstat(Side::Server, PORT);
    scene.narrates(&srv, "FIN_WAIT2", RNC_LEFT_BEHIND_TOO_EARLY);
    // Orphaned: the listening rnc is gone, its LISTEN too, and the
    // FIN_WAIT2 runs on tcp_fin_timeout (a `timewait` timer).
    scene.ok(srv.wait_exit(SOON));
    scene.expect_states(Side::Server, PORT, &["FIN_WAIT2"]);
    scene.check(
        fw2.timer_kind.as_deref() == Some("timewait") && fw2.timer_secs() <= Some(3.0),
        || {
            format!(
                "orphaned FIN_WAIT2 timer should be timewait (<= 3 s): {}",
                fw2.timer_text()
            )
        },
    );
    let note = fw2.note.clone().unwrap_or_default();
    scene.check(note.contains("orphaned"), || {
        format!("FIN_WAIT2 note: {note}")
    });
    let (rest, _, _) = lifetime(&scene, Side::Server, "FIN_WAIT2", Duration::from_secs(8));
    let lived = since.elapsed().as_secs_f64();
    scene.check((1.5..=5.5).contains(&lived), || {
        format!("FIN_WAIT2 lasted {lived:.2} s ({rest:.2} after the first look); tcp_fin_timeout=3")
    });
    // The connecting rnc keeps its CLOSE_WAIT until its input ends.
    scene.expect_states(Side::Client, PORT, &["CLOSE_WAIT"]);
    scene.check(cli.running(), || "the connecting rnc must still run".into());
    cli.ctrl_d();
    // Its FIN meets no socket: the server answers RST, nothing is left.
    let mut seen = Vec::new();
    scene.wait_rows(
        Side::Client,
        "-nat",
        PORT,
        "client socket gone",
        SOON,
        |rows| {
            seen.extend(rows.iter().map(|r| r.state.clone()));
            rows.is_empty().then_some(())
        },
    );
    scene.check(!seen.iter().any(|s| s == "TIME_WAIT"), || {
        format!("after the RST the client must not reach TIME_WAIT: {seen:?}")
    });
    scene.ok(cli.wait_exit(SOON));
    scene.expect_states(Side::Server, PORT, &[]);
    scene.pass();
}

#[test]
fn scenario_08_fin_wait1() {
    let Some(scene) = Scene::new("scenario_08_fin_wait1", "scenario 8 (FIN_WAIT1)") else {
        return;
    };
    // FIN retransmissions of the orphan: 2 instead of 8.
    scene.lower(Side::Client, "net.ipv4.tcp_orphan_retries", 2);
    let (_srv, mut cli) = connected(&scene);
    scene.rfw(Side::Client, &FIN_DROP.insert());
    cli.ctrl_c();
    scene.agree(Side::Client, PORT, "FIN_WAIT1", &cli, SOON);
    scene.ok(cli.wait_exit(SOON));
    let (secs, retrans, _) = lifetime(&scene, Side::Client, "FIN_WAIT1", Duration::from_secs(20));
    scene.check(secs <= 15.0, || {
        format!("FIN_WAIT1 lasted {secs:.2} s with tcp_orphan_retries=2")
    });
    scene.check(retrans >= 1, || {
        "rnetstat -nato should count FIN retransmissions (or probes) in FIN_WAIT1".into()
    });
    scene.check(secs >= 0.3, || {
        format!("FIN_WAIT1 ended after only {secs:.2} s")
    });
    scene.check(
        !scene
            .states(Side::Client, PORT)
            .contains(&"TIME_WAIT".to_string()),
        || "the FIN never got through: no TIME_WAIT".into(),
    );
    // The server never learns: half-open.
    scene.expect_states(Side::Server, PORT, &["LISTEN", "ESTABLISHED"]);
    scene.same_as_netstat(Side::Server, PORT);
    scene.pass();
}

#[test]
fn scenario_09_fin_wait2_close_wait() {
    let Some(scene) = Scene::new(
        "scenario_09_fin_wait2_close_wait",
        "scenario 9 (FIN_WAIT2 / CLOSE_WAIT)",
    ) else {
        return;
    };
    scene.lower(Side::Client, "net.ipv4.tcp_fin_timeout", 3);
    let (mut srv, mut cli) = connected(&scene);
    srv.ctrl_z();
    cli.ctrl_c();
    let fw2 = scene.agree_or(
        Side::Client,
        PORT,
        "FIN_WAIT2",
        &cli,
        SOON,
        RNC_LEFT_BEHIND_TOO_EARLY,
    );
    let since = Instant::now();
    scene.wait_state(Side::Server, PORT, "CLOSE_WAIT", SOON);
    scene.same_as_netstat(Side::Server, PORT);
    scene.ok(cli.wait_exit(SOON));
    let note = fw2.note.clone().unwrap_or_default();
    scene.check(note.contains("orphaned"), || {
        format!("FIN_WAIT2 note: {note}")
    });
    lifetime(&scene, Side::Client, "FIN_WAIT2", Duration::from_secs(8));
    let lived = since.elapsed().as_secs_f64();
    scene.check((1.5..=5.5).contains(&lived), || {
        format!("orphaned FIN_WAIT2 lasted {lived:.2} s; tcp_fin_timeout=3")
    });
    // The stopped server holds CLOSE_WAIT for as long as it is stopped.
    scene.expect_states(Side::Server, PORT, &["LISTEN", "CLOSE_WAIT"]);
    srv.fg();
    // Its FIN now meets no socket: RST, and the server's socket goes.
    scene.wait_no_rows(Side::Server, PORT, SOON);
    scene.ok(srv.wait_exit(SOON));
    scene.expect_states(Side::Client, PORT, &[]);
    scene.pass();
}

#[test]
fn scenario_10_half_close() {
    let Some(scene) = Scene::new("scenario_10_half_close", "scenario 10 (half-close)") else {
        return;
    };
    // Lowered to show it does not apply: the socket is not orphaned.
    scene.lower(Side::Client, "net.ipv4.tcp_fin_timeout", 2);
    let mut srv = listen(&scene);
    srv.ctrl_z();
    let mut cli = scene.rnc(
        Side::Client,
        "client rnc",
        &["--explain", "-N", SERVER_V4, "5555"],
    );
    scene.agree(Side::Client, PORT, "ESTABLISHED", &cli, SOON);
    cli.ctrl_d();
    let fw2 = scene.agree(Side::Client, PORT, "FIN_WAIT2", &cli, SOON);
    scene.wait_state(Side::Server, PORT, "CLOSE_WAIT", SOON);
    scene.same_as_netstat(Side::Server, PORT);
    let note = fw2.note.clone().unwrap_or_default();
    scene.check(note.contains("still holds the socket"), || {
        format!("a half-closed FIN_WAIT2 has no timer; note: {note}")
    });
    // Twice tcp_fin_timeout later nothing has changed.
    thread::sleep(Duration::from_secs(4));
    scene.expect_states(Side::Client, PORT, &["FIN_WAIT2"]);
    scene.expect_states(Side::Server, PORT, &["LISTEN", "CLOSE_WAIT"]);
    let row = scene.wait_state_timer(Side::Client, PORT, "FIN_WAIT2", SOON);
    scene.check(row.timer_kind.as_deref() == Some("off"), || {
        format!("no timer runs on a held FIN_WAIT2: {}", row.timer_text())
    });
    scene.check(cli.running(), || {
        "rnc -N keeps reading after its FIN".into()
    });
    srv.fg();
    // The server reads EOF, ends and sends its FIN: TIME_WAIT here.
    scene.agree(Side::Client, PORT, "TIME_WAIT", &cli, SOON);
    scene.ok(cli.wait_exit(SOON));
    scene.ok(srv.wait_exit(SOON));
    scene.wait_no_rows(Side::Server, PORT, SOON);
    check_time_wait_countdown(&scene, Side::Client, None);
    scene.pass();
}

#[test]
fn scenario_11_last_ack_final_ack_lost() {
    let Some(scene) = Scene::new(
        "scenario_11_last_ack_final_ack_lost",
        "scenario 11 (LAST_ACK, final ACK lost)",
    ) else {
        return;
    };
    scene.lower(Side::Server, "net.ipv4.tcp_orphan_retries", 2);
    let (srv, mut cli) = connected(&scene);
    srv.ctrl_z();
    cli.ctrl_c();
    scene.agree_or(
        Side::Client,
        PORT,
        "FIN_WAIT2",
        &cli,
        SOON,
        RNC_LEFT_BEHIND_TOO_EARLY,
    );
    scene.wait_state(Side::Server, PORT, "CLOSE_WAIT", SOON);
    scene.ok(cli.wait_exit(SOON));
    scene.rfw(Side::Client, &LAST_ACK_DROP.insert());
    srv.fg();
    scene.wait_state(Side::Server, PORT, "LAST_ACK", SOON);
    scene.same_as_netstat(Side::Server, PORT);
    scene.ok(srv.wait_said("LAST_ACK", SOON));
    let first_tw = scene.wait_state_timer(Side::Client, PORT, "TIME_WAIT", SOON);
    // Every retransmitted FIN restarts TIME_WAIT: its countdown jumps up.
    let mut prev = first_tw.timer_secs().unwrap_or(0.0);
    let mut restarts = 0;
    let mut retrans = 0;
    let start = Instant::now();
    let mut last_ack_gone = None;
    while start.elapsed() < Duration::from_secs(15) {
        let client = scene.rows(Side::Client, "-nato", PORT);
        if let Some(t) = client
            .iter()
            .find(|r| r.state == "TIME_WAIT")
            .and_then(Row::timer_secs)
        {
            if t > prev + 0.1 {
                restarts += 1;
                scene.note(&format!("client TIME_WAIT restarted: {prev:.2} -> {t:.2}"));
            }
            prev = t;
        }
        let server = scene.rows(Side::Server, "-nato", PORT);
        match server.iter().find(|r| r.state == "LAST_ACK") {
            Some(r) => retrans = retrans.max(r.retransmissions().unwrap_or(0)),
            None => {
                last_ack_gone = Some(start.elapsed().as_secs_f64());
                break;
            }
        }
        thread::sleep(rnet_testkit::labkit::POLL);
    }
    scene.note(&format!(
        "server LAST_ACK gone after {last_ack_gone:?} s, {retrans} FIN retransmissions; {restarts} TIME_WAIT restarts"
    ));
    scene.check(last_ack_gone.is_some(), || {
        "LAST_ACK should end within 15 s with tcp_orphan_retries=2".into()
    });
    scene.check(retrans >= 1 && restarts >= 1, || {
        format!("expected FIN retransmissions in LAST_ACK ({retrans}) each restarting the client's TIME_WAIT ({restarts})")
    });
    scene.expect_states(Side::Client, PORT, &["TIME_WAIT"]);
    scene.expect_states(Side::Server, PORT, &[]);
    scene.pass();
}

#[test]
fn scenario_12_last_ack_server_fin_lost() {
    let Some(scene) = Scene::new(
        "scenario_12_last_ack_server_fin_lost",
        "scenario 12 (LAST_ACK, server FIN lost)",
    ) else {
        return;
    };
    scene.lower(Side::Server, "net.ipv4.tcp_orphan_retries", 2);
    scene.lower(Side::Client, "net.ipv4.tcp_orphan_retries", 2);
    scene.lower(Side::Client, "net.ipv4.tcp_fin_timeout", 3);
    let (mut srv, mut cli) = connected(&scene);
    scene.rfw(Side::Server, &SERVER_FIN_DROP.insert());
    cli.ctrl_c();
    scene.wait_state(Side::Server, PORT, "LAST_ACK", SOON);
    scene.same_as_netstat(Side::Server, PORT);
    scene.ok(srv.wait_said("LAST_ACK", SOON));
    scene.ok(srv.wait_exit(SOON));
    // Racy by nature: the server's ACK may ride on the dropped FIN.
    let client_state = scene.wait_rows(
        Side::Client,
        "-nat",
        PORT,
        "FIN_WAIT2 or FIN_WAIT1",
        SOON,
        |rows| {
            rows.iter()
                .find(|r| r.state == "FIN_WAIT2" || r.state == "FIN_WAIT1")
                .map(|r| r.state.clone())
        },
    );
    scene.narrates(&cli, &client_state, RNC_LEFT_BEHIND_TOO_EARLY);
    scene.ok(cli.wait_exit(SOON));
    let (secs, _, kinds) = lifetime(&scene, Side::Server, "LAST_ACK", Duration::from_secs(40));
    scene.check(kinds.iter().any(|k| k == "probe"), || {
        format!("a FIN refused by the server's own OUTPUT shows a probe timer; saw {kinds:?}")
    });
    scene.check(secs <= 35.0, || format!("LAST_ACK lasted {secs:.2} s"));
    scene.wait_no_rows(Side::Client, PORT, Duration::from_secs(10));
    scene.pass();
}

#[test]
fn scenario_13_closing() {
    let Some(scene) = Scene::new("scenario_13_closing", "scenario 13 (CLOSING)") else {
        return;
    };
    let (mut srv, mut cli) = connected(&scene);
    scene.rfw(Side::Client, &FIN_DROP.insert());
    cli.ctrl_c();
    scene.agree(Side::Client, PORT, "FIN_WAIT1", &cli, SOON);
    scene.expect_states(Side::Server, PORT, &["LISTEN", "ESTABLISHED"]);
    srv.ctrl_c();
    let closing = scene.wait_state(Side::Client, PORT, "CLOSING", SOON);
    scene.same_as_netstat(Side::Client, PORT);
    let note = closing.note.clone().unwrap_or_default();
    scene.check(note.contains("simultaneous close"), || {
        format!("CLOSING note: {note}")
    });
    scene.wait_state(Side::Server, PORT, "FIN_WAIT2", SOON);
    scene.ok(srv.wait_said("FIN_WAIT2", SOON));
    scene.ok(srv.wait_exit(SOON));
    scene.ok(cli.wait_exit(SOON));
    // CLOSING holds while the rule drops our FIN.
    thread::sleep(Duration::from_millis(700));
    scene.expect_states(Side::Client, PORT, &["CLOSING"]);
    scene.rfw(Side::Client, &FIN_DROP.delete());
    // The next FIN retransmission gets through: TIME_WAIT on both sides.
    scene.wait_state(Side::Client, PORT, "TIME_WAIT", Duration::from_secs(15));
    scene.wait_state(Side::Server, PORT, "TIME_WAIT", SOON);
    scene.same_as_netstat(Side::Client, PORT);
    scene.same_as_netstat(Side::Server, PORT);
    check_time_wait_countdown(&scene, Side::Client, None);
    check_time_wait_countdown(&scene, Side::Server, None);
    scene.pass();
}

/// `rnc --explain -v 198.18.0.2 5555` expecting `failure`, within `within`.
fn connect_fails(scene: &Scene, label: &str, extra: &[&str], failure: &str, within: f64) {
    let mut args = vec!["--explain", "-v"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&[SERVER_V4, "5555"]);
    let mut cli = scene.rnc(Side::Client, label, &args);
    let (st, at) = scene.ok(cli.wait_exit(Duration::from_secs(10)));
    let took = at.duration_since(cli.started()).as_secs_f64();
    let want = format!("rnc: connect to 198.18.0.2 port 5555 (tcp) {failure}");
    scene.check(st.code() == Some(1) && cli.stderr().contains(&want), || {
        format!(
            "{label}: expected `{want}` and exit 1, got {st}:\n{}",
            cli.stderr()
        )
    });
    scene.check(took <= within, || format!("{label}: took {took:.2} s"));
    scene.check(
        cli.said().last().map(String::as_str) == Some("CLOSED"),
        || format!("{label}: rnc should narrate CLOSED: {:?}", cli.said()),
    );
    scene.expect_states(Side::Client, PORT, &[]);
}

#[test]
fn scenario_14_refused() {
    let Some(scene) = Scene::new("scenario_14_refused", "scenario 14 (refused)") else {
        return;
    };
    connect_fails(
        &scene,
        "no listener",
        &[],
        "failed: Connection refused",
        1.5,
    );
    let _srv = listen(&scene);
    scene.rfw(Side::Server, &REFUSE.insert());
    connect_fails(&scene, "tcp-reset", &[], "failed: Connection refused", 1.5);
    scene.expect_states(Side::Server, PORT, &["LISTEN"]);
    scene.rfw(Side::Server, &REFUSE.delete());
    scene.rfw(Side::Server, &REJECT_PLAIN.insert());
    connect_fails(
        &scene,
        "plain REJECT",
        &[],
        "failed: Connection refused",
        1.5,
    );
    scene.rfw(Side::Server, &REJECT_PLAIN.delete());
    scene.rfw(Side::Server, &SILENT_DROP.insert());
    connect_fails(
        &scene,
        "DROP with -w 1",
        &["-w", "1"],
        "timed out: Operation now in progress",
        3.0,
    );
    scene.expect_states(Side::Server, PORT, &["LISTEN"]);
    scene.same_as_netstat(Side::Server, PORT);
    scene.pass();
}

#[test]
fn scenario_15_reset_mid_connection() {
    let Some(scene) = Scene::new(
        "scenario_15_reset_mid_connection",
        "scenario 15 (RST on an established connection)",
    ) else {
        return;
    };
    let (_srv, mut cli) = connected(&scene);
    scene.rfw(Side::Server, &PSH_RESET.insert());
    cli.type_line("hello");
    scene.wait_no_rows(Side::Client, PORT, SOON);
    let (status, _) = scene.ok(cli.wait_exit(SOON));
    scene.ok(cli.wait_said("CLOSED", SOON));
    // nc exits silently with status 0; rnc says that the peer reset the
    // connection before it finished sending, in one line, and exits 1
    // (docs/compat.md): besides its narration, that line and nothing else.
    let other: Vec<String> = cli
        .stderr()
        .lines()
        .filter(|l| rnet_testkit::labkit::explain_state(l).is_none())
        .map(str::to_string)
        .collect();
    scene.check(
        other == ["rnc: read from network: Connection reset by peer"],
        || format!("rnc must say the reset in one line: {other:?}"),
    );
    scene.check(status.code() == Some(1), || {
        format!("rnc must exit 1 after a reset: {status}")
    });
    // The server never learns: half-open.
    thread::sleep(Duration::from_millis(500));
    scene.expect_states(Side::Server, PORT, &["LISTEN", "ESTABLISHED"]);
    scene.same_as_netstat(Side::Server, PORT);
    scene.pass();
}

#[test]
fn scenario_16_simultaneous_open() {
    let Some(scene) = Scene::new(
        "scenario_16_simultaneous_open",
        "scenario 16 (simultaneous open)",
    ) else {
        return;
    };
    scene.rfw(Side::Server, &SIMULTANEOUS_OPEN.insert());
    let cli = scene.rnc(
        Side::Client,
        "client rnc",
        &["--explain", "-v", "-p", "6001", SERVER_V4, "6002"],
    );
    scene.wait_state(Side::Client, 6002, "SYN_SENT", SOON);
    scene.ok(cli.wait_said("SYN_SENT", SOON));
    let srv = scene.rnc(
        Side::Server,
        "server rnc",
        &["--explain", "-v", "-p", "6002", CLIENT_V4, "6001"],
    );
    scene.agree(Side::Client, 6002, "ESTABLISHED", &cli, SOON);
    scene.agree(Side::Server, 6002, "ESTABLISHED", &srv, SOON);
    scene.expect_states(Side::Client, 6002, &["ESTABLISHED"]);
    scene.expect_states(Side::Server, 6002, &["ESTABLISHED"]);
    for (nc, host, port) in [(&cli, SERVER_V4, 6002), (&srv, CLIENT_V4, 6001)] {
        let want = format!("Connection to {host} {port} port [tcp/");
        scene.check(
            nc.stderr()
                .lines()
                .any(|l| l.starts_with(&want) && l.ends_with("succeeded!")),
            || format!("expected `{want}…] succeeded!`:\n{}", nc.stderr()),
        );
    }
    scene.pass();
}
