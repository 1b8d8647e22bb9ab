//! Single-image manifests: Docker schema 1 (signed and unsigned), Docker
//! schema 2 and OCI, read with containers/image's rules.
//!
//! Every parsed manifest keeps the exact bytes it came from
//! ([`Manifest::raw`]); its digest is of those bytes (or, for signed schema
//! 1, of the JWS payload inside them), never of a re-serialization.

pub mod convert;
mod convert_error;
mod descriptor;
pub mod edit;
mod guess;
pub mod jwk;
pub mod jws;
mod oci;
pub(crate) mod rfc3339;
pub mod schema1;
mod schema2;
mod v1image;

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

pub use descriptor::{
    Descriptor, DescriptorUpdate, SizeMismatch, UNKNOWN_SIZE, check_size, check_size_so_far,
    size_matches,
};
pub use guess::guess_media_type;
pub use oci::OciManifest;
pub use schema1::Schema1;
pub use schema2::Schema2;

use crate::digest::Digest;
use crate::json::{self, SyntaxError, TypeError};
use crate::media_type;

/// Registries refuse manifests over 4 MiB, and so does containers/image
/// when it reads one; ferry applies the same bound to everything it reads.
pub const MAX_MANIFEST_SIZE: usize = 4 * 1024 * 1024;

/// A single-image manifest of any format.
// Manifests are few and short-lived; the size difference between formats
// does not matter enough to box the larger ones.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Manifest {
    Schema1(Schema1),
    Schema2(Schema2),
    Oci(OciManifest),
}

/// A layer as the copy engine sees it: its descriptor and whether the
/// history marks it as empty (schema 1 "throwaway" layers).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LayerInfo {
    #[serde(flatten)]
    pub descriptor: Descriptor,
    #[serde(rename = "emptyLayer")]
    pub empty_layer: bool,
}

/// Why bytes are not a manifest of the wanted type.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ManifestError {
    /// Not JSON.
    Syntax(SyntaxError),
    /// JSON, but a field has the wrong type.
    Type(TypeError),
    /// `schemaVersion` is not the one the format requires.
    UnsupportedSchemaVersion { media_type: String, found: i64 },
    /// Fields of another format are present (CVE-2021-41190).
    Ambiguous {
        media_type: String,
        unexpected: Vec<&'static str>,
    },
    /// A media type the format does not allow, at a JSON pointer.
    UnsupportedMediaType { pointer: String, media_type: String },
    /// A list was given where a single manifest is needed.
    ListNotManifest { media_type: String },
    /// A single manifest was given where a list is needed.
    ManifestNotList { media_type: String },
    /// A media type ferry does not know at all.
    UnknownMediaType { media_type: String },
    /// A `[]byte` field that is not valid base64.
    InvalidBase64 { pointer: String },
    /// A timestamp that is not RFC 3339.
    InvalidTime { pointer: String, value: String },
    /// A schema 1 manifest whose layers and history do not agree.
    Schema1(schema1::HistoryError),
    /// A digest that is not well formed.
    InvalidDigest {
        pointer: String,
        error: crate::digest::DigestError,
    },
    /// An image-only operation on an OCI artifact (a non-image config).
    NotAnImage { config_media_type: String },
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ManifestError::Syntax(e) => write!(f, "not valid JSON: {e}"),
            ManifestError::Type(e) => e.fmt(f),
            ManifestError::UnsupportedSchemaVersion { media_type, found } => {
                write!(f, "unsupported schemaVersion {found} for {media_type}")
            }
            ManifestError::Ambiguous {
                media_type,
                unexpected,
            } => write!(
                f,
                "ambiguous manifest: fields {} do not belong in {media_type}",
                crate::join(unexpected, ", ")
            ),
            ManifestError::UnsupportedMediaType {
                pointer,
                media_type,
            } => write!(
                f,
                "unsupported media type {media_type} at {pointer}",
                media_type = crate::Quoted(media_type)
            ),
            ManifestError::ListNotManifest { media_type } => write!(
                f,
                "{media_type} is a manifest list, not a single image manifest"
            ),
            ManifestError::ManifestNotList { media_type } => write!(
                f,
                "{media_type} is a single image manifest, not a manifest list"
            ),
            ManifestError::UnknownMediaType { media_type } => {
                write!(
                    f,
                    "unknown manifest media type {media_type}",
                    media_type = crate::Quoted(media_type)
                )
            }
            ManifestError::InvalidBase64 { pointer } => {
                write!(f, "invalid base64 at {pointer}")
            }
            ManifestError::InvalidTime { pointer, value } => {
                write!(
                    f,
                    "invalid timestamp {value} at {pointer}",
                    value = crate::Quoted(value)
                )
            }
            ManifestError::Schema1(e) => e.fmt(f),
            ManifestError::InvalidDigest { pointer, error } => write!(f, "{pointer}: {error}"),
            ManifestError::NotAnImage { config_media_type } => write!(
                f,
                "not an image: an artifact with config type {config_media_type} has no image ID",
                config_media_type = crate::Quoted(config_media_type)
            ),
        }
    }
}

impl core::error::Error for ManifestError {}

impl From<SyntaxError> for ManifestError {
    fn from(e: SyntaxError) -> Self {
        ManifestError::Syntax(e)
    }
}

impl From<TypeError> for ManifestError {
    fn from(e: TypeError) -> Self {
        ManifestError::Type(e)
    }
}

impl Manifest {
    /// Parses `bytes` as a single-image manifest of `media_type` (which is
    /// normalised first, so `""` means signed schema 1, as in
    /// containers/image's `manifest.FromBlob`).
    pub fn from_blob(bytes: &[u8], media_type: &str) -> Result<Self, ManifestError> {
        match media_type::normalize(media_type) {
            media_type::DOCKER_V2S1 | media_type::DOCKER_V2S1_SIGNED => {
                Schema1::parse(bytes).map(Manifest::Schema1)
            }
            media_type::DOCKER_V2S2 => Schema2::parse(bytes).map(Manifest::Schema2),
            media_type::OCI_MANIFEST => OciManifest::parse(bytes).map(Manifest::Oci),
            t @ (media_type::DOCKER_LIST | media_type::OCI_INDEX) => {
                Err(ManifestError::ListNotManifest {
                    media_type: t.to_string(),
                })
            }
            other => Err(ManifestError::UnknownMediaType {
                media_type: other.to_string(),
            }),
        }
    }

    /// Guesses the type from the bytes, then parses.
    pub fn parse(bytes: &[u8]) -> Result<Self, ManifestError> {
        Self::from_blob(bytes, &guess_media_type(bytes))
    }

    /// The exact bytes this manifest was parsed from.
    pub fn raw(&self) -> &[u8] {
        match self {
            Manifest::Schema1(m) => m.raw(),
            Manifest::Schema2(m) => m.raw(),
            Manifest::Oci(m) => m.raw(),
        }
    }

    /// The media type of the format it was parsed as.
    pub fn media_type(&self) -> &'static str {
        match self {
            Manifest::Schema1(m) if m.is_signed() => media_type::DOCKER_V2S1_SIGNED,
            Manifest::Schema1(_) => media_type::DOCKER_V2S1,
            Manifest::Schema2(_) => media_type::DOCKER_V2S2,
            Manifest::Oci(_) => media_type::OCI_MANIFEST,
        }
    }

    /// The config descriptor. Schema 1 has no config blob; it gets the zero
    /// descriptor, as in containers/image.
    pub fn config(&self) -> Descriptor {
        match self {
            Manifest::Schema1(_) => Descriptor::default(),
            Manifest::Schema2(m) => m.config.clone(),
            Manifest::Oci(m) => m.config.clone(),
        }
    }

    /// The layers, base layer first.
    pub fn layers(&self) -> Vec<LayerInfo> {
        match self {
            Manifest::Schema1(m) => m.layer_infos(),
            Manifest::Schema2(m) => plain_layers(&m.layers),
            Manifest::Oci(m) => plain_layers(&m.layers),
        }
    }

    /// The image ID: the config digest's hex, or for schema 1 the digest of
    /// the config containers/image derives from the history.
    pub fn image_id(&self) -> Result<String, ManifestError> {
        match self {
            Manifest::Schema1(m) => m.image_id(),
            Manifest::Schema2(m) => config_digest_hex(&m.config),
            Manifest::Oci(m) => {
                // An artifact's config does not identify its content the way
                // an image config's diff IDs do, so containers/image refuses
                // to give artifacts an image ID; so does ferry.
                if m.config.media_type != media_type::OCI_CONFIG {
                    return Err(ManifestError::NotAnImage {
                        config_media_type: m.config.media_type.clone(),
                    });
                }
                config_digest_hex(&m.config)
            }
        }
    }

    /// The manifest digest: see [`digest`].
    pub fn digest(&self) -> Result<Digest, jws::JwsError> {
        digest(self.raw())
    }
}

fn plain_layers(layers: &[Descriptor]) -> Vec<LayerInfo> {
    layers
        .iter()
        .map(|d| LayerInfo {
            descriptor: d.clone(),
            empty_layer: false,
        })
        .collect()
}

/// The config digest's hex part, once the digest is known to be valid.
fn config_digest_hex(config: &Descriptor) -> Result<String, ManifestError> {
    config
        .digest()
        .map(|d| d.encoded().to_string())
        .map_err(|error| ManifestError::InvalidDigest {
            pointer: "/config/digest".into(),
            error,
        })
}

/// The manifest digest, as registries and containers/image compute it:
/// sha256 of the exact bytes, except for signed schema 1, where it is the
/// sha256 of the JWS payload (the document without its `signatures`).
pub fn digest(bytes: &[u8]) -> Result<Digest, jws::JwsError> {
    if guess_media_type(bytes) == media_type::DOCKER_V2S1_SIGNED {
        let payload = jws::payload(bytes)?;
        return Ok(Digest::sha256_of(&payload));
    }
    Ok(Digest::sha256_of(bytes))
}

/// Why [`digest_document`] refused its input.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum DocumentDigestError {
    /// The input is not JSON, so it is no manifest.
    NotJson(SyntaxError),
    /// A signed schema 1 manifest whose payload cannot be recovered.
    Jws(jws::JwsError),
}

impl fmt::Display for DocumentDigestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DocumentDigestError::NotJson(e) => write!(f, "not a manifest: not valid JSON: {e}"),
            DocumentDigestError::Jws(e) => e.fmt(f),
        }
    }
}

impl core::error::Error for DocumentDigestError {}

/// Like [`digest`], but refuses input that is not JSON at all.
///
/// containers/image (and `skopeo manifest-digest`) hash anything they are
/// given; a user who digests the wrong file learns nothing from that, so
/// ferry's CLI uses this stricter form.
pub fn digest_document(bytes: &[u8]) -> Result<Digest, DocumentDigestError> {
    json::parse(bytes).map_err(DocumentDigestError::NotJson)?;
    digest(bytes).map_err(DocumentDigestError::Jws)
}

/// Fields whose presence identifies a format; a document of one format
/// carrying another's is refused (containers/image's
/// `validateUnambiguousManifestFormat`, after CVE-2021-41190).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AllowedFields {
    pub config: bool,
    pub fs_layers: bool,
    pub history: bool,
    pub layers: bool,
    pub manifests: bool,
}

impl AllowedFields {
    pub(crate) const IMAGE: Self = AllowedFields {
        config: true,
        fs_layers: false,
        history: false,
        layers: true,
        manifests: false,
    };
    pub(crate) const SCHEMA1: Self = AllowedFields {
        config: false,
        fs_layers: true,
        history: true,
        layers: false,
        manifests: false,
    };
    pub(crate) const LIST: Self = AllowedFields {
        config: false,
        fs_layers: false,
        history: false,
        layers: false,
        manifests: true,
    };
}

pub(crate) fn check_unambiguous(
    fields: json::Fields<'_>,
    media_type: &str,
    allowed: AllowedFields,
) -> Result<(), ManifestError> {
    let checks = [
        ("config", allowed.config),
        ("fsLayers", allowed.fs_layers),
        ("history", allowed.history),
        ("layers", allowed.layers),
        ("manifests", allowed.manifests),
    ];
    let unexpected: Vec<&'static str> = checks
        .iter()
        .filter(|(name, ok)| !ok && fields.is_set(name))
        .map(|(name, _)| *name)
        .collect();
    if unexpected.is_empty() {
        Ok(())
    } else {
        Err(ManifestError::Ambiguous {
            media_type: media_type.to_string(),
            unexpected,
        })
    }
}

/// Parses a document's top level for struct decoding: `null` is accepted
/// as an empty object, as Go does.
pub(crate) fn parse_top(
    bytes: &[u8],
    go_type: &'static str,
) -> Result<json::Object, ManifestError> {
    match json::parse(bytes)? {
        json::Value::Object(o) => Ok(o),
        json::Value::Null => Ok(json::Object::default()),
        other => Err(ManifestError::Type(TypeError {
            pointer: String::new(),
            found: other.kind().to_string(),
            expected: go_type,
        })),
    }
}
