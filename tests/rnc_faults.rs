//! rnc under backpressure and faults, in network namespaces of its own
//! (issue 8, items 1 and 8), with nc.openbsd as the reference peer and
//! every payload checked by sha256 (`sha256sum` of coreutils):
//!
//! - slow links: a veth shaped with `tc qdisc add dev VETH root tbf rate
//!   200mbit burst 32kbit latency 400ms` on the sender's side; rnc as
//!   sender and as receiver, as client and as listener, against nc.openbsd
//!   and against itself, IPv4 and IPv6; the most failure-prone case
//!   (`cat FILE | rnc -N HOST PORT`) repeated;
//! - slow readers: `rnc -N … < /dev/null | slow_reader` against a peer
//!   that sends 16 MiB, then its FIN, then reads until EOF, both roles;
//! - `-C` over a slow link: text with many line ends, and the issue's
//!   one-line form `head -c N /dev/zero | tr '\0' a | rnc -C -N`;
//! - soak: `rnc -lk` serves 2,000 nc.openbsd clients in turn; the output
//!   is every payload in order, and the descriptor count does not grow;
//! - faults: the peer resets mid-transfer (`REJECT --reject-with
//!   tcp-reset` in the peer's namespace); the link goes down mid-transfer
//!   under `-w 2`; SIGINT mid-transfer, sending and receiving;
//! - 1 GiB in both directions at once.
//!
//! Each test prints what it measured (`eprintln!`, shown with
//! `--nocapture`) so that outcomes can be quoted.
//!
//! Network rule: traffic only on the veth between client 198.18.0.1 /
//! 2001:db8::1 and server 198.18.0.2 / 2001:db8::2
//! (`rnet_testkit::netns::LabPair`); every qdisc and iptables rule is added
//! inside those namespaces and dies with them. Data lives in a temporary
//! directory removed on drop.
//!
//! Needs root, `ip`, `tc`, `iptables`, `nc.openbsd` and `sha256sum`;
//! otherwise each test prints why it is skipped, or fails with
//! `RNET_REQUIRE_LAB=1`. The binary under test is `$RNC_BIN`, else
//! `target/<profile>/rnc` (`cargo build -p rnc` first).

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use rnet_testkit::netns::{rule_packets, LabPair, Netns, CLIENT_V4, SERVER_V4, SERVER_V6};
use rnet_testkit::process;
use rnet_testkit::rng::Rng;
use rnet_testkit::running;
use rnet_testkit::signals;
use rnet_testkit::tempdir::TempDir;
use rnet_testkit::{lab_or_skip, tool_under_test, LabEnv};
use running::{status_text, In, Out, Running};
use signals::Signal;

/// The first port of a scene (each namespace pair is private).
const PORT: u16 = 5555;
/// Deadline for a short step.
const STEP: Duration = Duration::from_secs(10);
/// Deadline for one transfer over the shaped link (64 MiB take ~3 s).
const TRANSFER: Duration = Duration::from_secs(90);
const MIB: u64 = 1 << 20;
/// The shaping of the issue: slower than a pipe, faster than a disk.
const TBF: [&str; 7] = [
    "tbf", "rate", "200mbit", "burst", "32kbit", "latency", "400ms",
];
/// Programs every test of this file needs.
const PROGRAMS: &[&str] = &[
    "nc.openbsd",
    "tc",
    "iptables",
    "sha256sum",
    "sh",
    "head",
    "tr",
];

fn rnc_bin() -> PathBuf {
    tool_under_test("rnc", "RNC_BIN")
}

fn mib(n: u64) -> String {
    format!("{:.2} MiB", n as f64 / MIB as f64)
}

// ------------------------------------------------------------ the scene

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Client,
    Server,
}

/// One namespace pair, a temporary directory and the two programs.
struct Lab {
    env: LabEnv,
    pair: LabPair,
    dir: TempDir,
    rnc: PathBuf,
    nc: PathBuf,
}

impl Lab {
    fn new(test: &str, tag: &str) -> Option<Lab> {
        let env = lab_or_skip(test, PROGRAMS)?;
        let pair = LabPair::new(&env.ip, tag).unwrap_or_else(|e| panic!("{test}: {e}"));
        let dir = TempDir::new(tag).unwrap_or_else(|e| panic!("{test}: temp dir: {e}"));
        Some(Lab {
            rnc: rnc_bin(),
            nc: env.program("nc.openbsd").to_path_buf(),
            env,
            pair,
            dir,
        })
    }

    fn ns(&self, side: Side) -> &Netns {
        match side {
            Side::Client => &self.pair.client,
            Side::Server => &self.pair.server,
        }
    }

    fn ifname(&self, side: Side) -> &str {
        match side {
            Side::Client => &self.pair.client_if,
            Side::Server => &self.pair.server_if,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Runs `prog ARGS` inside `side`'s namespace; status 0 required.
    fn run_ok(&self, side: Side, prog: &Path, args: &[&str]) -> String {
        self.ns(side).run_ok(prog, args, STEP).stdout_text()
    }

    /// The shaping on `side`'s veth (egress: what `side` sends).
    fn shape(&self, side: Side) {
        let mut args = vec!["qdisc", "add", "dev", self.ifname(side), "root"];
        args.extend(TBF);
        self.run_ok(side, self.env.program("tc"), &args);
    }

    fn iptables(&self, side: Side, args: &[&str]) -> String {
        let mut full = vec!["-w", "5"];
        full.extend_from_slice(args);
        self.run_ok(side, self.env.program("iptables"), &full)
    }

    /// Packet counters of the rules of `chain` in `side`, in rule order.
    fn rule_packets(&self, side: Side, chain: &str) -> Vec<u64> {
        rule_packets(&self.iptables(side, &["-n", "-v", "-x", "-L", chain]))
    }

    /// A `Tcp:` counter of `/proc/net/snmp` in `side`'s namespace.
    fn tcp_snmp(&self, side: Side, field: &str) -> u64 {
        let text = self
            .ns(side)
            .read_proc_net("snmp")
            .unwrap_or_else(|e| panic!("/proc/net/snmp: {e}"));
        let tcp: Vec<&str> = text.lines().filter(|l| l.starts_with("Tcp:")).collect();
        let (names, values) = (tcp[0].split_whitespace(), tcp[1].split_whitespace());
        names
            .zip(values)
            .find(|(n, _)| *n == field)
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or_else(|| panic!("no Tcp: {field} in /proc/net/snmp"))
    }

    fn link_down(&self, side: Side) {
        self.ns(side)
            .ip(&["link", "set", self.ifname(side), "down"])
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// Waits until `side` listens on `port`.
    fn wait_listen(&self, side: Side, port: u16) {
        wait_tcp_state(self.ns(side), port, LISTEN, "the listener to listen")
            .unwrap_or_else(|e| panic!("{e}"));
    }
}

const LISTEN: u8 = 0x0A;
const ESTABLISHED: u8 = 0x01;

/// Waits until `ns` has a TCP socket in state `state` (kernel number) on
/// port `port` (local or remote).
fn wait_tcp_state(ns: &Netns, port: u16, state: u8, what: &str) -> Result<(), String> {
    ns.wait_tcp_state(port, state, STEP, what)
}

// ------------------------------------------------------------------ data

/// `len` bytes of /dev/urandom into `path`.
fn random_file(path: &Path, len: u64) {
    let mut src = File::open("/dev/urandom")
        .unwrap_or_else(|e| panic!("/dev/urandom: {e}"))
        .take(len);
    let mut dst =
        BufWriter::new(File::create(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())));
    let n = io::copy(&mut src, &mut dst).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    dst.flush()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(n, len, "short read from /dev/urandom");
}

/// Text of about `len` bytes (whole lines of 0 to 120 printable
/// characters, no `\r`) into `text`, and the same with every `\n` made
/// `\r\n` into `crlf`, as `-C` must send it. Returns (lines, bytes).
fn text_files(text: &Path, crlf: &Path, len: u64, seed: u64) -> (u64, u64) {
    let mut rng = Rng::splitmix64(seed);
    let mut a = BufWriter::new(File::create(text).expect("create text"));
    let mut b = BufWriter::new(File::create(crlf).expect("create crlf"));
    let (mut lines, mut bytes) = (0u64, 0u64);
    let mut line = Vec::with_capacity(128);
    while bytes < len {
        line.clear();
        let n = rng.below_u64(121);
        let mut r = rng.next();
        for i in 0..n {
            if i % 8 == 0 {
                r = rng.next();
            }
            line.push(b' ' + (r & 0xff) as u8 % 95);
            r >>= 8;
        }
        a.write_all(&line).expect("write text");
        a.write_all(b"\n").expect("write text");
        b.write_all(&line).expect("write crlf");
        b.write_all(b"\r\n").expect("write crlf");
        lines += 1;
        bytes += n + 1;
    }
    a.flush().expect("flush text");
    b.flush().expect("flush crlf");
    (lines, bytes)
}

fn file_len(p: &Path) -> u64 {
    fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

/// sha256 of a file, by `sha256sum`.
fn sha256(path: &Path) -> String {
    let out = process::run(
        std::process::Command::new("sha256sum")
            .arg(path)
            .env_clear()
            .env("LC_ALL", "C")
            .env("PATH", rnet_testkit::DEFAULT_PATH),
        Duration::from_secs(120),
    )
    .unwrap_or_else(|e| panic!("sha256sum {}: {e}", path.display()));
    out.check("sha256sum").unwrap_or_else(|e| panic!("{e}"));
    out.stdout_text()
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// sha256 of the first `len` bytes of a file (`head -c LEN | sha256sum`).
fn sha256_prefix(path: &Path, len: u64) -> String {
    let n = len.to_string();
    let out = process::run(
        std::process::Command::new("sh")
            .args(["-c", "head -c \"$1\" \"$2\" | sha256sum", "sh", &n])
            .arg(path)
            .env_clear()
            .env("LC_ALL", "C")
            .env("PATH", rnet_testkit::DEFAULT_PATH),
        Duration::from_secs(120),
    )
    .unwrap_or_else(|e| panic!("sha256sum: {e}"));
    out.check("head | sha256sum")
        .unwrap_or_else(|e| panic!("{e}"));
    out.stdout_text()
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Offset of the first byte where two files differ (or where the shorter
/// ends), for the diagnosis of a mismatch.
fn first_difference(a: &Path, b: &Path) -> Option<u64> {
    let (mut fa, mut fb) = (File::open(a).ok()?, File::open(b).ok()?);
    let (mut ba, mut bb) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
    let mut off = 0u64;
    loop {
        let na = read_full(&mut fa, &mut ba);
        let nb = read_full(&mut fb, &mut bb);
        if let Some(i) = (0..na.min(nb)).find(|&i| ba[i] != bb[i]) {
            return Some(off + i as u64);
        }
        if na != nb {
            return Some(off + na.min(nb) as u64);
        }
        if na == 0 {
            return None;
        }
        off += na as u64;
    }
}

fn read_full(f: &mut File, buf: &mut [u8]) -> usize {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    n
}

/// Ok when `got` has exactly the bytes of `sent` (size and sha256), else
/// what differs: sizes, bytes missing, the first differing offset.
fn same_bytes(sent: &Path, got: &Path) -> Result<(), String> {
    let (ls, lg) = (file_len(sent), file_len(got));
    if ls == lg && sha256(sent) == sha256(got) {
        return Ok(());
    }
    Err(format!(
        "received {lg} of {ls} bytes ({} missing), first difference at offset {:?}",
        ls as i64 - lg as i64,
        first_difference(sent, got)
    ))
}

/// Ok(length) when `got` is a prefix of `full` (sha256 of the
/// same-length prefix).
fn prefix_of(full: &Path, got: &Path) -> Result<u64, String> {
    let (lf, lg) = (file_len(full), file_len(got));
    if lg > lf {
        return Err(format!("received {lg} bytes, more than the {lf} sent"));
    }
    if sha256(got) == sha256_prefix(full, lg) {
        Ok(lg)
    } else {
        Err(format!(
            "the {lg} bytes received are not the first {lg} bytes sent (first difference at \
             offset {:?})",
            first_difference(full, got)
        ))
    }
}

fn fd_count(pid: u32) -> usize {
    fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

fn fd_list(pid: u32) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| {
                    let target = fs::read_link(e.path())
                        .map(|t| t.display().to_string())
                        .unwrap_or_default();
                    format!("{} -> {target}", e.file_name().to_string_lossy())
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// `rchar` and `wchar` of `/proc/PID/io`: bytes the process has read and
/// written with read/write calls.
fn proc_io(pid: u32) -> (u64, u64) {
    let text = fs::read_to_string(format!("/proc/{pid}/io"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/io: {e}"));
    let field = |name: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/io"))
    };
    (field("rchar:"), field("wchar:"))
}

/// Stops `p` (SIGSTOP) and waits until it is stopped.
fn stop(p: &mut Running) {
    p.signal(Signal::Stop);
    let pid = p.pid();
    process::wait_until("the process to stop", STEP, || signals::is_stopped(pid))
        .unwrap_or_else(|e| panic!("{e}"));
}

/// Waits until `path` holds at least `len` bytes (a transfer is under
/// way), or panics with `p`'s outcome.
fn wait_size(path: &Path, len: u64, p: &mut Running) {
    process::wait_until(
        &format!("{} to reach {}", path.display(), mib(len)),
        TRANSFER,
        || file_len(path) >= len,
    )
    .unwrap_or_else(|e| panic!("{e}; {}", p.describe()));
}

// ======================================================== 1. slow links

/// One transfer of `file` over the pair: who sends, who receives, who
/// listens, which address family.
#[derive(Clone, Copy, Debug)]
struct Case {
    name: &'static str,
    /// The sender is rnc (else nc.openbsd).
    rnc_sends: bool,
    /// The receiver is rnc (else nc.openbsd).
    rnc_receives: bool,
    /// The sender is the listener (in the server namespace).
    sender_listens: bool,
    v6: bool,
    /// rnc relays through its buffers (`RNC_SPLICE=0`) instead of its
    /// zero-copy paths (splice, both ways: `RNC_SPLICE=all`).
    buffered: bool,
}

/// Runs `case` on `port`: the sender reads `file` through a pipe whose
/// writer closes at the end (`cat FILE |`) and sends its FIN at EOF
/// (`-N`); the receiver writes to `out` with stdin /dev/null. Returns the
/// outcome line, or the failure.
fn transfer(lab: &Lab, case: Case, port: u16, file: &Path, out: &Path) -> Result<String, String> {
    let p = port.to_string();
    let dest = if case.v6 { SERVER_V6 } else { SERVER_V4 };
    let prog = |rnc: bool| if rnc { &lab.rnc } else { &lab.nc };
    // As Running::start, with rnc on the path the case asks for.
    let start = |ns: &Netns, rnc: bool, args: &[&str], input: In, output: Out| {
        let mut cmd = ns.command(prog(rnc), args);
        if rnc {
            cmd.env("RNC_SPLICE", if case.buffered { "0" } else { "all" });
        }
        let name = if rnc { "rnc" } else { "nc" };
        let label = format!("[{}] {name} {}", ns.name(), args.join(" "));
        Running::spawn(cmd, &label, input, output)
    };
    let mut listen_args = vec!["-l"];
    if case.v6 {
        listen_args.push("-6");
    }
    let (mut listener, mut connector) = if case.sender_listens {
        let mut la = vec!["-N"];
        la.extend(&listen_args);
        la.push(&p);
        let l = start(
            &lab.pair.server,
            case.rnc_sends,
            &la,
            In::Pipe(file.to_path_buf()),
            Out::Null,
        );
        lab.wait_listen(Side::Server, port);
        let c = start(
            &lab.pair.client,
            case.rnc_receives,
            &[dest, &p],
            In::Null,
            Out::File(out.to_path_buf()),
        );
        (l, c)
    } else {
        let mut la = listen_args.clone();
        la.push(&p);
        let l = start(
            &lab.pair.server,
            case.rnc_receives,
            &la,
            In::Null,
            Out::File(out.to_path_buf()),
        );
        lab.wait_listen(Side::Server, port);
        let c = start(
            &lab.pair.client,
            case.rnc_sends,
            &["-N", dest, &p],
            In::Pipe(file.to_path_buf()),
            Out::Null,
        );
        (l, c)
    };
    let t0 = Instant::now();
    let sc = connector.wait(TRANSFER)?;
    let sl = listener.wait(TRANSFER)?;
    let secs = t0.elapsed().as_secs_f64();
    let (sender, receiver) = if case.sender_listens {
        (&mut listener, &mut connector)
    } else {
        (&mut connector, &mut listener)
    };
    let summary = format!(
        "{}: {} of {} in {secs:.2} s; sender {}; receiver {}",
        case.name,
        file_len(out),
        file_len(file),
        sender.outcome(),
        receiver.outcome()
    );
    let mut problems = Vec::new();
    if let Err(e) = same_bytes(file, out) {
        problems.push(e);
    }
    for (who, st, p) in [
        ("connector", sc, &mut connector),
        ("listener", sl, &mut listener),
    ] {
        if st.code() != Some(0) {
            problems.push(format!("{who} {}", p.describe()));
        }
        if p.stderr().contains("panicked") {
            problems.push(format!("{who} panicked: {}", p.stderr()));
        }
    }
    if problems.is_empty() {
        Ok(summary)
    } else {
        Err(format!("{summary}\n    {}", problems.join("\n    ")))
    }
}

/// The reproduction, repeated: `cat 64MiB.bin | rnc -N SERVER
/// PORT` over the shaped link into `nc -l PORT > out`, 7 runs. Every run
/// must deliver every byte (sha256) with exit 0 on both ends. Runs 1-3
/// are exactly the issue's; for runs 4-7 the sender's namespace also has
/// `net.ipv4.tcp_wmem = 4096 16384 65536`, so that each write to the
/// socket takes less than the relay's buffer and the buffer is full more
/// often when the pipe's writer closes (the race of the bug).
///
/// Failed against rnc when written (the relay read stdin into a
/// zero-length slice when its buffer was full and poll reported POLLHUP,
/// and took the 0 as end of input; fixed in rnc/src/relay.rs): 5 of 7
/// runs lost the end of the file (49,152, 65,536, 61,624 bytes in runs
/// 1-3; 42,288 and 64,960 in runs 5-6), exit 0 on both ends.
#[test]
fn slow_link_cat_into_rnc_loses_nothing() {
    const T: &str = "slow_link_cat_into_rnc_loses_nothing";
    let Some(lab) = Lab::new(T, "rfslow") else {
        return;
    };
    lab.shape(Side::Client);
    let file = lab.path("64MiB.bin");
    random_file(&file, 64 * MIB);
    let case = Case {
        name: "cat 64MiB.bin | rnc -N 198.18.0.2 PORT -> nc -l PORT",
        rnc_sends: true,
        rnc_receives: false,
        sender_listens: false,
        v6: false,
        buffered: false,
    };
    const RUNS: u16 = 7;
    const SMALL_WMEM_FROM: u16 = 3;
    let mut failures = Vec::new();
    for i in 0..RUNS {
        if i == SMALL_WMEM_FROM {
            lab.pair
                .client
                .sysctl("net.ipv4.tcp_wmem", "4096 16384 65536")
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let how = if i < SMALL_WMEM_FROM {
            "as in the issue"
        } else {
            "tcp_wmem max 64 KiB"
        };
        let out = lab.path(&format!("out{i}"));
        // Every other run through rnc's buffers, the rest zero-copy.
        let case = Case {
            buffered: i % 2 == 1,
            ..case
        };
        let how = format!(
            "{how}, {}",
            if case.buffered { "buffers" } else { "splice" }
        );
        match transfer(&lab, case, PORT + i, &file, &out) {
            Ok(s) => eprintln!("{T}: run {} ({how}): ok: {s}", i + 1),
            Err(e) => {
                eprintln!("{T}: run {} ({how}): FAILED: {e}", i + 1);
                failures.push(format!("run {} ({how}): {e}", i + 1));
            }
        }
        let _ = fs::remove_file(&out);
    }
    eprintln!(
        "{T}: {} of {RUNS} runs intact",
        RUNS as usize - failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {RUNS} runs lost data or failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Both roles and both directions over a pair whose veths are both
/// shaped: rnc sending to nc.openbsd, nc.openbsd sending to rnc, rnc to
/// rnc, with the connector sending and with the listener sending, and one
/// IPv6 case. 32 MiB each, sha256-compared, exit 0 on both ends.
///
/// Failed against rnc when written (the bug of
/// `slow_link_cat_into_rnc_loses_nothing`): in one run rnc -> nc lost
/// 8,192 bytes, rnc -> rnc -l 65,536, rnc -N -l -> rnc 28,672, IPv6 rnc
/// -> nc 16,384; the cases where rnc only receives into a file passed.
#[test]
fn slow_link_both_roles_and_directions() {
    const T: &str = "slow_link_both_roles_and_directions";
    let Some(lab) = Lab::new(T, "rfroles") else {
        return;
    };
    lab.shape(Side::Client);
    lab.shape(Side::Server);
    let file = lab.path("32MiB.bin");
    random_file(&file, 32 * MIB);
    let case = |name, rnc_sends, rnc_receives, sender_listens, v6| Case {
        name,
        rnc_sends,
        rnc_receives,
        sender_listens,
        v6,
        buffered: false,
    };
    let buffered = |c: Case| Case {
        buffered: true,
        ..c
    };
    let cases = [
        case("rnc -N (client) -> nc -l", true, false, false, false),
        case("nc -N (client) -> rnc -l", false, true, false, false),
        case("rnc -N (client) -> rnc -l", true, true, false, false),
        case("rnc -N -l -> nc (client)", true, false, true, false),
        case("nc -N -l -> rnc (client)", false, true, true, false),
        case("rnc -N -l -> rnc (client)", true, true, true, false),
        case(
            "IPv6: rnc -N (client) -> nc -6 -l",
            true,
            false,
            false,
            true,
        ),
        case("IPv6: nc -N -6 -l -> rnc (client)", false, true, true, true),
        // The same guarantees through rnc's buffers (RNC_SPLICE=0).
        buffered(case(
            "buffers: rnc -N (client) -> rnc -l",
            true,
            true,
            false,
            false,
        )),
        buffered(case(
            "buffers: rnc -N -l -> nc (client)",
            true,
            false,
            true,
            false,
        )),
    ];
    let mut failures = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        let out = lab.path(&format!("out{i}"));
        match transfer(&lab, *c, PORT + i as u16, &file, &out) {
            Ok(s) => eprintln!("{T}: ok: {s}"),
            Err(e) => {
                eprintln!("{T}: FAILED: {e}");
                failures.push(e);
            }
        }
        let _ = fs::remove_file(&out);
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

// ====================================================== 2. slow readers

/// Reads `from` to EOF into `to`, slowly: nothing for `pause`, then
/// `chunk` bytes at a time with `gap` between reads. Returns the bytes.
fn slow_copy(
    mut from: impl Read,
    to: &Path,
    pause: Duration,
    chunk: usize,
    gap: Duration,
) -> io::Result<u64> {
    let mut out = BufWriter::new(File::create(to)?);
    thread::sleep(pause);
    let mut buf = vec![0u8; chunk];
    let mut total = 0u64;
    loop {
        let n = from.read(&mut buf)?;
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n])?;
        total += n as u64;
        thread::sleep(gap);
    }
    out.flush()?;
    Ok(total)
}

/// The slow reader: a peer that sends 16 MiB, then its FIN, then
/// reads until EOF; rnc with `-N` and stdin /dev/null (so its own FIN goes
/// out at once) writes into a pipe that a reader empties slowly. The
/// reader must get every byte (sha256), rnc must exit 0 and say nothing.
/// Both roles: rnc connecting to the peer, and `rnc -N -l` with the peer
/// connecting. The peer is the test's own socket (nc.openbsd cannot play
/// it: a listener quits at the peer's FIN, and rnc's FIN comes first).
///
/// Failed against rnc when written (a full output buffer plus POLLHUP on
/// the socket read as end of input; fixed in rnc/src/relay.rs): the
/// reader got 7,733,248 (client) and 15,413,616 (listener) of 16,777,216
/// bytes, rnc exited 0 and said nothing.
#[test]
fn slow_reader_gets_every_byte() {
    const T: &str = "slow_reader_gets_every_byte";
    let Some(lab) = Lab::new(T, "rfread") else {
        return;
    };
    let file = lab.path("16MiB.bin");
    random_file(&file, 16 * MIB);
    let data = Arc::new(fs::read(&file).expect("read the payload"));
    let p = PORT.to_string();
    let q = (PORT + 1).to_string();
    let mut failures = Vec::new();

    // The peer's part: send everything, FIN, read until EOF.
    let peer = |mut s: TcpStream, data: Arc<Vec<u8>>| -> io::Result<u64> {
        s.write_all(&data)?;
        s.shutdown(Shutdown::Write)?;
        io::copy(&mut s, &mut io::sink())
    };

    for listen in [false, true] {
        let out = lab.path(if listen { "out-l" } else { "out-c" });
        let (mut rnc, peer_thread) = if listen {
            let rnc = Running::start(
                &lab.pair.server,
                &lab.rnc,
                &["-N", "-l", &q],
                In::Null,
                Out::Piped,
            );
            lab.wait_listen(Side::Server, PORT + 1);
            let addr = format!("{SERVER_V4}:{q}");
            let s = lab
                .pair
                .client
                .run_in(move || TcpStream::connect(addr))
                .expect("enter the client namespace")
                .unwrap_or_else(|e| panic!("connect to rnc -l: {e}"));
            let d = Arc::clone(&data);
            (rnc, thread::spawn(move || peer(s, d)))
        } else {
            let addr = format!("{SERVER_V4}:{p}");
            let l = lab
                .pair
                .server
                .run_in(move || TcpListener::bind(addr))
                .expect("enter the server namespace")
                .unwrap_or_else(|e| panic!("bind: {e}"));
            let d = Arc::clone(&data);
            let t = thread::spawn(move || peer(l.accept()?.0, d));
            let rnc = Running::start(
                &lab.pair.client,
                &lab.rnc,
                &["-N", SERVER_V4, &p],
                In::Null,
                Out::Piped,
            );
            (rnc, t)
        };
        let role = if listen {
            "rnc -N -l PORT < /dev/null | slow_reader (peer connects)"
        } else {
            "rnc -N 198.18.0.2 PORT < /dev/null | slow_reader"
        };
        // 1 s of nothing (the peer's FIN arrives meanwhile), then 16 KiB
        // every 2 ms: about 8 MB/s, slower than the veth.
        let got = slow_copy(
            rnc.take_stdout(),
            &out,
            Duration::from_secs(1),
            16 * 1024,
            Duration::from_millis(2),
        )
        .unwrap_or_else(|e| panic!("slow reader: {e}"));
        let st = rnc.finish(STEP);
        let peer_read = peer_thread.join().expect("peer thread");
        let summary = format!(
            "{role}: reader got {got} of {} bytes; rnc {}; peer read {:?} until EOF",
            data.len(),
            rnc.outcome(),
            peer_read.as_ref().map_err(|e| e.to_string())
        );
        eprintln!("{T}: {summary}");
        let mut problems = Vec::new();
        if let Err(e) = same_bytes(&file, &out) {
            problems.push(e);
        }
        if st.code() != Some(0) || !rnc.stderr().is_empty() {
            problems.push(format!("rnc: {}", rnc.outcome()));
        }
        if !problems.is_empty() {
            failures.push(format!("{summary}\n    {}", problems.join("\n    ")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ================================================== 3. -C over a slow link

/// `-C` over the shaped link into `nc -l`: (1) text with many line ends,
/// fed through a pipe; (2) the form, one line without an end,
/// `head -c 32M /dev/zero | tr '\0' a | rnc -C -N`, twice, then 4 times 8
/// MiB with the sender's send buffer fixed at 1 MiB (`tcp_wmem`), then
/// (1) again with it at most 64 KiB, as in
/// `slow_link_cat_into_rnc_loses_nothing`. The listener
/// must get exactly the input with every `\n` sent as `\r\n` (sha256),
/// rnc must exit 0 without a panic.
///
/// Failed against rnc when written, two ways: text panicked at once with
/// `relay.rs:255:21: index out of bounds: the len is 1 but the index is
/// 1` (one byte of room, a `\n` read into it, its `\r\n` written past
/// the end); the `tr` form in 1 of 2 runs with the issue's `relay.rs:247:48:
/// range end index 1 out of range for slice of length 0` (no room, stdin
/// POLLHUP); exit 101 in a debug build (134 with the release profile's
/// `panic = "abort"`).
#[test]
fn crlf_over_slow_link() {
    const T: &str = "crlf_over_slow_link";
    let Some(lab) = Lab::new(T, "rfcrlf") else {
        return;
    };
    lab.shape(Side::Client);
    let text = lab.path("text");
    let crlf = lab.path("text.crlf");
    let (lines, bytes) = text_files(&text, &crlf, 24 * MIB, 0x5eed_c0de);
    eprintln!(
        "{T}: text of {lines} lines, {bytes} bytes; with CRLF {} bytes",
        file_len(&crlf)
    );
    let ones = lab.path("a.expected");
    let n_a: u64 = 32 * MIB;
    fs::write(&ones, vec![b'a'; n_a as usize]).expect("write expected");
    let ones_small = lab.path("a.expected.small");
    let n_small: u64 = 8 * MIB;
    fs::write(&ones_small, vec![b'a'; n_small as usize]).expect("write expected");
    let mut failures = Vec::new();
    // (what, expected output, the sender's tcp_wmem to set first)
    let mut runs: Vec<(String, &Path, Option<&str>)> = vec![
        ("text with many \\n through a pipe".into(), &crlf, None),
        ("head -c 32M /dev/zero | tr '\\0' a (1)".into(), &ones, None),
        ("head -c 32M /dev/zero | tr '\\0' a (2)".into(), &ones, None),
    ];
    // The sender's send buffer fixed at 1 MiB: the `tr` form panicked in
    // 4 of 8 runs (1 of 10 with the defaults); at most 64 KiB: the text
    // panicked every time.
    for i in 1..=4 {
        runs.push((
            format!("head -c 8M /dev/zero | tr '\\0' a ({i}, tcp_wmem 1 MiB)"),
            &ones_small,
            (i == 1).then_some("4096 1048576 1048576"),
        ));
    }
    runs.push((
        "text with many \\n through a pipe (tcp_wmem max 64 KiB)".into(),
        &crlf,
        Some("4096 16384 65536"),
    ));
    for (i, (what, expected, wmem)) in runs.into_iter().enumerate() {
        let port = PORT + i as u16;
        if let Some(w) = wmem {
            lab.pair
                .client
                .sysctl("net.ipv4.tcp_wmem", w)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let p = port.to_string();
        let out = lab.path(&format!("out{port}"));
        let mut nc = Running::start(
            &lab.pair.server,
            &lab.nc,
            &["-l", &p],
            In::Null,
            Out::File(out.clone()),
        );
        lab.wait_listen(Side::Server, port);
        let mut rnc = if expected == crlf.as_path() {
            Running::start(
                &lab.pair.client,
                &lab.rnc,
                &["-C", "-N", SERVER_V4, &p],
                In::Pipe(text.clone()),
                Out::Null,
            )
        } else {
            let script = format!(
                "head -c {} /dev/zero | tr '\\0' a | \"$0\" -C -N {SERVER_V4} {port}",
                file_len(expected)
            );
            let rnc = lab.rnc.display().to_string();
            Running::start(
                &lab.pair.client,
                Path::new("sh"),
                &["-c", &script, &rnc],
                In::Null,
                Out::Null,
            )
        };
        let t0 = Instant::now();
        let st = rnc.finish(TRANSFER);
        let rnc_secs = t0.elapsed().as_secs_f64();
        let nst = nc.finish(STEP);
        let summary = format!(
            "{what}: nc -l got {} of {} bytes; rnc {} ({rnc_secs:.2} s); nc -l {}",
            file_len(&out),
            file_len(expected),
            rnc.outcome(),
            status_text(nst)
        );
        eprintln!("{T}: {summary}");
        let mut problems = Vec::new();
        if let Err(e) = same_bytes(expected, &out) {
            problems.push(e);
        }
        if st.code() != Some(0) || rnc.stderr().contains("panicked") {
            problems.push(format!("rnc: {}", rnc.outcome()));
        }
        if !problems.is_empty() {
            failures.push(format!("{summary}\n    {}", problems.join("\n    ")));
        }
        let _ = fs::remove_file(&out);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ================================================================ 4. soak

/// `rnc -lk` serves 2,000 nc.openbsd clients in turn (`nc -N SERVER PORT <
/// pN`, one after the other, from one shell loop inside the client
/// namespace). Each payload is distinct (its number, its length, random
/// bytes); since the clients run in turn and each ends before the next
/// starts, the listener's output must be the payloads concatenated in
/// order (sha256), and its descriptor count after the 2,000th client
/// must equal the count after the 1st.
#[test]
fn soak_listener_serves_2000_clients() {
    const T: &str = "soak_listener_serves_2000_clients";
    const CLIENTS: usize = 2000;
    let Some(lab) = Lab::new(T, "rfsoak") else {
        return;
    };
    let payloads = lab.path("payloads");
    fs::create_dir(&payloads).expect("payload dir");
    let expected = lab.path("expected");
    {
        let mut rng = Rng::splitmix64(2000);
        let mut all = BufWriter::new(File::create(&expected).expect("expected"));
        for i in 0..CLIENTS {
            let n = 1 + rng.below_u64(2048) as usize;
            let mut body = format!("client {i:04} sends {n} random bytes:").into_bytes();
            body.extend((0..n).map(|_| rng.next() as u8));
            body.push(b'\n');
            fs::write(payloads.join(format!("p{i}")), &body).expect("payload");
            all.write_all(&body).expect("expected");
        }
        all.flush().expect("expected");
    }
    let p = PORT.to_string();
    let out = lab.path("out");
    let mut rnc = Running::start(
        &lab.pair.server,
        &lab.rnc,
        &["-lk", &p],
        In::Null,
        Out::File(out.clone()),
    );
    lab.wait_listen(Side::Server, PORT);
    let pid = rnc.pid();
    let fds_start = fd_count(pid);
    let clients = |from: usize, to: usize| -> process::Output {
        let script = format!(
            "i={from}; while [ $i -lt {to} ]; do \"$0\" -N {SERVER_V4} {PORT} < \"$1/p$i\" \
             || {{ echo \"client $i: status $?\" >&2; exit 1; }}; i=$((i+1)); done"
        );
        let nc = lab.nc.display().to_string();
        let dir = payloads.display().to_string();
        let mut cmd = lab
            .pair
            .client
            .command("sh", &["-c", script.as_str(), nc.as_str(), dir.as_str()]);
        process::run(&mut cmd, Duration::from_secs(120)).expect("run the client loop")
    };
    // The count is read once the listener is back in accept() (stable
    // over 100 ms).
    let settled_fds = || {
        let mut last = fd_count(pid);
        let mut same = 0;
        for _ in 0..100 {
            thread::sleep(Duration::from_millis(20));
            let now = fd_count(pid);
            same = if now == last { same + 1 } else { 0 };
            last = now;
            if same >= 5 {
                break;
            }
        }
        last
    };
    let first = clients(0, 1);
    first.check("client 0").unwrap_or_else(|e| panic!("{e}"));
    let fds_1 = settled_fds();
    let list_1 = fd_list(pid);
    let t0 = Instant::now();
    let rest = clients(1, CLIENTS);
    let secs = t0.elapsed().as_secs_f64();
    let fds_n = settled_fds();
    let list_n = fd_list(pid);
    let alive = rnc.running();
    let got = file_len(&out);
    eprintln!(
        "{T}: {CLIENTS} clients ({} after the first in {secs:.1} s, {:.1} ms each): loop {}, \
         rnc {}; output {got} of {} bytes; descriptors: {fds_start} listening, {fds_1} after \
         client 1, {fds_n} after client {CLIENTS}",
        CLIENTS - 1,
        secs * 1000.0 / (CLIENTS - 1) as f64,
        rest.status_text(),
        if alive { "still listening" } else { "EXITED" },
        file_len(&expected),
    );
    rest.check(&format!("clients 1..{CLIENTS}"))
        .unwrap_or_else(|e| panic!("{e}\nrnc: {}", rnc.describe()));
    assert!(alive, "rnc -lk exited: {}", rnc.describe());
    if let Err(e) = same_bytes(&expected, &out) {
        // Name the first client whose payload is not where it belongs.
        let off = first_difference(&expected, &out).unwrap_or(0);
        let exp = fs::read(&expected).unwrap_or_default();
        let client = exp[..(off as usize).min(exp.len())]
            .iter()
            .filter(|b| **b == b'\n')
            .count();
        panic!("rnc -lk output is not the payloads in order: {e} (near client {client})");
    }
    assert_eq!(
        fds_n, fds_1,
        "rnc -lk has {fds_1} descriptors after client 1 and {fds_n} after client {CLIENTS}:\n\
         after 1: {list_1:#?}\nafter {CLIENTS}: {list_n:#?}"
    );
    assert_eq!(rnc.stderr(), "", "rnc -lk said something");
}

// ======================================================== 5. peer resets

/// Runs the reset scene once: `prog` receives a 64 MiB file over the
/// shaped link, as listener (`PROG -l PORT > out`, nc.openbsd `-N`
/// connecting and sending) or as connector (`PROG SERVER PORT > out`
/// against `nc -N -l PORT < file`); once 4 MiB have arrived, a rule in the
/// peer's namespace answers every packet from the receiver with a RST
/// (`iptables -I INPUT -p tcp … -j REJECT --reject-with tcp-reset`).
/// Returns (outcome line, receiver, prefix check, RSTs sent, the
/// receiver's EstabResets).
fn reset_scene(
    lab: &Lab,
    prog: &Path,
    listener: bool,
    port: u16,
    file: &Path,
) -> (String, Running, Result<u64, String>, u64, u64) {
    let p = port.to_string();
    let out = lab.path(&format!("out{port}"));
    let (mut receiver, _sender, peer_side, rule) = if listener {
        let r = Running::start(
            &lab.pair.server,
            prog,
            &["-l", &p],
            In::Null,
            Out::File(out.clone()),
        );
        lab.wait_listen(Side::Server, port);
        let s = Running::start(
            &lab.pair.client,
            &lab.nc,
            &["-N", SERVER_V4, &p],
            In::File(file.to_path_buf()),
            Out::Null,
        );
        // In the client namespace: what comes from the listener's port.
        let rule = vec!["-s", SERVER_V4, "--sport"];
        (r, s, Side::Client, rule)
    } else {
        let s = Running::start(
            &lab.pair.server,
            &lab.nc,
            &["-N", "-l", &p],
            In::File(file.to_path_buf()),
            Out::Null,
        );
        lab.wait_listen(Side::Server, port);
        let r = Running::start(
            &lab.pair.client,
            prog,
            &[SERVER_V4, &p],
            In::Null,
            Out::File(out.clone()),
        );
        // In the server namespace: what the connector sends to the port.
        let rule = vec!["-s", CLIENT_V4, "--dport"];
        (r, s, Side::Server, rule)
    };
    let receiver_side = if listener { Side::Server } else { Side::Client };
    let resets_before = lab.tcp_snmp(receiver_side, "EstabResets");
    wait_size(&out, 4 * MIB, &mut receiver);
    let mut args = vec!["-I", "INPUT", "-p", "tcp"];
    args.extend(&rule);
    args.extend([p.as_str(), "-j", "REJECT", "--reject-with", "tcp-reset"]);
    lab.iptables(peer_side, &args);
    let t_rule = Instant::now();
    let st = receiver.wait(Duration::from_secs(30));
    let rsts = lab
        .rule_packets(peer_side, "INPUT")
        .first()
        .copied()
        .unwrap_or(0);
    let resets = lab.tcp_snmp(receiver_side, "EstabResets") - resets_before;
    let after = st
        .as_ref()
        .map(|_| {
            format!(
                "{:.2} s after the rule",
                receiver.exited_at().duration_since(t_rule).as_secs_f64()
            )
        })
        .unwrap_or_else(|e| e.clone());
    let prefix = prefix_of(file, &out);
    let summary =
        format!(
        "{} {}: {} ({after}); wrote {} of {} ({:?}); the rule answered {rsts} packet(s) with a \
         RST; EstabResets +{resets} on the receiver's side",
        prog.file_name().unwrap_or_default().to_string_lossy(),
        if listener { "-l (nc connects and sends)" } else { "(connects, nc -l sends)" },
        receiver.outcome(),
        mib(file_len(&out)),
        mib(file_len(file)),
        prefix.as_ref().map(|_| "a prefix").map_err(String::as_str),
    );
    (summary, receiver, prefix, rsts, resets)
}

/// The peer resets mid-transfer: rnc, receiving as listener and as
/// connector, must exit 1 with one line on stderr, having written every
/// byte it received (its output is a prefix of the file sent). The
/// rule's counter and the receiver's EstabResets prove that a RST came.
/// nc.openbsd in the same scenes is printed for the record: it exits 0
/// and says nothing, in both roles (the status 1 is a documented
/// difference).
///
/// Failed against rnc when written: exit 0 and no message, like nc.
#[test]
fn peer_reset_mid_transfer() {
    const T: &str = "peer_reset_mid_transfer";
    let Some(lab) = Lab::new(T, "rfrst") else {
        return;
    };
    lab.shape(Side::Client);
    lab.shape(Side::Server);
    let file = lab.path("64MiB.bin");
    random_file(&file, 64 * MIB);
    let mut failures = Vec::new();
    let mut port = PORT;
    for listener in [true, false] {
        // The reference first, for the record.
        let (s, ..) = reset_scene(&lab, &lab.nc, listener, port, &file);
        eprintln!("{T}: reference: {s}");
        port += 1;
        let (s, mut rnc, prefix, rsts, resets) = reset_scene(&lab, &lab.rnc, listener, port, &file);
        eprintln!("{T}: {s}");
        port += 1;
        let mut problems = Vec::new();
        if rsts == 0 || resets == 0 {
            problems.push(format!(
                "no RST reached the receiver (rule counter {rsts}, EstabResets +{resets}): the \
                 scene tested nothing"
            ));
        }
        match prefix {
            Ok(n) if n >= 4 * MIB && n < file_len(&file) => {}
            Ok(n) => problems.push(format!("wrote {n} bytes: not a mid-transfer reset")),
            Err(e) => problems.push(e),
        }
        let err = rnc.stderr();
        let lines: Vec<&str> = err.lines().collect();
        if rnc.poll().and_then(|s| s.code()) != Some(1)
            || lines.len() != 1
            || !lines[0].starts_with("rnc: ")
        {
            problems.push(format!(
                "want exit 1 and one line `rnc: …` on stderr, got {}",
                rnc.outcome()
            ));
        }
        if !problems.is_empty() {
            failures.push(format!("{s}\n    {}", problems.join("\n    ")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ====================================================== 6. link down, -w 2

/// Runs the link-down scene once with `prog -w 2`: as receiver (`PROG -w 2
/// SERVER PORT > out` against `nc -N -l PORT < file`, the server's veth
/// taken down) or as sender (`cat file | PROG -w 2 -N SERVER PORT` into
/// `nc -l PORT`, the client's veth taken down). Returns (outcome line,
/// status, seconds from the link going down to the exit: (lower, upper)).
fn link_down_scene(
    test: &str,
    prog_is_rnc: bool,
    sender: bool,
    file: &Path,
) -> Option<(String, ExitStatus, f64, f64)> {
    let lab = Lab::new(test, if sender { "rfwds" } else { "rfwdr" })?;
    let prog = if prog_is_rnc { &lab.rnc } else { &lab.nc };
    let p = PORT.to_string();
    let out = lab.path("out");
    let (mut tool, mut peer, down) = if sender {
        lab.shape(Side::Client);
        let peer = Running::start(
            &lab.pair.server,
            &lab.nc,
            &["-l", &p],
            In::Null,
            Out::File(out.clone()),
        );
        lab.wait_listen(Side::Server, PORT);
        let tool = Running::start(
            &lab.pair.client,
            prog,
            &["-w", "2", "-N", SERVER_V4, &p],
            In::Pipe(file.to_path_buf()),
            Out::Null,
        );
        (tool, peer, Side::Client)
    } else {
        lab.shape(Side::Server);
        let peer = Running::start(
            &lab.pair.server,
            &lab.nc,
            &["-N", "-l", &p],
            In::File(file.to_path_buf()),
            Out::Null,
        );
        lab.wait_listen(Side::Server, PORT);
        let tool = Running::start(
            &lab.pair.client,
            prog,
            &["-w", "2", SERVER_V4, &p],
            In::Null,
            Out::File(out.clone()),
        );
        (tool, peer, Side::Server)
    };
    wait_size(&out, 8 * MIB, &mut tool);
    let before = Instant::now();
    lab.link_down(down);
    let after = Instant::now();
    let at = file_len(&out);
    let st = tool.finish(Duration::from_secs(20));
    let exit = tool.exited_at();
    let (lo, hi) = (
        exit.saturating_duration_since(after).as_secs_f64(),
        exit.saturating_duration_since(before).as_secs_f64(),
    );
    let name = prog.file_name().unwrap_or_default().to_string_lossy();
    let summary = format!(
        "{name} -w 2 as {}: {} of {} received when the {} veth went down; {} {:.2} s after \
         the link went down; peer {}",
        if sender { "sender (-N)" } else { "receiver" },
        mib(at),
        mib(file_len(file)),
        if down == Side::Client {
            "client's"
        } else {
            "server's"
        },
        tool.outcome(),
        hi,
        peer.describe()
    );
    Some((summary, st, lo, hi))
}

/// The link goes down mid-transfer (`ip link set VETH down`): with `-w 2`
/// rnc exits 2 to 5 s after the link went down, with nc.openbsd's
/// status in the same scene, as receiver and as sender.
#[test]
fn link_down_mid_transfer_with_w2() {
    const T: &str = "link_down_mid_transfer_with_w2";
    if lab_or_skip(T, PROGRAMS).is_none() {
        return;
    }
    let dir = TempDir::new("rfwd").expect("temp dir");
    let file = dir.join("64MiB.bin");
    random_file(&file, 64 * MIB);
    let mut failures = Vec::new();
    for sender in [false, true] {
        let Some((ns, nst, _, _)) = link_down_scene(T, false, sender, &file) else {
            return;
        };
        eprintln!("{T}: reference: {ns}");
        let Some((rs, rst, lo, hi)) = link_down_scene(T, true, sender, &file) else {
            return;
        };
        eprintln!("{T}: {rs}");
        let mut problems = Vec::new();
        // The last data went through just before the link went down.
        if !(1.9..=5.0).contains(&lo) || hi > 5.0 {
            problems.push(format!(
                "rnc exited {lo:.2}..{hi:.2} s after the link went down, want 2 to 5 s"
            ));
        }
        if status_text(rst) != status_text(nst) {
            problems.push(format!(
                "rnc ended with {}, nc.openbsd with {}",
                status_text(rst),
                status_text(nst)
            ));
        }
        if !problems.is_empty() {
            failures.push(format!("{rs}\n    {}", problems.join("\n    ")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ==================================================== 7. 1 GiB both ways

/// 1 GiB in both directions at once over the veth (no shaping): `rnc
/// SERVER PORT < A > gotB` against `nc -N -l PORT < B > gotA` (rnc sends
/// no FIN of its own until it has all of B, so nc.openbsd, which quits at
/// the peer's FIN, gets all of A). Both directions sha256-compared, both
/// exit 0; the time is printed (2 CPUs, debug build: 6.5 to 10 s for the
/// exchange, about 40 s in all with generating and hashing 4 GiB).
#[test]
fn one_gib_both_directions_at_once() {
    const T: &str = "one_gib_both_directions_at_once";
    const GIB: u64 = 1 << 30;
    let Some(lab) = Lab::new(T, "rfgib") else {
        return;
    };
    let (a, b) = (lab.path("A"), lab.path("B"));
    let (got_a, got_b) = (lab.path("gotA"), lab.path("gotB"));
    let t0 = Instant::now();
    thread::scope(|s| {
        s.spawn(|| random_file(&a, GIB));
        s.spawn(|| random_file(&b, GIB));
    });
    let gen = t0.elapsed().as_secs_f64();
    let p = PORT.to_string();
    let mut nc = Running::start(
        &lab.pair.server,
        &lab.nc,
        &["-N", "-l", &p],
        In::File(b.clone()),
        Out::File(got_a.clone()),
    );
    lab.wait_listen(Side::Server, PORT);
    let t1 = Instant::now();
    let mut rnc = Running::start(
        &lab.pair.client,
        &lab.rnc,
        &[SERVER_V4, &p],
        In::File(a.clone()),
        Out::File(got_b.clone()),
    );
    let rst = rnc.finish(Duration::from_secs(300));
    let nst = nc.finish(Duration::from_secs(30));
    let secs = t1.elapsed().as_secs_f64();
    let t2 = Instant::now();
    let (ab, ba) = thread::scope(|s| {
        let ab = s.spawn(|| same_bytes(&a, &got_a));
        let ba = same_bytes(&b, &got_b);
        (ab.join().expect("sha256 thread"), ba)
    });
    eprintln!(
        "{T}: 2 x 1 GiB generated in {gen:.1} s; exchanged in {secs:.1} s ({:.0} MB/s each \
         way); sha256 checked in {:.1} s; A -> nc: {}; B -> rnc: {}; rnc {}; nc -l {}",
        GIB as f64 / 1e6 / secs,
        t2.elapsed().as_secs_f64(),
        ab.as_ref().map(|_| "intact").unwrap_or_else(|e| e),
        ba.as_ref().map(|_| "intact").unwrap_or_else(|e| e),
        rnc.outcome(),
        nc.outcome()
    );
    ab.unwrap_or_else(|e| panic!("rnc -> nc.openbsd: {e}"));
    ba.unwrap_or_else(|e| panic!("nc.openbsd -> rnc: {e}"));
    assert_eq!(rst.code(), Some(0), "{}", rnc.describe());
    assert_eq!(nst.code(), Some(0), "{}", nc.describe());
}

// ==================================================== 8. SIGINT mid-transfer

/// SIGINT while sending: `cat 64MiB | PROG -N SERVER PORT` over the
/// shaped link into `nc -l PORT > out`, with rules in the server's
/// namespace that count the FINs and RSTs arriving. PROG is stopped
/// (SIGSTOP), its `wchar` read, then SIGINT and SIGCONT. Returns (outcome
/// line, problems).
fn sigint_sender_scene(
    test: &str,
    prog_is_rnc: bool,
    file: &Path,
) -> Option<(String, Vec<String>)> {
    let lab = Lab::new(test, "rfints")?;
    lab.shape(Side::Client);
    let prog = if prog_is_rnc { &lab.rnc } else { &lab.nc };
    let p = PORT.to_string();
    for flag in ["FIN", "RST"] {
        lab.iptables(
            Side::Server,
            &[
                "-A",
                "INPUT",
                "-p",
                "tcp",
                "--dport",
                &p,
                "--tcp-flags",
                flag,
                flag,
            ],
        );
    }
    let out = lab.path("out");
    let mut nc = Running::start(
        &lab.pair.server,
        &lab.nc,
        &["-l", &p],
        In::Null,
        Out::File(out.clone()),
    );
    lab.wait_listen(Side::Server, PORT);
    let mut tool = Running::start(
        &lab.pair.client,
        prog,
        &["-N", SERVER_V4, &p],
        In::Pipe(file.to_path_buf()),
        Out::Null,
    );
    wait_size(&out, 8 * MIB, &mut nc);
    stop(&mut tool);
    let (rchar, wchar) = proc_io(tool.pid());
    tool.signal(Signal::Int);
    tool.signal(Signal::Cont);
    let st = tool.finish(STEP);
    let nst = nc.wait(STEP);
    let counts = lab.rule_packets(Side::Server, "INPUT");
    let (fins, rsts) = (counts[0], counts[1]);
    let prefix = prefix_of(file, &out);
    let name = prog.file_name().unwrap_or_default().to_string_lossy();
    let summary = format!(
        "SIGINT to `cat 64MiB | {name} -N`: read {} from stdin and wrote {} to the socket \
         when stopped; {}; nc -l got {} ({:?}) and {}; FINs arriving {fins}, RSTs {rsts}",
        mib(rchar),
        mib(wchar),
        tool.outcome(),
        mib(file_len(&out)),
        prefix.as_ref().map(|_| "a prefix").map_err(String::as_str),
        nc.outcome(),
    );
    let mut problems = Vec::new();
    if st.signal() != Some(libc::SIGINT) {
        problems.push(format!("{name} did not die of SIGINT: {}", status_text(st)));
    }
    match nst {
        Ok(s) if s.code() == Some(0) => {}
        _ => problems.push(format!("nc -l did not exit 0: {}", nc.outcome())),
    }
    if fins == 0 || rsts != 0 {
        problems.push(format!(
            "the peer must see a FIN and no RST: FINs {fins}, RSTs {rsts}"
        ));
    }
    match prefix {
        Ok(n) if n >= wchar && n < file_len(file) => {}
        Ok(n) => problems.push(format!(
            "nc -l got {n} bytes; {name} had written {wchar} to the socket"
        )),
        Err(e) => problems.push(e),
    }
    Some((summary, problems))
}

/// SIGINT while receiving: `PROG SERVER PORT < /dev/null | slow_reader`
/// against `nc -l PORT` fed 64 MiB once the connection is up. PROG is
/// stopped (SIGSTOP) mid-transfer, its `rchar` read (minus what it had
/// read before any data came: the socket is its only input), then SIGINT
/// and SIGCONT, and the reader drains the pipe. PROG must die of SIGINT
/// and its stdout must be a prefix of what was sent; with `strict`, also
/// at least every byte PROG had read from the network. Returns (outcome
/// line, problems).
fn sigint_receiver_scene(
    test: &str,
    prog_is_rnc: bool,
    file: &Path,
    strict: bool,
) -> Option<(String, Vec<String>)> {
    let lab = Lab::new(test, "rfintr")?;
    let prog = if prog_is_rnc { &lab.rnc } else { &lab.nc };
    let p = PORT.to_string();
    let out = lab.path("out");
    let mut nc = Running::start(&lab.pair.server, &lab.nc, &["-l", &p], In::Held, Out::Null);
    lab.wait_listen(Side::Server, PORT);
    let mut tool = Running::start(
        &lab.pair.client,
        prog,
        &[SERVER_V4, &p],
        In::Null,
        Out::Piped,
    );
    wait_tcp_state(&lab.pair.client, PORT, ESTABLISHED, "the connection")
        .unwrap_or_else(|e| panic!("{e}"));
    thread::sleep(Duration::from_millis(200));
    let (base, _) = proc_io(tool.pid());
    let mut feed = nc.take_stdin();
    let src = file.to_path_buf();
    thread::spawn(move || io::copy(&mut File::open(src)?, &mut feed));
    let fast = Arc::new(AtomicBool::new(false));
    let reader = {
        let (fast, out) = (Arc::clone(&fast), out.clone());
        let mut from = tool.take_stdout();
        thread::spawn(move || -> io::Result<u64> {
            let mut to = BufWriter::new(File::create(out)?);
            let mut buf = vec![0u8; 16 * 1024];
            let mut total = 0u64;
            loop {
                let n = from.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                to.write_all(&buf[..n])?;
                total += n as u64;
                if !fast.load(Ordering::Relaxed) {
                    thread::sleep(Duration::from_millis(2));
                }
            }
            to.flush()?;
            Ok(total)
        })
    };
    wait_size(&out, 4 * MIB, &mut tool);
    stop(&mut tool);
    let (rchar, _) = proc_io(tool.pid());
    let read = rchar - base;
    tool.signal(Signal::Int);
    tool.signal(Signal::Cont);
    fast.store(true, Ordering::Relaxed);
    let st = tool.finish(STEP);
    let got = reader
        .join()
        .expect("reader thread")
        .unwrap_or_else(|e| panic!("reader: {e}"));
    let prefix = prefix_of(file, &out);
    let name = prog.file_name().unwrap_or_default().to_string_lossy();
    let summary = format!(
        "SIGINT to `{name} SERVER PORT | slow_reader`: had read {read} bytes from the network \
         when stopped; its stdout delivered {got} ({} lost, {:?}); {}",
        read.saturating_sub(got),
        prefix.as_ref().map(|_| "a prefix").map_err(String::as_str),
        tool.outcome()
    );
    let mut problems = Vec::new();
    if st.signal() != Some(libc::SIGINT) {
        problems.push(format!("{name} did not die of SIGINT: {}", status_text(st)));
    }
    match prefix {
        Ok(0) => problems.push(format!("{name} delivered nothing: not mid-transfer")),
        Ok(n) if strict && n < read => problems.push(format!(
            "{name} had read {read} bytes from the network, its stdout delivered {n}"
        )),
        Ok(_) => {}
        Err(e) => problems.push(e),
    }
    Some((summary, problems))
}

/// SIGINT mid-transfer: sending, the peer sees a FIN and no RST, exits 0,
/// and has an exact prefix of the input, at least what rnc had written to
/// the socket; receiving, rnc dies of the signal and what it wrote to
/// stdout is a prefix of what the peer sent. nc.openbsd in the same
/// scenes, for the record (it passes the same checks).
///
/// Passed against rnc when written.
#[test]
fn sigint_mid_transfer() {
    const T: &str = "sigint_mid_transfer";
    if lab_or_skip(T, PROGRAMS).is_none() {
        return;
    }
    let dir = TempDir::new("rfint").expect("temp dir");
    let file = dir.join("64MiB.bin");
    random_file(&file, 64 * MIB);
    let mut failures = Vec::new();
    for what in ["sending", "receiving"] {
        let scene = |rnc: bool| {
            if what == "sending" {
                sigint_sender_scene(T, rnc, &file)
            } else {
                sigint_receiver_scene(T, rnc, &file, false)
            }
        };
        let Some((s, problems)) = scene(false) else {
            return;
        };
        eprintln!("{T}: reference ({what}): {s}; by rnc's criteria: {problems:?}");
        let Some((s, problems)) = scene(true) else {
            return;
        };
        eprintln!("{T}: {what}: {s}");
        if !problems.is_empty() {
            failures.push(format!("{s}\n    {}", problems.join("\n    ")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Issue 8, item 8 word for word: SIGINT mid-transfer loses nothing that
/// was already read. Receiving into a slow pipe, every byte rnc had read
/// from the network when the signal came must reach its stdout (rnc
/// drains its buffer to stdout before it dies). This goes beyond
/// nc.openbsd, which dies at once and loses what is in its 16 KiB buffer
/// (16,384 bytes measured; printed for the record).
///
/// Fails against rnc when written: it dies at once and its buffered bytes
/// are lost (49,152 and 106,496 bytes measured before the relay fix of
/// issue 8, 16,384 and 81,920 after it).
#[test]
fn sigint_while_receiving_loses_nothing_read() {
    const T: &str = "sigint_while_receiving_loses_nothing_read";
    if lab_or_skip(T, PROGRAMS).is_none() {
        return;
    }
    let dir = TempDir::new("rfintx").expect("temp dir");
    let file = dir.join("64MiB.bin");
    random_file(&file, 64 * MIB);
    let Some((s, problems)) = sigint_receiver_scene(T, false, &file, true) else {
        return;
    };
    eprintln!("{T}: reference: {s}; by rnc's criteria: {problems:?}");
    let Some((s, problems)) = sigint_receiver_scene(T, true, &file, true) else {
        return;
    };
    eprintln!("{T}: {s}");
    assert!(problems.is_empty(), "{s}\n    {}", problems.join("\n    "));
}
