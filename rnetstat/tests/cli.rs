//! Process-level tests: flags, exit statuses, stderr wording, annotations,
//! Unicode dashes, broken pipes, and the man page covering every flag.
//! Every run reads a small fixture tree through RNET_PROC_ROOT.

use assert_cmd::Command;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;

const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:15B3 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 158464 1 0000000000000000 100 0 0 10 0
   1: 010012C6:B9BE 020012C6:15B3 06 00000000:00000000 03:0000174C 00000000     0        0 0 3 0000000000000000
   2: 010012C6:B9C0 020012C6:15B3 02 00000001:00000000 01:000000C8 00000002     0        0 158470 2 0000000000000000 400 0 0 1 -1
";

/// A fresh fixture tree with tcp and an empty tcp6/udp/unix; `extra_tcp`
/// lines are appended to tcp.
fn tree(name: &str, extra_tcp: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rnetstat-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("net")).unwrap();
    std::fs::create_dir_all(dir.join("sys/net/ipv4")).unwrap();
    std::fs::write(dir.join("net/tcp"), format!("{TCP}{extra_tcp}")).unwrap();
    std::fs::write(
        dir.join("net/tcp6"),
        "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("net/udp"),
        "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("net/unix"),
        "Num       RefCount Protocol Flags    Type St Inode Path\n",
    )
    .unwrap();
    std::fs::write(dir.join("sys/net/ipv4/tcp_syn_retries"), "6\n").unwrap();
    std::fs::write(dir.join("sys/net/ipv4/tcp_fin_timeout"), "60\n").unwrap();
    dir
}

struct Tree(PathBuf);

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn rnetstat(root: &Path) -> Command {
    let mut c = Command::cargo_bin("rnetstat").unwrap();
    c.env_clear()
        .env("LC_ALL", "C")
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("RNET_PROC_ROOT", root);
    c
}

fn out(root: &Path, args: &[&str]) -> (String, String, i32) {
    let o = rnetstat(root).args(args).output().unwrap();
    (
        String::from_utf8(o.stdout).unwrap(),
        String::from_utf8(o.stderr).unwrap(),
        o.status.code().unwrap_or(-1),
    )
}

#[test]
fn nat_lists_the_article_states() {
    let t = Tree(tree("nat", ""));
    let (stdout, stderr, rc) = out(&t.0, &["-nat"]);
    assert_eq!(rc, 0);
    assert_eq!(stderr, "");
    let want = "\
Active Internet connections (servers and established)
Proto Recv-Q Send-Q Local Address           Foreign Address         State      
tcp        0      0 0.0.0.0:5555            0.0.0.0:*               LISTEN     
tcp        0      0 198.18.0.1:47550        198.18.0.2:5555         TIME_WAIT  
tcp        0      1 198.18.0.1:47552        198.18.0.2:5555         SYN_SENT   
";
    if cfg!(target_endian = "little") {
        assert_eq!(stdout, want);
    }
}

#[test]
fn explain_flag_and_environment() {
    let t = Tree(tree("explain", ""));
    let (plain, _, _) = out(&t.0, &["-nat"]);
    let (annotated, _, rc) = out(&t.0, &["-nat", "--explain"]);
    assert_eq!(rc, 0);
    let lines: Vec<&str> = annotated.lines().collect();
    // Title and header unchanged; every row keeps its columns and gains a note.
    assert_eq!(lines[..2], plain.lines().collect::<Vec<_>>()[..2]);
    for (a, p) in annotated.lines().zip(plain.lines()).skip(2) {
        assert!(a.starts_with(p), "{a}");
        assert!(a[p.len()..].starts_with("  # "), "{a}");
        assert_eq!(a.split_whitespace().nth(5), p.split_whitespace().nth(5));
    }
    assert!(
        lines[3].contains("TIME_WAIT: this side sent its FIN first"),
        "{}",
        lines[3]
    );
    assert!(lines[3].contains("59.64 s left"), "{}", lines[3]);
    assert!(
        lines[4].contains("SYN resent 2 times so far"),
        "{}",
        lines[4]
    );
    assert!(lines[4].contains("tcp_syn_retries=6"), "{}", lines[4]);
    assert!(lines[4].contains("next SYN in 2.00 s"), "{}", lines[4]);

    let env_on = |k: &str, v: &str| {
        let o = rnetstat(&t.0).arg("-nat").env(k, v).output().unwrap();
        String::from_utf8(o.stdout).unwrap()
    };
    assert_eq!(env_on("RNETSTAT_EXPLAIN", "1"), annotated);
    assert_eq!(env_on("RNET_EXPLAIN", "1"), annotated);
    assert_eq!(env_on("RNET_EXPLAIN", "0"), plain);
    let o = rnetstat(&t.0)
        .args(["-nat", "--no-explain"])
        .env("RNET_EXPLAIN", "1")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(o.stdout).unwrap(), plain);
    let o = rnetstat(&t.0)
        .arg("-nat")
        .env("RNET_EXPLAIN", "1")
        .env("RNETSTAT_EXPLAIN", "0")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(o.stdout).unwrap(), plain);
}

#[test]
fn unicode_dashes_are_read_as_hyphens() {
    let t = Tree(tree("dash", ""));
    let (plain, _, _) = out(&t.0, &["-nat"]);
    for dash in ["\u{2013}", "\u{2014}", "\u{2010}", "\u{2212}"] {
        let arg = format!("{dash}nat");
        let (stdout, stderr, rc) = out(&t.0, &[&arg]);
        assert_eq!(rc, 0);
        assert_eq!(stdout, plain);
        assert_eq!(
            stderr,
            format!("rnetstat: note: read '{arg}' as '-nat' (a Unicode dash was pasted where '-' belongs)\n")
        );
    }
    let (stdout, _, _) = out(&t.0, &["\u{2013}\u{2013}numeric", "-at"]);
    assert_eq!(stdout, plain);
}

#[test]
fn usage_errors_exit_3_with_glibc_wording() {
    let t = Tree(tree("usage", ""));
    for (args, first) in [
        (&["-q"][..], "rnetstat: invalid option -- 'q'"),
        (&["--bogus"][..], "rnetstat: unrecognized option '--bogus'"),
        (
            &["--nu"][..],
            "rnetstat: option '--nu' is ambiguous; possibilities: '--numeric' '--numeric-hosts' '--numeric-ports' '--numeric-users'",
        ),
        (&["-A"][..], "rnetstat: option requires an argument -- 'A'"),
        (&["--all=1"][..], "rnetstat: option '--all' doesn't allow an argument"),
    ] {
        let (stdout, stderr, rc) = out(&t.0, args);
        assert_eq!(rc, 3, "{args:?}");
        assert_eq!(stdout, "");
        // glibc's getopt names argv[0] as typed: the full path here.
        let bin = assert_cmd::cargo::cargo_bin("rnetstat");
        let first = first.replacen("rnetstat", &bin.display().to_string(), 1);
        assert_eq!(stderr.lines().next(), Some(first.as_str()));
        assert!(stderr.contains("\nusage: netstat [-vWeenNcCF]"), "{stderr}");
    }
    let (_, stderr, rc) = out(&t.0, &["-r", "-s"]);
    assert_eq!(rc, 3);
    assert!(stderr.starts_with("usage: netstat"));
}

#[test]
fn other_exit_statuses() {
    let t = Tree(tree("status", ""));
    let (_, stderr, rc) = out(&t.0, &["-A", "foo"]);
    assert_eq!(
        (rc, stderr.as_str()),
        (1, "Unknown address family `foo'.\n")
    );
    let (stdout, stderr, rc) = out(&t.0, &["-h"]);
    assert_eq!(rc, 0);
    assert!(stdout.starts_with("usage: netstat"));
    assert!(stdout.contains("--explain"));
    assert!(stderr.starts_with("    inet (DARPA Internet)"));
    let (stdout, _, rc) = out(&t.0, &["-V"]);
    assert_eq!(rc, 0);
    assert!(stdout.starts_with("net-tools 2.10\n"));
    assert!(stdout.contains("rnetstat"));
    let (_, stderr, rc) = out(&t.0, &["-gc"]);
    assert_eq!(rc, 1);
    assert!(stderr.contains("not implemented"), "{stderr}");
    // A requested protocol without its /proc file: netstat's message, exit 1.
    std::fs::remove_file(t.0.join("net/udp")).unwrap();
    let (stdout, stderr, rc) = out(&t.0, &["-nu"]);
    assert_eq!(rc, 1);
    assert!(stdout.starts_with("Active Internet connections (w/o servers)\n"));
    assert_eq!(
        stderr,
        "rnetstat: no support for `AF INET (udp)' on this system.\n"
    );
    // Not requested: silent.
    let (_, stderr, rc) = out(&t.0, &["-nt"]);
    assert_eq!((rc, stderr.as_str()), (0, ""));
}

#[test]
fn invoked_as_netstat_says_netstat() {
    let t = Tree(tree("argv0", ""));
    let bin = assert_cmd::cargo::cargo_bin("rnetstat");
    let link = t.0.join("netstat");
    std::os::unix::fs::symlink(&bin, &link).unwrap();
    let run = |arg: &str| {
        let o = std::process::Command::new(&link)
            .arg(arg)
            .env("RNET_PROC_ROOT", &t.0)
            .output()
            .unwrap();
        String::from_utf8(o.stderr).unwrap()
    };
    // Its own messages use the basename, as net-tools' do ...
    let stderr = run("-gc");
    assert!(stderr.starts_with("netstat: -g "), "{stderr}");
    // ... and getopt's name argv[0] as typed, as glibc's does.
    let stderr = run("-q");
    assert!(
        stderr.starts_with(&format!("{}: invalid option -- 'q'\n", link.display())),
        "{stderr}"
    );
}

#[test]
fn malformed_lines_warn_and_the_rest_is_listed() {
    let t = Tree(tree(
        "bogus",
        "garbage\n   3: 0100007F:ZZZZ 00000000:0000 0A 0:0 0:0 0\n   4: 0100007F:15B3 0100007F:9C4A 0D 00000000:00000000 00:00000000 00000000\n",
    ));
    let (stdout, stderr, rc) = out(&t.0, &["-nat"]);
    assert_eq!(rc, 0);
    assert_eq!(
        stderr,
        "warning, got bogus tcp line.\nwarning, got bogus tcp line.\n"
    );
    assert_eq!(stdout.lines().count(), 6);
    if cfg!(target_endian = "little") {
        // A line that stops after retrnsmt: uid and inode 0, unknown state.
        assert!(stdout.ends_with(
            "tcp        0      0 127.0.0.1:5555          127.0.0.1:40010         UNKNOWN    \n"
        ));
        let (stdout, _, _) = out(&t.0, &["-nate"]);
        assert!(
            stdout.ends_with("UNKNOWN     0          0         \n"),
            "{stdout}"
        );
    }
}

#[test]
fn closed_stdout_is_a_quiet_success() {
    let mut many = String::new();
    for i in 0..20000 {
        many.push_str(&format!(
            "{:4}: 0100007F:15B3 0100007F:{:04X} 01 00000000:00000000 00:00000000 00000000     0        0 {} 1 0 20 4 30 10 -1\n",
            i + 3,
            10000 + i,
            200000 + i
        ));
    }
    let t = Tree(tree("pipe", &many));
    let bin = assert_cmd::cargo::cargo_bin("rnetstat");
    let mut child = std::process::Command::new(bin)
        .arg("-nat")
        .env("RNET_PROC_ROOT", &t.0)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut first)
        .unwrap();
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_eq!(status.code(), Some(0));
    assert_eq!(stderr, "");
}

#[test]
fn man_page_documents_every_flag() {
    let man =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../man/rnetstat.8"))
            .unwrap();
    for c in rnetstat::cli::SHORT_OPTS
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
    {
        // `2` and `f` are netstat's Bluetooth letters; they only report that
        // Bluetooth is not supported, as netstat does on Debian.
        if c == '2' || c == 'f' {
            continue;
        }
        assert!(
            man.contains(&format!(".It Fl {c}")) || man.contains(&format!(", Fl {c}")),
            "man page misses -{c}"
        );
    }
    for o in rnetstat::cli::LONG_OPTS {
        let known_af = [
            "ax25",
            "ip",
            "ipx",
            "appletalk",
            "netrom",
            "ddp",
            "tcpip",
            "econet",
            "x25",
            "rose",
            "ash",
            "bluetooth",
            "l2cap",
            "rfcomm",
            "masquerade",
            "route",
            "interfaces",
            "statistics",
            "groups",
            "symbolic",
            "cache",
            "fib",
            "help",
            "version",
            "continuous",
            "unix",
            "inet",
            "inet6",
        ];
        if known_af.contains(&o.name) {
            continue;
        }
        assert!(
            man.contains(&format!("Fl Fl {}", o.name)),
            "man page misses --{}",
            o.name
        );
    }
}

#[test]
fn continuous_repeats_the_listing_every_second() {
    let t = Tree(tree("continuous", ""));
    let bin = assert_cmd::cargo::cargo_bin("rnetstat");
    let mut child = std::process::Command::new(bin)
        .arg("-ntc")
        .env("RNET_PROC_ROOT", &t.0)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let start = std::time::Instant::now();
    let mut text = Vec::new();
    let mut buf = [0u8; 4096];
    // Each pass is flushed before the pause: the second title must arrive
    // after about one second.
    while text.windows(12).filter(|w| w == b"Active Inter").count() < 2 {
        assert!(start.elapsed().as_secs() < 10, "no second pass");
        let n = stdout.read(&mut buf).unwrap();
        assert!(n > 0, "rnetstat -c ended");
        text.extend_from_slice(&buf[..n]);
    }
    let elapsed = start.elapsed();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(elapsed.as_millis() >= 900, "{elapsed:?}");
    let text = String::from_utf8(text).unwrap();
    let pass = "Active Internet connections (w/o servers)\n";
    assert!(text.starts_with(pass), "{text}");
    assert!(text.matches("SYN_SENT").count() >= 1, "{text}");
}
