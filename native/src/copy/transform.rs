//! Changing a layer's compression in transit.
//!
//! ferry-core decides what happens to a layer from its first bytes
//! ([`compression::step`]); this module peeks at them ([`peek`]) and
//! carries the step out ([`transform`]). The new bytes' digest is unknown
//! until they are all produced, and destinations verify blobs against a
//! digest given up front, so the transformed layer goes to a scratch file
//! first (hashed as it is written), then to the destination like any
//! other blob.
//!
//! The work runs on a blocking thread while the bytes arrive
//! ([`SyncIoBridge`]), through fixed buffers: memory is bounded whatever
//! the layer's size. zstd compresses large layers on every core
//! (libzstd's own worker threads); gzip is zlib-rs through flate2.
//! Decompression stops at ferry-core's expansion limit
//! ([`compression::within_expansion_limit`]): a layer past it is refused
//! as a decompression bomb, like a corrupt or truncated one, and nothing
//! of it reaches the destination.

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use ferry_core::Digest;
use ferry_core::digest::Hasher;
use ferry_core::plan::compression::{self, Format, Step};
use ferry_core::tar::Compression;
use tokio::io::AsyncReadExt;
use tokio_util::io::SyncIoBridge;

use crate::fs::leftovers::ScratchFile;
use crate::transport::{BlobStream, TransportError, io_error};

/// The longest magic number [`Compression::detect`] knows (xz's).
const MAGIC_LEN: usize = 6;

/// Layers at least this large (as stored at the source) are zstd-compressed
/// on every core: below it, starting libzstd's workers costs more than it
/// saves.
const MULTITHREAD_FROM: u64 = 4 << 20;

/// The input each of libzstd's workers takes at a time. Its default at
/// level 3 (four windows, 8 MiB) keeps several such jobs, in and out, per
/// layer: recompressing the benchmark's amd64 image (a 40 MiB layer and
/// four of 7 MiB) peaked at 63 MiB one layer at a time and 76 MiB six at
/// a time. 1 MiB (libzstd's least) brought that to 36 and 53 MiB, in the
/// same time (2 cores).
const ZSTD_JOB_SIZE: u32 = 1 << 20;

/// Reads the first bytes of `stream` (as many as tell a compression, fewer
/// at its end) and gives them back with the stream, those bytes put back
/// in front.
pub async fn peek(mut stream: BlobStream) -> std::io::Result<(Vec<u8>, BlobStream)> {
    let mut head = Vec::with_capacity(MAGIC_LEN);
    while head.len() < MAGIC_LEN {
        let mut byte = [0u8; MAGIC_LEN];
        let n = stream.read(&mut byte[..MAGIC_LEN - head.len()]).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&byte[..n]);
    }
    let again = AsyncReadExt::chain(std::io::Cursor::new(head.clone()), stream);
    Ok((head, Box::pin(again)))
}

/// A reader of `input`'s decompressed bytes, for layers in `format`.
pub(crate) fn decoder(
    format: Format,
    input: impl Read + 'static,
) -> std::io::Result<Box<dyn Read>> {
    Ok(match format {
        // Go's gzip reader reads every member of a multi-member stream,
        // and so does containers/image.
        Format::Gzip => Box::new(flate2::read::MultiGzDecoder::new(
            std::io::BufReader::with_capacity(256 * 1024, input),
        )),
        Format::Zstd => Box::new(zstd::stream::read::Decoder::new(input)?),
    })
}

/// [`decoder`], stopped with an error at ferry-core's expansion limit
/// ([`compression::within_expansion_limit`]): for readers that have no
/// better way to report it than the error they return.
pub(crate) fn bounded_decoder(
    format: Format,
    input: impl Read + 'static,
) -> std::io::Result<Box<dyn Read>> {
    let read = Arc::new(AtomicU64::new(0));
    let source = Source {
        inner: input,
        read: read.clone(),
        failed: Arc::new(AtomicBool::new(false)),
    };
    Ok(Box::new(Limited {
        inner: decoder(format, source)?,
        compressed: read,
        produced: 0,
        exceeded: Arc::new(AtomicBool::new(false)),
    }))
}

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

/// Counts what is read from the source, and remembers whether the source
/// itself failed (a broken transfer, a digest mismatch) rather than the
/// decoder.
struct Source<R> {
    inner: R,
    read: Arc<AtomicU64>,
    failed: Arc<AtomicBool>,
}

impl<R: Read> Read for Source<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.read.fetch_add(n as u64, Ordering::Relaxed);
                Ok(n)
            }
            Err(e) => {
                self.failed.store(true, Ordering::Relaxed);
                Err(e)
            }
        }
    }
}

/// Decompressed bytes, stopped at the expansion limit.
struct Limited<R> {
    inner: R,
    compressed: Arc<AtomicU64>,
    produced: u64,
    exceeded: Arc<AtomicBool>,
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.produced += n as u64;
        if !compression::within_expansion_limit(
            self.compressed.load(Ordering::Relaxed),
            self.produced,
        ) {
            self.exceeded.store(true, Ordering::Relaxed);
            return Err(std::io::Error::other(
                "the layer expands past ferry's decompression limit (a decompression bomb?)",
            ));
        }
        Ok(n)
    }
}

/// Carries out `step` (not [`Step::Keep`]) over `input` into a scratch
/// file. `stored_size` is the layer's size at the source, when known;
/// `what` names the layer for errors.
pub async fn transform(
    input: BlobStream,
    step: Step,
    stored_size: Option<u64>,
    what: &str,
) -> Result<Transformed, TransportError> {
    let bridge = SyncIoBridge::new(input);
    let what = what.to_string();
    tokio::task::spawn_blocking(move || run(bridge, step, stored_size, &what))
        .await
        .map_err(|e| TransportError::Internal {
            location: "the transform task".into(),
            reason: e.to_string(),
        })?
}

fn run(
    input: impl Read + 'static,
    step: Step,
    stored_size: Option<u64>,
    what: &str,
) -> Result<Transformed, TransportError> {
    let (file, out) = ScratchFile::create("layer")?;
    let hashing = Hashing {
        file: out,
        hasher: Hasher::new(ferry_core::digest::Algorithm::Sha256),
    };
    let read = Arc::new(AtomicU64::new(0));
    let source_failed = Arc::new(AtomicBool::new(false));
    let exceeded = Arc::new(AtomicBool::new(false));
    let source = Source {
        inner: input,
        read: read.clone(),
        failed: source_failed.clone(),
    };
    let (from, to) = match step {
        Step::Keep => (None, None),
        Step::Compress { to, level } => (None, Some((to, level))),
        Step::Decompress { from } => (Some(from), None),
        Step::Recompress { from, to, level } => (Some(from), Some((to, level))),
    };
    let decoded: Box<dyn Read> = match from {
        None => Box::new(source),
        Some(format) => {
            let decoder = decoder(format, source).map_err(io_error(what, "start decompressing"))?;
            Box::new(Limited {
                inner: decoder,
                compressed: read.clone(),
                produced: 0,
                exceeded: exceeded.clone(),
            })
        }
    };
    let sink_failed = Arc::new(AtomicBool::new(false));
    let outcome = pump(decoded, hashing, to, stored_size, &sink_failed);
    let hashing = outcome.map_err(|e| {
        if source_failed.load(Ordering::Relaxed) {
            // The source's own error (a digest or size that does not hold)
            // as it was raised, else the read that failed.
            match e
                .get_ref()
                .is_some_and(|inner| inner.is::<TransportError>())
            {
                true => match e.into_inner().map(|inner| inner.downcast::<TransportError>()) {
                    Some(Ok(error)) => *error,
                    _ => TransportError::Internal {
                        location: what.to_string(),
                        reason: "a source error was lost".into(),
                    },
                },
                false => io_error(what, "read")(e),
            }
        } else if sink_failed.load(Ordering::Relaxed) {
            io_error(file.path(), "write")(e)
        } else if exceeded.load(Ordering::Relaxed) {
            TransportError::Corrupt {
                location: what.to_string(),
                reason: format!(
                    "refused as a decompression bomb: {} compressed bytes expand past {}x plus {} MiB",
                    read.load(Ordering::Relaxed),
                    compression::MAX_EXPANSION,
                    compression::EXPANSION_ALLOWANCE >> 20
                ),
            }
        } else {
            TransportError::Corrupt {
                location: what.to_string(),
                reason: format!(
                    "cannot decompress the layer as {}: {e}",
                    from.map_or("", Format::name)
                ),
            }
        }
    })?;
    let size = hashing.hasher.bytes();
    let digest = hashing.hasher.finish();
    Ok(Transformed { file, digest, size })
}

/// A writer that remembers whether it failed.
struct Sink<'a> {
    inner: Hashing,
    failed: &'a AtomicBool,
}

impl Write for Sink<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.inner.write(buf).inspect_err(|_| {
            self.failed.store(true, Ordering::Relaxed);
        })
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush().inspect_err(|_| {
            self.failed.store(true, Ordering::Relaxed);
        })
    }
}

/// Copies `decoded` into `out`, compressed as `to` says.
fn pump(
    mut decoded: Box<dyn Read>,
    out: Hashing,
    to: Option<(Format, i32)>,
    stored_size: Option<u64>,
    sink_failed: &AtomicBool,
) -> std::io::Result<Hashing> {
    let sink = Sink {
        inner: out,
        failed: sink_failed,
    };
    let mut buffer = vec![0u8; 1 << 20];
    let mut copy = |w: &mut dyn Write| -> std::io::Result<()> {
        loop {
            let n = decoded.read(&mut buffer)?;
            if n == 0 {
                return Ok(());
            }
            w.write_all(&buffer[..n])?;
        }
    };
    let sink = match to {
        None => {
            let mut sink = sink;
            copy(&mut sink)?;
            sink
        }
        Some((Format::Gzip, level)) => {
            let mut encoder =
                flate2::write::GzEncoder::new(sink, flate2::Compression::new(level as u32));
            copy(&mut encoder)?;
            encoder.finish()?
        }
        Some((Format::Zstd, level)) => {
            let mut encoder = zstd::stream::write::Encoder::new(sink, level)?;
            if stored_size.is_none_or(|s| s >= MULTITHREAD_FROM) {
                let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
                encoder.multithread(cores as u32)?;
                encoder.set_parameter(zstd::zstd_safe::CParameter::JobSize(ZSTD_JOB_SIZE))?;
            }
            copy(&mut encoder)?;
            encoder.finish()?
        }
    };
    Ok(sink.inner)
}

/// Computes a layer's diff ID (the sha256 of its uncompressed content)
/// from the bytes as they stream past, so schema 1 images can be converted
/// without reading their layers twice.
pub struct DiffIdTee {
    inner: BlobStream,
    state: DiffState,
    result: DiffIdSlot,
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
pub type DiffIdSlot = Arc<std::sync::Mutex<Option<Result<Digest, String>>>>;

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
