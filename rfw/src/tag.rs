//! rfw's bookkeeping: the comment tag on every rule it adds, the expiry
//! index behind `--ttl`, and the state file used where the `comment` match
//! is missing.
//!
//! Files live in `$RFW_STATE_DIR` (default `/run/rfw`), one set per network
//! namespace (`/run` is shared between namespaces, the rules are not), all
//! read-modify-written under an exclusive lock on `net-<ns>.lock`:
//! - `net-<ns>.expiry`: `EXP FAMILY TABLE` per rule added with `--ttl`, so
//!   a run only lists the ruleset when something is due;
//! - `net-<ns>.rules`: `EXP FAMILY TABLE CHAIN WORDS…` (words shell-quoted,
//!   EXP 0 when none) for rules added without a tag.

use crate::exec::{shell_line, Family};
use crate::rule::split_quoted;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::PathBuf;
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

    /// Takes the lock, creating the directory if needed.
    pub fn lock(&self) -> io::Result<Locked> {
        fs::create_dir_all(&self.dir)?;
        let f = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.path("lock"))?;
        f.lock()?;
        Ok(Locked { _file: f })
    }

    fn read_lines(&self, ext: &str) -> Vec<String> {
        fs::read_to_string(self.path(ext))
            .map(|t| t.lines().map(String::from).collect())
            .unwrap_or_default()
    }

    fn write_lines(&self, ext: &str, lines: &[String]) -> io::Result<()> {
        let p = self.path(ext);
        if lines.is_empty() {
            return match fs::remove_file(&p) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            };
        }
        let tmp = self.path(&format!("{ext}.tmp"));
        let mut f = File::create(&tmp)?;
        for l in lines {
            writeln!(f, "{l}")?;
        }
        f.sync_all()?;
        fs::rename(tmp, p)
    }

    /// Adds an expiry entry (caller holds the lock).
    pub fn add_expiry(&self, _l: &Locked, exp: u64, family: Family, table: &str) -> io::Result<()> {
        let mut lines = self.read_lines("expiry");
        lines.push(format!("{exp} {} {table}", family.short()));
        self.write_lines("expiry", &lines)
    }

    /// Removes and returns the expiry entries due at `now` as (family,
    /// table) pairs, deduplicated (caller holds the lock).
    pub fn take_due(&self, _l: &Locked, now: u64) -> io::Result<Vec<(Family, String)>> {
        let mut keep = Vec::new();
        let mut due: Vec<(Family, String)> = Vec::new();
        for line in self.read_lines("expiry") {
            let f: Vec<&str> = line.split_whitespace().collect();
            let parsed = match f.as_slice() {
                [e, fam, t] => e
                    .parse::<u64>()
                    .ok()
                    .zip(family_of(fam))
                    .map(|(e, fam)| (e, fam, *t)),
                _ => None,
            };
            match parsed {
                Some((e, fam, t)) if e <= now => {
                    let seen = due.iter().any(|(df, dt)| *df == fam && dt == t);
                    if !seen {
                        due.push((fam, t.to_string()));
                    }
                }
                Some(_) => keep.push(line),
                None => {}
            }
        }
        // Untagged rules with an expiry are due through the rules file.
        for r in self.recorded() {
            if r.exp != 0
                && r.exp <= now
                && !due.iter().any(|(f, t)| *f == r.family && *t == r.table)
            {
                due.push((r.family, r.table));
            }
        }
        if !due.is_empty() {
            self.write_lines("expiry", &keep)?;
        }
        Ok(due)
    }

    /// Whether anything is due at `now`, without the lock (a cheap check
    /// that every run makes before it lists anything).
    pub fn anything_due(&self, now: u64) -> bool {
        let exp_due = self.read_lines("expiry").iter().any(|l| {
            l.split_whitespace()
                .next()
                .and_then(|e| e.parse::<u64>().ok())
                .is_some_and(|e| e <= now)
        });
        exp_due || self.recorded().iter().any(|r| r.exp != 0 && r.exp <= now)
    }

    /// The recorded untagged rules.
    pub fn recorded(&self) -> Vec<Recorded> {
        self.read_lines("rules")
            .iter()
            .filter_map(|line| {
                let w = split_shell_words(line);
                if w.len() < 4 {
                    return None;
                }
                Some(Recorded {
                    exp: w[0].parse().ok()?,
                    family: family_of(&w[1])?,
                    table: w[2].clone(),
                    chain: w[3].clone(),
                    words: w[4..].to_vec(),
                })
            })
            .collect()
    }

    /// Records an untagged rule (caller holds the lock).
    pub fn record(&self, _l: &Locked, r: &Recorded) -> io::Result<()> {
        let mut lines = self.read_lines("rules");
        lines.push(r.line());
        self.write_lines("rules", &lines)
    }

    /// Forgets one recorded rule (the first equal one; caller holds the lock).
    pub fn forget(&self, _l: &Locked, r: &Recorded) -> io::Result<()> {
        let mut all = self.recorded();
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

/// Splits a line written with [`shell_quote`] back into words.
pub fn split_shell_words(line: &str) -> Vec<String> {
    split_quoted(line, '\'', false)
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
        assert_eq!(split_shell_words(&line), words);
    }

    #[test]
    fn store_round_trip() {
        let dir = std::env::temp_dir().join(format!("rfw-store-{}", std::process::id()));
        let s = Store {
            dir: dir.clone(),
            key: "1".into(),
        };
        let l = s.lock().unwrap();
        s.add_expiry(&l, 10, Family::V4, "filter").unwrap();
        s.add_expiry(&l, 99, Family::V6, "filter").unwrap();
        let r = Recorded {
            exp: 0,
            family: Family::V4,
            table: "filter".into(),
            chain: "OUTPUT".into(),
            words: vec![
                "-p".into(),
                "tcp".into(),
                "--comment".into(),
                "a 'b'".into(),
            ],
        };
        s.record(&l, &r).unwrap();
        assert_eq!(s.recorded(), vec![r.clone()]);
        assert!(s.anything_due(10));
        assert!(!s.anything_due(9));
        assert_eq!(
            s.take_due(&l, 50).unwrap(),
            vec![(Family::V4, "filter".to_string())]
        );
        assert!(!s.anything_due(50));
        s.forget(&l, &r).unwrap();
        assert!(s.recorded().is_empty());
        drop(l);
        let _ = fs::remove_dir_all(dir);
    }
}
