//! Trust, the native side: reading policy and key files, verifying and
//! making signatures with real cryptography, on behalf of
//! [`ferry_core::trust`]'s decisions.
//!
//! A copy is judged before any byte reaches the destination: the copy
//! machine reads every image it will copy (and the list, when the list
//! is written) with their signatures, and stops at
//! [`Need::Judge`](ferry_core::copy::Need::Judge); [`Trust::judge`]
//! answers it.

use ferry_core::reference::transport::DaemonReference;
use std::fmt;
use std::path::{Path, PathBuf};

use ferry_core::Digest;
use ferry_core::copy::Judged;
use ferry_core::reference::Named;
use ferry_core::trust::{CryptoFailure, Image, ImageScope, Policy, Signed, Verdict, Verifier};

use crate::transport::reference::Reference;

pub mod gpg;
pub mod judge;
pub mod openpgp;
pub mod signer;
pub mod sigstore;

/// The system-wide policy, read when neither `--policy` nor the user's
/// own policy file exists.
pub const SYSTEM_POLICY: &str = "/etc/containers/policy.json";
/// The user's policy, below `$HOME`.
pub const USER_POLICY: &str = ".config/containers/policy.json";

/// Key and policy files larger than this are refused: a keyring is a few
/// KiB, a policy rarely more; a multi-gigabyte "key" is an attack on
/// memory.
const MAX_FILE_SIZE: u64 = 4 << 20;

/// Why the policy cannot be used.
#[derive(Debug)]
#[non_exhaustive]
pub enum PolicyError {
    /// The file cannot be read.
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    /// The file is too large to be a policy.
    TooLarge { path: PathBuf, size: u64 },
    /// The file is not a policy.
    Invalid {
        path: PathBuf,
        error: ferry_core::trust::FormatError,
    },
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyError::Read { path, error } => write!(
                f,
                "reading the signature policy {}: {error} (give one with --policy, or skip the check with --insecure-policy)",
                path.display()
            ),
            PolicyError::TooLarge { path, size } => write!(
                f,
                "the signature policy {} is {size} bytes, larger than any policy ferry reads ({MAX_FILE_SIZE})",
                path.display()
            ),
            PolicyError::Invalid { path, error } => {
                write!(f, "invalid signature policy {}: {error}", path.display())
            }
        }
    }
}

impl std::error::Error for PolicyError {}

/// Where the policy is: `--policy`, else the user's, else the system's
/// (containers/image's order; the user's counts only if it exists).
pub fn policy_path(explicit: Option<&Path>, home: Option<&Path>) -> PathBuf {
    if let Some(path) = explicit {
        return path.to_path_buf();
    }
    if let Some(home) = home {
        let user = home.join(USER_POLICY);
        if user.exists() {
            return user;
        }
    }
    PathBuf::from(SYSTEM_POLICY)
}

/// Reads and parses the policy at `path`.
pub fn load_policy(path: &Path) -> Result<Policy, PolicyError> {
    let bytes = read_capped(path).map_err(|e| match e {
        Capped::Io(error) => PolicyError::Read {
            path: path.to_path_buf(),
            error,
        },
        Capped::TooLarge(size) => PolicyError::TooLarge {
            path: path.to_path_buf(),
            size,
        },
    })?;
    Policy::parse(&bytes).map_err(|error| PolicyError::Invalid {
        path: path.to_path_buf(),
        error,
    })
}

enum Capped {
    Io(std::io::Error),
    TooLarge(u64),
}

fn read_capped(path: &Path) -> Result<Vec<u8>, Capped> {
    use std::io::Read as _;
    let file = std::fs::File::open(path).map_err(Capped::Io)?;
    let size = file.metadata().map_err(Capped::Io)?.len();
    if size > MAX_FILE_SIZE {
        return Err(Capped::TooLarge(size));
    }
    let mut bytes = Vec::with_capacity(size as usize);
    file.take(MAX_FILE_SIZE + 1)
        .read_to_end(&mut bytes)
        .map_err(Capped::Io)?;
    if bytes.len() as u64 > MAX_FILE_SIZE {
        return Err(Capped::TooLarge(bytes.len() as u64));
    }
    Ok(bytes)
}

/// A source image as the policy sees it, with the policy.
#[derive(Debug, Clone)]
pub struct Trust {
    policy: Policy,
    scope: ImageScope,
    reference: Option<Named>,
    name: String,
}

/// An image the policy refused.
#[derive(Debug, Clone)]
pub struct Refused {
    /// The image, as the user named it, and the instance when one of a
    /// list.
    pub image: String,
    pub verdict: Verdict,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is not allowed: {}", self.image, self.verdict)
    }
}

impl std::error::Error for Refused {}

impl Trust {
    /// The policy's view of `source`; `None` for the embedded demo
    /// image, which is part of ferry itself and judged by no policy.
    pub fn for_source(policy: Policy, source: &Reference) -> Option<Trust> {
        let (scope, reference) = match source {
            Reference::Docker(named) => {
                let named = named.clone().with_default_tag();
                (ImageScope::docker(&named), Some(named))
            }
            Reference::Dir(path) => (ImageScope::dir(&explicit_path(path)), None),
            Reference::Oci(r) => (ImageScope::oci("oci", &explicit_path(&r.path)), None),
            Reference::OciArchive(r) => (
                ImageScope::oci("oci-archive", &explicit_path(&r.path)),
                None,
            ),
            Reference::DockerArchive(r) => (ImageScope::unscoped("docker-archive"), r.name.clone()),
            // As containers/image: a name scopes as a registry's does, an
            // image ID only by the transport's default.
            Reference::DockerDaemon(DaemonReference::Named(named)) => (
                ImageScope {
                    transport: "docker-daemon".into(),
                    ..ImageScope::docker(named)
                },
                Some(named.clone()),
            ),
            Reference::DockerDaemon(DaemonReference::Id(_)) => {
                (ImageScope::unscoped("docker-daemon"), None)
            }
            // The transport's default policy applies; containers/image's
            // `[driver@graphroot]NAME` scopes are not read yet.
            Reference::ContainersStorage(r) => {
                (ImageScope::unscoped("containers-storage"), r.named.clone())
            }
            Reference::Demo => return None,
        };
        Some(Trust {
            policy,
            scope,
            reference,
            name: source.to_string(),
        })
    }

    /// Whether the policy allows the source whatever it holds: a copy
    /// then has nothing to judge ([`Policy::accepts_anything`]).
    pub fn accepts_anything(&self) -> bool {
        self.policy.accepts_anything(&self.scope)
    }

    /// Judges each image; the first refusal, if any.
    pub fn judge(&self, images: &[Judged]) -> Result<Vec<Verdict>, Refused> {
        let mut verifier = KeyFiles::default();
        let mut verdicts = Vec::with_capacity(images.len());
        for judged in images {
            let verdict = self.judge_one(judged, &mut verifier);
            if !verdict.is_allowed() {
                return Err(Refused {
                    image: self.image_name(judged.instance.as_ref()),
                    verdict,
                });
            }
            verdicts.push(verdict);
        }
        Ok(verdicts)
    }

    /// Judges one image with `verifier`.
    pub fn judge_one(&self, judged: &Judged, verifier: &mut dyn Verifier) -> Verdict {
        let image = Image {
            name: &self.name,
            scope: &self.scope,
            reference: self.reference.as_ref(),
            manifest: &judged.manifest,
            signatures: &judged.signatures,
        };
        self.policy.judge(&image, verifier)
    }

    /// `docker://…` or `docker://… (instance sha256:…)`.
    pub fn image_name(&self, instance: Option<&Digest>) -> String {
        match instance {
            None => self.name.clone(),
            Some(d) => format!("{} (instance {d})", self.name),
        }
    }
}

/// containers/image's `ResolvePathToFullyExplicit`: absolute, with
/// symlinks resolved; for a path that does not exist yet, its parent
/// resolved and the last component kept.
fn explicit_path(path: &Path) -> String {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let resolved = match std::fs::canonicalize(&absolute) {
        Ok(p) => p,
        Err(_) => match (absolute.parent(), absolute.file_name()) {
            (Some(parent), Some(name)) => std::fs::canonicalize(parent)
                .map(|p| p.join(name))
                .unwrap_or(absolute.clone()),
            _ => absolute.clone(),
        },
    };
    resolved.to_string_lossy().into_owned()
}

fn crypto_failure(error: openpgp::VerifyError) -> CryptoFailure {
    use openpgp::VerifyError as E;
    let detail = error.to_string();
    match error {
        E::UnknownKey { key_id } => CryptoFailure::UnknownKey { key_id },
        E::KeyExpired { .. } | E::SignatureExpired { .. } => CryptoFailure::Expired { detail },
        E::KeyRevoked { .. } => CryptoFailure::Revoked { detail },
        E::BadSignature { .. } => CryptoFailure::BadSignature { detail },
        _ => CryptoFailure::Malformed { detail },
    }
}

/// What makes a copy's new signatures (`--sign-by…`).
pub trait Sign: Send + Sync + fmt::Debug {
    /// The signatures, in their stored form, of the manifest written as
    /// `digest`.
    fn sign(&self, digest: &Digest) -> Result<Vec<Vec<u8>>, String>;
}

/// The native [`Verifier`]: key files from disk, OpenPGP in-process.
#[derive(Debug, Default)]
pub struct KeyFiles {
    now: Option<std::time::SystemTime>,
    /// The keyring last built, for the key files it was built from: a
    /// requirement checks every signature of every image with the same
    /// keys, and parsing them once per signature would make 10,000
    /// signatures cost 10,000 keyrings.
    keyring: Option<(Vec<Vec<u8>>, openpgp::Keyring)>,
}

impl KeyFiles {
    /// A verifier that judges expiry at `now` instead of the clock's
    /// time (for tests).
    pub fn at(now: std::time::SystemTime) -> Self {
        KeyFiles {
            now: Some(now),
            keyring: None,
        }
    }

    fn keyring(&mut self, keys: &[Vec<u8>]) -> Result<&openpgp::Keyring, CryptoFailure> {
        let cached = matches!(&self.keyring, Some((k, _)) if k.as_slice() == keys);
        if !cached {
            let mut keyring = openpgp::Keyring::new();
            for (i, key) in keys.iter().enumerate() {
                keyring.add(key).map_err(|e| CryptoFailure::Malformed {
                    detail: format!("key {} of the requirement: {e}", i + 1),
                })?;
            }
            self.keyring = Some((keys.to_vec(), keyring));
        }
        Ok(&self.keyring.as_ref().expect("just built").1)
    }
}

impl Verifier for KeyFiles {
    fn read_key_file(&mut self, path: &str) -> Result<Vec<u8>, String> {
        read_capped(Path::new(path)).map_err(|e| match e {
            Capped::Io(e) => e.to_string(),
            Capped::TooLarge(size) => {
                format!("{size} bytes, larger than any key file ferry reads ({MAX_FILE_SIZE})")
            }
        })
    }

    fn verify_openpgp(
        &mut self,
        keys: &[Vec<u8>],
        signature: &[u8],
    ) -> Result<Signed, CryptoFailure> {
        let now = self.now.unwrap_or_else(std::time::SystemTime::now);
        let keyring = self.keyring(keys)?;
        let verified = keyring.verify(signature, now).map_err(crypto_failure)?;
        // containers/image trusts the keys it imported, by their primary
        // fingerprints, and compares the key that signed: a signature by
        // a subkey is refused, as skopeo refuses it.
        if !keyring
            .fingerprints()
            .contains(&verified.signer_fingerprint)
        {
            return Err(CryptoFailure::UnknownKey {
                key_id: verified.signer_fingerprint,
            });
        }
        Ok(Signed {
            payload: verified.payload,
            signer: verified.signer_fingerprint,
        })
    }
}
