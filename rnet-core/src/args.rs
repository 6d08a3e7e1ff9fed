//! Command-line tokenizing shared by the three tools: Unicode dashes pasted
//! from web pages, and a GNU `getopt_long` work-alike.
//!
//! The originals parse with getopt, and scripts (and learners) rely on its
//! exact habits: clustered short options (`-tulpn`), an option's argument
//! glued or separate (`-Ainet`, `-A inet`), long options by unambiguous
//! prefix (`--numeric-h`), operands anywhere (argument permutation), `--`
//! ending options, and glibc's wording of each error. clap differs in all
//! of these, so the tools use this tokenizer and keep their own flag tables.

use std::ffi::{OsStr, OsString};
use std::fmt;

/// Characters a web page may put where `-` was typed: U+2010 to U+2015
/// (hyphen, non-breaking hyphen, figure dash, en dash, em dash, horizontal
/// bar) and U+2212 (minus sign).
pub fn is_unicode_dash(c: char) -> bool {
    matches!(c, '\u{2010}'..='\u{2015}' | '\u{2212}')
}

/// One argument that was rewritten.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DashFix {
    /// As typed.
    pub from: String,
    /// As read.
    pub to: String,
}

impl fmt::Display for DashFix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "note: read '{}' as '{}' (a Unicode dash was pasted where '-' belongs)",
            self.from, self.to
        )
    }
}

/// The one note a tool prints when it repaired dashes: `None` when
/// nothing was repaired.
pub fn dash_note(fixes: &[DashFix]) -> Option<String> {
    match fixes {
        [] => None,
        [one] => Some(one.to_string()),
        many => Some(format!(
            "note: read {} (Unicode dashes were pasted where '-' belongs)",
            many.iter()
                .map(|f| format!("'{}' as '{}'", f.from, f.to))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Rewrites arguments that start with Unicode dashes followed by an option
/// letter (or by another dash) into ASCII `-`. Arguments that do not start
/// that way are left alone, so data such as `−5` in the middle of a value
/// or text after the option is never touched.
pub fn normalize_dashes(args: Vec<OsString>) -> (Vec<OsString>, Vec<DashFix>) {
    let mut fixes = Vec::new();
    let out = args
        .into_iter()
        .map(|arg| {
            let (arg, fix) = normalize_one(arg);
            fixes.extend(fix);
            arg
        })
        .collect();
    (out, fixes)
}

/// One argument of [`normalize_dashes`].
fn normalize_one(arg: OsString) -> (OsString, Option<DashFix>) {
    let Some(s) = arg.to_str() else {
        return (arg, None);
    };
    let lead: Vec<char> = s
        .chars()
        .take_while(|c| *c == '-' || is_unicode_dash(*c))
        .collect();
    if lead.is_empty() || !lead.iter().any(|c| is_unicode_dash(*c)) || lead.len() > 2 {
        return (arg, None);
    }
    let rest = &s[lead.iter().map(|c| c.len_utf8()).sum::<usize>()..];
    match rest.chars().next() {
        Some(c) if c.is_ascii_alphanumeric() || c == '?' => {}
        _ => return (arg, None),
    }
    let fixed = format!("{}{}", "-".repeat(lead.len()), rest);
    let fix = DashFix {
        from: s.to_string(),
        to: fixed.clone(),
    };
    (OsString::from(fixed), Some(fix))
}

/// As [`normalize_dashes`], knowing the options: an argument that getopt
/// will take as an option's value (`-A –inet`, `--protocol –x`) and every
/// argument after `--` are left as typed, so a value is read exactly as
/// the original reads it.
pub fn normalize_dashes_for(
    args: Vec<OsString>,
    shorts: &[ShortOpt],
    longs: &[LongOpt],
) -> (Vec<OsString>, Vec<DashFix>) {
    let mut fixes = Vec::new();
    let mut out = Vec::with_capacity(args.len());
    let mut verbatim = false;
    let mut value_next = false;
    for arg in args {
        if verbatim || value_next {
            value_next = false;
            out.push(arg);
            continue;
        }
        let (arg, fix) = normalize_one(arg);
        fixes.extend(fix);
        let b = arg.as_encoded_bytes();
        if b == b"--" {
            verbatim = true;
        } else if let Some(body) = b.strip_prefix(b"--") {
            if !body.contains(&b'=') {
                let name = String::from_utf8_lossy(body);
                value_next =
                    find_long(longs, &name, &arg).is_ok_and(|o| o.has_arg == HasArg::Required);
            }
        } else if b.len() > 1 && b[0] == b'-' {
            for (k, &c) in b.iter().enumerate().skip(1) {
                let Some(o) = shorts
                    .iter()
                    .find(|o| c.is_ascii() && o.letter == char::from(c))
                else {
                    break;
                };
                match o.has_arg {
                    HasArg::No => {}
                    HasArg::Optional => break,
                    HasArg::Required => {
                        value_next = k + 1 == b.len();
                        break;
                    }
                }
            }
        }
        out.push(arg);
    }
    (out, fixes)
}

/// Splits a full argument list into the program name (the basename of
/// `argv[0]`, so a tool installed as `nc` or `netstat` names itself that
/// way in messages; `default` when missing) and the other arguments, with
/// Unicode dashes repaired (see [`normalize_dashes`]).
pub fn split_argv(args: Vec<OsString>, default: &str) -> (String, Vec<OsString>, Vec<DashFix>) {
    let (prog, _, rest, fixes) = split_argv_full(args, default);
    (prog, rest, fixes)
}

/// As [`split_argv`], also returning `argv[0]` as typed: glibc's getopt
/// names the program that way in its messages (`/usr/bin/nc: invalid
/// option -- 'Y'`), unlike the tools' own messages, which use the basename.
pub fn split_argv_full(
    args: Vec<OsString>,
    default: &str,
) -> (String, String, Vec<OsString>, Vec<DashFix>) {
    let (prog, argv0, rest) = split_prog(args, default);
    let (rest, fixes) = normalize_dashes(rest);
    (prog, argv0, rest, fixes)
}

/// As [`split_argv_full`], with the dashes repaired by
/// [`normalize_dashes_for`] (option values are left as typed).
pub fn split_argv_with(
    args: Vec<OsString>,
    default: &str,
    shorts: &[ShortOpt],
    longs: &[LongOpt],
) -> (String, String, Vec<OsString>, Vec<DashFix>) {
    let (prog, argv0, rest) = split_prog(args, default);
    let (rest, fixes) = normalize_dashes_for(rest, shorts, longs);
    (prog, argv0, rest, fixes)
}

fn split_prog(args: Vec<OsString>, default: &str) -> (String, String, Vec<OsString>) {
    let argv0 = args
        .first()
        .map(|a| a.to_string_lossy().into_owned())
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| default.to_string());
    let mut args = args.into_iter();
    let prog = args
        .next()
        .map(|a| {
            std::path::Path::new(&a)
                .file_name()
                .unwrap_or(a.as_os_str())
                .to_string_lossy()
                .into_owned()
        })
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| default.to_string());
    (prog, argv0, args.collect())
}

/// Whether an option takes an argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HasArg {
    /// Never.
    No,
    /// Always (glued or the next word).
    Required,
    /// Only glued (`--opt=value`, `-ovalue`).
    Optional,
}

/// A long option.
#[derive(Clone, Copy, Debug)]
pub struct LongOpt {
    /// Name without the leading `--`.
    pub name: &'static str,
    /// Argument rule.
    pub has_arg: HasArg,
    /// Identity: two names with the same id are the same option (glibc
    /// does not call a prefix ambiguous when every match is the same option).
    pub id: u32,
    /// Only an exact match selects it. Used for our own additions, so that
    /// an abbreviation that worked with the original keeps working.
    pub exact_only: bool,
}

/// A short option letter and whether it takes an argument.
#[derive(Clone, Copy, Debug)]
pub struct ShortOpt {
    /// The letter.
    pub letter: char,
    /// Argument rule.
    pub has_arg: HasArg,
}

/// Builds the short-option table from a getopt string such as `"A:an"`.
pub fn short_opts(spec: &str) -> Vec<ShortOpt> {
    let chars: Vec<char> = spec.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let letter = chars[i];
        let mut has_arg = HasArg::No;
        if chars.get(i + 1) == Some(&':') {
            has_arg = HasArg::Required;
            i += 1;
            if chars.get(i + 1) == Some(&':') {
                has_arg = HasArg::Optional;
                i += 1;
            }
        }
        out.push(ShortOpt { letter, has_arg });
        i += 1;
    }
    out
}

/// One token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Token {
    /// A short option and its argument.
    Short(char, Option<OsString>),
    /// A long option (its canonical name and id) and its argument.
    Long(&'static str, u32, Option<OsString>),
    /// A non-option argument.
    Operand(OsString),
}

/// A getopt error, worded as glibc words it (prefix it with `prog: `).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GetoptError {
    /// `invalid option -- 'q'`
    InvalidShort(char),
    /// `invalid option -- '\xc3'`: a byte that is not ASCII (glibc's
    /// getopt reads a cluster byte by byte and names the first one raw;
    /// see [`GetoptError::to_bytes`]).
    InvalidShortByte(u8),
    /// `option requires an argument -- 'A'`
    ShortNeedsArg(char),
    /// `unrecognized option '--bogus=1'`: the whole argument, as typed.
    UnknownLong(OsString),
    /// `option '--nu' is ambiguous; possibilities: '--numeric' ...`: the
    /// whole argument, then the first match and every later one that is
    /// not the same option as the first (glibc's list).
    Ambiguous(OsString, Vec<&'static str>),
    /// `option '--all' doesn't allow an argument`
    LongNoArg(&'static str),
    /// `option '--protocol' requires an argument`
    LongNeedsArg(&'static str),
}

impl fmt::Display for GetoptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GetoptError::InvalidShort(c) => write!(f, "invalid option -- '{c}'"),
            GetoptError::InvalidShortByte(b) => write!(f, "invalid option -- '\\x{b:02x}'"),
            GetoptError::ShortNeedsArg(c) => write!(f, "option requires an argument -- '{c}'"),
            GetoptError::UnknownLong(s) => {
                write!(f, "unrecognized option '{}'", s.to_string_lossy())
            }
            GetoptError::Ambiguous(s, names) => {
                write!(
                    f,
                    "option '{}' is ambiguous; possibilities:",
                    s.to_string_lossy()
                )?;
                for n in names {
                    write!(f, " '--{n}'")?;
                }
                Ok(())
            }
            GetoptError::LongNoArg(n) => write!(f, "option '--{n}' doesn't allow an argument"),
            GetoptError::LongNeedsArg(n) => write!(f, "option '--{n}' requires an argument"),
        }
    }
}

impl std::error::Error for GetoptError {}

impl GetoptError {
    /// The message as glibc writes it, byte for byte: the argument's own
    /// bytes where it is not UTF-8 (the `Display` text replaces them).
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            GetoptError::InvalidShortByte(b) => [&b"invalid option -- '"[..], &[*b], b"'"].concat(),
            GetoptError::UnknownLong(s) => {
                [&b"unrecognized option '"[..], s.as_encoded_bytes(), b"'"].concat()
            }
            GetoptError::Ambiguous(s, names) => {
                let mut v = [
                    &b"option '"[..],
                    s.as_encoded_bytes(),
                    b"' is ambiguous; possibilities:",
                ]
                .concat();
                for n in names {
                    v.extend_from_slice(format!(" '--{n}'").as_bytes());
                }
                v
            }
            other => other.to_string().into_bytes(),
        }
    }
}

/// Tokenizes `args` (without the program name) as GNU `getopt_long` does
/// with argument permutation. Stops at the first error, and returns the
/// tokens before it and that error: the tools act on the tokens in order
/// first (an earlier `-V` or `-h` wins, as with getopt, which reports an
/// error only when it gets there).
pub fn getopt_long(
    args: &[OsString],
    shorts: &[ShortOpt],
    longs: &[LongOpt],
) -> (Vec<Token>, Option<GetoptError>) {
    getopt_impl(args, shorts, longs, true)
}

/// Tokenizes as POSIX/BSD `getopt` does: options stop at the first operand
/// (the rest are operands), no long options beyond `longs` (pass `&[]`).
/// Returns what [`getopt_long`] returns.
pub fn getopt_posix(
    args: &[OsString],
    shorts: &[ShortOpt],
    longs: &[LongOpt],
) -> (Vec<Token>, Option<GetoptError>) {
    getopt_impl(args, shorts, longs, false)
}

fn getopt_impl(
    args: &[OsString],
    shorts: &[ShortOpt],
    longs: &[LongOpt],
    permute: bool,
) -> (Vec<Token>, Option<GetoptError>) {
    let mut out = Vec::new();
    match getopt_into(args, shorts, longs, permute, &mut out) {
        Ok(()) => (out, None),
        Err(e) => (out, Some(e)),
    }
}

fn getopt_into(
    args: &[OsString],
    shorts: &[ShortOpt],
    longs: &[LongOpt],
    permute: bool,
    out: &mut Vec<Token>,
) -> Result<(), GetoptError> {
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        let bytes = arg.as_encoded_bytes();
        i += 1;
        if bytes == b"--" {
            out.extend(args[i..].iter().cloned().map(Token::Operand));
            break;
        }
        if bytes.len() < 2 || bytes[0] != b'-' {
            if permute {
                out.push(Token::Operand(arg.clone()));
                continue;
            }
            out.push(Token::Operand(arg.clone()));
            out.extend(args[i..].iter().cloned().map(Token::Operand));
            break;
        }
        if bytes.starts_with(b"--") {
            let body = &bytes[2..];
            let (name, value) = match body.iter().position(|b| *b == b'=') {
                Some(p) => (&body[..p], Some(&body[p + 1..])),
                None => (body, None),
            };
            let name_str = String::from_utf8_lossy(name).into_owned();
            let opt = find_long(longs, &name_str, arg)?;
            let value = value.map(os_from_bytes);
            match (opt.has_arg, value) {
                (HasArg::No, Some(_)) => return Err(GetoptError::LongNoArg(opt.name)),
                (HasArg::No, None) => out.push(Token::Long(opt.name, opt.id, None)),
                (HasArg::Optional, v) => out.push(Token::Long(opt.name, opt.id, v)),
                (HasArg::Required, Some(v)) => out.push(Token::Long(opt.name, opt.id, Some(v))),
                (HasArg::Required, None) => match args.get(i) {
                    Some(next) => {
                        i += 1;
                        out.push(Token::Long(opt.name, opt.id, Some(next.clone())));
                    }
                    None => return Err(GetoptError::LongNeedsArg(opt.name)),
                },
            }
            continue;
        }
        // A cluster of short options, read byte by byte as glibc does.
        let mut k = 1;
        while k < bytes.len() {
            let b = bytes[k];
            let rest_at = k + 1;
            if !b.is_ascii() {
                return Err(GetoptError::InvalidShortByte(b));
            }
            let c = char::from(b);
            // glibc refuses ':' and ';' even where the table would have them.
            let found = shorts
                .iter()
                .find(|o| o.letter == c)
                .filter(|_| c != ':' && c != ';');
            let Some(opt) = found else {
                return Err(GetoptError::InvalidShort(c));
            };
            match opt.has_arg {
                HasArg::No => {
                    out.push(Token::Short(c, None));
                    k += 1;
                }
                HasArg::Optional => {
                    let rest = &bytes[rest_at..];
                    let v = (!rest.is_empty()).then(|| os_from_bytes(rest));
                    out.push(Token::Short(c, v));
                    break;
                }
                HasArg::Required => {
                    let rest = &bytes[rest_at..];
                    if !rest.is_empty() {
                        out.push(Token::Short(c, Some(os_from_bytes(rest))));
                    } else if let Some(next) = args.get(i) {
                        i += 1;
                        out.push(Token::Short(c, Some(next.clone())));
                    } else {
                        return Err(GetoptError::ShortNeedsArg(c));
                    }
                    break;
                }
            }
        }
    }
    Ok(())
}

fn os_from_bytes(b: &[u8]) -> OsString {
    // The bytes are a suffix of an OsStr split at an ASCII boundary ('=' or
    // after an ASCII option letter), which keeps them valid.
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        OsStr::from_bytes(b).to_os_string()
    }
    #[cfg(not(unix))]
    {
        OsString::from(String::from_utf8_lossy(b).into_owned())
    }
}

/// What a long option name given on the command line stands for
/// ([`match_long`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LongMatch<T> {
    /// The option with exactly that name, or the one option it is a prefix
    /// of (several entries that are the same option count as one; the
    /// first is returned).
    One(T),
    /// A prefix of different options: every entry it is a prefix of, in
    /// table order (the first one first).
    Ambiguous(Vec<T>),
    /// Neither a name nor a prefix of one.
    Unknown,
}

/// glibc `getopt_long`'s lookup of a long option name among `options`,
/// in table order: an exact name wins; otherwise the name must be a
/// prefix of one option, where entries `same` calls the same option (same
/// meaning and argument rule) count once; `abbreviable` says which entries
/// a prefix may select at all. An empty name is a prefix of every option,
/// as in glibc. Used by getopt here and by rfw's iptables parser, whose
/// table grows with each match extension loaded.
pub fn match_long<T: Copy>(
    options: impl IntoIterator<Item = T>,
    name: &str,
    name_of: impl Fn(&T) -> &str,
    abbreviable: impl Fn(&T) -> bool,
    same: impl Fn(&T, &T) -> bool,
) -> LongMatch<T> {
    let options: Vec<T> = options.into_iter().collect();
    if let Some(o) = options.iter().find(|o| name_of(o) == name) {
        return LongMatch::One(*o);
    }
    let matches: Vec<T> = options
        .into_iter()
        .filter(|o| abbreviable(o) && name_of(o).starts_with(name))
        .collect();
    match matches.split_first() {
        None => LongMatch::Unknown,
        // glibc: ambiguous when a later match is not the same option as the
        // first.
        Some((first, rest)) if rest.iter().all(|o| same(first, o)) => LongMatch::One(*first),
        Some(_) => LongMatch::Ambiguous(matches),
    }
}

fn find_long<'a>(
    longs: &'a [LongOpt],
    name: &str,
    arg: &OsStr,
) -> Result<&'a LongOpt, GetoptError> {
    let same = |a: &&LongOpt, b: &&LongOpt| a.id == b.id && a.has_arg == b.has_arg;
    match match_long(longs, name, |o| o.name, |o| !o.exact_only, same) {
        LongMatch::One(o) => Ok(o),
        LongMatch::Unknown => Err(GetoptError::UnknownLong(arg.to_os_string())),
        // glibc lists the first match and each one that is not the same
        // option as the first.
        LongMatch::Ambiguous(all) => Err(GetoptError::Ambiguous(
            arg.to_os_string(),
            std::iter::once(all[0].name)
                .chain(
                    all[1..]
                        .iter()
                        .filter(|o| !same(&all[0], o))
                        .map(|o| o.name),
                )
                .collect(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    const LONGS: &[LongOpt] = &[
        LongOpt {
            name: "numeric",
            has_arg: HasArg::No,
            id: 1,
            exact_only: false,
        },
        LongOpt {
            name: "numeric-hosts",
            has_arg: HasArg::No,
            id: 2,
            exact_only: false,
        },
        LongOpt {
            name: "protocol",
            has_arg: HasArg::Required,
            id: 3,
            exact_only: false,
        },
        LongOpt {
            name: "extend",
            has_arg: HasArg::No,
            id: 4,
            exact_only: false,
        },
        LongOpt {
            name: "explain",
            has_arg: HasArg::No,
            id: 5,
            exact_only: true,
        },
        LongOpt {
            name: "inet",
            has_arg: HasArg::No,
            id: 6,
            exact_only: false,
        },
        LongOpt {
            name: "inet6",
            has_arg: HasArg::No,
            id: 6,
            exact_only: false,
        },
    ];

    #[test]
    fn clusters_and_glued_arguments() {
        let shorts = short_opts("A:natp");
        let t = getopt_long(
            &os(&["-natp", "-Ainet", "-A", "inet6", "x"]),
            &shorts,
            LONGS,
        )
        .0;
        assert_eq!(
            t,
            vec![
                Token::Short('n', None),
                Token::Short('a', None),
                Token::Short('t', None),
                Token::Short('p', None),
                Token::Short('A', Some("inet".into())),
                Token::Short('A', Some("inet6".into())),
                Token::Operand("x".into()),
            ]
        );
    }

    #[test]
    fn glibc_error_wording() {
        let shorts = short_opts("A:n");
        let e = |v: &[&str]| getopt_long(&os(v), &shorts, LONGS).1.unwrap().to_string();
        assert_eq!(e(&["-q"]), "invalid option -- 'q'");
        assert_eq!(e(&["-A"]), "option requires an argument -- 'A'");
        assert_eq!(e(&["--bogus"]), "unrecognized option '--bogus'");
        assert_eq!(e(&["--bogus=1"]), "unrecognized option '--bogus=1'");
        assert_eq!(
            e(&["--nu"]),
            "option '--nu' is ambiguous; possibilities: '--numeric' '--numeric-hosts'"
        );
        assert_eq!(
            e(&["--extend=3"]),
            "option '--extend' doesn't allow an argument"
        );
        assert_eq!(
            e(&["--protocol"]),
            "option '--protocol' requires an argument"
        );
        let (t, err) = getopt_long(&os(&["-n", "-q", "-n"]), &shorts, LONGS);
        assert_eq!(t, vec![Token::Short('n', None)]);
        assert_eq!(err, Some(GetoptError::InvalidShort('q')));
    }

    #[test]
    fn glibc_details_of_long_and_byte_errors() {
        let shorts = short_opts("A:n");
        let err = |v: Vec<OsString>| getopt_long(&v, &shorts, LONGS).1.unwrap();
        // The whole argument is named, value included.
        assert_eq!(
            err(os(&["--nume=1"])).to_string(),
            "option '--nume=1' is ambiguous; possibilities: '--numeric' '--numeric-hosts'"
        );
        // `--in`: inet and inet6 are one option (same id): not ambiguous.
        assert!(getopt_long(&os(&["--in"]), &shorts, LONGS).1.is_none());
        // An empty name is a prefix of all; glibc lists the first match and
        // each later one that is not the same option as the first.
        assert_eq!(
            err(os(&["--=x"])),
            GetoptError::Ambiguous(
                "--=x".into(),
                vec![
                    "numeric",
                    "numeric-hosts",
                    "protocol",
                    "extend",
                    "inet",
                    "inet6"
                ]
            )
        );
        // Clusters are read byte by byte: the first non-ASCII byte, raw.
        use std::os::unix::ffi::OsStringExt;
        let e = err(vec![OsString::from_vec(b"-n\xc3\xa9".to_vec())]);
        assert_eq!(e, GetoptError::InvalidShortByte(0xc3));
        assert_eq!(e.to_bytes(), b"invalid option -- '\xc3'");
        let e = err(vec![OsString::from_vec(b"--\xffx=1".to_vec())]);
        assert_eq!(e.to_bytes(), b"unrecognized option '--\xffx=1'");
        assert_eq!(err(os(&["-:"])), GetoptError::InvalidShort(':'));
    }

    #[test]
    fn random_argv_never_panics_and_tokens_follow_the_tables() {
        // Seeded: random bytes and option-like fragments through both
        // tokenizers and the dash repair. Every token must come from the
        // tables with an argument only where the table allows one, and
        // repairing twice changes nothing more.
        use std::os::unix::ffi::OsStringExt;
        let shorts = short_opts("A:np:o::x");
        let mut x: u64 = 0x0123_4567_89ab_cdef;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let parts: &[&[u8]] = &[
            b"-",
            b"--",
            b"-n",
            b"-A",
            b"--nu",
            b"--protocol",
            b"=",
            b"-o",
            b"-p",
            b"x",
            b"\xe2\x80\x93",
            b"\xff",
            b"\xc3\xa9",
            b":",
            b";",
            b"--ex",
            b"--inet6=",
        ];
        for _ in 0..20_000 {
            let argv: Vec<OsString> = (0..next() % 6)
                .map(|_| {
                    let mut a = Vec::new();
                    for _ in 0..next() % 4 {
                        if next() % 4 == 0 {
                            a.push(next() as u8);
                        } else {
                            a.extend_from_slice(parts[(next() % parts.len() as u64) as usize]);
                        }
                    }
                    OsString::from_vec(a)
                })
                .collect();
            let (fixed, _) = normalize_dashes_for(argv.clone(), &shorts, LONGS);
            assert_eq!(normalize_dashes_for(fixed.clone(), &shorts, LONGS).0, fixed);
            for (tokens, err) in [
                getopt_long(&fixed, &shorts, LONGS),
                getopt_posix(&fixed, &shorts, &[]),
            ] {
                for t in &tokens {
                    match t {
                        Token::Short(c, v) => {
                            let o = shorts.iter().find(|o| o.letter == *c).unwrap();
                            assert!(c.is_ascii() && *c != ':' && *c != ';');
                            match o.has_arg {
                                HasArg::No => assert!(v.is_none()),
                                HasArg::Required => assert!(v.is_some()),
                                HasArg::Optional => {}
                            }
                        }
                        Token::Long(name, id, v) => {
                            let o = LONGS.iter().find(|o| o.name == *name).unwrap();
                            assert_eq!(o.id, *id);
                            if o.has_arg == HasArg::No {
                                assert!(v.is_none());
                            }
                        }
                        // An operand is always a whole argument.
                        Token::Operand(a) => assert!(fixed.contains(a)),
                    }
                }
                if let Some(e) = err {
                    assert!(!e.to_bytes().is_empty());
                }
            }
        }
    }

    #[test]
    fn dashes_in_option_values_are_left_as_typed() {
        let shorts = short_opts("A:n");
        let (v, fixes) = normalize_dashes_for(
            os(&[
                "\u{2013}n",
                "-A",
                "\u{2013}inet",
                "-nA",
                "\u{2013}x",
                "--prot",
                "\u{2014}y",
                "\u{2013}A\u{2013}z",
                "--",
                "\u{2013}n",
            ]),
            &shorts,
            LONGS,
        );
        assert_eq!(
            v,
            os(&[
                "-n",
                "-A",
                "\u{2013}inet",
                "-nA",
                "\u{2013}x",
                "--prot",
                "\u{2014}y",
                "-A\u{2013}z",
                "--",
                "\u{2013}n"
            ])
        );
        assert_eq!(fixes.len(), 2);
    }

    #[test]
    fn prefixes_exact_and_same_option() {
        let shorts = short_opts("n");
        let (t, err) = getopt_long(
            &os(&["--numeric", "--ex", "--ine", "--prot=inet"]),
            &shorts,
            LONGS,
        );
        assert!(err.is_none());
        assert_eq!(t[0], Token::Long("numeric", 1, None));
        // `explain` is exact-only: `--ex` still means `--extend`, as in netstat.
        assert_eq!(t[1], Token::Long("extend", 4, None));
        assert_eq!(t[2], Token::Long("inet", 6, None));
        assert_eq!(t[3], Token::Long("protocol", 3, Some("inet".into())));
    }

    #[test]
    fn double_dash_and_posix_mode() {
        let shorts = short_opts("lv");
        let t = getopt_long(&os(&["--", "-l"]), &shorts, &[]).0;
        assert_eq!(t, vec![Token::Operand("-l".into())]);
        let t = getopt_posix(&os(&["-l", "host", "-v"]), &shorts, &[]).0;
        assert_eq!(
            t,
            vec![
                Token::Short('l', None),
                Token::Operand("host".into()),
                Token::Operand("-v".into())
            ]
        );
    }

    #[test]
    fn program_name_and_rest() {
        let (prog, rest, fixes) = split_argv(os(&["/usr/bin/nc", "\u{2013}l", "5555"]), "rnc");
        assert_eq!(
            (prog.as_str(), rest, fixes.len()),
            ("nc", os(&["-l", "5555"]), 1)
        );
        let (prog, rest, _) = split_argv(Vec::new(), "rnc");
        assert_eq!((prog.as_str(), rest.len()), ("rnc", 0));
    }

    #[test]
    fn unicode_dashes() {
        let (v, fixes) = normalize_dashes(os(&[
            "\u{2013}nat",
            "\u{2014}\u{2014}all",
            "a\u{2013}b",
            "\u{2212}5",
            "-l",
        ]));
        assert_eq!(v, os(&["-nat", "--all", "a\u{2013}b", "-5", "-l"]));
        assert_eq!(fixes.len(), 3);
        assert_eq!(
            fixes[0].to_string(),
            "note: read '\u{2013}nat' as '-nat' (a Unicode dash was pasted where '-' belongs)"
        );
        let (_, many) = normalize_dashes(os(&["\u{2013}n", "\u{2013}a"]));
        assert_eq!(
            dash_note(&many).unwrap(),
            "note: read '\u{2013}n' as '-n', '\u{2013}a' as '-a' (Unicode dashes were pasted where '-' belongs)"
        );
        assert_eq!(dash_note(&[]), None);
        let (v, fixes) = normalize_dashes(os(&["\u{2013}", "\u{2013} x"]));
        assert_eq!(v, os(&["\u{2013}", "\u{2013} x"]));
        assert!(fixes.is_empty());
    }
}
