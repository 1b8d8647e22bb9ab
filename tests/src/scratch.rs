//! Scratch directories for tests.

use std::path::{Path, PathBuf};

/// A directory of a test's own under the temporary directory, named for
/// the test (`ferry-NAME-…`) so that it can be found while the test runs,
/// and removed with everything in it when dropped.
#[derive(Debug)]
pub struct Scratch(tempfile::TempDir);

impl Scratch {
    pub fn new(name: &str) -> Self {
        Scratch(
            tempfile::Builder::new()
                .prefix(&format!("ferry-{name}-"))
                .tempdir()
                .unwrap_or_else(|e| panic!("a scratch directory for {name}: {e}")),
        )
    }

    /// The directory itself.
    pub fn dir(&self) -> &Path {
        self.0.path()
    }

    /// `name` in the directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir().join(name)
    }

    /// `name` in the directory, as a command-line argument.
    pub fn arg(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }
}
