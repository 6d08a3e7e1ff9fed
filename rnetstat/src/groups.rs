//! `netstat -g`: multicast group memberships from `/proc/net/igmp` and
//! `/proc/net/igmp6`, as net-tools 2.10 prints them (its `igmp_do_one`
//! state machine, including the device name it keeps from line to line:
//! the 15 bytes after the index, cut at their last `:`).

use crate::cli::Options;
use crate::error::{Error, ExitStatus};
use crate::names::{fix_v4_mapped, Lookup};
use rnet_core::addr::ntop6;
use rnet_core::procnet::LineReader;
use std::io::{ErrorKind, Write};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::Path;

/// What net-tools keeps in `static` variables across lines and files.
struct State {
    idx_flag: bool,
    igmp6_flag: bool,
    /// `static char device[16]`: bytes up to the first NUL are the name.
    device: [u8; 16],
}

impl State {
    fn device(&self) -> &[u8] {
        let end = self.device.iter().position(|b| *b == 0).unwrap_or(16);
        &self.device[..end]
    }
}

fn is_space(b: u8) -> bool {
    b.is_ascii_whitespace() || b == 0x0b
}

fn skip_ws(s: &[u8], mut i: usize) -> usize {
    while i < s.len() && is_space(s[i]) {
        i += 1;
    }
    i
}

/// `%d`: the value (a C `int` from `strtol`) and the index after it.
fn scan_int(s: &[u8], i: usize) -> Option<(i32, usize)> {
    let mut j = skip_ws(s, i);
    let neg = j < s.len() && s[j] == b'-';
    if j < s.len() && (s[j] == b'-' || s[j] == b'+') {
        j += 1;
    }
    let start = j;
    let mut v: i64 = 0;
    while j < s.len() && s[j].is_ascii_digit() {
        v = v.saturating_mul(10).saturating_add(i64::from(s[j] - b'0'));
        j += 1;
    }
    if j == start {
        return None;
    }
    let v = if neg { v.saturating_neg() } else { v };
    Some((v as i32, j))
}

/// `%N[0-9A-Fa-f]` after skipping white space (the format's blank).
fn scan_hex_set(s: &[u8], i: usize, width: usize) -> Option<(&[u8], usize)> {
    let start = skip_ws(s, i);
    let mut j = start;
    while j < s.len() && j - start < width && s[j].is_ascii_hexdigit() {
        j += 1;
    }
    (j > start).then(|| (&s[start..j], j))
}

/// A hex word as `%X` reads it (up to 8 digits here).
fn hex_u32(s: &[u8]) -> u32 {
    s.iter()
        .take_while(|b| b.is_ascii_hexdigit())
        .fold(0u32, |v, b| {
            v.wrapping_mul(16)
                .wrapping_add((*b as char).to_digit(16).unwrap_or(0))
        })
}

/// One line of either file (net-tools' `igmp_do_one`); `line` ends with
/// its newline, as `fgets` leaves it.
fn do_one<L: Lookup, W: Write>(
    lnr: usize,
    line: &[u8],
    st: &mut State,
    numeric: bool,
    lookup: &mut L,
    out: &mut W,
) -> Result<(), Error> {
    if lnr == 0 {
        if !line.windows(6).any(|w| w == b"Device") {
            st.igmp6_flag = true;
        } else {
            st.idx_flag = line.starts_with(b"Idx");
            return Ok(());
        }
    }
    if st.igmp6_flag {
        // sscanf("%d %15s %64[0-9A-Fa-f] %d"): the device is stored as
        // soon as it is read, even when a later field fails.
        let parsed = (|| {
            let (_idx, i) = scan_int(line, 0)?;
            let a = skip_ws(line, i);
            let mut b = a;
            while b < line.len() && !is_space(line[b]) && b - a < 15 {
                b += 1;
            }
            if b == a {
                return None;
            }
            st.device = [0; 16];
            st.device[..b - a].copy_from_slice(&line[a..b]);
            let (hex, i) = scan_hex_set(line, b, 64)?;
            let hex = hex.to_vec();
            let (refcnt, _) = scan_int(line, i)?;
            Some((hex, refcnt))
        })();
        let Some((hex, refcnt)) = parsed else {
            out.flush()?;
            eprintln!("warning, got bogus igmp6 line {lnr}.");
            return Ok(());
        };
        let mut b = [0u8; 16];
        for (k, chunk) in hex.chunks(8).take(4).enumerate() {
            b[4 * k..4 * k + 4].copy_from_slice(&hex_u32(chunk).to_be_bytes());
        }
        let a = Ipv6Addr::from(b);
        let text = if numeric {
            ntop6(&a)
        } else if a.is_unspecified() {
            "[::]".to_string()
        } else {
            lookup.host_v6(a).unwrap_or_else(|| ntop6(&a))
        };
        let text = fix_v4_mapped(&text, &a);
        print_row(out, st.device(), refcnt, text.as_bytes())?;
        return Ok(());
    }
    if line.first() != Some(&b'\t') {
        // A device line: "<idx>\t<15 bytes>" (or the 15 bytes alone).
        let mut i = 0;
        if st.idx_flag {
            match scan_int(line, 0) {
                Some((_, j)) => i = skip_ws(line, j),
                None => {
                    out.flush()?;
                    eprintln!("warning, got bogus igmp line {lnr}.");
                    return Ok(());
                }
            }
        }
        let take = line.len().saturating_sub(i).min(15);
        if take == 0 {
            out.flush()?;
            eprintln!("warning, got bogus igmp line {lnr}.");
            return Ok(());
        }
        st.device[..take].copy_from_slice(&line[i..i + take]);
        let name_len = st.device().len();
        if let Some(colon) = st.device[..name_len].iter().rposition(|b| *b == b':') {
            st.device[colon] = 0;
        }
        return Ok(());
    }
    let parsed = scan_hex_set(line, 0, 8).and_then(|(hex, i)| {
        let hex = hex.to_vec();
        scan_int(line, i).map(|(r, _)| (hex, r))
    });
    let Some((hex, refcnt)) = parsed else {
        out.flush()?;
        eprintln!("warning, got bogus igmp line {lnr}.");
        return Ok(());
    };
    let a = Ipv4Addr::from(hex_u32(&hex).to_le_bytes());
    let text = if numeric {
        a.to_string()
    } else if a.is_unspecified() {
        "0.0.0.0".to_string()
    } else {
        let name = if a.octets()[0] != 0 {
            lookup.host_v4(a)
        } else {
            lookup.net_v4(a)
        };
        name.unwrap_or_else(|| a.to_string())
    };
    let dev = st.device().to_vec();
    print_row(out, &dev, refcnt, text.as_bytes())
}

fn print_row<W: Write>(out: &mut W, dev: &[u8], refcnt: i32, group: &[u8]) -> Result<(), Error> {
    out.write_all(dev)?;
    for _ in dev.len()..15 {
        out.write_all(b" ")?;
    }
    write!(out, " {refcnt:<6} ")?;
    out.write_all(group)?;
    out.write_all(b"\n")?;
    Ok(())
}

/// Feeds every line of one file to [`do_one`], numbering from 0.
fn each_line<L: Lookup, W: Write>(
    reader: &mut LineReader<std::fs::File>,
    path: &Path,
    st: &mut State,
    numeric: bool,
    lookup: &mut L,
    out: &mut W,
) -> Result<(), Error> {
    let mut lnr = 0;
    let mut buf = Vec::with_capacity(256);
    loop {
        match reader.next_line() {
            Ok(Some((l, _))) => {
                buf.clear();
                buf.extend_from_slice(l);
                buf.push(b'\n');
            }
            Ok(None) => return Ok(()),
            Err(e) => {
                out.flush()?;
                eprintln!("rnetstat: {}: {e}", path.display());
                return Ok(());
            }
        }
        do_one(lnr, &buf, st, numeric, lookup, out)?;
        lnr += 1;
    }
}

/// `netstat -g`: the group table of the families asked for (both when
/// none was named).
pub fn groups<L: Lookup, W: Write>(
    prog: &str,
    o: &Options,
    root: &Path,
    mut lookup: L,
    out: &mut W,
) -> Result<ExitStatus, Error> {
    out.write_all(b"IPv6/IPv4 Group Memberships\n")?;
    out.write_all(b"Interface       RefCnt Group\n")?;
    out.write_all(b"--------------- ------ ---------------------\n")?;
    let numeric = o.numeric_hosts;
    let mut st = State {
        idx_flag: false,
        igmp6_flag: false,
        device: [0; 16],
    };
    let mut status = ExitStatus::Success;
    if o.inet {
        let path = root.join("net/igmp");
        match LineReader::open(&path) {
            Ok(mut r) => each_line(&mut r, &path, &mut st, numeric, &mut lookup, out)?,
            // "No support", unless the protocols came from a family flag.
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::PermissionDenied) => {
                if !o.noprot {
                    out.flush()?;
                    eprintln!("{prog}: no support for `AF INET (igmp)' on this system.");
                    status = ExitStatus::Failure;
                }
            }
            Err(e) if rnet_core::procnet::refusal(&e).is_some() => {
                out.flush()?;
                eprintln!("rnetstat: {}: {e}", path.display());
            }
            Err(e) => return Err(Error::Open("/proc/net/igmp".into(), e)),
        }
    }
    if o.inet6 {
        let path = root.join("net/igmp6");
        match LineReader::open(&path) {
            Ok(mut r) => each_line(&mut r, &path, &mut st, numeric, &mut lookup, out)?,
            Err(e) if rnet_core::procnet::refusal(&e).is_some() => {
                out.flush()?;
                eprintln!("rnetstat: {}: {e}", path.display());
            }
            Err(_) => {}
        }
    }
    out.flush()?;
    Ok(status)
}
