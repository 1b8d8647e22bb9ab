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

/// Writes `before`, then `name` quoted as `{:?}` quotes it, then `after`:
/// the shape of most error messages that name an input. One path for the
/// messages of [`reference::ReferenceError`] and [`tar::Refusal`]: a
/// `write!` per message cost the npm module 299 bytes more (97 for the
/// tar refusals, 202 for the reference errors, after wasm-opt).
pub(crate) fn write_quoted(
    f: &mut core::fmt::Formatter<'_>,
    before: &str,
    name: &str,
    after: &str,
) -> core::fmt::Result {
    f.write_str(before)?;
    core::fmt::Debug::fmt(name, f)?;
    f.write_str(after)
}
