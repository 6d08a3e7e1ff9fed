//! The kernel's own record of TCP state changes: the tracepoint
//! `sock:inet_sock_set_state`, read from a private tracefs instance
//! (`/sys/kernel/tracing/instances/<unique>`), so that concurrent tests
//! and other users of the global trace buffer do not disturb each other.
//!
//! The tracepoint is global across network namespaces: filter on a port
//! no other test uses. The instance is removed on drop (on every exit
//! path, a panic included). tracefs is mounted at `/sys/kernel/tracing`
//! if it is not there yet (and left mounted: others may use it).

use std::fs;
use std::path::PathBuf;

const TRACEFS: &str = "/sys/kernel/tracing";
const EVENT: &str = "events/sock/inet_sock_set_state";

/// One state change as the kernel traced it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    /// Source port of the socket (its local port).
    pub sport: u16,
    /// Destination port (the peer's port).
    pub dport: u16,
    /// The state left, netstat's spelling (`ESTABLISHED`, `FIN_WAIT1`).
    pub old: String,
    /// The state entered.
    pub new: String,
}

/// A private trace instance with `inet_sock_set_state` enabled.
pub struct StateTrace {
    dir: PathBuf,
}

impl StateTrace {
    /// Starts tracing the state changes that `filter` selects (ftrace
    /// filter syntax, such as `sport == 45678 || dport == 45678`).
    pub fn start(tag: &str, filter: &str) -> Result<StateTrace, String> {
        let root = PathBuf::from(TRACEFS);
        if !root.join("instances").is_dir() {
            let out = std::process::Command::new("mount")
                .args(["-t", "tracefs", "nodev", TRACEFS])
                .output()
                .map_err(|e| format!("mount tracefs: {e}"))?;
            if !out.status.success() || !root.join("instances").is_dir() {
                return Err(format!(
                    "tracefs is not available at {TRACEFS}: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
        }
        let dir = root
            .join("instances")
            .join(format!("rnet-{tag}-{}", crate::unique_suffix()));
        fs::create_dir(&dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
        let t = StateTrace { dir };
        let ev = t.dir.join(EVENT);
        fs::write(ev.join("filter"), filter).map_err(|e| format!("filter `{filter}': {e}"))?;
        fs::write(ev.join("enable"), "1").map_err(|e| format!("enable: {e}"))?;
        Ok(t)
    }

    /// Everything traced so far (the buffer is not consumed).
    pub fn text(&self) -> String {
        fs::read_to_string(self.dir.join("trace")).unwrap_or_default()
    }

    /// The transitions traced so far, in order.
    pub fn transitions(&self) -> Vec<Transition> {
        self.text().lines().filter_map(parse).collect()
    }
}

impl Drop for StateTrace {
    fn drop(&mut self) {
        let _ = fs::write(self.dir.join(EVENT).join("enable"), "0");
        let _ = fs::remove_dir(&self.dir);
    }
}

/// `TCP_FIN_WAIT1` -> `FIN_WAIT1`; `TCP_SYN_RECV` stays `SYN_RECV`.
fn state(word: &str) -> String {
    word.strip_prefix("TCP_").unwrap_or(word).to_string()
}

/// One line of the trace: `... inet_sock_set_state: family=AF_INET
/// protocol=IPPROTO_TCP sport=5555 dport=41234 ... oldstate=TCP_ESTABLISHED
/// newstate=TCP_FIN_WAIT1`.
fn parse(line: &str) -> Option<Transition> {
    let rest = line.split("inet_sock_set_state:").nth(1)?;
    let field = |name: &str| -> Option<&str> {
        rest.split_whitespace()
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
    };
    if field("protocol")? != "IPPROTO_TCP" {
        return None;
    }
    Some(Transition {
        sport: field("sport")?.parse().ok()?,
        dport: field("dport")?.parse().ok()?,
        old: state(field("oldstate")?),
        new: state(field("newstate")?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_trace_line() {
        let l = "          <idle>-0       [001] ..s1.  123.456789: inet_sock_set_state: family=AF_INET protocol=IPPROTO_TCP sport=41234 dport=5555 saddr=198.18.0.1 daddr=198.18.0.2 saddrv6=::ffff:198.18.0.1 daddrv6=::ffff:198.18.0.2 oldstate=TCP_FIN_WAIT1 newstate=TCP_FIN_WAIT2";
        assert_eq!(
            parse(l),
            Some(Transition {
                sport: 41234,
                dport: 5555,
                old: "FIN_WAIT1".into(),
                new: "FIN_WAIT2".into()
            })
        );
        assert_eq!(parse("# tracer: nop"), None);
    }
}
