//! What the fault and hostile-input tests share: a checker that walks a
//! destination (`dir:`, `oci:`, `oci-archive:`, `docker-archive:`) and
//! verifies every digest
//! reachable from its entry point, test images big enough to interrupt,
//! scratch directories, sentinels, and a small tmpfs that is unmounted when
//! dropped.
//!
//! The checker is written independently of ferry's transports (it reads
//! files with `std::fs` and archives with `tar`), so a transport bug cannot
//! hide itself by also being in the checker.

// Each test file uses a different part of this module.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ferry_core::media_type as mt;
use ferry_core::{Descriptor, Digest, List, Manifest};

/// The ferry binary under test.
pub fn ferry_bin() -> &'static str {
    env!("CARGO_BIN_EXE_ferry")
}

/// The home directory tests give ferry (`tests/fixtures/home`): its
/// policy accepts anything, so nothing comes from the machine's home.
pub fn test_home() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/home")
}

/// `ferry` with [`test_home`] as `HOME`.
pub fn ferry_command() -> Command {
    let mut command = Command::new(ferry_bin());
    command.env("HOME", test_home());
    // No blob info cache in the fixtures' home.
    command.env("FERRY_BLOB_INFO_CACHE", "off");
    command
}

/// Runs `ferry ARGS` and waits for it.
pub fn ferry(args: &[&str]) -> Output {
    ferry_command().args(args).output().expect("run ferry")
}

/// `ferry copy SRC DST`, one transfer at a time, with `tmpdir` as TMPDIR:
/// archive copies stage there, and a killed copy's staging stays inside
/// the test's scratch directory. Output is not read; stderr is kept.
pub fn copy_command(src: &str, dst: &str, tmpdir: &Path) -> Command {
    let mut command = ferry_command();
    command
        .args(["copy", "--progress", "none", "--jobs", "1", src, dst])
        .env("TMPDIR", tmpdir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    command
}

/// [`copy_command`] run to its end, which must be a success.
pub fn copy_succeeds(src: &str, dst: &str, tmpdir: &Path) {
    let out = copy_command(src, dst, tmpdir).output().expect("run ferry");
    assert!(
        out.status.success(),
        "{src} -> {dst}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The trimmed stdout of a run that must have succeeded.
pub fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}\n{}",
        stderr(&out),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

// Each test file uses part of the shared rule (its `require` is for
// registry tests).
#[path = "../../../tests/src/skopeo.rs"]
pub mod skopeo_check;

/// Whether to run the comparison with skopeo that follows: a missing
/// skopeo fails the test unless `FERRY_SKIP_SKOPEO=1`.
pub fn compare_with_skopeo(what: &str) -> bool {
    skopeo_check::available(what)
}

/// Runs skopeo without a signature policy; call [`compare_with_skopeo`]
/// first.
pub fn skopeo(args: &[&str]) -> Output {
    Command::new(skopeo_check::PROGRAM)
        .args(["--insecure-policy"])
        .args(args)
        .output()
        .expect("skopeo is installed (scripts/install-deps.sh services)")
}

/// `data` gzip-compressed.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

/// A tar holding one file, `name`, with `content`.
pub fn tar_of(name: &str, content: &[u8]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_ustar();
    header.set_size(content.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    builder.append_data(&mut header, name, content).unwrap();
    builder.into_inner().unwrap()
}

/// An OCI layout at `root` whose `index.json` is `index`, with `blobs`
/// stored under their sha256 digests.
pub fn write_layout(root: &Path, index: &[u8], blobs: &[&[u8]]) {
    std::fs::create_dir_all(root.join("blobs/sha256")).unwrap();
    std::fs::write(
        root.join("oci-layout"),
        r#"{"imageLayoutVersion": "1.0.0"}"#,
    )
    .unwrap();
    std::fs::write(root.join("index.json"), index).unwrap();
    for blob in blobs {
        let d = Digest::sha256_of(blob);
        std::fs::write(root.join("blobs/sha256").join(d.encoded()), blob).unwrap();
    }
}

/// An honest `index.json` whose one entry is `top`, of `media_type`.
pub fn index_for(top: &[u8], media_type: &str) -> Vec<u8> {
    format!(
        r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"{media_type}","digest":"{}","size":{}}}]}}"#,
        Digest::sha256_of(top),
        top.len()
    )
    .into_bytes()
}

/// Packs the OCI layout at `layout` into the tar `archive` (an
/// `oci-archive:`) with the system's tar.
pub fn tar_layout(layout: &Path, archive: &Path) {
    let status = Command::new("tar")
        .arg("-cf")
        .arg(archive)
        .arg("-C")
        .arg(layout)
        .args(["oci-layout", "index.json", "blobs"])
        .status()
        .unwrap();
    assert!(status.success());
}

/// A directory removed when dropped, unique to the test and the process.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(test: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("ferry-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create scratch directory");
        Scratch(dir)
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// [`Scratch::join`] as text, for a reference.
    pub fn path(&self, name: &str) -> String {
        self.0.join(name).to_str().unwrap().to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A tmpfs of a fixed size, unmounted (and its mount point removed) when
/// dropped, so a failing test does not leave a mount behind.
pub struct Tmpfs {
    pub path: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (`mount -o size=…` syntax) at `path`.
    /// Needs root; the tests that use it say so when it fails.
    pub fn mount(path: &Path, size: &str) -> Self {
        std::fs::create_dir_all(path).expect("create mount point");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "mounting a {size} tmpfs at {} needs root: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs {
            path: path.to_path_buf(),
        }
    }

    /// Remounts it read-only (or read-write again).
    pub fn set_read_only(&self, read_only: bool) {
        let option = if read_only {
            "remount,ro"
        } else {
            "remount,rw"
        };
        let out = Command::new("mount")
            .args(["-o", option])
            .arg(&self.path)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "{option} {}: {}",
            self.path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.path)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            // Busy (a child still running): detach it rather than leak it.
            let _ = Command::new("umount").arg("-l").arg(&self.path).status();
        }
        let _ = std::fs::remove_dir(&self.path);
    }
}

/// Deterministic bytes that do not compress.
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2).wrapping_add(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A small seeded generator for test choices (delays, offsets); the seed
/// is printed by the tests so a failure can be replayed.
pub struct Rng(u64);

impl Rng {
    /// Seeded from `FERRY_TEST_SEED` if set, else from the clock.
    pub fn from_env_or_clock() -> (Self, u64) {
        let seed = std::env::var("FERRY_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(1)
            });
        (Rng(seed | 1), seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Writes a one-platform OCI image as a `dir:` image: `layers` layers of
/// `layer_size` noise bytes each, seeded so that different seeds give
/// different images. Returns the manifest's digest.
pub fn write_dir_image(root: &Path, seed: u64, layers: usize, layer_size: usize) -> String {
    write_dir_image_of(root, seed, layers, layer_size, false)
}

/// As [`write_dir_image`], with uncompressed layers
/// (`application/vnd.oci.image.layer.v1.tar`) whose digests are also the
/// config's `diff_ids`, as a real image's are: what `docker-archive:`, which
/// stores layers uncompressed, takes without decompressing anything.
pub fn write_dir_image_uncompressed(
    root: &Path,
    seed: u64,
    layers: usize,
    layer_size: usize,
) -> String {
    write_dir_image_of(root, seed, layers, layer_size, true)
}

/// [`write_dir_image`] (gzip layer type, empty `diff_ids`) or, when
/// `uncompressed`, [`write_dir_image_uncompressed`].
fn write_dir_image_of(
    root: &Path,
    seed: u64,
    layers: usize,
    layer_size: usize,
    uncompressed: bool,
) -> String {
    let layer_type = if uncompressed {
        "application/vnd.oci.image.layer.v1.tar"
    } else {
        "application/vnd.oci.image.layer.v1.tar+gzip"
    };
    std::fs::create_dir_all(root).expect("create image directory");
    let mut descriptors = Vec::new();
    let mut diff_ids = Vec::new();
    for i in 0..layers as u64 {
        let blob = noise(seed * 1000 + i + 1, layer_size);
        let digest = Digest::sha256_of(&blob);
        std::fs::write(root.join(digest.encoded()), &blob).expect("write layer");
        descriptors.push(format!(
            r#"{{"mediaType":"{layer_type}","digest":"{digest}","size":{}}}"#,
            blob.len()
        ));
        if uncompressed {
            diff_ids.push(format!("\"{digest}\""));
        }
    }
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":[{}]}},"seed":{seed}}}"#,
        diff_ids.join(",")
    );
    let config_digest = Digest::sha256_of(config.as_bytes());
    std::fs::write(root.join(config_digest.encoded()), &config).expect("write config");
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":{}}},"layers":[{}]}}"#,
        config.len(),
        descriptors.join(",")
    );
    std::fs::write(root.join("manifest.json"), &manifest).expect("write manifest");
    std::fs::write(root.join("version"), "Directory Transport Version: 1.1\n")
        .expect("write version");
    Digest::sha256_of(manifest.as_bytes()).to_string()
}

/// What a destination holds, as far as its entry point says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// No entry point: nothing was ever committed.
    Nothing,
    /// Top-level manifest digests (one for `dir:`, one per `index.json`
    /// entry for layouts; for `docker-archive:`, which has no manifest,
    /// each image's config digest), and how many blobs were verified
    /// under them.
    Images { tops: Vec<String>, blobs: usize },
}

impl Found {
    pub fn tops(&self) -> Vec<String> {
        match self {
            Found::Nothing => Vec::new(),
            Found::Images { tops, .. } => tops.clone(),
        }
    }
}

/// Checks a destination given as a ferry reference (`dir:`, `oci:`,
/// `oci-archive:` or `docker-archive:`, without a `:NAME`).
pub fn check(reference: &str) -> Result<Found, String> {
    if let Some(rest) = reference.strip_prefix("docker-archive:") {
        // As in ferry, the path ends at the first colon.
        let path = rest.split_once(':').map_or(rest, |(p, _)| p);
        check_docker_archive(Path::new(path))
    } else if let Some(path) = reference.strip_prefix("dir:") {
        check_dir(Path::new(path))
    } else if let Some(path) = reference.strip_prefix("oci-archive:") {
        check_oci_archive(Path::new(path))
    } else if let Some(path) = reference.strip_prefix("oci:") {
        check_oci(Path::new(path))
    } else {
        Err(format!("the checker does not know {reference:?}"))
    }
}

/// Reads a file that must hold exactly `descriptor`'s content.
fn read_verified(path: &Path, descriptor: &Descriptor) -> Result<Vec<u8>, String> {
    let digest = Digest::parse(&descriptor.digest_text)
        .map_err(|e| format!("{:?}: {e}", descriptor.digest_text))?;
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if !digest.matches(&bytes) {
        return Err(format!(
            "{}: content has digest {}, the manifest says {digest}",
            path.display(),
            Digest::of(digest.algorithm(), &bytes)
        ));
    }
    if descriptor.size >= 0 && descriptor.size as usize != bytes.len() {
        return Err(format!(
            "{}: {} bytes, the manifest says {}",
            path.display(),
            bytes.len(),
            descriptor.size
        ));
    }
    Ok(bytes)
}

/// Verifies an image manifest's config and layers, found by `locate`.
fn check_image(
    manifest: &[u8],
    what: &str,
    locate: &dyn Fn(&Digest) -> PathBuf,
) -> Result<usize, String> {
    let manifest = Manifest::parse(manifest).map_err(|e| format!("{what}: {e}"))?;
    let mut blobs = Vec::new();
    let config = manifest.config();
    if !config.digest_text.is_empty() {
        blobs.push(config);
    }
    blobs.extend(manifest.layers().into_iter().map(|l| l.descriptor));
    for blob in &blobs {
        let digest = Digest::parse(&blob.digest_text)
            .map_err(|e| format!("{what}: blob {:?}: {e}", blob.digest_text))?;
        read_verified(&locate(&digest), blob)?;
    }
    Ok(blobs.len())
}

/// What `open` makes of `path`; `None` when there is nothing there.
fn present<'a, T>(
    path: &'a Path,
    open: impl FnOnce(&'a Path) -> std::io::Result<T>,
) -> Result<Option<T>, String> {
    match open(path) {
        Ok(found) => Ok(Some(found)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// `dir:`: `manifest.json`, its instances' `<hex>.manifest.json` if it is
/// a list (and theirs, for nested lists), and every config and layer file,
/// each against its digest.
pub fn check_dir(root: &Path) -> Result<Found, String> {
    let top_path = root.join("manifest.json");
    let Some(top) = present(&top_path, std::fs::read)? else {
        return Ok(Found::Nothing);
    };
    let version = std::fs::read(root.join("version")).map_err(|e| format!("version: {e}"))?;
    if version != b"Directory Transport Version: 1.1\n" {
        return Err(format!(
            "version file says {:?}",
            String::from_utf8_lossy(&version)
        ));
    }
    let top_digest =
        ferry_core::manifest::digest(&top).map_err(|e| format!("{}: {e}", top_path.display()))?;
    let locate = |d: &Digest| root.join(d.encoded());
    let blobs = if mt::is_list(&ferry_core::manifest::guess_media_type(&top)) {
        let list = List::parse(&top).map_err(|e| format!("{}: {e}", top_path.display()))?;
        let mut blobs = 0;
        for entry in &list.entries {
            blobs += check_dir_entry(root, entry, &locate, 0)?;
        }
        blobs
    } else {
        check_image(&top, &top_path.display().to_string(), &locate)?
    };
    Ok(Found::Images {
        tops: vec![top_digest.to_string()],
        blobs,
    })
}

/// The digest of a list's entry `depth` lists down, at most 8 (`lists`
/// names them in the error); `label` goes before the digest when it is
/// invalid.
fn nested_digest(
    entry: &Descriptor,
    depth: usize,
    lists: &str,
    label: &str,
) -> Result<Digest, String> {
    if depth > 8 {
        return Err(format!("{}: {lists} nested too deep", entry.digest_text));
    }
    Digest::parse(&entry.digest_text).map_err(|e| format!("{label}{:?}: {e}", entry.digest_text))
}

/// One instance of a list in a `dir:`: `<hex>.manifest.json`, an image's
/// blobs, or a nested list's own instances.
fn check_dir_entry(
    root: &Path,
    entry: &Descriptor,
    locate: &dyn Fn(&Digest) -> PathBuf,
    depth: usize,
) -> Result<usize, String> {
    let digest = nested_digest(entry, depth, "lists", "instance ")?;
    let path = root.join(format!("{}.manifest.json", digest.encoded()));
    let bytes = read_verified(&path, entry)?;
    if mt::is_list(&entry.media_type) {
        let list = List::parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut blobs = 0;
        for child in &list.entries {
            blobs += check_dir_entry(root, child, locate, depth + 1)?;
        }
        Ok(blobs)
    } else {
        check_image(&bytes, &path.display().to_string(), locate)
    }
}

/// `oci:`: `oci-layout`, `index.json`, and under each entry every
/// manifest, nested index, config and layer in `blobs/`.
pub fn check_oci(root: &Path) -> Result<Found, String> {
    let index_path = root.join("index.json");
    let Some(index) = present(&index_path, std::fs::read)? else {
        return Ok(Found::Nothing);
    };
    let layout = std::fs::read(root.join("oci-layout")).map_err(|e| format!("oci-layout: {e}"))?;
    let layout: serde_json::Value =
        serde_json::from_slice(&layout).map_err(|e| format!("oci-layout: {e}"))?;
    if layout["imageLayoutVersion"] != "1.0.0" {
        return Err(format!("oci-layout says {layout}"));
    }
    let index = List::parse_kind(&index, ferry_core::list::ListKind::OciIndex)
        .map_err(|e| format!("{}: {e}", index_path.display()))?;
    if index.entries.is_empty() {
        return Ok(Found::Nothing);
    }
    let locate = |d: &Digest| {
        root.join("blobs")
            .join(d.algorithm().name())
            .join(d.encoded())
    };
    let mut tops = Vec::new();
    let mut blobs = 0;
    for entry in &index.entries {
        tops.push(entry.digest_text.clone());
        blobs += check_oci_entry(entry, &locate, 0)?;
    }
    Ok(Found::Images { tops, blobs })
}

fn check_oci_entry(
    entry: &Descriptor,
    locate: &dyn Fn(&Digest) -> PathBuf,
    depth: usize,
) -> Result<usize, String> {
    let digest = nested_digest(entry, depth, "indexes", "")?;
    let path = locate(&digest);
    let bytes = read_verified(&path, entry)?;
    if mt::is_list(&entry.media_type)
        || mt::is_list(&ferry_core::manifest::guess_media_type(&bytes))
    {
        let list = List::parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut blobs = 1;
        for child in &list.entries {
            blobs += check_oci_entry(child, locate, depth + 1)?;
        }
        Ok(blobs)
    } else {
        Ok(1 + check_image(&bytes, &path.display().to_string(), locate)?)
    }
}

/// `oci-archive:`: the archive is unpacked with `tar` into a scratch
/// directory and checked as a layout. A missing file is `Nothing`.
pub fn check_oci_archive(path: &Path) -> Result<Found, String> {
    let Some(file) = present(path, std::fs::File::open)? else {
        return Ok(Found::Nothing);
    };
    let unpacked = tempfile::tempdir().map_err(|e| e.to_string())?;
    tar::Archive::new(file)
        .unpack(unpacked.path())
        .map_err(|e| format!("{}: not a readable tar: {e}", path.display()))?;
    match check_oci(unpacked.path())? {
        Found::Nothing => Err(format!("{}: an archive without an image", path.display())),
        found => Ok(found),
    }
}

/// `docker-archive:`: the archive is unpacked with `tar`; `manifest.json`
/// names each image's config and layers. Every file must hold what its
/// name (`<hex>.json`, `<hex>.tar`, as ferry writes them) says, and the
/// layers must be the config's `diff_ids` in order. A missing or empty
/// file is `Nothing`: ferry, like containers/image, writes into an empty
/// file (as `mktemp` leaves one) but never into a non-empty one.
pub fn check_docker_archive(path: &Path) -> Result<Found, String> {
    let Some(file) = present(path, std::fs::File::open)? else {
        return Ok(Found::Nothing);
    };
    if file.metadata().map_err(|e| e.to_string())?.len() == 0 {
        return Ok(Found::Nothing);
    }
    let unpacked = tempfile::tempdir().map_err(|e| e.to_string())?;
    let root = unpacked.path();
    tar::Archive::new(file)
        .unpack(root)
        .map_err(|e| format!("{}: not a readable tar: {e}", path.display()))?;
    let at = |name: &str| format!("{}: {name}", path.display());
    let manifest = std::fs::read(root.join("manifest.json"))
        .map_err(|e| at(&format!("manifest.json: {e}")))?;
    let items: Vec<serde_json::Value> =
        serde_json::from_slice(&manifest).map_err(|e| at(&format!("manifest.json: {e}")))?;
    if items.is_empty() {
        return Err(at("manifest.json lists no image"));
    }
    // A file named `<hex>.<ext>` holding content whose sha256 is `<hex>`.
    let named_by_digest = |name: &str, ext: &str| -> Result<(Digest, Vec<u8>), String> {
        let hex = name
            .strip_suffix(ext)
            .ok_or_else(|| at(&format!("{name:?} is not <hex>{ext}")))?;
        let digest =
            Digest::parse(&format!("sha256:{hex}")).map_err(|e| at(&format!("{name:?}: {e}")))?;
        let bytes = std::fs::read(root.join(name)).map_err(|e| at(&format!("{name}: {e}")))?;
        if !digest.matches(&bytes) {
            return Err(at(&format!(
                "{name}: content has digest {}",
                Digest::sha256_of(&bytes)
            )));
        }
        Ok((digest, bytes))
    };
    let mut tops = Vec::new();
    let mut blobs = 0;
    for (i, item) in items.iter().enumerate() {
        let config_name = item["Config"]
            .as_str()
            .ok_or_else(|| at(&format!("manifest.json /{i}/Config is not a string")))?;
        let (config_digest, config) = named_by_digest(config_name, ".json")?;
        let config: serde_json::Value =
            serde_json::from_slice(&config).map_err(|e| at(&format!("{config_name}: {e}")))?;
        let diff_ids: Vec<&str> = config["rootfs"]["diff_ids"]
            .as_array()
            .map(|ids| ids.iter().filter_map(|d| d.as_str()).collect())
            .unwrap_or_default();
        let layers = item["Layers"]
            .as_array()
            .ok_or_else(|| at(&format!("manifest.json /{i}/Layers is not an array")))?;
        if layers.len() != diff_ids.len() {
            return Err(at(&format!(
                "image {i}: {} layers, but the config has {} diff_ids",
                layers.len(),
                diff_ids.len()
            )));
        }
        for (layer, diff_id) in layers.iter().zip(&diff_ids) {
            let name = layer
                .as_str()
                .ok_or_else(|| at(&format!("manifest.json /{i}/Layers holds a non-string")))?;
            let (digest, _) = named_by_digest(name, ".tar")?;
            if digest.as_str() != *diff_id {
                return Err(at(&format!("{name}: the config's diff_id is {diff_id}")));
            }
        }
        tops.push(config_digest.to_string());
        blobs += 1 + layers.len();
    }
    Ok(Found::Images { tops, blobs })
}

/// ferry's staging directories (`ferry-staging-*`) in a temporary
/// directory.
pub fn staging_dirs(tmpdir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(tmpdir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .starts_with("ferry-staging-")
                })
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    dirs
}

pub use ferry::testing::snapshot;

/// Creates a FIFO at `path`: anything that opens it for reading blocks,
/// so a test that finishes proves nothing read it.
pub fn fifo(path: &Path) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("create FIFO directory");
    let ok = Command::new("mkfifo")
        .arg(path)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "mkfifo {}", path.display());
}

/// Runs ferry, failing the test (and killing ferry) if it has not finished
/// in `limit`: a ferry blocked opening a FIFO trap read outside where it
/// should.
pub fn ferry_within(args: &[&str], limit: std::time::Duration) -> Output {
    let mut child = ferry_command()
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn ferry");
    let started = std::time::Instant::now();
    loop {
        if child.try_wait().expect("wait for ferry").is_some() {
            return child.wait_with_output().expect("collect ferry's output");
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("ferry {args:?} did not finish within {limit:?}: blocked on a FIFO trap?");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// A directory with one known file, placed beside a destination: tests
/// check it is unchanged (nothing written outside the destination).
pub struct Sentinel {
    pub dir: PathBuf,
    before: BTreeMap<String, String>,
}

impl Sentinel {
    pub fn new(dir: PathBuf) -> Self {
        std::fs::create_dir_all(&dir).expect("create sentinel directory");
        std::fs::write(dir.join("passwd"), "root:x:0:0:sentinel\n").expect("write sentinel");
        let before = snapshot(&dir);
        Sentinel { dir, before }
    }

    /// Panics if anything under the sentinel directory changed.
    pub fn assert_untouched(&self, context: &str) {
        assert_eq!(
            snapshot(&self.dir),
            self.before,
            "{context}: something was written into {}",
            self.dir.display()
        );
    }
}

/// One `#[test]` per row, each calling `helper` with its row's arguments:
/// for tests that are one scenario run with different inputs, each named
/// for the behaviour it shows.
///
/// ```ignore
/// one_test_per_row! {
///     scenario:
///     first_behaviour("a", 1);
///     second_behaviour("b", 2);
/// }
/// ```
#[allow(unused_macros)]
macro_rules! one_test_per_row {
    ($helper:ident: $($name:ident($($arg:expr),* $(,)?);)+) => {
        $(
            #[test]
            fn $name() {
                $helper($($arg),*);
            }
        )+
    };
}
#[allow(unused_imports)]
pub(crate) use one_test_per_row;

/// A `dir:` image at `root` of `layers`, each `(bytes, media type)`, whose
/// config names `diff_ids`; returns the manifest's digest.
pub fn write_dir_image_of_layers(
    root: &Path,
    layers: &[(Vec<u8>, &str)],
    diff_ids: &[Digest],
) -> String {
    std::fs::create_dir_all(root).expect("create image directory");
    let mut descriptors = Vec::new();
    for (blob, media_type) in layers {
        let digest = Digest::sha256_of(blob);
        std::fs::write(root.join(digest.encoded()), blob).expect("write layer");
        descriptors.push(format!(
            r#"{{"mediaType":"{media_type}","digest":"{digest}","size":{}}}"#,
            blob.len()
        ));
    }
    let diff_ids: Vec<String> = diff_ids.iter().map(|d| format!("\"{d}\"")).collect();
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":[{}]}}}}"#,
        diff_ids.join(",")
    );
    let config_digest = Digest::sha256_of(config.as_bytes());
    std::fs::write(root.join(config_digest.encoded()), &config).expect("write config");
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":{}}},"layers":[{}]}}"#,
        config.len(),
        descriptors.join(",")
    );
    std::fs::write(root.join("manifest.json"), &manifest).expect("write manifest");
    std::fs::write(root.join("version"), "Directory Transport Version: 1.1\n")
        .expect("write version");
    Digest::sha256_of(manifest.as_bytes()).to_string()
}
