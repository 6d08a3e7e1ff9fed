//! What datagrams change: the `-u -v` probe of a client, a `-u -l`
//! listener that locks onto its first sender, and `-u -l -k`, which
//! serves every sender from one unconnected socket. UNIX datagram
//! sockets (`-U -u`) share `first_sender`.

use crate::cli::Options;
use crate::error::Error;
use crate::narrate::Narrator;
use crate::net::Transport;
use crate::relay;
use crate::serve::{finish, relay_opts, wait_readable};
use crate::sys;
use socket2::{SockAddr, Socket};
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;

/// `-u -v`: nc's probe (`udptest`): two one-byte `X` datagrams at once,
/// then one a second for `-w` seconds (3 without `-w`). A closed port
/// answers with an ICMP error, which makes a later write fail with
/// ECONNREFUSED: then the port counts as closed (`Ok(false)`). The peer
/// receives the `X` bytes as data, as with nc.
pub(crate) fn probe(s: &Socket, w: Option<u32>, sigfd: i32) -> Result<bool, Error> {
    let refused =
        |r: io::Result<usize>| r.is_err_and(|e| e.raw_os_error() == Some(libc::ECONNREFUSED));
    // As nc: the first send failing for any reason, or the second one
    // refused, means closed.
    if s.send(b"X").is_err() || refused(s.send(b"X")) {
        return Ok(false);
    }
    for _ in 0..w.unwrap_or(3) {
        if let Some(sig) = sys::sleep_or_signal(1.0, sigfd) {
            return Err(Error::Signal(sig));
        }
        if refused(s.send(b"X")) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// `-u -l -k`: the socket stays unconnected and takes datagrams from
/// every sender; it has no one to answer (as nc).
pub(crate) fn serve_every_sender(
    s: Socket,
    o: &Options,
    narr: &mut Narrator,
    sigfd: i32,
) -> Result<(), Error> {
    s.set_nonblocking(true).map_err(|e| Error::os("", e))?;
    let ropts = relay_opts(o, Transport::Udp, true);
    finish(o, relay::relay(s.as_raw_fd(), &ropts, narr, sigfd), sigfd)
}

/// `-u -l` without `-k`: waits for the first datagram and locks onto its
/// sender (connects the socket to it, as nc): replies go there, and the
/// kernel refuses datagrams from anyone else. A failed wait, peek or
/// connect ends rnc with status 1 and, so far, no message (nc says
/// `recvfrom: …` or `connect: …`, as rnc's `-U -u` listener does).
pub(crate) fn lock_onto_first_sender(s: &Socket, sigfd: i32) -> Result<SocketAddr, Error> {
    let from = first_sender(s, sigfd).map_err(|e| match e {
        Error::Signal(sig) => Error::Signal(sig),
        _ => Error::Quiet,
    })?;
    let peer = from.as_socket().ok_or(Error::Quiet)?;
    s.connect(&from).map_err(|_| Error::Quiet)?;
    s.set_nonblocking(true).map_err(|e| Error::os("", e))?;
    Ok(peer)
}

/// Waits for a datagram and returns its sender's address, leaving the
/// datagram queued (`recvfrom` with `MSG_PEEK`, as nc). A failed wait or
/// peek is `recvfrom: ERROR`.
pub(crate) fn first_sender(s: &Socket, sigfd: i32) -> Result<SockAddr, Error> {
    loop {
        wait_readable(s.as_raw_fd(), sigfd, "recvfrom")?;
        let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 1];
        match s.peek_from(&mut buf) {
            Ok((_, from)) => return Ok(from),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::os("recvfrom", e)),
        }
    }
}
