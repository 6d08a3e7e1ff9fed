//! The few raw system calls the harness needs and std does not offer:
//! entering a network namespace on the calling thread, raw IP sockets,
//! signalling a process group, the effective uid.
//!
//! This is the only module of the test harness that may use `unsafe`
//! (it is declared with a local `#[allow(unsafe_code)]` in `mod.rs`).
//! Every call is a thin wrapper that turns `-1` into `io::Error` and hands
//! out owned descriptors at once.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Moves the *calling thread* into the network namespace that `ns_file`
/// (an open `/run/netns/NAME`) refers to. Other threads of the process
/// stay where they are; sockets created by this thread afterwards belong
/// to that namespace for their whole life, whichever thread uses them.
pub fn enter_netns(ns_file: &File) -> io::Result<()> {
    // SAFETY: `ns_file` is an open descriptor borrowed for the duration of
    // the call; setns reads no memory of ours and only changes the network
    // namespace of the calling thread.
    let rc = unsafe { libc::setns(ns_file.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Opens a raw IP socket (`SOCK_RAW`) of `domain` (`libc::AF_INET` or
/// `libc::AF_INET6`) for IP protocol `protocol`, in the caller's network
/// namespace. Needs CAP_NET_RAW.
pub fn raw_socket(domain: libc::c_int, protocol: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: socket() takes only integer arguments and touches no memory
    // of ours.
    let fd = unsafe { libc::socket(domain, libc::SOCK_RAW | libc::SOCK_CLOEXEC, protocol) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by socket(), is valid and open, and
    // nothing else owns it; OwnedFd takes sole ownership and closes it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Sends SIGKILL to every process of process group `pgid`. The harness
/// only calls this with the id of a group it created itself (a child
/// spawned with `process_group(0)` that has not been reaped yet, so the
/// id cannot have been reused). ESRCH (group already gone) is not an
/// error.
pub fn kill_process_group(pgid: u32) -> io::Result<()> {
    let Ok(pgid) = libc::pid_t::try_from(pgid) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "pgid out of range",
        ));
    };
    if pgid <= 1 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "refusing to signal group <= 1",
        ));
    }
    // SAFETY: kill() takes only integers; a negative pid addresses the
    // process group `pgid`, never "all processes" (that would be -1, which
    // the check above excludes).
    let rc = unsafe { libc::kill(-pgid, libc::SIGKILL) };
    if rc == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::ESRCH) {
        Ok(())
    } else {
        Err(err)
    }
}

/// Sends SIGKILL to the single process `pid` (a process inside one of the
/// harness's own namespaces). ESRCH is not an error.
pub fn kill_process(pid: u32) -> io::Result<()> {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "pid out of range",
        ));
    };
    if pid <= 1 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "refusing to signal pid <= 1",
        ));
    }
    // SAFETY: kill() takes only integers; `pid` is a positive single
    // process id (checked above), so no group or broadcast is addressed.
    let rc = unsafe { libc::kill(pid, libc::SIGKILL) };
    if rc == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::ESRCH) {
        Ok(())
    } else {
        Err(err)
    }
}

/// The effective user id of this process.
pub fn effective_uid() -> u32 {
    // SAFETY: geteuid() has no arguments, cannot fail and touches no
    // memory of ours.
    unsafe { libc::geteuid() }
}
