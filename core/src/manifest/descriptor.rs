//! Descriptors: the `{mediaType, digest, size}` references that manifests
//! and lists are made of.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use crate::base64::{self, Alphabet};
use crate::digest::{Digest, DigestError};
use crate::json::{Fields, Object, TypeError, Value, child_pointer};
use crate::platform::Platform;

use super::ManifestError;

/// A reference to content by digest.
///
/// The digest is kept as the document wrote it, because containers/image
/// reads any string there and ferry must parse what it parses;
/// [`Descriptor::digest`] validates it at the point of use.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Descriptor {
    #[serde(rename = "mediaType")]
    pub media_type: String,
    #[serde(rename = "digest")]
    pub digest_text: String,
    pub size: i64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(rename = "artifactType", skip_serializing_if = "String::is_empty")]
    pub artifact_type: String,
    /// Embedded content, base64 as written (already checked to decode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
}

impl Descriptor {
    /// The digest, validated.
    pub fn digest(&self) -> Result<Digest, DigestError> {
        Digest::parse(&self.digest_text)
    }

    /// Reads an OCI descriptor (`imgspecv1.Descriptor`).
    pub fn decode_oci(value: &Value, pointer: &str) -> Result<Self, ManifestError> {
        match struct_value(value, pointer)? {
            None => Ok(Descriptor::default()),
            Some(object) => Self::decode_oci_object(object, pointer),
        }
    }

    /// Reads an OCI descriptor from an object.
    pub fn decode_oci_object(object: &Object, pointer: &str) -> Result<Self, ManifestError> {
        let f = Fields::new(object, pointer);
        let data = match f.get::<String>("data")? {
            None => None,
            Some(text) => {
                if base64::decode_padded(&text, Alphabet::Standard).is_err() {
                    return Err(ManifestError::InvalidBase64 {
                        pointer: child_pointer(pointer, "data"),
                    });
                }
                Some(text)
            }
        };
        let platform = match f.object("platform")? {
            None => None,
            Some((o, p)) => Some(Platform::decode(Fields::new(o, &p), false)?),
        };
        Ok(Descriptor {
            media_type: f.string("mediaType")?,
            digest_text: f.string("digest")?,
            size: f.get::<i64>("size")?.unwrap_or(0),
            urls: f.strings("urls")?,
            annotations: f.string_map("annotations")?,
            artifact_type: f.string("artifactType")?,
            data,
            platform,
        })
    }

    /// Reads a Docker schema 2 descriptor; with `platform`, a Docker list
    /// entry (`manifest.Schema2ManifestDescriptor`).
    pub fn decode_docker(
        value: &Value,
        pointer: &str,
        with_platform: bool,
    ) -> Result<Self, ManifestError> {
        match struct_value(value, pointer)? {
            None => Ok(Descriptor {
                platform: with_platform.then(Platform::default),
                ..Descriptor::default()
            }),
            Some(object) => Self::decode_docker_object(object, pointer, with_platform),
        }
    }

    /// Reads a Docker descriptor (or list entry) from an object.
    pub fn decode_docker_object(
        object: &Object,
        pointer: &str,
        with_platform: bool,
    ) -> Result<Self, ManifestError> {
        let f = Fields::new(object, pointer);
        let platform = if with_platform {
            // The Docker list entry's platform is a value, not a pointer:
            // a missing platform reads as the zero platform.
            Some(match f.object("platform")? {
                None => Platform::default(),
                Some((o, p)) => Platform::decode(Fields::new(o, &p), true)?,
            })
        } else {
            None
        };
        Ok(Descriptor {
            media_type: f.string("mediaType")?,
            digest_text: f.string("digest")?,
            size: f.get::<i64>("size")?.unwrap_or(0),
            urls: f.strings("urls")?,
            platform,
            ..Descriptor::default()
        })
    }
}

/// A struct-typed JSON value: an object, or null for the zero value.
fn struct_value<'a>(value: &'a Value, pointer: &str) -> Result<Option<&'a Object>, TypeError> {
    match value {
        Value::Object(o) => Ok(Some(o)),
        Value::Null => Ok(None),
        other => Err(TypeError {
            pointer: pointer.into(),
            found: other.kind().into(),
            expected: "struct",
        }),
    }
}
