//! ferry-core: every decision ferry makes about container images, and no
//! I/O.
//!
//! This crate parses, validates and digests manifests and lists, chooses
//! platforms and plans copies. It never touches files, the network, the
//! clock, randomness or the environment, so the same code runs in the
//! native `ferry` CLI and, compiled to WebAssembly, in browsers and edge
//! runtimes, and gives the same answers there.
//!
//! Invariants worth knowing before reading further:
//! - **Raw bytes are the truth.** A parsed manifest keeps the exact bytes
//!   it was read from; digests are computed over those bytes, never over a
//!   re-serialization.
//! - **Go is the reference reader.** Registries and containers/image read
//!   manifests with Go's `encoding/json`; [`json`] reproduces the parts of
//!   its behaviour that decide what a document means (case-insensitive
//!   keys, last duplicate wins, invalid UTF-8 replaced), so ferry accepts
//!   and rejects what they do. [`validate`] then flags what is ambiguous.
//! - **A [`digest::Digest`] is always well formed**, so it is safe as a file
//!   name. Digests inside documents stay strings until they are used.

#![no_std]

extern crate alloc;

pub mod base64;
pub mod blob_info_cache;
pub mod choose;
pub mod copy;
pub mod daemon;
pub mod destination;
pub mod digest;
pub mod inspect;
pub mod json;
pub mod list;
pub mod manifest;
pub mod media_type;
pub mod plan;
pub mod platform;
pub mod reference;
pub mod referrers;
pub mod registry;
pub mod retry;
pub mod storage;
pub mod sync;
pub mod tar;
pub mod trust;
pub mod validate;

pub use digest::{Digest, DigestError};
pub use list::List;
pub use manifest::{Descriptor, Manifest, ManifestError};
pub use platform::Platform;

/// `items` joined with `sep` between them: what `[S]::join` answers. By
/// hand: std's join (`join_generic_copy`, monomorphised once for `String`
/// items and once for `&str`, with its capacity arithmetic and unchecked
/// copies) cost the npm module more than this loop does. Public (hidden)
/// so that ferry-api's messages use the same one.
#[doc(hidden)]
pub fn join<S: AsRef<str>>(items: &[S], sep: &str) -> alloc::string::String {
    let mut out = alloc::string::String::new();
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(sep);
        }
        out.push_str(item.as_ref());
    }
    out
}

/// Writes `before`, then `name` [`Quoted`], then `after`: the shape of
/// most error messages that name an input. One path for the messages of
/// [`reference::ReferenceError`] and [`tar::Refusal`]: a `write!` per
/// message cost the npm module 299 bytes more (97 for the tar refusals,
/// 202 for the reference errors, after wasm-opt).
pub(crate) fn write_quoted(
    f: &mut core::fmt::Formatter<'_>,
    before: &str,
    name: &str,
    after: &str,
) -> core::fmt::Result {
    f.write_str(before)?;
    core::fmt::Display::fmt(&Quoted(name), f)?;
    f.write_str(after)
}

/// A string in double quotes, as messages name their inputs: what `{:?}`
/// writes for ASCII (`\"`, `\\`, `\0`, `\t`, `\r`, `\n`, other control
/// characters as `\u{7f}`), and for the characters that could hide or
/// reorder text in a terminal (all control characters, invisible spaces and
/// formatting, line separators, bidirectional overrides: `\u{9b}`,
/// `\u{200b}`, `\u{202e}`, `\u{feff}`). Other characters beyond ASCII are
/// written as they are, where `{:?}` also escapes combining marks
/// (`\u{301}`) and unassigned code points: telling those apart needs core's
/// Unicode tables, which with `<str as Debug>` cost the npm module 3,655
/// bytes. Public (hidden) so that ferry-api's messages quote the same way.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct Quoted<'a>(pub &'a str);

/// The characters [`Quoted`] escapes as `\u{…}`, each one `{:?}` escapes
/// too: controls (C0, DEL, C1), then spaces and formatting characters that
/// print as nothing or move text (no-break and soft hyphen, the Mongolian
/// vowel separator, the spaces, zero-width characters and marks of
/// U+2000–U+200F, line and paragraph separators, bidirectional embeddings,
/// U+205F–U+206F, the ideographic space, the byte-order mark, interlinear
/// annotation marks, and the tag characters of plane 14).
fn escaped(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{a0}'
                | '\u{ad}'
                | '\u{180e}'
                | '\u{2000}'..='\u{200f}'
                | '\u{2028}'..='\u{202f}'
                | '\u{205f}'..='\u{206f}'
                | '\u{3000}'
                | '\u{feff}'
                | '\u{fff9}'..='\u{fffb}'
                | '\u{e0000}'..='\u{e0fff}'
        )
}

impl core::fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        use core::fmt::Write;
        f.write_char('"')?;
        for c in self.0.chars() {
            match c {
                '"' => f.write_str("\\\"")?,
                '\\' => f.write_str("\\\\")?,
                '\0' => f.write_str("\\0")?,
                '\t' => f.write_str("\\t")?,
                '\r' => f.write_str("\\r")?,
                '\n' => f.write_str("\\n")?,
                c if escaped(c) => write!(f, "\\u{{{:x}}}", u32::from(c))?,
                c => f.write_char(c)?,
            }
        }
        f.write_char('"')
    }
}

#[cfg(test)]
mod tests {
    use super::Quoted;
    use alloc::format;
    use alloc::string::String;

    #[test]
    fn quoted_writes_every_ascii_character_as_debug_does() {
        let all: String = (0u8..128).map(char::from).collect();
        assert_eq!(format!("{}", Quoted(&all)), format!("{all:?}"));
        for c in (0u8..128).map(char::from) {
            let one = String::from(c);
            assert_eq!(format!("{}", Quoted(&one)), format!("{one:?}"), "{c:?}");
        }
    }

    #[test]
    fn quoted_writes_printable_characters_beyond_ascii_as_debug_does() {
        let text = "café/ünïcode:日本語-😀";
        assert_eq!(format!("{}", Quoted(text)), format!("{text:?}"));
    }

    #[test]
    fn quoted_escapes_characters_that_hide_or_move_text_as_debug_does() {
        for text in [
            "\u{85}\u{9b}[31m",
            "\u{a0}\u{ad}\u{180e}",
            "\u{2000}\u{200b}\u{200f}",
            "\u{2028}\u{2029}\u{202e}\u{202f}",
            "\u{205f}\u{2066}\u{206f}",
            "\u{3000}\u{feff}\u{fff9}\u{fffb}",
            "\u{e0001}\u{e0020}\u{e0fff}",
        ] {
            assert_eq!(format!("{}", Quoted(text)), format!("{text:?}"));
        }
    }

    #[test]
    fn quoted_escapes_no_character_that_debug_writes_as_it_is() {
        for c in (0..=0x10ffff)
            .filter_map(char::from_u32)
            .filter(|&c| super::escaped(c))
        {
            let one = String::from(c);
            assert_eq!(format!("{}", Quoted(&one)), format!("{one:?}"), "{c:?}");
        }
    }

    #[test]
    fn quoted_writes_combining_marks_as_they_are() {
        // Where `{:?}` escapes them (`"e\u{301}"`), without its tables.
        assert_eq!(format!("{}", Quoted("e\u{301}")), "\"e\u{301}\"");
    }
}
