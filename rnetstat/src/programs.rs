//! The `-p` column: which process owns each socket inode, the one thing
//! a listing needs that `/proc/net` does not hold, found by the same walk
//! as net-tools' `prg_cache_load`.
//!
//! `/proc/[0-9]*/fd/*` is walked in readdir order and the first process
//! found for an inode wins (later holders after `fork` are ignored), as in
//! netstat. The cost is one `readlinkat` per descriptor (net-tools' SELinux
//! build also opens `/proc/PID/attr/current` per socket) and one read of
//! `cmdline` per process that holds a socket. The map is a sorted vector
//! of (inode, process) in 6 bytes per socket ([`Held`]).

use crate::sys;
use rnet_core::procnet::open_table;
use std::fs;
use std::io::{ErrorKind, Read};
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

/// One socket of the map: the high and the low half of its inode, then
/// the order of the process holding it. Socket inodes come from the
/// kernel's 32-bit `get_next_ino()` and the order fits 16 bits but on
/// machines of more than 65,535 processes, so 6 bytes a socket (a map of
/// 60,000 sockets: 352 KiB); sorted as arrays are, by inode then order.
type Held = [u16; 3];

fn held(inode: u32, order: u16) -> Held {
    let [hi, lo] = inode_key(inode);
    [hi, lo, order]
}

/// An inode as the first two halves of a [`Held`].
fn inode_key(inode: u32) -> [u16; 2] {
    [(inode >> 16) as u16, inode as u16]
}

/// The inode part of a [`Held`], for searching and deduplicating.
fn held_inode(h: &Held) -> [u16; 2] {
    [h[0], h[1]]
}

/// Sockets the map has room for before it first grows: 1 Mi entries,
/// 6 MiB of address space that costs memory only as entries are written.
const MAP_RESERVE: usize = 1 << 20;

/// Inode to "PID/Program name", as printed by `-p`.
#[derive(Debug, Default)]
pub struct ProgCache {
    /// Sorted by inode, then process order.
    map: Vec<Held>,
    /// Inodes that do not fit 32 bits (not produced by today's kernels,
    /// kept so that nothing is ever mislabelled), and those of processes
    /// past order 65,535, with the process order; sorted.
    wide: Vec<(u64, u32)>,
    /// Process order (readdir position) to its column text.
    names: Vec<Option<String>>,
    /// The notice net-tools prints on stderr before the listing, if any.
    pub notice: Option<Notice>,
}

/// Why `-p` could not see every process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notice {
    /// Some `/proc/PID/fd` gave EACCES, some sockets were found.
    NotAll,
    /// Nothing readable (or `/proc` could not be opened).
    NoInfo,
}

impl Notice {
    /// net-tools' exact text, newline included.
    pub fn text(self) -> String {
        match self {
            Notice::NotAll => NOT_ALL.to_string(),
            Notice::NoInfo => format!(
                "(No info could be read for \"-p\": geteuid()={} but you should be root.)\n",
                rnet_core::os::euid()
            ),
        }
    }
}

/// net-tools' notice when some `/proc/PID/fd` could not be read.
pub const NOT_ALL: &str = "(Not all processes could be identified, non-owned process info\n will not be shown, you would have to be root to see it all.)\n";

/// What one process contributed besides its inodes.
struct ProcScan {
    name: Option<String>,
    eacces: bool,
}

impl ProgCache {
    /// The column text for an inode: `PID/name` or `-`.
    pub fn get(&self, inode: u64) -> &str {
        // A process in `map` comes before any in `wide` in readdir order.
        let narrow = u32::try_from(inode).ok().and_then(|i| {
            let key = inode_key(i);
            let k = self
                .map
                .binary_search_by(|h| held_inode(h).cmp(&key))
                .ok()?;
            Some(u32::from(self.map[k][2]))
        });
        let order = narrow.or_else(|| {
            self.wide
                .binary_search_by_key(&inode, |(k, _)| *k)
                .ok()
                .map(|k| self.wide[k].1)
        });
        order
            .and_then(|o| self.names.get(o as usize))
            .and_then(|n| n.as_deref())
            .unwrap_or("-")
    }

    /// Number of sockets mapped.
    pub fn len(&self) -> usize {
        self.map.len() + self.wide.len()
    }

    /// True when no socket was mapped.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Walks `root` (standing for `/proc`). The processes are listed in
    /// readdir order first, then their descriptors are read by up to four
    /// threads; the first process in readdir order still wins an inode.
    pub fn load(root: &Path) -> ProgCache {
        let Ok(procs) = fs::read_dir(root) else {
            return ProgCache {
                notice: Some(Notice::NoInfo),
                ..ProgCache::default()
            };
        };
        let pids: Vec<std::ffi::OsString> = procs
            .flatten()
            .map(|p| p.file_name())
            .filter(|n| {
                let b = n.as_encoded_bytes();
                !b.is_empty() && b.iter().all(u8::is_ascii_digit)
            })
            .collect();
        let next = AtomicUsize::new(0);
        let workers = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .clamp(1, 4)
            .min(pids.len().max(1));
        // Each worker gathers one process's inodes in its own buffer, kept
        // from process to process, then adds them to the one map (grown in
        // place): no per-process lists held until the end.
        let shared = Mutex::new(ProgCache {
            // Address space, not memory: only the entries written are
            // touched, and growing never copies (a doubling vector would
            // leave every smaller copy behind in the heap, about as much
            // again as the map).
            map: Vec::with_capacity(MAP_RESERVE),
            names: vec![None; pids.len()],
            ..ProgCache::default()
        });
        let (eacces, found) = (AtomicBool::new(false), AtomicBool::new(false));
        let scan = || {
            let (mut inodes, mut wide) = (Vec::new(), Vec::new());
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(pid) = pids.get(i) else { break };
                inodes.clear();
                wide.clear();
                let r = scan_process(root, pid, &mut inodes, &mut wide);
                eacces.fetch_or(r.eacces, Ordering::Relaxed);
                found.fetch_or(r.name.is_some(), Ordering::Relaxed);
                let order = i as u32;
                let mut c = shared.lock().unwrap_or_else(PoisonError::into_inner);
                match u16::try_from(order) {
                    Ok(o) => c.map.extend(inodes.iter().map(|&i| held(i, o))),
                    Err(_) => c.wide.extend(inodes.iter().map(|&i| (u64::from(i), order))),
                }
                c.wide.extend(wide.iter().map(|&i| (i, order)));
                c.names[i] = r.name;
            }
        };
        std::thread::scope(|s| {
            for _ in 1..workers {
                s.spawn(scan);
            }
            scan();
        });
        let mut cache = shared.into_inner().unwrap_or_else(PoisonError::into_inner);
        let (eacces, found) = (eacces.into_inner(), found.into_inner());
        // Sort by (inode, readdir order) and keep the first holder of each.
        cache.map.sort_unstable();
        cache.map.dedup_by_key(|h| held_inode(h));
        cache.wide.sort_unstable();
        cache.wide.dedup_by_key(|(i, _)| *i);
        if eacces {
            cache.notice = Some(if found {
                Notice::NotAll
            } else {
                Notice::NoInfo
            });
        }
        cache
    }
}

/// One process: readlink every descriptor into `inodes` (and `wide`),
/// read `cmdline` once if any is a socket.
fn scan_process(
    root: &Path,
    pid: &std::ffi::OsStr,
    inodes: &mut Vec<u32>,
    wide: &mut Vec<u64>,
) -> ProcScan {
    let mut r = ProcScan {
        name: None,
        eacces: false,
    };
    let proc_dir = root.join(pid);
    let fd_dir = proc_dir.join("fd");
    // O_DIRECTORY | O_NONBLOCK: under RNET_PROC_ROOT a FIFO in its place
    // must not block the scan (opendir, under read_dir, has O_DIRECTORY).
    let dir = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NONBLOCK)
        .open(&fd_dir);
    let (dir_file, entries) = match (dir, fs::read_dir(&fd_dir)) {
        (Ok(f), Ok(e)) => (f, e),
        (Err(e), _) | (_, Err(e)) => {
            r.eacces = e.kind() == ErrorKind::PermissionDenied;
            return r;
        }
    };
    // net-tools reads links into 30 bytes (29 and a NUL): a longer link is
    // cut, loses its closing `]` and is not taken for a socket.
    let mut link = [0u8; 29];
    for fd in entries.flatten() {
        let fname = fd.file_name();
        let fb = fname.as_encoded_bytes();
        if !fb.first().is_some_and(u8::is_ascii_digit) {
            continue;
        }
        let Some(c) = sys::cstring(fb) else { continue };
        let Some(target) = sys::readlink_at(dir_file.as_fd(), &c, &mut link) else {
            continue;
        };
        let Some(inode) = socket_inode(target) else {
            continue;
        };
        if r.name.is_none() {
            // As net-tools: without a readable cmdline this descriptor is
            // skipped and the next socket tries again.
            let Some(argv0) = read_argv0(&proc_dir) else {
                continue;
            };
            r.name = Some(prog_text(&pid.to_string_lossy(), &argv0));
        }
        match u32::try_from(inode) {
            Ok(i) => inodes.push(i),
            Err(_) => wide.push(inode),
        }
    }
    r
}

pub use rnet_core::procfd::socket_inode;

/// The first 511 bytes of `cmdline` up to the first NUL (`argv[0]`). Opened
/// as a table is (a regular file, never a FIFO or device; see
/// `rnet_core::procnet::open_table`).
fn read_argv0(proc_dir: &Path) -> Option<Vec<u8>> {
    let mut f = open_table(&proc_dir.join("cmdline")).ok()?;
    let mut buf = [0u8; 511];
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return None,
        }
        // One read, as net-tools does; cmdline comes in one piece.
        break;
    }
    let data = &buf[..n];
    let end = data.iter().position(|b| *b == 0).unwrap_or(data.len());
    Some(data[..end].to_vec())
}

/// `PID/name` as net-tools builds it: the basename when `argv[0]` starts
/// with `/`, control and non-ASCII bytes shown as `.`, at most 19 bytes.
pub fn prog_text(pid: &str, argv0: &[u8]) -> String {
    let name = if argv0.first() == Some(&b'/') {
        match argv0.iter().rposition(|b| *b == b'/') {
            Some(p) => &argv0[p + 1..],
            None => argv0,
        }
    } else {
        argv0
    };
    let mut s = String::with_capacity(20);
    s.push_str(pid);
    s.push('/');
    s.extend(crate::render::printable(name).map(char::from));
    s.truncate(19);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_like_net_tools() {
        assert_eq!(
            prog_text("29565", b"/usr/bin/averyveryverylongname"),
            "29565/averyveryvery"
        );
        assert_eq!(prog_text("1", b"my prog"), "1/my prog");
        assert_eq!(prog_text("7", b"python3"), "7/python3");
        assert_eq!(prog_text("8", b"a\x1bb\xc3\xa9"), "8/a.b..");
        assert_eq!(prog_text("9", b"sshd: root@pts/0"), "9/sshd: root@pts/0");
        assert_eq!(prog_text("10", b""), "10/");
    }

    #[test]
    fn first_holder_wins_and_lookup() {
        // Inodes whose halves differ, so that both halves are compared.
        let big = 0x0003_0001;
        let mut map = vec![
            held(5, 1),
            held(3, 0),
            held(5, 0),
            held(big, 1),
            held(0x0001_0003, 2),
        ];
        map.sort_unstable();
        map.dedup_by_key(|h| held_inode(h));
        let c = ProgCache {
            map,
            // Past the map's reach: a 64-bit inode, and a process past
            // order 65,535 that holds 5 too (the map's holder wins).
            wide: vec![(5, 70_000), (9, 70_000), (1 << 40, 1)],
            names: vec![Some("1/a".into()), Some("2/b".into()), Some("3/c".into())],
            notice: None,
        };
        assert_eq!(c.get(5), "1/a");
        assert_eq!(c.get(3), "1/a");
        assert_eq!(c.get(4), "-");
        assert_eq!(c.get(u64::from(big)), "2/b");
        assert_eq!(c.get(0x0001_0003), "3/c");
        assert_eq!(c.get(0x0003_0003), "-");
        assert_eq!(c.get(1 << 40), "2/b");
        // Order 70,000 has no name here: "-".
        assert_eq!(c.get(9), "-");
        assert_eq!(c.len(), 7);
    }

    #[test]
    fn loads_a_fixture_proc_tree() {
        // A tree with one process whose fd 3 is a socket, and a cmdline.
        let dir = std::env::temp_dir().join(format!("rnetstat-programs-{}", std::process::id()));
        let fd = dir.join("4242/fd");
        fs::create_dir_all(&fd).unwrap();
        fs::write(dir.join("4242/cmdline"), b"/usr/bin/nc\x00-l\x005555\x00").unwrap();
        std::os::unix::fs::symlink("socket:[777]", fd.join("3")).unwrap();
        std::os::unix::fs::symlink("/dev/null", fd.join("0")).unwrap();
        fs::create_dir_all(dir.join("self")).unwrap();
        let c = ProgCache::load(&dir);
        fs::remove_dir_all(&dir).unwrap();
        assert_eq!(c.get(777), "4242/nc");
        assert_eq!(c.len(), 1);
        assert_eq!(c.notice, None);
    }
}
