//! Layers of a `vfs` store: applying a layer's tar stream to a tree (the
//! parent's tree copied first, as the vfs driver does), recording the
//! tar-split metadata that rebuilds the stream, and rebuilding it.
//!
//! Applying follows containers/storage's `archive.UnpackLayer` with AUFS
//! whiteouts, under ferry-core's rules for what counts as an escape
//! ([`ferry_core::tar`]): a member whose name is absolute or has `..`, a
//! hard link to a name outside the layer, a relative symbolic link that
//! climbs above the root, a path through a symbolic link, a negative size,
//! a pax record over 1 MiB, a device node when not root: each is refused
//! before anything is written for it, naming the member. Everything is
//! written inside the tree only (files are created with `O_EXCL` and
//! `O_NOFOLLOW`), and the caller removes the whole tree on any error.
//!
//! The tar reader is ferry's own, because tar-split needs every byte that
//! is not file content, verbatim, in stream order: for each member, the
//! previous member's padding and this member's headers (pax and GNU long
//! names included) are one segment; its content is a file entry; after
//! the end blocks, whatever remains goes in segments of up to 1 MiB, and
//! an empty one closes the metadata, as tar-split's `NewInputTarStream`
//! writes them.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::ffi::OsStr;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use ferry_core::Digest;
use ferry_core::digest::Hasher;
use ferry_core::plan::compression;
use ferry_core::storage::tar_split::{self, Crc64, Entry, Packer};
use ferry_core::tar::{self as core_tar, Compression};
use rustix::fs::{AtFlags, FileType, Mode, Timespec, Timestamps, XattrFlags};

/// The longest pax or GNU long-name record read, as Go's archive/tar caps
/// them.
const MAX_SPECIAL_FILE: u64 = 1 << 20;
/// tar-split's chunk for the bytes after the end blocks.
const PADDING_CHUNK: usize = 1 << 20;
const BLOCK: usize = 512;

/// Why a layer could not be applied or read back.
#[derive(Debug)]
pub enum LayerError {
    Io {
        path: PathBuf,
        action: &'static str,
        error: io::Error,
    },
    /// The stream is not a tar, or breaks off.
    Malformed { reason: String },
    /// A member refused: its name as the archive spells it, and why.
    Refused { member: String, reason: String },
    /// The blob is compressed in a way ferry cannot read here.
    Compression { name: &'static str },
    /// The tar-split metadata does not rebuild the layer.
    TarSplit { reason: String },
}

impl std::fmt::Display for LayerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LayerError::Io {
                path,
                action,
                error,
            } => {
                write!(f, "{}: cannot {action}: {error}", path.display())
            }
            LayerError::Malformed { reason } => write!(f, "layer is not a valid tar: {reason}"),
            LayerError::Refused { member, reason } => {
                write!(f, "layer member {member:?} refused: {reason}")
            }
            LayerError::Compression { name } => write!(
                f,
                "{name}-compressed layers cannot be applied to containers-storage: ferry reads gzip and zstd"
            ),
            LayerError::TarSplit { reason } => write!(f, "tar-split metadata: {reason}"),
        }
    }
}

fn io_err(path: &Path, action: &'static str) -> impl FnOnce(io::Error) -> LayerError {
    let path = path.to_path_buf();
    move |error| LayerError::Io {
        path,
        action,
        error,
    }
}

fn refused(member: &[u8], reason: impl Into<String>) -> LayerError {
    LayerError::Refused {
        member: String::from_utf8_lossy(member).into_owned(),
        reason: reason.into(),
    }
}

/// What applying a layer found out.
#[derive(Debug)]
pub struct Applied {
    /// The digest and length of the uncompressed stream.
    pub diff_id: Digest,
    pub diff_size: u64,
    /// The tar-split metadata, gzip-compressed, for `<id>.tar-split.gz`.
    pub tar_split: Vec<u8>,
    pub uids: Vec<u32>,
    pub gids: Vec<u32>,
    pub compression: Option<Compression>,
}

/// A reader that hashes and counts what passes through it.
struct Hashing<R> {
    inner: R,
    hasher: Hasher,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Opens a layer blob decompressed, with the compression it had.
pub fn open_blob(path: &Path) -> Result<(Box<dyn Read>, Option<Compression>), LayerError> {
    let mut file = std::fs::File::open(path).map_err(io_err(path, "open"))?;
    let mut head = [0u8; 8];
    let mut got = 0;
    while got < head.len() {
        let n = file.read(&mut head[got..]).map_err(io_err(path, "read"))?;
        if n == 0 {
            break;
        }
        got += n;
    }
    let compression = Compression::detect(&head[..got]);
    let file = io::Cursor::new(head[..got].to_vec()).chain(file);
    let reader: Box<dyn Read> = match compression {
        None => Box::new(io::BufReader::with_capacity(256 << 10, file)),
        Some(other) => match compression::Format::of(other) {
            Some(format) => crate::copy::transform::bounded_decoder(format, file)
                .map_err(io_err(path, "start decompressing"))?,
            None => return Err(LayerError::Compression { name: other.name() }),
        },
    };
    Ok((reader, compression))
}

/// A key and its value: a pax record, an extended attribute.
type Pair = (Vec<u8>, Vec<u8>);

/// A member's header, pax and GNU extensions applied.
#[derive(Debug, Default)]
struct Header {
    name: Vec<u8>,
    link: Vec<u8>,
    typeflag: u8,
    size: u64,
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: (i64, i64),
    devmajor: u64,
    devminor: u64,
    xattrs: Vec<Pair>,
}

/// Reads members, keeping every byte that is not content in `raw`.
struct TarReader<R> {
    inner: R,
    /// Padding still to be read after the current member's content.
    padding: usize,
}

fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

fn cstr(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|b| *b == 0).unwrap_or(field.len());
    &field[..end]
}

/// A numeric header field: octal, or base-256 when the top bit is set.
/// `None` for a malformed or negative number.
fn number(field: &[u8]) -> Option<u64> {
    if field.first().is_some_and(|b| b & 0x80 != 0) {
        if field[0] & 0x40 != 0 {
            return None; // negative
        }
        let mut n: u64 = u64::from(field[0] & 0x3f);
        for b in &field[1..] {
            n = n.checked_mul(256)?.checked_add(u64::from(*b))?;
        }
        return Some(n);
    }
    let text = cstr(field);
    let text: Vec<u8> = text.iter().copied().filter(|b| *b != b' ').collect();
    if text.is_empty() {
        return Some(0);
    }
    let mut n: u64 = 0;
    for d in text {
        if !(b'0'..=b'7').contains(&d) {
            return None;
        }
        n = n.checked_mul(8)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(n)
}

impl<R: Read> TarReader<R> {
    fn malformed(reason: impl Into<String>) -> LayerError {
        LayerError::Malformed {
            reason: reason.into(),
        }
    }

    /// Reads `n` bytes into `raw` (and returns them).
    fn take(&mut self, n: usize, raw: &mut Vec<u8>) -> Result<Vec<u8>, LayerError> {
        let mut buf = vec![0u8; n];
        let got =
            read_full(&mut self.inner, &mut buf).map_err(|e| Self::malformed(e.to_string()))?;
        raw.extend_from_slice(&buf[..got]);
        if got < n {
            return Err(Self::malformed("the stream ends inside a member"));
        }
        Ok(buf)
    }

    /// The next member, or `None` at the end blocks (or a clean end of the
    /// stream).
    fn next(&mut self, raw: &mut Vec<u8>) -> Result<Option<Header>, LayerError> {
        if self.padding > 0 {
            let padding = self.padding;
            self.padding = 0;
            self.take(padding, raw)?;
        }
        let mut pax: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
        let mut xattrs = Vec::new();
        let mut long_name: Option<Vec<u8>> = None;
        let mut long_link: Option<Vec<u8>> = None;
        loop {
            let mut block = [0u8; BLOCK];
            let got = read_full(&mut self.inner, &mut block)
                .map_err(|e| Self::malformed(e.to_string()))?;
            raw.extend_from_slice(&block[..got]);
            if got == 0 {
                return Ok(None);
            }
            if got < BLOCK {
                return Err(Self::malformed("the stream ends inside a header"));
            }
            if block.iter().all(|b| *b == 0) {
                let mut second = [0u8; BLOCK];
                let got = read_full(&mut self.inner, &mut second)
                    .map_err(|e| Self::malformed(e.to_string()))?;
                raw.extend_from_slice(&second[..got]);
                if got == BLOCK && second.iter().any(|b| *b != 0) {
                    return Err(Self::malformed("a zero block followed by a header"));
                }
                return Ok(None);
            }
            if !core_tar::checksum_matches(&block) {
                return Err(Self::malformed("a header's checksum does not match"));
            }
            let typeflag = block[156];
            let size = number(&block[124..136]).ok_or_else(|| {
                refused(cstr(&block[0..100]), "the size is negative or not a number")
            })?;
            let padded = |size: u64| -> u64 { size.div_ceil(BLOCK as u64) * BLOCK as u64 };
            match typeflag {
                b'x' | b'L' | b'K' | b'g' => {
                    if size > MAX_SPECIAL_FILE {
                        return Err(refused(
                            cstr(&block[0..100]),
                            format!("a {} byte extended header (limit {MAX_SPECIAL_FILE})", size),
                        ));
                    }
                    let data = self.take(padded(size) as usize, raw)?;
                    let data = &data[..size as usize];
                    match typeflag {
                        b'L' => long_name = Some(cstr(data).to_vec()),
                        b'K' => long_link = Some(cstr(data).to_vec()),
                        b'x' => {
                            for (k, v) in parse_pax(data)? {
                                if let Some(name) = k.strip_prefix(b"SCHILY.xattr.") {
                                    xattrs.push((name.to_vec(), v));
                                } else {
                                    pax.insert(k, v);
                                }
                            }
                        }
                        _ => {
                            // A global header is a member of its own, with
                            // no content, as Go's reader returns it.
                            return Ok(Some(Header {
                                name: cstr(&block[0..100]).to_vec(),
                                typeflag,
                                ..Header::default()
                            }));
                        }
                    }
                    continue;
                }
                _ => {}
            }
            let ustar = &block[257..263] == b"ustar\0";
            let mut name = cstr(&block[0..100]).to_vec();
            if ustar {
                let prefix = cstr(&block[345..500]);
                if !prefix.is_empty() {
                    let mut full = prefix.to_vec();
                    full.push(b'/');
                    full.extend_from_slice(&name);
                    name = full;
                }
            }
            let mut header = Header {
                name: long_name.take().unwrap_or(name),
                link: long_link
                    .take()
                    .unwrap_or_else(|| cstr(&block[157..257]).to_vec()),
                typeflag,
                size,
                mode: number(&block[100..108]).unwrap_or(0) as u32,
                uid: number(&block[108..116]).unwrap_or(0) as u32,
                gid: number(&block[116..124]).unwrap_or(0) as u32,
                mtime: (number(&block[136..148]).unwrap_or(0) as i64, 0),
                devmajor: number(&block[329..337]).unwrap_or(0),
                devminor: number(&block[337..345]).unwrap_or(0),
                xattrs: std::mem::take(&mut xattrs),
            };
            for (key, value) in &pax {
                let text = String::from_utf8_lossy(value);
                match key.as_slice() {
                    b"path" => header.name = value.clone(),
                    b"linkpath" => header.link = value.clone(),
                    b"size" => {
                        header.size = text.parse().map_err(|_| {
                            refused(&header.name, "the pax size is negative or not a number")
                        })?
                    }
                    b"uid" => header.uid = text.parse().unwrap_or(header.uid),
                    b"gid" => header.gid = text.parse().unwrap_or(header.gid),
                    b"mtime" => {
                        let (secs, frac) = text.split_once('.').unwrap_or((&text, ""));
                        let nanos = format!("{frac:0<9}");
                        header.mtime = (
                            secs.parse().unwrap_or(header.mtime.0),
                            nanos[..9].parse().unwrap_or(0),
                        );
                    }
                    k if k.starts_with(b"GNU.sparse.") => {
                        return Err(refused(&header.name, "sparse files are not supported"));
                    }
                    _ => {}
                }
            }
            self.padding = (padded(header.size) - header.size) as usize;
            return Ok(Some(header));
        }
    }
}

/// `LENGTH KEY=VALUE\n` records.
fn parse_pax(data: &[u8]) -> Result<Vec<Pair>, LayerError> {
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let space = rest
            .iter()
            .position(|b| *b == b' ')
            .ok_or_else(|| TarReader::<io::Empty>::malformed("a pax record without a length"))?;
        let length: usize = std::str::from_utf8(&rest[..space])
            .ok()
            .and_then(|s| s.parse().ok())
            .filter(|n| *n > space + 1 && *n <= rest.len())
            .ok_or_else(|| TarReader::<io::Empty>::malformed("a pax record's length is wrong"))?;
        let record = &rest[space + 1..length];
        let record = record.strip_suffix(b"\n").unwrap_or(record);
        if let Some(eq) = record.iter().position(|b| *b == b'=') {
            out.push((record[..eq].to_vec(), record[eq + 1..].to_vec()));
        }
        rest = &rest[length..];
    }
    Ok(out)
}

/// How a driver keeps what a layer deletes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Whiteouts {
    /// vfs: the tree is the whole image up to the layer, so a whiteout
    /// deletes, and an opaque directory is emptied of what the layers
    /// below had.
    Delete,
    /// overlay (no mount program): the tree is the layer's own `diff`; a
    /// whiteout is a character device 0:0 of the deleted name, an opaque
    /// directory has `trusted.overlay.opaque` set to `y`.
    Overlay,
}

/// The extended attribute that makes a directory opaque in overlay.
pub const OVERLAY_OPAQUE_XATTR: &str = "trusted.overlay.opaque";

/// Applies the layer in `blob` (compressed or not) to `tree`: on top of
/// the parent's files for vfs, into an empty `diff` for overlay.
pub fn apply(blob: &Path, tree: &Path, whiteouts: Whiteouts) -> Result<Applied, LayerError> {
    let (reader, compression) = open_blob(blob)?;
    let mut hashing = Hashing {
        inner: reader,
        hasher: Hasher::new(ferry_core::digest::Algorithm::Sha256),
    };
    let mut tar = TarReader {
        inner: &mut hashing,
        padding: 0,
    };
    let mut metadata = Vec::new();
    let mut packer = Packer::default();
    let mut applier = Applier::new(tree, whiteouts);
    let mut uids = BTreeSet::new();
    let mut gids = BTreeSet::new();
    let mut buffer = vec![0u8; 256 << 10];
    let mut dir_times: Vec<(PathBuf, (i64, i64))> = Vec::new();
    loop {
        let mut raw = Vec::new();
        let header = tar.next(&mut raw)?;
        if !raw.is_empty() {
            add(&mut packer, &Entry::Segment(raw), &mut metadata)?;
        }
        let Some(header) = header else { break };
        uids.insert(header.uid);
        gids.insert(header.gid);
        let mut crc = Crc64::default();
        let content = applier.member(&header, &mut dir_times)?;
        // The content: into the file, or read past.
        let mut left = header.size;
        let mut file = content;
        while left > 0 {
            let want = buffer.len().min(left as usize);
            let n = tar
                .inner
                .read(&mut buffer[..want])
                .map_err(|e| TarReader::<io::Empty>::malformed(e.to_string()))?;
            if n == 0 {
                return Err(TarReader::<io::Empty>::malformed(
                    "the stream ends inside a member's content",
                ));
            }
            crc.update(&buffer[..n]);
            if let Some((f, path)) = &mut file {
                f.write_all(&buffer[..n]).map_err(io_err(path, "write"))?;
            }
            left -= n as u64;
        }
        if let Some((f, path)) = file {
            applier.finish_file(&header, f, &path)?;
        }
        add(
            &mut packer,
            &Entry::File {
                name: header.name.clone(),
                size: header.size,
                crc: (header.size > 0).then(|| crc.finish()),
            },
            &mut metadata,
        )?;
    }
    // What follows the end blocks, as tar-split keeps it.
    let mut chunk = vec![0u8; PADDING_CHUNK];
    loop {
        let n = read_full(tar.inner, &mut chunk)
            .map_err(|e| TarReader::<io::Empty>::malformed(e.to_string()))?;
        add(
            &mut packer,
            &Entry::Segment(chunk[..n].to_vec()),
            &mut metadata,
        )?;
        if n == 0 {
            break;
        }
    }
    // Directories' times last: creating their entries changed them.
    for (path, time) in dir_times.iter().rev() {
        set_times(path, *time, false)?;
    }
    let diff_size = hashing.hasher.bytes();
    let diff_id = hashing.hasher.finish();
    // zlib's default level, as containers/storage writes it.
    let mut gz = crate::copy::transform::gzip_writer(Vec::new(), 6, Some(metadata.len() as u64));
    let tar_split = gz
        .write_all(&metadata)
        .and_then(|_| gz.finish())
        .map_err(|e| LayerError::TarSplit {
            reason: e.to_string(),
        })?;
    Ok(Applied {
        diff_id,
        diff_size,
        tar_split,
        uids: uids.into_iter().collect(),
        gids: gids.into_iter().collect(),
        compression,
    })
}

fn add(packer: &mut Packer, entry: &Entry, out: &mut Vec<u8>) -> Result<(), LayerError> {
    packer.add(entry, out).map_err(|e| match entry {
        Entry::File { name, .. } => refused(name, e.to_string()),
        Entry::Segment(_) => LayerError::TarSplit {
            reason: e.to_string(),
        },
    })
}

/// Writes members into a tree.
struct Applier<'a> {
    root: &'a Path,
    /// Names written by this layer, normalised: what an opaque directory
    /// keeps.
    unpacked: HashSet<String>,
    /// Directories known to be real directories (no symbolic link on the
    /// way); cleared whenever something is removed.
    known_dirs: HashSet<String>,
    is_root: bool,
    whiteouts: Whiteouts,
}

impl<'a> Applier<'a> {
    fn new(root: &'a Path, whiteouts: Whiteouts) -> Self {
        Applier {
            root,
            unpacked: HashSet::new(),
            known_dirs: HashSet::new(),
            is_root: rustix::process::geteuid().is_root(),
            whiteouts,
        }
    }

    /// Makes sure every directory above `name` is a real directory inside
    /// the tree, creating missing ones (0755, as containers/storage does).
    fn parents(&mut self, name: &str, member: &[u8]) -> Result<(), LayerError> {
        let mut at = 0;
        while let Some(slash) = name[at..].find('/') {
            let dir = &name[..at + slash];
            at += slash + 1;
            if self.known_dirs.contains(dir) {
                continue;
            }
            let path = self.root.join(dir);
            match std::fs::symlink_metadata(&path) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    return Err(refused(
                        member,
                        format!("its path goes through the symbolic link {dir:?}"),
                    ));
                }
                Ok(meta) if meta.is_dir() => {}
                Ok(_) => {
                    return Err(refused(member, format!("{dir:?} is not a directory")));
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    std::fs::create_dir(&path).map_err(io_err(&path, "create directory"))?;
                    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                        .map_err(io_err(&path, "chmod"))?;
                }
                Err(e) => return Err(io_err(&path, "stat")(e)),
            }
            self.known_dirs.insert(dir.to_string());
        }
        Ok(())
    }

    fn remove(&mut self, path: &Path) -> Result<(), LayerError> {
        self.known_dirs.clear();
        match std::fs::symlink_metadata(path) {
            Ok(meta) if meta.is_dir() => {
                std::fs::remove_dir_all(path).map_err(io_err(path, "remove"))
            }
            Ok(_) => std::fs::remove_file(path).map_err(io_err(path, "remove")),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(path, "stat")(e)),
        }
    }

    /// Applies one member's header; for a regular file, returns the file
    /// to write its content into.
    fn member(
        &mut self,
        header: &Header,
        dir_times: &mut Vec<(PathBuf, (i64, i64))>,
    ) -> Result<Option<(std::fs::File, PathBuf)>, LayerError> {
        let member = header.name.as_slice();
        let text =
            std::str::from_utf8(member).map_err(|_| refused(member, "the name is not UTF-8"))?;
        if header.typeflag == b'g' {
            return Ok(None);
        }
        let entry = core_tar::classify(text).map_err(|e| refused(member, e.to_string()))?;
        let is_content_type = matches!(header.typeflag, b'0' | b'\0' | b'7');
        if header.size > 0 && !is_content_type {
            return Err(refused(
                member,
                "a member that is not a regular file has content",
            ));
        }
        let name = match entry {
            core_tar::Entry::AufsMeta => return Ok(None),
            core_tar::Entry::Whiteout { target } => {
                self.parents(&target, member)?;
                let path = self.root.join(&target);
                self.remove(&path)?;
                if self.whiteouts == Whiteouts::Overlay {
                    if !self.is_root {
                        return Err(refused(
                            member,
                            "overlay whiteouts are device nodes, which need root",
                        ));
                    }
                    rustix::fs::mknodat(
                        rustix::fs::CWD,
                        &path,
                        FileType::CharacterDevice,
                        Mode::empty(),
                        0,
                    )
                    .map_err(|e| io_err(&path, "mknod")(e.into()))?;
                    std::os::unix::fs::lchown(&path, Some(header.uid), Some(header.gid))
                        .map_err(io_err(&path, "chown"))?;
                }
                return Ok(None);
            }
            core_tar::Entry::Opaque { dir } => {
                self.parents(&format!("{dir}/x"), member)?;
                let path = if dir.is_empty() {
                    self.root.to_path_buf()
                } else {
                    self.root.join(&dir)
                };
                match self.whiteouts {
                    Whiteouts::Delete => self.opaque(&path, &dir)?,
                    Whiteouts::Overlay => {
                        rustix::fs::lsetxattr(
                            &path,
                            OVERLAY_OPAQUE_XATTR,
                            b"y",
                            XattrFlags::empty(),
                        )
                        .map_err(|e| io_err(&path, "set extended attribute of")(e.into()))?;
                    }
                }
                return Ok(None);
            }
            core_tar::Entry::Ordinary => {
                core_tar::normalise(text).map_err(|e| refused(member, e.to_string()))?
            }
        };
        if name.is_empty() {
            // The root: only a directory, whose metadata the tree takes.
            if header.typeflag != b'5' {
                return Err(refused(
                    member,
                    "only a directory may name the layer's root",
                ));
            }
            self.metadata(header, self.root)?;
            dir_times.push((self.root.to_path_buf(), header.mtime));
            return Ok(None);
        }
        self.parents(&name, member)?;
        let path = self.root.join(&name);
        // Whatever is there goes, unless a directory meets a directory.
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() && header.typeflag == b'5' => {}
            Ok(_) => self.remove(&path)?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(&path, "stat")(e)),
        }
        self.unpacked.insert(name.clone());
        let mut file = None;
        match header.typeflag {
            b'5' => {
                if !path.exists() {
                    std::fs::create_dir(&path).map_err(io_err(&path, "create directory"))?;
                }
                self.known_dirs.insert(name.clone());
                dir_times.push((path.clone(), header.mtime));
            }
            b'0' | b'\0' | b'7' => {
                let f = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .custom_flags(libc::O_NOFOLLOW)
                    .mode(0o600)
                    .open(&path)
                    .map_err(io_err(&path, "create"))?;
                file = Some((f, path.clone()));
            }
            b'1' => {
                let link = std::str::from_utf8(&header.link)
                    .ok()
                    .and_then(|l| core_tar::normalise(l).ok())
                    .filter(|l| !l.is_empty())
                    .ok_or_else(|| {
                        refused(
                            member,
                            format!(
                                "hard link to {:?} points outside the layer",
                                String::from_utf8_lossy(&header.link)
                            ),
                        )
                    })?;
                self.parents(&link, member)?;
                let target = self.root.join(&link);
                match std::fs::symlink_metadata(&target) {
                    Ok(meta) if !meta.is_dir() => {}
                    _ => {
                        return Err(refused(
                            member,
                            format!("hard link to {link:?}, which is not a file in the layer"),
                        ));
                    }
                }
                std::fs::hard_link(&target, &path).map_err(io_err(&path, "link"))?;
                return Ok(None);
            }
            b'2' => {
                let link = std::str::from_utf8(&header.link)
                    .map_err(|_| refused(member, "the link target is not UTF-8"))?;
                // Absolute targets are the layer's root, as in a container;
                // relative ones must not climb above it.
                if !link.starts_with('/') && core_tar::resolve_symlink(&name, link).is_none() {
                    return Err(refused(
                        member,
                        format!("symbolic link to {link:?} points outside the layer"),
                    ));
                }
                std::os::unix::fs::symlink(link, &path).map_err(io_err(&path, "symlink"))?;
            }
            b'3' | b'4' | b'6' => {
                if header.typeflag != b'6' && !self.is_root {
                    return Err(refused(member, "device nodes need root"));
                }
                let kind = match header.typeflag {
                    b'3' => FileType::CharacterDevice,
                    b'4' => FileType::BlockDevice,
                    _ => FileType::Fifo,
                };
                let dev = rustix::fs::makedev(header.devmajor as u32, header.devminor as u32);
                rustix::fs::mknodat(
                    rustix::fs::CWD,
                    &path,
                    kind,
                    Mode::from_raw_mode(header.mode & 0o7777),
                    dev,
                )
                .map_err(|e| io_err(&path, "mknod")(e.into()))?;
            }
            b'S' => return Err(refused(member, "sparse files are not supported")),
            other => {
                return Err(refused(
                    member,
                    format!("unsupported entry type {:?}", other as char),
                ));
            }
        }
        if file.is_none() {
            self.metadata(header, &path)?;
            if header.typeflag != b'5' {
                set_times(&path, header.mtime, header.typeflag == b'2')?;
            }
        }
        Ok(file)
    }

    fn finish_file(
        &mut self,
        header: &Header,
        file: std::fs::File,
        path: &Path,
    ) -> Result<(), LayerError> {
        drop(file);
        self.metadata(header, path)?;
        set_times(path, header.mtime, false)
    }

    /// Owner, mode and extended attributes.
    fn metadata(&self, header: &Header, path: &Path) -> Result<(), LayerError> {
        let symlink = header.typeflag == b'2';
        if self.is_root {
            std::os::unix::fs::lchown(path, Some(header.uid), Some(header.gid))
                .map_err(io_err(path, "chown"))?;
        }
        if !symlink {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(header.mode & 0o7777))
                .map_err(io_err(path, "chmod"))?;
        }
        for (name, value) in &header.xattrs {
            set_xattr(path, name, value)?;
        }
        Ok(())
    }

    /// Removes what the layers below have in `dir` (`name`, normalised),
    /// keeping what this layer wrote.
    fn opaque(&mut self, dir: &Path, name: &str) -> Result<(), LayerError> {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_err(dir, "read directory")(e)),
        };
        for entry in entries {
            let entry = entry.map_err(io_err(dir, "read directory"))?;
            let child_name = entry.file_name();
            let Some(child_name) = child_name.to_str() else {
                self.remove(&entry.path())?;
                continue;
            };
            let child = if name.is_empty() {
                child_name.to_string()
            } else {
                format!("{name}/{child_name}")
            };
            if !self.unpacked.contains(&child) {
                self.remove(&entry.path())?;
            } else if entry.file_type().is_ok_and(|t| t.is_dir()) {
                self.opaque(&entry.path(), &child)?;
            }
        }
        Ok(())
    }
}

fn set_times(path: &Path, (secs, nanos): (i64, i64), symlink: bool) -> Result<(), LayerError> {
    let time = Timespec {
        tv_sec: secs,
        tv_nsec: nanos as _,
    };
    stamp(path, time, time, symlink)
}

fn stamp(path: &Path, atime: Timespec, mtime: Timespec, symlink: bool) -> Result<(), LayerError> {
    let flags = if symlink {
        AtFlags::SYMLINK_NOFOLLOW
    } else {
        AtFlags::empty()
    };
    let times = Timestamps {
        last_access: atime,
        last_modification: mtime,
    };
    rustix::fs::utimensat(rustix::fs::CWD, path, &times, flags)
        .map_err(|e| io_err(path, "set times of")(e.into()))
}

fn set_xattr(path: &Path, name: &[u8], value: &[u8]) -> Result<(), LayerError> {
    match rustix::fs::lsetxattr(path, name, value, XattrFlags::empty()) {
        Ok(()) => Ok(()),
        // As containers/storage: attributes the file system or the user
        // may not set are skipped.
        Err(rustix::io::Errno::NOTSUP | rustix::io::Errno::PERM) => Ok(()),
        Err(e) => Err(io_err(path, "set extended attribute of")(e.into())),
    }
}

fn xattrs(path: &Path) -> Result<Vec<Pair>, LayerError> {
    let mut names = vec![0u8; 65536];
    let n = match rustix::fs::llistxattr(path, &mut names[..]) {
        Ok(n) => n,
        Err(rustix::io::Errno::NOTSUP) => return Ok(Vec::new()),
        Err(e) => return Err(io_err(path, "list extended attributes of")(e.into())),
    };
    let mut out = Vec::new();
    for name in names[..n].split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let mut value = vec![0u8; 65536];
        if let Ok(len) = rustix::fs::lgetxattr(path, name, &mut value[..]) {
            value.truncate(len);
            out.push((name.to_vec(), value));
        }
    }
    Ok(out)
}

/// Copies the tree `from` to `to` (which must not exist), keeping owners,
/// modes, times, extended attributes, hard links, symbolic links and
/// device nodes: what the vfs driver does to start a layer from its
/// parent.
pub fn copy_tree(from: &Path, to: &Path) -> Result<(), LayerError> {
    let mut links: HashMap<(u64, u64), PathBuf> = HashMap::new();
    let root = rustix::process::geteuid().is_root();
    copy_node(from, to, &mut links, root)
}

fn copy_node(
    from: &Path,
    to: &Path,
    links: &mut HashMap<(u64, u64), PathBuf>,
    root: bool,
) -> Result<(), LayerError> {
    let meta = std::fs::symlink_metadata(from).map_err(io_err(from, "stat"))?;
    let kind = meta.file_type();
    if kind.is_dir() {
        std::fs::create_dir(to).map_err(io_err(to, "create directory"))?;
        let mut entries: Vec<_> = std::fs::read_dir(from)
            .map_err(io_err(from, "read directory"))?
            .collect::<Result<_, _>>()
            .map_err(io_err(from, "read directory"))?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            copy_node(&entry.path(), &to.join(entry.file_name()), links, root)?;
        }
    } else if kind.is_symlink() {
        let target = std::fs::read_link(from).map_err(io_err(from, "read link"))?;
        std::os::unix::fs::symlink(&target, to).map_err(io_err(to, "symlink"))?;
    } else if kind.is_file() {
        if meta.nlink() > 1 {
            if let Some(first) = links.get(&(meta.dev(), meta.ino())) {
                return std::fs::hard_link(first, to).map_err(io_err(to, "link"));
            }
            links.insert((meta.dev(), meta.ino()), to.to_path_buf());
        }
        std::fs::copy(from, to).map_err(io_err(to, "copy"))?;
    } else {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_socket() {
            return Ok(());
        }
        rustix::fs::mknodat(
            rustix::fs::CWD,
            to,
            FileType::from_raw_mode(meta.mode()),
            Mode::from_raw_mode(meta.mode() & 0o7777),
            meta.rdev(),
        )
        .map_err(|e| io_err(to, "mknod")(e.into()))?;
    }
    if root {
        std::os::unix::fs::lchown(to, Some(meta.uid()), Some(meta.gid()))
            .map_err(io_err(to, "chown"))?;
    }
    if !kind.is_symlink() {
        std::fs::set_permissions(to, std::fs::Permissions::from_mode(meta.mode() & 0o7777))
            .map_err(io_err(to, "chmod"))?;
    }
    for (name, value) in xattrs(from)? {
        set_xattr(to, &name, &value)?;
    }
    stamp(
        to,
        Timespec {
            tv_sec: meta.atime(),
            tv_nsec: meta.atime_nsec() as _,
        },
        Timespec {
            tv_sec: meta.mtime(),
            tv_nsec: meta.mtime_nsec() as _,
        },
        true,
    )
}

/// Rebuilds a layer's tar stream from its tar-split metadata and the
/// files of `tree`, writing it to `out`; every file's content must have
/// the length and CRC-64 the metadata recorded.
pub fn assemble(tar_split: &Path, tree: &Path, out: &mut dyn Write) -> Result<u64, LayerError> {
    let file = std::fs::File::open(tar_split).map_err(io_err(tar_split, "open"))?;
    let mut text = Vec::new();
    flate2::read::GzDecoder::new(file)
        .read_to_end(&mut text)
        .map_err(io_err(tar_split, "decompress"))?;
    let entries = tar_split::parse(&text).map_err(|e| LayerError::TarSplit {
        reason: e.to_string(),
    })?;
    let mut written = 0u64;
    let mut buffer = vec![0u8; 256 << 10];
    for entry in entries {
        match entry {
            Entry::Segment(bytes) => {
                out.write_all(&bytes)
                    .map_err(io_err(tree, "write layer stream of"))?;
                written += bytes.len() as u64;
            }
            Entry::File { size: 0, .. } => {}
            Entry::File { name, size, crc } => {
                let text = String::from_utf8_lossy(&name);
                let normal = core_tar::normalise(&text).map_err(|e| LayerError::TarSplit {
                    reason: format!("file {text:?}: {e}"),
                })?;
                let path = tree.join(OsStr::from_bytes(normal.as_bytes()));
                let mut f = std::fs::OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_NOFOLLOW)
                    .open(&path)
                    .map_err(io_err(&path, "open"))?;
                let mut left = size;
                let mut sum = Crc64::default();
                while left > 0 {
                    let want = buffer.len().min(left as usize);
                    let n = f.read(&mut buffer[..want]).map_err(io_err(&path, "read"))?;
                    if n == 0 {
                        return Err(LayerError::TarSplit {
                            reason: format!("{text:?} is shorter than the {size} bytes recorded"),
                        });
                    }
                    sum.update(&buffer[..n]);
                    out.write_all(&buffer[..n])
                        .map_err(io_err(tree, "write layer stream of"))?;
                    left -= n as u64;
                }
                if crc.is_some_and(|c| c != sum.finish()) {
                    return Err(LayerError::TarSplit {
                        reason: format!("{text:?} does not have the checksum recorded"),
                    });
                }
                written += size;
            }
        }
    }
    Ok(written)
}
