//! rfw's own options and subcommands, taken out of the argument vector
//! before the rest goes to iptables. They are recognised wherever an
//! option may stand, never as the value of an iptables option, so
//! `--comment --force` stays a comment.

use crate::argv::{Cmd, Invocation};
use crate::exec::Family;

/// rfw's own long options, for the help text and the man page test.
pub const OWN_OPTIONS: &[&str] = &[
    "--dry-run",
    "--ttl",
    "--force",
    "--quiet",
    "--help",
    "-4",
    "--ipv4",
    "-6",
    "--ipv6",
];

/// Those of [`OWN_OPTIONS`] that take a value (`--ttl SECS`).
pub const OWN_VALUE_OPTIONS: &[&str] = &["--ttl"];

/// Subcommands (first word after rfw's options).
pub const SUBCOMMANDS: &[&str] = &["reset", "list", "explain"];

/// What to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sub {
    /// Run an iptables command.
    Iptables,
    /// `rfw reset`.
    Reset,
    /// `rfw list`.
    List,
    /// `rfw explain ARGS…`.
    Explain,
    /// `rfw --help`.
    Help,
    /// The hidden helper of `--ttl`: sleep until the time, then sweep.
    SweepAt(u64),
}

/// rfw's options and the iptables words left over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opts {
    /// The subcommand.
    pub sub: Sub,
    /// `--dry-run`.
    pub dry_run: bool,
    /// `--ttl SECS`.
    pub ttl: Option<u64>,
    /// `--force`.
    pub force: bool,
    /// `--quiet`.
    pub quiet: bool,
    /// `-4` / `-6` (`None`: not given).
    pub family: Option<Family>,
    /// The iptables words.
    pub rest: Vec<String>,
}

/// Splits rfw's options from the iptables words. rfw's options are taken
/// before the first iptables word and, after it, wherever iptables' own
/// option parser would read an option (never as the value of an iptables
/// option, so `--comment --force` stays a comment). The error is the
/// message.
pub fn split(words: Vec<String>) -> Result<Opts, String> {
    let mut o = Opts {
        sub: Sub::Iptables,
        dry_run: false,
        ttl: None,
        force: false,
        quiet: false,
        family: None,
        rest: Vec::new(),
    };
    let mut i = 0;
    while i < words.len() {
        let w = words[i].as_str();
        match w {
            _ if OWN_VALUE_OPTIONS.contains(&w) => {
                let v = words.get(i + 1).cloned().unwrap_or_default();
                i += 1;
                o.ttl = Some(parse_ttl(&v)?);
            }
            _ if w.starts_with("--ttl=") => o.ttl = Some(parse_ttl(&w[6..])?),
            "__sweep-at" if i == 0 => {
                let v = words.get(i + 1).and_then(|v| v.parse().ok()).unwrap_or(0);
                i += 1;
                o.sub = Sub::SweepAt(v);
            }
            _ if apply_flag(&mut o, w) => {}
            _ if o.sub == Sub::Iptables && SUBCOMMANDS.contains(&w) => {
                o.sub = match w {
                    "reset" => Sub::Reset,
                    "list" => Sub::List,
                    _ => Sub::Explain,
                };
            }
            _ => break,
        }
        i += 1;
    }
    let rest = words.get(i..).unwrap_or(&[]).to_vec();
    // `rfw explain OUTPUT …` reads as `-A OUTPUT …`.
    let shift =
        usize::from(o.sub == Sub::Explain && rest.first().is_some_and(|w| !w.starts_with('-')));
    let mut scan = Vec::with_capacity(rest.len() + 1);
    if shift == 1 {
        scan.push("-A".to_string());
    }
    scan.extend(rest.iter().cloned());
    let own = Invocation::own_options(&scan);
    let mut skip = vec![false; rest.len()];
    for opt in &own {
        for k in opt.at..opt.at + opt.len {
            if let Some(s) = k.checked_sub(shift).and_then(|k| skip.get_mut(k)) {
                *s = true;
            }
        }
        if opt.name == "--ttl" {
            o.ttl = Some(parse_ttl(opt.value.as_deref().unwrap_or(""))?);
        } else {
            apply_flag(&mut o, &opt.name);
        }
    }
    o.rest = rest
        .into_iter()
        .zip(skip)
        .filter(|(_, s)| !s)
        .map(|(w, _)| w)
        .collect();
    if o.ttl.is_some() && o.sub == Sub::Iptables {
        let adds = Invocation::parse(&o.rest)
            .ok()
            .and_then(|inv| inv.cmd)
            .is_some_and(|c| matches!(c, Cmd::Append | Cmd::Insert));
        if !adds {
            return Err("--ttl only applies to rules being added (-I or -A)".to_string());
        }
    }
    Ok(o)
}

/// Applies one of rfw's flags; false when `w` is not one.
fn apply_flag(o: &mut Opts, w: &str) -> bool {
    match w {
        "--dry-run" => o.dry_run = true,
        "--force" => o.force = true,
        "--quiet" => o.quiet = true,
        "--help" => o.sub = Sub::Help,
        "-4" | "--ipv4" => o.family = Some(Family::V4),
        "-6" | "--ipv6" => o.family = Some(Family::V6),
        _ => return false,
    }
    true
}

fn parse_ttl(v: &str) -> Result<u64, String> {
    let (num, mult) = match v.chars().last() {
        Some('s') => (&v[..v.len() - 1], 1),
        Some('m') => (&v[..v.len() - 1], 60),
        Some('h') => (&v[..v.len() - 1], 3600),
        _ => (v, 1),
    };
    match num.parse::<u64>() {
        Ok(n) if n > 0 && n <= 7 * 24 * 3600 / mult => Ok(n * mult),
        _ => Err(format!(
            "invalid --ttl `{v}'; give seconds (e.g. --ttl 30, or 90s, 5m, 1h), at most a week"
        )),
    }
}

/// `rfw --help`.
pub const HELP: &str = "\
Usage: rfw [RFW-OPTIONS] IPTABLES-ARGUMENTS...
       rfw [RFW-OPTIONS] reset | list | explain IPTABLES-ARGUMENTS...

A thin, safe wrapper over iptables for TCP-state labs. It reads your
arguments as iptables does (-traw, --table=raw, --ju for --jump, --dport 026
is port 22), runs iptables (ip6tables with -6) from PATH with them spelled
out and -w, passes its output and exit status through, tags each rule it adds
with a comment rfw:TIME.PID, reads the rule back to check what iptables
installed, and says on stderr what the rule does to TCP connections.

  rfw -I OUTPUT -p tcp --dport 5555 --tcp-flags SYN,ACK SYN -j DROP
  rfw -L OUTPUT -vn          listing as iptables prints it, then one line
                             per rule with its counter on stderr
  rfw -D OUTPUT -p tcp --dport 5555 --tcp-flags SYN,ACK SYN -j DROP

Subcommands:
  reset                 remove every rule rfw added (every table, IPv4 and
                        IPv6), nothing else
  list                  show the rules rfw added, as iptables -S lines (and
                        the expired ones it removed first)
  explain ARGS...       say what a rule would do; apply nothing

RFW-OPTIONS:
  --dry-run             print the plan: the exact command(s), shell-quoted;
                        change nothing
  --ttl SECS            remove the added rule after SECS (also 90s, 5m, 1h);
                        the time is in its tag, so a later rfw command (or
                        rfw list) removes it too
  --force               allow what rfw refuses: policies (-P), flushing
                        built-in chains, tables other than filter, targets
                        other than ACCEPT DROP REJECT LOG, DROP/REJECT in
                        INPUT/OUTPUT without a port, rules matching port 22,
                        a port sshd listens on or one of the current SSH
                        session, deleting rules rfw did not add
  --quiet               no explanations (also RFW_EXPLAIN=0 or RNET_EXPLAIN=0)
  -4, --ipv4            IPv4: run iptables (the default)
  -6, --ipv6            IPv6: run ip6tables (iptables itself refuses -6)
  --help                this text (iptables' own help: rfw -h)

Environment: RFW_EXPLAIN, RNET_EXPLAIN, RFW_STATE_DIR (default /run/rfw), PATH,
RNET_PEER_SYSCTL (the other host's sysctls: tcp_synack_retries=2,...).
Exit status: iptables' own (0, 1, 2, 3, 4); 2 when rfw refuses or rejects an
argument, or removes a rule it read back and refuses; 4 when the state
directory or a state file is unusable; 127 when iptables is not installed, or
sits where others than root can change it.
";

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Result<Opts, String> {
        split(v.split_whitespace().map(String::from).collect())
    }

    #[test]
    fn own_options_anywhere_but_in_values() {
        let o = s("--dry-run -I OUTPUT -p tcp --dport 5555 -j DROP --ttl 2").unwrap();
        assert!(o.dry_run);
        assert_eq!(o.ttl, Some(2));
        assert_eq!(o.rest.join(" "), "-I OUTPUT -p tcp --dport 5555 -j DROP");
        let o = s("-A INPUT -m comment --comment --force -j ACCEPT").unwrap();
        assert!(!o.force);
        assert!(o.rest.contains(&"--force".to_string()));
        assert_eq!(s("-6 reset").unwrap().sub, Sub::Reset);
        assert_eq!(s("-6 reset").unwrap().family, Some(Family::V6));
        assert_eq!(s("explain -I OUTPUT").unwrap().sub, Sub::Explain);
        // A chain called "list" is still a chain.
        assert_eq!(s("-L list").unwrap().sub, Sub::Iptables);
        // An abbreviated --comment still takes its value.
        let o = s("-A INPUT -m comment --comm --force -j ACCEPT").unwrap();
        assert!(!o.force);
        // rfw's options after glued and `=` forms.
        let o = s("-AINPUT -jACCEPT --dry-run --ttl=5").unwrap();
        assert!(o.dry_run);
        assert_eq!(o.ttl, Some(5));
        assert_eq!(o.rest.join(" "), "-AINPUT -jACCEPT");
        let o = s("explain OUTPUT -p tcp --dport 1 -j DROP --quiet").unwrap();
        assert!(o.quiet);
        assert_eq!(o.rest.join(" "), "OUTPUT -p tcp --dport 1 -j DROP");
    }

    #[test]
    fn long_family_options_choose_the_binary_and_are_not_passed_on() {
        for (words, fam) in [
            ("--ipv6 reset", Family::V6),
            ("--ipv4 -S", Family::V4),
            ("-S OUTPUT --ipv6", Family::V6),
            ("-A INPUT -p tcp --dport 1 --ipv4 -j ACCEPT", Family::V4),
        ] {
            let o = s(words).unwrap();
            assert_eq!(o.family, Some(fam), "{words}");
            assert!(!o.rest.iter().any(|w| w.starts_with("--ipv")), "{words}");
        }
    }

    #[test]
    fn ttl_values() {
        assert_eq!(s("--ttl=5m -I INPUT -j ACCEPT").unwrap().ttl, Some(300));
        assert!(s("--ttl 0 -I INPUT -j ACCEPT").is_err());
        assert!(s("--ttl x -I INPUT -j ACCEPT").is_err());
        assert!(s("--ttl 5 -L").is_err());
    }
}
