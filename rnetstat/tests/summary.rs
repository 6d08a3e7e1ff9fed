//! `--summary` on a fixture tree (RNET_PROC_ROOT): the count per state is
//! the number of `st` values in the tables (counted here from the fixture
//! text), `-4`/`-6` and the filters narrow it, the table is plain ASCII
//! into a pipe, and `--json` gives one object per state.

use assert_cmd::cargo::cargo_bin;
use rnet_testkit::run_on_tree;
use std::path::{Path, PathBuf};

const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:15B3 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 158464 1 0 100 0 0 10 0
   1: 010012C6:B9BE 020012C6:15B3 06 00000000:00000000 03:0000174C 00000000     0        0 0 3 0
   2: 010012C6:B9C0 020012C6:15B3 02 00000001:00000000 01:000000C8 00000002     0        0 158470 2 0 400 0 0 1 -1
   3: 0100007F:15B3 0100007F:D431 01 00000000:00000000 00:00000000 00000000  1000        0 158471 1 0 20 4 30 10 -1
   4: 0100007F:D431 0100007F:15B3 01 00000000:00000000 00:00000000 00000000  1000        0 158472 1 0 20 4 30 10 -1
   5: 0100007F:D433 0100007F:0016 06 00000000:00000000 03:0000174C 00000000     0        0 0 3 0
";

const TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 7 1 0 100 0 0 10 0
   1: 00000000000000000000000001000000:0016 00000000000000000000000001000000:D000 08 00000000:00000005 00:00000000 00000000     0        0 8 1 0 100 0 0 10 0
";

struct Tree(PathBuf);

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tree(name: &str) -> Tree {
    let dir = std::env::temp_dir().join(format!("rnetstat-summary-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("net")).unwrap();
    std::fs::write(dir.join("net/tcp"), TCP).unwrap();
    std::fs::write(dir.join("net/tcp6"), TCP6).unwrap();
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

/// The `st` values of a fixture table (4th field of each data line).
fn states_of(table: &str) -> Vec<u8> {
    table
        .lines()
        .skip(1)
        .map(|l| u8::from_str_radix(l.split_whitespace().nth(3).unwrap(), 16).unwrap())
        .collect()
}

/// The Count column of the table row that starts with `| NAME `.
fn count_in(table: &str, name: &str) -> u64 {
    let line = table
        .lines()
        .find(|l| l.starts_with(&format!("| {name} ")))
        .unwrap_or_else(|| panic!("no row {name}:\n{table}"));
    line.split('|').nth(2).unwrap().trim().parse().unwrap()
}

#[test]
fn counts_per_state_match_the_tables() {
    let t = tree("counts");
    let (out, err, code) = run(&t.0, &["--summary"]);
    assert_eq!((err.as_str(), code), ("", 0));
    assert!(out.is_ascii(), "a pipe gets ASCII lines:\n{out}");
    let all: Vec<u8> = states_of(TCP).into_iter().chain(states_of(TCP6)).collect();
    for (name, code) in [
        ("ESTABLISHED", 1u8),
        ("SYN_SENT", 2),
        ("SYN_RECV", 3),
        ("TIME_WAIT", 6),
        ("CLOSE_WAIT", 8),
        ("LISTEN", 10),
        ("CLOSING", 11),
    ] {
        let want = all.iter().filter(|s| **s == code).count() as u64;
        assert_eq!(count_in(&out, name), want, "{name}\n{out}");
    }
    assert_eq!(count_in(&out, "all"), all.len() as u64);
    assert!(
        out.contains("| LISTEN      |     2 | waiting for connections"),
        "{out}"
    );
    // -4 only the IPv4 table; filters narrow the counts.
    let (out, _, _) = run(&t.0, &["--summary", "-4"]);
    assert_eq!(count_in(&out, "all"), states_of(TCP).len() as u64);
    assert_eq!(count_in(&out, "CLOSE_WAIT"), 0);
    let (out, _, _) = run(&t.0, &["--summary", "-6", "--port", "22"]);
    assert_eq!((count_in(&out, "LISTEN"), count_in(&out, "all")), (1, 2));
    let (out, _, _) = run(
        &t.0,
        &["--summary", "--state", "time-wait", "--dport", "5555"],
    );
    assert_eq!((count_in(&out, "TIME_WAIT"), count_in(&out, "all")), (1, 1));
}

#[test]
fn json_summary_and_exact_spelling() {
    let t = tree("json");
    let (out, _, code) = run(&t.0, &["--summary", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 11);
    assert!(out.lines().any(|l| l == "{\"state\":\"TIME_WAIT\",\"state_code\":6,\"count\":2,\"explanation\":\"waiting 60 s so that a lost last ACK can be sent again and old duplicate segments die out\"}"), "{out}");
    let (_, err, code) = run(&t.0, &["--summ"]);
    assert_eq!(code, 3);
    assert!(err.contains("unrecognized option '--summ'"), "{err}");
}
