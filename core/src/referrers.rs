//! Referrers (OCI distribution 1.1): the manifests whose `subject` names
//! another manifest — signatures, SBOMs, attestations — and how a copy
//! finds them, follows them and records them at the destination.
//!
//! Where referrers are listed:
//! - a registry with the referrers API answers `GET
//!   /v2/<name>/referrers/<digest>` with an OCI image index of their
//!   descriptors ([`parse_listing`]);
//! - a registry without it (a 404 there) keeps the same index at the
//!   [`fallback_tag`] `<alg>-<hex>`, which clients maintain themselves
//!   ([`add_to_index`] when a referrer is pushed);
//! - an OCI layout keeps referrers as extra manifests in `index.json`;
//!   which of them refer to a subject is [`referrer`]'s answer for each.
//!
//! Nothing a registry lists is trusted: each referrer's own manifest must
//! name the subject it was listed for ([`referrer`]), a listing that names
//! its subject, a referrer met twice (a cycle) and chains or listings past
//! the bounds below are refused by name ([`Follow`]).

use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use crate::digest::Digest;
use crate::json::{self, Object, Value};
use crate::list::{List, ListKind};
use crate::manifest::{Descriptor, ManifestError, OciManifest};
use crate::media_type as mt;

/// The most referrers one subject may have. A listing is one index of at
/// most 4 MiB (a descriptor with a few annotations is ~300 bytes, so a
/// full one holds ~14,000); signatures, SBOMs and attestations of one
/// image number a handful, and a mirror that follows 1,000 of them has met
/// something that is not a referrer list.
pub const MAX_REFERRERS: usize = 1000;

/// The most referrers one copy follows, all subjects together.
pub const MAX_TOTAL: usize = 10_000;

/// How deep referrers of referrers are followed: an image (depth 0), its
/// signature (1), the signature's countersignature (2)… Real chains stop
/// at 2 or 3.
pub const MAX_DEPTH: usize = 8;

/// The most pages (`Link: <…>; rel="next"`) a referrers listing may span.
pub const MAX_PAGES: usize = 100;

/// The tag that holds the referrers of `subject` on a registry without the
/// referrers API: `<alg>-<encoded>`, the algorithm cut to 32 characters and
/// the encoded digest to 64, as the distribution spec's tag schema says.
pub fn fallback_tag(subject: &Digest) -> String {
    let algorithm = subject.algorithm().name();
    let encoded = subject.encoded();
    format!(
        "{}-{}",
        &algorithm[..algorithm.len().min(32)],
        &encoded[..encoded.len().min(64)]
    )
}

/// cosign's tags beside an image, `sha256-<hex>.sig`, `.att`, `.sbom`: the
/// suffixes, in the order ferry copies them.
pub const COSIGN_SUFFIXES: [&str; 3] = [".sig", ".att", ".sbom"];

/// The cosign tag of `subject` with `suffix` (one of [`COSIGN_SUFFIXES`]).
pub fn cosign_tag(subject: &Digest, suffix: &str) -> String {
    format!(
        "{}-{}{suffix}",
        subject.algorithm().name(),
        subject.encoded()
    )
}

/// Whether a repository's `tag` is one that a copy asking for `attached`
/// carries beside its subject rather than as an image of its own: the
/// fallback tag (`<alg>-<hex>`) with `--referrers`, a cosign tag
/// (`<alg>-<hex>.sig`, `.att`, `.sbom`) with `--cosign-tags`.
///
/// A sync of a whole repository lists every tag. Without this, such a tag
/// would be copied twice: once as an image, once with its subject; and
/// the fallback index copied as an image would name source digests, not
/// the destination's, wherever a copy changes digests. skopeo has no such
/// flags and copies every tag; so does ferry when they are not given.
pub fn carried_with_subject(tag: &str, attached: crate::destination::Attached) -> bool {
    match tag.rfind('.') {
        None => attached.referrers && digest_tag(tag, 64),
        Some(dot) => {
            let (shape, suffix) = tag.split_at(dot);
            attached.cosign_tags
                && COSIGN_SUFFIXES.contains(&suffix)
                && digest_tag(shape, usize::MAX)
        }
    }
}

/// Whether `tag` is `<alg>-<encoded>` for an algorithm ferry knows, its
/// encoded digest cut to at most `cut` characters as the tag cuts it
/// ([`fallback_tag`] cuts to 64, [`cosign_tag`] does not cut).
fn digest_tag(tag: &str, cut: usize) -> bool {
    let Some((name, encoded)) = tag.split_once('-') else {
        return false;
    };
    let Some(algorithm) = crate::digest::Algorithm::from_name(name) else {
        return false;
    };
    encoded.len() == algorithm.hex_len().min(cut)
        && encoded
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Why referrers cannot be read, followed or recorded.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ReferrersError {
    /// A referrers listing is served as something other than an OCI index.
    NotAnIndex { listing: String, media_type: String },
    /// A referrers listing does not parse as an OCI index.
    Index {
        listing: String,
        error: ManifestError,
    },
    /// An entry of a listing names no valid digest.
    EntryDigest {
        listing: String,
        pointer: String,
        found: String,
    },
    /// An entry of a listing is not an OCI manifest or index.
    EntryMediaType {
        listing: String,
        pointer: String,
        found: String,
    },
    /// A listing names the subject itself among its referrers.
    NamesSubject { listing: String, subject: String },
    /// A subject has more referrers than [`MAX_REFERRERS`], or a copy
    /// more than [`MAX_TOTAL`].
    TooMany {
        subject: String,
        count: usize,
        limit: usize,
    },
    /// A listing spans more pages than [`MAX_PAGES`].
    TooManyPages { listing: String },
    /// Referrers of referrers go deeper than [`MAX_DEPTH`].
    TooDeep { subject: String, limit: usize },
    /// A manifest already met in this copy is listed again as a referrer
    /// (a cycle, or one manifest listed under two subjects).
    Cycle { referrer: String, subject: String },
    /// A listed referrer's manifest does not name the subject it was
    /// listed for (`found` empty: it names none).
    WrongSubject {
        referrer: String,
        subject: String,
        found: String,
    },
    /// A referrer's manifest does not parse, or is not OCI.
    Manifest {
        referrer: String,
        error: ManifestError,
    },
    /// A referrer's manifest is of a type that cannot have a subject.
    NotOci {
        referrer: String,
        media_type: String,
    },
}

impl fmt::Display for ReferrersError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReferrersError::NotAnIndex {
                listing,
                media_type,
            } => write!(
                f,
                "{listing}: a referrers listing must be an OCI image index, not {media_type}",
                media_type = crate::Quoted(media_type)
            ),
            ReferrersError::Index { listing, error } => write!(f, "{listing}: {error}"),
            ReferrersError::EntryDigest {
                listing,
                pointer,
                found,
            } => write!(
                f,
                "{listing}: {pointer}: invalid digest {found}",
                found = crate::Quoted(found)
            ),
            ReferrersError::EntryMediaType {
                listing,
                pointer,
                found,
            } => write!(
                f,
                "{listing}: {pointer}: a referrer must be an OCI manifest or index, not {found}",
                found = crate::Quoted(found)
            ),
            ReferrersError::NamesSubject { listing, subject } => write!(
                f,
                "{listing}: the referrers of {subject} name {subject} itself; refused"
            ),
            ReferrersError::TooMany {
                subject,
                count,
                limit,
            } => write!(
                f,
                "{subject}: {count} referrers, more than the {limit} ferry follows; refused"
            ),
            ReferrersError::TooManyPages { listing } => write!(
                f,
                "{listing}: the referrers listing spans more than {MAX_PAGES} pages; refused"
            ),
            ReferrersError::TooDeep { subject, limit } => write!(
                f,
                "{subject}: referrers of referrers go deeper than {limit} levels; refused"
            ),
            ReferrersError::Cycle { referrer, subject } => write!(
                f,
                "{referrer} is listed as a referrer of {subject} but is already part of this copy (a cycle); refused"
            ),
            ReferrersError::WrongSubject {
                referrer,
                subject,
                found,
            } if found.is_empty() => write!(
                f,
                "{referrer} is listed as a referrer of {subject} but has no subject; refused"
            ),
            ReferrersError::WrongSubject {
                referrer,
                subject,
                found,
            } => write!(
                f,
                "{referrer} is listed as a referrer of {subject} but its subject is {found}; refused"
            ),
            ReferrersError::Manifest { referrer, error } => {
                write!(f, "referrer {referrer}: {error}")
            }
            ReferrersError::NotOci {
                referrer,
                media_type,
            } => write!(
                f,
                "referrer {referrer}: a {media_type} manifest cannot have a subject"
            ),
        }
    }
}

impl core::error::Error for ReferrersError {}

/// What a referrers listing (one page of the API's answer, the fallback
/// tag's index) says: the referrers' descriptors in document order,
/// repeated digests kept once.
///
/// `media_type` is what the listing was served as (`None`: not said);
/// `listing` names it in errors (the URL path or tag).
pub fn parse_listing(
    bytes: &[u8],
    media_type: Option<&str>,
    subject: &Digest,
    listing: &str,
) -> Result<Vec<Descriptor>, ReferrersError> {
    if let Some(t) = media_type
        && t != mt::OCI_INDEX
    {
        return Err(ReferrersError::NotAnIndex {
            listing: listing.to_string(),
            media_type: t.to_string(),
        });
    }
    let index =
        List::parse_kind(bytes, ListKind::OciIndex).map_err(|error| ReferrersError::Index {
            listing: listing.to_string(),
            error,
        })?;
    if index.entries.len() > MAX_REFERRERS {
        return Err(ReferrersError::TooMany {
            subject: subject.to_string(),
            count: index.entries.len(),
            limit: MAX_REFERRERS,
        });
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (i, entry) in index.entries.into_iter().enumerate() {
        let pointer = format!("/manifests/{i}");
        let digest = entry.digest().map_err(|_| ReferrersError::EntryDigest {
            listing: listing.to_string(),
            pointer: pointer.clone(),
            found: entry.digest_text.clone(),
        })?;
        if !matches!(entry.media_type.as_str(), mt::OCI_MANIFEST | mt::OCI_INDEX) {
            return Err(ReferrersError::EntryMediaType {
                listing: listing.to_string(),
                pointer,
                found: entry.media_type,
            });
        }
        if digest == *subject {
            return Err(ReferrersError::NamesSubject {
                listing: listing.to_string(),
                subject: subject.to_string(),
            });
        }
        if seen.insert(digest) {
            out.push(entry);
        }
    }
    Ok(out)
}

/// What the fallback tag of `subject` says, served as `media_type`
/// (`None`: not a manifest type): an OCI index is a listing
/// ([`parse_listing`]); anything else means no referrers, as the
/// distribution spec tells readers to assume.
pub fn parse_fallback(
    bytes: &[u8],
    media_type: Option<&str>,
    subject: &Digest,
) -> Result<Vec<Descriptor>, ReferrersError> {
    match media_type {
        Some(mt::OCI_INDEX) => parse_listing(
            bytes,
            media_type,
            subject,
            &format!("tag {}", fallback_tag(subject)),
        ),
        _ => Ok(Vec::new()),
    }
}

/// A referrer's manifest, read: the descriptor a referrers listing gives
/// it, and the subject it names.
#[derive(Debug, Clone, PartialEq)]
pub struct Referrer {
    /// `mediaType`, `digest`, `size`; `artifactType` the manifest's, or for
    /// an image manifest without one its config's media type; the
    /// manifest's `annotations` — what the distribution spec requires of
    /// a listing's entries.
    pub descriptor: Descriptor,
    /// The `subject` digest as written (empty: none).
    pub subject: String,
}

/// Reads `bytes`, a manifest of `media_type` (`None`: guessed), as a
/// referrer. Only OCI manifests and indexes have a subject.
pub fn referrer(bytes: &[u8], media_type: Option<&str>) -> Result<Referrer, ReferrersError> {
    let digest = Digest::sha256_of(bytes);
    let media_type = match media_type {
        Some(t) if !t.is_empty() => t.to_string(),
        _ => crate::manifest::guess_media_type(bytes).to_string(),
    };
    let manifest_error = |error| ReferrersError::Manifest {
        referrer: digest.to_string(),
        error,
    };
    let (artifact_type, subject, annotations) = match media_type.as_str() {
        mt::OCI_MANIFEST => {
            let m = OciManifest::parse(bytes).map_err(manifest_error)?;
            let artifact_type = if m.artifact_type.is_empty() {
                m.config.media_type
            } else {
                m.artifact_type
            };
            (artifact_type, m.subject, m.annotations)
        }
        mt::OCI_INDEX => {
            let l = List::parse_kind(bytes, ListKind::OciIndex).map_err(manifest_error)?;
            (l.artifact_type, l.subject, l.annotations)
        }
        other => {
            return Err(ReferrersError::NotOci {
                referrer: digest.to_string(),
                media_type: other.to_string(),
            });
        }
    };
    Ok(Referrer {
        descriptor: Descriptor {
            media_type,
            digest_text: digest.to_string(),
            size: bytes.len() as i64,
            annotations,
            artifact_type,
            ..Descriptor::default()
        },
        subject: subject.map(|s| s.digest_text).unwrap_or_default(),
    })
}

/// [`referrer`], refused unless it names `subject`: what a copy asks of
/// every manifest a listing gives for `subject` before copying it.
pub fn check(
    bytes: &[u8],
    media_type: Option<&str>,
    subject: &Digest,
) -> Result<Referrer, ReferrersError> {
    let r = referrer(bytes, media_type)?;
    if r.subject != subject.as_str() {
        return Err(ReferrersError::WrongSubject {
            referrer: r.descriptor.digest_text,
            subject: subject.to_string(),
            found: r.subject,
        });
    }
    Ok(r)
}

/// The fallback tag's index with `referrer` added, as a client pushing a
/// manifest with a subject to a registry without the referrers API must
/// write it: `existing` is the index at the tag (`None`: no tag yet, or
/// not an index, which the spec says to treat as no referrers).
///
/// Entries already there stay, in their order, member for member; the new
/// one goes last, so copying a listing entry by entry reproduces its
/// order. `None` when the index already lists the referrer: nothing to
/// write.
pub fn add_to_index(
    existing: Option<&[u8]>,
    referrer: &Descriptor,
) -> Result<Option<Vec<u8>>, ReferrersError> {
    let listing = "the fallback referrers index";
    let mut index = match existing.map(json::parse) {
        Some(Ok(Value::Object(o))) => {
            // Refuse what the spec's readers would refuse: the tag must
            // hold an OCI index.
            List::parse_kind(existing.unwrap_or_default(), ListKind::OciIndex).map_err(
                |error| ReferrersError::Index {
                    listing: listing.to_string(),
                    error,
                },
            )?;
            o
        }
        _ => Object::from_pairs([
            ("schemaVersion", Value::from(2)),
            ("mediaType", Value::from(mt::OCI_INDEX)),
            ("manifests", Value::Array(Vec::new())),
        ]),
    };
    let mut entries = match index.field("manifests") {
        Some(Value::Array(items)) => items.clone(),
        _ => Vec::new(),
    };
    let already = entries.iter().any(|e| {
        e.as_object()
            .and_then(|o| o.field("digest"))
            .and_then(Value::as_str)
            == Some(referrer.digest_text.as_str())
    });
    if already {
        return Ok(None);
    }
    if entries.len() >= MAX_REFERRERS {
        return Err(ReferrersError::TooMany {
            subject: listing.to_string(),
            count: entries.len() + 1,
            limit: MAX_REFERRERS,
        });
    }
    entries.push(crate::registry::attachments::descriptor_json(referrer));
    index.set("manifests", Value::Array(entries));
    Ok(Some(Value::Object(index).to_compact(false).into_bytes()))
}

/// Which referrers a copy follows, breadth first from the manifests it
/// copied: each subject is listed once; every referrer met is new (or the
/// copy is refused as a cycle); depth and counts stay within bounds.
///
/// The driver asks [`next_subject`](Self::next_subject), lists that
/// subject's referrers wherever they are kept, and hands the listing to
/// [`listed`](Self::listed), which returns the ones to copy; once each is
/// copied, it is itself a subject.
#[derive(Debug, Clone, Default)]
pub struct Follow {
    /// Every manifest met: the roots and each referrer.
    met: BTreeSet<Digest>,
    /// Subjects still to list, with their depth.
    queue: VecDeque<(Digest, usize)>,
    /// The depth of each queued or listed subject.
    depth: BTreeMap<Digest, usize>,
    total: usize,
    /// The subject handed out last, whose listing comes next.
    current: Option<(Digest, usize)>,
}

impl Follow {
    /// Starts from the manifests a copy wrote (the top level and each
    /// instance), which are subjects at depth 0.
    pub fn new(roots: impl IntoIterator<Item = Digest>) -> Self {
        let mut f = Follow::default();
        for root in roots {
            if f.met.insert(root.clone()) {
                f.depth.insert(root.clone(), 0);
                f.queue.push_back((root, 0));
            }
        }
        f
    }

    /// The next subject whose referrers to list, if any.
    pub fn next_subject(&mut self) -> Option<Digest> {
        let next = self.queue.pop_front();
        self.current = next.clone();
        next.map(|(d, _)| d)
    }

    /// The referrers `listing` gives for the subject last handed out:
    /// those to copy, in order. Each becomes a subject in turn.
    pub fn listed(&mut self, listing: &[Descriptor]) -> Result<Vec<Descriptor>, ReferrersError> {
        let Some((subject, depth)) = self.current.take() else {
            return Ok(Vec::new());
        };
        if listing.is_empty() {
            return Ok(Vec::new());
        }
        if depth >= MAX_DEPTH {
            return Err(ReferrersError::TooDeep {
                subject: subject.to_string(),
                limit: MAX_DEPTH,
            });
        }
        if listing.len() > MAX_REFERRERS {
            return Err(ReferrersError::TooMany {
                subject: subject.to_string(),
                count: listing.len(),
                limit: MAX_REFERRERS,
            });
        }
        self.total += listing.len();
        if self.total > MAX_TOTAL {
            return Err(ReferrersError::TooMany {
                subject: "this copy".to_string(),
                count: self.total,
                limit: MAX_TOTAL,
            });
        }
        let mut out = Vec::with_capacity(listing.len());
        for entry in listing {
            let digest = entry.digest().map_err(|_| ReferrersError::EntryDigest {
                listing: subject.to_string(),
                pointer: format!("/manifests/{}", out.len()),
                found: entry.digest_text.clone(),
            })?;
            if digest == subject {
                return Err(ReferrersError::NamesSubject {
                    listing: subject.to_string(),
                    subject: subject.to_string(),
                });
            }
            if !self.met.insert(digest.clone()) {
                return Err(ReferrersError::Cycle {
                    referrer: digest.to_string(),
                    subject: subject.to_string(),
                });
            }
            self.depth.insert(digest.clone(), depth + 1);
            self.queue.push_back((digest, depth + 1));
            out.push(entry.clone());
        }
        Ok(out)
    }

    /// How deep `digest` is: 0 for a root, 1 for its referrers…
    pub fn depth_of(&self, digest: &Digest) -> Option<usize> {
        self.depth.get(digest).copied()
    }
}

/// How a copy that follows referrers copies its image: as asked, but with
/// every digest kept, since the referrers name their subjects by digest
/// and are copied unmodified (a converted image would leave them naming a
/// manifest the destination does not have).
pub fn image_options(options: &crate::plan::CopyOptions) -> crate::plan::CopyOptions {
    crate::plan::CopyOptions {
        preserve_digests: true,
        ..options.clone()
    }
}

/// How each referrer is copied: whole (every instance of an index
/// referrer), byte for byte, with or without signatures as the image;
/// never judged by the policy (which judges the image) nor signed.
pub fn referrer_options(options: &crate::plan::CopyOptions) -> crate::plan::CopyOptions {
    crate::plan::CopyOptions {
        remove_signatures: options.remove_signatures,
        preserve_digests: true,
        ..crate::plan::CopyOptions::new(crate::plan::Selection::All)
    }
}
