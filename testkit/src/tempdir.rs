//! A private temporary directory, removed on drop (also during a panic).

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::unique_suffix;

/// A directory under the system temp dir, mode 0755 (so that a test can
/// run a tool as an unprivileged user from it), removed with its contents
/// when dropped.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates `$TMPDIR/rnet-<tag>-<pid>-<n>`.
    pub fn new(tag: &str) -> io::Result<Self> {
        let path = std::env::temp_dir().join(format!("rnet-{tag}-{}", unique_suffix()));
        fs::create_dir(&path)?;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755))?;
        Ok(TempDir { path })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A path inside the directory.
    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}
