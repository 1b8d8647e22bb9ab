//! What the members of a tar mean: image archives (`oci-archive:`,
//! `docker-archive:`) and layers.
//!
//! The readers (native ferry's archive index, the browser inspector) only
//! read header fields; every rule about what those fields mean lives here:
//!
//! - [`normalise`]: `./a//b/` is `a/b`, the archive root is `""`; absolute
//!   names and `..` components are refused, as a safe extractor refuses
//!   them.
//! - [`resolve_symlink`]: a symbolic link's target, read relative to the
//!   link's own directory, must stay inside the archive.
//! - [`files`]: which entry types an image archive may hold, hard links to
//!   earlier files, duplicates, the root, and the regular files the archive
//!   holds once links are followed.
//! - [`Compression::detect`] and [`sniff`]: a tar told from compressed
//!   data by a header checksum and magic bytes.
//! - [`classify`]: whiteouts, as the OCI image-spec layer rules and
//!   containers/storage read them.
//! - [`stack`]: layers applied in order, what each adds, changes and
//!   deletes, and which layer each path of the result comes from.
//! - [`compare`]: two stacked filesystems side by side, the layers they
//!   share and the paths that differ (and how).

pub mod compare;
pub mod stack;

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// How many symbolic links one name may go through before it counts as a
/// loop.
pub const MAX_LINK_HOPS: usize = 16;

/// Why a member name was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameError {
    /// The name starts with `/`.
    Absolute { name: String },
    /// The name has a `..` component, which could lead out of the root.
    ParentComponent { name: String },
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameError::Absolute { name } => {
                write!(f, "absolute path {name}", name = crate::Quoted(name))
            }
            NameError::ParentComponent { name } => {
                write!(
                    f,
                    "path {name} has a '..' component",
                    name = crate::Quoted(name)
                )
            }
        }
    }
}

/// Normalises a member name: `./a//b/` is `a/b`, the root is `""`.
/// Refuses absolute names and `..` anywhere, as a safe extractor must.
pub fn normalise(name: &str) -> Result<String, NameError> {
    if name.starts_with('/') {
        return Err(NameError::Absolute { name: name.into() });
    }
    let mut out = String::with_capacity(name.len());
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(NameError::ParentComponent { name: name.into() }),
            p => {
                if !out.is_empty() {
                    out.push('/');
                }
                out.push_str(p);
            }
        }
    }
    Ok(out)
}

/// Where a symbolic link at `member` (a normalised name) pointing to
/// `target` leads, as a normalised name; `None` if it leaves the archive
/// (an absolute or empty target, or more `..` than the link is deep).
pub fn resolve_symlink(member: &str, target: &str) -> Option<String> {
    if target.starts_with('/') || target.is_empty() {
        return None;
    }
    // The link's directory, then the target's components one by one.
    let mut out = String::from(&member[..last_slash(member).unwrap_or(0)]);
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if out.is_empty() {
                    return None;
                }
                out.truncate(last_slash(&out).unwrap_or(0));
            }
            p => {
                if !out.is_empty() {
                    out.push('/');
                }
                out.push_str(p);
            }
        }
    }
    Some(out)
}

/// Where the last `/` in `name` is. `rfind`, not `bytes().rposition`:
/// 103 bytes less in the npm module after wasm-opt.
fn last_slash(name: &str) -> Option<usize> {
    name.rfind('/')
}

/// Compressions recognised by their magic bytes, as containers/image's
/// `DetectCompressionFormat` recognises them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Zstd,
    Xz,
    Bzip2,
}

impl Compression {
    const MAGIC: [(&'static [u8], Compression); 4] = [
        (&[0x1f, 0x8b, 0x08], Compression::Gzip),
        (&[0x28, 0xb5, 0x2f, 0xfd], Compression::Zstd),
        (&[0xfd, b'7', b'z', b'X', b'Z', 0x00], Compression::Xz),
        (b"BZh", Compression::Bzip2),
    ];

    /// The compression `head` (the first bytes of some data) starts with;
    /// `None` for data that is not compressed (or too short to tell).
    pub fn detect(head: &[u8]) -> Option<Compression> {
        Self::MAGIC
            .iter()
            .find(|(magic, _)| head.starts_with(magic))
            .map(|(_, c)| *c)
    }

    /// Its name: `gzip`, `zstd`, `xz`, `bzip2`.
    pub fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Xz => "xz",
            Compression::Bzip2 => "bzip2",
        }
    }
}

/// What the first bytes of an archive file are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A tar: the first block is a header whose checksum holds.
    Tar,
    /// Compressed data.
    Compressed(Compression),
    /// Neither.
    Unknown,
}

impl Format {
    /// `tar`, the compression's name, or `""`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Tar => "tar",
            Format::Compressed(c) => c.name(),
            Format::Unknown => "",
        }
    }
}

/// Reads `head`, the first bytes of a file (at least 512 to recognise a
/// tar). A tar starts with its first member's name, which could be
/// anything, `BZh` included: a header whose checksum holds settles it
/// before magic bytes are looked at.
pub fn sniff(head: &[u8]) -> Format {
    match head.get(..512) {
        Some(block) if checksum_matches(block) => Format::Tar,
        _ => Compression::detect(head).map_or(Format::Unknown, Format::Compressed),
    }
}

/// Whether a 512-byte header block's checksum holds: the octal number in
/// bytes 148..156 is the sum of the block's bytes with those eight counted
/// as spaces. Accepts the unsigned sum POSIX specifies and the signed sum
/// some old tars wrote. A block of another length, or whose checksum field
/// is not an octal number, does not hold.
pub fn checksum_matches(block: &[u8]) -> bool {
    if block.len() != 512 {
        return false;
    }
    let Some(stored) = octal(&block[148..156]) else {
        return false;
    };
    let (mut unsigned, mut signed) = (0i64, 0i64);
    for (i, b) in block.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { *b };
        unsigned += i64::from(b);
        signed += i64::from(b as i8);
    }
    stored == unsigned || stored == signed
}

/// A NUL- or space-terminated octal field, leading spaces allowed.
fn octal(field: &[u8]) -> Option<i64> {
    let start = field.iter().position(|b| *b != b' ')?;
    let digits = &field[start..];
    let end = digits
        .iter()
        .position(|b| *b == 0 || *b == b' ')
        .unwrap_or(digits.len());
    if end == 0 {
        return None;
    }
    digits[..end].iter().try_fold(0i64, |n, d| match d {
        b'0'..=b'7' => Some(n * 8 + i64::from(d - b'0')),
        _ => None,
    })
}

/// A member refused, with the member's name as the archive spells it
/// (normalised for a link loop, which is found once all names are known).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberError {
    pub name: String,
    pub reason: Refusal,
}

impl fmt::Display for MemberError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", crate::Quoted(&self.name), self.reason)
    }
}

/// Why a member was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Name(NameError),
    /// A hard link whose target is absolute or has a `..` component.
    HardLinkOutside {
        target: String,
    },
    /// A hard link to a name that no earlier regular file has.
    HardLinkNotEarlier {
        target: String,
    },
    SymlinkOutside {
        target: String,
    },
    Device,
    Fifo,
    Sparse,
    UnsupportedType(u8),
    /// A member other than a directory called `./` or the like.
    Root,
    Duplicate {
        name: String,
    },
    LinkLoop,
}

impl fmt::Display for Refusal {
    /// Most messages are text, a quoted name and text, written by
    /// [`crate::write_quoted`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (before, quoted, after) = match self {
            Refusal::Name(e) => return e.fmt(f),
            Refusal::HardLinkOutside { target } => {
                ("hard link to ", target, " points outside the archive")
            }
            Refusal::HardLinkNotEarlier { target } => (
                "hard link to ",
                target,
                ", which is not an earlier regular file in the archive",
            ),
            Refusal::SymlinkOutside { target } => {
                ("symbolic link to ", target, " points outside the archive")
            }
            Refusal::Duplicate { name } => (
                "duplicate entry ",
                name,
                ": readers disagree on which copy counts",
            ),
            Refusal::UnsupportedType(t) => {
                return match core::str::from_utf8(core::slice::from_ref(t)) {
                    Ok(ascii) => write!(f, "unsupported entry type '{ascii}'"),
                    Err(_) => write!(f, "unsupported entry type {t}"),
                };
            }
            Refusal::Device => {
                return f.write_str("device files have no place in an image archive");
            }
            Refusal::Fifo => return f.write_str("FIFOs have no place in an image archive"),
            Refusal::Sparse => {
                return f.write_str("sparse files are not supported in image archives");
            }
            Refusal::Root => return f.write_str("entry names the archive root"),
            Refusal::LinkLoop => return f.write_str("symbolic link loop"),
        };
        crate::write_quoted(f, before, quoted, after)
    }
}

/// One member of a tar as its headers spell it (pax and GNU long names
/// already applied).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member<'a> {
    pub name: &'a str,
    /// The header's type byte (`b'0'` a regular file, `b'5'` a directory…).
    pub typeflag: u8,
    /// The link target; read for hard and symbolic links only.
    pub link: &'a str,
}

/// A regular file of an archive: its normalised name, and the position
/// among the members of the one that holds its data (a link's target's).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct File {
    pub name: String,
    pub member: usize,
}

/// What a member stands for.
#[derive(Debug, Clone)]
enum Node {
    /// A regular file whose data is that of the member at this position.
    File(usize),
    Dir,
    /// A symbolic link, its target already resolved to a normalised name.
    Symlink(String),
}

/// The regular files of an image archive whose members are `members`, in
/// archive order. Symbolic links are
/// followed; links to directories or to nothing are left out, since
/// looking them up after extraction finds no file.
///
/// Holds the archive to what a safe extractor would demand: names relative
/// without `..`, links that stay inside, hard links only to earlier
/// regular files, no devices, FIFOs or sparse files, no name twice (however
/// spelt), only a directory as the root. An archive that breaks them is
/// broken or hostile, and other tools reading it would see other content.
/// The first member (in archive order) that breaks one is named.
pub fn files(members: &[Member<'_>]) -> Result<Vec<File>, MemberError> {
    // Normalised names, up to the first that is refused, if any: that
    // refusal is the answer unless a member before it breaks another rule.
    let mut names: Vec<String> = Vec::with_capacity(members.len());
    let mut refused_name = None;
    for member in members {
        match normalise(member.name) {
            Ok(name) => names.push(name),
            Err(e) => {
                refused_name = Some(e);
                break;
            }
        }
    }
    let mut by_name: BTreeMap<&str, usize> = BTreeMap::new();
    // One per member, by position.
    let mut nodes: Vec<Node> = Vec::with_capacity(members.len());
    for (position, member) in members.iter().enumerate() {
        let reason = match names.get(position) {
            Some(name) => match add(member, name, position, &mut by_name, &nodes) {
                Ok(node) => {
                    nodes.push(node);
                    continue;
                }
                Err(reason) => reason,
            },
            // Past the names read: this member's was refused.
            None => match refused_name.take() {
                Some(e) => Refusal::Name(e),
                None => break,
            },
        };
        return Err(MemberError {
            name: member.name.into(),
            reason,
        });
    }
    let mut out = Vec::new();
    for (node, name) in nodes.iter().zip(&names) {
        if name.is_empty() {
            continue;
        }
        let mut current = node;
        let mut hops = 0;
        let data = loop {
            match current {
                Node::File(data) => break Some(*data),
                Node::Dir => break None,
                Node::Symlink(target) => {
                    hops += 1;
                    if hops > MAX_LINK_HOPS {
                        return Err(MemberError {
                            name: name.clone(),
                            reason: Refusal::LinkLoop,
                        });
                    }
                    match by_name.get(target.as_str()) {
                        Some(i) => current = &nodes[*i],
                        None => break None,
                    }
                }
            }
        };
        if let Some(member) = data {
            out.push(File {
                name: name.clone(),
                member,
            });
        }
    }
    Ok(out)
}

/// What the member at `position` called `name` (normalised) stands for,
/// given the members before it; adds it to `by_name`.
fn add<'a>(
    member: &Member<'_>,
    name: &'a str,
    position: usize,
    by_name: &mut BTreeMap<&'a str, usize>,
    nodes: &[Node],
) -> Result<Node, Refusal> {
    let link = member.link;
    let node =
        match member.typeflag {
            // Pre-POSIX tars mark directories by a trailing slash only.
            b'\0' if member.name.ends_with('/') => Node::Dir,
            b'0' | b'\0' | b'7' => Node::File(position),
            b'5' => Node::Dir,
            b'1' => {
                // Hard link targets are names in the archive, relative to its
                // root, and must have come earlier.
                let target = normalise(link).map_err(|_| Refusal::HardLinkOutside {
                    target: link.into(),
                })?;
                match by_name.get(target.as_str()).map(|i| &nodes[*i]) {
                    Some(Node::File(data)) => Node::File(*data),
                    _ => {
                        return Err(Refusal::HardLinkNotEarlier {
                            target: link.into(),
                        });
                    }
                }
            }
            b'2' => Node::Symlink(resolve_symlink(name, link).ok_or_else(|| {
                Refusal::SymlinkOutside {
                    target: link.into(),
                }
            })?),
            b'3' | b'4' => return Err(Refusal::Device),
            b'6' => return Err(Refusal::Fifo),
            b'S' => return Err(Refusal::Sparse),
            other => return Err(Refusal::UnsupportedType(other)),
        };
    if name.is_empty() {
        // The archive root (`./`): only a directory may be it.
        if !matches!(node, Node::Dir) {
            return Err(Refusal::Root);
        }
    } else if by_name.insert(name, position).is_some() {
        return Err(Refusal::Duplicate { name: name.into() });
    }
    Ok(node)
}

/// The prefix of a whiteout's base name.
pub const WHITEOUT_PREFIX: &str = ".wh.";
/// The base name that makes its directory opaque.
pub const OPAQUE_WHITEOUT: &str = ".wh..wh..opq";
/// The prefix of AUFS metadata at the root of a layer (`.wh..wh.plnk`,
/// `.wh..wh.aufs`), which is not content.
pub const AUFS_META_PREFIX: &str = ".wh..wh.";

/// What a layer member means when the layer is applied over the ones
/// below it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// Content: the member itself.
    Ordinary,
    /// `DIR/.wh.NAME`: `DIR/NAME` is deleted from the layers below.
    Whiteout { target: String },
    /// `DIR/.wh..wh..opq`: what the layers below have in `DIR` is hidden;
    /// only this layer's members in it remain. `dir` is `""` for the root.
    Opaque { dir: String },
    /// AUFS metadata at the root (`.wh..wh.plnk/…`), which appliers skip.
    AufsMeta,
}

/// Why a layer member's whiteout was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WhiteoutError {
    Name(NameError),
    /// `.wh.`, `.wh..` or `.wh...`: a whiteout of nothing, of its own
    /// directory or of its parent.
    NoTarget {
        name: String,
    },
}

impl fmt::Display for WhiteoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WhiteoutError::Name(e) => e.fmt(f),
            WhiteoutError::NoTarget { name } => {
                write!(
                    f,
                    "whiteout {name} names no file in its directory",
                    name = crate::Quoted(name)
                )
            }
        }
    }
}

/// What the layer member `name` (as the archive spells it) means: a
/// whiteout, an opaque directory marker, AUFS metadata or content.
pub fn classify(name: &str) -> Result<Entry, WhiteoutError> {
    let normalised = normalise(name).map_err(WhiteoutError::Name)?;
    if normalised.starts_with(AUFS_META_PREFIX) && normalised != OPAQUE_WHITEOUT {
        return Ok(Entry::AufsMeta);
    }
    let (dir, base) = match last_slash(&normalised) {
        Some(slash) => (&normalised[..slash], &normalised[slash + 1..]),
        None => ("", normalised.as_str()),
    };
    if base == OPAQUE_WHITEOUT {
        return Ok(Entry::Opaque { dir: dir.into() });
    }
    let Some(deleted) = base.strip_prefix(WHITEOUT_PREFIX) else {
        return Ok(Entry::Ordinary);
    };
    if matches!(deleted, "" | "." | "..") {
        return Err(WhiteoutError::NoTarget { name: name.into() });
    }
    let mut target = String::with_capacity(dir.len() + 1 + deleted.len());
    if !dir.is_empty() {
        target.push_str(dir);
        target.push('/');
    }
    target.push_str(deleted);
    Ok(Entry::Whiteout { target })
}
