//! Copy planning: every decision of a copy, made before a byte moves.
//!
//! These are containers/image's `copy.Image` decisions, taken apart so that
//! each is a function over plain data:
//! 1. [`plan_top`]: what the top-level manifest means for this copy: a
//!    single image, one instance chosen out of a list, or a list whose
//!    instances are selected (all, by digest, by platform, or none).
//! 2. [`plan_image`]: for each image to copy, the manifest type to write
//!    (and fallbacks), the blobs it needs, and whether it may be changed.
//! 3. [`finish_list`]: after the instances are copied, the list bytes to
//!    write for each candidate type: the original bytes when nothing
//!    changed, so list digests survive copies.
//! 4. [`summarize`]: one [`CopyPlan`] that says what will be written and
//!    moved, for `--dry-run` and the browser.
//!
//! The native engine fetches what these functions ask for (the instance
//! manifests), performs the I/O, and hands results back.

pub mod compression;
mod conversion;

pub use conversion::{
    ListConversion, ManifestConversion, ManifestConversionInput, list_conversion,
    list_type_for_forced, manifest_conversion,
};

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use crate::choose::{Choice, ChooseOptions, NoMatch, choose_instance};
use crate::digest::Digest;
use crate::list::{ConvertOptions, InstanceUpdate, List, ListError, Loss};
use crate::manifest::{self, Descriptor, Manifest, ManifestError};
use crate::media_type as mt;
use crate::platform::Platform;

/// Which images of a list to copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// The one instance this platform would run (skopeo's default,
    /// `--multi-arch system`).
    System(Platform),
    /// The list and every instance (`--all`, `--multi-arch all`).
    All,
    /// The list and the instances named by digest or chosen by platform;
    /// both empty is `--multi-arch index-only`.
    Instances {
        digests: Vec<String>,
        platforms: Vec<Platform>,
    },
}

/// What happens to list entries that are not copied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Unselected {
    /// Keep them in the list (containers/image's only behaviour): the list
    /// is written as it was, pointing at manifests the destination may lack.
    #[default]
    Keep,
    /// Remove them (`--strip-removed-platforms`): a new, smaller list.
    Strip,
}

/// The copy's options, as flags give them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyOptions {
    pub selection: Selection,
    pub choose: ChooseOptions,
    pub unselected: Unselected,
    /// `--format`: a manifest media type.
    pub forced: Option<String>,
    pub remove_signatures: bool,
    pub preserve_digests: bool,
}

/// What the destination declares about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Destination {
    /// Manifest and list types it accepts, preferred first; empty means
    /// anything.
    pub supported_types: Vec<String>,
    /// The digest in the destination reference (`repo@sha256:…`), if any.
    pub reference_digest: Option<String>,
    /// How it wants layers stored.
    pub layer_compression: compression::Desired,
}

impl Destination {
    /// Whether it can store a list with its instances.
    pub fn accepts_lists(&self) -> bool {
        self.supported_types.is_empty() || self.supported_types.iter().any(|t| mt::is_list(t))
    }
}

/// Why a manifest must be written exactly as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum CannotModify {
    /// Its signatures are being copied, and they sign these exact bytes.
    WouldInvalidateSignatures,
    /// The destination reference names its digest.
    DestinationSpecifiesDigest,
    /// `--preserve-digests`.
    PreserveDigests,
}

impl fmt::Display for CannotModify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CannotModify::WouldInvalidateSignatures => {
                "changing it would invalidate its signatures (use --remove-signatures to drop them)"
            }
            CannotModify::DestinationSpecifiesDigest => {
                "the destination reference specifies a digest"
            }
            CannotModify::PreserveDigests => "--preserve-digests was given",
        })
    }
}

/// Whether a manifest may be changed. When several reasons apply, the last
/// in containers/image's order (signatures, digest, --preserve-digests) is
/// the one reported, as there.
pub fn cannot_modify(
    copies_signatures: bool,
    destination_digested: bool,
    preserve_digests: bool,
) -> Option<CannotModify> {
    if preserve_digests {
        Some(CannotModify::PreserveDigests)
    } else if destination_digested {
        Some(CannotModify::DestinationSpecifiesDigest)
    } else if copies_signatures {
        Some(CannotModify::WouldInvalidateSignatures)
    } else {
        None
    }
}

/// Why a copy cannot go ahead as asked.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum PlanError {
    /// The top-level manifest or an instance does not parse.
    Manifest { what: String, error: ManifestError },
    /// No list entry fits the platform.
    NoMatch(NoMatch),
    /// The destination cannot store lists, but a list copy was asked for.
    DestinationRejectsLists { supported_types: Vec<String> },
    /// The destination accepts no list type.
    NoListType { destination_types: Vec<String> },
    /// No manifest type is acceptable to the destination.
    NoManifestType {
        destination_types: Vec<String>,
        encryption: bool,
    },
    /// The forced manifest type (`--format`) is one the destination cannot
    /// store.
    ForcedTypeRefused {
        forced: String,
        destination_types: Vec<String>,
    },
    /// A digest named in the selection is not in the list.
    UnknownInstance { digest: String },
    /// The destination reference's digest matches nothing being written.
    DestinationDigestMismatch { expected: String, actual: String },
    /// The list must change (type or entries) but may not.
    ListMustChange {
        reason: CannotModify,
        change: String,
    },
    /// An instance manifest the plan needs was not provided.
    MissingInstance { digest: String },
    /// An instance is itself a list (nested lists are copied as part of
    /// their parent only).
    NestedList { digest: String },
    /// Editing the list failed.
    List(ListError),
    /// A signed schema 1 manifest whose digest cannot be computed.
    Digest(manifest::jws::JwsError),
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanError::Manifest { what, error } => write!(f, "{what}: {error}"),
            PlanError::NoMatch(e) => e.fmt(f),
            PlanError::DestinationRejectsLists { supported_types } => write!(
                f,
                "the destination cannot store a manifest list (it accepts {}); copy one platform instead",
                supported_types.join(", ")
            ),
            PlanError::NoListType { destination_types } => write!(
                f,
                "the destination accepts no manifest list type (it accepts {})",
                destination_types.join(", ")
            ),
            PlanError::NoManifestType {
                destination_types,
                encryption,
            } => write!(
                f,
                "no manifest type is acceptable: the destination accepts {}{}",
                destination_types.join(", "),
                if *encryption {
                    ", and encryption requires OCI"
                } else {
                    ""
                }
            ),
            PlanError::ForcedTypeRefused {
                forced,
                destination_types,
            } => write!(
                f,
                "the destination cannot store {forced} manifests (it accepts {})",
                destination_types.join(", ")
            ),
            PlanError::UnknownInstance { digest } => {
                write!(f, "instance {digest} is not in the list")
            }
            PlanError::DestinationDigestMismatch { expected, actual } => write!(
                f,
                "the destination reference asks for {expected}, but the manifest to write is {actual}"
            ),
            PlanError::ListMustChange { reason, change } => write!(
                f,
                "the manifest list would have to change ({change}), but it may not: {reason}"
            ),
            PlanError::MissingInstance { digest } => {
                write!(f, "the manifest of instance {digest} was not provided")
            }
            PlanError::NestedList { digest } => write!(
                f,
                "instance {digest} is itself a list; copy its parent list with --all"
            ),
            PlanError::List(e) => e.fmt(f),
            PlanError::Digest(e) => write!(f, "cannot compute the manifest digest: {e}"),
        }
    }
}

impl core::error::Error for PlanError {}

/// The top-level manifest as the source gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Top<'a> {
    pub bytes: &'a [u8],
    /// The type the source reports (a registry's Content-Type, a layout's
    /// descriptor); may be empty, in which case it is guessed.
    pub media_type: &'a str,
    /// Whether the top level has signatures.
    pub has_signatures: bool,
}

impl Top<'_> {
    /// The media type as given, or guessed from the bytes when not.
    pub fn media_type(&self) -> String {
        if self.media_type.is_empty() {
            mt::guess(self.bytes)
        } else {
            self.media_type.to_string()
        }
    }
}

/// What the top-level manifest means for this copy.
#[derive(Debug, Clone, PartialEq)]
pub enum TopPlan {
    /// The top level is an image: copy it as it is.
    Image,
    /// One instance out of a list, for one platform.
    Instance {
        /// The list's digest, which a digested destination may also name.
        list_digest: Digest,
        choice: Choice,
    },
    /// The list and some of its instances.
    List(alloc::boxed::Box<ListPlan>),
}

/// How a list is copied.
#[derive(Debug, Clone, PartialEq)]
pub struct ListPlan {
    pub list: List,
    /// For each entry: copy it, keep it as it is, or drop it.
    pub entries: Vec<EntryAction>,
    pub conversion: ListConversion,
    pub cannot_modify: Option<CannotModify>,
}

/// What happens to one list entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryAction {
    Copy,
    Keep,
    Drop,
}

impl ListPlan {
    /// The entries of the instances to copy, in list order, each digest
    /// once (the first entry naming it). A set, not a search of the output,
    /// so a list of thousands of entries plans in O(n log n).
    pub fn instances_to_copy(&self) -> Vec<&Descriptor> {
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        let mut out = Vec::new();
        for (i, (entry, action)) in self.list.entries.iter().zip(&self.entries).enumerate() {
            if *action == EntryAction::Copy && seen.insert(&entry.digest_text, i).is_none() {
                out.push(entry);
            }
        }
        out
    }
}

/// Decides what the top-level manifest means for the copy.
pub fn plan_top(
    top: &Top<'_>,
    destination: &Destination,
    options: &CopyOptions,
) -> Result<TopPlan, PlanError> {
    let media_type = top.media_type();
    if !mt::is_list(&media_type) {
        // A single image is copied whatever the selection says.
        return Ok(TopPlan::Image);
    }
    let list = List::from_blob(top.bytes, &media_type).map_err(|error| PlanError::Manifest {
        what: "the manifest list".into(),
        error,
    })?;
    let list_digest = Digest::sha256_of(top.bytes);
    let wanted = match &options.selection {
        Selection::System(platform) => {
            let choice =
                choose_instance(&list, platform, &options.choose).map_err(PlanError::NoMatch)?;
            return Ok(TopPlan::Instance {
                list_digest,
                choice,
            });
        }
        Selection::All => None,
        Selection::Instances { digests, platforms } => {
            let mut wanted: Vec<String> = Vec::new();
            for d in digests {
                if list.instance(d).is_none() {
                    return Err(PlanError::UnknownInstance { digest: d.clone() });
                }
                wanted.push(d.clone());
            }
            for p in platforms {
                let choice =
                    choose_instance(&list, p, &options.choose).map_err(PlanError::NoMatch)?;
                wanted.push(choice.digest);
            }
            Some(wanted)
        }
    };
    if !destination.accepts_lists() {
        return Err(PlanError::DestinationRejectsLists {
            supported_types: destination.supported_types.clone(),
        });
    }
    let digested = destination.reference_digest.is_some();
    if let Some(expected) = &destination.reference_digest
        && expected != list_digest.as_str()
    {
        return Err(PlanError::DestinationDigestMismatch {
            expected: expected.clone(),
            actual: list_digest.to_string(),
        });
    }
    let reason = cannot_modify(
        top.has_signatures && !options.remove_signatures,
        digested,
        options.preserve_digests,
    );
    let conversion = list_conversion(
        list.list_media_type(),
        &destination.supported_types,
        options.forced.as_deref(),
    )?;
    if let Some(reason) = reason
        && conversion.selected != list.list_media_type()
    {
        return Err(PlanError::ListMustChange {
            reason,
            change: alloc::format!("converted to {}", conversion.selected),
        });
    }
    let entries: Vec<EntryAction> = list
        .entries
        .iter()
        .map(|e| match &wanted {
            None => EntryAction::Copy,
            Some(w) if w.contains(&e.digest_text) => EntryAction::Copy,
            Some(_) if options.unselected == Unselected::Strip => EntryAction::Drop,
            Some(_) => EntryAction::Keep,
        })
        .collect();
    if let Some(reason) = reason
        && entries.contains(&EntryAction::Drop)
    {
        return Err(PlanError::ListMustChange {
            reason,
            change: "unselected platforms stripped".into(),
        });
    }
    Ok(TopPlan::List(alloc::boxed::Box::new(ListPlan {
        list,
        entries,
        conversion,
        cannot_modify: reason,
    })))
}

/// One blob an image needs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BlobNeed {
    pub digest: String,
    /// -1 when unknown (schema 1 records no sizes).
    pub size: i64,
    #[serde(rename = "mediaType")]
    pub media_type: String,
    pub config: bool,
    /// Schema 1 throwaway layers: still copied, a hint for the destination.
    #[serde(rename = "emptyLayer")]
    pub empty_layer: bool,
}

/// How one image (a single image, or one instance of a list) is copied.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ImagePlan {
    /// The source manifest's digest.
    #[serde(rename = "sourceDigest")]
    pub source_digest: String,
    #[serde(rename = "sourceMediaType")]
    pub source_media_type: String,
    pub conversion: ManifestConversion,
    #[serde(rename = "cannotModify")]
    pub cannot_modify: Option<CannotModify>,
    /// Converting schema 1 needs the layers' uncompressed digests, so
    /// every layer must be read in full.
    #[serde(rename = "needsDiffIds")]
    pub needs_diff_ids: bool,
    pub blobs: Vec<BlobNeed>,
    /// What happens to each of `blobs` in transit.
    pub operations: Vec<compression::BlobOperation>,
}

/// Where an image sits in the copy, for the digest-reference check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageContext<'a> {
    /// The digest of the top-level manifest when the image comes out of a
    /// list; a digested destination may name that instead.
    pub list_digest: Option<&'a str>,
    /// Whether the image is written as an instance of a list being copied
    /// (the list's own checks already covered the destination digest).
    pub in_list: bool,
}

/// Plans the copy of one image manifest.
pub fn plan_image(
    bytes: &[u8],
    media_type: &str,
    has_signatures: bool,
    destination: &Destination,
    options: &CopyOptions,
    context: ImageContext<'_>,
) -> Result<ImagePlan, PlanError> {
    let media_type = if media_type.is_empty() {
        mt::guess(bytes)
    } else {
        media_type.to_string()
    };
    let source_digest = manifest::digest(bytes)
        .map_err(PlanError::Digest)?
        .to_string();
    if mt::is_list(&media_type) {
        return Err(PlanError::NestedList {
            digest: source_digest,
        });
    }
    let parsed = Manifest::from_blob(bytes, &media_type).map_err(|error| PlanError::Manifest {
        what: alloc::format!("manifest {source_digest}"),
        error,
    })?;
    if let Some(expected) = &destination.reference_digest
        && !context.in_list
        && *expected != source_digest
        && context.list_digest != Some(expected.as_str())
    {
        return Err(PlanError::DestinationDigestMismatch {
            expected: expected.clone(),
            actual: source_digest,
        });
    }
    let reason = cannot_modify(
        has_signatures && !options.remove_signatures,
        destination.reference_digest.is_some(),
        options.preserve_digests,
    );
    let conversion = manifest_conversion(&ManifestConversionInput {
        source_type: &media_type,
        destination_types: &destination.supported_types,
        forced: options.forced.as_deref(),
        requires_oci_encryption: false,
        cannot_modify: reason,
    })?;
    let schema1 = matches!(parsed, Manifest::Schema1(_));
    let needs_diff_ids = schema1
        && matches!(
            conversion.preferred.as_str(),
            mt::DOCKER_V2S2 | mt::OCI_MANIFEST
        );
    let mut blobs = Vec::new();
    let config = parsed.config();
    // Schema 1 has no config blob: an image written only as schema 1 has
    // its config read at the source to build the manifest, and stores none
    // (as in containers/image).
    let only_schema1 = !schema1
        && core::iter::once(&conversion.preferred)
            .chain(&conversion.fallbacks)
            .all(|t| matches!(t.as_str(), mt::DOCKER_V2S1 | mt::DOCKER_V2S1_SIGNED));
    if !config.digest_text.is_empty() && !only_schema1 {
        blobs.push(BlobNeed {
            digest: config.digest_text,
            size: config.size,
            media_type: config.media_type,
            config: true,
            empty_layer: false,
        });
    }
    for layer in parsed.layers() {
        blobs.push(BlobNeed {
            digest: layer.descriptor.digest_text,
            size: layer.descriptor.size,
            media_type: layer.descriptor.media_type,
            config: false,
            empty_layer: layer.empty_layer,
        });
    }
    // Layers change form only when the manifest may change, never for
    // artifacts (their "layers" are not filesystem changes), and schema 1
    // layers travel as they are (a conversion rebuilds the manifest).
    let config_type = blobs
        .iter()
        .find(|b| b.config)
        .map(|b| b.media_type.as_str());
    let is_image = matches!(
        config_type,
        None | Some(mt::OCI_CONFIG) | Some(mt::DOCKER_CONFIG)
    );
    let may_modify = reason.is_none() && !schema1;
    let operations = blobs
        .iter()
        .map(|b| {
            if b.config {
                compression::BlobOperation::Keep
            } else {
                compression::blob_operation(
                    &b.media_type,
                    destination.layer_compression,
                    may_modify,
                    is_image,
                )
            }
        })
        .collect();
    Ok(ImagePlan {
        source_digest,
        source_media_type: media_type,
        conversion,
        cannot_modify: reason,
        needs_diff_ids,
        blobs,
        operations,
    })
}

/// What a copied instance turned into at the destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopiedInstance {
    /// The source instance digest.
    pub source_digest: String,
    /// The manifest written: its digest, size and type.
    pub written: InstanceUpdate,
}

/// One way to write the list, in the order to try them.
#[derive(Debug, Clone, PartialEq)]
pub struct ListCandidate {
    pub media_type: String,
    pub bytes: Vec<u8>,
    pub digest: Digest,
    /// Whether these are the source's exact bytes.
    pub unchanged: bool,
    /// What converting to this type lost.
    pub losses: Vec<Loss>,
}

/// After the instances are copied: the list to write, for each candidate
/// type in order (the destination may refuse one). When nothing about the
/// list changed, the first candidate is the original bytes. A list that may
/// not change offers only the forms that keep its bytes, and is an error
/// when there are none.
pub fn finish_list(
    plan: &ListPlan,
    copied: &[CopiedInstance],
    convert: &ConvertOptions,
) -> Result<Vec<ListCandidate>, PlanError> {
    let mut list = plan.list.clone();
    let original = plan.list.serialize();
    let mut updates = Vec::with_capacity(list.entries.len());
    for (entry, action) in list.entries.iter().zip(&plan.entries) {
        let update = match action {
            EntryAction::Copy => copied
                .iter()
                .find(|c| c.source_digest == entry.digest_text)
                .map(|c| c.written.clone())
                .ok_or_else(|| PlanError::MissingInstance {
                    digest: entry.digest_text.clone(),
                })?,
            EntryAction::Keep | EntryAction::Drop => InstanceUpdate {
                digest: entry.digest_text.clone(),
                size: entry.size,
                media_type: entry.media_type.clone(),
            },
        };
        updates.push(update);
    }
    list.update_instances(&updates).map_err(PlanError::List)?;
    let keep: Vec<usize> = plan
        .entries
        .iter()
        .enumerate()
        .filter(|(_, a)| **a != EntryAction::Drop)
        .map(|(i, _)| i)
        .collect();
    list.retain_entries(&keep).map_err(PlanError::List)?;

    let mut candidates = Vec::new();
    let mut refused = None;
    for media_type in core::iter::once(&plan.conversion.selected).chain(&plan.conversion.fallbacks)
    {
        let kind = if media_type == mt::DOCKER_LIST {
            crate::list::ListKind::DockerList
        } else {
            crate::list::ListKind::OciIndex
        };
        let conversion = list
            .convert_to(kind, convert)
            .map_err(|error| PlanError::Manifest {
                what: "the converted list".into(),
                error,
            })?;
        let bytes = conversion.list.serialize().to_vec();
        let unchanged = bytes == original;
        if !unchanged && let Some(reason) = plan.cannot_modify {
            // This form is not allowed; a later candidate may be.
            refused.get_or_insert(PlanError::ListMustChange {
                reason,
                change: alloc::format!(
                    "rewritten as {media_type} with the copied instances' digests"
                ),
            });
            continue;
        }
        candidates.push(ListCandidate {
            media_type: media_type.clone(),
            digest: Digest::sha256_of(&bytes),
            bytes,
            unchanged,
            losses: conversion.losses,
        });
    }
    match refused {
        Some(error) if candidates.is_empty() => Err(error),
        _ => Ok(candidates),
    }
}

/// A manifest the copy will write.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PlannedManifest {
    /// `image`, `instance` or `list`.
    pub role: &'static str,
    #[serde(rename = "sourceDigest")]
    pub source_digest: String,
    #[serde(rename = "mediaType")]
    pub media_type: String,
    /// Known when the manifest is written unchanged.
    pub digest: Option<String>,
    /// Types to try if the destination refuses `media_type`.
    pub fallbacks: Vec<String>,
}

/// A blob the copy needs, once however many images share it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PlannedBlob {
    pub digest: String,
    pub size: i64,
    #[serde(rename = "mediaType")]
    pub media_type: String,
    /// The source manifests that reference it.
    #[serde(rename = "usedBy")]
    pub used_by: Vec<String>,
    /// The destination already has it.
    pub skip: bool,
}

/// Everything a copy will do, before it does it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CopyPlan {
    pub manifests: Vec<PlannedManifest>,
    /// Largest first: the order the engine starts transfers in.
    pub blobs: Vec<PlannedBlob>,
    #[serde(rename = "bytesToCopy")]
    pub bytes_to_copy: i64,
    #[serde(rename = "bytesSkipped")]
    pub bytes_skipped: i64,
    /// Whether some sizes are unknown (schema 1), so byte counts are low.
    #[serde(rename = "sizesIncomplete")]
    pub sizes_incomplete: bool,
    /// List entries kept without copying their manifests, or dropped.
    #[serde(rename = "listEntries")]
    pub list_entries: Vec<EntryAction>,
    /// HTTP requests a registry destination would see, at least: an
    /// existence check per blob, an upload start and finish per blob moved,
    /// one PUT per manifest (authentication and retries come on top).
    #[serde(rename = "registryRequests")]
    pub registry_requests: usize,
}

/// Combines the plans of a copy into one [`CopyPlan`]. `images` are the
/// image plans in copy order; `present` lists blob digests the destination
/// already has.
pub fn summarize(
    top: &TopPlan,
    top_bytes: &[u8],
    images: &[ImagePlan],
    present: &[String],
) -> CopyPlan {
    let mut manifests = Vec::new();
    let role = match top {
        TopPlan::List(_) => "instance",
        _ => "image",
    };
    for image in images {
        manifests.push(PlannedManifest {
            role,
            source_digest: image.source_digest.clone(),
            media_type: image.conversion.preferred.clone(),
            digest: (!image.conversion.needs_conversion).then(|| image.source_digest.clone()),
            fallbacks: image.conversion.fallbacks.clone(),
        });
    }
    let mut list_entries = Vec::new();
    if let TopPlan::List(plan) = top {
        let unchanged = plan.conversion.selected == plan.list.list_media_type()
            && !plan.entries.contains(&EntryAction::Drop)
            && images.iter().all(|i| !i.conversion.needs_conversion);
        let digest = Digest::sha256_of(top_bytes).to_string();
        manifests.push(PlannedManifest {
            role: "list",
            source_digest: digest.clone(),
            media_type: plan.conversion.selected.clone(),
            digest: unchanged.then_some(digest),
            fallbacks: plan.conversion.fallbacks.clone(),
        });
        list_entries = plan.entries.clone();
    }

    // A map by digest, so a list of thousands of instances that all share
    // a base layer plans in O(n log n), not O(n²) (a 10,000-entry list took
    // seconds with a linear search here).
    // (Every map in planning is a `BTreeMap<&str, usize>`: one
    // instantiation of the map's code keeps the WebAssembly module small.)
    let mut blobs: Vec<PlannedBlob> = Vec::new();
    let mut by_digest: BTreeMap<&str, usize> = BTreeMap::new();
    let mut sizes_incomplete = false;
    for image in images {
        for need in &image.blobs {
            sizes_incomplete |= need.size < 0;
            let i = *by_digest.entry(&need.digest).or_insert_with(|| {
                blobs.push(PlannedBlob {
                    digest: need.digest.clone(),
                    size: need.size,
                    media_type: need.media_type.clone(),
                    used_by: Vec::new(),
                    skip: present.contains(&need.digest),
                });
                blobs.len() - 1
            });
            // Images are visited one at a time, so a repeat within one image
            // is always the last user recorded.
            let blob = &mut blobs[i];
            if blob.used_by.last() != Some(&image.source_digest) {
                blob.used_by.push(image.source_digest.clone());
            }
        }
    }
    // Largest first, then by digest (unique, so the order is total).
    blobs.sort_by(|a, b| b.size.cmp(&a.size).then_with(|| a.digest.cmp(&b.digest)));
    let (mut bytes_to_copy, mut bytes_skipped) = (0i64, 0i64);
    for b in &blobs {
        let size = b.size.max(0);
        if b.skip {
            bytes_skipped = bytes_skipped.saturating_add(size);
        } else {
            bytes_to_copy = bytes_to_copy.saturating_add(size);
        }
    }
    let moved = blobs.iter().filter(|b| !b.skip).count();
    let registry_requests = blobs.len() + 2 * moved + manifests.len();
    CopyPlan {
        manifests,
        blobs,
        bytes_to_copy,
        bytes_skipped,
        sizes_incomplete,
        list_entries,
        registry_requests,
    }
}
