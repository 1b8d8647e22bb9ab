//! tar-split metadata (`github.com/vbatts/tar-split`, `tar/storage`): what
//! containers/storage keeps beside a layer (`<id>.tar-split.gz`) so that
//! reading the layer back yields the very tar stream it was applied from.
//!
//! The metadata is one JSON object per line, in stream order:
//! - a segment (`type` 2): raw bytes of the stream that are not file
//!   content (headers, pax records, padding, the end blocks), in
//!   `payload` as base64;
//! - a file (`type` 1): one per member, its `name` (or `name_raw`, base64,
//!   when not UTF-8), its content's `size` (left out when 0) and, for
//!   content, the CRC-64 (ISO polynomial, big-endian) of it in `payload`;
//!   the content itself is read back from the layer's files.
//!
//! `position` counts entries from 0. tar-split refuses a file name twice
//! (after `filepath.Clean`); [`Packer`] does too.

use alloc::collections::BTreeSet;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use crate::base64::{Alphabet, decode_padded, encode_padded};

/// The CRC-64 of tar-split's file entries: ISO 3309 polynomial, reflected,
/// all ones in and out, as Go's `hash/crc64` with `crc64.ISO`.
#[derive(Debug, Clone, Copy)]
pub struct Crc64 {
    state: u64,
}

const ISO_REVERSED: u64 = 0xD800_0000_0000_0000;

const fn crc_table() -> [u64; 256] {
    let mut table = [0u64; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u64;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ ISO_REVERSED
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

static CRC_TABLE: [u64; 256] = crc_table();

impl Default for Crc64 {
    fn default() -> Self {
        Crc64 { state: !0 }
    }
}

impl Crc64 {
    pub fn update(&mut self, bytes: &[u8]) {
        let mut crc = self.state;
        for b in bytes {
            crc = CRC_TABLE[((crc as u8) ^ b) as usize] ^ (crc >> 8);
        }
        self.state = crc;
    }

    /// The checksum as Go's `Sum(nil)` writes it: 8 bytes, big-endian.
    pub fn finish(&self) -> [u8; 8] {
        (!self.state).to_be_bytes()
    }
}

/// One line of tar-split metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// Raw bytes of the stream.
    Segment(Vec<u8>),
    /// A member whose `size` bytes of content come from the layer's file
    /// `name`, with this CRC-64 (`None` when there is no content).
    File {
        name: Vec<u8>,
        size: u64,
        crc: Option<[u8; 8]>,
    },
}

/// Why tar-split metadata does not read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TarSplitError {
    /// Line `line` is not an entry.
    Malformed { line: usize, reason: &'static str },
    /// A file name given twice.
    DuplicatePath { name: String },
}

impl fmt::Display for TarSplitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TarSplitError::Malformed { line, reason } => {
                write!(f, "tar-split entry {line}: {reason}")
            }
            TarSplitError::DuplicatePath { name } => crate::write_quoted(
                f,
                "tar-split names ",
                name,
                " twice: duplicates of file paths not supported",
            ),
        }
    }
}

/// Writes entries as JSON lines, numbering them and refusing a file name
/// twice as tar-split's packer does.
#[derive(Debug, Default)]
pub struct Packer {
    position: usize,
    seen: BTreeSet<Vec<u8>>,
}

impl Packer {
    /// Appends `entry`'s line (with its newline) to `out`.
    pub fn add(&mut self, entry: &Entry, out: &mut Vec<u8>) -> Result<(), TarSplitError> {
        match entry {
            Entry::Segment(bytes) => {
                // Empty (the last segment) is `""`, as Go encodes an empty
                // slice that is not nil.
                out.extend_from_slice(b"{\"type\":2,\"payload\":");
                quoted_base64(bytes, out);
            }
            Entry::File { name, size, crc } => {
                if !self.seen.insert(clean(name)) {
                    return Err(TarSplitError::DuplicatePath {
                        name: String::from_utf8_lossy(name).into_owned(),
                    });
                }
                out.extend_from_slice(b"{\"type\":1,");
                match core::str::from_utf8(name) {
                    Ok(text) => {
                        out.extend_from_slice(b"\"name\":");
                        // A string always serializes.
                        let quoted = serde_json::to_string(text).unwrap_or_default();
                        out.extend_from_slice(quoted.as_bytes());
                    }
                    Err(_) => {
                        out.extend_from_slice(b"\"name_raw\":");
                        quoted_base64(name, out);
                    }
                }
                if *size != 0 {
                    out.extend_from_slice(b",\"size\":");
                    out.extend_from_slice(size.to_string().as_bytes());
                }
                out.extend_from_slice(b",\"payload\":");
                match crc {
                    Some(crc) => quoted_base64(crc, out),
                    None => out.extend_from_slice(b"null"),
                }
            }
        }
        out.extend_from_slice(b",\"position\":");
        out.extend_from_slice(self.position.to_string().as_bytes());
        out.extend_from_slice(b"}\n");
        self.position += 1;
        Ok(())
    }
}

fn quoted_base64(bytes: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    out.extend_from_slice(encode_padded(bytes, Alphabet::Standard).as_bytes());
    out.push(b'"');
}

/// `filepath.Clean` of a member name, for telling duplicates apart.
fn clean(name: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(name);
    let absolute = text.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in text.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !absolute {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    let mut out = String::new();
    if absolute {
        out.push('/');
    }
    out.push_str(&crate::join(&parts, "/"));
    if out.is_empty() {
        out.push('.');
    }
    out.into_bytes()
}

/// Reads one line of metadata (`line` counts from 1, for errors).
pub fn parse_line(text: &[u8], line: usize) -> Result<Entry, TarSplitError> {
    let malformed = |reason| TarSplitError::Malformed { line, reason };
    let value: serde_json::Value =
        serde_json::from_slice(text).map_err(|_| malformed("not a JSON object"))?;
    let bytes_of = |field: &str| -> Result<Option<Vec<u8>>, TarSplitError> {
        match value.get(field) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) => decode_padded(s, Alphabet::Standard)
                .map(Some)
                .map_err(|_| malformed("payload is not base64")),
            Some(_) => Err(malformed("payload is not a string")),
        }
    };
    match value.get("type").and_then(serde_json::Value::as_u64) {
        Some(2) => Ok(Entry::Segment(bytes_of("payload")?.unwrap_or_default())),
        Some(1) => {
            let name = match bytes_of("name_raw")? {
                Some(raw) if !raw.is_empty() => raw,
                _ => value
                    .get("name")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or_default()
                    .as_bytes()
                    .to_vec(),
            };
            let size = match value.get("size") {
                None => 0,
                Some(v) => v.as_u64().ok_or(malformed("size is not a count"))?,
            };
            let crc = match bytes_of("payload")? {
                None => None,
                Some(b) if b.is_empty() => None,
                Some(b) => Some(
                    <[u8; 8]>::try_from(b.as_slice())
                        .map_err(|_| malformed("checksum is not 8 bytes"))?,
                ),
            };
            Ok(Entry::File { name, size, crc })
        }
        _ => Err(malformed("unknown entry type")),
    }
}

/// Reads a whole metadata file, refusing a file name given twice.
pub fn parse(text: &[u8]) -> Result<Vec<Entry>, TarSplitError> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (n, line) in text.split(|b| *b == b'\n').enumerate() {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let entry = parse_line(line, n + 1)?;
        if let Entry::File { name, .. } = &entry
            && !seen.insert(clean(name))
        {
            return Err(TarSplitError::DuplicatePath {
                name: String::from_utf8_lossy(name).to_string(),
            });
        }
        out.push(entry);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc64_is_gos_iso_checksum() {
        // Go: crc64.Checksum([]byte("hello"), crc64.MakeTable(crc64.ISO))
        let mut crc = Crc64::default();
        crc.update(b"hello");
        assert_eq!(u64::from_be_bytes(crc.finish()), 0x3c3e_eee2_d810_0000);
        let mut split = Crc64::default();
        split.update(b"hel");
        split.update(b"lo");
        assert_eq!(split.finish(), crc.finish());
    }

    #[test]
    fn entries_are_written_as_tar_split_writes_them() {
        let mut packer = Packer::default();
        let mut out = Vec::new();
        packer
            .add(&Entry::Segment(b"ab".to_vec()), &mut out)
            .unwrap();
        packer
            .add(
                &Entry::File {
                    name: b"etc/".to_vec(),
                    size: 0,
                    crc: None,
                },
                &mut out,
            )
            .unwrap();
        packer
            .add(
                &Entry::File {
                    name: b"a\xff".to_vec(),
                    size: 5,
                    crc: Some([0, 0, 0, 0, 0, 0, 0, 1]),
                },
                &mut out,
            )
            .unwrap();
        assert_eq!(
            core::str::from_utf8(&out).unwrap(),
            "{\"type\":2,\"payload\":\"YWI=\",\"position\":0}\n\
             {\"type\":1,\"name\":\"etc/\",\"payload\":null,\"position\":1}\n\
             {\"type\":1,\"name_raw\":\"Yf8=\",\"size\":5,\"payload\":\"AAAAAAAAAAE=\",\"position\":2}\n"
        );
        let back = parse(&out).unwrap();
        assert_eq!(back.len(), 3);
        assert_eq!(back[0], Entry::Segment(b"ab".to_vec()));
        assert!(matches!(&back[2], Entry::File { name, size: 5, .. } if name == b"a\xff"));
    }

    #[test]
    fn a_name_twice_is_refused() {
        let mut packer = Packer::default();
        let mut out = Vec::new();
        let file = |name: &[u8]| Entry::File {
            name: name.to_vec(),
            size: 0,
            crc: None,
        };
        packer.add(&file(b"etc/"), &mut out).unwrap();
        assert!(matches!(
            packer.add(&file(b"./etc"), &mut out),
            Err(TarSplitError::DuplicatePath { .. })
        ));
    }
}
