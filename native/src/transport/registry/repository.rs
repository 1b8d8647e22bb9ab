//! Operations on the repository beyond copying, for the CLI: listing
//! tags, deleting a manifest.

use ferry_core::Digest;
use ferry_core::registry::response;

use super::Registry;
use super::http::{header, read_body};
use crate::transport::TransportError;

impl Registry {
    /// Every tag of the repository, following `Link` pagination.
    pub async fn tags(&self) -> Result<Vec<String>, TransportError> {
        let mut tags = Vec::new();
        let mut next = Some(self.url("tags/list"));
        let mut pages = 0;
        while let Some(url) = next.take() {
            pages += 1;
            if pages > 10_000 {
                return Err(TransportError::Malformed {
                    location: self.location(),
                    reason: "tag list pagination does not end".into(),
                });
            }
            let response = self.send("listing tags", |http| http.get(&url)).await?;
            if !response.status().is_success() {
                return Err(self.failure("the tag list", response).await);
            }
            next = header(&response, "link")
                .as_deref()
                .and_then(response::next_page)
                .map(|target| self.absolute(target));
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
            if let Some(list) = value["tags"].as_array() {
                tags.extend(list.iter().filter_map(|t| t.as_str().map(str::to_string)));
            }
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
