//! ss-style filters of the internet listings: `--port`, `--sport`,
//! `--dport` and `--state`. A filter only removes rows: every row it keeps
//! is rendered exactly as netstat renders it, and the section headers stay
//! (see man/rnetstat.8, FILTERS). Matching is a few integer comparisons on
//! the parsed entry, so the per-row path stays allocation-free.

use rnet_core::procnet::InetEntry;
use rnet_core::tcp_state::{TcpState, STATES};

/// The filters of one run; the default keeps every row.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// `--port N`: either end's port is N.
    pub port: Option<u16>,
    /// `--sport N`: the local port is N.
    pub sport: Option<u16>,
    /// `--dport N`: the foreign (remote) port is N.
    pub dport: Option<u16>,
    /// `--state`: bit `code` set for each kernel state number kept; 0 means
    /// no state filter.
    pub states: u32,
}

impl Filter {
    /// Whether any filter was given.
    pub fn active(&self) -> bool {
        self.port.is_some() || self.sport.is_some() || self.dport.is_some() || self.states != 0
    }

    /// Whether the row of `e` is kept. The `st` column decides `--state`
    /// for every protocol (UDP: ESTABLISHED when connected, CLOSE when
    /// not); the port columns decide the port filters (for raw sockets,
    /// the protocol number netstat prints there).
    pub fn matches(&self, e: &InetEntry) -> bool {
        if let Some(p) = self.port {
            if e.local_port != p && e.remote_port != p {
                return false;
            }
        }
        if self.sport.is_some_and(|p| e.local_port != p) {
            return false;
        }
        if self.dport.is_some_and(|p| e.remote_port != p) {
            return false;
        }
        if self.states != 0 {
            let code = u32::from(e.state.code());
            if code >= 32 || self.states & (1 << code) == 0 {
                return false;
            }
        }
        true
    }

    /// Adds the states of a `--state` list (`NAME[,NAME…]`).
    pub fn add_states(&mut self, list: &str) -> Result<(), String> {
        for name in list.split(',') {
            let Some(state) = TcpState::from_name(name) else {
                return Err(format!(
                    "--state: unknown TCP state `{name}' (one of {})",
                    state_names()
                ));
            };
            let code = state.info().code;
            self.states |= 1 << code;
            // /proc/net/tcp shows a request socket (the kernel's
            // NEW_SYN_RECV) as 03: both spellings mean the same rows.
            if matches!(state, TcpState::SynRecv | TcpState::NewSynRecv) {
                self.states |= 1 << TcpState::SynRecv.info().code;
                self.states |= 1 << TcpState::NewSynRecv.info().code;
            }
        }
        Ok(())
    }
}

/// The netstat spellings, comma-separated, for error messages and help.
fn state_names() -> String {
    let mut v: Vec<&str> = Vec::new();
    for s in STATES.iter() {
        if !v.contains(&s.netstat) {
            v.push(s.netstat);
        }
    }
    v.join(", ")
}

/// Parses a port of `--port`, `--sport` or `--dport`: decimal, 1 to 65535.
pub fn parse_port(option: &str, value: &str) -> Result<u16, String> {
    let ok = !value.is_empty() && value.len() <= 5 && value.bytes().all(|b| b.is_ascii_digit());
    match value.parse::<u32>() {
        Ok(n) if ok && (1..=65535).contains(&n) => Ok(n as u16),
        _ => Err(format!(
            "{option}: bad port `{value}' (a number from 1 to 65535)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rnet_core::procnet::parse_inet_line;

    fn entry(line: &str) -> InetEntry {
        parse_inet_line(line.as_bytes(), 2).unwrap()
    }

    #[test]
    fn ports_and_states() {
        if cfg!(target_endian = "big") {
            return;
        }
        // 127.0.0.1:58388 -> 127.0.0.1:5555, FIN_WAIT1.
        let e = entry("31: 0100007F:E414 0100007F:15B3 04 003E1201:00000000 04:000000B1 00000000     0        0 158480 2 0 20 0 0 16 -1");
        let mut f = Filter::default();
        assert!(!f.active() && f.matches(&e));
        f.port = Some(5555);
        assert!(f.active() && f.matches(&e));
        f.port = Some(58388);
        assert!(f.matches(&e));
        f.port = Some(1);
        assert!(!f.matches(&e));
        let f = Filter {
            sport: Some(5555),
            ..Filter::default()
        };
        assert!(!f.matches(&e));
        let f = Filter {
            dport: Some(5555),
            sport: Some(58388),
            ..Filter::default()
        };
        assert!(f.matches(&e));
        let mut f = Filter::default();
        f.add_states("listen,time-wait").unwrap();
        assert!(!f.matches(&e));
        f.add_states("FIN-WAIT-1").unwrap();
        assert!(f.matches(&e));
        let mut f = Filter::default();
        f.add_states("syn-recv").unwrap();
        assert_ne!(f.states & (1 << 3), 0);
    }

    #[test]
    fn bad_values() {
        for bad in ["0", "65536", "abc", "", "-1", "+80", "1 ", "99999999999"] {
            assert!(parse_port("--port", bad).is_err(), "{bad:?}");
        }
        assert_eq!(parse_port("--port", "65535"), Ok(65535));
        assert_eq!(parse_port("--port", "0080"), Ok(80));
        let mut f = Filter::default();
        let e = f.add_states("established,bogus").unwrap_err();
        assert!(
            e.starts_with("--state: unknown TCP state `bogus' (one of ESTABLISHED, SYN_SENT"),
            "{e}"
        );
        assert!(f.add_states("").is_err());
        assert!(f.add_states("listen,").is_err());
    }
}
