//! Undoing what an uncommitted destination wrote.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use super::atomic::{Durability, write_atomic, write_blob_verified};
use crate::transport::{BlobInfo, BlobStream, TransportError, io_error};

/// What a destination created, removed again if it is dropped before its
/// commit: a copy that fails (disk full, permission denied, a blob that
/// does not match its digest) leaves the destination as it found it, not
/// strewn with blobs no manifest names and, for a new destination, not
/// even the directories. Only what this copy created is removed, files
/// before directories, and directories only if empty, so nothing another
/// image uses is touched. A killed process runs no destructor: it leaves
/// complete but unreferenced blobs, which a rerun reuses.
#[derive(Debug, Default)]
pub struct Rollback {
    created: Mutex<Vec<Created>>,
    committed: AtomicBool,
    durability: Durability,
}

#[derive(Debug)]
enum Created {
    File(PathBuf),
    Dir(PathBuf),
}

impl Rollback {
    /// A rollback for a destination written with `durability`.
    pub fn new(durability: Durability) -> Self {
        Rollback {
            created: Mutex::default(),
            committed: AtomicBool::default(),
            durability,
        }
    }

    /// How the files of this destination are written.
    pub fn durability(&self) -> Durability {
        self.durability
    }

    /// Records a file this copy put in place where none was before.
    pub fn created_file(&self, path: &Path) {
        self.created
            .lock()
            .expect("lock")
            .push(Created::File(path.to_path_buf()));
    }

    /// `create_dir_all`, recording the directories it had to create.
    pub async fn create_dir_all(&self, dir: &Path) -> Result<(), TransportError> {
        let mut missing = Vec::new();
        let mut current = Some(dir);
        while let Some(path) = current {
            if path.as_os_str().is_empty() || tokio::fs::symlink_metadata(path).await.is_ok() {
                break;
            }
            missing.push(path.to_path_buf());
            current = path.parent();
        }
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(io_error(dir, "create directory"))?;
        let mut created = self.created.lock().expect("lock");
        created.extend(missing.into_iter().rev().map(Created::Dir));
        Ok(())
    }

    /// Writes `bytes` to `target` atomically, recording it if it is new.
    pub async fn write_atomic(&self, target: &Path, bytes: &[u8]) -> Result<(), TransportError> {
        let existed = tokio::fs::symlink_metadata(target).await.is_ok();
        write_atomic(target, bytes, self.durability).await?;
        if !existed {
            self.created_file(target);
        }
        Ok(())
    }

    /// [`write_blob_verified`], recording the blob if it is new.
    pub async fn write_blob_verified(
        &self,
        stream: BlobStream,
        target: &Path,
        info: &BlobInfo,
    ) -> Result<u64, TransportError> {
        let existed = tokio::fs::symlink_metadata(target).await.is_ok();
        let size = write_blob_verified(stream, target, info, self.durability).await?;
        if !existed {
            self.created_file(target);
        }
        Ok(size)
    }

    /// The copy is committed: keep everything.
    pub fn commit(&self) {
        self.committed.store(true, Ordering::SeqCst);
    }
}

impl Drop for Rollback {
    fn drop(&mut self) {
        if self.committed.load(Ordering::SeqCst) {
            return;
        }
        let created = std::mem::take(self.created.get_mut().unwrap_or_else(|e| e.into_inner()));
        for entry in created.iter().rev() {
            // Best effort: a destructor cannot report, and what stays is
            // unreferenced, never half-written.
            let _ = match entry {
                Created::File(path) => std::fs::remove_file(path),
                Created::Dir(path) => std::fs::remove_dir(path),
            };
        }
    }
}
