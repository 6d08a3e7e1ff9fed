//! One connection's life, the same for every mode: waiting for it
//! (`accept`, `wait_readable`), narration of the handshake, the relay, the
//! close, and what the relay's end means for the run (`finish`).

use crate::cli::Options;
use crate::error::Error;
use crate::narrate::Narrator;
use crate::net::{Connected, Transport};
use crate::relay::{self, End, RelayOpts, Splice};
use crate::sys::{self, Wake};
use socket2::{SockAddr, Socket};
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};

/// What a mode runs with.
pub(crate) struct Session<'a> {
    /// The program name that starts rnc's messages.
    pub prog: &'a str,
    /// The command line.
    pub o: &'a Options,
    /// `--explain`.
    pub narr: &'a mut Narrator,
    /// The read end of the signal pipe.
    pub sigfd: RawFd,
}

/// Waits until `fd` has something to read (a client to accept, a
/// datagram) or a signal comes (`Error::Signal`). A failed poll is
/// `WHAT: ERROR`, `what` naming the call that was waited for.
pub(crate) fn wait_readable(fd: RawFd, sigfd: RawFd, what: &str) -> Result<(), Error> {
    loop {
        match sys::wait_fd(fd, libc::POLLIN, sigfd, -1).map_err(|e| Error::os(what, e))? {
            Wake::Signal(sig) => return Err(Error::Signal(sig)),
            Wake::Timeout => continue,
            Wake::Ready => return Ok(()),
        }
    }
}

/// Waits for a connection on listening socket `l` (or a signal) and
/// accepts it. A failed wait or accept is `accept: ERROR`.
pub(crate) fn accept(l: &Socket, sigfd: RawFd) -> Result<(Socket, SockAddr), Error> {
    loop {
        wait_readable(l.as_raw_fd(), sigfd, "accept")?;
        match l.accept() {
            Ok(c) => return Ok(c),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::os("accept", e)),
        }
    }
}

/// The relay's options for a run.
/// `RNC_SPLICE=0`: always relay through the buffers; `all`: splice a pipe
/// on stdin into the socket too ([`Splice`]).
pub const SPLICE_ENV: &str = "RNC_SPLICE";

pub(crate) fn relay_opts(o: &Options, t: Transport, listener: bool) -> RelayOpts {
    RelayOpts {
        no_stdin: o.no_stdin,
        fin_on_eof: o.shutdown_on_eof || o.quit.is_some_and(|q| q >= 0),
        listener,
        // -w 0 is a zero poll timeout, as in nc: end at the first idle poll.
        idle: o.timeout,
        crlf: o.crlf,
        interval: o.interval.filter(|i| *i > 0),
        telnet: o.telnet,
        recv_limit: o.recv_limit,
        datagram: t == Transport::Udp,
        // -q N on a datagram socket (UDP, or UNIX with -u): nc stops at
        // stdin EOF, N seconds later; there is no FIN to wait for.
        quit_datagram: o.quit.filter(|q| *q >= 0 && o.udp).map(|q| q as u64),
        // The zero-copy paths (man/rnc.1, ENVIRONMENT).
        splice: Splice::from_env(std::env::var_os(SPLICE_ENV).as_deref()),
    }
}

/// After a relay: `-q` lingers (a datagram relay has already lingered,
/// reading, inside the relay); SIGINT or SIGTERM (during the relay or the
/// linger) end rnc by that signal; a reset or a failed write to stdout is
/// an error of the run.
pub(crate) fn finish(o: &Options, end: End, sigfd: i32) -> Result<(), Error> {
    match end {
        End::Signal(sig) => Err(Error::Signal(sig)),
        End::Done | End::Idle => {
            if let Some(q) = o.quit.filter(|q| *q > 0 && !o.udp) {
                if let Some(sig) = sys::sleep_or_signal(q as f64, sigfd) {
                    return Err(Error::Signal(sig));
                }
            }
            Ok(())
        }
        End::Reset => Err(Error::Msg(
            "read from network: Connection reset by peer".into(),
        )),
        End::OutputFailed(e) => Err(Error::os("write to stdout", e)),
    }
}

/// `finish` for a listener that goes on after this client (`-k`): a
/// signal still ends the run, any other error is said now and the next
/// client is served.
pub(crate) fn finish_one_of_many(
    prog: &str,
    o: &Options,
    end: End,
    sigfd: i32,
) -> Result<(), Error> {
    match finish(o, end, sigfd) {
        Err(Error::Signal(sig)) => Err(Error::Signal(sig)),
        Err(e) => {
            e.report(prog);
            Ok(())
        }
        Ok(()) => Ok(()),
    }
}

/// Serves one connection: narration of the handshake, the relay and the
/// close. Returns how the relay ended and, for TCP, the ends whose close
/// the caller narrates with `Narrator::closed` once every socket that
/// must go is closed (close first, then narrate). The caller `finish`es.
pub(crate) fn serve(
    c: Connected,
    o: &Options,
    t: Transport,
    listener: bool,
    narr: &mut Narrator,
    sigfd: i32,
) -> (End, Option<(SocketAddr, SocketAddr)>) {
    let tcp = t == Transport::Tcp;
    if tcp {
        narr.established(c.sock.as_raw_fd(), &c.local, &c.peer, listener);
    }
    let end = relay::relay(c.sock.as_raw_fd(), &relay_opts(o, t, listener), narr, sigfd);
    if tcp {
        narr.closing(c.sock.as_raw_fd());
    }
    let (local, peer) = (c.local, c.peer);
    drop(c.sock);
    (end, tcp.then_some((local, peer)))
}

/// `serve`, the account of the close (a client has no other socket to
/// close first), then `finish`.
pub(crate) fn serve_client(
    c: Connected,
    o: &Options,
    t: Transport,
    narr: &mut Narrator,
    sigfd: i32,
) -> Result<(), Error> {
    let (end, ends) = serve(c, o, t, false, narr, sigfd);
    if let Some((local, peer)) = ends {
        narr.closed(&local, &peer, &end);
    }
    finish(o, end, sigfd)
}
