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
use ferry_core::tar::Compression;
use tokio::io::AsyncReadExt;

use crate::fs::leftovers::ScratchFile;
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
    let (file, out) = tokio::task::spawn_blocking(|| ScratchFile::create("layer"))
        .await
        .map_err(|e| io_error(what, "create a scratch file for")(std::io::Error::other(e)))??;
    let hashing = Hashing {
        file: out,
        hasher: Hasher::new(ferry_core::digest::Algorithm::Sha256),
    };
    let mut buffer = vec![0u8; 256 * 1024];
    // A layer that does not decompress is not what its digest names.
    let corrupt = |e: std::io::Error| TransportError::Corrupt {
        location: what.to_string(),
        reason: format!("cannot decompress the layer: {e}"),
    };
    let hashing = match operation {
        BlobOperation::Compress => {
            let mut encoder =
                flate2::write::GzEncoder::new(hashing, flate2::Compression::default());
            pump(&mut input, &mut buffer, what, |chunk| {
                encoder
                    .write_all(chunk)
                    .map_err(io_error(what, "write the compressed layer for"))
            })
            .await?;
            encoder
                .finish()
                .map_err(io_error(what, "write the compressed layer for"))?
        }
        BlobOperation::Decompress => {
            let mut decoder = flate2::write::GzDecoder::new(hashing);
            pump(&mut input, &mut buffer, what, |chunk| {
                decoder.write_all(chunk).map_err(corrupt)
            })
            .await?;
            decoder.finish().map_err(corrupt)?
        }
        BlobOperation::Keep => {
            let mut hashing = hashing;
            pump(&mut input, &mut buffer, what, |chunk| {
                hashing
                    .write_all(chunk)
                    .map_err(io_error(file.path(), "write"))
            })
            .await?;
            hashing
        }
    };
    let size = hashing.hasher.bytes();
    let digest = hashing.hasher.finish();
    Ok(Transformed { file, digest, size })
}

/// Reads `input` to its end through `buffer`, handing each chunk to
/// `write`.
async fn pump(
    input: &mut BlobStream,
    buffer: &mut [u8],
    what: &str,
    mut write: impl FnMut(&[u8]) -> Result<(), TransportError>,
) -> Result<(), TransportError> {
    loop {
        let n = input.read(buffer).await.map_err(io_error(what, "read"))?;
        if n == 0 {
            return Ok(());
        }
        write(&buffer[..n])?;
    }
}

/// Computes a layer's diff ID (the sha256 of its uncompressed content)
/// from the bytes as they stream past, so schema 1 images can be converted
/// without reading their layers twice.
pub struct DiffIdTee {
    inner: BlobStream,
    state: DiffState,
    result: std::sync::Arc<std::sync::Mutex<Option<Result<Digest, String>>>>,
}

enum DiffState {
    /// Not enough bytes yet to tell gzip from plain tar.
    Undecided(Vec<u8>),
    Gzip(Box<flate2::write::GzDecoder<HashSink>>),
    Plain(Box<Hasher>),
    Finished,
}

/// A writer that only hashes.
pub struct HashSink(Hasher);

impl Write for HashSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Where the diff ID appears once the stream has been read to its end.
pub type DiffIdSlot = std::sync::Arc<std::sync::Mutex<Option<Result<Digest, String>>>>;

impl DiffIdTee {
    pub fn new(inner: BlobStream) -> (Self, DiffIdSlot) {
        let result: DiffIdSlot = Default::default();
        (
            DiffIdTee {
                inner,
                state: DiffState::Undecided(Vec::new()),
                result: result.clone(),
            },
            result,
        )
    }
}

impl DiffState {
    fn feed(&mut self, bytes: &[u8]) -> Result<(), String> {
        if let DiffState::Undecided(seen) = self {
            seen.extend_from_slice(bytes);
            // ferry-core's magic bytes decide; the longest is 6 bytes.
            if seen.len() < 6 {
                return Ok(());
            }
            let seen = std::mem::take(seen);
            *self = match Compression::detect(&seen) {
                Some(Compression::Gzip) => {
                    DiffState::Gzip(Box::new(flate2::write::GzDecoder::new(HashSink(
                        Hasher::new(ferry_core::digest::Algorithm::Sha256),
                    ))))
                }
                None => {
                    DiffState::Plain(Box::new(Hasher::new(ferry_core::digest::Algorithm::Sha256)))
                }
                // Hashing the compressed bytes would give a wrong diff ID.
                Some(other) => {
                    return Err(format!(
                        "a {} layer: its diff ID needs decompression ferry does not do yet",
                        other.name()
                    ));
                }
            };
            return self.feed(&seen);
        }
        match self {
            DiffState::Gzip(decoder) => decoder.write_all(bytes).map_err(|e| format!("gzip: {e}")),
            DiffState::Plain(hasher) => {
                hasher.update(bytes);
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn finish(&mut self) -> Result<Digest, String> {
        if let DiffState::Undecided(seen) = self {
            let seen = std::mem::take(seen);
            let mut hasher = Hasher::new(ferry_core::digest::Algorithm::Sha256);
            hasher.update(&seen);
            *self = DiffState::Plain(Box::new(hasher));
        }
        match std::mem::replace(self, DiffState::Finished) {
            DiffState::Gzip(decoder) => decoder
                .finish()
                .map(|sink| sink.0.finish())
                .map_err(|e| format!("gzip: {e}")),
            DiffState::Plain(hasher) => Ok(hasher.finish()),
            _ => Err("diff ID already taken".into()),
        }
    }
}

impl tokio::io::AsyncRead for DiffIdTee {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let (state, result) = (&mut this.state, &this.result);
        poll_read_observed(&mut this.inner, cx, buf, |read| {
            let outcome = if read.is_empty() {
                if matches!(state, DiffState::Finished) {
                    return Ok(());
                }
                Some(state.finish())
            } else {
                state.feed(read).err().map(Err)
            };
            if let Some(outcome) = outcome
                && let Ok(mut slot) = result.lock()
            {
                *slot = Some(outcome);
            }
            Ok(())
        })
    }
}

/// Reads from `stream` into `buf` and, when the read succeeds, hands
/// `observe` what it added (nothing at the end of the stream); an error
/// from `observe` becomes the read's.
pub(crate) fn poll_read_observed(
    stream: &mut BlobStream,
    cx: &mut std::task::Context<'_>,
    buf: &mut tokio::io::ReadBuf<'_>,
    observe: impl FnOnce(&[u8]) -> std::io::Result<()>,
) -> std::task::Poll<std::io::Result<()>> {
    use std::task::Poll;
    let before = buf.filled().len();
    let poll = stream.as_mut().poll_read(cx, buf);
    if let Poll::Ready(Ok(())) = &poll
        && let Err(e) = observe(&buf.filled()[before..])
    {
        return Poll::Ready(Err(e));
    }
    poll
}
