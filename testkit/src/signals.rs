//! Keystrokes of a terminal, as signals: Ctrl-C is SIGINT, Ctrl-Z is
//! SIGSTOP, `fg` is SIGCONT (Ctrl-D is closing the child's stdin, which
//! needs no system call of its own).
//!
//! The system calls themselves are in [`crate::sys`], the kit's one
//! module with `unsafe`.

use std::io;
use std::process::Command;

use crate::sys;

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
    sys::signal(pid, sig.number())
}

/// Makes `cmd`'s child start with the default action for SIGINT and
/// SIGTERM (see [`sys::default_dispositions`]).
pub fn default_dispositions(cmd: &mut Command) {
    sys::default_dispositions(cmd)
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
