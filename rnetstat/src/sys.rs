//! rnetstat's only unsafe module: the few libc calls only rnetstat needs,
//! behind safe wrappers: user names (glibc NSS, as net-tools),
//! `readlinkat` (one syscall per descriptor in the `-p` scan), and the interface
//! ioctls of `-i` (`SIOCGIFCONF`, `SIOCGIFFLAGS`, `SIOCGIFMTU`, and for
//! `-ie` the hardware and IPv4 addresses, queue length and device map),
//! and for `--watch` the stop signals (a self-pipe) and `poll`. Host, network and
//! service lookups are shared with rnc in `rnet_core::names`; the
//! effective uid comes from `rnet_core::os`.
//!
//! Each `unsafe` block is one call with its `// SAFETY:` comment, and
//! every return code is checked ([`cvt`] for the calls that answer -1).
#![allow(unsafe_code)]

use rnet_core::os::cvt;
use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::time::Duration;

/// The user name of a uid (`getpwuid_r`), `None` if unknown.
pub fn user_name(uid: u32) -> Option<String> {
    let mut buf = vec![0 as libc::c_char; 4096];
    loop {
        // SAFETY: passwd is plain old data; all-zero is a valid value.
        let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: every pointer refers to live, writable memory of the
        // length given; on success `result` points to `pw`, whose strings
        // live in `buf`.
        let rc =
            unsafe { libc::getpwuid_r(uid, &mut pw, buf.as_mut_ptr(), buf.len(), &mut result) };
        if rc == libc::ERANGE && buf.len() < (1 << 20) {
            buf.resize(buf.len() * 4, 0);
            continue;
        }
        if rc != 0 || result.is_null() || pw.pw_name.is_null() {
            return None;
        }
        // SAFETY: pw_name points into `buf`, NUL-terminated.
        return Some(
            unsafe { CStr::from_ptr(pw.pw_name) }
                .to_string_lossy()
                .into_owned(),
        );
    }
}

/// `readlinkat(dir, name)` into `buf`; the link text on success.
pub fn readlink_at<'b>(dir: BorrowedFd<'_>, name: &CStr, buf: &'b mut [u8]) -> Option<&'b [u8]> {
    // SAFETY: `name` is NUL-terminated, `buf` is writable for its length,
    // and `dir` is an open descriptor for the duration of the call.
    let n = cvt(unsafe {
        libc::readlinkat(
            dir.as_raw_fd(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    })
    .ok()?;
    // readlinkat never answers more than it was given room for.
    buf.get(..usize::try_from(n).ok()?)
}

/// Converts a file name to a C string (names from readdir never hold NUL).
pub fn cstring(bytes: &[u8]) -> Option<CString> {
    CString::new(bytes).ok()
}

/// An `AF_INET` datagram socket for the interface ioctls of `-i`.
pub fn inet_dgram_socket() -> std::io::Result<OwnedFd> {
    // SAFETY: socket() with constant arguments; the result is checked.
    let raw =
        cvt(unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: `raw` is a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(raw) })
}

/// An `ifreq` naming `name` (cut to IFNAMSIZ - 1 bytes, as `safe_strncpy`).
fn ifreq_for(name: &[u8]) -> libc::ifreq {
    // SAFETY: ifreq is plain data; all zero is a valid value.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in ifr
        .ifr_name
        .iter_mut()
        .zip(name.iter().take(libc::IFNAMSIZ - 1))
    {
        *d = *s as libc::c_char;
    }
    ifr
}

/// `SIOCGIFFLAGS`: the interface flags (a C `short`).
pub fn if_flags(fd: BorrowedFd<'_>, name: &[u8]) -> std::io::Result<u16> {
    let mut ifr = ifreq_for(name);
    // SAFETY: SIOCGIFFLAGS reads and writes one ifreq we own.
    cvt(unsafe { libc::ioctl(fd.as_raw_fd(), libc::SIOCGIFFLAGS, &mut ifr) })?;
    // SAFETY: the kernel filled the flags member of the union.
    Ok(unsafe { ifr.ifr_ifru.ifru_flags } as u16)
}

/// `SIOCGIFMTU`: the MTU, 0 when the ioctl fails (as net-tools).
pub fn if_mtu(fd: BorrowedFd<'_>, name: &[u8]) -> i32 {
    let mut ifr = ifreq_for(name);
    // SAFETY: SIOCGIFMTU reads and writes one ifreq we own.
    match cvt(unsafe { libc::ioctl(fd.as_raw_fd(), libc::SIOCGIFMTU, &mut ifr) }) {
        // SAFETY: the kernel filled the mtu member of the union.
        Ok(_) => unsafe { ifr.ifr_ifru.ifru_mtu },
        Err(_) => 0,
    }
}

/// `SIOCGIFCONF`: the names of the interfaces (and labels) with an IPv4
/// address, in the kernel's order.
pub fn if_conf_names(fd: BorrowedFd<'_>) -> std::io::Result<Vec<Vec<u8>>> {
    let size = std::mem::size_of::<libc::ifreq>();
    let mut n = 30usize;
    loop {
        // SAFETY: ifreq is plain data; all zero is a valid value.
        let mut reqs: Vec<libc::ifreq> = (0..n).map(|_| unsafe { std::mem::zeroed() }).collect();
        // SAFETY: ifconf is plain data; all zero is a valid value.
        let mut ifc: libc::ifconf = unsafe { std::mem::zeroed() };
        ifc.ifc_len = (n * size) as libc::c_int;
        ifc.ifc_ifcu.ifcu_req = reqs.as_mut_ptr();
        // SAFETY: the buffer holds `ifc_len` bytes and outlives the call.
        cvt(unsafe { libc::ioctl(fd.as_raw_fd(), libc::SIOCGIFCONF, &mut ifc) })?;
        let len = usize::try_from(ifc.ifc_len).unwrap_or(0);
        if len == n * size && n < 1 << 16 {
            n *= 2;
            continue;
        }
        let count = (len / size).min(n);
        return Ok(reqs[..count]
            .iter()
            .map(|r| {
                r.ifr_name
                    .iter()
                    .take_while(|c| **c != 0)
                    .map(|c| *c as u8)
                    .collect()
            })
            .collect());
    }
}

/// One interface ioctl that fills an `ifreq`; the filled request.
fn if_ioctl(fd: BorrowedFd<'_>, name: &[u8], req: libc::c_ulong) -> std::io::Result<libc::ifreq> {
    let mut ifr = ifreq_for(name);
    // SAFETY: `req` is one of the SIOCGIF* requests, which read and write
    // one ifreq we own.
    cvt(unsafe { libc::ioctl(fd.as_raw_fd(), req, &mut ifr) })?;
    Ok(ifr)
}

/// `SIOCGIFHWADDR`: the hardware type and the first 8 address bytes.
pub fn if_hwaddr(fd: BorrowedFd<'_>, name: &[u8]) -> Option<(u16, [u8; 8])> {
    let ifr = if_ioctl(fd, name, libc::SIOCGIFHWADDR).ok()?;
    // SAFETY: the kernel filled the hwaddr member of the union.
    let sa = unsafe { ifr.ifr_ifru.ifru_hwaddr };
    let mut b = [0u8; 8];
    for (d, s) in b.iter_mut().zip(sa.sa_data.iter()) {
        *d = *s as u8;
    }
    Some((sa.sa_family, b))
}

/// `SIOCGIFTXQLEN`: the transmit queue length.
pub fn if_txqlen(fd: BorrowedFd<'_>, name: &[u8]) -> Option<i32> {
    let ifr = if_ioctl(fd, name, libc::SIOCGIFTXQLEN).ok()?;
    // SAFETY: the kernel filled the int member of the union.
    Some(unsafe { ifr.ifr_ifru.ifru_ifindex })
}

/// `SIOCGIFMAP`: irq, base address, memory start and end, dma.
pub fn if_map(fd: BorrowedFd<'_>, name: &[u8]) -> (u8, u16, u64, u64, u8) {
    match if_ioctl(fd, name, libc::SIOCGIFMAP) {
        Ok(ifr) => {
            // SAFETY: the kernel filled the map member of the union.
            let m = unsafe { ifr.ifr_ifru.ifru_map };
            (m.irq, m.base_addr, m.mem_start, m.mem_end, m.dma)
        }
        Err(_) => (0, 0, 0, 0, 0),
    }
}

/// An IPv4 address ioctl (`SIOCGIFADDR`, `SIOCGIFNETMASK`,
/// `SIOCGIFBRDADDR`, `SIOCGIFDSTADDR`): the address when it succeeds.
pub fn if_inet_addr(
    fd: BorrowedFd<'_>,
    name: &[u8],
    req: libc::c_ulong,
) -> Option<std::net::Ipv4Addr> {
    let mut ifr = ifreq_for(name);
    ifr.ifr_ifru.ifru_addr.sa_family = libc::AF_INET as libc::sa_family_t;
    // SAFETY: `req` reads and writes one ifreq we own.
    cvt(unsafe { libc::ioctl(fd.as_raw_fd(), req, &mut ifr) }).ok()?;
    // SAFETY: the kernel filled a sockaddr_in into the union.
    let sa = unsafe { ifr.ifr_ifru.ifru_addr };
    let d = sa.sa_data;
    Some(std::net::Ipv4Addr::new(
        d[2] as u8, d[3] as u8, d[4] as u8, d[5] as u8,
    ))
}

/// The write end of the stop pipe, for the signal handler (-1: none).
static STOP_WRITE: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(-1);

extern "C" fn on_stop_signal(_sig: libc::c_int) {
    let fd = STOP_WRITE.load(std::sync::atomic::Ordering::Relaxed);
    if fd >= 0 {
        let byte = 1u8;
        // SAFETY: write(2) is async-signal-safe; `byte` lives for the
        // call. A full pipe (EAGAIN) is fine: a byte is already waiting.
        unsafe { libc::write(fd, std::ptr::addr_of!(byte).cast(), 1) };
    }
}

/// Catches SIGINT, SIGTERM and SIGHUP for `--watch`: each writes a byte
/// into a pipe whose read end is returned, so the watch loop's `poll`
/// wakes up and the loop ends through its normal path (the tracefs
/// instance is removed on the way out). Call once per process.
pub fn stop_signals() -> std::io::Result<OwnedFd> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    cvt(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) })?;
    // SAFETY: pipe2 succeeded, so both descriptors are open and ours.
    let read = unsafe { OwnedFd::from_raw_fd(fds[0]) };
    // The write end stays open for the life of the process (the handler
    // may run at any time).
    STOP_WRITE.store(fds[1], std::sync::atomic::Ordering::Relaxed);
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: sigaction is plain old data; all-zero is a valid value.
        let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
        sa.sa_sigaction = on_stop_signal as *const () as libc::sighandler_t;
        // No SA_RESTART: poll returns EINTR and the loop looks again.
        sa.sa_flags = 0;
        // SAFETY: `sa.sa_mask` is a live sigset_t.
        cvt(unsafe { libc::sigemptyset(&mut sa.sa_mask) })?;
        // SAFETY: `sa` is initialised; the old action is not wanted.
        cvt(unsafe { libc::sigaction(sig, &sa, std::ptr::null_mut()) })?;
    }
    Ok(read)
}

/// `poll(2)` for input on `fds` for at most `timeout` (`None`: no
/// limit), and for an error on `out` (the write end of a pipe whose
/// reader is gone reports POLLERR; a terminal or a file never does).
/// Answers which of `fds` are readable (or hung up), then whether `out`
/// failed; all false on a timeout or an interrupting signal.
pub fn poll_readable(
    fds: &[BorrowedFd<'_>],
    out: Option<BorrowedFd<'_>>,
    timeout: Option<Duration>,
) -> std::io::Result<Vec<bool>> {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|fd| libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    if let Some(fd) = out {
        pfds.push(libc::pollfd {
            fd: fd.as_raw_fd(),
            events: 0,
            revents: 0,
        });
    }
    let ms = timeout.map_or(-1, |t| {
        // At least 1 ms for a non-zero wait, so it does not spin.
        let ms = t.as_millis().max(u128::from(!t.is_zero()));
        libc::c_int::try_from(ms).unwrap_or(libc::c_int::MAX)
    });
    // SAFETY: `pfds` is a live array of `pfds.len()` pollfd structures.
    let rc = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, ms) };
    if rc < 0 {
        let e = std::io::Error::last_os_error();
        if e.kind() == std::io::ErrorKind::Interrupted {
            return Ok(vec![false; pfds.len()]);
        }
        return Err(e);
    }
    let mut ready: Vec<bool> = pfds.iter().map(|p| p.revents != 0).collect();
    if out.is_some() {
        let last = pfds[pfds.len() - 1].revents;
        ready[pfds.len() - 1] = last & (libc::POLLERR | libc::POLLHUP) != 0;
    }
    Ok(ready)
}

/// Returns the C heap's free memory to the kernel (`malloc_trim(0)`, every
/// arena): the `-p` scan's buffers, freed, before the listing allocates
/// its own, so that the two do not add up in the peak.
pub fn give_back_free_memory() {
    // SAFETY: malloc_trim only walks the allocator's own free lists; it
    // takes no pointer and returns whether memory was released.
    unsafe {
        libc::malloc_trim(0);
    }
}
