//! The copy engine: carries out ferry-core's copy plan.
//!
//! Every decision (what to copy, which manifest types, whether a list may
//! change) comes from `ferry_core::plan`; this module fetches what the plan
//! asks for, moves blobs, converts and writes manifests, and reports
//! progress. It follows the destination contract of
//! [`crate::transport`]: blobs, then manifests, then signatures, then
//! commit.
//!
//! Blobs are scheduled once per copy, however many instances share them,
//! largest first, with bounded concurrency; each streams from source to
//! destination and is verified as the destination writes it. Whether the
//! destination already has a blob is asked inside the blob's own transfer
//! slot, not in a pass before the transfers: against a registry each
//! question is a round trip, and asked one after another they cost more
//! than a warm push's whole work (200 small layers: 0.9 s of waiting).

mod progress;
mod to_schema1;
mod transform;

pub use progress::{BarProgress, Event, JsonProgress, NoProgress, Progress, TextProgress};

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use ferry_core::list::{ConvertOptions, InstanceUpdate, LossKind, Tree};
use ferry_core::manifest::edit::{self, LayerUpdate};
use ferry_core::manifest::{self, Manifest};
use ferry_core::media_type as mt;
use ferry_core::plan::compression::{self, BlobOperation, Desired};
use ferry_core::plan::{
    self, CopiedInstance, CopyOptions, CopyPlan, Destination, ImageContext, ImagePlan,
    ListCandidate, PlanError, Top, TopPlan,
};
use ferry_core::retry::Failure;
use ferry_core::{Digest, DigestError};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::transport::{BlobInfo, ImageDestination, ImageSource, LayerCompression, TransportError};

/// How the engine runs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Blobs in flight at once.
    pub jobs: usize,
    /// Plan and report, write nothing.
    pub dry_run: bool,
    /// Extra attempts for a blob whose transfer broke off or arrived
    /// corrupt (the blob is fetched again from the start).
    pub blob_retries: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            jobs: 6,
            dry_run: false,
            blob_retries: 3,
        }
    }
}

/// Why a copy failed: the step, the reference, and the cause.
#[derive(Debug)]
#[non_exhaustive]
pub enum CopyError {
    /// A transport operation failed.
    Transport {
        step: String,
        reference: String,
        error: Box<TransportError>,
    },
    /// The plan refused the copy.
    Plan(Box<PlanError>),
    /// A digest in a manifest is malformed.
    Digest { what: String, error: DigestError },
    /// Every manifest type the destination might accept was refused.
    ManifestRejected {
        reference: String,
        attempts: Vec<String>,
    },
    /// Converting the list would have to invent platforms.
    ListConversionLosesPlatforms {
        media_type: String,
        entries: Vec<String>,
    },
    /// A manifest the copy wrote has no digest: its signature does not
    /// parse.
    WrittenDigest(manifest::jws::JwsError),
    /// A manifest's layers cannot be updated to the blobs as written.
    EditLayers {
        manifest: String,
        error: edit::EditError,
    },
    /// A manifest cannot be converted to the type the destination takes.
    Convert {
        target: String,
        error: manifest::convert::ConvertError,
    },
    /// A manifest converted to Docker schema 1 cannot be signed.
    Sign(crate::sign::SignError),
    /// A layer's diff ID (for a schema 1 conversion) was not computed.
    DiffId { layer: String, reason: String },
    /// A transformed layer's scratch file cannot be read back.
    Scratch(std::io::Error),
    /// Reading a blob's stream broke off.
    Stream {
        step: String,
        reference: String,
        error: std::io::Error,
    },
    /// A blob transfer task panicked or was cancelled.
    TaskFailed(String),
    /// The engine reached a state its plan rules out: a bug in ferry.
    Internal(String),
}

impl fmt::Display for CopyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CopyError::Transport {
                step,
                reference,
                error,
            } => write!(f, "{step} ({reference}): {error}"),
            CopyError::Plan(e) => write!(f, "planning the copy: {e}"),
            CopyError::Digest { what, error } => write!(f, "{what}: {error}"),
            CopyError::ManifestRejected {
                reference,
                attempts,
            } => write!(
                f,
                "writing the manifest to {reference}: every acceptable type failed: {}",
                attempts.join("; ")
            ),
            CopyError::ListConversionLosesPlatforms {
                media_type,
                entries,
            } => write!(
                f,
                "converting the list to {media_type} would invent platforms for entries without one ({}); keep the list's type",
                entries.join(", ")
            ),
            CopyError::WrittenDigest(e) => write!(f, "digest of a written manifest: {e}"),
            CopyError::EditLayers { manifest, error } => {
                write!(f, "updating the layers of manifest {manifest}: {error}")
            }
            CopyError::Convert { target, error } => write!(f, "converting to {target}: {error}"),
            CopyError::Sign(e) => write!(f, "signing the schema 1 manifest: {e}"),
            CopyError::DiffId { layer, reason } => write!(f, "diff ID of layer {layer}: {reason}"),
            CopyError::Scratch(e) => write!(f, "reopening a transformed layer: {e}"),
            CopyError::Stream {
                step,
                reference,
                error,
            } => write!(f, "{step} ({reference}): {error}"),
            CopyError::TaskFailed(e) => write!(f, "blob transfer task failed: {e}"),
            CopyError::Internal(e) => write!(f, "internal error: {e}"),
        }
    }
}

impl std::error::Error for CopyError {}

impl From<PlanError> for CopyError {
    fn from(e: PlanError) -> Self {
        CopyError::Plan(Box::new(e))
    }
}

/// A manifest the copy wrote.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Written {
    pub role: &'static str,
    pub digest: String,
    #[serde(rename = "mediaType")]
    pub media_type: String,
}

/// What a copy did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    /// The top-level manifest as written (for `--digestfile`).
    #[serde(skip)]
    pub top_manifest: Vec<u8>,
    pub digest: String,
    #[serde(rename = "mediaType")]
    pub media_type: String,
    pub manifests: Vec<Written>,
    #[serde(rename = "blobsCopied")]
    pub blobs_copied: usize,
    #[serde(rename = "blobsSkipped")]
    pub blobs_skipped: usize,
    #[serde(rename = "blobsMounted")]
    pub blobs_mounted: usize,
    /// Bytes fetched again after broken or corrupt transfers.
    #[serde(rename = "bytesRefetched")]
    pub bytes_refetched: u64,
    #[serde(rename = "bytesCopied")]
    pub bytes_copied: u64,
    #[serde(rename = "bytesSkipped")]
    pub bytes_skipped: u64,
    #[serde(rename = "seconds")]
    pub elapsed: f64,
    pub plan: CopyPlan,
    #[serde(rename = "dryRun")]
    pub dry_run: bool,
}

/// One image to copy: the whole image, the chosen instance, or one
/// instance of a list.
struct Job {
    /// The source instance digest, for lists and chosen instances.
    instance: Option<Digest>,
    bytes: Vec<u8>,
    signatures: Vec<Vec<u8>>,
    plan: ImagePlan,
}

/// One blob to move: the source blob and what happens to it.
#[derive(Debug, Clone)]
struct BlobTask {
    info: BlobInfo,
    /// Whose descriptor named it, for errors: "the layer of manifest …".
    what: String,
    operation: BlobOperation,
    /// Ask the destination first and skip the blob if it is there (only
    /// for blobs kept as they are: a changed blob's digest is not known
    /// before the change).
    check: bool,
    /// Compute the layer's diff ID on the way (schema 1 conversions).
    diff_id: bool,
}

fn transport(
    step: impl Into<String>,
    reference: String,
) -> impl FnOnce(TransportError) -> CopyError {
    let step = step.into();
    move |error| CopyError::Transport {
        step,
        reference,
        error: Box::new(error),
    }
}

/// Copies the image at `src` to `dst`.
pub async fn copy(
    src: Arc<dyn ImageSource>,
    dst: Arc<dyn ImageDestination>,
    options: &CopyOptions,
    settings: &Settings,
    progress: Arc<dyn Progress>,
) -> Result<Report, CopyError> {
    let started = Instant::now();
    let (top_bytes, top_type) = src
        .manifest(None)
        .await
        .map_err(transport("reading the manifest", src.reference()))?;
    // ferry-core's convention: an empty type is one the source did not record.
    let top_type = top_type.unwrap_or_default();
    let destination = Destination {
        supported_types: dst.supported_manifest_types(),
        reference_digest: dst.reference_digest(),
        layer_compression: match dst.desired_layer_compression() {
            LayerCompression::Preserve => Desired::Preserve,
            LayerCompression::Compress => Desired::Compress,
            LayerCompression::Decompress => Desired::Decompress,
        },
    };
    let top = Top {
        bytes: &top_bytes,
        media_type: &top_type,
        has_signatures: false,
    };
    // Lists nested in the list are read before planning: a platform choice
    // reaches into them, and they are copied with it.
    let nested = read_nested_lists(&*src, &top, options).await?;
    let mut top_plan = plan::plan_top_nested(
        &top,
        nested.tree.as_ref(),
        &nested.signed(),
        &destination,
        options,
    )?;
    // The top level's own signatures are read only when the copy writes
    // the top level: one instance taken out of a list leaves the list and
    // its signatures behind, and containers/image does not read them then,
    // so a broken signature source for the list cannot fail that copy.
    let top_signatures =
        if options.remove_signatures || matches!(top_plan, TopPlan::Instance { .. }) {
            Vec::new()
        } else {
            src.signatures(None)
                .await
                .map_err(transport("reading signatures", src.reference()))?
        };
    // A signed list may not be changed: plan it again knowing that.
    if !top_signatures.is_empty() && matches!(top_plan, TopPlan::List(_)) {
        let top = Top {
            has_signatures: true,
            ..top
        };
        top_plan = plan::plan_top_nested(
            &top,
            nested.tree.as_ref(),
            &nested.signed(),
            &destination,
            options,
        )?;
    }

    // The images to copy, with their manifests and signatures.
    let mut jobs = Vec::new();
    match &top_plan {
        TopPlan::Image => {
            let plan = plan::plan_image(
                &top_bytes,
                &top_type,
                !top_signatures.is_empty(),
                &destination,
                options,
                ImageContext {
                    list_digest: None,
                    in_list: false,
                },
            )?;
            jobs.push(Job {
                instance: None,
                bytes: top_bytes.clone(),
                signatures: top_signatures.clone(),
                plan,
            });
        }
        TopPlan::Instance {
            list_digest, entry, ..
        } => {
            // The chosen image's entry: in the list itself, or in a list
            // nested in it.
            let position = ferry_core::List::from_blob(&top_bytes, &top.media_type())
                .ok()
                .and_then(|l| {
                    l.entries
                        .iter()
                        .position(|e| e.digest_text == entry.digest_text)
                });
            let what = match position {
                Some(i) => format!("entry {i} of list {list_digest}"),
                None => format!(
                    "the entry of {} in a list nested in list {list_digest}",
                    entry.digest_text
                ),
            };
            let job = fetch_job(
                &*src,
                entry,
                &what,
                &destination,
                options,
                Some(list_digest.as_str()),
                false,
            )
            .await?;
            jobs.push(job);
        }
        TopPlan::List(list_plan) => {
            let list_digest = Digest::sha256_of(&top_bytes);
            for entry in list_plan.instances_to_copy() {
                // Which list names the entry, and where: the top-level
                // list or one nested in it.
                let what = std::iter::once(&**list_plan)
                    .chain(&list_plan.nested)
                    .find_map(|plan| {
                        let i = plan
                            .list
                            .entries
                            .iter()
                            .position(|e| std::ptr::eq(e, entry))?;
                        let digest = if std::ptr::eq(plan, &**list_plan) {
                            list_digest.to_string()
                        } else {
                            plan.digest.clone()
                        };
                        Some(format!("entry {i} of list {digest}"))
                    })
                    .unwrap_or_else(|| format!("the list entry of {}", entry.digest_text));
                jobs.push(fetch_job(&*src, entry, &what, &destination, options, None, true).await?);
            }
        }
    }

    // Signatures the destination cannot store fail the copy before
    // anything is written, as in containers/image; the destination's own
    // refusal names the way out (e.g. a registry's lookaside storage).
    // Only what this copy writes counts: a list's own signatures go with
    // the list, not with one instance taken out of it.
    if !dst.supports_signatures() {
        // Nested lists are written only with their parent.
        let writes_lists = matches!(top_plan, TopPlan::List(_));
        let list_signatures = writes_lists.then_some((&top_signatures, None));
        let nested_signatures = nested
            .signatures
            .iter()
            .filter(|_| writes_lists)
            .map(|(d, s)| (s, Some(d)));
        let signed = list_signatures
            .into_iter()
            .chain(jobs.iter().map(|j| (&j.signatures, j.instance.as_ref())))
            .chain(nested_signatures);
        for (signatures, instance) in signed {
            if !signatures.is_empty() {
                dst.put_signatures(signatures, instance)
                    .await
                    .map_err(transport("writing signatures", dst.reference()))?;
            }
        }
    }

    // The blobs to move, once each.
    let mut tasks: Vec<BlobTask> = Vec::new();
    for job in &jobs {
        for (need, operation) in job.plan.blobs.iter().zip(&job.plan.operations) {
            let wants_diff_id = job.plan.needs_diff_ids && !need.config;
            if let Some(task) = tasks
                .iter_mut()
                .find(|t| t.info.digest.as_str() == need.digest && t.operation == *operation)
            {
                task.diff_id |= wants_diff_id;
                task.check &= !wants_diff_id;
                continue;
            }
            let info = BlobInfo::described(
                parse_digest(
                    &need.digest,
                    &format!("a blob of {}", job.plan.source_digest),
                )?,
                need.size,
                &need.media_type,
            );
            let role = if need.config { "config" } else { "layer" };
            tasks.push(BlobTask {
                what: format!("the {role} of manifest {}", job.plan.source_digest),
                info,
                operation: *operation,
                check: *operation == BlobOperation::Keep && !wants_diff_id,
                diff_id: wants_diff_id,
            });
        }
    }
    let images: Vec<ImagePlan> = jobs.iter().map(|j| j.plan.clone()).collect();
    if settings.dry_run {
        let present = present_blobs(&dst, &tasks, settings.jobs).await?;
        let summary = plan::summarize(&top_plan, &top_bytes, &images, &present);
        return Ok(Report {
            top_manifest: top_bytes.clone(),
            digest: manifest::digest(&top_bytes)
                .map(|d| d.to_string())
                .unwrap_or_default(),
            media_type: top_type,
            manifests: Vec::new(),
            blobs_copied: 0,
            blobs_skipped: present.len(),
            blobs_mounted: 0,
            bytes_refetched: 0,
            bytes_copied: 0,
            bytes_skipped: summary.bytes_skipped.max(0) as u64,
            elapsed: started.elapsed().as_secs_f64(),
            plan: summary,
            dry_run: true,
        });
    }

    // 1. Blobs, largest first, a bounded number at a time.
    let transfer = transfer_blobs(&src, &dst, tasks, settings, &progress).await?;
    let summary = plan::summarize(&top_plan, &top_bytes, &images, &transfer.present);

    // 2. Manifests of the images, then 3. their signatures.
    let in_list = matches!(top_plan, TopPlan::List(_));
    let mut written = Vec::new();
    let mut copied = Vec::new();
    let mut single: Option<(Vec<u8>, String)> = None;
    for job in &jobs {
        let (bytes, media_type) = write_image(&*src, &*dst, job, &transfer, in_list).await?;
        let digest = manifest::digest(&bytes).map_err(CopyError::WrittenDigest)?;
        progress.event(Event::Manifest {
            digest: digest.to_string(),
            media_type: media_type.clone(),
        });
        if in_list {
            put_signatures(&*dst, &job.signatures, Some(&digest)).await?;
        }
        written.push(Written {
            role: if in_list { "instance" } else { "image" },
            digest: digest.to_string(),
            media_type: media_type.clone(),
        });
        if let Some(source) = &job.instance {
            copied.push(CopiedInstance {
                source_digest: source.to_string(),
                written: InstanceUpdate {
                    digest: digest.to_string(),
                    size: bytes.len() as i64,
                    media_type: media_type.clone(),
                },
            });
        }
        if !in_list {
            single = Some((bytes, media_type));
        }
    }

    // Nested lists, each after what it names and before the lists naming it.
    if let TopPlan::List(list_plan) = &top_plan {
        for list in &list_plan.nested {
            let candidates = plan::finish_list(list, &copied, &ConvertOptions::default())?;
            let (bytes, media_type) = write_list(&*dst, candidates, true).await?;
            let digest = Digest::sha256_of(&bytes);
            progress.event(Event::Manifest {
                digest: digest.to_string(),
                media_type: media_type.clone(),
            });
            written.push(Written {
                role: "list",
                digest: digest.to_string(),
                media_type: media_type.clone(),
            });
            put_signatures(&*dst, nested.signatures_of(&list.digest), Some(&digest)).await?;
            copied.push(CopiedInstance {
                source_digest: list.digest.clone(),
                written: InstanceUpdate {
                    digest: digest.to_string(),
                    size: bytes.len() as i64,
                    media_type,
                },
            });
        }
    }

    // The top level: the list, or the single image already written.
    let (top_written, top_written_type, top_sigs) = match &top_plan {
        TopPlan::List(list_plan) => {
            let candidates = plan::finish_list(list_plan, &copied, &ConvertOptions::default())?;
            let (bytes, media_type) = write_list(&*dst, candidates, false).await?;
            let digest = Digest::sha256_of(&bytes);
            progress.event(Event::Manifest {
                digest: digest.to_string(),
                media_type: media_type.clone(),
            });
            written.push(Written {
                role: "list",
                digest: digest.to_string(),
                media_type: media_type.clone(),
            });
            (bytes, media_type, top_signatures)
        }
        _ => {
            let (bytes, media_type) =
                single.ok_or_else(|| CopyError::Internal("no image was written".into()))?;
            let signatures = jobs
                .first()
                .map(|j| j.signatures.clone())
                .unwrap_or_default();
            (bytes, media_type, signatures)
        }
    };
    put_signatures(&*dst, &top_sigs, None).await?;

    // 4. Commit.
    dst.commit(&top_written, &top_written_type)
        .await
        .map_err(transport("committing", dst.reference()))?;
    let digest = manifest::digest(&top_written)
        .map(|d| d.to_string())
        .unwrap_or_else(|_| Digest::sha256_of(&top_written).to_string());
    Ok(Report {
        top_manifest: top_written,
        digest,
        media_type: top_written_type,
        manifests: written,
        blobs_copied: transfer.copied,
        blobs_skipped: transfer.skipped,
        blobs_mounted: transfer.mounted,
        bytes_refetched: transfer.refetched,
        bytes_copied: transfer.bytes_copied,
        bytes_skipped: transfer.bytes_skipped,
        elapsed: started.elapsed().as_secs_f64(),
        plan: summary,
        dry_run: false,
    })
}

fn parse_digest(text: &str, what: &str) -> Result<Digest, CopyError> {
    Digest::parse(text).map_err(|error| CopyError::Digest {
        what: what.to_string(),
        error,
    })
}

/// The lists nested in the top-level list, read as the core asks for
/// them, with their signatures.
struct NestedLists {
    tree: Option<Tree>,
    /// Signatures of the nested lists that have any, by source digest.
    signatures: Vec<(Digest, Vec<Vec<u8>>)>,
}

impl NestedLists {
    fn signed(&self) -> Vec<String> {
        self.signatures.iter().map(|(d, _)| d.to_string()).collect()
    }

    fn signatures_of(&self, digest: &str) -> &[Vec<u8>] {
        self.signatures
            .iter()
            .find(|(d, _)| d.as_str() == digest)
            .map_or(&[], |(_, s)| s.as_slice())
    }
}

/// Reads every nested list the plan will need, one at a time, as the
/// core's tree names them (it verifies each and refuses loops and
/// runaway depth).
async fn read_nested_lists(
    src: &dyn ImageSource,
    top: &Top<'_>,
    options: &CopyOptions,
) -> Result<NestedLists, CopyError> {
    let mut out = NestedLists {
        tree: plan::nested_lists(top, options)?,
        signatures: Vec::new(),
    };
    let Some(tree) = &mut out.tree else {
        return Ok(out);
    };
    while let Some(wanted) = tree.wanted().first().cloned() {
        let digest = parse_digest(&wanted.digest, "a nested list")?;
        let (bytes, media_type) = src.manifest(Some(&digest)).await.map_err(transport(
            format!("reading nested list {digest}"),
            src.reference(),
        ))?;
        tree.provide(&wanted.digest, &bytes, &media_type.unwrap_or_default())
            .map_err(PlanError::Nested)?;
        if !options.remove_signatures {
            let signatures = src.signatures(Some(&digest)).await.map_err(transport(
                format!("reading signatures of {digest}"),
                src.reference(),
            ))?;
            if !signatures.is_empty() {
                out.signatures.push((digest, signatures));
            }
        }
    }
    Ok(out)
}

/// Writes a list, trying the candidate forms in order; a nested list is
/// written as an instance, under its digest.
async fn write_list(
    dst: &dyn ImageDestination,
    candidates: Vec<ListCandidate>,
    nested: bool,
) -> Result<(Vec<u8>, String), CopyError> {
    let mut attempts = Vec::new();
    for candidate in candidates {
        let invented: Vec<String> = candidate
            .losses
            .iter()
            .filter(|l| l.kind == LossKind::Defaulted)
            .map(|l| l.pointer.clone())
            .collect();
        if !invented.is_empty() {
            attempts.push(format!(
                "{}: {}",
                candidate.media_type,
                CopyError::ListConversionLosesPlatforms {
                    media_type: candidate.media_type.clone(),
                    entries: invented,
                }
            ));
            continue;
        }
        let instance = nested.then_some(&candidate.digest);
        match dst
            .put_manifest(&candidate.bytes, &candidate.media_type, instance)
            .await
        {
            Ok(()) => return Ok((candidate.bytes, candidate.media_type)),
            Err(TransportError::ManifestTypeRejected { media_type, reason }) => {
                attempts.push(format!("{media_type}: {reason}"));
            }
            Err(e) => {
                let step = if nested {
                    format!("writing nested list {}", candidate.digest)
                } else {
                    "writing the manifest list".into()
                };
                return Err(transport(step, dst.reference())(e));
            }
        }
    }
    Err(CopyError::ManifestRejected {
        reference: dst.reference(),
        attempts,
    })
}

/// Reads the instance a list entry (`what`, for errors) names, refusing it
/// unless its length is the entry's size, and plans its copy.
async fn fetch_job(
    src: &dyn ImageSource,
    entry: &ferry_core::Descriptor,
    what: &str,
    destination: &Destination,
    options: &CopyOptions,
    list_digest: Option<&str>,
    in_list: bool,
) -> Result<Job, CopyError> {
    let digest = &parse_digest(&entry.digest_text, what)?;
    let step = format!("reading instance {digest}");
    let (bytes, reported) = src
        .manifest(Some(digest))
        .await
        .map_err(transport(step.clone(), src.reference()))?;
    entry.check_size(bytes.len() as u64).map_err(|error| {
        transport(step, src.reference())(TransportError::DescriptorSize {
            what: what.to_string(),
            error,
        })
    })?;
    let media_type = reported.unwrap_or_else(|| entry.media_type.clone());
    let signatures = if options.remove_signatures {
        Vec::new()
    } else {
        src.signatures(Some(digest)).await.map_err(transport(
            format!("reading signatures of {digest}"),
            src.reference(),
        ))?
    };
    let plan = plan::plan_image(
        &bytes,
        &media_type,
        !signatures.is_empty(),
        destination,
        options,
        ImageContext {
            list_digest,
            in_list,
        },
    )?;
    Ok(Job {
        instance: Some(digest.clone()),
        bytes,
        signatures,
        plan,
    })
}

/// Writes one image's manifest, trying the plan's types in order.
async fn write_image(
    src: &dyn ImageSource,
    dst: &dyn ImageDestination,
    job: &Job,
    transfer: &Transfer,
    in_list: bool,
) -> Result<(Vec<u8>, String), CopyError> {
    let changed = &transfer.changed;
    let manifest_error = |error| {
        CopyError::from(PlanError::Manifest {
            what: format!("manifest {}", job.plan.source_digest),
            error,
        })
    };
    let mut parsed =
        Manifest::from_blob(&job.bytes, &job.plan.source_media_type).map_err(manifest_error)?;
    let mut base = job.bytes.clone();
    if job
        .plan
        .operations
        .iter()
        .any(|o| *o != BlobOperation::Keep)
    {
        // Layers changed form in transit: the manifest names the new blobs.
        let updates: Vec<LayerUpdate> = job
            .plan
            .blobs
            .iter()
            .zip(&job.plan.operations)
            .filter(|(b, _)| !b.config)
            .map(|(b, op)| {
                changed
                    .iter()
                    .find(|(d, o, _)| d.as_str() == b.digest && o == op)
                    .map(|(_, _, u)| u.clone())
                    .unwrap_or_else(|| LayerUpdate {
                        digest: b.digest.clone(),
                        size: b.size,
                        media_type: b.media_type.clone(),
                    })
            })
            .collect();
        base = edit::with_layers(&parsed, &updates).map_err(|error| CopyError::EditLayers {
            manifest: job.plan.source_digest.to_string(),
            error,
        })?;
        parsed = Manifest::from_blob(&base, &job.plan.source_media_type).map_err(manifest_error)?;
    }
    let conversion = &job.plan.conversion;
    let mut attempts = Vec::new();
    for target in std::iter::once(&conversion.preferred).chain(&conversion.fallbacks) {
        let bytes = if !conversion.needs_conversion && *target == conversion.preferred {
            base.clone()
        } else if let Manifest::Schema1(schema1) = &parsed
            && matches!(target.as_str(), mt::DOCKER_V2S2 | mt::OCI_MANIFEST)
        {
            match schema1_converted(dst, schema1, transfer, target).await {
                Ok(b) => b,
                Err(CopyError::Plan(e)) => {
                    attempts.push(format!("{target}: {e}"));
                    continue;
                }
                Err(e) => return Err(e),
            }
        } else if !matches!(parsed, Manifest::Schema1(_))
            && matches!(target.as_str(), mt::DOCKER_V2S1 | mt::DOCKER_V2S1_SIGNED)
        {
            let source = Manifest::from_blob(&job.bytes, &job.plan.source_media_type)
                .map_err(manifest_error)?;
            match to_schema1::converted(src, dst, &source, &parsed).await? {
                Ok(b) => b,
                Err(e) => {
                    attempts.push(format!("{target}: {e}"));
                    continue;
                }
            }
        } else {
            match manifest::convert::convert(&parsed, target) {
                Ok(b) => b,
                Err(e) => {
                    attempts.push(format!("{target}: {e}"));
                    continue;
                }
            }
        };
        let digest = manifest::digest(&bytes).unwrap_or_else(|_| Digest::sha256_of(&bytes));
        let instance = in_list.then_some(&digest);
        let media_type = match (&parsed, target.as_str()) {
            (Manifest::Schema1(_), mt::DOCKER_V2S1 | mt::DOCKER_V2S1_SIGNED) => {
                parsed.media_type().to_string()
            }
            // What ferry converts to schema 1 it signs.
            (_, mt::DOCKER_V2S1 | mt::DOCKER_V2S1_SIGNED) => mt::DOCKER_V2S1_SIGNED.to_string(),
            _ => target.clone(),
        };
        match dst.put_manifest(&bytes, &media_type, instance).await {
            Ok(()) => return Ok((bytes, media_type)),
            Err(TransportError::ManifestTypeRejected { media_type, reason }) => {
                attempts.push(format!("{media_type}: {reason}"));
            }
            Err(e) => {
                return Err(transport(
                    format!("writing manifest {digest}"),
                    dst.reference(),
                )(e));
            }
        }
    }
    Err(CopyError::ManifestRejected {
        reference: dst.reference(),
        attempts,
    })
}

#[derive(Debug, Default)]
struct Transfer {
    copied: usize,
    skipped: usize,
    /// Digests of the blobs the destination already had.
    present: Vec<String>,
    bytes_copied: u64,
    bytes_skipped: u64,
    /// Blobs that changed in transit: source digest, operation, new form.
    changed: Vec<(Digest, BlobOperation, LayerUpdate)>,
    /// Layers whose diff IDs were computed: digest, size, diff ID.
    diff_ids: Vec<(Digest, u64, Digest)>,
    /// Blobs mounted from another repository of the same registry.
    mounted: usize,
    /// Bytes fetched again after broken or corrupt transfers.
    refetched: u64,
}

/// How one blob's slot ended: the destination had it, or it was moved.
enum Outcome {
    Present(BlobInfo),
    Moved(Moved),
}

/// What one finished blob transfer produced.
struct Moved {
    size: u64,
    changed: Option<(Digest, BlobOperation, LayerUpdate)>,
    diff_id: Option<(Digest, u64, Digest)>,
    mounted: bool,
    /// Bytes read by earlier, failed attempts.
    refetched: u64,
}

impl Transfer {
    fn record(&mut self, outcome: Outcome) {
        let moved = match outcome {
            Outcome::Present(info) => {
                self.skipped += 1;
                self.bytes_skipped += info.stated_size().max(0) as u64;
                self.present.push(info.digest.to_string());
                return;
            }
            Outcome::Moved(moved) => moved,
        };
        self.refetched += moved.refetched;
        if moved.mounted {
            self.mounted += 1;
            return;
        }
        self.copied += 1;
        self.bytes_copied += moved.size;
        if let Some(change) = moved.changed {
            self.changed.push(change);
        }
        if let Some(diff_id) = moved.diff_id {
            self.diff_ids.push(diff_id);
        }
    }
}

/// Converts a schema 1 image to schema 2 (and on to OCI) with the diff IDs
/// computed while its layers were copied, storing the new config blob.
async fn schema1_converted(
    dst: &dyn ImageDestination,
    schema1: &manifest::Schema1,
    transfer: &Transfer,
    target: &str,
) -> Result<Vec<u8>, CopyError> {
    let mut layers = Vec::new();
    for info in schema1.layer_infos() {
        let found = transfer
            .diff_ids
            .iter()
            .find(|(d, _, _)| d.as_str() == info.descriptor.digest_text)
            .ok_or_else(|| CopyError::DiffId {
                layer: info.descriptor.digest_text.clone(),
                reason: "no diff ID was computed".into(),
            })?;
        layers.push((found.1 as i64, found.2.clone()));
    }
    let (config, manifest_bytes) = schema1.to_schema2(&layers).map_err(|error| {
        CopyError::from(PlanError::Manifest {
            what: "the schema 1 history".into(),
            error,
        })
    })?;
    let config_info = BlobInfo {
        digest: Digest::sha256_of(&config),
        size: Some(config.len() as i64),
        media_type: Some(mt::DOCKER_CONFIG.into()),
    };
    if dst
        .has_blob(&config_info)
        .await
        .map_err(transport("checking for a blob", dst.reference()))?
        .is_none()
    {
        dst.put_blob(Box::pin(std::io::Cursor::new(config)), &config_info)
            .await
            .map_err(transport("writing the converted config", dst.reference()))?;
    }
    if target == mt::DOCKER_V2S2 {
        return Ok(manifest_bytes);
    }
    let schema2 = Manifest::parse(&manifest_bytes).map_err(|error| {
        CopyError::from(PlanError::Manifest {
            what: "the converted manifest".into(),
            error,
        })
    })?;
    manifest::convert::convert(&schema2, target).map_err(|error| CopyError::Convert {
        target: target.to_string(),
        error,
    })
}

async fn transfer_blobs(
    src: &Arc<dyn ImageSource>,
    dst: &Arc<dyn ImageDestination>,
    mut tasks: Vec<BlobTask>,
    settings: &Settings,
    progress: &Arc<dyn Progress>,
) -> Result<Transfer, CopyError> {
    let mut result = Transfer::default();
    let semaphore = Arc::new(Semaphore::new(settings.jobs.max(1)));
    let retries = settings.blob_retries;
    let mut running = JoinSet::new();
    // Largest first: the long transfers start early and finish together.
    tasks.sort_by_key(|t| std::cmp::Reverse(t.info.stated_size()));
    // The first question goes alone: it settles authentication with a
    // registry (a 401 challenge, then credentials or a token), which
    // parallel first requests would each meet unauthenticated.
    if let Some(first) = tasks.iter_mut().find(|t| t.check) {
        first.check = false;
        if is_present(&**dst, &first.info).await? {
            let info = first.info.clone();
            progress.event(Event::Skipped {
                digest: info.digest.to_string(),
                size: info.stated_size(),
            });
            result.record(Outcome::Present(info));
            let digest = first.info.digest.clone();
            tasks.retain(|t| t.info.digest != digest || t.check);
        }
    }
    for task in tasks {
        let permit = semaphore
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| CopyError::Internal(format!("the transfer slots: {e}")))?;
        let (src, dst, progress) = (src.clone(), dst.clone(), progress.clone());
        running.spawn(async move {
            let _permit = permit;
            if task.check && is_present(&*dst, &task.info).await? {
                progress.event(Event::Skipped {
                    digest: task.info.digest.to_string(),
                    size: task.info.stated_size(),
                });
                return Ok(Outcome::Present(task.info));
            }
            copy_blob(&*src, &*dst, &task, &progress, retries)
                .await
                .map(Outcome::Moved)
        });
        // Collect finished transfers as we go, so a failure stops new starts.
        while let Some(done) = running.try_join_next() {
            if let Err(e) = flatten(done).map(|m| result.record(m)) {
                return Err(drain(running, e).await);
            }
        }
    }
    while let Some(done) = running.join_next().await {
        if let Err(e) = flatten(done).map(|m| result.record(m)) {
            return Err(drain(running, e).await);
        }
    }
    Ok(result)
}

fn flatten(
    done: Result<Result<Outcome, CopyError>, tokio::task::JoinError>,
) -> Result<Outcome, CopyError> {
    done.map_err(|e| CopyError::TaskFailed(e.to_string()))?
}

/// After a failure, lets the transfers in flight finish rather than
/// aborting them: each removes its own temporary file when it ends, which
/// an aborted task cannot promise while the file system call it was waiting
/// for completes in the background.
async fn drain(mut running: JoinSet<Result<Outcome, CopyError>>, error: CopyError) -> CopyError {
    while running.join_next().await.is_some() {}
    error
}

/// Whether the destination already has a blob, as it is.
async fn is_present(dst: &dyn ImageDestination, info: &BlobInfo) -> Result<bool, CopyError> {
    Ok(dst
        .has_blob(info)
        .await
        .map_err(transport("checking for a blob", dst.reference()))?
        .is_some())
}

/// The digests of the checkable blobs the destination already has, asked
/// `jobs` at a time (for `--dry-run`, which moves nothing).
async fn present_blobs(
    dst: &Arc<dyn ImageDestination>,
    tasks: &[BlobTask],
    jobs: usize,
) -> Result<Vec<String>, CopyError> {
    use futures_util::StreamExt as _;
    let checks = tasks.iter().filter(|t| t.check).map(|t| async move {
        Ok::<_, CopyError>(
            is_present(&**dst, &t.info)
                .await?
                .then(|| t.info.digest.to_string()),
        )
    });
    let answers: Vec<Result<Option<String>, CopyError>> = futures_util::stream::iter(checks)
        .buffered(jobs.max(1))
        .collect()
        .await;
    let mut present = Vec::new();
    for answer in answers {
        present.extend(answer?);
    }
    Ok(present)
}

/// Whether a failed transfer is worth another attempt, by ferry-core's
/// rule ([`ferry_core::retry::is_transient`]): the connection broke or the
/// bytes were damaged on their way, as opposed to a refusal, malformed
/// input or content stored wrong. `in_transit`: the blob came over the
/// network (only registry sources send it so).
fn retryable(error: &CopyError, in_transit: bool) -> bool {
    match error {
        CopyError::Transport { error, .. } => error.is_transient(in_transit),
        CopyError::Stream { .. } => ferry_core::retry::is_transient(&Failure::Network),
        _ => false,
    }
}

/// Copies a blob, fetching it again from the start when a transfer breaks
/// off or arrives corrupt, up to `retries` more times.
async fn copy_blob(
    src: &dyn ImageSource,
    dst: &dyn ImageDestination,
    task: &BlobTask,
    progress: &Arc<dyn Progress>,
    retries: u32,
) -> Result<Moved, CopyError> {
    let in_transit = src.registry_location().is_some();
    let mut refetched = 0u64;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let read = Arc::new(std::sync::atomic::AtomicU64::new(0));
        match copy_blob_once(src, dst, task, progress, &read).await {
            Ok(mut moved) => {
                moved.refetched = refetched;
                return Ok(moved);
            }
            Err(e) if attempt <= retries && retryable(&e, in_transit) => {
                let wasted = read.load(std::sync::atomic::Ordering::Relaxed);
                refetched += wasted;
                progress.event(Event::Retried {
                    digest: task.info.digest.to_string(),
                    attempt,
                    reason: e.to_string(),
                });
                tokio::time::sleep(std::time::Duration::from_millis(
                    ferry_core::registry::response::retry_delay_ms(attempt, None),
                ))
                .await;
            }
            Err(e) => return Err(e),
        }
    }
}

async fn copy_blob_once(
    src: &dyn ImageSource,
    dst: &dyn ImageDestination,
    task: &BlobTask,
    progress: &Arc<dyn Progress>,
    read: &Arc<std::sync::atomic::AtomicU64>,
) -> Result<Moved, CopyError> {
    let info = &task.info;
    // Same registry, other repository: a mount moves no bytes.
    if task.operation == BlobOperation::Keep
        && !task.diff_id
        && let Some(from) = src.registry_location()
        && dst.mount_blob(info, &from).await.map_err(transport(
            format!("mounting blob {}", info.digest),
            dst.reference(),
        ))?
    {
        progress.event(Event::Mounted {
            digest: info.digest.to_string(),
            size: info.stated_size(),
        });
        return Ok(Moved {
            size: 0,
            changed: None,
            diff_id: None,
            mounted: true,
            refetched: 0,
        });
    }
    let (stream, size) = src.blob(info).await.map_err(transport(
        format!("reading blob {}", info.digest),
        src.reference(),
    ))?;
    // The source knows the blob's length before sending it: one that is
    // not the descriptor's size is refused now, and not fetched again.
    if let Some(size) = size
        && let Err(error) = info.check_size(size)
    {
        return Err(CopyError::Transport {
            step: format!("reading blob {}", info.digest),
            reference: src.reference(),
            error: Box::new(TransportError::DescriptorSize {
                what: task.what.clone(),
                error,
            }),
        });
    }
    progress.event(Event::Started {
        digest: info.digest.to_string(),
        size: info.size.unwrap_or(size.map_or(-1, |s| s as i64)),
    });
    let counted = progress::Counting::with_counter(
        stream,
        info.digest.to_string(),
        progress.clone(),
        read.clone(),
    );
    let bytes = counted.counter();
    if task.operation == BlobOperation::Keep {
        let (stream, slot): (crate::transport::BlobStream, _) = if task.diff_id {
            let (tee, slot) = transform::DiffIdTee::new(Box::pin(counted));
            (Box::pin(tee), Some(slot))
        } else {
            (Box::pin(counted), None)
        };
        dst.put_blob(stream, info).await.map_err(transport(
            format!("writing blob {}", info.digest),
            dst.reference(),
        ))?;
        let total = bytes.load(std::sync::atomic::Ordering::Relaxed);
        progress.event(Event::Done {
            digest: info.digest.to_string(),
            size: total,
        });
        let diff_id = match slot {
            None => None,
            Some(slot) => match slot.lock().ok().and_then(|mut s| s.take()) {
                Some(Ok(d)) => Some((info.digest.clone(), total, d)),
                Some(Err(e)) => {
                    return Err(CopyError::DiffId {
                        layer: info.digest.to_string(),
                        reason: e.to_string(),
                    });
                }
                None => {
                    return Err(CopyError::DiffId {
                        layer: info.digest.to_string(),
                        reason: "the layer was not read to its end".into(),
                    });
                }
            },
        };
        return Ok(Moved {
            size: total,
            changed: None,
            diff_id,
            mounted: false,
            refetched: 0,
        });
    }
    // The layer changes form on the way: verify the source as it is read,
    // then store the new form under its new digest.
    let what = format!("blob {}", info.digest);
    let verified = VerifyingReader::new(Box::pin(counted), info.clone());
    let transformed = transform::transform(Box::pin(verified), task.operation, &what)
        .await
        .map_err(transport(format!("transforming {what}"), src.reference()))?;
    let new_info = BlobInfo {
        digest: transformed.digest.clone(),
        size: Some(transformed.size as i64),
        media_type: Some(
            compression::transformed_media_type(info.media_type_or_empty(), task.operation)
                .to_string(),
        ),
    };
    if dst
        .has_blob(&new_info)
        .await
        .map_err(transport("checking for a blob", dst.reference()))?
        .is_none()
    {
        let file = tokio::fs::File::open(transformed.file.path())
            .await
            .map_err(CopyError::Scratch)?;
        dst.put_blob(Box::pin(file), &new_info)
            .await
            .map_err(transport(
                format!("writing blob {}", new_info.digest),
                dst.reference(),
            ))?;
    }
    progress.event(Event::Done {
        digest: info.digest.to_string(),
        size: bytes.load(std::sync::atomic::Ordering::Relaxed),
    });
    Ok(Moved {
        size: transformed.size,
        diff_id: None,
        mounted: false,
        refetched: 0,
        changed: Some((
            info.digest.clone(),
            task.operation,
            LayerUpdate {
                digest: new_info.digest.to_string(),
                size: new_info.stated_size(),
                media_type: new_info.media_type.unwrap_or_default(),
            },
        )),
    })
}

/// Checks a stream against its digest and size as it is read; the final
/// read fails if they do not match, so a transformed layer is never built
/// from corrupt content.
struct VerifyingReader {
    inner: crate::transport::BlobStream,
    info: BlobInfo,
    hasher: Option<ferry_core::digest::Hasher>,
}

impl VerifyingReader {
    fn new(inner: crate::transport::BlobStream, info: BlobInfo) -> Self {
        let hasher = Some(info.digest.verifier());
        VerifyingReader {
            inner,
            info,
            hasher,
        }
    }
}

impl tokio::io::AsyncRead for VerifyingReader {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        use std::task::Poll;
        let this = self.get_mut();
        let before = buf.filled().len();
        let poll = this.inner.as_mut().poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &poll {
            let read = &buf.filled()[before..];
            if !read.is_empty() {
                if let Some(hasher) = this.hasher.as_mut() {
                    hasher.update(read);
                }
            } else if let Some(hasher) = this.hasher.take() {
                let size = hasher.bytes();
                let digest = hasher.finish();
                let size_ok = this.info.check_size(size).is_ok();
                if digest != this.info.digest || !size_ok {
                    return Poll::Ready(Err(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!(
                            "content of {} has digest {digest} and {size} bytes",
                            this.info.digest
                        ),
                    )));
                }
            }
        }
        poll
    }
}

/// Writes signatures; a destination without signature support is an
/// error only when there are signatures to write.
async fn put_signatures(
    dst: &dyn ImageDestination,
    signatures: &[Vec<u8>],
    instance: Option<&Digest>,
) -> Result<(), CopyError> {
    if signatures.is_empty() {
        return Ok(());
    }
    if !dst.supports_signatures() {
        return Err(CopyError::Transport {
            step: "writing signatures".into(),
            reference: dst.reference(),
            error: Box::new(TransportError::Unsupported {
                location: dst.reference(),
                reason: "the destination cannot store signatures (use --remove-signatures)".into(),
            }),
        });
    }
    dst.put_signatures(signatures, instance)
        .await
        .map_err(transport("writing signatures", dst.reference()))
}
