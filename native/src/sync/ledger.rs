//! One blob de-duplication across every image of a sync run.
//!
//! Images of a mirror share layers (every tag of a repository shares its
//! base). The [`Ledger`] remembers, for the run, which blobs each
//! destination repository is known to hold: a blob written, found or
//! mounted for one image is not asked about again for the next image of
//! the same repository, and for another repository of the same registry
//! it is mounted from one that holds it (a cross-repository mount moves no
//! bytes) before any upload is considered.
//!
//! Images copied at once do not race for a shared blob either: the first
//! to ask about it claims it, and the others wait until it is written
//! (or the claimant gives up, when the next one claims it), then skip or
//! mount it. A wait is bounded ([`CLAIM_WAIT`]); after it the waiter
//! proceeds alone, so no chain of claims can stall a run.
//!
//! Concurrent writers (the images of this run, and other shards' runs
//! into the same registry) are safe because a registry's blobs are
//! content-addressed: two uploads of one digest store the same bytes, and
//! each upload is verified against its digest. The ledger only saves
//! requests; it never claims a blob the registry has not confirmed.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use ferry_core::Digest;

use crate::transport::{
    BlobInfo, BlobStream, Capabilities, ImageDestination, ManifestToStore, Mount, TransportError,
};

/// The longest an image waits for another image's transfer of a blob
/// before it checks and copies the blob itself.
pub const CLAIM_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

type Key = (String, Digest);

/// Blobs known to be in each repository of each registry, for one run.
#[derive(Debug, Default)]
pub struct Ledger {
    /// (registry API host, digest) → repositories holding it.
    known: Mutex<HashMap<Key, HashSet<String>>>,
    /// Blobs an image is checking or writing now, and how to wake the
    /// images waiting for it.
    claimed: Mutex<HashMap<Key, Arc<tokio::sync::Notify>>>,
}

/// What an image asking about a blob should do.
enum Claim {
    /// It claimed the blob: it checks and writes it.
    Mine,
    /// Another image is on it: wait for this, then ask again.
    Wait(std::pin::Pin<Box<tokio::sync::futures::OwnedNotified>>),
}

impl Ledger {
    fn claim(&self, key: &Key) -> Claim {
        let Ok(mut claimed) = self.claimed.lock() else {
            return Claim::Mine;
        };
        match claimed.get(key) {
            // Registered before the lock is released, so a release in
            // between still wakes it.
            Some(notify) => Claim::Wait(Box::pin(notify.clone().notified_owned())),
            None => {
                claimed.insert(key.clone(), Arc::new(tokio::sync::Notify::new()));
                Claim::Mine
            }
        }
    }

    fn release(&self, key: &Key) {
        if let Ok(mut claimed) = self.claimed.lock()
            && let Some(notify) = claimed.remove(key)
        {
            notify.notify_waiters();
        }
    }

    fn record(&self, host: &str, repository: &str, digest: &Digest) {
        if let Ok(mut known) = self.known.lock() {
            known
                .entry((host.to_string(), digest.clone()))
                .or_default()
                .insert(repository.to_string());
        }
    }

    /// Whether `repository` holds it, else another repository that does.
    fn lookup(&self, host: &str, repository: &str, digest: &Digest) -> Lookup {
        let Ok(known) = self.known.lock() else {
            return Lookup::Unknown;
        };
        match known.get(&(host.to_string(), digest.clone())) {
            Some(repos) if repos.contains(repository) => Lookup::Here,
            Some(repos) => repos
                .iter()
                .next()
                .map_or(Lookup::Unknown, |r| Lookup::Elsewhere(r.clone())),
            None => Lookup::Unknown,
        }
    }
}

enum Lookup {
    Here,
    Elsewhere(String),
    Unknown,
}

/// A registry destination that consults and feeds the run's [`Ledger`].
pub struct Ledgered {
    inner: Arc<dyn ImageDestination>,
    ledger: Arc<Ledger>,
    host: String,
    repository: String,
    /// Blobs this image mounted from another repository through the ledger.
    mounted: AtomicUsize,
    /// Blobs this image has claimed and not yet released.
    claims: Mutex<HashSet<Key>>,
    /// What the destination's tag named when the sync looked.
    names: Option<Digest>,
}

impl std::fmt::Debug for Ledgered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledgered")
            .field("host", &self.host)
            .field("repository", &self.repository)
            .finish_non_exhaustive()
    }
}

impl Ledgered {
    /// Wraps the destination for `repository` on the registry whose API
    /// host is `host`.
    pub fn new(
        inner: Arc<dyn ImageDestination>,
        ledger: Arc<Ledger>,
        host: &str,
        repository: &str,
    ) -> Self {
        Ledgered {
            inner,
            ledger,
            host: host.to_string(),
            repository: repository.to_string(),
            mounted: AtomicUsize::new(0),
            claims: Mutex::new(HashSet::new()),
            names: None,
        }
    }

    /// The same, knowing what its reference names: the sync asked before
    /// deciding to copy, and the copy need not ask again.
    pub fn naming(mut self, names: Option<Digest>) -> Self {
        self.names = names;
        self
    }

    fn key(&self, digest: &Digest) -> Key {
        (self.host.clone(), digest.clone())
    }

    /// Releases this image's claim on a blob, if it holds one.
    fn release(&self, digest: &Digest) {
        let key = self.key(digest);
        let held = self.claims.lock().is_ok_and(|mut c| c.remove(&key));
        if held {
            self.ledger.release(&key);
        }
    }

    /// How many blobs were mounted from other repositories of the run.
    pub fn mounted(&self) -> usize {
        self.mounted.load(Ordering::Relaxed)
    }

    fn record(&self, digest: &Digest) {
        self.ledger.record(&self.host, &self.repository, digest);
    }
}

/// An image that ends (copied, failed or dropped) releases its claims,
/// so that no other image waits for a blob it will not write.
impl Drop for Ledgered {
    fn drop(&mut self) {
        let claims = self
            .claims
            .get_mut()
            .map(std::mem::take)
            .unwrap_or_default();
        for key in claims {
            self.ledger.release(&key);
        }
    }
}

#[async_trait]
impl ImageDestination for Ledgered {
    fn reference(&self) -> String {
        self.inner.reference()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    fn reference_digest(&self) -> Option<String> {
        self.inner.reference_digest()
    }

    fn docker_reference(&self) -> Option<(String, String)> {
        self.inner.docker_reference()
    }

    fn writes_instances_side_by_side(&self) -> bool {
        self.inner.writes_instances_side_by_side()
    }

    fn checks_side_by_side(&self) -> Option<usize> {
        self.inner.checks_side_by_side()
    }

    fn registry_location(&self) -> Option<(String, String)> {
        self.inner.registry_location()
    }

    async fn named_digest(&self) -> Option<Digest> {
        self.names.clone()
    }

    async fn has_manifest(&self, digest: &Digest) -> bool {
        self.inner.has_manifest(digest).await
    }

    async fn has_blob(&self, info: &BlobInfo) -> Result<Option<u64>, TransportError> {
        let Some(size) = info.size.and_then(|s| u64::try_from(s).ok()) else {
            // Without a size the ledger cannot answer: ask the registry.
            return self.inner.has_blob(info).await;
        };
        let key = self.key(&info.digest);
        // One image at a time checks, mounts or writes a given blob.
        loop {
            if let Lookup::Here = self
                .ledger
                .lookup(&self.host, &self.repository, &info.digest)
            {
                return Ok(Some(size));
            }
            match self.ledger.claim(&key) {
                Claim::Mine => {
                    if let Ok(mut claims) = self.claims.lock() {
                        claims.insert(key.clone());
                    }
                    break;
                }
                Claim::Wait(notified) => {
                    if tokio::time::timeout(CLAIM_WAIT, notified).await.is_err() {
                        // Waited long enough: go on alone.
                        break;
                    }
                }
            }
        }
        match self
            .ledger
            .lookup(&self.host, &self.repository, &info.digest)
        {
            Lookup::Here => {
                self.release(&info.digest);
                return Ok(Some(size));
            }
            Lookup::Elsewhere(from) => {
                let from = (self.host.clone(), from);
                if self.inner.mount_blob(info, &from).await? == Mount::Mounted {
                    self.mounted.fetch_add(1, Ordering::Relaxed);
                    self.record(&info.digest);
                    self.release(&info.digest);
                    return Ok(Some(size));
                }
            }
            Lookup::Unknown => {}
        }
        let found = self.inner.has_blob(info).await?;
        if found.is_some() {
            self.record(&info.digest);
            self.release(&info.digest);
        }
        // Absent: the claim holds until the blob is written, or this
        // image ends.
        Ok(found)
    }

    async fn mount_blob(
        &self,
        info: &BlobInfo,
        from: &(String, String),
    ) -> Result<Mount, TransportError> {
        let mount = self.inner.mount_blob(info, from).await?;
        if mount == Mount::Mounted {
            self.record(&info.digest);
            self.release(&info.digest);
        }
        Ok(mount)
    }

    async fn put_blob(&self, stream: BlobStream, info: &BlobInfo) -> Result<(), TransportError> {
        let result = self.inner.put_blob(stream, info).await;
        if result.is_ok() {
            self.record(&info.digest);
        }
        // Written or failed, others may go on: to skip it, or to try it.
        self.release(&info.digest);
        result
    }

    async fn store_manifest(&self, manifest: ManifestToStore<'_>) -> Result<(), TransportError> {
        self.inner.store_manifest(manifest).await
    }

    async fn put_signatures(
        &self,
        signatures: &[Vec<u8>],
        instance: Option<&Digest>,
    ) -> Result<(), TransportError> {
        self.inner.put_signatures(signatures, instance).await
    }

    async fn commit(&self, top: &[u8], media_type: &str) -> Result<(), TransportError> {
        self.inner.commit(top, media_type).await
    }

    // Referrers and cosign tags are written beside the image, without
    // the ledger: each is its own image in the same repository.
    async fn referrer_destination(
        &self,
        digest: &Digest,
    ) -> Result<Box<dyn ImageDestination>, TransportError> {
        self.inner.referrer_destination(digest).await
    }

    async fn tagged_destination(
        &self,
        tag: &str,
    ) -> Result<Box<dyn ImageDestination>, TransportError> {
        self.inner.tagged_destination(tag).await
    }
}
