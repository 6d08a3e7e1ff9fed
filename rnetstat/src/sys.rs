//! The few libc calls rnetstat needs, behind safe wrappers: name service
//! lookups (hosts, services, networks, users) go through glibc's NSS
//! exactly as net-tools does, so `/etc/hosts`, `/etc/services` and
//! whatever `nsswitch.conf` names answer the same way for both tools;
//! `readlinkat` keeps the `-p` scan to one syscall per descriptor.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, BorrowedFd};

/// `getnameinfo` for an IPv4 address; `None` if no name is known
/// (`NI_NAMEREQD`). Same answer as net-tools' `gethostbyaddr`: both return
/// the entry's official name.
pub fn host_name_v4(addr: Ipv4Addr) -> Option<String> {
    // SAFETY: sockaddr_in is plain old data; all-zero is a valid value.
    let mut sa: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    sa.sin_family = libc::AF_INET as libc::sa_family_t;
    sa.sin_addr.s_addr = u32::from_ne_bytes(addr.octets());
    let mut host = [0 as libc::c_char; 1025];
    // SAFETY: `sa` is a valid sockaddr_in of the length passed; `host` is a
    // writable buffer of the length passed; the service buffer is null/0.
    let rc = unsafe {
        libc::getnameinfo(
            (&sa as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            host.as_mut_ptr(),
            host.len() as libc::socklen_t,
            std::ptr::null_mut(),
            0,
            libc::NI_NAMEREQD,
        )
    };
    if rc != 0 {
        return None;
    }
    // SAFETY: on success getnameinfo wrote a NUL-terminated string.
    Some(
        unsafe { CStr::from_ptr(host.as_ptr()) }
            .to_string_lossy()
            .into_owned(),
    )
}

/// `getnameinfo` for an IPv6 address with flags 0, as net-tools calls it:
/// the numeric form comes back when no name is known. `None` on failure.
pub fn host_name_v6(addr: Ipv6Addr) -> Option<String> {
    // SAFETY: sockaddr_in6 is plain old data; all-zero is a valid value.
    let mut sa: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
    sa.sin6_family = libc::AF_INET6 as libc::sa_family_t;
    sa.sin6_addr.s6_addr = addr.octets();
    let mut host = [0 as libc::c_char; 1025];
    // SAFETY: as in host_name_v4, with a sockaddr_in6.
    let rc = unsafe {
        libc::getnameinfo(
            (&sa as *const libc::sockaddr_in6).cast(),
            std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
            host.as_mut_ptr(),
            host.len() as libc::socklen_t,
            std::ptr::null_mut(),
            0,
            0,
        )
    };
    if rc != 0 {
        return None;
    }
    // SAFETY: on success getnameinfo wrote a NUL-terminated string.
    Some(
        unsafe { CStr::from_ptr(host.as_ptr()) }
            .to_string_lossy()
            .into_owned(),
    )
}

/// `getnetbyaddr` (the `/etc/networks` database), used by net-tools for
/// IPv4 addresses whose last octet is 0.
pub fn net_name(addr: Ipv4Addr) -> Option<String> {
    // SAFETY: getnetbyaddr takes a host-order number and returns either
    // null or a pointer to a static netent whose n_name is a C string; we
    // copy it out before any other NSS call.
    unsafe {
        let ent = libc::getnetbyaddr(u32::from(addr), libc::AF_INET);
        if ent.is_null() || (*ent).n_name.is_null() {
            return None;
        }
        Some(CStr::from_ptr((*ent).n_name).to_string_lossy().into_owned())
    }
}

/// Every `(port, proto, name)` of the services database, in file order
/// (`setservent`/`getservent`/`endservent`). Ports are host order.
pub fn all_services() -> Vec<(u16, String, String)> {
    let mut out = Vec::new();
    // SAFETY: the getservent family is not thread-safe; rnetstat calls it
    // from one thread only. Each returned pointer is valid until the next
    // call, and we copy the strings before that.
    unsafe {
        libc::setservent(1);
        loop {
            let ent = libc::getservent();
            if ent.is_null() {
                break;
            }
            let e = &*ent;
            if e.s_name.is_null() || e.s_proto.is_null() {
                continue;
            }
            let port = u16::from_be(e.s_port as u16);
            let name = CStr::from_ptr(e.s_name).to_string_lossy().into_owned();
            let proto = CStr::from_ptr(e.s_proto).to_string_lossy().into_owned();
            out.push((port, proto, name));
        }
        libc::endservent();
    }
    out
}

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
    let n = unsafe {
        libc::readlinkat(
            dir.as_raw_fd(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n < 0 {
        return None;
    }
    Some(&buf[..n as usize])
}

/// The effective uid, for net-tools' `geteuid()=%d` notice.
pub fn euid() -> u32 {
    // SAFETY: geteuid cannot fail and has no preconditions.
    unsafe { libc::geteuid() }
}

/// Converts a file name to a C string (names from readdir never hold NUL).
pub fn cstring(bytes: &[u8]) -> Option<CString> {
    CString::new(bytes).ok()
}
