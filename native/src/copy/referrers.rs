//! `--referrers`: after an image is copied, the manifests whose `subject`
//! names it (or any instance of it) are copied with it, by digest and
//! unmodified, and so are their own referrers.
//!
//! Each referrer goes through the same engine ([`super::copy`]) as any
//! image: its source is the image's source read at the referrer's digest
//! ([`Pinned`]), its destination the one the image's destination gives for
//! referrers ([`ImageDestination::referrer_destination`]). Which referrers
//! to follow, and what a listing or a referrer may say, are ferry-core's
//! decisions ([`ferry_core::referrers`]).

use std::sync::Arc;

use async_trait::async_trait;
use ferry_core::Digest;
use ferry_core::destination::Attached;
use ferry_core::plan::CopyOptions;
use ferry_core::referrers::{self, Follow};

use super::{CopyError, Progress, Report, Settings, transport};
use crate::transport::{BlobInfo, BlobStream, ImageDestination, ImageSource, TransportError};

/// A referrer copied, found by a dry run, or listed by `inspect`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReferrerRecord {
    /// The manifest it refers to.
    pub subject: String,
    pub digest: String,
    #[serde(rename = "mediaType")]
    pub media_type: String,
    #[serde(rename = "artifactType", skip_serializing_if = "String::is_empty")]
    pub artifact_type: String,
    pub size: i64,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub annotations: std::collections::BTreeMap<String, String>,
    /// 1 for a referrer of a copied manifest, 2 for a referrer of that…
    pub depth: usize,
}

impl ReferrerRecord {
    fn new(subject: &Digest, descriptor: ferry_core::Descriptor, depth: usize) -> Self {
        ReferrerRecord {
            subject: subject.to_string(),
            digest: descriptor.digest_text,
            media_type: descriptor.media_type,
            artifact_type: descriptor.artifact_type,
            size: descriptor.size,
            annotations: descriptor.annotations,
            depth,
        }
    }
}

/// The referrers of `roots` at `src`, and theirs, as the source lists
/// them (descriptors as listed; manifests are not read), breadth first,
/// within ferry-core's bounds: what `ferry inspect --referrers` shows.
pub async fn find_referrers(
    src: &dyn ImageSource,
    roots: Vec<Digest>,
) -> Result<Vec<ReferrerRecord>, CopyError> {
    let mut follow = Follow::new(roots);
    let mut found = Vec::new();
    while let Some(subject) = follow.next_subject() {
        let listed = src.referrers(&subject).await.map_err(transport(
            format!("listing the referrers of {subject}"),
            src.reference(),
        ))?;
        for entry in follow.listed(&listed).map_err(CopyError::Referrers)? {
            let depth = entry
                .digest()
                .ok()
                .and_then(|d| follow.depth_of(&d))
                .unwrap_or_default();
            found.push(ReferrerRecord::new(&subject, entry, depth));
        }
    }
    Ok(found)
}

/// The referrers of the manifest `top` (of `top_type`) at `src` and, for
/// a list, of each instance, with theirs: what `ferry inspect --referrers`
/// and `ferry serve`'s referrers listing show.
pub async fn manifest_referrers(
    src: &dyn ImageSource,
    top: &[u8],
    top_type: &str,
) -> Result<Vec<ReferrerRecord>, CopyError> {
    let reference = src.reference();
    let digest = |what: String| move |error| CopyError::Digest { what, error };
    let mut roots =
        vec![
            ferry_core::manifest::digest(top).map_err(|error| CopyError::ManifestDigest {
                reference: reference.clone(),
                error,
            })?,
        ];
    if ferry_core::media_type::is_list(top_type) {
        let list = ferry_core::List::from_blob(top, top_type).map_err(|error| {
            CopyError::Plan(Box::new(ferry_core::plan::PlanError::Manifest {
                what: reference.clone(),
                error,
            }))
        })?;
        for entry in &list.entries {
            roots.push(entry.digest().map_err(digest(reference.clone()))?);
        }
    }
    find_referrers(src, roots).await
}

/// The source of an image, read at one of its referrers: the top-level
/// manifest is the referrer's (already read and checked), the rest is the
/// image source's.
struct Pinned {
    inner: Arc<dyn ImageSource>,
    digest: Digest,
    manifest: Vec<u8>,
    /// `None`: not recorded, the engine guesses it.
    media_type: Option<String>,
}

#[async_trait]
impl ImageSource for Pinned {
    fn reference(&self) -> String {
        format!("{} (referrer {})", self.inner.reference(), self.digest)
    }

    async fn manifest(
        &self,
        instance: Option<&Digest>,
    ) -> Result<(Vec<u8>, Option<String>), TransportError> {
        match instance {
            None => Ok((self.manifest.clone(), self.media_type.clone())),
            Some(d) => self.inner.manifest(Some(d)).await,
        }
    }

    async fn blob(&self, info: &BlobInfo) -> Result<(BlobStream, Option<u64>), TransportError> {
        self.inner.blob(info).await
    }

    async fn blob_from(
        &self,
        info: &BlobInfo,
        offset: u64,
    ) -> Result<Option<BlobStream>, TransportError> {
        self.inner.blob_from(info, offset).await
    }

    async fn signatures(&self, instance: Option<&Digest>) -> Result<Vec<Vec<u8>>, TransportError> {
        self.inner
            .signatures(Some(instance.unwrap_or(&self.digest)))
            .await
    }

    fn registry_location(&self) -> Option<(String, String)> {
        self.inner.registry_location()
    }
}

/// Copies what goes with an image (referrers, the images at cosign tags)
/// from the image's source to its destination, each as an image of its
/// own through the copy engine, read at its digest ([`Pinned`]) and
/// unmodified: with the image's options as [`referrers::referrer_options`]
/// makes them, neither checked against a trust policy nor signed. In a dry
/// run, finds what would be copied and writes nothing.
struct AttachedCopy {
    src: Arc<dyn ImageSource>,
    dst: Arc<dyn ImageDestination>,
    options: CopyOptions,
    settings: Settings,
    progress: Arc<dyn Progress>,
}

impl AttachedCopy {
    /// `options` and `settings` are the image's.
    fn new(
        src: Arc<dyn ImageSource>,
        dst: Arc<dyn ImageDestination>,
        options: &CopyOptions,
        settings: &Settings,
        progress: Arc<dyn Progress>,
    ) -> Self {
        AttachedCopy {
            src,
            dst,
            options: referrers::referrer_options(options),
            settings: Settings {
                trust: None,
                signer: None,
                ..settings.clone()
            },
            progress,
        }
    }

    /// Copies the manifest `digest` (already read, as `manifest`, of type
    /// `media_type` if known) and what it names to `writer`.
    async fn copy_pinned(
        &self,
        digest: &Digest,
        manifest: Vec<u8>,
        media_type: Option<String>,
        writer: Arc<dyn ImageDestination>,
    ) -> Result<(), CopyError> {
        let pinned: Arc<dyn ImageSource> = Arc::new(Pinned {
            inner: self.src.clone(),
            digest: digest.clone(),
            manifest,
            media_type,
        });
        super::copy(
            pinned,
            writer,
            &self.options,
            &self.settings,
            self.progress.clone(),
        )
        .await?;
        Ok(())
    }

    /// Copies the referrers of `roots` (the manifests the image's copy
    /// wrote), recursively.
    async fn referrers(&self, roots: Vec<Digest>) -> Result<Vec<ReferrerRecord>, CopyError> {
        let mut follow = Follow::new(roots);
        let mut copied = Vec::new();
        while let Some(subject) = follow.next_subject() {
            let listed = self.src.referrers(&subject).await.map_err(transport(
                format!("listing the referrers of {subject}"),
                self.src.reference(),
            ))?;
            for entry in follow.listed(&listed).map_err(CopyError::Referrers)? {
                let digest = entry.digest().map_err(|error| CopyError::Digest {
                    what: format!("a referrer of {subject}"),
                    error,
                })?;
                let (bytes, media_type) = self.src.manifest(Some(&digest)).await.map_err(
                    transport(format!("reading referrer {digest}"), self.src.reference()),
                )?;
                let media_type = media_type.unwrap_or(entry.media_type.clone());
                let checked = referrers::check(&bytes, Some(&media_type), &subject)
                    .map_err(CopyError::Referrers)?;
                let descriptor = checked.descriptor;
                if !self.settings.dry_run {
                    let writer: Arc<dyn ImageDestination> =
                        Arc::from(self.dst.referrer_destination(&digest).await.map_err(
                            transport(format!("writing referrer {digest}"), self.dst.reference()),
                        )?);
                    self.copy_pinned(
                        &digest,
                        bytes,
                        Some(descriptor.media_type.clone()),
                        writer.clone(),
                    )
                    .await?;
                    writer
                        .list_referrer(&subject, &descriptor)
                        .await
                        .map_err(transport(
                            format!("listing referrer {digest} of {subject}"),
                            self.dst.reference(),
                        ))?;
                }
                let depth = follow.depth_of(&digest).unwrap_or_default();
                copied.push(ReferrerRecord::new(&subject, descriptor, depth));
            }
        }
        Ok(copied)
    }

    /// Copies cosign's tags of each of `roots` (`sha256-<hex>.sig`, `.att`,
    /// `.sbom`) that the source has to the same tags at the destination.
    async fn cosign_tags(&self, roots: Vec<Digest>) -> Result<Vec<CopiedTag>, CopyError> {
        let mut copied = Vec::new();
        for subject in roots {
            for suffix in referrers::COSIGN_SUFFIXES {
                let tag = referrers::cosign_tag(&subject, suffix);
                let Some((bytes, media_type)) = self.src.tagged_manifest(&tag).await.map_err(
                    transport(format!("reading tag {tag}"), self.src.reference()),
                )?
                else {
                    continue;
                };
                let digest = ferry_core::manifest::digest(&bytes).map_err(|e| {
                    CopyError::Internal(format!("the manifest at tag {tag} has no digest: {e}"))
                })?;
                if !self.settings.dry_run {
                    let writer: Arc<dyn ImageDestination> =
                        Arc::from(self.dst.tagged_destination(&tag).await.map_err(transport(
                            format!("writing tag {tag}"),
                            self.dst.reference(),
                        ))?);
                    self.copy_pinned(&digest, bytes, media_type, writer).await?;
                }
                copied.push(CopiedTag {
                    subject: subject.to_string(),
                    tag,
                    digest: digest.to_string(),
                });
            }
        }
        Ok(copied)
    }
}

/// A cosign tag copied (or, in a dry run, found).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CopiedTag {
    /// The manifest whose tag it is.
    pub subject: String,
    pub tag: String,
    /// The digest of the manifest at the tag.
    pub digest: String,
}

/// What went with an image: `None` for what was not asked for.
#[derive(Debug, Clone, Default)]
pub struct AttachedCopied {
    pub referrers: Option<Vec<ReferrerRecord>>,
    pub tags: Option<Vec<CopiedTag>>,
}

/// The manifests a copy wrote or found held (or, in a dry run, would write unchanged):
/// the subjects whose referrers and cosign tags go with the image.
pub fn copied_manifests(report: &Report) -> Result<Vec<Digest>, CopyError> {
    let written: Vec<&str> = if report.dry_run {
        let mut d: Vec<&str> = vec![report.digest.as_str()];
        d.extend(
            report
                .plan
                .manifests
                .iter()
                .filter_map(|m| m.digest.as_deref()),
        );
        d
    } else {
        // Those the destination held already are as much the copy's.
        let mut d: Vec<&str> = report.manifests.iter().map(|m| m.digest.as_str()).collect();
        for held in &report.held {
            if !d.contains(&held.as_str()) {
                d.push(held);
            }
        }
        d
    };
    written
        .into_iter()
        .map(|d| {
            Digest::parse(d).map_err(|error| CopyError::Digest {
                what: format!("copied manifest {d}"),
                error,
            })
        })
        .collect()
}

/// After the copy that `report` describes, copies what `attached` asks
/// for from `src` to `dst`: cosign's tags of every manifest written, then
/// their referrers (`copy --referrers`, `sync --referrers` alike).
pub async fn copy_attached(
    src: Arc<dyn ImageSource>,
    dst: Arc<dyn ImageDestination>,
    report: &Report,
    attached: Attached,
    options: &CopyOptions,
    settings: &Settings,
    progress: Arc<dyn Progress>,
) -> Result<AttachedCopied, CopyError> {
    if !attached.any() {
        return Ok(AttachedCopied::default());
    }
    let roots = copied_manifests(report)?;
    let copy = AttachedCopy::new(src, dst, options, settings, progress);
    let tags = if attached.cosign_tags {
        Some(copy.cosign_tags(roots.clone()).await?)
    } else {
        None
    };
    let referrers = if attached.referrers {
        Some(copy.referrers(roots).await?)
    } else {
        None
    };
    Ok(AttachedCopied { referrers, tags })
}
