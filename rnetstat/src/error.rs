//! rnetstat's exit statuses and its one error type.
//!
//! The statuses are net-tools netstat's: 0 for a listing (also one cut
//! short by a reader that closed the pipe), `-h` and `-V`; 1 for a
//! requested protocol or family this system lacks, an unknown `-A`
//! family, `-Z` without SELinux and the modes rnetstat leaves to other
//! tools; 3 for a bad or conflicting option (netstat's usage exit); 255
//! for a `/proc` table that exists but cannot be opened (netstat calls
//! `perror` and `exit(-1)`).
//!
//! Messages that belong between rows (a missing protocol, a bogus line)
//! are printed where they happen, in netstat's order; an [`Error`] carries
//! what is left to say, and only `run()` prints it.

use std::io::{self, ErrorKind, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// How rnetstat exits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0: done.
    Success,
    /// 1: something asked for cannot be listed (or stdout failed).
    Failure,
    /// 3: a bad or conflicting option; the usage was printed.
    Usage,
    /// 255: a table could not be opened (`perror`'s line was printed).
    OpenFailed,
}

impl ExitStatus {
    /// The number the process exits with.
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Failure => 1,
            ExitStatus::Usage => 3,
            ExitStatus::OpenFailed => 255,
        }
    }
}

impl From<ExitStatus> for ExitCode {
    fn from(s: ExitStatus) -> ExitCode {
        ExitCode::from(s.code())
    }
}

/// Why rnetstat stops before the end of a listing.
#[derive(Debug)]
pub enum Error {
    /// Writing to stdout failed; a closed pipe is a quiet exit 0.
    Write(io::Error),
    /// A `/proc` table exists but cannot be opened for a reason other
    /// than ENOENT or EACCES (which mean "no support", as in netstat).
    Open(PathBuf, io::Error),
    /// The message was already printed where netstat prints it; exit so.
    Exit(ExitStatus),
}

impl From<io::Error> for Error {
    /// Every `io::Error` that reaches `?` in a listing comes from writing
    /// to stdout; reading errors are reported where they happen.
    fn from(e: io::Error) -> Error {
        Error::Write(e)
    }
}

impl Error {
    /// Prints what is left to say on stderr and gives the exit status.
    pub fn report(self) -> ExitStatus {
        match self {
            Error::Write(e) if e.kind() == ErrorKind::BrokenPipe => ExitStatus::Success,
            Error::Write(e) => {
                let _ = writeln!(io::stderr(), "rnetstat: write error: {e}");
                ExitStatus::Failure
            }
            Error::Open(path, e) => {
                // perror(path): the C library's text without Rust's
                // " (os error N)".
                let text = rnet_core::os::strerror_text(&e);
                let _ = writeln!(io::stderr(), "{}: {text}", path.display());
                ExitStatus::OpenFailed
            }
            Error::Exit(s) => s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_netstats() {
        let codes: Vec<u8> = [
            ExitStatus::Success,
            ExitStatus::Failure,
            ExitStatus::Usage,
            ExitStatus::OpenFailed,
        ]
        .iter()
        .map(|s| s.code())
        .collect();
        assert_eq!(codes, [0, 1, 3, 255]);
    }

    #[test]
    fn a_closed_pipe_is_a_quiet_success() {
        let e = Error::from(io::Error::from(ErrorKind::BrokenPipe));
        assert_eq!(e.report(), ExitStatus::Success);
        let e = Error::from(io::Error::from(ErrorKind::StorageFull));
        assert_eq!(e.report(), ExitStatus::Failure);
        let e = Error::Open("/x".into(), io::Error::from_raw_os_error(libc::EIO));
        assert_eq!(e.report(), ExitStatus::OpenFailed);
    }
}
