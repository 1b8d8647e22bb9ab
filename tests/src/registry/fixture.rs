//! Images to push and a way to run skopeo.

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use super::Error;

/// The digest of ferry's built-in `demo:` image, an OCI index of four
/// platforms (pinned in `native/src/demo.rs` too).
pub const DEMO_INDEX_DIGEST: &str =
    "sha256:dceb5d4a6bad3eb2dd02f10a6b6a19a36cce7e0850d937fb68b81dfae2811111";

/// The longest one skopeo command may run before it is killed.
const SKOPEO_TIMEOUT_SECS: u32 = 300;

/// ferry's `demo:` image in a `dir:` layout of its own (removed on drop):
/// `manifest.json` is the OCI index, each platform's manifest is
/// `HEX.manifest.json`, blobs are named by their hex digest.
#[derive(Debug)]
pub struct DemoImage {
    dir: tempfile::TempDir,
}

/// A layout's files: name and content.
type Files = Vec<(PathBuf, Vec<u8>)>;

/// The demo layout's files, made once per test process (or why not).
static DEMO_FILES: OnceLock<Result<Files, String>> = OnceLock::new();

impl DemoImage {
    /// Writes the demo image; panics (with the reason) if it cannot.
    pub fn make() -> DemoImage {
        Self::try_make().unwrap_or_else(|e| panic!("making ferry's demo image: {e}"))
    }

    /// Writes the demo image, running ferry (`ferry copy --all demo: dir:…`)
    /// the first time in this process; its index must have
    /// [`DEMO_INDEX_DIGEST`].
    pub fn try_make() -> Result<DemoImage, Error> {
        let files = DEMO_FILES
            .get_or_init(|| demo_files().map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| Error::Io {
                what: "making ferry's demo image".into(),
                source: std::io::Error::other(e.clone()),
            })?;
        let dir = tempfile::Builder::new()
            .prefix("ferry-demo-")
            .tempdir()
            .map_err(Error::io("creating a temporary directory"))?;
        for (name, bytes) in files {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes)
                .map_err(Error::io(format!("writing {}", path.display())))?;
        }
        Ok(DemoImage { dir })
    }

    /// The layout's directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `dir:PATH`, the image reference for skopeo and ferry.
    pub fn dir_ref(&self) -> String {
        format!("dir:{}", self.path().display())
    }

    /// The index's bytes (`manifest.json`).
    pub fn index(&self) -> Vec<u8> {
        std::fs::read(self.path().join("manifest.json")).unwrap_or_default()
    }
}

fn demo_files() -> Result<Files, Error> {
    let scratch = tempfile::Builder::new()
        .prefix("ferry-demo-src-")
        .tempdir()
        .map_err(Error::io("creating a temporary directory"))?;
    let destination = format!("dir:{}", scratch.path().join("demo").display());
    let mut command = ferry();
    command.args(["copy", "--all", "demo:", &destination]);
    let shown = format!("{command:?}");
    let output = command
        .output()
        .map_err(Error::io(format!("running {shown}")))?;
    if !output.status.success() {
        return Err(Error::Command {
            command: shown,
            status: output.status,
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        });
    }
    let layout = scratch.path().join("demo");
    let mut files = Vec::new();
    for entry in
        std::fs::read_dir(&layout).map_err(Error::io(format!("reading {}", layout.display())))?
    {
        let entry = entry.map_err(Error::io(format!("reading {}", layout.display())))?;
        let bytes = std::fs::read(entry.path())
            .map_err(Error::io(format!("reading {}", entry.path().display())))?;
        files.push((PathBuf::from(entry.file_name()), bytes));
    }
    files.sort();
    let index = files
        .iter()
        .find(|(name, _)| name.as_os_str() == "manifest.json")
        .map(|(_, bytes)| bytes.as_slice())
        .unwrap_or_default();
    let digest = ring::digest::digest(&ring::digest::SHA256, index);
    let digest = digest
        .as_ref()
        .iter()
        .fold(String::from("sha256:"), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        });
    if digest != DEMO_INDEX_DIGEST {
        return Err(Error::Io {
            what: format!("checking the demo image of {shown}"),
            source: std::io::Error::other(format!(
                "its index is {digest}, not {DEMO_INDEX_DIGEST}: a stale ferry binary? \
                 Rebuild it or name one with FERRY_BIN"
            )),
        });
    }
    Ok(files)
}

/// ferry (see [`ferry_binary`]) with the tests' home.
fn ferry() -> Command {
    let mut command = ferry_binary();
    command.env("HOME", crate::test_home());
    command
}

/// ferry, found in this order: the binary named by `FERRY_BIN`; the one in
/// this test binary's target directory (`cargo test --workspace` builds
/// it); `cargo run -p ferry`, which builds it.
fn ferry_binary() -> Command {
    if let Some(bin) = std::env::var_os("FERRY_BIN") {
        return Command::new(bin);
    }
    let built = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("ferry")))
        .filter(|bin| bin.is_file());
    if let Some(bin) = built {
        return Command::new(bin);
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command
        .current_dir(workspace)
        .args(["run", "--quiet", "--package", "ferry", "--"]);
    command
}

/// Runs `skopeo --insecure-policy ARGS…` (Debian's skopeo 1.9.3), killed
/// after 300 s at the latest. The registry tests use skopeo as a peer, so
/// a missing skopeo fails them ([`crate::skopeo::require`]).
pub fn skopeo<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    crate::skopeo::require("a registry test that runs skopeo as the peer client");
    Command::new("timeout")
        .args([
            "--kill-after=10",
            &SKOPEO_TIMEOUT_SECS.to_string(),
            crate::skopeo::PROGRAM,
            "--insecure-policy",
        ])
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("running skopeo (install it with scripts/install-deps.sh services): {e}")
        })
}
