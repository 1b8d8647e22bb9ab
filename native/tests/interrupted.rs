//! A copy killed midway leaves the destination consistent, and running it
//! again finishes the job, skipping what is already there.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use ferry_core::{Digest, List, Manifest};

struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("ferry-interrupted-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Deterministic bytes that do not compress.
fn noise(seed: u64, len: usize) -> Vec<u8> {
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

/// A `dir:` image with a few large layers, so a copy takes long enough to
/// be interrupted.
fn big_image(root: &Path) {
    std::fs::create_dir_all(root).unwrap();
    let mut layers = Vec::new();
    for i in 0..4u64 {
        let blob = noise(i + 1, 12 * 1024 * 1024);
        let digest = Digest::sha256_of(&blob);
        std::fs::write(root.join(digest.encoded()), &blob).unwrap();
        layers.push(format!(
            r#"{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{digest}","size":{}}}"#,
            blob.len()
        ));
    }
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let config_digest = Digest::sha256_of(config);
    std::fs::write(root.join(config_digest.encoded()), config).unwrap();
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":{}}},"layers":[{}]}}"#,
        config.len(),
        layers.join(",")
    );
    std::fs::write(root.join("manifest.json"), manifest).unwrap();
    std::fs::write(root.join("version"), "Directory Transport Version: 1.1\n").unwrap();
}

/// Checks an OCI layout: every blob reachable from index.json exists and
/// has its digest; nothing temporary is visible under a final name.
fn check_layout(root: &Path) -> Result<usize, String> {
    let index_path = root.join("index.json");
    if !index_path.exists() {
        return Ok(0);
    }
    let index = List::parse_kind(
        &std::fs::read(&index_path).unwrap(),
        ferry_core::list::ListKind::OciIndex,
    )
    .map_err(|e| format!("index.json: {e}"))?;
    let blob = |d: &str| -> Result<Vec<u8>, String> {
        let digest = Digest::parse(d).map_err(|e| e.to_string())?;
        let bytes = std::fs::read(root.join("blobs/sha256").join(digest.encoded()))
            .map_err(|e| format!("{d}: {e}"))?;
        if !digest.matches(&bytes) {
            return Err(format!("{d}: content does not match"));
        }
        Ok(bytes)
    };
    let mut checked = 0;
    for entry in &index.entries {
        let manifest = Manifest::parse(&blob(&entry.digest_text)?).map_err(|e| e.to_string())?;
        blob(&manifest.config().digest_text)?;
        for layer in manifest.layers() {
            blob(&layer.descriptor.digest_text)?;
            checked += 1;
        }
    }
    Ok(checked)
}

#[test]
fn a_killed_copy_leaves_a_consistent_layout_and_a_rerun_finishes_it() {
    let s = Scratch::new("kill");
    let (src, dst) = (s.0.join("src"), s.0.join("dst"));
    big_image(&src);
    let args = |extra: &[&str]| {
        let mut v: Vec<String> = vec![
            "copy".into(),
            "--progress".into(),
            "none".into(),
            "--jobs".into(),
            "1".into(),
        ];
        v.extend(extra.iter().map(|s| s.to_string()));
        v.push(format!("dir:{}", src.display()));
        v.push(format!("oci:{}:big", dst.display()));
        v
    };
    for delay_ms in [30u64, 200, 800] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ferry"))
            .args(args(&[]))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        check_layout(&dst).unwrap_or_else(|e| panic!("after a kill at {delay_ms} ms: {e}"));
    }
    let out = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(args(&["--json"]))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(check_layout(&dst).unwrap(), 4);
    let copied = report["blobsCopied"].as_u64().unwrap();
    let skipped = report["blobsSkipped"].as_u64().unwrap();
    assert_eq!(copied + skipped, 5, "{report}");
    println!("rerun after interruptions: {copied} blob(s) copied, {skipped} skipped");
}
