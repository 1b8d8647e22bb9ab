//! `containers-storage:[driver@graphroot+runroot:options]NAME[:TAG|@DIGEST]`:
//! podman's local store, read and written as containers/storage 1.43 and
//! containers/image 5.23 (podman 4.3, skopeo 1.9.3) do, with the `vfs`
//! driver or the `overlay` driver (the kernel's overlay; stores that use a
//! mount program are refused).
//!
//! Writing: blobs are staged (verified) in a staging directory under the
//! graph root; at commit each layer is applied in order ([`layer::apply`]):
//! for vfs to a copy of its parent's tree, for overlay to an empty `diff`
//! (whiteouts as 0:0 character devices, opaque directories marked with
//! `trusted.overlay.opaque`). Then, under `layers.lock`, the layer is
//! recorded `incomplete`, its files renamed into place (`vfs/dir/ID`, or
//! `overlay/ID/diff` with `link`, `l/NAME`, `lower`, `work`, `merged`),
//! given its tar-split file and marked complete. The image record, its
//! big data (config, manifest, the list it was chosen from, signatures)
//! and its name follow under `images.lock`, `images.json` last: a copy
//! killed at any point leaves no image that names a missing layer, a
//! half-applied layer is flagged and removed by the next writer (ferry or
//! containers/storage), and a staging directory is swept by the next
//! ferry.
//!
//! Reading: the image a reference names ([`ferry_core::storage::lookup`]),
//! its manifest with the layers as the store holds them (uncompressed,
//! named by diff ID, as containers/image's storage source reports them),
//! its config from big data, and each layer rebuilt from its tar-split
//! metadata and files ([`layer::assemble`]); no mount is needed.

pub mod layer;
pub mod store;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use ferry_core::Digest;
use ferry_core::manifest::Manifest;
use ferry_core::media_type as mt;
use ferry_core::reference::storage::StorageReference;
use ferry_core::storage::records::{self, BigData, LayerCompression, NewImage, NewLayer};
use ferry_core::storage::{self as core_storage, lookup};
use serde_json::Value;

use self::store::{Lock, Store, read_records, write_file_atomic, write_records};
use super::{
    BlobInfo, BlobStream, Capabilities, ImageDestination, ImageSource, Kind, ManifestToStore,
    TransportError, io_error,
};
use crate::fs::atomic::{self, Durability};
use crate::fs::staging::StagingDir;

/// The store a reference names, refused unless its driver is `vfs`, or
/// `overlay` without a mount program (whose stores keep whiteouts as
/// files, which ferry does not write).
fn open_store(reference: &StorageReference) -> Result<Store, TransportError> {
    let store = Store::resolve(reference.store.as_ref())?;
    let refuse = |reason: String| TransportError::Unsupported {
        location: format!("containers-storage:{}", store.spec()),
        reason,
    };
    match store.driver.as_str() {
        "vfs" => {}
        "overlay" => {
            let marker = std::fs::read_to_string(store.overlay_home().join(".has-mount-program"))
                .unwrap_or_default();
            let option = store.options.iter().any(|o| {
                o.starts_with("overlay.mount_program=") || o.starts_with("mount_program=")
            });
            if marker.trim() == "true" || option {
                return Err(refuse(
                    "ferry writes overlay stores that use the kernel's overlay, not a mount program (fuse-overlayfs)".into(),
                ));
            }
        }
        other => {
            return Err(refuse(format!(
                "ferry reads and writes containers-storage with the vfs and overlay drivers only, and this store's driver is {other:?} (name one in the reference: containers-storage:[vfs@GRAPHROOT+RUNROOT]NAME, or in storage.conf)"
            )));
        }
    }
    Ok(store)
}

/// How the store's driver keeps deletions.
fn whiteouts(store: &Store) -> layer::Whiteouts {
    if store.is_overlay() {
        layer::Whiteouts::Overlay
    } else {
        layer::Whiteouts::Delete
    }
}

fn layer_error(location: &str) -> impl FnOnce(layer::LayerError) -> TransportError + '_ {
    move |e| match e {
        layer::LayerError::Io {
            path,
            action,
            error,
        } => TransportError::Io {
            path,
            action,
            error,
        },
        layer::LayerError::Compression { .. } => TransportError::Unsupported {
            location: location.to_string(),
            reason: e.to_string(),
        },
        other => TransportError::Malformed {
            location: location.to_string(),
            reason: other.to_string(),
        },
    }
}

fn blocking_error(location: &str) -> impl FnOnce(tokio::task::JoinError) -> TransportError + '_ {
    move |e| TransportError::Internal {
        location: location.to_string(),
        reason: format!("a blocking task failed: {e}"),
    }
}

/// A complete layer made from blob `digest` (its compressed digest) or
/// whose diff ID it is: the layer's record, and the blob's size.
fn stored_layer<'a>(layers: &'a [Value], digest: &Digest) -> Option<(&'a Value, u64)> {
    layers
        .iter()
        .filter(|r| !records::is_incomplete(r))
        .find_map(|r| {
            let size = |field| r.get(field).and_then(Value::as_u64).unwrap_or(0);
            if records::text(r, "compressed-diff-digest") == Some(digest.as_str()) {
                Some((r, size("compressed-size")))
            } else if records::text(r, "diff-digest") == Some(digest.as_str()) {
                Some((r, size("diff-size")))
            } else {
                None
            }
        })
}

/// Removes the records of layers flagged incomplete, with their trees
/// and tar-split files, as containers/storage does when it takes the
/// layer store for writing. Returns whether any were removed.
fn remove_incomplete(store: &Store, layers: &mut Vec<Value>) -> Result<bool, TransportError> {
    let incomplete: Vec<String> = layers
        .iter()
        .filter(|l| records::is_incomplete(l))
        .filter_map(|l| records::id(l).map(String::from))
        .collect();
    for id in &incomplete {
        store.remove_layer_files(id)?;
        match std::fs::remove_file(store.tar_split(id)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error(store.tar_split(id), "remove")(e)),
        }
    }
    layers.retain(|l| !records::is_incomplete(l));
    Ok(!incomplete.is_empty())
}

fn remove_tree(path: &Path) -> Result<(), TransportError> {
    match std::fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_error(path, "remove")(e)),
    }
}

/// Now, as records' `created` fields write it.
fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    core_storage::rfc3339_utc(secs)
}

/// Writing an image into a store.
#[derive(Debug)]
pub struct StorageDestination {
    reference: StorageReference,
    location: String,
    store: Store,
    staging: Arc<StagingDir>,
    state: Mutex<Pending>,
}

#[derive(Debug, Default)]
struct Pending {
    /// Blobs staged: file and size.
    blobs: HashMap<Digest, (PathBuf, u64)>,
    manifest: Option<(Vec<u8>, String)>,
    /// The source's top-level manifest, when the image was chosen from it.
    source_top: Option<Vec<u8>>,
    signatures: Option<Vec<Vec<u8>>>,
    instance_signatures: BTreeMap<Digest, Vec<Vec<u8>>>,
}

impl StorageDestination {
    pub async fn create(reference: &StorageReference) -> Result<Self, TransportError> {
        let store = open_store(reference)?;
        let location = format!("containers-storage:{reference}");
        let owned = store.clone();
        let staging = tokio::task::spawn_blocking(move || {
            owned.create_dirs()?;
            StagingDir::create_blocking(&owned.staging_base())
        })
        .await
        .map_err(blocking_error(&location))??;
        Ok(StorageDestination {
            reference: reference.clone(),
            location,
            store,
            staging: Arc::new(staging),
            state: Mutex::new(Pending::default()),
        })
    }

    fn pending(&self) -> Result<std::sync::MutexGuard<'_, Pending>, TransportError> {
        self.state.lock().map_err(|_| TransportError::Internal {
            location: self.location.clone(),
            reason: "a poisoned lock".into(),
        })
    }
}

#[async_trait]
impl ImageDestination for StorageDestination {
    fn reference(&self) -> String {
        self.location.clone()
    }

    fn capabilities(&self) -> Capabilities {
        Kind::ContainersStorage.capabilities()
    }

    /// Staged, or a layer the store already holds made from this blob (or
    /// whose diff ID it is), as containers/image reuses layers.
    async fn has_blob(&self, info: &BlobInfo) -> Result<Option<u64>, TransportError> {
        if let Some((_, size)) = self.pending()?.blobs.get(&info.digest) {
            return Ok(Some(*size));
        }
        let layers = read_records(&self.store.layers_json())?;
        Ok(stored_layer(&layers, &info.digest).map(|(_, size)| size))
    }

    async fn put_blob(&self, stream: BlobStream, info: &BlobInfo) -> Result<(), TransportError> {
        let path = self
            .staging
            .path()
            .join(format!("blob-{}", info.digest.encoded()));
        let size = atomic::write_blob_verified(stream, &path, info, Durability::Scratch).await?;
        self.pending()?
            .blobs
            .insert(info.digest.clone(), (path, size));
        Ok(())
    }

    async fn store_manifest(&self, manifest: ManifestToStore<'_>) -> Result<(), TransportError> {
        if manifest.instance.is_some() || mt::is_list(manifest.media_type) {
            return Err(self.refused(
                "containers-storage stores single images; a list is kept beside the image chosen from it",
            ));
        }
        if !Kind::ContainersStorage
            .capabilities()
            .manifest_types
            .iter()
            .any(|t| t == manifest.media_type)
        {
            return Err(TransportError::ManifestTypeRejected {
                media_type: manifest.media_type.to_string(),
                reason: "containers-storage takes OCI and Docker schema 2 manifests".into(),
            });
        }
        self.pending()?.manifest = Some((manifest.bytes.to_vec(), manifest.media_type.to_string()));
        Ok(())
    }

    fn source_top(&self, bytes: &[u8], _media_type: &str) {
        if let Ok(mut pending) = self.state.lock() {
            pending.source_top = Some(bytes.to_vec());
        }
    }

    async fn put_signatures(
        &self,
        signatures: &[Vec<u8>],
        instance: Option<&Digest>,
    ) -> Result<(), TransportError> {
        let mut pending = self.pending()?;
        match instance {
            Some(d) => {
                pending
                    .instance_signatures
                    .insert(d.clone(), signatures.to_vec());
            }
            None => pending.signatures = Some(signatures.to_vec()),
        }
        Ok(())
    }

    async fn commit(&self, top: &[u8], _media_type: &str) -> Result<(), TransportError> {
        let pending = std::mem::take(&mut *self.pending()?);
        let job = Commit {
            reference: self.reference.clone(),
            location: self.location.clone(),
            store: self.store.clone(),
            staging: self.staging.clone(),
            top: top.to_vec(),
            pending,
        };
        let location = self.location.clone();
        tokio::task::spawn_blocking(move || job.run())
            .await
            .map_err(blocking_error(&location))?
    }
}

/// A commit, run on a blocking thread (it waits for lock files).
struct Commit {
    reference: StorageReference,
    location: String,
    store: Store,
    staging: Arc<StagingDir>,
    top: Vec<u8>,
    pending: Pending,
}

impl Commit {
    fn malformed(&self, reason: impl Into<String>) -> TransportError {
        TransportError::Malformed {
            location: self.location.clone(),
            reason: reason.into(),
        }
    }

    fn run(self) -> Result<(), TransportError> {
        let Some((manifest_bytes, media_type)) = self.pending.manifest.clone() else {
            return Err(TransportError::Internal {
                location: self.location.clone(),
                reason: "commit without a manifest".into(),
            });
        };
        let manifest = Manifest::from_blob(&manifest_bytes, &media_type).map_err(|error| {
            TransportError::Manifest {
                what: "the manifest to store".into(),
                error,
            }
        })?;
        let manifest_digest = Digest::sha256_of(&manifest_bytes);
        // The list the image was chosen from, if it was.
        let list = self
            .pending
            .source_top
            .clone()
            .filter(|t| t.as_slice() != manifest_bytes.as_slice())
            .or_else(|| (self.top != manifest_bytes).then(|| self.top.clone()));
        if let Some(wanted) = self.reference.named.as_ref().and_then(|n| n.digest()) {
            let matches = *wanted == manifest_digest
                || list
                    .as_ref()
                    .is_some_and(|l| Digest::sha256_of(l) == *wanted);
            if !matches {
                return Err(self.malformed(format!(
                    "the manifest to be saved does not match the expected digest {wanted}"
                )));
            }
        }
        let config = manifest.config();
        let config_digest = config
            .digest()
            .map_err(|e| self.malformed(format!("config digest: {e}")))?;
        let config_bytes = match self.pending.blobs.get(&config_digest) {
            Some((path, _)) => std::fs::read(path).map_err(io_error(path, "read"))?,
            None => return Err(self.malformed(format!("config {config_digest} was not written"))),
        };
        let mut parent: Option<String> = None;
        for (index, layer) in manifest.layers().iter().enumerate() {
            let digest = layer
                .descriptor
                .digest()
                .map_err(|e| self.malformed(format!("layer {index}: {e}")))?;
            parent = Some(self.layer(index, &digest, parent.as_deref())?);
        }
        let image_id = match &self.reference.id {
            Some(id) => id.clone(),
            None => core_storage::image_id(&config_digest),
        };
        self.image(
            &image_id,
            parent.as_deref(),
            &config_digest,
            &config_bytes,
            &manifest_bytes,
            &manifest_digest,
            list.as_deref(),
        )
    }

    /// Makes sure the layer from blob `digest` is in the store over
    /// `parent`; returns its ID.
    fn layer(
        &self,
        index: usize,
        digest: &Digest,
        parent: Option<&str>,
    ) -> Result<String, TransportError> {
        let store = &self.store;
        // A layer made from this blob already: its diff ID gives the ID.
        let known = read_records(&store.layers_json())?;
        let existing = stored_layer(&known, digest);
        if let Some(diff) = existing
            .and_then(|(r, _)| records::text(r, "diff-digest"))
            .and_then(|d| Digest::parse(d).ok())
        {
            let id = core_storage::layer_id(parent, &diff);
            if known
                .iter()
                .any(|r| records::id(r) == Some(id.as_str()) && !records::is_incomplete(r))
            {
                return Ok(id);
            }
        }
        let (blob, blob_size) = match (self.pending.blobs.get(digest).cloned(), existing) {
            (Some(staged), _) => staged,
            // Not sent because the store had it over another parent: the
            // stream is rebuilt from that layer, as containers/image does.
            (None, Some((record, size))) => {
                let from = records::id(record).unwrap_or_default();
                let path = self.staging.path().join(format!("rebuilt-{index}"));
                let mut file = std::fs::File::create(&path).map_err(io_error(&path, "create"))?;
                layer::assemble(&store.tar_split(from), &store.layer_tree(from), &mut file)
                    .map_err(layer_error(&self.location))?;
                (path, size)
            }
            (None, None) => {
                return Err(self.malformed(format!("layer {index} ({digest}) was not written")));
            }
        };
        let tree = self.staging.path().join(format!("tree-{index}"));
        let result = self.build_tree(&tree, &blob, parent).and_then(|applied| {
            let id = core_storage::layer_id(parent, &applied.diff_id);
            self.record_layer(&id, parent, digest, blob_size, &applied, &tree)?;
            Ok(id)
        });
        // Whatever happened, the staging tree goes (renamed away if used).
        let _ = remove_tree(&tree);
        result
    }

    /// The parent's tree copied and the layer applied to it, in staging.
    fn build_tree(
        &self,
        tree: &Path,
        blob: &Path,
        parent: Option<&str>,
    ) -> Result<layer::Applied, TransportError> {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let err = layer_error(&self.location);
        match parent {
            // vfs: the parent's whole tree, copied.
            Some(parent) if !self.store.is_overlay() => {
                layer::copy_tree(&self.store.layer_tree(parent), tree)
                    .map_err(layer_error(&self.location))?
            }
            _ => {
                // An empty tree: 0555, or the parent's diff's mode and
                // owner (overlay), as the drivers make them.
                let (mode, owner) = match parent {
                    Some(parent) => {
                        let diff = self.store.layer_tree(parent);
                        let meta = std::fs::metadata(&diff).map_err(io_error(&diff, "stat"))?;
                        (meta.mode() & 0o7777, Some((meta.uid(), meta.gid())))
                    }
                    None => (0o555, None),
                };
                std::fs::create_dir(tree).map_err(io_error(tree, "create directory"))?;
                if let Some((uid, gid)) = owner
                    && rustix::process::geteuid().is_root()
                {
                    std::os::unix::fs::lchown(tree, Some(uid), Some(gid))
                        .map_err(io_error(tree, "chown"))?;
                }
                std::fs::set_permissions(tree, std::fs::Permissions::from_mode(mode))
                    .map_err(io_error(tree, "chmod"))?;
            }
        }
        layer::apply(blob, tree, whiteouts(&self.store)).map_err(err)
    }

    /// Records the layer applied in `tree` as `id`, under `layers.lock`.
    fn record_layer(
        &self,
        id: &str,
        parent: Option<&str>,
        digest: &Digest,
        blob_size: u64,
        applied: &layer::Applied,
        tree: &Path,
    ) -> Result<(), TransportError> {
        let store = &self.store;
        let lock = Lock::acquire(&store.layers_lock(), true)?;
        let mut layers = read_records(&store.layers_json())?;
        if remove_incomplete(store, &mut layers)? {
            write_records(&store.layers_json(), &layers)?;
            lock.touch()?;
        }
        if layers.iter().any(|r| records::id(r) == Some(id)) {
            // Another writer made the same layer meanwhile.
            return Ok(());
        }
        if let Some(parent) = parent
            && !layers.iter().any(|r| records::id(r) == Some(parent))
        {
            return Err(TransportError::NotFound {
                what: format!("parent layer {parent}"),
                location: self.location.clone(),
            });
        }
        let compression = match applied.compression {
            None => LayerCompression::Uncompressed,
            Some(ferry_core::tar::Compression::Zstd) => LayerCompression::Zstd,
            Some(_) => LayerCompression::Gzip,
        };
        let created = now_rfc3339();
        layers.push(records::new_layer(&NewLayer {
            id,
            parent,
            created: &created,
            compressed: (digest, blob_size),
            compression,
            uncompressed: (&applied.diff_id, applied.diff_size),
            uids: &applied.uids,
            gids: &applied.gids,
        }));
        write_records(&store.layers_json(), &layers)?;
        lock.touch()?;
        store.remove_layer_files(id)?;
        if store.is_overlay() {
            self.overlay_layer(id, parent)?;
        }
        let target = store.layer_tree(id);
        std::fs::rename(tree, &target).map_err(io_error(&target, "rename into place"))?;
        write_file_atomic(&store.tar_split(id), &applied.tar_split)?;
        if let Some(record) = layers.iter_mut().find(|r| records::id(r) == Some(id)) {
            records::mark_complete(record);
        }
        write_records(&store.layers_json(), &layers)?;
        lock.touch()
    }

    /// An overlay layer's directory around its `diff`: `link` and its
    /// short link `l/NAME`, `work`, `merged`, and `empty` (a base layer)
    /// or `lower` (the parents' short links), as the overlay driver makes
    /// them.
    fn overlay_layer(&self, id: &str, parent: Option<&str>) -> Result<(), TransportError> {
        use std::os::unix::fs::DirBuilderExt;
        let home = self.store.overlay_home();
        let dir = home.join(id);
        let private = |path: &Path| {
            std::fs::DirBuilder::new()
                .mode(0o700)
                .create(path)
                .map_err(io_error(path, "create directory"))
        };
        private(&dir)?;
        let mut random = [0u8; core_storage::OVERLAY_LINK_LEN];
        getrandom::fill(&mut random).map_err(|e| TransportError::Internal {
            location: self.location.clone(),
            reason: format!("no random bytes: {e}"),
        })?;
        let link = core_storage::overlay_link_name(&random);
        let link_path = home.join("l").join(&link);
        std::os::unix::fs::symlink(format!("../{id}/diff"), &link_path)
            .map_err(io_error(&link_path, "symlink"))?;
        write_file_atomic(&dir.join("link"), link.as_bytes())?;
        private(&dir.join("work"))?;
        private(&dir.join("merged"))?;
        match parent {
            None => private(&dir.join("empty"))?,
            Some(parent) => {
                let parent_dir = home.join(parent);
                let parent_link = std::fs::read_to_string(parent_dir.join("link"))
                    .map_err(io_error(parent_dir.join("link"), "read"))?;
                let parent_lower = std::fs::read_to_string(parent_dir.join("lower")).ok();
                let lower =
                    core_storage::overlay_lower(parent_link.trim(), parent_lower.as_deref());
                write_file_atomic(&dir.join("lower"), lower.as_bytes())?;
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn image(
        &self,
        image_id: &str,
        top_layer: Option<&str>,
        config_digest: &Digest,
        config: &[u8],
        manifest: &[u8],
        manifest_digest: &Digest,
        list: Option<&[u8]>,
    ) -> Result<(), TransportError> {
        let store = &self.store;
        // The layer store first, as containers/storage orders them.
        let layers_lock = Lock::acquire(&store.layers_lock(), true)?;
        if let Some(top) = top_layer {
            let layers = read_records(&store.layers_json())?;
            if !layers
                .iter()
                .any(|r| records::id(r) == Some(top) && !records::is_incomplete(r))
            {
                return Err(TransportError::NotFound {
                    what: format!("layer {top}"),
                    location: self.location.clone(),
                });
            }
        }
        let images_lock = Lock::acquire(&store.images_lock(), true)?;
        let mut images = read_records(&store.images_json())?;
        // Big data, in the order containers/image sets it.
        let mut items: Vec<(String, Vec<u8>)> = vec![(config_digest.to_string(), config.to_vec())];
        if let Some(list) = list {
            items.push((
                core_storage::manifest_key(&Digest::sha256_of(list)),
                list.to_vec(),
            ));
        }
        items.push((
            core_storage::manifest_key(manifest_digest),
            manifest.to_vec(),
        ));
        items.push((core_storage::MANIFEST_KEY.into(), manifest.to_vec()));
        let join = |sigs: &[Vec<u8>]| sigs.concat();
        let sizes = |sigs: &[Vec<u8>]| sigs.iter().map(Vec::len).collect::<Vec<_>>();
        let mut instance_signatures = self.pending.instance_signatures.clone();
        if let Some(top) = &self.pending.signatures {
            if !top.is_empty() {
                items.push(("signatures".into(), join(top)));
            }
            instance_signatures
                .entry(manifest_digest.clone())
                .or_insert_with(|| top.clone());
        }
        instance_signatures
            .entry(manifest_digest.clone())
            .or_default();
        for (digest, sigs) in &instance_signatures {
            items.push((core_storage::signature_key(digest), join(sigs)));
        }
        let mut metadata = serde_json::Map::new();
        if let Some(top) = self.pending.signatures.as_ref().filter(|s| !s.is_empty()) {
            metadata.insert("signature-sizes".into(), serde_json::json!(sizes(top)));
        }
        let per_instance: serde_json::Map<String, Value> = instance_signatures
            .iter()
            .map(|(d, s)| (d.to_string(), serde_json::json!(sizes(s))))
            .collect();
        metadata.insert("signatures-sizes".into(), Value::Object(per_instance));
        let metadata = Value::Object(metadata).to_string();
        let dir = store.images_dir().join(image_id);
        store::create_private_dir(&dir)?;
        let mut digests = Vec::new();
        for (key, bytes) in &items {
            write_file_atomic(&store.big_data(image_id, key), bytes)?;
            digests.push(Digest::sha256_of(bytes));
        }
        let big_data: Vec<BigData<'_>> = items
            .iter()
            .zip(&digests)
            .map(|((key, bytes), digest)| BigData {
                key,
                size: bytes.len() as u64,
                digest,
            })
            .collect();
        let created = config_created(config).unwrap_or_else(now_rfc3339);
        let name = self.reference.named.as_ref().map(|n| n.to_string());
        records::put_image(
            &mut images,
            &NewImage {
                id: image_id,
                top_layer,
                created: &created,
                name: name.as_deref(),
                big_data: &big_data,
                metadata: &metadata,
            },
        )
        .map_err(|existing| {
            self.malformed(format!(
                "image with ID {image_id:?} already exists, but uses a different top layer ({existing:?})"
            ))
        })?;
        write_records(&store.images_json(), &images)?;
        images_lock.touch()?;
        drop(images_lock);
        drop(layers_lock);
        Ok(())
    }
}

/// The config's `created`, if it has one.
fn config_created(config: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(config).ok()?;
    value
        .get("created")
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty())
        .map(String::from)
}

/// Reading an image out of a store.
#[derive(Debug)]
pub struct StorageSource {
    location: String,
    store: Store,
    image_id: String,
    manifest: Vec<u8>,
    media_type: String,
    config_digest: Digest,
    /// Layers, base first: ID and diff ID and size.
    layers: Vec<(String, Digest, u64)>,
    /// Whether the manifest was rewritten (its layers were compressed).
    rewritten: bool,
    manifest_digest: Digest,
}

impl StorageSource {
    pub async fn open(reference: &StorageReference) -> Result<Self, TransportError> {
        let store = open_store(reference)?;
        let reference = reference.clone();
        let location = format!("containers-storage:{reference}");
        let loc = location.clone();
        tokio::task::spawn_blocking(move || Self::open_blocking(store, reference, loc))
            .await
            .map_err(blocking_error(&location))?
    }

    fn open_blocking(
        store: Store,
        reference: StorageReference,
        location: String,
    ) -> Result<Self, TransportError> {
        let (layers, images) = {
            let _layers_lock = Lock::acquire(&store.layers_lock(), false)?;
            let _images_lock = Lock::acquire(&store.images_lock(), false)?;
            (
                read_records(&store.layers_json())?,
                read_records(&store.images_json())?,
            )
        };
        let wanted = crate::host::platform();
        let options = ferry_core::choose::ChooseOptions::default();
        let mut list_choice = |image: &Value, digest: &Digest| {
            let Some(id) = records::id(image) else {
                return false;
            };
            std::fs::read(store.big_data(id, &core_storage::manifest_key(digest)))
                .is_ok_and(|list| lookup::is_chosen_instance(image, &list, &wanted, &options))
        };
        let image = lookup::find_image(&images, &reference, &mut list_choice).ok_or_else(|| {
            TransportError::NotFound {
                what: format!("image {reference}"),
                location: format!("containers-storage:{}", store.spec()),
            }
        })?;
        let image_id = records::id(image).unwrap_or_default().to_string();
        let read_big = |key: &str| -> Result<Vec<u8>, TransportError> {
            let path = store.big_data(&image_id, key);
            std::fs::read(&path).map_err(io_error(&path, "read"))
        };
        let mut manifest = read_big(&lookup::manifest_key_for(image, &reference))?;
        // A list the image was chosen from: the image itself is read.
        if mt::is_list(&ferry_core::manifest::guess_media_type(&manifest)) {
            manifest = read_big(core_storage::MANIFEST_KEY)?;
        }
        let parsed = Manifest::parse(&manifest).map_err(|error| TransportError::Manifest {
            what: format!("the manifest of image {image_id}"),
            error,
        })?;
        let malformed = |reason: String| TransportError::Malformed {
            location: location.clone(),
            reason,
        };
        let config_digest = parsed
            .config()
            .digest()
            .map_err(|e| malformed(format!("config digest: {e}")))?;
        // The layer chain, top first, then reversed.
        let mut chain = Vec::new();
        let mut next = records::text(image, "layer").map(String::from);
        while let Some(id) = next {
            let record = layers
                .iter()
                .find(|r| records::id(r) == Some(id.as_str()) && !records::is_incomplete(r))
                .ok_or_else(|| malformed(format!("layer {id} of image {image_id} is missing")))?;
            let diff = records::text(record, "diff-digest")
                .and_then(|d| Digest::parse(d).ok())
                .ok_or_else(|| malformed(format!("layer {id} has no diff digest")))?;
            let size = record.get("diff-size").and_then(Value::as_u64).unwrap_or(0);
            next = records::text(record, "parent").map(String::from);
            chain.push((id, diff, size));
            if chain.len() > 10_000 {
                return Err(malformed("the layer chain loops".into()));
            }
        }
        chain.reverse();
        if chain.len() != parsed.layers().len() {
            return Err(malformed(format!(
                "image {image_id} has {} layers but its manifest names {}",
                chain.len(),
                parsed.layers().len()
            )));
        }
        let diffs: Vec<(Digest, u64)> = chain.iter().map(|(_, d, s)| (d.clone(), *s)).collect();
        let rewritten_bytes = lookup::uncompressed_manifest(&parsed, &diffs)
            .map_err(|e| malformed(format!("cannot describe the stored layers: {e}")))?;
        let rewritten = rewritten_bytes != manifest;
        Ok(StorageSource {
            location,
            manifest_digest: Digest::sha256_of(&manifest),
            media_type: parsed.media_type().to_string(),
            manifest: rewritten_bytes,
            store,
            image_id,
            config_digest,
            layers: chain,
            rewritten,
        })
    }
}

/// A writer that hands its bytes to an async reader, in chunks.
struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<std::io::Result<Bytes>>,
    buffer: Vec<u8>,
}

const CHANNEL_CHUNK: usize = 256 << 10;

impl std::io::Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(buf);
        if self.buffer.len() >= CHANNEL_CHUNK {
            self.flush()?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::take(&mut self.buffer));
        self.tx
            .blocking_send(Ok(chunk))
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))
    }
}

#[async_trait]
impl ImageSource for StorageSource {
    fn reference(&self) -> String {
        self.location.clone()
    }

    async fn manifest(
        &self,
        instance: Option<&Digest>,
    ) -> Result<(Vec<u8>, Option<String>), TransportError> {
        match instance {
            None => Ok((self.manifest.clone(), Some(self.media_type.clone()))),
            Some(d) => Err(TransportError::NotFound {
                what: format!("manifest {d} (a store keeps the chosen image only)"),
                location: self.location.clone(),
            }),
        }
    }

    async fn blob(&self, info: &BlobInfo) -> Result<(BlobStream, Option<u64>), TransportError> {
        if info.digest == self.config_digest {
            let path = self
                .store
                .big_data(&self.image_id, self.config_digest.as_str());
            let bytes = tokio::fs::read(&path)
                .await
                .map_err(io_error(&path, "read"))?;
            let len = bytes.len() as u64;
            return Ok((Box::pin(std::io::Cursor::new(bytes)), Some(len)));
        }
        let Some((id, _, size)) = self.layers.iter().find(|(_, d, _)| *d == info.digest) else {
            return Err(TransportError::NotFound {
                what: format!("blob {}", info.digest),
                location: self.location.clone(),
            });
        };
        let tar_split = self.store.tar_split(id);
        let tree = self.store.layer_tree(id);
        let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(4);
        let location = self.location.clone();
        tokio::task::spawn_blocking(move || {
            let mut writer = ChannelWriter {
                tx: tx.clone(),
                buffer: Vec::with_capacity(CHANNEL_CHUNK),
            };
            let result = layer::assemble(&tar_split, &tree, &mut writer)
                .map_err(|e| std::io::Error::other(format!("{location}: {e}")))
                .and_then(|_| std::io::Write::flush(&mut writer));
            if let Err(e) = result {
                let _ = tx.blocking_send(Err(e));
            }
        });
        let stream = futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        });
        Ok((
            Box::pin(tokio_util::io::StreamReader::new(stream)),
            Some(*size),
        ))
    }

    async fn signatures(&self, instance: Option<&Digest>) -> Result<Vec<Vec<u8>>, TransportError> {
        if instance.is_some() {
            return Ok(Vec::new());
        }
        let path = self.store.big_data(
            &self.image_id,
            &core_storage::signature_key(&self.manifest_digest),
        );
        let blob = match tokio::fs::read(&path).await {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_error(&path, "read")(e)),
        };
        if blob.is_empty() {
            return Ok(Vec::new());
        }
        if self.rewritten {
            return Err(TransportError::Unsupported {
                location: self.location.clone(),
                reason: "the stored signatures sign the manifest as pulled, whose compressed layers the store does not keep; reading the image out changes its manifest (use --remove-signatures)".into(),
            });
        }
        // The sizes are in the image's metadata.
        let images = read_records(&self.store.images_json())?;
        let sizes: Vec<usize> = images
            .iter()
            .find(|r| records::id(r) == Some(self.image_id.as_str()))
            .and_then(|r| records::text(r, "metadata"))
            .and_then(|m| serde_json::from_str::<Value>(m).ok())
            .and_then(|m| {
                m.get("signatures-sizes")?
                    .get(self.manifest_digest.as_str())?
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|n| n.as_u64().map(|n| n as usize))
                            .collect()
                    })
            })
            .unwrap_or_default();
        let mut out = Vec::new();
        let mut at = 0;
        for size in sizes {
            let Some(sig) = blob.get(at..at + size) else {
                break;
            };
            out.push(sig.to_vec());
            at += size;
        }
        Ok(out)
    }
}
