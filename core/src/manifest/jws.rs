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

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use super::jwk::{self, JwkError};
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
    /// `formatLength` points outside the document.
    InvalidFormatLength { length: f64, document_len: usize },
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
        let Block { protected, jwk } = signature_block(block, index)?;
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
        if let Some(key) = jwk {
            jwk::check(key).map_err(|error| JwsError::PublicKey { index, error })?;
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

/// What libtrust keeps of one signature block.
struct Block<'a> {
    protected: String,
    /// The header's `jwk` as written (`null` included), if there is one.
    jwk: Option<&'a Value>,
}

/// Decodes a signature block as Go decodes libtrust's `jsParsedSignature`:
/// keys match fields ignoring case, every member is decoded in turn (so a
/// repeated `header` merges into the one before, and a `null` leaves a
/// field as it was), and a value of the wrong type anywhere fails.
fn signature_block(block: &Value, index: usize) -> Result<Block<'_>, JwsError> {
    let mut out = Block {
        protected: String::new(),
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
            if !string(value) {
                return Err(wrong(&[key], value, "string"));
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
