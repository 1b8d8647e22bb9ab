//! Referrers (OCI distribution 1.1): reading listings, reading referrers,
//! the fallback tag's index, and which referrers a copy follows.

mod support;

use ferry_core::Digest;
use ferry_core::json::{self, Value};
use ferry_core::manifest::Descriptor;
use ferry_core::media_type as mt;
use ferry_core::referrers::{
    self, Follow, MAX_DEPTH, MAX_REFERRERS, ReferrersError, add_to_index, check, parse_fallback,
    parse_listing, referrer,
};
use support::fixture;

const SUBJECT: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

fn subject() -> Digest {
    Digest::parse(SUBJECT).unwrap()
}

fn referrers_fixture(name: &str) -> Vec<u8> {
    fixture(&format!("referrers/{name}"))
}

fn entry(digest: &Digest) -> Descriptor {
    Descriptor {
        media_type: mt::OCI_MANIFEST.into(),
        digest_text: digest.to_string(),
        size: 10,
        ..Descriptor::default()
    }
}

fn digest_of(n: u32) -> Digest {
    Digest::sha256_of(n.to_string().as_bytes())
}

#[test]
fn fallback_tag_is_the_algorithm_a_dash_and_the_hex() {
    assert_eq!(
        referrers::fallback_tag(&subject()),
        "sha256-1111111111111111111111111111111111111111111111111111111111111111"
    );
}

#[test]
fn fallback_tag_of_a_sha512_subject_keeps_64_hex_characters() {
    let d = Digest::of(ferry_core::digest::Algorithm::Sha512, b"x");
    let tag = referrers::fallback_tag(&d);
    assert_eq!(tag, format!("sha512-{}", &d.encoded()[..64]));
}

#[test]
fn cosign_tags_are_the_sigstore_attachment_tag_with_each_suffix() {
    let tags: Vec<String> = referrers::COSIGN_SUFFIXES
        .iter()
        .map(|s| referrers::cosign_tag(&subject(), s))
        .collect();
    let hex = subject().encoded().to_string();
    assert_eq!(
        tags,
        [
            format!("sha256-{hex}.sig"),
            format!("sha256-{hex}.att"),
            format!("sha256-{hex}.sbom")
        ]
    );
    assert_eq!(
        ferry_core::registry::attachments::tag(&subject()),
        tags[0],
        "one name for the sigstore attachment"
    );
}

#[test]
fn a_listing_gives_its_entries_in_order_each_digest_once() {
    let entries = parse_listing(
        &referrers_fixture("referrers-index.json"),
        Some(mt::OCI_INDEX),
        &subject(),
        "referrers",
    )
    .unwrap();
    let digests: Vec<&str> = entries.iter().map(|e| e.digest_text.as_str()).collect();
    assert_eq!(
        digests,
        [
            "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
        ]
    );
    assert_eq!(entries[0].artifact_type, "application/vnd.example.sbom.v1");
    assert_eq!(
        entries[0]
            .annotations
            .get("org.example.sbom.format")
            .map(String::as_str),
        Some("json")
    );
}

#[test]
fn a_listing_served_as_another_type_is_refused() {
    let e = parse_listing(
        &referrers_fixture("referrers-index.json"),
        Some(mt::OCI_MANIFEST),
        &subject(),
        "referrers",
    )
    .unwrap_err();
    assert!(matches!(e, ReferrersError::NotAnIndex { .. }), "{e}");
}

#[test]
fn a_listing_that_names_its_subject_is_refused() {
    let e = parse_listing(
        &referrers_fixture("referrers-index-names-subject.json"),
        None,
        &subject(),
        "referrers",
    )
    .unwrap_err();
    assert!(matches!(e, ReferrersError::NamesSubject { .. }), "{e}");
    assert!(e.to_string().contains("itself"), "{e}");
}

#[test]
fn a_listing_entry_that_is_not_oci_is_refused_by_pointer() {
    let e = parse_listing(
        &referrers_fixture("referrers-index-docker-entry.json"),
        None,
        &subject(),
        "referrers",
    )
    .unwrap_err();
    assert!(e.to_string().contains("/manifests/0"), "{e}");
}

#[test]
fn a_listing_of_more_than_the_limit_is_refused() {
    let entries: Vec<String> = (0..=MAX_REFERRERS as u32)
        .map(|n| {
            format!(
                r#"{{"mediaType":"{}","digest":"{}","size":1}}"#,
                mt::OCI_MANIFEST,
                digest_of(n)
            )
        })
        .collect();
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"{}","manifests":[{}]}}"#,
        mt::OCI_INDEX,
        entries.join(",")
    );
    let e = parse_listing(index.as_bytes(), None, &subject(), "referrers").unwrap_err();
    assert!(matches!(e, ReferrersError::TooMany { .. }), "{e}");
}

#[test]
fn a_referrer_takes_its_artifact_type_and_annotations_from_its_manifest() {
    let bytes = referrers_fixture("signature-manifest.json");
    let r = referrer(&bytes, Some(mt::OCI_MANIFEST)).unwrap();
    assert_eq!(r.subject, SUBJECT);
    assert_eq!(
        r.descriptor.artifact_type,
        "application/vnd.dev.cosign.artifact.sig.v1+json"
    );
    assert_eq!(r.descriptor.digest_text, Digest::sha256_of(&bytes).as_str());
    assert_eq!(r.descriptor.size, bytes.len() as i64);
    assert_eq!(
        r.descriptor
            .annotations
            .get("org.opencontainers.image.created")
            .map(String::as_str),
        Some("2026-12-01T00:00:00Z")
    );
}

#[test]
fn an_image_manifest_without_artifact_type_has_its_config_type() {
    let r = referrer(&referrers_fixture("sbom-manifest-config-typed.json"), None).unwrap();
    assert_eq!(r.descriptor.artifact_type, "application/spdx+json");
    assert_eq!(r.descriptor.media_type, mt::OCI_MANIFEST);
}

#[test]
fn a_referrer_listed_for_another_subject_is_refused() {
    let other = digest_of(7);
    let e = check(&referrers_fixture("signature-manifest.json"), None, &other).unwrap_err();
    assert!(
        matches!(&e, ReferrersError::WrongSubject { found, .. } if found == SUBJECT),
        "{e}"
    );
}

#[test]
fn a_manifest_without_subject_listed_as_a_referrer_is_refused() {
    let e = check(
        &referrers_fixture("image-manifest-no-subject.json"),
        None,
        &subject(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("has no subject"), "{e}");
}

#[test]
fn a_docker_manifest_cannot_be_a_referrer() {
    let e = referrer(b"{}", Some(mt::DOCKER_V2S2)).unwrap_err();
    assert!(matches!(e, ReferrersError::NotOci { .. }), "{e}");
}

#[test]
fn the_first_referrer_makes_a_new_fallback_index() {
    let r = referrer(&referrers_fixture("signature-manifest.json"), None).unwrap();
    let bytes = add_to_index(None, &r.descriptor).unwrap().unwrap();
    let listed = parse_listing(&bytes, Some(mt::OCI_INDEX), &subject(), "tag").unwrap();
    assert_eq!(listed, [r.descriptor]);
    assert!(bytes.starts_with(br#"{"schemaVersion":2,"mediaType":""#));
}

#[test]
fn a_new_referrer_goes_last_and_every_other_entry_stays_as_it_was() {
    let existing = referrers_fixture("referrers-index.json");
    let r = referrer(&referrers_fixture("signature-manifest.json"), None).unwrap();
    let bytes = add_to_index(Some(&existing), &r.descriptor)
        .unwrap()
        .unwrap();
    let before = json::parse(&existing).unwrap();
    let after = json::parse(&bytes).unwrap();
    let entries = |v: &Value| match v.as_object().unwrap().field("manifests") {
        Some(Value::Array(a)) => a.clone(),
        _ => panic!("no manifests"),
    };
    let (old, new) = (entries(&before), entries(&after));
    assert_eq!(new.len(), old.len() + 1);
    assert_eq!(
        new[..old.len()],
        old[..],
        "earlier entries kept as they were"
    );
    assert!(
        after.as_object().unwrap().field("x-unknown").is_some(),
        "members ferry does not model are kept"
    );
}

#[test]
fn a_referrer_already_in_the_fallback_index_changes_nothing() {
    let r = referrer(&referrers_fixture("signature-manifest.json"), None).unwrap();
    let once = add_to_index(None, &r.descriptor).unwrap().unwrap();
    assert_eq!(add_to_index(Some(&once), &r.descriptor).unwrap(), None);
}

#[test]
fn a_fallback_tag_holding_something_other_than_an_index_is_refused_when_writing() {
    let r = referrer(&referrers_fixture("signature-manifest.json"), None).unwrap();
    let e = add_to_index(
        Some(&referrers_fixture("signature-manifest.json")),
        &r.descriptor,
    )
    .unwrap_err();
    assert!(matches!(e, ReferrersError::Index { .. }), "{e}");
}

#[test]
fn follow_lists_roots_then_referrers_then_their_referrers() {
    let (root, a, b) = (digest_of(0), digest_of(1), digest_of(2));
    let mut follow = Follow::new([root.clone()]);
    assert_eq!(follow.next_subject(), Some(root.clone()));
    assert_eq!(follow.listed(&[entry(&a)]).unwrap(), [entry(&a)]);
    assert_eq!(follow.next_subject(), Some(a.clone()));
    assert_eq!(follow.listed(&[entry(&b)]).unwrap(), [entry(&b)]);
    assert_eq!(follow.next_subject(), Some(b.clone()));
    assert_eq!(follow.listed(&[]).unwrap(), []);
    assert_eq!(follow.next_subject(), None);
    assert_eq!(follow.depth_of(&b), Some(2));
}

#[test]
fn follow_refuses_a_referrer_met_before_as_a_cycle() {
    let (root, a) = (digest_of(0), digest_of(1));
    let mut follow = Follow::new([root.clone()]);
    follow.next_subject();
    follow.listed(&[entry(&a)]).unwrap();
    follow.next_subject();
    let e = follow.listed(&[entry(&root)]).unwrap_err();
    assert!(matches!(e, ReferrersError::Cycle { .. }), "{e}");
}

#[test]
fn follow_refuses_a_listing_that_names_its_subject() {
    let root = digest_of(0);
    let mut follow = Follow::new([root.clone()]);
    follow.next_subject();
    let e = follow.listed(&[entry(&root)]).unwrap_err();
    assert!(matches!(e, ReferrersError::NamesSubject { .. }), "{e}");
}

#[test]
fn follow_refuses_chains_deeper_than_the_limit() {
    let mut follow = Follow::new([digest_of(0)]);
    let mut result = Ok(Vec::new());
    for n in 1..=(MAX_DEPTH as u32 + 1) {
        follow.next_subject().expect("a subject");
        result = follow.listed(&[entry(&digest_of(n))]);
        if result.is_err() {
            break;
        }
    }
    let e = result.unwrap_err();
    assert!(matches!(e, ReferrersError::TooDeep { .. }), "{e}");
}

#[test]
fn an_image_whose_referrers_follow_keeps_its_digests() {
    use ferry_core::plan::{CopyOptions, Selection};
    let options = CopyOptions {
        forced: Some(mt::OCI_MANIFEST.into()),
        ..CopyOptions::new(Selection::All)
    };
    let image = referrers::image_options(&options);
    assert!(image.preserve_digests);
    assert_eq!(
        image.forced, options.forced,
        "a conversion is still asked, and refused if it changes a digest"
    );
}

#[test]
fn a_referrer_is_copied_whole_unmodified_unjudged_and_unsigned() {
    use ferry_core::plan::{CopyOptions, Selection};
    let options = CopyOptions {
        forced: Some(mt::DOCKER_V2S2.into()),
        judge_signatures: true,
        remove_signatures: true,
        ..CopyOptions::new(Selection::System(ferry_core::Platform::default()))
    };
    let r = referrers::referrer_options(&options);
    assert_eq!(r.selection, Selection::All);
    assert!(r.preserve_digests && r.remove_signatures);
    assert!(r.forced.is_none() && !r.judge_signatures);
    assert_eq!(r.sign, Default::default());
}

#[test]
fn a_fallback_tag_holding_an_index_lists_its_entries() {
    let listed = parse_fallback(
        &referrers_fixture("referrers-index.json"),
        Some(mt::OCI_INDEX),
        &subject(),
    )
    .unwrap();
    assert_eq!(listed.len(), 2);
}

#[test]
fn a_fallback_tag_holding_something_else_means_no_referrers() {
    let bytes = referrers_fixture("signature-manifest.json");
    for media_type in [Some(mt::OCI_MANIFEST), Some(mt::DOCKER_V2S2), None] {
        assert_eq!(
            parse_fallback(&bytes, media_type, &subject()),
            Ok(Vec::new())
        );
    }
}

#[test]
fn a_fallback_index_that_names_its_subject_is_still_refused() {
    let e = parse_fallback(
        &referrers_fixture("referrers-index-names-subject.json"),
        Some(mt::OCI_INDEX),
        &subject(),
    )
    .unwrap_err();
    assert!(
        e.to_string().contains(&referrers::fallback_tag(&subject())),
        "{e}"
    );
}

mod carried_with_subject {
    use ferry_core::destination::Attached;
    use ferry_core::referrers::{carried_with_subject, cosign_tag, fallback_tag};

    use super::subject;

    const REFERRERS: Attached = Attached {
        referrers: true,
        cosign_tags: false,
    };
    const COSIGN: Attached = Attached {
        referrers: false,
        cosign_tags: true,
    };

    #[test]
    fn the_fallback_tag_goes_with_its_subject_when_referrers_are_copied() {
        let tag = fallback_tag(&subject());
        assert!(carried_with_subject(&tag, REFERRERS));
        assert!(!carried_with_subject(&tag, COSIGN));
        assert!(!carried_with_subject(&tag, Attached::default()));
    }

    #[test]
    fn a_sha512_fallback_tag_cut_to_64_characters_is_recognised() {
        let d = ferry_core::Digest::of(ferry_core::digest::Algorithm::Sha512, b"x");
        assert!(carried_with_subject(&fallback_tag(&d), REFERRERS));
    }

    #[test]
    fn cosign_tags_go_with_their_subject_when_cosign_tags_are_copied() {
        for suffix in ferry_core::referrers::COSIGN_SUFFIXES {
            let tag = cosign_tag(&subject(), suffix);
            assert!(carried_with_subject(&tag, COSIGN), "{tag}");
            assert!(!carried_with_subject(&tag, REFERRERS), "{tag}");
        }
    }

    #[test]
    fn tags_of_another_shape_are_images() {
        let hex = ferry_core::Digest::sha256_of(b"x").encoded().to_string();
        let both = Attached {
            referrers: true,
            cosign_tags: true,
        };
        for tag in [
            "latest".to_string(),
            "v1.2.3".to_string(),
            format!("md5-{hex}"),
            format!("sha256-{}", &hex[..63]),
            format!("sha256-{hex}0"),
            format!("sha256-{}", hex.to_uppercase()),
            format!("sha256-{hex}.sig.sig"),
            format!("sha256-{hex}.txt"),
            format!("sha256_{hex}"),
        ] {
            assert!(!carried_with_subject(&tag, both), "{tag}");
        }
    }
}
