//! rnc, the binary, with consumers slower than producers, over loopback:
//! a stdout pipe nobody reads for a while and a stdin pipe whose writer
//! closes while rnc's buffer is full, in the modes that live above the
//! relay (`-q N`, `-k`). The relay itself is driven deterministically by
//! the unit tests in rnc/src/relay.rs; the namespace tests with a shaped
//! link are in tests/rnc_faults.rs.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use rnet_testkit::pattern;
use rnet_testkit::process::Background;
use rnet_testkit::signals::{self, Signal};

fn rnc() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rnc"));
    c.env_remove("RNC_EXPLAIN")
        .env_remove("RNET_EXPLAIN")
        .env("LC_ALL", "C");
    c
}

/// Waits for the child with a deadline; returns its exit code.
fn wait(child: &mut Background, limit: Duration) -> Option<i32> {
    child.wait_for(limit).and_then(|st| st.code())
}

/// Reads all of `r` after sleeping `stall` (a slow consumer).
fn slow_read_all<R: Read + Send + 'static>(r: R, stall: Duration) -> thread::JoinHandle<Vec<u8>> {
    slow_read_counted(r, stall, Arc::new(AtomicUsize::new(0)))
}

fn counted(n: &AtomicUsize) -> usize {
    n.load(Ordering::SeqCst)
}

/// `slow_read_all`, publishing the byte count read so far in `len`.
fn slow_read_counted<R: Read + Send + 'static>(
    mut r: R,
    stall: Duration,
    len: Arc<AtomicUsize>,
) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        thread::sleep(stall);
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match r.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(k) => {
                    out.extend_from_slice(&buf[..k]);
                    len.store(out.len(), Ordering::SeqCst);
                    // Keep reading slowly: small reads, a pause each 64 KiB.
                    if out.len() % (64 * 1024) < 4096 {
                        thread::sleep(Duration::from_millis(5));
                    }
                }
            }
        }
        out
    })
}

/// `-q 1`: stdin ends while the server is not reading (rnc's buffer full,
/// the pipe still holding data); the server sends 2 MiB into a stalled
/// stdout, then its FIN. Everything arrives both ways, status 0.
#[test]
fn quit_after_eof_keeps_every_byte_both_ways() {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    let up = pattern(3 * 1024 * 1024, 1);
    let down = pattern(2 * 1024 * 1024, 2);
    let sent = down.clone();
    let server = thread::spawn(move || {
        let (s, _) = l.accept().expect("accept");
        let mut w = s.try_clone().expect("clone");
        let writer = thread::spawn(move || {
            w.write_all(&sent).expect("server write");
            w.shutdown(Shutdown::Write).expect("server FIN");
        });
        // Do not read for a while: rnc's send path fills up.
        thread::sleep(Duration::from_millis(400));
        let mut got = Vec::new();
        let mut r = s;
        r.read_to_end(&mut got).expect("server read");
        writer.join().expect("server writer");
        got
    });
    let mut child = Background::start(
        rnc()
            .args(["-q", "1", "127.0.0.1", &port.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
        "rnc",
    )
    .expect("spawn rnc");
    let mut stdin = child.child_mut().stdin.take().expect("stdin");
    let feed = up.clone();
    let feeder = thread::spawn(move || {
        stdin.write_all(&feed).expect("feed rnc");
    });
    let out = slow_read_all(
        child.child_mut().stdout.take().expect("stdout"),
        Duration::from_millis(400),
    );
    feeder.join().expect("feeder");
    let code = wait(&mut child, Duration::from_secs(30));
    let got = server.join().expect("server");
    let out = out.join().expect("reader");
    let mut err = String::new();
    let _ = child
        .child_mut()
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err);
    assert_eq!(code, Some(0), "stderr: {err}");
    assert!(got == up, "server got {} of {} bytes", got.len(), up.len());
    assert!(
        out == down,
        "stdout got {} of {} bytes",
        out.len(),
        down.len()
    );
}

/// `-k`: a listener serves clients in turn into a stdout pipe that is
/// read slowly; every client's bytes arrive, in order. With `-N` and no
/// input rnc sends its FIN at once, so each client's FIN leaves the socket
/// hung up (both directions shut) while its data is still queued.
#[test]
fn keep_listening_delivers_every_client_into_a_slow_pipe() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let mut child = Background::start(
        rnc()
            .args(["-lkN", "127.0.0.1", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
        "rnc",
    )
    .expect("spawn rnc");
    let out_len = Arc::new(AtomicUsize::new(0));
    let out = slow_read_counted(
        child.child_mut().stdout.take().expect("stdout"),
        Duration::from_millis(300),
        Arc::clone(&out_len),
    );
    let payloads: Vec<Vec<u8>> = (0..4).map(|i| pattern(700 * 1024, 10 + i)).collect();
    for p in &payloads {
        let t = Instant::now();
        let mut s = loop {
            match TcpStream::connect(("127.0.0.1", port)) {
                Ok(s) => break s,
                Err(e) if t.elapsed() < Duration::from_secs(5) => {
                    let _ = e;
                    thread::sleep(Duration::from_millis(20));
                }
                Err(e) => panic!("connect: {e}"),
            }
        };
        s.write_all(p).expect("client write");
        s.shutdown(Shutdown::Write).expect("client FIN");
        // rnc closes its side once it has read our FIN: then the next
        // client may come (rnc serves one at a time).
        let mut rest = Vec::new();
        s.set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        s.read_to_end(&mut rest).expect("client read");
    }
    // The last client is done when rnc has read its FIN, which can be
    // before its bytes reach the slow pipe: give the reader time to see
    // them all (it stops at end of file, when rnc is killed).
    let want = payloads.concat();
    let t = Instant::now();
    while !out.is_finished() && t.elapsed() < Duration::from_secs(20) {
        if child.child_mut().try_wait().ok().flatten().is_some() {
            break;
        }
        thread::sleep(Duration::from_millis(20));
        if counted(&out_len) >= want.len() {
            break;
        }
    }
    let _ = child.stop();
    let out = out.join().expect("reader");
    assert!(
        out == want,
        "stdout got {} of {} bytes",
        out.len(),
        want.len()
    );
}

/// SIGTERM while rnc is blocked on a stdout nobody reads, and while it
/// lingers after `-q 5`: it dies of the signal (status 143 in a shell), as
/// nc does, instead of waiting for the reader or the timer; with a stalled
/// stdout after at most half a second spent offering what it had read.
#[test]
fn sigterm_ends_a_stalled_write_and_the_quit_timer_at_once() {
    use std::os::unix::process::ExitStatusExt;
    for (args, stalled_stdout) in [(vec!["-q", "5"], false), (vec![], true)] {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port();
        let server = thread::spawn(move || {
            let (mut s, _) = l.accept().expect("accept");
            if stalled_stdout {
                // Plenty to fill a pipe nobody reads; hold the connection.
                let _ = s.write_all(&pattern(4 * 1024 * 1024, 3));
                thread::sleep(Duration::from_secs(3));
            }
            // Otherwise close at once: rnc's relay ends (stdin and the
            // network both at their end) and the -q timer runs.
        });
        let mut cmd = rnc();
        cmd.args(&args)
            .args(["127.0.0.1", &port.to_string()])
            .stdin(Stdio::null())
            .stderr(Stdio::null());
        // The test holds the read end of stdout and never reads it.
        cmd.stdout(if stalled_stdout {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        let mut child = Background::start(&mut cmd, "rnc").expect("spawn rnc");
        thread::sleep(Duration::from_millis(700));
        assert!(
            child.child_mut().try_wait().expect("try_wait").is_none(),
            "{args:?}: rnc ended before the signal"
        );
        let sent = Instant::now();
        signals::send(child.id(), Signal::Term).expect("kill -TERM");
        let t = Instant::now();
        let status = loop {
            if let Some(st) = child.child_mut().try_wait().expect("try_wait") {
                break Some(st);
            }
            if t.elapsed() > Duration::from_secs(2) {
                break None;
            }
            thread::sleep(Duration::from_millis(10));
        };
        let status =
            status.unwrap_or_else(|| panic!("{args:?}: rnc still running 2 s after SIGTERM"));
        assert_eq!(status.signal(), Some(15), "{args:?}: {status:?}");
        assert!(
            sent.elapsed() < Duration::from_millis(1500),
            "{args:?}: {:?}",
            sent.elapsed()
        );
        let _ = server.join();
    }
}

/// Writing stdout fails with ENOSPC (`> /dev/full`): one line naming the
/// error and status 1 (nc drops the data silently with status 0, see
/// docs/compat.md); a reader that leaves is still a quiet end.
#[test]
fn a_failed_stdout_write_is_one_line_and_status_1() {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    let server = thread::spawn(move || {
        let (mut s, _) = l.accept().expect("accept");
        let _ = s.write_all(b"bytes that cannot be stored\n");
        thread::sleep(Duration::from_millis(500));
    });
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let mut child = Background::start(
        rnc()
            .args(["127.0.0.1", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(full)
            .stderr(Stdio::piped()),
        "rnc",
    )
    .expect("spawn rnc");
    let code = wait(&mut child, Duration::from_secs(10));
    let mut err = String::new();
    let _ = child
        .child_mut()
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err);
    let _ = server.join();
    assert_eq!(code, Some(1), "stderr: {err}");
    assert_eq!(err, "rnc: write to stdout: No space left on device\n");
}

/// `-w 0` is a zero poll timeout, as in nc: with nothing to read the
/// client returns at once, status 0 (nc.openbsd does the same when it is
/// installed; the peer here never sends nor closes).
#[test]
fn wait_zero_returns_at_once() {
    let mut tools = vec![("rnc", rnc())];
    if std::path::Path::new("/usr/bin/nc.openbsd").exists() {
        tools.push(("nc.openbsd", Command::new("/usr/bin/nc.openbsd")));
    }
    for (name, mut cmd) in tools {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = l.local_addr().expect("addr").port();
        let server = thread::spawn(move || {
            let (s, _) = l.accept().expect("accept");
            thread::sleep(Duration::from_millis(1500));
            drop(s);
        });
        let t = Instant::now();
        let mut child = Background::start(
            cmd.args(["-w", "0", "127.0.0.1", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
            "rnc",
        )
        .expect("spawn");
        let code = wait(&mut child, Duration::from_secs(2));
        assert_eq!(code, Some(0), "{name} -w 0: still running or failed");
        assert!(
            t.elapsed() < Duration::from_secs(1),
            "{name}: {:?}",
            t.elapsed()
        );
        let _ = server.join();
    }
}
