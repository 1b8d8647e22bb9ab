//! `oci:PATH[:REF]`: the OCI image layout.
//!
//! ```text
//! oci-layout            {"imageLayoutVersion": "1.0.0"}
//! index.json            the entry points, named by org.opencontainers.image.ref.name
//! blobs/<alg>/<hex>     every blob, manifests and lists included
//! ```
//!
//! Only the copied top-level manifest (list or image) gets an `index.json`
//! entry, with its media type and, given a `:REF`, the ref name annotation.
//! As in containers/image, the name moves off the entry that had it, which
//! stays with its other annotations; the new entry takes the place of an
//! unnamed entry for the same manifest, or goes last. `index.json` is replaced
//! atomically at commit, after every blob it leads to is in place, so an
//! interrupted copy leaves the layout as it was plus unreferenced blobs.
//! Entries of `index.json` that ferry does not change are kept as they
//! were, member for member.
//!
//! Referrers (manifests whose `subject` names another) are kept as `oras`
//! and regctl keep them: each is an `index.json` entry without a ref name
//! ([`ImageDestination::referrer_destination`] writes one as an unnamed
//! copy into the same layout); a source finds a subject's referrers by
//! reading the manifests those entries name.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use async_trait::async_trait;
use ferry_core::json::{self, Object, Value};
use ferry_core::manifest::MAX_MANIFEST_SIZE;
use ferry_core::media_type as mt;
use ferry_core::reference::ReferenceError;
use ferry_core::reference::transport;
use ferry_core::{Descriptor, Digest};

use super::reference::PathImage;
use super::{
    BlobInfo, BlobStream, Capabilities, ImageDestination, ImageSource, Kind, ManifestToStore,
    TransportError, io_error,
};
use crate::fs::atomic::{self, Durability};
use crate::fs::leftovers;
use crate::fs::read;
use crate::fs::rollback::Rollback;

/// The annotation that names an `index.json` entry.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// What `oci-layout` says.
pub const LAYOUT_FILE: &[u8] = br#"{"imageLayoutVersion": "1.0.0"}"#;

/// `PATH[:REF]` or `PATH:@N`: `@N` is the N-th `index.json` entry.
pub type LayoutReference = PathImage<String>;

impl LayoutReference {
    /// Parses what follows `oci:` (or `oci-archive:`), with ferry-core's
    /// rules for the path and the image name.
    pub fn parse(rest: &str) -> Result<Self, ReferenceError> {
        PathImage::parse_with(rest, |n| {
            transport::oci_image_name(n)?;
            Ok(n.to_string())
        })
    }
}

/// Where a blob of a layout lives, once its digest is known valid.
pub fn blob_path(root: &Path, digest: &Digest) -> PathBuf {
    root.join("blobs")
        .join(digest.algorithm().name())
        .join(digest.encoded())
}

/// Reads `index.json`.
async fn read_index(root: &Path) -> Result<Option<Object>, TransportError> {
    let path = root.join("index.json");
    let bytes = match tokio::fs::metadata(&path).await {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        _ => read::read_small(&path, MAX_MANIFEST_SIZE).await?,
    };
    match json::parse(&bytes) {
        Ok(Value::Object(o)) => Ok(Some(o)),
        Ok(other) => Err(TransportError::Malformed {
            location: path.display().to_string(),
            reason: format!("index.json is a JSON {}, not an object", other.kind()),
        }),
        Err(e) => Err(TransportError::Malformed {
            location: path.display().to_string(),
            reason: format!("index.json is not JSON: {e}"),
        }),
    }
}

/// Reads an OCI layout.
#[derive(Debug)]
pub struct OciSource {
    reference: LayoutReference,
    top: TopEntry,
    /// The manifests of `index.json` that have a subject, read once.
    referrers: tokio::sync::OnceCell<Vec<ferry_core::referrers::Referrer>>,
}

impl OciSource {
    pub async fn open(reference: &LayoutReference) -> Result<Self, TransportError> {
        let root = &reference.path;
        let location = || format!("oci:{reference}");
        let layout = root.join("oci-layout");
        let layout_bytes = read::read_small(&layout, 4096).await?;
        let version = json::parse(&layout_bytes).ok().and_then(|v| {
            v.as_object()?
                .get_exact("imageLayoutVersion")?
                .as_str()
                .map(String::from)
        });
        if version.as_deref() != Some("1.0.0") {
            return Err(TransportError::Malformed {
                location: layout.display().to_string(),
                reason: "not an OCI layout version 1.0.0".into(),
            });
        }
        let index = read_index(root)
            .await?
            .ok_or_else(|| TransportError::NotFound {
                what: "index.json".into(),
                location: location(),
            })?;
        let index_bytes = Value::Object(index).to_compact(false);
        let list = ferry_core::List::parse_kind(
            index_bytes.as_bytes(),
            ferry_core::list::ListKind::OciIndex,
        )
        .map_err(|error| TransportError::Manifest {
            what: format!("{}: index.json", root.display()),
            error,
        })?;
        let top = select_entry(
            &list.entries,
            reference,
            &location(),
            &root.join("index.json").display().to_string(),
        )?;
        Ok(OciSource {
            reference: reference.clone(),
            top,
            referrers: tokio::sync::OnceCell::new(),
        })
    }

    async fn read_manifest_blob(&self, digest: &Digest) -> Result<Vec<u8>, TransportError> {
        let path = blob_path(&self.reference.path, digest);
        let bytes = read::read_small(&path, MAX_MANIFEST_SIZE).await?;
        verified_manifest(bytes, digest, format!("manifest {}", path.display()))
    }

    /// Every `index.json` entry that is an OCI manifest or index with a
    /// subject. Entries that are not (images, damaged or missing
    /// manifests) are no referrers and no concern of a referrer listing.
    async fn read_referrers(&self) -> Result<Vec<ferry_core::referrers::Referrer>, TransportError> {
        let root = &self.reference.path;
        let Some(index) = read_index(root).await? else {
            return Ok(Vec::new());
        };
        let bytes = Value::Object(index).to_compact(false);
        let list =
            ferry_core::List::parse_kind(bytes.as_bytes(), ferry_core::list::ListKind::OciIndex)
                .map_err(|error| TransportError::Manifest {
                    what: format!("{}: index.json", root.display()),
                    error,
                })?;
        let mut out = Vec::new();
        for entry in &list.entries {
            if !matches!(entry.media_type.as_str(), mt::OCI_MANIFEST | mt::OCI_INDEX) {
                continue;
            }
            let Ok(digest) = entry.digest() else {
                continue;
            };
            let Ok(bytes) = self.read_manifest_blob(&digest).await else {
                continue;
            };
            if let Ok(r) = ferry_core::referrers::referrer(&bytes, Some(&entry.media_type))
                && !r.subject.is_empty()
            {
                out.push(r);
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl ImageSource for OciSource {
    fn reference(&self) -> String {
        format!("oci:{}", self.reference)
    }

    async fn manifest(
        &self,
        instance: Option<&Digest>,
    ) -> Result<(Vec<u8>, Option<String>), TransportError> {
        let bytes = self
            .read_manifest_blob(instance.unwrap_or(&self.top.digest))
            .await?;
        self.top.answer(instance, bytes)
    }

    async fn blob(&self, info: &BlobInfo) -> Result<(BlobStream, Option<u64>), TransportError> {
        let path = blob_path(&self.reference.path, &info.digest);
        read::open_blob(&path, &info.digest, &self.reference())
            .await
            .map(|(stream, size)| (stream, Some(size)))
    }

    async fn signatures(&self, _instance: Option<&Digest>) -> Result<Vec<Vec<u8>>, TransportError> {
        // OCI layouts carry no signatures.
        Ok(Vec::new())
    }

    async fn tagged_manifest(
        &self,
        tag: &str,
    ) -> Result<Option<(Vec<u8>, Option<String>)>, TransportError> {
        let root = &self.reference.path;
        let Some(index) = read_index(root).await? else {
            return Ok(None);
        };
        let bytes = Value::Object(index).to_compact(false);
        let list =
            ferry_core::List::parse_kind(bytes.as_bytes(), ferry_core::list::ListKind::OciIndex)
                .map_err(|error| TransportError::Manifest {
                    what: format!("{}: index.json", root.display()),
                    error,
                })?;
        let named = LayoutReference {
            path: root.clone(),
            name: Some(tag.to_string()),
            index: None,
        };
        let location = format!("oci:{named}");
        let entry = match select_entry(&list.entries, &named, &location, &location) {
            Ok(entry) => entry,
            Err(TransportError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let manifest = entry.checked(self.read_manifest_blob(&entry.digest).await?)?;
        Ok(Some((
            manifest,
            Some(entry.media_type).filter(|t| !t.is_empty()),
        )))
    }

    async fn referrers(&self, subject: &Digest) -> Result<Vec<Descriptor>, TransportError> {
        let all = self
            .referrers
            .get_or_try_init(|| self.read_referrers())
            .await?;
        Ok(all
            .iter()
            .filter(|r| r.subject == subject.as_str())
            .map(|r| r.descriptor.clone())
            .collect())
    }
}

/// Writes into an OCI layout.
#[derive(Debug)]
pub struct OciDestination {
    reference: LayoutReference,
    top: Mutex<Option<(Vec<u8>, String)>>,
    /// Undoes a copy that fails before commit.
    rollback: Rollback,
}

impl OciDestination {
    pub async fn create(reference: &LayoutReference) -> Result<Self, TransportError> {
        Self::create_with(reference, Durability::Synced).await
    }

    /// [`create`](Self::create), choosing whether files are synced: an
    /// `oci-archive:` destination stages a layout it deletes afterwards.
    pub async fn create_with(
        reference: &LayoutReference,
        durability: Durability,
    ) -> Result<Self, TransportError> {
        if reference.index.is_some() {
            return Err(TransportError::InvalidReference {
                reference: format!("oci:{reference}"),
                reason: "@N selects an existing entry and cannot be a destination".into(),
            });
        }
        let root = &reference.path;
        let rollback = Rollback::new(durability);
        rollback
            .create_dir_all(&root.join("blobs").join("sha256"))
            .await?;
        let layout = root.join("oci-layout");
        match tokio::fs::read(&layout).await {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                rollback.write_atomic(&layout, LAYOUT_FILE).await?;
            }
            Err(e) => return Err(io_error(&layout, "read")(e)),
        }
        // Refuse a broken index.json now rather than at commit.
        read_index(root).await?;
        // What killed copies left half-written goes before this copy adds
        // its own temporary files.
        let mut dirs = vec![root.clone()];
        if let Ok(mut algorithms) = tokio::fs::read_dir(root.join("blobs")).await {
            while let Ok(Some(entry)) = algorithms.next_entry().await {
                // A link to a directory elsewhere is not the layout's.
                if entry.file_type().await.is_ok_and(|t| t.is_dir()) {
                    dirs.push(entry.path());
                }
            }
        }
        leftovers::sweep_dead_temp_files_in(dirs).await;
        Ok(OciDestination {
            reference: reference.clone(),
            top: Mutex::new(None),
            rollback,
        })
    }

    async fn put_bytes(&self, bytes: &[u8]) -> Result<Digest, TransportError> {
        let digest = Digest::sha256_of(bytes);
        let path = blob_path(&self.reference.path, &digest);
        if tokio::fs::metadata(&path).await.is_err() {
            self.rollback.write_atomic(&path, bytes).await?;
        }
        Ok(digest)
    }
}

#[async_trait]
impl ImageDestination for OciDestination {
    fn reference(&self) -> String {
        format!("oci:{}", self.reference)
    }

    fn capabilities(&self) -> Capabilities {
        Kind::Oci.capabilities()
    }

    async fn has_blob(&self, info: &BlobInfo) -> Result<Option<u64>, TransportError> {
        info.stored_at(&blob_path(&self.reference.path, &info.digest))
            .await
    }

    async fn kept_part(&self, info: &BlobInfo) -> Option<(BlobStream, u64)> {
        crate::fs::kept::take(&blob_path(&self.reference.path, &info.digest)).await
    }

    async fn put_blob(&self, stream: BlobStream, info: &BlobInfo) -> Result<(), TransportError> {
        let dir = self
            .reference
            .path
            .join("blobs")
            .join(info.digest.algorithm().name());
        self.rollback.create_dir_all(&dir).await?;
        let path = blob_path(&self.reference.path, &info.digest);
        self.rollback
            .write_blob_verified(stream, &path, info)
            .await?;
        Ok(())
    }

    async fn store_manifest(&self, manifest: ManifestToStore<'_>) -> Result<(), TransportError> {
        let media_type = manifest.media_type;
        if !matches!(media_type, mt::OCI_MANIFEST | mt::OCI_INDEX) {
            return Err(TransportError::ManifestTypeRejected {
                media_type: media_type.to_string(),
                reason: "OCI layouts store OCI manifests and indexes only".into(),
            });
        }
        self.put_bytes(manifest.bytes).await?;
        if manifest.instance.is_none() {
            *self.top.lock().expect("lock") =
                Some((manifest.bytes.to_vec(), media_type.to_string()));
        }
        Ok(())
    }

    async fn commit(&self, top: &[u8], media_type: &str) -> Result<(), TransportError> {
        let (bytes, media_type) = self
            .top
            .lock()
            .expect("lock")
            .take()
            .unwrap_or_else(|| (top.to_vec(), media_type.to_string()));
        let digest = Digest::sha256_of(&bytes);
        let root = &self.reference.path;
        let mut index = read_index(root).await?.unwrap_or_default();
        if index.field("schemaVersion").is_none() {
            index.set("schemaVersion", Value::from(2));
        }
        let mut entries: Vec<Value> = match index.field("manifests") {
            Some(Value::Array(items)) => items.clone(),
            _ => Vec::new(),
        };
        let name = self.reference.name.as_deref();
        let mut descriptor = Object::from_pairs([
            ("mediaType", Value::from(media_type.as_str())),
            ("digest", Value::from(digest.as_str())),
            ("size", Value::from(bytes.len() as i64)),
        ]);
        if let Some(n) = name {
            descriptor.set(
                "annotations",
                Value::Object(Object::from_pairs([(REF_NAME, Value::from(n))])),
            );
            // As in containers/image: the first older entry with the name
            // loses only that annotation (and `annotations` once it is
            // empty); the entry itself and its other annotations stay.
            if let Some(older) = entries
                .iter_mut()
                .filter_map(entry_object_mut)
                .find(|o| entry_name(o) == Some(n))
            {
                take_name(older);
            }
        }
        // An unnamed entry for the same manifest is replaced where it
        // stands; otherwise the new entry goes last.
        let same = entries.iter().position(|entry| {
            entry_object(entry).is_some_and(|o| {
                entry_digest(o) == Some(digest.as_str()) && entry_name(o).is_none_or(str::is_empty)
            })
        });
        match same {
            Some(i) => entries[i] = Value::Object(descriptor),
            None => entries.push(Value::Object(descriptor)),
        }
        index.set("manifests", Value::Array(entries));
        atomic::write_atomic(
            &root.join("index.json"),
            index_bytes(&index).as_bytes(),
            self.rollback.durability(),
        )
        .await?;
        self.rollback.commit();
        Ok(())
    }

    async fn tagged_destination(
        &self,
        tag: &str,
    ) -> Result<Box<dyn ImageDestination>, TransportError> {
        let named = LayoutReference {
            path: self.reference.path.clone(),
            name: Some(tag.to_string()),
            index: None,
        };
        Ok(Box::new(
            OciDestination::create_with(&named, self.rollback.durability()).await?,
        ))
    }

    async fn referrer_destination(
        &self,
        _digest: &Digest,
    ) -> Result<Box<dyn ImageDestination>, TransportError> {
        // An unnamed entry: commit adds it, or replaces an unnamed entry
        // for the same manifest where it stands.
        let unnamed = LayoutReference {
            path: self.reference.path.clone(),
            name: None,
            index: None,
        };
        Ok(Box::new(
            OciDestination::create_with(&unnamed, self.rollback.durability()).await?,
        ))
    }
}

fn entry_object(v: &Value) -> Option<&Object> {
    match v {
        Value::Object(o) => Some(o),
        _ => None,
    }
}

fn entry_object_mut(v: &mut Value) -> Option<&mut Object> {
    match v {
        Value::Object(o) => Some(o),
        _ => None,
    }
}

fn entry_digest(o: &Object) -> Option<&str> {
    o.field("digest").and_then(Value::as_str)
}

/// The entry's ref name. `annotations` is a map in Go: keys match
/// exactly, and of repeated keys the last counts.
fn entry_name(o: &Object) -> Option<&str> {
    o.field("annotations")?
        .as_object()?
        .members
        .iter()
        .rev()
        .find(|m| m.key == REF_NAME)?
        .value
        .as_str()
}

/// Removes the ref name from an entry, and `annotations` with it when
/// nothing else is left (Go omits an empty map).
fn take_name(o: &mut Object) {
    if let Some(Value::Object(annotations)) = o.field_mut("annotations") {
        annotations.members.retain(|m| m.key != REF_NAME);
        if annotations.members.is_empty() {
            o.remove("annotations");
        }
    }
}

/// `index.json` as Go writes it: compact, `schemaVersion` first.
fn index_bytes(index: &Object) -> String {
    Value::Object(index.clone()).to_compact(true)
}

/// The manifest an `index.json` entry names: its digest, checked when the
/// layout is opened, its media type and its size.
#[derive(Debug, Clone)]
pub(crate) struct TopEntry {
    pub digest: Digest,
    pub media_type: String,
    pub size: i64,
    /// The entry, for errors: `<index.json>: entry @N`.
    pub what: String,
}

impl TopEntry {
    /// What a layout source's `manifest` answers: the top-level manifest,
    /// its size checked, with the entry's media type; an instance's bytes
    /// as they are (instances' types and sizes are in the list, which the
    /// caller has: the copy engine checks those).
    pub fn answer(
        &self,
        instance: Option<&Digest>,
        bytes: Vec<u8>,
    ) -> Result<(Vec<u8>, Option<String>), TransportError> {
        match instance {
            None => Ok((
                self.checked(bytes)?,
                Some(self.media_type.clone()).filter(|t| !t.is_empty()),
            )),
            Some(_) => Ok((bytes, None)),
        }
    }

    /// The manifest read through this entry, refused unless its length is
    /// the entry's size.
    pub fn checked(&self, manifest: Vec<u8>) -> Result<Vec<u8>, TransportError> {
        ferry_core::manifest::check_size(self.digest.as_str(), self.size, manifest.len() as u64)
            .map_err(|error| TransportError::DescriptorSize {
                what: self.what.clone(),
                error,
            })?;
        Ok(manifest)
    }
}

/// Picks the `index.json` entry a reference means, with `oci:`'s rules:
/// `@N` by position, a name by the ref-name annotation, and with neither
/// the only entry; when there are several, the error lists them.
/// `index_location` names `index.json` in errors about the entry itself.
pub(crate) fn select_entry(
    entries: &[Descriptor],
    reference: &LayoutReference,
    location: &str,
    index_location: &str,
) -> Result<TopEntry, TransportError> {
    let (position, entry) = pick_entry(entries, reference, location)?;
    // An unknown type would be read as schema 1 (containers/image's rule)
    // and fail later with a message about schema 1; say what is wrong.
    if !entry.media_type.is_empty() && !mt::is_manifest_type(&entry.media_type) {
        return Err(TransportError::Malformed {
            location: format!("{location}: index.json"),
            reason: format!(
                "the entry for {} has media type {:?}, which is not a manifest type",
                entry.digest_text, entry.media_type
            ),
        });
    }
    let digest = entry.digest().map_err(|e| TransportError::Malformed {
        location: index_location.to_string(),
        reason: e.to_string(),
    })?;
    Ok(TopEntry {
        digest,
        media_type: entry.media_type,
        size: entry.size,
        what: format!("{index_location}: entry @{position}"),
    })
}

/// A manifest read from a layout must be the one its digest names: a
/// layout is content-addressed, and a file that is not is damage.
pub(crate) fn verified_manifest(
    bytes: Vec<u8>,
    digest: &Digest,
    what: String,
) -> Result<Vec<u8>, TransportError> {
    if digest.matches(&bytes) {
        Ok(bytes)
    } else {
        Err(TransportError::DigestMismatch {
            what,
            expected: digest.to_string(),
            actual: Digest::of(digest.algorithm(), &bytes).to_string(),
        })
    }
}

/// The entry a reference means, and its position in `index.json`.
fn pick_entry(
    entries: &[Descriptor],
    reference: &LayoutReference,
    location: &str,
) -> Result<(usize, Descriptor), TransportError> {
    if let Some(i) = reference.index {
        return entries
            .get(i)
            .cloned()
            .map(|d| (i, d))
            .ok_or_else(|| TransportError::NotFound {
                what: format!("entry @{i} (index.json has {} entries)", entries.len()),
                location: location.to_string(),
            });
    }
    if let Some(name) = &reference.name {
        return entries
            .iter()
            .enumerate()
            .find(|(_, d)| d.annotations.get(REF_NAME) == Some(name))
            .map(|(i, d)| (i, d.clone()))
            .ok_or_else(|| TransportError::NotFound {
                what: format!("image named {name:?}"),
                location: location.to_string(),
            });
    }
    match entries {
        [one] => Ok((0, one.clone())),
        [] => Err(TransportError::NotFound {
            what: "any image (index.json is empty)".into(),
            location: location.to_string(),
        }),
        many => {
            let listed: Vec<String> = many
                .iter()
                .enumerate()
                .map(|(i, d)| {
                    let name = d
                        .annotations
                        .get(REF_NAME)
                        .map_or("(no name)", String::as_str);
                    format!("@{i}: {name} {} {}", d.digest_text, d.media_type)
                })
                .collect();
            Err(TransportError::InvalidReference {
                reference: location.to_string(),
                reason: format!(
                    "{location} holds {} images; name one with :NAME or :@N: {}",
                    many.len(),
                    listed.join("; ")
                ),
            })
        }
    }
}
