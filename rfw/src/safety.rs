//! What rfw refuses without `--force`: changes that can lock a learner out
//! of the machine or reach beyond the lab: policy changes, flushing
//! built-in or all chains, deleting all chains, tables other than filter,
//! targets other than ACCEPT, DROP, REJECT and LOG, DROP or REJECT in
//! INPUT or OUTPUT without a protocol and port, and rules that match the
//! SSH session. The same list is the guard's row in docs/compat.md and
//! `--force` in rfw(8) (man/rfw.8).

use crate::argv::{is_builtin, Cmd, Invocation};
use crate::rule::{PortRange, Rule, Target};
use std::cell::OnceCell;

/// A port that a blocking rule must not match without `--force`, and how
/// the refusal names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SshPort {
    /// The port.
    pub port: u16,
    /// What it is, completing "the rule matches port N …": for example
    /// "of your SSH session ($SSH_CONNECTION)" or "where sshd listens (pid 812)".
    pub what: String,
}

/// What rfw knows of SSH on this machine: the ports a rule must not match.
/// Every source only ever adds ports (so only ever refuses more):
/// - `$SSH_CONNECTION` ("client-ip client-port server-ip server-port") and
///   `$SSH_CLIENT` ("client-ip client-port server-port") of this process;
/// - under `sudo` or `doas` (`$SUDO_USER` / `$DOAS_USER` set), the same
///   variables in the environment of the processes that started rfw:
///   sudo's `env_reset` removes them from rfw's own environment, but sudo
///   itself still holds the caller's (read from `/proc/<pid>/environ` up
///   the parent chain);
/// - the TCP ports that processes named `sshd` listen on in this network
///   namespace (`/proc/net/tcp{,6}` joined with `/proc/<pid>/fd`; needs
///   root to see another user's sshd).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ssh {
    /// The guarded ports, each once, in the order found.
    pub ports: Vec<SshPort>,
}

/// Parent processes looked at, at most.
const MAX_ANCESTORS: usize = 64;
/// What is read of one `environ` at most.
const ENVIRON_LIMIT: u64 = 4 << 20;

impl Ssh {
    /// Everything rfw can learn from this run's environment, its parent
    /// processes and `/proc` (under `RNET_PROC_ROOT` when set); `None` when
    /// nothing is known.
    pub fn from_env() -> Option<Ssh> {
        let mut ssh = Ssh::default();
        let var = |k: &str| std::env::var(k).ok();
        ssh.add_vars(
            var("SSH_CONNECTION").as_deref(),
            var("SSH_CLIENT").as_deref(),
            "",
        );
        let root = rnet_core::procnet::proc_root();
        if var("SUDO_USER").is_some() || var("DOAS_USER").is_some() {
            ssh.add_ancestors(&root);
        }
        for l in rnet_core::procfd::tcp_listeners_named(&root, "sshd") {
            ssh.add(l.port, format!("where sshd listens (pid {})", l.pid));
        }
        (!ssh.ports.is_empty()).then_some(ssh)
    }

    /// Adds a port unless it is already there.
    pub fn add(&mut self, port: u16, what: String) {
        if port != 0 && !self.ports.iter().any(|p| p.port == port) {
            self.ports.push(SshPort { port, what });
        }
    }

    /// The ports of `SSH_CONNECTION` and `SSH_CLIENT` values; `whose` is
    /// empty for rfw's own environment, else " of PROCESS, pid N".
    pub fn add_vars(&mut self, connection: Option<&str>, client: Option<&str>, whose: &str) {
        let (var, ports) = match (connection, client) {
            (Some(v), _) if parse_ports(v, 4).is_some() => ("SSH_CONNECTION", parse_ports(v, 4)),
            (_, Some(v)) => ("SSH_CLIENT", parse_ports(v, 3)),
            _ => return,
        };
        let Some((client_port, server_port)) = ports else {
            return;
        };
        let what = if whose.is_empty() {
            format!("of your SSH session (${var})")
        } else {
            format!("of your SSH session ({var}{whose})")
        };
        self.add(server_port, what.clone());
        self.add(client_port, what);
    }

    /// Reads `SSH_CONNECTION` / `SSH_CLIENT` from the environment of each
    /// parent process (as started: `/proc/<pid>/environ`) up to init.
    fn add_ancestors(&mut self, root: &std::path::Path) {
        let mut pid = parent_of(root, "self");
        for _ in 0..MAX_ANCESTORS {
            let Some(p) = pid.filter(|p| *p > 1) else {
                break;
            };
            let dir = root.join(p.to_string());
            if let Some(env) = read_bounded(&dir.join("environ"), ENVIRON_LIMIT) {
                let get = |k: &str| {
                    env.split(|b| *b == 0).find_map(|kv| {
                        kv.strip_prefix(k.as_bytes())
                            .and_then(|r| r.strip_prefix(b"="))
                            .and_then(|v| std::str::from_utf8(v).ok())
                    })
                };
                let name = rnet_core::procfd::comm(root, p)
                    .map(|c| String::from_utf8_lossy(&c).into_owned())
                    .unwrap_or_else(|| "process".to_string());
                let name: String = name.chars().filter(|c| !c.is_control()).collect();
                self.add_vars(
                    get("SSH_CONNECTION"),
                    get("SSH_CLIENT"),
                    &format!(" of {name}, pid {p}"),
                );
            }
            pid = parent_of(root, &p.to_string());
        }
    }
}

/// Client and server port of an `SSH_CONNECTION` (4 fields) or
/// `SSH_CLIENT` (3 fields) value.
fn parse_ports(v: &str, n: usize) -> Option<(u16, u16)> {
    let f: Vec<&str> = v.split_whitespace().collect();
    if f.len() != n {
        return None;
    }
    Some((f[1].parse().ok()?, f[n - 1].parse().ok()?))
}

/// At most `limit` bytes of a file, `None` if it cannot be read.
fn read_bounded(path: &std::path::Path, limit: u64) -> Option<Vec<u8>> {
    use std::io::Read;
    let f = std::fs::File::open(path).ok()?;
    let mut buf = Vec::new();
    f.take(limit).read_to_end(&mut buf).ok()?;
    Some(buf)
}

/// The parent pid from `/proc/<pid>/stat` (the field after the state,
/// which follows the last `)` of the command name).
fn parent_of(root: &std::path::Path, pid: &str) -> Option<u32> {
    let stat = read_bounded(&root.join(pid).join("stat"), 4096)?;
    let close = stat.iter().rposition(|b| *b == b')')?;
    let rest = std::str::from_utf8(&stat[close + 1..]).ok()?;
    rest.split_whitespace().nth(1)?.parse().ok()
}

fn range_hits(r: &Option<crate::rule::Neg<PortRange>>, port: u16) -> bool {
    match r {
        Some(n) => n.value.contains(port) != n.not,
        None => false,
    }
}

/// Whether any port option of the rule (`--dport`, `--sport`, multiport's
/// lists, negations included) matches `port`.
pub fn port_hits(rule: &Rule, port: u16) -> bool {
    range_hits(&rule.dport, port)
        || range_hits(&rule.sport, port)
        || rule
            .mports
            .as_ref()
            .is_some_and(|m| m.value.1.iter().any(|r| r.contains(port)) != m.not)
}

/// Whether the rule can match TCP packets: no `-p`, `-p tcp` / `-p all`,
/// or a negated protocol other than tcp.
pub fn may_match_tcp(rule: &Rule) -> bool {
    match &rule.proto {
        None => true,
        Some(p) if p.not => p.value != "tcp",
        Some(p) => matches!(p.value.as_str(), "tcp" | "all"),
    }
}

/// Why the command is refused (`None`: allowed). `rule` is the parsed
/// rule-spec of commands that have one. `ssh` is filled with
/// [`Ssh::from_env`] (which reads `/proc`) only when a blocking rule that
/// can match TCP has to be checked against the SSH ports; a cell already
/// set is used as it is.
pub fn check(inv: &Invocation, rule: Option<&Rule>, ssh: &OnceCell<Option<Ssh>>) -> Option<String> {
    let cmd = inv.cmd?;
    let table = inv.table();
    if cmd.modifies() && table != "filter" && cmd != Cmd::Zero {
        return Some(format!(
            "rfw changes only the filter table (the labs need nothing else); this would change `{table}'"
        ));
    }
    match cmd {
        Cmd::Policy => {
            return Some(format!(
                "a policy change (-P {}) affects every packet, including your own session",
                inv.operands.join(" ")
            ))
        }
        Cmd::Flush => match inv.chain() {
            None => return Some("-F without a chain flushes every chain, including rules rfw did not add; use rfw reset".to_string()),
            Some(c) if is_builtin(table, c) => {
                return Some(format!(
                    "flushing the built-in chain {c} removes rules rfw did not add; use rfw reset"
                ))
            }
            _ => {}
        },
        Cmd::DeleteChain if inv.chain().is_none() => {
            return Some("-X without a chain deletes every user-defined chain".to_string())
        }
        _ => {}
    }
    let rule = rule?;
    if !matches!(cmd, Cmd::Append | Cmd::Insert | Cmd::Replace) {
        return None;
    }
    if let Some(t @ (Target::Other(_) | Target::Return)) = &rule.target {
        return Some(format!(
            "target {} is outside what rfw allows (ACCEPT, DROP, REJECT, LOG)",
            t.name()
        ));
    }
    if !rule.target.as_ref().is_some_and(Target::blocks) {
        return None;
    }
    let chain = inv.chain().unwrap_or("");
    let has_port = rule.dport.as_ref().is_some_and(|p| !p.not)
        || rule.sport.as_ref().is_some_and(|p| !p.not)
        || rule.mports.as_ref().is_some_and(|p| !p.not);
    if matches!(chain, "INPUT" | "OUTPUT") && !(rule.proto.is_some() && has_port) {
        return Some(format!(
            "{} in {chain} without -p and a port blocks far more than one lab port and can cut this machine off",
            rule.target.as_ref().map(Target::name).unwrap_or("DROP")
        ));
    }
    if !may_match_tcp(rule) {
        return None;
    }
    if port_hits(rule, 22) {
        return Some("the rule matches port 22 (ssh): it can cut off remote logins".to_string());
    }
    let s = ssh.get_or_init(Ssh::from_env).as_ref()?;
    s.ports
        .iter()
        .find(|p| port_hits(rule, p.port))
        .map(|p| format!("the rule matches port {} {}", p.port, p.what))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::split_rule_line;

    #[test]
    fn ssh_variables() {
        let mut s = Ssh::default();
        s.add_vars(None, Some("2001:db8::1 41000 22"), " of sudo, pid 9");
        assert_eq!(
            s.ports,
            vec![
                SshPort {
                    port: 22,
                    what: "of your SSH session (SSH_CLIENT of sudo, pid 9)".into()
                },
                SshPort {
                    port: 41000,
                    what: "of your SSH session (SSH_CLIENT of sudo, pid 9)".into()
                }
            ]
        );
        // Malformed values add nothing; SSH_CONNECTION wins when both parse.
        let mut s = Ssh::default();
        s.add_vars(Some("1.2.3.4 x 5.6.7.8 22"), Some("junk"), "");
        assert!(s.ports.is_empty());
        s.add_vars(Some("1.2.3.4 1 5.6.7.8 2"), Some("1.2.3.4 3 4"), "");
        assert_eq!(s.ports.iter().map(|p| p.port).collect::<Vec<_>>(), [2, 1]);
        assert!(s.ports[0].what.contains("$SSH_CONNECTION"));
    }

    #[test]
    fn parents_environment_through_a_fixture_proc() {
        use std::fs;
        let root = std::env::temp_dir().join(format!("rfw-ssh-proc-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        for d in ["self", "70", "60"] {
            fs::create_dir_all(root.join(d)).unwrap();
        }
        // self -> 70 (sudo, env reset already: nothing) -> 60 (the login
        // shell, with SSH_CONNECTION) -> 1.
        fs::write(root.join("self/stat"), "99 (rfw) R 70 99 99 0 -1").unwrap();
        fs::write(root.join("70/stat"), "70 (sudo) S 60 70 70 0 -1").unwrap();
        fs::write(root.join("70/comm"), "sudo\n").unwrap();
        fs::write(root.join("70/environ"), b"HOME=/root\0".as_slice()).unwrap();
        fs::write(root.join("60/stat"), "60 (a) b) c) S 1 60 60 0 -1").unwrap();
        fs::write(root.join("60/comm"), "bash\n").unwrap();
        fs::write(
            root.join("60/environ"),
            b"X=1\0SSH_CONNECTION=198.18.0.1 50123 198.18.0.2 2022\0".as_slice(),
        )
        .unwrap();
        let mut s = Ssh::default();
        s.add_ancestors(&root);
        fs::remove_dir_all(&root).unwrap();
        assert_eq!(
            s.ports,
            vec![
                SshPort {
                    port: 2022,
                    what: "of your SSH session (SSH_CONNECTION of bash, pid 60)".into()
                },
                SshPort {
                    port: 50123,
                    what: "of your SSH session (SSH_CONNECTION of bash, pid 60)".into()
                }
            ]
        );
    }

    fn refused(s: &str, ssh: Option<&Ssh>) -> Option<String> {
        let w = split_rule_line(s);
        let inv = Invocation::parse(&w).unwrap();
        let rule = inv
            .cmd
            .filter(|c| c.takes_rule())
            .map(|_| Rule::from_items(&inv.items, false).unwrap());
        check(&inv, rule.as_ref(), &OnceCell::from(ssh.cloned()))
    }

    #[test]
    fn spellings_iptables_accepts_are_judged_as_iptables_reads_them() {
        for s in [
            "-I INPUT -p tcp --dport 026 -j DROP",
            "-I INPUT -p tcp --dport 0x16 -j DROP",
            "-I INPUT -p tcp --dport ssh -j DROP",
            "-traw -I PREROUTING -j DROP",
            "--table=raw -I PREROUTING -p tcp --dport 5555 -j DROP",
            "--tab raw -I PREROUTING -p tcp --dport 5555 -j DROP",
            "-A INPUT -p tcp --ju DROP",
            "-A OUTPUT --j REJECT",
            "-A INPUT -p tcp --dp 22 -j DROP",
            "-A INPUT -p tcp --dport=22 -j DROP",
            "-A INPUT -p tcp --dport :22 -j DROP",
            "-A INPUT -p tcp --dport 22: -j DROP",
            "-A INPUT -p tcp --sport 20:30 -j DROP",
            "-A INPUT -p tcp -m multiport --dports 80,22,1000:2000 -j DROP",
            "-A INPUT -p tcp -m multiport --ports 80,026 -j DROP",
            "-A INPUT -p tcp -m multiport --sports 1000:2000,22 -j DROP",
            "-A INPUT -p tcp -m multiport --dport 22 -j DROP",
            "-A INPUT -p tcp -m multiport ! --dports 80 -j DROP",
            "-A INPUT -p tcp ! --dport 5555 -j DROP",
            "-A INPUT ! -p udp --dport 22 -j DROP",
            "-PINPUT DROP",
            "-AINPUT -jDROP",
        ] {
            assert!(refused(s, None).is_some(), "{s}");
        }
        let ssh = Ssh {
            ports: [50000, 2222]
                .into_iter()
                .map(|port| SshPort {
                    port,
                    what: "of your SSH session ($SSH_CONNECTION)".to_string(),
                })
                .collect(),
        };
        assert!(refused(
            "-I INPUT -p tcp -m multiport --dports 80,2222 -j DROP",
            Some(&ssh)
        )
        .is_some());
        assert!(refused("-I INPUT -p tcp --dport 04256 -j DROP", Some(&ssh)).is_some());
        // Not TCP: a UDP port 22 rule cannot cut off ssh.
        assert_eq!(refused("-I INPUT -p udp --dport 22 -j DROP", None), None);
        assert_eq!(
            refused("-I INPUT -p tcp -m multiport --dports 80,443 -j DROP", None),
            None
        );
    }

    #[test]
    fn the_article_is_allowed() {
        for s in [
            "-I OUTPUT -p tcp --dport 5555 --tcp-flags SYN,ACK SYN -j DROP",
            "-I OUTPUT -p tcp --sport 5555 --tcp-flags SYN,ACK SYN,ACK -j DROP",
            "-I INPUT -p tcp --dport 5555 -j REJECT --reject-with tcp-reset",
            "-L OUTPUT -vn",
            "-F MYCHAIN",
            "-I INPUT -p tcp --dport 22 -j ACCEPT",
        ] {
            assert_eq!(refused(s, None), None, "{s}");
        }
    }

    #[test]
    fn lockouts_are_refused() {
        for s in [
            "-P INPUT DROP",
            "-F",
            "-F INPUT",
            "-X",
            "-I INPUT -j DROP",
            "-A OUTPUT -p tcp -j REJECT",
            "-I INPUT -p tcp --dport 22 -j DROP",
            "-I INPUT -p tcp --dport 1:1024 -j DROP",
            "-t nat -A POSTROUTING -j MASQUERADE",
            "-I INPUT -p tcp --dport 5555 -j SOMECHAIN",
        ] {
            assert!(refused(s, None).is_some(), "{s}");
        }
        let mut ssh = Ssh::default();
        ssh.add_vars(Some("198.18.0.1 50000 198.18.0.2 2222"), None, "");
        ssh.add(2200, "where sshd listens (pid 7)".into());
        assert_eq!(
            refused("-I INPUT -p tcp --dport 2222 -j DROP", Some(&ssh)).unwrap(),
            "the rule matches port 2222 of your SSH session ($SSH_CONNECTION)"
        );
        assert!(refused("-I OUTPUT -p tcp --dport 50000 -j DROP", Some(&ssh)).is_some());
        assert_eq!(
            refused("-I INPUT -p tcp --dport 2200 -j DROP", Some(&ssh)).unwrap(),
            "the rule matches port 2200 where sshd listens (pid 7)"
        );
        assert!(refused("-I INPUT -p tcp --dport 5555 -j DROP", Some(&ssh)).is_none());
    }
}
