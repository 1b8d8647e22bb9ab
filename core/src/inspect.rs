//! A summary of any manifest or list, for people and tools: what the CLI's
//! `manifest inspect` prints and what the browser inspector shows.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use crate::json::{self, Value};
use crate::list::List;
use crate::manifest::{Descriptor, LayerInfo, Manifest, ManifestError};
use crate::media_type as mt;
use crate::validate::{Diagnostic, digest_diagnostic};

/// The summary of one document.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Inspection {
    /// The type it was read as: the one asked for, else the declared
    /// `mediaType` when ferry knows it, else the detected one.
    #[serde(rename = "mediaType")]
    pub media_type: String,
    /// The `mediaType` member as written, if any.
    #[serde(rename = "declaredMediaType")]
    pub declared_media_type: Option<String>,
    /// containers/image's guess from the bytes alone.
    #[serde(rename = "detectedMediaType")]
    pub detected_media_type: String,
    /// The manifest digest (for signed schema 1, of the JWS payload);
    /// `None` when a signed schema 1 manifest's signatures are malformed,
    /// with the reason in `diagnostics`.
    pub digest: Option<String>,
    /// Size of the document in bytes.
    pub size: usize,
    #[serde(flatten)]
    pub content: Content,
    /// Problems that did not stop the summary (the one so far: no digest),
    /// as [`crate::validate`] reports them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub diagnostics: Vec<Diagnostic>,
}

/// What the document references.
// One summary exists at a time; boxing the image variant would only add
// noise to every match.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(untagged)]
pub enum Content {
    Image {
        config: Descriptor,
        layers: Vec<LayerInfo>,
        /// Sum of config and layer sizes; `None` when a size is unknown
        /// (schema 1 does not record sizes).
        #[serde(rename = "totalSize")]
        total_size: Option<i64>,
        #[serde(rename = "imageId", skip_serializing_if = "Option::is_none")]
        image_id: Option<String>,
    },
    List {
        manifests: Vec<Descriptor>,
        #[serde(skip_serializing_if = "alloc::collections::BTreeMap::is_empty")]
        annotations: alloc::collections::BTreeMap<String, String>,
    },
}

/// Why a document cannot be summarised.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum InspectError {
    /// The document does not parse as the type it was read as.
    Parse {
        media_type: String,
        error: ManifestError,
    },
    /// Nothing identifies the format.
    UnknownFormat { reason: String },
}

impl fmt::Display for InspectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InspectError::Parse { media_type, error } => {
                write!(f, "not a valid {media_type}: {error}")
            }
            InspectError::UnknownFormat { reason } => {
                write!(f, "not a manifest or list: {reason}")
            }
        }
    }
}

impl core::error::Error for InspectError {}

/// Summarises `bytes`, read as `media_type` when given.
pub fn inspect(bytes: &[u8], media_type: Option<&str>) -> Result<Inspection, InspectError> {
    let detected = crate::manifest::guess_media_type(bytes);
    let root = json::parse(bytes).map_err(|e| InspectError::UnknownFormat {
        reason: alloc::format!("not valid JSON: {e}"),
    })?;
    let declared = root
        .as_object()
        .and_then(|o| o.field("mediaType"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let chosen = match (media_type, declared.as_deref()) {
        (Some(t), _) => t.to_string(),
        (None, Some(d)) if mt::is_manifest_type(d) => d.to_string(),
        _ => detected.clone(),
    };
    if chosen.is_empty() || !mt::is_manifest_type(&chosen) {
        return Err(InspectError::UnknownFormat {
            reason: match declared {
                Some(d) => alloc::format!(
                    "unknown mediaType {d} and no recognisable structure",
                    d = crate::Quoted(&d)
                ),
                None => "no mediaType and no recognisable structure".to_string(),
            },
        });
    }
    let parse_error = |error| InspectError::Parse {
        media_type: chosen.clone(),
        error,
    };
    let content = if mt::is_list(&chosen) {
        let list = List::from_blob(bytes, &chosen).map_err(parse_error)?;
        Content::List {
            manifests: list.entries,
            annotations: list.annotations,
        }
    } else {
        let manifest = Manifest::from_blob(bytes, &chosen).map_err(parse_error)?;
        let config = manifest.config();
        let layers = manifest.layers();
        let total_size = if matches!(manifest, Manifest::Schema1(_)) {
            None
        } else {
            Some(
                layers
                    .iter()
                    .map(|l| l.descriptor.size)
                    .fold(config.size, i64::saturating_add),
            )
        };
        Content::Image {
            config,
            layers,
            total_size,
            image_id: manifest.image_id().ok(),
        }
    };
    // containers/image parses a signed schema 1 manifest without
    // recovering its payload, so malformed signatures do not stop the
    // summary; only the digest is missing.
    let (digest, diagnostics) = match crate::manifest::digest(bytes) {
        Ok(d) => (Some(d.to_string()), Vec::new()),
        Err(e) => (None, alloc::vec![digest_diagnostic(&e)]),
    };
    Ok(Inspection {
        media_type: chosen,
        declared_media_type: declared,
        detected_media_type: detected,
        digest,
        size: bytes.len(),
        content,
        diagnostics,
    })
}
