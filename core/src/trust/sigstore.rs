//! Sigstore (cosign) signatures, as containers/image 5.23 reads and writes
//! them for `sigstoreSigned` policy requirements and
//! `--sign-by-sigstore-private-key`.
//!
//! A sigstore signature is a payload (a small JSON document naming an
//! image's manifest digest and a Docker reference) and an ECDSA signature
//! of it, base64 in the `dev.cosignproject.cosign/signature` annotation.
//! This module:
//! - reads the public keys that check them ([`PublicKey::from_pem`]: the
//!   `.pub` file cosign writes, an SPKI `PUBLIC KEY` PEM block; `keyData`
//!   in policy.json is the base64 of such a file);
//! - checks a signature ([`verify`]): ECDSA P-256 over SHA-256 of the
//!   payload, the signature ASN.1 DER as cosign and Go write it, then the
//!   payload read as strictly as containers/image reads it (the one
//!   payload grammar, [`Payload`] with [`Format::Sigstore`], which also
//!   writes the payload ferry signs);
//! - reads and writes the envelope of cosign's encrypted private keys
//!   ([`EncryptedPrivateKey`]); deriving the key and opening the box is
//!   native's work (scrypt and NaCl secretbox need no decision, only
//!   cycles and randomness).
//!
//! What a verified payload claims is not yet trusted for an image: the
//! caller matches [`Payload::manifest_digest`] against the
//! manifest and [`Payload::docker_reference`] against the policy's
//! `signedIdentity`.
//!
//! Only ECDSA P-256 keys are read, the key cosign generates; containers/
//! image also accepts RSA, Ed25519 and other curves through sigstore's
//! `LoadVerifier`, which ferry reports as [`KeyError::UnsupportedAlgorithm`]
//! and [`KeyError::UnsupportedCurve`]. Fulcio certificates and Rekor
//! bundles (later containers/image's `fulcio` and `rekorPublicKey*`) are
//! read in [`super::fulcio`].
//!
//! WebAssembly cost (measured with a scratch export of [`verify`] in
//! ferry-wasm, profile `wasm` + wasm-opt -Oz): +58,425 bytes raw, +24,460
//! gzipped over the npm module's 249,206; of which P-256 arithmetic and
//! ECDSA verification alone are +33,594 and DER signature parsing
//! +7,534. That does not fit the 256,000-byte budget of the main module,
//! hence nothing here is exported there yet.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use p256::ecdsa::signature::Verifier;

use super::payload::{Format, Payload};
use super::strict::FormatError;
use crate::base64::{self, Alphabet, Base64Error};
use crate::json::{self, Object, SyntaxError, Value};

/// The media type of a sigstore signature's payload layer.
pub const SIGNATURE_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The annotation that carries a sigstore signature, base64.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";

/// A signature longer than this (base64 text) is refused before decoding:
/// an ECDSA P-256 DER signature is at most 72 bytes (96 symbols). The
/// bound only spares decoding megabytes of hostile input.
pub const MAX_SIGNATURE_TEXT: usize = 4096;

// ---------------------------------------------------------------------------
// PEM

/// The PEM block type of a public key.
pub const PUBLIC_KEY_PEM_TYPE: &str = "PUBLIC KEY";

/// The first PEM block in `input`, as Go's `pem.Decode` finds it: text
/// before `-----BEGIN` is skipped, so is anything after the block.
/// Returns the block's type and its decoded body. PEM headers
/// (`Key: value` lines) are not supported.
pub fn pem_decode(input: &[u8]) -> Result<(String, Vec<u8>), PemError> {
    const BEGIN: &[u8] = b"-----BEGIN ";
    const DASHES: &[u8] = b"-----";
    let start = if input.starts_with(BEGIN) {
        0
    } else {
        find(input, b"\n-----BEGIN ")
            .map(|i| i + 1)
            .ok_or(PemError::NoBlock)?
    };
    let after_begin = &input[start + BEGIN.len()..];
    let line_end = after_begin
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(after_begin.len());
    let line = trim_end(&after_begin[..line_end]);
    let Some(kind) = line.strip_suffix(DASHES) else {
        return Err(PemError::NoBlock);
    };
    let kind = core::str::from_utf8(kind).map_err(|_| PemError::NoBlock)?;
    let body_and_rest = after_begin.get(line_end + 1..).unwrap_or(&[]);
    let mut end_marker = Vec::with_capacity(kind.len() + 20);
    end_marker.extend_from_slice(b"-----END ");
    end_marker.extend_from_slice(kind.as_bytes());
    end_marker.extend_from_slice(DASHES);
    let body_end = if body_and_rest.starts_with(&end_marker) {
        0
    } else {
        let mut marker = Vec::with_capacity(end_marker.len() + 1);
        marker.push(b'\n');
        marker.extend_from_slice(&end_marker);
        find(body_and_rest, &marker).ok_or_else(|| PemError::NoEnd {
            kind: kind.to_string(),
        })? + 1
    };
    let body = &body_and_rest[..body_end];
    if body.contains(&b':') {
        return Err(PemError::Headers {
            kind: kind.to_string(),
        });
    }
    let text: String = body
        .iter()
        .filter(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        .map(|&b| char::from(b))
        .collect();
    let bytes =
        base64::decode_padded(&text, Alphabet::Standard).map_err(|error| PemError::Base64 {
            kind: kind.to_string(),
            error,
        })?;
    Ok((kind.to_string(), bytes))
}

/// A PEM block as Go's `pem.Encode` writes it: 64 symbols a line.
pub fn pem_encode(kind: &str, bytes: &[u8]) -> String {
    let text = base64::encode_padded(bytes, Alphabet::Standard);
    let mut out = String::with_capacity(text.len() + text.len() / 64 + 2 * kind.len() + 32);
    out.push_str("-----BEGIN ");
    out.push_str(kind);
    out.push_str("-----\n");
    for line in text.as_bytes().chunks(64) {
        // Base64 text is ASCII.
        out.extend(line.iter().map(|&b| char::from(b)));
        out.push('\n');
    }
    out.push_str("-----END ");
    out.push_str(kind);
    out.push_str("-----\n");
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn trim_end(mut line: &[u8]) -> &[u8] {
    while let [rest @ .., b' ' | b'\t' | b'\r'] = line {
        line = rest;
    }
    line
}

/// Why text is not the PEM block expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PemError {
    /// No `-----BEGIN TYPE-----` line.
    NoBlock,
    /// A block of this type with no `-----END TYPE-----` line.
    NoEnd { kind: String },
    /// A block with `Key: value` headers, which no key file of this kind
    /// has.
    Headers { kind: String },
    /// The block's body is not base64.
    Base64 { kind: String, error: Base64Error },
}

impl fmt::Display for PemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PemError::NoBlock => f.write_str("no PEM block (-----BEGIN ...----- line)"),
            PemError::NoEnd { kind } => write!(f, "PEM block {kind} has no -----END line"),
            PemError::Headers { kind } => write!(f, "PEM block {kind} has headers"),
            PemError::Base64 { kind, error } => write!(f, "PEM block {kind}: {error}"),
        }
    }
}

impl core::error::Error for PemError {}

// ---------------------------------------------------------------------------
// Public keys

/// The DER SubjectPublicKeyInfo of every uncompressed P-256 key, up to
/// the point: SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT
/// STRING (66 bytes, no unused bits) }. For P-256 every length is fixed.
pub const SPKI_P256_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];
/// Contents of the OID `id-ecPublicKey` (1.2.840.10045.2.1, RFC 5480).
const OID_EC_PUBLIC_KEY_DER: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// Contents of the OID `prime256v1` (1.2.840.10045.3.1.7, NIST P-256).
const OID_P256_DER: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// One DER element at the start of `input`: (tag, contents, rest).
fn der_element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = match first {
        0..=0x7f => (usize::from(first), rest),
        0x81 => {
            let (&b, rest) = rest.split_first()?;
            (usize::from(b), rest)
        }
        0x82 => {
            let (b, rest) = rest.split_at_checked(2)?;
            (usize::from(b[0]) << 8 | usize::from(b[1]), rest)
        }
        _ => return None,
    };
    let (contents, rest) = rest.split_at_checked(len)?;
    Some((tag, contents, rest))
}

/// The algorithm OID of a SubjectPublicKeyInfo and the OID in its
/// parameters, if they are one (contents only), for naming what a key is.
fn spki_algorithm(der: &[u8]) -> Option<(&[u8], Option<&[u8]>)> {
    const SEQUENCE: u8 = 0x30;
    const OID: u8 = 0x06;
    let (SEQUENCE, spki, _) = der_element(der)? else {
        return None;
    };
    let (SEQUENCE, algorithm, _) = der_element(spki)? else {
        return None;
    };
    let (OID, oid, params) = der_element(algorithm)? else {
        return None;
    };
    let curve = match der_element(params) {
        Some((OID, curve, _)) => Some(curve),
        _ => None,
    };
    Some((oid, curve))
}

/// An OID's contents in dotted form.
fn oid_text(contents: &[u8]) -> String {
    let mut arcs: Vec<u64> = Vec::new();
    let mut arc = 0u64;
    for &b in contents {
        arc = arc.saturating_mul(128) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (arc / 40).min(2);
                arcs.push(first);
                arcs.push(arc - first * 40);
            } else {
                arcs.push(arc);
            }
            arc = 0;
        }
    }
    let mut out = String::new();
    for (i, a) in arcs.iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        out.push_str(&a.to_string());
    }
    out
}

/// A public key that checks sigstore signatures: ECDSA P-256.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    key: p256::ecdsa::VerifyingKey,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("algorithm", &"ECDSA P-256")
            .finish_non_exhaustive()
    }
}

impl PublicKey {
    /// Reads a public key file as cosign writes it (`cosign.pub`): the
    /// first PEM block, of type `PUBLIC KEY`, holding a DER
    /// SubjectPublicKeyInfo. As Go's `x509.ParsePKIXPublicKey`, the EC point
    /// must be uncompressed and nothing may follow the DER structure.
    pub fn from_pem(input: &[u8]) -> Result<Self, KeyError> {
        let (kind, der) = pem_decode(input).map_err(KeyError::Pem)?;
        if kind != PUBLIC_KEY_PEM_TYPE {
            return Err(KeyError::PemType { found: kind });
        }
        Self::from_spki_der(&der)
    }

    /// Reads a DER SubjectPublicKeyInfo of an ECDSA P-256 key.
    ///
    /// DER is canonical: the SPKI of an uncompressed P-256 point with the
    /// named curve (the only form Go's `x509.ParsePKIXPublicKey` reads) is
    /// [`SPKI_P256_PREFIX`] and the 65-byte point, so the structure is
    /// compared, not parsed; RustCrypto then checks the point. Other keys
    /// are walked only far enough to name their algorithm in the error.
    pub fn from_spki_der(der: &[u8]) -> Result<Self, KeyError> {
        if let Some(point) = der.strip_prefix(&SPKI_P256_PREFIX) {
            if point.len() != 65 {
                // Bytes after the structure, or a short point.
                return Err(KeyError::NotSpki);
            }
            let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(point)
                .map_err(|_| KeyError::InvalidPoint)?;
            return Ok(PublicKey { key });
        }
        match spki_algorithm(der) {
            Some((OID_EC_PUBLIC_KEY_DER, Some(OID_P256_DER))) => Err(KeyError::InvalidPoint),
            Some((OID_EC_PUBLIC_KEY_DER, Some(curve))) => Err(KeyError::UnsupportedCurve {
                oid: oid_text(curve),
            }),
            Some((OID_EC_PUBLIC_KEY_DER, None)) | None => Err(KeyError::NotSpki),
            Some((algorithm, _)) => Err(KeyError::UnsupportedAlgorithm {
                oid: oid_text(algorithm),
            }),
        }
    }

    /// The key as RustCrypto holds it, for native code that signs with
    /// its private half.
    pub fn verifying_key(&self) -> &p256::ecdsa::VerifyingKey {
        &self.key
    }

    /// Wraps a RustCrypto key.
    pub fn from_verifying_key(key: p256::ecdsa::VerifyingKey) -> Self {
        PublicKey { key }
    }

    /// The uncompressed SEC 1 point (65 bytes).
    pub fn to_sec1_uncompressed(&self) -> Vec<u8> {
        self.key.to_sec1_point(false).as_bytes().to_vec()
    }

    /// The key as a cosign `.pub` file: a `PUBLIC KEY` PEM block.
    pub fn to_pem(&self) -> String {
        pem_encode(PUBLIC_KEY_PEM_TYPE, &self.to_spki_der())
    }

    /// The DER SubjectPublicKeyInfo, as Go's `x509.MarshalPKIXPublicKey`
    /// writes it for a P-256 key.
    pub fn to_spki_der(&self) -> Vec<u8> {
        let mut der = Vec::with_capacity(91);
        der.extend_from_slice(&SPKI_P256_PREFIX);
        der.extend_from_slice(&self.to_sec1_uncompressed());
        der
    }
}

/// Why a public key cannot check sigstore signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// The text is not PEM.
    Pem(PemError),
    /// The first PEM block is not a `PUBLIC KEY`.
    PemType { found: String },
    /// The block is not a DER SubjectPublicKeyInfo.
    NotSpki,
    /// The key is not an elliptic curve key (RSA, Ed25519, ...).
    UnsupportedAlgorithm { oid: String },
    /// An elliptic curve key on a curve other than P-256.
    UnsupportedCurve { oid: String },
    /// The point is compressed, malformed or not on P-256.
    InvalidPoint,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::Pem(e) => write!(f, "public key: {e}"),
            KeyError::PemType { found } => {
                write!(
                    f,
                    "public key: PEM block is {found}, not {PUBLIC_KEY_PEM_TYPE}"
                )
            }
            KeyError::NotSpki => f.write_str("public key: not a DER SubjectPublicKeyInfo"),
            KeyError::UnsupportedAlgorithm { oid } => write!(
                f,
                "public key: algorithm {oid} is not supported (only ECDSA P-256)"
            ),
            KeyError::UnsupportedCurve { oid } => write!(
                f,
                "public key: elliptic curve {oid} is not supported (only P-256)"
            ),
            KeyError::InvalidPoint => f.write_str("public key: not an uncompressed point on P-256"),
        }
    }
}

impl core::error::Error for KeyError {}

// ---------------------------------------------------------------------------
// Signatures

/// Why a signature does not prove that a key signed a payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureError {
    /// The annotation is longer than [`MAX_SIGNATURE_TEXT`].
    TooLong { len: usize },
    /// The annotation is not standard padded base64.
    Base64(Base64Error),
    /// The decoded signature is not an ASN.1 DER ECDSA signature with
    /// `r` and `s` in range.
    NotDer,
    /// A well-formed signature, but not of this payload by this key.
    Mismatch,
}

impl fmt::Display for SignatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignatureError::TooLong { len } => write!(
                f,
                "signature annotation is {len} bytes, more than {MAX_SIGNATURE_TEXT}"
            ),
            SignatureError::Base64(e) => write!(f, "signature annotation: {e}"),
            SignatureError::NotDer => f.write_str("signature is not an ASN.1 DER ECDSA signature"),
            SignatureError::Mismatch => {
                f.write_str("cryptographic signature verification failed: invalid signature")
            }
        }
    }
}

impl core::error::Error for SignatureError {}

/// Checks that `key` made `base64_signature` (the
/// [`SIGNATURE_ANNOTATION`]) over exactly `payload`: ECDSA P-256 with
/// SHA-256, the signature ASN.1 DER. As Go's `ecdsa.VerifyASN1`, both
/// low-S and high-S signatures are valid.
pub fn verify_signature(
    key: &PublicKey,
    payload: &[u8],
    base64_signature: &str,
) -> Result<(), SignatureError> {
    if base64_signature.len() > MAX_SIGNATURE_TEXT {
        return Err(SignatureError::TooLong {
            len: base64_signature.len(),
        });
    }
    let der = base64::decode_padded(base64_signature, Alphabet::Standard)
        .map_err(SignatureError::Base64)?;
    let signature = p256::ecdsa::Signature::from_der(&der).map_err(|_| SignatureError::NotDer)?;
    key.key
        .verify(payload, &signature)
        .map_err(|_| SignatureError::Mismatch)
}

/// Why a sigstore signature is not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyError {
    /// The signature does not check out against the key.
    Signature(SignatureError),
    /// The key signed it, but the payload is not a sigstore payload.
    Payload(FormatError),
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyError::Signature(e) => e.fmt(f),
            VerifyError::Payload(e) => write!(f, "invalid signature payload: {e}"),
        }
    }
}

impl core::error::Error for VerifyError {}

/// What containers/image's `VerifySigstorePayload` does before it asks the
/// policy: checks the signature with `key`, then reads the payload
/// ([`Payload::parse`] with [`Format::Sigstore`]). The [`Payload`]
/// returned was signed by `key`; whether its digest and reference fit the
/// image is the caller's decision.
pub fn verify(
    key: &PublicKey,
    payload: &[u8],
    base64_signature: &str,
) -> Result<Payload, VerifyError> {
    verify_signature(key, payload, base64_signature).map_err(VerifyError::Signature)?;
    Payload::parse(payload, Format::Sigstore).map_err(VerifyError::Payload)
}

// ---------------------------------------------------------------------------
// Encrypted private keys

/// The PEM type of encrypted private keys that cosign (before 2.0) and
/// containers/image write; containers/image 5.23 reads only this one.
pub const COSIGN_PRIVATE_KEY_PEM_TYPE: &str = "ENCRYPTED COSIGN PRIVATE KEY";
/// The PEM type cosign 2 writes; later containers/image read both.
pub const SIGSTORE_PRIVATE_KEY_PEM_TYPE: &str = "ENCRYPTED SIGSTORE PRIVATE KEY";

/// The scrypt cost parameters ferry writes (go-tuf's, the only ones
/// containers/image 5.23 accepts): N = 2^15, r = 8, p = 1.
pub const SCRYPT_WRITE: ScryptParams = ScryptParams {
    log_n: 15,
    r: 8,
    p: 1,
};

/// The scrypt parameters read: those of go-tuf and of securesystemslib's
/// legacy, standard and OWASP settings that cosign 2 writes. Any other
/// is refused before deriving, as go-tuf refuses them: a key file must
/// not be able to ask for gigabytes of memory.
pub const SCRYPT_ACCEPTED: [ScryptParams; 3] = [
    SCRYPT_WRITE,
    ScryptParams {
        log_n: 16,
        r: 8,
        p: 1,
    },
    ScryptParams {
        log_n: 17,
        r: 8,
        p: 1,
    },
];

/// Length of the scrypt salt ferry writes.
pub const SALT_LEN: usize = 32;
/// Length of a NaCl secretbox nonce.
pub const NONCE_LEN: usize = 24;
/// Length of the key scrypt derives for the secretbox.
pub const BOX_KEY_LEN: usize = 32;

/// scrypt's cost parameters (N = 2^`log_n`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScryptParams {
    pub log_n: u8,
    pub r: u32,
    pub p: u32,
}

/// A cosign encrypted private key, as its PEM block holds it: a JSON
/// envelope naming scrypt's parameters and salt, and a NaCl secretbox
/// (XSalsa20-Poly1305) whose plaintext is the PKCS #8 DER private key.
#[derive(Clone, PartialEq, Eq)]
pub struct EncryptedPrivateKey {
    /// The PEM type it was read with (or is to be written with).
    pub pem_type: &'static str,
    pub scrypt: ScryptParams,
    pub salt: Vec<u8>,
    pub nonce: [u8; NONCE_LEN],
    /// The secretbox: Poly1305 tag, then the encrypted PKCS #8 DER.
    pub ciphertext: Vec<u8>,
}

impl fmt::Debug for EncryptedPrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptedPrivateKey")
            .field("pem_type", &self.pem_type)
            .field("scrypt", &self.scrypt)
            .field("ciphertext_len", &self.ciphertext.len())
            .finish_non_exhaustive()
    }
}

/// Why a file is not a cosign encrypted private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrivateKeyError {
    /// The text is not PEM.
    Pem(PemError),
    /// The first PEM block is of another type.
    PemType { found: String },
    /// The block's body is not a JSON object.
    Envelope(SyntaxError),
    /// A member of the envelope has the wrong type, or is not base64.
    Field { pointer: &'static str },
    /// `kdf.name` is not `scrypt`.
    UnknownKdf { found: String },
    /// `cipher.name` is not `nacl/secretbox`.
    UnknownCipher { found: String },
    /// scrypt parameters outside [`SCRYPT_ACCEPTED`].
    KdfParams { n: i64, r: i64, p: i64 },
    /// The nonce is not [`NONCE_LEN`] bytes.
    NonceLength { len: usize },
    /// The passphrase does not open the box (or the file was altered).
    Decrypt,
    /// The decrypted key is not a PKCS #8 ECDSA P-256 private key.
    NotP256Pkcs8,
}

impl fmt::Display for PrivateKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PrivateKeyError::Pem(e) => write!(f, "private key: {e}"),
            PrivateKeyError::PemType { found } => write!(
                f,
                "private key: PEM block is {found}, not {SIGSTORE_PRIVATE_KEY_PEM_TYPE} or {COSIGN_PRIVATE_KEY_PEM_TYPE}"
            ),
            PrivateKeyError::Envelope(e) => write!(f, "private key envelope: {e}"),
            PrivateKeyError::Field { pointer } => {
                write!(f, "private key envelope: {pointer} is malformed")
            }
            PrivateKeyError::UnknownKdf { found } => {
                write!(f, "private key: unknown kdf name \"{found}\"")
            }
            PrivateKeyError::UnknownCipher { found } => {
                write!(f, "private key: unknown cipher name \"{found}\"")
            }
            PrivateKeyError::KdfParams { n, r, p } => write!(
                f,
                "private key: unexpected scrypt parameters N={n} r={r} p={p}"
            ),
            PrivateKeyError::NonceLength { len } => {
                write!(f, "private key: nonce is {len} bytes, not {NONCE_LEN}")
            }
            PrivateKeyError::Decrypt => {
                f.write_str("private key: decryption failed (wrong passphrase?)")
            }
            PrivateKeyError::NotP256Pkcs8 => {
                f.write_str("private key: not a PKCS #8 ECDSA P-256 private key")
            }
        }
    }
}

impl core::error::Error for PrivateKeyError {}

impl EncryptedPrivateKey {
    /// Reads the first PEM block of a key file (either PEM type) and its
    /// envelope, as go-tuf's `encrypted.Decrypt` reads it with Go's
    /// `encoding/json` (keys match case-insensitively, unknown keys are
    /// ignored, `[]byte` fields are base64).
    pub fn from_pem(input: &[u8]) -> Result<Self, PrivateKeyError> {
        let (kind, body) = pem_decode(input).map_err(PrivateKeyError::Pem)?;
        let pem_type = match kind.as_str() {
            COSIGN_PRIVATE_KEY_PEM_TYPE => COSIGN_PRIVATE_KEY_PEM_TYPE,
            SIGSTORE_PRIVATE_KEY_PEM_TYPE => SIGSTORE_PRIVATE_KEY_PEM_TYPE,
            _ => return Err(PrivateKeyError::PemType { found: kind }),
        };
        let envelope = json::parse(&body).map_err(PrivateKeyError::Envelope)?;
        let Value::Object(envelope) = envelope else {
            return Err(PrivateKeyError::Field { pointer: "" });
        };
        let kdf = go_object(envelope.field("kdf"), "/kdf")?;
        let kdf_name = go_string(kdf.and_then(|o| o.field("name")), "/kdf/name")?;
        let params = go_object(kdf.and_then(|o| o.field("params")), "/kdf/params")?;
        let n = go_int(params.and_then(|o| o.field("N")), "/kdf/params/N")?;
        let r = go_int(params.and_then(|o| o.field("r")), "/kdf/params/r")?;
        let p = go_int(params.and_then(|o| o.field("p")), "/kdf/params/p")?;
        let salt = go_bytes(kdf.and_then(|o| o.field("salt")), "/kdf/salt")?;
        let cipher = go_object(envelope.field("cipher"), "/cipher")?;
        let cipher_name = go_string(cipher.and_then(|o| o.field("name")), "/cipher/name")?;
        let nonce = go_bytes(cipher.and_then(|o| o.field("nonce")), "/cipher/nonce")?;
        let ciphertext = go_bytes(envelope.field("ciphertext"), "/ciphertext")?;

        if kdf_name != "scrypt" {
            return Err(PrivateKeyError::UnknownKdf { found: kdf_name });
        }
        if cipher_name != "nacl/secretbox" {
            return Err(PrivateKeyError::UnknownCipher { found: cipher_name });
        }
        let scrypt = SCRYPT_ACCEPTED
            .iter()
            .find(|a| 1i64 << a.log_n == n && i64::from(a.r) == r && i64::from(a.p) == p)
            .copied()
            .ok_or(PrivateKeyError::KdfParams { n, r, p })?;
        let nonce: [u8; NONCE_LEN] = nonce
            .as_slice()
            .try_into()
            .map_err(|_| PrivateKeyError::NonceLength { len: nonce.len() })?;
        Ok(EncryptedPrivateKey {
            pem_type,
            scrypt,
            salt,
            nonce,
            ciphertext,
        })
    }

    /// The key file, as go-tuf's `encrypted.Encrypt` marshals the envelope
    /// (struct field order) inside a PEM block of [`Self::pem_type`].
    pub fn to_pem(&self) -> String {
        let mut out = String::with_capacity(self.ciphertext.len() * 4 / 3 + 256);
        out.push_str("{\"kdf\":{\"name\":\"scrypt\",\"params\":{\"N\":");
        out.push_str(&(1u64 << self.scrypt.log_n).to_string());
        out.push_str(",\"r\":");
        out.push_str(&self.scrypt.r.to_string());
        out.push_str(",\"p\":");
        out.push_str(&self.scrypt.p.to_string());
        out.push_str("},\"salt\":\"");
        out.push_str(&base64::encode_padded(&self.salt, Alphabet::Standard));
        out.push_str("\"},\"cipher\":{\"name\":\"nacl/secretbox\",\"nonce\":\"");
        out.push_str(&base64::encode_padded(&self.nonce, Alphabet::Standard));
        out.push_str("\"},\"ciphertext\":\"");
        out.push_str(&base64::encode_padded(&self.ciphertext, Alphabet::Standard));
        out.push_str("\"}");
        pem_encode(self.pem_type, out.as_bytes())
    }
}

fn go_object<'a>(
    value: Option<&'a Value>,
    pointer: &'static str,
) -> Result<Option<&'a Object>, PrivateKeyError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(_) => Err(PrivateKeyError::Field { pointer }),
    }
}

fn go_string(value: Option<&Value>, pointer: &'static str) -> Result<String, PrivateKeyError> {
    match value {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(PrivateKeyError::Field { pointer }),
    }
}

fn go_int(value: Option<&Value>, pointer: &'static str) -> Result<i64, PrivateKeyError> {
    match value {
        None | Some(Value::Null) => Ok(0),
        Some(Value::Number(n)) => n.as_i64().ok_or(PrivateKeyError::Field { pointer }),
        Some(_) => Err(PrivateKeyError::Field { pointer }),
    }
}

fn go_bytes(value: Option<&Value>, pointer: &'static str) -> Result<Vec<u8>, PrivateKeyError> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => base64::decode_padded(s, Alphabet::Standard)
            .map_err(|_| PrivateKeyError::Field { pointer }),
        Some(_) => Err(PrivateKeyError::Field { pointer }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_round_trips_and_wraps_at_64() {
        let bytes: Vec<u8> = (0..=200).collect();
        let pem = pem_encode("THING", &bytes);
        assert!(pem.lines().all(|l| l.len() <= 64));
        assert_eq!(
            pem_decode(pem.as_bytes()).unwrap(),
            ("THING".to_string(), bytes)
        );
    }

    #[test]
    fn pem_skips_leading_text_and_ignores_trailing_text() {
        let pem = alloc::format!("comment\n{}trailing", pem_encode("X", b"hi"));
        assert_eq!(
            pem_decode(pem.as_bytes()).unwrap(),
            ("X".to_string(), b"hi".to_vec())
        );
    }

    #[test]
    fn oids_are_named_in_dotted_form() {
        assert_eq!(oid_text(OID_P256_DER), "1.2.840.10045.3.1.7");
        assert_eq!(oid_text(&[0x2b, 0x65, 0x70]), "1.3.101.112");
        assert_eq!(oid_text(&[0x88, 0x37]), "2.999");
    }
}
