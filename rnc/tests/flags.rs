//! Flag handling without any network traffic: usage errors, nc's messages
//! and exit statuses, `-h`, Unicode dashes, and the man page covering every
//! flag.

use assert_cmd::Command;
use std::path::Path;

fn rnc(args: &[&str]) -> (String, String, i32) {
    let o = Command::cargo_bin("rnc")
        .unwrap()
        .env_clear()
        .env("LC_ALL", "C")
        .args(args)
        .write_stdin("")
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        o.status.code().unwrap_or(-1),
    )
}

#[test]
fn nc_errors_and_statuses() {
    for (args, want) in [
        (
            &["127.0.0.1", "99999"][..],
            "rnc: port number too large: 99999\n",
        ),
        (&["127.0.0.1", "abc"][..], "rnc: port number invalid: abc\n"),
        (&["127.0.0.1", "0"][..], "rnc: port number too small: 0\n"),
        (&["-l"][..], "rnc: missing port number\n"),
        (&["127.0.0.1"][..], "rnc: missing port number\n"),
        (&["-k", "127.0.0.1", "1"][..], "rnc: must use -l with -k\n"),
        (&["-z", "-l", "5555"][..], "rnc: cannot use -z and -l\n"),
        (
            &["-w", "abc", "127.0.0.1", "1"][..],
            "rnc: timeout invalid: abc\n",
        ),
        (
            &["-q", "abc", "127.0.0.1", "1"][..],
            "rnc: quit timer invalid: abc\n",
        ),
        (
            &["-i", "-1", "127.0.0.1", "1"][..],
            "rnc: interval too small: -1\n",
        ),
        (
            &["-T", "bogus", "127.0.0.1", "1"][..],
            "rnc: illegal tos value bogus\n",
        ),
        (
            &["-X", "9", "127.0.0.1", "1"][..],
            "rnc: unsupported proxy protocol\n",
        ),
        (
            &["-x", "127.0.0.1", "-l", "5"][..],
            "rnc: no proxy support for listen\n",
        ),
        (
            &["-V", "3", "127.0.0.1", "1"][..],
            "rnc: no alternate routing table support available\n",
        ),
        (&["-U", "-l"][..], "rnc: missing socket pathname\n"),
        (
            &["-p", "70000", "127.0.0.1", "1"][..],
            "rnc: port number too large: 70000\n",
        ),
    ] {
        let (stdout, stderr, rc) = rnc(args);
        assert_eq!(
            (rc, stdout.as_str(), stderr.as_str()),
            (1, "", want),
            "{args:?}"
        );
    }
}

#[test]
fn usage_and_help() {
    let (_, stderr, rc) = rnc(&["-Y"]);
    assert_eq!(rc, 1);
    // glibc's getopt names argv[0] as typed: here the full path of the binary.
    let bin = assert_cmd::cargo::cargo_bin("rnc");
    let want = format!(
        "{}: invalid option -- 'Y'\nusage: nc [-46CDdFhklNnrStUuvZz]",
        bin.display()
    );
    assert!(stderr.starts_with(&want), "{stderr}");
    let (_, stderr, rc) = rnc(&[]);
    assert_eq!(rc, 1);
    assert!(stderr.starts_with("usage: nc"), "{stderr}");
    let (stdout, stderr, rc) = rnc(&["-h"]);
    assert_eq!((rc, stdout.as_str()), (0, ""));
    assert!(
        stderr.starts_with("OpenBSD netcat (Debian patchlevel 1.219-1)\nusage: nc"),
        "{stderr}"
    );
    assert!(stderr.contains("--explain"), "{stderr}");
}

#[test]
fn unicode_dash_is_read_as_hyphen() {
    let (_, stderr, rc) = rnc(&["\u{2013}l"]);
    assert_eq!(rc, 1);
    assert_eq!(
        stderr,
        "rnc: note: read '\u{2013}l' as '-l' (a Unicode dash was pasted where '-' belongs)\nrnc: missing port number\n"
    );
}

#[test]
fn refused_connect_says_why_without_v_but_not_with_z() {
    // A port nothing listens on: bind one and close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let p = port.to_string();
    let (_, stderr, rc) = rnc(&["127.0.0.1", &p]);
    assert_eq!(rc, 1);
    assert_eq!(
        stderr,
        format!("rnc: connect to 127.0.0.1 port {p} (tcp) failed: Connection refused\n")
    );
    let (_, stderr, rc) = rnc(&["-z", "127.0.0.1", &p]);
    assert_eq!((rc, stderr.as_str()), (1, ""));
}

#[test]
fn man_page_documents_every_flag() {
    let man = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../man/rnc.1"))
        .unwrap();
    for c in rnc::cli::SHORT_OPTS
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
    {
        assert!(man.contains(&format!(".It Fl {c}")), "man page misses -{c}");
    }
    for o in rnc::cli::LONG_OPTS {
        assert!(
            man.contains(&format!(".It Fl Fl {}", o.name)),
            "man page misses --{}",
            o.name
        );
    }
}
