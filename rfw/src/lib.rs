//! rfw: a thin, safe `iptables` wrapper for TCP-state labs.
//!
//! `rfw ARGS…` reads the iptables-style arguments as iptables does
//! ([`argv`]); the guard judges the command as typed (a command it refuses
//! reads and runs nothing), and every iptables command and `rfw list`
//! (not under `--dry-run`) first removes expired rfw rules (`sweep`, whose
//! table listings the plan reuses).
//! Then it works in three steps:
//! 1. **plan**: the list of iptables argument vectors to run ([`Plan`]),
//!    each the command line spelled out as rfw read it, with rfw's tag
//!    (`-m comment --comment rfw:…`) on rules it adds and `--wait=10`;
//!    reads it needs for that (`iptables -S`) change nothing;
//! 2. **check**: `--dry-run` prints the plan; otherwise the guard
//!    ([`judge`], [`safety`]) reads every step again exactly as it will run
//!    and refuses lock-outs unless `--force`;
//! 3. **execute**: one executor runs the steps (the binary found on `PATH`,
//!    `ip6tables` with `-6`; an argument vector, never a shell), passing
//!    stdout, stderr and exit status through. After an add, the chain is
//!    read back and a rule the guard refuses is removed at once.
//!
//! Then rfw says on stderr what the rule does to TCP states. The tag lets
//! `rfw -D` / `rfw -C` with the article's arguments find the rule, `rfw
//! reset` remove exactly rfw's rules (every table), and `--ttl` expire them
//! from the time in the tag.
//!
//! Modules: [`cli`] (rfw's own options), [`argv`] (the iptables command
//! line, read as iptables reads it), [`rule`] (the typed rule model, pure),
//! [`exec`] (running iptables), [`safety`] (what needs `--force`),
//! [`explain`] (what a rule does to TCP), [`tag`] (tags and their expiry, the
//! state file), [`trust`] (who can change the iptables binary), [`error`]
//! (iptables' exit statuses, and the one error type, reported only by
//! [`run`]). rfw has no unsafe code: the few system facts it needs come
//! from `rnet_core::os` and std.

pub mod argv;
pub mod cli;
pub mod error;
pub mod exec;
pub mod explain;
pub mod rule;
pub mod safety;
pub mod tag;
pub mod trust;

use argv::{Cmd, Invocation};
use cli::{Opts, Sub};
use error::{Error, Status};
use exec::{Binaries, Family, Iptables};
use rnet_core::args::split_argv;
use rnet_core::procnet::proc_root;
use rnet_core::timing::Hosts;
use rule::{parse_listing, ListedRule, Rule};
use std::cell::{OnceCell, RefCell};
use std::ffi::OsString;
use std::io::{self, Write};
use std::process::ExitCode;
use std::rc::Rc;
use tag::{Recorded, Store};

/// The environment variable that turns rfw's explanations on or off (wins
/// over `RNET_EXPLAIN`; both default to on for rfw).
pub const EXPLAIN_ENV: &str = "RFW_EXPLAIN";

/// iptables' "bad rule" message (`-C` / `-D` found nothing).
const BAD_RULE: &str = "Bad rule (does a matching rule exist in that chain?)";

/// Prints `rfw: msg` on stderr. A failure to write there is not
/// reported: stderr is where it would go, and the exit status still says
/// how the run ended.
fn err(msg: &str) {
    let _ = writeln!(io::stderr(), "rfw: {msg}");
}

/// Writes to stdout; the caller passes a failure on to `run()`, which
/// reports it (a closed pipe is a quiet exit).
fn out(text: &str) -> Result<(), Error> {
    let mut o = io::stdout().lock();
    o.write_all(text.as_bytes())?;
    o.flush()?;
    Ok(())
}

/// Runs rfw with the full argument list (program name first). The only
/// place that turns an [`Error`] into its message and exit status.
pub fn run<I: IntoIterator<Item = OsString>>(args: I) -> ExitCode {
    match start(args) {
        Ok(status) => status.into(),
        Err(e) => e.report().into(),
    }
}

/// Reads the command line and does what it asks.
fn start<I: IntoIterator<Item = OsString>>(args: I) -> Result<Status, Error> {
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
                return Err(Error::new(
                    Status::ParameterProblem,
                    format!(
                        "argument {} is not valid UTF-8; iptables arguments are text",
                        n + 1
                    ),
                ));
            }
        }
    }
    let opts = cli::split(words).map_err(|e| Error::new(Status::ParameterProblem, e))?;
    dispatch(opts)
}

fn explain_on(opts: &Opts) -> bool {
    !opts.quiet
        && rnet_core::env_switch(EXPLAIN_ENV)
            .or_else(|| rnet_core::env_switch(rnet_core::EXPLAIN_ENV))
            .unwrap_or(true)
}

fn dispatch(opts: Opts) -> Result<Status, Error> {
    match opts.sub {
        Sub::Help => {
            out(cli::HELP)?;
            Ok(Status::Success)
        }
        Sub::SweepAt(at) => {
            sweep_at(at);
            Ok(Status::Success)
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

/// Both hosts' settings for the explanations: this namespace's sysctls,
/// the peer's from RNET_PEER_SYSCTL (a malformed value is ignored, said once).
fn timers() -> Hosts {
    let (hosts, warning) = Hosts::read(&proc_root());
    if let Some(w) = warning {
        err(&w);
    }
    hosts
}

/// Parses and validates: the command line, its command and its rule.
fn parse_command(opts: &Opts) -> Result<(Invocation, Cmd, Option<Rule>), Error> {
    let inv = Invocation::parse(&opts.rest).map_err(|e| Error::new(e.status(), e.to_string()))?;
    let Some(cmd) = inv.cmd else {
        let msg = if opts.rest.is_empty() {
            "no command given; e.g. rfw -L OUTPUT -vn, or rfw --help".to_string()
        } else {
            format!(
                "no command in `{}'; start with -I, -A, -D, -C, -L, -S, ... (rfw --help)",
                opts.rest.join(" ")
            )
        };
        return Err(Error::new(Status::ParameterProblem, msg));
    };
    let rule = if cmd.takes_rule() && !(cmd == Cmd::Delete && inv.rule_number().is_some()) {
        let r = Rule::from_items(&inv.items, family(opts) == Family::V6)
            .map_err(|e| Error::new(e.status(), e.fix()))?;
        Some(r)
    } else {
        None
    };
    Ok((inv, cmd, rule))
}

fn explain_only(opts: &Opts) -> Result<Status, Error> {
    // `rfw explain OUTPUT -p tcp …` as well as `rfw explain -I OUTPUT …`.
    let mut o = opts.clone();
    if o.rest.first().is_some_and(|w| !w.starts_with('-')) {
        o.rest.insert(0, "-A".to_string());
    }
    let (inv, _, rule) = parse_command(&o)?;
    let Some(rule) = rule else {
        return Err(Error::new(
            Status::ParameterProblem,
            "explain needs a rule: rfw explain OUTPUT -p tcp --dport 5555 --syn -j DROP",
        ));
    };
    let chain = inv.chain().unwrap_or("");
    let mut text = String::new();
    for l in explain::explain(chain, &rule, &timers()) {
        text.push_str(&format!("{chain}: {l}\n"));
    }
    if let Some(why) = safety::check(&inv, Some(&rule), &OnceCell::new()) {
        text.push_str(&format!(
            "{chain}: rfw would refuse to add it without --force: {why}\n"
        ));
    }
    out(&text)?;
    Ok(Status::Success)
}

/// What a step of a plan is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StepKind {
    /// The user's command: stdout passed through, stderr forwarded with a
    /// hint; the guard judges it.
    User,
    /// rfw removing one of its own rules (reset, expiry): captured; "Bad
    /// rule" (already gone) counts as done.
    Remove,
}

/// One iptables run of a plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// iptables or ip6tables.
    pub family: Family,
    /// The arguments (no program name), `--wait` included.
    pub argv: Vec<String>,
    /// What it is.
    pub kind: StepKind,
    /// A state-file record to forget once the step succeeded.
    pub forget: Option<Recorded>,
}

/// Everything a run will change, built before anything runs: `--dry-run`
/// prints it, the guard judges it, the executor runs it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// The iptables runs, in order.
    pub steps: Vec<Step>,
    /// Lines `--dry-run` prints after the steps (`# …`).
    pub notes: Vec<String>,
    /// iptables' answer already known while planning (`-D` of a rule that
    /// does not exist: the status and stderr of the `-C` that found so).
    pub outcome: Option<(Status, String)>,
}

impl Plan {
    fn user(family: Family, argv: Vec<String>) -> Plan {
        Plan {
            steps: vec![Step {
                family,
                argv,
                kind: StepKind::User,
                forget: None,
            }],
            notes: Vec::new(),
            outcome: None,
        }
    }

    /// The plan as `--dry-run` prints it: one shell-quoted command a line.
    pub fn render(&self) -> String {
        let mut text = String::new();
        for s in &self.steps {
            text.push_str(&exec::shell_line(
                std::iter::once(exec::program(s.family)).chain(s.argv.iter().map(String::as_str)),
            ));
            text.push('\n');
        }
        for n in &self.notes {
            text.push_str(n);
            text.push('\n');
        }
        text
    }
}

/// The guard over a plan: every user step is read again exactly as it will
/// run (the canonical words, the tag, `-w`) and judged. `None`: allowed.
pub fn judge(plan: &Plan, ssh: &OnceCell<Option<safety::Ssh>>) -> Option<String> {
    for s in plan.steps.iter().filter(|s| s.kind == StepKind::User) {
        let inv = match Invocation::parse(&s.argv) {
            Ok(i) => i,
            Err(e) => return Some(format!("rfw cannot read its own plan ({e})")),
        };
        let rule = match inv.cmd {
            Some(c) if c.takes_rule() && !(c == Cmd::Delete && inv.rule_number().is_some()) => {
                match Rule::from_items(&inv.items, s.family == Family::V6) {
                    Ok(r) => Some(r),
                    Err(e) => return Some(e.fix()),
                }
            }
            _ => None,
        };
        if let Some(why) = safety::check(&inv, rule.as_ref(), ssh) {
            return Some(why);
        }
    }
    None
}

/// How a plan's run ended: the status of the last step, and its stderr.
struct Ran {
    status: Status,
    stderr: String,
}

/// The one executor: runs each step; stops at the first failure. User
/// steps pass stdout through; their stderr is returned to the caller (which
/// forwards it with a hint), except for the last failing one.
fn execute(plan: &Plan, bins: &Binaries, store: &Store) -> Result<Ran, Error> {
    let (status, stderr) = plan.outcome.clone().unwrap_or_default();
    let mut last = Ran { status, stderr };
    for s in &plan.steps {
        let ipt = bins
            .get(s.family)
            .map_err(|e| Error::new(Status::CommandNotFound, e.to_string()))?;
        last = match s.kind {
            StepKind::User => {
                let (st, stderr) = run_user(ipt, &s.argv)?;
                Ran { status: st, stderr }
            }
            StepKind::Remove => match ipt.run_captured(&s.argv) {
                Ok(c) if c.status.is_success() || c.stderr.contains(BAD_RULE) => Ran {
                    status: Status::Success,
                    stderr: String::new(),
                },
                Ok(c) => Ran {
                    status: c.status,
                    stderr: c.stderr,
                },
                Err(e) => return Err(cannot_run(ipt, &e)),
            },
        };
        if !last.status.is_success() {
            break;
        }
        if let Some(rec) = &s.forget {
            if let Ok(l) = store.lock() {
                let _ = store.forget(&l, rec);
            }
        }
    }
    Ok(last)
}

fn table_args(table: &str) -> Vec<String> {
    vec!["-t".to_string(), table.to_string()]
}

/// `-t TABLE -D CHAIN words… --wait=10`.
fn delete_argv(table: &str, chain: &str, words: &[String]) -> Vec<String> {
    let mut a = table_args(table);
    a.push("-D".to_string());
    a.push(chain.to_string());
    a.extend_from_slice(words);
    Iptables::argv(&a, true)
}

/// One table's `iptables -S -v` in one family.
struct TableListing {
    family: Family,
    table: String,
    /// Its rules, or iptables' status and stderr.
    rules: Result<Vec<ListedRule>, (Status, String)>,
    /// The chains it has (the `-P` and `-N` lines).
    chains: Vec<String>,
}

/// The whole-table listings of one run: the sweep reads every table, and
/// the plan and `rfw list` reuse what it read instead of running
/// `iptables -S` again. A table rfw removed a rule from is read again;
/// reads after the user's command ran (read-back, explanations) never come
/// from here.
#[derive(Default)]
struct Listings {
    read: RefCell<Vec<Rc<TableListing>>>,
}

impl Listings {
    fn cached(&self, family: Family, table: &str) -> Option<Rc<TableListing>> {
        self.read
            .borrow()
            .iter()
            .find(|l| l.family == family && l.table == table)
            .cloned()
    }

    /// `-t TABLE -S -v` of `ipt`'s family, read on first use.
    fn table(&self, ipt: &Iptables, table: &str) -> Rc<TableListing> {
        if let Some(l) = self.cached(ipt.family, table) {
            return l;
        }
        let text = read_listing(ipt, table, None, true);
        let l = Rc::new(TableListing {
            family: ipt.family,
            table: table.to_string(),
            chains: text.as_deref().map(listed_chains).unwrap_or_default(),
            rules: text.map(|t| parse_listing(&t, ipt.family == Family::V6)),
        });
        self.read.borrow_mut().push(Rc::clone(&l));
        l
    }

    /// The rules of one chain: from the table's listing when it was read
    /// and holds the chain, else `-S CHAIN` (whose error names a missing
    /// chain as iptables does).
    fn chain(
        &self,
        ipt: &Iptables,
        table: &str,
        chain: &str,
    ) -> Result<Vec<ListedRule>, (Status, String)> {
        if let Some(l) = self.cached(ipt.family, table) {
            if let (Ok(rules), true) = (&l.rules, l.chains.iter().any(|c| c == chain)) {
                return Ok(rules.iter().filter(|r| r.chain == chain).cloned().collect());
            }
        }
        read_rules_quiet(ipt, table, Some(chain), false)
    }

    /// Forgets a table's listing once rfw changed (or tried to change) it.
    fn changed(&self, family: Family, table: &str) {
        self.read
            .borrow_mut()
            .retain(|l| !(l.family == family && l.table == table));
    }
}

/// The chains a listing names (`-P CHAIN POLICY`, `-N CHAIN`).
fn listed_chains(text: &str) -> Vec<String> {
    rule::split_records(text)
        .iter()
        .map(|l| rule::split_rule_line(l))
        .filter(|w| w.len() >= 2 && (w[0] == "-P" || w[0] == "-N"))
        .map(|w| w[1].clone())
        .collect()
}

/// The rules of one chain ([`Listings::chain`]); on failure iptables'
/// stderr is passed on with a hint, and its status ends the run.
fn read_rules(
    listings: &Listings,
    ipt: &Iptables,
    table: &str,
    chain: &str,
) -> Result<Vec<ListedRule>, Error> {
    listings
        .chain(ipt, table, chain)
        .map_err(|(st, stderr)| failed_read(st, &stderr, Some(chain), table))
}

/// A read of the rules failed: iptables' stderr passed on with a hint;
/// the run ends with iptables' status.
fn failed_read(st: Status, stderr: &str, chain: Option<&str>, table: &str) -> Error {
    exec::forward_stderr(stderr);
    hint(stderr, chain, table);
    Error::Exit(st)
}

/// iptables could not be started at all.
fn cannot_run(ipt: &Iptables, e: &io::Error) -> Error {
    Error::new(
        Status::OtherProblem,
        format!("cannot run {}: {e}", ipt.bin.display()),
    )
}

/// Reads `-S [CHAIN]` (with `-v` for counters) afresh; the error is
/// iptables' status and stderr.
fn read_rules_quiet(
    ipt: &Iptables,
    table: &str,
    chain: Option<&str>,
    counters: bool,
) -> Result<Vec<ListedRule>, (Status, String)> {
    let text = read_listing(ipt, table, chain, counters)?;
    Ok(parse_listing(&text, ipt.family == Family::V6))
}

/// `iptables -t TABLE -S [CHAIN] [-v]`'s output.
fn read_listing(
    ipt: &Iptables,
    table: &str,
    chain: Option<&str>,
    counters: bool,
) -> Result<String, (Status, String)> {
    let mut a = table_args(table);
    a.push("-S".to_string());
    if let Some(c) = chain {
        a.push(c.to_string());
    }
    if counters {
        a.push("-v".to_string());
    }
    let c = ipt.run_captured(&Iptables::argv(&a, true)).map_err(|e| {
        (
            Status::OtherProblem,
            format!("rfw: cannot run {}: {e}\n", ipt.bin.display()),
        )
    })?;
    if !c.status.is_success() {
        return Err((c.status, c.stderr));
    }
    Ok(c.stdout)
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
fn run_user(ipt: &Iptables, argv: &[String]) -> Result<(Status, String), Error> {
    let o = std::process::Command::new(&ipt.bin)
        .args(argv)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::inherit())
        .stderr(std::process::Stdio::piped())
        .output()
        .map_err(|e| cannot_run(ipt, &e))?;
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    Ok((exec::status_of(o.status), stderr))
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
    if !st.is_success() {
        hint(stderr, chain, table);
    }
    st
}

/// Everything an add needs after its plan ran.
struct Adding {
    tag: String,
    exp: Option<u64>,
    rule: Rule,
    duplicate: Option<usize>,
}

fn iptables(opts: &Opts) -> Result<Status, Error> {
    let (inv, cmd, rule) = parse_command(opts)?;
    let fam = family(opts);
    let table = inv.table().to_string();
    let chain = inv.chain().map(String::from);
    let bins = Binaries::default();
    let listings = Listings::default();
    // A dry run needs no iptables, but never an untrusted one: `found`
    // is the binary, or why there is none (only under --dry-run).
    let found = match bins.get(fam) {
        Ok(i) => Ok(i),
        Err(e) if opts.dry_run && e.is_missing() => Err(e),
        Err(e) => return Err(Error::new(Status::CommandNotFound, e.to_string())),
    };
    let ipt = found.as_ref().ok().copied();
    let need_ipt = || found.map_err(|e| Error::new(Status::CommandNotFound, e.to_string()));
    if matches!(cmd, Cmd::Version | Cmd::Help) {
        let ipt = need_ipt()?;
        let st = ipt
            .run_passthrough(&opts.rest)
            .unwrap_or(Status::OtherProblem);
        if cmd == Cmd::Version && st.is_success() {
            out(&format!(
                "(rfw {} from rnet-tools, running {})\n",
                env!("CARGO_PKG_VERSION"),
                ipt.bin.display()
            ))?;
        }
        return Ok(st);
    }
    if !opts.dry_run && exec::may_change_firewall() == Some(false) {
        return Err(Error::new(
            Status::ResourceProblem,
            format!(
                "needs root (or CAP_NET_ADMIN); try: sudo rfw {}",
                exec::shell_line(opts.rest.iter().map(String::as_str))
            ),
        ));
    }
    let store = Store::new(&exec::netns_key());
    // The state file, read once for the run. An unusable state directory
    // or file stops a change (or a -C, which reads the state) before
    // iptables runs at all, even to read.
    let mut recorded = store.recorded();
    if !opts.dry_run && (cmd.modifies() || cmd == Cmd::Check) {
        if let Err(e) = &recorded {
            return Err(Error::new(Status::ResourceProblem, e.to_string()));
        }
    }
    let add_wait = !inv.wait_given;
    // Read from /proc only if a rule needs it (safety::check).
    let ssh = OnceCell::new();
    let exp = opts.ttl.map(|t| tag::now() + t);
    let tag = tag::new_tag(exp);
    // The command as typed (with the tag on an add): the guard judges it
    // first, so a command it refuses reads and runs nothing at all.
    let typed = Plan::user(
        fam,
        Iptables::argv(
            &if cmd.adds() {
                inv.canon_with_tag(&tag)
            } else {
                inv.canon.clone()
            },
            add_wait,
        ),
    );
    if !opts.force {
        if let Some(why) = judge(&typed, &ssh) {
            return Err(refused(&why));
        }
    }
    // Expired rules go before anything reads the rules: the rule numbers
    // of -R / -D N and the rule -D or -C finds are those iptables sees
    // when the command runs.
    if !opts.dry_run {
        if let Err(e) = &recorded {
            err(&format!(
                "warning: {e}; expired rules recorded there were not removed"
            ));
        }
        if let Err(e) = sweep(&store, &bins, &listings, recorded.as_mut().ok()) {
            if cmd.modifies() || cmd == Cmd::Check {
                return Err(Error::new(Status::ResourceProblem, e.to_string()));
            }
            err(&format!("warning: {e}; expired rules were not removed"));
        }
    }
    // Plan: reads only (harmless, also under --dry-run), then the steps.
    let mut adding = None;
    let built = if cmd.adds() {
        let rule = rule.clone().unwrap_or_default();
        let mut plan = typed;
        let in_chain = chain.as_deref().unwrap_or("");
        let listed = match (&ipt, cmd) {
            (Some(ipt), Cmd::Replace) => read_rules(&listings, ipt, &table, in_chain)?,
            (Some(ipt), _) => listings.chain(ipt, &table, in_chain).unwrap_or_default(),
            (None, _) => Vec::new(),
        };
        let n = inv.rule_number().unwrap_or(0) as usize;
        if cmd == Cmd::Replace && !opts.force {
            if let Some(old) = listed.iter().find(|l| l.num == n) {
                if old.rule.tag.is_none() {
                    return Err(Error::new(Status::ParameterProblem, format!("refused: rule {n} of {} was not added by rfw ({}); add --force to replace it anyway", chain.as_deref().unwrap_or(""), exec::shell_line(old.words.iter().map(String::as_str)))));
                }
            }
        }
        let duplicate = listed
            .iter()
            .find(|l| l.parsed && l.rule.same_as(&rule) && !(cmd == Cmd::Replace && l.num == n))
            .map(|l| l.num);
        plan.notes.push(format!(
            "# rfw reset (or --ttl) would later run: {}",
            exec::shell_line(
                std::iter::once(exec::program(fam)).chain(
                    delete_argv(
                        &table,
                        chain.as_deref().unwrap_or(""),
                        &inv.rule_words_with_tag(&tag)
                    )
                    .iter()
                    .map(String::as_str)
                )
            )
        ));
        if let Some(d) = duplicate {
            plan.notes.push(format!(
                "# note: rule {d} of {} is already this rule; iptables allows duplicates",
                chain.as_deref().unwrap_or("")
            ));
        }
        adding = Some(Adding {
            tag,
            exp,
            rule,
            duplicate,
        });
        plan
    } else if matches!(cmd, Cmd::Delete | Cmd::Check) {
        let recorded = recorded
            .as_ref()
            .map_err(|e| Error::new(Status::ResourceProblem, e.to_string()))?;
        match ipt {
            Some(ipt) => plan_delete_or_check(opts, &inv, rule.as_ref(), ipt, &listings, recorded)?,
            // Dry run without iptables: the command as typed.
            None => typed,
        }
    } else {
        typed
    };
    let plan = built;
    // Check: the guard judges the plan, exactly as it will run.
    if !opts.force {
        if let Some(why) = judge(&plan, &ssh) {
            return Err(refused(&why));
        }
    }
    if opts.dry_run {
        out(&plan.render())?;
        return Ok(Status::Success);
    }
    let ipt = need_ipt()?;
    // Execute.
    let ran = execute(&plan, &bins, &store)?;
    match adding {
        Some(a) => finish_add(opts, &inv, ipt, &store, ran, a, add_wait, &ssh),
        None => {
            let st = finish_user(ipt, ran.status, &ran.stderr, chain.as_deref(), &table);
            if st.is_success() && cmd == Cmd::List && explain_on(opts) {
                explain_listing(ipt, &table, chain.as_deref());
            }
            Ok(st)
        }
    }
}

/// The guard said no: exit 2 and one line, as for a parameter iptables
/// rejects.
fn refused(why: &str) -> Error {
    Error::new(
        Status::ParameterProblem,
        format!("refused: {why}; add --force to do it anyway"),
    )
}

/// After `-L`: one line per rule with its counter, numbered as iptables
/// numbers them.
fn explain_listing(ipt: &Iptables, table: &str, chain: Option<&str>) {
    let Ok(listed) = read_rules_quiet(ipt, table, chain, true) else {
        return;
    };
    let t = timers();
    for l in listed.iter().filter(|l| l.parsed) {
        err(&explain::counter_line(&l.chain, l.num, &l.rule, &t));
    }
}

#[allow(clippy::too_many_arguments)]
fn finish_add(
    opts: &Opts,
    inv: &Invocation,
    ipt: &Iptables,
    store: &Store,
    ran: Ran,
    a: Adding,
    add_wait: bool,
    ssh: &OnceCell<Option<safety::Ssh>>,
) -> Result<Status, Error> {
    let fam = ipt.family;
    let table = inv.table().to_string();
    let chain = inv.chain().unwrap_or("").to_string();
    let mut tagged = true;
    let st = if !ran.status.is_success() && comment_missing(ipt, &ran.stderr, &table, &chain) {
        // Fall back: the same rule without the tag, recorded in the state
        // file so that reset and --ttl still find it.
        let plain = Iptables::argv(&inv.canon, add_wait);
        let (st2, stderr2) = run_user(ipt, &plain)?;
        if st2.is_success() {
            err("note: the comment match is missing here; rule recorded in the state file instead of tagged");
            let rec = Recorded {
                exp: a.exp.unwrap_or(0),
                family: fam,
                table: table.clone(),
                chain: chain.clone(),
                words: a.rule.to_args(),
            };
            if let Err(e) = store.lock().and_then(|l| store.record(&l, &rec)) {
                err(&format!(
                    "warning: the rule was added but not recorded ({e}); rfw reset will not find it"
                ));
            }
            tagged = false;
        }
        finish_user(ipt, st2, &stderr2, Some(&chain), &table)
    } else {
        finish_user(ipt, ran.status, &ran.stderr, Some(&chain), &table)
    };
    if !st.is_success() {
        return Ok(st);
    }
    // Second line of defence: what did iptables install?
    if tagged {
        readback(ipt, &table, &chain, &a.tag, opts.force, ssh)?;
    }
    if let Some(d) = a.duplicate {
        err(&format!(
            "note: rule {d} of {chain} was already this rule; iptables allows duplicates, so {chain} now holds it twice"
        ));
    }
    if let Some(e) = a.exp {
        spawn_helper(e);
    }
    if explain_on(opts) {
        for l in explain::explain(&chain, &a.rule, &timers()) {
            err(&format!("{chain}: {l}"));
        }
        if let Some(t) = opts.ttl {
            err(&format!("{chain}: removed again in {t} s (--ttl)"));
        }
    }
    Ok(Status::Success)
}

/// Reads back the rule carrying `tag` as iptables installed it and judges
/// it again; a rule the guard refuses, or one found outside the table and
/// chain rfw judged, is deleted at once (exit 2, one line).
fn readback(
    ipt: &Iptables,
    table: &str,
    chain: &str,
    tag: &str,
    force: bool,
    ssh: &OnceCell<Option<safety::Ssh>>,
) -> Result<(), Error> {
    let mine = |t: &str, c: Option<&str>| -> Vec<ListedRule> {
        read_rules_quiet(ipt, t, c, false)
            .unwrap_or_default()
            .into_iter()
            .filter(|l| l.rule.tag.as_deref() == Some(tag))
            .collect()
    };
    let mut found: Vec<(String, ListedRule)> = mine(table, Some(chain))
        .into_iter()
        .map(|l| (table.to_string(), l))
        .collect();
    let misplaced = found.is_empty();
    if misplaced {
        for t in argv::TABLES {
            found.extend(mine(t, None).into_iter().map(|l| (t.to_string(), l)));
        }
    }
    for (t, l) in found {
        let mut words = vec![
            "-t".to_string(),
            t.clone(),
            "-A".to_string(),
            l.chain.clone(),
        ];
        words.extend(l.words.iter().cloned());
        let why = if misplaced {
            Some(format!(
                "iptables put it in chain {} of table {t}, not in {chain} of {table} where rfw judged it",
                l.chain
            ))
        } else if force {
            None
        } else {
            match Invocation::parse(&words) {
                Ok(inv) => {
                    let rule = Rule::from_items(&inv.items, ipt.family == Family::V6).ok();
                    safety::check(&inv, rule.as_ref(), ssh)
                }
                Err(e) => Some(format!("rfw cannot read it back ({e})")),
            }
        };
        let Some(why) = why else { continue };
        let removed = match ipt.run_captured(&delete_argv(&t, &l.chain, &l.words)) {
            Ok(c) if c.status.is_success() => "rfw removed it again".to_string(),
            Ok(c) => format!("removing it failed: {}", c.stderr.trim_end()),
            Err(e) => format!("removing it failed: {e}"),
        };
        return Err(Error::new(
            Status::ParameterProblem,
            format!(
                "refused after install: iptables installed `-A {} {}' ({why}); {removed}",
                l.chain,
                exec::shell_line(l.words.iter().map(String::as_str))
            ),
        ));
    }
    Ok(())
}

/// Whether a failed add failed only because the comment match is missing:
/// the error names it (``Couldn't load match `comment'``, exit 2), or says
/// "No chain/target/match by that name" (exit 1, as the legacy backend
/// has) while the chain exists (docs/compat.md, "comment match missing").
fn comment_missing(ipt: &Iptables, stderr: &str, table: &str, chain: &str) -> bool {
    if stderr.contains("Couldn't load match `comment'") {
        return true;
    }
    if !stderr.contains("No chain/target/match by that name") {
        return false;
    }
    read_rules_quiet(ipt, table, Some(chain), false).is_ok()
}

/// The plan of `-D` / `-C`: rfw's own rule by number or by meaning.
fn plan_delete_or_check(
    opts: &Opts,
    inv: &Invocation,
    rule: Option<&Rule>,
    ipt: &Iptables,
    listings: &Listings,
    all_recorded: &[Recorded],
) -> Result<Plan, Error> {
    let cmd = inv.cmd.unwrap_or(Cmd::Check);
    let chain = inv.chain().unwrap_or("").to_string();
    let table = inv.table().to_string();
    let fam = ipt.family;
    let add_wait = !inv.wait_given;
    let typed = || Plan::user(fam, Iptables::argv(&inv.canon, add_wait));
    let listed = read_rules(listings, ipt, &table, &chain)?;
    // The rule rfw added: by iptables' own number, or the first tagged one
    // equal in meaning.
    let found: Option<&ListedRule> = match (inv.rule_number(), rule) {
        (Some(n), _) => listed.iter().find(|l| l.num == n as usize),
        (None, Some(r)) => listed
            .iter()
            .find(|l| l.rule.tag.is_some() && l.parsed && l.rule.same_as(r)),
        _ => None,
    };
    let recorded = rule.and_then(|r| {
        all_recorded
            .iter()
            .find(|rec| {
                rec.family == fam
                    && rec.table == table
                    && rec.chain == chain
                    && Rule::parse(&rec.words, fam == Family::V6).is_ok_and(|x| x.same_as(r))
            })
            .cloned()
    });
    let user = |argv: Vec<String>, forget: Option<Recorded>| Plan {
        steps: vec![Step {
            family: fam,
            argv,
            kind: StepKind::User,
            forget,
        }],
        notes: Vec::new(),
        outcome: None,
    };
    if cmd == Cmd::Check {
        if found.is_some() {
            return Ok(Plan {
                notes: vec!["# found a matching rule added by rfw (exit 0)".to_string()],
                ..Plan::default()
            });
        }
        return Ok(typed());
    }
    // -D
    match (found, inv.rule_number()) {
        (Some(l), _) if l.rule.tag.is_some() => {
            return Ok(user(delete_argv(&table, &chain, &l.words), None));
        }
        (Some(l), Some(n)) if !opts.force => {
            return Err(Error::new(Status::ParameterProblem, format!(
                "refused: rule {n} of {chain} was not added by rfw ({}); add --force to delete it anyway",
                exec::shell_line(l.words.iter().map(String::as_str))
            )));
        }
        _ => {}
    }
    if let Some(rec) = recorded {
        let argv = delete_argv(&table, &chain, &rec.words);
        return Ok(user(argv, Some(rec)));
    }
    if opts.force || inv.rule_number().is_some() {
        // --force, or a number past the end (iptables reports it).
        return Ok(typed());
    }
    // Not rfw's: is there such a rule at all? `-C` answers with the same
    // message and status `-D` would give, and changes nothing.
    let mut check = inv.canon.clone();
    if let Some(p) = check.iter().position(|w| w == "-D" || w == "--delete") {
        check[p] = "-C".to_string();
    }
    let c = ipt
        .run_captured(&Iptables::argv(&check, add_wait))
        .map_err(|e| cannot_run(ipt, &e))?;
    if c.status.is_success() {
        return Err(Error::new(Status::ParameterProblem, format!(
            "refused: the matching rule in {chain} was not added by rfw; add --force to delete it anyway"
        )));
    }
    Ok(Plan {
        notes: vec![format!(
            "# no such rule in {chain}: iptables -C exits {}, and so would -D",
            c.status
        )],
        outcome: Some((c.status, c.stderr)),
        ..Plan::default()
    })
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
    let store = Store::new(&exec::netns_key());
    // An unreadable state file still leaves the tagged rules to remove.
    let mut recorded = store.recorded().ok();
    let _ = sweep(
        &store,
        &Binaries::default(),
        &Listings::default(),
        recorded.as_mut(),
    );
}

/// One expired rule a sweep removed (or failed to).
struct Swept {
    family: Family,
    table: String,
    chain: String,
    words: Vec<String>,
    exp: u64,
    error: Option<String>,
}

/// Removes every rfw rule whose expiry has passed: the expiry is read
/// from each rule's own tag in `iptables -S` of every table and family, so
/// nothing depends on a file in the state directory surviving (a reboot
/// with a saved ruleset, a cleaned /run). Untagged rules recorded in the
/// state file (`recorded`, read by the caller; `None` when it cannot be
/// read) expire from there and are taken out of `recorded`. Returns what
/// it did; the error is a state file that cannot be locked or rewritten.
fn sweep(
    store: &Store,
    bins: &Binaries,
    listings: &Listings,
    mut recorded: Option<&mut Vec<Recorded>>,
) -> io::Result<Vec<Swept>> {
    let now = tag::now();
    let mut done = Vec::new();
    for fam in [Family::V4, Family::V6] {
        let Ok(ipt) = bins.get(fam) else {
            continue;
        };
        for t in argv::TABLES {
            let listing = listings.table(ipt, t);
            let Ok(listed) = &listing.rules else {
                continue;
            };
            let mut changed = false;
            for l in listed {
                let Some(exp) = l.rule.tag.as_deref().and_then(tag::tag_expiry) else {
                    continue;
                };
                if exp > now {
                    continue;
                }
                changed = true;
                let error = match ipt.run_captured(&delete_argv(t, &l.chain, &l.words)) {
                    Ok(c) if c.status.is_success() || c.stderr.contains(BAD_RULE) => None,
                    Ok(c) => Some(c.stderr.trim_end().to_string()),
                    Err(e) => Some(e.to_string()),
                };
                done.push(Swept {
                    family: fam,
                    table: t.to_string(),
                    chain: l.chain.clone(),
                    words: l.words.clone(),
                    exp,
                    error,
                });
            }
            if changed {
                listings.changed(fam, t);
            }
        }
        let due: Vec<Recorded> = recorded
            .as_deref()
            .into_iter()
            .flatten()
            .filter(|r| r.family == fam && r.exp != 0 && r.exp <= now)
            .cloned()
            .collect();
        for rec in due {
            listings.changed(fam, &rec.table);
            let error = match ipt.run_captured(&delete_argv(&rec.table, &rec.chain, &rec.words)) {
                Ok(c) if c.status.is_success() || c.stderr.contains(BAD_RULE) => None,
                Ok(c) => Some(c.stderr.trim_end().to_string()),
                Err(e) => Some(e.to_string()),
            };
            if error.is_none() {
                let l = store.lock()?;
                store.forget(&l, &rec)?;
                if let Some(all) = recorded.as_deref_mut() {
                    if let Some(i) = all.iter().position(|r| *r == rec) {
                        all.remove(i);
                    }
                }
            }
            done.push(Swept {
                family: fam,
                table: rec.table,
                chain: rec.chain,
                words: rec.words,
                exp: rec.exp,
                error,
            });
        }
    }
    Ok(done)
}

/// Reads `rfw reset` and `rfw list`'s arguments (at most `-t TABLE`).
fn parse_table_only(opts: &Opts) -> Result<Invocation, Error> {
    Invocation::parse(&opts.rest).map_err(|e| Error::new(e.status(), e.to_string()))
}

/// Whether this process may change the firewall (before anything runs).
fn need_root(what: &str) -> Result<(), Error> {
    if exec::may_change_firewall() == Some(false) {
        return Err(Error::new(
            Status::ResourceProblem,
            format!("needs root (or CAP_NET_ADMIN); try: sudo rfw {what}"),
        ));
    }
    Ok(())
}

fn reset(opts: &Opts) -> Result<Status, Error> {
    let inv = parse_table_only(opts)?;
    if inv.cmd.is_some()
        || !inv.items.is_empty()
        || inv.canon.len() != 2 * usize::from(inv.table.is_some())
    {
        return Err(Error::new(
            Status::ParameterProblem,
            "reset takes no iptables arguments besides -t TABLE",
        ));
    }
    if !opts.dry_run {
        need_root("reset")?;
    }
    let store = Store::new(&exec::netns_key());
    let bins = Binaries::default();
    let tables: Vec<&str> = match &inv.table {
        Some(t) => vec![t.as_str()],
        None => argv::TABLES.to_vec(),
    };
    let all_recorded = store
        .recorded()
        .map_err(|e| Error::new(Status::ResourceProblem, e.to_string()))?;
    let mut plan = Plan::default();
    let mut kept = 0;
    let mut any_binary = false;
    for fam in families(opts) {
        let ipt = match bins.get(fam) {
            Ok(i) => i,
            // ip6tables is optional unless asked for (but never untrusted).
            Err(e) if !e.is_missing() || opts.family == Some(fam) || fam == Family::V4 => {
                return Err(Error::new(Status::CommandNotFound, e.to_string()));
            }
            Err(_) => continue,
        };
        any_binary = true;
        for t in &tables {
            let listed = match read_rules_quiet(ipt, t, None, false) {
                Ok(l) => l,
                // A table the kernel lacks holds no rules; one asked for
                // by name is an error.
                Err((st, stderr)) if inv.table.is_some() => {
                    return Err(failed_read(st, &stderr, None, t));
                }
                Err(_) => continue,
            };
            for l in &listed {
                if l.rule.tag.is_none() {
                    kept += 1;
                    continue;
                }
                plan.steps.push(Step {
                    family: fam,
                    argv: delete_argv(t, &l.chain, &l.words),
                    kind: StepKind::Remove,
                    forget: None,
                });
            }
        }
        for rec in &all_recorded {
            if rec.family != fam || !tables.contains(&rec.table.as_str()) {
                continue;
            }
            plan.steps.push(Step {
                family: fam,
                argv: delete_argv(&rec.table, &rec.chain, &rec.words),
                kind: StepKind::Remove,
                forget: Some(rec.clone()),
            });
        }
    }
    if !any_binary {
        return Err(Error::Exit(Status::CommandNotFound));
    }
    if opts.dry_run {
        out(&plan.render())?;
        return Ok(Status::Success);
    }
    // Each removal on its own, so one failure does not keep the rest.
    let mut removed = 0;
    let mut status = Status::Success;
    for s in &plan.steps {
        let one = Plan {
            steps: vec![s.clone()],
            ..Plan::default()
        };
        let r = execute(&one, &bins, &store)?;
        if r.status.is_success() {
            removed += 1;
        } else {
            err(&format!(
                "cannot remove: {}: {}",
                exec::shell_line(s.argv.iter().map(String::as_str)),
                r.stderr.trim_end()
            ));
            status = Status::OtherProblem;
        }
    }
    if !opts.quiet {
        err(&format!(
            "removed {removed} rule{} added by rfw; {kept} other rule{} left untouched",
            if removed == 1 { "" } else { "s" },
            if kept == 1 { "" } else { "s" }
        ));
    }
    Ok(status)
}

fn families(opts: &Opts) -> Vec<Family> {
    match opts.family {
        Some(f) => vec![f],
        None => vec![Family::V4, Family::V6],
    }
}

fn list(opts: &Opts) -> Result<Status, Error> {
    let inv = parse_table_only(opts)?;
    let fam = family(opts);
    let bins = Binaries::default();
    let ipt = bins
        .get(fam)
        .map_err(|e| Error::new(Status::CommandNotFound, e.to_string()))?;
    need_root("list")?;
    let store = Store::new(&exec::netns_key());
    let resource = |e: io::Error| Error::new(Status::ResourceProblem, e.to_string());
    let mut recorded = store.recorded().map_err(resource)?;
    // Expired rules go first, and list says so.
    let listings = Listings::default();
    let swept = sweep(&store, &bins, &listings, Some(&mut recorded)).map_err(resource)?;
    for s in swept {
        let what = format!(
            "{}{}",
            if s.family == Family::V6 {
                "(IPv6) "
            } else {
                ""
            },
            rule_line(&s.table, &s.chain, &s.words, exec::shell_quote)
        );
        let ago = tag::now().saturating_sub(s.exp);
        match s.error {
            None => err(&format!(
                "removed expired rule (--ttl ran out {ago} s ago): {what}"
            )),
            Some(e) => err(&format!(
                "cannot remove expired rule (--ttl ran out {ago} s ago): {what}: {e}"
            )),
        }
    }
    let tables: Vec<&str> = match &inv.table {
        Some(t) => vec![t.as_str()],
        None => argv::TABLES.to_vec(),
    };
    let t = timers();
    let mut text = String::new();
    let mut notes = Vec::new();
    for table in &tables {
        let listing = listings.table(ipt, table);
        let listed = match &listing.rules {
            Ok(l) => l,
            Err((st, stderr)) if inv.table.is_some() => {
                return Err(failed_read(*st, stderr, None, table));
            }
            Err(_) => continue,
        };
        for l in listed.iter().filter(|l| l.rule.tag.is_some()) {
            text.push_str(&rule_line(table, &l.chain, &l.words, quote_like_iptables));
            text.push('\n');
            let exp = l.rule.tag.as_deref().and_then(tag::tag_expiry);
            let left = match exp {
                Some(e) if e > tag::now() => format!(", expires in {} s", e - tag::now()),
                Some(_) => ", expired (its removal failed; see above)".to_string(),
                None => String::new(),
            };
            if let Some(first) = explain::explain(&l.chain, &l.rule, &t).first() {
                let (pkts, _) = l.rule.counters.unwrap_or((0, 0));
                notes.push(format!(
                    "{}: {pkts} {} so far{left}; {first}",
                    l.chain,
                    explain::counted(&l.rule)
                ));
            }
        }
    }
    for rec in recorded.iter().filter(|r| r.family == fam) {
        text.push_str(&rule_line(
            &rec.table,
            &rec.chain,
            &rec.words,
            quote_like_iptables,
        ));
        text.push('\n');
    }
    // A reader that closed the pipe gets no notes either (quiet exit 0).
    out(&text)?;
    if explain_on(opts) {
        for n in notes {
            err(&n);
        }
    }
    Ok(Status::Success)
}

/// One rule as `rfw list` shows it: `-A CHAIN WORDS…`, with `-t TABLE `
/// in front outside the filter table, each word quoted with `quote`.
fn rule_line(table: &str, chain: &str, words: &[String], quote: fn(&str) -> String) -> String {
    let mut line = if table == "filter" {
        String::new()
    } else {
        format!("-t {table} ")
    };
    line.push_str("-A ");
    line.push_str(chain);
    for w in words {
        line.push(' ');
        line.push_str(&quote(w));
    }
    line
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

    #[test]
    fn iptables_quoting() {
        assert_eq!(quote_like_iptables("rfw:1"), "rfw:1");
        assert_eq!(quote_like_iptables("rfw:7 \"q\""), "\"rfw:7 \\\"q\\\"\"");
    }
}
