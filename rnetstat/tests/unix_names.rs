//! `-x` socket paths (issue 8, item 6): control bytes are shown as `.`, as
//! `-p` names are, and a name holding a newline no longer forges a row.
//! net-tools prints both raw (docs/compat.md). Checked with a fixture
//! table and with real abstract sockets bound by this test process, whose
//! names carry ESC sequences, BEL and a newline followed by a whole row,
//! and in a private network namespace next to netstat itself.

use rnet_testkit::netns::Netns;
use rnet_testkit::process::{run, wait_until, Background, Output};
use rnet_testkit::tempdir::TempDir;
use std::fs;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram, UnixListener};
use std::process::Command;
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(30);

fn run_tool(program: &std::path::Path, args: &[&str], root: Option<&std::path::Path>) -> Output {
    let mut c = Command::new(program);
    c.args(args)
        .env_clear()
        .env("LC_ALL", "C")
        .env("PATH", rnet_testkit::DEFAULT_PATH);
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

/// A `/proc/net/unix` row of a listening stream socket, as the kernel
/// writes it (what a name forges after its newline).
fn forged_row(inode: u32, path: &str) -> String {
    format!("0000000000000000: 00000002 00000000 00010000 0001 01 {inode} {path}")
}

#[test]
fn a_name_with_newlines_is_one_socket_shown_up_to_its_first_blank() {
    // In a private network namespace, so the listings hold only these
    // sockets: netstat's and rnetstat's are then compared whole.
    let test = "unix_names::a_name_with_newlines_is_one_socket_shown_up_to_its_first_blank";
    let Some(env) = rnet_testkit::lab_or_skip(test, &["netstat", "nc"]) else {
        return;
    };
    let ns = Netns::create(&env.ip, "unix-nl").unwrap();
    let dir = TempDir::new("unl").unwrap();
    // One newline; several (two of the pieces are not rows, netstat calls
    // them bogus); a path with a newline. A path name is at most 107 bytes.
    let one = format!("rnl-one\n{}", forged_row(4040401, "@forged1"));
    let many = format!(
        "rnl-many\nsecond piece\n{}\nlast",
        forged_row(4040402, "@forged2")
    );
    let path = dir
        .path()
        .join(format!("p\n{}", forged_row(4040403, "@f3")));
    let held = ns
        .run_in(|| {
            let bind = |name: &[u8]| {
                UnixListener::bind_addr(&SocketAddr::from_abstract_name(name).unwrap()).unwrap()
            };
            (
                bind(one.as_bytes()),
                bind(many.as_bytes()),
                UnixListener::bind(&path).unwrap(),
            )
        })
        .unwrap();
    // A relative path that starts with a newline: its first line holds no
    // name at all. Bound by nc run in the directory (a relative bind needs
    // that working directory; the test's own is shared by its threads).
    let rel = format!("\n{}", forged_row(4040404, "@forged4"));
    let mut cmd = ns.command(env.program("nc"), &["-lU", rel.as_str()]);
    cmd.current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let nc = Background::spawn(&mut cmd, "nc -lU").unwrap();
    wait_until("nc to bind its socket", DEADLINE, || {
        ns.read_proc_net("unix")
            .is_ok_and(|t| t.contains("4040404 @forged4"))
    })
    .unwrap();

    let list = |program: &std::path::Path| {
        let o = run(&mut ns.command(program, &["-xa"]), DEADLINE).unwrap();
        assert!(!o.timed_out, "{} -xa timed out", program.display());
        assert_eq!(o.code(), Some(0), "{}", o.stderr_text());
        o
    };
    let ours = list(&assert_cmd::cargo::cargo_bin("rnetstat"));
    let theirs = list(env.program("netstat"));

    // netstat lists the four forged rows and warns about the two pieces
    // that are not rows: the attack is real.
    let text = theirs.stdout_text();
    for inode in 4040401..=4040404 {
        assert!(text.contains(&format!(" {inode} ")), "{inode}:\n{text}");
    }
    assert_eq!(
        theirs.stderr_text(),
        "warning, got bogus unix line.\n".repeat(2)
    );
    // rnetstat: netstat's listing without the forged rows, byte for byte
    // (each name shown up to its first blank, here its newline), and no
    // warning.
    let want: String = text
        .split_inclusive('\n')
        .filter(|l| !(4040401..=4040404).any(|i| l.contains(&format!(" {i} "))))
        .collect();
    assert_eq!(ours.stdout_text(), want);
    assert_eq!(ours.stderr_text(), "");
    let rows: Vec<&str> = want.lines().skip(2).collect();
    assert_eq!(rows.len(), 4, "{want}");
    for end in [
        "@rnl-one",
        "@rnl-many",
        &format!("{}/p", dir.path().display()),
    ] {
        assert!(
            rows.iter().any(|r| r.ends_with(&format!(" {end}"))),
            "{end}:\n{want}"
        );
    }
    // nc's socket: a row with an empty path (the inode, its padding and
    // the separating blank, whatever the inode's width).
    assert!(
        rows.iter().any(|r| r.ends_with(' ')
            && r.split_whitespace()
                .last()
                .is_some_and(|w| w.bytes().all(|b| b.is_ascii_digit()))),
        "{want}"
    );
    drop((nc, held));
}
