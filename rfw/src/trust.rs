//! Whether anyone but root (or the user running rfw) can change what a path
//! leads to: the check behind running `iptables` found on `PATH` and behind
//! the state directory.
//!
//! A path is resolved one component at a time from `/`, following every
//! symlink (Debian's `/usr/sbin/iptables -> /etc/alternatives/iptables ->
//! /usr/sbin/iptables-nft -> xtables-nft-multi`), and each directory an
//! entry is taken from is judged:
//! - it must be owned by root or by the effective uid;
//! - a directory holding a binary (or a symlink standing for it) must not
//!   be writable by group or others, sticky bit or not;
//! - any other directory (above a binary, or holding the state directory)
//!   may be group/other-writable only with the sticky bit (as `/tmp`), and
//!   then the entry taken from it must be owned by root or the effective
//!   uid (so nobody else can rename or replace it).
//!
//! The final entry itself must be owned by root or the effective uid and
//! not be writable by group or others.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

/// What the final entry must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Want {
    /// An executable regular file.
    Executable,
    /// A directory.
    Directory,
}

/// Symlinks followed at most (the kernel's limit, `MAXSYMLINKS`).
const MAX_LINKS: usize = 40;

const GROUP_OTHER_WRITE: u32 = 0o022;
const STICKY: u32 = 0o1000;

fn owner_ok(uid: u32, euid: u32) -> bool {
    uid == 0 || uid == euid
}

/// "root" or "root or uid N" for messages.
fn allowed_owners(euid: u32) -> String {
    if euid == 0 {
        "root".to_string()
    } else {
        format!("root or you (uid {euid})")
    }
}

/// Why `dir` may not hand out `entry` (its metadata `md`), if it may not.
fn judge_dir(
    dir: &Path,
    dmd: &Metadata,
    entry: &Path,
    md: &Metadata,
    strict: bool,
    euid: u32,
) -> Result<(), String> {
    if !owner_ok(dmd.uid(), euid) {
        return Err(format!(
            "{} is owned by uid {}, not {}",
            dir.display(),
            dmd.uid(),
            allowed_owners(euid)
        ));
    }
    let mode = dmd.mode();
    if mode & GROUP_OTHER_WRITE != 0 {
        let sticky_ok = !strict && mode & STICKY != 0 && owner_ok(md.uid(), euid);
        if !sticky_ok {
            return Err(format!(
                "{} is writable by group or others (mode {:04o}), so {} can be replaced",
                dir.display(),
                mode & 0o7777,
                entry.display()
            ));
        }
    }
    Ok(())
}

/// Resolves `path` (absolute) as described in the module documentation and
/// returns its real path, or one line saying which path is not trusted and
/// why.
pub fn check(path: &Path, want: Want, euid: u32) -> Result<PathBuf, String> {
    if !path.is_absolute() {
        return Err(format!("{} is not an absolute path", path.display()));
    }
    let io = |p: &Path, e: std::io::Error| format!("{}: {e}", p.display());
    let mut todo: VecDeque<OsString> = VecDeque::new();
    let push_front = |todo: &mut VecDeque<OsString>, p: &Path| {
        let comps: Vec<OsString> = p
            .components()
            .map(|c| match c {
                Component::RootDir => OsString::from("/"),
                other => other.as_os_str().to_os_string(),
            })
            .collect();
        for c in comps.into_iter().rev() {
            todo.push_front(c);
        }
    };
    push_front(&mut todo, path);
    let mut cur = PathBuf::from("/");
    let mut cur_md = std::fs::symlink_metadata(&cur).map_err(|e| io(&cur, e))?;
    let mut links = 0;
    while let Some(c) = todo.pop_front() {
        if c == "/" {
            cur = PathBuf::from("/");
            cur_md = std::fs::symlink_metadata(&cur).map_err(|e| io(&cur, e))?;
            continue;
        }
        if c == "." {
            continue;
        }
        if c == ".." {
            // `cur` holds no symlink, so its parent is the real one.
            cur.pop();
            cur_md = std::fs::symlink_metadata(&cur).map_err(|e| io(&cur, e))?;
            continue;
        }
        let next = cur.join(&c);
        let md = std::fs::symlink_metadata(&next).map_err(|e| io(&next, e))?;
        let last = todo.is_empty();
        judge_dir(
            &cur,
            &cur_md,
            &next,
            &md,
            last && want == Want::Executable,
            euid,
        )?;
        if md.file_type().is_symlink() {
            links += 1;
            if links > MAX_LINKS {
                return Err(format!(
                    "{}: more than {MAX_LINKS} symbolic links",
                    path.display()
                ));
            }
            let target = std::fs::read_link(&next).map_err(|e| io(&next, e))?;
            push_front(&mut todo, &target);
            continue;
        }
        if !last {
            if !md.is_dir() {
                return Err(format!("{}: not a directory", next.display()));
            }
            cur = next;
            cur_md = md;
            continue;
        }
        // The final entry.
        if !owner_ok(md.uid(), euid) {
            return Err(format!(
                "{} is owned by uid {}, not {}",
                next.display(),
                md.uid(),
                allowed_owners(euid)
            ));
        }
        if md.mode() & GROUP_OTHER_WRITE != 0 {
            return Err(format!(
                "{} is writable by group or others (mode {:04o})",
                next.display(),
                md.mode() & 0o7777
            ));
        }
        match want {
            Want::Executable if !md.is_file() || md.mode() & 0o111 == 0 => {
                return Err(format!(
                    "{} is not an executable regular file",
                    next.display()
                ))
            }
            Want::Directory if !md.is_dir() => {
                return Err(format!("{} is not a directory", next.display()))
            }
            _ => return Ok(next),
        }
    }
    // The path was `/` itself (or ended in `.`/`..`).
    match want {
        Want::Directory if owner_ok(cur_md.uid(), euid) && cur_md.mode() & 0o022 == 0 => Ok(cur),
        _ => Err(format!("{}: not a usable path", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::{symlink, PermissionsExt};

    struct Tmp(PathBuf);
    impl Drop for Tmp {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn tmp(name: &str) -> Tmp {
        let d = std::env::temp_dir().join(format!("rfw-trust-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir(&d).unwrap();
        fs::set_permissions(&d, fs::Permissions::from_mode(0o755)).unwrap();
        Tmp(d)
    }

    fn mode(p: &Path, m: u32) {
        fs::set_permissions(p, fs::Permissions::from_mode(m)).unwrap();
    }

    fn exe(p: &Path) {
        fs::write(p, "#!/bin/sh\n").unwrap();
        mode(p, 0o755);
    }

    fn me() -> u32 {
        rnet_core::os::euid()
    }

    #[test]
    fn a_plain_binary_in_a_private_directory_is_trusted() {
        let t = tmp("plain");
        exe(&t.0.join("iptables"));
        let real = check(&t.0.join("iptables"), Want::Executable, me()).unwrap();
        assert_eq!(real, t.0.join("iptables"));
        // The real /usr/sbin/iptables chain, where installed.
        if let Ok(p) = fs::canonicalize("/usr/sbin/iptables") {
            let real = check(Path::new("/usr/sbin/iptables"), Want::Executable, me()).unwrap();
            assert_eq!(real, p);
        }
    }

    #[test]
    fn writable_directories_and_files_are_refused() {
        let t = tmp("writable");
        let bin = t.0.join("iptables");
        exe(&bin);
        for m in [0o777, 0o775, 0o757, 0o1777] {
            mode(&t.0, m);
            let e = check(&bin, Want::Executable, me()).unwrap_err();
            assert!(e.contains("writable by group or others"), "{m:o}: {e}");
            assert!(e.starts_with(&t.0.display().to_string()), "{e}");
        }
        mode(&t.0, 0o755);
        mode(&bin, 0o777);
        let e = check(&bin, Want::Executable, me()).unwrap_err();
        assert!(
            e.starts_with(&format!("{} is writable", bin.display())),
            "{e}"
        );
        mode(&bin, 0o644);
        let e = check(&bin, Want::Executable, me()).unwrap_err();
        assert!(e.contains("not an executable"), "{e}");
    }

    #[test]
    fn each_hop_of_a_symlink_chain_is_judged() {
        // a/iptables -> ../b/alt -> ../c/real, as Debian's alternatives.
        let t = tmp("chain");
        for d in ["a", "b", "c"] {
            fs::create_dir(t.0.join(d)).unwrap();
            mode(&t.0.join(d), 0o755);
        }
        exe(&t.0.join("c/real"));
        symlink("../c/real", t.0.join("b/alt")).unwrap();
        symlink(t.0.join("b/alt"), t.0.join("a/iptables")).unwrap();
        let start = t.0.join("a/iptables");
        assert_eq!(
            check(&start, Want::Executable, me()).unwrap(),
            t.0.join("c/real")
        );
        mode(&t.0.join("b"), 0o777);
        let e = check(&start, Want::Executable, me()).unwrap_err();
        assert!(e.starts_with(&t.0.join("b").display().to_string()), "{e}");
        mode(&t.0.join("b"), 0o755);
        mode(&t.0.join("c"), 0o775);
        let e = check(&start, Want::Executable, me()).unwrap_err();
        assert!(e.starts_with(&t.0.join("c").display().to_string()), "{e}");
        mode(&t.0.join("c"), 0o755);
        // A loop ends with an error, not a hang.
        symlink("loop2", t.0.join("a/loop1")).unwrap();
        symlink("loop1", t.0.join("a/loop2")).unwrap();
        let e = check(&t.0.join("a/loop1"), Want::Executable, me()).unwrap_err();
        assert!(e.contains("symbolic links"), "{e}");
    }

    #[test]
    fn a_sticky_ancestor_is_fine_a_writable_one_is_not() {
        let t = tmp("sticky");
        let mid = t.0.join("mid");
        fs::create_dir(&mid).unwrap();
        mode(&mid, 0o755);
        exe(&mid.join("iptables"));
        mode(&t.0, 0o1777);
        assert!(check(&mid.join("iptables"), Want::Executable, me()).is_ok());
        mode(&t.0, 0o777);
        let e = check(&mid.join("iptables"), Want::Executable, me()).unwrap_err();
        assert!(e.starts_with(&t.0.display().to_string()), "{e}");
        mode(&t.0, 0o755);
    }

    #[test]
    fn owners_other_than_root_and_self_are_refused() {
        let t = tmp("owner");
        exe(&t.0.join("iptables"));
        // Judged as some other uid would see it: the directory belongs to
        // neither root nor that uid (unless this runs as root, where the
        // files are root's and so trusted by everyone).
        let other = me().wrapping_add(4242).max(1);
        let r = check(&t.0.join("iptables"), Want::Executable, other);
        if me() == 0 {
            assert!(r.is_ok(), "{r:?}");
        } else {
            // The first hop that fails: our directory in sticky /tmp (it
            // belongs to neither root nor that uid), or its owner.
            let e = r.unwrap_err();
            assert!(e.contains(&t.0.display().to_string()), "{e}");
        }
    }

    #[test]
    fn directories() {
        let t = tmp("dirs");
        assert_eq!(check(&t.0, Want::Directory, me()).unwrap(), t.0);
        // In a sticky world-writable directory (as /tmp) a directory of
        // ours is fine: nobody else can rename it.
        let sub = t.0.join("state");
        fs::create_dir(&sub).unwrap();
        mode(&sub, 0o700);
        mode(&t.0, 0o1777);
        assert_eq!(check(&sub, Want::Directory, me()).unwrap(), sub);
        mode(&t.0, 0o777);
        assert!(check(&sub, Want::Directory, me()).is_err());
        mode(&t.0, 0o755);
        mode(&sub, 0o770);
        let e = check(&sub, Want::Directory, me()).unwrap_err();
        assert!(
            e.starts_with(&format!("{} is writable", sub.display())),
            "{e}"
        );
        let e = check(&t.0.join("missing"), Want::Directory, me()).unwrap_err();
        assert!(e.contains("No such file"), "{e}");
        assert!(check(Path::new("relative"), Want::Directory, me()).is_err());
    }
}
