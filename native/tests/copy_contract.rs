//! The copy engine against the destination contract: each copy writes
//! through `Recording::strict`, which refuses (and lists) any call the
//! documented order forbids at that point, around a real destination.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ferry::copy::{self, CopyError, NoProgress, Report, Settings};
use ferry::testing::{Call, Recording};
use ferry::transport::ImageDestination;
use ferry::transport::reference::Reference;
use ferry::transport::registry::RegistryOptions;
use ferry_core::plan::{CopyOptions, Selection};
use ferry_core::{Digest, List, Platform};
use support::{Scratch, gzip, noise, write_dir_image_of_layers};

const NESTED_TOP: &str = "sha256:128b09475903ed6931059bea70e791d8b73cc325abe294db73907b89805a2088";

fn nested_fixture() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/nested-index");
    format!("oci:{}:nested", path.display())
}

fn options(selection: Selection) -> CopyOptions {
    CopyOptions::new(selection)
}

async fn open_destination(reference: &str) -> Box<dyn ImageDestination> {
    Reference::parse(reference)
        .unwrap()
        .open_destination(&RegistryOptions::default())
        .await
        .unwrap()
}

/// Copies `src` into the strict fake around `dst`, one blob at a time or
/// six (the default), and returns the fake with the copy's result.
async fn copy_strictly(
    src: &str,
    dst: &str,
    selection: Selection,
    jobs: usize,
) -> (Arc<Recording>, Result<Report, CopyError>) {
    let source = Reference::parse(src)
        .unwrap()
        .open_source(&RegistryOptions::default())
        .await
        .unwrap();
    let strict = Arc::new(Recording::boxed(open_destination(dst).await, true));
    let settings = Settings {
        jobs,
        ..Settings::default()
    };
    let result = copy::copy(
        Arc::from(source),
        strict.clone(),
        &options(selection),
        &settings,
        Arc::new(NoProgress),
    )
    .await;
    (strict, result)
}

/// The manifests written, in order: (digest, whether as an instance).
fn manifests(calls: &[Call]) -> Vec<(String, bool)> {
    calls
        .iter()
        .filter_map(|c| match c {
            Call::PutManifest {
                digest,
                instance,
                refused: None,
                ..
            } => Some((digest.to_string(), instance.is_some())),
            _ => None,
        })
        .collect()
}

/// `demo:`, all of it, copied into `dir:` with a signature on the list
/// and two on one instance: a signed list. Returns the instance.
async fn signed_demo_dir(root: &Path) -> Digest {
    let src = Reference::Demo
        .open_source(&RegistryOptions::default())
        .await
        .unwrap();
    let dst = open_destination(&format!("dir:{}", root.display())).await;
    copy::copy(
        Arc::from(src),
        Arc::from(dst),
        &options(Selection::All),
        &Settings::default(),
        Arc::new(NoProgress),
    )
    .await
    .unwrap();
    let list = List::parse(&std::fs::read(root.join("manifest.json")).unwrap()).unwrap();
    let instance = list.entries[2].digest().unwrap();
    std::fs::write(root.join("signature-1"), b"list signature").unwrap();
    for n in 1..=2 {
        std::fs::write(
            root.join(format!("{}.signature-{n}", instance.encoded())),
            format!("instance signature {n}"),
        )
        .unwrap();
    }
    instance
}

/// Copies the demo image for `platform` to `dst` through a strict
/// recording, which must see the contract kept.
async fn copy_one_demo_image_strictly(dst: &str, platform: Platform) -> Arc<Recording> {
    let (strict, result) = copy_strictly("demo:", dst, Selection::System(platform), 6).await;
    result.unwrap();
    strict.assert_contract_kept();
    strict
}

#[tokio::test]
async fn a_single_image_is_written_in_contract_order() {
    let s = Scratch::new("contract-single");
    let arm64 = Platform::new("linux", "arm64", "v8");
    let oci = format!("oci:{}", s.join("oci").display());
    let strict = copy_one_demo_image_strictly(&oci, arm64).await;
    let written = manifests(&strict.calls());
    assert_eq!(written.len(), 1, "{written:?}");
    assert!(!written[0].1, "written as an instance");
}

#[tokio::test]
async fn a_single_image_into_a_docker_archive_is_written_in_contract_order() {
    let s = Scratch::new("contract-single-archive");
    let amd64 = Platform::new("linux", "amd64", "");
    let archive = format!("docker-archive:{}", s.join("image.tar").display());
    copy_one_demo_image_strictly(&archive, amd64).await;
}

#[tokio::test]
async fn a_list_with_all_is_written_in_contract_order() {
    let s = Scratch::new("contract-all");
    for jobs in [1, 6] {
        let dst = s.join(&format!("oci-{jobs}"));
        let (strict, result) = copy_strictly(
            "demo:",
            &format!("oci:{}", dst.display()),
            Selection::All,
            jobs,
        )
        .await;
        let report = result.unwrap();
        strict.assert_contract_kept();
        let written = manifests(&strict.calls());
        let instances = written.iter().filter(|(_, instance)| *instance).count();
        assert_eq!(instances, 4, "{written:?}");
        assert_eq!(written.last(), Some(&(report.digest.clone(), false)));
    }
}

#[tokio::test]
async fn a_nested_index_is_written_in_contract_order() {
    let s = Scratch::new("contract-nested");
    for dst in [
        format!("oci:{}", s.join("oci").display()),
        format!("dir:{}", s.join("dir").display()),
    ] {
        let (strict, result) = copy_strictly(&nested_fixture(), &dst, Selection::All, 6).await;
        assert_eq!(result.unwrap().digest, NESTED_TOP, "{dst}");
        strict.assert_contract_kept();
    }
}

#[tokio::test]
async fn a_signed_list_is_written_into_a_dir_in_contract_order() {
    let s = Scratch::new("contract-signed");
    let instance = signed_demo_dir(&s.join("src")).await;
    let (strict, result) = copy_strictly(
        &format!("dir:{}", s.join("src").display()),
        &format!("dir:{}", s.join("dst").display()),
        Selection::All,
        6,
    )
    .await;
    let report = result.unwrap();
    strict.assert_contract_kept();
    let signatures: Vec<(Option<Digest>, usize)> = strict
        .writes()
        .into_iter()
        .filter_map(|c| match c {
            Call::PutSignatures {
                instance,
                count,
                refused: None,
            } => Some((instance, count)),
            _ => None,
        })
        .collect();
    assert_eq!(signatures, [(Some(instance), 2), (None, 1)]);
    assert_eq!(
        std::fs::read(s.join("dst").join("signature-1")).unwrap(),
        b"list signature"
    );
    assert_eq!(
        Digest::sha256_of(&std::fs::read(s.join("dst").join("manifest.json")).unwrap()).to_string(),
        report.digest
    );
}

#[tokio::test]
async fn signatures_a_layout_cannot_store_are_refused_before_any_write() {
    let s = Scratch::new("contract-signed-oci");
    signed_demo_dir(&s.join("src")).await;
    let (strict, result) = copy_strictly(
        &format!("dir:{}", s.join("src").display()),
        &format!("oci:{}", s.join("oci").display()),
        Selection::All,
        6,
    )
    .await;
    let error = result.unwrap_err().to_string();
    assert!(error.contains("--remove-signatures"), "{error}");
    assert_eq!(strict.violations(), []);
    let writes = strict.writes();
    assert!(
        matches!(
            writes.as_slice(),
            [Call::PutSignatures {
                refused: Some(_),
                ..
            }]
        ),
        "{writes:#?}"
    );
}

/// The strict fake itself: a manifest before the blobs it names is
/// refused, and not passed on to the destination.
#[tokio::test]
async fn the_strict_fake_refuses_a_manifest_before_its_blobs() {
    let s = Scratch::new("contract-strict-refuses");
    let root = s.join("dir");
    let strict = Recording::boxed(
        open_destination(&format!("dir:{}", root.display())).await,
        true,
    );
    let image = ferry::testing::contract::TestImage::new(1, ferry_core::media_type::OCI_MANIFEST);
    let digest = image.digest();
    let error = image
        .put_manifest(&strict, Some(&digest))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("contract violation"), "{error}");
    assert_eq!(strict.violations().len(), 1);
    assert!(
        !root
            .join(format!("{}.manifest.json", digest.encoded()))
            .exists(),
        "the refused manifest reached the destination"
    );
}

/// A one-platform image of 39 layers and its config, in `dir:`, copied
/// into an empty layout by way of a recording that says it takes
/// `side_by_side` checks at once and holds each check until all 40 have
/// come or `patience` has passed. How many came at once.
///
/// The layers are gzip, as their type says, so the copy keeps them as
/// they are and every question it asks is one of the 40 checks. A layer
/// it compressed on the way would be asked about again under its new
/// digest, from the transfer slot compressing it, and that question
/// would be counted beside the checks still held.
async fn checks_at_once(test: &str, side_by_side: usize, patience: Duration) -> usize {
    let s = Scratch::new(test);
    let layers: Vec<_> = (0..39)
        .map(|i| {
            (
                gzip(&noise(7000 + i, 16)),
                "application/vnd.oci.image.layer.v1.tar+gzip",
            )
        })
        .collect();
    write_dir_image_of_layers(&s.join("src"), &layers, &[]);
    let source = Reference::parse(&format!("dir:{}", s.join("src").display()))
        .unwrap()
        .open_source(&RegistryOptions::default())
        .await
        .unwrap();
    let dst = open_destination(&format!("oci:{}", s.join("oci").display())).await;
    let recording =
        Arc::new(Recording::boxed(dst, false).gathering_checks(side_by_side, 40, patience));
    copy::copy(
        Arc::from(source),
        recording.clone(),
        &options(Selection::All),
        &Settings::default(),
        Arc::new(NoProgress),
    )
    .await
    .unwrap();
    recording.assert_contract_kept();
    let checks = recording
        .calls()
        .iter()
        .filter(|c| matches!(c, Call::HasBlob { .. }))
        .count();
    assert_eq!(checks, 40, "a question besides the checks");
    recording.most_checks_at_once()
}

#[tokio::test]
async fn a_destination_that_takes_many_checks_at_once_is_asked_about_every_blob_together() {
    // A registry answering over HTTP/2 says 100.
    let most = checks_at_once("contract-checks-wide", 100, Duration::from_secs(10)).await;
    assert_eq!(most, 40);
}

#[tokio::test]
async fn other_destinations_are_asked_four_checks_per_job_at_a_time() {
    // Six jobs, the default. Checks past the bound would come within the
    // second; those within it are released when it has passed.
    let most = checks_at_once("contract-checks-bounded", 0, Duration::from_secs(1)).await;
    assert!(most <= 24, "{most} checks at once");
}
