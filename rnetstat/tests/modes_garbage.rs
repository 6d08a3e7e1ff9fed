//! The modes beyond the socket listings on `/proc` files the kernel never
//! writes: seeded random mutations of real-looking counter files (bytes
//! flipped, lines cut, duplicated, joined, NULs, huge numbers) must never
//! make rnetstat (`-s`, `-r`, `-g`, `-i`) panic or hang; it exits 0 as
//! netstat does (1 for a routing table whose header lacks a column or an
//! interface this namespace lacks).

use rnet_testkit::rng::Rng;
use rnet_testkit::tempdir::TempDir;
use std::process::Command;
use std::time::{Duration, Instant};

const SNMP: &str = "Ip: Forwarding DefaultTTL InReceives OutTransmits\nIp: 1 64 100 50\n\
Icmp: InMsgs InDestUnreachs OutMsgs OutDestUnreachs\nIcmp: 3 3 2 2\n\
Tcp: RtoAlgorithm ActiveOpens PassiveOpens AttemptFails RetransSegs\nTcp: 1 4 3 2 1\n\
Udp: InDatagrams NoPorts\nUdp: 5 6\n";
const NETSTAT: &str =
    "TcpExt: TW TCPSynRetrans TCPTimeouts\nTcpExt: 1 2 3\nIpExt: InOctets\nIpExt: 9\n";
const ROUTE: &str =
    "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
eth0\t000200C0\t00000000\t0201\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
const ROUTE6: &str = "fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n\
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd000000000000000000000000000001 00000400 00000002 00000000 00000003     eth0\n";
const IGMP: &str = "Idx\tDevice    : Count Querier\tGroup    Users Timer\tReporter\n1\tlo        :     1      V3\n\t\t\t\t010000E0     1 0:00000000\t\t0\n";
const IGMP6: &str = "1    lo              ff020000000000000000000000000001     1 0000000C 0\n";
const DEV: &str = "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n";
const SNMP6: &str = "Ip6InReceives \t10\nIcmp6InMsgs \t4\nIcmp6InEchos \t2\nUdp6InDatagrams \t5\nUdpLite6InDatagrams \t0\n";

/// One random change to `text`.
fn mutate(rng: &mut Rng, text: &mut Vec<u8>) {
    if text.is_empty() {
        text.extend_from_slice(b"X:\n");
        return;
    }
    let at = rng.below(text.len());
    match rng.below(7) {
        0 => text[at] = rng.below(256) as u8,
        1 => text.truncate(at),
        2 => {
            let tail = text[at..].to_vec();
            text.extend_from_slice(&tail);
        }
        3 => text.insert(at, 0),
        4 => text.retain(|b| *b != b'\n' || rng.chance(50)),
        5 => {
            let n = b"184467440737095516159999 -7 +3 ";
            text.splice(at..at, n.iter().copied());
        }
        _ => text.insert(at, *rng.pick(b":\n \t6\r")),
    }
}

#[test]
fn modes_survive_mutated_files() {
    let bin = assert_cmd::cargo::cargo_bin("rnetstat");
    let dir = TempDir::new("modes-garbage").expect("temp dir");
    let net = dir.join("net");
    std::fs::create_dir_all(&net).unwrap();
    let mut rng = Rng::splitmix64(0x5eed_0012);
    let start = Instant::now();
    for round in 0..150 {
        let mut files =
            [SNMP, NETSTAT, SNMP6, ROUTE, ROUTE6, IGMP, IGMP6, DEV].map(|t| t.as_bytes().to_vec());
        for f in files.iter_mut() {
            for _ in 0..=rng.below(4) {
                mutate(&mut rng, f);
            }
        }
        for (name, body) in [
            "snmp",
            "netstat",
            "snmp6",
            "route",
            "ipv6_route",
            "igmp",
            "igmp6",
            "dev",
        ]
        .iter()
        .zip(&files)
        {
            std::fs::write(net.join(name), body).unwrap();
        }
        for args in [
            &["-s"][..],
            &["-s6"],
            &["-st"],
            &["-rn"],
            &["-rnee"],
            &["-rn6"],
        ] {
            let out = Command::new(&bin)
                .args(args)
                .env("RNET_PROC_ROOT", dir.path())
                .env("LC_ALL", "C")
                .output()
                .expect("run rnetstat");
            // 0, or 1 for a routing table header without a wanted column.
            // 1: a routing header without a wanted column, an interface
            // name this namespace lacks.
            let ok = out.status.code() == Some(0)
                || (!args[0].starts_with("-s") && out.status.code() == Some(1));
            assert!(
                ok,
                "round {round} {args:?}: {}\nfiles: {files:?}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert!(start.elapsed() < Duration::from_secs(120), "too slow");
    }
}
