//! Editing lists: `update_instances` keeps what it does not change.

mod support;

use ferry_core::list::{InstanceUpdate, List, ListError};
use support::fixture;

fn same_updates(list: &List) -> Vec<InstanceUpdate> {
    list.instances()
        .map(|d| InstanceUpdate {
            digest: d.digest_text.clone(),
            size: d.size,
            media_type: d.media_type.clone(),
        })
        .collect()
}

#[test]
fn unchanged_updates_leave_the_bytes_and_digest_alone() {
    let bytes = fixture("docker-list-with-unknown-fields.json");
    let mut list = List::parse(&bytes).unwrap();
    let updates = same_updates(&list);
    list.update_instances(&updates).unwrap();
    assert_eq!(list.serialize(), &bytes[..]);
}

#[test]
fn changed_updates_rewrite_entries_and_keep_unknown_fields() {
    let bytes = fixture("docker-list-with-unknown-fields.json");
    let mut list = List::parse(&bytes).unwrap();
    let mut updates = same_updates(&list);
    let new_digest = ferry_core::Digest::sha256_of(b"converted").to_string();
    updates[0] = InstanceUpdate {
        digest: new_digest.clone(),
        size: 999,
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
    };
    let before = list.digest();
    list.update_instances(&updates).unwrap();
    assert_ne!(list.digest(), before);
    let e = &list.entries[0];
    assert_eq!((e.digest_text.as_str(), e.size), (new_digest.as_str(), 999));
    assert_eq!(e.platform.as_ref().unwrap().features, ["sse4"]);
    let text = String::from_utf8(list.serialize().to_vec()).unwrap();
    assert!(text.contains(r#""x-vendor-note":"kept""#), "{text}");
    assert!(
        text.contains(r#""x-list-extra":{"nested":[1,2,3]}"#),
        "{text}"
    );
    // The other entries are untouched.
    assert_eq!(list.entries[1].digest_text, updates[1].digest);
}

#[test]
fn updates_must_come_one_per_entry() {
    let mut list = List::parse(&fixture("oci-index-annotated.json")).unwrap();
    let mut updates = same_updates(&list);
    updates.pop();
    assert_eq!(
        list.update_instances(&updates),
        Err(ListError::UpdateCount {
            entries: 3,
            updates: 2
        })
    );
}

#[test]
fn each_update_field_is_validated_and_the_error_names_the_entry() {
    let bytes = fixture("oci-index-annotated.json");
    let mut list = List::parse(&bytes).unwrap();
    let good = same_updates(&list);

    let mut bad_digest = good.clone();
    bad_digest[1].digest = "sha256:../../etc/passwd".into();
    let err = list.update_instances(&bad_digest).unwrap_err();
    assert!(
        matches!(err, ListError::InvalidDigest { entry: 1, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("/manifests/1"), "{err}");

    let mut negative = good.clone();
    negative[2].size = -1;
    assert_eq!(
        list.update_instances(&negative),
        Err(ListError::NegativeSize { entry: 2, size: -1 })
    );

    let mut media_type = good.clone();
    media_type[0].media_type = "application/octet-stream".into();
    assert!(matches!(
        list.update_instances(&media_type),
        Err(ListError::UnsupportedMediaType { entry: 0, .. })
    ));

    // Failed updates changed nothing.
    assert_eq!(list.serialize(), &bytes[..]);
}
