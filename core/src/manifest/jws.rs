//! The JWS payload of signed schema 1 manifests.
//!
//! A signed schema 1 manifest is a "pretty" JWS (libtrust's format): the
//! signed payload is the manifest text itself, up to `formatLength` bytes,
//! followed by the decoded `formatTail` (normally the closing `}`), with
//! the `signatures` member spliced in between. The manifest digest is the
//! sha256 of that payload, so the signatures can change without changing
//! the digest. This module recovers the payload exactly as libtrust's
//! `ParsePrettySignature` and `Payload` do, including what they tolerate:
//! an empty `signatures` array yields an empty payload, and signatures
//! that disagree on `formatLength` only conflict when the first is nonzero.
//! Signatures are not verified (containers/image does not either; trust
//! comes from the digest), but each signature's public key must be one
//! libtrust can read ([`super::jwk`]), or there is no payload.
//!
//! It also signs, as containers/image does when it writes a schema 1
//! manifest: libtrust's `NewJSONSignature`, `Sign` and `PrettySignature`
//! with a throwaway ECDSA P-256 key ([`Signing`]). Nothing here is random
//! or reads the clock: the caller generates the key, performs the ECDSA
//! operation over [`Signing::signing_input`] and gives the time, and this
//! module lays out every byte around them. [`signatures`] reads the
//! signatures back, for a caller that wants to verify them.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use super::jwk::{self, JwkError};
use sha2::Digest as _;

use crate::base64;
use crate::json::{self, Value};

/// Why the payload cannot be recovered.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum JwsError {
    /// The document is not JSON.
    Syntax(json::SyntaxError),
    /// The document has no `signatures` member.
    MissingSignatures,
    /// `signatures` is not an array of signature objects.
    MalformedSignatures { reason: String },
    /// A `protected` header or `formatTail` is not base64url.
    Base64 { pointer: String },
    /// A protected header is not a JSON object.
    MalformedProtectedHeader { index: usize },
    /// `formatLength` or `formatTail` is missing or of the wrong type.
    MissingFormat { index: usize, field: &'static str },
    /// Signatures disagree on how the payload is formatted.
    Conflicting { field: &'static str },
    /// `formatLength` points outside the document. `length` is the number
    /// as the protected header writes it when it is beyond ±10^15 (or not
    /// a finite float64), else the whole number it truncates to.
    ///
    /// Text rather than the `f64` itself: formatting a float pulled
    /// `core`'s float-printing code and tables into the WebAssembly module,
    /// and this was their only use there (10,379 bytes of it).
    InvalidFormatLength { length: String, document_len: usize },
    /// A payload to sign is not a compact JSON object.
    NotSignable { reason: &'static str },
    /// A signature's public key (`header.jwk`) is not one libtrust reads.
    PublicKey { index: usize, error: JwkError },
}

impl fmt::Display for JwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JwsError::Syntax(e) => write!(f, "signed schema 1 manifest is not JSON: {e}"),
            JwsError::MissingSignatures => f.write_str("no \"signatures\" member"),
            JwsError::MalformedSignatures { reason } => {
                write!(f, "malformed \"signatures\": {reason}")
            }
            JwsError::Base64 { pointer } => write!(f, "invalid base64url at {pointer}"),
            JwsError::MalformedProtectedHeader { index } => write!(
                f,
                "protected header of /signatures/{index} is not a JSON object"
            ),
            JwsError::MissingFormat { index, field } => write!(
                f,
                "protected header of /signatures/{index} lacks a valid {field}"
            ),
            JwsError::Conflicting { field } => {
                write!(f, "signatures disagree on {field}")
            }
            JwsError::InvalidFormatLength {
                length,
                document_len,
            } => write!(
                f,
                "formatLength {length} is outside the {document_len}-byte document"
            ),
            JwsError::NotSignable { reason } => write!(f, "cannot sign the payload: {reason}"),
            JwsError::PublicKey { index, error } => {
                write!(f, "public key of /signatures/{index}: {error}")
            }
        }
    }
}

impl core::error::Error for JwsError {}

/// Recovers the signed payload of a pretty JWS document.
pub fn payload(document: &[u8]) -> Result<Vec<u8>, JwsError> {
    let root = json::parse(document).map_err(JwsError::Syntax)?;
    // libtrust reads the document into map[string]json.RawMessage: an
    // exact key match, the last duplicate winning.
    let signatures = match &root {
        Value::Object(o) => o
            .members
            .iter()
            .rev()
            .find(|m| m.key == "signatures")
            .map(|m| &m.value),
        Value::Null => None,
        other => {
            return Err(JwsError::MalformedSignatures {
                reason: alloc::format!("document is a JSON {}", other.kind()),
            });
        }
    };
    let Some(signatures) = signatures else {
        return Err(JwsError::MissingSignatures);
    };
    let blocks: &[Value] = match signatures {
        Value::Array(items) => items,
        Value::Null => &[],
        other => {
            return Err(JwsError::MalformedSignatures {
                reason: alloc::format!("expected an array, found {}", other.kind()),
            });
        }
    };

    let mut format_length: i64 = 0;
    let mut format_tail: Vec<u8> = Vec::new();
    for (index, block) in blocks.iter().enumerate() {
        // libtrust decodes every block before it reads any, so with several
        // bad blocks it may name another; it fails all the same.
        let Block { protected, jwk, .. } = signature_block(block, index)?;
        let pointer = alloc::format!("/signatures/{index}/protected");
        let header_bytes = decode_jose(&protected, &pointer)?;
        let header = match json::parse(&header_bytes) {
            Ok(Value::Object(o)) => o,
            Ok(Value::Null) => json::Object::default(),
            _ => return Err(JwsError::MalformedProtectedHeader { index }),
        };
        let exact = |key: &str| header.members.iter().rev().find(|m| m.key == key);
        let (length_text, length) = match exact("formatLength").map(|m| &m.value) {
            Some(Value::Number(n)) => (n.as_str(), whole_float64(n.as_str())),
            _ => {
                return Err(JwsError::MissingFormat {
                    index,
                    field: "formatLength",
                });
            }
        };
        let tail = match exact("formatTail").map(|m| &m.value) {
            Some(Value::String(s)) => decode_jose(s, &pointer)?,
            _ => {
                return Err(JwsError::MissingFormat {
                    index,
                    field: "formatTail",
                });
            }
        };
        let Some(length) = length else {
            return Err(JwsError::InvalidFormatLength {
                length: length_text.to_string(),
                document_len: document.len(),
            });
        };
        if format_length == 0 {
            format_length = length;
        } else if format_length != length {
            return Err(JwsError::Conflicting {
                field: "formatLength",
            });
        }
        if format_tail.is_empty() {
            format_tail = tail;
        } else if format_tail != tail {
            return Err(JwsError::Conflicting {
                field: "formatTail",
            });
        }
        if let Some(key) = jwk {
            jwk::check(key).map_err(|error| JwsError::PublicKey { index, error })?;
        }
    }
    let length = usize::try_from(format_length)
        .ok()
        .filter(|l| *l <= document.len())
        .ok_or_else(|| JwsError::InvalidFormatLength {
            length: format_length.to_string(),
            document_len: document.len(),
        })?;
    let mut out = Vec::with_capacity(length + format_tail.len());
    out.extend_from_slice(&document[..length]);
    out.extend_from_slice(&format_tail);
    Ok(out)
}

/// Beyond this a `formatLength` is refused, as the text it is written as.
const FORMAT_LENGTH_LIMIT: u64 = 1_000_000_000_000_000;

/// The whole number Go makes of the JSON number `text` (valid JSON number
/// grammar): libtrust reads it as the nearest float64 (ties to even), then
/// converts it to int by truncation. `None` when that float64 is beyond
/// ±10^15 (or infinite): lengths there mean nothing, and the error names
/// the number as written.
///
/// Exact decimal arithmetic rather than `text.parse::<f64>()`: `core`'s
/// float parser and its power-of-five tables were 15,768 bytes of the
/// WebAssembly module (266,575 -> 250,807 after wasm-opt) and this was
/// their only use there. Below 10^15 every whole number is a float64 and the float64s between `n` and `n + 1` are
/// `2^(e-52)` apart (`2^e <= n + 1 < 2^(e+1)`), so rounding only decides
/// whether a fraction reaches `n + 1`: it does from `n + 1 - 2^(e-53)` on
/// (`2^(e-54)` when `n + 1` is a power of two, whose float64 neighbour
/// below is half as far), the tie going to `n + 1`, whose mantissa is even.
/// At 10^15 itself the float64s are 1/8 apart, so up to 10^15 + 1/16 still
/// rounds to 10^15.
fn whole_float64(text: &str) -> Option<i64> {
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = text.split_once(['e', 'E']).unwrap_or((text, ""));
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mut exp: i64 = 0;
    for b in exponent.bytes().filter(u8::is_ascii_digit) {
        // Saturates far beyond any document's length of digits.
        exp = (exp * 10 + i64::from(b - b'0')).min(1 << 40);
    }
    if exponent.starts_with('-') {
        exp = -exp;
    }
    // The digits of `int` then `frac`, zero outside them; the decimal
    // point is before digit `point`.
    let count = (int.len() + frac.len()) as i64;
    let point = exp + int.len() as i64;
    let digit = |i: i64| -> u64 {
        let i = usize::try_from(i).unwrap_or(usize::MAX);
        let b = int
            .as_bytes()
            .get(i)
            .or_else(|| frac.as_bytes().get(i.wrapping_sub(int.len())));
        u64::from(b.copied().unwrap_or(b'0') - b'0')
    };
    let Some(first) = (0..count).find(|&i| digit(i) != 0) else {
        return Some(0);
    };
    if point - first > 16 {
        return None; // at least 10^16
    }
    let n = (first..point).fold(0, |n, i| n * 10 + digit(i));
    // How the fraction compares with 2^-k, or with 1 - 2^-k (`complement`).
    let fraction_cmp = |k: u32, complement: bool| -> core::cmp::Ordering {
        let k = k as usize;
        let mut c = [0u8; 54];
        c[0] = 5;
        for _ in 1..k {
            let mut carry = 0;
            for d in c.iter_mut() {
                let v = carry * 10 + *d;
                *d = v / 2;
                carry = v % 2;
            }
        }
        if complement {
            // 2^-k ends in 5 at digit k: 1 - 2^-k is its nines' complement
            // with that last 5 kept.
            for d in &mut c[..k - 1] {
                *d = 9 - *d;
            }
        }
        for (i, &c) in c[..k].iter().enumerate() {
            let d = digit(point + i as i64);
            if d != u64::from(c) {
                return d.cmp(&u64::from(c));
            }
        }
        if (point + k as i64..count).any(|i| digit(i) != 0) {
            core::cmp::Ordering::Greater
        } else {
            core::cmp::Ordering::Equal
        }
    };
    let whole = if n > FORMAT_LENGTH_LIMIT {
        return None;
    } else if n == FORMAT_LENGTH_LIMIT {
        if fraction_cmp(4, false).is_gt() {
            return None;
        }
        n
    } else {
        let m = n + 1;
        let e = m.ilog2();
        let k = if m.is_power_of_two() { 54 - e } else { 53 - e };
        n + u64::from(fraction_cmp(k, true).is_ge())
    } as i64;
    Some(if negative { -whole } else { whole })
}

/// What libtrust keeps of one signature block.
struct Block<'a> {
    protected: String,
    signature: String,
    /// The header's `alg`.
    algorithm: String,
    /// The header's `jwk` as written (`null` included), if there is one.
    jwk: Option<&'a Value>,
}

/// The `signatures` array of a document, or an empty one when it is null.
fn signature_blocks(root: &Value) -> &[Value] {
    match root {
        Value::Object(o) => match o.members.iter().rev().find(|m| m.key == "signatures") {
            Some(json::Member {
                value: Value::Array(items),
                ..
            }) => items,
            _ => &[],
        },
        _ => &[],
    }
}

/// Decodes a signature block as Go decodes libtrust's `jsParsedSignature`:
/// keys match fields ignoring case, every member is decoded in turn (so a
/// repeated `header` merges into the one before, and a `null` leaves a
/// field as it was), and a value of the wrong type anywhere fails.
fn signature_block(block: &Value, index: usize) -> Result<Block<'_>, JwsError> {
    let mut out = Block {
        protected: String::new(),
        signature: String::new(),
        algorithm: String::new(),
        jwk: None,
    };
    let members = match block {
        Value::Object(o) => &o.members[..],
        Value::Null => &[],
        other => {
            return Err(JwsError::MalformedSignatures {
                reason: alloc::format!("/signatures/{index} is a {}, not an object", other.kind()),
            });
        }
    };
    // The pointer is only built when there is an error to report.
    let wrong = |path: &[&str], value: &Value, expected: &'static str| {
        let mut pointer = alloc::format!("/signatures/{index}");
        for key in path {
            pointer = json::child_pointer(&pointer, key);
        }
        JwsError::MalformedSignatures {
            reason: alloc::format!("{}", value.type_error(&pointer, expected)),
        }
    };
    let string = |v: &Value| matches!(v, Value::String(_) | Value::Null);
    for member in members {
        let (key, value) = (member.key.as_str(), &member.value);
        if json::go_fold_eq(key, "protected") {
            match value {
                Value::String(s) => out.protected.clone_from(s),
                Value::Null => {}
                _ => return Err(wrong(&[key], value, "string")),
            }
        } else if json::go_fold_eq(key, "signature") {
            match value {
                Value::String(s) => out.signature.clone_from(s),
                Value::Null => {}
                _ => return Err(wrong(&[key], value, "string")),
            }
        } else if json::go_fold_eq(key, "header") {
            let header = match value {
                Value::Null => continue,
                Value::Object(o) => o,
                _ => return Err(wrong(&[key], value, "struct")),
            };
            for field in &header.members {
                let (name, v) = (field.key.as_str(), &field.value);
                let (fits, expected) = if json::go_fold_eq(name, "jwk") {
                    out.jwk = Some(v);
                    (true, "")
                } else if json::go_fold_eq(name, "alg") {
                    if let Value::String(alg) = v {
                        out.algorithm.clone_from(alg);
                    }
                    (string(v), "string")
                } else if json::go_fold_eq(name, "x5c") {
                    let fits = match v {
                        Value::Null => true,
                        Value::Array(items) => items.iter().all(string),
                        _ => false,
                    };
                    (fits, "[]string")
                } else {
                    (true, "")
                };
                if !fits {
                    return Err(wrong(&[key, name], v, expected));
                }
            }
        }
    }
    Ok(out)
}

fn decode_jose(text: &str, pointer: &str) -> Result<Vec<u8>, JwsError> {
    decode_jose_text(text).map_err(|_| JwsError::Base64 {
        pointer: pointer.into(),
    })
}

/// libtrust's base64url decoding: newlines and spaces are dropped first.
pub(super) fn decode_jose_text(text: &str) -> Result<Vec<u8>, base64::Base64Error> {
    let cleaned: String = text.chars().filter(|c| *c != '\n' && *c != ' ').collect();
    base64::decode_jose(&cleaned)
}

/// The P-256 base point: a public key that is on its curve, as every key
/// a signature carries must be (libtrust computes its ID from it), for
/// tests that sign with a made-up signature.
#[cfg(test)]
pub(crate) fn p256_generator() -> EcP256PublicKey {
    EcP256PublicKey {
        x: [
            0x6b, 0x17, 0xd1, 0xf2, 0xe1, 0x2c, 0x42, 0x47, 0xf8, 0xbc, 0xe6, 0xe5, 0x63, 0xa4,
            0x40, 0xf2, 0x77, 0x03, 0x7d, 0x81, 0x2d, 0xeb, 0x33, 0xa0, 0xf4, 0xa1, 0x39, 0x45,
            0xd8, 0x98, 0xc2, 0x96,
        ],
        y: [
            0x4f, 0xe3, 0x42, 0xe2, 0xfe, 0x1a, 0x7f, 0x9b, 0x8e, 0xe7, 0xeb, 0x4a, 0x7c, 0x0f,
            0x9e, 0x16, 0x2b, 0xce, 0x33, 0x57, 0x6b, 0x31, 0x5e, 0xce, 0xcb, 0xb6, 0x40, 0x68,
            0x37, 0xbf, 0x51, 0xf5,
        ],
    }
}

/// An ECDSA P-256 public key: the affine coordinates of its point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcP256PublicKey {
    pub x: [u8; 32],
    pub y: [u8; 32],
}

/// The DER prefix of a P-256 `SubjectPublicKeyInfo` (id-ecPublicKey,
/// prime256v1, then a 66-byte BIT STRING holding the uncompressed point).
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

impl EcP256PublicKey {
    /// From the uncompressed SEC 1 point (`0x04`, X, Y), the form crypto
    /// libraries hand out.
    pub fn from_uncompressed(point: &[u8]) -> Option<Self> {
        let (&tag, rest) = point.split_first()?;
        if tag != 0x04 || rest.len() != 64 {
            return None;
        }
        let mut key = EcP256PublicKey {
            x: [0; 32],
            y: [0; 32],
        };
        key.x.copy_from_slice(&rest[..32]);
        key.y.copy_from_slice(&rest[32..]);
        Some(key)
    }

    /// The uncompressed SEC 1 point.
    pub fn to_uncompressed(&self) -> [u8; 65] {
        let mut out = [0x04; 65];
        out[1..33].copy_from_slice(&self.x);
        out[33..].copy_from_slice(&self.y);
        out
    }

    /// libtrust's key ID: the sha256 of the key's DER `SubjectPublicKeyInfo`,
    /// cut to 240 bits, in base32 as twelve colon-separated groups of four.
    pub fn key_id(&self) -> String {
        let mut hasher = sha2::Sha256::new();
        hasher.update(P256_SPKI_PREFIX);
        hasher.update(self.to_uncompressed());
        let sum = hasher.finalize();
        let encoded = base32(&sum[..30]);
        let mut out = String::with_capacity(59);
        for (i, group) in encoded.as_bytes().chunks(4).enumerate() {
            if i > 0 {
                out.push(':');
            }
            out.extend(group.iter().map(|b| char::from(*b)));
        }
        out
    }

    /// The JWK libtrust writes: a Go map, so its keys are sorted.
    fn jwk(&self) -> Value {
        Value::Object(json::Object::from_pairs([
            ("crv", Value::from("P-256")),
            ("kid", Value::from(self.key_id().as_str())),
            ("kty", Value::from("EC")),
            ("x", Value::from(base64::encode_jose(&self.x).as_str())),
            ("y", Value::from(base64::encode_jose(&self.y).as_str())),
        ]))
    }

    /// Reads a JWK; `None` unless it is an EC key on P-256 with 32-byte
    /// coordinates.
    fn from_jwk(jwk: &json::Object) -> Option<Self> {
        let text = |k: &str| match jwk.get_exact(k) {
            Some(Value::String(s)) => Some(s.as_str()),
            _ => None,
        };
        if text("kty")? != "EC" || text("crv")? != "P-256" {
            return None;
        }
        let coordinate =
            |k: &str| -> Option<[u8; 32]> { base64::decode_jose(text(k)?).ok()?.try_into().ok() };
        Some(EcP256PublicKey {
            x: coordinate("x")?,
            y: coordinate("y")?,
        })
    }
}

/// RFC 4648 base32, standard alphabet, without padding.
fn base32(input: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in input {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((acc >> bits) & 31) as usize]));
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((acc << (5 - bits)) & 31) as usize]));
    }
    out
}

/// A payload being signed the way containers/image signs schema 1
/// manifests (`AddDummyV2S1Signature`): one ES256 signature by a fresh key,
/// with the public key in the header as a JWK.
///
/// The protected header is libtrust's: `formatLength` (the payload up to
/// its closing brace), `formatTail` (the brace, base64url) and `time`
/// (the signing time, RFC 3339 in UTC, whole seconds), a Go map so in that
/// key order. The signed bytes are the base64url protected header, a dot,
/// and the base64url payload, as in any JWS. The signed document is the
/// payload up to `formatLength`, then `,"signatures":[…]` and the tail, so
/// its digest ([`payload`]) is the payload's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signing {
    payload: Vec<u8>,
    format_length: usize,
    protected: String,
}

impl Signing {
    /// Prepares to sign `payload`, a compact JSON object (as Go's
    /// `json.Marshal` writes one), at `unix_seconds`.
    pub fn new(payload: &[u8], unix_seconds: i64) -> Result<Self, JwsError> {
        if !matches!(json::parse(payload), Ok(Value::Object(_))) {
            return Err(JwsError::NotSignable {
                reason: "it is not a JSON object",
            });
        }
        // libtrust keeps an indented payload's indentation and indents the
        // signatures to match; ferry only signs what it wrote itself, which
        // is compact.
        if payload.get(1) == Some(&b'\n') || payload.last() != Some(&b'}') {
            return Err(JwsError::NotSignable {
                reason: "it is not compact JSON",
            });
        }
        let format_length = payload.len() - 1;
        let mut header = String::from("{\"formatLength\":");
        header.push_str(&format_length.to_string());
        header.push_str(",\"formatTail\":");
        json::write_string(&mut header, &base64::encode_jose(b"}"), true);
        header.push_str(",\"time\":");
        json::write_string(&mut header, &rfc3339_utc(unix_seconds), true);
        header.push('}');
        Ok(Signing {
            payload: payload.to_vec(),
            format_length,
            protected: base64::encode_jose(header.as_bytes()),
        })
    }

    /// The bytes to sign with ECDSA P-256 over SHA-256.
    pub fn signing_input(&self) -> Vec<u8> {
        let mut out = self.protected.as_bytes().to_vec();
        out.push(b'.');
        out.extend_from_slice(base64::encode_jose(&self.payload).as_bytes());
        out
    }

    /// The signed document, given the key's public half and the signature
    /// over [`Signing::signing_input`] (`r` then `s`, 32 bytes each).
    pub fn finish(&self, key: &EcP256PublicKey, signature: &[u8; 64]) -> Vec<u8> {
        // Go's encoder writes libtrust's jsSignature struct in field order.
        let block = json::Object::from_pairs([
            (
                "header",
                Value::Object(json::Object::from_pairs([
                    ("jwk", key.jwk()),
                    ("alg", Value::from("ES256")),
                ])),
            ),
            (
                "signature",
                Value::from(base64::encode_jose(signature).as_str()),
            ),
            ("protected", Value::from(self.protected.as_str())),
        ]);
        let signatures = Value::Array(alloc::vec![Value::Object(block)]).to_compact(true);
        let mut out = self.payload[..self.format_length].to_vec();
        out.extend_from_slice(b",\"signatures\":");
        out.extend_from_slice(signatures.as_bytes());
        out.push(b'}');
        out
    }
}

/// Go's `time.RFC3339` layout for a UTC time in whole seconds.
pub(crate) fn rfc3339_utc(unix_seconds: i64) -> String {
    let days = unix_seconds.div_euclid(86_400);
    let second_of_day = unix_seconds.rem_euclid(86_400);
    // Days since 1970-01-01 to a proleptic Gregorian date, counting in
    // 400-year eras that start on 0000-03-01.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    alloc::format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60
    )
}

/// One signature of a pretty JWS document, ready to verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// The `alg` of its header (`ES256` for what ferry writes).
    pub algorithm: String,
    /// The header's JWK when it is a P-256 key; `None` for other keys and
    /// for signatures that carry an x509 chain instead.
    pub key: Option<EcP256PublicKey>,
    /// The bytes that were signed: the protected header, a dot, and the
    /// base64url payload.
    pub signing_input: Vec<u8>,
    /// The decoded signature.
    pub signature: Vec<u8>,
}

/// The signatures of a pretty JWS document, each with the bytes it signs,
/// read with the same rules as [`payload`].
pub fn signatures(document: &[u8]) -> Result<Vec<Signature>, JwsError> {
    let payload = base64::encode_jose(&payload(document)?);
    let root = json::parse(document).map_err(JwsError::Syntax)?;
    signature_blocks(&root)
        .iter()
        .enumerate()
        .map(|(index, block)| {
            let block = signature_block(block, index)?;
            let mut signing_input = block.protected.into_bytes();
            signing_input.push(b'.');
            signing_input.extend_from_slice(payload.as_bytes());
            Ok(Signature {
                algorithm: block.algorithm,
                key: block
                    .jwk
                    .and_then(Value::as_object)
                    .and_then(EcP256PublicKey::from_jwk),
                signing_input,
                signature: decode_jose(
                    &block.signature,
                    &alloc::format!("/signatures/{index}/signature"),
                )?,
            })
        })
        .collect()
}

#[cfg(test)]
mod signing_tests {
    use super::*;
    use alloc::{format, vec};

    const PAYLOAD: &[u8] = br#"{"name":"","tag":"","architecture":"amd64","schemaVersion":1}"#;

    fn key() -> EcP256PublicKey {
        p256_generator()
    }

    #[test]
    fn times_are_written_as_go_writes_rfc3339_in_utc() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_utc(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339_utc(4_107_542_399), "2100-02-28T23:59:59Z");
        assert_eq!(rfc3339_utc(-1), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn the_protected_header_is_libtrusts() {
        let signing = Signing::new(PAYLOAD, 1_700_000_000).unwrap();
        let header = base64::decode_jose(&signing.protected).unwrap();
        assert_eq!(
            core::str::from_utf8(&header).unwrap(),
            alloc::format!(
                r#"{{"formatLength":{},"formatTail":"fQ","time":"2023-11-14T22:13:20Z"}}"#,
                PAYLOAD.len() - 1
            )
        );
        let input = signing.signing_input();
        let (protected, body) = input.split_at(signing.protected.len());
        assert_eq!(protected, signing.protected.as_bytes());
        assert_eq!(
            base64::decode_jose(core::str::from_utf8(&body[1..]).unwrap()).unwrap(),
            PAYLOAD
        );
    }

    #[test]
    fn a_signed_document_yields_its_payload_and_signature_back() {
        let signing = Signing::new(PAYLOAD, 1_700_000_000).unwrap();
        let signature = [7u8; 64];
        let document = signing.finish(&key(), &signature);
        assert_eq!(payload(&document).unwrap(), PAYLOAD);
        let read = signatures(&document).unwrap();
        assert_eq!(read.len(), 1);
        assert_eq!(read[0].algorithm, "ES256");
        assert_eq!(read[0].key, Some(key()));
        assert_eq!(read[0].signing_input, signing.signing_input());
        assert_eq!(read[0].signature, signature);
    }

    #[test]
    fn only_compact_objects_are_signed() {
        for bad in [&b"[1]"[..], b"{\n   \"a\": 1\n}", b"{\"a\":1} ", b"nul"] {
            assert!(
                matches!(Signing::new(bad, 0), Err(JwsError::NotSignable { .. })),
                "{bad:?}"
            );
        }
    }

    /// A manifest signed by libtrust (the conformance corpus's
    /// `0050-schema1-signed.json`): its JWK's `kid` is libtrust's key ID of
    /// its `x` and `y`.
    #[test]
    fn key_ids_match_libtrusts() {
        let document =
            include_bytes!("../../../tests/conformance/generated/0050-schema1-signed.json");
        let read = signatures(document).unwrap();
        let key = read[0].key.clone().expect("a P-256 JWK");
        assert_eq!(
            key.key_id(),
            "HNWI:Q4UY:N6MZ:3X2Z:7GK3:4IH5:HBMT:VOLW:4LBE:XVLW:FJZ5:ERZL"
        );
        assert_eq!(read[0].algorithm, "ES256");
        assert_eq!(read[0].signature.len(), 64);
    }

    /// `document` signed, with `header` as its protected header.
    fn with_protected_header(header: &str) -> Vec<u8> {
        let signing = Signing::new(PAYLOAD, 1_700_000_000).unwrap();
        let document = signing.finish(&key(), &[7u8; 64]);
        let text = core::str::from_utf8(&document).unwrap();
        let forged = base64::encode_jose(header.as_bytes());
        text.replace(signing.protected.as_str(), &forged)
            .into_bytes()
    }

    /// The message for a document whose `formatLength` is `length`, and
    /// the message expected when it names `shown`.
    fn format_length_messages(length: &str, shown: &str) -> (String, String) {
        let header = alloc::format!(r#"{{"formatLength":{length},"formatTail":"fQ"}}"#);
        let document = with_protected_header(&header);
        let error = payload(&document).unwrap_err();
        assert!(
            matches!(error, JwsError::InvalidFormatLength { .. }),
            "{error:?}"
        );
        let expected = alloc::format!(
            "formatLength {shown} is outside the {}-byte document",
            document.len()
        );
        (error.to_string(), expected)
    }

    #[test]
    fn a_format_length_beyond_the_document_is_named_as_a_whole_number() {
        for (written, shown) in [("999999", "999999"), ("999999.9", "999999"), ("-5e0", "-5")] {
            let (message, expected) = format_length_messages(written, shown);
            assert_eq!(message, expected, "{written}");
        }
    }

    #[test]
    fn a_format_length_beyond_a_float64_s_whole_numbers_is_named_as_written() {
        for written in ["1e16", "-1000000000000000.5", "1E400"] {
            let (message, expected) = format_length_messages(written, written);
            assert_eq!(message, expected, "{written}");
        }
    }

    /// What `payload` did with a `formatLength` before `whole_float64`:
    /// the nearest float64, refused beyond ±10^15, else truncated.
    fn through_float64(text: &str) -> Option<i64> {
        let f: f64 = text.parse().unwrap();
        (f.is_finite() && f.abs() <= 1e15).then_some(f as i64)
    }

    /// Inputs where rounding to a float64 decides the whole number: for
    /// each `n`, fractions at, just below and just above `1 - 2^-k` for the
    /// `k` around the rounding point of `n + 1`, and the same around 1/16
    /// (the rounding point above 10^15), written with and without
    /// exponents and signs.
    fn rounding_boundaries() -> Vec<String> {
        let mut wholes: Vec<u64> = vec![0, 1, 2, 3, 6, 7, 8, 12, 999_999, 1 << 20];
        for e in [30, 40, 48, 49] {
            wholes.extend([(1u64 << e) - 2, (1 << e) - 1, 1 << e, (1 << e) + 1]);
        }
        wholes.extend([
            999_999_999_999_998,
            999_999_999_999_999,
            1_000_000_000_000_000,
        ]);
        wholes.extend([1_000_000_000_000_001, 9_999_999_999_999_999]);
        let mut fractions: Vec<String> = vec!["0".into(), "5".into(), "9".into(), "99".into()];
        for k in 1..=60 {
            // 2^-k exactly (k digits), and 1 - 2^-k.
            let power = format!("{:.*}", k, 2f64.powi(-(k as i32)));
            let power = &power[2..];
            let complement: String = power[..k - 1]
                .bytes()
                .map(|b| char::from(b'9' - (b - b'0')))
                .chain(['5'])
                .collect();
            for base in [power, complement.as_str()] {
                fractions.push(base.to_string());
                fractions.push(format!("{base}0000"));
                fractions.push(format!("{base}0000000000000000000001"));
                // Just below: the last 5 becomes 4999….
                fractions.push(format!("{}4999999999999999999999", &base[..k - 1]));
            }
        }
        let mut inputs = Vec::new();
        for n in &wholes {
            for f in &fractions {
                let digits = format!("{n}{f}");
                let scale = f.len();
                inputs.push(format!("{n}.{f}"));
                inputs.push(format!("-{n}.{f}"));
                // The same number as 0.digits e+len(n), and digits e-len(f).
                let whole_len = n.to_string().len();
                inputs.push(format!("0.{digits}e{whole_len}"));
                inputs.push(format!("{digits}E-{scale}"));
                inputs.push(format!("-{digits}e-{scale}"));
            }
        }
        inputs
    }

    #[test]
    fn a_format_length_rounds_as_a_float64_would_at_every_boundary() {
        for input in rounding_boundaries() {
            assert_eq!(whole_float64(&input), through_float64(&input), "{input}");
        }
    }

    #[test]
    fn a_format_length_reads_as_a_float64_would_for_assorted_numbers() {
        let mut inputs: Vec<String> = [
            "0",
            "-0",
            "0.0",
            "-0.0",
            "0e0",
            "0E+5",
            "0e-400",
            "0e400",
            "1",
            "-1",
            "12.7",
            "-12.7",
            "1.2e2",
            "1.25e1",
            "125e-1",
            "1e15",
            "-1e15",
            "1e16",
            "1E400",
            "-1e400",
            "1e-400",
            "0.000001e20",
            "0.0000001e22",
            "0.00000001e22",
            "100000000000000000e-2",
            "1000000000000000.0625",
            "1000000000000000.0625000001",
            "1000000000000000.06",
            "-1000000000000000.0625",
            "-1000000000000000.07",
            "999999999999999.9375",
            "999999999999999.93749999",
            "0.99999999999999994448884876874217",
            "0.99999999999999994448884876874218",
            "0.9999999999999999444888487687421",
            "1e99999999999999999999",
            "1e-99999999999999999999",
            "5e-324",
            "1.7976931348623157e308",
        ]
        .map(String::from)
        .to_vec();
        // Pseudo-random mantissas and exponents (a fixed linear congruential
        // sequence, so every run tries the same numbers).
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = |bound: u64| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) % bound
        };
        for _ in 0..20_000 {
            let int: String = (0..=next(18))
                .map(|_| char::from(b'0' + next(10) as u8))
                .collect();
            let int = int.trim_start_matches('0');
            let int = if int.is_empty() { "0" } else { int };
            let mut text = String::new();
            if next(2) == 0 {
                text.push('-');
            }
            text.push_str(int);
            if next(2) == 0 {
                text.push('.');
                for _ in 0..=next(25) {
                    text.push(char::from(b'0' + next(10) as u8));
                }
            }
            if next(2) == 0 {
                let exp = next(40) as i64 - 20;
                text.push_str(&format!("e{exp}"));
            }
            inputs.push(text);
        }
        for input in inputs {
            assert_eq!(whole_float64(&input), through_float64(&input), "{input}");
        }
    }

    #[test]
    fn base32_matches_rfc4648_vectors() {
        assert_eq!(base32(b""), "");
        assert_eq!(base32(b"f"), "MY");
        assert_eq!(base32(b"fo"), "MZXQ");
        assert_eq!(base32(b"foo"), "MZXW6");
        assert_eq!(base32(b"foob"), "MZXW6YQ");
        assert_eq!(base32(b"fooba"), "MZXW6YTB");
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
    }
}
