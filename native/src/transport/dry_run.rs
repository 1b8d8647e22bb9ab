//! `--dry-run`: a destination that reads what the real one has and
//! writes nothing.

use std::path::PathBuf;

use async_trait::async_trait;
use ferry_core::Digest;

use super::oci;
use super::reference::Reference;
use super::{
    BlobInfo, BlobStream, Capabilities, ImageDestination, Kind, ManifestToStore, TransportError,
};

/// A stand-in destination for `--dry-run`: it declares what the real
/// destination would accept and which blobs it already has, reading only,
/// and refuses every write.
#[derive(Debug)]
pub struct DryRun {
    reference: Reference,
}

impl DryRun {
    pub fn new(reference: &Reference) -> Self {
        DryRun {
            reference: reference.clone(),
        }
    }

    fn blob_path(&self, digest: &Digest) -> PathBuf {
        match &self.reference {
            Reference::Dir(p) => p.join(digest.encoded()),
            Reference::Oci(r) => oci::blob_path(&r.path, digest),
            // An archive is written whole at commit: it has no blob yet.
            Reference::OciArchive(_)
            | Reference::DockerArchive(_)
            | Reference::DockerDaemon(_)
            | Reference::Docker(_)
            | Reference::ContainersStorage(_)
            | Reference::Demo => PathBuf::new(),
        }
    }

    fn refuse(&self) -> TransportError {
        TransportError::Unsupported {
            location: self.reference.to_string(),
            reason: "dry run: nothing is written".into(),
        }
    }
}

#[async_trait]
impl ImageDestination for DryRun {
    fn reference(&self) -> String {
        self.reference.to_string()
    }

    fn capabilities(&self) -> Capabilities {
        // What the real destination would declare, so the plan matches.
        self.reference
            .kind()
            .map(Kind::capabilities)
            .unwrap_or_default()
    }

    async fn has_blob(&self, info: &BlobInfo) -> Result<Option<u64>, TransportError> {
        Ok(tokio::fs::metadata(self.blob_path(&info.digest))
            .await
            .ok()
            .map(|m| m.len()))
    }

    async fn put_blob(&self, _stream: BlobStream, _info: &BlobInfo) -> Result<(), TransportError> {
        Err(self.refuse())
    }

    async fn store_manifest(&self, _manifest: ManifestToStore<'_>) -> Result<(), TransportError> {
        Err(self.refuse())
    }

    async fn put_signatures(
        &self,
        signatures: &[Vec<u8>],
        _i: Option<&Digest>,
    ) -> Result<(), TransportError> {
        if !signatures.is_empty() && !self.capabilities().signatures {
            return Err(TransportError::Unsupported {
                location: self.reference.to_string(),
                reason: "the destination cannot store signatures (use --remove-signatures)".into(),
            });
        }
        Err(self.refuse())
    }

    async fn commit(&self, _top: &[u8], _media_type: &str) -> Result<(), TransportError> {
        Err(self.refuse())
    }
}
