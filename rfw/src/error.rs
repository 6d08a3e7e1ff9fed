//! rfw's exit statuses and its one error type.
//!
//! The statuses are iptables' own (libxtables' `enum xtables_exittype`,
//! listed in iptables(8) DIAGNOSTICS), so a script that reads iptables'
//! status reads rfw's the same way: 1 for other problems, 2 for a
//! command line iptables would reject (and for what rfw's guard refuses),
//! 3 for a table that does not exist, 4 for a resource problem (not root,
//! an unusable state file, a rule the kernel would refuse), and the
//! shell's 127 when the iptables binary cannot be found or trusted. A
//! status of iptables itself is passed through unchanged.
//!
//! Warnings and notes go to stderr where they happen; an [`Error`] ends
//! the run, and only `run()` prints it.

use std::fmt;
use std::io::{self, ErrorKind};
use std::process::ExitCode;

/// How rfw (or the iptables it ran) exits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Status {
    /// 0.
    #[default]
    Success,
    /// 1: `OTHER_PROBLEM` (iptables could not be run, "Bad rule", a
    /// removal that failed).
    OtherProblem,
    /// 2: `PARAMETER_PROBLEM` (a bad command line, or one the guard
    /// refuses).
    ParameterProblem,
    /// 3: `VERSION_PROBLEM`, which iptables also gives for a table that
    /// cannot be initialized (`-t nosuch`).
    VersionProblem,
    /// 4: `RESOURCE_PROBLEM` (not root, the state file, a rule the kernel
    /// refuses).
    ResourceProblem,
    /// 127: the iptables binary is missing (or not trusted), as a shell
    /// reports a command it cannot run.
    CommandNotFound,
    /// Any other status of iptables itself, passed through (made by
    /// [`Status::from_code`], which names the ones above).
    Iptables(u8),
}

impl Status {
    /// The status a process exit code stands for.
    pub fn from_code(code: u8) -> Status {
        match code {
            0 => Status::Success,
            1 => Status::OtherProblem,
            2 => Status::ParameterProblem,
            3 => Status::VersionProblem,
            4 => Status::ResourceProblem,
            127 => Status::CommandNotFound,
            n => Status::Iptables(n),
        }
    }

    /// The number the process exits with.
    pub fn code(self) -> u8 {
        match self {
            Status::Success => 0,
            Status::OtherProblem => 1,
            Status::ParameterProblem => 2,
            Status::VersionProblem => 3,
            Status::ResourceProblem => 4,
            Status::CommandNotFound => 127,
            Status::Iptables(n) => n,
        }
    }

    /// Whether it is 0.
    pub fn is_success(self) -> bool {
        self.code() == 0
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code())
    }
}

impl From<Status> for ExitCode {
    fn from(s: Status) -> ExitCode {
        ExitCode::from(s.code())
    }
}

/// Why rfw stops.
#[derive(Debug)]
pub enum Error {
    /// One line `rfw: MESSAGE` on stderr, then this status.
    Failed(Status, String),
    /// Exit with this status; what there was to say has been said
    /// (iptables' own message passed on, with rfw's hint).
    Exit(Status),
    /// Writing to stdout failed; a closed pipe is a quiet exit 0.
    Write(io::Error),
}

impl Error {
    /// A failure with its one-line message (without the `rfw: `).
    pub fn new(status: Status, msg: impl Into<String>) -> Error {
        Error::Failed(status, msg.into())
    }

    /// Prints what is left to say on stderr and gives the exit status.
    pub fn report(self) -> Status {
        match self {
            Error::Failed(status, msg) => {
                crate::err(&msg);
                status
            }
            Error::Exit(status) => status,
            Error::Write(e) if e.kind() == ErrorKind::BrokenPipe => Status::Success,
            Error::Write(e) => {
                crate::err(&format!("write error: {e}"));
                Status::OtherProblem
            }
        }
    }
}

impl From<io::Error> for Error {
    /// Every `io::Error` that reaches `?` comes from writing to stdout.
    fn from(e: io::Error) -> Error {
        Error::Write(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_name_iptables_statuses() {
        for n in 0..=255u8 {
            assert_eq!(Status::from_code(n).code(), n);
        }
        assert_eq!(Status::from_code(2), Status::ParameterProblem);
        assert_eq!(Status::from_code(4), Status::ResourceProblem);
        assert_eq!(Status::from_code(127), Status::CommandNotFound);
        assert_eq!(Status::from_code(111), Status::Iptables(111));
        assert_eq!(Status::default().to_string(), "0");
    }

    #[test]
    fn each_error_ends_with_its_status() {
        let cases = [
            // A reader that closed the pipe: quiet, as if all was read.
            (Error::from(io::Error::from(ErrorKind::BrokenPipe)), 0),
            (Error::from(io::Error::from(ErrorKind::StorageFull)), 1),
            (Error::new(Status::ResourceProblem, "needs root"), 4),
            (Error::Exit(Status::Iptables(9)), 9),
        ];
        for (e, code) in cases {
            assert_eq!(e.report().code(), code);
        }
    }
}
