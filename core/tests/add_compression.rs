//! `--add-compression` in the copy machine: which compression twins a
//! list copied whole gets, how they are copied, and where the list names
//! them (as containers/image 5.29+'s `EnsureCompressionVariantsExist`).
//! Fixtures in fixtures/plan: a three-platform OCI index and its images.

mod support;

use ferry_core::choose::{ChooseOptions, ZSTD_ANNOTATION, choose_instance};
use ferry_core::copy::{Answer, BlobOutcome, Copy, Destination, Error, Mode, Need};
use ferry_core::destination::Kind;
use ferry_core::manifest::edit::LayerUpdate;
use ferry_core::media_type as mt;
use ferry_core::plan::compression::Format;
use ferry_core::plan::{self, CopyOptions, PlanError, Selection, TopPlan};
use ferry_core::{List, Platform};
use support::{options, plan_fixture as fixture, plan_instance};

fn to_oci() -> Destination {
    Destination {
        capabilities: Kind::Oci.capabilities(),
        ..Destination::default()
    }
}

fn adding(format: Format, selection: Selection) -> CopyOptions {
    CopyOptions {
        add_compression: [format].into_iter().collect(),
        ..options(selection)
    }
}

/// A copy of `top` to an OCI layout with `--all --add-compression zstd`.
fn adding_zstd(top: &[u8], mode: Mode) -> Result<Copy, Error> {
    Copy::new(
        top.to_vec(),
        String::new(),
        to_oci(),
        adding(Format::Zstd, Selection::All),
        mode,
    )
}

/// A new digest for each layer a transfer compresses, as a driver would
/// report it.
fn zstd_form(id: usize) -> LayerUpdate {
    LayerUpdate {
        digest: format!("sha256:{id:064x}"),
        size: 100 + id as i64,
        media_type: mt::OCI_LAYER_ZSTD.into(),
    }
}

/// Drives `copy` to the end, answering reads from the fixtures and each
/// transfer that asks for zstd with a new zstd form; returns the
/// committed top level.
fn run(copy: &mut Copy) -> Vec<u8> {
    let mut committed = Vec::new();
    loop {
        match copy.poll() {
            Need::WriteManifest { .. } => copy.handle(Answer::Written).unwrap(),
            Need::Commit { bytes, .. } => {
                committed = bytes;
                copy.handle(Answer::Done).unwrap();
            }
            Need::Done => return committed,
            _ => run_one(copy),
        }
    }
}

fn list_plan(top: &[u8]) -> Box<plan::ListPlan> {
    let mut copy = Copy::plan(
        top.to_vec(),
        String::new(),
        to_oci(),
        options(Selection::All),
    )
    .unwrap();
    copy.handle(Answer::Signatures(Vec::new())).unwrap();
    match copy.top_plan() {
        Some(TopPlan::List(p)) => p.clone(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn every_image_of_a_list_gets_a_zstd_twin_in_list_order() {
    let twins = plan::compression_twins(
        &list_plan(&fixture("index.json")),
        [Format::Zstd].into_iter().collect(),
    );
    let index = List::parse(&fixture("index.json")).unwrap();
    let expected: Vec<&str> = index
        .entries
        .iter()
        .map(|e| e.digest_text.as_str())
        .collect();
    let got: Vec<&str> = twins.iter().map(|t| t.source_digest.as_str()).collect();
    assert_eq!(got, expected);
    assert!(twins.iter().all(|t| t.format == Format::Zstd));
}

#[test]
fn a_platform_that_already_has_its_zstd_twin_gets_none() {
    let top = fixture("index-with-zstd-twin.json");
    let twins = plan::compression_twins(&list_plan(&top), [Format::Zstd].into_iter().collect());
    let index = List::parse(&top).unwrap();
    let got: Vec<&str> = twins.iter().map(|t| t.source_digest.as_str()).collect();
    assert_eq!(
        got,
        [
            index.entries[1].digest_text.as_str(),
            index.entries[2].digest_text.as_str()
        ]
    );
}

#[test]
fn gzip_twins_are_not_added_to_a_list_whose_images_are_gzip() {
    let twins = plan::compression_twins(
        &list_plan(&fixture("index.json")),
        [Format::Gzip].into_iter().collect(),
    );
    assert!(twins.is_empty());
}

#[test]
fn twins_are_appended_after_the_originals_annotated_zstd_with_their_platforms() {
    let top = fixture("index.json");
    let mut copy = adding_zstd(&top, Mode::Copy).unwrap();
    let written = List::parse(&run(&mut copy)).unwrap();
    let source = List::parse(&top).unwrap();
    assert_eq!(written.entries.len(), 6);
    for (i, original) in source.entries.iter().enumerate() {
        // The originals keep their place and digest (gzip stays gzip).
        assert_eq!(written.entries[i].digest_text, original.digest_text);
        assert!(written.entries[i].annotations.is_empty());
        let twin = &written.entries[3 + i];
        assert_eq!(twin.platform, original.platform);
        assert_eq!(
            twin.annotations.get(ZSTD_ANNOTATION).map(String::as_str),
            Some("true")
        );
        assert_eq!(twin.media_type, mt::OCI_MANIFEST);
        assert_ne!(twin.digest_text, original.digest_text);
    }
}

#[test]
fn a_twin_manifest_names_the_zstd_forms_of_its_layers() {
    let mut copy = adding_zstd(&fixture("index.json"), Mode::Copy).unwrap();
    let mut twin_manifests = Vec::new();
    loop {
        match copy.poll() {
            Need::WriteManifest {
                bytes, media_type, ..
            } if media_type == mt::OCI_MANIFEST => {
                twin_manifests.push(bytes);
                copy.handle(Answer::Written).unwrap();
            }
            Need::WriteManifest { .. } => {
                copy.handle(Answer::Written).unwrap();
            }
            Need::Commit { .. } => copy.handle(Answer::Done).unwrap(),
            Need::Done => break,
            _ => run_one(&mut copy),
        }
    }
    let zstd: Vec<_> = twin_manifests
        .iter()
        .filter(|b| {
            let m = ferry_core::Manifest::parse(b).unwrap();
            m.layers()
                .iter()
                .all(|l| l.descriptor.media_type == mt::OCI_LAYER_ZSTD)
        })
        .collect();
    assert_eq!(zstd.len(), 3);
}

/// Answers one read or transfer need as `run` does.
fn run_one(copy: &mut Copy) {
    match copy.poll() {
        Need::Signatures { .. } => copy.handle(Answer::Signatures(Vec::new())).unwrap(),
        Need::Instance { digest } => copy
            .handle(Answer::Manifest {
                bytes: plan_instance(&digest),
                media_type: String::new(),
            })
            .unwrap(),
        Need::Transfer(tasks) => {
            for t in tasks {
                let zstd = t.wish.is_some_and(|w| w.format == Some(Format::Zstd));
                copy.handle(Answer::Blob {
                    id: t.id,
                    outcome: BlobOutcome::Copied {
                        size: 1,
                        refetched: 0,
                        changed: zstd.then(|| zstd_form(t.id)),
                        diff_id: None,
                    },
                })
                .unwrap();
            }
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn the_platform_choice_picks_the_zstd_twin() {
    let mut copy = adding_zstd(&fixture("index.json"), Mode::Copy).unwrap();
    let written = List::parse(&run(&mut copy)).unwrap();
    let amd64 = Platform {
        os: "linux".into(),
        architecture: "amd64".into(),
        ..Platform::default()
    };
    let chosen = choose_instance(&written, &amd64, &ChooseOptions::default()).unwrap();
    assert_eq!(chosen.index, 3, "the amd64 zstd twin");
    let gzip = choose_instance(
        &written,
        &amd64,
        &ChooseOptions {
            prefer_gzip: true,
            ..ChooseOptions::default()
        },
    )
    .unwrap();
    assert_eq!(gzip.index, 0);
}

#[test]
fn a_dry_run_shows_each_twin_and_a_changed_list() {
    let mut copy = adding_zstd(&fixture("index.json"), Mode::DryRun).unwrap();
    loop {
        match copy.poll() {
            Need::Transfer(tasks) => {
                for t in tasks {
                    copy.handle(Answer::Blob {
                        id: t.id,
                        outcome: BlobOutcome::Absent,
                    })
                    .unwrap();
                }
            }
            Need::Done => break,
            _ => run_one(&mut copy),
        }
    }
    let summary = copy.summary().unwrap();
    let roles: Vec<&str> = summary.manifests.iter().map(|m| m.role).collect();
    assert_eq!(
        roles,
        [
            "instance",
            "zstd-twin",
            "instance",
            "zstd-twin",
            "instance",
            "zstd-twin",
            "list"
        ]
    );
    let list = summary.manifests.last().unwrap();
    assert_eq!(list.digest, None, "the list changes");
}

#[test]
fn adding_compression_without_all_is_refused() {
    let options = adding(
        Format::Zstd,
        Selection::Instances {
            digests: vec![
                List::parse(&fixture("index.json")).unwrap().entries[0]
                    .digest_text
                    .clone(),
            ],
            platforms: Vec::new(),
        },
    );
    let mut copy = Copy::new(
        fixture("index.json").to_vec(),
        String::new(),
        to_oci(),
        options,
        Mode::Copy,
    )
    .unwrap();
    let error = copy.handle(Answer::Signatures(Vec::new())).unwrap_err();
    assert!(
        matches!(
            error,
            Error::Plan(PlanError::AddCompressionNeedsList {
                format: Format::Zstd,
                ..
            })
        ),
        "{error}"
    );
    assert!(error.to_string().contains("--all"), "{error}");
}

#[test]
fn adding_compression_to_a_single_image_is_refused() {
    let result = adding_zstd(&fixture("amd64.json"), Mode::Copy);
    let error = match result {
        Ok(mut copy) => copy.handle(Answer::Signatures(Vec::new())).unwrap_err(),
        Err(e) => e,
    };
    assert!(
        matches!(
            error,
            Error::Plan(PlanError::AddCompressionNeedsList { .. })
        ),
        "{error}"
    );
}

#[test]
fn the_planner_without_writes_plans_the_twins_as_a_dry_run_does() {
    let mut dry_run = Copy::new(
        fixture("index.json").to_vec(),
        String::new(),
        to_oci(),
        adding(Format::Zstd, Selection::All),
        Mode::DryRun,
    )
    .unwrap();
    loop {
        match dry_run.poll() {
            Need::Transfer(tasks) => {
                for t in tasks {
                    dry_run
                        .handle(Answer::Blob {
                            id: t.id,
                            outcome: BlobOutcome::Absent,
                        })
                        .unwrap();
                }
            }
            Need::Done => break,
            _ => run_one(&mut dry_run),
        }
    }
    let mut planner = Copy::plan(
        fixture("index.json").to_vec(),
        String::new(),
        to_oci(),
        adding(Format::Zstd, Selection::All),
    )
    .unwrap();
    while planner.summary().is_none() {
        run_one(&mut planner);
    }
    assert_eq!(planner.summary(), dry_run.summary());
    assert_eq!(planner.images(), dry_run.images());
    let twins = planner.images().iter().filter(|p| p.twin.is_some()).count();
    assert_eq!(twins, 3);
}
