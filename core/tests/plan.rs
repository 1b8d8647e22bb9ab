//! Copy planning: one test per decision, over a three-platform index whose
//! instances share a base layer (fixtures/plan).

mod support;

use ferry_core::Platform;
use ferry_core::list::{ConvertOptions, InstanceUpdate};
use ferry_core::media_type as mt;
use ferry_core::plan::{
    CannotModify, CopiedInstance, CopyOptions, Destination, EntryAction, ImageContext, ImagePlan,
    PlanError, Selection, Top, TopPlan, Unselected, finish_list, nested_lists, plan_image,
    plan_top, plan_top_nested, summarize,
};
use support::{options, plan_fixture as fixture};

fn index() -> Vec<u8> {
    fixture("index.json")
}

fn top(bytes: &[u8]) -> Top<'_> {
    Top {
        bytes,
        media_type: "",
        has_signatures: false,
    }
}

fn anything() -> Destination {
    Destination::default()
}

fn oci_layout() -> Destination {
    Destination {
        supported_types: vec![mt::OCI_MANIFEST.into(), mt::OCI_INDEX.into()],
        reference_digest: None,
        ..Destination::default()
    }
}

/// A destination named by `digest`, accepting any manifest type.
fn digested(digest: String) -> Destination {
    Destination {
        supported_types: vec![],
        reference_digest: Some(digest),
        ..Destination::default()
    }
}

/// An image copied on its own, not as part of a list.
const ALONE: ImageContext<'static> = ImageContext {
    list_digest: None,
    in_list: false,
};

/// An instance copied as part of its list.
const IN_LIST: ImageContext<'static> = ImageContext {
    list_digest: None,
    in_list: true,
};

/// Plans an unsigned image.
fn plan_unsigned(
    bytes: &[u8],
    destination: &Destination,
    opts: &CopyOptions,
    context: ImageContext<'_>,
) -> Result<ImagePlan, PlanError> {
    plan_image(bytes, "", false, destination, opts, context)
}

/// Plans index.json's three instances for an OCI layout, in its order.
fn plan_instances(opts: &CopyOptions) -> Vec<ImagePlan> {
    ["amd64.json", "arm64.json", "arm-v7.json"]
        .into_iter()
        .map(|f| plan_unsigned(&fixture(f), &oci_layout(), opts, IN_LIST).unwrap())
        .collect()
}

fn instance_digest(position: usize) -> String {
    let list = ferry_core::List::parse(&index()).unwrap();
    list.entries[position].digest_text.clone()
}

fn list_plan(plan: TopPlan) -> ferry_core::plan::ListPlan {
    match plan {
        TopPlan::List(p) => *p,
        other => panic!("expected a list plan, got {other:?}"),
    }
}

/// The instances a plan copies, as they were copied unchanged.
fn copied_unchanged(plan: &ferry_core::plan::ListPlan) -> Vec<CopiedInstance> {
    plan.list
        .entries
        .iter()
        .zip(&plan.entries)
        .filter(|(_, a)| **a == EntryAction::Copy)
        .map(|(e, _)| CopiedInstance {
            source_digest: e.digest_text.clone(),
            written: InstanceUpdate {
                digest: e.digest_text.clone(),
                size: e.size,
                media_type: e.media_type.clone(),
            },
        })
        .collect()
}

#[test]
fn a_single_image_is_copied_whatever_the_selection() {
    let amd64 = fixture("amd64.json");
    for selection in [
        Selection::All,
        Selection::System(Platform::new("linux", "arm64", "")),
    ] {
        let plan = plan_top(&top(&amd64), &anything(), &options(selection)).unwrap();
        assert_eq!(plan, TopPlan::Image);
    }
}

/// The plan for `selection` of the three-platform index, to `destination`.
fn plan_index(destination: &Destination, selection: Selection) -> Result<TopPlan, PlanError> {
    plan_top(&top(&index()), destination, &options(selection))
}

#[test]
fn system_selection_chooses_one_instance_for_the_platform() {
    let arm_v7 = Selection::System(Platform::new("linux", "arm", "v7"));
    let plan = plan_index(&anything(), arm_v7).unwrap();
    match plan {
        TopPlan::Instance { choice, .. } => assert_eq!(choice.digest, instance_digest(2)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn system_selection_fails_naming_a_platform_the_list_lacks() {
    let s390x = Selection::System(Platform::new("linux", "s390x", ""));
    let err = plan_index(&anything(), s390x).unwrap_err();
    assert!(matches!(err, PlanError::NoMatch(_)));
    assert!(err.to_string().contains("linux/s390x"), "{err}");
}

#[test]
fn all_selection_copies_every_instance() {
    let bytes = index();
    let plan = list_plan(plan_top(&top(&bytes), &anything(), &options(Selection::All)).unwrap());
    assert_eq!(plan.entries, [EntryAction::Copy; 3]);
    assert_eq!(plan.instances_to_copy().len(), 3);
}

#[test]
fn specific_selection_by_digest_and_platform_keeps_the_rest_sparse() {
    let bytes = index();
    let selection = Selection::Instances {
        digests: vec![instance_digest(0)],
        platforms: vec![Platform::new("linux", "arm64", "")],
    };
    let plan = list_plan(plan_top(&top(&bytes), &anything(), &options(selection)).unwrap());
    assert_eq!(
        plan.entries,
        [EntryAction::Copy, EntryAction::Copy, EntryAction::Keep]
    );
}

#[test]
fn strip_drops_unselected_entries_and_writes_a_smaller_list() {
    let bytes = index();
    let mut opts = options(Selection::Instances {
        digests: vec![],
        platforms: vec![
            Platform::new("linux", "amd64", ""),
            Platform::new("linux", "arm", "v7"),
        ],
    });
    opts.unselected = Unselected::Strip;
    let plan = list_plan(plan_top(&top(&bytes), &oci_layout(), &opts).unwrap());
    assert_eq!(
        plan.entries,
        [EntryAction::Copy, EntryAction::Drop, EntryAction::Copy]
    );
    let candidates = finish_list(
        &plan,
        &copied_unchanged(&plan),
        &[],
        &ConvertOptions::default(),
    )
    .unwrap();
    let written = ferry_core::List::parse(&candidates[0].bytes).unwrap();
    assert_eq!(written.entries.len(), 2);
    assert!(!candidates[0].unchanged);
}

#[test]
fn index_only_copies_no_instance_and_writes_the_list_unchanged() {
    let bytes = index();
    let selection = Selection::Instances {
        digests: vec![],
        platforms: vec![],
    };
    let plan = list_plan(plan_top(&top(&bytes), &anything(), &options(selection)).unwrap());
    assert!(plan.instances_to_copy().is_empty());
    let candidates = finish_list(&plan, &[], &[], &ConvertOptions::default()).unwrap();
    assert!(candidates[0].unchanged);
    assert_eq!(candidates[0].bytes, bytes);
}

#[test]
fn an_unknown_instance_digest_is_an_error() {
    let bytes = index();
    let selection = Selection::Instances {
        digests: vec![ferry_core::Digest::sha256_of(b"absent").to_string()],
        platforms: vec![],
    };
    let err = plan_top(&top(&bytes), &anything(), &options(selection)).unwrap_err();
    assert!(matches!(err, PlanError::UnknownInstance { .. }), "{err:?}");
}

#[test]
fn a_destination_without_list_types_refuses_list_copies() {
    let archive = Destination {
        supported_types: vec![mt::DOCKER_V2S2.into()],
        reference_digest: None,
        ..Destination::default()
    };
    let err = plan_index(&archive, Selection::All).unwrap_err();
    assert!(
        matches!(err, PlanError::DestinationRejectsLists { .. }),
        "{err:?}"
    );
}

#[test]
fn an_unchanged_list_is_written_byte_for_byte() {
    let bytes = index();
    let plan = list_plan(plan_top(&top(&bytes), &oci_layout(), &options(Selection::All)).unwrap());
    let candidates = finish_list(
        &plan,
        &copied_unchanged(&plan),
        &[],
        &ConvertOptions::default(),
    )
    .unwrap();
    assert_eq!(candidates.len(), 1);
    assert!(candidates[0].unchanged);
    assert_eq!(candidates[0].bytes, bytes);
}

#[test]
fn a_converted_instance_rewrites_the_list_with_its_new_digest() {
    let bytes = index();
    let plan = list_plan(plan_top(&top(&bytes), &anything(), &options(Selection::All)).unwrap());
    let mut copied = copied_unchanged(&plan);
    let new_digest = ferry_core::Digest::sha256_of(b"converted manifest").to_string();
    copied[1].written = InstanceUpdate {
        digest: new_digest.clone(),
        size: 321,
        media_type: mt::DOCKER_V2S2.into(),
    };
    let candidates = finish_list(&plan, &copied, &[], &ConvertOptions::default()).unwrap();
    assert!(!candidates[0].unchanged);
    let written = ferry_core::List::parse(&candidates[0].bytes).unwrap();
    assert_eq!(written.entries[1].digest_text, new_digest);
    assert_eq!(written.entries[1].media_type, mt::DOCKER_V2S2);
}

#[test]
fn forced_docker_format_converts_the_list_and_its_instances() {
    let bytes = index();
    let mut opts = options(Selection::All);
    opts.forced = Some(mt::DOCKER_V2S2.into());
    let plan = list_plan(plan_top(&top(&bytes), &anything(), &opts).unwrap());
    assert_eq!(plan.conversion.selected, mt::DOCKER_LIST);
    let image = plan_unsigned(&fixture("amd64.json"), &anything(), &opts, IN_LIST).unwrap();
    assert_eq!(image.conversion.preferred, mt::DOCKER_V2S2);
    assert!(image.conversion.needs_conversion);
}

#[test]
fn a_list_that_may_not_change_is_refused_before_any_copy() {
    let bytes = index();
    let mut opts = options(Selection::All);
    opts.forced = Some(mt::DOCKER_V2S2.into());
    opts.preserve_digests = true;
    let err = plan_top(&top(&bytes), &anything(), &opts).unwrap_err();
    assert!(
        matches!(
            err,
            PlanError::ListMustChange {
                reason: CannotModify::PreserveDigests,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn a_list_that_may_not_change_fails_when_an_instance_changed() {
    let bytes = index();
    let mut opts = options(Selection::All);
    opts.preserve_digests = true;
    let plan = list_plan(plan_top(&top(&bytes), &oci_layout(), &opts).unwrap());
    let mut copied = copied_unchanged(&plan);
    copied[0].written.digest = ferry_core::Digest::sha256_of(b"other").to_string();
    let err = finish_list(&plan, &copied, &[], &ConvertOptions::default()).unwrap_err();
    assert!(matches!(err, PlanError::ListMustChange { .. }), "{err:?}");
}

#[test]
fn signatures_forbid_changes_unless_removed() {
    let bytes = index();
    let signed = Top {
        bytes: &bytes,
        media_type: "",
        has_signatures: true,
    };
    let mut opts = options(Selection::All);
    opts.forced = Some(mt::DOCKER_V2S2.into());
    let err = plan_top(&signed, &anything(), &opts).unwrap_err();
    assert!(matches!(
        err,
        PlanError::ListMustChange {
            reason: CannotModify::WouldInvalidateSignatures,
            ..
        }
    ));
    opts.remove_signatures = true;
    assert!(plan_top(&signed, &anything(), &opts).is_ok());
}

#[test]
fn cannot_modify_reports_the_last_applicable_reason() {
    use ferry_core::plan::cannot_modify;
    assert_eq!(cannot_modify(false, false, false), None);
    assert_eq!(
        cannot_modify(true, false, false),
        Some(CannotModify::WouldInvalidateSignatures)
    );
    assert_eq!(
        cannot_modify(true, true, false),
        Some(CannotModify::DestinationSpecifiesDigest)
    );
    assert_eq!(
        cannot_modify(true, true, true),
        Some(CannotModify::PreserveDigests)
    );
}

#[test]
fn a_digested_destination_accepts_the_instance_or_the_list_digest() {
    let bytes = index();
    let amd64 = fixture("amd64.json");
    let list_digest = ferry_core::Digest::sha256_of(&bytes).to_string();
    let opts = options(Selection::System(Platform::new("linux", "amd64", "")));
    // The instance, copied alone from the list it was chosen from.
    let plan_with_list = |dest: &Destination| {
        let context = ImageContext {
            list_digest: Some(&list_digest),
            in_list: false,
        };
        plan_unsigned(&amd64, dest, &opts, context)
    };
    for accepted in [instance_digest(0), list_digest.clone()] {
        let plan = plan_with_list(&digested(accepted)).unwrap();
        assert_eq!(
            plan.cannot_modify,
            Some(CannotModify::DestinationSpecifiesDigest)
        );
    }
    let err = plan_with_list(&digested(instance_digest(1))).unwrap_err();
    assert!(
        matches!(err, PlanError::DestinationDigestMismatch { .. }),
        "{err:?}"
    );
}

#[test]
fn a_digested_destination_must_match_the_list_for_list_copies() {
    let err = plan_index(&digested(instance_digest(0)), Selection::All).unwrap_err();
    assert!(
        matches!(err, PlanError::DestinationDigestMismatch { .. }),
        "{err:?}"
    );
}

#[test]
fn an_image_forced_to_schema1_needs_its_layers_but_stores_no_config() {
    let mut opts = options(Selection::All);
    opts.forced = Some(mt::DOCKER_V2S1_SIGNED.into());
    let plan = plan_unsigned(&fixture("amd64.json"), &anything(), &opts, ALONE).unwrap();
    assert_eq!(plan.conversion.preferred, mt::DOCKER_V2S1_SIGNED);
    assert!(plan.conversion.needs_conversion && !plan.needs_diff_ids);
    let layers = ferry_core::Manifest::parse(&fixture("amd64.json"))
        .unwrap()
        .layers()
        .len();
    assert_eq!(plan.blobs.len(), layers);
    assert!(plan.blobs.iter().all(|b| !b.config));
}

#[test]
fn forcing_schema1_into_an_oci_layout_is_refused_before_any_copy() {
    let mut opts = options(Selection::All);
    opts.forced = Some(mt::DOCKER_V2S1_SIGNED.into());
    let err = plan_unsigned(&fixture("amd64.json"), &oci_layout(), &opts, ALONE).unwrap_err();
    assert!(
        matches!(&err, PlanError::ForcedTypeRefused { forced, .. } if forced == mt::DOCKER_V2S1_SIGNED),
        "{err:?}"
    );
}

#[test]
fn schema1_converted_to_schema2_needs_diff_ids() {
    let schema1 = fixture("v2s1-signed.json");
    let dest = Destination {
        supported_types: vec![mt::DOCKER_V2S2.into()],
        reference_digest: None,
        ..Destination::default()
    };
    let mut opts = options(Selection::All);
    opts.remove_signatures = true;
    let plan = plan_unsigned(&schema1, &dest, &opts, ALONE).unwrap();
    assert!(plan.needs_diff_ids);
    assert!(plan.blobs.iter().all(|b| b.size == -1 && !b.config));
}

#[test]
fn the_summary_moves_a_shared_blob_once_largest_first_and_skips_present_ones() {
    let bytes = index();
    let opts = options(Selection::All);
    let plan = plan_top(&top(&bytes), &oci_layout(), &opts).unwrap();
    let images = plan_instances(&opts);
    let base = images[0].blobs[1].digest.clone();
    let summary = summarize(&plan, &bytes, &images, std::slice::from_ref(&base));
    // 3 configs + 1 shared base + 3 own layers.
    assert_eq!(summary.blobs.len(), 7);
    assert_eq!(summary.blobs[0].digest, base);
    assert_eq!(summary.blobs[0].used_by.len(), 3);
    assert!(summary.blobs[0].skip);
    assert_eq!(summary.bytes_skipped, 3_000_000);
    assert_eq!(
        summary.bytes_to_copy,
        2_000_000 + 1_500_000 + 1_000_000 + 3 * 1200
    );
    let sizes: Vec<i64> = summary.blobs.iter().map(|b| b.size).collect();
    assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "{sizes:?}");
    // Nothing converts, so every digest is known, the list's included.
    assert_eq!(summary.manifests.len(), 4);
    assert!(summary.manifests.iter().all(|m| m.digest.is_some()));
}

// Nested lists: nested-index.json names nested-child.json (amd64, arm64)
// and arm-v7.json.

fn digest_of(bytes: &[u8]) -> String {
    ferry_core::Digest::sha256_of(bytes).to_string()
}

/// Plans the nested fixture with its nested list read, as the engine does.
fn plan_nested(
    opts: &CopyOptions,
    destination: &Destination,
    signed_lists: &[String],
) -> Result<TopPlan, PlanError> {
    let bytes = fixture("nested-index.json");
    let child = fixture("nested-child.json");
    let top = top(&bytes);
    let mut tree = nested_lists(&top, opts)?.expect("a list");
    let wanted: Vec<String> = tree.wanted().iter().map(|w| w.digest.clone()).collect();
    assert_eq!(wanted, [digest_of(&child)]);
    tree.provide(&wanted[0], &child, "").unwrap();
    plan_top_nested(&top, Some(&tree), signed_lists, destination, opts)
}

fn copied_digests(plan: &ferry_core::plan::ListPlan) -> Vec<&str> {
    plan.instances_to_copy()
        .iter()
        .map(|d| d.digest_text.as_str())
        .collect()
}

#[test]
fn a_nested_list_that_was_not_read_is_missing_from_the_plan() {
    let bytes = fixture("nested-index.json");
    let err = plan_top(&top(&bytes), &anything(), &options(Selection::All)).unwrap_err();
    assert_eq!(
        err,
        PlanError::MissingInstance {
            digest: digest_of(&fixture("nested-child.json"))
        }
    );
}

#[test]
fn all_copies_every_image_under_a_nested_list_and_the_nested_list_itself() {
    let plan = list_plan(plan_nested(&options(Selection::All), &oci_layout(), &[]).unwrap());
    assert_eq!(plan.entries, [EntryAction::Copy; 2]);
    assert_eq!(plan.nested.len(), 1);
    assert_eq!(
        plan.nested[0].digest,
        digest_of(&fixture("nested-child.json"))
    );
    assert_eq!(plan.nested[0].entries, [EntryAction::Copy; 2]);
    assert_eq!(
        copied_digests(&plan),
        [
            digest_of(&fixture("amd64.json")),
            digest_of(&fixture("arm64.json")),
            digest_of(&fixture("arm-v7.json"))
        ]
    );
}

#[test]
fn an_unchanged_nested_list_keeps_its_parent_byte_for_byte() {
    let plan = list_plan(plan_nested(&options(Selection::All), &oci_layout(), &[]).unwrap());
    let nested = &plan.nested[0];
    let child = finish_list(
        nested,
        &copied_unchanged(nested),
        &[],
        &ConvertOptions::default(),
    )
    .unwrap()
    .remove(0);
    assert!(child.unchanged);
    let copied = vec![CopiedInstance {
        source_digest: nested.digest.clone(),
        written: InstanceUpdate {
            digest: child.digest.to_string(),
            size: child.bytes.len() as i64,
            media_type: child.media_type,
        },
    }]
    .into_iter()
    .chain(copied_unchanged(&plan).into_iter().skip(1))
    .collect::<Vec<_>>();
    let top = finish_list(&plan, &copied, &[], &ConvertOptions::default()).unwrap();
    assert_eq!(top[0].bytes, fixture("nested-index.json"));
}

#[test]
fn the_system_image_is_chosen_among_the_images_inside_nested_lists() {
    let opts = options(Selection::System(Platform::new("linux", "arm64", "")));
    match plan_nested(&opts, &anything(), &[]).unwrap() {
        TopPlan::Instance {
            choice,
            entry,
            list_digest,
        } => {
            assert_eq!(choice.digest, digest_of(&fixture("arm64.json")));
            // Positions count images: amd64, arm64, then arm/v7.
            assert_eq!(choice.index, 1);
            assert_eq!(choice.explanation.len(), 3);
            assert_eq!(entry.media_type, mt::OCI_MANIFEST);
            assert_eq!(
                list_digest.to_string(),
                digest_of(&fixture("nested-index.json"))
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_platform_inside_a_nested_list_copies_that_list_with_the_rest_kept() {
    let opts = options(Selection::Instances {
        digests: vec![],
        platforms: vec![Platform::new("linux", "arm64", "")],
    });
    let plan = list_plan(plan_nested(&opts, &oci_layout(), &[]).unwrap());
    assert_eq!(plan.entries, [EntryAction::Copy, EntryAction::Keep]);
    assert_eq!(
        plan.nested[0].entries,
        [EntryAction::Keep, EntryAction::Copy]
    );
    assert_eq!(copied_digests(&plan), [digest_of(&fixture("arm64.json"))]);
}

#[test]
fn stripping_around_a_platform_inside_a_nested_list_drops_at_every_level() {
    let mut opts = options(Selection::Instances {
        digests: vec![],
        platforms: vec![Platform::new("linux", "arm64", "")],
    });
    opts.unselected = Unselected::Strip;
    let plan = list_plan(plan_nested(&opts, &oci_layout(), &[]).unwrap());
    assert_eq!(plan.entries, [EntryAction::Copy, EntryAction::Drop]);
    assert_eq!(
        plan.nested[0].entries,
        [EntryAction::Drop, EntryAction::Copy]
    );
}

#[test]
fn a_digest_naming_a_nested_list_copies_it_whole() {
    let child = digest_of(&fixture("nested-child.json"));
    let opts = options(Selection::Instances {
        digests: vec![child],
        platforms: vec![],
    });
    let plan = list_plan(plan_nested(&opts, &oci_layout(), &[]).unwrap());
    assert_eq!(plan.entries, [EntryAction::Copy, EntryAction::Keep]);
    assert_eq!(plan.nested[0].entries, [EntryAction::Copy; 2]);
    assert_eq!(copied_digests(&plan).len(), 2);
}

#[test]
fn a_signed_nested_list_may_not_be_converted() {
    let mut opts = options(Selection::All);
    opts.forced = Some(mt::DOCKER_V2S2.into());
    let child = digest_of(&fixture("nested-child.json"));
    let err = plan_nested(&opts, &anything(), std::slice::from_ref(&child)).unwrap_err();
    match &err {
        PlanError::ListMustChange { reason, change } => {
            assert_eq!(*reason, CannotModify::WouldInvalidateSignatures);
            assert!(change.contains(&child), "{change}");
        }
        other => panic!("{other:?}"),
    }
    assert!(plan_nested(&opts, &anything(), &[]).is_ok());
}

#[test]
fn the_summary_lists_nested_lists_before_the_top_level_list() {
    let opts = options(Selection::All);
    let plan = plan_nested(&opts, &oci_layout(), &[]).unwrap();
    let images = plan_instances(&opts);
    let bytes = fixture("nested-index.json");
    let summary = summarize(&plan, &bytes, &images, &[]);
    let roles: Vec<(&str, &str)> = summary
        .manifests
        .iter()
        .map(|m| (m.role, m.source_digest.as_str()))
        .collect();
    let child = digest_of(&fixture("nested-child.json"));
    let top_digest = digest_of(&bytes);
    assert_eq!(roles.len(), 5);
    assert_eq!(
        &roles[3..],
        [("list", child.as_str()), ("list", top_digest.as_str())]
    );
    assert!(roles[..3].iter().all(|(role, _)| *role == "instance"));
    assert_eq!(summary.manifests[3].digest.as_deref(), Some(child.as_str()));
    assert_eq!(
        summary.manifests[4].digest.as_deref(),
        Some(top_digest.as_str())
    );
}

#[test]
fn a_blob_kept_by_one_image_and_compressed_by_another_is_counted_as_two_transfers() {
    // One uncompressed layer, in a signed image (kept as it is) and an
    // unsigned one (gzipped for the layout): two transfers, two results.
    let image = &fixture("oci-uncompressed-layer.json");
    let mut dest = oci_layout();
    dest.layer_compression = ferry_core::plan::compression::Desired::Compress;
    let opts = options(Selection::All);
    let plan = |signed| {
        plan_image(
            image,
            "",
            signed,
            &dest,
            &opts,
            ImageContext {
                list_digest: None,
                in_list: true,
            },
        )
        .unwrap()
    };
    let images = [plan(true), plan(false)];
    let transfers = ferry_core::plan::blob_transfers(&images);
    // The config once, the layer as it is and gzipped.
    assert_eq!(transfers.len(), 3);
    let bytes = index();
    let top = plan_top(&top(&bytes), &oci_layout(), &opts).unwrap();
    let summary = summarize(&top, &bytes, &images, &[]);
    assert_eq!(summary.blobs.len(), 3);
    assert_eq!(summary.bytes_to_copy, 2 * 3_000_000 + 1200);
}

#[test]
fn the_summary_orders_blobs_largest_first_then_by_digest_and_keeps_the_order_of_one_blob_in_two_forms()
 {
    use ferry_core::plan::compression::BlobOperation;
    use ferry_core::plan::{BlobTransfer, TopPlan, summarize_transfers};
    let transfer = |digest: &str, size: i64, operation: BlobOperation| BlobTransfer {
        digest: digest.into(),
        size,
        media_type: format!("{operation:?}"),
        config: false,
        operation,
        check: false,
        diff_id: false,
        wish: None,
        used_by: Vec::new(),
    };
    let transfers = [
        transfer("sha256:b", 5, BlobOperation::Keep),
        transfer("sha256:c", 9, BlobOperation::Keep),
        transfer("sha256:a", 5, BlobOperation::Decompress),
        transfer("sha256:d", -1, BlobOperation::Keep),
        transfer("sha256:a", 5, BlobOperation::Keep),
        transfer("sha256:a", 5, BlobOperation::Compress),
    ];
    let summary = summarize_transfers(&TopPlan::Image, b"{}", &[], &transfers, &[false; 6]);
    let order: Vec<(&str, &str)> = summary
        .blobs
        .iter()
        .map(|b| (b.digest.as_str(), b.media_type.as_str()))
        .collect();
    assert_eq!(
        order,
        [
            ("sha256:c", "Keep"),
            ("sha256:a", "Decompress"),
            ("sha256:a", "Keep"),
            ("sha256:a", "Compress"),
            ("sha256:b", "Keep"),
            ("sha256:d", "Keep"),
        ]
    );
}
