//! Changing a layer's compression in transit.
//!
//! The new bytes' digest is unknown until they are all produced, and
//! destinations verify blobs against a digest given up front, so the
//! transformed layer goes to a scratch file first (hashed as it is
//! written), then to the destination like any other blob.

use std::io::Write;

use ferry_core::Digest;
use ferry_core::digest::Hasher;
use ferry_core::plan::compression::BlobOperation;
use tokio::io::AsyncReadExt;

use crate::transport::fsutil::ScratchFile;
use crate::transport::{BlobStream, TransportError, io_error};

/// A file writer that hashes what it writes.
struct Hashing {
    file: std::fs::File,
    hasher: Hasher,
}

impl Write for Hashing {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// The transformed blob: where it is, its digest and size.
pub struct Transformed {
    pub file: ScratchFile,
    pub digest: Digest,
    pub size: u64,
}

/// Streams `input` through gzip compression or decompression into a
/// scratch file.
pub async fn transform(
    mut input: BlobStream,
    operation: BlobOperation,
    what: &str,
) -> Result<Transformed, TransportError> {
    let file = ScratchFile::new("layer");
    let out = std::fs::File::create(file.path()).map_err(io_error(file.path(), "create"))?;
    let hashing = Hashing {
        file: out,
        hasher: Hasher::new(ferry_core::digest::Algorithm::Sha256),
    };
    let mut buffer = vec![0u8; 256 * 1024];
    let malformed = |e: std::io::Error| TransportError::Malformed {
        location: what.to_string(),
        reason: format!(
            "cannot {} the layer: {e}",
            if operation == BlobOperation::Compress {
                "compress"
            } else {
                "decompress"
            }
        ),
    };
    let hashing = match operation {
        BlobOperation::Compress => {
            let mut encoder =
                flate2::write::GzEncoder::new(hashing, flate2::Compression::default());
            loop {
                let n = input
                    .read(&mut buffer)
                    .await
                    .map_err(io_error(what, "read"))?;
                if n == 0 {
                    break;
                }
                encoder.write_all(&buffer[..n]).map_err(malformed)?;
            }
            encoder.finish().map_err(malformed)?
        }
        BlobOperation::Decompress => {
            let mut decoder = flate2::write::GzDecoder::new(hashing);
            loop {
                let n = input
                    .read(&mut buffer)
                    .await
                    .map_err(io_error(what, "read"))?;
                if n == 0 {
                    break;
                }
                decoder.write_all(&buffer[..n]).map_err(malformed)?;
            }
            decoder.finish().map_err(malformed)?
        }
        BlobOperation::Keep => {
            let mut hashing = hashing;
            loop {
                let n = input
                    .read(&mut buffer)
                    .await
                    .map_err(io_error(what, "read"))?;
                if n == 0 {
                    break;
                }
                hashing
                    .write_all(&buffer[..n])
                    .map_err(io_error(file.path(), "write"))?;
            }
            hashing
        }
    };
    let size = hashing.hasher.bytes();
    let digest = hashing.hasher.finish();
    Ok(Transformed { file, digest, size })
}
