//! `ferry sync`'s I/O: reading the YAML source, walking a `--src dir`
//! tree, the run's shared blob ledger, and a source that reads its
//! top-level manifest once. What to copy and where is decided by
//! [`ferry_core::sync`]; the command (`cli/sync.rs`) runs the copies
//! through the copy engine.

pub mod ledger;
pub mod yaml;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use ferry_core::Digest;
use ferry_core::sync::MAX_IMAGES;

use crate::transport::{BlobInfo, BlobStream, ImageSource, TransportError};

/// The images under `root` for `--src dir`, as skopeo finds them: every
/// directory holding a `manifest.json`, not descended into further, in
/// name order. At most [`MAX_IMAGES`].
pub fn dir_images(root: &Path) -> Result<Vec<PathBuf>, TransportError> {
    let mut found = Vec::new();
    walk(root, &mut found, 0)?;
    Ok(found)
}

/// Deeper than any mirror tree, and a bound on a symlink cycle.
const MAX_DEPTH: usize = 32;

fn walk(dir: &Path, found: &mut Vec<PathBuf>, depth: usize) -> Result<(), TransportError> {
    if dir.join("manifest.json").is_file() {
        if found.len() >= MAX_IMAGES {
            return Err(TransportError::Malformed {
                location: dir.display().to_string(),
                reason: format!("more than {MAX_IMAGES} images to sync"),
            });
        }
        found.push(dir.to_path_buf());
        return Ok(());
    }
    if depth >= MAX_DEPTH {
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(crate::transport::io_error(dir, "read the directory"))?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect();
    entries.sort();
    for entry in entries {
        walk(&entry, found, depth + 1)?;
    }
    Ok(())
}

/// A source that reads its top-level manifest once: the sync reads it to
/// decide whether the destination already has the image, and the copy
/// then needs it again.
pub struct TopOnce {
    inner: Arc<dyn ImageSource>,
    top: Mutex<Option<(Vec<u8>, Option<String>)>>,
}

impl std::fmt::Debug for TopOnce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TopOnce")
            .field("source", &self.inner.reference())
            .finish_non_exhaustive()
    }
}

impl TopOnce {
    pub fn new(inner: Arc<dyn ImageSource>) -> Self {
        TopOnce {
            inner,
            top: Mutex::new(None),
        }
    }

    fn poisoned(&self) -> TransportError {
        TransportError::Internal {
            location: self.inner.reference(),
            reason: "internal lock poisoned".into(),
        }
    }
}

#[async_trait]
impl ImageSource for TopOnce {
    fn reference(&self) -> String {
        self.inner.reference()
    }

    async fn manifest(
        &self,
        instance: Option<&Digest>,
    ) -> Result<(Vec<u8>, Option<String>), TransportError> {
        if instance.is_some() {
            return self.inner.manifest(instance).await;
        }
        if let Some(top) = self.top.lock().map_err(|_| self.poisoned())?.clone() {
            return Ok(top);
        }
        let top = self.inner.manifest(None).await?;
        *self.top.lock().map_err(|_| self.poisoned())? = Some(top.clone());
        Ok(top)
    }

    async fn blob(&self, info: &BlobInfo) -> Result<(BlobStream, Option<u64>), TransportError> {
        self.inner.blob(info).await
    }

    async fn blob_from(
        &self,
        info: &BlobInfo,
        offset: u64,
    ) -> Result<Option<BlobStream>, TransportError> {
        self.inner.blob_from(info, offset).await
    }

    async fn signatures(&self, instance: Option<&Digest>) -> Result<Vec<Vec<u8>>, TransportError> {
        self.inner.signatures(instance).await
    }

    fn registry_location(&self) -> Option<(String, String)> {
        self.inner.registry_location()
    }

    async fn referrers(
        &self,
        subject: &Digest,
    ) -> Result<Vec<ferry_core::Descriptor>, TransportError> {
        self.inner.referrers(subject).await
    }

    async fn tagged_manifest(
        &self,
        tag: &str,
    ) -> Result<Option<(Vec<u8>, Option<String>)>, TransportError> {
        self.inner.tagged_manifest(tag).await
    }
}
