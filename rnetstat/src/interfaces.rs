//! `netstat -i`: the kernel interface table as net-tools 2.10 prints it
//! (the short form): the interfaces of `/proc/net/dev` and those with an
//! IPv4 address (`SIOCGIFCONF`, labels such as `eth0:1` included), sorted
//! as net-tools sorts them (`nstrcmp`: numbers by value, `:N` labels
//! after their interface), each with its counters from `/proc/net/dev`
//! and its flags and MTU from the kernel (`SIOCGIFFLAGS`, `SIOCGIFMTU`).
//! Interfaces that are down are listed only with `-a`.
//!
//! The flags and MTU always come from this network namespace's kernel,
//! also when `RNET_PROC_ROOT` points elsewhere, as netstat asks the kernel
//! whatever `/proc` holds.

use crate::cli::Options;
use crate::error::{Error, ExitStatus};
use crate::sys;
use rnet_core::procnet::LineReader;
use std::cmp::Ordering;
use std::io::Write;
use std::os::fd::AsFd;
use std::path::Path;

const IFF_UP: u16 = 0x1;
const IFF_BROADCAST: u16 = 0x2;
const IFF_DEBUG: u16 = 0x4;
const IFF_LOOPBACK: u16 = 0x8;
const IFF_POINTOPOINT: u16 = 0x10;
const IFF_NOTRAILERS: u16 = 0x20;
const IFF_RUNNING: u16 = 0x40;
const IFF_NOARP: u16 = 0x80;
const IFF_PROMISC: u16 = 0x100;
const IFF_ALLMULTI: u16 = 0x200;
const IFF_MASTER: u16 = 0x400;
const IFF_SLAVE: u16 = 0x800;
const IFF_MULTICAST: u16 = 0x1000;
const IFF_DYNAMIC: u16 = 0x8000;

/// The counters net-tools shows, from one `/proc/net/dev` line.
#[derive(Clone, Copy, Default)]
struct Stats {
    rx_packets: u64,
    rx_errors: u64,
    rx_dropped: u64,
    rx_fifo: u64,
    tx_packets: u64,
    tx_errors: u64,
    tx_dropped: u64,
    tx_fifo: u64,
}

struct Iface {
    name: Vec<u8>,
    stats: Option<Stats>,
}

/// net-tools' `cutalias`: splits a trailing `:digits` label off.
fn cut_alias(name: &[u8]) -> (&[u8], Option<&[u8]>) {
    let mut pos = name.len();
    let mut digit = false;
    while pos > 0 {
        if name[pos - 1] == b':' && digit {
            return (&name[..pos - 1], Some(&name[pos..]));
        }
        if !name[pos - 1].is_ascii_digit() {
            break;
        }
        digit = true;
        pos -= 1;
    }
    (name, None)
}

/// The length of the name without its trailing digits.
fn prefix_len(name: &[u8]) -> usize {
    name.len() - name.iter().rev().take_while(|b| b.is_ascii_digit()).count()
}

/// C's `atoi` on digits (wrapping as a C `int` would, in practice).
fn atoi(s: &[u8]) -> i64 {
    s.iter()
        .take_while(|b| b.is_ascii_digit())
        .fold(0i64, |v, d| {
            v.wrapping_mul(10).wrapping_add(i64::from(d - b'0'))
        }) as i32 as i64
}

/// net-tools' `nstrcmp`.
fn nstrcmp(a: &[u8], b: &[u8]) -> Ordering {
    let (a, aalias) = cut_alias(a);
    let (b, balias) = cut_alias(b);
    let (ai, bi) = (prefix_len(a), prefix_len(b));
    let n = ai.min(bi);
    // strncmp over the shorter prefix.
    let o = a[..n.min(a.len())].cmp(&b[..n.min(b.len())]);
    if o != Ordering::Equal {
        return o;
    }
    if ai != bi {
        return ai.cmp(&bi);
    }
    let o = atoi(&a[ai..]).cmp(&atoi(&b[bi..]));
    if o != Ordering::Equal {
        return o;
    }
    let o = a.cmp(b);
    if o != Ordering::Equal {
        return o;
    }
    let av = aalias.map_or(-1, atoi);
    let bv = balias.map_or(-1, atoi);
    if av != bv {
        return av.cmp(&bv);
    }
    match (aalias, balias) {
        (Some(x), Some(y)) => x.cmp(y),
        _ => Ordering::Equal,
    }
}

/// net-tools' `if_cache_add`: the entry for `name`, inserted in order.
fn cache_add<'a>(list: &'a mut Vec<Iface>, name: &[u8]) -> &'a mut Iface {
    let mut at = 0;
    for i in (0..list.len()).rev() {
        match nstrcmp(&list[i].name, name) {
            Ordering::Equal => return &mut list[i],
            Ordering::Less => {
                at = i + 1;
                break;
            }
            Ordering::Greater => {}
        }
    }
    list.insert(
        at,
        Iface {
            name: name.to_vec(),
            stats: None,
        },
    );
    &mut list[at]
}

/// net-tools' `get_name`: the interface name of a `/proc/net/dev` line
/// (an `eth0:1:` label kept) and the rest of the line.
fn get_name(line: &[u8]) -> (Vec<u8>, &[u8]) {
    let mut p = line.iter().take_while(|b| b.is_ascii_whitespace()).count();
    let mut name = Vec::new();
    while p < line.len() {
        let c = line[p];
        if c.is_ascii_whitespace() {
            break;
        }
        if c == b':' {
            let dot = p;
            let mut q = p + 1;
            while q < line.len() && line[q].is_ascii_digit() {
                q += 1;
            }
            if q < line.len() && line[q] == b':' {
                name.extend_from_slice(&line[dot..q]);
                p = q;
            } else {
                p = dot;
            }
            p += 1;
            break;
        }
        name.push(c);
        p += 1;
    }
    (name, &line[p.min(line.len())..])
}

/// `%lu`-style fields of a `/proc/net/dev` line in net-tools' layout
/// (`version` 3: with compressed/multicast, 2: with bytes, 1: neither)
/// over `prev`: as with `sscanf`, the fields after one that cannot be
/// read keep their values.
fn dev_fields(rest: &[u8], version: u8, prev: Stats) -> Stats {
    let mut v = [0u64; 16];
    let mut read = 0;
    let mut it = rest
        .split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty());
    for slot in v.iter_mut() {
        let Some(w) = it.next() else { break };
        let digits: &[u8] = w;
        let (neg, d) = match digits.first() {
            Some(b'-') => (true, &digits[1..]),
            Some(b'+') => (false, &digits[1..]),
            _ => (false, digits),
        };
        let n = d.iter().take_while(|b| b.is_ascii_digit()).count();
        if n == 0 {
            break;
        }
        let mut x: u64 = 0;
        for c in &d[..n] {
            x = x
                .checked_mul(10)
                .and_then(|x| x.checked_add(u64::from(c - b'0')))
                .unwrap_or(u64::MAX);
        }
        *slot = if neg { x.wrapping_neg() } else { x };
        read += 1;
        if n < d.len() {
            break;
        }
    }
    let idx: [usize; 8] = match version {
        3 => [1, 2, 3, 4, 9, 10, 11, 12],
        2 => [1, 2, 3, 4, 7, 8, 9, 10],
        _ => [0, 1, 2, 3, 5, 6, 7, 8],
    };
    let pick = |i: usize, old: u64| if idx[i] < read { v[idx[i]] } else { old };
    Stats {
        rx_packets: pick(0, prev.rx_packets),
        rx_errors: pick(1, prev.rx_errors),
        rx_dropped: pick(2, prev.rx_dropped),
        rx_fifo: pick(3, prev.rx_fifo),
        tx_packets: pick(4, prev.tx_packets),
        tx_errors: pick(5, prev.tx_errors),
        tx_dropped: pick(6, prev.tx_dropped),
        tx_fifo: pick(7, prev.tx_fifo),
    }
}

fn flags_text(f: u16) -> String {
    let mut s = String::new();
    if f == 0 {
        s.push_str("[NO FLAGS]");
    }
    for (bit, c) in [
        (IFF_ALLMULTI, 'A'),
        (IFF_BROADCAST, 'B'),
        (IFF_DEBUG, 'D'),
        (IFF_LOOPBACK, 'L'),
        (IFF_MULTICAST, 'M'),
        (IFF_DYNAMIC, 'd'),
        (IFF_PROMISC, 'P'),
        (IFF_NOTRAILERS, 'N'),
        (IFF_NOARP, 'O'),
        (IFF_POINTOPOINT, 'P'),
        (IFF_SLAVE, 's'),
        (IFF_MASTER, 'm'),
        (IFF_RUNNING, 'R'),
        (IFF_UP, 'U'),
    ] {
        if f & bit != 0 {
            s.push(c);
        }
    }
    s
}

fn c_error(e: &std::io::Error) -> String {
    let text = e.to_string();
    text.split(" (os error").next().unwrap_or(&text).to_string()
}

/// Reads `/proc/net/dev` into the list; `false` when it cannot be read.
fn read_proc_dev(root: &Path, list: &mut Vec<Iface>) -> bool {
    let path = root.join("net/dev");
    let mut r = match LineReader::open(&path) {
        Ok(r) => r,
        Err(e) => {
            eprintln!(
                "Warning: cannot open /proc/net/dev ({}). Limited output.",
                c_error(&e)
            );
            return false;
        }
    };
    let mut version = 1;
    for _ in 0..2 {
        match r.next_line() {
            Ok(Some((l, _))) => {
                let has = |w: &[u8]| l.windows(w.len()).any(|x| x == w);
                version = if has(b"compressed") {
                    3
                } else if has(b"bytes") {
                    2
                } else {
                    1
                };
            }
            _ => return true,
        }
    }
    loop {
        match r.next_line() {
            Ok(Some((line, _))) => {
                let (name, rest) = get_name(line);
                let ife = cache_add(list, &name);
                ife.stats = Some(dev_fields(rest, version, ife.stats.unwrap_or_default()));
            }
            Ok(None) => return true,
            Err(e) => {
                eprintln!("rnetstat: {}: {e}", path.display());
                return true;
            }
        }
    }
}

/// `netstat -i`.
pub fn interfaces<W: Write>(
    prog: &str,
    o: &Options,
    root: &Path,
    out: &mut W,
) -> Result<ExitStatus, Error> {
    // net-tools' flag_exp is 1 + the number of -e; 2 or more is the long
    // (ifconfig) form.
    if o.extend >= 1 {
        eprintln!("{prog}: -i with -e (the ifconfig-style form) is not implemented by rnetstat; `ip -s addr' shows it");
        return Ok(ExitStatus::Failure);
    }
    let sock = match sys::inet_dgram_socket() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("socket: {}", c_error(&e));
            return Ok(ExitStatus::Failure);
        }
    };
    out.write_all(b"Kernel Interface table\n")?;
    out.write_all(
        b"Iface             MTU    RX-OK RX-ERR RX-DRP RX-OVR    TX-OK TX-ERR TX-DRP TX-OVR Flg\n",
    )?;
    let mut list: Vec<Iface> = Vec::new();
    let proc_ok = read_proc_dev(root, &mut list);
    let conf_ok = match sys::if_conf_names(sock.as_fd()) {
        Ok(names) => {
            for n in names {
                cache_add(&mut list, &n);
            }
            true
        }
        Err(e) => {
            eprintln!("SIOCGIFCONF: {}", c_error(&e));
            false
        }
    };
    if !proc_ok && !conf_ok {
        out.flush()?;
        eprintln!("missing interface information: No such file or directory");
        return Ok(ExitStatus::Failure);
    }
    let mut line = String::with_capacity(128);
    for ife in &list {
        let flags = match sys::if_flags(sock.as_fd(), &ife.name) {
            Ok(f) => f,
            Err(e) => {
                out.flush()?;
                let why = if e.raw_os_error() == Some(libc::ENODEV) {
                    "Device not found".to_string()
                } else {
                    c_error(&e)
                };
                eprintln!(
                    "{}: error fetching interface information: {why}",
                    String::from_utf8_lossy(&ife.name)
                );
                eprintln!("missing interface information: {}", c_error(&e));
                return Ok(ExitStatus::Failure);
            }
        };
        if flags & IFF_UP == 0 && !o.all {
            continue;
        }
        let mtu = sys::if_mtu(sock.as_fd(), &ife.name);
        line.clear();
        let name = String::from_utf8_lossy(&ife.name[..ife.name.len().min(15)]);
        use std::fmt::Write as _;
        let _ = write!(line, "{name:<15} {mtu:>5} ");
        match ife.stats {
            Some(s) => {
                let _ = write!(
                    line,
                    "{:>8} {:>6} {:>6} {:<6} {:>8} {:>6} {:>6} {:>6} ",
                    s.rx_packets,
                    s.rx_errors,
                    s.rx_dropped,
                    s.rx_fifo,
                    s.tx_packets,
                    s.tx_errors,
                    s.tx_dropped,
                    s.tx_fifo
                );
            }
            None => {
                let _ = write!(line, "{:<56}", "     - no statistics available -");
            }
        }
        line.push_str(&flags_text(flags));
        line.push('\n');
        out.write_all(line.as_bytes())?;
    }
    out.flush()?;
    Ok(ExitStatus::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nstrcmp_orders_numbers_and_labels() {
        let mut v: Vec<&[u8]> = vec![b"eth10", b"eth2", b"eth2:1", b"lo", b"eth2:0", b"dummy0"];
        v.sort_by(|a, b| nstrcmp(a, b));
        let want: Vec<&[u8]> = vec![b"dummy0", b"eth2", b"eth2:0", b"eth2:1", b"eth10", b"lo"];
        assert_eq!(v, want);
    }

    #[test]
    fn proc_dev_names() {
        assert_eq!(get_name(b"  eth0: 1 2").0, b"eth0");
        assert_eq!(get_name(b"eth0:1: 5").0, b"eth0:1");
        assert_eq!(get_name(b"lo:12345 6").0, b"lo");
    }
}
