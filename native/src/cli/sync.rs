//! `ferry sync --src docker|dir|yaml --dest docker|dir SOURCE DESTINATION`,
//! skopeo sync's command line, with images copied in parallel through the
//! copy engine, one blob ledger for the run, `--shard K/N` and `--report`.
//!
//! What to copy and where each image goes is ferry-core's decision
//! ([`ferry_core::sync`]); this module lists tags, opens connections and
//! runs the copies.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context as _, bail};
use clap::{Args, ValueEnum};
use ferry::copy::{self, NoProgress, Settings};
use ferry::sync::ledger::{Ledger, Ledgered};
use ferry::sync::{TopOnce, dir_images};
use ferry::transport::reference::Reference;
use ferry::transport::registry::{Registry, RegistryOptions};
use ferry::transport::{ImageDestination, ImageSource, Kind};
use ferry_core::plan::{CopyOptions, Selection};
use ferry_core::reference::Named;
use ferry_core::sync::config::Wanted;
use ferry_core::sync::report::{self, ImageReport, Report, Status};
use ferry_core::sync::{Destination, DestinationKind, Planned, Shard, SourceImage, TagFilter};

use super::copy::{Format, lookaside_config};
use super::trust::TrustArgs;

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Where the images come from: a registry repository or image
    /// (docker), a directory of dir: images (dir), or a YAML file naming
    /// registries and images (yaml).
    #[arg(short, long, value_enum, required_unless_present = "merge_reports")]
    src: Option<SourceTransport>,
    /// Where they go: a registry (docker) or a directory (dir).
    #[arg(short, long, value_enum, required_unless_present = "merge_reports")]
    dest: Option<DestinationTransport>,
    /// The source: a repository or image, a directory, or a YAML file.
    #[arg(required_unless_present = "merge_reports")]
    source: Option<String>,
    /// The destination registry (`host[/path]`) or directory.
    #[arg(required_unless_present = "merge_reports")]
    destination: Option<String>,
    /// Name images at the destination by their whole source reference
    /// (`DEST/host/repo:tag`), not its last element (`DEST/repo:tag`).
    #[arg(long)]
    scoped: bool,
    /// Copy every image of a list, not only this machine's.
    #[arg(short, long)]
    all: bool,
    /// Go on after an image fails; the exit status still says so.
    #[arg(long)]
    keep_going: bool,
    /// Say what would be copied; write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Fail rather than write any manifest with a different digest.
    #[arg(long)]
    preserve_digests: bool,
    /// Do not copy signatures.
    #[arg(long)]
    remove_signatures: bool,
    /// Convert manifests to this format.
    #[arg(short, long, value_enum)]
    format: Option<Format>,
    /// Images copied at once (up to 32 more are read and checked against
    /// the destination meanwhile, so images already there cost no slot).
    /// Their blob transfers together are at most 4 × --jobs.
    #[arg(long, default_value_t = 16, value_name = "N")]
    parallel_images: usize,
    /// Blobs transferred at once for each image (and 4 × this for the
    /// whole run). `--image-parallel-copies` is skopeo's name for it.
    #[arg(
        long,
        visible_alias = "image-parallel-copies",
        default_value_t = 6,
        value_name = "N"
    )]
    jobs: usize,
    /// Copy only the images of shard K of N (0 <= K < N), chosen by a
    /// stable hash of each source reference: N workers with K = 0..N-1
    /// together copy every image exactly once.
    #[arg(long, value_name = "K/N")]
    shard: Option<Shard>,
    /// Write a JSON report of every image to this file, `-` for stdout
    /// (with --merge-reports, the merged report; default: stdout).
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Merge the --report files of a sharded run into one, checking that
    /// every shard is there once and no image was copied twice; copy
    /// nothing.
    #[arg(long, value_name = "FILE", num_args = 1.., conflicts_with_all = ["src", "dest", "source", "destination"])]
    merge_reports: Vec<PathBuf>,
    #[command(flatten)]
    registry: super::copy::RegistryFlags,
    /// Also copy every synced image's referrers (signatures, SBOMs,
    /// attestations whose subject is a copied manifest), recursively, by
    /// digest and unmodified, as `copy --referrers` does; implies
    /// --preserve-digests. An image already at the destination is copied
    /// again (its blobs found there), so that referrers added since reach
    /// it. Fallback tags (sha256-<hex>) of a listed repository go with
    /// their images instead of being synced as images.
    #[arg(long)]
    referrers: bool,
    /// Also copy cosign's tags of each synced manifest (sha256-<hex>.sig,
    /// .att, .sbom) to the same tags, unmodified, as `copy --cosign-tags`
    /// does; such tags of a listed repository are not synced as images.
    #[arg(long)]
    cosign_tags: bool,
    #[command(flatten)]
    platform: super::PlatformOverrides,
    #[command(flatten)]
    sign: super::sign::SignArgs,
    #[command(flatten)]
    compression: super::copy::CompressionArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SourceTransport {
    Docker,
    Dir,
    Yaml,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum DestinationTransport {
    Docker,
    Dir,
}

impl SyncArgs {
    /// What goes with each image besides itself.
    fn attached(&self) -> copy::Attached {
        copy::Attached {
            referrers: self.referrers,
            cosign_tags: self.cosign_tags,
        }
    }
}

/// One image to copy, with the connection its source is read through.
struct Job {
    planned: Planned,
    /// The source registry's connection (docker and yaml sources).
    source_root: Option<Arc<Registry>>,
}

pub fn run(args: &SyncArgs, trust: &TrustArgs) -> anyhow::Result<ExitCode> {
    if !args.merge_reports.is_empty() {
        return merge(args);
    }
    let (Some(src), Some(dest), Some(source), Some(destination)) = (
        args.src,
        args.dest,
        args.source.as_deref(),
        args.destination.as_deref(),
    ) else {
        bail!("--src, --dest, SOURCE and DESTINATION are needed");
    };
    if src == SourceTransport::Dir && dest == DestinationTransport::Dir {
        bail!("sync from dir to dir is not supported; use rsync or cp -r");
    }
    // Asked before anything is listed or written: images synced without
    // the referrers asked for would be half a mirror.
    let kind = match dest {
        DestinationTransport::Docker => Kind::Docker,
        DestinationTransport::Dir => Kind::Dir,
    };
    kind.capabilities()
        .check_attached(args.attached())
        .with_context(|| format!("syncing to {destination}"))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let report = runtime.block_on(sync(args, trust, src, dest, source, destination))?;
    let text = serde_json::to_string_pretty(&report)?;
    match &args.report {
        Some(path) => write_report(path, &text)?,
        None if args.dry_run => println!("{text}"),
        None => {}
    }
    let t = &report.totals;
    eprintln!(
        "{} {} image(s): {} copied, {} already present, {} failed{}; {} sent",
        if args.dry_run { "Planned" } else { "Synced" },
        t.images,
        t.copied,
        t.skipped,
        t.failed,
        if args.dry_run {
            format!(", {} to copy", t.planned)
        } else {
            String::new()
        },
        ferry::output::human_size(t.bytes_copied as i64),
    );
    Ok(if report.failed() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Writes the report whole or not at all; `-` is stdout.
fn write_report(path: &Path, text: &str) -> anyhow::Result<()> {
    if path == Path::new("-") {
        println!("{text}");
        return Ok(());
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut file = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("writing --report {}", path.display()))?;
    std::io::Write::write_all(&mut file, text.as_bytes())
        .and_then(|_| std::io::Write::write_all(&mut file, b"\n"))
        .with_context(|| format!("writing --report {}", path.display()))?;
    file.persist(path)
        .with_context(|| format!("writing --report {}", path.display()))?;
    Ok(())
}

fn merge(args: &SyncArgs) -> anyhow::Result<ExitCode> {
    let mut reports = Vec::new();
    for path in &args.merge_reports {
        let bytes =
            std::fs::read(path).with_context(|| format!("reading report {}", path.display()))?;
        let report: Report = serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not a sync report", path.display()))?;
        reports.push(report);
    }
    let merged = report::merge(reports).context("merging the reports")?;
    let text = serde_json::to_string_pretty(&merged)?;
    match &args.report {
        Some(path) => write_report(path, &text)?,
        None => println!("{text}"),
    }
    Ok(if merged.failed() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn source_options(args: &SyncArgs, named: &Named) -> anyhow::Result<RegistryOptions> {
    args.registry.source(&Reference::Docker(named.clone()))
}

/// A repository, tagged `latest` only so that it can be connected to.
fn connectable(repository: &Named) -> Named {
    repository.clone().with_default_tag()
}

/// The tags of `repository` that `filter` selects, as references: all but
/// those that go with their subjects when `attached` asks for them
/// ([`ferry_core::referrers::carried_with_subject`]).
async fn list(
    root: &Registry,
    repository: &Named,
    filter: &TagFilter,
    attached: copy::Attached,
) -> anyhow::Result<Vec<SourceImage>> {
    let connection = root.sibling(&connectable(repository), false)?;
    let tags = connection
        .tags()
        .await
        .with_context(|| format!("listing the tags of {}", repository.name()))?;
    let mut images = Vec::new();
    let mut carried = 0usize;
    for tag in tags {
        if !filter.selects(&tag) {
            continue;
        }
        if ferry_core::referrers::carried_with_subject(&tag, attached) {
            carried += 1;
            continue;
        }
        // A tag the registry lists but that is not a tag is skipped, as
        // skopeo skips it.
        if let Ok(named) = repository.clone().with_tag(&tag) {
            images.push(SourceImage::Docker(named));
        }
        if images.len() > ferry_core::sync::MAX_IMAGES {
            bail!(
                "{}: more than {} tags to sync",
                repository.name(),
                ferry_core::sync::MAX_IMAGES
            );
        }
    }
    if carried > 0 {
        eprintln!(
            "{}: {carried} referrer or cosign tag(s) go with the images they name, not as images of their own",
            repository.name()
        );
    }
    Ok(images)
}

/// Every source image, each with its registry connection (keyed by the
/// image's key).
async fn enumerate(
    args: &SyncArgs,
    src: SourceTransport,
    source: &str,
) -> anyhow::Result<(Vec<SourceImage>, HashMap<String, Arc<Registry>>)> {
    let mut images = Vec::new();
    let mut roots = HashMap::new();
    match src {
        SourceTransport::Docker => {
            let named = Named::parse_normalized(source)
                .with_context(|| format!("--src docker: {source:?} is not a reference"))?;
            let options = source_options(args, &named)?;
            let root = Arc::new(
                Registry::connect(&connectable(&named), &options, false)
                    .await
                    .with_context(|| format!("connecting to {}", named.domain()))?,
            );
            let found = if named.is_name_only() {
                list(&root, &named, &TagFilter::All, args.attached()).await?
            } else {
                vec![SourceImage::Docker(named)]
            };
            if found.is_empty() {
                bail!("no images to sync found in {source:?}");
            }
            for image in &found {
                roots.insert(image.key(), root.clone());
            }
            images = found;
        }
        SourceTransport::Dir => {
            let base =
                std::fs::canonicalize(source).with_context(|| format!("--src dir: {source}"))?;
            let found = dir_images(&base)?;
            if found.is_empty() {
                bail!("no images to sync found in {source:?}");
            }
            let base_text = base.display().to_string();
            images = found
                .into_iter()
                .map(|path| SourceImage::Dir {
                    base: base_text.clone(),
                    path: path.display().to_string(),
                })
                .collect();
        }
        SourceTransport::Yaml => {
            let config = ferry::sync::yaml::load(Path::new(source))?;
            for registry in config.registries {
                enumerate_registry(args, registry, &mut images, &mut roots).await?;
            }
        }
    }
    Ok((images, roots))
}

async fn enumerate_registry(
    args: &SyncArgs,
    registry: ferry_core::sync::config::RegistryConfig,
    images: &mut Vec<SourceImage>,
    roots: &mut HashMap<String, Arc<Registry>>,
) -> anyhow::Result<()> {
    let Some(first) = registry.repositories.first() else {
        eprintln!(
            "ferry: warning: no images named for registry {}",
            registry.name
        );
        return Ok(());
    };
    let mut options = source_options(args, &first.name)?;
    if let Some((user, password)) = &registry.credentials {
        options.credentials = Some((user.clone(), password.clone()));
    }
    if let Some(verify) = registry.tls_verify {
        options.tls_verify = verify;
    }
    if let Some(dir) = &registry.cert_dir {
        options.cert_dir = Some(PathBuf::from(dir));
    }
    let root = Arc::new(
        Registry::connect(&connectable(&first.name), &options, false)
            .await
            .with_context(|| format!("connecting to registry {}", registry.name))?,
    );
    for repository in &registry.repositories {
        let found = match &repository.wanted {
            Wanted::References(named) => named.iter().cloned().map(SourceImage::Docker).collect(),
            Wanted::Tags(filter) => list(&root, &repository.name, filter, args.attached())
                .await
                .with_context(|| format!("{} (line {})", registry.name, repository.line))?,
        };
        for image in found {
            roots.insert(image.key(), root.clone());
            images.push(image);
        }
        if images.len() > ferry_core::sync::MAX_IMAGES {
            bail!("more than {} images to sync", ferry_core::sync::MAX_IMAGES);
        }
    }
    Ok(())
}

fn copy_options(args: &SyncArgs) -> CopyOptions {
    let selection = if args.all {
        Selection::All
    } else {
        Selection::System(args.platform.wanted())
    };
    let options = CopyOptions {
        forced: args.format.map(|f| f.media_type().to_string()),
        remove_signatures: args.remove_signatures,
        preserve_digests: args.preserve_digests,
        ..CopyOptions::new(selection)
    };
    if args.referrers {
        ferry_core::referrers::image_options(&options)
    } else {
        options
    }
}

async fn sync(
    args: &SyncArgs,
    trust: &TrustArgs,
    src: SourceTransport,
    dest: DestinationTransport,
    source: &str,
    destination: &str,
) -> anyhow::Result<Report> {
    let (images, roots) = enumerate(args, src, source).await?;
    let kind = match dest {
        DestinationTransport::Docker => DestinationKind::Docker,
        DestinationTransport::Dir => DestinationKind::Dir,
    };
    let planned = ferry_core::sync::plan(images, destination, kind, args.scoped, args.shard)?;
    let lookaside = if src != SourceTransport::Dir || dest == DestinationTransport::Docker {
        Some(lookaside_config(args.registry.registries_d.as_deref())?)
    } else {
        None
    };
    // One connection to the destination registry, shared by every image.
    let dest_root = match planned.first().map(|p| &p.destination) {
        Some(Destination::Docker(named)) => {
            let mut options = args
                .registry
                .destination(&Reference::Docker(named.clone()))?;
            if let Some(config) = &lookaside {
                options.lookaside = config.clone();
            }
            let root = Registry::connect(named, &options, true)
                .await
                .with_context(|| format!("connecting to {}", named.domain()))?;
            // Without it, every image's first request would meet the
            // registry's 401 (a re-sync would cost two requests per image).
            root.authenticate_now()
                .await
                .with_context(|| format!("authenticating to {}", named.domain()))?;
            Some(Arc::new(root))
        }
        _ => None,
    };
    let context = Arc::new(Context {
        dest_root,
        ledger: Arc::new(Ledger::default()),
        dry_run: args.dry_run,
        stop: AtomicBool::new(false),
        keep_going: args.keep_going,
        attached: args.attached(),
        copies: tokio::sync::Semaphore::new(args.parallel_images.max(1)),
    });
    let mut tasks = tokio::task::JoinSet::new();
    let semaphore = Arc::new(tokio::sync::Semaphore::new(probes_at_once(
        args.parallel_images,
    )));
    let transfers = Arc::new(tokio::sync::Semaphore::new(
        args.jobs.max(1) * RUN_TRANSFERS_PER_JOB,
    ));
    let mut order = Vec::with_capacity(planned.len());
    for (index, planned) in planned.into_iter().enumerate() {
        order.push(planned.key.clone());
        let job = Job {
            source_root: roots.get(&planned.key).cloned(),
            planned,
        };
        // The policy and signers are per image: they depend on the
        // references.
        let judged = prepare(args, trust, &job, &transfers);
        let permit = semaphore.clone().acquire_owned().await?;
        let context = context.clone();
        tasks.spawn(async move {
            let _permit = permit;
            (index, run_image(job, judged, &context).await)
        });
    }
    let mut results: Vec<Option<ImageReport>> = vec![None; order.len()];
    while let Some(done) = tasks.join_next().await {
        let (index, report) = done.context("an image's copy task failed")?;
        results[index] = report;
    }
    Ok(Report::new(
        args.shard,
        results.into_iter().flatten().collect(),
    ))
}

/// How many images are looked at, at once: their source manifest read
/// and the destination asked what it holds. Looking costs two small
/// requests and no transfer slot, so it goes further ahead than the
/// copies (`--parallel-images`): a re-sync where nothing changed
/// is all looking, and waits for the registries' answers, not for CPU.
fn probes_at_once(copies: usize) -> usize {
    copies.max(PROBES_AT_ONCE)
}

/// See [`probes_at_once`]. Each look holds a connection to each registry
/// while it waits for their answers; the copies among them hold theirs
/// for their transfers.
const PROBES_AT_ONCE: usize = 32;

/// The policy and signers for one image, or why there are none.
type Judged = Result<(CopyOptions, Settings), String>;

/// The blob transfers of a whole run, all images together, per `--jobs`:
/// four images' worth, which was the most a run made when it copied four
/// images at a time. A sync of small images waits on round trips, not on
/// bytes, so it copies more images at once than that; a sync of large
/// ones is held to the same transfers as before.
const RUN_TRANSFERS_PER_JOB: usize = 4;

fn prepare(
    args: &SyncArgs,
    trust: &TrustArgs,
    job: &Job,
    transfers: &Arc<tokio::sync::Semaphore>,
) -> Judged {
    let source = source_reference(&job.planned.source);
    let destination = destination_reference(&job.planned.destination);
    let trust = trust
        .copy_judge_for(&source)
        .map_err(|e| format!("{e:#}"))?;
    let signer = args
        .sign
        .signers(&destination)
        .map_err(|e| format!("{e:#}"))?;
    let compression = args
        .compression
        .requested(&destination)
        .map_err(|e| format!("{e:#}"))?;
    let options = CopyOptions {
        compression,
        judge_signatures: trust.is_some(),
        sign: signer.as_ref().map(|s| s.formats()).unwrap_or_default(),
        ..copy_options(args)
    };
    let settings = Settings {
        jobs: args.jobs.max(1),
        dry_run: false,
        blob_retries: args.registry.retry_times,
        trust,
        signer: signer.map(|s| s as Arc<dyn ferry::trust::Sign>),
        blob_info_cache: copy::default_blob_info_cache(),
        shared_transfers: Some(transfers.clone()),
    };
    Ok((options, settings))
}

fn source_reference(source: &SourceImage) -> Reference {
    match source {
        SourceImage::Docker(named) => Reference::Docker(named.clone()),
        SourceImage::Dir { path, .. } => Reference::Dir(PathBuf::from(path)),
    }
}

fn destination_reference(destination: &Destination) -> Reference {
    match destination {
        Destination::Docker(named) => Reference::Docker(named.clone()),
        Destination::Dir(path) => Reference::Dir(PathBuf::from(path)),
    }
}

struct Context {
    dest_root: Option<Arc<Registry>>,
    ledger: Arc<Ledger>,
    dry_run: bool,
    /// A failure without --keep-going: start no more images.
    stop: AtomicBool,
    keep_going: bool,
    attached: copy::Attached,
    /// `--parallel-images`: held from an image's first write to its
    /// end.
    copies: tokio::sync::Semaphore,
}

/// Copies one image; `None` when it was not started (an earlier failure
/// stopped the run).
async fn run_image(job: Job, judged: Judged, context: &Context) -> Option<ImageReport> {
    if context.stop.load(Ordering::SeqCst) {
        return None;
    }
    let planned = &job.planned;
    let mut report = ImageReport {
        source: planned.source.transport_name(),
        destination: planned.destination.transport_name(),
        key: planned.key.clone(),
        status: Status::Failed,
        source_digest: None,
        destination_digest: None,
        bytes_copied: 0,
        blobs_copied: 0,
        blobs_skipped: 0,
        blobs_mounted: 0,
        error: None,
    };
    let ran = copy_image(&job, judged, context, &mut report).await;
    if let Ok(Ran::Stopped) = ran {
        return None;
    }
    if let Err(error) = ran {
        report.status = Status::Failed;
        report.error = Some(format!("{error:#}"));
        eprintln!(
            "ferry: error: {} -> {}: {error:#}",
            report.source, report.destination
        );
        if !context.keep_going {
            context.stop.store(true, Ordering::SeqCst);
        }
    }
    Some(report)
}

/// Whether an image was looked at (and copied if need be), or stopped
/// before its first write because an earlier image failed.
enum Ran {
    Through,
    Stopped,
}

async fn copy_image(
    job: &Job,
    judged: Judged,
    context: &Context,
    report: &mut ImageReport,
) -> anyhow::Result<Ran> {
    let (options, settings) = judged.map_err(anyhow::Error::msg)?;
    let planned = &job.planned;
    let inner: Arc<dyn ImageSource> = match (&planned.source, &job.source_root) {
        (SourceImage::Docker(named), Some(root)) => Arc::new(root.sibling(named, false)?),
        (SourceImage::Dir { path, .. }, _) => {
            Arc::new(ferry::transport::dir::DirSource::open(Path::new(path)).await?)
        }
        (SourceImage::Docker(named), None) => bail!("no connection for {named}"),
    };
    let source = Arc::new(TopOnce::new(inner));
    // The source's manifest and what the destination holds now, asked at
    // once: a re-sync where nothing changed waits for one round trip per
    // image, not two.
    let destination_now = async {
        match &planned.destination {
            Destination::Docker(named) => {
                let root = context
                    .dest_root
                    .as_ref()
                    .context("no connection to the destination registry")?;
                let registry = Arc::new(root.sibling(named, true)?);
                let existing = registry
                    .manifest_digest()
                    .await
                    .context("checking the destination")?;
                let capabilities = registry.capabilities();
                anyhow::Ok((
                    Some(registry),
                    capabilities,
                    existing.map(|d| d.to_string()),
                ))
            }
            Destination::Dir(path) => {
                let existing = std::fs::read(Path::new(path).join("manifest.json"))
                    .ok()
                    .and_then(|bytes| ferry_core::manifest::digest(&bytes).ok())
                    .map(|d| d.to_string());
                Ok((None, Kind::Dir.capabilities(), existing))
            }
        }
    };
    let (top, destination_now) = tokio::join!(source.manifest(None), destination_now);
    let (top, top_type) = top.context("reading the source manifest")?;
    let source_digest = ferry_core::manifest::digest(&top)?.to_string();
    report.source_digest = Some(source_digest);
    let top_type = top_type.unwrap_or_default();
    let (registry, capabilities, existing) = destination_now?;
    let reference_digest = match &planned.destination {
        Destination::Docker(named) => named.digest().map(|d| d.to_string()),
        Destination::Dir(_) => None,
    };
    let unchanged = ferry_core::sync::unchanged_digest(
        &top,
        &top_type,
        &capabilities.plan_destination(reference_digest),
        &options,
    );
    // With referrers or cosign tags asked for, an image already there is
    // copied again all the same: what refers to it may be new.
    if unchanged.is_some() && unchanged == existing && !context.attached.any() {
        report.status = Status::Skipped;
        report.destination_digest = existing;
        return Ok(Ran::Through);
    }
    if context.dry_run {
        report.status = Status::Planned;
        report.destination_digest = unchanged;
        return Ok(Ran::Through);
    }
    let _copying = context.copies.acquire().await?;
    if context.stop.load(Ordering::SeqCst) {
        return Ok(Ran::Stopped);
    }
    let (destination, ledgered): (Arc<dyn ImageDestination>, Option<Arc<Ledgered>>) =
        match (&planned.destination, registry) {
            (Destination::Docker(named), Some(registry)) => {
                let ledgered = Arc::new(
                    Ledgered::new(
                        registry,
                        context.ledger.clone(),
                        named.api_host(),
                        named.path(),
                    )
                    .naming(
                        existing
                            .as_deref()
                            .and_then(|d| ferry_core::Digest::parse(d).ok()),
                    ),
                );
                (ledgered.clone(), Some(ledgered))
            }
            (Destination::Dir(path), _) => (
                Arc::new(ferry::transport::dir::DirDestination::create(Path::new(path)).await?),
                None,
            ),
            (Destination::Docker(named), None) => bail!("no connection for {named}"),
        };
    let settings = Settings {
        dry_run: false,
        ..settings
    };
    let copied = copy::copy(
        source.clone(),
        destination.clone(),
        &options,
        &settings,
        Arc::new(NoProgress),
    )
    .await?;
    copy::copy_attached(
        source,
        destination,
        &copied,
        context.attached,
        &options,
        &settings,
        Arc::new(NoProgress),
    )
    .await
    .context("copying the referrers and cosign tags")?;
    let mounted = ledgered.map_or(0, |l| l.mounted());
    report.status = Status::Copied;
    report.destination_digest = Some(copied.digest.clone());
    report.bytes_copied = copied.bytes_copied;
    report.blobs_copied = copied.blobs_copied;
    report.blobs_skipped = copied.blobs_skipped.saturating_sub(mounted);
    report.blobs_mounted = copied.blobs_mounted + mounted;
    Ok(Ran::Through)
}
