//! The few operating-system facts std does not expose: the effective uid
//! and the `open(2)` flag that refuses to follow a final symlink.

/// `O_NOFOLLOW`, for `std::os::unix::fs::OpenOptionsExt::custom_flags`.
pub const O_NOFOLLOW: i32 = libc::O_NOFOLLOW;

/// The effective uid of this process (`geteuid`).
pub fn euid() -> u32 {
    crate::sys::geteuid()
}
