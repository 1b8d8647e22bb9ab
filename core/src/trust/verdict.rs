//! Whether an image may be used: the requirements of the scope that
//! applies, each judged over the image's manifest and signatures, as
//! containers/image's `IsRunningImageAllowed` judges them.
//!
//! Every requirement must be met. `signedBy` and `sigstoreSigned` are met
//! by one signature that verifies with a trusted key, whose payload names
//! this manifest's digest and an identity the rule accepts; every other
//! signature is ignored (a mirror may carry signatures from keys the
//! policy does not trust). When none is accepted, the refusal lists why
//! each failed.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use super::blob::{self, BlobError, Signature};
use super::fulcio::{FulcioError, FulcioRoot};
use super::identity::IdentityMismatch;
use super::payload::{Format, Payload};
use super::policy::{Fulcio, IdentityRule, KeySource, KeyType, Policy, Requirement, SigstoreTrust};
use super::scope::{AppliedScope, ImageScope};
use super::sigstore::PublicKey;
use super::strict::FormatError;
use crate::digest::Digest;
use crate::reference::Named;

/// An image to judge.
#[derive(Debug, Clone, Copy)]
pub struct Image<'a> {
    /// How the user named it (`docker://…`, `oci:…`), for messages.
    pub name: &'a str,
    pub scope: &'a ImageScope,
    /// Its docker reference, when its transport has one; the identity
    /// rules that compare with the image's name need it.
    pub reference: Option<&'a Named>,
    /// The manifest exactly as read.
    pub manifest: &'a [u8],
    /// The signatures as stored ([`blob`]).
    pub signatures: &'a [Vec<u8>],
}

/// What a verified OpenPGP signature says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// The signed bytes.
    pub payload: Vec<u8>,
    /// The signer's key fingerprint, upper-case hex.
    pub signer: String,
}

/// Why the cryptography refused a signature, as the verifier reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CryptoFailure {
    /// Made by a key that is not among the trusted ones.
    UnknownKey { key_id: String },
    /// Made by a key that had expired (or with a signature that had).
    Expired { detail: String },
    /// Made by a revoked key.
    Revoked { detail: String },
    /// The signature does not match what it signs.
    BadSignature { detail: String },
    /// Not a signature the verifier can read.
    Malformed { detail: String },
}

impl fmt::Display for CryptoFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CryptoFailure::UnknownKey { key_id } => write!(f, "signature by unknown key {key_id}"),
            CryptoFailure::Expired { detail } => write!(f, "expired: {detail}"),
            CryptoFailure::Revoked { detail } => write!(f, "revoked: {detail}"),
            CryptoFailure::BadSignature { detail } => write!(f, "invalid signature: {detail}"),
            CryptoFailure::Malformed { detail } => write!(f, "unreadable signature: {detail}"),
        }
    }
}

/// The outside world's part of a judgement: key files, and OpenPGP,
/// whose keyrings and cryptography live in native code.
pub trait Verifier {
    /// The contents of a key file the policy names.
    fn read_key_file(&mut self, path: &str) -> Result<Vec<u8>, String>;

    /// Verifies an OpenPGP signed message with exactly these keys (each
    /// the contents of a key file: armored or binary, one or more keys).
    fn verify_openpgp(
        &mut self,
        keys: &[Vec<u8>],
        signature: &[u8],
    ) -> Result<Signed, CryptoFailure>;
}

/// The judgement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Allowed {
        scope: AppliedScope,
    },
    Refused {
        scope: AppliedScope,
        refusal: Refusal,
    },
}

impl Verdict {
    pub fn is_allowed(&self) -> bool {
        matches!(self, Verdict::Allowed { .. })
    }
}

/// Why a requirement refused an image.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// `reject`.
    Rejected,
    /// `signedBaseLayer`, which containers/image has never implemented.
    SignedBaseLayer,
    /// A `keyType` other than `GPGKeys`, which containers/image does not
    /// implement either.
    KeyTypeUnsupported(KeyType),
    /// `sigstoreSigned` with `fulcio` and no `rekorPublicKey*`, which
    /// later containers/image refuses when it reads the policy.
    FulcioWithoutRekor,
    /// The `fulcio` CA certificates could not be read: which (`caPath`'s
    /// file, or `caData`) and why. One string, so that a refusal stays
    /// as small as before.
    FulcioCa { detail: String },
    /// The keys could not be read.
    Keys { source: String, error: String },
    /// No signature of the requirement's format.
    NoSignature {
        /// How many signatures of other formats there were.
        other_formats: usize,
    },
    /// Signatures exist and none was accepted; why each was not.
    NoneAccepted(Vec<SignatureRefusal>),
}

/// Why one signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureRefusal {
    /// Its stored bytes are not a signature.
    Unreadable(BlobError),
    /// The cryptography refused it.
    Crypto(CryptoFailure),
    /// Its Fulcio certificate or Rekor bundle is not accepted.
    Fulcio(FulcioError),
    /// Its payload is not what a signature of its format says.
    Payload(FormatError),
    /// It vouches for another manifest.
    DigestMismatch { signed: String },
    /// It names an identity the rule does not accept.
    IdentityMismatch {
        signed: String,
        rule: IdentityRule,
        why: IdentityMismatch,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Rejected => f.write_str("the policy rejects it"),
            Refusal::SignedBaseLayer => f.write_str("signedBaseLayer is not implemented"),
            Refusal::KeyTypeUnsupported(t) => {
                write!(f, "keyType {} is not implemented", crate::Quoted(t.as_str()))
            }
            Refusal::FulcioWithoutRekor => f.write_str(
                "sigstoreSigned with fulcio requires rekorPublicKeyPath(s) or rekorPublicKeyData(s)",
            ),
            Refusal::FulcioCa { detail } => write!(f, "cannot read the Fulcio CA {detail}"),
            Refusal::Keys { source, error } => write!(f, "cannot read the keys {source}: {error}"),
            Refusal::NoSignature { other_formats: 0 } => {
                f.write_str("a signature was required, but no signature exists")
            }
            Refusal::NoSignature { other_formats } => write!(
                f,
                "a signature was required, but none of the required format exists ({other_formats} of another format)"
            ),
            Refusal::NoneAccepted(reasons) if reasons.len() == 1 => reasons[0].fmt(f),
            Refusal::NoneAccepted(reasons) => {
                // An image may carry thousands of signatures: name the
                // first few reasons, count the rest.
                const SHOWN: usize = 5;
                f.write_str("none of the signatures was accepted: ")?;
                for (i, r) in reasons.iter().take(SHOWN).enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "{}: {r}", i + 1)?;
                }
                if reasons.len() > SHOWN {
                    write!(f, "; and {} more", reasons.len() - SHOWN)?;
                }
                Ok(())
            }
        }
    }
}

impl fmt::Display for SignatureRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignatureRefusal::Unreadable(e) => e.fmt(f),
            SignatureRefusal::Crypto(e) => e.fmt(f),
            SignatureRefusal::Fulcio(e) => e.fmt(f),
            SignatureRefusal::Payload(e) => write!(f, "invalid signature payload {e}"),
            SignatureRefusal::DigestMismatch { signed } => {
                write!(f, "the signature is for digest {signed}, not this manifest")
            }
            SignatureRefusal::IdentityMismatch { signed, rule, why } => match why {
                IdentityMismatch::NoImageReference => write!(
                    f,
                    "signedIdentity {rule} compares with the image's docker reference, and the image has none"
                ),
                IdentityMismatch::InvalidClaim => {
                    write!(
                        f,
                        "the signature's identity {signed} is not a docker reference",
                        signed = crate::Quoted(signed)
                    )
                }
                IdentityMismatch::Mismatch => {
                    write!(
                        f,
                        "the signature is for identity {signed}, which {rule} does not accept"
                    )
                }
            },
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Allowed { scope } => write!(f, "allowed by {scope}"),
            Verdict::Refused { scope, refusal } => write!(f, "refused by {scope}: {refusal}"),
        }
    }
}

impl Policy {
    /// Judges `image`.
    pub fn judge(&self, image: &Image<'_>, verifier: &mut dyn Verifier) -> Verdict {
        let (scope, requirements) = self.requirements_for(image.scope);
        for requirement in requirements {
            if let Err(refusal) = meets(requirement, image, verifier) {
                return Verdict::Refused { scope, refusal };
            }
        }
        Verdict::Allowed { scope }
    }
}

fn meets(
    requirement: &Requirement,
    image: &Image<'_>,
    verifier: &mut dyn Verifier,
) -> Result<(), Refusal> {
    match requirement {
        Requirement::InsecureAcceptAnything => Ok(()),
        Requirement::Reject => Err(Refusal::Rejected),
        Requirement::SignedBaseLayer { .. } => Err(Refusal::SignedBaseLayer),
        Requirement::SignedBy {
            key_type,
            keys,
            signed_identity,
        } => {
            if *key_type != KeyType::GpgKeys {
                return Err(Refusal::KeyTypeUnsupported(*key_type));
            }
            let keys = read_keys(keys, verifier)?;
            any_signature(image, Format::SimpleSigning, signed_identity, |signature| {
                let Signature::SimpleSigning(bytes) = signature else {
                    return None;
                };
                Some(
                    verifier
                        .verify_openpgp(&keys, bytes)
                        .map(|signed| signed.payload)
                        .map_err(SignatureRefusal::Crypto),
                )
            })
        }
        Requirement::SigstoreSigned {
            trust: SigstoreTrust::Fulcio(fulcio),
            rekor_public_key,
            signed_identity,
        } => {
            let Some(rekor) = rekor_public_key else {
                return Err(Refusal::FulcioWithoutRekor);
            };
            let (root, rekor_keys) = fulcio_trust(fulcio, rekor, verifier)?;
            any_sigstore_signature(image, signed_identity, |sigstore| {
                super::fulcio_check(&root, &rekor_keys, sigstore)
            })
        }
        Requirement::SigstoreSigned {
            trust: SigstoreTrust::Key(keys),
            rekor_public_key,
            signed_identity,
        } => {
            let keys = read_keys(keys, verifier)?;
            let rekor_keys = match rekor_public_key {
                Some(rekor) => Some(rekor_keys(rekor, verifier)?),
                None => None,
            };
            any_sigstore_signature(image, signed_identity, |sigstore| {
                super::sigstore_check(&keys, rekor_keys.as_deref(), sigstore)
            })
        }
    }
}

/// The Fulcio CA and the Rekor keys of a `fulcio` requirement.
fn fulcio_trust(
    fulcio: &Fulcio,
    rekor: &KeySource,
    verifier: &mut dyn Verifier,
) -> Result<(FulcioRoot, Vec<PublicKey>), Refusal> {
    let ca = read_keys(&fulcio.ca, verifier)?;
    let ca: Vec<u8> = ca.concat();
    let root =
        FulcioRoot::new(&ca, &fulcio.oidc_issuer, &fulcio.subject_email).map_err(|error| {
            Refusal::FulcioCa {
                detail: format!("{}: {error}", key_source_name(&fulcio.ca)),
            }
        })?;
    Ok((root, rekor_keys(rekor, verifier)?))
}

/// The Rekor public keys (`rekorPublicKey*`); one that cannot be read
/// refuses the image, as containers/image refuses the policy.
fn rekor_keys(rekor: &KeySource, verifier: &mut dyn Verifier) -> Result<Vec<PublicKey>, Refusal> {
    read_keys(rekor, verifier)?
        .iter()
        .map(|pem| PublicKey::from_pem(pem))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Refusal::Keys {
            source: key_source_name(rekor),
            error: e.to_string(),
        })
}

fn key_source_name(source: &KeySource) -> String {
    match source {
        KeySource::Path(p) => format!("{p}", p = crate::Quoted(p)),
        KeySource::Paths(p) => format!("{p:?}"),
        KeySource::Data(_) | KeySource::Datas(_) => "(inline data)".to_string(),
    }
}

/// [`any_signature`] over the sigstore signatures (attachments of the
/// signature media type; others are another format to a policy), each
/// checked by `check`.
fn any_sigstore_signature(
    image: &Image<'_>,
    rule: &IdentityRule,
    check: impl Fn(&blob::Sigstore) -> Result<(), SignatureRefusal>,
) -> Result<(), Refusal> {
    any_signature(image, Format::Sigstore, rule, |signature| {
        let Signature::Sigstore(sigstore) = signature else {
            return None;
        };
        if sigstore.media_type != blob::SIGSTORE_MEDIA_TYPE {
            return None;
        }
        Some(check(sigstore).map(|()| sigstore.payload.clone()))
    })
}

/// The key files' contents, or the inline keys.
fn read_keys(source: &KeySource, verifier: &mut dyn Verifier) -> Result<Vec<Vec<u8>>, Refusal> {
    let read = |verifier: &mut dyn Verifier, path: &str| {
        verifier.read_key_file(path).map_err(|error| Refusal::Keys {
            source: format!("{path}", path = crate::Quoted(path)),
            error,
        })
    };
    match source {
        KeySource::Path(path) => Ok(alloc::vec![read(verifier, path)?]),
        KeySource::Paths(paths) => paths.iter().map(|p| read(verifier, p)).collect(),
        KeySource::Data(data) => Ok(alloc::vec![data.clone()]),
        KeySource::Datas(datas) => Ok(datas.clone()),
    }
}

/// Accepts the image when one signature of `format` verifies (through
/// `verify`, which returns `None` for signatures of another format) and
/// its payload matches the manifest and the identity rule.
fn any_signature(
    image: &Image<'_>,
    format: Format,
    rule: &IdentityRule,
    mut verify: impl FnMut(&Signature<'_>) -> Option<Result<Vec<u8>, SignatureRefusal>>,
) -> Result<(), Refusal> {
    let mut reasons = Vec::new();
    let mut other_formats = 0;
    for stored in image.signatures {
        let signature = match Signature::from_blob(stored) {
            Ok(s) => s,
            Err(e) => {
                reasons.push(SignatureRefusal::Unreadable(e));
                continue;
            }
        };
        let Some(verified) = verify(&signature) else {
            other_formats += 1;
            continue;
        };
        match verified.and_then(|payload| accept_payload(&payload, format, image, rule)) {
            Ok(()) => return Ok(()),
            Err(reason) => reasons.push(reason),
        }
    }
    if reasons.is_empty() {
        Err(Refusal::NoSignature { other_formats })
    } else {
        Err(Refusal::NoneAccepted(reasons))
    }
}

/// The checks after the cryptography: the payload's form, then its
/// digest, then its identity (containers/image's order).
fn accept_payload(
    payload: &[u8],
    format: Format,
    image: &Image<'_>,
    rule: &IdentityRule,
) -> Result<(), SignatureRefusal> {
    let payload = Payload::parse(payload, format).map_err(SignatureRefusal::Payload)?;
    if !manifest_matches(image.manifest, &payload.manifest_digest) {
        return Err(SignatureRefusal::DigestMismatch {
            signed: payload.manifest_digest,
        });
    }
    rule.check(image.reference, &payload.docker_reference)
        .map_err(|why| SignatureRefusal::IdentityMismatch {
            signed: payload.docker_reference.to_string(),
            rule: rule.clone(),
            why,
        })
}

/// containers/image's `manifest.MatchesDigest`: the manifest's digest in
/// the signed digest's algorithm, over the JWS payload for signed schema
/// 1. A digest that does not parse matches nothing.
fn manifest_matches(manifest: &[u8], signed: &str) -> bool {
    let Ok(expected) = Digest::parse(signed) else {
        return false;
    };
    let bytes =
        if crate::manifest::guess_media_type(manifest) == crate::media_type::DOCKER_V2S1_SIGNED {
            match crate::manifest::jws::payload(manifest) {
                Ok(payload) => payload,
                Err(_) => return false,
            }
        } else {
            manifest.to_vec()
        };
    Digest::of(expected.algorithm(), &bytes) == expected
}
