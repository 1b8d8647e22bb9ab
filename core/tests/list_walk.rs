//! Walking nested indexes with bytes supplied by the caller.

use ferry_core::Digest;
use ferry_core::list::{List, WalkError};

const INDEX: &str = "application/vnd.oci.image.index.v1+json";
const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

fn index(entries: &[(&str, &str, usize)]) -> Vec<u8> {
    let manifests: Vec<String> = entries
        .iter()
        .map(|(media_type, digest, size)| {
            format!(r#"{{"mediaType":"{media_type}","digest":"{digest}","size":{size}}}"#)
        })
        .collect();
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{INDEX}","manifests":[{}]}}"#,
        manifests.join(",")
    )
    .into_bytes()
}

fn leaf(tag: &str) -> String {
    Digest::sha256_of(tag.as_bytes()).to_string()
}

#[test]
fn visits_nested_entries_depth_first_with_their_paths() {
    let inner = index(&[(MANIFEST, &leaf("a"), 1), (MANIFEST, &leaf("b"), 1)]);
    let inner_digest = Digest::sha256_of(&inner).to_string();
    let outer = List::parse(&index(&[
        (INDEX, &inner_digest, inner.len()),
        (MANIFEST, &leaf("c"), 1),
    ]))
    .unwrap();
    let visits = outer
        .walk(|d| (d.digest_text == inner_digest).then(|| inner.clone()))
        .unwrap();
    let paths: Vec<Vec<usize>> = visits.iter().map(|v| v.path.clone()).collect();
    assert_eq!(paths, [vec![0], vec![0, 0], vec![0, 1], vec![1]]);
    assert!(visits[0].is_list && !visits[1].is_list);
    assert_eq!(visits[2].descriptor.digest_text, leaf("b"));
}

#[test]
fn a_nested_list_without_bytes_is_left_unexpanded() {
    let outer = List::parse(&index(&[(INDEX, &leaf("x"), 10)])).unwrap();
    let visits = outer.walk(|_| None).unwrap();
    assert_eq!(visits.len(), 1);
}

#[test]
fn bytes_that_do_not_match_the_digest_are_refused() {
    let outer = List::parse(&index(&[(INDEX, &leaf("x"), 10)])).unwrap();
    let err = outer.walk(|_| Some(index(&[]))).unwrap_err();
    assert!(matches!(err, WalkError::DigestMismatch { .. }), "{err:?}");
    assert!(err.to_string().starts_with("/manifests/0:"), "{err}");
}

#[test]
fn nesting_is_bounded() {
    // A chain of indexes deeper than the limit, each pointing at the next.
    let mut bytes = index(&[(MANIFEST, &leaf("bottom"), 1)]);
    let mut store = Vec::new();
    for _ in 0..12 {
        let digest = Digest::sha256_of(&bytes).to_string();
        store.push((digest.clone(), bytes.clone()));
        bytes = index(&[(INDEX, &digest, bytes.len())]);
    }
    let top = List::parse(&bytes).unwrap();
    let err = top
        .walk(|d| {
            store
                .iter()
                .find(|(k, _)| *k == d.digest_text)
                .map(|(_, b)| b.clone())
        })
        .unwrap_err();
    assert!(matches!(err, WalkError::TooDeep { .. }), "{err:?}");
}
