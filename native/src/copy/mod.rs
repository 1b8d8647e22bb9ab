//! The copy engine: performs the I/O of ferry-core's copy machine.
//!
//! Every decision (what to read, what to copy, which manifest type to try
//! next, whether a list may change, what the summary says) is taken by
//! [`ferry_core::copy::Copy`]; this module asks it what it needs
//! ([`Copy::poll`]), does that against the source and destination, and
//! hands the result back ([`Copy::handle`]), reporting progress on the
//! way. The machine follows the destination contract of
//! [`crate::transport`]: blobs, then manifests, then signatures, then
//! commit. A dry run is the same machine, told whether the destination
//! has each blob instead of moving it.
//!
//! Blobs are scheduled once per copy, however many instances share them,
//! largest first, with bounded concurrency; each streams from source to
//! destination and is verified as the destination writes it. Whether the
//! destination already has a blob is asked inside the blob's own transfer
//! slot, not in a pass before the transfers: against a registry each
//! question is a round trip, and asked one after another they cost more
//! than a warm push's whole work (200 small layers: 0.9 s of waiting).

mod cache;
mod progress;
mod referrers;
pub(crate) mod transform;

pub use cache::default_path as default_blob_info_cache;
pub use ferry_core::destination::Attached;
pub use progress::{BarProgress, Event, JsonProgress, NoProgress, Progress, TextProgress};
pub use referrers::{
    AttachedCopied, CopiedTag, ReferrerRecord, copied_manifests, copy_attached, find_referrers,
    manifest_referrers,
};

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use ferry_core::copy::{self as machine, Answer, BlobOutcome, Copy, Mode, Need, Role};
use ferry_core::manifest::edit::LayerUpdate;
use ferry_core::manifest::{self, MAX_MANIFEST_SIZE};
use ferry_core::plan::compression::{self, BlobOperation, Step, Wish};
use ferry_core::plan::{CopyOptions, CopyPlan, PlanError};
use ferry_core::retry::Failure;
use ferry_core::{Digest, DigestError};
use tokio::io::AsyncReadExt as _;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::task::AbortOnDrop;
use crate::transport::{BlobInfo, ImageDestination, ImageSource, TransportError};

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
    /// The policy that judges the source before anything moves (with
    /// [`CopyOptions::judge_signatures`]); `None` for
    /// `--insecure-policy` and for sources no policy judges.
    pub trust: Option<Arc<crate::trust::Trust>>,
    /// What makes new signatures (`--sign-by…`, with
    /// [`CopyOptions::sign`]).
    pub signer: Option<Arc<dyn crate::trust::Sign>>,
    /// The blob info cache file ([`default_blob_info_cache`] for the
    /// CLI's); `None`: none, every layer is compressed.
    pub blob_info_cache: Option<std::path::PathBuf>,
    /// Transfer slots shared with other copies running beside this one
    /// (a sync's images), taken besides one of its own `jobs`: what bounds
    /// a run's memory, connections and disk is its transfers, not how
    /// many images are under way.
    pub shared_transfers: Option<Arc<Semaphore>>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            jobs: 6,
            dry_run: false,
            blob_retries: 3,
            trust: None,
            signer: None,
            blob_info_cache: None,
            shared_transfers: None,
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
    /// A manifest's layers cannot be updated to the blobs as written.
    EditLayers(manifest::edit::EditError),
    /// A manifest cannot be converted to the type the destination takes.
    Convert {
        target: String,
        error: manifest::convert::ConvertError,
    },
    /// A manifest the copy wrote has no digest: its signature does not
    /// parse.
    WrittenDigest(manifest::jws::JwsError),
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
    /// New signatures could not be made.
    Signing { digest: String, error: String },
    /// The signature policy does not allow the source image.
    Refused(Box<crate::trust::Refused>),
    /// A blob transfer task panicked or was cancelled.
    TaskFailed(String),
    /// The engine reached a state its plan rules out: a bug in ferry.
    Internal(String),
    /// Referrers that cannot be followed: a hostile or broken listing, a
    /// referrer that does not name its subject.
    Referrers(ferry_core::referrers::ReferrersError),
    /// A manifest read from the source has no digest: its signature (a
    /// schema 1 JWS) does not parse.
    ManifestDigest {
        reference: String,
        error: manifest::jws::JwsError,
    },
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
            CopyError::EditLayers(e) => write!(f, "updating the manifest's layers: {e}"),
            CopyError::Convert { target, error } => write!(f, "converting to {target}: {error}"),
            CopyError::WrittenDigest(e) => write!(f, "digest of a written manifest: {e}"),
            CopyError::ManifestDigest { reference, error } => {
                write!(f, "digest of the manifest of {reference}: {error}")
            }
            CopyError::Sign(e) => write!(f, "signing the schema 1 manifest: {e}"),
            CopyError::DiffId { layer, reason } => write!(f, "diff ID of layer {layer}: {reason}"),
            CopyError::Scratch(e) => write!(f, "reopening a transformed layer: {e}"),
            CopyError::Stream {
                step,
                reference,
                error,
            } => write!(f, "{step} ({reference}): {error}"),
            CopyError::Refused(e) => e.fmt(f),
            CopyError::Signing { digest, error } => write!(f, "signing {digest}: {error}"),
            CopyError::TaskFailed(e) => write!(f, "blob transfer task failed: {e}"),
            CopyError::Internal(e) => write!(f, "internal error: {e}"),
            CopyError::Referrers(e) => write!(f, "copying referrers: {e}"),
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
pub use ferry_core::copy::Written;

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
    /// The manifests the destination held already, as the copy would
    /// have written them: it wrote none of them but, perhaps, the top
    /// level under its reference ([`Copy::held`]).
    pub held: Vec<String>,
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

/// One blob to move, as the machine names it, with what is known of it.
#[derive(Debug, Clone)]
struct BlobTask {
    /// The machine's task id, for its answer.
    id: usize,
    info: BlobInfo,
    /// Whose descriptor named it, for errors: "the layer of manifest …".
    what: String,
    operation: BlobOperation,
    /// What the destination wants of a layer whose compression may change.
    wish: Option<Wish>,
    /// Ask the destination first and skip the blob if it is there.
    check: bool,
    /// Compute the layer's diff ID on the way (schema 1 conversions).
    diff_id: bool,
}

impl From<machine::BlobTask> for BlobTask {
    fn from(t: machine::BlobTask) -> Self {
        BlobTask {
            id: t.id,
            info: BlobInfo {
                digest: t.digest,
                size: t.size,
                media_type: (!t.media_type.is_empty()).then_some(t.media_type),
            },
            what: t.what,
            operation: t.operation,
            wish: t.wish,
            check: t.check,
            diff_id: t.diff_id,
        }
    }
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

/// What the destination declares, and what its reference `names`, for
/// the machine.
fn destination(dst: &dyn ImageDestination, names: Option<Digest>) -> machine::Destination {
    machine::Destination {
        capabilities: dst.capabilities(),
        reference_digest: dst.reference_digest(),
        docker_reference: dst.docker_reference(),
        names: names.map(|d| d.to_string()),
    }
}

/// The engine's error for the machine's refusal, naming the source or
/// destination it concerns.
fn refused(error: machine::Error, src: &dyn ImageSource, dst: &dyn ImageDestination) -> CopyError {
    match error {
        machine::Error::Plan(e) => CopyError::from(e),
        machine::Error::Digest { what, error } => CopyError::Digest { what, error },
        machine::Error::InstanceSize {
            digest,
            what,
            error,
        } => CopyError::Transport {
            step: format!("reading instance {digest}"),
            reference: src.reference(),
            error: Box::new(TransportError::DescriptorSize { what, error }),
        },
        machine::Error::ManifestRejected { attempts } => CopyError::ManifestRejected {
            reference: dst.reference(),
            attempts,
        },
        machine::Error::SignaturesUnsupported => CopyError::Transport {
            step: "writing signatures".into(),
            reference: dst.reference(),
            error: Box::new(TransportError::Unsupported {
                location: dst.reference(),
                reason: machine::Error::SignaturesUnsupported.to_string(),
            }),
        },
        machine::Error::SigningUnsupported => CopyError::Transport {
            step: "signing".into(),
            reference: dst.reference(),
            error: Box::new(TransportError::Unsupported {
                location: dst.reference(),
                reason: machine::Error::SigningUnsupported.to_string(),
            }),
        },
        machine::Error::MissingDiffId { layer } => CopyError::DiffId {
            layer,
            reason: "no diff ID was computed".into(),
        },
        machine::Error::Edit(e) => CopyError::EditLayers(e),
        machine::Error::Convert { target, error } => CopyError::Convert { target, error },
        machine::Error::WrittenDigest(e) => CopyError::WrittenDigest(e),
        other => CopyError::Internal(other.to_string()),
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
    // What the destination's reference names, asked beside the source's
    // top level when that is a request too, so that it costs no round
    // trip of its own: a destination naming the copy already has nothing
    // to do. Not asked before reading a local source: a cold push would
    // wait for it (the transfers ask whether the destination holds the
    // copy instead, beside the first blob checks).
    let names_asked = src.registry_location().is_some();
    let (top, names) = tokio::join!(src.manifest(None), async {
        match names_asked {
            true => dst.named_digest().await,
            false => None,
        }
    });
    let (top_bytes, top_type) = top.map_err(transport("reading the manifest", src.reference()))?;
    // ferry-core's convention: an empty type is one the source did not record.
    let top_type = top_type.unwrap_or_default();
    dst.source_top(&top_bytes, &top_type);
    let mode = if settings.dry_run {
        Mode::DryRun
    } else {
        Mode::Copy
    };
    let refused = |e| refused(e, &*src, &*dst);
    let mut copy = Copy::new(
        top_bytes.clone(),
        top_type.clone(),
        destination(&*dst, names),
        options.clone(),
        mode,
    )
    .map_err(refused)?;
    // Asked beside the instances' reads: a destination that holds the
    // copy as it is answers for every blob at once.
    let mut early = copy
        .shortcut_ahead()
        .map(|d| Shortcut::ask(&dst, d, !names_asked));
    let mut ahead = ReadAhead::new(settings.jobs);
    let mut writes = WriteAhead::new(settings.jobs, dst.writes_instances_side_by_side());
    loop {
        let answers = match copy.poll() {
            Need::Done => break,
            Need::Instance { digest } => {
                ahead.start(&src, &copy.instances_ahead());
                let (bytes, media_type) = ahead.read(&src, &digest).await?;
                vec![Answer::Manifest {
                    bytes,
                    media_type: media_type.unwrap_or_default(),
                }]
            }
            Need::Unavailable { missing } => {
                // The engine answers every read or fails: not reached.
                return Err(CopyError::Internal(format!(
                    "manifests not read: {}",
                    missing.join(", ")
                )));
            }
            Need::Transfer(tasks) => {
                let tasks = tasks.into_iter().map(BlobTask::from).collect();
                if settings.dry_run {
                    present_blobs(&dst, tasks, settings.jobs).await?
                } else {
                    let shortcut = match (copy.shortcut(), early.take()) {
                        (Some(d), Some(asked)) if asked.digest == *d => Some(asked),
                        (Some(d), _) => Some(Shortcut::ask(&dst, d.clone(), !names_asked)),
                        (None, _) => None,
                    };
                    transfer_blobs(&src, &dst, tasks, shortcut, settings, &progress).await?
                }
            }
            Need::Judge(images) => {
                let trust = settings.trust.as_ref().ok_or_else(|| {
                    CopyError::Internal("the copy asks for a judgement and has no policy".into())
                })?;
                trust
                    .judge(&images)
                    .map_err(|refused| CopyError::Refused(Box::new(refused)))?;
                vec![Answer::Done]
            }
            Need::SignManifest { digest, .. } => {
                let signer = settings.signer.as_ref().ok_or_else(|| {
                    CopyError::Internal("the copy asks for signatures and has no signer".into())
                })?;
                let signatures = signer.sign(&digest).map_err(|error| CopyError::Signing {
                    digest: digest.to_string(),
                    error,
                })?;
                vec![Answer::Signatures(signatures)]
            }
            need @ Need::WriteManifest {
                role: Role::Instance,
                ..
            } if writes.enabled => {
                if writes.is_idle() {
                    writes.start(&dst, copy.writes_ahead());
                }
                vec![writes.write(&dst, need, &progress).await?]
            }
            need => {
                // Whatever follows the instances (their list, the commit)
                // waits for every write started beside them.
                writes.settle().await;
                vec![perform(&*src, &*dst, need, &progress).await?]
            }
        };
        for answer in answers {
            copy.handle(answer).map_err(refused)?;
        }
    }
    let summary = copy.summary().cloned().unwrap_or_else(|| CopyPlan {
        manifests: Vec::new(),
        blobs: Vec::new(),
        bytes_to_copy: 0,
        bytes_skipped: 0,
        sizes_incomplete: false,
        list_entries: Vec::new(),
        registry_requests: 0,
    });
    let tally = copy.tally();
    if settings.dry_run {
        return Ok(Report {
            digest: manifest::digest(&top_bytes)
                .map(|d| d.to_string())
                .unwrap_or_default(),
            top_manifest: top_bytes,
            media_type: top_type,
            manifests: Vec::new(),
            held: Vec::new(),
            blobs_copied: 0,
            blobs_skipped: tally.skipped,
            blobs_mounted: 0,
            bytes_refetched: 0,
            bytes_copied: 0,
            bytes_skipped: summary.bytes_skipped.max(0) as u64,
            elapsed: started.elapsed().as_secs_f64(),
            plan: summary,
            dry_run: true,
        });
    }
    let (top_written, top_written_type) = copy
        .committed()
        .map(|(b, t)| (b.to_vec(), t.to_string()))
        .ok_or_else(|| CopyError::Internal("no image was written".into()))?;
    let digest = manifest::digest(&top_written)
        .map(|d| d.to_string())
        .unwrap_or_else(|_| Digest::sha256_of(&top_written).to_string());
    Ok(Report {
        top_manifest: top_written,
        digest,
        media_type: top_written_type,
        manifests: copy.written().to_vec(),
        held: copy.held().iter().map(Digest::to_string).collect(),
        blobs_copied: tally.copied,
        blobs_skipped: tally.skipped,
        blobs_mounted: tally.mounted,
        bytes_refetched: tally.refetched,
        bytes_copied: tally.bytes_copied,
        bytes_skipped: tally.bytes_skipped,
        elapsed: started.elapsed().as_secs_f64(),
        plan: summary,
        dry_run: false,
    })
}

type ManifestRead = Result<(Vec<u8>, Option<String>), TransportError>;

/// The destination asked whether it holds the machine's shortcut
/// manifest ([`Copy::shortcut`]), and, unless asked before, what its
/// reference names; `held` turns true once it says it holds it.
struct Shortcut {
    digest: Digest,
    held: watch::Receiver<bool>,
    /// `None` when not held; else whether the reference names it.
    asking: AbortOnDrop<Option<bool>>,
}

impl Shortcut {
    fn ask(dst: &Arc<dyn ImageDestination>, digest: Digest, ask_name: bool) -> Self {
        let (flag, held) = watch::channel(false);
        let (dst, asked) = (dst.clone(), digest.clone());
        let asking = AbortOnDrop(tokio::spawn(async move {
            // Both questions go out together, the name's first: over
            // HTTP/1.1 it then takes the connection already open and the
            // other waits for a new one. A reference naming the digest
            // answers both (it cannot name what is not there), so the
            // other answer is not waited for then.
            let names = async {
                match ask_name {
                    true => dst.named_digest().await,
                    false => None,
                }
            };
            let has = dst.has_manifest(&asked);
            tokio::pin!(names, has);
            let (mut named, mut held) = (None, None);
            while named.is_none() || held.is_none() {
                tokio::select! {
                    biased;
                    names = &mut names, if named.is_none() => {
                        if names.as_ref() == Some(&asked) {
                            flag.send_replace(true);
                            return Some(true);
                        }
                        named = Some(false);
                    }
                    has = &mut has, if held.is_none() => {
                        // Held: the blob checks on their way may stop
                        // while the name is still being asked.
                        if has {
                            flag.send_replace(true);
                        }
                        held = Some(has);
                    }
                }
            }
            held.unwrap_or_default().then_some(false)
        }));
        Shortcut {
            digest,
            held,
            asking,
        }
    }

    /// Resolves once the destination has said it holds the manifest;
    /// never when it does not.
    async fn until_held(mut held: watch::Receiver<bool>) {
        if held.wait_for(|h| *h).await.is_err() {
            // Answered "not held" (or never asked): the sender is gone.
            std::future::pending::<()>().await;
        }
    }

    /// `None` when the destination does not hold it, else whether its
    /// reference names it; once it has answered.
    async fn answer(mut self) -> Option<bool> {
        (&mut self.asking.0).await.ok().flatten()
    }
}

/// The instance manifests of a list, read side by side: when the machine
/// asks for the first, the others it will ask for
/// ([`Copy::instances_ahead`]) start too, `jobs` × [`CHECKS_PER_JOB`] at a
/// time, and each is answered from its read when asked. Against a
/// registry that is one round trip for a whole list instead of one per
/// instance. Reads never asked for (the copy failed first) are abandoned.
struct ReadAhead {
    reads: Vec<(Digest, tokio::task::JoinHandle<ManifestRead>)>,
    slots: Arc<Semaphore>,
}

impl ReadAhead {
    fn new(jobs: usize) -> Self {
        ReadAhead {
            reads: Vec::new(),
            slots: Arc::new(Semaphore::new(jobs.max(1) * CHECKS_PER_JOB)),
        }
    }

    /// Starts reading each of `digests` not already on its way.
    fn start(&mut self, src: &Arc<dyn ImageSource>, digests: &[Digest]) {
        for digest in digests {
            if self.reads.iter().any(|(d, _)| d == digest) {
                continue;
            }
            let (src, slots, wanted) = (src.clone(), self.slots.clone(), digest.clone());
            let read = tokio::spawn(async move {
                // Never closed: the semaphore lives as long as its reads.
                let _slot = slots.acquire_owned().await;
                src.manifest(Some(&wanted)).await
            });
            self.reads.push((digest.clone(), read));
        }
    }

    /// The manifest `digest`: from its read ahead, or read now.
    async fn read(
        &mut self,
        src: &Arc<dyn ImageSource>,
        digest: &Digest,
    ) -> Result<(Vec<u8>, Option<String>), CopyError> {
        let read = match self.reads.iter().position(|(d, _)| d == digest) {
            Some(i) => {
                let (_, read) = self.reads.swap_remove(i);
                read.await
                    .map_err(|e| CopyError::TaskFailed(format!("reading instance {digest}: {e}")))?
            }
            None => src.manifest(Some(digest)).await,
        };
        read.map_err(transport(
            format!("reading instance {digest}"),
            src.reference(),
        ))
    }
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        for (_, read) in &self.reads {
            read.abort();
        }
    }
}

type ManifestWrite = Result<(), TransportError>;

/// A list's instance manifests, written side by side: when the machine
/// asks for the first, the others it will ask for ([`Copy::writes_ahead`])
/// start too, `jobs` × [`CHECKS_PER_JOB`] at a time, and each is answered
/// from its write when asked, so the list is still written only once all
/// of them are. Against a registry that is one round trip for a list's
/// instances instead of one each. Only for destinations that take them
/// side by side ([`ImageDestination::writes_instances_side_by_side`]).
struct WriteAhead {
    enabled: bool,
    writes: Vec<(Need, tokio::task::JoinHandle<ManifestWrite>)>,
    slots: Arc<Semaphore>,
}

impl WriteAhead {
    fn new(jobs: usize, enabled: bool) -> Self {
        WriteAhead {
            enabled,
            writes: Vec::new(),
            slots: Arc::new(Semaphore::new(jobs.max(1) * CHECKS_PER_JOB)),
        }
    }

    /// Whether no write started ahead is waiting to be asked for.
    fn is_idle(&self) -> bool {
        self.writes.is_empty()
    }

    /// Starts each of `needs` (manifest writes) not already on its way.
    fn start(&mut self, dst: &Arc<dyn ImageDestination>, needs: Vec<Need>) {
        for need in needs {
            let Need::WriteManifest {
                bytes,
                media_type,
                instance,
                ..
            } = &need
            else {
                continue;
            };
            if self.writes.iter().any(|(n, _)| *n == need) {
                continue;
            }
            let (dst, slots) = (dst.clone(), self.slots.clone());
            let (bytes, media_type, instance) =
                (bytes.clone(), media_type.clone(), instance.clone());
            let write = tokio::spawn(async move {
                // Never closed: the semaphore lives as long as its writes.
                let _slot = slots.acquire_owned().await;
                dst.put_manifest(&bytes, &media_type, instance.as_ref())
                    .await
            });
            self.writes.push((need, write));
        }
    }

    /// Answers `need` (a manifest write): from its write ahead, or written
    /// now.
    async fn write(
        &mut self,
        dst: &Arc<dyn ImageDestination>,
        need: Need,
        progress: &Arc<dyn Progress>,
    ) -> Result<Answer, CopyError> {
        let Need::WriteManifest {
            bytes,
            media_type,
            digest,
            instance,
            role,
        } = need.clone()
        else {
            return Err(CopyError::Internal("not a manifest write".into()));
        };
        let result = match self.writes.iter().position(|(n, _)| *n == need) {
            Some(i) => {
                let (_, write) = self.writes.swap_remove(i);
                write
                    .await
                    .map_err(|e| CopyError::TaskFailed(format!("writing manifest {digest}: {e}")))?
            }
            None => {
                dst.put_manifest(&bytes, &media_type, instance.as_ref())
                    .await
            }
        };
        manifest_written(&**dst, result, digest, media_type, role, progress)
    }

    /// Waits for every write still on its way (none is, unless the copy
    /// asked for something else than it named ahead).
    async fn settle(&mut self) {
        for (_, write) in self.writes.drain(..) {
            let _ = write.await;
        }
    }
}

impl Drop for WriteAhead {
    fn drop(&mut self) {
        for (_, write) in &self.writes {
            write.abort();
        }
    }
}

/// The answer to a manifest write that ended with `result`.
fn manifest_written(
    dst: &dyn ImageDestination,
    result: ManifestWrite,
    digest: Digest,
    media_type: String,
    role: Role,
    progress: &Arc<dyn Progress>,
) -> Result<Answer, CopyError> {
    match result {
        Ok(()) => {
            progress.event(Event::Manifest {
                digest: digest.to_string(),
                media_type,
            });
            Ok(Answer::Written)
        }
        Err(TransportError::ManifestTypeRejected { media_type, reason }) => {
            Ok(Answer::Rejected { media_type, reason })
        }
        Err(e) => {
            let step = match role {
                Role::Image | Role::Instance => format!("writing manifest {digest}"),
                Role::NestedList => format!("writing nested list {digest}"),
                Role::List => "writing the manifest list".into(),
            };
            Err(transport(step, dst.reference())(e))
        }
    }
}

/// Performs one need other than the transfers, and answers it.
async fn perform(
    src: &dyn ImageSource,
    dst: &dyn ImageDestination,
    need: Need,
    progress: &Arc<dyn Progress>,
) -> Result<Answer, CopyError> {
    Ok(match need {
        Need::NestedList { digest } => {
            let (bytes, media_type) = src.manifest(Some(&digest)).await.map_err(transport(
                format!("reading nested list {digest}"),
                src.reference(),
            ))?;
            Answer::Manifest {
                bytes,
                media_type: media_type.unwrap_or_default(),
            }
        }
        Need::Signatures { instance } => {
            let step = match &instance {
                None => "reading signatures".to_string(),
                Some(d) => format!("reading signatures of {d}"),
            };
            Answer::Signatures(
                src.signatures(instance.as_ref())
                    .await
                    .map_err(transport(step, src.reference()))?,
            )
        }
        Need::RefuseSignatures {
            signatures,
            instance,
        }
        | Need::WriteSignatures {
            signatures,
            instance,
        } => {
            dst.put_signatures(&signatures, instance.as_ref())
                .await
                .map_err(transport("writing signatures", dst.reference()))?;
            Answer::Done
        }
        Need::Config {
            digest,
            size,
            media_type,
        } => {
            Answer::Config(read_config(src, BlobInfo::described(digest, size, &media_type)).await?)
        }
        Need::PutBlob {
            digest,
            media_type,
            bytes,
            what,
        } => {
            let info = BlobInfo {
                digest,
                size: Some(bytes.len() as i64),
                media_type: (!media_type.is_empty()).then_some(media_type),
            };
            if dst
                .has_blob(&info)
                .await
                .map_err(transport("checking for a blob", dst.reference()))?
                .is_none()
            {
                dst.put_blob(Box::pin(std::io::Cursor::new(bytes)), &info)
                    .await
                    .map_err(transport(format!("writing {what}"), dst.reference()))?;
            }
            Answer::Done
        }
        Need::Sign { unsigned } => {
            Answer::Signed(crate::sign::sign_schema1(&unsigned).map_err(CopyError::Sign)?)
        }
        Need::WriteManifest {
            bytes,
            media_type,
            digest,
            instance,
            role,
        } => {
            let result = dst
                .put_manifest(&bytes, &media_type, instance.as_ref())
                .await;
            manifest_written(dst, result, digest, media_type, role, progress)?
        }
        Need::Commit { bytes, media_type } => {
            dst.commit(&bytes, &media_type)
                .await
                .map_err(transport("committing", dst.reference()))?;
            Answer::Done
        }
        Need::Transfer(_)
        | Need::Instance { .. }
        | Need::Judge(_)
        | Need::SignManifest { .. }
        | Need::Unavailable { .. }
        | Need::Done => {
            unreachable!("handled by the caller")
        }
    })
}

/// The config blob, read whole from the source (configs are small; one
/// past the manifest size limit is cut off, and then fails its digest).
async fn read_config(src: &dyn ImageSource, info: BlobInfo) -> Result<Vec<u8>, CopyError> {
    let step = format!("reading config {}", info.digest);
    let (stream, _) = src
        .blob(&info)
        .await
        .map_err(transport(step.clone(), src.reference()))?;
    let mut bytes = Vec::new();
    stream
        .take(MAX_MANIFEST_SIZE as u64 + 1)
        .read_to_end(&mut bytes)
        .await
        .map_err(|error| CopyError::Stream {
            step,
            reference: src.reference(),
            error,
        })?;
    Ok(bytes)
}

/// How many existence checks may be in flight per transfer slot. A check
/// is a HEAD with no body, so it is not a transfer: `--jobs` bounds the
/// transfers, and the checks of a whole image go out this many times
/// wider, so that against a distant registry a warm push of 200 blobs
/// costs a few round trips rather than 200 / `--jobs` (benches/RESULTS.md).
const CHECKS_PER_JOB: usize = 4;

async fn transfer_blobs(
    src: &Arc<dyn ImageSource>,
    dst: &Arc<dyn ImageDestination>,
    mut tasks: Vec<BlobTask>,
    shortcut: Option<Shortcut>,
    settings: &Settings,
    progress: &Arc<dyn Progress>,
) -> Result<Vec<Answer>, CopyError> {
    let mut result = Vec::new();
    // When the destination holds the shortcut's manifest, the tasks not
    // yet started are present without asking, the checks on their way are
    // abandoned (their answers no longer matter: waiting for them cost an
    // unchanged push from a layout a round trip, benches/RESULTS-wan.md),
    // and the transfers started finish as they are.
    let held = shortcut
        .as_ref()
        .map_or_else(|| watch::channel(false).1, |s| s.held.clone());
    let jobs = settings.jobs.max(1);
    let transfers = Arc::new(Semaphore::new(jobs));
    let checks = Arc::new(Semaphore::new(
        dst.checks_side_by_side()
            .unwrap_or_default()
            .max(jobs * CHECKS_PER_JOB),
    ));
    let retries = settings.blob_retries;
    let cache = settings.blob_info_cache.clone();
    let mut running = JoinSet::new();
    // Set on the first failure: blobs checked but not yet started then
    // never start (the checks run ahead of the transfers).
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Largest first: the long transfers start early and finish together.
    tasks.sort_by_key(|t| std::cmp::Reverse(t.info.stated_size()));
    // The checks go out side by side from the first one: a registry
    // destination settles its authentication when it is opened (its
    // token is fetched then), so they do not each meet a 401.
    let closed =
        |e: tokio::sync::AcquireError| CopyError::Internal(format!("the transfer slots: {e}"));
    for task in tasks {
        // A blob to ask about takes a check slot, and a transfer slot only
        // once the answer is that it must move; the slots hand out in
        // order, so transfers still start largest first.
        let slots = if task.check { &checks } else { &transfers };
        let permit = slots.clone().acquire_owned().await.map_err(closed)?;
        let (src, dst, progress) = (src.clone(), dst.clone(), progress.clone());
        let (transfers, stopped) = (transfers.clone(), stop.clone());
        let (cache, shared) = (cache.clone(), settings.shared_transfers.clone());
        let held = held.clone();
        running.spawn(async move {
            let present = || {
                progress.event(Event::Skipped {
                    digest: task.info.digest.to_string(),
                    size: task.info.stated_size(),
                });
                Ok(Answer::Blob {
                    id: task.id,
                    outcome: BlobOutcome::Present,
                })
            };
            let is_held = || *held.borrow();
            let mut permit = permit;
            if task.check {
                let found = tokio::select! {
                    biased;
                    () = Shortcut::until_held(held.clone()) => true,
                    found = is_present(&*dst, &task.info) => found?,
                };
                if found {
                    return present();
                }
                drop(permit);
                permit = transfers.acquire_owned().await.map_err(closed)?;
                if stopped.load(std::sync::atomic::Ordering::Relaxed) {
                    return Err(CopyError::Internal("stopped after a failure".into()));
                }
            }
            if is_held() {
                return present();
            }
            let _permit = permit;
            // The run's slot is taken last: a copy's own slots are handed
            // out in its order (largest first), and no task holding a
            // run's slot ever waits for a copy's.
            let _shared = match shared {
                Some(shared) => Some(shared.acquire_owned().await.map_err(closed)?),
                None => None,
            };
            let outcome =
                copy_blob(&*src, &*dst, &task, &progress, retries, cache.as_deref()).await?;
            Ok(Answer::Blob {
                id: task.id,
                outcome,
            })
        });
        // Collect finished transfers as we go, so a failure stops new starts.
        while let Some(done) = running.try_join_next() {
            if let Err(e) = flatten(done).map(|a| result.push(a)) {
                stop.store(true, std::sync::atomic::Ordering::Relaxed);
                return Err(drain(running, e).await);
            }
        }
    }
    while let Some(done) = running.join_next().await {
        if let Err(e) = flatten(done).map(|a| result.push(a)) {
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            return Err(drain(running, e).await);
        }
    }
    let found = match shortcut {
        Some(shortcut) => shortcut.answer().await,
        None => None,
    };
    if let Some(tagged) = found {
        // Before the blobs' answers: the machine takes them knowing.
        result.insert(0, Answer::Held { tagged });
    }
    Ok(result)
}

fn flatten(
    done: Result<Result<Answer, CopyError>, tokio::task::JoinError>,
) -> Result<Answer, CopyError> {
    done.map_err(|e| CopyError::TaskFailed(e.to_string()))?
}

/// After a failure, lets the transfers in flight finish rather than
/// aborting them: each removes its own temporary file when it ends, which
/// an aborted task cannot promise while the file system call it was waiting
/// for completes in the background.
async fn drain(mut running: JoinSet<Result<Answer, CopyError>>, error: CopyError) -> CopyError {
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

/// For `--dry-run`, which moves nothing: whether the destination has each
/// checkable blob, asked `jobs` at a time; the others would move.
async fn present_blobs(
    dst: &Arc<dyn ImageDestination>,
    tasks: Vec<BlobTask>,
    jobs: usize,
) -> Result<Vec<Answer>, CopyError> {
    use futures_util::StreamExt as _;
    let checks = tasks.into_iter().map(|t| async move {
        let present = t.check && is_present(&**dst, &t.info).await?;
        Ok::<_, CopyError>(Answer::Blob {
            id: t.id,
            outcome: if present {
                BlobOutcome::Present
            } else {
                BlobOutcome::Absent
            },
        })
    });
    futures_util::stream::iter(checks)
        .buffered(jobs.max(1))
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect()
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
    cache: Option<&std::path::Path>,
) -> Result<BlobOutcome, CopyError> {
    let in_transit = src.registry_location().is_some();
    let mut refetched = 0u64;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let read = Arc::new(std::sync::atomic::AtomicU64::new(0));
        match copy_blob_once(src, dst, task, progress, &read, cache).await {
            Ok(Moved::Mounted) => return Ok(BlobOutcome::Mounted { refetched }),
            Ok(Moved::Reused { changed, mounted }) => {
                return Ok(BlobOutcome::Reused { changed, mounted });
            }
            Ok(Moved::Copied {
                size,
                changed,
                diff_id,
            }) => {
                return Ok(BlobOutcome::Copied {
                    size,
                    refetched,
                    changed,
                    diff_id,
                });
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

/// A blob's bytes from the source, and its length if known: whole, or,
/// when the destination kept the first part of an earlier copy's download
/// that broke off ([`ImageDestination::kept_part`]), that part followed by
/// the rest from the source, so that only the rest crosses the network.
/// Either way the stream is the whole blob, verified as one where it is
/// written. A source that cannot start mid-way is read whole, and the
/// kept part is dropped.
async fn open_blob(
    src: &dyn ImageSource,
    dst: &dyn ImageDestination,
    info: &BlobInfo,
) -> Result<(crate::transport::BlobStream, Option<u64>), CopyError> {
    let reading = || transport(format!("reading blob {}", info.digest), src.reference());
    let size = info.size.and_then(|s| u64::try_from(s).ok());
    if let Some((kept, offset)) = dst.kept_part(info).await
        && size.is_none_or(|size| offset < size)
        && let Some(rest) = src.blob_from(info, offset).await.map_err(reading())?
    {
        let whole = tokio::io::AsyncReadExt::chain(kept, rest);
        return Ok((Box::pin(whole), size));
    }
    src.blob(info).await.map_err(reading())
}

/// What one attempt at a blob did.
enum Moved {
    /// Made available from another repository of the same registry.
    Mounted,
    /// The blob info cache named the layer's new form, and the destination
    /// has it (or mounted it): nothing compressed.
    Reused { changed: LayerUpdate, mounted: bool },
    Copied {
        size: u64,
        changed: Option<LayerUpdate>,
        diff_id: Option<Digest>,
    },
}

async fn copy_blob_once(
    src: &dyn ImageSource,
    dst: &dyn ImageDestination,
    task: &BlobTask,
    progress: &Arc<dyn Progress>,
    read: &Arc<std::sync::atomic::AtomicU64>,
    cache: Option<&std::path::Path>,
) -> Result<Moved, CopyError> {
    let info = &task.info;
    // Same registry, other repository: a mount moves no bytes. A refused
    // one is reported, and the blob is copied instead.
    if task.operation == BlobOperation::Keep
        && !task.diff_id
        && !task.wish.is_some_and(|w| w.force)
        && let Some(from) = src.registry_location()
    {
        let mount = dst.mount_blob(info, &from).await.map_err(transport(
            format!("mounting blob {}", info.digest),
            dst.reference(),
        ))?;
        match mount {
            crate::transport::Mount::Mounted => {
                progress.event(Event::Mounted {
                    digest: info.digest.to_string(),
                    size: info.stated_size(),
                });
                return Ok(Moved::Mounted);
            }
            crate::transport::Mount::Refused { reason } => {
                progress.event(Event::MountRefused {
                    digest: info.digest.to_string(),
                    from: from.1,
                    reason,
                });
            }
            crate::transport::Mount::NotTried => {}
        }
    }
    if let Some(wish) = &task.wish
        && !task.diff_id
        && let Some((changed, mounted)) = cache::reuse(cache, dst, info, wish, progress).await?
    {
        return Ok(Moved::Reused { changed, mounted });
    }
    let (stream, size) = open_blob(src, dst, info).await?;
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
    // A layer whose compression may change: its first bytes say what it
    // is, and ferry-core what becomes of it.
    let (stream, step, media_type, detected): (crate::transport::BlobStream, Step, _, _) =
        match task.wish {
            None => (Box::pin(counted), Step::Keep, None, None),
            Some(wish) => {
                let (head, stream) = transform::peek(Box::pin(counted)).await.map_err(|error| {
                    CopyError::Stream {
                        step: format!("reading blob {}", info.digest),
                        reference: src.reference(),
                        error,
                    }
                })?;
                let detected = ferry_core::tar::Compression::detect(&head);
                let step = compression::step(detected, &wish);
                let media_type =
                    compression::written_media_type(info.media_type_or_empty(), detected, step);
                (stream, step, Some(media_type.to_string()), detected)
            }
        };
    if step == Step::Keep {
        let (stream, slot): (crate::transport::BlobStream, _) = if task.diff_id {
            let (tee, slot) = transform::DiffIdTee::new(stream);
            (Box::pin(tee), Some(slot))
        } else {
            (stream, None)
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
                Some(Ok(d)) => Some(d),
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
        // Bytes kept as they are whose type names another compression
        // than theirs: the manifest names what they are.
        let changed = media_type
            .filter(|t| t != info.media_type_or_empty())
            .map(|media_type| LayerUpdate {
                digest: info.digest.to_string(),
                size: total as i64,
                media_type,
            });
        return Ok(Moved::Copied {
            size: total,
            changed,
            diff_id,
        });
    }
    // The layer changes form on the way: verify the source as it is read,
    // then store the new form under its new digest.
    let what = format!("layer {}", info.digest);
    let verified = VerifyingReader::new(stream, info.clone());
    let stored_size = info.size.and_then(|s| u64::try_from(s).ok());
    let transformed = transform::transform(Box::pin(verified), step, stored_size, &what)
        .await
        .map_err(transport(format!("transforming {what}"), src.reference()))?;
    let new_info = BlobInfo {
        digest: transformed.digest.clone(),
        size: Some(transformed.size as i64),
        media_type,
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
    cache::record(cache, dst, &info.digest, detected, step, &new_info).await;
    progress.event(Event::Done {
        digest: info.digest.to_string(),
        size: bytes.load(std::sync::atomic::Ordering::Relaxed),
    });
    Ok(Moved::Copied {
        size: transformed.size,
        diff_id: None,
        changed: Some(LayerUpdate {
            digest: new_info.digest.to_string(),
            size: new_info.stated_size(),
            media_type: new_info.media_type.unwrap_or_default(),
        }),
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
        let this = self.get_mut();
        let (info, hasher) = (&this.info, &mut this.hasher);
        transform::poll_read_observed(&mut this.inner, cx, buf, |read| {
            if !read.is_empty() {
                if let Some(hasher) = hasher.as_mut() {
                    hasher.update(read);
                }
            } else if let Some(hasher) = hasher.take() {
                let size = hasher.bytes();
                let digest = hasher.finish();
                let what = format!("layer {}", info.digest);
                // The transform hands this error back as it is.
                let error = if digest != info.digest {
                    TransportError::DigestMismatch {
                        what,
                        expected: info.digest.to_string(),
                        actual: digest.to_string(),
                    }
                } else if info.check_size(size).is_err() {
                    TransportError::SizeMismatch {
                        what,
                        expected: info.stated_size(),
                        actual: size,
                    }
                } else {
                    return Ok(());
                };
                return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, error));
            }
            Ok(())
        })
    }
}
