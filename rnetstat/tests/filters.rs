//! `--port`, `--sport`, `--dport` and `--state` on a fixture tree
//! (RNET_PROC_ROOT): the rows kept are the unfiltered listing's rows, byte
//! for byte, headers stay, bad values are one-line errors with status 3.

use assert_cmd::cargo::cargo_bin;
use rnet_testkit::run_on_tree;
use std::path::{Path, PathBuf};

const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:15B3 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 158464 1 0000000000000000 100 0 0 10 0
   1: 010012C6:B9BE 020012C6:15B3 06 00000000:00000000 03:0000174C 00000000     0        0 0 3 0000000000000000
   2: 010012C6:B9C0 020012C6:15B3 02 00000001:00000000 01:000000C8 00000002     0        0 158470 2 0000000000000000 400 0 0 1 -1
   3: 0100007F:15B3 0100007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 158471 1 0000000000000000 20 4 30 10 -1
   4: 0100007F:D431 0100007F:15B3 01 00000000:00000000 00:00000000 00000000  1000        0 158472 1 0000000000000000 20 4 30 10 -1
   5: 0100007F:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 158473 1 0000000000000000 100 0 0 10 0
";

const UDP: &str = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  1: 0100007F:15B3 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 5 2 0000000000000000 0
  2: 0100007F:C50E 0100007F:0035 01 00000000:00000000 00:00000000 00000000     0        0 6 2 0000000000000000 0
";

struct Tree(PathBuf);

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tree(name: &str) -> Tree {
    let dir = std::env::temp_dir().join(format!("rnetstat-filters-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("net")).unwrap();
    std::fs::create_dir_all(dir.join("sys/net/ipv4")).unwrap();
    std::fs::write(dir.join("net/tcp"), TCP).unwrap();
    std::fs::write(dir.join("net/udp"), UDP).unwrap();
    std::fs::write(
        dir.join("net/unix"),
        "Num       RefCount Protocol Flags    Type St Inode Path\n0000000000000000: 00000002 00000000 00010000 0001 01 19001 /run/x\n",
    )
    .unwrap();
    std::fs::write(dir.join("sys/net/ipv4/tcp_syn_retries"), "6\n").unwrap();
    std::fs::write(dir.join("sys/net/ipv4/tcp_fin_timeout"), "60\n").unwrap();
    Tree(dir)
}

fn run(root: &Path, args: &[&str]) -> (String, String, i32) {
    let (out, err, code) = run_on_tree(&cargo_bin("rnetstat"), root, args);
    (
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
        code,
    )
}

/// The unfiltered listing's first two lines, then its rows that `keep` accepts.
fn expected(root: &Path, args: &[&str], keep: &dyn Fn(&str) -> bool) -> String {
    let (all, err, code) = run(root, args);
    assert_eq!((err.as_str(), code), ("", 0));
    let mut lines = all.lines();
    let mut s = String::new();
    for l in lines.by_ref().take(2) {
        s.push_str(l);
        s.push('\n');
    }
    for l in lines.filter(|l| keep(l)) {
        s.push_str(l);
        s.push('\n');
    }
    s
}

fn field(line: &str, n: usize) -> &str {
    line.split_whitespace().nth(n).unwrap_or("")
}

#[test]
fn port_keeps_rows_with_the_port_at_either_end() {
    let t = tree("port");
    for base in [&["-nat"][..], &["-natpo"], &["-naeW"], &["-ntu"], &["-nau"]] {
        let mut args = base.to_vec();
        args.extend(["--port", "5555"]);
        let want = expected(&t.0, base, &|l| {
            field(l, 3).ends_with(":5555") || field(l, 4).ends_with(":5555")
        });
        let (got, err, code) = run(&t.0, &args);
        assert_eq!((err.as_str(), code), ("", 0), "{args:?}");
        assert_eq!(got, want, "{args:?}");
        assert!(got.lines().count() > 2, "{args:?}: no row kept:\n{got}");
    }
}

#[test]
fn sport_dport_and_state() {
    let t = tree("sport");
    let (got, _, _) = run(&t.0, &["-nat", "--sport", "5555"]);
    assert_eq!(
        got,
        expected(&t.0, &["-nat"], &|l| field(l, 3).ends_with(":5555"))
    );
    let (got, _, _) = run(&t.0, &["-nat", "--dport", "5555"]);
    assert_eq!(
        got,
        expected(&t.0, &["-nat"], &|l| field(l, 4).ends_with(":5555"))
    );
    assert_eq!(got.lines().count(), 5, "{got}");
    for spelling in [
        "time-wait,syn-sent",
        "TIME_WAIT,SYN_SENT",
        "SYN-SENT,time_wait",
    ] {
        let (got, _, code) = run(&t.0, &["-nat", "--state", spelling]);
        assert_eq!(code, 0);
        assert_eq!(
            got,
            expected(&t.0, &["-nat"], &|l| matches!(
                field(l, 5),
                "TIME_WAIT" | "SYN_SENT"
            ))
        );
    }
    // Repeated --state adds up; with -l the listeners only.
    let (got, _, _) = run(&t.0, &["-ntl", "--state", "listen", "--port", "22"]);
    assert_eq!(
        got,
        expected(&t.0, &["-ntl"], &|l| field(l, 3) == "127.0.0.1:22")
    );
    let (got, _, _) = run(
        &t.0,
        &[
            "-nat", "--state", "estab", "--state", "listen", "--dport", "5555",
        ],
    );
    assert_eq!(
        got,
        expected(&t.0, &["-nat"], &|l| field(l, 3) == "127.0.0.1:54321")
    );
    // UDP: ESTABLISHED when connected.
    let (got, _, _) = run(&t.0, &["-nu", "--state", "established"]);
    assert_eq!(got, expected(&t.0, &["-nu"], &|l| l.contains(":53 ")));
}

#[test]
fn headers_stay_when_nothing_matches_and_unix_only_when_asked() {
    let t = tree("headers");
    let (got, _, code) = run(&t.0, &["-nat", "--port", "9"]);
    assert_eq!(code, 0);
    assert_eq!(
        got,
        "Active Internet connections (servers and established)\nProto Recv-Q Send-Q Local Address           Foreign Address         State      \n"
    );
    let (got, _, _) = run(&t.0, &["-na", "--port", "5555"]);
    assert!(!got.contains("UNIX"), "{got}");
    let (got, _, _) = run(&t.0, &["-na", "--port", "5555", "-x"]);
    assert!(
        got.ends_with("Active UNIX domain sockets (servers and established)\nProto RefCnt Flags       Type       State         I-Node   Path\n"),
        "{got}"
    );
    // Without filters -x still lists its row.
    let (got, _, _) = run(&t.0, &["-nax"]);
    assert!(got.contains("/run/x"), "{got}");
}

#[test]
fn bad_values_are_one_line_errors_with_status_3() {
    let t = tree("bad");
    for (args, msg) in [
        (
            &["--port", "0"][..],
            "rnetstat: --port: bad port `0' (a number from 1 to 65535)\n",
        ),
        (
            &["--sport", "65536"],
            "rnetstat: --sport: bad port `65536' (a number from 1 to 65535)\n",
        ),
        (
            &["--dport=abc"],
            "rnetstat: --dport: bad port `abc' (a number from 1 to 65535)\n",
        ),
    ] {
        let (out, err, code) = run(&t.0, args);
        assert_eq!((out.as_str(), err.as_str(), code), ("", msg, 3), "{args:?}");
    }
    let (out, err, code) = run(&t.0, &["-nat", "--state", "listen,nope"]);
    assert_eq!((out.as_str(), code), ("", 3));
    assert!(
        err.starts_with("rnetstat: --state: unknown TCP state `nope' (one of ESTABLISHED,"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1);
    // A missing value is getopt's error, as for netstat's own options.
    let (_, err, code) = run(&t.0, &["--port"]);
    assert_eq!(code, 3);
    assert!(
        err.contains("rnetstat: option '--port' requires an argument\nusage: netstat"),
        "{err}"
    );
}

#[test]
fn abbreviations_keep_netstat_meanings() {
    let t = tree("abbrev");
    // `--st` is still --statistics (not --state); `--por` is no prefix of
    // a netstat option and rnetstat's `--port` is matched only in full.
    // (The fixture tree has no /proc/net/snmp, so statistics say so, as
    // netstat does, and exit 0; --state would have wanted a value.)
    let (_, err, code) = run(&t.0, &["--st"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("cannot open /proc/net/snmp"), "{err}");
    let (_, err, code) = run(&t.0, &["--por", "22"]);
    assert_eq!(code, 3);
    assert!(
        err.contains("rnetstat: unrecognized option '--por'\n"),
        "{err}"
    );
}
