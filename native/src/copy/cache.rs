//! The blob info cache's file: where it lives, reading it, and recording
//! into it. Every decision is ferry-core's
//! ([`ferry_core::blob_info_cache`]); this module performs the I/O and the
//! two round trips that prove a cached answer (a HEAD, a mount).
//!
//! The CLI's file ([`default_path`]) is `$FERRY_BLOB_INFO_CACHE` when set (empty or `off`: no
//! cache), else `$XDG_CACHE_HOME/ferry/blob-info.json`, else
//! `~/.cache/ferry/blob-info.json`. Readers take it as it is (it only
//! ever changes by an atomic rename); writers hold `blob-info.json.lock`
//! (`flock`) while they read, add their record and rename the new file
//! into place, so concurrent ferry processes lose no record. A flawed file
//! is ignored with a warning and replaced at the next record. The cache
//! is an optimisation: failing to read or write it never fails a copy.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferry_core::blob_info_cache::{BlobInfoCache, Location, Record};
use ferry_core::manifest::edit::LayerUpdate;
use ferry_core::plan::compression::{self, Step, Wish};
use ferry_core::tar::Compression;

use super::{CopyError, Event, Progress, transport};
use crate::fs::atomic::{Durability, write_atomic};
use crate::transport::{BlobInfo, ImageDestination, Mount};

/// The variable naming the cache file (empty or `off`: no cache).
pub const ENV: &str = "FERRY_BLOB_INFO_CACHE";

/// The CLI's cache file, if there is to be one (the library uses none
/// unless [`Settings::blob_info_cache`](super::Settings) names one).
pub fn default_path() -> Option<PathBuf> {
    if let Some(value) = std::env::var_os(ENV) {
        return (!value.is_empty() && value != "off").then(|| PathBuf::from(value));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("ferry").join("blob-info.json"))
}

/// The file's content; a missing file is an empty cache.
fn read(path: &Path) -> Result<BlobInfoCache, String> {
    match std::fs::read(path) {
        Ok(bytes) => BlobInfoCache::parse(&bytes).map_err(|e| e.to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BlobInfoCache::default()),
        Err(e) => Err(e.to_string()),
    }
}

/// [`read`], a flawed file ignored with a warning.
fn load(path: &Path) -> BlobInfoCache {
    read(path).unwrap_or_else(|e| {
        eprintln!("ferry: warning: ignoring {}: {e}", path.display());
        BlobInfoCache::default()
    })
}

/// The file's content as this process first read it: read once, so a
/// copy of many layers parses it once and warns about a flawed file once.
/// Records made later go to the file, not here: within one run the copy's
/// own ledger already knows what it wrote.
async fn loaded(path: &Path) -> Arc<BlobInfoCache> {
    static LOADED: tokio::sync::OnceCell<(PathBuf, Arc<BlobInfoCache>)> =
        tokio::sync::OnceCell::const_new();
    let (first, cache) = LOADED
        .get_or_init(|| async {
            let owned = path.to_path_buf();
            let cache = tokio::task::spawn_blocking(move || load(&owned))
                .await
                .unwrap_or_default();
            (path.to_path_buf(), Arc::new(cache))
        })
        .await;
    if first == path {
        cache.clone()
    } else {
        // Another file than this process's first (tests, library users
        // with several settings): read it as it is now.
        let owned = path.to_path_buf();
        Arc::new(
            tokio::task::spawn_blocking(move || load(&owned))
                .await
                .unwrap_or_default(),
        )
    }
}

/// The destination's repository, as mounts name it.
fn location(dst: &dyn ImageDestination) -> Option<Location> {
    dst.registry_location()
        .map(|(registry, repository)| Location {
            registry,
            repository,
        })
}

/// Before compressing the layer `info` as `wish` asks: the new form the
/// cache names, when the destination holds it already or mounts it from
/// another repository of its registry (`true`: mounted). `None`: compress.
pub(super) async fn reuse(
    path: Option<&Path>,
    dst: &dyn ImageDestination,
    info: &BlobInfo,
    wish: &Wish,
    progress: &Arc<dyn Progress>,
) -> Result<Option<(LayerUpdate, bool)>, CopyError> {
    let Some(path) = path else {
        return Ok(None);
    };
    if !ferry_core::blob_info_cache::may_compress(wish) {
        return Ok(None);
    }
    let cache = loaded(path).await;
    let Some(hit) = cache.lookup(&info.digest, wish) else {
        return Ok(None);
    };
    let media_type =
        compression::written_media_type(info.media_type_or_empty(), hit.detected, hit.step);
    let new_info = BlobInfo {
        digest: hit.digest.clone(),
        size: Some(hit.size as i64),
        media_type: Some(media_type.to_string()),
    };
    let present = dst
        .has_blob(&new_info)
        .await
        .map_err(transport("checking for a blob", dst.reference()))?;
    let mut mounted = None;
    if let Some(size) = present {
        if !hit.is_proven_by(Some(size)) {
            return Ok(None);
        }
        mounted = Some(false);
    } else if let Some(here) = location(dst) {
        for from in hit.mount_sources(&here.registry, &here.repository) {
            let from = (from.registry.clone(), from.repository.clone());
            let mount = dst.mount_blob(&new_info, &from).await.map_err(transport(
                format!("mounting blob {}", new_info.digest),
                dst.reference(),
            ))?;
            match mount {
                Mount::Mounted => {
                    mounted = Some(true);
                    break;
                }
                Mount::Refused { reason } => progress.event(Event::MountRefused {
                    digest: new_info.digest.to_string(),
                    from: from.1,
                    reason,
                }),
                Mount::NotTried => {}
            }
        }
    }
    let Some(mounted) = mounted else {
        return Ok(None);
    };
    let (digest, size) = (new_info.digest.to_string(), new_info.stated_size());
    progress.event(if mounted {
        Event::Mounted { digest, size }
    } else {
        Event::Skipped { digest, size }
    });
    record(
        Some(path),
        dst,
        &info.digest,
        hit.detected,
        hit.step,
        &new_info,
    )
    .await;
    Ok(Some((
        LayerUpdate {
            digest: new_info.digest.to_string(),
            size: new_info.stated_size(),
            media_type: media_type.to_string(),
        },
        mounted,
    )))
}

/// After a layer was compressed (or found, or mounted) as `written`:
/// records it, with the destination's repository when it is a registry's.
/// A cache that cannot be written is reported and otherwise ignored.
pub(super) async fn record(
    path: Option<&Path>,
    dst: &dyn ImageDestination,
    source: &ferry_core::Digest,
    detected: Option<Compression>,
    step: Step,
    written: &BlobInfo,
) {
    let Some(path) = path else {
        return;
    };
    let record = Record {
        source: source.clone(),
        detected,
        step,
        digest: written.digest.clone(),
        size: written.stated_size().max(0) as u64,
        location: location(dst),
    };
    if let Err(e) = write(path, record).await {
        eprintln!("ferry: warning: not recording in {}: {e}", path.display());
    }
}

async fn write(path: &Path, record: Record) -> Result<(), String> {
    let owned = path.to_path_buf();
    // Lock, then read what other processes recorded meanwhile; the lock
    // is held (the file kept open) until the new file has its name.
    let (lock, mut cache) = tokio::task::spawn_blocking(move || {
        if let Some(dir) = owned.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut lock_path = owned.clone().into_os_string();
        lock_path.push(".lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(lock_path)?;
        lock.lock()?;
        // A flawed file was reported when it was read for lookups; here it
        // is only replaced.
        Ok::<_, std::io::Error>((lock, read(&owned).unwrap_or_default()))
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| e.to_string())?;
    cache.record(record);
    let written = write_atomic(path, &cache.to_bytes(), Durability::Scratch).await;
    drop(lock);
    written.map_err(|e| e.to_string())
}
