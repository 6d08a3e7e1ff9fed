//! The few raw system calls the kit needs and std does not offer:
//! entering a network namespace on the calling thread, raw IP sockets,
//! `connect(AF_UNSPEC)` and `listen` on an existing socket,
//! signalling a process or a process group, a child's signal
//! dispositions, the effective uid.
//!
//! This is the only module of the kit that may use `unsafe` (it is
//! declared with a local `#[allow(unsafe_code)]` in `lib.rs`).
//! Every call is a thin wrapper that turns `-1` into `io::Error` and hands
//! out owned descriptors at once.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::Command;

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

/// `connect(AF_UNSPEC)`: dissolves a TCP socket's association (the
/// kernel's `tcp_disconnect`), leaving it unconnected and reusable.
pub fn disconnect(fd: std::os::fd::BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: sockaddr is plain data; all zeros with AF_UNSPEC is valid.
    let mut sa: libc::sockaddr = unsafe { std::mem::zeroed() };
    sa.sa_family = libc::AF_UNSPEC as libc::sa_family_t;
    // SAFETY: `sa` is a live sockaddr of the size passed, only read.
    let rc = unsafe {
        libc::connect(
            fd.as_raw_fd(),
            &sa,
            std::mem::size_of::<libc::sockaddr>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `listen(fd, backlog)` on any socket (std only listens on new ones).
pub fn listen(fd: std::os::fd::BorrowedFd<'_>, backlog: libc::c_int) -> io::Result<()> {
    // SAFETY: listen takes two integers and touches no memory of ours.
    let rc = unsafe { libc::listen(fd.as_raw_fd(), backlog) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// A process id the harness may signal: positive and above 1, so `kill`
/// never addresses a group, every process or init by accident.
fn target(id: u32, what: &str) -> io::Result<libc::pid_t> {
    let Ok(id) = libc::pid_t::try_from(id) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{what} out of range"),
        ));
    };
    if id <= 1 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("refusing to signal {what} <= 1"),
        ));
    }
    Ok(id)
}

/// The one `kill(2)` of the kit: `pid` as `kill` takes it (negative for a
/// group), checked by the callers through [`target`].
fn kill(pid: libc::pid_t, sig: libc::c_int) -> io::Result<()> {
    // SAFETY: kill() takes only integers and touches no memory of ours;
    // every caller passes a single process id > 1 or the negation of a
    // group id > 1 (from `target`), never 0 or -1.
    let rc = unsafe { libc::kill(pid, sig) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// ESRCH (the process or group is already gone) is not an error for a
/// SIGKILL meant to end it.
fn gone_is_fine(r: io::Result<()>) -> io::Result<()> {
    match r {
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(()),
        other => other,
    }
}

/// Sends `sig` to the single process `pid`, a child the harness spawned
/// and has not reaped yet (so the id cannot have been reused). Refuses
/// pids <= 1, which would address a group or every process.
pub fn signal(pid: u32, sig: libc::c_int) -> io::Result<()> {
    kill(target(pid, "pid")?, sig)
}

/// Sends SIGKILL to every process of process group `pgid`. The harness
/// only calls this with the id of a group it created itself (a child
/// spawned with `process_group(0)` that has not been reaped yet, so the
/// id cannot have been reused). ESRCH (group already gone) is not an
/// error.
pub fn kill_process_group(pgid: u32) -> io::Result<()> {
    gone_is_fine(kill(-target(pgid, "group")?, libc::SIGKILL))
}

/// Sends SIGKILL to the single process `pid` (a process inside one of the
/// harness's own namespaces). ESRCH is not an error.
pub fn kill_process(pid: u32) -> io::Result<()> {
    gone_is_fine(signal(pid, libc::SIGKILL))
}

/// Makes `cmd`'s child start with the default action for SIGINT and
/// SIGTERM, whatever this test process inherited: a child of a
/// non-interactive shell's background job may start with SIGINT ignored,
/// and an ignored signal stays ignored across exec, so Ctrl-C would do
/// nothing.
pub fn default_dispositions(cmd: &mut Command) {
    // SAFETY: the closure runs in the forked child before exec and only
    // calls signal(2), which is async-signal-safe, with constant
    // arguments; it allocates nothing and takes no locks.
    unsafe {
        cmd.pre_exec(|| {
            for sig in [libc::SIGINT, libc::SIGTERM] {
                // SAFETY: see above; SIG_DFL is a valid disposition.
                if libc::signal(sig, libc::SIG_DFL) == libc::SIG_ERR {
                    return Err(io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

/// The effective user id of this process.
pub fn effective_uid() -> u32 {
    // SAFETY: geteuid() has no arguments, cannot fail and touches no
    // memory of ours.
    unsafe { libc::geteuid() }
}
