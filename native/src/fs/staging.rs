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
/// holds its `.lock` until it is removed, and a free one means its process
/// is gone. Creating a staging directory then sweeps the temporary
/// directory for those, and for births and removals a kill cut short
/// ([`sweep_stale_staging`]).
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
/// and holding a regular `.lock` that no live process has locked, or so
/// named and empty (a removal cut short, [`remove_staging`]), or named
/// …`.new` (a birth cut short) by a process that is gone and holding
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
        match free_lock(&dir.join(STAGING_LOCK)) {
            Lock::Free(lock) => {
                if remove_staging(&dir).is_ok() {
                    removed.push(dir);
                }
                drop(lock);
            }
            // Under its name a staging directory has its `.lock` until its
            // removal takes it, last but for the directory itself: an
            // empty one is a removal killed between those two steps, and
            // `remove_dir` takes nothing else. With anything inside it is
            // not a ferry's, and nothing can be concluded.
            Lock::Missing => {
                if std::fs::remove_dir(&dir).is_ok() {
                    removed.push(dir);
                }
            }
            Lock::Held => {}
        }
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

/// Removes a staging directory, its `.lock` last but for the directory:
/// a remover (the owner dropping it, or a sweeper) killed halfway leaves
/// a directory that still has its free lock, or, killed between the last
/// two steps, an empty one; the next sweep finishes either. std's
/// `remove_dir_all` follows no symbolic link.
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
