//! The few libc calls only rnetstat needs, behind safe wrappers: user
//! names (glibc NSS, as net-tools), `readlinkat` (one syscall per
//! descriptor in the `-p` scan) and the effective uid. Host, network and
//! service lookups are shared with rnc in `rnet_core::names`.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, BorrowedFd};

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
