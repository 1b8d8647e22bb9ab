//! Staging directories: where an archive is built or unpacked, in the
//! temporary directory, and how the next ferry removes those a killed one
//! left.

use std::path::{Path, PathBuf};

use super::leftovers;
use crate::transport::{TransportError, io_error};

/// Where big temporary files and directories go: `TMPDIR` if set, else
/// `/var/tmp` where it exists, as containers/image does, because `/tmp` is
/// often a small RAM disk and images can be gigabytes.
pub fn big_temp_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("TMPDIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let var_tmp = Path::new("/var/tmp");
    if var_tmp.is_dir() {
        return var_tmp.to_path_buf();
    }
    std::env::temp_dir()
}

/// Prefix of staging directories in the temporary directory. Unlike
/// [`leftovers::TEMP_PREFIX`] it does not hide the directory: a staging
/// directory can hold gigabytes, and whoever looks for what fills
/// `/var/tmp` should see whose it is.
pub const STAGING_PREFIX: &str = "ferry-staging-";

/// The lock file inside a staging directory, held (`flock`, exclusive) by
/// the process using the directory for as long as the directory exists.
const STAGING_LOCK: &str = ".lock";

/// The lock file's name until it is locked.
const STAGING_UNLOCKED: &str = ".lock.new";

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
/// the lock when the process dies, however it dies. Creating a staging
/// directory first sweeps the temporary directory for ferry staging
/// directories whose lock is free, which can only be leftovers of a
/// process that is gone ([`sweep_stale_staging`]).
#[derive(Debug)]
pub struct StagingDir {
    // Field order is drop order: the directory goes while the lock is
    // still held, so no sweeper races the removal.
    dir: tempfile::TempDir,
    _lock: std::fs::File,
}

impl StagingDir {
    /// Creates a new staging directory in `base`, locked, then sweeps
    /// `base` of stale ones. Blocking: call it off the async runtime.
    pub fn create_blocking(base: &Path) -> Result<Self, TransportError> {
        // A sweeper that misjudges our birth (see `creator_is_gone`) may
        // remove the directory before its lock is in place; the next
        // attempt gets a new name. Three such races in a row mean
        // something else is deleting our files.
        let mut attempts = 0;
        loop {
            attempts += 1;
            match Self::try_create(base)? {
                Some(staging) => return Ok(staging),
                None if attempts < 3 => continue,
                None => {
                    return Err(io_error(base, "create a temporary directory in")(
                        std::io::Error::other(
                            "the new staging directory was removed while being created, three times",
                        ),
                    ));
                }
            }
        }
    }

    /// One attempt of [`StagingDir::create_blocking`]: `None` if a
    /// sweeper took the directory before its lock was in place.
    fn try_create(base: &Path) -> Result<Option<Self>, TransportError> {
        let dir = tempfile::Builder::new()
            .prefix(&staging_prefix())
            .tempdir_in(base)
            .map_err(io_error(base, "create a temporary directory in"))?;
        // The lock file is created and locked under another name, then
        // renamed: a sweeper that finds `.lock` always finds it locked, and
        // one that finds no `.lock` leaves the directory alone while its
        // creator lives.
        let unlocked = dir.path().join(STAGING_UNLOCKED);
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
        if !leftovers::lock_into_place(&lock, &unlocked, &dir.path().join(STAGING_LOCK))? {
            return Ok(None);
        }
        let owner = std::os::unix::fs::MetadataExt::uid(
            &std::fs::symlink_metadata(dir.path()).map_err(io_error(dir.path(), "stat"))?,
        );
        sweep_stale_staging(base, owner, dir.path());
        Ok(Some(StagingDir { dir, _lock: lock }))
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
        self.dir.path()
    }
}

/// How long a staging directory may be without its `.lock` before it
/// counts as dead: creating one takes microseconds from `mkdir` to the
/// lock's rename, so only a process killed in between leaves one so.
/// Used only when the creator's liveness cannot be read
/// ([`creator_is_gone`]).
const STAGING_BIRTH_GRACE: std::time::Duration = std::time::Duration::from_secs(60);

/// Whether the process whose ID is in a staging directory's name
/// (`ferry-staging-<pid>-…`) is known to be gone
/// ([`leftovers::process_is_gone`]). A directory without its `.lock` is
/// then a birth cut short by a kill, and can go at once instead of after
/// [`STAGING_BIRTH_GRACE`]; such a directory is empty, but a user
/// reasonably expects the next copy to leave none behind.
fn creator_is_gone(name: &str) -> bool {
    name.strip_prefix(STAGING_PREFIX)
        .and_then(|rest| rest.split_once('-'))
        .and_then(|(pid, _)| pid.parse::<u32>().ok())
        .is_some_and(leftovers::process_is_gone)
}

/// Removes the staging directories in `base` that a dead ferry left: those
/// named [`STAGING_PREFIX`]…, real directories (a symbolic link is never
/// followed, nor removed), owned by `owner` and writable by no one else,
/// holding a regular `.lock` file that no live process has locked (or, if
/// the process died while creating it, no `.lock` yet and untouched for
/// [`STAGING_BIRTH_GRACE`]). Anything else, others' files above all, is
/// left alone; so is `keep` (the caller's own). Best effort: a directory
/// that cannot be judged or removed stays, and the copy goes on. Returns
/// what it removed.
pub fn sweep_stale_staging(base: &Path, owner: u32, keep: &Path) -> Vec<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    let mut removed = Vec::new();
    let Ok(entries) = std::fs::read_dir(base) else {
        return removed;
    };
    for entry in entries.flatten() {
        if !entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(STAGING_PREFIX))
        {
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
        let lock = match free_lock(&dir.join(STAGING_LOCK)) {
            Lock::Free(file) => file,
            Lock::Held => continue,
            Lock::Missing => {
                let unborn = creator_is_gone(&entry.file_name().to_string_lossy())
                    || meta
                        .modified()
                        .ok()
                        .and_then(|m| m.elapsed().ok())
                        .is_some_and(|age| age > STAGING_BIRTH_GRACE);
                if unborn && remove_unborn_staging(&dir) {
                    removed.push(dir);
                }
                continue;
            }
        };
        if remove_staging(&dir).is_ok() {
            removed.push(dir);
        }
        drop(lock);
    }
    removed
}

/// Removes a staging directory whose creator died before its lock was in
/// place: such a directory holds at most `.lock.new`. That file's lock is
/// held while it goes, so a creator that is in fact alive (judged from
/// another PID namespace) fails to take it and starts over; then the
/// directory goes only if it is empty, so nothing its creator put in it
/// since is touched.
fn remove_unborn_staging(dir: &Path) -> bool {
    let unlocked = dir.join(STAGING_UNLOCKED);
    let held = match free_lock(&unlocked) {
        Lock::Held => return false,
        Lock::Free(file) => {
            if std::fs::remove_file(&unlocked).is_err() {
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
