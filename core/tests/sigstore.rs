//! Sigstore (cosign) signatures: ferry accepts and refuses what
//! containers/image 5.23 does, on its own fixtures (fixtures/sigstore,
//! see its README), and writes payloads byte for byte as it does.

mod support;

use ferry_core::base64::{Alphabet, decode_padded, encode_padded};
use ferry_core::digest::Digest;
use ferry_core::json::SyntaxErrorKind;
use ferry_core::trust::payload::{EmptyClaim, Format, Payload};
use ferry_core::trust::sigstore::{
    EncryptedPrivateKey, KeyError, PemError, PrivateKeyError, PublicKey, SCRYPT_WRITE,
    SIGNATURE_ANNOTATION, SIGNATURE_MEDIA_TYPE, SignatureError, VerifyError, verify,
    verify_signature,
};
use ferry_core::trust::strict::{FormatError, Problem};

const FIXTURE_DIGEST: &str =
    "sha256:634a8f35b5f16dcf4aaa0822adc0b1964bb786fca12f6831de8ddc45e5986a00";

fn fixture(name: &str) -> Vec<u8> {
    support::fixture(&format!("sigstore/{name}"))
}

fn native_fixture(name: &str) -> Vec<u8> {
    let full = format!(
        "{}/../native/tests/fixtures/sigstore/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&full).unwrap_or_else(|e| panic!("cannot read {full}: {e}"))
}

fn cosign_key() -> PublicKey {
    PublicKey::from_pem(&fixture("cosign.pub")).unwrap()
}

/// A signature in containers/image's storage format: its payload and the
/// base64 signature annotation.
fn stored_signature(name: &str) -> (Vec<u8>, String) {
    let bytes = fixture(name);
    let json = bytes
        .strip_prefix(b"\0sigstore-json\n")
        .expect("storage format prefix");
    let v: serde_json::Value = serde_json::from_slice(json).unwrap();
    assert_eq!(v["mimeType"], SIGNATURE_MEDIA_TYPE);
    let payload = decode_padded(v["payload"].as_str().unwrap(), Alphabet::Standard).unwrap();
    let signature = v["annotations"][SIGNATURE_ANNOTATION]
        .as_str()
        .unwrap()
        .to_string();
    (payload, signature)
}

/// A P-256 key that did not sign any fixture.
fn other_key() -> PublicKey {
    let signing = p256::ecdsa::SigningKey::from_slice(&[7; 32]).unwrap();
    PublicKey::from_verifying_key(*signing.verifying_key())
}

// --- accepted -----------------------------------------------------------

#[test]
fn cosign_signature_is_accepted_with_its_key_and_claims_repository_and_digest() {
    let (payload, signature) = stored_signature("valid.signature");
    let claims = verify(&cosign_key(), &payload, &signature).unwrap();
    assert_eq!(
        claims,
        Payload {
            manifest_digest: FIXTURE_DIGEST.into(),
            docker_reference: "192.168.64.2:5000/cosign-signed-single-sample".into(),
            creator: None,
            timestamp: None,
        }
    );
}

#[test]
fn second_cosign_signature_of_the_same_payload_is_accepted() {
    let (payload, signature) = stored_signature("valid-2.signature");
    assert_eq!(stored_signature("valid.signature").0, payload);
    verify(&cosign_key(), &payload, &signature).unwrap();
}

#[test]
fn containers_image_signature_is_accepted_with_creator_and_timestamp() {
    let (payload, signature) = stored_signature("valid-with-tag.signature");
    let claims = verify(&cosign_key(), &payload, &signature).unwrap();
    assert_eq!(
        claims,
        Payload {
            manifest_digest: FIXTURE_DIGEST.into(),
            docker_reference: "192.168.64.2:5000/skopeo-signed:tag".into(),
            creator: Some("containers/image 5.21.2-dev".into()),
            timestamp: Some(1_657_296_609),
        }
    );
}

#[test]
fn claimed_digest_is_the_digest_of_the_signed_manifest() {
    let (payload, _) = stored_signature("valid.signature");
    let claims = Payload::parse(&payload, Format::Sigstore).unwrap();
    let manifest = Digest::sha256_of(&fixture("valid.manifest.json"));
    assert_eq!(claims.manifest_digest, manifest.to_string());
}

#[test]
fn high_s_form_of_a_valid_signature_is_accepted_as_go_accepts_it() {
    let (payload, signature) = stored_signature("valid.signature");
    let der = decode_padded(&signature, Alphabet::Standard).unwrap();
    let parsed = p256::ecdsa::Signature::from_der(&der).unwrap();
    let low = parsed.normalize_s();
    let high =
        p256::ecdsa::Signature::from_scalars(low.r().to_bytes(), (-*low.s()).to_bytes()).unwrap();
    for s in [low, high] {
        let text = encode_padded(s.to_der().as_bytes(), Alphabet::Standard);
        verify_signature(&cosign_key(), &payload, &text).unwrap();
    }
}

#[test]
fn signature_made_by_a_go_peer_is_accepted_with_its_public_key() {
    let key = PublicKey::from_pem(&native_fixture("go-made.pub")).unwrap();
    let payload = native_fixture("go-made.payload");
    let signature = String::from_utf8(native_fixture("go-made.signature")).unwrap();
    let claims = verify(&key, &payload, &signature).unwrap();
    assert_eq!(claims.docker_reference, "example.com/ferry/signed:v1");
    assert_eq!(claims.creator.as_deref(), Some("go peer"));
}

// --- refused ------------------------------------------------------------

#[test]
fn signature_by_an_unknown_cosign_key_is_refused() {
    let (payload, signature) = stored_signature("unknown-cosign-key.signature");
    assert_eq!(
        verify(&cosign_key(), &payload, &signature),
        Err(VerifyError::Signature(SignatureError::Mismatch))
    );
}

#[test]
fn valid_signature_is_refused_with_another_key() {
    let (payload, signature) = stored_signature("valid.signature");
    assert_eq!(
        verify(&other_key(), &payload, &signature),
        Err(VerifyError::Signature(SignatureError::Mismatch))
    );
}

#[test]
fn tampered_payload_is_refused() {
    let (mut payload, signature) = stored_signature("valid.signature");
    // The last hex digit of the digest.
    let at = payload
        .windows(4)
        .position(|w| w == b"a00\"")
        .expect("digest tail");
    payload[at + 2] = b'1';
    assert_eq!(
        verify(&cosign_key(), &payload, &signature),
        Err(VerifyError::Signature(SignatureError::Mismatch))
    );
}

#[test]
fn payload_with_trailing_whitespace_is_refused_because_the_bytes_changed() {
    let (mut payload, signature) = stored_signature("valid.signature");
    payload.push(b'\n');
    assert_eq!(
        verify_signature(&cosign_key(), &payload, &signature),
        Err(SignatureError::Mismatch)
    );
}

#[test]
fn truncated_signature_is_refused_as_not_der() {
    let (payload, signature) = stored_signature("valid.signature");
    let der = decode_padded(&signature, Alphabet::Standard).unwrap();
    for len in [0, 1, 8, der.len() - 1] {
        let text = encode_padded(&der[..len], Alphabet::Standard);
        assert_eq!(
            verify_signature(&cosign_key(), &payload, &text),
            Err(SignatureError::NotDer),
            "{len} bytes"
        );
    }
}

#[test]
fn der_signature_with_trailing_bytes_is_refused() {
    let (payload, signature) = stored_signature("valid.signature");
    let mut der = decode_padded(&signature, Alphabet::Standard).unwrap();
    der.push(0);
    let text = encode_padded(&der, Alphabet::Standard);
    assert_eq!(
        verify_signature(&cosign_key(), &payload, &text),
        Err(SignatureError::NotDer)
    );
}

#[test]
fn raw_r_s_signature_is_refused_as_not_der() {
    let (payload, signature) = stored_signature("valid.signature");
    let der = decode_padded(&signature, Alphabet::Standard).unwrap();
    let raw = p256::ecdsa::Signature::from_der(&der).unwrap().to_bytes();
    let text = encode_padded(&raw, Alphabet::Standard);
    assert_eq!(
        verify_signature(&cosign_key(), &payload, &text),
        Err(SignatureError::NotDer)
    );
}

#[test]
fn signature_that_is_not_base64_is_refused() {
    let (payload, _) = stored_signature("valid.signature");
    for text in ["not base64!", "MEUCIQ", "MEU=CIQ="] {
        assert!(
            matches!(
                verify_signature(&cosign_key(), &payload, text),
                Err(SignatureError::Base64(_))
            ),
            "{text}"
        );
    }
}

#[test]
fn huge_signature_is_refused_before_decoding() {
    let (payload, _) = stored_signature("valid.signature");
    let text = "A".repeat(10_000_000);
    assert_eq!(
        verify_signature(&cosign_key(), &payload, &text),
        Err(SignatureError::TooLong { len: 10_000_000 })
    );
}

#[test]
fn garbage_signatures_are_errors_not_panics() {
    let (payload, _) = stored_signature("valid.signature");
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for len in 0..200 {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        // DER-looking prefixes reach the ASN.1 parser.
        let mut der = vec![0x30, len as u8];
        der.extend_from_slice(&bytes);
        for candidate in [bytes, der] {
            let text = encode_padded(&candidate, Alphabet::Standard);
            assert!(verify_signature(&cosign_key(), &payload, &text).is_err());
        }
    }
}

// --- keys ---------------------------------------------------------------

#[test]
fn public_key_round_trips_through_pem_as_go_writes_it() {
    let text = fixture("cosign.pub");
    assert_eq!(cosign_key().to_pem().as_bytes(), text.as_slice());
}

#[test]
fn rsa_key_is_refused_as_unsupported_algorithm() {
    assert_eq!(
        PublicKey::from_pem(&fixture("rsa.pub")),
        Err(KeyError::UnsupportedAlgorithm {
            oid: "1.2.840.113549.1.1.1".into()
        })
    );
}

#[test]
fn p384_key_is_refused_as_unsupported_curve() {
    assert_eq!(
        PublicKey::from_pem(&fixture("p384.pub")),
        Err(KeyError::UnsupportedCurve {
            oid: "1.3.132.0.34".into()
        })
    );
}

#[test]
fn compressed_point_is_refused_as_go_refuses_it() {
    assert_eq!(
        PublicKey::from_pem(&fixture("p256-compressed.pub")),
        Err(KeyError::InvalidPoint)
    );
}

#[test]
fn private_key_file_is_refused_as_a_public_key() {
    assert_eq!(
        PublicKey::from_pem(&native_fixture("go-made.key")),
        Err(KeyError::PemType {
            found: "ENCRYPTED COSIGN PRIVATE KEY".into()
        })
    );
}

#[test]
fn text_without_pem_block_is_refused_as_a_key() {
    for text in [
        &b""[..],
        b"MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE",
        b"-----BEGIN PUBLIC KEY",
    ] {
        assert_eq!(
            PublicKey::from_pem(text),
            Err(KeyError::Pem(PemError::NoBlock))
        );
    }
    assert_eq!(
        PublicKey::from_pem(b"-----BEGIN PUBLIC KEY-----\nAAAA\n"),
        Err(KeyError::Pem(PemError::NoEnd {
            kind: "PUBLIC KEY".into()
        }))
    );
}

#[test]
fn point_off_the_curve_is_refused() {
    let text = String::from_utf8(fixture("cosign.pub")).unwrap();
    let (_, mut der) = ferry_core::trust::sigstore::pem_decode(text.as_bytes()).unwrap();
    let last = der.len() - 1;
    der[last] ^= 1;
    assert_eq!(PublicKey::from_spki_der(&der), Err(KeyError::InvalidPoint));
}

#[test]
fn truncated_and_garbage_keys_are_errors_not_panics() {
    let (_, der) = ferry_core::trust::sigstore::pem_decode(&fixture("cosign.pub")).unwrap();
    for len in 0..der.len() {
        assert!(PublicKey::from_spki_der(&der[..len]).is_err(), "{len}");
    }
    let mut huge = b"-----BEGIN PUBLIC KEY-----\n".to_vec();
    huge.extend(std::iter::repeat_n(b'A', 4_000_000));
    huge.extend_from_slice(b"\n-----END PUBLIC KEY-----\n");
    assert_eq!(PublicKey::from_pem(&huge), Err(KeyError::NotSpki));
}

// --- payloads -----------------------------------------------------------

/// A payload with these claims.
fn claims(
    manifest_digest: &str,
    docker_reference: &str,
    creator: Option<&str>,
    timestamp: Option<i64>,
) -> Payload {
    Payload {
        manifest_digest: manifest_digest.into(),
        docker_reference: docker_reference.into(),
        creator: creator.map(Into::into),
        timestamp,
    }
}

#[test]
fn payload_is_written_byte_for_byte_as_containers_image_writes_it() {
    let (signed, _) = stored_signature("valid-with-tag.signature");
    let built = claims(
        FIXTURE_DIGEST,
        "192.168.64.2:5000/skopeo-signed:tag",
        Some("containers/image 5.21.2-dev"),
        Some(1_657_296_609),
    )
    .to_bytes(Format::Sigstore)
    .unwrap();
    assert_eq!(
        String::from_utf8(built).unwrap(),
        String::from_utf8(signed).unwrap()
    );
}

#[test]
fn payload_without_optional_fields_has_an_empty_optional_object() {
    let built = claims(FIXTURE_DIGEST, "example.com/a:b", None, None)
        .to_bytes(Format::Sigstore)
        .unwrap();
    assert!(built.ends_with(br#""type":"cosign container image signature"},"optional":{}}"#));
    assert_eq!(
        Payload::parse(&built, Format::Sigstore).unwrap().creator,
        None
    );
}

#[test]
fn payload_escapes_html_characters_as_go_does() {
    let built = claims(FIXTURE_DIGEST, "example.com/a:b", Some("<&>"), None)
        .to_bytes(Format::Sigstore)
        .unwrap();
    let text = String::from_utf8(built.clone()).unwrap();
    assert!(text.contains(r#""creator":"\u003c\u0026\u003e""#), "{text}");
    assert_eq!(
        Payload::parse(&built, Format::Sigstore)
            .unwrap()
            .creator
            .as_deref(),
        Some("<&>")
    );
}

#[test]
fn payload_without_digest_or_reference_is_not_built() {
    assert_eq!(
        claims("", "example.com/a:b", None, None).to_bytes(Format::Sigstore),
        Err(EmptyClaim {
            field: "docker-manifest-digest"
        })
    );
    assert_eq!(
        claims(FIXTURE_DIGEST, "", None, None).to_bytes(Format::Sigstore),
        Err(EmptyClaim {
            field: "docker-reference"
        })
    );
}

/// The cosign payload with `critical` and `optional` replaced.
fn payload(critical: &str, optional: &str) -> Vec<u8> {
    format!(r#"{{"critical":{critical},"optional":{optional}}}"#).into_bytes()
}

const CRITICAL: &str = r#"{"identity":{"docker-reference":"r"},"image":{"docker-manifest-digest":"d"},"type":"cosign container image signature"}"#;

fn parse_error(bytes: &[u8]) -> FormatError {
    Payload::parse(bytes, Format::Sigstore).expect_err(&String::from_utf8_lossy(bytes))
}

/// The refusal `problem` at `pointer`.
fn refusal(pointer: &str, problem: Problem) -> FormatError {
    FormatError {
        pointer: pointer.into(),
        problem,
    }
}

#[test]
fn optional_may_be_null_or_an_object_with_unknown_keys() {
    for optional in ["null", "{}", r#"{"foo":[1,{"x":null}],"creator":"c"}"#] {
        Payload::parse(&payload(CRITICAL, optional), Format::Sigstore).unwrap();
    }
}

#[test]
fn optional_that_is_not_an_object_is_refused() {
    for (optional, found) in [
        ("1", "number"),
        (r#""x""#, "string"),
        ("[]", "array"),
        ("true", "bool"),
    ] {
        assert_eq!(
            parse_error(&payload(CRITICAL, optional)),
            refusal(
                "/optional",
                Problem::WrongType {
                    expected: "an object",
                    found
                }
            )
        );
    }
}

#[test]
fn duplicate_keys_are_refused_everywhere() {
    let cases = [
        (
            format!(r#"{{"critical":{CRITICAL},"critical":{CRITICAL},"optional":null}}"#),
            "",
            "critical",
        ),
        (
            String::from_utf8(payload(CRITICAL, r#"{"x":1,"x":2}"#)).unwrap(),
            "/optional",
            "x",
        ),
        (
            String::from_utf8(payload(
                &CRITICAL.replace(r#""type""#, r#""type":"x","type""#),
                "null",
            ))
            .unwrap(),
            "/critical",
            "type",
        ),
    ];
    for (text, pointer, key) in cases {
        assert_eq!(
            parse_error(text.as_bytes()),
            refusal(pointer, Problem::DuplicateKey(key.into())),
            "{text}"
        );
    }
}

#[test]
fn unknown_and_missing_keys_in_critical_are_refused() {
    let extra = CRITICAL.replace(r#""type""#, r#""extra":1,"type""#);
    assert_eq!(
        parse_error(&payload(&extra, "null")),
        refusal("/critical", Problem::UnknownKey("extra".into()))
    );
    let no_image =
        r#"{"identity":{"docker-reference":"r"},"type":"cosign container image signature"}"#;
    assert_eq!(
        parse_error(&payload(no_image, "null")),
        refusal("/critical", Problem::MissingKey("image"))
    );
    assert_eq!(
        parse_error(br#"{"critical":{}}"#),
        refusal("", Problem::MissingKey("optional"))
    );
}

#[test]
fn keys_match_case_sensitively() {
    let upper = CRITICAL.replace("docker-reference", "Docker-Reference");
    assert_eq!(
        parse_error(&payload(&upper, "null")),
        refusal(
            "/critical/identity",
            Problem::UnknownKey("Docker-Reference".into())
        )
    );
}

#[test]
fn unknown_signature_type_is_refused() {
    let other = CRITICAL.replace(
        "cosign container image signature",
        "atomic container signature",
    );
    assert_eq!(
        parse_error(&payload(&other, "null")),
        refusal(
            "/critical/type",
            Problem::UnknownSignatureType("atomic container signature".into())
        )
    );
}

#[test]
fn wrongly_typed_values_are_refused() {
    let digest_number = CRITICAL.replace(r#""d""#, "1");
    assert_eq!(
        parse_error(&payload(&digest_number, "null")),
        refusal(
            "/critical/image/docker-manifest-digest",
            Problem::WrongType {
                expected: "a string",
                found: "number"
            }
        )
    );
    assert_eq!(
        parse_error(&payload(CRITICAL, r#"{"creator":1}"#)),
        refusal(
            "/optional/creator",
            Problem::WrongType {
                expected: "a string",
                found: "number"
            }
        )
    );
    assert_eq!(
        parse_error(&payload(CRITICAL, r#"{"timestamp":"1"}"#)),
        refusal(
            "/optional/timestamp",
            Problem::WrongType {
                expected: "a number",
                found: "string"
            }
        )
    );
    let image_null = CRITICAL.replace(r#"{"docker-manifest-digest":"d"}"#, "null");
    assert_eq!(
        parse_error(&payload(&image_null, "null")),
        refusal(
            "/critical/image",
            Problem::WrongType {
                expected: "an object",
                found: "null"
            }
        )
    );
}

#[test]
fn fractional_timestamp_is_refused_and_exponent_form_accepted() {
    assert_eq!(
        parse_error(&payload(CRITICAL, r#"{"timestamp":1.5}"#)),
        refusal("/optional/timestamp", Problem::NotInteger("1.5".into()))
    );
    let p = Payload::parse(
        &payload(CRITICAL, r#"{"timestamp":1.6e9}"#),
        Format::Sigstore,
    )
    .unwrap();
    assert_eq!(p.timestamp, Some(1_600_000_000));
}

/// The timestamp read from `{"timestamp": literal}`, or the refusal.
fn timestamp(literal: &str) -> Result<i64, FormatError> {
    let bytes = payload(CRITICAL, &format!(r#"{{"timestamp":{literal}}}"#));
    Payload::parse(&bytes, Format::Sigstore).map(|p| p.timestamp.unwrap())
}

/// That `literal` is refused as Go refuses it: not an integer.
fn not_integer(literal: &str) -> Result<i64, FormatError> {
    Err(refusal(
        "/optional/timestamp",
        Problem::NotInteger(literal.into()),
    ))
}

#[test]
fn timestamps_are_integers_as_go_converts_them() {
    assert_eq!(timestamp("1657296609"), Ok(1_657_296_609));
    assert_eq!(timestamp("1e3"), Ok(1000));
    assert_eq!(timestamp("-9223372036854775808"), Ok(i64::MIN));
    assert_eq!(
        timestamp("9223372036854775807"),
        not_integer("9223372036854775807"),
        "rounds to 2^63"
    );
    assert_eq!(timestamp("1.5"), not_integer("1.5"));
    assert_eq!(timestamp("1e400"), not_integer("1e400"));
    assert_eq!(timestamp("0e400"), Ok(0));
    assert_eq!(timestamp("-0.0"), Ok(0));
    assert_eq!(timestamp("12.50e1"), Ok(125));
    assert_eq!(timestamp("1250e-1"), Ok(125));
    assert_eq!(timestamp("1251e-1"), not_integer("1251e-1"));
    assert_eq!(
        timestamp("9007199254740993"),
        Ok(9_007_199_254_740_992),
        "float64 rounding"
    );
    assert_eq!(
        timestamp("9223372036854774784"),
        Ok(9_223_372_036_854_774_784)
    );
    assert_eq!(
        timestamp("-9223372036854775809"),
        Ok(i64::MIN),
        "rounds to -2^63"
    );
    assert_eq!(timestamp("1e-400"), not_integer("1e-400"));
    assert_eq!(
        timestamp("100000000000000000000000e-3"),
        not_integer("100000000000000000000000e-3")
    );
}

#[test]
fn data_after_the_payload_object_is_refused() {
    let mut bytes = payload(CRITICAL, "null");
    bytes.extend_from_slice(b" {}");
    let e = parse_error(&bytes);
    assert_eq!(e.pointer, "");
    assert!(matches!(e.problem, Problem::Syntax(_)), "{e:?}");
}

#[test]
fn deeply_nested_optional_is_an_error_not_a_crash() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let bytes = payload(CRITICAL, &format!(r#"{{"x":{deep}}}"#));
    match parse_error(&bytes).problem {
        Problem::Syntax(e) => assert_eq!(e.kind, SyntaxErrorKind::TooDeep),
        other => panic!("{other:?}"),
    }
}

#[test]
fn signed_but_malformed_payload_is_refused_as_payload_error() {
    let signing = p256::ecdsa::SigningKey::from_slice(&[7; 32]).unwrap();
    let bytes = payload(CRITICAL, "5");
    let signature: p256::ecdsa::Signature =
        p256::ecdsa::signature::Signer::sign(&signing, bytes.as_slice());
    let text = encode_padded(signature.to_der().as_bytes(), Alphabet::Standard);
    assert_eq!(
        verify(&other_key(), &bytes, &text),
        Err(VerifyError::Payload(refusal(
            "/optional",
            Problem::WrongType {
                expected: "an object",
                found: "number"
            }
        )))
    );
}

// --- encrypted private keys ---------------------------------------------

#[test]
fn go_made_encrypted_key_envelope_is_read() {
    let key = EncryptedPrivateKey::from_pem(&native_fixture("go-made.key")).unwrap();
    assert_eq!(key.pem_type, "ENCRYPTED COSIGN PRIVATE KEY");
    assert_eq!(key.scrypt, SCRYPT_WRITE);
    assert_eq!(key.salt.len(), 32);
    // PKCS #8 of a P-256 key plus the 16-byte Poly1305 tag.
    assert!(key.ciphertext.len() > 100, "{}", key.ciphertext.len());
}

#[test]
fn encrypted_key_envelope_is_written_as_go_marshals_it() {
    let text = native_fixture("go-made.key");
    let key = EncryptedPrivateKey::from_pem(&text).unwrap();
    assert_eq!(key.to_pem().as_bytes(), text.as_slice());
}

fn envelope(json: &str) -> Vec<u8> {
    ferry_core::trust::sigstore::pem_encode("ENCRYPTED SIGSTORE PRIVATE KEY", json.as_bytes())
        .into_bytes()
}

const NONCE: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

#[test]
fn encrypted_key_with_other_scrypt_costs_is_refused_before_deriving() {
    for (n, r, p) in [(1 << 20, 8, 1), (32768, 16, 1), (32768, 8, 2), (1024, 8, 1)] {
        let json = format!(
            r#"{{"kdf":{{"name":"scrypt","params":{{"N":{n},"r":{r},"p":{p}}},"salt":""}},"cipher":{{"name":"nacl/secretbox","nonce":"{NONCE}"}},"ciphertext":""}}"#
        );
        assert_eq!(
            EncryptedPrivateKey::from_pem(&envelope(&json)),
            Err(PrivateKeyError::KdfParams { n, r, p })
        );
    }
}

#[test]
fn encrypted_key_with_cosign_2_costs_and_pem_type_is_read() {
    let json = format!(
        r#"{{"kdf":{{"name":"scrypt","params":{{"N":65536,"r":8,"p":1}},"salt":"AA=="}},"cipher":{{"name":"nacl/secretbox","nonce":"{NONCE}"}},"ciphertext":"AA=="}}"#
    );
    let key = EncryptedPrivateKey::from_pem(&envelope(&json)).unwrap();
    assert_eq!(key.pem_type, "ENCRYPTED SIGSTORE PRIVATE KEY");
    assert_eq!(key.scrypt.log_n, 16);
}

#[test]
fn encrypted_key_with_unknown_kdf_cipher_or_nonce_length_is_refused() {
    let base = format!(
        r#"{{"kdf":{{"name":"scrypt","params":{{"N":32768,"r":8,"p":1}},"salt":""}},"cipher":{{"name":"nacl/secretbox","nonce":"{NONCE}"}},"ciphertext":""}}"#
    );
    assert_eq!(
        EncryptedPrivateKey::from_pem(&envelope(&base.replace("\"scrypt\"", "\"pbkdf2\""))),
        Err(PrivateKeyError::UnknownKdf {
            found: "pbkdf2".into()
        })
    );
    assert_eq!(
        EncryptedPrivateKey::from_pem(&envelope(&base.replace("nacl/secretbox", "aes"))),
        Err(PrivateKeyError::UnknownCipher {
            found: "aes".into()
        })
    );
    assert_eq!(
        EncryptedPrivateKey::from_pem(&envelope(&base.replace(NONCE, "AAAA"))),
        Err(PrivateKeyError::NonceLength { len: 3 })
    );
    assert_eq!(
        EncryptedPrivateKey::from_pem(&envelope(&base.replace(NONCE, "!"))),
        Err(PrivateKeyError::Field {
            pointer: "/cipher/nonce"
        })
    );
}

#[test]
fn other_pem_types_are_refused_as_private_keys() {
    assert_eq!(
        EncryptedPrivateKey::from_pem(&fixture("cosign.pub")),
        Err(PrivateKeyError::PemType {
            found: "PUBLIC KEY".into()
        })
    );
    let pkcs8 = ferry_core::trust::sigstore::pem_encode("PRIVATE KEY", b"x");
    assert_eq!(
        EncryptedPrivateKey::from_pem(pkcs8.as_bytes()),
        Err(PrivateKeyError::PemType {
            found: "PRIVATE KEY".into()
        })
    );
}

#[test]
fn envelope_that_is_not_json_is_refused() {
    assert!(matches!(
        EncryptedPrivateKey::from_pem(&envelope("not json")),
        Err(PrivateKeyError::Envelope(_))
    ));
    assert_eq!(
        EncryptedPrivateKey::from_pem(&envelope("[]")),
        Err(PrivateKeyError::Field { pointer: "" })
    );
}

#[test]
fn optional_with_a_hundred_thousand_keys_is_read_and_a_late_duplicate_found() {
    let mut members: Vec<String> = (0..100_000).map(|i| format!(r#""k{i}":{i}"#)).collect();
    let wide = format!("{{{}}}", members.join(","));
    Payload::parse(&payload(CRITICAL, &wide), Format::Sigstore).unwrap();
    members.push(r#""k0":0"#.into());
    let duplicated = format!("{{{}}}", members.join(","));
    assert_eq!(
        parse_error(&payload(CRITICAL, &duplicated)),
        refusal("/optional", Problem::DuplicateKey("k0".into()))
    );
}

#[test]
fn key_with_bytes_after_its_structure_is_refused_as_go_refuses_it() {
    let (_, mut der) = ferry_core::trust::sigstore::pem_decode(&fixture("cosign.pub")).unwrap();
    der.push(0);
    assert_eq!(PublicKey::from_spki_der(&der), Err(KeyError::NotSpki));
}
