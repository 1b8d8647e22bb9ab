//! Making a copy's new signatures: `--sign-by` (OpenPGP simple signing
//! through gpg, as containers/image goes through gpgme) and
//! `--sign-by-sigstore-private-key` (a cosign key, in process).
//!
//! What a signature says is ferry-core's [`Payload`]; this module only
//! adds the clock (the timestamp) and the keys.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use ferry_core::Digest;
use ferry_core::trust::blob::{SIGSTORE_MEDIA_TYPE, SIGSTORE_SIGNATURE_ANNOTATION, Sigstore};
use ferry_core::trust::{Format, Payload};

use super::Sign;
use super::gpg::Gpg;
use super::sigstore::SigstoreSigner;

/// Who ferry says made a signature (`optional.creator`).
pub const CREATOR: &str = concat!("ferry ", env!("CARGO_PKG_VERSION"));

/// An OpenPGP key in the user's GnuPG keyring.
#[derive(Debug)]
pub struct OpenPgpKey {
    pub gpg: Gpg,
    /// `--sign-by`: a fingerprint (or anything `gpg --local-user` takes).
    pub key: String,
    pub passphrase: Option<String>,
}

/// The signers of one copy, for the docker reference its signatures
/// claim.
#[derive(Debug)]
pub struct Signers {
    /// The identity the signatures claim: `--sign-identity`, else the
    /// destination's docker reference.
    pub identity: String,
    pub openpgp: Option<OpenPgpKey>,
    pub sigstore: Option<SigstoreSigner>,
}

impl Signers {
    /// The formats of the signatures it makes.
    pub fn formats(&self) -> ferry_core::destination::SignatureFormats {
        ferry_core::destination::SignatureFormats {
            simple: self.openpgp.is_some(),
            sigstore: self.sigstore.is_some(),
        }
    }
}

impl Sign for Signers {
    fn sign(&self, digest: &Digest) -> Result<Vec<Vec<u8>>, String> {
        let mut signatures = Vec::new();
        if let Some(key) = &self.openpgp {
            let payload = payload(&self.identity, digest, Format::SimpleSigning)?;
            let signature = key
                .gpg
                .sign(&payload, &key.key, key.passphrase.as_deref())
                .map_err(|e| e.to_string())?;
            signatures.push(signature);
        }
        if let Some(signer) = &self.sigstore {
            let payload = payload(&self.identity, digest, Format::Sigstore)?;
            let signature = signer.sign(&payload);
            signatures.push(sigstore_blob(payload, signature));
        }
        Ok(signatures)
    }
}

/// What a new signature says: the manifest digest, the identity it
/// claims, ferry as its creator and now as its time. Every signature
/// ferry makes (a copy's, `standalone-sign`'s) says it this way.
pub fn payload(identity: &str, digest: &Digest, format: Format) -> Result<Vec<u8>, String> {
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    Payload {
        manifest_digest: digest.to_string(),
        docker_reference: identity.to_string(),
        creator: Some(CREATOR.to_string()),
        timestamp: Some(timestamp),
    }
    .to_bytes(format)
    .map_err(|e| e.to_string())
}

/// A sigstore signature in the stored form containers/image reads.
pub fn sigstore_blob(payload: Vec<u8>, signature: String) -> Vec<u8> {
    Sigstore {
        media_type: SIGSTORE_MEDIA_TYPE.to_string(),
        payload,
        annotations: vec![(SIGSTORE_SIGNATURE_ANNOTATION.to_string(), signature)],
    }
    .to_blob()
}

impl fmt::Display for Signers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "signing as {}", self.identity)
    }
}
