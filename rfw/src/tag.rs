//! rfw's bookkeeping: the comment tag on every rule it adds (which holds
//! a `--ttl` rule's expiry) and the state file used where the `comment`
//! match is missing.
//!
//! Files live in `$RFW_STATE_DIR` (default `/run/rfw`), one set per network
//! namespace (`/run` is shared between namespaces, the rules are not), all
//! read-modify-written under an exclusive lock on `net-<ns>.lock`. The
//! directory is created 0700 and checked on every use: a real directory
//! (not a symlink) owned by the effective uid, not writable by group or
//! others, on a path only root or that uid can change ([`crate::trust`]);
//! otherwise nothing is read or written. Files are opened with
//! `O_NOFOLLOW`; a file is replaced by writing a new temporary (unique
//! name, `O_CREAT|O_EXCL|O_NOFOLLOW`, mode 0600), `fsync`, and `rename`
//! over it. A file that cannot be read, or holds a line rfw would not
//! have written, is an error naming it, and nothing is rewritten. The one
//! data file is `net-<ns>.rules`: `EXP FAMILY TABLE CHAIN WORDS…` (words
//! shell-quoted, EXP 0 when none) for rules added without a tag. (Earlier
//! versions also wrote an expiry index, `net-<ns>.expiry`; it was never
//! needed for a decision, and a leftover one is neither read nor removed.)

use crate::exec::{shell_line, Family};
use crate::rule::split_quoted;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Environment variable naming the state directory.
pub const STATE_DIR_ENV: &str = "RFW_STATE_DIR";

/// Seconds since the epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A new tag: `rfw:<unix-seconds>.<pid>`, plus `:exp=<unix-seconds>` under
/// `--ttl`. Unique per process and second; well under iptables' 255
/// characters. [`parse_tag`] reads exactly this grammar back.
pub fn new_tag(exp: Option<u64>) -> String {
    let base = format!("rfw:{}.{}", now(), std::process::id());
    match exp {
        Some(e) => format!("{base}:exp={e}"),
        None => base,
    }
}

/// What an rfw tag holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tag {
    /// When the rule was added (unix seconds).
    pub time: u64,
    /// The adding process.
    pub pid: u32,
    /// `--ttl`'s expiry (unix seconds).
    pub exp: Option<u64>,
}

/// Digits only, at least one, and a value that fits.
fn number<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Reads a comment as an rfw tag: exactly `rfw:<time>.<pid>` or
/// `rfw:<time>.<pid>:exp=<time>`, all numbers decimal digits. Anything
/// else (`rfw: keep, admin rule`, `rfw:1`, `rfw:1.2 extra`) is not rfw's.
pub fn parse_tag(comment: &str) -> Option<Tag> {
    let body = comment.strip_prefix("rfw:")?;
    let (id, exp) = match body.split_once(':') {
        Some((id, e)) => (id, Some(number::<u64>(e.strip_prefix("exp=")?)?)),
        None => (body, None),
    };
    let (time, pid) = id.split_once('.')?;
    Some(Tag {
        time: number(time)?,
        pid: number(pid)?,
        exp,
    })
}

/// Whether a comment is one of rfw's tags.
pub fn is_rfw_tag(comment: &str) -> bool {
    parse_tag(comment).is_some()
}

/// The expiry time in a tag, if it is rfw's and has one.
pub fn tag_expiry(tag: &str) -> Option<u64> {
    parse_tag(tag).and_then(|t| t.exp)
}

/// The state directory.
pub fn state_dir() -> PathBuf {
    match std::env::var_os(STATE_DIR_ENV) {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => PathBuf::from("/run/rfw"),
    }
}

/// The bookkeeping files of one network namespace.
pub struct Store {
    dir: PathBuf,
    key: String,
}

/// An exclusive lock on a namespace's files, released on drop.
pub struct Locked {
    _file: File,
}

/// A rule recorded in the state file (added without a tag).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded {
    /// Expiry (0: none).
    pub exp: u64,
    /// Family.
    pub family: Family,
    /// Table.
    pub table: String,
    /// Chain.
    pub chain: String,
    /// The rule's words, exactly as added.
    pub words: Vec<String>,
}

fn family_of(s: &str) -> Option<Family> {
    match s {
        "v4" => Some(Family::V4),
        "v6" => Some(Family::V6),
        _ => None,
    }
}

/// Largest state file rfw reads (its own files hold one line per rule).
const FILE_LIMIT: u64 = 4 << 20;

/// An error whose text is the whole one-line message.
fn fail(msg: String) -> io::Error {
    io::Error::other(msg)
}

/// A line for messages: control characters escaped, at most 60 characters.
fn excerpt(line: &str) -> String {
    let mut s: String = line.chars().flat_map(char::escape_debug).take(60).collect();
    if line.chars().flat_map(char::escape_debug).nth(60).is_some() {
        s.push_str("...");
    }
    s
}

/// What a state file cannot be, and what to do about it.
const FIX: &str =
    "nothing was changed; fix or remove the file (rfw then forgets what it recorded there)";

impl Store {
    /// The files of the namespace `key` (see [`crate::exec::netns_key`]).
    pub fn new(key: &str) -> Store {
        Store {
            dir: state_dir(),
            key: key.to_string(),
        }
    }

    fn path(&self, ext: &str) -> PathBuf {
        self.dir.join(format!("net-{}.{ext}", self.key))
    }

    /// Checks the state directory, creating it (0700) when `create`;
    /// `Ok(false)` when it does not exist and was not to be created.
    fn dir_ok(&self, create: bool) -> io::Result<bool> {
        let d = &self.dir;
        let euid = rnet_core::os::euid();
        match fs::symlink_metadata(d) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if !create {
                    return Ok(false);
                }
                fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(d)
                    .map_err(|e| {
                        fail(format!(
                            "cannot create the state directory {}: {e}",
                            d.display()
                        ))
                    })?;
            }
            Err(e) => return Err(fail(format!("state directory {}: {e}", d.display()))),
        }
        let md = fs::symlink_metadata(d)
            .map_err(|e| fail(format!("state directory {}: {e}", d.display())))?;
        let bad = if md.file_type().is_symlink() {
            Some("is a symbolic link".to_string())
        } else if !md.is_dir() {
            Some("is not a directory".to_string())
        } else if md.uid() != euid {
            Some(format!("is owned by uid {}, not uid {euid}", md.uid()))
        } else if md.mode() & 0o022 != 0 {
            Some(format!(
                "is writable by group or others (mode {:04o})",
                md.mode() & 0o7777
            ))
        } else {
            None
        };
        if let Some(why) = bad {
            return Err(fail(format!(
                "state directory {} {why}; rfw reads and writes only a directory of its own (mode 0700); nothing was changed",
                d.display()
            )));
        }
        crate::trust::check(d, crate::trust::Want::Directory, euid).map_err(|why| {
            fail(format!(
                "state directory {}: {why}; nothing was changed",
                d.display()
            ))
        })?;
        Ok(true)
    }

    /// Takes the lock, creating the directory if needed.
    pub fn lock(&self) -> io::Result<Locked> {
        self.dir_ok(true)?;
        let p = self.path("lock");
        if let Ok(md) = fs::symlink_metadata(&p) {
            if !md.is_file() {
                return Err(fail(format!(
                    "{} is not a regular file; {FIX}",
                    p.display()
                )));
            }
        }
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .custom_flags(rnet_core::os::O_NOFOLLOW)
            .open(&p)
            .map_err(|e| fail(format!("cannot open {}: {e}", p.display())))?;
        f.lock()
            .map_err(|e| fail(format!("cannot lock {}: {e}", p.display())))?;
        Ok(Locked { _file: f })
    }

    /// The lines of a file (none when it or the directory does not exist);
    /// an error names the file when it cannot be read as text.
    fn read_lines(&self, ext: &str) -> io::Result<Vec<String>> {
        if !self.dir_ok(false)? {
            return Ok(Vec::new());
        }
        let p = self.path(ext);
        match fs::symlink_metadata(&p) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(fail(format!("cannot read {}: {e}", p.display()))),
            Ok(md) if !md.is_file() => {
                return Err(fail(format!(
                    "{} is not a regular file; {FIX}",
                    p.display()
                )))
            }
            Ok(_) => {}
        }
        let f = OpenOptions::new()
            .read(true)
            .custom_flags(rnet_core::os::O_NOFOLLOW)
            .open(&p)
            .map_err(|e| fail(format!("cannot read {}: {e}", p.display())))?;
        let mut bytes = Vec::new();
        f.take(FILE_LIMIT + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| fail(format!("cannot read {}: {e}", p.display())))?;
        if bytes.len() as u64 > FILE_LIMIT {
            return Err(fail(format!(
                "{} is larger than {} MiB, not a file rfw wrote; {FIX}",
                p.display(),
                FILE_LIMIT >> 20
            )));
        }
        let text = String::from_utf8(bytes).map_err(|e| {
            fail(format!(
                "{} is not UTF-8 text (bad byte at offset {}); {FIX}",
                p.display(),
                e.utf8_error().valid_up_to()
            ))
        })?;
        Ok(text.lines().map(String::from).collect())
    }

    /// An error for line `n` (0-based) of a file.
    fn bad_line(&self, ext: &str, n: usize, line: &str) -> io::Error {
        fail(format!(
            "{} line {}: `{}' is not a line rfw writes; {FIX}",
            self.path(ext).display(),
            n + 1,
            excerpt(line)
        ))
    }

    /// Replaces a file (removes it when `lines` is empty): a new temporary
    /// with a unique name, created exclusively and never through a
    /// symlink, synced, then renamed over the old file.
    fn write_lines(&self, ext: &str, lines: &[String]) -> io::Result<()> {
        self.dir_ok(true)?;
        let p = self.path(ext);
        if lines.is_empty() {
            return match fs::remove_file(&p) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    Err(fail(format!("cannot remove {}: {e}", p.display())))
                }
                _ => Ok(()),
            };
        }
        let mut data = String::new();
        for l in lines {
            data.push_str(l);
            data.push('\n');
        }
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let mut last_err = None;
        for _ in 0..16 {
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            let tmp = self.dir.join(format!(
                ".net-{}.{ext}.{}.{}.{nanos}.tmp",
                self.key,
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            let f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(rnet_core::os::O_NOFOLLOW)
                .open(&tmp);
            let mut f = match f {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    last_err = Some(e);
                    continue;
                }
                Err(e) => return Err(fail(format!("cannot create {}: {e}", tmp.display()))),
            };
            let done = f
                .write_all(data.as_bytes())
                .and_then(|()| f.sync_all())
                .and_then(|()| fs::rename(&tmp, &p));
            if let Err(e) = done {
                let _ = fs::remove_file(&tmp);
                return Err(fail(format!("cannot write {}: {e}", p.display())));
            }
            // The rename itself is durable once the directory is synced.
            if let Ok(d) = File::open(&self.dir) {
                let _ = d.sync_all();
            }
            return Ok(());
        }
        Err(fail(format!(
            "cannot create a temporary file in {}: {}",
            self.dir.display(),
            last_err.map(|e| e.to_string()).unwrap_or_default()
        )))
    }

    /// The recorded untagged rules; an error names the file when a line is
    /// not one rfw writes.
    pub fn recorded(&self) -> io::Result<Vec<Recorded>> {
        let lines = self.read_lines("rules")?;
        let mut out = Vec::with_capacity(lines.len());
        for (n, line) in lines.iter().enumerate() {
            // Written with shell_quote: single quotes, `\` outside them.
            let w = split_quoted(line, '\'', false);
            let r = (w.len() >= 4)
                .then(|| {
                    Some(Recorded {
                        exp: w[0].parse().ok()?,
                        family: family_of(&w[1])?,
                        table: w[2].clone(),
                        chain: w[3].clone(),
                        words: w[4..].to_vec(),
                    })
                })
                .flatten();
            match r {
                Some(r) if !r.table.is_empty() && !r.chain.is_empty() && r.line() == *line => {
                    out.push(r)
                }
                _ => return Err(self.bad_line("rules", n, line)),
            }
        }
        Ok(out)
    }

    /// Records an untagged rule (caller holds the lock). Nothing is written
    /// when the file cannot be read or parsed.
    pub fn record(&self, _l: &Locked, r: &Recorded) -> io::Result<()> {
        let mut lines: Vec<String> = self.recorded()?.iter().map(Recorded::line).collect();
        let line = r.line();
        if line.contains(['\n', '\r', '\0']) {
            return Err(fail(
                "an argument holds a line break or NUL; the state file cannot record it"
                    .to_string(),
            ));
        }
        lines.push(line);
        self.write_lines("rules", &lines)
    }

    /// Forgets one recorded rule (the first equal one; caller holds the lock).
    pub fn forget(&self, _l: &Locked, r: &Recorded) -> io::Result<()> {
        let mut all = self.recorded()?;
        if let Some(i) = all.iter().position(|x| x == r) {
            all.remove(i);
        }
        let lines: Vec<String> = all.iter().map(Recorded::line).collect();
        self.write_lines("rules", &lines)
    }
}

impl Recorded {
    /// The state-file line: expiry, family, then table, chain and rule
    /// words shell-quoted (read back by [`Store::recorded`]).
    fn line(&self) -> String {
        let head = format!("{} {} ", self.exp, self.family.short());
        head + &shell_line(
            [self.table.as_str(), self.chain.as_str()]
                .into_iter()
                .chain(self.words.iter().map(String::as_str)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags() {
        let t = new_tag(Some(1234));
        assert!(t.starts_with("rfw:") && t.ends_with(":exp=1234"), "{t}");
        assert_eq!(tag_expiry(&t), Some(1234));
        assert_eq!(tag_expiry(&new_tag(None)), None);
        assert!(t.len() < 64);
    }

    #[test]
    fn only_the_exact_grammar_is_rfw_s() {
        assert_eq!(
            parse_tag("rfw:1700000000.42"),
            Some(Tag {
                time: 1_700_000_000,
                pid: 42,
                exp: None
            })
        );
        assert_eq!(tag_expiry("rfw:1.2:exp=99"), Some(99));
        assert!(is_rfw_tag(&new_tag(None)));
        for foreign in [
            "rfw: keep, admin rule",
            "rfw:",
            "rfw:1",
            "rfw:1.",
            "rfw:.2",
            "rfw:1.2 extra",
            "rfw:1.2:exp=",
            "rfw:1.2:exp=5 ",
            "rfw:1.2:ttl=5",
            "rfw:+1.2",
            "rfw:1.-2",
            "RFW:1.2",
            " rfw:1.2",
            "rfw:1.2:exp=1:exp=2",
            "rfw:99999999999999999999999.1",
        ] {
            assert!(!is_rfw_tag(foreign), "{foreign}");
        }
    }

    #[test]
    fn shell_words_round_trip() {
        let words = ["a b", "it's", "$(x);`y`", "", "plain"];
        let line = shell_line(words);
        assert_eq!(split_quoted(&line, '\'', false), words);
    }

    struct Tmp(PathBuf);
    impl Drop for Tmp {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    /// A private directory and a store whose state directory is `state`
    /// inside it (not created yet).
    fn store(name: &str) -> (Tmp, Store) {
        use std::os::unix::fs::PermissionsExt;
        let d = std::env::temp_dir().join(format!("rfw-store-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir(&d).unwrap();
        fs::set_permissions(&d, fs::Permissions::from_mode(0o755)).unwrap();
        let s = Store {
            dir: d.join("state"),
            key: "1".into(),
        };
        (Tmp(d), s)
    }

    fn rec(port: &str) -> Recorded {
        Recorded {
            exp: 0,
            family: Family::V4,
            table: "filter".into(),
            chain: "OUTPUT".into(),
            words: vec![
                "-p".into(),
                "tcp".into(),
                "--dport".into(),
                port.into(),
                "--comment".into(),
                "a 'b'".into(),
            ],
        }
    }

    fn mode_of(p: &std::path::Path) -> u32 {
        fs::symlink_metadata(p).unwrap().mode() & 0o7777
    }

    #[test]
    fn store_round_trip() {
        let (_t, s) = store("trip");
        let l = s.lock().unwrap();
        assert_eq!(mode_of(&s.dir), 0o700);
        let r = rec("5555");
        s.record(&l, &r).unwrap();
        assert_eq!(mode_of(&s.path("rules")), 0o600);
        assert_eq!(s.recorded().unwrap(), vec![r.clone()]);
        s.forget(&l, &r).unwrap();
        assert!(s.recorded().unwrap().is_empty());
        // Only the files rfw names are left: no temporaries.
        let mut names: Vec<String> = fs::read_dir(&s.dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["net-1.lock"]);
    }

    #[test]
    fn a_missing_directory_reads_as_empty_and_is_not_created() {
        let (_t, s) = store("missing");
        assert!(s.recorded().unwrap().is_empty());
        assert!(!s.dir.exists());
    }

    #[test]
    fn an_unreadable_file_is_an_error_and_is_not_rewritten() {
        let (_t, s) = store("corrupt");
        let l = s.lock().unwrap();
        s.record(&l, &rec("5555")).unwrap();
        s.record(&l, &rec("5556")).unwrap();
        let p = s.path("rules");
        let mut bytes = fs::read(&p).unwrap();
        bytes.insert(3, 0xff);
        fs::write(&p, &bytes).unwrap();
        let e = s.record(&l, &rec("5557")).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("{} is not UTF-8 text", p.display())),
            "{e}"
        );
        assert!(!e.contains('\n'), "{e}");
        assert_eq!(fs::read(&p).unwrap(), bytes);
        assert!(s.forget(&l, &rec("5555")).is_err());
        assert_eq!(fs::read(&p).unwrap(), bytes);
        // A malformed line, named with its number.
        for bad in [
            "0 v4 filter",
            "x v4 filter OUTPUT -p tcp",
            "0 v5 filter OUTPUT -j DROP",
            "0 v4 filter OUTPUT 'unterminated",
            "",
        ] {
            let good = rec("5555").line();
            let text = format!("{good}\n{bad}\n{good}\n");
            fs::write(&p, &text).unwrap();
            let e = s.record(&l, &rec("5557")).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("{} line 2: ", p.display())),
                "{bad:?}: {e}"
            );
            assert_eq!(fs::read_to_string(&p).unwrap(), text);
        }
    }

    #[test]
    fn a_leftover_expiry_index_is_neither_read_nor_removed() {
        // Written by earlier versions; nothing reads it any more.
        let (_t, s) = store("oldindex");
        let l = s.lock().unwrap();
        let old = s.dir.join("net-1.expiry");
        fs::write(&old, "not a line rfw writes\n").unwrap();
        s.record(&l, &rec("5555")).unwrap();
        assert_eq!(s.recorded().unwrap(), vec![rec("5555")]);
        s.forget(&l, &rec("5555")).unwrap();
        assert_eq!(fs::read_to_string(&old).unwrap(), "not a line rfw writes\n");
    }

    #[test]
    fn a_symlink_at_the_old_temporary_name_is_not_followed() {
        let (t, s) = store("tmplink");
        let l = s.lock().unwrap();
        let victim = t.0.join("victim");
        fs::write(&victim, "precious\n").unwrap();
        std::os::unix::fs::symlink(&victim, s.dir.join("net-1.rules.tmp")).unwrap();
        s.record(&l, &rec("5555")).unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious\n");
        assert!(fs::symlink_metadata(s.path("rules")).unwrap().is_file());
        assert_eq!(s.recorded().unwrap(), vec![rec("5555")]);
        // A symlink as the file itself is not read through, and replacing
        // it writes a new file instead of the link's target.
        fs::remove_file(s.path("rules")).unwrap();
        std::os::unix::fs::symlink(&victim, s.path("rules")).unwrap();
        let e = s.recorded().unwrap_err().to_string();
        assert!(e.contains("is not a regular file"), "{e}");
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious\n");
    }

    #[test]
    fn an_unsafe_directory_is_refused_and_nothing_written() {
        use std::os::unix::fs::PermissionsExt;
        let (t, s) = store("unsafe");
        fs::create_dir(&s.dir).unwrap();
        fs::set_permissions(&s.dir, fs::Permissions::from_mode(0o777)).unwrap();
        let e = s.lock().err().unwrap().to_string();
        assert!(
            e.starts_with(&format!(
                "state directory {} is writable by group or others (mode 0777)",
                s.dir.display()
            )),
            "{e}"
        );
        assert!(s.recorded().is_err());
        assert_eq!(fs::read_dir(&s.dir).unwrap().count(), 0);
        // A symlink to a good directory is refused too.
        fs::set_permissions(&s.dir, fs::Permissions::from_mode(0o700)).unwrap();
        let link = Store {
            dir: t.0.join("link"),
            key: "1".into(),
        };
        std::os::unix::fs::symlink(&s.dir, &link.dir).unwrap();
        let e = link.lock().err().unwrap().to_string();
        assert!(e.contains("is a symbolic link"), "{e}");
        assert_eq!(fs::read_dir(&s.dir).unwrap().count(), 0);
        // A world-writable parent (no sticky bit) is refused as well.
        fs::set_permissions(&t.0, fs::Permissions::from_mode(0o777)).unwrap();
        let e = s.lock().err().unwrap().to_string();
        assert!(e.contains("writable by group or others"), "{e}");
        fs::set_permissions(&t.0, fs::Permissions::from_mode(0o755)).unwrap();
        assert!(s.lock().is_ok());
    }
}
