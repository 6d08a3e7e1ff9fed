//! The behaviours that Debian's netcat-openbsd checks (`debian/checks/`)
//! and OpenBSD's `regress/usr.bin/nc` look at, written as our own tests,
//! on loopback (127.0.0.1, ::1) and UNIX sockets in a private directory.
//!
//! Several facts are only visible as system calls, so these tests run rnc
//! under `strace` (Debian package `strace`) and read what it logged:
//! - `shutdown(fd, SHUT_WR)` at stdin EOF with `-N`, and never without it
//!   (TCP and UDP);
//! - listeners set `SO_REUSEADDR` and `SO_REUSEPORT` before `bind`, and
//!   bind the address and family nc binds (`0.0.0.0` by default, `::`
//!   with `-6`, the address given, `-s`/`-p`);
//! - a UNIX listener removes a stale file at its path before `bind`; an
//!   `@abstract` name touches no file;
//! - a UNIX datagram client binds its reply address
//!   (`/tmp/nc-XXXXXX/recv.sock`, or `-s PATH`) before `connect`;
//! - a UDP listener without `-k` peeks at the first datagram and connects
//!   to its sender; with `-k` it never connects.
//!
//! Where nc.openbsd is installed, the same scenario is also run with it
//! and the facts must be equal: nc is the reference, not our reading of
//! it. Without strace (or nc.openbsd) a test prints `SKIPPED …` and
//! passes, unless `RNET_REQUIRE_LAB=1` (CI), where that is a failure.
//!
//! Every child has a deadline and is killed with its process group when
//! its guard drops, also when a test panics.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{TcpListener, UdpSocket};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::thread;
use std::time::{Duration, Instant};

use rnet_testkit::process::wait_until;
use rnet_testkit::running::{In, Out, Running};
use rnet_testkit::tempdir::TempDir;

/// Deadline of one short run.
const SHORT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------- tools

/// A netcat under test: rnc, or the reference nc.openbsd.
#[derive(Clone, Debug)]
struct Tool {
    name: &'static str,
    path: PathBuf,
}

fn rnc() -> Tool {
    Tool {
        name: "rnc",
        path: PathBuf::from(env!("CARGO_BIN_EXE_rnc")),
    }
}

/// rnc, and nc.openbsd when installed (else a printed skip of the
/// comparison; rnc's own checks still run).
fn tools(test: &str) -> Vec<Tool> {
    let mut v = vec![rnc()];
    match rnet_testkit::find_program("nc.openbsd") {
        Some(path) => v.push(Tool {
            name: "nc.openbsd",
            path,
        }),
        None => rnet_testkit::skip(
            test,
            "nc.openbsd (Debian netcat-openbsd) is not installed: only rnc's side runs",
        ),
    }
    v
}

/// strace, if it is installed and may trace here (a container can forbid
/// ptrace); else `None` after a printed skip.
fn strace_or_skip(test: &str) -> Option<PathBuf> {
    let Some(st) = rnet_testkit::find_program("strace") else {
        rnet_testkit::skip(test, "strace (Debian package strace) is not installed");
        return None;
    };
    let probe = rnet_testkit::process::run(
        Command::new(&st).args(["-qq", "-o", "/dev/null", "--", "/bin/true"]),
        SHORT,
    );
    match probe {
        Ok(out) if out.status.success() => Some(st),
        Ok(out) => {
            rnet_testkit::skip(
                test,
                &format!("strace cannot trace here: {}", out.stderr_text().trim()),
            );
            None
        }
        Err(e) => {
            rnet_testkit::skip(test, &format!("strace does not run: {e}"));
            None
        }
    }
}

fn ipv6() -> bool {
    TcpListener::bind("[::1]:0").is_ok()
}

/// A port that was free a moment ago (bound to 0 and released).
fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

// ------------------------------------------------------- traced children

/// The system calls these tests read.
const TRACED: &str = "trace=bind,listen,connect,shutdown,setsockopt,unlink,unlinkat,recvfrom";

/// A netcat running (under strace when `strace` is given), with stdin a
/// pipe, stdout and stderr collected by threads
/// (rnet_testkit::running::Running). Killed with its process group on
/// drop.
struct Run {
    run: Running,
    trace: Option<PathBuf>,
}

impl Run {
    /// Starts `tool args` in `dir`, traced into `dir/<n>.trace` when
    /// `strace` is given.
    fn start(tool: &Tool, strace: Option<&Path>, dir: &Path, args: &[&str]) -> Run {
        let trace = strace.map(|_| dir.join(format!("{}.trace", rnet_testkit::unique_suffix())));
        let mut cmd = match (strace, &trace) {
            (Some(st), Some(t)) => {
                let mut c = Command::new(st);
                c.arg("-qq")
                    .arg("-o")
                    .arg(t)
                    .args(["-e", TRACED, "--"])
                    .arg(&tool.path);
                c
            }
            _ => Command::new(&tool.path),
        };
        cmd.args(args)
            .current_dir(dir)
            .env_clear()
            .env("PATH", rnet_testkit::DEFAULT_PATH)
            .env("LC_ALL", "C");
        Run {
            run: Running::spawn(cmd, tool.name, In::Held, Out::Captured),
            trace,
        }
    }

    fn write(&mut self, data: &[u8]) {
        self.run.type_bytes(data);
    }

    /// Closes the child's stdin (end of file).
    fn close_stdin(&mut self) {
        self.run.close_stdin();
    }

    fn stdout(&self) -> Vec<u8> {
        self.run.stdout_bytes()
    }

    fn stderr(&self) -> String {
        self.run.stderr()
    }

    /// The traced system calls so far, one per line (signals and
    /// unfinished-call fragments left out).
    fn calls(&self) -> Vec<String> {
        let Some(t) = &self.trace else {
            return Vec::new();
        };
        let text = fs::read_to_string(t).unwrap_or_default();
        // Only whole lines: strace may be in the middle of writing one.
        let whole = text.rfind('\n').map_or("", |i| &text[..i]);
        whole
            .lines()
            .filter(|l| l.contains(" = "))
            .filter(|l| l.starts_with(|c: char| c.is_ascii_lowercase()))
            .map(str::to_string)
            .collect()
    }

    /// Waits until a traced call starts with `prefix` and returns it.
    fn wait_call(&self, prefix: &str, what: &str) -> String {
        let mut found = None;
        let r = wait_until(what, SHORT, || {
            found = self.calls().into_iter().find(|c| c.starts_with(prefix));
            found.is_some()
        });
        if let Err(e) = r {
            panic!("{e}; calls: {:#?}; stderr: {}", self.calls(), self.stderr());
        }
        found.expect("found")
    }

    fn wait_stdout(&self, want: &[u8]) -> bool {
        wait_until("stdout", SHORT, || {
            let out = self.stdout();
            out.windows(want.len()).any(|w| w == want)
        })
        .is_ok()
    }

    fn wait_stderr(&self, want: &str) -> bool {
        wait_until("stderr", SHORT, || self.stderr().contains(want)).is_ok()
    }

    /// Waits for the exit (at most `limit`); `None` if it still runs.
    fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let st = self.run.wait_for(limit);
        if st.is_some() {
            // Everything is written: let the readers reach the pipes'
            // ends (bounded, in case something else holds them open).
            self.run.drain(SHORT);
        }
        st
    }

    fn running(&mut self) -> bool {
        self.wait_exit(Duration::ZERO).is_none()
    }

    /// Kills the process group.
    fn stop(&mut self) {
        self.run.kill();
    }
}

/// The descriptor of a traced call: `bind(5, …` -> `5`.
fn fd_of(call: &str) -> String {
    call.split_once('(')
        .and_then(|(_, r)| r.split_once(','))
        .map(|(fd, _)| fd.to_string())
        .unwrap_or_default()
}

/// The first `{…}` of a traced call (the address).
fn sockaddr_of(call: &str) -> String {
    match (call.find('{'), call.find('}')) {
        (Some(a), Some(b)) if b > a => call[a..=b].to_string(),
        _ => String::new(),
    }
}

// ------------------------------------------------- listeners: options, bind

/// What a listener did before it was ready: the options set on the
/// descriptor it bound, and the address it bound (port masked).
fn listener_facts(calls: &[String], port: u16) -> (Vec<String>, String) {
    let bind = calls
        .iter()
        .find(|c| c.starts_with("bind("))
        .cloned()
        .unwrap_or_default();
    let fd = fd_of(&bind);
    let opts = calls
        .iter()
        .take_while(|c| !c.starts_with("bind("))
        .filter(|c| c.starts_with(&format!("setsockopt({fd}, SOL_SOCKET,")))
        .filter_map(|c| c.split(", ").nth(2).map(str::to_string))
        .collect();
    let addr = sockaddr_of(&bind).replace(&format!("htons({port})"), "htons(PORT)");
    let ok = if bind.ends_with("= 0") {
        "ok"
    } else {
        "FAILED"
    };
    (opts, format!("{addr} {ok}"))
}

#[test]
fn listeners_set_reuse_options_and_bind_nc_s_address() {
    let test = "listeners_set_reuse_options_and_bind_nc_s_address";
    let Some(st) = strace_or_skip(test) else {
        return;
    };
    let dir = TempDir::new("suites-bind").expect("temp dir");
    let v4 = |a: &str| {
        format!("{{sa_family=AF_INET, sin_port=htons(PORT), sin_addr=inet_addr(\"{a}\")}} ok")
    };
    let v6 = |a: &str| {
        format!(
            "{{sa_family=AF_INET6, sin6_port=htons(PORT), sin6_flowinfo=htonl(0), inet_pton(AF_INET6, \"{a}\", &sin6_addr), sin6_scope_id=0}} ok"
        )
    };
    // (arguments before the port, how the port is given, expected bind)
    let mut cases: Vec<(Vec<&str>, String)> = vec![
        (vec!["-l"], v4("0.0.0.0")),
        (vec!["-4", "-l"], v4("0.0.0.0")),
        (vec!["-l", "127.0.0.1"], v4("127.0.0.1")),
        (vec!["-l", "-p"], v4("0.0.0.0")),
        (vec!["-l", "-s", "127.0.0.1", "-p"], v4("127.0.0.1")),
        (vec!["-u", "-l", "127.0.0.1"], v4("127.0.0.1")),
    ];
    if ipv6() {
        cases.push((vec!["-6", "-l"], v6("::")));
        cases.push((vec!["-l", "::1"], v6("::1")));
    }
    for tool in tools(test) {
        for (args, want) in &cases {
            let port = free_tcp_port();
            let ps = port.to_string();
            let mut argv = args.clone();
            argv.push(&ps);
            let mut r = Run::start(&tool, Some(&st), dir.path(), &argv);
            r.wait_call("bind(", &format!("{} {argv:?} to bind", tool.name));
            let (opts, addr) = listener_facts(&r.calls(), port);
            r.stop();
            assert_eq!(&addr, want, "{} {argv:?}: bind address", tool.name);
            assert!(
                opts.iter().any(|o| o == "SO_REUSEADDR")
                    && opts.iter().any(|o| o == "SO_REUSEPORT"),
                "{} {argv:?}: SO_REUSEADDR and SO_REUSEPORT before bind, got {opts:?}",
                tool.name
            );
        }
    }
}

// ---------------------------------------------------- shutdown only with -N

/// TCP: `printf 'foo\n' | X [-N] 127.0.0.1 P` against a test peer that
/// reads, waits up to 1 s for a FIN, then closes. Returns (the peer saw a
/// FIN, the trace has `shutdown(…, SHUT_WR) = 0`).
fn tcp_eof(tool: &Tool, st: &Path, dir: &Path, dash_n: bool) -> (bool, bool) {
    let l = TcpListener::bind("127.0.0.1:0").expect("listen");
    let ps = l.local_addr().expect("addr").port().to_string();
    let peer = thread::spawn(move || {
        let (mut s, _) = l.accept().expect("accept");
        s.set_read_timeout(Some(Duration::from_secs(1)))
            .expect("timeout");
        let mut got = Vec::new();
        let mut buf = [0u8; 64];
        let mut fin = false;
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(2) {
            match s.read(&mut buf) {
                Ok(0) => {
                    fin = true;
                    break;
                }
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(_) if got.ends_with(b"foo\n") => break,
                Err(_) => {}
            }
        }
        (fin, got)
    });
    let mut args = vec!["127.0.0.1", &ps];
    if dash_n {
        args.insert(0, "-N");
    }
    let mut r = Run::start(tool, Some(st), dir, &args);
    r.write(b"foo\n");
    r.close_stdin();
    let (fin, got) = peer.join().expect("peer");
    assert_eq!(got, b"foo\n", "{} {args:?}: what the peer read", tool.name);
    // The peer has closed: the client has its FIN and stdin's end.
    let st = r.wait_exit(SHORT);
    assert!(
        st.is_some(),
        "{} {args:?} did not exit after the peer's FIN",
        tool.name
    );
    let shut = r
        .calls()
        .iter()
        .any(|c| c.starts_with("shutdown(") && c.contains("SHUT_WR") && c.ends_with("= 0"));
    (fin, shut)
}

#[test]
fn shutdown_on_stdin_eof_only_with_dash_n() {
    let test = "shutdown_on_stdin_eof_only_with_dash_n";
    let Some(st) = strace_or_skip(test) else {
        return;
    };
    let dir = TempDir::new("suites-shut").expect("temp dir");
    for tool in tools(test) {
        assert_eq!(
            tcp_eof(&tool, &st, dir.path(), false),
            (false, false),
            "{}: without -N no FIN and no shutdown(SHUT_WR)",
            tool.name
        );
        assert_eq!(
            tcp_eof(&tool, &st, dir.path(), true),
            (true, true),
            "{}: with -N a FIN through shutdown(SHUT_WR)",
            tool.name
        );
        // UDP: shutdown(SHUT_WR) at stdin EOF with -N only; the client
        // does not exit by itself either way.
        for dash_n in [false, true] {
            let peer = UdpSocket::bind("127.0.0.1:0").expect("udp");
            peer.set_read_timeout(Some(SHORT)).expect("timeout");
            let ps = peer.local_addr().expect("addr").port().to_string();
            let mut args = vec!["-u", "127.0.0.1", &ps];
            if dash_n {
                args.insert(0, "-N");
            }
            let mut r = Run::start(&tool, Some(&st), dir.path(), &args);
            r.write(b"foo\n");
            let mut buf = [0u8; 64];
            let n = peer.recv(&mut buf).expect("the datagram");
            assert_eq!(&buf[..n], b"foo\n", "{} {args:?}", tool.name);
            r.close_stdin();
            if dash_n {
                let c = r.wait_call("shutdown(", &format!("{} {args:?}: shutdown", tool.name));
                assert!(c.contains("SHUT_WR") && c.ends_with("= 0"), "{c}");
            } else {
                thread::sleep(Duration::from_millis(400));
                let calls = r.calls();
                assert!(
                    !calls.iter().any(|c| c.starts_with("shutdown(")),
                    "{} {args:?}: no shutdown without -N: {calls:#?}",
                    tool.name
                );
            }
            assert!(
                r.running(),
                "{} {args:?}: a UDP client waits for datagrams",
                tool.name
            );
        }
    }
}

// ------------------------------------------------------------ UNIX sockets

#[test]
fn unix_listener_removes_a_stale_file_before_bind() {
    let test = "unix_listener_removes_a_stale_file_before_bind";
    let Some(st) = strace_or_skip(test) else {
        return;
    };
    let dir = TempDir::new("suites-stale").expect("temp dir");
    for tool in tools(test) {
        for (i, flags) in [["-l", "-U"], ["-l", "-Us"]].iter().enumerate() {
            let path = dir.join(&format!("{}-{i}.sock", tool.name));
            let ptext = path.to_str().expect("utf-8").to_string();
            // A stale regular file where the socket goes.
            File::create(&path).expect("stale file");
            let mut args: Vec<&str> = flags.to_vec();
            args.push(&ptext);
            let mut r = Run::start(&tool, Some(&st), dir.path(), &args);
            let bind = r.wait_call("bind(", &format!("{} {args:?}: bind", tool.name));
            // The length: sun_family, the path and its NUL.
            let want = format!(
                "bind({}, {{sa_family=AF_UNIX, sun_path=\"{ptext}\"}}, {})",
                fd_of(&bind),
                ptext.len() + 3
            );
            assert!(
                bind.starts_with(&want) && bind.ends_with("= 0"),
                "{} {args:?}: {bind}",
                tool.name
            );
            let calls = r.calls();
            let unlink = calls
                .iter()
                .position(|c| c.starts_with("unlink") && c.contains(&format!("\"{ptext}\"")));
            let bind_at = calls.iter().position(|c| c.starts_with("bind("));
            assert!(
                unlink.is_some() && unlink < bind_at,
                "{} {args:?}: the stale file is removed before bind: {calls:#?}",
                tool.name
            );
            let meta = fs::metadata(&path).expect("the socket file");
            assert!(
                meta.file_type().is_socket(),
                "{} {args:?}: a socket now",
                tool.name
            );
            // And it is live: a client connects and its line arrives. Bound is
            // not yet listening; a connect between the two is refused.
            r.wait_call("listen(", &format!("{} {args:?}: listen", tool.name));
            let mut c = UnixStream::connect(&path).expect("connect to the listener");
            c.write_all(b"hi\n").expect("write");
            drop(c);
            assert!(
                r.wait_stdout(b"hi\n"),
                "{} {args:?}: data through the socket",
                tool.name
            );
            assert!(
                r.wait_exit(SHORT).is_some(),
                "{} {args:?}: exit after the client",
                tool.name
            );
        }
        // An abstract name touches no file, even one named like it.
        let name = format!("rnc-suites-{}", rnet_testkit::unique_suffix());
        let lookalike = dir.join(&format!("@{name}"));
        File::create(&lookalike).expect("file named like the abstract socket");
        let before = fs::metadata(&lookalike).expect("meta").ino();
        let arg = format!("@{name}");
        let mut r = Run::start(&tool, Some(&st), dir.path(), &["-l", "-U", &arg]);
        let bind = r.wait_call("bind(", "bind of the abstract name");
        r.stop();
        assert!(
            bind.contains(&format!("sun_path=@\"{name}\"")) && bind.ends_with("= 0"),
            "{}: {bind}",
            tool.name
        );
        assert!(
            !r.calls().iter().any(|c| c.starts_with("unlink")),
            "{}: no unlink for an abstract name: {:#?}",
            tool.name,
            r.calls()
        );
        let after = fs::metadata(&lookalike).expect("the look-alike file is still there");
        assert!(
            after.is_file() && after.ino() == before,
            "{}: file untouched",
            tool.name
        );
    }
}

/// Normalized stderr: the program name as `PROG`.
fn prog_normalized(text: &str, tool: &Tool) -> String {
    text.replace(&format!("{}:", tool.name), "PROG:")
}

#[test]
fn unix_path_too_long_is_worded_as_nc() {
    let test = "unix_path_too_long_is_worded_as_nc";
    let dir = TempDir::new("suites-long").expect("temp dir");
    // 108 bytes: one more than sun_path leaves for a path and its NUL.
    let long = format!("-{}", "p".repeat(107));
    let abstract_long = format!("@{}", "a".repeat(108));
    let mut seen: Vec<Vec<(String, Option<i32>)>> = Vec::new();
    for tool in tools(test) {
        let mut results = Vec::new();
        for args in [
            vec!["-U", "--", long.as_str()],
            vec!["-lU", "--", long.as_str()],
            vec!["-lU", abstract_long.as_str()],
            vec!["-uU", "--", long.as_str()],
        ] {
            let mut r = Run::start(&tool, None, dir.path(), &args);
            r.close_stdin();
            let st = r.wait_exit(SHORT).expect("exits");
            results.push((prog_normalized(&r.stderr(), &tool), st.code()));
        }
        assert_eq!(
            results[0],
            (format!("PROG: {long}: File name too long\n"), Some(1)),
            "{}: client",
            tool.name
        );
        assert_eq!(
            results[1],
            ("PROG: File name too long\n".to_string(), Some(1)),
            "{}: listener",
            tool.name
        );
        assert_eq!(results[2], results[1], "{}: abstract listener", tool.name);
        seen.push(results);
    }
    if seen.len() == 2 {
        assert_eq!(seen[0], seen[1], "rnc and nc.openbsd");
    }
}

/// `/tmp/nc-XXXXXX/recv.sock` (six letters or digits).
fn is_nc_reply_path(p: &str) -> bool {
    p.strip_prefix("/tmp/nc-")
        .and_then(|r| r.strip_suffix("/recv.sock"))
        .is_some_and(|x| x.len() == 6 && x.chars().all(|c| c.is_ascii_alphanumeric()))
}

#[test]
fn unix_datagram_client_binds_its_reply_address() {
    let test = "unix_datagram_client_binds_its_reply_address";
    let st = strace_or_skip(test);
    let dir = TempDir::new("suites-dgram").expect("temp dir");
    for tool in tools(test) {
        for with_s in [false, true] {
            let srv_path = dir.join(&format!("{}-{with_s}-srv.sock", tool.name));
            let server = UnixDatagram::bind(&srv_path).expect("server socket");
            server.set_read_timeout(Some(SHORT)).expect("timeout");
            let srv = srv_path.to_str().expect("utf-8").to_string();
            let own = dir.join(&format!("{}-{with_s}-own.sock", tool.name));
            let own_text = own.to_str().expect("utf-8").to_string();
            // -q 0: end at stdin EOF (a datagram client never ends by itself).
            let mut args = vec!["-q", "0", "-U", "-u"];
            if with_s {
                File::create(&own).expect("stale file at the -s path");
                args.extend(["-s", own_text.as_str()]);
            }
            args.push(&srv);
            let mut r = Run::start(&tool, st.as_deref(), dir.path(), &args);
            r.write(b"ping\n");
            let mut buf = [0u8; 64];
            let (n, from) = server.recv_from(&mut buf).expect("the client's datagram");
            assert_eq!(&buf[..n], b"ping\n");
            let from = from
                .as_pathname()
                .and_then(Path::to_str)
                .unwrap_or_else(|| {
                    panic!(
                        "{} {args:?}: an unnamed sender: no reply possible",
                        tool.name
                    )
                })
                .to_string();
            if with_s {
                assert_eq!(
                    from, own_text,
                    "{} {args:?}: the reply address is -s",
                    tool.name
                );
            } else {
                assert!(
                    is_nc_reply_path(&from),
                    "{} {args:?}: reply address {from}",
                    tool.name
                );
            }
            server
                .send_to(b"pong\n", &from)
                .expect("reply to the client");
            assert!(
                r.wait_stdout(b"pong\n"),
                "{} {args:?}: the reply arrives",
                tool.name
            );
            r.close_stdin();
            let status = r.wait_exit(SHORT).expect("-q 0 ends at stdin EOF");
            assert!(
                status.success(),
                "{} {args:?}: {status:?} {}",
                tool.name,
                r.stderr()
            );
            if with_s {
                assert!(
                    fs::metadata(&own).is_ok_and(|m| m.file_type().is_socket()),
                    "{} {args:?}: the -s socket stays, as nc leaves it",
                    tool.name
                );
            } else {
                let d = Path::new(&from).parent().expect("dir");
                assert!(
                    !d.exists(),
                    "{} {args:?}: {} removed at exit",
                    tool.name,
                    d.display()
                );
            }
            if st.is_some() {
                let calls = r.calls();
                let bind = calls.iter().position(|c| {
                    c.starts_with("bind(")
                        && c.contains(&format!("sun_path=\"{from}\""))
                        && c.ends_with("= 0")
                });
                let conn = calls.iter().position(|c| {
                    c.starts_with("connect(")
                        && c.contains(&format!("sun_path=\"{srv}\""))
                        && c.ends_with("= 0")
                });
                assert!(
                    bind.is_some() && bind < conn,
                    "{} {args:?}: bind of the reply address, then connect: {calls:#?}",
                    tool.name
                );
            }
            let _ = fs::remove_file(&srv_path);
        }
    }
}

// ------------------------------------------------- UDP listener and -k

/// A test client: a UDP socket on 127.0.0.1 connected to `port` (so ICMP
/// errors reach it).
fn udp_client(port: u16) -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    s.connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_millis(1500)))
        .expect("timeout");
    s
}

/// What a UDP listener did with two senders: (second sender refused,
/// data of both on stdout, the listener connected its socket to the
/// first sender, it connected at all).
fn udp_two_senders(tool: &Tool, st: &Path, dir: &Path, keep: bool) -> (bool, bool, bool, bool) {
    let port = free_udp_port();
    let ps = port.to_string();
    let mut args = vec!["-u", "-l", "127.0.0.1", &ps];
    if keep {
        args.insert(0, "-k");
    }
    let mut r = Run::start(tool, Some(st), dir, &args);
    r.wait_call("bind(", "the UDP listener's bind");
    let a = udp_client(port);
    a.send(b"from-a\n").expect("send a");
    assert!(
        r.wait_stdout(b"from-a\n"),
        "{} {args:?}: first datagram",
        tool.name
    );
    let b = udp_client(port);
    b.send(b"from-b\n").expect("send b");
    let mut buf = [0u8; 16];
    let refused =
        matches!(b.recv(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused);
    thread::sleep(Duration::from_millis(300));
    let both = r.stdout().windows(7).any(|w| w == b"from-b\n");
    // The first sender keeps talking, and hears the listener's stdin when
    // the socket is connected to it (with -k there is no one to send to).
    a.send(b"again-a\n").expect("send a again");
    let a_again = r.wait_stdout(b"again-a\n");
    r.write(b"reply\n");
    let mut rbuf = [0u8; 16];
    let a_reply = matches!(a.recv(&mut rbuf), Ok(n) if &rbuf[..n] == b"reply\n");
    assert!(a_again, "{} {args:?}: the first sender again", tool.name);
    assert_eq!(
        a_reply, !keep,
        "{} {args:?}: a reply to the first sender",
        tool.name
    );
    let calls = r.calls();
    r.stop();
    let a_port = format!("htons({})", a.local_addr().expect("addr").port());
    let bind = calls
        .iter()
        .find(|c| c.starts_with("bind("))
        .cloned()
        .unwrap_or_default();
    let lfd = fd_of(&bind);
    let peeked = calls.iter().position(|c| {
        c.starts_with(&format!("recvfrom({lfd},")) && c.contains("MSG_PEEK") && c.contains(&a_port)
    });
    let connect = calls
        .iter()
        .position(|c| c.starts_with(&format!("connect({lfd},")));
    let connected_to_a = peeked.is_some()
        && connect > peeked
        && connect.is_some_and(|i| calls[i].contains(&a_port) && calls[i].ends_with("= 0"));
    (refused, both, connected_to_a, connect.is_some())
}

#[test]
fn udp_listener_locks_onto_first_sender_unless_k() {
    let test = "udp_listener_locks_onto_first_sender_unless_k";
    let Some(st) = strace_or_skip(test) else {
        return;
    };
    let dir = TempDir::new("suites-udpk").expect("temp dir");
    for tool in tools(test) {
        assert_eq!(
            udp_two_senders(&tool, &st, dir.path(), false),
            (true, false, true, true),
            "{}: without -k: peek, connect to the first sender, refuse the second",
            tool.name
        );
        assert_eq!(
            udp_two_senders(&tool, &st, dir.path(), true),
            (false, true, false, false),
            "{}: with -k: never connected, both senders heard",
            tool.name
        );
    }
}

/// `-u -v` towards a listener locked onto another sender: the probes draw
/// ICMP refusals, nothing is reported as succeeded, status 1 (Debian's
/// 04-kflag-udp asks the same of nc).
#[test]
fn udp_verbose_client_sees_a_locked_listener_refuse() {
    let test = "udp_verbose_client_sees_a_locked_listener_refuse";
    let dir = TempDir::new("suites-udpv").expect("temp dir");
    for tool in tools(test) {
        let port = free_udp_port();
        let ps = port.to_string();
        let l = Run::start(
            &tool,
            None,
            dir.path(),
            &["-n", "-v", "-u", "-l", "127.0.0.1", &ps],
        );
        assert!(
            l.wait_stderr("Bound on 127.0.0.1 "),
            "{}: {}",
            tool.name,
            l.stderr()
        );
        let a = udp_client(port);
        a.send(b"first\n").expect("send");
        assert!(l.wait_stdout(b"first\n"), "{}: first sender", tool.name);
        // stdin stays open and empty: the probe alone decides.
        let mut c = Run::start(&tool, None, dir.path(), &["-u", "-v", "127.0.0.1", &ps]);
        let st = c.wait_exit(SHORT).expect("the probing client gives up");
        assert_eq!(st.code(), Some(1), "{}: {}", tool.name, c.stderr());
        assert!(
            !c.stderr().contains("succeeded"),
            "{}: {}",
            tool.name,
            c.stderr()
        );
        assert!(
            !l.stdout().windows(7).any(|w| w == b"second\n"),
            "{}",
            tool.name
        );
    }
}

#[test]
fn udp_listener_says_bound_on() {
    let test = "udp_listener_says_bound_on";
    let dir = TempDir::new("suites-bound").expect("temp dir");
    let mut seen = Vec::new();
    for tool in tools(test) {
        let port = free_udp_port();
        let ps = port.to_string();
        let mut l = Run::start(
            &tool,
            None,
            dir.path(),
            &["-n", "-v", "-u", "-l", "127.0.0.1", &ps],
        );
        let want = format!("Bound on 127.0.0.1 {port}\n");
        assert!(l.wait_stderr(&want), "{}: {:?}", tool.name, l.stderr());
        let a = udp_client(port);
        let ap = a.local_addr().expect("addr").port();
        a.send(b"x\n").expect("send");
        let rec = format!("Connection received on 127.0.0.1 {ap}\n");
        assert!(l.wait_stderr(&rec), "{}: {:?}", tool.name, l.stderr());
        l.stop();
        // UNIX datagram listener: bound, and the path on connection.
        let path = dir.join(&format!("{}-bound.sock", tool.name));
        let ptext = path.to_str().expect("utf-8").to_string();
        let mut u = Run::start(&tool, None, dir.path(), &["-v", "-U", "-u", "-l", &ptext]);
        assert!(
            u.wait_stderr(&format!("Bound on {ptext}\n")),
            "{}: {:?}",
            tool.name,
            u.stderr()
        );
        let own = dir.join(&format!("{}-bound-client.sock", tool.name));
        let c = UnixDatagram::bind(&own).expect("bound client");
        c.send_to(b"y\n", &path).expect("send");
        assert!(
            u.wait_stderr(&format!("Connection received on {ptext}\n")),
            "{}",
            tool.name
        );
        let err = u.stderr();
        u.stop();
        seen.push(err.replace(&ptext, "PATH"));
    }
    if seen.len() == 2 {
        assert_eq!(
            seen[0], seen[1],
            "rnc and nc.openbsd: UNIX datagram listener lines"
        );
    }
}

// ------------------------------------------------------------------- -q

/// `-u -q N`: stdin EOF shuts the socket down for writing and ends the
/// run N seconds later (there is no FIN to wait for).
#[test]
fn udp_quit_timer_ends_after_stdin_eof() {
    let test = "udp_quit_timer_ends_after_stdin_eof";
    let Some(st) = strace_or_skip(test) else {
        return;
    };
    let dir = TempDir::new("suites-udpq").expect("temp dir");
    for tool in tools(test) {
        for q in [0u64, 1] {
            let peer = UdpSocket::bind("127.0.0.1:0").expect("udp");
            peer.set_read_timeout(Some(SHORT)).expect("timeout");
            let ps = peer.local_addr().expect("addr").port().to_string();
            let qs = q.to_string();
            let args = ["-u", "-q", &qs, "127.0.0.1", &ps];
            let mut r = Run::start(&tool, Some(&st), dir.path(), &args);
            r.write(b"x\n");
            let mut buf = [0u8; 16];
            peer.recv_from(&mut buf).expect("datagram");
            r.close_stdin();
            let eof = Instant::now();
            let c = r.wait_call(
                "shutdown(",
                &format!("{} {args:?}: shutdown at EOF", tool.name),
            );
            assert!(
                c.contains("SHUT_WR") && c.ends_with("= 0"),
                "{}: {c}",
                tool.name
            );
            let status = r.wait_exit(SHORT).expect("exits");
            let took = eof.elapsed().as_secs_f64();
            assert!(status.success(), "{} {args:?}: {status:?}", tool.name);
            assert!(
                took >= q as f64 - 0.1 && took < q as f64 + 1.5,
                "{} {args:?}: exit {took:.2} s after EOF",
                tool.name
            );
        }
    }
    // rnc reads what still arrives in those N seconds (nc stops reading
    // at stdin EOF: docs/compat.md).
    let peer = UdpSocket::bind("127.0.0.1:0").expect("udp");
    peer.set_read_timeout(Some(SHORT)).expect("timeout");
    let ps = peer.local_addr().expect("addr").port().to_string();
    let mut r = Run::start(
        &rnc(),
        None,
        dir.path(),
        &["-u", "-q", "2", "127.0.0.1", &ps],
    );
    r.write(b"x\n");
    let mut buf = [0u8; 16];
    let (_, from) = peer.recv_from(&mut buf).expect("datagram");
    r.close_stdin();
    thread::sleep(Duration::from_millis(300));
    peer.send_to(b"late\n", from).expect("late reply");
    assert!(
        r.wait_exit(SHORT).is_some_and(|s| s.success()),
        "rnc -u -q 2 exits 0"
    );
    assert_eq!(
        r.stdout(),
        b"late\n",
        "rnc -u -q 2: the late reply is delivered"
    );
}
