//! `-x` socket paths (issue 8, item 6): control bytes are shown as `.`, as
//! `-p` names are, and a name holding a newline no longer forges a row.
//! net-tools prints both raw (docs/compat.md). Checked with a fixture
//! table and with real abstract sockets bound by this test process, whose
//! names carry ESC sequences, BEL and a newline followed by a whole row.

#[path = "../../tests/support/mod.rs"]
mod support;

use std::fs;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram, UnixListener};
use std::process::Command;
use std::time::Duration;
use support::process::{run, Output};
use support::tempdir::TempDir;

const DEADLINE: Duration = Duration::from_secs(30);

fn run_tool(program: &std::path::Path, args: &[&str], root: Option<&std::path::Path>) -> Output {
    let mut c = Command::new(program);
    c.args(args)
        .env_clear()
        .env("LC_ALL", "C")
        .env("PATH", support::DEFAULT_PATH);
    if let Some(r) = root {
        c.env("RNET_PROC_ROOT", r);
    }
    let o = run(&mut c, DEADLINE).unwrap();
    assert!(!o.timed_out, "{args:?} timed out");
    o
}

fn rnetstat(args: &[&str], root: Option<&std::path::Path>) -> Output {
    run_tool(&assert_cmd::cargo::cargo_bin("rnetstat"), args, root)
}

#[test]
fn fixture_paths_show_control_bytes_as_dots() {
    let t = TempDir::new("rnetstat-unix-fixture").unwrap();
    fs::create_dir_all(t.join("net")).unwrap();
    let mut table = b"Num       RefCount Protocol Flags    Type St Inode Path\n".to_vec();
    table.extend_from_slice(
        b"0000000000000000: 00000002 00000000 00010000 0001 01 30001 @evil\x1b]0;owned\x07\x1b[2J\x1b[31mred\n",
    );
    table.extend_from_slice(
        b"0000000000000000: 00000002 00000000 00000000 0002 01 30002 /run/caf\xc3\xa9\x7f.sock\n",
    );
    // net-tools' sscanf("%s") ends the path at any blank, \v and \f included.
    table.extend_from_slice(
        b"0000000000000000: 00000002 00000000 00000000 0002 01 30003 @tab\x0bafter\n",
    );
    fs::write(t.join("net/unix"), &table).unwrap();
    let o = rnetstat(&["-xa"], Some(t.path()));
    assert_eq!(o.code(), Some(0));
    assert_eq!(o.stderr_text(), "");
    let want = "\
Active UNIX domain sockets (servers and established)
Proto RefCnt Flags       Type       State         I-Node   Path
unix  2      [ ACC ]     STREAM     LISTENING     30001    @evil.]0;owned..[2J.[31mred
unix  2      [ ]         DGRAM                    30002    /run/caf....sock
unix  2      [ ]         DGRAM                    30003    @tab
";
    assert_eq!(o.stdout_text(), want);
    assert!(!o.stdout.iter().any(|b| *b < 0x20 && *b != b'\n'));
}

#[test]
fn a_real_abstract_name_cannot_forge_a_row_or_reach_the_terminal() {
    // An abstract name holds at most 107 bytes.
    let tag = format!("rnf-{}", std::process::id());
    let forged = "0000000000000000: 00000002 00000000 00010000 0001 01 4040404 /f\x1b[31mR";
    let forge_name = format!("{tag}\n{forged}");
    let forge =
        UnixListener::bind_addr(&SocketAddr::from_abstract_name(forge_name.as_bytes()).unwrap())
            .unwrap();
    let esc_name = format!("{tag}-esc\x1b]0;pwned\x07\x1b[2J");
    let esc =
        UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(esc_name.as_bytes()).unwrap())
            .unwrap();

    let o = rnetstat(&["-xa"], None);
    assert_eq!(o.code(), Some(0), "{}", o.stderr_text());
    let out = o.stdout_text();
    let ours: Vec<&str> = out.lines().filter(|l| l.contains(&tag)).collect();
    assert_eq!(ours.len(), 2, "{out}");
    assert!(
        ours.iter()
            .any(|l| l.contains(" LISTENING ") && l.ends_with(&format!(" @{tag}"))),
        "{ours:?}"
    );
    assert!(
        ours.iter()
            .any(|l| l.ends_with(&format!("@{tag}-esc.]0;pwned..[2J"))),
        "{ours:?}"
    );
    assert!(!out.contains("4040404"), "forged row listed:\n{out}");
    assert!(!o.stdout.contains(&0x1b) && !o.stdout.contains(&0x07));
    // No bogus-line warning for the name's second line either.
    assert!(!o.stderr_text().contains("bogus"), "{}", o.stderr_text());

    // net-tools, for comparison, lists the forged row and the raw bytes.
    if let Some(netstat) = ["/usr/bin/netstat", "/bin/netstat"]
        .iter()
        .map(std::path::Path::new)
        .find(|p| p.exists())
    {
        let n = run_tool(netstat, &["-xa"], None);
        let text = n.stdout_text();
        assert!(text.contains("4040404"), "{text}");
        assert!(n.stdout.contains(&0x1b));
    }
    drop((forge, esc));
}
