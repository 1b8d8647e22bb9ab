//! Signing: `copy --sign-by…`, `standalone-sign`, `standalone-verify`,
//! `generate-sigstore-key`, as skopeo spells them.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use ferry::transport::reference::Reference;
use ferry::trust::gpg::Gpg;
use ferry::trust::openpgp::Keyring;
use ferry::trust::signer::{OpenPgpKey, Signers};
use ferry::trust::sigstore::{SigstoreSigner, generate_key_files};
use ferry_core::reference::Named;
use ferry_core::trust::{Format, Payload};

/// `copy`'s signing options.
#[derive(Debug, clap::Args)]
pub struct SignArgs {
    /// Sign every image written, and the list, with this GnuPG key
    /// (fingerprint), as simple signing.
    #[arg(long, value_name = "FINGERPRINT")]
    sign_by: Option<String>,
    /// Sign every image written, and the list, with this cosign private
    /// key (sigstore).
    #[arg(long, value_name = "PATH")]
    sign_by_sigstore_private_key: Option<PathBuf>,
    /// The passphrase of the signing key: the file's first line.
    #[arg(long, value_name = "PATH")]
    sign_passphrase_file: Option<PathBuf>,
    /// The docker reference the signatures name (default: the
    /// destination's), fully specified: HOST/REPOSITORY:TAG.
    #[arg(long, value_name = "REFERENCE")]
    sign_identity: Option<String>,
}

impl SignArgs {
    /// The signers for a copy to `destination`; `None` without signing
    /// options.
    pub fn signers(&self, destination: &Reference) -> anyhow::Result<Option<Arc<Signers>>> {
        if self.sign_by.is_none() && self.sign_by_sigstore_private_key.is_none() {
            if self.sign_identity.is_some() || self.sign_passphrase_file.is_some() {
                bail!(
                    "--sign-identity and --sign-passphrase-file need --sign-by or --sign-by-sigstore-private-key"
                );
            }
            return Ok(None);
        }
        if self.sign_by.is_some()
            && self.sign_by_sigstore_private_key.is_some()
            && self.sign_passphrase_file.is_some()
        {
            bail!(
                "--sign-passphrase-file would serve two keys: sign with one of --sign-by and --sign-by-sigstore-private-key at a time"
            );
        }
        let identity = match &self.sign_identity {
            Some(text) => Named::parse_canonical(text)
                .with_context(|| format!("--sign-identity {text:?}"))?
                .to_string(),
            None => destination_identity(destination)?,
        };
        let passphrase = self
            .sign_passphrase_file
            .as_deref()
            .map(read_passphrase)
            .transpose()?;
        let openpgp = match &self.sign_by {
            Some(key) => {
                let gpg = Gpg::new();
                // A key gpg cannot sign with (unknown, wrong passphrase)
                // fails the copy now, before anything moves, rather than
                // after the blobs and the first manifest are written.
                gpg.sign(b"ferry: can this key sign?", key, passphrase.as_deref())
                    .with_context(|| format!("--sign-by {key}"))?;
                Some(OpenPgpKey {
                    gpg,
                    key: key.clone(),
                    passphrase: passphrase.clone(),
                })
            }
            None => None,
        };
        let sigstore = match &self.sign_by_sigstore_private_key {
            Some(path) => Some(load_sigstore_key(path, passphrase.as_deref())?),
            None => None,
        };
        Ok(Some(Arc::new(Signers {
            identity,
            openpgp,
            sigstore,
        })))
    }
}

/// The docker reference a destination's signatures name, as
/// containers/image takes it: a registry's (tagged `latest` when
/// untagged), a `docker-archive:` name; other places have none.
fn destination_identity(destination: &Reference) -> anyhow::Result<String> {
    match destination {
        Reference::Docker(named) => Ok(named.clone().with_default_tag().to_string()),
        Reference::DockerArchive(r) if r.name.is_some() => {
            Ok(r.name.clone().expect("checked").to_string())
        }
        other => bail!(
            "cannot tell which docker reference signatures for {other} should name: give it with --sign-identity"
        ),
    }
}

/// The passphrase: the file's first line, as skopeo reads it.
fn read_passphrase(path: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the passphrase file {}", path.display()))?;
    Ok(text.lines().next().unwrap_or_default().to_string())
}

/// A cosign key with the passphrase given, or the empty one.
fn load_sigstore_key(path: &Path, passphrase: Option<&str>) -> anyhow::Result<SigstoreSigner> {
    SigstoreSigner::from_file(path, passphrase.unwrap_or_default().as_bytes()).with_context(|| {
        match passphrase {
            Some(_) => format!("loading the sigstore private key {}", path.display()),
            None => format!(
                "loading the sigstore private key {} (with the empty passphrase; give one with --sign-passphrase-file)",
                path.display()
            ),
        }
    })
}

/// `ferry standalone-sign`.
#[derive(Debug, clap::Args)]
pub struct StandaloneSignArgs {
    /// The manifest to sign.
    manifest: PathBuf,
    /// The docker reference the signature names.
    docker_reference: String,
    /// The GnuPG key to sign with.
    key_fingerprint: String,
    /// Where to write the signature.
    #[arg(short, long, value_name = "PATH")]
    output: PathBuf,
    /// The key's passphrase: the file's first line.
    #[arg(long, value_name = "PATH")]
    passphrase_file: Option<PathBuf>,
}

/// Signs a manifest file as `skopeo standalone-sign` does.
pub fn standalone_sign(args: &StandaloneSignArgs) -> anyhow::Result<ExitCode> {
    let manifest = std::fs::read(&args.manifest)
        .with_context(|| format!("reading {}", args.manifest.display()))?;
    let digest = ferry_core::manifest::digest(&manifest)
        .with_context(|| format!("the digest of {}", args.manifest.display()))?;
    let identity = Named::parse_normalized(&args.docker_reference)
        .with_context(|| format!("docker reference {:?}", args.docker_reference))?;
    let passphrase = args
        .passphrase_file
        .as_deref()
        .map(read_passphrase)
        .transpose()?;
    let payload =
        ferry::trust::signer::payload(&identity.to_string(), &digest, Format::SimpleSigning)
            .map_err(anyhow::Error::msg)?;
    let signature = Gpg::new()
        .sign(&payload, &args.key_fingerprint, passphrase.as_deref())
        .with_context(|| format!("signing with {}", args.key_fingerprint))?;
    // The signature appears whole or not at all.
    tokio::runtime::Builder::new_current_thread()
        .build()
        .context("starting the async runtime")?
        .block_on(ferry::fs::atomic::write_atomic(
            &args.output,
            &signature,
            ferry::fs::atomic::Durability::Synced,
        ))
        .with_context(|| format!("writing {}", args.output.display()))?;
    Ok(ExitCode::SUCCESS)
}

/// `ferry standalone-verify`.
#[derive(Debug, clap::Args)]
pub struct StandaloneVerifyArgs {
    /// The manifest the signature must be for.
    manifest: PathBuf,
    /// The docker reference the signature must name.
    docker_reference: String,
    /// The fingerprints of the keys to accept, comma-separated ("any" with
    /// --public-key-file: any key of the file).
    key_fingerprints: String,
    /// The signature.
    signature: PathBuf,
    /// Read the keys from this file instead of the GnuPG keyring.
    #[arg(long, value_name = "PATH")]
    public_key_file: Option<PathBuf>,
}

/// Verifies a signature file as `skopeo standalone-verify` does.
pub fn standalone_verify(args: &StandaloneVerifyArgs) -> anyhow::Result<ExitCode> {
    let read =
        |path: &Path| std::fs::read(path).with_context(|| format!("reading {}", path.display()));
    let manifest = read(&args.manifest)?;
    let signature = read(&args.signature)?;
    let fingerprints: Vec<String> = args
        .key_fingerprints
        .split(',')
        .map(|f| f.trim().to_ascii_uppercase())
        .filter(|f| !f.is_empty())
        .collect();
    let any = fingerprints == ["ANY"];
    if any && args.public_key_file.is_none() {
        bail!("\"any\" key fingerprint needs --public-key-file");
    }
    let keys = match &args.public_key_file {
        Some(path) => read(path)?,
        None => export_from_keyring(&fingerprints)?,
    };
    let keyring = Keyring::from_bytes(&keys).context("reading the public keys")?;
    let verified = keyring
        .verify(&signature, std::time::SystemTime::now())
        .context("verifying the signature")?;
    if !any && !fingerprints.contains(&verified.signer_fingerprint) {
        bail!(
            "signature by key {}, which is not among {}",
            verified.signer_fingerprint,
            fingerprints.join(", ")
        );
    }
    let payload = Payload::parse(&verified.payload, Format::SimpleSigning)
        .context("reading the signature's payload")?;
    let expected = Named::parse_normalized(&args.docker_reference)
        .with_context(|| format!("docker reference {:?}", args.docker_reference))?;
    if payload.docker_reference != expected.to_string() {
        bail!(
            "the signature names docker reference {}, not {}",
            payload.docker_reference,
            expected
        );
    }
    let digest = ferry_core::manifest::digest(&manifest)
        .with_context(|| format!("the digest of {}", args.manifest.display()))?;
    if payload.manifest_digest != digest.to_string() {
        bail!(
            "the signature is for manifest digest {}, not {digest}",
            payload.manifest_digest
        );
    }
    // skopeo 1.9.3's words.
    println!("Signature verified, digest {}", payload.manifest_digest);
    Ok(ExitCode::SUCCESS)
}

/// The public keys with these fingerprints, from the user's GnuPG
/// keyring (skopeo verifies with that keyring through gpgme).
fn export_from_keyring(fingerprints: &[String]) -> anyhow::Result<Vec<u8>> {
    let out = std::process::Command::new("gpg")
        .args(["--batch", "--no-tty", "--export"])
        .args(fingerprints)
        .output()
        .context("running gpg to read the keyring (install gnupg, or give --public-key-file)")?;
    if !out.status.success() || out.stdout.is_empty() {
        bail!(
            "no key {} in the GnuPG keyring: {}",
            fingerprints.join(", "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(out.stdout)
}

/// `ferry generate-sigstore-key`.
#[derive(Debug, clap::Args)]
pub struct GenerateSigstoreKeyArgs {
    /// Write PREFIX.private and PREFIX.pub.
    #[arg(long, value_name = "PREFIX")]
    output_prefix: PathBuf,
    /// The passphrase that encrypts the private key: the file's first
    /// line (default: the empty passphrase).
    #[arg(long, value_name = "PATH")]
    passphrase_file: Option<PathBuf>,
}

/// Makes a cosign key pair as `skopeo generate-sigstore-key` does.
pub fn generate_sigstore_key(args: &GenerateSigstoreKeyArgs) -> anyhow::Result<ExitCode> {
    let passphrase = args
        .passphrase_file
        .as_deref()
        .map(read_passphrase)
        .transpose()?
        .unwrap_or_default();
    let (private, public) = generate_key_files(&args.output_prefix, passphrase.as_bytes())?;
    println!(
        "Key written to {} and {}",
        private.display(),
        public.display()
    );
    Ok(ExitCode::SUCCESS)
}
