//! `ferry copy SRC DST`, skopeo-compatible where skopeo has the flag.

use std::process::ExitCode;
use std::sync::Arc;

use super::trust::TrustArgs;
use anyhow::{Context as _, bail};
use clap::{Args, ValueEnum};
use ferry::copy::{self, BarProgress, JsonProgress, NoProgress, Progress, Settings, TextProgress};
use ferry::output::human_size;
use ferry::transport::reference::Reference;
use ferry_core::Platform;
use ferry_core::choose::ChooseOptions;
use ferry_core::media_type as mt;
use ferry_core::plan::{CopyOptions, Selection, Unselected, compression};

#[derive(Debug, Args)]
pub struct CopyArgs {
    /// Source image, e.g. oci:/tmp/layout:tag, dir:/tmp/image.
    source: String,
    /// Destination, in the same syntax.
    destination: String,
    /// Copy the list and every instance (same as --multi-arch all).
    #[arg(short, long, conflicts_with = "multi_arch")]
    all: bool,
    /// What to copy from a list: system (the image for this machine), all,
    /// index-only (the list alone), or platforms: os/arch[/variant],…
    #[arg(long, value_name = "MODE")]
    multi_arch: Option<String>,
    /// Copy the list and the instance with this manifest digest
    /// (repeatable), as containers/image's CopySpecificImages does; with
    /// --multi-arch platforms, those platforms' instances too.
    #[arg(long = "instance", value_name = "DIGEST", conflicts_with = "all", value_parser = instance_digest)]
    instances: Vec<String>,
    /// With platforms, instances or index-only: drop unselected entries
    /// from the list instead of keeping them (a new, smaller list).
    #[arg(long)]
    strip_removed_platforms: bool,
    /// Convert manifests to this format.
    #[arg(short, long, value_enum)]
    format: Option<Format>,
    /// Fail rather than write any manifest with a different digest.
    #[arg(long)]
    preserve_digests: bool,
    /// Do not copy signatures.
    #[arg(long)]
    remove_signatures: bool,
    #[command(flatten)]
    platform: super::PlatformOverrides,
    /// Write the digest of the copied top-level manifest to this file.
    #[arg(long, value_name = "PATH")]
    digestfile: Option<std::path::PathBuf>,
    /// Blobs transferred at once. `--image-parallel-copies` is skopeo's
    /// name for it.
    #[arg(
        long,
        visible_alias = "image-parallel-copies",
        default_value_t = 6,
        value_name = "N"
    )]
    jobs: usize,
    /// Print what would be copied; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Progress on stderr: text (bars on a terminal, lines otherwise), json
    /// (one event per line) or none.
    #[arg(long, value_enum, default_value_t = ProgressKind::Text)]
    progress: ProgressKind,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// The source daemon (docker-daemon: only): unix://PATH, tcp://HOST:PORT
    /// (HTTPS) or http://HOST:PORT; default: $DOCKER_HOST, else
    /// unix:///var/run/docker.sock.
    #[arg(long, value_name = "HOST")]
    src_daemon_host: Option<String>,
    /// The destination daemon (docker-daemon: only), as --src-daemon-host.
    #[arg(long, value_name = "HOST")]
    dest_daemon_host: Option<String>,
    #[command(flatten)]
    pub(crate) registry: RegistryFlags,
    /// Also copy the image's referrers (signatures, SBOMs, attestations
    /// whose subject is a copied manifest), recursively, by digest and
    /// unmodified; implies --preserve-digests.
    #[arg(long)]
    referrers: bool,
    /// Also copy cosign's tags of each copied manifest (sha256-<hex>.sig,
    /// .att, .sbom) to the same tags, unmodified.
    #[arg(long)]
    cosign_tags: bool,
    #[command(flatten)]
    sign: super::sign::SignArgs,
    #[command(flatten)]
    compression: CompressionArgs,
}

/// The registry options `copy` and `sync` share, as skopeo spells them.
#[derive(Debug, Args)]
pub struct RegistryFlags {
    /// Credentials for the source registry, USER:PASSWORD.
    #[arg(long, value_name = "USER:PASSWORD")]
    src_creds: Option<String>,
    /// Credentials for the destination registry, USER:PASSWORD.
    #[arg(long, value_name = "USER:PASSWORD")]
    dest_creds: Option<String>,
    /// Verify the source registry's TLS certificate (false also allows
    /// plain HTTP).
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    src_tls_verify: bool,
    /// Verify the destination registry's TLS certificate (false also
    /// allows plain HTTP).
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    dest_tls_verify: bool,
    /// A directory of *.crt CA certificates for the source registry, or
    /// of ca.pem, cert.pem and key.pem for the source daemon.
    #[arg(long, value_name = "DIR")]
    src_cert_dir: Option<std::path::PathBuf>,
    /// A directory of *.crt CA certificates for the destination registry,
    /// or of ca.pem, cert.pem and key.pem for the destination daemon.
    #[arg(long, value_name = "DIR")]
    dest_cert_dir: Option<std::path::PathBuf>,
    /// Credentials file for both registries (containers' auth.json or
    /// Docker's config.json); default: $REGISTRY_AUTH_FILE,
    /// $XDG_RUNTIME_DIR/containers/auth.json, ~/.docker/config.json.
    #[arg(long, value_name = "PATH")]
    authfile: Option<std::path::PathBuf>,
    /// Credentials file for the source registry.
    #[arg(long, value_name = "PATH")]
    src_authfile: Option<std::path::PathBuf>,
    /// Credentials file for the destination registry.
    #[arg(long, value_name = "PATH")]
    dest_authfile: Option<std::path::PathBuf>,
    /// Retries for registry requests that fail temporarily, and for blob
    /// transfers that break off or arrive corrupt.
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub(crate) retry_times: u32,
    /// Where registries' lookaside signature storage is configured
    /// (containers-registries.d(5)); default:
    /// $HOME/.config/containers/registries.d if it exists, else
    /// /etc/containers/registries.d.
    #[arg(long = "registries.d", value_name = "DIR")]
    pub(crate) registries_d: Option<std::path::PathBuf>,
}

impl RegistryFlags {
    /// The options for the source registry of `reference`.
    pub(crate) fn source(
        &self,
        reference: &Reference,
    ) -> anyhow::Result<ferry::transport::registry::RegistryOptions> {
        let authfile = self.src_authfile.as_deref().or(self.authfile.as_deref());
        registry_options(
            reference,
            self.src_creds.as_deref(),
            authfile,
            self.src_tls_verify,
            self.src_cert_dir.as_deref(),
            self.retry_times,
            "src",
        )
    }

    /// The options for the destination registry of `reference`.
    pub(crate) fn destination(
        &self,
        reference: &Reference,
    ) -> anyhow::Result<ferry::transport::registry::RegistryOptions> {
        let authfile = self.dest_authfile.as_deref().or(self.authfile.as_deref());
        registry_options(
            reference,
            self.dest_creds.as_deref(),
            authfile,
            self.dest_tls_verify,
            self.dest_cert_dir.as_deref(),
            self.retry_times,
            "dest",
        )
    }
}

/// skopeo's options for the layers' compression at the destination.
#[derive(Debug, Args)]
pub struct CompressionArgs {
    /// Compress uncompressed layers when writing to dir: (other
    /// destinations decide for themselves: registries and OCI layouts
    /// compress, docker-archive decompresses).
    #[arg(long, conflicts_with = "dest_decompress")]
    dest_compress: bool,
    /// Decompress compressed layers when writing to dir:.
    #[arg(long)]
    dest_decompress: bool,
    /// The compression of layers the destination compresses: gzip or
    /// zstd (zstd:chunked is refused). Compressed layers in another format
    /// are recompressed; Docker schema 2 images with zstd layers become OCI.
    #[arg(long, value_name = "FORMAT")]
    dest_compress_format: Option<String>,
    /// The compression level: 0-9 for gzip (default 6), 1-22 for zstd
    /// (default 3).
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    dest_compress_level: Option<i32>,
    /// Check every layer's bytes and write each in the format of
    /// --dest-compress-format: none is skipped or mounted because the
    /// destination holds it as the source names it.
    #[arg(long)]
    dest_force_compress_format: bool,
    /// Let oci: and oci-archive: keep uncompressed layers uncompressed.
    #[arg(long)]
    dest_oci_accept_uncompressed_layers: bool,
    /// With --all: give every image of the list a twin with its layers in
    /// FORMAT (gzip or zstd; repeatable), added to the list as podman's
    /// `manifest push --add-compression` adds it, unless the list already
    /// has an instance of that platform in FORMAT.
    #[arg(long, value_name = "FORMAT")]
    add_compression: Vec<String>,
}

impl CompressionArgs {
    /// The formats of `--add-compression`, in order.
    fn added(&self) -> anyhow::Result<compression::Formats> {
        Ok(self
            .add_compression
            .iter()
            .map(|f| compression::Format::parse(f))
            .collect::<Result<_, _>>()?)
    }

    /// The request ferry-core makes of these flags for `destination`.
    pub(crate) fn requested(
        &self,
        destination: &Reference,
    ) -> anyhow::Result<compression::Requested> {
        let format = self
            .dest_compress_format
            .as_deref()
            .map(compression::Format::parse)
            .transpose()?;
        Ok(compression::Requested::new(
            destination.kind(),
            compression::DestinationFlags {
                compress: self.dest_compress,
                decompress: self.dest_decompress,
                oci_accept_uncompressed: self.dest_oci_accept_uncompressed_layers,
            },
            format,
            self.dest_compress_level,
            self.dest_force_compress_format,
        )?)
    }
}

/// Registry options from `--*-creds`, `--*-tls-verify` and `--*-cert-dir`.
pub(crate) fn registry_options(
    reference: &Reference,
    creds: Option<&str>,
    authfile: Option<&std::path::Path>,
    tls_verify: bool,
    cert_dir: Option<&std::path::Path>,
    retry_times: u32,
    flag: &str,
) -> anyhow::Result<ferry::transport::registry::RegistryOptions> {
    let credentials = match creds {
        // Without --creds, look in the credential files (registries only).
        None => match reference {
            Reference::Docker(r) => ferry::credentials::find(r.domain(), authfile)
                .with_context(|| format!("looking up credentials for {}", r.domain()))?,
            _ => None,
        },
        Some(c) => {
            let Some((user, password)) = c.split_once(':') else {
                let flag = if flag.is_empty() {
                    "creds".to_string()
                } else {
                    format!("{flag}-creds")
                };
                bail!("--{flag}: expected USER:PASSWORD");
            };
            Some((user.to_string(), password.to_string()))
        }
    };
    Ok(ferry::transport::registry::RegistryOptions {
        credentials,
        tls_verify,
        cert_dir: cert_dir.map(std::path::Path::to_path_buf),
        retry_times,
        lookaside: Default::default(),
    })
}

/// The registries.d configuration in `dir` (`--registries.d`), or the
/// default directory's.
pub(crate) fn lookaside_config(
    dir: Option<&std::path::Path>,
) -> anyhow::Result<Arc<ferry_core::registry::lookaside::Config>> {
    let dir = dir
        .map(std::path::Path::to_path_buf)
        .unwrap_or_else(ferry::transport::registry::lookaside::default_dir);
    Ok(Arc::new(ferry::transport::registry::lookaside::load(&dir)?))
}

/// `--format` values, as skopeo spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// OCI image manifest.
    Oci,
    /// Docker schema 2.
    V2s2,
    /// Docker schema 1 (signed).
    V2s1,
}

impl Format {
    /// The manifest type `--format` asks for.
    pub fn media_type(self) -> &'static str {
        match self {
            Format::Oci => mt::OCI_MANIFEST,
            Format::V2s2 => mt::DOCKER_V2S2,
            Format::V2s1 => mt::DOCKER_V2S1_SIGNED,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProgressKind {
    Text,
    Json,
    None,
}

/// `--instance`'s value: a digest, so that a typo is named as one rather
/// than as an instance missing from the list.
fn instance_digest(text: &str) -> Result<String, ferry_core::digest::DigestError> {
    ferry_core::Digest::parse(text).map(|d| d.to_string())
}

fn platform_list(list: &str) -> anyhow::Result<Vec<Platform>> {
    list.split(',')
        .map(|p| p.trim().parse::<Platform>())
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| {
            format!(
                "--multi-arch {list:?}: expected system, all, index-only or os/arch[/variant],…"
            )
        })
}

fn selection(args: &CopyArgs, host: Platform) -> anyhow::Result<Selection> {
    if args.all {
        return Ok(Selection::All);
    }
    if !args.instances.is_empty() {
        // The planner checks that each digest is in the list.
        let platforms = match args.multi_arch.as_deref() {
            None => Vec::new(),
            Some(mode @ ("system" | "all" | "index-only")) => {
                bail!("--instance cannot be combined with --multi-arch {mode}")
            }
            Some(list) => platform_list(list)?,
        };
        return Ok(Selection::Instances {
            digests: args.instances.clone(),
            platforms,
        });
    }
    match args.multi_arch.as_deref() {
        None | Some("system") => Ok(Selection::System(host)),
        Some("all") => Ok(Selection::All),
        Some("index-only") => Ok(Selection::Instances {
            digests: Vec::new(),
            platforms: Vec::new(),
        }),
        Some(list) => Ok(Selection::Instances {
            digests: Vec::new(),
            platforms: platform_list(list)?,
        }),
    }
}

pub fn run(args: &CopyArgs, trust: &TrustArgs) -> anyhow::Result<ExitCode> {
    if args.progress != ProgressKind::Json {
        return copy_image(args, trust);
    }
    // Every line of a JSON progress stream is an event: a failure too, and
    // a bug's panic, which would otherwise print its own text.
    std::panic::set_hook(Box::new(|panic| {
        JsonProgress.event(copy::Event::Failed {
            error: panic.to_string(),
        });
    }));
    copy_image(args, trust).or_else(|error| {
        JsonProgress.event(copy::Event::Failed {
            error: format!("{error:#}"),
        });
        // The status main.rs gives any error.
        Ok(ExitCode::from(1))
    })
}

fn copy_image(args: &CopyArgs, trust: &TrustArgs) -> anyhow::Result<ExitCode> {
    let host = args.platform.wanted();
    let selection = selection(args, host)?;
    if args.strip_removed_platforms && matches!(selection, Selection::All | Selection::System(_)) {
        bail!(
            "--strip-removed-platforms needs --instance, or --multi-arch with platforms or index-only"
        );
    }
    let options = CopyOptions {
        selection,
        choose: ChooseOptions::default(),
        unselected: if args.strip_removed_platforms {
            Unselected::Strip
        } else {
            Unselected::Keep
        },
        forced: args.format.map(|f| f.media_type().to_string()),
        remove_signatures: args.remove_signatures,
        preserve_digests: args.preserve_digests,
        judge_signatures: false,
        sign: Default::default(),
        compression: Default::default(),
        add_compression: Default::default(),
    };
    let options = if args.referrers {
        ferry_core::referrers::image_options(&options)
    } else {
        options
    };
    let source = Reference::parse(&args.source)?;
    let destination = Reference::parse(&args.destination)?;
    let attached = copy::Attached {
        referrers: args.referrers,
        cosign_tags: args.cosign_tags,
    };
    // Asked before anything is opened: an image written without the
    // referrers asked for would be half a copy.
    if let Some(kind) = destination.kind() {
        kind.capabilities()
            .check_attached(attached)
            .with_context(|| format!("copying to {destination}"))?;
    }
    let options = CopyOptions {
        compression: args.compression.requested(&destination)?,
        add_compression: args.compression.added()?,
        ..options
    };
    // The policy is read before anything is opened: a copy it cannot
    // judge does not start.
    let trust = trust.copy_judge_for(&source)?;
    let signer = args.sign.signers(&destination)?;
    let options = CopyOptions {
        judge_signatures: trust.is_some(),
        sign: signer.as_ref().map(|s| s.formats()).unwrap_or_default(),
        ..options
    };
    let settings = Settings {
        jobs: args.jobs.max(1),
        dry_run: args.dry_run,
        blob_retries: args.registry.retry_times,
        trust,
        signer: signer.map(|s| s as Arc<dyn ferry::trust::Sign>),
        blob_info_cache: copy::default_blob_info_cache(),
        shared_transfers: None,
    };
    let progress: Arc<dyn Progress> = match args.progress {
        ProgressKind::Text
            if !args.json && std::io::IsTerminal::is_terminal(&std::io::stderr()) =>
        {
            Arc::new(BarProgress::default())
        }
        ProgressKind::Text if !args.json => Arc::new(TextProgress),
        ProgressKind::Json => Arc::new(JsonProgress),
        _ => Arc::new(NoProgress),
    };
    let mut source_registry = args.registry.source(&source)?;
    let mut destination_registry = args.registry.destination(&destination)?;
    // Signatures' lookaside storage, for whichever side is a registry.
    if matches!(source, Reference::Docker(_)) || matches!(destination, Reference::Docker(_)) {
        let config = lookaside_config(args.registry.registries_d.as_deref())?;
        source_registry.lookaside = config.clone();
        destination_registry.lookaside = config;
    }
    let source_daemon = ferry::transport::daemon::DaemonOptions {
        host: args.src_daemon_host.clone(),
        tls_verify: args.registry.src_tls_verify,
        cert_dir: args.registry.src_cert_dir.clone(),
    };
    let destination_daemon = ferry::transport::daemon::DaemonOptions {
        host: args.dest_daemon_host.clone(),
        tls_verify: args.registry.dest_tls_verify,
        cert_dir: args.registry.dest_cert_dir.clone(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let (report, referrers) = runtime.block_on(async {
        let open_source = async {
            source
                .open_source_with(&source_registry, &source_daemon)
                .await
                .with_context(|| format!("opening source {source}"))
        };
        // Opening a registry writes nothing, so a dry run can ask the real
        // one which blobs it has; local destinations get a read-only stand-in.
        let open_destination = async {
            if settings.dry_run && !matches!(destination, Reference::Docker(_)) {
                Ok(None)
            } else {
                destination
                    .open_destination_with(&destination_registry, &destination_daemon)
                    .await
                    .map(Some)
                    .with_context(|| format!("opening destination {destination}"))
            }
        };
        // A registry destination is opened beside the source: opening one
        // is a ping (after a refused TLS handshake, for an insecure one),
        // and one after the other two registries cost those round trips
        // twice (benches/RESULTS.md). A local one, which opening may
        // create, waits until the source is known to open.
        let (src, dst) = if matches!(destination, Reference::Docker(_)) {
            tokio::try_join!(open_source, open_destination)?
        } else {
            let src = open_source.await?;
            (src, open_destination.await?)
        };
        let dst: Arc<dyn ferry::transport::ImageDestination> = match dst {
            Some(d) => Arc::from(d),
            None => Arc::new(ferry::transport::dry_run::DryRun::new(&destination)),
        };
        let src: Arc<dyn ferry::transport::ImageSource> = Arc::from(src);
        let report = copy::copy(
            src.clone(),
            dst.clone(),
            &options,
            &settings,
            progress.clone(),
        )
        .await
        .with_context(|| format!("copying {source} to {destination}"))?;
        let attached = copy::copy_attached(
            src,
            dst,
            &report,
            attached,
            &options,
            &settings,
            progress.clone(),
        )
        .await
        .with_context(|| {
            format!("copying the referrers and cosign tags of {source} to {destination}")
        })?;
        anyhow::Ok((report, attached))
    })?;
    let copy::AttachedCopied {
        referrers,
        tags: cosign_tags,
    } = referrers;
    if let Some(path) = &args.digestfile
        && !args.dry_run
    {
        std::fs::write(path, &report.digest)
            .with_context(|| format!("writing --digestfile {}", path.display()))?;
    }
    // Every line of a JSON progress stream is an event, the summary too.
    let json_progress = args.progress == ProgressKind::Json;
    if json_progress && !report.dry_run {
        progress.event(copy::Event::copied(&report));
    }
    if args.json {
        let mut value = serde_json::to_value(&report)?;
        if let Some(object) = value.as_object_mut() {
            if let Some(referrers) = &referrers {
                object.insert("referrers".into(), serde_json::to_value(referrers)?);
            }
            if let Some(tags) = &cosign_tags {
                object.insert("cosignTags".into(), serde_json::to_value(tags)?);
            }
        }
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else if report.dry_run {
        print_plan(&report);
        for t in cosign_tags.iter().flatten() {
            println!("  copy tag {} ({})", t.tag, t.digest);
        }
        for r in referrers.iter().flatten() {
            println!(
                "  copy referrer {} of {}  {}",
                r.digest, r.subject, r.artifact_type
            );
        }
    } else if json_progress {
        println!("{}", report.digest);
    } else {
        eprintln!(
            "Copied {} manifest(s), {} blob(s) ({}), skipped {} blob(s) already present ({}), mounted {}, fetched {} again, in {:.2}s",
            report.manifests.len(),
            report.blobs_copied,
            human_size(report.bytes_copied as i64),
            report.blobs_skipped,
            human_size(report.bytes_skipped as i64),
            report.blobs_mounted,
            human_size(report.bytes_refetched as i64),
            report.elapsed
        );
        if !report.held.is_empty() {
            eprintln!(
                "The destination held {} and what it names already: {}",
                report.digest,
                if report.manifests.is_empty() {
                    "its reference names it, nothing was written"
                } else {
                    "only its reference was written"
                }
            );
        }
        if let Some(tags) = &cosign_tags {
            eprintln!("Copied {} cosign tag(s)", tags.len());
            for t in tags {
                eprintln!("  {} ({})", t.tag, t.digest);
            }
        }
        if let Some(referrers) = &referrers {
            eprintln!("Copied {} referrer(s)", referrers.len());
            for r in referrers {
                eprintln!("  {} of {}  {}", r.digest, r.subject, r.artifact_type);
            }
        }
        println!("{}", report.digest);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_plan(report: &copy::Report) {
    let plan = &report.plan;
    println!("Dry run: nothing was written.");
    for m in &plan.manifests {
        let digest = m
            .digest
            .as_deref()
            .unwrap_or("(new digest after conversion)");
        println!("  write {:<8} {digest}  {}", m.role, m.media_type);
    }
    let to_copy = plan.blobs.iter().filter(|b| !b.skip).count();
    println!(
        "  copy {to_copy} blob(s), {}{}; skip {} blob(s) already present, {}",
        human_size(plan.bytes_to_copy),
        if plan.sizes_incomplete {
            " (some sizes unknown)"
        } else {
            ""
        },
        plan.blobs.len() - to_copy,
        human_size(plan.bytes_skipped)
    );
    for b in plan.blobs.iter().filter(|b| !b.operation.is_keep()) {
        let operation = serde_json::to_value(b.operation).unwrap_or_default();
        println!(
            "  {} {}  {} (as its type says; its bytes decide)",
            operation.as_str().unwrap_or_default(),
            b.digest,
            b.media_type
        );
    }
    println!(
        "  a registry destination would see at least {} request(s)",
        plan.registry_requests
    );
}
