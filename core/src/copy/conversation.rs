//! The conversation between a driver and the [`Copy`](super::Copy)
//! machine: what the copy writes to and how ([`Destination`], [`Mode`]),
//! what it asks for ([`Need`]), what the driver hands back ([`Answer`]),
//! and what it reports ([`Tally`], [`Written`]).

use alloc::string::String;
use alloc::vec::Vec;

use crate::destination::Capabilities;
use crate::digest::Digest;
use crate::manifest::edit::LayerUpdate;
use crate::plan::compression::{BlobOperation, Wish};

/// What the copy writes to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Destination {
    /// Its kind's entry in [`crate::destination`]'s table (refined, for a
    /// registry, by its lookaside configuration).
    pub capabilities: Capabilities,
    /// The digest its reference names (`repo@sha256:…`), which what is
    /// written must match.
    pub reference_digest: Option<String>,
    /// For a registry: the repository path and tag (empty when none) that
    /// a Docker schema 1 manifest written there names.
    pub docker_reference: Option<(String, String)>,
    /// The digest of the manifest its reference names now, when the
    /// driver asked before starting (a registry's tag). A copy that would
    /// write exactly that manifest and change nothing has nothing to
    /// move or write: with no signatures to copy or judge it ends before
    /// reading the images, otherwise it writes no manifest.
    pub names: Option<String>,
}

/// Whether the copy writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Reads, moves blobs, writes manifests and signatures, commits.
    Copy,
    /// Reads, asks about blobs, and stops once the transfers are answered
    /// ([`BlobOutcome::Present`] or [`BlobOutcome::Absent`]) with the
    /// summary ([`Copy::summary`]); writes nothing.
    DryRun,
    /// Reads manifests only, for a destination that has none of the blobs
    /// yet, and stops with the summary: no [`Need::Transfer`], so blob
    /// digests are never used as names and need not be ones ferry can
    /// fetch (the facade's `planCopy`).
    Plan,
}

/// What the copy needs done next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Need {
    /// The manifest of a list nested in the top-level list:
    /// [`Answer::Manifest`] (or [`Answer::Missing`] when the driver only
    /// has some manifests at hand).
    NestedList { digest: Digest },
    /// The signatures of the top level (`None`), a nested list or an
    /// instance: [`Answer::Signatures`].
    Signatures { instance: Option<Digest> },
    /// The manifest of an image to copy, named by a list entry:
    /// [`Answer::Manifest`] (or [`Answer::Missing`]).
    Instance { digest: Digest },
    /// Judge these images under the trust policy before anything moves
    /// ([`CopyOptions::judge_signatures`](crate::plan::CopyOptions)):
    /// [`Answer::Done`] when every one is allowed; a driver that refuses
    /// one stops the copy with its own error.
    Judge(Vec<Judged>),
    /// Signatures the destination cannot store are to be copied: ask it to
    /// take them, so that it refuses saying why (and which configuration
    /// would let it), before anything is written; [`Answer::Done`] if it
    /// does not refuse after all.
    RefuseSignatures {
        signatures: Vec<Vec<u8>>,
        instance: Option<Digest>,
    },
    /// Move these blobs, in any order, at once: [`Answer::Blob`] for each
    /// (by its `id`). A task with `check` is asked about at the
    /// destination first and skipped if there. When
    /// [`Copy::shortcut`](super::Copy::shortcut) names a manifest, the
    /// driver may ask the destination whether it holds it, beside the
    /// transfers; if it does, [`Answer::Held`] (before the blobs'
    /// answers), and every task not yet started then is
    /// [`BlobOutcome::Present`] without asking.
    Transfer(Vec<BlobTask>),
    /// A config blob from the source, whole (to build a schema 1
    /// manifest): [`Answer::Config`].
    Config {
        digest: Digest,
        size: i64,
        media_type: String,
    },
    /// Store this small blob unless the destination has it:
    /// [`Answer::Done`].
    PutBlob {
        digest: Digest,
        media_type: String,
        bytes: Vec<u8>,
        /// What it is, for messages: "the converted config", "the empty
        /// layer".
        what: &'static str,
    },
    /// Sign this schema 1 manifest: [`Answer::Signed`].
    Sign { unsigned: Vec<u8> },
    /// Write a manifest: [`Answer::Written`], or [`Answer::Rejected`] when
    /// the destination refuses its type (the machine then decides what to
    /// try next).
    WriteManifest {
        bytes: Vec<u8>,
        media_type: String,
        /// Its manifest digest.
        digest: Digest,
        /// `Some(digest)` for an instance or nested list of a list being
        /// written, `None` for the top level.
        instance: Option<Digest>,
        role: Role,
    },
    /// Make new signatures (`--sign-by…`) of the manifest written as
    /// `digest`: [`Answer::Signatures`] with them.
    SignManifest {
        digest: Digest,
        /// As in [`Need::WriteSignatures`].
        instance: Option<Digest>,
    },
    /// Write signatures: [`Answer::Done`].
    WriteSignatures {
        signatures: Vec<Vec<u8>>,
        instance: Option<Digest>,
    },
    /// Make everything visible: [`Answer::Done`].
    Commit { bytes: Vec<u8>, media_type: String },
    /// The copy cannot go on: these manifests (nested lists, or images)
    /// were answered [`Answer::Missing`]. Final.
    Unavailable { missing: Vec<String> },
    /// The copy is complete. Final.
    Done,
}

/// An image the trust policy must allow: the single image, each
/// instance copied, and the list when it is written (as containers/image
/// judges every image it copies; ferry judges the list too, and all of
/// them before the first byte moves).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judged {
    /// The instance digest; `None` for the top level.
    pub instance: Option<Digest>,
    pub manifest: Vec<u8>,
    pub signatures: Vec<Vec<u8>>,
}

/// Which manifest a [`Need::WriteManifest`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The single image of the copy (the top level, or one instance taken
    /// out of a list).
    Image,
    /// An image of a list being copied.
    Instance,
    /// A list nested in the top-level list.
    NestedList,
    /// The top-level list.
    List,
}

impl Role {
    /// As reports name it.
    pub fn name(self) -> &'static str {
        match self {
            Role::Image => "image",
            Role::Instance => "instance",
            Role::NestedList | Role::List => "list",
        }
    }
}

/// One blob to move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobTask {
    /// Which task of the batch, for [`Answer::Blob`].
    pub id: usize,
    pub digest: Digest,
    /// The size its descriptor states; `None` when not known (schema 1
    /// layers). Kept signed, as stated: a negative size is a descriptor's
    /// lie, which no content may match, not an unknown size.
    pub size: Option<i64>,
    pub media_type: String,
    /// Whose descriptor named it, for errors: "the layer of manifest …".
    pub what: String,
    /// What the media type predicts (the plan shows it).
    pub operation: BlobOperation,
    /// For a layer whose compression may change: what the destination
    /// wants. The driver detects the compression of the first bytes and
    /// asks [`step`](crate::plan::compression::step) what to do; without
    /// a wish the bytes are copied as they are.
    pub wish: Option<Wish>,
    /// Ask the destination first and skip the blob if it is there.
    pub check: bool,
    /// Compute the layer's diff ID on the way (schema 1 conversions).
    pub diff_id: bool,
}

/// How one blob's transfer ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobOutcome {
    /// The destination had it.
    Present,
    /// The destination does not have it, and nothing moved (a dry run).
    Absent,
    /// Made available from another repository of the same registry.
    Mounted {
        /// Bytes read by earlier, failed attempts.
        refetched: u64,
    },
    /// A layer whose new form the blob info cache named, and which the
    /// destination proved to hold (or mounted): no bytes moved, nothing
    /// was compressed.
    Reused {
        changed: LayerUpdate,
        /// Mounted from another repository, rather than found in place.
        mounted: bool,
    },
    /// Moved.
    Copied {
        /// Bytes written (of the new form, for a changed layer).
        size: u64,
        /// Bytes read by earlier, failed attempts.
        refetched: u64,
        /// The layer's new form (a new digest, or the media type its
        /// detected compression names), when the task changed it.
        changed: Option<LayerUpdate>,
        /// The layer's diff ID, for a task that asked for it.
        diff_id: Option<Digest>,
    },
}

/// A result handed back for the current [`Need`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// A manifest, with the media type the source gives it (empty:
    /// unknown, then the naming list's type is used).
    Manifest {
        bytes: Vec<u8>,
        media_type: String,
    },
    /// The driver does not have this manifest (planning from manifests at
    /// hand); the copy asks for the rest, then stops at
    /// [`Need::Unavailable`].
    Missing,
    Signatures(Vec<Vec<u8>>),
    Blob {
        id: usize,
        outcome: BlobOutcome,
    },
    /// During [`Need::Transfer`]: the destination holds the manifest
    /// [`Copy::shortcut`](super::Copy::shortcut) names, and so everything
    /// it names. The copy then writes the top level alone (with its
    /// signatures, and the commit): no instance is written again; and
    /// when its reference already names that manifest (`tagged`), not
    /// even the top level.
    Held {
        tagged: bool,
    },
    Config(Vec<u8>),
    Signed(Vec<u8>),
    Written,
    /// The destination refused the manifest's type.
    Rejected {
        media_type: String,
        reason: String,
    },
    Done,
}

/// What the blob transfers came to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub copied: usize,
    pub skipped: usize,
    pub mounted: usize,
    pub bytes_copied: u64,
    pub bytes_skipped: u64,
    /// Bytes fetched again after broken or corrupt transfers.
    pub refetched: u64,
}

/// A manifest the copy wrote.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Written {
    pub role: &'static str,
    pub digest: String,
    #[serde(rename = "mediaType")]
    pub media_type: String,
}
