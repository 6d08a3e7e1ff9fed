//! rfw against real iptables, inside network namespaces of the test's own.
//!
//! Every rule goes into a namespace created here (rnet_testkit::netns), never
//! into the machine's own ruleset; the namespace, and with it every rule,
//! is deleted on drop, also when a test fails. After each rfw command the
//! ruleset is read back with `iptables -S` run in the same namespace.
//! Traffic only flows between 198.18.0.1 and 198.18.0.2 on the lab veth.
//!
//! Needs root, `ip` and `iptables` (and `setpriv` for the not-root case);
//! otherwise each test prints why it skips and passes, unless
//! `RNET_REQUIRE_LAB=1`. The binary under test is `$RFW_BIN`, else
//! `target/<profile>/rfw` (`cargo build -p rfw` or `--workspace --bins`).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rnet_testkit::argv;
use rnet_testkit::netns::{LabPair, Netns, SERVER_V4};
use rnet_testkit::process::{self, Output};
use rnet_testkit::rng::Rng;
use rnet_testkit::rules::{
    Rule, FIN_DROP, LAST_ACK_DROP, PSH_RESET, REFUSE, SIMULTANEOUS_OPEN, SYNACK_DROP, SYN_DROP,
};
use rnet_testkit::tempdir::TempDir;
use rnet_testkit::{lab_or_skip, tool_under_test, LabEnv};

const RUN: Duration = Duration::from_secs(20);

/// One namespace, rfw's state directory of its own, and the tools.
struct Lab {
    ns: Netns,
    rfw: PathBuf,
    iptables: PathBuf,
    state: TempDir,
    env: LabEnv,
}

fn lab(test: &str, extra: &[&str]) -> Option<Lab> {
    let mut progs = vec!["iptables"];
    progs.extend_from_slice(extra);
    let env = lab_or_skip(test, &progs)?;
    // Refuse to run where the backend is unknown (never probe legacy).
    let ns = Netns::create(&env.ip, "rfw").expect("create namespace");
    let rfw = tool_under_test("rfw", "RFW_BIN");
    let iptables = env.program("iptables").to_path_buf();
    let state = TempDir::new("rfw-state").expect("temp dir");
    Some(Lab {
        ns,
        rfw,
        iptables,
        state,
        env,
    })
}

impl Lab {
    fn rfw_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = self.ns.command(&self.rfw, args);
        cmd.env("RFW_STATE_DIR", self.state.path());
        for (k, v) in env {
            cmd.env(k, v);
        }
        process::run(&mut cmd, RUN).expect("run rfw")
    }

    fn rfw(&self, args: &[&str]) -> Output {
        self.rfw_env(args, &[])
    }

    fn ipt(&self, args: &[&str]) -> Output {
        process::run(&mut self.ns.command(&self.iptables, args), RUN).expect("run iptables")
    }

    /// `iptables -S` (the whole filter table) as lines.
    fn rules(&self) -> Vec<String> {
        let o = self.ipt(&["-S"]);
        assert_eq!(o.code(), Some(0), "iptables -S: {}", o.stderr_text());
        o.stdout_text().lines().map(String::from).collect()
    }

    /// The `-A` lines only.
    fn appended(&self) -> Vec<String> {
        self.rules()
            .into_iter()
            .filter(|l| l.starts_with("-A "))
            .collect()
    }
}

fn ok(o: &Output, what: &str) {
    assert_eq!(
        o.code(),
        Some(0),
        "{what}: {}\nstdout: {}\nstderr: {}",
        o.status_text(),
        o.stdout_text(),
        o.stderr_text()
    );
}

/// Strips the tag comment so a listed rule can be compared with the
/// article's normalised form.
fn untagged(line: &str) -> String {
    let mut s = line.to_string();
    if let Some(p) = s.find(" -m comment --comment \"rfw:") {
        let rest = &s[p + 1..];
        let end = rest.find("\" ").map(|e| p + 1 + e + 2).unwrap_or(s.len());
        s.replace_range(p..end.min(s.len()), " ");
        s = s.replace("  ", " ");
    }
    s.trim_end().to_string()
}

fn with(cmd: &[&str], spec: &[&str]) -> Vec<String> {
    cmd.iter().chain(spec).map(|s| s.to_string()).collect()
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn article_commands_with_iptables_s_after_each() {
    let Some(env) = lab_or_skip("article_commands_with_iptables_s_after_each", &["iptables"])
    else {
        return;
    };
    let pair = LabPair::new(&env.ip, "rfwart").expect("lab pair");
    let rfw = tool_under_test("rfw", "RFW_BIN");
    let state = TempDir::new("rfw-state").expect("temp dir");
    let ipt = env.program("iptables").to_path_buf();
    let run = |ns: &Netns, prog: &std::path::Path, args: &[&str]| -> Output {
        let mut c = ns.command(prog, args);
        c.env("RFW_STATE_DIR", state.path());
        process::run(&mut c, RUN).expect("run")
    };
    let appended = |ns: &Netns| -> Vec<String> {
        run(ns, &ipt, &["-S"])
            .stdout_text()
            .lines()
            .filter(|l| l.starts_with("-A "))
            .map(String::from)
            .collect()
    };

    // Client: the SYN drop.
    let c = &pair.client;
    let o = run(c, &rfw, &SYN_DROP.with(&["-I", "OUTPUT"]));
    ok(&o, "rfw -I OUTPUT (SYN drop)");
    assert!(
        o.stderr_text().contains("SYN_SENT"),
        "explanation: {}",
        o.stderr_text()
    );
    let a = appended(c);
    assert_eq!(a.len(), 1, "{a:?}");
    assert!(a[0].contains("--comment \"rfw:"), "{a:?}");
    assert_eq!(
        untagged(&a[0]),
        "-A OUTPUT -p tcp -m tcp --dport 5555 --tcp-flags SYN,ACK SYN -j DROP"
    );

    // A real connect from the client is held in SYN_SENT; its SYNs are counted.
    let listener = pair
        .server
        .run_in(|| TcpListener::bind(("0.0.0.0", 5555)))
        .expect("enter server ns")
        .expect("listen");
    let target: SocketAddr = format!("{SERVER_V4}:5555").parse().unwrap();
    let res = c
        .run_in(move || TcpStream::connect_timeout(&target, Duration::from_millis(1500)))
        .expect("enter client ns");
    assert!(
        res.is_err(),
        "connect must not succeed through the SYN drop"
    );
    drop(listener);
    let l_rfw = run(c, &rfw, &["-L", "OUTPUT", "-vn"]);
    let l_ipt = run(c, &ipt, &["-L", "OUTPUT", "-vn"]);
    ok(&l_rfw, "rfw -L OUTPUT -vn");
    // Counters may tick between the two runs only if packets flow; none do now.
    assert_eq!(l_rfw.stdout_text(), l_ipt.stdout_text());
    let pkts: u64 = l_ipt
        .stdout_text()
        .lines()
        .nth(2)
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .and_then(|p| p.parse().ok())
        .expect("packet counter");
    assert!(pkts >= 1, "{}", l_ipt.stdout_text());
    let noun = if pkts == 1 { "SYN" } else { "SYNs" };
    assert!(
        l_rfw.stderr_text().contains(&format!(
            "OUTPUT rule 1 (added by rfw): {pkts} {noun} dropped so far"
        )),
        "{}",
        l_rfw.stderr_text()
    );

    // Server: the SYN|ACK drop.
    let s = &pair.server;
    let o = run(s, &rfw, &SYNACK_DROP.with(&["-I", "OUTPUT"]));
    ok(&o, "rfw -I OUTPUT (SYN|ACK drop)");
    assert!(o.stderr_text().contains("SYN_RECV"), "{}", o.stderr_text());
    let a = appended(s);
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(
        untagged(&a[0]),
        "-A OUTPUT -p tcp -m tcp --sport 5555 --tcp-flags SYN,ACK SYN,ACK -j DROP"
    );

    // -D with the article's own arguments finds the tagged rules.
    ok(
        &run(c, &rfw, &SYN_DROP.with(&["-D", "OUTPUT"])),
        "rfw -D (SYN drop)",
    );
    assert!(appended(c).is_empty(), "{:?}", appended(c));
    ok(
        &run(s, &rfw, &SYNACK_DROP.with(&["-D", "OUTPUT"])),
        "rfw -D (SYN|ACK drop)",
    );
    assert!(appended(s).is_empty(), "{:?}", appended(s));
    // Deleting again: iptables' own message and status.
    let again = run(c, &rfw, &SYN_DROP.with(&["-D", "OUTPUT"]));
    assert_eq!(again.code(), Some(1), "{}", again.stderr_text());
    assert!(again.stderr_text().contains("Bad rule"));
}

#[test]
fn teardown_rules_are_explained_and_checkable() {
    let Some(l) = lab("teardown_rules_are_explained_and_checkable", &[]) else {
        return;
    };
    let rules: &[(Rule, &str)] = &[
        (FIN_DROP, "FIN_WAIT1"),
        (LAST_ACK_DROP, "LAST_ACK"),
        (REFUSE, "Connection refused"),
        (PSH_RESET, "half-open"),
        (SIMULTANEOUS_OPEN, "SYN_SENT"),
    ];
    for (rule, word) in rules {
        let add = rule.insert();
        let o = l.rfw(&add);
        ok(&o, &add.join(" "));
        assert!(
            o.stderr_text().contains(word),
            "{add:?}: {}",
            o.stderr_text()
        );
        let check = rule.with(&["-C", rule.chain]);
        ok(&l.rfw(&check), &check.join(" "));
        // Plain iptables -C without the tag does not find it (exact match).
        assert_eq!(l.ipt(&check).code(), Some(1));
    }
    assert_eq!(l.appended().len(), rules.len());
    for (rule, _) in rules {
        let del = rule.delete();
        ok(&l.rfw(&del), &del.join(" "));
    }
    assert!(l.appended().is_empty(), "{:?}", l.appended());
}

#[test]
fn reset_leaves_rules_rfw_did_not_add() {
    let Some(l) = lab("reset_leaves_rules_rfw_did_not_add", &[]) else {
        return;
    };
    ok(
        &l.ipt(&argv("-A INPUT -p tcp --dport 5555 -j DROP")),
        "iptables -A",
    );
    let foreign = l.appended();
    ok(&l.rfw(&SYN_DROP.with(&["-I", "OUTPUT"])), "rfw -I");
    ok(
        &l.rfw(&argv("-A INPUT -p tcp --dport 5556 -j DROP")),
        "rfw -A",
    );
    assert_eq!(l.appended().len(), 3);
    // -D of the foreign rule is refused without --force, and it stays.
    let o = l.rfw(&argv("-D INPUT -p tcp --dport 5555 -j DROP"));
    assert_eq!(o.code(), Some(2), "{}", o.stderr_text());
    assert!(o.stderr_text().contains("not added by rfw"));
    let o = l.rfw(&["reset"]);
    ok(&o, "rfw reset");
    assert!(
        o.stderr_text().contains("removed 2 rules added by rfw"),
        "{}",
        o.stderr_text()
    );
    assert_eq!(l.appended(), foreign);
    // Again: nothing left to do.
    ok(&l.rfw(&["reset"]), "rfw reset (again)");
    assert_eq!(l.appended(), foreign);
}

#[test]
fn dry_run_changes_nothing() {
    let Some(l) = lab("dry_run_changes_nothing", &[]) else {
        return;
    };
    ok(&l.rfw(&SYN_DROP.with(&["-I", "OUTPUT"])), "rfw -I");
    let before = l.rules();
    for args in [
        with(&["--dry-run", "-I", "OUTPUT"], &SYNACK_DROP.spec()),
        with(&["--dry-run", "-D", "OUTPUT"], &SYN_DROP.spec()),
        with(&["--dry-run", "reset"], &[]),
        with(&["--dry-run", "--force", "-P", "INPUT", "DROP"], &[]),
        with(&["--dry-run", "-N", "RFWTEST"], &[]),
    ] {
        let o = l.rfw(&strs(&args));
        ok(&o, &args.join(" "));
        assert!(
            o.stdout_text().starts_with("iptables "),
            "{args:?}: {}",
            o.stdout_text()
        );
        assert_eq!(l.rules(), before, "{args:?} changed the ruleset");
    }
    let o = l.rfw(&SYNACK_DROP.with(&["--dry-run", "-I", "OUTPUT"]));
    let line = o.stdout_text().lines().next().unwrap_or("").to_string();
    assert!(
        line.starts_with(
            "iptables -I OUTPUT -p tcp --sport 5555 --tcp-flags SYN,ACK SYN,ACK -m comment --comment rfw:"
        ) && line.ends_with(" -j DROP --wait=10"),
        "{line}"
    );
}

#[test]
fn policy_drop_needs_force() {
    let Some(l) = lab("policy_drop_needs_force", &[]) else {
        return;
    };
    let before = l.rules();
    let o = l.rfw(&["-P", "INPUT", "DROP"]);
    assert_eq!(o.code(), Some(2));
    assert!(
        o.stderr_text().starts_with("rfw: refused: ") && o.stderr_text().contains("--force"),
        "{}",
        o.stderr_text()
    );
    assert_eq!(l.rules(), before);
    for args in [
        vec!["-F", "INPUT"],
        vec!["-I", "INPUT", "-j", "DROP"],
        vec!["-I", "INPUT", "-p", "tcp", "--dport", "22", "-j", "DROP"],
    ] {
        let o = l.rfw(&args);
        assert_eq!(o.code(), Some(2), "{args:?}");
        assert_eq!(l.rules(), before, "{args:?}");
    }
    // With --force it happens (inside this namespace only).
    ok(&l.rfw(&["--force", "-P", "INPUT", "DROP"]), "--force -P");
    assert!(l.rules().contains(&"-P INPUT DROP".to_string()));
}

#[test]
fn shell_metacharacters_are_data() {
    let Some(l) = lab("shell_metacharacters_are_data", &[]) else {
        return;
    };
    let marker = l.state.join("pwned");
    let m = marker.display().to_string();
    let comment =
        format!("x; touch {m} && $(touch {m}) `touch {m}` | > < & 'q' \"dq\" \\ * ? ~ # !");
    let o = l.rfw(&[
        "-A",
        "INPUT",
        "-p",
        "tcp",
        "--dport",
        "5555",
        "-m",
        "comment",
        "--comment",
        &comment,
        "-j",
        "ACCEPT",
    ]);
    ok(&o, "rfw -A with metacharacters");
    assert!(!marker.exists(), "a shell ran the comment");
    let a = l.appended();
    assert_eq!(a.len(), 1);
    // -S escapes backslashes and both kinds of quotes inside its "…".
    let escaped = comment
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\'', "\\'");
    assert!(
        a[0].contains(&format!("--comment \"{escaped}\"")),
        "{}",
        a[0]
    );
    // The same text finds the rule again.
    ok(
        &l.rfw(&[
            "-D",
            "INPUT",
            "-p",
            "tcp",
            "--dport",
            "5555",
            "-m",
            "comment",
            "--comment",
            &comment,
            "-j",
            "ACCEPT",
        ]),
        "rfw -D with metacharacters",
    );
    assert!(l.appended().is_empty());
    assert!(!marker.exists());
}

#[test]
fn ttl_removes_the_rule() {
    let Some(l) = lab("ttl_removes_the_rule", &[]) else {
        return;
    };
    let o = l.rfw(&argv("--ttl 1 -I INPUT -p tcp --dport 5557 -j DROP"));
    ok(&o, "rfw --ttl 1");
    let a = l.appended();
    assert_eq!(a.len(), 1);
    assert!(a[0].contains(":exp="), "{}", a[0]);
    // Nothing else runs rfw: the detached helper must remove it. It wakes
    // at the expiry (1 s) and then runs iptables for the sweep; the bound
    // leaves room for a loaded CI machine (it once took over 6 s beside
    // twenty concurrent runs on 2 CPUs), since this checks that the rule
    // goes, not how fast.
    let t0 = Instant::now();
    process::wait_until(
        "the --ttl helper to remove the rule",
        Duration::from_secs(20),
        || l.appended().is_empty(),
    )
    .unwrap();
    assert!(t0.elapsed() < Duration::from_secs(20));
}

#[test]
fn twenty_concurrent_runs_all_land() {
    let Some(l) = lab("twenty_concurrent_runs_all_land", &[]) else {
        return;
    };
    let outs: Vec<Output> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..20)
            .map(|i| {
                let l = &l;
                s.spawn(move || {
                    let port = (6000 + i).to_string();
                    l.rfw(&["-A", "INPUT", "-p", "tcp", "--dport", &port, "-j", "DROP"])
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().expect("thread")).collect()
    });
    for o in &outs {
        ok(o, "concurrent rfw -A");
    }
    let a = l.appended();
    assert_eq!(a.len(), 20, "{a:#?}");
    for i in 0..20 {
        let want = format!("--dport {} ", 6000 + i);
        assert!(a.iter().any(|x| x.contains(&want)), "{want} missing");
    }
    let mut tags: Vec<&str> = a
        .iter()
        .filter_map(|x| x.split("--comment \"").nth(1))
        .collect();
    tags.sort();
    tags.dedup();
    assert_eq!(tags.len(), 20, "tags must be distinct");
    let o = l.rfw(&["reset"]);
    ok(&o, "reset");
    assert!(l.appended().is_empty());
}

#[test]
fn exit_statuses_equal_iptables() {
    let Some(l) = lab("exit_statuses_equal_iptables", &[]) else {
        return;
    };
    // (setup run with plain iptables, the case, iptables' status)
    let cases: &[(&[&str], &[&str], i32)] = &[
        (&[], &argv("-C OUTPUT -p tcp --dport 1 -j DROP"), 1),
        (
            &argv("-A OUTPUT -p tcp --dport 9 -j ACCEPT"),
            &["-D", "OUTPUT", "5"],
            1,
        ),
        (&["-F", "OUTPUT"], &["-D", "OUTPUT", "5"], 1),
        (&[], &argv("-I NOSUCHCHAIN -p tcp --dport 1 -j ACCEPT"), 1),
        (&[], &["-F", "NOSUCHCHAIN"], 1),
        (&[], &["-L", "NOSUCHCHAIN"], 1),
        (
            &[],
            &argv("-I OUTPUT -p tcp --dport 1 --tcp-flags BOGUS SYN -j DROP"),
            2,
        ),
        (&[], &argv("-I OUTPUT -p tcp --dport 70000 -j DROP"), 2),
        (&[], &argv("-I OUTPUT --dport 5555 -j DROP"), 2),
        (&[], &argv("-I OUTPUT -p tcp --bogus -j DROP"), 2),
        (&[], &argv("-I OUTPUT -p tcp --dport 1 -j NOSUCHTARGET"), 2),
        (
            &[],
            &argv("-I OUTPUT -p tcp --dport 1 -m nosuchmatch -j ACCEPT"),
            2,
        ),
        (
            &[],
            &argv("-I INPUT -p udp --dport 1 -j REJECT --reject-with tcp-reset"),
            4,
        ),
        (&["-N", "RFWX"], &["-X", "RFWX"], 0),
    ];
    for (setup, case, want) in cases {
        if !setup.is_empty() {
            ok(&l.ipt(setup), &setup.join(" "));
        }
        let before = l.rules();
        let i = l.ipt(case);
        // Undo whatever plain iptables changed, so rfw meets the same ruleset.
        if i.code() == Some(0) {
            let _ = l.ipt(&["-N", "RFWX"]);
        }
        let r = l.rfw(case);
        assert_eq!(
            i.code(),
            Some(*want),
            "iptables {case:?}: {}",
            i.stderr_text()
        );
        assert_eq!(
            r.code(),
            i.code(),
            "rfw {case:?}: {}\niptables: {}",
            r.stderr_text(),
            i.stderr_text()
        );
        if *want != 0 {
            assert_eq!(l.rules(), before, "{case:?} changed the ruleset");
            let err = r.stderr_text();
            assert!(
                err.lines()
                    .any(|x| x.starts_with("rfw: ") || x.starts_with("iptables")),
                "{case:?}: {err}"
            );
        }
    }
    // -X of a chain still referenced by a jump: 4 for both.
    ok(&l.ipt(&["-N", "RFWY"]), "-N RFWY");
    ok(
        &l.ipt(&["-A", "FORWARD", "-j", "RFWY"]),
        "-A FORWARD -j RFWY",
    );
    assert_eq!(l.ipt(&["-X", "RFWY"]).code(), Some(4));
    assert_eq!(l.rfw(&["-X", "RFWY"]).code(), Some(4));

    // Not root: 4 for both (run as nobody inside the namespace).
    if let Some(setpriv) = rnet_testkit::find_program("setpriv") {
        let as_nobody = |prog: &std::path::Path, args: &[&str]| -> Output {
            let mut full: Vec<String> = [
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--inh-caps=-all",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            full.push(prog.display().to_string());
            full.extend(args.iter().map(|s| s.to_string()));
            let mut c = l.ns.command(&setpriv, &full);
            c.env("RFW_STATE_DIR", l.state.path());
            process::run(&mut c, RUN).expect("setpriv")
        };
        let i = as_nobody(&l.iptables, &["-L", "OUTPUT", "-n"]);
        let r = as_nobody(&l.rfw, &["-L", "OUTPUT", "-n"]);
        assert_eq!(i.code(), Some(4), "{}", i.stderr_text());
        assert_eq!(r.code(), i.code(), "{}", r.stderr_text());
        assert!(
            r.stderr_text().contains("needs root"),
            "{}",
            r.stderr_text()
        );
    } else {
        rnet_testkit::skip(
            "exit_statuses_equal_iptables (not-root case)",
            "setpriv not found",
        );
    }
    let _ = &l.env;
}

#[test]
fn listing_is_iptables_own_and_dashes_are_repaired() {
    let Some(l) = lab("listing_is_iptables_own_and_dashes_are_repaired", &[]) else {
        return;
    };
    ok(&l.rfw(&SYN_DROP.with(&["-I", "OUTPUT"])), "rfw -I");
    for args in [
        vec!["-L", "OUTPUT", "-vn"],
        vec!["-L", "OUTPUT", "-v"],
        vec!["-S"],
        vec!["-L", "-n", "--line-numbers"],
    ] {
        let i = l.ipt(&args);
        let r = l.rfw(&args);
        assert_eq!(r.stdout_text(), i.stdout_text(), "{args:?}");
        assert_eq!(r.code(), i.code(), "{args:?}");
        let q = l.rfw(&[&["--quiet"], args.as_slice()].concat());
        assert_eq!(q.stderr_text(), "", "{args:?} --quiet");
        let q = l.rfw_env(&args, &[("RNET_EXPLAIN", "0")]);
        assert_eq!(q.stderr_text(), "", "{args:?} RNET_EXPLAIN=0");
    }
    let i = l.ipt(&["-L", "OUTPUT", "-vn"]);
    let r = l.rfw(&["\u{2013}L", "OUTPUT", "\u{2013}vn"]);
    ok(&r, "rfw –L OUTPUT –vn");
    assert_eq!(r.stdout_text(), i.stdout_text());
    assert!(
        r.stderr_text()
            .contains("rfw: note: read '\u{2013}L' as '-L', '\u{2013}vn' as '-vn' (Unicode dashes were pasted"),
        "{}",
        r.stderr_text()
    );
    // iptables itself fails on the pasted dash (exit 2): rfw repairs it.
    assert_eq!(l.ipt(&["\u{2013}L", "OUTPUT"]).code(), Some(2));
}

impl Lab {
    /// Every `-A` line of every table, prefixed with its table.
    fn all_tables(&self) -> Vec<String> {
        let mut v = Vec::new();
        for t in ["filter", "raw", "mangle", "nat", "security"] {
            let o = self.ipt(&["-t", t, "-S"]);
            assert_eq!(o.code(), Some(0), "iptables -t {t} -S: {}", o.stderr_text());
            v.extend(
                o.stdout_text()
                    .lines()
                    .filter(|l| l.starts_with("-A "))
                    .map(|l| format!("{t}: {l}")),
            );
        }
        v
    }
}

/// Issue 8: each of these was installed by rfw although it is a lock-out
/// the guard refuses (iptables reads 026 as 22, `-traw` and `--table=raw`
/// as the raw table, `--ju`/`--j` as `--jump`, `--dp` as `--dport`). Now
/// refused, nothing installed in any table; iptables itself installs each
/// of them (checked first), so they are spellings iptables accepts.
#[test]
fn lockout_spellings_are_refused_as_iptables_reads_them() {
    let Some(l) = lab("lockout_spellings_are_refused_as_iptables_reads_them", &[]) else {
        return;
    };
    let cases: &[(&[&str], &str)] = &[
        (
            &argv("-I INPUT -p tcp --dport 026 -j DROP"),
            "filter: -A INPUT -p tcp -m tcp --dport 22 -j DROP",
        ),
        (
            &["-traw", "-I", "PREROUTING", "-j", "DROP"],
            "raw: -A PREROUTING -j DROP",
        ),
        (
            &argv("--table=raw -I PREROUTING -p tcp --dport 5555 -j DROP"),
            "raw: -A PREROUTING -p tcp -m tcp --dport 5555 -j DROP",
        ),
        (
            &argv("-A INPUT -p tcp --ju DROP"),
            "filter: -A INPUT -p tcp -j DROP",
        ),
        (
            &["-A", "OUTPUT", "--j", "REJECT"],
            "filter: -A OUTPUT -j REJECT --reject-with icmp-port-unreachable",
        ),
        (
            &argv("-A INPUT -p tcp --dp 22 -j DROP"),
            "filter: -A INPUT -p tcp -m tcp --dport 22 -j DROP",
        ),
        (
            &argv("-A INPUT -p tcp --dport=22 -j DROP"),
            "filter: -A INPUT -p tcp -m tcp --dport 22 -j DROP",
        ),
        (
            &argv("-A INPUT -p tcp -m multiport --dports 80,026,1000:2000 -j DROP"),
            "filter: -A INPUT -p tcp -m multiport --dports 80,22,1000:2000 -j DROP",
        ),
    ];
    for (args, installed) in cases {
        // What iptables itself makes of the words.
        ok(&l.ipt(args), &format!("iptables {args:?}"));
        assert_eq!(l.all_tables(), vec![installed.to_string()], "{args:?}");
        for t in ["filter", "raw"] {
            ok(&l.ipt(&["-t", t, "-F"]), "flush");
        }
        let o = l.rfw(args);
        assert_eq!(o.code(), Some(2), "{args:?}: {}", o.stderr_text());
        assert!(
            o.stderr_text().starts_with("rfw: refused: ") && o.stderr_text().lines().count() == 1,
            "{args:?}: {}",
            o.stderr_text()
        );
        assert!(l.all_tables().is_empty(), "{args:?}: {:?}", l.all_tables());
    }
    // An allowed rule in a glued spelling is installed as iptables reads it.
    ok(
        &l.rfw(&["-AINPUT", "-ptcp", "--dp=5555", "--ju", "DROP"]),
        "rfw glued",
    );
    let a = l.appended();
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(
        untagged(&a[0]),
        "-A INPUT -p tcp -m tcp --dport 5555 -j DROP"
    );
}

/// The second line of defence: an `iptables` that installs something else
/// than it was asked for (here: port 22 for 5555) is caught by the read
/// back, the rule removed at once, exit 2 with one line.
#[test]
fn readback_removes_what_the_guard_refuses() {
    let Some(l) = lab("readback_removes_what_the_guard_refuses", &[]) else {
        return;
    };
    // In /run (root's, mode 755 all the way up), so that rfw's check of
    // where iptables lives finds nothing to object to.
    struct RunDir(PathBuf);
    impl Drop for RunDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    impl RunDir {
        fn join(&self, n: &str) -> PathBuf {
            self.0.join(n)
        }
        fn path(&self) -> &std::path::Path {
            &self.0
        }
    }
    let bin = RunDir(PathBuf::from(format!(
        "/run/rfw-lab-lying-{}",
        rnet_testkit::unique_suffix()
    )));
    std::fs::create_dir(bin.path()).expect("dir in /run");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(bin.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let script = format!(
        "#!/bin/sh\nfor a in \"$@\"; do\n  case \"$a\" in 5555) set -- \"$@\" 22;; *) set -- \"$@\" \"$a\";; esac\n  shift\ndone\nexec {} \"$@\"\n",
        l.iptables.display()
    );
    let fake = bin.join("iptables");
    std::fs::write(&fake, script).unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:/usr/sbin:/usr/bin:/sbin:/bin", bin.path().display());
    let o = l.rfw_env(
        &argv("-I INPUT -p tcp --dport 5555 -j DROP"),
        &[("PATH", &path)],
    );
    assert_eq!(o.code(), Some(2), "{}", o.stderr_text());
    let err = o.stderr_text();
    assert!(
        err.contains(
            "rfw: refused after install: iptables installed `-A INPUT -p tcp -m tcp --dport 22"
        ) && err.contains("rfw removed it again"),
        "{err}"
    );
    assert!(l.all_tables().is_empty(), "{:?}", l.all_tables());
}

/// `rfw reset` removes rfw's rules from every table (rules added with
/// --force in raw and mangle too), and nothing else.
#[test]
fn reset_covers_every_table() {
    let Some(l) = lab("reset_covers_every_table", &[]) else {
        return;
    };
    ok(
        &l.rfw(&argv(
            "--force -traw -I PREROUTING -p tcp --dport 5555 -j DROP",
        )),
        "rfw raw",
    );
    ok(
        &l.rfw(&argv(
            "--force --table=mangle -A OUTPUT -p tcp --dport 5556 -j DROP",
        )),
        "rfw mangle",
    );
    ok(
        &l.rfw(&argv("-A INPUT -p tcp --dport 5557 -j DROP")),
        "rfw filter",
    );
    ok(
        &l.ipt(&argv("-t raw -A OUTPUT -p tcp --dport 9 -j ACCEPT")),
        "foreign",
    );
    assert_eq!(l.all_tables().len(), 4, "{:?}", l.all_tables());
    let o = l.rfw(&["list"]);
    ok(&o, "rfw list");
    assert_eq!(o.stdout_text().lines().count(), 3, "{}", o.stdout_text());
    assert!(
        o.stdout_text().contains("-t raw -A PREROUTING"),
        "{}",
        o.stdout_text()
    );
    let o = l.rfw(&["reset"]);
    ok(&o, "rfw reset");
    assert!(
        o.stderr_text()
            .contains("removed 3 rules added by rfw; 1 other rule left untouched"),
        "{}",
        o.stderr_text()
    );
    assert_eq!(
        l.all_tables(),
        vec!["raw: -A OUTPUT -p tcp -m tcp --dport 9 -j ACCEPT".to_string()]
    );
}

/// Only rfw's exact tag grammar makes a rule rfw's; a comment with a
/// newline (printed raw by `iptables -S`) forges no rule.
#[test]
fn foreign_comments_are_never_rfw_s() {
    let Some(l) = lab("foreign_comments_are_never_rfw_s", &[]) else {
        return;
    };
    ok(
        &l.ipt(&[
            "-A",
            "OUTPUT",
            "-p",
            "tcp",
            "--dport",
            "6",
            "-m",
            "comment",
            "--comment",
            "rfw: keep, admin rule",
            "-j",
            "ACCEPT",
        ]),
        "admin rule",
    );
    ok(
        &l.ipt(&[
            "-A",
            "OUTPUT",
            "-p",
            "tcp",
            "--dport",
            "7",
            "-m",
            "comment",
            "--comment",
            "x\n-A OUTPUT -p tcp -m tcp --dport 9 -m comment --comment rfw:100.1 -j DROP",
            "-j",
            "ACCEPT",
        ]),
        "newline comment",
    );
    ok(
        &l.ipt(&[
            "-A",
            "OUTPUT",
            "-m",
            "comment",
            "--comment",
            "q\"x\" y'z \\ end",
            "-j",
            "ACCEPT",
        ]),
        "quotes comment",
    );
    let before = l.rules();
    let o = l.rfw(&["list"]);
    ok(&o, "rfw list");
    assert_eq!(o.stdout_text(), "", "{}", o.stdout_text());
    let o = l.rfw(&["reset"]);
    ok(&o, "rfw reset");
    assert!(
        o.stderr_text()
            .contains("removed 0 rules added by rfw; 3 other rules left untouched"),
        "{}",
        o.stderr_text()
    );
    assert_eq!(l.rules(), before);
    // -L's per-rule lines count three rules, not four.
    let o = l.rfw(&["-L", "OUTPUT", "-n"]);
    ok(&o, "rfw -L");
    assert!(
        o.stderr_text().contains("OUTPUT rule 3"),
        "{}",
        o.stderr_text()
    );
    assert!(
        !o.stderr_text().contains("OUTPUT rule 4"),
        "{}",
        o.stderr_text()
    );
}

/// `-R CHAIN N` / `-D CHAIN N` use iptables' numbers: a rule rfw reads
/// differently (dccp) still counts.
#[test]
fn rule_numbers_count_every_rule() {
    let Some(l) = lab("rule_numbers_count_every_rule", &[]) else {
        return;
    };
    ok(
        &l.ipt(&argv("-A OUTPUT -p dccp --dport 5 -j ACCEPT")),
        "dccp",
    );
    ok(
        &l.ipt(&argv("-A OUTPUT -p tcp --dport 6 -j ACCEPT")),
        "admin",
    );
    ok(
        &l.rfw(&argv("-A OUTPUT -p tcp --dport 5555 -j DROP")),
        "rfw -A",
    );
    let before = l.appended();
    assert_eq!(before.len(), 3);
    let o = l.rfw(&argv("-R OUTPUT 2 -p tcp --dport 7 -j ACCEPT"));
    assert_eq!(o.code(), Some(2), "{}", o.stderr_text());
    assert!(
        o.stderr_text()
            .contains("rule 2 of OUTPUT was not added by rfw"),
        "{}",
        o.stderr_text()
    );
    let o = l.rfw(&["-D", "OUTPUT", "2"]);
    assert_eq!(o.code(), Some(2), "{}", o.stderr_text());
    assert_eq!(l.appended(), before);
    // Rule 3 is rfw's: replaced, then deleted, by number.
    ok(
        &l.rfw(&argv("-R OUTPUT 3 -p tcp --dport 5556 -j DROP")),
        "rfw -R 3",
    );
    let a = l.appended();
    assert_eq!(a[..2], before[..2]);
    assert!(a[2].contains("--dport 5556"), "{a:?}");
    ok(&l.rfw(&["-D", "OUTPUT", "3"]), "rfw -D 3");
    assert_eq!(l.appended(), before[..2].to_vec());
}

/// --ttl survives the loss of its index: a tagged rule whose time has
/// passed (restored from a saved ruleset, /run cleaned) is removed by the
/// next rfw run, and `rfw list` says so.
#[test]
fn ttl_survives_losing_the_index() {
    let Some(l) = lab("ttl_survives_losing_the_index", &[]) else {
        return;
    };
    let past = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 5;
    let tag = format!("rfw:{}.4242:exp={past}", past - 60);
    for t in ["filter", "raw"] {
        let chain = if t == "raw" { "PREROUTING" } else { "INPUT" };
        ok(
            &l.ipt(&[
                "-t",
                t,
                "-A",
                chain,
                "-p",
                "tcp",
                "--dport",
                "5555",
                "-m",
                "comment",
                "--comment",
                &tag,
                "-j",
                "DROP",
            ]),
            "restored rule",
        );
    }
    assert!(std::fs::read_dir(l.state.path()).unwrap().next().is_none());
    let o = l.rfw(&["list"]);
    ok(&o, "rfw list");
    let err = o.stderr_text();
    assert_eq!(
        err.matches("removed expired rule (--ttl ran out").count(),
        2,
        "{err}"
    );
    assert!(err.contains("-t raw -A PREROUTING"), "{err}");
    assert!(!err.contains("expires in 0 s"), "{err}");
    assert_eq!(o.stdout_text(), "");
    assert!(l.all_tables().is_empty(), "{:?}", l.all_tables());
}

/// Adding a rule that is already there: iptables adds a second copy; rfw
/// says so.
#[test]
fn duplicate_rule_gets_a_note() {
    let Some(l) = lab("duplicate_rule_gets_a_note", &[]) else {
        return;
    };
    ok(
        &l.ipt(&argv("-A OUTPUT -p tcp --dport 5555 -j DROP")),
        "first",
    );
    let o = l.rfw(&argv("--quiet -A OUTPUT -p tcp --dport 5555 -j DROP"));
    ok(&o, "rfw -A");
    assert!(
        o.stderr_text()
            .contains("note: rule 1 of OUTPUT was already this rule; iptables allows duplicates"),
        "{}",
        o.stderr_text()
    );
    assert_eq!(l.appended().len(), 2);
}

/// The bad-input corpus against the iptables installed: the same exit
/// status from rfw as from iptables, one line on stderr, nothing installed.
#[test]
fn bad_input_corpus_matches_iptables() {
    let Some(l) = lab("bad_input_corpus_matches_iptables", &[]) else {
        return;
    };
    use std::os::unix::ffi::OsStringExt;
    let text = include_str!("../rfw/tests/bad_input.tsv");
    let mut n = 0;
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let mut f = line.split('\t');
        let want: i32 = f.next().unwrap().parse().unwrap();
        let args: Vec<std::ffi::OsString> = f
            .map(|w| {
                let mut bytes = Vec::new();
                let mut rest = w.as_bytes();
                while let Some((&b, tail)) = rest.split_first() {
                    if b == b'\\' && tail.len() >= 3 && tail[0] == b'x' {
                        bytes.push(
                            u8::from_str_radix(std::str::from_utf8(&tail[1..3]).unwrap(), 16)
                                .unwrap(),
                        );
                        rest = &tail[3..];
                    } else {
                        bytes.push(b);
                        rest = tail;
                    }
                }
                std::ffi::OsString::from_vec(bytes)
            })
            .collect();
        let ipt = process::run(&mut l.ns.command(&l.iptables, &args), RUN).expect("iptables");
        assert_eq!(
            ipt.code(),
            Some(want),
            "iptables {args:?}: {}",
            ipt.stderr_text()
        );
        let mut c = l.ns.command(&l.rfw, &args);
        c.env("RFW_STATE_DIR", l.state.path());
        let o = process::run(&mut c, RUN).expect("rfw");
        assert_eq!(o.code(), ipt.code(), "rfw {args:?}: {}", o.stderr_text());
        assert_eq!(
            o.stderr_text().lines().count(),
            1,
            "rfw {args:?}: {}",
            o.stderr_text()
        );
        assert!(!o.stderr_text().contains("panicked"), "{}", o.stderr_text());
        for t in ["filter", "raw", "mangle", "nat", "security"] {
            ok(&l.ipt(&["-t", t, "-F"]), "flush");
        }
        n += 1;
    }
    assert!(n >= 25, "{n}");
    eprintln!("bad-input corpus: {n} cases, rfw's status equal to iptables' in all");
}

/// One option in one of the spellings iptables accepts: `--opt value`,
/// `--opt=value`, `-ovalue`, or an abbreviation.
fn spelled(r: &mut Rng, names: &[&str], value: &str) -> Vec<String> {
    let o = *r.pick(names);
    match (o.starts_with("--"), r.below(3)) {
        (true, 0) => vec![format!("{o}={value}")],
        (false, 0) => vec![format!("{o}{value}")],
        _ => vec![o.to_string(), value.to_string()],
    }
}

/// A random rule command in the spellings people type.
fn random_rule(r: &mut Rng) -> Vec<String> {
    let mut w: Vec<String> = Vec::new();
    let proto = *r.pick(&["tcp", "udp", "6", "TCP", "tcp", ""]);
    if !proto.is_empty() {
        if r.chance(10) {
            w.push("!".into());
        }
        w.extend(spelled(r, &["-p", "--protocol", "--proto", "--pro"], proto));
    }
    if r.chance(15) && !proto.is_empty() {
        let m = if proto == "udp" { "udp" } else { "tcp" };
        w.extend(["-m".to_string(), m.to_string()]);
    }
    for _ in 0..r.below(4) {
        match r.below(10) {
            0..=3 => {
                if r.chance(15) {
                    w.push("!".into());
                }
                let v = *r.pick(&argv("22 026 0x16 ssh 5555 1:30 :22 22:"));
                w.extend(spelled(
                    r,
                    &["--dport", "--dp", "--dpo", "--destination-port", "--dest"],
                    v,
                ));
            }
            4 | 5 => {
                let v = *r.pick(&["22", "5555", "0:100", "026"]);
                w.extend(spelled(r, &["--sport", "--sp", "--source-port"], v));
            }
            6 | 7 => {
                w.extend(["-m".to_string(), "multiport".to_string()]);
                let v = *r.pick(&["80,22", "80,026", "1000:2000,22", "5555"]);
                w.extend(spelled(
                    r,
                    &["--dports", "--dpo", "--ports", "--sports", "--dport"],
                    v,
                ));
            }
            8 => {
                w.extend(["-m".to_string(), "comment".to_string()]);
                let v = *r.pick(&["x", "rfw: keep", "a b"]);
                w.extend(spelled(r, &["--comment", "--comm"], v));
            }
            _ => {
                let v = *r.pick(&["198.18.0.1", "198.18.0.0/16", "198.18", "5555"]);
                w.extend(spelled(r, &["-s", "--source", "--src", "--sou"], v));
            }
        }
    }
    let target = *r.pick(&["ACCEPT", "DROP", "REJECT", "LOG"]);
    w.extend(spelled(r, &["-j", "--jump", "--ju", "--j"], target));
    if target == "REJECT" && r.chance(50) {
        w.extend(spelled(r, &["--reject-with", "--reject"], "tcp-reset"));
    }
    if target == "LOG" && r.chance(50) {
        w.extend(spelled(r, &["--log-prefix", "--log-p"], "pfx"));
    }
    let mut cmd: Vec<String> = match r.below(6) {
        0 => vec!["-A".into(), "INPUT".into()],
        1 => vec!["-AINPUT".into()],
        2 => vec!["--append".into(), "INPUT".into()],
        3 => vec!["--ap=INPUT".into()],
        4 => vec!["-I".into(), "INPUT".into()],
        _ => vec!["-I".into(), "INPUT".into(), "1".into()],
    };
    let table: &[&str] = match r.below(4) {
        0 => &["-t", "filter"],
        1 => &["--table=filter"],
        _ => &[],
    };
    cmd.splice(0..0, table.iter().map(|t| t.to_string()));
    // The command goes between two options (never between an option and
    // its value, nor after a `!`).
    let bounds: Vec<usize> = (0..=w.len())
        .filter(|&k| {
            k == w.len() || w[k].starts_with('-') && (k == 0 || w[k - 1] != "!") || w[k] == "!"
        })
        .collect();
    let at = bounds[r.below(bounds.len())];
    w.splice(at..at, cmd);
    w
}

/// Splits one line of rfw's `--dry-run` output (POSIX shell quoting).
fn shell_words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quoted = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                quoted = !quoted;
                in_word = true;
            }
            '\\' if !quoted => {
                cur.extend(chars.next());
                in_word = true;
            }
            c if c.is_whitespace() && !quoted => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

/// Whether `s` is an rfw tag (`rfw:<digits>.<digits>[:exp=<digits>]`).
fn is_tag(s: &str) -> bool {
    let Some(body) = s.strip_prefix("rfw:") else {
        return false;
    };
    let id = body.split(":exp=").next().unwrap_or("");
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    id.split_once('.')
        .is_some_and(|(a, b)| digits(a) && digits(b))
}

/// Differential test against the iptables installed: random rules in the
/// spellings people type (glued, `=`, abbreviated, base-0 ports, ranges,
/// multiport lists). Whenever iptables installs the typed words, rfw must
/// accept them, and the command rfw would run (its `--dry-run` plan, tag
/// left out) must install exactly the same rule: so the rule rfw judged is
/// the rule iptables installs.
#[test]
fn rfw_reads_rules_as_iptables_installs_them() {
    let Some(l) = lab("rfw_reads_rules_as_iptables_installs_them", &[]) else {
        return;
    };
    let mut r = Rng::xorshift64star(0x8a5e_2026_0008);
    let (mut same, mut both_refused, mut only_rfw_ok) = (0, 0, 0);
    for _ in 0..300 {
        let args = random_rule(&mut r);
        let typed = l.ipt(&strs(&args));
        let installed = (typed.code() == Some(0)).then(|| l.all_tables());
        ok(&l.ipt(&["-F"]), "flush");
        let mut dry = vec!["--dry-run".to_string(), "--force".into(), "--quiet".into()];
        dry.extend(args.iter().cloned());
        let o = l.rfw(&strs(&dry));
        if o.code() != Some(0) {
            assert!(
                installed.is_none(),
                "iptables installs {args:?} but rfw refuses it: {}",
                o.stderr_text()
            );
            both_refused += 1;
            continue;
        }
        let line = o.stdout_text().lines().next().unwrap_or("").to_string();
        let words = shell_words(&line);
        assert_eq!(
            words.first().map(String::as_str),
            Some("iptables"),
            "{line}"
        );
        let mut plan: Vec<String> = Vec::new();
        let mut k = 1;
        while k < words.len() {
            if words[k..].starts_with(&["-m".to_string(), "comment".into(), "--comment".into()])
                && words.get(k + 3).is_some_and(|t| is_tag(t))
            {
                k += 4;
                continue;
            }
            plan.push(words[k].clone());
            k += 1;
        }
        let ran = l.ipt(&strs(&plan));
        let got = (ran.code() == Some(0)).then(|| l.all_tables());
        ok(&l.ipt(&["-F"]), "flush");
        match (installed, got) {
            (Some(a), Some(b)) => {
                assert_eq!(a, b, "typed {args:?} vs rfw's {plan:?}");
                same += 1;
            }
            (Some(a), None) => panic!(
                "iptables installs {args:?} ({a:?}) but not rfw's {plan:?}: {}",
                ran.stderr_text()
            ),
            // iptables 1.8.9 misreads glued and `=` values of -p -s -d -i
            // -o -j (fixed in 1.8.10); rfw runs them spelled out.
            (None, _) => only_rfw_ok += 1,
        }
    }
    eprintln!(
        "differential: {same} installed identically, {both_refused} refused by both, \
         {only_rfw_ok} refused by this iptables only"
    );
    assert!(same >= 30, "too few rules installed: {same}");
}

// ---------------------------------------------------------------------
// Issue 10: the figures rfw prints about a SYN|ACK drop use the right
// host's settings, and the kernel does what they say.

/// The kernel's rules, written out here independently of rnet-core: an
/// active open's SYN send times and the time it gives up for
/// `tcp_syn_retries` = `retries`, `tcp_syn_linear_timeouts` = `linear`
/// (gaps of 1 s for the first `linear + 1`, then doubling; at most
/// `retries + linear` resends; the attempt ends at the first timeout that
/// finds the budget (2^(retries+1) - 1) s used up, or after the last resend).
fn i10_syn_times(retries: u64, linear: u64) -> (Vec<u64>, u64) {
    let budget = (1u64 << (retries + 1)) - 1;
    let mut times = vec![0u64];
    loop {
        let n = times.len() as u64; // the next resend is number n
        let gap = if n <= linear + 1 {
            1
        } else {
            1u64 << (n - linear - 1)
        };
        let fire = times[times.len() - 1] + gap;
        if n > retries + linear || fire >= budget {
            return (times, fire);
        }
        times.push(fire);
    }
}

/// The server's request sockets while its SYN|ACKs are lost (`own_output`:
/// dropped in its own OUTPUT chain, where a failed timed resend discards
/// the request): (SYN|ACKs sent or tried, end of the last request). A SYN
/// creates a request and is answered; the request's timer fires after 1,
/// 2, 4 … s resending the SYN|ACK and discards it on the firing that finds
/// `synack_retries` resends done; a SYN finding the request is answered
/// and restarts the timer with the current timeout. Timer first on ties.
fn i10_synrecv(syns: &[u64], synack_retries: u64, own_output: bool) -> (u64, u64) {
    let mut synacks = 0;
    let mut end = 0;
    // (fired, expires) of the live request.
    let mut req: Option<(u64, u64)> = None;
    let mut i = 0;
    loop {
        let syn = syns.get(i).copied();
        if let Some((fired, expires)) = req {
            if syn.is_none_or(|s| expires <= s) {
                if fired >= synack_retries {
                    end = expires;
                    req = None;
                } else {
                    synacks += 1;
                    if own_output {
                        end = expires;
                        req = None;
                    } else {
                        req = Some((fired + 1, expires + (1 << (fired + 1))));
                    }
                }
                continue;
            }
        }
        let Some(s) = syn else {
            return (synacks, end);
        };
        i += 1;
        synacks += 1;
        req = match req {
            None => Some((0, s + 1)),
            Some((fired, _)) if !own_output => Some((fired, s + (1 << fired))),
            keep => keep,
        };
    }
}

/// A duration as the tools word it (one decimal below 10 s).
fn i10_secs(s: u64) -> String {
    if s < 10 {
        format!("{s}.0 s")
    } else if s < 100 {
        format!("{s} s")
    } else {
        format!("{s} s (about {} minutes)", (s as f64 / 60.0).round())
    }
}

/// Polls `/proc/net/tcp` of `ns` every 20 ms until `done` is set and no
/// SYN_RECV row for `port` was seen for 2 s (or `limit` passes): the
/// instants at which a SYN_RECV row was present.
fn i10_poll_synrecv(
    ns: &Netns,
    port: u16,
    done: &std::sync::atomic::AtomicBool,
    limit: Duration,
) -> Vec<Instant> {
    use std::sync::atomic::Ordering;
    ns.run_in(|| {
        let start = Instant::now();
        let mut seen = Vec::new();
        let mut quiet_since = Instant::now();
        while start.elapsed() < limit {
            let text = std::fs::read_to_string("/proc/thread-self/net/tcp").unwrap_or_default();
            let now = Instant::now();
            if rnet_testkit::netns::parse_proc_net("tcp", &text)
                .iter()
                .any(|r| r.local_port == port && r.state == 0x03)
            {
                seen.push(now);
                quiet_since = now;
            } else if done.load(Ordering::SeqCst) && quiet_since.elapsed() > Duration::from_secs(2)
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        seen
    })
    .expect("enter the server namespace")
}

/// The packet counter of rule 1 in `chain`, from `iptables -L CHAIN -vnx`.
fn i10_counter(ipt: &std::path::Path, ns: &Netns, chain: &str) -> u64 {
    let o = process::run(&mut ns.command(ipt, &["-L", chain, "-vnx"]), RUN).expect("iptables");
    o.stdout_text()
        .lines()
        .nth(2)
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no counter in {}", o.stdout_text()))
}

/// `rfw` on the client and on the server of a lab pair with different
/// sysctls (client tcp_syn_retries=2, tcp_syn_linear_timeouts=1; server
/// tcp_synack_retries=1), RNET_PEER_SYSCTL set and unset: every figure it
/// prints about a SYN|ACK drop equals the kernel's rule for the host it is
/// about. Then the truth: the SYN|ACK dropped at the client's INPUT keeps
/// the server's SYN_RECV row as long as the client's SYNs come (polled
/// every 20 ms in the server namespace), with the SYN|ACK count of the
/// client's rule counter; dropped at the server's own OUTPUT, the row
/// flickers and the server's rule counts the attempts. Durations within
/// [nominal - 1 s, nominal * 1.15 + 2 s], counts within 2.
#[test]
fn synack_drop_figures_name_the_right_host_and_match_the_kernel() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let test = "synack_drop_figures_name_the_right_host_and_match_the_kernel";
    let Some(env) = lab_or_skip(test, &["iptables"]) else {
        return;
    };
    let pair = LabPair::new(&env.ip, "rfwi10").expect("lab pair");
    let rfw = tool_under_test("rfw", "RFW_BIN");
    let state = TempDir::new("rfw-state").expect("temp dir");
    let ipt = env.program("iptables").to_path_buf();
    let run = |ns: &Netns, args: &[&str], peer: Option<&str>| -> Output {
        let mut c = ns.command(&rfw, args);
        c.env("RFW_STATE_DIR", state.path());
        if let Some(p) = peer {
            c.env("RNET_PEER_SYSCTL", p);
        }
        process::run(&mut c, RUN).expect("run rfw")
    };
    let read = |ns: &Netns, knob: &str| -> u64 {
        let path = format!("/proc/sys/net/ipv4/{knob}");
        ns.run_in(move || std::fs::read_to_string(path))
            .expect("enter namespace")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or_else(|| panic!("cannot read {knob}"))
    };
    pair.client
        .sysctl("net.ipv4.tcp_syn_retries", "2")
        .expect("sysctl");
    // Kernels before 6.5 have no linear timeouts.
    let linear = u64::from(
        pair.client
            .sysctl("net.ipv4.tcp_syn_linear_timeouts", "1")
            .is_ok(),
    );
    pair.server
        .sysctl("net.ipv4.tcp_synack_retries", "1")
        .expect("sysctl");
    let (client_syns, client_give_up) = i10_syn_times(2, linear);
    let (srv_syns, srv_give_up) = i10_syn_times(
        read(&pair.server, "tcp_syn_retries"),
        if linear == 1 {
            read(&pair.server, "tcp_syn_linear_timeouts")
        } else {
            0
        },
    );
    let client_own_synack = read(&pair.client, "tcp_synack_retries");
    assert_ne!(client_own_synack, 1, "the hosts must differ");
    let synack_in: Vec<String> = with(&["explain", "INPUT"], &SYNACK_DROP.spec());
    let synack_out: Vec<String> = with(&["explain", "OUTPUT"], &SYNACK_DROP.spec());
    let has = |o: &Output, what: &str| {
        assert_eq!(o.code(), Some(0), "{}", o.stderr_text());
        let text = format!("{}{}", o.stdout_text(), o.stderr_text());
        assert!(text.contains(what), "expected `{what}' in:\n{text}");
    };

    // On the client, nothing said of the server: the client's own
    // tcp_synack_retries, said to be assumed; the SYN figures its own.
    let o = run(&pair.client, &strs(&synack_in), None);
    let (n, end) = i10_synrecv(&client_syns, client_own_synack, false);
    has(
        &o,
        &format!("stays in SYN_RECV for about {}", i10_secs(end)),
    );
    has(&o, &format!("; {n} SYN|ACKs in all"));
    has(
        &o,
        &format!("tcp_synack_retries={client_own_synack} if the server has it as this host does"),
    );
    has(&o, &format!("{} SYNs in all", client_syns.len()));
    has(
        &o,
        &format!("about {} after the first SYN", i10_secs(client_give_up)),
    );
    // Told the server's value: its figure, said to be its.
    let o = run(
        &pair.client,
        &strs(&synack_in),
        Some("tcp_synack_retries=1"),
    );
    let (n_in, end_in) = i10_synrecv(&client_syns, 1, false);
    has(
        &o,
        &format!("stays in SYN_RECV for about {}", i10_secs(end_in)),
    );
    has(&o, &format!("; {n_in} SYN|ACKs in all"));
    has(
        &o,
        "the server's tcp_synack_retries=1 from RNET_PEER_SYSCTL",
    );
    // A malformed value: one warning line, the assumption as before.
    let o = run(&pair.client, &strs(&synack_in), Some("tcp_synack_retries"));
    has(&o, "if the server has it as this host does");
    let warnings: Vec<String> = o
        .stderr_text()
        .lines()
        .filter(|l| l.contains("RNET_PEER_SYSCTL"))
        .map(String::from)
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].starts_with("rfw: ignoring RNET_PEER_SYSCTL"),
        "{warnings:?}"
    );

    // On the server, its own OUTPUT drop: the client's SYNs are the
    // peer's, assumed from the server's settings or given.
    let o = run(&pair.server, &strs(&synack_out), None);
    let (n, end) = i10_synrecv(&srv_syns, 1, true);
    has(&o, &format!("until about {} after", i10_secs(end)));
    has(&o, &format!("{n} SYN|ACK attempts"));
    has(&o, &format!("{} SYNs in all", srv_syns.len()));
    has(
        &o,
        &format!("about {} after the first SYN", i10_secs(srv_give_up)),
    );
    has(&o, "if the client has them as this host does");
    has(&o, "Exercise 2 step (i)");
    let peer = if linear == 1 {
        "tcp_syn_retries=2,tcp_syn_linear_timeouts=1"
    } else {
        "tcp_syn_retries=2"
    };
    let o = run(&pair.server, &strs(&synack_out), Some(peer));
    let (n_out, end_out) = i10_synrecv(&client_syns, 1, true);
    has(&o, &format!("until about {} after", i10_secs(end_out)));
    has(&o, &format!("{n_out} SYN|ACK attempts"));
    has(&o, &format!("{} SYNs in all", client_syns.len()));
    has(
        &o,
        &format!("about {} after the first SYN", i10_secs(client_give_up)),
    );
    has(&o, "the client's tcp_syn_retries=2");
    // The client's SYNs dropped at the server's INPUT: the client's figures.
    let o = run(
        &pair.server,
        &argv("explain INPUT -p tcp --dport 5555 --syn -j DROP"),
        Some(peer),
    );
    has(&o, &format!("{} SYNs in all", client_syns.len()));
    has(
        &o,
        &format!("about {} after the first SYN", i10_secs(client_give_up)),
    );

    // The truth, SYN|ACK dropped at the client's INPUT.
    let listener = pair
        .server
        .run_in(|| TcpListener::bind(("0.0.0.0", 5555)))
        .expect("enter server ns")
        .expect("listen");
    let target: SocketAddr = format!("{SERVER_V4}:5555").parse().unwrap();
    let tol = |nominal: u64, got: f64, what: &str| {
        let (lo, hi) = (nominal as f64 - 1.0, nominal as f64 * 1.15 + 2.0);
        assert!(
            got >= lo && got <= hi,
            "{what}: measured {got:.2} s, predicted {nominal} s (allowed {lo:.2}..{hi:.2})"
        );
    };
    let measure = |label: &str| -> (Vec<Instant>, f64) {
        let done = AtomicBool::new(false);
        std::thread::scope(|s| {
            let poll =
                s.spawn(|| i10_poll_synrecv(&pair.server, 5555, &done, Duration::from_secs(25)));
            let t0 = Instant::now();
            let res = pair
                .client
                .run_in(move || TcpStream::connect_timeout(&target, Duration::from_secs(20)))
                .expect("enter client ns");
            let failed_after = t0.elapsed().as_secs_f64();
            assert!(res.is_err(), "{label}: connect must not succeed");
            done.store(true, Ordering::SeqCst);
            (poll.join().expect("poller"), failed_after)
        })
    };
    let o = run(
        &pair.client,
        &SYNACK_DROP.with(&["-I", "INPUT"]),
        Some("tcp_synack_retries=1"),
    );
    has(
        &o,
        &format!("stays in SYN_RECV for about {}", i10_secs(end_in)),
    );
    let (seen, failed_after) = measure("INPUT drop");
    assert!(!seen.is_empty(), "no SYN_RECV row was seen on the server");
    let life = seen[seen.len() - 1].duration_since(seen[0]).as_secs_f64();
    let counted = i10_counter(&ipt, &pair.client, "INPUT");
    eprintln!(
        "{test}: INPUT drop: SYN_RECV lived {life:.2} s (predicted {end_in} s), the client's rule counted {counted} SYN|ACKs (predicted {n_in}), connect failed after {failed_after:.2} s (predicted {client_give_up} s)"
    );
    tol(
        end_in,
        life,
        "SYN_RECV life with the SYN|ACK dropped at the client's INPUT",
    );
    tol(client_give_up, failed_after, "the client's connect");
    assert!(
        counted.abs_diff(n_in) <= 2,
        "the client's INPUT rule counted {counted} SYN|ACKs; rfw predicted {n_in}"
    );
    // rfw -L -v quotes the same predicted count beside the counter.
    let l = run(
        &pair.client,
        &["-L", "INPUT", "-vn"],
        Some("tcp_synack_retries=1"),
    );
    has(
        &l,
        &format!("{counted} SYN|ACKs dropped so far, {n_in} per connection attempt;"),
    );
    let o = run(&pair.client, &SYNACK_DROP.with(&["-D", "INPUT"]), None);
    assert_eq!(o.code(), Some(0), "{}", o.stderr_text());

    // The truth, SYN|ACK dropped by the server's own OUTPUT chain.
    let o = run(
        &pair.server,
        &SYNACK_DROP.with(&["-I", "OUTPUT"]),
        Some(peer),
    );
    has(&o, &format!("{n_out} SYN|ACK attempts"));
    let (seen, failed_after) = measure("OUTPUT drop");
    assert!(!seen.is_empty(), "no SYN_RECV row was seen on the server");
    let life = seen[seen.len() - 1].duration_since(seen[0]).as_secs_f64();
    let longest_gap = seen
        .windows(2)
        .map(|w| w[1].duration_since(w[0]).as_secs_f64())
        .fold(0.0, f64::max);
    let counted = i10_counter(&ipt, &pair.server, "OUTPUT");
    eprintln!(
        "{test}: OUTPUT drop: SYN_RECV rows from first to last {life:.2} s (predicted {end_out} s), longest absence {longest_gap:.2} s, the server's rule counted {counted} SYN|ACK attempts (predicted {n_out}), connect failed after {failed_after:.2} s"
    );
    tol(
        end_out,
        life,
        "SYN_RECV rows with the server's own OUTPUT drop",
    );
    tol(client_give_up, failed_after, "the client's connect");
    assert!(
        counted.abs_diff(n_out) <= 2,
        "the server's OUTPUT rule counted {counted} SYN|ACK attempts; rfw predicted {n_out}"
    );
    if linear == 1 {
        // SYNs at 0, 1, 2, 4 s: no request between about 3 and 4 s.
        assert!(
            longest_gap >= 0.5,
            "the SYN_RECV row should vanish between SYNs (longest absence {longest_gap:.2} s)"
        );
    }
    drop(listener);
}

/// The client's socket to `port` as `/proc/net/tcp` of `ns` shows it:
/// (state, timer kind, retransmissions, probes), or None once it is gone.
fn i10_client_row(ns: &Netns, port: u16) -> Option<(u8, u8, u64, u64)> {
    let text = ns.read_proc_net("tcp").expect("read /proc/net/tcp");
    text.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        let rport = u16::from_str_radix(f.get(2)?.rsplit(':').next()?, 16).ok()?;
        if rport != port {
            return None;
        }
        Some((
            u8::from_str_radix(f[3], 16).ok()?,
            u8::from_str_radix(f[5].split(':').next()?, 16).ok()?,
            u64::from_str_radix(f[6], 16).ok()?,
            f[8].parse().ok()?,
        ))
    })
}

/// A FIN dropped by this host's own OUTPUT chain never leaves: rfw says
/// the kernel runs its probe timer and gives up after the orphan budget
/// of this host's tcp_orphan_retries; a FIN dropped at the server's INPUT
/// is retransmitted by the client with the client's tcp_orphan_retries
/// (given in RNET_PEER_SYSCTL, the server keeping its default). Measured
/// in /proc/net/tcp of the client: timer kind 4 (`probe') with 0
/// retransmissions and probes counted, or kind 1 (`on') with the
/// retransmissions counted, and the FIN_WAIT1 socket's life within
/// [nominal - 1 s, nominal * 1.15 + 2 s].
#[test]
fn fin_drop_figures_name_the_right_host_and_match_the_kernel() {
    let test = "fin_drop_figures_name_the_right_host_and_match_the_kernel";
    let Some(env) = lab_or_skip(test, &["iptables"]) else {
        return;
    };
    let pair = LabPair::new(&env.ip, "rfwfin").expect("lab pair");
    let rfw = tool_under_test("rfw", "RFW_BIN");
    let state = TempDir::new("rfw-state").expect("temp dir");
    let ipt = env.program("iptables").to_path_buf();
    let run = |ns: &Netns, args: &[&str], peer: Option<&str>| -> Output {
        let mut c = ns.command(&rfw, args);
        c.env("RFW_STATE_DIR", state.path());
        if let Some(p) = peer {
            c.env("RNET_PEER_SYSCTL", p);
        }
        process::run(&mut c, RUN).expect("run rfw")
    };
    // 3 retries from 0.2 s: 0.2 * (2^4 - 1) = 3.0 s on the client; the
    // server keeps 0 (= 8, about 102 s).
    pair.client
        .sysctl("net.ipv4.tcp_orphan_retries", "3")
        .expect("sysctl");
    let nominal = 3.0;
    let fin: &[&str] = &argv("-p tcp --dport 5555 --tcp-flags FIN FIN -j DROP");
    let listener = pair
        .server
        .run_in(|| TcpListener::bind(("0.0.0.0", 5555)))
        .expect("enter server ns")
        .expect("listen");
    let target: SocketAddr = format!("{SERVER_V4}:5555").parse().unwrap();
    // Connects, closes the client's socket (an orphan in FIN_WAIT1) and
    // follows it until it is gone: (life, timer kinds seen, most
    // retransmissions, most probes).
    let close_and_follow = || -> (f64, Vec<u8>, u64, u64) {
        let stream = pair
            .client
            .run_in(move || TcpStream::connect_timeout(&target, Duration::from_secs(5)))
            .expect("enter client ns")
            .expect("connect");
        let (accepted, _) = listener.accept().expect("accept");
        drop(stream);
        let t0 = Instant::now();
        let (mut kinds, mut retr, mut probes) = (Vec::new(), 0, 0);
        let mut last_seen = t0;
        while t0.elapsed() < Duration::from_secs(15) {
            match i10_client_row(&pair.client, 5555) {
                Some((st, kind, r, p)) => {
                    last_seen = Instant::now();
                    assert_eq!(st, 0x04, "the client's socket should stay in FIN_WAIT1");
                    if !kinds.contains(&kind) {
                        kinds.push(kind);
                    }
                    retr = retr.max(r);
                    probes = probes.max(p);
                }
                None => break,
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        drop(accepted);
        (
            last_seen.duration_since(t0).as_secs_f64(),
            kinds,
            retr,
            probes,
        )
    };
    let within = |got: f64, what: &str| {
        let (lo, hi) = (nominal - 1.0, nominal * 1.15 + 2.0);
        assert!(
            got >= lo && got <= hi,
            "{what}: measured {got:.2} s, predicted {nominal} s (allowed {lo:.2}..{hi:.2})"
        );
    };

    // The client's own OUTPUT drops its FIN.
    let o = run(&pair.client, &strs(&with(&["-I", "OUTPUT"], fin)), None);
    assert_eq!(o.code(), Some(0), "{}", o.stderr_text());
    let said = o.stderr_text();
    for want in [
        "probe timer",
        "retransmission count stays 0",
        "gives up after about 3.0 s (tcp_orphan_retries=3, 0 means 8)",
    ] {
        assert!(said.contains(want), "expected `{want}' in:\n{said}");
    }
    let (life, kinds, retr, probes) = close_and_follow();
    let counted = i10_counter(&ipt, &pair.client, "OUTPUT");
    eprintln!(
        "{test}: OUTPUT drop: FIN_WAIT1 lived {life:.2} s (predicted {nominal} s), timer kinds {kinds:?}, {retr} retransmissions, {probes} probes, the rule counted {counted} FINs"
    );
    within(life, "FIN_WAIT1 with the FIN dropped by this host's OUTPUT");
    assert_eq!(kinds, [4], "only the probe timer should run");
    assert_eq!(retr, 0, "no retransmission is counted");
    assert!(probes >= 1, "probes are counted");
    assert!(counted >= 2, "each probe tries the FIN again: {counted}");
    let o = run(&pair.client, &strs(&with(&["-D", "OUTPUT"], fin)), None);
    assert_eq!(o.code(), Some(0), "{}", o.stderr_text());

    // The server's INPUT drops the client's FIN: the client retransmits,
    // with the client's retries (the server's own would say 102 s).
    let o = run(
        &pair.server,
        &strs(&with(&["-I", "INPUT"], fin)),
        Some("tcp_orphan_retries=3"),
    );
    assert_eq!(o.code(), Some(0), "{}", o.stderr_text());
    let said = o.stderr_text();
    // The FIN left: a tail-loss probe after 0.2 s, the first
    // retransmission 0.2 s later, then timeouts of 0.4, 0.8, 1.6 s (2.8 s,
    // short of the 3.0 s budget counted from the first retransmission) and
    // 3.2 s: the end at 0.4 + 2.8 = 3.2 s if the timers ran 0.2 s late,
    // else at 0.4 + 6.0 = 6.4 s.
    let (early, late) = (0.4 + 2.8, 0.4 + 6.0);
    for want in [
        "`on'".to_string(),
        format!("gives up about {early:.1} s after it was first sent, or one doubling later, about {late:.1} s"),
        "the client's tcp_orphan_retries=3 from RNET_PEER_SYSCTL".to_string(),
    ] {
        assert!(said.contains(&want), "expected `{want}' in:\n{said}");
    }
    // Unset: the server's own default (8) is assumed, and said to be.
    let mut explain_fin = vec!["explain", "INPUT"];
    explain_fin.extend_from_slice(fin);
    let unset = run(&pair.server, &explain_fin, None);
    assert!(
        unset
            .stdout_text()
            .contains("gives up about 102 s (about 2 minutes) after it was first sent")
            && unset
                .stdout_text()
                .contains("tcp_orphan_retries=0 if the client has it as this host does"),
        "{}",
        unset.stdout_text()
    );
    let (life, kinds, retr, _) = close_and_follow();
    let counted = i10_counter(&ipt, &pair.server, "INPUT");
    eprintln!(
        "{test}: INPUT drop: FIN_WAIT1 lived {life:.2} s (predicted {early:.1} s or {late:.1} s), timer kinds {kinds:?}, {retr} retransmissions, the server's rule counted {counted} FINs"
    );
    let near = |nominal: f64| life >= nominal - 1.0 && life <= nominal * 1.15 + 2.0;
    assert!(
        near(early) || near(late),
        "FIN_WAIT1 with the FIN dropped at the peer's INPUT: measured {life:.2} s, predicted {early:.1} s or {late:.1} s"
    );
    assert_eq!(kinds, [1], "only the retransmission timer should run");
    assert!(retr >= 2, "retransmissions are counted: {retr}");
    assert!(
        counted >= 3,
        "the FIN and its retransmissions arrive: {counted}"
    );
}
