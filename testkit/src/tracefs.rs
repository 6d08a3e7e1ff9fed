//! The kernel tracepoint `sock:inet_sock_set_state` read through a private
//! tracefs instance: every TCP state change of the sockets the filter
//! selects, with the kernel's own timestamp, as an independent record of a
//! connection's timeline (the tracepoint sees every namespace, so the
//! filter on the ports keeps other tests' sockets out).
//!
//! [`StateTrace::start`] mounts tracefs at `/sys/kernel/tracing` when it is
//! not mounted (and unmounts it again when the last trace of this process
//! ends, only if this process mounted it), makes
//! `instances/rnet-<pid>-<n>`, sets the event's `filter`, switches the
//! instance's clock to `mono`, enables the event and reads `trace_pipe`
//! without blocking in a thread of its own. A line written to the
//! instance's `trace_marker` right after the start ties the kernel's clock
//! to [`Instant`], so [`StateTrace::instant_of`] places each event on the
//! test's clock. Dropping the trace (also during a panic) stops the
//! reader, disables the event and removes the instance.

use std::fs::{self, OpenOptions};
use std::io::{self, Read};
use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::{process, unique_suffix, DEFAULT_PATH};
use rnet_core::tcp_state::TcpState;
use rnet_core::trace::EventKind;

/// Where tracefs is (or gets) mounted.
pub const TRACEFS: &str = "/sys/kernel/tracing";

/// The event's directory inside an instance.
const EVENT: &str = "events/sock/inet_sock_set_state";

/// One state change as the tracepoint reported it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateEvent {
    /// The kernel's timestamp (the instance's `mono` clock), microseconds.
    pub ts_us: u64,
    /// `AF_INET` or `AF_INET6`.
    pub family: String,
    /// Local address and port of the socket.
    pub src: SocketAddr,
    /// Remote address and port (port 0 for a listener).
    pub dst: SocketAddr,
    /// The state left, without the `TCP_` prefix (`SYN_SENT`).
    pub old: String,
    /// The state entered (`ESTABLISHED`).
    pub new: String,
}

/// A state change reduced to ports and states (what a test of one
/// connection needs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    /// Source port of the socket (its local port).
    pub sport: u16,
    /// Destination port (the peer's port).
    pub dport: u16,
    /// The state left, netstat's spelling (`ESTABLISHED`, `FIN_WAIT1`).
    pub old: String,
    /// The state entered.
    pub new: String,
}

impl StateEvent {
    /// `ESTABLISHED->FIN_WAIT1`.
    pub fn transition(&self) -> String {
        format!("{}->{}", self.old, self.new)
    }
}

/// Parses one `trace_pipe` line of `inet_sock_set_state` (through
/// `rnet_core::trace::parse_line`, the product's parser); `None` for any
/// other line.
pub fn parse_event(line: &str) -> Option<StateEvent> {
    let e = rnet_core::trace::parse_line(line)?;
    let EventKind::State { old, new } = e.kind else {
        return None;
    };
    Some(StateEvent {
        ts_us: e.ts_us,
        family: if e.v6 { "AF_INET6" } else { "AF_INET" }.to_string(),
        src: e.local,
        dst: e.remote,
        old: state_name(old),
        new: state_name(new),
    })
}

/// The kernel's name without `TCP_` (`NEW_SYN_RECV` for a request socket,
/// netstat's spelling otherwise).
fn state_name(s: TcpState) -> String {
    match s {
        TcpState::NewSynRecv => "NEW_SYN_RECV".to_string(),
        s => s.info().netstat.to_string(),
    }
}

/// The timestamp (`24729.967027:`, seconds) at the end of a trace line's
/// head, in microseconds.
fn parse_timestamp(head: &str) -> Option<u64> {
    rnet_core::trace::parse_timestamp(head.split_whitespace().last()?)
}

/// How many traces of this process are open, and whether this process
/// mounted tracefs (then the last one to end unmounts it).
static MOUNT: Mutex<(usize, bool)> = Mutex::new((0, false));

fn mounted() -> bool {
    Path::new(TRACEFS).join("instances").is_dir()
}

/// Takes a use of tracefs, mounting it if needed.
fn acquire_mount() -> Result<(), String> {
    let mut m = MOUNT.lock().unwrap_or_else(|e| e.into_inner());
    if !mounted() {
        let mut cmd = Command::new("mount");
        cmd.args(["-t", "tracefs", "nodev", TRACEFS])
            .env_clear()
            .env("LC_ALL", "C")
            .env("PATH", DEFAULT_PATH);
        let out = process::run(&mut cmd, Duration::from_secs(10))
            .map_err(|e| format!("cannot run mount: {e}"))?;
        out.check(&format!("mount -t tracefs nodev {TRACEFS}"))?;
        if !mounted() {
            return Err(format!(
                "{TRACEFS} has no instances/ after mounting tracefs"
            ));
        }
        m.1 = true;
    }
    m.0 += 1;
    Ok(())
}

/// Gives a use back; unmounts when it was ours and nobody here needs it.
/// A busy tracefs (another process reading it) stays mounted.
fn release_mount() {
    let mut m = MOUNT.lock().unwrap_or_else(|e| e.into_inner());
    m.0 = m.0.saturating_sub(1);
    if m.0 == 0 && m.1 {
        let mut cmd = Command::new("umount");
        cmd.arg(TRACEFS)
            .env_clear()
            .env("LC_ALL", "C")
            .env("PATH", DEFAULT_PATH);
        if process::run(&mut cmd, Duration::from_secs(10)).is_ok_and(|o| o.code() == Some(0)) {
            m.1 = false;
        }
    }
}

/// A private tracefs instance recording `sock:inet_sock_set_state`.
pub struct StateTrace {
    dir: PathBuf,
    events: Arc<Mutex<Vec<StateEvent>>>,
    /// The event lines as the kernel wrote them.
    lines: Arc<Mutex<String>>,
    /// (kernel µs, Instant) of the sync marker, once the reader saw it.
    sync: Arc<Mutex<Option<(u64, Instant)>>>,
    stop: Arc<AtomicBool>,
    reader: Option<JoinHandle<()>>,
    mount_taken: bool,
}

impl StateTrace {
    /// Starts tracing the events that `filter` (the event filter syntax,
    /// e.g. `sport == 5555 || dport == 5555`) selects; `tag` goes into the
    /// instance's name.
    pub fn start(tag: &str, filter: &str) -> Result<StateTrace, String> {
        let tag: String = tag
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .take(24)
            .collect();
        acquire_mount()?;
        let dir = Path::new(TRACEFS)
            .join("instances")
            .join(format!("rnet-{tag}-{}", unique_suffix()));
        // From here on Drop undoes whatever was done.
        let mut t = StateTrace {
            dir: dir.clone(),
            events: Arc::new(Mutex::new(Vec::new())),
            lines: Arc::new(Mutex::new(String::new())),
            sync: Arc::new(Mutex::new(None)),
            stop: Arc::new(AtomicBool::new(false)),
            reader: None,
            mount_taken: true,
        };
        fs::create_dir(&dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
        let write = |rel: &str, text: &str| -> Result<(), String> {
            let p = dir.join(rel);
            fs::write(&p, text).map_err(|e| format!("write `{text}' to {}: {e}", p.display()))
        };
        // Small buffers: a test's events are few.
        write("buffer_size_kb", "256")?;
        write("trace_clock", "mono")?;
        write(&format!("{EVENT}/filter"), filter)?;
        write(&format!("{EVENT}/enable"), "1")?;
        let pipe = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(dir.join("trace_pipe"))
            .map_err(|e| format!("open {}/trace_pipe: {e}", dir.display()))?;
        let marker = format!("rnet-sync-{}", unique_suffix());
        let (events, lines, sync, stop) = (
            Arc::clone(&t.events),
            Arc::clone(&t.lines),
            Arc::clone(&t.sync),
            Arc::clone(&t.stop),
        );
        let before = Instant::now();
        write("trace_marker", &marker)?;
        let after = Instant::now();
        let at = before + (after - before) / 2;
        t.reader = Some(thread::spawn(move || {
            read_pipe(pipe, &marker, at, &events, &lines, &sync, &stop)
        }));
        // The marker must come through before times can be placed.
        let deadline = Instant::now() + Duration::from_secs(5);
        while t.sync.lock().unwrap_or_else(|e| e.into_inner()).is_none() {
            if Instant::now() > deadline {
                return Err(format!(
                    "the sync marker never came out of {}/trace_pipe",
                    dir.display()
                ));
            }
            thread::sleep(Duration::from_millis(5));
        }
        Ok(t)
    }

    /// The events seen so far, in the order read.
    pub fn events(&self) -> Vec<StateEvent> {
        let mut v = self
            .events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        v.sort_by_key(|e| e.ts_us);
        v
    }

    /// The event lines read so far, as the kernel wrote them (every
    /// `inet_sock_set_state` line, also one [`parse_event`] rejects).
    pub fn text(&self) -> String {
        self.lines.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The state changes so far, in the kernel's order, as ports and
    /// states.
    pub fn transitions(&self) -> Vec<Transition> {
        self.events()
            .into_iter()
            .map(|e| Transition {
                sport: e.src.port(),
                dport: e.dst.port(),
                old: e.old,
                new: e.new,
            })
            .collect()
    }

    /// The event's time on the test's clock.
    pub fn instant_of(&self, ev: &StateEvent) -> Instant {
        let (k, at) = self
            .sync
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .expect("synced in start");
        if ev.ts_us >= k {
            at + Duration::from_micros(ev.ts_us - k)
        } else {
            at - Duration::from_micros(k - ev.ts_us)
        }
    }

    /// Waits up to `timeout` for an event that `pred` accepts.
    pub fn wait_for(
        &self,
        timeout: Duration,
        pred: impl Fn(&StateEvent) -> bool,
    ) -> Option<StateEvent> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(e) = self.events().into_iter().find(|e| pred(e)) {
                return Some(e);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
}

/// The reader thread: non-blocking reads of `trace_pipe` every few
/// milliseconds until `stop`, lines parsed as they complete.
fn read_pipe(
    mut pipe: fs::File,
    marker: &str,
    marker_at: Instant,
    events: &Mutex<Vec<StateEvent>>,
    lines: &Mutex<String>,
    sync: &Mutex<Option<(u64, Instant)>>,
    stop: &AtomicBool,
) {
    let mut pending = String::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let stopping = stop.load(Ordering::Relaxed);
        match pipe.read(&mut buf) {
            Ok(n) if n > 0 => {
                pending.push_str(&String::from_utf8_lossy(&buf[..n]));
                while let Some(nl) = pending.find('\n') {
                    let line: String = pending.drain(..=nl).collect();
                    // Every event line is kept as the kernel wrote it,
                    // parsed or not, so a test can read them with its own
                    // parser and notice one the product's parser drops.
                    if line.contains(" inet_sock_set_state: ") {
                        lines
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push_str(&line);
                    }
                    if let Some(ev) = parse_event(&line) {
                        events.lock().unwrap_or_else(|e| e.into_inner()).push(ev);
                    } else if line.contains(marker) {
                        if let Some((head, _)) = line.split_once(" tracing_mark_write: ") {
                            if let Some(ts) = parse_timestamp(head) {
                                *sync.lock().unwrap_or_else(|e| e.into_inner()) =
                                    Some((ts, marker_at));
                            }
                        }
                    }
                }
                continue;
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return,
        }
        // Nothing more to read: stop once asked (after a last read).
        if stopping {
            return;
        }
        thread::sleep(Duration::from_millis(5));
    }
}

impl Drop for StateTrace {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        let _ = fs::write(self.dir.join(EVENT).join("enable"), "0");
        // rmdir fails while a reader holds a file open; the reader is gone.
        for _ in 0..50 {
            if fs::remove_dir(&self.dir).is_ok() || !self.dir.exists() {
                break;
            }
            thread::sleep(Duration::from_millis(20));
        }
        if self.mount_taken {
            release_mount();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_trace_line() {
        let l = "          <idle>-0       [001] ..s1.  123.456789: inet_sock_set_state: \
                 family=AF_INET protocol=IPPROTO_TCP sport=41234 dport=5555 \
                 saddr=198.18.0.1 daddr=198.18.0.2 saddrv6=::ffff:198.18.0.1 \
                 daddrv6=::ffff:198.18.0.2 oldstate=TCP_FIN_WAIT1 newstate=TCP_FIN_WAIT2";
        let e = parse_event(l).expect("parsed");
        assert_eq!(e.ts_us, 123_456_789);
        assert_eq!(e.src, "198.18.0.1:41234".parse().unwrap());
        assert_eq!(e.dst, "198.18.0.2:5555".parse().unwrap());
        assert_eq!(e.transition(), "FIN_WAIT1->FIN_WAIT2");
        assert_eq!(parse_event("# tracer: nop"), None);
        let v6 = l
            .replace("AF_INET ", "AF_INET6 ")
            .replace("saddrv6=::ffff:198.18.0.1", "saddrv6=2001:db8::1");
        assert_eq!(
            parse_event(&v6).map(|e| e.src),
            Some("[2001:db8::1]:41234".parse().unwrap())
        );
        assert_eq!(
            parse_timestamp("x [000] ..... 24729.96:"),
            Some(24_729_960_000)
        );
    }
}
