//! The few operating-system facts std does not expose: the effective uid,
//! the monotonic clock in microseconds, and the `open(2)` flag that
//! refuses to follow a final symlink; and
//! `cvt`, which the crates' unsafe modules use to check every call that
//! answers -1.

use std::io;

/// `O_NOFOLLOW`, for `std::os::unix::fs::OpenOptionsExt::custom_flags`.
pub const O_NOFOLLOW: i32 = libc::O_NOFOLLOW;

/// The effective uid of this process (`geteuid`).
pub fn euid() -> u32 {
    crate::sys::geteuid()
}

/// Microseconds on the monotonic clock (`CLOCK_MONOTONIC`), the clock a
/// tracefs instance uses after `trace_clock` is set to `mono`.
pub fn monotonic_us() -> u64 {
    crate::sys::monotonic_us()
}

/// A C return type whose -1 means failure, with the reason in `errno`.
pub trait MinusOne: Copy + PartialEq {
    /// The failure value.
    const MINUS_ONE: Self;
}

impl MinusOne for i32 {
    const MINUS_ONE: Self = -1;
}

impl MinusOne for isize {
    const MINUS_ONE: Self = -1;
}

/// As std's `cvt`: -1 becomes the `errno` error (read at once, before
/// anything else can change it), anything else is the call's answer.
pub fn cvt<T: MinusOne>(rc: T) -> io::Result<T> {
    if rc == T::MINUS_ONE {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// An `io::Error`'s text as the C library's `strerror` gives it, without
/// Rust's ` (os error N)` suffix: what `perror(3)` and `err(3)` print.
pub fn strerror_text(e: &io::Error) -> String {
    let t = e.to_string();
    match t.find(" (os error") {
        Some(i) => t[..i].to_string(),
        None => t,
    }
}
