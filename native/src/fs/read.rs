//! Reading stored files: blobs as streams, manifests whole within a limit.

use std::path::Path;

use std::io::Read as _;

use crate::transport::{BlobStream, TransportError, io_error};

/// Opens a stored blob for streaming, with its size; a missing file is
/// "blob not found at `location`", not an I/O error.
pub async fn open_blob(
    path: &Path,
    digest: &ferry_core::Digest,
    location: &str,
) -> Result<(BlobStream, u64), TransportError> {
    let file = tokio::fs::File::open(path).await.map_err(|error| {
        if error.kind() == std::io::ErrorKind::NotFound {
            TransportError::NotFound {
                what: format!("blob {digest}"),
                location: location.to_string(),
            }
        } else {
            io_error(path, "open")(error)
        }
    })?;
    let size = file.metadata().await.map_err(io_error(path, "stat"))?.len();
    Ok((Box::pin(file), size))
}

/// Reads a whole small file (a manifest), refusing files over the manifest
/// size limit so a hostile layout cannot make ferry allocate gigabytes.
///
/// One blocking task does the open and all the reads: through tokio's
/// `File`, each read is a trip to the blocking pool and back, and
/// `read_to_end` reads a 1 KiB manifest in steps of 32, 64, 128… bytes,
/// so `inspect --raw oci:` made some twenty such trips for its three
/// small files (benches/counts.py).
pub async fn read_small(path: &Path, limit: usize) -> Result<Vec<u8>, TransportError> {
    let owned = path.to_path_buf();
    let bytes = tokio::task::spawn_blocking(move || {
        let file = std::fs::File::open(&owned).map_err(io_error(&owned, "open"))?;
        let mut bytes = Vec::new();
        file.take(limit as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(io_error(&owned, "read"))?;
        Ok::<_, TransportError>(bytes)
    })
    .await
    .map_err(|e| io_error(path, "read")(std::io::Error::other(e)))??;
    if bytes.len() > limit {
        return Err(TransportError::Malformed {
            location: path.display().to_string(),
            reason: format!("larger than the {limit}-byte limit for manifests"),
        });
    }
    Ok(bytes)
}
