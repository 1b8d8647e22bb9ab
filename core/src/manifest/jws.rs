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
//! comes from the digest).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::base64;
use crate::json::{self, Fields, Value};

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
    /// `formatLength` points outside the document.
    InvalidFormatLength { length: f64, document_len: usize },
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
        let protected = signature_block_protected(block, index)?;
        let pointer = alloc::format!("/signatures/{index}/protected");
        let header_bytes = decode_jose(&protected, &pointer)?;
        let header = match json::parse(&header_bytes) {
            Ok(Value::Object(o)) => o,
            Ok(Value::Null) => json::Object::default(),
            _ => return Err(JwsError::MalformedProtectedHeader { index }),
        };
        let exact = |key: &str| header.members.iter().rev().find(|m| m.key == key);
        let length = match exact("formatLength").map(|m| &m.value) {
            Some(Value::Number(n)) => n.as_str().parse::<f64>().unwrap_or(f64::NAN),
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
        // Go converts the float64 to int by truncation.
        if !length.is_finite() || length.abs() > 1e15 {
            return Err(JwsError::InvalidFormatLength {
                length,
                document_len: document.len(),
            });
        }
        let length = length as i64;
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
    }
    let length = usize::try_from(format_length)
        .ok()
        .filter(|l| *l <= document.len())
        .ok_or(JwsError::InvalidFormatLength {
            length: format_length as f64,
            document_len: document.len(),
        })?;
    let mut out = Vec::with_capacity(length + format_tail.len());
    out.extend_from_slice(&document[..length]);
    out.extend_from_slice(&format_tail);
    Ok(out)
}

/// Checks a signature block's shape as libtrust's `jsParsedSignature`
/// decoding does, and returns its `protected` string.
fn signature_block_protected(block: &Value, index: usize) -> Result<String, JwsError> {
    let pointer = alloc::format!("/signatures/{index}");
    let malformed = |e: json::TypeError| JwsError::MalformedSignatures {
        reason: alloc::format!("{e}"),
    };
    let empty = json::Object::default();
    let object = match block {
        Value::Object(o) => o,
        Value::Null => &empty,
        other => {
            return Err(JwsError::MalformedSignatures {
                reason: alloc::format!("{pointer} is a {}, not an object", other.kind()),
            });
        }
    };
    let f = Fields::new(object, &pointer);
    if let Some((header, p)) = f.object("header").map_err(malformed)? {
        let h = Fields::new(header, &p);
        h.string("alg").map_err(malformed)?;
        h.strings("x5c").map_err(malformed)?;
    }
    f.string("signature").map_err(malformed)?;
    f.string("protected").map_err(malformed)
}

/// libtrust's base64url decoding: newlines and spaces are dropped first.
fn decode_jose(text: &str, pointer: &str) -> Result<Vec<u8>, JwsError> {
    let cleaned: String = text.chars().filter(|c| *c != '\n' && *c != ' ').collect();
    base64::decode_jose(&cleaned).map_err(|_| JwsError::Base64 {
        pointer: pointer.into(),
    })
}
