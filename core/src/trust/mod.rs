//! Trust: whether an image may be used, decided as containers/image
//! decides it from `policy.json` (containers-policy.json(5)).
//!
//! Everything here is a decision: reading the policy, finding the scope
//! that applies to an image, matching the identity a signature claims
//! against the image's reference, and combining requirements into a
//! verdict. The cryptography that proves who made a signature is asked
//! for, not performed, where it needs keys from the outside world
//! (OpenPGP keyrings); native carries it out and hands back what the
//! signature says.
//!
//! The pieces, in the order a judgement uses them: [`policy`] (the file),
//! [`scope`] (which part of it applies to an image), [`blob`] (what the
//! stored signatures are), [`payload`] (what a signature claims),
//! [`identity`] (whether the claimed name fits the image) and
//! [`verdict`] (all of it together). Everything refuses what it does not
//! understand ([`strict`]).

pub mod blob;
pub mod fulcio;
pub mod identity;
pub mod payload;
pub mod policy;
pub mod scope;
pub mod sigstore;
pub mod strict;
pub mod verdict;

pub use blob::Signature;
pub use payload::{Format, Payload};
pub use policy::{IdentityRule, KeySource, Policy, Requirement};
pub use scope::{AppliedScope, ImageScope};
pub use strict::FormatError;
pub use verdict::{CryptoFailure, Image, Refusal, Signed, Verdict, Verifier};

/// Verifies a sigstore signature with one of `keys` (cosign `.pub`
/// files); which key fails and why is reported for the last key tried.
///
/// With Rekor keys, as later containers/image: the signature's Rekor
/// bundle must verify and log this signature made by one of the keys
/// (the first key it matches is the only one then tried).
fn sigstore_check(
    keys: &[alloc::vec::Vec<u8>],
    rekor_keys: Option<&[sigstore::PublicKey]>,
    signature: &blob::Sigstore,
) -> Result<(), verdict::SignatureRefusal> {
    use alloc::string::ToString;
    let refuse = |detail: alloc::string::String| {
        Err(verdict::SignatureRefusal::Crypto(
            CryptoFailure::BadSignature { detail },
        ))
    };
    let Some(b64) = signature.annotation(sigstore::SIGNATURE_ANNOTATION) else {
        return refuse(alloc::format!(
            "the signature has no {} annotation",
            sigstore::SIGNATURE_ANNOTATION
        ));
    };
    let bundle = match rekor_keys {
        Some(_) => Some(signature.annotation(fulcio::BUNDLE_ANNOTATION).ok_or(
            verdict::SignatureRefusal::Fulcio(fulcio::FulcioError::MissingAnnotation {
                annotation: fulcio::BUNDLE_ANNOTATION,
            }),
        )?),
        None => None,
    };
    let mut last = alloc::string::String::from("no keys");
    let mut rekor_failure = None;
    for key in keys {
        let key = match sigstore::PublicKey::from_pem(key) {
            Ok(k) => k,
            Err(e) => {
                last = alloc::format!("unusable public key: {e}");
                continue;
            }
        };
        if let (Some(rekor_keys), Some(bundle)) = (rekor_keys, bundle) {
            if let Err(e) = fulcio::verify_rekor_set(
                rekor_keys,
                bundle.as_bytes(),
                key.to_pem().as_bytes(),
                b64,
                &signature.payload,
            ) {
                rekor_failure = Some(e);
                continue;
            }
            rekor_failure = None;
        }
        match sigstore::verify_signature(&key, &signature.payload, b64) {
            Ok(()) => return Ok(()),
            Err(e) if rekor_keys.is_some() => {
                // The log vouches for this key only; the others are not
                // tried.
                return refuse(e.to_string());
            }
            Err(e) => last = e.to_string(),
        }
    }
    match rekor_failure {
        Some(e) => Err(verdict::SignatureRefusal::Fulcio(e)),
        None => refuse(last),
    }
}

/// Verifies a sigstore signature made with a Fulcio certificate and
/// logged in Rekor ([`fulcio`]): the SET and its entry, then the
/// certificate at the entry's time, then the payload's signature with the
/// certificate's key.
fn fulcio_check(
    root: &fulcio::FulcioRoot,
    rekor_keys: &[sigstore::PublicKey],
    signature: &blob::Sigstore,
) -> Result<(), verdict::SignatureRefusal> {
    use fulcio::FulcioError;
    let refuse = verdict::SignatureRefusal::Fulcio;
    let annotation = |annotation: &'static str| {
        signature
            .annotation(annotation)
            .ok_or(refuse(FulcioError::MissingAnnotation { annotation }))
    };
    let b64 = annotation(sigstore::SIGNATURE_ANNOTATION)?;
    let bundle = annotation(fulcio::BUNDLE_ANNOTATION)?;
    let certificate = annotation(fulcio::CERTIFICATE_ANNOTATION)?;
    let chain = signature.annotation(fulcio::CHAIN_ANNOTATION);
    let at = fulcio::verify_rekor_set(
        rekor_keys,
        bundle.as_bytes(),
        certificate.as_bytes(),
        b64,
        &signature.payload,
    )
    .map_err(refuse)?;
    let key = root
        .verify_certificate_at(at, certificate.as_bytes(), chain.map(str::as_bytes))
        .map_err(refuse)?;
    sigstore::verify_signature(&key, &signature.payload, b64)
        .map_err(|e| refuse(FulcioError::Signature(e)))
}
