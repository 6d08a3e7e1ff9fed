//! `-U`: UNIX domain sockets, stream or (with `-u`) datagram, as Debian's
//! netcat-openbsd handles them:
//!
//! - a listener removes whatever file is at its path before `bind` (a
//!   socket file left by an earlier run would otherwise make the bind fail
//!   with "Address already in use"); a name starting with `@` is a Linux
//!   abstract name, and no file is touched;
//! - a datagram client binds a reply address of its own before connecting,
//!   so the server has somewhere to send its datagrams: the `-s` path, or
//!   `recv.sock` in a fresh directory `/tmp/nc-XXXXXX`, removed with its
//!   directory when rnc ends (a signal death leaves it, as in nc);
//! - a datagram listener without `-k` waits for the first datagram, then
//!   connects its socket to that sender (replies go there, and datagrams
//!   from anyone else are refused); with `-k` it stays unconnected;
//! - a path too long for `sun_path` is refused before any socket exists,
//!   with nc's words.

use crate::cli::Options;
use crate::error::Error;
use crate::narrate::Narrator;
use crate::net::Transport;
use crate::relay::{self, End, RelayOpts};
use crate::serve::{accept, finish, finish_one_of_many, relay_opts, Session};
use crate::sys;
use crate::udp;
use socket2::{Domain, SockAddr, Socket, Type};
use std::io;
use std::os::fd::AsRawFd;

/// The size of `sun_path` on Linux.
const SUN_PATH: usize = 108;

/// The socket address for `path` as nc builds it: `@name` is the abstract
/// `name` (up to 107 bytes: the leading NUL takes the `@`'s place), any
/// other path must leave room for its terminating NUL; an empty path is
/// invalid.
pub fn unix_addr(path: &str) -> io::Result<SockAddr> {
    if path.is_empty() {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    if let Some(name) = path.strip_prefix('@') {
        if path.len() > SUN_PATH {
            return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
        }
        return SockAddr::unix(format!("\0{name}"));
    }
    if path.len() >= SUN_PATH {
        return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
    }
    SockAddr::unix(path)
}

/// nc's `unix_bind`: a socket of the run's type bound to `path`, after
/// removing what the path names (not for abstract names). With `-v`:
/// `Bound on PATH`.
fn unix_bind(path: &str, o: &Options) -> io::Result<Socket> {
    let addr = unix_addr(path)?;
    let ty = if o.udp { Type::DGRAM } else { Type::STREAM };
    let s = Socket::new(Domain::UNIX, ty, None)?;
    if !path.starts_with('@') {
        // As nc: whatever is there goes (a stale socket file, most often).
        let _ = std::fs::remove_file(path);
    }
    s.bind(&addr)?;
    if o.verbose {
        eprintln!("Bound on {path}");
    }
    Ok(s)
}

/// The reply address of a datagram client, removed (with its directory
/// when rnc made one) when dropped.
struct ReplyPath {
    path: String,
    /// The directory rnc created for it (`None` for `-s PATH`, which is
    /// left in place as nc leaves it).
    dir: Option<String>,
}

impl ReplyPath {
    fn new(o: &Options) -> io::Result<ReplyPath> {
        match &o.source_addr {
            Some(p) => Ok(ReplyPath {
                path: p.clone(),
                dir: None,
            }),
            None => {
                let dir = sys::mkdtemp("/tmp/nc-XXXXXX")?;
                Ok(ReplyPath {
                    path: format!("{dir}/recv.sock"),
                    dir: Some(dir),
                })
            }
        }
    }
}

impl Drop for ReplyPath {
    fn drop(&mut self) {
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_file(&self.path);
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// Runs `-U` (listener or client).
pub(crate) fn unix_mode(session: Session) -> Result<(), Error> {
    let (prog, o, narr, sigfd) = (session.prog, session.o, session.narr, session.sigfd);
    // `nc -lU -s PATH` listens on PATH.
    let Some(path) = o.operands.first().or(o.source_addr.as_ref()) else {
        return Err(Error::Msg("missing socket pathname".into()));
    };
    let ropts = RelayOpts {
        datagram: o.udp,
        ..relay_opts(o, Transport::Tcp, o.listen)
    };
    if o.listen {
        listen(prog, path, o, &ropts, narr, sigfd)
    } else {
        connect(path, o, &ropts, narr, sigfd)
    }
}

fn listen(
    prog: &str,
    path: &str,
    o: &Options,
    ropts: &RelayOpts,
    narr: &mut Narrator,
    sigfd: i32,
) -> Result<(), Error> {
    let s = unix_bind(path, o).map_err(|e| Error::os("", e))?;
    if o.udp {
        if !o.keep {
            // Wait for the first datagram and lock onto its sender.
            let from = udp::first_sender(&s, sigfd)?;
            s.connect(&from).map_err(|e| Error::os("connect", e))?;
            if o.verbose {
                eprintln!("Connection received on {path}");
            }
        }
        s.set_nonblocking(true).map_err(|e| Error::os("", e))?;
        return finish(o, relay::relay(s.as_raw_fd(), ropts, narr, sigfd), sigfd);
    }
    // As nc: a backlog of 5 for UNIX stream listeners.
    s.listen(5).map_err(|e| Error::os("", e))?;
    if o.verbose {
        eprintln!("Listening on {path}");
    }
    loop {
        let (c, _) = accept(&s, sigfd)?;
        if o.verbose {
            eprintln!("Connection received on {path}");
        }
        c.set_nonblocking(true).map_err(|e| Error::os("", e))?;
        let end = relay::relay(c.as_raw_fd(), ropts, narr, sigfd);
        drop(c);
        if !o.keep || matches!(end, End::OutputFailed(_)) {
            return finish(o, end, sigfd);
        }
        finish_one_of_many(prog, o, end, sigfd)?;
    }
}

fn connect(
    path: &str,
    o: &Options,
    ropts: &RelayOpts,
    narr: &mut Narrator,
    sigfd: i32,
) -> Result<(), Error> {
    let at_path = |e| Error::os(path, e);
    let addr = unix_addr(path).map_err(at_path)?;
    // A datagram client needs an address of its own for the replies.
    let (s, reply) = if o.udp {
        let r = ReplyPath::new(o).map_err(|e| Error::os("mkdtemp", e))?;
        let s = unix_bind(&r.path, o).map_err(|e| Error::os(r.path.as_str(), e))?;
        (s, Some(r))
    } else {
        let s = Socket::new(Domain::UNIX, Type::STREAM, None).map_err(at_path)?;
        (s, None)
    };
    s.connect(&addr).map_err(at_path)?;
    if o.zero_io {
        return Ok(());
    }
    s.set_nonblocking(true).map_err(|e| Error::os("", e))?;
    let r = finish(o, relay::relay(s.as_raw_fd(), ropts, narr, sigfd), sigfd);
    if let Err(Error::Signal(_)) = r {
        // rnc dies of the signal, as nc: the reply path stays behind, as
        // nc's does.
        std::mem::forget(reply);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_limits_are_nc_s() {
        let long = "a".repeat(SUN_PATH - 1);
        assert!(unix_addr(&long).is_ok());
        let e = unix_addr(&format!("x{long}"))
            .err()
            .map(|e| e.raw_os_error());
        assert_eq!(e, Some(Some(libc::ENAMETOOLONG)));
        // @ plus 107 bytes fits: the NUL takes the @'s place.
        assert!(unix_addr(&format!("@{long}")).is_ok());
        let e = unix_addr(&format!("@x{long}"))
            .err()
            .map(|e| e.raw_os_error());
        assert_eq!(e, Some(Some(libc::ENAMETOOLONG)));
        let e = unix_addr("").err().map(|e| e.raw_os_error());
        assert_eq!(e, Some(Some(libc::EINVAL)));
    }
}
