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
use rnet_core::addr::ntop6;
use rnet_core::os::strerror_text;
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

/// The counters of one `/proc/net/dev` line, at the positions of the
/// kernel's current layout (version 3).
type Stats = [u64; 16];

const RX_BYTES: usize = 0;
const RX_PACKETS: usize = 1;
const RX_ERRORS: usize = 2;
const RX_DROPPED: usize = 3;
const RX_FIFO: usize = 4;
const RX_FRAME: usize = 5;
const RX_MULTICAST: usize = 7;
const TX_BYTES: usize = 8;
const TX_PACKETS: usize = 9;
const TX_ERRORS: usize = 10;
const TX_DROPPED: usize = 11;
const TX_FIFO: usize = 12;
const COLLISIONS: usize = 13;
const TX_CARRIER: usize = 14;

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
    let map: &[usize] = match version {
        3 => &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
        2 => &[0, 1, 2, 3, 4, 5, 8, 9, 10, 11, 12, 13, 14],
        _ => &[1, 2, 3, 4, 5, 9, 10, 11, 12, 13, 14],
    };
    let mut st = prev;
    let mut it = rest
        .split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty());
    for slot in map {
        let Some(w) = it.next() else { break };
        let (neg, d) = match w.first() {
            Some(b'-') => (true, &w[1..]),
            Some(b'+') => (false, &w[1..]),
            _ => (false, w),
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
        st[*slot] = if neg { x.wrapping_neg() } else { x };
        if n < d.len() {
            break;
        }
    }
    match version {
        3 => {}
        2 => st[RX_MULTICAST] = 0,
        _ => {
            st[RX_BYTES] = 0;
            st[TX_BYTES] = 0;
            st[RX_MULTICAST] = 0;
        }
    }
    st
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

/// Reads `/proc/net/dev` into the list; `false` when it cannot be read.
fn read_proc_dev(root: &Path, list: &mut Vec<Iface>) -> bool {
    let path = root.join("net/dev");
    let mut r = match LineReader::open(&path) {
        Ok(r) => r,
        Err(e) => {
            eprintln!(
                "Warning: cannot open /proc/net/dev ({}). Limited output.",
                strerror_text(&e)
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

/// `netstat -i`; `first`: the first pass of `-c` (the title is printed
/// once).
pub fn interfaces<W: Write>(
    prog: &str,
    o: &Options,
    root: &Path,
    first: bool,
    out: &mut W,
) -> Result<ExitStatus, Error> {
    // net-tools' flag_exp is 1 + the number of -e; 2 or more is the long
    // (ifconfig) form.
    let long = o.extend >= 1;
    let sock = match sys::inet_dgram_socket() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("socket: {}", strerror_text(&e));
            return Ok(ExitStatus::Failure);
        }
    };
    if first {
        out.write_all(b"Kernel Interface table\n")?;
    }
    if !long {
        out.write_all(
            b"Iface             MTU    RX-OK RX-ERR RX-DRP RX-OVR    TX-OK TX-ERR TX-DRP TX-OVR Flg\n",
        )?;
    }
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
            eprintln!("SIOCGIFCONF: {}", strerror_text(&e));
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
                    strerror_text(&e)
                };
                eprintln!(
                    "{}: error fetching interface information: {why}",
                    String::from_utf8_lossy(&ife.name)
                );
                eprintln!("missing interface information: {}", strerror_text(&e));
                return Ok(ExitStatus::Failure);
            }
        };
        if flags & IFF_UP == 0 && !o.all {
            continue;
        }
        let mtu = sys::if_mtu(sock.as_fd(), &ife.name);
        if long {
            let text = long_form(prog, root, sock.as_fd(), ife, flags, mtu)?;
            out.write_all(text.as_bytes())?;
            continue;
        }
        line.clear();
        let name = String::from_utf8_lossy(&ife.name[..ife.name.len().min(15)]);
        use std::fmt::Write as _;
        let _ = write!(line, "{name:<15} {mtu:>5} ");
        match ife.stats {
            Some(s) => {
                let _ = write!(
                    line,
                    "{:>8} {:>6} {:>6} {:<6} {:>8} {:>6} {:>6} {:>6} ",
                    s[RX_PACKETS],
                    s[RX_ERRORS],
                    s[RX_DROPPED],
                    s[RX_FIFO],
                    s[TX_PACKETS],
                    s[TX_ERRORS],
                    s[TX_DROPPED],
                    s[TX_FIFO]
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

/// The hardware types net-tools names that rnetstat prints: (type, name,
/// title, whether the address is printed).
fn hw_type(t: u16) -> Option<(&'static str, &'static str, bool)> {
    match t {
        1 => Some(("ether", "Ethernet", true)),
        772 => Some(("loop", "Local Loopback", false)),
        _ => None,
    }
}

/// net-tools' size in tenths with a binary unit (`31.1 MiB`).
fn human(v: u64) -> String {
    let mut short = v.wrapping_mul(10);
    let unit = if v > 1_152_921_504_606_846_976 {
        short = v / 115_292_150_460_684_697;
        "EiB"
    } else if v > 1_125_899_906_842_624 {
        short /= 1_125_899_906_842_624;
        "PiB"
    } else if v > 1_099_511_627_776 {
        short /= 1_099_511_627_776;
        "TiB"
    } else if v > 1_073_741_824 {
        short /= 1_073_741_824;
        "GiB"
    } else if v > 1_048_576 {
        short /= 1_048_576;
        "MiB"
    } else if v > 1024 {
        short /= 1024;
        "KiB"
    } else {
        "B"
    };
    format!("{}.{} {unit}", short / 10, short % 10)
}

/// `ife_print_long`: one interface in the ifconfig layout.
fn long_form(
    prog: &str,
    root: &Path,
    fd: std::os::fd::BorrowedFd<'_>,
    ife: &Iface,
    flags: u16,
    mtu: i32,
) -> Result<String, Error> {
    use std::fmt::Write as _;
    let name = String::from_utf8_lossy(&ife.name);
    let (hw_type_code, hwaddr) = sys::if_hwaddr(fd, &ife.name).unwrap_or((0, [0; 8]));
    let Some((hw_name, hw_title, hw_print)) = hw_type(hw_type_code) else {
        eprintln!(
            "{prog}: {name}: hardware type {hw_type_code} is not supported by rnetstat -ie; `ip -s addr' shows it"
        );
        return Err(Error::Exit(ExitStatus::Failure));
    };
    let mut t = String::new();
    let mut fl = format!("flags={}<", flags as i16);
    for (bit, word) in [
        (IFF_UP, "UP,"),
        (IFF_BROADCAST, "BROADCAST,"),
        (IFF_DEBUG, "DEBUG,"),
        (IFF_LOOPBACK, "LOOPBACK,"),
        (IFF_POINTOPOINT, "POINTOPOINT,"),
        (IFF_NOTRAILERS, "NOTRAILERS,"),
        (IFF_RUNNING, "RUNNING,"),
        (IFF_NOARP, "NOARP,"),
        (IFF_PROMISC, "PROMISC,"),
        (IFF_ALLMULTI, "ALLMULTI,"),
        (IFF_SLAVE, "SLAVE,"),
        (IFF_MASTER, "MASTER,"),
        (IFF_MULTICAST, "MULTICAST,"),
        (IFF_DYNAMIC, "DYNAMIC,"),
    ] {
        if flags & bit != 0 {
            fl.push_str(word);
        }
    }
    if flags == 0 {
        fl.push('>');
    }
    if fl.ends_with(',') {
        fl.pop();
        fl.push('>');
    } else {
        fl.pop();
    }
    let _ = writeln!(t, "{name}: {fl}  mtu {mtu}");
    if let Some(addr) = sys::if_inet_addr(fd, &ife.name, libc::SIOCGIFADDR) {
        let show = |a: Option<std::net::Ipv4Addr>| {
            a.map_or_else(|| "[NONE SET]".to_string(), |a| a.to_string())
        };
        let _ = write!(
            t,
            "        inet {addr}  netmask {}",
            show(sys::if_inet_addr(fd, &ife.name, libc::SIOCGIFNETMASK))
        );
        if flags & IFF_BROADCAST != 0 {
            let _ = write!(
                t,
                "  broadcast {}",
                show(sys::if_inet_addr(fd, &ife.name, libc::SIOCGIFBRDADDR))
            );
        }
        if flags & IFF_POINTOPOINT != 0 {
            let _ = write!(
                t,
                "  destination {}",
                show(sys::if_inet_addr(fd, &ife.name, libc::SIOCGIFDSTADDR))
            );
        }
        t.push('\n');
    }
    inet6_lines(root, &ife.name, &mut t);
    if hw_print {
        let h = hwaddr;
        let _ = write!(
            t,
            "        {hw_name} {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            h[0], h[1], h[2], h[3], h[4], h[5]
        );
    } else {
        let _ = write!(t, "        {hw_name}");
    }
    if let Some(q) = sys::if_txqlen(fd, &ife.name) {
        if q != -1 {
            let _ = write!(t, "  txqueuelen {q}");
        }
    }
    let _ = writeln!(t, "  ({hw_title})");
    if let Some(s) = ife.stats {
        let _ = writeln!(
            t,
            "        RX packets {}  bytes {} ({})",
            s[RX_PACKETS],
            s[RX_BYTES],
            human(s[RX_BYTES])
        );
        let _ = writeln!(
            t,
            "        RX errors {}  dropped {}  overruns {}  frame {}",
            s[RX_ERRORS], s[RX_DROPPED], s[RX_FIFO], s[RX_FRAME]
        );
        let _ = writeln!(
            t,
            "        TX packets {}  bytes {} ({})",
            s[TX_PACKETS],
            s[TX_BYTES],
            human(s[TX_BYTES])
        );
        let _ = writeln!(
            t,
            "        TX errors {}  dropped {} overruns {}  carrier {}  collisions {}",
            s[TX_ERRORS], s[TX_DROPPED], s[TX_FIFO], s[TX_CARRIER], s[COLLISIONS]
        );
    }
    let (irq, base, mem_start, mem_end, dma) = sys::if_map(fd, &ife.name);
    if irq != 0 || mem_start != 0 || dma != 0 || base >= 0x100 {
        t.push_str("        device ");
        if irq != 0 {
            let _ = write!(t, "interrupt {irq}  ");
        }
        if base >= 0x100 {
            let _ = write!(t, "base 0x{base:x}  ");
        }
        if mem_start != 0 {
            let _ = write!(t, "memory 0x{mem_start:x}-{mem_end:x}  ");
        }
        if dma != 0 {
            let _ = write!(t, "  dma 0x{dma:x}");
        }
        t.push('\n');
    }
    t.push('\n');
    Ok(t)
}

/// The `inet6` lines of one interface from `/proc/net/if_inet6`.
fn inet6_lines(root: &Path, name: &[u8], t: &mut String) {
    use std::fmt::Write as _;
    let Ok(mut r) = LineReader::open(&root.join("net/if_inet6")) else {
        return;
    };
    while let Ok(Some((line, _))) = r.next_line() {
        let w: Vec<&[u8]> = line
            .split(|b| b.is_ascii_whitespace())
            .filter(|w| !w.is_empty())
            .collect();
        if w.len() < 6 || w[0].len() != 32 {
            continue;
        }
        let dev = &w[5][..w[5].len().min(20)];
        if dev != name {
            continue;
        }
        // The kernel prints the address as 32 hex digits, in order.
        let Some(addr) = std::str::from_utf8(w[0]).ok().and_then(|hex| {
            let groups: Vec<&str> = (0..8).map(|i| &hex[4 * i..4 * i + 4]).collect();
            groups.join(":").parse::<std::net::Ipv6Addr>().ok()
        }) else {
            continue;
        };
        let hexnum = |b: &[u8]| {
            std::str::from_utf8(b)
                .ok()
                .and_then(|s| u32::from_str_radix(s, 16).ok())
        };
        let (Some(plen), Some(mut scope)) = (hexnum(w[2]), hexnum(w[3])) else {
            continue;
        };
        let text = ntop6(&addr);
        let text = crate::names::fix_v4_mapped(&text, &addr);
        let _ = write!(
            t,
            "        inet6 {text}  prefixlen {plen}  scopeid 0x{scope:x}"
        );
        let mut f = String::from("<");
        if scope & 0x0080 != 0 {
            f.push_str("compat,");
            scope -= 0x0080;
        }
        if scope == 0 {
            f.push_str("global,");
        }
        if scope & 0x0020 != 0 {
            f.push_str("link,");
        }
        if scope & 0x0040 != 0 {
            f.push_str("site,");
        }
        if scope & 0x0010 != 0 {
            f.push_str("host,");
        }
        if f.ends_with(',') {
            f.pop();
            f.push('>');
        } else {
            f.pop();
        }
        let _ = writeln!(t, "{f}");
    }
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
