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
                let moved = match layer.field("digest") {
                    Some(Value::String(d)) => *d != u.digest,
                    _ => true,
                };
                u.set_on(layer);
                if moved {
                    drop_layout_annotations(layer);
                }
            }
        }
    }
    Ok(doc.to_compact(true).into_bytes())
}

/// Annotations that describe where things are inside one compressed blob
/// (zstd:chunked's and eStargz's tables of contents): a layer recompressed
/// into a new blob no longer has them there, and a reader that trusted
/// them would seek into the wrong bytes. Later containers/image versions
/// drop them on recompression too.
const LAYOUT_ANNOTATIONS: [&str; 3] = [
    "io.github.containers.zstd-chunked.",
    "containerd.io/snapshot/stargz/",
    "io.containers.estargz.",
];

fn drop_layout_annotations(layer: &mut json::Object) {
    let Some(Value::Object(annotations)) = layer.field_mut("annotations") else {
        return;
    };
    annotations
        .members
        .retain(|m| !LAYOUT_ANNOTATIONS.iter().any(|p| m.key.starts_with(p)));
    if annotations.members.is_empty() {
        layer.remove("annotations");
    }
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

    #[test]
    fn a_recompressed_layer_loses_the_annotations_that_located_its_old_table_of_contents() {
        let chunked = OCI.replace(
            r#"{"keep": "me"}"#,
            r#"{"keep": "me", "io.github.containers.zstd-chunked.manifest-checksum": "sha256:00", "io.github.containers.zstd-chunked.manifest-position": "1:2:3:4"}"#,
        );
        let m = Manifest::parse(chunked.as_bytes()).unwrap();
        let update = LayerUpdate {
            digest: "sha256:0000000000000000000000000000000000000000000000000000000000000003"
                .into(),
            size: 40,
            media_type: mt::OCI_LAYER_GZIP.into(),
        };
        let bytes = with_layers(&m, core::slice::from_ref(&update)).unwrap();
        let edited = Manifest::parse(&bytes).unwrap();
        let annotations = &edited.layers()[0].descriptor.annotations;
        assert_eq!(annotations.len(), 1, "{annotations:?}");
        assert_eq!(annotations["keep"], "me");
    }

    #[test]
    fn a_retyped_layer_of_the_same_blob_keeps_its_annotations() {
        let chunked = OCI.replace(
            r#"{"keep": "me"}"#,
            r#"{"io.github.containers.zstd-chunked.manifest-checksum": "sha256:00"}"#,
        );
        let m = Manifest::parse(chunked.as_bytes()).unwrap();
        let layer = &m.layers()[0].descriptor;
        let update = LayerUpdate {
            digest: layer.digest_text.clone(),
            size: layer.size,
            media_type: mt::OCI_LAYER_ZSTD.into(),
        };
        let bytes = with_layers(&m, core::slice::from_ref(&update)).unwrap();
        let edited = Manifest::parse(&bytes).unwrap();
        assert_eq!(edited.layers()[0].descriptor.annotations.len(), 1);
    }
}
