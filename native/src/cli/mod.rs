//! Command-line definitions and dispatch.

mod copy;
mod login;
mod manifest;
mod registry;
mod serve;
mod sign;
mod sync;
mod trust;

/// `--override-os/--override-arch/--override-variant`, as skopeo spells
/// them for `copy` and `inspect`: which image of a list to take instead of
/// the one this machine would run.
#[derive(Debug, clap::Args)]
pub struct PlatformOverrides {
    /// For a list, the image for this OS instead of the host's.
    #[arg(long, value_name = "OS")]
    override_os: Option<String>,
    /// For a list, the image for this architecture instead of the host's.
    #[arg(long, value_name = "ARCH")]
    override_arch: Option<String>,
    /// For a list, the image for this architecture variant.
    #[arg(long, value_name = "VARIANT")]
    override_variant: Option<String>,
}

impl PlatformOverrides {
    /// The platform wanted: the host's, with the overrides applied.
    pub fn wanted(&self) -> ferry_core::platform::Platform {
        ferry::host::wanted_platform(
            self.override_os.as_deref(),
            self.override_arch.as_deref(),
            self.override_variant.as_deref(),
        )
    }
}

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Copy container images and manifest lists between registries, OCI
/// layouts, archives and directories, and understand every manifest format
/// on the way.
#[derive(Debug, Parser)]
#[command(name = "ferry", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    trust: trust::TrustArgs,
}

// One command line is parsed per process; boxing the larger arguments
// would only add noise.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Copy an image or a whole manifest list between places.
    Copy(copy::CopyArgs),
    /// Mirror repositories or a YAML list of images from a registry or
    /// directory to a registry or directory, as `skopeo sync`.
    Sync(sync::SyncArgs),
    /// Check credentials against a registry and store them in auth.json.
    Login(login::LoginArgs),
    /// Remove stored credentials for a registry (or all of them).
    Logout(login::LogoutArgs),
    /// Judge an image by the signature policy, as `copy` judges it:
    /// exit 0 allowed, 1 refused, 2 unusable input.
    Verify(trust::VerifyArgs),
    /// Show an image's manifest, config or summary, from any transport.
    Inspect(registry::InspectArgs),
    /// List a registry repository's tags.
    #[command(name = "list-tags")]
    ListTags(registry::ListTagsArgs),
    /// Delete a manifest from a registry.
    Delete(registry::DeleteArgs),
    /// Serve the browser inspector, with a read-only proxy to registries.
    Serve(serve::ServeArgs),
    /// Read, digest and validate manifest and list files.
    #[command(subcommand)]
    Manifest(manifest::ManifestCommand),
    /// Print the digest of a file exactly as `skopeo manifest-digest`
    /// does: of any bytes, JSON or not (`ferry manifest digest` refuses
    /// what is not a manifest).
    #[command(name = "manifest-digest")]
    ManifestDigest(manifest::DigestArgs),
    /// Sign a manifest file with a GnuPG key (simple signing).
    #[command(name = "standalone-sign")]
    StandaloneSign(sign::StandaloneSignArgs),
    /// Verify a simple signature of a manifest file.
    #[command(name = "standalone-verify")]
    StandaloneVerify(sign::StandaloneVerifyArgs),
    /// Make a cosign (sigstore) key pair.
    #[command(name = "generate-sigstore-key")]
    GenerateSigstoreKey(sign::GenerateSigstoreKeyArgs),
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Copy(args) => copy::run(&args, &cli.trust),
        Command::Sync(args) => sync::run(&args, &cli.trust),
        Command::Login(args) => login::login(&args),
        Command::Logout(args) => login::logout(&args),
        Command::Verify(args) => trust::verify(&args, &cli.trust),
        Command::StandaloneSign(args) => sign::standalone_sign(&args),
        Command::StandaloneVerify(args) => sign::standalone_verify(&args),
        Command::GenerateSigstoreKey(args) => sign::generate_sigstore_key(&args),
        Command::Inspect(args) => registry::inspect(&args),
        Command::ListTags(args) => registry::list_tags(&args),
        Command::Delete(args) => registry::delete(&args),
        Command::Serve(args) => serve::run(&args, &cli.trust),
        Command::Manifest(command) => manifest::run(command),
        Command::ManifestDigest(args) => manifest::skopeo_digest(&args),
    }
}
