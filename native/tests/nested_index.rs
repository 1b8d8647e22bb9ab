//! Copying an index whose entries are indexes (fixtures/nested-index: an
//! OCI index of a nested index of linux/amd64 and linux/arm64, and a
//! linux/riscv64 image). containers/image cannot (its issue #2076); ferry
//! copies nested indexes whole, children before parents, and platform
//! choices reach the images inside them.

mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferry::copy::{self, NoProgress, Settings};
use ferry::testing::Recording;
use ferry::transport::reference::Reference;
use ferry::transport::registry::RegistryOptions;
use ferry_core::Digest;
use ferry_core::plan::{CopyOptions, Selection};
use support::{Found, Scratch, check, ferry, stderr};

const TOP: &str = "sha256:128b09475903ed6931059bea70e791d8b73cc325abe294db73907b89805a2088";
const CHILD: &str = "sha256:42c47f7995a56036f10631bcf126e7923e79b459663c51942cb20fe5fd05b60e";
const AMD64: &str = "sha256:187f365e970f5af658092eda2bea7f04f4017f26bc1bde955777c13a2011a688";
const ARM64: &str = "sha256:6eaae1798c79020188daf904c70ebda207485e58390a804af7118d5f8b9d6bde";
const RISCV64: &str = "sha256:e11b4263cd2034367fe60b34384ef8b95bdc6d72836f5564b031597c4e6f319e";
/// Every manifest of the fixture: three images and two indexes.
const MANIFESTS: [&str; 5] = [TOP, CHILD, AMD64, ARM64, RISCV64];

fn fixture() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/nested-index");
    format!("oci:{}:nested", path.display())
}

/// `ferry copy --progress none ARGS`, which must succeed; its stdout.
fn copy_ok(args: &[&str]) -> String {
    let mut all = vec!["copy", "--progress", "none"];
    all.extend_from_slice(args);
    let out = ferry(&all);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn oci_blob(layout: &Path, digest: &str) -> PathBuf {
    layout
        .join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"))
}

fn dir_manifest(dir: &Path, digest: &str) -> PathBuf {
    dir.join(format!(
        "{}.manifest.json",
        digest.trim_start_matches("sha256:")
    ))
}

/// The destination passes the independent checker, which follows the
/// nested index down to every blob; its top-level digest is `TOP`.
fn assert_complete(reference: &str) {
    match check(reference).unwrap_or_else(|e| panic!("{reference}: {e}")) {
        Found::Images { tops, .. } => assert_eq!(tops, [TOP], "{reference}"),
        Found::Nothing => panic!("{reference}: nothing written"),
    }
}

/// Copies `--all` from `src` to `dst`, which must keep the top digest.
fn copy_all_keeping_the_top(src: &str, dst: &str) {
    assert_eq!(copy_ok(&["--all", src, dst]), TOP);
}

/// Every manifest of the nested index is a blob of the layout at `root`.
fn assert_every_manifest_in(root: &Path) {
    for manifest in MANIFESTS {
        assert!(oci_blob(root, manifest).is_file(), "{manifest} is missing");
    }
}

#[test]
fn all_copies_a_nested_index_between_oci_layouts_keeping_every_digest() {
    let s = Scratch::new("nested-oci");
    let dst = s.join("oci");
    copy_all_keeping_the_top(&fixture(), &format!("oci:{}", dst.display()));
    assert_complete(&format!("oci:{}", dst.display()));
    assert_every_manifest_in(&dst);
}

#[test]
fn all_copies_a_nested_index_into_a_dir() {
    let s = Scratch::new("nested-dir");
    let dst = s.join("dir");
    copy_all_keeping_the_top(&fixture(), &format!("dir:{}", dst.display()));
    assert_complete(&format!("dir:{}", dst.display()));
    let top = std::fs::read(dst.join("manifest.json")).unwrap();
    assert_eq!(Digest::sha256_of(&top).to_string(), TOP);
    for manifest in &MANIFESTS[1..] {
        assert!(
            dir_manifest(&dst, manifest).is_file(),
            "{manifest} is missing"
        );
    }
}

#[test]
fn all_copies_a_nested_index_into_an_oci_archive() {
    let s = Scratch::new("nested-archive");
    let dst = format!("oci-archive:{}", s.join("image.tar").display());
    copy_all_keeping_the_top(&fixture(), &dst);
    assert_complete(&dst);
    // And back out of the archive, whole.
    let back = s.join("back");
    copy_all_keeping_the_top(&dst, &format!("oci:{}", back.display()));
    assert_every_manifest_in(&back);
}

#[test]
fn all_copies_a_nested_index_from_a_dir_into_an_oci_layout() {
    let s = Scratch::new("nested-dir-oci");
    let dir = format!("dir:{}", s.join("dir").display());
    copy_ok(&["--all", &fixture(), &dir]);
    let dst = s.join("oci");
    copy_all_keeping_the_top(&dir, &format!("oci:{}", dst.display()));
    assert_complete(&format!("oci:{}", dst.display()));
    assert_every_manifest_in(&dst);
}

#[test]
fn a_platform_list_reaches_an_image_inside_a_nested_index() {
    let s = Scratch::new("nested-platform");
    let dst = s.join("oci");
    let digest = copy_ok(&[
        "--multi-arch",
        "linux/arm64",
        &fixture(),
        &format!("oci:{}", dst.display()),
    ]);
    // Sparse, as containers/image writes lists: both indexes unchanged,
    // only the arm64 image copied under them.
    assert_eq!(digest, TOP);
    for present in [TOP, CHILD, ARM64] {
        assert!(oci_blob(&dst, present).is_file(), "{present} is missing");
    }
    for absent in [AMD64, RISCV64] {
        assert!(!oci_blob(&dst, absent).exists(), "{absent} was copied");
    }
}

#[test]
fn stripping_around_a_platform_inside_a_nested_index_rewrites_both_indexes() {
    let s = Scratch::new("nested-strip");
    let dst = s.join("oci");
    let reference = format!("oci:{}", dst.display());
    let digest = copy_ok(&[
        "--multi-arch",
        "linux/arm64",
        "--strip-removed-platforms",
        &fixture(),
        &reference,
    ]);
    assert_ne!(digest, TOP);
    let top = ferry_core::List::parse(&std::fs::read(oci_blob(&dst, &digest)).unwrap()).unwrap();
    assert_eq!(top.entries.len(), 1);
    let child = &top.entries[0];
    assert_ne!(child.digest_text, CHILD);
    let nested =
        ferry_core::List::parse(&std::fs::read(oci_blob(&dst, &child.digest_text)).unwrap())
            .unwrap();
    let digests: Vec<&str> = nested
        .entries
        .iter()
        .map(|e| e.digest_text.as_str())
        .collect();
    assert_eq!(digests, [ARM64]);
    match check(&reference).unwrap() {
        Found::Images { tops, .. } => assert_eq!(tops, [digest]),
        Found::Nothing => panic!("nothing written"),
    }
}

#[test]
fn the_system_image_is_chosen_from_inside_a_nested_index() {
    let s = Scratch::new("nested-system");
    let dst = s.join("dir");
    let digest = copy_ok(&[
        "--override-os",
        "linux",
        "--override-arch",
        "arm64",
        &fixture(),
        &format!("dir:{}", dst.display()),
    ]);
    assert_eq!(digest, ARM64);
    let written = std::fs::read(dst.join("manifest.json")).unwrap();
    assert_eq!(Digest::sha256_of(&written).to_string(), ARM64);
}

#[test]
fn a_dry_run_counts_the_nested_manifests() {
    let s = Scratch::new("nested-dry-run");
    let dst = s.join("oci");
    let out = copy_ok(&[
        "--all",
        "--dry-run",
        "--json",
        &fixture(),
        &format!("oci:{}", dst.display()),
    ]);
    assert!(!dst.exists());
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let manifests = report["plan"]["manifests"].as_array().unwrap();
    let planned: Vec<(&str, &str)> = manifests
        .iter()
        .map(|m| {
            (
                m["role"].as_str().unwrap(),
                m["sourceDigest"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        planned,
        [
            ("instance", AMD64),
            ("instance", ARM64),
            ("instance", RISCV64),
            ("list", CHILD),
            ("list", TOP),
        ]
    );
    // Three configs and three layers.
    assert_eq!(report["plan"]["blobs"].as_array().unwrap().len(), 6);
}

/// What a destination was asked to do with manifests, in order.
#[derive(Debug, Clone, PartialEq)]
enum Call {
    Manifest { digest: String, instance: bool },
    Commit,
}

/// The manifest writes and the commit among what a destination recorded.
fn manifest_calls(calls: &[ferry::testing::Call]) -> Vec<Call> {
    calls
        .iter()
        .filter_map(|call| match call {
            ferry::testing::Call::PutManifest {
                digest, instance, ..
            } => Some(Call::Manifest {
                digest: digest.to_string(),
                instance: instance.is_some(),
            }),
            ferry::testing::Call::Commit { .. } => Some(Call::Commit),
            _ => None,
        })
        .collect()
}

/// `--all` from the fixture into an OCI layout at `dst`: the manifest
/// calls the destination saw.
async fn copy_all_recording(dst: &Path) -> Vec<Call> {
    let options = RegistryOptions::default();
    let src = Reference::parse(&fixture())
        .unwrap()
        .open_source(&options)
        .await
        .unwrap();
    let inner = Reference::parse(&format!("oci:{}", dst.display()))
        .unwrap()
        .open_destination(&options)
        .await
        .unwrap();
    let recording = Arc::new(Recording::boxed(inner, false));
    let copy_options = CopyOptions::new(Selection::All);
    copy::copy(
        Arc::from(src),
        recording.clone(),
        &copy_options,
        &Settings::default(),
        Arc::new(NoProgress),
    )
    .await
    .unwrap();
    manifest_calls(&recording.calls())
}

fn manifest(digest: &str, instance: bool) -> Call {
    Call::Manifest {
        digest: digest.into(),
        instance,
    }
}

#[tokio::test]
async fn the_nested_index_is_written_after_its_images_and_before_the_index_naming_it() {
    let s = Scratch::new("nested-order");
    let calls = copy_all_recording(&s.join("oci")).await;
    assert_eq!(
        calls,
        [
            manifest(AMD64, true),
            manifest(ARM64, true),
            manifest(RISCV64, true),
            manifest(CHILD, true),
            manifest(TOP, false),
            Call::Commit,
        ]
    );
}
