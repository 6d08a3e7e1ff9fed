//! Running child processes under a deadline.
//!
//! Every child gets its own process group, so a timeout (or the drop of a
//! [`Background`] guard) can kill it together with anything it started.
//! Output is read by two threads so a chatty child never blocks on a full
//! pipe.

use std::io::{self, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::sys;

/// What a finished (or killed) child left behind.
#[derive(Clone, Debug)]
pub struct Output {
    /// How it ended.
    pub status: ExitStatus,
    /// Everything it wrote to stdout.
    pub stdout: Vec<u8>,
    /// Everything it wrote to stderr.
    pub stderr: Vec<u8>,
    /// True when the deadline passed and the harness killed it.
    pub timed_out: bool,
    /// Wall-clock time from spawn to exit.
    pub elapsed: Duration,
}

impl Output {
    /// The exit code, `None` when a signal ended the process.
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// `exit 3`, `signal 9`, with `(timed out)` when the harness killed it.
    pub fn status_text(&self) -> String {
        let base = match (self.status.code(), self.status.signal()) {
            (Some(c), _) => format!("exit {c}"),
            (None, Some(s)) => format!("signal {s}"),
            (None, None) => "unknown status".to_string(),
        };
        if self.timed_out {
            format!("{base} (timed out)")
        } else {
            base
        }
    }

    /// stdout as text (invalid UTF-8 replaced).
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// stderr as text (invalid UTF-8 replaced).
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// Ok when the process exited 0 in time, else an error naming `what`
    /// with its status and stderr.
    pub fn check(&self, what: &str) -> Result<(), String> {
        if !self.timed_out && self.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{what}: {}; stderr: {}",
                self.status_text(),
                self.stderr_text().trim_end()
            ))
        }
    }
}

fn spawn_reader<R: Read + Send + 'static>(pipe: Option<R>) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            // A read error just ends the capture; what was read is kept.
            let _ = p.read_to_end(&mut buf);
        }
        let _ = tx.send(buf);
    });
    rx
}

/// Runs `cmd` to completion with stdin from /dev/null and stdout/stderr
/// captured, killing its whole process group if it is still running after
/// `timeout`. The command's environment is used as the caller set it.
pub fn run(cmd: &mut Command, timeout: Duration) -> io::Result<Output> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let start = Instant::now();
    let deadline = start + timeout;
    let mut child = cmd.spawn()?;
    let pgid = child.id();
    let out_rx = spawn_reader(child.stdout.take());
    let err_rx = spawn_reader(child.stderr.take());
    let mut timed_out = false;
    let status = loop {
        if let Some(st) = child.try_wait()? {
            break st;
        }
        if Instant::now() >= deadline {
            timed_out = true;
            // The child is not reaped yet, so its group id is still ours.
            let _ = sys::kill_process_group(pgid);
            break child.wait()?;
        }
        thread::sleep(Duration::from_millis(2));
    };
    let elapsed = start.elapsed();
    // Grandchildren in the group may still hold the pipes open; give them
    // until the deadline (at least a short grace), then kill the group. A
    // group with members left cannot have had its id reused.
    let grace = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(500));
    let collect = |rx: &mpsc::Receiver<Vec<u8>>, timed_out: &mut bool| -> io::Result<Vec<u8>> {
        match rx.recv_timeout(grace) {
            Ok(b) => Ok(b),
            Err(_) => {
                *timed_out = true;
                let _ = sys::kill_process_group(pgid);
                rx.recv_timeout(Duration::from_secs(2)).map_err(|_| {
                    io::Error::other("child output pipe still open after killing its group")
                })
            }
        }
    };
    let stdout = collect(&out_rx, &mut timed_out)?;
    let stderr = collect(&err_rx, &mut timed_out)?;
    Ok(Output {
        status,
        stdout,
        stderr,
        timed_out,
        elapsed,
    })
}

/// A long-running child (a server, a holder of sockets) that is killed,
/// with its process group, when the guard is dropped, also during a panic.
pub struct Background {
    child: Child,
    label: String,
}

impl Background {
    /// Spawns `cmd` in its own process group with stdin from /dev/null.
    /// stdout and stderr are whatever the caller configured (default:
    /// inherited).
    pub fn spawn(cmd: &mut Command, label: &str) -> io::Result<Self> {
        Self::spawn_with_stdin(cmd, Stdio::null(), label)
    }

    /// Like [`Background::spawn`] with `stdin` as the child's standard
    /// input (e.g. a socket, `Stdio::from(OwnedFd::from(stream))`, to make
    /// the child a holder of that socket). Drop `cmd` afterwards so the
    /// parent's copy of the descriptor is closed.
    pub fn spawn_with_stdin(cmd: &mut Command, stdin: Stdio, label: &str) -> io::Result<Self> {
        cmd.stdin(stdin).process_group(0);
        let child = cmd.spawn()?;
        Ok(Background {
            child,
            label: label.to_string(),
        })
    }

    /// Spawns `cmd` in its own process group with the stdin, stdout and
    /// stderr the caller configured (pipes stay in [`Background::child_mut`]).
    pub fn start(cmd: &mut Command, label: &str) -> io::Result<Self> {
        let child = cmd.process_group(0).spawn()?;
        Ok(Background {
            child,
            label: label.to_string(),
        })
    }

    /// Waits up to `timeout` for the exit (polling every 20 ms); `None`
    /// while it still runs.
    pub fn wait_for(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let t = Instant::now();
        while t.elapsed() < timeout {
            if let Ok(Some(st)) = self.child.try_wait() {
                return Some(st);
            }
            thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// The child's process id (also its process group id).
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The label given at spawn time.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Access to the child (its pipes, `try_wait`).
    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Kills the child's group if it still runs and reaps it.
    pub fn stop(mut self) -> io::Result<ExitStatus> {
        self.kill_and_reap()
    }

    /// Kills the child's group if it still runs and reaps it, keeping the
    /// guard.
    pub fn kill(&mut self) -> io::Result<ExitStatus> {
        self.kill_and_reap()
    }

    fn kill_and_reap(&mut self) -> io::Result<ExitStatus> {
        if let Ok(None) = self.child.try_wait() {
            // Not reaped: the group id is still ours.
            let _ = sys::kill_process_group(self.child.id());
        }
        self.child.wait()
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.kill_and_reap();
    }
}

/// Polls `ready` every few milliseconds until it returns true or `timeout`
/// passes; the error names `what` was awaited.
pub fn wait_until(
    what: &str,
    timeout: Duration,
    mut ready: impl FnMut() -> bool,
) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    loop {
        if ready() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!("timed out after {timeout:?} waiting for {what}"));
        }
        thread::sleep(Duration::from_millis(10));
    }
}
