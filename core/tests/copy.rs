//! The copy machine (`ferry_core::copy`): what it asks for, in which
//! order, and what it decides from the answers. Fixtures in
//! fixtures/plan: a three-platform OCI index whose instances share a base
//! layer, and a signed schema 1 image.

mod support;

use ferry_core::copy::{Answer, BlobOutcome, Copy, Destination, Error, Mode, Need, Role};
use ferry_core::destination::{Capabilities, Kind};
use ferry_core::manifest::edit::LayerUpdate;
use ferry_core::media_type as mt;
use ferry_core::plan::compression::{BlobOperation, DestinationFlags, Format, Requested};
use ferry_core::plan::{CopyOptions, Selection};
use ferry_core::{Digest, List};
use support::{options, plan_fixture as fixture, plan_instance};

fn to(kind: Kind) -> Destination {
    Destination {
        capabilities: kind.capabilities(),
        ..Destination::default()
    }
}

fn start(top: &[u8], destination: Destination, options: CopyOptions, mode: Mode) -> Copy {
    Copy::new(top.to_vec(), String::new(), destination, options, mode).unwrap()
}

/// Starts copying `top` and everything it names to a destination of `kind`.
fn start_all(top: &[u8], kind: Kind, mode: Mode) -> Copy {
    start(top, to(kind), options(Selection::All), mode)
}

/// Answers every read from the fixtures, without signatures, and every
/// transfer with `outcome`, until the machine asks for a write (or ends).
fn read_everything(copy: &mut Copy, outcome: BlobOutcome) -> Vec<&'static str> {
    let mut asked = Vec::new();
    loop {
        let answers = match copy.poll() {
            Need::Signatures { .. } => {
                asked.push("signatures");
                vec![Answer::Signatures(Vec::new())]
            }
            Need::Instance { digest } | Need::NestedList { digest } => {
                asked.push("manifest");
                vec![Answer::Manifest {
                    bytes: plan_instance(&digest),
                    media_type: String::new(),
                }]
            }
            Need::Transfer(tasks) => {
                asked.push("transfer");
                tasks
                    .iter()
                    .map(|t| Answer::Blob {
                        id: t.id,
                        outcome: match (&outcome, t.check) {
                            (BlobOutcome::Present, false) => BlobOutcome::Absent,
                            (o, _) => o.clone(),
                        },
                    })
                    .collect()
            }
            _ => return asked,
        };
        for a in answers {
            copy.handle(a).unwrap();
        }
    }
}

/// The media type of the manifest the machine asks to write next.
fn manifest_to_write(copy: &Copy) -> String {
    match copy.poll() {
        Need::WriteManifest { media_type, .. } => media_type,
        other => panic!("expected a manifest to write, got {other:?}"),
    }
}

fn copied(size: u64) -> BlobOutcome {
    BlobOutcome::Copied {
        size,
        refetched: 0,
        changed: None,
        diff_id: None,
    }
}

#[test]
fn a_list_copy_reads_its_signatures_then_each_instance_with_its_own_then_moves_blobs_once() {
    let mut copy = start_all(&fixture("index.json"), Kind::Oci, Mode::Copy);
    let asked = read_everything(&mut copy, copied(1));
    assert_eq!(
        asked,
        [
            "signatures",
            "manifest",
            "signatures",
            "manifest",
            "signatures",
            "manifest",
            "signatures",
            "transfer"
        ]
    );
    // 3 configs, the shared base layer once, 3 own layers.
    assert_eq!(copy.tally().copied, 7);
}

#[test]
fn while_reading_a_lists_instances_the_copy_names_those_it_will_ask_for_next() {
    let top = fixture("index.json");
    let list = List::parse(&top).unwrap();
    let entries: Vec<Digest> = list
        .entries
        .iter()
        .map(|e| e.digest_text.parse().unwrap())
        .collect();
    let mut copy = start_all(&top, Kind::Oci, Mode::Copy);
    // The list's signatures first: nothing is read ahead yet.
    assert!(copy.instances_ahead().is_empty());
    copy.handle(Answer::Signatures(Vec::new())).unwrap();
    for (i, digest) in entries.iter().enumerate() {
        assert_eq!(
            copy.poll(),
            Need::Instance {
                digest: digest.clone()
            }
        );
        assert_eq!(copy.instances_ahead(), entries[i + 1..]);
        copy.handle(Answer::Manifest {
            bytes: plan_instance(digest),
            media_type: String::new(),
        })
        .unwrap();
        // Its signatures are not an instance read.
        assert!(copy.instances_ahead().is_empty());
        copy.handle(Answer::Signatures(Vec::new())).unwrap();
    }
    assert!(matches!(copy.poll(), Need::Transfer(_)));
}

#[test]
fn manifests_are_written_instances_first_then_the_list_then_committed() {
    let index = fixture("index.json");
    let mut copy = start_all(&index, Kind::Oci, Mode::Copy);
    read_everything(&mut copy, copied(1));
    let mut roles = Vec::new();
    loop {
        match copy.poll() {
            Need::WriteManifest { role, .. } => {
                roles.push(role);
                copy.handle(Answer::Written).unwrap();
            }
            Need::Commit { bytes, .. } => {
                // Nothing changed: the list keeps its bytes and digest.
                assert_eq!(bytes, index);
                copy.handle(Answer::Done).unwrap();
            }
            Need::Done => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        roles,
        [Role::Instance, Role::Instance, Role::Instance, Role::List]
    );
    assert_eq!(copy.written().len(), 4);
}

#[test]
fn while_writing_a_lists_instances_the_copy_names_the_writes_it_will_ask_for_next() {
    let mut copy = start_all(&fixture("index.json"), Kind::Oci, Mode::Copy);
    read_everything(&mut copy, copied(1));
    let first = copy.poll();
    assert!(matches!(
        first,
        Need::WriteManifest {
            role: Role::Instance,
            ..
        }
    ));
    let ahead = copy.writes_ahead();
    assert_eq!(ahead.len(), 2);
    // Each is asked for later exactly as named, and each answer leaves the
    // rest still named.
    copy.handle(Answer::Written).unwrap();
    for (i, write) in ahead.iter().enumerate() {
        assert_eq!(&copy.poll(), write);
        assert_eq!(copy.writes_ahead(), ahead[i + 1..]);
        copy.handle(Answer::Written).unwrap();
    }
    // The list that names them comes only after them, and is not an
    // instance write.
    assert!(matches!(
        copy.poll(),
        Need::WriteManifest {
            role: Role::List,
            ..
        }
    ));
    assert!(copy.writes_ahead().is_empty());
}

#[test]
fn a_single_image_copy_names_no_writes_ahead() {
    let mut copy = start_all(&fixture("amd64.json"), Kind::Oci, Mode::Copy);
    read_everything(&mut copy, copied(1));
    assert!(matches!(copy.poll(), Need::WriteManifest { .. }));
    assert!(copy.writes_ahead().is_empty());
}

#[test]
fn a_refused_manifest_type_is_followed_by_the_next_one_the_destination_accepts() {
    let image = fixture("amd64.json");
    let mut copy = start_all(&image, Kind::Docker, Mode::Copy);
    read_everything(&mut copy, copied(1));
    let media_type = manifest_to_write(&copy);
    assert_eq!(media_type, mt::OCI_MANIFEST);
    copy.handle(Answer::Rejected {
        media_type,
        reason: "not here".into(),
    })
    .unwrap();
    assert_eq!(manifest_to_write(&copy), mt::DOCKER_V2S2);
}

#[test]
fn when_every_manifest_type_is_refused_the_copy_fails_naming_each_attempt() {
    let image = fixture("amd64.json");
    let mut copy = start_all(&image, Kind::Docker, Mode::Copy);
    read_everything(&mut copy, copied(1));
    let error = loop {
        let answer = match copy.poll() {
            Need::WriteManifest { media_type, .. } => Answer::Rejected {
                media_type,
                reason: "no".into(),
            },
            // Schema 1 is built from the config: this one is no config.
            Need::Config { .. } => Answer::Config(b"[]".to_vec()),
            other => panic!("unexpected {other:?}"),
        };
        if let Err(e) = copy.handle(answer) {
            break e;
        }
    };
    let Error::ManifestRejected { attempts } = error else {
        panic!("{error:?}");
    };
    // Each type a registry lists, in its order: the two it refused, the
    // schema 1 form the config does not allow, the list types an image
    // cannot become, and unsigned schema 1.
    assert_eq!(attempts.len(), 6, "{attempts:?}");
    assert!(attempts[0].starts_with(mt::OCI_MANIFEST), "{attempts:?}");
}

#[test]
fn a_dry_run_ends_after_the_transfers_with_present_blobs_skipped() {
    let mut copy = start_all(&fixture("index.json"), Kind::Oci, Mode::DryRun);
    read_everything(&mut copy, BlobOutcome::Present);
    assert_eq!(copy.poll(), Need::Done);
    let summary = copy.summary().unwrap();
    assert!(summary.blobs.iter().all(|b| b.skip));
    assert_eq!(summary.bytes_to_copy, 0);
    assert_eq!(copy.tally().skipped, 7);
    assert!(copy.written().is_empty());
}

#[test]
fn a_dry_run_and_a_copy_summarize_alike() {
    let index = fixture("index.json");
    let mut dry = start_all(&index, Kind::Oci, Mode::DryRun);
    read_everything(&mut dry, BlobOutcome::Absent);
    let mut real = start_all(&index, Kind::Oci, Mode::Copy);
    read_everything(&mut real, copied(1));
    assert_eq!(dry.summary(), real.summary());
}

#[test]
fn a_changed_layer_is_named_by_its_new_form_in_the_manifest_written() {
    let image = fixture("oci-uncompressed-layer.json");
    let mut copy = start_all(&image, Kind::Oci, Mode::Copy);
    let Need::Signatures { instance: None } = copy.poll() else {
        panic!("{:?}", copy.poll());
    };
    copy.handle(Answer::Signatures(Vec::new())).unwrap();
    let Need::Transfer(tasks) = copy.poll() else {
        panic!("{:?}", copy.poll());
    };
    let layer = tasks
        .iter()
        .find(|t| t.operation == BlobOperation::Compress)
        .unwrap();
    // A changed blob's digest is not known before: it is not asked about.
    assert!(!layer.check);
    let new = "sha256:0000000000000000000000000000000000000000000000000000000000000001";
    for t in &tasks {
        let changed = (t.operation == BlobOperation::Compress).then(|| LayerUpdate {
            digest: new.into(),
            size: 1000,
            media_type: mt::OCI_LAYER_GZIP.into(),
        });
        copy.handle(Answer::Blob {
            id: t.id,
            outcome: BlobOutcome::Copied {
                size: 1000,
                refetched: 0,
                changed,
                diff_id: None,
            },
        })
        .unwrap();
    }
    let Need::WriteManifest { bytes, .. } = copy.poll() else {
        panic!("{:?}", copy.poll());
    };
    let text = String::from_utf8(bytes).unwrap();
    assert!(text.contains(new), "{text}");
    assert!(text.contains(mt::OCI_LAYER_GZIP), "{text}");
}

#[test]
fn signatures_the_destination_cannot_store_are_refused_before_any_blob_moves() {
    let image = fixture("amd64.json");
    let mut copy = start_all(&image, Kind::Oci, Mode::Copy);
    copy.handle(Answer::Signatures(vec![b"sig".to_vec()]))
        .unwrap();
    assert_eq!(
        copy.poll(),
        Need::RefuseSignatures {
            signatures: vec![b"sig".to_vec()],
            instance: None
        }
    );
    // Should the destination take them after all, writing them fails.
    copy.handle(Answer::Done).unwrap();
    assert!(matches!(copy.poll(), Need::Transfer(_)));
}

#[test]
fn a_list_form_that_would_invent_platforms_is_never_written() {
    // An OCI index whose entry has no platform, to a destination whose only
    // list type is Docker's, which requires one.
    let amd64 = fixture("amd64.json");
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{}","size":{}}}]}}"#,
        Digest::sha256_of(&amd64),
        amd64.len()
    );
    let destination = Destination {
        capabilities: Capabilities {
            manifest_types: vec![mt::DOCKER_V2S2.into(), mt::DOCKER_LIST.into()],
            ..Capabilities::default()
        },
        ..Destination::default()
    };
    let mut copy = start(
        index.as_bytes(),
        destination,
        options(Selection::All),
        Mode::Copy,
    );
    read_everything(&mut copy, copied(1));
    let Need::WriteManifest { role, .. } = copy.poll() else {
        panic!("{:?}", copy.poll());
    };
    assert_eq!(role, Role::Instance);
    let error = copy.handle(Answer::Written).unwrap_err();
    let Error::ManifestRejected { attempts } = error else {
        panic!("{error:?}");
    };
    assert!(
        attempts[0].contains("would invent platforms"),
        "{attempts:?}"
    );
}

#[test]
fn instances_not_at_hand_are_named_and_the_copy_goes_no_further() {
    let index = fixture("index.json");
    let list = List::parse(&index).unwrap();
    let mut copy = start_all(&index, Kind::Oci, Mode::DryRun);
    copy.handle(Answer::Signatures(Vec::new())).unwrap();
    while let Need::Instance { digest }
    | Need::Signatures {
        instance: Some(digest),
    } = copy.poll()
    {
        let answer = match copy.poll() {
            Need::Signatures { .. } => Answer::Signatures(Vec::new()),
            _ if digest.as_str() == list.entries[1].digest_text => Answer::Missing,
            _ => Answer::Manifest {
                bytes: plan_instance(&digest),
                media_type: String::new(),
            },
        };
        copy.handle(answer).unwrap();
    }
    assert_eq!(
        copy.poll(),
        Need::Unavailable {
            missing: vec![list.entries[1].digest_text.clone()]
        }
    );
    assert_eq!(copy.images().len(), 2);
    assert!(copy.summary().is_none());
}

#[test]
fn an_instance_whose_length_is_not_its_entry_size_is_refused() {
    let index = fixture("index.json");
    let mut copy = start_all(&index, Kind::Oci, Mode::Copy);
    copy.handle(Answer::Signatures(Vec::new())).unwrap();
    let Need::Instance { digest } = copy.poll() else {
        panic!("{:?}", copy.poll());
    };
    let mut bytes = plan_instance(&digest);
    bytes.push(b'\n');
    let error = copy
        .handle(Answer::Manifest {
            bytes,
            media_type: String::new(),
        })
        .unwrap_err();
    assert!(
        matches!(&error, Error::InstanceSize { what, .. } if what.starts_with("entry 0 of list")),
        "{error:?}"
    );
}

#[test]
fn schema1_to_schema2_computes_diff_ids_and_stores_the_new_config_before_the_manifest() {
    let schema1 = fixture("v2s1-signed.json");
    let mut opts = options(Selection::All);
    opts.remove_signatures = true;
    let mut copy = start(&schema1, to(Kind::DockerArchive), opts, Mode::Copy);
    let Need::Transfer(tasks) = copy.poll() else {
        panic!("{:?}", copy.poll());
    };
    assert!(tasks.iter().all(|t| t.diff_id && !t.check));
    for t in &tasks {
        copy.handle(Answer::Blob {
            id: t.id,
            outcome: BlobOutcome::Copied {
                size: 32,
                refetched: 0,
                changed: None,
                diff_id: Some(Digest::sha256_of(t.digest.as_str().as_bytes())),
            },
        })
        .unwrap();
    }
    let Need::PutBlob { media_type, .. } = copy.poll() else {
        panic!("{:?}", copy.poll());
    };
    assert_eq!(media_type, mt::DOCKER_CONFIG);
    copy.handle(Answer::Done).unwrap();
    assert_eq!(manifest_to_write(&copy), mt::DOCKER_V2S2);
}

#[test]
fn an_answer_to_another_question_is_an_error_not_a_panic() {
    let image = fixture("amd64.json");
    let mut copy = start_all(&image, Kind::Oci, Mode::Copy);
    assert!(matches!(
        copy.handle(Answer::Written),
        Err(Error::UnexpectedAnswer { .. })
    ));
    assert_eq!(copy.poll(), Need::Signatures { instance: None });
}

/// The transfers the machine asks for first when copying `top` (without
/// signatures) to a docker archive.
fn transfer_tasks(top: &[u8]) -> Vec<ferry_core::copy::BlobTask> {
    let mut opts = options(Selection::All);
    opts.remove_signatures = true;
    let copy = start(top, to(Kind::DockerArchive), opts, Mode::Copy);
    match copy.poll() {
        Need::Transfer(tasks) => tasks,
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_schema1_layer_is_transferred_with_no_stated_size() {
    let tasks = transfer_tasks(&fixture("v2s1-signed.json"));
    assert!(!tasks.is_empty());
    assert!(tasks.iter().all(|t| t.size.is_none()), "{tasks:?}");
}

#[test]
fn a_described_blob_is_transferred_with_the_size_its_descriptor_states() {
    let image = fixture("amd64.json");
    let manifest = ferry_core::Manifest::parse(&image).unwrap();
    let tasks = transfer_tasks(&image);
    let layers = manifest.layers().into_iter().map(|l| l.descriptor);
    for descriptor in layers.chain([manifest.config()]) {
        let task = tasks
            .iter()
            .find(|t| t.digest.as_str() == descriptor.digest_text)
            .unwrap();
        assert_eq!(task.size, Some(descriptor.size));
    }
}

/// Answers reads as [`read_everything`] does, each signature read with
/// one signature naming what it signs, until the machine asks for
/// anything else.
fn read_signed(copy: &mut Copy) {
    loop {
        let answer = match copy.poll() {
            Need::Signatures { instance } => {
                let name = instance.map_or("top".to_string(), |d| d.to_string());
                Answer::Signatures(vec![name.into_bytes()])
            }
            Need::Instance { digest } => Answer::Manifest {
                bytes: plan_instance(&digest),
                media_type: String::new(),
            },
            _ => return,
        };
        copy.handle(answer).unwrap();
    }
}

#[test]
fn a_judged_copy_asks_for_the_verdict_on_the_list_and_every_instance_before_any_blob_moves() {
    let top = fixture("index.json");
    let options = CopyOptions {
        judge_signatures: true,
        ..options(Selection::All)
    };
    let mut copy = start(&top, to(Kind::Dir), options, Mode::Copy);
    read_signed(&mut copy);
    let Need::Judge(images) = copy.poll() else {
        panic!("expected Judge, got {:?}", copy.poll());
    };
    assert_eq!(images.len(), 4);
    assert_eq!(images[0].instance, None);
    assert_eq!(images[0].manifest, top);
    assert_eq!(images[0].signatures, [b"top".to_vec()]);
    for judged in &images[1..] {
        let digest = judged.instance.clone().unwrap();
        assert_eq!(judged.manifest, plan_instance(&digest));
        assert_eq!(judged.signatures, [digest.to_string().into_bytes()]);
    }
    copy.handle(Answer::Done).unwrap();
    assert!(matches!(copy.poll(), Need::Transfer(_)));
}

#[test]
fn signatures_are_read_for_the_judgement_even_when_they_are_not_copied() {
    let top = fixture("index.json");
    let options = CopyOptions {
        judge_signatures: true,
        remove_signatures: true,
        ..options(Selection::All)
    };
    let mut copy = start(&top, to(Kind::Oci), options, Mode::Copy);
    read_signed(&mut copy);
    let Need::Judge(images) = copy.poll() else {
        panic!("expected Judge, got {:?}", copy.poll());
    };
    assert!(images.iter().all(|i| i.signatures.len() == 1));
    // Not copied: an OCI layout cannot store signatures, and is not asked.
    copy.handle(Answer::Done).unwrap();
    assert!(matches!(copy.poll(), Need::Transfer(_)));
}

#[test]
fn one_instance_taken_out_of_a_list_is_judged_alone() {
    let top = fixture("index.json");
    let arm64 = ferry_core::Platform::new("linux", "arm64", "");
    let options = CopyOptions {
        judge_signatures: true,
        ..options(Selection::System(arm64))
    };
    let mut copy = start(&top, to(Kind::Dir), options, Mode::Copy);
    read_signed(&mut copy);
    let Need::Judge(images) = copy.poll() else {
        panic!("expected Judge, got {:?}", copy.poll());
    };
    assert_eq!(images.len(), 1);
    assert_eq!(images[0].manifest, fixture("arm64.json"));
}

#[test]
fn a_signing_copy_signs_each_instance_as_written_then_the_list_and_writes_old_and_new_signatures() {
    let index = fixture("index.json");
    let options = CopyOptions {
        sign: ferry_core::destination::SignatureFormats {
            simple: true,
            sigstore: false,
        },
        ..options(Selection::All)
    };
    let mut copy = start(&index, to(Kind::Dir), options, Mode::Copy);
    read_everything(&mut copy, copied(1));
    let mut steps = Vec::new();
    loop {
        let answer = match copy.poll() {
            Need::WriteManifest { role, .. } => {
                steps.push(format!("write {}", role.name()));
                Answer::Written
            }
            Need::SignManifest { digest, instance } => {
                assert_eq!(instance.is_some(), instance.as_ref() == Some(&digest));
                steps.push(format!(
                    "sign {}",
                    if instance.is_some() {
                        "instance"
                    } else {
                        "list"
                    }
                ));
                Answer::Signatures(vec![format!("new {digest}").into_bytes()])
            }
            Need::WriteSignatures {
                signatures,
                instance,
            } => {
                let digest = instance.unwrap_or_else(|| Digest::sha256_of(&index));
                assert_eq!(signatures, [format!("new {digest}").into_bytes()]);
                steps.push("signatures".into());
                Answer::Done
            }
            Need::Commit { .. } => Answer::Done,
            Need::Done => break,
            other => panic!("unexpected {other:?}"),
        };
        copy.handle(answer).unwrap();
    }
    let per_instance = ["write instance", "sign instance", "signatures"];
    let mut expected: Vec<&str> = per_instance.repeat(3);
    expected.extend(["write list", "sign list", "signatures"]);
    assert_eq!(steps, expected);
}

#[test]
fn signing_for_a_destination_without_signatures_fails_before_any_blob_moves() {
    let options = CopyOptions {
        sign: ferry_core::destination::SignatureFormats {
            simple: true,
            sigstore: false,
        },
        ..options(Selection::All)
    };
    let mut copy = start(&fixture("amd64.json"), to(Kind::Oci), options, Mode::Copy);
    let result = copy.handle(Answer::Signatures(Vec::new()));
    assert!(
        matches!(result, Err(Error::SigningUnsupported)),
        "{result:?}"
    );
}

#[test]
fn signing_in_a_format_the_destination_cannot_store_fails_before_any_blob_moves() {
    use ferry_core::destination::SignatureFormats;
    let options = CopyOptions {
        sign: SignatureFormats {
            simple: false,
            sigstore: true,
        },
        ..options(Selection::All)
    };
    // A registry with lookaside storage and no sigstore attachments.
    let destination = Destination {
        capabilities: Kind::Docker
            .capabilities()
            .with_signature_storage(true, false),
        ..Destination::default()
    };
    let mut copy = start(&fixture("amd64.json"), destination, options, Mode::Copy);
    let result = copy.handle(Answer::Signatures(Vec::new()));
    assert!(
        matches!(result, Err(Error::SigningUnsupported)),
        "{result:?}"
    );
}

/// Options asking every layer in `format` (`--dest-compress-format`).
fn recompressing(format: Format, force: bool) -> CopyOptions {
    CopyOptions {
        compression: Requested::new(
            Some(Kind::Docker),
            DestinationFlags::default(),
            Some(format),
            None,
            force,
        )
        .unwrap(),
        ..options(Selection::All)
    }
}

/// Reads the single image `image` and answers its transfers, the layer
/// with `changed` as its new form; returns the tasks.
fn transfer_single(
    copy: &mut Copy,
    changed: Option<LayerUpdate>,
) -> Vec<ferry_core::copy::BlobTask> {
    assert!(matches!(copy.poll(), Need::Signatures { instance: None }));
    copy.handle(Answer::Signatures(Vec::new())).unwrap();
    let Need::Transfer(tasks) = copy.poll() else {
        panic!("{:?}", copy.poll());
    };
    for t in &tasks {
        let is_layer = t.media_type != mt::DOCKER_CONFIG && t.media_type != mt::OCI_CONFIG;
        copy.handle(Answer::Blob {
            id: t.id,
            outcome: BlobOutcome::Copied {
                size: 1000,
                refetched: 0,
                changed: changed.clone().filter(|_| is_layer),
                diff_id: None,
            },
        })
        .unwrap();
    }
    tasks
}

const NEW_LAYER: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000001";

fn zstd_layer() -> LayerUpdate {
    LayerUpdate {
        digest: NEW_LAYER.into(),
        size: 1000,
        media_type: mt::OCI_LAYER_ZSTD.into(),
    }
}

#[test]
fn layers_that_may_change_carry_the_destination_wish_for_the_driver_to_decide() {
    let image = fixture("v2s2-gzip-layer.json");
    let mut copy = start(
        &image,
        to(Kind::Docker),
        recompressing(Format::Zstd, false),
        Mode::Copy,
    );
    let tasks = transfer_single(&mut copy, Some(zstd_layer()));
    let layer = tasks
        .iter()
        .find(|t| t.media_type == mt::DOCKER_LAYER_GZIP)
        .unwrap();
    assert_eq!(layer.operation, BlobOperation::Recompress);
    let wish = layer.wish.expect("the layer may change");
    assert_eq!(wish.format, Some(Format::Zstd));
    let config = tasks
        .iter()
        .find(|t| t.media_type == mt::DOCKER_CONFIG)
        .unwrap();
    assert_eq!(config.wish, None);
}

#[test]
fn a_schema2_image_whose_layers_become_zstd_is_written_as_oci() {
    let image = fixture("v2s2-gzip-layer.json");
    let mut copy = start(
        &image,
        to(Kind::Docker),
        recompressing(Format::Zstd, false),
        Mode::Copy,
    );
    transfer_single(&mut copy, Some(zstd_layer()));
    let Need::WriteManifest {
        bytes, media_type, ..
    } = copy.poll()
    else {
        panic!("{:?}", copy.poll());
    };
    assert_eq!(media_type, mt::OCI_MANIFEST);
    let text = String::from_utf8(bytes).unwrap();
    assert!(text.contains(NEW_LAYER), "{text}");
    assert!(text.contains(mt::OCI_LAYER_ZSTD), "{text}");
    assert!(text.contains(mt::OCI_CONFIG), "{text}");
}

#[test]
fn zstd_layers_for_a_destination_that_takes_only_schema2_are_refused_naming_zstd() {
    let image = fixture("v2s2-gzip-layer.json");
    let mut capabilities = Kind::Docker.capabilities();
    capabilities.manifest_types = vec![mt::DOCKER_V2S2.into()];
    let destination = Destination {
        capabilities,
        ..Destination::default()
    };
    let mut copy = start(
        &image,
        destination,
        recompressing(Format::Zstd, false),
        Mode::Copy,
    );
    assert!(matches!(copy.poll(), Need::Signatures { instance: None }));
    copy.handle(Answer::Signatures(Vec::new())).unwrap();
    let Need::Transfer(tasks) = copy.poll() else {
        panic!("{:?}", copy.poll());
    };
    let mut result = Ok(());
    for t in &tasks {
        let changed = (t.media_type == mt::DOCKER_LAYER_GZIP).then(zstd_layer);
        result = copy.handle(Answer::Blob {
            id: t.id,
            outcome: BlobOutcome::Copied {
                size: 1000,
                refetched: 0,
                changed,
                diff_id: None,
            },
        });
    }
    let Err(Error::ManifestRejected { attempts }) = result else {
        panic!("{result:?}");
    };
    assert!(attempts.iter().any(|a| a.contains("zstd")), "{attempts:?}");
}

#[test]
fn a_kept_layer_whose_bytes_name_another_compression_is_retyped() {
    // The driver found zstd bytes under a gzip type and kept them.
    let image = String::from_utf8(fixture("oci-uncompressed-layer.json"))
        .unwrap()
        .replace(mt::OCI_LAYER, mt::OCI_LAYER_GZIP);
    let mut copy = start(
        image.as_bytes(),
        to(Kind::Oci),
        options(Selection::All),
        Mode::Copy,
    );
    let same = LayerUpdate {
        digest: "sha256:6b1c016dd8f23444d2122fe5c4c575414b72efdb98f750d3606dcc7eb0f3d98d".into(),
        size: 3000000,
        media_type: mt::OCI_LAYER_ZSTD.into(),
    };
    transfer_single(&mut copy, Some(same));
    let Need::WriteManifest { bytes, .. } = copy.poll() else {
        panic!("{:?}", copy.poll());
    };
    let text = String::from_utf8(bytes).unwrap();
    assert!(text.contains(mt::OCI_LAYER_ZSTD), "{text}");
}

#[test]
fn forcing_a_format_reads_every_layer_that_may_change_instead_of_asking_the_destination() {
    let image = String::from_utf8(fixture("oci-uncompressed-layer.json"))
        .unwrap()
        .replace(mt::OCI_LAYER, mt::OCI_LAYER_ZSTD);
    let layer_check = |force: bool| {
        let mut copy = start(
            image.as_bytes(),
            to(Kind::Docker),
            recompressing(Format::Zstd, force),
            Mode::Copy,
        );
        let tasks = transfer_single(&mut copy, None);
        let layer = tasks
            .iter()
            .find(|t| t.media_type == mt::OCI_LAYER_ZSTD)
            .unwrap();
        assert_eq!(layer.operation, BlobOperation::Keep);
        layer.check
    };
    assert!(layer_check(false));
    assert!(!layer_check(true));
}

/// Answers every read (without signatures, or with `signed` for every
/// instance) until the machine asks for the blobs; returns their tasks.
fn read_until_transfer(copy: &mut Copy, signed: bool) -> Vec<ferry_core::copy::BlobTask> {
    loop {
        let answer = match copy.poll() {
            Need::Signatures { instance } => Answer::Signatures(if signed && instance.is_some() {
                vec![b"a signature".to_vec()]
            } else {
                Vec::new()
            }),
            Need::Instance { digest } | Need::NestedList { digest } => Answer::Manifest {
                bytes: plan_instance(&digest),
                media_type: String::new(),
            },
            // A registry with a lookaside: it takes them.
            Need::RefuseSignatures { .. } => Answer::Done,
            Need::Transfer(tasks) => return tasks,
            other => panic!("expected reads, then the transfers; got {other:?}"),
        };
        copy.handle(answer).unwrap();
    }
}

#[test]
fn a_destination_holding_the_list_as_it_is_gets_only_the_list_written_under_its_tag() {
    let top = fixture("index.json");
    let mut copy = start_all(&top, Kind::Docker, Mode::Copy);
    let tasks = read_until_transfer(&mut copy, false);
    let list_digest = ferry_core::manifest::digest(&top).unwrap();
    assert_eq!(copy.shortcut(), Some(&list_digest));
    // Held first; the tasks not started then are present without asking.
    copy.handle(Answer::Held { tagged: false }).unwrap();
    for t in &tasks {
        copy.handle(Answer::Blob {
            id: t.id,
            outcome: BlobOutcome::Present,
        })
        .unwrap();
    }
    assert_eq!(copy.shortcut(), None, "asked only beside the transfers");
    assert_eq!(
        copy.poll(),
        Need::WriteManifest {
            bytes: top.clone(),
            media_type: mt::OCI_INDEX.into(),
            digest: list_digest.clone(),
            instance: None,
            role: Role::List,
        }
    );
    copy.handle(Answer::Written).unwrap();
    assert!(matches!(copy.poll(), Need::Commit { bytes, .. } if bytes == top));
    copy.handle(Answer::Done).unwrap();
    assert_eq!(copy.poll(), Need::Done);
    let written: Vec<_> = copy
        .written()
        .iter()
        .map(|w| (w.role, w.digest.clone()))
        .collect();
    assert_eq!(written, [("list", list_digest.to_string())]);
    assert_eq!(copy.tally().skipped, tasks.len());
}

#[test]
fn without_the_held_answer_the_instances_are_written_before_the_list_as_always() {
    let top = fixture("index.json");
    let mut copy = start_all(&top, Kind::Docker, Mode::Copy);
    let tasks = read_until_transfer(&mut copy, false);
    assert!(copy.shortcut().is_some());
    for t in &tasks {
        copy.handle(Answer::Blob {
            id: t.id,
            outcome: BlobOutcome::Present,
        })
        .unwrap();
    }
    assert!(matches!(
        copy.poll(),
        Need::WriteManifest {
            role: Role::Instance,
            ..
        }
    ));
}

#[test]
fn a_copy_that_changes_the_list_or_writes_signatures_beside_its_instances_has_no_shortcut() {
    let top = fixture("index.json");
    // --format: the list and its images take another type.
    let mut forced = options(Selection::All);
    forced.forced = Some(mt::DOCKER_V2S2.into());
    let mut copy = start(&top, to(Kind::Docker), forced, Mode::Copy);
    read_until_transfer(&mut copy, false);
    assert_eq!(copy.shortcut(), None);
    // Signed instances: their signatures are written beside them.
    let mut copy = start_all(&top, Kind::Docker, Mode::Copy);
    read_until_transfer(&mut copy, true);
    assert_eq!(copy.shortcut(), None);
    // A dry run writes nothing, and asks about each blob.
    let mut copy = start_all(&top, Kind::Docker, Mode::DryRun);
    read_until_transfer(&mut copy, false);
    assert_eq!(copy.shortcut(), None);
}

#[test]
fn a_held_answer_outside_the_transfers_is_refused() {
    let mut copy = start_all(&fixture("index.json"), Kind::Docker, Mode::Copy);
    assert!(copy.handle(Answer::Held { tagged: false }).is_err());
}

#[test]
fn one_image_taken_out_of_a_list_has_that_image_as_its_shortcut_and_is_written_alone() {
    let top = fixture("index.json");
    let arm64 = ferry_core::Platform::new("linux", "arm64", "");
    let mut copy = start(
        &top,
        to(Kind::Docker),
        options(Selection::System(arm64)),
        Mode::Copy,
    );
    let tasks = read_until_transfer(&mut copy, false);
    let chosen = copy.images()[0].source_digest.clone();
    assert_eq!(copy.shortcut().map(Digest::to_string), Some(chosen.clone()));
    copy.handle(Answer::Held { tagged: false }).unwrap();
    for t in &tasks {
        copy.handle(Answer::Blob {
            id: t.id,
            outcome: BlobOutcome::Present,
        })
        .unwrap();
    }
    let Need::WriteManifest {
        digest,
        role,
        instance,
        ..
    } = copy.poll()
    else {
        panic!("expected the image's manifest, got {:?}", copy.poll());
    };
    assert_eq!(
        (digest.to_string(), role, instance),
        (chosen, Role::Image, None)
    );
}

#[test]
fn a_destination_whose_tag_names_the_list_already_gets_nothing_written() {
    let top = fixture("index.json");
    let mut copy = start_all(&top, Kind::Docker, Mode::Copy);
    let tasks = read_until_transfer(&mut copy, false);
    copy.handle(Answer::Held { tagged: true }).unwrap();
    for t in &tasks {
        copy.handle(Answer::Blob {
            id: t.id,
            outcome: BlobOutcome::Present,
        })
        .unwrap();
    }
    // Straight to the commit, which names the list as it is.
    assert!(matches!(copy.poll(), Need::Commit { bytes, .. } if bytes == top));
    copy.handle(Answer::Done).unwrap();
    assert_eq!(copy.poll(), Need::Done);
    assert!(copy.written().is_empty());
    assert_eq!(copy.committed().map(|(b, _)| b.to_vec()), Some(top));
}

/// A registry destination whose reference names `digest` now.
fn naming(digest: &Digest) -> Destination {
    Destination {
        names: Some(digest.to_string()),
        ..to(Kind::Docker)
    }
}

#[test]
fn a_destination_naming_the_list_already_ends_the_copy_once_signatures_prove_none_to_copy() {
    let top = fixture("index.json");
    let list_digest = ferry_core::manifest::digest(&top).unwrap();
    let instances: Vec<Digest> = List::parse(&top)
        .unwrap()
        .entries
        .iter()
        .map(|e| e.digest_text.parse().unwrap())
        .collect();
    let mut copy = start(
        &top,
        naming(&list_digest),
        options(Selection::All),
        Mode::Copy,
    );
    // Nothing asked ahead: the reference answers it.
    assert_eq!(copy.shortcut_ahead(), None);
    let mut asked = Vec::new();
    let committed = loop {
        match copy.poll() {
            Need::Signatures { instance } => {
                asked.push(instance);
                copy.handle(Answer::Signatures(Vec::new())).unwrap();
            }
            Need::Commit { bytes, .. } => break bytes,
            other => panic!("expected signatures, then the commit; got {other:?}"),
        }
    };
    // The list's signatures, then each image's; no manifest read, no
    // blob asked about, nothing written.
    let expected: Vec<Option<Digest>> = std::iter::once(None)
        .chain(instances.iter().cloned().map(Some))
        .collect();
    assert_eq!(asked, expected);
    assert_eq!(committed, top);
    copy.handle(Answer::Done).unwrap();
    assert_eq!(copy.poll(), Need::Done);
    assert!(copy.written().is_empty());
    let held: Vec<Digest> = std::iter::once(list_digest).chain(instances).collect();
    assert_eq!(copy.held(), held);
}

#[test]
fn a_signed_image_in_a_list_the_destination_names_is_copied_as_usual() {
    let top = fixture("index.json");
    let list_digest = ferry_core::manifest::digest(&top).unwrap();
    let mut copy = start(
        &top,
        naming(&list_digest),
        options(Selection::All),
        Mode::Copy,
    );
    copy.handle(Answer::Signatures(Vec::new())).unwrap();
    assert!(matches!(
        copy.poll(),
        Need::Signatures { instance: Some(_) }
    ));
    copy.handle(Answer::Signatures(vec![b"a signature".to_vec()]))
        .unwrap();
    // Read from the first image on, with its signatures again.
    assert!(matches!(copy.poll(), Need::Instance { .. }));
    assert!(copy.held().is_empty());
}

#[test]
fn a_copy_judged_by_a_policy_reads_every_image_even_when_the_destination_names_it() {
    let top = fixture("index.json");
    let list_digest = ferry_core::manifest::digest(&top).unwrap();
    let judged = CopyOptions {
        judge_signatures: true,
        ..options(Selection::All)
    };
    let mut copy = start(&top, naming(&list_digest), judged, Mode::Copy);
    copy.handle(Answer::Signatures(Vec::new())).unwrap();
    assert!(matches!(copy.poll(), Need::Instance { .. }));
}

#[test]
fn one_image_taken_out_of_a_list_the_destination_names_is_read_and_nothing_moves() {
    let top = fixture("index.json");
    let arm64 = ferry_core::Platform::new("linux", "arm64", "");
    let chosen = ferry_core::manifest::digest(&fixture("arm64.json")).unwrap();
    let mut copy = start(
        &top,
        naming(&chosen),
        options(Selection::System(arm64)),
        Mode::Copy,
    );
    assert_eq!(copy.shortcut_ahead(), None);
    let mut asked = Vec::new();
    let committed = loop {
        match copy.poll() {
            Need::Instance { digest } => {
                asked.push("manifest");
                copy.handle(Answer::Manifest {
                    bytes: plan_instance(&digest),
                    media_type: String::new(),
                })
                .unwrap();
            }
            Need::Signatures { .. } => {
                asked.push("signatures");
                copy.handle(Answer::Signatures(Vec::new())).unwrap();
            }
            Need::Commit { bytes, .. } => break bytes,
            other => panic!("expected the image, then the commit; got {other:?}"),
        }
    };
    assert_eq!(asked, ["manifest", "signatures"]);
    assert_eq!(committed, fixture("arm64.json"));
    assert!(copy.written().is_empty());
    assert_eq!(copy.held(), [chosen]);
}
