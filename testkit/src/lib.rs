//! The test kit of every package of the workspace (`publish = false`,
//! a dev-dependency only).
//!
//! - [`lab_or_skip`], [`skip`], [`lab_required`]: checks the prerequisites
//!   (root, `ip`, the original tools) and either hands back a [`LabEnv`] or
//!   prints why the test is skipped; with `RNET_REQUIRE_LAB=1` (CI) a
//!   missing prerequisite fails.
//! - [`find_program`], [`tool_under_test`]: the originals in the standard
//!   directories; `rnetstat` / `rnc` / `rfw` (`RNETSTAT_BIN` ..., else next
//!   to the test executable's target directory).
//! - [`netns`]: namespaces and the client/server veth pair, with private
//!   name lookups; everything is removed on drop, also on panic.
//! - [`process`]: children under deadlines, killed on drop; [`running`]: a
//!   program in a namespace with its stdin, stdout and stderr under the
//!   test's control; [`signals`]: keystrokes as signals.
//! - [`compare`], [`diff`]: run the original and ours identically and
//!   report a mismatch with a unified diff.
//! - [`labkit`]: the lab's scenes (client and server, rnc, rnetstat, rfw).
//! - [`tracefs`]: the kernel's TCP state tracepoint in a private instance.
//! - [`tempdir`]: temporary directories removed on drop.
//! - [`rng`]: seeded generators for property tests; [`pattern`]: bytes
//!   to send and check.
//! - [`fake_iptables`]: a fake `iptables` that records what rfw runs.
//! - [`rules`]: the article's iptables rules as data, and [`argv`]
//!   (`argv("-I OUTPUT -p tcp …")`) for typing an argument vector.
//!
//! Each test builds its own namespaces with unique names, so tests may run
//! in parallel threads of one test process. The only `unsafe` is in
//! [`sys`].

pub mod compare;
pub mod diff;
pub mod fake_iptables;
pub mod labkit;
pub mod netns;
pub mod process;
pub mod rng;
pub mod rules;
pub mod running;
pub mod signals;
#[allow(unsafe_code)]
pub mod sys;
pub mod tempdir;
pub mod tracefs;

pub use rules::{argv, strs};

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// `PATH` given to every child (the environment is otherwise scrubbed).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// `<pid>-<n>`, unique within this machine for the life of the process.
pub fn unique_suffix() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// True when CI asked for lab tests to fail instead of skipping.
pub fn lab_required() -> bool {
    std::env::var_os("RNET_REQUIRE_LAB").is_some_and(|v| v == "1")
}

/// Reports that `test` cannot run because of `reason`: prints it (straight
/// to the process's stderr, so it shows even while libtest captures
/// output) and returns, or panics when `RNET_REQUIRE_LAB=1`.
pub fn skip(test: &str, reason: &str) {
    if lab_required() {
        panic!("{test}: {reason} (RNET_REQUIRE_LAB=1 makes this a failure instead of a skip)");
    }
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}: {reason} (set RNET_REQUIRE_LAB=1 to fail instead)"
    );
}

/// True when this process runs as root; otherwise [`skip`]s `test`,
/// saying that it needs root and `why`.
pub fn root_or_skip(test: &str, why: &str) -> bool {
    let euid = sys::effective_uid();
    if euid == 0 {
        return true;
    }
    skip(test, &format!("needs root ({why}; euid is {euid})"));
    false
}

/// Finds `name` in the standard directories (the test's own `PATH` is not
/// trusted: children run with [`DEFAULT_PATH`]).
pub fn find_program(name: &str) -> Option<PathBuf> {
    DEFAULT_PATH
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| std::fs::metadata(p).is_ok_and(|m| m.is_file()))
}

/// What a lab test may rely on.
#[derive(Clone, Debug)]
pub struct LabEnv {
    /// The `ip` binary (iproute2).
    pub ip: PathBuf,
    /// The other programs asked for, in the order asked.
    pub programs: Vec<(String, PathBuf)>,
}

impl LabEnv {
    /// Path of a program named in [`lab_or_skip`].
    pub fn program(&self, name: &str) -> &Path {
        self.programs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, p)| p.as_path())
            .unwrap_or_else(|| panic!("{name} was not requested from lab_or_skip"))
    }
}

/// Why the lab cannot run here, if it cannot: not root, no `ip`, or one of
/// `programs` missing.
pub fn lab_prerequisites(programs: &[&str]) -> Result<LabEnv, String> {
    let euid = sys::effective_uid();
    if euid != 0 {
        return Err(format!(
            "needs root for network namespaces (euid is {euid})"
        ));
    }
    let ip = find_program("ip")
        .ok_or("`ip` (iproute2) not found in /usr/sbin, /usr/bin, /sbin or /bin")?;
    let mut found = Vec::new();
    for p in programs {
        let path = find_program(p).ok_or_else(|| format!("`{p}` not found in {DEFAULT_PATH}"))?;
        found.push((p.to_string(), path));
    }
    if !Path::new("/proc/sys/net/ipv6").exists() {
        return Err(
            "IPv6 is disabled in this kernel (no /proc/sys/net/ipv6); the lab needs it".to_string(),
        );
    }
    if !Path::new("/proc/thread-self/net").exists() {
        return Err(
            "/proc/thread-self/net is missing (needs Linux >= 3.17 with /proc mounted)".to_string(),
        );
    }
    Ok(LabEnv {
        ip,
        programs: found,
    })
}

/// The lab environment, or `None` after [`skip`] explained why not.
pub fn lab_or_skip(test: &str, programs: &[&str]) -> Option<LabEnv> {
    match lab_prerequisites(programs) {
        Ok(env) => Some(env),
        Err(reason) => {
            skip(test, &reason);
            None
        }
    }
}

/// The binary under test: `$<env_var>` if set, else `<name>` in this test
/// executable's profile directory (`target/<profile>/deps/<test>` ->
/// `target/<profile>/<name>`), else `target/debug/<name>` or
/// `target/release/<name>`. Panics with the fix when none exists.
pub fn tool_under_test(name: &str, env_var: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(env_var) {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "{env_var}={} does not name a file",
            p.display()
        );
        return p;
    }
    let mut candidates = Vec::new();
    if let Ok(exe) = std::env::current_exe() {
        // target/<profile>/deps/<test-exe>
        if let Some(profile) = exe.parent().and_then(Path::parent) {
            candidates.push(profile.join(name));
            if let Some(target) = profile.parent() {
                candidates.push(target.join("debug").join(name));
                candidates.push(target.join("release").join(name));
            }
        }
    }
    candidates.dedup();
    if let Some(found) = candidates.iter().find(|p| p.is_file()) {
        return found.clone();
    }
    let looked: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
    panic!(
        "binary `{name}` not found (looked at: {}); run `cargo build --workspace --bins` first, \
         or set {env_var} to the binary to test",
        looked.join(", ")
    );
}

/// A deterministic pattern of `n` bytes from `seed` (xorshift32, the top
/// byte of each step: every value occurs, no period of 256), for data
/// whose every byte a test checks.
pub fn pattern(n: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}

/// Runs `program ARGS` on a fixture tree: a cleared environment with only
/// `LC_ALL=C` and `RNET_PROC_ROOT=root`, at most 30 s. Returns stdout,
/// stderr and the exit code (-1 when a signal ended it); panics when it
/// cannot start or overruns.
pub fn run_on_tree(program: &Path, root: &Path, args: &[&str]) -> (Vec<u8>, Vec<u8>, i32) {
    let mut cmd = std::process::Command::new(program);
    cmd.args(args)
        .env_clear()
        .env("LC_ALL", "C")
        .env(rnet_core::procnet::PROC_ROOT_ENV, root);
    let out = process::run(&mut cmd, std::time::Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    assert!(
        !out.timed_out,
        "{} {args:?} ran over 30 s",
        program.display()
    );
    let code = out.code().unwrap_or(-1);
    (out.stdout, out.stderr, code)
}
