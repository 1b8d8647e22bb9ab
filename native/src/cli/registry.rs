//! `ferry inspect`, `ferry list-tags` and `ferry delete`, as skopeo has them.

use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::Args;
use ferry::transport::TransportError;
use ferry::transport::reference::Reference;
use ferry::transport::registry::{Registry, RegistryOptions};
use ferry_core::media_type as mt;
use ferry_core::reference::Named;
use tokio::io::AsyncReadExt as _;

/// Options to reach a registry.
#[derive(Debug, Args)]
pub struct RegistryArgs {
    /// Credentials, USER:PASSWORD.
    #[arg(long, value_name = "USER:PASSWORD")]
    creds: Option<String>,
    /// Verify TLS certificates (false also allows plain HTTP).
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    tls_verify: bool,
    /// A directory of *.crt CA certificates to trust.
    #[arg(long, value_name = "DIR")]
    cert_dir: Option<std::path::PathBuf>,
    /// Credentials file (containers' auth.json or Docker's config.json).
    #[arg(long, value_name = "PATH")]
    authfile: Option<std::path::PathBuf>,
    /// Retries for requests that fail temporarily.
    #[arg(long, default_value_t = 3, value_name = "N")]
    retry_times: u32,
}

impl RegistryArgs {
    pub(super) fn options(&self, reference: &Reference) -> anyhow::Result<RegistryOptions> {
        super::copy::registry_options(
            reference,
            self.creds.as_deref(),
            self.authfile.as_deref(),
            self.tls_verify,
            self.cert_dir.as_deref(),
            self.retry_times,
            "",
        )
    }
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The image: docker://…, oci:…, dir:…, oci-archive:…, docker-archive:…,
    /// docker-daemon:…
    image: String,
    /// Print the top-level manifest exactly as stored (a list stays a
    /// list, whatever the overrides say).
    #[arg(long)]
    raw: bool,
    /// Print the image's config (for a list, the config of the image this
    /// machine, or the overrides, would run).
    #[arg(long)]
    config: bool,
    /// List the image's referrers (signatures, SBOMs, attestations whose
    /// subject is the image or, for a list, the list or an instance), and
    /// theirs, as the source lists them.
    #[arg(long, conflicts_with_all = ["raw", "config"])]
    referrers: bool,
    /// With --referrers: print them as JSON.
    #[arg(long, requires = "referrers")]
    json: bool,
    #[command(flatten)]
    platform: super::PlatformOverrides,
    #[command(flatten)]
    registry: RegistryArgs,
    /// The daemon of a docker-daemon: image (unix://PATH, tcp://HOST:PORT,
    /// http://HOST:PORT); default: $DOCKER_HOST, else
    /// unix:///var/run/docker.sock. --tls-verify and --cert-dir (ca.pem,
    /// cert.pem, key.pem) apply to it.
    #[arg(long, value_name = "HOST")]
    daemon_host: Option<String>,
}

#[derive(Debug, Args)]
pub struct ListTagsArgs {
    /// The repository: docker://HOST/REPOSITORY.
    repository: String,
    #[command(flatten)]
    registry: RegistryArgs,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The manifest: docker://HOST/REPOSITORY@DIGEST (or :TAG).
    image: String,
    #[command(flatten)]
    registry: RegistryArgs,
}

/// These commands make one request after another, so one thread does: a
/// multi-threaded runtime would start a worker per core for nothing (about
/// a millisecond of `inspect --raw`'s few; benches/RESULTS.md).
pub(super) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

pub fn inspect(args: &InspectArgs) -> anyhow::Result<ExitCode> {
    use std::io::Write as _;
    let reference = Reference::parse(&args.image)?;
    let options = args.registry.options(&reference)?;
    let daemon = ferry::transport::daemon::DaemonOptions {
        host: args.daemon_host.clone(),
        tls_verify: args.registry.tls_verify,
        cert_dir: args.registry.cert_dir.clone(),
    };
    runtime()?.block_on(async {
        let source = reference
            .open_source_with(&options, &daemon)
            .await
            .with_context(|| format!("opening {reference}"))?;
        let (top, top_type) = source
            .manifest(None)
            .await
            .with_context(|| format!("reading the manifest of {reference}"))?;
        if args.raw && !args.config {
            std::io::stdout().write_all(&top)?;
            return Ok(ExitCode::SUCCESS);
        }
        let top_type = top_type.unwrap_or_else(|| ferry_core::manifest::guess_media_type(&top));
        if args.referrers {
            return print_referrers(&*source, &top, &top_type, args.json).await;
        }
        // A list: look at the image this machine (or the overrides) would
        // run, as skopeo does.
        let (manifest, manifest_type) = if mt::is_list(&top_type) {
            let list = ferry_core::List::from_blob(&top, &top_type)
                .with_context(|| reference.to_string())?;
            let wanted = args.platform.wanted();
            let choice =
                ferry_core::choose::choose_instance(&list, &wanted, &Default::default())
                    .with_context(|| format!("{reference}: choosing the image for {wanted}"))?;
            let entry = &list.entries[choice.index];
            let digest = entry.digest().with_context(|| reference.to_string())?;
            let (bytes, reported) = source.manifest(Some(&digest)).await?;
            entry
                .check_size(bytes.len() as u64)
                .with_context(|| format!("{reference}: entry {} of the list", choice.index))?;
            let t = reported.unwrap_or_else(|| entry.media_type.clone());
            (bytes, t)
        } else {
            (top.clone(), top_type.clone())
        };
        let parsed = ferry_core::Manifest::from_blob(&manifest, &manifest_type)
            .with_context(|| reference.to_string())?;
        let config_descriptor = parsed.config();
        let config = if config_descriptor.digest_text.is_empty() {
            None
        } else {
            let info = ferry::transport::BlobInfo::described(
                config_descriptor
                    .digest()
                    .with_context(|| reference.to_string())?,
                config_descriptor.size,
                &config_descriptor.media_type,
            );
            let (stream, _) = source.blob(&info).await?;
            let mut bytes = Vec::new();
            // Configs are small; a hostile one is cut off, then refused.
            stream
                .take(ferry_core::manifest::MAX_MANIFEST_SIZE as u64 + 1)
                .read_to_end(&mut bytes)
                .await?;
            if !info.digest.matches(&bytes) {
                bail!(
                    "{reference}: the config does not match its digest {}",
                    info.digest
                );
            }
            config_descriptor
                .check_size(bytes.len() as u64)
                .with_context(|| format!("{reference}: the config"))?;
            Some(bytes)
        };
        if args.config {
            let Some(config) = config else {
                bail!("{reference}: a schema 1 image has no config blob");
            };
            std::io::stdout().write_all(&config)?;
            if !args.raw {
                println!();
            }
            return Ok(ExitCode::SUCCESS);
        }
        let config: serde_json::Value = config
            .as_deref()
            .and_then(|c| serde_json::from_slice(c).ok())
            .unwrap_or(serde_json::Value::Null);
        let layers: Vec<String> = parsed
            .layers()
            .iter()
            .map(|l| l.descriptor.digest_text.clone())
            .collect();
        let layers_data: Vec<serde_json::Value> = parsed
            .layers()
            .iter()
            .map(|l| {
                serde_json::json!({
                    "MIMEType": l.descriptor.media_type,
                    "Digest": l.descriptor.digest_text,
                    "Size": l.descriptor.size,
                    "Annotations": l.descriptor.annotations,
                })
            })
            .collect();
        let summary = serde_json::json!({
            "Name": reference.to_string(),
            "Digest": ferry_core::manifest::digest(&top).map(|d| d.to_string()).unwrap_or_default(),
            "MediaType": top_type,
            "Created": config["created"],
            "Architecture": config["architecture"],
            "Os": config["os"],
            "Variant": config["variant"],
            "Labels": config["config"]["Labels"],
            "Env": config["config"]["Env"],
            "Layers": layers,
            "LayersData": layers_data,
        });
        println!("{}", serde_json::to_string_pretty(&summary)?);
        Ok(ExitCode::SUCCESS)
    })
}

/// `inspect --referrers`: the referrers of the manifest `top` (of
/// `top_type`) and, for a list, of each instance, with theirs.
async fn print_referrers(
    source: &dyn ferry::transport::ImageSource,
    top: &[u8],
    top_type: &str,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let found = ferry::copy::manifest_referrers(source, top, top_type)
        .await
        .with_context(|| format!("listing the referrers of {}", source.reference()))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&found)?);
        return Ok(ExitCode::SUCCESS);
    }
    for r in &found {
        let indent = "  ".repeat(r.depth.saturating_sub(1));
        let kind = if r.artifact_type.is_empty() {
            "(no artifact type)"
        } else {
            r.artifact_type.as_str()
        };
        println!(
            "{indent}{}  {kind}  {}  of {}",
            r.digest,
            ferry::output::human_size(r.size),
            r.subject
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn docker_reference(input: &str) -> anyhow::Result<Named> {
    match Reference::parse(input)? {
        Reference::Docker(r) => Ok(r),
        other => bail!("{other}: this command works on docker:// references only"),
    }
}

/// Connects to the registry of `input`, a docker:// reference (to push
/// with `push`), and runs `act` there; a failure of either is said to be
/// in `doing` that reference.
fn on_registry<T>(
    input: &str,
    registry: &RegistryArgs,
    push: bool,
    doing: impl FnOnce(&Named) -> String,
    act: impl AsyncFnOnce(&Registry) -> Result<T, TransportError>,
) -> anyhow::Result<(Named, T)> {
    let reference = docker_reference(input)?;
    let options = registry.options(&Reference::Docker(reference.clone()))?;
    let done = runtime()?
        .block_on(async {
            let registry = Registry::connect(&reference, &options, push).await?;
            act(&registry).await
        })
        .with_context(|| doing(&reference))?;
    Ok((reference, done))
}

pub fn list_tags(args: &ListTagsArgs) -> anyhow::Result<ExitCode> {
    let (reference, tags) = on_registry(
        &args.repository,
        &args.registry,
        false,
        |r| format!("listing tags of docker://{}", r.name()),
        async |registry| registry.tags().await,
    )?;
    let output = serde_json::json!({
        "Repository": reference.name(),
        "Tags": tags,
    });
    println!("{}", serde_json::to_string_pretty(&output)?);
    Ok(ExitCode::SUCCESS)
}

pub fn delete(args: &DeleteArgs) -> anyhow::Result<ExitCode> {
    let (_, digest) = on_registry(
        &args.image,
        &args.registry,
        true,
        |r| format!("deleting docker://{r}"),
        async |registry| registry.delete().await,
    )?;
    eprintln!("Deleted {digest}");
    Ok(ExitCode::SUCCESS)
}
