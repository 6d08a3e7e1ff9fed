//! Fixture-tree comparison of `rnetstat` with net-tools `netstat`.
//!
//! Crafted `/proc` trees under `tests/fixtures/` (described in
//! `tests/fixtures/README.md`) cover every row shape the kernel writes and
//! the malformed lines a parser has to survive. For each flag combination
//! the real `netstat` runs with the tree bind-mounted over `/proc`, then
//! `rnetstat` runs three ways: with `RNET_PROC_ROOT=<tree>` and the real
//! `/proc`, with the tree bind-mounted over `/proc` and no
//! `RNET_PROC_ROOT`, and with both. Stdout, stderr and the exit status must
//! be equal byte for byte; nothing is masked.
//!
//! Every run happens inside `unshare -m -n`: a private mount namespace (so
//! the bind mounts are seen by that process tree only) and a new, empty
//! network namespace (its loopback is down, so no name lookup can leave
//! the machine). Inside it `/etc/hosts`, `/etc/resolv.conf` (`nameserver
//! 127.0.0.1`), `/etc/nsswitch.conf` (files, then dns) and `/etc/networks`
//! are replaced by the lab's own, and an nscd socket directory, if any, is
//! hidden, so neither tool can reach the machine's resolver. Both tools
//! are started as `netstat` (the binary is bind-mounted over
//! `<lab>/run/netstat` and found through `PATH`), so their messages carry
//! the same program name, with the environment `LC_ALL=C PATH=<lab>/run`
//! (plus `RNET_PROC_ROOT` where said) and nothing else.
//!
//! Needs root, `unshare` and `netstat`; otherwise the comparison tests
//! print why and pass, unless `RNET_REQUIRE_LAB=1`, which turns a missing
//! lab into a failure. `own_choices_*` needs none of that: it checks the
//! cases where rnetstat deliberately differs (netstat reads past its state
//! table or prints uninitialised memory) against fixed text.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use rnet_testkit::diff::unified_diff;
use rnet_testkit::process::{run, Output};
use rnet_testkit::{find_program, skip, sys};

/// Deadline of one child (a failed DNS query in the empty namespace is
/// immediate; this only bounds a hang).
const RUN_TIMEOUT: Duration = Duration::from_secs(30);

/// Names for 127.0.0.1, 198.18.0.1, 198.18.0.2 and 2001:db8::1 only; every
/// other address goes to DNS, which fails at once.
const HOSTS: &str = "127.0.0.1\tlocalhost\n\
                     198.18.0.1\tclient.rnet-lab.test client\n\
                     198.18.0.2\tserver.rnet-lab.test server\n\
                     2001:db8::1\tclient6.rnet-lab.test client6\n";

/// The namespace's own loopback, which is down: queries fail at once.
const RESOLV_CONF: &str = "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n";

/// Local files first, then the (unreachable) DNS; no daemon-backed module.
const NSSWITCH: &str = "passwd: files\n\
                        group: files\n\
                        shadow: files\n\
                        hosts: files dns\n\
                        networks: files\n\
                        services: files\n\
                        protocols: files\n";

/// Network names for the `names` tree.
const NETWORKS: &str = "loopback\t127.0.0.0\nrnetnet\t198.18.7.0\nzeronet\t0.1.2.3\n";

/// Runs inside `unshare -m -n`: `$1` lab etc dir, `$2` the tool to run as
/// `netstat`, `$3` the lab's run dir, `$4` a tree to bind over /proc (or
/// empty), `$5` the RNET_PROC_ROOT value (or empty), then the arguments.
/// /proc is replaced last, as `mount` itself reads /proc/self/mountinfo.
const SCRIPT: &str = r#"
fail() { echo "fixture-lab: $*" >&2; exit 125; }
etc=$1 tool=$2 run=$3 proc=$4 root=$5
shift 5
for f in hosts resolv.conf nsswitch.conf networks; do
  if [ -e "/etc/$f" ]; then
    mount --bind "$etc/$f" "/etc/$f" || fail "cannot bind /etc/$f"
  fi
done
for d in /run/nscd /var/run/nscd; do
  if [ -d "$d" ]; then
    mount --bind "$etc/empty" "$d" || fail "cannot hide $d"
  fi
done
mount --bind "$tool" "$run/netstat" || fail "cannot bind $tool"
if [ -n "$proc" ]; then
  mount --bind "$proc" /proc || fail "cannot bind $proc over /proc"
fi
if [ -n "$root" ]; then
  exec env -i LC_ALL=C PATH="$run" RNET_PROC_ROOT="$root" netstat "$@"
fi
exec env -i LC_ALL=C PATH="$run" netstat "$@"
"#;

/// Exit status the script uses when the lab itself failed.
const LAB_FAILURE: i32 = 125;

// ---------------------------------------------------------------------------
// Cases

/// One comparison: a fixture tree and the arguments after `netstat`.
type Case = (&'static str, &'static [&'static str]);

/// TCP-centred flag combinations, numeric, on the edge tree.
const EDGE_TCP: &[Case] = &[
    ("edge", &["-nat"]),
    ("edge", &["-natoe"]),
    ("edge", &["-natp"]),
    ("edge", &["-natpo"]),
    ("edge", &["-natW"]),
    ("edge", &["-nt"]),
    ("edge", &["-nlt"]),
    ("edge", &["-ee", "-nat"]),
    ("edge", &["-nate"]),
    ("edge", &["-ntW"]),
    ("edge", &["-nltpeo"]),
    ("edge", &["-nat6"]),
    ("edge", &["-nat4"]),
    ("edge", &["-natWo"]),
];

/// All protocols, numeric, on the edge tree.
const EDGE_ALL: &[Case] = &[
    ("edge", &["-neopa"]),
    ("edge", &["-nl"]),
    ("edge", &["-n"]),
    ("edge", &["-na"]),
    ("edge", &["-nau"]),
    ("edge", &["-naw"]),
    ("edge", &["-nax"]),
    ("edge", &["-napx"]),
    ("edge", &["-an6"]),
    ("edge", &["-an4"]),
    ("edge", &["-A", "inet6", "-an"]),
    ("edge", &["-A", "inet", "-an"]),
    ("edge", &["-natu", "--wide"]),
    ("edge", &["-tulpn"]),
    ("edge", &["-nau", "-o"]),
    ("edge", &["-nax", "-p"]),
    ("edge", &["-nlx"]),
    ("edge", &["-nav"]),
    ("edge", &["-naU"]),
    ("edge", &["-nawoe"]),
    ("edge", &["-nauW"]),
    ("edge", &["-nuo"]),
    ("edge", &["-nlpu"]),
];

/// Name resolution (hosts, services, protocols, users) on the edge tree.
const EDGE_NAMES: &[Case] = &[
    ("edge", &["--numeric-ports", "-at"]),
    ("edge", &["--numeric-hosts", "-at"]),
    ("edge", &["-at"]),
    ("edge", &["-a"]),
    ("edge", &["-ae"]),
    ("edge", &["-l", "-p"]),
    ("edge", &["-t"]),
    ("edge", &["-aW"]),
    ("edge", &["-lW"]),
    ("edge", &["-au"]),
    ("edge", &["-aw"]),
    ("edge", &["-ae", "--numeric-users"]),
    ("edge", &["-atW"]),
];

/// Missing /proc/net files.
const MISSING: &[Case] = &[
    ("tcponly", &["-nu"]),
    ("tcponly", &["-nt"]),
    ("tcponly", &["-nat6"]),
    ("tcponly", &["-nx"]),
    ("tcponly", &["-na"]),
    ("tcponly", &["-nav"]),
    ("tcponly", &["-nau"]),
    ("tcponly", &["-nw"]),
    ("tcponly", &["-nU"]),
    ("tcponly", &["-nS"]),
    // A family without protocols (net-tools' flag_noprot): missing
    // protocol files are silent and do not fail.
    ("tcponly", &["-n4"]),
    ("tcponly", &["-nA", "inet"]),
    ("tcponly", &["-n4v"]),
    ("tcponly", &["-natp"]),
    ("tcponly", &["-ntv"]),
    ("tcponly", &["-A", "inet6", "-nt"]),
    ("tcponly", &["-A", "unix", "-n"]),
];

/// The networks database.
const NAMES_DB: &[Case] = &[
    ("names", &["-nat"]),
    ("names", &["-at"]),
    ("names", &["-t"]),
    ("names", &["-ae"]),
];

/// Input the kernel never writes.
const QUIRKS: &[Case] = &[
    ("quirks", &["-nat"]),
    ("quirks", &["-natp"]),
    ("quirks", &["-nx"]),
    ("quirks", &["-napx"]),
];

/// `-s` on counters the kernel never writes (see `fixtures/README.md`):
/// unknown sections and counters, negative and overflowing values, short
/// value lines, CRLF, a pair without a colon; and without the files.
const STATISTICS: &[Case] = &[
    ("stats", &["-s"]),
    ("stats", &["-st"]),
    ("stats", &["-su"]),
    ("stats", &["-sw"]),
    ("stats", &["-s6"]),
    ("stats", &["-s", "-6", "-t"]),
    ("stats", &["-s", "-A", "inet6", "-u"]),
    ("stats", &["-s", "-4", "-6"]),
    ("stats", &["--statistics", "--tcp", "--udp"]),
    ("tcponly", &["-s"]),
    ("tcponly", &["-s6"]),
    ("edge", &["-s"]),
];

/// `-r` on routing tables the kernel never writes (see
/// `fixtures/README.md`), a header without a wanted column, and no table.
const ROUTES: &[Case] = &[
    ("routes", &["-rn"]),
    ("routes", &["-r"]),
    ("routes", &["-rne"]),
    ("routes", &["-rnee"]),
    ("routes", &["-ree"]),
    ("routes", &["-reee"]),
    ("routes", &["-rn6"]),
    ("routes", &["-r6"]),
    ("routes", &["-r", "-A", "inet6,inet", "-n"]),
    ("routes", &["-rN"]),
    ("routes", &["-rC"]),
    ("routes", &["-rCF", "-n"]),
    ("routes", &["-rCee"]),
    ("routes", &["-rCn6"]),
    ("tcponly", &["-rC"]),
    ("stats", &["-rn"]),
    ("stats", &["-rn6"]),
    ("tcponly", &["-rn"]),
    ("tcponly", &["-rn", "-A", "inet6"]),
];

#[test]
fn routes_on_odd_tables() {
    compare_cases("routes_on_odd_tables", ROUTES);
}

/// `-i` on `/proc/net/dev` files the kernel never writes (see
/// `fixtures/README.md`); the flags and MTU come from the empty network
/// namespace the comparison runs in (only `lo`, down).
const INTERFACES: &[Case] = &[
    ("ifaces", &["-i"]),
    ("ifaces", &["-ia"]),
    ("ifaces", &["-ian"]),
    ("ifaces", &["-iea"]),
    ("ifaces", &["-iee"]),
    ("stats", &["-iea"]),
    ("tcponly", &["-iea"]),
    ("stats", &["-i"]),
    ("stats", &["-ia"]),
    ("tcponly", &["-i"]),
    ("tcponly", &["-ia"]),
];

#[test]
fn interfaces_on_odd_tables() {
    compare_cases("interfaces_on_odd_tables", INTERFACES);
}

/// `-g` on group files the kernel never writes (see `fixtures/README.md`).
const GROUPS: &[Case] = &[
    ("groups", &["-g"]),
    ("groups", &["-gn"]),
    ("groups6only", &["-gn"]),
    ("groups6only", &["-gnt"]),
    ("groups", &["-gnat"]),
    ("groups", &["-g", "-n", "-A", "inet6"]),
    ("tcponly", &["-g"]),
    ("tcponly", &["-M"]),
    ("tcponly", &["-Mne"]),
];

#[test]
fn groups_on_odd_tables() {
    compare_cases("groups_on_odd_tables", GROUPS);
}

#[test]
fn statistics_on_odd_counters() {
    compare_cases("statistics_on_odd_counters", STATISTICS);
}

#[test]
fn edge_tree_tcp_numeric() {
    compare_cases("edge_tree_tcp_numeric", EDGE_TCP);
}

#[test]
fn edge_tree_all_protocols_numeric() {
    compare_cases("edge_tree_all_protocols_numeric", EDGE_ALL);
}

#[test]
fn edge_tree_with_name_lookups() {
    compare_cases("edge_tree_with_name_lookups", EDGE_NAMES);
}

#[test]
fn missing_proc_files() {
    compare_cases("missing_proc_files", MISSING);
}

#[test]
fn networks_database() {
    compare_cases("networks_database", NAMES_DB);
}

#[test]
fn quirks_the_kernel_never_writes() {
    compare_cases("quirks_the_kernel_never_writes", QUIRKS);
}

/// The trees rely on committed symlinks (`fd/N -> socket:[N]`) and on a
/// few files being absent; a checkout that lost them would still compare
/// equal while testing much less, so check them here (no root needed).
#[test]
fn fixture_trees_are_intact() {
    let edge = fixture_dir("edge");
    for (link, target) in [
        ("4242/fd/3", "socket:[158464]"),
        ("4243/fd/3", "[0000]:158490"),
        ("4244/fd/3", "socket:[4000000000]"),
        ("4246/fd/3", "socket:[158464]"),
        ("4250/fd/3", "socket:[]"),
        ("4250/fd/x9", "socket:[158501]"),
        ("self/fd/3", "socket:[158605]"),
    ] {
        let got = fs::read_link(edge.join(link))
            .unwrap_or_else(|e| panic!("fixtures/edge/{link} is not a symlink: {e}"));
        assert_eq!(got, Path::new(target), "fixtures/edge/{link}");
    }
    assert!(edge.join("4242/fd/8").is_file(), "4242/fd/8: a plain file");
    assert!(!edge.join("4247/cmdline").exists(), "4247 has no cmdline");
    assert!(!edge.join("4249/fd").exists(), "4249 has no fd/");
    for f in [
        "tcp", "tcp6", "udp", "udp6", "udplite", "udplite6", "raw", "raw6", "unix",
    ] {
        assert!(edge.join("net").join(f).is_file(), "fixtures/edge/net/{f}");
    }
    let udp = fs::read(edge.join("net/udp")).expect("edge/net/udp");
    assert!(!udp.ends_with(b"\n"), "edge/net/udp ends without a newline");
    let only: Vec<_> = fs::read_dir(fixture_dir("tcponly/net"))
        .expect("fixtures/tcponly/net")
        .map(|e| e.expect("readdir").file_name())
        .collect();
    assert_eq!(only, ["tcp"], "tcponly/net holds tcp only");
    let quirks = fixture_dir("quirks");
    assert_eq!(
        fs::read_link(quirks.join("4300/fd/3")).expect("quirks/4300/fd/3"),
        Path::new("socket:[0377]")
    );
    let tcp = fs::read(quirks.join("net/tcp")).expect("quirks/net/tcp");
    assert!(tcp.windows(2).any(|w| w == b"\r\n"), "quirks: a CRLF line");
    assert!(tcp.windows(2).any(|w| w == b"\n\n"), "quirks: a blank line");
}

// ---------------------------------------------------------------------------
// rnetstat's deliberate differences, checked against fixed text.

const OWN_NATE: &str = "\
Active Internet connections (servers and established)
Proto Recv-Q Send-Q Local Address           Foreign Address         State       User       Inode     
tcp        0      0 127.0.0.1:5555          127.0.0.1:50000         SYN_RECV    1000       70001     
tcp        0      0 127.0.0.1:5555          127.0.0.1:50001         UNKNOWN     0          70002     
tcp        0      0 127.0.0.1:5555          127.0.0.1:50002         UNKNOWN     0          70003     
tcp        3      5 127.0.0.1:5555          127.0.0.1:50003         ESTABLISHED 0          0         
tcp6       0      0 ::1:5556                ::1:50016               SYN_RECV    0          70010     
tcp6       0      0 ::1:5556                ::1:50017               UNKNOWN     0          70011     
";

const OWN_NATO: &str = "\
Active Internet connections (servers and established)
Proto Recv-Q Send-Q Local Address           Foreign Address         State       Timer
tcp        0      0 127.0.0.1:5555          127.0.0.1:50000         SYN_RECV    on (1.00/2/0)
tcp        0      0 127.0.0.1:5555          127.0.0.1:50001         UNKNOWN     off (0.00/0/0)
tcp        0      0 127.0.0.1:5555          127.0.0.1:50002         UNKNOWN     off (0.00/0/0)
tcp        3      5 127.0.0.1:5555          127.0.0.1:50003         ESTABLISHED on (2.00/2/0)
tcp6       0      0 ::1:5556                ::1:50016               SYN_RECV    off (0.00/0/0)
tcp6       0      0 ::1:5556                ::1:50017               UNKNOWN     off (0.00/0/0)
";

const OWN_NLT: &str = "\
Active Internet connections (only servers)
Proto Recv-Q Send-Q Local Address           Foreign Address         State      
";

#[test]
fn own_choices_states_past_the_table_and_short_lines() {
    let tree = fixture_dir("own");
    for (args, want) in [
        (&["-nate"][..], OWN_NATE),
        (&["-nato"][..], OWN_NATO),
        (&["-nlt"][..], OWN_NLT),
    ] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rnetstat"));
        cmd.args(args)
            .env_clear()
            .env("LC_ALL", "C")
            .env("RNET_PROC_ROOT", &tree);
        let out = run(&mut cmd, RUN_TIMEOUT)
            .unwrap_or_else(|e| panic!("cannot run rnetstat {args:?}: {e}"));
        assert!(!out.timed_out, "rnetstat {args:?} timed out");
        let got = String::from_utf8_lossy(&out.stdout);
        assert!(
            got == want,
            "rnetstat {args:?} on fixtures/own:\n{}",
            unified_diff("expected", "rnetstat", want, &got, 2)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "",
            "rnetstat {args:?}: stderr"
        );
        assert_eq!(out.status.code(), Some(0), "rnetstat {args:?}: status");
    }
}

// ---------------------------------------------------------------------------
// The lab

/// Which program runs, and how it is pointed at the tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    /// net-tools, tree bind-mounted over /proc.
    Netstat,
    /// rnetstat with RNET_PROC_ROOT, the real /proc left alone.
    RnetstatEnv,
    /// rnetstat with the tree bind-mounted over /proc, no RNET_PROC_ROOT.
    RnetstatBind,
    /// rnetstat with both.
    RnetstatBindEnv,
}

impl Side {
    const RNETSTAT: [Side; 3] = [Side::RnetstatEnv, Side::RnetstatBind, Side::RnetstatBindEnv];

    fn describe(self) -> &'static str {
        match self {
            Side::Netstat => "netstat, tree bound over /proc",
            Side::RnetstatEnv => "rnetstat, RNET_PROC_ROOT=tree, real /proc",
            Side::RnetstatBind => "rnetstat, tree bound over /proc, no RNET_PROC_ROOT",
            Side::RnetstatBindEnv => "rnetstat, tree bound over /proc and RNET_PROC_ROOT=tree",
        }
    }
}

/// A private scratch directory with the lab's /etc files and the mount
/// point the tool under test is bound to; removed on drop.
struct Lab {
    dir: PathBuf,
    unshare: PathBuf,
    sh: PathBuf,
    netstat: PathBuf,
    rnetstat: PathBuf,
}

impl Drop for Lab {
    fn drop(&mut self) {
        // The bind mounts lived in namespaces that ended with their
        // processes; only plain files are left.
        let _ = fs::remove_dir_all(&self.dir);
    }
}

impl Lab {
    /// The lab for one test, or why there is none.
    fn new(test: &str) -> Result<Lab, String> {
        match sys::effective_uid() {
            0 => {}
            uid => return Err(format!("needs root (euid is {uid})")),
        }
        let unshare = find_program("unshare").ok_or("`unshare` not found")?;
        let netstat = find_program("netstat").ok_or("net-tools `netstat` not found")?;
        let sh = find_program("sh").ok_or("`sh` not found")?;
        let rnetstat = PathBuf::from(env!("CARGO_BIN_EXE_rnetstat"));
        let dir =
            std::env::temp_dir().join(format!("rnetstat-fixtures-{}-{}", std::process::id(), test));
        let _ = fs::remove_dir_all(&dir);
        let lab = Lab {
            dir,
            unshare,
            sh,
            netstat,
            rnetstat,
        };
        lab.populate()
            .map_err(|e| format!("cannot prepare {}: {e}", lab.dir.display()))?;
        // One harmless run proves that namespaces and bind mounts work.
        let true_bin = find_program("true").ok_or("`true` not found")?;
        let probe = lab
            .spawn_script(&true_bin, None, None, &[])
            .map_err(|e| format!("cannot run `unshare`: {e}"))?;
        if probe.timed_out || !probe.status.success() {
            return Err(format!(
                "`unshare -m -n` with bind mounts does not work here ({}): {}",
                probe.status_text(),
                String::from_utf8_lossy(&probe.stderr).trim_end()
            ));
        }
        Ok(lab)
    }

    fn etc(&self) -> PathBuf {
        self.dir.join("etc")
    }

    fn run_dir(&self) -> PathBuf {
        self.dir.join("run")
    }

    fn populate(&self) -> io::Result<()> {
        fs::create_dir_all(self.etc().join("empty"))?;
        fs::create_dir_all(self.run_dir())?;
        fs::write(self.etc().join("hosts"), HOSTS)?;
        fs::write(self.etc().join("resolv.conf"), RESOLV_CONF)?;
        fs::write(self.etc().join("nsswitch.conf"), NSSWITCH)?;
        fs::write(self.etc().join("networks"), NETWORKS)?;
        // The mount point for the tool; the bind mount brings its mode.
        fs::write(self.run_dir().join("netstat"), b"")?;
        Ok(())
    }

    /// Runs `tool` as `netstat` with `args` in fresh namespaces.
    fn spawn_script(
        &self,
        tool: &Path,
        bind_proc: Option<&Path>,
        proc_root: Option<&Path>,
        args: &[&str],
    ) -> io::Result<Output> {
        let mut cmd = Command::new(&self.unshare);
        cmd.args(["-m", "-n", "--"])
            .arg(&self.sh)
            .arg("-c")
            .arg(SCRIPT)
            .arg("fixture-lab")
            .arg(self.etc())
            .arg(tool)
            .arg(self.run_dir())
            .arg(bind_proc.map(Path::as_os_str).unwrap_or_default())
            .arg(proc_root.map(Path::as_os_str).unwrap_or_default())
            .args(args)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
        run(&mut cmd, RUN_TIMEOUT)
    }

    /// One side of a comparison.
    fn run(&self, side: Side, tree: &Path, args: &[&str]) -> Output {
        let (tool, bind, root) = match side {
            Side::Netstat => (&self.netstat, Some(tree), None),
            Side::RnetstatEnv => (&self.rnetstat, None, Some(tree)),
            Side::RnetstatBind => (&self.rnetstat, Some(tree), None),
            Side::RnetstatBindEnv => (&self.rnetstat, Some(tree), Some(tree)),
        };
        let out = self
            .spawn_script(tool, bind, root, args)
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", side.describe()));
        if out.status.code() == Some(LAB_FAILURE)
            && String::from_utf8_lossy(&out.stderr).contains("fixture-lab:")
        {
            panic!(
                "lab failure running {} {args:?}: {}",
                side.describe(),
                String::from_utf8_lossy(&out.stderr).trim_end()
            );
        }
        out
    }
}

/// The lab, or `None` after printing why the test is skipped; with
/// `RNET_REQUIRE_LAB=1` a missing lab fails the test instead.
fn lab_or_skip(test: &str) -> Option<Lab> {
    match Lab::new(test) {
        Ok(lab) => Some(lab),
        Err(why) => {
            skip(test, &why);
            None
        }
    }
}

fn fixture_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Compares netstat with every rnetstat side for each case; all
/// mismatches are reported together.
fn compare_cases(test: &str, cases: &[Case]) {
    let Some(lab) = lab_or_skip(test) else {
        return;
    };
    let mut failures = Vec::new();
    for (tree_name, args) in cases {
        let tree = fixture_dir(tree_name);
        assert!(
            tree.join("net/tcp").is_file(),
            "fixture tree {} is missing",
            tree.display()
        );
        let want = lab.run(Side::Netstat, &tree, args);
        if want.timed_out {
            failures.push(format!(
                "netstat {} on fixtures/{tree_name}: timed out",
                args.join(" ")
            ));
            continue;
        }
        if want.stdout.is_empty() && want.stderr.is_empty() {
            failures.push(format!(
                "netstat {} on fixtures/{tree_name}: no output at all ({}), the lab is broken",
                args.join(" "),
                want.status_text()
            ));
            continue;
        }
        // rnetstat sides that differ, grouped by identical output.
        let mut seen: Vec<(Output, Vec<Side>)> = Vec::new();
        for side in Side::RNETSTAT {
            let got = lab.run(side, &tree, args);
            if same(&got, &want) {
                continue;
            }
            match seen.iter_mut().find(|(o, _)| same(o, &got)) {
                Some((_, sides)) => sides.push(side),
                None => seen.push((got, vec![side])),
            }
        }
        for (got, sides) in seen {
            failures.push(describe_mismatch(tree_name, args, &want, &got, &sides));
        }
    }
    if !failures.is_empty() {
        panic!(
            "{test}: {} of {} cases differ\n\n{}",
            failures.len(),
            cases.len(),
            failures.join("\n")
        );
    }
    eprintln!(
        "{test}: {} cases, each identical in {} rnetstat runs",
        cases.len(),
        Side::RNETSTAT.len()
    );
}

fn describe_mismatch(
    tree: &str,
    args: &[&str],
    want: &Output,
    got: &Output,
    sides: &[Side],
) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "=== netstat {} on fixtures/{tree}", args.join(" "));
    for side in sides {
        let _ = writeln!(s, "    differs: {}", side.describe());
    }
    if want.status != got.status || got.timed_out {
        let _ = writeln!(
            s,
            "--- exit status: netstat {}, rnetstat {}",
            want.status_text(),
            got.status_text()
        );
    }
    if want.stdout != got.stdout {
        let _ = writeln!(s, "--- stdout (- netstat, + rnetstat, `|` ends a line):");
        s.push_str(&unified_diff(
            "netstat",
            "rnetstat",
            &want.stdout_text(),
            &got.stdout_text(),
            2,
        ));
    }
    if want.stderr != got.stderr {
        let _ = writeln!(s, "--- stderr (- netstat, + rnetstat, `|` ends a line):");
        s.push_str(&unified_diff(
            "netstat",
            "rnetstat",
            &want.stderr_text(),
            &got.stderr_text(),
            2,
        ));
    }
    s
}

/// Both ran to the end and left the same status and bytes.
fn same(a: &Output, b: &Output) -> bool {
    !a.timed_out
        && !b.timed_out
        && a.status == b.status
        && a.stdout == b.stdout
        && a.stderr == b.stderr
}
