//! Referrers (OCI distribution 1.1): listing them through the referrers
//! API or, where a registry answers it with 404, through the fallback tag;
//! recording a written referrer in the fallback tag when the registry did
//! not take note of its subject itself (no `OCI-Subject` header). What a
//! listing means and how the fallback index changes are ferry-core's
//! decisions ([`ferry_core::referrers`]); this module makes the requests.

use std::collections::HashSet;

use ferry_core::manifest::{Descriptor, MAX_MANIFEST_SIZE};
use ferry_core::media_type as mt;
use ferry_core::reference::Named;
use ferry_core::referrers::{self, MAX_PAGES, MAX_REFERRERS, ReferrersError};
use ferry_core::registry::response;
use ferry_core::{Digest, ManifestError};

use super::Registry;
use super::http::{header, read_body};
use crate::transport::TransportError;

impl Registry {
    /// This connection (its HTTP client, address and tokens) at another
    /// manifest of the same repository: a referrer's digest or a cosign
    /// tag. Costs no request.
    pub fn pinned(&self, reference: Named) -> Registry {
        self.at_reference(reference, self.push)
    }

    /// This repository's manifest `digest`, as a reference.
    pub(super) fn at_digest(&self, digest: &Digest) -> Result<Named, TransportError> {
        Named::parse(&format!("{}@{digest}", self.reference.name())).map_err(|e| {
            TransportError::InvalidReference {
                reference: format!("{}@{digest}", self.reference.name()),
                reason: e.to_string(),
            }
        })
    }

    /// This repository's `tag`, as a reference.
    pub(super) fn at_tag(&self, tag: &str) -> Result<Named, TransportError> {
        Named::parse(&format!("{}:{tag}", self.reference.name())).map_err(|e| {
            TransportError::InvalidReference {
                reference: format!("{}:{tag}", self.reference.name()),
                reason: e.to_string(),
            }
        })
    }

    /// The manifest at `tag`, if the tag exists.
    pub(super) async fn manifest_at_tag(
        &self,
        tag: &str,
    ) -> Result<Option<(Vec<u8>, Option<String>)>, TransportError> {
        match self.get_manifest(tag).await {
            Ok((bytes, media_type, claimed)) => {
                self.verify(&bytes, None, claimed.as_deref())?;
                Ok(Some((bytes, media_type)))
            }
            Err(TransportError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn referrers_error(&self, error: ReferrersError) -> TransportError {
        TransportError::Malformed {
            location: self.location(),
            reason: error.to_string(),
        }
    }

    /// The referrers of `subject`: every page the referrers API gives, or,
    /// where it answers 404, the fallback tag's index.
    pub(super) async fn list_referrers(
        &self,
        subject: &Digest,
    ) -> Result<Vec<Descriptor>, TransportError> {
        let path = format!("referrers/{subject}");
        let mut url = self.url(&path);
        let mut out: Vec<Descriptor> = Vec::new();
        let mut seen = HashSet::new();
        for page in 1.. {
            if page > MAX_PAGES {
                return Err(self.referrers_error(ReferrersError::TooManyPages {
                    listing: path.clone(),
                }));
            }
            let response = self
                .send("listing referrers", |http| {
                    http.get(&url)
                        .header(reqwest::header::ACCEPT, mt::OCI_INDEX)
                })
                .await?;
            // The spec: a registry with the API never answers 404 here.
            if page == 1 && response.status().as_u16() == 404 {
                return self.fallback_referrers(subject).await;
            }
            if !response.status().is_success() {
                return Err(self
                    .failure(&format!("the referrers of {subject}"), response)
                    .await);
            }
            // A manifest type other than an index is refused; other labels
            // (`application/json`) are read as the index the body must be.
            let media_type = header(&response, "content-type")
                .map(|t| t.split(';').next().unwrap_or_default().trim().to_string())
                .filter(|t| mt::is_manifest_type(t));
            let next = header(&response, "link")
                .as_deref()
                .and_then(response::next_page)
                .map(|target| self.absolute(target));
            let body = read_body(
                response,
                MAX_MANIFEST_SIZE,
                &self.location(),
                "reading the referrers",
                |limit| {
                    format!("the referrers of {subject} are larger than {limit} bytes; refused")
                },
            )
            .await?;
            let entries = referrers::parse_listing(&body, media_type.as_deref(), subject, &path)
                .map_err(|e| self.referrers_error(e))?;
            for entry in entries {
                if seen.insert(entry.digest_text.clone()) {
                    out.push(entry);
                }
            }
            if out.len() > MAX_REFERRERS {
                return Err(self.referrers_error(ReferrersError::TooMany {
                    subject: subject.to_string(),
                    count: out.len(),
                    limit: MAX_REFERRERS,
                }));
            }
            match next {
                // Credentials go with every request: never to another host.
                Some(n) if n.starts_with(&format!("{}/", self.base)) => url = n,
                Some(n) => {
                    return Err(TransportError::Malformed {
                        location: self.location(),
                        reason: format!(
                            "the referrers of {subject} continue at {n:?}, away from the registry; refused"
                        ),
                    });
                }
                None => break,
            }
        }
        Ok(out)
    }

    /// The fallback tag's index of `subject`'s referrers; none when there
    /// is no tag ([`referrers::parse_fallback`] says what it holds).
    async fn fallback_referrers(
        &self,
        subject: &Digest,
    ) -> Result<Vec<Descriptor>, TransportError> {
        match self.get_manifest(&referrers::fallback_tag(subject)).await {
            Ok((bytes, media_type, _)) => {
                referrers::parse_fallback(&bytes, media_type.as_deref(), subject)
                    .map_err(|e| self.referrers_error(e))
            }
            Err(TransportError::NotFound { .. }) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// After this connection wrote the referrer `referrer` of `subject`:
    /// nothing if the registry named the subject back (it has the
    /// referrers API), else the referrer is added to the fallback tag's
    /// index, which is made if there is none.
    pub(super) async fn record_referrer(
        &self,
        subject: &Digest,
        referrer: &Descriptor,
    ) -> Result<(), TransportError> {
        let noted = self
            .oci_subject
            .lock()
            .map_err(|_| self.poisoned())?
            .clone();
        if noted.as_deref() == Some(subject.as_str()) {
            return Ok(());
        }
        let tag = referrers::fallback_tag(subject);
        let existing = match self.get_manifest(&tag).await {
            Ok((bytes, media_type, _)) => {
                // The spec: report a tag that holds anything but an index.
                if media_type.as_deref().is_some_and(|t| t != mt::OCI_INDEX) {
                    return Err(self.referrers_error(ReferrersError::Index {
                        listing: format!("tag {tag}"),
                        error: ManifestError::ManifestNotList {
                            media_type: media_type.unwrap_or_default(),
                        },
                    }));
                }
                Some(bytes)
            }
            Err(TransportError::NotFound { .. }) => None,
            Err(e) => return Err(e),
        };
        let updated = referrers::add_to_index(existing.as_deref(), referrer)
            .map_err(|e| self.referrers_error(e))?;
        match updated {
            Some(bytes) => self.put_manifest_at(&tag, mt::OCI_INDEX, &bytes).await,
            None => Ok(()),
        }
    }
}
