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
use crate::narrate::Narrator;
use crate::relay::{self, End, RelayOpts};
use crate::{finish, net, sys};
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

/// Runs `-U` (listener or client). Returns the exit status.
pub fn unix_mode(prog: &str, o: &Options, narr: &mut Narrator, sigfd: i32) -> u8 {
    // `nc -lU -s PATH` listens on PATH.
    let Some(path) = o.operands.first().or(o.source_addr.as_ref()) else {
        eprintln!("{prog}: missing socket pathname");
        return 1;
    };
    let ropts = RelayOpts {
        datagram: o.udp,
        ..crate::relay_opts(o, net::Transport::Tcp, o.listen)
    };
    if o.listen {
        listen(prog, path, o, &ropts, narr, sigfd)
    } else {
        connect(prog, path, o, &ropts, narr, sigfd)
    }
}

fn listen(
    prog: &str,
    path: &str,
    o: &Options,
    ropts: &RelayOpts,
    narr: &mut Narrator,
    sigfd: i32,
) -> u8 {
    let fail = |e: io::Error| {
        eprintln!("{prog}: {}", net::strip_os_error(&e));
        1u8
    };
    let s = match unix_bind(path, o) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    if o.udp {
        if !o.keep {
            // Wait for the first datagram and lock onto its sender.
            match first_sender(&s, sigfd) {
                Ok(from) => {
                    if let Err(e) = s.connect(&from) {
                        eprintln!("{prog}: connect: {}", net::strip_os_error(&e));
                        return 1;
                    }
                }
                Err(Some(sig)) => sys::die_of(sig),
                Err(None) => {
                    let e = io::Error::last_os_error();
                    eprintln!("{prog}: recvfrom: {}", net::strip_os_error(&e));
                    return 1;
                }
            }
            if o.verbose {
                eprintln!("Connection received on {path}");
            }
        }
        let _ = s.set_nonblocking(true);
        return finish(
            prog,
            o,
            relay::relay(s.as_raw_fd(), ropts, narr, sigfd),
            sigfd,
        );
    }
    // As nc: a backlog of 5 for UNIX stream listeners.
    if let Err(e) = s.listen(5) {
        return fail(e);
    }
    if o.verbose {
        eprintln!("Listening on {path}");
    }
    loop {
        let c = loop {
            match sys::wait_fd(s.as_raw_fd(), libc::POLLIN, sigfd, -1) {
                Err(Some(sig)) => sys::die_of(sig),
                Ok(false) | Err(None) => continue,
                Ok(true) => {}
            }
            match s.accept() {
                Ok((c, _)) => break c,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    eprintln!("{prog}: accept: {}", net::strip_os_error(&e));
                    return 1;
                }
            }
        };
        if o.verbose {
            eprintln!("Connection received on {path}");
        }
        let _ = c.set_nonblocking(true);
        let end = relay::relay(c.as_raw_fd(), ropts, narr, sigfd);
        drop(c);
        let fatal = matches!(end, End::OutputFailed(_));
        let st = finish(prog, o, end, sigfd);
        if !o.keep || fatal {
            return st;
        }
    }
}

/// Waits for a datagram and returns its sender's address, leaving the
/// datagram queued (`recvfrom` with `MSG_PEEK`, as nc).
pub fn first_sender(s: &Socket, sigfd: i32) -> Result<SockAddr, Option<i32>> {
    loop {
        if !sys::wait_fd(s.as_raw_fd(), libc::POLLIN, sigfd, -1)? {
            continue;
        }
        let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 1];
        match s.peek_from(&mut buf) {
            Ok((_, from)) => return Ok(from),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return Err(None),
        }
    }
}

fn connect(
    prog: &str,
    path: &str,
    o: &Options,
    ropts: &RelayOpts,
    narr: &mut Narrator,
    sigfd: i32,
) -> u8 {
    let addr = match unix_addr(path) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{prog}: {path}: {}", net::strip_os_error(&e));
            return 1;
        }
    };
    // A datagram client needs an address of its own for the replies.
    let (s, reply) = if o.udp {
        let r = match ReplyPath::new(o) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("{prog}: mkdtemp: {}", net::strip_os_error(&e));
                return 1;
            }
        };
        match unix_bind(&r.path, o) {
            Ok(s) => (s, Some(r)),
            Err(e) => {
                eprintln!("{prog}: {}: {}", r.path, net::strip_os_error(&e));
                return 1;
            }
        }
    } else {
        match Socket::new(Domain::UNIX, Type::STREAM, None) {
            Ok(s) => (s, None),
            Err(e) => {
                eprintln!("{prog}: {path}: {}", net::strip_os_error(&e));
                return 1;
            }
        }
    };
    if let Err(e) = s.connect(&addr) {
        eprintln!("{prog}: {path}: {}", net::strip_os_error(&e));
        return 1;
    }
    let end = if o.zero_io {
        0
    } else {
        let _ = s.set_nonblocking(true);
        // A signal ends rnc inside `finish` (it dies of it, as nc): the
        // reply path then stays behind, as nc's does.
        finish(
            prog,
            o,
            relay::relay(s.as_raw_fd(), ropts, narr, sigfd),
            sigfd,
        )
    };
    drop(s);
    drop(reply);
    end
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
