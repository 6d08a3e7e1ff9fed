//! `--json` on a fixture tree (RNET_PROC_ROOT): every line one JSON object
//! (checked by a strict little parser here), one per row netstat would
//! print, the documented field names with the row's values, filters
//! applied, and a UNIX path of control bytes, quotes and non-UTF-8 bytes
//! read back exactly.

use assert_cmd::cargo::cargo_bin;
use rnet_testkit::run_on_tree;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:15B3 00000000:0000 0A 00000000:00000002 00:00000000 00000000     0        0 158464 1 0000000000000000 100 0 0 10 0
   1: 010012C6:B9BE 020012C6:15B3 06 00000000:00000000 03:0000174C 00000000     0        0 0 3 0000000000000000
   2: 010012C6:B9C0 020012C6:15B3 02 00000001:00000000 01:000000C8 00000002  1000        0 158470 2 0000000000000000 400 0 0 1 -1
";

const TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 7 1 0 100 0 0 10 0
";

struct Tree(PathBuf);

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tree(name: &str, unix_path: &[u8]) -> Tree {
    let dir = std::env::temp_dir().join(format!("rnetstat-json-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("net")).unwrap();
    std::fs::create_dir_all(dir.join("sys/net/ipv4")).unwrap();
    std::fs::write(dir.join("net/tcp"), TCP).unwrap();
    std::fs::write(dir.join("net/tcp6"), TCP6).unwrap();
    let mut unix = b"Num       RefCount Protocol Flags    Type St Inode Path\n0000000000000000: 00000002 00000000 00010000 0001 01 19001 ".to_vec();
    unix.extend_from_slice(unix_path);
    unix.push(b'\n');
    std::fs::write(dir.join("net/unix"), unix).unwrap();
    std::fs::write(dir.join("sys/net/ipv4/tcp_syn_retries"), "6\n").unwrap();
    std::fs::write(dir.join("sys/net/ipv4/tcp_fin_timeout"), "60\n").unwrap();
    Tree(dir)
}

fn run(root: &Path, args: &[&str]) -> (Vec<u8>, String, i32) {
    let (out, err, code) = run_on_tree(&cargo_bin("rnetstat"), root, args);
    (out, String::from_utf8(err).unwrap(), code)
}

/// A JSON value as this test needs it: strings decoded to bytes (with
/// `\u0080`..`\u00ff` read as the byte they name, rnetstat's rule).
#[derive(Debug, PartialEq)]
enum V {
    Null,
    Num(String),
    Str(Vec<u8>),
    Arr(Vec<V>),
}

struct P<'a>(&'a [u8], usize);

impl P<'_> {
    fn peek(&self) -> u8 {
        self.0[self.1]
    }
    fn eat(&mut self, b: u8) {
        assert_eq!(
            self.peek(),
            b,
            "at {} of {:?}",
            self.1,
            String::from_utf8_lossy(self.0)
        );
        self.1 += 1;
    }
    fn object(&mut self) -> BTreeMap<String, V> {
        let mut m = BTreeMap::new();
        self.eat(b'{');
        loop {
            let V::Str(k) = self.string() else {
                unreachable!()
            };
            self.eat(b':');
            let v = self.value();
            let k = String::from_utf8(k).unwrap();
            assert!(m.insert(k.clone(), v).is_none(), "duplicate key {k}");
            if self.peek() == b',' {
                self.1 += 1;
                continue;
            }
            self.eat(b'}');
            return m;
        }
    }
    fn value(&mut self) -> V {
        match self.peek() {
            b'"' => self.string(),
            b'[' => {
                self.1 += 1;
                let mut v = Vec::new();
                while self.peek() != b']' {
                    v.push(self.value());
                    if self.peek() == b',' {
                        self.1 += 1;
                    }
                }
                self.1 += 1;
                V::Arr(v)
            }
            b'n' => {
                assert_eq!(&self.0[self.1..self.1 + 4], b"null");
                self.1 += 4;
                V::Null
            }
            _ => {
                let start = self.1;
                while matches!(self.peek(), b'-' | b'.' | b'0'..=b'9') {
                    self.1 += 1;
                }
                let n = std::str::from_utf8(&self.0[start..self.1]).unwrap();
                assert!(n.parse::<f64>().is_ok() && !n.is_empty(), "number {n:?}");
                assert!(!n.starts_with("00") && !n.ends_with('.'), "number {n:?}");
                V::Num(n.to_string())
            }
        }
    }
    fn string(&mut self) -> V {
        self.eat(b'"');
        let mut out = Vec::new();
        loop {
            let b = self.peek();
            self.1 += 1;
            match b {
                b'"' => return V::Str(out),
                0..=0x1f | 0x7f => panic!("raw control byte {b:#x} in a string"),
                b'\\' => {
                    let c = self.peek();
                    self.1 += 1;
                    match c {
                        b'"' | b'\\' | b'/' => out.push(c),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'u' => {
                            let h = std::str::from_utf8(&self.0[self.1..self.1 + 4]).unwrap();
                            let v = u32::from_str_radix(h, 16).unwrap();
                            assert!(v <= 0xff);
                            out.push(v as u8);
                            self.1 += 4;
                        }
                        _ => panic!("bad escape"),
                    }
                }
                _ => out.push(b),
            }
        }
    }
}

fn objects(stdout: &[u8]) -> Vec<BTreeMap<String, V>> {
    assert!(std::str::from_utf8(stdout).is_ok(), "output is not UTF-8");
    assert!(stdout.is_empty() || stdout.ends_with(b"\n"));
    stdout
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            let mut p = P(l, 0);
            let o = p.object();
            assert_eq!(p.1, l.len(), "trailing bytes");
            o
        })
        .collect()
}

fn s(v: &str) -> V {
    V::Str(v.as_bytes().to_vec())
}

fn n(v: &str) -> V {
    V::Num(v.to_string())
}

#[test]
fn one_object_per_row_with_every_field() {
    let t = tree("fields", b"/run/x");
    let (table, _, _) = run(&t.0, &["-nat"]);
    let rows = String::from_utf8(table).unwrap().lines().count() - 2;
    let (out, err, code) = run(&t.0, &["-nat", "--json"]);
    assert_eq!((err.as_str(), code), ("", 0));
    let objs = objects(&out);
    assert_eq!(objs.len(), rows);
    let listen = &objs[0];
    let keys: Vec<&str> = listen.keys().map(|k| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "foreign_address",
            "foreign_port",
            "inode",
            "local_address",
            "local_port",
            "probes",
            "proto",
            "recv_q",
            "retransmits",
            "send_q",
            "state",
            "state_code",
            "timer",
            "timer_code",
            "timer_seconds",
            "uid"
        ]
    );
    assert_eq!(listen["proto"], s("tcp"));
    assert_eq!(listen["local_port"], n("5555"));
    assert_eq!(listen["recv_q"], n("2"));
    assert_eq!(listen["state"], s("LISTEN"));
    assert_eq!(listen["state_code"], n("10"));
    assert_eq!(listen["inode"], n("158464"));
    let tw = &objs[1];
    assert_eq!(tw["local_address"], s("198.18.0.1"));
    assert_eq!(tw["foreign_port"], n("5555"));
    assert_eq!(tw["state"], s("TIME_WAIT"));
    assert_eq!(tw["timer"], s("timewait"));
    assert_eq!(tw["timer_seconds"], n("59.64"));
    let syn = &objs[2];
    assert_eq!(syn["state"], s("SYN_SENT"));
    assert_eq!(syn["retransmits"], n("2"));
    assert_eq!(syn["uid"], n("1000"));
    assert_eq!(syn["send_q"], n("1"));
    let v6 = &objs[3];
    assert_eq!(
        (&v6["proto"], &v6["local_address"]),
        (&s("tcp6"), &s("::1"))
    );
}

#[test]
fn filters_program_and_explanation() {
    let t = tree("filters", b"/run/x");
    let (out, _, code) = run(
        &t.0,
        &[
            "-nat",
            "--json",
            "--state",
            "syn-sent,listen",
            "--dport",
            "5555",
            "-p",
            "--explain",
        ],
    );
    assert_eq!(code, 0);
    let objs = objects(&out);
    assert_eq!(objs.len(), 1);
    assert_eq!(objs[0]["state"], s("SYN_SENT"));
    assert_eq!(objs[0]["program"], s("-"));
    let V::Str(e) = &objs[0]["explanation"] else {
        panic!()
    };
    assert!(
        e.starts_with(b"SYN_SENT: "),
        "{}",
        String::from_utf8_lossy(e)
    );
    // No filter: the UNIX sockets come as objects too, without headers.
    let (out, _, _) = run(&t.0, &["-na", "--json"]);
    let objs = objects(&out);
    let unix = objs.last().unwrap();
    assert_eq!(unix["proto"], s("unix"));
    assert_eq!(unix["flags"], V::Arr(vec![s("ACC")]));
    assert_eq!(unix["state"], s("LISTENING"));
    assert_eq!(unix["path"], s("/run/x"));
}

#[test]
fn hostile_unix_path_round_trips() {
    // A name the kernel shows raw: quotes, backslash, escape sequence,
    // DEL, a C1 CSI, invalid UTF-8 and a real UTF-8 character. (No blank
    // and no newline: /proc/net/unix ends the path at those.)
    let path: &[u8] = b"@a\"b\\c\x1b[31m\x7f\x01\xc2\x9b\xff\xfe\xc3\xa9end";
    let t = tree("hostile", path);
    let (out, _, code) = run(&t.0, &["-nax", "--json"]);
    assert_eq!(code, 0);
    assert!(!out.contains(&0x1b) && !out.contains(&0x7f));
    let objs = objects(&out);
    assert_eq!(objs.len(), 1);
    assert_eq!(objs[0]["path"], V::Str(path.to_vec()));
}

#[test]
fn json_is_matched_only_in_full() {
    let t = tree("exact", b"/run/x");
    let (_, err, code) = run(&t.0, &["--jso"]);
    assert_eq!(code, 3);
    assert!(err.contains("unrecognized option '--jso'"), "{err}");
}
