//! The crate's only unsafe code: thin safe wrappers over the C library
//! calls std does not offer (the effective uid, the monotonic clock,
//! mounting tracefs for `trace`, glibc's name service, and the netlink
//! socket calls of [`crate::diag`]).
//!
//! Rules kept here, so the rest of the crate needs no `unsafe`:
//! - each `unsafe` block holds one foreign call (or one read through a
//!   pointer such a call returned) and says in `// SAFETY:` why it is sound;
//! - every status is checked: the `_r` lookups return an error number,
//!   turned into an [`io::Error`] by [`cvt`]; `getaddrinfo`/`getnameinfo`
//!   return an `EAI_*` code, kept in a [`GaiError`];
//! - only reentrant calls are used: the `_r` lookups write into a buffer of
//!   ours, `getaddrinfo`/`getnameinfo` are reentrant by definition. The one
//!   walk with shared state in the C library, `setservent`/`getservent_r`/
//!   `endservent` (the database's read position), runs under
//!   [`SERVICES_WALK`], so two threads never read through it at once.
//!
//! The `_r` lookups are glibc's; the libc crate declares only some of
//! them, so the others are declared below with glibc's prototypes.

use std::ffi::{c_char, c_int, CStr, CString};
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::ptr;
use std::sync::Mutex;
use std::time::Duration;

// glibc's reentrant service and protocol lookups (<netdb.h>), which the
// libc crate does not declare.
extern "C" {
    fn getservbyport_r(
        port: c_int,
        proto: *const c_char,
        result_buf: *mut libc::servent,
        buf: *mut c_char,
        buflen: libc::size_t,
        result: *mut *mut libc::servent,
    ) -> c_int;
    fn getservbyname_r(
        name: *const c_char,
        proto: *const c_char,
        result_buf: *mut libc::servent,
        buf: *mut c_char,
        buflen: libc::size_t,
        result: *mut *mut libc::servent,
    ) -> c_int;
    fn getservent_r(
        result_buf: *mut libc::servent,
        buf: *mut c_char,
        buflen: libc::size_t,
        result: *mut *mut libc::servent,
    ) -> c_int;
    fn getprotobynumber_r(
        proto: c_int,
        result_buf: *mut libc::protoent,
        buf: *mut c_char,
        buflen: libc::size_t,
        result: *mut *mut libc::protoent,
    ) -> c_int;
}

/// Turns the status of an `_r` lookup (0, or the error number itself, not
/// -1 and `errno`) into a `Result`.
fn cvt(rc: c_int) -> io::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(rc))
    }
}

/// First size of an `_r` lookup's buffer (glibc's own callers start at
/// 1 KiB too).
const FIRST_BUF: usize = 1024;

/// Largest buffer an `_r` lookup may ask for; past it its `ERANGE` is the
/// error. A services or networks line is a few hundred bytes at most.
const MAX_BUF: usize = 1 << 20;

/// Runs an `_r` lookup with a buffer of ours, four times larger each time
/// it answers `ERANGE`, up to [`MAX_BUF`]. `call` makes the foreign call,
/// copies out what it found (`None`: not found) before the buffer can move,
/// and returns the call's status with it.
fn with_buffer<T>(
    mut call: impl FnMut(&mut [c_char]) -> (c_int, Option<T>),
) -> io::Result<Option<T>> {
    let mut buf = vec![0 as c_char; FIRST_BUF];
    loop {
        let (rc, found) = call(&mut buf);
        if rc == libc::ERANGE && buf.len() < MAX_BUF {
            buf.resize(buf.len() * 4, 0);
            continue;
        }
        cvt(rc)?;
        return Ok(found);
    }
}

/// Copies a C string out; `None` for a null pointer.
///
/// # Safety
/// `p` is null or points to a NUL-terminated string that stays valid and
/// unchanged for the duration of the call.
unsafe fn owned(p: *const c_char) -> Option<String> {
    if p.is_null() {
        return None;
    }
    // SAFETY: non-null, and the caller promises a live NUL-terminated string.
    let s = unsafe { CStr::from_ptr(p) };
    Some(s.to_string_lossy().into_owned())
}

/// The effective uid of this process (`geteuid`).
pub(crate) fn geteuid() -> u32 {
    // SAFETY: geteuid takes nothing, cannot fail and touches no memory of ours.
    unsafe { libc::geteuid() }
}

/// A failed `getaddrinfo` or `getnameinfo`: its `EAI_*` code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct GaiError(c_int);

impl GaiError {
    /// `gai_strerror`'s text for the code.
    pub(crate) fn message(self) -> String {
        // SAFETY: gai_strerror accepts any int and returns a pointer to a
        // static NUL-terminated string (glibc: "Unknown error" for codes it
        // does not know), never written to afterwards.
        let text = unsafe { libc::gai_strerror(self.0) };
        // SAFETY: as just said, `text` is a static C string (or null, which
        // `owned` turns into None).
        unsafe { owned(text) }.unwrap_or_else(|| format!("getaddrinfo error {}", self.0))
    }
}

/// Size of `getnameinfo`'s host buffer (`NI_MAXHOST`).
const NI_MAXHOST: usize = 1025;

/// `getnameinfo` for an address's host part only (no service), with
/// `flags` (`NI_NAMEREQD`, `NI_NUMERICHOST`, ...).
pub(crate) fn getnameinfo_host(addr: &SocketAddr, flags: c_int) -> Result<String, GaiError> {
    let mut host = [0u8; NI_MAXHOST];
    // Only the arm's own sockaddr is built; it lives until the call returns.
    let (v4, v6);
    let (sa, len): (*const libc::sockaddr, libc::socklen_t) = match addr {
        SocketAddr::V4(a) => {
            v4 = sockaddr_v4(a);
            (
                ptr::from_ref(&v4).cast(),
                size_of_socklen::<libc::sockaddr_in>(),
            )
        }
        SocketAddr::V6(a) => {
            v6 = sockaddr_v6(a);
            (
                ptr::from_ref(&v6).cast(),
                size_of_socklen::<libc::sockaddr_in6>(),
            )
        }
    };
    // SAFETY: `sa` points to an initialized sockaddr_in or sockaddr_in6 of
    // `len` bytes, alive and read only during the call; `host` is writable
    // for the length passed; a null service buffer of length 0 is allowed.
    let rc = unsafe {
        libc::getnameinfo(
            sa,
            len,
            host.as_mut_ptr().cast(),
            NI_MAXHOST as libc::socklen_t,
            ptr::null_mut(),
            0,
            flags,
        )
    };
    if rc != 0 {
        return Err(GaiError(rc));
    }
    // On success the name is NUL-terminated inside `host`; a missing NUL
    // would be the library's failure, reported as EAI_OVERFLOW.
    CStr::from_bytes_until_nul(&host)
        .map(|s| s.to_string_lossy().into_owned())
        .map_err(|_| GaiError(libc::EAI_OVERFLOW))
}

fn size_of_socklen<T>() -> libc::socklen_t {
    std::mem::size_of::<T>() as libc::socklen_t
}

fn sockaddr_v4(a: &SocketAddrV4) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: a.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(a.ip().octets()),
        },
        sin_zero: [0; 8],
    }
}

fn sockaddr_v6(a: &SocketAddrV6) -> libc::sockaddr_in6 {
    libc::sockaddr_in6 {
        sin6_family: libc::AF_INET6 as libc::sa_family_t,
        sin6_port: a.port().to_be(),
        sin6_flowinfo: a.flowinfo(),
        sin6_addr: libc::in6_addr {
            s6_addr: a.ip().octets(),
        },
        sin6_scope_id: a.scope_id(),
    }
}

/// What [`getaddrinfo`] is asked for: `ai_family`, `ai_socktype`,
/// `ai_protocol` and `ai_flags` of the hints.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AddrHints {
    pub(crate) family: c_int,
    pub(crate) socktype: c_int,
    pub(crate) protocol: c_int,
    pub(crate) flags: c_int,
}

/// The list `getaddrinfo` returned, freed exactly once when dropped.
struct AddrInfoList(*mut libc::addrinfo);

impl Drop for AddrInfoList {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: the pointer came from a successful getaddrinfo, is
            // owned by this value alone, and is freed only here.
            unsafe { libc::freeaddrinfo(self.0) };
        }
    }
}

/// `getaddrinfo`: the IPv4 and IPv6 addresses of `host` (null: none) and
/// `service`, in the resolver's order; other families are skipped.
pub(crate) fn getaddrinfo(
    host: Option<&CString>,
    service: &CString,
    hints: AddrHints,
) -> Result<Vec<SocketAddr>, GaiError> {
    let h = libc::addrinfo {
        ai_flags: hints.flags,
        ai_family: hints.family,
        ai_socktype: hints.socktype,
        ai_protocol: hints.protocol,
        ai_addrlen: 0,
        ai_addr: ptr::null_mut(),
        ai_canonname: ptr::null_mut(),
        ai_next: ptr::null_mut(),
    };
    let mut res: *mut libc::addrinfo = ptr::null_mut();
    // SAFETY: the strings are NUL-terminated and outlive the call; the
    // hints are an initialized addrinfo whose pointers are null, as
    // getaddrinfo requires; `res` is a valid place for the list pointer.
    let rc = unsafe {
        libc::getaddrinfo(
            host.map_or(ptr::null(), |c| c.as_ptr()),
            service.as_ptr(),
            &h,
            &mut res,
        )
    };
    if rc != 0 {
        return Err(GaiError(rc));
    }
    let list = AddrInfoList(res);
    let mut out = Vec::new();
    let mut cur = list.0.cast_const();
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getaddrinfo returned, which
        // `list` keeps alive and nobody writes to.
        let ai = unsafe { &*cur };
        if let Some(sa) = socket_addr(ai) {
            out.push(sa);
        }
        cur = ai.ai_next;
    }
    drop(list);
    Ok(out)
}

/// The address of one `getaddrinfo` node, if it is IPv4 or IPv6 and as
/// long as its family says.
fn socket_addr(ai: &libc::addrinfo) -> Option<SocketAddr> {
    if ai.ai_addr.is_null() {
        return None;
    }
    let len = ai.ai_addrlen as usize;
    match ai.ai_family {
        libc::AF_INET if len >= std::mem::size_of::<libc::sockaddr_in>() => {
            // SAFETY: getaddrinfo's node says ai_addr holds an AF_INET
            // address of at least sizeof(sockaddr_in) bytes (checked above);
            // read_unaligned makes no alignment assumption.
            let sa = unsafe { ptr::read_unaligned(ai.ai_addr.cast::<libc::sockaddr_in>()) };
            Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(sa.sin_addr.s_addr.to_ne_bytes()),
                u16::from_be(sa.sin_port),
            )))
        }
        libc::AF_INET6 if len >= std::mem::size_of::<libc::sockaddr_in6>() => {
            // SAFETY: as for AF_INET, with a sockaddr_in6.
            let sa = unsafe { ptr::read_unaligned(ai.ai_addr.cast::<libc::sockaddr_in6>()) };
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(sa.sin6_addr.s6_addr),
                u16::from_be(sa.sin6_port),
                sa.sin6_flowinfo,
                sa.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

/// One services database entry, copied out of the C library's buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Service {
    /// Official name.
    pub(crate) name: String,
    /// Protocol (`tcp`, `udp`, ...).
    pub(crate) proto: String,
    /// Port, host order.
    pub(crate) port: u16,
}

/// Copies a filled-in `servent` out; `None` if its name or protocol is null.
///
/// # Safety
/// `ent` was filled in by a successful `_r` call whose buffer is still
/// alive and unchanged, so its strings are live C strings or null.
unsafe fn service_of(ent: &libc::servent) -> Option<Service> {
    // SAFETY: the caller's promise covers s_name and s_proto.
    let (name, proto) = unsafe { (owned(ent.s_name)?, owned(ent.s_proto)?) };
    Some(Service {
        name,
        proto,
        // s_port holds the port in network order in its low 16 bits.
        port: u16::from_be(ent.s_port as u16),
    })
}

/// Runs one `servent` lookup of the `_r` family under [`with_buffer`]:
/// `call` makes the call with the entry, buffer and result place it is
/// given and returns its status. `Some(None)`: an entry whose name or
/// protocol is null.
///
/// # Safety
/// `call` makes exactly that: one glibc `servent` `_r` call that fills in
/// the given entry with pointers into the given buffer (or leaves the
/// result null), and nothing else with them.
unsafe fn servent_r(
    mut call: impl FnMut(&mut libc::servent, &mut [c_char], &mut *mut libc::servent) -> c_int,
) -> io::Result<Option<Option<Service>>> {
    with_buffer(|buf| {
        let mut ent = libc::servent::default();
        let mut result: *mut libc::servent = ptr::null_mut();
        let rc = call(&mut ent, buf, &mut result);
        if rc != 0 || result.is_null() {
            return (rc, None);
        }
        // SAFETY: by the caller's promise, success filled `ent` with
        // pointers into `buf`, which is alive and untouched until
        // `with_buffer`'s next call.
        (rc, Some(unsafe { service_of(&ent) }))
    })
}

/// `getservbyport_r`: the entry for a port (host order) and protocol.
pub(crate) fn getservbyport(port: u16, proto: &CStr) -> io::Result<Option<Service>> {
    // SAFETY: the closure makes one getservbyport_r call with the entry,
    // buffer (its length passed) and result place it is given, as
    // servent_r asks; `proto` is NUL-terminated and outlives it.
    let found = unsafe {
        servent_r(|ent, buf, res| {
            let (port, proto) = (c_int::from(port.to_be()), proto.as_ptr());
            getservbyport_r(port, proto, ent, buf.as_mut_ptr(), buf.len(), res)
        })
    };
    Ok(found?.flatten())
}

/// `getservbyname_r`: the entry for a service name and protocol.
pub(crate) fn getservbyname(name: &CStr, proto: &CStr) -> io::Result<Option<Service>> {
    // SAFETY: as in getservbyport, with a NUL-terminated name too.
    let found = unsafe {
        servent_r(|ent, buf, res| {
            let (name, proto) = (name.as_ptr(), proto.as_ptr());
            getservbyname_r(name, proto, ent, buf.as_mut_ptr(), buf.len(), res)
        })
    };
    Ok(found?.flatten())
}

/// Serializes walks of the services database: `setservent`, `getservent_r`
/// and `endservent` share one read position inside the C library, so two
/// walks at once would each see part of the file. Held for a whole walk.
/// (Code outside this crate that walks the database itself is not covered;
/// it cannot break memory safety here, since each entry is read into a
/// buffer of ours, only the order it sees.)
static SERVICES_WALK: Mutex<()> = Mutex::new(());

/// Every entry of the services database, in database order, handed to
/// `each` (`setservent(1)`, `getservent_r` until the end, `endservent`).
/// An error other than the end stops the walk and is returned; the entries
/// seen before it have been handed on.
pub(crate) fn each_service(mut each: impl FnMut(Service)) -> io::Result<()> {
    // The guard protects no data, only the order of calls: a walk that
    // panicked left nothing half-done, so a poisoned lock is still usable.
    let _walk = SERVICES_WALK.lock().unwrap_or_else(|e| e.into_inner());
    // SAFETY: setservent takes an int and returns nothing; SERVICES_WALK
    // keeps our walks apart.
    unsafe { libc::setservent(1) };
    let mut status = Ok(());
    loop {
        // getservent_r answers ERANGE without moving on, so a larger
        // buffer gets the same entry again (as glibc's getservent relies on).
        // SAFETY: the closure makes one getservent_r call with the entry,
        // buffer (its length passed) and result place it is given, as
        // servent_r asks. The end of the database (a null result with
        // ENOENT) is turned into "not found".
        let next = unsafe {
            servent_r(|ent, buf, result| {
                let rc = getservent_r(ent, buf.as_mut_ptr(), buf.len(), result);
                if rc == libc::ENOENT && result.is_null() {
                    0
                } else {
                    rc
                }
            })
        };
        match next {
            Ok(Some(Some(s))) => each(s),
            Ok(Some(None)) => {}
            Ok(None) => break,
            Err(e) => {
                status = Err(e);
                break;
            }
        }
    }
    // SAFETY: endservent takes nothing and returns nothing; still under
    // SERVICES_WALK.
    unsafe { libc::endservent() };
    status
}

/// `getprotobynumber_r`: the official name of an IP protocol number.
pub(crate) fn getprotobynumber(n: c_int) -> io::Result<Option<String>> {
    with_buffer(|buf| {
        let mut ent = libc::protoent::default();
        let mut result: *mut libc::protoent = ptr::null_mut();
        // SAFETY: `ent`, `buf` (of the length passed) and `result` are ours
        // and writable for the call.
        let rc =
            unsafe { getprotobynumber_r(n, &mut ent, buf.as_mut_ptr(), buf.len(), &mut result) };
        if rc != 0 || result.is_null() {
            return (rc, None);
        }
        // SAFETY: success filled `ent` with pointers into `buf`, alive and
        // untouched until the next call.
        (rc, unsafe { owned(ent.p_name) })
    })
}

/// `getnetbyaddr_r` for an IPv4 network number (host order): the network's
/// official name.
pub(crate) fn getnetbyaddr(net: u32) -> io::Result<Option<String>> {
    with_buffer(|buf| {
        let mut ent = libc::netent {
            n_name: ptr::null_mut(),
            n_aliases: ptr::null_mut(),
            n_addrtype: 0,
            n_net: 0,
        };
        let mut result: *mut libc::netent = ptr::null_mut();
        // Why a lookup failed (HOST_NOT_FOUND, TRY_AGAIN, ...): both end in
        // "no name", as getnetbyaddr's null does, so only `rc` is read.
        let mut h_errno: c_int = 0;
        // SAFETY: `ent`, `buf` (of the length passed), `result` and
        // `h_errno` are ours and writable for the call.
        let rc = unsafe {
            libc::getnetbyaddr_r(
                net,
                libc::AF_INET,
                &mut ent,
                buf.as_mut_ptr(),
                buf.len(),
                &mut result,
                &mut h_errno,
            )
        };
        if rc != 0 || result.is_null() {
            return (rc, None);
        }
        // SAFETY: as in getprotobynumber.
        (rc, unsafe { owned(ent.n_name) })
    })
}

/// A netlink socket of `protocol` (`NETLINK_SOCK_DIAG`, ...): `SOCK_RAW`,
/// close-on-exec, owned (closed on drop).
pub(crate) fn netlink_socket(protocol: c_int) -> io::Result<OwnedFd> {
    // SAFETY: socket takes plain integers and returns a new descriptor or -1.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            protocol,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by socket() and is owned by no one else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `SO_RCVTIMEO`: a receive on `fd` fails with `EAGAIN` after `timeout`.
pub(crate) fn set_recv_timeout(fd: BorrowedFd<'_>, timeout: Duration) -> io::Result<()> {
    let tv = libc::timeval {
        tv_sec: libc::time_t::try_from(timeout.as_secs()).unwrap_or(libc::time_t::MAX),
        tv_usec: libc::suseconds_t::from(timeout.subsec_micros()),
    };
    // SAFETY: `tv` is a live timeval of the size passed; the kernel only reads it.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&tv as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Sends one datagram to the kernel (netlink port 0) on `fd`; retried on
/// `EINTR`. Returns the bytes sent.
pub(crate) fn netlink_send_to_kernel(fd: BorrowedFd<'_>, msg: &[u8]) -> io::Result<usize> {
    // SAFETY: sockaddr_nl is plain data; all zeros is a valid value.
    let mut to: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    to.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    loop {
        // SAFETY: `msg` is readable for its length, `to` is a live
        // sockaddr_nl of the size passed; neither is kept by the kernel.
        let n = unsafe {
            libc::sendto(
                fd.as_raw_fd(),
                msg.as_ptr().cast(),
                msg.len(),
                0,
                (&to as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Receives one datagram into `buf`; retried on `EINTR`. Returns the
/// datagram's full length (`MSG_TRUNC`), which is larger than `buf` when
/// the datagram did not fit (the part that did is in `buf`).
pub(crate) fn recv_datagram(fd: BorrowedFd<'_>, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        // SAFETY: `buf` is ours and writable for its length.
        let n = unsafe {
            libc::recv(
                fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_TRUNC,
            )
        };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// `PROC_SUPER_MAGIC` (`<linux/magic.h>`).
const PROC_SUPER_MAGIC: i64 = 0x9fa0;

/// Whether `path` lies on a procfs (`statfs`): the kernel's own tables,
/// not a tree put over `/proc`.
pub(crate) fn on_procfs(path: &std::path::Path) -> io::Result<bool> {
    use std::os::unix::ffi::OsStrExt;
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
    // SAFETY: statfs is plain data; all zeros is a valid value.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a NUL-terminated path, `st` a live statfs the kernel
    // fills; neither is kept.
    let rc = unsafe { libc::statfs(c.as_ptr(), &mut st) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    #[allow(clippy::unnecessary_cast)]
    Ok(st.f_type as i64 == PROC_SUPER_MAGIC)
}

/// `clock_gettime(CLOCK_MONOTONIC)` in microseconds: the clock tracefs
/// calls `mono`, so tracepoint timestamps and this process's own times
/// can be compared.
pub(crate) fn monotonic_us() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a live, writable timespec; CLOCK_MONOTONIC always
    // exists on Linux, so the call cannot fail (checked all the same).
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    if rc != 0 {
        return 0;
    }
    u64::try_from(ts.tv_sec).unwrap_or(0) * 1_000_000
        + u64::try_from(ts.tv_nsec).unwrap_or(0) / 1000
}

/// `mount("nodev", target, "tracefs", 0, NULL)`.
pub(crate) fn mount_tracefs(target: &CStr) -> io::Result<()> {
    // SAFETY: every string is NUL-terminated and outlives the call; the
    // data pointer may be NULL for tracefs.
    let rc = unsafe {
        libc::mount(
            c"nodev".as_ptr(),
            target.as_ptr(),
            c"tracefs".as_ptr(),
            0,
            ptr::null(),
        )
    };
    crate::os::cvt(rc).map(|_| ())
}

/// `umount2(target, 0)`.
pub(crate) fn umount(target: &CStr) -> io::Result<()> {
    // SAFETY: `target` is NUL-terminated and outlives the call.
    let rc = unsafe { libc::umount2(target.as_ptr(), 0) };
    crate::os::cvt(rc).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cvt_keeps_the_error_number() {
        assert!(cvt(0).is_ok());
        assert_eq!(
            cvt(libc::ENOENT).unwrap_err().raw_os_error(),
            Some(libc::ENOENT)
        );
    }

    #[test]
    fn buffers_grow_on_erange_up_to_the_limit() {
        // A call that needs 20 000 bytes: 1 KiB, 4 KiB, 16 KiB, then 64 KiB.
        let mut sizes = Vec::new();
        let got = with_buffer(|buf| {
            sizes.push(buf.len());
            if buf.len() < 20_000 {
                (libc::ERANGE, None)
            } else {
                (0, Some(buf.len()))
            }
        });
        assert_eq!(got.unwrap(), Some(65_536));
        assert_eq!(sizes, [1024, 4096, 16_384, 65_536]);

        // One that always wants more stops at MAX_BUF with ERANGE.
        let mut last = 0;
        let got = with_buffer(|buf| {
            last = buf.len();
            (libc::ERANGE, None::<()>)
        });
        assert_eq!(got.unwrap_err().raw_os_error(), Some(libc::ERANGE));
        assert_eq!(last, MAX_BUF);

        // Not found is Ok(None); another error is that error.
        assert!(with_buffer(|_| (0, None::<()>)).unwrap().is_none());
        let e = with_buffer(|_| (libc::EIO, None::<()>)).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EIO));
    }

    #[test]
    fn gai_messages_are_the_c_library_s() {
        assert_eq!(
            GaiError(libc::EAI_NONAME).message(),
            "Name or service not known"
        );
        assert_eq!(
            GaiError(libc::EAI_SERVICE).message(),
            "Servname not supported for ai_socktype"
        );
    }

    #[test]
    fn numeric_lookups_need_no_name_service() {
        let v4: SocketAddr = "127.0.0.1:0".parse().unwrap();
        assert_eq!(
            getnameinfo_host(&v4, libc::NI_NUMERICHOST).unwrap(),
            "127.0.0.1"
        );
        let v6: SocketAddr = "[2001:db8::1]:0".parse().unwrap();
        assert_eq!(
            getnameinfo_host(&v6, libc::NI_NUMERICHOST).unwrap(),
            "2001:db8::1"
        );
        let hints = AddrHints {
            family: 0,
            socktype: libc::SOCK_STREAM,
            protocol: 0,
            flags: libc::AI_NUMERICHOST | libc::AI_NUMERICSERV,
        };
        let host = CString::new("2001:db8::7").unwrap();
        let port = CString::new("80").unwrap();
        let got = getaddrinfo(Some(&host), &port, hints).unwrap();
        assert_eq!(got, ["[2001:db8::7]:80".parse::<SocketAddr>().unwrap()]);
        let bad = CString::new("not-an-address").unwrap();
        assert_eq!(
            getaddrinfo(Some(&bad), &port, hints),
            Err(GaiError(libc::EAI_NONAME))
        );
    }
}
