//! Names for what a listing shows: hosts, networks, services, protocols
//! and users, looked up with net-tools' rules (which database, when a
//! number stays a number) and cached for the listing.
//!
//! The name service sits behind [`Lookup`] so that rendering is tested
//! offline; [`SysLookup`] is glibc's NSS, through `rnet_core::names` and
//! this crate's `sys` module for user names.

use crate::render::push_u64;
use rnet_core::addr::ntop6;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The name service, behind a trait so rendering can be tested offline.
pub trait Lookup {
    /// Reverse lookup of an IPv4 host; `None` if no name.
    fn host_v4(&mut self, a: Ipv4Addr) -> Option<String>;
    /// `getnameinfo` of an IPv6 address (numeric text when no name); `None`
    /// when the lookup itself fails (for example no DNS server answers).
    fn host_v6(&mut self, a: Ipv6Addr) -> Option<String>;
    /// `/etc/networks` name of an IPv4 network address.
    fn net_v4(&mut self, a: Ipv4Addr) -> Option<String>;
    /// All `(port, proto, name)` services in database order.
    fn services(&mut self) -> Vec<(u16, String, String)>;
    /// User name of a uid.
    fn user(&mut self, uid: u32) -> Option<String>;
    /// Name of an IP protocol number (raw sockets' "port").
    fn protocol(&mut self, n: u16) -> Option<String>;
}

/// The real name service (glibc NSS).
pub struct SysLookup;

impl Lookup for SysLookup {
    fn host_v4(&mut self, a: Ipv4Addr) -> Option<String> {
        rnet_core::names::host_name_v4(a)
    }
    fn host_v6(&mut self, a: Ipv6Addr) -> Option<String> {
        rnet_core::names::host_name_v6(a)
    }
    fn net_v4(&mut self, a: Ipv4Addr) -> Option<String> {
        rnet_core::names::net_name(a)
    }
    fn services(&mut self) -> Vec<(u16, String, String)> {
        rnet_core::names::all_services()
    }
    fn user(&mut self, uid: u32) -> Option<String> {
        crate::sys::user_name(uid)
    }
    fn protocol(&mut self, n: u16) -> Option<String> {
        rnet_core::names::protocol_name(n)
    }
}

/// Which service table a port is looked up in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ServiceProto {
    /// `tcp`
    Tcp,
    /// `udp` (also UDP-Lite, as in net-tools)
    Udp,
    /// `raw`
    Raw,
}

/// Name resolution with net-tools' rules and caches.
pub struct Names<L> {
    lookup: L,
    numeric_hosts: bool,
    numeric_ports: bool,
    numeric_users: bool,
    hosts: HashMap<IpAddr, String>,
    services: Option<HashMap<(u16, ServiceProto), String>>,
    protocols: HashMap<u16, Option<String>>,
    users: HashMap<u32, Option<String>>,
}

impl<L: Lookup> Names<L> {
    /// Names for the given `-n` flags.
    pub fn new(lookup: L, numeric_hosts: bool, numeric_ports: bool, numeric_users: bool) -> Self {
        Names {
            lookup,
            numeric_hosts,
            numeric_ports,
            numeric_users,
            hosts: HashMap::new(),
            services: None,
            protocols: HashMap::new(),
            users: HashMap::new(),
        }
    }

    /// Host text as net-tools' `INET_sprint` / `INET6_sprint` give it.
    pub fn host(&mut self, ip: IpAddr, out: &mut Vec<u8>) {
        match ip {
            IpAddr::V4(a) => {
                if self.numeric_hosts || a.is_unspecified() {
                    push_v4(out, a);
                    return;
                }
                if let Some(n) = self.hosts.get(&ip) {
                    out.extend_from_slice(n.as_bytes());
                    return;
                }
                // net-tools (2.10) asks the hosts database unless the first
                // octet is 0 (its `ad & ~netmask` test on the network-order
                // word), in which case it asks the networks database.
                let name = if a.octets()[0] != 0 {
                    self.lookup.host_v4(a)
                } else {
                    self.lookup.net_v4(a)
                };
                let name = name.unwrap_or_else(|| a.to_string());
                out.extend_from_slice(name.as_bytes());
                self.hosts.insert(ip, name);
            }
            IpAddr::V6(a) => {
                let text = if self.numeric_hosts {
                    ntop6(&a)
                } else if a.is_unspecified() {
                    "[::]".to_string()
                } else if let Some(n) = self.hosts.get(&ip) {
                    n.clone()
                } else {
                    // When the lookup fails (no name service reachable),
                    // net-tools 2.10 shows the numeric text, not an error.
                    let n = self.lookup.host_v6(a).unwrap_or_else(|| ntop6(&a));
                    self.hosts.insert(ip, n.clone());
                    n
                };
                out.extend_from_slice(fix_v4_mapped(&text, &a).as_bytes());
            }
        }
    }

    /// Port text as net-tools' `get_sname`: `*` for 0, a service name
    /// (the last entry of the database for that port wins, as in net-tools'
    /// list) or the number.
    pub fn port(&mut self, port: u16, proto: ServiceProto, out: &mut Vec<u8>) {
        if port == 0 {
            out.push(b'*');
            return;
        }
        if !self.numeric_ports && proto == ServiceProto::Raw {
            // A raw socket's "port" is its IP protocol: net-tools names it
            // from the protocols database.
            let lookup = &mut self.lookup;
            if let Some(name) = self
                .protocols
                .entry(port)
                .or_insert_with(|| lookup.protocol(port))
            {
                out.extend_from_slice(name.as_bytes());
                return;
            }
        } else if !self.numeric_ports {
            let lookup = &mut self.lookup;
            let map = self.services.get_or_insert_with(|| {
                let mut m = HashMap::new();
                for (p, pr, name) in lookup.services() {
                    let key = match pr.as_str() {
                        "tcp" => ServiceProto::Tcp,
                        "udp" => ServiceProto::Udp,
                        "raw" => ServiceProto::Raw,
                        _ => continue,
                    };
                    m.insert((p, key), name);
                }
                m
            });
            if let Some(name) = map.get(&(port, proto)) {
                out.extend_from_slice(name.as_bytes());
                return;
            }
        }
        push_u64(out, u64::from(port));
    }

    /// `-e` user column text (name, or the number as C's `%d` of an
    /// int prints it); the caller pads the column.
    pub fn user(&mut self, uid: u32, out: &mut Vec<u8>) {
        if !self.numeric_users {
            let lookup = &mut self.lookup;
            if let Some(name) = self.users.entry(uid).or_insert_with(|| lookup.user(uid)) {
                out.extend_from_slice(name.as_bytes());
                return;
            }
        }
        out.extend_from_slice((uid as i32).to_string().as_bytes());
    }
}

/// net-tools' `fix_v4_address`: a v4-mapped address prints as IPv4.
pub fn fix_v4_mapped<'a>(text: &'a str, a: &Ipv6Addr) -> &'a str {
    if a.to_ipv4_mapped().is_none() {
        return text;
    }
    if let Some(dot) = text.find('.') {
        if let Some(colon) = text[..dot].rfind(':') {
            return &text[colon + 1..];
        }
    }
    text
}

fn push_v4(out: &mut Vec<u8>, a: Ipv4Addr) {
    let o = a.octets();
    for (i, b) in o.iter().enumerate() {
        if i > 0 {
            out.push(b'.');
        }
        push_u64(out, u64::from(*b));
    }
}
