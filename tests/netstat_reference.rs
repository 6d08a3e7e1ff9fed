//! Reference comparison of `rnetstat` with net-tools `netstat`.
//!
//! Real sockets are opened inside private network namespaces (a client and
//! a server joined by a veth, see `rnet_testkit::netns`), then for each flag
//! combination `netstat` and `rnetstat` run back to back inside the same
//! namespace, both invoked as `netstat` with `LC_ALL=C` and an otherwise
//! empty environment, and their stdout, stderr and exit status must be
//! equal byte for byte. The only masking: the seconds of `-o` timers that
//! tick between the two runs (`timewait (58.18/0/0)` -> `(SECS/0/0)`).
//! A mismatch is retried once (in case the socket set moved between the two
//! runs); a second mismatch fails with a unified diff.
//!
//! Needs root, `ip` and `netstat` (and `setpriv` for the unprivileged
//! `-p` case); otherwise the tests print why and pass, unless
//! `RNET_REQUIRE_LAB=1`. The binary under test is `$RNETSTAT_BIN`, else
//! `target/<profile>/rnetstat` (`cargo build --workspace --bins`).
//! `RNET_REFERENCE_SHOW=1` prints netstat's output for every case (use
//! with `--nocapture`) to see what the scenes contain.
//!
//! The socket-listing comparisons run once per table source of rnetstat
//! ([`SOURCES`]: `RNETSTAT_SOURCE=proc`, then `netlink`, where a sock_diag
//! failure is an error instead of a fallback), so both paths are held to
//! netstat's bytes; `sock_diag_entries_are_the_proc_entries` compares the
//! two readers entry by entry at a few thousand sockets.

use std::any::Any;
use std::fmt::Write as _;
use std::fs;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::OwnedFd;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr as UnixAddr, UnixDatagram, UnixListener, UnixStream};
use std::path::PathBuf;
use std::process::Stdio;
use std::thread;
use std::time::{Duration, Instant};

use rnet_testkit::compare::{describe_mismatch, mask_timer_seconds, Parts, Side, ToolPair};
use rnet_testkit::netns::{LabPair, Netns, ProcRow, CLIENT_V4, CLIENT_V6, SERVER_V4, SERVER_V6};
use rnet_testkit::process::{wait_until, Background, Output};
use rnet_testkit::tempdir::TempDir;
use rnet_testkit::{lab_or_skip, sys, tool_under_test, unique_suffix};

/// Deadline of one netstat / rnetstat run.
const RUN_TIMEOUT: Duration = Duration::from_secs(10);
/// Time budget of one test's comparisons: cases left when it is used up
/// (say, every rnetstat run hangs until killed) fail without running.
const TEST_BUDGET: Duration = Duration::from_secs(60);
/// Deadline for a scene to reach its expected states.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(10);

/// Extra veth addresses long enough to need truncation without `-W`.
const LONG_SERVER_V6: &str = "2001:db8:1234:5678:9abc:def0:1234:5678";
const LONG_CLIENT_V6: &str = "2001:db8:1234:5678:9abc:def0:1234:5679";

/// The namespaces' own hosts file. `LONG_CLIENT_V6` is deliberately
/// missing: its lookup goes to DNS at the namespace's own 127.0.0.1, fails
/// at once, and netstat falls back to the number.
const HOSTS: &str = "127.0.0.1\tlocalhost\n\
                     ::1\tlocalhost ip6-localhost ip6-loopback\n\
                     198.18.0.1\tclient.rnet-lab.test client\n\
                     198.18.0.2\tserver.rnet-lab.test server\n\
                     2001:db8::1\tclient6.rnet-lab.test\n\
                     2001:db8::2\tserver6.rnet-lab.test\n\
                     2001:db8:1234:5678:9abc:def0:1234:5678\ta-rather-long-server-name.rnet-lab.test\n";

/// The values of `RNETSTAT_SOURCE` every listing comparison runs with.
const SOURCES: &[&str] = &["proc", "netlink"];

/// Flag combinations compared on the rich scene, in both namespaces.
const FLAG_SETS: &[&[&str]] = &[
    &["-nat"],
    &["-natp"],
    &["-nato"],
    &["-nate"],
    &["-natpo"],
    &["-neopa"],
    &["-natep"],
    &["-ee", "-nat"],
    &["-tulpn"],
    &["-naptuW"],
    &["-nlt"],
    &["-nt"],
    &["-ntW"],
    &["-nau"],
    &["-nu"],
    &["-an4"],
    &["-an6"],
    &["-A", "inet6", "-an"],
    &["--tcp", "--numeric", "--all"],
    &["--numeric-hosts", "-at"],
    &["-at"],
    &["-atuW"],
    &["-nax"],
    &["-na"],
    &["-l", "-n"],
    &["-natu", "--wide"],
    &["-naw"],
    &[],
    &["-n"],
    &["-a"],
    &["-nap"],
    &["-naeo"],
    &["-naW"],
    &["-nlx"],
    &["-x"],
    &["-naxp"],
    &["--numeric-ports", "-at"],
    &["-aeW"],
    &["--inet", "-na"],
    &["--inet6", "-nat"],
    &["-A", "inet", "-na"],
    &["-A", "inet,inet6", "-n"],
    &["-nlu"],
    &["-ntuo"],
    &["-nawe"],
    &["-nv"],
    &["--listening", "--numeric", "--programs", "--tcp", "--udp"],
    &["--extend", "--timers", "-nat"],
];

/// Usage and error cases: (arguments, what must match).
const USAGE_CASES: &[(&[&str], Parts)] = &[
    (&["-q"], Parts::ALL),
    (&["--bogus"], Parts::ALL),
    (&["--nu"], Parts::ALL),
    (&["-A", "foo"], Parts::ALL),
    (&["-A"], Parts::ALL),
    (&["--all=yes"], Parts::ALL),
    (&["-h"], Parts::STDERR_AND_STATUS),
    (&["--help"], Parts::STDERR_AND_STATUS),
    (&["-V"], Parts::STDERR_AND_STATUS),
    (&["--version"], Parts::STDERR_AND_STATUS),
];

/// `setpriv` arguments that drop to nobody/nogroup before running netstat.
const AS_NOBODY: &[&str] = &[
    "setpriv",
    "--reuid=65534",
    "--regid=65534",
    "--clear-groups",
];

/// Flag combinations run as an unprivileged user.
const UNPRIVILEGED_FLAG_SETS: &[&[&str]] = &[
    &["-natp"],
    &["-tulpn"],
    &["-nap"],
    &["-natpe"],
    &["-nlxp"],
    &["-nat"],
];

// ---------------------------------------------------------------------------
// Small helpers

trait Ctx<T> {
    fn ctx(self, what: &str) -> Result<T, String>;
}

impl<T> Ctx<T> for io::Result<T> {
    fn ctx(self, what: &str) -> Result<T, String> {
        self.map_err(|e| format!("{what}: {e}"))
    }
}

fn sa(text: &str) -> SocketAddr {
    text.parse()
        .unwrap_or_else(|e| panic!("bad socket address {text}: {e}"))
}

/// Accepts one connection within `timeout` (never blocks forever).
fn accept_within(l: &TcpListener, timeout: Duration) -> io::Result<TcpStream> {
    l.set_nonblocking(true)?;
    let deadline = Instant::now() + timeout;
    let result = loop {
        match l.accept() {
            Ok((s, _)) => break Ok(s),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(1));
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                break Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "no connection to accept",
                ));
            }
            Err(e) => break Err(e),
        }
    };
    l.set_nonblocking(false)?;
    let s = result?;
    s.set_nonblocking(false)?;
    Ok(s)
}

/// Connects from namespace `ns` to `to` and accepts on `l`; returns
/// (client end, server end), checked to be the two ends of one connection.
fn connect_pair(ns: &Netns, l: &TcpListener, to: &str) -> Result<(TcpStream, TcpStream), String> {
    let addr = sa(to);
    let client = ns
        .run_in(move || TcpStream::connect_timeout(&addr, Duration::from_secs(5)))
        .and_then(|r| r)
        .ctx(&format!("connect to {to} from {}", ns.name()))?;
    let server = accept_within(l, Duration::from_secs(5)).ctx(&format!("accept for {to}"))?;
    let (c_local, s_peer) = (
        client.local_addr().ctx("local_addr")?,
        server.peer_addr().ctx("peer_addr")?,
    );
    let same = c_local.port() == s_peer.port();
    if !same {
        return Err(format!(
            "accepted the wrong connection: client {c_local}, server sees {s_peer}"
        ));
    }
    Ok((client, server))
}

/// Reads until EOF (the peer's FIN) within a deadline.
fn read_to_eof(s: &TcpStream) -> Result<(), String> {
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .ctx("set_read_timeout")?;
    let mut buf = [0u8; 256];
    loop {
        match (&*s).read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) => return Err(format!("waiting for the peer's FIN: {e}")),
        }
    }
}

fn count_state(rows: &[ProcRow], proto: &str, state: u8) -> usize {
    rows.iter()
        .filter(|r| r.file.starts_with(proto) && r.state == state)
        .count()
}

/// TCP states that move on by themselves within milliseconds.
fn in_flight(rows: &[ProcRow]) -> bool {
    rows.iter()
        .any(|r| r.file.starts_with("tcp") && matches!(r.state, 0x02 | 0x03 | 0x04 | 0x09 | 0x0B))
}

/// The socket tables without their timers: what must not change between
/// two runs.
fn snapshot(ns: &Netns) -> io::Result<Vec<ProcRow>> {
    ns.proc_rows(&["tcp", "tcp6", "udp", "udp6", "raw", "raw6"])
}

/// Waits until `ns` shows no transient TCP state, `expect` holds on its
/// rows, and two snapshots 100 ms apart are equal (queues have settled).
fn settle(ns: &Netns, expect: &dyn Fn(&[ProcRow]) -> bool) -> Result<(), String> {
    let mut last = None;
    wait_until(
        &format!("sockets in {} to settle", ns.name()),
        SETTLE_TIMEOUT,
        || {
            let Ok(rows) = ns.proc_rows(&["tcp", "tcp6", "udp", "udp6"]) else {
                return false;
            };
            if in_flight(&rows) || !expect(&rows) {
                last = None;
                return false;
            }
            let Ok(snap) = snapshot(ns) else { return false };
            let stable = last.as_ref() == Some(&snap);
            last = Some(snap);
            if !stable {
                thread::sleep(Duration::from_millis(100));
            }
            stable
        },
    )
}

// ---------------------------------------------------------------------------
// Scenes

/// Sockets held open for the duration of a test.
struct Scene {
    keep: Vec<Box<dyn Any + Send>>,
    _dirs: Vec<TempDir>,
}

impl Scene {
    fn hold<T: Any + Send>(&mut self, x: T) {
        self.keep.push(Box::new(x));
    }
}

/// The rich scene. Server namespace ("S"), client namespace ("C"):
///
/// TCP
/// - S listens on 0.0.0.0:5555 (v4), [::]:5432 (dual stack, `postgresql`),
///   127.0.0.1:5557 (two connections left in its accept queue: LISTEN
///   Recv-Q 2, children with inode 0 and no owner).
/// - Across the veth, v4: ESTABLISHED; server `shutdown(SHUT_WR)`
///   (S FIN_WAIT2 owned, C CLOSE_WAIT); server `close()` (S orphaned
///   FIN_WAIT2 with a `timewait` timer, C CLOSE_WAIT); client closes first
///   (C TIME_WAIT).
/// - Across the veth, v6: 2001:db8::1 -> 2001:db8::2 ESTABLISHED, and
///   between the long addresses LONG_CLIENT_V6 -> LONG_SERVER_V6
///   (truncated without -W).
/// - Loopback in S: v4 client to the dual-stack listener (the server end is
///   a `tcp6` row showing `127.0.0.1`); [::1] client whose server end is
///   held only by a `sleep` child (`-p` shows `PID/sleep`); server closes
///   with `tcp_fin_timeout` 120 (orphaned FIN_WAIT2 on the `keepalive`
///   timer, CLOSE_WAIT); 1234 unread bytes (Recv-Q); a sender that filled
///   its peer's buffers (Send-Q, zero-window `probe` timer); client closes
///   first (S TIME_WAIT).
///
/// UDP: S bound 0.0.0.0:5353 (`mdns`, with unread datagrams), [::]:5060
/// (`sip`), 198.18.0.2:5555 (a datagram from C across the veth), connected
/// v4 and v6 loopback clients; C connected v4 and v6 across the veth,
/// bound [2001:db8::1]:5353 and 198.18.0.1:6000.
///
/// RAW: S v4 and v6 protocol 253.
///
/// UNIX (per network namespace): S path listener with an accepted pair
/// and a pending connection, abstract listener, bound datagram socket with
/// a connected sender, an unnamed stream pair, an unbound datagram socket;
/// C abstract listener with a connected pair.
fn build_rich_scene(lab: &LabPair) -> Result<Scene, String> {
    let (s, c) = (&lab.server, &lab.client);
    let mut scene = Scene {
        keep: Vec::new(),
        _dirs: Vec::new(),
    };

    // --- TCP listeners in S
    let (l5555, l5432, l5557) = s
        .run_in(|| -> io::Result<_> {
            Ok((
                TcpListener::bind("0.0.0.0:5555")?,
                TcpListener::bind("[::]:5432")?,
                TcpListener::bind("127.0.0.1:5557")?,
            ))
        })
        .and_then(|r| r)
        .ctx("listeners in the server namespace")?;

    // --- across the veth, IPv4
    let established = connect_pair(c, &l5555, &format!("{SERVER_V4}:5555"))?;
    scene.hold(established);

    let (half_c, half_s) = connect_pair(c, &l5555, &format!("{SERVER_V4}:5555"))?;
    half_s
        .shutdown(std::net::Shutdown::Write)
        .ctx("server shutdown(SHUT_WR)")?;
    scene.hold((half_c, half_s));

    let (orphan_c, orphan_s) = connect_pair(c, &l5555, &format!("{SERVER_V4}:5555"))?;
    drop(orphan_s); // server closes first: S FIN_WAIT2 (orphaned, `timewait` timer), C CLOSE_WAIT
    scene.hold(orphan_c);

    let (tw_c, tw_s) = connect_pair(c, &l5555, &format!("{SERVER_V4}:5555"))?;
    drop(tw_c); // client closes first ...
    read_to_eof(&tw_s)?;
    drop(tw_s); // ... then the server: C TIME_WAIT

    // --- across the veth, IPv6 (short and long addresses)
    scene.hold(connect_pair(c, &l5432, &format!("[{SERVER_V6}]:5432"))?);
    let long = connect_pair(c, &l5432, &format!("[{LONG_SERVER_V6}]:5432"))?;
    let long_local = long.0.local_addr().ctx("local_addr")?;
    if long_local.ip().to_string() != LONG_CLIENT_V6 {
        return Err(format!(
            "expected the client to use {LONG_CLIENT_V6}, it used {long_local}"
        ));
    }
    scene.hold(long);

    // --- loopback in S
    scene.hold(connect_pair(s, &l5432, "127.0.0.1:5432")?); // v4-mapped on the tcp6 side
    let (v6_c, v6_s) = connect_pair(s, &l5432, "[::1]:5432")?;
    scene.hold(v6_c);
    // Its server end is held by another program only: `-p` shows PID/sleep.
    scene.hold(hand_to_sleeper(s, &[], v6_s)?);

    // Orphaned FIN_WAIT2 with tcp_fin_timeout above 60 s: the kernel keeps
    // the full socket on the keepalive timer for the extra time (`keepalive`
    // in -o). The timeout is read when the FIN is acked, so restore the
    // default only after this socket reached FIN_WAIT2.
    s.sysctl("net.ipv4.tcp_fin_timeout", "120")?;
    let (ka_c, ka_s) = connect_pair(s, &l5555, "127.0.0.1:5555")?;
    let ka_port = ka_c.local_addr().ctx("local_addr")?.port();
    drop(ka_s);
    scene.hold(ka_c);
    wait_until("the orphan to reach FIN_WAIT2", SETTLE_TIMEOUT, || {
        s.proc_rows(&["tcp"]).is_ok_and(|rows| {
            rows.iter()
                .any(|r| r.remote_port == ka_port && r.state == 0x05)
        })
    })?;
    s.sysctl("net.ipv4.tcp_fin_timeout", "60")?;

    let (rq_c, rq_s) = connect_pair(s, &l5555, "127.0.0.1:5555")?;
    (&rq_c).write_all(&[b'r'; 1234]).ctx("write 1234 bytes")?;
    scene.hold((rq_c, rq_s)); // never read: Recv-Q 1234 on the server end

    let (sq_c, sq_s) = connect_pair(s, &l5432, "[::1]:5432")?;
    fill_send_queue(&sq_c)?;
    scene.hold((sq_c, sq_s));

    let (tw2_c, tw2_s) = connect_pair(s, &l5555, "127.0.0.1:5555")?;
    drop(tw2_c);
    read_to_eof(&tw2_s)?;
    drop(tw2_s); // S TIME_WAIT

    // Accept queue: connected, never accepted.
    for _ in 0..2 {
        let addr = sa("127.0.0.1:5557");
        let pending = s
            .run_in(move || TcpStream::connect_timeout(&addr, Duration::from_secs(5)))
            .and_then(|r| r)
            .ctx("connect to the never-accepting listener")?;
        scene.hold(pending);
    }
    scene.hold((l5555, l5432, l5557));

    // --- UDP and RAW in S
    let s_udp = s
        .run_in(|| -> io::Result<_> {
            let mdns = UdpSocket::bind("0.0.0.0:5353")?;
            let sip6 = UdpSocket::bind("[::]:5060")?;
            let veth = UdpSocket::bind(format!("{SERVER_V4}:5555"))?;
            let c4 = UdpSocket::bind("127.0.0.1:0")?;
            c4.connect("127.0.0.1:5353")?;
            c4.send(b"unread datagram")?;
            let c6 = UdpSocket::bind("[::1]:0")?;
            c6.connect("[::1]:5060")?;
            let raw4 = sys::raw_socket(libc::AF_INET, 253)?;
            let raw6 = sys::raw_socket(libc::AF_INET6, 253)?;
            Ok((mdns, sip6, veth, c4, c6, raw4, raw6))
        })
        .and_then(|r| r)
        .ctx("UDP and RAW sockets in the server namespace")?;
    scene.hold(s_udp);
    let c_udp = c
        .run_in(|| -> io::Result<_> {
            let c4 = UdpSocket::bind("0.0.0.0:0")?;
            c4.connect(format!("{SERVER_V4}:5555"))?;
            c4.send(b"across the veth")?;
            let c6 = UdpSocket::bind("[::]:0")?;
            c6.connect(format!("[{SERVER_V6}]:5060"))?;
            let bound6 = UdpSocket::bind(format!("[{CLIENT_V6}]:5353"))?;
            let bound4 = UdpSocket::bind(format!("{CLIENT_V4}:6000"))?;
            Ok((c4, c6, bound6, bound4))
        })
        .and_then(|r| r)
        .ctx("UDP sockets in the client namespace")?;
    scene.hold(c_udp);

    // --- UNIX
    let dir = TempDir::new("unix").ctx("temporary directory for unix sockets")?;
    let stream_path = dir.join("stream.sock");
    let dgram_path = dir.join("dgram.sock");
    let tag = unique_suffix();
    let s_unix = s
        .run_in(|| -> io::Result<Vec<Box<dyn Any + Send>>> {
            let l = UnixListener::bind(&stream_path)?;
            let c1 = UnixStream::connect(&stream_path)?;
            let (a1, _) = l.accept()?;
            let pending = UnixStream::connect(&stream_path)?;
            let abs = UnixListener::bind_addr(&UnixAddr::from_abstract_name(format!(
                "rnet-lab-server-{tag}"
            ))?)?;
            let d = UnixDatagram::bind(&dgram_path)?;
            let sender = UnixDatagram::unbound()?;
            sender.connect(&dgram_path)?;
            sender.send(b"unread")?;
            let pair = UnixStream::pair()?;
            let lone = UnixDatagram::unbound()?;
            Ok(vec![
                Box::new((l, c1, a1, pending, abs)),
                Box::new((d, sender, pair, lone)),
            ])
        })
        .and_then(|r| r)
        .ctx("unix sockets in the server namespace")?;
    scene.keep.extend(s_unix);
    let tag = unique_suffix();
    let c_unix = c
        .run_in(|| -> io::Result<_> {
            let name = UnixAddr::from_abstract_name(format!("rnet-lab-client-{tag}"))?;
            let l = UnixListener::bind_addr(&name)?;
            let c1 = UnixStream::connect_addr(&name)?;
            let (a1, _) = l.accept()?;
            Ok((l, c1, a1))
        })
        .and_then(|r| r)
        .ctx("unix sockets in the client namespace")?;
    scene.hold(c_unix);
    scene._dirs.push(dir);

    // --- wait until every state is reached and the queues are still
    settle(s, &|rows| {
        count_state(rows, "tcp", 0x05) >= 3
            && count_state(rows, "tcp", 0x08) >= 1
            && count_state(rows, "tcp", 0x06) >= 1
            && rows.iter().any(|r| {
                r.file == "tcp" && r.local_port == 5557 && r.state == 0x0A && r.rx_queue == 2
            })
            && rows.iter().any(|r| {
                r.file == "tcp" && r.local_port == 5555 && r.state == 0x01 && r.rx_queue == 1234
            })
            && rows
                .iter()
                .any(|r| r.file == "udp" && r.local_port == 5555 && r.rx_queue > 0)
            && rows
                .iter()
                .any(|r| r.file == "udp" && r.local_port == 5353 && r.rx_queue > 0)
    })?;
    settle(c, &|rows| {
        count_state(rows, "tcp", 0x08) >= 2 && count_state(rows, "tcp", 0x06) >= 1
    })?;
    Ok(scene)
}

/// Writes into `s` (whose peer never reads) until both the peer's receive
/// buffer and our send buffer are full.
fn fill_send_queue(s: &TcpStream) -> Result<(), String> {
    s.set_nonblocking(true).ctx("set_nonblocking")?;
    let chunk = vec![b's'; 64 * 1024];
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut total = 0usize;
    let mut idle_since: Option<Instant> = None;
    while Instant::now() < deadline && total < 256 * 1024 * 1024 {
        match (&*s).write(&chunk) {
            Ok(n) => {
                total += n;
                idle_since = None;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                // Full for 300 ms in a row: the window is closed for good.
                let since = *idle_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= Duration::from_millis(300) {
                    return s.set_nonblocking(false).ctx("set_nonblocking");
                }
                thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(format!("filling the send queue: {e}")),
        }
    }
    Err(format!(
        "the send queue never filled ({total} bytes written)"
    ))
}

/// Hands `sock` to a `sleep` started inside `ns` (through `wrapper`, e.g.
/// [`AS_NOBODY`]) as its stdin, and closes our copy: that process becomes
/// the socket's only holder, so `netstat -p` shows `PID/sleep` for it.
fn hand_to_sleeper(ns: &Netns, wrapper: &[&str], sock: TcpStream) -> Result<Background, String> {
    let mut argv: Vec<&str> = wrapper.to_vec();
    argv.extend_from_slice(&["sleep", "120"]);
    let mut cmd = ns.command(argv[0], &argv[1..]);
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    let bg = Background::spawn_with_stdin(
        &mut cmd,
        Stdio::from(OwnedFd::from(sock)),
        "sleep holding a socket",
    )
    .ctx("spawning sleep")?;
    drop(cmd);
    // ip netns exec [-> setpriv] -> sleep keep one pid; wait for the last exec.
    let comm = format!("/proc/{}/comm", bg.id());
    wait_until(
        "the socket holder to become `sleep`",
        SETTLE_TIMEOUT,
        || fs::read_to_string(&comm).is_ok_and(|c| c.trim_end() == "sleep"),
    )?;
    Ok(bg)
}

/// The small scene of the unprivileged test, in one namespace: a listener,
/// two established loopback pairs, a UDP socket and a unix listener. The
/// server end of the second pair is returned, not held.
fn build_small_scene(ns: &Netns) -> Result<(Scene, TcpStream), String> {
    let mut scene = Scene {
        keep: Vec::new(),
        _dirs: Vec::new(),
    };
    let l = ns
        .run_in(|| TcpListener::bind("127.0.0.1:5555"))
        .and_then(|r| r)
        .ctx("listener")?;
    scene.hold(connect_pair(ns, &l, "127.0.0.1:5555")?);
    let (spare_c, spare_s) = connect_pair(ns, &l, "127.0.0.1:5555")?;
    scene.hold(spare_c);
    scene.hold(l);
    let tag = unique_suffix();
    let other = ns
        .run_in(|| -> io::Result<_> {
            let u = UdpSocket::bind("[::]:5353")?;
            let x = UnixListener::bind_addr(&UnixAddr::from_abstract_name(format!(
                "rnet-lab-unpriv-{tag}"
            ))?)?;
            Ok((u, x))
        })
        .and_then(|r| r)
        .ctx("udp and unix sockets")?;
    scene.hold(other);
    settle(ns, &|rows| count_state(rows, "tcp", 0x01) == 4)?;
    Ok((scene, spare_s))
}

// ---------------------------------------------------------------------------
// Comparing

/// What happened to one flag combination.
/// A verdict and an optional remark (e.g. that rnetstat was much slower).
struct Outcome {
    verdict: Verdict,
    note: Option<String>,
}

impl From<Verdict> for Outcome {
    fn from(verdict: Verdict) -> Self {
        Outcome {
            verdict,
            note: None,
        }
    }
}

enum Verdict {
    Pass,
    /// Matched on the retry only.
    PassOnRetry(String),
    Fail(String),
    Skip(String),
}

/// Results of one test, printed as a table and turned into a panic when
/// anything failed.
struct Report {
    test: &'static str,
    lines: Vec<String>,
    failures: Vec<String>,
    notes: Vec<String>,
    deadline: Instant,
}

impl Report {
    fn new(test: &'static str) -> Self {
        Report::with_budget(test, TEST_BUDGET)
    }

    /// A report whose cases may take `budget` in all (a test that runs
    /// its cases once per [`SOURCES`] has that many budgets).
    fn with_budget(test: &'static str, budget: Duration) -> Self {
        Report {
            test,
            lines: Vec::new(),
            failures: Vec::new(),
            notes: Vec::new(),
            deadline: Instant::now() + budget,
        }
    }

    fn out_of_time(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// Runs `case` unless the test's time budget is used up.
    fn run(&mut self, label: &str, case: impl FnOnce() -> Outcome) {
        let verdict = if self.out_of_time() {
            Verdict::Fail(format!(
                "{label}\n  not run: the test's time budget was used up\n"
            ))
        } else {
            let outcome = case();
            if let Some(note) = outcome.note {
                self.notes.push(format!("{label}: {note}"));
            }
            outcome.verdict
        };
        self.record(label, verdict);
    }

    fn record(&mut self, label: &str, verdict: Verdict) {
        let (word, detail) = match verdict {
            Verdict::Pass => ("PASS", None),
            Verdict::PassOnRetry(first) => {
                self.notes.push(format!(
                    "{label}: matched only on the retry; first attempt:\n{first}"
                ));
                ("PASS (retry)", None)
            }
            Verdict::Fail(d) => ("FAIL", Some(d)),
            Verdict::Skip(why) => {
                self.notes.push(format!("{label}: skipped: {why}"));
                ("SKIP", None)
            }
        };
        self.lines.push(format!("{word:<13} {label}"));
        if let Some(d) = detail {
            self.failures.push(d);
        }
    }

    fn finish(self) {
        let mut text = format!("{}: {} cases\n", self.test, self.lines.len());
        for l in &self.lines {
            let _ = writeln!(text, "  {l}");
        }
        for n in &self.notes {
            let _ = writeln!(text, "note: {n}");
        }
        println!("{text}");
        if !self.failures.is_empty() {
            let mut msg = format!(
                "{} of {} cases differ from net-tools netstat:\n\n",
                self.failures.len(),
                self.lines.len()
            );
            for f in &self.failures {
                msg.push_str(f);
                msg.push('\n');
            }
            msg.push_str(&text);
            panic!("{msg}");
        }
    }
}

/// A printable command line: `netstat -A inet6 -an`, with the wrapper.
fn command_line(wrapper: &[&str], args: &[&str]) -> String {
    let mut v: Vec<&str> = wrapper.to_vec();
    v.push("netstat");
    v.extend_from_slice(args);
    v.join(" ")
}

/// True when `args` make netstat look names up (no `-n`, `--numeric` or
/// `--numeric-hosts`): such runs need the namespace's private resolver.
fn resolves_hosts(args: &[&str]) -> bool {
    let mut skip_value = false;
    for a in args {
        if skip_value {
            skip_value = false;
            continue;
        }
        if *a == "--numeric" || *a == "--numeric-hosts" {
            return false;
        }
        if let Some(cluster) = a.strip_prefix('-').filter(|c| !c.starts_with('-')) {
            for (i, ch) in cluster.char_indices() {
                if ch == 'n' {
                    return false;
                }
                if ch == 'A' {
                    // The rest of the cluster, or the next argument, is the family.
                    skip_value = i + 1 == cluster.len();
                    break;
                }
            }
        }
    }
    true
}

/// Runs netstat then ours once each.
fn run_both(
    tools: &ToolPair,
    ns: &Netns,
    wrapper: &[&str],
    args: &[&str],
) -> Result<(Output, Output), String> {
    let a = tools
        .run_in(ns, Side::Reference, wrapper, args, RUN_TIMEOUT)
        .ctx("running netstat")?;
    let b = tools
        .run_in(ns, Side::UnderTest, wrapper, args, RUN_TIMEOUT)
        .ctx("running rnetstat")?;
    if a.timed_out {
        return Err(format!(
            "net-tools netstat itself timed out ({}); stderr: {}",
            a.status_text(),
            a.stderr_text()
        ));
    }
    Ok((a, b))
}

/// Compares one command in one namespace, retrying once on a mismatch.
fn compare(
    tools: &ToolPair,
    ns: &Netns,
    where_: &str,
    wrapper: &[&str],
    args: &[&str],
    parts: Parts,
) -> Outcome {
    let what = format!("[{where_}] {}", command_line(wrapper, args));
    let names = ("netstat", "rnetstat");
    let (a, b) = match run_both(tools, ns, wrapper, args) {
        Ok(pair) => pair,
        Err(e) => return Verdict::Fail(format!("{what}\n  {e}\n")).into(),
    };
    let note = slowness(&a, &b);
    if std::env::var_os("RNET_REFERENCE_SHOW").is_some_and(|v| v == "1") {
        println!(
            "=== {what}: netstat said ({}):\n{}{}",
            a.status_text(),
            a.stdout_text(),
            a.stderr_text()
        );
    }
    let Some(first) = describe_mismatch(&what, names, &a, &b, parts, &mask_timer_seconds) else {
        return Outcome {
            verdict: Verdict::Pass,
            note,
        };
    };
    let hung = b.timed_out;
    if hung {
        // A hang is not a socket set that moved: no retry.
        return Outcome {
            verdict: Verdict::Fail(first),
            note,
        };
    }
    // Once more, in case the socket set moved between the two runs.
    let verdict = match run_both(tools, ns, wrapper, args) {
        Ok((a, b)) => match describe_mismatch(&what, names, &a, &b, parts, &mask_timer_seconds) {
            None => Verdict::PassOnRetry(first),
            Some(second) => Verdict::Fail(second),
        },
        Err(e) => Verdict::Fail(format!("{what}\n  {e}\n")),
    };
    Outcome { verdict, note }
}

/// A remark when ours took much longer than the original (more than 3x and
/// more than 200 ms more): a hint of lookups that wait for timeouts.
fn slowness(reference: &Output, ours: &Output) -> Option<String> {
    let (a, b) = (reference.elapsed, ours.elapsed);
    (b > a * 3 && b > a + Duration::from_millis(200))
        .then(|| format!("rnetstat took {b:.2?}, netstat {a:.2?}"))
}

fn tool_pair(netstat: &std::path::Path) -> ToolPair {
    let ours: PathBuf = tool_under_test("rnetstat", "RNETSTAT_BIN");
    ToolPair::new("netstat", netstat, &ours)
        .unwrap_or_else(|e| panic!("cannot prepare the netstat/rnetstat pair: {e}"))
}

/// The pair with rnetstat reading its tables from `source`
/// (`RNETSTAT_SOURCE`).
fn tool_pair_from(netstat: &std::path::Path, source: &str) -> ToolPair {
    tool_pair(netstat).with_env(Side::UnderTest, "RNETSTAT_SOURCE", source)
}

// ---------------------------------------------------------------------------
// Tests

/// Every flag combination of [`FLAG_SETS`] on the rich scene, in the server
/// and in the client namespace.
#[test]
fn rnetstat_matches_netstat_on_a_rich_scene() {
    const TEST: &str = "rnetstat_matches_netstat_on_a_rich_scene";
    let Some(env) = lab_or_skip(TEST, &["netstat", "cat", "sleep"]) else {
        return;
    };
    let mut lab = LabPair::new(&env.ip, "ref")
        .unwrap_or_else(|e| panic!("cannot build the namespace pair: {e}"));
    lab.add_server_address(&format!("{LONG_SERVER_V6}/64"))
        .unwrap_or_else(|e| panic!("{e}"));
    lab.add_client_address(&format!("{LONG_CLIENT_V6}/64"))
        .unwrap_or_else(|e| panic!("{e}"));
    for ns in [&mut lab.server, &mut lab.client] {
        ns.isolate_name_service(HOSTS)
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let scene = build_rich_scene(&lab).unwrap_or_else(|e| panic!("cannot build the scene: {e}"));

    let mut report = Report::with_budget(TEST, TEST_BUDGET * SOURCES.len() as u32);
    for source in SOURCES {
        let tools = tool_pair_from(env.program("netstat"), source);
        for (where_, ns) in [("server ns", &lab.server), ("client ns", &lab.client)] {
            let where_ = format!("{where_}, {source}");
            for args in FLAG_SETS {
                report.run(&format!("[{where_}] {}", command_line(&[], args)), || {
                    if resolves_hosts(args) && !ns.lookups_are_private() {
                        Verdict::Skip(
                            "name lookups could not be confined to the namespace".to_string(),
                        )
                        .into()
                    } else {
                        compare(&tools, ns, &where_, &[], args, Parts::ALL)
                    }
                });
            }
        }
    }
    drop(scene);
    report.finish();
}

/// `-p` as an unprivileged user: the "(Not all processes could be
/// identified ...)" / "(No info could be read ...)" notices on stderr and
/// `-` for every socket.
#[test]
fn rnetstat_matches_netstat_for_an_unprivileged_user() {
    const TEST: &str = "rnetstat_matches_netstat_for_an_unprivileged_user";
    let Some(env) = lab_or_skip(TEST, &["netstat", "setpriv", "cat", "sleep"]) else {
        return;
    };
    let mut ns = Netns::create(&env.ip, "unpriv")
        .unwrap_or_else(|e| panic!("cannot create the namespace: {e}"));
    ns.isolate_name_service(HOSTS)
        .unwrap_or_else(|e| panic!("{e}"));
    let (mut scene, spare) =
        build_small_scene(&ns).unwrap_or_else(|e| panic!("cannot build the scene: {e}"));
    let mut spare = Some(spare);
    let mut report = Report::with_budget(TEST, TEST_BUDGET * SOURCES.len() as u32);
    // Phase 1: the user owns no process with a socket ("(No info could be
    // read for "-p" ...)"); phase 2: it owns one ("(Not all processes
    // could be identified ...)", and PID/sleep for that socket).
    for phase in ["nobody owns no socket", "nobody owns a socket"] {
        if phase == "nobody owns a socket" {
            if let Some(sock) = spare.take() {
                scene.hold(hand_to_sleeper(&ns, AS_NOBODY, sock).unwrap_or_else(|e| panic!("{e}")));
            }
        }
        for source in SOURCES {
            let tools = tool_pair_from(env.program("netstat"), source);
            let phase = format!("{phase}, {source}");
            for args in UNPRIVILEGED_FLAG_SETS {
                report.run(
                    &format!("[{phase}] {}", command_line(AS_NOBODY, args)),
                    || compare(&tools, &ns, &phase, AS_NOBODY, args, Parts::ALL),
                );
            }
        }
    }
    drop(scene);
    report.finish();
}

/// Usage errors, help and version: exit status and stderr (and stdout for
/// the errors, where netstat prints nothing).
#[test]
fn rnetstat_matches_netstat_on_usage_and_errors() {
    const TEST: &str = "rnetstat_matches_netstat_on_usage_and_errors";
    let Some(env) = lab_or_skip(TEST, &["netstat", "cat"]) else {
        return;
    };
    let tools = tool_pair(env.program("netstat"));
    // Run inside an empty namespace anyway: should a flag be mistaken for a
    // listing, nothing of the machine is shown or looked up.
    let mut ns = Netns::create(&env.ip, "usage")
        .unwrap_or_else(|e| panic!("cannot create the namespace: {e}"));
    ns.isolate_name_service(HOSTS)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut report = Report::new(TEST);
    for (args, parts) in USAGE_CASES {
        report.run(&format!("[usage] {}", command_line(&[], args)), || {
            compare(&tools, &ns, "usage", &[], args, *parts)
        });
        if *parts != Parts::ALL && !report.out_of_time() {
            // stdout of -h / -V is informative only: report, do not fail.
            if let Ok((a, b)) = run_both(&tools, &ns, &[], args) {
                let what = format!("[usage] {} (stdout, informative)", command_line(&[], args));
                if let Some(d) = describe_mismatch(
                    &what,
                    ("netstat", "rnetstat"),
                    &a,
                    &b,
                    Parts {
                        stdout: true,
                        stderr: false,
                        status: false,
                    },
                    &|t| t.to_string(),
                ) {
                    report.notes.push(d);
                }
            }
        }
    }
    report.finish();
}

/// The modes beyond the socket listings, compared on [`build_rest_scene`].
const REST_FLAG_SETS: &[&[&str]] = &[
    &["-s"],
    &["-st"],
    &["-su"],
    &["-sw"],
    &["-stu"],
    &["-s6"],
    &["-s", "-6", "-t"],
    &["-s", "-A", "inet6", "-u"],
    &["-s", "-4", "-6"],
    &["-s", "-A", "unix"],
    &["-sx"],
    &["--statistics", "--tcp"],
    &["-r"],
    &["-rn"],
    &["-rne"],
    &["-rnee"],
    &["-ree"],
    &["-reee"],
    &["-rN"],
    &["-rn6"],
    &["-r6"],
    &["-r", "-A", "inet6", "-ne"],
    &["-r", "-A", "inet,inet6", "-n"],
    &["-r", "-A", "inet,unix", "-n"],
    &["-rx"],
    &["-r", "-A", "ax25"],
    &["-r", "-A", "netrom"],
    &["-r", "-A", "ipx"],
    &["-r", "-A", "bluetooth"],
    &["--route", "--numeric"],
    &["-rC"],
    &["-rCn6"],
    &["-rnCF"],
    &["-r", "--cache", "-ee"],
    &["-i"],
    &["-ia"],
    &["-ian"],
    &["--interfaces", "--all"],
    &["-i", "-A", "inet6"],
    &["-ie"],
    &["-iea"],
    &["-iee"],
    &["--interfaces", "--extend", "--all", "--numeric"],
    &["-g"],
    &["-gn"],
    &["--groups", "--numeric"],
    &["-g", "-4n"],
    &["-g", "-6", "-n"],
    &["-gnt"],
    &["-gnx"],
    &["-gnatu"],
    &["-M"],
    &["-Mn"],
    &["--masquerade", "-e"],
    &["-M", "-g"],
    &["-s", "-g"],
    &["-rn", "-g"],
];

/// A namespace with interfaces, routes and multicast groups of its own
/// (two veth pairs, one end left down, addresses in the lab ranges), and counters moved
/// by real traffic on loopback: a TCP exchange, a refused connection and a
/// UDP datagram to a closed port (an ICMP port unreachable).
fn build_rest_scene(ns: &Netns) -> Result<(), String> {
    // No router solicitations, and unsolicited IGMP/MLD reports sent at
    // once: the counters must not move between the two runs.
    for key in [
        "net.ipv6.conf.all.router_solicitations",
        "net.ipv6.conf.default.router_solicitations",
    ] {
        ns.sysctl(key, "0")?;
    }
    for key in [
        "net.ipv4.conf.all.igmpv3_unsolicited_report_interval",
        "net.ipv4.conf.default.igmpv3_unsolicited_report_interval",
        "net.ipv4.conf.all.igmpv2_unsolicited_report_interval",
        "net.ipv4.conf.default.igmpv2_unsolicited_report_interval",
        "net.ipv6.conf.all.mldv2_unsolicited_report_interval",
        "net.ipv6.conf.default.mldv2_unsolicited_report_interval",
        "net.ipv6.conf.all.mldv1_unsolicited_report_interval",
        "net.ipv6.conf.default.mldv1_unsolicited_report_interval",
    ] {
        ns.sysctl(key, "1")?;
    }
    for args in [
        &[
            "link", "add", "rnd0", "type", "veth", "peer", "name", "rnd1",
        ][..],
        &[
            "link", "add", "rnv0", "type", "veth", "peer", "name", "rnv1",
        ],
        &["addr", "add", "198.18.5.1/24", "dev", "rnd0"],
        &["addr", "add", "2001:db8:5::1/64", "dev", "rnd0", "nodad"],
        &[
            "addr",
            "add",
            "198.18.5.9/24",
            "dev",
            "rnd0",
            "label",
            "rnd0:7",
        ],
        &["addr", "add", "198.18.6.1/30", "dev", "rnv0"],
        &["addr", "add", "198.18.6.2/30", "dev", "rnv1"],
        &["addr", "add", "2001:db8:6::1/64", "dev", "rnv0", "nodad"],
        &["link", "set", "rnd0", "up"],
        &["link", "set", "rnv0", "up"],
        &["link", "set", "rnv1", "up"],
        &["route", "add", "198.19.0.0/16", "via", "198.18.5.2"],
        &[
            "route",
            "add",
            "198.19.128.0/24",
            "dev",
            "rnv0",
            "metric",
            "7",
        ],
        &["route", "add", "unreachable", "198.18.99.0/24"],
        &[
            "-6",
            "route",
            "add",
            "2001:db8:99::/48",
            "via",
            "2001:db8:5::2",
        ],
        &["addr", "add", "239.1.2.3/32", "dev", "rnd0", "autojoin"],
        &[
            "-6",
            "addr",
            "add",
            "ff05::1:3/128",
            "dev",
            "rnd0",
            "autojoin",
        ],
    ] {
        ns.ip(args)?;
    }
    ns.run_in(|| -> Result<(), String> {
        // A fixed port below the ephemeral range (this namespace is the
        // test's own): with port 0 the refused connect below could pick
        // the freed port as its own source port and connect to itself.
        let l = TcpListener::bind("127.0.0.1:5599").ctx("listen")?;
        let to = l.local_addr().ctx("local address")?;
        let mut c = TcpStream::connect(to).ctx("connect")?;
        let (mut s, _) = l.accept().ctx("accept")?;
        c.write_all(b"hello").ctx("write")?;
        let mut buf = [0u8; 5];
        s.read_exact(&mut buf).ctx("read")?;
        drop((c, s));
        drop(l);
        // Nothing listens there any more: refused (a reset).
        if TcpStream::connect(to).is_ok() {
            return Err(format!(
                "{to} accepted a connection after its listener closed"
            ));
        }
        let u = UdpSocket::bind("127.0.0.1:0").ctx("udp bind")?;
        u.send_to(b"x", to).ctx("udp send")?;
        Ok(())
    })
    .ctx("entering the namespace")??;
    // Let the last reports and FINs go out before anything is compared.
    thread::sleep(Duration::from_millis(300));
    Ok(())
}

/// `-s`, `-r`, `-i`, `-g` and `-M` on a namespace with
/// interfaces, routes, groups and counters of its own.
#[test]
fn rnetstat_matches_netstat_beyond_sockets() {
    const TEST: &str = "rnetstat_matches_netstat_beyond_sockets";
    let Some(env) = lab_or_skip(TEST, &["netstat"]) else {
        return;
    };
    let tools = tool_pair(env.program("netstat"));
    let mut ns = Netns::create(&env.ip, "rest")
        .unwrap_or_else(|e| panic!("cannot create the namespace: {e}"));
    ns.isolate_name_service(HOSTS)
        .unwrap_or_else(|e| panic!("{e}"));
    build_rest_scene(&ns).unwrap_or_else(|e| panic!("cannot build the scene: {e}"));
    let mut report = Report::new(TEST);
    for args in REST_FLAG_SETS {
        report.run(&format!("[rest] {}", command_line(&[], args)), || {
            if resolves_hosts(args) && !ns.lookups_are_private() {
                Verdict::Skip("name lookups could not be confined to the namespace".to_string())
                    .into()
            } else {
                compare(&tools, &ns, "rest", &[], args, Parts::ALL)
            }
        });
    }
    report.finish();
}

/// The annotated counters of `rnetstat -st --explain` in `ns`: the first
/// number of each annotated line, by the words after it (`TCPSynRetrans`
/// for `TCPSynRetrans: N`).
fn explained_counters(ns: &Netns) -> Result<Vec<(String, u64)>, String> {
    let ours: PathBuf = tool_under_test("rnetstat", "RNETSTAT_BIN");
    let out =
        rnet_testkit::process::run(&mut ns.command(&ours, &["-st", "--explain"]), RUN_TIMEOUT)
            .ctx("running rnetstat -st --explain")?;
    out.check("rnetstat -st --explain")?;
    let mut v = Vec::new();
    for line in out.stdout_text().lines() {
        let Some((left, _)) = line.split_once("  # ") else {
            continue;
        };
        let left = left.trim();
        let (num, key) = match left.split_once(": ") {
            Some((k, n)) => (n, k.to_string()),
            None => {
                let (n, words) = left.split_once(' ').unwrap_or((left, ""));
                (n, words.to_string())
            }
        };
        let n: u64 = num.parse().map_err(|_| format!("not a count: {line:?}"))?;
        v.push((key, n));
    }
    Ok(v)
}

fn counter(v: &[(String, u64)], key: &str) -> u64 {
    v.iter().find(|(k, _)| k == key).map_or(0, |(_, n)| *n)
}

/// `-s --explain` against the kernel: in a fresh namespace, an accepted
/// connection, a refused one and an unanswered SYN (a neighbour entry for
/// a MAC nobody has, so the SYN leaves and is never answered) move the
/// annotated counters as their sentences say.
#[test]
fn statistics_explain_matches_the_kernels_counting() {
    const TEST: &str = "statistics_explain_matches_the_kernels_counting";
    let Some(env) = lab_or_skip(TEST, &["netstat"]) else {
        return;
    };
    let ns = Netns::create(&env.ip, "sexp")
        .unwrap_or_else(|e| panic!("cannot create the namespace: {e}"));
    for args in [
        &[
            "link", "add", "rsv0", "type", "veth", "peer", "name", "rsv1",
        ][..],
        &["addr", "add", "198.18.7.1/24", "dev", "rsv0"],
        &["link", "set", "rsv0", "up"],
        &["link", "set", "rsv1", "up"],
        &[
            "neigh",
            "add",
            "198.18.7.2",
            "lladdr",
            "02:00:00:00:00:02",
            "dev",
            "rsv0",
            "nud",
            "permanent",
        ],
    ] {
        ns.ip(args).unwrap_or_else(|e| panic!("{e}"));
    }
    let before = explained_counters(&ns).unwrap_or_else(|e| panic!("{e}"));
    ns.run_in(|| -> Result<(), String> {
        // A fixed port below the ephemeral range (this namespace is the
        // test's own): with port 0 the refused connect below could pick
        // the freed port as its own source port and connect to itself.
        let l = TcpListener::bind("127.0.0.1:5599").ctx("listen")?;
        let to = l.local_addr().ctx("local address")?;
        let c = TcpStream::connect(to).ctx("connect")?;
        let s = accept_within(&l, Duration::from_secs(5)).ctx("accept")?;
        drop((c, s));
        drop(l);
        if TcpStream::connect(to).is_ok() {
            return Err("a closed port accepted".into());
        }
        // SYN at 0 s, resent at about 1 s; give up at 1.6 s.
        let r = TcpStream::connect_timeout(&sa("198.18.7.2:9"), Duration::from_millis(1600));
        if r.is_ok() {
            return Err("198.18.7.2 answered".into());
        }
        Ok(())
    })
    .ctx("entering the namespace")
    .and_then(|r| r)
    .unwrap_or_else(|e| panic!("{e}"));
    let after = explained_counters(&ns).unwrap_or_else(|e| panic!("{e}"));
    let d = |k: &str| counter(&after, k) - counter(&before, k);
    assert_eq!(
        d("active connection openings"),
        3,
        "{before:?} -> {after:?}"
    );
    assert_eq!(
        d("passive connection openings"),
        1,
        "{before:?} -> {after:?}"
    );
    assert!(
        d("failed connection attempts") >= 1,
        "{before:?} -> {after:?}"
    );
    assert!(d("segments retransmitted") >= 1, "{before:?} -> {after:?}");
    assert!(d("TCPSynRetrans") >= 1, "{before:?} -> {after:?}");
}

#[test]
fn resolves_hosts_reads_clusters() {
    assert!(resolves_hosts(&["-at"]));
    assert!(resolves_hosts(&[]));
    assert!(!resolves_hosts(&["-nat"]));
    assert!(!resolves_hosts(&["--numeric-hosts", "-at"]));
    assert!(resolves_hosts(&["--numeric-ports", "-at"]));
    assert!(!resolves_hosts(&["-A", "inet6", "-an"]));
    assert!(resolves_hosts(&["-A", "inet6", "-a"]));
    assert!(resolves_hosts(&["-Ainet", "-a"]));
}

/// net-tools' listing reduced to what `--port P` keeps: its two header
/// lines, then the rows with `:P` at the end of the local or the foreign
/// address (columns 4 and 5).
fn netstat_rows_with_port(listing: &str, port: u16) -> String {
    let tail = format!(":{port}");
    let mut out = String::new();
    for (i, line) in listing.split_inclusive('\n').enumerate() {
        let mut cols = line.split_whitespace();
        let (local, foreign) = (cols.nth(3).unwrap_or(""), cols.next().unwrap_or(""));
        if i < 2 || local.ends_with(&tail) || foreign.ends_with(&tail) {
            out.push_str(line);
        }
    }
    out
}

/// `rnetstat -nat --port P` (and with `-p -e -o`, `--sport`, `--state`) is
/// `LC_ALL=C netstat -nat` with only the rows of port P, byte for byte, in
/// a namespace whose sockets use P and other ports at both ends; and
/// `--json --port P` has one object per such row, with its addresses,
/// ports and state.
#[test]
fn rnetstat_port_filter_keeps_netstat_rows() {
    const TEST: &str = "rnetstat_port_filter_keeps_netstat_rows";
    const P: u16 = 5555;
    let Some(env) = lab_or_skip(TEST, &["netstat", "cat"]) else {
        return;
    };
    let mut ns = Netns::create(&env.ip, "filter")
        .unwrap_or_else(|e| panic!("cannot create the namespace: {e}"));
    ns.isolate_name_service(HOSTS)
        .unwrap_or_else(|e| panic!("{e}"));
    // Listeners on P and on two other ports (v4 and v6), two connections to
    // P (P is the local port of the server's rows, the foreign port of the
    // clients'), one to 5556 and one to 5557 that must be left out.
    let mut scene = Scene {
        keep: Vec::new(),
        _dirs: Vec::new(),
    };
    let (l_p, l_q, l_r6) = ns
        .run_in(|| -> io::Result<_> {
            Ok((
                TcpListener::bind("127.0.0.1:5555")?,
                TcpListener::bind("127.0.0.1:5556")?,
                TcpListener::bind("[::1]:5557")?,
            ))
        })
        .and_then(|r| r)
        .unwrap_or_else(|e| panic!("listeners: {e}"));
    for (l, to) in [
        (&l_p, "127.0.0.1:5555"),
        (&l_p, "127.0.0.1:5555"),
        (&l_q, "127.0.0.1:5556"),
        (&l_r6, "[::1]:5557"),
    ] {
        scene.hold(connect_pair(&ns, l, to).unwrap_or_else(|e| panic!("{e}")));
    }
    scene.hold((l_p, l_q, l_r6));
    settle(&ns, &|rows| count_state(rows, "tcp", 0x01) >= 8).unwrap_or_else(|e| panic!("{e}"));

    let mut report = Report::with_budget(TEST, TEST_BUDGET * SOURCES.len() as u32);
    for source in SOURCES {
        let tools = tool_pair_from(env.program("netstat"), source);
        // (netstat's arguments, rnetstat's, rows of port P: the listener with
        // -a, and both ends of the two connections).
        let cases: &[(&[&str], &[&str], usize)] = &[
            (&["-nat"], &["-nat", "--port", "5555"], 5),
            (&["-natpeo"], &["-natpeo", "--port", "5555"], 5),
            (&["-nt"], &["--port=5555", "-nt"], 4),
        ];
        for (reference_args, our_args, rows) in cases {
            let label = format!(
                "[{source}] {} | rows with :{P} vs rnetstat {}",
                command_line(&[], reference_args),
                our_args.join(" ")
            );
            report.run(&label, || {
            let mut first = None;
            for _ in 0..2 {
                let a = match tools.run_in(&ns, Side::Reference, &[], reference_args, RUN_TIMEOUT) {
                    Ok(a) => a,
                    Err(e) => return Verdict::Fail(format!("{label}\n  netstat: {e}\n")).into(),
                };
                let b = match tools.run_in(&ns, Side::UnderTest, &[], our_args, RUN_TIMEOUT) {
                    Ok(b) => b,
                    Err(e) => return Verdict::Fail(format!("{label}\n  rnetstat: {e}\n")).into(),
                };
                let want = mask_timer_seconds(&netstat_rows_with_port(&a.stdout_text(), P));
                let got = mask_timer_seconds(&b.stdout_text());
                let kept = want.lines().count().saturating_sub(2);
                if want == got && b.code() == Some(0) && b.stderr.is_empty() && kept == *rows {
                    return match first {
                        None => Verdict::Pass.into(),
                        Some(f) => Verdict::PassOnRetry(f).into(),
                    };
                }
                let why = format!(
                    "{label}\n  rnetstat {} with stderr {:?}; {kept} rows expected\n--- netstat, rows with :{P}\n{want}--- rnetstat\n{got}",
                    b.status_text(),
                    b.stderr_text()
                );
                if first.is_some() {
                    return Verdict::Fail(why).into();
                }
                first = Some(why);
            }
            unreachable!()
        });
        }
        // --json --port P: one object per row netstat shows with :P, with the
        // same addresses, ports and state.
        report.run(
            &format!("[{source}] netstat -nat | rows with :{P} vs rnetstat -nat --json --port {P}"),
            || {
                let a = tools.run_in(&ns, Side::Reference, &[], &["-nat"], RUN_TIMEOUT);
                let b = tools.run_in(
                    &ns,
                    Side::UnderTest,
                    &[],
                    &["-nat", "--json", "--port", "5555"],
                    RUN_TIMEOUT,
                );
                let (a, b) = match (a, b) {
                    (Ok(a), Ok(b)) => (a, b),
                    (Err(e), _) | (_, Err(e)) => {
                        return Verdict::Fail(format!("--json: {e}\n")).into()
                    }
                };
                let endpoint = |line: &str, side: &str| {
                    let port = json_field(line, &format!("{side}_port"));
                    let port = if port == "0" { "*".to_string() } else { port };
                    format!("{}:{port}", json_field(line, &format!("{side}_address")))
                };
                let mut want: Vec<String> = netstat_rows_with_port(&a.stdout_text(), P)
                    .lines()
                    .skip(2)
                    .map(|l| {
                        let c: Vec<&str> = l.split_whitespace().collect();
                        format!("{} {} {} {}", c[0], c[3], c[4], c[5])
                    })
                    .collect();
                let mut got: Vec<String> = b
                    .stdout_text()
                    .lines()
                    .map(|l| {
                        format!(
                            "{} {} {} {}",
                            json_field(l, "proto"),
                            endpoint(l, "local"),
                            endpoint(l, "foreign"),
                            json_field(l, "state")
                        )
                    })
                    .collect();
                want.sort();
                got.sort();
                if want == got && want.len() == 5 && b.code() == Some(0) {
                    Verdict::Pass.into()
                } else {
                    Verdict::Fail(format!(
                        "--json --port {P}: netstat rows {want:?}\n  rnetstat objects {got:?}\n"
                    ))
                    .into()
                }
            },
        );
    }
    drop(scene);
    report.finish();
}

/// The text of a string or number field of one `--json` line (the values
/// compared here hold no escapes).
fn json_field(line: &str, key: &str) -> String {
    let pat = format!("\"{key}\":");
    let Some(at) = line.find(&pat) else {
        return format!("<no {key}>");
    };
    let rest = &line[at + pat.len()..];
    match rest.strip_prefix('"') {
        Some(s) => s[..s.find('"').unwrap_or(s.len())].to_string(),
        None => rest[..rest.find([',', '}']).unwrap_or(rest.len())].to_string(),
    }
}

// ---------------------------------------------------------------------------
// The two table readers, side by side

/// The entries of one table as `/proc` gives them, read in the thread
/// that entered the namespace.
fn proc_entries(file: &str) -> io::Result<Vec<rnet_core::procnet::InetEntry>> {
    let path = PathBuf::from(format!("/proc/thread-self/net/{file}"));
    let mut r = rnet_core::procnet::InetReader::open(&path)?;
    let mut v = Vec::new();
    while let Some(e) = r.next_entry()? {
        v.push(e.map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?);
    }
    Ok(v)
}

/// The entries of one table over sock_diag (every state, with tcp_info).
fn diag_entries(
    proto: rnet_core::procnet::Proto,
    family: rnet_core::addr::Family,
) -> io::Result<Vec<rnet_core::procnet::InetEntry>> {
    let mut q = rnet_core::diag::Query::all(proto, family);
    q.info = true;
    let mut r = rnet_core::diag::DiagReader::open(&q)?;
    let mut v = Vec::new();
    while let Some(e) = r.next_entry()? {
        v.push(e);
    }
    Ok(v)
}

/// Where a sock_diag entry may differ from the /proc entry of the same
/// socket (docs/architecture.md, "sock_diag"): the ticks that pass between
/// the two reads, a listener's Send-Q (netlink sends the backlog limit
/// there; the listeners with a /proc Send-Q other than 0 are counted),
/// UDP's `sl` (the hash bucket there). Anything else is a mismatch.
fn diag_mismatch(
    udp: bool,
    p: &rnet_core::procnet::InetEntry,
    d: &rnet_core::procnet::InetEntry,
    listener_tx: &mut usize,
) -> Option<String> {
    let mut d = d.clone();
    if d.timer_ticks <= p.timer_ticks && p.timer_ticks - d.timer_ticks <= 100 {
        d.timer_ticks = p.timer_ticks;
    }
    if p.state.code() == 10 {
        *listener_tx += usize::from(p.tx_queue != 0);
        d.tx_queue = p.tx_queue;
    }
    if udp {
        d.slot = p.slot;
    }
    (d != *p).then(|| format!("/proc {p:?}\n  diag  {d:?}"))
}

/// sock_diag gives the entries /proc gives, in /proc's order, at a few
/// thousand TCP sockets (listeners, established, TIME_WAIT, a full accept
/// queue, unacknowledged data, IPv4 and IPv6) and UDP sockets (bound and
/// connected); a listener that was connected before `listen()` shows
/// /proc's `write_seq - snd_una` Send-Q that netlink cannot carry, which
/// is why rnetstat takes listeners from /proc.
#[test]
fn sock_diag_entries_are_the_proc_entries() {
    use rnet_core::addr::Family;
    use rnet_core::procnet::Proto;
    const TEST: &str = "sock_diag_entries_are_the_proc_entries";
    let Some(env) = lab_or_skip(TEST, &[]) else {
        return;
    };
    let ns = Netns::create(&env.ip, "diag").unwrap_or_else(|e| panic!("namespace: {e}"));
    let mut scene = Scene {
        keep: Vec::new(),
        _dirs: Vec::new(),
    };
    let (l4, l6, spare) = ns
        .run_in(|| -> io::Result<_> {
            let l4 = TcpListener::bind("127.0.0.1:6000")?;
            let l6 = TcpListener::bind("[::1]:6001")?;
            let spare = TcpListener::bind("127.0.0.1:6002")?;
            Ok((l4, l6, spare))
        })
        .and_then(|r| r)
        .unwrap_or_else(|e| panic!("listeners: {e}"));
    for (l, to, n) in [(&l4, "127.0.0.1:6000", 1200), (&l6, "[::1]:6001", 300)] {
        for _ in 0..n {
            scene.hold(connect_pair(&ns, l, to).unwrap_or_else(|e| panic!("{e}")));
        }
    }
    // TIME_WAIT on the client side: it closes first.
    for _ in 0..50 {
        let (c, s) = connect_pair(&ns, &l4, "127.0.0.1:6000").unwrap_or_else(|e| panic!("{e}"));
        drop(c);
        read_to_eof(&s).unwrap_or_else(|e| panic!("{e}"));
    }
    // Unacknowledged bytes, then connect(AF_UNSPEC) and listen(): the
    // listener keeps write_seq - snd_una in /proc's tx_queue.
    let (c, s) = connect_pair(&ns, &spare, "127.0.0.1:6002").unwrap_or_else(|e| panic!("{e}"));
    (&c).write_all(&[7u8; 1000])
        .unwrap_or_else(|e| panic!("write: {e}"));
    thread::sleep(Duration::from_millis(50));
    {
        use std::os::fd::AsFd;
        sys::disconnect(c.as_fd()).unwrap_or_else(|e| panic!("disconnect: {e}"));
        sys::listen(c.as_fd(), 8).unwrap_or_else(|e| panic!("listen: {e}"));
    }
    scene.hold((c, s));
    // Three connections left in the accept queue.
    for _ in 0..3 {
        let c = ns
            .run_in(|| TcpStream::connect("127.0.0.1:6000"))
            .and_then(|r| r)
            .unwrap_or_else(|e| panic!("connect: {e}"));
        scene.hold(c);
    }
    let udp = ns
        .run_in(|| -> io::Result<Vec<UdpSocket>> {
            let mut v = Vec::new();
            for i in 0..200 {
                let (bind, peer) = if i % 3 == 0 {
                    ("[::1]:0", "[::1]:9")
                } else {
                    ("127.0.0.1:0", "127.0.0.1:9")
                };
                let u = UdpSocket::bind(bind)?;
                if i % 2 == 0 {
                    u.connect(peer)?;
                }
                v.push(u);
            }
            Ok(v)
        })
        .and_then(|r| r)
        .unwrap_or_else(|e| panic!("udp: {e}"));
    scene.hold(udp);
    scene.hold((l4, l6, spare));
    settle(&ns, &|rows| count_state(rows, "tcp", 0x01) >= 3000).unwrap_or_else(|e| panic!("{e}"));

    let tables = [
        ("tcp", Proto::Tcp, Family::V4),
        ("tcp6", Proto::Tcp, Family::V6),
        ("udp", Proto::Udp, Family::V4),
        ("udp6", Proto::Udp, Family::V6),
    ];
    let mut failures = Vec::new();
    let mut listener_tx = 0;
    for (file, proto, family) in tables {
        let result = ns
            .run_in(|| -> io::Result<Result<usize, String>> {
                // A read of /proc on each side of the dump; a table that
                // moved in between is read again.
                let mut last = String::new();
                for _ in 0..3 {
                    let before = proc_entries(file)?;
                    let diag = diag_entries(proto, family)?;
                    let after = proc_entries(file)?;
                    let key = |v: &[rnet_core::procnet::InetEntry]| -> Vec<_> {
                        v.iter()
                            .map(|e| (e.local, e.local_port, e.remote, e.remote_port, e.state))
                            .collect()
                    };
                    if key(&before) != key(&after) {
                        last = format!("{file}: the table moved between two reads");
                        continue;
                    }
                    if before.len() != diag.len() {
                        last = format!(
                            "{file}: /proc {} entries, sock_diag {}",
                            before.len(),
                            diag.len()
                        );
                        continue;
                    }
                    let mut tx = 0;
                    let bad: Vec<String> = before
                        .iter()
                        .zip(&diag)
                        .filter_map(|(p, d)| diag_mismatch(proto == Proto::Udp, p, d, &mut tx))
                        .collect();
                    if bad.is_empty() {
                        return Ok(Ok(tx));
                    }
                    last = format!(
                        "{file}: {} of {} entries differ, first:\n  {}",
                        bad.len(),
                        before.len(),
                        bad[0]
                    );
                }
                Ok(Err(last))
            })
            .and_then(|r| r)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        match result {
            Ok(tx) => listener_tx += tx,
            Err(e) => failures.push(e),
        }
    }
    drop(scene);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(
        listener_tx, 1,
        "one listener (the disconnected one) should have a /proc Send-Q, which netlink lacks"
    );
}

/// Which tables rnetstat reads over sock_diag, seen from outside: under
/// `strace`, a `NETLINK_SOCK_DIAG` socket is opened for the listings that
/// may use it (`-nat`, `-natp`, `-nau`, `--port`), by default and with
/// `RNETSTAT_SOURCE=netlink`, and for `--summary` (with the same counts),
/// and never with `RNETSTAT_SOURCE=proc`, for
/// TCP with `-e`/`-o`/`--json`, or under `RNET_PROC_ROOT`; without
/// sock_diag the default falls back and `netlink` fails.
#[test]
fn rnetstat_uses_sock_diag_where_it_may() {
    const TEST: &str = "rnetstat_uses_sock_diag_where_it_may";
    let Some(env) = lab_or_skip(TEST, &["strace"]) else {
        return;
    };
    let ours: PathBuf = tool_under_test("rnetstat", "RNETSTAT_BIN");
    let ns = Netns::create(&env.ip, "diagpath").unwrap_or_else(|e| panic!("namespace: {e}"));
    let l = ns
        .run_in(|| TcpListener::bind("127.0.0.1:6000"))
        .and_then(|r| r)
        .unwrap_or_else(|e| panic!("listener: {e}"));
    let pair = connect_pair(&ns, &l, "127.0.0.1:6000").unwrap_or_else(|e| panic!("{e}"));
    let dir = TempDir::new("diagpath").unwrap_or_else(|e| panic!("{e}"));
    let trace = dir.join("trace");
    let ours_s = ours.to_string_lossy().into_owned();
    let trace_s = trace.to_string_lossy().into_owned();
    // (environment, arguments, whether sock_diag is used)
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str], bool);
    let cases: &[Case] = &[
        (&[], &["-nat"], true),
        (&[("RNETSTAT_SOURCE", "netlink")], &["-natp"], true),
        (&[("RNETSTAT_SOURCE", "auto")], &["-nau"], true),
        (&[], &["-nat", "--port", "6000"], true),
        (&[("RNETSTAT_SOURCE", "proc")], &["-natu"], false),
        (&[], &["-nate"], false),
        (&[], &["-nato"], false),
        (&[], &["-nat", "--json"], false),
        (&[], &["-naw"], false),
        (&[("RNET_PROC_ROOT", "/proc/self/..")], &["-natu"], false),
        (&[], &["--summary", "--json"], true),
        (&[("RNETSTAT_SOURCE", "proc")], &["--summary"], false),
    ];
    let mut failures = Vec::new();
    for (vars, args, want) in cases {
        let mut argv: Vec<&str> = vec!["-f", "-e", "trace=socket", "-o", &trace_s, &ours_s];
        argv.extend_from_slice(args);
        let mut cmd = ns.command(env.program("strace"), &argv);
        for (k, v) in *vars {
            cmd.env(k, v);
        }
        let out = rnet_testkit::process::run(&mut cmd, RUN_TIMEOUT)
            .unwrap_or_else(|e| panic!("strace rnetstat {args:?}: {e}"));
        let text = fs::read_to_string(&trace).unwrap_or_default();
        let used = text.contains("NETLINK_SOCK_DIAG");
        if out.code() != Some(0) || used != *want {
            failures.push(format!(
                "{vars:?} rnetstat {args:?}: {} ; sock_diag used: {used}, expected {want}; stderr {:?}",
                out.status_text(),
                out.stderr_text()
            ));
        }
    }
    // A kernel without sock_diag (socket() fails, injected by strace):
    // the default falls back to /proc with the same bytes, `netlink` is an
    // error with netstat's kind of message and status 1.
    let run = |source: Option<&str>, inject: bool| {
        let mut argv: Vec<&str> = vec!["-f", "-o", &trace_s];
        if inject {
            argv.extend_from_slice(&["-e", "inject=socket:error=EPROTONOSUPPORT"]);
        }
        argv.extend_from_slice(&[&ours_s, "-natu"]);
        let mut cmd = ns.command(env.program("strace"), &argv);
        if let Some(s) = source {
            cmd.env("RNETSTAT_SOURCE", s);
        }
        rnet_testkit::process::run(&mut cmd, RUN_TIMEOUT)
            .unwrap_or_else(|e| panic!("strace rnetstat -natu: {e}"))
    };
    // --summary counts the same on both paths.
    let summary = |source: &str| {
        let mut cmd = ns.command(&ours, &["--summary", "--json", "--port", "6000"]);
        cmd.env("RNETSTAT_SOURCE", source);
        rnet_testkit::process::run(&mut cmd, RUN_TIMEOUT)
            .unwrap_or_else(|e| panic!("rnetstat --summary: {e}"))
    };
    let (p, n) = (summary("proc"), summary("netlink"));
    if p.stdout != n.stdout
        || !p
            .stdout_text()
            .contains("\"ESTABLISHED\",\"state_code\":1,\"count\":2")
    {
        failures.push(format!(
            "--summary --json --port 6000: /proc {:?}, sock_diag {:?}",
            p.stdout_text(),
            n.stdout_text()
        ));
    }
    // UDP as JSON: every field of the object, from both sources.
    let udp = ns
        .run_in(|| -> io::Result<(UdpSocket, UdpSocket)> {
            let a = UdpSocket::bind("127.0.0.1:6100")?;
            let b = UdpSocket::bind("127.0.0.1:0")?;
            b.connect("127.0.0.1:6100")?;
            b.send(b"x")?;
            Ok((a, b))
        })
        .and_then(|r| r)
        .unwrap_or_else(|e| panic!("udp: {e}"));
    thread::sleep(Duration::from_millis(20));
    let json = |source: &str| {
        let mut cmd = ns.command(&ours, &["-nau", "--json"]);
        cmd.env("RNETSTAT_SOURCE", source);
        rnet_testkit::process::run(&mut cmd, RUN_TIMEOUT)
            .unwrap_or_else(|e| panic!("rnetstat -nau --json: {e}"))
    };
    let (p, n) = (json("proc"), json("netlink"));
    if p.stdout != n.stdout || p.stdout_text().lines().count() != 2 {
        failures.push(format!(
            "-nau --json: /proc {:?}, sock_diag {:?}",
            p.stdout_text(),
            n.stdout_text()
        ));
    }
    drop(udp);
    let want = run(Some("proc"), false);
    let fallback = run(None, true);
    if (fallback.code(), &fallback.stdout, &fallback.stderr)
        != (Some(0), &want.stdout, &want.stderr)
    {
        failures.push(format!(
            "no sock_diag, default source: {} {:?}, want /proc's bytes {:?}",
            fallback.status_text(),
            fallback.stdout_text(),
            want.stdout_text()
        ));
    }
    let forced = run(Some("netlink"), true);
    let msg = "netstat: sock_diag tcp: Protocol not supported\n";
    if forced.code() != Some(1) || !forced.stderr_text().ends_with(msg) {
        failures.push(format!(
            "no sock_diag, RNETSTAT_SOURCE=netlink: {} stderr {:?}, want status 1 and {msg:?}",
            forced.status_text(),
            forced.stderr_text()
        ));
    }
    drop(pair);
    drop(l);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// TCP over sock_diag lists both families from one walk of the kernel's
/// tables (`rnet_core::diag::OneWalk`) while IPv6 sockets are few, holding
/// the IPv6 entries back until the IPv4 table is out; past what it holds
/// (2,048: here TIME_WAIT sockets, which `sockstat6` does not count), and
/// when `sockstat6` counts many IPv6 sockets, IPv6 is dumped on its own.
/// In each regime `rnetstat -nat` (and `-nt`, `-natW`) prints netstat's
/// bytes, and strace shows which requests were sent: the walk of both
/// (`TCPDIAG_GETSOCK`, type 0x12) and the IPv6 dump of every state but
/// LISTEN (`SOCK_DIAG_BY_FAMILY` for AF_INET6, states 0x1bff).
#[test]
fn one_walk_of_both_families_keeps_netstats_order() {
    const TEST: &str = "one_walk_of_both_families_keeps_netstats_order";
    let Some(env) = lab_or_skip(TEST, &["netstat", "strace"]) else {
        return;
    };
    let ns = Netns::create(&env.ip, "onewalk").unwrap_or_else(|e| panic!("namespace: {e}"));
    let ours: PathBuf = tool_under_test("rnetstat", "RNETSTAT_BIN");
    let (l4, l6) = ns
        .run_in(|| -> io::Result<_> {
            Ok((
                TcpListener::bind("127.0.0.1:7000")?,
                TcpListener::bind("[::1]:7001")?,
            ))
        })
        .and_then(|r| r)
        .unwrap_or_else(|e| panic!("listeners: {e}"));
    let mut keep = Vec::new();
    let pairs = |l: &TcpListener, to: &str, n: usize, keep: &mut Vec<(TcpStream, TcpStream)>| {
        for _ in 0..n {
            keep.push(connect_pair(&ns, l, to).unwrap_or_else(|e| panic!("{e}")));
        }
    };
    pairs(&l4, "127.0.0.1:7000", 150, &mut keep);
    pairs(&l6, "[::1]:7001", 100, &mut keep);
    let dir = TempDir::new("onewalk").unwrap_or_else(|e| panic!("{e}"));
    let trace = dir.join("trace");
    let (ours_s, trace_s) = (
        ours.to_string_lossy().into_owned(),
        trace.to_string_lossy().into_owned(),
    );
    // (legacy walks, IPv6 dumps) rnetstat -nat sent.
    let requests = || -> (usize, usize) {
        let argv = ["-f", "-e", "trace=sendto", "-o", &trace_s, &ours_s, "-nat"];
        let mut cmd = ns.command(env.program("strace"), &argv);
        cmd.env("RNETSTAT_SOURCE", "netlink");
        let out = rnet_testkit::process::run(&mut cmd, RUN_TIMEOUT)
            .unwrap_or_else(|e| panic!("strace rnetstat -nat: {e}"));
        assert_eq!(
            out.code(),
            Some(0),
            "strace rnetstat -nat: {}",
            out.stderr_text()
        );
        let text = fs::read_to_string(&trace).unwrap_or_default();
        (
            text.matches("nlmsg_type=0x12").count(),
            text.matches(r#""\x0a\x06\x00\x00\xff\x1b\x00\x00"#).count(),
        )
    };
    let tools = tool_pair_from(env.program("netstat"), "netlink");
    let mut report = Report::new(TEST);
    let regime = |report: &mut Report, name: &str, want: (usize, usize)| {
        settle(&ns, &|_| true).unwrap_or_else(|e| panic!("{e}"));
        for args in [&["-nat"][..], &["-nt"], &["-natW"]] {
            report.run(&format!("[{name}] {}", command_line(&[], args)), || {
                compare(&tools, &ns, name, &[], args, Parts::ALL)
            });
        }
        report.run(&format!("[{name}] requests"), || {
            let got = requests();
            if got == want {
                Verdict::Pass.into()
            } else {
                Verdict::Fail(format!(
                    "[{name}] (walks of both families, IPv6 dumps): {got:?}, expected {want:?}"
                ))
                .into()
            }
        });
    };
    regime(&mut report, "200 IPv6 sockets: one walk", (1, 0));
    // TIME_WAIT on the client side of each: held until 2,048, then dropped.
    for _ in 0..2100 {
        let (c, s) = connect_pair(&ns, &l6, "[::1]:7001").unwrap_or_else(|e| panic!("{e}"));
        drop(c);
        read_to_eof(&s).unwrap_or_else(|e| panic!("{e}"));
        drop(s);
    }
    regime(
        &mut report,
        "and 2,100 in TIME_WAIT: one walk, IPv6 again",
        (1, 1),
    );
    pairs(&l6, "[::1]:7001", 500, &mut keep);
    regime(&mut report, "1,200 IPv6 sockets in use: two dumps", (0, 1));
    drop(keep);
    report.finish();
}
