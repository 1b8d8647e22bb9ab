//! The manifest digest of signed schema 1 manifests whose signatures carry
//! unusual public keys: ferry has a digest exactly when containers/image
//! has one (fixtures/schema1-keys, with skopeo 1.9.3's answers).

mod support;

use ferry_core::manifest::jwk::JwkError;
use ferry_core::manifest::jws::JwsError;
use ferry_core::manifest::{digest, digest_document};

/// The digest of the signed payload all the fixtures share.
const PAYLOAD: &str = "sha256:46cc9182e0c1f1cfaee8a33ef6a6e7328e3a09fdd606e467346b213e7a254a48";

fn fixture(name: &str) -> Vec<u8> {
    support::fixture(&format!("schema1-keys/{name}.json"))
}

/// What containers/image answers for a fixture.
enum Answer {
    /// The payload digest.
    Digest,
    /// No digest, because of this key.
    BadKey(fn(&JwkError) -> bool),
    /// No digest, because the signature block does not decode.
    BadBlock,
}

use Answer::{BadBlock, BadKey, Digest};

const CASES: &[(&str, Answer)] = &[
    ("p256-kid", Digest),
    ("p384-kid", Digest),
    ("p521-kid", Digest),
    ("rsa-kid", Digest),
    ("p256-and-rsa-kid", Digest),
    ("p256-no-kid", Digest),
    ("ec-x-with-newlines", Digest),
    ("ec-off-curve-no-kid", Digest),
    ("ec-off-curve-kid-empty", Digest),
    ("p521-x-plus-p-kid-empty", Digest),
    ("rsa-e-empty-kid", Digest),
    ("rsa-e-four-bytes-kid", Digest),
    ("rsa-n-empty-kid", Digest),
    ("rsa-n-leading-zeros", Digest),
    ("header-null", Digest),
    ("header-repeated-merges", Digest),
    ("jwk-kty-duplicate-last-wins", Digest),
    (
        "jwk-null",
        BadKey(|e| matches!(e, JwkError::Missing { member: "kty" })),
    ),
    (
        "jwk-empty-object",
        BadKey(|e| matches!(e, JwkError::Missing { member: "kty" })),
    ),
    (
        "jwk-kty-uppercase-key",
        BadKey(|e| matches!(e, JwkError::Missing { member: "kty" })),
    ),
    (
        "jwk-string",
        BadKey(|e| matches!(e, JwkError::NotAnObject { found: "string" })),
    ),
    (
        "jwk-kty-number",
        BadKey(|e| matches!(e, JwkError::NotAString { member: "kty" })),
    ),
    (
        "jwk-kty-oct",
        BadKey(|e| matches!(e, JwkError::UnsupportedKeyType { kty } if kty == "oct")),
    ),
    (
        "ec-crv-p224",
        BadKey(|e| matches!(e, JwkError::UnsupportedCurve { crv } if crv == "P-224")),
    ),
    (
        "ec-x-missing",
        BadKey(|e| matches!(e, JwkError::Missing { member: "x" })),
    ),
    (
        "ec-x-bad-base64",
        BadKey(|e| matches!(e, JwkError::Base64 { member: "x" })),
    ),
    (
        "ec-x-short",
        BadKey(|e| {
            matches!(
                e,
                JwkError::CoordinateLength {
                    member: "x",
                    found: 29,
                    expected: 32
                }
            )
        }),
    ),
    (
        "ec-kid-number",
        BadKey(|e| matches!(e, JwkError::NotAString { member: "kid" })),
    ),
    (
        "ec-kid-mismatch",
        BadKey(|e| matches!(e, JwkError::KeyIdMismatch { computed, .. } if !computed.is_empty())),
    ),
    (
        "ec-kid-empty",
        BadKey(|e| matches!(e, JwkError::KeyIdMismatch { kid, .. } if kid.is_empty())),
    ),
    (
        "ec-off-curve-kid",
        BadKey(|e| matches!(e, JwkError::KeyIdMismatch { computed, .. } if computed.is_empty())),
    ),
    (
        "ec-x-above-p-kid",
        BadKey(|e| matches!(e, JwkError::KeyIdMismatch { computed, .. } if computed.is_empty())),
    ),
    (
        "rsa-kid-of-other-key",
        BadKey(|e| matches!(e, JwkError::KeyIdMismatch { .. })),
    ),
    (
        "rsa-private-exponent",
        BadKey(|e| matches!(e, JwkError::PrivateExponent)),
    ),
    (
        "second-signature-jwk-private",
        BadKey(|e| matches!(e, JwkError::PrivateExponent)),
    ),
    // skopeo panics on this one.
    (
        "rsa-e-five-bytes",
        BadKey(|e| matches!(e, JwkError::ExponentTooLong { found: 5 })),
    ),
    (
        "header-capitalised-jwk-null",
        BadKey(|e| matches!(e, JwkError::Missing { member: "kty" })),
    ),
    (
        "header-repeated-second-jwk-bad",
        BadKey(|e| matches!(e, JwkError::Missing { member: "kty" })),
    ),
    ("header-alg-number", BadBlock),
];

#[test]
fn a_digest_exactly_when_containers_image_can_read_every_key() {
    let mut failures = Vec::new();
    for (name, answer) in CASES {
        let got = digest(&fixture(name));
        let ok = match (answer, &got) {
            (Digest, Ok(d)) => d.as_str() == PAYLOAD,
            (BadKey(check), Err(JwsError::PublicKey { error, .. })) => check(error),
            (BadBlock, Err(JwsError::MalformedSignatures { .. })) => true,
            _ => false,
        };
        if !ok {
            failures.push(format!("{name}: {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn every_fixture_is_in_the_table() {
    let dir = format!("{}/tests/fixtures/schema1-keys", env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".json").map(str::to_string)
        })
        .collect();
    names.sort();
    let mut listed: Vec<String> = CASES.iter().map(|(n, _)| n.to_string()).collect();
    listed.sort();
    assert_eq!(names, listed);
}

#[test]
fn the_error_names_the_signature_and_the_key_member() {
    let err = digest(&fixture("second-signature-jwk-private")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "public key of /signatures/1: a public key with a private exponent \"d\""
    );
}

#[test]
fn the_strict_digest_refuses_the_same_keys() {
    assert!(digest_document(&fixture("jwk-null")).is_err());
    assert_eq!(
        digest_document(&fixture("rsa-kid")).unwrap().as_str(),
        PAYLOAD
    );
}
