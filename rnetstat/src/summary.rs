//! `--summary`: TCP sockets counted per state, each with what the state
//! means (`rnet_core::tcp_state::STATES`), as a table (comfy-table) for a
//! learner, or as JSON Lines with `--json`. Like `ss -s`, but per state.
//! Every TCP socket of this network namespace is counted (as with `-a`),
//! IPv4 and IPv6 unless `-4` or `-6` narrows it, and the filters apply.
//! The tables are counted over sock_diag where the listings would read it
//! (`listing::Source`), with the filters in the kernel.

use crate::cli::Options;
use crate::error::Error;
use crate::json;
use crate::listing::{
    classify_open, dump_error, kernel_filter, next_item, open_dump, Opened, Source,
};
use crate::render::push_u64;
use comfy_table::{presets, CellAlignment, Table};
use rnet_core::diag::{self, Query};
use rnet_core::procnet::{Family, InetReader, Proto};
use rnet_core::tcp_state::{TcpState, STATES};
use std::io::{IsTerminal, Write};
use std::path::Path;

/// Sockets per kernel state number (0 to 255).
pub struct Counts(pub [u64; 256]);

impl Counts {
    /// Total of every state.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }
}

/// Counts the TCP sockets of `root`'s tables that `o` selects.
pub fn count<W: Write>(prog: &str, o: &Options, root: &Path, out: &mut W) -> Result<Counts, Error> {
    let mut counts = Counts([0; 256]);
    let source = Source::from_env(root);
    // No family named: both, as netstat lists both.
    let any = !(o.inet || o.inet6);
    for (wanted, family) in [(o.inet, Family::V4), (o.inet6, Family::V6)] {
        if !(wanted || any) {
            continue;
        }
        let path = Proto::Tcp.path(root, family);
        if source != Source::Proc && diag::is_kernel_table(&path) {
            if let Some(()) = count_dump(prog, o, family, source, &mut counts, out)? {
                continue;
            }
        }
        let mut reader = match classify_open(prog, &path, InetReader::open(&path), out)? {
            Opened::Reader(r) => r,
            Opened::Missing | Opened::Skipped => continue,
        };
        while let Some(item) = next_item(prog, reader.next_entry(), &path, "tcp", out)? {
            let Some(e) = item else { continue };
            if o.filter.matches(&e) {
                counts.0[usize::from(e.state.code())] += 1;
            }
        }
    }
    Ok(counts)
}

/// Counts one family's TCP sockets over sock_diag (the state is exact for
/// every socket, listeners included: docs/architecture.md, "sock_diag"),
/// the filters run by the kernel; `None` when the dump could not start
/// and /proc is to be read.
fn count_dump<W: Write>(
    prog: &str,
    o: &Options,
    family: Family,
    source: Source,
    counts: &mut Counts,
    out: &mut W,
) -> Result<Option<()>, Error> {
    // Every socket is counted, as with -a: no listening clause.
    let all = Options {
        all: true,
        ..o.clone()
    };
    let Some(bytecode) = kernel_filter(&all, Proto::Tcp) else {
        return Ok(None);
    };
    let mut query = Query::all(Proto::Tcp, family);
    if o.filter.states != 0 {
        query.states = o.filter.states;
    }
    query.bytecode = bytecode;
    let Some(mut reader) = open_dump(prog, &query, source, out)? else {
        return Ok(None);
    };
    loop {
        match reader.next_entry() {
            Ok(Some(e)) => {
                if o.filter.matches(&e) {
                    counts.0[usize::from(e.state.code())] += 1;
                }
            }
            Ok(None) => break,
            Err(err) => {
                dump_error(prog, &query, &err, out)?;
                break;
            }
        }
    }
    Ok(Some(()))
}

/// The rows: every state of the table in kernel order (the request
/// sockets' NEW_SYN_RECV is shown by /proc as SYN_RECV, so it has no row
/// of its own), then any number the table does not know.
fn rows(c: &Counts) -> Vec<(String, u8, u64, &'static str)> {
    let mut v: Vec<(String, u8, u64, &'static str)> = STATES
        .iter()
        .filter(|s| s.state != TcpState::NewSynRecv)
        .map(|s| {
            (
                s.netstat.to_string(),
                s.code,
                c.0[usize::from(s.code)],
                s.explanation,
            )
        })
        .collect();
    for (code, n) in c.0.iter().enumerate() {
        let known = STATES
            .iter()
            .any(|s| usize::from(s.code) == code && s.state != TcpState::NewSynRecv);
        if *n > 0 && !known {
            v.push((
                format!("UNKNOWN ({code})"),
                code as u8,
                *n,
                "a state number this rnetstat does not know",
            ));
        }
    }
    v
}

/// The table, with UTF-8 box lines on a terminal and ASCII otherwise.
pub fn table(c: &Counts, utf8: bool) -> String {
    let mut t = Table::new();
    t.load_style(if utf8 {
        presets::UTF8_FULL_CONDENSED
    } else {
        presets::ASCII_FULL_CONDENSED
    });
    t.set_header(vec!["State", "Count", "What it means"]);
    for (name, _, n, what) in rows(c) {
        t.add_row(vec![name, n.to_string(), what.to_string()]);
    }
    t.add_row(vec![
        "all".to_string(),
        c.total().to_string(),
        "TCP sockets counted".to_string(),
    ]);
    if let Some(col) = t.column_mut(1) {
        col.set_cell_alignment(CellAlignment::Right);
    }
    let mut s = t.to_string();
    s.push('\n');
    s
}

/// The JSON Lines form: one object per row of the table.
pub fn json_lines(c: &Counts) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, code, n, what) in rows(c) {
        out.extend_from_slice(b"{\"state\":");
        json::push_str(&mut out, name.as_bytes());
        out.extend_from_slice(b",\"state_code\":");
        push_u64(&mut out, u64::from(code));
        out.extend_from_slice(b",\"count\":");
        push_u64(&mut out, n);
        out.extend_from_slice(b",\"explanation\":");
        json::push_str(&mut out, what.as_bytes());
        out.extend_from_slice(b"}\n");
    }
    out
}

/// `--summary`, once or (with `-c`) every second.
pub fn summary<W: Write>(prog: &str, o: &Options, root: &Path, out: &mut W) -> Result<(), Error> {
    loop {
        let c = count(prog, o, root, out)?;
        if o.json {
            out.write_all(&json_lines(&c))?;
        } else {
            out.write_all(table(&c, std::io::stdout().is_terminal()).as_bytes())?;
        }
        out.flush()?;
        if !o.continuous {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_rows_and_presets() {
        let mut c = Counts([0; 256]);
        c.0[10] = 2;
        c.0[1] = 3;
        c.0[0x0d] = 1;
        let ascii = table(&c, false);
        assert!(ascii.is_ascii(), "{ascii}");
        let lines: Vec<&str> = ascii.lines().collect();
        assert!(lines[1].starts_with("| State "), "{ascii}");
        assert!(
            lines.iter().any(|l| l.starts_with("| ESTABLISHED ")
                && l.contains("|     3 | connection open, data can flow both ways")),
            "{ascii}"
        );
        assert!(lines.iter().any(|l| l.contains("UNKNOWN (13)")), "{ascii}");
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("| all ") && l.contains(" 6 |")),
            "{ascii}"
        );
        // 11 states, the unknown one, the total, header: 14 text lines.
        assert_eq!(lines.iter().filter(|l| l.starts_with("| ")).count(), 14);
        let utf8 = table(&c, true);
        assert!(utf8.contains('│') && !utf8.is_ascii());
        let j = String::from_utf8(json_lines(&c)).unwrap();
        assert_eq!(j.lines().count(), 12);
        assert!(j.starts_with("{\"state\":\"ESTABLISHED\",\"state_code\":1,\"count\":3,\"explanation\":\"connection open, data can flow both ways\"}\n"), "{j}");
    }
}
