//! Splitting an iptables command line into its parts: the command (`-I
//! OUTPUT 1`), the table, listing flags, `-w`, and the rule-spec words,
//! which are kept exactly as typed so that what runs is what the user
//! wrote (plus rfw's tag and `-w`).
//!
//! iptables' own syntax is not getopt-like enough for `rnet_core::args`:
//! its commands take optional chain names and rule numbers as separate
//! words, `!` negates the following option, and each match extension
//! brings its own options. So this is a small hand parser over the
//! argument vector that knows the commands and the options the labs use,
//! and passes everything else through untouched.

use std::fmt;

/// An iptables command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmd {
    /// `-A CHAIN`.
    Append,
    /// `-I CHAIN [NUM]`.
    Insert,
    /// `-D CHAIN SPEC` or `-D CHAIN NUM`.
    Delete,
    /// `-C CHAIN SPEC`.
    Check,
    /// `-R CHAIN NUM SPEC`.
    Replace,
    /// `-L [CHAIN]`.
    List,
    /// `-S [CHAIN [NUM]]`.
    ListRules,
    /// `-F [CHAIN]`.
    Flush,
    /// `-Z [CHAIN [NUM]]`.
    Zero,
    /// `-N CHAIN`.
    NewChain,
    /// `-X [CHAIN]`.
    DeleteChain,
    /// `-P CHAIN TARGET`.
    Policy,
    /// `-E OLD NEW`.
    Rename,
    /// `-V`.
    Version,
    /// `-h`.
    Help,
}

impl Cmd {
    /// The short option letter.
    pub fn letter(self) -> char {
        match self {
            Cmd::Append => 'A',
            Cmd::Insert => 'I',
            Cmd::Delete => 'D',
            Cmd::Check => 'C',
            Cmd::Replace => 'R',
            Cmd::List => 'L',
            Cmd::ListRules => 'S',
            Cmd::Flush => 'F',
            Cmd::Zero => 'Z',
            Cmd::NewChain => 'N',
            Cmd::DeleteChain => 'X',
            Cmd::Policy => 'P',
            Cmd::Rename => 'E',
            Cmd::Version => 'V',
            Cmd::Help => 'h',
        }
    }

    fn from_letter(c: char) -> Option<Cmd> {
        Some(match c {
            'A' => Cmd::Append,
            'I' => Cmd::Insert,
            'D' => Cmd::Delete,
            'C' => Cmd::Check,
            'R' => Cmd::Replace,
            'L' => Cmd::List,
            'S' => Cmd::ListRules,
            'F' => Cmd::Flush,
            'Z' => Cmd::Zero,
            'N' => Cmd::NewChain,
            'X' => Cmd::DeleteChain,
            'P' => Cmd::Policy,
            'E' => Cmd::Rename,
            'V' => Cmd::Version,
            'h' => Cmd::Help,
            _ => return None,
        })
    }

    fn from_long(s: &str) -> Option<Cmd> {
        Some(match s {
            "--append" => Cmd::Append,
            "--insert" => Cmd::Insert,
            "--delete" => Cmd::Delete,
            "--check" => Cmd::Check,
            "--replace" => Cmd::Replace,
            "--list" => Cmd::List,
            "--list-rules" => Cmd::ListRules,
            "--flush" => Cmd::Flush,
            "--zero" => Cmd::Zero,
            "--new-chain" => Cmd::NewChain,
            "--delete-chain" => Cmd::DeleteChain,
            "--policy" => Cmd::Policy,
            "--rename-chain" => Cmd::Rename,
            "--version" => Cmd::Version,
            "--help" => Cmd::Help,
            _ => return None,
        })
    }

    /// Whether the command changes the ruleset.
    pub fn modifies(self) -> bool {
        !matches!(
            self,
            Cmd::List | Cmd::ListRules | Cmd::Check | Cmd::Version | Cmd::Help
        )
    }

    /// Whether the command carries a rule-spec.
    pub fn takes_rule(self) -> bool {
        matches!(
            self,
            Cmd::Append | Cmd::Insert | Cmd::Delete | Cmd::Check | Cmd::Replace
        )
    }
}

/// A parsed iptables command line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Invocation {
    /// The command, if one was given.
    pub cmd: Option<Cmd>,
    /// The command's operands (chain, rule number, policy target, new name).
    pub operands: Vec<String>,
    /// `-t TABLE` (`None`: filter).
    pub table: Option<String>,
    /// The user gave `-w` / `--wait` (rfw then adds none).
    pub wait_given: bool,
    /// `-v` was given.
    pub verbose: bool,
    /// The rule-spec words, as typed.
    pub rule_words: Vec<String>,
    /// Every word as typed, in order, except rfw's own options.
    pub words: Vec<String>,
}

/// A mistake in the command line that iptables would reject with exit 2.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArgvError {
    /// Two commands (`-I … -D …`).
    TwoCommands(char, char),
    /// A command without its chain (`-I`, `-P INPUT`).
    MissingOperand(char, &'static str),
    /// `-t nosuchtable`.
    BadTable(String),
    /// A rule number that is not a positive number.
    BadRuleNumber(String),
    /// `-i` in OUTPUT, `-o` in INPUT.
    WrongInterface(char, String),
}

impl fmt::Display for ArgvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArgvError::TwoCommands(a, b) => write!(
                f,
                "only one command at a time: -{a} and -{b} were both given; run them one after \
                 the other"
            ),
            ArgvError::MissingOperand(c, what) => write!(f, "-{c} needs {what}, e.g. -{c} OUTPUT"),
            ArgvError::BadTable(t) => write!(
                f,
                "unknown table `{t}'; use filter (the default), nat, mangle, raw or security"
            ),
            ArgvError::BadRuleNumber(n) => {
                write!(f, "invalid rule number `{n}'; rule numbers start at 1")
            }
            ArgvError::WrongInterface(c, chain) => {
                let (opt, other) = if *c == 'i' {
                    ("-i", "-o")
                } else {
                    ("-o", "-i")
                };
                write!(f, "{opt} cannot be used in {chain} (packets there have no such interface); use {other}")
            }
        }
    }
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_digit())
}

/// A word that iptables would take as an optional operand: not an option,
/// not a negation.
fn operand_like(s: &str) -> bool {
    !(s.starts_with('-') && s.len() > 1) && s != "!"
}

impl Invocation {
    /// Splits `words` (no program name, rfw's own options already removed).
    pub fn parse(words: &[String]) -> Result<Invocation, ArgvError> {
        let mut inv = Invocation {
            words: words.to_vec(),
            ..Invocation::default()
        };
        let mut i = 0;
        while i < words.len() {
            let w = words[i].as_str();
            i += 1;
            // Commands, long or short; a short command may come last in a
            // cluster (`-nvL`), flags before it.
            let (cmd, glued) = if let Some(c) = Cmd::from_long(w) {
                (Some(c), None)
            } else if w.len() >= 2 && w.starts_with('-') && !w.starts_with("--") {
                let body = &w[1..];
                let pos = body
                    .char_indices()
                    .find(|(_, c)| Cmd::from_letter(*c).is_some());
                match pos {
                    Some((p, c)) if body[..p].chars().all(|f| matches!(f, 'v' | 'n' | 'x')) => {
                        inv.verbose |= body[..p].contains('v');
                        let rest = &body[p + c.len_utf8()..];
                        (
                            Cmd::from_letter(c),
                            (!rest.is_empty()).then(|| rest.to_string()),
                        )
                    }
                    _ => (None, None),
                }
            } else {
                (None, None)
            };
            if let Some(c) = cmd {
                if let Some(prev) = inv.cmd {
                    return Err(ArgvError::TwoCommands(prev.letter(), c.letter()));
                }
                inv.cmd = Some(c);
                let take_operand = |inv: &mut Invocation, i: &mut usize, numeric: bool| -> bool {
                    match words.get(*i) {
                        Some(v) if operand_like(v) && (!numeric || is_number(v)) => {
                            inv.operands.push(v.clone());
                            *i += 1;
                            true
                        }
                        _ => false,
                    }
                };
                let mut first = glued.is_some();
                if let Some(g) = glued {
                    inv.operands.push(g);
                }
                let l = c.letter();
                match c {
                    Cmd::Append | Cmd::Check | Cmd::NewChain => {
                        if !first && !take_operand(&mut inv, &mut i, false) {
                            return Err(ArgvError::MissingOperand(l, "a chain name"));
                        }
                    }
                    Cmd::Insert | Cmd::Delete => {
                        if !first && !take_operand(&mut inv, &mut i, false) {
                            return Err(ArgvError::MissingOperand(l, "a chain name"));
                        }
                        take_operand(&mut inv, &mut i, true);
                    }
                    Cmd::Replace => {
                        if !first && !take_operand(&mut inv, &mut i, false) {
                            return Err(ArgvError::MissingOperand(l, "a chain name"));
                        }
                        if !take_operand(&mut inv, &mut i, false) {
                            return Err(ArgvError::MissingOperand(l, "a chain and a rule number"));
                        }
                    }
                    Cmd::Policy | Cmd::Rename => {
                        if !first {
                            first = take_operand(&mut inv, &mut i, false);
                        }
                        if !first || !take_operand(&mut inv, &mut i, false) {
                            let what = if c == Cmd::Policy {
                                "a chain and a policy (ACCEPT or DROP)"
                            } else {
                                "the old and the new chain name"
                            };
                            return Err(ArgvError::MissingOperand(l, what));
                        }
                    }
                    Cmd::List | Cmd::ListRules | Cmd::Flush | Cmd::Zero | Cmd::DeleteChain => {
                        let had = first || take_operand(&mut inv, &mut i, false);
                        if had && matches!(c, Cmd::ListRules | Cmd::Zero) {
                            take_operand(&mut inv, &mut i, true);
                        }
                    }
                    Cmd::Version | Cmd::Help => {}
                }
                // A rule number must be a positive number.
                if matches!(c, Cmd::Insert | Cmd::Replace)
                    || (c == Cmd::Delete && inv.operands.len() > 1)
                {
                    if let Some(n) = inv.operands.get(1) {
                        if n.parse::<u32>().map_or(true, |v| v == 0) {
                            return Err(ArgvError::BadRuleNumber(n.clone()));
                        }
                    }
                }
                continue;
            }
            match w {
                "-t" | "--table" => {
                    let t = words.get(i).cloned().unwrap_or_default();
                    i += 1;
                    if !matches!(t.as_str(), "filter" | "nat" | "mangle" | "raw" | "security") {
                        return Err(ArgvError::BadTable(t));
                    }
                    inv.table = Some(t);
                }
                "-w" | "--wait" | "-W" | "--wait-interval" => {
                    inv.wait_given |= w.starts_with("-w") || w == "--wait";
                    if words.get(i).is_some_and(|v| operand_like(v)) {
                        i += 1;
                    }
                }
                _ if w.starts_with("--wait=") || (w.starts_with("-w") && !w.starts_with("--")) => {
                    inv.wait_given = true;
                }
                "-v" | "--verbose" => inv.verbose = true,
                "-n" | "--numeric" | "-x" | "--exact" | "--line-numbers" => {}
                _ if w.len() > 1
                    && w.starts_with('-')
                    && !w.starts_with("--")
                    && w[1..].chars().all(|c| matches!(c, 'v' | 'n' | 'x')) =>
                {
                    inv.verbose |= w.contains('v');
                }
                _ => {
                    inv.rule_words.push(w.to_string());
                    // Values of options the rule model knows are taken
                    // here too, so a value that looks like an option of
                    // ours (`--comment -v`) stays data.
                    let n = match w {
                        "--tcp-flags" | "-c" | "--set-counters" => 2,
                        "-p" | "--protocol" | "-s" | "--source" | "--src" | "-d"
                        | "--destination" | "--dst" | "-i" | "--in-interface" | "-o"
                        | "--out-interface" | "-m" | "--match" | "-j" | "--jump" | "-g"
                        | "--goto" | "--dport" | "--sport" | "--destination-port"
                        | "--source-port" | "--comment" | "--state" | "--ctstate"
                        | "--reject-with" | "--log-prefix" | "--log-level" => 1,
                        _ => 0,
                    };
                    for _ in 0..n {
                        if let Some(v) = words.get(i) {
                            inv.rule_words.push(v.clone());
                            i += 1;
                        }
                    }
                }
            }
        }
        if let (Some(chain), true) = (inv.chain(), inv.cmd.is_some_and(Cmd::takes_rule)) {
            let mut k = 0;
            while k < inv.rule_words.len() {
                let w = inv.rule_words[k].as_str();
                if (w == "-i" || w == "--in-interface") && chain == "OUTPUT" {
                    return Err(ArgvError::WrongInterface('i', chain.to_string()));
                }
                if (w == "-o" || w == "--out-interface") && chain == "INPUT" {
                    return Err(ArgvError::WrongInterface('o', chain.to_string()));
                }
                k += 1;
            }
        }
        Ok(inv)
    }

    /// The chain the command names, if any.
    pub fn chain(&self) -> Option<&str> {
        self.operands.first().map(String::as_str)
    }

    /// The table (`filter` when not given).
    pub fn table(&self) -> &str {
        self.table.as_deref().unwrap_or("filter")
    }

    /// The rule number of `-I` / `-D` / `-R` / `-S` / `-Z`, if given.
    pub fn rule_number(&self) -> Option<u32> {
        self.operands.get(1).and_then(|n| n.parse().ok())
    }
}

/// Whether `chain` is one of the built-in chains of `table`.
pub fn is_builtin(table: &str, chain: &str) -> bool {
    let builtins: &[&str] = match table {
        "nat" => &["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"],
        "mangle" => &["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"],
        "raw" => &["PREROUTING", "OUTPUT"],
        "security" => &["INPUT", "FORWARD", "OUTPUT"],
        _ => &["INPUT", "FORWARD", "OUTPUT"],
    };
    builtins.contains(&chain)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Invocation, ArgvError> {
        let w: Vec<String> = s.split_whitespace().map(String::from).collect();
        Invocation::parse(&w)
    }

    #[test]
    fn article_commands() {
        let i = p("-I OUTPUT -p tcp --dport 5555 --tcp-flags SYN,ACK SYN -j DROP").unwrap();
        assert_eq!(i.cmd, Some(Cmd::Insert));
        assert_eq!(i.operands, vec!["OUTPUT"]);
        assert_eq!(
            i.rule_words.join(" "),
            "-p tcp --dport 5555 --tcp-flags SYN,ACK SYN -j DROP"
        );
        let i = p("-L OUTPUT -vn").unwrap();
        assert_eq!(
            (i.cmd, i.chain(), i.verbose),
            (Some(Cmd::List), Some("OUTPUT"), true)
        );
        assert!(i.rule_words.is_empty());
        let i = p("-nvL").unwrap();
        assert_eq!((i.cmd, i.chain(), i.verbose), (Some(Cmd::List), None, true));
        let i = p("-I INPUT 2 -p tcp -j ACCEPT").unwrap();
        assert_eq!(i.rule_number(), Some(2));
        let i = p("-D OUTPUT 1").unwrap();
        assert_eq!(i.rule_number(), Some(1));
        assert!(i.rule_words.is_empty());
        let i = p("-t filter -S OUTPUT -w 5").unwrap();
        assert!(i.wait_given);
        assert_eq!(i.table(), "filter");
    }

    #[test]
    fn mistakes() {
        assert_eq!(p("-I"), Err(ArgvError::MissingOperand('I', "a chain name")));
        assert_eq!(
            p("-I OUTPUT -D OUTPUT"),
            Err(ArgvError::TwoCommands('I', 'D'))
        );
        assert_eq!(p("-t bogus -L"), Err(ArgvError::BadTable("bogus".into())));
        assert_eq!(
            p("-I OUTPUT -i lo -j DROP"),
            Err(ArgvError::WrongInterface('i', "OUTPUT".into()))
        );
        assert!(matches!(
            p("-P INPUT"),
            Err(ArgvError::MissingOperand('P', _))
        ));
    }

    #[test]
    fn option_values_stay_data() {
        let i = p("-A INPUT -p tcp -m comment --comment -L -j DROP").unwrap();
        assert_eq!(i.cmd, Some(Cmd::Append));
        assert!(i.rule_words.contains(&"-L".to_string()));
    }
}
