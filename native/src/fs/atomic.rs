//! File writing that never leaves half-written content behind.
//!
//! Everything is written to a temporary name in the same directory and
//! renamed into place only when complete (and, for blobs, verified), so a
//! reader never sees a partial file under its final name, and a process
//! killed mid-write leaves at most a `.ferry-tmp-*` file, which is not part
//! of any format and which the next copy into the same place removes
//! ([`leftovers`]).
//!
//! A blob whose source broke off mid-way is the exception, in destinations
//! a user keeps: what arrived stays beside it as `.ferry-partial-*`, for
//! the next copy to continue rather than fetch again ([`kept`]).
//!
//! Destinations a user keeps are also durable ([`Durability::Synced`]): each
//! file is fsynced before its rename, and a small file's directory after it.
//! Blobs go first and the manifests that name them go into the same
//! directory after them, so the directory sync that makes a manifest
//! durable makes its blobs' names durable too, and `index.json` (synced
//! last) never names what a power cut could lose. containers/image syncs
//! each blob as well. Staging that is thrown away after the archive is
//! built is [`Durability::Scratch`]: syncing it would only cost time.

use std::path::{Path, PathBuf};

use ferry_core::digest::Hasher;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{kept, leftovers};
use crate::transport::{BlobInfo, BlobStream, TransportError, io_error};

/// Whether written files must survive a power cut once renamed into place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// fsync every file before its rename, and the directory after a
    /// small file's rename: for destinations the user keeps.
    #[default]
    Synced,
    /// No syncs: for staging directories that are deleted after use.
    Scratch,
}

/// fsyncs a directory, so the renames done in it are on the disk.
pub async fn sync_dir(dir: &Path) -> Result<(), TransportError> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let handle = tokio::fs::File::open(dir)
        .await
        .map_err(io_error(dir, "open directory to sync"))?;
    handle
        .sync_all()
        .await
        .map_err(io_error(dir, "sync directory"))
}

/// Chunk size for streaming copies. Each chunk is copied from the kernel,
/// hashed and copied back, so it should stay in the CPU's L2 cache
/// (512 KiB per core here): with 256 KiB chunks, hashing the 142 MiB
/// benchmark image took 199 ms against 139 ms with 64 KiB, and the kernel's
/// copy-out, not SHA-256, was the larger cost (benches/RESULTS.md).
const CHUNK: usize = 64 * 1024;

/// Removes the temporary file on drop unless it was renamed into place.
struct TempGuard(Option<PathBuf>);

impl TempGuard {
    fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for TempGuard {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// [`leftovers::create_locked`] on a blocking thread, with the file for
/// tokio: the temporary path, the file, and the handle that holds the lock
/// until the caller's rename is done.
async fn create_locked(
    target: &Path,
) -> Result<(PathBuf, tokio::fs::File, std::fs::File), TransportError> {
    let owned = target.to_path_buf();
    let temp = tokio::task::spawn_blocking(move || leftovers::create_locked(&owned))
        .await
        .map_err(|e| io_error(target, "create a temporary file for")(std::io::Error::other(e)))??;
    Ok((temp.path, tokio::fs::File::from_std(temp.file), temp.lock))
}

/// Writes `bytes` to `target` atomically (and durably, with the directory
/// entry, when `durability` says so).
pub async fn write_atomic(
    target: &Path,
    bytes: &[u8],
    durability: Durability,
) -> Result<(), TransportError> {
    let (temp, mut file, lock) = create_locked(target).await?;
    let mut guard = TempGuard(Some(temp.clone()));
    file.write_all(bytes)
        .await
        .map_err(io_error(&temp, "write"))?;
    // tokio's File finishes writes in the background: flush, so the bytes
    // are in the file (and any error is seen) before it takes its name.
    file.flush().await.map_err(io_error(&temp, "flush"))?;
    if durability == Durability::Synced {
        file.sync_data().await.map_err(io_error(&temp, "sync"))?;
    }
    drop(file);
    tokio::fs::rename(&temp, target)
        .await
        .map_err(io_error(target, "rename into place"))?;
    guard.disarm();
    drop(lock);
    if durability == Durability::Synced {
        sync_dir(target.parent().unwrap_or(Path::new("."))).await?;
    }
    Ok(())
}

/// Streams a blob into `target`, hashing and counting as it goes; renames
/// it into place only if digest and size match `info`. Returns the size.
pub async fn write_blob_verified(
    mut stream: BlobStream,
    target: &Path,
    info: &BlobInfo,
    durability: Durability,
) -> Result<u64, TransportError> {
    let (temp, mut file, lock) = create_locked(target).await?;
    let mut guard = TempGuard(Some(temp.clone()));
    let mut hasher: Hasher = info.digest.verifier();
    let mut buffer = vec![0u8; CHUNK];
    let mut writeback = Writeback::default();
    loop {
        let n = match stream.read(&mut buffer).await {
            Ok(n) => n,
            Err(e) => {
                // What arrived before the source broke off stays for the
                // next copy into the same place to continue ([`kept`]).
                if durability == Durability::Synced && file.flush().await.is_ok() {
                    drop(file);
                    let (temp, target, len) = (temp.clone(), target.to_path_buf(), hasher.bytes());
                    let keeping =
                        tokio::task::spawn_blocking(move || kept::keep(&temp, &target, len));
                    if keeping.await.unwrap_or(false) {
                        guard.disarm();
                    }
                }
                return Err(io_error(target, "read blob stream for")(e));
            }
        };
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        if let Err(e) = info.check_size_so_far(hasher.bytes()) {
            return Err(TransportError::SizeMismatch {
                what: format!("blob {}", info.digest),
                expected: e.stated,
                actual: e.actual,
            });
        }
        file.write_all(&buffer[..n])
            .await
            .map_err(io_error(&temp, "write"))?;
        if durability == Durability::Synced {
            writeback.wrote(n, &mut file, &lock, &temp).await?;
        }
    }
    file.flush().await.map_err(io_error(&temp, "flush"))?;
    if durability == Durability::Synced {
        writeback.finish(&temp).await?;
        file.sync_data().await.map_err(io_error(&temp, "sync"))?;
    }
    drop(file);
    let size = hasher.bytes();
    if let Err(e) = info.check_size(size) {
        return Err(TransportError::SizeMismatch {
            what: format!("blob {}", info.digest),
            expected: e.stated,
            actual: e.actual,
        });
    }
    let actual = hasher.finish();
    if actual != info.digest {
        return Err(TransportError::DigestMismatch {
            what: format!("blob {}", info.digest),
            expected: info.digest.to_string(),
            actual: actual.to_string(),
        });
    }
    tokio::fs::rename(&temp, target)
        .await
        .map_err(io_error(target, "rename into place"))?;
    guard.disarm();
    drop(lock);
    if durability == Durability::Synced {
        let target = target.to_path_buf();
        let _ = tokio::task::spawn_blocking(move || kept::discard(&target)).await;
    }
    Ok(size)
}

/// Bytes written between two early syncs of a blob being streamed in.
/// Copying the 142 MiB benchmark image between OCI layouts on a loaded
/// machine, 8 rounds each: one platform 390 ms without early syncs, 365,
/// 339, 356 and 335 ms with steps of 2, 4, 8 and 16 MiB; all four
/// platforms 591 ms against 521, 513, 546 and 540 ms.
const WRITEBACK_STEP: u64 = 4 << 20;

/// Starts a blob's writeback while it is still arriving. The kernel
/// writes dirty pages back only when they are old or plentiful, so
/// without this the whole blob waits in memory until the final fsync, and
/// that fsync (the disk's whole job for the blob) stalls the transfer
/// slot. Every [`WRITEBACK_STEP`] bytes an fsync of what is there so far
/// runs on a blocking thread, without being waited for: the disk works
/// while the network and SHA-256 do, and the last fsync has at most a
/// step left. (Linux's `sync_file_range` would do this without the flush
/// of the disk's cache, but std, rustix and nix expose none.)
#[derive(Default)]
struct Writeback {
    since: u64,
    pending: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Writeback {
    async fn wrote(
        &mut self,
        n: usize,
        file: &mut tokio::fs::File,
        handle: &std::fs::File,
        temp: &Path,
    ) -> Result<(), TransportError> {
        self.since += n as u64;
        if self.since < WRITEBACK_STEP {
            return Ok(());
        }
        if self.pending.as_ref().is_some_and(|p| !p.is_finished()) {
            // The disk is still busy with the last step: no new one.
            return Ok(());
        }
        self.finish(temp).await?;
        // tokio's File writes in the background: what is not in the file
        // yet cannot be synced.
        file.flush().await.map_err(io_error(temp, "flush"))?;
        let handle = handle.try_clone().map_err(io_error(temp, "open"))?;
        self.pending = Some(tokio::task::spawn_blocking(move || handle.sync_data()));
        self.since = 0;
        Ok(())
    }

    /// Waits for the early sync in flight, if any, and reports its error.
    async fn finish(&mut self, temp: &Path) -> Result<(), TransportError> {
        if let Some(pending) = self.pending.take() {
            pending
                .await
                .map_err(|e| io_error(temp, "sync")(std::io::Error::other(e)))?
                .map_err(io_error(temp, "sync"))?;
        }
        Ok(())
    }
}
