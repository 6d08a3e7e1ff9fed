//! `rnet_core::names` from several threads at once gives what it gives
//! from one: the lookups are reentrant and the services walk is locked.
//!
//! Only local databases are asked: hosts listed in `/etc/hosts`, networks
//! listed in `/etc/networks`, `/etc/services` and `/etc/protocols`, so no
//! name server sees a query.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Barrier;
use std::thread;

use rnet_core::names;

const THREADS: usize = 4;
const ROUNDS: usize = 3;

/// Everything one pass of lookups answered, in a fixed order.
struct Answers {
    services: Vec<(u16, String, String)>,
    by_port: Vec<Option<String>>,
    by_name: Vec<Option<u16>>,
    protocols: Vec<Option<String>>,
    hosts: Vec<Option<String>>,
    networks: Vec<Option<String>>,
}

/// What to ask, read once from the local databases.
struct Questions {
    /// `(port, proto)` of every services entry.
    ports: Vec<(u16, String)>,
    /// `(name, proto)` of every services entry.
    names: Vec<(String, String)>,
    hosts: Vec<IpAddr>,
    networks: Vec<Ipv4Addr>,
}

/// Field `col` (from 0) of each line of a hosts(5)-like file, comments
/// cut, where it parses as a `T`.
fn column<T: std::str::FromStr>(path: &str, col: usize) -> Vec<T> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            l.split('#')
                .next()?
                .split_whitespace()
                .nth(col)?
                .parse()
                .ok()
        })
        .collect()
}

fn ask(q: &Questions) -> Answers {
    Answers {
        services: names::all_services(),
        by_port: q
            .ports
            .iter()
            .map(|(p, proto)| names::service_name(*p, proto))
            .collect(),
        by_name: q
            .names
            .iter()
            .map(|(n, proto)| names::service_port(n, proto))
            .collect(),
        protocols: (0..=255).map(names::protocol_name).collect(),
        hosts: q
            .hosts
            .iter()
            .map(|a| match a {
                IpAddr::V4(a) => names::host_name_v4(*a),
                IpAddr::V6(a) => names::host_name_v6(*a),
            })
            .collect(),
        networks: q.networks.iter().map(|a| names::net_name(*a)).collect(),
    }
}

#[test]
fn lookups_from_several_threads_match_one_thread() {
    let services = names::all_services();
    let q = Questions {
        ports: services
            .iter()
            .map(|(p, proto, _)| (*p, proto.clone()))
            .collect(),
        names: services
            .iter()
            .map(|(_, proto, n)| (n.clone(), proto.clone()))
            .collect(),
        hosts: column("/etc/hosts", 0),
        networks: column("/etc/networks", 1),
    };
    let alone = ask(&q);
    assert_eq!(alone.services, services, "two walks in a row differ");

    // Independent truth for the single lookups: getservbyport answers the
    // first entry of that port and protocol in database order.
    for ((port, proto), got) in q.ports.iter().zip(&alone.by_port) {
        let first = services
            .iter()
            .find(|(p, pr, _)| p == port && pr == proto)
            .map(|(_, _, n)| n.clone());
        assert_eq!(got, &first, "service_name({port}, {proto})");
    }
    for ((name, proto), got) in q.names.iter().zip(&alone.by_name) {
        assert!(got.is_some(), "service_port({name}, {proto}) found nothing");
    }
    if std::path::Path::new("/etc/protocols").exists() {
        assert_eq!(alone.protocols[6].as_deref(), Some("tcp"));
        assert_eq!(alone.protocols[17].as_deref(), Some("udp"));
    }
    for (a, got) in q.hosts.iter().zip(&alone.hosts) {
        assert!(got.is_some(), "{a} is in /etc/hosts but has no name");
    }
    for (a, got) in q.networks.iter().zip(&alone.networks) {
        assert!(got.is_some(), "{a} is in /etc/networks but has no name");
    }
    eprintln!(
        "{} services, {} hosts, {} networks, {} protocol names; {THREADS} threads x {ROUNDS} rounds",
        services.len(),
        q.hosts.len(),
        q.networks.len(),
        alone.protocols.iter().flatten().count()
    );

    let start = Barrier::new(THREADS);
    thread::scope(|s| {
        let workers: Vec<_> = (0..THREADS)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    (0..ROUNDS).map(|_| ask(&q)).collect::<Vec<_>>()
                })
            })
            .collect();
        for (t, w) in workers.into_iter().enumerate() {
            for (r, got) in w.join().unwrap().into_iter().enumerate() {
                let at = format!("thread {t}, round {r}");
                assert!(got.services == alone.services, "{at}: all_services differs");
                assert!(got.by_port == alone.by_port, "{at}: service_name differs");
                assert!(got.by_name == alone.by_name, "{at}: service_port differs");
                assert!(
                    got.protocols == alone.protocols,
                    "{at}: protocol_name differs"
                );
                assert_eq!(got.hosts, alone.hosts, "{at}: host names differ");
                assert_eq!(got.networks, alone.networks, "{at}: network names differ");
            }
        }
    });
}
