//! Process-level tests of rfw that touch no firewall: usage errors and
//! their statuses, `--help`, `--dry-run`, `explain`, and, with a fake
//! `iptables` on PATH that only records its argument vector, exactly what
//! rfw runs. Real iptables is exercised in namespaces by the root
//! package's `tests/rfw_lab.rs`.

use std::path::Path;
use std::process::Command;

use rnet_testkit::fake_iptables::{calls, rfw_command, FakeIptables};
use rnet_testkit::rng::Rng;
use rnet_testkit::rules::SYN_DROP;
use rnet_testkit::{argv, root_or_skip};

/// A directory whose `bin/` has no iptables.
fn dir(name: &str) -> FakeIptables {
    FakeIptables::empty(&format!("rfw-cli-{name}"))
}

/// A directory with the fake iptables (see rnet_testkit::fake_iptables).
fn fake(name: &str) -> FakeIptables {
    FakeIptables::new(&format!("rfw-cli-{name}"))
}

fn rfw(d: &Path) -> Command {
    rfw_command(Path::new(env!("CARGO_BIN_EXE_rfw")), d)
}

/// A directory with the fake iptables for a test that needs root (rfw
/// checks for root before it runs iptables); without root, `None` after
/// saying the test is skipped (a failure with RNET_REQUIRE_LAB=1).
fn fake_as_root(test: &str, name: &str) -> Option<FakeIptables> {
    root_or_skip(test, "rfw checks for root before it runs iptables").then(|| fake(name))
}

fn run(d: &Path, args: &[&str]) -> (String, String, i32) {
    let o = rfw(d).args(args).output().unwrap();
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        o.status.code().unwrap_or(-1),
    )
}

#[test]
fn help_names_every_option_and_subcommand() {
    let d = dir("help");
    let (out, err, rc) = run(d.path(), &["--help"]);
    assert_eq!((rc, err.as_str()), (0, ""));
    for o in rfw::cli::OWN_OPTIONS.iter().chain(rfw::cli::SUBCOMMANDS) {
        assert!(out.contains(o), "--help misses {o}");
    }
}

#[test]
fn invalid_values_get_iptables_status_and_one_line() {
    let d = fake("invalid");
    let cases: &[(&[&str], i32, &str)] = &[
        (
            &argv("-I OUTPUT -p tcp --dport 70000 -j DROP"),
            2,
            "invalid port `70000'",
        ),
        (
            &argv("-I OUTPUT -p tcp --tcp-flags SYN,BOGUS SYN -j DROP"),
            2,
            "unknown TCP flag `BOGUS'",
        ),
        (&argv("-I OUTPUT --dport 5555 -j DROP"), 2, "needs `-p tcp'"),
        (
            &argv("-I INPUT -p udp --dport 1 -j REJECT --reject-with tcp-reset"),
            4,
            "only works with -p tcp",
        ),
        (
            &argv("-I OUTPUT -i lo -p tcp --dport 1 -j DROP"),
            2,
            "-i cannot be used in OUTPUT",
        ),
        (&["-I"], 2, "-I needs a chain name"),
        (&["-t", "bogus", "-L"], 3, "unknown table `bogus'"),
        (&[], 2, "no command given"),
        (&["-P", "INPUT", "DROP"], 2, "refused: a policy change"),
        (&argv("--ttl 0 -I INPUT -j ACCEPT"), 2, "invalid --ttl"),
    ];
    for (args, status, text) in cases {
        let (out, err, rc) = run(d.path(), args);
        assert_eq!(rc, *status, "{args:?}: {err}");
        assert_eq!(out, "", "{args:?}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.starts_with("rfw: ") && err.contains(text),
            "{args:?}: {err}"
        );
    }
    // Nothing reached iptables.
    assert!(calls(d.path()).is_empty(), "{:?}", calls(d.path()));
}

#[test]
fn dry_run_prints_shell_quoted_commands() {
    let d = dir("dry");
    let (out, _, rc) = run(
        d.path(),
        &[
            "--dry-run",
            "-I",
            "OUTPUT",
            "-p",
            "tcp",
            "--dport",
            "5555",
            "-m",
            "comment",
            "--comment",
            "it's $(x)",
            "-j",
            "DROP",
        ],
    );
    assert_eq!(rc, 0);
    let first = out.lines().next().unwrap();
    assert!(first.starts_with("iptables -I OUTPUT -p tcp --dport 5555 -m comment --comment 'it'\\''s $(x)' -m comment --comment rfw:"), "{first}");
    assert!(first.ends_with(" -j DROP --wait=10"), "{first}");
    assert!(out
        .lines()
        .nth(1)
        .unwrap()
        .starts_with("# rfw reset (or --ttl) would later run: iptables -t filter -D OUTPUT"));
}

#[test]
fn explain_applies_nothing() {
    let d = fake("explain");
    let (out, _, rc) = run(d.path(), &SYN_DROP.with(&["explain", "OUTPUT"]));
    assert_eq!(rc, 0);
    assert!(out.contains("stays in SYN_SENT"), "{out}");
    assert!(out.contains("stays in LISTEN"), "{out}");
    let (out, _, _) = run(d.path(), &["explain", "-I", "INPUT", "-j", "DROP"]);
    assert!(out.contains("rfw would refuse"), "{out}");
    assert!(calls(d.path()).is_empty());
}

#[test]
fn missing_iptables_is_127_with_the_fix() {
    let d = dir("missing");
    let (_, err, rc) = run(d.path(), &["-L", "OUTPUT"]);
    assert_eq!(rc, 127);
    assert!(
        err.starts_with("rfw: iptables not found on PATH; install it"),
        "{err}"
    );
}

#[test]
fn runs_the_argument_vector_with_wait_last() {
    let Some(d) = fake_as_root("runs_the_argument_vector_with_wait_last", "argv") else {
        return;
    };
    let evil = "a b; $(touch x) `y` \"q\" 'z' | & >";
    let (_, _, rc) = run(
        d.path(),
        &[
            "--quiet",
            "-A",
            "INPUT",
            "-p",
            "tcp",
            "--dport",
            "5555",
            "-m",
            "comment",
            "--comment",
            evil,
            "-j",
            "ACCEPT",
        ],
    );
    assert_eq!(rc, 0);
    let c = calls(d.path());
    let add = c.iter().rfind(|a| a[0] == "-A").unwrap();
    assert_eq!(
        &add[..9],
        &argv("-A INPUT -p tcp --dport 5555 -m comment --comment")
    );
    assert_eq!(add[9], evil);
    assert_eq!(&add[10..13], &["-m", "comment", "--comment"]);
    assert!(add[13].starts_with("rfw:"));
    assert_eq!(&add[14..], &["-j", "ACCEPT", "--wait=10"]);
    // -w given by the user: none added; -V gets none either.
    let _ = run(d.path(), &["--quiet", "-L", "-w", "5"]);
    assert_eq!(calls(d.path()).last().unwrap(), &["-L", "--wait=5"]);
    let (out, _, rc) = run(d.path(), &["-V"]);
    assert_eq!(rc, 0);
    assert!(
        out.starts_with("iptables v1.8.9 (nf_tables)\n(rfw "),
        "{out}"
    );
    assert_eq!(calls(d.path()).last().unwrap(), &["-V"]);
    // -6 runs ip6tables (same fake here), and is not passed on.
    let _ = run(d.path(), &["-6", "-S"]);
    assert_eq!(calls(d.path()).last().unwrap(), &["-S", "--wait=10"]);
}

#[test]
fn without_comment_match_falls_back_to_the_state_file() {
    let Some(d) = fake_as_root(
        "without_comment_match_falls_back_to_the_state_file",
        "nocomment",
    ) else {
        return;
    };
    std::fs::write(d.path().join("no_comment"), "").unwrap();
    let (_, err, rc) = run(
        d.path(),
        &argv("--quiet -I OUTPUT -p tcp --dport 5555 --syn -j DROP"),
    );
    assert_eq!(rc, 0, "{err}");
    assert!(err.contains("recorded in the state file"), "{err}");
    let c = calls(d.path());
    assert_eq!(
        c.last().unwrap().join(" "),
        "-I OUTPUT -p tcp --dport 5555 --syn -j DROP --wait=10"
    );
    let (out, _, _) = run(d.path(), &["list"]);
    assert!(
        out.contains(
            "-A OUTPUT -p tcp -m tcp --dport 5555 --tcp-flags FIN,SYN,RST,ACK SYN -j DROP"
        ),
        "{out}"
    );
    let (_, _, rc) = run(d.path(), &["--quiet", "-4", "reset"]);
    assert_eq!(rc, 0);
    assert_eq!(
        calls(d.path()).last().unwrap().join(" "),
        "-t filter -D OUTPUT -p tcp -m tcp --dport 5555 --tcp-flags FIN,SYN,RST,ACK SYN -j DROP --wait=10"
    );
    let (out, _, _) = run(d.path(), &["list"]);
    assert_eq!(out, "");
}

#[test]
fn broken_pipe_is_quiet() {
    let d = dir("pipe");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("rfw"))
        .arg("--help")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stderr), "");
    assert!(o.status.code().is_some(), "killed by a signal");
    drop(d);
}

#[test]
fn man_page_documents_every_flag() {
    let man = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../man/rfw.8"))
        .unwrap();
    for o in rfw::cli::OWN_OPTIONS {
        let mdoc = match o.strip_prefix("--") {
            Some(long) => format!("Fl Fl {long}"),
            None => format!("Fl {}", o.trim_start_matches('-')),
        };
        assert!(
            man.contains(&format!(".It {mdoc}")) || man.contains(&format!(", {mdoc}")),
            "man page misses {o}"
        );
    }
    for s in rfw::cli::SUBCOMMANDS {
        assert!(man.contains(&format!(".It Cm {s}")), "man page misses {s}");
    }
    for section in ["COMPATIBILITY", "ENVIRONMENT", "EXIT STATUS"] {
        assert!(man.contains(&format!(".Sh {section}")), "{section}");
    }
    for var in ["RFW_EXPLAIN", "RNET_EXPLAIN", "RFW_STATE_DIR"] {
        assert!(man.contains(var), "{var}");
    }
}

#[test]
fn legacy_rules_are_reported_with_the_backend_from_dash_v() {
    let Some(d) = fake_as_root(
        "legacy_rules_are_reported_with_the_backend_from_dash_v",
        "legacy",
    ) else {
        return;
    };
    std::fs::write(d.path().join("legacy"), "").unwrap();
    let (_, err, rc) = run(d.path(), &["-S", "OUTPUT"]);
    assert_eq!(rc, 0);
    assert!(err.contains("iptables-legacy tables present"), "{err}");
    assert!(
        err.contains("(nf_tables); the legacy iptables backend also holds rules here"),
        "{err}"
    );
    // The backend came from `iptables -V`, asked once; nothing else probed.
    let c = calls(d.path());
    assert_eq!(
        c.iter().filter(|a| a.iter().any(|x| x == "-V")).count(),
        1,
        "{c:?}"
    );
}

/// The bad-input corpus (rfw/tests/bad_input.tsv): iptables' status and
/// the arguments of each case, `\xNN` decoded to a byte.
pub fn corpus() -> Vec<(i32, Vec<std::ffi::OsString>)> {
    use std::os::unix::ffi::OsStringExt;
    let text = include_str!("bad_input.tsv");
    let mut out = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let mut f = line.split('\t');
        let status: i32 = f.next().unwrap().parse().unwrap();
        let args = f
            .map(|w| {
                let mut bytes = Vec::new();
                let mut rest = w.as_bytes();
                while let Some((&b, tail)) = rest.split_first() {
                    if b == b'\\' && tail.len() >= 3 && tail[0] == b'x' {
                        let hex = std::str::from_utf8(&tail[1..3]).unwrap();
                        bytes.push(u8::from_str_radix(hex, 16).unwrap());
                        rest = &tail[3..];
                    } else {
                        bytes.push(b);
                        rest = tail;
                    }
                }
                std::ffi::OsString::from_vec(bytes)
            })
            .collect();
        out.push((status, args));
    }
    out
}

#[test]
fn bad_input_corpus_gets_one_line_and_iptables_status() {
    let d = fake("corpus");
    let cases = corpus();
    assert!(cases.len() >= 25, "{}", cases.len());
    for (status, args) in &cases {
        for dry in [true, false] {
            let mut c = rfw(d.path());
            if dry {
                c.arg("--dry-run");
            }
            let o = c.args(args).output().unwrap();
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(*status), "{args:?}: {err}");
            assert_eq!(o.stdout, b"", "{args:?}");
            assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
            assert!(err.starts_with("rfw: "), "{args:?}: {err}");
            assert!(!err.contains("panicked"), "{args:?}: {err}");
        }
    }
    // Nothing reached iptables: every mistake was caught before it.
    assert!(calls(d.path()).is_empty(), "{:?}", calls(d.path()));
}

/// Every spelling of a lock-out that iptables accepts (issue 8): refused
/// before anything runs, in dry-run too.
#[test]
fn lockout_spellings_iptables_accepts_are_refused() {
    let d = fake("spellings");
    let cases: &[&[&str]] = &[
        &argv("-I INPUT -p tcp --dport 026 -j DROP"),
        &argv("-I INPUT -p tcp --dport 0x16 -j DROP"),
        &["-traw", "-I", "PREROUTING", "-j", "DROP"],
        &argv("--table=raw -I PREROUTING -p tcp --dport 5555 -j DROP"),
        &["-A", "INPUT", "--ju", "DROP"],
        &argv("-A INPUT -p tcp --ju DROP"),
        &["-A", "OUTPUT", "--j", "REJECT"],
        &argv("-A INPUT -p tcp --dp 22 -j DROP"),
        &argv("-A INPUT -p tcp --dport=22 -j DROP"),
        &argv("-A INPUT -p tcp -m multiport --dports 80,026,1000:2000 -j DROP"),
        &argv("-A INPUT -p tcp -m multiport --dport 22 -j DROP"),
        &["-PINPUT", "DROP"],
        &["-AINPUT", "-jDROP"],
    ];
    for args in cases {
        for dry in [true, false] {
            let mut a: Vec<&str> = Vec::new();
            if dry {
                a.push("--dry-run");
            }
            a.extend_from_slice(args);
            let (out, err, rc) = run(d.path(), &a);
            assert_eq!(rc, 2, "{a:?}: {err}");
            assert_eq!(out, "", "{a:?}");
            assert!(err.starts_with("rfw: refused: "), "{a:?}: {err}");
            assert_eq!(err.lines().count(), 1, "{a:?}: {err}");
        }
    }
    assert!(calls(d.path()).is_empty(), "{:?}", calls(d.path()));
    // The explanation of 026 names port 22, as iptables reads it.
    let (out, _, _) = run(d.path(), &argv("explain INPUT -p tcp --dport 026 -j DROP"));
    assert!(out.contains("port 22"), "{out}");
    assert!(!out.contains("port 26"), "{out}");
    // What rfw runs is the canonical spelling it judged.
    let (out, err, rc) = run(
        d.path(),
        &argv("--dry-run -AINPUT -ptcp --dp=5555 --ju ACCEPT"),
    );
    assert_eq!(rc, 0, "{err}");
    assert!(
        out.starts_with("iptables -A INPUT -p tcp --dport 5555 -m comment --comment rfw:"),
        "{out}"
    );
    assert!(
        out.lines()
            .next()
            .unwrap()
            .ends_with(" --jump ACCEPT --wait=10"),
        "{out}"
    );
}

fn listing(d: &Path, text: &str) {
    std::fs::write(d.join("listing"), text).unwrap();
}

fn deletes(d: &Path) -> Vec<String> {
    calls(d)
        .into_iter()
        .filter(|c| c.iter().any(|w| w == "-D"))
        .map(|c| c.join(" "))
        .collect()
}

const FOREIGN: &str = "-P OUTPUT ACCEPT\n\
-A OUTPUT -p dccp -m dccp --dport 5 -j ACCEPT\n\
-A OUTPUT -p tcp -m tcp --dport 6 -m comment --comment \"rfw: keep, admin rule\" -j ACCEPT\n\
-A OUTPUT -p tcp -m tcp --dport 7 -m comment --comment \"x\n-A OUTPUT -p tcp -m tcp --dport 9 -m comment --comment rfw:100.1 -j DROP\" -j ACCEPT\n\
-A OUTPUT -p tcp -m tcp --dport 5555 -m comment --comment \"rfw:1700000000.42\" -j DROP\n";

#[test]
fn reset_removes_only_rules_with_rfw_s_exact_tag() {
    let Some(d) = fake_as_root("reset_removes_only_rules_with_rfw_s_exact_tag", "foreign") else {
        return;
    };
    listing(d.path(), FOREIGN);
    let (_, err, rc) = run(d.path(), &["-4", "reset"]);
    assert_eq!(rc, 0, "{err}");
    let del = deletes(d.path());
    // One rule, in each of the five tables the fake lists it for.
    assert_eq!(del.len(), 5, "{del:?}");
    for t in ["filter", "raw", "mangle", "nat", "security"] {
        assert!(
            del.contains(&format!(
                "-t {t} -D OUTPUT -p tcp -m tcp --dport 5555 -m comment --comment rfw:1700000000.42 -j DROP --wait=10"
            )),
            "{del:?}"
        );
    }
    assert!(
        !del.iter()
            .any(|c| c.contains("keep, admin rule") || c.contains("dport 9")),
        "{del:?}"
    );
    // rfw list shows the same single rule.
    let (out, _, _) = run(d.path(), &["-4", "list", "-t", "filter"]);
    assert_eq!(
        out,
        "-A OUTPUT -p tcp -m tcp --dport 5555 -m comment --comment rfw:1700000000.42 -j DROP\n"
    );
}

#[test]
fn rule_numbers_are_iptables_own() {
    let Some(d) = fake_as_root("rule_numbers_are_iptables_own", "numbers") else {
        return;
    };
    listing(d.path(), FOREIGN);
    // Rule 2 is the administrator's (rule 1, dccp, counts too).
    let (_, err, rc) = run(d.path(), &argv("-R OUTPUT 2 -p tcp --dport 8 -j ACCEPT"));
    assert_eq!(rc, 2, "{err}");
    assert!(
        err.contains("rule 2 of OUTPUT was not added by rfw"),
        "{err}"
    );
    let (_, err, rc) = run(d.path(), &["-D", "OUTPUT", "2"]);
    assert_eq!(rc, 2, "{err}");
    assert!(
        err.contains("rule 2 of OUTPUT was not added by rfw"),
        "{err}"
    );
    // Rule 3 has a comment with a newline: still one rule, not rfw's.
    let (_, err, rc) = run(d.path(), &["-D", "OUTPUT", "3"]);
    assert_eq!(rc, 2, "{err}");
    assert!(deletes(d.path()).is_empty(), "{:?}", deletes(d.path()));
    // Rule 4 is rfw's: deleted by its exact words.
    let (_, err, rc) = run(d.path(), &["--quiet", "-D", "OUTPUT", "4"]);
    assert_eq!(rc, 0, "{err}");
    assert_eq!(
        deletes(d.path()),
        vec!["-t filter -D OUTPUT -p tcp -m tcp --dport 5555 -m comment --comment rfw:1700000000.42 -j DROP --wait=10"]
    );
}

#[test]
fn replace_by_number_counts_after_expired_rules_are_gone() {
    let Some(d) = fake_as_root(
        "replace_by_number_counts_after_expired_rules_are_gone",
        "replace-expired",
    ) else {
        return;
    };
    std::fs::write(d.path().join("deletes"), "").unwrap();
    // Rule 1 has expired, rule 2 is rfw's, rule 3 the administrator's.
    let rules = "-P OUTPUT ACCEPT\n\
-A OUTPUT -p tcp -m tcp --dport 5554 -m comment --comment \"rfw:100.7:exp=200\" -j DROP\n\
-A OUTPUT -p tcp -m tcp --dport 5555 -m comment --comment \"rfw:1700000000.42\" -j DROP\n\
-A OUTPUT -p tcp -m tcp --dport 6 -j ACCEPT\n";
    listing(d.path(), rules);
    let replace = |n: &str| {
        run(
            d.path(),
            &[
                "--quiet", "-R", "OUTPUT", n, "-p", "tcp", "--dport", "8", "-j", "ACCEPT",
            ],
        )
    };
    // Once the expired rule is gone, rule 2 is the administrator's: refused,
    // and no -R runs (it would replace the administrator's rule).
    let (_, err, rc) = replace("2");
    assert_eq!(rc, 2, "{err}");
    assert!(
        err.contains("rule 2 of OUTPUT was not added by rfw"),
        "{err}"
    );
    assert_eq!(
        deletes(d.path()),
        vec!["-t filter -D OUTPUT -p tcp -m tcp --dport 5554 -m comment --comment rfw:100.7:exp=200 -j DROP --wait=10"]
    );
    assert!(
        !calls(d.path()).iter().any(|c| c[0] == "-R"),
        "{:?}",
        calls(d.path())
    );
    // The same expired rule again: rule 1 is then rfw's and is replaced.
    listing(d.path(), rules);
    let (_, err, rc) = replace("1");
    assert_eq!(rc, 0, "{err}");
    let r = calls(d.path()).into_iter().find(|c| c[0] == "-R").unwrap();
    assert_eq!(&r[..3], &["-R", "OUTPUT", "1"]);
}

#[test]
fn expired_rules_go_without_the_index() {
    let Some(d) = fake_as_root("expired_rules_go_without_the_index", "expired") else {
        return;
    };
    // A rule whose --ttl ran out, with no state directory at all (a
    // reboot with a saved ruleset, /run cleaned).
    listing(
        d.path(),
        "-A OUTPUT -p tcp -m tcp --dport 5555 -m comment --comment \"rfw:100.7:exp=200\" -j DROP\n",
    );
    assert!(!d.path().join("state").exists());
    let (out, err, rc) = run(d.path(), &["-4", "list", "-t", "filter"]);
    assert_eq!(rc, 0, "{err}");
    assert!(
        err.contains("removed expired rule (--ttl ran out")
            && err.contains("-A OUTPUT -p tcp -m tcp --dport 5555"),
        "{err}"
    );
    assert!(!err.contains("expires in 0 s"), "{err}");
    let del = deletes(d.path());
    assert!(
        del.contains(&"-t filter -D OUTPUT -p tcp -m tcp --dport 5555 -m comment --comment rfw:100.7:exp=200 -j DROP --wait=10".to_string()),
        "{del:?}"
    );
    // The fake still lists it: list then says its removal failed rather
    // than "expires in 0 s".
    assert!(out.contains("rfw:100.7:exp=200"), "{out}");
}

#[test]
fn an_identical_rule_gets_a_note() {
    let Some(d) = fake_as_root("an_identical_rule_gets_a_note", "dup") else {
        return;
    };
    listing(d.path(), FOREIGN);
    let (_, err, rc) = run(
        d.path(),
        &argv("--quiet -A OUTPUT -p tcp --dport 5555 -j DROP"),
    );
    assert_eq!(rc, 0, "{err}");
    assert!(
        err.contains("note: rule 4 of OUTPUT was already this rule; iptables allows duplicates"),
        "{err}"
    );
    assert!(calls(d.path()).iter().any(|c| c[0] == "-A"));
}

/// Random command lines through the whole binary (`--dry-run`, no
/// iptables on PATH): never a panic, always a status of rfw's or
/// iptables' own, and an error is one line.
#[test]
fn random_command_lines_never_panic() {
    let d = dir("random");
    const V: &[&str] = &[
        "-A",
        "-I",
        "-D",
        "-C",
        "-R",
        "-L",
        "-S",
        "-F",
        "-Z",
        "-N",
        "-X",
        "-P",
        "-t",
        "-p",
        "-s",
        "-j",
        "-m",
        "-n",
        "-v",
        "-w",
        "-c",
        "!",
        "--",
        "--ju",
        "--j",
        "--dport",
        "--dp",
        "--d",
        "--sport",
        "--syn",
        "--tcp-flags",
        "--dports",
        "--comment",
        "--comm",
        "--state",
        "--reject-with",
        "--list",
        "INPUT",
        "OUTPUT",
        "PREROUTING",
        "tcp",
        "udp",
        "6",
        "multiport",
        "comment",
        "state",
        "REJECT",
        "LOG",
        "DROP",
        "ACCEPT",
        "raw",
        "nat",
        "22",
        "026",
        "0x16",
        "ssh",
        "1:2",
        ":22",
        "80,22",
        "SYN,ACK",
        "SYN",
        "1",
        "0",
        "",
        "a b",
        "\u{2013}L",
        "-traw",
        "-PINPUT",
        "-jDROP",
        "-p6",
        "-nvL",
        "--force",
        "--ttl",
        "--quiet",
        "-4",
        "-6",
        "reset",
        "list",
        "explain",
        "198.18.0.1",
        "5555",
        "--table=raw",
    ];
    let mut rng = Rng::xorshift64(0x00c0_ffee_0008);
    let mut next = || rng.next();
    for _ in 0..400 {
        let n = (next() % 10) as usize;
        let mut args = vec!["--dry-run".to_string()];
        for _ in 0..n {
            args.push(V[(next() % V.len() as u64) as usize].to_string());
        }
        let o = rfw(d.path()).args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        let code = o.status.code();
        assert!(
            matches!(code, Some(0 | 2 | 3 | 4 | 127)),
            "{args:?}: {code:?} {err}"
        );
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        if code != Some(0) {
            // One line, besides the note on repaired Unicode dashes.
            let lines: Vec<&str> = err
                .lines()
                .filter(|l| !l.starts_with("rfw: note: read "))
                .collect();
            assert_eq!(lines.len(), 1, "{args:?}: {err}");
            assert!(lines[0].starts_with("rfw: "), "{args:?}: {err}");
        }
    }
}
