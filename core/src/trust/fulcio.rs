//! Sigstore signatures made with a Fulcio certificate and logged in Rekor,
//! verified offline as later containers/image (5.25 and newer) verify
//! `sigstoreSigned` requirements with `fulcio` and `rekorPublicKey*`.
//!
//! Such a signature's annotations carry, besides the ECDSA signature:
//! the signing certificate ([`CERTIFICATE_ANNOTATION`], one PEM block),
//! the chain up to Fulcio's root ([`CHAIN_ANNOTATION`], PEM, optional) and
//! the Rekor bundle ([`BUNDLE_ANNOTATION`], JSON: the log's signed entry
//! timestamp over its `Payload`). The checks, in containers/image's order:
//!
//! 1. [`verify_rekor_set`]: the SET verifies, with one of the Rekor keys,
//!    over the RFC 8785 canonical form of the bundle's payload; the
//!    logged `hashedrekord` entry names this certificate, this signature
//!    and the SHA-256 of this payload. Its `integratedTime` is when the
//!    log saw the signature.
//! 2. [`FulcioRoot::verify_certificate_at`]: at that time the certificate
//!    chains to one of the policy's CA certificates (the chain's
//!    certificates but its last are the intermediates offered; each
//!    signature is ECDSA P-256 or P-384 with SHA-256 or SHA-384; every
//!    certificate of the chain is valid at that time, every issuer is a CA,
//!    the certificates allow code signing, none has a critical extension
//!    that is not understood); its OIDC issuer extension (v1 raw, v2 DER
//!    UTF8String; both agree when both are present) equals `oidcIssuer`;
//!    one of its e-mail SANs equals `subjectEmail`.
//! 3. The payload's signature verifies with the certificate's key
//!    (ECDSA P-256, as for key files).
//!
//! containers/image refuses `fulcio` without a Rekor key (the short-lived
//! certificate is only meaningful with the log's time); so does ferry.
//!
//! The X.509 reading here is a small DER walker, enough for the
//! certificates Fulcio issues; it is not exported to WebAssembly.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::signature::hazmat::PrehashVerifier;
use sha2::Digest as _;

use super::sigstore::{self, PublicKey};
use crate::base64::{self, Alphabet};
use crate::json::{self, Object, Value};

/// The annotation holding the signing certificate (PEM).
pub const CERTIFICATE_ANNOTATION: &str = "dev.sigstore.cosign/certificate";
/// The annotation holding the intermediate chain (PEM), optional.
pub const CHAIN_ANNOTATION: &str = "dev.sigstore.cosign/chain";
/// The annotation holding the Rekor bundle (JSON).
pub const BUNDLE_ANNOTATION: &str = "dev.sigstore.cosign/bundle";

/// The PEM type of a certificate.
pub const CERTIFICATE_PEM_TYPE: &str = "CERTIFICATE";

// ---------------------------------------------------------------------------
// Errors

/// Why a Fulcio-certified signature is not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FulcioError {
    /// A required annotation is absent.
    MissingAnnotation { annotation: &'static str },
    /// The bundle is not the JSON a Rekor bundle is.
    Bundle { detail: String },
    /// The SET does not verify with any of the Rekor keys.
    BadSet,
    /// The logged entry is not about this signature: `what` differs
    /// (`publicKey`, `signature`, `payload hash`, ...).
    EntryMismatch { what: &'static str },
    /// The certificate (or chain) annotation is not PEM certificates.
    Certificate { detail: String },
    /// No chain leads from the certificate to the policy's CA.
    NotFromCa { detail: String },
    /// A certificate of the chain was not valid at the log's time.
    NotValidAt {
        /// Unix seconds: the bundle's integrated time.
        at: i64,
        not_before: i64,
        not_after: i64,
    },
    /// The certificate's extended key usage does not allow code signing.
    NotCodeSigning,
    /// A critical extension ferry does not understand.
    UnhandledCriticalExtension { oid: String },
    /// The certificate names no OIDC issuer, or two different ones.
    IssuerExtension { detail: String },
    /// The certificate's OIDC issuer is not the policy's.
    IssuerMismatch { found: String, required: String },
    /// None of the certificate's e-mail addresses is the policy's.
    EmailMismatch {
        found: Vec<String>,
        required: String,
    },
    /// The certificate's key is not one sigstore signatures are checked
    /// with.
    CertificateKey(sigstore::KeyError),
    /// The payload's signature does not verify with the certificate's key.
    Signature(sigstore::SignatureError),
}

impl fmt::Display for FulcioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FulcioError::MissingAnnotation { annotation } => {
                write!(f, "the signature has no {annotation} annotation")
            }
            FulcioError::Bundle { detail } => write!(f, "invalid Rekor bundle: {detail}"),
            FulcioError::BadSet => {
                f.write_str("the Rekor SET does not verify with any of the Rekor public keys")
            }
            FulcioError::EntryMismatch { what } => {
                write!(f, "the Rekor entry's {what} does not match the signature")
            }
            FulcioError::Certificate { detail } => write!(f, "Fulcio certificate: {detail}"),
            FulcioError::NotFromCa { detail } => {
                write!(
                    f,
                    "the certificate is not issued by the Fulcio CA: {detail}"
                )
            }
            FulcioError::NotValidAt {
                at,
                not_before,
                not_after,
            } => write!(
                f,
                "a certificate was not valid at the Rekor integrated time {at} (valid from {not_before} to {not_after}, Unix seconds)"
            ),
            FulcioError::NotCodeSigning => {
                f.write_str("the certificate does not allow code signing")
            }
            FulcioError::UnhandledCriticalExtension { oid } => {
                write!(
                    f,
                    "the certificate has an unhandled critical extension {oid}"
                )
            }
            FulcioError::IssuerExtension { detail } => {
                write!(f, "Fulcio certificate: {detail}")
            }
            FulcioError::IssuerMismatch { found, required } => write!(
                f,
                "the certificate's OIDC issuer is {found}, not {required}",
                found = crate::Quoted(found),
                required = crate::Quoted(required)
            ),
            FulcioError::EmailMismatch { found, required } => write!(
                f,
                "required email {required} is not in the certificate (it has {found:?})",
                required = crate::Quoted(required)
            ),
            FulcioError::CertificateKey(e) => write!(f, "Fulcio certificate: {e}"),
            FulcioError::Signature(e) => e.fmt(f),
        }
    }
}

impl core::error::Error for FulcioError {}

// ---------------------------------------------------------------------------
// DER

const SEQUENCE: u8 = 0x30;
const OID: u8 = 0x06;
const BOOLEAN: u8 = 0x01;
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const OCTET_STRING: u8 = 0x04;
const UTF8_STRING: u8 = 0x0c;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;

/// One DER element: its tag, its contents and all of its bytes.
type Element<'a> = (u8, &'a [u8], &'a [u8]);

/// The DER element at the start of `input`, and what follows it.
fn element(input: &[u8]) -> Option<(Element<'_>, &[u8])> {
    let (&tag, after_tag) = input.split_first()?;
    let (&first, mut rest) = after_tag.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let (bytes, r) = rest.split_at_checked(n)?;
        rest = r;
        bytes
            .iter()
            .fold(0usize, |acc, &b| acc << 8 | usize::from(b))
    };
    let header = input.len() - rest.len();
    let (contents, rest) = rest.split_at_checked(len)?;
    Some(((tag, contents, &input[..header + len]), rest))
}

/// Reads elements one after another.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn next(&mut self) -> Option<Element<'a>> {
        let (element, rest) = element(self.0)?;
        self.0 = rest;
        Some(element)
    }

    fn expect(&mut self, tag: u8) -> Option<&'a [u8]> {
        match self.next()? {
            (t, contents, _) if t == tag => Some(contents),
            _ => None,
        }
    }

    fn peek_tag(&self) -> Option<u8> {
        self.0.first().copied()
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

// OIDs (contents only).
const OID_ECDSA_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
const OID_ECDSA_SHA384: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03];
const OID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
const OID_SUBJECT_KEY_ID: &[u8] = &[0x55, 0x1d, 0x0e];
const OID_KEY_USAGE: &[u8] = &[0x55, 0x1d, 0x0f];
const OID_SAN: &[u8] = &[0x55, 0x1d, 0x11];
const OID_BASIC_CONSTRAINTS: &[u8] = &[0x55, 0x1d, 0x13];
const OID_CERT_POLICIES: &[u8] = &[0x55, 0x1d, 0x20];
const OID_AUTHORITY_KEY_ID: &[u8] = &[0x55, 0x1d, 0x23];
const OID_EXT_KEY_USAGE: &[u8] = &[0x55, 0x1d, 0x25];
const OID_ANY_EKU: &[u8] = &[0x55, 0x1d, 0x25, 0x00];
const OID_CODE_SIGNING: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03];
/// 1.3.6.1.4.1.57264.1.1: Fulcio's OIDC issuer, raw bytes (deprecated).
const OID_FULCIO_ISSUER_V1: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x83, 0xbf, 0x30, 0x01, 0x01];
/// 1.3.6.1.4.1.57264.1.8: Fulcio's OIDC issuer, a DER UTF8String.
const OID_FULCIO_ISSUER_V2: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x83, 0xbf, 0x30, 0x01, 0x08];

/// Extensions whose criticality Go's x509 handles.
const HANDLED: [&[u8]; 7] = [
    OID_SUBJECT_KEY_ID,
    OID_KEY_USAGE,
    OID_SAN,
    OID_BASIC_CONSTRAINTS,
    OID_CERT_POLICIES,
    OID_AUTHORITY_KEY_ID,
    OID_EXT_KEY_USAGE,
];

/// An X.509 certificate, as far as verification needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    der: Vec<u8>,
    tbs: core::ops::Range<usize>,
    signature_algorithm: Vec<u8>,
    signature: Vec<u8>,
    issuer: Vec<u8>,
    subject: Vec<u8>,
    /// Unix seconds.
    pub not_before: i64,
    /// Unix seconds.
    pub not_after: i64,
    spki: Vec<u8>,
    extensions: Vec<Extension>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Extension {
    oid: Vec<u8>,
    critical: bool,
    value: Vec<u8>,
}

impl Certificate {
    /// Reads a DER certificate.
    pub fn from_der(der: &[u8]) -> Result<Self, FulcioError> {
        Self::parse(der).ok_or_else(|| FulcioError::Certificate {
            detail: "not a DER X.509 certificate".to_string(),
        })
    }

    fn parse(der: &[u8]) -> Option<Self> {
        let mut outer = Reader(der);
        let cert = outer.expect(SEQUENCE)?;
        if !outer.is_empty() {
            return None;
        }
        let mut c = Reader(cert);
        let (tag, tbs_contents, tbs_whole) = c.next()?;
        if tag != SEQUENCE {
            return None;
        }
        let tbs_start = tbs_whole.as_ptr() as usize - der.as_ptr() as usize;
        let mut alg = Reader(c.expect(SEQUENCE)?);
        let signature_algorithm = alg.expect(OID)?.to_vec();
        let bits = c.expect(BIT_STRING)?;
        let (&0, signature) = bits.split_first()? else {
            return None;
        };
        if !c.is_empty() {
            return None;
        }

        let mut t = Reader(tbs_contents);
        if t.peek_tag() == Some(0xa0) {
            t.next()?;
        }
        t.expect(INTEGER)?;
        t.expect(SEQUENCE)?;
        let (SEQUENCE, _, issuer) = t.next()? else {
            return None;
        };
        let mut validity = Reader(t.expect(SEQUENCE)?);
        let not_before = time(validity.next()?)?;
        let not_after = time(validity.next()?)?;
        let (SEQUENCE, _, subject) = t.next()? else {
            return None;
        };
        let (SEQUENCE, _, spki) = t.next()? else {
            return None;
        };
        let mut extensions = Vec::new();
        while let Some((tag, contents, _)) = t.next() {
            if tag != 0xa3 {
                continue; // issuerUniqueID, subjectUniqueID
            }
            let mut list = Reader(Reader(contents).expect(SEQUENCE)?);
            while !list.is_empty() {
                let mut ext = Reader(list.expect(SEQUENCE)?);
                let oid = ext.expect(OID)?.to_vec();
                let critical = if ext.peek_tag() == Some(BOOLEAN) {
                    ext.expect(BOOLEAN)? != [0]
                } else {
                    false
                };
                let value = ext.expect(OCTET_STRING)?.to_vec();
                extensions.push(Extension {
                    oid,
                    critical,
                    value,
                });
            }
        }
        Some(Certificate {
            der: der.to_vec(),
            tbs: tbs_start..tbs_start + tbs_whole.len(),
            signature_algorithm,
            signature: signature.to_vec(),
            issuer: issuer.to_vec(),
            subject: subject.to_vec(),
            not_before,
            not_after,
            spki: spki.to_vec(),
            extensions,
        })
    }

    fn extension(&self, oid: &[u8]) -> Option<&Extension> {
        self.extensions.iter().find(|e| e.oid == oid)
    }

    /// The e-mail addresses among its subject alternative names.
    pub fn emails(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(ext) = self.extension(OID_SAN)
            && let Some(names) = Reader(&ext.value).expect(SEQUENCE)
        {
            let mut names = Reader(names);
            while let Some((tag, contents, _)) = names.next() {
                // rfc822Name [1] IA5String, implicit.
                if tag == 0x81 {
                    out.push(String::from_utf8_lossy(contents).into_owned());
                }
            }
        }
        out
    }

    /// The OIDC issuer Fulcio recorded, from the v1 or v2 extension.
    pub fn oidc_issuer(&self) -> Result<String, FulcioError> {
        let bad = |detail: &str| FulcioError::IssuerExtension {
            detail: detail.to_string(),
        };
        let mut v1 = None;
        let mut v2 = None;
        for ext in &self.extensions {
            if ext.oid == OID_FULCIO_ISSUER_V1 {
                if v1.is_some() {
                    return Err(bad("duplicate OIDC issuer v1 extension"));
                }
                v1 = Some(String::from_utf8_lossy(&ext.value).into_owned());
            } else if ext.oid == OID_FULCIO_ISSUER_V2 {
                if v2.is_some() {
                    return Err(bad("duplicate OIDC issuer v2 extension"));
                }
                let mut r = Reader(&ext.value);
                let text = r
                    .expect(UTF8_STRING)
                    .filter(|_| r.is_empty())
                    .ok_or_else(|| bad("invalid ASN.1 in OIDC issuer v2 extension"))?;
                let text = core::str::from_utf8(text)
                    .map_err(|_| bad("invalid UTF-8 in OIDC issuer v2 extension"))?;
                v2 = Some(text.to_string());
            }
        }
        match (v1, v2) {
            (Some(a), Some(b)) if a != b => Err(FulcioError::IssuerExtension {
                detail: alloc::format!(
                    "inconsistent OIDC issuer extensions: v1 {a}, v2 {b}",
                    a = crate::Quoted(&a),
                    b = crate::Quoted(&b)
                ),
            }),
            (Some(a), _) | (None, Some(a)) => Ok(a),
            (None, None) => Err(bad("missing the OIDC issuer extension")),
        }
    }

    /// Its public key, when it is one sigstore signatures are checked with.
    pub fn public_key(&self) -> Result<PublicKey, FulcioError> {
        PublicKey::from_spki_der(&self.spki).map_err(FulcioError::CertificateKey)
    }

    fn is_ca(&self) -> bool {
        let Some(ext) = self.extension(OID_BASIC_CONSTRAINTS) else {
            return false;
        };
        let Some(seq) = Reader(&ext.value).expect(SEQUENCE) else {
            return false;
        };
        let mut r = Reader(seq);
        r.peek_tag() == Some(BOOLEAN) && r.expect(BOOLEAN) == Some(&[0xff][..])
    }

    /// Whether its extended key usage (if any) allows code signing.
    fn allows_code_signing(&self) -> bool {
        let Some(ext) = self.extension(OID_EXT_KEY_USAGE) else {
            return true;
        };
        let Some(seq) = Reader(&ext.value).expect(SEQUENCE) else {
            return false;
        };
        let mut r = Reader(seq);
        while let Some((tag, oid, _)) = r.next() {
            if tag == OID && (oid == OID_CODE_SIGNING || oid == OID_ANY_EKU) {
                return true;
            }
        }
        false
    }

    /// Whether `issuer`'s key made this certificate's signature.
    fn signed_by(&self, issuer: &Certificate) -> bool {
        let tbs = &self.der[self.tbs.clone()];
        let prehash: Vec<u8> = match self.signature_algorithm.as_slice() {
            OID_ECDSA_SHA256 => sha2::Sha256::digest(tbs).to_vec(),
            OID_ECDSA_SHA384 => sha2::Sha384::digest(tbs).to_vec(),
            _ => return false,
        };
        let mut spki = Reader(&issuer.spki);
        let Some(spki) = spki.expect(SEQUENCE) else {
            return false;
        };
        let mut spki = Reader(spki);
        let Some(alg) = spki.expect(SEQUENCE) else {
            return false;
        };
        let mut alg = Reader(alg);
        if alg.expect(OID) != Some(OID_EC_PUBLIC_KEY) {
            return false;
        }
        let curve = alg.expect(OID);
        let Some([0, point @ ..]) = spki.expect(BIT_STRING) else {
            return false;
        };
        match curve {
            Some(OID_P256) => {
                let (Ok(key), Ok(sig)) = (
                    p256::ecdsa::VerifyingKey::from_sec1_bytes(point),
                    p256::ecdsa::Signature::from_der(&self.signature),
                ) else {
                    return false;
                };
                key.verify_prehash(&prehash, &sig).is_ok()
            }
            Some(OID_P384) => {
                let (Ok(key), Ok(sig)) = (
                    p384::ecdsa::VerifyingKey::from_sec1_bytes(point),
                    p384::ecdsa::Signature::from_der(&self.signature),
                ) else {
                    return false;
                };
                key.verify_prehash(&prehash, &sig).is_ok()
            }
            _ => false,
        }
    }

    fn check_time(&self, at: i64) -> Result<(), FulcioError> {
        if at < self.not_before || at > self.not_after {
            return Err(FulcioError::NotValidAt {
                at,
                not_before: self.not_before,
                not_after: self.not_after,
            });
        }
        Ok(())
    }

    fn check_critical(&self) -> Result<(), FulcioError> {
        for ext in &self.extensions {
            if ext.critical && !HANDLED.contains(&ext.oid.as_slice()) {
                return Err(FulcioError::UnhandledCriticalExtension {
                    oid: oid_text(&ext.oid),
                });
            }
        }
        Ok(())
    }
}

fn oid_text(contents: &[u8]) -> String {
    let mut out = String::new();
    let mut arc = 0u64;
    let mut first = true;
    for &b in contents {
        arc = arc.saturating_mul(128) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if first {
                let top = (arc / 40).min(2);
                out.push_str(&alloc::format!("{top}.{}", arc - top * 40));
                first = false;
            } else {
                out.push_str(&alloc::format!(".{arc}"));
            }
            arc = 0;
        }
    }
    out
}

/// A UTCTime or GeneralizedTime (`…Z`, whole seconds) as Unix seconds.
fn time((tag, contents, _): Element<'_>) -> Option<i64> {
    let text = core::str::from_utf8(contents).ok()?;
    let text = text.strip_suffix('Z')?;
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let num = |s: &str| s.parse::<i64>().ok();
    let (year, rest) = match (tag, text.len()) {
        (UTC_TIME, 12) => {
            let yy = num(&text[..2])?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, &text[2..])
        }
        (GENERALIZED_TIME, 14) => (num(&text[..4])?, &text[4..]),
        _ => return None,
    };
    let month = num(&rest[0..2])?;
    let day = num(&rest[2..4])?;
    let (h, m, s) = (num(&rest[4..6])?, num(&rest[6..8])?, num(&rest[8..10])?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + m * 60 + s)
}

/// Every `CERTIFICATE` PEM block of `input`, in order.
pub fn certificates_from_pem(input: &[u8]) -> Result<Vec<Certificate>, FulcioError> {
    const END: &[u8] = b"-----END CERTIFICATE-----";
    let mut out = Vec::new();
    let mut rest = input;
    while let Some(start) = find(rest, b"-----BEGIN ") {
        let block = &rest[start..];
        let end = find(block, END).map_or(block.len(), |e| e + END.len());
        let (kind, der) =
            sigstore::pem_decode(&block[..end]).map_err(|e| FulcioError::Certificate {
                detail: e.to_string(),
            })?;
        if kind != CERTIFICATE_PEM_TYPE {
            return Err(FulcioError::Certificate {
                detail: alloc::format!("PEM block is {kind}, not {CERTIFICATE_PEM_TYPE}"),
            });
        }
        out.push(Certificate::from_der(&der)?);
        rest = &block[end..];
    }
    Ok(out)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

// ---------------------------------------------------------------------------
// Fulcio

/// The policy's `fulcio`: CA certificates and the identity required.
#[derive(Debug, Clone)]
pub struct FulcioRoot {
    pub roots: Vec<Certificate>,
    pub oidc_issuer: String,
    pub subject_email: String,
}

/// How long a chain may be (leaf, intermediates, root).
const MAX_CHAIN: usize = 8;

impl FulcioRoot {
    /// Reads the CA file (`caPath` or `caData`): one or more PEM
    /// certificates.
    pub fn new(ca_pem: &[u8], oidc_issuer: &str, subject_email: &str) -> Result<Self, String> {
        let roots = certificates_from_pem(ca_pem).map_err(|e| e.to_string())?;
        if roots.is_empty() {
            return Err("no certificate in the Fulcio CA data".to_string());
        }
        Ok(FulcioRoot {
            roots,
            oidc_issuer: oidc_issuer.to_string(),
            subject_email: subject_email.to_string(),
        })
    }

    /// The certificate's key, when the certificate (PEM) chains through the
    /// intermediates offered (PEM, the last of which is left out as the
    /// signer's idea of the root) to one of the roots at time `at` (Unix
    /// seconds) and names the required issuer and e-mail.
    pub fn verify_certificate_at(
        &self,
        at: i64,
        certificate_pem: &[u8],
        chain_pem: Option<&[u8]>,
    ) -> Result<PublicKey, FulcioError> {
        let mut intermediates = match chain_pem {
            Some(chain) if !chain.is_empty() => certificates_from_pem(chain)?,
            _ => Vec::new(),
        };
        intermediates.pop();
        let mut leaf = certificates_from_pem(certificate_pem)?;
        if leaf.len() != 1 {
            return Err(FulcioError::Certificate {
                detail: alloc::format!(
                    "{} certificates in the certificate annotation, not one",
                    leaf.len()
                ),
            });
        }
        let leaf = leaf.remove(0);
        self.chain(&leaf, &intermediates, at)?;
        let issuer = leaf.oidc_issuer()?;
        if issuer != self.oidc_issuer {
            return Err(FulcioError::IssuerMismatch {
                found: issuer,
                required: self.oidc_issuer.clone(),
            });
        }
        let emails = leaf.emails();
        if !emails.contains(&self.subject_email) {
            return Err(FulcioError::EmailMismatch {
                found: emails,
                required: self.subject_email.clone(),
            });
        }
        leaf.public_key()
    }

    /// Walks from `leaf` to a root; the first failure that is not "no
    /// issuer here" is reported (the time, the key usage).
    fn chain(
        &self,
        leaf: &Certificate,
        intermediates: &[Certificate],
        at: i64,
    ) -> Result<(), FulcioError> {
        let mut current = leaf;
        leaf.check_critical()?;
        if !leaf.allows_code_signing() {
            return Err(FulcioError::NotCodeSigning);
        }
        leaf.check_time(at)?;
        for _ in 0..MAX_CHAIN {
            if let Some(root) = self
                .roots
                .iter()
                .find(|r| r.subject == current.issuer && current.signed_by(r))
            {
                root.check_time(at)?;
                if !root.allows_code_signing() {
                    return Err(FulcioError::NotCodeSigning);
                }
                return Ok(());
            }
            let Some(next) = intermediates
                .iter()
                .find(|c| c.subject == current.issuer && c.is_ca() && current.signed_by(c))
            else {
                return Err(FulcioError::NotFromCa {
                    detail: "no certificate of the chain or the CA signed it".to_string(),
                });
            };
            next.check_critical()?;
            next.check_time(at)?;
            if !next.allows_code_signing() {
                return Err(FulcioError::NotCodeSigning);
            }
            current = next;
        }
        Err(FulcioError::NotFromCa {
            detail: "the chain is too long".to_string(),
        })
    }
}

// ---------------------------------------------------------------------------
// Rekor

/// Verifies a Rekor bundle (`dev.sigstore.cosign/bundle`) for a signature
/// made with `key_or_certificate_pem` (the certificate annotation, or a
/// key file), returning the entry's integrated time (Unix seconds).
pub fn verify_rekor_set(
    rekor_keys: &[PublicKey],
    bundle: &[u8],
    key_or_certificate_pem: &[u8],
    base64_signature: &str,
    payload: &[u8],
) -> Result<i64, FulcioError> {
    let bad = |detail: &str| FulcioError::Bundle {
        detail: detail.to_string(),
    };
    let bundle = json::parse(bundle).map_err(|e| FulcioError::Bundle {
        detail: e.to_string(),
    })?;
    let set_object = exact_fields(&bundle, &["SignedEntryTimestamp", "Payload"])
        .ok_or_else(|| bad("not an object of exactly SignedEntryTimestamp and Payload"))?;
    let set = set_object
        .get_exact("SignedEntryTimestamp")
        .and_then(Value::as_str)
        .and_then(|s| base64::decode_padded(s, Alphabet::Standard).ok())
        .ok_or_else(|| bad("SignedEntryTimestamp is not base64"))?;
    let rekor_payload = set_object.get_exact("Payload").unwrap_or(&Value::Null);
    let mut canonical = String::new();
    canonicalize(rekor_payload, &mut canonical)
        .ok_or_else(|| bad("Payload cannot be canonicalized"))?;
    let set = p256::ecdsa::Signature::from_der(&set).map_err(|_| FulcioError::BadSet)?;
    if !rekor_keys
        .iter()
        .any(|k| k.verifying_key().verify(canonical.as_bytes(), &set).is_ok())
    {
        return Err(FulcioError::BadSet);
    }

    let fields = exact_fields(
        rekor_payload,
        &["body", "integratedTime", "logIndex", "logID"],
    )
    .ok_or_else(|| bad("Payload is not exactly body, integratedTime, logIndex and logID"))?;
    let integrated_time = match fields.get_exact("integratedTime") {
        Some(Value::Number(n)) => n.as_i64(),
        _ => None,
    }
    .ok_or_else(|| bad("integratedTime is not an integer"))?;
    let body = fields
        .get_exact("body")
        .and_then(Value::as_str)
        .and_then(|s| base64::decode_padded(s, Alphabet::Standard).ok())
        .ok_or_else(|| bad("body is not base64"))?;
    let body = json::parse(&body).map_err(|_| bad("body is not JSON"))?;
    let field = |v: Option<&Value>, name: &str| -> Option<Value> {
        v.and_then(Value::as_struct)?.field(name).cloned()
    };
    // Only a hashedrekord entry names a signature, a key and a payload
    // hash; containers/image refuses every other kind.
    match field(Some(&body), "kind").as_ref().and_then(Value::as_str) {
        Some("hashedrekord") => {}
        _ => return Err(bad("the entry is not of kind hashedrekord")),
    }
    let api_version = field(Some(&body), "apiVersion");
    match api_version.as_ref().and_then(Value::as_str) {
        Some("0.0.1") => {}
        Some(_) => return Err(bad("unsupported hashedrekord apiVersion")),
        None => return Err(bad("missing hashedrekord apiVersion")),
    }
    let spec = field(Some(&body), "spec");
    let signature = field(spec.as_ref(), "signature").ok_or_else(|| bad("missing signature"))?;
    let public_key =
        field(Some(&signature), "publicKey").ok_or_else(|| bad("missing signature.publicKey"))?;
    let logged_pem = field(Some(&public_key), "content")
        .as_ref()
        .and_then(Value::as_str)
        .and_then(|s| base64::decode_padded(s, Alphabet::Standard).ok())
        .ok_or_else(|| bad("signature.publicKey.content is not base64"))?;
    let (_, logged_der) = sigstore::pem_decode(&logged_pem)
        .map_err(|_| bad("signature.publicKey.content is not PEM"))?;
    let (_, offered_der) =
        sigstore::pem_decode(key_or_certificate_pem).map_err(|e| FulcioError::Certificate {
            detail: e.to_string(),
        })?;
    if logged_der != offered_der {
        return Err(FulcioError::EntryMismatch { what: "publicKey" });
    }
    let logged_signature = field(Some(&signature), "content")
        .as_ref()
        .and_then(Value::as_str)
        .and_then(|s| base64::decode_padded(s, Alphabet::Standard).ok())
        .ok_or_else(|| bad("signature.content is not base64"))?;
    let offered_signature = base64::decode_padded(base64_signature, Alphabet::Standard)
        .map_err(|e| FulcioError::Signature(sigstore::SignatureError::Base64(e)))?;
    if logged_signature != offered_signature {
        return Err(FulcioError::EntryMismatch { what: "signature" });
    }
    let hash = field(field(spec.as_ref(), "data").as_ref(), "hash")
        .ok_or_else(|| bad("missing data.hash"))?;
    match field(Some(&hash), "algorithm")
        .as_ref()
        .and_then(Value::as_str)
    {
        Some("sha256") => {}
        _ => return Err(bad("data.hash.algorithm is not sha256")),
    }
    let value = field(Some(&hash), "value").ok_or_else(|| bad("missing data.hash.value"))?;
    let expected = hex(&sha2::Sha256::digest(payload));
    if value.as_str() != Some(expected.as_str()) {
        return Err(FulcioError::EntryMismatch {
            what: "payload hash",
        });
    }
    Ok(integrated_time)
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes
        .iter()
        .flat_map(|b| [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 15)]])
        .map(char::from)
        .collect()
}

/// The object, when it has exactly these keys, each once (containers/
/// image's paranoid decoding).
fn exact_fields<'a>(value: &'a Value, names: &[&str]) -> Option<&'a Object> {
    let Value::Object(o) = value else {
        return None;
    };
    let ok = o.members.len() == names.len()
        && names
            .iter()
            .all(|n| o.members.iter().filter(|m| m.key == *n).count() == 1);
    ok.then_some(o)
}

/// RFC 8785 (JCS) canonical JSON, for the values a Rekor payload holds:
/// integers within ±2^53 (others are refused rather than formatted as
/// ECMAScript would), strings, and nesting of them.
fn canonicalize(value: &Value, out: &mut String) -> Option<()> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            let i = n.as_i64().filter(|i| i.unsigned_abs() <= 1 << 53)?;
            out.push_str(&i.to_string());
        }
        Value::String(s) => canonical_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonicalize(item, out)?;
            }
            out.push(']');
        }
        Value::Object(o) => {
            let mut members: Vec<_> = o.members.iter().collect();
            members.sort_by(|a, b| a.key.encode_utf16().cmp(b.key.encode_utf16()));
            if members.windows(2).any(|w| w[0].key == w[1].key) {
                return None;
            }
            out.push('{');
            for (i, m) in members.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_string(&m.key, out);
                out.push(':');
                canonicalize(&m.value, out)?;
            }
            out.push('}');
        }
    }
    Some(())
}

fn canonical_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&alloc::format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_unix_seconds() {
        assert_eq!(
            time((UTC_TIME, b"700101000000Z", b"")),
            Some(0),
            "the epoch"
        );
        assert_eq!(time((UTC_TIME, b"230120205131Z", b"")), Some(1_674_247_891));
        assert_eq!(
            time((GENERALIZED_TIME, b"20500101000000Z", b"")),
            Some(2_524_608_000)
        );
        assert_eq!(time((UTC_TIME, b"2301202051Z", b"")), None);
    }

    #[test]
    fn canonical_json_sorts_keys_and_escapes_minimally() {
        let v = json::parse(br#"{"b":1,"a":"x\u00e9\n\u0001","c":[true,null]}"#).unwrap();
        let mut out = String::new();
        canonicalize(&v, &mut out).unwrap();
        assert_eq!(
            out,
            "{\"a\":\"x\u{e9}\\n\\u0001\",\"b\":1,\"c\":[true,null]}"
        );
    }

    #[test]
    fn fulcio_issuer_oids_are_named() {
        assert_eq!(oid_text(OID_FULCIO_ISSUER_V1), "1.3.6.1.4.1.57264.1.1");
        assert_eq!(oid_text(OID_FULCIO_ISSUER_V2), "1.3.6.1.4.1.57264.1.8");
    }
}
