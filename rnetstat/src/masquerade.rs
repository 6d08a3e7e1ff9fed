//! `netstat -M`: net-tools reads `/proc/net/ip_masquerade`, which Linux
//! has not had since 2.4 (masquerading moved to netfilter's connection
//! tracking). On every kernel rnetstat runs on, netstat says "no support"
//! and exits 1; rnetstat does the same. A file of that name (only in a
//! fixture tree, or a Linux 2.2 system) is not parsed: rnetstat says so.

use crate::error::{Error, ExitStatus};
use std::io::{ErrorKind, Write};
use std::path::Path;

/// `netstat -M` (also with `-n`, `-e`, `-c`: the first pass ends it).
pub fn masquerade<W: Write>(prog: &str, root: &Path, out: &mut W) -> Result<ExitStatus, Error> {
    out.flush()?;
    let path = root.join("net/ip_masquerade");
    match std::fs::metadata(&path) {
        Err(e) if e.kind() == ErrorKind::NotFound => {
            eprintln!("{prog}: no support for `ip_masquerade' on this system.");
            Ok(ExitStatus::Failure)
        }
        Err(e) => Err(Error::Open("/proc/net/ip_masquerade".into(), e)),
        Ok(_) => {
            eprintln!(
                "{prog}: /proc/net/ip_masquerade (Linux 2.2) is not read by rnetstat; `conntrack -L' shows the connections"
            );
            Ok(ExitStatus::Failure)
        }
    }
}
