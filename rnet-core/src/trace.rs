//! The kernel's TCP tracepoints, read through a private tracefs instance:
//! `sock:inet_sock_set_state` (every TCP state change, with addresses,
//! ports and both states), `tcp:tcp_retransmit_skb` (every retransmitted
//! segment, with the socket's state and, on newer kernels, whether sending
//! it failed) and `tcp:tcp_retransmit_synack` (a request socket's SYN|ACK
//! sent again).
//!
//! An [`Instance`] is a directory of its own under
//! `/sys/kernel/tracing/instances`: its own ring buffer, its own event
//! switches and filters, so it disturbs no other tracer and no other
//! tracer disturbs it. [`Instance::create`] mounts tracefs first when it
//! is not mounted (and [`Drop`] unmounts it again, only then), switches the
//! instance's clock to `mono` (the clock of [`crate::os::monotonic_us`]),
//! sets each event's in-kernel `filter`, enables the events and opens
//! `trace_pipe` without blocking. Dropping it disables the events and
//! removes the directory. [`remove_stale`] removes the instances a killed
//! process (SIGKILL leaves no chance to clean up) left behind.
//!
//! The tracepoints are global: they report the sockets of every network
//! namespace. Telling this namespace's events from the others' is the
//! reader's job (see rnetstat's `watch` module).

use crate::tcp_state::TcpState;
use std::ffi::CString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// Where tracefs is mounted (or gets mounted).
pub const TRACEFS: &str = "/sys/kernel/tracing";

/// Every TCP state change.
pub const STATE_EVENT: &str = "sock/inet_sock_set_state";
/// Every retransmitted segment of a full socket.
pub const RETRANSMIT_EVENT: &str = "tcp/tcp_retransmit_skb";
/// A request socket's SYN|ACK sent again.
pub const SYNACK_EVENT: &str = "tcp/tcp_retransmit_synack";

/// What an event reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// The socket moved from `old` to `new`.
    State {
        /// The state left.
        old: TcpState,
        /// The state entered.
        new: TcpState,
    },
    /// A segment was retransmitted while the socket was in `state`;
    /// `err` is the send's result (0 sent; negative: refused on this host,
    /// for example by its own firewall), `None` on kernels without it.
    Retransmit {
        /// The socket's state.
        state: TcpState,
        /// The send's result.
        err: Option<i32>,
    },
    /// A request socket (SYN received, no full socket yet) sent its
    /// SYN|ACK again.
    SynAckRetransmit,
}

/// One event of the tracepoints above.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// The kernel's timestamp on the instance's clock, microseconds.
    pub ts_us: u64,
    /// The socket's own address and port.
    pub local: SocketAddr,
    /// The peer's address and port (port 0 for a listener).
    pub remote: SocketAddr,
    /// An `AF_INET6` socket (addresses may be v4-mapped).
    pub v6: bool,
    /// What happened.
    pub kind: EventKind,
    /// The process the event ran in, when it ran in process context (a
    /// system call such as connect, listen or close); `None` in interrupt
    /// context (a segment's arrival or a timer), where the task named in
    /// the line is whichever one the CPU happened to be running.
    pub task: Option<u32>,
}

/// Parses one `trace_pipe` line of the three events; `None` for any
/// other line (markers, other events, lost-events notes, garbage).
pub fn parse_line(line: &str) -> Option<Event> {
    let (head, name, body) = split_event(line)?;
    let fields: Vec<(&str, &str)> = body
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .collect();
    let field = |k: &str| fields.iter().find(|(n, _)| *n == k).map(|(_, v)| *v);
    let v6 = match field("family")? {
        "AF_INET" => false,
        "AF_INET6" => true,
        _ => return None,
    };
    let port = |k: &str| field(k).and_then(|p| p.parse::<u16>().ok());
    let ip = |v4: &str, v6name: &str| -> Option<IpAddr> {
        if v6 {
            field(v6name)?.parse().ok()
        } else {
            field(v4)?.parse().ok()
        }
    };
    let state = |k: &str| -> Option<TcpState> {
        let s = field(k)?;
        TcpState::from_name(s.strip_prefix("TCP_").unwrap_or(s))
    };
    let kind = match name {
        "inet_sock_set_state" => {
            if field("protocol").is_some_and(|p| p != "IPPROTO_TCP") {
                return None;
            }
            EventKind::State {
                old: state("oldstate")?,
                new: state("newstate")?,
            }
        }
        "tcp_retransmit_skb" => EventKind::Retransmit {
            state: state("state")?,
            err: field("err").and_then(|e| e.parse().ok()),
        },
        "tcp_retransmit_synack" => EventKind::SynAckRetransmit,
        _ => return None,
    };
    let (ts_us, task) = parse_head(head)?;
    Some(Event {
        ts_us,
        local: SocketAddr::new(ip("saddr", "saddrv6")?, port("sport")?),
        remote: SocketAddr::new(ip("daddr", "daddrv6")?, port("dport")?),
        v6,
        kind,
        task,
    })
}

/// The count of a `CPU:N [LOST COUNT EVENTS]` line: events the ring
/// buffer dropped because the reader fell behind.
pub fn lost_events(line: &str) -> Option<u64> {
    let rest = line.trim().strip_prefix("CPU:")?;
    let (_, rest) = rest.split_once(" [LOST ")?;
    rest.strip_suffix(" EVENTS]")?.parse().ok()
}

/// `(head, event name, fields)` of a line `HEAD: NAME: FIELDS`.
fn split_event(line: &str) -> Option<(&str, &str, &str)> {
    for name in [
        "inet_sock_set_state",
        "tcp_retransmit_skb",
        "tcp_retransmit_synack",
    ] {
        let sep = [": ", name, ": "].concat();
        if let Some(i) = line.find(&sep) {
            return Some((&line[..i + 1], name, &line[i + sep.len()..]));
        }
    }
    None
}

/// The timestamp (microseconds) and the process-context task of a line's
/// head, `COMM-PID [CPU] FLAGS SECONDS.MICROS:`. The third flag is `.`
/// outside interrupts (`s` softirq, `h` hardirq, `H` both, `z`/`Z` NMI).
fn parse_head(head: &str) -> Option<(u64, Option<u32>)> {
    let mut words = head.split_whitespace().rev();
    let ts_us = parse_timestamp(words.next()?)?;
    let flags = words.next()?;
    let cpu = words.next()?;
    let task = if cpu.starts_with('[') && flags.len() >= 4 && flags.as_bytes()[2] == b'.' {
        let before_cpu = &head[..head.find(cpu)?];
        before_cpu
            .trim_end()
            .rsplit_once('-')
            .and_then(|(_, pid)| pid.parse::<u32>().ok())
            .filter(|p| *p != 0)
    } else {
        None
    };
    Some((ts_us, task))
}

/// `24729.967027:` (seconds) in microseconds.
pub fn parse_timestamp(word: &str) -> Option<u64> {
    let ts = word.trim_end_matches(':');
    let (s, frac) = ts.split_once('.')?;
    if frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac: String = frac.chars().chain(std::iter::repeat('0')).take(6).collect();
    s.parse::<u64>()
        .ok()?
        .checked_mul(1_000_000)?
        .checked_add(frac.parse::<u64>().ok()?)
}

/// An in-kernel filter on the events' `sport`, `dport` and `family`
/// fields (the three events have them all): `port` either end,
/// `sport` the local one, `dport` the remote one; `family` `Some(false)`
/// IPv4 sockets only, `Some(true)` IPv6 only. Empty when nothing is
/// filtered.
pub fn filter_text(
    port: Option<u16>,
    sport: Option<u16>,
    dport: Option<u16>,
    family: Option<bool>,
) -> String {
    let mut parts = Vec::new();
    if let Some(p) = port {
        parts.push(format!("(sport == {p} || dport == {p})"));
    }
    if let Some(p) = sport {
        parts.push(format!("sport == {p}"));
    }
    if let Some(p) = dport {
        parts.push(format!("dport == {p}"));
    }
    if let Some(v6) = family {
        parts.push(format!(
            "family == {}",
            if v6 { libc::AF_INET6 } else { libc::AF_INET }
        ));
    }
    parts.join(" && ")
}

/// Instances made by this process so far (for unique names).
static MADE: AtomicU32 = AtomicU32::new(0);

/// A private tracefs instance with some of the events above enabled.
#[derive(Debug)]
pub struct Instance {
    dir: PathBuf,
    name: String,
    pipe: Option<File>,
    enabled: Vec<&'static str>,
    mounted_here: bool,
}

impl Instance {
    /// Makes `instances/PREFIX-PID-N` and enables `events` (each with the
    /// in-kernel `filter`, which may be empty). The first event is
    /// required; the others are enabled when this kernel has them (see
    /// [`Instance::has`]). On failure, whatever was made is undone and the
    /// reason is returned in one line.
    pub fn create(prefix: &str, events: &[&'static str], filter: &str) -> Result<Self, String> {
        let root = Path::new(TRACEFS);
        let mut mounted_here = false;
        if !root.join("instances").is_dir() {
            let target = CString::new(TRACEFS).map_err(|e| e.to_string())?;
            crate::sys::mount_tracefs(&target)
                .map_err(|e| format!("cannot mount tracefs on {TRACEFS}: {}", os_text(&e)))?;
            mounted_here = true;
            if !root.join("instances").is_dir() {
                unmount(&target);
                return Err(format!("{TRACEFS} has no instances directory"));
            }
        }
        let n = MADE.fetch_add(1, Ordering::Relaxed);
        let name = format!("{prefix}-{}-{n}", std::process::id());
        let dir = root.join("instances").join(&name);
        // From here on, Drop undoes what was done.
        let mut inst = Instance {
            dir,
            name,
            pipe: None,
            enabled: Vec::new(),
            mounted_here,
        };
        fs::create_dir(&inst.dir)
            .map_err(|e| format!("cannot make {}: {}", inst.dir.display(), os_text(&e)))?;
        // The timestamps on CLOCK_MONOTONIC; a modest buffer per CPU.
        inst.write("trace_clock", "mono")?;
        inst.write("buffer_size_kb", "512")?;
        for (i, ev) in events.iter().enumerate() {
            let dir = inst.dir.join("events").join(ev);
            if !dir.is_dir() {
                if i == 0 {
                    return Err(format!("this kernel has no {ev} tracepoint"));
                }
                continue;
            }
            if !filter.is_empty() {
                inst.write(&format!("events/{ev}/filter"), filter)?;
            }
            inst.write(&format!("events/{ev}/enable"), "1")?;
            inst.enabled.push(ev);
        }
        let pipe = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(inst.dir.join("trace_pipe"))
            .map_err(|e| {
                format!(
                    "cannot open {}/trace_pipe: {}",
                    inst.dir.display(),
                    os_text(&e)
                )
            })?;
        inst.pipe = Some(pipe);
        Ok(inst)
    }

    fn write(&self, rel: &str, text: &str) -> Result<(), String> {
        let p = self.dir.join(rel);
        fs::write(&p, text)
            .map_err(|e| format!("cannot write `{text}' to {}: {}", p.display(), os_text(&e)))
    }

    /// The instance's directory name (`rnetstat-1234-0`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether `event` is enabled in this instance.
    pub fn has(&self, event: &str) -> bool {
        self.enabled.contains(&event)
    }

    /// Reads what `trace_pipe` has now into `buf`: `Ok(0)` when nothing
    /// is waiting (the pipe never blocks).
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(pipe) = self.pipe.as_mut() else {
            return Ok(0);
        };
        loop {
            match pipe.read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(0),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// The pipe's descriptor, for `poll` (readable when events wait).
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.pipe.as_ref().map(|p| p.as_fd())
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        for ev in &self.enabled {
            let _ = fs::write(self.dir.join("events").join(ev).join("enable"), "0");
        }
        // rmdir fails while the pipe is open.
        self.pipe = None;
        remove_dir(&self.dir);
        if self.mounted_here {
            if let Ok(target) = CString::new(TRACEFS) {
                unmount(&target);
            }
        }
    }
}

/// Removes an instance directory; tracefs may answer EBUSY for a moment
/// after its last reader closed.
fn remove_dir(dir: &Path) {
    for _ in 0..50 {
        if fs::remove_dir(dir).is_ok() || !dir.exists() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Unmounts tracefs when nothing else uses it (a busy mount stays).
fn unmount(target: &std::ffi::CStr) {
    let _ = crate::sys::umount(target);
}

/// Removes the instances `PREFIX-PID-N` whose process is gone (killed
/// before it could clean up). Returns how many were removed.
pub fn remove_stale(prefix: &str) -> usize {
    let Ok(dir) = fs::read_dir(Path::new(TRACEFS).join("instances")) else {
        return 0;
    };
    let mut removed = 0;
    for ent in dir.flatten() {
        let name = ent.file_name();
        let Some(rest) = name
            .to_str()
            .and_then(|n| n.strip_prefix(prefix))
            .and_then(|r| r.strip_prefix('-'))
        else {
            continue;
        };
        let Some(pid) = rest
            .split_once('-')
            .and_then(|(p, n)| n.parse::<u32>().ok().and(p.parse::<u32>().ok()))
        else {
            continue;
        };
        let alive = Path::new("/proc")
            .join(std::ffi::OsStr::from_bytes(pid.to_string().as_bytes()))
            .exists();
        if alive {
            continue;
        }
        let path = ent.path();
        for ev in [STATE_EVENT, RETRANSMIT_EVENT, SYNACK_EVENT] {
            let _ = fs::write(path.join("events").join(ev).join("enable"), "0");
        }
        remove_dir(&path);
        if !path.exists() {
            removed += 1;
        }
    }
    removed
}

/// strerror's text of an I/O error.
fn os_text(e: &io::Error) -> String {
    crate::os::strerror_text(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATE: &str = "          <idle>-0       [001] ..s1.  123.456789: inet_sock_set_state: \
         family=AF_INET protocol=IPPROTO_TCP sport=41234 dport=5555 \
         saddr=198.18.0.1 daddr=198.18.0.2 saddrv6=::ffff:198.18.0.1 \
         daddrv6=::ffff:198.18.0.2 oldstate=TCP_FIN_WAIT1 newstate=TCP_FIN_WAIT2";

    #[test]
    fn parses_a_state_change_in_interrupt_context() {
        let e = parse_line(STATE).expect("parsed");
        assert_eq!(e.ts_us, 123_456_789);
        assert_eq!(e.local, "198.18.0.1:41234".parse().unwrap());
        assert_eq!(e.remote, "198.18.0.2:5555".parse().unwrap());
        assert!(!e.v6);
        assert_eq!(
            e.kind,
            EventKind::State {
                old: TcpState::FinWait1,
                new: TcpState::FinWait2
            }
        );
        assert_eq!(e.task, None);
    }

    #[test]
    fn a_system_call_names_its_process() {
        let l = STATE
            .replace("<idle>-0      ", "nc-openbsd-4242")
            .replace("..s1.", ".....");
        assert_eq!(parse_line(&l).and_then(|e| e.task), Some(4242));
        // A command name with spaces and dashes.
        let l = STATE
            .replace("<idle>-0      ", "my - tool-77")
            .replace("..s1.", "d..1.");
        assert_eq!(parse_line(&l).and_then(|e| e.task), Some(77));
    }

    #[test]
    fn parses_ipv6_and_retransmissions() {
        let v6 = STATE
            .replace("AF_INET ", "AF_INET6 ")
            .replace("saddrv6=::ffff:198.18.0.1", "saddrv6=2001:db8::1");
        assert_eq!(
            parse_line(&v6).map(|e| (e.local, e.v6)),
            Some(("[2001:db8::1]:41234".parse().unwrap(), true))
        );
        let r = "nc-9 [000] ..s1. 5.000001: tcp_retransmit_skb: skbaddr=0000 skaddr=0000 \
                 family=AF_INET sport=40000 dport=5555 saddr=127.0.0.1 daddr=127.0.0.1 \
                 saddrv6=::ffff:127.0.0.1 daddrv6=::ffff:127.0.0.1 state=TCP_SYN_SENT err=-1";
        assert_eq!(
            parse_line(r).map(|e| e.kind),
            Some(EventKind::Retransmit {
                state: TcpState::SynSent,
                err: Some(-1)
            })
        );
        let s = "x-1 [000] ..s1. 5.5: tcp_retransmit_synack: family=AF_INET sport=5555 \
                 dport=40000 saddr=127.0.0.1 daddr=127.0.0.1 saddrv6=::ffff:127.0.0.1 \
                 daddrv6=::ffff:127.0.0.1";
        let e = parse_line(s).expect("synack");
        assert_eq!((e.kind, e.ts_us), (EventKind::SynAckRetransmit, 5_500_000));
    }

    #[test]
    fn other_lines_and_garbage_are_none() {
        for l in [
            "# tracer: nop",
            "",
            "CPU:1 [LOST 20 EVENTS]",
            "x-1 [000] ..... 1.0: tracing_mark_write: hello",
            "x-1 [000] ..... 1.0: inet_sock_set_state: family=AF_INET protocol=IPPROTO_SCTP \
             sport=1 dport=2 saddr=1.2.3.4 daddr=1.2.3.4 oldstate=TCP_CLOSE newstate=TCP_LISTEN",
            "x-1 [000] ..... 1.x: inet_sock_set_state: family=AF_INET",
            ": inet_sock_set_state: ",
        ] {
            assert_eq!(parse_line(l), None, "{l:?}");
        }
        // Cut anywhere, a valid line never panics.
        for i in 0..STATE.len() {
            if STATE.is_char_boundary(i) {
                let _ = parse_line(&STATE[..i]);
            }
        }
    }

    #[test]
    fn lost_events_are_counted() {
        assert_eq!(lost_events("CPU:1 [LOST 20 EVENTS]\n"), Some(20));
        assert_eq!(lost_events(STATE), None);
        assert_eq!(lost_events("CPU:1 [LOST x EVENTS]"), None);
    }

    #[test]
    fn filters_join_with_and() {
        assert_eq!(filter_text(None, None, None, None), "");
        assert_eq!(
            filter_text(Some(5555), None, Some(80), Some(false)),
            "(sport == 5555 || dport == 5555) && dport == 80 && family == 2"
        );
        assert_eq!(
            filter_text(None, Some(1), None, Some(true)),
            "sport == 1 && family == 10"
        );
    }
}
