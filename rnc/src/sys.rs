//! The raw system calls rnc needs that socket2 and std do not offer:
//! `poll` over stdin, stdout and the socket (epoll cannot watch regular
//! files or `/dev/null`, which netcat's stdin and stdout often are),
//! plain `read`/`write` on descriptors 0 and 1, `splice`, `TCP_INFO`, and
//! a self-pipe for SIGINT/SIGTERM. Each is a safe wrapper over one call.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicI32, Ordering};

/// One entry of a `poll` set.
pub type PollFd = libc::pollfd;

/// A poll entry for `fd` (negative: ignored by the kernel) and `events`.
pub fn pollfd(fd: RawFd, events: i16) -> PollFd {
    libc::pollfd {
        fd,
        events,
        revents: 0,
    }
}

/// `poll(2)`, retrying on EINTR only when no signal is pending for us.
pub fn poll(fds: &mut [PollFd], timeout_ms: i32) -> io::Result<usize> {
    // SAFETY: `fds` is a valid, writable slice of pollfd for its length.
    let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
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

/// Waits until `fd` reports any of `events` (`Ok(true)`), `timeout_ms`
/// passes (`Ok(false)`; -1 waits for ever), or SIGINT/SIGTERM arrives
/// through the signal pipe (`Err(Some(sig))`); `Err(None)` if poll fails.
pub fn wait_fd(fd: RawFd, events: i16, sigfd: RawFd, timeout_ms: i32) -> Result<bool, Option<i32>> {
    loop {
        let mut pfd = [pollfd(fd, events), pollfd(sigfd, libc::POLLIN)];
        match poll(&mut pfd, timeout_ms) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return Err(None),
        }
        if pfd[1].revents & libc::POLLIN != 0 {
            if let Some(sig) = take_signal(sigfd) {
                return Err(Some(sig));
            }
        }
        return Ok(pfd[0].revents != 0);
    }
}

/// `read(2)` on a raw descriptor.
pub fn read(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is writable for its length.
    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// `write(2)` on a raw descriptor.
pub fn write(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: `buf` is readable for its length.
    let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
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
    // SAFETY: FIONREAD writes one int into `n`.
    let rc = unsafe { libc::ioctl(fd, libc::FIONREAD, &mut n) };
    if rc == 0 && n > 0 {
        n as u64
    } else {
        0
    }
}

/// `getsockopt(TCP_INFO)`.
pub fn tcp_info(fd: RawFd) -> Option<TcpInfo> {
    // SAFETY: tcp_info is plain old data; the kernel writes at most `len`
    // bytes into it and reports how many.
    unsafe {
        let mut info: libc::tcp_info = std::mem::zeroed();
        let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
        let rc = libc::getsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        );
        if rc != 0 {
            return None;
        }
        Some(TcpInfo {
            state: info.tcpi_state,
            retransmits: info.tcpi_retransmits,
            backoff: info.tcpi_backoff,
            rto_us: info.tcpi_rto,
            total_retrans: info.tcpi_total_retrans,
        })
    }
}

/// Write end of the signal self-pipe (-1 when not installed).
static SIGNAL_PIPE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(sig: libc::c_int) {
    let fd = SIGNAL_PIPE.load(Ordering::Relaxed);
    if fd >= 0 {
        let b = sig as u8;
        // SAFETY: write(2) is async-signal-safe; one byte from the stack.
        unsafe {
            libc::write(fd, (&b as *const u8).cast(), 1);
        }
    }
}

/// Routes SIGINT and SIGTERM to a pipe whose read end is returned, so the
/// event loop can close the socket cleanly and narrate what it left
/// behind. A signal that is ignored at start stays ignored (a background
/// job of a non-interactive shell ignores SIGINT, as nc does). SIGPIPE is
/// ignored so that a closed peer or stdout is an error, not a death.
pub fn install_signal_pipe() -> io::Result<RawFd> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 returns;
    // sigaction structs are plain old data, and the handler only calls
    // write(2) on a descriptor that stays open for the process's life.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
        if libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) != 0 {
            return Err(io::Error::last_os_error());
        }
        SIGNAL_PIPE.store(fds[1], Ordering::Relaxed);
        for sig in [libc::SIGINT, libc::SIGTERM] {
            let mut old: libc::sigaction = std::mem::zeroed();
            libc::sigaction(sig, std::ptr::null(), &mut old);
            if old.sa_sigaction == libc::SIG_IGN {
                continue;
            }
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            // No SA_RESTART: a read or write blocked on stdin or stdout
            // (a reader that stalls) returns EINTR, so the event loop sees
            // the signal at once instead of after the reader wakes up.
            sa.sa_flags = 0;
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
    Ok(fds[0])
}

/// Dies of `sig` as if no handler had been installed, so that the parent
/// shell sees the same status as with nc (130 for SIGINT).
pub fn die_of(sig: i32) -> ! {
    // SAFETY: resetting to the default action and raising the signal; if
    // it somehow returns, exit with the shell's convention.
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        libc::raise(sig);
        libc::_exit(128 + sig)
    }
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
        let mut pfd = [pollfd(sigfd, libc::POLLIN)];
        match poll(&mut pfd, ms) {
            Ok(_) if pfd[0].revents & libc::POLLIN != 0 => {
                if let Some(sig) = take_signal(sigfd) {
                    return Some(sig);
                }
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => {
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

/// `shutdown(2)` on a raw descriptor; errors ignored as netcat does.
pub fn shutdown(fd: RawFd, how: libc::c_int) {
    // SAFETY: shutdown takes no pointers.
    unsafe {
        libc::shutdown(fd, how);
    }
}

/// Sends descriptor `fd` over the UNIX socket on stdout (`-F`).
pub fn send_fd(sock: RawFd, fd: RawFd) -> io::Result<()> {
    // SAFETY: the message header points at a one-byte iovec and a control
    // buffer sized with CMSG_SPACE for one descriptor; all live on the stack
    // for the duration of sendmsg.
    unsafe {
        let mut byte = [0u8; 1];
        let mut iov = libc::iovec {
            iov_base: byte.as_mut_ptr().cast(),
            iov_len: 1,
        };
        let space = libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) as usize;
        let mut cbuf = vec![0u8; space];
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr().cast();
        msg.msg_controllen = space as _;
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        if cmsg.is_null() {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        }
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>(), fd);
        loop {
            let n = libc::sendmsg(sock, &msg, 0);
            if n >= 0 {
                return Ok(());
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }
}

/// `getsockopt(SO_ERROR)`: the pending error of a socket, if any.
pub fn so_error(fd: RawFd) -> Option<i32> {
    let mut err: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
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
    (rc == 0 && err != 0).then_some(err)
}

/// `setsockopt` of an int option.
pub fn setsockopt_int(fd: RawFd, level: i32, name: i32, v: i32) -> io::Result<()> {
    // SAFETY: `v` is a readable int of the length passed.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&v as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Reads a password from `/dev/tty` with echo off (nc's `readpassphrase`).
pub fn read_password(prompt: &str) -> Option<String> {
    use std::io::{BufRead, Write};
    use std::os::fd::AsRawFd;
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .ok()?;
    let fd = tty.as_raw_fd();
    // SAFETY: termios is plain old data; tcgetattr fills it and tcsetattr
    // reads it; the descriptor is open for the whole function.
    let saved = unsafe {
        let mut t: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(fd, &mut t) != 0 {
            return None;
        }
        let saved = t;
        t.c_lflag &= !libc::ECHO;
        libc::tcsetattr(fd, libc::TCSAFLUSH, &t);
        saved
    };
    let mut w = &tty;
    let _ = w.write_all(prompt.as_bytes());
    let mut line = String::new();
    let r = std::io::BufReader::new(&tty).read_line(&mut line);
    // SAFETY: restores the attributes saved above on the same descriptor.
    unsafe {
        libc::tcsetattr(fd, libc::TCSAFLUSH, &saved);
    }
    let _ = w.write_all(b"\n");
    r.ok()?;
    Some(line.trim_end_matches(['\r', '\n']).to_string())
}

/// The kernel's `struct tcp_md5sig` (linux/tcp.h).
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
    // SAFETY: TcpMd5Sig is plain old data; all-zero is valid; the kernel
    // reads exactly size_of::<TcpMd5Sig>() bytes from it.
    unsafe {
        let mut sig: TcpMd5Sig = std::mem::zeroed();
        sig.addr.ss_family = if v6 { libc::AF_INET6 } else { libc::AF_INET } as libc::sa_family_t;
        let n = key.len().min(libc::TCP_MD5SIG_MAXKEYLEN);
        sig.key[..n].copy_from_slice(&key[..n]);
        sig.keylen = n as u16;
        sig.flags = 1; // TCP_MD5SIG_FLAG_PREFIX
        let rc = libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_MD5SIG_EXT,
            (&sig as *const TcpMd5Sig).cast(),
            std::mem::size_of::<TcpMd5Sig>() as libc::socklen_t,
        );
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
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
