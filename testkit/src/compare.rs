//! Reference comparisons: run the original tool and ours the same way, on
//! the same sockets, and compare stdout, stderr and exit status byte for
//! byte.
//!
//! Both are invoked under the *original's name* (`netstat`, `nc`, ...)
//! found through `PATH`, so `argv[0]` is identical and so are the
//! `prog: ...` prefixes of getopt-style messages: this is the case of a
//! tool installed under the original name as a true drop-in. A private
//! directory holds `ref/<name>` (the original) and `ours/<name>` (a symlink
//! to the binary under test, or a copy when an unprivileged user could
//! not reach it).

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::diff::unified_diff;
use crate::netns::Netns;
use crate::process::{self, Output};
use crate::tempdir::TempDir;
use crate::DEFAULT_PATH;

/// Which of the two programs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The original (net-tools netstat, nc.openbsd, iptables).
    Reference,
    /// Ours (rnetstat, rnc, rfw).
    UnderTest,
}

/// The original and ours, both reachable as `name` through a `PATH`.
pub struct ToolPair {
    name: String,
    reference: PathBuf,
    under_test: PathBuf,
    dir: TempDir,
    /// Extra environment of one side (see [`ToolPair::with_env`]).
    env: Vec<(Side, OsString, OsString)>,
}

/// True when every directory above `path` is searchable and `path` itself
/// readable and executable by any user (so `setpriv --reuid=65534` can run it).
fn world_executable(path: &Path) -> bool {
    let Ok(real) = fs::canonicalize(path) else {
        return false;
    };
    let Ok(meta) = fs::metadata(&real) else {
        return false;
    };
    if meta.permissions().mode() & 0o005 != 0o005 {
        return false;
    }
    real.ancestors().skip(1).all(|d| {
        fs::metadata(d)
            .map(|m| m.permissions().mode() & 0o001 != 0)
            .unwrap_or(false)
    })
}

impl ToolPair {
    /// Prepares `ref/<name>` -> `reference` and `ours/<name>` -> `under_test`.
    pub fn new(name: &str, reference: &Path, under_test: &Path) -> io::Result<ToolPair> {
        let dir = TempDir::new(&format!("tools-{name}"))?;
        for (sub, target) in [("ref", reference), ("ours", under_test)] {
            let d = dir.join(sub);
            fs::create_dir(&d)?;
            fs::set_permissions(&d, fs::Permissions::from_mode(0o755))?;
            let link = d.join(name);
            if world_executable(target) {
                symlink(target, &link)?;
            } else {
                fs::copy(target, &link)?;
                fs::set_permissions(&link, fs::Permissions::from_mode(0o755))?;
            }
        }
        Ok(ToolPair {
            name: name.to_string(),
            reference: reference.to_path_buf(),
            under_test: under_test.to_path_buf(),
            dir,
            env: Vec::new(),
        })
    }

    /// Sets `key=value` in the environment of every run of `side` (say,
    /// `RNETSTAT_SOURCE` for the tool under test).
    pub fn with_env(mut self, side: Side, key: &str, value: &str) -> ToolPair {
        self.env.push((side, key.into(), value.into()));
        self
    }

    fn apply_env(&self, side: Side, cmd: &mut Command) {
        for (s, k, v) in &self.env {
            if *s == side {
                cmd.env(k, v);
            }
        }
    }

    /// The name both are invoked as.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The real path of one side.
    pub fn binary(&self, side: Side) -> &Path {
        match side {
            Side::Reference => &self.reference,
            Side::UnderTest => &self.under_test,
        }
    }

    /// The `PATH` under which `name` means `side`.
    pub fn path_env(&self, side: Side) -> OsString {
        let sub = match side {
            Side::Reference => "ref",
            Side::UnderTest => "ours",
        };
        let mut p = self.dir.join(sub).into_os_string();
        p.push(":");
        p.push(DEFAULT_PATH);
        p
    }

    /// `[wrapper...] name` for `side` in the test's own namespace (add the
    /// arguments), with `LC_ALL=C`, that side's `PATH` and nothing else in
    /// the environment; `wrapper` is e.g. `["unshare", "-n", "--"]` (found
    /// through the same `PATH`), or empty.
    pub fn command(&self, side: Side, wrapper: &[&str]) -> Command {
        let (program, rest): (&str, &[&str]) = match wrapper.split_first() {
            Some((first, rest)) => (first, rest),
            None => (&self.name, &[]),
        };
        let mut cmd = Command::new(program);
        cmd.args(rest);
        if !wrapper.is_empty() {
            cmd.arg(&self.name);
        }
        cmd.env_clear()
            .env("LC_ALL", "C")
            .env("PATH", self.path_env(side));
        self.apply_env(side, &mut cmd);
        cmd
    }

    /// Runs `[wrapper...] name ARGS` inside `ns` for `side`, with
    /// `LC_ALL=C`, that side's `PATH` and nothing else in the environment.
    /// `wrapper` is e.g. `["setpriv", "--reuid=65534", ...]` (found through
    /// the same `PATH`), or empty.
    pub fn run_in(
        &self,
        ns: &Netns,
        side: Side,
        wrapper: &[&str],
        args: &[&str],
        timeout: Duration,
    ) -> io::Result<Output> {
        let mut argv: Vec<&OsStr> = wrapper.iter().map(OsStr::new).collect();
        argv.push(OsStr::new(&self.name));
        argv.extend(args.iter().map(OsStr::new));
        let mut cmd = ns.command(argv[0], &argv[1..]);
        cmd.env("PATH", self.path_env(side));
        self.apply_env(side, &mut cmd);
        process::run(&mut cmd, timeout)
    }
}

/// Which parts of the two outputs must be equal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parts {
    /// Compare stdout.
    pub stdout: bool,
    /// Compare stderr.
    pub stderr: bool,
    /// Compare the exit status.
    pub status: bool,
}

impl Parts {
    /// stdout, stderr and exit status.
    pub const ALL: Parts = Parts {
        stdout: true,
        stderr: true,
        status: true,
    };
    /// stderr and exit status only.
    pub const STDERR_AND_STATUS: Parts = Parts {
        stdout: false,
        stderr: true,
        status: true,
    };
}

/// Longest diff shown per stream in a mismatch report.
const MAX_DIFF_LINES: usize = 80;

/// Describes every difference between the original's and our output in
/// `parts` (after `normalize` on both texts), as a readable report with
/// unified diffs; `None` when they agree. `what` names the command run.
pub fn describe_mismatch(
    what: &str,
    names: (&str, &str),
    reference: &Output,
    ours: &Output,
    parts: Parts,
    normalize: &dyn Fn(&str) -> String,
) -> Option<String> {
    let mut report = String::new();
    if parts.status && (reference.status != ours.status || reference.timed_out != ours.timed_out) {
        report.push_str(&format!(
            "  exit status differs: {} {}, {} {}\n",
            names.0,
            reference.status_text(),
            names.1,
            ours.status_text()
        ));
    }
    for (on, label, a, b) in [
        (
            parts.stdout,
            "stdout",
            reference.stdout_text(),
            ours.stdout_text(),
        ),
        (
            parts.stderr,
            "stderr",
            reference.stderr_text(),
            ours.stderr_text(),
        ),
    ] {
        if !on {
            continue;
        }
        let (a, b) = (normalize(&a), normalize(&b));
        if a != b {
            let d = unified_diff(
                &format!("{} {label}", names.0),
                &format!("{} {label}", names.1),
                &a,
                &b,
                3,
            );
            report.push_str(&format!(
                "  {label} differs (`|` marks the end of each line):\n"
            ));
            let lines: Vec<&str> = d.lines().collect();
            for l in lines.iter().take(MAX_DIFF_LINES) {
                report.push_str(&format!("    {l}\n"));
            }
            if lines.len() > MAX_DIFF_LINES {
                let more = lines.len() - MAX_DIFF_LINES;
                report.push_str(&format!("    ... ({more} more diff lines)\n"));
            }
        }
    }
    if report.is_empty() {
        None
    } else {
        Some(format!("{what}\n{report}"))
    }
}

/// Masks the seconds of netstat `-o` timers that tick between two runs:
/// `timewait (58.18/0/0)` becomes `timewait (SECS/0/0)`. `off (0.00/0/0)`
/// is left alone (its seconds are always 0.00), and so are the
/// retransmission and probe counts.
pub fn mask_timer_seconds(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find(" (") {
        let (before, after) = rest.split_at(pos);
        out.push_str(before);
        // The timer name is the word before " (".
        let word = before.rsplit(' ').next().unwrap_or("");
        let inner = &after[2..];
        let digits = inner.chars().take_while(char::is_ascii_digit).count();
        let frac = &inner[digits..];
        let is_secs = digits > 0
            && frac.len() >= 4
            && frac.as_bytes()[0] == b'.'
            && frac.as_bytes()[1].is_ascii_digit()
            && frac.as_bytes()[2].is_ascii_digit()
            && frac.as_bytes()[3] == b'/';
        if is_secs && word != "off" {
            out.push_str(" (SECS");
            rest = &frac[3..];
        } else {
            out.push_str(" (");
            rest = inner;
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::mask_timer_seconds;

    #[test]
    fn masks_running_timers_only() {
        let t = "a   timewait (58.18/0/0)\nb   off (0.00/0/0)\nc   on (1.20/3/0)\nd   keepalive (7199.99/0/2)\n";
        assert_eq!(
            mask_timer_seconds(t),
            "a   timewait (SECS/0/0)\nb   off (0.00/0/0)\nc   on (SECS/3/0)\nd   keepalive (SECS/0/2)\n"
        );
        assert_eq!(
            mask_timer_seconds("Active Internet connections (servers and established)"),
            "Active Internet connections (servers and established)"
        );
    }
}
