//! The raw system calls rnc needs that socket2 and std do not offer:
//! `poll` over stdin, stdout and the socket (epoll cannot watch regular
//! files or `/dev/null`, which netcat's stdin and stdout often are),
//! plain `read`/`write` on descriptors 0 and 1, `TCP_INFO`, a self-pipe
//! for SIGINT/SIGTERM, descriptor passing (`-F`), the terminal for
//! passwords, `TCP_MD5SIG` (`-S`), `mkdtemp`, and `splice` with the
//! descriptor checks and pipe sizes the relay's zero-copy path needs.
//!
//! This is rnc's only unsafe module. Each `unsafe` block is one foreign
//! call (or one all-zero C struct) with its `// SAFETY:` reason; every
//! return code goes through `cvt` (or a null check) into an
//! `io::Error`, and the functions here are safe for any argument.
#![allow(unsafe_code)]

use rnet_core::os::cvt;
use std::io;
use std::mem::{size_of, MaybeUninit};
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicI32, Ordering};

/// `cvt` for calls that report failure as any non-zero value (`raise`).
fn cvt_nz(rc: libc::c_int) -> io::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// One entry of a `poll` set: a descriptor (negative: ignored by the
/// kernel), the events asked for, and after `poll` the events reported.
#[derive(Clone, Copy)]
#[repr(transparent)]
pub struct PollFd(libc::pollfd);

impl PollFd {
    /// An entry for `fd` asking for `events`.
    pub fn new(fd: RawFd, events: i16) -> PollFd {
        PollFd(libc::pollfd {
            fd,
            events,
            revents: 0,
        })
    }

    /// The events `poll` reported.
    pub fn revents(&self) -> i16 {
        self.0.revents
    }

    /// Whether `poll` reported any of `events`.
    pub fn has(&self, events: i16) -> bool {
        self.0.revents & events != 0
    }
}

/// `poll(2)`. EINTR is returned to the caller (no retry here): each
/// caller loops on `ErrorKind::Interrupted` after its own look at the
/// signal pipe, so a signal is never waited through.
pub fn poll(fds: &mut [PollFd], timeout_ms: i32) -> io::Result<usize> {
    let ptr = fds.as_mut_ptr().cast::<libc::pollfd>();
    // SAFETY: PollFd is a transparent libc::pollfd, so `ptr` points at
    // `fds.len()` writable pollfd entries for the duration of the call.
    let n = cvt(unsafe { libc::poll(ptr, fds.len() as libc::nfds_t, timeout_ms) })?;
    Ok(n as usize)
}

/// The signal number waiting in the signal pipe, if any.
pub fn take_signal(sigfd: RawFd) -> Option<i32> {
    let mut b = [0u8; 1];
    match read(sigfd, &mut b) {
        Ok(1) => Some(i32::from(b[0])),
        _ => None,
    }
}

/// What `wait_fd` saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    /// The descriptor reported an event.
    Ready,
    /// The timeout passed.
    Timeout,
    /// SIGINT or SIGTERM arrived through the signal pipe.
    Signal(i32),
}

/// Waits until `fd` reports any of `events`, `timeout_ms` passes (-1
/// waits for ever), or SIGINT/SIGTERM arrives through the signal pipe.
/// EINTR is retried here. A failed poll is the error.
pub fn wait_fd(fd: RawFd, events: i16, sigfd: RawFd, timeout_ms: i32) -> io::Result<Wake> {
    loop {
        let mut pfd = [PollFd::new(fd, events), PollFd::new(sigfd, libc::POLLIN)];
        match poll(&mut pfd, timeout_ms) {
            Ok(_) => {}
            // The handler wrote the pipe before poll returned: the next
            // poll reports it.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        if pfd[1].has(libc::POLLIN) {
            if let Some(sig) = take_signal(sigfd) {
                return Ok(Wake::Signal(sig));
            }
        }
        return Ok(if pfd[0].revents() != 0 {
            Wake::Ready
        } else {
            Wake::Timeout
        });
    }
}

/// `read(2)` on a raw descriptor.
pub fn read(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is writable for its length; read writes at most that.
    let n = cvt(unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) })?;
    Ok(n as usize)
}

/// `write(2)` on a raw descriptor.
pub fn write(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: `buf` is readable for its length; write reads at most that.
    let n = cvt(unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) })?;
    Ok(n as usize)
}

/// `splice(2)` of up to `len` bytes from `from` to `to` (one of them a
/// pipe), never waiting on a pipe (`SPLICE_F_NONBLOCK`); the socket side
/// waits or not by its own `O_NONBLOCK`. 0 is the input's end.
pub fn splice(from: RawFd, to: RawFd, len: usize) -> io::Result<usize> {
    // SAFETY: null offsets mean "the descriptor's position"; splice
    // touches no memory of ours.
    let n = cvt(unsafe {
        libc::splice(
            from,
            std::ptr::null_mut(),
            to,
            std::ptr::null_mut(),
            len,
            libc::SPLICE_F_NONBLOCK | libc::SPLICE_F_MOVE,
        )
    })?;
    Ok(n as usize)
}

/// What kind of file a descriptor is, for choosing the relay's path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FdKind {
    /// A pipe or FIFO.
    Pipe,
    /// A regular file.
    File,
    /// `/dev/null`.
    Null,
    /// Anything else (a terminal, a socket, another device).
    Other,
}

/// `fstat(2)`'s view of `fd`.
pub fn fd_kind(fd: RawFd) -> FdKind {
    let mut st = MaybeUninit::<libc::stat>::zeroed();
    // SAFETY: `st` is writable for one stat structure.
    if cvt(unsafe { libc::fstat(fd, st.as_mut_ptr()) }).is_err() {
        return FdKind::Other;
    }
    // SAFETY: fstat succeeded and filled the structure.
    let st = unsafe { st.assume_init() };
    match st.st_mode & libc::S_IFMT {
        libc::S_IFIFO => FdKind::Pipe,
        libc::S_IFREG => FdKind::File,
        libc::S_IFCHR if st.st_rdev == libc::makedev(1, 3) => FdKind::Null,
        _ => FdKind::Other,
    }
}

/// Grows the pipe `fd` to `size` bytes (`F_SETPIPE_SZ`); false when the
/// system refuses (above pipe-max-size for a user without CAP_SYS_RESOURCE).
pub fn grow_pipe(fd: RawFd, size: usize) -> bool {
    let want = libc::c_int::try_from(size).unwrap_or(libc::c_int::MAX);
    // SAFETY: F_SETPIPE_SZ takes an int and touches no memory of ours.
    cvt(unsafe { libc::fcntl(fd, libc::F_SETPIPE_SZ, want) }).is_ok()
}

/// Sets `O_NONBLOCK` on `fd` (a socket of rnc's own).
pub fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: F_GETFL takes no argument.
    let flags = cvt(unsafe { libc::fcntl(fd, libc::F_GETFL) })?;
    // SAFETY: F_SETFL takes an int.
    cvt(unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) })?;
    Ok(())
}

/// What `TCP_INFO` says about a socket, the fields rnc narrates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpInfo {
    /// Kernel state number (as in `/proc/net/tcp`).
    pub state: u8,
    /// Retransmissions of the current segment (SYN while connecting).
    pub retransmits: u8,
    /// Exponential back-off count.
    pub backoff: u8,
    /// Retransmission timeout, microseconds.
    pub rto_us: u32,
    /// Retransmissions over the connection's life.
    pub total_retrans: u32,
}

/// Bytes received on socket `fd` and not yet read (`FIONREAD`, which is
/// `SIOCINQ` on a TCP socket); 0 when unknown.
pub fn unread_bytes(fd: RawFd) -> u64 {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int, into `n`.
    match cvt(unsafe { libc::ioctl(fd, libc::FIONREAD, &mut n) }) {
        Ok(_) if n > 0 => n as u64,
        _ => 0,
    }
}

/// `getsockopt(TCP_INFO)`; `None` when the socket has none (not TCP, or
/// closed).
pub fn tcp_info(fd: RawFd) -> Option<TcpInfo> {
    let mut info = MaybeUninit::<libc::tcp_info>::zeroed();
    let mut len = size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: `info` has room for `len` bytes; the kernel writes at most
    // `len` bytes and stores how many in `len`.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            info.as_mut_ptr().cast(),
            &mut len,
        )
    };
    cvt(rc).ok()?;
    // SAFETY: tcp_info is integers only, so the all-zero start and any
    // bytes the kernel wrote over it make a valid value.
    let info = unsafe { info.assume_init() };
    Some(TcpInfo {
        state: info.tcpi_state,
        retransmits: info.tcpi_retransmits,
        backoff: info.tcpi_backoff,
        rto_us: info.tcpi_rto,
        total_retrans: info.tcpi_total_retrans,
    })
}

/// Write end of the signal self-pipe (-1 when not installed).
static SIGNAL_PIPE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(sig: libc::c_int) {
    let fd = SIGNAL_PIPE.load(Ordering::Relaxed);
    if fd >= 0 {
        let b = sig as u8;
        // SAFETY: write(2) is async-signal-safe; one byte from the stack.
        let rc = unsafe { libc::write(fd, (&b as *const u8).cast(), 1) };
        // Nothing can be reported from a handler. The pipe is
        // non-blocking: a failure (EAGAIN) means it is full of signals
        // the event loop has not read yet, which end rnc just the same.
        let _ = rc;
    }
}

/// The action installed for `sig`, read without changing it.
fn current_action(sig: libc::c_int) -> io::Result<libc::sigaction> {
    let mut old = MaybeUninit::<libc::sigaction>::zeroed();
    // SAFETY: a null new action only reads the current one into `old`,
    // which has room for a sigaction.
    cvt(unsafe { libc::sigaction(sig, std::ptr::null(), old.as_mut_ptr()) })?;
    // SAFETY: sigaction filled `old` (and all-zero is valid besides: a
    // null handler is SIG_DFL, an empty mask, no flags).
    Ok(unsafe { old.assume_init() })
}

/// Installs `handler` for `sig` with an empty mask and `flags`.
fn set_action(sig: libc::c_int, handler: libc::sighandler_t, flags: libc::c_int) -> io::Result<()> {
    // SAFETY: all-zero is a valid sigaction (SIG_DFL, empty mask, no
    // flags); the fields that matter are set below.
    let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
    sa.sa_sigaction = handler;
    sa.sa_flags = flags;
    // SAFETY: `sa.sa_mask` is a valid, writable sigset_t.
    cvt(unsafe { libc::sigemptyset(&mut sa.sa_mask) })?;
    // SAFETY: `sa` is a complete sigaction; the old action is not wanted.
    cvt(unsafe { libc::sigaction(sig, &sa, std::ptr::null_mut()) })?;
    Ok(())
}

/// Routes SIGINT and SIGTERM to a pipe whose read end is returned, so the
/// event loop can close the socket cleanly and narrate what it left
/// behind. A signal that is ignored at start stays ignored (a background
/// job of a non-interactive shell ignores SIGINT, as nc does). SIGPIPE is
/// ignored so that a closed peer or stdout is an error, not a death.
pub fn install_signal_pipe() -> io::Result<RawFd> {
    set_action(libc::SIGPIPE, libc::SIG_IGN, 0)?;
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 returns.
    cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) })?;
    // The write end stays open for the process's life: the handler may
    // write it at any time.
    SIGNAL_PIPE.store(fds[1], Ordering::Relaxed);
    for sig in [libc::SIGINT, libc::SIGTERM] {
        if current_action(sig)?.sa_sigaction == libc::SIG_IGN {
            continue;
        }
        // No SA_RESTART: a read or write blocked on stdin or stdout (a
        // reader that stalls) returns EINTR, so the event loop sees the
        // signal at once instead of after the reader wakes up.
        let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        set_action(sig, handler, 0)?;
    }
    Ok(fds[0])
}

/// Dies of `sig` as if no handler had been installed, so that the parent
/// shell sees the same status as with nc (130 for SIGINT). Should the
/// default action fail to be restored or the signal fail to kill, exits
/// with the shell's number for that death.
pub fn die_of(sig: i32) -> ! {
    if set_action(sig, libc::SIG_DFL, 0).is_ok() {
        // SAFETY: raise takes no pointers; the default action ends the
        // process here.
        let _ = cvt_nz(unsafe { libc::raise(sig) });
    }
    std::process::exit(128 + sig)
}

/// Sleeps `secs` seconds unless SIGINT or SIGTERM arrives through the
/// signal pipe first: then returns that signal.
pub fn sleep_or_signal(secs: f64, sigfd: RawFd) -> Option<i32> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs_f64(secs.max(0.0));
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return None;
        }
        let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
        let mut pfd = [PollFd::new(sigfd, libc::POLLIN)];
        match poll(&mut pfd, ms) {
            Ok(_) if pfd[0].has(libc::POLLIN) => {
                if let Some(sig) = take_signal(sigfd) {
                    return Some(sig);
                }
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => {
                // poll cannot fail on one valid descriptor short of
                // ENOMEM; the sleep is still owed.
                sleep_secs(left.as_secs_f64());
                return None;
            }
        }
    }
}

/// Sleeps, as netcat's `-i` and `-q` do.
pub fn sleep_secs(secs: f64) {
    if secs > 0.0 {
        std::thread::sleep(std::time::Duration::from_secs_f64(secs));
    }
}

/// `shutdown(2)` on a raw descriptor. Callers ignore the error as nc
/// does: it only says the direction is already gone (ENOTCONN after a
/// reset).
pub fn shutdown(fd: RawFd, how: libc::c_int) -> io::Result<()> {
    // SAFETY: shutdown takes no pointers.
    cvt(unsafe { libc::shutdown(fd, how) })?;
    Ok(())
}

/// The control message that carries one descriptor (`SCM_RIGHTS`): the
/// header, then the descriptor where `CMSG_DATA` puts it (the header's
/// size is already a multiple of its alignment on Linux), padded as
/// `CMSG_SPACE` pads it (checked by a test).
#[repr(C)]
struct FdMessage {
    hdr: libc::cmsghdr,
    fd: libc::c_int,
}

/// Sends descriptor `fd` over the UNIX socket `sock` (`-F`: stdout).
pub fn send_fd(sock: RawFd, fd: RawFd) -> io::Result<()> {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: byte.len(),
    };
    // SAFETY: cmsghdr is integers only; all-zero is valid.
    let mut hdr: libc::cmsghdr = unsafe { std::mem::zeroed() };
    hdr.cmsg_level = libc::SOL_SOCKET;
    hdr.cmsg_type = libc::SCM_RIGHTS;
    hdr.cmsg_len = (std::mem::offset_of!(FdMessage, fd) + size_of::<libc::c_int>()) as _;
    let mut control = FdMessage { hdr, fd };
    // SAFETY: msghdr is integers and pointers; all-zero is valid (null
    // name, no iovecs, no control data).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = (&mut control as *mut FdMessage).cast();
    msg.msg_controllen = size_of::<FdMessage>() as _;
    loop {
        // SAFETY: `msg` points at one iovec over `byte` and at `control`,
        // `msg_controllen` bytes long; all outlive the call, which only
        // reads them.
        match cvt(unsafe { libc::sendmsg(sock, &msg, 0) }) {
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// `getsockopt(SO_ERROR)`: the pending error of a socket, if any (a
/// failed getsockopt is that error).
pub fn so_error(fd: RawFd) -> Option<i32> {
    let mut err: libc::c_int = 0;
    let mut len = size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `err` is a writable int of the length passed.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            (&mut err as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    match cvt(rc) {
        Ok(_) => (err != 0).then_some(err),
        Err(e) => e.raw_os_error(),
    }
}

/// `setsockopt` of an int option.
pub fn setsockopt_int(fd: RawFd, level: i32, name: i32, v: i32) -> io::Result<()> {
    setsockopt(fd, level, name, &v)
}

/// `setsockopt` of a value of plain C data (an int or a kernel struct).
fn setsockopt<T: Copy>(fd: RawFd, level: i32, name: i32, v: &T) -> io::Result<()> {
    let len = size_of::<T>() as libc::socklen_t;
    // SAFETY: `v` is readable for `len` bytes; the kernel only reads it.
    cvt(unsafe { libc::setsockopt(fd, level, name, (v as *const T).cast(), len) })?;
    Ok(())
}

/// The terminal attributes of `fd`.
fn tcgetattr(fd: RawFd) -> io::Result<libc::termios> {
    let mut t = MaybeUninit::<libc::termios>::zeroed();
    // SAFETY: `t` has room for a termios, which tcgetattr fills.
    cvt(unsafe { libc::tcgetattr(fd, t.as_mut_ptr()) })?;
    // SAFETY: termios is integers only (and was filled above).
    Ok(unsafe { t.assume_init() })
}

/// Sets the terminal attributes of `fd` once pending output is written
/// and pending input dropped (`TCSAFLUSH`), retrying on EINTR.
fn tcsetattr(fd: RawFd, t: &libc::termios) -> io::Result<()> {
    loop {
        // SAFETY: `t` is a complete termios, only read.
        match cvt(unsafe { libc::tcsetattr(fd, libc::TCSAFLUSH, t) }) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            r => return r.map(|_| ()),
        }
    }
}

/// Reads a password from `/dev/tty` with echo off (nc's `readpassphrase`).
/// `None` when there is no terminal, its echo cannot be turned off, or
/// nothing could be read.
pub fn read_password(prompt: &str) -> Option<String> {
    use std::io::{BufRead, Write};
    use std::os::fd::AsRawFd;
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .ok()?;
    let fd = tty.as_raw_fd();
    let saved = tcgetattr(fd).ok()?;
    let mut quiet = saved;
    quiet.c_lflag &= !libc::ECHO;
    // A password is never read with echo on.
    tcsetattr(fd, &quiet).ok()?;
    let mut w = &tty;
    let mut line = String::new();
    // A terminal that takes no prompt gives no password either.
    let r = w
        .write_all(prompt.as_bytes())
        .and_then(|()| std::io::BufReader::new(&tty).read_line(&mut line));
    // As readpassphrase: the echo comes back even when the read failed; a
    // terminal that refuses it, or the newline the user's Enter did not
    // echo, leaves nothing else to do, and the password read is still good.
    let _ = tcsetattr(fd, &saved);
    let _ = w.write_all(b"\n");
    r.ok()?;
    Some(line.trim_end_matches(['\r', '\n']).to_string())
}

/// The kernel's `struct tcp_md5sig` (linux/tcp.h).
#[derive(Clone, Copy)]
#[repr(C)]
struct TcpMd5Sig {
    addr: libc::sockaddr_storage,
    flags: u8,
    prefixlen: u8,
    keylen: u16,
    ifindex: i32,
    key: [u8; libc::TCP_MD5SIG_MAXKEYLEN],
}

/// `-S`: sets a TCP MD5 signature key for every peer (prefix length 0),
/// as Debian's nc does with `TCP_MD5SIG_EXT` and `TCP_MD5SIG_FLAG_PREFIX`.
pub fn set_md5sig(fd: RawFd, v6: bool, key: &[u8]) -> io::Result<()> {
    // SAFETY: TcpMd5Sig is integers and byte arrays; all-zero is valid.
    let mut sig: TcpMd5Sig = unsafe { std::mem::zeroed() };
    sig.addr.ss_family = if v6 { libc::AF_INET6 } else { libc::AF_INET } as libc::sa_family_t;
    let n = key.len().min(libc::TCP_MD5SIG_MAXKEYLEN);
    sig.key[..n].copy_from_slice(&key[..n]);
    sig.keylen = n as u16;
    sig.flags = 1; // TCP_MD5SIG_FLAG_PREFIX
    setsockopt(fd, libc::IPPROTO_TCP, libc::TCP_MD5SIG_EXT, &sig)
}

/// `mkdtemp(3)`: creates a fresh directory (mode 0700) from `template`,
/// whose name ends in `XXXXXX`, and returns its path.
pub fn mkdtemp(template: &str) -> io::Result<String> {
    let mut buf: Vec<u8> = template.as_bytes().to_vec();
    if buf.contains(&0) {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    buf.push(0);
    // SAFETY: `buf` is a NUL-terminated, writable C string; mkdtemp only
    // rewrites the trailing X characters in place.
    let p = unsafe { libc::mkdtemp(buf.as_mut_ptr().cast()) };
    if p.is_null() {
        return Err(io::Error::last_os_error());
    }
    buf.pop();
    String::from_utf8(buf).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fd_message_is_laid_out_as_cmsg_macros_say() {
        let one = size_of::<libc::c_int>() as u32;
        // SAFETY: CMSG_SPACE only computes a size.
        let space = unsafe { libc::CMSG_SPACE(one) };
        // SAFETY: CMSG_LEN only computes a size.
        let len = unsafe { libc::CMSG_LEN(one) };
        assert_eq!(size_of::<FdMessage>(), space as usize);
        assert_eq!(
            std::mem::offset_of!(FdMessage, fd) + one as usize,
            len as usize
        );
    }

    #[test]
    fn cvt_keeps_the_errno_of_the_call() {
        let mut b = [0u8; 1];
        let e = read(-1, &mut b).err().and_then(|e| e.raw_os_error());
        assert_eq!(e, Some(libc::EBADF));
        assert_eq!(cvt(0 as libc::c_int).ok(), Some(0));
        assert_eq!(
            shutdown(-1, libc::SHUT_RD)
                .err()
                .and_then(|e| e.raw_os_error()),
            Some(libc::EBADF)
        );
    }

    #[test]
    fn a_descriptor_travels_over_a_unix_socket() {
        use std::io::{Read, Write};
        use std::os::fd::AsRawFd;
        use std::os::unix::net::UnixStream;
        let (a, b) = UnixStream::pair().unwrap();
        let (mut x, y) = UnixStream::pair().unwrap();
        send_fd(a.as_raw_fd(), y.as_raw_fd()).unwrap();
        let mut byte = [0u8; 1];
        let mut space = [0u8; 64];
        let mut iov = libc::iovec {
            iov_base: byte.as_mut_ptr().cast(),
            iov_len: 1,
        };
        // SAFETY: all-zero msghdr is valid.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = space.as_mut_ptr().cast();
        msg.msg_controllen = space.len() as _;
        // SAFETY: `msg` points at live buffers of the lengths given.
        let n = cvt(unsafe { libc::recvmsg(b.as_raw_fd(), &mut msg, 0) }).unwrap();
        assert_eq!(n, 1);
        // SAFETY: the control buffer starts with the one header.
        let hdr: libc::cmsghdr = unsafe { std::ptr::read_unaligned(space.as_ptr().cast()) };
        assert_eq!(hdr.cmsg_type, libc::SCM_RIGHTS);
        let at = std::mem::offset_of!(FdMessage, fd);
        let fd = i32::from_ne_bytes(space[at..at + 4].try_into().unwrap());
        // The received descriptor is the other end of `x`'s pair.
        let mut y2 = UnixStream::from(unsafe_fd(fd));
        x.write_all(b"z").unwrap();
        let mut r = [0u8; 1];
        y2.read_exact(&mut r).unwrap();
        assert_eq!(&r, b"z");
    }

    fn unsafe_fd(fd: RawFd) -> std::os::fd::OwnedFd {
        use std::os::fd::FromRawFd;
        // SAFETY: `fd` came from SCM_RIGHTS and is owned by nobody else.
        unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) }
    }
}
