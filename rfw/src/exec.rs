//! Running iptables: the binary is resolved on `PATH` (never through a
//! shell), run with an argument vector, and `-w` is added where nothing can
//! mistake it for a value. Output is either passed through (the user's own
//! command) or captured (rfw's reads such as `-S`).

use crate::error::Status;
use std::cell::OnceCell;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// How long iptables waits for the xtables lock (legacy backend; the
/// nf_tables backend accepts the option and ignores it). Given glued,
/// `--wait=SECS`, after every user argument, so it is never read as the
/// value of something else (`iptables -w –L` reads `–L` as the time).
pub const WAIT: &str = "--wait=10";

/// IPv4 or IPv6: which binary (`program`) and which state files
/// (`Family::short`).
pub use rnet_core::addr::Family;

/// The program name of a family: `iptables` or `ip6tables`.
pub fn program(family: Family) -> &'static str {
    match family {
        Family::V4 => "iptables",
        Family::V6 => "ip6tables",
    }
}

/// Finds `name` in the absolute directories of `$PATH`: the first
/// executable regular file (symlinks followed), as a shell finds it.
pub fn resolve_on_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .filter(|d| d.is_absolute())
        .map(|d| d.join(name))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// Why iptables cannot be run; the text is the one-line message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FindError {
    /// Not on `PATH`.
    Missing(String),
    /// Found, but someone other than root (or the user running rfw) could
    /// change what it runs: a directory on the way, or the file, is
    /// writable by group or others or has another owner (see
    /// [`crate::trust`]).
    Untrusted(String),
}

impl FindError {
    /// Whether the binary is simply not there (a dry run goes on without it).
    pub fn is_missing(&self) -> bool {
        matches!(self, FindError::Missing(_))
    }
}

impl std::fmt::Display for FindError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FindError::Missing(m) | FindError::Untrusted(m) => f.write_str(m),
        }
    }
}

/// What a captured run left.
#[derive(Clone, Debug, Default)]
pub struct Captured {
    /// Exit status (1 when killed by a signal).
    pub status: Status,
    /// stdout.
    pub stdout: String,
    /// stderr.
    pub stderr: String,
}

/// The iptables binary of one family.
#[derive(Clone, Debug)]
pub struct Iptables {
    /// Its path.
    pub bin: PathBuf,
    /// The family.
    pub family: Family,
}

/// iptables' exit status as rfw passes it on: the low byte of its exit
/// code, 1 when a signal killed it.
pub fn status_of(st: std::process::ExitStatus) -> Status {
    Status::from_code(
        st.code()
            .map(|c| u8::try_from(c & 0xff).unwrap_or(1))
            .unwrap_or(1),
    )
}

impl Iptables {
    /// Resolves the binary on `PATH` and checks that only root (or the
    /// user running rfw) can change what it runs, through every symlink
    /// (see [`crate::trust`]). The binary is run by the name found on
    /// `PATH` (xtables-nft-multi reads its mode from that name).
    pub fn find(family: Family) -> Result<Iptables, FindError> {
        let name = program(family);
        let Some(bin) = resolve_on_path(name) else {
            return Err(FindError::Missing(format!(
                "{name} not found on PATH; install it (Debian/Ubuntu: apt install iptables) \
                 or add its directory (usually /usr/sbin) to PATH"
            )));
        };
        match crate::trust::check(&bin, crate::trust::Want::Executable, rnet_core::os::euid()) {
            Ok(_) => Ok(Iptables { bin, family }),
            Err(why) => Err(FindError::Untrusted(format!(
                "not running {}: {why}; anyone who can write there could run commands as root \
                 (use a PATH of root-owned directories, e.g. PATH=/usr/sbin:/usr/bin:/sbin:/bin)",
                bin.display()
            ))),
        }
    }

    /// The full argument vector for `args`: `-w` appended unless the user
    /// gave one or the command is `-V` / `-h`.
    pub fn argv(args: &[String], add_wait: bool) -> Vec<String> {
        let mut v = args.to_vec();
        if add_wait {
            v.push(WAIT.to_string());
        }
        v
    }

    /// Runs with stdout and stderr passed through; returns the status.
    pub fn run_passthrough(&self, argv: &[String]) -> io::Result<Status> {
        let st = Command::new(&self.bin)
            .args(argv)
            .stdin(Stdio::null())
            .status()?;
        Ok(status_of(st))
    }

    /// Runs with both streams captured.
    pub fn run_captured(&self, argv: &[String]) -> io::Result<Captured> {
        let out = Command::new(&self.bin)
            .args(argv)
            .stdin(Stdio::null())
            .output()?;
        Ok(Captured {
            status: status_of(out.status),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    /// `iptables -V`'s backend: `nf_tables`, `legacy`, or `None`.
    pub fn backend(&self) -> Option<String> {
        let c = self.run_captured(&["-V".to_string()]).ok()?;
        let open = c.stdout.rfind('(')?;
        let close = c.stdout.rfind(')')?;
        (open < close).then(|| c.stdout[open + 1..close].to_string())
    }

    /// The shell-quoted command line that `argv` stands for.
    pub fn display(&self, argv: &[String]) -> String {
        shell_line(std::iter::once(program(self.family)).chain(argv.iter().map(String::as_str)))
    }
}

/// The iptables binaries of one run: each family's is found on `PATH` and
/// its path checked ([`Iptables::find`]) once, when first needed, and
/// shared by every step, read and sweep of the run.
#[derive(Debug, Default)]
pub struct Binaries {
    v4: OnceCell<Result<Iptables, FindError>>,
    v6: OnceCell<Result<Iptables, FindError>>,
}

impl Binaries {
    /// The binary of `family`, or why it cannot be run.
    pub fn get(&self, family: Family) -> Result<&Iptables, &FindError> {
        let cell = match family {
            Family::V4 => &self.v4,
            Family::V6 => &self.v6,
        };
        cell.get_or_init(|| Iptables::find(family)).as_ref()
    }
}

/// Words joined by spaces, each quoted with [`shell_quote`].
pub fn shell_line<'a>(words: impl IntoIterator<Item = &'a str>) -> String {
    words
        .into_iter()
        .map(shell_quote)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Quotes a word for a POSIX shell: bare when it has only safe characters,
/// else in single quotes (a `'` written as `'\''`).
pub fn shell_quote(s: &str) -> String {
    let safe = !s.is_empty()
        && s.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(c, '-' | '_' | '.' | ',' | ':' | '/' | '=' | '+' | '@' | '%')
        });
    if safe {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Whether this process may change the firewall: effective uid 0, or
/// CAP_NET_ADMIN in its effective set (read from `/proc/self/status`, so
/// no system call is needed). `None` when that cannot be read.
pub fn may_change_firewall() -> Option<bool> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let mut euid = None;
    let mut cap = None;
    for line in status.lines() {
        if let Some(v) = line.strip_prefix("Uid:") {
            euid = v
                .split_whitespace()
                .nth(1)
                .and_then(|u| u.parse::<u32>().ok());
        } else if let Some(v) = line.strip_prefix("CapEff:") {
            cap = u64::from_str_radix(v.trim(), 16).ok();
        }
    }
    const CAP_NET_ADMIN: u64 = 1 << 12;
    Some(euid? == 0 || cap.is_some_and(|c| c & CAP_NET_ADMIN != 0))
}

/// Writes iptables' captured stderr through, dropping nothing.
pub fn forward_stderr(text: &str) {
    let _ = io::stderr().write_all(text.as_bytes());
}

/// The network namespace of this process (`net:[4026531840]` read from
/// `/proc/self/ns/net`), as a file-name-safe key.
pub fn netns_key() -> String {
    std::fs::read_link("/proc/self/ns/net")
        .ok()
        .map(|p| {
            p.to_string_lossy()
                .chars()
                .filter(char::is_ascii_digit)
                .collect::<String>()
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}

/// The running rfw binary (for the `--ttl` helper).
pub fn self_exe() -> Option<PathBuf> {
    std::env::current_exe()
        .ok()
        .filter(|p| Path::new(p).is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("SYN,ACK"), "SYN,ACK");
        assert_eq!(shell_quote("rfw:1"), "rfw:1");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("$(rm -rf /);'x'"), "'$(rm -rf /);'\\''x'\\'''");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn wait_goes_last() {
        let v = Iptables::argv(&["-L".into(), "OUTPUT".into()], true);
        assert_eq!(v, vec!["-L", "OUTPUT", "--wait=10"]);
    }
}
