//! rfw's SSH guard learns the ports sshd listens on, tried with real
//! listeners in a network namespace of the test's own: `nc` copied under
//! the name `sshd` (the kernel's `comm` is what rfw matches) listens on
//! 127.0.0.1:2222 and [::1]:2223, a copy named `web` on 127.0.0.1:2224.
//! rfw, run inside the namespace, must refuse a DROP of 2222 and 2223
//! (also without `$SSH_CONNECTION`, which sudo removes) and allow 2224.
//! Traffic: none; the listeners only listen, on loopback.
//!
//! Needs root, `ip`, `nc` and `iptables`; otherwise the test prints why it
//! skips, unless `RNET_REQUIRE_LAB=1`. The binary under test is `$RFW_BIN`,
//! else `target/<profile>/rfw`. The state-file, PATH and sudo cases that
//! need no namespace are in rfw/tests/hardening.rs.

use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;
use std::time::Duration;

use rnet_testkit::netns::Netns;
use rnet_testkit::process::{self, Background, Output};
use rnet_testkit::tempdir::TempDir;
use rnet_testkit::{lab_or_skip, tool_under_test};

const RUN: Duration = Duration::from_secs(20);

fn drop_rule(chain: &str, opt: &str, port: u16) -> Vec<String> {
    [
        "-I",
        chain,
        "-p",
        "tcp",
        opt,
        &port.to_string(),
        "-j",
        "DROP",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

#[test]
fn ports_sshd_listens_on_are_guarded() {
    let test = "ports_sshd_listens_on_are_guarded";
    let Some(env) = lab_or_skip(test, &["nc", "iptables"]) else {
        return;
    };
    let ns = Netns::create(&env.ip, "sshd").expect("create namespace");
    let rfw = tool_under_test("rfw", "RFW_BIN");
    let bins = TempDir::new("fake-sshd").expect("temp dir");
    let state = TempDir::new("rfw-state").expect("temp dir");
    for name in ["sshd", "web"] {
        let p = bins.join(name);
        std::fs::copy(env.program("nc"), &p).expect("copy nc");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let listen = |name: &str, addr: &str, port: u16| -> Background {
        let mut cmd = ns.command(
            bins.join(name),
            &["-d", "-k", "-l", addr, &port.to_string()],
        );
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        Background::spawn(&mut cmd, name).expect("start listener")
    };
    let sshd4 = listen("sshd", "127.0.0.1", 2222);
    let sshd6 = listen("sshd", "::1", 2223);
    let _web = listen("web", "127.0.0.1", 2224);
    process::wait_until("the three listeners", Duration::from_secs(10), || {
        let rows = ns.proc_rows(&["tcp", "tcp6"]).unwrap_or_default();
        [2222, 2223, 2224]
            .iter()
            .all(|p| rows.iter().any(|r| r.state == 0x0A && r.local_port == *p))
    })
    .expect("listeners up");
    let run = |args: &[String]| -> Output {
        let mut cmd = ns.command(&rfw, args);
        cmd.env("RFW_STATE_DIR", state.path());
        process::run(&mut cmd, RUN).expect("run rfw")
    };
    let with = |pre: &[&str], rule: Vec<String>| -> Vec<String> {
        pre.iter().map(|s| s.to_string()).chain(rule).collect()
    };
    for (chain, opt, port, pid) in [
        ("INPUT", "--dport", 2222, sshd4.id()),
        ("INPUT", "--dport", 2223, sshd6.id()),
        ("OUTPUT", "--sport", 2222, sshd4.id()),
    ] {
        let o = run(&with(&["--dry-run"], drop_rule(chain, opt, port)));
        assert_eq!(
            (o.code(), o.stdout_text().as_str()),
            (Some(2), ""),
            "{chain} {opt} {port}: {}",
            o.stderr_text()
        );
        assert_eq!(
            o.stderr_text(),
            format!("rfw: refused: the rule matches port {port} where sshd listens (pid {pid}); add --force to do it anyway\n")
        );
        // With --force the dry run shows the command.
        let o = run(&with(
            &["--dry-run", "--force"],
            drop_rule(chain, opt, port),
        ));
        assert_eq!(o.code(), Some(0), "{}", o.stderr_text());
        assert!(o.stdout_text().starts_with(&format!("iptables -I {chain}")));
    }
    // A listener with another name is not SSH.
    let o = run(&with(&["--dry-run"], drop_rule("INPUT", "--dport", 2224)));
    assert_eq!(o.code(), Some(0), "{}", o.stderr_text());
    // For real (inside the namespace): refused, nothing installed.
    let o = run(&drop_rule("INPUT", "--dport", 2222));
    assert_eq!(o.code(), Some(2), "{}", o.stderr_text());
    let mut s = ns.command(env.program("iptables"), &["-S", "INPUT"]);
    let listed = process::run(&mut s, RUN).expect("iptables -S");
    assert_eq!(listed.stdout_text(), "-P INPUT ACCEPT\n");
}
