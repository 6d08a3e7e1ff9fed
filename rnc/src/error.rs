//! How rnc ends: nc's exit statuses and the one error type of the crate.
//!
//! Every mode returns `Result<(), Error>`; only `run()` turns an error
//! into its line on stderr (`rnc: what went wrong`, as `err(3)` prints it)
//! and its exit status, or into the death by a signal nc would have died
//! of. Lines that do not end the run (a refused port of a list, a reset
//! client of `-k`) are said where they happen, with the same wording.

use std::io;
use std::process::ExitCode;

/// nc's exit statuses. A death by SIGINT or SIGTERM is not a status rnc
/// returns: it dies of the signal (`Error::Signal`), so the parent sees
/// what it sees with nc (a shell reports 130 or 143).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// 0: the connection or listen ran to its end, a `-z` port answered,
    /// `-h` was shown.
    Success = 0,
    /// 1: any error, a usage message, every port of a `-z` list closed.
    Failure = 1,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}

/// Why a run stops before its normal end.
#[derive(Debug)]
pub enum Error {
    /// `rnc: MESSAGE` (nc's own wording, no system error).
    Msg(String),
    /// `rnc: CONTEXT: ERROR`, or `rnc: ERROR` when the context is empty:
    /// a failed system call with the error it returned.
    Os(String, io::Error),
    /// Exit 1 with nothing more to say: what went wrong was already said
    /// as it happened (each refused port), or nc says nothing here.
    Quiet,
    /// SIGINT or SIGTERM arrived: rnc dies of it, as nc.
    Signal(i32),
}

impl Error {
    /// A failed call, with the context nc prints before the error.
    pub fn os(context: impl Into<String>, e: io::Error) -> Error {
        Error::Os(context.into(), e)
    }

    /// The line on stderr after `prog: `, if any.
    pub fn message(&self) -> Option<String> {
        match self {
            Error::Msg(m) => Some(m.clone()),
            Error::Os(c, e) if c.is_empty() => Some(os_text(e)),
            Error::Os(c, e) => Some(format!("{c}: {}", os_text(e))),
            Error::Quiet | Error::Signal(_) => None,
        }
    }

    /// Says the error on stderr (`prog: …`), when it has words.
    pub fn report(&self, prog: &str) {
        if let Some(m) = self.message() {
            eprintln!("{prog}: {m}");
        }
    }
}

impl From<String> for Error {
    fn from(m: String) -> Error {
        Error::Msg(m)
    }
}

/// An io::Error's text without Rust's " (os error N)" suffix, as `err(3)`
/// prints it.
pub use rnet_core::os::strerror_text as os_text;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_err3_s() {
        let refused = io::Error::from_raw_os_error(libc::ECONNREFUSED);
        assert_eq!(
            Error::os("accept", refused).message().as_deref(),
            Some("accept: Connection refused")
        );
        let e = io::Error::from_raw_os_error(libc::EADDRINUSE);
        assert_eq!(
            Error::os("", e).message().as_deref(),
            Some("Address already in use")
        );
        assert_eq!(Error::Quiet.message(), None);
        assert_eq!(Error::Signal(libc::SIGINT).message(), None);
        assert_eq!(Exit::Failure as u8, 1);
        assert_eq!(Exit::Success as u8, 0);
    }
}
