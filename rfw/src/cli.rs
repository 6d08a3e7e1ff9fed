//! rfw's own options and subcommands, taken out of the argument vector
//! before the rest goes to iptables. They are recognised wherever an
//! option may stand, never as the value of an iptables option, so
//! `--comment --force` stays a comment.

use crate::exec::Family;

/// rfw's own long options, for the help text and the man page test.
pub const OWN_OPTIONS: &[&str] = &[
    "--dry-run",
    "--ttl",
    "--force",
    "--quiet",
    "--help",
    "-4",
    "-6",
];

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

/// How many values follow an iptables option (0 for unknown ones).
pub fn value_count(w: &str) -> usize {
    match w {
        "--tcp-flags" | "-c" | "--set-counters" | "-P" | "--policy" | "-E" | "--rename-chain" => 2,
        "-p" | "--protocol" | "-s" | "--source" | "--src" | "-d" | "--destination" | "--dst"
        | "-i" | "--in-interface" | "-o" | "--out-interface" | "-m" | "--match" | "-j"
        | "--jump" | "-g" | "--goto" | "--dport" | "--sport" | "--destination-port"
        | "--source-port" | "--comment" | "--state" | "--ctstate" | "--reject-with"
        | "--log-prefix" | "--log-level" | "-t" | "--table" | "-A" | "--append" | "-C"
        | "--check" | "-N" | "--new-chain" => 1,
        _ => 0,
    }
}

/// Splits rfw's options from the iptables words. The error is the message.
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
    let mut seen_iptables_word = false;
    while i < words.len() {
        let w = words[i].as_str();
        i += 1;
        match w {
            "--dry-run" => o.dry_run = true,
            "--force" => o.force = true,
            "--quiet" => o.quiet = true,
            "--help" => o.sub = Sub::Help,
            "-4" | "--ipv4" => o.family = Some(Family::V4),
            "-6" | "--ipv6" => o.family = Some(Family::V6),
            "--ttl" => {
                let v = words.get(i).cloned().unwrap_or_default();
                i += 1;
                o.ttl = Some(parse_ttl(&v)?);
            }
            _ if w.starts_with("--ttl=") => o.ttl = Some(parse_ttl(&w[6..])?),
            "__sweep-at" if i == 1 => {
                let v = words.get(i).and_then(|v| v.parse().ok()).unwrap_or(0);
                i += 1;
                o.sub = Sub::SweepAt(v);
            }
            _ if !seen_iptables_word && o.sub == Sub::Iptables && SUBCOMMANDS.contains(&w) => {
                o.sub = match w {
                    "reset" => Sub::Reset,
                    "list" => Sub::List,
                    _ => Sub::Explain,
                };
            }
            _ => {
                seen_iptables_word = true;
                o.rest.push(w.to_string());
                for _ in 0..value_count(w) {
                    if let Some(v) = words.get(i) {
                        o.rest.push(v.clone());
                        i += 1;
                    }
                }
            }
        }
    }
    if o.ttl.is_some() && o.sub == Sub::Iptables {
        let adds = o
            .rest
            .iter()
            .any(|w| matches!(w.as_str(), "-I" | "-A" | "--insert" | "--append"));
        if !adds {
            return Err("--ttl only applies to rules being added (-I or -A)".to_string());
        }
    }
    Ok(o)
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

A thin, safe wrapper over iptables for TCP-state labs. It runs iptables
(ip6tables with -6) from PATH with your arguments and -w, passes its output
and exit status through, tags each rule it adds with a comment rfw:..., and
says on stderr what the rule does to TCP connections.

  rfw -I OUTPUT -p tcp --dport 5555 --tcp-flags SYN,ACK SYN -j DROP
  rfw -L OUTPUT -vn          listing as iptables prints it, then one line
                             per rule with its counter on stderr
  rfw -D OUTPUT -p tcp --dport 5555 --tcp-flags SYN,ACK SYN -j DROP

Subcommands:
  reset                 remove every rule rfw added (IPv4 and IPv6), nothing else
  list                  show the rules rfw added, as iptables -S lines
  explain ARGS...       say what a rule would do; apply nothing

RFW-OPTIONS:
  --dry-run             print the exact command(s), shell-quoted; change nothing
  --ttl SECS            remove the added rule after SECS (also 90s, 5m, 1h)
  --force               allow what rfw refuses: policies (-P), flushing
                        built-in chains, tables other than filter, targets
                        other than ACCEPT DROP REJECT LOG, DROP/REJECT in
                        INPUT/OUTPUT without a port, rules matching port 22,
                        a port sshd listens on or one of the current SSH
                        session, deleting rules rfw did not add
  --quiet               no explanations (also RFW_EXPLAIN=0 or RNET_EXPLAIN=0)
  -4, -6                IPv4 (iptables, the default) or IPv6 (ip6tables)
  --help                this text (iptables' own help: rfw -h)

Environment: RFW_EXPLAIN, RNET_EXPLAIN, RFW_STATE_DIR (default /run/rfw), PATH.
Exit status: iptables' own (0, 1, 2, 4); 2 when rfw refuses or rejects an
argument; 4 when the state directory or a state file is unusable; 127 when
iptables is not installed, or sits where others than root can change it.
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
    }

    #[test]
    fn ttl_values() {
        assert_eq!(s("--ttl=5m -I INPUT -j ACCEPT").unwrap().ttl, Some(300));
        assert!(s("--ttl 0 -I INPUT -j ACCEPT").is_err());
        assert!(s("--ttl x -I INPUT -j ACCEPT").is_err());
        assert!(s("--ttl 5 -L").is_err());
    }
}
