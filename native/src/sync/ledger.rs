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

/// Blobs known to be in each repository of each registry, for one run.
#[derive(Debug, Default)]
pub struct Ledger {
    /// (registry API host, digest) → repositories holding it.
    known: Mutex<HashMap<(String, Digest), HashSet<String>>>,
}

impl Ledger {
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

    async fn has_blob(&self, info: &BlobInfo) -> Result<Option<u64>, TransportError> {
        let size = || info.size.and_then(|s| u64::try_from(s).ok());
        match self
            .ledger
            .lookup(&self.host, &self.repository, &info.digest)
        {
            Lookup::Here => {
                if let Some(size) = size() {
                    return Ok(Some(size));
                }
            }
            Lookup::Elsewhere(from) => {
                let from = (self.host.clone(), from);
                if self.inner.mount_blob(info, &from).await? == Mount::Mounted {
                    self.mounted.fetch_add(1, Ordering::Relaxed);
                    self.record(&info.digest);
                    if let Some(size) = size() {
                        return Ok(Some(size));
                    }
                }
            }
            Lookup::Unknown => {}
        }
        let found = self.inner.has_blob(info).await?;
        if found.is_some() {
            self.record(&info.digest);
        }
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
        }
        Ok(mount)
    }

    async fn put_blob(&self, stream: BlobStream, info: &BlobInfo) -> Result<(), TransportError> {
        self.inner.put_blob(stream, info).await?;
        self.record(&info.digest);
        Ok(())
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
}
