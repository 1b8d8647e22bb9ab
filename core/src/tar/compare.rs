//! Two stacked filesystems compared: which layers they share, and which
//! paths differ and how.
//!
//! Each side is what [`Stack`](super::stack::Stack) made of an image's
//! layers (the paths a member names, each with the layer it comes from)
//! plus each member's header fields. The rules:
//!
//! - a layer (by digest) is *shared* when both images list it, otherwise
//!   it is only one side's;
//! - a path only one side has is that side's;
//! - the same path with another type, mode, owner, size or link target
//!   differs in its [metadata](How::Metadata);
//! - a path both sides take from the same layer (the same digest) is the
//!   same file: a layer's bytes are its digest's;
//! - regular files with the same metadata from different layers are
//!   compared by their content digests, where the reader hashed both
//!   (the browser inspector hashes files of at most 1 MiB as the layer
//!   streams past): the same digest is the same file, another one differs
//!   in its [content](How::Content); without both, they
//!   [may differ](How::MayDiffer);
//! - other members with the same metadata (directories, links, devices)
//!   are the same: they have no content of their own.
//!
//! Each side's paths come in byte order, each once, as
//! [`Stack::paths`](super::stack::Stack::paths) gives them, and the answer
//! is in that order: one pass over both. Sides out of order are refused
//! rather than sorted here: sorting pulled std's stable sort into the
//! inspector's layer module (about 4 KB of its .wasm) for an order the
//! stack already has.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// A member's type, from its header's type byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `'0'`, NUL (old tars) and `'7'` (contiguous files): a regular file.
    File,
    /// `'1'`.
    Hardlink,
    /// `'2'`.
    Symlink,
    /// `'3'`.
    Char,
    /// `'4'`.
    Block,
    /// `'5'`.
    Dir,
    /// `'6'`.
    Fifo,
    /// Any other type byte (GNU sparse files, volume labels…).
    Other(u8),
}

impl Kind {
    /// The kind of a member whose header's type byte is `typeflag`.
    pub fn of(typeflag: u8) -> Kind {
        match typeflag {
            b'0' | 0 | b'7' => Kind::File,
            b'1' => Kind::Hardlink,
            b'2' => Kind::Symlink,
            b'3' => Kind::Char,
            b'4' => Kind::Block,
            b'5' => Kind::Dir,
            b'6' => Kind::Fifo,
            other => Kind::Other(other),
        }
    }
}

/// The header fields of a stacked path's member that tell two versions of
/// it apart, and its content digest if the reader hashed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metadata<'a> {
    pub kind: Kind,
    /// The permission bits (and set-id and sticky bits).
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    /// The content's length (0 for all but regular files).
    pub size: u64,
    /// The link target of a hard or symbolic link (`""` otherwise).
    pub link: &'a str,
    /// The content digest of a regular file the reader hashed.
    pub digest: Option<&'a str>,
}

impl Metadata<'_> {
    /// Everything but the content digest equal.
    fn same_as(&self, other: &Metadata<'_>) -> bool {
        (
            self.kind, self.mode, self.uid, self.gid, self.size, self.link,
        ) == (
            other.kind, other.mode, other.uid, other.gid, other.size, other.link,
        )
    }
}

/// A path of a stacked filesystem that a member names (directories only
/// implied by the paths below them are not compared).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StackedPath<'a> {
    pub path: &'a str,
    /// The position of the layer its member comes from.
    pub layer: usize,
    pub metadata: Metadata<'a>,
}

/// One image's stacked filesystem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Filesystem<'a> {
    /// The layers' digests, lowest first.
    pub layers: &'a [&'a str],
    /// Its paths, in byte order, each once.
    pub paths: &'a [StackedPath<'a>],
}

/// One of the two filesystems compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    A,
    B,
}

/// Why two filesystems were not compared.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CompareError {
    /// `side`'s `path` comes after `previous` (or is listed twice), not in
    /// byte order.
    OutOfOrder {
        side: Side,
        previous: String,
        path: String,
    },
}

impl fmt::Display for CompareError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompareError::OutOfOrder {
                side,
                previous,
                path,
            } => write!(
                f,
                "filesystem {side:?}: path {path} comes after {previous}, not in byte order",
                path = crate::Quoted(path),
                previous = crate::Quoted(previous)
            ),
        }
    }
}

/// How a path differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    /// Only in the first filesystem.
    OnlyA,
    /// Only in the second.
    OnlyB,
    /// Another type, mode, owner, size or link target.
    Metadata,
    /// Regular files with the same metadata whose content digests differ.
    Content,
    /// Regular files with the same metadata from different layers, not
    /// both hashed: their content may differ.
    MayDiffer,
}

/// A path that differs: its position in each side's `paths` (`None` on
/// the side that does not have it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Difference {
    pub a: Option<usize>,
    pub b: Option<usize>,
    pub how: How,
}

/// The layers of two images: positions in each side's `layers`, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layers {
    /// The first image's layers the second lists too.
    pub shared: Vec<usize>,
    /// The first image's layers the second does not list.
    pub only_a: Vec<usize>,
    /// The second image's layers the first does not list.
    pub only_b: Vec<usize>,
}

/// Two filesystems compared.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Comparison {
    pub layers: Layers,
    /// The paths that differ, in path order.
    pub paths: Vec<Difference>,
}

/// Compares filesystem `a` with `b`.
pub fn compare(a: &Filesystem<'_>, b: &Filesystem<'_>) -> Result<Comparison, CompareError> {
    in_order(a, Side::A)?;
    in_order(b, Side::B)?;
    let mut layers = Layers::default();
    for (i, digest) in a.layers.iter().enumerate() {
        if b.layers.contains(digest) {
            layers.shared.push(i);
        } else {
            layers.only_a.push(i);
        }
    }
    layers.only_b = (0..b.layers.len())
        .filter(|&i| !a.layers.contains(&b.layers[i]))
        .collect();

    let mut paths = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < a.paths.len() || j < b.paths.len() {
        let x = a.paths.get(i).map(|x| (i, x));
        let y = b.paths.get(j).map(|y| (j, y));
        let difference = match (x, y) {
            (Some((n, x)), Some((m, y))) if x.path == y.path => {
                i += 1;
                j += 1;
                differs(a, x, b, y).map(|how| Difference {
                    a: Some(n),
                    b: Some(m),
                    how,
                })
            }
            (Some((n, x)), Some((_, y))) if x.path < y.path => {
                i += 1;
                Some(only_a(n))
            }
            (Some((n, _)), None) => {
                i += 1;
                Some(only_a(n))
            }
            (_, Some((m, _))) => {
                j += 1;
                Some(Difference {
                    a: None,
                    b: Some(m),
                    how: How::OnlyB,
                })
            }
            (None, None) => None,
        };
        paths.extend(difference);
    }
    Ok(Comparison { layers, paths })
}

fn only_a(n: usize) -> Difference {
    Difference {
        a: Some(n),
        b: None,
        how: How::OnlyA,
    }
}

/// How the same path of two filesystems differs, if it does.
fn differs(
    a: &Filesystem<'_>,
    x: &StackedPath<'_>,
    b: &Filesystem<'_>,
    y: &StackedPath<'_>,
) -> Option<How> {
    let (p, q) = (&x.metadata, &y.metadata);
    if !p.same_as(q) {
        return Some(How::Metadata);
    }
    let same_layer =
        a.layers.get(x.layer).is_some() && a.layers.get(x.layer) == b.layers.get(y.layer);
    if same_layer || p.kind != Kind::File {
        return None;
    }
    match (p.digest, q.digest) {
        (Some(d), Some(e)) if d == e => None,
        (Some(_), Some(_)) => Some(How::Content),
        _ => Some(How::MayDiffer),
    }
}

/// Whether `fs`'s paths are in byte order, each once.
fn in_order(fs: &Filesystem<'_>, side: Side) -> Result<(), CompareError> {
    match fs.paths.windows(2).find(|w| w[0].path >= w[1].path) {
        Some(w) => Err(CompareError::OutOfOrder {
            side,
            previous: w[0].path.into(),
            path: w[1].path.into(),
        }),
        None => Ok(()),
    }
}
