//! Reading manifests, and the top-level digest that names the image's
//! lookaside signatures.

use ferry_core::Digest;
use ferry_core::manifest::MAX_MANIFEST_SIZE;
use ferry_core::media_type as mt;
use futures_util::TryStreamExt;

use super::Registry;
use super::http::{header, http_error};
use crate::transport::TransportError;

impl Registry {
    pub(super) async fn get_manifest(
        &self,
        reference: &str,
    ) -> Result<(Vec<u8>, Option<String>, Option<String>), TransportError> {
        let url = self.url(&format!("manifests/{reference}"));
        let accept = mt::MANIFEST_TYPES.join(", ");
        let response = self
            .send("reading the manifest", |http| {
                http.get(&url).header(reqwest::header::ACCEPT, &accept)
            })
            .await?;
        if !response.status().is_success() {
            return Err(self
                .failure(&format!("manifest {reference}"), response)
                .await);
        }
        let media_type = header(&response, "content-type").unwrap_or_default();
        let media_type = media_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_string();
        let registry_digest = header(&response, "docker-content-digest");
        if response
            .content_length()
            .is_some_and(|n| n > MAX_MANIFEST_SIZE as u64)
        {
            return Err(TransportError::Malformed {
                location: self.location(),
                reason: format!("manifest {reference} is larger than the 4 MiB limit"),
            });
        }
        let mut bytes = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream
            .try_next()
            .await
            .map_err(|e| http_error("reading the manifest", &self.location(), e))?
        {
            bytes.extend_from_slice(&chunk);
            if bytes.len() > MAX_MANIFEST_SIZE {
                return Err(TransportError::Malformed {
                    location: self.location(),
                    reason: format!("manifest {reference} is larger than the 4 MiB limit"),
                });
            }
        }
        // Registries send JSON types with other labels at times.
        let media_type = Some(media_type).filter(|t| mt::is_manifest_type(t));
        Ok((bytes, media_type, registry_digest))
    }

    pub(super) fn remember_top(&self, bytes: &[u8]) -> Result<Digest, TransportError> {
        let digest =
            ferry_core::manifest::digest(bytes).map_err(|e| TransportError::Malformed {
                location: self.location(),
                reason: e.to_string(),
            })?;
        *self.top_digest.lock().map_err(|_| self.poisoned())? = Some(digest.clone());
        Ok(digest)
    }

    /// The top-level manifest's digest: from the reference, from what was
    /// read or written, else read now.
    pub(super) async fn top_digest(&self) -> Result<Digest, TransportError> {
        if let Some(d) = self.top_digest.lock().map_err(|_| self.poisoned())?.clone() {
            return Ok(d);
        }
        let (bytes, _, claimed) = self
            .get_manifest(&self.reference.manifest_reference())
            .await?;
        self.verify(&bytes, None, claimed.as_deref())?;
        self.remember_top(&bytes)
    }

    pub(super) fn verify(
        &self,
        bytes: &[u8],
        expected: Option<&Digest>,
        claimed: Option<&str>,
    ) -> Result<(), TransportError> {
        let actual =
            ferry_core::manifest::digest(bytes).map_err(|e| TransportError::Malformed {
                location: self.location(),
                reason: e.to_string(),
            })?;
        let expected = match (expected, claimed) {
            (Some(d), _) => d.to_string(),
            (None, Some(c)) => c.to_string(),
            (None, None) => return Ok(()),
        };
        if actual.as_str() != expected {
            return Err(TransportError::DigestMismatch {
                what: format!("manifest from {}", self.location()),
                expected,
                actual: actual.to_string(),
            });
        }
        Ok(())
    }
}
