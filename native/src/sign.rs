//! Signing Docker schema 1 manifests, as containers/image does when it
//! writes one: a fresh ECDSA P-256 key per manifest, used once and
//! forgotten. Registries that store schema 1 (docker/distribution) refuse
//! an unsigned one, but nothing trusts the key; the manifest's digest,
//! which does not cover the signatures, is what identifies it.
//!
//! ferry-core lays out the signed document ([`jws::Signing`]); this module
//! supplies what the core may not have: randomness for the key and the
//! signature, and the clock for the header's time.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use ferry_core::manifest::jws::{self, EcP256PublicKey, JwsError};
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _,
    UnparsedPublicKey,
};

/// Why a manifest could not be signed, or a signature does not verify.
#[derive(Debug)]
#[non_exhaustive]
pub enum SignError {
    /// The payload cannot be signed, or the document's signatures cannot
    /// be read.
    Jws(JwsError),
    /// The system's random source or the ECDSA operation failed.
    Crypto(&'static str),
    /// Signature `index` is not one ferry can check (not ES256 with a
    /// P-256 JWK).
    UnsupportedSignature { index: usize, algorithm: String },
    /// Signature `index` does not verify.
    BadSignature { index: usize },
    /// The document has no signatures.
    Unsigned,
}

impl fmt::Display for SignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignError::Jws(e) => e.fmt(f),
            SignError::Crypto(what) => write!(f, "signing the schema 1 manifest: {what} failed"),
            SignError::UnsupportedSignature { index, algorithm } => write!(
                f,
                "/signatures/{index}: cannot check a {algorithm:?} signature without a P-256 JWK"
            ),
            SignError::BadSignature { index } => {
                write!(f, "/signatures/{index}: the signature does not verify")
            }
            SignError::Unsigned => f.write_str("the manifest has no signatures"),
        }
    }
}

impl std::error::Error for SignError {}

/// Signs an unsigned schema 1 manifest (Go's compact encoding, as
/// `ferry_core::manifest::convert::to_schema1` builds it) with a new key,
/// at the current time.
pub fn sign_schema1(unsigned: &[u8]) -> Result<Vec<u8>, SignError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let signing = jws::Signing::new(unsigned, now).map_err(SignError::Jws)?;
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
        .map_err(|_| SignError::Crypto("generating a key"))?;
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
        .map_err(|_| SignError::Crypto("loading the generated key"))?;
    let public = EcP256PublicKey::from_uncompressed(pair.public_key().as_ref())
        .ok_or(SignError::Crypto("reading the public key"))?;
    let signature: [u8; 64] = pair
        .sign(&rng, &signing.signing_input())
        .map_err(|_| SignError::Crypto("the ECDSA signature"))?
        .as_ref()
        .try_into()
        .map_err(|_| SignError::Crypto("the signature's length"))?;
    Ok(signing.finish(&public, &signature))
}

/// Verifies every signature of a signed schema 1 manifest against the JWK
/// in its header, and returns how many there are. Only ES256 signatures
/// with a P-256 key (what ferry, containers/image and Docker write) can be
/// checked.
pub fn verify_schema1(document: &[u8]) -> Result<usize, SignError> {
    let signatures = jws::signatures(document).map_err(SignError::Jws)?;
    if signatures.is_empty() {
        return Err(SignError::Unsigned);
    }
    for (index, s) in signatures.iter().enumerate() {
        let key = match (&s.key, s.algorithm.as_str()) {
            (Some(key), "ES256") => key,
            _ => {
                return Err(SignError::UnsupportedSignature {
                    index,
                    algorithm: s.algorithm.clone(),
                });
            }
        };
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, key.to_uncompressed())
            .verify(&s.signing_input, &s.signature)
            .map_err(|_| SignError::BadSignature { index })?;
    }
    Ok(signatures.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    const UNSIGNED: &[u8] = br#"{"name":"","tag":"","architecture":"amd64","fsLayers":[],"history":[],"schemaVersion":1}"#;

    #[test]
    fn a_signed_manifest_verifies_and_keeps_its_payload() {
        let signed = sign_schema1(UNSIGNED).unwrap();
        assert_eq!(verify_schema1(&signed).unwrap(), 1);
        assert_eq!(jws::payload(&signed).unwrap(), UNSIGNED);
    }

    #[test]
    fn each_manifest_gets_a_new_key() {
        let a = jws::signatures(&sign_schema1(UNSIGNED).unwrap()).unwrap();
        let b = jws::signatures(&sign_schema1(UNSIGNED).unwrap()).unwrap();
        assert_ne!(a[0].key, b[0].key);
    }

    #[test]
    fn a_tampered_signature_does_not_verify() {
        let signed = String::from_utf8(sign_schema1(UNSIGNED).unwrap()).unwrap();
        // The architecture is inside the signed payload.
        let tampered = signed.replacen("amd64", "arm64", 1);
        assert!(matches!(
            verify_schema1(tampered.as_bytes()),
            Err(SignError::BadSignature { index: 0 })
        ));
    }

    /// A manifest libtrust signed (the conformance corpus's
    /// `0050-schema1-signed.json`) verifies with the same reading.
    #[test]
    fn libtrusts_own_signatures_verify() {
        let document = include_bytes!("../../tests/conformance/generated/0050-schema1-signed.json");
        assert_eq!(verify_schema1(document).unwrap(), 1);
    }
}
