//! The modes beyond the socket listings where rnetstat deliberately
//! differs from netstat, checked against fixed text (the byte-for-byte
//! comparisons are in `fixtures.rs` and the root `netstat_reference`).

use rnet_testkit::tempdir::TempDir;
use std::process::Command;

fn run(root: &std::path::Path, args: &[&str]) -> (String, String, i32) {
    let (out, err, code) =
        rnet_testkit::run_on_tree(&assert_cmd::cargo::cargo_bin("rnetstat"), root, args);
    (
        String::from_utf8_lossy(&out).into_owned(),
        String::from_utf8_lossy(&err).into_owned(),
        code,
    )
}

#[test]
fn masquerade_without_the_file_is_netstats_message() {
    let dir = TempDir::new("modes-masq").expect("temp dir");
    std::fs::create_dir_all(dir.join("net")).unwrap();
    let (stdout, stderr, rc) = run(dir.path(), &["-M"]);
    assert_eq!(
        (stdout.as_str(), stderr.as_str(), rc),
        (
            "",
            "rnetstat: no support for `ip_masquerade' on this system.\n",
            1
        )
    );
    // A Linux 2.2 table is named, not parsed.
    std::fs::write(
        dir.join("net/ip_masquerade"),
        "Prc FromIP   FPrt ToIP     TPrt Masq Init-seq\n",
    )
    .unwrap();
    let (stdout, stderr, rc) = run(dir.path(), &["-Mn"]);
    assert_eq!((stdout.as_str(), rc), ("", 1));
    assert!(
        stderr.starts_with("rnetstat: /proc/net/ip_masquerade (Linux 2.2) is not read"),
        "{stderr}"
    );
}

#[test]
fn groups_with_continuous_is_refused() {
    let dir = TempDir::new("modes-refused").expect("temp dir");
    std::fs::create_dir_all(dir.join("net")).unwrap();
    let (stdout, stderr, rc) = run(dir.path(), &["-gc"]);
    assert_eq!((stdout.as_str(), rc), ("", 1));
    assert!(
        stderr.starts_with("rnetstat: -g with -c is not implemented"),
        "{stderr}"
    );
}

#[test]
fn routing_cache_entries_are_named_not_read() {
    let tree = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/stats");
    let (stdout, stderr, rc) = run(&tree, &["-rCn"]);
    assert_eq!((stdout.as_str(), rc), ("", 1));
    assert!(
        stderr.starts_with(
            "rnetstat: the entries of the inet routing cache (Linux before 3.6) are not read"
        ),
        "{stderr}"
    );
}

#[test]
fn statistics_explain_annotates_the_tcp_counters_only() {
    let tree = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/stats");
    let (plain, _, rc) = run(&tree, &["-s"]);
    assert_eq!(rc, 0);
    let (explained, _, rc) = run(&tree, &["-s", "--explain"]);
    assert_eq!(rc, 0);
    // Without the annotations, the same bytes as without --explain.
    let stripped: String = explained
        .lines()
        .map(|l| l.split("  # ").next().unwrap_or(l).to_string() + "\n")
        .collect();
    assert_eq!(stripped, plain);
    let annotated: Vec<&str> = explained
        .lines()
        .filter(|l| l.contains("  # "))
        .map(|l| l.split("  # ").next().unwrap_or(l).trim())
        .collect();
    assert_eq!(
        annotated,
        [
            "18446744073709551611 active connection openings",
            "18446744073709551615 passive connection openings",
            "3 failed connection attempts",
            "4 connection resets received",
            "8 segments retransmitted",
            "10 resets sent",
            "TCPSynRetrans: 6",
        ]
    );
    // RNETSTAT_EXPLAIN=1 turns it on, --no-explain off.
    let out = Command::new(assert_cmd::cargo::cargo_bin("rnetstat"))
        .args(["-st", "--no-explain"])
        .env("RNET_PROC_ROOT", &tree)
        .env("RNETSTAT_EXPLAIN", "1")
        .output()
        .expect("run rnetstat");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("  # "));
    let out = Command::new(assert_cmd::cargo::cargo_bin("rnetstat"))
        .args(["-st"])
        .env("RNET_PROC_ROOT", &tree)
        .env("RNETSTAT_EXPLAIN", "1")
        .output()
        .expect("run rnetstat");
    assert!(String::from_utf8_lossy(&out.stdout)
        .contains("TCPSynRetrans: 6  # SYNs and SYN-ACKs sent again"));
}

/// Runs rnetstat for about `ms` milliseconds, then kills it; its stdout.
fn run_for(root: &std::path::Path, args: &[&str], ms: u64) -> String {
    use std::io::Read;
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("rnetstat"))
        .args(args)
        .env("RNET_PROC_ROOT", root)
        .env("LC_ALL", "C")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn rnetstat");
    std::thread::sleep(std::time::Duration::from_millis(ms));
    let _ = child.kill();
    let _ = child.wait();
    let mut s = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut s)
        .expect("read stdout");
    s
}

#[test]
fn continuous_repeats_routes_and_interfaces_every_second() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let routes = fixtures.join("routes");
    let (once, _, rc) = run(&routes, &["-rn"]);
    assert_eq!(rc, 0);
    let got = run_for(&routes, &["-rnc"], 2500);
    let n = got.len() / once.len().max(1);
    assert!(n >= 2, "{got}");
    // Whole copies of -rn (a kill during a write may cut the last one).
    let (whole, tail) = got.split_at(n * once.len());
    assert_eq!(whole, once.repeat(n), "-rnc");
    assert!(once.starts_with(tail), "-rnc tail: {tail:?}");
    // -i: the title once, then the header and rows each second.
    let ifaces = fixtures.join("ifaces");
    let (once, _, rc) = run(&ifaces, &["-ian"]);
    assert_eq!(rc, 0);
    let body = once
        .strip_prefix("Kernel Interface table\n")
        .expect("title");
    let got = run_for(&ifaces, &["-ianc"], 2500);
    let rest = got.strip_prefix("Kernel Interface table\n").expect("title");
    let n = rest.len() / body.len().max(1);
    assert!(n >= 2, "{got}");
    let (whole, tail) = rest.split_at(n * body.len());
    assert_eq!(whole, body.repeat(n), "-ianc");
    assert!(body.starts_with(tail), "-ianc tail: {tail:?}");
}
