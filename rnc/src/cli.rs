//! Flags of OpenBSD netcat 1.219 (Debian), parsed with glibc's getopt
//! habits (options may follow operands), plus rnc's `--explain`.

use rnet_core::addr::Family;
use rnet_core::args::{getopt_long, short_opts, HasArg, LongOpt, Token};
use std::ffi::OsString;

/// nc's getopt string.
pub const SHORT_OPTS: &str = "46bCDdFhI:i:klM:m:NnO:P:p:q:rSs:T:tUuV:vW:w:X:x:Zz";

const ID_EXPLAIN: u32 = 1;
const ID_NO_EXPLAIN: u32 = 2;

/// rnc's own long options, matched only when spelled in full.
pub const LONG_OPTS: &[LongOpt] = &[
    LongOpt {
        name: "explain",
        has_arg: HasArg::No,
        id: ID_EXPLAIN,
        exact_only: true,
    },
    LongOpt {
        name: "no-explain",
        has_arg: HasArg::No,
        id: ID_NO_EXPLAIN,
        exact_only: true,
    },
];

/// Proxy protocol of `-X`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyProto {
    /// SOCKS v4.
    Socks4,
    /// SOCKS v5 (the default with `-x`).
    Socks5,
    /// HTTP CONNECT.
    Connect,
}

/// Everything the command line says.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// `-4`, `-6` (`None`: either); cleared by `-U`.
    pub family: Option<Family>,
    /// `-U`: a UNIX domain socket (cleared by a later `-4` or `-6`, as
    /// nc's one `family` variable is).
    pub unix: bool,
    /// `-b`
    pub broadcast: bool,
    /// `-C`
    pub crlf: bool,
    /// `-D`
    pub debug: bool,
    /// `-d`
    pub no_stdin: bool,
    /// `-F`
    pub pass_fd: bool,
    /// `-I`
    pub rcvbuf: Option<u32>,
    /// `-i`
    pub interval: Option<u32>,
    /// `-k`
    pub keep: bool,
    /// `-l`
    pub listen: bool,
    /// `-M`
    pub ttl: Option<u32>,
    /// `-m`
    pub minttl: Option<u32>,
    /// `-N`
    pub shutdown_on_eof: bool,
    /// `-n`
    pub numeric: bool,
    /// `-O`
    pub sndbuf: Option<u32>,
    /// `-P`
    pub proxy_user: Option<String>,
    /// `-p`
    pub source_port: Option<String>,
    /// `-q` (negative: never quit)
    pub quit: Option<i64>,
    /// `-r`
    pub random: bool,
    /// `-S`
    pub md5: bool,
    /// The `-S` key, read from the terminal at start.
    pub md5_key: Option<Vec<u8>>,
    /// `-s`
    pub source_addr: Option<String>,
    /// `-T`
    pub tos: Option<i32>,
    /// `-t`
    pub telnet: bool,
    /// `-u`
    pub udp: bool,
    /// `-v`
    pub verbose: bool,
    /// `-W`
    pub recv_limit: Option<u64>,
    /// `-w`
    pub timeout: Option<u32>,
    /// `-X`
    pub proxy_proto: Option<ProxyProto>,
    /// `-x`
    pub proxy_addr: Option<String>,
    /// `-Z`
    pub dccp: bool,
    /// `-z`
    pub zero_io: bool,
    /// `--explain` / `--no-explain`
    pub explain: Option<bool>,
    /// Operands: destination and port(s), or a path with `-U`.
    pub operands: Vec<String>,
}

/// What to do.
#[derive(Debug)]
pub enum Action {
    /// Run with these options.
    Run(Box<Options>),
    /// `-h`: help on stderr, exit 0.
    Help,
    /// Usage on stderr, exit 1 (optionally after a getopt message).
    Usage(Option<String>),
    /// `nc: MESSAGE`, exit 1.
    Fail(String),
}

/// strtonum(s, lo, hi) with OpenBSD's error words.
pub fn strtonum(s: &str, lo: i64, hi: i64) -> Result<i64, &'static str> {
    let t = s.trim_start();
    let body = t.strip_prefix('+').unwrap_or(t);
    let digits = body.strip_prefix('-').unwrap_or(body);
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err("invalid");
    }
    let v: i128 = body.parse().map_err(|_| "invalid")?;
    if v < i128::from(lo) {
        return Err("too small");
    }
    if v > i128::from(hi) {
        return Err("too large");
    }
    Ok(v as i64)
}

/// `-T` keywords (OpenBSD `map_tos`) or a number 0..=255.
pub fn parse_tos(s: &str) -> Option<i32> {
    let v = match s {
        "af11" => 0x28,
        "af12" => 0x30,
        "af13" => 0x38,
        "af21" => 0x48,
        "af22" => 0x50,
        "af23" => 0x58,
        "af31" => 0x68,
        "af32" => 0x70,
        "af33" => 0x78,
        "af41" => 0x88,
        "af42" => 0x90,
        "af43" => 0x98,
        "critical" => 0xa0,
        "cs0" => 0x00,
        "cs1" => 0x20,
        "cs2" => 0x40,
        "cs3" => 0x60,
        "cs4" => 0x80,
        "cs5" => 0xa0,
        "cs6" => 0xc0,
        "cs7" => 0xe0,
        "ef" => 0xb8,
        "inetcontrol" => 0xc0,
        "lowcost" => 0x02,
        "lowdelay" => 0x10,
        "netcontrol" => 0xe0,
        "reliability" => 0x04,
        "throughput" => 0x08,
        _ => {
            let v = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
                i64::from_str_radix(h, 16).ok()?
            } else {
                s.parse::<i64>().ok()?
            };
            if !(0..=255).contains(&v) {
                return None;
            }
            v as i32
        }
    };
    Some(v)
}

/// Parses the arguments (without the program name).
pub fn parse(args: &[OsString]) -> Action {
    let shorts = short_opts(SHORT_OPTS);
    let (tokens, error) = getopt_long(args, &shorts, LONG_OPTS);
    if let Some(e) = error {
        // nc has no long options: its getopt sees `--bogus` as the option
        // character '-', which it does not know.
        let e = match e {
            rnet_core::args::GetoptError::UnknownLong(_) => {
                rnet_core::args::GetoptError::InvalidShort('-')
            }
            other => other,
        };
        return Action::Usage(Some(e.to_string()));
    }
    let mut o = Options::default();
    for t in tokens {
        let (c, v) = match t {
            Token::Operand(s) => {
                o.operands.push(s.to_string_lossy().into_owned());
                continue;
            }
            Token::Long(_, ID_EXPLAIN, _) => {
                o.explain = Some(true);
                continue;
            }
            Token::Long(_, _, _) => {
                o.explain = Some(false);
                continue;
            }
            Token::Short(c, v) => (
                c,
                v.map(|v| v.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            ),
        };
        match c {
            '4' => (o.family, o.unix) = (Some(Family::V4), false),
            '6' => (o.family, o.unix) = (Some(Family::V6), false),
            'U' => (o.family, o.unix) = (None, true),
            'b' => o.broadcast = true,
            'C' => o.crlf = true,
            'D' => o.debug = true,
            'd' => o.no_stdin = true,
            'F' => o.pass_fd = true,
            'h' => return Action::Help,
            'I' => match strtonum(&v, 1, 65536 << 14) {
                Ok(n) => o.rcvbuf = Some(n as u32),
                Err(e) => return Action::Fail(format!("TCP receive window {e}: {v}")),
            },
            'O' => match strtonum(&v, 1, 65536 << 14) {
                Ok(n) => o.sndbuf = Some(n as u32),
                Err(e) => return Action::Fail(format!("TCP send window {e}: {v}")),
            },
            'i' => match strtonum(&v, 0, i64::from(u32::MAX)) {
                Ok(n) => o.interval = Some(n as u32),
                Err(e) => return Action::Fail(format!("interval {e}: {v}")),
            },
            'k' => o.keep = true,
            'l' => o.listen = true,
            'M' => match strtonum(&v, 0, 255) {
                Ok(n) => o.ttl = Some(n as u32),
                Err(e) => return Action::Fail(format!("ttl is {e}")),
            },
            'm' => match strtonum(&v, 0, 255) {
                Ok(n) => o.minttl = Some(n as u32),
                Err(e) => return Action::Fail(format!("minttl is {e}")),
            },
            'N' => o.shutdown_on_eof = true,
            'n' => o.numeric = true,
            'P' => o.proxy_user = Some(v),
            'p' => o.source_port = Some(v),
            'q' => match strtonum(&v, i64::from(i32::MIN), i64::from(i32::MAX)) {
                Ok(n) => o.quit = Some(n),
                Err(e) => return Action::Fail(format!("quit timer {e}: {v}")),
            },
            'r' => o.random = true,
            'S' => o.md5 = true,
            's' => o.source_addr = Some(v),
            'T' => match parse_tos(&v) {
                Some(t) => o.tos = Some(t),
                None => return Action::Fail(format!("illegal tos value {v}")),
            },
            't' => o.telnet = true,
            'u' => o.udp = true,
            'V' => return Action::Fail("no alternate routing table support available".into()),
            'v' => o.verbose = true,
            'W' => match strtonum(&v, 1, i64::from(i32::MAX)) {
                Ok(n) => o.recv_limit = Some(n as u64),
                Err(e) => return Action::Fail(format!("receive limit {e}: {v}")),
            },
            'w' => match strtonum(&v, 0, i64::from(i32::MAX / 1000)) {
                Ok(n) => o.timeout = Some(n as u32),
                Err(e) => return Action::Fail(format!("timeout {e}: {v}")),
            },
            'X' => {
                o.proxy_proto = Some(match v.to_ascii_lowercase().as_str() {
                    "4" => ProxyProto::Socks4,
                    "5" => ProxyProto::Socks5,
                    "connect" => ProxyProto::Connect,
                    _ => return Action::Fail("unsupported proxy protocol".into()),
                })
            }
            'x' => o.proxy_addr = Some(v),
            'Z' => o.dccp = true,
            'z' => o.zero_io = true,
            _ => return Action::Usage(None),
        }
    }
    // Cross-checks, in nc's order.
    if o.listen && o.zero_io {
        return Action::Fail("cannot use -z and -l".into());
    }
    if !o.listen && o.keep {
        return Action::Fail("must use -l with -k".into());
    }
    if o.listen && o.proxy_addr.is_some() {
        return Action::Fail("no proxy support for listen".into());
    }
    if o.udp && o.dccp {
        return Action::Fail("cannot use -u and -Z".into());
    }
    if o.unix {
        // `nc -lU -s PATH` listens on PATH.
        if o.operands.is_empty() && !(o.listen && o.source_addr.is_some()) {
            if o.listen {
                return Action::Fail("missing socket pathname".into());
            }
            return Action::Usage(None);
        }
    } else if o.listen {
        if o.operands.len() > 2 {
            return Action::Usage(None);
        }
        if o.operands.is_empty() && o.source_port.is_none() {
            return Action::Fail("missing port number".into());
        }
    } else {
        if o.operands.is_empty() {
            return Action::Usage(None);
        }
        if o.operands.len() == 1 {
            return Action::Fail("missing port number".into());
        }
    }
    Action::Run(Box::new(o))
}

/// The short usage (stderr, exit 1).
pub const USAGE: &str = "usage: nc [-46CDdFhklNnrStUuvZz] [-I length] [-i interval] [-M ttl]
\t  [-m minttl] [-O length] [-P proxy_username] [-p source_port]
\t  [-q seconds] [-s sourceaddr] [-T keyword] [-V rtable] [-W recvlimit]
\t  [-w timeout] [-X proxy_protocol] [-x proxy_address[:port]]
\t  [destination] [port]
";

/// The `-h` help (stderr, exit 0), after the version line and usage.
pub const HELP: &str = "\tCommand Summary:
\t\t-4\t\tUse IPv4
\t\t-6\t\tUse IPv6
\t\t-b\t\tAllow broadcast
\t\t-C\t\tSend CRLF as line-ending
\t\t-D\t\tEnable the debug socket option
\t\t-d\t\tDetach from stdin
\t\t-F\t\tPass socket fd
\t\t-h\t\tThis help text
\t\t-I length\tTCP receive buffer length
\t\t-i interval\tDelay interval for lines sent, ports scanned
\t\t-k\t\tKeep inbound sockets open for multiple connects
\t\t-l\t\tListen mode, for inbound connects
\t\t-M ttl\t\tOutgoing TTL / Hop Limit
\t\t-m minttl\tMinimum incoming TTL / Hop Limit
\t\t-N\t\tShutdown the network socket after EOF on stdin
\t\t-n\t\tSuppress name/port resolutions
\t\t-O length\tTCP send buffer length
\t\t-P proxyuser\tUsername for proxy authentication
\t\t-p port\t\tSpecify local port for remote connects
\t\t-q secs\t\tquit after EOF on stdin and delay of secs
\t\t-r\t\tRandomize remote ports
\t\t-S\t\tEnable the TCP MD5 signature option
\t\t-s sourceaddr\tLocal source address
\t\t-T keyword\tTOS value
\t\t-t\t\tAnswer TELNET negotiation
\t\t-U\t\tUse UNIX domain socket
\t\t-u\t\tUDP mode
\t\t-V rtable\tSpecify alternate routing table
\t\t-v\t\tVerbose
\t\t-W recvlimit\tTerminate after receiving a number of packets
\t\t-w timeout\tTimeout for connects and final net reads
\t\t-X proto\tProxy protocol: \"4\", \"5\" (SOCKS) or \"connect\"
\t\t-x addr[:port]\tSpecify proxy address and port
\t\t-Z\t\tDCCP mode
\t\t-z\t\tZero-I/O mode [used for scanning]
\tPort numbers can be individual or ranges: lo-hi [inclusive]
";

/// rnc's additions to `-h`.
pub const EXTRA_HELP: &str = "\trnc additions:
\t\t--explain\tNarrate the TCP states of the connection on stderr
\t\t--no-explain\tNo narration (overrides RNC_EXPLAIN / RNET_EXPLAIN)
";

#[cfg(test)]
mod tests {
    use super::*;

    fn run(v: &[&str]) -> Action {
        parse(&v.iter().map(OsString::from).collect::<Vec<_>>())
    }

    fn fail(v: &[&str]) -> String {
        match run(v) {
            Action::Fail(m) => m,
            other => panic!("{v:?}: {other:?}"),
        }
    }

    #[test]
    fn strtonum_words() {
        assert_eq!(strtonum("5", 0, 10), Ok(5));
        assert_eq!(strtonum("abc", 0, 10), Err("invalid"));
        assert_eq!(strtonum("-1", 0, 10), Err("too small"));
        assert_eq!(strtonum("11", 0, 10), Err("too large"));
        assert_eq!(strtonum("", 0, 10), Err("invalid"));
    }

    #[test]
    fn nc_messages() {
        assert_eq!(fail(&["-i", "abc", "h", "1"]), "interval invalid: abc");
        assert_eq!(fail(&["-i", "-1", "h", "1"]), "interval too small: -1");
        assert_eq!(fail(&["-w", "abc", "h", "1"]), "timeout invalid: abc");
        assert_eq!(fail(&["-q", "abc", "h", "1"]), "quit timer invalid: abc");
        assert_eq!(fail(&["-M", "x", "h", "1"]), "ttl is invalid");
        assert_eq!(fail(&["-T", "bogus", "h", "1"]), "illegal tos value bogus");
        assert_eq!(fail(&["-k", "h", "1"]), "must use -l with -k");
        assert_eq!(fail(&["-z", "-l", "5555"]), "cannot use -z and -l");
        assert_eq!(fail(&["-l"]), "missing port number");
        assert_eq!(fail(&["h"]), "missing port number");
        assert_eq!(fail(&["-U", "-l"]), "missing socket pathname");
        assert_eq!(
            fail(&["-V", "3", "h", "1"]),
            "no alternate routing table support available"
        );
        assert!(matches!(run(&[]), Action::Usage(None)));
        assert!(matches!(run(&["-Y"]), Action::Usage(Some(m)) if m == "invalid option -- 'Y'"));
        assert!(matches!(run(&["-h"]), Action::Help));
    }

    #[test]
    fn article_forms_and_permutation() {
        let Action::Run(o) = run(&["-l", "5555"]) else {
            panic!()
        };
        assert!(o.listen && o.operands == ["5555"]);
        let Action::Run(o) = run(&["-l", "-p", "5555"]) else {
            panic!()
        };
        assert_eq!(o.source_port.as_deref(), Some("5555"));
        let Action::Run(o) = run(&["198.18.0.2", "5555", "-v", "--explain"]) else {
            panic!()
        };
        assert!(o.verbose && o.explain == Some(true));
        assert_eq!(parse_tos("lowdelay"), Some(0x10));
        assert_eq!(parse_tos("0x20"), Some(0x20));
        assert_eq!(parse_tos("999"), None);
    }

    /// Random and mutated argument vectors (a bounded, seeded run): the
    /// parser never panics, answers the same twice, keeps every message to
    /// one line, and hands on as operands only words it was given.
    #[test]
    fn random_argv_never_panics() {
        use std::os::unix::ffi::OsStringExt;
        const WORDS: &[&str] = &[
            "-l",
            "-k",
            "-N",
            "-q",
            "-w",
            "-p",
            "-s",
            "-u",
            "-U",
            "-v",
            "-z",
            "-4",
            "-6",
            "-C",
            "-d",
            "-i",
            "-I",
            "-O",
            "-M",
            "-m",
            "-T",
            "-X",
            "-x",
            "-P",
            "-W",
            "-V",
            "-h",
            "-lkv",
            "-w0",
            "-p5555",
            "--",
            "--explain",
            "--no-explain",
            "--explain=1",
            "--bogus",
            "-",
            "5555",
            "0",
            "65535",
            "65536",
            "-1",
            "026",
            "0x16",
            "1-10",
            "10-1",
            "abc",
            "",
            "127.0.0.1",
            "::1",
            "localhost",
            "99999999999999999999",
            "–l",
            "—p",
            "\u{2212}v",
            "lowdelay",
            "connect",
            "5",
            "4",
        ];
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..20_000 {
            let n = (next() % 7) as usize;
            let mut argv: Vec<OsString> = Vec::new();
            for _ in 0..n {
                let w = WORDS[(next() % WORDS.len() as u64) as usize];
                let mut bytes = w.as_bytes().to_vec();
                match next() % 8 {
                    // Mutations: a random byte (maybe not UTF-8), a cut.
                    0 if !bytes.is_empty() => {
                        let i = (next() % bytes.len() as u64) as usize;
                        bytes[i] = next() as u8;
                    }
                    1 => bytes.truncate((next() % (bytes.len() as u64 + 1)) as usize),
                    _ => {}
                }
                argv.push(OsString::from_vec(bytes));
            }
            let a = parse(&argv);
            let b = parse(&argv);
            assert_eq!(format!("{a:?}"), format!("{b:?}"), "{argv:?}");
            match a {
                Action::Usage(Some(m)) | Action::Fail(m) => {
                    // One line, but for a newline quoted from the input (as
                    // glibc's getopt quotes an option character).
                    let quoted = argv.iter().any(|w| w.as_encoded_bytes().contains(&b'\n'));
                    assert!(!m.is_empty(), "{argv:?}");
                    assert!(quoted || !m.contains('\n'), "{argv:?}: {m:?}");
                }
                Action::Run(o) => {
                    for op in &o.operands {
                        assert!(
                            argv.iter().any(|w| w.to_string_lossy() == op.as_str()),
                            "{argv:?}: operand {op:?}"
                        );
                    }
                }
                Action::Usage(None) | Action::Help => {}
            }
        }
    }
}
