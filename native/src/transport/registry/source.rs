//! Reading images from a registry; blob downloads resume where a dropped
//! connection left them, and continue from where an earlier copy's broke
//! off.

use async_trait::async_trait;
use ferry_core::Digest;
use ferry_core::registry::lookaside::Purpose;
use ferry_core::registry::signatures::Store;

use super::http::header;
use super::{Registry, lookaside};
use crate::transport::{BlobInfo, BlobStream, ImageSource, TransportError};

#[async_trait]
impl ImageSource for Registry {
    fn reference(&self) -> String {
        self.location()
    }

    async fn manifest(
        &self,
        instance: Option<&Digest>,
    ) -> Result<(Vec<u8>, Option<String>), TransportError> {
        match instance {
            None => {
                let (bytes, media_type, claimed) = self
                    .get_manifest(&self.reference.manifest_reference())
                    .await?;
                self.verify(&bytes, self.reference.digest(), claimed.as_deref())?;
                self.remember_top(&bytes)?;
                Ok((bytes, media_type))
            }
            Some(d) => {
                let (bytes, media_type, _) = self.get_manifest(d.as_str()).await?;
                self.verify(&bytes, Some(d), None)?;
                Ok((bytes, media_type))
            }
        }
    }

    async fn blob(&self, info: &BlobInfo) -> Result<(BlobStream, Option<u64>), TransportError> {
        let url = self.url(&format!("blobs/{}", info.digest));
        let response = self
            .send_bulk("reading a blob", |http| http.get(&url))
            .await?;
        if !response.status().is_success() {
            return Err(self
                .failure(&format!("blob {}", info.digest), response)
                .await);
        }
        // The copy engine compares this with the descriptor's size before
        // it reads a byte.
        let size = response.content_length();
        Ok((self.resuming(response, 0), size))
    }

    async fn blob_from(
        &self,
        info: &BlobInfo,
        offset: u64,
    ) -> Result<Option<BlobStream>, TransportError> {
        let url = self.url(&format!("blobs/{}", info.digest));
        let range = format!("bytes={offset}-");
        let response = self
            .send_bulk("reading the rest of a blob", |http| {
                http.get(&url).header(reqwest::header::RANGE, &range)
            })
            .await?;
        // Only the rest from exactly there will do; a registry that sends
        // the whole blob (200) or another range is not read.
        let starts_there = header(&response, "content-range")
            .is_some_and(|r| r.starts_with(&format!("bytes {offset}-")));
        if response.status().as_u16() != 206 || !starts_there {
            return Ok(None);
        }
        Ok(Some(self.resuming(response, offset)))
    }

    async fn signatures(&self, instance: Option<&Digest>) -> Result<Vec<Vec<u8>>, TransportError> {
        let storage = self.signature_storage(Purpose::Read);
        let simple = storage.simple_store();
        if simple.is_none() && !storage.attachments {
            // Nothing is configured: the registry holds none.
            return Ok(Vec::new());
        }
        let digest = match instance {
            Some(d) => d.clone(),
            None => self.top_digest().await?,
        };
        // The extension's or the lookaside's, then the attachments', as
        // containers/image orders them.
        let mut signatures = match simple {
            Some(Store::Extension) => self.extension_signatures(&digest).await?,
            Some(Store::Lookaside) => {
                match self.options.lookaside.base(&self.reference, Purpose::Read) {
                    Some(base) => lookaside::read(&self.http, &base, &digest).await?,
                    None => Vec::new(),
                }
            }
            None => Vec::new(),
        };
        if storage.attachments {
            signatures.extend(self.attached_signatures(&digest).await?);
        }
        Ok(signatures)
    }

    async fn referrers(
        &self,
        subject: &Digest,
    ) -> Result<Vec<ferry_core::Descriptor>, TransportError> {
        self.list_referrers(subject).await
    }

    async fn tagged_manifest(
        &self,
        tag: &str,
    ) -> Result<Option<(Vec<u8>, Option<String>)>, TransportError> {
        self.manifest_at_tag(tag).await
    }

    fn registry_location(&self) -> Option<(String, String)> {
        Some((
            self.reference.api_host().to_string(),
            self.reference.path().to_string(),
        ))
    }
}

impl Registry {
    /// The body of a blob's `response`, whose first byte is the blob's
    /// byte `from`: a dropped connection resumes with a Range request from
    /// where it broke off, a bounded number of times.
    fn resuming(&self, response: reqwest::Response, from: u64) -> BlobStream {
        let state = Resume {
            http: self.bulk.clone(),
            url: response.url().to_string(),
            // After a redirect to another host (a CDN), credentials stay home.
            authorization: self
                .authorization()
                .filter(|_| response.url().as_str().starts_with(&self.base)),
            response: Some(response),
            received: from,
            resumes_left: self.options.retry_times,
        };
        let stream = futures_util::stream::unfold(state, Resume::next);
        Box::pin(tokio_util::io::StreamReader::new(stream))
    }
}

/// A blob download that picks up where a dropped connection left it.
struct Resume {
    http: reqwest::Client,
    /// The final URL (after redirects), so a resume does not send
    /// credentials anywhere new.
    url: String,
    authorization: Option<String>,
    response: Option<reqwest::Response>,
    received: u64,
    resumes_left: u32,
}

impl Resume {
    async fn next(mut self) -> Option<(Result<bytes::Bytes, std::io::Error>, Self)> {
        loop {
            let response = self.response.as_mut()?;
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    self.received += chunk.len() as u64;
                    return Some((Ok(chunk), self));
                }
                Ok(None) => return None,
                Err(e) if self.resumes_left > 0 => {
                    self.resumes_left -= 1;
                    let mut request = self
                        .http
                        .get(&self.url)
                        .header(reqwest::header::RANGE, format!("bytes={}-", self.received));
                    if let Some(auth) = &self.authorization {
                        request = request.header(reqwest::header::AUTHORIZATION, auth);
                    }
                    match request.send().await {
                        Ok(r) if r.status().as_u16() == 206 => self.response = Some(r),
                        Ok(r) => {
                            self.response = None;
                            let error = std::io::Error::other(format!(
                                "resuming after {e}: the registry answered {} to a range request",
                                r.status()
                            ));
                            return Some((Err(error), self));
                        }
                        Err(again) => {
                            self.response = None;
                            return Some((Err(std::io::Error::other(again)), self));
                        }
                    }
                }
                Err(e) => {
                    self.response = None;
                    return Some((Err(std::io::Error::other(e)), self));
                }
            }
        }
    }
}
