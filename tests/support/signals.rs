//! Keystrokes of a terminal, as signals: Ctrl-C is SIGINT, Ctrl-Z is
//! SIGSTOP, `fg` is SIGCONT (Ctrl-D is closing the child's stdin, which
//! needs no system call of its own).
//!
//! The only `unsafe` of the scenario harness lives here (the module is
//! declared with a local `#[allow(unsafe_code)]`); every call is a thin
//! wrapper with a SAFETY comment.

// Not every user sends every signal.
#![allow(dead_code)]

use std::io;
use std::os::unix::process::CommandExt;
use std::process::Command;

/// A signal the lab sends, with the keystroke it stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// Ctrl-C.
    Int,
    /// What a script sends instead of Ctrl-C.
    Term,
    /// Ctrl-Z.
    Stop,
    /// `fg`.
    Cont,
}

impl Signal {
    fn number(self) -> libc::c_int {
        match self {
            Signal::Int => libc::SIGINT,
            Signal::Term => libc::SIGTERM,
            Signal::Stop => libc::SIGSTOP,
            Signal::Cont => libc::SIGCONT,
        }
    }

    /// `SIGINT (Ctrl-C)` and so on, for logs.
    pub fn describe(self) -> &'static str {
        match self {
            Signal::Int => "SIGINT (Ctrl-C)",
            Signal::Term => "SIGTERM",
            Signal::Stop => "SIGSTOP (Ctrl-Z)",
            Signal::Cont => "SIGCONT (fg)",
        }
    }
}

/// Sends `sig` to the single process `pid`, a child the harness spawned
/// and has not reaped yet (so the id cannot have been reused). Refuses
/// pids <= 1, which would address a group or every process.
pub fn send(pid: u32, sig: Signal) -> io::Result<()> {
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
    // SAFETY: kill() takes only integers and touches no memory of ours;
    // `pid` is a single positive process id (checked above).
    let rc = unsafe { libc::kill(pid, sig.number()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
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
                if libc::signal(sig, libc::SIG_DFL) == libc::SIG_ERR {
                    return Err(io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

/// True when process `pid` is stopped (state `T` in `/proc/<pid>/stat`).
pub fn is_stopped(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(") ")
                .and_then(|(_, rest)| rest.chars().next())
        })
        .is_some_and(|c| c == 'T' || c == 't')
}
