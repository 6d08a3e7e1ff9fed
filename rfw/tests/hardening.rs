//! rfw's state directory, state files, the iptables it runs and the SSH
//! session behind sudo, tried as an attacker or an accident would: a
//! symlink planted at the old temporary name, a world-writable state
//! directory, a state file with a non-UTF-8 byte or a malformed line, an
//! `iptables` in a world-writable or foreign-owned directory (also behind a
//! symlink chain like Debian's alternatives), and `$SSH_CONNECTION` removed
//! by sudo's env_reset. No firewall is touched: `iptables` is a fake script
//! that only records its arguments (as in tests/cli.rs). The sshd port
//! discovery runs against a real listener in a namespace of its own in the
//! root package's tests/rfw_hardening.rs.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use rnet_testkit::argv;
use rnet_testkit::fake_iptables::{log, rfw_command, FakeIptables};
use rnet_testkit::sys;

fn mode(p: &Path, m: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
}

/// `$TMPDIR/rnet-rfw-hard-<name>-…` (0755) with `bin/` (0755) inside and
/// no iptables yet; the fake one (rnet_testkit::fake_iptables) goes in
/// with `install_in`.
fn dir(name: &str) -> FakeIptables {
    FakeIptables::empty(&format!("rfw-hard-{name}"))
}

/// The logged iptables calls that could change something (all but `-S`
/// listings, which rfw's planning and read-back make freely).
fn changing_calls(d: &Path) -> Vec<String> {
    log(d)
        .split("--\n")
        .filter(|c| !c.is_empty() && !c.lines().any(|w| w == "-S"))
        .map(str::to_string)
        .collect()
}

fn rfw(d: &Path) -> Command {
    rfw_command(Path::new(env!("CARGO_BIN_EXE_rfw")), d)
}

fn run_in(c: &mut Command, args: &[&str]) -> (String, String, i32) {
    let o = c.args(args).output().unwrap();
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        o.status.code().unwrap_or(-1),
    )
}

fn run(d: &Path, args: &[&str]) -> (String, String, i32) {
    run_in(&mut rfw(d), args)
}

/// Changing the firewall (even a fake one) needs root in rfw.
fn root_or_skip(test: &str) -> bool {
    rnet_testkit::root_or_skip(test, "rfw checks for root before changing rules")
}

/// The state file name rfw uses in this network namespace (rfw runs in
/// ours): `net-<inode of /proc/self/ns/net>.<ext>`.
fn state_file(d: &Path, ext: &str) -> PathBuf {
    let link = std::fs::read_link("/proc/self/ns/net").unwrap();
    let key: String = link
        .to_string_lossy()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    d.join("state").join(format!("net-{key}.{ext}"))
}

/// A rule added without a tag (no comment match), so it is recorded.
const ADD: &[&str] = &[
    "--quiet", "-I", "OUTPUT", "-p", "tcp", "--dport", "5555", "--syn", "-j", "DROP",
];

fn one_line(err: &str) -> &str {
    assert_eq!(err.lines().count(), 1, "not one line: {err:?}");
    err.trim_end()
}

#[test]
fn a_symlink_at_the_old_temporary_name_is_not_followed() {
    if !root_or_skip("a_symlink_at_the_old_temporary_name_is_not_followed") {
        return;
    }
    let d = dir("tmplink");
    d.install_in(&d.bin());
    std::fs::write(d.path().join("no_comment"), "").unwrap();
    std::fs::create_dir(d.path().join("state")).unwrap();
    mode(&d.path().join("state"), 0o700);
    let victim = d.path().join("victim");
    std::fs::write(&victim, "root:x:0:0::/root:/bin/sh\n").unwrap();
    let rules = state_file(d.path(), "rules");
    let mut tmp = rules.clone().into_os_string();
    tmp.push(".tmp");
    std::os::unix::fs::symlink(&victim, &tmp).unwrap();
    let (_, err, rc) = run(d.path(), ADD);
    assert_eq!(rc, 0, "{err}");
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "root:x:0:0::/root:/bin/sh\n"
    );
    let md = std::fs::symlink_metadata(&rules).unwrap();
    assert!(md.is_file(), "{} is not a regular file", rules.display());
    assert_eq!(md.mode() & 0o777, 0o600);
    assert!(std::fs::read_to_string(&rules)
        .unwrap()
        .contains("OUTPUT -p tcp -m tcp --dport 5555"));
    // The planted link is left alone, still pointing at the victim.
    assert_eq!(std::fs::read_link(&tmp).unwrap(), victim);
}

#[test]
fn a_world_writable_state_directory_is_refused_before_anything_changes() {
    if !root_or_skip("a_world_writable_state_directory_is_refused_before_anything_changes") {
        return;
    }
    let d = dir("wwstate");
    d.install_in(&d.bin());
    std::fs::write(d.path().join("no_comment"), "").unwrap();
    let state = d.path().join("state");
    std::fs::create_dir(&state).unwrap();
    mode(&state, 0o777);
    let (_, err, rc) = run(d.path(), ADD);
    assert_eq!(rc, 4, "{err}");
    assert_eq!(
        one_line(&err),
        format!(
            "rfw: state directory {} is writable by group or others (mode 0777); rfw reads and writes only a directory of its own (mode 0700); nothing was changed",
            state.display()
        )
    );
    assert_eq!(log(d.path()), "", "iptables ran");
    assert_eq!(std::fs::read_dir(&state).unwrap().count(), 0);
    // A symlink standing for the state directory is refused the same way.
    std::fs::remove_dir(&state).unwrap();
    std::fs::create_dir(d.path().join("real")).unwrap();
    mode(&d.path().join("real"), 0o700);
    std::os::unix::fs::symlink(d.path().join("real"), &state).unwrap();
    let (_, err, rc) = run(d.path(), ADD);
    assert_eq!(rc, 4, "{err}");
    assert!(
        one_line(&err).contains(&format!("{} is a symbolic link", state.display())),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(d.path().join("real")).unwrap().count(), 0);
    assert_eq!(log(d.path()), "");
}

#[test]
fn a_new_state_directory_is_private() {
    if !root_or_skip("a_new_state_directory_is_private") {
        return;
    }
    let d = dir("newstate");
    d.install_in(&d.bin());
    std::fs::write(d.path().join("no_comment"), "").unwrap();
    let (_, err, rc) = run(d.path(), ADD);
    assert_eq!(rc, 0, "{err}");
    let md = std::fs::symlink_metadata(d.path().join("state")).unwrap();
    assert!(md.is_dir());
    assert_eq!(md.mode() & 0o777, 0o700);
    assert_eq!(md.uid(), sys::effective_uid());
}

#[test]
fn an_unreadable_state_file_is_an_error_and_stays_as_it_was() {
    if !root_or_skip("an_unreadable_state_file_is_an_error_and_stays_as_it_was") {
        return;
    }
    let d = dir("corrupt");
    d.install_in(&d.bin());
    std::fs::write(d.path().join("no_comment"), "").unwrap();
    // An earlier record, made by rfw itself.
    let (_, err, rc) = run(d.path(), ADD);
    assert_eq!(rc, 0, "{err}");
    let rules = state_file(d.path(), "rules");
    let earlier = std::fs::read(&rules).unwrap();
    for (what, bytes) in [
        ("non-UTF-8", {
            let mut b = earlier.clone();
            b.extend_from_slice(b"0 v4 filter OUTPUT -p tcp --dport 7\xff7 -j DROP\n");
            b
        }),
        ("malformed", {
            let mut b = earlier.clone();
            b.extend_from_slice(b"this is not a record\n");
            b
        }),
    ] {
        std::fs::write(&rules, &bytes).unwrap();
        std::fs::remove_file(d.path().join("log")).ok();
        let (_, err, rc) = run(
            d.path(),
            &argv("--quiet -I OUTPUT -p tcp --dport 6666 -j DROP"),
        );
        assert_eq!(rc, 4, "{what}: {err}");
        let line = one_line(&err);
        assert!(
            line.starts_with(&format!("rfw: {}", rules.display())),
            "{what}: {line}"
        );
        assert!(line.contains("nothing was changed"), "{what}: {line}");
        assert_eq!(std::fs::read(&rules).unwrap(), bytes, "{what}: rewritten");
        assert_eq!(log(d.path()), "", "{what}: iptables ran");
        // reset and list stop the same way, before touching anything.
        for args in [&["--quiet", "reset"][..], &["list"][..]] {
            let (out, err, rc) = run(d.path(), args);
            assert_eq!((rc, out.as_str()), (4, ""), "{what} {args:?}: {err}");
            assert!(
                one_line(&err).starts_with(&format!("rfw: {}", rules.display())),
                "{err}"
            );
            assert_eq!(std::fs::read(&rules).unwrap(), bytes);
        }
        assert!(
            !log(d.path()).contains("-D\n"),
            "{what}: something was deleted"
        );
        // -C reads the state: the same single error line.
        let (_, err, rc) = run(d.path(), &argv("-C OUTPUT -p tcp --dport 6666 -j DROP"));
        assert_eq!(rc, 4, "{err}");
        assert!(
            one_line(&err).starts_with(&format!("rfw: {}", rules.display())),
            "{err}"
        );
        // A listing still works, with one warning line.
        let (_, err, rc) = run(d.path(), &["-S", "OUTPUT"]);
        assert_eq!(rc, 0, "{err}");
        assert!(one_line(&err).starts_with("rfw: warning: "), "{err}");
        assert_eq!(std::fs::read(&rules).unwrap(), bytes);
    }
}

/// Whether rfw refused the iptables of `d/bin` with one line naming
/// `culprit`, without running it (exit 127, as for a missing one).
fn assert_refused(d: &Path, args: &[&str], culprit: &Path) {
    std::fs::remove_file(d.join("log")).ok();
    let (out, err, rc) = run(d, args);
    assert_eq!((rc, out.as_str()), (127, ""), "{args:?}: {err}");
    let line = one_line(&err);
    assert!(line.starts_with("rfw: not running "), "{line}");
    assert!(
        line.contains(&format!("{} is ", culprit.display())),
        "{line} does not name {}",
        culprit.display()
    );
    assert_eq!(log(d), "", "the untrusted iptables ran");
}

#[test]
fn iptables_in_a_world_writable_directory_is_refused() {
    let d = dir("wwbin");
    let bin = d.path().join("bin");
    d.install_in(&bin);
    mode(&bin, 0o777);
    for args in [
        &["-L", "OUTPUT"][..],
        &["-6", "-S"][..],
        &["--dry-run", "-D", "OUTPUT", "1"][..],
        &["-V"][..],
    ] {
        assert_refused(d.path(), args, &bin);
    }
    mode(&bin, 0o1777);
    assert_refused(d.path(), &["-S"], &bin);
    mode(&bin, 0o775);
    assert_refused(d.path(), &["-S"], &bin);
    // The binary itself writable by others.
    mode(&bin, 0o755);
    mode(&bin.join("iptables"), 0o757);
    assert_refused(d.path(), &["-S"], &bin.join("iptables"));
    // A private directory: accepted and run.
    mode(&bin.join("iptables"), 0o755);
    let (_, err, rc) = run(d.path(), &["-V"]);
    assert_eq!(rc, 0, "{err}");
    assert_eq!(log(d.path()), "-V\n--\n");
}

#[test]
fn each_hop_of_a_symlink_chain_is_checked() {
    // bin/iptables -> ../alt/iptables -> ../real/xtables-nft-multi, as
    // Debian's /usr/sbin/iptables -> /etc/alternatives/iptables ->
    // /usr/sbin/iptables-nft -> xtables-nft-multi.
    let d = dir("chain");
    let (bin, alt, real) = (
        d.path().join("bin"),
        d.path().join("alt"),
        d.path().join("real"),
    );
    for p in [&alt, &real] {
        std::fs::create_dir(p).unwrap();
        mode(p, 0o755);
    }
    std::fs::write(real.join("xtables-nft-multi"), d.script()).unwrap();
    mode(&real.join("xtables-nft-multi"), 0o755);
    for name in ["iptables", "ip6tables"] {
        std::os::unix::fs::symlink("../real/xtables-nft-multi", alt.join(name)).unwrap();
        std::os::unix::fs::symlink(alt.join(name), bin.join(name)).unwrap();
    }
    let (_, err, rc) = run(d.path(), &["-V"]);
    assert_eq!(rc, 0, "{err}");
    mode(&alt, 0o777);
    assert_refused(d.path(), &["-S"], &alt);
    mode(&alt, 0o755);
    mode(&real, 0o770);
    assert_refused(d.path(), &["-S"], &real);
    mode(&real, 0o755);
    let (out, err, rc) = run(d.path(), &["-V"]);
    assert_eq!(rc, 0, "{err}");
    // Run by the name found on PATH (xtables-nft-multi needs it).
    assert!(
        out.contains(&format!("running {}", bin.join("iptables").display())),
        "{out}"
    );
}

#[test]
fn iptables_owned_by_someone_else_is_refused() {
    if !root_or_skip("iptables_owned_by_someone_else_is_refused") {
        return;
    }
    let d = dir("owner");
    let bin = d.path().join("bin");
    d.install_in(&bin);
    let nobody = 65534;
    std::os::unix::fs::chown(bin.join("iptables"), Some(nobody), None).unwrap();
    assert_refused(d.path(), &["-S"], &bin.join("iptables"));
    let (_, err, _) = run(d.path(), &["-S"]);
    assert!(err.contains("is owned by uid 65534, not root"), "{err}");
    std::os::unix::fs::chown(bin.join("iptables"), Some(0), None).unwrap();
    std::os::unix::fs::chown(&bin, Some(nobody), None).unwrap();
    assert_refused(d.path(), &["-S"], &bin);
    std::os::unix::fs::chown(&bin, Some(0), None).unwrap();
    let (_, err, rc) = run(d.path(), &["-S"]);
    assert_eq!(rc, 0, "{err}");
}

/// Runs rfw the way `sudo` does after env_reset: rfw's own environment
/// has no `SSH_CONNECTION`, but its parent process (here a shell standing
/// for sudo) was started with one. `sudo_user` sets `SUDO_USER`.
fn under_sudo(d: &Path, sudo_user: bool, args: &[&str]) -> (String, String, i32) {
    let rfw = assert_cmd::cargo::cargo_bin("rfw");
    let mut c = Command::new("/bin/sh");
    c.env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("SSH_CONNECTION", "198.18.0.1 50022 198.18.0.2 2022")
        .env("SSH_CLIENT", "198.18.0.1 50022 2022")
        // Not `exec`: the shell stays rfw's parent, as sudo does.
        .args(["-c", "env -i \"$@\"; exit $?", "sh"])
        .arg("LC_ALL=C")
        .arg(format!("PATH={}", d.join("bin").display()))
        .arg(format!("RFW_STATE_DIR={}", d.join("state").display()));
    if sudo_user {
        c.arg("SUDO_USER=learner");
    }
    c.arg(rfw);
    run_in(&mut c, args)
}

#[test]
fn the_ssh_session_is_found_behind_sudo() {
    let d = dir("sudo");
    d.install_in(&d.bin());
    for port in ["2022", "50022"] {
        let args = [
            "--dry-run",
            "-I",
            "INPUT",
            "-p",
            "tcp",
            "--dport",
            port,
            "-j",
            "DROP",
        ];
        let (out, err, rc) = under_sudo(d.path(), true, &args);
        assert_eq!((rc, out.as_str()), (2, ""), "{port}: {err}");
        let line = one_line(&err);
        assert!(
            line.starts_with(&format!(
                "rfw: refused: the rule matches port {port} of your SSH session (SSH_CONNECTION of sh, pid "
            )),
            "{line}"
        );
        assert!(line.ends_with("add --force to do it anyway"), "{line}");
        // Without SUDO_USER the parents are not consulted.
        let (out, err, rc) = under_sudo(d.path(), false, &args);
        assert_eq!(rc, 0, "{err}");
        assert!(out.starts_with("iptables -I INPUT"), "{out}");
        // --force still overrides (the hint only ever refuses more).
        let mut forced = vec!["--force"];
        forced.extend_from_slice(&args);
        let (out, err, rc) = under_sudo(d.path(), true, &forced);
        assert_eq!(rc, 0, "{err}");
        assert!(out.starts_with("iptables -I INPUT"), "{out}");
    }
    // Another port is not affected.
    let (_, err, rc) = under_sudo(
        d.path(),
        true,
        &argv("--dry-run -I INPUT -p tcp --dport 5555 -j DROP"),
    );
    assert_eq!(rc, 0, "{err}");
    assert_eq!(changing_calls(d.path()), Vec::<String>::new());
}
