//! Tar archives read in place and written reproducibly, for `oci-archive:`
//! and `docker-archive:`.
//!
//! ferry never extracts an archive it reads. [`TarArchive::open`] walks
//! the headers once, records where each regular file's data starts and how
//! long it is, and an entry is later served by seeking into the file. So
//! no name from the archive ever becomes a path on disk; names are still
//! held to what a safe extractor would demand (relative, no `..`, links
//! that stay inside, no devices, no duplicates), because an archive that
//! breaks those rules is broken or hostile, and other tools reading it
//! would see different content than ferry does.
//!
//! Headers are parsed here rather than by the `tar` crate's reader, which
//! reads GNU long names and PAX records into memory with no bound and
//! leaves truncation after the last entry unnoticed when it seeks. Every
//! allocation here is bounded by [`Limits`]. The `tar` crate still writes
//! archives ([`write_archive`]).
//!
//! A gzip-compressed archive (`docker save | gzip`) cannot be seeked into,
//! so it is decompressed once into a temporary file, in a locked staging
//! directory ([`StagingDir`]) removed when the [`TarArchive`] is
//! dropped, or swept by the next archive copy if ferry was killed; decompression stops at
//! [`Limits::max_decompressed_size`] so a small bomb cannot fill the disk.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferry_core::Digest;
use ferry_core::digest::{Algorithm, Hasher};
use ferry_core::tar::{self as rules, Compression, Format, MemberError};
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::{BlobStream, TransportError, io_error};
use crate::fs::leftovers;
use crate::fs::staging::{self, StagingDir};

/// Most entries an archive may have. An image has a handful; a `docker
/// save` of many images a few thousand.
pub const MAX_ENTRIES: usize = 100_000;
/// Longest entry or link name accepted, in bytes: Linux's `PATH_MAX`.
pub const MAX_NAME_LEN: usize = 4096;
/// Most bytes a compressed archive may decompress to. Far above any real
/// image, far below what a gzip bomb of a few megabytes expands to.
pub const MAX_DECOMPRESSED_SIZE: u64 = 64 << 30;
/// Largest PAX extended header: a path, a link path, a size and some
/// times and extended attributes fit many times over.
const MAX_PAX_SIZE: u64 = 1 << 20;
const BLOCK: u64 = 512;
/// Read size for hashing and decompressing.
const CHUNK: usize = 256 * 1024;

/// Bounds on what reading an archive may cost. Tests lower them to check
/// that they hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_entries: usize,
    pub max_name_len: usize,
    pub max_decompressed_size: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entries: MAX_ENTRIES,
            max_name_len: MAX_NAME_LEN,
            max_decompressed_size: MAX_DECOMPRESSED_SIZE,
        }
    }
}

/// Where a regular file's data lies in the (decompressed) archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Span {
    pub offset: u64,
    pub size: u64,
}

/// What hashing an entry found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryDigest {
    pub digest: Digest,
    pub size: u64,
    /// Whether the content starts with the gzip magic bytes
    /// ([`Compression::detect`]).
    pub gzip: bool,
}

/// An indexed tar archive. Cheap to clone; the temporary file of a
/// compressed archive lives until the last clone is dropped.
#[derive(Debug, Clone)]
pub struct TarArchive {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// The archive as the user named it, for messages.
    path: PathBuf,
    /// The decompressed copy, when the archive is compressed.
    decompressed: Option<Decompressed>,
    /// Regular files by normalised name, links already resolved.
    files: BTreeMap<String, Span>,
}

impl Inner {
    fn data_path(&self) -> &Path {
        self.decompressed.as_ref().map_or(&self.path, |d| &d.path)
    }
}

impl TarArchive {
    /// Indexes the archive at `path`, refusing anything hostile.
    pub async fn open(path: &Path, limits: Limits) -> Result<Self, TransportError> {
        let owned = path.to_path_buf();
        let inner = tokio::task::spawn_blocking(move || index(owned, &limits))
            .await
            .map_err(|e| io_error(path, "index archive")(std::io::Error::other(e)))??;
        Ok(TarArchive {
            inner: Arc::new(inner),
        })
    }

    /// The archive's path as given.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// `<archive>: <entry>`, the location errors about an entry carry.
    pub fn location(&self, name: &str) -> String {
        format!("{}: {name}", self.inner.path.display())
    }

    /// The regular file called `name` (`./` prefixes and the like
    /// ignored), following links.
    pub fn get(&self, name: &str) -> Option<Span> {
        let name = rules::normalise(name).ok()?;
        self.inner.files.get(&name).copied()
    }

    /// Names of the regular files (and links to them), sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.inner.files.keys().map(String::as_str)
    }

    fn require(&self, name: &str) -> Result<Span, TransportError> {
        self.get(name).ok_or_else(|| TransportError::NotFound {
            what: format!("file {name:?}"),
            location: self.inner.path.display().to_string(),
        })
    }

    /// An entry's content as a stream, and its size.
    pub async fn stream(&self, name: &str) -> Result<(BlobStream, u64), TransportError> {
        let span = self.require(name)?;
        let path = self.inner.data_path();
        let mut file = tokio::fs::File::open(path)
            .await
            .map_err(io_error(path, "open"))?;
        file.seek(SeekFrom::Start(span.offset))
            .await
            .map_err(io_error(path, "seek in"))?;
        // The stream keeps the file open, so a decompressed copy stays
        // readable even if the archive is dropped first (Unix semantics).
        Ok((Box::pin(file.take(span.size)), span.size))
    }

    /// Blob `digest`, kept as member `name` (`None`: the archive has no
    /// such blob, which is named as missing from `location`).
    pub async fn blob(
        &self,
        name: Option<&str>,
        digest: &Digest,
        location: String,
    ) -> Result<(BlobStream, Option<u64>), TransportError> {
        let name = name.ok_or_else(|| TransportError::NotFound {
            what: format!("blob {digest}"),
            location,
        })?;
        let (stream, size) = self.stream(name).await?;
        Ok((stream, Some(size)))
    }

    /// A whole small entry (a manifest, `index.json`), refused if it is over
    /// `limit` bytes so a hostile archive cannot make ferry allocate
    /// gigabytes.
    pub async fn read(&self, name: &str, limit: usize) -> Result<Vec<u8>, TransportError> {
        let span = self.require(name)?;
        if span.size > limit as u64 {
            return Err(TransportError::Malformed {
                location: self.location(name),
                reason: format!("{} bytes, over the {limit}-byte limit", span.size),
            });
        }
        let (mut stream, _) = self.stream(name).await?;
        let mut bytes = Vec::with_capacity(span.size as usize);
        stream
            .read_to_end(&mut bytes)
            .await
            .map_err(io_error(self.inner.data_path(), "read"))?;
        if bytes.len() as u64 != span.size {
            return Err(TransportError::Malformed {
                location: self.location(name),
                reason: format!(
                    "archive changed while being read: {} of {} bytes",
                    bytes.len(),
                    span.size
                ),
            });
        }
        Ok(bytes)
    }

    /// [`read`](Self::read) of the entry that marks the archive's format
    /// (`manifest.json`, `oci-layout`): when it is missing, the error says
    /// the file may not be `format` at all.
    pub async fn read_marker(
        &self,
        name: &str,
        limit: usize,
        format: &str,
    ) -> Result<Vec<u8>, TransportError> {
        self.read(name, limit).await.map_err(|e| match e {
            TransportError::NotFound { location, .. } => TransportError::NotFound {
                what: format!("{name} (is this {format}?)"),
                location,
            },
            other => other,
        })
    }

    /// sha256 digests of entries, streamed (never held whole), in the
    /// order given.
    pub async fn digest(&self, names: Vec<String>) -> Result<Vec<EntryDigest>, TransportError> {
        let spans = names
            .iter()
            .map(|n| self.require(n).map(|s| (n.clone(), s)))
            .collect::<Result<Vec<_>, _>>()?;
        let this = self.clone();
        let path = self.inner.path.clone();
        tokio::task::spawn_blocking(move || this.digest_blocking(&spans))
            .await
            .map_err(|e| io_error(path, "hash archive entries of")(std::io::Error::other(e)))?
    }

    fn digest_blocking(
        &self,
        spans: &[(String, Span)],
    ) -> Result<Vec<EntryDigest>, TransportError> {
        let path = self.inner.data_path();
        let mut file = std::fs::File::open(path).map_err(io_error(path, "open"))?;
        // Links make one span appear under several names; hash it once.
        let mut done: HashMap<Span, EntryDigest> = HashMap::new();
        let mut out = Vec::with_capacity(spans.len());
        let mut buffer = vec![0u8; CHUNK];
        for (name, span) in spans {
            if let Some(d) = done.get(span) {
                out.push(d.clone());
                continue;
            }
            file.seek(SeekFrom::Start(span.offset))
                .map_err(io_error(path, "seek in"))?;
            let mut reader = (&mut file).take(span.size);
            let mut hasher = Hasher::new(Algorithm::Sha256);
            let mut head = Vec::with_capacity(MAGIC_LEN);
            loop {
                let n = reader.read(&mut buffer).map_err(io_error(path, "read"))?;
                if n == 0 {
                    break;
                }
                if head.len() < MAGIC_LEN {
                    let want = (MAGIC_LEN - head.len()).min(n);
                    head.extend_from_slice(&buffer[..want]);
                }
                hasher.update(&buffer[..n]);
            }
            if hasher.bytes() != span.size {
                return Err(TransportError::Malformed {
                    location: self.location(name),
                    reason: format!(
                        "archive changed while being read: {} of {} bytes",
                        hasher.bytes(),
                        span.size
                    ),
                });
            }
            let d = EntryDigest {
                digest: hasher.finish(),
                size: span.size,
                gzip: Compression::detect(&head) == Some(Compression::Gzip),
            };
            done.insert(*span, d.clone());
            out.push(d);
        }
        Ok(out)
    }
}

/// Bytes enough for any magic number [`Compression::detect`] knows.
const MAGIC_LEN: usize = 6;

fn index(path: PathBuf, limits: &Limits) -> Result<Inner, TransportError> {
    let mut file = std::fs::File::open(&path).map_err(io_error(&path, "open archive"))?;
    let mut head = tar::Header::new_old();
    let n = read_up_to(&mut file, head.as_mut_bytes()).map_err(io_error(&path, "read"))?;
    // Anything neither tar nor compressed is read as a tar, which then
    // fails naming its first header.
    let decompressed = match rules::sniff(&head.as_bytes()[..n]) {
        Format::Tar | Format::Unknown => None,
        Format::Compressed(Compression::Gzip) => {
            file.seek(SeekFrom::Start(0))
                .map_err(io_error(&path, "seek in"))?;
            Some(decompress(file, &path, limits.max_decompressed_size)?)
        }
        Format::Compressed(other) => {
            return Err(TransportError::Unsupported {
                location: path.display().to_string(),
                reason: format!(
                    "the archive is {}-compressed; ferry reads plain and gzip-compressed archives only (decompress it first)",
                    other.name()
                ),
            });
        }
    };
    let data_path = decompressed.as_ref().map_or(&path, |d| &d.path);
    let mut data = std::fs::File::open(data_path).map_err(io_error(data_path, "open"))?;
    let len = data.metadata().map_err(io_error(data_path, "stat"))?.len();
    let files = Scanner {
        file: &mut data,
        len,
        archive: &path,
        data_path,
        limits,
    }
    .scan()?;
    Ok(Inner {
        path,
        decompressed,
        files,
    })
}

fn read_up_to(file: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// A compressed archive's decompressed copy; the staging directory (and
/// the copy in it) goes when this is dropped.
#[derive(Debug)]
struct Decompressed {
    path: PathBuf,
    _staging: StagingDir,
}

/// Decompresses a gzip archive into a temporary file, counting bytes and
/// stopping at `limit`. Multi-member gzip is read whole, as Go's reader
/// does.
fn decompress(
    file: std::fs::File,
    archive: &Path,
    limit: u64,
) -> Result<Decompressed, TransportError> {
    let staging = StagingDir::create_blocking(&staging::big_temp_dir())?;
    let temp = staging.path().join("archive.tar");
    let out = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temp)
        .map_err(io_error(&temp, "create"))?;
    let mut writer = BufWriter::with_capacity(CHUNK, out);
    let mut decoder = flate2::read::MultiGzDecoder::new(BufReader::with_capacity(CHUNK, file));
    let mut buffer = vec![0u8; CHUNK];
    let mut total: u64 = 0;
    loop {
        let n = match decoder.read(&mut buffer) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::InvalidData
                        | std::io::ErrorKind::InvalidInput
                        | std::io::ErrorKind::UnexpectedEof
                ) =>
            {
                return Err(TransportError::Malformed {
                    location: archive.display().to_string(),
                    reason: format!("corrupt gzip data: {e}"),
                });
            }
            Err(e) => return Err(io_error(archive, "read")(e)),
        };
        if n == 0 {
            break;
        }
        total += n as u64;
        if total > limit {
            return Err(TransportError::Malformed {
                location: archive.display().to_string(),
                reason: format!(
                    "decompresses to more than {limit} bytes; refusing it as a possible decompression bomb"
                ),
            });
        }
        writer
            .write_all(&buffer[..n])
            .map_err(io_error(&temp, "write"))?;
    }
    writer.flush().map_err(io_error(&temp, "write"))?;
    Ok(Decompressed {
        path: temp,
        _staging: staging,
    })
}

/// Extension headers seen since the last real entry; they describe the
/// next one.
#[derive(Debug, Default)]
struct Pending {
    long_name: Option<Vec<u8>>,
    long_link: Option<Vec<u8>>,
    pax: Option<Pax>,
}

#[derive(Debug, Default)]
struct Pax {
    path: Option<Vec<u8>>,
    link: Option<Vec<u8>>,
    size: Option<u64>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.long_name.is_none() && self.long_link.is_none() && self.pax.is_none()
    }
}

struct Scanner<'a> {
    file: &'a mut std::fs::File,
    len: u64,
    archive: &'a Path,
    data_path: &'a Path,
    limits: &'a Limits,
}

impl Scanner<'_> {
    fn malformed(&self, name: &str, reason: impl Into<String>) -> TransportError {
        TransportError::Malformed {
            location: format!("{}: {name}", self.archive.display()),
            reason: reason.into(),
        }
    }

    fn refused(&self, e: MemberError) -> TransportError {
        self.malformed(&e.name, e.reason.to_string())
    }

    fn at_offset(&self, offset: u64, reason: impl Into<String>) -> TransportError {
        self.malformed(&format!("offset {offset}"), reason)
    }

    fn scan(mut self) -> Result<BTreeMap<String, Span>, TransportError> {
        // Name, type, link target and data of each real entry, in order.
        let mut read: Vec<(String, u8, String, Span)> = Vec::new();
        let mut pending = Pending::default();
        let mut entries = 0usize;
        let mut pos = 0u64;
        loop {
            // Go's archive/tar and GNU tar take a clean end of file at a
            // block boundary as the end, with or without the zero blocks.
            if pos == self.len {
                break;
            }
            if self.len - pos < BLOCK {
                let reason = if pos == 0 {
                    "not a tar archive: shorter than one 512-byte header".to_string()
                } else {
                    format!(
                        "truncated archive: it ends {} bytes into a 512-byte header",
                        self.len - pos
                    )
                };
                return Err(self.at_offset(pos, reason));
            }
            let mut header = tar::Header::new_old();
            self.file
                .seek(SeekFrom::Start(pos))
                .and_then(|_| self.file.read_exact(header.as_mut_bytes()))
                .map_err(io_error(self.data_path, "read"))?;
            if header.as_bytes().iter().all(|b| *b == 0) {
                break;
            }
            self.check_checksum(&header, pos)?;
            let raw_name = String::from_utf8_lossy(&header.path_bytes()).into_owned();
            let type_byte = header.entry_type().as_byte();
            let is_extension = matches!(type_byte, b'L' | b'K' | b'x' | b'g');
            let header_size = header
                .entry_size()
                .map_err(|e| self.malformed(&raw_name, format!("bad size field: {e}")))?;
            // A PAX size overrides the header's; readers that disagree on
            // this see different files in the same archive.
            let size = match (&pending.pax, is_extension) {
                (Some(Pax { size: Some(s), .. }), false) => *s,
                _ => header_size,
            };
            let data = pos + BLOCK;
            let end = data.checked_add(size).filter(|end| *end <= self.len);
            let Some(end) = end else {
                return Err(self.malformed(
                    &raw_name,
                    format!(
                        "truncated archive: the header says {size} bytes follow, but the archive ends {} bytes later",
                        self.len - data
                    ),
                ));
            };
            pos = end.div_ceil(BLOCK) * BLOCK;
            match type_byte {
                b'L' | b'K' => {
                    let slot = if type_byte == b'L' {
                        &mut pending.long_name
                    } else {
                        &mut pending.long_link
                    };
                    if slot.is_some() {
                        return Err(
                            self.at_offset(data - BLOCK, "two GNU long-name headers for one entry")
                        );
                    }
                    // GNU counts the terminating NUL.
                    if size > self.limits.max_name_len as u64 + 1 {
                        return Err(self.at_offset(
                            data - BLOCK,
                            format!(
                                "GNU long name of {size} bytes, over the {}-byte limit",
                                self.limits.max_name_len
                            ),
                        ));
                    }
                    let mut bytes = self.read_data(data, size)?;
                    while bytes.last() == Some(&0) {
                        bytes.pop();
                    }
                    *slot = Some(bytes);
                }
                b'x' | b'g' => {
                    if size > MAX_PAX_SIZE {
                        return Err(self.at_offset(
                            data - BLOCK,
                            format!(
                                "PAX header of {size} bytes, over the {MAX_PAX_SIZE}-byte limit"
                            ),
                        ));
                    }
                    let bytes = self.read_data(data, size)?;
                    let pax = self.parse_pax(&bytes, data - BLOCK)?;
                    if type_byte == b'g' {
                        // Global records would change how every later entry
                        // reads; readers disagree on whether they do.
                        if pax.path.is_some() || pax.link.is_some() || pax.size.is_some() {
                            return Err(self.at_offset(
                                data - BLOCK,
                                "global PAX header sets a path, link or size, which readers apply inconsistently",
                            ));
                        }
                    } else if pending.pax.is_some() {
                        return Err(self.at_offset(data - BLOCK, "two PAX headers for one entry"));
                    } else {
                        pending.pax = Some(pax);
                    }
                }
                _ => {
                    entries += 1;
                    if entries > self.limits.max_entries {
                        return Err(self.malformed(
                            &raw_name,
                            format!("more than {} entries", self.limits.max_entries),
                        ));
                    }
                    let pending = std::mem::take(&mut pending);
                    let (pax_path, pax_link) = match pending.pax {
                        Some(p) => (p.path, p.link),
                        None => (None, None),
                    };
                    let name_bytes = pax_path
                        .or(pending.long_name)
                        .unwrap_or_else(|| header.path_bytes().into_owned());
                    let link_bytes = pax_link
                        .or(pending.long_link)
                        .or_else(|| header.link_name_bytes().map(|b| b.into_owned()));
                    let name = self.text(&name_bytes, "name")?;
                    let link = if matches!(type_byte, b'1' | b'2') {
                        self.text(&link_bytes.unwrap_or_default(), "link target")?
                    } else {
                        String::new()
                    };
                    read.push((name, type_byte, link, Span { offset: data, size }));
                }
            }
        }
        if !pending.is_empty() {
            return Err(self.at_offset(pos, "extension header at the end, describing no entry"));
        }
        let members: Vec<rules::Member<'_>> = read
            .iter()
            .map(|(name, typeflag, link, _)| rules::Member {
                name,
                typeflag: *typeflag,
                link,
            })
            .collect();
        let files = rules::files(&members).map_err(|e| self.refused(e))?;
        Ok(files
            .into_iter()
            .map(|f| (f.name, read[f.member].3))
            .collect())
    }

    /// Refuses a block whose checksum does not hold: at the start the file
    /// is no tar at all; later, a header is corrupt.
    fn check_checksum(&self, header: &tar::Header, pos: u64) -> Result<(), TransportError> {
        let what = if pos == 0 {
            "not a tar archive"
        } else {
            "corrupt tar header"
        };
        if rules::checksum_matches(header.as_bytes()) {
            Ok(())
        } else {
            Err(self.at_offset(pos, format!("{what}: checksum mismatch")))
        }
    }

    fn read_data(&mut self, offset: u64, size: u64) -> Result<Vec<u8>, TransportError> {
        let mut bytes = vec![0u8; size as usize];
        self.file
            .seek(SeekFrom::Start(offset))
            .and_then(|_| self.file.read_exact(&mut bytes))
            .map_err(io_error(self.data_path, "read"))?;
        Ok(bytes)
    }

    fn parse_pax(&self, bytes: &[u8], pos: u64) -> Result<Pax, TransportError> {
        let mut pax = Pax::default();
        for record in tar::PaxExtensions::new(bytes) {
            let record = record.map_err(|e| self.at_offset(pos, format!("bad PAX header: {e}")))?;
            let key = record
                .key()
                .map_err(|_| self.at_offset(pos, "bad PAX header: key is not UTF-8"))?;
            let value = record.value_bytes();
            match key {
                "path" => pax.path = Some(self.bounded_name(value, pos)?),
                "linkpath" => pax.link = Some(self.bounded_name(value, pos)?),
                "size" => {
                    let size = std::str::from_utf8(value)
                        .ok()
                        .and_then(|v| v.parse::<u64>().ok())
                        .ok_or_else(|| {
                            self.at_offset(pos, "bad PAX header: size is not a number")
                        })?;
                    pax.size = Some(size);
                }
                k if k.starts_with("GNU.sparse.") => {
                    return Err(
                        self.at_offset(pos, "sparse files are not supported in image archives")
                    );
                }
                _ => {}
            }
        }
        Ok(pax)
    }

    fn bounded_name(&self, value: &[u8], pos: u64) -> Result<Vec<u8>, TransportError> {
        if value.len() > self.limits.max_name_len {
            return Err(self.at_offset(
                pos,
                format!(
                    "name of {} bytes, over the {}-byte limit",
                    value.len(),
                    self.limits.max_name_len
                ),
            ));
        }
        Ok(value.to_vec())
    }

    fn text(&self, bytes: &[u8], what: &str) -> Result<String, TransportError> {
        let lossy = String::from_utf8_lossy(bytes);
        if bytes.len() > self.limits.max_name_len {
            return Err(self.malformed(
                &lossy,
                format!(
                    "{what} of {} bytes, over the {}-byte limit",
                    bytes.len(),
                    self.limits.max_name_len
                ),
            ));
        }
        String::from_utf8(bytes.to_vec())
            .map_err(|_| self.malformed(&lossy, format!("{what} is not UTF-8")))
    }
}

/// One member of an archive being written.
#[derive(Debug)]
pub enum Member {
    /// A directory; the name has no trailing slash.
    Dir(String),
    /// A regular file copied from disk.
    File { name: String, source: PathBuf },
    /// A regular file from memory.
    Bytes { name: String, bytes: Vec<u8> },
}

/// Writes `members`, in order, as a tar at `target`: to a temporary name
/// beside it first, renamed into place when complete, so `target` is
/// either the old file or the whole new archive. Headers carry nothing
/// of the machine or the moment (mtime 0, owner 0:0 without names, modes
/// 0644 and 0755), so the same image always gives the same bytes.
pub async fn write_archive(target: &Path, members: Vec<Member>) -> Result<(), TransportError> {
    let owned = target.to_path_buf();
    tokio::task::spawn_blocking(move || write_archive_blocking(&owned, members))
        .await
        .map_err(|e| io_error(target, "write archive")(std::io::Error::other(e)))?
}

/// Removes a temporary file on drop unless disarmed.
struct RemoveOnDrop(Option<PathBuf>);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn write_archive_blocking(target: &Path, members: Vec<Member>) -> Result<(), TransportError> {
    // Locked while it is written, so a later copy to the same target can
    // tell a dead ferry's partial archive from a live one's
    // ([`leftovers::sweep_partial_files`]); the lock outlives the tar writer's
    // handle until the rename below.
    let leftovers::LockedTemp {
        path: temp,
        file,
        lock,
    } = leftovers::create_locked(target)?;
    let mut guard = RemoveOnDrop(Some(temp.clone()));
    let owner =
        std::os::unix::fs::MetadataExt::uid(&file.metadata().map_err(io_error(&temp, "stat"))?);
    leftovers::sweep_partial_files(target, owner, &temp);
    let file = write_members(file, members, &temp)?;
    // The archive is what the user keeps: on the disk before it takes its
    // name, and the name on the disk before the copy reports success.
    file.sync_all().map_err(io_error(&temp, "sync"))?;
    drop(file);
    std::fs::rename(&temp, target).map_err(io_error(target, "rename into place"))?;
    guard.0 = None;
    let parent = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::File::open(parent)
        .and_then(|d| d.sync_all())
        .map_err(io_error(parent, "sync directory"))?;
    drop(lock);
    Ok(())
}

/// Writes `members`, in order, as a tar into `writer`, with the headers
/// [`write_archive`] describes, and hands the writer back. `location`
/// names the destination in errors. The one tar writer of both archive
/// files and the stream `docker-daemon:` sends.
pub fn write_members<W: Write>(
    writer: W,
    members: Vec<Member>,
    location: &Path,
) -> Result<W, TransportError> {
    let mut builder = tar::Builder::new(BufWriter::with_capacity(CHUNK, writer));
    for member in members {
        let mut header = tar::Header::new_ustar();
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        match member {
            Member::Dir(name) => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(0o755);
                header.set_size(0);
                builder
                    .append_data(&mut header, format!("{name}/"), std::io::empty())
                    .map_err(io_error(location, "write"))?;
            }
            Member::File { name, source } => {
                let file = std::fs::File::open(&source).map_err(io_error(&source, "open"))?;
                let size = file.metadata().map_err(io_error(&source, "stat"))?.len();
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(0o644);
                header.set_size(size);
                builder
                    .append_data(&mut header, &name, file.take(size))
                    .map_err(io_error(location, "write"))?;
            }
            Member::Bytes { name, bytes } => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(0o644);
                header.set_size(bytes.len() as u64);
                builder
                    .append_data(&mut header, &name, bytes.as_slice())
                    .map_err(io_error(location, "write"))?;
            }
        }
    }
    let writer = builder.into_inner().map_err(io_error(location, "finish"))?;
    writer
        .into_inner()
        .map_err(|e| io_error(location, "write")(e.into_error()))
}

/// Checks that `path` can become an archive: its directory exists and it
/// is not a directory itself. Done when a destination is opened, so a
/// typo fails before gigabytes are copied.
pub async fn check_target(
    path: &Path,
    location: &str,
) -> Result<Option<std::fs::Metadata>, TransportError> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let meta = tokio::fs::metadata(parent)
        .await
        .map_err(io_error(parent, "find the archive's directory"))?;
    if !meta.is_dir() {
        return Err(TransportError::Unsupported {
            location: location.to_string(),
            reason: format!("{} is not a directory", parent.display()),
        });
    }
    // The archive is written beside its final name at the very end; a
    // directory that refuses files (read-only, not ours) should fail the
    // copy now, not after every blob has been staged.
    let probe = leftovers::temp_path(&parent.join("probe"));
    tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .await
        .map_err(io_error(parent, "create files in"))?;
    let _ = tokio::fs::remove_file(&probe).await;
    match tokio::fs::metadata(path).await {
        Ok(meta) if meta.is_dir() => Err(TransportError::Unsupported {
            location: location.to_string(),
            reason: "is a directory, not an archive file".into(),
        }),
        Ok(meta) => Ok(Some(meta)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error(path, "stat")(e)),
    }
}
