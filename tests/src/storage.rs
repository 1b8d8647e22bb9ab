//! A throwaway containers-storage store per test, and podman run on it.
//!
//! Every store is a fresh temporary directory (graph root `root/`, run
//! root `run/`) with the `vfs` driver, named explicitly to podman
//! (`--root`, `--runroot`, `--storage-driver vfs`), skopeo and ferry
//! (`containers-storage:[vfs@ROOT+RUN]NAME`), so no test reads or writes
//! the machine's store or its `storage.conf`. podman 4.3 runs images as
//! root here but cannot run containers, and nothing here does.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

/// What `scripts/install-deps.sh services` installs.
pub const PODMAN: &str = "podman";

/// The longest one podman command may run before `timeout` kills it.
const PODMAN_TIMEOUT_SECS: u32 = 120;

/// Fails the test, saying how to install podman, if it does not run.
pub fn require_podman() {
    static INSTALLED: OnceLock<bool> = OnceLock::new();
    let installed = *INSTALLED.get_or_init(|| {
        Command::new(PODMAN)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    assert!(
        installed,
        "podman is not installed, and this test uses it as the peer (bash scripts/install-deps.sh services)"
    );
}

/// A store in a temporary directory, removed on drop.
#[derive(Debug)]
pub struct Store {
    dir: tempfile::TempDir,
    driver: &'static str,
}

impl Default for Store {
    fn default() -> Self {
        Self::new()
    }
}

impl Store {
    /// A vfs store.
    pub fn new() -> Store {
        Store::with_driver("vfs")
    }

    /// An overlay store (the kernel's overlay; podman as root uses it
    /// here without a mount program).
    pub fn overlay() -> Store {
        Store::with_driver("overlay")
    }

    fn with_driver(driver: &'static str) -> Store {
        require_podman();
        let dir = tempfile::Builder::new()
            .prefix("ferry-storage-")
            .tempdir()
            .unwrap_or_else(|e| panic!("creating a store directory: {e}"));
        Store { dir, driver }
    }

    pub fn graph_root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    pub fn run_root(&self) -> PathBuf {
        self.dir.path().join("run")
    }

    /// A scratch path beside the store, for layouts and archives.
    pub fn scratch(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `containers-storage:[DRIVER@ROOT+RUN]IMAGE`.
    pub fn reference(&self, image: &str) -> String {
        format!(
            "containers-storage:[{}@{}+{}]{image}",
            self.driver,
            self.graph_root().display(),
            self.run_root().display()
        )
    }

    /// podman on this store.
    pub fn podman_command(&self) -> Command {
        let mut command = Command::new("timeout");
        command
            .args([
                "--kill-after=10".to_string(),
                PODMAN_TIMEOUT_SECS.to_string(),
                PODMAN.to_string(),
                "--root".into(),
                self.graph_root().display().to_string(),
                "--runroot".into(),
                self.run_root().display().to_string(),
                "--storage-driver".into(),
                self.driver.into(),
            ])
            .env("HOME", crate::test_home());
        command
    }

    pub fn podman(&self, args: &[&str]) -> Output {
        self.podman_command()
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("running podman: {e}"))
    }

    /// stdout of a podman command that must succeed.
    pub fn podman_ok(&self, args: &[&str]) -> String {
        let output = self.podman(args);
        assert!(
            output.status.success(),
            "podman {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// `podman image inspect NAME`, its one object.
    pub fn inspect(&self, name: &str) -> serde_json::Value {
        let text = self.podman_ok(&["image", "inspect", name]);
        let mut all: Vec<serde_json::Value> = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("podman image inspect said {text:?}: {e}"));
        assert_eq!(all.len(), 1, "{text}");
        all.remove(0)
    }

    /// `podman images --format json`.
    pub fn images(&self) -> Vec<serde_json::Value> {
        let text = self.podman_ok(&["images", "--format", "json"]);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("podman images said {text:?}: {e}"))
    }

    /// The records of `DRIVER-layers/layers.json` (none if there is no
    /// file).
    pub fn layer_records(&self) -> Vec<serde_json::Value> {
        read_json_list(
            &self
                .graph_root()
                .join(format!("{}-layers/layers.json", self.driver)),
        )
    }

    /// The records of `DRIVER-images/images.json`.
    pub fn image_records(&self) -> Vec<serde_json::Value> {
        read_json_list(
            &self
                .graph_root()
                .join(format!("{}-images/images.json", self.driver)),
        )
    }
}

/// podman's overlay driver mounts its home (`ROOT/overlay`) on itself,
/// private, and leaves it mounted when it exits: unmounted here, or the
/// temporary directory could not be removed.
impl Drop for Store {
    fn drop(&mut self) {
        let home = self.graph_root().join("overlay");
        let mounted = std::fs::read_to_string("/proc/self/mounts")
            .unwrap_or_default()
            .lines()
            .any(|l| l.split(' ').nth(1) == Some(&*home.to_string_lossy()));
        if self.driver == "overlay" && mounted {
            let _ = Command::new("umount").arg(&home).status();
        }
    }
}

fn read_json_list(path: &Path) -> Vec<serde_json::Value> {
    match std::fs::read(path) {
        Ok(bytes) if !bytes.is_empty() => serde_json::from_slice(&bytes)
            .unwrap_or_else(|e| panic!("{} does not parse: {e}", path.display())),
        _ => Vec::new(),
    }
}

/// An OCI layout's single image, read independently of ferry: its
/// manifest, config and the SHA-256 of each layer once decompressed
/// (with `gzip -dc` for gzip layers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayoutImage {
    pub manifest: serde_json::Value,
    pub config: Vec<u8>,
    pub diff_ids: Vec<String>,
}

impl LayoutImage {
    pub fn read(layout: &Path) -> LayoutImage {
        let blob = |digest: &str| {
            let hex = digest.strip_prefix("sha256:").expect("a sha256 digest");
            layout.join("blobs/sha256").join(hex)
        };
        let index: serde_json::Value =
            serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
        let top = index["manifests"][0]["digest"]
            .as_str()
            .unwrap()
            .to_string();
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(blob(&top)).unwrap()).unwrap();
        let config = std::fs::read(blob(manifest["config"]["digest"].as_str().unwrap())).unwrap();
        let diff_ids = manifest["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                let path = blob(l["digest"].as_str().unwrap());
                let bytes = if l["mediaType"]
                    .as_str()
                    .unwrap_or_default()
                    .ends_with("gzip")
                {
                    let out = Command::new("gzip").arg("-dc").arg(&path).output().unwrap();
                    assert!(out.status.success());
                    out.stdout
                } else {
                    std::fs::read(&path).unwrap()
                };
                ferry_core::Digest::sha256_of(&bytes).to_string()
            })
            .collect();
        LayoutImage {
            manifest,
            config,
            diff_ids,
        }
    }

    /// The config's `rootfs.diff_ids`.
    pub fn config_diff_ids(&self) -> Vec<String> {
        let config: serde_json::Value = serde_json::from_slice(&self.config).unwrap();
        config["rootfs"]["diff_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_str().unwrap().to_string())
            .collect()
    }
}

/// Writes an OCI layout at `path` holding one linux image (`:big`) of
/// `layers` gzipped layers, each of `files` files of `size` pseudo-random
/// bytes (seeded, so every run writes the same), made with GNU tar and
/// gzip: big enough that a copy can be interrupted part-way.
pub fn layered_layout(path: &Path, layers: usize, files: usize, size: usize) {
    let work = path.with_extension("trees");
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut trees = Vec::new();
    for layer in 0..layers {
        let content = work.join(format!("layer{layer}"));
        let dir = content.join(format!("data/layer{layer}"));
        std::fs::create_dir_all(&dir).unwrap();
        for file in 0..files {
            let mut bytes = Vec::with_capacity(size);
            while bytes.len() < size {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                bytes.extend_from_slice(&seed.to_le_bytes());
            }
            bytes.truncate(size);
            std::fs::write(dir.join(format!("file{file}")), bytes).unwrap();
        }
        trees.push(content);
    }
    layout_of_trees(path, "big", &trees);
    std::fs::remove_dir_all(&work).unwrap();
}

/// Writes an OCI layout at `path` holding one linux image (`:NAME`) whose
/// layers are the directories `trees`, each archived whole with GNU tar
/// (sorted, owned by root, dated 0) and gzipped: names such as `.wh.x`
/// go into the layer as they are, as whiteouts.
pub fn layout_of_trees(path: &Path, name: &str, trees: &[PathBuf]) {
    let run = |command: &mut Command| {
        let out = command
            .output()
            .unwrap_or_else(|e| panic!("{command:?}: {e}"));
        assert!(
            out.status.success(),
            "{command:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let blobs = path.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let mut descriptors = Vec::new();
    let mut diff_ids = Vec::new();
    for tree in trees {
        let tar = run(Command::new("tar")
            .args([
                "--sort=name",
                "--owner=0",
                "--group=0",
                "--numeric-owner",
                "--mtime=@0",
                "-C",
            ])
            .arg(tree)
            .args(["-cf", "-", "."]));
        // gzip reads the tar from a file: writing it to gzip's stdin while
        // its stdout fills up would deadlock.
        let tar_path = path.join("layer.tar");
        std::fs::write(&tar_path, &tar).unwrap();
        let gz = run(Command::new("gzip").args(["-n", "-1", "-c"]).arg(&tar_path));
        std::fs::remove_file(&tar_path).unwrap();
        let digest = ferry_core::Digest::sha256_of(&gz);
        std::fs::write(blobs.join(digest.encoded()), &gz).unwrap();
        diff_ids.push(ferry_core::Digest::sha256_of(&tar).to_string());
        descriptors.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": digest.to_string(),
            "size": gz.len(),
        }));
    }
    let architecture = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": architecture,
        "os": "linux",
        "created": "2026-01-01T00:00:00Z",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .unwrap();
    let config_digest = ferry_core::Digest::sha256_of(&config);
    std::fs::write(blobs.join(config_digest.encoded()), &config).unwrap();
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config_digest.to_string(),
            "size": config.len(),
        },
        "layers": descriptors,
    }))
    .unwrap();
    let manifest_digest = ferry_core::Digest::sha256_of(&manifest);
    std::fs::write(blobs.join(manifest_digest.encoded()), &manifest).unwrap();
    std::fs::write(
        path.join("index.json"),
        serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "manifests": [{
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": manifest_digest.to_string(),
                "size": manifest.len(),
                "annotations": {"org.opencontainers.image.ref.name": name},
            }],
        }))
        .unwrap(),
    )
    .unwrap();
    std::fs::write(
        path.join("oci-layout"),
        br#"{"imageLayoutVersion": "1.0.0"}"#,
    )
    .unwrap();
}
