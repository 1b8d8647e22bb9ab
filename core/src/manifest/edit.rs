//! Editing an image manifest's layers and config, keeping everything else.
//!
//! When a copy changes a layer's representation (compresses or decompresses
//! it), the manifest must name the new blob. The edit works on the JSON
//! document itself, so members ferry does not model survive; the result is
//! written compactly, as Go's encoder would.

use alloc::vec::Vec;

use super::{Manifest, ManifestError};
use crate::json::{self, Value};

/// A layer's new representation.
pub type LayerUpdate = super::DescriptorUpdate;

/// Why an edit is impossible.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum EditError {
    /// Schema 1 manifests are not edited in place (they are converted).
    Schema1,
    /// The number of updates differs from the number of layers.
    LayerCount { layers: usize, updates: usize },
    /// The manifest's bytes no longer parse.
    Manifest(ManifestError),
}

impl core::fmt::Display for EditError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            EditError::Schema1 => f.write_str("schema 1 manifests cannot be edited in place"),
            EditError::LayerCount { layers, updates } => write!(
                f,
                "the manifest has {layers} layers but {updates} layer updates were given"
            ),
            EditError::Manifest(e) => e.fmt(f),
        }
    }
}

impl core::error::Error for EditError {}

/// Replaces each layer's digest, size and media type. Updates that change
/// nothing leave the bytes exactly as they were.
pub fn with_layers(manifest: &Manifest, updates: &[LayerUpdate]) -> Result<Vec<u8>, EditError> {
    let layers = match manifest {
        Manifest::Schema1(_) => return Err(EditError::Schema1),
        Manifest::Schema2(m) => &m.layers,
        Manifest::Oci(m) => &m.layers,
    };
    if layers.len() != updates.len() {
        return Err(EditError::LayerCount {
            layers: layers.len(),
            updates: updates.len(),
        });
    }
    let unchanged = layers
        .iter()
        .zip(updates)
        .all(|(l, u)| u.changes_nothing_in(l));
    if unchanged {
        return Ok(manifest.raw().to_vec());
    }
    let mut doc = json::parse(manifest.raw()).map_err(|e| EditError::Manifest(e.into()))?;
    if let Value::Object(top) = &mut doc
        && let Some(Value::Array(items)) = top.field_mut("layers")
    {
        for (item, u) in items.iter_mut().zip(updates) {
            if let Value::Object(layer) = item {
                u.set_on(layer);
            }
        }
    }
    Ok(doc.to_compact(true).into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media_type as mt;

    const OCI: &str = r#"{
  "schemaVersion": 2,
  "mediaType": "application/vnd.oci.image.manifest.v1+json",
  "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:0000000000000000000000000000000000000000000000000000000000000001", "size": 3},
  "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "sha256:0000000000000000000000000000000000000000000000000000000000000002", "size": 10, "annotations": {"keep": "me"}}],
  "x-extra": true
}"#;

    #[test]
    fn unchanged_layers_keep_the_bytes() {
        let m = Manifest::parse(OCI.as_bytes()).unwrap();
        let same: Vec<LayerUpdate> = m
            .layers()
            .iter()
            .map(|l| LayerUpdate {
                digest: l.descriptor.digest_text.clone(),
                size: l.descriptor.size,
                media_type: l.descriptor.media_type.clone(),
            })
            .collect();
        assert_eq!(with_layers(&m, &same).unwrap(), OCI.as_bytes());
    }

    #[test]
    fn changed_layers_are_rewritten_keeping_other_members() {
        let m = Manifest::parse(OCI.as_bytes()).unwrap();
        let update = LayerUpdate {
            digest: "sha256:0000000000000000000000000000000000000000000000000000000000000003"
                .into(),
            size: 40,
            media_type: mt::OCI_LAYER.into(),
        };
        let bytes = with_layers(&m, core::slice::from_ref(&update)).unwrap();
        let edited = Manifest::parse(&bytes).unwrap();
        let layer = &edited.layers()[0].descriptor;
        assert_eq!(
            (layer.digest_text.as_str(), layer.size),
            (update.digest.as_str(), 40)
        );
        assert_eq!(layer.annotations["keep"], "me");
        assert!(
            core::str::from_utf8(&bytes)
                .unwrap()
                .contains(r#""x-extra":true"#)
        );
    }
}
