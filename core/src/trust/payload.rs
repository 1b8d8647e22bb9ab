//! What a signature says: the payload that simple signing (OpenPGP) and
//! sigstore both sign.
//!
//! Both formats sign the same JSON shape, a `critical` part that names
//! the manifest digest and the docker reference it stands for, and an
//! `optional` part (creator, timestamp) that no decision relies on. They
//! differ in the `type` string, and sigstore allows `"optional": null`.
//! Parsing is strict, as in containers/image: a critical member ferry
//! does not know makes the signature unusable, because the signer may
//! have meant it as a condition. This is the one reader and writer of
//! the payload: [`super::verdict`] judges with it, [`super::sigstore::verify`]
//! returns it, and native signs what [`Payload::to_bytes`] writes.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use super::strict::{self, FormatError, Members, Problem};
use crate::json::{Member, Number, Object, Value};

/// Which format's payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `atomic container signature`, signed with OpenPGP.
    SimpleSigning,
    /// `cosign container image signature`, signed by sigstore/cosign.
    Sigstore,
}

impl Format {
    /// The `critical.type` string.
    pub fn type_name(self) -> &'static str {
        match self {
            Format::SimpleSigning => "atomic container signature",
            Format::Sigstore => "cosign container image signature",
        }
    }
}

/// A payload's claims. "Untrusted" until the signature over it has been
/// verified; the names say what is claimed, not what is true.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    /// `critical.image.docker-manifest-digest`, as written (checked
    /// against the manifest later, where a malformed one simply fails to
    /// match, as in containers/image).
    pub manifest_digest: String,
    /// `critical.identity.docker-reference`, as written.
    pub docker_reference: String,
    /// `optional.creator`.
    pub creator: Option<String>,
    /// `optional.timestamp`, seconds since the Unix epoch.
    pub timestamp: Option<i64>,
}

impl Payload {
    /// Reads a payload of `format` as strictly as containers/image: every
    /// object has exactly its keys, once each, matched case-sensitively
    /// (`optional` may have others, and for sigstore be `null`); the first
    /// unknown or repeated key in document order is the one refused;
    /// nothing may follow the document.
    /// A `null` creator or timestamp is read as Go reads it, `""` and `0`:
    /// neither decides anything, and refusing them would refuse
    /// signatures containers/image accepts. (A `null` digest, reference
    /// or type Go reads as `""` and then refuses; so does ferry.)
    pub fn parse(bytes: &[u8], format: Format) -> Result<Payload, FormatError> {
        let document = strict::parse(bytes)?;
        let mut top = Members::exactly(&document, "", &["critical", "optional"])?;
        let critical = top.require("critical")?;
        let optional = top.require("optional")?;
        top.finish()?;

        let mut creator = None;
        let mut timestamp = None;
        // cosign writes `"optional": null` when it has no annotations.
        let skip_optional = format == Format::Sigstore && *optional == Value::Null;
        if !skip_optional {
            let mut m = Members::of(optional, "/optional")?;
            creator = match m.take("creator") {
                None => None,
                Some(Value::Null) => Some(String::new()),
                Some(v) => Some(strict::as_str(v, "/optional/creator")?.to_string()),
            };
            timestamp = match m.take("timestamp") {
                None => None,
                Some(Value::Null) => Some(0),
                Some(t) => Some(integer(t, "/optional/timestamp")?),
            };
            // Other optional members are allowed and ignored.
            m.rest().for_each(drop);
        }

        let mut c = Members::exactly(critical, "/critical", &["type", "image", "identity"])?;
        let kind = c.required_string("type")?;
        let image = c.require("image")?;
        let identity = c.require("identity")?;
        c.finish()?;
        if kind != format.type_name() {
            return Err(FormatError::at(
                "/critical/type",
                Problem::UnknownSignatureType(kind.to_string()),
            ));
        }
        let mut i = Members::exactly(image, "/critical/image", &["docker-manifest-digest"])?;
        let manifest_digest = i.required_string("docker-manifest-digest")?.to_string();
        i.finish()?;
        let mut r = Members::exactly(identity, "/critical/identity", &["docker-reference"])?;
        let docker_reference = r.required_string("docker-reference")?.to_string();
        r.finish()?;
        Ok(Payload {
            manifest_digest,
            docker_reference,
            creator,
            timestamp,
        })
    }

    /// The payload's bytes as containers/image writes them (Go's
    /// `json.Marshal` of maps: keys sorted, compact, HTML characters
    /// escaped), so a signature ferry makes carries the bytes skopeo's
    /// would for the same claims. `optional` is always an object, empty
    /// when there is neither creator nor timestamp. As containers/image,
    /// refuses to write a payload whose digest or reference is empty.
    pub fn to_bytes(&self, format: Format) -> Result<Vec<u8>, EmptyClaim> {
        if self.manifest_digest.is_empty() {
            return Err(EmptyClaim {
                field: "docker-manifest-digest",
            });
        }
        if self.docker_reference.is_empty() {
            return Err(EmptyClaim {
                field: "docker-reference",
            });
        }
        let string = |s: &str| Value::String(s.to_string());
        let object = |members: Vec<(&str, Value)>| {
            Value::Object(Object {
                members: members
                    .into_iter()
                    .map(|(key, value)| Member {
                        key: key.to_string(),
                        value,
                    })
                    .collect(),
            })
        };
        let critical = object(alloc::vec![
            (
                "identity",
                object(alloc::vec![(
                    "docker-reference",
                    string(&self.docker_reference)
                )])
            ),
            (
                "image",
                object(alloc::vec![(
                    "docker-manifest-digest",
                    string(&self.manifest_digest)
                )])
            ),
            ("type", string(format.type_name())),
        ]);
        let mut optional = Vec::new();
        if let Some(creator) = &self.creator {
            optional.push(("creator", string(creator)));
        }
        if let Some(t) = self.timestamp {
            optional.push(("timestamp", Value::Number(Number::from_i64(t))));
        }
        let document = object(alloc::vec![
            ("critical", critical),
            ("optional", object(optional))
        ]);
        Ok(document.to_compact(true).into_bytes())
    }
}

/// A payload that is not written: its `field` (`docker-manifest-digest`
/// or `docker-reference`) is empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmptyClaim {
    pub field: &'static str,
}

impl fmt::Display for EmptyClaim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unexpected empty {}", self.field)
    }
}

impl core::error::Error for EmptyClaim {}

/// The timestamp as Go reads it: as a float64, accepted when converting
/// to int64 and back gives the same number. So an integral value in any
/// notation is accepted (`1.7e9`, `12.50e1`), a fraction is not (`1.5`),
/// and the value is the float64's: `9007199254740993` reads as
/// `9007199254740992`, and `9223372036854775807`, which rounds to 2^63,
/// is refused.
fn integer(value: &Value, pointer: &str) -> Result<i64, FormatError> {
    let Value::Number(n) = value else {
        return Err(FormatError::at(
            pointer,
            Problem::WrongType {
                expected: "a number",
                found: value.kind(),
            },
        ));
    };
    exact_integer(n.as_str())
        .ok_or_else(|| FormatError::at(pointer, Problem::NotInteger(n.as_str().to_string())))
}

/// The int64 Go's float64 round trip gives for a JSON number literal, or
/// `None` when Go refuses it (see [`integer`]).
///
/// The literal is read with exact decimal arithmetic rather than through
/// `str::parse::<f64>`, whose tables would cost the WebAssembly module
/// some 17 KB. The one difference from Go: a fraction too small for a
/// float64 to hold (`1.00000000000000000001`), which Go rounds away and
/// accepts, is refused.
fn exact_integer(text: &str) -> Option<i64> {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(i) => (&unsigned[..i], unsigned[i + 1..].parse::<i64>().ok()?),
        None => (unsigned, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    // The value is digits × 10^scale.
    let digits = alloc::format!("{whole}{fraction}");
    let digits = digits.trim_start_matches('0');
    let trimmed = digits.trim_end_matches('0');
    if trimmed.is_empty() {
        return Some(0);
    }
    let scale = exponent
        .checked_sub(i64::try_from(fraction.len()).ok()?)?
        .checked_add(i64::try_from(digits.len() - trimmed.len()).ok()?)?;
    // Integral only when no significant digit is after the point; 2^63
    // has 19 digits, so more than 20 cannot be in range.
    if scale < 0 || trimmed.len() as i64 + scale > 20 {
        return None;
    }
    let mut magnitude: i128 = trimmed.parse().ok()?;
    for _ in 0..scale {
        magnitude = magnitude.checked_mul(10)?;
    }
    let exact = if negative { -magnitude } else { magnitude };
    // Integer to float conversion rounds to nearest, ties to even, as
    // Go's parser does for an integral literal.
    let float = exact as f64;
    if !(-TWO_63..TWO_63).contains(&float) {
        return None;
    }
    Some(float as i64)
}
