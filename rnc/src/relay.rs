//! The data path: netcat's `readwrite()`, one `poll` over stdin, the
//! socket (both directions) and stdout, with a buffer per direction.
//!
//! The stop and half-close rules are OpenBSD nc's, each as a comment
//! above its check. Where nc drops data (a listener with `-q` stops
//! reading the network at its own stdin EOF), rnc keeps reading.
//!
//! The zero-copy path: on a stream socket, when stdout is a pipe the
//! bytes come from the socket with `splice(2)` (and, with [`Splice::Both`],
//! go from a pipe on stdin to the socket the same way). The kernel moves
//! the pages; no byte is copied through rnc. `-C`, `-i` (stdin side), `-t`,
//! `-W` (network side), datagrams, terminals, files and anything `splice`
//! refuses use the buffers. The rules are the same on
//! both paths: a splice moves bytes only when the other end has room (a
//! full pipe or socket answers EAGAIN, and the relay then waits for it
//! in `poll`), and a splice that returns 0 is the end of that input, as
//! a read of 0 is.

use crate::narrate::Narrator;
use crate::sys::{self, FdKind, PollFd};
use std::io::ErrorKind;
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

/// Buffer size per direction. Larger than nc's 16 KiB: fewer system calls.
const BUF: usize = 128 * 1024;

/// The most one splice asks to move.
const SPLICE_LEN: usize = 1 << 20;

/// The size a pipe on stdin is grown to.
const STDIN_PIPE: usize = 1 << 20;

/// Whether the network's bytes may be spliced straight into `out`: a
/// pipe, on a stream socket without `-t` or `-W` (which read the bytes).
/// A file or `/dev/null` would need a second pipe of rnc's own and two
/// splices per chunk, which measured slower than read and write
/// (bench/rnc-ceiling.sh), so those outputs use the buffers.
fn splice_down(o: &RelayOpts, out: RawFd) -> bool {
    o.splice != Splice::Off
        && !o.datagram
        && !o.telnet
        && o.recv_limit.is_none()
        && out >= 0
        && sys::fd_kind(out) == FdKind::Pipe
}

/// How the relay behaves.
#[derive(Clone, Copy, Debug, Default)]
pub struct RelayOpts {
    /// `-d`: never read stdin.
    pub no_stdin: bool,
    /// `-N` (or `-q`): send FIN at stdin EOF.
    pub fin_on_eof: bool,
    /// `-l`: end when the peer's FIN arrives.
    pub listener: bool,
    /// `-w`: idle timeout in seconds.
    pub idle: Option<u32>,
    /// `-C`: send `\r\n` for each `\n` read from stdin.
    pub crlf: bool,
    /// `-i`: pause after each write to the network, seconds.
    pub interval: Option<u32>,
    /// `-t`: answer TELNET option negotiation.
    pub telnet: bool,
    /// `-W`: stop reading the network after this many reads.
    pub recv_limit: Option<u64>,
    /// The socket is a datagram socket.
    pub datagram: bool,
    /// `-q N` on a datagram socket: stdin EOF (after its FIN-equivalent
    /// `shutdown(SHUT_WR)`) ends the relay N seconds later. What arrives
    /// from the network in those seconds is still delivered (nc stops
    /// reading at once).
    pub quit_datagram: Option<u64>,
    /// Where bytes move with `splice(2)` when the ends allow it.
    pub splice: Splice,
}

/// The directions that move bytes with `splice(2)`.
///
/// From a pipe on stdin into the socket, a splice holds the pipe's lock
/// while the kernel pushes the pages through TCP (and, on a veth or
/// loopback, through the receiver's side too), so the program writing
/// into the pipe waits: on the 2-vCPU machine of bench/rnc-ceiling.sh that
/// path moved 0.78-1.21 GB/s against 1.19-1.47 GB/s through the buffers.
/// From the socket into a pipe on stdout it measured 1.08-1.38 GB/s
/// against 0.74-0.80. So the default splices only that way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Splice {
    /// Always the buffers (`RNC_SPLICE=0`).
    Off,
    /// The socket into a pipe on stdout (the default).
    #[default]
    Down,
    /// Also a pipe on stdin into the socket (`RNC_SPLICE=all`).
    Both,
}

impl Splice {
    /// `RNC_SPLICE`'s value: off as [`rnet_core::switch_value`] reads it
    /// (`0`, `no`, `off`, `false`, empty); `all` or `both`: both ways;
    /// unset or anything else: the default.
    pub fn from_env(value: Option<&std::ffi::OsStr>) -> Splice {
        let Some(v) = value else {
            return Splice::Down;
        };
        if matches!(
            v.to_string_lossy().trim().to_ascii_lowercase().as_str(),
            "all" | "both"
        ) {
            return Splice::Both;
        }
        match rnet_core::switch_value(v) {
            Some(false) => Splice::Off,
            _ => Splice::Down,
        }
    }
}

/// Why the relay ended.
#[derive(Debug)]
pub enum End {
    /// Both directions finished by netcat's rules.
    Done,
    /// `-w` seconds without traffic.
    Idle,
    /// SIGINT or SIGTERM.
    Signal(i32),
    /// The peer reset the connection before it finished sending; every
    /// byte read before the reset was delivered.
    Reset,
    /// Writing to the output failed with something other than a broken
    /// pipe (ENOSPC, EIO …): the error, for `rnc: write to stdout: …`.
    OutputFailed(std::io::Error),
}

/// A direction's buffer: bytes in `data[start..end]`.
struct Buf {
    data: Vec<u8>,
    start: usize,
    end: usize,
}

impl Buf {
    fn new() -> Self {
        Buf {
            data: vec![0; BUF],
            start: 0,
            end: 0,
        }
    }
    fn is_empty(&self) -> bool {
        self.start == self.end
    }
    fn bytes(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }
    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }
    fn clear(&mut self) {
        self.start = 0;
        self.end = 0;
    }
    /// Bytes that can still be buffered (after moving the data down).
    fn free(&self) -> usize {
        self.data.len() - (self.end - self.start)
    }
    /// The room after the data, at least `min(free(), BUF / 2)` long:
    /// the data is moved to the front when the tail is shorter than that.
    fn space(&mut self) -> &mut [u8] {
        if self.start > 0 && self.data.len() - self.end < BUF / 2 {
            self.data.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        &mut self.data[self.end..]
    }
}

const IAC: u8 = 255;
const DONT: u8 = 254;
const DO: u8 = 253;
const WONT: u8 = 252;
const WILL: u8 = 251;

/// nc's `atelnet`: the replies to TELNET negotiations in `data`.
pub fn telnet_replies(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i + 2 < data.len() {
        if data[i] == IAC {
            let reply = match data[i + 1] {
                DO | DONT => Some(WONT),
                WILL | WONT => Some(DONT),
                _ => None,
            };
            if let Some(r) = reply {
                out.extend_from_slice(&[IAC, r, data[i + 2]]);
                i += 3;
                continue;
            }
        }
        i += 1;
    }
    out
}

/// Expands each `\n` of `buf[..k]` to `\r\n` in place, from the end
/// backwards; `buf` must hold `k` plus the number of `\n` bytes. Returns
/// the new length.
fn crlf_in_place(buf: &mut [u8], k: usize) -> usize {
    let lf = buf[..k].iter().filter(|b| **b == b'\n').count();
    let (mut src, mut dst) = (k, k + lf);
    while src > 0 {
        src -= 1;
        dst -= 1;
        buf[dst] = buf[src];
        if buf[src] == b'\n' {
            dst -= 1;
            buf[dst] = b'\r';
        }
    }
    k + lf
}

/// A read or write error that ends that direction (anything but "try
/// again").
fn closed(e: &std::io::Error) -> bool {
    !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted)
}

/// The error means the connection was reset (or our side of it was torn
/// down by a reset: EPIPE on a socket we never shut down for writing).
fn is_reset(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ECONNRESET) | Some(libc::EPIPE))
}

/// Slots of the poll set, named as in nc's `readwrite()`.
const POLL_STDIN: usize = 0;
const POLL_NETOUT: usize = 1;
const POLL_NETIN: usize = 2;
const POLL_STDOUT: usize = 3;
/// The signal self-pipe (nc has none: its handlers end it at once).
const POLL_SIG: usize = 4;
/// How many slots the relay polls.
const POLL_SLOTS: usize = 5;

/// Slots of the drain's poll set (after a signal or `-w`: only writes).
const DRAIN_STDOUT: usize = 0;
const DRAIN_NETOUT: usize = 1;
const DRAIN_SIG: usize = 2;

/// `shutdown(2)`, whose failure nc ignores as rnc does: it only says the
/// direction is already gone (ENOTCONN after a reset).
fn shut(fd: RawFd, how: libc::c_int) {
    let _ = sys::shutdown(fd, how);
}

/// The local ends of the relay: where input comes from and output goes
/// (descriptors 0 and 1 for rnc; pipes in tests).
#[derive(Clone, Copy, Debug)]
pub struct Ends {
    /// Read and sent to the network (`-1`: none, as with `-d`).
    pub input: RawFd,
    /// Receives what the network sends.
    pub output: RawFd,
}

impl Ends {
    /// stdin and stdout.
    pub const STDIO: Ends = Ends {
        input: 0,
        output: 1,
    };
}

/// Runs the relay between stdin/stdout and socket `net` until netcat's
/// rules end it.
pub fn relay(net: RawFd, o: &RelayOpts, narr: &mut Narrator, sigfd: RawFd) -> End {
    relay_ends(Ends::STDIO, net, o, narr, sigfd)
}

/// The relay between `ends` and socket `net`.
///
/// Invariants that keep every byte: a descriptor is read only when poll
/// was asked for its input and its buffer has room for what one read may
/// produce (two bytes per byte with `-C`, a whole datagram on datagram
/// sockets); end of input is only ever a read of 0 into such room (a
/// hang-up or an error is left to that read, which returns what is still
/// queued first). An input whose buffer
/// is full leaves the poll set until its output drains (a hang-up cannot
/// be masked, and would otherwise make poll spin).
pub fn relay_ends(ends: Ends, net: RawFd, o: &RelayOpts, narr: &mut Narrator, sigfd: RawFd) -> End {
    let mut stdin_fd: RawFd = if o.no_stdin { -1 } else { ends.input };
    let mut netin: RawFd = net;
    let mut netout: RawFd = net;
    let mut stdout_fd: RawFd = ends.output;
    let mut up = Buf::new();
    let mut down = Buf::new();
    let mut reads: u64 = 0;
    let mut last_activity = Instant::now();
    // A reset seen while the peer had not finished sending (its FIN not
    // read yet): the relay ends with End::Reset once stdout has what came
    // before it.
    let mut reset_early = false;
    // Room one read needs: with -C each byte may become two; a datagram
    // must fit whole (the largest UDP payload is 65,507 bytes).
    let stdin_room = if o.crlf { 2 } else { 1 };
    let net_room = if o.datagram { BUF / 2 } else { 1 };
    // -q N on a datagram socket: when the network input stops (N seconds
    // after stdin's end; there is no FIN).
    let mut quit_at: Option<Instant> = None;
    // The zero-copy paths (module doc). The socket must not block a
    // splice that finds it full: it is made non-blocking (it is ours).
    let mut up_splice = o.splice == Splice::Both
        && !o.datagram
        && !o.crlf
        && o.interval.is_none()
        && stdin_fd >= 0
        && sys::fd_kind(stdin_fd) == FdKind::Pipe;
    // The socket was full at the last splice from stdin: wait for POLLOUT.
    let mut up_waiting = false;
    let mut down_splice = splice_down(o, stdout_fd);
    // The output pipe was full at the last splice: wait for POLLOUT.
    let mut down_waiting = false;
    if (up_splice || down_splice) && sys::set_nonblocking(net).is_err() {
        up_splice = false;
        down_splice = false;
    }
    // A pipe on stdin holds 64 KiB by default: at 1 MiB its writer and rnc
    // take turns far less often (measured: about a third more throughput
    // on either path, bench/rnc-ceiling.sh). The system may refuse (a
    // user's pipe-size limit); the pipe then stays as it is.
    if stdin_fd >= 0 && sys::fd_kind(stdin_fd) == FdKind::Pipe {
        sys::grow_pipe(stdin_fd, STDIN_PIPE);
    }
    loop {
        // -q N on a datagram socket, N seconds after stdin ended: stop
        // reading the network (what is buffered still goes to stdout).
        if netin != -1 && quit_at.is_some_and(|t| Instant::now() >= t) {
            shut(netin, libc::SHUT_RD);
            netin = -1;
        }
        // Both inputs are gone and the buffers are empty: done.
        let down_empty = down.is_empty();
        if stdin_fd == -1 && netin == -1 && up.is_empty() && down_empty {
            break;
        }
        // Both outputs are gone: nothing more can be delivered.
        if netout == -1 && stdout_fd == -1 {
            break;
        }
        // A listener is done once the network input is gone and the queues
        // are empty, whatever its stdin is doing.
        if o.listener && netin == -1 && up.is_empty() && down_empty {
            break;
        }
        // Inputs are polled only while their buffer has room. Outputs stay
        // in the set even with nothing to write, asking for nothing: poll
        // still reports errors and hang-ups there (a RST after the peer's
        // process died ends the relay, as in nc).
        // On the zero-copy paths an input is polled while its output
        // took the last splice whole.
        let stdin_asks = if up_splice {
            !up_waiting
        } else {
            up.free() >= stdin_room
        };
        let netin_asks = if down_splice {
            !down_waiting
        } else {
            down.free() >= net_room
        };
        let netout_wants = !up.is_empty() || (up_splice && up_waiting);
        let stdout_wants = !down.is_empty() || (down_splice && down_waiting);
        let mut pfd = [PollFd::new(-1, 0); POLL_SLOTS];
        pfd[POLL_STDIN] = PollFd::new(if stdin_asks { stdin_fd } else { -1 }, libc::POLLIN);
        pfd[POLL_NETOUT] = PollFd::new(netout, if netout_wants { libc::POLLOUT } else { 0 });
        pfd[POLL_NETIN] = PollFd::new(if netin_asks { netin } else { -1 }, libc::POLLIN);
        pfd[POLL_STDOUT] = PollFd::new(stdout_fd, if stdout_wants { libc::POLLOUT } else { 0 });
        pfd[POLL_SIG] = PollFd::new(sigfd, libc::POLLIN);
        let mut timeout: i32 = -1;
        if let Some(w) = o.idle {
            let left = Duration::from_secs(u64::from(w)).saturating_sub(last_activity.elapsed());
            timeout = left.as_millis().min(i32::MAX as u128) as i32;
        }
        if narr.on() {
            timeout = if timeout < 0 { 100 } else { timeout.min(100) };
        }
        if let Some(t) = quit_at.filter(|_| netin != -1) {
            let left = t.saturating_duration_since(Instant::now()).as_millis();
            let left = left.min(i32::MAX as u128) as i32;
            timeout = if timeout < 0 { left } else { timeout.min(left) };
        }
        let n = match sys::poll(&mut pfd, timeout) {
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        narr.tick(net);
        if n == 0 {
            if let Some(w) = o.idle {
                if last_activity.elapsed() >= Duration::from_secs(u64::from(w)) {
                    // What was read still goes out, as after a signal.
                    drain(&mut down, stdout_fd, &mut up, netout, sigfd);
                    return End::Idle;
                }
            }
            continue;
        }
        last_activity = Instant::now();
        if pfd[POLL_SIG].has(libc::POLLIN) {
            if let Some(sig) = sys::take_signal(sigfd) {
                drain(&mut down, stdout_fd, &mut up, netout, sigfd);
                return End::Signal(sig);
            }
        }
        let rev = |slot: usize| pfd[slot].revents();
        // An invalid descriptor: stop using that direction.
        for (slot, fd) in [
            (POLL_STDIN, &mut stdin_fd),
            (POLL_NETOUT, &mut netout),
            (POLL_NETIN, &mut netin),
            (POLL_STDOUT, &mut stdout_fd),
        ] {
            if rev(slot) & libc::POLLNVAL != 0 {
                *fd = -1;
            }
        }
        // Errors and hang-ups on an input (stdin or the socket) are left
        // to the read below, which returns what is still queued first,
        // then the error or the end of file.
        // The socket cannot take more (reset, or closed both ways): stop
        // sending. Its error stays queued for the network read, if that
        // is still open; otherwise this is where the reset is seen.
        if netout != -1 && rev(POLL_NETOUT) & (libc::POLLHUP | libc::POLLERR) != 0 {
            if netin == -1 {
                if sys::so_error(net) == Some(libc::ECONNRESET) {
                    narr.reset();
                }
            } else if o.fin_on_eof && rev(POLL_NETOUT) & libc::POLLERR == 0 {
                shut(netout, libc::SHUT_WR);
            }
            netout = -1;
            up.clear();
            up_waiting = false;
        }
        // stdout hung up or failed (a pipe whose reader left): stop
        // writing it, quietly, as nc.
        if stdout_fd != -1 && rev(POLL_STDOUT) & (libc::POLLHUP | libc::POLLERR) != 0 {
            stdout_fd = -1;
        }
        // No network output: stop reading stdin.
        if netout == -1 {
            stdin_fd = -1;
        }
        // No stdout: stop reading the network.
        if stdout_fd == -1 {
            if netin != -1 {
                shut(netin, libc::SHUT_RD);
            }
            netin = -1;
            down.clear();
            down_splice = false;
        }
        // The socket takes more again after a full splice.
        if up_waiting && rev(POLL_NETOUT) & libc::POLLOUT != 0 {
            up_waiting = false;
        }
        // stdin -> network, zero-copy.
        if up_splice && stdin_fd != -1 && netout != -1 && stdin_asks && rev(POLL_STDIN) != 0 {
            match sys::splice(stdin_fd, netout, SPLICE_LEN) {
                Ok(0) => stdin_fd = -1,
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => up_waiting = true,
                // This pair refuses splice (nothing was moved): buffers.
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => up_splice = false,
                Err(e) if closed(&e) => {
                    if is_reset(&e) {
                        reset_early = netin != -1;
                        narr.reset();
                    }
                    netout = -1;
                    stdin_fd = -1;
                }
                Err(_) => {}
            }
        }
        // stdin -> buffer (only when asked: the buffer has room).
        if !up_splice && stdin_fd != -1 && stdin_asks && rev(POLL_STDIN) != 0 {
            let sp = up.space();
            // With -C, read into the first half and expand `\n` to `\r\n`
            // in place (the result fits in twice the bytes read).
            let room = if o.crlf { sp.len() / 2 } else { sp.len() };
            match sys::read(stdin_fd, &mut sp[..room]) {
                Ok(0) => stdin_fd = -1,
                Ok(k) => up.end += if o.crlf { crlf_in_place(sp, k) } else { k },
                Err(e) if closed(&e) => stdin_fd = -1,
                Err(_) => {}
            }
        }
        // buffer -> network
        if netout != -1 && rev(POLL_NETOUT) & libc::POLLOUT != 0 && !up.is_empty() {
            match sys::write(netout, up.bytes()) {
                Ok(k) => {
                    up.consume(k);
                    if let Some(i) = o.interval {
                        sys::sleep_secs(f64::from(i));
                    }
                }
                Err(e) if closed(&e) => {
                    if is_reset(&e) {
                        if netin == -1 {
                            narr.reset();
                        } else if !o.datagram {
                            // The error is consumed by this write: the read
                            // side would see only an end of file.
                            reset_early = true;
                            narr.reset();
                        }
                    }
                    netout = -1;
                    stdin_fd = -1;
                    up.clear();
                }
                Err(_) => {}
            }
        }
        // network -> output, zero-copy.
        if down_waiting && rev(POLL_STDOUT) & libc::POLLOUT != 0 {
            down_waiting = false;
        }
        if down_splice && netin != -1 && stdout_fd != -1 && netin_asks && rev(POLL_NETIN) != 0 {
            match sys::splice(netin, stdout_fd, SPLICE_LEN) {
                Ok(0) => {
                    // The peer's FIN.
                    shut(netin, libc::SHUT_RD);
                    netin = -1;
                    narr.peer_fin(net);
                }
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => down_waiting = true,
                // The output pipe's reader left: a quiet end, as nc.
                Err(e) if e.raw_os_error() == Some(libc::EPIPE) => stdout_fd = -1,
                // This pair refuses splice (nothing was moved): buffers.
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => down_splice = false,
                Err(e) if closed(&e) => {
                    if e.raw_os_error() == Some(libc::ECONNRESET) {
                        reset_early = true;
                        narr.reset();
                    }
                    netin = -1;
                }
                Err(_) => {}
            }
        }
        // network -> buffer (only when asked: the buffer has room).
        if !down_splice && netin != -1 && netin_asks && rev(POLL_NETIN) != 0 {
            let sp = down.space();
            match sys::read(netin, sp) {
                Ok(0) if !o.datagram => {
                    // The peer's FIN (or the end after a reset already seen).
                    shut(netin, libc::SHUT_RD);
                    netin = -1;
                    narr.peer_fin(net);
                }
                Ok(k) => {
                    if o.telnet {
                        let replies = telnet_replies(&sp[..k]);
                        if !replies.is_empty() {
                            // As nc's atelnet: the refusals go straight
                            // to the socket. A failure is the socket's
                            // own error (reset, closed), which the
                            // relay's next network read or write meets
                            // and reports; the refusal itself is a
                            // courtesy the peer can live without.
                            let _ = sys::write(net, &replies);
                        }
                    }
                    down.end += k;
                    reads += 1;
                    if o.recv_limit.is_some_and(|l| reads >= l) {
                        shut(netin, libc::SHUT_RD);
                        netin = -1;
                        stdin_fd = -1;
                    }
                }
                Err(e) if closed(&e) => {
                    if e.raw_os_error() == Some(libc::ECONNRESET) && !o.datagram {
                        reset_early = true;
                        narr.reset();
                    }
                    netin = -1;
                }
                Err(_) => {}
            }
        }
        // buffer -> stdout
        if stdout_fd != -1 && rev(POLL_STDOUT) & libc::POLLOUT != 0 && !down.is_empty() {
            match sys::write(stdout_fd, down.bytes()) {
                Ok(k) => down.consume(k),
                Err(e) if e.raw_os_error() == Some(libc::EPIPE) => {
                    // The reader left: a quiet end, as nc.
                    stdout_fd = -1;
                    down.clear();
                }
                Err(e) if closed(&e) => return End::OutputFailed(e),
                Err(_) => {}
            }
        }
        // A reset: nothing more will be sent or received; what is
        // buffered for stdout is still delivered.
        if reset_early {
            netin = -1;
            netout = -1;
            stdin_fd = -1;
            up.clear();
        }
        // stdin gone and its queue empty: no more network output (FIN with -N).
        if stdin_fd == -1 && up.is_empty() && netout != -1 {
            if o.fin_on_eof {
                shut(netout, libc::SHUT_WR);
                narr.half_closed(net);
            }
            netout = -1;
        }
        // -q N on a datagram socket: stdin is done, the countdown starts.
        if let Some(q) = o.quit_datagram {
            if stdin_fd == -1 && up.is_empty() && quit_at.is_none() {
                quit_at = Some(Instant::now() + Duration::from_secs(q));
            }
        }
        // Network input gone and its queue empty: no more stdout.
        if netin == -1 && down.is_empty() {
            stdout_fd = -1;
        }
    }
    if reset_early {
        End::Reset
    } else {
        End::Done
    }
}

/// How long a drain after a signal waits for a reader that takes nothing.
const DRAIN_STALL_MS: i32 = 500;

/// After SIGINT, SIGTERM or the `-w` timeout: writes what was already read
/// and is still buffered (network data to `out`, input to `net`), so that
/// nothing read is lost, then returns. It gives up when neither side takes
/// a byte for DRAIN_STALL_MS, or at a second signal: a stdout or a peer
/// that never reads must not keep rnc alive.
fn drain(down: &mut Buf, mut out: RawFd, up: &mut Buf, mut net: RawFd, sigfd: RawFd) {
    loop {
        if down.is_empty() {
            out = -1;
        }
        if up.is_empty() {
            net = -1;
        }
        if out == -1 && net == -1 {
            return;
        }
        let mut pfd = [PollFd::new(-1, 0); 3];
        pfd[DRAIN_STDOUT] = PollFd::new(out, libc::POLLOUT);
        pfd[DRAIN_NETOUT] = PollFd::new(net, libc::POLLOUT);
        pfd[DRAIN_SIG] = PollFd::new(sigfd, libc::POLLIN);
        match sys::poll(&mut pfd, DRAIN_STALL_MS) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return,
        }
        if pfd[DRAIN_SIG].has(libc::POLLIN) && sys::take_signal(sigfd).is_some() {
            return;
        }
        for (slot, fd, buf) in [
            (DRAIN_STDOUT, &mut out, &mut *down),
            (DRAIN_NETOUT, &mut net, &mut *up),
        ] {
            let r = pfd[slot].revents();
            if r & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0 {
                *fd = -1;
            } else if r & libc::POLLOUT != 0 {
                match sys::write(*fd, buf.bytes()) {
                    Ok(k) => buf.consume(k),
                    Err(e) if closed(&e) => *fd = -1,
                    Err(_) => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rnet_testkit::pattern;
    use std::cell::Cell;
    use std::io::{Read, Write};
    use std::os::fd::{AsRawFd, OwnedFd};
    use std::os::unix::net::{UnixDatagram, UnixStream};
    use std::thread;

    thread_local! {
        /// The path the current test runs on (see `both_paths`).
        static SPLICE: Cell<Splice> = const { Cell::new(Splice::Off) };
    }

    /// The options every test starts from, on the path being tested.
    fn base() -> RelayOpts {
        RelayOpts {
            splice: SPLICE.with(Cell::get),
            ..RelayOpts::default()
        }
    }

    /// Runs `test` through the buffers, then on the zero-copy paths both
    /// ways: the same guarantees must hold on both.
    fn both_paths(test: fn()) {
        for splice in [Splice::Off, Splice::Both] {
            SPLICE.with(|s| s.set(splice));
            test();
        }
    }

    #[test]
    fn rnc_splice_values() {
        use std::ffi::OsStr;
        assert_eq!(Splice::from_env(None), Splice::Down);
        for (v, want) in [
            ("all", Splice::Both),
            (" ALL ", Splice::Both),
            ("0", Splice::Off),
            ("off", Splice::Off),
            ("", Splice::Off),
            ("1", Splice::Down),
            ("yes", Splice::Down),
            ("both", Splice::Both),
            ("up", Splice::Down),
        ] {
            assert_eq!(Splice::from_env(Some(OsStr::new(v))), want, "{v:?}");
        }
    }

    #[test]
    fn telnet_negotiation_is_refused() {
        assert_eq!(
            telnet_replies(&[IAC, DO, 1, b'x', IAC, WILL, 3]),
            vec![IAC, WONT, 1, IAC, DONT, 3]
        );
        assert!(telnet_replies(b"plain").is_empty());
        assert!(telnet_replies(&[IAC]).is_empty());
    }

    #[test]
    fn crlf_expands_every_newline() {
        let mut b = *b"a\n\nb\0\0\0";
        assert_eq!(crlf_in_place(&mut b, 4), 6);
        assert_eq!(&b[..6], b"a\r\n\r\nb");
        let mut one = [b'\n', 0];
        assert_eq!(crlf_in_place(&mut one, 1), 2);
        assert_eq!(one, *b"\r\n");
    }

    /// What a relay run produced.
    struct Outcome {
        end: End,
        /// What reached the output descriptor.
        out: Vec<u8>,
        /// What the peer read from the socket before its end of file.
        peer_got: Vec<u8>,
    }

    /// One relay run over pipes and a socketpair:
    /// - `input`: written to the relay's input pipe, then the pipe is
    ///   closed (`None`: no input descriptor, as with `-d`);
    /// - `from_peer`: what the peer sends, then (with `peer_fin`) its
    ///   FIN, then it reads until end of file;
    /// - `stall`: how long nobody reads the output pipe, and the peer
    ///   does not read the socket, so every buffer on the way fills up.
    ///
    /// The relay's socket send buffer is made small so that the input pipe
    /// still holds data, and its writer has already closed it, while the
    /// relay's own buffer is full (the state that lost data before).
    fn run(
        o: RelayOpts,
        input: Option<Vec<u8>>,
        from_peer: Vec<u8>,
        peer_fin: bool,
        stall: Duration,
    ) -> Outcome {
        let (ours, peer) = UnixStream::pair().expect("socketpair");
        ours.set_nonblocking(true).expect("nonblocking");
        socket2::SockRef::from(&ours)
            .set_send_buffer_size(4096)
            .expect("SO_SNDBUF");
        let (in_r, mut in_w) = std::io::pipe().expect("pipe");
        let (mut out_r, out_w) = std::io::pipe().expect("pipe");
        let (sig_r, _sig_w) = std::io::pipe().expect("pipe");
        let has_input = input.is_some();
        let feeder = thread::spawn(move || {
            if let Some(data) = input {
                let _ = in_w.write_all(&data);
            }
            drop(in_w);
        });
        let mut peer_w = peer.try_clone().expect("clone");
        let mut peer_r = peer;
        let peer_thread = thread::spawn(move || {
            let writer = thread::spawn(move || {
                let _ = peer_w.write_all(&from_peer);
                if peer_fin {
                    let _ = peer_w.shutdown(std::net::Shutdown::Write);
                }
                peer_w
            });
            thread::sleep(stall);
            let mut got = Vec::new();
            let _ = peer_r.read_to_end(&mut got);
            let keep = writer.join().expect("peer writer");
            (got, keep)
        });
        let reader = thread::spawn(move || {
            thread::sleep(stall);
            let mut out = Vec::new();
            let _ = out_r.read_to_end(&mut out);
            out
        });
        let ends = Ends {
            input: if has_input { in_r.as_raw_fd() } else { -1 },
            output: out_w.as_raw_fd(),
        };
        let o = RelayOpts {
            no_stdin: !has_input,
            ..o
        };
        let mut narr = Narrator::new("rnc", false);
        let end = relay_ends(ends, ours.as_raw_fd(), &o, &mut narr, sig_r.as_raw_fd());
        drop(OwnedFd::from(out_w));
        drop(in_r);
        drop(ours);
        feeder.join().expect("feeder");
        let out = reader.join().expect("reader");
        let (peer_got, _peer) = peer_thread.join().expect("peer");
        Outcome { end, out, peer_got }
    }

    const STALL: Duration = Duration::from_millis(300);

    /// Asserts that `got` is exactly `want`, saying how much arrived.
    fn same(what: &str, got: &[u8], want: &[u8]) {
        assert!(
            got == want,
            "{what}: {} bytes where {} were sent (first difference at {:?})",
            got.len(),
            want.len(),
            got.iter().zip(want).position(|(a, b)| a != b)
        );
    }

    #[test]
    fn plain_keeps_every_byte_both_ways_with_stalled_ends() {
        both_paths(plain_keeps_every_byte_both_ways_with_stalled_ends_on);
    }

    fn plain_keeps_every_byte_both_ways_with_stalled_ends_on() {
        let up = pattern(150 * 1024, 1);
        let down = pattern(700 * 1024, 2);
        let r = run(base(), Some(up.clone()), down.clone(), true, STALL);
        assert!(matches!(r.end, End::Done), "{:?}", r.end);
        same("output", &r.out, &down);
        same("peer", &r.peer_got, &up);
    }

    /// `-N` (and `-q N`, which sets the same rule): the input ends at
    /// once, the FIN goes out, and the peer's data and FIN arrive while
    /// stdout is stalled: the socket reports a hang-up (both directions
    /// shut) with data still queued, which must not count as the end.
    #[test]
    fn fin_on_eof_reads_everything_queued_after_hangup() {
        both_paths(fin_on_eof_reads_everything_queued_after_hangup_on);
    }

    fn fin_on_eof_reads_everything_queued_after_hangup_on() {
        let o = RelayOpts {
            fin_on_eof: true,
            ..base()
        };
        let down = pattern(900 * 1024, 3);
        let r = run(o, Some(Vec::new()), down.clone(), true, STALL);
        assert!(matches!(r.end, End::Done), "{:?}", r.end);
        same("output", &r.out, &down);
        assert!(r.peer_got.is_empty());

        let up = pattern(190 * 1024, 4);
        let r = run(o, Some(up.clone()), down.clone(), true, STALL);
        same("output", &r.out, &down);
        same("peer", &r.peer_got, &up);
    }

    #[test]
    fn no_stdin_relays_the_network_only() {
        both_paths(no_stdin_relays_the_network_only_on);
    }

    fn no_stdin_relays_the_network_only_on() {
        let down = pattern(400 * 1024, 5);
        let r = run(base(), None, down.clone(), true, STALL);
        assert!(matches!(r.end, End::Done), "{:?}", r.end);
        same("output", &r.out, &down);
        assert!(r.peer_got.is_empty());
    }

    /// `-C` with input that is all newlines (every byte doubles) and with
    /// long lines, while the peer is stalled: each `\n` becomes `\r\n`,
    /// nothing else changes, no panic at the buffer's edge.
    #[test]
    fn crlf_doubles_newlines_at_every_buffer_edge() {
        both_paths(crlf_doubles_newlines_at_every_buffer_edge_on);
    }

    fn crlf_doubles_newlines_at_every_buffer_edge_on() {
        let o = RelayOpts {
            crlf: true,
            fin_on_eof: true,
            ..base()
        };
        let mut mixed = pattern(300 * 1024, 6);
        for (i, b) in mixed.iter_mut().enumerate() {
            if i % 97 == 0 || *b == b'\r' {
                *b = b'\n';
            }
        }
        for input in [vec![b'\n'; 200 * 1024], mixed, vec![b'a'; 200 * 1024]] {
            let want: Vec<u8> = input
                .iter()
                .flat_map(|b| {
                    if *b == b'\n' {
                        vec![b'\r', b'\n']
                    } else {
                        vec![*b]
                    }
                })
                .collect();
            let r = run(o, Some(input), Vec::new(), true, STALL);
            assert!(matches!(r.end, End::Done), "{:?}", r.end);
            same("peer", &r.peer_got, &want);
        }
    }

    /// A listener ends at the peer's FIN, after delivering all of it.
    #[test]
    fn listener_delivers_everything_before_it_ends() {
        both_paths(listener_delivers_everything_before_it_ends_on);
    }

    fn listener_delivers_everything_before_it_ends_on() {
        let o = RelayOpts {
            listener: true,
            ..base()
        };
        let down = pattern(500 * 1024, 7);
        let r = run(o, Some(pattern(10, 8)), down.clone(), true, STALL);
        assert!(matches!(r.end, End::Done), "{:?}", r.end);
        same("output", &r.out, &down);
    }

    /// The peer resets (closes with our bytes unread): what it sent
    /// before is all delivered, then the relay ends with `End::Reset`.
    #[test]
    fn reset_delivers_what_came_before_it() {
        both_paths(reset_delivers_what_came_before_it_on);
    }

    fn reset_delivers_what_came_before_it_on() {
        let (ours, peer) = UnixStream::pair().expect("socketpair");
        ours.set_nonblocking(true).expect("nonblocking");
        let down = pattern(100 * 1024, 9);
        let (in_r, mut in_w) = std::io::pipe().expect("pipe");
        let (mut out_r, out_w) = std::io::pipe().expect("pipe");
        let (sig_r, _sig_w) = std::io::pipe().expect("pipe");
        in_w.write_all(b"never read by the peer").expect("input");
        let sent = down.clone();
        let peer_thread = thread::spawn(move || {
            let mut p = peer;
            p.write_all(&sent).expect("peer write");
            // Wait until our bytes are queued unread here, then close:
            // the kernel resets the connection.
            thread::sleep(Duration::from_millis(200));
            drop(p);
        });
        let reader = thread::spawn(move || {
            thread::sleep(STALL);
            let mut out = Vec::new();
            let _ = out_r.read_to_end(&mut out);
            out
        });
        let ends = Ends {
            input: in_r.as_raw_fd(),
            output: out_w.as_raw_fd(),
        };
        let mut narr = Narrator::new("rnc", false);
        let end = relay_ends(
            ends,
            ours.as_raw_fd(),
            &base(),
            &mut narr,
            sig_r.as_raw_fd(),
        );
        drop(out_w);
        peer_thread.join().expect("peer");
        let out = reader.join().expect("reader");
        assert!(matches!(end, End::Reset), "{end:?}");
        same("output", &out, &down);
        drop(in_w);
    }

    /// A write error on the output other than a broken pipe ends the
    /// relay with that error; a reader that leaves is a quiet end.
    #[test]
    fn output_errors_are_reported_and_broken_pipe_is_quiet() {
        both_paths(output_errors_are_reported_and_broken_pipe_is_quiet_on);
    }

    fn output_errors_are_reported_and_broken_pipe_is_quiet_on() {
        let (ours, peer) = UnixStream::pair().expect("socketpair");
        ours.set_nonblocking(true).expect("nonblocking");
        let mut p = peer.try_clone().expect("clone");
        p.write_all(b"data for a full disk\n").expect("peer write");
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full");
        let (sig_r, _sig_w) = std::io::pipe().expect("pipe");
        let ends = Ends {
            input: -1,
            output: full.as_raw_fd(),
        };
        let o = RelayOpts {
            no_stdin: true,
            ..base()
        };
        let mut narr = Narrator::new("rnc", false);
        let end = relay_ends(ends, ours.as_raw_fd(), &o, &mut narr, sig_r.as_raw_fd());
        match end {
            End::OutputFailed(e) => assert_eq!(e.raw_os_error(), Some(libc::ENOSPC)),
            other => panic!("{other:?}"),
        }

        let (out_r, out_w) = std::io::pipe().expect("pipe");
        drop(out_r);
        p.write_all(b"nobody reads this\n").expect("peer write");
        let ends = Ends {
            input: -1,
            output: out_w.as_raw_fd(),
        };
        let end = relay_ends(ends, ours.as_raw_fd(), &o, &mut narr, sig_r.as_raw_fd());
        assert!(matches!(end, End::Done), "{end:?}");
        drop(peer);
    }

    /// SIGINT or SIGTERM (`idle: None`) or the `-w` timeout while stdout
    /// is stalled: what the relay already read from the network is written
    /// out before it ends. Proof: its output plus what is still queued in
    /// the socket is exactly what the peer sent.
    fn drains_what_was_read(idle: Option<u32>) {
        let (ours, peer) = UnixStream::pair().expect("socketpair");
        ours.set_nonblocking(true).expect("nonblocking");
        let sent = pattern(1200 * 1024, 11);
        // A non-blocking output, so that the relay waits in poll with its
        // buffer full (a blocking pipe would hold it inside write(2), which
        // only a real signal interrupts).
        let (mut out_r, out_w) = UnixStream::pair().expect("socketpair");
        out_w.set_nonblocking(true).expect("nonblocking");
        let (sig_r, mut sig_w) = std::io::pipe().expect("pipe");
        let data = sent.clone();
        // The peer sends until the socket takes no more (the relay stops
        // reading when its buffer is full): `sent` is cut to what it wrote.
        let peer_thread = thread::spawn(move || {
            let mut p = peer;
            p.set_write_timeout(Some(Duration::from_millis(200)))
                .expect("write timeout");
            let mut n = 0;
            while n < data.len() {
                match p.write(&data[n..]) {
                    Ok(k) => n += k,
                    Err(_) => break,
                }
            }
            (p, n)
        });
        let reader = thread::spawn(move || {
            thread::sleep(STALL);
            // Everything is buffered on the way now; then the signal, or
            // the -w timeout passes (and a little more).
            match idle {
                None => sig_w.write_all(&[libc::SIGINT as u8]).expect("signal pipe"),
                Some(w) => thread::sleep(Duration::from_secs(u64::from(w))),
            }
            thread::sleep(Duration::from_millis(100));
            let mut out = Vec::new();
            let _ = out_r.read_to_end(&mut out);
            out
        });
        let ends = Ends {
            input: -1,
            output: out_w.as_raw_fd(),
        };
        let o = RelayOpts {
            no_stdin: true,
            idle,
            ..base()
        };
        let mut narr = Narrator::new("rnc", false);
        let end = relay_ends(ends, ours.as_raw_fd(), &o, &mut narr, sig_r.as_raw_fd());
        drop(out_w);
        let out = reader.join().expect("reader");
        let (_peer, n) = peer_thread.join().expect("peer");
        let sent = &sent[..n];
        let mut rest = Vec::new();
        let mut r = &ours;
        let mut buf = [0u8; 65536];
        while let Ok(k) = r.read(&mut buf) {
            if k == 0 {
                break;
            }
            rest.extend_from_slice(&buf[..k]);
        }
        match idle {
            None => assert!(
                matches!(end, End::Signal(s) if s == libc::SIGINT),
                "{end:?}"
            ),
            Some(_) => assert!(matches!(end, End::Idle), "{end:?}"),
        }
        assert!(out.len() > 64 * 1024, "only {} bytes out", out.len());
        let mut both = out.clone();
        both.extend_from_slice(&rest);
        same("output + still queued", &both, sent);
    }

    #[test]
    fn a_signal_drains_what_was_read() {
        both_paths(a_signal_drains_what_was_read_on);
    }

    fn a_signal_drains_what_was_read_on() {
        drains_what_was_read(None);
    }

    #[test]
    fn the_idle_timeout_drains_what_was_read() {
        both_paths(the_idle_timeout_drains_what_was_read_on);
    }

    fn the_idle_timeout_drains_what_was_read_on() {
        drains_what_was_read(Some(1));
    }

    /// Datagrams (`-u`): each arrives whole even while stdout is stalled
    /// (a datagram is read only into room for the largest one).
    #[test]
    fn datagrams_arrive_whole_with_stalled_output() {
        let (ours, peer) = UnixDatagram::pair().expect("socketpair");
        ours.set_nonblocking(true).expect("nonblocking");
        let sizes = [60_000usize, 1, 65_000, 30_000, 12_345, 64_000, 50_000, 7];
        let grams: Vec<Vec<u8>> = sizes
            .iter()
            .enumerate()
            .map(|(i, n)| pattern(*n, 20 + i as u32))
            .collect();
        let want: Vec<u8> = grams.concat();
        let (mut out_r, out_w) = std::io::pipe().expect("pipe");
        let (sig_r, mut sig_w) = std::io::pipe().expect("pipe");
        let total = want.len();
        let sender = thread::spawn(move || {
            for g in &grams {
                peer.send(g).expect("send");
            }
            peer
        });
        let reader = thread::spawn(move || {
            thread::sleep(STALL);
            let mut out = Vec::new();
            let mut buf = vec![0u8; 65536];
            while out.len() < total {
                match out_r.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(k) => out.extend_from_slice(&buf[..k]),
                }
            }
            // Everything is here: stop the relay as SIGTERM would.
            sig_w
                .write_all(&[libc::SIGTERM as u8])
                .expect("signal pipe");
            out
        });
        let o = RelayOpts {
            no_stdin: true,
            datagram: true,
            ..base()
        };
        let ends = Ends {
            input: -1,
            output: out_w.as_raw_fd(),
        };
        let mut narr = Narrator::new("rnc", false);
        let end = relay_ends(ends, ours.as_raw_fd(), &o, &mut narr, sig_r.as_raw_fd());
        drop(out_w);
        let _peer = sender.join().expect("sender");
        let out = reader.join().expect("reader");
        assert!(
            matches!(end, End::Signal(s) if s == libc::SIGTERM),
            "{end:?}"
        );
        same("output", &out, &want);
    }

    /// `-q N` on a datagram socket: stdin's end starts N seconds during
    /// which datagrams are still delivered; then the relay ends by itself
    /// (there is no FIN), and with N = 0 at once.
    #[test]
    fn datagram_quit_timer_reads_until_it_expires() {
        for (q, late) in [(0u64, false), (1, true)] {
            let (ours, peer) = UnixDatagram::pair().expect("socketpair");
            ours.set_nonblocking(true).expect("nonblocking");
            let (in_r, in_w) = std::io::pipe().expect("pipe");
            let (mut out_r, out_w) = std::io::pipe().expect("pipe");
            let (sig_r, _sig_w) = std::io::pipe().expect("pipe");
            drop(in_w); // stdin ends at once
            let sender = thread::spawn(move || {
                thread::sleep(Duration::from_millis(300));
                let _ = peer.send(b"late\n");
                peer
            });
            let o = RelayOpts {
                datagram: true,
                fin_on_eof: true,
                quit_datagram: Some(q),
                ..base()
            };
            let ends = Ends {
                input: in_r.as_raw_fd(),
                output: out_w.as_raw_fd(),
            };
            let mut narr = Narrator::new("rnc", false);
            let start = Instant::now();
            let end = relay_ends(ends, ours.as_raw_fd(), &o, &mut narr, sig_r.as_raw_fd());
            let took = start.elapsed();
            drop(out_w);
            let _peer = sender.join().expect("sender");
            let mut out = Vec::new();
            out_r.read_to_end(&mut out).expect("output");
            assert!(matches!(end, End::Done), "-q {q}: {end:?}");
            assert!(
                took >= Duration::from_secs(q)
                    && took < Duration::from_secs(q) + Duration::from_millis(900),
                "-q {q}: ended after {took:?}"
            );
            let want: &[u8] = if late { b"late\n" } else { b"" };
            same(&format!("-q {q} output"), &out, want);
        }
    }
}
