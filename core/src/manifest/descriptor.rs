//! Descriptors: the `{mediaType, digest, size}` references that manifests
//! and lists are made of.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

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

    /// Whether content of `length` bytes may be what this descriptor names:
    /// see [`check_size`].
    pub fn check_size(&self, length: u64) -> Result<(), SizeMismatch> {
        check_size(&self.digest_text, self.size, length)
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

/// New values for the members of a descriptor that a copy rewrites: a
/// layer's after it is compressed or decompressed ([`LayerUpdate`]), a
/// list entry's after its instance is copied or converted
/// ([`InstanceUpdate`]).
///
/// [`LayerUpdate`]: super::edit::LayerUpdate
/// [`InstanceUpdate`]: crate::list::InstanceUpdate
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescriptorUpdate {
    pub digest: String,
    pub size: i64,
    pub media_type: String,
}

impl DescriptorUpdate {
    /// Whether `descriptor` already says all this.
    pub(crate) fn changes_nothing_in(&self, descriptor: &Descriptor) -> bool {
        descriptor.digest_text == self.digest
            && descriptor.size == self.size
            && descriptor.media_type == self.media_type
    }

    /// Writes the new values into the descriptor's JSON object, keeping its
    /// other members.
    pub(crate) fn set_on(&self, object: &mut Object) {
        object.set("mediaType", Value::from(self.media_type.as_str()));
        object.set("digest", Value::from(self.digest.as_str()));
        object.set("size", Value::from(self.size));
    }
}

/// The size that means "not known": containers/image's convention for
/// blobs whose length it has not been told, and what ferry gives schema 1
/// layers, whose manifests carry no sizes.
pub const UNKNOWN_SIZE: i64 = -1;

/// Content whose length is not the size its descriptor states.
///
/// The OCI image spec gives a descriptor's size so that a client knows
/// what to expect before it reads, and says content of another length
/// should not be trusted. Writing such content on with its true size
/// would turn a lie into a valid image, so ferry refuses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SizeMismatch {
    /// The digest the descriptor names, as it wrote it.
    pub digest: String,
    /// The size the descriptor states.
    pub stated: i64,
    /// The content's length (for a stream cut short of its end, how far
    /// it got).
    pub actual: u64,
}

impl fmt::Display for SizeMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "content of {} is {} bytes, its descriptor says {}",
            self.digest, self.actual, self.stated
        )
    }
}

impl core::error::Error for SizeMismatch {}

/// Whether content of `length` bytes may be what a descriptor naming
/// `digest` with size `stated` names.
///
/// [`UNKNOWN_SIZE`] accepts any length. Every other size must be the
/// length exactly: zero (what a descriptor without a size reads as) and
/// other negative numbers included, since the spec requires the size and
/// no content is -5 bytes long. containers/image checks less: it compares
/// a manifest read through a list or `index.json` with its digest only,
/// and a layer with the length its source reports rather than with the
/// manifest's descriptor.
pub fn check_size(digest: &str, stated: i64, length: u64) -> Result<(), SizeMismatch> {
    if size_matches(stated, length) {
        Ok(())
    } else {
        Err(SizeMismatch {
            digest: digest.into(),
            stated,
            actual: length,
        })
    }
}

/// [`check_size`]'s rule as a yes or no, for a destination asking whether
/// a blob it holds is the one a descriptor names.
pub fn size_matches(stated: i64, length: u64) -> bool {
    stated == UNKNOWN_SIZE || u64::try_from(stated) == Ok(length)
}

/// [`check_size`] for content still arriving: whether, after `so_far`
/// bytes, it may yet be what the descriptor names. It may not once it is
/// longer than stated, so a stream that goes on for ever is cut off there.
pub fn check_size_so_far(digest: &str, stated: i64, so_far: u64) -> Result<(), SizeMismatch> {
    if stated == UNKNOWN_SIZE || u64::try_from(stated).is_ok_and(|s| so_far <= s) {
        Ok(())
    } else {
        Err(SizeMismatch {
            digest: digest.into(),
            stated,
            actual: so_far,
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

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::string::ToString;

    const DIGEST: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn content_of_the_stated_size_is_accepted() {
        assert_eq!(check_size(DIGEST, 42, 42), Ok(()));
        assert_eq!(check_size(DIGEST, 0, 0), Ok(()));
    }

    #[test]
    fn content_of_another_size_is_refused_naming_digest_and_both_sizes() {
        let error = check_size(DIGEST, 42, 43).unwrap_err();
        assert_eq!(
            error,
            SizeMismatch {
                digest: DIGEST.into(),
                stated: 42,
                actual: 43
            }
        );
        assert_eq!(
            error.to_string(),
            format!("content of {DIGEST} is 43 bytes, its descriptor says 42")
        );
    }

    #[test]
    fn an_unknown_size_accepts_any_length() {
        for length in [0, 1, u64::MAX] {
            assert_eq!(check_size(DIGEST, UNKNOWN_SIZE, length), Ok(()));
            assert_eq!(check_size_so_far(DIGEST, UNKNOWN_SIZE, length), Ok(()));
        }
    }

    #[test]
    fn a_missing_size_reads_as_zero_and_is_checked() {
        let descriptor = Descriptor {
            digest_text: DIGEST.into(),
            ..Descriptor::default()
        };
        assert!(descriptor.check_size(2).is_err());
        assert_eq!(descriptor.check_size(0), Ok(()));
    }

    #[test]
    fn negative_sizes_other_than_unknown_fit_no_content() {
        for stated in [-2, -7, i64::MIN] {
            assert!(check_size(DIGEST, stated, 0).is_err(), "{stated}");
            assert!(check_size_so_far(DIGEST, stated, 0).is_err(), "{stated}");
        }
    }

    #[test]
    fn content_still_arriving_is_refused_once_longer_than_stated() {
        assert_eq!(check_size_so_far(DIGEST, 10, 0), Ok(()));
        assert_eq!(check_size_so_far(DIGEST, 10, 10), Ok(()));
        assert_eq!(
            check_size_so_far(DIGEST, 10, 11).map_err(|e| e.actual),
            Err(11)
        );
    }
}
