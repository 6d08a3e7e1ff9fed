//! Reads of `/proc` are bounded (issue 8, item 6): a table that is not
//! what the kernel writes there (`/dev/zero`, a FIFO, a directory, a
//! device, a line longer than any kernel line, a file far larger than any
//! table) gets one warning line and is skipped, the rest is listed, and
//! the exit status is the one netstat gives for a table it could open.
//! Every run is under a deadline (rnet_testkit::process) and, for
//! `/dev/zero`, under a 512 MiB address-space limit: before the bounds,
//! `/dev/zero` grew rnetstat to 1.4 GB in 3 s and a FIFO hung for ever.

use rnet_testkit::process::{run, Output};
use rnet_testkit::tempdir::TempDir;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// Each run must end well within this; the bounded reads take milliseconds.
const DEADLINE: Duration = Duration::from_secs(20);
/// What a bounded run may take (debug build, shared machine).
const QUICK: Duration = Duration::from_secs(5);

const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:15B3 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 158464 1 0000000000000000 100 0 0 10 0
";
const TCP_ROW: &str =
    "tcp        0      0 0.0.0.0:5555            0.0.0.0:*               LISTEN     \n";
const TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";
const UDP: &str = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  1: 00000000:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4711 2 0000000000000000 0
";
const UDP_ROW: &str =
    "udp        0      0 0.0.0.0:53              0.0.0.0:*                          \n";
const UNIX: &str = "Num       RefCount Protocol Flags    Type St Inode Path
0000000000000000: 00000002 00000000 00010000 0001 01 19001 /run/rnet-test.sock
";
const UNIX_ROW: &str =
    "unix  2      [ ACC ]     STREAM     LISTENING     19001    /run/rnet-test.sock\n";

/// A tree with good tcp, tcp6, udp and unix tables.
fn tree() -> TempDir {
    let t = TempDir::new("rnetstat-bounded").unwrap();
    fs::create_dir_all(t.join("net")).unwrap();
    fs::create_dir_all(t.join("sys/net/ipv4")).unwrap();
    fs::write(t.join("net/tcp"), TCP).unwrap();
    fs::write(t.join("net/tcp6"), TCP6).unwrap();
    fs::write(t.join("net/udp"), UDP).unwrap();
    fs::write(t.join("net/unix"), UNIX).unwrap();
    fs::write(t.join("sys/net/ipv4/tcp_fin_timeout"), "60\n").unwrap();
    fs::write(t.join("sys/net/ipv4/tcp_syn_retries"), "6\n").unwrap();
    t
}

fn rnetstat(root: &Path, args: &[&str]) -> Output {
    // Address space capped at 512 MiB: the unbounded reader took 1.4 GB.
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg("ulimit -v 524288 && exec \"$0\" \"$@\"")
        .arg(assert_cmd::cargo::cargo_bin("rnetstat"))
        .args(args)
        .env_clear()
        .env("LC_ALL", "C")
        .env("PATH", rnet_testkit::DEFAULT_PATH)
        .env("RNET_PROC_ROOT", root);
    let o = run(&mut c, DEADLINE).unwrap();
    assert!(
        !o.timed_out && o.elapsed < QUICK,
        "rnetstat {args:?} took {:?} ({}); stderr: {}",
        o.elapsed,
        o.status_text(),
        o.stderr_text()
    );
    o
}

fn mkfifo(path: &Path) {
    let _ = fs::remove_file(path);
    let st = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(st.success(), "mkfifo {}", path.display());
}

/// Replaces `net/<name>` and checks: exit 0, exactly `warning` on stderr,
/// every other table listed.
fn check_skipped(name: &str, make: impl Fn(&Path), warning: &str) {
    let t = tree();
    let path = t.join(&format!("net/{name}"));
    let _ = fs::remove_file(&path);
    make(&path);
    let o = rnetstat(t.path(), &["-na"]);
    let out = o.stdout_text();
    assert_eq!(o.code(), Some(0), "{name}: {}", o.stderr_text());
    assert_eq!(
        o.stderr_text(),
        format!("rnetstat: {}: {warning}\n", path.display()),
        "{name}"
    );
    for (table, row) in [("tcp", TCP_ROW), ("udp", UDP_ROW), ("unix", UNIX_ROW)] {
        assert_eq!(
            out.contains(row),
            table != name,
            "{name}: {table} row\n{out}"
        );
    }
    assert!(out.starts_with("Active Internet connections (servers and established)\n"));
    assert!(out.contains("Active UNIX domain sockets (servers and established)\n"));
}

#[test]
fn dev_zero_as_a_table_is_skipped_with_one_warning() {
    let w = "a character device, not a kernel table; skipped";
    check_skipped("tcp", |p| symlink("/dev/zero", p).unwrap(), w);
    check_skipped("udp", |p| symlink("/dev/zero", p).unwrap(), w);
    check_skipped("unix", |p| symlink("/dev/zero", p).unwrap(), w);
}

#[test]
fn a_fifo_as_a_table_does_not_hang() {
    let w = "a FIFO, not a kernel table; skipped";
    check_skipped("tcp", mkfifo, w);
    check_skipped("unix", mkfifo, w);
}

#[test]
fn a_directory_or_socket_as_a_table_is_skipped() {
    check_skipped(
        "tcp",
        |p| fs::create_dir(p).unwrap(),
        "a directory, not a kernel table; skipped",
    );
    check_skipped(
        "udp",
        |p| {
            std::os::unix::net::UnixListener::bind(p).unwrap();
        },
        "a socket, not a kernel table; skipped",
    );
}

#[test]
fn a_line_longer_than_the_kernel_writes_ends_the_table() {
    // The rows before the long line are listed (they were printed as they
    // were read); nothing after it is.
    let t = tree();
    let long = format!(
        "{TCP}   1: {}\n   2: 0100007F:15B4 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0\n",
        "A".repeat(100_000)
    );
    fs::write(t.join("net/tcp"), long).unwrap();
    let o = rnetstat(t.path(), &["-na"]);
    assert_eq!(o.code(), Some(0));
    assert_eq!(
        o.stderr_text(),
        format!(
            "rnetstat: {}: line 3 is longer than 4096 bytes, not a kernel table; rest of the file skipped\n",
            t.join("net/tcp").display()
        )
    );
    let out = o.stdout_text();
    assert!(out.contains(TCP_ROW) && out.contains(UDP_ROW) && out.contains(UNIX_ROW));
    assert!(!out.contains(":5556"), "{out}");
    // The same for a unix path far longer than sun_path allows.
    let t = tree();
    fs::write(
        t.join("net/unix"),
        format!(
            "{UNIX}0000000000000000: 00000002 00000000 00010000 0001 01 19002 /{}\n",
            "p".repeat(5000)
        ),
    )
    .unwrap();
    let o = rnetstat(t.path(), &["-nax"]);
    assert_eq!(o.code(), Some(0));
    assert_eq!(o.stderr_text().lines().count(), 1, "{}", o.stderr_text());
    assert!(o.stdout_text().contains(UNIX_ROW));
}

#[test]
fn a_table_far_larger_than_any_kernel_table_is_not_read() {
    // A sparse file of 1 TiB: refused from its size, before any read.
    check_skipped(
        "tcp",
        |p| fs::File::create(p).unwrap().set_len(1 << 40).unwrap(),
        "1099511627776 bytes, larger than any kernel table; skipped",
    );
}

#[test]
fn requested_tables_keep_netstat_statuses() {
    // A table that exists but is skipped counts as read (netstat opened it:
    // status 0); a missing requested one is still "no support", status 1.
    let t = tree();
    fs::remove_file(t.join("net/tcp")).unwrap();
    mkfifo(&t.join("net/tcp"));
    let o = rnetstat(t.path(), &["-nt"]);
    assert_eq!(o.code(), Some(0));
    assert_eq!(o.stderr_text().lines().count(), 1);
    assert_eq!(
        o.stdout_text(),
        "Active Internet connections (w/o servers)\nProto Recv-Q Send-Q Local Address           Foreign Address         State      \n"
    );
    fs::remove_file(t.join("net/udp")).unwrap();
    let o = rnetstat(t.path(), &["-nu"]);
    assert_eq!(o.code(), Some(1));
    assert_eq!(
        o.stderr_text(),
        "rnetstat: no support for `AF INET (udp)' on this system.\n"
    );
}

#[test]
fn every_table_bad_at_once_gives_one_warning_each() {
    let t = tree();
    for name in ["tcp", "tcp6", "udp", "udp6", "raw", "unix"] {
        let _ = fs::remove_file(t.join(&format!("net/{name}")));
    }
    symlink("/dev/zero", t.join("net/tcp")).unwrap();
    mkfifo(&t.join("net/tcp6"));
    fs::create_dir(t.join("net/udp")).unwrap();
    symlink("/dev/urandom", t.join("net/udp6")).unwrap();
    fs::write(t.join("net/raw"), "x".repeat(10_000)).unwrap();
    mkfifo(&t.join("net/unix"));
    let o = rnetstat(t.path(), &["-na"]);
    assert_eq!(o.code(), Some(0));
    let err = o.stderr_text();
    assert_eq!(err.lines().count(), 6, "{err}");
    for name in ["tcp", "tcp6", "udp", "udp6", "raw", "unix"] {
        let prefix = format!("rnetstat: {}: ", t.join(&format!("net/{name}")).display());
        assert_eq!(
            err.lines().filter(|l| l.starts_with(&prefix)).count(),
            1,
            "{name}: {err}"
        );
    }
}

#[test]
fn sysctls_and_process_files_cannot_hang_or_grow_it() {
    // --explain reads sysctls; -p reads /proc/PID/cmdline and fd/.
    let t = tree();
    fs::remove_file(t.join("sys/net/ipv4/tcp_fin_timeout")).unwrap();
    mkfifo(&t.join("sys/net/ipv4/tcp_fin_timeout"));
    fs::remove_file(t.join("sys/net/ipv4/tcp_syn_retries")).unwrap();
    symlink("/dev/zero", t.join("sys/net/ipv4/tcp_syn_retries")).unwrap();
    fs::create_dir_all(t.join("4242/fd")).unwrap();
    mkfifo(&t.join("4242/cmdline"));
    symlink("socket:[158464]", t.join("4242/fd/3")).unwrap();
    fs::create_dir_all(t.join("4243")).unwrap();
    mkfifo(&t.join("4243/fd"));
    fs::create_dir_all(t.join("4244/fd")).unwrap();
    symlink("/dev/zero", t.join("4244/cmdline")).unwrap();
    symlink("socket:[4711]", t.join("4244/fd/3")).unwrap();
    let o = rnetstat(t.path(), &["-nap", "--explain"]);
    assert_eq!(o.code(), Some(0), "{}", o.stderr_text());
    assert_eq!(o.stderr_text(), "");
    let out = o.stdout_text();
    assert!(out.contains("LISTEN"), "{out}");
    // No program name could be read: the column says `-`.
    assert!(!out.contains("4242/") && !out.contains("4244/"), "{out}");
}
