//! Signatures kept by the registry itself: sigstore attachments
//! (`sha256-<hex>.sig` manifests) and the registry signature API
//! extension. What to fetch, what a layer means and what to upload are
//! ferry-core's decisions ([`ferry_core::registry::attachments`],
//! [`ferry_core::registry::signatures`]); this module makes the requests.

use ferry_core::Digest;
use ferry_core::media_type as mt;
use ferry_core::registry::attachments::{self, Attachment, MAX_CONFIG_SIZE};
use ferry_core::registry::lookaside::{self as decide, MAX_SIGNATURE_SIZE, Purpose};
use ferry_core::registry::signatures::{self as decide_sigs, MAX_EXTENSION_LIST_SIZE, Storage};
use ferry_core::trust::blob::Sigstore;

use super::Registry;
use super::http::read_body;
use crate::transport::{BlobInfo, ImageDestination, TransportError};

impl Registry {
    /// Where this repository's signatures are kept, for `purpose`.
    pub(super) fn signature_storage(&self, purpose: Purpose) -> Storage {
        let lookaside = self
            .options
            .lookaside
            .base(&self.reference, purpose)
            .is_some_and(|base| {
                purpose == Purpose::Read || decide::location(&base, purpose).is_ok()
            });
        Storage {
            extension: self.supports_signatures,
            lookaside,
            attachments: self
                .options
                .lookaside
                .use_sigstore_attachments(&self.reference),
        }
    }

    fn malformed(&self, reason: impl ToString) -> TransportError {
        TransportError::Malformed {
            location: self.location(),
            reason: reason.to_string(),
        }
    }

    /// A blob of this repository, whole, refused past `limit` bytes.
    async fn small_blob(&self, digest: &Digest, limit: usize) -> Result<Vec<u8>, TransportError> {
        let url = self.url(&format!("blobs/{digest}"));
        let response = self.send("reading a blob", |http| http.get(&url)).await?;
        if !response.status().is_success() {
            return Err(self.failure(&format!("blob {digest}"), response).await);
        }
        read_body(
            response,
            limit,
            &self.location(),
            &format!("reading blob {digest}"),
            |limit| format!("blob {digest} is larger than {limit} bytes"),
        )
        .await
    }

    /// The attachment manifest of `digest`, if there is one.
    async fn attachment(&self, digest: &Digest) -> Result<Option<Attachment>, TransportError> {
        let tag = attachments::tag(digest);
        match self.get_manifest(&tag).await {
            Ok((bytes, media_type, _)) => {
                Attachment::parse(&tag, &bytes, media_type.as_deref().unwrap_or_default())
                    .map(Some)
                    .map_err(|e| self.malformed(e))
            }
            // No attachment yet: containers/image asks the same way and
            // takes "manifest unknown" for none.
            Err(TransportError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The sigstore signatures attached to `digest`, in layer order.
    pub(super) async fn attached_signatures(
        &self,
        digest: &Digest,
    ) -> Result<Vec<Vec<u8>>, TransportError> {
        let Some(attachment) = self.attachment(digest).await? else {
            return Ok(Vec::new());
        };
        let payloads = attachment.payloads().map_err(|e| self.malformed(e))?;
        let mut out = Vec::with_capacity(payloads.len());
        for (layer, payload) in attachment.layers().iter().zip(&payloads) {
            let bytes = self.small_blob(payload, MAX_SIGNATURE_SIZE).await?;
            out.push(attachments::signature(layer, &bytes).map_err(|e| self.malformed(e))?);
        }
        Ok(out)
    }

    /// Adds `signatures` to the attachment of `digest`, making it if
    /// needed.
    pub(super) async fn attach_signatures(
        &self,
        digest: &Digest,
        signatures: &[Sigstore],
    ) -> Result<(), TransportError> {
        let existing = self.attachment(digest).await?;
        let config = match &existing {
            None => None,
            Some(a) => {
                let config = a.config().digest().map_err(|e| {
                    self.malformed(format!("sigstore attachment config digest: {e}"))
                })?;
                Some(self.small_blob(&config, MAX_CONFIG_SIZE).await?)
            }
        };
        let update = attachments::update(existing.as_ref().zip(config.as_deref()), signatures)
            .map_err(|e| self.malformed(e))?;
        for upload in update.uploads {
            let info = BlobInfo {
                digest: upload.digest,
                size: Some(upload.bytes.len() as i64),
                media_type: Some(upload.media_type),
            };
            let stream = Box::pin(std::io::Cursor::new(upload.bytes));
            self.put_blob(stream, &info).await?;
        }
        self.put_manifest_at(
            &attachments::tag(digest),
            mt::OCI_MANIFEST,
            &update.manifest,
        )
        .await
    }

    fn extension_url(&self, digest: &Digest) -> String {
        format!(
            "{}{}",
            self.base,
            decide_sigs::extension_path(self.reference.path(), digest)
        )
    }

    async fn extension_list(
        &self,
        digest: &Digest,
    ) -> Result<Vec<decide_sigs::ExtensionSignature>, TransportError> {
        let url = self.extension_url(digest);
        let response = self
            .send("reading signatures from the registry", |http| {
                http.get(&url)
            })
            .await?;
        if response.status().as_u16() != 200 {
            return Err(self
                .failure(&format!("signatures of {digest}"), response)
                .await);
        }
        let body = read_body(
            response,
            MAX_EXTENSION_LIST_SIZE,
            &self.location(),
            "reading the signature list",
            |limit| format!("the signature list is larger than {limit} bytes"),
        )
        .await?;
        decide_sigs::parse_extension_list(&body).map_err(|e| self.malformed(e))
    }

    /// The simple signatures the registry's signature extension keeps
    /// for `digest`.
    pub(super) async fn extension_signatures(
        &self,
        digest: &Digest,
    ) -> Result<Vec<Vec<u8>>, TransportError> {
        let list = self.extension_list(digest).await?;
        Ok(decide_sigs::extension_signatures(&list))
    }

    /// Adds simple `signatures` of `digest` through the extension.
    pub(super) async fn put_extension_signatures(
        &self,
        digest: &Digest,
        signatures: &[Vec<u8>],
    ) -> Result<(), TransportError> {
        let existing = self.extension_list(digest).await?;
        let mut failed = false;
        let bodies = decide_sigs::extension_writes(&existing, digest, signatures, || {
            let mut bytes = [0u8; 16];
            failed |= getrandom::fill(&mut bytes).is_err();
            bytes
        })
        .map_err(|e| self.malformed(e))?;
        if failed {
            return Err(TransportError::Internal {
                location: self.location(),
                reason: "no random bytes for a signature name".into(),
            });
        }
        let url = self.extension_url(digest);
        for body in bodies {
            let response = self
                .send("writing a signature to the registry", |http| {
                    http.put(&url).body(body.clone())
                })
                .await?;
            if response.status().as_u16() != 201 {
                return Err(self
                    .failure(&format!("uploading a signature of {digest}"), response)
                    .await);
            }
        }
        Ok(())
    }
}
