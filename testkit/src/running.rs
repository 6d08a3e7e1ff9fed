//! A program running (inside a network namespace, or not: [`Running::spawn`])
//! while the test watches:
//! stdin from /dev/null, a file, a pipe a thread fills, or a pipe the test
//! holds (typing, Ctrl-D); stdout to /dev/null, a file, a pipe the test
//! reads, or captured in memory; stderr always captured as it comes.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::netns::Netns;
use crate::process::Background;
use crate::signals::{self, Signal};

/// Where a child's stdin comes from.
pub enum In {
    /// /dev/null.
    Null,
    /// The file itself (a regular file).
    File(PathBuf),
    /// A pipe that a thread fills with the file's bytes and then closes,
    /// as `cat FILE |` does.
    Pipe(PathBuf),
    /// A pipe that a thread fills with these bytes and then closes.
    Bytes(Vec<u8>),
    /// A pipe the test holds (a terminal nobody types into until
    /// [`Running::type_bytes`]); [`Running::close_stdin`] is Ctrl-D, or
    /// the test takes it with [`Running::take_stdin`].
    Held,
}

/// Where a child's stdout goes.
pub enum Out {
    /// /dev/null.
    Null,
    /// This file, created or truncated.
    File(PathBuf),
    /// A pipe the test reads ([`Running::take_stdout`]).
    Piped,
    /// A pipe a thread reads into memory as it comes
    /// ([`Running::stdout`]).
    Captured,
}

/// A stream read to its end by a thread: the bytes so far, shared with
/// that thread, and when the stream ended (the writer exited or closed
/// it). Clones share the same buffer.
#[derive(Clone, Default)]
pub struct Capture(Arc<Mutex<Vec<u8>>>, Arc<Mutex<Option<Instant>>>);

impl Capture {
    /// Starts the thread that reads `pipe` (nothing when `None`).
    pub fn of<R: Read + Send + 'static>(pipe: Option<R>) -> Capture {
        let c = Capture::default();
        let buf = Arc::clone(&c.0);
        let ended = Arc::clone(&c.1);
        thread::spawn(move || {
            let Some(mut p) = pipe else { return };
            let mut chunk = [0u8; 4096];
            loop {
                match p.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => buf
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .extend_from_slice(&chunk[..n]),
                }
            }
            *ended.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        });
        c
    }

    /// When the stream ended, once it has.
    pub fn ended(&self) -> Option<Instant> {
        *self.1.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Everything read so far.
    pub fn bytes(&self) -> Vec<u8> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Everything read so far, as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        let b = self.0.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&b).into_owned()
    }
}

/// `exit 1`, `signal 2`.
pub fn status_text(s: ExitStatus) -> String {
    match (s.code(), s.signal()) {
        (Some(c), _) => format!("exit {c}"),
        (None, Some(sig)) => format!("signal {sig}"),
        _ => "?".to_string(),
    }
}

/// A program running inside a namespace (its pid is the program's:
/// `ip netns exec` execs it in place), SIGINT and SIGTERM at their default
/// action as in a terminal, stderr captured; its process group is killed
/// when dropped.
pub struct Running {
    bg: Background,
    label: String,
    stdin: Option<ChildStdin>,
    /// With [`Out::Piped`], until taken.
    stdout_pipe: Option<ChildStdout>,
    /// With [`Out::Captured`].
    stdout: Option<Capture>,
    stderr: Capture,
    started: Instant,
    status: Option<ExitStatus>,
    exited_at: Option<Instant>,
}

impl Running {
    /// Starts `prog ARGS` in `ns`.
    pub fn start(ns: &Netns, prog: &Path, args: &[&str], input: In, output: Out) -> Running {
        let name = prog
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let label = format!("[{}] {name} {}", ns.name(), args.join(" "));
        Running::spawn(ns.command(prog, args), &label, input, output)
    }

    /// Starts `cmd` as it is (its environment, anywhere), in its own
    /// process group, with SIGINT and SIGTERM at their default action.
    pub fn spawn(mut cmd: Command, label: &str, input: In, output: Out) -> Running {
        let label = label.to_string();
        let started = Instant::now();
        signals::default_dispositions(&mut cmd);
        match &output {
            Out::Null => cmd.stdout(Stdio::null()),
            Out::File(p) => cmd
                .stdout(File::create(p).unwrap_or_else(|e| panic!("create {}: {e}", p.display()))),
            Out::Piped | Out::Captured => cmd.stdout(Stdio::piped()),
        };
        cmd.stderr(Stdio::piped());
        let stdin = match &input {
            In::Null => Stdio::null(),
            In::File(p) => {
                Stdio::from(File::open(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
            }
            In::Pipe(_) | In::Bytes(_) | In::Held => Stdio::piped(),
        };
        let mut bg = Background::spawn_with_stdin(&mut cmd, stdin, &label)
            .unwrap_or_else(|e| panic!("cannot start {label}: {e}"));
        // The parent's copies of the files given to the child close here.
        drop(cmd);
        let child = bg.child_mut();
        let stderr = Capture::of(child.stderr.take());
        let (stdout_pipe, stdout) = match output {
            Out::Captured => (None, Some(Capture::of(child.stdout.take()))),
            _ => (child.stdout.take(), None),
        };
        let mut stdin = child.stdin.take();
        match input {
            In::Pipe(p) => {
                let mut w = stdin.take().expect("piped stdin");
                // Ends with EPIPE if the child exits first; the pipe closes
                // when the thread ends.
                thread::spawn(move || -> io::Result<u64> { io::copy(&mut File::open(p)?, &mut w) });
            }
            In::Bytes(b) => {
                let mut w = stdin.take().expect("piped stdin");
                thread::spawn(move || w.write_all(&b));
            }
            In::Null | In::File(_) | In::Held => {}
        }
        Running {
            bg,
            label,
            stdin,
            stdout_pipe,
            stdout,
            stderr,
            started,
            status: None,
            exited_at: None,
        }
    }

    pub fn pid(&self) -> u32 {
        self.bg.id()
    }

    /// Names it `label` in messages instead of `[namespace] program args`.
    pub fn labeled(mut self, label: &str) -> Running {
        self.label = label.to_string();
        self
    }

    /// Its name in messages.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// When it was started.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// Its stderr as it comes (a clone shares the buffer), e.g. to report
    /// it after the test dropped the process.
    pub fn stderr_capture(&self) -> Capture {
        self.stderr.clone()
    }

    /// The held stdin ([`In::Held`]), for the test to write and close.
    pub fn take_stdin(&mut self) -> ChildStdin {
        self.stdin.take().expect("stdin is not held")
    }

    /// The stdout pipe ([`Out::Piped`]), for the test to read.
    pub fn take_stdout(&mut self) -> ChildStdout {
        self.stdout_pipe.take().expect("stdout is not piped")
    }

    /// Types into the held stdin ([`In::Held`]).
    pub fn type_bytes(&mut self, b: &[u8]) {
        let w = self.stdin.as_mut().expect("stdin is not held");
        w.write_all(b)
            .and_then(|()| w.flush())
            .unwrap_or_else(|e| panic!("{}: write to stdin: {e}", self.label));
    }

    /// Ctrl-D: closes the held stdin.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Everything written to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.text()
    }

    /// Everything written to stdout so far ([`Out::Captured`]).
    pub fn stdout(&self) -> String {
        self.stdout.as_ref().expect("stdout is not captured").text()
    }

    /// The exit status a [`Running::poll`] has seen, without polling.
    pub fn status(&self) -> Option<ExitStatus> {
        self.status
    }

    /// The exit status, once it exited.
    pub fn poll(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            if let Ok(Some(st)) = self.bg.child_mut().try_wait() {
                self.status = Some(st);
                self.exited_at = Some(Instant::now());
            }
        }
        self.status
    }

    pub fn running(&mut self) -> bool {
        self.poll().is_none()
    }

    /// Waits for the exit; `Err` (with what it said) after `timeout`.
    pub fn wait(&mut self, timeout: Duration) -> Result<ExitStatus, String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(st) = self.poll() {
                // Let the readers drain the pipes.
                thread::sleep(Duration::from_millis(30));
                return Ok(st);
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "{} still running after {timeout:?}; stderr so far: {:?}",
                    self.label,
                    self.stderr()
                ));
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Waits up to `timeout` for the exit (polling every 5 ms); `None`
    /// while it still runs.
    pub fn wait_for(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(st) = self.poll() {
                return Some(st);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Kills its process group now (if it still runs) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.bg.kill();
    }

    /// Waits (up to `timeout`) until the captured streams reached their
    /// end, so that everything the process wrote has been read.
    pub fn drain(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let done = |c: &Capture| c.ended().is_some();
        while !(done(&self.stderr) && self.stdout.as_ref().is_none_or(done))
            && Instant::now() < deadline
        {
            thread::sleep(Duration::from_millis(2));
        }
    }

    /// The stdout capture, with [`Out::Captured`].
    pub fn stdout_capture(&self) -> Option<&Capture> {
        self.stdout.as_ref()
    }

    /// Everything written to stdout so far ([`Out::Captured`]), as bytes.
    pub fn stdout_bytes(&self) -> Vec<u8> {
        self.stdout
            .as_ref()
            .expect("stdout is not captured")
            .bytes()
    }

    /// Waits and panics with what it said after `timeout`.
    pub fn finish(&mut self, timeout: Duration) -> ExitStatus {
        self.wait(timeout).unwrap_or_else(|e| panic!("{e}"))
    }

    /// When [`Running::poll`] first saw it exited.
    pub fn exited_at(&self) -> Instant {
        self.exited_at.expect("not exited yet")
    }

    /// Seconds from start to exit (or to now while it runs).
    pub fn elapsed(&self) -> f64 {
        self.exited_at
            .unwrap_or_else(Instant::now)
            .duration_since(self.started)
            .as_secs_f64()
    }

    /// Waits until stderr has a line for which `pred` holds; panics with
    /// what it said if none comes within `timeout` or it exits first.
    pub fn wait_line(
        &mut self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(l) = self.stderr().lines().find(|l| pred(l)) {
                return l.to_string();
            }
            if Instant::now() >= deadline || !self.running() {
                if let Some(l) = self.stderr().lines().find(|l| pred(l)) {
                    return l.to_string();
                }
                panic!(
                    "{}: no stderr line {what} within {timeout:?} (status {:?}); stderr: {}",
                    self.label,
                    self.status,
                    self.stderr()
                );
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Sends `sig` while it runs (after the exit, nothing).
    pub fn signal(&mut self, sig: Signal) {
        if self.running() {
            signals::send(self.pid(), sig)
                .unwrap_or_else(|e| panic!("{}: {}: {e}", self.label, sig.describe()));
        }
    }

    /// `exit 0 after 1.23 s, stderr "…"` (with `stdout "…", ` before
    /// stderr when stdout is captured).
    pub fn outcome(&mut self) -> String {
        let st = match self.poll() {
            None => "running".to_string(),
            Some(s) => status_text(s),
        };
        let out = match &self.stdout {
            Some(c) => format!("stdout {:?}, ", c.text()),
            None => String::new(),
        };
        format!(
            "{st} after {:.2} s, {out}stderr {:?}",
            self.elapsed(),
            self.stderr()
        )
    }

    /// The label and [`Running::outcome`].
    pub fn describe(&mut self) -> String {
        let o = self.outcome();
        format!("{}: {o}", self.label)
    }
}
