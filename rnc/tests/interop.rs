//! rnc against the real OpenBSD netcat (Debian's `nc.openbsd` 1.219), on
//! loopback only (127.0.0.1, 127.0.0.2, ::1, UNIX sockets): no root needed.
//!
//! Two kinds of checks:
//! - **interop**: rnc on one end and nc.openbsd on the other, both roles,
//!   IPv4 and IPv6, 64 MiB of random data each way (sha256 equal on
//!   arrival), `-N`, `-d`, `-k`, `-u`, `-U` (path and `@abstract`),
//!   `-p`/`-s`;
//! - **same situation**: nc.openbsd and rnc run one after the other against
//!   the same test-made peer, and what a user or script can see (stdout,
//!   verbose lines, exit status, when it exits, what the peer received)
//!   must be equal, after normalizing the program name (`nc.openbsd:` /
//!   `rnc:` -> `PROG:`) and port numbers. Where rnc differs on purpose
//!   (docs/compat.md) the test says so and checks rnc's documented
//!   behaviour instead.
//!
//! Some tests failed against rnc when written and were fixed in rnc; they
//! stay as the specification (nc.openbsd passes them), not to be weakened;
//! each says so in its comment, with the evidence.
//!
//! Needs `/usr/bin/nc.openbsd` (Debian `netcat-openbsd`); without it the
//! tests print `SKIPPED ...` and pass, unless `RNET_REQUIRE_LAB=1`.
//! Tests that need namespaces or iptables (connect timeout with dropped
//! SYNs, unknown host, `--explain`) are in the root package's
//! `tests/rnc_lab.rs`.
//!
//! Every child runs with an empty environment (`LC_ALL=C`, a standard
//! `PATH`), has a deadline and is killed when its guard is dropped, also
//! when a test panics. Ports come from 20000-31999 (below the ephemeral
//! range), checked free, never reused within the process.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use rnet_testkit::running::{status_text, Capture, In, Out, Running};
use rnet_testkit::tempdir::TempDir;
use rnet_testkit::{find_program, skip, unique_suffix, DEFAULT_PATH};

/// Size of each bulk transfer.
const BULK: usize = 64 << 20;
/// Deadline of a short run (a message, a scan, a small exchange).
const SHORT: Duration = Duration::from_secs(10);

// ------------------------------------------------------------ environment

/// A netcat to run, the way a user types it: a bare name found through
/// `PATH` (so `argv[0]` is that name, as in getopt's messages).
#[derive(Clone, Debug)]
struct Tool {
    dir: PathBuf,
    name: String,
    /// Typed as a full path (`/usr/bin/nc.openbsd`) instead of a name.
    by_path: bool,
}

impl Tool {
    fn name(&self) -> String {
        self.name.clone()
    }
    fn path(&self) -> PathBuf {
        self.dir.join(&self.name)
    }
}

fn rnc() -> Tool {
    let p = PathBuf::from(env!("CARGO_BIN_EXE_rnc"));
    Tool {
        dir: p.parent().expect("binary directory").to_path_buf(),
        name: "rnc".to_string(),
        by_path: false,
    }
}

/// nc.openbsd, or `None` after explaining the skip.
fn nc_or_skip(test: &str) -> Option<Tool> {
    match find_program("nc.openbsd") {
        Some(path) => Some(Tool {
            dir: path.parent().expect("directory").to_path_buf(),
            name: "nc.openbsd".to_string(),
            by_path: false,
        }),
        None => {
            skip(
                test,
                "nc.openbsd (Debian netcat-openbsd) is not installed; it is the reference",
            );
            None
        }
    }
}

fn ipv6_available() -> bool {
    TcpListener::bind("[::1]:0").is_ok()
}

// ------------------------------------------------------------------ ports

fn port_free(p: u16, v6: bool) -> bool {
    let tcp4 = TcpListener::bind(("0.0.0.0", p)).is_ok();
    let udp4 = UdpSocket::bind(("0.0.0.0", p)).is_ok();
    let (tcp6, udp6) = if v6 {
        (
            TcpListener::bind(("::", p)).is_ok(),
            UdpSocket::bind(("::", p)).is_ok(),
        )
    } else {
        (true, true)
    };
    tcp4 && udp4 && tcp6 && udp6
}

/// The first of `n` consecutive ports, free for TCP and UDP on IPv4 and
/// IPv6, never handed out before by this process.
fn ports(n: u16) -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let v6 = ipv6_available();
    let start = (std::process::id() % 400) * 30;
    for _ in 0..2000 {
        let off = NEXT.fetch_add(u32::from(n), Ordering::Relaxed);
        let base = 20000 + ((start + off) % 11900) as u16;
        if (base..base + n).all(|p| port_free(p, v6)) {
            return base;
        }
    }
    panic!("no {n} consecutive free ports in 20000-31999");
}

fn port() -> u16 {
    ports(1)
}

// -------------------------------------------------------------- processes

/// A running child (rnet_testkit::running::Running), killed with its
/// process group when dropped.
struct Proc {
    run: Running,
}

/// A finished (or killed) child.
#[derive(Debug)]
struct Done {
    label: String,
    /// `None` when the deadline passed and the test killed it.
    status: Option<ExitStatus>,
    stdout: Vec<u8>,
    stderr: String,
    elapsed: Duration,
}

impl Done {
    fn code(&self) -> Option<i32> {
        self.status.and_then(|s| s.code())
    }
    fn describe(&self) -> String {
        let st = match self.status {
            None => "still running at the deadline (killed)".to_string(),
            Some(s) => status_text(s),
        };
        format!(
            "{}: {st} after {:.2} s; stdout {:?}; stderr {:?}",
            self.label,
            self.elapsed.as_secs_f64(),
            String::from_utf8_lossy(&self.stdout[..self.stdout.len().min(200)]),
            self.stderr
        )
    }
}

/// Starts `tool ARGS` the way a user types it (a bare name found through
/// `PATH`, or the full path), `LC_ALL=C`, nothing else in the environment.
fn spawn(tool: &Tool, args: &[&str], stdin: In, stdout: Out) -> Proc {
    let mut cmd = if tool.by_path {
        Command::new(tool.path())
    } else {
        Command::new(&tool.name)
    };
    let mut path = tool.dir.clone().into_os_string();
    path.push(":");
    path.push(DEFAULT_PATH);
    cmd.args(args)
        .env_clear()
        .env("LC_ALL", "C")
        .env("PATH", path);
    let label = format!("{} {}", tool.name, args.join(" "));
    Proc {
        run: Running::spawn(cmd, &label, stdin, stdout),
    }
}

impl Proc {
    fn write(&mut self, data: &[u8]) {
        self.run.type_bytes(data);
    }

    /// Closes the stdin pipe: the child sees EOF (Ctrl-D).
    fn close_stdin(&mut self) {
        self.run.close_stdin();
    }

    /// What it wrote to stdout so far (nothing when stdout is a file).
    fn stdout_now(&self) -> Vec<u8> {
        self.run
            .stdout_capture()
            .map(Capture::bytes)
            .unwrap_or_default()
    }

    fn stderr_now(&self) -> String {
        self.run.stderr()
    }

    fn running(&mut self) -> bool {
        self.run.running()
    }

    /// Waits up to `timeout` for the exit.
    fn wait(&mut self, timeout: Duration) -> Option<ExitStatus> {
        self.run.wait_for(timeout)
    }

    /// Waits until stdout contains `needle` (or the child exits, or the
    /// timeout passes).
    fn wait_stdout(&mut self, needle: &[u8], timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if contains(&self.stdout_now(), needle) {
                return true;
            }
            if Instant::now() >= deadline || !self.running() {
                return contains(&self.stdout_now(), needle);
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Waits up to `timeout`, kills the child if it is still running, and
    /// returns everything it left.
    fn finish(mut self, timeout: Duration) -> Done {
        let status = self.wait(timeout);
        let elapsed = self.run.started().elapsed();
        self.close_stdin();
        if status.is_none() {
            self.run.kill();
        }
        self.run.drain(SHORT);
        Done {
            label: self.run.label().to_string(),
            status,
            stdout: self.stdout_now(),
            stderr: self.stderr_now(),
            elapsed,
        }
    }

    /// Kills the child now.
    fn kill(self) -> Done {
        self.finish(Duration::ZERO)
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

/// Runs a tool with stdin from /dev/null and returns how it ended.
fn run(tool: &Tool, args: &[&str], timeout: Duration) -> Done {
    spawn(tool, args, In::Null, Out::Captured).finish(timeout)
}

// ---------------------------------------------------- waiting for sockets

fn proc_net_ports(files: &[&str], want_state: Option<&str>) -> Vec<u16> {
    let mut out = Vec::new();
    for f in files {
        let Ok(text) = fs::read_to_string(format!("/proc/net/{f}")) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.len() < 4 {
                continue;
            }
            if want_state.is_some_and(|s| cols[3] != s) {
                continue;
            }
            if let Some(p) = cols[1]
                .rsplit(':')
                .next()
                .and_then(|h| u16::from_str_radix(h, 16).ok())
            {
                out.push(p);
            }
        }
    }
    out
}

/// Waits until a TCP socket listens on `port` (the listener `p` must not
/// have exited); nothing connects to it meanwhile.
fn wait_tcp_listen(p: &mut Proc, port: u16) {
    wait_socket(p, &format!("TCP LISTEN on port {port}"), || {
        proc_net_ports(&["tcp", "tcp6"], Some("0A")).contains(&port)
    });
}

/// Waits until a UDP socket is bound to `port`.
fn wait_udp_bound(p: &mut Proc, port: u16) {
    wait_socket(p, &format!("UDP socket on port {port}"), || {
        proc_net_ports(&["udp", "udp6"], None).contains(&port)
    });
}

/// Waits until a UNIX stream socket listens at `name` (a path, or
/// `@abstract`).
fn wait_unix_listen(p: &mut Proc, name: &str) {
    wait_socket(p, &format!("UNIX socket listening at {name}"), || {
        fs::read_to_string("/proc/net/unix").is_ok_and(|t| {
            t.lines().any(|l| {
                let c: Vec<&str> = l.split_whitespace().collect();
                // Num RefCount Protocol Flags Type St Inode Path;
                // Flags 00010000 = __SO_ACCEPTCON (listening).
                c.len() >= 8 && c[3] == "00010000" && c[7] == name
            })
        })
    });
}

fn wait_socket(p: &mut Proc, what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + SHORT;
    loop {
        if ready() {
            return;
        }
        if !p.running() {
            panic!(
                "{} exited before {what}: stderr {:?}",
                p.run.label(),
                p.stderr_now()
            );
        }
        if Instant::now() >= deadline {
            panic!("timed out waiting for {what} ({})", p.run.label());
        }
        thread::sleep(Duration::from_millis(5));
    }
}

// ------------------------------------------------------------------ peers

/// What a test-made TCP server saw.
#[derive(Debug, Default, Clone)]
struct PeerLog {
    /// The client's address.
    from: Option<SocketAddr>,
    /// Bytes received.
    got: Vec<u8>,
    /// The client's FIN arrived (read returned 0).
    fin: bool,
    /// When (since accept) the FIN arrived.
    fin_at: Option<Duration>,
    /// The connection was reset.
    reset: bool,
}

/// A one-connection TCP server on its own thread; `script` gets the
/// accepted stream. Joined (with a deadline) by [`Peer::join`].
struct Peer {
    handle: Option<JoinHandle<PeerLog>>,
}

impl Peer {
    fn start(
        listener: TcpListener,
        script: impl FnOnce(TcpStream) -> PeerLog + Send + 'static,
    ) -> Peer {
        listener.set_nonblocking(true).unwrap();
        let h = thread::spawn(move || {
            let deadline = Instant::now() + SHORT;
            loop {
                match listener.accept() {
                    Ok((s, from)) => {
                        s.set_nonblocking(false).unwrap();
                        let mut log = script(s);
                        log.from = Some(from);
                        return log;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        if Instant::now() >= deadline {
                            return PeerLog::default();
                        }
                        thread::sleep(Duration::from_millis(5));
                    }
                    Err(_) => return PeerLog::default(),
                }
            }
        });
        Peer { handle: Some(h) }
    }

    fn join(mut self) -> PeerLog {
        let h = self.handle.take().unwrap();
        let deadline = Instant::now() + SHORT;
        while !h.is_finished() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
        assert!(h.is_finished(), "test peer did not finish in time");
        h.join().expect("test peer panicked")
    }
}

/// Reads until EOF, reset, or `limit` passes without data.
fn read_until_eof(s: &mut TcpStream, log: &mut PeerLog, limit: Duration) {
    let t0 = Instant::now();
    s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let mut buf = [0u8; 4096];
    while t0.elapsed() < limit {
        match s.read(&mut buf) {
            Ok(0) => {
                log.fin = true;
                log.fin_at = Some(t0.elapsed());
                return;
            }
            Ok(n) => log.got.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => {
                log.reset = true;
                return;
            }
        }
    }
}

fn listener_v4() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let p = l.local_addr().unwrap().port();
    (l, p)
}

// ---------------------------------------------------------- normalization

/// Program names at the start of a line become `PROG:`; each port in
/// `ports` becomes its token; the port at the end of `Connection received
/// on HOST PORT` becomes `CPORT` unless listed.
fn normalize(text: &str, ports: &[(u16, &str)]) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let mut l = line.to_string();
        for prog in ["nc.openbsd: ", "rnc: ", "nc: "] {
            if let Some(rest) = l.strip_prefix(prog) {
                l = format!("PROG: {rest}");
                break;
            }
        }
        l = replace_numbers(&l, ports);
        if let Some(rest) = l.strip_prefix("Connection received on ") {
            if let Some((host, last)) = rest.rsplit_once(' ') {
                if last.chars().all(|c| c.is_ascii_digit()) {
                    l = format!("Connection received on {host} CPORT");
                }
            }
        }
        out.push_str(&l);
        out.push('\n');
    }
    out
}

fn replace_numbers(line: &str, ports: &[(u16, &str)]) -> String {
    let mut out = String::new();
    let mut digits = String::new();
    let flush = |digits: &mut String, out: &mut String| {
        if !digits.is_empty() {
            match digits
                .parse::<u16>()
                .ok()
                .and_then(|n| ports.iter().find(|(p, _)| *p == n))
            {
                Some((_, tok)) => out.push_str(tok),
                None => out.push_str(digits),
            }
            digits.clear();
        }
    };
    let mut prev_alnum = false;
    for c in line.chars() {
        if c.is_ascii_digit() && (!prev_alnum || !digits.is_empty()) {
            digits.push(c);
        } else {
            flush(&mut digits, &mut out);
            out.push(c);
            prev_alnum = c.is_ascii_alphanumeric() || c == '.' || c == ':';
        }
    }
    flush(&mut digits, &mut out);
    out
}

#[test]
fn normalize_masks_names_and_ports() {
    let t = "nc.openbsd: connect to 127.0.0.1 port 20001 (tcp) failed: Connection refused\n\
             Connection received on localhost 43210\nrnc: port number too large: 99999\n";
    assert_eq!(
        normalize(t, &[(20001, "P")]),
        "PROG: connect to 127.0.0.1 port P (tcp) failed: Connection refused\n\
         Connection received on localhost CPORT\nPROG: port number too large: 99999\n"
    );
}

/// Asserts two runs in the same situation look the same: exit status and
/// normalized stderr (and stdout when `stdout` is true).
fn assert_same(what: &str, reference: &Done, ours: &Done, ports: &[(u16, &str)], stdout: bool) {
    let (a, b) = (
        normalize(&reference.stderr, ports),
        normalize(&ours.stderr, ports),
    );
    let mut problems = Vec::new();
    if reference.code() != ours.code() || reference.status.is_none() != ours.status.is_none() {
        problems.push("exit status differs".to_string());
    }
    if a != b {
        problems.push(format!(
            "stderr differs after normalization:\n  reference: {a:?}\n  rnc:       {b:?}"
        ));
    }
    if stdout && reference.stdout != ours.stdout {
        problems.push("stdout differs".to_string());
    }
    assert!(
        problems.is_empty(),
        "{what}: rnc differs from nc.openbsd: {}\n  {}\n  {}",
        problems.join("; "),
        reference.describe(),
        ours.describe()
    );
}

// ================================================================== tests

// ------------------------------------------------------------- bulk data

fn random_file(path: &Path, len: usize) {
    let mut src = File::open("/dev/urandom").expect("open /dev/urandom");
    let mut dst = File::create(path).expect("create data file");
    let mut left = len;
    let mut buf = vec![0u8; 1 << 20];
    while left > 0 {
        let n = left.min(buf.len());
        src.read_exact(&mut buf[..n]).expect("read /dev/urandom");
        dst.write_all(&buf[..n]).expect("write data file");
        left -= n;
    }
}

/// sha256 of a file via sha256sum(1) (coreutils); `None` when missing.
fn sha256(path: &Path) -> Option<String> {
    let prog = find_program("sha256sum")?;
    let out = Command::new(prog)
        .arg(path)
        .env_clear()
        .env("LC_ALL", "C")
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace().next().map(str::to_string)
}

fn assert_same_content(what: &str, sent: &Path, got: &Path) {
    let (a, b) = (
        fs::metadata(sent).map(|m| m.len()).unwrap_or(0),
        fs::metadata(got).map(|m| m.len()).unwrap_or(0),
    );
    assert_eq!(a, b, "{what}: sent {a} bytes, {b} arrived");
    match (sha256(sent), sha256(got)) {
        (Some(x), Some(y)) => assert_eq!(x, y, "{what}: sha256 differs"),
        _ => assert!(
            fs::read(sent).unwrap() == fs::read(got).unwrap(),
            "{what}: content differs"
        ),
    }
}

/// One bulk transfer between `client` and `listener` over `host`; the
/// client sends when `client_sends`, else the listener does. Both use the
/// flags that make netcat end at EOF (`-N` on the sender).
fn bulk_once(
    client: &Tool,
    listener: &Tool,
    host: &str,
    client_sends: bool,
    data: &Path,
    dir: &TempDir,
) {
    let p = port();
    let ps = p.to_string();
    let got = dir.join(&format!("got-{}", unique_suffix()));
    let v6 = host.contains(':');
    let mut largs: Vec<&str> = Vec::new();
    if v6 {
        // nc.openbsd's own form for an IPv6 listener; `-l ::1` without -6
        // is tested on its own (listen_on_explicit_ipv6_address...).
        largs.push("-6");
    }
    if !client_sends {
        largs.push("-N");
    }
    largs.extend(["-l", host, ps.as_str()]);
    let mut cargs: Vec<&str> = Vec::new();
    if client_sends {
        cargs.push("-N");
    }
    cargs.extend([host, ps.as_str()]);
    let (lin, lout, cin, cout) = if client_sends {
        (
            In::Null,
            Out::File(got.clone()),
            In::File(data.to_path_buf()),
            Out::File(dir.join("devnull-c")),
        )
    } else {
        (
            In::File(data.to_path_buf()),
            Out::File(dir.join("devnull-l")),
            In::Null,
            Out::File(got.clone()),
        )
    };
    let what = format!(
        "{} bytes {} -> {} over {host} ({} listens)",
        BULK,
        if client_sends {
            client.name()
        } else {
            listener.name()
        },
        if client_sends {
            listener.name()
        } else {
            client.name()
        },
        listener.name()
    );
    let mut l = spawn(listener, &largs, lin, lout);
    wait_tcp_listen(&mut l, p);
    let c = spawn(client, &cargs, cin, cout);
    let cd = c.finish(Duration::from_secs(40));
    let ld = l.finish(Duration::from_secs(10));
    assert_eq!(cd.code(), Some(0), "{what}: {}", cd.describe());
    assert_eq!(ld.code(), Some(0), "{what}: {}", ld.describe());
    assert_same_content(&what, data, &got);
    let _ = fs::remove_file(&got);
}

fn bulk(test: &str, host: &str) {
    let Some(nc) = nc_or_skip(test) else { return };
    if host.contains(':') && !ipv6_available() {
        skip(test, "IPv6 loopback (::1) is not available");
        return;
    }
    let dir = TempDir::new("rnc-interop-bulk").expect("create temp dir");
    let data = dir.join("data");
    random_file(&data, BULK);
    let r = rnc();
    for (client, listener) in [(&r, &nc), (&nc, &r)] {
        for client_sends in [true, false] {
            bulk_once(client, listener, host, client_sends, &data, &dir);
        }
    }
}

/// 64 MiB of random data each way between rnc and nc.openbsd over
/// 127.0.0.1, each tool as client and as listener.
#[test]
fn bulk_64mib_each_way_ipv4() {
    bulk("bulk_64mib_each_way_ipv4", "127.0.0.1");
}

/// The same over ::1.
#[test]
fn bulk_64mib_each_way_ipv6() {
    bulk("bulk_64mib_each_way_ipv6", "::1");
}

// -------------------------------------------------------- -N, -q, -d, -w

/// A server that answers only after the client's FIN (S1 of the matrix).
fn reply_after_fin_server() -> (Peer, u16) {
    let (l, p) = listener_v4();
    let peer = Peer::start(l, |mut s| {
        let mut log = PeerLog::default();
        read_until_eof(&mut s, &mut log, Duration::from_millis(1500));
        if log.fin {
            let _ = s.write_all(b"REPLY\n");
        }
        log
    });
    (peer, p)
}

/// `-N` sends a FIN at stdin EOF and still reads the reply; without `-N`
/// no FIN is sent. Same for both tools.
#[test]
fn dash_n_fin_at_eof_same_as_nc() {
    let Some(nc) = nc_or_skip("dash_n_fin_at_eof_same_as_nc") else {
        return;
    };
    for tool in [&nc, &rnc()] {
        let (peer, p) = reply_after_fin_server();
        let ps = p.to_string();
        let d = spawn(
            tool,
            &["-N", "127.0.0.1", &ps],
            In::Bytes(b"REQ\n".to_vec()),
            Out::Captured,
        )
        .finish(SHORT);
        let log = peer.join();
        assert_eq!(log.got, b"REQ\n", "{}", d.describe());
        assert!(log.fin, "-N: the server saw no FIN: {}", d.describe());
        assert_eq!(d.stdout, b"REPLY\n", "-N: reply lost: {}", d.describe());
        assert_eq!(d.code(), Some(0), "{}", d.describe());

        // Without -N: no FIN (the server gives up after 1.5 s), so no reply.
        let (peer, p) = reply_after_fin_server();
        let ps = p.to_string();
        let mut c = spawn(
            tool,
            &["127.0.0.1", &ps],
            In::Bytes(b"REQ\n".to_vec()),
            Out::Captured,
        );
        thread::sleep(Duration::from_millis(1000));
        let still = c.running();
        let log = peer.join();
        let d = c.kill();
        assert_eq!(log.got, b"REQ\n", "{}", d.describe());
        assert!(!log.fin, "without -N a FIN was sent: {}", d.describe());
        assert!(
            still,
            "without -N the client must wait for the server: {}",
            d.describe()
        );
    }
}

/// `-N` between the two tools, both roles: each side's data arrives, the
/// client's Ctrl-D (stdin EOF) sends the FIN, the listener exits on it and
/// the client follows; both exit 0.
#[test]
fn dash_n_between_rnc_and_nc() {
    let Some(nc) = nc_or_skip("dash_n_between_rnc_and_nc") else {
        return;
    };
    let r = rnc();
    for (client, listener) in [(&r, &nc), (&nc, &r)] {
        let p = port();
        let ps = p.to_string();
        let mut l = spawn(
            listener,
            &["-l", "127.0.0.1", &ps],
            In::Bytes(b"from-listener\n".to_vec()),
            Out::Captured,
        );
        wait_tcp_listen(&mut l, p);
        let mut c = spawn(client, &["-N", "127.0.0.1", &ps], In::Held, Out::Captured);
        c.write(b"from-client\n");
        let what = format!("{} -> {}", client.name(), listener.name());
        assert!(
            l.wait_stdout(b"from-client\n", SHORT),
            "{what}: listener did not get the data: {}",
            l.stderr_now()
        );
        assert!(
            c.wait_stdout(b"from-listener\n", SHORT),
            "{what}: client did not get the data: {}",
            c.stderr_now()
        );
        c.close_stdin();
        let ld = l.finish(SHORT);
        let cd = c.finish(SHORT);
        assert_eq!(ld.stdout, b"from-client\n", "{what}: {}", ld.describe());
        assert_eq!(cd.stdout, b"from-listener\n", "{what}: {}", cd.describe());
        assert_eq!(ld.code(), Some(0), "{what}: {}", ld.describe());
        assert_eq!(cd.code(), Some(0), "{what}: {}", cd.describe());
    }
}

/// `-q 1`: FIN at stdin EOF, the reply is read, then the process lingers
/// about one second after the connection ended; `-q 0` acts like `-N`.
#[test]
fn dash_q_same_as_nc() {
    let Some(nc) = nc_or_skip("dash_q_same_as_nc") else {
        return;
    };
    for tool in [&nc, &rnc()] {
        for q in ["0", "1"] {
            let (peer, p) = reply_after_fin_server();
            let ps = p.to_string();
            let d = spawn(
                tool,
                &["-q", q, "127.0.0.1", &ps],
                In::Bytes(b"REQ\n".to_vec()),
                Out::Captured,
            )
            .finish(SHORT);
            let log = peer.join();
            assert!(log.fin, "-q {q}: no FIN: {}", d.describe());
            assert_eq!(d.stdout, b"REPLY\n", "-q {q}: {}", d.describe());
            assert_eq!(d.code(), Some(0), "-q {q}: {}", d.describe());
            let t = d.elapsed.as_secs_f64();
            let ok = if q == "0" {
                t < 0.8
            } else {
                (0.9..2.0).contains(&t)
            };
            assert!(ok, "-q {q}: exit after {t:.2} s: {}", d.describe());
        }
    }
}

/// `-d`: stdin is never read (no data, no FIN); the client exits when the
/// server closes (S3 `-d`). Same for both tools.
#[test]
fn dash_d_never_reads_stdin_same_as_nc() {
    let Some(nc) = nc_or_skip("dash_d_never_reads_stdin_same_as_nc") else {
        return;
    };
    for tool in [&nc, &rnc()] {
        let (l, p) = listener_v4();
        let peer = Peer::start(l, |mut s| {
            let mut log = PeerLog::default();
            thread::sleep(Duration::from_millis(300));
            let _ = s.write_all(b"BYE\n");
            let _ = s.shutdown(Shutdown::Write);
            read_until_eof(&mut s, &mut log, Duration::from_millis(2000));
            log
        });
        let ps = p.to_string();
        let mut c = spawn(tool, &["-d", "127.0.0.1", &ps], In::Held, Out::Captured);
        c.write(b"NOT-TO-BE-SENT\n");
        let d = c.finish(Duration::from_secs(3));
        let log = peer.join();
        assert_eq!(d.stdout, b"BYE\n", "{}", d.describe());
        assert_eq!(
            d.code(),
            Some(0),
            "-d must exit on the peer's FIN: {}",
            d.describe()
        );
        assert!(
            d.elapsed < Duration::from_millis(1500),
            "-d exited late: {}",
            d.describe()
        );
        assert!(log.got.is_empty(), "-d sent stdin data: {:?}", log.got);
    }
    // Interop: rnc -d as the receiver of nc.openbsd -N -l.
    let p = port();
    let ps = p.to_string();
    let mut l = spawn(
        &nc,
        &["-N", "-l", "127.0.0.1", &ps],
        In::Bytes(b"payload\n".to_vec()),
        Out::Captured,
    );
    wait_tcp_listen(&mut l, p);
    let d = spawn(&rnc(), &["-d", "127.0.0.1", &ps], In::Held, Out::Captured).finish(SHORT);
    let ld = l.finish(SHORT);
    assert_eq!(d.stdout, b"payload\n", "{}", d.describe());
    assert_eq!(d.code(), Some(0), "{}", d.describe());
    assert_eq!(ld.code(), Some(0), "{}", ld.describe());
}

/// `-w 1` is also an idle timeout: one second without traffic ends the
/// connection with a FIN and status 0, stdin still open (S3 `-w 1`).
#[test]
fn dash_w_idle_timeout_same_as_nc() {
    let Some(nc) = nc_or_skip("dash_w_idle_timeout_same_as_nc") else {
        return;
    };
    for tool in [&nc, &rnc()] {
        let (l, p) = listener_v4();
        let peer = Peer::start(l, |mut s| {
            let mut log = PeerLog::default();
            read_until_eof(&mut s, &mut log, Duration::from_secs(4));
            log
        });
        let ps = p.to_string();
        let c = spawn(
            tool,
            &["-w", "1", "127.0.0.1", &ps],
            In::Held,
            Out::Captured,
        );
        let d = c.finish(Duration::from_secs(4));
        let log = peer.join();
        assert_eq!(d.code(), Some(0), "{}", d.describe());
        let t = d.elapsed.as_secs_f64();
        assert!(
            (0.8..2.0).contains(&t),
            "idle exit after {t:.2} s: {}",
            d.describe()
        );
        assert!(log.fin, "no FIN at the idle timeout: {}", d.describe());
    }
}

/// A listener whose accept queue is full: the kernel drops further SYNs
/// (no root needed). Returns the guards to keep.
fn blackhole() -> (socket2::Socket, Vec<socket2::Socket>, u16) {
    use socket2::{Domain, Socket, Type};
    let p = port();
    let addr: SocketAddr = format!("127.0.0.1:{p}").parse().unwrap();
    let l = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    l.set_reuse_address(true).unwrap();
    l.bind(&addr.into()).unwrap();
    l.listen(0).unwrap();
    let mut fill = Vec::new();
    for _ in 0..3 {
        let c = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        c.set_nonblocking(true).unwrap();
        let _ = c.connect(&addr.into());
        fill.push(c);
    }
    thread::sleep(Duration::from_millis(300));
    (l, fill, p)
}

/// `-w 1` as a connect timeout when SYNs go unanswered (full accept
/// queue on loopback): `timed out: Operation now in progress`, status 1,
/// after about a second. The iptables version is in tests/rnc_lab.rs.
#[test]
fn dash_w_connect_timeout_loopback_same_as_nc() {
    let Some(nc) = nc_or_skip("dash_w_connect_timeout_loopback_same_as_nc") else {
        return;
    };
    let (_l, _fill, p) = blackhole();
    let ps = p.to_string();
    let a = run(&nc, &["-v", "-w", "1", "127.0.0.1", &ps], SHORT);
    let b = run(&rnc(), &["-v", "-w", "1", "127.0.0.1", &ps], SHORT);
    assert_same("-v -w 1, SYN unanswered", &a, &b, &[(p, "PORT")], true);
    assert_eq!(b.code(), Some(1));
    assert!(
        normalize(&b.stderr, &[(p, "PORT")]).contains(
            "PROG: connect to 127.0.0.1 port PORT (tcp) timed out: Operation now in progress"
        ),
        "{}",
        b.describe()
    );
    for d in [&a, &b] {
        let t = d.elapsed.as_secs_f64();
        assert!((0.8..2.0).contains(&t), "{}", d.describe());
    }
}

// -------------------------------------------------------------------- -k

/// `-k -l`: clients served one after another, the listener stays up.
/// Each tool as the listener, the other as the clients.
#[test]
fn dash_k_serves_clients_in_turn() {
    let Some(nc) = nc_or_skip("dash_k_serves_clients_in_turn") else {
        return;
    };
    let r = rnc();
    for (listener, client) in [(&r, &nc), (&nc, &r)] {
        let p = port();
        let ps = p.to_string();
        let mut l = spawn(
            listener,
            &["-k", "-l", "127.0.0.1", &ps],
            In::Null,
            Out::Captured,
        );
        wait_tcp_listen(&mut l, p);
        let mut expect = Vec::new();
        for i in 1..=3 {
            let line = format!("client {i} via {}\n", client.name());
            let d = spawn(
                client,
                &["-N", "127.0.0.1", &ps],
                In::Bytes(line.clone().into_bytes()),
                Out::Captured,
            )
            .finish(SHORT);
            assert_eq!(d.code(), Some(0), "client {i}: {}", d.describe());
            expect.extend_from_slice(line.as_bytes());
            assert!(
                l.wait_stdout(&expect, SHORT),
                "{} -k did not deliver client {i}: stdout {:?}",
                listener.name(),
                String::from_utf8_lossy(&l.stdout_now())
            );
        }
        assert!(l.running(), "{} -k -l exited", listener.name());
        let ld = l.kill();
        assert_eq!(ld.stdout, expect, "{}", ld.describe());
    }
}

// -------------------------------------------------------------------- -z

/// `-z` over ranges of open and closed ports: the same lines (ascending),
/// the same status, with and without `-v`.
#[test]
fn dash_z_scan_same_as_nc() {
    let Some(nc) = nc_or_skip("dash_z_scan_same_as_nc") else {
        return;
    };
    let base = ports(6);
    let open: Vec<TcpListener> = [1u16, 3, 4]
        .iter()
        .map(|o| TcpListener::bind(("127.0.0.1", base + o)).unwrap())
        .collect();
    let tokens: Vec<(u16, String)> = (0..6).map(|i| (base + i, format!("P{i}"))).collect();
    let toks: Vec<(u16, &str)> = tokens.iter().map(|(p, t)| (*p, t.as_str())).collect();
    // Open: base+1, base+3, base+4; closed: base, base+2, base+5.
    let range = format!("{}-{}", base, base + 5);
    let closed = base.to_string();
    let closed_last = (base + 5).to_string();
    let open_one = (base + 3).to_string();
    let reversed = format!("{}-{}", base + 4, base + 2);
    let cases: Vec<Vec<&str>> = vec![
        vec!["-zv", "127.0.0.1", &range],
        vec!["-z", "127.0.0.1", &range],
        vec!["-zv", "127.0.0.1", &closed],
        vec!["-z", "127.0.0.1", &closed],
        vec!["-zv", "127.0.0.1", &open_one],
        vec!["-zv", "-n", "127.0.0.1", &closed_last, &closed],
        vec!["-zv", "127.0.0.1", &reversed],
    ];
    for args in &cases {
        let a = run(&nc, args, SHORT);
        let b = run(&rnc(), args, SHORT);
        assert_same(&format!("{args:?}"), &a, &b, &toks, true);
    }
    // The shape nc.openbsd gives, checked on rnc's output.
    let b = run(&rnc(), &["-zv", "127.0.0.1", &range], SHORT);
    let n = normalize(&b.stderr, &toks);
    let lines: Vec<&str> = n.lines().collect();
    assert_eq!(lines.len(), 6, "{n}");
    assert_eq!(
        lines[0],
        "PROG: connect to 127.0.0.1 port P0 (tcp) failed: Connection refused"
    );
    assert_eq!(
        lines[1],
        "Connection to 127.0.0.1 P1 port [tcp/*] succeeded!"
    );
    assert_eq!(b.code(), Some(0));
    drop(open);
}

// -------------------------------------------------------------------- -u

/// `-u`: datagrams both ways between the tools, each as the listener.
#[test]
fn udp_between_rnc_and_nc() {
    let Some(nc) = nc_or_skip("udp_between_rnc_and_nc") else {
        return;
    };
    let r = rnc();
    for (listener, client) in [(&r, &nc), (&nc, &r)] {
        let p = port();
        let ps = p.to_string();
        let what = format!("{} -u -l <- {} -u", listener.name(), client.name());
        let mut l = spawn(
            listener,
            &["-u", "-l", "127.0.0.1", &ps],
            In::Held,
            Out::Captured,
        );
        wait_udp_bound(&mut l, p);
        let mut c = spawn(client, &["-u", "127.0.0.1", &ps], In::Held, Out::Captured);
        c.write(b"one\n");
        assert!(
            l.wait_stdout(b"one\n", SHORT),
            "{what}: first datagram lost"
        );
        c.write(b"two\n");
        assert!(
            l.wait_stdout(b"one\ntwo\n", SHORT),
            "{what}: second datagram lost"
        );
        l.write(b"back\n");
        assert!(
            c.wait_stdout(b"back\n", SHORT),
            "{what}: the listener's reply did not reach the client"
        );
        assert!(c.running(), "{what}: a UDP client does not exit by itself");
        let (ld, cd) = (l.kill(), c.kill());
        assert_eq!(ld.stdout, b"one\ntwo\n", "{}", ld.describe());
        assert_eq!(cd.stdout, b"back\n", "{}", cd.describe());
    }
}

/// `-u -zv`: a closed UDP port and an open one, same lines and status.
/// (Runs the four probes at once: nc's take about 3 s.)
#[test]
fn udp_scan_same_as_nc() {
    let Some(nc) = nc_or_skip("udp_scan_same_as_nc") else {
        return;
    };
    let open = UdpSocket::bind("127.0.0.1:0").unwrap();
    let po = open.local_addr().unwrap().port();
    let pc = port();
    let (so, sc) = (po.to_string(), pc.to_string());
    let r = rnc();
    let procs: Vec<Proc> = [(&nc, &sc), (&r, &sc), (&nc, &so), (&r, &so)]
        .iter()
        .map(|(t, p)| spawn(t, &["-u", "-zv", "127.0.0.1", p], In::Null, Out::Captured))
        .collect();
    let done: Vec<Done> = procs.into_iter().map(|p| p.finish(SHORT)).collect();
    let toks = [(po, "OPEN"), (pc, "CLOSED")];
    assert_same("-u -zv closed port", &done[0], &done[1], &toks, true);
    assert_same("-u -zv open port", &done[2], &done[3], &toks, true);
    assert_eq!(done[1].code(), Some(1), "{}", done[1].describe());
    assert_eq!(done[3].code(), Some(0), "{}", done[3].describe());
    drop(open);
}

/// `-u -v`: nc's probe before "succeeded": two one-byte `X` datagrams at
/// once, then one a second for 3 s (`-w N`: N s); stdin follows. The peer
/// sees the same datagrams at the same seconds from rnc as from nc (this
/// failed against rnc while it left the probes out; Debian's
/// 04-kflag-udp check needs them to see a refusal).
#[test]
fn udp_verbose_probes_same_as_nc() {
    let mut tools = vec![rnc()];
    if let Some(nc) = nc_or_skip("udp_verbose_probes_same_as_nc") {
        tools.push(nc);
    }
    // (extra arguments, expected datagrams with the second they arrive)
    type Datagrams<'a> = &'a [(&'a [u8], u64)];
    let cases: [(&[&str], Datagrams); 2] = [
        (
            &[],
            &[
                (b"X", 0),
                (b"X", 0),
                (b"X", 1),
                (b"X", 2),
                (b"X", 3),
                (b"hello\n", 3),
            ],
        ),
        (
            &["-w", "1"],
            &[(b"X", 0), (b"X", 0), (b"X", 1), (b"hello\n", 1)],
        ),
    ];
    for tool in &tools {
        for (extra, want) in cases {
            let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
            sock.set_read_timeout(Some(Duration::from_secs(8))).unwrap();
            let p = sock.local_addr().unwrap().port();
            let ps = p.to_string();
            let mut args = vec!["-u", "-v"];
            args.extend_from_slice(extra);
            args.extend(["127.0.0.1", ps.as_str()]);
            let mut c = spawn(tool, &args, In::Held, Out::Captured);
            let start = Instant::now();
            c.write(b"hello\n");
            let mut got: Vec<(Vec<u8>, u64)> = Vec::new();
            let mut buf = [0u8; 64];
            while got.last().is_none_or(|(d, _)| d != b"hello\n") {
                let n = sock.recv(&mut buf).expect("a datagram within 8 s");
                // Whole seconds since start, rounded (probes are 1 s apart).
                let at = (start.elapsed().as_secs_f64() + 0.5) as u64;
                got.push((buf[..n].to_vec(), at));
            }
            let d = c.kill();
            let want: Vec<(Vec<u8>, u64)> = want.iter().map(|(b, t)| (b.to_vec(), *t)).collect();
            assert_eq!(got, want, "{} {args:?}: datagrams and seconds", tool.name());
            assert_eq!(
                normalize(&d.stderr, &[(p, "PORT")]),
                "Connection to 127.0.0.1 PORT port [udp/*] succeeded!\n",
                "{} {args:?}",
                tool.name()
            );
        }
    }
}

/// `-u -v` to a closed port (no `-z`): the probe draws the refusal;
/// nothing is printed and the status is 1, as nc.
#[test]
fn udp_verbose_closed_port_same_as_nc() {
    let Some(nc) = nc_or_skip("udp_verbose_closed_port_same_as_nc") else {
        return;
    };
    let pc = port();
    let sc = pc.to_string();
    let r = rnc();
    let procs: Vec<Proc> = [&nc, &r]
        .iter()
        .map(|t| spawn(t, &["-u", "-v", "127.0.0.1", &sc], In::Null, Out::Captured))
        .collect();
    let done: Vec<Done> = procs.into_iter().map(|p| p.finish(SHORT)).collect();
    assert_same(
        "-u -v closed port",
        &done[0],
        &done[1],
        &[(pc, "CLOSED")],
        true,
    );
    assert_eq!(done[1].code(), Some(1), "{}", done[1].describe());
}

// -------------------------------------------------------------------- -U

/// `-U`: a path and an `@abstract` name, each tool as the listener.
#[test]
fn unix_sockets_between_rnc_and_nc() {
    let Some(nc) = nc_or_skip("unix_sockets_between_rnc_and_nc") else {
        return;
    };
    let r = rnc();
    let dir = TempDir::new("rnc-interop-unix").expect("create temp dir");
    for (listener, client) in [(&r, &nc), (&nc, &r)] {
        for kind in ["path", "abstract"] {
            let name = if kind == "path" {
                dir.join(&format!("sock-{}", unique_suffix()))
                    .to_string_lossy()
                    .into_owned()
            } else {
                format!("@rnc-interop-{}", unique_suffix())
            };
            let what = format!("-U {kind}: {} -l <- {}", listener.name(), client.name());
            let mut l = spawn(
                listener,
                &["-U", "-l", &name],
                In::Bytes(b"from-listener\n".to_vec()),
                Out::Captured,
            );
            wait_unix_listen(&mut l, &name);
            let mut c = spawn(client, &["-N", "-U", &name], In::Held, Out::Captured);
            c.write(b"from-client\n");
            assert!(
                l.wait_stdout(b"from-client\n", SHORT),
                "{what}: {}",
                l.stderr_now()
            );
            assert!(
                c.wait_stdout(b"from-listener\n", SHORT),
                "{what}: {}",
                c.stderr_now()
            );
            c.close_stdin();
            let ld = l.finish(SHORT);
            let cd = c.finish(SHORT);
            assert_eq!(ld.code(), Some(0), "{what}: {}", ld.describe());
            assert_eq!(cd.code(), Some(0), "{what}: {}", cd.describe());
            assert_eq!(ld.stdout, b"from-client\n", "{what}");
            assert_eq!(cd.stdout, b"from-listener\n", "{what}");
            if kind == "path" {
                let _ = fs::remove_file(&name);
            }
        }
    }
}

// ------------------------------------------------------------------ -p -s

/// `-p` and `-s`: the source port and address are what the peer sees,
/// IPv4 (127.0.0.2 is loopback too) and IPv6; and in the verbose line of
/// the other tool as listener.
#[test]
fn source_port_and_address_visible_on_peer() {
    let Some(nc) = nc_or_skip("source_port_and_address_visible_on_peer") else {
        return;
    };
    let r = rnc();
    let mut families = vec![("127.0.0.1", "127.0.0.2")];
    if ipv6_available() {
        families.push(("::1", "::1"));
    }
    for tool in [&nc, &r] {
        for (dst, src) in &families {
            let l = TcpListener::bind((*dst, 0)).unwrap();
            let p = l.local_addr().unwrap().port();
            let sp = port();
            let (ps, sps) = (p.to_string(), sp.to_string());
            let peer = Peer::start(l, |mut s| {
                let mut log = PeerLog::default();
                read_until_eof(&mut s, &mut log, Duration::from_secs(3));
                log
            });
            let d = spawn(
                tool,
                &["-N", "-s", src, "-p", &sps, dst, &ps],
                In::Bytes(b"x".to_vec()),
                Out::Captured,
            )
            .finish(SHORT);
            let log = peer.join();
            let from = log.from.expect("no connection");
            assert_eq!(
                (from.ip().to_string(), from.port()),
                (src.to_string(), sp),
                "{}",
                d.describe()
            );
            assert_eq!(d.code(), Some(0), "{}", d.describe());
        }
    }
    // Each tool's listener names the other's source in its verbose line.
    for (client, listener) in [(&r, &nc), (&nc, &r)] {
        let p = port();
        let sp = port();
        let (ps, sps) = (p.to_string(), sp.to_string());
        let mut l = spawn(
            listener,
            &["-v", "-n", "-l", "127.0.0.1", &ps],
            In::Null,
            Out::Captured,
        );
        wait_tcp_listen(&mut l, p);
        let cd = spawn(
            client,
            &["-N", "-s", "127.0.0.2", "-p", &sps, "127.0.0.1", &ps],
            In::Bytes(b"hi\n".to_vec()),
            Out::Captured,
        )
        .finish(SHORT);
        let ld = l.finish(SHORT);
        assert_eq!(cd.code(), Some(0), "{}", cd.describe());
        assert_eq!(
            ld.stderr,
            format!("Listening on 127.0.0.1 {p}\nConnection received on 127.0.0.2 {sp}\n"),
            "{}",
            ld.describe()
        );
    }
}

// ------------------------------------------------------- verbose messages

/// Listener and client `-v` lines, side by side with nc.openbsd's in the
/// same situations.
#[test]
fn verbose_lines_same_as_nc() {
    let Some(nc) = nc_or_skip("verbose_lines_same_as_nc") else {
        return;
    };
    let r = rnc();
    // Client: success against an accepting server that closes.
    let mut got = Vec::new();
    for tool in [&nc, &r] {
        let (l, p) = listener_v4();
        let peer = Peer::start(l, |mut s| {
            let mut log = PeerLog::default();
            let _ = s.shutdown(Shutdown::Write);
            read_until_eof(&mut s, &mut log, Duration::from_secs(2));
            log
        });
        let ps = p.to_string();
        let d = spawn(tool, &["-v", "127.0.0.1", &ps], In::Null, Out::Captured).finish(SHORT);
        let _ = peer.join();
        got.push((d, p));
    }
    let (a, pa) = &got[0];
    let (b, pb) = &got[1];
    assert_eq!(
        normalize(&a.stderr, &[(*pa, "PORT")]),
        normalize(&b.stderr, &[(*pb, "PORT")]),
        "-v connect: {}\n{}",
        a.describe(),
        b.describe()
    );
    assert_eq!(
        normalize(&b.stderr, &[(*pb, "PORT")]),
        "Connection to 127.0.0.1 PORT port [tcp/*] succeeded!\n"
    );
    assert_eq!(a.code(), b.code());

    // Refused, with -v.
    let closed = port();
    let cs = closed.to_string();
    let a = run(&nc, &["-v", "127.0.0.1", &cs], SHORT);
    let b = run(&r, &["-v", "127.0.0.1", &cs], SHORT);
    assert_same("-v refused", &a, &b, &[(closed, "PORT")], true);

    // Listeners: default (0.0.0.0), with an address, -6; all with -n, so
    // no reverse lookup can leave the machine (the names are compared in
    // tests/rnc_lab.rs, inside a namespace with its own hosts file).
    let mut listen_cases: Vec<Vec<&str>> =
        vec![vec!["-v", "-n", "-l"], vec!["-v", "-n", "-l", "127.0.0.1"]];
    if ipv6_available() {
        listen_cases.push(vec!["-v", "-n", "-6", "-l"]);
        listen_cases.push(vec!["-v", "-n", "-6", "-l", "::1"]);
    }
    for base in &listen_cases {
        let mut runs = Vec::new();
        for tool in [&nc, &r] {
            let p = port();
            let ps = p.to_string();
            let mut args = base.clone();
            args.push(&ps);
            let mut l = spawn(tool, &args, In::Null, Out::Captured);
            wait_tcp_listen(&mut l, p);
            let dst = if base.contains(&"-6") {
                "::1"
            } else {
                "127.0.0.1"
            };
            let mut s = TcpStream::connect((dst, p)).expect("connect to the listener");
            s.write_all(b"hello\n").unwrap();
            let _ = s.shutdown(Shutdown::Write);
            let mut rest = Vec::new();
            s.set_read_timeout(Some(SHORT)).unwrap();
            let _ = s.read_to_end(&mut rest);
            let d = l.finish(SHORT);
            runs.push((d, p));
        }
        let (a, pa) = &runs[0];
        let (b, pb) = &runs[1];
        let (na, nb) = (
            normalize(&a.stderr, &[(*pa, "PORT")]),
            normalize(&b.stderr, &[(*pb, "PORT")]),
        );
        assert_eq!(na, nb, "{base:?}:\n{}\n{}", a.describe(), b.describe());
        assert_eq!(a.code(), b.code(), "{base:?}");
        assert_eq!(a.stdout, b.stdout, "{base:?}");
        assert!(nb.starts_with("Listening on "), "{nb}");
    }
}

// ---------------------------------------------------- exit statuses, -h

/// Exit statuses and messages for bad ports, a bad flag, missing
/// operands, a refused connect: as nc.openbsd's (with `-v` where nc
/// prints only then).
#[test]
fn exit_statuses_same_as_nc() {
    let Some(nc) = nc_or_skip("exit_statuses_same_as_nc") else {
        return;
    };
    let r = rnc();
    let closed = port();
    let cs = closed.to_string();
    let cases: Vec<Vec<&str>> = vec![
        vec!["127.0.0.1", "99999"],
        vec!["127.0.0.1", "abc"],
        vec!["127.0.0.1", "0"],
        vec!["127.0.0.1", "1-99999"],
        vec!["-Y", "127.0.0.1", "1"],
        vec![],
        vec!["127.0.0.1"],
        vec!["-l"],
        vec!["-k", "127.0.0.1", "1"],
        vec!["-z", "-l", "1"],
        vec!["-w", "abc", "127.0.0.1", "1"],
        vec!["-v", "127.0.0.1", &cs],
        vec!["-zv", "127.0.0.1", &cs],
        vec!["-z", "127.0.0.1", &cs],
    ];
    for args in &cases {
        let a = run(&nc, args, SHORT);
        let b = run(&r, args, SHORT);
        assert_same(&format!("{args:?}"), &a, &b, &[(closed, "PORT")], true);
    }
    // -h: status 0, nc's text first (rnc adds its own options after it).
    let a = run(&nc, &["-h"], SHORT);
    let b = run(&r, &["-h"], SHORT);
    assert_eq!((a.code(), b.code()), (Some(0), Some(0)));
    assert!(
        b.stderr.starts_with(&a.stderr),
        "-h: rnc's help does not start with nc's:\n{}\n{}",
        a.stderr,
        b.stderr
    );
    assert!(b.stdout.is_empty() && a.stdout.is_empty());
}

/// rnc on purpose (docs/compat.md): a failed connect says why even
/// without `-v` (nc.openbsd is silent), but not in a `-z` scan; the
/// status is nc's.
#[test]
fn refused_without_v_says_why() {
    let closed = port();
    let cs = closed.to_string();
    let d = run(&rnc(), &["127.0.0.1", &cs], SHORT);
    assert_eq!(d.code(), Some(1), "{}", d.describe());
    assert_eq!(
        d.stderr,
        format!("rnc: connect to 127.0.0.1 port {closed} (tcp) failed: Connection refused\n")
    );
    let d = run(&rnc(), &["-z", "127.0.0.1", &cs], SHORT);
    assert_eq!(d.code(), Some(1), "{}", d.describe());
    assert_eq!(d.stderr, "", "{}", d.describe());
}

/// Invoked as `nc` (a symlink), rnc names itself `nc` in messages, so a
/// drop-in install prints exactly nc's lines.
#[test]
fn invoked_as_nc_prints_nc() {
    let Some(nc) = nc_or_skip("invoked_as_nc_prints_nc") else {
        return;
    };
    let dir = TempDir::new("rnc-interop-asnc").expect("create temp dir");
    let (ours, theirs) = (dir.join("ours"), dir.join("ref"));
    fs::create_dir(&ours).unwrap();
    fs::create_dir(&theirs).unwrap();
    std::os::unix::fs::symlink(rnc().path(), ours.join("nc")).unwrap();
    std::os::unix::fs::symlink(nc.path(), theirs.join("nc")).unwrap();
    let as_nc = |dir: &Path| Tool {
        dir: dir.to_path_buf(),
        name: "nc".to_string(),
        by_path: false,
    };
    let closed = port();
    let cs = closed.to_string();
    for args in [
        vec!["127.0.0.1", "99999"],
        vec!["-v", "127.0.0.1", cs.as_str()],
        vec!["-Y"],
    ] {
        let a = run(&as_nc(&theirs), &args, SHORT);
        let b = run(&as_nc(&ours), &args, SHORT);
        assert_eq!(a.stderr, b.stderr, "{args:?}");
        assert_eq!(a.code(), b.code(), "{args:?}");
        assert!(b.stderr.starts_with("nc: "), "{}", b.describe());
    }
}

/// glibc's getopt names the program by `argv[0]` exactly as typed, so
/// `/usr/bin/nc -Y` says `/usr/bin/nc: invalid option -- 'Y'` (nc's own
/// messages use the base name).
///
/// Regression test (an rnc bug when written, since fixed): rnc prints the base name in getopt's
/// message too (`rnc: invalid option -- 'Y'`).
#[test]
fn bad_flag_message_names_argv0_as_typed() {
    let Some(nc) = nc_or_skip("bad_flag_message_names_argv0_as_typed") else {
        return;
    };
    for tool in [nc, rnc()] {
        let t = Tool {
            by_path: true,
            ..tool
        };
        let d = run(&t, &["-Y"], SHORT);
        let first = d.stderr.lines().next().unwrap_or("").to_string();
        assert_eq!(
            first,
            format!("{}: invalid option -- 'Y'", t.path().display()),
            "{}",
            d.describe()
        );
        assert_eq!(d.code(), Some(1));
        // The other messages keep the base name.
        let d = run(&t, &["127.0.0.1", "99999"], SHORT);
        assert_eq!(
            d.stderr,
            format!("{}: port number too large: 99999\n", t.name)
        );
    }
}

/// Port ranges are checked as nc does (`build_ports`): a range only when
/// the operand starts with a digit, its high end first; otherwise the
/// whole operand is one port (or service) name.
///
/// Regression test (an rnc bug when written, since fixed): rnc checks the low end first and splits
/// any operand at `-`: `70000-70001` gives `too large: 70000` (nc:
/// `70001`), `abc-5` gives `invalid: abc` (nc: `invalid: abc-5`),
/// `70000-abc` gives `too large: 70000` (nc: `invalid: abc`).
#[test]
fn port_range_errors_same_as_nc() {
    let Some(nc) = nc_or_skip("port_range_errors_same_as_nc") else {
        return;
    };
    let mut bad = Vec::new();
    for range in [
        "70000-70001",
        "abc-5",
        "70000-abc",
        "abc-70000",
        "70001-70000",
        "5-99999",
    ] {
        let a = run(&nc, &["-z", "127.0.0.1", range], SHORT);
        let b = run(&rnc(), &["-z", "127.0.0.1", range], SHORT);
        if normalize(&a.stderr, &[]) != normalize(&b.stderr, &[]) || a.code() != b.code() {
            bad.push(format!("{range}: nc {:?} / rnc {:?}", a.stderr, b.stderr));
        }
    }
    assert!(
        bad.is_empty(),
        "port range messages differ:\n{}",
        bad.join("\n")
    );
}

// ------------------------------------------------- listener -q (rnc's way)

/// rnc on purpose (docs/compat.md): a listener with `-q` keeps reading the
/// network after its own stdin EOF, so the client's later data arrives
/// (nc.openbsd closes the socket at stdin EOF and loses it: matrix L1).
#[test]
fn listener_q_keeps_reading_after_stdin_eof() {
    let p = port();
    let ps = p.to_string();
    let mut l = spawn(
        &rnc(),
        &["-q", "0", "-l", "127.0.0.1", &ps],
        In::Bytes(b"HELLO\n".to_vec()),
        Out::Captured,
    );
    wait_tcp_listen(&mut l, p);
    let mut s = TcpStream::connect(("127.0.0.1", p)).unwrap();
    thread::sleep(Duration::from_millis(500));
    s.write_all(b"FROM-CLIENT\n").unwrap();
    thread::sleep(Duration::from_millis(300));
    let _ = s.shutdown(Shutdown::Write);
    let mut back = Vec::new();
    s.set_read_timeout(Some(SHORT)).unwrap();
    let _ = s.read_to_end(&mut back);
    let d = l.finish(SHORT);
    assert_eq!(back, b"HELLO\n", "{}", d.describe());
    assert_eq!(d.stdout, b"FROM-CLIENT\n", "{}", d.describe());
    assert_eq!(d.code(), Some(0), "{}", d.describe());
}

// ------------------------------------------- specifications rnc failed

/// nc.openbsd listens on an explicit IPv6 address without `-6`
/// (`nc -l ::1 PORT`: `Listening on ::1 PORT`); only without an address
/// does it default to IPv4.
///
/// Regression test (an rnc bug when written, since fixed): `rnc -l ::1 PORT` exits 1 with
/// `rnc: getaddrinfo: Address family for hostname not supported`
/// (net.rs `listen_socket` forces AF_INET whenever `-6` is absent).
#[test]
fn listen_on_explicit_ipv6_address_without_dash6() {
    let Some(nc) = nc_or_skip("listen_on_explicit_ipv6_address_without_dash6") else {
        return;
    };
    if !ipv6_available() {
        skip("listen_on_explicit_ipv6_address_without_dash6", "no ::1");
        return;
    }
    for tool in [&nc, &rnc()] {
        let p = port();
        let ps = p.to_string();
        let mut l = spawn(
            tool,
            &["-v", "-n", "-l", "::1", &ps],
            In::Null,
            Out::Captured,
        );
        wait_tcp_listen(&mut l, p);
        let mut s = TcpStream::connect(("::1", p)).unwrap();
        s.write_all(b"six\n").unwrap();
        let _ = s.shutdown(Shutdown::Write);
        let d = l.finish(SHORT);
        assert_eq!(d.stdout, b"six\n", "{}", d.describe());
        assert!(
            d.stderr.starts_with(&format!("Listening on ::1 {p}\n")),
            "{}",
            d.describe()
        );
    }
}

/// The server closes first (the client sits in CLOSE_WAIT, stdin open),
/// then the client types a line: the peer answers with an RST and
/// nc.openbsd exits at once, status 0, leaving no socket (matrix case
/// `LAB sint-line`).
///
/// Regression test (an rnc bug when written, since fixed): rnc keeps running with no socket until its
/// stdin ends (after the peer's FIN it polls the socket only while it has
/// data to send, so the RST is never noticed).
#[test]
fn client_exits_on_rst_after_peer_closed() {
    let Some(nc) = nc_or_skip("client_exits_on_rst_after_peer_closed") else {
        return;
    };
    for tool in [&nc, &rnc()] {
        let (l, p) = listener_v4();
        let peer = Peer::start(l, |s| {
            // Close at once: FIN now, RST for anything that arrives later.
            drop(s);
            PeerLog::default()
        });
        let ps = p.to_string();
        let mut c = spawn(tool, &["127.0.0.1", &ps], In::Held, Out::Captured);
        let _ = peer.join();
        thread::sleep(Duration::from_millis(400));
        assert!(
            c.running(),
            "{}: exited before the line was typed",
            tool.name()
        );
        c.write(b"line\n");
        let st = c.wait(Duration::from_millis(1500));
        let d = c.kill();
        assert!(
            st.is_some(),
            "{} still running 1.5 s after its write drew an RST: {}",
            tool.name(),
            d.describe()
        );
        assert_eq!(d.code(), Some(0), "{}", d.describe());
    }
}
