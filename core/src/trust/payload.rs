//! What a signature says: the payload that simple signing (OpenPGP) and
//! sigstore both sign.
//!
//! Both formats sign the same JSON shape, a `critical` part that names
//! the manifest digest and the docker reference it stands for, and an
//! `optional` part (creator, timestamp) that no decision relies on. They
//! differ in the `type` string, and sigstore allows `"optional": null`.
//! Parsing is strict, as in containers/image: a critical member ferry
//! does not know makes the signature unusable, because the signer may
//! have meant it as a condition.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

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
    /// Reads a payload of `format`.
    pub fn parse(bytes: &[u8], format: Format) -> Result<Payload, FormatError> {
        let document = strict::parse(bytes)?;
        let mut top = Members::of(&document, "")?;
        let critical = top.require("critical")?;
        let optional = top.require("optional")?;
        top.finish()?;

        let mut creator = None;
        let mut timestamp = None;
        let skip_optional = format == Format::Sigstore && *optional == Value::Null;
        if !skip_optional {
            let mut m = Members::of(optional, "/optional")?;
            creator = m.string("creator")?.map(ToString::to_string);
            if let Some(t) = m.take("timestamp") {
                timestamp = Some(integer(t, "/optional/timestamp")?);
            }
            // Other optional members are allowed and ignored.
            m.rest().for_each(drop);
        }

        let mut c = Members::of(critical, "/critical")?;
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
        let mut i = Members::of(image, "/critical/image")?;
        let manifest_digest = i.required_string("docker-manifest-digest")?.to_string();
        i.finish()?;
        let mut r = Members::of(identity, "/critical/identity")?;
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
    /// would for the same claims.
    pub fn to_bytes(&self, format: Format) -> Vec<u8> {
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
        document.to_compact(true).into_bytes()
    }
}

/// Go decodes the timestamp as a float64 and requires an integral value,
/// so `1.7e9` is accepted and `1.5` is not.
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
    if let Some(i) = n.as_i64() {
        return Ok(i);
    }
    let not_integer = || FormatError::at(pointer, Problem::NotInteger(n.as_str().to_string()));
    let float: f64 = n.as_str().parse().map_err(|_| not_integer())?;
    let int = float as i64;
    if int as f64 == float {
        Ok(int)
    } else {
        Err(not_integer())
    }
}
