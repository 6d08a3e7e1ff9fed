//! `rnetstat --watch` in network namespaces (issue 12, "Must show"),
//! against the interface its help and man page document: the first line
//! (source), the header, one row per transition `OLD -> NEW` with `new`
//! and `gone`, retransmission rows, the ladder when both ends are in the
//! namespace, JSON Lines, the filters, and the tracefs instance removed on
//! every way out.
//!
//! Independent truth: the kernel's own tracepoint read through the test
//! kit's private tracefs instance (`rnet_testkit::tracefs::StateTrace`,
//! another instance than rnetstat's), the namespace's socket table
//! (`/proc/net/tcp`), and the packet counter of an iptables rule inside the
//! namespace.
//!
//! - Exercise 1 on two namespaces: each side's watch shows its own end's
//!   transitions, in order, SYN_RECV included, each one the oracle saw for
//!   that end, and no socket of the other namespace;
//! - `gone` (polling, unprivileged): the connection and the listener;
//! - Exercise 2: SYN_SENT with each resent SYN, as many as the OUTPUT
//!   rule's counter says minus the first; JSON says `refused_locally`;
//! - the ladder on loopback: header, both ends on every row, time order,
//!   plain text into a pipe;
//! - the polling fallback as `nobody` with every capability dropped;
//! - the tracefs instance is gone after SIGINT, SIGTERM and a closed stdout;
//! - JSON Lines, `--state`, `--sport`, `--dport`, `-6`, `--port` against a
//!   decoy connection on another port.
//!
//! Network rule: traffic only on loopback inside a namespace the test
//! makes, or on the veth between client 198.18.0.1 and server 198.18.0.2
//! (`rnet_testkit::netns::LabPair`); every iptables rule and sysctl is set
//! inside those namespaces and dies with them. Every test is bounded
//! (seconds; sysctls lowered in the namespace) and cleans up through Drop
//! guards: a watch gets SIGINT when its guard drops (so it removes its
//! tracefs instance) before the namespace is deleted. Needs root, `ip`,
//! `nc.openbsd` (and `iptables`, `setpriv`, `nsenter` where used);
//! otherwise each test prints why it is skipped, or fails with
//! `RNET_REQUIRE_LAB=1`. The binary under test is `$RNETSTAT_BIN`, else
//! `target/<profile>/rnetstat`.

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use rnet_testkit::netns::{LabPair, Netns, CLIENT_V4, SERVER_V4};
use rnet_testkit::process::wait_until;
use rnet_testkit::rules::SYN_DROP;
use rnet_testkit::running::{status_text, In, Out, Running};
use rnet_testkit::signals::{self, Signal};
use rnet_testkit::tracefs::{StateTrace, TRACEFS};
use rnet_testkit::{lab_or_skip, skip, strs, tool_under_test, DEFAULT_PATH};

/// Deadline of one step (a state to appear, a row to be printed).
const STEP: Duration = Duration::from_secs(5);

/// Line 1 in tracepoint mode, as the interface documents it.
const SOURCE_TRACEPOINT: &str = "Source: tracepoint sock:inet_sock_set_state (every change, \
     kernel timestamps); the socket table confirms this namespace's sockets and, every 1000 ms \
     while one is followed, the end of TIME_WAIT and of request sockets. Ctrl-C stops.";

/// Line 2 of the text output.
const HEADER: &str = "Time(ms)   Proto Local Address           Foreign Address         Transition";

/// The ladder's header, printed once before the first ladder row.
const LADDER_HEADER: &str = "Time(ms)   Proto Client                  Server                  \
     Client                    | Server";

/// The states as netstat spells them.
const STATES: &[&str] = &[
    "ESTABLISHED",
    "SYN_SENT",
    "SYN_RECV",
    "FIN_WAIT1",
    "FIN_WAIT2",
    "TIME_WAIT",
    "CLOSE",
    "CLOSE_WAIT",
    "LAST_ACK",
    "LISTEN",
    "CLOSING",
];

fn rnetstat() -> PathBuf {
    tool_under_test("rnetstat", "RNETSTAT_BIN")
}

/// A port for test `n` (0..16). The tracepoint is global across
/// namespaces, and rnetstat's in-kernel filter is on the port, so each
/// test (and each run of this file) uses a port of its own, below the
/// ephemeral range so that no other connection's local port collides.
fn port(n: u16) -> u16 {
    20000 + (std::process::id() % 750) as u16 * 16 + n
}

// ============================================================ the watch

/// `rnetstat --watch …` running with stdout captured; dropping it sends
/// SIGINT (so rnetstat removes its tracefs instance) and, if it is still
/// running after 3 s, the `Running` guard kills its process group.
struct Watch {
    run: Running,
}

impl Watch {
    /// `rnetstat --watch ARGS` inside `ns` (as root, through `ip netns
    /// exec`, with `LC_ALL=C` and a scrubbed environment).
    fn start(ns: &Netns, args: &[&str]) -> Watch {
        let bin = rnetstat();
        let mut full = vec!["--watch"];
        full.extend_from_slice(args);
        let run = Running::start(ns, &bin, &full, In::Null, Out::Captured);
        Watch { run }
    }

    /// The same as `nobody` with every capability dropped, through
    /// `setpriv` run inside the namespace.
    fn start_unprivileged(ns: &Netns, setpriv: &Path, args: &[&str]) -> Watch {
        let bin = rnetstat();
        let bin = bin.to_string_lossy().into_owned();
        let mut full = vec![
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            bin.as_str(),
            "--watch",
        ];
        full.extend_from_slice(args);
        let label = format!(
            "[{}] (nobody) rnetstat --watch {}",
            ns.name(),
            args.join(" ")
        );
        let run = Running::start(ns, setpriv, &full, In::Null, Out::Captured).labeled(&label);
        Watch { run }
    }

    fn pid(&self) -> u32 {
        self.run.pid()
    }

    /// Everything printed so far.
    fn out(&self) -> String {
        self.run.stdout()
    }

    /// The complete lines printed so far.
    fn lines(&self) -> Vec<String> {
        let out = self.out();
        let complete = match out.rfind('\n') {
            Some(i) => &out[..=i],
            None => "",
        };
        complete.lines().map(str::to_string).collect()
    }

    /// Waits until the output satisfies `pred`; panics (with everything
    /// it said) after `timeout` or when it exits first.
    fn wait_output(&mut self, what: &str, timeout: Duration, pred: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + timeout;
        loop {
            if pred(&self.out()) {
                return;
            }
            if Instant::now() >= deadline || !self.run.running() {
                thread::sleep(Duration::from_millis(50));
                if pred(&self.out()) {
                    return;
                }
                panic!(
                    "{what}: not printed within {timeout:?} (or before it exited); {}",
                    self.run.describe()
                );
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits up to `timeout` until the output satisfies `pred`; false if
    /// it does not (or the watch exited first).
    fn wait_output_soft(&mut self, timeout: Duration, pred: impl Fn(&str) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline && self.run.running() {
            if pred(&self.out()) {
                return true;
            }
            thread::sleep(Duration::from_millis(10));
        }
        pred(&self.out())
    }

    /// Waits for the first `n` lines (text: source and header; JSON: the
    /// source object), then a little longer: the tracepoint is enabled
    /// before line 1 is printed, but a test loses nothing by giving it
    /// 100 ms.
    fn wait_ready(&mut self, n: usize) -> Vec<String> {
        let pid = self.pid();
        self.wait_output(&format!("the first {n} line(s) of pid {pid}"), STEP, |o| {
            o.matches('\n').count() >= n
        });
        thread::sleep(Duration::from_millis(100));
        self.lines()
    }

    /// Sends `sig` and waits for the exit; the status, after the pipes
    /// are drained.
    fn stop(&mut self, sig: Signal) -> ExitStatus {
        self.run.signal(sig);
        let st = self.run.finish(STEP);
        self.run.drain(Duration::from_secs(2));
        st
    }

    /// Stops it with SIGINT and requires the documented exit (status 0,
    /// nothing on stderr); returns the output.
    fn finish(&mut self) -> String {
        let st = self.stop(Signal::Int);
        assert_eq!(
            st.code(),
            Some(0),
            "SIGINT must end the watch with status 0: {}",
            self.run.describe()
        );
        assert_eq!(self.run.stderr(), "", "{}", self.run.describe());
        self.out()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        if self.run.running() {
            let _ = signals::send(self.pid(), Signal::Int);
            let _ = self.run.wait_for(Duration::from_secs(3));
        }
    }
}

// ============================================================ text rows

/// A cell of a row.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Cell {
    /// `OLD -> NEW` (`new` and `gone` included).
    Trans(String, String),
    /// `STATE, WHAT resent #N`.
    Resent(String, String, u32),
    /// A ladder's other side: its current state, or `-`.
    State(String),
}

impl Cell {
    fn text(&self) -> String {
        match self {
            Cell::Trans(o, n) => format!("{o} -> {n}"),
            Cell::Resent(s, w, n) => format!("{s}, {w} resent #{n}"),
            Cell::State(s) => s.clone(),
        }
    }

    /// True for the cell of the side that changed.
    fn is_change(&self) -> bool {
        !matches!(self, Cell::State(_))
    }

    /// The states the row is about (`--state` keeps a row when one is
    /// listed).
    fn states(&self) -> Vec<&str> {
        match self {
            Cell::Trans(o, n) => vec![o, n],
            Cell::Resent(s, _, _) => vec![s],
            Cell::State(s) => vec![s],
        }
    }
}

fn is_state(s: &str) -> bool {
    STATES.contains(&s)
}

/// Parses a whole cell, strictly (nothing before or after).
fn parse_cell(s: &str) -> Option<Cell> {
    if let Some((old, new)) = s.split_once(" -> ") {
        let old_ok = old == "new" || is_state(old);
        let new_ok = new == "gone" || is_state(new);
        return (old_ok && new_ok).then(|| Cell::Trans(old.to_string(), new.to_string()));
    }
    if let Some((state, rest)) = s.split_once(", ") {
        let (what, n) = rest.split_once(" resent #")?;
        let n: u32 = n.parse().ok()?;
        let ok = is_state(state) && ["SYN", "SYN|ACK", "FIN", "data"].contains(&what) && n >= 1;
        return ok.then(|| Cell::Resent(state.to_string(), what.to_string(), n));
    }
    (s == "-" || is_state(s)).then(|| Cell::State(s.to_string()))
}

/// One row: plain, or a ladder row.
#[derive(Clone, Debug)]
struct Row {
    text: String,
    ms: f64,
    proto: String,
    /// Plain: local address; ladder: the client.
    a: String,
    /// Plain: foreign address; ladder: the server.
    b: String,
    /// Plain: the cell; ladder: the client's cell.
    cell: Cell,
    /// Ladder only: the server's cell.
    server_cell: Option<Cell>,
    /// Ladder only: `client` or `server` before the annotation.
    side: Option<String>,
    annotation: Option<String>,
}

impl Row {
    fn is_ladder(&self) -> bool {
        self.server_cell.is_some()
    }

    /// The cell of the side that changed.
    fn changed(&self) -> &Cell {
        match &self.server_cell {
            Some(s) if s.is_change() => s,
            _ => &self.cell,
        }
    }
}

/// The first `n` whitespace-separated words of `s`, and the rest after
/// the blanks that follow them.
fn words(s: &str, n: usize) -> Option<(Vec<&str>, &str)> {
    let mut out = Vec::new();
    let mut rest = s;
    for _ in 0..n {
        rest = rest.trim_start_matches(' ');
        let end = rest.find(' ').unwrap_or(rest.len());
        if end == 0 {
            return None;
        }
        out.push(&rest[..end]);
        rest = &rest[end..];
    }
    Some((out, rest.trim_start_matches(' ')))
}

/// The time column: a number with exactly three decimals.
fn parse_ms(s: &str) -> Option<f64> {
    let (_, frac) = s.split_once('.')?;
    (frac.len() == 3 && frac.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// Parses a row and checks it is laid out exactly as documented (it is
/// printed again from its parts and must come out the same).
fn parse_row(line: &str) -> Result<Row, String> {
    let (w, rest) = words(line, 4).ok_or_else(|| format!("not a row: {line:?}"))?;
    let ms = parse_ms(w[0]).ok_or_else(|| format!("bad time column in {line:?}"))?;
    let proto = w[1].to_string();
    if proto != "tcp" && proto != "tcp6" {
        return Err(format!("bad protocol in {line:?}"));
    }
    let head = format!("{:>10} {:<5} {:<23} {:<23} ", w[0], w[1], w[2], w[3]);
    // A ladder row: the client's cell padded to 25, then " | ".
    if let Some(i) = rest.find(" | ") {
        if let Some(client_cell) = parse_cell(rest[..i].trim_end()) {
            let right = &rest[i + 3..];
            let (sc, tail) = match right.split_once("  ") {
                Some((c, t)) => (c, Some(t)),
                None => (right, None),
            };
            let server_cell =
                parse_cell(sc).ok_or_else(|| format!("bad server cell in {line:?}"))?;
            let (side, annotation) = match tail {
                Some(t) => {
                    let (s, a) = t
                        .split_once(": ")
                        .ok_or_else(|| format!("no `side: ` before the annotation: {line:?}"))?;
                    (Some(s.to_string()), Some(a.to_string()))
                }
                None => (None, None),
            };
            let mut again = format!("{head}{:<25} | {}", client_cell.text(), server_cell.text());
            if let (Some(s), Some(a)) = (&side, &annotation) {
                again.push_str(&format!("  {s}: {a}"));
            }
            if again != line {
                return Err(format!(
                    "ladder row not laid out as documented:\n  got  {line:?}\n  want {again:?}"
                ));
            }
            return Ok(Row {
                text: line.to_string(),
                ms,
                proto,
                a: w[2].to_string(),
                b: w[3].to_string(),
                cell: client_cell,
                server_cell: Some(server_cell),
                side,
                annotation,
            });
        }
    }
    let (c, annotation) = match rest.split_once("  ") {
        Some((c, a)) => (c, Some(a.to_string())),
        None => (rest, None),
    };
    let cell = parse_cell(c)
        .filter(Cell::is_change)
        .ok_or_else(|| format!("bad cell {c:?} in {line:?}"))?;
    let mut again = format!("{head}{}", cell.text());
    if let Some(a) = &annotation {
        again.push_str(&format!("  {a}"));
    }
    if again != line {
        return Err(format!(
            "row not laid out as documented:\n  got  {line:?}\n  want {again:?}"
        ));
    }
    Ok(Row {
        text: line.to_string(),
        ms,
        proto,
        a: w[2].to_string(),
        b: w[3].to_string(),
        cell,
        server_cell: None,
        side: None,
        annotation,
    })
}

/// The rows of a text output (line 1 the source, line 2 the header, the
/// ladder header at most once); panics on any other line, on rows out of
/// time order, or on a ladder row before the ladder header.
fn text_rows(out: &str) -> Vec<Row> {
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.len() >= 2, "no source and header lines:\n{out}");
    assert!(lines[0].starts_with("Source: "), "line 1:\n{out}");
    assert_eq!(lines[1], HEADER, "line 2 (the header):\n{out}");
    let mut rows: Vec<Row> = Vec::new();
    let mut ladder_header = false;
    for l in &lines[2..] {
        if *l == LADDER_HEADER {
            assert!(!ladder_header, "the ladder header twice:\n{out}");
            ladder_header = true;
            continue;
        }
        let r = parse_row(l).unwrap_or_else(|e| panic!("{e}\nthe whole output:\n{out}"));
        assert!(
            !r.is_ladder() || ladder_header,
            "a ladder row before the ladder header: {l}\n{out}"
        );
        if let Some(prev) = rows.last() {
            assert!(
                r.ms >= prev.ms,
                "rows out of time order:\n{}\n{}\n{out}",
                prev.text,
                r.text
            );
        }
        rows.push(r);
    }
    rows
}

/// Every element of `want` (each a set of acceptable cells) in `have`, in
/// order; the error names the first one missing.
fn in_order(want: &[&[&str]], have: &[String]) -> Result<(), String> {
    let mut i = 0;
    for w in want {
        match have[i..].iter().position(|h| w.contains(&h.as_str())) {
            Some(j) => i += j + 1,
            None => {
                return Err(format!(
                    "{w:?} missing (in order) from {have:?}; wanted {want:?}"
                ))
            }
        }
    }
    Ok(())
}

/// The changed cells of `rows`, as text.
fn cells(rows: &[&Row]) -> Vec<String> {
    rows.iter().map(|r| r.changed().text()).collect()
}

/// One state change as the kernel wrote it in the oracle's `trace_pipe`.
#[derive(Clone, Debug)]
struct Change {
    ts_us: u64,
    /// The socket's own (local) address and port.
    local_ip: String,
    local_port: u16,
    /// The cell the watch shows for it: the move into TIME_WAIT is
    /// reported as FIN_WAIT2 -> CLOSE (the socket became a TIME_WAIT
    /// mini-socket) and shown as FIN_WAIT2 -> TIME_WAIT.
    cell: String,
}

/// The oracle's event lines parsed here, apart from the product: the test
/// kit's `StateTrace` now reads them through `rnet_core::trace`, the
/// parser rnetstat uses, so the fields are taken from the kernel's text
/// once more by this independent code. In the kernel's time order.
fn kernel_changes(text: &str) -> Vec<Change> {
    let mut v: Vec<Change> = text
        .lines()
        .filter_map(|l| {
            let (head, body) = l.split_once(" inet_sock_set_state: ")?;
            let (secs, frac) = head
                .split_whitespace()
                .last()?
                .trim_end_matches(':')
                .split_once('.')?;
            let frac = format!("{frac:0<6}");
            let ts_us = secs.parse::<u64>().ok()? * 1_000_000 + frac[..6].parse::<u64>().ok()?;
            let f: BTreeMap<&str, &str> = body
                .split_whitespace()
                .filter_map(|kv| kv.split_once('='))
                .collect();
            let v6 = *f.get("family")? == "AF_INET6";
            let local_ip = if v6 {
                f.get("saddrv6")?
            } else {
                f.get("saddr")?
            };
            let old = f.get("oldstate")?.strip_prefix("TCP_")?;
            let new = f.get("newstate")?.strip_prefix("TCP_")?;
            let cell = if old == "FIN_WAIT2" && new == "CLOSE" {
                "FIN_WAIT2 -> TIME_WAIT".to_string()
            } else {
                format!("{old} -> {new}")
            };
            Some(Change {
                ts_us,
                local_ip: local_ip.to_string(),
                local_port: f.get("sport")?.parse().ok()?,
                cell,
            })
        })
        .collect();
    v.sort_by_key(|c| c.ts_us);
    v
}

// ================================================================= JSON

/// A JSON value (enough of RFC 8259 to validate rnetstat's lines).
#[derive(Clone, Debug, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(kv) => kv.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn str(&self, key: &str) -> Option<&str> {
        match self.get(key) {
            Some(Json::Str(s)) => Some(s),
            _ => None,
        }
    }

    fn num(&self, key: &str) -> Option<f64> {
        match self.get(key) {
            Some(Json::Num(n)) => Some(*n),
            _ => None,
        }
    }

    fn keys(&self) -> Vec<&str> {
        match self {
            Json::Obj(kv) => kv.iter().map(|(k, _)| k.as_str()).collect(),
            _ => Vec::new(),
        }
    }
}

struct JsonParser<'a> {
    s: &'a [u8],
    i: usize,
}

impl JsonParser<'_> {
    fn err<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("{what} at byte {}", self.i))
    }

    fn ws(&mut self) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn eat(&mut self, lit: &str) -> bool {
        if self.s[self.i..].starts_with(lit.as_bytes()) {
            self.i += lit.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self) -> Result<Json, String> {
        self.ws();
        let Some(&c) = self.s.get(self.i) else {
            return self.err("value expected");
        };
        let v = match c {
            b'{' => self.object()?,
            b'[' => self.array()?,
            b'"' => Json::Str(self.string()?),
            b't' if self.eat("true") => Json::Bool(true),
            b'f' if self.eat("false") => Json::Bool(false),
            b'n' if self.eat("null") => Json::Null,
            b'-' | b'0'..=b'9' => self.number()?,
            _ => return self.err("unexpected character"),
        };
        self.ws();
        Ok(v)
    }

    fn object(&mut self) -> Result<Json, String> {
        self.i += 1;
        let mut kv: Vec<(String, Json)> = Vec::new();
        self.ws();
        if self.eat("}") {
            return Ok(Json::Obj(kv));
        }
        loop {
            self.ws();
            if self.s.get(self.i) != Some(&b'"') {
                return self.err("key expected");
            }
            let k = self.string()?;
            if kv.iter().any(|(o, _)| *o == k) {
                return self.err(&format!("duplicate key {k:?}"));
            }
            self.ws();
            if !self.eat(":") {
                return self.err("':' expected");
            }
            let v = self.value()?;
            kv.push((k, v));
            if self.eat(",") {
                continue;
            }
            if self.eat("}") {
                return Ok(Json::Obj(kv));
            }
            return self.err("',' or '}' expected");
        }
    }

    fn array(&mut self) -> Result<Json, String> {
        self.i += 1;
        let mut v = Vec::new();
        self.ws();
        if self.eat("]") {
            return Ok(Json::Arr(v));
        }
        loop {
            v.push(self.value()?);
            if self.eat(",") {
                continue;
            }
            if self.eat("]") {
                return Ok(Json::Arr(v));
            }
            return self.err("',' or ']' expected");
        }
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let h = self
            .s
            .get(self.i..self.i + 4)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u32::from_str_radix(h, 16).ok());
        match h {
            Some(v) => {
                self.i += 4;
                Ok(v)
            }
            None => self.err("bad \\u escape"),
        }
    }

    fn string(&mut self) -> Result<String, String> {
        self.i += 1;
        let mut out = String::new();
        loop {
            let Some(&c) = self.s.get(self.i) else {
                return self.err("unterminated string");
            };
            self.i += 1;
            match c {
                b'"' => return Ok(out),
                b'\\' => {
                    let Some(&e) = self.s.get(self.i) else {
                        return self.err("unterminated escape");
                    };
                    self.i += 1;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let mut cp = self.hex4()?;
                            if (0xD800..0xDC00).contains(&cp) {
                                if !self.eat("\\u") {
                                    return self.err("lone high surrogate");
                                }
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return self.err("bad low surrogate");
                                }
                                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                            }
                            match char::from_u32(cp) {
                                Some(ch) => out.push(ch),
                                None => return self.err("bad code point"),
                            }
                        }
                        _ => return self.err("bad escape"),
                    }
                }
                0x00..=0x1f => return self.err("control character in string"),
                _ => {
                    // Copy the whole UTF-8 sequence.
                    let start = self.i - 1;
                    let len = match c {
                        0x00..=0x7f => 1,
                        0xc0..=0xdf => 2,
                        0xe0..=0xef => 3,
                        _ => 4,
                    };
                    let Some(seq) = self
                        .s
                        .get(start..start + len)
                        .and_then(|b| std::str::from_utf8(b).ok())
                    else {
                        return self.err("invalid UTF-8");
                    };
                    out.push_str(seq);
                    self.i = start + len;
                }
            }
        }
    }

    fn number(&mut self) -> Result<Json, String> {
        let start = self.i;
        self.eat("-");
        let digits = |p: &mut Self| {
            let s = p.i;
            while p.i < p.s.len() && p.s[p.i].is_ascii_digit() {
                p.i += 1;
            }
            p.i - s
        };
        if self.eat("0") {
            if self.i < self.s.len() && self.s[self.i].is_ascii_digit() {
                return self.err("leading zero");
            }
        } else if digits(self) == 0 {
            return self.err("digits expected");
        }
        if self.eat(".") && digits(self) == 0 {
            return self.err("digits expected after '.'");
        }
        if self.eat("e") || self.eat("E") {
            if !self.eat("+") {
                self.eat("-");
            }
            if digits(self) == 0 {
                return self.err("exponent digits expected");
            }
        }
        let text = std::str::from_utf8(&self.s[start..self.i]).map_err(|e| e.to_string())?;
        text.parse()
            .map(Json::Num)
            .map_err(|e| format!("{text}: {e}"))
    }
}

/// Parses one whole line as one JSON value.
fn parse_json(line: &str) -> Result<Json, String> {
    let mut p = JsonParser {
        s: line.as_bytes(),
        i: 0,
    };
    let v = p.value()?;
    if p.i != p.s.len() {
        return p.err("trailing characters after the value");
    }
    Ok(v)
}

/// The fields of a transition object, in the documented order.
const TRANSITION_KEYS: &[&str] = &[
    "type",
    "time_ms",
    "proto",
    "local_address",
    "local_port",
    "foreign_address",
    "foreign_port",
    "old",
    "new",
    "role",
    "peer_state",
    "annotation",
];

/// The fields of a retransmission object.
const RETRANSMIT_KEYS: &[&str] = &[
    "type",
    "time_ms",
    "proto",
    "local_address",
    "local_port",
    "foreign_address",
    "foreign_port",
    "state",
    "what",
    "count",
    "refused_locally",
    "role",
    "annotation",
];

fn is_port(v: Option<f64>) -> bool {
    v.is_some_and(|p| p.fract() == 0.0 && (0.0..=65535.0).contains(&p))
}

/// Checks one event object against the documented fields and types
/// (annotation present: explanations are on by default).
fn check_event(o: &Json) -> Result<(), String> {
    let ty = o.str("type").ok_or("no \"type\"")?;
    let want: &[&str] = match ty {
        "transition" => TRANSITION_KEYS,
        "retransmit" => RETRANSMIT_KEYS,
        other => return Err(format!("unknown type {other:?}")),
    };
    let mut have = o.keys();
    have.sort_unstable();
    let mut w = want.to_vec();
    w.sort_unstable();
    if have != w {
        return Err(format!("fields {have:?}, documented {w:?}"));
    }
    if !o.num("time_ms").is_some_and(|t| t >= 0.0) {
        return Err("time_ms is not a number >= 0".into());
    }
    if !matches!(o.str("proto"), Some("tcp" | "tcp6")) {
        return Err("proto is not tcp or tcp6".into());
    }
    for k in ["local_address", "foreign_address"] {
        if o.str(k).and_then(|a| a.parse::<IpAddr>().ok()).is_none() {
            return Err(format!("{k} is not a numeric address"));
        }
    }
    for k in ["local_port", "foreign_port"] {
        if !is_port(o.num(k)) {
            return Err(format!("{k} is not a port number"));
        }
    }
    if !matches!(
        o.str("role"),
        Some("client" | "server" | "listener" | "unknown")
    ) {
        return Err("role is not client, server, listener or unknown".into());
    }
    if o.str("annotation").is_none_or(|a| a.trim().is_empty()) {
        return Err("no annotation".into());
    }
    if ty == "transition" {
        let old = o.str("old").unwrap_or("");
        let new = o.str("new").unwrap_or("");
        if !(old == "new" || is_state(old)) || !(new == "gone" || is_state(new)) {
            return Err(format!("bad old/new {old:?} -> {new:?}"));
        }
        match o.get("peer_state") {
            Some(Json::Null) => {}
            Some(Json::Str(s)) if is_state(s) || s == "new" || s == "gone" || s == "-" => {}
            _ => return Err("peer_state is neither a state nor null".into()),
        }
    } else {
        if !o.str("state").is_some_and(is_state) {
            return Err("bad state".into());
        }
        if !matches!(o.str("what"), Some("SYN" | "SYN|ACK" | "FIN" | "data")) {
            return Err("bad what".into());
        }
        if !o.num("count").is_some_and(|c| c >= 1.0 && c.fract() == 0.0) {
            return Err("count is not a whole number >= 1".into());
        }
        if !matches!(o.get("refused_locally"), Some(Json::Bool(_))) {
            return Err("refused_locally is not a boolean".into());
        }
    }
    Ok(())
}

/// The objects of a JSON Lines output: the source object first, then
/// events, each checked, in time order. Panics on any bad line.
fn json_lines(out: &str) -> (Json, Vec<Json>) {
    let mut objs = Vec::new();
    for (n, l) in out.lines().enumerate() {
        let v = parse_json(l)
            .unwrap_or_else(|e| panic!("line {} is not one JSON value ({e}): {l}\n{out}", n + 1));
        assert!(
            matches!(v, Json::Obj(_)),
            "line {} is not an object: {l}",
            n + 1
        );
        objs.push(v);
    }
    assert!(!objs.is_empty(), "no output");
    let source = objs.remove(0);
    let mut keys = source.keys();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["interval_ms", "note", "source", "type"],
        "the source object: {out}"
    );
    assert_eq!(source.str("type"), Some("source"), "{out}");
    let mut last = 0.0;
    for o in &objs {
        check_event(o).unwrap_or_else(|e| panic!("{e}: {o:?}\n{out}"));
        let t = o.num("time_ms").unwrap_or(0.0);
        assert!(t >= last, "events out of time order at {o:?}\n{out}");
        last = t;
    }
    (source, objs)
}

/// `OLD -> NEW` of a transition object (`None` for a retransmission).
fn json_cell(o: &Json) -> Option<String> {
    (o.str("type") == Some("transition")).then(|| {
        format!(
            "{} -> {}",
            o.str("old").unwrap_or(""),
            o.str("new").unwrap_or("")
        )
    })
}

fn num_is(o: &Json, key: &str, v: u16) -> bool {
    o.num(key) == Some(f64::from(v))
}

// ============================================================== helpers

/// The kernel's own record of the states on `port` (a private instance of
/// the test kit), or `None` after a skip note where tracefs cannot be
/// used: then rnetstat's tracepoint mode cannot be tested either. While
/// it lives, tracefs stays mounted at /sys/kernel/tracing.
fn oracle_or_skip(test: &str, port: u16) -> Option<StateTrace> {
    match StateTrace::start(test, &format!("sport == {port} || dport == {port}")) {
        Ok(t) => Some(t),
        Err(e) => {
            skip(
                test,
                &format!("no tracefs here, so no tracepoint mode to test: {e}"),
            );
            None
        }
    }
}

/// Waits until `r` (a program with captured stdout) printed `text`.
fn wait_stdout(r: &Running, text: &str) {
    let label = r.label().to_string();
    wait_until(&format!("{label} to print {text:?}"), STEP, || {
        r.stdout().contains(text)
    })
    .unwrap_or_else(|e| panic!("{e}"));
}

/// The IP part of `host:port` (IPv6 addresses are written bare, as
/// netstat does: the port is after the last colon).
fn host_of(addr: &str) -> &str {
    addr.rsplit_once(':').map_or(addr, |(h, _)| h)
}

// ================================================================ tests

/// The helpers against the interface's own examples (runs anywhere).
#[test]
fn parsers_accept_the_documented_forms() {
    let r = parse_row(
        "    12.345 tcp   198.18.0.1:41234        198.18.0.2:5555         \
         SYN_SENT -> ESTABLISHED  The SYN|ACK came back.",
    )
    .unwrap();
    assert_eq!(r.cell, Cell::Trans("SYN_SENT".into(), "ESTABLISHED".into()));
    assert_eq!((r.ms, r.a.as_str()), (12.345, "198.18.0.1:41234"));
    assert_eq!(r.annotation.as_deref(), Some("The SYN|ACK came back."));
    let r = parse_row(
        "  1000.000 tcp   198.18.0.1:41234        198.18.0.2:5555         SYN_SENT, SYN resent #2",
    )
    .unwrap();
    assert_eq!(r.cell, Cell::Resent("SYN_SENT".into(), "SYN".into(), 2));
    let l = parse_row(
        "     3.000 tcp   127.0.0.1:41234         127.0.0.1:5555          \
         SYN_SENT                  | LISTEN -> SYN_RECV  server: A child socket.",
    )
    .unwrap();
    assert!(l.is_ladder());
    assert_eq!(l.changed().text(), "LISTEN -> SYN_RECV");
    assert_eq!(l.side.as_deref(), Some("server"));
    // Misaligned columns, unknown states, a missing third decimal.
    assert!(parse_row("12.345 tcp 1.2.3.4:1 1.2.3.4:2 SYN_SENT -> ESTABLISHED").is_err());
    assert!(parse_row(
        "    12.345 tcp   198.18.0.1:41234        198.18.0.2:5555         SYN_SENT -> OPEN"
    )
    .is_err());
    assert!(parse_row(
        "    12.34  tcp   198.18.0.1:41234        198.18.0.2:5555         SYN_SENT -> CLOSE"
    )
    .is_err());
    assert_eq!(host_of("2001:db8::1:5555"), "2001:db8::1");
    assert_eq!(
        in_order(
            &[&["A"], &["C", "X"]],
            &["A".into(), "B".into(), "C".into()]
        ),
        Ok(())
    );
    assert!(in_order(&[&["C"], &["A"]], &["A".into(), "C".into()]).is_err());

    let t = parse_json(
        r#"{"type":"transition","time_ms":12.345,"proto":"tcp","local_address":"127.0.0.1","local_port":41234,"foreign_address":"127.0.0.1","foreign_port":5555,"old":"SYN_SENT","new":"ESTABLISHED","role":"client","peer_state":"SYN_RECV","annotation":"a \"quoted\" \u00e9 \ud83d\ude00"}"#,
    )
    .unwrap();
    check_event(&t).unwrap();
    assert_eq!(t.str("annotation"), Some("a \"quoted\" é 😀"));
    let x = parse_json(
        r#"{"type":"retransmit","time_ms":1000.5,"proto":"tcp6","local_address":"::1","local_port":1,"foreign_address":"::1","foreign_port":2,"state":"SYN_SENT","what":"SYN","count":2,"refused_locally":true,"role":"client","annotation":"x"}"#,
    )
    .unwrap();
    check_event(&x).unwrap();
    for bad in [
        r#"{"a":1,"a":2}"#,
        r#"{"a":01}"#,
        r#"{"a":"x"} x"#,
        r#"{"a":"\x"}"#,
        "{\"a\":\"\u{1}\"}",
        r#"{"a":[1,]}"#,
        r#"{"a":1.}"#,
    ] {
        assert!(parse_json(bad).is_err(), "{bad}");
    }
    assert_eq!(
        parse_json(r#" [1.5e2, -0, true, null, {}] "#),
        Ok(Json::Arr(vec![
            Json::Num(150.0),
            Json::Num(-0.0),
            Json::Bool(true),
            Json::Null,
            Json::Obj(vec![])
        ]))
    );
}

/// Exercise 1 on two namespaces, a watch in each: the server's `nc -l`,
/// the client's `nc`, a line of data, Ctrl-C on the server (it closes
/// first), then the client's stdin closed. Each watch shows its own end's
/// transitions in order (SYN_RECV included), every one the kernel's
/// tracepoint (the test kit's own instance) reported for that end, and
/// nothing of the other namespace although the tracepoint is global.
/// The server's socket is orphaned (nc has exited) when the ACK of its FIN
/// comes: the kernel then reports FIN_WAIT2 -> CLOSE at once (a timewait
/// mini-socket in FIN_WAIT2), and TIME_WAIT comes later, with the
/// client's FIN, without any event; the watch must show what the table
/// shows: FIN_WAIT2 -> TIME_WAIT, and never CLOSE. (TIME_WAIT lasts 60 s,
/// so `gone` is not awaited here.)
#[test]
fn exercise1_each_end_sees_its_transitions_in_order() {
    const T: &str = "exercise1_each_end_sees_its_transitions_in_order";
    let Some(env) = lab_or_skip(T, &["nc.openbsd"]) else {
        return;
    };
    let pair = LabPair::new(&env.ip, "wex1").unwrap_or_else(|e| panic!("{e}"));
    let p = port(0);
    let ps = p.to_string();
    let Some(oracle) = oracle_or_skip(T, p) else {
        return;
    };
    let mut wc = Watch::start(&pair.client, &["-n", "--port", &ps]);
    let mut ws = Watch::start(&pair.server, &["-n", "--port", &ps]);
    for w in [&mut wc, &mut ws] {
        let l = w.wait_ready(2);
        assert_eq!(l[0], SOURCE_TRACEPOINT, "line 1 as root");
    }
    let nc = env.program("nc.openbsd");
    let mut server = Running::start(&pair.server, nc, &["-l", &ps], In::Held, Out::Captured);
    pair.server
        .wait_tcp_state(p, 0x0A, STEP, "the server's LISTEN")
        .unwrap_or_else(|e| panic!("{e}"));
    let mut client = Running::start(&pair.client, nc, &[SERVER_V4, &ps], In::Held, Out::Captured);
    pair.server
        .wait_tcp_state(p, 0x01, STEP, "the server's ESTABLISHED")
        .unwrap_or_else(|e| panic!("{e}"));
    client.type_bytes(b"hello\n");
    wait_stdout(&server, "hello");
    // Ctrl-C on the server: it closes first.
    server.signal(Signal::Int);
    server.finish(STEP);
    // Its socket, orphaned, waits in FIN_WAIT2 for the client's FIN. The
    // kernel made it a timewait mini-socket (substate FIN_WAIT2) when its
    // FIN was acknowledged, and its event then said FIN_WAIT2 -> CLOSE;
    // the table shows FIN_WAIT2, then TIME_WAIT once the client closes
    // (no event for that). (Not seen if the client's nc ends at the FIN
    // by itself: then FIN_WAIT2 may be too short for this polling.)
    let fin_wait2_in_table = pair
        .server
        .wait_tcp_state(p, 0x05, Duration::from_secs(1), "the server's FIN_WAIT2")
        .is_ok();
    // The client is in CLOSE_WAIT until its stdin closes (nc may also end
    // by itself at the server's FIN).
    wait_until("the client's CLOSE_WAIT (or its exit)", STEP, || {
        !client.running()
            || pair
                .client
                .proc_rows(&["tcp"])
                .is_ok_and(|r| r.iter().any(|r| r.state == 0x08 && r.remote_port == p))
    })
    .unwrap_or_else(|e| panic!("{e}"));
    client.close_stdin();
    if client.wait_for(STEP).is_none() {
        client.signal(Signal::Int);
        client.finish(STEP);
    }
    pair.server
        .wait_tcp_state(p, 0x06, STEP, "the server's TIME_WAIT")
        .unwrap_or_else(|e| panic!("{e}"));
    oracle
        .wait_for(STEP, |e| e.old == "LAST_ACK" && e.new == "CLOSE")
        .unwrap_or_else(|| panic!("the oracle saw no LAST_ACK -> CLOSE:\n{}", oracle.text()));
    // Not fatal here: the assertions below say what is missing.
    ws.wait_output_soft(STEP, |o| o.contains("FIN_WAIT2 -> TIME_WAIT"));
    wc.wait_output("the client's LAST_ACK -> CLOSE", STEP, |o| {
        o.contains("LAST_ACK -> CLOSE")
    });
    // Rows that come late (a table read) have their chance.
    thread::sleep(Duration::from_millis(300));
    let out_c = wc.finish();
    let out_s = ws.finish();
    let ctx = format!(
        "client's watch:\n{out_c}\nserver's watch:\n{out_s}\nthe kernel's tracepoint:\n{}\n\
         the server's table showed its socket in FIN_WAIT2: {fin_wait2_in_table}, then TIME_WAIT",
        oracle.text()
    );
    let rows_c = text_rows(&out_c);
    let rows_s = text_rows(&out_s);

    // The peer is in another namespace: no ladder, plain rows only, each
    // with its annotation (on by default).
    for r in rows_c.iter().chain(&rows_s) {
        assert_eq!(r.proto, "tcp", "{}\n{ctx}", r.text);
        assert!(
            !r.is_ladder(),
            "a ladder row across namespaces: {}\n{ctx}",
            r.text
        );
        assert!(
            r.annotation
                .as_deref()
                .is_some_and(|a| !a.trim().is_empty()),
            "no annotation: {}\n{ctx}",
            r.text
        );
    }
    // Namespace matching: the tracepoint is global, each watch shows only
    // its own namespace's end.
    for r in &rows_c {
        assert_eq!(
            host_of(&r.a),
            CLIENT_V4,
            "the client's watch shows a socket that is not the client's: {}\n{ctx}",
            r.text
        );
        assert!(
            !r.changed().states().contains(&"LISTEN"),
            "the client's watch shows the server's listener: {}\n{ctx}",
            r.text
        );
    }
    for r in &rows_s {
        assert!(
            host_of(&r.a) == SERVER_V4 || (host_of(&r.a) == "0.0.0.0" && r.b == "0.0.0.0:*"),
            "the server's watch shows a socket that is not the server's: {}\n{ctx}",
            r.text
        );
        assert!(
            !r.changed().states().contains(&"SYN_SENT"),
            "the server's watch shows the client's SYN_SENT: {}\n{ctx}",
            r.text
        );
    }
    for r in rows_s.iter().filter(|r| r.b == "0.0.0.0:*") {
        assert_eq!(
            r.a,
            format!("0.0.0.0:{p}"),
            "the listener's row: {}",
            r.text
        );
    }
    let all_c: Vec<&Row> = rows_c.iter().collect();
    let all_s: Vec<&Row> = rows_s.iter().collect();
    let (have_c, have_s) = (cells(&all_c), cells(&all_s));
    // The client: its SYN, then the close of the side that closed second.
    in_order(
        &[
            &["CLOSE -> SYN_SENT"],
            &["SYN_SENT -> ESTABLISHED"],
            &["ESTABLISHED -> CLOSE_WAIT"],
            &["CLOSE_WAIT -> LAST_ACK"],
            &["LAST_ACK -> CLOSE"],
        ],
        &have_c,
    )
    .unwrap_or_else(|e| panic!("the client's watch: {e}\n{ctx}"));

    // The server's socket never closed: the kernel's FIN_WAIT2 -> CLOSE
    // was it becoming a timewait mini-socket, which the table showed in
    // FIN_WAIT2 and then TIME_WAIT.
    for r in &rows_s {
        assert!(
            r.changed().text() != "FIN_WAIT2 -> CLOSE",
            "the server's watch says its socket closed, but the table kept it (FIN_WAIT2, \
             then TIME_WAIT): {}\n{ctx}",
            r.text
        );
    }
    // The server: its listener, the connection's child socket (SYN_RECV:
    // the kernel's LISTEN -> SYN_RECV, or the request socket the table
    // showed), the close of the side that closed first.
    in_order(
        &[
            &["CLOSE -> LISTEN"],
            &["LISTEN -> SYN_RECV", "new -> SYN_RECV"],
            &["SYN_RECV -> ESTABLISHED"],
            &["ESTABLISHED -> FIN_WAIT1"],
            &["FIN_WAIT1 -> FIN_WAIT2"],
            &["FIN_WAIT2 -> TIME_WAIT"],
        ],
        &have_s,
    )
    .unwrap_or_else(|e| panic!("the server's watch: {e}\n{ctx}"));
    // The orphaned FIN_WAIT2 (the table showed it after nc had exited),
    // as man/rnetstat.8 words it: FIN_WAIT2 -> FIN_WAIT2 when the kernel
    // says CLOSE, then FIN_WAIT2 -> TIME_WAIT at the client's FIN.
    if fin_wait2_in_table {
        in_order(
            &[
                &["FIN_WAIT1 -> FIN_WAIT2"],
                &["FIN_WAIT2 -> FIN_WAIT2"],
                &["FIN_WAIT2 -> TIME_WAIT"],
            ],
            &have_s,
        )
        .unwrap_or_else(|e| panic!("the server's orphaned FIN_WAIT2: {e}\n{ctx}"));
    }
    in_order(&[&["CLOSE -> LISTEN"], &["LISTEN -> CLOSE"]], &have_s)
        .unwrap_or_else(|e| panic!("the server's listener: {e}\n{ctx}"));
    // The oracle: every transition the kernel reported for each end (by
    // its local address; the listener's is 0.0.0.0:P), in the same order.
    let changes = kernel_changes(&oracle.text());
    let server_end =
        |c: &Change| c.local_ip == SERVER_V4 || (c.local_ip == "0.0.0.0" && c.local_port == p);
    let client_end = |c: &Change| c.local_ip == CLIENT_V4;
    for (who, have, mine) in [
        ("client", &have_c, &client_end as &dyn Fn(&Change) -> bool),
        ("server", &have_s, &server_end),
    ] {
        let want: Vec<&str> = changes
            .iter()
            .filter(|c| mine(c))
            .map(|c| c.cell.as_str())
            .collect();
        assert!(
            want.len() >= 5,
            "the oracle saw too little of the {who}:\n{ctx}"
        );
        let want_sets: Vec<[&str; 1]> = want.iter().map(|w| [*w]).collect();
        let want_refs: Vec<&[&str]> = want_sets.iter().map(|w| w.as_slice()).collect();
        in_order(&want_refs, have)
            .unwrap_or_else(|e| panic!("the {who}'s watch against the kernel: {e}\n{ctx}"));
    }
    eprintln!(
        "{T}: client {have_c:?}; server {have_s:?}; kernel: {} events",
        changes.len()
    );
}

/// `gone`. TIME_WAIT lasts 60 s on Linux (TCP_TIMEWAIT_LEN, no sysctl
/// shortens it), more than this file's budget, so `TIME_WAIT -> gone` is
/// the ignored test below; here `gone` is checked with polling (as
/// `nobody`, so that rnetstat cannot use the tracepoint) on sockets that
/// go at once: the server's end of a connection the client closes first
/// (the server's `nc -l` then ends: CLOSE_WAIT, LAST_ACK, closed) and the
/// listener. JSON here, with `--interval 10`: each socket's objects form
/// one chain from `new` to `gone` (each `old` is the previous `new`).
#[test]
fn polling_shows_gone_for_the_connection_and_the_listener() {
    const T: &str = "polling_shows_gone_for_the_connection_and_the_listener";
    let Some(env) = lab_or_skip(T, &["nc.openbsd", "setpriv"]) else {
        return;
    };
    let pair = LabPair::new(&env.ip, "wgone").unwrap_or_else(|e| panic!("{e}"));
    let p = port(1);
    let ps = p.to_string();
    let mut w = Watch::start_unprivileged(
        &pair.server,
        env.program("setpriv"),
        &["-n", "--json", "--interval", "10", "--port", &ps],
    );
    w.wait_ready(1);
    let nc = env.program("nc.openbsd");
    let mut server = Running::start(&pair.server, nc, &["-l", &ps], In::Held, Out::Captured);
    pair.server
        .wait_tcp_state(p, 0x0A, STEP, "the server's LISTEN")
        .unwrap_or_else(|e| panic!("{e}"));
    let mut client = Running::start(&pair.client, nc, &[SERVER_V4, &ps], In::Held, Out::Captured);
    client.type_bytes(b"hello\n");
    wait_stdout(&server, "hello");
    // Let polling see the established connection.
    thread::sleep(Duration::from_millis(100));
    client.signal(Signal::Int);
    client.finish(STEP);
    server.finish(STEP);
    w.wait_output("the listener's LISTEN -> gone", STEP, |o| {
        o.lines()
            .any(|l| l.contains(r#""old":"LISTEN""#) && l.contains(r#""new":"gone""#))
    });
    w.wait_output("the connection's -> gone", STEP, |o| {
        o.lines().filter(|l| l.contains(r#""new":"gone""#)).count() >= 2
    });
    let out = w.finish();
    let (source, objs) = json_lines(&out);
    assert_eq!(source.str("source"), Some("polling"), "{out}");
    assert_eq!(source.num("interval_ms"), Some(10.0), "{out}");
    let note = source.str("note").unwrap_or("");
    assert!(
        note.starts_with(
            "Source: polling the socket table over sock_diag every 10 ms (tracepoint unavailable: "
        ) && note.contains("it can miss a state that lasts less than 10 ms"),
        "the note: {note}"
    );
    // Per socket (the 4-tuple), its chain of states.
    let mut chains: BTreeMap<String, Vec<&Json>> = BTreeMap::new();
    for o in &objs {
        assert_eq!(o.str("type"), Some("transition"), "{out}");
        let key = format!(
            "{}:{} {}:{}",
            o.str("local_address").unwrap_or(""),
            o.num("local_port").unwrap_or(0.0),
            o.str("foreign_address").unwrap_or(""),
            o.num("foreign_port").unwrap_or(0.0)
        );
        chains.entry(key).or_default().push(o);
    }
    for (k, c) in &chains {
        assert_eq!(
            c[0].str("old"),
            Some("new"),
            "{k} starts without `new`:\n{out}"
        );
        for pair in c.windows(2) {
            assert_eq!(
                pair[0].str("new"),
                pair[1].str("old"),
                "{k}: a state left that was not entered:\n{out}"
            );
        }
        assert_eq!(c.last().unwrap().str("new"), Some("gone"), "{k}:\n{out}");
    }
    let listener = chains
        .iter()
        .find(|(_, c)| c[0].str("new") == Some("LISTEN"))
        .unwrap_or_else(|| panic!("no `new -> LISTEN`:\n{out}"));
    assert_eq!(
        listener.1.len(),
        2,
        "the listener: new -> LISTEN -> gone:\n{out}"
    );
    assert!(
        listener.1.iter().all(|o| o.str("role") == Some("listener")),
        "the listener's role:\n{out}"
    );
    let conn = chains
        .iter()
        .find(|(_, c)| {
            num_is(c[0], "local_port", p) && c[0].str("foreign_address") == Some(CLIENT_V4)
        })
        .unwrap_or_else(|| panic!("no row of the server's end of the connection:\n{out}"));
    let states: Vec<&str> = conn.1.iter().filter_map(|o| o.str("new")).collect();
    assert!(
        states.contains(&"ESTABLISHED"),
        "polling every 10 ms for 100 ms never saw it ESTABLISHED: {states:?}\n{out}"
    );
    assert!(
        conn.1.iter().any(|o| o.str("role") == Some("server")),
        "the server's end never has role server:\n{out}"
    );
    assert!(
        conn.1
            .iter()
            .all(|o| o.get("peer_state") == Some(&Json::Null)),
        "the client is in another namespace: peer_state must be null:\n{out}"
    );
    eprintln!("{T}: {states:?}");
}

/// TIME_WAIT -> gone with the tracepoint: 60 s of TIME_WAIT (fixed in
/// Linux), so ignored by default (`cargo test --test watch -- --ignored`).
/// The client closes first with `nc -N` (shutdown at the end of its
/// input), so its socket is still held by nc in FIN_WAIT2 when the
/// server's FIN comes and becomes TIME_WAIT at once; the watch in the
/// client's namespace shows `FIN_WAIT2 -> TIME_WAIT`, then, 60 s later,
/// `TIME_WAIT -> gone`, and the table agrees.
#[test]
#[ignore = "TIME_WAIT lasts 60 s (TCP_TIMEWAIT_LEN); run with --ignored"]
fn time_wait_expiry_is_gone() {
    const T: &str = "time_wait_expiry_is_gone";
    let Some(env) = lab_or_skip(T, &["nc.openbsd"]) else {
        return;
    };
    let pair = LabPair::new(&env.ip, "wtwg").unwrap_or_else(|e| panic!("{e}"));
    let p = port(2);
    let ps = p.to_string();
    let Some(oracle) = oracle_or_skip(T, p) else {
        return;
    };
    let mut w = Watch::start(&pair.client, &["-n", "--port", &ps]);
    w.wait_ready(2);
    let nc = env.program("nc.openbsd");
    let mut server = Running::start(&pair.server, nc, &["-l", &ps], In::Held, Out::Captured);
    pair.server
        .wait_tcp_state(p, 0x0A, STEP, "the server's LISTEN")
        .unwrap_or_else(|e| panic!("{e}"));
    let mut client = Running::start(
        &pair.client,
        nc,
        &["-N", SERVER_V4, &ps],
        In::Held,
        Out::Captured,
    );
    client.type_bytes(b"hello\n");
    wait_stdout(&server, "hello");
    client.close_stdin();
    server.finish(STEP);
    client.finish(STEP);
    pair.client
        .wait_tcp_state(p, 0x06, STEP, "the client's TIME_WAIT")
        .unwrap_or_else(|e| panic!("{e}"));
    w.wait_output("FIN_WAIT2 -> TIME_WAIT", STEP, |o| {
        o.contains("FIN_WAIT2 -> TIME_WAIT")
    });
    // The truth: from the kernel's FIN_WAIT2 -> CLOSE (the socket became
    // the TIME_WAIT mini-socket; its time on the test's clock from the
    // oracle) until the table stops showing it (polled every 10 ms; the
    // kernel's timer wheel may run the 60 s timer a little late).
    let became = oracle
        .wait_for(STEP, |e| {
            e.src.ip().to_string() == CLIENT_V4 && e.old == "FIN_WAIT2" && e.new == "CLOSE"
        })
        .unwrap_or_else(|| panic!("the kernel's FIN_WAIT2 -> CLOSE:\n{}", oracle.text()));
    let tw_began = oracle.instant_of(&became);
    wait_until(
        "the end of TIME_WAIT in the table",
        Duration::from_secs(75),
        || {
            pair.client
                .proc_rows(&["tcp"])
                .is_ok_and(|r| !r.iter().any(|r| r.state == 0x06))
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let table_lasted = tw_began.elapsed().as_secs_f64();
    w.wait_output("TIME_WAIT -> gone", STEP, |o| {
        o.contains("TIME_WAIT -> gone")
    });
    let out = w.finish();
    let rows = text_rows(&out);
    let tw: Vec<&Row> = rows
        .iter()
        .filter(|r| r.changed().text() == "FIN_WAIT2 -> TIME_WAIT")
        .collect();
    let gone: Vec<&Row> = rows
        .iter()
        .filter(|r| r.changed().text() == "TIME_WAIT -> gone")
        .collect();
    assert_eq!((tw.len(), gone.len()), (1, 1), "{out}");
    assert_eq!((&tw[0].a, &tw[0].b), (&gone[0].a, &gone[0].b), "{out}");
    // The watch reads the table every 1000 ms: its TIME_WAIT lasts what
    // the table's did, plus up to 1 s (and a little for the polling).
    let lasted = (gone[0].ms - tw[0].ms) / 1000.0;
    assert!(
        (table_lasted - 0.1..=table_lasted + 1.1).contains(&lasted),
        "TIME_WAIT lasted {lasted:.3} s by the watch's clock, {table_lasted:.3} s in the table:\n{out}"
    );
    eprintln!("{T}: TIME_WAIT lasted {lasted:.3} s by the watch, {table_lasted:.3} s in the table");
}

/// Exercise 2: the client's own OUTPUT chain drops its SYNs (the
/// article's rule, inside the client's namespace) with
/// tcp_syn_retries=2: `CLOSE -> SYN_SENT`, one `SYN_SENT, SYN resent #N`
/// per resend (as many as the rule counted minus the first SYN), then
/// `SYN_SENT -> CLOSE`; the JSON watch says the resends were refused
/// locally.
#[test]
fn exercise2_syn_sent_with_each_resent_syn() {
    const T: &str = "exercise2_syn_sent_with_each_resent_syn";
    let Some(env) = lab_or_skip(T, &["nc.openbsd", "iptables"]) else {
        return;
    };
    let pair = LabPair::new(&env.ip, "wex2").unwrap_or_else(|e| panic!("{e}"));
    let p = port(3);
    let ps = p.to_string();
    let Some(oracle) = oracle_or_skip(T, p) else {
        return;
    };
    let ipt = env.program("iptables");
    let rule = SYN_DROP.on_port(&["-w", "5", "-I", "OUTPUT"], p);
    pair.client.run_ok(ipt, &strs(&rule), STEP);
    pair.client
        .sysctl("net.ipv4.tcp_syn_retries", "2")
        .unwrap_or_else(|e| panic!("{e}"));
    let nc = env.program("nc.openbsd");
    // A listener that would answer, were a SYN to leave the client.
    let _server = Running::start(&pair.server, nc, &["-l", &ps], In::Held, Out::Captured);
    pair.server
        .wait_tcp_state(p, 0x0A, STEP, "the server's LISTEN")
        .unwrap_or_else(|e| panic!("{e}"));
    let mut wt = Watch::start(&pair.client, &["-n", "--port", &ps]);
    let mut wj = Watch::start(&pair.client, &["-n", "--json", "--port", &ps]);
    wt.wait_ready(2);
    wj.wait_ready(1);
    let mut client = Running::start(
        &pair.client,
        nc,
        &["-w", "10", SERVER_V4, &ps],
        In::Held,
        Out::Captured,
    );
    // SYN at 0 s, resent at 1 s and 3 s, given up at 7 s.
    let st = client.finish(Duration::from_secs(15));
    assert_eq!(st.code(), Some(1), "{}", client.describe());
    for w in [&mut wt, &mut wj] {
        w.wait_output("SYN_SENT -> CLOSE", STEP, |o| {
            o.contains("SYN_SENT -> CLOSE") || o.contains(r#""old":"SYN_SENT","new":"CLOSE""#)
        });
    }
    thread::sleep(Duration::from_millis(200));
    let text = wt.finish();
    let json = wj.finish();
    let counted = pair
        .client
        .rule_packets(ipt, "OUTPUT")
        .unwrap_or_else(|e| panic!("{e}"));
    let syns = counted.first().copied().unwrap_or(0);
    let ctx = format!(
        "the rule counted {counted:?}\ntext watch:\n{text}\nJSON watch:\n{json}\nkernel:\n{}",
        oracle.text()
    );
    assert!(syns >= 2, "the kernel resent no SYN: {ctx}");

    let rows = text_rows(&text);
    let have: Vec<String> = rows.iter().map(|r| r.changed().text()).collect();
    let mut want: Vec<String> = vec!["CLOSE -> SYN_SENT".into()];
    want.extend((1..syns).map(|n| format!("SYN_SENT, SYN resent #{n}")));
    want.push("SYN_SENT -> CLOSE".into());
    let resent = rows
        .iter()
        .filter(|r| matches!(r.cell, Cell::Resent(..)))
        .count() as u64;
    assert_eq!(
        resent,
        syns - 1,
        "resent rows against the rule's counter: {ctx}"
    );
    assert_eq!(have, want, "the client's rows: {ctx}");
    for r in &rows {
        assert_eq!(host_of(&r.a), CLIENT_V4, "{}\n{ctx}", r.text);
        assert_eq!(r.b, format!("{SERVER_V4}:{p}"), "{}\n{ctx}", r.text);
    }
    // Times: the watch's clock is the kernel's. From the first SYN to
    // the end of the attempt the watch measured what the kernel's own
    // timestamps (the oracle) say, within 5 ms; the resends lie between.
    // (Their spacing is not asserted: it depends on the kernel's
    // settings; with net.ipv4.tcp_syn_linear_timeouts=4, as here, the
    // first SYNs are resent 1 s apart, not with a doubled timeout.)
    let kernel: Vec<Change> = kernel_changes(&oracle.text())
        .into_iter()
        .filter(|c| c.local_ip == CLIENT_V4)
        .collect();
    assert_eq!(kernel.len(), 2, "{ctx}");
    let kernel_span = (kernel[1].ts_us - kernel[0].ts_us) as f64 / 1000.0;
    let span = rows[rows.len() - 1].ms - rows[0].ms;
    assert!(
        (span - kernel_span).abs() <= 5.0,
        "the watch timed SYN_SENT at {span:.3} ms, the kernel at {kernel_span:.3} ms: {ctx}"
    );
    assert!(
        rows.windows(2).all(|w| w[1].ms > w[0].ms),
        "rows not strictly in time order: {ctx}"
    );

    let (source, objs) = json_lines(&json);
    assert_eq!(source.str("source"), Some("tracepoint"), "{ctx}");
    assert_eq!(source.num("interval_ms"), Some(1000.0), "{ctx}");
    assert_eq!(source.str("note"), Some(SOURCE_TRACEPOINT), "{ctx}");
    let re: Vec<&Json> = objs
        .iter()
        .filter(|o| o.str("type") == Some("retransmit"))
        .collect();
    assert_eq!(re.len() as u64, syns - 1, "retransmit objects: {ctx}");
    for (i, o) in re.iter().enumerate() {
        assert_eq!(o.str("state"), Some("SYN_SENT"), "{ctx}");
        assert_eq!(o.str("what"), Some("SYN"), "{ctx}");
        assert_eq!(o.num("count"), Some((i + 1) as f64), "{ctx}");
        assert_eq!(
            o.get("refused_locally"),
            Some(&Json::Bool(true)),
            "the OUTPUT chain dropped it: {ctx}"
        );
        assert_eq!(o.str("role"), Some("client"), "{ctx}");
    }
    let trans: Vec<String> = objs.iter().filter_map(json_cell).collect();
    assert_eq!(trans, ["CLOSE -> SYN_SENT", "SYN_SENT -> CLOSE"], "{ctx}");
    // The kernel saw the same two changes of the client's socket.
    let k: Vec<&str> = kernel.iter().map(|c| c.cell.as_str()).collect();
    assert_eq!(k, ["CLOSE -> SYN_SENT", "SYN_SENT -> CLOSE"], "{ctx}");
    eprintln!("{T}: {syns} SYNs counted, {resent} resent rows");
}

/// The ladder on loopback: both ends in one namespace, the watch into a
/// pipe (plain text, no colour). The ladder header once, every ladder row
/// with the client's and the server's address, one side changed per row
/// and named before its annotation, rows in time order, the handshake
/// (`SYN_SENT` | `LISTEN`) and the close (client first) on their sides.
#[test]
fn ladder_pairs_both_ends_on_loopback() {
    const T: &str = "ladder_pairs_both_ends_on_loopback";
    let Some(env) = lab_or_skip(T, &["nc.openbsd"]) else {
        return;
    };
    let ns = Netns::create(&env.ip, "wlad").unwrap_or_else(|e| panic!("{e}"));
    let p = port(4);
    let ps = p.to_string();
    let Some(_oracle) = oracle_or_skip(T, p) else {
        return;
    };
    let mut w = Watch::start(&ns, &["-n", "--port", &ps]);
    w.wait_ready(2);
    let nc = env.program("nc.openbsd");
    let mut server = Running::start(&ns, nc, &["-l", "127.0.0.1", &ps], In::Held, Out::Captured);
    ns.wait_tcp_state(p, 0x0A, STEP, "LISTEN")
        .unwrap_or_else(|e| panic!("{e}"));
    let mut client = Running::start(&ns, nc, &["127.0.0.1", &ps], In::Held, Out::Captured);
    client.type_bytes(b"ladder\n");
    wait_stdout(&server, "ladder");
    // Ctrl-C on the client: it closes first; the server's nc -l ends at
    // the FIN.
    client.signal(Signal::Int);
    client.finish(STEP);
    server.finish(STEP);
    w.wait_output("the client's FIN_WAIT2 -> TIME_WAIT", STEP, |o| {
        o.contains("FIN_WAIT2 -> TIME_WAIT")
    });
    w.wait_output("the server's LAST_ACK -> CLOSE", STEP, |o| {
        o.contains("LAST_ACK -> CLOSE")
    });
    thread::sleep(Duration::from_millis(200));
    let st = w.stop(Signal::Int);
    assert_eq!(st.code(), Some(0), "{}", w.run.describe());
    let bytes = w.run.stdout_bytes();
    let out = String::from_utf8_lossy(&bytes).into_owned();
    assert!(
        !bytes.contains(&0x1b),
        "an ANSI escape into a pipe:\n{out:?}"
    );
    let rows = text_rows(&out);
    assert!(
        out.lines().any(|l| l == LADDER_HEADER),
        "no ladder header:\n{out}"
    );
    let ladder: Vec<&Row> = rows.iter().filter(|r| r.is_ladder()).collect();
    assert!(ladder.len() >= 8, "too few ladder rows:\n{out}");
    let server_addr = format!("127.0.0.1:{p}");
    let client_addr = ladder[0].a.clone();
    let client_port: u16 = client_addr
        .strip_prefix("127.0.0.1:")
        .and_then(|x| x.parse().ok())
        .unwrap_or_else(|| panic!("the client's address {client_addr}:\n{out}"));
    assert!(client_port != 0 && client_port != p, "{out}");
    for r in &ladder {
        assert_eq!(
            (r.a.as_str(), r.b.as_str()),
            (client_addr.as_str(), server_addr.as_str()),
            "a ladder row without both ends: {}\n{out}",
            r.text
        );
        let server_cell = r.server_cell.as_ref().unwrap();
        assert!(
            r.cell.is_change() != server_cell.is_change(),
            "one side changes per ladder row: {}\n{out}",
            r.text
        );
        let side = if r.cell.is_change() {
            "client"
        } else {
            "server"
        };
        assert_eq!(r.side.as_deref(), Some(side), "{}\n{out}", r.text);
        assert!(
            r.annotation
                .as_deref()
                .is_some_and(|a| !a.trim().is_empty()),
            "{}\n{out}",
            r.text
        );
    }
    let client_cells: Vec<String> = ladder
        .iter()
        .filter(|r| r.cell.is_change())
        .map(|r| r.cell.text())
        .collect();
    let server_cells: Vec<String> = ladder
        .iter()
        .filter_map(|r| r.server_cell.as_ref().filter(|c| c.is_change()))
        .map(Cell::text)
        .collect();
    in_order(
        &[
            &["CLOSE -> SYN_SENT"],
            &["SYN_SENT -> ESTABLISHED"],
            &["ESTABLISHED -> FIN_WAIT1"],
            &["FIN_WAIT1 -> FIN_WAIT2"],
            &["FIN_WAIT2 -> TIME_WAIT"],
        ],
        &client_cells,
    )
    .unwrap_or_else(|e| panic!("the client column: {e}\n{out}"));
    in_order(
        &[
            &["LISTEN -> SYN_RECV", "new -> SYN_RECV"],
            &["SYN_RECV -> ESTABLISHED"],
            &["ESTABLISHED -> CLOSE_WAIT"],
            &["CLOSE_WAIT -> LAST_ACK"],
            &["LAST_ACK -> CLOSE"],
        ],
        &server_cells,
    )
    .unwrap_or_else(|e| panic!("the server column: {e}\n{out}"));
    // The first SYN: the server is only its listener yet.
    let syn = ladder
        .iter()
        .find(|r| r.cell.text() == "CLOSE -> SYN_SENT")
        .unwrap();
    assert_eq!(
        syn.server_cell.as_ref().map(Cell::text).as_deref(),
        Some("LISTEN"),
        "the server's cell at the client's SYN: {}\n{out}",
        syn.text
    );
    // The close, side by side: the client's FIN_WAIT1 while the server
    // is still ESTABLISHED, the server's CLOSE_WAIT beside the client's
    // FIN_WAIT1 or FIN_WAIT2.
    let fin = ladder
        .iter()
        .find(|r| r.cell.text() == "ESTABLISHED -> FIN_WAIT1")
        .unwrap();
    assert_eq!(
        fin.server_cell.as_ref().map(Cell::text).as_deref(),
        Some("ESTABLISHED"),
        "{}\n{out}",
        fin.text
    );
    let cw = ladder
        .iter()
        .find(|r| r.changed().text() == "ESTABLISHED -> CLOSE_WAIT")
        .unwrap();
    assert!(
        matches!(cw.cell.text().as_str(), "FIN_WAIT1" | "FIN_WAIT2"),
        "the client's state beside CLOSE_WAIT: {}\n{out}",
        cw.text
    );
    eprintln!("{T}: {} rows, {} on the ladder", rows.len(), ladder.len());
}

/// The polling fallback as `nobody` with every capability dropped (no
/// tracefs possible): line 1 names polling and what it can miss; a
/// listener is `new -> LISTEN`, a connection from the other namespace
/// `new -> ESTABLISHED` (or the states polling saw), and Ctrl-C on the
/// listener's nc `LISTEN -> gone`.
#[test]
fn polling_without_root_says_what_it_can_miss() {
    const T: &str = "polling_without_root_says_what_it_can_miss";
    let Some(env) = lab_or_skip(T, &["nc.openbsd", "setpriv"]) else {
        return;
    };
    let pair = LabPair::new(&env.ip, "wpoll").unwrap_or_else(|e| panic!("{e}"));
    let p = port(5);
    let ps = p.to_string();
    let mut w =
        Watch::start_unprivileged(&pair.server, env.program("setpriv"), &["-n", "--port", &ps]);
    let first = w.wait_ready(2);
    let l1 = &first[0];
    let head =
        "Source: polling the socket table over sock_diag every 20 ms (tracepoint unavailable: ";
    let tail = "); it can miss a state that lasts less than 20 ms, and times are when a change \
                was seen. Ctrl-C stops.";
    assert!(
        l1.starts_with(head) && l1.ends_with(tail) && l1.len() > head.len() + tail.len(),
        "line 1 as nobody:\n{l1}"
    );
    let nc = env.program("nc.openbsd");
    let mut server = Running::start(&pair.server, nc, &["-l", &ps], In::Held, Out::Captured);
    w.wait_output("new -> LISTEN", STEP, |o| o.contains("new -> LISTEN"));
    let mut client = Running::start(&pair.client, nc, &[SERVER_V4, &ps], In::Held, Out::Captured);
    client.type_bytes(b"poll\n");
    wait_stdout(&server, "poll");
    w.wait_output("the connection", STEP, |o| o.contains("-> ESTABLISHED"));
    server.signal(Signal::Int);
    server.finish(STEP);
    w.wait_output("LISTEN -> gone", STEP, |o| o.contains("LISTEN -> gone"));
    let out = w.finish();
    client.kill();
    let rows = text_rows(&out);
    let listener: Vec<String> = rows
        .iter()
        .filter(|r| r.b == "0.0.0.0:*")
        .map(|r| {
            assert_eq!(r.a, format!("0.0.0.0:{p}"), "{out}");
            r.cell.text()
        })
        .collect();
    assert_eq!(listener, ["new -> LISTEN", "LISTEN -> gone"], "{out}");
    let conn: Vec<String> = rows
        .iter()
        .filter(|r| r.a == format!("{SERVER_V4}:{p}"))
        .map(|r| r.cell.text())
        .collect();
    assert!(
        matches!(
            conn.first().map(String::as_str),
            Some("new -> ESTABLISHED" | "new -> SYN_RECV")
        ),
        "the connection's first row: {conn:?}\n{out}"
    );
    assert!(conn.iter().any(|c| c.ends_with("-> ESTABLISHED")), "{out}");
    for r in &rows {
        assert!(
            r.b.starts_with(CLIENT_V4) || r.b == "0.0.0.0:*",
            "a row of another socket: {}\n{out}",
            r.text
        );
        assert!(r.annotation.is_some(), "{}\n{out}", r.text);
    }
}

/// The instances of rnetstat process `pid` under the machine's tracefs.
fn instances_of(pid: u32) -> Vec<String> {
    let prefix = format!("rnetstat-{pid}-");
    fs::read_dir(Path::new(TRACEFS).join("instances"))
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(&prefix))
                .collect()
        })
        .unwrap_or_default()
}

/// How the watch ends.
#[derive(Clone, Copy, Debug)]
enum Ending {
    Sigint,
    Sigterm,
    StdoutClosed,
}

/// Starts `rnetstat --watch` in `ns` through `nsenter --net`, asserts its
/// tracefs instance exists (and is the one in use: the state event
/// enabled, filtered on the port), ends it `how`, and asserts the
/// instance is gone once it exited with status 0 and said nothing.
///
/// Why the check sees rnetstat's instance: `nsenter --net` changes only
/// the network namespace, so rnetstat runs in this machine's mount
/// namespace and finds tracefs where the test kit's oracle keeps it
/// mounted (`/sys/kernel/tracing`, held mounted by `oracle_or_skip` for
/// the whole test): the very directory the test lists. (Under `ip netns
/// exec` rnetstat would mount tracefs itself in a private mount
/// namespace; tracefs has one tree, so the instance would show here too,
/// but this test does not rely on that.)
fn instance_removed(test: &str, how: Ending, n: u16) {
    let Some(env) = lab_or_skip(test, &["nc.openbsd", "nsenter"]) else {
        return;
    };
    let ns = Netns::create(&env.ip, "winst").unwrap_or_else(|e| panic!("{e}"));
    let p = port(n);
    let ps = p.to_string();
    let Some(_oracle) = oracle_or_skip(test, p) else {
        return;
    };
    let bin = rnetstat();
    let mut cmd = Command::new(env.program("nsenter"));
    cmd.arg(format!("--net={}", ns.path().display()))
        .arg("--")
        .arg(&bin)
        .args(["--watch", "-n", "--port", &ps])
        .env_clear()
        .env("LC_ALL", "C")
        .env("PATH", DEFAULT_PATH);
    let label = format!("[{}] rnetstat --watch -n --port {p} ({how:?})", ns.name());
    let output = match how {
        Ending::StdoutClosed => Out::Piped,
        _ => Out::Captured,
    };
    let run = Running::spawn(cmd, &label, In::Null, output);
    let mut w = Watch { run };
    let pid = w.pid();
    let mut closer: Option<mpsc::Sender<()>> = None;
    // Line 1 and the header, then the instance.
    let first: Vec<String> = match how {
        Ending::StdoutClosed => {
            // Read two lines in a thread; it closes the read end when told
            // (after the instance was seen: a watch may notice a closed
            // stdout at once, without writing).
            let pipe = w.run.take_stdout();
            let (tx, rx) = mpsc::channel();
            let (close_tx, close_rx) = mpsc::channel::<()>();
            closer = Some(close_tx);
            thread::spawn(move || {
                let mut r = BufReader::new(pipe);
                let mut lines = Vec::new();
                for _ in 0..2 {
                    let mut l = String::new();
                    if r.read_line(&mut l).unwrap_or(0) == 0 {
                        break;
                    }
                    lines.push(l.trim_end().to_string());
                }
                let _ = tx.send(lines);
                // Told, or the test gone: the read end closes with `r`.
                let _ = close_rx.recv();
            });
            rx.recv_timeout(STEP)
                .unwrap_or_else(|_| panic!("no two lines within {STEP:?}: {}", w.run.describe()))
        }
        _ => w.wait_ready(2),
    };
    assert_eq!(first.len(), 2, "{}", w.run.describe());
    assert_eq!(first[0], SOURCE_TRACEPOINT, "{}", w.run.describe());
    wait_until("rnetstat's tracefs instance", STEP, || {
        !instances_of(pid).is_empty()
    })
    .unwrap_or_else(|e| panic!("{e}: {}", w.run.describe()));
    let made = instances_of(pid);
    let dir = Path::new(TRACEFS).join("instances").join(&made[0]);
    let event = dir.join("events/sock/inet_sock_set_state");
    assert_eq!(
        fs::read_to_string(event.join("enable"))
            .map(|s| s.trim().to_string())
            .ok()
            .as_deref(),
        Some("1"),
        "{} is not the instance in use",
        dir.display()
    );
    let filter = fs::read_to_string(event.join("filter")).unwrap_or_default();
    assert!(
        filter.contains(&ps),
        "{}'s filter does not name port {p}: {filter}",
        dir.display()
    );
    let st = match how {
        Ending::Sigint => w.stop(Signal::Int),
        Ending::Sigterm => w.stop(Signal::Term),
        Ending::StdoutClosed => {
            // The read end closes. Either the watch notices at once, or
            // an event makes it write: the write fails (EPIPE) and it
            // must end quietly. A listener comes and goes until it does.
            drop(closer.take());
            let _ = w.run.wait_for(Duration::from_millis(300));
            let nc = env.program("nc.openbsd");
            let deadline = Instant::now() + STEP;
            while w.run.running() && Instant::now() < deadline {
                let mut l = Running::start(&ns, nc, &["-l", &ps], In::Held, Out::Null);
                let _ = ns.wait_tcp_state(p, 0x0A, Duration::from_secs(2), "LISTEN");
                l.kill();
                let _ = w.run.wait_for(Duration::from_millis(300));
            }
            w.run.finish(STEP)
        }
    };
    assert_eq!(
        status_text(st),
        "exit 0",
        "{how:?}: the documented exit: {}",
        w.run.describe()
    );
    assert_eq!(w.run.stderr(), "", "{how:?}: {}", w.run.describe());
    let left = instances_of(pid);
    // Leave the machine as found even when the assertion below fails.
    for d in &left {
        let _ = fs::remove_dir(Path::new(TRACEFS).join("instances").join(d));
    }
    assert!(
        left.is_empty(),
        "{how:?}: rnetstat (pid {pid}) exited and left its tracefs instance {left:?} (it had {made:?})"
    );
}

#[test]
fn tracefs_instance_removed_after_sigint() {
    instance_removed("tracefs_instance_removed_after_sigint", Ending::Sigint, 6);
}

#[test]
fn tracefs_instance_removed_after_sigterm() {
    instance_removed("tracefs_instance_removed_after_sigterm", Ending::Sigterm, 7);
}

#[test]
fn tracefs_instance_removed_when_stdout_closes() {
    instance_removed(
        "tracefs_instance_removed_when_stdout_closes",
        Ending::StdoutClosed,
        8,
    );
}

/// Filters and JSON on loopback, with an IPv4 and an IPv6 connection on
/// port P at the same time and a decoy connection on port Q:
/// `--json --port P` (every line one valid object, the source first, both
/// families, nothing of Q), `--state ESTABLISHED` (text: only rows whose
/// old or new state is ESTABLISHED), `--sport P` (the server's sockets
/// only), `--dport P` (the clients' only) and `-6` (tcp6 only).
#[test]
fn filters_and_json_lines() {
    const T: &str = "filters_and_json_lines";
    let Some(env) = lab_or_skip(T, &["nc.openbsd"]) else {
        return;
    };
    let ns = Netns::create(&env.ip, "wflt").unwrap_or_else(|e| panic!("{e}"));
    let p = port(9);
    let q = port(10);
    let (ps, qs) = (p.to_string(), q.to_string());
    let Some(_oracle) = oracle_or_skip(T, p) else {
        return;
    };
    let mut wj = Watch::start(&ns, &["-n", "--json", "--port", &ps]);
    let mut wst = Watch::start(&ns, &["-n", "--port", &ps, "--state", "ESTABLISHED"]);
    let mut w6 = Watch::start(&ns, &["-n", "--json", "-6", "--port", &ps]);
    let mut wsp = Watch::start(&ns, &["-n", "--json", "--sport", &ps]);
    let mut wdp = Watch::start(&ns, &["-n", "--json", "--dport", &ps]);
    let mut w4 = Watch::start(&ns, &["-n", "--json", "-4", "--port", &ps]);
    let mut wss = Watch::start(
        &ns,
        &[
            "-n",
            "--json",
            "--port",
            &ps,
            "--state",
            "syn-sent,TIME_WAIT",
        ],
    );
    let mut wne = Watch::start(&ns, &["-n", "--json", "--no-explain", "--port", &ps]);
    wj.wait_ready(1);
    wst.wait_ready(2);
    w6.wait_ready(1);
    wsp.wait_ready(1);
    wdp.wait_ready(1);
    w4.wait_ready(1);
    wss.wait_ready(1);
    wne.wait_ready(1);
    let nc = env.program("nc.openbsd");
    let mut servers = Vec::new();
    let mut clients = Vec::new();
    for (listen, connect, port_s, data) in [
        (
            vec!["-l", "127.0.0.1", &ps],
            vec!["127.0.0.1", &ps],
            &ps,
            "four\n",
        ),
        (
            vec!["-6", "-l", "::1", &ps],
            vec!["-6", "::1", &ps],
            &ps,
            "six\n",
        ),
        (
            vec!["-l", "127.0.0.1", &qs],
            vec!["127.0.0.1", &qs],
            &qs,
            "decoy\n",
        ),
    ] {
        let s = Running::start(&ns, nc, &listen, In::Held, Out::Captured);
        let pn: u16 = port_s.parse().unwrap();
        wait_until("the listeners", STEP, || {
            ns.proc_rows(&["tcp", "tcp6"]).is_ok_and(|r| {
                r.iter()
                    .filter(|r| r.state == 0x0A && r.local_port == pn)
                    .count()
                    >= if listen.contains(&"-6") { 2 } else { 1 }
            })
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let mut c = Running::start(&ns, nc, &connect, In::Held, Out::Captured);
        c.type_bytes(data.as_bytes());
        wait_stdout(&s, data.trim_end());
        servers.push(s);
        clients.push(c);
    }
    // Each client closes first; each nc -l ends at the FIN.
    for c in &mut clients {
        c.signal(Signal::Int);
        c.finish(STEP);
    }
    for s in &mut servers {
        s.finish(STEP);
    }
    let count = |o: &str, needle: &str| o.matches(needle).count();
    let lastack = r#""old":"LAST_ACK","new":"CLOSE""#;
    let tw = r#""old":"FIN_WAIT2","new":"TIME_WAIT""#;
    wj.wait_output("both families closed", STEP, |o| {
        count(o, lastack) >= 2 && count(o, tw) >= 2
    });
    w6.wait_output("the IPv6 connection closed", STEP, |o| {
        count(o, lastack) >= 1 && count(o, tw) >= 1
    });
    wsp.wait_output("both servers closed", STEP, |o| count(o, lastack) >= 2);
    wdp.wait_output("both clients in TIME_WAIT", STEP, |o| count(o, tw) >= 2);
    wss.wait_output("both clients in TIME_WAIT", STEP, |o| count(o, tw) >= 2);
    w4.wait_output("the IPv4 connection closed", STEP, |o| {
        count(o, lastack) >= 1 && count(o, tw) >= 1
    });
    wne.wait_output("both families closed", STEP, |o| {
        count(o, lastack) >= 2 && count(o, tw) >= 2
    });
    wst.wait_output("both closes", STEP, |o| {
        count(o, "ESTABLISHED -> FIN_WAIT1") >= 2 && count(o, "ESTABLISHED -> CLOSE_WAIT") >= 2
    });
    thread::sleep(Duration::from_millis(200));
    let oj = wj.finish();
    let ost = wst.finish();
    let o6 = w6.finish();
    let osp = wsp.finish();
    let odp = wdp.finish();
    let o4 = w4.finish();
    let oss = wss.finish();
    let one = wne.finish();

    // --json --port P.
    let (source, all) = json_lines(&oj);
    assert_eq!(source.str("source"), Some("tracepoint"), "{oj}");
    assert_eq!(source.str("note"), Some(SOURCE_TRACEPOINT), "{oj}");
    for o in &all {
        assert!(
            num_is(o, "local_port", p) || num_is(o, "foreign_port", p),
            "--port {p} shows {o:?}"
        );
        assert!(
            !num_is(o, "local_port", q) && !num_is(o, "foreign_port", q),
            "the decoy on {q}: {o:?}"
        );
    }
    for proto in ["tcp", "tcp6"] {
        let cells: Vec<String> = all
            .iter()
            .filter(|o| o.str("proto") == Some(proto))
            .filter_map(json_cell)
            .collect();
        for c in [
            "CLOSE -> LISTEN",
            "CLOSE -> SYN_SENT",
            "SYN_SENT -> ESTABLISHED",
            "SYN_RECV -> ESTABLISHED",
            "ESTABLISHED -> FIN_WAIT1",
            "ESTABLISHED -> CLOSE_WAIT",
            "LAST_ACK -> CLOSE",
            "FIN_WAIT2 -> TIME_WAIT",
        ] {
            assert!(
                cells.iter().any(|x| x == c),
                "{proto}: no {c}: {cells:?}\n{oj}"
            );
        }
    }
    for o in &all {
        let cell = json_cell(o).unwrap_or_default();
        if cell == "SYN_SENT -> ESTABLISHED" {
            assert_eq!(o.str("role"), Some("client"), "{o:?}");
            assert!(
                matches!(o.get("peer_state"), Some(Json::Str(_))),
                "the server is in this namespace, its state is known: {o:?}"
            );
        }
        if cell == "CLOSE -> LISTEN" {
            assert_eq!(o.str("role"), Some("listener"), "{o:?}");
        }
        if cell == "CLOSE_WAIT -> LAST_ACK" {
            assert_eq!(o.str("role"), Some("server"), "{o:?}");
        }
    }

    // -6: tcp6 only, on ::1.
    let (_, six) = json_lines(&o6);
    assert!(!six.is_empty(), "{o6}");
    for o in &six {
        assert_eq!(o.str("proto"), Some("tcp6"), "-6 shows {o:?}");
        assert!(
            o.str("local_address")
                .and_then(|a| a.parse::<IpAddr>().ok())
                .is_some_and(|a| a.is_ipv6()),
            "{o:?}"
        );
    }

    // --sport P: the listeners and the servers' ends only.
    let (_, sp) = json_lines(&osp);
    assert!(sp
        .iter()
        .any(|o| json_cell(o).as_deref() == Some("LAST_ACK -> CLOSE")));
    for o in &sp {
        assert!(num_is(o, "local_port", p), "--sport {p} shows {o:?}");
        assert!(o.str("old") != Some("SYN_SENT"), "{o:?}");
    }
    // --dport P: the clients' ends only.
    let (_, dp) = json_lines(&odp);
    assert!(dp
        .iter()
        .any(|o| json_cell(o).as_deref() == Some("CLOSE -> SYN_SENT")));
    for o in &dp {
        assert!(num_is(o, "foreign_port", p), "--dport {p} shows {o:?}");
        assert!(!num_is(o, "local_port", p), "--dport {p} shows {o:?}");
    }

    // --state ESTABLISHED (text): every row has ESTABLISHED on one side
    // of its change.
    let rows = text_rows(&ost);
    assert!(rows.len() >= 8, "{ost}");
    for r in &rows {
        assert!(
            r.changed().states().contains(&"ESTABLISHED"),
            "--state ESTABLISHED keeps {}\n{ost}",
            r.text
        );
        assert!(
            !r.text.contains(&format!(":{q} ")) && !r.text.ends_with(&format!(":{q}")),
            "the decoy: {}",
            r.text
        );
    }
    // -4: tcp only.
    let (_, four) = json_lines(&o4);
    assert!(
        four.iter()
            .any(|o| json_cell(o).as_deref() == Some("LAST_ACK -> CLOSE")),
        "{o4}"
    );
    for o in &four {
        assert_eq!(o.str("proto"), Some("tcp"), "-4 shows {o:?}");
    }
    // --state syn-sent,TIME_WAIT: ss's spelling and netstat's in one list.
    let (_, ss) = json_lines(&oss);
    for want in [
        "CLOSE -> SYN_SENT",
        "SYN_SENT -> ESTABLISHED",
        "FIN_WAIT2 -> TIME_WAIT",
    ] {
        assert_eq!(
            ss.iter()
                .filter(|o| json_cell(o).as_deref() == Some(want))
                .count(),
            2,
            "--state syn-sent,TIME_WAIT: {want} once per connection:\n{oss}"
        );
    }
    for o in &ss {
        let (old, new) = (o.str("old").unwrap_or(""), o.str("new").unwrap_or(""));
        assert!(
            ["SYN_SENT", "TIME_WAIT"].contains(&old) || ["SYN_SENT", "TIME_WAIT"].contains(&new),
            "--state syn-sent,TIME_WAIT keeps {o:?}"
        );
    }
    // --no-explain: the same objects without the annotation.
    let mut lines = one.lines();
    let source = parse_json(lines.next().unwrap_or("")).unwrap_or_else(|e| panic!("{e}: {one}"));
    assert_eq!(source.str("type"), Some("source"), "{one}");
    let mut n = 0;
    for l in lines {
        let o = parse_json(l).unwrap_or_else(|e| panic!("{e}: {l}"));
        assert!(o.get("annotation").is_none(), "--no-explain: {l}");
        let Json::Obj(mut kv) = o else {
            panic!("not an object: {l}")
        };
        kv.push(("annotation".into(), Json::Str("(none)".into())));
        check_event(&Json::Obj(kv)).unwrap_or_else(|e| panic!("{e}: {l}"));
        n += 1;
    }
    assert!(n >= 10, "--no-explain printed {n} events:\n{one}");
    eprintln!(
        "{T}: --port {} objects, -6 {}, -4 {}, --sport {}, --dport {}, --state {} rows, \
         --state syn-sent,TIME_WAIT {}, --no-explain {n}",
        all.len(),
        six.len(),
        four.len(),
        sp.len(),
        dp.len(),
        rows.len(),
        ss.len()
    );
}

/// What `--watch` refuses: UDP, raw and UNIX sockets (one line on
/// stderr, status 3, nothing on stdout), and an interval outside
/// 1..=60000 ms. Run inside a namespace of its own, so a watch that
/// wrongly started would see nothing of the machine.
#[test]
fn watch_refuses_what_it_cannot_show() {
    const T: &str = "watch_refuses_what_it_cannot_show";
    let Some(env) = lab_or_skip(T, &[]) else {
        return;
    };
    let ns = Netns::create(&env.ip, "wref").unwrap_or_else(|e| panic!("{e}"));
    let bin = rnetstat();
    for args in [
        &["--watch", "-u"][..],
        &["--watch", "-w"],
        &["--watch", "-x"],
        &["--watch", "-t", "-u"],
        &["--watch", "--interval", "0"],
        &["--watch", "--interval", "60001"],
        &["--watch", "--interval", "ten"],
    ] {
        let out = rnet_testkit::process::run(&mut ns.command(&bin, args), STEP)
            .unwrap_or_else(|e| panic!("{args:?}: {e}"));
        let err = out.stderr_text();
        assert!(!out.timed_out, "{args:?} ran on: {err}");
        if args.contains(&"--interval") {
            assert!(
                out.code().is_some_and(|c| c != 0),
                "{args:?}: {}",
                out.status_text()
            );
        } else {
            assert_eq!(out.code(), Some(3), "{args:?}: {err}");
        }
        assert_eq!(out.stdout_text(), "", "{args:?}");
        assert_eq!(err.lines().count(), 1, "{args:?}: one line:\n{err}");
        assert!(err.contains("rnetstat: "), "{args:?}: {err}");
    }
}
