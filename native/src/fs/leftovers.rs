//! Temporary files that a killed ferry leaves behind, and how the next
//! ferry tells them from a live one's.
//!
//! Every file ferry writes goes first under a temporary name beside its
//! target ([`temp_path`]: `.ferry-tmp-<pid>-<n>-<name>`), held locked
//! (`flock`) by its writer from creation until it takes its final name. A
//! process killed with SIGKILL runs no destructor, but the kernel drops its
//! locks; so a temporary file whose lock is free and whose process is gone
//! is a dead writer's, and a later copy into the same place removes it
//! ([`sweep_dead_temp_files`]). containers/image leaves its `oci-put-blob*`
//! files for good: a copy of a 2 GiB layer killed at 90% costs 1.8 GiB until
//! someone looks.
//!
//! The lock cannot be taken in the same system call that creates the file,
//! so a file is created and locked under `….new` and renamed: under its
//! temporary name a live writer's file is always locked. A `….new` file is
//! judged by its process alone, which a process in another PID namespace
//! (sharing the directory) can get wrong; a writer whose file a sweeper
//! took that way notices before it writes anything and starts over under a
//! new name ([`create_locked`]).

use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::transport::{TransportError, io_error};

/// Prefix of temporary files; nothing else in a layout starts with it.
pub const TEMP_PREFIX: &str = ".ferry-tmp-";

/// Whether `name` is one of ferry's own files in a place it writes to (a
/// temporary file, or a kept part of a blob, [`super::kept`]), which is
/// neither content of the place nor a user's file.
pub fn is_ferrys_own(name: &str) -> bool {
    name.starts_with(TEMP_PREFIX) || name.starts_with(super::kept::KEPT_PREFIX)
}

/// Suffix of a temporary file that is not locked yet.
const UNLOCKED_SUFFIX: &str = ".new";

/// How often a writer starts over when a sweeper took its new file.
const CREATE_ATTEMPTS: usize = 3;

/// A temporary path next to `target`, unique within this process and
/// across processes.
pub fn temp_path(target: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    target.with_file_name(format!("{TEMP_PREFIX}{}-{n}-{name}", std::process::id()))
}

/// The process ID and the target's name in a name [`temp_path`] made
/// (`.ferry-tmp-<pid>-<n>-<name>`), or `None` for any other name.
pub fn parse_temp_name(name: &str) -> Option<(u32, &str)> {
    let number = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let rest = name.strip_prefix(TEMP_PREFIX)?;
    let (pid, rest) = rest.split_once('-')?;
    let (count, tail) = rest.split_once('-')?;
    if !number(pid) || !number(count) {
        return None;
    }
    Some((pid.parse().ok()?, tail))
}

/// Whether `tail` (from [`parse_temp_name`]) is that of a file not locked
/// yet, made for a target named `name`.
pub fn is_unlocked_tail(tail: &str, name: &str) -> bool {
    tail.strip_suffix(UNLOCKED_SUFFIX) == Some(name)
}

/// Whether no process with ID `pid` exists: `/proc` is mounted and has no
/// entry for it. False when it cannot be told. A process that has died
/// but was not reaped still has its entry, so its files wait for its
/// parent.
pub fn process_is_gone(pid: u32) -> bool {
    let proc_root = Path::new("/proc");
    if std::fs::symlink_metadata(proc_root.join("self")).is_err() {
        return false;
    }
    matches!(
        std::fs::symlink_metadata(proc_root.join(pid.to_string())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound
    )
}

/// The user this process runs as (`/proc/self` belongs to it), whose files
/// alone a sweep may remove; `None` when it cannot be told.
pub fn current_uid() -> Option<u32> {
    std::fs::metadata("/proc/self").ok().map(|m| m.uid())
}

/// A temporary file being written, locked until it is dropped.
#[derive(Debug)]
pub struct LockedTemp {
    /// Where it is ([`temp_path`] of the target).
    pub path: PathBuf,
    /// The file, open for writing.
    pub file: std::fs::File,
    /// A second handle on the same open file, which keeps the lock held
    /// after `file` is closed (a tar or tokio writer closes it when done),
    /// until the caller has renamed the file into place.
    pub lock: std::fs::File,
}

/// Creates a temporary file for `target` ([`temp_path`]), locked. Created
/// and locked as `….new` and renamed, so a sweeper never finds a live
/// writer's file unlocked under its temporary name; if a sweeper took the
/// `….new` file (possible only from another PID namespace), this starts
/// over under a new name, up to three times. Blocking.
pub fn create_locked(target: &Path) -> Result<LockedTemp, TransportError> {
    for _ in 0..CREATE_ATTEMPTS {
        let path = temp_path(target);
        let mut unlocked = path.clone().into_os_string();
        unlocked.push(UNLOCKED_SUFFIX);
        let unlocked = PathBuf::from(unlocked);
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&unlocked)
            .map_err(io_error(&unlocked, "create"))?;
        match lock_into_place(&file, &unlocked, &path) {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                let _ = std::fs::remove_file(&unlocked);
                return Err(e);
            }
        }
        let lock = match file.try_clone() {
            Ok(lock) => lock,
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                return Err(io_error(&path, "open")(e));
            }
        };
        return Ok(LockedTemp { path, file, lock });
    }
    Err(io_error(target, "create a temporary file for")(
        std::io::Error::other("it was removed while being created, three times"),
    ))
}

/// Locks `file`, just created as `unlocked` (or inside `unlocked`, a new
/// staging directory), and renames `unlocked` to `locked`: under its
/// locked name a live writer's file is always locked. `false` if a
/// sweeper that judged the file dead took it first (it held the lock, or
/// the file is gone): the caller starts over under a new name.
pub fn lock_into_place(
    file: &std::fs::File,
    unlocked: &Path,
    locked: &Path,
) -> Result<bool, TransportError> {
    match file.try_lock() {
        Ok(()) => {}
        // Only a sweeper about to remove it holds a lock on our file.
        Err(std::fs::TryLockError::WouldBlock) => return Ok(false),
        Err(std::fs::TryLockError::Error(e)) => return Err(io_error(unlocked, "lock")(e)),
    }
    // A sweeper that removed the file and let go of its lock: what we
    // hold is the lock of a file no name leads to.
    if file.metadata().map_err(io_error(unlocked, "stat"))?.nlink() == 0 {
        return Ok(false);
    }
    match std::fs::rename(unlocked, locked) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io_error(locked, "rename into place")(e)),
    }
}

/// Removes the temporary files a killed ferry left in `dir` (a `dir:`
/// image, an OCI layout or its `blobs/<algorithm>` directory, the
/// temporary directory): regular files named by [`temp_path`], this
/// user's, whose process is gone and which no process holds locked. Best
/// effort: what cannot be judged or removed stays. Blocking.
pub fn sweep_dead_temp_files(dir: &Path) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    let Some(owner) = current_uid() else {
        return removed;
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return removed;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some((pid, _)) = name.to_str().and_then(parse_temp_name) else {
            continue;
        };
        let path = entry.path();
        if process_is_gone(pid) && remove_if_unlocked(&path, owner) {
            removed.push(path);
        }
    }
    removed
}

/// [`sweep_dead_temp_files`] over `dirs` on a blocking thread.
pub async fn sweep_dead_temp_files_in(dirs: Vec<PathBuf>) -> Vec<PathBuf> {
    tokio::task::spawn_blocking(move || {
        dirs.iter()
            .flat_map(|dir| sweep_dead_temp_files(dir))
            .collect()
    })
    .await
    .unwrap_or_default()
}

/// Removes `path` if it is a regular file owned by `owner` that no process
/// holds locked: a dead writer's temporary file. The sweeper holds the
/// lock while it removes the file.
pub fn remove_if_unlocked(path: &Path, owner: u32) -> bool {
    match open_regular(path) {
        Some((file, meta)) if meta.uid() == owner => {
            file.try_lock().is_ok() && std::fs::remove_file(path).is_ok()
        }
        _ => false,
    }
}

/// Opens `path` for reading if it is a regular file, judged on the open
/// file itself: never through a link (`O_NOFOLLOW`), and without waiting
/// on a FIFO put in its place (`O_NONBLOCK`).
pub fn open_regular(path: &Path) -> Option<(std::fs::File, std::fs::Metadata)> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .ok()?;
    let meta = file.metadata().ok()?;
    meta.is_file().then_some((file, meta))
}

/// A scratch file in the temporary directory, locked while it lives and
/// removed when dropped: if the process is killed, the next process's
/// first scratch file sweeps it ([`sweep_dead_temp_files`]).
#[derive(Debug)]
pub struct ScratchFile {
    path: PathBuf,
    _lock: std::fs::File,
}

impl ScratchFile {
    /// Creates a new, empty scratch file named for `purpose`, returning it
    /// open for writing. Blocking.
    pub fn create(purpose: &str) -> Result<(Self, std::fs::File), TransportError> {
        let dir = std::env::temp_dir();
        // Once per process: a copy that compresses a hundred layers need
        // not read the temporary directory a hundred times.
        static SWEPT: std::sync::Once = std::sync::Once::new();
        SWEPT.call_once(|| {
            sweep_dead_temp_files(&dir);
        });
        let temp = create_locked(&dir.join(purpose))?;
        Ok((
            ScratchFile {
                path: temp.path,
                _lock: temp.lock,
            },
            temp.file,
        ))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ScratchFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Prefix of this process's temporary files and the directories archives
/// use:
/// [`TEMP_PREFIX`] and the process ID, so leftovers of a killed process can be
/// told from files another ferry is still using.
pub fn temp_prefix() -> String {
    format!("{TEMP_PREFIX}{}-", std::process::id())
}

/// Removes the partial files (archives) a killed ferry left beside `target`:
/// regular files (never a link) named as [`temp_path`] names
/// `target`'s (`.ferry-tmp-<pid>-<n>-<name>`), owned by `owner`, that no
/// live process has locked, and those still named `….new` whose process
/// is gone (killed between creating and locking it). `keep` is the
/// caller's own. Best effort, like the sweep of staging directories: what
/// cannot be judged stays.
pub fn sweep_partial_files(target: &Path, owner: u32, keep: &Path) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    let Some(name) = target.file_name().and_then(|n| n.to_str()) else {
        return removed;
    };
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return removed;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        // Partial archives, and (`….new`) ones whose creator died before
        // it could lock them.
        let ours = file_name
            .to_str()
            .and_then(parse_temp_name)
            .is_some_and(|(pid, tail)| {
                tail == name || (is_unlocked_tail(tail, name) && process_is_gone(pid))
            });
        let path = entry.path();
        if ours && path != keep && remove_if_unlocked(&path, owner) {
            removed.push(path);
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_names_carry_the_process_and_the_target() {
        let path = temp_path(Path::new("/x/blobs/sha256/abc"));
        let name = path.file_name().unwrap().to_str().unwrap();
        assert_eq!(parse_temp_name(name), Some((std::process::id(), "abc")));
        assert_eq!(parse_temp_name(".ferry-tmp-x-0-abc"), None);
        assert_eq!(parse_temp_name(".ferry-tmp-1--abc"), None);
        assert_eq!(parse_temp_name("abc"), None);
        assert!(is_unlocked_tail("image.tar.new", "image.tar"));
        assert!(!is_unlocked_tail("image.tar", "image.tar"));
    }

    #[test]
    fn this_process_lives_and_owns_what_it_creates() {
        assert!(!process_is_gone(std::process::id()));
        let dir = tempfile::tempdir().unwrap();
        let temp = create_locked(&dir.path().join("target")).unwrap();
        assert_eq!(
            Some(temp.file.metadata().unwrap().uid()),
            current_uid(),
            "the sweep would not know our own files"
        );
        // Locked: even a sweep that thought us dead would leave it.
        assert!(!remove_if_unlocked(&temp.path, current_uid().unwrap()));
        drop(temp.file);
        assert!(!remove_if_unlocked(&temp.path, current_uid().unwrap()));
        drop(temp.lock);
        assert!(remove_if_unlocked(&temp.path, current_uid().unwrap()));
    }

    #[test]
    fn a_fifo_or_a_link_is_never_opened_as_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join(".ferry-tmp-1-0-fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        assert!(open_regular(&fifo).is_none());
        std::fs::write(dir.path().join("real"), b"x").unwrap();
        let link = dir.path().join(".ferry-tmp-1-1-link");
        std::os::unix::fs::symlink(dir.path().join("real"), &link).unwrap();
        assert!(open_regular(&link).is_none());
        assert!(!remove_if_unlocked(&link, current_uid().unwrap()));
        assert!(link.exists() && dir.path().join("real").exists());
    }
}
