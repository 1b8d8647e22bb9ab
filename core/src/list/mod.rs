//! Manifest lists: Docker manifest lists and OCI image indexes, behind one
//! type.

mod convert;
mod walk;

pub use convert::{Conversion, ConvertOptions, Loss, LossKind};
pub use walk::{MAX_NESTING, Tree, WalkError, Wanted, is_nested};

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use crate::digest::{Digest, DigestError};
use crate::json::{self, Fields, Value};
use crate::manifest::{AllowedFields, Descriptor, ManifestError, check_unambiguous, parse_top};
use crate::media_type as mt;

/// Which of the two list formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ListKind {
    DockerList,
    OciIndex,
}

impl ListKind {
    /// The format's media type.
    pub fn media_type(self) -> &'static str {
        match self {
            ListKind::DockerList => mt::DOCKER_LIST,
            ListKind::OciIndex => mt::OCI_INDEX,
        }
    }
}

/// A parsed manifest list. The raw bytes are kept; they are what gets
/// written back when the list does not change.
#[derive(Debug, Clone, PartialEq)]
pub struct List {
    raw: Vec<u8>,
    pub kind: ListKind,
    pub schema_version: i64,
    pub media_type: String,
    /// The entries in document order. Docker list entries always have a
    /// platform (the zero platform when the document has none); OCI index
    /// entries may not.
    pub entries: Vec<Descriptor>,
    pub annotations: BTreeMap<String, String>,
    pub artifact_type: String,
    pub subject: Option<Descriptor>,
}

impl List {
    /// Parses `bytes` as a list of `media_type` (normalised first, as in
    /// containers/image's `manifest.ListFromBlob`).
    pub fn from_blob(bytes: &[u8], media_type: &str) -> Result<Self, ManifestError> {
        match mt::normalize(media_type) {
            mt::DOCKER_LIST => Self::parse_kind(bytes, ListKind::DockerList),
            mt::OCI_INDEX => Self::parse_kind(bytes, ListKind::OciIndex),
            t @ (mt::DOCKER_V2S1 | mt::DOCKER_V2S1_SIGNED | mt::DOCKER_V2S2 | mt::OCI_MANIFEST) => {
                Err(ManifestError::ManifestNotList {
                    media_type: t.to_string(),
                })
            }
            other => Err(ManifestError::UnknownMediaType {
                media_type: other.to_string(),
            }),
        }
    }

    /// Parses `bytes` as a list of the type it declares or, failing that,
    /// the type containers/image guesses.
    pub fn parse(bytes: &[u8]) -> Result<Self, ManifestError> {
        Self::from_blob(bytes, &crate::manifest::guess_media_type(bytes))
    }

    /// Parses `bytes` as a list of the given kind.
    pub fn parse_kind(bytes: &[u8], kind: ListKind) -> Result<Self, ManifestError> {
        let go_type = match kind {
            ListKind::DockerList => "Schema2List",
            ListKind::OciIndex => "OCI1Index",
        };
        let top = parse_top(bytes, go_type)?;
        let f = Fields::new(&top, "");
        let list = match kind {
            ListKind::DockerList => List {
                raw: bytes.to_vec(),
                kind,
                schema_version: f.get::<i64>("schemaVersion")?.unwrap_or(0),
                media_type: f.string("mediaType")?,
                entries: f.slice("manifests", |v, p| Descriptor::decode_docker(v, p, true))?,
                annotations: BTreeMap::new(),
                artifact_type: String::new(),
                subject: None,
            },
            ListKind::OciIndex => List {
                raw: bytes.to_vec(),
                kind,
                schema_version: f.get::<i64>("schemaVersion")?.unwrap_or(0),
                media_type: f.string("mediaType")?,
                entries: f.slice("manifests", Descriptor::decode_oci)?,
                annotations: f.string_map("annotations")?,
                artifact_type: f.string("artifactType")?,
                subject: match f.object("subject")? {
                    None => None,
                    Some((o, p)) => Some(Descriptor::decode_oci_object(o, &p)?),
                },
            },
        };
        check_unambiguous(f, kind.media_type(), AllowedFields::LIST)?;
        Ok(list)
    }

    /// The exact bytes this list was parsed from.
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// The list format's media type.
    pub fn list_media_type(&self) -> &'static str {
        self.kind.media_type()
    }

    /// The entries, in document order.
    pub fn instances(&self) -> impl Iterator<Item = &Descriptor> {
        self.entries.iter()
    }

    /// The first entry with this digest (a list may name one twice).
    pub fn instance(&self, digest: &str) -> Option<&Descriptor> {
        self.entries.iter().find(|d| d.digest_text == digest)
    }
}

/// New values for one list entry, as the copy engine reports them after
/// copying (and perhaps converting) that instance.
pub type InstanceUpdate = crate::manifest::DescriptorUpdate;

use crate::choose::ZSTD_ANNOTATION;

/// A manifest added to a list beside an entry it was made from: a
/// compression twin ([`List::add_instances`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddedInstance {
    /// The digest of the source entry it twins (as the list names it).
    pub source_digest: String,
    /// The manifest written.
    pub written: InstanceUpdate,
    /// Whether its layers are zstd.
    pub zstd: bool,
}

/// Why a list cannot be edited as asked.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ListError {
    /// Updates must come one per entry.
    UpdateCount { entries: usize, updates: usize },
    /// An update's digest is not a valid digest.
    InvalidDigest { entry: usize, error: DigestError },
    /// An update's size is negative.
    NegativeSize { entry: usize, size: i64 },
    /// An update's media type is not a manifest or list type.
    UnsupportedMediaType { entry: usize, media_type: String },
    /// Entries cannot be added to a list without a `manifests` array.
    NoManifestsArray,
    /// The stored bytes no longer parse (cannot happen for a `List` made by
    /// this crate; kept so editing never panics).
    Corrupt(ManifestError),
}

impl fmt::Display for ListError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListError::UpdateCount { entries, updates } => write!(
                f,
                "the list has {entries} entries but {updates} updates were given (one per entry is required)"
            ),
            ListError::InvalidDigest { entry, error } => {
                write!(f, "update of /manifests/{entry}: {error}")
            }
            ListError::NegativeSize { entry, size } => {
                write!(f, "update of /manifests/{entry}: size {size} is negative")
            }
            ListError::UnsupportedMediaType { entry, media_type } => write!(
                f,
                "update of /manifests/{entry}: {media_type} is not a manifest media type",
                media_type = crate::Quoted(media_type)
            ),
            ListError::NoManifestsArray => {
                write!(f, "/manifests: no array to add the new instances to")
            }
            ListError::Corrupt(e) => write!(f, "list cannot be re-read: {e}"),
        }
    }
}

impl core::error::Error for ListError {}

impl List {
    /// The list's bytes: exactly the bytes it was parsed from, unless it
    /// has been edited.
    pub fn serialize(&self) -> &[u8] {
        &self.raw
    }

    /// The digest of [`List::serialize`].
    pub fn digest(&self) -> Digest {
        Digest::sha256_of(&self.raw)
    }

    /// Replaces each entry's digest, size and media type, one update per
    /// entry in order. Every field is validated first, so a failed update
    /// changes nothing. When no value actually changes, the bytes stay
    /// exactly as they were (and so does the digest); otherwise the list is
    /// rewritten compactly, keeping every member ferry does not model.
    pub fn update_instances(&mut self, updates: &[InstanceUpdate]) -> Result<(), ListError> {
        if updates.len() != self.entries.len() {
            return Err(ListError::UpdateCount {
                entries: self.entries.len(),
                updates: updates.len(),
            });
        }
        for (entry, u) in updates.iter().enumerate() {
            Digest::parse(&u.digest).map_err(|error| ListError::InvalidDigest { entry, error })?;
            if u.size < 0 {
                return Err(ListError::NegativeSize {
                    entry,
                    size: u.size,
                });
            }
            if !mt::is_manifest_type(&u.media_type) {
                return Err(ListError::UnsupportedMediaType {
                    entry,
                    media_type: u.media_type.clone(),
                });
            }
        }
        let unchanged = self
            .entries
            .iter()
            .zip(updates)
            .all(|(e, u)| u.changes_nothing_in(e));
        if unchanged {
            return Ok(());
        }
        let mut doc = json::parse(&self.raw).map_err(|e| ListError::Corrupt(e.into()))?;
        if let Value::Object(top) = &mut doc
            && let Some(Value::Array(items)) = top.field_mut("manifests")
        {
            for (item, u) in items.iter_mut().zip(updates) {
                // An entry that is not an object becomes one holding only
                // the new values.
                if !matches!(item, Value::Object(_)) {
                    *item = Value::Object(json::Object::default());
                }
                if let Value::Object(entry) = item {
                    u.set_on(entry);
                }
            }
        }
        self.replace_document(&doc)
    }

    /// Keeps only the entries at the given positions (in their original
    /// order), for copies that strip unselected platforms. Keeping every
    /// entry leaves the bytes unchanged.
    pub fn retain_entries(&mut self, keep: &[usize]) -> Result<(), ListError> {
        if (0..self.entries.len()).all(|i| keep.contains(&i)) {
            return Ok(());
        }
        let mut doc = json::parse(&self.raw).map_err(|e| ListError::Corrupt(e.into()))?;
        if let Value::Object(top) = &mut doc
            && let Some(Value::Array(items)) = top.field_mut("manifests")
        {
            let mut i = 0;
            items.retain(|_| {
                let kept = keep.contains(&i);
                i += 1;
                kept
            });
        }
        self.replace_document(&doc)
    }

    /// Appends instances made from entries already in the list (the
    /// compression twins of `--add-compression`), as containers/image
    /// 5.29+ adds them (`ListOpAdd`): each new entry names the new
    /// manifest and keeps its source entry's platform, artifact type and
    /// (OCI) annotations, a zstd twin annotated
    /// `io.github.containers.compression.zstd: "true"`; an OCI index is
    /// then ordered with the zstd-annotated entries after the others,
    /// each group in its order. A gzip twin of a zstd-annotated entry does
    /// not keep that annotation (containers/image copies it, which makes
    /// the twin claim zstd layers it does not have).
    pub fn add_instances(&mut self, added: &[AddedInstance]) -> Result<(), ListError> {
        if added.is_empty() {
            return Ok(());
        }
        let first_new = self.entries.len();
        for (i, a) in added.iter().enumerate() {
            let entry = first_new + i;
            Digest::parse(&a.written.digest)
                .map_err(|error| ListError::InvalidDigest { entry, error })?;
            if a.written.size < 0 {
                return Err(ListError::NegativeSize {
                    entry,
                    size: a.written.size,
                });
            }
            if !mt::is_manifest_type(&a.written.media_type) {
                return Err(ListError::UnsupportedMediaType {
                    entry,
                    media_type: a.written.media_type.clone(),
                });
            }
        }
        let mut doc = json::parse(&self.raw).map_err(|e| ListError::Corrupt(e.into()))?;
        let items = match &mut doc {
            Value::Object(top) => match top.field_mut("manifests") {
                Some(Value::Array(items)) => items,
                _ => return Err(ListError::NoManifestsArray),
            },
            _ => return Err(ListError::NoManifestsArray),
        };
        for a in added {
            let source = items
                .iter()
                .filter_map(|item| match item {
                    Value::Object(o) => Some(o),
                    _ => None,
                })
                .find(|o| {
                    o.field("digest").and_then(Value::as_str) == Some(a.source_digest.as_str())
                })
                .cloned()
                .unwrap_or_default();
            let w = &a.written;
            let mut entry = json::Object::default();
            entry.set("mediaType", Value::from(w.media_type.as_str()));
            match self.kind {
                ListKind::DockerList => {
                    entry.set("size", Value::from(w.size));
                    entry.set("digest", Value::from(w.digest.as_str()));
                    if let Some(p) = source.field("platform") {
                        entry.set("platform", p.clone());
                    }
                }
                ListKind::OciIndex => {
                    entry.set("digest", Value::from(w.digest.as_str()));
                    entry.set("size", Value::from(w.size));
                    let mut annotations = match source.field("annotations") {
                        Some(Value::Object(o)) => o.clone(),
                        _ => json::Object::default(),
                    };
                    if a.zstd {
                        annotations.set(ZSTD_ANNOTATION, Value::from("true"));
                    } else {
                        annotations.remove(ZSTD_ANNOTATION);
                    }
                    if !annotations.members.is_empty() {
                        entry.set("annotations", Value::Object(annotations));
                    }
                    if let Some(p) = source.field("platform") {
                        entry.set("platform", p.clone());
                    }
                    if let Some(t) = source.field("artifactType") {
                        entry.set("artifactType", t.clone());
                    }
                }
            }
            items.push(Value::Object(entry));
        }
        if self.kind == ListKind::OciIndex {
            let is_zstd = |v: &Value| {
                matches!(v, Value::Object(o)
                    if o.field("annotations")
                        .and_then(|a| match a { Value::Object(a) => a.field(ZSTD_ANNOTATION), _ => None })
                        .and_then(Value::as_str) == Some("true"))
            };
            // A stable sort: the entries without zstd first.
            let (plain, zstd): (Vec<Value>, Vec<Value>) = core::mem::take(items)
                .into_iter()
                .partition(|v| !is_zstd(v));
            items.extend(plain);
            items.extend(zstd);
        }
        self.replace_document(&doc)
    }

    /// Re-serializes an edited document compactly, as Go would, and
    /// re-reads it.
    fn replace_document(&mut self, doc: &Value) -> Result<(), ListError> {
        let bytes = doc.to_compact(true).into_bytes();
        *self = List::parse_kind(&bytes, self.kind).map_err(ListError::Corrupt)?;
        Ok(())
    }
}
