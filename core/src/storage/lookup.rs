//! Which stored image a `containers-storage:` reference names, and the
//! manifest an image is read out with, as containers/image's storage
//! transport decides (`storageReference.resolveImage`,
//! `LayerInfosForCopy`).

use alloc::string::String;
use alloc::vec::Vec;

use serde_json::Value;

use super::manifest_key;
use super::records::{self, digests, has_big_data, names};
use crate::choose::{ChooseOptions, choose_instance};
use crate::manifest::Manifest;
use crate::manifest::edit::{EditError, LayerUpdate, with_layers};
use crate::media_type as mt;
use crate::reference::Named;
use crate::reference::storage::StorageReference;
use crate::{Digest, List, Platform};

/// The image `reference` names among `images`: by ID (full, or a prefix
/// only one image has), by exact name, or for `NAME@DIGEST`, an image of
/// that repository with that digest; among several, the one that is the
/// instance `list_choice` picks from a list with that digest
/// ([`is_chosen_instance`]). A name given with an ID must be one of the
/// image's repositories.
pub fn find_image<'a>(
    images: &'a [Value],
    reference: &StorageReference,
    list_choice: &mut dyn FnMut(&Value, &Digest) -> bool,
) -> Option<&'a Value> {
    let ids = images.iter().filter_map(records::id);
    let by_id = reference
        .resolve_id(ids)
        .and_then(|id| images.iter().find(|r| records::id(r) == Some(id.as_str())));
    let by_id_found = by_id.is_some();
    let found = match (&reference.named, by_id) {
        (_, Some(image)) => Some(image),
        (None, None) => None,
        (Some(named), None) => {
            let full = alloc::format!("{named}");
            images
                .iter()
                .find(|r| names(r).any(|n| n == full))
                .or_else(|| {
                    let digest = named.digest()?;
                    let mut chosen = None;
                    for image in images {
                        if digests(image).contains(&digest.as_str())
                            && matches_repository(image, named)
                            && (chosen.is_none() || list_choice(image, digest))
                        {
                            chosen = Some(image);
                        }
                    }
                    chosen
                })
        }
    }?;
    // Text that was an ID prefix is no name (containers/image drops it).
    let by_prefix = reference.id.is_none() && reference.id_prefix.is_some() && by_id_found;
    match &reference.named {
        Some(named) if !by_prefix && !matches_repository(found, named) => None,
        _ => Some(found),
    }
}

/// Whether one of the image's names is in `named`'s repository.
fn matches_repository(image: &Value, named: &Named) -> bool {
    names(image).any(|n| Named::parse_normalized(n).is_ok_and(|p| p.name() == named.name()))
}

/// Whether `image` is the instance of the list `list` (stored with the
/// image under `manifest-DIGEST`) that `wanted` runs.
pub fn is_chosen_instance(
    image: &Value,
    list: &[u8],
    wanted: &Platform,
    options: &ChooseOptions,
) -> bool {
    let Ok(list) = List::parse(list) else {
        return false;
    };
    let Ok(choice) = choose_instance(&list, wanted, options) else {
        return false;
    };
    Digest::parse(&choice.digest).is_ok_and(|d| has_big_data(image, &manifest_key(&d)))
}

/// The big-data key of the manifest to read for `reference`: the one its
/// digest names, if the image has it, else the image's current one.
pub fn manifest_key_for(image: &Value, reference: &StorageReference) -> String {
    if let Some(digest) = reference.named.as_ref().and_then(Named::digest) {
        let key = manifest_key(digest);
        if has_big_data(image, &key) {
            return key;
        }
    }
    super::MANIFEST_KEY.into()
}

/// The manifest an image is read out with: its layers as the store holds
/// them, uncompressed tars named by their diff IDs (`layers`, base first:
/// digest and size), as containers/image's storage source reports them.
pub fn uncompressed_manifest(
    manifest: &Manifest,
    layers: &[(Digest, u64)],
) -> Result<Vec<u8>, EditError> {
    let media_type = match manifest {
        Manifest::Oci(_) => mt::OCI_LAYER,
        _ => mt::DOCKER_LAYER,
    };
    let updates: Vec<LayerUpdate> = layers
        .iter()
        .map(|(digest, size)| LayerUpdate {
            digest: digest.as_str().into(),
            size: *size as i64,
            media_type: media_type.into(),
        })
        .collect();
    with_layers(manifest, &updates)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::storage::StorageReference;

    const D1: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const ID: &str = "6b5859431f5a414c2e9d0f36c7f5cd3f0979664ef2b85cf47cf74d0beb1c5181";

    fn images() -> Vec<Value> {
        records::parse_list(
            alloc::format!(
                r#"[{{"id":"{ID}","names":["docker.io/library/a:1"],"digest":"{D1}"}},
                   {{"id":"ffff","names":["quay.io/b:2"]}}]"#
            )
            .as_bytes(),
        )
        .unwrap()
    }

    fn find(text: &str) -> Option<String> {
        let images = images();
        let reference = StorageReference::parse(text).unwrap();
        find_image(&images, &reference, &mut |_, _| false)
            .and_then(records::id)
            .map(String::from)
    }

    #[test]
    fn images_are_found_by_name_id_prefix_and_digest() {
        assert_eq!(find("a:1").as_deref(), Some(ID));
        assert_eq!(find("quay.io/b:2").as_deref(), Some("ffff"));
        assert_eq!(find("6b585").as_deref(), Some(ID));
        assert_eq!(find(&alloc::format!("@{ID}")).as_deref(), Some(ID));
        assert_eq!(find(&alloc::format!("a@{D1}")).as_deref(), Some(ID));
        assert_eq!(find("a:2"), None);
    }

    #[test]
    fn a_digest_of_another_repository_finds_nothing() {
        assert_eq!(find(&alloc::format!("quay.io/b@{D1}")), None);
        assert_eq!(find(&alloc::format!("quay.io/b:2@{ID}")), None);
    }
}
