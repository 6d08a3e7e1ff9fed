//! Process-level tests of rfw that touch no firewall: usage errors and
//! their statuses, `--help`, `--dry-run`, `explain`, and, with a fake
//! `iptables` on PATH that only records its argument vector, exactly what
//! rfw runs. Real iptables is exercised in namespaces by the root
//! package's `tests/rfw_lab.rs`.

use assert_cmd::Command;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn dir(name: &str) -> Dir {
    let d = std::env::temp_dir().join(format!("rfw-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("bin")).unwrap();
    Dir(d)
}

/// A fake `iptables` (and `ip6tables`) that appends its arguments, one per
/// line, to `log` followed by `--`, prints `-S` output from `listing`, and
/// fails with exit 2 on `-m comment` when `no_comment` exists.
fn fake(d: &Path) {
    let script = format!(
        "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\" >> '{log}'; done\necho -- >> '{log}'\n\
         case \" $* \" in *\" -V \"*) echo 'iptables v1.8.9 (nf_tables)'; exit 0;; esac\n\
         [ -e '{d}/legacy' ] && echo '# Warning: iptables-legacy tables present, use iptables-legacy to see them' >&2\n\
         if [ -e '{d}/no_comment' ]; then case \" $* \" in *\" comment \"*) echo \"iptables v1.8.9 (nf_tables): Couldn't load match \\`comment':No such file or directory\" >&2; exit 2;; esac; fi\n\
         case \" $* \" in *\" -S \"*) [ -e '{d}/listing' ] && cat '{d}/listing';; esac\nexit 0\n",
        log = d.join("log").display(),
        d = d.display()
    );
    for name in ["iptables", "ip6tables"] {
        let p = d.join("bin").join(name);
        std::fs::write(&p, &script).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

fn calls(d: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(d.join("log")).unwrap_or_default();
    let mut out = vec![Vec::new()];
    for l in text.lines() {
        if l == "--" {
            out.push(Vec::new());
        } else if let Some(last) = out.last_mut() {
            last.push(l.to_string());
        }
    }
    out.pop();
    out
}

fn rfw(d: &Path) -> Command {
    let mut c = Command::cargo_bin("rfw").unwrap();
    c.env_clear()
        .env("LC_ALL", "C")
        .env("PATH", d.join("bin"))
        .env("RFW_STATE_DIR", d.join("state"));
    c
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().nth(1).map(|u| u == "0"))
        .unwrap_or(false)
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
    let (out, err, rc) = run(&d.0, &["--help"]);
    assert_eq!((rc, err.as_str()), (0, ""));
    for o in rfw::cli::OWN_OPTIONS.iter().chain(rfw::cli::SUBCOMMANDS) {
        assert!(out.contains(o), "--help misses {o}");
    }
}

#[test]
fn invalid_values_get_iptables_status_and_one_line() {
    let d = dir("invalid");
    fake(&d.0);
    let cases: &[(&[&str], i32, &str)] = &[
        (
            &[
                "-I", "OUTPUT", "-p", "tcp", "--dport", "70000", "-j", "DROP",
            ],
            2,
            "invalid port `70000'",
        ),
        (
            &[
                "-I",
                "OUTPUT",
                "-p",
                "tcp",
                "--tcp-flags",
                "SYN,BOGUS",
                "SYN",
                "-j",
                "DROP",
            ],
            2,
            "unknown TCP flag `BOGUS'",
        ),
        (
            &["-I", "OUTPUT", "--dport", "5555", "-j", "DROP"],
            2,
            "needs `-p tcp'",
        ),
        (
            &[
                "-I",
                "INPUT",
                "-p",
                "udp",
                "--dport",
                "1",
                "-j",
                "REJECT",
                "--reject-with",
                "tcp-reset",
            ],
            4,
            "only works with -p tcp",
        ),
        (
            &[
                "-I", "OUTPUT", "-i", "lo", "-p", "tcp", "--dport", "1", "-j", "DROP",
            ],
            2,
            "-i cannot be used in OUTPUT",
        ),
        (&["-I"], 2, "-I needs a chain name"),
        (&["-t", "bogus", "-L"], 2, "unknown table `bogus'"),
        (&[], 2, "no command given"),
        (&["-P", "INPUT", "DROP"], 2, "refused: a policy change"),
        (
            &["--ttl", "0", "-I", "INPUT", "-j", "ACCEPT"],
            2,
            "invalid --ttl",
        ),
    ];
    for (args, status, text) in cases {
        let (out, err, rc) = run(&d.0, args);
        assert_eq!(rc, *status, "{args:?}: {err}");
        assert_eq!(out, "", "{args:?}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.starts_with("rfw: ") && err.contains(text),
            "{args:?}: {err}"
        );
    }
    // Nothing reached iptables.
    assert!(calls(&d.0).is_empty(), "{:?}", calls(&d.0));
}

#[test]
fn dry_run_prints_shell_quoted_commands() {
    let d = dir("dry");
    let (out, _, rc) = run(
        &d.0,
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
    let d = dir("explain");
    fake(&d.0);
    let (out, _, rc) = run(
        &d.0,
        &[
            "explain",
            "OUTPUT",
            "-p",
            "tcp",
            "--dport",
            "5555",
            "--tcp-flags",
            "SYN,ACK",
            "SYN",
            "-j",
            "DROP",
        ],
    );
    assert_eq!(rc, 0);
    assert!(out.contains("stays in SYN_SENT"), "{out}");
    assert!(out.contains("stays in LISTEN"), "{out}");
    let (out, _, _) = run(&d.0, &["explain", "-I", "INPUT", "-j", "DROP"]);
    assert!(out.contains("rfw would refuse"), "{out}");
    assert!(calls(&d.0).is_empty());
}

#[test]
fn missing_iptables_is_127_with_the_fix() {
    let d = dir("missing");
    let (_, err, rc) = run(&d.0, &["-L", "OUTPUT"]);
    assert_eq!(rc, 127);
    assert!(
        err.starts_with("rfw: iptables not found on PATH; install it"),
        "{err}"
    );
}

#[test]
fn runs_the_argument_vector_with_wait_last() {
    if !is_root() {
        eprintln!("SKIPPED runs_the_argument_vector_with_wait_last: rfw checks for root before running iptables");
        return;
    }
    let d = dir("argv");
    fake(&d.0);
    let evil = "a b; $(touch x) `y` \"q\" 'z' | & >";
    let (_, _, rc) = run(
        &d.0,
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
    let c = calls(&d.0);
    let add = c.iter().rfind(|a| a[0] == "-A").unwrap();
    assert_eq!(
        &add[..9],
        &[
            "-A",
            "INPUT",
            "-p",
            "tcp",
            "--dport",
            "5555",
            "-m",
            "comment",
            "--comment"
        ]
    );
    assert_eq!(add[9], evil);
    assert_eq!(&add[10..13], &["-m", "comment", "--comment"]);
    assert!(add[13].starts_with("rfw:"));
    assert_eq!(&add[14..], &["-j", "ACCEPT", "--wait=10"]);
    // -w given by the user: none added; -V gets none either.
    let _ = run(&d.0, &["--quiet", "-L", "-w", "5"]);
    assert_eq!(calls(&d.0).last().unwrap(), &["-L", "--wait=5"]);
    let (out, _, rc) = run(&d.0, &["-V"]);
    assert_eq!(rc, 0);
    assert!(
        out.starts_with("iptables v1.8.9 (nf_tables)\n(rfw "),
        "{out}"
    );
    assert_eq!(calls(&d.0).last().unwrap(), &["-V"]);
    // -6 runs ip6tables (same fake here), and is not passed on.
    let _ = run(&d.0, &["-6", "-S"]);
    assert_eq!(calls(&d.0).last().unwrap(), &["-S", "--wait=10"]);
}

#[test]
fn without_comment_match_falls_back_to_the_state_file() {
    if !is_root() {
        eprintln!("SKIPPED without_comment_match_falls_back_to_the_state_file: needs root");
        return;
    }
    let d = dir("nocomment");
    fake(&d.0);
    std::fs::write(d.0.join("no_comment"), "").unwrap();
    let (_, err, rc) = run(
        &d.0,
        &[
            "--quiet", "-I", "OUTPUT", "-p", "tcp", "--dport", "5555", "--syn", "-j", "DROP",
        ],
    );
    assert_eq!(rc, 0, "{err}");
    assert!(err.contains("recorded in the state file"), "{err}");
    let c = calls(&d.0);
    assert_eq!(
        c.last().unwrap().join(" "),
        "-I OUTPUT -p tcp --dport 5555 --syn -j DROP --wait=10"
    );
    let (out, _, _) = run(&d.0, &["list"]);
    assert!(
        out.contains(
            "-A OUTPUT -p tcp -m tcp --dport 5555 --tcp-flags FIN,SYN,RST,ACK SYN -j DROP"
        ),
        "{out}"
    );
    let (_, _, rc) = run(&d.0, &["--quiet", "-4", "reset"]);
    assert_eq!(rc, 0);
    assert_eq!(
        calls(&d.0).last().unwrap().join(" "),
        "-t filter -D OUTPUT -p tcp -m tcp --dport 5555 --tcp-flags FIN,SYN,RST,ACK SYN -j DROP --wait=10"
    );
    let (out, _, _) = run(&d.0, &["list"]);
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
    if !is_root() {
        eprintln!("SKIPPED legacy_rules_are_reported_with_the_backend_from_dash_v: rfw checks for root before running iptables");
        return;
    }
    let d = dir("legacy");
    fake(&d.0);
    std::fs::write(d.0.join("legacy"), "").unwrap();
    let (_, err, rc) = run(&d.0, &["-S", "OUTPUT"]);
    assert_eq!(rc, 0);
    assert!(err.contains("iptables-legacy tables present"), "{err}");
    assert!(
        err.contains("(nf_tables); the legacy iptables backend also holds rules here"),
        "{err}"
    );
    // The backend came from `iptables -V`, asked once; nothing else probed.
    let c = calls(&d.0);
    assert_eq!(
        c.iter().filter(|a| a.iter().any(|x| x == "-V")).count(),
        1,
        "{c:?}"
    );
}
