//! `--watch` polling a fixture tree (RNET_PROC_ROOT): no root, no
//! network. The test rewrites the tree's `tcp` file as the kernel would
//! and checks the rows the watch prints: what appears, changes, is resent
//! and leaves; the ladder of a connection whose two ends are both in the
//! table; `--json`; `--state`; the refusals; and that SIGINT, SIGTERM and
//! a closed stdout end it with status 0. The tracepoint path is tested
//! in namespaces by tests/watch.rs.

use rnet_testkit::running::{In, Out, Running};
use rnet_testkit::signals::Signal;
use rnet_testkit::tempdir::TempDir;
use rnet_testkit::tool_under_test;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const HEADER: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";
const HEADER6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";

/// A `/proc/net/tcp` line: local and remote as `HEX:PORT`, state, retransmits.
fn line(n: usize, local: &str, remote: &str, st: &str, retr: u32) -> String {
    format!(
        "{n:4}: {local} {remote} {st} 00000000:00000000 00:00000000 {retr:08X}     0        0 1{n:04} 1 0000000000000000 100 0 0 10 0\n"
    )
}

const LISTEN: (&str, &str) = ("0100007F:15B3", "00000000:0000");
const CLIENT: (&str, &str) = ("0100007F:9C40", "0100007F:15B3");
const SERVER: (&str, &str) = ("0100007F:15B3", "0100007F:9C40");
const FAR: (&str, &str) = ("010012C6:9C41", "020012C6:0050");

fn write_tcp(root: &Path, lines: &[String]) {
    // Written whole and renamed in, so a read never sees half a file.
    let tmp = root.join("net/tcp.new");
    std::fs::write(&tmp, format!("{HEADER}{}", lines.concat())).unwrap();
    std::fs::rename(&tmp, root.join("net/tcp")).unwrap();
}

fn tree(tag: &str) -> TempDir {
    let dir = TempDir::new(tag).expect("temp dir");
    std::fs::create_dir_all(dir.join("net")).unwrap();
    std::fs::create_dir_all(dir.join("sys/net/ipv4")).unwrap();
    std::fs::write(dir.join("net/tcp6"), HEADER6).unwrap();
    for (k, v) in [
        ("tcp_syn_retries", "6"),
        ("tcp_synack_retries", "5"),
        ("tcp_fin_timeout", "60"),
    ] {
        std::fs::write(dir.join("sys/net/ipv4").join(k), format!("{v}\n")).unwrap();
    }
    write_tcp(dir.path(), &[line(0, LISTEN.0, LISTEN.1, "0A", 0)]);
    dir
}

fn watch(root: &Path, args: &[&str]) -> Running {
    let mut cmd = Command::new(tool_under_test("rnetstat", "RNETSTAT_BIN"));
    cmd.args(args)
        .env("RNET_PROC_ROOT", root)
        .env("LC_ALL", "C")
        .env_remove("RNETSTAT_EXPLAIN")
        .env_remove("RNET_EXPLAIN");
    Running::spawn(cmd, "rnetstat --watch", In::Null, Out::Captured)
}

/// Waits until stdout has `n` lines (at most 5 s).
fn wait_lines(r: &mut Running, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = r.stdout();
        let lines: Vec<String> = text.lines().map(str::to_string).collect();
        if lines.len() >= n || Instant::now() > deadline {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The transition cells of the rows (after the header lines).
fn cells(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l.contains(" -> ") || l.contains(" resent #"))
        .map(|l| l.split_whitespace().skip(4).collect::<Vec<_>>().join(" "))
        .collect()
}

#[test]
fn polling_sees_what_appears_changes_is_resent_and_leaves() {
    let dir = tree("watch-fx");
    let mut r = watch(
        dir.path(),
        &["--watch", "-n", "--interval", "10", "--no-explain"],
    );
    let head = wait_lines(&mut r, 2);
    assert!(
        head[0].starts_with("Source: polling /proc/net/tcp and tcp6 every 10 ms")
            && head[0].contains("RNET_PROC_ROOT is set")
            && head[0].contains("can miss a state that lasts less than 10 ms"),
        "{head:?}"
    );
    assert_eq!(
        head[1],
        "Time(ms)   Proto Local Address           Foreign Address         Transition"
    );
    let l = line(0, LISTEN.0, LISTEN.1, "0A", 0);
    // A connection to another host: a plain row.
    write_tcp(dir.path(), &[l.clone(), line(1, FAR.0, FAR.1, "02", 0)]);
    wait_lines(&mut r, 3);
    write_tcp(dir.path(), &[l.clone(), line(1, FAR.0, FAR.1, "02", 2)]);
    wait_lines(&mut r, 4);
    write_tcp(dir.path(), &[l.clone(), line(1, FAR.0, FAR.1, "01", 0)]);
    wait_lines(&mut r, 5);
    write_tcp(dir.path(), std::slice::from_ref(&l));
    let lines = wait_lines(&mut r, 6);
    r.signal(Signal::Int);
    let st = r.wait(Duration::from_secs(5)).expect("ends on SIGINT");
    assert_eq!(st.code(), Some(0), "{}", r.outcome());
    assert_eq!(
        cells(&lines),
        [
            "new -> SYN_SENT",
            "SYN_SENT, SYN resent #2",
            "SYN_SENT -> ESTABLISHED",
            "ESTABLISHED -> gone"
        ],
        "{lines:#?}"
    );
    let row = &lines[2];
    assert!(
        row.contains("tcp   198.18.0.1:40001        198.18.0.2:80"),
        "{row}"
    );
    // Times are milliseconds since the start, never decreasing.
    let times: Vec<f64> = lines[2..]
        .iter()
        .map(|l| l.split_whitespace().next().unwrap().parse().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
}

#[test]
fn both_ends_in_the_table_make_a_ladder_and_json_has_every_field() {
    let dir = tree("watch-ladder");
    let mut r = watch(dir.path(), &["--watch", "-n", "--interval", "10"]);
    wait_lines(&mut r, 2);
    let l = line(0, LISTEN.0, LISTEN.1, "0A", 0);
    write_tcp(
        dir.path(),
        &[
            l.clone(),
            line(1, CLIENT.0, CLIENT.1, "01", 0),
            line(2, SERVER.0, SERVER.1, "01", 0),
        ],
    );
    let lines = wait_lines(&mut r, 5);
    r.signal(Signal::Term);
    assert_eq!(
        r.wait(Duration::from_secs(5))
            .expect("ends on SIGTERM")
            .code(),
        Some(0)
    );
    assert_eq!(
        lines[2],
        "Time(ms)   Proto Client                  Server                  Client                    | Server",
        "{lines:#?}"
    );
    // Client first, then the server, each with the other's state.
    assert!(
        lines[3].contains("127.0.0.1:40000         127.0.0.1:5555          new -> ESTABLISHED        | ESTABLISHED  client: "),
        "{}",
        lines[3]
    );
    assert!(
        lines[4].contains("127.0.0.1:40000         127.0.0.1:5555          ESTABLISHED               | new -> ESTABLISHED  server: "),
        "{}",
        lines[4]
    );
    assert!(!r.stdout().contains('\x1b'), "no colour into a pipe");

    // The same in JSON.
    let dir = tree("watch-json");
    let mut r = watch(dir.path(), &["--watch", "--json", "--interval", "10"]);
    wait_lines(&mut r, 1);
    write_tcp(
        dir.path(),
        &[
            l,
            line(1, CLIENT.0, CLIENT.1, "01", 0),
            line(2, SERVER.0, SERVER.1, "01", 0),
        ],
    );
    let lines = wait_lines(&mut r, 3);
    r.signal(Signal::Int);
    r.wait(Duration::from_secs(5)).expect("ends");
    assert!(
        lines[0].starts_with("{\"type\":\"source\",\"source\":\"polling\",\"interval_ms\":10,\"note\":\"Source: polling"),
        "{}",
        lines[0]
    );
    let want = "{\"type\":\"transition\",\"time_ms\":";
    assert!(lines[1].starts_with(want), "{}", lines[1]);
    for field in [
        "\"proto\":\"tcp\"",
        "\"local_address\":\"127.0.0.1\",\"local_port\":40000",
        "\"foreign_address\":\"127.0.0.1\",\"foreign_port\":5555",
        "\"old\":\"new\",\"new\":\"ESTABLISHED\"",
        "\"role\":\"client\"",
        "\"peer_state\":\"ESTABLISHED\"",
        "\"annotation\":\"",
    ] {
        assert!(lines[1].contains(field), "{field} in {}", lines[1]);
    }
    assert!(lines.iter().all(|l| l.starts_with('{') && l.ends_with('}')));
}

#[test]
fn state_filter_keeps_rows_that_touch_the_state() {
    let dir = tree("watch-state");
    let mut r = watch(
        dir.path(),
        &[
            "--watch",
            "-n",
            "--interval",
            "10",
            "--no-explain",
            "--state",
            "established",
        ],
    );
    wait_lines(&mut r, 2);
    let l = line(0, LISTEN.0, LISTEN.1, "0A", 0);
    for st in ["02", "01", "04", "05"] {
        write_tcp(dir.path(), &[l.clone(), line(1, FAR.0, FAR.1, st, 0)]);
        std::thread::sleep(Duration::from_millis(150));
    }
    write_tcp(dir.path(), &[l]);
    std::thread::sleep(Duration::from_millis(150));
    r.signal(Signal::Int);
    r.wait(Duration::from_secs(5)).expect("ends");
    let lines: Vec<String> = r.stdout().lines().map(str::to_string).collect();
    assert_eq!(
        cells(&lines),
        ["SYN_SENT -> ESTABLISHED", "ESTABLISHED -> FIN_WAIT1"],
        "{lines:#?}"
    );
}

#[test]
fn refusals_and_bad_intervals() {
    let dir = tree("watch-refuse");
    let bin = tool_under_test("rnetstat", "RNETSTAT_BIN");
    for (args, want) in [
        (
            &["--watch", "-u"][..],
            "rnetstat: --watch follows TCP sockets only",
        ),
        (
            &["--watch", "-x"][..],
            "rnetstat: --watch follows TCP sockets only",
        ),
        (
            &["--watch", "-s"][..],
            "rnetstat: --watch cannot be combined with -s, -r, -i, -M, -g or --summary",
        ),
        (
            &["--watch", "--summary"][..],
            "rnetstat: --watch cannot be combined with -s, -r, -i, -M, -g or --summary",
        ),
        (
            &["--watch", "-p"][..],
            "rnetstat: --watch has no -p, -e or -o columns and runs on its own (no -c)",
        ),
        (
            &["--watch", "-c"][..],
            "rnetstat: --watch has no -p, -e or -o columns and runs on its own (no -c)",
        ),
        (
            &["--watch", "--interval", "0"][..],
            "rnetstat: --interval: bad value `0' (milliseconds, from 1 to 60000)",
        ),
        (
            &["--watch", "--interval=60001"][..],
            "rnetstat: --interval: bad value `60001' (milliseconds, from 1 to 60000)",
        ),
        (
            &["--watch", "--interval", "+5"][..],
            "rnetstat: --interval: bad value `+5' (milliseconds, from 1 to 60000)",
        ),
    ] {
        let out = Command::new(&bin)
            .args(args)
            .env("RNET_PROC_ROOT", dir.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3), "{args:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!("{want}\n"),
            "{args:?}"
        );
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn a_closed_stdout_ends_the_watch_quietly() {
    let dir = tree("watch-epipe");
    let mut cmd = Command::new(tool_under_test("rnetstat", "RNETSTAT_BIN"));
    cmd.args(["--watch", "-n", "--interval", "10"])
        .env("RNET_PROC_ROOT", dir.path());
    let mut r = Running::spawn(cmd, "rnetstat --watch | head -2", In::Null, Out::Piped);
    let mut out = std::io::BufReader::new(r.take_stdout());
    let mut first = String::new();
    std::io::BufRead::read_line(&mut out, &mut first).unwrap();
    assert!(first.starts_with("Source: polling"), "{first}");
    // Close our end of its stdout: the next poll sees the pipe broken
    // even though nothing changes, and it leaves with status 0.
    drop(out);
    let st = r
        .wait(Duration::from_secs(5))
        .expect("ends when nobody reads");
    assert_eq!(st.code(), Some(0), "{}", r.outcome());
    assert_eq!(r.stderr(), "");
}
