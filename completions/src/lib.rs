//! Shell completions for rnc, rnetstat and rfw, generated from the flag
//! tables their parsers read (`rnc::cli::SHORT_OPTS`/`LONG_OPTS`,
//! `rnetstat::cli::SHORT_OPTS`/`LONG_OPTS`, `rfw::cli::OWN_OPTIONS`,
//! `rfw::cli::SUBCOMMANDS` and `rfw::argv::known_options`), so a flag
//! added to a tool is completed without anyone keeping a second list.
//!
//! The tools parse their command lines as glibc's getopt does (see
//! docs/architecture.md, "Dependencies"), not with clap; here a clap
//! `Command` is built from those tables only so that `clap_complete`
//! can write the bash, zsh and fish scripts. Each flag's description is
//! the one the tool's own `-h` text gives it.

use clap::{Arg, ArgAction, Command, ValueHint};
use clap_complete::Shell;
use rnet_core::args::{HasArg, LongOpt};
use std::collections::BTreeMap;

/// The tools.
pub const TOOLS: &[&str] = &["rnc", "rnetstat", "rfw"];

/// One flag as completions offer it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Flag {
    /// `-x`
    pub short: Option<char>,
    /// `--name` (without the dashes); more than one when synonyms exist.
    pub longs: Vec<String>,
    /// It takes a value.
    pub takes_value: bool,
    /// The description from the tool's help text.
    pub help: Option<String>,
    /// The values it accepts, when the tool has a list of them.
    pub values: Vec<String>,
    /// What its value is, for the shells' own completion (host, file).
    pub hint: Option<Hint>,
}

/// What kind of value a flag takes, when the shell can complete it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hint {
    /// A host name or address.
    Host,
    /// A file name.
    File,
}

/// The flags of `tool` (`rnc`, `rnetstat`, `rfw`); `None` for another
/// name.
pub fn flags(tool: &str) -> Option<Vec<Flag>> {
    let v = match tool {
        "rnc" => rnc_flags(),
        "rnetstat" => rnetstat_flags(),
        "rfw" => rfw_flags(),
        _ => return None,
    };
    Some(merge(v))
}

/// One flag per name: a flag whose long name or letter an earlier flag
/// already has (`rfw --ipv4` and `-4`, `rnetstat --unix` as `-x` and as
/// a family) gives the earlier one its other names instead.
fn merge(v: Vec<Flag>) -> Vec<Flag> {
    let mut out: Vec<Flag> = Vec::new();
    for f in v {
        let same = out.iter().position(|o| {
            (f.short.is_some() && o.short == f.short) || f.longs.iter().any(|l| o.longs.contains(l))
        });
        match same {
            Some(i) => {
                let free = f.short.filter(|c| !out_has_short(&out, *c));
                let o = &mut out[i];
                if o.short.is_none() {
                    o.short = free;
                }
                for l in f.longs {
                    if !o.longs.contains(&l) {
                        o.longs.push(l);
                    }
                }
                if o.help.is_none() {
                    o.help = f.help;
                }
            }
            None => out.push(f),
        }
    }
    out
}

fn out_has_short(out: &[Flag], c: char) -> bool {
    out.iter().any(|f| f.short == Some(c))
}

/// Descriptions by flag (`-p`, `--route`) from a help text whose flag
/// lines start with the flags, then two spaces or a tab, then the text.
fn help_map(text: &str) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for line in text.lines() {
        let t = line.trim_start();
        if !t.starts_with('-') {
            continue;
        }
        let cut = [t.find('\t'), t.find("  ")].into_iter().flatten().min();
        let Some(cut) = cut else { continue };
        let (names, desc) = (&t[..cut], t[cut..].trim());
        if desc.is_empty() {
            continue;
        }
        for part in names.split(", ") {
            if let Some(name) = part.split_whitespace().next() {
                let name = name.split('=').next().unwrap_or(name);
                m.entry(name.to_string())
                    .or_insert_with(|| desc.to_string());
            }
        }
    }
    m
}

/// The short options of a getopt string (`c` or `c:`/`c::` for a value).
fn getopt_shorts(optstring: &str) -> Vec<(char, bool)> {
    let b: Vec<char> = optstring.chars().collect();
    let mut v = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let value = b.get(i + 1) == Some(&':');
        v.push((c, value));
        i += 1;
        while b.get(i) == Some(&':') {
            i += 1;
        }
    }
    v
}

fn takes_value(o: &LongOpt) -> bool {
    !matches!(o.has_arg, HasArg::No)
}

/// Short options from a getopt string and long options from a table; a
/// long option whose id is a short option's letter joins that flag.
fn from_getopt(optstring: &str, longs: &[LongOpt], help: &BTreeMap<String, String>) -> Vec<Flag> {
    let mut v: Vec<Flag> = getopt_shorts(optstring)
        .into_iter()
        .filter(|(c, _)| *c != '?')
        .map(|(c, value)| Flag {
            short: Some(c),
            takes_value: value,
            help: help.get(&format!("-{c}")).cloned(),
            ..Flag::default()
        })
        .collect();
    for o in longs {
        let joined = char::from_u32(o.id)
            .filter(|_| o.id < 128)
            .and_then(|c| v.iter_mut().find(|f| f.short == Some(c)));
        match joined {
            Some(f) => {
                f.longs.push(o.name.to_string());
                if f.help.is_none() {
                    f.help = help.get(&format!("--{}", o.name)).cloned();
                }
            }
            None => v.push(Flag {
                longs: vec![o.name.to_string()],
                takes_value: takes_value(o),
                help: help.get(&format!("--{}", o.name)).cloned(),
                ..Flag::default()
            }),
        }
    }
    v
}

fn rnc_flags() -> Vec<Flag> {
    let help = help_map(&[rnc::cli::HELP, rnc::cli::EXTRA_HELP].concat());
    let mut v = from_getopt(rnc::cli::SHORT_OPTS, rnc::cli::LONG_OPTS, &help);
    for f in &mut v {
        match f.short {
            Some('s' | 'x') => f.hint = Some(Hint::Host),
            Some('X') => f.values = ["4", "5", "connect"].map(String::from).to_vec(),
            Some('T') => {
                f.values = [
                    "critical",
                    "inetcontrol",
                    "lowdelay",
                    "netcontrol",
                    "throughput",
                    "reliability",
                    "af11",
                    "af12",
                    "af13",
                    "af21",
                    "af22",
                    "af23",
                    "af31",
                    "af32",
                    "af33",
                    "af41",
                    "af42",
                    "af43",
                    "cs0",
                    "cs1",
                    "cs2",
                    "cs3",
                    "cs4",
                    "cs5",
                    "cs6",
                    "cs7",
                    "ef",
                ]
                .map(String::from)
                .to_vec()
            }
            _ => {}
        }
    }
    v
}

fn rnetstat_flags() -> Vec<Flag> {
    let help = help_map(&[rnetstat::cli::USAGE, rnetstat::cli::EXTRA_HELP].concat());
    let mut v = from_getopt(rnetstat::cli::SHORT_OPTS, rnetstat::cli::LONG_OPTS, &help);
    let states: Vec<String> = rnet_core::tcp_state::STATES
        .iter()
        .map(|s| s.netstat.to_string())
        .collect();
    for f in &mut v {
        if f.short == Some('A') {
            f.values = [
                "inet",
                "inet6",
                "unix",
                "ipx",
                "ax25",
                "netrom",
                "x25",
                "rose",
                "ddp",
                "bluetooth",
            ]
            .map(String::from)
            .to_vec();
        }
        if f.longs.iter().any(|l| l == "state") {
            f.values = states.clone();
            f.values.dedup();
        }
    }
    v
}

fn rfw_flags() -> Vec<Flag> {
    let help = help_map(rfw::cli::HELP);
    let mut v: Vec<Flag> = Vec::new();
    for name in rfw::cli::OWN_OPTIONS {
        let flag = match name.strip_prefix("--") {
            Some(long) => Flag {
                longs: vec![long.to_string()],
                takes_value: rfw::cli::OWN_VALUE_OPTIONS.contains(name),
                help: help.get(*name).cloned(),
                ..Flag::default()
            },
            None => Flag {
                short: name.strip_prefix('-').and_then(|c| c.chars().next()),
                help: help.get(*name).cloned(),
                ..Flag::default()
            },
        };
        v.push(flag);
    }
    // rfw's -4/-6 are iptables' too: one flag each.
    for o in rfw::argv::known_options() {
        let clash = v.iter_mut().find(|f| {
            (o.short.is_some() && f.short == o.short)
                || (!o.long.is_empty() && f.longs.iter().any(|l| l == o.long))
        });
        if let Some(f) = clash {
            if f.short.is_none() {
                f.short = o.short;
            }
            if !o.long.is_empty() && !f.longs.iter().any(|l| l == o.long) {
                f.longs.push(o.long.to_string());
            }
            continue;
        }
        let mut f = Flag {
            short: o.short,
            longs: if o.long.is_empty() {
                Vec::new()
            } else {
                vec![o.long.to_string()]
            },
            takes_value: o.takes_value,
            help: o.extension.map(|e| format!("iptables: option of {e}")),
            ..Flag::default()
        };
        match o.short {
            Some('p') => {
                f.values = [
                    "tcp", "udp", "udplite", "icmp", "icmpv6", "sctp", "dccp", "all",
                ]
                .map(String::from)
                .to_vec()
            }
            Some('t') => f.values = rfw::argv::TABLES.iter().map(|t| t.to_string()).collect(),
            Some('j') => {
                f.values = ["ACCEPT", "DROP", "REJECT", "LOG", "RETURN"]
                    .map(String::from)
                    .to_vec()
            }
            Some('m') => f.values = rfw::argv::match_names().map(String::from).collect(),
            Some('s' | 'd') => f.hint = Some(Hint::Host),
            _ => {}
        }
        if f.help.is_none() {
            f.help = Some("iptables' own option".to_string());
        }
        v.push(f);
    }
    v
}

/// The clap command of `tool`, built from [`flags`] only to feed
/// `clap_complete`.
pub fn command(tool: &str) -> Option<Command> {
    let mut cmd = Command::new(tool.to_string())
        .disable_help_flag(true)
        .disable_version_flag(true);
    for (i, f) in flags(tool)?.into_iter().enumerate() {
        let id = format!("flag-{i}");
        let mut a = Arg::new(id).action(if f.takes_value {
            ArgAction::Set
        } else {
            ArgAction::SetTrue
        });
        if let Some(c) = f.short {
            a = a.short(c);
        }
        let mut longs = f.longs.into_iter();
        if let Some(l) = longs.next() {
            a = a.long(l);
        }
        for l in longs {
            a = a.visible_alias(l);
        }
        if let Some(h) = f.help {
            a = a.help(h);
        }
        if !f.values.is_empty() {
            a = a.value_parser(clap::builder::PossibleValuesParser::new(f.values));
        }
        a = match f.hint {
            Some(Hint::Host) => a.value_hint(ValueHint::Hostname),
            Some(Hint::File) => a.value_hint(ValueHint::FilePath),
            None => a,
        };
        cmd = cmd.arg(a);
    }
    cmd = match tool {
        "rnc" => cmd
            .arg(
                Arg::new("destination")
                    .help("host name, address, or with -U a socket path")
                    .value_hint(ValueHint::Hostname),
            )
            .arg(Arg::new("port").help("port, or range lo-hi").num_args(0..)),
        "rfw" => {
            for sub in rfw::cli::SUBCOMMANDS {
                cmd = cmd.subcommand(
                    Command::new(*sub).arg(Arg::new("args").num_args(0..).trailing_var_arg(true)),
                );
            }
            cmd.arg(Arg::new("chain").help("chain (INPUT, OUTPUT, FORWARD, ...)"))
        }
        _ => cmd,
    };
    Some(cmd)
}

/// The completion script of `tool` for `shell`.
pub fn generate(tool: &str, shell: Shell) -> Option<String> {
    let mut cmd = command(tool)?;
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, tool.to_string(), &mut out);
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// The shells the packages ship scripts for.
pub const SHELLS: &[(&str, Shell)] = &[
    ("bash", Shell::Bash),
    ("zsh", Shell::Zsh),
    ("fish", Shell::Fish),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn getopt_strings_are_read_as_getopt_reads_them() {
        assert_eq!(
            getopt_shorts("aW:b::c"),
            [('a', false), ('W', true), ('b', true), ('c', false)]
        );
    }

    #[test]
    fn help_lines_give_descriptions() {
        let m = help_map("\t\t-I length\tTCP receive buffer length\n        -r, --route              display routing table\n  --ttl SECS            remove it\n");
        assert_eq!(m["-I"], "TCP receive buffer length");
        assert_eq!(m["-r"], "display routing table");
        assert_eq!(m["--route"], "display routing table");
        assert_eq!(m["--ttl"], "remove it");
    }

    #[test]
    fn long_options_join_their_letters() {
        let f = rnetstat_flags();
        let tcp = f.iter().find(|f| f.short == Some('t')).expect("-t");
        assert_eq!(tcp.longs, ["tcp"]);
        assert!(!tcp.takes_value);
        let a = f.iter().find(|f| f.short == Some('A')).expect("-A");
        assert!(a.takes_value && a.longs.contains(&"protocol".to_string()));
        assert!(f.iter().any(|f| f.longs == ["watch"]));
    }
}
