//! Operations on the repository beyond copying, for the CLI: listing
//! tags, deleting a manifest.

use std::sync::Mutex;

use ferry_core::Digest;
use ferry_core::reference::Named;
use ferry_core::registry::response;
use ferry_core::registry::tags::TagPages;

use super::Registry;
use super::http::{header, read_body};
use crate::transport::TransportError;

impl Registry {
    /// A connection to another repository of the same registry that
    /// shares this one's HTTP client and what it has learnt (HTTP or
    /// HTTPS, Basic authentication, tokens): no ping and no first 401. A
    /// mirror run opens one per image, and the ping alone would double
    /// the requests of a re-sync where nothing changed.
    pub fn sibling(&self, reference: &Named, push: bool) -> Result<Registry, TransportError> {
        if reference.api_host() != self.reference.api_host() {
            return Err(TransportError::Internal {
                location: format!("docker://{reference}"),
                reason: format!(
                    "a connection to {} cannot serve another registry",
                    self.reference.api_host()
                ),
            });
        }
        Ok(self.at_reference(reference.clone(), push))
    }

    /// This connection (HTTP client, address, tokens, what the registry
    /// said it supports) for `reference` on the same registry, writing
    /// (`push`) or not. Costs no request.
    pub(super) fn at_reference(&self, reference: Named, push: bool) -> Registry {
        let tokens = self
            .tokens
            .lock()
            .map(|t| t.clone())
            .unwrap_or_else(|_| Default::default());
        let basic = self.basic.lock().map(|b| *b).unwrap_or(false);
        Registry {
            http: self.http.clone(),
            bulk: self.bulk.clone(),
            multiplexed: self.multiplexed,
            base: self.base.clone(),
            top_digest: Mutex::new(reference.digest().cloned()),
            reference,
            options: self.options.clone(),
            push,
            tokens: Mutex::new(tokens),
            basic: Mutex::new(basic),
            extra_scopes: Mutex::new(Vec::new()),
            supports_signatures: self.supports_signatures,
            oci_subject: Mutex::new(None),
            settled: tokio::sync::OnceCell::new(),
            settling: Mutex::new(None),
            authenticating: tokio::sync::Mutex::new(()),
        }
    }

    /// Settles authentication once (`GET /v2/`, answering its challenge),
    /// so that [`sibling`](Self::sibling)s made afterwards send Basic
    /// credentials from their first request. Refused credentials are an
    /// error.
    pub async fn authenticate_now(&self) -> Result<(), TransportError> {
        let url = format!("{}/v2/", self.base);
        let response = self.send("authenticating", |http| http.get(&url)).await?;
        if response.status().is_success() {
            return Ok(());
        }
        Err(self.failure("authenticating", response).await)
    }

    /// The digest of the manifest the reference names, from one HEAD
    /// request; `None` when there is none (or the registry does not say).
    pub async fn manifest_digest(&self) -> Result<Option<Digest>, TransportError> {
        self.manifest_digest_at(&self.reference.manifest_reference())
            .await
    }

    /// [`manifest_digest`](Self::manifest_digest) of the manifest `target`
    /// (a tag or a digest) of the same repository.
    pub async fn manifest_digest_at(&self, target: &str) -> Result<Option<Digest>, TransportError> {
        Ok(self.manifest_head(target).await?.flatten())
    }

    /// Asks for the manifest `target` with HEAD: `None` when the
    /// repository has none by that name, else the digest it says it has
    /// (`None` when it does not say).
    pub(super) async fn manifest_head(
        &self,
        target: &str,
    ) -> Result<Option<Option<Digest>>, TransportError> {
        let url = self.url(&format!("manifests/{target}"));
        let accept = ferry_core::media_type::MANIFEST_TYPES.join(", ");
        let response = self
            .send("checking for the manifest", |http| {
                http.head(&url).header(reqwest::header::ACCEPT, &accept)
            })
            .await?;
        match response.status().as_u16() {
            200..=299 => Ok(Some(
                header(&response, "docker-content-digest").and_then(|d| Digest::parse(&d).ok()),
            )),
            404 => Ok(None),
            _ => Err(self.failure(&format!("manifest {target}"), response).await),
        }
    }

    /// Every tag of the repository, following `Link` pagination
    /// ([`TagPages`] bounds it).
    pub async fn tags(&self) -> Result<Vec<String>, TransportError> {
        let mut tags = Vec::new();
        let first = self.url("tags/list");
        let mut pages = TagPages::new(&first);
        let mut next = Some(first);
        while let Some(url) = next.take() {
            let response = self.send("listing tags", |http| http.get(&url)).await?;
            if !response.status().is_success() {
                return Err(self.failure("the tag list", response).await);
            }
            let link = header(&response, "link");
            let body = read_body(
                response,
                response::MAX_TAG_LIST,
                &self.location(),
                "reading the tag list",
                |limit| format!("a tag list page is larger than {limit} bytes; refused"),
            )
            .await?;
            let value: serde_json::Value =
                serde_json::from_slice(&body).map_err(|e| TransportError::Malformed {
                    location: self.location(),
                    reason: format!("the tag list is not JSON: {e}"),
                })?;
            let before = tags.len();
            if let Some(list) = value["tags"].as_array() {
                tags.extend(list.iter().filter_map(|t| t.as_str().map(str::to_string)));
            }
            next = pages
                .next(tags.len() - before, link.as_deref(), &self.base)
                .map_err(|e| TransportError::Malformed {
                    location: self.location(),
                    reason: e.to_string(),
                })?;
        }
        Ok(tags)
    }

    /// Deletes a manifest by digest (the tag is resolved first when the
    /// reference has no digest).
    pub async fn delete(&self) -> Result<Digest, TransportError> {
        let digest = match self.reference.digest() {
            Some(d) => d.clone(),
            None => {
                let (bytes, _, _) = self
                    .get_manifest(&self.reference.manifest_reference())
                    .await?;
                ferry_core::manifest::digest(&bytes).map_err(|e| TransportError::Malformed {
                    location: self.location(),
                    reason: e.to_string(),
                })?
            }
        };
        let url = self.url(&format!("manifests/{digest}"));
        let response = self
            .send("deleting the manifest", |http| http.delete(&url))
            .await?;
        if !response.status().is_success() {
            return Err(self.failure(&format!("manifest {digest}"), response).await);
        }
        Ok(digest)
    }
}
