//! The data path: netcat's `readwrite()`, one `poll` over stdin, the
//! socket (both directions) and stdout, with a buffer per direction.
//!
//! The stop and half-close rules are OpenBSD nc's, each as a comment
//! above its check. Where nc drops data (a listener with `-q` stops
//! reading the network at its own stdin EOF), rnc keeps reading.

use crate::narrate::Narrator;
use crate::sys::{self, PollFd};
use std::io::ErrorKind;
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

/// Buffer size per direction. Larger than nc's 16 KiB: fewer system calls.
const BUF: usize = 128 * 1024;

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
}

/// Why the relay ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// Both directions finished by netcat's rules.
    Done,
    /// `-w` seconds without traffic.
    Idle,
    /// SIGINT or SIGTERM.
    Signal(i32),
}

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
    fn space(&mut self) -> &mut [u8] {
        if self.start > 0 && self.end == self.data.len() {
            self.data.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        &mut self.data[self.end..]
    }
    fn has_space(&self) -> bool {
        self.end < self.data.len() || self.start > 0
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

fn closed(e: &std::io::Error) -> bool {
    !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted)
}

/// Runs the relay on socket `net` until netcat's rules end it.
pub fn relay(net: RawFd, o: &RelayOpts, narr: &mut Narrator, sigfd: RawFd) -> End {
    let mut stdin_fd: RawFd = if o.no_stdin { -1 } else { 0 };
    let mut netin: RawFd = net;
    let mut netout: RawFd = net;
    let mut stdout_fd: RawFd = 1;
    let mut up = Buf::new();
    let mut down = Buf::new();
    let mut reads: u64 = 0;
    let mut last_activity = Instant::now();
    loop {
        // Both inputs are gone and the buffers are empty: done.
        if stdin_fd == -1 && netin == -1 && up.is_empty() && down.is_empty() {
            return End::Done;
        }
        // Both outputs are gone: nothing more can be delivered.
        if netout == -1 && stdout_fd == -1 {
            return End::Done;
        }
        // A listener is done once the network input is gone and the queues
        // are empty, whatever its stdin is doing.
        if o.listener && netin == -1 && up.is_empty() && down.is_empty() {
            return End::Done;
        }
        // Every open direction stays in the set, asking for nothing when
        // its buffer is full or empty: poll still reports errors and hang-ups
        // (a RST after the peer's process died ends the relay, as in nc).
        let want = |on: bool, ev: i16| if on { ev } else { 0 };
        let mut pfd: [PollFd; 5] = [
            sys::pollfd(stdin_fd, want(up.has_space(), libc::POLLIN)),
            sys::pollfd(netout, want(!up.is_empty(), libc::POLLOUT)),
            sys::pollfd(netin, want(down.has_space(), libc::POLLIN)),
            sys::pollfd(stdout_fd, want(!down.is_empty(), libc::POLLOUT)),
            sys::pollfd(sigfd, libc::POLLIN),
        ];
        let mut timeout: i32 = -1;
        if let Some(w) = o.idle {
            let left = Duration::from_secs(u64::from(w)).saturating_sub(last_activity.elapsed());
            timeout = left.as_millis().min(i32::MAX as u128) as i32;
        }
        if narr.on() {
            timeout = if timeout < 0 { 100 } else { timeout.min(100) };
        }
        let n = match sys::poll(&mut pfd, timeout) {
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return End::Done,
        };
        narr.tick(net);
        if n == 0 {
            if let Some(w) = o.idle {
                if last_activity.elapsed() >= Duration::from_secs(u64::from(w)) {
                    return End::Idle;
                }
            }
            continue;
        }
        last_activity = Instant::now();
        if pfd[4].revents & libc::POLLIN != 0 {
            if let Some(sig) = sys::take_signal(sigfd) {
                return End::Signal(sig);
            }
        }
        // Errors and invalid descriptors: stop using that direction.
        for (i, fd) in [&mut stdin_fd, &mut netout, &mut netin, &mut stdout_fd]
            .into_iter()
            .enumerate()
        {
            if pfd[i].revents & (libc::POLLERR | libc::POLLNVAL) != 0 {
                if i == 1 || i == 2 {
                    if let Some(e) = sys::so_error(net) {
                        if e == libc::ECONNRESET {
                            narr.reset();
                        }
                    }
                }
                *fd = -1;
            }
        }
        // Reading is possible after HUP, until the data is drained (only
        // judged when we asked to read: a full buffer is not an end).
        let hup_only = |p: &PollFd| {
            p.events & libc::POLLIN != 0
                && p.revents & libc::POLLHUP != 0
                && p.revents & libc::POLLIN == 0
        };
        if hup_only(&pfd[0]) {
            stdin_fd = -1;
        }
        if hup_only(&pfd[2]) {
            netin = -1;
        }
        // The network cannot take more: stop sending (FIN with -N).
        if pfd[1].revents & libc::POLLHUP != 0 && netout != -1 {
            if o.fin_on_eof {
                sys::shutdown(netout, libc::SHUT_WR);
            }
            netout = -1;
        }
        // stdout hung up: stop writing it.
        if pfd[3].revents & libc::POLLHUP != 0 {
            stdout_fd = -1;
        }
        // No network output: stop reading stdin.
        if netout == -1 {
            stdin_fd = -1;
        }
        // No stdout: stop reading the network.
        if stdout_fd == -1 {
            if netin != -1 {
                sys::shutdown(netin, libc::SHUT_RD);
            }
            netin = -1;
        }
        // stdin -> buffer
        if stdin_fd != -1 && pfd[0].revents & (libc::POLLIN | libc::POLLHUP) != 0 {
            let sp = up.space();
            // With -C, read into the first half and expand `\n` to `\r\n`
            // in place, from the end backwards (the result fits in 2k).
            let room = if o.crlf {
                (sp.len() / 2).max(1)
            } else {
                sp.len()
            };
            let r = sys::read(stdin_fd, &mut sp[..room]);
            if let (true, Ok(k)) = (o.crlf, &r) {
                let k = *k;
                let lf = sp[..k].iter().filter(|b| **b == b'\n').count();
                let (mut src, mut dst) = (k, k + lf);
                while src > 0 {
                    src -= 1;
                    dst -= 1;
                    sp[dst] = sp[src];
                    if sp[src] == b'\n' {
                        dst -= 1;
                        sp[dst] = b'\r';
                    }
                }
                up.end += k + lf;
            } else if let Ok(k) = r {
                up.end += k;
            }
            match r {
                Ok(0) => stdin_fd = -1,
                Ok(_) => {}
                Err(e) if closed(&e) => stdin_fd = -1,
                Err(_) => {}
            }
        }
        // buffer -> network
        if netout != -1 && pfd[1].revents & libc::POLLOUT != 0 && !up.is_empty() {
            match sys::write(netout, up.bytes()) {
                Ok(k) => {
                    up.consume(k);
                    if let Some(i) = o.interval {
                        sys::sleep_secs(f64::from(i));
                    }
                }
                Err(e) if closed(&e) => {
                    if e.raw_os_error() == Some(libc::ECONNRESET)
                        || e.raw_os_error() == Some(libc::EPIPE)
                    {
                        narr.reset();
                    }
                    netout = -1;
                    stdin_fd = -1;
                    up.consume(up.bytes().len());
                }
                Err(_) => {}
            }
        }
        // network -> buffer
        if netin != -1 && pfd[2].revents & (libc::POLLIN | libc::POLLHUP) != 0 {
            let sp = down.space();
            match sys::read(netin, sp) {
                Ok(0) if !o.datagram => {
                    // The peer's FIN.
                    sys::shutdown(netin, libc::SHUT_RD);
                    netin = -1;
                    narr.peer_fin(net);
                }
                Ok(k) => {
                    if o.telnet {
                        let replies = telnet_replies(&sp[..k]);
                        if !replies.is_empty() {
                            let _ = sys::write(net, &replies);
                        }
                    }
                    down.end += k;
                    reads += 1;
                    if o.recv_limit.is_some_and(|l| reads >= l) {
                        sys::shutdown(netin, libc::SHUT_RD);
                        netin = -1;
                        stdin_fd = -1;
                    }
                }
                Err(e) if closed(&e) => {
                    if e.raw_os_error() == Some(libc::ECONNRESET) {
                        narr.reset();
                    }
                    netin = -1;
                }
                Err(_) => {}
            }
        }
        // buffer -> stdout
        if stdout_fd != -1 && pfd[3].revents & libc::POLLOUT != 0 && !down.is_empty() {
            match sys::write(stdout_fd, down.bytes()) {
                Ok(k) => down.consume(k),
                Err(e) if closed(&e) => {
                    stdout_fd = -1;
                    let n = down.bytes().len();
                    down.consume(n);
                }
                Err(_) => {}
            }
        }
        // stdin gone and its queue empty: no more network output (FIN with -N).
        if stdin_fd == -1 && up.is_empty() && netout != -1 {
            if o.fin_on_eof {
                sys::shutdown(netout, libc::SHUT_WR);
                narr.tick(net);
            }
            netout = -1;
        }
        // Network input gone and its queue empty: no more stdout.
        if netin == -1 && down.is_empty() {
            stdout_fd = -1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn telnet_negotiation_is_refused() {
        assert_eq!(
            telnet_replies(&[IAC, DO, 1, b'x', IAC, WILL, 3]),
            vec![IAC, WONT, 1, IAC, DONT, 3]
        );
        assert!(telnet_replies(b"plain").is_empty());
        assert!(telnet_replies(&[IAC]).is_empty());
    }
}
