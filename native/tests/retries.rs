//! Which failed blob transfers are fetched again. ferry-core's rule
//! (`ferry_core::retry`) decides; these tests show it at work on local
//! sources, whose content cannot change between two reads: a blob stored
//! wrong, or one that does not decode as its media type says, is refused
//! at once rather than read again with backoff. (Registries, where a
//! transfer can be damaged in transit, are tested in ferry-tests'
//! `registry_faults` and `registry_hostile`.)

mod support;

use std::path::Path;
use std::process::Output;

use support::{Scratch, copy_succeeds, ferry, stderr, write_dir_image, write_dir_image_of_layers};

/// The retry events of a JSON progress stream.
fn retries(out: &Output) -> usize {
    stderr(out).matches(r#""event":"retried""#).count()
}

/// `ferry copy` with three retries a blob and JSON progress.
fn copy_with_retries(src: &str, dst: &str, tmpdir: &Path) -> Output {
    let out = std::process::Command::new(support::ferry_bin())
        .args(["copy", "--progress", "json", "--retry-times", "3", src, dst])
        .env("TMPDIR", tmpdir)
        .output()
        .expect("run ferry");
    assert!(!out.status.success(), "the copy succeeded");
    out
}

/// The layer of the one-layer `dir:` image at `root`.
fn only_layer(root: &Path) -> Vec<u8> {
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("manifest.json")).unwrap()).unwrap();
    let digest = manifest["layers"][0]["digest"].as_str().unwrap();
    std::fs::read(root.join(digest.strip_prefix("sha256:").unwrap())).unwrap()
}

/// Flips a byte in the middle of `content` where it is in the file at
/// `path`.
fn flip_byte_of(path: &Path, content: &[u8]) {
    let mut bytes = std::fs::read(path).unwrap();
    let at = bytes
        .windows(64)
        .position(|w| w == &content[..64])
        .expect("content is in the file");
    bytes[at + content.len() / 2] ^= 0xff;
    std::fs::write(path, bytes).unwrap();
}

/// A one-layer 64 KiB `dir:` image, seeded with `seed`, in `s`.
fn image_in(s: &Scratch, seed: u64) -> std::path::PathBuf {
    let image = s.join("image");
    write_dir_image(&image, seed, 1, 64 * 1024);
    image
}

/// The copy failed saying `says`, without retrying.
fn assert_failed_without_retries(out: &Output, says: &str) {
    assert!(stderr(out).contains(says), "{}", stderr(out));
    assert_eq!(retries(out), 0, "{}", stderr(out));
}

#[test]
fn a_blob_stored_wrong_in_a_dir_image_is_read_once() {
    let s = Scratch::new("retries-dir");
    let image = image_in(&s, 1);
    let layer = only_layer(&image);
    let digest = ferry_core::Digest::sha256_of(&layer);
    flip_byte_of(&image.join(digest.encoded()), &layer);
    let out = copy_with_retries(
        &format!("dir:{}", image.display()),
        &format!("oci:{}:v1", s.join("out").display()),
        &s.0,
    );
    assert_failed_without_retries(&out, "content has digest");
}

#[test]
fn a_blob_stored_wrong_in_an_oci_archive_is_read_once() {
    let s = Scratch::new("retries-archive");
    let image = image_in(&s, 2);
    let layer = only_layer(&image);
    let archive = s.join("image.tar");
    copy_succeeds(
        &format!("dir:{}", image.display()),
        &format!("oci-archive:{}", archive.display()),
        &s.0,
    );
    flip_byte_of(&archive, &layer);
    let out = copy_with_retries(
        &format!("oci-archive:{}", archive.display()),
        &format!("dir:{}", s.join("out").display()),
        &s.0,
    );
    assert_failed_without_retries(&out, "content has digest");
}

#[test]
fn a_layer_that_does_not_decompress_is_read_once() {
    // The layer starts as gzip does and is noise after: docker-archive,
    // which stores layers uncompressed, cannot decompress it.
    let s = Scratch::new("retries-gzip");
    let image = s.join("image");
    let mut layer = vec![0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff];
    layer.extend(support::noise(3, 64 * 1024));
    write_dir_image_of_layers(
        &image,
        &[(layer, "application/vnd.oci.image.layer.v1.tar+gzip")],
        &[],
    );
    let out = copy_with_retries(
        &format!("dir:{}", image.display()),
        &format!("docker-archive:{}", s.join("out.tar").display()),
        &s.0,
    );
    assert_failed_without_retries(&out, "decompress");
}

#[test]
fn an_intact_image_copies_without_retries() {
    let s = Scratch::new("retries-intact");
    let image = image_in(&s, 4);
    let out = ferry(&[
        "copy",
        "--progress",
        "json",
        &format!("dir:{}", image.display()),
        &format!("oci:{}:v1", s.join("out").display()),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(retries(&out), 0);
}
