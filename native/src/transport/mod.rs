//! Transports: where images live, and how ferry reads and writes them.
//!
//! Every transport implements [`ImageSource`] and/or [`ImageDestination`];
//! the copy engine talks only to these two traits, and transports never
//! know about each other. [`reference::Reference::parse`] is the one place that maps
//! skopeo's `transport:rest` syntax to an implementation.
//!
//! # The contract
//!
//! A copy calls a destination in this order, and transports may rely on it:
//! 1. blobs ([`ImageDestination::put_blob`]), in any order, concurrently;
//! 2. instance manifests ([`ImageDestination::put_manifest`] with
//!    `Some(instance)`), then the top-level manifest (`None`);
//! 3. signatures ([`ImageDestination::put_signatures`]), per instance and
//!    for the top level, each after the manifest it signs (an instance's
//!    come before the next instance's manifest, as in containers/image);
//! 4. [`ImageDestination::commit`], exactly once, last.
//!
//! Order matters per manifest: a blob may follow an unrelated instance's
//! manifest (a config made by converting a schema 1 image), never one
//! naming it. `ferry::testing::Contract` states these rules as code, and
//! its suite (`ferry::testing::contract`) runs against every destination.
//!
//! Nothing a destination writes may be visible as complete before `commit`
//! where the format has a single point of truth (an OCI layout's
//! `index.json`, an archive file): an interrupted copy leaves the
//! destination as it was, or with unreferenced blobs only.
//!
//! Blobs cross as streams; a destination verifies the digest and size
//! while it writes and refuses content that does not match, so no blob is
//! ever held whole in memory.

pub mod archive;
pub mod daemon;
pub mod dir;
pub mod docker_archive;
pub mod dry_run;
pub mod oci;
pub mod oci_archive;
pub mod reference;
pub mod registry;
pub mod storage;

use std::fmt;
use std::path::PathBuf;
use std::pin::Pin;

use async_trait::async_trait;
use ferry_core::Digest;
pub use ferry_core::destination::{Capabilities, Kind};
use ferry_core::retry::Failure;
use tokio::io::AsyncRead;

/// A blob being read.
pub type BlobStream = Pin<Box<dyn AsyncRead + Send>>;

/// What is known about a blob: its digest, and the size and media type
/// the descriptor naming it states, when it states them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobInfo {
    pub digest: Digest,
    /// The size the descriptor states; `None` when it is not known (schema
    /// 1 layers, whose manifests carry no sizes; a blob asked for by digest
    /// alone). A stated size must be the blob's length exactly: a negative
    /// one is a descriptor's lie and matches no content.
    pub size: Option<i64>,
    /// The media type the descriptor gives; `None` when it gives none.
    pub media_type: Option<String>,
}

impl BlobInfo {
    /// The blob a descriptor names, from ferry-core's fields (its size
    /// [`UNKNOWN_SIZE`](ferry_core::manifest::UNKNOWN_SIZE) when not known,
    /// an empty media type when none is given).
    pub fn described(digest: Digest, size: i64, media_type: &str) -> Self {
        BlobInfo {
            digest,
            size: (size != ferry_core::manifest::UNKNOWN_SIZE).then_some(size),
            media_type: (!media_type.is_empty()).then(|| media_type.to_string()),
        }
    }

    /// The size in ferry-core's convention ([`UNKNOWN_SIZE`](ferry_core::manifest::UNKNOWN_SIZE)
    /// when not known), for its rules and for reports.
    pub fn stated_size(&self) -> i64 {
        self.size.unwrap_or(ferry_core::manifest::UNKNOWN_SIZE)
    }

    /// Whether content of `length` bytes may be this blob
    /// ([`ferry_core::manifest::check_size`]).
    pub fn check_size(&self, length: u64) -> Result<(), ferry_core::manifest::SizeMismatch> {
        ferry_core::manifest::check_size(self.digest.as_str(), self.stated_size(), length)
    }

    /// Whether content still arriving, `so_far` bytes long, may yet be this
    /// blob ([`ferry_core::manifest::check_size_so_far`]).
    pub fn check_size_so_far(&self, so_far: u64) -> Result<(), ferry_core::manifest::SizeMismatch> {
        ferry_core::manifest::check_size_so_far(self.digest.as_str(), self.stated_size(), so_far)
    }

    /// [`check_size`](Self::check_size) as a yes or no.
    pub fn size_matches(&self, length: u64) -> bool {
        ferry_core::manifest::size_matches(self.stated_size(), length)
    }

    /// The media type, or `""` when none is given.
    pub fn media_type_or_empty(&self) -> &str {
        self.media_type.as_deref().unwrap_or_default()
    }

    /// Whether the file at `path` holds this blob, as far as its length
    /// tells: its length when it matches the stated size, `None` when it
    /// does not or there is no file.
    pub(crate) async fn stored_at(
        &self,
        path: &std::path::Path,
    ) -> Result<Option<u64>, TransportError> {
        match tokio::fs::metadata(path).await {
            Ok(meta) if self.size_matches(meta.len()) => Ok(Some(meta.len())),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(path, "stat")(e)),
        }
    }
}

/// What became of an attempt to mount a blob from another repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mount {
    /// The destination has the blob now; nothing need be copied.
    Mounted,
    /// Not tried: another registry, the same repository, or a
    /// destination that cannot mount.
    NotTried,
    /// The registry would not mount it (why, in words); the blob must be
    /// copied, as containers/image then copies it.
    Refused { reason: String },
}

/// Why a transport operation failed. Each variant names the input.
#[derive(Debug)]
#[non_exhaustive]
pub enum TransportError {
    /// A reference string does not parse.
    InvalidReference { reference: String, reason: String },
    /// A file operation failed.
    Io {
        path: PathBuf,
        action: &'static str,
        error: std::io::Error,
    },
    /// Something the copy needs does not exist at the source.
    NotFound { what: String, location: String },
    /// Content does not match the digest it was asked for or claims.
    DigestMismatch {
        what: String,
        expected: String,
        actual: String,
    },
    /// Content does not have the size it claims.
    SizeMismatch {
        what: String,
        expected: i64,
        actual: u64,
    },
    /// Content whose length, known before it is used, is not the size
    /// its descriptor states: it is not what the descriptor names, and
    /// fetching it again will not change that.
    DescriptorSize {
        /// Which descriptor: an `index.json` entry, a list entry, a
        /// manifest's config or layer.
        what: String,
        error: ferry_core::manifest::SizeMismatch,
    },
    /// A manifest or list that does not parse.
    Manifest {
        what: String,
        error: ferry_core::ManifestError,
    },
    /// Input that is malformed or hostile: a layout, an archive, a
    /// registry's answer that breaks a limit or a rule, a configuration.
    Malformed { location: String, reason: String },
    /// A blob's content that does not decode as its media type says (a
    /// layer that is not gzip): it is not what its digest names.
    Corrupt { location: String, reason: String },
    /// A server could not be reached, or the connection broke off.
    Network { location: String, reason: String },
    /// A server answered with an unsuccessful status; `codes` are the
    /// registry's error codes from the body.
    Status {
        location: String,
        reason: String,
        status: u16,
        codes: Vec<String>,
    },
    /// The registry or its token server refused the credentials, or wants
    /// some and none were given.
    Unauthorized {
        location: String,
        reason: String,
        status: u16,
    },
    /// ferry itself failed (a poisoned lock): a bug, not the input.
    Internal { location: String, reason: String },
    /// The destination cannot store this (e.g. a list in docker-archive).
    Unsupported { location: String, reason: String },
    /// The destination refused a manifest type; the engine may try
    /// another.
    ManifestTypeRejected { media_type: String, reason: String },
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransportError::InvalidReference { reference, reason } => {
                write!(f, "invalid reference {reference:?}: {reason}")
            }
            TransportError::Io {
                path,
                action,
                error,
            } => write!(f, "{}: cannot {action}: {error}", path.display()),
            TransportError::NotFound { what, location } => {
                write!(f, "{location}: {what} not found")
            }
            TransportError::DigestMismatch {
                what,
                expected,
                actual,
            } => write!(
                f,
                "{what}: content has digest {actual}, expected {expected}"
            ),
            TransportError::SizeMismatch {
                what,
                expected,
                actual,
            } => write!(f, "{what}: content is {actual} bytes, expected {expected}"),
            TransportError::DescriptorSize { what, error } => write!(f, "{what}: {error}"),
            TransportError::Manifest { what, error } => write!(f, "{what}: {error}"),
            TransportError::Malformed { location, reason }
            | TransportError::Corrupt { location, reason }
            | TransportError::Network { location, reason }
            | TransportError::Status {
                location, reason, ..
            }
            | TransportError::Unauthorized {
                location, reason, ..
            }
            | TransportError::Internal { location, reason } => write!(f, "{location}: {reason}"),
            TransportError::Unsupported { location, reason } => write!(f, "{location}: {reason}"),
            TransportError::ManifestTypeRejected { media_type, reason } => {
                write!(f, "manifest type {media_type} refused: {reason}")
            }
        }
    }
}

impl TransportError {
    /// What kind of failure this is, for ferry-core's retry rule
    /// ([`ferry_core::retry::is_transient`]). `in_transit`: the content
    /// involved came over the network, so damage to it may be the
    /// transfer's.
    pub fn failure(&self, in_transit: bool) -> Failure<'_> {
        match self {
            TransportError::Network { .. } => Failure::Network,
            TransportError::Status { status, codes, .. } => Failure::Status {
                status: *status,
                codes,
            },
            TransportError::Unauthorized { .. } => Failure::Unauthorized,
            TransportError::Malformed { .. }
            | TransportError::Manifest { .. }
            | TransportError::DescriptorSize { .. } => Failure::Malformed,
            TransportError::DigestMismatch { .. }
            | TransportError::SizeMismatch { .. }
            | TransportError::Corrupt { .. } => Failure::Integrity { in_transit },
            TransportError::Io { .. } => Failure::Io,
            TransportError::InvalidReference { .. }
            | TransportError::NotFound { .. }
            | TransportError::Unsupported { .. }
            | TransportError::ManifestTypeRejected { .. }
            | TransportError::Internal { .. } => Failure::Refused,
        }
    }

    /// Whether another attempt may succeed ([`failure`](Self::failure)
    /// judged by ferry-core's rule).
    pub fn is_transient(&self, in_transit: bool) -> bool {
        ferry_core::retry::is_transient(&self.failure(in_transit))
    }
}

/// No `source()`: every message already ends with its cause, and giving the
/// cause again as the source makes `{:#}` print it twice ("No space left on
/// device (os error 28): No space left on device (os error 28)").
impl std::error::Error for TransportError {}

/// Shorthand for an I/O error on a path.
pub(crate) fn io_error(
    path: impl Into<PathBuf>,
    action: &'static str,
) -> impl FnOnce(std::io::Error) -> TransportError {
    let path = path.into();
    move |error| TransportError::Io {
        path,
        action,
        error,
    }
}

/// Reading an image.
///
/// A copy reads the top-level manifest first (`manifest(None)`), then,
/// for a list, the instances and nested lists it names; blobs are read
/// concurrently, each possibly more than once (a transfer that broke off is
/// fetched again from the start). A source may check what it serves
/// against the digests it is asked for; the copy checks lengths against
/// descriptors itself.
#[async_trait]
pub trait ImageSource: Send + Sync {
    /// The reference, for messages.
    fn reference(&self) -> String;

    /// The top-level manifest (`None`) or an instance's manifest, with its
    /// media type as the source records it (`None`: not recorded).
    async fn manifest(
        &self,
        instance: Option<&Digest>,
    ) -> Result<(Vec<u8>, Option<String>), TransportError>;

    /// A blob as a stream, and its length if the source knows it before
    /// sending it.
    async fn blob(&self, info: &BlobInfo) -> Result<(BlobStream, Option<u64>), TransportError>;

    /// A blob's bytes from `offset` on, to continue a download an earlier
    /// copy began ([`ImageDestination::kept_part`]); `None` if the source
    /// cannot start there (it reads blobs from the start only, or a
    /// registry ignored the range asked for).
    async fn blob_from(
        &self,
        _info: &BlobInfo,
        _offset: u64,
    ) -> Result<Option<BlobStream>, TransportError> {
        Ok(None)
    }

    /// Signatures of the top level or of an instance.
    async fn signatures(&self, instance: Option<&Digest>) -> Result<Vec<Vec<u8>>, TransportError>;

    /// For registries: `(api host, repository)`, so a destination on the
    /// same registry can mount blobs instead of copying them.
    fn registry_location(&self) -> Option<(String, String)> {
        None
    }

    /// The referrers of the manifest `subject` (the manifests whose
    /// `subject` names it), as the source lists them: a registry's
    /// referrers API or fallback tag, an OCI layout's `index.json`. Each
    /// is readable with [`manifest`](Self::manifest)`(Some(digest))`.
    /// Sources that cannot hold referrers have none.
    async fn referrers(
        &self,
        _subject: &Digest,
    ) -> Result<Vec<ferry_core::Descriptor>, TransportError> {
        Ok(Vec::new())
    }

    /// The manifest tagged `tag` beside this image (in the same repository
    /// or layout), with its media type if recorded, if there is one:
    /// cosign's `sha256-<hex>.sig`, `.att` and `.sbom`. Its blobs are read
    /// with [`blob`](Self::blob). Sources without tags have none.
    async fn tagged_manifest(
        &self,
        _tag: &str,
    ) -> Result<Option<(Vec<u8>, Option<String>)>, TransportError> {
        Ok(None)
    }
}

/// A manifest for [`ImageDestination::store_manifest`]: its bytes, its
/// media type, and which list instance it is (`None`: the top level).
#[derive(Clone, Copy, Debug)]
pub struct ManifestToStore<'a> {
    pub bytes: &'a [u8],
    pub media_type: &'a str,
    pub instance: Option<&'a Digest>,
}

/// Writing an image.
///
/// The questions (`capabilities`, `reference_digest`, `docker_reference`)
/// may be
/// asked at any time. The writes come in this order, and an implementation
/// may rely on it:
/// 1. blobs: [`has_blob`](Self::has_blob), [`mount_blob`](Self::mount_blob)
///    and [`put_blob`](Self::put_blob), concurrently, in any order;
/// 2. manifests: every instance's (`put_manifest` with `Some`), then the
///    top level's (`None`); a manifest type may be refused
///    ([`TransportError::ManifestTypeRejected`]) and another tried;
/// 3. signatures ([`put_signatures`](Self::put_signatures)), per instance
///    and for the top level, after the manifest they sign;
/// 4. [`commit`](Self::commit), exactly once, last, and only if everything
///    before succeeded. A destination dropped without a commit leaves its
///    place as it was, or with unreferenced blobs only.
#[async_trait]
pub trait ImageDestination: Send + Sync {
    /// The reference, for messages.
    fn reference(&self) -> String;

    /// What it accepts (manifest types, layer compression, signatures):
    /// its kind's entry in [`ferry_core::destination`]'s table, refined
    /// only by configuration the destination holds (a registry's
    /// lookaside storage).
    fn capabilities(&self) -> Capabilities;

    /// The digest the destination reference names (`repo@sha256:…`), which
    /// what is written must match.
    fn reference_digest(&self) -> Option<String> {
        None
    }

    /// For registries: the repository path and tag (empty when none) that
    /// a Docker schema 1 manifest written there names; containers/image
    /// leaves both empty elsewhere.
    fn docker_reference(&self) -> Option<(String, String)> {
        None
    }

    /// Whether a list's instance manifests may be written side by side,
    /// each while the others are on their way (a registry: each is a
    /// request of its own). Destinations that gather what they are given
    /// into one place keep to one write at a time.
    fn writes_instances_side_by_side(&self) -> bool {
        false
    }

    /// How many existence checks it takes at once, when that is more than
    /// a copy's own bound (`--jobs` × 4, which keeps the connections a
    /// copy opens to a few dozen): a registry that answers over HTTP/2
    /// carries them all on one connection.
    fn checks_side_by_side(&self) -> Option<usize> {
        None
    }

    /// For registries: `(api host, repository)`, as
    /// [`mount_blob`](Self::mount_blob) names another repository; the
    /// blob info cache records where blobs were written by it.
    fn registry_location(&self) -> Option<(String, String)> {
        None
    }

    /// Whether it already has the blob, and its length, so the copy can
    /// skip it (`None`: it has not).
    async fn has_blob(&self, info: &BlobInfo) -> Result<Option<u64>, TransportError>;

    /// The digest of the manifest its reference names now, if it can
    /// tell with one cheap question (a registry's tag): the copy's
    /// [`names`](ferry_core::copy::Destination::names).
    async fn named_digest(&self) -> Option<Digest> {
        None
    }

    /// Whether it holds the manifest `digest`, and so everything that
    /// manifest names: the copy's
    /// [shortcut](ferry_core::copy::Copy::shortcut). `false` when it
    /// cannot tell with one cheap question, or the question failed (the
    /// copy's own requests then meet the failure and report it).
    async fn has_manifest(&self, _digest: &Digest) -> bool {
        false
    }

    /// The first part of the blob, kept here when an earlier copy's
    /// download of it broke off ([`crate::fs::kept`]), taken for this
    /// copy: its bytes, and how many. The copy asks the source for the
    /// rest ([`ImageSource::blob_from`]) and writes the two as one stream
    /// with [`put_blob`](Self::put_blob). Dropped unread (the source
    /// could not send the rest), the part is kept again.
    async fn kept_part(&self, _info: &BlobInfo) -> Option<(BlobStream, u64)> {
        None
    }

    /// Makes a blob of another repository on the same registry available
    /// without copying it (`from` is `(api host, repository)`). Unless it
    /// is [`Mount::Mounted`], the blob must be copied; a refusal is not an
    /// error of the copy.
    async fn mount_blob(
        &self,
        _info: &BlobInfo,
        _from: &(String, String),
    ) -> Result<Mount, TransportError> {
        Ok(Mount::NotTried)
    }

    /// Stores a blob from a stream, verifying its digest and size while
    /// writing; content that does not match is refused and not kept.
    async fn put_blob(&self, stream: BlobStream, info: &BlobInfo) -> Result<(), TransportError>;

    /// Stores the top-level manifest (`instance` `None`) or an instance's
    /// manifest.
    async fn store_manifest(&self, manifest: ManifestToStore<'_>) -> Result<(), TransportError>;

    /// [`store_manifest`](Self::store_manifest) of `manifest`, of
    /// `media_type`, as `instance` (`None`: the top level).
    async fn put_manifest(
        &self,
        manifest: &[u8],
        media_type: &str,
        instance: Option<&Digest>,
    ) -> Result<(), TransportError> {
        self.store_manifest(ManifestToStore {
            bytes: manifest,
            media_type,
            instance,
        })
        .await
    }

    /// Stores signatures for the top level or an instance. A destination
    /// whose [`capabilities`](Self::capabilities) exclude signatures
    /// refuses any here, saying why, without writing anything; the engine
    /// asks it so before the first blob. The default is that refusal:
    /// nothing to store is fine, anything else is [`refused`](Self::refused).
    async fn put_signatures(
        &self,
        signatures: &[Vec<u8>],
        _instance: Option<&Digest>,
    ) -> Result<(), TransportError> {
        if signatures.is_empty() {
            Ok(())
        } else {
            Err(self.refused("the destination cannot store signatures (use --remove-signatures)"))
        }
    }

    /// The source's top-level manifest, told before anything is written.
    /// A destination that stores one image chosen from a list keeps the
    /// list beside it (containers-storage); others ignore it.
    fn source_top(&self, _bytes: &[u8], _media_type: &str) {}

    /// Makes everything written visible, atomically where the format
    /// allows. `top` is the top-level manifest as written.
    async fn commit(&self, top: &[u8], media_type: &str) -> Result<(), TransportError>;

    /// Where the referrer `digest` of an image this destination holds is
    /// written: a destination of its own, with its own contract (blobs,
    /// manifest, commit), in the same place. Destinations that cannot
    /// hold referrers refuse.
    async fn referrer_destination(
        &self,
        _digest: &Digest,
    ) -> Result<Box<dyn ImageDestination>, TransportError> {
        Err(self.refused("the destination cannot store referrers"))
    }

    /// Where an image tagged `tag` beside this one is written (cosign's
    /// tags): a destination of its own in the same repository or layout.
    /// Destinations without tags refuse.
    async fn tagged_destination(
        &self,
        _tag: &str,
    ) -> Result<Box<dyn ImageDestination>, TransportError> {
        Err(self.refused("the destination cannot hold tags beside the image"))
    }

    /// Called on a [`referrer_destination`](Self::referrer_destination)
    /// after its referrer was committed: makes `referrer` listed among the
    /// referrers of `subject` where the place does not do so by itself (a
    /// registry without the referrers API: the fallback tag).
    async fn list_referrer(
        &self,
        _subject: &Digest,
        _referrer: &ferry_core::Descriptor,
    ) -> Result<(), TransportError> {
        Ok(())
    }

    /// The refusal of an operation this destination cannot do: `reason`
    /// says why.
    fn refused(&self, reason: &str) -> TransportError {
        TransportError::Unsupported {
            location: self.reference(),
            reason: reason.to_string(),
        }
    }
}
