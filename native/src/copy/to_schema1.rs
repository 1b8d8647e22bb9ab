//! Writing a schema 2 or OCI image as Docker schema 1 (`--format v2s1`).
//!
//! ferry-core builds the manifest from the image config
//! (`manifest::convert::to_schema1`); this reads the config from the
//! source, stores the gzipped empty layer that schema 1 names for history
//! entries without a layer (as containers/image does, during the
//! conversion), and signs the result with a throwaway key
//! ([`crate::sign`]).

use ferry_core::Digest;
use ferry_core::manifest::convert::{self, Schema1Inputs};
use ferry_core::manifest::schema1::{GZIPPED_EMPTY_LAYER, GZIPPED_EMPTY_LAYER_DIGEST};
use ferry_core::manifest::{MAX_MANIFEST_SIZE, Manifest};
use ferry_core::media_type as mt;
use tokio::io::AsyncReadExt as _;

use super::{CopyError, transport};
use crate::transport::{BlobInfo, ImageDestination, ImageSource};

/// Converts `source` (the manifest as the source has it) to signed schema
/// 1, naming the layers as `written` (the same manifest after any layer
/// changed form on the way) names them. The outer error is a failed read or
/// write; the inner one a conversion the image does not allow, which lets
/// the copy try its next manifest type.
pub(super) async fn converted(
    src: &dyn ImageSource,
    dst: &dyn ImageDestination,
    source: &Manifest,
    written: &Manifest,
) -> Result<Result<Vec<u8>, String>, CopyError> {
    let config = read_config(src, source).await?;
    let written_layers: Vec<String> = written
        .layers()
        .into_iter()
        .map(|l| l.descriptor.digest_text)
        .collect();
    let (name, tag) = dst.docker_reference().unwrap_or_default();
    let built = match convert::to_schema1(
        source,
        &Schema1Inputs {
            config: &config,
            written_layers: &written_layers,
            name: &name,
            tag: &tag,
        },
    ) {
        Ok(built) => built,
        Err(e) => return Ok(Err(e.to_string())),
    };
    if built.uses_empty_layer {
        let info = BlobInfo {
            digest: Digest::parse(GZIPPED_EMPTY_LAYER_DIGEST)
                .map_err(|e| CopyError::Internal(format!("the empty layer's digest: {e}")))?,
            size: Some(GZIPPED_EMPTY_LAYER.len() as i64),
            media_type: Some(mt::DOCKER_LAYER_GZIP.into()),
        };
        if dst
            .has_blob(&info)
            .await
            .map_err(transport("checking for a blob", dst.reference()))?
            .is_none()
        {
            dst.put_blob(Box::pin(&GZIPPED_EMPTY_LAYER[..]), &info)
                .await
                .map_err(transport("writing the empty layer", dst.reference()))?;
        }
    }
    crate::sign::sign_schema1(&built.unsigned)
        .map(Ok)
        .map_err(CopyError::Sign)
}

/// The config blob, read whole from the source (configs are small; one
/// past the manifest size limit is cut off, and then fails its digest).
async fn read_config(src: &dyn ImageSource, manifest: &Manifest) -> Result<Vec<u8>, CopyError> {
    let descriptor = manifest.config();
    let info = BlobInfo::described(
        super::parse_digest(&descriptor.digest_text, "the config")?,
        descriptor.size,
        &descriptor.media_type,
    );
    let step = format!("reading config {}", info.digest);
    let (stream, _) = src
        .blob(&info)
        .await
        .map_err(transport(step.clone(), src.reference()))?;
    let mut bytes = Vec::new();
    stream
        .take(MAX_MANIFEST_SIZE as u64 + 1)
        .read_to_end(&mut bytes)
        .await
        .map_err(|error| CopyError::Stream {
            step,
            reference: src.reference(),
            error,
        })?;
    Ok(bytes)
}
