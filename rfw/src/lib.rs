//! rfw: a thin, safe `iptables` wrapper for TCP-state labs.
//!
//! `rfw ARGS…` validates the iptables-style arguments, runs `iptables
//! ARGS… --wait=10` (the binary found on `PATH`, `ip6tables` with `-6`; an
//! argument vector, never a shell), passes its stdout, stderr and exit
//! status through, and then says on stderr what the rule does to TCP
//! states. Every rule it adds carries `-m comment --comment rfw:…`, so that
//! `rfw -D` / `rfw -C` with the article's arguments find it, `rfw reset`
//! removes exactly rfw's rules and `--ttl` can expire them.
//!
//! Modules: [`cli`] (rfw's own options), [`argv`] (the iptables command
//! line), [`rule`] (the typed rule model, pure), [`exec`] (running
//! iptables), [`safety`] (what needs `--force`), [`explain`] (what a rule
//! does to TCP), [`tag`] (tags, expiry, the state file).

pub mod argv;
pub mod cli;
pub mod exec;
pub mod explain;
pub mod rule;
pub mod safety;
pub mod tag;
pub mod trust;

use argv::{Cmd, Invocation};
use cli::{Opts, Sub};
use exec::{Family, Iptables};
use rnet_core::args::split_argv;
use rnet_core::procnet::proc_root;
use rnet_core::timing::TcpTimers;
use rule::{parse_listing, ListedRule, Rule};
use std::ffi::OsString;
use std::io::{self, Write};
use std::process::ExitCode;
use tag::{Recorded, Store};

/// The environment variable that turns rfw's explanations on or off (wins
/// over `RNET_EXPLAIN`; both default to on for rfw).
pub const EXPLAIN_ENV: &str = "RFW_EXPLAIN";

/// iptables' "bad rule" message (`-C` / `-D` found nothing).
const BAD_RULE: &str = "Bad rule (does a matching rule exist in that chain?)";

/// How a run ends: an exit status (messages already printed).
type Status = u8;

/// Prints `rfw: msg` on stderr.
fn err(msg: &str) {
    let _ = writeln!(io::stderr(), "rfw: {msg}");
}

/// Writes to stdout; a closed pipe is not an error (quiet exit).
fn out(text: &str) -> bool {
    let mut o = io::stdout().lock();
    match o.write_all(text.as_bytes()).and_then(|()| o.flush()) {
        Ok(()) => true,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => false,
        Err(_) => false,
    }
}

/// Runs rfw with the full argument list (program name first).
pub fn run<I: IntoIterator<Item = OsString>>(args: I) -> ExitCode {
    // rfw always names itself `rfw` in messages (it is never installed
    // under iptables' name).
    let (_prog, rest, fixes) = split_argv(args.into_iter().collect(), "rfw");
    if let Some(note) = rnet_core::args::dash_note(&fixes) {
        err(&note);
    }
    let mut words = Vec::with_capacity(rest.len());
    for (n, a) in rest.into_iter().enumerate() {
        match a.into_string() {
            Ok(s) => words.push(s),
            Err(_) => {
                err(&format!(
                    "argument {} is not valid UTF-8; iptables arguments are text",
                    n + 1
                ));
                return ExitCode::from(2);
            }
        }
    }
    let opts = match cli::split(words) {
        Ok(o) => o,
        Err(e) => {
            err(&e);
            return ExitCode::from(2);
        }
    };
    ExitCode::from(dispatch(opts))
}

fn explain_on(opts: &Opts) -> bool {
    !opts.quiet
        && rnet_core::env_switch(EXPLAIN_ENV)
            .or_else(|| rnet_core::env_switch(rnet_core::EXPLAIN_ENV))
            .unwrap_or(true)
}

fn dispatch(opts: Opts) -> Status {
    match opts.sub {
        Sub::Help => {
            out(cli::HELP);
            0
        }
        Sub::SweepAt(at) => {
            sweep_at(at);
            0
        }
        Sub::Explain => explain_only(&opts),
        Sub::Reset => reset(&opts),
        Sub::List => list(&opts),
        Sub::Iptables => iptables(&opts),
    }
}

fn family(opts: &Opts) -> Family {
    opts.family.unwrap_or(Family::V4)
}

fn timers() -> TcpTimers {
    TcpTimers::read(&proc_root())
}

/// Parses and validates; prints the error and returns its status.
fn parse_command(opts: &Opts) -> Result<(Invocation, Option<Rule>), Status> {
    let inv = Invocation::parse(&opts.rest).map_err(|e| {
        err(&e.to_string());
        2
    })?;
    let Some(cmd) = inv.cmd else {
        if opts.rest.is_empty() {
            err("no command given; e.g. rfw -L OUTPUT -vn, or rfw --help");
        } else {
            err(&format!(
                "no command in `{}'; start with -I, -A, -D, -C, -L, -S, ... (rfw --help)",
                opts.rest.join(" ")
            ));
        }
        return Err(2);
    };
    let rule = if cmd.takes_rule() && !(cmd == Cmd::Delete && inv.rule_number().is_some()) {
        match Rule::parse(&inv.rule_words, family(opts) == Family::V6) {
            Ok(r) => Some(r),
            Err(e) => {
                err(&e.fix());
                return Err(e.status());
            }
        }
    } else {
        None
    };
    Ok((inv, rule))
}

fn explain_only(opts: &Opts) -> Status {
    // `rfw explain OUTPUT -p tcp …` as well as `rfw explain -I OUTPUT …`.
    let mut o = opts.clone();
    if o.rest.first().is_some_and(|w| !w.starts_with('-')) {
        o.rest.insert(0, "-A".to_string());
    }
    let (inv, rule) = match parse_command(&o) {
        Ok(x) => x,
        Err(s) => return s,
    };
    let Some(rule) = rule else {
        err("explain needs a rule: rfw explain OUTPUT -p tcp --dport 5555 --syn -j DROP");
        return 2;
    };
    let chain = inv.chain().unwrap_or("");
    let mut text = String::new();
    for l in explain::explain(chain, &rule, &timers()) {
        text.push_str(&format!("{chain}: {l}\n"));
    }
    if let Some(why) = safety::check(&inv, Some(&rule), safety::Ssh::from_env().as_ref()) {
        text.push_str(&format!(
            "{chain}: rfw would refuse to add it without --force: {why}\n"
        ));
    }
    out(&text);
    0
}

/// Inserts `-m comment --comment TAG` before the target (`-j`), or at the
/// end when there is none.
pub fn insert_tag(words: &[String], tag: &str) -> Vec<String> {
    let mut at = words.len();
    let mut i = 0;
    while i < words.len() {
        let w = words[i].as_str();
        if matches!(w, "-j" | "--jump" | "-g" | "--goto") {
            at = i;
            break;
        }
        i += 1 + cli::value_count(w);
    }
    let mut v = words[..at].to_vec();
    v.extend(["-m", "comment", "--comment"].map(String::from));
    v.push(tag.to_string());
    v.extend_from_slice(&words[at..]);
    v
}

fn table_args(inv: &Invocation) -> Vec<String> {
    match &inv.table {
        Some(t) => vec!["-t".to_string(), t.clone()],
        None => Vec::new(),
    }
}

/// Reads `-S [CHAIN]` (with `-v` for counters); the error is the status
/// after iptables' stderr was passed on.
fn read_rules(
    ipt: &Iptables,
    table: &[String],
    chain: Option<&str>,
    counters: bool,
) -> Result<Vec<ListedRule>, Status> {
    let mut a = table.to_vec();
    a.push("-S".to_string());
    if let Some(c) = chain {
        a.push(c.to_string());
    }
    if counters {
        a.push("-v".to_string());
    }
    let c = ipt.run_captured(&Iptables::argv(&a, true)).map_err(|e| {
        err(&format!("cannot run {}: {e}", ipt.bin.display()));
        1
    })?;
    if c.status != 0 {
        exec::forward_stderr(&c.stderr);
        hint(&c.stderr, chain, &table_name(table));
        return Err(c.status);
    }
    Ok(parse_listing(&c.stdout, ipt.family == Family::V6))
}

fn table_name(table: &[String]) -> String {
    table
        .get(1)
        .cloned()
        .unwrap_or_else(|| "filter".to_string())
}

/// One line naming the fix for iptables' error text.
fn hint(stderr: &str, chain: Option<&str>, table: &str) {
    let chain = chain.unwrap_or("?");
    let msg = if stderr.contains("you must be root") || stderr.contains("Permission denied") {
        "needs root; try: sudo rfw …".to_string()
    } else if stderr.contains("xtables lock") {
        "another program holds the xtables lock (/run/xtables.lock); wait for it to finish, or find it with: fuser -v /run/xtables.lock".to_string()
    } else if stderr.contains("No chain/target/match by that name")
        || stderr.contains("is incompatible, use 'nft' tool")
    {
        format!("chain `{chain}' does not exist in table {table} (built-in: INPUT, OUTPUT, FORWARD; create one with -N, list them with rfw -S)")
    } else if stderr.contains(BAD_RULE) {
        format!(
            "no such rule in {chain}; `rfw list' shows rfw's rules, `rfw -S {chain}' all of them"
        )
    } else if stderr.contains("Index of deletion too big") {
        format!("{chain} has fewer rules than that; see them numbered with rfw -L {chain} --line-numbers")
    } else if stderr.contains("Couldn't load match") {
        "a match extension is missing in this kernel or image (check the -m name)".to_string()
    } else {
        return;
    };
    err(&msg);
}

/// iptables warns when the other backend holds rules in this namespace;
/// rfw then names the backend it drives, read once from `iptables -V`
/// (never by running iptables-legacy, which would create legacy tables).
fn legacy_warning(ipt: &Iptables, stderr: &str) {
    if stderr.contains("iptables-legacy tables present") {
        let backend = ipt
            .backend()
            .unwrap_or_else(|| "unknown backend".to_string());
        err(&format!(
            "note: rfw drives {} ({backend}); the legacy iptables backend also holds rules here: those rules are active too, and rfw neither lists nor removes them",
            ipt.bin.display()
        ));
    }
}

/// Runs the user's command line with stdout passed through and stderr
/// captured (then forwarded, plus a hint on failure).
fn run_user(ipt: &Iptables, argv: &[String]) -> Result<(Status, String), Status> {
    let r = std::process::Command::new(&ipt.bin)
        .args(argv)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::inherit())
        .stderr(std::process::Stdio::piped())
        .output();
    match r {
        Ok(o) => {
            let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
            let st = o
                .status
                .code()
                .map(|c| u8::try_from(c & 0xff).unwrap_or(1))
                .unwrap_or(1);
            Ok((st, stderr))
        }
        Err(e) => {
            err(&format!("cannot run {}: {e}", ipt.bin.display()));
            Err(1)
        }
    }
}

fn finish_user(
    ipt: &Iptables,
    st: Status,
    stderr: &str,
    chain: Option<&str>,
    table: &str,
) -> Status {
    exec::forward_stderr(stderr);
    legacy_warning(ipt, stderr);
    if st != 0 {
        hint(stderr, chain, table);
    }
    st
}

fn iptables(opts: &Opts) -> Status {
    let (inv, rule) = match parse_command(opts) {
        Ok(x) => x,
        Err(s) => return s,
    };
    let Some(cmd) = inv.cmd else { return 2 };
    if !opts.force {
        if let Some(why) = safety::check(&inv, rule.as_ref(), safety::Ssh::from_env().as_ref()) {
            err(&format!("refused: {why}; add --force to do it anyway"));
            return 2;
        }
    }
    let fam = family(opts);
    let add_wait = !inv.wait_given && !matches!(cmd, Cmd::Version | Cmd::Help);
    let v6 = fam == Family::V6;
    let table = inv.table().to_string();
    let chain = inv.chain().map(String::from);
    let ipt = match Iptables::find(fam) {
        Ok(i) => Some(i),
        Err(e) if opts.dry_run && e.is_missing() => None,
        Err(e) => {
            err(&e.to_string());
            return 127;
        }
    };
    if matches!(cmd, Cmd::Version | Cmd::Help) {
        let Some(ipt) = ipt else { return 127 };
        let st = ipt.run_passthrough(&opts.rest).unwrap_or(1);
        if cmd == Cmd::Version && st == 0 {
            out(&format!(
                "(rfw {} from rnet-tools, running {})\n",
                env!("CARGO_PKG_VERSION"),
                ipt.bin.display()
            ));
        }
        return st;
    }
    if !opts.dry_run && exec::may_change_firewall() == Some(false) {
        err(&format!(
            "needs root (or CAP_NET_ADMIN); try: sudo rfw {}",
            exec::shell_line(opts.rest.iter().map(String::as_str))
        ));
        return 4;
    }
    let store = Store::new(&exec::netns_key());
    if !opts.dry_run {
        // An unusable state directory or file stops a change (or a -C,
        // which reads the state) before it is made; a listing goes on
        // without the sweep.
        if let Err(e) = sweep(&store) {
            if cmd.modifies() || cmd == Cmd::Check {
                err(&e.to_string());
                return 4;
            }
            err(&format!("warning: {e}; expired rules were not removed"));
        }
    }
    let explain_on = explain_on(opts);
    let t_args = table_args(&inv);
    let display = |argv: &[String]| -> String {
        let prog = if v6 { "ip6tables" } else { "iptables" };
        exec::shell_line(std::iter::once(prog).chain(argv.iter().map(String::as_str)))
    };
    match cmd {
        Cmd::Append | Cmd::Insert | Cmd::Replace => {
            let rule = rule.unwrap_or_default();
            let exp = opts.ttl.map(|t| tag::now() + t);
            let tag = tag::new_tag(exp);
            if cmd == Cmd::Replace && !opts.force {
                if let Some(ipt) = &ipt {
                    let listed = match read_rules(ipt, &t_args, chain.as_deref(), false) {
                        Ok(l) => l,
                        Err(s) => return s,
                    };
                    let n = inv.rule_number().unwrap_or(0) as usize;
                    if let Some(old) = listed.get(n.wrapping_sub(1)) {
                        if old.rule.tag.is_none() {
                            err(&format!("refused: rule {n} of {} was not added by rfw; add --force to replace it anyway", chain.as_deref().unwrap_or("")));
                            return 2;
                        }
                    }
                }
            }
            let argv = Iptables::argv(&insert_tag(&opts.rest, &tag), add_wait);
            if opts.dry_run {
                let mut text = format!("{}\n", display(&argv));
                let mut del = t_args.clone();
                del.push("-D".to_string());
                del.push(chain.clone().unwrap_or_default());
                del.extend(insert_tag(&inv.rule_words, &tag));
                text.push_str(&format!(
                    "# rfw reset (or --ttl) would later run: {}\n",
                    display(&Iptables::argv(&del, true))
                ));
                out(&text);
                return 0;
            }
            let Some(ipt) = ipt else { return 127 };
            let (st, stderr) = match run_user(&ipt, &argv) {
                Ok(x) => x,
                Err(s) => return s,
            };
            let mut st = st;
            let mut tagged = true;
            if st != 0 && comment_missing(&ipt, &stderr, &t_args, chain.as_deref()) {
                // Fall back: the same rule without the tag, recorded in the
                // state file so that reset and --ttl still find it.
                let plain = Iptables::argv(&opts.rest, add_wait);
                let (st2, stderr2) = match run_user(&ipt, &plain) {
                    Ok(x) => x,
                    Err(s) => return s,
                };
                if st2 == 0 {
                    err("note: the comment match is missing here; rule recorded in the state file instead of tagged");
                    let rec = Recorded {
                        exp: exp.unwrap_or(0),
                        family: fam,
                        table: table.clone(),
                        chain: chain.clone().unwrap_or_default(),
                        words: rule.to_args(),
                    };
                    if let Err(e) = store.lock().and_then(|l| store.record(&l, &rec)) {
                        err(&format!("warning: the rule was added but not recorded ({e}); rfw reset will not find it"));
                    }
                    tagged = false;
                }
                st = finish_user(&ipt, st2, &stderr2, chain.as_deref(), &table);
            } else {
                st = finish_user(&ipt, st, &stderr, chain.as_deref(), &table);
            }
            if st != 0 {
                return st;
            }
            if let Some(e) = exp {
                if tagged {
                    if let Err(er) = store
                        .lock()
                        .and_then(|l| store.add_expiry(&l, e, fam, &table))
                    {
                        err(&format!("warning: cannot write the expiry index ({er}); the rule is still removed by the helper or by rfw reset"));
                    }
                }
                spawn_helper(e);
            }
            if explain_on {
                let c = chain.as_deref().unwrap_or("");
                for l in explain::explain(c, &rule, &timers()) {
                    err(&format!("{c}: {l}"));
                }
                if let Some(t) = opts.ttl {
                    err(&format!("{c}: removed again in {t} s (--ttl)"));
                }
            }
            0
        }
        Cmd::Delete | Cmd::Check => delete_or_check(
            opts,
            &inv,
            rule.as_ref(),
            ipt,
            &store,
            &t_args,
            add_wait,
            &display,
        ),
        Cmd::List => {
            let argv = Iptables::argv(&opts.rest, add_wait);
            if opts.dry_run {
                out(&format!("{}\n", display(&argv)));
                return 0;
            }
            let Some(ipt) = ipt else { return 127 };
            let (st, stderr) = match run_user(&ipt, &argv) {
                Ok(x) => x,
                Err(s) => return s,
            };
            let st = finish_user(&ipt, st, &stderr, chain.as_deref(), &table);
            if st == 0 && explain_on {
                if let Ok(listed) = read_rules(&ipt, &t_args, chain.as_deref(), true) {
                    let t = timers();
                    let mut nums: Vec<(String, usize)> = Vec::new();
                    for l in &listed {
                        let n = match nums.iter_mut().find(|(c, _)| *c == l.chain) {
                            Some((_, n)) => {
                                *n += 1;
                                *n
                            }
                            None => {
                                nums.push((l.chain.clone(), 1));
                                1
                            }
                        };
                        let lines = explain::explain(&l.chain, &l.rule, &t);
                        let summary = lines
                            .first()
                            .cloned()
                            .unwrap_or_else(|| "no TCP-specific effect".to_string());
                        err(&explain::counter_line(&l.chain, n, &l.rule, &summary));
                    }
                }
            }
            st
        }
        _ => {
            let argv = Iptables::argv(&opts.rest, add_wait);
            if opts.dry_run {
                out(&format!("{}\n", display(&argv)));
                return 0;
            }
            let Some(ipt) = ipt else { return 127 };
            match run_user(&ipt, &argv) {
                Ok((st, stderr)) => finish_user(&ipt, st, &stderr, chain.as_deref(), &table),
                Err(s) => s,
            }
        }
    }
}

/// Whether a failed add failed only because the comment match is missing:
/// the error names it, or says "No chain/target/match" while the chain
/// exists (reference/iptables.md §3).
fn comment_missing(ipt: &Iptables, stderr: &str, t_args: &[String], chain: Option<&str>) -> bool {
    if stderr.contains("Couldn't load match `comment'") {
        return true;
    }
    if !stderr.contains("No chain/target/match by that name") {
        return false;
    }
    let mut a = t_args.to_vec();
    a.push("-S".to_string());
    a.extend(chain.map(String::from));
    ipt.run_captured(&Iptables::argv(&a, true))
        .is_ok_and(|c| c.status == 0)
}

#[allow(clippy::too_many_arguments)]
fn delete_or_check(
    opts: &Opts,
    inv: &Invocation,
    rule: Option<&Rule>,
    ipt: Option<Iptables>,
    store: &Store,
    t_args: &[String],
    add_wait: bool,
    display: &dyn Fn(&[String]) -> String,
) -> Status {
    let cmd = inv.cmd.unwrap_or(Cmd::Check);
    let chain = inv.chain().unwrap_or("").to_string();
    let table = inv.table().to_string();
    let fam = family(opts);
    let passthrough = |ipt: &Iptables, words: &[String]| -> Status {
        let argv = Iptables::argv(words, add_wait);
        match run_user(ipt, &argv) {
            Ok((st, stderr)) => finish_user(ipt, st, &stderr, Some(&chain), &table),
            Err(s) => s,
        }
    };
    let Some(ipt) = ipt else {
        // Dry run without iptables: show the command as typed.
        out(&format!(
            "{}\n",
            display(&Iptables::argv(&opts.rest, add_wait))
        ));
        return 0;
    };
    let listed = match read_rules(&ipt, t_args, Some(&chain), false) {
        Ok(l) => l,
        Err(s) => return s,
    };
    // The rule rfw added: by number, or the first tagged one equal in meaning.
    let found: Option<&ListedRule> = match (inv.rule_number(), rule) {
        (Some(n), _) => listed.get((n as usize).wrapping_sub(1)),
        (None, Some(r)) => listed
            .iter()
            .find(|l| l.rule.tag.is_some() && l.rule.same_as(r)),
        _ => None,
    };
    let all_recorded = match store.recorded() {
        Ok(r) => r,
        Err(e) => {
            err(&e.to_string());
            return 4;
        }
    };
    let recorded = rule.and_then(|r| {
        all_recorded.into_iter().find(|rec| {
            rec.family == fam
                && rec.table == table
                && rec.chain == chain
                && Rule::parse(&rec.words, fam == Family::V6).is_ok_and(|x| x.same_as(r))
        })
    });
    let del_argv = |words: &[String]| -> Vec<String> {
        let mut a = t_args.to_vec();
        a.push("-D".to_string());
        a.push(chain.clone());
        a.extend_from_slice(words);
        Iptables::argv(&a, true)
    };
    if cmd == Cmd::Check {
        if found.is_some() {
            if opts.dry_run {
                out("# found a matching rule added by rfw (exit 0)\n");
            }
            return 0;
        }
        if opts.dry_run {
            out(&format!(
                "{}\n",
                display(&Iptables::argv(&opts.rest, add_wait))
            ));
            return 0;
        }
        return passthrough(&ipt, &opts.rest);
    }
    // -D
    let target = match (found, inv.rule_number()) {
        (Some(l), _) if l.rule.tag.is_some() => Some(del_argv(&l.words)),
        (Some(l), Some(n)) => {
            if !opts.force {
                err(&format!(
                    "refused: rule {n} of {chain} was not added by rfw ({}); add --force to delete it anyway",
                    l.words.join(" ")
                ));
                return 2;
            }
            None
        }
        _ => None,
    };
    if let Some(argv) = target {
        if opts.dry_run {
            out(&format!("{}\n", display(&argv)));
            return 0;
        }
        return match run_user(&ipt, &argv) {
            Ok((st, stderr)) => finish_user(&ipt, st, &stderr, Some(&chain), &table),
            Err(s) => s,
        };
    }
    if let Some(rec) = recorded {
        let argv = del_argv(&rec.words);
        if opts.dry_run {
            out(&format!("{}\n", display(&argv)));
            return 0;
        }
        let st = match run_user(&ipt, &argv) {
            Ok((st, stderr)) => finish_user(&ipt, st, &stderr, Some(&chain), &table),
            Err(s) => return s,
        };
        if st == 0 {
            if let Ok(l) = store.lock() {
                let _ = store.forget(&l, &rec);
            }
        }
        return st;
    }
    if opts.force || inv.rule_number().is_some() {
        // --force, or a number past the end (iptables reports it).
        if opts.dry_run {
            out(&format!(
                "{}\n",
                display(&Iptables::argv(&opts.rest, add_wait))
            ));
            return 0;
        }
        return passthrough(&ipt, &opts.rest);
    }
    // Not rfw's: is there such a rule at all? `-C` answers with the same
    // message and status `-D` would give, and changes nothing.
    let mut check = opts.rest.clone();
    if let Some(p) = check.iter().position(|w| w == "-D" || w == "--delete") {
        check[p] = "-C".to_string();
    }
    let c = match ipt.run_captured(&Iptables::argv(&check, add_wait)) {
        Ok(c) => c,
        Err(e) => {
            err(&format!("cannot run {}: {e}", ipt.bin.display()));
            return 1;
        }
    };
    if c.status == 0 {
        err(&format!(
            "refused: the matching rule in {chain} was not added by rfw; add --force to delete it anyway"
        ));
        return 2;
    }
    if opts.dry_run {
        out(&format!(
            "{}\n",
            display(&Iptables::argv(&opts.rest, add_wait))
        ));
        return 0;
    }
    finish_user(&ipt, c.status, &c.stderr, Some(&chain), &table)
}

/// Starts the detached `--ttl` helper: this binary, `__sweep-at EXP`, in a
/// process group of its own (so Ctrl-C or a signal to the caller's group
/// does not reach it) with all standard streams closed.
fn spawn_helper(exp: u64) {
    use std::os::unix::process::CommandExt;
    let Some(me) = exec::self_exe() else {
        err("warning: cannot find the rfw binary for the --ttl helper; the rule expires on the next rfw run after its time");
        return;
    };
    let r = std::process::Command::new(me)
        .args(["__sweep-at", &exp.to_string()])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn();
    if let Err(e) = r {
        err(&format!("warning: cannot start the --ttl helper ({e}); the rule expires on the next rfw run after its time"));
    }
}

/// The helper: sleep until `at`, then sweep.
fn sweep_at(at: u64) {
    loop {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let target = std::time::Duration::from_secs(at);
        if now >= target {
            break;
        }
        std::thread::sleep((target - now).min(std::time::Duration::from_secs(60)));
    }
    let _ = sweep(&Store::new(&exec::netns_key()));
}

/// Removes every rfw rule whose expiry has passed, in the families and
/// tables the expiry index names. Cheap when nothing is due (two small
/// file reads); the error is an unusable state directory or file.
fn sweep(store: &Store) -> io::Result<()> {
    let now = tag::now();
    if !store.anything_due(now)? {
        return Ok(());
    }
    let lock = store.lock()?;
    let due = store.take_due(&lock, now)?;
    for (fam, table) in due {
        let Ok(ipt) = Iptables::find(fam) else {
            continue;
        };
        let t_args = vec!["-t".to_string(), table.clone()];
        if let Ok(listed) = read_rules(&ipt, &t_args, None, false) {
            for l in listed {
                let expired = l
                    .rule
                    .tag
                    .as_deref()
                    .and_then(tag::tag_expiry)
                    .is_some_and(|e| e <= now);
                if expired {
                    let _ = delete_exact(&ipt, &t_args, &l.chain, &l.words);
                }
            }
        }
        for rec in store.recorded()? {
            if rec.family == fam && rec.table == table && rec.exp != 0 && rec.exp <= now {
                let _ = delete_exact(&ipt, &t_args, &rec.chain, &rec.words);
                store.forget(&lock, &rec)?;
            }
        }
    }
    Ok(())
}

/// `-D CHAIN words` captured; "Bad rule" (already gone) counts as done.
fn delete_exact(
    ipt: &Iptables,
    t_args: &[String],
    chain: &str,
    words: &[String],
) -> Result<(), String> {
    let mut a = t_args.to_vec();
    a.push("-D".to_string());
    a.push(chain.to_string());
    a.extend_from_slice(words);
    match ipt.run_captured(&Iptables::argv(&a, true)) {
        Ok(c) if c.status == 0 || c.stderr.contains(BAD_RULE) => Ok(()),
        Ok(c) => Err(c.stderr.trim_end().to_string()),
        Err(e) => Err(e.to_string()),
    }
}

fn families(opts: &Opts) -> Vec<Family> {
    match opts.family {
        Some(f) => vec![f],
        None => vec![Family::V4, Family::V6],
    }
}

fn reset(opts: &Opts) -> Status {
    if !opts
        .rest
        .iter()
        .all(|w| w == "-t" || !w.starts_with('-') || w == "--table")
    {
        err("reset takes no iptables arguments besides -t TABLE");
        return 2;
    }
    let inv = match Invocation::parse(&opts.rest) {
        Ok(i) => i,
        Err(e) => {
            err(&e.to_string());
            return 2;
        }
    };
    if !opts.dry_run && exec::may_change_firewall() == Some(false) {
        err("needs root (or CAP_NET_ADMIN); try: sudo rfw reset");
        return 4;
    }
    let store = Store::new(&exec::netns_key());
    let all_recorded = match store.recorded() {
        Ok(r) => r,
        Err(e) => {
            err(&e.to_string());
            return 4;
        }
    };
    let t_args = vec!["-t".to_string(), inv.table().to_string()];
    let mut removed = 0;
    let mut kept = 0;
    let mut failed = 0u8;
    let mut any_binary = false;
    for fam in families(opts) {
        let ipt = match Iptables::find(fam) {
            Ok(i) => i,
            // ip6tables is optional unless asked for (but never untrusted).
            Err(e) if !e.is_missing() || opts.family == Some(fam) || fam == Family::V4 => {
                err(&e.to_string());
                return 127;
            }
            Err(_) => continue,
        };
        any_binary = true;
        let listed = match read_rules(&ipt, &t_args, None, false) {
            Ok(l) => l,
            Err(s) => return s,
        };
        for l in &listed {
            if l.rule.tag.is_none() {
                kept += 1;
                continue;
            }
            let mut a = t_args.clone();
            a.push("-D".to_string());
            a.push(l.chain.clone());
            a.extend_from_slice(&l.words);
            let argv = Iptables::argv(&a, true);
            if opts.dry_run {
                out(&format!("{}\n", ipt.display(&argv)));
                continue;
            }
            match delete_exact(&ipt, &t_args, &l.chain, &l.words) {
                Ok(()) => removed += 1,
                Err(e) => {
                    err(&format!(
                        "cannot remove {} {}: {e}",
                        l.chain,
                        l.words.join(" ")
                    ));
                    failed = 1;
                }
            }
        }
        for rec in all_recorded.iter().cloned() {
            if rec.family != fam || rec.table != inv.table() {
                continue;
            }
            if opts.dry_run {
                let mut a = t_args.clone();
                a.extend(["-D".to_string(), rec.chain.clone()]);
                a.extend(rec.words.clone());
                out(&format!("{}\n", ipt.display(&Iptables::argv(&a, true))));
                continue;
            }
            if delete_exact(&ipt, &t_args, &rec.chain, &rec.words).is_ok() {
                removed += 1;
                if let Ok(l) = store.lock() {
                    let _ = store.forget(&l, &rec);
                }
            }
        }
    }
    if !any_binary {
        return 127;
    }
    if !opts.dry_run && !opts.quiet {
        err(&format!(
            "removed {removed} rule{} added by rfw; {kept} other rule{} left untouched",
            if removed == 1 { "" } else { "s" },
            if kept == 1 { "" } else { "s" }
        ));
    }
    failed
}

fn list(opts: &Opts) -> Status {
    let inv = match Invocation::parse(&opts.rest) {
        Ok(i) => i,
        Err(e) => {
            err(&e.to_string());
            return 2;
        }
    };
    let fam = family(opts);
    let ipt = match Iptables::find(fam) {
        Ok(i) => i,
        Err(e) => {
            err(&e.to_string());
            return 127;
        }
    };
    if exec::may_change_firewall() == Some(false) {
        err("needs root (or CAP_NET_ADMIN); try: sudo rfw list");
        return 4;
    }
    let t_args = table_args(&inv);
    let listed = match read_rules(&ipt, &t_args, None, true) {
        Ok(l) => l,
        Err(s) => return s,
    };
    let t = timers();
    let mut text = String::new();
    let mut notes = Vec::new();
    for l in listed.iter().filter(|l| l.rule.tag.is_some()) {
        let mut line = format!("-A {}", l.chain);
        for w in &l.words {
            line.push(' ');
            line.push_str(&quote_like_iptables(w));
        }
        text.push_str(&line);
        text.push('\n');
        if let Some(first) = explain::explain(&l.chain, &l.rule, &t).first() {
            let (pkts, _) = l.rule.counters.unwrap_or((0, 0));
            let exp = l.rule.tag.as_deref().and_then(tag::tag_expiry);
            let left = exp
                .map(|e| format!(", expires in {} s", e.saturating_sub(tag::now())))
                .unwrap_or_default();
            notes.push(format!(
                "{}: {pkts} {} so far{left}; {first}",
                l.chain,
                explain::counted(&l.rule)
            ));
        }
    }
    let store = Store::new(&exec::netns_key());
    let recorded = match store.recorded() {
        Ok(r) => r,
        Err(e) => {
            err(&e.to_string());
            return 4;
        }
    };
    for rec in recorded.into_iter().filter(|r| r.family == fam) {
        let mut line = format!("-A {}", rec.chain);
        for w in &rec.words {
            line.push(' ');
            line.push_str(&quote_like_iptables(w));
        }
        text.push_str(&line);
        text.push('\n');
    }
    if !out(&text) {
        return 0;
    }
    if explain_on(opts) {
        for n in notes {
            err(&n);
        }
    }
    0
}

/// Quotes a word as `iptables -S` does: in double quotes when it has
/// spaces or quotes, inner `"` and `\` escaped.
fn quote_like_iptables(w: &str) -> String {
    if !w.is_empty()
        && !w
            .chars()
            .any(|c| c.is_whitespace() || c == '"' || c == '\\' || c == '\'')
    {
        w.to_string()
    } else {
        format!(
            "\"{}\"",
            w.replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\'', "\\'")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn tag_goes_before_the_target() {
        assert_eq!(
            insert_tag(&w("-I OUTPUT -p tcp --dport 5555 --tcp-flags SYN,ACK SYN -j DROP"), "rfw:1").join(" "),
            "-I OUTPUT -p tcp --dport 5555 --tcp-flags SYN,ACK SYN -m comment --comment rfw:1 -j DROP"
        );
        assert_eq!(
            insert_tag(&w("-A INPUT -p tcp --dport 1"), "rfw:1").join(" "),
            "-A INPUT -p tcp --dport 1 -m comment --comment rfw:1"
        );
        // A `-j` that is a comment's value is not the target.
        assert_eq!(
            insert_tag(&w("-A INPUT -m comment --comment -j -j ACCEPT"), "rfw:1").join(" "),
            "-A INPUT -m comment --comment -j -m comment --comment rfw:1 -j ACCEPT"
        );
    }

    #[test]
    fn iptables_quoting() {
        assert_eq!(quote_like_iptables("rfw:1"), "rfw:1");
        assert_eq!(quote_like_iptables("rfw:7 \"q\""), "\"rfw:7 \\\"q\\\"\"");
    }
}
