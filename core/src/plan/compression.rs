//! Whether a blob is stored as it is, compressed or decompressed on the way
//! to the destination (containers/image's `blobPipelineCompressionStep`,
//! decided from media types rather than by sniffing the stream).

use crate::media_type as mt;

/// What the destination would like layers to be.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Desired {
    #[default]
    Preserve,
    Compress,
    Decompress,
}

/// What to do with one blob in transit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BlobOperation {
    /// Copy the bytes as they are.
    Keep,
    /// gzip them (a new digest).
    Compress,
    /// gunzip them (a new digest, equal to the layer's diff ID).
    Decompress,
}

/// A layer type's compression, when the type is a known layer type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerCompression {
    None,
    Gzip,
    Zstd,
}

/// The known layer types, with their compression and their counterparts.
/// Each row: (uncompressed, gzip, zstd or "").
const FAMILIES: [(&str, &str, &str); 4] = [
    (mt::DOCKER_LAYER, mt::DOCKER_LAYER_GZIP, ""),
    (mt::DOCKER_FOREIGN_LAYER, mt::DOCKER_FOREIGN_LAYER_GZIP, ""),
    (mt::OCI_LAYER, mt::OCI_LAYER_GZIP, mt::OCI_LAYER_ZSTD),
    (
        mt::OCI_LAYER_NONDISTRIBUTABLE,
        mt::OCI_LAYER_NONDISTRIBUTABLE_GZIP,
        mt::OCI_LAYER_NONDISTRIBUTABLE_ZSTD,
    ),
];

/// The compression of a layer media type; `None` for configs, encrypted
/// layers and types ferry does not know.
pub fn layer_compression(media_type: &str) -> Option<LayerCompression> {
    FAMILIES.iter().find_map(|(plain, gzip, zstd)| {
        if media_type == *plain {
            Some(LayerCompression::None)
        } else if media_type == *gzip {
            Some(LayerCompression::Gzip)
        } else if !zstd.is_empty() && media_type == *zstd {
            Some(LayerCompression::Zstd)
        } else {
            None
        }
    })
}

/// Decides what happens to a blob.
///
/// Only layers of known types change, only when the manifest may be
/// modified, and only between uncompressed and gzip: zstd layers are kept
/// as they are (ferry does not decompress zstd), and so are layers of OCI
/// artifacts, whose "layers" are not filesystem changes
/// (`is_image_config` false).
pub fn blob_operation(
    media_type: &str,
    desired: Desired,
    may_modify: bool,
    is_image_config: bool,
) -> BlobOperation {
    if !may_modify || !is_image_config {
        return BlobOperation::Keep;
    }
    match (layer_compression(media_type), desired) {
        (Some(LayerCompression::None), Desired::Compress) => BlobOperation::Compress,
        (Some(LayerCompression::Gzip), Desired::Decompress) => BlobOperation::Decompress,
        _ => BlobOperation::Keep,
    }
}

/// The media type of a layer after `operation`.
pub fn transformed_media_type(media_type: &str, operation: BlobOperation) -> &str {
    let Some((plain, gzip, _)) = FAMILIES.iter().find(|(p, g, z)| {
        media_type == *p || media_type == *g || (!z.is_empty() && media_type == *z)
    }) else {
        return media_type;
    };
    match operation {
        BlobOperation::Keep => media_type,
        BlobOperation::Compress => gzip,
        BlobOperation::Decompress => plain,
    }
}

#[cfg(test)]
mod tests {
    use super::BlobOperation::{Compress, Decompress, Keep};
    use super::*;

    /// The operation on a layer of `media_type` of an image that may change.
    fn op(media_type: &str, desired: Desired) -> BlobOperation {
        blob_operation(media_type, desired, true, true)
    }

    #[test]
    fn uncompressed_layers_are_gzipped_for_destinations_that_want_compression() {
        let layer = mt::OCI_LAYER;
        assert_eq!(op(layer, Desired::Compress), Compress);
        assert_eq!(transformed_media_type(layer, Compress), mt::OCI_LAYER_GZIP);
        assert_eq!(op(mt::OCI_LAYER_GZIP, Desired::Compress), Keep);
    }

    #[test]
    fn gzip_layers_are_decompressed_for_destinations_that_want_tars() {
        let layer = mt::DOCKER_LAYER_GZIP;
        assert_eq!(op(layer, Desired::Decompress), Decompress);
        assert_eq!(transformed_media_type(layer, Decompress), mt::DOCKER_LAYER);
        assert_eq!(
            transformed_media_type(mt::OCI_LAYER_NONDISTRIBUTABLE_GZIP, Decompress),
            mt::OCI_LAYER_NONDISTRIBUTABLE
        );
    }

    #[test]
    fn nothing_changes_when_the_manifest_may_not() {
        assert_eq!(
            blob_operation(mt::OCI_LAYER, Desired::Compress, false, true),
            Keep
        );
    }

    #[test]
    fn artifact_layers_and_unknown_types_are_kept() {
        assert_eq!(
            blob_operation(mt::OCI_LAYER, Desired::Compress, true, false),
            Keep
        );
        assert_eq!(op(mt::OCI_CONFIG, Desired::Compress), Keep);
        assert_eq!(op("application/x-custom", Desired::Decompress), Keep);
    }

    #[test]
    fn zstd_layers_are_kept_even_when_tars_are_wanted() {
        assert_eq!(op(mt::OCI_LAYER_ZSTD, Desired::Decompress), Keep);
    }
}
