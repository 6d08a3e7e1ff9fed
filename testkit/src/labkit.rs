//! A scene of the lab: one client/server namespace pair (`netns::LabPair`)
//! with the three tools under test, for the scenarios of README.md's
//! "Teardown and the other scenarios".
//!
//! - [`Scene::lower`] sets a per-namespace sysctl and reads it back;
//! - [`Scene::rnc`] starts `rnc --explain …` in a namespace with stdin a
//!   pipe the test holds ([`Nc::ctrl_d`]), stdout and stderr captured while
//!   it runs, SIGINT/SIGTERM at their default action, and keystrokes as
//!   signals ([`Nc::ctrl_c`], [`Nc::ctrl_z`], [`Nc::fg`]);
//! - [`Scene::wait_rows`] and friends poll `rnetstat -nat --explain` every
//!   50 ms until a state appears (or goes), under a deadline, checking on
//!   every row that the annotation names the state in the State column;
//! - [`Scene::same_as_netstat`] compares `rnetstat -nat` with the real
//!   `netstat -nat` (where installed) for the scenario's port;
//! - [`Scene::rfw`] runs rfw inside a namespace (never the machine's own).
//!
//! Every step is written to a timeline with its time since the scene
//! started; a failure ([`Scene::fail`]) panics with that timeline, both
//! sides' `rnetstat -nato --explain` and everything rnc said. Dropping the
//! scene (also while panicking) kills the processes and deletes the
//! namespaces, their rules and sysctls.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::netns::{LabPair, Netns};
use crate::process::{self, Output};
use crate::running::{Capture, In, Out, Running};
use crate::signals::{self, Signal};
use crate::tempdir::TempDir;
use crate::{find_program, lab_or_skip, tool_under_test};

/// How often the scene polls `rnetstat`.
pub const POLL: Duration = Duration::from_millis(50);
/// Deadline of one tool invocation.
const RUN: Duration = Duration::from_secs(20);

/// Which namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// 198.18.0.1, 2001:db8::1.
    Client,
    /// 198.18.0.2, 2001:db8::2.
    Server,
}

impl Side {
    /// `client` or `server`.
    pub fn name(self) -> &'static str {
        match self {
            Side::Client => "client",
            Side::Server => "server",
        }
    }
}

/// One TCP row of `rnetstat -nat[o] --explain`.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The row as netstat prints it (annotation cut off, trailing blanks
    /// trimmed).
    pub text: String,
    /// `tcp` or `tcp6`.
    pub proto: String,
    /// Local address column.
    pub local: String,
    /// Foreign address column.
    pub foreign: String,
    /// State column.
    pub state: String,
    /// With `-o`: the timer kind (`off`, `on`, `timewait`, `probe`, …).
    pub timer_kind: Option<String>,
    /// With `-o`: the three timer numbers (seconds left, retransmissions,
    /// keepalive probes).
    pub timer: Option<(f64, u32, u32)>,
    /// The annotation after `  # `.
    pub note: Option<String>,
}

fn port_of(addr: &str) -> Option<u16> {
    addr.rsplit(':').next()?.parse().ok()
}

impl Row {
    /// Parses a row; `None` for headers and non-TCP lines.
    pub fn parse(line: &str) -> Option<Row> {
        let (body, note) = match line.find("  # ") {
            Some(p) => (&line[..p], Some(line[p + 4..].to_string())),
            None => (line, None),
        };
        let f: Vec<&str> = body.split_whitespace().collect();
        if f.len() < 6 || !f[0].starts_with("tcp") {
            return None;
        }
        let (timer_kind, timer) = if f.len() >= 8 {
            let nums: Vec<&str> = f[7]
                .trim_start_matches('(')
                .trim_end_matches(')')
                .split('/')
                .collect();
            let t = match nums.as_slice() {
                [a, b, c] => Some((a.parse().ok()?, b.parse().ok()?, c.parse().ok()?)),
                _ => None,
            };
            (Some(f[6].to_string()), t)
        } else {
            (None, None)
        };
        Some(Row {
            text: body.trim_end().to_string(),
            proto: f[0].to_string(),
            local: f[3].to_string(),
            foreign: f[4].to_string(),
            state: f[5].to_string(),
            timer_kind,
            timer,
            note,
        })
    }

    /// True when either end of the row uses `port`.
    pub fn has_port(&self, port: u16) -> bool {
        port_of(&self.local) == Some(port) || port_of(&self.foreign) == Some(port)
    }

    /// The state the annotation names (`# TIME_WAIT: …` -> `TIME_WAIT`).
    pub fn note_state(&self) -> Option<&str> {
        let n = self.note.as_deref()?;
        n.split_once(':').map(|(s, _)| s)
    }

    /// Seconds left on the `-o` timer.
    pub fn timer_secs(&self) -> Option<f64> {
        self.timer.map(|t| t.0)
    }

    /// Retransmissions so far, from the `-o` timer.
    pub fn retransmissions(&self) -> Option<u32> {
        self.timer.map(|t| t.1)
    }

    /// Retransmissions or zero-window/refused-send probes so far (the
    /// second or third `-o` number): a DROP in the sender's own OUTPUT
    /// chain turns the retransmission timer into a `probe` timer that
    /// counts in the third.
    pub fn retries_or_probes(&self) -> Option<u32> {
        self.timer.map(|t| t.1.max(t.2))
    }

    /// The `-o` timer's kind and numbers, as printed.
    pub fn timer_text(&self) -> String {
        match (&self.timer_kind, self.timer) {
            (Some(k), Some((a, b, c))) => format!("{k} ({a:.2}/{b}/{c})"),
            _ => "-".to_string(),
        }
    }
}

/// A running `rnc`, inside one namespace: a [`Running`] whose every
/// keystroke and exit goes into the scene's timeline.
pub struct Nc {
    run: Running,
    log: Arc<Timeline>,
}

impl Nc {
    /// The process id (rnc itself: `ip netns exec` execs it in place).
    pub fn pid(&self) -> u32 {
        self.run.pid()
    }

    /// When it was started.
    pub fn started(&self) -> Instant {
        self.run.started()
    }

    /// Everything rnc wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.run.stderr()
    }

    /// Everything rnc wrote to stdout so far.
    pub fn stdout(&self) -> String {
        self.run.stdout()
    }

    fn label(&self) -> &str {
        self.run.label()
    }

    /// The states rnc's `--explain` lines named so far, in order
    /// (`rnc: SYN_SENT: …` -> `SYN_SENT`).
    pub fn said(&self) -> Vec<String> {
        self.stderr()
            .lines()
            .filter_map(explain_state)
            .map(str::to_string)
            .collect()
    }

    /// The `--explain` lines naming `state`.
    pub fn lines_about(&self, state: &str) -> Vec<String> {
        self.stderr()
            .lines()
            .filter(|l| explain_state(l) == Some(state))
            .map(str::to_string)
            .collect()
    }

    /// Waits until rnc's narration names `state`.
    pub fn wait_said(&self, state: &str, timeout: Duration) -> Result<String, String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(l) = self.lines_about(state).into_iter().next() {
                self.log.note(&format!("{} said: {l}", self.label()));
                return Ok(l);
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "{}: no `--explain` line naming {state} within {timeout:?}",
                    self.label()
                ));
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn signal(&self, sig: Signal) {
        self.log.note(&format!(
            "{}: {} to pid {}",
            self.label(),
            sig.describe(),
            self.pid()
        ));
        signals::send(self.pid(), sig)
            .unwrap_or_else(|e| panic!("{}: cannot send {}: {e}", self.label(), sig.describe()));
    }

    /// Ctrl-C.
    pub fn ctrl_c(&self) {
        self.signal(Signal::Int);
    }

    /// Ctrl-Z; returns once the process is stopped.
    pub fn ctrl_z(&self) {
        self.signal(Signal::Stop);
        let pid = self.pid();
        process::wait_until("the process to stop", Duration::from_secs(5), || {
            signals::is_stopped(pid)
        })
        .unwrap_or_else(|e| panic!("{}: {e}", self.label()));
    }

    /// `fg`.
    pub fn fg(&self) {
        self.signal(Signal::Cont);
    }

    /// Ctrl-D: closes rnc's stdin.
    pub fn ctrl_d(&mut self) {
        self.log
            .note(&format!("{}: Ctrl-D (stdin closed)", self.label()));
        self.run.close_stdin();
    }

    /// Types `line` (a newline is added) into rnc's stdin.
    pub fn type_line(&mut self, line: &str) {
        self.log.note(&format!("{}: typed {line:?}", self.label()));
        self.run.type_bytes(format!("{line}\n").as_bytes());
    }

    /// The exit status, once it exited.
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        let known = self.run.status();
        let st = self.run.poll();
        if let (None, Some(st)) = (known, st) {
            self.log.note(&format!(
                "{}: exited ({st}) after {:.2?}",
                self.label(),
                self.started().elapsed()
            ));
        }
        st
    }

    /// Waits for rnc to exit; the status and when it exited (when its
    /// stderr closed, which is when it exited even if the test polls
    /// later).
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<(ExitStatus, Instant), String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(st) = self.try_status() {
                // The reader thread sees EOF a moment after the exit.
                let stderr = self.run.stderr_capture();
                let mut at = stderr.ended();
                for _ in 0..100 {
                    if at.is_some() {
                        break;
                    }
                    thread::sleep(Duration::from_millis(5));
                    at = stderr.ended();
                }
                return Ok((st, at.unwrap_or_else(Instant::now)));
            }
            if Instant::now() >= deadline {
                return Err(format!("{}: still running after {timeout:?}", self.label()));
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// True while it runs.
    pub fn running(&mut self) -> bool {
        self.try_status().is_none()
    }
}

/// `rnc: TIME_WAIT: …` -> `TIME_WAIT`; `None` for rnc's other messages
/// (`rnc: connect to …`, `Connection to … succeeded!`).
pub fn explain_state(line: &str) -> Option<&str> {
    narrated_state(line.split_once(": ")?.1)
}

/// `TIME_WAIT: …` (a narration line after the program's `name: `) ->
/// `TIME_WAIT`; `None` unless the first word before `: ` is a state name
/// (capitals, digits and `_`).
pub fn narrated_state(rest: &str) -> Option<&str> {
    let (state, _) = rest.split_once(": ")?;
    (!state.is_empty()
        && state
            .chars()
            .all(|c| c.is_ascii_uppercase() || c == '_' || c.is_ascii_digit()))
    .then_some(state)
}

/// Timestamped notes of a scene.
pub struct Timeline {
    t0: Instant,
    lines: Mutex<Vec<String>>,
}

impl Timeline {
    fn new() -> Self {
        Timeline {
            t0: Instant::now(),
            lines: Mutex::new(Vec::new()),
        }
    }

    /// Adds `msg` at the current time.
    pub fn note(&self, msg: &str) {
        let line = format!("[{:7.3}s] {msg}", self.t0.elapsed().as_secs_f64());
        self.lines
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(line);
    }

    fn dump(&self) -> String {
        self.lines
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .join("\n")
    }
}

/// The three tools and the optional reference netstat.
pub struct Tools {
    /// rnc under test.
    pub rnc: PathBuf,
    /// rnetstat under test.
    pub rnetstat: PathBuf,
    /// rfw under test.
    pub rfw: PathBuf,
    /// net-tools netstat, when installed.
    pub netstat: Option<PathBuf>,
}

/// One scenario's world.
pub struct Scene {
    /// `scenario 5 (SYN dropped at client)`.
    pub title: String,
    /// The namespaces.
    pub pair: LabPair,
    /// The binaries.
    pub tools: Tools,
    rfw_state: TempDir,
    log: Arc<Timeline>,
    ncs: Mutex<Vec<(String, Capture)>>,
    /// (rnc label, its stderr, a state it must name, why it may not).
    narrations: Mutex<Vec<(String, Capture, String, String)>>,
    started: Instant,
    finished: bool,
}

impl Scene {
    /// Builds a fresh namespace pair for `title`, or `None` after printing
    /// why the lab cannot run here (a failure with `RNET_REQUIRE_LAB=1`).
    pub fn new(test: &str, title: &str) -> Option<Scene> {
        let env = lab_or_skip(test, &["iptables"])?;
        let tools = Tools {
            rnc: tool_under_test("rnc", "RNC_BIN"),
            rnetstat: tool_under_test("rnetstat", "RNETSTAT_BIN"),
            rfw: tool_under_test("rfw", "RFW_BIN"),
            netstat: find_program("netstat"),
        };
        let tag: String = test
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(6)
            .collect();
        let pair = LabPair::new(&env.ip, &format!("lab{tag}"))
            .unwrap_or_else(|e| panic!("{title}: cannot build the namespace pair: {e}"));
        let rfw_state = TempDir::new("lab-rfw").expect("temp dir for rfw state");
        let log = Arc::new(Timeline::new());
        log.note(&format!(
            "namespaces {} (client) and {} (server)",
            pair.client.name(),
            pair.server.name()
        ));
        Some(Scene {
            title: title.to_string(),
            pair,
            tools,
            rfw_state,
            log,
            ncs: Mutex::new(Vec::new()),
            narrations: Mutex::new(Vec::new()),
            started: Instant::now(),
            finished: false,
        })
    }

    /// The namespace of `side`.
    pub fn ns(&self, side: Side) -> &Netns {
        match side {
            Side::Client => &self.pair.client,
            Side::Server => &self.pair.server,
        }
    }

    /// Adds a line to the timeline.
    pub fn note(&self, msg: &str) {
        self.log.note(msg);
    }

    /// Time since the scene was built.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Panics with `msg`, the timeline, both sides' sockets and what rnc
    /// said.
    pub fn fail(&self, msg: &str) -> ! {
        let mut report = format!(
            "{}: {msg}\n--- timeline ---\n{}\n",
            self.title,
            self.log.dump()
        );
        for side in [Side::Client, Side::Server] {
            let out = self.run_tool(side, &self.tools.rnetstat, &["-nato", "--explain"]);
            report.push_str(&format!(
                "--- {} rnetstat -nato --explain ---\n{}",
                side.name(),
                out.map(|o| o.stdout_text()).unwrap_or_else(|e| e)
            ));
        }
        for (label, cap) in self.ncs.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            report.push_str(&format!("--- {label} stderr ---\n{}\n", cap.text()));
        }
        panic!("{report}");
    }

    /// Unwraps `r` or fails the scene with its error.
    pub fn ok<T>(&self, r: Result<T, String>) -> T {
        match r {
            Ok(v) => v,
            Err(e) => self.fail(&e),
        }
    }

    /// Fails the scene unless `cond`.
    pub fn check(&self, cond: bool, msg: impl FnOnce() -> String) {
        if !cond {
            self.fail(&msg());
        }
    }

    fn run_tool(&self, side: Side, prog: &Path, args: &[&str]) -> Result<Output, String> {
        let mut cmd = self.ns(side).command(prog, args);
        cmd.env("RFW_STATE_DIR", self.rfw_state.path());
        process::run(&mut cmd, RUN).map_err(|e| format!("cannot run {}: {e}", prog.display()))
    }

    /// Sets sysctl `key` (`net.ipv4.tcp_fin_timeout`) in `side`'s
    /// namespace and checks that it took.
    pub fn lower(&self, side: Side, key: &str, value: u32) {
        let ns = self.ns(side);
        self.ok(ns.sysctl(key, &value.to_string()));
        let path = format!("/proc/sys/{}", key.replace('.', "/"));
        let back = ns
            .run_in(move || std::fs::read_to_string(path))
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        self.check(back.trim() == value.to_string(), || {
            format!("sysctl {key} reads {back:?} after writing {value}")
        });
        self.note(&format!("{}: sysctl {key}={value}", side.name()));
    }

    /// `rfw ARGS` in `side`'s namespace; fails the scene unless it exits 0.
    /// Returns its output (stdout is iptables', stderr rfw's explanation).
    pub fn rfw(&self, side: Side, args: &[&str]) -> Output {
        let out = self.ok(self.run_tool(side, &self.tools.rfw, args));
        self.note(&format!(
            "{}: rfw {} -> {}; {}",
            side.name(),
            args.join(" "),
            out.status_text(),
            out.stderr_text().lines().next().unwrap_or("")
        ));
        if !out.status.success() {
            self.fail(&format!(
                "rfw {} failed: {}\n{}",
                args.join(" "),
                out.status_text(),
                out.stderr_text()
            ));
        }
        out
    }

    /// Packet and byte counters of the first rule of `chain` in `side`'s
    /// namespace, from `rfw -L CHAIN -vn -x`.
    pub fn rule_counters(&self, side: Side, chain: &str) -> (u64, u64) {
        let out = self.rfw(side, &["-L", chain, "-vn", "-x"]);
        let text = out.stdout_text();
        let row = text
            .lines()
            .skip(2)
            .find(|l| !l.trim().is_empty())
            .unwrap_or_else(|| self.fail(&format!("no rule in rfw -L {chain} -vn:\n{text}")));
        let mut f = row.split_whitespace().map(str::parse::<u64>);
        match (f.next(), f.next()) {
            (Some(Ok(p)), Some(Ok(b))) => (p, b),
            _ => self.fail(&format!("cannot read counters from {row:?}")),
        }
    }

    /// Starts `rnc ARGS` in `side`'s namespace (add `--explain` yourself),
    /// stdin a pipe held by the returned [`Nc`].
    pub fn rnc(&self, side: Side, label: &str, args: &[&str]) -> Nc {
        let run = Running::start(
            self.ns(side),
            &self.tools.rnc,
            args,
            In::Held,
            Out::Captured,
        )
        .labeled(label);
        self.ncs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((label.to_string(), run.stderr_capture()));
        self.note(&format!(
            "{}: {label}: rnc {} (pid {})",
            side.name(),
            args.join(" "),
            run.pid()
        ));
        Nc {
            run,
            log: Arc::clone(&self.log),
        }
    }

    /// `rnetstat ARGS` in `side`'s namespace.
    pub fn rnetstat(&self, side: Side, args: &[&str]) -> Output {
        let out = self.ok(self.run_tool(side, &self.tools.rnetstat, args));
        if !out.status.success() {
            self.fail(&format!(
                "rnetstat {} failed: {}\n{}",
                args.join(" "),
                out.status_text(),
                out.stderr_text()
            ));
        }
        out
    }

    /// The TCP rows on `port` of `rnetstat <args> --explain` (`-nat` or
    /// `-nato`); fails the scene if an annotation names another state than
    /// its row's State column.
    pub fn rows(&self, side: Side, args: &str, port: u16) -> Vec<Row> {
        let out = self.rnetstat(side, &[args, "--explain"]);
        let rows: Vec<Row> = out
            .stdout_text()
            .lines()
            .filter_map(Row::parse)
            .filter(|r| r.has_port(port))
            .collect();
        for r in &rows {
            if r.note_state() != Some(r.state.as_str()) {
                self.fail(&format!(
                    "rnetstat --explain annotation does not name the row's state {}: {:?}",
                    r.state, r.note
                ));
            }
        }
        rows
    }

    /// Polls `rnetstat <args> --explain` on `side` every [`POLL`] until
    /// `pick` returns something for the rows on `port`; fails the scene
    /// after `timeout`.
    pub fn wait_rows<T>(
        &self,
        side: Side,
        args: &str,
        port: u16,
        what: &str,
        timeout: Duration,
        mut pick: impl FnMut(&[Row]) -> Option<T>,
    ) -> T {
        let start = Instant::now();
        let deadline = start + timeout;
        loop {
            let rows = self.rows(side, args, port);
            if let Some(v) = pick(&rows) {
                self.note(&format!(
                    "{}: {what} (after {:.2?}){}",
                    side.name(),
                    start.elapsed(),
                    rows.iter()
                        .map(|r| format!("\n            {}", r.text))
                        .collect::<String>()
                ));
                return v;
            }
            if Instant::now() >= deadline {
                self.fail(&format!(
                    "{}: timed out after {timeout:?} waiting for {what}; last rows on port {port}: {:#?}",
                    side.name(),
                    rows.iter().map(|r| &r.text).collect::<Vec<_>>()
                ));
            }
            thread::sleep(POLL);
        }
    }

    /// Waits until `side` shows a row on `port` in `state`; returns it.
    pub fn wait_state(&self, side: Side, port: u16, state: &str, timeout: Duration) -> Row {
        self.wait_rows(
            side,
            "-nat",
            port,
            &format!("{state} appeared"),
            timeout,
            |rows| rows.iter().find(|r| r.state == state).cloned(),
        )
    }

    /// Like [`Scene::wait_state`] with `-nato` (the row carries its timer).
    pub fn wait_state_timer(&self, side: Side, port: u16, state: &str, timeout: Duration) -> Row {
        self.wait_rows(
            side,
            "-nato",
            port,
            &format!("{state} appeared"),
            timeout,
            |rows| rows.iter().find(|r| r.state == state).cloned(),
        )
    }

    /// Waits until no row on `port` of `side` is in `state`; returns when.
    pub fn wait_state_gone(
        &self,
        side: Side,
        port: u16,
        state: &str,
        timeout: Duration,
    ) -> Instant {
        self.wait_rows(
            side,
            "-nat",
            port,
            &format!("{state} gone"),
            timeout,
            |rows| (!rows.iter().any(|r| r.state == state)).then(Instant::now),
        )
    }

    /// Waits until `side` shows no row at all on `port`.
    pub fn wait_no_rows(&self, side: Side, port: u16, timeout: Duration) -> Instant {
        self.wait_rows(side, "-nat", port, "no rows left", timeout, |rows| {
            rows.is_empty().then(Instant::now)
        })
    }

    /// The states `side` shows on `port` now, in listing order.
    pub fn states(&self, side: Side, port: u16) -> Vec<String> {
        self.rows(side, "-nat", port)
            .into_iter()
            .map(|r| r.state)
            .collect()
    }

    /// Fails unless `side` shows exactly `states` on `port` (listing
    /// order), checked now.
    pub fn expect_states(&self, side: Side, port: u16, states: &[&str]) {
        let got = self.states(side, port);
        self.check(got == states, || {
            format!(
                "{} shows {got:?} on port {port}, expected {states:?}",
                side.name()
            )
        });
    }

    /// Compares the rows on `port` of `rnetstat -nat` with net-tools'
    /// `netstat -nat` (when installed): equal to a listing taken just
    /// before or just after netstat's, retried while a transition races.
    pub fn same_as_netstat(&self, side: Side, port: u16) {
        let Some(netstat) = self.tools.netstat.clone() else {
            self.note("netstat not installed: reference comparison skipped");
            return;
        };
        let lines = |prog: &Path| -> Vec<String> {
            let out = self.ok(self.run_tool(side, prog, &["-nat"]));
            out.stdout_text()
                .lines()
                .filter(|l| Row::parse(l).is_some_and(|r| r.has_port(port)))
                .map(str::to_string)
                .collect()
        };
        let mut last = (Vec::new(), Vec::new());
        for _ in 0..8 {
            let before = lines(&self.tools.rnetstat);
            let theirs = lines(&netstat);
            let after = lines(&self.tools.rnetstat);
            if theirs == before || theirs == after {
                self.note(&format!(
                    "{}: netstat -nat shows the same {} row(s) on port {port}",
                    side.name(),
                    theirs.len()
                ));
                return;
            }
            last = (theirs, after);
            thread::sleep(Duration::from_millis(30));
        }
        self.fail(&format!(
            "{}: netstat -nat and rnetstat -nat differ on port {port}:\nnetstat:  {:#?}\nrnetstat: {:#?}",
            side.name(),
            last.0,
            last.1
        ));
    }

    /// Asserts that `side` shows `state` on `port` in rnetstat (now or
    /// within `timeout`), that netstat agrees, and that `nc`'s narration
    /// names the same state (checked when the scene passes, so that a
    /// narration that disagrees does not hide what the rest of the
    /// scenario shows).
    pub fn agree(&self, side: Side, port: u16, state: &str, nc: &Nc, timeout: Duration) -> Row {
        self.agree_or(side, port, state, nc, timeout, "")
    }

    /// [`Scene::agree`] with `known` appended to the failure message when
    /// rnc's narration does not name the state (a diagnosis of a known
    /// tool bug).
    pub fn agree_or(
        &self,
        side: Side,
        port: u16,
        state: &str,
        nc: &Nc,
        timeout: Duration,
        known: &str,
    ) -> Row {
        let row = self.wait_state(side, port, state, timeout);
        self.same_as_netstat(side, port);
        self.narrations
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((
                nc.label().to_string(),
                nc.run.stderr_capture(),
                state.to_string(),
                known.to_string(),
            ));
        row
    }

    /// Checks, when the scene passes, that `nc`'s narration named `state`
    /// (`known`: as in [`Scene::agree_or`]).
    pub fn narrates(&self, nc: &Nc, state: &str, known: &str) {
        self.narrations
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((
                nc.label().to_string(),
                nc.run.stderr_capture(),
                state.to_string(),
                known.to_string(),
            ));
    }

    /// The narration checks of [`Scene::agree`]: the rnc lines that failed.
    fn narration_failures(&self) -> Vec<String> {
        let list = self
            .narrations
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        list.into_iter()
            .filter(|(_, cap, state, _)| {
                !cap.text().lines().any(|l| explain_state(l) == Some(state.as_str()))
            })
            .map(|(label, cap, state, known)| {
                let said: Vec<String> = cap
                    .text()
                    .lines()
                    .filter_map(explain_state)
                    .map(str::to_string)
                    .collect();
                format!(
                    "rnetstat shows {state}, but the `--explain` narration of {label} never names it (it named {said:?}){}",
                    if known.is_empty() { String::new() } else { format!("\n  {known}") }
                )
            })
            .collect()
    }

    /// Prints the scenario's result line (straight to stderr, so it shows
    /// under libtest's capture) and marks the scene as passed.
    /// With `RNET_LAB_SHOW=1` the timeline and what rnc said are printed
    /// too.
    pub fn pass(mut self) {
        let failures = self.narration_failures();
        if !failures.is_empty() {
            self.fail(&failures.join("\n"));
        }
        self.finished = true;
        if std::env::var_os("RNET_LAB_SHOW").is_some_and(|v| v == "1") {
            let mut report = format!("--- {} timeline ---\n{}\n", self.title, self.log.dump());
            for (label, cap) in self.ncs.lock().unwrap_or_else(|p| p.into_inner()).iter() {
                report.push_str(&format!("--- {label} stderr ---\n{}", cap.text()));
            }
            let _ = writeln!(std::io::stderr(), "{report}");
        }
        let _ = writeln!(
            std::io::stderr(),
            "lab: {}: PASS in {:.1} s",
            self.title,
            self.started.elapsed().as_secs_f64()
        );
    }
}

impl Drop for Scene {
    fn drop(&mut self) {
        if !self.finished && thread::panicking() {
            let _ = writeln!(
                std::io::stderr(),
                "lab: {}: FAIL after {:.1} s",
                self.title,
                self.started.elapsed().as_secs_f64()
            );
        }
    }
}

/// The SYN schedule of an active open (ip-sysctl.rst): `retries` plus
/// `linear` retransmissions; the first `linear + 1` gaps are 1 s, then
/// they double; the attempt is given up one more (doubled) gap after the
/// last SYN. Returns (SYNs sent, seconds to the last SYN, seconds to the
/// failure).
pub fn syn_schedule(retries: u32, linear: u32) -> (u32, u64, u64) {
    let total = retries + linear;
    let gap = |i: u32| {
        if i <= linear {
            1u64
        } else {
            1u64 << (i - linear)
        }
    };
    let last: u64 = (0..total).map(gap).sum();
    (total + 1, last, last + gap(total))
}
