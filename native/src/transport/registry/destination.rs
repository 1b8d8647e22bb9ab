//! Writing images to a registry: blobs (mounted, or uploaded whole or
//! streamed), manifests, and signatures: sigstore attachments, the
//! signature extension or lookaside staging.

use async_trait::async_trait;
use ferry_core::Digest;
use ferry_core::media_type as mt;
use ferry_core::registry::auth;
use ferry_core::registry::lookaside::{self as decide, Purpose};
use ferry_core::registry::response::{self, Outcome};
use ferry_core::registry::signatures::{self, Refusal};

use super::http::{error_details, header, http_error};
use super::{Registry, lookaside};
use crate::transport::{
    BlobInfo, BlobStream, Capabilities, ImageDestination, Kind, ManifestToStore, Mount,
    TransportError,
};

#[async_trait]
impl ImageDestination for Registry {
    fn reference(&self) -> String {
        self.location()
    }

    fn capabilities(&self) -> Capabilities {
        // Simple signatures through the signature extension or a file://
        // lookaside staging location, sigstore signatures through
        // attachments; otherwise put_signatures says why not.
        let storage = self.signature_storage(Purpose::Write);
        Kind::Docker
            .capabilities()
            .with_signature_storage(storage.simple_store().is_some(), storage.attachments)
    }

    fn writes_instances_side_by_side(&self) -> bool {
        // Each manifest is a PUT of its own digest.
        true
    }

    fn checks_side_by_side(&self) -> Option<usize> {
        // Go's HTTP/2 server, which distribution and most registries run
        // on, takes 250 streams at once: a warm push of 200 layers asks
        // about all of them in one round trip. Past what a registry
        // allows, the HTTP/2 client holds a request until a stream is
        // free; it opens no connection for it.
        self.multiplexed.then_some(256)
    }

    fn reference_digest(&self) -> Option<String> {
        self.reference.digest().map(Digest::to_string)
    }

    fn docker_reference(&self) -> Option<(String, String)> {
        Some((
            self.reference.path().to_string(),
            self.reference.tag().unwrap_or_default().to_string(),
        ))
    }

    async fn has_blob(&self, info: &BlobInfo) -> Result<Option<u64>, TransportError> {
        let url = self.url(&format!("blobs/{}", info.digest));
        let response = self
            .send("checking for a blob", |http| http.head(&url))
            .await?;
        match response.status().as_u16() {
            200..=299 => Ok(Some(
                // distribution always sends the length; without it the
                // descriptor's word is taken (its size is informational).
                // The header, not `content_length()`: reqwest gives a HEAD
                // response's (empty) body length, 0, as Go does not.
                header(&response, "content-length")
                    .and_then(|n| n.parse::<u64>().ok())
                    .or(info.size.and_then(|s| u64::try_from(s).ok()))
                    .unwrap_or_default(),
            )),
            404 => Ok(None),
            _ => Err(self
                .failure(&format!("blob {}", info.digest), response)
                .await),
        }
    }

    async fn named_digest(&self) -> Option<Digest> {
        self.manifest_digest().await.ok().flatten()
    }

    async fn has_manifest(&self, digest: &Digest) -> bool {
        // distribution accepts a manifest only once every blob and
        // manifest it names is in the repository, and keeps them while it
        // is there. Asked by digest, a success says it holds it even
        // without Docker-Content-Digest, which not every registry sends
        // on HEAD; a different digest there is no answer to trust.
        match self.manifest_head(digest.as_ref()).await {
            Ok(Some(said)) => said.is_none_or(|said| said == *digest),
            Ok(None) | Err(_) => false,
        }
    }

    fn registry_location(&self) -> Option<(String, String)> {
        Some((
            self.reference.api_host().to_string(),
            self.reference.path().to_string(),
        ))
    }

    async fn mount_blob(
        &self,
        info: &BlobInfo,
        from: &(String, String),
    ) -> Result<Mount, TransportError> {
        use response::{MountAnswer, mount_answer};
        let (host, repository) = from;
        if host != self.reference.api_host() || *repository == self.reference.path() {
            return Ok(Mount::NotTried);
        }
        // The token must cover pulling from the other repository too.
        let scope = auth::repository_scope(repository, false);
        self.extra_scopes
            .lock()
            .map_err(|_| self.poisoned())?
            .push(scope.clone());
        let url = self.url(&format!(
            "blobs/uploads/?mount={}&from={repository}",
            info.digest
        ));
        // Whatever goes wrong, containers/image uploads the blob instead,
        // and so does ferry; the refusal is reported, not swallowed.
        let refused = |reason: String| -> Result<Mount, TransportError> {
            // A scope the registry would not grant must not spoil the
            // tokens later requests ask for (containers/image asks for it
            // for the mount alone).
            let mut scopes = self.extra_scopes.lock().map_err(|_| self.poisoned())?;
            if let Some(i) = scopes.iter().rposition(|s| *s == scope) {
                scopes.remove(i);
            }
            Ok(Mount::Refused { reason })
        };
        let response = match self.send("mounting a blob", |http| http.post(&url)).await {
            Ok(response) => response,
            Err(e) => return refused(e.to_string()),
        };
        match mount_answer(response.status().as_u16()) {
            MountAnswer::Mounted => Ok(Mount::Mounted),
            MountAnswer::UploadStarted => {
                // Cancel the upload the registry opened; if that fails, the
                // registry lets it lapse.
                if let Some(location) = header(&response, "location") {
                    let location =
                        if location.starts_with("http://") || location.starts_with("https://") {
                            location
                        } else {
                            format!("{}{location}", self.base)
                        };
                    let _ = self
                        .send("cancelling the upload a mount started", |http| {
                            http.delete(&location)
                        })
                        .await;
                }
                refused(format!(
                    "the registry started an upload instead of mounting it from {repository}"
                ))
            }
            MountAnswer::Refused => {
                let error = self
                    .failure(
                        &format!("mounting blob {} from {repository}", info.digest),
                        response,
                    )
                    .await;
                refused(error.to_string())
            }
        }
    }

    async fn put_blob(&self, stream: BlobStream, info: &BlobInfo) -> Result<(), TransportError> {
        let start = self.url("blobs/uploads/");
        let response = self
            .send("starting a blob upload", |http| http.post(&start))
            .await?;
        if response.status().as_u16() != 202 {
            return Err(self
                .failure(&format!("upload of blob {}", info.digest), response)
                .await);
        }
        let location = header(&response, "location").ok_or_else(|| TransportError::Malformed {
            location: self.location(),
            reason: "the registry started an upload without a Location".into(),
        })?;
        let location = if location.starts_with("http://") || location.starts_with("https://") {
            location
        } else {
            format!("{}{location}", self.base)
        };
        let absolute = |l: String| {
            if l.starts_with("http://") || l.starts_with("https://") {
                l
            } else {
                format!("{}{l}", self.base)
            }
        };
        let with_digest = |l: &str| {
            let separator = if l.contains('?') { '&' } else { '?' };
            format!("{l}{separator}digest={}", info.digest)
        };
        // The body streams once, so an upload is retried by the engine,
        // which fetches the blob again, not here.
        // 64 KiB frames: ReaderStream's default 4 KiB made a 142 MiB push
        // 36,000 body frames (benches/RESULTS.md).
        let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::with_capacity(
            stream,
            64 * 1024,
        ));
        // A stated size is what is sent: a wrong one fails the upload.
        let size = info.size.and_then(|s| u64::try_from(s).ok());
        let what = format!("uploading blob {}", info.digest);
        let finish = if let Some(size) = size {
            // A blob of known size, whatever the size: one PUT carries the
            // content and closes the upload (the distribution spec's
            // monolithic upload), two round trips with the POST where a
            // PATCH and a closing PUT take three; across a network that
            // is a round trip per blob (benches/RESULTS-wan.md).
            let mut request = self
                .bulk
                .put(with_digest(&location))
                .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                .header(reqwest::header::CONTENT_LENGTH, size)
                .body(body);
            if let Some(auth) = self.authorization() {
                request = request.header(reqwest::header::AUTHORIZATION, auth);
            }
            request
                .send()
                .await
                .map_err(|e| http_error(&what, &self.location(), e))?
        } else {
            // A blob of unknown size (compressed on the way): stream it in
            // one PATCH, then close the upload with an empty PUT naming the
            // digest.
            let mut request = self
                .bulk
                .patch(&location)
                .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                .body(body);
            if let Some(auth) = self.authorization() {
                request = request.header(reqwest::header::AUTHORIZATION, auth);
            }
            let patched = request
                .send()
                .await
                .map_err(|e| http_error(&what, &self.location(), e))?;
            if patched.status().as_u16() != 202 {
                return Err(self
                    .failure(&format!("upload of blob {}", info.digest), patched)
                    .await);
            }
            let next = header(&patched, "location").map_or(location.clone(), absolute);
            let url = with_digest(&next);
            self.send("completing a blob upload", |http| {
                http.put(&url).header(reqwest::header::CONTENT_LENGTH, 0)
            })
            .await?
        };
        if finish.status().as_u16() != 201 {
            return Err(self
                .failure(&format!("upload of blob {}", info.digest), finish)
                .await);
        }
        Ok(())
    }

    async fn store_manifest(&self, manifest: ManifestToStore<'_>) -> Result<(), TransportError> {
        let target = match manifest.instance {
            Some(d) => d.to_string(),
            None => self.reference.manifest_reference(),
        };
        self.put_manifest_at(&target, manifest.media_type, manifest.bytes)
            .await?;
        if manifest.instance.is_none() {
            self.remember_top(manifest.bytes)?;
        }
        Ok(())
    }

    async fn put_signatures(
        &self,
        signatures: &[Vec<u8>],
        instance: Option<&Digest>,
    ) -> Result<(), TransportError> {
        if signatures.is_empty() {
            return Ok(());
        }
        // Every refusal comes before anything is written or the digest is
        // needed: the engine asks before any blob moves.
        let routed = signatures::route(signatures, self.signature_storage(Purpose::Write))
            .map_err(|refusal| {
                let configured = self.options.lookaside.base(&self.reference, Purpose::Write);
                let reason = match (&refusal, configured) {
                    // A lookaside ferry cannot write to says why.
                    (Refusal::NoStorage, Some(base)) => decide::location(&base, Purpose::Write)
                        .err()
                        .map_or_else(|| refusal.to_string(), |e| e.to_string()),
                    _ => refusal.to_string(),
                };
                TransportError::Unsupported {
                    location: self.location(),
                    reason,
                }
            })?;
        let digest = match instance {
            Some(d) => d.clone(),
            None => self.top_digest().await?,
        };
        // Sigstore signatures first, then the others, as containers/image.
        if !routed.sigstore.is_empty() {
            self.attach_signatures(&digest, &routed.sigstore).await?;
        }
        if routed.simple.is_empty() {
            return Ok(());
        }
        if self.supports_signatures {
            return self.put_extension_signatures(&digest, &routed.simple).await;
        }
        let Some(base) = self.options.lookaside.base(&self.reference, Purpose::Write) else {
            return Ok(());
        };
        lookaside::write(&base, &digest, &routed.simple).await
    }

    async fn commit(&self, _top: &[u8], _media_type: &str) -> Result<(), TransportError> {
        // A registry makes each manifest visible when it is written.
        Ok(())
    }

    async fn referrer_destination(
        &self,
        digest: &Digest,
    ) -> Result<Box<dyn ImageDestination>, TransportError> {
        Ok(Box::new(self.pinned(self.at_digest(digest)?)))
    }

    async fn tagged_destination(
        &self,
        tag: &str,
    ) -> Result<Box<dyn ImageDestination>, TransportError> {
        Ok(Box::new(self.pinned(self.at_tag(tag)?)))
    }

    async fn list_referrer(
        &self,
        subject: &Digest,
        referrer: &ferry_core::Descriptor,
    ) -> Result<(), TransportError> {
        self.record_referrer(subject, referrer).await
    }
}

impl Registry {
    /// Puts a manifest at `target` (a tag or digest).
    pub(super) async fn put_manifest_at(
        &self,
        target: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<(), TransportError> {
        let url = self.url(&format!("manifests/{target}"));
        let body = bytes.to_vec();
        let mut attempt = 0;
        let (status, codes, detail) = loop {
            attempt += 1;
            let response = self
                .send("writing the manifest", |http| {
                    http.put(&url)
                        .header(reqwest::header::CONTENT_TYPE, media_type)
                        .body(body.clone())
                })
                .await?;
            if response.status().is_success() {
                *self.oci_subject.lock().map_err(|_| self.poisoned())? =
                    header(&response, "oci-subject");
                return Ok(());
            }
            let status = response.status().as_u16();
            let (codes, detail) = error_details(response).await;
            if attempt <= self.options.retry_times && response::manifest_write_again(status, &codes)
            {
                tokio::time::sleep(std::time::Duration::from_millis(response::retry_delay_ms(
                    attempt, None,
                )))
                .await;
                continue;
            }
            break (status, codes, detail);
        };
        let detail = detail.join("; ");
        match response::classify(status, &codes) {
            Outcome::ManifestRejected => Err(TransportError::ManifestTypeRejected {
                media_type: media_type.to_string(),
                reason: format!("{} answered {status} ({detail})", self.location()),
            }),
            outcome => {
                let location = self.location();
                let reason = format!(
                    "writing manifest {target}: the registry answered {status} ({detail}){}",
                    // distribution 2.8 refuses schema 1 with a bare 500
                    // unless configured to accept it.
                    if matches!(media_type, mt::DOCKER_V2S1 | mt::DOCKER_V2S1_SIGNED) {
                        format!("; many registries no longer accept {media_type} manifests")
                    } else {
                        String::new()
                    }
                );
                Err(if outcome == Outcome::Unauthorized {
                    TransportError::Unauthorized {
                        location,
                        reason,
                        status,
                    }
                } else {
                    TransportError::Status {
                        location,
                        reason,
                        status,
                        codes,
                    }
                })
            }
        }
    }
}
