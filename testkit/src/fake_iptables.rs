//! A fake `iptables` (and `ip6tables`) for rfw's CLI tests: a shell script
//! in a private directory's `bin/` that only records its argument vector,
//! so no firewall is touched. rfw's tests put that `bin/` alone on `PATH`
//! ([`rfw_command`]); real iptables runs only inside the namespaces of the
//! root package's `tests/rfw_lab.rs`.
//!
//! The script appends each argument on a line of `log`, then `--`; it
//! answers `-V` with a version line; it prints `-S` output from `listing`;
//! it fails with exit 2 on `-m comment` when `no_comment` exists (a kernel
//! without the comment match); it warns of legacy tables when `legacy`
//! exists; and when `deletes` exists, a `-D` naming an expiring rfw tag
//! (`rfw:…:exp=…`) also removes the lines holding that tag from `listing`,
//! so later rules move up as iptables renumbers them.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::tempdir::TempDir;

/// A private directory (mode 0755) with `bin/` (0755) inside, removed on
/// drop.
pub struct FakeIptables {
    dir: TempDir,
}

impl FakeIptables {
    /// The directory and an empty `bin/`: no iptables on `PATH` yet.
    pub fn empty(tag: &str) -> FakeIptables {
        let dir = TempDir::new(tag).unwrap_or_else(|e| panic!("temp dir for {tag}: {e}"));
        let bin = dir.join("bin");
        fs::create_dir(&bin).unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
        fs::set_permissions(&bin, fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
        FakeIptables { dir }
    }

    /// The directory with the fake `iptables` and `ip6tables` in `bin/`.
    pub fn new(tag: &str) -> FakeIptables {
        let f = FakeIptables::empty(tag);
        f.install_in(&f.bin());
        f
    }

    /// The directory (holds `log`, `listing`, `state/` and the switches).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Its `bin/`.
    pub fn bin(&self) -> PathBuf {
        self.dir.join("bin")
    }

    /// The script's text (it logs into this directory).
    pub fn script(&self) -> String {
        let d = self.path();
        format!(
            "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\" >> '{log}'; done\necho -- >> '{log}'\n\
             if [ -e '{d}/deletes' ]; then case \" $* \" in *\" -D \"*) for a in \"$@\"; do case \"$a\" in rfw:*:exp=*) keep=; while IFS= read -r l || [ -n \"$l\" ]; do case \"$l\" in *\"$a\"*) ;; *) keep=\"$keep$l\n\";; esac; done < '{d}/listing'; printf '%s' \"$keep\" > '{d}/listing';; esac; done;; esac; fi\n\
             case \" $* \" in *\" -V \"*) echo 'iptables v1.8.9 (nf_tables)'; exit 0;; esac\n\
             [ -e '{d}/legacy' ] && echo '# Warning: iptables-legacy tables present, use iptables-legacy to see them' >&2\n\
             if [ -e '{d}/no_comment' ]; then case \" $* \" in *\" comment \"*) echo \"iptables v1.8.9 (nf_tables): Couldn't load match \\`comment':No such file or directory\" >&2; exit 2;; esac; fi\n\
             case \" $* \" in *\" -S \"*) [ -e '{d}/listing' ] && while IFS= read -r l || [ -n \"$l\" ]; do printf '%s\\n' \"$l\"; done < '{d}/listing';; esac\nexit 0\n",
            log = d.join("log").display(),
            d = d.display()
        )
    }

    /// Writes the script as `iptables` and `ip6tables` (mode 0755) into
    /// `bin`, which may be another directory than [`FakeIptables::bin`].
    pub fn install_in(&self, bin: &Path) {
        let script = self.script();
        for name in ["iptables", "ip6tables"] {
            let p = bin.join(name);
            fs::write(&p, &script).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            fs::set_permissions(&p, fs::Permissions::from_mode(0o755))
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        }
    }
}

/// Everything the fake logged in `dir`: each argument on a line, `--`
/// after each call.
pub fn log(dir: &Path) -> String {
    fs::read_to_string(dir.join("log")).unwrap_or_default()
}

/// The fake's calls in `dir`, each as its argument vector.
pub fn calls(dir: &Path) -> Vec<Vec<String>> {
    let mut out = vec![Vec::new()];
    for l in log(dir).lines() {
        if l == "--" {
            out.push(Vec::new());
        } else if let Some(last) = out.last_mut() {
            last.push(l.to_string());
        }
    }
    out.pop();
    out
}

/// `rfw` (the binary at `rfw`) with a scrubbed environment: `LC_ALL=C`,
/// `PATH` only `dir/bin`, state files in `dir/state`.
pub fn rfw_command(rfw: &Path, dir: &Path) -> Command {
    let mut c = Command::new(rfw);
    c.env_clear()
        .env("LC_ALL", "C")
        .env("PATH", dir.join("bin"))
        .env("RFW_STATE_DIR", dir.join("state"));
    c
}
