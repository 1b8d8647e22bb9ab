//! Copy planning: every decision of a copy, made before a byte moves.
//!
//! These are containers/image's `copy.Image` decisions, taken apart so that
//! each is a function over plain data:
//! 1. [`plan_top`]: what the top-level manifest means for this copy: a
//!    single image, one instance chosen out of a list, or a list whose
//!    instances are selected (all, by digest, by platform, or none). A
//!    list whose entries are lists is read first ([`nested_lists`], then
//!    [`plan_top_nested`]): selections reach the images inside nested
//!    lists, and the nested lists are written before the lists naming them.
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

use crate::choose::{Choice, ChooseOptions, NoMatch, choose_among};
use crate::digest::Digest;
use crate::list::{
    ConvertOptions, InstanceUpdate, List, ListError, Loss, Tree, WalkError, is_nested,
};
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
    /// A trust policy judges the source: the signatures of every image
    /// copied (and of the list, when it is written) are read even with
    /// `remove_signatures`, and the copy stops at
    /// [`Need::Judge`](crate::copy::Need::Judge) before anything moves.
    pub judge_signatures: bool,
    /// `--sign-by…`: the formats of the new signatures every image
    /// written, and the list, gets of its written digest
    /// ([`Need::SignManifest`](crate::copy::Need::SignManifest)); none
    /// without signing.
    pub sign: crate::destination::SignatureFormats,
    /// `--dest-compress…`: what the layers' compression should become.
    pub compression: compression::Requested,
    /// `--add-compression`: every image of a list copied whole gets a twin
    /// with its layers in each of these formats, unless the list already
    /// has an instance of its platform in that format ([`compression_twins`]).
    pub add_compression: compression::Formats,
}

impl CopyOptions {
    /// A plain copy of `selection`: lists keep unselected entries, no
    /// forced format, signatures copied and not judged, nothing signed.
    pub fn new(selection: Selection) -> Self {
        CopyOptions {
            selection,
            choose: ChooseOptions::default(),
            unselected: Unselected::Keep,
            forced: None,
            remove_signatures: false,
            preserve_digests: false,
            judge_signatures: false,
            sign: crate::destination::SignatureFormats::default(),
            compression: compression::Requested::default(),
            add_compression: compression::Formats::default(),
        }
    }
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
    /// An instance manifest (or nested list) the plan needs was not
    /// provided.
    MissingInstance { digest: String },
    /// A manifest planned as an image is a list: the source calls a list
    /// what the list naming it calls an image.
    NestedList { digest: String },
    /// Nested lists that cannot be walked (a loop, too deep, or content
    /// that does not match its digest).
    Nested(WalkError),
    /// Editing the list failed.
    List(ListError),
    /// A signed schema 1 manifest whose digest cannot be computed.
    Digest(manifest::jws::JwsError),
    /// `--add-compression` for a copy that does not copy a whole list.
    AddCompressionNeedsList {
        format: compression::Format,
        copies: &'static str,
    },
    /// `--add-compression`: an image whose twin cannot be made, because
    /// its manifest may not change or its layers are not an image's.
    TwinUnmodifiable {
        digest: String,
        format: compression::Format,
        reason: String,
    },
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanError::Manifest { what, error } => write!(f, "{what}: {error}"),
            PlanError::NoMatch(e) => e.fmt(f),
            PlanError::DestinationRejectsLists { supported_types } => write!(
                f,
                "the destination cannot store a manifest list (it accepts {}); copy one platform instead",
                crate::join(supported_types, ", ")
            ),
            PlanError::NoListType { destination_types } => write!(
                f,
                "the destination accepts no manifest list type (it accepts {})",
                crate::join(destination_types, ", ")
            ),
            PlanError::NoManifestType {
                destination_types,
                encryption,
            } => write!(
                f,
                "no manifest type is acceptable: the destination accepts {}{}",
                crate::join(destination_types, ", "),
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
                crate::join(destination_types, ", ")
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
                "manifest {digest} is a list, but the list naming it gives it the type of an image"
            ),
            PlanError::Nested(e) => e.fmt(f),
            PlanError::List(e) => e.fmt(f),
            PlanError::Digest(e) => write!(f, "cannot compute the manifest digest: {e}"),
            PlanError::AddCompressionNeedsList { format, copies } => write!(
                f,
                "--add-compression {}: compression twins are added only to a manifest list copied whole (--all), but this copy {copies}",
                format.name()
            ),
            PlanError::TwinUnmodifiable {
                digest,
                format,
                reason,
            } => write!(
                f,
                "cannot add a {} twin of instance {digest}: {reason}",
                format.name()
            ),
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
            manifest::guess_media_type(self.bytes)
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
    /// One instance out of a list, for one platform: an image of the list
    /// or of a list nested in it.
    Instance {
        /// The list's digest, which a digested destination may also name.
        list_digest: Digest,
        /// `index` and the explanation count the list's images in
        /// [`Tree::images`] order (for a list without nested lists, its
        /// entries).
        choice: Choice,
        /// The chosen entry as its list gives it: its media type, and the
        /// size its manifest must have.
        entry: alloc::boxed::Box<Descriptor>,
    },
    /// The list and some of its instances.
    List(alloc::boxed::Box<ListPlan>),
}

/// How a list is copied.
#[derive(Debug, Clone, PartialEq)]
pub struct ListPlan {
    /// The digest the list is known by: the top-level list's sha256, a
    /// nested list's digest as the list naming it writes it.
    pub digest: String,
    pub list: List,
    /// For each entry: copy it, keep it as it is, or drop it.
    pub entries: Vec<EntryAction>,
    pub conversion: ListConversion,
    pub cannot_modify: Option<CannotModify>,
    /// For the top-level list: the nested lists to write, in the order to
    /// write them (every list after the lists it names), each once. Empty
    /// for a list without nested lists, and in the nested lists' own plans.
    pub nested: Vec<ListPlan>,
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
    /// The entries of the images to copy, each digest once (the first entry
    /// naming it): those of the nested lists in the order they are written,
    /// then the list's own, each list in its order. A set, not a search of
    /// the output, so a list of thousands of entries plans in O(n log n).
    pub fn instances_to_copy(&self) -> Vec<&Descriptor> {
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        let mut out = Vec::new();
        for plan in self.nested.iter().chain(core::iter::once(self)) {
            for (i, (entry, action)) in plan.list.entries.iter().zip(&plan.entries).enumerate() {
                if *action == EntryAction::Copy
                    && !is_nested(entry)
                    && seen.insert(&entry.digest_text, i).is_none()
                {
                    out.push(entry);
                }
            }
        }
        out
    }
}

/// Whether the selection copies no image (`--multi-arch index-only`): the
/// list alone is written, and lists nested in it are not read.
fn copies_no_image(selection: &Selection) -> bool {
    matches!(selection, Selection::Instances { digests, platforms } if digests.is_empty() && platforms.is_empty())
}

/// The lists nested in the top-level list that this copy must read: a
/// [`Tree`] of the top-level list, to grow with [`Tree::wanted`] and
/// [`Tree::provide`] before [`plan_top_nested`]. `None` when the top level
/// is an image, or when the selection copies no image.
pub fn nested_lists(top: &Top<'_>, options: &CopyOptions) -> Result<Option<Tree>, PlanError> {
    let media_type = top.media_type();
    if !mt::is_list(&media_type) || copies_no_image(&options.selection) {
        return Ok(None);
    }
    let list = List::from_blob(top.bytes, &media_type).map_err(|error| PlanError::Manifest {
        what: "the manifest list".into(),
        error,
    })?;
    Tree::new(list).map(Some).map_err(PlanError::Nested)
}

/// Decides what the top-level manifest means for the copy, for a list
/// without nested lists (or a selection that copies no image). A nested
/// list the selection needs is [`PlanError::MissingInstance`]; read them
/// with [`nested_lists`] and plan with [`plan_top_nested`].
pub fn plan_top(
    top: &Top<'_>,
    destination: &Destination,
    options: &CopyOptions,
) -> Result<TopPlan, PlanError> {
    plan_top_nested(top, None, &[], destination, options)
}

/// Decides what the top-level manifest means for the copy. `tree` is
/// [`nested_lists`]'s tree for this same top, grown until nothing is
/// wanted; `signed_lists` are the digests of nested lists that carry
/// signatures (they may not change unless signatures are removed).
///
/// A platform choice (`System`, or platforms in `Instances`) chooses among
/// the images under the list, nested lists descended into in document
/// order ([`Tree::images`]); a nested list's own entry is never chosen. A
/// selected image is copied with every list on its way up, and a digest
/// in `Instances` may also name a nested list, which is then copied whole.
pub fn plan_top_nested(
    top: &Top<'_>,
    tree: Option<&Tree>,
    signed_lists: &[String],
    destination: &Destination,
    options: &CopyOptions,
) -> Result<TopPlan, PlanError> {
    let media_type = top.media_type();
    if !mt::is_list(&media_type) {
        // A single image is copied whatever the selection says.
        return Ok(TopPlan::Image);
    }
    let parsed;
    let list = match tree {
        Some(tree) => tree.root(),
        None => {
            parsed =
                List::from_blob(top.bytes, &media_type).map_err(|error| PlanError::Manifest {
                    what: "the manifest list".into(),
                    error,
                })?;
            &parsed
        }
    };
    let list_digest = Digest::sha256_of(top.bytes);
    // The lists to plan, children first, the top-level list last.
    let built;
    let lists: Vec<(&str, &List)> = if copies_no_image(&options.selection) {
        alloc::vec![(list_digest.as_str(), list)]
    } else {
        let tree = match tree {
            Some(tree) => tree,
            None => {
                built = Tree::new(list.clone()).map_err(PlanError::Nested)?;
                &built
            }
        };
        if let Some(wanted) = tree.wanted().first() {
            return Err(PlanError::MissingInstance {
                digest: wanted.digest.clone(),
            });
        }
        let lists = tree.order().map_err(PlanError::Nested)?;
        // Platforms are chosen among the images, nested ones included.
        match &options.selection {
            Selection::System(platform) => {
                let images = tree.images();
                let choice =
                    choose_among(&images, platform, &options.choose).map_err(PlanError::NoMatch)?;
                let entry = alloc::boxed::Box::new(images[choice.index].clone());
                return Ok(TopPlan::Instance {
                    list_digest,
                    choice,
                    entry,
                });
            }
            Selection::Instances { digests, platforms } if !platforms.is_empty() => {
                let images = tree.images();
                let mut chosen = digests.clone();
                for p in platforms {
                    let choice =
                        choose_among(&images, p, &options.choose).map_err(PlanError::NoMatch)?;
                    chosen.push(choice.digest);
                }
                return plan_lists(
                    top,
                    &lists,
                    Some(&chosen),
                    signed_lists,
                    destination,
                    options,
                );
            }
            _ => {}
        }
        lists
    };
    let wanted = match &options.selection {
        Selection::Instances { digests, .. } => Some(digests.as_slice()),
        _ => None,
    };
    plan_lists(top, &lists, wanted, signed_lists, destination, options)
}

/// Plans a list and the lists nested in it (`lists`, children first, the
/// top-level list last), copying the images and lists named in `wanted`
/// (everything when `None`).
fn plan_lists(
    top: &Top<'_>,
    lists: &[(&str, &List)],
    wanted: Option<&[String]>,
    signed_lists: &[String],
    destination: &Destination,
    options: &CopyOptions,
) -> Result<TopPlan, PlanError> {
    let (list_digest, list) = lists[lists.len() - 1];
    if let Some(wanted) = wanted {
        for d in wanted {
            if !lists.iter().any(|(_, l)| l.instance(d).is_some()) {
                return Err(PlanError::UnknownInstance { digest: d.clone() });
            }
        }
    }
    if !destination.accepts_lists() {
        return Err(PlanError::DestinationRejectsLists {
            supported_types: destination.supported_types.clone(),
        });
    }
    let digested = destination.reference_digest.is_some();
    if let Some(expected) = &destination.reference_digest
        && expected != list_digest
    {
        return Err(PlanError::DestinationDigestMismatch {
            expected: expected.clone(),
            actual: list_digest.to_string(),
        });
    }
    let actions = entry_actions(lists, wanted, options.unselected);
    let mut plans = Vec::new();
    for (i, ((digest, this), (entries, copied))) in lists.iter().zip(actions).enumerate() {
        let is_top = i == lists.len() - 1;
        if !copied && !is_top {
            continue;
        }
        let signed = if is_top {
            top.has_signatures
        } else {
            signed_lists.iter().any(|s| s == digest)
        };
        let reason = cannot_modify(
            signed && !options.remove_signatures,
            digested,
            options.preserve_digests,
        );
        let conversion = list_conversion(
            this.list_media_type(),
            &destination.supported_types,
            options.forced.as_deref(),
        )?;
        let which = if is_top {
            String::new()
        } else {
            alloc::format!("nested list {digest} ")
        };
        if let Some(reason) = reason
            && conversion.selected != this.list_media_type()
        {
            return Err(PlanError::ListMustChange {
                reason,
                change: alloc::format!("{which}converted to {}", conversion.selected),
            });
        }
        if let Some(reason) = reason
            && entries.contains(&EntryAction::Drop)
        {
            return Err(PlanError::ListMustChange {
                reason,
                change: alloc::format!("{which}unselected platforms stripped"),
            });
        }
        plans.push(ListPlan {
            digest: digest.to_string(),
            list: (*this).clone(),
            entries,
            conversion,
            cannot_modify: reason,
            nested: Vec::new(),
        });
    }
    let mut root = plans.pop().expect("the top-level list is always planned");
    debug_assert_eq!(root.list.raw(), list.raw());
    root.nested = plans;
    Ok(TopPlan::List(alloc::boxed::Box::new(root)))
}

/// For each of `lists` (children first, the top-level list last): what
/// happens to each entry, and whether the list is copied at all. A list
/// named in `wanted` is copied whole, with everything below it; an entry
/// is copied when it is a wanted image or a nested list that is copied;
/// the rest are kept or dropped as `unselected` says. `None` copies all.
fn entry_actions(
    lists: &[(&str, &List)],
    wanted: Option<&[String]>,
    unselected: Unselected,
) -> Vec<(Vec<EntryAction>, bool)> {
    let mut at: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, (digest, _)) in lists.iter().enumerate() {
        at.insert(digest, i);
    }
    let is_wanted = |digest: &str| wanted.is_none_or(|w| w.iter().any(|d| d == digest));
    let child = |entry: &Descriptor| {
        if is_nested(entry) {
            at.get(entry.digest_text.as_str()).copied()
        } else {
            None
        }
    };
    // Whole lists, parents first (the reverse of writing order).
    let mut whole = alloc::vec![false; lists.len()];
    for (i, (digest, list)) in lists.iter().enumerate().rev() {
        whole[i] |= is_wanted(digest);
        if whole[i] {
            for c in list.entries.iter().filter_map(child) {
                whole[c] = true;
            }
        }
    }
    // Copied lists, children first.
    let mut copied = alloc::vec![false; lists.len()];
    let mut out = Vec::with_capacity(lists.len());
    for (i, (_, list)) in lists.iter().enumerate() {
        let entries: Vec<EntryAction> = list
            .entries
            .iter()
            .map(|e| {
                let copy = whole[i]
                    || match child(e) {
                        Some(c) => copied[c],
                        None => !is_nested(e) && is_wanted(&e.digest_text),
                    };
                match copy {
                    true => EntryAction::Copy,
                    false if unselected == Unselected::Strip => EntryAction::Drop,
                    false => EntryAction::Keep,
                }
            })
            .collect();
        copied[i] = whole[i] || entries.contains(&EntryAction::Copy);
        out.push((entries, copied[i]));
    }
    out
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
    /// What happens to each of `blobs` in transit, as their media types
    /// predict it.
    pub operations: Vec<compression::BlobOperation>,
    /// What the destination wants of the layers, when their compression
    /// may change (an image whose manifest may be modified): the copy
    /// decides each layer's step from its first bytes.
    #[serde(skip)]
    pub layer_wish: Option<compression::Wish>,
    /// For a compression twin (`--add-compression`): the format its layers
    /// take; it is added to the list beside the instance it twins.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub twin: Option<compression::Format>,
}

impl ImagePlan {
    /// Whether the manifest is written as it is, as far as the plan can
    /// tell: no conversion, no layer predicted to change form.
    pub fn keeps_digest(&self) -> bool {
        !self.conversion.needs_conversion && self.operations.iter().all(|o| o.is_keep())
    }
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
        manifest::guess_media_type(bytes)
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
    let wish = options.compression.wish(destination.layer_compression);
    let operations = blobs
        .iter()
        .map(|b| {
            if b.config {
                compression::BlobOperation::Keep
            } else {
                compression::blob_operation(&b.media_type, &wish, may_modify, is_image)
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
        layer_wish: (may_modify && is_image).then_some(wish),
        twin: None,
    })
}

/// One compression twin to make: the list entry (by digest) whose image
/// is copied again with its layers in `format`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Twin {
    pub source_digest: String,
    pub format: compression::Format,
}

/// The twins `--add-compression` asks of a list copied whole, as
/// containers/image 5.29+ decides them (`prepareInstanceCopies` with
/// `EnsureCompressionVariantsExist`): for each image the top-level list
/// copies, in list order, a twin in each asked format that no instance of
/// the same platform (OS, architecture, variant, OS version and features)
/// already has; an OCI index entry is zstd when annotated
/// `io.github.containers.compression.zstd: "true"`, any other entry gzip.
/// A twin made counts for the platform, so entries sharing a platform get
/// one twin between them. Images of nested lists get none
/// (containers/image does not copy nested lists).
pub fn compression_twins(plan: &ListPlan, add: compression::Formats) -> Vec<Twin> {
    use compression::Format;
    let format_of = |e: &Descriptor| {
        let zstd = plan.list.kind == crate::list::ListKind::OciIndex
            && e.annotations
                .get(crate::choose::ZSTD_ANNOTATION)
                .is_some_and(|v| v == "true");
        if zstd { Format::Zstd } else { Format::Gzip }
    };
    // The formats each platform has, by the first entry of that platform.
    // A scan rather than a map keyed by the platform's parts with its
    // features sorted: that map and a sort of strings cost the npm module
    // about 4 KB after wasm-opt, for lists of a few dozen entries.
    let mut have: Vec<(&Descriptor, compression::Formats)> = Vec::new();
    let mut slots = Vec::with_capacity(plan.list.entries.len());
    for e in &plan.list.entries {
        let slot = match have.iter().position(|(other, _)| same_platform(other, e)) {
            Some(i) => i,
            None => {
                have.push((e, compression::Formats::default()));
                have.len() - 1
            }
        };
        have[slot].1.insert(format_of(e));
        slots.push(slot);
    }
    let mut twins = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for ((e, action), &slot) in plan.list.entries.iter().zip(&plan.entries).zip(&slots) {
        if *action != EntryAction::Copy || is_nested(e) || seen.contains(&e.digest_text.as_str()) {
            continue;
        }
        seen.push(&e.digest_text);
        let formats = &mut have[slot].1;
        for format in add.iter() {
            if !formats.contains(format) {
                formats.insert(format);
                twins.push(Twin {
                    source_digest: e.digest_text.clone(),
                    format,
                });
            }
        }
    }
    twins
}

/// Whether two entries are for the same platform, as
/// [`compression_twins`] groups them: the same OS, architecture, variant
/// and OS version, and the same OS features in any order (no platform is
/// the empty one).
fn same_platform(a: &Descriptor, b: &Descriptor) -> bool {
    let empty = Platform::default();
    let a = a.platform.as_ref().unwrap_or(&empty);
    let b = b.platform.as_ref().unwrap_or(&empty);
    let count = |list: &[String], x: &String| list.iter().filter(|y| *y == x).count();
    a.architecture == b.architecture
        && a.os == b.os
        && a.os_version == b.os_version
        && a.variant == b.variant
        && a.os_features.len() == b.os_features.len()
        && a.os_features
            .iter()
            .all(|x| count(&a.os_features, x) == count(&b.os_features, x))
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
    added: &[crate::list::AddedInstance],
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
    list.add_instances(added).map_err(PlanError::List)?;

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
    /// `image`, `instance` (an image of a list) or `list` (the top-level
    /// list, or a list nested in it).
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
    /// What its media type predicts happens to it on the way (the bytes
    /// decide: [`compression::step`]); not written when it is kept.
    #[serde(skip_serializing_if = "compression::BlobOperation::is_keep")]
    pub operation: compression::BlobOperation,
}

/// The order of `transfers` in a plan: largest first, then by digest
/// (unique but for a blob moved in two forms, which keep their order: the
/// sort is stable). A bottom-up merge sort of positions, by hand: std's
/// stable sort monomorphised for the plan's blobs (its quicksort, drift
/// sort and small sorts, 3,187 bytes) made the npm module 2,747 bytes
/// larger than this (257,774 -> 255,027 after wasm-opt).
fn largest_first(transfers: &[BlobTransfer]) -> Vec<usize> {
    // Whether `a` goes after `b`.
    let after = |a: usize, b: usize| {
        let (a, b) = (&transfers[a], &transfers[b]);
        b.size.cmp(&a.size).then_with(|| a.digest.cmp(&b.digest)) == core::cmp::Ordering::Greater
    };
    let n = transfers.len();
    let mut order: Vec<usize> = (0..n).collect();
    let mut merged = order.clone();
    let mut width = 1;
    while width < n {
        let mut start = 0;
        while start < n {
            let middle = n.min(start + width);
            let end = n.min(start + 2 * width);
            let (mut left, mut right) = (start, middle);
            for slot in &mut merged[start..end] {
                // Ties take the left run: stable.
                if left < middle && (right == end || !after(order[left], order[right])) {
                    *slot = order[left];
                    left += 1;
                } else {
                    *slot = order[right];
                    right += 1;
                }
            }
            start = end;
        }
        core::mem::swap(&mut order, &mut merged);
        width *= 2;
    }
    order
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

/// One blob to move, once however many images name it: the one
/// de-duplication of a copy, shared by the copy machine and [`summarize`],
/// so a dry run and the copy count the same transfers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobTransfer {
    /// As the first manifest naming it writes it.
    pub digest: String,
    /// -1 when unknown (schema 1).
    pub size: i64,
    pub media_type: String,
    /// Whether the first image naming it names it as its config.
    pub config: bool,
    pub operation: compression::BlobOperation,
    /// Ask the destination first and skip the blob if it is there (only
    /// for blobs kept as they are: a changed blob's digest is not known
    /// before the change, and a layer whose diff ID is wanted must be read).
    pub check: bool,
    /// Compute the layer's diff ID on the way (schema 1 conversions).
    pub diff_id: bool,
    /// For a layer whose compression may change: what the destination
    /// wants of it ([`compression::step`] decides from its bytes).
    pub wish: Option<compression::Wish>,
    /// The source manifests naming it, in copy order.
    pub used_by: Vec<String>,
}

/// The blobs `images` (in copy order) need, each `(digest, operation)`
/// once, in the order first named: a blob that one image keeps and another
/// compresses is two transfers, with two results.
pub fn blob_transfers(images: &[ImagePlan]) -> Vec<BlobTransfer> {
    // A map by digest, so a list of thousands of instances that all share
    // a base layer plans in O(n log n), not O(n²) (a 10,000-entry list took
    // seconds with a linear search here). The same digest under another
    // operation is rare; those are chained from the first (`next`).
    // (Every map in planning is a `BTreeMap<&str, usize>`: one
    // instantiation of the map's code keeps the WebAssembly module small.)
    let mut out: Vec<BlobTransfer> = Vec::new();
    let mut next: Vec<Option<usize>> = Vec::new();
    let mut by_digest: BTreeMap<&str, usize> = BTreeMap::new();
    for image in images {
        for (need, operation) in image.blobs.iter().zip(&image.operations) {
            let wants_diff_id = image.needs_diff_ids && !need.config;
            let wish = image.layer_wish.filter(|_| {
                !need.config && compression::layer_compression(&need.media_type).is_some()
            });
            let mut at = by_digest.get(need.digest.as_str()).copied();
            let mut last = None;
            while let Some(i) = at {
                if out[i].operation == *operation && out[i].wish == wish {
                    break;
                }
                last = Some(i);
                at = next[i];
            }
            let i = match at {
                Some(i) => {
                    let t = &mut out[i];
                    t.diff_id |= wants_diff_id;
                    t.check &= !wants_diff_id;
                    i
                }
                None => {
                    out.push(BlobTransfer {
                        digest: need.digest.clone(),
                        size: need.size,
                        media_type: need.media_type.clone(),
                        config: need.config,
                        operation: *operation,
                        // Forcing a format reads every layer that may
                        // change, to check what its bytes are.
                        check: *operation == compression::BlobOperation::Keep
                            && !wants_diff_id
                            && !wish.is_some_and(|w| w.force),
                        diff_id: wants_diff_id,
                        wish,
                        used_by: Vec::new(),
                    });
                    next.push(None);
                    let i = out.len() - 1;
                    match last {
                        Some(l) => next[l] = Some(i),
                        None => {
                            by_digest.insert(&need.digest, i);
                        }
                    }
                    i
                }
            };
            // Images are visited one at a time, so a repeat within one image
            // is always the last user recorded.
            let t = &mut out[i];
            if t.used_by.last() != Some(&image.source_digest) {
                t.used_by.push(image.source_digest.clone());
            }
        }
    }
    out
}

/// Combines the plans of a copy into one [`CopyPlan`]. `images` are the
/// image plans in copy order; `present` lists blob digests the destination
/// already has (of the blobs it is asked about: those kept as they are).
/// Nested lists are listed before the lists naming them, in the order they
/// are written, the top-level list last.
pub fn summarize(
    top: &TopPlan,
    top_bytes: &[u8],
    images: &[ImagePlan],
    present: &[String],
) -> CopyPlan {
    let transfers = blob_transfers(images);
    let skip: Vec<bool> = transfers
        .iter()
        .map(|t| t.check && present.contains(&t.digest))
        .collect();
    summarize_transfers(top, top_bytes, images, &transfers, &skip)
}

/// [`summarize`] for transfers already worked out ([`blob_transfers`] of
/// the same `images`), `skip[i]` saying whether the destination had
/// `transfers[i]`.
pub fn summarize_transfers(
    top: &TopPlan,
    top_bytes: &[u8],
    images: &[ImagePlan],
    transfers: &[BlobTransfer],
    skip: &[bool],
) -> CopyPlan {
    let mut manifests = Vec::new();
    let role = match top {
        TopPlan::List(_) => "instance",
        _ => "image",
    };
    for image in images {
        manifests.push(PlannedManifest {
            role: match image.twin {
                Some(compression::Format::Zstd) => "zstd-twin",
                Some(compression::Format::Gzip) => "gzip-twin",
                None => role,
            },
            source_digest: image.source_digest.clone(),
            media_type: image.conversion.preferred.clone(),
            digest: image.keeps_digest().then(|| image.source_digest.clone()),
            fallbacks: image.conversion.fallbacks.clone(),
        });
    }
    let mut list_entries = Vec::new();
    if let TopPlan::List(plan) = top {
        // A list is written unchanged when its type stays, nothing is
        // dropped, and everything it copies is unchanged: nested lists are
        // decided before the lists naming them.
        let mut image_at: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, image) in images.iter().enumerate() {
            image_at.entry(&image.source_digest).or_insert(i);
        }
        let mut list_at: BTreeMap<&str, usize> = BTreeMap::new();
        let mut unchanged_lists: Vec<bool> = Vec::new();
        let top_digest = Digest::sha256_of(top_bytes).to_string();
        for (i, list) in plan
            .nested
            .iter()
            .chain(core::iter::once(&**plan))
            .enumerate()
        {
            let unchanged = list.conversion.selected == list.list.list_media_type()
                && !list.entries.contains(&EntryAction::Drop)
                && (i < plan.nested.len() || images.iter().all(|im| im.twin.is_none()))
                && list.list.entries.iter().zip(&list.entries).all(|(e, a)| {
                    *a != EntryAction::Copy
                        || if is_nested(e) {
                            list_at
                                .get(e.digest_text.as_str())
                                .is_some_and(|&j| unchanged_lists[j])
                        } else {
                            image_at
                                .get(e.digest_text.as_str())
                                .is_none_or(|&k| images[k].keeps_digest())
                        }
                });
            list_at.insert(&list.digest, i);
            unchanged_lists.push(unchanged);
            let digest = if i == plan.nested.len() {
                top_digest.clone()
            } else {
                list.digest.clone()
            };
            manifests.push(PlannedManifest {
                role: "list",
                source_digest: digest.clone(),
                media_type: list.conversion.selected.clone(),
                digest: unchanged.then_some(digest),
                fallbacks: list.conversion.fallbacks.clone(),
            });
        }
        list_entries = plan.entries.clone();
    }

    let mut blobs: Vec<PlannedBlob> = Vec::with_capacity(transfers.len());
    let mut sizes_incomplete = false;
    for image in images {
        sizes_incomplete |= image.blobs.iter().any(|need| need.size < 0);
    }
    // As many as there are answers for.
    let transfers = &transfers[..transfers.len().min(skip.len())];
    for i in largest_first(transfers) {
        let t = &transfers[i];
        blobs.push(PlannedBlob {
            digest: t.digest.clone(),
            size: t.size,
            media_type: t.media_type.clone(),
            used_by: t.used_by.clone(),
            skip: skip[i],
            operation: t.operation,
        });
    }
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
