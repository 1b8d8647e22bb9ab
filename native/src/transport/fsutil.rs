//! File writing that never leaves half-written content behind.
//!
//! Everything is written to a temporary name in the same directory and
//! renamed into place only when complete (and, for blobs, verified), so a
//! reader never sees a partial file under its final name, and a process
//! killed mid-write leaves at most a `.ferry-tmp-*` file, which is not part
//! of any format and which the next copy into the same place removes
//! ([`leftovers`]).
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
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use ferry_core::digest::Hasher;
use ferry_core::manifest::{check_size, check_size_so_far};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::leftovers;
use super::{BlobInfo, BlobStream, TransportError, io_error};

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

/// Prefix of staging directories in the temporary directory. Unlike
/// [`leftovers::TEMP_PREFIX`] it does not hide the directory: a staging
/// directory can hold gigabytes, and whoever looks for what fills
/// `/var/tmp` should see whose it is.
pub const STAGING_PREFIX: &str = "ferry-staging-";

/// The lock file inside a staging directory, held (`flock`, exclusive) by
/// the process using the directory for as long as the directory exists.
const STAGING_LOCK: &str = ".lock";

/// Suffix of a staging directory being born: created under
/// `ferry-staging-<pid>-<random>.new`, it takes its name without the
/// suffix only once its `.lock` is inside and held.
const NEWBORN_SUFFIX: &str = ".new";

/// Prefix of this process's staging directories: [`STAGING_PREFIX`] and
/// the process ID.
pub fn staging_prefix() -> String {
    format!("{STAGING_PREFIX}{}-", std::process::id())
}

/// A directory in the temporary directory where an archive is staged
/// (an archive destination's layout, a decompressed source archive),
/// removed when dropped.
///
/// A process killed mid-copy runs no destructor, and containers/image
/// leaves such directories behind for good. ferry holds an advisory lock
/// on a file inside the directory for its whole life; the kernel drops
/// the lock when the process dies, however it dies. A directory is born
/// locked: it is made as `….new`, its `.lock` created and locked inside,
/// and only then renamed to its name, so a directory under a staging name
/// always holds its `.lock`, and a free one means its process is gone.
/// Creating a staging directory then sweeps the temporary directory for
/// those, and for births a kill cut short ([`sweep_stale_staging`]).
#[derive(Debug)]
pub struct StagingDir {
    path: PathBuf,
    // Dropped after `drop` has removed the directory: no sweeper races
    // the removal.
    _lock: std::fs::File,
}

impl StagingDir {
    /// Creates a new staging directory in `base`, locked, then sweeps
    /// `base` of stale ones. Blocking: call it off the async runtime.
    pub fn create_blocking(base: &Path) -> Result<Self, TransportError> {
        // A sweeper that misjudges our birth (from another PID namespace,
        // see `sweep_stale_staging`) may remove the new directory before
        // its lock is held; the next attempt gets a new name. Three such
        // races in a row mean something else is deleting our files.
        for _ in 0..3 {
            if let Some(staging) = Self::try_create(base)? {
                return Ok(staging);
            }
        }
        Err(io_error(base, "create a temporary directory in")(
            std::io::Error::other(
                "the new staging directory was removed while being created, three times",
            ),
        ))
    }

    /// One attempt of [`StagingDir::create_blocking`]: `None` if a
    /// sweeper took the directory before its lock was held.
    fn try_create(base: &Path) -> Result<Option<Self>, TransportError> {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        // Private whatever the umask: a sweep leaves directories others
        // may write into alone, and staged images are nobody else's.
        let newborn = tempfile::Builder::new()
            .prefix(&staging_prefix())
            .suffix(NEWBORN_SUFFIX)
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir_in(base)
            .map_err(io_error(base, "create a temporary directory in"))?;
        let unlocked = newborn.path().join(STAGING_LOCK);
        let lock = match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&unlocked)
        {
            Ok(lock) => lock,
            // The directory is gone: a sweeper took it.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_error(&unlocked, "create")(e)),
        };
        let name = newborn.path().to_string_lossy();
        let path = PathBuf::from(name.strip_suffix(NEWBORN_SUFFIX).unwrap_or(&name));
        if !leftovers::lock_into_place(&lock, newborn.path(), &path)? {
            return Ok(None);
        }
        // Renamed: from here on `StagingDir` removes it, by its new name.
        let _ = newborn.keep();
        let staging = StagingDir { path, _lock: lock };
        let owner = std::fs::symlink_metadata(&staging.path)
            .map_err(io_error(&staging.path, "stat"))?
            .uid();
        sweep_stale_staging(base, owner, &staging.path);
        Ok(Some(staging))
    }

    /// [`StagingDir::create_blocking`] on a blocking thread.
    pub async fn create(base: &Path) -> Result<Self, TransportError> {
        let owned = base.to_path_buf();
        tokio::task::spawn_blocking(move || Self::create_blocking(&owned))
            .await
            .map_err(|e| {
                io_error(base, "create a temporary directory in")(std::io::Error::other(e))
            })?
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for StagingDir {
    fn drop(&mut self) {
        // Best effort: what stays is a directory with a free `.lock`,
        // which the next sweep takes.
        let _ = remove_staging(&self.path);
    }
}

/// The process that made a staging directory being born, from its name
/// (`ferry-staging-<pid>-<random>.new`); `None` for any other name.
fn newborn_creator(name: &str) -> Option<u32> {
    let (pid, _) = name
        .strip_suffix(NEWBORN_SUFFIX)?
        .strip_prefix(STAGING_PREFIX)?
        .split_once('-')?;
    if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    pid.parse().ok()
}

/// Removes the staging directories in `base` that a dead ferry left: real
/// directories (a symbolic link is never followed, nor removed), owned by
/// `owner` and writable by no one else, and either named [`STAGING_PREFIX`]…
/// and holding a regular `.lock` that no live process has locked, or
/// named …`.new` (a birth cut short) by a process that is gone and holding
/// nothing but a `.lock` nobody holds ([`remove_newborn`]): the rule
/// [`leftovers::sweep_dead_temp_files`] applies to files. Anything else,
/// others' files above all, is left alone, and so is `keep` (the caller's
/// own). Best effort: a directory that cannot be judged or removed stays,
/// and the copy goes on. Returns what it removed.
pub fn sweep_stale_staging(base: &Path, owner: u32, keep: &Path) -> Vec<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let mut removed = Vec::new();
    let Ok(entries) = std::fs::read_dir(base) else {
        return removed;
    };
    for entry in entries.flatten() {
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if !name.starts_with(STAGING_PREFIX) {
            continue;
        }
        let dir = entry.path();
        if dir == keep {
            continue;
        }
        let Ok(meta) = std::fs::symlink_metadata(&dir) else {
            continue;
        };
        if !meta.is_dir() || meta.uid() != owner || meta.mode() & 0o022 != 0 {
            continue;
        }
        if name.ends_with(NEWBORN_SUFFIX) {
            if newborn_creator(&name).is_some_and(leftovers::process_is_gone)
                && remove_newborn(&dir)
            {
                removed.push(dir);
            }
            continue;
        }
        // Under its name a staging directory always has its `.lock`:
        // without one it is not a ferry's, and nothing can be concluded.
        let Lock::Free(lock) = free_lock(&dir.join(STAGING_LOCK)) else {
            continue;
        };
        if remove_staging(&dir).is_ok() {
            removed.push(dir);
        }
        drop(lock);
    }
    removed
}

/// Removes a staging directory whose creator died while it was being
/// born: such a directory holds at most its `.lock`, anything else and it
/// stays. The lock is held while the lock file and then the directory go,
/// so a creator that is in fact alive (judged from another PID namespace)
/// fails to take it, or finds its directory gone when it renames it, and
/// starts over under a new name.
fn remove_newborn(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    let mut only_the_lock = true;
    for entry in entries {
        match entry {
            Ok(e) if e.file_name() == STAGING_LOCK => {}
            _ => only_the_lock = false,
        }
    }
    if !only_the_lock {
        return false;
    }
    let lock = dir.join(STAGING_LOCK);
    let held = match free_lock(&lock) {
        Lock::Held => return false,
        Lock::Free(file) => {
            if std::fs::remove_file(&lock).is_err() {
                return false;
            }
            Some(file)
        }
        Lock::Missing => None,
    };
    let removed = std::fs::remove_dir(dir).is_ok();
    drop(held);
    removed
}

/// What a sweeper finds of a staging directory's lock.
enum Lock {
    /// A regular file nobody holds; now the sweeper holds it.
    Free(std::fs::File),
    /// Held by a live process, or not a regular file, or not openable:
    /// nothing to conclude from, so the directory stays.
    Held,
    Missing,
}

fn free_lock(path: &Path) -> Lock {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_file() => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Lock::Missing,
        _ => return Lock::Held,
    }
    match leftovers::open_regular(path) {
        Some((file, _)) if file.try_lock().is_ok() => Lock::Free(file),
        _ => Lock::Held,
    }
}

/// Removes a staging directory, its `.lock` last: a sweeper killed
/// halfway leaves a directory that still has its (free) lock, which the
/// next sweep finishes. std's `remove_dir_all` follows no symbolic link.
fn remove_staging(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_name() == STAGING_LOCK {
            continue;
        }
        let path = entry.path();
        if std::fs::symlink_metadata(&path)?.is_dir() {
            std::fs::remove_dir_all(&path)?;
        } else {
            std::fs::remove_file(&path)?;
        }
    }
    match std::fs::remove_file(dir.join(STAGING_LOCK)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    std::fs::remove_dir(dir)
}

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
        let n = stream
            .read(&mut buffer)
            .await
            .map_err(io_error(target, "read blob stream for"))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        if let Err(e) = check_size_so_far(info.digest.as_str(), info.size, hasher.bytes()) {
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
    if let Err(e) = check_size(info.digest.as_str(), info.size, size) {
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

/// Opens a stored blob for streaming, with its size; a missing file is
/// "blob not found at `location`", not an I/O error.
pub async fn open_blob(
    path: &Path,
    digest: &ferry_core::Digest,
    location: &str,
) -> Result<(BlobStream, i64), TransportError> {
    let file = tokio::fs::File::open(path).await.map_err(|error| {
        if error.kind() == std::io::ErrorKind::NotFound {
            TransportError::NotFound {
                what: format!("blob {digest}"),
                location: location.to_string(),
            }
        } else {
            io_error(path, "open")(error)
        }
    })?;
    let size = file.metadata().await.map_err(io_error(path, "stat"))?.len();
    Ok((Box::pin(file), size as i64))
}

/// Reads a whole small file (a manifest), refusing files over the manifest
/// size limit so a hostile layout cannot make ferry allocate gigabytes.
pub async fn read_small(path: &Path, limit: usize) -> Result<Vec<u8>, TransportError> {
    let file = tokio::fs::File::open(path)
        .await
        .map_err(io_error(path, "open"))?;
    let mut bytes = Vec::new();
    file.take(limit as u64 + 1)
        .read_to_end(&mut bytes)
        .await
        .map_err(io_error(path, "read"))?;
    if bytes.len() > limit {
        return Err(TransportError::Malformed {
            location: path.display().to_string(),
            reason: format!("larger than the {limit}-byte limit for manifests"),
        });
    }
    Ok(bytes)
}
