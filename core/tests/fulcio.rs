//! Sigstore signatures made with a Fulcio certificate and logged in
//! Rekor, and key signatures logged in Rekor: ferry accepts and refuses
//! what later containers/image (5.25+) does, offline, on containers/
//! image's own fixtures (fixtures/sigstore, see its README).

mod support;

use ferry_core::reference::Named;
use ferry_core::trust::blob::Signature;
use ferry_core::trust::fulcio::{
    BUNDLE_ANNOTATION, CERTIFICATE_ANNOTATION, CHAIN_ANNOTATION, FulcioError, FulcioRoot,
};
use ferry_core::trust::sigstore::SIGNATURE_ANNOTATION;
use ferry_core::trust::verdict::SignatureRefusal;
use ferry_core::trust::{
    CryptoFailure, Image, ImageScope, Policy, Refusal, Signed, Verdict, Verifier,
};

const REFERENCE: &str = "192.168.64.2:5000/cosign-signed/fulcio-rekor-1";
const ISSUER: &str = "https://github.com/login/oauth";
const EMAIL: &str = "mitr@redhat.com";
/// The bundle's integratedTime.
const INTEGRATED_TIME: i64 = 1_674_247_893;

fn fixture(name: &str) -> Vec<u8> {
    support::fixture(&format!("sigstore/{name}"))
}

/// Key files are the fixtures of that name.
struct Files;

impl Verifier for Files {
    fn read_key_file(&mut self, path: &str) -> Result<Vec<u8>, String> {
        Ok(fixture(path))
    }

    fn verify_openpgp(&mut self, _: &[Vec<u8>], _: &[u8]) -> Result<Signed, CryptoFailure> {
        unreachable!("no OpenPGP here")
    }
}

fn policy(ca: &str, issuer: &str, email: &str, rekor: &str) -> String {
    format!(
        r#"{{"default": [{{"type": "sigstoreSigned",
            "fulcio": {{"caPath": "{ca}", "oidcIssuer": "{issuer}", "subjectEmail": "{email}"}},
            "signedIdentity": {{"type": "matchRepository"}}
            {rekor}}}]}}"#
    )
}

fn good_policy() -> String {
    policy(
        "fulcio_v1.crt.pem",
        ISSUER,
        EMAIL,
        r#", "rekorPublicKeyPath": "rekor.pub""#,
    )
}

fn judge(policy: &str, signature: Vec<u8>) -> Verdict {
    judge_named(policy, REFERENCE, signature)
}

fn judge_named(policy: &str, reference: &str, signature: Vec<u8>) -> Verdict {
    let policy = Policy::parse(policy.as_bytes()).unwrap();
    let reference = Named::parse_normalized(reference).unwrap();
    let scope = ImageScope::docker(&reference);
    let manifest = fixture("fulcio-rekor-valid.manifest.json");
    let signatures = [signature];
    let image = Image {
        name: "docker://test",
        scope: &scope,
        reference: Some(&reference),
        manifest: &manifest,
        signatures: &signatures,
    };
    policy.judge(&image, &mut Files)
}

fn valid() -> Vec<u8> {
    fixture("fulcio-rekor-valid.signature")
}

/// The valid signature with annotation `key` set to `value` (or removed).
fn with_annotation(key: &str, value: Option<&str>) -> Vec<u8> {
    changed(valid(), key, value)
}

fn changed(blob: Vec<u8>, key: &str, value: Option<&str>) -> Vec<u8> {
    let Signature::Sigstore(mut sig) = Signature::from_blob(&blob).unwrap() else {
        panic!("not sigstore");
    };
    sig.annotations.retain(|(k, _)| k != key);
    if let Some(v) = value {
        sig.annotations.push((key.to_string(), v.to_string()));
    }
    sig.to_blob()
}

fn annotation(key: &str) -> String {
    let blob = valid();
    let Signature::Sigstore(sig) = Signature::from_blob(&blob).unwrap() else {
        panic!("not sigstore");
    };
    sig.annotation(key).unwrap().to_string()
}

fn fulcio_refusal(verdict: Verdict) -> FulcioError {
    match verdict {
        Verdict::Refused {
            refusal: Refusal::NoneAccepted(mut reasons),
            ..
        } if reasons.len() == 1 => match reasons.remove(0) {
            SignatureRefusal::Fulcio(e) => e,
            other => panic!("refused for another reason: {other:?}"),
        },
        other => panic!("not refused for one signature: {other:?}"),
    }
}

#[test]
fn a_valid_fulcio_and_rekor_signature_is_accepted() {
    let verdict = judge(&good_policy(), valid());
    assert!(verdict.is_allowed(), "{verdict}");
}

#[test]
fn any_of_several_rekor_keys_may_have_signed_the_set() {
    let p = policy(
        "fulcio_v1.crt.pem",
        ISSUER,
        EMAIL,
        r#", "rekorPublicKeyPaths": ["cosign.pub", "rekor.pub"]"#,
    );
    assert!(judge(&p, valid()).is_allowed());
}

#[test]
fn another_subject_email_is_refused() {
    let p = policy(
        "fulcio_v1.crt.pem",
        ISSUER,
        "this-does-not-match@example.com",
        r#", "rekorPublicKeyPath": "rekor.pub""#,
    );
    assert_eq!(
        fulcio_refusal(judge(&p, valid())),
        FulcioError::EmailMismatch {
            found: vec![EMAIL.to_string()],
            required: "this-does-not-match@example.com".to_string()
        }
    );
}

#[test]
fn another_oidc_issuer_is_refused() {
    let p = policy(
        "fulcio_v1.crt.pem",
        "https://example.com",
        EMAIL,
        r#", "rekorPublicKeyPath": "rekor.pub""#,
    );
    assert_eq!(
        fulcio_refusal(judge(&p, valid())),
        FulcioError::IssuerMismatch {
            found: ISSUER.to_string(),
            required: "https://example.com".to_string()
        }
    );
}

#[test]
fn a_certificate_from_another_ca_is_refused() {
    let p = policy(
        "pki_root_crts.pem",
        ISSUER,
        EMAIL,
        r#", "rekorPublicKeyPath": "rekor.pub""#,
    );
    assert!(matches!(
        fulcio_refusal(judge(&p, valid())),
        FulcioError::NotFromCa { .. }
    ));
}

#[test]
fn without_the_intermediate_the_certificate_does_not_reach_the_root() {
    let verdict = judge(&good_policy(), with_annotation(CHAIN_ANNOTATION, None));
    assert!(matches!(
        fulcio_refusal(verdict),
        FulcioError::NotFromCa { .. }
    ));
}

#[test]
fn a_tampered_signed_entry_timestamp_is_refused() {
    let bundle = annotation(BUNDLE_ANNOTATION).replace(
        "MEUCIQCyXhl6r7bg0IreJ91cZbEp7mzAwYdTUhU",
        "MEUCIQCyXhl6r7bg0IreJ91cZbEp7mzAwYdTUhV",
    );
    let verdict = judge(
        &good_policy(),
        with_annotation(BUNDLE_ANNOTATION, Some(&bundle)),
    );
    assert_eq!(fulcio_refusal(verdict), FulcioError::BadSet);
}

#[test]
fn a_changed_integrated_time_breaks_the_set() {
    let bundle = annotation(BUNDLE_ANNOTATION).replace(
        &format!("\"integratedTime\":{INTEGRATED_TIME}"),
        &format!("\"integratedTime\":{}", INTEGRATED_TIME + 1),
    );
    let verdict = judge(
        &good_policy(),
        with_annotation(BUNDLE_ANNOTATION, Some(&bundle)),
    );
    assert_eq!(fulcio_refusal(verdict), FulcioError::BadSet);
}

#[test]
fn a_set_by_a_key_that_is_not_rekors_is_refused() {
    let p = policy(
        "fulcio_v1.crt.pem",
        ISSUER,
        EMAIL,
        r#", "rekorPublicKeyPath": "cosign.pub""#,
    );
    assert_eq!(fulcio_refusal(judge(&p, valid())), FulcioError::BadSet);
}

#[test]
fn a_signature_without_a_bundle_is_refused() {
    let verdict = judge(&good_policy(), with_annotation(BUNDLE_ANNOTATION, None));
    assert_eq!(
        fulcio_refusal(verdict),
        FulcioError::MissingAnnotation {
            annotation: BUNDLE_ANNOTATION
        }
    );
}

#[test]
fn a_signature_without_a_certificate_is_refused() {
    let verdict = judge(
        &good_policy(),
        with_annotation(CERTIFICATE_ANNOTATION, None),
    );
    assert_eq!(
        fulcio_refusal(verdict),
        FulcioError::MissingAnnotation {
            annotation: CERTIFICATE_ANNOTATION
        }
    );
}

#[test]
fn a_signature_other_than_the_logged_one_is_refused() {
    // Another valid ECDSA signature (from the key-signed fixture), not
    // the one in the log.
    let other = "MEUCIQDJDv2wP3BrOnqW2YmFtTzYmx/VrygMBdrmALinZrh+pgIgcjUBC+ZaPRfJdVgCqkvNkHlCpAIiWpWlDNMzx+UMu1E=";
    let verdict = judge(
        &good_policy(),
        with_annotation(SIGNATURE_ANNOTATION, Some(other)),
    );
    assert_eq!(
        fulcio_refusal(verdict),
        FulcioError::EntryMismatch { what: "signature" }
    );
}

#[test]
fn fulcio_without_rekor_is_refused_as_containers_image_refuses_it() {
    let p = policy("fulcio_v1.crt.pem", ISSUER, EMAIL, "");
    match judge(&p, valid()) {
        Verdict::Refused { refusal, .. } => assert_eq!(refusal, Refusal::FulcioWithoutRekor),
        other => panic!("{other:?}"),
    }
}

fn root() -> FulcioRoot {
    FulcioRoot::new(&fixture("fulcio_v1.crt.pem"), ISSUER, EMAIL).unwrap()
}

fn verify_at(at: i64) -> Result<(), FulcioError> {
    root()
        .verify_certificate_at(
            at,
            annotation(CERTIFICATE_ANNOTATION).as_bytes(),
            Some(annotation(CHAIN_ANNOTATION).as_bytes()),
        )
        .map(|_| ())
}

#[test]
fn the_certificate_is_valid_at_the_integrated_time() {
    assert_eq!(verify_at(INTEGRATED_TIME), Ok(()));
}

#[test]
fn the_certificate_is_refused_after_it_expired() {
    // Fulcio's certificates live ten minutes: 20:51:31 to 21:01:31.
    let not_after = 1_674_248_491;
    assert_eq!(verify_at(not_after), Ok(()));
    assert_eq!(
        verify_at(not_after + 1),
        Err(FulcioError::NotValidAt {
            at: not_after + 1,
            not_before: 1_674_247_891,
            not_after
        })
    );
}

#[test]
fn the_certificate_is_refused_before_it_was_issued() {
    assert!(matches!(
        verify_at(1_674_247_890),
        Err(FulcioError::NotValidAt { .. })
    ));
}

#[test]
fn a_ca_file_without_certificates_refuses_the_image_naming_it() {
    let p = policy(
        "rekor.pub",
        ISSUER,
        EMAIL,
        r#", "rekorPublicKeyPath": "rekor.pub""#,
    );
    match judge(&p, valid()) {
        Verdict::Refused {
            refusal: Refusal::FulcioCa { detail },
            ..
        } => assert!(detail.starts_with("\"rekor.pub\""), "{detail}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_logged_certificate_other_than_the_signatures_is_refused() {
    // The intermediate's PEM, a certificate the entry does not name.
    let chain = annotation(CHAIN_ANNOTATION);
    let end = chain.find("-----END CERTIFICATE-----").unwrap() + 26;
    let verdict = judge(
        &good_policy(),
        with_annotation(CERTIFICATE_ANNOTATION, Some(&chain[..end])),
    );
    assert_eq!(
        fulcio_refusal(verdict),
        FulcioError::EntryMismatch { what: "publicKey" }
    );
}

#[test]
fn a_payload_other_than_the_logged_one_is_refused() {
    let blob = valid();
    let Signature::Sigstore(mut sig) = Signature::from_blob(&blob).unwrap() else {
        panic!("not sigstore");
    };
    sig.payload.push(b' ');
    assert_eq!(
        fulcio_refusal(judge(&good_policy(), sig.to_blob())),
        FulcioError::EntryMismatch {
            what: "payload hash"
        }
    );
}

const KEY_REFERENCE: &str = "192.168.64.2:5000/cosign-signed/key-1";

fn key_policy(keys: &str, rekor: &str) -> String {
    format!(
        r#"{{"default": [{{"type": "sigstoreSigned", "keyPaths": {keys},
            "signedIdentity": {{"type": "matchRepository"}} {rekor}}}]}}"#
    )
}

fn key_rekor_valid() -> Vec<u8> {
    fixture("key-rekor-valid.signature")
}

#[test]
fn a_key_signature_logged_in_rekor_is_accepted() {
    for keys in [
        r#"["cosign2.pub"]"#,
        r#"["cosign2.pub", "cosign.pub"]"#,
        r#"["cosign.pub", "cosign2.pub"]"#,
    ] {
        for rekor in [r#"["rekor.pub"]"#, r#"["cosign.pub", "rekor.pub"]"#] {
            let p = key_policy(keys, &format!(r#", "rekorPublicKeyPaths": {rekor}"#));
            let verdict = judge_named(&p, KEY_REFERENCE, key_rekor_valid());
            assert!(verdict.is_allowed(), "{keys} {rekor}: {verdict}");
        }
    }
}

#[test]
fn without_rekor_a_key_signature_needs_no_bundle() {
    let signature = changed(key_rekor_valid(), BUNDLE_ANNOTATION, None);
    let verdict = judge_named(
        &key_policy(r#"["cosign2.pub"]"#, ""),
        KEY_REFERENCE,
        signature,
    );
    assert!(verdict.is_allowed(), "{verdict}");
}

#[test]
fn with_rekor_a_key_signature_without_a_bundle_is_refused() {
    let p = key_policy(
        r#"["cosign2.pub"]"#,
        r#", "rekorPublicKeyPath": "rekor.pub""#,
    );
    let signature = changed(key_rekor_valid(), BUNDLE_ANNOTATION, None);
    assert_eq!(
        fulcio_refusal(judge_named(&p, KEY_REFERENCE, signature)),
        FulcioError::MissingAnnotation {
            annotation: BUNDLE_ANNOTATION
        }
    );
}

#[test]
fn with_rekor_a_key_signature_whose_set_another_key_made_is_refused() {
    let p = key_policy(
        r#"["cosign2.pub"]"#,
        r#", "rekorPublicKeyPath": "cosign.pub""#,
    );
    assert_eq!(
        fulcio_refusal(judge_named(&p, KEY_REFERENCE, key_rekor_valid())),
        FulcioError::BadSet
    );
}

#[test]
fn with_rekor_a_key_the_log_does_not_name_is_refused() {
    let p = key_policy(
        r#"["cosign.pub"]"#,
        r#", "rekorPublicKeyPath": "rekor.pub""#,
    );
    assert_eq!(
        fulcio_refusal(judge_named(&p, KEY_REFERENCE, key_rekor_valid())),
        FulcioError::EntryMismatch { what: "publicKey" }
    );
}

/// The valid signature's Rekor bundle with its entry's body changed by
/// `edit`, and its SET made again by a Rekor key of the test's own (the
/// real one's private key is Rekor's); the policy trusts that key.
fn resigned_by_own_rekor(edit: impl FnOnce(&mut serde_json::Value)) -> (String, Vec<u8>) {
    use ferry_core::base64::{Alphabet, decode_padded, encode_padded};
    use p256::ecdsa::signature::Signer as _;
    let mut bundle: serde_json::Value =
        serde_json::from_str(&annotation(BUNDLE_ANNOTATION)).unwrap();
    let payload = &mut bundle["Payload"];
    let body = decode_padded(payload["body"].as_str().unwrap(), Alphabet::Standard).unwrap();
    let mut body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    edit(&mut body);
    payload["body"] = encode_padded(body.to_string().as_bytes(), Alphabet::Standard).into();
    // RFC 8785 for this payload (ASCII strings, integers): sorted keys,
    // compact, which is how serde_json writes its sorted maps.
    let canonical = payload.to_string();
    let key = p256::ecdsa::SigningKey::from_slice(&[7; 32]).unwrap();
    let set: p256::ecdsa::Signature = key.sign(canonical.as_bytes());
    bundle["SignedEntryTimestamp"] =
        encode_padded(set.to_der().as_bytes(), Alphabet::Standard).into();
    let rekor = ferry_core::trust::sigstore::PublicKey::from_verifying_key(*key.verifying_key());
    let policy = policy(
        "fulcio_v1.crt.pem",
        ISSUER,
        EMAIL,
        &format!(
            r#", "rekorPublicKeyData": "{}""#,
            encode_padded(rekor.to_pem().as_bytes(), Alphabet::Standard)
        ),
    );
    (
        policy,
        with_annotation(BUNDLE_ANNOTATION, Some(&bundle.to_string())),
    )
}

#[test]
fn only_a_hashedrekord_entry_vouches_for_a_signature() {
    // The bundle re-signed unchanged is accepted: the test's SET is sound.
    let (policy, signature) = resigned_by_own_rekor(|_| {});
    let verdict = judge(&policy, signature);
    assert!(verdict.is_allowed(), "{verdict}");
    // The same entry under another kind is not.
    let (policy, signature) = resigned_by_own_rekor(|body| body["kind"] = "rekord".into());
    assert!(matches!(
        fulcio_refusal(judge(&policy, signature)),
        FulcioError::Bundle { detail } if detail.contains("hashedrekord")
    ));
}
