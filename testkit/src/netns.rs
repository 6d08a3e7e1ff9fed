//! Network namespaces for the lab: one [`Netns`] per namespace, and a
//! [`LabPair`] of two ("client" and "server") joined by a veth pair, the
//! two machines of README.md's lab walkthrough.
//!
//! Network rule: traffic only ever flows over loopback or the veth inside
//! these namespaces, between addresses of 198.18.0.0/15 and 2001:db8::/32.
//! The veth is created directly inside the client namespace (its peer
//! directly inside the server namespace), so it never appears in the
//! machine's own namespace, not even for a moment. Name lookups from inside
//! use `/etc/netns/<name>/{hosts,resolv.conf,nsswitch.conf}`: the
//! namespace's own hosts file, and DNS at 127.0.0.1 of the namespace's own
//! loopback where nothing listens, so a lookup that misses fails at once
//! and never leaves the namespace.
//!
//! Everything is undone on drop (also while a test panics): processes left
//! inside are killed, the veth and the namespace deleted, the
//! `/etc/netns/<name>` directory removed.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::thread;
use std::time::Duration;

use crate::process::{self, Output};
use crate::{sys, unique_suffix, DEFAULT_PATH};

/// Client address on the veth (IPv4, /24).
pub const CLIENT_V4: &str = "198.18.0.1";
/// Server address on the veth (IPv4, /24).
pub const SERVER_V4: &str = "198.18.0.2";
/// Client address on the veth (IPv6, /64).
pub const CLIENT_V6: &str = "2001:db8::1";
/// Server address on the veth (IPv6, /64).
pub const SERVER_V6: &str = "2001:db8::2";

/// Time allowed for one `ip` invocation.
const IP_TIMEOUT: Duration = Duration::from_secs(10);

/// Where `ip netns exec` looks for per-namespace files.
const ETC_NETNS: &str = "/etc/netns";

/// Whether `/etc/netns` existed before this test process first touched
/// it; only a directory we created ourselves is removed again (when empty).
fn etc_netns_preexisted() -> bool {
    static PRE: OnceLock<bool> = OnceLock::new();
    *PRE.get_or_init(|| Path::new(ETC_NETNS).exists())
}

/// Runs `ip ARGS` with a scrubbed environment and a deadline.
pub fn run_ip(ip: &Path, args: &[&str]) -> Result<Output, String> {
    let mut cmd = Command::new(ip);
    cmd.args(args)
        .env_clear()
        .env("LC_ALL", "C")
        .env("PATH", DEFAULT_PATH);
    process::run(&mut cmd, IP_TIMEOUT)
        .map_err(|e| format!("cannot run {} {}: {e}", ip.display(), args.join(" ")))
}

/// Runs `ip ARGS` and fails unless it exits 0.
pub fn ip_ok(ip: &Path, args: &[&str]) -> Result<(), String> {
    run_ip(ip, args)?.check(&format!("ip {}", args.join(" ")))
}

/// The packet counters in a listing of `iptables -n -v -x -L CHAIN`: the
/// first column of each rule line (after the chain line and the header).
pub fn rule_packets(listing: &str) -> Vec<u64> {
    listing
        .lines()
        .skip(2)
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect()
}

/// netstat's name for a kernel TCP state number (`/proc/net/tcp`'s `st`),
/// `None` for a number outside the kernel's table.
pub fn tcp_state_name(code: u8) -> Option<&'static str> {
    Some(match code {
        0x01 => "ESTABLISHED",
        0x02 => "SYN_SENT",
        0x03 => "SYN_RECV",
        0x04 => "FIN_WAIT1",
        0x05 => "FIN_WAIT2",
        0x06 => "TIME_WAIT",
        0x07 => "CLOSE",
        0x08 => "CLOSE_WAIT",
        0x09 => "LAST_ACK",
        0x0A => "LISTEN",
        0x0B => "CLOSING",
        _ => return None,
    })
}

/// One row of `/proc/net/{tcp,tcp6,udp,udp6,raw,raw6}`, the fields the
/// harness needs to wait for a scene to settle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcRow {
    /// `tcp`, `tcp6`, `udp`, ...: the file it came from.
    pub file: String,
    /// Local address and port, as the kernel's hex text.
    pub local: String,
    /// Remote address and port, as the kernel's hex text.
    pub remote: String,
    /// Local port.
    pub local_port: u16,
    /// Remote port.
    pub remote_port: u16,
    /// The `st` column (TCP: 1 ESTABLISHED ... 0x0A LISTEN).
    pub state: u8,
    /// `tx_queue`.
    pub tx_queue: u64,
    /// `rx_queue`.
    pub rx_queue: u64,
    /// Socket inode (0 for TIME_WAIT, request and not-yet-accepted sockets).
    pub inode: u64,
}

fn parse_port(addr: &str) -> u16 {
    addr.rsplit(':')
        .next()
        .and_then(|p| u16::from_str_radix(p, 16).ok())
        .unwrap_or(0)
}

/// Parses the rows of one `/proc/net` socket table (header skipped,
/// malformed lines ignored).
pub fn parse_proc_net(file: &str, text: &str) -> Vec<ProcRow> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 10 {
                return None;
            }
            let (tx, rx) = f[4].split_once(':')?;
            Some(ProcRow {
                file: file.to_string(),
                local: f[1].to_string(),
                remote: f[2].to_string(),
                local_port: parse_port(f[1]),
                remote_port: parse_port(f[2]),
                state: u8::from_str_radix(f[3], 16).ok()?,
                tx_queue: u64::from_str_radix(tx, 16).ok()?,
                rx_queue: u64::from_str_radix(rx, 16).ok()?,
                inode: f[9].parse().ok()?,
            })
        })
        .collect()
}

/// A network namespace owned by the test: deleted (with everything left
/// in it) on drop.
pub struct Netns {
    name: String,
    ip: PathBuf,
    lookups_private: bool,
}

impl Netns {
    /// Creates namespace `rnet-<tag>-<pid>-<n>` with `lo` up.
    pub fn create(ip: &Path, tag: &str) -> Result<Netns, String> {
        let tag: String = tag
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .take(24)
            .collect();
        let name = format!("rnet-{tag}-{}", unique_suffix());
        {
            // The first `ip netns add` of the machine sets up the /run/netns
            // mount; two racing ones can stack mounts. Serialize ours.
            static CREATE: Mutex<()> = Mutex::new(());
            let _guard = CREATE
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            ip_ok(ip, &["netns", "add", &name])?;
        }
        // From here on, Drop cleans up whatever fails later.
        let ns = Netns {
            name,
            ip: ip.to_path_buf(),
            lookups_private: false,
        };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// The namespace's name (as `ip netns` knows it).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `/run/netns/<name>`.
    pub fn path(&self) -> PathBuf {
        Path::new("/run/netns").join(&self.name)
    }

    /// Path of the `ip` binary this namespace was made with.
    pub fn ip_binary(&self) -> &Path {
        &self.ip
    }

    /// `/etc/netns/<name>`: files here are bind-mounted over `/etc/<file>`
    /// by `ip netns exec`.
    pub fn etc_dir(&self) -> PathBuf {
        Path::new(ETC_NETNS).join(&self.name)
    }

    /// Runs `ip -n <name> ARGS`, failing unless it exits 0.
    pub fn ip(&self, args: &[&str]) -> Result<(), String> {
        let mut full = vec!["-n", self.name.as_str()];
        full.extend_from_slice(args);
        ip_ok(&self.ip, &full)
    }

    /// A command that runs `program ARGS` inside the namespace through
    /// `ip netns exec` (which also applies `/etc/netns/<name>`), with a
    /// scrubbed environment: only `LC_ALL=C` and a standard `PATH`. Add
    /// variables with `.env()`; run it with [`process::run`].
    pub fn command<S: AsRef<OsStr>>(&self, program: impl AsRef<OsStr>, args: &[S]) -> Command {
        let mut cmd = Command::new(&self.ip);
        cmd.args(["netns", "exec", self.name.as_str()])
            .arg(program)
            .args(args)
            .env_clear()
            .env("LC_ALL", "C")
            .env("PATH", DEFAULT_PATH);
        cmd
    }

    /// Runs `program ARGS` inside the namespace under `timeout` and panics
    /// unless it exits 0 in time; returns what it left.
    pub fn run_ok(&self, program: &Path, args: &[&str], timeout: Duration) -> Output {
        let out = process::run(&mut self.command(program, args), timeout)
            .unwrap_or_else(|e| panic!("cannot run {} {args:?}: {e}", program.display()));
        out.check(&format!("{} {}", program.display(), args.join(" ")))
            .unwrap_or_else(|e| panic!("{e}"));
        out
    }

    /// The packet counters of the rules of `chain`, in rule order, from
    /// `iptables -w 5 -n -v -x -L CHAIN` run inside the namespace.
    pub fn rule_packets(&self, iptables: &Path, chain: &str) -> Result<Vec<u64>, String> {
        let out = process::run(
            &mut self.command(iptables, &["-w", "5", "-n", "-v", "-x", "-L", chain]),
            IP_TIMEOUT,
        )
        .map_err(|e| format!("iptables -L {chain}: {e}"))?;
        Ok(rule_packets(&out.stdout_text()))
    }

    /// Waits (polling every few milliseconds, up to `timeout`) until the
    /// namespace has a TCP socket in kernel state `state` with `port` as
    /// its local or remote port; the error names `what` was awaited.
    pub fn wait_tcp_state(
        &self,
        port: u16,
        state: u8,
        timeout: Duration,
        what: &str,
    ) -> Result<(), String> {
        process::wait_until(what, timeout, || {
            self.proc_rows(&["tcp", "tcp6"]).is_ok_and(|rows| {
                rows.iter()
                    .any(|r| r.state == state && (r.local_port == port || r.remote_port == port))
            })
        })
    }

    /// Runs `f` on a dedicated thread that has entered this namespace, and
    /// returns its result. Sockets created inside `f` belong to the
    /// namespace for their whole life, whichever thread later uses them.
    /// A panic in `f` is propagated.
    pub fn run_in<T: Send, F: FnOnce() -> T + Send>(&self, f: F) -> io::Result<T> {
        let file = File::open(self.path())?;
        let joined = thread::scope(|s| {
            s.spawn(move || -> io::Result<T> {
                sys::enter_netns(&file)?;
                drop(file);
                Ok(f())
            })
            .join()
        });
        match joined {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }

    /// Reads `/proc/net/<file>` as seen from inside the namespace.
    pub fn read_proc_net(&self, file: &str) -> io::Result<String> {
        // /proc/self/net would show the namespace of the main thread;
        // thread-self is the thread that entered this namespace.
        let path = format!("/proc/thread-self/net/{file}");
        self.run_in(move || fs::read_to_string(path))?
    }

    /// Rows of the given `/proc/net` socket tables (e.g. `["tcp", "tcp6"]`).
    pub fn proc_rows(&self, files: &[&str]) -> io::Result<Vec<ProcRow>> {
        let mut rows = Vec::new();
        for f in files {
            match self.read_proc_net(f) {
                Ok(text) => rows.extend(parse_proc_net(f, &text)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(rows)
    }

    /// Sets a per-namespace sysctl under `/proc/sys` (`net.ipv4.tcp_fin_timeout`).
    pub fn sysctl(&self, key: &str, value: &str) -> Result<(), String> {
        // /proc/sys/net/* shows the namespace of the thread that opens it.
        let path = format!("/proc/sys/{}", key.replace('.', "/"));
        let value = value.to_string();
        self.run_in(move || fs::write(path, value))
            .and_then(|r| r)
            .map_err(|e| format!("sysctl {key} in {}: {e}", self.name))
    }

    /// Makes name lookups inside the namespace private: writes
    /// `/etc/netns/<name>/hosts` (`hosts` is its whole content),
    /// `resolv.conf` (`nameserver 127.0.0.1`, the namespace's own loopback,
    /// where nothing listens) and `nsswitch.conf` (`files` and `dns` only,
    /// no nscd-like or systemd modules), then checks from inside that they
    /// are in effect. [`Netns::lookups_are_private`] tells the outcome;
    /// tests must not run anything that resolves names unless it is true.
    pub fn isolate_name_service(&mut self, hosts: &str) -> Result<(), String> {
        let dir = self.etc_dir();
        etc_netns_preexisted();
        let mut made = Err(io::Error::other("not tried"));
        for _ in 0..3 {
            // Retry: a parallel test may remove an empty /etc/netns between
            // the creation of the parent and of our directory.
            made = fs::create_dir_all(&dir);
            if made.is_ok() {
                break;
            }
        }
        made.map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        // Readable for an unprivileged user run inside (setpriv); the
        // machine's own /etc/netns is left as it was if it existed before.
        let mut dirs = vec![dir.as_path()];
        if !etc_netns_preexisted() {
            dirs.push(Path::new(ETC_NETNS));
        }
        for d in dirs {
            fs::set_permissions(d, fs::Permissions::from_mode(0o755))
                .map_err(|e| format!("chmod {}: {e}", d.display()))?;
        }
        let resolv = "# rnet-tools lab: DNS only on this namespace's own loopback\n\
                      nameserver 127.0.0.1\noptions timeout:1 attempts:1\n";
        let nsswitch =
            "# rnet-tools lab\npasswd: files\ngroup: files\nshadow: files\ngshadow: files\n\
                        hosts: files dns\nnetworks: files\nprotocols: files\nservices: files\n\
                        ethers: files\nrpc: files\n";
        let mut files = vec![("hosts", hosts), ("resolv.conf", resolv)];
        let etc_nsswitch_exists = fs::symlink_metadata("/etc/nsswitch.conf").is_ok();
        if etc_nsswitch_exists {
            files.push(("nsswitch.conf", nsswitch));
        }
        for (name, text) in &files {
            let p = dir.join(name);
            fs::write(&p, text).map_err(|e| format!("cannot write {}: {e}", p.display()))?;
            fs::set_permissions(&p, fs::Permissions::from_mode(0o644))
                .map_err(|e| format!("chmod {}: {e}", p.display()))?;
        }
        // Verify from inside. A file that does not exist in /etc cannot be
        // overlaid, but then glibc's defaults apply, which are private too
        // (no resolv.conf: DNS at 127.0.0.1; no nsswitch.conf: dns, files).
        let seen = |file: &str| -> Result<Option<String>, String> {
            if fs::symlink_metadata(file).is_err() {
                return Ok(None);
            }
            let out = process::run(&mut self.command("cat", &[file]), Duration::from_secs(10))
                .map_err(|e| format!("cannot run cat in {}: {e}", self.name))?;
            Ok(Some(out.stdout_text()))
        };
        let resolv_ok = seen("/etc/resolv.conf")?.is_none_or(|t| t == resolv);
        let nss_ok = seen("/etc/nsswitch.conf")?.is_none_or(|t| t == nsswitch);
        let nscd = ["/run/nscd/socket", "/var/run/nscd/socket"]
            .iter()
            .any(|p| Path::new(p).exists());
        self.lookups_private = resolv_ok && nss_ok && !nscd;
        Ok(())
    }

    /// True when [`Netns::isolate_name_service`] verified that lookups made
    /// inside stay inside (own hosts file, DNS only at the namespace's own
    /// loopback, no nscd on the machine).
    pub fn lookups_are_private(&self) -> bool {
        self.lookups_private
    }

    /// Process ids of the processes inside the namespace (`ip netns pids`),
    /// never this test process itself.
    pub fn pids(&self) -> Vec<u32> {
        let me = std::process::id();
        run_ip(&self.ip, &["netns", "pids", &self.name])
            .map(|o| {
                o.stdout_text()
                    .split_whitespace()
                    .filter_map(|p| p.parse().ok())
                    .filter(|p| *p != me)
                    .collect()
            })
            .unwrap_or_default()
    }

    fn cleanup(&mut self) {
        // Everything running inside was started by this test (directly or
        // through a child): kill it by pid so the namespace can go.
        for _ in 0..50 {
            let pids = self.pids();
            if pids.is_empty() {
                break;
            }
            for pid in pids {
                let _ = sys::kill_process(pid);
            }
            thread::sleep(Duration::from_millis(20));
        }
        let _ = run_ip(&self.ip, &["netns", "del", &self.name]);
        let _ = fs::remove_dir_all(self.etc_dir());
        if !etc_netns_preexisted() {
            // Only succeeds when empty, i.e. no parallel test uses it.
            let _ = fs::remove_dir(ETC_NETNS);
        }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        self.cleanup();
    }
}

/// Two namespaces, "client" and "server", joined by a veth pair:
/// client 198.18.0.1/24 and 2001:db8::1/64, server 198.18.0.2/24 and
/// 2001:db8::2/64 (IPv6 with `nodad`, usable at once), `lo` and the veth
/// up on both sides. Dropping it deletes the veth and both namespaces.
pub struct LabPair {
    /// The client namespace.
    pub client: Netns,
    /// The server namespace.
    pub server: Netns,
    /// Name of the veth end in the client namespace.
    pub client_if: String,
    /// Name of the veth end in the server namespace.
    pub server_if: String,
}

impl LabPair {
    /// Builds the pair; `tag` goes into the namespace names.
    pub fn new(ip: &Path, tag: &str) -> Result<LabPair, String> {
        let client = Netns::create(ip, &format!("{tag}-c"))?;
        let server = Netns::create(ip, &format!("{tag}-s"))?;
        let id = unique_suffix().replace('-', "x");
        // Interface names are at most 15 characters: "rv" + pid/counter + side.
        let base: String = format!("rv{id}").chars().take(13).collect();
        let pair = LabPair {
            client_if: format!("{base}c"),
            server_if: format!("{base}s"),
            client,
            server,
        };
        // Created inside the client namespace, peer inside the server one:
        // the veth never exists in the machine's own namespace.
        pair.client.ip(&[
            "link",
            "add",
            &pair.client_if,
            "type",
            "veth",
            "peer",
            "name",
            &pair.server_if,
            "netns",
            pair.server.name(),
        ])?;
        pair.client.ip(&["link", "set", &pair.client_if, "up"])?;
        pair.server.ip(&["link", "set", &pair.server_if, "up"])?;
        pair.add_client_address(&format!("{CLIENT_V4}/24"))?;
        pair.add_server_address(&format!("{SERVER_V4}/24"))?;
        pair.add_client_address(&format!("{CLIENT_V6}/64"))?;
        pair.add_server_address(&format!("{SERVER_V6}/64"))?;
        Ok(pair)
    }

    /// Adds an address (CIDR) to the client's veth; IPv6 gets `nodad`.
    /// Only 198.18.0.0/15 and 2001:db8::/32 addresses are allowed.
    pub fn add_client_address(&self, cidr: &str) -> Result<(), String> {
        add_address(&self.client, &self.client_if, cidr)
    }

    /// Adds an address (CIDR) to the server's veth; IPv6 gets `nodad`.
    /// Only 198.18.0.0/15 and 2001:db8::/32 addresses are allowed.
    pub fn add_server_address(&self, cidr: &str) -> Result<(), String> {
        add_address(&self.server, &self.server_if, cidr)
    }
}

/// True for addresses the lab may use: 198.18.0.0/15 and 2001:db8::/32.
pub fn is_lab_address(addr: &str) -> bool {
    match addr.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(a)) => a.octets()[0] == 198 && (a.octets()[1] & 0xfe) == 18,
        Ok(std::net::IpAddr::V6(a)) => a.segments()[0] == 0x2001 && a.segments()[1] == 0x0db8,
        Err(_) => false,
    }
}

fn add_address(ns: &Netns, ifname: &str, cidr: &str) -> Result<(), String> {
    let addr = cidr.split('/').next().unwrap_or("");
    if !is_lab_address(addr) {
        return Err(format!(
            "{cidr} is outside 198.18.0.0/15 and 2001:db8::/32; the lab uses no other address"
        ));
    }
    if addr.contains(':') {
        ns.ip(&["-6", "addr", "add", cidr, "dev", ifname, "nodad"])
    } else {
        ns.ip(&["addr", "add", cidr, "dev", ifname])
    }
}

impl Drop for LabPair {
    fn drop(&mut self) {
        // Deleting one end deletes both; the namespaces follow (fields).
        let _ = self.client.ip(&["link", "del", &self.client_if]);
    }
}
