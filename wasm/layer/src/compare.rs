//! ferry-core's comparison of two stacked filesystems behind a C ABI: the
//! page sends both sides (each image's layer digests and the stacked
//! paths a member names, with their header fields) and gets back the
//! shared layers and the paths that differ. This module only encodes and
//! decodes; every rule is [`ferry_core::tar::compare`]'s.
//!
//! 1. `compare_input(len) -> ptr`: room for both encoded sides;
//! 2. `compare_run(len) -> n`: compares them; the answer is the `n` bytes
//!    at `compare_output()`; [`MALFORMED`] if the sides could not be
//!    decoded, [`OUT_OF_ORDER`] if a side's paths are not in byte order,
//!    each once (ferry-core's `CompareError::OutOfOrder`).
//!
//! Encodings (integers little-endian; a string is its byte length as a
//! u32, then its UTF-8 bytes):
//!
//! - a side: a u32 count and that many layer digests (strings); a u32
//!   count and that many paths (in byte order, each once), each its path (a string), its layer (u32),
//!   its header's type byte (u8), mode (u32), uid, gid and size (u64 each),
//!   link target (a string), then a byte 1 and its content digest (a
//!   string) if it was hashed, else a byte 0; the input is side A, then
//!   side B;
//! - the answer: the shared layers, those only A has, those only B has,
//!   each a u32 count and that many u32 positions (in A's layers for the
//!   first two, B's for the third); then a u32 count of paths that differ,
//!   each its position in A's paths and in B's ([`NONE`] for the side
//!   without it, as u32s) and how (a byte: [`ONLY_A`], [`ONLY_B`],
//!   [`METADATA`], [`CONTENT`], [`MAY_DIFFER`]).

use std::cell::RefCell;

use ferry_core::tar::compare::{Comparison, Filesystem, How, Kind, Metadata, StackedPath, compare};

use crate::abi::{Buffers, put_u32};

/// `compare_run`: the sides could not be decoded.
pub const MALFORMED: i32 = -1;
/// `compare_run`: a side's paths are not in byte order, each once.
pub const OUT_OF_ORDER: i32 = -2;
/// The position of a path on the side that does not have it.
pub const NONE: u32 = u32::MAX;
/// Only in A.
pub const ONLY_A: u8 = 0;
/// Only in B.
pub const ONLY_B: u8 = 1;
/// Another type, mode, owner, size or link target.
pub const METADATA: u8 = 2;
/// Regular files whose content digests differ.
pub const CONTENT: u8 = 3;
/// Regular files from different layers, not both hashed.
pub const MAY_DIFFER: u8 = 4;

/// Reads the encoding, front to back; `None` once it runs out.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn str(&mut self) -> Option<&'a str> {
        let n = self.u32()? as usize;
        std::str::from_utf8(self.take(n)?).ok()
    }
}

/// One decoded side: its layers' digests and its paths.
type Side<'a> = (Vec<&'a str>, Vec<StackedPath<'a>>);

fn side<'a>(r: &mut Reader<'a>) -> Option<Side<'a>> {
    // Counts come from the host: no room is reserved before the items are read.
    let n = r.u32()?;
    let layers = (0..n).map(|_| r.str()).collect::<Option<_>>()?;
    let n = r.u32()?;
    let mut paths = Vec::new();
    for _ in 0..n {
        let path = r.str()?;
        let layer = r.u32()? as usize;
        let kind = Kind::of(r.u8()?);
        let (mode, uid, gid, size) = (r.u32()?, r.u64()?, r.u64()?, r.u64()?);
        let link = r.str()?;
        let digest = match r.u8()? {
            0 => None,
            1 => Some(r.str()?),
            _ => return None,
        };
        paths.push(StackedPath {
            path,
            layer,
            metadata: Metadata {
                kind,
                mode,
                uid,
                gid,
                size,
                link,
                digest,
            },
        });
    }
    Some((layers, paths))
}

/// Decodes both sides; `None` if they are cut short, have bytes left over,
/// a string that is not UTF-8 or a hashed byte that is neither 0 nor 1.
pub fn decode(bytes: &[u8]) -> Option<(Side<'_>, Side<'_>)> {
    let mut r = Reader(bytes);
    let a = side(&mut r)?;
    let b = side(&mut r)?;
    r.0.is_empty().then_some((a, b))
}

/// Encodes a comparison.
pub fn encode(comparison: &Comparison, out: &mut Vec<u8>) {
    let layers = &comparison.layers;
    for list in [&layers.shared, &layers.only_a, &layers.only_b] {
        put_u32(out, list.len() as u32);
        for &i in list {
            put_u32(out, i as u32);
        }
    }
    put_u32(out, comparison.paths.len() as u32);
    for d in &comparison.paths {
        put_u32(out, d.a.map_or(NONE, |i| i as u32));
        put_u32(out, d.b.map_or(NONE, |i| i as u32));
        out.push(match d.how {
            How::OnlyA => ONLY_A,
            How::OnlyB => ONLY_B,
            How::Metadata => METADATA,
            How::Content => CONTENT,
            How::MayDiffer => MAY_DIFFER,
        });
    }
}

/// Compares the encoded sides: the answer's bytes, or what
/// `compare_run` answers for sides it cannot compare.
pub fn run(bytes: &[u8]) -> Result<Vec<u8>, i32> {
    let ((a_layers, a_paths), (b_layers, b_paths)) = decode(bytes).ok_or(MALFORMED)?;
    let a = Filesystem {
        layers: &a_layers,
        paths: &a_paths,
    };
    let b = Filesystem {
        layers: &b_layers,
        paths: &b_paths,
    };
    let comparison = compare(&a, &b).map_err(|_| OUT_OF_ORDER)?;
    let mut out = Vec::new();
    encode(&comparison, &mut out);
    Ok(out)
}

thread_local! {
    static STATE: RefCell<Buffers> = RefCell::new(Buffers::default());
}

/// Room for `len` bytes of both encoded sides.
#[allow(unsafe_code)] // an export name; no unsafe code
#[unsafe(no_mangle)]
pub extern "C" fn compare_input(len: u32) -> *mut u8 {
    STATE.with_borrow_mut(|s| s.room(len))
}

/// Compares the first `len` bytes of the input: the answer's length, or
/// [`MALFORMED`] or [`OUT_OF_ORDER`].
#[allow(unsafe_code)] // an export name; no unsafe code
#[unsafe(no_mangle)]
pub extern "C" fn compare_run(len: u32) -> i32 {
    STATE.with_borrow_mut(|s| match s.written(len).map_or(Err(MALFORMED), run) {
        Ok(answer) => {
            s.output = answer;
            s.output.len() as i32
        }
        Err(code) => code,
    })
}

/// Where the answer is.
#[allow(unsafe_code)] // an export name; no unsafe code
#[unsafe(no_mangle)]
pub extern "C" fn compare_output() -> *const u8 {
    STATE.with_borrow(|s| s.output.as_ptr())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::put_str;

    /// A side with one layer and one path: a regular file of 3 bytes.
    fn one_file(out: &mut Vec<u8>, layer: &str, digest: Option<&str>) {
        put_u32(out, 1);
        put_str(out, layer);
        put_u32(out, 1);
        put_str(out, "etc/hostname");
        put_u32(out, 0);
        out.push(b'0');
        put_u32(out, 0o644);
        for n in [0u64, 0, 3] {
            out.extend_from_slice(&n.to_le_bytes());
        }
        put_str(out, "");
        match digest {
            Some(d) => {
                out.push(1);
                put_str(out, d);
            }
            None => out.push(0),
        }
    }

    #[test]
    fn sides_decode_to_the_layers_and_paths_they_encode() {
        let mut bytes = Vec::new();
        one_file(&mut bytes, "sha256:a", Some("sha256:1"));
        one_file(&mut bytes, "sha256:b", None);
        let ((a_layers, a_paths), (b_layers, b_paths)) = decode(&bytes).unwrap();
        assert_eq!((a_layers, b_layers), (vec!["sha256:a"], vec!["sha256:b"]));
        let file = |digest| StackedPath {
            path: "etc/hostname",
            layer: 0,
            metadata: Metadata {
                kind: Kind::File,
                mode: 0o644,
                uid: 0,
                gid: 0,
                size: 3,
                link: "",
                digest,
            },
        };
        assert_eq!(
            (a_paths, b_paths),
            (vec![file(Some("sha256:1"))], vec![file(None)])
        );
    }

    #[test]
    fn sides_cut_short_with_bytes_left_over_or_a_bad_hashed_byte_are_malformed() {
        let mut whole = Vec::new();
        one_file(&mut whole, "sha256:a", None);
        one_file(&mut whole, "sha256:b", None);
        assert!(decode(&whole).is_some());
        assert_eq!(decode(&whole[..whole.len() - 1]), None);
        let mut longer = whole.clone();
        longer.push(0);
        assert_eq!(decode(&longer), None);
        let mut bad = whole.clone();
        *bad.last_mut().unwrap() = 2;
        assert_eq!(decode(&bad), None);
    }

    #[test]
    fn a_comparison_through_the_abi_answers_the_layers_then_the_paths_that_differ() {
        let mut bytes = Vec::new();
        one_file(&mut bytes, "sha256:a", None);
        one_file(&mut bytes, "sha256:b", None);
        let at = compare_input(bytes.len() as u32);
        STATE.with_borrow_mut(|s| s.host_writes(at, &bytes));
        let n = compare_run(bytes.len() as u32);
        let mut want = Vec::new();
        // shared: none; only A: [0]; only B: [0]; one path that may differ.
        for n in [0, 1, 0, 1, 0, 1, 0, 0] {
            put_u32(&mut want, n);
        }
        want.push(MAY_DIFFER);
        STATE.with_borrow(|s| assert_eq!(s.output, want));
        assert_eq!(n as usize, want.len());
        assert_eq!(compare_run(3), MALFORMED);
    }

    #[test]
    fn a_side_with_a_path_twice_is_out_of_order() {
        let mut bytes = Vec::new();
        one_file(&mut bytes, "sha256:a", None);
        // Side B: its one path, then the same path again.
        let mut b = Vec::new();
        one_file(&mut b, "sha256:b", None);
        let paths_at = 4 + 4 + "sha256:b".len();
        let path = b[paths_at + 4..].to_vec();
        b[paths_at..paths_at + 4].copy_from_slice(&2u32.to_le_bytes());
        b.extend_from_slice(&path);
        bytes.extend_from_slice(&b);
        assert_eq!(run(&bytes), Err(OUT_OF_ORDER));
    }
}
