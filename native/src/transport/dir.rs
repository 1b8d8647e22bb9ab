//! `dir:PATH`: containers/image's directory layout.
//!
//! ```text
//! version                      "Directory Transport Version: 1.1\n"
//! manifest.json                the top-level manifest: a list or an image
//! <hex>.manifest.json          each instance's manifest, for lists
//! <hex>                        each blob (configs and layers)
//! signature-N                  top-level signatures, N from 1
//! <hex>.signature-N            an instance's signatures
//! ```
//!
//! What ferry writes here is file for file what skopeo writes for the same
//! input. The top-level `manifest.json` is written at commit, after every
//! blob and instance it references, and files of an image previously stored
//! in the directory are removed only after that, so an interrupted copy
//! leaves the old image readable.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use async_trait::async_trait;
use ferry_core::Digest;
use ferry_core::manifest::MAX_MANIFEST_SIZE;

use super::{
    BlobInfo, BlobStream, Capabilities, ImageDestination, ImageSource, Kind, ManifestToStore,
    TransportError, io_error,
};
use crate::fs::leftovers;
use crate::fs::rollback::Rollback;
use crate::fs::{atomic, read};

/// The version file's exact content.
pub const VERSION: &str = "Directory Transport Version: 1.1\n";

/// A blob is stored under its digest's hex alone, without the algorithm,
/// as containers/image names it.
fn blob_path(root: &Path, digest: &Digest) -> PathBuf {
    root.join(digest.encoded())
}

fn manifest_path(root: &Path, instance: Option<&Digest>) -> PathBuf {
    match instance {
        None => root.join("manifest.json"),
        Some(d) => root.join(format!("{}.manifest.json", d.encoded())),
    }
}

fn signature_path(root: &Path, instance: Option<&Digest>, n: usize) -> PathBuf {
    match instance {
        None => root.join(format!("signature-{n}")),
        Some(d) => root.join(format!("{}.signature-{n}", d.encoded())),
    }
}

/// Reads an image from a directory.
#[derive(Debug)]
pub struct DirSource {
    root: PathBuf,
}

impl DirSource {
    pub async fn open(root: &Path) -> Result<Self, TransportError> {
        let meta = tokio::fs::metadata(root)
            .await
            .map_err(io_error(root, "open directory"))?;
        if !meta.is_dir() {
            return Err(TransportError::Malformed {
                location: root.display().to_string(),
                reason: "not a directory".into(),
            });
        }
        Ok(DirSource {
            root: root.to_path_buf(),
        })
    }
}

#[async_trait]
impl ImageSource for DirSource {
    fn reference(&self) -> String {
        format!("dir:{}", self.root.display())
    }

    async fn manifest(
        &self,
        instance: Option<&Digest>,
    ) -> Result<(Vec<u8>, Option<String>), TransportError> {
        let path = manifest_path(&self.root, instance);
        let bytes = read::read_small(&path, MAX_MANIFEST_SIZE).await?;
        if let Some(d) = instance {
            verify_manifest(&bytes, d, &path)?;
        }
        // The directory does not record media types.
        Ok((bytes, None))
    }

    async fn blob(&self, info: &BlobInfo) -> Result<(BlobStream, Option<u64>), TransportError> {
        let path = blob_path(&self.root, &info.digest);
        read::open_blob(&path, &info.digest, &self.reference())
            .await
            .map(|(stream, size)| (stream, Some(size)))
    }

    async fn signatures(&self, instance: Option<&Digest>) -> Result<Vec<Vec<u8>>, TransportError> {
        let mut out = Vec::new();
        for n in 1.. {
            let path = signature_path(&self.root, instance, n);
            match tokio::fs::read(&path).await {
                Ok(bytes) => out.push(bytes),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                Err(e) => return Err(io_error(&path, "read")(e)),
            }
        }
        Ok(out)
    }
}

/// Checks that an instance manifest read by digest has that digest.
pub(crate) fn verify_manifest(
    bytes: &[u8],
    expected: &Digest,
    path: &Path,
) -> Result<(), TransportError> {
    let actual = ferry_core::manifest::digest(bytes).map_err(|e| TransportError::Malformed {
        location: path.display().to_string(),
        reason: e.to_string(),
    })?;
    if &actual != expected {
        return Err(TransportError::DigestMismatch {
            what: format!("manifest {}", path.display()),
            expected: expected.to_string(),
            actual: actual.to_string(),
        });
    }
    Ok(())
}

/// Writes an image into a directory.
#[derive(Debug)]
pub struct DirDestination {
    root: PathBuf,
    /// File names written by this copy; at commit, everything else of an
    /// earlier image is removed.
    written: Mutex<HashSet<String>>,
    top: Mutex<Option<Vec<u8>>>,
    /// Undoes a copy that fails before commit.
    rollback: Rollback,
}

impl DirDestination {
    /// Prepares `root`: creates it, or accepts it if it is empty or holds a
    /// `dir:` image (which this copy replaces). Any other non-empty
    /// directory is refused, so a typo cannot destroy unrelated files.
    pub async fn create(root: &Path) -> Result<Self, TransportError> {
        let rollback = Rollback::default();
        rollback.create_dir_all(root).await?;
        let version = root.join("version");
        match tokio::fs::read(&version).await {
            Ok(bytes) if bytes == VERSION.as_bytes() => {}
            Ok(_) => {
                return Err(TransportError::Malformed {
                    location: version.display().to_string(),
                    reason: "unknown dir: transport version; refusing to overwrite".into(),
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut entries = tokio::fs::read_dir(root)
                    .await
                    .map_err(io_error(root, "list"))?;
                while let Some(entry) =
                    entries.next_entry().await.map_err(io_error(root, "list"))?
                {
                    if !leftovers::is_ferrys_own(&entry.file_name().to_string_lossy()) {
                        return Err(TransportError::Unsupported {
                            location: root.display().to_string(),
                            reason: "directory is not empty and is not a dir: image; refusing to overwrite it".into(),
                        });
                    }
                }
                rollback.write_atomic(&version, VERSION.as_bytes()).await?;
            }
            Err(e) => return Err(io_error(&version, "read")(e)),
        }
        // What killed copies left half-written goes before this copy adds
        // its own temporary files.
        leftovers::sweep_dead_temp_files_in(vec![root.to_path_buf()]).await;
        Ok(DirDestination {
            root: root.to_path_buf(),
            written: Mutex::new(HashSet::from([
                "version".to_string(),
                "manifest.json".to_string(),
            ])),
            top: Mutex::new(None),
            rollback,
        })
    }

    fn note(&self, path: &Path) {
        if let Some(name) = path.file_name() {
            self.written
                .lock()
                .expect("lock")
                .insert(name.to_string_lossy().into_owned());
        }
    }
}

#[async_trait]
impl ImageDestination for DirDestination {
    fn reference(&self) -> String {
        format!("dir:{}", self.root.display())
    }

    fn capabilities(&self) -> Capabilities {
        Kind::Dir.capabilities()
    }

    async fn has_blob(&self, info: &BlobInfo) -> Result<Option<u64>, TransportError> {
        let path = blob_path(&self.root, &info.digest);
        let stored = info.stored_at(&path).await?;
        if stored.is_some() {
            self.note(&path);
        }
        Ok(stored)
    }

    async fn kept_part(&self, info: &BlobInfo) -> Option<(BlobStream, u64)> {
        crate::fs::kept::take(&blob_path(&self.root, &info.digest)).await
    }

    async fn put_blob(&self, stream: BlobStream, info: &BlobInfo) -> Result<(), TransportError> {
        let path = blob_path(&self.root, &info.digest);
        self.rollback
            .write_blob_verified(stream, &path, info)
            .await?;
        self.note(&path);
        Ok(())
    }

    async fn store_manifest(&self, manifest: ManifestToStore<'_>) -> Result<(), TransportError> {
        match manifest.instance {
            None => {
                *self.top.lock().expect("lock") = Some(manifest.bytes.to_vec());
                Ok(())
            }
            Some(d) => {
                let path = manifest_path(&self.root, Some(d));
                self.rollback.write_atomic(&path, manifest.bytes).await?;
                self.note(&path);
                Ok(())
            }
        }
    }

    async fn put_signatures(
        &self,
        signatures: &[Vec<u8>],
        instance: Option<&Digest>,
    ) -> Result<(), TransportError> {
        for (i, signature) in signatures.iter().enumerate() {
            let path = signature_path(&self.root, instance, i + 1);
            self.rollback.write_atomic(&path, signature).await?;
            self.note(&path);
        }
        Ok(())
    }

    async fn commit(&self, top: &[u8], _media_type: &str) -> Result<(), TransportError> {
        let manifest = self
            .top
            .lock()
            .expect("lock")
            .take()
            .unwrap_or_else(|| top.to_vec());
        atomic::write_atomic(
            &manifest_path(&self.root, None),
            &manifest,
            self.rollback.durability(),
        )
        .await?;
        self.rollback.commit();
        // The new image is complete; now drop what remains of an older one.
        let written = self.written.lock().expect("lock").clone();
        let mut entries = tokio::fs::read_dir(&self.root)
            .await
            .map_err(io_error(&self.root, "list"))?;
        while let Some(entry) = entries
            .next_entry()
            .await
            .map_err(io_error(&self.root, "list"))?
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !written.contains(&name) && is_dir_image_file(&name) {
                let _ = tokio::fs::remove_file(entry.path()).await;
            }
        }
        Ok(())
    }
}

/// Whether a file name is one the `dir:` format uses (so it may be removed
/// when a new image replaces the old one).
fn is_dir_image_file(name: &str) -> bool {
    let hex = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
    if hex(name) || name.starts_with("signature-") {
        return true;
    }
    match name.split_once('.') {
        Some((h, rest)) => hex(h) && (rest == "manifest.json" || rest.starts_with("signature-")),
        None => false,
    }
}
