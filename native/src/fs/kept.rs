//! What a broken-off download leaves for the next copy to continue.
//!
//! When a blob's bytes stop arriving (the connection dropped, and the
//! source's own resumption within the run gave up), a destination the user
//! keeps ([`Durability::Synced`](super::atomic::Durability::Synced): an
//! OCI layout, a `dir:` image) does not throw away what arrived: it is
//! renamed to `.ferry-partial-<name>` beside where the blob would go
//! ([`keep`]). It is not a blob: nothing names it, and its bytes only ever
//! reach a blob's name as the first part of a download that completes and
//! matches its digest. The next copy of that blob into the same place
//! takes it ([`take`]), asks the source for the rest only, and streams the
//! two through the usual verified write; a kept part that proves wrong
//! fails that attempt's digest check and is gone with it. skopeo (and
//! containers/image) fetch a cut layer whole again, in the same run and in
//! the next.
//!
//! A kept part stays until a copy into the same place takes it or writes
//! its blob; less than [`MIN_KEPT`] is not kept.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

use super::leftovers;
use crate::transport::BlobStream;

/// Prefix of kept parts; nothing else in a layout starts with it.
pub const KEPT_PREFIX: &str = ".ferry-partial-";

/// Less than this (1 MiB) is fetched again rather than kept: a request
/// costs more than the bytes.
pub const MIN_KEPT: u64 = 1 << 20;

/// Where the kept first part of the blob at `target` goes.
pub fn kept_path(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    target.with_file_name(format!("{KEPT_PREFIX}{name}"))
}

/// Keeps `temp`, holding the first `len` bytes of the blob at `target`,
/// as that blob's kept part (replacing an older one), if it is worth
/// keeping. `false`: it was not kept, and the caller removes it. Blocking.
pub fn keep(temp: &Path, target: &Path, len: u64) -> bool {
    len >= MIN_KEPT && std::fs::rename(temp, kept_path(target)).is_ok()
}

/// Removes the kept part of the blob at `target`, if any: the blob is
/// there now. Best effort. Blocking.
pub fn discard(target: &Path) {
    let _ = std::fs::remove_file(kept_path(target));
}

/// Takes the kept part of the blob at `target` for one download: its
/// bytes as a stream, and how many there are. Taken by renaming it to a
/// temporary name of this process (which sweeps leave alone while it
/// lives), so two copies never both take it. When the stream is dropped
/// the part is removed if any of it was read (a download cut again keeps
/// what it wrote, the taken part included, under [`kept_path`] again),
/// and put back if none was (the source could not send the rest, or the
/// copy failed before it began). `None` when there is nothing to take: no
/// kept part, another process took it first, or it is not a regular file
/// of this user's.
pub async fn take(target: &Path) -> Option<(BlobStream, u64)> {
    let target = target.to_path_buf();
    tokio::task::spawn_blocking(move || take_blocking(&target))
        .await
        .ok()
        .flatten()
}

fn take_blocking(target: &Path) -> Option<(BlobStream, u64)> {
    let kept = kept_path(target);
    let (_, meta) = leftovers::open_regular(&kept)?;
    if Some(meta.uid()) != leftovers::current_uid() {
        return None;
    }
    let path = leftovers::temp_path(target);
    std::fs::rename(&kept, &path).ok()?;
    let mut taken = Taken {
        file: None,
        path,
        kept,
        read: false,
    };
    let (file, meta) = leftovers::open_regular(&taken.path)?;
    if meta.len() < MIN_KEPT || file.try_lock().is_err() {
        taken.read = true;
        return None;
    }
    taken.file = Some(tokio::fs::File::from_std(file));
    Some((Box::pin(taken), meta.len()))
}

/// A taken kept part ([`take`]), being read.
struct Taken {
    file: Option<tokio::fs::File>,
    /// Its name while taken.
    path: PathBuf,
    /// Its name when kept.
    kept: PathBuf,
    /// Some of it was read (or it is not worth putting back).
    read: bool,
}

impl AsyncRead for Taken {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        self.read = true;
        match self.file.as_mut() {
            Some(file) => Pin::new(file).poll_read(cx, buf),
            None => Poll::Ready(Ok(())),
        }
    }
}

impl Drop for Taken {
    fn drop(&mut self) {
        // Closed first, so its lock goes with it.
        self.file = None;
        if self.read || std::fs::rename(&self.path, &self.kept).is_err() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;

    use super::*;

    const PART: usize = MIN_KEPT as usize + 10;

    fn blob_target(dir: &Path) -> PathBuf {
        dir.join("0123abcd")
    }

    #[tokio::test]
    async fn a_taken_part_read_is_gone_and_one_left_unread_is_kept_again() {
        let dir = tempfile::tempdir().unwrap();
        let target = blob_target(dir.path());
        std::fs::write(kept_path(&target), vec![7u8; PART]).unwrap();

        let (stream, len) = take(&target).await.expect("a kept part");
        assert_eq!(len, PART as u64);
        assert!(take(&target).await.is_none(), "taken twice");
        drop(stream);
        assert!(
            kept_path(&target).exists(),
            "dropped unread, but not put back"
        );

        let (mut stream, _) = take(&target).await.expect("put back");
        let mut bytes = Vec::new();
        stream.read_to_end(&mut bytes).await.unwrap();
        assert_eq!(bytes, vec![7u8; PART]);
        drop(stream);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn too_little_to_keep_is_neither_kept_nor_taken() {
        let dir = tempfile::tempdir().unwrap();
        let target = blob_target(dir.path());
        let temp = dir.path().join("temp");
        std::fs::write(&temp, b"a few bytes").unwrap();
        assert!(!keep(&temp, &target, 11));
        assert!(!kept_path(&target).exists());

        std::fs::write(kept_path(&target), b"a few bytes").unwrap();
        assert!(take(&target).await.is_none());
        assert!(
            !kept_path(&target).exists(),
            "a part too small to use is left behind"
        );
    }

    #[tokio::test]
    async fn a_link_in_place_of_a_kept_part_is_never_read() {
        let dir = tempfile::tempdir().unwrap();
        let target = blob_target(dir.path());
        let elsewhere = dir.path().join("elsewhere");
        std::fs::write(&elsewhere, vec![1u8; PART]).unwrap();
        std::os::unix::fs::symlink(&elsewhere, kept_path(&target)).unwrap();
        assert!(take(&target).await.is_none());
        assert_eq!(std::fs::read(&elsewhere).unwrap().len(), PART);
    }
}
