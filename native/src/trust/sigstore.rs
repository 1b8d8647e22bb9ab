//! Sigstore (cosign) keys and signing, the native half: what needs
//! randomness, a passphrase's slow key derivation or files.
//!
//! [`ferry_core::trust::sigstore`] decides everything about the formats
//! (PEM blocks, the encrypted key's JSON envelope and which scrypt costs
//! are acceptable, the payload's bytes, checking signatures); this module
//! runs scrypt and NaCl secretbox over it, generates and loads P-256 keys,
//! and signs, as `skopeo generate-sigstore-key` and
//! `--sign-by-sigstore-private-key` do with containers/image:
//! - a key pair is an `ENCRYPTED COSIGN PRIVATE KEY` PEM block (scrypt
//!   N=2^15 r=8 p=1, 32-byte salt, XSalsa20-Poly1305 over the PKCS #8 DER
//!   key) and a `PUBLIC KEY` PEM block, which containers/image 5.23 and
//!   every cosign read;
//! - keys cosign 2 writes (`ENCRYPTED SIGSTORE PRIVATE KEY`, scrypt
//!   N=2^16 or 2^17) load as well;
//! - a signature is ECDSA P-256 over SHA-256 of the payload, ASN.1 DER,
//!   base64: the `dev.cosignproject.cosign/signature` annotation.

use std::fmt;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use crypto_secretbox::XSalsa20Poly1305;
use crypto_secretbox::aead::{Aead, KeyInit};
use ferry_core::base64::{self, Alphabet};
use ferry_core::trust::payload::{EmptyClaim, Format, Payload};
use ferry_core::trust::sigstore::{
    BOX_KEY_LEN, COSIGN_PRIVATE_KEY_PEM_TYPE, EncryptedPrivateKey, NONCE_LEN, PrivateKeyError,
    PublicKey, SALT_LEN, SCRYPT_WRITE, ScryptParams,
};
use p256::ecdsa::signature::Signer as _;
use p256::elliptic_curve::Generate as _;
use p256::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};

/// Why a key could not be made, loaded or used.
#[derive(Debug)]
#[non_exhaustive]
pub enum SigstoreKeyError {
    /// The key file, or what it decrypts to, is not a cosign P-256 key.
    Key(PrivateKeyError),
    /// The payload to sign cannot be built.
    Payload(EmptyClaim),
    /// The system's random source failed.
    Random,
    /// A key file to write already exists (nothing was written).
    Exists(PathBuf),
    /// Reading or writing `path`.
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl fmt::Display for SigstoreKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SigstoreKeyError::Key(e) => e.fmt(f),
            SigstoreKeyError::Payload(e) => write!(f, "sigstore payload: {e}"),
            SigstoreKeyError::Random => f.write_str("the system's random source failed"),
            SigstoreKeyError::Exists(path) => {
                write!(f, "refusing to overwrite existing {}", path.display())
            }
            SigstoreKeyError::Io { path, source } => write!(f, "{}: {source}", path.display()),
        }
    }
}

impl std::error::Error for SigstoreKeyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SigstoreKeyError::Key(e) => Some(e),
            SigstoreKeyError::Payload(e) => Some(e),
            SigstoreKeyError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// A new key pair as files hold it.
#[derive(Clone)]
pub struct KeyPairPem {
    /// The encrypted private key (`PREFIX.private` for skopeo).
    pub private_key: String,
    /// The public key (`PREFIX.pub`).
    pub public_key: String,
}

impl fmt::Debug for KeyPairPem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyPairPem")
            .field("public_key", &self.public_key)
            .finish_non_exhaustive()
    }
}

/// A private key that signs sigstore payloads.
pub struct SigstoreSigner {
    key: p256::ecdsa::SigningKey,
}

impl fmt::Debug for SigstoreSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigstoreSigner").finish_non_exhaustive()
    }
}

/// A signature as it is stored: the payload layer's bytes and the
/// annotation's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigstoreSignature {
    pub payload: Vec<u8>,
    /// Base64 of the ASN.1 DER signature.
    pub signature: String,
}

fn random<const N: usize>() -> Result<[u8; N], SigstoreKeyError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|_| SigstoreKeyError::Random)?;
    Ok(bytes)
}

fn box_key(
    passphrase: &[u8],
    salt: &[u8],
    params: ScryptParams,
) -> Result<[u8; BOX_KEY_LEN], SigstoreKeyError> {
    // Core accepts only parameters scrypt takes; refuse rather than panic
    // should that ever change.
    let bad = || {
        SigstoreKeyError::Key(PrivateKeyError::KdfParams {
            n: 1i64 << params.log_n.min(62),
            r: i64::from(params.r),
            p: i64::from(params.p),
        })
    };
    let params = scrypt::Params::new(params.log_n, params.r, params.p).map_err(|_| bad())?;
    let mut key = [0u8; BOX_KEY_LEN];
    scrypt::scrypt(passphrase, salt, &params, &mut key).map_err(|_| bad())?;
    Ok(key)
}

impl SigstoreSigner {
    /// A new random key.
    pub fn generate() -> Result<Self, SigstoreKeyError> {
        let key = p256::ecdsa::SigningKey::try_generate_from_rng(&mut getrandom::SysRng)
            .map_err(|_| SigstoreKeyError::Random)?;
        Ok(SigstoreSigner { key })
    }

    /// Opens a cosign encrypted private key file's text with `passphrase`.
    pub fn from_encrypted_pem(text: &[u8], passphrase: &[u8]) -> Result<Self, SigstoreKeyError> {
        let envelope = EncryptedPrivateKey::from_pem(text).map_err(SigstoreKeyError::Key)?;
        let key = box_key(passphrase, &envelope.salt, envelope.scrypt)?;
        let pkcs8 = XSalsa20Poly1305::new(&key.into())
            .decrypt(&envelope.nonce.into(), envelope.ciphertext.as_slice())
            .map_err(|_| SigstoreKeyError::Key(PrivateKeyError::Decrypt))?;
        let key = p256::ecdsa::SigningKey::from_pkcs8_der(&pkcs8)
            .map_err(|_| SigstoreKeyError::Key(PrivateKeyError::NotP256Pkcs8))?;
        Ok(SigstoreSigner { key })
    }

    /// Reads and opens a private key file.
    pub fn from_file(path: &Path, passphrase: &[u8]) -> Result<Self, SigstoreKeyError> {
        let text = std::fs::read(path).map_err(|source| SigstoreKeyError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_encrypted_pem(&text, passphrase)
    }

    /// The key pair's files: the private key encrypted with `passphrase`
    /// (fresh salt and nonce), and the public key.
    pub fn to_pem(&self, passphrase: &[u8]) -> Result<KeyPairPem, SigstoreKeyError> {
        let pkcs8 = self
            .key
            .to_pkcs8_der()
            .map_err(|_| SigstoreKeyError::Key(PrivateKeyError::NotP256Pkcs8))?;
        let salt: [u8; SALT_LEN] = random()?;
        let nonce: [u8; NONCE_LEN] = random()?;
        let key = box_key(passphrase, &salt, SCRYPT_WRITE)?;
        let ciphertext = XSalsa20Poly1305::new(&key.into())
            .encrypt(&nonce.into(), pkcs8.as_bytes())
            .map_err(|_| SigstoreKeyError::Random)?;
        let envelope = EncryptedPrivateKey {
            pem_type: COSIGN_PRIVATE_KEY_PEM_TYPE,
            scrypt: SCRYPT_WRITE,
            salt: salt.to_vec(),
            nonce,
            ciphertext,
        };
        Ok(KeyPairPem {
            private_key: envelope.to_pem(),
            public_key: self.public_key().to_pem(),
        })
    }

    /// The public key that checks this key's signatures.
    pub fn public_key(&self) -> PublicKey {
        PublicKey::from_verifying_key(*self.key.verifying_key())
    }

    /// Signs `payload`: the base64 ASN.1 DER ECDSA P-256/SHA-256 signature.
    pub fn sign(&self, payload: &[u8]) -> String {
        let signature: p256::ecdsa::Signature = self.key.sign(payload);
        base64::encode_padded(signature.to_der().as_bytes(), Alphabet::Standard)
    }

    /// Signs a manifest digest as `docker_reference`, as containers/image's
    /// sigstore signer does: the payload names `creator` and `timestamp`
    /// (containers/image: `"containers/image VERSION"` and the time now).
    pub fn sign_manifest(
        &self,
        manifest_digest: &str,
        docker_reference: &str,
        creator: Option<&str>,
        timestamp: Option<i64>,
    ) -> Result<SigstoreSignature, SigstoreKeyError> {
        let payload = Payload {
            manifest_digest: manifest_digest.to_string(),
            docker_reference: docker_reference.to_string(),
            creator: creator.map(str::to_string),
            timestamp,
        }
        .to_bytes(Format::Sigstore)
        .map_err(SigstoreKeyError::Payload)?;
        let signature = self.sign(&payload);
        Ok(SigstoreSignature { payload, signature })
    }
}

/// `ferry generate-sigstore-key --output-prefix PREFIX`: writes
/// `PREFIX.private` (mode 0600) and `PREFIX.pub` as skopeo does, refusing
/// to overwrite either. Returns both paths.
pub fn generate_key_files(
    prefix: &Path,
    passphrase: &[u8],
) -> Result<(PathBuf, PathBuf), SigstoreKeyError> {
    let mut private_path = prefix.as_os_str().to_owned();
    private_path.push(".private");
    let private_path = PathBuf::from(private_path);
    let mut public_path = prefix.as_os_str().to_owned();
    public_path.push(".pub");
    let public_path = PathBuf::from(public_path);
    for path in [&private_path, &public_path] {
        if std::fs::symlink_metadata(path).is_ok() {
            return Err(SigstoreKeyError::Exists(path.clone()));
        }
    }
    let pair = SigstoreSigner::generate()?.to_pem(passphrase)?;
    write_new(&private_path, pair.private_key.as_bytes(), 0o600)?;
    if let Err(e) = write_new(&public_path, pair.public_key.as_bytes(), 0o644) {
        let _ = std::fs::remove_file(&private_path);
        return Err(e);
    }
    Ok((private_path, public_path))
}

/// Creates `path` (never replacing a file) with `bytes`; on failure
/// nothing is left behind.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), SigstoreKeyError> {
    use std::os::unix::fs::OpenOptionsExt;
    let io = |source| SigstoreKeyError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|source: std::io::Error| {
            if source.kind() == std::io::ErrorKind::AlreadyExists {
                SigstoreKeyError::Exists(path.to_path_buf())
            } else {
                io(source)
            }
        })?;
    if let Err(source) = file.write_all(bytes).and_then(|()| file.sync_all()) {
        drop(file);
        let _ = std::fs::remove_file(path);
        return Err(io(source));
    }
    Ok(())
}
