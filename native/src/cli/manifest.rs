//! `ferry manifest …`: commands over manifest files.

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use ferry::input::{self, Source};
use ferry::output::{human_size, line_safe, short_digest, terminal_safe};
use ferry_core::Digest;
use ferry_core::inspect::{Content, Inspection};
use ferry_core::validate::Severity;

#[derive(Debug, Subcommand)]
pub enum ManifestCommand {
    /// Print the manifest digest: sha256 of the exact bytes, or of the
    /// signed payload for signed Docker schema 1. Refuses what is not JSON
    /// (`ferry manifest-digest` hashes anything, as skopeo does).
    Digest(DigestArgs),
    /// Show a manifest's or list's media type, digest, config and layers
    /// or entries and platforms.
    Inspect(InspectArgs),
    /// Print the digest of the list entry a platform would run, with
    /// containers/image's rules.
    Choose(ChooseArgs),
    /// Convert a list between Docker manifest list and OCI index forms:
    /// the new bytes on stdout, what was lost on stderr.
    Convert(ConvertArgs),
    /// Report every problem in a manifest or list. Exits 0 when valid, 1
    /// when not, 2 when the file cannot be read or the command line is
    /// wrong.
    Validate(ValidateArgs),
}

#[derive(Debug, Args)]
pub struct DigestArgs {
    /// The manifest file, or `-` for standard input.
    file: String,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The manifest or list file, or `-` for standard input.
    file: String,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Read the file as this media type instead of the declared or
    /// detected one.
    #[arg(long, value_name = "TYPE")]
    media_type: Option<String>,
}

#[derive(Debug, Args)]
pub struct ChooseArgs {
    /// The list file, or `-` for standard input.
    file: String,
    /// The platform to choose for: os/architecture[/variant].
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    platform: ferry_core::Platform,
    /// Windows only: the host's os.version (10.0.BUILD.REVISION); with
    /// --match-os-version, entries must have the same build.
    #[arg(long, value_name = "VERSION")]
    os_version: Option<String>,
    /// Show, for every entry, whether it was acceptable and why.
    #[arg(long)]
    explain: bool,
    /// Print {"digest": …, "explanation": […]} as JSON.
    #[arg(long)]
    json: bool,
    /// Accept lower amd64 levels (v3 runs v3, v2, v1), preferring the
    /// highest. Not in containers/image.
    #[arg(long)]
    amd64_levels: bool,
    /// Require Windows entries to match --os-version's build number,
    /// preferring the newest revision. Not in containers/image.
    #[arg(long, requires = "os_version")]
    match_os_version: bool,
    /// Never choose attestation entries. Not in containers/image.
    #[arg(long)]
    skip_attestations: bool,
    /// Prefer gzip instances over zstd ones among equals
    /// (containers/image prefers zstd).
    #[arg(long)]
    prefer_gzip: bool,
}

/// The list formats `convert` can produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ListFormat {
    /// OCI image index.
    OciIndex,
    /// Docker manifest list.
    DockerList,
}

#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// The list file, or `-` for standard input.
    file: String,
    /// The form to convert to.
    #[arg(long, value_enum)]
    to: ListFormat,
    /// Print a JSON report ({"digest", "mediaType", "losses"}) on stdout
    /// instead of the converted bytes.
    #[arg(long)]
    report: bool,
    /// OCI → Docker: the platform for entries that have none (Docker lists
    /// require one). Without it, an empty platform is written and reported.
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    default_platform: Option<ferry_core::Platform>,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// The manifest or list file, or `-` for standard input.
    file: String,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(command: ManifestCommand) -> anyhow::Result<ExitCode> {
    match command {
        ManifestCommand::Digest(args) => digest(&args),
        ManifestCommand::Inspect(args) => inspect(&args),
        ManifestCommand::Choose(args) => choose(&args),
        ManifestCommand::Convert(args) => convert(&args),
        ManifestCommand::Validate(args) => validate(&args),
    }
}

/// Parses the list `choose` and `convert` work on. Input that is not JSON
/// says so: the core, following containers/image, would guess it to be
/// schema 1 and call it "a single image manifest, not a manifest list".
fn parse_list(bytes: &[u8], source: &Source) -> anyhow::Result<ferry_core::List> {
    if let Err(e) = ferry_core::json::parse(bytes) {
        anyhow::bail!("{source}: not a manifest list: not valid JSON: {e}");
    }
    ferry_core::List::parse(bytes).with_context(|| source.to_string())
}

fn convert(args: &ConvertArgs) -> anyhow::Result<ExitCode> {
    use ferry_core::list::{ConvertOptions, ListKind};
    use std::io::Write as _;
    let source = Source::parse(&args.file);
    let bytes = input::read_manifest(&source)?;
    let list = parse_list(&bytes, &source)?;
    let kind = match args.to {
        ListFormat::OciIndex => ListKind::OciIndex,
        ListFormat::DockerList => ListKind::DockerList,
    };
    let options = ConvertOptions {
        platform_for_unplatformed: args.default_platform.clone(),
    };
    let conversion = list
        .convert_to(kind, &options)
        .with_context(|| format!("{source}: cannot convert"))?;
    let converted = &conversion.list;
    if args.report {
        let report = serde_json::json!({
            "mediaType": converted.list_media_type(),
            "digest": converted.digest().to_string(),
            "size": converted.serialize().len(),
            "losses": conversion.losses,
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        std::io::stdout().write_all(converted.serialize())?;
        for loss in &conversion.losses {
            eprintln!("ferry: {source}: {loss}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn choose(args: &ChooseArgs) -> anyhow::Result<ExitCode> {
    use ferry_core::choose::{ChooseOptions, Verdict, choose_instance};
    let source = Source::parse(&args.file);
    let bytes = input::read_manifest(&source)?;
    let list = parse_list(&bytes, &source)?;
    let mut wanted = args.platform.clone();
    wanted.os_version = args.os_version.clone().unwrap_or_default();
    let options = ChooseOptions {
        prefer_gzip: args.prefer_gzip,
        amd64_levels: args.amd64_levels,
        windows_os_version: args.match_os_version,
        skip_attestations: args.skip_attestations,
    };
    let explain = |verdicts: &[Verdict]| {
        for v in verdicts {
            let mark = if v.chosen {
                "chosen  "
            } else if v.accepted {
                "accepted"
            } else {
                "rejected"
            };
            let platform = line_safe(v.platform.as_deref().unwrap_or("(no platform)"));
            eprintln!(
                "  {:>3}  {mark}  {platform:<20}  {}  {}",
                v.index + 1,
                line_safe(short_digest(&v.digest)),
                line_safe(&v.reason)
            );
        }
    };
    match choose_instance(&list, &wanted, &options) {
        Ok(choice) => {
            // Scripts use the printed digest as a reference or a file name;
            // the list is a stranger's, so an entry whose digest is not one
            // (`sha256:../../etc/passwd`) is refused, not passed on.
            if let Err(e) = Digest::parse(&choice.digest) {
                anyhow::bail!("{source}: the chosen entry {} has an {e}", choice.index + 1);
            }
            if args.json {
                println!("{}", serde_json::to_string_pretty(&choice)?);
            } else {
                println!("{}", choice.digest);
                if args.explain {
                    explain(&choice.explanation);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(no_match) => {
            if args.json {
                let value = serde_json::json!({
                    "digest": null,
                    "error": no_match.to_string(),
                    "explanation": no_match.explanation,
                });
                println!("{}", serde_json::to_string_pretty(&value)?);
            }
            eprintln!("ferry: error: {source}: {no_match}");
            if args.explain && !args.json {
                explain(&no_match.explanation);
            }
            Ok(ExitCode::from(1))
        }
    }
}

/// `ferry manifest-digest`: what `skopeo manifest-digest` prints, for any
/// file. skopeo reads the whole file, whatever its size, and hashes it as
/// containers/image's `manifest.Digest` does, so the strict checks of
/// [`digest`] (JSON, not empty, at most 4 MiB) do not apply.
pub fn skopeo_digest(args: &DigestArgs) -> anyhow::Result<ExitCode> {
    let source = Source::parse(&args.file);
    let bytes = input::read_all(&source)?;
    print_digest(&source, ferry_core::manifest::digest(&bytes))
}

pub fn digest(args: &DigestArgs) -> anyhow::Result<ExitCode> {
    let source = Source::parse(&args.file);
    let bytes = input::read_manifest(&source)?;
    print_digest(&source, ferry_core::manifest::digest_document(&bytes))
}

/// Prints the digest computed for `source`, or says why there is none.
fn print_digest<E>(source: &Source, digest: Result<Digest, E>) -> anyhow::Result<ExitCode>
where
    E: std::error::Error + Send + Sync + 'static,
{
    let digest = digest.with_context(|| format!("{source}: cannot compute the manifest digest"))?;
    println!("{digest}");
    Ok(ExitCode::SUCCESS)
}

fn inspect(args: &InspectArgs) -> anyhow::Result<ExitCode> {
    let source = Source::parse(&args.file);
    let bytes = input::read_manifest(&source)?;
    let inspection = ferry_core::inspect::inspect(&bytes, args.media_type.as_deref())
        .with_context(|| source.to_string())?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&inspection)?);
    } else {
        print!("{}", terminal_safe(&render(&inspection)));
    }
    Ok(ExitCode::SUCCESS)
}

fn validate(args: &ValidateArgs) -> anyhow::Result<ExitCode> {
    let source = Source::parse(&args.file);
    let report = match input::read_bounded(&source) {
        Err(e) => {
            eprintln!("ferry: error: {e}");
            return Ok(ExitCode::from(2));
        }
        Ok(input::Read::TooLarge) => {
            // Validating the first 4 MiB would only add noise: the size
            // alone makes the document unusable.
            let mut oversized = vec![b' '; ferry_core::manifest::MAX_MANIFEST_SIZE + 1];
            oversized[0] = b'0';
            let mut report = ferry_core::validate::validate(&oversized);
            report.diagnostics.retain(|d| d.message.contains("4 MiB"));
            report
        }
        Ok(input::Read::Bytes(bytes)) => ferry_core::validate::validate(&bytes),
    };
    if args.json {
        let mut value = serde_json::to_value(&report)?;
        value["valid"] = report.is_valid().into();
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        for d in &report.diagnostics {
            println!("{source}: {d}");
        }
        let errors = count(&report, Severity::Error);
        let warnings = count(&report, Severity::Warning);
        if report.is_valid() {
            println!("{source}: valid ({warnings} warning(s))");
        } else {
            println!("{source}: invalid: {errors} error(s), {warnings} warning(s)");
        }
    }
    Ok(if report.is_valid() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn count(report: &ferry_core::validate::Report, severity: Severity) -> usize {
    report
        .diagnostics
        .iter()
        .filter(|d| d.severity == severity)
        .count()
}

/// The text form of an inspection: one line per fact, one row per layer
/// or entry. Every value from the document goes through [`line_safe`], so
/// a newline inside one cannot start a line of its own.
fn render(i: &Inspection) -> String {
    let mut out = String::new();
    let declared = match &i.declared_media_type {
        Some(d) if *d == i.media_type => " (declared)".to_string(),
        Some(d) => format!(" (declared {d:?})"),
        None => " (detected; no mediaType in the document)".to_string(),
    };
    let _ = writeln!(out, "Media type:  {}{declared}", line_safe(&i.media_type));
    if i.detected_media_type != i.media_type {
        let detected = if i.detected_media_type.is_empty() {
            "nothing recognisable"
        } else {
            &i.detected_media_type
        };
        let _ = writeln!(out, "Detected:    {}", line_safe(detected));
    }
    match &i.digest {
        Some(digest) => {
            let _ = writeln!(out, "Digest:      {digest}");
        }
        None => {
            let _ = writeln!(out, "Digest:      none (see the problem below)");
        }
    }
    let _ = writeln!(out, "Size:        {} bytes", i.size);
    match &i.content {
        Content::Image {
            config,
            layers,
            total_size,
            image_id,
        } => {
            if config.digest_text.is_empty() {
                let _ = writeln!(out, "Config:      none (schema 1 keeps it in the history)");
            } else {
                let _ = writeln!(
                    out,
                    "Config:      {}  {}  {}",
                    line_safe(&config.digest_text),
                    human_size(config.size),
                    line_safe(&config.media_type)
                );
            }
            if let Some(id) = image_id {
                let _ = writeln!(out, "Image ID:    {}", line_safe(id));
            }
            let _ = writeln!(out, "Layers:      {}", layers.len());
            for (n, layer) in layers.iter().enumerate() {
                let d = &layer.descriptor;
                let empty = if layer.empty_layer { "  (empty)" } else { "" };
                let media_type = if d.media_type.is_empty() {
                    "-"
                } else {
                    &d.media_type
                };
                let _ = writeln!(
                    out,
                    "  {:>3}  {}  {:>10}  {}{empty}",
                    n + 1,
                    line_safe(&d.digest_text),
                    human_size(d.size),
                    line_safe(media_type)
                );
            }
            match total_size {
                Some(total) => {
                    let _ = writeln!(out, "Total size:  {} ({total} bytes)", human_size(*total));
                }
                None => {
                    let _ = writeln!(out, "Total size:  unknown (schema 1 records no sizes)");
                }
            }
        }
        Content::List {
            manifests,
            annotations,
        } => {
            // Sizes are a stranger's numbers: three of i64::MAX must not
            // overflow (a panic in debug builds, nonsense in release).
            let total = manifests
                .iter()
                .map(|m| m.size.max(0))
                .fold(0i64, i64::saturating_add);
            let _ = writeln!(
                out,
                "Manifests:   {} ({} of manifests)",
                manifests.len(),
                human_size(total)
            );
            let _ = writeln!(
                out,
                "  {:<3}  {:<20}  {:<19}  {:>10}  MEDIA TYPE",
                "#", "PLATFORM", "DIGEST", "SIZE"
            );
            for (n, m) in manifests.iter().enumerate() {
                let platform = match &m.platform {
                    Some(p) if p.os.is_empty() && p.architecture.is_empty() => "-".to_string(),
                    Some(p) => {
                        let mut s = p.to_string();
                        if !p.os_version.is_empty() {
                            let _ = write!(s, " ({})", p.os_version);
                        }
                        s
                    }
                    None => "(none)".to_string(),
                };
                let _ = writeln!(
                    out,
                    "  {:<3}  {:<20}  {:<19}  {:>10}  {}",
                    n + 1,
                    line_safe(&platform),
                    line_safe(short_digest(&m.digest_text)),
                    human_size(m.size),
                    line_safe(&m.media_type)
                );
                for (k, v) in &m.annotations {
                    let _ = writeln!(out, "         {}={}", line_safe(k), line_safe(v));
                }
            }
            if !annotations.is_empty() {
                let _ = writeln!(out, "Annotations:");
                for (k, v) in annotations {
                    let _ = writeln!(out, "  {}={}", line_safe(k), line_safe(v));
                }
            }
        }
    }
    for d in &i.diagnostics {
        let _ = writeln!(out, "Problem:     {}", line_safe(&d.to_string()));
    }
    out
}
