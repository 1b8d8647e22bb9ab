//! containers/storage's on-disk store, as containers/storage 1.43 (podman
//! 4.3) and containers/image 5.23's storage transport write it: the
//! names, IDs and records, decided here; native ferry reads and writes
//! the files.
//!
//! ```text
//! GRAPHROOT/storage.lock                      the store's lock
//! GRAPHROOT/DRIVER-layers/layers.json         layer records, guarded by layers.lock
//! GRAPHROOT/DRIVER-layers/ID.tar-split.gz     how to rebuild a layer's tar stream
//! GRAPHROOT/DRIVER-images/images.json         image records, guarded by images.lock
//! GRAPHROOT/DRIVER-images/ID/KEY              an image's big data (file name: [`big_data_file_name`])
//! GRAPHROOT/vfs/dir/ID                        a vfs layer: the whole tree up to it
//! RUNROOT/DRIVER-layers/mountpoints.json      mount counts, guarded by mountpoints.lock
//! ```
//!
//! A layer's ID chains its diff ID onto its parent's ([`layer_id`]); an
//! image's ID is its config's digest ([`image_id`]). An image keeps its
//! manifest under `manifest` and `manifest-DIGEST`, its config under the
//! config's digest, a list it was chosen from under `manifest-LISTDIGEST`,
//! and signatures under `signature-HEX` ([`signature_key`]).
//!
//! A layer is recorded with the `incomplete` flag before its files are
//! written and the flag is cleared once they are; a writer that finds the
//! flag (a copy killed half-way) deletes the layer, so a half-applied
//! layer is never used.

pub mod config;
pub mod lookup;
pub mod records;
pub mod tar_split;

use alloc::format;
use alloc::string::String;

use crate::digest::Digest;

/// The big-data key of an image's current manifest.
pub const MANIFEST_KEY: &str = "manifest";
/// The flag of a layer whose files are not all written.
pub const INCOMPLETE_FLAG: &str = "incomplete";
/// The suffix of a layer's tar-split file.
pub const TAR_SPLIT_SUFFIX: &str = ".tar-split.gz";

/// The ID containers/image gives a layer with diff ID `diff_id` over
/// `parent`: the diff ID's hex for a base layer, else the SHA-256 hex of
/// `PARENT+DIFFHEX`.
pub fn layer_id(parent: Option<&str>, diff_id: &Digest) -> String {
    match parent {
        None => diff_id.encoded().into(),
        Some(parent) => {
            let chained = format!("{parent}+{}", diff_id.encoded());
            Digest::sha256_of(chained.as_bytes()).encoded().into()
        }
    }
}

/// The ID of an image (schema 2 or OCI) with this config: its digest's hex.
pub fn image_id(config: &Digest) -> String {
    config.encoded().into()
}

/// The big-data key of a manifest (an image's own, or a list it was
/// chosen from) with this digest.
pub fn manifest_key(digest: &Digest) -> String {
    format!("{MANIFEST_KEY}-{digest}")
}

/// The big-data key of the signatures of the manifest with this digest.
pub fn signature_key(digest: &Digest) -> String {
    format!("signature-{}", digest.encoded())
}

/// The file an image's big data `key` is kept in: the key itself when it
/// is only `.`, digits and lower-case letters, else `=` and its standard
/// base64.
pub fn big_data_file_name(key: &str) -> String {
    if key
        .bytes()
        .all(|b| b == b'.' || b.is_ascii_digit() || b.is_ascii_lowercase())
    {
        key.into()
    } else {
        format!(
            "={}",
            crate::base64::encode_padded(key.as_bytes(), crate::base64::Alphabet::Standard)
        )
    }
}

/// Go's `time.RFC3339` of a UTC time in whole seconds, as records'
/// `created` fields hold it.
pub fn rfc3339_utc(unix_seconds: i64) -> String {
    crate::manifest::jws::rfc3339_utc(unix_seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(s: &str) -> Digest {
        Digest::parse(s).unwrap()
    }

    #[test]
    fn layer_ids_chain_as_containers_image_chains_them() {
        // From a store podman 4.3 wrote (`podman load` of ferry's demo image).
        let base =
            digest("sha256:89249a50ae2ef5103cac5400030752c111d4deab360616ee1ad14f979e4815ce");
        let top = digest("sha256:eb2ffb09754193f4431ff6176a99ec94f333ab733345742ddfdb49977f42a7b9");
        let base_id = layer_id(None, &base);
        assert_eq!(base_id, base.encoded());
        assert_eq!(
            layer_id(Some(&base_id), &top),
            "e4ffeae4709089899a2bf8090410d1352012b3c34a8ba22c07660906f2c9e199"
        );
    }

    #[test]
    fn big_data_file_names_are_keys_or_base64() {
        assert_eq!(big_data_file_name("manifest"), "manifest");
        assert_eq!(
            big_data_file_name(
                "manifest-sha256:eb112ecef3640b7905cb82bedd29850959995705417d2725a6d919ee2bcf0395"
            ),
            "=bWFuaWZlc3Qtc2hhMjU2OmViMTEyZWNlZjM2NDBiNzkwNWNiODJiZWRkMjk4NTA5NTk5OTU3MDU0MTdkMjcyNWE2ZDkxOWVlMmJjZjAzOTU="
        );
        assert_eq!(
            signature_key(&digest(
                "sha256:eb112ecef3640b7905cb82bedd29850959995705417d2725a6d919ee2bcf0395"
            )),
            "signature-eb112ecef3640b7905cb82bedd29850959995705417d2725a6d919ee2bcf0395"
        );
    }
}

/// The overlay driver's short link names are this long (`l/NAME`).
pub const OVERLAY_LINK_LEN: usize = 26;

/// A short link name from random bytes: base32's upper-case letters and
/// digits 2–7, as the overlay driver's `generateID` makes them.
pub fn overlay_link_name(random: &[u8; OVERLAY_LINK_LEN]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    random
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(b % 32)]))
        .collect()
}

/// An overlay layer's `lower` file: its parent's short link, then the
/// parent's own lowers, nearest first.
pub fn overlay_lower(parent_link: &str, parent_lower: Option<&str>) -> String {
    match parent_lower.filter(|l| !l.is_empty()) {
        Some(lower) => format!("l/{parent_link}:{lower}"),
        None => format!("l/{parent_link}"),
    }
}

#[cfg(test)]
mod overlay_tests {
    use super::*;

    #[test]
    fn lower_files_list_the_parents_links_nearest_first() {
        // As podman 4.3 wrote them (`podman load` with the overlay driver).
        assert_eq!(
            overlay_lower("IYL3VGAEWKMIGR37FBEQYLBDEE", None),
            "l/IYL3VGAEWKMIGR37FBEQYLBDEE"
        );
        assert_eq!(overlay_lower("B", Some("l/A")), "l/B:l/A");
    }

    #[test]
    fn short_link_names_are_base32_characters() {
        let name = overlay_link_name(&[255; OVERLAY_LINK_LEN]);
        assert_eq!(name.len(), OVERLAY_LINK_LEN);
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
        );
    }
}
