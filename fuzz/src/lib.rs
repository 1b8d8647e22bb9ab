//! What ferry's fuzz targets share: how one fuzz input is framed, and the
//! checks more than one target makes.
//!
//! Targets that need more than a document (a platform to choose for, copy
//! options, an operation name) read their input as `HEADER \n DOCUMENT`:
//! everything before the first newline is the header (binary flags and
//! text), everything after it the document, which may contain newlines of
//! its own. An input without a newline is all document, so a compact
//! manifest is a useful input for every target as it is. Each target
//! documents its own header.
//!
//! Invariants are checked with `assert!`: libFuzzer turns a failed
//! assertion into a crash with the input saved under `fuzz/artifacts/`,
//! which is exactly what a broken invariant should produce.

use ferry_core::Platform;
use ferry_core::choose::ChooseOptions;
use ferry_core::list::List;
use ferry_core::media_type::{self as mt, MANIFEST_TYPES};
use sha2::{Digest as _, Sha256};

/// Splits `HEADER \n DOCUMENT`; without a newline, the header is empty.
pub fn split(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|b| *b == b'\n') {
        Some(end) => (&data[..end], &data[end + 1..]),
        None => (&[], data),
    }
}

/// Byte `at` of a header, 0 when the header is shorter.
pub fn byte(header: &[u8], at: usize) -> u8 {
    header.get(at).copied().unwrap_or(0)
}

/// A platform from header text `OS/ARCH/VARIANT/OS.VERSION` (any part may be
/// missing or empty). Deliberately not [`Platform`]'s `FromStr`, which
/// refuses odd characters: list entries can carry any string, and choosing
/// must cope with any wanted platform a library caller builds.
pub fn platform(text: &[u8]) -> Platform {
    let text = String::from_utf8_lossy(text);
    let mut parts = text.splitn(4, '/');
    let mut p = Platform::new(
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    p.os_version = parts.next().unwrap_or("").to_string();
    p
}

/// [`ChooseOptions`] from the low four bits of `flags`.
pub fn choose_options(flags: u8) -> ChooseOptions {
    ChooseOptions {
        prefer_gzip: flags & 1 != 0,
        amd64_levels: flags & 2 != 0,
        windows_os_version: flags & 4 != 0,
        skip_attestations: flags & 8 != 0,
    }
}

/// A media type picked by `selector`: one of the six manifest and list
/// types, or one of the strings containers/image treats specially (empty,
/// the legacy `application/json`) or does not know.
pub fn media_type(selector: u8) -> &'static str {
    const OTHERS: [&str; 3] = ["", "application/json", mt::OCI_CONFIG];
    let i = usize::from(selector) % (MANIFEST_TYPES.len() + OTHERS.len());
    MANIFEST_TYPES
        .get(i)
        .copied()
        .unwrap_or_else(|| OTHERS[i - MANIFEST_TYPES.len()])
}

/// Every media type [`media_type`] can pick, for targets that try them all.
pub fn all_media_types() -> impl Iterator<Item = &'static str> {
    (0..9).map(media_type)
}

/// `sha256:<hex>` of `bytes`, computed with the sha2 crate directly rather
/// than through ferry-core.
pub fn sha256(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let mut out = String::from("sha256:");
    for b in hash.iter() {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// The identifying parts of every entry, in order, for comparing the
/// entries of a list before and after a conversion.
pub fn entry_keys(list: &List) -> Vec<(String, i64, String)> {
    list.entries
        .iter()
        .map(|e| (e.digest_text.clone(), e.size, e.media_type.clone()))
        .collect()
}
