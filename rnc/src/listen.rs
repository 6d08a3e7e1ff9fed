//! `-l`: bind, listen, accept (or, for UDP, wait for the first
//! datagram), serve; with `-k` the next client after each one.

use crate::error::Error;
use crate::net::{self, Connected, Transport};
use crate::relay::End;
use crate::serve::{self, finish, finish_one_of_many, serve, Session};
use crate::udp;
use socket2::Socket;
use std::io;

/// Runs the listener.
pub(crate) fn listen_mode(session: Session) -> Result<(), Error> {
    let (prog, o, narr, sigfd) = (session.prog, session.o, session.narr, session.sigfd);
    let t = Transport::of(o);
    let (host, port): (Option<&str>, &str) = match o.operands.as_slice() {
        [h, p] => (Some(h.as_str()), p.as_str()),
        [p] => (o.source_addr.as_deref(), p.as_str()),
        _ => (
            o.source_addr.as_deref(),
            o.source_port.as_deref().unwrap_or(""),
        ),
    };
    let (lsock, local) = net::listen_socket(host, port, o, t)?;
    if o.verbose {
        // As nc: a UDP socket is bound, never listening.
        eprintln!(
            "{} on {} {}",
            if t == Transport::Udp {
                "Bound"
            } else {
                "Listening"
            },
            rnet_core::names::host_text(&local, o.numeric),
            local.port()
        );
    }
    narr.listening(&local, t == Transport::Udp, o.keep);
    if t == Transport::Udp && o.keep {
        return udp::serve_every_sender(lsock, o, narr, sigfd);
    }
    let mut lsock = Some(lsock);
    while let Some(l) = lsock.as_ref() {
        let conn = if t == Transport::Udp {
            let peer = udp::lock_onto_first_sender(l, sigfd)?;
            let sock = l.try_clone().map_err(|e| Error::os("", e))?;
            Connected { sock, local, peer }
        } else {
            accept(l, sigfd)?
        };
        if o.verbose {
            eprintln!(
                "Connection received on {} {}",
                rnet_core::names::host_text(&conn.peer, o.numeric),
                conn.peer.port()
            );
        }
        let (end, ends) = serve(conn, o, t, true, narr, sigfd);
        // With -k a reset ends only that client; a dead stdout ends all.
        let fatal = matches!(end, End::OutputFailed(_));
        let last = !o.keep || t == Transport::Udp || fatal || matches!(end, End::Signal(_));
        if last {
            // Close first, then narrate: the LISTEN socket goes before the
            // account of the connection's close, which may follow the
            // kernel's states for up to a second.
            lsock = None;
        }
        if let Some((local, peer)) = ends {
            narr.closed(&local, &peer, &end);
        }
        if last {
            return finish(o, end, sigfd);
        }
        finish_one_of_many(prog, o, end, sigfd)?;
    }
    Ok(())
}

/// Waits for a connection (or a signal), ready for the relay.
fn accept(l: &Socket, sigfd: i32) -> Result<Connected, Error> {
    let (sock, peer) = serve::accept(l, sigfd)?;
    let fail = |e| Error::os("accept", e);
    let local = sock.local_addr().map_err(fail)?;
    let (Some(local), Some(peer)) = (local.as_socket(), peer.as_socket()) else {
        return Err(fail(io::Error::from_raw_os_error(libc::EAFNOSUPPORT)));
    };
    sock.set_nonblocking(true).map_err(fail)?;
    Ok(Connected { sock, local, peer })
}
