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
//! The work runs on blocking threads while the bytes arrive
//! ([`SyncIoBridge`]), through fixed buffers and bounded channels: memory
//! is bounded whatever the layer's size. A large layer (from
//! [`MULTITHREAD_FROM`]) is a pipeline: one thread reads the source and
//! checks its digest ([`read_ahead`]), one decompresses (a gzip stream
//! inflates on one core only), one compresses and writes the scratch
//! file ([`pipelined`]); zstd gets libzstd's workers on the cores left
//! over (none on 2 cores: the compressing thread is enough), gzip every
//! core ([`gzip_writer`]: gzp's parallel blocks, each deflated by zlib-rs
//! through flate2). Small layers take one thread.
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

/// A gzip encoder into `out` at `level`, for `size` bytes to compress (as
/// stored at the source, when known): one zlib-rs encoder for small
/// inputs, every core for those at least [`MULTITHREAD_FROM`] or of
/// unknown size. Every gzip ferry writes goes through here.
pub(crate) fn gzip_writer<W: Write + Send + 'static>(
    out: W,
    level: u32,
    size: Option<u64>,
) -> GzipWriter<W> {
    let level = flate2::Compression::new(level);
    if size.is_some_and(|s| s < MULTITHREAD_FROM) {
        return GzipWriter::Single(flate2::write::GzEncoder::new(out, level));
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // gzp (pigz's scheme): GZIP_BLOCK bytes at a time, each compressed by
    // one of `cores` threads, written in order as one gzip stream (the
    // blocks end on byte boundaries, the CRC is combined from theirs); at
    // most twice `cores` blocks wait to be compressed and twice `cores` to
    // be written, so memory is bounded by the cores, not the layer.
    let builder = gzp::par::compress::ParCompressBuilder::<gzp::deflate::Gzip>::new()
        .compression_level(level)
        .buffer_size(GZIP_BLOCK)
        .and_then(|b| b.num_threads(cores));
    match builder {
        Ok(builder) => GzipWriter::Parallel(ParallelGzip(Some(builder.from_writer(out)))),
        // Neither can fail (the block is larger than gzp's least, and
        // there is at least one core); one encoder is right anyway.
        Err(_) => GzipWriter::Single(flate2::write::GzEncoder::new(out, level)),
    }
}

/// The input each of gzp's threads compresses at a time. Each block is
/// compressed on its own, without the previous block as dictionary (gzp
/// passes it only with a C zlib), so larger blocks lose less ratio to the
/// restart, but each costs about twice its size in memory, some 5·cores
/// at once per layer, and several layers are compressed at once: 1 MiB
/// blocks took the benchmark image's zstd→gzip (five layers) to 90 MiB
/// peak RSS.
const GZIP_BLOCK: usize = 256 << 10;

/// What [`gzip_writer`] gives.
pub(crate) enum GzipWriter<W: Write + Send + 'static> {
    Single(flate2::write::GzEncoder<W>),
    Parallel(ParallelGzip<W>),
}

/// gzp's encoder, `None` once finished.
pub(crate) struct ParallelGzip<W: Write + Send + 'static>(
    Option<gzp::par::compress::ParCompress<'static, gzp::deflate::Gzip, W>>,
);

impl<W: Write + Send + 'static> GzipWriter<W> {
    /// Ends the gzip stream and gives back the writer it went to.
    pub(crate) fn finish(self) -> std::io::Result<W> {
        match self {
            GzipWriter::Single(encoder) => encoder.finish(),
            GzipWriter::Parallel(mut encoder) => {
                use gzp::ZWriter;
                let mut encoder = encoder.0.take().ok_or_else(finished)?;
                encoder.finish().map_err(from_gzp)
            }
        }
    }
}

fn finished() -> std::io::Error {
    std::io::Error::other("the gzip stream is already finished")
}

/// gzp's error as I/O's: the sink's own error as it was raised.
fn from_gzp(error: gzp::GzpError) -> std::io::Error {
    match error {
        gzp::GzpError::Io(e) => e,
        other => std::io::Error::other(other),
    }
}

impl<W: Write + Send + 'static> ParallelGzip<W> {
    /// `op` on gzp's encoder; after an error gzp has shut its threads down
    /// and its encoder must not be used again (not even finished).
    fn with<T>(
        &mut self,
        op: impl FnOnce(
            &mut gzp::par::compress::ParCompress<'static, gzp::deflate::Gzip, W>,
        ) -> std::io::Result<T>,
    ) -> std::io::Result<T> {
        let outcome = op(self.0.as_mut().ok_or_else(finished)?);
        if outcome.is_err() {
            self.0 = None;
        }
        outcome
    }
}

impl<W: Write + Send + 'static> Write for GzipWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            GzipWriter::Single(encoder) => encoder.write(buf),
            GzipWriter::Parallel(encoder) => encoder.with(|e| e.write(buf)),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            GzipWriter::Single(encoder) => encoder.flush(),
            GzipWriter::Parallel(encoder) => encoder.with(|e| e.flush()),
        }
    }
}

impl<W: Write + Send + 'static> Drop for ParallelGzip<W> {
    /// A stream left unfinished (its input failed): gzp's own drop would
    /// finish it and panic on an error; finish it here and drop the error,
    /// since what was written is thrown away.
    fn drop(&mut self) {
        if let Some(mut encoder) = self.0.take() {
            use gzp::ZWriter;
            let _ = encoder.finish();
        }
    }
}

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
    input: impl Read + Send + 'static,
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
    let (from, to) = match step {
        Step::Keep => (None, None),
        Step::Compress { to, level } => (None, Some((to, level))),
        Step::Decompress { from } => (Some(from), None),
        Step::Recompress { from, to, level } => (Some(from), Some((to, level))),
    };
    // A large layer being decompressed: the decompressing thread is the
    // slowest, so another reads the source (and checks its digest) ahead.
    let input: Box<dyn Read> =
        match from.is_some() && stored_size.is_none_or(|s| s >= MULTITHREAD_FROM) {
            true => Box::new(read_ahead(input).map_err(io_error(what, "start reading"))?),
            false => Box::new(input),
        };
    let source = Source {
        inner: input,
        read: read.clone(),
        failed: source_failed.clone(),
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
    let outcome = pump(
        decoded,
        from.is_some(),
        hashing,
        to,
        stored_size,
        sink_failed.clone(),
    );
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
struct Sink {
    inner: Hashing,
    failed: Arc<AtomicBool>,
}

impl Write for Sink {
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

/// Copies `decoded` into `out`, compressed as `to` says; `inflating`:
/// whether reading `decoded` decompresses.
fn pump(
    mut decoded: Box<dyn Read>,
    inflating: bool,
    out: Hashing,
    to: Option<(Format, i32)>,
    stored_size: Option<u64>,
    sink_failed: Arc<AtomicBool>,
) -> std::io::Result<Hashing> {
    let sink = Sink {
        inner: out,
        failed: sink_failed,
    };
    let Some((format, level)) = to else {
        let mut sink = sink;
        let mut buffer = vec![0u8; CHUNK];
        loop {
            let n = decoded.read(&mut buffer)?;
            if n == 0 {
                return Ok(sink.inner);
            }
            sink.write_all(&buffer[..n])?;
        }
    };
    let large = stored_size.is_none_or(|s| s >= MULTITHREAD_FROM);
    // A decompressing reader keeps a core busy on its own (a gzip stream
    // inflates on one core only): libzstd's workers get the others.
    let reader_cores = if large && inflating { 1 } else { 0 };
    let encoder = Encoder::new(sink, format, level, stored_size, reader_cores)?;
    let sink = if large {
        pipelined(decoded, encoder)?
    } else {
        let mut encoder = encoder;
        let mut buffer = vec![0u8; CHUNK];
        loop {
            let n = decoded.read(&mut buffer)?;
            if n == 0 {
                break;
            }
            encoder.write_all(&buffer[..n])?;
        }
        encoder.finish()?
    };
    Ok(sink.inner)
}

/// What a layer is read and written in. Several layers are transformed at
/// once, each with [`PIPELINE_DEPTH`] + 2 chunks: 1 MiB chunks took the
/// benchmark's recompression (five layers) from 54 to 83 MiB peak RSS.
const CHUNK: usize = 256 << 10;

/// Decoded chunks waiting for the encoder's thread in [`pipelined`].
const PIPELINE_DEPTH: usize = 2;

/// Reads `decoded` on this thread and compresses it into `encoder` on
/// another, chunk by chunk through a bounded channel, so that reading the
/// source (its digest, its decompression) overlaps compressing and
/// writing (the output's digest, the scratch file): on a layer being
/// recompressed each side is about half the work of the thread that did
/// both. At most [`PIPELINE_DEPTH`] + 2 chunks exist at once.
fn pipelined(mut decoded: Box<dyn Read>, mut encoder: Encoder) -> std::io::Result<Sink> {
    let (chunks, received) = std::sync::mpsc::sync_channel::<Vec<u8>>(PIPELINE_DEPTH);
    let (spent, reusable) = std::sync::mpsc::channel::<Vec<u8>>();
    let compressing = std::thread::Builder::new()
        .name("ferry-compress".into())
        .spawn(move || {
            for chunk in received {
                encoder.write_all(&chunk)?;
                // The reader may be gone (it failed): the chunk is dropped.
                let _ = spent.send(chunk);
            }
            encoder.finish()
        })?;
    let fed = (|| -> std::io::Result<()> {
        loop {
            // A new chunk only when every other one is on its way: the
            // channel's bound bounds them all.
            let mut chunk = reusable.try_recv().unwrap_or_default();
            chunk.resize(CHUNK, 0);
            let n = read_full(&mut decoded, &mut chunk)?;
            if n == 0 {
                return Ok(());
            }
            chunk.truncate(n);
            if chunks.send(chunk).is_err() {
                // The encoder stopped on an error, which joining gives.
                return Ok(());
            }
        }
    })();
    // Ends the encoder's input; after a read error what it finishes is
    // thrown away with the scratch file.
    drop(chunks);
    let encoded = compressing
        .join()
        .unwrap_or_else(|_| Err(std::io::Error::other("the compressing thread panicked")));
    fed?;
    encoded
}

/// A reader of `input` whose reads are made on a thread of their own,
/// [`PIPELINE_DEPTH`] chunks ahead; the thread stops when the reader is
/// dropped. An error is passed on as it was raised.
fn read_ahead(mut input: impl Read + Send + 'static) -> std::io::Result<ReadAhead> {
    let (chunks, received) = std::sync::mpsc::sync_channel(PIPELINE_DEPTH);
    let (spent, reusable) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::Builder::new()
        .name("ferry-read".into())
        .spawn(move || {
            loop {
                let mut chunk = reusable.try_recv().unwrap_or_default();
                chunk.resize(CHUNK, 0);
                let outcome = read_full(&mut input, &mut chunk).map(|n| {
                    chunk.truncate(n);
                    chunk
                });
                let last = !matches!(&outcome, Ok(chunk) if !chunk.is_empty());
                if chunks.send(outcome).is_err() || last {
                    return;
                }
            }
        })?;
    Ok(ReadAhead {
        received,
        spent,
        current: Vec::new(),
        at: 0,
        ended: false,
    })
}

struct ReadAhead {
    received: std::sync::mpsc::Receiver<std::io::Result<Vec<u8>>>,
    spent: std::sync::mpsc::Sender<Vec<u8>>,
    current: Vec<u8>,
    at: usize,
    ended: bool,
}

impl Read for ReadAhead {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.at == self.current.len() {
            if self.ended {
                return Ok(0);
            }
            let next = match self.received.recv() {
                Ok(next) => next,
                Err(_) => Err(std::io::Error::other("the reading thread stopped")),
            };
            let next = next.inspect_err(|_| self.ended = true)?;
            if next.is_empty() {
                self.ended = true;
                return Ok(0);
            }
            let spent = std::mem::replace(&mut self.current, next);
            let _ = self.spent.send(spent);
            self.at = 0;
        }
        let n = buf.len().min(self.current.len() - self.at);
        buf[..n].copy_from_slice(&self.current[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Reads into `buf` until it is full or `from` ends; how much it read.
fn read_full(from: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match from.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// A compressing writer into a [`Sink`].
enum Encoder {
    Gzip(GzipWriter<Sink>),
    Zstd(zstd::stream::write::Encoder<'static, Sink>),
}

impl Encoder {
    /// `format` at `level` over `sink`, on every core for layers of at
    /// least [`MULTITHREAD_FROM`] (`stored_size`, as stored at the source)
    /// or of unknown size, less `reader_cores` left to the reader.
    fn new(
        sink: Sink,
        format: Format,
        level: i32,
        stored_size: Option<u64>,
        reader_cores: usize,
    ) -> std::io::Result<Encoder> {
        Ok(match format {
            Format::Gzip => Encoder::Gzip(gzip_writer(sink, level as u32, stored_size)),
            Format::Zstd => {
                let mut encoder = zstd::stream::write::Encoder::new(sink, level)?;
                let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
                let workers = cores.saturating_sub(reader_cores);
                // One worker would only move the work off the thread that
                // already has it to itself, at the price of libzstd's job
                // buffers.
                if stored_size.is_none_or(|s| s >= MULTITHREAD_FROM) && workers > 1 {
                    encoder.multithread(workers as u32)?;
                    encoder.set_parameter(zstd::zstd_safe::CParameter::JobSize(ZSTD_JOB_SIZE))?;
                }
                Encoder::Zstd(encoder)
            }
        })
    }

    fn finish(self) -> std::io::Result<Sink> {
        match self {
            Encoder::Gzip(encoder) => encoder.finish(),
            Encoder::Zstd(encoder) => encoder.finish(),
        }
    }
}

impl Write for Encoder {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Encoder::Gzip(encoder) => encoder.write(buf),
            Encoder::Zstd(encoder) => encoder.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Encoder::Gzip(encoder) => encoder.flush(),
            Encoder::Zstd(encoder) => encoder.flush(),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// `data` through [`gzip_writer`], told it is `size` bytes.
    fn gzipped(data: &[u8], size: Option<u64>) -> (bool, Vec<u8>) {
        let mut writer = gzip_writer(Vec::new(), 6, size);
        let parallel = matches!(writer, GzipWriter::Parallel(_));
        writer.write_all(data).unwrap();
        (parallel, writer.finish().unwrap())
    }

    /// Compressible bytes: words of a small alphabet from a seed.
    fn text(len: usize) -> Vec<u8> {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                b"abcdefgh \n"[(x % 10) as usize]
            })
            .collect()
    }

    /// The one gzip member `gz` holds, refusing anything after it.
    fn gunzip_one_member(gz: &[u8]) -> Vec<u8> {
        let mut rest = gz;
        let mut out = Vec::new();
        flate2::bufread::GzDecoder::new(&mut rest)
            .read_to_end(&mut out)
            .unwrap();
        assert!(
            rest.is_empty(),
            "{} bytes after the gzip member",
            rest.len()
        );
        out
    }

    #[test]
    fn layers_from_the_multithread_size_or_of_unknown_size_are_gzipped_on_every_core() {
        let data = text(3 << 20);
        for size in [Some(MULTITHREAD_FROM), None] {
            let (parallel, gz) = gzipped(&data, size);
            assert!(parallel, "{size:?}");
            assert_eq!(gunzip_one_member(&gz), data);
        }
    }

    #[test]
    fn small_layers_keep_one_gzip_encoder() {
        let data = text(64 << 10);
        let (parallel, gz) = gzipped(&data, Some(MULTITHREAD_FROM - 1));
        assert!(!parallel);
        assert_eq!(gunzip_one_member(&gz), data);
    }

    /// A sink that refuses every byte.
    struct Full;

    impl Write for Full {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::new(std::io::ErrorKind::StorageFull, "full"))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_parallel_gzip_left_unfinished_is_dropped_without_panicking_on_its_sink_error() {
        let mut writer = gzip_writer(Full, 6, None);
        writer.write_all(&text(64 << 10)).unwrap();
        drop(writer);
    }

    #[test]
    fn a_sink_error_at_the_end_is_reported_by_the_parallel_gzip() {
        let mut writer = gzip_writer(Full, 6, None);
        writer.write_all(&text(64 << 10)).unwrap();
        let Err(error) = writer.finish() else {
            panic!("the sink refused every byte")
        };
        assert_eq!(error.kind(), std::io::ErrorKind::StorageFull);
    }

    /// A zstd encoder into a scratch file, as [`pump`] makes it for a large
    /// layer.
    fn zstd_into_scratch() -> (std::fs::File, Encoder) {
        let file = tempfile::tempfile().unwrap();
        let sink = Sink {
            inner: Hashing {
                file: file.try_clone().unwrap(),
                hasher: Hasher::new(ferry_core::digest::Algorithm::Sha256),
            },
            failed: Arc::new(AtomicBool::new(false)),
        };
        (file, Encoder::new(sink, Format::Zstd, 3, None, 0).unwrap())
    }

    #[test]
    fn a_large_layer_read_on_one_thread_and_compressed_on_another_keeps_its_bytes() {
        use std::io::Seek as _;
        let data = text(5 << 20);
        let (mut file, encoder) = zstd_into_scratch();
        let sink = pipelined(Box::new(std::io::Cursor::new(data.clone())), encoder).unwrap();
        assert_eq!(sink.inner.hasher.bytes(), file.metadata().unwrap().len());
        file.rewind().unwrap();
        assert_eq!(zstd::stream::decode_all(file).unwrap(), data);
    }

    #[test]
    fn a_read_error_midway_through_a_pipelined_layer_is_its_error() {
        let failing = Read::chain(std::io::Cursor::new(text(3 << 20)), FailingRead);
        let (_file, encoder) = zstd_into_scratch();
        let Err(error) = pipelined(Box::new(failing), encoder) else {
            panic!("the input failed");
        };
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
    }

    #[test]
    fn reading_ahead_gives_the_same_bytes() {
        let data = text((3 << 20) + 17);
        let mut out = Vec::new();
        read_ahead(std::io::Cursor::new(data.clone()))
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, data);
    }

    #[test]
    fn reading_ahead_passes_on_the_sources_error_after_its_bytes() {
        let failing = Read::chain(std::io::Cursor::new(text(1 << 20)), FailingRead);
        let mut ahead = read_ahead(failing).unwrap();
        let mut out = Vec::new();
        let error = ahead.read_to_end(&mut out).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
        assert_eq!(out, text(1 << 20));
    }

    /// A reader that fails as a corrupt stream does.
    struct FailingRead;

    impl Read for FailingRead {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "corrupt",
            ))
        }
    }

    #[test]
    fn a_failing_sink_is_reported_by_the_parallel_gzip() {
        let mut writer = gzip_writer(Full, 6, None);
        let outcome = writer
            .write_all(&text(4 << 20))
            .and_then(|_| writer.finish().map(|_| ()));
        assert_eq!(outcome.unwrap_err().kind(), std::io::ErrorKind::StorageFull);
    }
}
