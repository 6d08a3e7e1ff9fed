//! Gathering what `/proc/net` does not hold: which process owns each
//! socket inode (`-p`), by the same walk as net-tools' `prg_cache_load`.
//!
//! `/proc/[0-9]*/fd/*` is walked in readdir order and the first process
//! found for an inode wins (later holders after `fork` are ignored), as in
//! netstat. The cost is one `readlinkat` per descriptor (net-tools' SELinux
//! build also opens `/proc/PID/attr/current` per socket) and one read of
//! `cmdline` per process that holds a socket. The map is a sorted vector
//! of `(inode, process)`: 12 bytes per socket.

use crate::sys;
use std::fs::{self, File};
use std::io::{ErrorKind, Read};
use std::os::fd::AsFd;
use std::path::Path;

/// Inode to "PID/Program name", as printed by `-p`.
#[derive(Debug, Default)]
pub struct ProgCache {
    map: Vec<(u64, u32)>,
    names: Vec<String>,
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
                sys::euid()
            ),
        }
    }
}

/// net-tools' notice when some `/proc/PID/fd` could not be read.
pub const NOT_ALL: &str = "(Not all processes could be identified, non-owned process info\n will not be shown, you would have to be root to see it all.)\n";

impl ProgCache {
    /// The column text for an inode: `PID/name` or `-`.
    pub fn get(&self, inode: u64) -> &str {
        match self.map.binary_search_by_key(&inode, |(i, _)| *i) {
            Ok(k) => &self.names[self.map[k].1 as usize],
            Err(_) => "-",
        }
    }

    /// Number of sockets mapped.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when no socket was mapped.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Walks `root` (standing for `/proc`).
    pub fn load(root: &Path) -> ProgCache {
        let mut cache = ProgCache::default();
        let mut eacces = false;
        let Ok(procs) = fs::read_dir(root) else {
            cache.notice = Some(Notice::NoInfo);
            return cache;
        };
        let mut link = [0u8; 64];
        for p in procs.flatten() {
            let pid = p.file_name();
            let pid_bytes = pid.as_encoded_bytes();
            if pid_bytes.is_empty() || !pid_bytes.iter().all(u8::is_ascii_digit) {
                continue;
            }
            let proc_dir = root.join(&pid);
            let fd_dir = proc_dir.join("fd");
            let (dir_file, entries) = match (File::open(&fd_dir), fs::read_dir(&fd_dir)) {
                (Ok(f), Ok(e)) => (f, e),
                (Err(e), _) | (_, Err(e)) => {
                    if e.kind() == ErrorKind::PermissionDenied {
                        eacces = true;
                    }
                    continue;
                }
            };
            let mut name_idx: Option<u32> = None;
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
                let idx = match name_idx {
                    Some(i) => i,
                    None => {
                        let Some(argv0) = read_argv0(&proc_dir) else {
                            continue;
                        };
                        let text = prog_text(&pid.to_string_lossy(), &argv0);
                        cache.names.push(text);
                        let i = (cache.names.len() - 1) as u32;
                        name_idx = Some(i);
                        i
                    }
                };
                cache.map.push((inode, idx));
            }
        }
        // Stable sort, then keep the first holder of each inode.
        cache.map.sort_by_key(|(i, _)| *i);
        cache.map.dedup_by_key(|(i, _)| *i);
        if eacces {
            cache.notice = Some(if cache.names.is_empty() {
                Notice::NoInfo
            } else {
                Notice::NotAll
            });
        }
        cache
    }
}

/// `socket:[12345]` or `[0000]:12345` to the inode.
pub fn socket_inode(link: &[u8]) -> Option<u64> {
    let digits = if let Some(rest) = link.strip_prefix(b"socket:[") {
        rest.strip_suffix(b"]")?
    } else {
        link.strip_prefix(b"[0000]:")?
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// The first 511 bytes of `cmdline` up to the first NUL (argv[0]).
fn read_argv0(proc_dir: &Path) -> Option<Vec<u8>> {
    let mut f = File::open(proc_dir.join("cmdline")).ok()?;
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

/// `PID/name` as net-tools builds it: the basename when argv[0] starts
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
    for &b in name {
        s.push(if (0x20..0x7f).contains(&b) {
            b as char
        } else {
            '.'
        });
    }
    s.truncate(19);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inode_forms() {
        assert_eq!(socket_inode(b"socket:[12345]"), Some(12345));
        assert_eq!(socket_inode(b"[0000]:77"), Some(77));
        assert_eq!(socket_inode(b"socket:[]"), None);
        assert_eq!(socket_inode(b"/dev/null"), None);
        assert_eq!(socket_inode(b"pipe:[5]"), None);
    }

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
        let c = ProgCache {
            map: {
                let mut m = vec![(5, 1), (3, 0), (5, 0)];
                m.sort_by_key(|(i, _)| *i);
                m.dedup_by_key(|(i, _)| *i);
                m
            },
            names: vec!["1/a".into(), "2/b".into()],
            notice: None,
        };
        assert_eq!(c.get(5), "2/b");
        assert_eq!(c.get(3), "1/a");
        assert_eq!(c.get(4), "-");
        assert_eq!(c.len(), 2);
    }
}
