//! Which process holds which socket: the `/proc/<pid>/fd` links
//! (`socket:[INODE]`) joined with the inodes of `/proc/net/tcp{,6}`.
//!
//! rnetstat's `-p` walks every process this way (`rnetstat/src/gather.rs`);
//! rfw's SSH guard asks only for the TCP ports that processes of one name
//! (`sshd`) listen on. Everything is read under a proc root (see
//! [`crate::procnet::proc_root`]), so fixture trees work as for the tables.
//! A process that vanishes or cannot be read is skipped: the answer is what
//! could be seen.
//!
//! Files are opened as [`crate::procnet::open_table`] opens them (regular
//! files only, never a FIFO or a device) and the tables are read by
//! [`InetReader`], bounded in line length, bytes and time: rfw's SSH guard
//! asks before every change, and a FIFO or `/dev/zero` planted under a
//! proc root must not hang it.

use crate::procnet::{open_table, Family, InetReader, Proto};
use crate::tcp_state::TcpState;
use std::fs;
use std::io::Read;
use std::path::Path;

/// `socket:[12345]` or `[0000]:12345` to the inode, the number read as C's
/// `strtoul(s, &end, 0)` reads it ([`crate::num::strtoul_base0`]: `0x`
/// hex, leading `0` octal, leading blanks and `+` allowed), the whole text
/// consumed and `ULONG_MAX` refused, as net-tools does. A `-` sign, which
/// `strtoul` would negate, is refused: no socket has such an inode.
pub fn socket_inode(link: &[u8]) -> Option<u64> {
    let digits = if let Some(rest) = link.strip_prefix(b"socket:[") {
        if rest.len() < 2 {
            return None;
        }
        rest.strip_suffix(b"]")?
    } else {
        link.strip_prefix(b"[0000]:")?
    };
    let v = crate::num::strtoul_base0(digits)?;
    (v != u64::MAX).then_some(v)
}

/// The kernel's name of a process (`/proc/<pid>/comm`, at most 15 bytes,
/// without the newline), `None` if it cannot be read or is not a regular
/// file.
pub fn comm(root: &Path, pid: u32) -> Option<Vec<u8>> {
    let f = open_table(&root.join(pid.to_string()).join("comm")).ok()?;
    let mut buf = Vec::with_capacity(32);
    // comm is at most 16 bytes with its newline; a fixture cannot make
    // this read more than 64.
    f.take(64).read_to_end(&mut buf).ok()?;
    if buf.last() == Some(&b'\n') {
        buf.pop();
    }
    Some(buf)
}

/// The pids under `root` (directories named by digits), in readdir order.
pub fn pids(root: &Path) -> Vec<u32> {
    let Ok(dir) = fs::read_dir(root) else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
        .collect()
}

/// The socket inodes a process holds (its `fd/*` links).
pub fn socket_inodes(root: &Path, pid: u32) -> Vec<u64> {
    let fd_dir = root.join(pid.to_string()).join("fd");
    let Ok(entries) = fs::read_dir(&fd_dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| fs::read_link(e.path()).ok())
        .filter_map(|t| socket_inode(t.as_os_str().as_encoded_bytes()))
        .collect()
}

/// A TCP port some process listens on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listener {
    /// The local port.
    pub port: u16,
    /// The process holding the socket.
    pub pid: u32,
}

/// The TCP ports in LISTEN (IPv4 and IPv6 tables of the proc root, so of
/// the reader's network namespace) whose socket is held by a process whose
/// `comm` is exactly `name`. Sorted by port, one entry per port (the first
/// process found holding it). Without permission to read other users'
/// `fd` directories (not root), their sockets are not seen.
pub fn tcp_listeners_named(root: &Path, name: &str) -> Vec<Listener> {
    let mut held: Vec<(u64, u32)> = Vec::new();
    for pid in pids(root) {
        if comm(root, pid).is_some_and(|c| c == name.as_bytes()) {
            held.extend(socket_inodes(root, pid).into_iter().map(|i| (i, pid)));
        }
    }
    if held.is_empty() {
        return Vec::new();
    }
    held.sort_unstable();
    let mut out: Vec<Listener> = Vec::new();
    for family in [Family::V4, Family::V6] {
        let Ok(mut r) = InetReader::open(&Proto::Tcp.path(root, family)) else {
            continue;
        };
        while let Ok(Some(item)) = r.next_entry() {
            let Ok(e) = item else { continue };
            if e.state.known() != Some(TcpState::Listen) || e.inode == 0 {
                continue;
            }
            if let Ok(i) = held.binary_search_by_key(&e.inode, |(i, _)| *i) {
                out.push(Listener {
                    port: e.local_port,
                    pid: held[i].1,
                });
            }
        }
    }
    out.sort_by_key(|l| l.port);
    out.dedup_by_key(|l| l.port);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn inode_forms() {
        assert_eq!(socket_inode(b"socket:[12345]"), Some(12345));
        assert_eq!(socket_inode(b"[0000]:77"), Some(77));
        assert_eq!(socket_inode(b"socket:[]"), None);
        assert_eq!(socket_inode(b"/dev/null"), None);
        assert_eq!(socket_inode(b"pipe:[5]"), None);
        assert_eq!(socket_inode(b"socket:[0377]"), Some(255));
        assert_eq!(socket_inode(b"socket:[0x26b10]"), Some(0x26b10));
        assert_eq!(socket_inode(b"socket:[12a]"), None);
        assert_eq!(socket_inode(b"socket:[ +9]"), Some(9));
        assert_eq!(socket_inode(b"socket:[0x+5]"), None);
        assert_eq!(socket_inode(b"socket:[-5]"), None);
        assert_eq!(socket_inode(b"socket:[18446744073709551615]"), None);
        assert_eq!(socket_inode(b"[0000]:0x1F"), Some(31));
    }

    const HEAD: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";

    fn line(sl: u32, local: &str, remote: &str, st: &str, inode: u64) -> String {
        format!("{sl:4}: {local} {remote} {st} 00000000:00000000 00:00000000 00000000     0        0 {inode} 1 0000000000000000 100 0 0 10 0\n")
    }

    /// A proc root under the temp dir, removed on drop (also on panic).
    struct Root(std::path::PathBuf);

    impl Root {
        fn new(tag: &str) -> Root {
            let root =
                std::env::temp_dir().join(format!("rnet-procfd-{tag}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&root);
            fs::create_dir_all(root.join("net")).unwrap();
            Root(root)
        }
    }

    impl Drop for Root {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    /// The fixture: processes and their sockets, `net/tcp` and `net/tcp6`.
    fn sshd_tree(tag: &str) -> Root {
        let r = Root::new(tag);
        let root = &r.0;
        // 100: sshd on 2222 (v4, inode 11) and :::2223 (v6, inode 12),
        // plus an established socket (inode 13) that is not a listener.
        // 200: a web server on 8080 (inode 21). 300: sshd without sockets.
        for (pid, name, links) in [
            (
                100,
                "sshd\n",
                &["socket:[11]", "socket:[12]", "socket:[13]", "/dev/null"][..],
            ),
            (200, "nginx\n", &["socket:[21]"][..]),
            (300, "sshd\n", &[][..]),
            (400, "sshd-session\n", &["socket:[41]"][..]),
        ] {
            let fd = root.join(format!("{pid}/fd"));
            fs::create_dir_all(&fd).unwrap();
            fs::write(root.join(format!("{pid}/comm")), name).unwrap();
            for (n, l) in links.iter().enumerate() {
                symlink(l, fd.join(n.to_string())).unwrap();
            }
        }
        fs::create_dir_all(root.join("self")).unwrap();
        let tcp = String::from(HEAD)
            + &line(0, "00000000:08AE", "00000000:0000", "0A", 11)
            + &line(1, "00000000:1F90", "00000000:0000", "0A", 21)
            + &line(2, "0100007F:0016", "0100007F:C350", "01", 13)
            + &line(3, "00000000:1389", "00000000:0000", "0A", 41)
            + "garbage line\n";
        fs::write(root.join("net/tcp"), tcp).unwrap();
        let tcp6 = String::from(HEAD)
            + &line(
                0,
                "00000000000000000000000000000000:08AF",
                "00000000000000000000000000000000:0000",
                "0A",
                12,
            );
        fs::write(root.join("net/tcp6"), tcp6).unwrap();
        r
    }

    #[test]
    fn listeners_of_processes_named_sshd() {
        let r = sshd_tree("sshd");
        let root = &r.0;
        let got = tcp_listeners_named(root, "sshd");
        let nginx = tcp_listeners_named(root, "nginx");
        let none = tcp_listeners_named(&root.join("missing"), "sshd");
        assert_eq!(
            got,
            vec![
                Listener {
                    port: 2222,
                    pid: 100
                },
                Listener {
                    port: 2223,
                    pid: 100
                }
            ]
        );
        assert_eq!(
            nginx,
            vec![Listener {
                port: 8080,
                pid: 200
            }]
        );
        assert!(none.is_empty());
    }

    /// `mkfifo(3)` without unsafe code: the mkfifo program (coreutils).
    fn mkfifo(path: &Path) {
        let _ = fs::remove_file(path);
        let made = std::process::Command::new("mkfifo")
            .arg(path)
            .status()
            .is_ok_and(|s| s.success());
        assert!(made, "mkfifo {}", path.display());
    }

    /// `tcp_listeners_named` on another thread, given `limit` to answer.
    fn listeners_within(root: &Path, limit: std::time::Duration) -> Option<Vec<Listener>> {
        let (tx, rx) = std::sync::mpsc::channel();
        let root = root.to_path_buf();
        // A hung reader leaves this thread blocked; the test fails at the
        // deadline instead of hanging with it.
        std::thread::spawn(move || {
            let _ = tx.send(tcp_listeners_named(&root, "sshd"));
        });
        rx.recv_timeout(limit).ok()
    }

    #[test]
    fn a_fifo_or_dev_zero_in_place_of_a_proc_file_does_not_hang_it() {
        let limit = std::time::Duration::from_secs(10);
        let r = sshd_tree("fifo");
        let root = &r.0;
        // 500: a process whose comm is a FIFO (opening it would wait for
        // a writer); it holds the v4 listener's socket too.
        fs::create_dir_all(root.join("500/fd")).unwrap();
        symlink("socket:[11]", root.join("500/fd/0")).unwrap();
        mkfifo(&root.join("500/comm"));
        mkfifo(&root.join("net/tcp6"));
        // tcp6 a FIFO: skipped; tcp still read; pid 500 is not an sshd.
        let got = listeners_within(root, limit).expect("a FIFO hung tcp_listeners_named");
        assert_eq!(
            got,
            vec![Listener {
                port: 2222,
                pid: 100
            }]
        );
        // tcp endless (/dev/zero), tcp6 a FIFO: nothing, and at once.
        fs::remove_file(root.join("net/tcp")).unwrap();
        symlink("/dev/zero", root.join("net/tcp")).unwrap();
        let start = std::time::Instant::now();
        let got = listeners_within(root, limit).expect("/dev/zero hung tcp_listeners_named");
        assert_eq!(got, vec![]);
        assert!(start.elapsed() < std::time::Duration::from_secs(2));
        // comm as /dev/zero: read as at most 64 bytes of NULs, not sshd.
        fs::remove_file(root.join("500/comm")).unwrap();
        symlink("/dev/zero", root.join("500/comm")).unwrap();
        assert_eq!(comm(root, 500), None);
    }
}
