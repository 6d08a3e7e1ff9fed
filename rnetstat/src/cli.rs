//! Command-line flags of net-tools `netstat`, parsed with glibc's getopt
//! habits (see `rnet_core::args`), plus rnetstat's own `--explain`.

use crate::filter::parse_port;
use rnet_core::args::{getopt_long, short_opts, GetoptError, HasArg, LongOpt, Token};
use std::ffi::OsString;

/// Which socket listings and modes were asked for; mirrors net-tools'
/// `flag_*` variables so that every rule of its `main()` carries over.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// `-a`
    pub all: bool,
    /// `-l`
    pub listening: bool,
    /// `-c`
    pub continuous: bool,
    /// Number of `-e`.
    pub extend: u32,
    /// `-p`
    pub programs: bool,
    /// `-W`
    pub wide: bool,
    /// `-n` / `--numeric-hosts`
    pub numeric_hosts: bool,
    /// `-n` / `--numeric-ports`
    pub numeric_ports: bool,
    /// `-n` / `--numeric-users`
    pub numeric_users: bool,
    /// `-o`
    pub timers: bool,
    /// `-v`
    pub verbose: bool,
    /// `-t`
    pub tcp: bool,
    /// `-S`
    pub sctp: bool,
    /// `-u`
    pub udp: bool,
    /// `-U`
    pub udplite: bool,
    /// `-w`
    pub raw: bool,
    /// `-x`, `-A unix`
    pub unix: bool,
    /// `-4`, `-A inet`
    pub inet: bool,
    /// `-6`, `-A inet6`
    pub inet6: bool,
    /// Families net-tools knows but this system has no `/proc` file for.
    pub ipx: bool,
    /// `-A ax25`
    pub ax25: bool,
    /// `-A netrom`
    pub netrom: bool,
    /// `-A x25`
    pub x25: bool,
    /// `-A rose`
    pub rose: bool,
    /// `-A bluetooth`, `--l2cap`, `--rfcomm`
    pub bluetooth: bool,
    /// `-r`
    pub route: bool,
    /// `-i`
    pub interfaces: bool,
    /// `-s`
    pub statistics: bool,
    /// `-M`
    pub masquerade: bool,
    /// `-g`
    pub groups: bool,
    /// `--explain` (`Some(true)`), `--no-explain` (`Some(false)`).
    pub explain: Option<bool>,
    /// `--port`, `--sport`, `--dport`, `--state` (rnetstat's own).
    pub filter: crate::filter::Filter,
    /// `--json` (rnetstat's own): JSON Lines instead of netstat's table.
    pub json: bool,
    /// `--summary` (rnetstat's own): TCP sockets counted per state.
    pub summary: bool,
    /// `--watch` (rnetstat's own): every TCP state change as it happens.
    pub watch: bool,
    /// `--interval MS` (rnetstat's own): `--watch`'s table read period.
    pub interval: Option<u64>,
    /// net-tools' `afname`: the families named by `-A`, `--<af>`, `-4`,
    /// `-6` and `-x`, comma-joined in order (`-s` and `-r` read it).
    pub afname: String,
    /// `-N` (net-tools' `FLAG_SYM`: `-r` then prints numbers).
    pub symbolic: bool,
    /// `-C` (routing cache).
    pub cache: bool,
    /// `-F` (routing table, the default).
    pub fib: bool,
    /// net-tools' `flag_noprot`: the protocols came from a family flag.
    pub noprot: bool,
}

impl Options {
    /// net-tools' `flag_arg`: how many protocols or families were named.
    pub fn proto_args(&self) -> bool {
        self.tcp
            || self.sctp
            || self.udp
            || self.udplite
            || self.raw
            || self.unix
            || self.ipx
            || self.ax25
            || self.netrom
            || self.x25
            || self.rose
            || self.bluetooth
    }

    /// Applies net-tools' post-parse defaults: an address family alone
    /// selects its protocols (tcp, udp, udplite, raw: Debian's 2.10 does
    /// not add SCTP there), a protocol alone selects both families.
    pub fn finish(&mut self) {
        if (self.inet || self.inet6 || self.statistics)
            && !(self.tcp || self.sctp || self.udp || self.udplite || self.raw)
        {
            self.noprot = true;
            self.tcp = true;
            self.udp = true;
            self.udplite = true;
            self.raw = true;
        }
        if (self.tcp || self.sctp || self.udp || self.udplite || self.raw || self.groups)
            && !(self.inet || self.inet6)
        {
            self.inet = true;
            self.inet6 = true;
        }
    }
}

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    /// List sockets.
    Run(Options),
    /// `-h`: usage on stdout, exit 0.
    Help,
    /// `-V`: version on stdout, exit 0.
    Version,
    /// A getopt error: the message, then usage on stderr, exit 3.
    BadOption(GetoptError),
    /// Conflicting modes: usage on stderr, exit 3.
    Usage,
    /// `-A` with an unknown family: ``Unknown address family `foo'.``, exit 1
    /// (the name's bytes as typed).
    UnknownFamily(Vec<u8>),
    /// A one-line message (without program name) and an exit status.
    Fail(String, crate::error::ExitStatus),
    /// A bad value of one of rnetstat's own options: `prog: message`,
    /// netstat's usage exit status (3), no usage text.
    BadValue(String),
}

const ID_AF: u32 = 1000;
const ID_EXPLAIN: u32 = 2000;
const ID_NO_EXPLAIN: u32 = 2001;
const ID_PORT: u32 = 2002;
const ID_SPORT: u32 = 2003;
const ID_DPORT: u32 = 2004;
const ID_STATE: u32 = 2005;
const ID_JSON: u32 = 2006;
const ID_SUMMARY: u32 = 2007;
const ID_WATCH: u32 = 2008;
const ID_INTERVAL: u32 = 2009;

/// One of rnetstat's own long options: matched only when spelled in full.
const fn own(name: &'static str, has_arg: HasArg, id: u32) -> LongOpt {
    LongOpt {
        name,
        has_arg,
        id,
        exact_only: true,
    }
}

const fn lo(name: &'static str, has_arg: HasArg, id: u32) -> LongOpt {
    LongOpt {
        name,
        has_arg,
        id,
        exact_only: false,
    }
}

/// Long options, in net-tools' table order (the order matters for the
/// "possibilities" list of an ambiguous prefix). Debian's netstat has no
/// `--econet` or `--ash` (`-A econet` and `-A ash` work), and its
/// `--tcpip` only prints an internal error (see [`TCPIP_NOTE`]).
pub const LONG_OPTS: &[LongOpt] = &[
    lo("ax25", HasArg::No, ID_AF),
    lo("ip", HasArg::No, ID_AF),
    lo("ipx", HasArg::No, ID_AF),
    lo("appletalk", HasArg::No, ID_AF),
    lo("netrom", HasArg::No, ID_AF),
    lo("inet", HasArg::No, ID_AF),
    lo("inet6", HasArg::No, ID_AF),
    lo("ddp", HasArg::No, ID_AF),
    lo("unix", HasArg::No, ID_AF),
    lo("tcpip", HasArg::No, ID_AF),
    lo("x25", HasArg::No, ID_AF),
    lo("rose", HasArg::No, ID_AF),
    lo("bluetooth", HasArg::No, ID_AF),
    lo("version", HasArg::No, 'V' as u32),
    lo("interfaces", HasArg::No, 'i' as u32),
    lo("help", HasArg::No, 'h' as u32),
    lo("route", HasArg::No, 'r' as u32),
    lo("masquerade", HasArg::No, 'M' as u32),
    lo("protocol", HasArg::Required, 'A' as u32),
    lo("tcp", HasArg::No, 't' as u32),
    lo("sctp", HasArg::No, 'S' as u32),
    lo("udp", HasArg::No, 'u' as u32),
    lo("udplite", HasArg::No, 'U' as u32),
    lo("raw", HasArg::No, 'w' as u32),
    lo("unix", HasArg::No, 'x' as u32),
    lo("l2cap", HasArg::No, '2' as u32),
    lo("rfcomm", HasArg::No, 'f' as u32),
    lo("listening", HasArg::No, 'l' as u32),
    lo("all", HasArg::No, 'a' as u32),
    lo("timers", HasArg::No, 'o' as u32),
    lo("continuous", HasArg::No, 'c' as u32),
    lo("extend", HasArg::No, 'e' as u32),
    lo("programs", HasArg::No, 'p' as u32),
    lo("verbose", HasArg::No, 'v' as u32),
    lo("statistics", HasArg::No, 's' as u32),
    lo("wide", HasArg::No, 'W' as u32),
    lo("numeric", HasArg::No, 'n' as u32),
    lo("numeric-hosts", HasArg::No, '!' as u32),
    lo("numeric-ports", HasArg::No, '@' as u32),
    lo("numeric-users", HasArg::No, '#' as u32),
    lo("symbolic", HasArg::No, 'N' as u32),
    lo("cache", HasArg::No, 'C' as u32),
    lo("fib", HasArg::No, 'F' as u32),
    lo("groups", HasArg::No, 'g' as u32),
    lo("context", HasArg::No, 'Z' as u32),
    // rnetstat's own: exact match only, so that every abbreviation that
    // worked with netstat (`--ex` for `--extend`) still means the same.
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
    own("port", HasArg::Required, ID_PORT),
    own("sport", HasArg::Required, ID_SPORT),
    own("dport", HasArg::Required, ID_DPORT),
    own("state", HasArg::Required, ID_STATE),
    own("json", HasArg::No, ID_JSON),
    own("summary", HasArg::No, ID_SUMMARY),
    own("watch", HasArg::No, ID_WATCH),
    own("interval", HasArg::Required, ID_INTERVAL),
];

/// net-tools' short option string (Debian 2.10).
pub const SHORT_OPTS: &str = "A:CFMacdeghilnNoprsStuUvVWw2fx64?Z";

/// Sets the flag of one address family name; `false` if it is unknown.
fn set_family(o: &mut Options, name: &str) -> bool {
    let canonical = match name {
        "ip" | "tcpip" => "inet",
        "ip6" => "inet6",
        "appletalk" => "ddp",
        "econet" => "ec",
        other => other,
    };
    let known = set_family_flag(o, name);
    if known {
        push_afname(o, canonical);
    }
    known
}

/// Appends one family to [`Options::afname`] (net-tools' `aftrans_opt`).
fn push_afname(o: &mut Options, name: &str) {
    if !o.afname.is_empty() {
        o.afname.push(',');
    }
    o.afname.push_str(name);
}

fn set_family_flag(o: &mut Options, name: &str) -> bool {
    match name {
        "inet" | "ip" | "tcpip" => o.inet = true,
        "inet6" | "ip6" => o.inet6 = true,
        "unix" => o.unix = true,
        "ipx" => o.ipx = true,
        "ax25" => o.ax25 = true,
        "netrom" => o.netrom = true,
        "x25" => o.x25 = true,
        "rose" => o.rose = true,
        "bluetooth" => o.bluetooth = true,
        // Known to net-tools, without a socket listing of their own.
        "ddp" | "appletalk" | "econet" | "ash" => {}
        _ => return false,
    }
    true
}

/// What Debian's netstat prints for `--tcpip` (its address family table
/// has no entry for the name), then goes on as if it had not been given.
pub const TCPIP_NOTE: &str = "netstat.c: Internal Error `longopts 1 range'.\n";

/// Parses the arguments (without the program name), processing options in
/// order as net-tools does: `-V`, `-h`, `-Z` and a bad `-A` act when reached.
pub fn parse(args: &[OsString]) -> Action {
    parse_with_notes(args).1
}

/// As [`parse`], with the lines netstat prints on stderr while it reads
/// its options (before anything the action prints).
pub fn parse_with_notes(args: &[OsString]) -> (Vec<&'static str>, Action) {
    let mut notes = Vec::new();
    let action = parse_into(args, &mut notes);
    (notes, action)
}

fn parse_into(args: &[OsString], notes: &mut Vec<&'static str>) -> Action {
    let shorts = short_opts(SHORT_OPTS);
    let (tokens, error) = getopt_long(args, &shorts, LONG_OPTS);
    let mut o = Options::default();
    for t in tokens {
        let (id, value, long_name) = match t {
            Token::Short(c, v) => (c as u32, v, None),
            Token::Long(name, id, v) => (id, v, Some(name)),
            // netstat ignores operands.
            Token::Operand(_) => continue,
        };
        if id == ID_AF {
            let name = long_name.unwrap_or_default();
            if name == "tcpip" {
                notes.push(TCPIP_NOTE);
                continue;
            }
            if !set_family(&mut o, name) {
                return Action::UnknownFamily(name.as_bytes().to_vec());
            }
            continue;
        }
        if id == ID_EXPLAIN {
            o.explain = Some(true);
            continue;
        }
        if id == ID_NO_EXPLAIN {
            o.explain = Some(false);
            continue;
        }
        if id == ID_JSON {
            o.json = true;
            continue;
        }
        if id == ID_SUMMARY {
            o.summary = true;
            continue;
        }
        if id == ID_WATCH {
            o.watch = true;
            continue;
        }
        if id == ID_INTERVAL {
            let value = value.unwrap_or_default();
            let text = value.to_string_lossy();
            match text.parse::<u64>() {
                Ok(ms)
                    if (1..=60_000).contains(&ms) && text.bytes().all(|b| b.is_ascii_digit()) =>
                {
                    o.interval = Some(ms);
                }
                _ => {
                    return Action::BadValue(format!(
                        "--interval: bad value `{text}' (milliseconds, from 1 to 60000)"
                    ))
                }
            }
            continue;
        }
        if let Some(name) = long_name.filter(|_| (ID_PORT..=ID_STATE).contains(&id)) {
            // Read when reached, as netstat reads `-A`.
            let value = value.unwrap_or_default();
            let Some(text) = value.to_str() else {
                return Action::BadValue(format!(
                    "--{name}: bad value `{}'",
                    value.to_string_lossy()
                ));
            };
            let option = format!("--{name}");
            let result = match id {
                ID_PORT => parse_port(&option, text).map(|p| o.filter.port = Some(p)),
                ID_SPORT => parse_port(&option, text).map(|p| o.filter.sport = Some(p)),
                ID_DPORT => parse_port(&option, text).map(|p| o.filter.dport = Some(p)),
                _ => o.filter.add_states(text),
            };
            if let Err(msg) = result {
                return Action::BadValue(msg);
            }
            continue;
        }
        let Some(c) = char::from_u32(id) else {
            continue;
        };
        match c {
            'A' => {
                let list = value.unwrap_or_default();
                for name in list.as_encoded_bytes().split(|b| *b == b',') {
                    let known = std::str::from_utf8(name).is_ok_and(|n| set_family(&mut o, n));
                    if !known {
                        return Action::UnknownFamily(name.to_vec());
                    }
                }
            }
            'M' => o.masquerade = true,
            'a' => o.all = true,
            'l' => o.listening = true,
            'c' => o.continuous = true,
            'g' => o.groups = true,
            'e' => o.extend += 1,
            'p' => o.programs = true,
            'i' => o.interfaces = true,
            'W' => o.wide = true,
            'n' => {
                o.numeric_hosts = true;
                o.numeric_ports = true;
                o.numeric_users = true;
            }
            '!' => o.numeric_hosts = true,
            '@' => o.numeric_ports = true,
            '#' => o.numeric_users = true,
            'o' => o.timers = true,
            '6' => {
                o.inet6 = true;
                push_afname(&mut o, "inet6");
            }
            '4' => {
                o.inet = true;
                push_afname(&mut o, "inet");
            }
            'V' => return Action::Version,
            'v' => o.verbose = true,
            'r' => o.route = true,
            't' => o.tcp = true,
            'S' => o.sctp = true,
            'u' => o.udp = true,
            'U' => o.udplite = true,
            'w' => o.raw = true,
            '2' | 'f' => o.bluetooth = true,
            'x' => {
                o.unix = true;
                push_afname(&mut o, "unix");
            }
            // netstat exits here, before reading further options.
            'Z' => return context_refusal(),
            '?' | 'h' => return Action::Help,
            's' => o.statistics = true,
            'N' => o.symbolic = true,
            'C' => o.cache = true,
            'F' => o.fib = true,
            // -d: like netstat, it changes nothing. -C, -F and -N
            // change nothing in a socket listing either.
            _ => {}
        }
    }
    if let Some(e) = error {
        return Action::BadOption(e);
    }
    let modes = [o.interfaces, o.route, o.masquerade, o.statistics];
    if modes.iter().filter(|m| **m).count() > 1 {
        return Action::Usage;
    }
    o.finish();
    Action::Run(o)
}

/// `-Z`: netstat's message when SELinux is off; where it is on, rnetstat
/// refuses (contexts are not read).
fn context_refusal() -> Action {
    let msg = if std::path::Path::new("/sys/fs/selinux/enforce").exists() {
        "-Z (SELinux contexts) is not supported by rnetstat"
    } else {
        "SELinux is not enabled on this machine."
    };
    Action::Fail(msg.to_string(), crate::error::ExitStatus::Failure)
}

/// The usage text (net-tools 2.10, Debian build), without the address
/// family list that follows it on stderr.
pub const USAGE: &str = "\
usage: netstat [-vWeenNcCF] [<Af>] -r         netstat {-V|--version|-h|--help}
       netstat [-vWnNcaeol] [<Socket> ...]
       netstat { [-vWeenNac] -i | [-cnNe] -M | -s [-6tuw] }

        -r, --route              display routing table
        -i, --interfaces         display interface table
        -g, --groups             display multicast group memberships
        -s, --statistics         display networking statistics (like SNMP)
        -M, --masquerade         display masqueraded connections

        -v, --verbose            be verbose
        -W, --wide               don't truncate IP addresses
        -n, --numeric            don't resolve names
        --numeric-hosts          don't resolve host names
        --numeric-ports          don't resolve port names
        --numeric-users          don't resolve user names
        -N, --symbolic           resolve hardware names
        -e, --extend             display other/more information
        -p, --programs           display PID/Program name for sockets
        -o, --timers             display timers
        -c, --continuous         continuous listing

        -l, --listening          display listening server sockets
        -a, --all                display all sockets (default: connected)
        -F, --fib                display Forwarding Information Base (default)
        -C, --cache              display routing cache instead of FIB
        -Z, --context            display SELinux security context for sockets

  <Socket>={-t|--tcp} {-u|--udp} {-U|--udplite} {-S|--sctp} {-w|--raw}
           {-x|--unix} --ax25 --ipx --netrom
  <AF>=Use '-6|-4' or '-A <af>' or '--<af>'; default: inet
  List of possible address families (which support routing):
";

/// The address family list net-tools prints after the usage, always on stderr.
pub const AF_LIST: &str = "    inet (DARPA Internet) inet6 (IPv6) ax25 (AMPR AX.25) 
    netrom (AMPR NET/ROM) rose (AMPR ROSE) ipx (Novell IPX) 
    ddp (Appletalk DDP) x25 (CCITT X.25) 
";

/// rnetstat's additions, printed after the netstat usage by `-h`.
pub const EXTRA_HELP: &str = "
rnetstat additions:
        --explain                annotate each TCP row with what its state means now
                                 (with -s: what the TCP counters count)
        --no-explain             no annotations (overrides RNETSTAT_EXPLAIN/RNET_EXPLAIN)
        --port N                 only internet sockets with port N at either end
        --sport N                only those whose local port is N
        --dport N                only those whose foreign port is N
        --state S[,S...]         only those in these states (LISTEN, time-wait, ...)
        --json                   one JSON object per socket per line, no headers
        --summary                TCP sockets per state, with what each state means
        --watch                  every TCP state change as it happens, one row each
                                 (kernel tracepoint as root, else polling; a ladder
                                 when both ends are here; annotated unless --no-explain)
        --interval MS            --watch's socket table period (polling: 20, else 1000)
  Filters keep netstat's headers and rows; the UNIX section is left out
  unless -x or -A unix asks for it.
  Environment: RNETSTAT_EXPLAIN=1 or RNET_EXPLAIN=1 turn annotations on;
  RNET_PROC_ROOT=DIR reads DIR instead of /proc.
  Modes: -s, -r (-C, -F), -i, -g and -M as netstat (-g -c is refused).
";

/// `-V` output (net-tools 2.10, Debian build), then rnetstat's own line.
pub fn version_text() -> String {
    format!(
        "net-tools 2.10\nFred Baumgarten, Alan Cox, Bernd Eckenfels, Phil Blundell, Tuan Hoang, Brian Micek and others\n+NEW_ADDRT +RTF_IRTT +RTF_REJECT +FW_MASQUERADE +I18N +SELINUX\nAF: (inet) +UNIX +INET +INET6 +IPX +AX25 +NETROM +X25 +ATALK +ECONET +ROSE -BLUETOOTH\nHW:  +ETHER +ARC +SLIP +PPP +TUNNEL -TR +AX25 +NETROM +X25 +FR +ROSE +ASH +SIT +FDDI +HIPPI +HDLC/LAPB +EUI64 \n(rnetstat {} from rnet-tools, compatible with the above)\n",
        env!("CARGO_PKG_VERSION")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(v: &[&str]) -> Action {
        parse(&v.iter().map(OsString::from).collect::<Vec<_>>())
    }

    fn opts(v: &[&str]) -> Options {
        match run(v) {
            Action::Run(o) => o,
            other => panic!("{v:?}: {other:?}"),
        }
    }

    #[test]
    fn clustered_article_forms() {
        let o = opts(&["-nat"]);
        assert!(o.numeric_hosts && o.all && o.tcp && o.inet && o.inet6 && !o.udp);
        let o = opts(&["-tulpn"]);
        assert!(o.tcp && o.udp && o.listening && o.programs && o.numeric_ports);
        let o = opts(&["-naptuW"]);
        assert!(o.wide && o.programs && o.udp);
        let o = opts(&["-ee", "-nat"]);
        assert_eq!(o.extend, 2);
    }

    #[test]
    fn families_select_protocols() {
        let o = opts(&["-4"]);
        assert!(o.inet && !o.inet6 && o.tcp && o.udp && o.raw);
        let o = opts(&["-A", "inet6,unix"]);
        assert!(o.inet6 && !o.inet && o.tcp && o.unix);
        assert_eq!(run(&["-A", "foo"]), Action::UnknownFamily("foo".into()));
        assert_eq!(
            run(&["-A", "inet,all"]),
            Action::UnknownFamily("all".into())
        );
        let o = opts(&["--inet6"]);
        assert!(o.inet6 && o.tcp);
    }

    #[test]
    fn order_of_effects_is_netstats() {
        assert_eq!(run(&["-V", "-q"]), Action::Version);
        assert!(matches!(run(&["-q", "-V"]), Action::BadOption(_)));
        assert_eq!(run(&["-h"]), Action::Help);
        assert_eq!(run(&["-r", "-s"]), Action::Usage);
        assert!(matches!(
            run(&["--nu"]),
            Action::BadOption(GetoptError::Ambiguous(..))
        ));
    }

    #[test]
    fn explain_switches_are_exact_only() {
        assert_eq!(opts(&["--explain", "-nat"]).explain, Some(true));
        assert_eq!(opts(&["--no-explain"]).explain, Some(false));
        assert_eq!(opts(&["--ex"]).extend, 1);
    }

    #[test]
    fn operands_are_ignored() {
        let o = opts(&["foo", "-nat", "bar"]);
        assert!(o.tcp && o.all);
    }
}
