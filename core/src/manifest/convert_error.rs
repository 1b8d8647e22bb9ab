//! Why a manifest cannot take the wanted form: the error of
//! [`convert`](super::convert) and of building Docker schema 1
//! ([`schema1::from_config`](super::schema1::from_config)).

use alloc::string::String;
use core::fmt;

/// Why a manifest cannot take the wanted form.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ConvertError {
    /// A layer media type with no equivalent in the target format.
    LayerType {
        index: usize,
        media_type: String,
        target: String,
    },
    /// OCI artifacts (non-image configs) have no schema 2 form.
    Artifact { config_media_type: String },
    /// Conversions ferry does not perform here (schema 1 to schema 2 needs
    /// the layers' uncompressed digests, which the engine computes while
    /// copying; schema 1 is built by [`to_schema1`]).
    Unsupported { from: String, to: String },
    /// The config blob does not match the manifest's config digest.
    ConfigDigest { expected: String },
    /// The config blob is not a Docker image config.
    Config { reason: String },
    /// The config has no history, from which schema 1 is built.
    NoHistory,
    /// The history has more entries with layers than the image has layers.
    HistoryNeedsMoreLayers { layers: usize },
    /// Layers that no history entry accounts for (containers/image drops
    /// them from the schema 1 manifest; ferry refuses).
    LayersWithoutHistory { layers: usize, unused: usize },
    /// The written layers do not line up with the manifest's.
    LayerCount { layers: usize, written: usize },
    /// A layer digest is malformed.
    LayerDigest {
        digest: String,
        error: crate::digest::DigestError,
    },
    /// The schema 1 manifest built does not read back as schema 1.
    Schema1 { error: super::ManifestError },
}

impl fmt::Display for ConvertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConvertError::LayerType {
                index,
                media_type,
                target,
            } => write!(
                f,
                "layer {index} has media type {media_type}, which {target} cannot express",
                media_type = crate::Quoted(media_type)
            ),
            ConvertError::Artifact { config_media_type } => write!(
                f,
                "an OCI artifact (config type {config_media_type}) has no Docker schema 2 form",
                config_media_type = crate::Quoted(config_media_type)
            ),
            ConvertError::Unsupported { from, to } => {
                write!(f, "converting {from} to {to} is not supported")
            }
            ConvertError::ConfigDigest { expected } => {
                write!(f, "the config blob does not match its digest {expected}")
            }
            ConvertError::Config { reason } => {
                write!(f, "the config is not a Docker image config: {reason}")
            }
            ConvertError::NoHistory => f.write_str(
                "the config has no history entries, from which Docker schema 1 is built",
            ),
            ConvertError::HistoryNeedsMoreLayers { layers } => write!(
                f,
                "the config's history names more layers than the image's {layers}"
            ),
            ConvertError::LayersWithoutHistory { layers, unused } => write!(
                f,
                "{unused} of the image's {layers} layers have no history entry, and Docker schema 1 would leave them out"
            ),
            ConvertError::LayerCount { layers, written } => {
                write!(f, "{written} written layers for the manifest's {layers}")
            }
            ConvertError::LayerDigest { digest, error } => {
                write!(
                    f,
                    "layer digest {digest}: {error}",
                    digest = crate::Quoted(digest)
                )
            }
            ConvertError::Schema1 { error } => {
                write!(
                    f,
                    "the Docker schema 1 manifest built from the config: {error}"
                )
            }
        }
    }
}

impl core::error::Error for ConvertError {}
